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
#include "tests/check_main.h"

static capture cap;
static int st_line[8], dir_line[8];  /* states and directory bits of lines 0..7 at the end */

static void keep_lines(sim *s)
{
    sim_comp *acc = sim_find(s, "acc");
    for (int i = 0; i < 8; i++) {
        st_line[i] = cxl_cache_state(acc, (uint64_t)i);
        dir_line[i] = cxl_cache_dir(acc, (uint64_t)i);
    }
}

static int run_until(const char *text, sim_time until, sim_err *err)
{
    capture_opts o = {.until = until, .finished = keep_lines};
    return capture_run(&cap, text, &o, err);
}

static int run_text(const char *text, sim_err *err) { return run_until(text, SIM_TIME_MAX, err); }

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

/* Contention. The device sits on an endpoint whose x16 68 B-flit link it
 * shares with Poisson 4 KiB DMA writes from that endpoint to the host
 * (open loop, mean gap 2 S: rho = 0.5 in the D2H direction). Every access
 * misses (a 4 MiB cache over a 4 MiB scan touched once: no evictions).
 * A miss's request (one flit) waits behind the writes' data on D2H: the
 * M/D/1 mean wait (Pollaczek-Khinchine, Kleinrock vol. 1 eq. 5.73) of a
 * random arrival, Wq = rho S / (2 (1 - rho)), since each write is one
 * packet of service S = 4096 x 68/64 B at the raw rate and a new packet
 * joins the round-robin ring behind those waiting (FIFO here). Its GO +
 * Data waits on H2D behind the writes' NDR slots (service S_ndr = 64 x 16
 * x 68/64 B each, load rho S_ndr / S, never queueing among themselves since
 * S_ndr < S): rho_ndr S_ndr / 2. The requests' own load (a flit per
 * microsecond) is negligible. Expect the mean miss latency to grow by
 * that sum, within 5%. */
static double md1_miss(int bulk, double gap_ns)
{
    char text[2048];
    snprintf(text, sizeof text,
             "name: md1\nseed: 5\ncomponents:\n"
             "  - {name: host, type: cpu, dram_bandwidth: 10 TB/s}\n"
             "  - {name: dev, type: endpoint}\n"
             "  - {name: acc, type: cxl_accel, node: dev, cxl_cache: 4 MiB, footprint: 4 MiB,"
             " accesses: 30000, gap: 1 us, hit_latency: 5 ns, home_latency: 100 ns}\n"
             "%s%.4f%s"
             "links:\n  - {name: l, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16,"
             " latency: 25 ns, ends: [dev, host]}\n",
             bulk ? "  - {name: bulk, type: xfer, src: dev, dst: host, size: 4 KiB, path: dma,"
                    " count: 0, interarrival: " : "",
             bulk ? gap_ns : 0.0, bulk ? " ns}\n" : "");
    if (!bulk) { /* drop the "0.0000" placeholder */
        char *p = strstr(text, "0.0000links:");
        ck_assert_ptr_nonnull(p);
        memmove(p, p + 6, strlen(p + 6) + 1);
    }
    sim_err err;
    ck_assert_msg(run_until(text, 40000000000ULL, &err) == 0, "%s", err.msg); /* 40 ms */
    ck_assert(m("misses") == 30000 && m("evictions") == 0);
    return m("latency_mean") * 1e12;
}

START_TEST(bulk_contention_md1)
{
    double raw = 32e9 * 128.0 / 130.0 * 16 / 8; /* B/s */
    double S = 4096.0 * 68 / 64 * 1e12 / raw, S_ndr = 64 * 16.0 * 68 / 64 * 1e12 / raw; /* ps */
    double rho = 0.5, rho_ndr = rho * S_ndr / S;
    double want = rho * S / (2 * (1 - rho)) + rho_ndr * S_ndr / 2;
    double base = md1_miss(0, 0), loaded = md1_miss(1, 2 * S / 1e3);
    /* unloaded: exactly today's sum (request flit, home, GO + Data flits) */
    double unl = (68 * 1e12 / raw + 25e3) + 100e3 + (136 * 1e12 / raw + 25e3);
    ck_assert_msg(fabs(base - unl) < 2, "unloaded miss %.1f ps, want %.1f", base, unl);
    double got = loaded - base;
    fprintf(stderr, "cxl.cache M/D/1: base %.1f ps, loaded %.1f ps, extra %.1f ps,"
                    " predicted %.1f ps\n", base, loaded, got, want);
    ck_assert_msg(fabs(got - want) <= 0.05 * want, "extra %.1f ps vs M/D/1 %.1f ps", got, want);
    /* the link rows carry both: the writes' bytes and the device's flits */
    ck_assert(capture_get(&cap, "acc", "d2h_flits") >= 30000);
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
    tcase_add_test(lim, bulk_contention_md1);
    tcase_set_timeout(lim, 300);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_loop_test(errs, errors, 0, 3);
    tcase_add_test(errs, needs_a_link);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(cxlcache_suite());
}
