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
 * of models/pcie.c; the simulated throughput (bytes / transfer time of one
 * large DMA through the event engine) must be within 1%. Also: a single
 * 64 B read takes exactly the sum of its hop latencies and serialization
 * times; packet mode (one TLP per event) and chunk mode agree within 1%; a
 * 1 GB transfer costs O(chunks) events.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/fabric.h"
#include "models/pcie.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"

static capture cap;
static uint64_t last_events;

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
        last_events = sim_events(s);
    }
    sim_destroy(s);
    scn_free(doc);
    return rc;
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
             "  - {name: l, type: pcie, gen: %d, lanes: 16, max_payload: %d B,"
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
    pcie_cfg cfg = {gen, 16, (uint32_t)mps, 512, 64, 1, 0, 0, 1};
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
        "  - {name: l1, type: pcie, gen: 4, lanes: 16, latency: 20 ns, ends: [host, sw]}\n"
        "  - {name: l2, type: pcie, gen: 3, lanes: 8, latency: 30 ns, ends: [sw, nic]}\n";
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
             "links:\n  - {name: l, type: pcie, gen: 6, lanes: 16, max_payload: 256 B,"
             " ends: [host, dev]}\n");
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    double sz = 256.0 * (1 << 20);
    double want = 64e9 * 16 / 8 * 236.0 / 256 * sz / (sz + ceil(sz / 256) * 16);
    double got = capture_get(&cap, "load", "bytes") / capture_get(&cap, "load", "latency_mean");
    assert_close(got, want, 0.01, "Gen6 FLIT write");
}
END_TEST

START_TEST(protocol_arithmetic)
{
    pcie_cfg c = {3, 16, 256, 512, 64, 1, 0, 0, 1};
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
    pcie_cfg g2 = {2, 1, 128, 512, 64, 1, 0, 0, 1};
    assert_close(pcie_raw_rate(&g2), 5e8, 1e-12, "Gen2 x1 raw");
    pcie_cfg g3 = {3, 1, 128, 512, 64, 1, 0, 0, 1};
    assert_close(pcie_raw_rate(&g3), 8e9 * 128 / 130 / 8, 1e-12, "Gen3 x1 raw");
}
END_TEST

START_TEST(limits_x1_and_large_mps)
{
    /* Gen1 x1 (8b/10b, Ack limit 1071 at MPS 1024) and MPS 4096 on Gen3 x16 */
    pcie_cfg a = {1, 1, 1024, 4096, 64, 1, 0, 0, 1};
    double raw = 2.5e9 * 0.8 / 8, f = 16.0 / 1071 + 4.0 / 1538;
    double sz = 1 << 20;
    assert_close(pcie_model_bw(&a, PCIE_OP_WRITE, (uint64_t)sz),
                 raw * (1 - f) * sz / (sz + ceil(sz / 1024) * 24), 1e-9, "Gen1 x1 write");
    pcie_cfg b = {3, 16, 4096, 4096, 64, 1, 0, 0, 1};
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
             "links:\n  - {name: l, type: pcie, ends: [host, dev]}\n");
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
    tcase_add_test(core, protocol_arithmetic);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, limits_x1_and_large_mps);
    tcase_add_test(lim, zero_and_tiny_transfers);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_loop_test(errs, bad_config_rejected, 0, 6);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pcie_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
