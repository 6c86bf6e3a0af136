/*
 * check_swapspec.c - swap preemption and speculative decoding of the
 * serving instance (instance.c), held to hand-computed numbers.
 *
 * Swap. A scripted pair: two requests of 160-token prompts (10 blocks of
 * 16) and 150 output tokens arrive together on an instance whose HBM holds
 * 22 KV blocks (llama3-8b: 131,072 B per token, 2 MiB per block). Both
 * decode in lock step; at context 177 the first needs its 12th block and
 * the second (the tail) is preempted with 160 + 17 - 1 = 176 tokens of KV:
 * 11 blocks, 23,068,672 B out and, once the first has finished, the same
 * back in. Under recompute it prefills 177 tokens again instead.
 *   The cost policy swaps exactly when swap-out + swap-in time < the
 * prefill time of the 176 tokens: the roofline (llm_model.h) written out
 *   flops = 2 P n + 4 L H d n (n + 1) / 2,  bytes = 2 P + kv n,
 *   t = max(flops / (989e12 x 0.6), bytes / (3.35e12 x 0.8));
 * on a channel tier the swap is 2 (latency + bytes / bandwidth), so the
 * crossover bandwidth is B* = 2 bytes / t: at 1.01 B* it swaps, at
 * 0.99 B* it recomputes. Over the fabric the estimate is bytes / the
 * path's bandwidth at the link's load (fabric_estimate).
 *
 * Speculative decoding. With k draft tokens accepted in order each with
 * probability a until the first rejection, a verification yields the
 * accepted ones plus the target's own token: E[tokens] = sum_{i=0..k} a^i
 * = (1 - a^(k+1)) / (1 - a) (Leviathan, Kalman, Matias, "Fast Inference
 * from Transformers via Speculative Decoding", ICML 2023, eq. 1), checked
 * within 1% over ~10^5 verifications of the instance's seeded GSL stream.
 * With a = 1 every step yields k + 1 tokens, so a request's decode steps
 * and their costs are known exactly: the verification is one target step
 * of k + 1 tokens per sequence (keys ctx .. ctx + k), the draft phase k
 * head forwards or k decode steps of the draft model.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/fabric/fabric.h"
#include "models/registry.h"
#include "models/serving/instance.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/serving_fixture.h"

#define MAXREQ 1024

typedef struct rec {
    capture cap; /* first: capture_metric casts ctx */
    uint64_t n;
    sim_time arrival[MAXREQ], first[MAXREQ], finish[MAXREQ];
    uint64_t link_to_gpu, link_from_gpu; /* payload bytes of link l0 per direction */
} rec;

static rec *R;
static inst_counters C0;
static serving_totals T;
static char trace_path[256];

static int rec_request(void *ctx, uint64_t id, const char *session, const char *instance,
                       sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                       uint64_t out, uint64_t cached)
{
    rec *r = ctx;
    (void)session, (void)instance, (void)in, (void)out, (void)cached;
    if (id < MAXREQ) {
        r->arrival[id] = arrival;
        r->first[id] = first;
        r->finish[id] = finish;
    }
    r->n++;
    return 0;
}

static int rec_link(void *ctx, const char *link, const char *dir, uint64_t bytes,
                    uint64_t packets, uint64_t busy, double util)
{
    rec *r = ctx;
    (void)packets, (void)busy, (void)util;
    if (strcmp(link, "l0") == 0 && strcmp(dir, "host->gpu0") == 0)
        r->link_to_gpu = bytes;
    if (strcmp(link, "l0") == 0 && strcmp(dir, "gpu0->host") == 0)
        r->link_from_gpu = bytes;
    return 0;
}


static void keep_totals(sim *s)
{
    C0 = *inst_stats(sim_find(s, "inst0"));
    T = *serving_get_totals(sim_find(s, "workload"));
}

static int run_text(const char *text, sim_err *err)
{
    memset(R, 0, sizeof *R);
    memset(&C0, 0, sizeof C0);
    sim_sink k = {R, capture_metric, rec_link, NULL, rec_request, NULL, NULL, NULL, NULL, NULL};
    return sfx_run("test.yaml", text, &k, NULL, keep_totals, err);
}

/* Two requests at t = 0: 160-token prompts (ids 1..10 and 101..110), 150
 * output tokens each. */
static void write_trace(void)
{
    snprintf(trace_path, sizeof trace_path, "%s/memfab-swapspec-%d.trace", test_tmpdir(),
             (int)getpid());
    FILE *f = fopen(trace_path, "w");
    ck_assert(f);
    fprintf(f, "# memfab-trace v1 block_tokens=16\n0 0 1 160 150");
    for (int b = 1; b <= 10; b++)
        fprintf(f, " %d", b);
    fprintf(f, "\n1 0 2 160 150");
    for (int b = 101; b <= 110; b++)
        fprintf(f, " %d", b);
    fprintf(f, "\n");
    fclose(f);
}

static void setup(void)
{
    R = calloc(1, sizeof *R);
    write_trace();
}

static void teardown(void)
{
    unlink(trace_path);
    free(R);
}

/* ---- the roofline of llama3-8b on one H100, written out ----------------- */

static const double P = 8030261248.0, L = 32, H = 32, D = 128, KV = 131072;
static const double F = 989e12 * 0.6, BW = 3.35e12 * 0.8;
static const double BLOCK = 16 * 131072.0;

static double prefill_s(double n)
{
    double flops = 2 * P * n + 4 * L * H * D * n * (n + 1) / 2;
    double bytes = 2 * P + KV * n;
    return fmax(flops / F, bytes / BW);
}

/* ---- swap ------------------------------------------------------------------ */

START_TEST(swap_moves_exactly_the_kv)
{
    sim_err err;
    char text[2048];
    snprintf(text, sizeof text,
             "name: swap\nstop: trace_end\n"
             "components:\n"
             "  - {name: fabric, type: fabric}\n"
             "  - {name: host, type: cpu}\n"
             "  - {name: gpu0, type: gpu}\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0,"
             " kv_watermark: 0, preemption: swap}\n"
             "links:\n"
             "  - {name: l0, type: pcie, gen: 5, lanes: 16, ends: [host, gpu0]}\n"
             "workload: {trace: %s, format: native}\n"
             "kv: {block_tokens: 16, prefix_caching: false, tiers: [\n"
             "  {name: hbm, capacity: 44 MiB}, {name: dram, capacity: 1 GiB, component: host}]}\n",
             trace_path);
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(T.completed, 2);
    ck_assert_uint_eq(C0.preemptions, 1);
    ck_assert_uint_eq(C0.swap_outs, 1);
    ck_assert_uint_eq(C0.swap_ins, 1);
    /* 176 tokens of KV = 11 blocks of 2 MiB, out and back in */
    ck_assert_uint_eq(C0.swap_out_bytes, 11 * 2097152ull);
    ck_assert_uint_eq(C0.swap_in_bytes, 11 * 2097152ull);
    ck_assert_double_eq(capture_get(&R->cap, "fabric", "bytes:class:swap"), 22 * 2097152.0);
    ck_assert_double_eq(capture_get(&R->cap, "fabric", "transfers:class:swap"), 2);
    /* nothing recomputed: the two prompts, once */
    ck_assert_double_eq(capture_get(&R->cap, "inst0", "prefill_tokens_computed"), 320);
    /* the link rows carry the swap (plus write-backs out, loads in) */
    double wb = capture_get(&R->cap, "inst0", "kv_offload_bytes");
    double ld = capture_get(&R->cap, "inst0", "kv_load_bytes");
    ck_assert_double_eq((double)R->link_from_gpu, 11 * BLOCK + wb);
    ck_assert_double_eq((double)R->link_to_gpu, 11 * BLOCK + ld);
    ck_assert_double_eq(capture_get(&R->cap, "inst0", "swap_out_bytes"), 11 * BLOCK);
}
END_TEST

START_TEST(recompute_recomputes)
{
    sim_err err;
    char text[2048];
    snprintf(text, sizeof text,
             "name: swap\nstop: trace_end\n"
             "workload:\n"
             "  trace: %s\n  format: native\n"
             "  instances: {count: 1, model: llama3-8b, kv_watermark: 0}\n"
             "kv: {block_tokens: 16, prefix_caching: false, tiers: [\n"
             "  {name: hbm, capacity: 44 MiB}, {name: dram, capacity: 1 GiB}]}\n",
             trace_path);
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(C0.preemptions, 1);
    ck_assert_uint_eq(C0.swap_outs, 0);
    /* the preempted request prefills 160 + 17 tokens again */
    ck_assert_double_eq(capture_get(&R->cap, "inst0", "prefill_tokens_computed"), 320 + 177);
}
END_TEST

/* Channel tier of bandwidth f x B*, where B* makes swap and recompute
 * cost the same: swaps above, recomputes below. */
static void channel_pair(double f)
{
    double bytes = 11 * BLOCK, t = prefill_s(176);
    double bstar = 2 * bytes / t;
    char text[2048];
    snprintf(text, sizeof text,
             "name: swap\nstop: trace_end\n"
             "workload:\n"
             "  trace: %s\n  format: native\n"
             "  instances: {count: 1, model: llama3-8b, kv_watermark: 0, preemption: cost}\n"
             "kv: {block_tokens: 16, prefix_caching: false, tiers: [\n"
             "  {name: hbm, capacity: 44 MiB},"
             " {name: dram, capacity: 1 GiB, bandwidth: %.17g B/s}]}\n",
             trace_path, f * bstar);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(T.completed, 2);
    ck_assert_uint_eq(C0.preemptions, 1);
    /* the estimates: the recompute one is the roofline of 176 tokens */
    ck_assert_double_eq_tol(C0.last_recompute_s, t, t * 1e-12);
    ck_assert_double_eq_tol(C0.last_swap_s, 2 * bytes / (f * bstar), t * 1e-9);
    ck_assert_uint_eq(C0.swap_outs, f > 1 ? 1 : 0);
    ck_assert_uint_eq(C0.swap_out_bytes, f > 1 ? 11 * 2097152ull : 0);
    ck_assert_uint_eq(C0.swap_in_bytes, C0.swap_out_bytes);
}

START_TEST(cost_swaps_above_the_crossover)
{
    channel_pair(1.01);
}
END_TEST

START_TEST(cost_recomputes_below_the_crossover)
{
    channel_pair(0.99);
}
END_TEST

/* Over the fabric: a Gen5 x16 link swaps 23 MB in about 0.7 ms both ways,
 * far below the 6 ms prefill; a Gen1 x1 link (250 MB/s) needs 0.18 s. */
START_TEST(cost_over_the_fabric_both_sides)
{
    const int gens[2][2] = {{5, 16}, {1, 1}};
    for (int i = 0; i < 2; i++) {
        char text[2048];
        snprintf(text, sizeof text,
                 "name: swap\nstop: trace_end\n"
                 "components:\n"
                 "  - {name: fabric, type: fabric}\n"
                 "  - {name: host, type: cpu}\n"
                 "  - {name: gpu0, type: gpu}\n"
                 "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0,"
                 " kv_watermark: 0, preemption: cost}\n"
                 "links:\n"
                 "  - {name: l0, type: pcie, gen: %d, lanes: %d, ends: [host, gpu0]}\n"
                 "workload: {trace: %s, format: native}\n"
                 "kv: {block_tokens: 16, prefix_caching: false, tiers: [\n"
                 "  {name: hbm, capacity: 44 MiB}, {name: dram, capacity: 1 GiB,"
                 " component: host}]}\n",
                 gens[i][0], gens[i][1], trace_path);
        sim_err err;
        ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(C0.preemptions, 1);
        double t = prefill_s(176), bytes = 11 * BLOCK;
        ck_assert_double_eq_tol(C0.last_recompute_s, t, t * 1e-12);
        /* an idle link: bytes / its payload rate (Gen5 x16 ~ 60 GB/s after
         * TLP overhead, Gen1 x1 ~ 0.2 GB/s), within 25% */
        double rate = i == 0 ? 60e9 : 0.2e9;
        ck_assert_msg(fabs(C0.last_swap_s - 2 * bytes / rate) < 0.25 * 2 * bytes / rate,
                      "swap estimate %g s vs %g s", C0.last_swap_s, 2 * bytes / rate);
        ck_assert_uint_eq(C0.swap_outs, C0.last_swap_s < C0.last_recompute_s);
        ck_assert_uint_eq(C0.swap_outs, i == 0);
        double sw = capture_get(&R->cap, "fabric", "bytes:class:swap");
        if (i == 0)
            ck_assert_double_eq(sw, 22 * BLOCK);
        else
            ck_assert(isnan(sw)); /* no swap transfer: no class row */
    }
}
END_TEST

/* fabric_estimate: an idle Gen5 x16 link moves 64 MiB in bytes / its
 * payload rate plus the path's latencies; with one transfer already on it
 * the new one gets half the rate, so the service part doubles. */
START_TEST(estimate_is_the_fair_share)
{
    const char *text = "name: est\ncomponents:\n"
                       "  - {name: host, type: cpu, dram_bandwidth: 1 TB/s}\n"
                       "  - {name: gpu0, type: gpu}\n"
                       "  - {name: a, type: xfer, src: host, dst: gpu0, size: 1 GiB, path: dma}\n"
                       "links:\n"
                       "  - {name: l0, type: pcie, gen: 5, lanes: 16, ends: [host, gpu0]}\n";
    sim_err err;
    sim_err_clear(&err);
    scn_doc *doc = scn_load_string("est.yaml", text, &err);
    ck_assert_msg(doc, "%s", err.msg);
    sim *s = sim_create();
    ck_assert_msg(sim_build(s, doc, memfab_models, sfx_sections, &err) == 0, "%s", err.msg);
    ck_assert_msg(sim_start(s, &err) == 0, "%s", err.msg);
    uint32_t host = sim_find(s, "host")->id, gpu = sim_find(s, "gpu0")->id;
    fabric_req q = {host, gpu, 64u << 20, FABRIC_PATH_DMA, host, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(sim_run(s, SIM_MS), 0); /* the 1 GiB transfer is under way */
    double busy, idle;
    ck_assert_int_eq(fabric_estimate(s, &q, &busy), 0);
    ck_assert_int_eq(sim_run(s, sim_stop_time(s)), 0); /* and done */
    ck_assert_int_eq(fabric_estimate(s, &q, &idle), 0);
    /* busy = 2 x service + lat, idle = service + lat: lat = 2 idle - busy is
     * the path's latencies (link, DRAM, engine: under 2 us) */
    double lat = 2 * idle - busy;
    ck_assert_msg(lat >= 0 && lat < 2e-6, "busy %g s, idle %g s", busy, idle);
    /* idle: 64 MiB at the link's DMA-read payload rate (~ 55 GB/s) */
    ck_assert_msg(idle > (64u << 20) / 64e9 && idle < (64u << 20) / 45e9, "idle %g s", idle);
    fabric_req bad = q;
    bad.path = FABRIC_PATH_GDS; /* no SSD end */
    ck_assert_int_ne(fabric_estimate(s, &bad, &idle), 0);
    sim_destroy(s);
    scn_free(doc);
}
END_TEST

/* ---- speculative decoding ------------------------------------------------ */

/* 64 requests of 4000 output tokens at once; head drafts of 1 us. */
static void spec_rate(double a, unsigned k)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: spec\nstop: trace_end\nseed: 11\n"
             "workload:\n"
             "  synthetic: {rate: 1000000/s, input: 100 tokens, output: 4000 tokens,"
             " requests: 64}\n"
             "  instances: {count: 1, model: llama3-8b, speculation: head, spec_tokens: %u,"
             " spec_acceptance: %.17g, spec_draft_time: 1 us}\n"
             "kv: {block_tokens: 16, prefix_caching: false}\n",
             k, a);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(T.completed, 64);
    double expect = a < 1 ? (1 - pow(a, k + 1)) / (1 - a) : k + 1;
    double got = (double)C0.spec_full_emitted / (double)C0.spec_full;
    ck_assert_msg(C0.spec_full > 40000, "only %llu verifications",
                  (unsigned long long)C0.spec_full);
    ck_assert_msg(fabs(got - expect) <= 0.01 * expect, "a %g k %u: %.5f tokens per step, "
                  "expected %.5f", a, k, got, expect);
    ck_assert_double_eq_tol(capture_get(&R->cap, "inst0", "spec_tokens_per_verification_expected"),
                            expect, 1e-12);
}

static const struct {
    double a;
    unsigned k;
} rates[] = {{0.6, 4}, {0.8, 3}, {0.9, 8}, {0.3, 2}, {0.0, 4}, {1.0, 5}};

START_TEST(spec_tokens_per_verification)
{
    spec_rate(rates[_i].a, rates[_i].k);
}
END_TEST

/* One request, input 1000, output 11, a = 1, k = 4: after the prefill's
 * token, two verifications of 4 drafts each yield 5 tokens each. */
static sim_time verify_ps(double ctx, double k)
{
    double flops = 2 * P * (k + 1) + 4 * L * H * D * ((k + 1) * ctx + k * (k + 1) / 2);
    double bytes = 2 * P + KV * (ctx - 1 + k + 1);
    return (sim_time)llround(fmax(flops / F, bytes / BW) * 1e12);
}

/* A decode step of Llama-3.2-1B (16 layers, 32 heads of 64, 8 KV heads,
 * 1,235,814,400 parameters): one token attending to n keys. */
static sim_time draft_ps(double n)
{
    double p = 1235814400.0, kv = 2 * 16 * 8 * 64 * 2;
    double flops = 2 * p + 4 * 16 * 32 * 64 * n;
    double bytes = 2 * p + kv * n;
    return (sim_time)llround(fmax(flops / F, bytes / BW) * 1e12);
}

static void spec_exact(const char *how)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: spec\nstop: trace_end\n"
             "workload:\n"
             "  synthetic: {rate: 1/s, input: 1000 tokens, output: 11 tokens, requests: 1}\n"
             "  instances: {count: 1, model: llama3-8b, spec_tokens: 4, spec_acceptance: 1,"
             " %s}\n"
             "kv: {block_tokens: 16}\n",
             how);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(C0.spec_verifies, 2);
    ck_assert_uint_eq(C0.spec_emitted, 10);
}

START_TEST(spec_head_costs_exact)
{
    spec_exact("speculation: head, spec_draft_time: 300 us");
    sim_time draft = 4 * 300 * SIM_US;
    sim_time want = verify_ps(1001, 4) + draft + verify_ps(1006, 4) + draft;
    ck_assert_uint_eq(R->finish[0] - R->first[0], want);
    ck_assert_uint_eq(C0.spec_draft_ps, 2 * draft);
}
END_TEST

START_TEST(spec_draft_model_costs_exact)
{
    spec_exact("speculation: draft, spec_draft_model: llama3.2-1b");
    sim_time d1 = 0, d2 = 0;
    for (int j = 0; j < 4; j++) {
        d1 += draft_ps(1001 + j);
        d2 += draft_ps(1006 + j);
    }
    sim_time want = verify_ps(1001, 4) + d1 + verify_ps(1006, 4) + d2;
    ck_assert_uint_eq(R->finish[0] - R->first[0], want);
    ck_assert_uint_eq(C0.spec_draft_ps, d1 + d2);
}
END_TEST

/* a = 0: every verification yields one token and costs more than a plain
 * decode step: TPOT rises; a = 0.9 lowers it. */
START_TEST(spec_tpot_effect)
{
    double tpot[3];
    const char *how[3] = {"speculation: none", "speculation: head, spec_acceptance: 0",
                          "speculation: head, spec_acceptance: 0.9"};
    for (int i = 0; i < 3; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "name: spec\nstop: trace_end\n"
                 "workload:\n"
                 "  synthetic: {rate: 1/s, input: 1000 tokens, output: 200 tokens,"
                 " requests: 1}\n"
                 "  instances: {count: 1, model: llama3-8b, spec_tokens: 4,"
                 " spec_draft_time: 200 us, %s}\n"
                 "kv: {block_tokens: 16}\n",
                 how[i]);
        sim_err err;
        ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
        tpot[i] = (double)(R->finish[0] - R->first[0]) / 199;
    }
    ck_assert_msg(tpot[1] > tpot[0] && tpot[2] < tpot[0], "TPOT %g %g %g", tpot[0], tpot[1],
                  tpot[2]);
}
END_TEST

/* ---- acceptance rates per request ------------------------------------------ */

/* What the instance's spec hook saw of each request. */
#define SPEC_MAXREQ 512
typedef struct spec_seen {
    uint32_t n;
    double a[SPEC_MAXREQ], expect[SPEC_MAXREQ];
    uint32_t full[SPEC_MAXREQ], emitted[SPEC_MAXREQ];
} spec_seen;
static spec_seen SEEN;

static void spec_seen_fn(void *ctx, const inst_req *r)
{
    spec_seen *v = ctx;
    if (v->n < SPEC_MAXREQ) {
        v->a[v->n] = r->spec_accept;
        v->expect[v->n] = r->spec_expect;
        v->full[v->n] = r->spec_full;
        v->emitted[v->n] = r->spec_full_emitted;
    }
    v->n++;
}

/* sfx_run with the spec hook on inst0 (installed before the run). */
static int run_spec(const char *text, sim_err *err)
{
    memset(R, 0, sizeof *R);
    memset(&C0, 0, sizeof C0);
    memset(&SEEN, 0, sizeof SEEN);
    sim_sink k = {R, capture_metric, rec_link, NULL, rec_request, NULL, NULL, NULL, NULL, NULL};
    sim_err_clear(err);
    scn_doc *doc = scn_load_string("test.yaml", text, err);
    if (!doc)
        return err->code;
    sim *s = sim_create();
    sim_set_sink(s, &k);
    int rc = sim_build(s, doc, memfab_models, sfx_sections, err);
    if (!rc)
        rc = serving_build(s, doc, err);
    if (!rc)
        inst_set_spec_hook(sim_find(s, "inst0"), spec_seen_fn, &SEEN);
    if (!rc)
        rc = sim_start(s, err);
    if (!rc)
        rc = sim_run(s, sim_stop_time(s));
    if (!rc)
        rc = sim_finish(s, err);
    if (!rc)
        keep_totals(s);
    sim_destroy(s);
    scn_free(doc);
    return rc;
}

static double spec_formula(double a, double k)
{
    return a < 1 ? (1 - pow(a, k + 1)) / (1 - a) : k + 1;
}

/* 4 requests of 100,000 output tokens (Llama-3.2-1B: 32 KiB of KV per
 * token, so all fit at once), k = 4, rates from Beta(7, 3) (mean 0.7,
 * concentration 10): each request's tokens per full verification is
 * (1 - a^(k+1)) / (1 - a) of its own rate within 1%. Tokens per
 * verification have a relative standard deviation of ~0.6 for a in
 * 0.4..0.9, so over 100,000 / E verifications the standard error is
 * ~0.93 / sqrt(100,000) = 0.3% (1% is 3 of them). Blocks of 256 tokens
 * keep the debug build's per-block checks cheap; speculation does not
 * depend on the block size. */
START_TEST(spec_per_request_rates)
{
    const char *text =
        "name: spec\nstop: trace_end\nseed: 3\n"
        "workload:\n"
        "  synthetic: {rate: 1000000/s, input: 100 tokens, output: 100000 tokens,"
        " requests: 4}\n"
        "  instances: {count: 1, model: llama3.2-1b, speculation: head, spec_tokens: 4,"
        " spec_draft_time: 1 us,\n"
        "              spec_acceptance_dist: {dist: beta, mean: 0.7, concentration: 10}}\n"
        "kv: {block_tokens: 256, prefix_caching: false}\n";
    sim_err err;
    ck_assert_msg(run_spec(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(T.completed, 4);
    ck_assert_uint_eq(SEEN.n, 4);
    double lo = 1, hi = 0;
    for (uint32_t i = 0; i < SEEN.n; i++) {
        double a = SEEN.a[i], want = spec_formula(a, 4);
        double got = (double)SEEN.emitted[i] / SEEN.full[i];
        ck_assert_double_eq_tol(SEEN.expect[i], want, 1e-12);
        ck_assert_msg(SEEN.full[i] > 20000, "request %u: %u verifications", i, SEEN.full[i]);
        ck_assert_msg(fabs(got - want) <= 0.01 * want, "request %u, a = %.4f: %.5f tokens per "
                      "verification, expected %.5f", i, a, got, want);
        lo = fmin(lo, a);
        hi = fmax(hi, a);
    }
    /* the rates differ per request (not one rate for all) */
    ck_assert_msg(hi - lo > 0.1, "rates %g..%g", lo, hi);
    ck_assert_uint_eq(C0.spec_drawn, 4);
    /* deterministic: the same seed draws the same rates */
    double a0 = SEEN.a[0];
    uint64_t full = C0.spec_full;
    ck_assert_msg(run_spec(text, &err) == 0, "%s", err.msg);
    ck_assert(SEEN.a[0] == a0 && C0.spec_full == full);
}
END_TEST

/* The mix: 200 requests of 1500 tokens with Beta(7, 3) rates. The mean
 * over requests of their measured tokens per verification equals the mean
 * of the formula over their drawn rates within 1%; the pooled ratio (all
 * verifications together) equals the verification-weighted mean of the
 * formula (requests with low rates need more verifications, so the pool
 * sits below the per-request mean: Jensen and the weighting, reported
 * apart). Each request's ratio has a standard error of ~2.4% (1500 / E
 * verifications), their mean over 200 requests ~0.2%. The drawn rates
 * average 0.7 (Beta mean; 200 draws: sd 0.0098, checked within 0.03). */
START_TEST(spec_mix_over_requests)
{
    const char *text =
        "name: spec\nstop: trace_end\nseed: 5\n"
        "workload:\n"
        "  synthetic: {rate: 1000000/s, input: 100 tokens, output: 1500 tokens,"
        " requests: 200}\n"
        "  instances: {count: 1, model: llama3.2-1b, speculation: head, spec_tokens: 4,"
        " spec_draft_time: 1 us,\n"
        "              spec_acceptance_dist: {dist: beta, mean: 0.7, concentration: 10}}\n"
        "kv: {block_tokens: 256, prefix_caching: false}\n";
    sim_err err;
    ck_assert_msg(run_spec(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(T.completed, 200);
    ck_assert_uint_eq(SEEN.n, 200);
    double mean_formula = 0, mean_measured = 0, mean_a = 0, wsum = 0, wfull = 0;
    for (uint32_t i = 0; i < SEEN.n; i++) {
        mean_formula += spec_formula(SEEN.a[i], 4) / SEEN.n;
        mean_measured += (double)SEEN.emitted[i] / SEEN.full[i] / SEEN.n;
        mean_a += SEEN.a[i] / SEEN.n;
        wsum += SEEN.full[i] * spec_formula(SEEN.a[i], 4);
        wfull += SEEN.full[i];
    }
    double rm = capture_get(&R->cap, "inst0", "spec_tokens_per_verification_request_mean");
    double rme = capture_get(&R->cap, "inst0",
                             "spec_tokens_per_verification_request_mean_expected");
    double pooled = capture_get(&R->cap, "inst0", "spec_tokens_per_verification");
    double pe = capture_get(&R->cap, "inst0", "spec_tokens_per_verification_expected");
    ck_assert_double_eq_tol(rme, mean_formula, 1e-9);
    ck_assert_double_eq_tol(rm, mean_measured, 1e-9);
    ck_assert_msg(fabs(rm - rme) <= 0.01 * rme, "per-request mean %.5f, expected %.5f", rm, rme);
    ck_assert_double_eq_tol(pe, wsum / wfull, 1e-9);
    ck_assert_msg(fabs(pooled - pe) <= 0.01 * pe, "pooled %.5f, expected %.5f", pooled, pe);
    ck_assert_msg(pooled < rm, "pooled %.5f, per-request mean %.5f", pooled, rm);
    ck_assert_double_eq_tol(capture_get(&R->cap, "inst0", "spec_acceptance_drawn_mean"), mean_a,
                            1e-9);
    ck_assert_msg(fabs(mean_a - 0.7) < 0.03, "drawn mean %.4f", mean_a);
}
END_TEST

/* A list of rates: each request takes one of them; uniform: within the
 * bounds; no distribution: every request has spec_acceptance (and the
 * stream is not drawn for it). */
START_TEST(spec_rate_lists_and_bounds)
{
    char text[1024];
    const char *how[3] = {"spec_acceptance_dist: [0.2, 0.95]",
                          "spec_acceptance_dist: {dist: uniform, min: 0.5, max: 0.6}",
                          "spec_acceptance: 0.42"};
    for (int c = 0; c < 3; c++) {
        snprintf(text, sizeof text,
                 "name: spec\nstop: trace_end\nseed: 9\n"
                 "workload:\n"
                 "  synthetic: {rate: 1000000/s, input: 100 tokens, output: 200 tokens,"
                 " requests: 40}\n"
                 "  instances: {count: 1, model: llama3.2-1b, speculation: head, spec_tokens: 3,"
                 " spec_draft_time: 1 us, %s}\n"
                 "kv: {block_tokens: 16, prefix_caching: false}\n",
                 how[c]);
        sim_err err;
        ck_assert_msg(run_spec(text, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(SEEN.n, 40);
        int low = 0, high = 0;
        for (uint32_t i = 0; i < SEEN.n; i++) {
            double a = SEEN.a[i];
            if (c == 0) {
                ck_assert(a == 0.2 || a == 0.95);
                low += a == 0.2;
                high += a == 0.95;
            } else if (c == 1) {
                ck_assert(a >= 0.5 && a <= 0.6);
            } else {
                ck_assert(a == 0.42);
            }
            ck_assert_double_eq_tol(SEEN.expect[i], spec_formula(a, 3), 1e-12);
        }
        if (c == 0)
            ck_assert_msg(low > 5 && high > 5, "%d at 0.2, %d at 0.95", low, high);
        ck_assert_uint_eq(C0.spec_drawn, c == 2 ? 0 : 40);
    }
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

static void expect_error(const char *inst, const char *kv, int line, int col, const char *what)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\n"
             "workload:\n"
             "  synthetic: {rate: 1/s, input: 100 tokens, output: 10 tokens, requests: 1}\n"
             "  instances:\n"
             "    count: 1\n"
             "    %s\n"
             "kv: %s\n",
             inst, kv);
    sim_err err;
    ck_assert_int_eq(run_text(text, &err), SIM_ESCENARIO);
    ck_assert_msg(strstr(err.msg, what), "message: %s", err.msg);
    ck_assert_int_eq(err.line, line);
    ck_assert_int_eq(err.col, col);
}

START_TEST(error_zero_draft_tokens)
{
    expect_error("spec_tokens: 0\n    speculation: head\n    spec_draft_time: 1 us",
                 "{block_tokens: 16}", 7, 18, "spec_tokens");
}
END_TEST

START_TEST(error_acceptance_out_of_range)
{
    expect_error("spec_acceptance: 1.5\n    speculation: head\n    spec_draft_time: 1 us",
                 "{block_tokens: 16}", 7, 22, "spec_acceptance");
    expect_error("spec_acceptance: -0.1\n    speculation: draft", "{block_tokens: 16}", 7, 22,
                 "[0, 1]");
}
END_TEST

/* Bad spec_acceptance_dist values: exit 2 at the offending node (line 7,
 * the column of the value or key; expect_error indents by 4). */
START_TEST(error_acceptance_dist)
{
    static const struct {
        const char *dist;   /* the value of spec_acceptance_dist */
        const char *at;     /* where the error points */
        const char *what;   /* in the message */
    } bad[] = {
        {"{dist: beta, mean: 1.2, concentration: 10}", "1.2", "(0, 1)"},
        {"{dist: beta, mean: 0, concentration: 10}", "0,", "(0, 1)"},
        {"{dist: beta, mean: 0.7, concentration: 0}", "0}", "concentration"},
        {"{dist: beta, mean: 0.7, concentraton: 10}", "concentraton", "concentration"},
        {"{dist: beta, mean: 0.7}", "{", "needs 'concentration'"},
        {"{dist: beta, mean: 0.7, concentration: 10, min: 0.1}", "min", "not a parameter"},
        {"{dist: gamma, mean: 0.7}", "gamma", "gamma"},
        {"{mean: 0.7}", "{", "needs 'dist'"},
        {"{dist: uniform, min: 0.8, max: 0.6}", "0.6", "below min"},
        {"{dist: uniform, min: -0.1, max: 0.6}", "-0.1", "[0, 1]"},
        {"{dist: empirical, values: 0.5}", "0.5", "list of rates"},
        {"[0.9, 1.5, 0.3]", "1.5", "[0, 1]"},
        {"[0.9, x]", "x", "number"},
        {"[]", "[]", "one rate"},
        {"0.7", "0.7", "mapping"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char inst[512];
        snprintf(inst, sizeof inst, "spec_acceptance_dist: %s\n    speculation: head\n"
                 "    spec_draft_time: 1 us", bad[i].dist);
        const char *d = strstr(inst, bad[i].dist), *at = strstr(d, bad[i].at);
        ck_assert_ptr_nonnull(at);
        expect_error(inst, "{block_tokens: 16}", 7, 5 + (int)(at - inst), bad[i].what);
    }
    /* both a fixed rate and a distribution */
    expect_error("spec_acceptance_dist: [0.5]\n    spec_acceptance: 0.7\n    speculation: head\n"
                 "    spec_draft_time: 1 us", "{block_tokens: 16}", 7, 27, "both");
    /* a distribution on an instance that does not speculate */
    expect_error("spec_acceptance_dist: [0.5]", "{block_tokens: 16}", 7, 27,
                 "does not speculate");
}
END_TEST

START_TEST(error_swap_without_a_tier)
{
    expect_error("preemption: swap", "{block_tokens: 16}", 7, 17, "only HBM");
    expect_error("preemption: cost", "{block_tokens: 16}", 7, 17, "below HBM");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("swapspec");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_set_timeout(core, 120);
    tcase_add_test(core, swap_moves_exactly_the_kv);
    tcase_add_test(core, recompute_recomputes);
    tcase_add_test(core, cost_swaps_above_the_crossover);
    tcase_add_test(core, cost_recomputes_below_the_crossover);
    tcase_add_test(core, cost_over_the_fabric_both_sides);
    tcase_add_test(core, estimate_is_the_fair_share);
    tcase_add_loop_test(core, spec_tokens_per_verification, 0,
                        (int)(sizeof rates / sizeof rates[0]));
    tcase_add_test(core, spec_head_costs_exact);
    tcase_add_test(core, spec_draft_model_costs_exact);
    tcase_add_test(core, spec_tpot_effect);
    tcase_add_test(core, spec_per_request_rates);
    tcase_add_test(core, spec_mix_over_requests);
    tcase_add_test(core, spec_rate_lists_and_bounds);
    suite_add_tcase(s, core);
    TCase *errs = tcase_create("Errors");
    tcase_add_checked_fixture(errs, setup, teardown);
    tcase_add_test(errs, error_zero_draft_tokens);
    tcase_add_test(errs, error_acceptance_out_of_range);
    tcase_add_test(errs, error_acceptance_dist);
    tcase_add_test(errs, error_swap_without_a_tier);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(suite());
}
