/*
 * check_kvdirect.c - copy-free access to a CXL KV tier (kv.cxl_access):
 * blocks pinned in place in a lower tier, the roofline's CXL term, the
 * bytes the fabric carries for in-place reads, the copy / direct / auto
 * policy, and the back-invalidations sent when a block read in place
 * leaves the CXL tier.
 *
 * Independent computations:
 *   - Roofline with a second memory stream (llm_model.h; Williams et al.,
 *     CACM 2009): a decode step that reads all of a request's cached KV in
 *     place from CXL memory at bandwidth W takes max(t_comp, t_hbm, t_cxl)
 *     with t_cxl = bytes / W; the test sets W so low that t_cxl dominates
 *     and checks the step against bytes / W in picoseconds, with t_hbm and
 *     t_comp computed here from the model's numbers (Llama-3-8B: 8.03e9
 *     BF16 parameters, 131,072 KV bytes per token; H100 3.35 TB/s x 0.8,
 *     989 TFLOP/s x 0.6) to show they are smaller.
 *   - In-place reads move blocks x block bytes per decode step from the
 *     memory to the GPU (link rows of the memory's CXL link, data leaving
 *     the memory), and no byte into HBM (no kv_load transfer).
 *   - Back-invalidation (CXL 3.0 HDM-DB, BISnpInv per 64 B line to every
 *     sharer): a 2 MiB block read in place by s instances costs exactly
 *     2 MiB / 64 x s snoops and as many responses when it is evicted.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/kv/kvstore.h"
#include "models/registry.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/serving_fixture.h"

static capture cap;
static sim_time ttft[16], first[16], fin[16];
static uint64_t nreq, coh_inv, coh_rsp;

static int rec_request(void *ctx, uint64_t id, const char *session, const char *instance,
                       sim_time arrival, sim_time f, sim_time finish, uint64_t in, uint64_t out,
                       uint64_t cached)
{
    (void)ctx; (void)session; (void)instance; (void)in; (void)out; (void)cached;
    if (id < 16) {
        ttft[id] = f - arrival;
        first[id] = f;
        fin[id] = finish;
    }
    nreq++;
    return 0;
}

static int rec_coherence(void *ctx, const char *dir, const char *msg, uint64_t n)
{
    (void)ctx; (void)dir;
    if (strcmp(msg, "BISnpInv") == 0)
        coh_inv += n;
    else if (strcmp(msg, "BIRsp") == 0)
        coh_rsp += n;
    return 0;
}


static int run_text(const char *text, sim_err *err)
{
    memset(ttft, 0, sizeof ttft);
    nreq = coh_inv = coh_rsp = 0;
    memset(&cap, 0, sizeof cap);
    sim_sink k = {&cap, capture_metric, capture_link, capture_ts, rec_request, NULL,
                  rec_coherence, NULL, NULL, NULL};
    return sfx_run("kvdirect.yaml", text, &k, NULL, NULL, err);
}

static char trace_path[256];

static void write_trace(const char *rows)
{
    sfx_write_trace(trace_path, sizeof trace_path, "kvdirect", "# memfab-trace v1 block_tokens=16",
                    rows);
}

static void teardown(void) { unlink(trace_path); }

/* llama3-8b: 131,072 KV bytes per token, 2 MiB per 16-token block. */
#define KVBPT 131072.0
#define BLOCK (16 * 131072ULL)

/* ---- the block store ------------------------------------------------------ */

static kv_store *store2(uint64_t cap0, uint64_t cap1, int access, uint32_t hot)
{
    kv_tier_cfg t[2] = {{"hbm", cap0}, {"cxl", cap1}};
    sim_err err;
    kv_store *s = kv_store_new(t, 2, KV_WRITE_BACK, kv_evict_find("lru"), NULL, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_eq(kv_store_set_access(s, 1, access, hot, &err), 0);
    return s;
}

/* A, then B evicts A into the CXL tier (write-back). */
static void push_down(kv_store *s, const uint64_t *a, const uint64_t *b)
{
    ck_assert_int_eq(kv_store_pin(s, a, 4, 1, NULL), 0);
    kv_store_unpin(s, a, 4, 2);
    ck_assert_int_eq(kv_store_pin(s, b, 4, 3, NULL), 0);
    kv_store_unpin(s, b, 4, 4);
    for (int i = 0; i < 4; i++)
        ck_assert(kv_store_contains(s, a[i], 1) && !kv_store_contains(s, a[i], 0));
}

START_TEST(store_pins_in_place)
{
    kv_store *s = store2(4, 8, KV_ACCESS_DIRECT, 2);
    uint64_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    push_down(s, a, b);
    /* A uses its CXL blocks in place: no tier-0 slot, no promotion. */
    ck_assert_uint_eq(kv_store_needed(s, a, 4), 0);
    kv_pin_result r;
    ck_assert_int_eq(kv_store_pin(s, a, 4, 10, &r), 0);
    ck_assert_uint_eq(r.hit_blocks, 4);
    ck_assert_uint_eq(r.direct[1], 4);
    ck_assert_uint_eq(r.promoted[1], 0);
    ck_assert_uint_eq(kv_store_pinned_blocks(s), 0);
    ck_assert_uint_eq(kv_store_inplace_refs(s), 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(kv_store_inplace_tier(s, a[i]), 1);
        ck_assert(!kv_store_contains(s, a[i], 0));
    }
    ck_assert(kv_store_check(s));
    /* Fill the CXL tier past its capacity: A is never evicted while in use. */
    for (uint64_t k = 0; k < 6; k++) {
        uint64_t c[4] = {100 + 4 * k, 101 + 4 * k, 102 + 4 * k, 103 + 4 * k};
        ck_assert_int_eq(kv_store_pin(s, c, 4, 20 + k, NULL), 0);
        kv_store_unpin(s, c, 4, 20 + k);
        ck_assert(kv_store_check(s));
    }
    for (int i = 0; i < 4; i++)
        ck_assert(kv_store_contains(s, a[i], 1));
    /* A second pin shares the blocks in place. */
    ck_assert_int_eq(kv_store_pin(s, a, 2, 40, &r), 0);
    ck_assert_uint_eq(r.direct[1], 2);
    ck_assert_uint_eq(kv_store_refs(s, a[0]), 2);
    kv_store_unpin(s, a, 2, 41);
    kv_store_unpin(s, a, 4, 42);
    ck_assert_uint_eq(kv_store_inplace_refs(s), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(kv_store_inplace_tier(s, a[i]), 0);
    ck_assert(kv_store_check(s));
    kv_store_free(s);
}
END_TEST

/* auto with hot_hits h: the first h - 1 hits of a block in the CXL tier are
 * in place, the h-th promotes it. */
START_TEST(store_auto_read_once_direct_hot_copied)
{
    for (uint32_t hot = 1; hot <= 3; hot++) {
        kv_store *s = store2(4, 8, KV_ACCESS_AUTO, hot);
        uint64_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
        push_down(s, a, b);
        for (uint32_t k = 1; k <= hot; k++) {
            kv_pin_result r;
            ck_assert_int_eq(kv_store_pin(s, a, 4, 10 + k, &r), 0);
            ck_assert_uint_eq(r.direct[1], k < hot ? 4 : 0);
            ck_assert_uint_eq(r.promoted[1], k < hot ? 0 : 4);
            kv_store_unpin(s, a, 4, 10 + k);
            ck_assert(kv_store_check(s));
        }
        ck_assert_uint_eq(kv_store_stats(s, 1)->direct, 4 * (hot - 1));
        kv_store_free(s);
    }
}
END_TEST

static uint64_t hook_calls, hook_sharers_bits;
static void hook(void *ctx, uint32_t tier, uint64_t id, uint64_t sharers)
{
    (void)ctx; (void)id;
    ck_assert_uint_eq(tier, 0); /* the pool's own numbering */
    hook_calls++;
    hook_sharers_bits += (uint64_t)__builtin_popcountll(sharers);
}

/* A pool block read in place by s stores: its eviction calls the hook once
 * with s sharer bits. */
START_TEST(store_pool_sharers)
{
    for (int s_n = 1; s_n <= 3; s_n++) {
        kv_tier_cfg pt[1] = {{"cxl", 4}}, ht[1] = {{"hbm", 4}};
        sim_err err;
        const memfab_evict_ops *lru = kv_evict_find("lru");
        kv_store *p = kv_store_new_pool(pt, 1, KV_WRITE_THROUGH, lru, NULL, &err);
        kv_store *st[4];
        for (int k = 0; k < 4; k++) {
            st[k] = kv_store_new(ht, 1, KV_WRITE_THROUGH, lru, NULL, &err);
            ck_assert_int_eq(kv_store_attach_pool(st[k], p, &err), 0);
            ck_assert_int_eq(kv_store_set_access(st[k], 1, KV_ACCESS_DIRECT, 2, &err), 0);
            ck_assert_uint_eq(kv_store_reader(st[k]), k);
        }
        kv_store_set_inval_hook(p, hook, NULL);
        hook_calls = hook_sharers_bits = 0;
        uint64_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
        ck_assert_int_eq(kv_store_pin(st[0], a, 4, 1, NULL), 0); /* written through */
        kv_store_unpin(st[0], a, 4, 1);
        for (int k = 1; k <= s_n; k++) {
            kv_pin_result r;
            ck_assert_int_eq(kv_store_pin(st[k], a, 4, 1 + k, &r), 0);
            ck_assert_uint_eq(r.direct[1], 4);
            ck_assert(kv_store_check(p) && kv_store_check(st[k]));
        }
        for (int k = 1; k <= s_n; k++)
            kv_store_unpin(st[k], a, 4, 10);
        ck_assert_uint_eq(hook_calls, 0);
        ck_assert_int_eq(kv_store_pin(st[0], b, 4, 20, NULL), 0); /* pushes A out of the pool */
        kv_store_unpin(st[0], b, 4, 21);
        ck_assert_uint_eq(hook_calls, 4);
        ck_assert_uint_eq(hook_sharers_bits, 4 * (uint64_t)s_n);
        ck_assert(kv_store_check(p));
        for (int k = 0; k < 4; k++)
            kv_store_free(st[k]);
        kv_store_free(p);
    }
}
END_TEST

/* The in-place state grows with the block table (kv_store_reserve doubles
 * it from 16 entries) and is reset when an entry is freed: A stays pinned
 * in place in the CXL tier while 200 other requests of 4 blocks pass
 * through (with a 1 Mi-block CXL tier the table grows to 1024 entries
 * around it; with a 64-block one, entries are freed and reused through
 * the free list). Once A is unpinned, the 64-block tier evicts it: the
 * hook is called once per block with the one reader (bit 0), and the
 * entries it leaves are reused with no stale mark (kv_store_check). */
static uint64_t grow_hook_calls, grow_hook_bits;
static void grow_hook(void *ctx, uint32_t tier, uint64_t id, uint64_t sharers)
{
    (void)ctx;
    ck_assert_uint_eq(tier, 1);
    ck_assert_uint_le(id, 4);
    grow_hook_calls++;
    grow_hook_bits |= sharers;
}

START_TEST(store_inplace_grows_with_table)
{
    const uint64_t caps[2] = {64, UINT64_C(1) << 20};
    for (int c = 0; c < 2; c++) {
        kv_store *s = store2(4, caps[c], KV_ACCESS_DIRECT, 2);
        kv_store_set_inval_hook(s, grow_hook, NULL);
        grow_hook_calls = grow_hook_bits = 0;
        uint64_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
        push_down(s, a, b);
        kv_pin_result r;
        ck_assert_int_eq(kv_store_pin(s, a, 4, 10, &r), 0);
        ck_assert_uint_eq(r.direct[1], 4);
        for (uint64_t k = 0; k < 200; k++) {
            uint64_t x[4] = {1000 + 4 * k, 1001 + 4 * k, 1002 + 4 * k, 1003 + 4 * k};
            ck_assert_int_eq(kv_store_pin(s, x, 4, 100 + 2 * k, NULL), 0);
            kv_store_unpin(s, x, 4, 101 + 2 * k);
            ck_assert(kv_store_check(s));
            for (int i = 0; i < 4; i++)
                ck_assert_uint_eq(kv_store_inplace_tier(s, a[i]), 1);
        }
        /* still shared in place after the growth */
        ck_assert_int_eq(kv_store_pin(s, a, 4, 1000, &r), 0);
        ck_assert_uint_eq(r.direct[1], 4);
        ck_assert_uint_eq(kv_store_refs(s, a[3]), 2);
        ck_assert_uint_eq(kv_store_inplace_refs(s), 8);
        kv_store_unpin(s, a, 4, 1001);
        kv_store_unpin(s, a, 4, 1002);
        ck_assert_uint_eq(kv_store_inplace_refs(s), 0);
        ck_assert(kv_store_check(s));
        ck_assert_uint_eq(grow_hook_calls, 0); /* never evicted while in use */
        for (uint64_t k = 0; k < 40; k++) {     /* 160 blocks push A out of 64 */
            uint64_t x[4] = {5000 + 4 * k, 5001 + 4 * k, 5002 + 4 * k, 5003 + 4 * k};
            ck_assert_int_eq(kv_store_pin(s, x, 4, 2000 + 2 * k, NULL), 0);
            kv_store_unpin(s, x, 4, 2001 + 2 * k);
            ck_assert(kv_store_check(s));
        }
        ck_assert_uint_eq(grow_hook_calls, c == 0 ? 4 : 0);
        ck_assert_uint_eq(grow_hook_bits, c == 0 ? 1 : 0);
        for (int i = 0; i < 4; i++)
            ck_assert(kv_store_contains(s, a[i], 1) == (c == 1));
        kv_store_free(s);
    }
}
END_TEST

/* ---- serving over the fabric ---------------------------------------------- */

/* One host, one GPU on PCIe, a CXL memory on a x16 32 GT/s CXL link; HBM
 * keeps 8 blocks. The CXL tier's roofline bandwidth is %s (the tier's
 * `bandwidth`), far below the link's, so the fabric finishes first. */
static void one_gpu(char *text, size_t n, const char *access, const char *extra_kv)
{
    snprintf(text, n,
             "name: t\nstop: trace_end\n"
             "components:\n"
             "  - {name: fabric, type: fabric, chunk: 1 MiB, window: 8 MiB}\n"
             "  - {name: host, type: cpu}\n"
             "  - {name: gpu0, type: gpu}\n"
             "  - {name: cxl0, type: memory, kind: cxl, capacity: 64 GiB, bandwidth: 64 GB/s}\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0}\n"
             "links:\n"
             "  - {name: up, type: pcie, gen: 5, lanes: 16, ends: [host, gpu0]}\n"
             "  - {name: cl, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, ends: [host, cxl0]}\n"
             "workload: {trace: %s, format: native}\n"
             "kv: {block_tokens: 16, %s%s, tiers: [{name: hbm, capacity: 16 MiB},\n"
             "     {name: cxl, capacity: 1 GiB, component: cxl0, bandwidth: 1 GB/s}]}\n",
             trace_path, access, extra_kv);
}

/* Requests 0, 1, 2 (blocks 1-4, 5-8, 9-12; 63 + 1 tokens, 4 blocks each)
 * fill HBM (8 blocks), so 2 evicts 1-4 into CXL; request 3 (1-4 again,
 * 64 prompt tokens, 3 output tokens) finds its prefix there. */
#define ROWS_FILL "0 0 1 63 1 1 2 3 4\n" \
                  "1 1000000000000 2 63 1 5 6 7 8\n" \
                  "2 2000000000000 3 63 1 9 10 11 12\n"
static const char rows_abc[] = ROWS_FILL "3 3000000000000 4 64 3 1 2 3 4\n";

/* bytes of the cl link's direction leaving cxl0 */
static uint64_t cxl_out_bytes(void)
{
    for (int i = 0; i < cap.nlinks; i++)
        if (strstr(cap.link_dir[i], "cxl0->"))
            return cap.link_bytes[i];
    ck_abort_msg("no link row leaving cxl0");
    return 0;
}

START_TEST(direct_step_is_roofline_with_cxl_term)
{
    write_trace(rows_abc);
    char text[4096];
    one_gpu(text, sizeof text, "cxl_access: direct", "");
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(nreq, 4);
    /* By hand: Llama-3-8B on one H100. A decode step of request 3 reads
     * its 64 prompt tokens in place (4 blocks, 8 MiB) at 1 GB/s, and from
     * HBM the weights plus the generated tokens' KV. */
    double weights = 8030261248.0 * 2, hbm = 3.35e12 * 0.8, fl = 989e12 * 0.6;
    double t_cxl = 64 * KVBPT / 1e9;
    for (int ctx = 65; ctx <= 66; ctx++) {
        double t_hbm = (weights + KVBPT * ((ctx - 1 - 64) + 1)) / hbm;
        double t_comp = (2 * 8030261248.0 + 2.0 * 32 * 32 * 256 * ctx) / fl;
        ck_assert_msg(t_hbm < t_cxl && t_comp < t_cxl, "t_hbm %g t_comp %g t_cxl %g", t_hbm,
                      t_comp, t_cxl);
    }
    sim_time step = (sim_time)llround(t_cxl * 1e12); /* 8,388,608,000 ps */
    ck_assert_uint_eq(step, 8388608000ULL);
    ck_assert_uint_eq(fin[3] - first[3], 2 * step);
    /* The first token: one prompt token computed over 63 cached ones read
     * in place (the last prompt token is always computed). */
    ck_assert_uint_eq(ttft[3], (sim_time)llround(63 * KVBPT / 1e9 * 1e12));
    /* No copy into HBM for those blocks. */
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_promoted_blocks"), 0);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_load_bytes"), 0);
    ck_assert(isnan(capture_get(&cap, "fabric", "bytes:class:kv_load")));
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_direct_blocks"), 4);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_copies_avoided"), 4);
    /* Bytes read in place: 63 tokens in the prefill step, 4 blocks in each
     * of the 2 decode steps - on the fabric and on the CXL link leaving
     * the memory (write-backs go the other way). */
    double want = 63 * KVBPT + 2 * 4 * (double)BLOCK;
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_direct_bytes"), want);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_direct_steps"), 3);
    ck_assert_double_eq(capture_get(&cap, "fabric", "bytes:class:kv_direct"), want);
    ck_assert_double_eq(capture_get(&cap, "fabric", "bytes:load"), want);
    ck_assert_uint_eq(cxl_out_bytes(), (uint64_t)want);
}
END_TEST

/* cxl_access: copy (or no key) is today's behaviour: every metric and the
 * request times equal. */
START_TEST(copy_is_todays_behaviour)
{
    write_trace(rows_abc);
    char text[4096];
    sim_err err;
    one_gpu(text, sizeof text, "write: back", "");
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    static capture base;
    base = cap;
    sim_time t2 = ttft[3], f2 = fin[3];
    one_gpu(text, sizeof text, "cxl_access: copy", "");
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(ttft[3], t2);
    ck_assert_uint_eq(fin[3], f2);
    ck_assert_int_eq(cap.n, base.n);
    for (int i = 0; i < cap.n; i++) {
        ck_assert_str_eq(cap.rows[i].scope, base.rows[i].scope);
        ck_assert_str_eq(cap.rows[i].name, base.rows[i].name);
        ck_assert_msg(cap.rows[i].value == base.rows[i].value ||
                          (isnan(cap.rows[i].value) && isnan(base.rows[i].value)),
                      "%s/%s", cap.rows[i].scope, cap.rows[i].name);
    }
    /* ... which copies the 4 blocks into HBM: path cxl stages them in host
     * DRAM (CPU loads), then DMA to the GPU - two kv_load transfers. */
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_load_bytes"), 4.0 * BLOCK);
    ck_assert_double_eq(capture_get(&cap, "fabric", "bytes:class:kv_load"), 2 * 4.0 * BLOCK);
    ck_assert(isnan(capture_get(&cap, "inst0", "kv_direct_blocks")));
}
END_TEST

/* auto (hot_hits 2): request 3 reads blocks 1-4 once, in place; request 4
 * (the same prefix) is their second hit: promoted. direct: both in place. */
START_TEST(auto_direct_once_copy_hot)
{
    write_trace(ROWS_FILL "3 3000000000000 4 63 1 1 2 3 4\n"
                          "4 4000000000000 5 63 1 1 2 3 4\n");
    char text[4096];
    sim_err err;
    one_gpu(text, sizeof text, "cxl_access: auto", "");
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(nreq, 5);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_direct_blocks"), 4);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_promoted_blocks"), 4);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_load_bytes"), 4.0 * BLOCK);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_copied_bytes"), 4.0 * BLOCK);
    one_gpu(text, sizeof text, "cxl_access: auto", ", cxl_hot_hits: 3");
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_direct_blocks"), 8);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_promoted_blocks"), 0);
    one_gpu(text, sizeof text, "cxl_access: direct", "");
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_direct_blocks"), 8);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_promoted_blocks"), 0);
}
END_TEST

/* A shared CXL pool (scope global, write-through, 4 blocks) and 4
 * instances routed round robin: inst0 writes blocks 1-4, the next s
 * instances read them in place, then two requests of new blocks push them
 * out of the pool: 4 blocks x 32,768 lines x s sharers back-invalidations,
 * as many responses, each 16 B on the fabric. */
START_TEST(invalidations_lines_times_sharers)
{
    int s_n = _i + 1;
    char rows[1024];
    size_t n = 0;
    uint64_t id = 0;
    n += (size_t)snprintf(rows + n, sizeof rows - n, "%llu 0 1 63 1 1 2 3 4\n",
                          (unsigned long long)id++);
    for (int k = 0; k < s_n; k++, id++)
        n += (size_t)snprintf(rows + n, sizeof rows - n, "%llu %llu %llu 63 1 1 2 3 4\n",
                              (unsigned long long)id, (unsigned long long)id * 1000000000000ULL,
                              (unsigned long long)id + 1);
    for (int k = 0; k < 2; k++, id++)
        n += (size_t)snprintf(rows + n, sizeof rows - n, "%llu %llu %llu 63 1 %d %d %d %d\n",
                              (unsigned long long)id, (unsigned long long)id * 1000000000000ULL,
                              (unsigned long long)id + 1, 10 * k + 11, 10 * k + 12, 10 * k + 13,
                              10 * k + 14);
    write_trace(rows);
    char text[4096];
    snprintf(text, sizeof text,
             "name: p\nstop: trace_end\n"
             "components:\n"
             "  - {name: fabric, type: fabric, chunk: 1 MiB, window: 8 MiB}\n"
             "  - {name: host, type: cpu}\n"
             "  - {name: sw, type: pcie_switch}\n"
             "  - {name: gpu0, type: gpu}\n  - {name: gpu1, type: gpu}\n"
             "  - {name: gpu2, type: gpu}\n  - {name: gpu3, type: gpu}\n"
             "  - {name: cxl0, type: memory, kind: cxl, capacity: 64 GiB, bandwidth: 64 GB/s}\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0}\n"
             "  - {name: inst1, type: llm_instance, model: llama3-8b, device: gpu1}\n"
             "  - {name: inst2, type: llm_instance, model: llama3-8b, device: gpu2}\n"
             "  - {name: inst3, type: llm_instance, model: llama3-8b, device: gpu3}\n"
             "links:\n"
             "  - {name: up, type: pcie, gen: 5, lanes: 16, ends: [host, sw]}\n"
             "  - {name: p0, type: pcie, gen: 5, lanes: 16, ends: [sw, gpu0]}\n"
             "  - {name: p1, type: pcie, gen: 5, lanes: 16, ends: [sw, gpu1]}\n"
             "  - {name: p2, type: pcie, gen: 5, lanes: 16, ends: [sw, gpu2]}\n"
             "  - {name: p3, type: pcie, gen: 5, lanes: 16, ends: [sw, gpu3]}\n"
             "  - {name: cl, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, ends: [host, cxl0]}\n"
             "workload: {trace: %s, format: native}\n"
             "router: {policy: round_robin}\n"
             "kv: {block_tokens: 16, write: through, scope: global, cxl_access: direct,\n"
             "     tiers: [{name: hbm, capacity: 16 MiB},\n"
             "             {name: cxl, capacity: 8 MiB, component: cxl0}]}\n",
             trace_path);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(nreq, (uint64_t)(3 + s_n));
    double lines = BLOCK / 64.0; /* 32,768 */
    ck_assert_double_eq(capture_get(&cap, "pool", "kv_invalidated_blocks"), 4);
    ck_assert_double_eq(capture_get(&cap, "pool", "kv_invalidations"), 4 * lines * s_n);
    ck_assert_uint_eq(coh_inv, (uint64_t)(4 * lines * s_n));
    ck_assert_uint_eq(coh_rsp, (uint64_t)(4 * lines * s_n));
    ck_assert_double_eq(capture_get(&cap, "fabric", "bytes:class:coherence"),
                        2 * 16 * 4 * lines * s_n);
    double direct = 0;
    for (int k = 0; k < 4; k++) {
        char name[16];
        snprintf(name, sizeof name, "inst%d", k);
        direct += capture_get(&cap, name, "kv_direct_blocks");
    }
    ck_assert_double_eq(direct, 4.0 * s_n);
}
END_TEST

START_TEST(errors)
{
    write_trace(rows_abc);
    char text[4096];
    sim_err err;
    /* direct, but the only lower tier is host DRAM. */
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\n"
             "components:\n  - {name: host, type: cpu}\n  - {name: gpu0, type: gpu}\n"
             "  - {name: inst0, type: llm_instance, device: gpu0}\n"
             "links:\n  - {name: l, type: pcie, ends: [host, gpu0]}\n"
             "workload: {trace: %s, format: native}\n"
             "kv:\n  cxl_access: direct\n"
             "  tiers: [{name: hbm}, {name: d, capacity: 1 GiB, component: host}]\n",
             trace_path);
    ck_assert_int_eq(run_text(text, &err), SIM_ESCENARIO);
    ck_assert_msg(strstr(err.msg, "no kv tier is on a CXL memory"), "%s", err.msg);
    ck_assert_str_eq(err.file, "kvdirect.yaml");
    ck_assert_int_eq(err.line, 11);
    ck_assert_int_eq(err.col, 15);
    /* A memory of kind cxl the GPU reaches only over PCIe: no CXL path. */
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\n"
             "components:\n  - {name: host, type: cpu}\n  - {name: gpu0, type: gpu}\n"
             "  - {name: m, type: memory, kind: cxl, capacity: 64 GiB, bandwidth: 64 GB/s}\n"
             "  - {name: inst0, type: llm_instance, device: gpu0}\n"
             "links:\n  - {name: l, type: pcie, ends: [host, gpu0]}\n"
             "  - {name: lm, type: pcie, ends: [host, m]}\n"
             "workload: {trace: %s, format: native}\n"
             "kv: {cxl_access: auto, tiers: [{name: hbm},\n"
             "     {name: c, capacity: 1 GiB, component: m, path: dma}]}\n",
             trace_path);
    ck_assert_int_eq(run_text(text, &err), SIM_ESCENARIO);
    ck_assert_msg(strstr(err.msg, "no CXL path"), "%s", err.msg);
    ck_assert_int_eq(err.line, 12);
    ck_assert_int_eq(err.col, 18);
    /* An unknown mode and a zero threshold. */
    one_gpu(text, sizeof text, "cxl_access: sometimes", "");
    ck_assert_int_eq(run_text(text, &err), SIM_ESCENARIO);
    ck_assert_msg(strstr(err.msg, "cxl_access"), "%s", err.msg);
    one_gpu(text, sizeof text, "cxl_access: auto", ", cxl_hot_hits: 0");
    ck_assert_int_eq(run_text(text, &err), SIM_ESCENARIO);
    ck_assert_msg(strstr(err.msg, "cxl_hot_hits"), "%s", err.msg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kvdirect");
    TCase *tc = tcase_create("Core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, store_pins_in_place);
    tcase_add_test(tc, store_auto_read_once_direct_hot_copied);
    tcase_add_test(tc, store_pool_sharers);
    tcase_add_test(tc, store_inplace_grows_with_table);
    tcase_add_test(tc, direct_step_is_roofline_with_cxl_term);
    tcase_add_test(tc, copy_is_todays_behaviour);
    tcase_add_test(tc, auto_direct_once_copy_hot);
    tcase_add_loop_test(tc, invalidations_lines_times_sharers, 0, 3);
    suite_add_tcase(s, tc);
    tc = tcase_create("Errors");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_main(suite());
}
