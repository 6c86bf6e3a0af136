/*
 * check_pcie.c - the PCIe link held to the analytical model of Neugebauer
 * et al., "Understanding PCIe performance for end host networking",
 * SIGCOMM 2018 (pcie-bench/pcie-model, model/pcie.py and mem_bw.py):
 *
 *   raw      = GT/s x 128/130 x lanes / 8                       (Gen3-5)
 *   f        = 8/AckLimit + 8/FCInterval + 4/1538   (x16: 144, 168, 182 for
 *              MPS 128, 256, 512; PCIe Base Spec r5.0 Tables 3-7..3-9, 2-46..2-48)
 *   TLP_bw   = raw x (1 - f)
 *   write    = TLP_bw x sz / (sz + ceil(sz/MPS) x 24)        (MWr, 64-bit: 8+4+12)
 *   read     = sz x min(TLP_bw / (sz + ceil(sz/MPS) x 20),   (CplD: 8+4+8)
 *                       TLP_bw / (ceil(sz/MRRS) x 24))       (MRd)
 *
 * The expected values are computed here from those formulas, independently
 * of models/fabric/pcie.c; the simulated throughput (bytes / transfer time of one
 * large DMA through the event engine) must be within 1%. Also: a single
 * 64 B read takes exactly the sum of its hop latencies and serialization
 * times; packet mode (one TLP per event) and chunk mode agree within 1%; a
 * 1 GB transfer costs O(chunks) events.
 *
 * Credit-based flow control is held to PCIe Base Spec r5.0 section 2.6.1
 * (credit units, classes) and the credit round trip; see the credits_*
 * tests below.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/fabric/fabric.h"
#include "models/fabric/pcie.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"

static capture cap;
static uint64_t last_events;

/* Build and run a scenario; returns 0 or the build error (err filled). */
static void keep_events(sim *s) { last_events = sim_events(s); }

static int run_text(const char *text, sim_err *err)
{
    capture_opts o = {.finished = keep_events};
    return capture_run(&cap, text, &o, err);
}

/* One DMA of `bytes` over a single link; returns its throughput (B/s). */
static double one_link(int gen, int mps, int read, uint64_t bytes, const char *mode)
{
    char text[2048];
    /* read: the device pulls host memory (MRd up, CplD down);
     * write: the device pushes into host memory (MWr up). */
    snprintf(text, sizeof text,
             "name: neugebauer\n"
             "components:\n"
             "  - {name: host, type: cpu, dram_bandwidth: 1 TB/s}\n"
             "  - {name: dev, type: endpoint}\n"
             "  - {name: fabric, type: fabric, mode: %s}\n"
             "  - {name: load, type: xfer, src: %s, dst: %s, size: %llu B, path: dma}\n"
             "links:\n"
             "  - {name: l, type: pcie, link_overhead: pcie-bench, gen: %d, lanes: 16, max_payload: %d B,"
             " max_read_request: 512 B, ends: [host, dev]}\n",
             mode, read ? "host" : "dev", read ? "dev" : "host", (unsigned long long)bytes,
             gen, mps);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    return capture_get(&cap, "load", "bytes") / capture_get(&cap, "load", "latency_mean");
}

/* The analytical model, from the formulas above. */
static double neugebauer(int gen, int mps, int read, double sz)
{
    static const double gts[] = {0, 2.5, 5, 8, 16, 32};
    double raw = gts[gen] * 1e9 * 128.0 / 130.0 * 16 / 8;
    double lim = mps == 128 ? 144 : mps == 256 ? 168 : 182;
    double tlp_bw = raw * (1 - (8 / lim + 8 / lim + 4.0 / 1538));
    if (!read)
        return tlp_bw * sz / (sz + ceil(sz / mps) * 24);
    double rx = sz + ceil(sz / mps) * 20, tx = ceil(sz / 512) * 24;
    double ops = fmin(tlp_bw / rx, tlp_bw / tx);
    return ops * sz;
}

static void assert_close(double got, double want, double rel, const char *what)
{
    ck_assert_msg(fabs(got - want) <= rel * want, "%s: got %.6g, model %.6g (%.3f%% off)", what,
                  got, want, 100.0 * fabs(got - want) / want);
}

/* loop index: gen (3,4,5) x MPS (128,256,512) x op (write, read) */
START_TEST(neugebauer_bandwidth)
{
    int gen = 3 + _i / 6, mps = 128 << ((_i / 2) % 3), read = _i % 2;
    uint64_t bytes = 256ull << 20;
    double got = one_link(gen, mps, read, bytes, "chunk");
    double want = neugebauer(gen, mps, read, (double)bytes);
    char what[96];
    snprintf(what, sizeof what, "Gen%d x16 MPS %d %s", gen, mps, read ? "read" : "write");
    assert_close(got, want, 0.01, what);
    /* the pure function agrees with the same formula */
    pcie_cfg cfg = {gen, 16, (uint32_t)mps, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    assert_close(pcie_model_bw(&cfg, read, bytes), want, 1e-9, "pcie_model_bw");
}
END_TEST

START_TEST(packet_mode_agrees_with_chunk_mode)
{
    int read = _i;
    uint64_t bytes = 8ull << 20;
    double chunk = one_link(4, 256, read, bytes, "chunk");
    uint64_t ev_chunk = last_events;
    double packet = one_link(4, 256, read, bytes, "packet");
    uint64_t ev_packet = last_events;
    assert_close(packet, chunk, 0.01, read ? "read: packet vs chunk" : "write: packet vs chunk");
    /* packet mode really is one TLP per event: at least bytes / MPS events */
    ck_assert_uint_ge(ev_packet, bytes / 256);
    ck_assert_uint_lt(ev_chunk, ev_packet / 20);
}
END_TEST

START_TEST(read_64b_latency)
{
    /* host -- l1 -- sw -- l2 -- nic: the NIC reads 64 B of host memory.
     * Store-and-forward of single TLPs: latency = sum over steps of
     * (serialization + link latency + latency of the node entered):
     *   MRd nic->sw, MRd sw->host, DRAM read, CplD host->sw, CplD sw->nic. */
    const char *text =
        "name: lat64\n"
        "components:\n"
        "  - {name: host, type: cpu, latency: 200 ns, dram_latency: 90 ns, dram_bandwidth: 100 GB/s}\n"
        "  - {name: sw, type: pcie_switch, latency: 150 ns}\n"
        "  - {name: nic, type: endpoint, latency: 10 ns}\n"
        "  - {name: load, type: xfer, src: host, dst: nic, size: 64 B, path: dma}\n"
        "links:\n"
        "  - {name: l1, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 16, latency: 20 ns, ends: [host, sw]}\n"
        "  - {name: l2, type: pcie, link_overhead: pcie-bench, gen: 3, lanes: 8, latency: 30 ns, ends: [sw, nic]}\n";
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    double got = capture_get(&cap, "load", "latency_mean");
    /* serialization: (TLP bytes) / (1 - f) / raw, f for MPS 256 (x16: 168, x8: 203) */
    double raw1 = 16e9 * 128 / 130 * 16 / 8, raw2 = 8e9 * 128 / 130 * 8 / 8;
    double f1 = 16.0 / 168 + 4.0 / 1538, f2 = 16.0 / 203 + 4.0 / 1538;
    double mrd = 24, cpld = 64 + 20;
    double want = 0;
    want += mrd / (1 - f2) / raw2 + 30e-9 + 150e-9;   /* nic -> sw */
    want += mrd / (1 - f1) / raw1 + 20e-9 + 200e-9;   /* sw -> host (root complex) */
    want += 64 / 100e9 + 90e-9;                        /* DRAM */
    want += cpld / (1 - f1) / raw1 + 20e-9 + 150e-9;  /* host -> sw */
    want += cpld / (1 - f2) / raw2 + 30e-9 + 10e-9;   /* sw -> nic */
    ck_assert_msg(fabs(got - want) < 10e-12, "64 B read: %.12g s, sum of hops %.12g s", got,
                  want);
    /* order of magnitude of pcie-bench's 0.5-0.7 us on servers */
    ck_assert(got > 0.4e-6 && got < 1.0e-6);
}
END_TEST

START_TEST(events_are_o_chunks)
{
    /* 1 GB over one link at 256 KiB chunks: 3815 chunks, each costs an
     * ARRIVE and a DONE per step (3 steps: device memory, link, DRAM) and
     * one END: about 7 events per chunk. */
    uint64_t bytes = 1000000000ull;
    one_link(5, 256, 0, bytes, "chunk");
    uint64_t chunks = (bytes + 262143) / 262144;
    ck_assert_msg(last_events <= 10 * chunks, "%llu events for %llu chunks",
                  (unsigned long long)last_events, (unsigned long long)chunks);
}
END_TEST

START_TEST(gen6_flit)
{
    /* Gen6: 64 GT/s, no line code, 256 B flits carrying 236 B of TLPs; a
     * TLP carries only its 4-DW header (16 B): write = raw x 236/256 x
     * sz / (sz + ceil(sz/MPS) x 16). */
    char text[1024];
    snprintf(text, sizeof text,
             "name: g6\ncomponents:\n"
             "  - {name: host, type: cpu, dram_bandwidth: 1 TB/s}\n"
             "  - {name: dev, type: endpoint}\n"
             "  - {name: load, type: xfer, src: dev, dst: host, size: 256 MiB, path: dma}\n"
             "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, gen: 6, lanes: 16, max_payload: 256 B,"
             " ends: [host, dev]}\n");
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    double sz = 256.0 * (1 << 20);
    double want = 64e9 * 16 / 8 * 236.0 / 256 * sz / (sz + ceil(sz / 256) * 16);
    double got = capture_get(&cap, "load", "bytes") / capture_get(&cap, "load", "latency_mean");
    assert_close(got, want, 0.01, "Gen6 FLIT write");
}
END_TEST

/* The calibrated link layer (the default; pcie.h head comment), from its
 * causes: per TLP one 8 B ACK DLLP per `ack` TLPs and one 8 B UpdateFC per
 * `fc` TLPs (Gen1-4: 1 and 1, Gen5: 2 and 2; overridable), SKP ordered
 * sets one 16-symbol block per 375 blocks at 128b/130b (PCIe Base Spec
 * r5.0 4.2.7.3, the longest interval), and in Gen6 FLIT mode no DLLP
 * share but 236 B of TLPs per 256 B flit (the same SKP share assumed):
 *   write = raw x (1 - skp) x [236/256] x sz / (sz + n_MPS x (hdr_MWr + dllp))
 *   read  = min of the completion and request directions likewise.
 * loop index: gen (3,4,5,6) x op (write, read) x coalescing (default, 4/8) */
START_TEST(calibrated_overhead)
{
    int gen = 3 + _i / 4, read = _i % 2, explicit_co = (_i / 2) % 2;
    static const double gts[] = {0, 2.5, 5, 8, 16, 32, 64};
    char text[1024];
    snprintf(text, sizeof text,
             "name: cal\ncomponents:\n"
             "  - {name: host, type: cpu, dram_bandwidth: 1 TB/s}\n"
             "  - {name: dev, type: endpoint}\n"
             "  - {name: load, type: xfer, src: %s, dst: %s, size: 256 MiB, path: dma}\n"
             "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: %d, lanes: 16, max_payload: 256 B,"
             " max_read_request: 512 B%s, ends: [host, dev]}\n",
             read ? "host" : "dev", read ? "dev" : "host", gen,
             explicit_co ? ", ack_coalesce: 4, fc_coalesce: 8" : "");
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    double sz = 256.0 * (1 << 20);
    double raw = gts[gen] * 1e9 * (gen == 6 ? 1.0 : 128.0 / 130.0) * 16 / 8;
    double skp = 1.0 / 376;
    double ack = explicit_co ? 4 : gen == 5 ? 2 : 1, fc = explicit_co ? 8 : gen == 5 ? 2 : 1;
    double dllp = gen == 6 ? 0 : 8 / ack + 8 / fc;
    double flit = gen == 6 ? 236.0 / 256 : 1.0;
    double frame = gen == 6 ? 0 : 8; /* STP/seq + LCRC live in the flit in Gen6 */
    double mwr = frame + 16, cpld = frame + 12;
    double bw = raw * (1 - skp) * flit, want;
    if (!read)
        want = bw * sz / (sz + ceil(sz / 256) * (mwr + dllp));
    else
        want = sz * fmin(bw / (sz + ceil(sz / 256) * (cpld + dllp)),
                         bw / (ceil(sz / 512) * (mwr + dllp)));
    double got = capture_get(&cap, "load", "bytes") / capture_get(&cap, "load", "latency_mean");
    char what[96];
    snprintf(what, sizeof what, "calibrated Gen%d %s%s", gen, read ? "read" : "write",
             explicit_co ? " (ack 4, fc 8)" : "");
    assert_close(got, want, 0.01, what);
    pcie_cfg cfg = {gen, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_CALIBRATED,
                    explicit_co ? 4 : 0, explicit_co ? 8 : 0};
    assert_close(pcie_model_bw(&cfg, read, (uint64_t)sz), want, 1e-9, "pcie_model_bw");
    /* the calibrated ceiling is above pcie-bench's, whose DLLP share is an upper bound */
    cfg.overhead = PCIE_OVH_BENCH;
    if (gen < 6)
        ck_assert(pcie_model_bw(&cfg, read, (uint64_t)sz) < want);
}
END_TEST

START_TEST(protocol_arithmetic)
{
    pcie_cfg c = {3, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    ck_assert_uint_eq(pcie_hdr_mwr(&c), 24);   /* 8 DLL + 4 + 12 */
    ck_assert_uint_eq(pcie_hdr_cpld(&c), 20);  /* 8 DLL + 4 + 8 */
    c.addr64 = 0;
    ck_assert_uint_eq(pcie_hdr_mwr(&c), 20);   /* 3-DW header */
    c.ecrc = 1;
    ck_assert_uint_eq(pcie_hdr_mwr(&c), 24);   /* + 4 B digest */
    c.addr64 = 1;
    c.ecrc = 0;
    ck_assert_uint_eq(pcie_tlps(&c, PCIE_OP_WRITE, 4096, PCIE_DIR_DATA), 16);
    ck_assert_uint_eq(pcie_tlps(&c, PCIE_OP_READ, 4096, PCIE_DIR_REQ), 8);
    ck_assert_uint_eq(pcie_tlps(&c, PCIE_OP_WRITE, 4096, PCIE_DIR_REQ), 0);
    c.rcb_chunks = 1;
    ck_assert_uint_eq(pcie_tlps(&c, PCIE_OP_READ, 4096, PCIE_DIR_DATA), 64);
    c.rcb_chunks = 0;
    /* pieces add up to the whole */
    uint64_t sum = 0;
    for (uint64_t off = 0; off < 4096; off += 100)
        sum += pcie_tlps_at(&c, PCIE_OP_READ, off, off + 100 <= 4096 ? 100 : 4096 - off,
                            PCIE_DIR_REQ);
    ck_assert_uint_eq(sum, 8);
    /* encodings: Gen2 x1 = 5 GT/s x 8/10 / 8 = 500 MB/s; Gen3 x1 = 984.6 MB/s */
    pcie_cfg g2 = {2, 1, 128, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    assert_close(pcie_raw_rate(&g2), 5e8, 1e-12, "Gen2 x1 raw");
    pcie_cfg g3 = {3, 1, 128, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    assert_close(pcie_raw_rate(&g3), 8e9 * 128 / 130 / 8, 1e-12, "Gen3 x1 raw");
}
END_TEST

START_TEST(limits_x1_and_large_mps)
{
    /* Gen1 x1 (8b/10b, Ack limit 1071 at MPS 1024) and MPS 4096 on Gen3 x16 */
    pcie_cfg a = {1, 1, 1024, 4096, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double raw = 2.5e9 * 0.8 / 8, f = 16.0 / 1071 + 4.0 / 1538;
    double sz = 1 << 20;
    assert_close(pcie_model_bw(&a, PCIE_OP_WRITE, (uint64_t)sz),
                 raw * (1 - f) * sz / (sz + ceil(sz / 1024) * 24), 1e-9, "Gen1 x1 write");
    pcie_cfg b = {3, 16, 4096, 4096, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double raw3 = 8e9 * 128 / 130 * 2, f3 = 16.0 / 630 + 4.0 / 1538;
    assert_close(pcie_model_bw(&b, PCIE_OP_WRITE, (uint64_t)sz),
                 raw3 * (1 - f3) * sz / (sz + ceil(sz / 4096) * 24), 1e-9, "MPS 4096");
    const char *why;
    ck_assert_int_eq(pcie_cfg_check(&a, &why), 0);
}
END_TEST

START_TEST(zero_and_tiny_transfers)
{
    /* 0 B completes at once; 1 B still costs one TLP each way */
    char text[1024];
    snprintf(text, sizeof text,
             "name: z\ncomponents:\n  - {name: host, type: cpu}\n  - {name: dev, type: endpoint}\n"
             "  - {name: a, type: xfer, src: dev, dst: host, size: 0 B}\n"
             "  - {name: b, type: xfer, src: dev, dst: host, size: 1 B}\n"
             "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, ends: [host, dev]}\n");
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert(capture_get(&cap, "a", "latency_mean") == 0.0);
    ck_assert(capture_get(&cap, "b", "latency_mean") > 0.0);
    ck_assert_int_eq((int)capture_get(&cap, "b", "transfers"), 1);
}
END_TEST

static const char *const bad_links[] = {
    "{name: l, type: pcie, gen: 7, ends: [host, dev]}",
    "{name: l, type: pcie, lanes: 3, ends: [host, dev]}",
    "{name: l, type: pcie, max_payload: 100 B, ends: [host, dev]}",
    "{name: l, type: pcie, max_read_request: 8192 B, ends: [host, dev]}",
    "{name: l, type: pcie, rcb: 32 B, ends: [host, dev]}",
    "{name: l, type: pcie, max_payload: 256, ends: [host, dev]}", /* no unit */
    "{name: l, type: pcie, ack_coalesce: 0.01, ends: [host, dev]}",
    "{name: l, type: pcie, link_overhead: pcie-benhc, ends: [host, dev]}", /* did you mean */
};

START_TEST(bad_config_rejected)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: bad\ncomponents:\n  - {name: host, type: cpu}\n  - {name: dev, type: endpoint}\n"
             "links:\n  - %s\n",
             bad_links[_i]);
    sim_err err;
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_int_eq(err.line, 6);
}
END_TEST

/* ---- credit-based flow control (PCIe Base Spec r5.0 section 2.6.1) ----
 * Header credits: one per TLP; data credits: one per 16 B (4 DW) of
 * payload. A TLP leaves only when the receiver has advertised enough
 * credits of its class (posted, non-posted, completion); the receiver
 * returns them with an UpdateFC DLLP after draining the TLP. The credits
 * of one TLP of serialization time s are therefore out for
 *   RTT = s + latency + fc_drain + latency + 8 B / raw   (UpdateFC DLLP)
 * and a pool of C data credits carries at most C x 16 B per RTT. */

/* Gen4 x16, MPS 256: raw rate and DLLP share f (ACK limit 168 at x16). */
static double g4_raw(void) { return 16e9 * 128 / 130 * 16 / 8; }
static double g4_f(void) { return 16.0 / 168 + 4.0 / 1538; }

/* One DMA over one Gen4 x16 MPS 256 link with extra link keys. */
static double fc_link(int read, uint64_t bytes, const char *mode, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "name: fc\n"
             "components:\n"
             "  - {name: host, type: cpu, dram_bandwidth: 1 TB/s}\n"
             "  - {name: dev, type: endpoint}\n"
             "  - {name: fabric, type: fabric, mode: %s}\n"
             "  - {name: load, type: xfer, src: %s, dst: %s, size: %llu B, path: dma}\n"
             "links:\n"
             "  - {name: l, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 16, max_payload: 256 B,"
             " max_read_request: 512 B, ends: [host, dev]%s}\n",
             mode, read ? "host" : "dev", read ? "dev" : "host", (unsigned long long)bytes,
             extra);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    return capture_get(&cap, "load", "bytes") / capture_get(&cap, "load", "latency_mean");
}

/* loop: write, read. Ample credits (pools far above the bandwidth-delay
 * product, ~3 KB at 100 ns) leave throughput exactly as without credits. */
START_TEST(credits_ample_same_as_none)
{
    int read = _i;
    uint64_t bytes = 256ull << 20;
    double none = fc_link(read, bytes, "chunk", "");
    double ample = fc_link(read, bytes, "chunk",
                           ", credits: true, ph_credits: 256, pd_credits: 4096,"
                           " nph_credits: 64, cplh_credits: 256, cpld_credits: 4096");
    assert_close(ample, none, 0.001, read ? "read, ample credits" : "write, ample credits");
    ck_assert(capture_get(&cap, "l", read ? "update_fc:host->dev" : "update_fc:dev->host") > 0);
}
END_TEST

/* loop: packet mode, chunk mode. A posted-data pool of 32 credits (512 B,
 * two MWr of 256 B) on a 100 ns link with a 200 ns drain: the writes are
 * limited to 512 B / RTT with s = (256 + 24) / (1 - f) / raw. */
START_TEST(credits_posted_pool_limits_writes)
{
    const char *mode = _i ? "chunk" : "packet";
    double got = fc_link(0, 4u << 20, mode,
                         ", latency: 100 ns, credits: true, ph_credits: 0, pd_credits: 32,"
                         " fc_drain: 200 ns");
    double raw = g4_raw(), s = (256.0 + 24) / (1 - g4_f()) / raw;
    double rtt = s + 100e-9 + 200e-9 + 100e-9 + 8 / raw;
    double want = 32 * 16 / rtt;
    char what[64];
    snprintf(what, sizeof what, "512 B posted pool, %s mode", mode);
    assert_close(got, want, 0.01, what);
    /* far below the link: the direction sends 2 TLPs (2 s) per RTT and
     * waits for credits the rest, 1 - 2 s / RTT of the transfer's time */
    ck_assert(want < 0.1 * raw);
    double span = 4.0 * (1 << 20) / want;
    assert_close(capture_get(&cap, "l", "credit_stall_time:dev->host"),
                 span * (1 - 2 * s / rtt), 0.02, "credit stall time");
    ck_assert(capture_get(&cap, "l", "credit_stalls:dev->host") > 0);
}
END_TEST

/* Completion and posted credits are separate pools: host -- sw -- dev and
 * gpu -- sw; dev reads host memory (CplD sw->dev) while the GPU writes
 * into dev (MWr sw->dev), both crossing l2 in the same direction. l2's
 * receiver advertises 32 CplD credits (512 B) and infinite posted
 * credits: the read is held to 512 B / RTT_cpl, and the writes get the
 * rest of the direction, W0 x (1 - u_cpl), where W0 = raw (1 - f) 256 / 280
 * (the MWr stream alone) and u_cpl = R x (256 + 20) / 256 / ((1 - f) raw)
 * is the share of the direction the completions take. */
START_TEST(credits_classes_independent)
{
    const char *text =
        "name: fcx\n"
        "components:\n"
        "  - {name: host, type: cpu, dram_bandwidth: 1 TB/s}\n"
        "  - {name: sw, type: pcie_switch, latency: 100 ns}\n"
        "  - {name: gpu, type: gpu}\n"
        "  - {name: dev, type: endpoint}\n"
        "  - {name: fabric, type: fabric, mode: packet}\n"
        "  - {name: rd, type: xfer, src: host, dst: dev, size: 2 MiB, path: dma}\n"
        "  - {name: wr, type: xfer, src: gpu, dst: dev, size: 16 MiB, path: dma}\n"
        "links:\n"
        "  - {name: l1, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [host, sw]}\n"
        "  - {name: l3, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [gpu, sw]}\n"
        "  - {name: l2, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 16, max_payload: 256 B, latency: 100 ns,"
        " credits: true, ph_credits: 0, pd_credits: 0, nph_credits: 0, npd_credits: 0,"
        " cplh_credits: 0, cpld_credits: 32, fc_drain: 200 ns, ends: [sw, dev]}\n";
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    double raw = g4_raw(), tlp = (1 - g4_f()) * raw;
    double rtt = (256.0 + 20) / tlp + 100e-9 + 200e-9 + 100e-9 + 8 / raw;
    double r_want = 512 / rtt;
    double w0 = tlp * 256 / 280;
    double w_want = w0 * (1 - r_want * (256.0 + 20) / 256 / tlp);
    double r_got = capture_get(&cap, "rd", "throughput");
    double w_got = capture_get(&cap, "wr", "throughput");
    assert_close(r_got, r_want, 0.01, "read held by 32 CplD credits");
    assert_close(w_got, w_want, 0.01, "posted writes beside it");
    ck_assert(w_got > 15 * r_got);
}
END_TEST

START_TEST(credits_arithmetic)
{
    /* r5.0 2.6.1: a 256 B MWr = 1 PH + 16 PD; an MRd = 1 NPH, 0 NPD; a
     * 4 KiB read completes in 16 CplD of 256 B = 16 CplH + 256 CplD */
    pcie_cfg c = {4, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    uint64_t h, d;
    ck_assert_int_eq(pcie_fc_credits_at(&c, PCIE_OP_WRITE, 0, 256, PCIE_DIR_DATA, &h, &d),
                     PCIE_FC_P);
    ck_assert_uint_eq(h, 1);
    ck_assert_uint_eq(d, 16);
    ck_assert_int_eq(pcie_fc_credits_at(&c, PCIE_OP_READ, 0, 4096, PCIE_DIR_REQ, &h, &d),
                     PCIE_FC_NP);
    ck_assert_uint_eq(h, 8);
    ck_assert_uint_eq(d, 0);
    ck_assert_int_eq(pcie_fc_credits_at(&c, PCIE_OP_READ, 0, 4096, PCIE_DIR_DATA, &h, &d),
                     PCIE_FC_CPL);
    ck_assert_uint_eq(h, 16);
    ck_assert_uint_eq(d, 256);
    /* a 100 B write: 1 PH, ceil(100/16) = 7 PD; pieces add up */
    pcie_fc_credits_at(&c, PCIE_OP_WRITE, 0, 100, PCIE_DIR_DATA, &h, &d);
    ck_assert_uint_eq(d, 7);
    uint64_t sh = 0, sd = 0;
    for (uint64_t off = 0; off < 1000; off += 48) {
        pcie_fc_credits_at(&c, PCIE_OP_WRITE, off, off + 48 <= 1000 ? 48 : 1000 - off,
                           PCIE_DIR_DATA, &h, &d);
        sh += h;
        sd += d;
    }
    ck_assert_uint_eq(sh, 4);               /* ceil(1000 / 256) */
    ck_assert_uint_eq(sd, 63);              /* 3 x 16 + ceil(232 / 16) */
    /* largest chunk a pool admits: whole TLPs */
    ck_assert_uint_eq(pcie_fc_max_bytes(&c, PCIE_OP_WRITE, PCIE_DIR_DATA, 0, 40), 512);
    ck_assert_uint_eq(pcie_fc_max_bytes(&c, PCIE_OP_WRITE, PCIE_DIR_DATA, 1, 40), 256);
    ck_assert_uint_eq(pcie_fc_max_bytes(&c, PCIE_OP_READ, PCIE_DIR_REQ, 4, 1), 2048);
    ck_assert_uint_eq(pcie_fc_max_bytes(&c, PCIE_OP_WRITE, PCIE_DIR_DATA, 0, 0), 0);
}
END_TEST

static const char *const bad_credits[] = {
    "pd_credits: 8",    /* < MPS/16 = 16: cannot carry one max-size TLP */
    "cpld_credits: 15",
    "ph_credits: 16777216",
};

START_TEST(bad_credits_rejected)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: bad\ncomponents:\n  - {name: host, type: cpu}\n  - {name: dev, type: endpoint}\n"
             "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, max_payload: 256 B, credits: true, %s,"
             " ends: [host, dev]}\n",
             bad_credits[_i]);
    sim_err err;
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_int_eq(err.line, 6);
    ck_assert_ptr_nonnull(strstr(err.msg, "credits"));
}
END_TEST

static Suite *pcie_suite(void)
{
    Suite *s = suite_create("pcie");
    TCase *core = tcase_create("Core");
    tcase_set_timeout(core, 60);
    tcase_add_loop_test(core, neugebauer_bandwidth, 0, 18);
    tcase_add_loop_test(core, packet_mode_agrees_with_chunk_mode, 0, 2);
    tcase_add_test(core, read_64b_latency);
    tcase_add_test(core, events_are_o_chunks);
    tcase_add_test(core, gen6_flit);
    tcase_add_loop_test(core, calibrated_overhead, 0, 16);
    tcase_add_test(core, protocol_arithmetic);
    tcase_add_loop_test(core, credits_ample_same_as_none, 0, 2);
    tcase_add_loop_test(core, credits_posted_pool_limits_writes, 0, 2);
    tcase_add_test(core, credits_classes_independent);
    tcase_add_test(core, credits_arithmetic);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, limits_x1_and_large_mps);
    tcase_add_test(lim, zero_and_tiny_transfers);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_loop_test(errs, bad_config_rejected, 0, 8);
    tcase_add_loop_test(errs, bad_credits_rejected, 0, 3);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(pcie_suite());
}
