/*
 * check_kvtier.c - KV tiers over the fabric: a lower-tier hit costs TTFT
 * exactly the fabric transfer, bounce costs CPU time and twice the host
 * memory bytes, free transfers keep the hit ratios with zero load time,
 * and N sessions sharing a P-block prefix hold P + their suffixes.
 *
 * Independent computations:
 *   - A DMA of B bytes host DRAM -> GPU over one rate link of bandwidth W
 *     and latency L, with DRAM and HBM far faster than the link and one
 *     chunk, takes L + B / W + L (the GPU's read request crosses the link,
 *     then the data; within the tiny DRAM/HBM service times); the
 *     same DMA issued alone by an `xfer` component is the exact reference.
 *   - GPUDirect Storage design guide: the bounce path crosses host memory
 *     twice per byte and costs CPU time per I/O; GDS crosses it zero times.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/serving/instance.h"
#include "models/registry.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/serving_fixture.h"

static capture cap;
static sim_time first_ttft[8];
static uint64_t nreq;

static int rec_request(void *ctx, uint64_t id, const char *session, const char *instance,
                       sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                       uint64_t out, uint64_t cached)
{
    (void)ctx; (void)session; (void)instance; (void)finish; (void)in; (void)out; (void)cached;
    if (id < 8)
        first_ttft[id] = first - arrival;
    nreq++;
    return 0;
}


static int run_text(const char *text, sim_err *err)
{
    memset(first_ttft, 0, sizeof first_ttft);
    nreq = 0;
    memset(&cap, 0, sizeof cap);
    sim_sink k = {&cap, capture_metric, capture_link, capture_ts, rec_request, NULL, NULL, NULL, NULL, NULL};
    return sfx_run("kvtier.yaml", text, &k, NULL, NULL, err);
}

static char trace_path[256];

/* A native trace: A (blocks 1..4) at 0, B (5..8) at 1 s, C (1..4) at 2 s;
 * 63-token prompts (4 blocks of 16, so that prompt + output fit 4 blocks), one output token. */
static void write_trace(void)
{
    sfx_write_trace(trace_path, sizeof trace_path, "kvtier", "# memfab-trace v1 block_tokens=16",
                    "0 0 1 63 1 1 2 3 4\n"
                    "1 1000000000000 2 63 1 5 6 7 8\n"
                    "2 2000000000000 3 63 1 1 2 3 4\n");
}

static void setup(void) { write_trace(); }
static void teardown(void) { unlink(trace_path); }

/* Host DRAM and HBM 1 PB/s, no node latencies, one 10 GB/s link with 1 us. */
static const char topo[] =
    "components:\n"
    "  - {name: fabric, type: fabric, chunk: 64 MiB, window: 64 MiB%s}\n"
    "  - {name: host, type: cpu, latency: 0 ns, dram_bandwidth: 1000 TB/s, dram_latency: 0 ns,"
    " launch_cpu: 0 us}\n"
    "  - {name: gpu0, type: gpu, hbm_bandwidth: 1000 TB/s, hbm_latency: 0 ns}\n"
    "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0}\n"
    "%s"
    "links:\n"
    "  - {name: l0, type: upi, bandwidth: 10 GB/s, latency: 1 us, ends: [host, gpu0]}\n";

static sim_time ttft_c(int free_kv, double *load_bytes)
{
    char comps[1024], text[4096];
    snprintf(comps, sizeof comps, topo, "", "");
    snprintf(text, sizeof text,
             "name: t\nstop: trace_end\n%s"
             "workload: {trace: %s, format: native}\n"
             "kv: {block_tokens: 16, write: through, free_transfers: %s, tiers: [\n"
             "  {name: hbm, capacity: 8 MiB}, {name: dram, capacity: 1 GiB, component: host}]}\n",
             comps, trace_path, free_kv ? "true" : "false");
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(nreq, 3);
    *load_bytes = capture_get(&cap, "inst0", "kv_load_bytes");
    if (!free_kv) { /* the fabric sees the promotions as kv_load-class transfers */
        ck_assert_double_eq(capture_get(&cap, "fabric", "bytes:class:kv_load"), *load_bytes);
        /* write-through: every new block goes down to DRAM at once */
        ck_assert(capture_get(&cap, "fabric", "bytes:class:kv_writeback") > 0);
    }
    return first_ttft[2];
}

START_TEST(lower_tier_hit_adds_transfer_time)
{
    double lb_timed, lb_free;
    sim_time timed = ttft_c(0, &lb_timed), free = ttft_c(1, &lb_free);
    /* C finds its 4 blocks (8 MiB of llama3-8b KV) only in DRAM. */
    const double bytes = 4 * 16 * 131072.0;
    ck_assert_double_eq(lb_timed, bytes);
    ck_assert_double_eq(lb_free, bytes);
    /* The same DMA alone, issued by an xfer component: the exact reference. */
    char comps[1024], text[4096];
    snprintf(comps, sizeof comps, topo, "",
             "  - {name: x, type: xfer, src: host, dst: gpu0, size: 8 MiB, path: dma, count: 1}\n");
    snprintf(text, sizeof text, "name: x\n%s", comps);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    double ref = capture_get(&cap, "fabric", "latency:dma_mean");
    ck_assert_msg(!isnan(ref), "no fabric latency");
    ck_assert_uint_eq(timed - free, (sim_time)llround(ref * 1e12));
    /* ... and from the link parameters: the copy engine's read request
     * crosses the link (L), then the data streams back (B / W + L). */
    double formula = bytes / 10e9 + 2e-6;
    ck_assert_msg(fabs((double)(timed - free) * 1e-12 - formula) < 1e-4 * formula,
                  "load %.9g s vs B/W + 2L = %.9g s", (double)(timed - free) * 1e-12, formula);
}
END_TEST

/* SSD tier: C's hit is read from the SSD by GDS or through the bounce buffer. */
static void ssd_run(const char *path)
{
    char text[4096];
    snprintf(text, sizeof text,
             "name: s\nstop: trace_end\n"
             "components:\n"
             "  - {name: fabric, type: fabric}\n"
             "  - {name: host, type: cpu}\n"
             "  - {name: sw, type: pcie_switch}\n"
             "  - {name: gpu0, type: gpu}\n"
             "  - {name: ssd0, type: nvme}\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0}\n"
             "links:\n"
             "  - {name: up, type: pcie, gen: 5, lanes: 16, ends: [host, sw]}\n"
             "  - {name: g, type: pcie, gen: 5, lanes: 16, ends: [sw, gpu0]}\n"
             "  - {name: n, type: pcie, gen: 4, lanes: 4, ends: [sw, ssd0]}\n"
             "workload: {trace: %s, format: native}\n"
             "kv: {block_tokens: 16, write: through, tiers: [\n"
             "  {name: hbm, capacity: 8 MiB},"
             " {name: ssd, capacity: 1 GiB, component: ssd0, path: %s}]}\n",
             trace_path, path);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(nreq, 3);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_fabric_errors"), 0);
}

START_TEST(bounce_costs_cpu_and_host_memory)
{
    ssd_run("gds");
    double gds_bytes = capture_get(&cap, "fabric", "bytes:gds");
    ck_assert_double_eq(capture_get(&cap, "fabric", "host_memory_bytes:gds"), 0);
    sim_time gds_ttft = first_ttft[2];
    ssd_run("bounce");
    double b = capture_get(&cap, "fabric", "bytes:bounce");
    /* Write-through copies of A's and B's 8 blocks, C's load of 4: 12 x 2 MiB. */
    ck_assert_double_eq(b, 12 * 16 * 131072.0);
    ck_assert_double_eq(gds_bytes, b);
    ck_assert_double_eq(capture_get(&cap, "fabric", "host_memory_bytes:bounce"), 2 * b);
    ck_assert(capture_get(&cap, "fabric", "cpu_time:bounce") > 0);
    ck_assert(first_ttft[2] > gds_ttft); /* the extra hop through host memory */
}
END_TEST

/* Multi-turn conversations: lower-tier hits; timing out at the KV layer or
 * at the fabric gives the same hits with no load time. */
static const char conv[] =
    "name: c\nstop: trace_end\n"
    "components:\n"
    "  - {name: fabric, type: fabric%s}\n"
    "  - {name: host, type: cpu}\n"
    "  - {name: gpu0, type: gpu}\n"
    "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0}\n"
    "links:\n"
    "  - {name: l0, type: pcie, gen: 5, lanes: 16, ends: [host, gpu0]}\n"
    "workload:\n"
    "  synthetic: {rate: 2/s, groups: 4, prefix: 1000 tokens, input: 500 tokens,"
    " output: 20 tokens, turns: 3, think: 2 s, requests: 60}\n"
    "kv: {block_tokens: 16, free_transfers: %s, tiers: [{name: hbm, capacity: 512 MiB},\n"
    "     {name: dram, capacity: 4 GiB, component: host}]}\n";

static void conv_run(const char *fabric_opt, const char *kv_free, double *hit, double *hit_tok,
                     double *wait, double *loaded)
{
    char text[4096];
    snprintf(text, sizeof text, conv, fabric_opt, kv_free);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    *hit = capture_get(&cap, "workload", "prefix_hit_ratio_blocks");
    *hit_tok = capture_get(&cap, "workload", "prefix_hit_ratio_tokens");
    *wait = capture_get(&cap, "inst0", "kv_load_wait");
    *loaded = capture_get(&cap, "inst0", "kv_load_bytes");
}

START_TEST(free_transfers_same_hits_zero_load_time)
{
    double h1, t1, w1, l1, h2, t2, w2, l2, h3, t3, w3, l3;
    conv_run("", "true", &h1, &t1, &w1, &l1);
    conv_run(", free_transfers: true", "false", &h2, &t2, &w2, &l2);
    conv_run("", "false", &h3, &t3, &w3, &l3);
    ck_assert(l1 > 0); /* there are lower-tier hits */
    ck_assert(h1 > 0.3);
    ck_assert_double_eq(h1, h2);
    ck_assert_double_eq(t1, t2);
    ck_assert_double_eq(l1, l2);
    ck_assert_double_eq(w1, 0);
    ck_assert_double_eq(w2, 0);
    ck_assert(w3 > 0); /* timed: requests waited for their loads */
    /* Light load: the timed run makes the same cache decisions. */
    ck_assert_double_eq(h1, h3);
}
END_TEST

/* N sessions x P shared blocks + own suffixes, all running at once. */
START_TEST(sharing_holds_p_plus_suffixes)
{
    const unsigned N = 5, P = 40;
    const unsigned S[5] = {3, 7, 1, 12, 5};
    FILE *f = fopen(trace_path, "w");
    ck_assert(f);
    fprintf(f, "# memfab-trace v1 block_tokens=16\n");
    unsigned sum = 0, next = 1000;
    for (unsigned i = 0; i < N; i++) {
        fprintf(f, "%u 0 %u %u 1", i, i + 1, (P + S[i]) * 16);
        for (unsigned b = 0; b < P; b++)
            fprintf(f, " %u", b + 1);
        for (unsigned b = 0; b < S[i]; b++)
            fprintf(f, " %u", next++);
        fprintf(f, "\n");
        sum += S[i];
    }
    fclose(f);
    char text[2048];
    snprintf(text, sizeof text,
             "name: share\nstop: trace_end\n"
             "workload:\n  trace: %s\n  format: native\n"
             "  instances: {count: 1, model: llama3-8b, max_batched_tokens: 65536}\n"
             "kv: {block_tokens: 16}\n",
             trace_path);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(nreq, N);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_peak_pinned"), P + sum);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_peak_blocks:hbm"), P + sum);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_peak_references"), N * P + sum);
    ck_assert_double_eq(capture_get(&cap, "inst0", "kv_bytes_saved_by_sharing"),
                        (double)(N - 1) * P * 16 * 131072);
}
END_TEST

START_TEST(errors)
{
    char text[2048];
    sim_err err;
    /* A tier naming a component without the instance's device. */
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\ncomponents:\n  - {name: host, type: cpu}\n"
             "  - {name: inst0, type: llm_instance}\n"
             "workload: {trace: %s, format: native}\n"
             "kv: {tiers: [{name: hbm}, {name: d, capacity: 1 GiB, component: host}]}\n",
             trace_path);
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "device"), "%s", err.msg);
    /* A path that does not fit the component. */
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\ncomponents:\n  - {name: host, type: cpu}\n"
             "  - {name: gpu0, type: gpu}\n"
             "  - {name: inst0, type: llm_instance, device: gpu0}\n"
             "links:\n  - {name: l, type: pcie, ends: [host, gpu0]}\n"
             "workload: {trace: %s, format: native}\n"
             "kv: {tiers: [{name: hbm}, {name: d, capacity: 1 GiB, component: host,"
             " path: gds}]}\n",
             trace_path);
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "does not fit"), "%s", err.msg);
    /* tier_weights of the wrong length. */
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\n"
             "workload: {trace: %s, format: native, instances: {count: 2}}\n"
             "kv: {tiers: [{name: hbm}, {name: d, capacity: 1 GiB}]}\n"
             "router: {policy: llmd, tier_weights: [1]}\n",
             trace_path);
    ck_assert_int_ne(run_text(text, &err), 0);
    ck_assert_msg(strstr(err.msg, "tier_weights"), "%s", err.msg);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("kvtier");
    TCase *tc = tcase_create("Core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, lower_tier_hit_adds_transfer_time);
    tcase_add_test(tc, bounce_costs_cpu_and_host_memory);
    tcase_add_test(tc, free_transfers_same_hits_zero_load_time);
    tcase_add_test(tc, sharing_holds_p_plus_suffixes);
    suite_add_tcase(s, tc);
    tc = tcase_create("Errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_main(suite());
}
