/*
 * check_cohfab.c - coherence on the fabric: MESI messages as packets on
 * the scenario's links, the directory's occupancy and finite queue, the
 * finite snoop filter with back-invalidation, the software-synchronisation
 * baselines, and the growth of synchronisation traffic with the actors.
 *
 * References: Primer (Nagarajan et al., 2nd ed.) ch. 8 for the message
 * flows; cxl.h for the 68 B flit arithmetic; Kleinrock, Queueing Systems
 * vol. 1, eq. 5.73 (Pollaczek-Khinchine) for the M/D/1 mean wait
 * Wq = rho S / (2 (1 - rho)).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/coherence/mesi.h"
#include "models/fabric/cxl.h"
#include "models/fabric/engine.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/model_fixture.h"

#define NS 1000ULL

static void build(const char *text) { mfx_build("coh.yaml", text); }
static void teardown(void) { mfx_teardown(); }
static void finish(void) { mfx_finish_at(SIM_TIME_MAX); }
static __attribute__((unused)) void finish_at(sim_time until) { mfx_finish_at(until); }
static sim_comp *C(const char *n) { return mfx_comp(n); }

/* 68 B flits, 32 GT/s x16: the time of `bytes` of payload posted in one direction. */
static double wire_ps(uint64_t bytes, int dir)
{
    cxl_cfg cfg = {CXL_FLIT_68, 32e9, 16};
    return cxl_wire_bytes(&cfg, FAB_OP_WRITE, bytes, dir) * 1e12 / cxl_raw_rate(&cfg);
}

/* A host with three CXL devices (two GPUs and a NIC), one cache each, and
 * the home directory on the host. */
static const char *three_dev =
    "name: t\ncomponents:\n"
    "  - {name: host, type: cpu, latency: 150 ns}\n"
    "  - {name: g0, type: endpoint}\n"
    "  - {name: g1, type: endpoint}\n"
    "  - {name: nic, type: endpoint}\n"
    "  - {name: d, type: mesi_dir, size: 4 KiB, network: fabric, node: host,"
    " memory_latency: 100 ns, verify: true}\n"
    "  - {name: A, type: mesi_cache, directory: d, node: g0, pattern: none}\n"
    "  - {name: B, type: mesi_cache, directory: d, node: g1, pattern: none}\n"
    "  - {name: N, type: mesi_cache, directory: d, node: nic, pattern: none}\n"
    "links:\n"
    "  - {name: l0, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, latency: 25 ns, ends: [g0, host]}\n"
    "  - {name: l1, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, latency: 25 ns, ends: [g1, host]}\n"
    "  - {name: l2, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, latency: 25 ns, ends: [nic, host]}\n";

/* Unloaded: a read miss from I costs GetS over the link, memory_latency,
 * Data back: (w(16) + 25 ns) + 100 ns + (w(80) + 25 ns), where w(b) is the
 * 68 B flit time of b payload bytes (16 B: one flit, 80 B: two). */
START_TEST(unloaded_miss_exact)
{
    build(three_dev);
    ck_assert_int_eq(mesi_cache_access(C("A"), 0, 0, 0), 0);
    finish();
    double want = wire_ps(16, FAB_DIR_DATA) + 25e3 + 100e3 + wire_ps(80, FAB_DIR_DATA) + 25e3;
    double got = capture_get(&cap, "A", "miss_latency_mean") * 1e12;
    ck_assert_msg(fabs(got - want) <= 2.0, "miss latency %.1f ps, formula %.1f ps", got, want);
    /* per direction: g0->host carried the GetS (16 B, 1 flit), host->g0 the Data (80 B, 2 flits) */
    fab_hdr *h = fab_hdr_of(C("l0"));
    ck_assert_uint_eq(h->res[0].bytes, 16);
    ck_assert_uint_eq(h->res[0].units, 1);
    ck_assert_uint_eq(h->res[1].bytes, 80);
    ck_assert_uint_eq(h->res[1].units, 2);
}
END_TEST

/* Several CXL.cache devices: B and N read line 0, A writes it. Counts
 * (Table 8.4): GetS 2, Fwd-GetS 1 (N's GetS finds B in E), GetM 1, Inv 2,
 * Inv-Ack 2, Data 4 (dir->B, B->N, B->dir, dir->A with ack count 2). The
 * Inv-Acks go device to device through the host (two hops each, plus the
 * root complex's 150 ns). Links: l1 (B) carries g1->host GetS, Data x2,
 * Inv-Ack = 16+80+80+16 B; host->g1 Data, Fwd-GetS, Inv = 80+16+16 B. */
START_TEST(three_devices_counts)
{
    build(three_dev);
    sim_comp *A = C("A"), *B = C("B"), *N = C("N"), *D = C("d");
    mesi_cache_access(B, 0, 0, 0);
    mesi_cache_access(N, 2000 * NS, 0, 0);
    mesi_cache_access(A, 4000 * NS, 0, 1);
    finish();
    ck_assert_uint_eq(mesi_dir_count(D, MESI_GETS), 2);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_FWD_GETS), 1);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_GETM), 1);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_INV), 2);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_INV_ACK), 2);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_DATA), 4);
    ck_assert_uint_eq(mesi_dir_errors(D), 0);
    ck_assert_int_eq(mesi_cache_state(A, 0), MESI_M);
    ck_assert_int_eq(mesi_cache_state(B, 0), MESI_I);
    ck_assert_int_eq(mesi_cache_state(N, 0), MESI_I);
    fab_hdr *h = fab_hdr_of(C("l1"));
    ck_assert_uint_eq(h->res[0].bytes, 16 + 80 + 80 + 16);
    ck_assert_uint_eq(h->res[1].bytes, 80 + 16 + 16);
    /* A's write: GetM up, Data(acks=2) down; the Inv-Acks: Inv down l1/l2 after
     * the directory, Inv-Ack up and across the host to g0. The miss ends with
     * the later of Data and the last Inv-Ack:
     *   Data: w16 + 25 + 100 + w80 + 25
     *   Ack:  w16 + 25 + (w16 + 25) [Inv] + (w16 + 25) + 150 + (w16 + 25) [Inv-Ack]
     *         + w16: B's and N's Inv-Acks reach the host together and queue
     *         on host->g0, the later one behind the other's flit */
    double w16 = wire_ps(16, 0), w80 = wire_ps(80, 0);
    double data = w16 + 25e3 + 100e3 + w80 + 25e3;
    double ack = w16 + 25e3 + 3 * (w16 + 25e3) + 150e3 + w16;
    double want = (data > ack ? data : ack);
    double got = capture_get(&cap, "A", "miss_latency_mean") * 1e12;
    ck_assert_msg(fabs(got - want) <= 5.0, "write miss %.1f ps, formula %.1f ps", got, want);
}
END_TEST

/* Directory occupancy 50 ns (ideal network, 10 ns per message, memory 0):
 * A and B send GetS at 0, both arrive at 10 ns; A is served 10-60, B
 * 60-110; their Data arrive at 70 and 120 ns. With queue: 2 a third
 * request (C) finds two messages and is Nacked: Nack at 20 ns, retry sent
 * at 120, arrives 130, served 130-180, Data at 190 ns. */
START_TEST(occupancy_and_queue)
{
    build("name: t\ncomponents:\n"
          "  - {name: d, type: mesi_dir, size: 4 KiB, latency: 10 ns, memory_latency: 0 ns,"
          " occupancy: 50 ns, queue: 2, retry: 100 ns, verify: true}\n"
          "  - {name: A, type: mesi_cache, directory: d, pattern: none}\n"
          "  - {name: B, type: mesi_cache, directory: d, pattern: none}\n"
          "  - {name: X, type: mesi_cache, directory: d, pattern: none}\n");
    sim_comp *D = C("d");
    mesi_cache_access(C("A"), 0, 0, 0);
    mesi_cache_access(C("B"), 0, 1, 0);
    mesi_cache_access(C("X"), 0, 2, 0);
    finish();
    ck_assert_double_eq_tol(capture_get(&cap, "A", "miss_latency_mean"), 70e-9, 1e-15);
    ck_assert_double_eq_tol(capture_get(&cap, "B", "miss_latency_mean"), 120e-9, 1e-15);
    ck_assert_double_eq_tol(capture_get(&cap, "X", "miss_latency_mean"), 190e-9, 1e-15);
    ck_assert_uint_eq(mesi_dir_stat(D, "nacks"), 1);
    ck_assert_uint_eq(mesi_dir_count_name(D, "Nack"), 1);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_GETS), 4); /* 3 + the retry */
    ck_assert_uint_eq(mesi_dir_count(D, MESI_DATA), 3);
    ck_assert_uint_eq(mesi_dir_errors(D), 0);
}
END_TEST

/* Snoop filter of 2 entries. A reads 0, 1 (E each); A reads 2: the filter
 * is full, entry 0 (cursor) is recalled: Fwd-GetM to A, A's Data to the
 * directory, 0 -> I, then 2 is granted. B reads 1: Fwd-GetS, S {A, B}. B
 * reads 3: full; the cursor is at 1: back-invalidate 1: Inv to A and B,
 * two Inv-Acks, then 3 granted. back_invalidations = 1 + 2, evictions 2. */
START_TEST(snoop_filter_back_invalidation)
{
    build("name: t\ncomponents:\n"
          "  - {name: d, type: mesi_dir, size: 4 KiB, latency: 10 ns, memory_latency: 0 ns,"
          " snoop_filter: 2, verify: true}\n"
          "  - {name: A, type: mesi_cache, directory: d, pattern: none}\n"
          "  - {name: B, type: mesi_cache, directory: d, pattern: none}\n");
    sim_comp *D = C("d"), *A = C("A"), *B = C("B");
    mesi_cache_access(A, 0, 0, 0);
    mesi_cache_access(A, 1000 * NS, 1, 0);
    mesi_cache_access(A, 2000 * NS, 2, 0);
    mesi_cache_access(B, 3000 * NS, 1, 0);
    mesi_cache_access(B, 4000 * NS, 3, 0);
    finish();
    ck_assert_uint_eq(mesi_dir_stat(D, "snoop_filter_evictions"), 2);
    ck_assert_uint_eq(mesi_dir_stat(D, "back_invalidations"), 3);
    ck_assert_uint_eq(mesi_dir_stat(D, "tracked"), 2);
    ck_assert_int_eq(mesi_cache_state(A, 0), MESI_I);
    ck_assert_int_eq(mesi_cache_state(A, 1), MESI_I);
    ck_assert_int_eq(mesi_cache_state(B, 1), MESI_I);
    ck_assert_int_eq(mesi_cache_state(A, 2), MESI_E);
    ck_assert_int_eq(mesi_cache_state(B, 3), MESI_E);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_GETS), 5);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_FWD_GETM), 1);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_FWD_GETS), 1);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_INV), 2);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_INV_ACK), 2);
    /* Data: 4 grants from I (0, 1, 2, 3) + recall + Fwd-GetS (to B and dir) */
    ck_assert_uint_eq(mesi_dir_count(D, MESI_DATA), 7);
    ck_assert_uint_eq(mesi_dir_errors(D), 0);
    ck_assert(mesi_dir_quiescent(D));
}
END_TEST

/* Software baselines: exact message counts. */
static void sw_build(const char *sync, int n)
{
    char text[4096];
    int off = snprintf(text, sizeof text,
                       "name: t\ncomponents:\n"
                       "  - {name: d, type: mesi_dir, size: 4 KiB, latency: 10 ns, sync: %s,"
                       " sync_period: 1 us}\n", sync);
    for (int i = 0; i < n; i++)
        off += snprintf(text + off, sizeof text - (size_t)off,
                        "  - {name: a%d, type: mesi_cache, directory: d, pattern: none}\n", i);
    build(text);
}

START_TEST(sw_notify_counts)
{
    /* one update by one of n = 5 actors: 4 notifications + 4 acks = 2(n-1) */
    sw_build("notify", 5);
    mesi_cache_access(C("a0"), 0, 0, 1);
    mesi_cache_access(C("a3"), 0, 1, 0); /* a load: local, no message */
    finish();
    sim_comp *D = C("d");
    ck_assert_uint_eq(mesi_dir_count_name(D, "SW-Notify"), 4);
    ck_assert_uint_eq(mesi_dir_count_name(D, "SW-Ack"), 4);
    ck_assert_uint_eq(mesi_dir_stat(D, "messages"), 8);
    /* the store waits for its last ack: 10 ns out + 10 ns back */
    ck_assert_double_eq_tol(capture_get(&cap, "a0", "miss_latency_mean"), 20e-9, 1e-15);
}
END_TEST

/* `replicas: 5` builds a0..a4 from one entry; `nodes:` places copy i on
 * the (i mod 3)-th of host g0 g1. Software notify, 40 accesses each, to
 * the end: every update costs exactly 2(n - 1) = 8 messages, and loads
 * none, so messages / updates = 8 exactly. */
START_TEST(replicas_and_nodes)
{
    char text[4096];
    snprintf(text, sizeof text, "%s",
             "name: r\nseed: 2\ncomponents:\n"
             "  - {name: host, type: cpu, latency: 150 ns}\n"
             "  - {name: g0, type: endpoint}\n  - {name: g1, type: endpoint}\n"
             "  - {name: d, type: mesi_dir, size: 4 KiB, network: fabric, node: host,"
             " sync: notify}\n"
             "  - {name: a, type: mesi_cache, replicas: 5, directory: d, nodes: \"host, g0 g1\","
             " pattern: shared, footprint: 1 KiB, write_ratio: 0.5, interval: 1 us,"
             " accesses: 40}\n"
             "links:\n"
             "  - {name: l0, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, latency: 25 ns,"
             " ends: [g0, host]}\n"
             "  - {name: l1, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, latency: 25 ns,"
             " ends: [g1, host]}\n");
    build(text);
    for (unsigned i = 0; i < 5; i++) {
        char nm[8];
        snprintf(nm, sizeof nm, "a%u", i);
        ck_assert_uint_eq(C(nm)->replica, i);
    }
    ck_assert_ptr_null(sim_find(S, "a5"));
    ck_assert_ptr_null(sim_find(S, "a"));
    finish();
    double upd = capture_get(&cap, "d", "messages_per_update");
    ck_assert_msg(upd == 8.0, "messages per update %.6f, want 8", upd);
    /* copies 1 and 4 sit on g0, 2 on g1: both links carried messages */
    ck_assert(capture_get(&cap, "l0", "wire_bytes:g0->host") > 0);
    ck_assert(capture_get(&cap, "l1", "wire_bytes:g1->host") > 0);
}
END_TEST

START_TEST(sw_all_to_all_counts)
{
    /* one round among n = 5: n(n-1) = 20 messages; a0 stored one line, so
     * its 4 carry 16 + 64 B, the other 16 are 16 B control messages */
    sw_build("all_to_all", 5);
    mesi_cache_access(C("a0"), 0, 0, 1);
    finish();
    sim_comp *D = C("d");
    ck_assert_uint_eq(mesi_dir_stat(D, "rounds"), 1);
    ck_assert_uint_eq(mesi_dir_count_name(D, "SW-Round"), 20);
    ck_assert_uint_eq(mesi_dir_stat(D, "bytes"), 4 * 80 + 16 * 16);
}
END_TEST

START_TEST(sw_server_counts)
{
    /* software directory: a1, a2 fetch line 0 (2 + 2), a0 updates it:
     * Update + Inv to a1, a2 + their acks + ack to a0 = 2 + 2k, k = 2 */
    sw_build("server", 3);
    mesi_cache_access(C("a1"), 0, 0, 0);
    mesi_cache_access(C("a2"), 0, 0, 0);
    mesi_cache_access(C("a0"), 1000 * NS, 0, 1);
    finish();
    sim_comp *D = C("d");
    ck_assert_uint_eq(mesi_dir_count_name(D, "SW-Fetch"), 2);
    ck_assert_uint_eq(mesi_dir_count_name(D, "SW-Data"), 2);
    ck_assert_uint_eq(mesi_dir_count_name(D, "SW-Update"), 1);
    ck_assert_uint_eq(mesi_dir_count_name(D, "SW-Inv"), 2);
    ck_assert_uint_eq(mesi_dir_count_name(D, "SW-Ack"), 3);
    ck_assert_uint_eq(mesi_dir_stat(D, "messages"), 10);
    /* update: 10 out, Inv 10, Ack 10, Ack 10 = 40 ns */
    ck_assert_double_eq_tol(capture_get(&cap, "a0", "miss_latency_mean"), 40e-9, 1e-15);
}
END_TEST

/* Messages per second with every actor updating at a fixed rate, n = 8..64:
 * the slope of log(messages/s) over log(n), least squares.
 *
 * Why n >= 8 for hardware coherence: each actor touches a given line of the
 * 256-line footprint every 256 us, and the other n-1 actors write it at
 * (n-1) x 0.5 / 256 per us, so the chance that nobody else wrote it since
 * my last access is exp(-(n-1)/2): 0.61 at n = 2, 0.22 at n = 4, < 0.03
 * from n = 8. Below that the messages per access still grow with n (hits
 * turn into coherence misses) and a fit over 2..32 gives 1.26; the run
 * (2 ms, eight reuse times) is long enough that cold misses do not
 * dominate (in 400 us, 2.4 reuse times of a 1024-line footprint, the fit
 * over 8..64 was 1.17); once every
 * access is a coherence miss, each costs a bounded number of messages (the
 * sharers of a line are the readers since its last write, about one at a
 * write ratio of 0.5), so the total grows as n: the exponent the issue
 * calls "near 1". Software notify costs 2(n-1) per update at every n. */
static double growth(const char *sync)
{
    static const int ns[] = {8, 16, 32, 64};
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int k = 0; k < 4; k++) {
        char text[32768];
        int off = snprintf(text, sizeof text,
                           "name: g\nseed: 5\nstop: 2 ms\ncomponents:\n"
                           "  - {name: d, type: mesi_dir, size: 64 KiB, latency: 20 ns,"
                           " memory_latency: 50 ns, sync: %s}\n", sync);
        for (int i = 0; i < ns[k]; i++)
            off += snprintf(text + off, sizeof text - (size_t)off,
                            "  - {name: a%d, type: mesi_cache, directory: d, pattern: shared,"
                            " footprint: 16 KiB, capacity: 1024, write_ratio: 0.5,"
                            " interval: 1 us}\n", i);
        build(text);
        ck_assert_int_eq(sim_run(S, 2000000 * NS), 0);
        double rate = (double)mesi_dir_stat(C("d"), "messages") / 2e-3;
        ck_assert_uint_eq(mesi_dir_errors(C("d")), 0);
        double x = log(ns[k]), y = log(rate);
        sx += x; sy += y; sxx += x * x; sxy += x * y;
    }
    return (4 * sxy - sx * sy) / (4 * sxx - sx * sx);
}

START_TEST(growth_exponents)
{
    double hw = growth("hardware"), sw = growth("notify");
    fprintf(stderr, "growth exponent: hardware %.3f, software notify %.3f\n", hw, sw);
    /* notify: n actors x rate x 2(n-1): the fit of n(n-1) over 8..64 is 2.07 */
    ck_assert_msg(sw > 1.9 && sw < 2.2, "software exponent %.3f", sw);
    ck_assert_msg(hw > 0.85 && hw < 1.15, "hardware exponent %.3f", hw);
}
END_TEST

/* Open loop: Poisson 4 KiB DMA writes from the device to the host on the
 * same CXL link (M/D/1 at rho = 0.5) slow the device's read misses by the
 * mean wait of its GetS there, Wq = rho S / (2 (1 - rho)), plus the wait
 * of its Data behind the writes' NDR slots in the other direction (those
 * never queue among themselves: S_ndr < S): rho_ndr S_ndr / 2. */
static double md1_run(int bulk)
{
    double S_ps = wire_ps(4096, FAB_DIR_DATA);
    char text[4096];
    snprintf(text, sizeof text,
             "name: md1\nseed: 3\nstop: 40 ms\n"
             "components:\n"
             "  - {name: host, type: cpu, dram_bandwidth: 10 TB/s}\n"
             "  - {name: acc, type: endpoint}\n"
             "  - {name: d, type: mesi_dir, size: 2 MiB, network: fabric, node: host,"
             " memory_latency: 1 us}\n"
             "  - {name: A, type: mesi_cache, directory: d, node: acc, pattern: producer_consumer,"
             " write_ratio: 0, footprint: 2 MiB, capacity: 32768, interval: 1 us}\n"
             "%s"
             "links:\n"
             "  - {name: l, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, latency: 25 ns,"
             " ends: [acc, host]}\n",
             bulk ? "  - {name: bulk, type: xfer, src: acc, dst: host, size: 4 KiB, path: dma,"
                    " count: 0, interarrival: %.3f ns}\n" : "");
    char text2[4096];
    snprintf(text2, sizeof text2, text, 2.0 * S_ps / 1e3);
    build(text2);
    finish_at(40000000 * NS);
    return capture_get(&cap, "A", "miss_latency_mean") * 1e12;
}

START_TEST(md1_contention)
{
    double S_ps = wire_ps(4096, FAB_DIR_DATA), rho = 0.5;
    double S_ndr = wire_ps(4096, FAB_DIR_REQ), rho_ndr = rho * S_ndr / S_ps;
    double want = rho * S_ps / (2 * (1 - rho)) + rho_ndr * S_ndr / 2;
    double base = md1_run(0), loaded = md1_run(1);
    double got = loaded - base;
    fprintf(stderr, "M/D/1: base %.1f ps, loaded %.1f ps, extra %.1f ps, predicted %.1f ps\n",
            base, loaded, got, want);
    ck_assert_msg(fabs(got - want) <= 0.05 * want, "extra %.1f ps vs M/D/1 %.1f ps", got, want);
}
END_TEST

/* Randomized stress: four caches on three devices and the host, a small
 * snoop filter, directory occupancy and a finite queue: SWMR and the data
 * value hold after every event (verify: true), and the run ends quiescent. */
START_TEST(stress_invariants)
{
    char text[4096];
    snprintf(text, sizeof text,
             "name: s\nseed: %d\ncomponents:\n"
             "  - {name: host, type: cpu}\n"
             "  - {name: g0, type: endpoint}\n"
             "  - {name: g1, type: endpoint}\n"
             "  - {name: sw, type: cxl_switch}\n"
             "  - {name: d, type: mesi_dir, size: 2 KiB, network: fabric, node: host,"
             " snoop_filter: 6, occupancy: 5 ns, queue: 2, retry: 50 ns, verify: true}\n"
             "  - {name: A, type: mesi_cache, directory: d, node: g0, pattern: shared,"
             " footprint: 2 KiB, capacity: 4, write_ratio: 0.4, interval: 30 ns, accesses: 400}\n"
             "  - {name: B, type: mesi_cache, directory: d, node: g1, pattern: migratory,"
             " footprint: 2 KiB, capacity: 4, interval: 30 ns, accesses: 400}\n"
             "  - {name: H, type: mesi_cache, directory: d, node: host, pattern: shared,"
             " footprint: 2 KiB, capacity: 8, write_ratio: 0.2, interval: 30 ns, accesses: 400}\n"
             "  - {name: G, type: mesi_cache, directory: d, node: g1, pattern: shared,"
             " footprint: 1 KiB, capacity: 2, write_ratio: 0.6, interval: 20 ns, accesses: 400}\n"
             "links:\n"
             "  - {name: u, type: cxl, flit: 256B, rate: 64 GT/s, lanes: 8, latency: 20 ns, ends: [host, sw]}\n"
             "  - {name: a, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 4, latency: 20 ns, ends: [sw, g0]}\n"
             "  - {name: b, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 4, latency: 20 ns, ends: [sw, g1]}\n",
             _i + 1);
    build(text);
    finish();
    sim_comp *D = C("d");
    ck_assert_uint_eq(mesi_dir_errors(D), 0);
    ck_assert(mesi_dir_check(D));
    ck_assert_msg(mesi_dir_quiescent(D), "not quiescent");
    ck_assert_uint_eq(mesi_dir_stat(D, "loads") + mesi_dir_stat(D, "stores"), 400 * 3 + 800);
    ck_assert_uint_gt(mesi_dir_stat(D, "back_invalidations"), 0);
}
END_TEST

/* Bad input: build or start fails with the node's line and column. */
static void bad(const char *text, const char *needle, int line) { mfx_bad(text, needle, line); }

START_TEST(errors)
{
    bad("name: b\ncomponents:\n  - {name: d, type: mesi_dir,\n     snoop_filter: 0}\n",
        "snoop filter needs at least 1 line", 4);
    bad("name: b\ncomponents:\n  - {name: h, type: cpu}\n"
        "  - {name: d, type: mesi_dir, network: fabric, node: nowhere}\n",
        "needs `node:`", 4);
    /* two hosts, no shared CXL memory between them */
    bad("name: b\ncomponents:\n  - {name: h0, type: cpu}\n  - {name: h1, type: cpu}\n"
        "  - {name: d, type: mesi_dir, network: fabric, node: h0}\n"
        "  - {name: A, type: mesi_cache, directory: d, pattern: none,\n     node: h1}\n",
        "coherence domain spanning hosts", 7);
    bad("name: b\ncomponents:\n  - {name: d, type: mesi_dir}\n"
        "  - {name: a, type: mesi_cache, directory: d,\n     replicas: 0}\n",
        "replicas must be 1..", 5);
    bad("name: b\ncomponents:\n  - {name: h, type: cpu}\n"
        "  - {name: d, type: mesi_dir, network: fabric, node: h}\n"
        "  - {name: a, type: mesi_cache, directory: d, replicas: 2, node: h,\n"
        "     nodes: \"h h\"}\n",
        "not both", 6);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cohfab");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, NULL, teardown);
    tcase_set_timeout(core, 600);
    tcase_add_test(core, unloaded_miss_exact);
    tcase_add_test(core, three_devices_counts);
    tcase_add_test(core, occupancy_and_queue);
    tcase_add_test(core, snoop_filter_back_invalidation);
    tcase_add_test(core, replicas_and_nodes);
    tcase_add_test(core, sw_notify_counts);
    tcase_add_test(core, sw_all_to_all_counts);
    tcase_add_test(core, sw_server_counts);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_checked_fixture(lim, NULL, teardown);
    tcase_set_timeout(lim, 900);
    tcase_add_test(lim, growth_exponents);
    tcase_add_test(lim, md1_contention);
    tcase_add_loop_test(lim, stress_invariants, 0, 4);
    suite_add_tcase(s, lim);
    TCase *er = tcase_create("Errors");
    tcase_add_checked_fixture(er, NULL, teardown);
    tcase_add_test(er, errors);
    suite_add_tcase(s, er);
    return check_main(s);
}
