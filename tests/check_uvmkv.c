/*
 * check_uvmkv.c - managed KV: an llm_instance whose KV cache lives in a CUDA
 * managed allocation (kv_memory: managed, a `um` component with driver:
 * external) against the explicit-tier baseline.
 *
 * Hand derivations. llama3-8b keeps 32 layers x 8 KV heads x 128 x 2 (K, V)
 * x 2 B = 131072 B of KV per token; 16-token blocks are 2 MiB, one UVM VA
 * block each, and block-store slot k is VA block k of the allocation. The
 * store hands out free slots from 0 upwards.
 *
 *   Cold prefill, one request of 16 N tokens (N blocks), output 1: the
 *   single prefill step writes VA blocks 0..N-1 page by page, so the fault
 *   buffer fills with pages [256 i, 256 i + 256): as in check_um's
 *   sequential scan with batch 256, the tree prefetcher never fires (a
 *   half-filled block is 50%, not above 51%): faults = 512 N, batches =
 *   2 N, prefetched 0. With C < N 2 MiB chunks every block beyond the C-th
 *   evicts the least recently used one: N - C evictions, each writing back
 *   512 pages (writeback: all). TTFT = stall + the prefill's roofline time,
 *   and the explicit run (KV in HBM) has TTFT = the roofline time alone, so
 *   the difference is the reported stall exactly.
 *
 *   Working set inside HBM (footprint = capacity): once every slot has been
 *   touched it is resident for good (nothing is ever evicted), so each step
 *   runs at once and times exactly as the explicit run with the same
 *   block-store capacity; the bytes migrated by a run of W + K requests
 *   equal those of its first W (warm-up) requests.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/fabric/pcie.h"
#include "models/registry.h"
#include "models/serving/instance.h"
#include "models/serving/serving.h"
#include "models/uvm/um.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/serving_fixture.h"

#define MAXREQ 64

typedef struct row {
    sim_time arrival, first, finish;
} row;

typedef struct rec {
    capture cap; /* first: capture_metric casts ctx */
    uint64_t n;
    row rows[MAXREQ];
    um_stats um;
    int um_ok;
    int um_state_ok;
} rec;

static rec *R;

static int rec_request(void *ctx, uint64_t id, const char *session, const char *instance,
                       sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                       uint64_t out, uint64_t cached)
{
    rec *r = ctx;
    (void)session; (void)instance; (void)in; (void)out; (void)cached;
    if (id < MAXREQ) {
        r->rows[id].arrival = arrival;
        r->rows[id].first = first;
        r->rows[id].finish = finish;
    }
    r->n++;
    return 0;
}


static void keep_um(sim *s)
{
    sim_comp *u = sim_find(s, "kvum");
    if (u && um_get_stats(u, &R->um) == 0) {
        R->um_ok = 1;
        R->um_state_ok = um_check_state(u) == 0;
    }
}

static int run_text(const char *text, sim_err *err)
{
    memset(R, 0, sizeof *R);
    sim_sink k = {R, capture_metric, NULL, NULL, rec_request, NULL, NULL, NULL, NULL, NULL};
    return sfx_run("test.yaml", text, &k, keep_um, NULL, err);
}

static void run_ok(const char *text)
{
    sim_err err;
    int rc = run_text(text, &err);
    ck_assert_msg(rc == 0, "run failed (%d): %d:%d: %s", rc, err.line, err.col, err.msg);
}

static double get(const char *scope, const char *name)
{
    return capture_must(&R->cap, scope, name);
}

static void setup(void) { R = calloc(1, sizeof *R); }
static void teardown(void) { free(R); }

/* A scenario: host, gpu0 on a Gen5 x16 link, one llama3-8b instance; managed
 * (um capacity `cap`, footprint `fp`) or explicit (HBM tier of `fp`). */
static void scenario(char *buf, size_t n, int managed, const char *cap, const char *fp,
                     const char *wl, const char *umextra)
{
    snprintf(buf, n,
             "name: t\nseed: 5\nstop: trace_end\n"
             "components:\n"
             "  - {name: host, type: cpu, dram_bandwidth: 300 GB/s}\n"
             "  - {name: gpu0, type: gpu, hbm: 80 GiB, hbm_bandwidth: 3.35 TB/s}\n"
             "%s%s%s%s%s%s%s"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, gpu: h100, device: gpu0%s}\n"
             "links:\n"
             "  - {name: pcie0, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, max_payload: 256 B, ends: [host, gpu0]}\n"
             "workload:\n  synthetic: %s\n"
             "%s%s%s",
             managed ? "  - {name: kvum, type: um, driver: external, host: host, gpu: gpu0, capacity: "
                     : "",
             managed ? cap : "", managed ? ", footprint: " : "", managed ? fp : "",
             managed ? umextra : "", managed ? "}" : "", managed ? "\n" : "",
             managed ? ", kv_memory: managed, managed: kvum" : "", wl,
             managed ? "" : "kv:\n  tiers:\n    - {name: hbm, capacity: ", managed ? "" : fp,
             managed ? "" : "}\n");
}

/* 1. Cold prefill of N = 10 blocks into C = 4 chunks: exact fault, batch,
 * eviction and write-back counts; TTFT = explicit TTFT + stall. */
START_TEST(cold_prefill_counts)
{
    const char *wl = "{rate: 1/s, input: {dist: fixed, mean: 160 tokens}, "
                     "output: {dist: fixed, mean: 1 tokens}, requests: 1}";
    char text[4096];
    scenario(text, sizeof text, 0, "", "32 MiB", wl, "");
    run_ok(text);
    ck_assert_uint_eq(R->n, 1);
    sim_time ttft_e = R->rows[0].first - R->rows[0].arrival;
    scenario(text, sizeof text, 1, "8 MiB", "32 MiB", wl, "");
    run_ok(text);
    ck_assert(R->um_ok && R->um_state_ok);
    ck_assert_uint_eq(R->um.faults, 512 * 10);
    ck_assert_uint_eq(R->um.batches, 2 * 10);
    ck_assert_uint_eq(R->um.prefetched, 0);
    ck_assert_uint_eq(R->um.evictions, 6);
    ck_assert_uint_eq(R->um.pages_out, 6 * 512);
    ck_assert_uint_eq(R->um.pages_in, 10 * 512);
    ck_assert_uint_eq(R->um.resident_pages, 4 * 512);
    sim_time ttft_m = R->rows[0].first - R->rows[0].arrival;
    sim_time stall = (sim_time)llround(get("inst0", "managed_stall_time") * 1e12);
    ck_assert_uint_gt(stall, 0);
    ck_assert_uint_eq(R->um.stall_ps + 0, R->um.stall_ps); /* (sanity) */
    /* the instance's stall is the um's (batches back to back) within 1 ps rounding */
    ck_assert_msg(ttft_m - ttft_e >= stall - 1 && ttft_m - ttft_e <= stall + 1,
                  "TTFT managed %llu - explicit %llu != stall %llu", (unsigned long long)ttft_m,
                  (unsigned long long)ttft_e, (unsigned long long)stall);
    ck_assert_double_eq(get("inst0", "kv_memcpy_calls"), 0);
    ck_assert_double_eq(get("inst0", "managed_fault_batches"), 20);
    ck_assert_double_eq(get("inst0", "managed_migrated_bytes"), (10 + 6) * 2097152.0);
}
END_TEST

/* 2. Working set inside HBM: managed == explicit once warm; no bytes after
 * the warm-up. 20-block allocation, requests of 5 prompt blocks + 8
 * generated tokens, one at a time (1/s, each takes milliseconds). A
 * request's last block holds 8 tokens, so its slot's second half stays
 * cold until a later request reuses the slot for a prompt block: requests
 * 0-6 still fault (0-2 on whole blocks, 3-6 on such halves); from request
 * 7 every slot is wholly resident. W = 8 leaves one request of margin. */
START_TEST(warm_inside_hbm)
{
    enum { W = 8, K = 16 };
    char wl[512], text[4096];
    row expl[MAXREQ];
    snprintf(wl, sizeof wl,
             "{rate: 1/s, input: {dist: fixed, mean: 80 tokens}, output: {dist: fixed, mean: 8 "
             "tokens}, requests: %d}", K);
    scenario(text, sizeof text, 0, "", "40 MiB", wl, "");
    run_ok(text);
    ck_assert_uint_eq(R->n, K);
    memcpy(expl, R->rows, sizeof expl);
    scenario(text, sizeof text, 1, "40 MiB", "40 MiB", wl, "");
    run_ok(text);
    ck_assert_uint_eq(R->n, K);
    ck_assert(R->um_state_ok);
    uint64_t bytes_all = R->um.bytes_in + R->um.bytes_out;
    ck_assert_uint_eq(R->um.evictions, 0);
    /* cold: the first request stalled */
    ck_assert_uint_gt(R->rows[0].first - R->rows[0].arrival, expl[0].first - expl[0].arrival);
    for (int i = W; i < K; i++) {
        ck_assert_uint_eq(R->rows[i].arrival, expl[i].arrival);
        ck_assert_uint_eq(R->rows[i].first, expl[i].first);
        ck_assert_uint_eq(R->rows[i].finish, expl[i].finish);
    }
    snprintf(wl, sizeof wl,
             "{rate: 1/s, input: {dist: fixed, mean: 80 tokens}, output: {dist: fixed, mean: 8 "
             "tokens}, requests: %d}", W);
    scenario(text, sizeof text, 1, "40 MiB", "40 MiB", wl, "");
    run_ok(text);
    ck_assert_uint_gt(R->um.bytes_in, 0);
    ck_assert_uint_eq(R->um.bytes_in + R->um.bytes_out, bytes_all);
}
END_TEST

/* ---- scheduler prefetch (managed_prefetch) ---- */

/* D = 4 documents of 512 tokens (one Mooncake block each: 64 MiB of KV,
 * 32 VA blocks), asked in turn: request i is document i mod 4, whole
 * prompt cached after the first pass (only its last token is computed,
 * written into the document's last, cached block), output 1 token, all
 * queued at t = 0 in order, one at a time (max_seqs 1): each request
 * is one step reading its document's 64 MiB. HBM for the region: 64
 * chunks (two documents); the four documents are 2x that, so by LRU each
 * request's document was evicted two requests ago: without prefetch every
 * request after the first pass faults all 32 blocks in. */
static void write_doc_trace(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"timestamp\": %d, \"input_length\": 512, \"output_length\": 1, "
                "\"hash_ids\": [%d]}\n", 0, 1000 + i % 4);
    fclose(f);
}

static void pf_scenario(char *buf, size_t n, const char *trace, int gen, int lanes, int lookahead,
                        int ahead)
{
    snprintf(buf, n,
             "name: t\nseed: 5\nstop: trace_end\n"
             "components:\n"
             "  - {name: host, type: cpu, dram_bandwidth: 300 GB/s}\n"
             "  - {name: gpu0, type: gpu, hbm: 80 GiB, hbm_bandwidth: 3.35 TB/s}\n"
             "  - {name: kvum, type: um, driver: external, host: host, gpu: gpu0, "
             "capacity: 128 MiB, footprint: 512 MiB}\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, gpu: h100, device: gpu0, "
             "max_seqs: 1, kv_memory: managed, managed: kvum, managed_prefetch: %d, "
             "managed_evict_ahead: %s}\n"
             "links:\n"
             "  - {name: pcie0, type: pcie, link_overhead: pcie-bench, gen: %d, lanes: %d, max_payload: 256 B, "
             "ends: [host, gpu0]}\n"
             "workload:\n  trace: %s\n  format: mooncake\n"
             "kv:\n  block_tokens: 16\n",
             lookahead, ahead ? "true" : "false", gen, lanes, trace);
}

/* One run: post-warm-up stall (that of 16 requests minus that of the first
 * 4, which are the cold pass and identical in both runs) and the finish
 * time of the last request of each. */
typedef struct pf_run {
    double stall;          /* s, requests 4..15 */
    double steps;          /* stalled steps among them */
    sim_time end4, end16;  /* last finish of the 4- and 16-request runs */
    uint64_t pf_pages;     /* pages the scheduler prefetched */
    uint64_t ea;           /* blocks evicted ahead (16-request run) */
} pf_run;

static pf_run pf_measure(const char *path, int gen, int lanes, int lookahead, int ahead)
{
    char text[4096];
    pf_run o = {0};
    write_doc_trace(path, 4);
    pf_scenario(text, sizeof text, path, gen, lanes, lookahead, ahead);
    run_ok(text);
    ck_assert_uint_eq(R->n, 4);
    double s4 = get("inst0", "managed_stall_time"), n4 = get("inst0", "managed_stalled_steps");
    o.end4 = R->rows[3].finish;
    write_doc_trace(path, 16);
    pf_scenario(text, sizeof text, path, gen, lanes, lookahead, ahead);
    run_ok(text);
    ck_assert_uint_eq(R->n, 16);
    ck_assert(R->um_state_ok);
    o.stall = get("inst0", "managed_stall_time") - s4;
    o.steps = get("inst0", "managed_stalled_steps") - n4;
    o.end16 = R->rows[15].finish;
    o.pf_pages = R->um.explicit_pages;
    o.ea = R->um.evict_ahead;
    ck_assert_double_eq(get("inst0", "kv_memcpy_calls"), 0);
    return o;
}

/* Scheduler prefetch, lookahead 1: while request i's step computes (T),
 * the instance prefetches the cached KV of request i + 1 (64 MiB; the
 * driver evicts request i - 1's document for it). KV consumption rate =
 * 64 MiB per step of T; T = 6.02 ms (measured below from the stall-free
 * steps), so 11.2 GB/s.
 *   Gen5 x16 (~60 GB/s of DMA data) > 11.2 GB/s: the 64 MiB arrive in
 *   ~1.1 ms, within the step: no step after warm-up stalls (stall 0,
 *   asserted within 5% of the unhidden stall, which is ~7.2 ms/request).
 *   Gen3 x4 (~3.4 GB/s) < 11.2 GB/s: the prefetch takes 33 t_b (t_b =
 *   the link's DMA time of one 2 MiB block: the first victim's write-back
 *   frees the first chunk, then 32 migrations in, each next victim's
 *   write-back overlapped in the other direction) and the next step's
 *   touch waits for it: each request stalls 33 t_b - T (the prefetch
 *   started when the previous step did), within 5% (the read requests
 *   share the write-back direction, fabric chunk pipelining); still well
 *   below the stall without prefetch, where the write-back and the
 *   migration of each block are serialised behind its fault batches. */
START_TEST(prefetch_hides_stall)
{
    char path[256];
    snprintf(path, sizeof path, "%s/memfab-uvmkv-pf-XXXXXX", test_tmpdir());
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    pf_run f0 = pf_measure(path, 5, 16, 0, 0), f1 = pf_measure(path, 5, 16, 1, 0);
    pf_run s0 = pf_measure(path, 3, 4, 0, 0), s1 = pf_measure(path, 3, 4, 1, 0);
    unlink(path);
    /* the cold pass is the same with and without prefetch (nothing cached to prefetch) */
    ck_assert_uint_eq(f0.end4, f1.end4);
    ck_assert_uint_eq(s0.end4, s1.end4);
    /* prefetched: 12 documents x 32 blocks x 512 pages (request 4's during request 3's step) */
    ck_assert_uint_eq(f1.pf_pages, 12 * 32 * 512);
    ck_assert_uint_eq(s1.pf_pages, 12 * 32 * 512);
    double T = sim_time_to_s(f1.end16 - f1.end4) / 12; /* a stall-free step */
    double rate = 64.0 * 1048576 / T;
    pcie_cfg fast = {5, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0}, slow = {3, 4, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double tb_fast = sim_time_to_s(pcie_wire_time(&fast, PCIE_OP_READ, 2u << 20, PCIE_DIR_DATA));
    double tb_slow = sim_time_to_s(pcie_wire_time(&slow, PCIE_OP_READ, 2u << 20, PCIE_DIR_DATA));
    fprintf(stderr, "prefetch: T %.4f ms, consumption %.2f GB/s, link Gen5x16 %.2f GB/s, "
            "Gen3x4 %.2f GB/s\n", T * 1e3, rate / 1e9, 2097152 / tb_fast / 1e9,
            2097152 / tb_slow / 1e9);
    fprintf(stderr, "  fast: stall %.4f ms off, %.4f ms lookahead 1; slow: %.4f off, %.4f "
            "lookahead 1, theory %.4f\n", f0.stall * 1e3, f1.stall * 1e3, s0.stall * 1e3,
            s1.stall * 1e3, 12 * (33 * tb_slow - T) * 1e3);
    ck_assert(2097152 / tb_fast > 2 * rate && 2097152 / tb_slow < rate / 2);
    /* fast link: hidden */
    ck_assert_msg(f0.steps == 12 && f0.stall > 12 * 32 * tb_fast, "unhidden stall %.6f s",
                  f0.stall);
    ck_assert_msg(f1.stall <= 0.05 * f0.stall, "stall with prefetch %.6f s, without %.6f s",
                  f1.stall, f0.stall);
    /* slow link: not hidden; each request waits for the rest of its prefetch */
    double want = 12 * (33 * tb_slow - T);
    ck_assert_msg(s1.steps == 12 && fabs(s1.stall - want) <= 0.05 * want,
                  "slow stall %.6f s, theory %.6f s", s1.stall, want);
    ck_assert_msg(s1.stall > 0.05 * s0.stall && s1.stall < s0.stall, "slow %.6f vs off %.6f",
                  s1.stall, s0.stall);
}
END_TEST

/* Evict-ahead (managed_evict_ahead) on the slow link of prefetch_hides_stall.
 * Without it each prefetch of 32 blocks waits first for the write-back of
 * its first victim (no chunk is free when it starts): 33 t_b. With it, as
 * each step launches the instance keeps the running request's document and
 * the lookahead's and lets the driver write back the LRU rest while the
 * prefetch's migrations hold the link: the prefetch for request i + 1 has
 * issued its last migration at ~32 t_b, after step i ended (T < 31 t_b),
 * so the finished request's document is outside the keep set and its LRU
 * block is written back during that last migration, in the idle GPU ->
 * host direction. The next prefetch then finds one chunk free: migration k
 * runs in [k t_b, (k + 1) t_b], each needing the victim written back in
 * the direction opposite (victim k - 1 is done at k t_b): 32 t_b, so each
 * request stalls 32 t_b - T, one t_b less. The first prefetch after the
 * cold pass (for request 4) had nothing evicted ahead of it (33 t_b), and
 * the last one (for request 15) evicts nothing ahead (no lookahead left
 * once step 15 launches): requests 4..15 stall 12 (32 t_b - T) + t_b, with
 * exactly 11 blocks evicted ahead, and the gain over no evict-ahead is
 * 11 t_b. Asserted within 5% as in prefetch_hides_stall (chunk pipelining
 * on the fabric); the gain within 10%. On the fast link nothing changes
 * (the prefetch never stalls). */
START_TEST(evict_ahead_removes_writeback)
{
    char path[256];
    snprintf(path, sizeof path, "%s/memfab-uvmkv-ea-XXXXXX", test_tmpdir());
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    pf_run s1 = pf_measure(path, 3, 4, 1, 0), s2 = pf_measure(path, 3, 4, 1, 1);
    pf_run f1 = pf_measure(path, 5, 16, 1, 0), f2 = pf_measure(path, 5, 16, 1, 1);
    unlink(path);
    double T = sim_time_to_s(f1.end16 - f1.end4) / 12;
    pcie_cfg slow = {3, 4, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double tb = sim_time_to_s(pcie_wire_time(&slow, PCIE_OP_READ, 2u << 20, PCIE_DIR_DATA));
    double want = 12 * (32 * tb - T) + tb, gain = 11 * tb;
    fprintf(stderr, "evict-ahead: T %.4f ms, t_b %.4f ms; slow stall %.4f ms off, %.4f ms on, "
            "theory %.4f; gain %.4f ms, theory %.4f; %llu blocks evicted ahead; fast stall "
            "%.4f ms off, %.4f ms on\n", T * 1e3, tb * 1e3, s1.stall * 1e3, s2.stall * 1e3,
            want * 1e3, (s1.stall - s2.stall) * 1e3, gain * 1e3, (unsigned long long)s2.ea,
            f1.stall * 1e3, f2.stall * 1e3);
    ck_assert_uint_eq(s1.ea, 0);
    ck_assert_uint_eq(s2.ea, 11);
    ck_assert_uint_eq(s1.end4, s2.end4); /* the cold pass has nothing to prefetch */
    ck_assert_uint_eq(s2.pf_pages, s1.pf_pages);
    ck_assert_msg(s2.steps == 12 && fabs(s2.stall - want) <= 0.05 * want,
                  "slow stall %.6f s, theory %.6f s", s2.stall, want);
    ck_assert_msg(fabs(s1.stall - s2.stall - gain) <= 0.10 * gain, "gain %.6f s, theory %.6f s",
                  s1.stall - s2.stall, gain);
    ck_assert(s2.end16 < s1.end16);
    ck_assert_msg(f1.stall == 0 && f2.stall == 0, "fast %.9f %.9f", f1.stall, f2.stall);
    ck_assert_uint_eq(f2.end16, f1.end16);
}
END_TEST

/* ---- errors ---- */

static void expect_error(const char *text, const char *needle, int line, int col)
{
    sim_err err;
    int rc = run_text(text, &err);
    ck_assert_msg(rc != 0, "expected an error containing '%s'", needle);
    ck_assert_msg(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
    ck_assert_msg(err.line == line && err.col == col, "error at %d:%d, want %d:%d (%s)", err.line,
                  err.col, line, col, err.msg);
}

static const char *const wl1 = "{rate: 1/s, input: 100 tokens, output: 10 tokens, requests: 1}";

START_TEST(error_no_region)
{
    char text[4096];
    scenario(text, sizeof text, 1, "8 MiB", "32 MiB", wl1, "");
    char *p = strstr(text, "managed: kvum");
    ck_assert_ptr_nonnull(p);
    memcpy(p, "managed: kvux", 13);
    /* line 7: the instance; column of the value of managed: */
    expect_error(text, "managed region 'kvux' does not exist", 8, (int)(p - strstr(text, "  - {name: inst0")) + 10);
}
END_TEST

START_TEST(error_beyond_host)
{
    char text[4096];
    scenario(text, sizeof text, 1, "8 MiB", "600 GiB", wl1, "");
    const char *u = strstr(text, "  - {name: kvum");
    const char *f = strstr(u, "footprint: ") + 11;
    expect_error(text, "exceeds the memory of host 'host'", 7, (int)(f - u) + 1);
}
END_TEST

START_TEST(error_not_external)
{
    char text[4096];
    scenario(text, sizeof text, 1, "8 MiB", "32 MiB", wl1, "");
    char *p = strstr(text, "driver: external");
    memcpy(p, "driver: kernels ", 16);
    sim_err err;
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "driver: external"), "%s", err.msg);
    ck_assert_int_eq(err.line, 8);
}
END_TEST

/* The CLI exits 2 with file:line:col. */
START_TEST(error_cli_exit_2)
{
    const char *bin = getenv("MEMFAB_BIN");
    if (!bin)
        return;
    char text[4096];
    scenario(text, sizeof text, 1, "8 MiB", "32 MiB", wl1, "");
    char *p = strstr(text, "managed: kvum");
    memcpy(p, "managed: kvux", 13);
    char path[256];
    snprintf(path, sizeof path, "%s/memfab-uvmkv-XXXXXX", test_tmpdir());
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' run '%s' -o '%s.db' 2>&1 | grep -q '%s:8:'; r=$?; "
             "'%s' run '%s' -o '%s.db' >/dev/null 2>&1; echo $? $r; rm -f '%s.db'", bin, path,
             path, path, bin, path, path, path);
    FILE *o = popen(cmd, "r");
    int code = -1, grep = -1;
    ck_assert_int_eq(fscanf(o, "%d %d", &code, &grep), 2);
    pclose(o);
    unlink(path);
    ck_assert_int_eq(code, 2);
    ck_assert_int_eq(grep, 0);
}
END_TEST


/* Bad input: advice on a range that is not a region of the allocation, a
 * negative prefetch lookahead: refused at the offending node (memfab run
 * exits 2 and prints file:line:column from these). */
START_TEST(bad_advice_and_lookahead)
{
    static const char *const base =
        "name: b\ncomponents:\n  - {name: host, type: cpu}\n  - {name: gpu0, type: gpu}\n"
        "  - {name: kvum, type: um, host: host, gpu: gpu0, footprint: 8 MiB, driver: external,\n"
        "     capacity: 4 MiB%s}\n"
        "  - {name: inst0, type: llm_instance, model: llama3-8b, gpu: h100, device: gpu0,\n"
        "     kv_memory: managed, managed: kvum%s}\n"
        "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, ends: [host, gpu0]}\n"
        "workload:\n  synthetic: {rate: 1/s, input: {dist: fixed, mean: 16 tokens}, "
        "output: {dist: fixed, mean: 1 tokens}, requests: 1}\n";
    char text[2048];
    sim_err err;
    snprintf(text, sizeof text, base, ", advice: [{range: [4 MiB, 16 MiB], accessed_by: gpu}]",
             "");
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "not a region of the allocation"), "%s", err.msg);
    ck_assert_int_eq(err.line, 6);
    ck_assert_int_eq(err.col, 40); /* the range list: 5 + 15 + 10 + 9 columns precede it */
    snprintf(text, sizeof text, base, "", ", managed_prefetch: -1");
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "managed_prefetch"), "%s", err.msg);
    ck_assert_int_eq(err.line, 8);
    ck_assert_int_eq(err.col, 59); /* the value -1 */
    /* evict-ahead makes room for the prefetch: without one it is an error */
    snprintf(text, sizeof text, base, "", ", managed_evict_ahead: true");
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "needs managed_prefetch >= 1"), "%s", err.msg);
    ck_assert_int_eq(err.line, 8);
    ck_assert_int_eq(err.col, 62); /* the value true */
    snprintf(text, sizeof text, base, "", ", managed_prefetch: 1, managed_evict_ahead: true");
    ck_assert_int_eq(run_text(text, &err), 0);
}
END_TEST

static Suite *uvmkv_suite(void)
{
    Suite *s = suite_create("uvmkv");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_set_timeout(core, 120);
    tcase_add_test(core, cold_prefill_counts);
    tcase_add_test(core, warm_inside_hbm);
    tcase_add_test(core, prefetch_hides_stall);
    tcase_add_test(core, evict_ahead_removes_writeback);
    suite_add_tcase(s, core);
    TCase *errs = tcase_create("Errors");
    tcase_add_checked_fixture(errs, setup, teardown);
    tcase_add_test(errs, error_no_region);
    tcase_add_test(errs, error_beyond_host);
    tcase_add_test(errs, error_not_external);
    tcase_add_test(errs, error_cli_exit_2);
    tcase_add_test(errs, bad_advice_and_lookahead);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(uvmkv_suite());
}
