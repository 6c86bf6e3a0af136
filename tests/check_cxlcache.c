/*
 * check_cxlcache.c - CXL.cache (models/coherence/cxlcache.c) held to the CXL 2.0
 * spec's section 3.2 message flows and the flit arithmetic of cxl.h:
 *
 *   read miss       D2H RdShared (1 slot) ; H2D GO + Data (1 + 4 slots)
 *   write to S      D2H RdOwnNoData (1)   ; H2D GO (1)
 *   write miss      D2H RdOwn (1)         ; H2D GO + Data (5)
 *   host write, M   H2D SnpInv (1)        ; D2H RspIFwdM + Data (5), a writeback
 *   dirty eviction  D2H DirtyEvict (1), Data (5) ; H2D GO-WritePull (1)
 *
 * Each transmission takes ceil(16 x slots / flit payload) flits: 68 B
 * flits carry 64 B (so 5 slots = 2 flits), 256 B flits 240 B (1 flit).
 * Latency of a miss = (flits x flit bytes / raw + latency) for the request
 * + home_latency + the same for the response; raw = GT/s x 128/130 x
 * lanes / 8 at 32 GT/s. Cyclic scans under LRU: a region of L lines that
 * fits misses L times in N accesses (hit ratio 1 - L/N); one line more
 * than the cache misses every time (hit ratio 0).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/coherence/cxlcache.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"

static capture cap;
static int st_line[8], dir_line[8];  /* states and directory bits of lines 0..7 at the end */

static int run_text(const char *text, sim_err *err)
{
    sim_err_clear(err);
    scn_doc *doc = scn_load_string("t.yaml", text, err);
    ck_assert_msg(doc, "%s", err->msg);
    sim *s = sim_create();
    capture_attach(&cap, s);
    int rc = sim_build(s, doc, memfab_models, NULL, err);
    if (!rc)
        rc = sim_start(s, err);
    if (!rc) {
        ck_assert_int_eq(sim_run(s, SIM_TIME_MAX), 0);
        ck_assert_int_eq(sim_finish(s, err), 0);
        sim_comp *acc = sim_find(s, "acc");
        for (int i = 0; i < 8; i++) {
            st_line[i] = cxl_cache_state(acc, (uint64_t)i);
            dir_line[i] = cxl_cache_dir(acc, (uint64_t)i);
        }
    }
    sim_destroy(s);
    scn_free(doc);
    return rc;
}

/* A host and an accelerator on one x16 32 GT/s cxl link of 25 ns. */
static void run_script(const char *flit, const char *cache, const char *script)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: cc\ncomponents:\n"
             "  - {name: host, type: cpu}\n"
             "  - {name: acc, type: cxl_accel, cxl_cache: %s, hit_latency: 5 ns,"
             " home_latency: 100 ns, script: \"%s\"}\n"
             "links:\n  - {name: c0, type: cxl, flit: %s, rate: 32 GT/s, lanes: 16,"
             " latency: 25 ns, ends: [host, acc]}\n",
             cache, script, flit);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
}

static double m(const char *name) { return capture_get(&cap, "acc", name); }

static void expect(double d2h_msgs, double d2h_flits, double h2d_msgs, double h2d_flits)
{
    ck_assert_msg(m("d2h_messages") == d2h_msgs && m("d2h_flits") == d2h_flits &&
                      m("h2d_messages") == h2d_msgs && m("h2d_flits") == h2d_flits,
                  "D2H %g msgs %g flits, H2D %g msgs %g flits; want %g %g %g %g",
                  m("d2h_messages"), m("d2h_flits"), m("h2d_messages"), m("h2d_flits"),
                  d2h_msgs, d2h_flits, h2d_msgs, h2d_flits);
}

/* loop: 68 B flits, 256 B flits */
START_TEST(read_miss)
{
    int f256 = _i;
    run_script(f256 ? "256B" : "68B", "64 KiB", "R0");
    double fb = f256 ? 256 : 68, pay = f256 ? 240 : 64;
    double data_flits = ceil(80 / pay); /* GO + 64 B data: 5 slots */
    expect(1, 1, 2, data_flits);
    ck_assert(m("d2h_bytes") == fb && m("h2d_bytes") == data_flits * fb);
    double raw = 32e9 * 128 / 130 * 16 / 8;
    double want = (fb / raw + 25e-9) + 100e-9 + (data_flits * fb / raw + 25e-9);
    ck_assert_msg(fabs(m("latency_mean") - want) < 2e-12, "miss latency %.12g, want %.12g",
                  m("latency_mean"), want);
    ck_assert(m("misses") == 1 && m("hits") == 0);
    ck_assert_int_eq(st_line[0], CXL_CACHE_S);
    ck_assert_int_eq(dir_line[0], 1);
}
END_TEST

START_TEST(read_hit)
{
    run_script("68B", "64 KiB", "R0 R0");
    expect(1, 1, 2, 2); /* the hit sends nothing */
    ck_assert(m("hits") == 1 && m("misses") == 1);
    double raw = 32e9 * 128 / 130 * 2;
    double miss = (68 / raw + 25e-9) + 100e-9 + (136 / raw + 25e-9);
    ck_assert(fabs(m("latency_mean") - (miss + 5e-9) / 2) < 2e-12);
}
END_TEST

START_TEST(write_to_shared_line)
{
    run_script("68B", "64 KiB", "R0 W0");
    /* + RdOwnNoData (D2H, 1 flit) and GO (H2D, 1 flit), no data */
    expect(2, 2, 3, 3);
    ck_assert(m("upgrades") == 1 && m("snoops") == 0);
    ck_assert_int_eq(st_line[0], CXL_CACHE_M);
    ck_assert_int_eq(dir_line[0], 1);
}
END_TEST

START_TEST(host_write_snoops_modified_line)
{
    run_script("68B", "64 KiB", "W0 H0");
    /* RdOwn; GO + Data; SnpInv; RspIFwdM + Data (2 messages, 2 flits) */
    expect(3, 3, 3, 3);
    ck_assert(m("snoops") == 1 && m("writebacks") == 1);
    ck_assert_int_eq(st_line[0], CXL_CACHE_I);
    ck_assert_int_eq(dir_line[0], 0);
    /* the next read misses again; a host write to a line the device does
     * not hold snoops nothing */
    run_script("68B", "64 KiB", "W0 H0 R0 H5");
    ck_assert(m("misses") == 2 && m("snoops") == 1);
    /* host read of an M line: SnpData, RspSFwdM + Data, the device keeps S */
    run_script("68B", "64 KiB", "W0 h0");
    ck_assert(m("snoops") == 1 && m("writebacks") == 1);
    ck_assert_int_eq(st_line[0], CXL_CACHE_S);
    ck_assert_int_eq(dir_line[0], 1);
    /* clean line: RspIHitSE without data */
    run_script("68B", "64 KiB", "R0 H0");
    expect(2, 2, 3, 3);
    ck_assert(m("writebacks") == 0);
}
END_TEST

START_TEST(lru_eviction)
{
    /* 2 lines: W0 R1 R2 evicts line 0 (LRU, M): DirtyEvict, GO-WritePull,
     * Data (5 slots: 2 flits); R1 R3 then evicts line 2 (S): CleanEvict, GO */
    run_script("68B", "128 B", "W0 R1 R2");
    expect(3 + 2, 3 + 1 + 2, 6 + 1, 6 + 1);
    ck_assert(m("evictions") == 1 && m("writebacks") == 1);
    ck_assert_int_eq(st_line[0], CXL_CACHE_I);
    ck_assert_int_eq(dir_line[0], 0);
    ck_assert_int_eq(st_line[1], CXL_CACHE_S);
    ck_assert_int_eq(st_line[2], CXL_CACHE_S);
    run_script("68B", "128 B", "W0 R1 R2 R1 R3");
    ck_assert(m("evictions") == 2 && m("writebacks") == 1 && m("hits") == 1);
    ck_assert_int_eq(st_line[2], CXL_CACHE_I);
    ck_assert_int_eq(st_line[1], CXL_CACHE_S);
}
END_TEST

/* loop: a scan that fits (512 lines in 1024), one that does not (1025) */
START_TEST(cyclic_scan_hit_ratio)
{
    uint64_t lines = _i ? 1025 : 512, n = 10 * lines;
    char text[1024];
    snprintf(text, sizeof text,
             "name: scan\ncomponents:\n  - {name: host, type: cpu}\n"
             "  - {name: acc, type: cxl_accel, cxl_cache: 64 KiB, footprint: 1 MiB,"
             " scan: %llu B, accesses: %llu}\n"
             "links:\n  - {name: c0, type: cxl, ends: [host, acc]}\n",
             (unsigned long long)(lines * 64), (unsigned long long)n);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    double want = _i ? 0.0 : 1.0 - (double)lines / (double)n;
    ck_assert_msg(fabs(m("hit_ratio") - want) < 1e-12, "hit ratio %g, want %g", m("hit_ratio"),
                  want);
    ck_assert(m("accesses") == (double)n);
    ck_assert(m("evictions") == (_i ? (double)(n - 1024) : 0.0));
}
END_TEST

START_TEST(generator_host_writes)
{
    /* every 4th access writes, the host writes the line after every 2nd
     * access: the device touches each line once (scan = accesses), so each
     * host write snoops a line the device just got; half of those are M */
    const char *text = "name: g\ncomponents:\n  - {name: host, type: cpu}\n"
                       "  - {name: acc, type: cxl_accel, footprint: 64 KiB, accesses: 400,"
                       " write_every: 4, host_write_every: 2}\n"
                       "links:\n  - {name: c0, type: cxl, ends: [host, acc]}\n";
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert(m("host_accesses") == 200 && m("snoops") == 200);
    ck_assert(m("writebacks") == 100 && m("misses") == 400);
}
END_TEST

static const char *const bad[] = {
    "{name: acc, type: cxl_accel, script: \"R0 X1\"}",
    "{name: acc, type: cxl_accel, footprint: 128 B, script: \"R2\"}",
    "{name: acc, type: cxl_accel, cxl_cache: 0 B}",
};

START_TEST(errors)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: e\ncomponents:\n  - {name: host, type: cpu}\n  - %s\n"
             "links:\n  - {name: c0, type: cxl, ends: [host, acc]}\n",
             bad[_i]);
    sim_err err;
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_int_eq(err.line, 4);
}
END_TEST

START_TEST(needs_a_link)
{
    sim_err err;
    ck_assert_int_ne(run_text("name: e\ncomponents:\n  - {name: acc, type: cxl_accel,"
                              " script: \"R0\"}\n",
                              &err),
                     0);
    ck_assert_ptr_nonnull(strstr(err.msg, "cxl link"));
}
END_TEST

static Suite *cxlcache_suite(void)
{
    Suite *s = suite_create("cxlcache");
    TCase *core = tcase_create("Core");
    tcase_add_loop_test(core, read_miss, 0, 2);
    tcase_add_test(core, read_hit);
    tcase_add_test(core, write_to_shared_line);
    tcase_add_test(core, host_write_snoops_modified_line);
    tcase_add_test(core, lru_eviction);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_loop_test(lim, cyclic_scan_hit_ratio, 0, 2);
    tcase_add_test(lim, generator_host_writes);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_loop_test(errs, errors, 0, 3);
    tcase_add_test(errs, needs_a_link);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cxlcache_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
