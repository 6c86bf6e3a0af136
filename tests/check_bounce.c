/*
 * check_bounce.c - the bounce path (fabric.h BOUNCE, paths.c bounce()):
 * SSD <-> host bounce buffers <-> GPU, store-and-forward through a pool of
 * buffers, with the host's copy threads on the data path.
 *
 * References and formulas:
 *   - cuFile compatibility mode (NVIDIA GPUDirect Storage documentation:
 *     "cuFile Compatibility Mode" and the cufile.json parameters of the
 *     Configuration Guide): a read is a POSIX read into a host bounce
 *     buffer followed by cudaMemcpy to the device, per buffer; the buffers
 *     are 1 MiB (per_buffer_cache_size_kb 1024; posix_pool_slab_size_kb
 *     4, 1024, 16384 with posix_pool_slab_count 128, 64, 32: 64 buffers of
 *     1 MiB). These are the defaults (bounce_io, bounce_buffers).
 *   - Store-and-forward: a buffer's next leg starts when its previous leg
 *     has finished, so with one buffer a transfer of k buffers takes
 *     exactly k x T1, and T1 = the SSD leg + the device leg, each equal to
 *     the DMA path's transfer of one buffer alone (the same steps), plus
 *     per CPU copy u_r + s_m + 2 L (engine.h's cut-through rule: the DRAM
 *     read passes its first 4 KiB on after u_r, the memcpy of s_m = S /
 *     memcpy_bandwidth overlaps the DRAM write, each DRAM step pays the
 *     DRAM latency L).
 *   - Pipelining (a flow shop of identical jobs): with buffers enough to
 *     keep the slowest station busy, k buffers take T1 + (k - 1) x S / B,
 *     B = min(SSD, link, copy threads x memcpy_bandwidth, DRAM bandwidth /
 *     DRAM crossings per byte). With N buffers too few for that (N x S /
 *     T1 < B: Little's law), buffer j + N starts when buffer j ends:
 *     k buffers take (k / N) x T1 + (N - 1) x s_ssd.
 *   - Host DRAM crossings per byte: O_DIRECT 2 (SSD DMA in, copy engine
 *     out), page cache 4 (+ the copy's read and write), pageable 6 (read()
 *     into pageable memory, then the CUDA driver's staging copy); writes
 *     the same. CPU time: per buffer io_cpu + launch_cpu, per copied byte
 *     1 / memcpy_bandwidth.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/fabric/pcie.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"

static capture cap;

/* A host with an SSD on link n and a GPU on link g (Gen5 x16). */
typedef struct setup {
    const char *fab;   /* extra fabric settings */
    const char *host;  /* extra cpu settings */
    const char *ssd;   /* extra nvme settings */
    const char *nlink; /* the SSD link's generation and lanes */
} setup;

static int build_run(const setup *u, const char *src, const char *dst, const char *size,
                     const char *path, sim_err *err)
{
    char text[2048];
    snprintf(text, sizeof text,
             "name: b\ncomponents:\n"
             "  - {name: fab, type: fabric%s}\n"
             "  - {name: host, type: cpu%s}\n"
             "  - {name: gpu, type: gpu}\n"
             "  - {name: ssd, type: nvme%s}\n"
             "  - {name: a, type: xfer, src: %s, dst: %s, size: %s, path: %s}\n"
             "links:\n"
             "  - {name: n, type: pcie, link_overhead: pcie-bench, %s, ends: [host, ssd]}\n"
             "  - {name: g, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16,"
             " ends: [host, gpu]}\n",
             u->fab, u->host, u->ssd, src, dst, size, path,
             u->nlink ? u->nlink : "gen: 4, lanes: 4");
    return capture_run(&cap, text, NULL, err);
}

/* Run and return transfer a's latency in ps (its only transfer). */
static double run_ps(const setup *u, const char *src, const char *dst, const char *size,
                     const char *path)
{
    sim_err err;
    ck_assert_msg(build_run(u, src, dst, size, path, &err) == 0, "%s", err.msg);
    ck_assert(capture_get(&cap, "a", "latency_count") == 1.0);
    return capture_get(&cap, "a", "latency_mean") * 1e12;
}

static void assert_ps(double got, double want, const char *what)
{
    /* latencies come back in seconds: equal to the picosecond */
    ck_assert_msg(fabs(got - want) < 0.5, "%s: got %.1f ps, expected %.1f ps", what, got, want);
}

static const char *const modes[] = {"o_direct", "page_cache", "pageable"};
static const int copies[] = {0, 1, 2};

/* One buffer: the SSD leg and the device leg one after the other, each
 * exactly the DMA path's transfer of that buffer; the copies in between;
 * k buffers take k times as long. _i: mode x 3 + direction (0 read, 1 write). */
START_TEST(one_buffer_store_and_forward)
{
    int mode = _i / 2, wr = _i % 2;
    const double S = 1 << 20, D = 200e9, L = 90e3 /* ps */, M = 10e9;
    char fab[128];
    snprintf(fab, sizeof fab, ", chunk: 1 MiB, bounce_buffers: 1, bounce_mode: %s", modes[mode]);
    setup u = {fab, ", dram_bandwidth: 200 GB/s, dram_latency: 90 ns, memcpy_bandwidth: 10 GB/s",
               ", read_bandwidth: 7 GB/s, write_bandwidth: 5 GB/s", NULL};
    const char *src = wr ? "gpu" : "ssd", *dst = wr ? "ssd" : "gpu";
    double leg1 = run_ps(&u, src, "host", "1 MiB", "dma");
    double leg2 = run_ps(&u, "host", dst, "1 MiB", "dma");
    double t1 = run_ps(&u, src, dst, "1 MiB", "bounce");
    /* a copy: u_r + s_m + 2 L (header comment) */
    double s_r = llround(S * 1e12 / D), u_r = floor(s_r * 4096 / S), s_m = llround(S * 1e12 / M);
    double copy = u_r + s_m + 2 * L;
    assert_ps(t1, leg1 + leg2 + copies[mode] * copy, "one buffer = sum of its legs");
    double t8 = run_ps(&u, src, dst, "8 MiB", "bounce");
    assert_ps(t8, 8 * t1, "8 buffers through one = 8 x one");
}
END_TEST

/* Many buffers: throughput = the slowest station's. Each case: settings,
 * the mode, the bottleneck rate B (0: the SSD link's posted writes) and,
 * when the bottleneck is a pool of c copy threads, the rate of the slower
 * of its neighbouring stations. */
typedef struct pipe_case {
    const char *what;
    setup u;
    const char *mode;
    double B;          /* bytes/s, or 0: the link n (pcie-bench, gen 4 x4) */
    int c;             /* servers at the bottleneck (0, 1: one) */
    double nb;         /* c > 1: the slower of the stations before and after it */
} pipe_case;

static const pipe_case pipes[] = {
    {"SSD-bound", {"", "", ", read_bandwidth: 3 GB/s, write_bandwidth: 3 GB/s", NULL},
     "o_direct", 3e9, 0, 0},
    {"link-bound",
     {"", "", ", read_bandwidth: 20 GB/s, write_bandwidth: 20 GB/s", NULL}, "o_direct", 0, 0, 0},
    {"one copy thread",
     {"", ", memcpy_bandwidth: 2 GB/s", ", read_bandwidth: 7 GB/s, write_bandwidth: 7 GB/s",
      "gen: 5, lanes: 4"},
     "page_cache", 2e9, 0, 0},
    {"two copy threads",
     {"", ", memcpy_bandwidth: 2 GB/s, copy_threads: 2",
      ", read_bandwidth: 7 GB/s, write_bandwidth: 7 GB/s", "gen: 5, lanes: 4"},
     "page_cache", 4e9, 2, 7e9},
    {"four copy threads: the SSD again",
     {"", ", memcpy_bandwidth: 2 GB/s, copy_threads: 4",
      ", read_bandwidth: 7 GB/s, write_bandwidth: 7 GB/s", "gen: 5, lanes: 4"},
     "page_cache", 7e9, 0, 0},
    {"pageable: two copies share the thread",
     {"", ", memcpy_bandwidth: 4 GB/s", ", read_bandwidth: 7 GB/s, write_bandwidth: 7 GB/s",
      "gen: 5, lanes: 4"},
     "pageable", 2e9, 0, 0},
    {"host DRAM, crossed twice",
     {"", ", dram_bandwidth: 8 GB/s", ", read_bandwidth: 20 GB/s, write_bandwidth: 20 GB/s",
      "gen: 5, lanes: 4"},
     "o_direct", 4e9, 0, 0},
    {"host DRAM, crossed four times",
     {"", ", dram_bandwidth: 8 GB/s, memcpy_bandwidth: 100 GB/s",
      ", read_bandwidth: 20 GB/s, write_bandwidth: 20 GB/s", "gen: 5, lanes: 4"},
     "page_cache", 2e9, 0, 0},
};
#define NPIPES (sizeof pipes / sizeof pipes[0])

/* _i: case x 2 + direction. 64 buffers of 1 MiB (the defaults) in flight. */
START_TEST(many_buffers_pipeline)
{
    const pipe_case *pc = &pipes[_i / 2];
    int wr = _i % 2;
    const char *src = wr ? "gpu" : "ssd", *dst = wr ? "ssd" : "gpu";
    const double S = 1 << 20, k = 64;
    double B = pc->B;
    if (B == 0) { /* the SSD link: posted writes (read) or read completions (write) */
        pcie_cfg c = {4, 4, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
        double wire = wr ? pcie_wire_bytes(&c, PCIE_OP_READ, 1 << 20, PCIE_DIR_DATA)
                         : pcie_wire_bytes(&c, PCIE_OP_WRITE, 1 << 20, PCIE_DIR_DATA);
        B = S / (llround(wire * 1e12 / pcie_raw_rate(&c)) * 1e-12);
    }
    char one[256], many[256];
    snprintf(one, sizeof one, "%s, bounce_buffers: 1, bounce_mode: %s", pc->u.fab, pc->mode);
    snprintf(many, sizeof many, "%s, bounce_mode: %s", pc->u.fab, pc->mode);
    setup u1 = pc->u, un = pc->u;
    u1.fab = one;
    un.fab = many;
    double t1 = run_ps(&u1, src, dst, "1 MiB", "bounce") * 1e-12;
    double tk = run_ps(&un, src, dst, "64 MiB", "bounce") * 1e-12;
    /* the fill of the first buffer, then one buffer per S / B; within
     * 0.1% (0.05% at most seen): host DRAM is one server for both legs
     * and the copies, so a buffer's DRAM step may wait behind another's */
    double want = t1 + (k - 1) * S / B;
    if (pc->c > 1) {
        /* c servers fed one buffer per S / up: server j takes buffers j,
         * j + c, ...; the last (k a multiple of c) ends k / c services of
         * c S / B after the first began, and the last c buffers leave the
         * pool or reach the station after it (c - 1) x S / nb apart, nb
         * the slower of the two neighbours */
        want = t1 + (k / pc->c - 1) * pc->c * S / B + (pc->c - 1) * S / pc->nb;
    }
    capture_close(tk, want, 0.001, pc->what);
}
END_TEST

/* Too few buffers: throughput = N x S / T1 (Little's law); buffer j + N
 * starts when buffer j has left its last leg. A slow SSD latency (1 ms)
 * makes T1 long against the SSD's service. _i: N = 1, 2, 4; read/write. */
START_TEST(few_buffers_littles_law)
{
    static const unsigned ns[] = {1, 2, 4};
    unsigned N = ns[_i / 2];
    int wr = _i % 2;
    const char *src = wr ? "gpu" : "ssd", *dst = wr ? "ssd" : "gpu";
    const double S = 1 << 20, k = 64;
    char one[64], many[64];
    snprintf(one, sizeof one, ", bounce_buffers: 1");
    snprintf(many, sizeof many, ", bounce_buffers: %u", N);
    const char *ssd = ", read_bandwidth: 7 GB/s, write_bandwidth: 7 GB/s, read_latency: 1 ms,"
                      " write_latency: 1 ms";
    setup u1 = {one, "", ssd, "gen: 5, lanes: 4"}, un = {many, "", ssd, "gen: 5, lanes: 4"};
    double t1 = run_ps(&u1, src, dst, "1 MiB", "bounce");
    double tk = run_ps(&un, src, dst, "64 MiB", "bounce");
    double s_ssd = llround(S * 1e12 / 7e9);
    assert_ps(tk, k / N * t1 + (N - 1) * s_ssd, "k / N x T1 + (N - 1) x s_ssd");
    ck_assert(N * S / (t1 * 1e-12) < 7e9); /* the premise: fewer than the SSD needs */
}
END_TEST

/* Host DRAM bytes and CPU time per mode, read and write: exact multiples.
 * _i: mode x 2 + direction. */
START_TEST(host_bytes_per_mode)
{
    int mode = _i / 2, wr = _i % 2;
    const double bytes = 40.0 * (1 << 20) + 4096; /* 41 buffers, the last short */
    char fab[96];
    snprintf(fab, sizeof fab, ", bounce_mode: %s", modes[mode]);
    setup u = {fab, ", io_cpu: 5 us, launch_cpu: 2 us, memcpy_bandwidth: 10 GB/s", "", NULL};
    sim_err err;
    ck_assert_msg(build_run(&u, wr ? "gpu" : "ssd", wr ? "ssd" : "gpu", "41947136 B", "bounce",
                            &err) == 0,
                  "%s", err.msg);
    double cross = 2 + 2 * copies[mode];
    ck_assert(capture_get(&cap, "fab", "bytes:bounce") == bytes);
    ck_assert(capture_get(&cap, "fab", "host_memory_bytes:bounce") == cross * bytes);
    ck_assert(capture_get(&cap, "host", "dram_bytes") == cross * bytes);
    ck_assert(capture_get(&cap, "host", "memcpy_bytes") == copies[mode] * bytes);
    double cpu = 41 * 7e-6 + copies[mode] * bytes / 10e9;
    capture_close(capture_get(&cap, "fab", "cpu_time:bounce"), cpu, 1e-12, "CPU time");
    capture_close(capture_get(&cap, "host", "cpu_time"), cpu, 1e-12, "the host's CPU time");
}
END_TEST

/* Writes mirror reads: with the SSD as fast writing as reading, GPU ->
 * SSD takes as long as SSD -> GPU within 0.5% (the PCIe operations
 * differ: posted writes one way, read requests and completions the other),
 * for every mode. */
START_TEST(writes_symmetric)
{
    char fab[96];
    snprintf(fab, sizeof fab, ", bounce_mode: %s", modes[_i]);
    setup u = {fab, ", memcpy_bandwidth: 40 GB/s",
               ", read_bandwidth: 6 GB/s, write_bandwidth: 6 GB/s, read_latency: 80 us,"
               " write_latency: 80 us",
               "gen: 5, lanes: 4"};
    double r = run_ps(&u, "ssd", "gpu", "64 MiB", "bounce");
    double hr = capture_get(&cap, "host", "dram_bytes");
    double w = run_ps(&u, "gpu", "ssd", "64 MiB", "bounce");
    ck_assert(capture_get(&cap, "host", "dram_bytes") == hr);
    capture_close(w, r, 0.005, "write vs read");
}
END_TEST

/* The defaults are cuFile's (1 MiB buffers, 64 of them, O_DIRECT), and the
 * fabric's chunk does not change the bounce path (its chunks are the
 * buffers). */
START_TEST(defaults_are_cufile)
{
    setup d = {"", "", "", NULL};
    setup e = {", bounce_io: 1 MiB, bounce_buffers: 64, bounce_mode: o_direct", "", "", NULL};
    setup c = {", chunk: 64 KiB, window: 64 KiB", "", "", NULL};
    double td = run_ps(&d, "ssd", "gpu", "256 MiB", "bounce");
    assert_ps(run_ps(&e, "ssd", "gpu", "256 MiB", "bounce"), td, "explicit cuFile defaults");
    assert_ps(run_ps(&c, "ssd", "gpu", "256 MiB", "bounce"), td, "another chunk and window");
    /* and 16 buffers of 4 MiB hold the same bytes but each leg waits for 4 MiB */
    setup big = {", bounce_io: 4 MiB, bounce_buffers: 16", "", "", NULL};
    ck_assert(run_ps(&big, "ssd", "gpu", "256 MiB", "bounce") > td);
}
END_TEST

/* Bad settings name their key's line. */
START_TEST(bad_settings)
{
    static const setup bad[] = {
        {", bounce_io: 6000 B", "", "", NULL},
        {", bounce_buffers: 0", "", "", NULL},
        {", bounce_mode: posix", "", "", NULL},
        {"", ", copy_threads: 0", "", NULL},
    };
    sim_err err;
    ck_assert_int_ne(build_run(&bad[_i], "ssd", "gpu", "1 MiB", "bounce", &err), 0);
    ck_assert_int_eq(err.line, _i < 3 ? 3 : 4);
    ck_assert_msg(strstr(err.msg, _i == 0   ? "bounce_io"
                                  : _i == 1 ? "bounce_buffers"
                                  : _i == 2 ? "posix"
                                            : "copy_threads"),
                  "%s", err.msg);
}
END_TEST

static Suite *bounce_suite(void)
{
    Suite *s = suite_create("bounce");
    TCase *core = tcase_create("Core");
    tcase_set_timeout(core, 120);
    tcase_add_loop_test(core, one_buffer_store_and_forward, 0, 6);
    tcase_add_loop_test(core, many_buffers_pipeline, 0, (int)(2 * NPIPES));
    tcase_add_loop_test(core, host_bytes_per_mode, 0, 6);
    tcase_add_loop_test(core, writes_symmetric, 0, 3);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_set_timeout(lim, 120);
    tcase_add_loop_test(lim, few_buffers_littles_law, 0, 6);
    tcase_add_test(lim, defaults_are_cufile);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_loop_test(errs, bad_settings, 0, 4);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(bounce_suite());
}
