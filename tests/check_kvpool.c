/*
 * check_kvpool.c - `kv: {scope: global}`: lower KV tiers shared by every
 * instance (kv_store_new_pool / kv_store_attach_pool, the `pool` component).
 *
 * Store level: a block one store demoted (write-back) or wrote through is
 * a pool hit of another store and is promoted (copied) into its tier 0;
 * the pool's capacity and LRU order are shared (filling it from A evicts
 * what B wrote first); each store's share of the pool counters adds up to
 * the pool's; under random pins and unpins with every policy, every
 * store's and the pool's invariants hold after each operation and a pinned
 * block is always in its store's tier 0.
 *
 * Serving level: two instances on two GPUs behind one 10 GB/s, 1 us link
 * each; a prefix computed on inst0 is a pool hit on inst1, and its TTFT
 * grows by exactly the DMA of its blocks (B / W + 2L, from the link
 * parameters: the copy engine's read request crosses the link, then the
 * data); with instance scope it is a miss. free_transfers keeps the hit
 * ratios with zero load time; scope: instance is the default, bit for bit;
 * one instance with a global pool equals one with its own lower tiers.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/serving/instance.h"
#include "models/kv/kvstore.h"
#include "models/registry.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/serving_fixture.h"

/* ---- store level ------------------------------------------------------------ */

static kv_store *A, *B, *C, *P;
static sim_err err;

static void st_setup(void) { A = B = C = P = NULL; sim_err_clear(&err); }
static void st_teardown(void)
{
    kv_store_free(A);
    kv_store_free(B);
    kv_store_free(C);
    kv_store_free(P); /* after the stores attached to it */
}

/* A pool of np tiers (caps) and stores A, B (and C) of cap0 blocks attached to it. */
static void mk(const char *policy, int mode, uint64_t cap0, const uint64_t *caps, uint32_t np,
               int three)
{
    static const char *const names[] = {"dram", "cxl", "ssd"};
    kv_tier_cfg t[3], h = {"hbm", cap0};
    for (uint32_t i = 0; i < np; i++)
        t[i] = (kv_tier_cfg){names[i], caps[i]};
    const memfab_evict_ops *pol = kv_evict_find(policy);
    ck_assert(pol);
    P = kv_store_new_pool(t, np, mode, pol, NULL, &err);
    ck_assert_msg(P, "%s", err.msg);
    kv_store **v[3] = {&A, &B, &C};
    for (int i = 0; i < (three ? 3 : 2); i++) {
        *v[i] = kv_store_new(&h, 1, mode, pol, NULL, &err);
        ck_assert_msg(*v[i], "%s", err.msg);
        ck_assert_int_eq(kv_store_attach_pool(*v[i], P, &err), 0);
        ck_assert_uint_eq(kv_store_ntiers(*v[i]), 1 + np);
    }
}

static void seq(uint64_t *ids, uint64_t first, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        ids[i] = first + i;
}

static void all_ok(void)
{
    ck_assert(kv_store_check(P));
    ck_assert(kv_store_check(A));
    ck_assert(kv_store_check(B));
    if (C)
        ck_assert(kv_store_check(C));
}

/* Pin and unpin first..first+n-1 on s at time t. */
static void use(kv_store *s, uint64_t first, uint32_t n, uint64_t t, kv_pin_result *res)
{
    uint64_t ids[16];
    seq(ids, first, n);
    ck_assert_int_eq(kv_store_pin(s, ids, n, t, res), 0);
    kv_store_unpin(s, ids, n, t);
    all_ok();
}

START_TEST(pool_hit_on_other_store)
{
    const uint64_t caps[] = {8};
    mk("lru", KV_WRITE_BACK, 4, caps, 1, 0);
    kv_pin_result r;
    use(A, 1, 4, 1, &r);
    ck_assert_uint_eq(r.new_blocks, 4);
    ck_assert_uint_eq(r.demoted[0], 0);
    use(A, 11, 4, 2, &r); /* evicts 1..4 from A's HBM into the pool */
    ck_assert_uint_eq(r.demoted[0], 4);
    for (uint64_t id = 1; id <= 4; id++)
        ck_assert(kv_store_contains(P, id, 0) && kv_store_contains(A, id, 1) &&
                  !kv_store_contains(A, id, 0));
    uint64_t ids[4];
    uint32_t by[MEMFAB_MAX_TIERS];
    seq(ids, 1, 4);
    ck_assert_uint_eq(kv_store_match(B, ids, 4, by), 4); /* the router's view */
    ck_assert_uint_eq(by[0], 0);
    ck_assert_uint_eq(by[1], 4);
    ck_assert_int_eq(kv_store_pin(B, ids, 4, 3, &r), 0);
    ck_assert_uint_eq(r.hit_blocks, 4);
    ck_assert_uint_eq(r.hit_by_tier[1], 4);
    ck_assert_uint_eq(r.promoted[1], 4);
    ck_assert_uint_eq(r.new_blocks, 0);
    for (uint64_t id = 1; id <= 4; id++) /* copied: the pool keeps its copy */
        ck_assert(kv_store_contains(B, id, 0) && kv_store_contains(P, id, 0) &&
                  kv_store_refs(B, id) == 1);
    all_ok();
    kv_store_unpin(B, ids, 4, 4);
    /* Counters: B hit the pool 4 times, A wrote 4 blocks into it; the
     * shares add up to the pool's. */
    ck_assert_uint_eq(kv_store_stats(B, 1)->hits, 4);
    ck_assert_uint_eq(kv_store_stats(B, 1)->blocks_out, 4);
    ck_assert_uint_eq(kv_store_stats(A, 1)->blocks_in, 4);
    ck_assert_uint_eq(kv_store_stats(B, 0)->misses, 4);
    const kv_tier_stats *a = kv_store_stats(A, 1), *b = kv_store_stats(B, 1),
                        *p = kv_store_stats(P, 0);
    ck_assert_uint_eq(a->hits + b->hits, p->hits);
    ck_assert_uint_eq(a->misses + b->misses, p->misses);
    ck_assert_uint_eq(a->blocks_in + b->blocks_in, p->blocks_in);
    ck_assert_uint_eq(a->blocks_out + b->blocks_out, p->blocks_out);
    ck_assert_uint_eq(a->evictions + b->evictions, p->evictions);
    ck_assert_uint_eq(kv_store_capacity(A, 1), 8);
    ck_assert_str_eq(kv_store_tier_name(B, 1), "dram");
}
END_TEST

START_TEST(pool_capacity_shared_lru)
{
    const uint64_t caps[] = {8};
    mk("lru", KV_WRITE_BACK, 4, caps, 1, 0);
    kv_pin_result r;
    use(B, 101, 4, 1, &r);
    use(B, 105, 4, 2, &r); /* B writes 101..104 into the pool at t = 2 */
    use(A, 1, 4, 3, &r);
    use(A, 5, 4, 4, &r);   /* A writes 1..4 at t = 4: the pool is full */
    ck_assert_uint_eq(kv_store_stats(P, 0)->used, 8);
    use(A, 9, 4, 5, &r);   /* 5..8 in: the least recently used, B's, go */
    for (uint64_t id = 101; id <= 104; id++)
        ck_assert(!kv_store_contains(P, id, 0));
    for (uint64_t id = 1; id <= 8; id++)
        ck_assert(kv_store_contains(P, id, 0));
    ck_assert_uint_eq(kv_store_stats(P, 0)->evictions, 4);
    ck_assert_uint_eq(kv_store_stats(A, 1)->evictions, 4); /* A's pins evicted them */
    ck_assert_uint_eq(kv_store_stats(B, 1)->evictions, 0);
    ck_assert_uint_eq(r.dropped, 4); /* gone: in no tier of anyone's */
    use(A, 13, 4, 6, &r);  /* 9..12 in: now A's own oldest, 1..4, go */
    for (uint64_t id = 1; id <= 4; id++)
        ck_assert(!kv_store_contains(P, id, 0));
    for (uint64_t id = 5; id <= 12; id++)
        ck_assert(kv_store_contains(P, id, 0));
    uint64_t ids[1] = {101};
    ck_assert_uint_eq(kv_store_match(B, ids, 1, NULL), 0);
    /* B reads 5..8 at t = 7: they are protected while its HBM's 105..108
     * are written back, so the pool's next victims are 9..12. */
    use(B, 5, 4, 7, &r);
    ck_assert_uint_eq(r.promoted[1], 4);
    ck_assert_uint_eq(r.demoted[0], 4);
    for (uint64_t id = 5; id <= 8; id++)
        ck_assert(kv_store_contains(P, id, 0) && kv_store_contains(P, id + 100, 0));
    for (uint64_t id = 9; id <= 12; id++)
        ck_assert(!kv_store_contains(P, id, 0));
}
END_TEST

START_TEST(write_through_visible_while_pinned)
{
    const uint64_t caps[] = {8, 16};
    mk("lru", KV_WRITE_THROUGH, 4, caps, 2, 0);
    uint64_t ids[4];
    seq(ids, 1, 4);
    kv_pin_result r;
    ck_assert_int_eq(kv_store_pin(A, ids, 4, 1, &r), 0);
    ck_assert_uint_eq(r.demoted[0], 4); /* HBM -> pool dram */
    ck_assert_uint_eq(r.demoted[1], 4); /* pool dram -> pool cxl */
    all_ok();
    uint32_t by[MEMFAB_MAX_TIERS];
    ck_assert_uint_eq(kv_store_match(B, ids, 4, by), 4);
    ck_assert_uint_eq(by[1], 4);
    ck_assert_int_eq(kv_store_pin(B, ids, 4, 2, &r), 0);
    ck_assert_uint_eq(r.promoted[1], 4);
    ck_assert_uint_eq(r.demoted[0] + r.demoted[1], 0); /* copies are there already */
    all_ok();
    kv_store_unpin(A, ids, 4, 3);
    kv_store_unpin(B, ids, 4, 3);
    use(A, 11, 4, 4, &r); /* A's evictions move no bytes */
    ck_assert_uint_eq(r.demoted[0], 4); /* only the new blocks' write-through */
}
END_TEST

/* Random pins of chained prefixes on three stores sharing a two-tier
 * pool: after every operation every invariant holds and every block a
 * store has pinned is in its tier 0. */
START_TEST(random_invariants)
{
    const memfab_evict_ops *pol = kv_evict_policies[_i / 2];
    int mode = _i % 2 ? KV_WRITE_THROUGH : KV_WRITE_BACK;
    const uint64_t caps[] = {24, 40};
    mk(pol->name, mode, 16, caps, 2, 1);
    kv_store *st[3] = {A, B, C};
    uint64_t held[3][8][12];
    uint32_t nheld[3][8] = {{0}};
    srand(7 + (unsigned)_i);
    for (uint64_t t = 1; t <= 3000; t++) {
        int k = rand() % 3, slot = rand() % 8;
        if (nheld[k][slot]) {
            kv_store_unpin(st[k], held[k][slot], nheld[k][slot], t);
            nheld[k][slot] = 0;
        } else {
            uint32_t n = 1 + (uint32_t)(rand() % 12);
            uint64_t h = 1 + (uint64_t)(rand() % 5); /* 5 system prompts */
            for (uint32_t i = 0; i < n; i++) {
                if (i >= 3 && rand() % 4 == 0)
                    h = h * 31 + 1000 + (uint64_t)(rand() % 7);
                else
                    h = h * 31 + i;
                held[k][slot][i] = h;
            }
            kv_pin_result r;
            if (kv_store_pin(st[k], held[k][slot], n, t, &r) == 0)
                nheld[k][slot] = n;
        }
        ck_assert(kv_store_check(P));
        for (int j = 0; j < 3; j++) {
            ck_assert(kv_store_check(st[j]));
            for (int s2 = 0; s2 < 8; s2++)
                for (uint32_t i = 0; i < nheld[j][s2]; i++)
                    ck_assert(kv_store_contains(st[j], held[j][s2][i], 0));
        }
    }
    for (uint32_t t = 0; t < 2; t++) {
        uint64_t sum = 0;
        for (int j = 0; j < 3; j++)
            sum += kv_store_stats(st[j], 1 + t)->hits + kv_store_stats(st[j], 1 + t)->evictions;
        ck_assert_uint_eq(sum, kv_store_stats(P, t)->hits + kv_store_stats(P, t)->evictions);
    }
}
END_TEST

START_TEST(store_errors)
{
    const uint64_t caps[] = {8};
    mk("lru", KV_WRITE_BACK, 4, caps, 1, 0);
    uint64_t ids[1] = {1};
    ck_assert_int_eq(kv_store_pin(P, ids, 1, 1, NULL), SIM_EINVAL);
    ck_assert_int_ne(kv_store_attach_pool(A, P, &err), 0); /* attached already */
    kv_tier_cfg two[2] = {{"hbm", 4}, {"dram", 4}};
    C = kv_store_new(two, 2, KV_WRITE_BACK, kv_evict_find("lru"), NULL, &err);
    ck_assert_int_ne(kv_store_attach_pool(C, P, &err), 0); /* has lower tiers of its own */
    kv_store_free(C);
    C = kv_store_new(two, 1, KV_WRITE_THROUGH, kv_evict_find("lru"), NULL, &err);
    ck_assert_int_ne(kv_store_attach_pool(C, P, &err), 0); /* other write mode */
    ck_assert_int_ne(kv_store_attach_pool(C, NULL, &err), 0);
    kv_store_free(C);
    C = NULL;
}
END_TEST

/* ---- serving level ---------------------------------------------------------- */

#define MAXKV 32
typedef struct kvrow {
    char inst[32], tier[32];
    uint64_t hits, misses, evictions, in, out;
} kvrow;
static kvrow kvrows[MAXKV];
static int nkv;
static capture cap;
static sim_time ttft[8];
static char where[8][32];
static uint64_t nreq;

static int rec_request(void *ctx, uint64_t id, const char *session, const char *instance,
                       sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                       uint64_t out, uint64_t cached)
{
    (void)ctx; (void)session; (void)finish; (void)in; (void)out; (void)cached;
    if (id < 8) {
        ttft[id] = first - arrival;
        snprintf(where[id], sizeof where[id], "%s", instance);
    }
    nreq++;
    return 0;
}

static int rec_kv(void *ctx, const char *inst, const char *tier, uint64_t h, uint64_t m,
                  uint64_t e, uint64_t bin, uint64_t bout)
{
    (void)ctx;
    if (nkv < MAXKV) {
        kvrow *k = &kvrows[nkv++];
        snprintf(k->inst, sizeof k->inst, "%s", inst);
        snprintf(k->tier, sizeof k->tier, "%s", tier);
        k->hits = h, k->misses = m, k->evictions = e, k->in = bin, k->out = bout;
    }
    return 0;
}

static const kvrow *kv_get(const char *inst, const char *tier)
{
    for (int i = 0; i < nkv; i++)
        if (!strcmp(kvrows[i].inst, inst) && !strcmp(kvrows[i].tier, tier))
            return &kvrows[i];
    return NULL;
}


static int run_text(const char *text, sim_err *e)
{
    memset(ttft, 0, sizeof ttft);
    nreq = 0;
    nkv = 0;
    memset(&cap, 0, sizeof cap);
    sim_sink k = {&cap, capture_metric, capture_link, capture_ts, rec_request, rec_kv, NULL, NULL, NULL, NULL};
    return sfx_run("kvpool.yaml", text, &k, NULL, NULL, e);
}

static char trace_path[256];

/* Round robin: A (1..4) on inst0 at 0, X (5..8) on inst1 at 1 s, Y (9..12)
 * on inst0 at 2 s, C (1..4, A's prefix) on inst1 at 3 s. 63-token prompts
 * (4 blocks of 16 with the one output token). */
static void sv_setup(void)
{
    sfx_write_trace(trace_path, sizeof trace_path, "kvpool", "# memfab-trace v1 block_tokens=16",
                    "0 0 1 63 1 1 2 3 4\n"
                    "1 1000000000000 2 63 1 5 6 7 8\n"
                    "2 2000000000000 3 63 1 9 10 11 12\n"
                    "3 3000000000000 4 63 1 1 2 3 4\n");
}
static void sv_teardown(void) { unlink(trace_path); }

/* Host DRAM and HBM 1 PB/s, no node latencies, one 10 GB/s link with 1 us per GPU. */
static const char topo[] =
    "components:\n"
    "  - {name: fabric, type: fabric, chunk: 64 MiB, window: 64 MiB%s}\n"
    "  - {name: host, type: cpu, latency: 0 ns, dram_bandwidth: 1000 TB/s, dram_latency: 0 ns,"
    " launch_cpu: 0 us}\n"
    "  - {name: gpu0, type: gpu, hbm_bandwidth: 1000 TB/s, hbm_latency: 0 ns}\n"
    "  - {name: gpu1, type: gpu, hbm_bandwidth: 1000 TB/s, hbm_latency: 0 ns}\n"
    "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0}\n"
    "  - {name: inst1, type: llm_instance, model: llama3-8b, device: gpu1}\n"
    "links:\n"
    "  - {name: l0, type: upi, bandwidth: 10 GB/s, latency: 1 us, ends: [host, gpu0]}\n"
    "  - {name: l1, type: upi, bandwidth: 10 GB/s, latency: 1 us, ends: [host, gpu1]}\n";

static sim_time ttft_c(const char *scope, int free_kv)
{
    char comps[2048], text[4096];
    snprintf(comps, sizeof comps, topo, "");
    snprintf(text, sizeof text,
             "name: t\nstop: trace_end\n%s"
             "workload: {trace: %s, format: native}\n"
             "router: {policy: round_robin}\n"
             "kv: {block_tokens: 16, write: through, scope: %s, free_transfers: %s, tiers: [\n"
             "  {name: hbm, capacity: 8 MiB}, {name: dram, capacity: 1 GiB, component: host}]}\n",
             comps, trace_path, scope, free_kv ? "true" : "false");
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(nreq, 4);
    ck_assert_str_eq(where[3], "inst1");
    return ttft[3];
}

START_TEST(pool_hit_on_other_instance)
{
    const double bytes = 4 * 16 * 131072.0; /* C's 4 blocks of llama3-8b KV: 8 MiB */
    sim_time timed = ttft_c("global", 0);
    ck_assert_double_eq(capture_get(&cap, "inst1", "kv_load_bytes"), bytes);
    ck_assert_double_eq(capture_get(&cap, "workload", "prefix_hit_ratio_blocks"), 4.0 / 16);
    ck_assert_double_eq(capture_get(&cap, "workload", "router_predicted_hit_blocks"), 4);
    ck_assert_double_eq(capture_get(&cap, "inst1", "kv_fabric_errors"), 0);
    const kvrow *p = kv_get("pool", "dram"), *i1 = kv_get("inst1", "dram");
    ck_assert(p && i1);
    ck_assert_uint_eq(p->hits, 4);
    ck_assert_uint_eq(i1->hits, 4);
    ck_assert_uint_eq(p->in, 12 * 2097152ULL); /* A, X, Y written through */
    ck_assert_uint_eq(p->out, bytes);
    sim_time free = ttft_c("global", 1);
    ck_assert_double_eq(capture_get(&cap, "inst1", "kv_load_bytes"), bytes);
    ck_assert_double_eq(capture_get(&cap, "inst1", "kv_load_wait"), 0);
    /* The DMA host -> gpu1 over l1: the request crosses the link (L), then
     * the data streams back (B / W + L). */
    double formula = bytes / 10e9 + 2e-6;
    ck_assert_msg(fabs((double)(timed - free) * 1e-12 - formula) < 1e-4 * formula,
                  "load %.9g s vs B/W + 2L = %.9g s", (double)(timed - free) * 1e-12, formula);
    /* Scope instance: inst1's own DRAM never saw A's blocks. */
    sim_time own = ttft_c("instance", 0);
    ck_assert_double_eq(capture_get(&cap, "inst1", "kv_load_bytes"), 0);
    ck_assert_double_eq(capture_get(&cap, "workload", "prefix_hit_ratio_blocks"), 0);
    ck_assert_double_eq(capture_get(&cap, "workload", "router_predicted_hit_blocks"), 0);
    ck_assert_ptr_null(kv_get("pool", "dram"));
    ck_assert(own >= free); /* a recompute costs at least nothing */
}
END_TEST

/* Multi-turn conversations on two instances, round robin: turns of a
 * conversation land on different instances, so only a shared pool finds
 * their history. */
static const char conv[] =
    "name: c\nstop: trace_end\n"
    "components:\n"
    "  - {name: fabric, type: fabric%s}\n"
    "  - {name: host, type: cpu}\n"
    "  - {name: gpu0, type: gpu}\n"
    "  - {name: gpu1, type: gpu}\n"
    "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0}\n"
    "  - {name: inst1, type: llm_instance, model: llama3-8b, device: gpu1}\n"
    "links:\n"
    "  - {name: l0, type: pcie, gen: 5, lanes: 16, ends: [host, gpu0]}\n"
    "  - {name: l1, type: pcie, gen: 5, lanes: 16, ends: [host, gpu1]}\n"
    "workload:\n"
    "  synthetic: {rate: 2/s, groups: 4, prefix: 1000 tokens, input: 500 tokens,"
    " output: 20 tokens, turns: 3, think: 2 s, requests: 60}\n"
    "router: {policy: round_robin}\n"
    "kv: {block_tokens: 16, %sfree_transfers: %s, tiers: [{name: hbm, capacity: 512 MiB},\n"
    "     {name: dram, capacity: 4 GiB, component: host}]}\n";

static void conv_run(const char *fabric_opt, const char *scope, const char *kv_free,
                     double *hit, double *wait, double *loaded)
{
    char text[4096];
    snprintf(text, sizeof text, conv, fabric_opt, scope, kv_free);
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    *hit = capture_get(&cap, "workload", "prefix_hit_ratio_blocks");
    *wait = capture_get(&cap, "inst0", "kv_load_wait") + capture_get(&cap, "inst1", "kv_load_wait");
    *loaded = capture_get(&cap, "inst0", "kv_load_bytes") +
              capture_get(&cap, "inst1", "kv_load_bytes");
}

START_TEST(free_transfers_same_hits_zero_load_time)
{
    double h1, w1, l1, h2, w2, l2, h3, w3, l3, hi, wi, li;
    conv_run("", "scope: global, ", "true", &h1, &w1, &l1);
    conv_run(", free_transfers: true", "scope: global, ", "false", &h2, &w2, &l2);
    conv_run("", "scope: global, ", "false", &h3, &w3, &l3);
    conv_run("", "scope: instance, ", "true", &hi, &wi, &li);
    ck_assert(l1 > 0);
    ck_assert_double_eq(h1, h2);
    ck_assert_double_eq(l1, l2);
    ck_assert_double_eq(w1, 0);
    ck_assert_double_eq(w2, 0);
    ck_assert(w3 > 0);
    ck_assert_double_eq(h1, h3); /* light load: the same cache decisions */
    ck_assert_msg(h1 > hi + 0.05, "global %.3f vs instance %.3f", h1, hi);
}
END_TEST

/* Every metric of a run, for bit-for-bit comparisons. */
static capture saved;

START_TEST(scope_instance_is_default)
{
    double h, w, l;
    conv_run("", "", "false", &h, &w, &l);
    saved = cap;
    int n0 = nkv;
    conv_run("", "scope: instance, ", "false", &h, &w, &l);
    ck_assert_int_eq(cap.n, saved.n);
    ck_assert_int_eq(nkv, n0);
    for (int i = 0; i < cap.n; i++) {
        ck_assert_str_eq(cap.rows[i].name, saved.rows[i].name);
        ck_assert_msg(cap.rows[i].value == saved.rows[i].value ||
                          (isnan(cap.rows[i].value) && isnan(saved.rows[i].value)),
                      "%s/%s", cap.rows[i].scope, cap.rows[i].name);
    }
}
END_TEST

/* One instance: a pool of its own is the same as its own lower tiers. */
START_TEST(one_instance_global_equals_instance)
{
    static const char one[] =
        "name: one\nstop: trace_end\n"
        "workload:\n"
        "  synthetic: {rate: 4/s, groups: 4, prefix: 1000 tokens, input: 500 tokens,"
        " output: 20 tokens, turns: 3, think: 1 s, requests: 80}\n"
        "  instances: {count: 1, model: llama3-8b}\n"
        "kv: {block_tokens: 16, scope: %s, write: %s, tiers: [{name: hbm, capacity: 256 MiB},\n"
        "     {name: dram, capacity: 512 MiB, bandwidth: 25 GB/s, latency: 10 us},\n"
        "     {name: ssd, capacity: 2 GiB, bandwidth: 5 GB/s, latency: 80 us}]}\n";
    const char *modes[] = {"back", "through"};
    for (int m = 0; m < 2; m++) {
        char text[2048];
        snprintf(text, sizeof text, one, "instance", modes[m]);
        ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
        saved = cap;
        kvrow rows[MAXKV];
        memcpy(rows, kvrows, sizeof rows);
        int n0 = nkv;
        snprintf(text, sizeof text, one, "global", modes[m]);
        ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
        const char *keys[] = {"ttft_mean", "ttft_p99", "prefix_hit_ratio_blocks",
                              "prefix_hit_ratio_tokens", "e2e_mean"};
        for (int k = 0; k < 5; k++)
            ck_assert_double_eq(capture_get(&cap, "workload", keys[k]),
                                capture_get(&saved, "workload", keys[k]));
        ck_assert_double_eq(capture_get(&cap, "inst0", "kv_load_bytes"),
                            capture_get(&saved, "inst0", "kv_load_bytes"));
        ck_assert(capture_get(&cap, "inst0", "kv_load_bytes") > 0);
        ck_assert_int_eq(nkv, n0 + 2); /* + the pool's dram and ssd rows */
        for (int i = 0; i < n0; i++) {
            const kvrow *a = &rows[i], *b = kv_get(a->inst, a->tier);
            ck_assert(b);
            ck_assert_uint_eq(a->hits, b->hits);
            ck_assert_uint_eq(a->misses, b->misses);
            ck_assert_uint_eq(a->evictions, b->evictions);
            ck_assert_uint_eq(a->in, b->in);
            ck_assert_uint_eq(a->out, b->out);
            if (strcmp(a->tier, "hbm")) { /* the pool's totals: inst0's share is all */
                const kvrow *p = kv_get("pool", a->tier);
                ck_assert(p && p->hits == a->hits && p->evictions == a->evictions &&
                          p->in == a->in && p->out == a->out);
            }
        }
        ck_assert_double_eq(capture_get(&cap, "pool", "kv_peak_blocks:ssd"),
                            capture_get(&saved, "inst0", "kv_peak_blocks:ssd"));
    }
}
END_TEST

START_TEST(serving_errors)
{
    char text[4096];
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\n"
             "workload: {trace: %s, format: native, instances: {count: 2}}\n"
             "kv: {scope: galactic, tiers: [{name: hbm}, {name: d, capacity: 1 GiB}]}\n",
             trace_path);
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "scope"), "%s", err.msg);
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\ncomponents:\n  - {name: pool, type: sink}\n"
             "workload: {trace: %s, format: native, instances: {count: 2}}\n"
             "kv: {scope: global, tiers: [{name: hbm}, {name: d, capacity: 1 GiB}]}\n",
             trace_path);
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "taken"), "%s", err.msg);
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\ncomponents:\n"
             "  - {name: a, type: llm_instance, model: llama3-8b}\n"
             "  - {name: b, type: llm_instance, model: qwen2-7b}\n"
             "workload: {trace: %s, format: native}\n"
             "kv: {scope: global, tiers: [{name: hbm}, {name: d, capacity: 1 GiB}]}\n",
             trace_path);
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "same model"), "%s", err.msg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kvpool");
    TCase *tc = tcase_create("Core");
    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_add_test(tc, pool_hit_on_other_store);
    tcase_add_test(tc, pool_capacity_shared_lru);
    tcase_add_test(tc, write_through_visible_while_pinned);
    suite_add_tcase(s, tc);
    tc = tcase_create("Limits");
    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 120);
    int np = 0;
    while (kv_evict_policies[np])
        np++;
    tcase_add_loop_test(tc, random_invariants, 0, 2 * np);
    suite_add_tcase(s, tc);
    tc = tcase_create("Serving");
    tcase_add_checked_fixture(tc, sv_setup, sv_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pool_hit_on_other_instance);
    tcase_add_test(tc, free_transfers_same_hits_zero_load_time);
    tcase_add_test(tc, scope_instance_is_default);
    tcase_add_test(tc, one_instance_global_equals_instance);
    suite_add_tcase(s, tc);
    tc = tcase_create("Errors");
    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_add_test(tc, store_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("ServingErrors");
    tcase_add_checked_fixture(tc, sv_setup, sv_teardown);
    tcase_add_test(tc, serving_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_main(suite());
}
