/*
 * check_fabric.c - transfers through the fabric: sharing, CXL flits, data
 * paths, the transfer interface.
 *
 * References and formulas:
 *   - Fair sharing: two saturating flows through one switch uplink get
 *     half of its throughput each (round-robin per chunk); the uplink's
 *     throughput for reads is the Neugebauer et al. (SIGCOMM 2018) model
 *     (pcie_model_bw, itself held to the paper's formula in check_pcie.c).
 *   - CXL 1.1/2.0 68 B flit: 4 x 16 B slots + 2 B CRC + 2 B protocol id,
 *     payload efficiency 64/68; CXL 3.x 256 B flit: 240/256 (standard,
 *     16 B HDR/CRC/FEC), 236/256 (latency-optimized, 20 B)
 *     (fidelity-references.md; CXL 3.0 spec section 6.2).
 *   - GPUDirect Storage design guide: GDS moves SSD -> GPU without touching
 *     host memory; compatibility mode bounces through a host buffer, so
 *     host memory carries the bytes twice and the CPU works per I/O.
 *   - CUDA pageable copies are staged by a CPU memcpy into a pinned buffer:
 *     host memory carries the bytes three times, CPU time >= bytes /
 *     memcpy bandwidth.
 *   - Lone flows (engine.h): a transfer alone on its path is computed in one
 *     piece by the recurrence the chunk events evaluate, and turned back
 *     into chunks when another transfer joins; every result (metrics, link
 *     rows, energy, sampled series) must equal the chunk-by-chunk run's
 *     exactly, with far fewer events when it stays alone.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/fabric/cxl.h"
#include "models/fabric/engine.h"
#include "models/fabric/fabric.h"
#include "models/fabric/pcie.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"

static capture cap;
static uint64_t last_events; /* events the last run_text handled */

typedef void (*poke_fn)(sim *s);

/* Build, start, (poke), run, finish. Returns the build/start code. */
static void keep_events(sim *s) { last_events = sim_events(s); }

static int run_text(const char *text, poke_fn poke, sim_err *err)
{
    capture_opts o = {.started = poke, .finished = keep_events};
    last_events = 0;
    return capture_run(&cap, text, &o, err);
}

static double thr(const char *scope)
{
    return capture_get(&cap, scope, "bytes") / capture_get(&cap, scope, "latency_mean");
}

START_TEST(two_flows_share_uplink)
{
    /* Gen4 x16 uplink, Gen5 x16 downlinks: the uplink is the bottleneck. */
    const char *text =
        "name: share\ncomponents:\n"
        "  - {name: host, type: cpu, dram_bandwidth: 1 TB/s}\n"
        "  - {name: sw, type: pcie_switch}\n"
        "  - {name: gpu0, type: gpu}\n  - {name: gpu1, type: gpu}\n"
        "  - {name: a, type: xfer, src: host, dst: gpu0, size: 128 MiB, path: dma}\n"
        "  - {name: b, type: xfer, src: host, dst: gpu1, size: 128 MiB, path: dma}\n"
        "links:\n"
        "  - {name: up, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 16, ends: [host, sw]}\n"
        "  - {name: d0, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw, gpu0]}\n"
        "  - {name: d1, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw, gpu1]}\n";
    sim_err err;
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    pcie_cfg up = {4, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double link = pcie_model_bw(&up, PCIE_OP_READ, 128u << 20);
    capture_close(thr("a"), link / 2, 0.02, "flow a: half the uplink");
    capture_close(thr("b"), link / 2, 0.02, "flow b: half the uplink");
    capture_close(thr("a"), thr("b"), 0.01, "a vs b");
    /* the uplink ran saturated: one links row per direction, down busy */
    ck_assert_int_ge(cap.nlinks, 6);
    ck_assert(cap.link_util[0] > 0.98);
}
END_TEST

START_TEST(one_flow_alone_gets_the_uplink)
{
    const char *text =
        "name: alone\ncomponents:\n"
        "  - {name: host, type: cpu, dram_bandwidth: 1 TB/s}\n"
        "  - {name: sw, type: pcie_switch}\n  - {name: gpu0, type: gpu}\n"
        "  - {name: a, type: xfer, src: host, dst: gpu0, size: 128 MiB, path: dma}\n"
        "links:\n"
        "  - {name: up, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 16, ends: [host, sw]}\n"
        "  - {name: d0, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw, gpu0]}\n";
    sim_err err;
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    pcie_cfg up = {4, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    capture_close(thr("a"), pcie_model_bw(&up, PCIE_OP_READ, 128u << 20), 0.01, "alone");
}
END_TEST

/* Lone flows: transfer a (8 MiB + 100 KiB: a short last chunk) from host
 * DRAM to gpu0 through a switch, and b (3 MiB, same path) starting at
 * b_start[i] ("": no b). Variant 1 has a window of one chunk. */
static const char *const b_start[] = {"",       "",      "0 ns",    "1 us",  "5.71 us",
                                      "33 us",  "77.444075 us", "120 us", "158 us", "300 us"};
enum { N_LONE = sizeof b_start / sizeof b_start[0] };

static void lone_run(int i, int lone, capture *out, uint64_t *events)
{
    char text[2048], b[256] = "";
    if (*b_start[i])
        snprintf(b, sizeof b,
                 "  - {name: b, type: xfer, src: host, dst: gpu0, size: 3 MiB, path: dma,"
                 " start: %s}\n",
                 b_start[i]);
    snprintf(text, sizeof text,
             "name: lone\nseed: 1\noutput: {sample_interval: 10 us}\ncomponents:\n"
             "  - {name: fabric, type: fabric, chunk: 256 KiB, window: %s, lone_flows: %s}\n"
             "  - {name: host, type: cpu, latency: 150 ns, dram_bandwidth: 300 GB/s,"
             " dram_latency: 90 ns}\n"
             "  - {name: sw, type: pcie_switch, latency: 150 ns}\n"
             "  - {name: gpu0, type: gpu, hbm_bandwidth: 3.35 TB/s, copy_engines: 2}\n"
             "  - {name: a, type: xfer, src: host, dst: gpu0, size: 8292 KiB, path: dma}\n"
             "%s"
             "links:\n"
             "  - {name: uplink, type: pcie, gen: 5, lanes: 16, max_payload: 256 B,"
             " ends: [host, sw]}\n"
             "  - {name: gpu_port, type: pcie, gen: 5, lanes: 16, max_payload: 256 B,"
             " ends: [sw, gpu0]}\n",
             i == 1 ? "256 KiB" : "1 MiB", lone ? "true" : "false", b);
    memset(&cap, 0, sizeof cap);
    sim_err err;
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    memcpy(out, &cap, sizeof cap);
    *events = last_events;
}

static capture lone_cap[3];

START_TEST(lone_flow_equals_chunks)
{
    uint64_t ev[2];
    lone_run(_i, 1, &lone_cap[1], &ev[1]);
    lone_run(_i, 0, &lone_cap[0], &ev[0]);
    const capture *f = &lone_cap[1], *c = &lone_cap[0];
    ck_assert_int_eq(f->n, c->n);
    for (int k = 0; k < c->n; k++) {
        ck_assert_str_eq(f->rows[k].scope, c->rows[k].scope);
        ck_assert_str_eq(f->rows[k].name, c->rows[k].name);
        ck_assert_msg(f->rows[k].value == c->rows[k].value, "%s/%s: lone %.17g, chunks %.17g",
                      c->rows[k].scope, c->rows[k].name, f->rows[k].value, c->rows[k].value);
    }
    ck_assert_int_eq(f->nlinks, c->nlinks);
    for (int k = 0; k < c->nlinks; k++) {
        ck_assert_str_eq(f->link_dir[k], c->link_dir[k]);
        ck_assert_uint_eq(f->link_bytes[k], c->link_bytes[k]);
        ck_assert_uint_eq(f->link_busy[k], c->link_busy[k]);
        ck_assert(f->link_util[k] == c->link_util[k]);
    }
    ck_assert_uint_eq(f->timeseries, c->timeseries);
    ck_assert(f->ts_sum == c->ts_sum && f->ts_wsum == c->ts_wsum);
    /* the energy of the wire bits is there and equal (checked above) */
    ck_assert(capture_get(c, "uplink", "energy_j") > 0);
    if (!*b_start[_i]) /* alone all along: one event (its END) instead of ~10 per chunk */
        ck_assert_msg(ev[1] * 10 < ev[0], "lone %llu events, chunks %llu",
                      (unsigned long long)ev[1], (unsigned long long)ev[0]);
    else if (_i >= 2 && _i < N_LONE - 2) { /* b joined while a moved: a was slowed down */
        uint64_t e;
        lone_run(0, 1, &lone_cap[2], &e);
        ck_assert(capture_get(c, "a", "latency_mean") >
                  capture_get(&lone_cap[2], "a", "latency_mean"));
    }
}
END_TEST

static const char *const flits[] = {"68B", "256B", "256B_lo"};
static const double flit_eff[] = {64.0 / 68, 240.0 / 256, 236.0 / 256};

START_TEST(cxl_flits)
{
    ck_assert(fabs(cxl_flit_efficiency(_i) - flit_eff[_i]) < 1e-15);
    /* a host loads 64 MiB from a CXL expander; the link is the bottleneck
     * (memory and memcpy faster), so throughput = raw x efficiency */
    char text[1024];
    snprintf(text, sizeof text,
             "name: cxl\ncomponents:\n"
             "  - {name: host, type: cpu, memcpy_bandwidth: 1 TB/s, dram_bandwidth: 1 TB/s}\n"
             "  - {name: exp, type: memory, kind: cxl, bandwidth: 1 TB/s, latency: 200 ns}\n"
             "  - {name: a, type: xfer, src: exp, dst: host, size: 64 MiB, path: cxl}\n"
             "links:\n  - {name: c, type: cxl, flit: %s, rate: 32 GT/s, lanes: 16,"
             " ends: [host, exp]}\n",
             flits[_i]);
    sim_err err;
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    capture_close(capture_get(&cap, "c", "efficiency:exp->host"), flit_eff[_i], 1e-9,
                  "link efficiency");
    double raw = 32e9 * 128 / 130 * 16 / 8;
    capture_close(thr("a"), raw * flit_eff[_i], 0.01, "CXL load throughput");
}
END_TEST

/* host -- up -- sw -- {gpu0, ssd}: the SSD reads 64 MiB into the GPU. */
static void gds_bounce(const char *path)
{
    char text[1536];
    snprintf(text, sizeof text,
             "name: gds\ncomponents:\n"
             "  - {name: host, type: cpu}\n  - {name: sw, type: pcie_switch}\n"
             "  - {name: gpu0, type: gpu}\n  - {name: ssd, type: nvme, read_bandwidth: 7 GB/s}\n"
             "  - {name: a, type: xfer, src: ssd, dst: gpu0, size: 64 MiB, path: %s}\n"
             "links:\n"
             "  - {name: up, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [host, sw]}\n"
             "  - {name: g, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw, gpu0]}\n"
             "  - {name: n, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 4, ends: [sw, ssd]}\n",
             path);
    sim_err err;
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
}

/* CXL.mem moves 64 B lines, so a transfer of B bytes carries ceil(B/64)
 * lines whatever the simulation cuts it into: the wire bytes of the data
 * direction are ceil(B/64) x 64 / efficiency and of the request direction
 * ceil(B/64) x 16 / efficiency (cxl.h), e.g. 1 MiB / (240/256) for a 256 B
 * flit. Packet mode (one chunk per flit payload, 240 or 236 B, not a
 * multiple of 64) must agree with chunk mode (256 KiB chunks) within 1%,
 * and the flit arithmetic summed over flit-sized pieces must equal the
 * whole transfer exactly. 16 MiB keeps the pipeline fill of chunk mode
 * (one 256 KiB chunk through memory and memcpy) near 0.3%. */
START_TEST(cxl_packet_vs_chunk)
{
    int flit = _i + 1; /* 256B, 256B_lo */
    cxl_cfg cfg = {flit, 32e9, 16};
    uint64_t total = 1u << 20, piece = cxl_flit_payload(flit), lines = total / 64;
    for (int dir = 0; dir < 2; dir++) {
        double sum = 0;
        for (uint64_t off = 0; off < total; off += piece)
            sum += cxl_wire_bytes_at(&cfg, PCIE_OP_READ, off,
                                     total - off < piece ? total - off : piece, dir);
        double want = (double)lines * (dir == PCIE_DIR_DATA ? 64 : 16) / flit_eff[flit];
        capture_close(sum, want, 1e-12, "flit-sized pieces sum to the whole");
        capture_close(cxl_wire_bytes(&cfg, PCIE_OP_READ, total, dir), want, 1e-12, "whole");
    }
    double eff[2], tp[2];
    for (int m = 0; m < 2; m++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "name: cxlpk\ncomponents:\n"
                 "  - {name: fab, type: fabric, mode: %s}\n"
                 "  - {name: host, type: cpu, memcpy_bandwidth: 1 TB/s, dram_bandwidth: 1 TB/s}\n"
                 "  - {name: exp, type: memory, kind: cxl, bandwidth: 1 TB/s, latency: 200 ns}\n"
                 "  - {name: a, type: xfer, src: exp, dst: host, size: 16 MiB, path: cxl}\n"
                 "links:\n  - {name: c, type: cxl, flit: %s, rate: 32 GT/s, lanes: 16,"
                 " ends: [host, exp]}\n",
                 m ? "packet" : "chunk", flits[flit]);
        sim_err err;
        ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
        eff[m] = capture_get(&cap, "c", "efficiency:exp->host");
        tp[m] = thr("a");
    }
    capture_close(eff[0], flit_eff[flit], 1e-9, "chunk-mode efficiency");
    capture_close(eff[1], flit_eff[flit], 0.01, "packet-mode efficiency");
    capture_close(tp[1], tp[0], 0.01, "packet vs chunk throughput");
}
END_TEST

START_TEST(gds_vs_bounce)
{
    double bytes = 64.0 * (1 << 20);
    gds_bounce("gds");
    double gds_host = capture_get(&cap, "fabric", "host_memory_bytes:gds");
    double gds_dram = capture_get(&cap, "host", "dram_bytes");
    double gds_up = capture_get(&cap, "up", "throughput:sw->host");
    double gds_cpu = capture_get(&cap, "fabric", "cpu_time:gds");
    double gds_thr = thr("a");
    ck_assert(gds_host == 0.0);
    ck_assert(gds_dram == 0.0);
    ck_assert(gds_up == 0.0); /* peer to peer below the switch */
    gds_bounce("bounce");
    double b_host = capture_get(&cap, "fabric", "host_memory_bytes:bounce");
    double b_dram = capture_get(&cap, "host", "dram_bytes");
    double b_cpu = capture_get(&cap, "fabric", "cpu_time:bounce");
    ck_assert(b_host == 2 * bytes);
    ck_assert(b_dram == 2 * bytes);
    ck_assert(b_cpu > 0.0);
    ck_assert(b_cpu > gds_cpu);
    /* both bound by the SSD (7 GB/s), within its bandwidth */
    ck_assert(gds_thr <= 7e9 * 1.0001 && gds_thr > 6.5e9);
    ck_assert(thr("a") <= gds_thr * 1.0001);
}
END_TEST

/* Compatibility mode charges the CPU per bounce-buffer I/O: a read into
 * the host bounce buffer (io_cpu, default 5 us) and the copy to the GPU
 * (launch_cpu, 2 us) for each `bounce_io` bytes (default 1 MiB, cuFile's
 * per-buffer bounce size): cpu = ceil(bytes / bounce_io) x (io_cpu +
 * launch_cpu) = 64 x 7 us for 64 MiB, whatever the simulation's `chunk`. */
START_TEST(bounce_cpu_independent_of_chunk)
{
    static const char *const chunks[] = {"64 KiB", "256 KiB", "4 MiB"};
    for (int k = 0; k < 3; k++) {
        char text[1536];
        snprintf(text, sizeof text,
                 "name: bcpu\ncomponents:\n"
                 "  - {name: fab, type: fabric, chunk: %s}\n"
                 "  - {name: host, type: cpu}\n  - {name: sw, type: pcie_switch}\n"
                 "  - {name: gpu0, type: gpu}\n  - {name: ssd, type: nvme}\n"
                 "  - {name: a, type: xfer, src: ssd, dst: gpu0, size: 64 MiB, path: bounce}\n"
                 "links:\n"
                 "  - {name: up, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [host, sw]}\n"
                 "  - {name: g, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw, gpu0]}\n"
                 "  - {name: n, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 4, ends: [sw, ssd]}\n",
                 chunks[k]);
        sim_err err;
        ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
        capture_close(capture_get(&cap, "fab", "cpu_time:bounce"), 64 * 7e-6, 1e-9, chunks[k]);
    }
}
END_TEST

/* The DMA initiator decides read vs write (fabric.h): for cuFileWrite
 * (GDS, GPU -> SSD) the SSD pulls from GPU memory, so its link carries
 * memory-read requests upstream (ssd->sw) and completions down; for
 * SSD -> GPU the SSD pushes posted writes and nothing goes upstream but
 * DLLPs (counted in the DLLP fraction, not as TLPs). */
START_TEST(gds_write_is_ssd_read)
{
    static const char *const fmt =
        "name: gw\ncomponents:\n"
        "  - {name: host, type: cpu}\n  - {name: sw, type: pcie_switch}\n"
        "  - {name: gpu0, type: gpu}\n  - {name: ssd, type: nvme}\n"
        "  - {name: a, type: xfer, src: %s, dst: %s, size: 4 MiB, path: gds}\n"
        "links:\n"
        "  - {name: up, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [host, sw]}\n"
        "  - {name: g, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw, gpu0]}\n"
        "  - {name: n, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 4, ends: [sw, ssd]}\n";
    char text[1536];
    sim_err err;
    snprintf(text, sizeof text, fmt, "gpu0", "ssd");
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(capture_get(&cap, "n", "wire_bytes:ssd->sw") > 0, "no read requests");
    ck_assert_msg(capture_get(&cap, "g", "wire_bytes:sw->gpu0") > 0, "no read requests");
    snprintf(text, sizeof text, fmt, "ssd", "gpu0");
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    ck_assert(capture_get(&cap, "n", "wire_bytes:sw->ssd") == 0);
}
END_TEST

START_TEST(pageable_vs_pinned)
{
    const char *fmt =
        "name: pg\ncomponents:\n"
        "  - {name: host, type: cpu, memcpy_bandwidth: 8 GB/s}\n  - {name: gpu0, type: gpu}\n"
        "  - {name: a, type: xfer, src: host, dst: gpu0, size: 64 MiB, path: %s}\n"
        "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [host, gpu0]}\n";
    char text[1024];
    sim_err err;
    double bytes = 64.0 * (1 << 20);
    snprintf(text, sizeof text, fmt, "dma");
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    double pinned = thr("a");
    ck_assert(capture_get(&cap, "fabric", "host_memory_bytes:dma") == bytes);
    snprintf(text, sizeof text, fmt, "pageable");
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    ck_assert(capture_get(&cap, "fabric", "host_memory_bytes:pageable") == 3 * bytes);
    ck_assert(capture_get(&cap, "fabric", "cpu_time:pageable") >= bytes / 8e9);
    /* staged by an 8 GB/s memcpy */
    capture_close(thr("a"), 8e9, 0.02, "pageable bound by memcpy");
    ck_assert(pinned > 5 * thr("a"));
}
END_TEST

START_TEST(copy_engines_limit)
{
    /* three concurrent copies, one engine: they run one after another */
    const char *text =
        "name: ce\ncomponents:\n"
        "  - {name: host, type: cpu}\n  - {name: gpu0, type: gpu, copy_engines: 1}\n"
        "  - {name: a, type: xfer, src: host, dst: gpu0, size: 16 MiB, outstanding: 3, count: 3}\n"
        "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 16, ends: [host, gpu0]}\n";
    sim_err err;
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    ck_assert(capture_get(&cap, "gpu0", "copy_engine_waits") == 2);
    /* latencies 1x, 2x, 3x the single-copy time: mean 2x, max 3x */
    double mean = capture_get(&cap, "a", "latency_mean");
    double max = capture_get(&cap, "a", "latency_max");
    capture_close(max / mean, 1.5, 0.01, "serialized copies");
}
END_TEST

/* ---- the transfer interface, called from a model --------------------- */

enum { PROBE_DONE = SIM_EV_USER + 5 };
static uint64_t probe_cookie, probe_lat, probe_n;
static void probe_handle(sim_comp *c, const sim_event *e)
{
    if (e->kind == PROBE_DONE) {
        probe_cookie = e->a0;
        probe_lat = e->a1;
        probe_n++;
    }
}
static const sim_param no_params[] = {{NULL, 0, NULL, NULL, NULL, 0, NULL}};
static const sim_model probe_model = {.type = "probe", .params = no_params,
                                      .state_size = 8, .handle = probe_handle};

static const char *api_text =
    "name: api\ncomponents:\n"
    "  - {name: host, type: cpu}\n  - {name: gpu0, type: gpu}\n  - {name: nic, type: endpoint}\n"
    "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 16, ends: [host, gpu0]}\n";

static void poke_api(sim *s)
{
    sim_err err;
    sim_comp *p = sim_add(s, &probe_model, "probe", NULL, &err);
    ck_assert_ptr_nonnull(p);
    uint32_t host = sim_find(s, "host")->id, gpu = sim_find(s, "gpu0")->id;
    ck_assert_int_eq(fabric_transfer(s, host, gpu, 1 << 20, FABRIC_PATH_AUTO, p->id, PROBE_DONE,
                                     4242),
                     0);
    /* errors: GDS needs an SSD; no route to the unconnected NIC; bad ids */
    ck_assert_int_eq(fabric_transfer(s, host, gpu, 1, FABRIC_PATH_GDS, p->id, PROBE_DONE, 0),
                     SIM_EINVAL);
    ck_assert_int_eq(fabric_transfer(s, host, sim_find(s, "nic")->id, 1, FABRIC_PATH_DMA, p->id,
                                     PROBE_DONE, 0),
                     SIM_ENOTFOUND);
    ck_assert_int_eq(fabric_transfer(s, 999, gpu, 1, FABRIC_PATH_DMA, p->id, PROBE_DONE, 0),
                     SIM_EINVAL);
    ck_assert_int_eq(fabric_transfer(s, host, gpu, 1, 77, p->id, PROBE_DONE, 0), SIM_EINVAL);
}

START_TEST(transfer_interface)
{
    probe_n = 0;
    sim_err err;
    ck_assert_msg(run_text(api_text, poke_api, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(probe_n, 1);
    ck_assert_uint_eq(probe_cookie, 4242);
    /* 1 MiB at the Gen4 x16 read model, plus a few hundred ns of latency */
    pcie_cfg c = {4, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double t = (double)(1 << 20) / pcie_model_bw(&c, PCIE_OP_READ, 1 << 20);
    ck_assert(probe_lat * 1e-12 > t && probe_lat * 1e-12 < t * 1.1 + 2e-6);
    ck_assert(capture_get(&cap, "fabric", "transfers:dma") == 1);
}
END_TEST

static void poke_free(sim *s)
{
    sim_err err;
    sim_comp *p = sim_add(s, &probe_model, "probe", NULL, &err);
    fabric_set_free_transfers(s, 1);
    ck_assert_int_eq(fabric_free_transfers(s), 1);
    ck_assert_int_eq(fabric_transfer(s, sim_find(s, "host")->id, sim_find(s, "gpu0")->id,
                                     1 << 30, FABRIC_PATH_DMA, p->id, PROBE_DONE, 7),
                     0);
}

START_TEST(free_transfers)
{
    probe_n = 0;
    sim_err err;
    ck_assert_msg(run_text(api_text, poke_free, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(probe_n, 1);
    ck_assert_uint_eq(probe_lat, 0);
    ck_assert(capture_get(&cap, "fabric", "bytes:dma") == (double)(1 << 30));
}
END_TEST

/* ---- per-class time series ---------------------------------------------
 * The fabric's latency over time is reported per transfer class, never
 * pooled over a path: KV loads and UVM migrations both take `dma`, and a
 * pooled mean would mix a 1 MiB copy with a 64 KiB one. Each interval's
 * point is the exact mean (and max) of the latencies of that class's
 * transfers that finished in it, as the callers observed them; throughput
 * is their bytes over the interval. */
enum { CLS_DONE = SIM_EV_USER + 6 };
static uint64_t cls_lat[4];
static void cls_probe_handle(sim_comp *c, const sim_event *e)
{
    if (e->kind == CLS_DONE && e->a0 < 4)
        cls_lat[e->a0] = e->a1;
}
static const sim_model cls_probe_model = {.type = "probe", .params = no_params,
                                          .state_size = 8, .handle = cls_probe_handle};

#define TS_MAX 4096
static struct ts_row {
    char scope[32], name[64];
    sim_time t;
    double v;
} ts_rows[TS_MAX];
static int ts_n;
static int ts_keep(void *ctx, const char *scope, const char *name, sim_time t, double v)
{
    (void)ctx;
    if (ts_n < TS_MAX) {
        snprintf(ts_rows[ts_n].scope, sizeof ts_rows[0].scope, "%s", scope);
        snprintf(ts_rows[ts_n].name, sizeof ts_rows[0].name, "%s", name);
        ts_rows[ts_n].t = t;
        ts_rows[ts_n++].v = v;
    }
    return 0;
}
/* Points of fabric/name: how many, and the first one's time and value. */
static int ts_points(const char *name, sim_time *t0, double *v0)
{
    int n = 0;
    for (int i = 0; i < ts_n; i++)
        if (strcmp(ts_rows[i].scope, "fabric") == 0 && strcmp(ts_rows[i].name, name) == 0) {
            if (!n++) {
                *t0 = ts_rows[i].t;
                *v0 = ts_rows[i].v;
            }
        }
    return n;
}

static void poke_classes(sim *s)
{
    sim_err err;
    sim_comp *p = sim_add(s, &cls_probe_model, "probe", NULL, &err);
    ck_assert_ptr_nonnull(p);
    sim_sink k = {&cap, capture_metric, capture_link, ts_keep, capture_request,
                  NULL, NULL, NULL, NULL, NULL};
    sim_set_sink(s, &k);
    uint32_t host = sim_find(s, "host")->id, g0 = sim_find(s, "gpu0")->id,
             g1 = sim_find(s, "gpu1")->id;
    ck_assert_int_eq(fabric_transfer_class(s, FABRIC_CLASS_KV_LOAD, host, g0, 1 << 20,
                                           FABRIC_PATH_DMA, p->id, CLS_DONE, 0), 0);
    ck_assert_int_eq(fabric_transfer_class(s, FABRIC_CLASS_KV_LOAD, host, g1, 256 << 10,
                                           FABRIC_PATH_DMA, p->id, CLS_DONE, 1), 0);
    ck_assert_int_eq(fabric_transfer_class(s, FABRIC_CLASS_UVM, g1, host, 64 << 10,
                                           FABRIC_PATH_DMA, p->id, CLS_DONE, 2), 0);
}

START_TEST(latency_series_per_class)
{
    /* gpu2 keeps the run (and so the sampler) going past the classified
     * transfers, which all finish in the first 100 us interval. */
    const char *text =
        "name: classes\noutput: {sample_interval: 100 us}\ncomponents:\n"
        "  - {name: host, type: cpu}\n  - {name: gpu0, type: gpu}\n"
        "  - {name: gpu1, type: gpu}\n  - {name: gpu2, type: gpu}\n"
        "  - {name: keep, type: xfer, src: host, dst: gpu2, size: 4 KiB, count: 200,"
        " gap: 1 us, path: dma}\n"
        "links:\n"
        "  - {name: l0, type: pcie, gen: 4, lanes: 16, ends: [host, gpu0]}\n"
        "  - {name: l1, type: pcie, gen: 4, lanes: 16, ends: [host, gpu1]}\n"
        "  - {name: l2, type: pcie, gen: 4, lanes: 16, ends: [host, gpu2]}\n";
    ts_n = 0;
    memset(cls_lat, 0, sizeof cls_lat);
    sim_err err;
    ck_assert_msg(run_text(text, poke_classes, &err) == 0, "%s", err.msg);
    ck_assert(cls_lat[0] > 0 && cls_lat[1] > 0 && cls_lat[2] > 0);
    ck_assert(cls_lat[0] < 100000000 && cls_lat[1] < 100000000 && cls_lat[2] < 100000000);
    sim_time t;
    double v;
    /* kv_load: both loads in the first interval, mean and max of the two */
    ck_assert_int_eq(ts_points("latency:class:kv_load", &t, &v), 1);
    ck_assert_uint_eq(t, 100000000);
    capture_close(v, (double)(cls_lat[0] + cls_lat[1]) / 2 * 1e-12, 1e-12, "kv_load mean");
    ck_assert_int_eq(ts_points("latency_max:class:kv_load", &t, &v), 1);
    capture_close(v, (double)(cls_lat[0] > cls_lat[1] ? cls_lat[0] : cls_lat[1]) * 1e-12, 1e-12,
                  "kv_load max");
    /* uvm: its own series, its one transfer */
    ck_assert_int_eq(ts_points("latency:class:uvm", &t, &v), 1);
    capture_close(v, (double)cls_lat[2] * 1e-12, 1e-12, "uvm");
    /* throughput: bytes over the interval, then 0 in every later interval */
    int n = ts_points("throughput:class:kv_load", &t, &v);
    ck_assert_int_ge(n, 2);
    capture_close(v, (double)((1 << 20) + (256 << 10)) / 100e-6, 1e-12, "kv_load throughput");
    for (int i = 0; i < ts_n; i++)
        if (strcmp(ts_rows[i].name, "throughput:class:kv_load") == 0 && ts_rows[i].t > t)
            ck_assert(ts_rows[i].v == 0.0);
    /* no class of its own: the load generator's transfers have no class series */
    ck_assert_int_eq(ts_points("latency:class:other", &t, &v), 0);
    /* the pooled path metric is what it was: mean over all dma transfers */
    ck_assert(capture_get(&cap, "fabric", "transfers:dma") == 203);
    capture_close(capture_get(&cap, "fabric", "latency:class:kv_load_mean"),
                  (double)(cls_lat[0] + cls_lat[1]) / 2 * 1e-12, 1e-12, "class metric");
    /* units go to timeseries.unit: the class patterns come before throughput:* */
    ck_assert_str_eq(sim_series_unit(&fabric_model, "latency:class:uvm"), "s");
    ck_assert_str_eq(sim_series_unit(&fabric_model, "latency_max:class:uvm"), "s");
    ck_assert_str_eq(sim_series_unit(&fabric_model, "throughput:class:uvm"), "B/s");
    ck_assert_str_eq(sim_series_unit(&fabric_model, "throughput:dma"), "B/s");
}
END_TEST

static void poke_route(sim *s)
{
    uint32_t links[8], n = 0;
    ck_assert_int_eq(fabric_route(s, sim_find(s, "gpu0")->id, sim_find(s, "ssd")->id, links, 8,
                                  &n),
                     0);
    ck_assert_uint_eq(n, 2); /* g, n: below the switch, not via the host */
    ck_assert_uint_eq(links[0], sim_find(s, "g")->id);
    ck_assert_uint_eq(links[1], sim_find(s, "n")->id);
}

START_TEST(route_through_switch)
{
    const char *text =
        "name: r\ncomponents:\n"
        "  - {name: host, type: cpu}\n  - {name: sw, type: pcie_switch}\n"
        "  - {name: gpu0, type: gpu}\n  - {name: ssd, type: nvme}\n"
        "links:\n"
        "  - {name: up, type: pcie, link_overhead: pcie-bench, ends: [host, sw]}\n"
        "  - {name: g, type: pcie, link_overhead: pcie-bench, ends: [sw, gpu0]}\n"
        "  - {name: n, type: pcie, link_overhead: pcie-bench, ends: [sw, ssd]}\n"
        "  - {name: direct, type: pcie, link_overhead: pcie-bench, ends: [host, ssd]}\n";
    sim_err err;
    ck_assert_msg(run_text(text, poke_route, &err) == 0, "%s", err.msg);
}
END_TEST

static void poke_pool(sim *s)
{
    uint32_t h0 = sim_find(s, "h0")->id, h1 = sim_find(s, "h1")->id;
    uint32_t pool = sim_find(s, "pool")->id;
    ck_assert_int_eq(fabric_mem_alloc(s, h0, pool, 64ull << 30), 0);
    ck_assert_int_eq(fabric_mem_alloc(s, h0, pool, 1), SIM_ESTATE); /* per-host cap */
    ck_assert_int_eq(fabric_mem_alloc(s, h1, pool, 64ull << 30), 0);
    ck_assert_int_eq(fabric_mem_release(s, h0, pool, 1ull << 30), 0);
    ck_assert_int_eq(fabric_mem_alloc(s, h0, pool, 1ull << 30), 0);
    ck_assert_int_eq(fabric_mem_alloc(s, h0, h1, 1), SIM_EINVAL); /* not a memory */
}

START_TEST(cxl_pool_per_host_capacity)
{
    const char *text =
        "name: pool\ncomponents:\n"
        "  - {name: h0, type: cpu}\n  - {name: h1, type: cpu}\n  - {name: csw, type: cxl_switch}\n"
        "  - {name: pool, type: memory, kind: cxl, capacity: 256 GiB, per_host_capacity: 64 GiB}\n"
        "links:\n"
        "  - {name: c0, type: cxl, ends: [h0, csw]}\n  - {name: c1, type: cxl, ends: [h1, csw]}\n"
        "  - {name: cp, type: cxl, ends: [csw, pool]}\n";
    sim_err err;
    ck_assert_msg(run_text(text, poke_pool, &err) == 0, "%s", err.msg);
    ck_assert(capture_get(&cap, "pool", "allocated:h0") == 64.0 * (1ull << 30));
}
END_TEST

/* The engine prices a chunk at a step once and reuses the price for the
 * next chunk of the same size and alignment to the protocol's granule
 * (fab_proto.offset_period: PCIe's TLP granule, CXL's 64 B line). That
 * rests on a promise of each protocol: a piece's wire bytes and units
 * depend on its offset only through the offset modulo the period. Held
 * here for PCIe (MPS 128..4096, reads and writes, both directions, RCB
 * completions, calibrated overhead, Gen6 flits) and CXL (68 and 256 B
 * flits), bit for bit, over offsets and sizes that straddle granules. */
static void period_holds(const fab_proto *p, const void *cfg, int op, int dir)
{
    uint64_t per = p->offset_period(cfg, op, dir);
    ck_assert_msg(per && !(per & (per - 1)), "period %llu not a power of two",
                  (unsigned long long)per);
    static const uint64_t sizes[] = {1, 63, 64, 65, 100, 1000, 4096, 5000, 1u << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (uint64_t off = 0; off < 3 * 8192; off += 37) {
            uint64_t ua, ub;
            double wa = p->wire_bytes_at(cfg, op, off, sizes[k], dir, &ua);
            double wb = p->wire_bytes_at(cfg, op, off & (per - 1), sizes[k], dir, &ub);
            if (wa != wb || ua != ub)
                ck_abort_msg("%s op %d dir %d: %llu B at %llu: %.17g B %llu units; at %llu: "
                             "%.17g B %llu units",
                             p->name, op, dir, (unsigned long long)sizes[k],
                             (unsigned long long)off, wa, (unsigned long long)ua,
                             (unsigned long long)(off & (per - 1)), wb, (unsigned long long)ub);
        }
}

START_TEST(offset_period_promise)
{
    const fab_proto *pp = ((const fab_class *)pcie_model.ext)->proto;
    const fab_proto *cp = ((const fab_class *)cxl_model.ext)->proto;
    ck_assert(pp->offset_period != NULL);
    ck_assert(cp->offset_period != NULL);
    static const uint32_t mps[] = {128, 256, 512, 4096};
    for (int g = 0; g < 4; g++)
        for (int var = 0; var < 4; var++) {
            pcie_cfg c = {5, 16, mps[g], 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
            if (var == 1)
                c.rcb_chunks = 1;
            if (var == 2)
                c.overhead = PCIE_OVH_CALIBRATED;
            if (var == 3)
                c.gen = 6;
            for (int op = 0; op < 2; op++)
                for (int dir = 0; dir < 2; dir++)
                    period_holds(pp, &c, op ? FAB_OP_READ : FAB_OP_WRITE,
                                 dir ? FAB_DIR_REQ : FAB_DIR_DATA);
        }
    for (int f = 0; f < 3; f++) {
        cxl_cfg c = {f, 32e9, 16};
        for (int dir = 0; dir < 2; dir++)
            period_holds(cp, &c, FAB_OP_READ, dir ? FAB_DIR_REQ : FAB_DIR_DATA);
    }
}
END_TEST

/* ... and the engine's use of it: 100,000 B in 1000 B chunks (offsets
 * that fall at every alignment to the 256 B TLP granule and the 64 B CXL
 * line, a price reused only where it is the same) must put on the wire
 * what the protocol gives for the whole transfer: ceil(100000 / 256) =
 * 391 MWr TLPs of pcie-bench framing (24 B each) over the payload, or
 * ceil(100000 / 64) = 1563 lines, 64 B each way for the data and 16 B for
 * the requests, over the flit efficiency. A price reused for a chunk of
 * another alignment gives 400 TLPs or 1600 lines. */
START_TEST(chunk_prices_exact)
{
    char text[1536];
    const uint64_t total = 100000;
    if (_i == 0)
        snprintf(text, sizeof text,
                 "name: memo\ncomponents:\n"
                 "  - {name: fabric, type: fabric, chunk: 1000 B}\n"
                 "  - {name: host, type: cpu, dram_bandwidth: 1 TB/s}\n"
                 "  - {name: dev, type: endpoint}\n"
                 "  - {name: a, type: xfer, src: dev, dst: host, size: %llu B, path: dma}\n"
                 "links:\n"
                 "  - {name: l, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16,"
                 " max_payload: 256 B, max_read_request: 512 B, ends: [host, dev]}\n",
                 (unsigned long long)total);
    else
        snprintf(text, sizeof text,
                 "name: memo\ncomponents:\n"
                 "  - {name: fabric, type: fabric, chunk: 1000 B}\n"
                 "  - {name: host, type: cpu, memcpy_bandwidth: 1 TB/s, dram_bandwidth: 1 TB/s}\n"
                 "  - {name: exp, type: memory, kind: cxl, bandwidth: 1 TB/s, latency: 200 ns}\n"
                 "  - {name: a, type: xfer, src: exp, dst: host, size: %llu B, path: cxl}\n"
                 "links:\n  - {name: c, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16,"
                 " ends: [host, exp]}\n",
                 (unsigned long long)total);
    sim_err err;
    ck_assert_msg(run_text(text, NULL, &err) == 0, "%s", err.msg);
    ck_assert(capture_get(&cap, "a", "bytes") == (double)total);
    if (_i == 0) {
        pcie_cfg c = {5, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
        ck_assert_uint_eq(pcie_tlps(&c, PCIE_OP_WRITE, total, PCIE_DIR_DATA), 391);
        double want = (double)(total + 391 * 24) / (1.0 - pcie_dllp_fraction(&c));
        capture_close(capture_get(&cap, "l", "wire_bytes:dev->host"), want, 1e-12,
                      "MWr wire bytes");
    } else {
        double eff = cxl_flit_efficiency(CXL_FLIT_68);
        capture_close(capture_get(&cap, "c", "wire_bytes:exp->host"), 1563 * 64 / eff, 1e-12,
                      "data lines");
        capture_close(capture_get(&cap, "c", "wire_bytes:host->exp"), 1563 * 16 / eff, 1e-12,
                      "request slots");
    }
}
END_TEST

START_TEST(xfer_errors)
{
    sim_err err;
    ck_assert_int_ne(run_text("name: e\ncomponents:\n  - {name: host, type: cpu}\n"
                              "  - {name: a, type: xfer, src: host, dst: nothere}\n",
                              NULL, &err),
                     0);
    ck_assert_int_eq(err.line, 4);
    ck_assert_int_ne(run_text("name: e\ncomponents:\n  - {name: host, type: cpu}\n"
                              "  - {name: f, type: fabric, chunk: 6000 B}\n",
                              NULL, &err),
                     0);
    ck_assert_int_ne(run_text("name: e\ncomponents:\n  - {name: g, type: gpu, copy_engines: 0}\n",
                              NULL, &err),
                     0);
    ck_assert_int_ne(run_text("name: e\ncomponents:\n"
                              "  - {name: m, type: memory, attach: nobody}\n",
                              NULL, &err),
                     0);
}
END_TEST

static Suite *fabric_suite(void)
{
    Suite *s = suite_create("fabric");
    TCase *core = tcase_create("Core");
    tcase_set_timeout(core, 60);
    tcase_add_test(core, two_flows_share_uplink);
    tcase_add_test(core, one_flow_alone_gets_the_uplink);
    tcase_add_loop_test(core, cxl_flits, 0, 3);
    tcase_add_loop_test(core, cxl_packet_vs_chunk, 0, 2);
    tcase_add_test(core, gds_vs_bounce);
    tcase_add_test(core, bounce_cpu_independent_of_chunk);
    tcase_add_test(core, gds_write_is_ssd_read);
    tcase_add_test(core, pageable_vs_pinned);
    tcase_add_test(core, transfer_interface);
    tcase_add_test(core, route_through_switch);
    tcase_add_test(core, latency_series_per_class);
    tcase_add_loop_test(core, lone_flow_equals_chunks, 0, N_LONE);
    tcase_add_test(core, offset_period_promise);
    tcase_add_loop_test(core, chunk_prices_exact, 0, 2);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, copy_engines_limit);
    tcase_add_test(lim, free_transfers);
    tcase_add_test(lim, cxl_pool_per_host_capacity);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_test(errs, xfer_errors);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(fabric_suite());
}
