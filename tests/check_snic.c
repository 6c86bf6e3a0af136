/*
 * check_snic.c - the SmartNIC on the KV path (issue 11): semantic routing of
 * KV messages on the receiving rnic (a match-action table of sessions, LRU)
 * against the host receive path (path rdma_host: NIC -> host DRAM, the host
 * network stack on net_cores, a copy to the GPU).
 *
 * Scenario (every test): two nodes h-sw-{g, n} on PCIe Gen5, NICs on 400 Gb/s
 * RoCE links through a net_switch; the xfer sends g0 -> g1 and n1 is the
 * receiving NIC (semantic_routing on it), h1 its host.
 *
 * References and formulas (each test repeats the one it uses):
 *   - Host network-stack cost model (rnic.h / paths.c host_receive, the
 *     usual per-packet + per-byte + per-message decomposition of receive
 *     processing: Clark, Jacobson, Romkey, Salwen, "An analysis of TCP
 *     processing overhead", IEEE Comm. 1989; Kalia et al. ATC'16 for verbs):
 *     CPU time of a message of b bytes = (ceil(b / mtu) x cpp + b x cpb +
 *     route_cycles) / hz, plus launch_cpu for the copy to the GPU.
 *   - Host stack capacity with c cores: a message costs the cycles above on
 *     one core, so c x hz / cycles(message) messages/s (about
 *     c x hz / (cpp / mtu + cpb) B/s for large messages).
 *   - Staging through host memory: a received byte is written into DRAM by
 *     the NIC and read out of it by the copy: 2 DRAM crossings per byte.
 *   - Store-and-forward of a one-unit chunk (engine.h): a chunk no larger
 *     than every step's forwarding unit waits its full service at each
 *     step, so an uncontended latency is the sum of (service + latency) of
 *     its itinerary and the difference of two itineraries is the sum over
 *     the steps they do not share.
 *   - LRU under the independent reference model with uniform popularity:
 *     with C entries and S >= C equally likely keys, whatever the
 *     replacement policy, the cache holds C of the S keys and the next
 *     reference hits with probability C/S (Che, Tung, Wang, IEEE JSAC 2002;
 *     King 1971: the characteristic-time approximation is exact for uniform
 *     popularity). With S <= C only the S compulsory misses remain.
 *   - Open-loop single station above capacity (lambda > mu): the backlog
 *     grows as (lambda - mu) t, so a run of 4x the length ends with about
 *     4x the backlog and 4x the latency; below capacity latency does not
 *     depend on the run length.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "models/fabric/fabric.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"

static capture cap;
static sim_time end_ps;     /* simulated time at the end of the last run */
static unsigned preplace;   /* sessions 1..preplace placed on g1 before the run */

/* Build, start, (pre-place sessions), run, finish. Returns the build/start code. */
static void place_sessions(sim *s)
{
    if (preplace) {
        sim_comp *g = sim_find(s, "g1");
        ck_assert(g);
        for (unsigned i = 1; i <= preplace; i++)
            ck_assert_int_eq(fabric_kv_place(s, g->id, i), 0);
    }
}

static void keep_end(sim *s) { end_ps = sim_now(s); }

static int run_text(const char *text, sim_err *err)
{
    capture_opts o = {.to_stop = 1, .started = place_sessions, .ran = keep_end};
    return capture_run(&cap, text, &o, err);
}

static double get(const char *scope, const char *name) { return capture_must(&cap, scope, name); }

static double link_bytes(const char *dir)
{
    for (int i = 0; i < cap.nlinks; i++)
        if (strcmp(cap.link_dir[i], dir) == 0)
            return (double)cap.link_bytes[i];
    return -1;
}

/* The two-node scenario. stop: "" (run until empty) or e.g. "10 ms";
 * h1, g1, n1: extra parameters of those components (", key: value...");
 * x: the xfer's parameters. `pre` sessions are placed on g1 first. */
static void snic_text(char *text, size_t cap_, const char *stop, const char *h1, const char *g1,
                      const char *n1, const char *x)
{
    int n = snprintf(
        text, cap_,
        "name: snic\nseed: 1\n%s%s%s"
        "components:\n"
        "  - {name: fabric, type: fabric, chunk: 64 KiB}\n"
        "  - {name: h0, type: cpu}\n"
        "  - {name: sw0, type: pcie_switch}\n"
        "  - {name: g0, type: gpu}\n"
        "  - {name: n0, type: rnic}\n"
        "  - {name: h1, type: cpu, net_cores: 8%s}\n"
        "  - {name: sw1, type: pcie_switch}\n"
        "  - {name: g1, type: gpu%s}\n"
        "  - {name: n1, type: rnic%s}\n"
        "  - {name: tor, type: net_switch}\n"
        "  - {name: x, type: xfer, %s}\n"
        "links:\n"
        "  - {name: p0, type: pcie, gen: 5, ends: [h0, sw0]}\n"
        "  - {name: p0g, type: pcie, gen: 5, ends: [sw0, g0]}\n"
        "  - {name: p0n, type: pcie, gen: 5, ends: [sw0, n0]}\n"
        "  - {name: p1, type: pcie, gen: 5, ends: [h1, sw1]}\n"
        "  - {name: p1g, type: pcie, gen: 5, ends: [sw1, g1]}\n"
        "  - {name: p1n, type: pcie, gen: 5, ends: [sw1, n1]}\n"
        "  - {name: e0, type: ethernet, speed: 400 Gb/s, ends: [n0, tor]}\n"
        "  - {name: e1, type: ethernet, speed: 400 Gb/s, ends: [tor, n1]}\n",
        *stop ? "stop: " : "", stop, *stop ? "\n" : "", h1, g1, n1, x);
    ck_assert((size_t)n < cap_);
}

static void snic_run(const char *stop, const char *h1, const char *g1, const char *n1,
                     const char *x, unsigned pre)
{
    char text[4096];
    sim_err err;
    snic_text(text, sizeof text, stop, h1, g1, n1, x);
    preplace = pre;
    int rc = run_text(text, &err);
    preplace = 0;
    ck_assert_msg(rc == 0, "%d:%d: %s", err.line, err.col, err.msg);
}

/* Host defaults (devices.c cpu): 3 GHz, 1000 cycles/packet, 0.5 cycle/B,
 * 2000 cycles per routing decision, launch_cpu 2 us; rnic mtu 4096 B. */
#define HZ 3e9
#define CPP 1000.0
#define CPB 0.5
#define ROUTE 2000.0
#define LAUNCH 2e-6
#define MTU 4096.0

/* The cost model's host CPU seconds for one received message of b bytes. */
static double host_cpu(double b)
{
    return (ceil(b / MTU) * CPP + b * CPB + ROUTE) / HZ + LAUNCH;
}

/* ---- 1. host DRAM bytes and host CPU: hits vs the host path ------------- */

/* Semantic routing, every message a table hit: 64 sessions placed on g1
 * before the run (table 256 >= 64: nothing evicted), 200 messages of 1 MiB
 * over sessions 1..64, 4 outstanding, run to empty. A hit is DMAed peer to
 * peer NIC -> PCIe switch -> GPU: h1's DRAM carries 0 B and h1 spends 0 s of
 * CPU (no stack, no copy launch); all 200 MiB reach g1's HBM; the lookups
 * are 200 hits, 0 misses. The placements are one table_update (64 B) PCIe
 * write each h1 -> n1: 64 x 64 B on h1->sw1 and 64 table updates. */
START_TEST(hits_bypass_host)
{
    const double N = 200, B = 1048576;
    snic_run("", "", "", ", semantic_routing: true, table_entries: 256",
             "src: g0, dst: g1, size: 1 MiB, path: rdma, count: 200, outstanding: 4,"
             " sessions: 64",
             64);
    ck_assert_double_eq(get("x", "transfers"), N);
    ck_assert_double_eq(get("n1", "table_lookups"), N);
    ck_assert_double_eq(get("n1", "table_hits"), N);
    ck_assert_double_eq(get("n1", "table_misses"), 0);
    ck_assert_double_eq(get("n1", "arm_packets"), 0);
    ck_assert_double_eq(get("h1", "dram_bytes"), 0);
    ck_assert_double_eq(get("h1", "cpu_time"), 0);
    ck_assert_double_eq(get("h1", "netstack_packets"), 0); /* no host work on table hits */
    ck_assert_double_eq(get("fabric", "host_memory_bytes:rdma"), 0);
    ck_assert_double_eq(get("g1", "hbm_bytes"), N * B);
    ck_assert_double_eq(get("n1", "table_updates"), 64);
    ck_assert_double_eq(link_bytes("h1->sw1"), 64.0 * 64);
}
END_TEST

/* The host path (rdma_host), 20 messages of 1 000 000 B (not a multiple of
 * the 4096 B MTU: ceil(1e6 / 4096) = 245 packets), 4 outstanding, drained:
 *   h1 DRAM bytes = 2 x 20 x 1e6 (the NIC's write + the copy's read);
 *   stack packets = 20 x 245, stack bytes = 20 x 1e6 (exact);
 *   h1 CPU time = 20 x ((245 x 1000 + 1e6 x 0.5 + 2000) / 3e9 + 2 us)
 *              = 20 x 251 us = 5.02 ms (relative 1e-12: double sums);
 *   stack core-seconds = the same minus the launches, within 1e-6 (each
 *   chunk's service is rounded to whole ps: 1000 cycles = 333 333 ps). */
START_TEST(host_path_cost_model)
{
    const double N = 20, B = 1e6;
    snic_run("", "", "", "", "src: g0, dst: g1, size: 1000000 B, path: rdma_host, count: 20,"
                             " outstanding: 4", 0);
    ck_assert_double_eq(get("x", "transfers"), N);
    ck_assert_double_eq(get("h1", "dram_bytes"), 2 * N * B);
    ck_assert_double_eq(get("fabric", "host_memory_bytes:rdma_host"), 2 * N * B);
    ck_assert_double_eq(get("h1", "netstack_packets"), N * 245);
    ck_assert_double_eq(get("h1", "netstack_bytes"), N * B);
    double want = N * host_cpu(B);
    ck_assert_msg(fabs(want - 5.02e-3) < 1e-12, "cost model arithmetic: %.12g", want);
    capture_close(get("h1", "cpu_time"), want, 1e-12, "h1 CPU time (cost model)");
    capture_close(get("h1", "netstack_core_seconds"), want - N * LAUNCH, 1e-6,
                  "stack core-seconds");
    /* the sender's host pays only its posts (post_cpu 300 ns) */
    capture_close(get("h0", "cpu_time"), N * 300e-9, 1e-12, "h0 CPU time");
}
END_TEST

/* ---- 2. one message alone: host path - hit = stack + copy (+ landing) --- */

/* One message of 256 B, closed loop, count 1. 256 B is at most every step's
 * forwarding unit (a PCIe TLP of MPS 256 B, 4 KiB elsewhere), so each step
 * is store-and-forward and an uncontended latency is the sum over the
 * itinerary of (service + latency) (engine.h). The host path differs from
 * a hit only after the NIC -> switch hop:
 *   hit:  sw1 -> g1 (p1g, write), g1 HBM write
 *   host: sw1 -> h1 (p1, write), h1 DRAM write, stack, [the copy h1 -> g1:
 *         read request g1 -> sw1 -> h1, DRAM read, completion h1 -> sw1 ->
 *         g1, HBM write]
 * p1 and p1g are identical links (same service), and the bracket is
 * exactly the itinerary of a separate xfer h1 -> g1 (path dma, GPU copy
 * engine pulls), so
 *   L_host - L_hit = S_stack + L_copy + D_land, where
 *   S_stack = 1 packet x 333 333 ps + 256 B / (3e9 / 0.5 B/s) = 42 667 ps
 *             + route 666 667 ps = 1 042 667 ps (the modelled processing),
 *   D_land  = (h1 entry 150 ns + 256 B / 200 GB/s + DRAM 90 ns)
 *           - (g1 entry 0 ns + 256 B / 3.35 TB/s + HBM 100 ns)
 *           = (150 000 + 1 280 + 90 000) - (0 + 76 + 100 000) = 141 204 ps
 *             (landing in DRAM instead of HBM; parameters written out).
 * Exact to 2 ps (one rounding per step). Also: a hit costs no time (the
 * lookup is in the match-action pipeline at line rate): L_hit equals the
 * latency with semantic_routing off. */
static const char *const H1P = ", latency: 150 ns, dram_bandwidth: 200 GB/s, dram_latency: 90 ns";
static const char *const G1P = ", latency: 0 ns, hbm_bandwidth: 3.35 TB/s, hbm_latency: 100 ns";

START_TEST(one_message_host_minus_hit)
{
    snic_run("", H1P, G1P, ", semantic_routing: true",
             "src: g0, dst: g1, size: 256 B, path: rdma, count: 1, sessions: 1", 1);
    ck_assert_double_eq(get("n1", "table_hits"), 1);
    long long hit = llround(get("x", "latency_mean") * 1e12);
    snic_run("", H1P, G1P, "", "src: g0, dst: g1, size: 256 B, path: rdma, count: 1", 0);
    long long plain = llround(get("x", "latency_mean") * 1e12);
    ck_assert_msg(hit == plain, "hit %lld ps, plain GPUDirect %lld ps", hit, plain);
    snic_run("", H1P, G1P, "", "src: g0, dst: g1, size: 256 B, path: rdma_host, count: 1", 0);
    long long host = llround(get("x", "latency_mean") * 1e12);
    long long stack = llround(get("h1", "netstack_core_seconds") * 1e12);
    snic_run("", H1P, G1P, "", "src: h1, dst: g1, size: 256 B, path: dma, count: 1", 0);
    long long copy = llround(get("x", "latency_mean") * 1e12);
    long long s_stack = 333333 + llround(256 * 1e12 / (HZ / CPB)) + 666667;
    ck_assert_int_eq(s_stack, 1042667);
    ck_assert_msg(llabs(stack - s_stack) <= 1, "stack service %lld ps, model %lld", stack,
                  s_stack);
    long long d_land = (150000 + llround(256e12 / 200e9) + 90000) -
                       (0 + llround(256e12 / 3.35e12) + 100000);
    ck_assert_int_eq(d_land, 141204);
    long long want = s_stack + copy + d_land;
    ck_assert_msg(llabs((host - hit) - want) <= 2,
                  "host %lld - hit %lld = %lld ps; stack %lld + copy %lld + landing %lld = %lld",
                  host, hit, host - hit, s_stack, copy, d_land, want);
}
END_TEST

/* ---- 3. saturation: host stack vs semantic routing ---------------------- */

/* Open loop, Poisson 40 000 messages/s of 1 MiB (41.9 GB/s offered), 64
 * sessions. Host stack capacity, 8 cores at 3 GHz, 256 packets + 1 MiB x
 * 0.5 + 2000 = 782 288 cycles a message: mu = 8 x 3e9 / 782 288 =
 * 30 679 messages/s = 32.2 GB/s < offered: rho = 1.30. The NIC path's limit
 * is the 400 GbE RoCE goodput, 49.0 GB/s (check_netfabric), above the
 * offered load (rho = 0.855), and n1's 215 Mpps pipeline is far above the
 * 10.2 Mpps offered.
 *   rdma_host: stack cores busy -> 8 (>= 7.9 of 8 over 40 ms: saturated
 *     from the first ms); completions = mu x T within 2% (the station
 *     serves at capacity); the backlog grows ~ (lambda - mu) T: the 40 ms
 *     run ends with >= 3x the unfinished messages of the 10 ms run (theory
 *     4x: 93 vs 373; seed 1 gives 100 vs 363) and its p99 latency is
 *     >= 2.5x: a message completed by T arrived by T mu/lambda and waited
 *     at most T (1 - mu/lambda) at the QP gate, plus about one QP window
 *     of service (16 messages share the stack round-robin: w = 16 / mu =
 *     0.52 ms): (40 x 0.233 + 0.52) / (10 x 0.233 + 0.52) = 3.4x (seed 1:
 *     3.03 ms and 9.12 ms, 3.0x).
 *   rdma with semantic routing (all hits, sessions pre-placed): p99 of the
 *     40 ms run within 25% of the 10 ms run's (flat: a stable queue); at
 *     the end at most one QP window (16 messages) unfinished: the NIC
 *     carries the offered load; and h1 does no work. */
static void sat(const char *stop, int host, double *p99, double *unfinished, double *done)
{
    char x[256];
    snprintf(x, sizeof x,
             "src: g0, dst: g1, size: 1 MiB, path: %s, rate: 40000, sessions: 64, count: 0",
             host ? "rdma_host" : "rdma");
    snic_run(stop, "", "", ", semantic_routing: true, table_entries: 256", x, host ? 0 : 64);
    *p99 = get("x", "latency_p99");
    *unfinished = get("fabric", "unfinished_transfers");
    *done = get("x", "transfers");
}

START_TEST(host_stack_saturates)
{
    double p10, u10, d10, p40, u40, d40;
    const double mu = 8 * HZ / (256 * CPP + 1048576 * CPB + ROUTE);
    sat("10 ms", 1, &p10, &u10, &d10);
    sat("40 ms", 1, &p40, &u40, &d40);
    double busy = get("h1", "netstack_cores_busy");
    ck_assert_msg(busy >= 7.9 && busy <= 8.0 + 1e-9, "stack cores busy %.4f of 8", busy);
    capture_close(d40, mu * 0.040, 0.02, "host path completions at capacity");
    ck_assert_msg(u40 >= 3 * u10 && u10 > 0, "backlog 10 ms %.0f, 40 ms %.0f", u10, u40);
    ck_assert_msg(p40 >= 2.5 * p10, "host p99 10 ms %.6g s, 40 ms %.6g s", p10, p40);
}
END_TEST

START_TEST(semantic_holds_load)
{
    double p10, u10, d10, p40, u40, d40;
    sat("10 ms", 0, &p10, &u10, &d10);
    sat("40 ms", 0, &p40, &u40, &d40);
    ck_assert_double_eq(get("n1", "table_misses"), 0);
    ck_assert_double_eq(get("h1", "dram_bytes"), 0);
    ck_assert_double_eq(get("h1", "cpu_time"), 0);
    ck_assert_msg(u40 <= 16 && u10 <= 16, "unfinished 10 ms %.0f, 40 ms %.0f", u10, u40);
    ck_assert_msg(p40 <= 1.25 * p10 && p10 <= 1.25 * p40, "rdma p99 10 ms %.6g s, 40 ms %.6g s",
                  p10, p40);
    /* more than the host stack could have carried in the same 40 ms */
    const double mu = 8 * HZ / (256 * CPP + 1048576 * CPB + ROUTE);
    ck_assert_msg(d40 > 1.15 * mu * 0.040, "rdma completed %.0f, host capacity %.0f", d40,
                  mu * 0.040);
}
END_TEST

/* ---- 4. table miss ratio ------------------------------------------------ */

/* C = 256 entries, S sessions uniform, 50 000 messages of 4 KiB (closed
 * loop, 8 outstanding, misses to the Arm cores). IRM + uniform popularity:
 * miss ratio 1 - C/S (0.75 for S = 1024, 0.5 for S = 512) within 2%
 * (sampling sd ~ 0.002, warm-up adds ~ +0.001). Exact bookkeeping: lookups
 * = hits + misses = 50 000; every miss installs (updates = misses); once
 * full, every install evicts one (evictions = misses - C). */
static void miss_run(unsigned C, unsigned S, unsigned N)
{
    char n1[128], x[256];
    snprintf(n1, sizeof n1, ", semantic_routing: true, table_entries: %u", C);
    snprintf(x, sizeof x,
             "src: g0, dst: g1, size: 4 KiB, path: rdma, count: %u, outstanding: 8,"
             " sessions: %u",
             N, S);
    snic_run("", "", "", n1, x, 0);
    ck_assert_double_eq(get("x", "transfers"), N);
    ck_assert_double_eq(get("n1", "table_lookups"), N);
    ck_assert_double_eq(get("n1", "table_hits") + get("n1", "table_misses"), N);
    ck_assert_double_eq(get("n1", "table_updates"), get("n1", "table_misses"));
}

static const unsigned miss_S[] = {1024, 512};

START_TEST(miss_ratio_lru_uniform)
{
    const unsigned C = 256, S = miss_S[_i], N = 50000;
    miss_run(C, S, N);
    double want = 1.0 - (double)C / S;
    capture_close(get("n1", "table_miss_ratio"), want, 0.02, "LRU miss ratio vs 1 - C/S");
    ck_assert_double_eq(get("n1", "table_evictions"), get("n1", "table_misses") - C);
}
END_TEST

/* S = 200 <= C = 256: only compulsory misses: exactly 200 (each session's
 * first reference; P(some session never drawn in 50 000) < 200 e^-250),
 * no eviction, hits = 49 800. */
START_TEST(miss_compulsory_only)
{
    miss_run(256, 200, 50000);
    ck_assert_double_eq(get("n1", "table_misses"), 200);
    ck_assert_double_eq(get("n1", "table_hits"), 49800);
    ck_assert_double_eq(get("n1", "table_evictions"), 0);
}
END_TEST

/* ---- 5. the slow path of misses ----------------------------------------- */

/* Table 64, 128 sessions, 400 messages of 100 000 B (ceil(100000 / 4096)
 * = 25 packets: chunks of 64 KiB = 16 packets + 34 464 B = 9 packets), 4
 * outstanding.
 *   miss_path arm: every miss crosses the Arm pool packet by packet:
 *     arm_packets = misses x 25 exactly, arm core-seconds = arm_packets x
 *     arm_packet_time (500 ns); h1 untouched (0 B DRAM, 0 s CPU).
 *   miss_path host: the misses (only) take the host path: stack packets =
 *     misses x 25, stack bytes = misses x 1e5, h1 DRAM = 2 x misses x 1e5,
 *     h1 CPU = misses x cost model; the Arm pool idle. */
static const char *const x_slow = "src: g0, dst: g1, size: 100000 B, path: rdma, count: 400,"
                                  " outstanding: 4, sessions: 128";

START_TEST(miss_path_arm)
{
    snic_run("", "", "", ", semantic_routing: true, table_entries: 64, miss_path: arm", x_slow,
             0);
    double m = get("n1", "table_misses");
    ck_assert_msg(m > 64 && m < 400, "misses %.0f", m);
    ck_assert_double_eq(get("n1", "arm_packets"), m * 25);
    capture_close(get("n1", "arm_core_seconds"), m * 25 * 500e-9, 1e-12, "Arm core-seconds");
    ck_assert_double_eq(get("h1", "dram_bytes"), 0);
    ck_assert_double_eq(get("h1", "cpu_time"), 0);
    ck_assert_double_eq(get("h1", "netstack_packets"), 0); /* reported, 0: no host work */
}
END_TEST

START_TEST(miss_path_host)
{
    snic_run("", "", "", ", semantic_routing: true, table_entries: 64, miss_path: host", x_slow,
             0);
    double m = get("n1", "table_misses");
    ck_assert_msg(m > 64 && m < 400, "misses %.0f", m);
    ck_assert_double_eq(get("n1", "arm_packets"), 0);
    ck_assert_double_eq(get("h1", "netstack_packets"), m * 25);
    ck_assert_double_eq(get("h1", "netstack_bytes"), m * 1e5);
    ck_assert_double_eq(get("h1", "dram_bytes"), 2 * m * 1e5);
    capture_close(get("h1", "cpu_time"), m * host_cpu(1e5), 1e-12, "h1 CPU time of the misses");
}
END_TEST

/* ---- 6. errors ---------------------------------------------------------- */

/* Build errors with the position of the offending value (line:col of the
 * scenario text; line 12 is n1 in snic_text with no stop line). */
static void expect_error(const char *text, const char *needle, int line)
{
    sim_err err;
    int rc = run_text(text, &err);
    ck_assert_msg(rc != 0, "expected an error naming '%s'", needle);
    ck_assert_msg(strstr(err.msg, needle), "error '%s' does not name '%s'", err.msg, needle);
    ck_assert_msg(err.line == line && err.col > 0, "error at %d:%d, want line %d (%s)", err.line,
                  err.col, line, err.msg);
}

static const char *const x_one = "src: g0, dst: g1, size: 1 MiB, path: rdma, count: 1";

START_TEST(error_table_entries_zero)
{
    char text[4096];
    snic_text(text, sizeof text, "", "", "", ", semantic_routing: true, table_entries: 0", x_one);
    ck_assert(strstr(text, "table_entries: 0"));
    expect_error(text, "table_entries", 12);
    /* the column is the value's */
    sim_err err;
    run_text(text, &err);
    const char *ln = text;
    for (int i = 1; i < 12; i++)
        ln = strchr(ln, '\n') + 1;
    int col = (int)(strstr(ln, "table_entries: 0") - ln) + 1 + (int)strlen("table_entries: ");
    ck_assert_msg(err.col == col, "column %d, want %d", err.col, col);
}
END_TEST

START_TEST(error_unknown_miss_path)
{
    char text[4096];
    snic_text(text, sizeof text, "", "", "", ", semantic_routing: true, miss_path: nic", x_one);
    expect_error(text, "miss_path", 12);
}
END_TEST

/* g1 hangs off a host h2 that has no rnic and no network link: no rnic
 * reaches g1 over PCIe, so path rdma to it cannot be planned: the xfer's
 * line (13 here) is named. */
START_TEST(error_gpu_not_behind_rnic)
{
    const char *text =
        "name: e\n"
        "components:\n"
        "  - {name: fabric, type: fabric}\n"
        "  - {name: h0, type: cpu}\n"
        "  - {name: sw0, type: pcie_switch}\n"
        "  - {name: g0, type: gpu}\n"
        "  - {name: n0, type: rnic}\n"
        "  - {name: h1, type: cpu}\n"
        "  - {name: n1, type: rnic, semantic_routing: true}\n"
        "  - {name: h2, type: cpu}\n"
        "  - {name: g1, type: gpu}\n"
        "  - {name: tor, type: net_switch}\n"
        "  - {name: x, type: xfer, src: g0, dst: g1, size: 1 MiB, path: rdma, count: 1}\n"
        "links:\n"
        "  - {name: p0, type: pcie, gen: 5, ends: [h0, sw0]}\n"
        "  - {name: p0g, type: pcie, gen: 5, ends: [sw0, g0]}\n"
        "  - {name: p0n, type: pcie, gen: 5, ends: [sw0, n0]}\n"
        "  - {name: p1n, type: pcie, gen: 5, ends: [h1, n1]}\n"
        "  - {name: p2g, type: pcie, gen: 5, ends: [h2, g1]}\n"
        "  - {name: e0, type: ethernet, speed: 400 Gb/s, ends: [n0, tor]}\n"
        "  - {name: e1, type: ethernet, speed: 400 Gb/s, ends: [tor, n1]}\n";
    expect_error(text, "rnic", 13);
}
END_TEST

/* The command line: exit status 2 and file:line:col on stderr. */
START_TEST(error_cli_exit_2)
{
    const char *bin = getenv("MEMFAB_BIN");
    if (!bin || !*bin)
        return; /* run by make test-only, which sets it */
    char text[4096], path[256], out[1024];
    snic_text(text, sizeof text, "", "", "", ", semantic_routing: true, table_entries: 0", x_one);
    int st = capture_cli_check(bin, text, path, out, sizeof out);
    ck_assert_msg(st == 2, "exit %d: %s", st, out);
    char want[300];
    snprintf(want, sizeof want, "%s:12:", path);
    ck_assert_msg(strstr(out, want) && strstr(out, "table_entries"), "stderr: %s", out);
}
END_TEST

static Suite *snic_suite(void)
{
    Suite *s = suite_create("snic");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, hits_bypass_host);
    tcase_add_test(core, host_path_cost_model);
    tcase_add_test(core, one_message_host_minus_hit);
    tcase_add_test(core, miss_path_arm);
    tcase_add_test(core, miss_path_host);
    tcase_set_timeout(core, 120);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, host_stack_saturates);
    tcase_add_test(lim, semantic_holds_load);
    tcase_add_loop_test(lim, miss_ratio_lru_uniform, 0, 2);
    tcase_add_test(lim, miss_compulsory_only);
    tcase_set_timeout(lim, 300);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_test(errs, error_table_entries_zero);
    tcase_add_test(errs, error_unknown_miss_path);
    tcase_add_test(errs, error_gpu_not_behind_rnic);
    tcase_add_test(errs, error_cli_exit_2);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(snic_suite());
}
