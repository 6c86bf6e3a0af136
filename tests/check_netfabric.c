/*
 * check_netfabric.c - network fabric: net_switch latency, incast with drops
 * and PFC, RDMA data paths (GPUDirect RDMA, staged, message rate), ECMP over
 * a leaf-spine, and the build errors of network scenarios.
 *
 * References and formulas (each test repeats the one it uses):
 *   - Ethernet framing (IEEE 802.3-2022 cl. 3, 4): a frame costs its MAC
 *     client data + 14 B header + 4 B FCS + 8 B preamble/SFD + 12 B IFG;
 *     400GBASE-R raw rate = 400e9 / 8 B/s (ethernet.h; wire arithmetic from
 *     eth_wire_bytes_at, eth_mtu_efficiency, eth_model_bw).
 *   - Store-and-forward switch latency: s + p + L + s + p; cut-through:
 *     h + p + L + s + p with h the cut_through_bytes share of the first
 *     serialization (netswitch.h, engine.h: u = s x unit / bytes).
 *   - Jain's fairness index J = (sum x)^2 / (n sum x^2) (Jain, Chiu, Hawe,
 *     DEC-TR-301, 1984).
 *   - PFC: IEEE 802.1Qbb - lossless, pauses instead of drops.
 *   - RDMA: GPUDirect RDMA moves no host DRAM bytes; staged RDMA crosses
 *     each host's DRAM twice (rnic.h); a NIC pipeline costs 1/message_rate
 *     per message + 1/packet_rate per packet (rnic.h, Kalia et al. ATC'16).
 *   - ECMP (RFC 2992): flows hashed uniformly over equal-cost next hops.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/fabric/engine.h"
#include "models/fabric/ethernet.h"
#include "models/fabric/fabric.h"
#include "models/fabric/pcie.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"

static capture cap;
static sim_time end_ps; /* simulated time at the end of the last run */

/* Build, start, run, finish. Returns the build/start code. */
static void keep_end(sim *s) { end_ps = sim_now(s); }

static int run_text(const char *text, sim_err *err)
{
    capture_opts o = {.ran = keep_end};
    return capture_run(&cap, text, &o, err);
}

static void run_ok(const char *text)
{
    sim_err err;
    int rc = run_text(text, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
}

static double get(const char *scope, const char *name) { return capture_must(&cap, scope, name); }

/* Bytes of the links row of direction `dir` ("a->b"), or -1. */
static double link_bytes(const char *dir)
{
    for (int i = 0; i < cap.nlinks; i++)
        if (strcmp(cap.link_dir[i], dir) == 0)
            return (double)cap.link_bytes[i];
    return -1;
}

static double jain(const double *x, int n)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        s += x[i];
        s2 += x[i] * x[i];
    }
    return s * s / (n * s2);
}

/* ---- 1. latency of one message across one net_switch ------------------ */

/* e0 --l0-- sw --l1-- e1, raw frames (no ACKs), mtu 1500, 400 Gb/s, 100 ns
 * propagation, switch latency 300 ns, one 1000 B DMA write in one chunk.
 * One frame: 1000 B + 38 B (8 preamble + 12 IFG + 14 header + 4 FCS) =
 * 1038 B at 50e9 B/s -> s = 20 760 ps on each link (eth_wire_bytes_at).
 *   store_and_forward: s + p + L + s + p = 20760 + 100000 + 300000 + 20760
 *                      + 100000 = 541 520 ps
 *   cut_through (64 B): h + p + L + s + p with h = floor(s x 64 / 1000) =
 *                      1328 ps -> 522 088 ps
 * The endpoints' memories are free (bandwidth 0, latency 0). Exact to 1 ps. */
static const char *const fwd_mode[] = {"store_and_forward", "cut_through"};

START_TEST(one_message_latency)
{
    char text[1536];
    snprintf(text, sizeof text,
             "name: lat\ncomponents:\n"
             "  - {name: fab, type: fabric, chunk: 64 KiB}\n"
             "  - {name: e0, type: endpoint}\n  - {name: e1, type: endpoint}\n"
             "  - {name: sw, type: net_switch, forwarding: %s, latency: 300 ns,"
             " cut_through_bytes: 64 B}\n"
             "  - {name: a, type: xfer, src: e0, dst: e1, size: 1000 B, path: dma}\n"
             "links:\n"
             "  - {name: l0, type: ethernet, transport: raw, mtu: 1500 B, latency: 100 ns,"
             " ends: [e0, sw]}\n"
             "  - {name: l1, type: ethernet, transport: raw, mtu: 1500 B, latency: 100 ns,"
             " ends: [sw, e1]}\n",
             fwd_mode[_i]);
    run_ok(text);
    eth_cfg e = {400e9, 1500, ETH_RAW, 0, 0};
    double wire = eth_wire_bytes_at(&e, FAB_OP_WRITE, 0, 1000, FAB_DIR_DATA);
    ck_assert(fabs(wire - 1038.0) < 1e-9);
    long long s = llround(wire / eth_raw_rate(&e) * 1e12); /* 20 760 ps */
    ck_assert_int_eq(s, 20760);
    long long p = 100000, L = 300000;
    long long first = _i == 0 ? s : s * 64 / 1000; /* whole frame, or its first 64 B */
    long long want = first + p + L + s + p;
    long long got = llround(get("a", "latency_mean") * 1e12);
    long long gotf = llround(get("fab", "latency:dma_mean") * 1e12);
    ck_assert_msg(llabs(got - want) <= 1, "%s: latency %lld ps, expected %lld ps", fwd_mode[_i],
                  got, want);
    ck_assert_msg(llabs(gotf - want) <= 1, "%s: fabric latency %lld ps, expected %lld ps",
                  fwd_mode[_i], gotf, want);
}
END_TEST

/* ---- 2. incast ---------------------------------------------------------- */

/* Four endpoints send 16 MiB each to r through sw (packet mode, raw frames
 * of 1500 B, 400 Gb/s everywhere): the link sw->r is the bottleneck. */
static void incast(const char *swopts)
{
    char text[2048];
    int n = snprintf(text, sizeof text,
                     "name: incast\ncomponents:\n"
                     "  - {name: fab, type: fabric, mode: packet}\n"
                     "  - {name: r, type: endpoint}\n"
                     "  - {name: sw, type: net_switch, %s}\n",
                     swopts);
    for (int i = 0; i < 4; i++)
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "  - {name: e%d, type: endpoint}\n"
                      "  - {name: x%d, type: xfer, src: e%d, dst: r, size: 16 MiB, path: dma}\n",
                      i, i, i);
    n += snprintf(text + n, sizeof text - (size_t)n,
                  "links:\n  - {name: lr, type: ethernet, transport: raw, mtu: 1500 B,"
                  " ends: [sw, r]}\n");
    for (int i = 0; i < 4; i++)
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "  - {name: l%d, type: ethernet, transport: raw, mtu: 1500 B,"
                      " ends: [e%d, sw]}\n",
                      i, i);
    ck_assert((size_t)n < sizeof text);
    run_ok(text);
}

/* Payload line rate of the receiver's link: 50e9 B/s x 1500 / 1538 (full
 * raw frames) = 48.763 GB/s (eth_mtu_efficiency). */
static double incast_line(void)
{
    eth_cfg e = {400e9, 1500, ETH_RAW, 0, 0};
    return eth_raw_rate(&e) * eth_mtu_efficiency(&e);
}

static void per_sender(double *x)
{
    for (int i = 0; i < 4; i++) {
        char sc[16];
        snprintf(sc, sizeof sc, "x%d", i);
        x[i] = get(sc, "throughput");
    }
}

/* (a) drop-tail, 64 MiB buffer (more than the 4 x 4 MiB windows in flight):
 * no drop; the receiver's link carries at most its payload line rate and,
 * saturated, at least 99% of it; the 4 senders share it with Jain >= 0.99
 * (round-robin service per packet at the egress port). */
START_TEST(incast_big_buffer)
{
    incast("buffer: 64 MiB");
    double line = incast_line(), x[4];
    double agg = get("lr", "throughput:sw->r");
    ck_assert_msg(agg <= line * (1 + 1e-9), "aggregate %.6g above line %.6g", agg, line);
    capture_close(agg, line, 0.01, "saturated receiver link");
    ck_assert_double_eq(get("sw", "drops"), 0);
    per_sender(x);
    double j = jain(x, 4);
    ck_assert_msg(j >= 0.99, "Jain %.6f", j);
}
END_TEST

/* (b) drop-tail, 16 KiB buffer (~10 frames for 4 senders at line rate):
 * drops on sw->r and retransmissions after rto cost goodput, which stays
 * below the payload line rate. */
START_TEST(incast_small_buffer_drops)
{
    incast("buffer: 16 KiB");
    double line = incast_line(), x[4];
    ck_assert_msg(get("sw", "drops") > 0, "no drops at the switch");
    ck_assert_msg(get("lr", "drops:sw->r") > 0, "no drops on sw->r");
    ck_assert(get("lr", "drop_bytes:sw->r") > 0);
    per_sender(x);
    double goodput = 4 * 16.0 * 1024 * 1024 / ((double)end_ps * 1e-12);
    ck_assert_msg(goodput < line, "goodput %.6g not below line %.6g", goodput, line);
    ck_assert(get("lr", "throughput:sw->r") < line);
}
END_TEST

/* (c) PFC (xoff 256 KiB, xon 128 KiB, 4 MiB buffer): lossless, every ingress
 * link paused for some time, fair share (Jain >= 0.99) at line rate. */
START_TEST(incast_pfc)
{
    incast("buffer: 4 MiB, flow_control: pfc, pfc_xoff: 256 KiB, pfc_xon: 128 KiB");
    double line = incast_line(), x[4];
    ck_assert_double_eq(get("sw", "drops"), 0);
    ck_assert_double_eq(get("lr", "drops:sw->r"), 0);
    ck_assert(get("sw", "pauses") > 0);
    for (int i = 0; i < 4; i++) {
        char sc[16], nm[48];
        snprintf(sc, sizeof sc, "l%d", i);
        snprintf(nm, sizeof nm, "pause_time:e%d->sw", i);
        ck_assert_msg(get(sc, nm) > 0, "%s %s not > 0", sc, nm);
    }
    double agg = get("lr", "throughput:sw->r");
    ck_assert(agg <= line * (1 + 1e-9));
    capture_close(agg, line, 0.01, "PFC keeps the receiver link busy");
    per_sender(x);
    double j = jain(x, 4);
    ck_assert_msg(j >= 0.99, "Jain %.6f", j);
}
END_TEST

/* ---- 3. RDMA ------------------------------------------------------------ */

/* Two nodes h-sw-{g, n} (PCIe Gen5 x16), NICs on 400 Gb/s RoCE links to a
 * net_switch tor; xfer g0 -> g1. */
static void rdma_run(const char *path, const char *size, unsigned count, const char *xopts,
                     const char *nicopts)
{
    char text[3072];
    int n = snprintf(
        text, sizeof text,
        "name: rdma\ncomponents:\n"
        "  - {name: fab, type: fabric}\n"
        "  - {name: h0, type: cpu}\n  - {name: sw0, type: pcie_switch}\n"
        "  - {name: g0, type: gpu}\n  - {name: n0, type: rnic%s}\n"
        "  - {name: h1, type: cpu}\n  - {name: sw1, type: pcie_switch}\n"
        "  - {name: g1, type: gpu}\n  - {name: n1, type: rnic%s}\n"
        "  - {name: tor, type: net_switch}\n"
        "  - {name: x, type: xfer, src: g0, dst: g1, size: %s, count: %u, path: %s%s}\n"
        "links:\n"
        "  - {name: p0a, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [h0, sw0]}\n"
        "  - {name: p0b, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw0, g0]}\n"
        "  - {name: p0c, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw0, n0]}\n"
        "  - {name: p1a, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [h1, sw1]}\n"
        "  - {name: p1b, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw1, g1]}\n"
        "  - {name: p1c, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw1, n1]}\n"
        "  - {name: e0, type: ethernet, speed: 400 Gb/s, ends: [n0, tor]}\n"
        "  - {name: e1, type: ethernet, speed: 400 Gb/s, ends: [tor, n1]}\n",
        nicopts, nicopts, size, count, path, xopts);
    ck_assert((size_t)n < sizeof text);
    run_ok(text);
}

/* (a) 64 MiB g0 -> g1. GPUDirect RDMA: the NICs read/write GPU memory peer
 * to peer, 0 host DRAM bytes. rdma_staged: GPU -> h0 DRAM -> NIC ... NIC ->
 * h1 DRAM -> GPU: each host's DRAM carries every byte twice (written, then
 * read): h0 = h1 = 2 x 64 MiB, fabric host memory = 4 x 64 MiB; and the two
 * staging copies cost launch_cpu each on top of GDR's post_cpu. */
START_TEST(rdma_gdr_vs_staged)
{
    const double B = 64.0 * 1024 * 1024;
    rdma_run("rdma", "64 MiB", 1, "", "");
    ck_assert_double_eq(get("fab", "host_memory_bytes:rdma"), 0);
    ck_assert_double_eq(get("h0", "dram_bytes"), 0);
    ck_assert_double_eq(get("h1", "dram_bytes"), 0);
    ck_assert_double_eq(get("fab", "bytes:rdma"), B);
    double cpu_gdr = get("fab", "cpu_time:rdma");
    rdma_run("rdma_staged", "64 MiB", 1, "", "");
    ck_assert_double_eq(get("h0", "dram_bytes"), 2 * B);
    ck_assert_double_eq(get("h1", "dram_bytes"), 2 * B);
    ck_assert_double_eq(get("fab", "host_memory_bytes:rdma_staged"), 4 * B);
    double cpu_stg = get("fab", "cpu_time:rdma_staged");
    ck_assert_msg(cpu_stg > cpu_gdr, "staged CPU %.6g s not above GDR %.6g s", cpu_stg, cpu_gdr);
    /* each host pays its own copy: h0 post_cpu 0.3 us + launch_cpu 2 us,
     * h1 launch_cpu 2 us (the defaults of rnic and cpu) */
    ck_assert_double_eq_tol(get("h0", "cpu_time"), 2.3e-6, 1e-15);
    ck_assert_double_eq_tol(get("h1", "cpu_time"), 2.0e-6, 1e-15);
    ck_assert_double_eq_tol(cpu_stg, 4.3e-6, 1e-15);
}
END_TEST

/* SEND, two-sided: the same bytes as a WRITE, plus the receiver's side -
 * its host posted the receive (rnic post_cpu, 300 ns) and the far NIC
 * writes a receive completion (64 B CQE) into it: h1 pays 300 ns, h0 the
 * 300 ns of its own post; no host DRAM payload bytes (GPUDirect); the
 * receive CQE crosses sw1 -> h1 as one more 64 B posted write than a
 * WRITE's, so the SEND is not faster than the WRITE. */
START_TEST(rdma_send_two_sided)
{
    rdma_run("rdma", "4 MiB", 1, "", "");
    double write_lat = get("x", "latency_mean");
    ck_assert_double_eq(get("h1", "cpu_time"), 0);
    rdma_run("rdma_send", "4 MiB", 1, "", "");
    ck_assert_double_eq_tol(get("h0", "cpu_time"), 300e-9, 1e-18);
    ck_assert_double_eq_tol(get("h1", "cpu_time"), 300e-9, 1e-18);
    ck_assert_double_eq(get("fab", "host_memory_bytes:rdma_send"), 0);
    ck_assert_double_eq(get("fab", "bytes:rdma_send"), 4.0 * 1024 * 1024);
    ck_assert_msg(get("x", "latency_mean") >= write_lat, "send %.9g < write %.9g",
                  get("x", "latency_mean"), write_lat);
}
END_TEST

/* (b) one 256 MiB RDMA WRITE (GDR) reaches min over its path of the
 * links' model goodput within 1%: RoCEv2 at 400 Gb/s, 4200 B MTU -> 4096 B
 * payload per packet + 44 B RoCE + 16 B RETH on the first + 38 B framing,
 * one ACK: eth_model_bw = 49.018 GB/s; the PCIe Gen5 x16 hops (the NIC reads
 * GPU memory: pcie_model_bw READ; the far NIC writes: WRITE) are faster
 * (~52 GB/s), the NIC packet rate (215e6 x 4096 B) far faster. */
START_TEST(rdma_write_goodput)
{
    const uint64_t B = 256u << 20;
    rdma_run("rdma", "256 MiB", 1, "", "");
    eth_cfg e = {400e9, 4200, ETH_ROCE, 0, 0};
    pcie_cfg p = {5, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double want = eth_model_bw(&e, FAB_OP_WRITE, B);
    double pr = pcie_model_bw(&p, PCIE_OP_READ, B), pw = pcie_model_bw(&p, PCIE_OP_WRITE, B);
    if (pr < want)
        want = pr;
    if (pw < want)
        want = pw;
    capture_close(get("x", "throughput"), want, 0.01, "RDMA WRITE goodput");
}
END_TEST

/* (c) 20 000 messages of 64 B, 64 outstanding, qp_window 64, message_rate
 * 10e6/s: each message is one packet, so each NIC pipeline spends
 * 1/message_rate + 1/packet_rate = 100 ns + 1/215e6 s = 104.65 ns per
 * message: 9.5556e6 messages/s, within 2%. */
START_TEST(rdma_message_rate)
{
    const double mr = 10e6, pr = 215e6;
    rdma_run("rdma", "64 B", 20000, ", outstanding: 64", ", message_rate: 10e6, qp_window: 64");
    double rate = get("x", "transfers") / ((double)end_ps * 1e-12);
    ck_assert_double_eq(get("x", "transfers"), 20000);
    capture_close(rate, 1.0 / (1.0 / mr + 1.0 / pr), 0.02, "messages/s");
}
END_TEST

/* ---- 4. ECMP over a leaf-spine ------------------------------------------ */

/* a -- L0 == {S0..S3} == L1 -- b, net_switch everywhere, 400 Gb/s links;
 * 1024 transfers of 256 KiB taking turns on `flows` flows. */
static void ecmp_run(unsigned flows)
{
    char text[2048];
    int n = snprintf(text, sizeof text,
                     "name: ecmp\ncomponents:\n"
                     "  - {name: fab, type: fabric}\n"
                     "  - {name: L0, type: net_switch}\n  - {name: L1, type: net_switch}\n"
                     "  - {name: a, type: endpoint}\n  - {name: b, type: endpoint}\n"
                     "  - {name: S0, type: net_switch}\n  - {name: S1, type: net_switch}\n"
                     "  - {name: S2, type: net_switch}\n  - {name: S3, type: net_switch}\n"
                     "  - {name: x, type: xfer, src: a, dst: b, size: 256 KiB, count: 1024,"
                     " outstanding: 16, flows: %u}\n"
                     "links:\n"
                     "  - {name: la, type: ethernet, ends: [a, L0]}\n"
                     "  - {name: lb, type: ethernet, ends: [L1, b]}\n",
                     flows);
    for (int j = 0; j < 4; j++)
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "  - {name: u0s%d, type: ethernet, ends: [L0, S%d]}\n"
                      "  - {name: u1s%d, type: ethernet, ends: [S%d, L1]}\n",
                      j, j, j, j);
    ck_assert((size_t)n < sizeof text);
    run_ok(text);
}

static void spine_bytes(double *up)
{
    for (int j = 0; j < 4; j++) {
        char dir[32];
        snprintf(dir, sizeof dir, "L0->S%d", j);
        up[j] = link_bytes(dir);
        ck_assert_msg(up[j] >= 0, "no links row %s", dir);
    }
}

/* 256 flows hashed uniformly over 4 spines: flows per spine ~ Binomial(256,
 * 1/4), mean 64, sd 6.9; each spine's uplink carries 0.5x..1.5x the mean
 * bytes (+-4.6 sd: a uniform hash fails this with probability < 1e-5), and
 * the uplinks together carry all 256 MiB. */
START_TEST(ecmp_many_flows_spread)
{
    ecmp_run(256);
    double up[4], sum = 0;
    spine_bytes(up);
    for (int j = 0; j < 4; j++)
        sum += up[j];
    ck_assert_double_eq(sum, 256.0 * 1024 * 1024);
    for (int j = 0; j < 4; j++)
        ck_assert_msg(up[j] >= 0.5 * sum / 4 && up[j] <= 1.5 * sum / 4,
                      "spine %d carries %.0f B, mean %.0f B", j, up[j], sum / 4);
}
END_TEST

/* One flow, one hash, one route: all bytes over a single spine. */
START_TEST(ecmp_one_flow_one_spine)
{
    ecmp_run(1);
    double up[4];
    int used = 0;
    spine_bytes(up);
    for (int j = 0; j < 4; j++) {
        if (up[j] > 0) {
            used++;
            ck_assert_double_eq(up[j], 256.0 * 1024 * 1024);
        }
    }
    ck_assert_int_eq(used, 1);
}
END_TEST

/* ---- 5. errors ---------------------------------------------------------- */

static void expect_error(const char *text, const char *needle)
{
    sim_err err;
    int rc = run_text(text, &err);
    ck_assert_msg(rc != 0, "expected an error naming '%s'", needle);
    ck_assert_msg(strstr(err.msg, needle), "error '%s' does not name '%s'", err.msg, needle);
}

START_TEST(error_ethernet_gpu_cpu)
{
    expect_error("name: e\ncomponents:\n  - {name: h, type: cpu}\n  - {name: g, type: gpu}\n"
                 "links:\n  - {name: l, type: ethernet, ends: [g, h]}\n",
                 "has no ethernet port");
}
END_TEST

START_TEST(error_rdma_without_rnic)
{
    expect_error("name: e\ncomponents:\n"
                 "  - {name: e0, type: endpoint}\n  - {name: e1, type: endpoint}\n"
                 "  - {name: sw, type: net_switch}\n"
                 "  - {name: x, type: xfer, src: e0, dst: e1, size: 1 MiB, path: rdma}\n"
                 "links:\n"
                 "  - {name: l0, type: ethernet, ends: [e0, sw]}\n"
                 "  - {name: l1, type: ethernet, ends: [sw, e1]}\n",
                 "rnic");
}
END_TEST

START_TEST(error_rnic_mtu)
{
    expect_error("name: e\ncomponents:\n"
                 "  - {name: h, type: cpu}\n  - {name: n, type: rnic, mtu: 3000 B}\n"
                 "links:\n  - {name: p, type: pcie, link_overhead: pcie-bench, gen: 5, ends: [h, n]}\n",
                 "mtu");
}
END_TEST

static Suite *netfabric_suite(void)
{
    Suite *s = suite_create("netfabric");
    TCase *core = tcase_create("Core");
    tcase_add_loop_test(core, one_message_latency, 0, 2);
    tcase_add_test(core, rdma_gdr_vs_staged);
    tcase_add_test(core, rdma_send_two_sided);
    tcase_add_test(core, ecmp_many_flows_spread);
    tcase_add_test(core, ecmp_one_flow_one_spine);
    tcase_set_timeout(core, 120);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, incast_big_buffer);
    tcase_add_test(lim, incast_small_buffer_drops);
    tcase_add_test(lim, incast_pfc);
    tcase_add_test(lim, rdma_write_goodput);
    tcase_add_test(lim, rdma_message_rate);
    tcase_set_timeout(lim, 300);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_test(errs, error_ethernet_gpu_cpu);
    tcase_add_test(errs, error_rdma_without_rnic);
    tcase_add_test(errs, error_rnic_mtu);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(netfabric_suite());
}
