/*
 * check_um.c - CUDA unified memory: fault batches, the tree prefetcher,
 * LRU eviction of 2 MiB blocks, migration time over a PCIe link.
 *
 * Hand derivations (4 KiB pages, 2 MiB blocks of 512 pages, 64 KiB leaves
 * of 16 pages, threshold 51: a node qualifies when count x 100 > pages x 51):
 *
 *   Sequential scan, batch_count 256, a fitting allocation of N blocks:
 *   a batch holds pages [256i, 256i + 256). The first half of a block fills
 *   leaves 0..15; the 1 MiB node is full, the root has 256/512 = 50%, not
 *   above 51%: nothing to prefetch. The second half completes the block.
 *   So faults = 512 N, batches = 2 N, prefetched = 0.
 *
 *   Sequential scan, batch_count 40, per block:
 *     batch 1 faults 0..39: leaves 0, 1 and 2 (32..47, grown to 64 KiB) are
 *       full; from leaf 2: 128 KiB node (leaves 2-3) 16/32 no; 256 KiB
 *       (0-3) 48/64 = 75% yes; 512 KiB 48/128 no; 1 MiB, root no.
 *       Region 0..63: prefetch 40..63 = 24 pages.
 *     batch 2 faults 64..103 (64..111 grown): 256 KiB (64..127) 48/64 yes,
 *       512 KiB (0..127) 64 + 48 = 112/128 yes, 1 MiB 112/256 no.
 *       Region 0..127: prefetch 104..127 = 24.
 *     batch 3 faults 128..167 (to 175): 256 KiB (128..191) 48/64 yes,
 *       512 KiB (128..255) 48/128 no, 1 MiB (0..255) 128 + 48 = 176/256 =
 *       68.75% yes, root 176/512 no. Region 0..255: prefetch 168..255 = 88.
 *     batch 4 faults 256..295 (to 303): 256 KiB yes, 512 KiB, 1 MiB no,
 *       root 256 + 48 = 304/512 = 59.4% yes: prefetch 296..511 = 216.
 *   So per block 4 batches, 160 faults, 24 + 24 + 88 + 216 = 352 prefetched
 *   pages, all accessed afterwards (accuracy 1).
 *
 *   One access per block (stride 2 MiB): each fault is grown to its 64 KiB
 *   leaf: 1 fault + 15 prefetched pages per block.
 *
 *   Cyclic scan of F blocks with C < F chunks, P passes: the first pass
 *   evicts F - C blocks (each block beyond C takes the LRU one); in every
 *   later pass the block reached is never among the C most recently used,
 *   so each of the F blocks faults again and evicts one: F - C + F (P - 1)
 *   evictions; with `writeback: all` every evicted block writes back 512
 *   pages, with `writeback: dirty` and no writes none.
 *
 *   Migration time (access_rate 0, prefetcher off, one Gen4 x16 link, DRAM
 *   and HBM far faster than the link, latencies zero): a batch of 256
 *   faults of one block costs batch_cost + 256 fault_cost, then a 1 MiB
 *   DMA read whose time is the link's completion-direction wire time,
 *   pcie_wire_time(cfg, READ, 1 MiB, DATA) (Neugebauer et al.'s model, held
 *   to the paper in check_pcie.c), plus the pipeline fill: the MRd requests
 *   of the first 256 KiB fabric chunk, pcie_wire_time(cfg, READ, 256 KiB,
 *   REQ), cross the other direction first. Within 0.05% (the DRAM step
 *   overlaps the tail of those requests by cut-through; ps rounding).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/fabric/pcie.h"
#include "models/registry.h"
#include "models/uvm/um.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"

static capture cap;
static um_stats st;     /* the um component's counters after the run */
static uint64_t checks; /* full invariant checks done during the run */

static void setup(void)
{
    memset(&st, 0, sizeof st);
    checks = 0;
}

static void teardown(void) {}

static sim_comp *um0;     /* the um component of the run under way */
static sim_time run_step; /* the step of run_text's stepped run */

static void find_um(sim *s)
{
    um0 = sim_find(s, "um0");
    ck_assert_ptr_nonnull(um0);
}

/* Run in steps of run_step ps with a full invariant check after each. */
static void run_stepped(sim *s)
{
    sim_time t = 0;
    for (;;) {
        uint64_t ev = sim_events(s);
        ck_assert_int_eq(sim_run(s, t), 0);
        ck_assert_int_eq(um_check_state(um0), 0);
        checks++;
        ck_assert_int_eq(um_get_stats(um0, &st), 0);
        if (st.end_ps && sim_events(s) == ev && t > st.end_ps)
            break;
        t += run_step;
    }
}

static void keep_stats(sim *s)
{
    (void)s;
    ck_assert_int_eq(um_check_state(um0), 0);
    ck_assert_int_eq(um_get_stats(um0, &st), 0);
}

/* Build, start, run (in steps of `step` ps with a full invariant check
 * after each when step > 0), finish. Returns the build/start code. */
static int run_text(const char *text, sim_time step, sim_err *err)
{
    capture_opts o = {.started = find_um, .run = step ? run_stepped : NULL, .ran = keep_stats};
    run_step = step;
    return capture_run(&cap, text, &o, err);
}

/* A host, a GPU, one Gen4 x16 link and um0 with extra keys `um`. */
static int run_um(const char *um, sim_err *err)
{
    char text[2048];
    snprintf(text, sizeof text,
             "name: t\nseed: 3\noutput: {sample_interval: 100 us}\ncomponents:\n"
             "  - {name: host, type: cpu, latency: 0 ns, dram_latency: 0 ns,"
             " dram_bandwidth: 10 TB/s}\n"
             "  - {name: gpu0, type: gpu, hbm_latency: 0 ns, hbm_bandwidth: 100 TB/s}\n"
             "  - {name: um0, type: um, host: host, gpu: gpu0, %s}\n"
             "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, gen: 4, lanes: 16, latency: 0 ns,"
             " ends: [host, gpu0]}\n",
             um);
    return run_text(text, 0, err);
}

static double metric(const char *name) { return capture_get(&cap, "um0", name); }

/* Bytes of the host -> gpu0 direction of link l, from the links rows. */
static uint64_t link_bytes(const char *dir)
{
    for (int i = 0; i < cap.nlinks; i++)
        if (strcmp(cap.link_dir[i], dir) == 0)
            return cap.link_bytes[i];
    return UINT64_MAX;
}

/* ---- Core ---------------------------------------------------------------- */

START_TEST(seq_fit_batch256)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 8 MiB, capacity: 64 MiB, access_rate: 0", &err) == 0, "%s",
                  err.msg);
    ck_assert_uint_eq(st.faults, 2048);
    ck_assert_uint_eq(st.batches, 8);
    ck_assert_uint_eq(st.prefetched, 0);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.pages_in, 2048);
    ck_assert_uint_eq(st.pages_out, 0);
    ck_assert_uint_eq(st.duplicate_faults, 0);
    ck_assert_uint_eq(st.hits, 0);
    ck_assert_uint_eq(st.resident_pages, 2048);
    ck_assert_uint_eq(link_bytes("host->gpu0"), 8u << 20);
    ck_assert(metric("fault_batches") == 8.0);
}
END_TEST

START_TEST(seq_fit_batch40_prefetch)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 8 MiB, capacity: 64 MiB, access_rate: 0, batch_count: 40",
                         &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.faults, 4 * 160);
    ck_assert_uint_eq(st.batches, 4 * 4);
    ck_assert_uint_eq(st.prefetched, 4 * 352);
    ck_assert_uint_eq(st.prefetch_used, 4 * 352);
    ck_assert_uint_eq(st.hits, 4 * 352);
    ck_assert_uint_eq(st.pages_in, 2048);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert(metric("prefetch_accuracy") == 1.0);
    ck_assert(metric("pages_prefetched") == 1408.0);
    ck_assert_uint_eq(link_bytes("host->gpu0"), 8u << 20);
}
END_TEST

START_TEST(seq_fit_batch40_no_prefetch)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 8 MiB, capacity: 64 MiB, access_rate: 0, batch_count: 40,"
                         " prefetcher: false",
                         &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.faults, 2048);
    ck_assert_uint_eq(st.batches, 52); /* 51 full batches, the kernel's end flushes 8 faults */
    ck_assert_uint_eq(st.prefetched, 0);
    ck_assert(metric("prefetch_accuracy") == 0.0);
}
END_TEST

START_TEST(one_access_per_block_grows_to_64k)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 8 MiB, pattern: strided, stride: 2 MiB, accesses: 4,"
                         " access_rate: 0",
                         &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.faults, 4);
    ck_assert_uint_eq(st.batches, 1);
    ck_assert_uint_eq(st.prefetched, 4 * 15);
    ck_assert_uint_eq(st.prefetch_used, 0);
    ck_assert_uint_eq(st.pages_in, 64);
}
END_TEST

START_TEST(migration_time_from_link)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 8 MiB, capacity: 64 MiB, access_rate: 0, prefetcher: false,"
                         " batch_cost: 20 us, fault_cost: 200 ns",
                         &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.batches, 8);
    /* the link's defaults besides gen/lanes: MPS 256, MRRS 512, RCB 64, 64-bit, DLLPs */
    pcie_cfg c = {4, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double wire = (double)pcie_wire_time(&c, PCIE_OP_READ, 1u << 20, PCIE_DIR_DATA);
    /* pipeline fill: the read requests of the first 256 KiB fabric chunk
     * cross the other direction before its completions can start */
    double fill = (double)pcie_wire_time(&c, PCIE_OP_READ, 256u << 10, PCIE_DIR_REQ);
    double handling = 20e6 + 256 * 200e3;
    double want = 8 * (handling + wire + fill);
    double got = (double)st.stall_ps;
    ck_assert_msg(fabs(got - want) <= 5e-4 * want, "stall %.0f ps, expected %.0f ps (%+.4f%%)",
                  got, want, 100 * (got - want) / want);
    ck_assert_uint_eq(st.handling_ps, (sim_time)(8 * handling));
    ck_assert_uint_eq(st.end_ps, st.stall_ps); /* nothing but stalls when accesses are free */
    /* the bytes crossed the PCIe link, and its busy time is the wire time */
    ck_assert_uint_eq(link_bytes("host->gpu0"), 8u << 20);
    ck_assert(metric("effective_bandwidth") > 0.99 * (8u << 20) / (want * 1e-12));
}
END_TEST

START_TEST(access_rate_adds_compute_time)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 8 MiB, capacity: 64 MiB, access_rate: 1e8, kernels: 3",
                         &err) == 0,
                  "%s", err.msg);
    /* 3 x 2048 accesses at 10 ns each, plus the stalls of the first pass */
    ck_assert_uint_eq(st.accesses, 3 * 2048);
    ck_assert_uint_eq(st.hits, 2 * 2048);
    ck_assert_uint_eq(st.end_ps - st.stall_ps, 3 * 2048 * 10000ull);
    ck_assert(cap.timeseries > 0);
}
END_TEST

START_TEST(explicit_prefetch_fits)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 8 MiB, capacity: 64 MiB, explicit_prefetch: true", &err) ==
                      0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.explicit_pages, 2048);
    ck_assert_uint_eq(st.faults, 0);
    ck_assert_uint_eq(st.batches, 0);
    ck_assert_uint_eq(st.hits, 2048);
    ck_assert_uint_eq(st.pages_in, 2048);
}
END_TEST

/* ---- Limits ---------------------------------------------------------------- */

static const char *const wb_modes[] = {"writeback: all, write_fraction: 0",
                                       "writeback: dirty, write_fraction: 0",
                                       "writeback: dirty, write_fraction: 1"};
static const uint64_t wb_pages_per_eviction[] = {512, 0, 512};

START_TEST(cyclic_scan_thrashes)
{
    /* F = 12 blocks, C = 8 chunks (1.5x oversubscribed), P = 3 passes */
    char um[512];
    snprintf(um, sizeof um,
             "footprint: 24 MiB, capacity: 16 MiB, kernels: 3, access_rate: 0, %s",
             wb_modes[_i]);
    sim_err err;
    ck_assert_msg(run_um(um, &err) == 0, "%s", err.msg);
    uint64_t ev = 12 - 8 + 12 * 2;
    ck_assert_uint_eq(st.evictions, ev);
    ck_assert_uint_eq(st.pages_out, ev * wb_pages_per_eviction[_i]);
    ck_assert_uint_eq(link_bytes("gpu0->host"), ev * wb_pages_per_eviction[_i] * 4096);
    ck_assert_uint_eq(st.faults, 3 * 12 * 512); /* every page faults in every pass */
    ck_assert_uint_eq(st.hits, 0);
    ck_assert_uint_eq(st.batches, 3 * 12 * 2);
    ck_assert_uint_eq(st.pages_in, 3 * 12 * 512);
    ck_assert_uint_eq(st.chunks_used, 8);
    ck_assert_uint_eq(st.resident_pages, 8 * 512);
}
END_TEST

START_TEST(fits_no_evictions_many_passes)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 16 MiB, capacity: 16 MiB, kernels: 4, access_rate: 0",
                         &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.faults, 4096);
    ck_assert_uint_eq(st.hits, 3 * 4096);
}
END_TEST

START_TEST(one_chunk_random)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 8 MiB, capacity: 2 MiB, pattern: random, accesses: 3000,"
                         " batch_count: 64, write_fraction: 0.5",
                         &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.accesses, 3000);
    ck_assert_uint_le(st.chunks_used, 1);
    ck_assert(st.evictions > 0);
    ck_assert(st.pages_out > 0);
}
END_TEST

START_TEST(partial_last_block)
{
    sim_err err;
    /* 2 MiB + 20 KiB: a second block of 5 pages, its one leaf short */
    ck_assert_msg(run_um("footprint: 2068 KiB, access_rate: 0, batch_count: 1", &err) == 0, "%s",
                  err.msg);
    ck_assert_uint_eq(st.pages_in, 517);
    ck_assert_uint_eq(st.resident_pages, 517);
    ck_assert_uint_eq(st.accesses, 517);
    ck_assert_uint_eq(st.faults + st.hits, 517);
}
END_TEST

/* Randomized runs with every pattern: the invariants hold between events. */
static const char *const patterns[] = {"sequential", "strided", "random", "kvcache"};

START_TEST(randomized_invariants)
{
    char um[512];
    snprintf(um, sizeof um,
             "footprint: 24 MiB, capacity: 16 MiB, pattern: %s, stride: 192 KiB, kernels: 3,"
             " accesses: 8000, write_fraction: 0.3, batch_count: 64, kv_sequences: 5,"
             " writeback: dirty",
             patterns[_i]);
    char text[2048];
    snprintf(text, sizeof text,
             "name: r\nseed: %d\ncomponents:\n  - {name: host, type: cpu}\n"
             "  - {name: gpu0, type: gpu}\n  - {name: um0, type: um, host: host, gpu: gpu0, %s}\n"
             "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [host, gpu0]}\n",
             11 + _i, um);
    sim_err err;
    ck_assert_msg(run_text(text, 20 * SIM_US, &err) == 0, "%s", err.msg);
    ck_assert(checks > 10);
    ck_assert_uint_eq(st.accesses, 3 * 8000);
    ck_assert_uint_eq(st.faults + st.duplicate_faults + st.hits, st.accesses);
    ck_assert_uint_le(st.chunks_used, st.chunks_cap);
    ck_assert_uint_le(st.prefetch_used, st.prefetched);
    ck_assert_uint_eq(st.bytes_in, st.pages_in * 4096);
}
END_TEST

/* ---- Errors ---------------------------------------------------------------- */

static const struct {
    const char *um;   /* um0's keys */
    const char *msg;  /* expected in the message */
} bad[] = {
    {"host: gpu0, gpu: gpu0", "not a cpu or memory"},
    {"host: host, gpu: nosuch", "not a gpu"},
    {"host: host, gpu: gpu0, capacity: 1 MiB", "at least one 2 MiB block"},
    {"host: host, gpu: gpu0, footprint: 0 B", "footprint"},
    {"host: host, gpu: gpu0, stride: 6000 B", "multiple of 4 KiB"},
    {"host: host, gpu: gpu0, prefetch_threshold: 101", "percentage"},
    {"host: host, gpu: gpu0, write_fraction: 1.5", "write_fraction"},
    {"host: host, gpu: gpu0, batch_count: 0", "batch_count"},
    {"host: host, gpu: gpu0, kernels: 0", "kernel"},
    {"host: host, gpu: gpu0, pattern: zigzag", "zigzag"},
    {"host: host, gpu: gpu0, capacity: 12 parsecs", "capacity"},
    {"host: host, gpu: gpu0, batch_cnt: 3", "batch_count"},
    {"host: host, gpu: gpu1", "no fabric route"},
};

START_TEST(scenario_errors)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: e\ncomponents:\n  - {name: host, type: cpu}\n  - {name: gpu0, type: gpu}\n"
             "  - {name: gpu1, type: gpu}\n"
             "  - {name: um0, type: um,\n     %s}\n"
             "links:\n  - {name: l, type: pcie, link_overhead: pcie-bench, ends: [host, gpu0]}\n",
             bad[_i].um);
    sim_err err;
    ck_assert_msg(capture_build("e.yaml", text, 1, &err) != 0, "case %d accepted", _i);
    ck_assert_msg(strstr(err.msg, bad[_i].msg), "case %d: '%s'", _i, err.msg);
    ck_assert_int_eq(err.line, 7); /* at the um's keys */
}
END_TEST

START_TEST(missing_required_keys)
{
    sim_err err;
    ck_assert_int_ne(capture_build("e.yaml",
                                   "name: e\ncomponents:\n  - {name: host, type: cpu}\n"
                                   "  - {name: um0, type: um, host: host}\n",
                                   0, &err),
                     0);
    ck_assert_msg(strstr(err.msg, "gpu"), "%s", err.msg);
    /* the accessors refuse other components */
    um_stats x;
    ck_assert_int_eq(um_get_stats(NULL, &x), SIM_EINVAL);
    ck_assert_int_eq(um_check_state(NULL), SIM_EINVAL);
}
END_TEST


/* ---- Advice, CPU actor, thrashing (issue 13 parts 2 and 3) ---------------- */

/* Wire time of one `bytes` DMA read over the Gen4 x16 link of run_um, with
 * the pipeline fill of its first 256 KiB chunk (as migration_time_from_link). */
static double dma_time(uint64_t bytes)
{
    pcie_cfg c = {4, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    return (double)pcie_wire_time(&c, PCIE_OP_READ, bytes, PCIE_DIR_DATA) +
           (double)pcie_wire_time(&c, PCIE_OP_READ, 256u << 10, PCIE_DIR_REQ);
}

/* Accessed-by: one kernel reading 8 MiB of host pages mapped by the GPU:
 * no fault, no migration, the 8 MiB cross the link as one zero-copy read
 * whose time is the link's DMA time of 8 MiB (same tolerance as
 * migration_time_from_link: the fabric's chunk pipelining). */
START_TEST(accessed_by_zero_copy)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 8 MiB, capacity: 64 MiB, access_rate: 0, "
                         "advice: [{range: [0, 8 MiB], accessed_by: gpu}]", &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.faults, 0);
    ck_assert_uint_eq(st.pages_in, 0);
    ck_assert_uint_eq(st.bytes_in + st.bytes_out, 0);
    ck_assert_uint_eq(st.remote_accesses, 2048);
    ck_assert_uint_eq(st.remote_read_bytes, 8u << 20);
    ck_assert_uint_eq(link_bytes("host->gpu0"), 8u << 20);
    double want = dma_time(8u << 20), got = (double)st.remote_ps;
    ck_assert_msg(fabs(got - want) <= 5e-4 * want, "remote %.0f ps, expected %.0f (%+.4f%%)",
                  got, want, 100 * (got - want) / want);
    ck_assert_uint_eq(st.end_ps, st.remote_ps);
    /* preferred location host does the same (remote mapping, no migration) */
    ck_assert(run_um("footprint: 8 MiB, capacity: 64 MiB, access_rate: 0, "
                     "advice: [{range: [0, 8 MiB], preferred_location: host}]", &err) == 0);
    ck_assert_uint_eq(st.pages_in, 0);
    ck_assert_uint_eq(st.remote_read_bytes, 8u << 20);
}
END_TEST

/* Ping-pong on one 2 MiB block: K = 8 GPU kernels reading it, the CPU
 * writing it after each of the first 7; batch_count 512: each kernel faults
 * the whole block in one batch (with 256 it would arrive in two halves, two
 * migrations). */
#define PP "footprint: 2 MiB, capacity: 64 MiB, access_rate: 0, kernels: 8, batch_count: 512, " \
           "cpu_touch: {range: [0, 2 MiB], write: true, fault_cost: 10 us}, "

/* Mitigation off: every alternation migrates the block: 8 in + 7 out = 15,
 * 8 x 512 pages in, 7 x 512 out; slower than the explicit-copy baseline
 * that moves the 2 MiB once each way (2 x the DMA time of 2 MiB). */
START_TEST(pingpong_no_mitigation)
{
    sim_err err;
    ck_assert_msg(run_um(PP "thrashing: {threshold: 3, window: 1 s, mitigation: none}", &err)
                  == 0, "%s", err.msg);
    ck_assert_uint_eq(st.block_migrations, 15);
    ck_assert_uint_eq(st.pages_in, 8 * 512);
    ck_assert_uint_eq(st.cpu_pages_out, 7 * 512);
    ck_assert_uint_eq(st.cpu_faults, 7);
    ck_assert_uint_eq(st.thrash_detections, 15 - 3);
    ck_assert_uint_eq(st.remote_accesses, 0);
    double baseline = 2 * dma_time(2u << 20);
    ck_assert_msg((double)st.end_ps > baseline, "managed %llu ps <= explicit %.0f ps",
                  (unsigned long long)st.end_ps, baseline);
    ck_assert_msg((double)st.end_ps > 7 * baseline, "managed %llu ps, explicit %.0f ps",
                  (unsigned long long)st.end_ps, baseline);
}
END_TEST

/* Pin, threshold 3: G in (1), C out (2), G in (3); the CPU's next fault
 * (its second touch) would be the 4th migration: the block is pinned on
 * the GPU and the CPU writes it remotely from then on (its touches 2..7:
 * 6 x 512 pages, 6 x 2 MiB host -> GPU); the GPU hits. Threshold 2: G (1),
 * C (2), the GPU's next fault (kernel 2) pins it on the host: kernels 2..8
 * (7 x 512 pages) read it remotely. */
START_TEST(pingpong_pin)
{
    sim_err err;
    ck_assert_msg(run_um(PP "thrashing: {threshold: 3, window: 1 s, mitigation: pin}", &err)
                  == 0, "%s", err.msg);
    ck_assert_uint_eq(st.block_migrations, 3);
    ck_assert_uint_eq(st.pins, 1);
    ck_assert_uint_eq(st.thrash_detections, 1);
    ck_assert_uint_eq(st.remote_accesses, 6 * 512);
    ck_assert_uint_eq(st.remote_write_bytes, 6u * (2u << 20));
    ck_assert_uint_eq(st.pages_in, 2 * 512);
    ck_assert_uint_eq(st.cpu_pages_out, 512);
    ck_assert_msg(run_um(PP "thrashing: {threshold: 2, window: 1 s, mitigation: pin}", &err)
                  == 0, "%s", err.msg);
    ck_assert_uint_eq(st.block_migrations, 2);
    ck_assert_uint_eq(st.pins, 1);
    ck_assert_uint_eq(st.pages_in, 512);
    ck_assert_uint_eq(st.remote_accesses, 7 * 512);
    ck_assert_uint_eq(st.remote_read_bytes, 7u * (2u << 20));
}
END_TEST

/* Throttle: every alternation still migrates (15) but each migration past
 * the third waits a 1 ms nap: 12 throttles, 12 ms more than without. */
START_TEST(pingpong_throttle)
{
    sim_err err;
    ck_assert(run_um(PP "thrashing: {threshold: 3, window: 1 s, mitigation: none}", &err) == 0);
    sim_time off = st.end_ps;
    ck_assert_msg(run_um(PP "thrashing: {threshold: 3, window: 1 s, mitigation: throttle, "
                         "nap: 1 ms}", &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(st.block_migrations, 15);
    ck_assert_uint_eq(st.throttles, 12);
    ck_assert_uint_eq(st.throttle_ps, 12 * SIM_MS);
    ck_assert_uint_eq(st.end_ps, off + 12 * SIM_MS);
}
END_TEST

/* Read-mostly: the GPU reads the block (one read duplicate, 512 pages
 * copied, no migration), the CPU reads it (its copy is valid: no fault),
 * 8 times over: no migration, one duplication. */
START_TEST(read_mostly_two_readers)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 2 MiB, capacity: 64 MiB, access_rate: 0, kernels: 8, "
                         "cpu_touch: {range: [0, 2 MiB], write: false}, "
                         "advice: [{range: [0, 2 MiB], read_mostly: true}]", &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.pages_in + st.pages_out, 0);
    ck_assert_uint_eq(st.block_migrations, 0);
    ck_assert_uint_eq(st.dup_pages, 512);
    ck_assert_uint_eq(st.cpu_faults, 0);
    ck_assert_uint_eq(st.invalidations, 0);
    ck_assert_uint_eq(link_bytes("host->gpu0"), 2u << 20);
    /* the CPU writes after each kernel: the GPU copies are invalidated each
     * time (7 x 512), the next GPU read duplicates again (8 x 512), still
     * no migration */
    ck_assert(run_um("footprint: 2 MiB, capacity: 64 MiB, access_rate: 0, kernels: 8, "
                     "cpu_touch: {range: [0, 2 MiB], write: true}, "
                     "advice: [{range: [0, 2 MiB], read_mostly: true}]", &err) == 0);
    ck_assert_uint_eq(st.invalidations, 7 * 512);
    ck_assert_uint_eq(st.dup_pages, 8 * 512);
    ck_assert_uint_eq(st.pages_in + st.pages_out, 0);
}
END_TEST

/* Read-mostly with a GPU writer: 8 GPU kernels writing the whole block
 * (write_fraction 1, batch_count 512: one batch per kernel), the CPU
 * reading it after each of the first 7. Kernel 1 write-faults all 512
 * pages: a write is not duplicated, the block migrates (512 pages in,
 * 2 MiB host -> GPU) - the only migration of the run. Each CPU read then
 * finds GPU-owned read-mostly pages: one CPU fault duplicates them to the
 * host (512 pages, 2 MiB GPU -> host), nothing migrates. Each of kernels
 * 2..8 writes pages the CPU holds copies of: the copies are invalidated
 * (7 x 512, counted, each a collapse onto the GPU) and the write proceeds
 * locally, no fault and no transfer. */
START_TEST(read_mostly_gpu_write)
{
    sim_err err;
    ck_assert_msg(run_um("footprint: 2 MiB, capacity: 64 MiB, access_rate: 0, kernels: 8, "
                         "batch_count: 512, write_fraction: 1, "
                         "cpu_touch: {range: [0, 2 MiB], write: false}, "
                         "advice: [{range: [0, 2 MiB], read_mostly: true}]", &err) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(st.faults, 512);
    ck_assert_uint_eq(st.batches, 1);
    ck_assert_uint_eq(st.pages_in, 512);
    ck_assert_uint_eq(st.pages_out + st.cpu_pages_out, 0);
    ck_assert_uint_eq(st.block_migrations, 1);
    ck_assert_uint_eq(st.cpu_touches, 7);
    ck_assert_uint_eq(st.cpu_faults, 7);
    ck_assert_uint_eq(st.dup_pages, 7 * 512);
    ck_assert_uint_eq(st.invalidations, 7 * 512);
    ck_assert_uint_eq(st.collapses, 7 * 512);
    ck_assert_uint_eq(st.hits, 7 * 512);
    ck_assert_uint_eq(link_bytes("host->gpu0"), 2u << 20);
    ck_assert_uint_eq(link_bytes("gpu0->host"), 7u * (2u << 20));
    ck_assert_double_eq(metric("duplicate_invalidations"), 7 * 512);
}
END_TEST

static Suite *um_suite(void)
{
    Suite *s = suite_create("um");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_set_timeout(core, 60);
    tcase_add_test(core, seq_fit_batch256);
    tcase_add_test(core, seq_fit_batch40_prefetch);
    tcase_add_test(core, seq_fit_batch40_no_prefetch);
    tcase_add_test(core, one_access_per_block_grows_to_64k);
    tcase_add_test(core, migration_time_from_link);
    tcase_add_test(core, access_rate_adds_compute_time);
    tcase_add_test(core, explicit_prefetch_fits);
    tcase_add_test(core, accessed_by_zero_copy);
    tcase_add_test(core, pingpong_no_mitigation);
    tcase_add_test(core, pingpong_pin);
    tcase_add_test(core, pingpong_throttle);
    tcase_add_test(core, read_mostly_two_readers);
    tcase_add_test(core, read_mostly_gpu_write);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_checked_fixture(lim, setup, teardown);
    tcase_set_timeout(lim, 60);
    tcase_add_loop_test(lim, cyclic_scan_thrashes, 0, 3);
    tcase_add_test(lim, fits_no_evictions_many_passes);
    tcase_add_test(lim, one_chunk_random);
    tcase_add_test(lim, partial_last_block);
    tcase_add_loop_test(lim, randomized_invariants, 0, 4);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_checked_fixture(errs, setup, teardown);
    tcase_add_loop_test(errs, scenario_errors, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(errs, missing_required_keys);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(um_suite());
}
