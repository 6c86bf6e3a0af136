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

#include "models/registry.h"
#include "models/serving/instance.h"
#include "models/serving/serving.h"
#include "models/uvm/um.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"

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

static const char *const sections[] = {"workload", "kv", "router", "fabric", NULL};

static int run_text(const char *text, sim_err *err)
{
    memset(R, 0, sizeof *R);
    sim_err_clear(err);
    scn_doc *doc = scn_load_string("test.yaml", text, err);
    if (!doc)
        return err->code;
    sim *s = sim_create();
    sim_sink k = {R, capture_metric, NULL, NULL, rec_request, NULL, NULL, NULL, NULL};
    sim_set_sink(s, &k);
    int rc = sim_build(s, doc, memfab_models, sections, err);
    if (!rc)
        rc = serving_build(s, doc, err);
    if (!rc)
        rc = sim_start(s, err);
    if (!rc)
        rc = sim_run(s, sim_stop_time(s));
    if (!rc) {
        sim_comp *u = sim_find(s, "kvum");
        if (u && um_get_stats(u, &R->um) == 0) {
            R->um_ok = 1;
            R->um_state_ok = um_check_state(u) == 0;
        }
        rc = sim_finish(s, err);
    }
    sim_destroy(s);
    scn_free(doc);
    return rc;
}

static void run_ok(const char *text)
{
    sim_err err;
    int rc = run_text(text, &err);
    ck_assert_msg(rc == 0, "run failed (%d): %d:%d: %s", rc, err.line, err.col, err.msg);
}

static double get(const char *scope, const char *name)
{
    double v = capture_get(&R->cap, scope, name);
    ck_assert_msg(!isnan(v), "no metric %s/%s", scope, name);
    return v;
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
             "  - {name: pcie0, type: pcie, gen: 5, lanes: 16, max_payload: 256 B, ends: [host, gpu0]}\n"
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
    char path[] = "/tmp/memfab-uvmkv-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    char cmd[2048];
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
        "links:\n  - {name: l, type: pcie, ends: [host, gpu0]}\n"
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
    SRunner *sr = srunner_create(uvmkv_suite());
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
