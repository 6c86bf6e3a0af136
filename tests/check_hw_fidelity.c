/*
 * check_hw_fidelity.c - memfab against measured hardware.
 *
 * Core: the device DMA costs (devices_int.h fab_dma) held to exact
 * arithmetic: a 64 B read by a device with a doorbell, a descriptor fetch,
 * descriptor processing, a completion write-back and an MSI-X interrupt
 * takes exactly the sum of its hops; a device with T read tags of R bytes
 * pulls at T x R / round trip (Little's law) when that is below the link.
 *
 * Storage and hosts: the NVMe flash units (devices.c nvme_units) held to
 * Little's law, IOPS(QD) = min(QD, units) / (svc + path) with units =
 * ceil(IOPS x latency), svc = max(latency, units / IOPS); a remote-socket
 * DMA read paying exactly 2 x the socket link's latency + 64 B over its
 * bandwidth more than a local one; presets reaching the state, an
 * entry's own keys overriding them, and unknown presets refused with a
 * suggestion at file:line:column (exit 2 on the command line).
 *
 * Measured: each published measurement memfab is compared with, its
 * source, the setup reproducing it (a scenario with the default link
 * model, `link_overhead: calibrated`) and the tolerance: 5% for
 * bandwidths, 15% for latencies and IOPS. A measurement memfab cannot
 * reach stays in the table as a known gap: its test asserts the gap's
 * documented band (and that it is outside the tolerance, so a model change
 * that closes it is noticed) and says why. With MEMFAB_HW_TABLE set in the
 * environment the suite prints the README's "memfab vs measured" table
 * (CK_RUN_CASE=Core MEMFAB_HW_TABLE=1 build/debug/tests/check_hw_fidelity).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include "models/fabric/devices_int.h"
#include "models/fabric/pcie.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"

static capture cap;

static void run_ok(const char *text)
{
    sim_err err;
    ck_assert_msg(capture_run(&cap, text, NULL, &err) == 0, "%s", err.msg);
}

/* Build (not run) a scenario; the caller destroys s and doc. */
static sim *build_ok(const char *text, scn_doc **doc)
{
    sim_err err;
    *doc = capture_load("t.yaml", text, NULL, &err);
    sim *s = sim_create();
    ck_assert_msg(sim_build(s, *doc, memfab_models, NULL, &err) == 0, "%s", err.msg);
    return s;
}

static double wire_s(const pcie_cfg *c, int op, uint64_t bytes, int dir)
{
    return pcie_wire_bytes(c, op, bytes, dir) / pcie_raw_rate(c);
}

/* ---- Core: device DMA costs -------------------------------------------- */

START_TEST(dma_costs_64b_read_exact)
{
    /* host -- l -- nic: the NIC reads 64 B of host memory after the host
     * rang its doorbell and it fetched a 64 B descriptor; it writes a 16 B
     * completion and raises MSI-X. Single TLPs are store-and-forward:
     * every hop costs serialization + link latency + the node entered. */
    const char *text =
        "name: dma64\ncomponents:\n"
        "  - {name: host, type: cpu, latency: 150 ns, dram_latency: 90 ns,"
        " dram_bandwidth: 100 GB/s}\n"
        "  - {name: nic, type: endpoint, latency: 40 ns, dma_descriptor: 100 ns, doorbell: 4 B,"
        " descriptor_fetch: 64 B, completion: 16 B, msix: true}\n"
        "  - {name: load, type: xfer, src: host, dst: nic, size: 64 B, path: dma}\n"
        "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 3, lanes: 8, latency: 30 ns, ends: [host, nic]}\n";
    run_ok(text);
    double got = capture_get(&cap, "load", "latency_mean");
    pcie_cfg c = {3, 8, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_CALIBRATED, 0, 0};
    double L = 30e-9, rc = 150e-9, dev = 40e-9, dram = 64 / 100e9 + 90e-9;
    double want = 0;
    want += wire_s(&c, PCIE_OP_WRITE, 4, PCIE_DIR_DATA) + L + dev;  /* doorbell */
    want += wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_REQ) + L + rc;    /* fetch: MRd */
    want += dram;                                                  /* descriptor in DRAM */
    want += wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_DATA) + L + dev; /* its CplD */
    want += 100e-9;                                                /* processing */
    want += wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_REQ) + L + rc;    /* data: MRd */
    want += dram;
    want += wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_DATA) + L + dev; /* CplD */
    want += wire_s(&c, PCIE_OP_WRITE, 16, PCIE_DIR_DATA) + L + rc; /* completion */
    want += wire_s(&c, PCIE_OP_WRITE, 4, PCIE_DIR_DATA) + L + rc;  /* MSI-X */
    ck_assert_msg(fabs(got - want) < 20e-12, "64 B read with DMA costs: %.12g s, hops %.12g s",
                  got, want);
    /* the costs are on the wire: 4 TLPs host->nic beyond the data's CplD */
    ck_assert_double_eq_tol(capture_get(&cap, "fabric", "transfers:dma"), 1, 1e-9);
}
END_TEST

START_TEST(dma_costs_off_is_ideal)
{
    /* all costs 0 (the defaults): the read is the bare hops */
    const char *text =
        "name: dma0\ncomponents:\n"
        "  - {name: host, type: cpu, latency: 150 ns, dram_latency: 90 ns,"
        " dram_bandwidth: 100 GB/s}\n"
        "  - {name: nic, type: endpoint, latency: 40 ns}\n"
        "  - {name: load, type: xfer, src: host, dst: nic, size: 64 B, path: dma}\n"
        "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 3, lanes: 8, latency: 30 ns, ends: [host, nic]}\n";
    run_ok(text);
    pcie_cfg c = {3, 8, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_CALIBRATED, 0, 0};
    double want = wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_REQ) + 30e-9 + 150e-9 + 64 / 100e9 +
                  90e-9 + wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_DATA) + 30e-9 + 40e-9;
    ck_assert(fabs(capture_get(&cap, "load", "latency_mean") - want) < 20e-12);
}
END_TEST

START_TEST(read_tags_littles_law)
{
    /* 4 tags of 256 B: the transfer keeps 1 KiB in flight, as 4 chunks of
     * 256 B (fabric.c), each back one round trip after it left:
     *   RTT = MRd + L + rc + DRAM(256 B) + CplD + L + dev
     *   throughput = 4 x 256 B / RTT   (far below the Gen4 x16 link) */
    const char *text =
        "name: tags\ncomponents:\n"
        "  - {name: host, type: cpu, latency: 150 ns, dram_latency: 90 ns,"
        " dram_bandwidth: 100 GB/s}\n"
        "  - {name: nic, type: endpoint, latency: 40 ns, read_tags: 4, read_request: 256 B}\n"
        "  - {name: load, type: xfer, src: host, dst: nic, size: 4 MiB, path: dma}\n"
        "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 4, lanes: 16, latency: 30 ns, ends: [host, nic]}\n";
    run_ok(text);
    double got = capture_get(&cap, "load", "bytes") / capture_get(&cap, "load", "latency_mean");
    pcie_cfg c = {4, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_CALIBRATED, 0, 0};
    double rtt = wire_s(&c, PCIE_OP_READ, 256, PCIE_DIR_REQ) + 30e-9 + 150e-9 + 256 / 100e9 +
                 90e-9 + wire_s(&c, PCIE_OP_READ, 256, PCIE_DIR_DATA) + 30e-9 + 40e-9;
    double want = 1024 / rtt;
    ck_assert_msg(fabs(got - want) <= 0.01 * want, "tag-limited: %.4g B/s, Little %.4g B/s", got,
                  want);
    ck_assert(want < 0.2 * pcie_model_bw(&c, PCIE_OP_READ, 4 << 20));
}
END_TEST

/* ---- Core: copy engine vs copy kernel (fabric.h FABRIC_COPY_*) ---------- */

/* host -- l -- gpu, a 64 B host-to-device copy of `pieces` pieces by the
 * GPU's copy engine (doorbell, descriptor fetch, one descriptor per piece,
 * completion, MSI-X) or by a copy kernel (its launch, then its loads). */
static void small_copy(char *buf, size_t n, const char *copy, int pieces)
{
    snprintf(buf, n,
             "name: cesm\ncomponents:\n"
             "  - {name: host, type: cpu, latency: 150 ns, dram_latency: 90 ns,"
             " dram_bandwidth: 100 GB/s}\n"
             "  - {name: gpu, type: gpu, latency: 40 ns, hbm_latency: 100 ns, hbm_bandwidth: 3.2 TB/s,"
             " dma_descriptor: 500 ns, doorbell: 4 B, descriptor_fetch: 64 B, completion: 16 B,"
             " msix: true, sm_launch: 3 us, sm_copy_sms: 16}\n"
             "  - {name: load, type: xfer, src: host, dst: gpu, size: 64 B, path: dma,"
             " copy_engine: %s, pieces: %d}\n"
             "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 3, lanes: 8,"
             " latency: 30 ns, ends: [host, gpu]}\n",
             copy, pieces);
}

START_TEST(ce_vs_sm_small_copy_exact)
{
    /* every hop store-and-forward (one TLP each): serialization + link
     * latency + the node entered; the data's MRd/CplD and the HBM write
     * are common to both, the rest is each variant's own */
    pcie_cfg c = {3, 8, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_CALIBRATED, 0, 0};
    double L = 30e-9, rc = 150e-9, dev = 40e-9, dram = 64 / 100e9 + 90e-9;
    double data = wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_REQ) + L + rc + dram +
                  wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_DATA) + L + dev +
                  64 / 3.2e12 + 100e-9; /* HBM write */
    double ce_fixed = wire_s(&c, PCIE_OP_WRITE, 4, PCIE_DIR_DATA) + L + dev     /* doorbell */
                      + wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_REQ) + L + rc + dram /* fetch */
                      + wire_s(&c, PCIE_OP_READ, 64, PCIE_DIR_DATA) + L + dev
                      + wire_s(&c, PCIE_OP_WRITE, 16, PCIE_DIR_DATA) + L + rc   /* completion */
                      + wire_s(&c, PCIE_OP_WRITE, 4, PCIE_DIR_DATA) + L + rc;   /* MSI-X */
    char text[1024];
    for (int pieces = 1; pieces <= 8; pieces *= 8) {
        small_copy(text, sizeof text, "ce", pieces);
        run_ok(text);
        double want = ce_fixed + pieces * 500e-9 + data; /* one descriptor per piece */
        double got = capture_get(&cap, "load", "latency_mean");
        ck_assert_msg(fabs(got - want) < 20e-12, "CE, %d pieces: %.12g s, hops %.12g s", pieces,
                      got, want);
        ck_assert(isnan(capture_get(&cap, "gpu", "sm_copy_sm_seconds"))); /* no kernel ran */
        small_copy(text, sizeof text, "sm", pieces);
        run_ok(text);
        want = 3e-6 + data; /* one launch, whatever the pieces */
        got = capture_get(&cap, "load", "latency_mean");
        ck_assert_msg(fabs(got - want) < 20e-12, "SM, %d pieces: %.12g s, hops %.12g s", pieces,
                      got, want);
        /* its SM time: 16 SMs x the copy's duration */
        ck_assert_double_eq_tol(capture_get(&cap, "gpu", "sm_copy_sm_seconds"), 16 * got,
                                1e-15);
    }
    /* the crossover: 8 pieces cost the engine 4 us of descriptors, more than the launch */
    ck_assert(ce_fixed + 8 * 500e-9 > 3e-6 && ce_fixed + 500e-9 < 3e-6);
}
END_TEST

START_TEST(sm_copy_littles_law)
{
    /* a copy kernel pulling from host memory keeps sm_read_tags loads of
     * sm_read_request bytes outstanding: 8 x 128 B = 1 KiB in flight, as 4
     * chunks of 256 B (fabric.c), each back one round trip after it left:
     *   RTT = MRd + L + rc + DRAM(256 B) + CplD + L + dev + HBM(256 B)
     *   throughput = 1 KiB / RTT (Little's law, far below the link) */
    const char *text =
        "name: smtags\ncomponents:\n"
        "  - {name: host, type: cpu, latency: 150 ns, dram_latency: 90 ns,"
        " dram_bandwidth: 100 GB/s}\n"
        "  - {name: gpu, type: gpu, latency: 40 ns, hbm_latency: 0 ns, hbm_bandwidth: 3.2 TB/s,"
        " sm_read_tags: 8, sm_read_request: 128 B}\n"
        "  - {name: load, type: xfer, src: host, dst: gpu, size: 4 MiB, path: dma,"
        " copy_engine: sm}\n"
        "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 4, lanes: 16,"
        " latency: 30 ns, ends: [host, gpu]}\n";
    run_ok(text);
    double got = capture_get(&cap, "load", "bytes") / capture_get(&cap, "load", "latency_mean");
    pcie_cfg c = {4, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_CALIBRATED, 0, 0};
    double rtt = wire_s(&c, PCIE_OP_READ, 256, PCIE_DIR_REQ) + 30e-9 + 150e-9 + 256 / 100e9 +
                 90e-9 + wire_s(&c, PCIE_OP_READ, 256, PCIE_DIR_DATA) + 30e-9 + 40e-9 +
                 256 / 3.2e12;
    double want = 1024 / rtt;
    ck_assert_msg(fabs(got - want) <= 0.01 * want, "SM tag-limited: %.4g B/s, Little %.4g B/s",
                  got, want);
    /* the stores of a device-to-host kernel are posted: no cap, the link's rate */
    const char *d2h =
        "name: smd2h\ncomponents:\n  - {name: host, type: cpu}\n"
        "  - {name: gpu, type: gpu, sm_read_tags: 8, sm_read_request: 128 B}\n"
        "  - {name: load, type: xfer, src: gpu, dst: host, size: 64 MiB, path: dma,"
        " copy_engine: sm}\n"
        "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 4, lanes: 16,"
        " ends: [host, gpu]}\n";
    run_ok(d2h);
    double link = pcie_model_bw(&c, PCIE_OP_WRITE, 64 << 20);
    ck_assert(fabs(capture_get(&cap, "load", "throughput") - link) <= 0.02 * link);
}
END_TEST

START_TEST(sm_copy_holds_no_engine)
{
    /* one copy engine, two copies at once: the second CE copy waits for
     * the engine; copy kernels do not (they share the link instead) */
    const char *fmt =
        "name: gate\ncomponents:\n  - {name: host, type: cpu}\n"
        "  - {name: gpu, type: gpu, copy_engines: 1}\n"
        "  - {name: load, type: xfer, src: gpu, dst: host, size: 8 MiB, path: dma, count: 2,"
        " outstanding: 2, copy_engine: %s}\n"
        "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 4, lanes: 16,"
        " ends: [host, gpu]}\n";
    char text[512];
    snprintf(text, sizeof text, fmt, "ce");
    run_ok(text);
    ck_assert_double_eq_tol(capture_get(&cap, "gpu", "copy_engine_waits"), 1, 1e-9);
    double ce_lat = capture_get(&cap, "load", "latency_mean");
    snprintf(text, sizeof text, fmt, "sm");
    run_ok(text);
    ck_assert_double_eq_tol(capture_get(&cap, "gpu", "copy_engine_waits"), 0, 1e-9);
    /* serialized: latencies T and 2T (mean 1.5 T); shared: both about 2T */
    ck_assert(capture_get(&cap, "load", "latency_mean") > 1.2 * ce_lat);
}
END_TEST

static const char *const bad_copy[] = {
    /* a copy kernel needs a GPU end on the DMA path */
    "  - {name: load, type: xfer, src: host, dst: ssd, size: 1 MiB, path: dma, copy_engine: sm}\n",
    "  - {name: load, type: xfer, src: ssd, dst: gpu, size: 1 MiB, path: gds, copy_engine: sm}\n",
    "  - {name: load, type: xfer, src: host, dst: gpu, size: 1 MiB, copy_engine: smx}\n",
    "  - {name: load, type: xfer, src: host, dst: gpu, size: 1 MiB, pieces: 0}\n",
    "  - {name: load, type: xfer, src: host, dst: gpu, size: 1 MiB}\n"
    "  - {name: g2, type: gpu, sm_copy_sms: 0}\n",
};
static const int bad_copy_col[] = {88, 87, 77, 72, 40}; /* the values */

START_TEST(bad_copy_rejected)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: bad\ncomponents:\n  - {name: host, type: cpu}\n  - {name: gpu, type: gpu}\n"
             "  - {name: ssd, type: nvme}\n%s"
             "links:\n  - {name: a, type: pcie, ends: [host, gpu]}\n"
             "  - {name: b, type: pcie, ends: [host, ssd]}\n",
             bad_copy[_i]);
    sim_err err;
    ck_assert_int_ne(capture_build("t.yaml", text, 1, &err), 0);
    ck_assert_msg(err.line == 6 + (_i == 4), "line %d: %s", err.line, err.msg);
    ck_assert_msg(err.col == bad_copy_col[_i], "column %d: %s", err.col, err.msg);
}
END_TEST

static const char *const bad_dma[] = {
    "{name: nic, type: endpoint, read_tags: 8, read_request: 8 KiB}",
    "{name: nic, type: endpoint, read_tags: 100000}",
    "{name: g, type: gpu, completion: 8 KiB}",
    "{name: d, type: nvme, doorbel: 4 B}", /* unknown key: did you mean */
    "{name: d, type: nvme, latency_spread: 1.5}",
    "{name: d, type: nvme, random_read_iops: -1}",
};

START_TEST(bad_dma_rejected)
{
    char text[512];
    snprintf(text, sizeof text, "name: bad\ncomponents:\n  - {name: host, type: cpu}\n  - %s\n",
             bad_dma[_i]);
    sim_err err;
    ck_assert_int_ne(capture_build("t.yaml", text, 0, &err), 0);
    ck_assert_int_eq(err.line, 4);
}
END_TEST

/* ---- Storage and hosts --------------------------------------------------- */

/* A drive with no command costs behind a Gen4 x4 link: random 4 KiB reads
 * at queue depth `qd`, `count` of them (qd <= 4096). */
static void qd_run(const char *drive, unsigned qd, unsigned count)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: qd\ncomponents:\n  - {name: host, type: cpu}\n"
             "  - {name: ssd, type: nvme, %s}\n"
             "  - {name: load, type: xfer, src: ssd, dst: host, size: 4 KiB, random: true,"
             " outstanding: %u, count: %u, path: dma}\n"
             "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 4, lanes: 4,"
             " ends: [host, ssd]}\n",
             drive, qd, count);
    run_ok(text);
}

START_TEST(nvme_units_arithmetic)
{
    /* units = min(queue_depth, parallelism, ceil(X L)), svc = max(L, units / X) */
    static const struct {
        const char *drive;
        uint32_t units_r, units_w;
        sim_time svc_r, svc_w;
    } c[] = {
        /* 1 M IOPS x 50 us = 50 units of exactly 50 us */
        {"random_read_iops: 1000000, read_latency: 50 us, random_write_iops: 500000,"
         " write_latency: 10 us, queue_depth: 1024", 50, 5, 50000000, 10000000},
        /* 640 K x 15 us = 9.6: 10 units of 10 / 640 K = 15.625 us (Micron 9550 writes) */
        {"random_read_iops: 3300000, read_latency: 60 us, random_write_iops: 640000,"
         " write_latency: 15 us, queue_depth: 1024", 198, 10, 60000000, 15625000},
        /* the queue depth holds it lower: 32 units of 50 us (640 K IOPS, not 1 M) */
        {"random_read_iops: 1000000, read_latency: 50 us, queue_depth: 32", 32, 8, 50000000,
         21845333},
        /* parallelism likewise; writes at the default 1.5 GB/s: 366.2 K x 20 us = 7.3 -> 8 */
        {"random_read_iops: 1000000, read_latency: 50 us, parallelism: 20", 20, 8, 50000000,
         21845333},
    };
    char text[768];
    snprintf(text, sizeof text,
             "name: u\ncomponents:\n  - {name: host, type: cpu}\n"
             "  - {name: ssd, type: nvme, %s}\n",
             c[_i].drive);
    scn_doc *doc;
    sim *s = build_ok(text, &doc);
    const fab_nvme *d = sim_find(s, "ssd")->state;
    ck_assert_uint_eq(d->units_r, c[_i].units_r);
    ck_assert_uint_eq(d->units_w, c[_i].units_w);
    ck_assert_msg(d->svc_r == c[_i].svc_r && d->svc_w == c[_i].svc_w,
                  "case %d: svc %llu/%llu ps", _i, (unsigned long long)d->svc_r,
                  (unsigned long long)d->svc_w);
    sim_destroy(s);
    scn_free(doc);
}
END_TEST

START_TEST(nvme_qd_curve)
{
    /* Little's law on a drive of 50 units of 50 us (1 M IOPS): below
     * 50 I/Os in flight each costs T1 = svc + path, IOPS = QD / T1; past
     * the units (and the path's share) the drive gives 1 M IOPS. */
    const char *drive = "random_read_iops: 1000000, read_latency: 50 us, queue_depth: 1024";
    qd_run(drive, 1, 200);
    double t1 = capture_get(&cap, "load", "latency_mean");
    ck_assert_msg(t1 > 50e-6 && t1 < 52e-6, "QD1: %.4g s = svc 50 us + a PCIe path", t1);
    static const unsigned qds[] = {2, 8, 32, 48, 64, 256, 1024};
    for (size_t i = 0; i < sizeof qds / sizeof qds[0]; i++) {
        qd_run(drive, qds[i], 40 * qds[i] > 20000 ? 40 * qds[i] : 20000);
        double iops = capture_get(&cap, "load", "throughput") / 4096;
        double want = fmin((double)qds[i] / t1, 50 / 50e-6);
        ck_assert_msg(fabs(iops - want) <= 0.01 * want, "QD %u: %.6g IOPS, Little %.6g", qds[i],
                      iops, want);
        ck_assert_double_eq_tol(capture_get(&cap, "ssd", "random_reads"), 40 * qds[i] > 20000 ? 40 * qds[i] : 20000, 0.5);
    }
}
END_TEST

START_TEST(nvme_spread_breaks_lockstep)
{
    /* With identical flash times, I/Os that start together stay in
     * lockstep: their completions and MSI-X writes queue behind the
     * batch's data on the link, so QD 32 falls well short of Little's
     * law. A spread of each I/O's flash time (uniform, mean kept) breaks
     * the lockstep and the curve follows Little's law with the QD-1 time. */
    qd_run("preset: gen4-x4-990pro, latency_spread: 0.2", 1, 4000);
    double t1 = capture_get(&cap, "load", "latency_mean");
    qd_run("preset: gen4-x4-990pro", 1, 4000);
    double t1_fixed = capture_get(&cap, "load", "latency_mean");
    ck_assert_msg(fabs(t1 - t1_fixed) <= 0.005 * t1_fixed, "mean kept: %.6g vs %.6g s", t1,
                  t1_fixed);
    qd_run("preset: gen4-x4-990pro, latency_spread: 0.2", 32, 20000);
    double iops = capture_get(&cap, "load", "throughput") / 4096;
    ck_assert_msg(fabs(iops - 32 / t1) <= 0.03 * 32 / t1, "QD 32 spread: %.6g IOPS, Little %.6g",
                  iops, 32 / t1);
    qd_run("preset: gen4-x4-990pro", 32, 20000);
    double lock = capture_get(&cap, "load", "throughput") / 4096;
    ck_assert_msg(lock < 0.85 * 32 / t1, "QD 32 in lockstep: %.6g IOPS", lock);
}
END_TEST

START_TEST(numa_penalty_exact)
{
    /* a NIC under host0 reads 64 B of host0's and of host1's DRAM: the
     * remote read crosses the socket link twice (request: latency only;
     * data: 64 B / bandwidth + latency) and no root complex of its own
     * (devices.c cpu_entry_waived); the remote DRAM is host1's */
    const char *fmt =
        "name: numa\ncomponents:\n"
        "  - {name: host0, type: cpu, dram_latency: 90 ns}\n"
        "  - {name: host1, type: cpu, dram_latency: %s, socket: 1}\n"
        "  - {name: nic, type: endpoint, latency: 150 ns}\n"
        "  - {name: load, type: xfer, src: %s, dst: nic, size: 64 B, count: 10, path: dma}\n"
        "links:\n  - {name: u, type: upi, %s, ends: [host0, host1]}\n"
        "  - {name: l, type: pcie, link_overhead: calibrated, gen: 5, lanes: 16, ends: [host0, nic]}\n";
    char text[1024];
    snprintf(text, sizeof text, fmt, "90 ns", "host0", "bandwidth: 20 GB/s, latency: 70 ns");
    run_ok(text);
    double local = capture_get(&cap, "load", "latency_mean");
    snprintf(text, sizeof text, fmt, "90 ns", "host1", "bandwidth: 20 GB/s, latency: 70 ns");
    run_ok(text);
    double remote = capture_get(&cap, "load", "latency_mean");
    double want = 2 * 70e-9 + 64 / 20e9;
    ck_assert_msg(fabs(remote - local - want) < 20e-12, "penalty %.12g s, want %.12g s",
                  remote - local, want);
    /* the remote socket's own DRAM latency counts, not the local one's */
    snprintf(text, sizeof text, fmt, "140 ns", "host1", "bandwidth: 20 GB/s, latency: 70 ns");
    run_ok(text);
    ck_assert(fabs(capture_get(&cap, "load", "latency_mean") - remote - 50e-9) < 20e-12);
    /* the preset: 2 x 46.4 ns + 64 B / 256 GB/s = 93.05 ns */
    snprintf(text, sizeof text, fmt, "90 ns", "host1", "preset: genoa-xgmi-4x32g");
    run_ok(text);
    ck_assert(fabs(capture_get(&cap, "load", "latency_mean") - local - 93.05e-9) < 20e-12);
}
END_TEST

START_TEST(numa_remote_bandwidth)
{
    /* 256 MiB from the remote socket by a Gen5 x16 device: the socket
     * link (20 GB/s) is the narrowest server on the way */
    const char *text =
        "name: numabw\ncomponents:\n  - {name: host0, type: cpu}\n"
        "  - {name: host1, type: cpu, socket: 1}\n"
        "  - {name: nic, type: endpoint}\n"
        "  - {name: load, type: xfer, src: host1, dst: nic, size: 256 MiB, path: dma}\n"
        "links:\n  - {name: u, type: upi, bandwidth: 20 GB/s, ends: [host0, host1]}\n"
        "  - {name: l, type: pcie, link_overhead: calibrated, gen: 5, lanes: 16, ends: [host0, nic]}\n";
    run_ok(text);
    double bw = capture_get(&cap, "load", "throughput");
    ck_assert_msg(fabs(bw - 20e9) <= 0.01 * 20e9, "remote read at %.4g B/s", bw);
}
END_TEST

START_TEST(presets_reach_state)
{
    scn_doc *doc;
    sim *s = build_ok(
        "name: p\ncomponents:\n"
        "  - {name: h0, type: cpu, preset: genoa-12ch-ddr5-4800}\n"
        "  - {name: h1, type: cpu, preset: spr-8ch-ddr5-4800, dram_bandwidth: 250 GB/s}\n"
        "  - {name: h2, type: cpu, preset: spr-8ch-ddr5-4800, dram_channels: 4}\n"
        "  - {name: d0, type: nvme, preset: gen5-x4-9550max}\n"
        "  - {name: d1, type: nvme, preset: gen5-x4-9550max, read_latency: 30 us,"
        " random_write_iops: 0, random_write_bandwidth: 1 GB/s}\n"
        "links:\n  - {name: u, type: upi, preset: spr-upi-4x16gt, ends: [h0, h1]}\n",
        &doc);
    const fab_cpu *h0 = sim_find(s, "h0")->state, *h1 = sim_find(s, "h1")->state,
                  *h2 = sim_find(s, "h2")->state;
    ck_assert_double_eq_tol(h0->dram_bw, 12 * 38.4e9, 1);     /* 460.8 GB/s */
    ck_assert_uint_eq(h0->dram_lat, 107000);
    ck_assert_double_eq_tol(h0->core_power, 3.75, 1e-12);
    ck_assert_double_eq_tol(h1->dram_bw, 250e9, 1);          /* its own bandwidth wins */
    ck_assert_double_eq_tol(h2->dram_bw, 4 * 38.4e9, 1);      /* its own channel count */
    const fab_nvme *d0 = sim_find(s, "d0")->state, *d1 = sim_find(s, "d1")->state;
    ck_assert_double_eq_tol(d0->read_bw, 14e9, 1);
    ck_assert_double_eq_tol(d0->write_bw, 10e9, 1);
    ck_assert_double_eq_tol(d0->rread_bw, 3.3e6 * 4096, 1);
    ck_assert_uint_eq(d0->read_lat, 60000000);
    ck_assert_uint_eq(d0->qd, 1024);
    ck_assert_uint_eq(d0->dma.fetch, 64);
    ck_assert_uint_eq(d0->dma.completion, 16);
    ck_assert_int_eq(d0->dma.msix, 1);
    ck_assert_uint_eq(d1->read_lat, 30000000);                /* overridden */
    ck_assert_uint_eq(d1->units_r, 99);                       /* 3.3 M x 30 us */
    ck_assert_double_eq_tol(d1->rwrite_bw, 1e9, 1);
    ck_assert_uint_eq(d1->write_lat, 15000000);               /* the preset's */
    sim_destroy(s);
    scn_free(doc);
}
END_TEST

/* ---- Measured ------------------------------------------------------------ */

/* Scenario of a GPU copy-engine copy over PCIe gen x16 (MPS 256 B, MRRS
 * 512 B: what these hosts negotiate with NVIDIA GPUs), as nvbandwidth's
 * host_to_device_memcpy_ce / device_to_host_memcpy_ce run it: one large
 * copy (256 MiB; nvbandwidth's default buffer is 64 MiB, looped). */
#define GPU_CE(gen, src, dst)                                                                \
    "name: ce\ncomponents:\n  - {name: host, type: cpu}\n"                                  \
    "  - {name: gpu, type: gpu}\n"                                                          \
    "  - {name: load, type: xfer, src: " src ", dst: " dst ", size: 256 MiB, path: dma}\n"  \
    "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: " #gen ", lanes: 16, max_payload: 256 B,"       \
    " max_read_request: 512 B, ends: [host, gpu]}\n"

/* gdsio on one GPU and one NVMe drive (the forum post's setup): threads
 * are outstanding transfers of one I/O each, on path `p`. */
#define GDSIO(p)                                                                             \
    "name: gdsio\ncomponents:\n  - {name: host, type: cpu}\n  - {name: gpu, type: gpu}\n" \
    "  - {name: ssd, type: nvme, read_bandwidth: 6.622534 GiB/s}\n"                          \
    "  - {name: load, type: xfer, src: ssd, dst: gpu, size: 1 MiB, outstanding: 4,"           \
    " count: 2048, path: " p "}\n"                                                            \
    "links:\n  - {name: n, type: pcie, link_overhead: calibrated, gen: 5, lanes: 4,"         \
    " ends: [host, ssd]}\n"                                                                   \
    "  - {name: g, type: pcie, link_overhead: calibrated, gen: 4, lanes: 16,"                \
    " ends: [host, gpu]}\n"

/* The same with the GPU's SMs copying (copy_engine: sm): nvbandwidth's
 * host_to_device_memcpy_sm / device_to_host_memcpy_sm kernels, one block
 * per SM, on its default 64 MiB buffer. */
#define GPU_SM(gen, src, dst)                                                                \
    "name: sm\ncomponents:\n  - {name: host, type: cpu}\n"                                  \
    "  - {name: gpu, type: gpu}\n"                                                          \
    "  - {name: load, type: xfer, src: " src ", dst: " dst ", size: 64 MiB, path: dma,"      \
    " copy_engine: sm}\n"                                                                   \
    "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: " #gen ", lanes: 16,"  \
    " max_payload: 256 B, max_read_request: 512 B, ends: [host, gpu]}\n"

/* An NVMe drive preset behind PCIe gen x4 (MPS 256 B: what these hosts
 * negotiate unless reported otherwise): `count` transfers of `size`,
 * `qd` in flight (xfer extra keys in `x`). */
#define NVME(preset, gen, src, dst, size, x)                                                 \
    "name: nvme\ncomponents:\n  - {name: host, type: cpu}\n"                                \
    "  - {name: ssd, type: nvme, preset: " preset "}\n"                                       \
    "  - {name: load, type: xfer, src: " src ", dst: " dst ", size: " size ", " x            \
    ", path: dma}\n"                                                                         \
    "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: " #gen ", lanes: 4,"  \
    " max_payload: 256 B, ends: [host, ssd]}\n"

/* A 64 B DMA read by a NIC under socket 0 of a 2-socket Genoa host, from
 * socket `src`'s DRAM (the socket link and host presets). */
#define NUMA64(src)                                                                          \
    "name: numa\ncomponents:\n"                                                              \
    "  - {name: host0, type: cpu, preset: genoa-12ch-ddr5-4800}\n"                            \
    "  - {name: host1, type: cpu, preset: genoa-12ch-ddr5-4800, socket: 1}\n"                 \
    "  - {name: nic, type: endpoint, latency: 150 ns}\n"                                      \
    "  - {name: load, type: xfer, src: " src ", dst: nic, size: 64 B, count: 10, path: dma}\n" \
    "links:\n  - {name: u, type: upi, preset: genoa-xgmi-4x32g, ends: [host0, host1]}\n"      \
    "  - {name: l, type: pcie, link_overhead: calibrated, gen: 5, lanes: 16,"                  \
    " ends: [host0, nic]}\n"

typedef struct hw_meas {
    const char *what;     /* the measurement */
    const char *source;   /* citation */
    const char *setup;    /* scenario reproducing it */
    int latency;          /* 1: compare load latency_mean (s); 0: throughput (B/s) */
    double measured;      /* B/s, s, or IOPS (io) */
    double tol;           /* relative tolerance */
    double gap_lo, gap_hi;/* known gap: relative error band (0, 0: none) */
    const char *why;      /* why memfab cannot reach it (known gaps) */
    double io;            /* > 0: compare IOPS = throughput / io (bytes per I/O) */
    const char *setup2;   /* set: the value is setup's minus this one's (a penalty) */
} hw_meas;

/* The two Gen5 nvbandwidth sources are public outputs of nvbandwidth runs
 * that name no paper or vendor page; they are cited by the exact run (tool
 * version and build, driver, CUDA, the SUM line of the test) so that the
 * numbers can be matched to their source text:
 *  - H100: a Korean-language server acceptance report (Xeon Platinum
 *    8462Y+ host, 8x H100 80GB HBM3; nvbandwidth v0.10.0 run 5 times,
 *    beside p2pBandwidthLatencyTest, STREAM and sysbench results);
 *  - H800: the example output of a Chinese-language README of an
 *    nvbandwidth copy (v0.2, "Built from Git version: 42e94d2").
 * Both were found as public GitHub file content, but the repository, path
 * and commit holding them could not be recovered with the search tools
 * available when they were pinned, so no URL is given. The RTX 4090 and T4
 * rows cite their repositories (NVIDIA/nvbandwidth issue #15; the
 * sadcup/nvbandwidth results files). */
static const hw_meas meas[] = {
    {"H100 80GB HBM3, Gen5 x16, D2H copy engine",
     "nvbandwidth v0.10.0 device_to_host_memcpy_ce, 8x H100 80GB HBM3, driver 595.71.05, CUDA 13.2"
     " (SUM 441.72): 55.18-55.26 GB/s (median 55.20)",
     GPU_CE(5, "gpu", "host"), 0, 55.20e9, 0.05, 0, 0, NULL, 0, NULL},
    {"H100 80GB HBM3, Gen5 x16, H2D copy engine",
     "nvbandwidth v0.10.0 host_to_device_memcpy_ce, same host and build (SUM 442.87):"
     " 55.33-55.37 GB/s (median 55.36)",
     GPU_CE(5, "host", "gpu"), 0, 55.36e9, 0.05, 0, 0, NULL, 0, NULL},
    {"H800, Gen5 x16, D2H copy engine",
     "nvbandwidth v0.2 (git 42e94d2) device_to_host_memcpy_ce, 8x H800, driver 525.105.17,"
     " CUDA 11.8 (SUM 441.05): 55.09-55.15 GB/s (median 55.14)",
     GPU_CE(5, "gpu", "host"), 0, 55.14e9, 0.05, 0, 0, NULL, 0, NULL},
    {"H800, Gen5 x16, H2D copy engine",
     "nvbandwidth v0.2 (git 42e94d2) host_to_device_memcpy_ce, same run (SUM 442.52):"
     " 55.28-55.34 GB/s (median 55.31)",
     GPU_CE(5, "host", "gpu"), 0, 55.31e9, 0.05, 0, 0, NULL, 0, NULL},
    {"RTX 4090, Gen4 x16, D2H copy engine",
     "NVIDIA/nvbandwidth issue #15, device_to_host_memcpy_ce, 8 GPUs: 26.25-27.11 GB/s (best 27.11)",
     GPU_CE(4, "gpu", "host"), 0, 27.11e9, 0.05, 0, 0, NULL, 0, NULL},
    {"RTX 4090, Gen4 x16, H2D copy engine",
     "NVIDIA/nvbandwidth issue #15, host_to_device_memcpy_ce: 23.90-26.38 GB/s (best 26.38)",
     GPU_CE(4, "host", "gpu"), 0, 26.38e9, 0.05, 0, 0, NULL, 0, NULL},
    {"Tesla T4, Gen3 x16, D2H copy engine",
     "sadcup/nvbandwidth@2ee6434 results/benchmark_d2h.txt (nvbandwidth v0.8, 4x T4): 13.14 GB/s",
     GPU_CE(3, "gpu", "host"), 0, 13.14e9, 0.05, 0, 0, NULL, 0, NULL},
    {"Tesla T4, Gen3 x16, H2D copy engine",
     "sadcup/nvbandwidth@2ee6434 results/benchmark_h2d.txt (nvbandwidth v0.8, 4x T4): 12.30-12.35 GB/s",
     GPU_CE(3, "host", "gpu"), 0, 12.35e9, 0.05, 0.08, 0.14,
     "host-to-device reads fall short of the link on these Gen3 hosts (memfab: 13.78 GB/s, "
     "the link's read ceiling); the loss is in the host's read completions or the T4's "
     "copy engine, which memfab does not model (read_tags could fit it, but no measured tag "
     "count or round trip is known)", 0, NULL},
    {"H100, Gen5 x16, H2D copy kernel (SM)",
     "NVIDIA/nvbandwidth issue #24, host_to_device_memcpy_sm, 8x H100: 35.03-35.39 GB/s "
     "(median 35.25); sets the gpu default sm_read_tags: 128",
     GPU_SM(5, "host", "gpu"), 0, 35.25e9, 0.05, 0, 0, NULL, 0, NULL},
    {"H100, Gen5 x16, D2H copy kernel (SM)",
     "NVIDIA/nvbandwidth issue #24, device_to_host_memcpy_sm, same host: 52.76-52.78 GB/s "
     "(median 52.77)",
     GPU_SM(5, "gpu", "host"), 0, 52.77e9, 0.05, 0.05, 0.08,
     "memfab prices a copy kernel's stores as posted writes of the link's max_payload (256 B), "
     "like a copy engine's, and gives the link's write ceiling (55.86 GB/s); SM stores to host "
     "memory likely leave the GPU as writes of one 128 B L2 line, which memfab does not model "
     "per transfer (with max_payload: 128 B on the link it gives 50.27 GB/s, -4.7%)", 0, NULL},
    {"A100-SXM4-40GB, Gen4 x16, H2D copy kernel (SM)",
     "NVIDIA/nvbandwidth issue #42, host_to_device_memcpy_sm, 512 MiB and 1 GiB buffers: "
     "25.13 GB/s",
     GPU_SM(4, "host", "gpu"), 0, 25.13e9, 0.05, 0.07, 0.12,
     "memfab gives the Gen4 link's read ceiling (27.55 GB/s; 128 tags of 128 B do not bind at "
     "Gen4); the host's copy-engine figure is not published, so whether the loss is the "
     "kernel's loads or the host's read completions (as on the T4 host) is unknown", 0, NULL},
    {"KIOXIA CM7-R, Gen5 x4, 128 KiB sequential read",
     "KIOXIA CM7-R product brief: sequential read up to 14,000 MB/s (PCIe 5.0 x4)",
     "name: cm7\ncomponents:\n  - {name: host, type: cpu}\n"
     "  - {name: ssd, type: nvme, read_bandwidth: 20 GB/s, doorbell: 4 B,"
     " descriptor_fetch: 64 B, completion: 16 B, msix: true}\n"
     "  - {name: load, type: xfer, src: ssd, dst: host, size: 128 KiB, outstanding: 64,"
     " count: 8192, path: dma}\n"
     "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 5, lanes: 4, max_payload: 256 B, ends: [host, ssd]}\n",
     0, 14.0e9, 0.05, 0, 0, NULL, 0, NULL},
    /* The bounce path against GDS on one host: gdsio -x 2 (CPU_GPU: POSIX
     * read with O_DIRECT into a host buffer, then cudaMemcpy) and -x 0
     * (GPUD) with 4 threads of 1 MiB reads. The post names neither drive
     * nor link; the drive is set to the GDS run's 6.622534 GiB/s on a link
     * that does not limit it (Gen5 x4), so these rows measure what the
     * bounce path loses against GDS on the same drive: 0.74% measured. */
    {"Compatibility mode (bounce, O_DIRECT), 4 x 1 MiB reads",
     "NVIDIA developer forum thread 346097, gdsio -x 2 (CPU_GPU) -w 4 -i 1M, CUDA 12.2: "
     "6.573733 GiB/s (GDS -x 0 on the same drive: 6.622534 GiB/s)",
     GDSIO("bounce"), 0, 6.573733 * 1073741824.0, 0.05, 0, 0, NULL, 0, NULL},
    {"Compatibility mode (bounce, O_DIRECT), 4 x 1 MiB reads: latency",
     "same run: Avg_Latency 593.86 us (GDS: 589.44 us)", GDSIO("bounce"), 1, 593.86434e-6,
     0.15, 0, 0, NULL, 0, NULL},
    {"64 B DMA read latency, NIC on a Xeon host",
     "Neugebauer et al., SIGCOMM 2018 (pcie-bench): 0.5-0.7 us on server hosts (midpoint 0.6 us)",
     "name: lat\ncomponents:\n  - {name: host, type: cpu, latency: 150 ns, dram_latency: 90 ns}\n"
     "  - {name: nic, type: endpoint, latency: 150 ns, dma_descriptor: 100 ns}\n"
     "  - {name: load, type: xfer, src: host, dst: nic, size: 64 B, count: 100, path: dma}\n"
     "links:\n  - {name: l, type: pcie, link_overhead: calibrated, gen: 3, lanes: 8, ends: [host, nic]}\n",
     1, 0.6e-6, 0.15, 0, 0, NULL, 0, NULL},
    /* Samsung 990 PRO 1 TB (preset gen4-x4-990pro) as The FPS Review
     * measured it: "Samsung 990 PRO with Heatsink 1TB PCIe Gen4 M.2 NVMe
     * SSD Review" (2024-05-27), CrystalDiskMark 8, MB = 10^6 B. */
    {"Samsung 990 PRO 1TB, Gen4 x4, SEQ1M Q8T1 read",
     "The FPS Review 990 PRO 1TB review (2024), CrystalDiskMark: 7,471 MB/s",
     NVME("gen4-x4-990pro", 4, "ssd", "host", "1 MiB", "outstanding: 8, count: 2000"), 0,
     7.471e9, 0.05, -0.12, -0.06,
     "above memfab's Gen4 x4 ceiling for device writes at MPS 256 B (86% of the raw "
     "7.88 GB/s with the calibrated link overhead: 6.79 GB/s); with MPS 512 B memfab gives "
     "7.28 GB/s (-2.6%), but the review does not report the negotiated MPS, and Samsung's "
     "own 7,450 MB/s says the drive is not the limit", 0, NULL},
    {"Samsung 990 PRO 1TB, Gen4 x4, SEQ1M Q8T1 write",
     "The FPS Review 990 PRO 1TB review (2024), CrystalDiskMark: 6,920 MB/s",
     NVME("gen4-x4-990pro", 4, "host", "ssd", "1 MiB", "outstanding: 8, count: 2000"), 0,
     6.920e9, 0.05, 0, 0, NULL, 0, NULL},
    {"Samsung 990 PRO 1TB, RND4K Q32T16 read",
     "The FPS Review 990 PRO 1TB review (2024), CrystalDiskMark: 4,916 MB/s (1.20 M IOPS)",
     NVME("gen4-x4-990pro", 4, "ssd", "host", "4 KiB",
          "random: true, outstanding: 512, count: 20000"),
     0, 4916e6 / 4096, 0.15, 0, 0, NULL, 4096, NULL},
    {"Samsung 990 PRO 1TB, RND4K Q32T16 write",
     "The FPS Review 990 PRO 1TB review (2024), CrystalDiskMark: 6,448 MB/s (1.57 M IOPS)",
     NVME("gen4-x4-990pro", 4, "host", "ssd", "4 KiB",
          "random: true, outstanding: 512, count: 20000"),
     0, 6448e6 / 4096, 0.15, 0, 0, NULL, 4096, NULL},
    {"Samsung 990 PRO 1TB, RND4K Q1T1 read (calibrates read_latency)",
     "The FPS Review 990 PRO 1TB review (2024), CrystalDiskMark: 82 MB/s (20.0 K IOPS)",
     NVME("gen4-x4-990pro", 4, "ssd", "host", "4 KiB",
          "random: true, outstanding: 1, count: 2000"),
     0, 82e6 / 4096, 0.15, 0, 0, NULL, 4096, NULL},
    /* Micron 9550 MAX 6.4 TB (preset gen5-x4-9550max): Micron's product
     * brief figures as StorageReview tabulates them ("Micron 9550 MAX
     * Review", 2025). These are the preset's own numbers: the rows check
     * that the link and the NVMe command costs leave the drive reaching
     * them end to end. */
    {"Micron 9550 MAX 6.4TB, Gen5 x4, 128 KiB sequential read",
     "Micron 9550 MAX specifications (StorageReview, 2025): 14,000 MB/s",
     NVME("gen5-x4-9550max", 5, "ssd", "host", "128 KiB", "outstanding: 64, count: 8192"), 0,
     14.0e9, 0.05, 0, 0, NULL, 0, NULL},
    {"Micron 9550 MAX 6.4TB, Gen5 x4, 128 KiB sequential write",
     "Micron 9550 MAX specifications (StorageReview, 2025): 10,000 MB/s",
     NVME("gen5-x4-9550max", 5, "host", "ssd", "128 KiB", "outstanding: 64, count: 8192"), 0,
     10.0e9, 0.05, 0, 0, NULL, 0, NULL},
    {"Micron 9550 MAX 6.4TB, 4 KiB random read",
     "Micron 9550 MAX specifications (StorageReview, 2025): 3,300 K IOPS",
     NVME("gen5-x4-9550max", 5, "ssd", "host", "4 KiB",
          "random: true, outstanding: 1024, count: 50000"),
     0, 3.3e6, 0.15, 0, 0, NULL, 4096, NULL},
    {"Micron 9550 MAX 6.4TB, 4 KiB random write",
     "Micron 9550 MAX specifications (StorageReview, 2025): 640 K IOPS",
     NVME("gen5-x4-9550max", 5, "host", "ssd", "4 KiB",
          "random: true, outstanding: 256, count: 50000"),
     0, 640e3, 0.15, 0, 0, NULL, 4096, NULL},
    {"Micron 9550 MAX 6.4TB, 4 KiB read latency (QD1)",
     "Micron 9550 MAX specifications (StorageReview, 2025): typical 60 us",
     NVME("gen5-x4-9550max", 5, "ssd", "host", "4 KiB",
          "random: true, outstanding: 1, count: 1000"),
     1, 60e-6, 0.15, 0, 0, NULL, 0, NULL},
    {"Micron 9550 MAX 6.4TB, 4 KiB write latency (QD1)",
     "Micron 9550 MAX specifications (StorageReview, 2025): typical 15 us",
     NVME("gen5-x4-9550max", 5, "host", "ssd", "4 KiB",
          "random: true, outstanding: 1, count: 1000"),
     1, 15e-6, 0.15, 0, 0, NULL, 0, NULL},
    {"KIOXIA CM7-R (preset), Gen5 x4, 128 KiB sequential read",
     "KIOXIA CM7-R product brief: sequential read up to 14,000 MB/s (PCIe 5.0 x4)",
     NVME("gen5-x4-cm7r", 5, "ssd", "host", "128 KiB", "outstanding: 64, count: 8192"), 0,
     14.0e9, 0.05, 0, 0, NULL, 0, NULL},
    /* NUMA: the socket link preset's latency is fitted to this matrix */
    {"2-socket EPYC 9224 (Genoa): remote-socket DRAM penalty (calibrates the xGMI latency)",
     "Intel MLC v3 idle latencies, 2x EPYC 9224 NPS2 (public CXL-expander study on GitHub): "
     "local 106.8 ns, remote socket 199.9 ns (means)",
     NUMA64("host1"), 1, 93.1e-9, 0.15, 0, 0, NULL, 0, NUMA64("host0")},
};
#define NMEAS (sizeof meas / sizeof meas[0])

static double simulated_one(const hw_meas *m, const char *setup)
{
    run_ok(setup);
    if (m->latency)
        return capture_get(&cap, "load", "latency_mean");
    double bw = capture_get(&cap, "load", "throughput");
    return m->io > 0 ? bw / m->io : bw;
}

static double simulated(const hw_meas *m)
{
    double v = simulated_one(m, m->setup);
    return m->setup2 ? v - simulated_one(m, m->setup2) : v;
}

/* A row of the README table (MEMFAB_HW_TABLE set: the `measured` cases
 * print their rows after the header main prints). */
static void print_row(const hw_meas *m, double got)
{
    double rel = (got - m->measured) / m->measured;
    int ns = m->latency && m->measured < 0.5e-6;
    double k = m->latency ? (ns ? 1e9 : 1e6) : m->io > 0 ? 1e-3 : 1e-9;
    const char *u = m->latency ? (ns ? "ns" : "us") : m->io > 0 ? "K IOPS" : "GB/s";
    printf("| %s | %s | %.2f %s | %.2f %s | %+.1f%% | %s%.0f%% |\n", m->what, m->source,
           m->measured * k, u, got * k, u, 100 * rel,
           m->gap_lo != 0 || m->gap_hi != 0 ? "known gap; " : "", 100 * m->tol);
    fflush(stdout);
}

START_TEST(measured)
{
    const hw_meas *m = &meas[_i];
    double got = simulated(m);
    double rel = (got - m->measured) / m->measured;
    if (getenv("MEMFAB_HW_TABLE"))
        print_row(m, got);
    if (m->gap_lo != 0 || m->gap_hi != 0) {
        /* a known gap: its band, and still outside the tolerance */
        ck_assert_msg(rel >= m->gap_lo && rel <= m->gap_hi,
                      "%s: memfab %+.2f%% off, outside the documented gap [%+.0f%%, %+.0f%%]",
                      m->what, 100 * rel, 100 * m->gap_lo, 100 * m->gap_hi);
        ck_assert_msg(fabs(rel) > m->tol, "%s: the known gap closed (%+.2f%%): update the table",
                      m->what, 100 * rel);
        ck_assert(m->why && *m->why);
    } else {
        ck_assert_msg(fabs(rel) <= m->tol, "%s: memfab %.6g, measured %.6g (%+.2f%%, tolerance %.0f%%)",
                      m->what, got, m->measured, 100 * rel, 100 * m->tol);
    }
}
END_TEST

START_TEST(pcie_bench_misses_gen5)
{
    /* why the default is calibrated: pcie-bench's ceiling is more than 5%
     * below the Gen5 device-to-host measurement */
    pcie_cfg c = {5, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double bench = pcie_model_bw(&c, PCIE_OP_WRITE, 256 << 20);
    ck_assert((55.20e9 - bench) / 55.20e9 > 0.05);
    c.overhead = PCIE_OVH_CALIBRATED;
    ck_assert(fabs(pcie_model_bw(&c, PCIE_OP_WRITE, 256 << 20) - 55.20e9) / 55.20e9 < 0.05);
}
END_TEST

/* Unknown presets: an error at the value, with a suggestion. */
static const struct {
    const char *entry;   /* line 4 of the scenario (links: line 6) */
    int link;            /* 1: a link entry */
    int col;             /* column of the preset's value */
    const char *want;    /* in the message */
} bad_preset[] = {
    {"{name: d, type: nvme, preset: gen4-x4-990por}", 0, 35, "did you mean 'gen4-x4-990pro'"},
    {"{name: d, type: nvme, preset: gen5-x4-9550}", 0, 35, "did you mean 'gen5-x4-9550max'"},
    {"{name: h, type: cpu, preset: genoa-12ch-ddr5}", 0, 34,
     "did you mean 'genoa-12ch-ddr5-4800'"},
    {"{name: u, type: upi, preset: spr-upi, ends: [host, h2]}", 1, 34,
     "did you mean 'spr-upi-4x16gt'"},
    {"{name: d, type: nvme, preset: zzz}", 0, 35, "presets: gen4-x4-990pro"},
};

START_TEST(unknown_preset_rejected)
{
    char text[512];
    if (bad_preset[_i].link)
        snprintf(text, sizeof text,
                 "name: bad\ncomponents:\n  - {name: host, type: cpu}\n  - {name: h2, type: "
                 "cpu}\nlinks:\n  - %s\n",
                 bad_preset[_i].entry);
    else
        snprintf(text, sizeof text, "name: bad\ncomponents:\n  - {name: host, type: cpu}\n  - %s\n",
                 bad_preset[_i].entry);
    sim_err err;
    ck_assert_int_ne(capture_build("t.yaml", text, 0, &err), 0);
    ck_assert_int_eq(err.line, bad_preset[_i].link ? 6 : 4);
    ck_assert_msg(err.col == bad_preset[_i].col, "case %d: column %d (%s)", _i, err.col, err.msg);
    ck_assert_msg(strstr(err.msg, bad_preset[_i].want), "case %d: %s", _i, err.msg);
}
END_TEST

/* The command line: exit status 2 and file:line:column. */
START_TEST(unknown_preset_cli)
{
    const char *bin = getenv("MEMFAB_BIN");
    if (!bin)
        return; /* run outside make test */
    char text[512], path[256], out[2048];
    snprintf(text, sizeof text, "name: bad\ncomponents:\n  - {name: host, type: cpu}\n  - %s\n",
             bad_preset[0].entry);
    ck_assert_int_eq(capture_cli_check(bin, text, path, out, sizeof out), 2);
    char want[600];
    snprintf(want, sizeof want, "%s:4:35: error:", path);
    ck_assert_msg(strstr(out, want), "output: %s", out);
    ck_assert_msg(strstr(out, "did you mean 'gen4-x4-990pro'"), "output: %s", out);
}
END_TEST

static Suite *hw_suite(void)
{
    Suite *s = suite_create("hw_fidelity");
    TCase *core = tcase_create("Core");
    tcase_set_timeout(core, 120);
    tcase_add_test(core, dma_costs_64b_read_exact);
    tcase_add_test(core, dma_costs_off_is_ideal);
    tcase_add_test(core, read_tags_littles_law);
    tcase_add_loop_test(core, measured, 0, (int)NMEAS);
    tcase_add_test(core, pcie_bench_misses_gen5);
    tcase_add_test(core, ce_vs_sm_small_copy_exact);
    tcase_add_test(core, sm_copy_littles_law);
    tcase_add_test(core, sm_copy_holds_no_engine);
    tcase_add_loop_test(core, nvme_units_arithmetic, 0, 4);
    tcase_add_test(core, nvme_qd_curve);
    tcase_add_test(core, nvme_spread_breaks_lockstep);
    tcase_add_test(core, numa_penalty_exact);
    tcase_add_test(core, numa_remote_bandwidth);
    tcase_add_test(core, presets_reach_state);
    suite_add_tcase(s, core);
    TCase *errs = tcase_create("Errors");
    tcase_add_loop_test(errs, bad_copy_rejected, 0, 5);
    tcase_add_loop_test(errs, bad_dma_rejected, 0, (int)(sizeof bad_dma / sizeof bad_dma[0]));
    tcase_add_loop_test(errs, unknown_preset_rejected, 0,
                        (int)(sizeof bad_preset / sizeof bad_preset[0]));
    tcase_add_test(errs, unknown_preset_cli);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    if (getenv("MEMFAB_HW_TABLE")) /* the README table (the rows come from `measured`) */
        printf("| measurement | source | measured | memfab | error | tolerance |\n"
               "|---|---|---:|---:|---:|---:|\n");
    return check_main(hw_suite());
}
