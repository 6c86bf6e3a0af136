/*
 * check_netproto.c - the network link protocols (ethernet, infiniband,
 * nvlink) held to hand-derived wire arithmetic.
 *
 * References and formulas (the expected numbers below are derived here
 * from them, not from the models' code):
 *
 *   Ethernet (IEEE 802.3-2022 cl. 3, 4.4.2): a frame costs 8 B preamble +
 *     SFD, 12 B inter-frame gap, 14 B header (+4 B 802.1Q), 4 B FCS, and
 *     is at least 64 B from header to FCS (46 B of client data, 42 B
 *     tagged). MAC rate = speed; the PHY's line rate is speed x 66/64
 *     (10/25/40G, cl. 49/107/82), x 257/256 x 528/514 (100G, cl. 91), x
 *     257/256 x 544/514 (50/200/400/800G, cl. 134/119/172): 400G -> 425.
 *   RoCEv2 (IBTA Annex A17): IPv4 20 + UDP 8 + BTH 12 + ICRC 4 = 44 B per
 *     packet, so 82 B per packet with the framing; RETH 16 B on the first
 *     WRITE packet and the READ request, AETH 4 B on ACKs and on READ
 *     response First/Last/Only (IBA vol. 1 ch. 9); payload padded to 4 B.
 *     RoCE MTU = the largest of 256..4096 B <= mtu - 60 B.
 *   TCP: IPv4 20 + TCP 20 + timestamps 12 (RFC 7323) = 52 B, 90 B per
 *     segment with the framing; MSS = mtu - 52; an ACK (90 B) per 2
 *     segments (RFC 1122 4.2.3.2).
 *   InfiniBand (IBA vol. 1 ch. 5-9, vol. 2): LRH 8 + BTH 12 + ICRC 4 +
 *     VCRC 2 = 26 B per packet (+ GRH 40); lane data rates EDR 25, HDR 50,
 *     NDR 100, XDR 200 Gb/s; EDR signals 25.78125 Gb/s (64b/66b), the PAM4
 *     rates 53.125, 106.25, 212.5 Gb/s (256b/257b + RS(544,514)).
 *   NVLink (NVIDIA A100/H100 whitepapers, Blackwell brief; packet format
 *     of Foley and Danskin, IEEE Micro 2017, assumed for gens 3-5): 25,
 *     25, 50 GB/s per link and direction; 16 B flits, one header flit per
 *     up to 256 B of data, one request/response flit per packet back.
 *
 * Goodput of a stream of S-byte messages = raw rate x S / (wire bytes of
 * the busier direction). Simulated transfers over one link between two
 * endpoints must reach it within 1%; a small message's latency is exactly
 * its serialization plus propagation (each way for acknowledged writes).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/fabric/engine.h"
#include "models/fabric/ethernet.h"
#include "models/fabric/infiniband.h"
#include "models/fabric/nvlink.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"

static capture cap;

/* Build and run a scenario; returns 0 or the build error (err filled). */
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
    }
    sim_destroy(s);
    scn_free(doc);
    return rc;
}

static void assert_close(double got, double want, double rel, const char *what)
{
    ck_assert_msg(fabs(got - want) <= rel * fabs(want), "%s: got %.9g, expected %.9g (%.4f%% off)",
                  what, got, want, 100.0 * fabs(got - want) / fabs(want));
}

/* One transfer of `bytes` over link `link` (a YAML flow mapping body
 * without name/ends). read: a host's memory pulled by endpoint b (RDMA
 * READ); else endpoint a pushes to endpoint b (RDMA WRITE). */
static int one_transfer(const char *link, int read, uint64_t bytes, const char *mode,
                        sim_err *err)
{
    char text[2048];
    snprintf(text, sizeof text,
             "name: net\ncomponents:\n"
             "  - {name: a, type: %s}\n"
             "  - {name: b, type: endpoint}\n"
             "  - {name: fabric, type: fabric, mode: %s}\n"
             "  - {name: load, type: xfer, src: a, dst: b, size: %llu B, path: dma}\n"
             "links:\n"
             "  - {name: l, %s, ends: [a, b]}\n",
             read ? "cpu, latency: 0 ns, dram_latency: 0 ns, dram_bandwidth: 100 TB/s"
                  : "endpoint",
             mode, (unsigned long long)bytes, link);
    return run_text(text, err);
}

static double transfer_bw(const char *link, int read, uint64_t bytes, const char *mode)
{
    sim_err err;
    ck_assert_msg(one_transfer(link, read, bytes, mode, &err) == 0, "%s", err.msg);
    return capture_get(&cap, "load", "bytes") / capture_get(&cap, "load", "latency_mean");
}

static double ceil_div(double a, double b) { return ceil(a / b); }

/* ---- Core: hand-derived arithmetic ------------------------------------ */

START_TEST(ethernet_coding_and_rates)
{
    /* 400GBASE-R: 400 x 257/256 x 544/514 = 425 Gb/s (cl. 119) */
    ck_assert(fabs(400.0 * 257 / 256 * 544 / 514 - 425.0) < 1e-12);
    static const double speed[] = {10, 25, 40, 50, 100, 200, 400, 800};
    static const double line[] = {10.3125, 25.78125, 41.25, 53.125, 103.125, 212.5, 425, 850};
    for (int i = 0; i < 8; i++) {
        eth_cfg c = {speed[i] * 1e9, 1500, ETH_ROCE, 0, 0};
        ck_assert(eth_speed_ok(c.speed));
        assert_close(eth_line_rate(&c), line[i] * 1e9, 1e-12, "line rate");
        assert_close(eth_raw_rate(&c), speed[i] * 1e9 / 8, 1e-15, "raw rate");
        assert_close(eth_coding_efficiency(c.speed), speed[i] / line[i], 1e-12, "coding");
    }
    ck_assert(!eth_speed_ok(300e9) && !eth_speed_ok(1e12) && !eth_speed_ok(0));
    /* 64 B frames occupy 84 B on the wire (fidelity-references.md): a raw
     * frame with 1..46 B of client data */
    eth_cfg raw = {400e9, 1500, ETH_RAW, 0, 0};
    ck_assert(eth_wire_bytes_at(&raw, FAB_OP_WRITE, 0, 1, FAB_DIR_DATA) == 84);
    ck_assert(eth_wire_bytes_at(&raw, FAB_OP_WRITE, 0, 46, FAB_DIR_DATA) == 84);
    ck_assert(eth_wire_bytes_at(&raw, FAB_OP_WRITE, 0, 47, FAB_DIR_DATA) == 85);
    /* 1500 B of client data: 1538 B; 1501 B: 1538 + 84 */
    ck_assert(eth_wire_bytes_at(&raw, FAB_OP_WRITE, 0, 1500, FAB_DIR_DATA) == 1538);
    ck_assert(eth_wire_bytes_at(&raw, FAB_OP_WRITE, 0, 1501, FAB_DIR_DATA) == 1538 + 84);
    assert_close(eth_mtu_efficiency(&raw), 1500.0 / 1538, 1e-15, "raw efficiency");
    /* tagged: min client data 42 B, frame still 64 B (+20) */
    raw.vlan = 1;
    ck_assert(eth_wire_bytes_at(&raw, FAB_OP_WRITE, 0, 1, FAB_DIR_DATA) == 84);
    ck_assert(eth_wire_bytes_at(&raw, FAB_OP_WRITE, 0, 43, FAB_DIR_DATA) == 85);
    /* raw writes have no ACKs; a raw READ request is one minimum frame */
    ck_assert(eth_wire_bytes_at(&raw, FAB_OP_WRITE, 0, 4096, FAB_DIR_REQ) == 0);
    ck_assert(eth_wire_bytes_at(&raw, FAB_OP_READ, 0, 4096, FAB_DIR_REQ) == 84);
}
END_TEST

START_TEST(roce_mtu_and_packets)
{
    /* RoCE MTU: largest IB MTU <= mtu - 60 */
    static const uint32_t mtu[] = {1500, 2200, 4150, 4156, 4200, 9000, 9216};
    static const uint32_t pmtu[] = {1024, 2048, 2048, 4096, 4096, 4096, 4096};
    for (int i = 0; i < 7; i++) {
        eth_cfg c = {100e9, mtu[i], ETH_ROCE, 0, 0};
        ck_assert_uint_eq(eth_payload_per_packet(&c), pmtu[i]);
    }
    eth_cfg c = {400e9, 4200, ETH_ROCE, 0, 0};
    ck_assert_uint_eq(eth_pkt_overhead(&c), 82);
    /* every RoCE frame is >= 64 B (header to FCS) with >= 4 B of payload
     * or an extended header: 14 + 44 + 4 + 4 = 66, so none is padded */
    ck_assert_uint_ge(eth_pkt_overhead(&c) - 20 + 4, ETH_MIN_FRAME);
    /* 1 B WRITE: 82 + 4 (padded payload) + 16 (RETH); its ACK 82 + 4 */
    ck_assert(eth_wire_bytes_at(&c, FAB_OP_WRITE, 0, 1, FAB_DIR_DATA) == 102);
    ck_assert(eth_wire_bytes_at(&c, FAB_OP_WRITE, 0, 1, FAB_DIR_REQ) == 86);
    /* READ request: 82 + RETH 16; 1 MiB READ response: 256 packets,
     * AETH on First and Last */
    ck_assert(eth_wire_bytes_at(&c, FAB_OP_READ, 0, 1 << 20, FAB_DIR_REQ) == 98);
    ck_assert(eth_wire_bytes_at(&c, FAB_OP_READ, 0, 1 << 20, FAB_DIR_DATA) ==
              256 * 82 + 8 + (1 << 20));
    ck_assert(eth_wire_bytes_at(&c, FAB_OP_READ, 0, 4096, FAB_DIR_DATA) == 82 + 4 + 4096);
    /* ack_every 4: 1 MiB = 256 packets -> 64 ACKs */
    c.ack_every = 4;
    ck_assert(eth_wire_bytes_at(&c, FAB_OP_WRITE, 0, 1 << 20, FAB_DIR_REQ) == 64 * 86);
    ck_assert_uint_eq(eth_packets_at(&c, FAB_OP_WRITE, 0, 1 << 20, FAB_DIR_REQ), 64);
    /* TCP: MSS 1448 at mtu 1500; 90 B per segment */
    eth_cfg t = {100e9, 1500, ETH_TCP, 0, 0};
    ck_assert_uint_eq(eth_payload_per_packet(&t), 1448);
    ck_assert_uint_eq(eth_pkt_overhead(&t), 90);
    ck_assert_uint_eq(eth_ack_every(&t), 2);
    /* 1 MiB: ceil(1048576/1448) = 725 segments, 363 ACKs */
    ck_assert(eth_wire_bytes_at(&t, FAB_OP_WRITE, 0, 1 << 20, FAB_DIR_DATA) ==
              725 * 90 + (1 << 20));
    ck_assert(eth_wire_bytes_at(&t, FAB_OP_WRITE, 0, 1 << 20, FAB_DIR_REQ) == 363 * 90);
    ck_assert(eth_wire_bytes_at(&t, FAB_OP_READ, 0, 1 << 20, FAB_DIR_REQ) == 364 * 90);
}
END_TEST

/* Loop: the configurations of the goodput tables below. */
typedef struct eth_case {
    double gbps;
    uint32_t mtu;
    int transport, vlan;
    double per_pkt;  /* framing + transport headers, bytes */
    double payload;  /* per packet */
} eth_case;

static const eth_case eth_cases[] = {
    {400, 4200, ETH_ROCE, 0, 82, 4096}, /* 38 + 44; 4200 - 60 -> 4096 */
    {400, 1500, ETH_ROCE, 0, 82, 1024}, /* 1440 -> 1024 */
    {100, 9000, ETH_ROCE, 1, 86, 4096}, /* tagged */
    {200, 2200, ETH_ROCE, 0, 82, 2048},
    {100, 9000, ETH_TCP, 0, 90, 8948},  /* 38 + 52; MSS 9000 - 52 */
    {25, 1500, ETH_TCP, 0, 90, 1448},
    {800, 9216, ETH_RAW, 0, 38, 9216},
    {10, 1500, ETH_RAW, 1, 42, 1500},
};

/* Goodput of S-byte messages from the formulas in the head comment. */
static double eth_expected(const eth_case *k, int read, double S)
{
    double n = ceil_div(S, k->payload), raw = k->gbps * 1e9 / 8;
    double data, req;
    if (k->transport == ETH_ROCE) {
        double pay = 4 * ceil_div(S, 4);
        data = n * k->per_pkt + pay + (read ? 4 * (1 + (n > 1)) : 16);
        req = read ? k->per_pkt + 16 : k->per_pkt + 4; /* READ request / one ACK */
    } else if (k->transport == ETH_TCP) {
        data = n * k->per_pkt + S;
        req = (ceil_div(n, 2) + read) * k->per_pkt;
    } else {
        data = n * k->per_pkt + S; /* S >= 46: only a short last frame pads */
        double last = S - (n - 1) * k->payload;
        if (last < (k->vlan ? 42 : 46))
            data += (k->vlan ? 42 : 46) - last;
        req = read ? k->per_pkt + (k->vlan ? 42 : 46) : 0;
    }
    return raw * S / fmax(data, req);
}

static eth_cfg eth_of(const eth_case *k)
{
    eth_cfg c = {k->gbps * 1e9, k->mtu, k->transport, k->vlan, 0};
    return c;
}

START_TEST(ethernet_goodput_formula)
{
    const eth_case *k = &eth_cases[_i];
    eth_cfg c = eth_of(k);
    ck_assert(eth_payload_per_packet(&c) == k->payload);
    ck_assert(eth_pkt_overhead(&c) == k->per_pkt);
    assert_close(eth_mtu_efficiency(&c), k->payload / (k->payload + k->per_pkt), 1e-15,
                 "efficiency at the MTU");
    static const double sizes[] = {64, 1000, 4096, 4097, 65536, 1048576, 1048579, 268435456};
    for (int read = 0; read < 2; read++)
        for (int j = 0; j < 8; j++)
            assert_close(eth_model_bw(&c, read, (uint64_t)sizes[j]),
                         eth_expected(k, read, sizes[j]), 1e-12, "goodput");
    if (_i == 0) {
        /* 400G RoCE, mtu 4200, 1 MiB WRITE: 256 x 82 + 16 + 1048576 =
         * 1069584 B on the wire: 50e9 x 1048576 / 1069584 = 49.0179 GB/s */
        assert_close(eth_model_bw(&c, FAB_OP_WRITE, 1 << 20), 50e9 * 1048576 / 1069584, 1e-12,
                     "400G RoCE 1 MiB");
        ck_assert(fabs(eth_model_bw(&c, FAB_OP_WRITE, 1 << 20) - 49.0179e9) < 0.0001e9);
    }
}
END_TEST

START_TEST(infiniband_rates_and_goodput)
{
    /* lane data rate = signalling rate x coding efficiency */
    static const double data[] = {25e9, 50e9, 100e9, 200e9};
    static const double sig[] = {25.78125e9, 53.125e9, 106.25e9, 212.5e9};
    for (int r = IB_EDR; r <= IB_XDR; r++) {
        assert_close(ib_lane_rate(r), data[r], 1e-15, "lane rate");
        assert_close(ib_lane_signal(r) * ib_coding_efficiency(r), data[r], 1e-12, "coding");
        assert_close(ib_lane_signal(r), sig[r], 1e-15, "signalling");
    }
    /* NDR 4x = 400 Gb/s = 50 GB/s; HDR 4x 200 Gb/s; XDR 4x 800 Gb/s */
    ib_cfg c = {IB_NDR, 4, 4096, 0, 0};
    assert_close(ib_raw_rate(&c), 50e9, 1e-15, "NDR 4x");
    ck_assert_uint_eq(ib_pkt_overhead(&c), 26);
    /* 1 MiB WRITE, MTU 4096: 256 x 26 + 16 + 1048576 = 1055248 B; ACK 30 B */
    ck_assert(ib_wire_bytes_at(&c, FAB_OP_WRITE, 0, 1 << 20, FAB_DIR_DATA) == 1055248);
    ck_assert(ib_wire_bytes_at(&c, FAB_OP_WRITE, 0, 1 << 20, FAB_DIR_REQ) == 30);
    assert_close(ib_model_bw(&c, FAB_OP_WRITE, 1 << 20), 50e9 * 1048576 / 1055248, 1e-12,
                 "NDR 1 MiB write");
    /* READ: request 26 + 16 = 42; response 256 x 26 + 2 x 4 + 1048576 */
    ck_assert(ib_wire_bytes_at(&c, FAB_OP_READ, 0, 1 << 20, FAB_DIR_REQ) == 42);
    assert_close(ib_model_bw(&c, FAB_OP_READ, 1 << 20), 50e9 * 1048576 / (6656 + 8 + 1048576),
                 1e-12, "NDR 1 MiB read");
    assert_close(ib_mtu_efficiency(&c), 4096.0 / 4122, 1e-15, "efficiency at 4096");
    /* HDR 4x, MTU 256, GRH: 66 B per packet; 4096 packets per MiB */
    ib_cfg h = {IB_HDR, 4, 256, 1, 0};
    assert_close(ib_raw_rate(&h), 25e9, 1e-15, "HDR 4x");
    assert_close(ib_model_bw(&h, FAB_OP_WRITE, 1 << 20), 25e9 * 1048576 / (4096 * 66 + 16 + 1048576),
                 1e-12, "HDR MTU 256 GRH");
    /* MTU sweep at EDR 4x: S = 1 MiB + 3 (last packet 3 B, padded to 4) */
    for (uint32_t m = 256; m <= 4096; m <<= 1) {
        ib_cfg e = {IB_EDR, 4, m, 0, 0};
        double S = 1048579, n = ceil_div(S, m);
        double w = n * 26 + 1048580 + 16;
        assert_close(ib_model_bw(&e, FAB_OP_WRITE, 1048579), 12.5e9 * S / w, 1e-12, "EDR sweep");
        assert_close(ib_model_bw(&e, FAB_OP_READ, 1048579), 12.5e9 * S / (w - 16 + 8), 1e-12,
                     "EDR sweep read");
    }
    /* 12x XDR: 2.4 Tb/s */
    ib_cfg x = {IB_XDR, 12, 4096, 0, 1};
    assert_close(ib_raw_rate(&x), 300e9, 1e-15, "XDR 12x");
    /* ack_every 1: one 30 B ACK per packet */
    ck_assert(ib_wire_bytes_at(&x, FAB_OP_WRITE, 0, 1 << 20, FAB_DIR_REQ) == 256 * 30);
}
END_TEST

START_TEST(nvlink_rates_and_goodput)
{
    /* per link and direction: pairs x Gb/s / 8 */
    assert_close(nvlink_link_rate(3), 4 * 50e9 / 8, 1e-15, "NVLink3 25 GB/s");
    assert_close(nvlink_link_rate(4), 25e9, 1e-15, "NVLink4 25 GB/s");
    assert_close(nvlink_link_rate(5), 50e9, 1e-15, "NVLink5 50 GB/s");
    /* totals both directions: A100 12 links 600 GB/s, H100 18 links 900
     * GB/s, B200 18 links 1.8 TB/s */
    nvlink_cfg a = {3, 12}, h = {4, 18}, b = {5, 18};
    assert_close(2 * nvlink_raw_rate(&a), 600e9, 1e-15, "A100");
    assert_close(2 * nvlink_raw_rate(&h), 900e9, 1e-15, "H100");
    assert_close(2 * nvlink_raw_rate(&b), 1800e9, 1e-15, "B200");
    /* 256 B packet: 16 + 256 = 272 B; 1 MiB: 4096 x 272, 4096 x 16 back */
    assert_close(nvlink_packet_efficiency(), 256.0 / 272, 1e-15, "16/17");
    ck_assert(nvlink_wire_bytes_at(&h, FAB_OP_WRITE, 0, 1 << 20, FAB_DIR_DATA) == 4096 * 272);
    ck_assert(nvlink_wire_bytes_at(&h, FAB_OP_WRITE, 0, 1 << 20, FAB_DIR_REQ) == 4096 * 16);
    assert_close(nvlink_model_bw(&h, FAB_OP_WRITE, 1 << 20), 450e9 * 256 / 272, 1e-12,
                 "H100 bundle write");
    assert_close(nvlink_model_bw(&h, FAB_OP_READ, 1 << 20), 450e9 * 256 / 272, 1e-12,
                 "H100 bundle read");
    /* 100 B: one packet, 16 + 112 (7 flits) */
    ck_assert(nvlink_wire_bytes_at(&h, FAB_OP_WRITE, 0, 100, FAB_DIR_DATA) == 128);
    assert_close(nvlink_model_bw(&b, FAB_OP_WRITE, 100), 900e9 * 100 / 128, 1e-12, "100 B");
}
END_TEST

/* Pieces add up: the wire bytes and packets of any cut of a message sum to
 * the whole, for every protocol, op and direction. */
typedef double (*wire_fn)(const void *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                          uint64_t *units);

static double eth_w(const void *c, int op, uint64_t off, uint64_t b, int dir, uint64_t *u)
{
    *u = eth_packets_at(c, op, off, b, dir);
    return eth_wire_bytes_at(c, op, off, b, dir);
}

static double ib_w(const void *c, int op, uint64_t off, uint64_t b, int dir, uint64_t *u)
{
    *u = ib_packets_at(c, op, off, b, dir);
    return ib_wire_bytes_at(c, op, off, b, dir);
}

static double nvl_w(const void *c, int op, uint64_t off, uint64_t b, int dir, uint64_t *u)
{
    *u = nvlink_packets_at(c, op, off, b, dir);
    return nvlink_wire_bytes_at(c, op, off, b, dir);
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static void check_cuts(wire_fn f, const void *cfg, const char *what)
{
    static const uint64_t sizes[] = {1, 3, 45, 47, 1023, 1024, 1025, 4096, 4097, 9001,
                                     65536, 1000003};
    uint64_t seed = 12345;
    for (int op = 0; op < 2; op++)
        for (int dir = 0; dir < 2; dir++)
            for (int i = 0; i < 12; i++) {
                uint64_t S = sizes[i], u_whole, u_sum = 0;
                double whole = f(cfg, op, 0, S, dir, &u_whole), sum = 0;
                for (uint64_t off = 0; off < S;) {
                    uint64_t b = 1 + lcg(&seed) % (i % 3 == 0 ? 7 : 5000);
                    if (b > S - off)
                        b = S - off;
                    uint64_t u;
                    sum += f(cfg, op, off, b, dir, &u);
                    u_sum += u;
                    off += b;
                }
                ck_assert_msg(sum == whole && u_sum == u_whole,
                              "%s op %d dir %d size %llu: pieces %.0f B %llu pkts, whole %.0f B"
                              " %llu pkts",
                              what, op, dir, (unsigned long long)S, sum,
                              (unsigned long long)u_sum, whole, (unsigned long long)u_whole);
            }
}

START_TEST(pieces_add_up)
{
    for (int k = 0; k < (int)(sizeof eth_cases / sizeof eth_cases[0]); k++) {
        eth_cfg c = eth_of(&eth_cases[k]);
        check_cuts(eth_w, &c, "ethernet");
        c.ack_every = 3;
        check_cuts(eth_w, &c, "ethernet ack_every 3");
    }
    for (uint32_t m = 256; m <= 4096; m <<= 1) {
        ib_cfg c = {IB_HDR, 4, m, m == 512, m == 1024 ? 5 : 0};
        check_cuts(ib_w, &c, "infiniband");
    }
    nvlink_cfg n = {4, 18};
    check_cuts(nvl_w, &n, "nvlink");
}
END_TEST

/* ---- Core: simulated transfers ---------------------------------------- */

static const char *const sim_links[] = {
    "type: ethernet, speed: 400 Gb/s, mtu: 4200 B",
    "type: ethernet, speed: 100 Gb/s, mtu: 1500 B, transport: tcp",
    "type: ethernet, speed: 25 Gb/s, mtu: 9000 B, transport: raw, vlan: true",
    "type: infiniband, rate: NDR, width: 4x, mtu: 2048 B",
    "type: infiniband, rate: EDR, width: 4x, mtu: 4096 B, grh: true, ack_every: 8",
    "type: nvlink, gen: 4, links: 18",
};

/* The analytic goodput of the same link, computed by the tests' own formulas. */
static double sim_expected(int i, int read, double S)
{
    if (i == 0)
        return eth_expected(&eth_cases[0], read, S);
    if (i == 1) {
        eth_case k = {100, 1500, ETH_TCP, 0, 90, 1448};
        return eth_expected(&k, read, S);
    }
    if (i == 2) {
        eth_case k = {25, 9000, ETH_RAW, 1, 42, 9000};
        return eth_expected(&k, read, S);
    }
    if (i == 3) { /* 26 B per packet of 2048 B */
        double n = ceil_div(S, 2048);
        return 50e9 * S / (n * 26 + 4 * ceil_div(S, 4) + (read ? 8 : 16));
    }
    if (i == 4) { /* 66 B per packet of 4096 B; ACKs (70 B) are on the other side */
        double n = ceil_div(S, 4096);
        return 12.5e9 * S / (n * 66 + 4 * ceil_div(S, 4) + (read ? 8 : 16));
    }
    return 450e9 * S / (ceil_div(S, 256) * 16 + 16 * ceil_div(S, 16));
}

START_TEST(transfer_reaches_goodput)
{
    int i = _i / 2, read = _i % 2;
    uint64_t S = 256ull << 20;
    double got = transfer_bw(sim_links[i], read, S, "chunk");
    char what[160];
    snprintf(what, sizeof what, "%s, %s of 256 MiB", sim_links[i], read ? "read" : "write");
    assert_close(got, sim_expected(i, read, (double)S), 0.01, what);
    /* the link's data direction saw exactly the analytic efficiency */
    double wire_eff = capture_get(&cap, "l", "efficiency:a->b"); /* a: the data's source */
    double raw = capture_get(&cap, "l", "raw_rate");
    double busiest_eff = sim_expected(i, read, (double)S) / raw;
    ck_assert_msg(wire_eff >= busiest_eff * (1 - 1e-9), "%s: data efficiency %.9f < %.9f", what,
                  wire_eff, busiest_eff);
}
END_TEST

START_TEST(packet_mode_agrees)
{
    /* one packet per chunk: the forwarding unit is the payload per packet */
    uint64_t S = 4ull << 20;
    double chunk = transfer_bw(sim_links[_i], 0, S, "chunk");
    double packet = transfer_bw(sim_links[_i], 0, S, "packet");
    assert_close(packet, chunk, 0.01, sim_links[_i]);
}
END_TEST

START_TEST(small_message_latency)
{
    /* 64 B WRITE, endpoint to endpoint, one hop: serialization of the data
     * packet + propagation, then (acknowledged writes) the ACK's
     * serialization + propagation back. Exact to the picosecond. */
    static const char *const links[] = {
        "type: ethernet, speed: 400 Gb/s, cable_length: 3",
        "type: ethernet, speed: 100 Gb/s, transport: raw, latency: 25 ns",
        "type: infiniband, rate: NDR, width: 4x, cable_length: 3",
        "type: nvlink, gen: 4, links: 1, latency: 15 ns",
    };
    /* ethernet roce: data 82 + 64 + 16 = 162 B / 50 GB/s = 3240 ps; ACK 86 B = 1720 ps;
     *   3 m x 5 ns/m = 15 ns each way
     * ethernet raw: 38 + 64 = 102 B / 12.5 GB/s = 8160 ps, no ACK
     * infiniband NDR 4x: 26 + 64 + 16 = 106 B / 50 GB/s = 2120 ps; ACK 30 B = 600 ps
     * nvlink gen 4 x1: 16 + 64 = 80 B / 25 GB/s = 3200 ps; response 16 B = 640 ps */
    static const double want_ps[] = {3240 + 15000 + 1720 + 15000, 8160 + 25000,
                                     2120 + 15000 + 600 + 15000, 3200 + 15000 + 640 + 15000};
    sim_err err;
    char link[256];
    snprintf(link, sizeof link, "%s", links[_i]);
    ck_assert_msg(one_transfer(link, 0, 64, "chunk", &err) == 0, "%s", err.msg);
    double got = capture_get(&cap, "load", "latency_mean") * 1e12;
    ck_assert_msg(fabs(got - want_ps[_i]) < 0.5, "%s: %.3f ps, expected %.0f ps", links[_i], got,
                  want_ps[_i]);
}
END_TEST

START_TEST(metrics_reported)
{
    sim_err err;
    ck_assert_msg(one_transfer("type: ethernet, speed: 400 Gb/s", 0, 1 << 20, "chunk", &err) == 0,
                  "%s", err.msg);
    assert_close(capture_get(&cap, "l", "line_rate"), 425e9, 1e-12, "line_rate");
    assert_close(capture_get(&cap, "l", "coding_efficiency"), 400.0 / 425, 1e-12, "coding");
    assert_close(capture_get(&cap, "l", "raw_rate"), 50e9, 1e-15, "raw_rate");
    assert_close(capture_get(&cap, "l", "efficiency_mtu"), 4096.0 / 4178, 1e-12, "eff at MTU");
    assert_close(capture_get(&cap, "l", "efficiency:a->b"), 1048576.0 / 1069584, 1e-12,
                 "wire efficiency of the 1 MiB WRITE");
    ck_assert_msg(one_transfer("type: infiniband, rate: HDR", 0, 1 << 20, "chunk", &err) == 0,
                  "%s", err.msg);
    assert_close(capture_get(&cap, "l", "line_rate"), 4 * 53.125e9, 1e-12, "IB line_rate");
}
END_TEST

/* ---- Limits ------------------------------------------------------------ */

START_TEST(limits)
{
    /* zero bytes cost nothing, in every protocol */
    eth_cfg e = {800e9, 9216, ETH_ROCE, 1, 1};
    ib_cfg i = {IB_XDR, 12, 256, 1, 1};
    nvlink_cfg n = {5, 18};
    for (int op = 0; op < 2; op++)
        for (int dir = 0; dir < 2; dir++) {
            ck_assert(eth_wire_bytes_at(&e, op, 0, 0, dir) == 0);
            ck_assert(ib_wire_bytes_at(&i, op, 4096, 0, dir) == 0);
            ck_assert(nvlink_wire_bytes_at(&n, op, 0, 0, dir) == 0);
        }
    /* a 1 TiB message: 2^40 / 4096 packets, no overflow */
    uint64_t T = 1ull << 40;
    ck_assert(eth_wire_bytes_at(&e, FAB_OP_WRITE, 0, T, FAB_DIR_DATA) ==
              (double)(T / 4096 * 86 + T + 16));
    ck_assert_uint_eq(eth_packets_at(&e, FAB_OP_WRITE, 0, T, FAB_DIR_REQ), T / 4096);
    /* the 9216 B TCP MSS and the largest raw frame */
    eth_cfg t = {800e9, 9216, ETH_TCP, 0, 0};
    ck_assert_uint_eq(eth_payload_per_packet(&t), 9164);
    /* smallest links: 10G raw 1500, IB EDR 1x MTU 256, one NVLink3 */
    eth_cfg r = {10e9, 1500, ETH_RAW, 0, 0};
    ib_cfg s = {IB_EDR, 1, 256, 0, 0};
    nvlink_cfg o = {3, 1};
    assert_close(eth_model_bw(&r, FAB_OP_WRITE, 1500), 1.25e9 * 1500 / 1538, 1e-12, "10G raw");
    assert_close(ib_model_bw(&s, FAB_OP_WRITE, 256), 3.125e9 * 256 / (26 + 256 + 16), 1e-12,
                 "EDR 1x");
    assert_close(nvlink_model_bw(&o, FAB_OP_READ, 16), 25e9 * 16 / 32, 1e-12, "16 B read");
    /* a 1 B transfer through the simulator completes */
    sim_err err;
    ck_assert_msg(one_transfer("type: infiniband, rate: EDR, width: 1x, mtu: 256 B", 1, 1,
                               "packet", &err) == 0,
                  "%s", err.msg);
    ck_assert(capture_get(&cap, "load", "bytes") == 1);
}
END_TEST

/* ---- Errors ------------------------------------------------------------ */

typedef struct bad_case {
    const char *link;   /* the link's settings */
    const char *expect; /* text the message must hold */
} bad_case;

static const bad_case bad[] = {
    {"type: ethernet, speed: 300 Gb/s", "speed 300 Gb/s"},
    {"type: ethernet, speed: 1 Tb/s", "10, 25, 40, 50, 100, 200, 400 or 800"},
    {"type: ethernet, mtu: 10000 B", "mtu 10000 B is above 9216 B"},
    {"type: ethernet, mtu: 1000 B", "mtu 1000 B is below 1500 B"},
    {"type: ethernet, latency: 5 ns, cable_length: 1", "latency or cable_length"},
    {"type: ethernet, cable_length: -1", "cable_length"},
    {"type: infiniband, mtu: 3000 B", "mtu 3000 B"},
    {"type: infiniband, mtu: 8192 B", "power of two"},
    {"type: infiniband, mtu: 128 B", "256 B to 4096 B"},
    {"type: infiniband, width: 3x", "width"},
    {"type: infiniband, rate: FDR", "rate"},
    {"type: nvlink, gen: 2", "gen"},
    {"type: nvlink, links: 0", "links"},
    {"type: nvlink, links: 19", "links"},
};

START_TEST(bad_config_rejected)
{
    sim_err err;
    ck_assert_int_ne(one_transfer(bad[_i].link, 0, 4096, "chunk", &err), 0);
    ck_assert_msg(strstr(err.msg, bad[_i].expect), "'%s': message '%s' lacks '%s'", bad[_i].link,
                  err.msg, bad[_i].expect);
    /* the message points at the link's line (line 8 of the scenario) */
    ck_assert_int_eq(err.line, 8);
    if (!strstr(bad[_i].link, "width") && !strstr(bad[_i].link, "FDR"))
        ck_assert_msg(strstr(err.msg, "'l'"), "'%s' does not name the link", err.msg);
}
END_TEST

static Suite *netproto_suite(void)
{
    Suite *s = suite_create("netproto");
    TCase *core = tcase_create("Core");
    tcase_set_timeout(core, 120);
    tcase_add_test(core, ethernet_coding_and_rates);
    tcase_add_test(core, roce_mtu_and_packets);
    tcase_add_loop_test(core, ethernet_goodput_formula, 0,
                        (int)(sizeof eth_cases / sizeof eth_cases[0]));
    tcase_add_test(core, infiniband_rates_and_goodput);
    tcase_add_test(core, nvlink_rates_and_goodput);
    tcase_add_test(core, pieces_add_up);
    tcase_add_loop_test(core, transfer_reaches_goodput, 0, 12);
    tcase_add_loop_test(core, packet_mode_agrees, 0, 6);
    tcase_add_loop_test(core, small_message_latency, 0, 4);
    tcase_add_test(core, metrics_reported);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, limits);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_loop_test(errs, bad_config_rejected, 0, (int)(sizeof bad / sizeof bad[0]));
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(netproto_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
