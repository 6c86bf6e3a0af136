/*
 * check_ppep.c - pipeline and expert parallelism of the serving instance
 * (llm_model.h, instance.c), held to formulas and hand-computed numbers.
 *
 * Pipeline. A forward-only GPipe schedule (Huang et al., "GPipe", NeurIPS
 * 2019) of p equal stages of time t and m micro-batches: stage s starts
 * micro-batch j at j t + s (t + x), x the time of one activation hop, so
 * a step lasts (m + p - 1) t + (p - 1) x and, for x = 0, the stages idle
 * (p - 1) / (m + p - 1) of it (the bubble). One step of one request (a
 * prompt prefilled in one step, output 1 token) on p fabric GPUs joined by
 * NVLink: its time is exactly (m + p - 1) t + (p - 1) x with t the stage
 * time and x the (uncontended, equal) latency of one activation transfer
 * the fabric reports; the bytes on the stage links are exactly tokens / m
 * x hidden x 2 per boundary and micro-batch. On a fabric with free
 * transfers (x = 0) the step is (m + p - 1) t to the picosecond and the
 * bubble (p - 1) / (m + p - 1).
 *
 * Experts. Mixtral-8x7B (mistralai/Mixtral-8x7B-v0.1 config.json: 32
 * layers, hidden 4096, 8 experts of 3 x 4096 x 14336 parameters per
 * layer, top-2): a step of T tokens activates min(8, 2 T) experts per
 * layer and reads only their weights; each MoE layer's dispatch and
 * combine move T x hidden x 2 B x top_k x (ep - 1) / ep each way.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/fabric/fabric.h"
#include "models/registry.h"
#include "models/serving/instance.h"
#include "models/serving/llm_model.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/serving_fixture.h"

#define MAXREQ 64

typedef struct rec {
    capture cap; /* first: capture_metric casts ctx */
    sim_time arrival[MAXREQ], first[MAXREQ], finish[MAXREQ];
} rec;

static rec *R;
static inst_counters C0;
static llm_hw HW0;     /* inst0's hardware, with its model and GPU copied: */
static llm_model M0;   /* the instance's own copies die with the simulator */
static llm_gpu G0;

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
    return 0;
}


static void keep_hw(sim *s)
{
    C0 = *inst_stats(sim_find(s, "inst0"));
    HW0 = *inst_hw(sim_find(s, "inst0"));
    M0 = *HW0.m;
    G0 = *HW0.g;
    HW0.m = &M0;
    HW0.g = &G0;
}

static int run_text(const char *text, sim_err *err)
{
    memset(R, 0, sizeof *R);
    memset(&C0, 0, sizeof C0);
    sim_sink k = {R, capture_metric, NULL, NULL, rec_request, NULL, NULL, NULL, NULL, NULL};
    return sfx_run("test.yaml", text, &k, NULL, keep_hw, err);
}

static void setup(void) { R = calloc(1, sizeof *R); }
static void teardown(void) { free(R); }

static llm_hw hw_of(const char *model, uint32_t tp)
{
    llm_hw hw;
    memset(&hw, 0, sizeof hw);
    hw.m = llm_model_find(model);
    hw.g = llm_gpu_find("h100");
    hw.tp = tp;
    hw.step_model = LLM_STEP_ROOFLINE;
    return hw;
}

/* Mixtral-8x7B numbers written out. */
static const double MX_PE = 3.0 * 4096 * 14336;             /* one expert of one layer */
static const double MX_DENSE = 46.7e9 - 32 * 8 * 3.0 * 4096 * 14336;
static const double MX_KV = 2.0 * 32 * 8 * 128 * 2;         /* KV bytes per token */

/* ---- presets and formulas -------------------------------------------------- */

START_TEST(mixtral_preset)
{
    const llm_model *m = llm_model_find("mixtral-8x7b");
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->layers, 32);
    ck_assert_uint_eq(m->hidden, 4096);
    ck_assert_uint_eq(m->heads, 32);
    ck_assert_uint_eq(m->kv_heads, 8);
    ck_assert_uint_eq(m->experts, 8);
    ck_assert_uint_eq(m->top_k, 2);
    ck_assert_uint_eq(m->moe_layers, 32);
    ck_assert_double_eq(m->params, 46.7e9);
    ck_assert_double_eq(m->active_params, 12.9e9);
    ck_assert_double_eq(m->expert_params / (8.0 * 32), MX_PE);
    ck_assert_uint_eq(llm_kv_bytes_per_token(m), (uint64_t)MX_KV);
    /* dense + 2 experts per layer ~ the card's 12.9 B active (within 0.5%) */
    ck_assert_double_eq_tol(MX_DENSE + 2 * 32 * MX_PE, 12.9e9, 0.005 * 12.9e9);
    /* DeepSeek-V3: 58 MoE layers of 256 experts of 3 x 7168 x 2048 */
    const llm_model *d = llm_model_find("deepseek-v3");
    ck_assert_uint_eq(d->experts, 256);
    ck_assert_uint_eq(d->top_k, 8);
    ck_assert_double_eq(d->expert_params, 58.0 * 256 * 3 * 7168 * 2048);
}
END_TEST

START_TEST(active_experts_by_hand)
{
    const llm_model *m = llm_model_find("mixtral-8x7b"), *d = llm_model_find("deepseek-v3");
    ck_assert_double_eq(llm_moe_active_experts(m, 1), 2);
    ck_assert_double_eq(llm_moe_active_experts(m, 3), 6);
    ck_assert_double_eq(llm_moe_active_experts(m, 4), 8);
    ck_assert_double_eq(llm_moe_active_experts(m, 1000), 8);
    ck_assert_double_eq(llm_moe_active_experts(d, 1), 8);
    ck_assert_double_eq(llm_moe_active_experts(d, 32), 256);
    ck_assert_double_eq(llm_moe_active_experts(llm_model_find("llama3-8b"), 5), 0);
    llm_hw hw = hw_of("mixtral-8x7b", 2);
    /* one decode token: dense weights + 2 experts in each of 32 layers, BF16 */
    ck_assert_double_eq_tol(llm_step_weight_bytes(&hw, 1), (MX_DENSE + 32 * 2 * MX_PE) * 2, 1);
    ck_assert_double_eq_tol(llm_step_weight_bytes(&hw, 3), (MX_DENSE + 32 * 6 * MX_PE) * 2, 1);
    ck_assert_double_eq_tol(llm_step_weight_bytes(&hw, 64), 46.7e9 * 2, 1);
    /* EP 2 with imbalance 1.5: the busiest rank reads 1.5 x its share */
    hw.ep = 2;
    hw.moe_imbalance = 1.5;
    ck_assert_double_eq_tol(llm_step_weight_bytes(&hw, 1), (MX_DENSE + 32 * 3 * MX_PE) * 2, 1);
    ck_assert_double_eq_tol(llm_step_weight_bytes(&hw, 3), 46.7e9 * 2, 1); /* 9 -> capped 8 */
    /* dense models read every weight */
    llm_hw l = hw_of("llama3-8b", 1);
    ck_assert_double_eq(llm_step_weight_bytes(&l, 1), llm_weight_bytes(l.m));
}
END_TEST

START_TEST(all_to_all_bytes_formula)
{
    const llm_model *m = llm_model_find("mixtral-8x7b");
    /* T x hidden x 2 B x top_k x (ep - 1) / ep */
    ck_assert_double_eq(llm_a2a_bytes(m, 64, 4), 64.0 * 4096 * 2 * 2 * 3 / 4);
    ck_assert_double_eq(llm_a2a_bytes(m, 1000, 2), 1000.0 * 4096 * 2 * 2 / 2);
    ck_assert_double_eq(llm_a2a_bytes(m, 1000, 8), 1000.0 * 4096 * 2 * 2 * 7 / 8);
    ck_assert_double_eq(llm_a2a_bytes(m, 64, 1), 0);
    ck_assert_double_eq(llm_a2a_bytes(llm_model_find("llama3-8b"), 64, 4), 0);
}
END_TEST

/* A decode step of one token on Mixtral, tp 2, ep 2, imbalance 1.5, written
 * out: weights of 3 experts per layer on the busiest rank, dense FLOPs +
 * 1.5 x the experts', one all-reduce (attention) and two all-to-alls per
 * layer over NVLink. */
START_TEST(ep_roofline_by_hand)
{
    llm_hw hw = hw_of("mixtral-8x7b", 2);
    hw.ep = 2;
    hw.moe_imbalance = 1.5;
    hw.allreduce_latency_s = 5e-6;
    double ctx = 1000;
    llm_step st = {1, ctx, (uint64_t)ctx, 0, 0, 1};
    double F = 2 * 989e12 * 0.6, B = 2 * 3.35e12 * 0.8, link = 450e9;
    double kl = 2 * 32 * MX_PE;
    double flops = 2 * (12.9e9 - kl) + 4.0 * 32 * 32 * 128 * ctx + 1.5 * 2 * kl;
    double bytes = (MX_DENSE + 32 * 3 * MX_PE) * 2 + MX_KV * (ctx + 1);
    double size = 4096 * 2.0;
    /* 32 attention all-reduces over tp 2; none after the experts (ep = tp) */
    double ar = 32 * (2 * 0.5 * size / link + 5e-6);
    double a2a = 2 * 32 * (4096 * 2.0 * 2 * 0.5 / 2 / link + 5e-6);
    double want = fmax(flops / F, bytes / B) + ar + a2a;
    double got = llm_step_seconds(&hw, &st, NULL, NULL, NULL);
    ck_assert_double_eq_tol(got, want, 1e-12 * want);
    /* the all-to-all moved by the caller: only its latencies stay */
    hw.a2a_external = 1;
    double ext = llm_step_seconds(&hw, &st, NULL, NULL, NULL);
    ck_assert_double_eq_tol(ext, fmax(flops / F, bytes / B) + ar + 2 * 32 * 5e-6, 1e-12 * want);
    /* tp 4, ep 2: attention all-reduces over 4 GPUs, expert ones over 2 */
    hw.tp = 4;
    hw.a2a_external = 0;
    double tar = 0;
    (void)llm_step_seconds(&hw, &st, NULL, NULL, &tar);
    double ar4 = 2 * 0.75 * size / link + 5e-6, ar2 = 2 * 0.5 * size / link + 5e-6;
    double a2a2 = 2 * 32 * (4096 * 2.0 * 2 * 0.5 / 2 / link + 5e-6);
    ck_assert_double_eq_tol(tar, 32 * ar4 + 32 * ar2 + a2a2, 1e-12 * tar);
}
END_TEST

/* The closed form: (m + p - 1) stage times + (p - 1) hops; a compute-bound
 * prefill's stage time is 1 / (p m) of the whole step's compute. */
START_TEST(gpipe_closed_form)
{
    static const uint32_t pm[][2] = {{2, 1}, {4, 4}, {4, 8}, {8, 3}, {2, 16}};
    for (unsigned i = 0; i < sizeof pm / sizeof pm[0]; i++) {
        uint32_t p = pm[i][0], m = pm[i][1];
        llm_hw one = hw_of("llama3-70b", 1), hw = one;
        hw.pp = p;
        hw.microbatches = m;
        hw.step_overhead_s = 20e-6;
        double T = 4800; /* divisible by every m */
        llm_step st = {(uint64_t)T, T * (T + 1) / 2, 0, 0, (uint64_t)T, 0};
        double ts = llm_stage_seconds(&hw, &st);
        double hop = T / m * 8192 * 2 / 450e9;
        double want = (m + p - 1) * ts + (p - 1) * hop + 20e-6;
        ck_assert_double_eq_tol(llm_step_seconds(&hw, &st, NULL, NULL, NULL), want, 1e-15);
        double tc = 0;
        (void)llm_step_seconds(&one, &st, &tc, NULL, NULL); /* whole model, one batch */
        ck_assert_msg(tc > 0 && fabs(ts - tc / (p * m)) <= 1e-12 * ts,
                      "p %u m %u: stage %g vs %g", p, m, ts, tc / (p * m));
        ck_assert_double_eq(llm_pp_act_bytes(&hw, (uint64_t)T), T / m * 8192 * 2);
    }
    /* more micro-batches than tokens: one per token */
    llm_hw hw = hw_of("llama3-8b", 1);
    hw.pp = 4;
    hw.microbatches = 8;
    ck_assert_uint_eq(llm_pp_microbatches(&hw, 3), 3);
    ck_assert_uint_eq(llm_pp_microbatches(&hw, 300), 8);
}
END_TEST

/* ---- the instance over the fabric ------------------------------------------- */

/* One request of `input` tokens, output 1: one prefill step on a pipeline
 * of p stages (llama3-70b, tp 1 per stage on B200s: 141 GB of weights fit
 * once p >= 1) joined in a chain of NVLink 5 bundles. */
static void pp_one_step(uint32_t p, uint32_t m, uint32_t input, int free_fabric)
{
    char text[4096];
    int n = snprintf(text, sizeof text, "name: pp\nstop: trace_end\ncomponents:\n"
                     "  - {name: fabric, type: fabric, free_transfers: %s}\n",
                     free_fabric ? "true" : "false");
    for (uint32_t s = 0; s < p; s++)
        n += snprintf(text + n, sizeof text - n, "  - {name: g%u, type: gpu}\n", s);
    n += snprintf(text + n, sizeof text - n,
                  "  - {name: inst0, type: llm_instance, model: llama3-70b, gpu: b200, pp: %u,"
                  " pp_microbatches: %u, max_batched_tokens: 16384, step_overhead: 30 us,"
                  " devices: \"",
                  p, m);
    for (uint32_t s = 0; s < p; s++)
        n += snprintf(text + n, sizeof text - n, "%sg%u", s ? ", " : "", s);
    n += snprintf(text + n, sizeof text - n, "\"}\nlinks:\n");
    for (uint32_t s = 0; s + 1 < p; s++)
        n += snprintf(text + n, sizeof text - n,
                      "  - {name: nv%u, type: nvlink, gen: 5, links: 18, ends: [g%u, g%u]}\n", s,
                      s, s + 1);
    snprintf(text + n, sizeof text - n,
             "workload:\n"
             "  synthetic: {rate: 1/s, input: %u tokens, output: 1 tokens, requests: 1}\n"
             "kv: {block_tokens: 16}\n",
             input);
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
}

START_TEST(pp_fabric_gpipe_exact)
{
    static const uint32_t pm[][2] = {{2, 2}, {4, 4}, {4, 8}, {5, 1}, {8, 8}};
    for (unsigned i = 0; i < sizeof pm / sizeof pm[0]; i++) {
        uint32_t p = pm[i][0], m = pm[i][1], T = 8000;
        pp_one_step(p, m, T, 0);
        ck_assert_uint_eq(C0.steps, 1);
        llm_step st = {T, (double)T * (T + 1) / 2, 0, 0, T, 0};
        sim_time t = (sim_time)llround(llm_stage_seconds(&HW0, &st) * 1e12);
        /* activations: T / m x hidden x 2 B per boundary and micro-batch */
        double act = (double)T / m * 8192 * 2;
        ck_assert_uint_eq(C0.pp_act_transfers, (uint64_t)(p - 1) * m);
        ck_assert_uint_eq(C0.pp_act_bytes, (uint64_t)((p - 1) * m * act));
        ck_assert_double_eq(capture_get(&R->cap, "fabric", "bytes:class:activations"),
                            (p - 1) * m * act);
        /* every hop alone on its link: one latency x (the fabric's) */
        double xm = capture_get(&R->cap, "fabric", "latency:class:activations_max");
        double xa = capture_get(&R->cap, "fabric", "latency:class:activations_mean");
        sim_time x = (sim_time)llround(xm * 1e12);
        ck_assert_msg(x <= t && fabs(xa - xm) <= 1e-15, "p %u m %u: hops %g / %g s, stage %llu ps",
                      p, m, xa, xm, (unsigned long long)t);
        sim_time want = (sim_time)(m + p - 1) * t + (sim_time)(p - 1) * x + 30 * SIM_US;
        ck_assert_msg(R->first[0] - R->arrival[0] == want, "p %u m %u: step %llu ps, GPipe %llu",
                      p, m, (unsigned long long)(R->first[0] - R->arrival[0]),
                      (unsigned long long)want);
        /* bubble: 1 - m t / span, span = (m + p - 1) t + (p - 1) x */
        double span = (double)((m + p - 1) * t + (p - 1) * x);
        double bub = capture_get(&R->cap, "inst0", "pp_bubble_fraction");
        ck_assert_double_eq_tol(bub, 1.0 - (double)m * (double)t / span, 1e-12);
        /* a fast fabric: within x / t of GPipe's (p - 1) / (m + p - 1) */
        ck_assert_double_eq_tol(bub, (double)(p - 1) / (m + p - 1), 1e-3);
    }
}
END_TEST

/* An infinitely fast fabric (free transfers: bytes counted, no time): the
 * step is GPipe's (m + p - 1) t to the picosecond and the bubble exactly
 * (p - 1) / (m + p - 1). */
START_TEST(pp_free_fabric_is_gpipe)
{
    static const uint32_t pm[][2] = {{2, 1}, {2, 8}, {4, 4}, {8, 2}, {16, 16}};
    for (unsigned i = 0; i < sizeof pm / sizeof pm[0]; i++) {
        uint32_t p = pm[i][0], m = pm[i][1], T = 8000;
        pp_one_step(p, m, T, 1);
        llm_step st = {T, (double)T * (T + 1) / 2, 0, 0, T, 0};
        sim_time t = (sim_time)llround(llm_stage_seconds(&HW0, &st) * 1e12);
        ck_assert_uint_eq(R->first[0] - R->arrival[0], (m + p - 1) * t + 30 * SIM_US);
        ck_assert_double_eq_tol(capture_get(&R->cap, "inst0", "pp_bubble_fraction"),
                                (double)(p - 1) / (m + p - 1), 1e-15);
        ck_assert_uint_eq(C0.pp_act_bytes, (uint64_t)(p - 1) * T * 8192 * 2);
    }
}
END_TEST

/* Without devices: the closed form, rounded to ps, and the formula's bubble. */
START_TEST(pp_analytic)
{
    const char *text = "name: pp\nstop: trace_end\n"
                       "workload:\n"
                       "  synthetic: {rate: 1/s, input: 8000 tokens, output: 1 tokens, "
                       "requests: 1}\n"
                       "  instances: {count: 1, model: llama3-70b, gpu: b200, pp: 4, "
                       "pp_microbatches: 4, max_batched_tokens: 16384}\n"
                       "kv: {block_tokens: 16}\n";
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    llm_step st = {8000, 8000.0 * 8001 / 2, 0, 0, 8000, 0};
    double t = llm_stage_seconds(&HW0, &st), hop = 2000.0 * 8192 * 2 / 900e9;
    sim_time want = (sim_time)llround((7 * t + 3 * hop) * 1e12);
    sim_time got = R->first[0] - R->arrival[0];
    ck_assert_msg(got + 1 >= want && got <= want + 1, "%llu vs %llu", (unsigned long long)got,
                  (unsigned long long)want);
    ck_assert_double_eq_tol(capture_get(&R->cap, "inst0", "pp_bubble_fraction"), 3.0 / 7, 1e-15);
    /* 4 stages x 1 B200: 4 x 0.9 x 180 GB hold weights and KV */
    double kvb = capture_get(&R->cap, "inst0", "kv_capacity_blocks");
    double want_blocks = floor((0.9 * 4 * 180e9 - 70553706496.0 * 2) / (16 * 327680.0));
    ck_assert_double_eq(kvb, want_blocks);
}
END_TEST

/* Mixtral tp 2 / ep 2 (or tp 4 / ep 4) over NVLink: one prefill step of
 * 1000 tokens, then 9 decode steps of one token. */
static void ep_run(uint32_t ep, const char *extra)
{
    char text[4096];
    int n = snprintf(text, sizeof text, "name: ep\nstop: trace_end\ncomponents:\n"
                     "  - {name: fabric, type: fabric}\n");
    for (uint32_t r = 0; r < ep; r++)
        n += snprintf(text + n, sizeof text - n, "  - {name: g%u, type: gpu}\n", r);
    n += snprintf(text + n, sizeof text - n,
                  "  - {name: inst0, type: llm_instance, model: mixtral-8x7b, gpu: h100, tp: %u,"
                  " ep: %u, %s devices: \"",
                  ep, ep, extra);
    for (uint32_t r = 0; r < ep; r++)
        n += snprintf(text + n, sizeof text - n, "%sg%u", r ? " " : "", r);
    n += snprintf(text + n, sizeof text - n, "\"}\nlinks:\n");
    for (uint32_t a = 0; a < ep; a++)
        for (uint32_t b = a + 1; b < ep; b++)
            n += snprintf(text + n, sizeof text - n,
                          "  - {name: nv%u%u, type: nvlink, gen: 4, links: 18, ends: [g%u, g%u]}\n",
                          a, b, a, b);
    snprintf(text + n, sizeof text - n,
             "workload:\n"
             "  synthetic: {rate: 1/s, input: 1000 tokens, output: 10 tokens, requests: 1}\n"
             "kv: {block_tokens: 16}\n");
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
}

START_TEST(ep_all_to_all_bytes_exact)
{
    for (uint32_t ep = 2; ep <= 4; ep += 2) {
        ep_run(ep, "");
        ck_assert_uint_eq(C0.steps, 10);
        /* per step: 2 (dispatch, combine) x 32 MoE layers x T x 4096 x 2 B x
         * top-2 x (ep - 1) / ep; tokens over the steps: 1000 + 9 x 1 */
        double want = 2.0 * 32 * (1000 + 9) * 4096 * 2 * 2 * (ep - 1) / ep;
        ck_assert_uint_eq(C0.a2a_bytes, (uint64_t)want);
        ck_assert_uint_eq(C0.a2a_transfers, 10ull * ep * (ep - 1));
        ck_assert_double_eq(capture_get(&R->cap, "fabric", "bytes:class:all_to_all"), want);
        ck_assert_double_eq(capture_get(&R->cap, "inst0", "ep_all_to_all_bytes"), want);
    }
}
END_TEST

/* One step (output 1): compute time (the roofline without the all-to-all's
 * bytes) + the fabric's time for them, in sequence. The two transfers of
 * ep 2 cross the bundle in opposite directions: equal latencies. */
START_TEST(ep_step_is_compute_plus_fabric)
{
    const char *text = "name: ep\nstop: trace_end\ncomponents:\n"
                       "  - {name: fabric, type: fabric}\n"
                       "  - {name: g0, type: gpu}\n  - {name: g1, type: gpu}\n"
                       "  - {name: inst0, type: llm_instance, model: mixtral-8x7b, gpu: h100,"
                       " tp: 2, ep: 2, moe_imbalance: 1.25, devices: \"g0 g1\"}\n"
                       "links:\n"
                       "  - {name: nv, type: nvlink, gen: 4, links: 18, ends: [g0, g1]}\n"
                       "workload:\n"
                       "  synthetic: {rate: 1/s, input: 1000 tokens, output: 1 tokens,"
                       " requests: 1}\n"
                       "kv: {block_tokens: 16}\n";
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(HW0.a2a_external, 1);
    llm_step st = {1000, 1000.0 * 1001 / 2, 0, 0, 1000, 0};
    sim_time compute = llm_step_time(&HW0, &st);
    double xm = capture_get(&R->cap, "fabric", "latency:class:all_to_all_max");
    double xa = capture_get(&R->cap, "fabric", "latency:class:all_to_all_mean");
    ck_assert_double_eq_tol(xa, xm, 1e-15);
    sim_time x = (sim_time)llround(xm * 1e12);
    ck_assert_uint_eq(R->first[0] - R->arrival[0], compute + x);
    /* the pair carries 2 x 32 layers x 1000 x 4096 x 2 x 2 x 1/2 / 2 B */
    ck_assert_uint_eq(C0.a2a_bytes, 2ull * 32 * 1000 * 4096 * 2 * 2 / 2);
}
END_TEST

/* Decode steps of one Mixtral request on one H100 (tp 1... 93 GB do not
 * fit: tp 2, no EP): a decode step reads the dense weights, 2 experts per
 * layer and the KV, written out. */
START_TEST(expert_weights_decode_by_hand)
{
    const char *text = "name: moe\nstop: trace_end\n"
                       "workload:\n"
                       "  synthetic: {rate: 1/s, input: 1000 tokens, output: 3 tokens, "
                       "requests: 1}\n"
                       "  instances: {count: 1, model: mixtral-8x7b, gpu: h100, tp: 2}\n"
                       "kv: {block_tokens: 16}\n";
    sim_err err;
    ck_assert_msg(run_text(text, &err) == 0, "%s", err.msg);
    double F = 2 * 989e12 * 0.6, B = 2 * 3.35e12 * 0.8, link = 450e9;
    sim_time want = 0;
    for (int k = 0; k < 2; k++) { /* contexts 1001, 1002: 1000 + k KV tokens read */
        double ctx = 1001 + k;
        double flops = 2 * (12.9e9 - 2 * 32 * MX_PE) + 2 * (2 * 32 * MX_PE) +
                       4.0 * 32 * 32 * 128 * ctx;
        double bytes = (MX_DENSE + 32 * 2 * MX_PE) * 2 + MX_KV * ctx;
        double ar = 2 * 32 * (2 * 0.5 * 4096 * 2.0 / link);
        want += (sim_time)llround((fmax(flops / F, bytes / B) + ar) * 1e12);
    }
    sim_time got = R->finish[0] - R->first[0];
    ck_assert_msg(got + 2 >= want && got <= want + 2, "%llu vs %llu", (unsigned long long)got,
                  (unsigned long long)want);
    /* memory-bound: fewer bytes than all 46.7 B parameters */
    ck_assert((MX_DENSE + 64 * MX_PE) * 2 < 46.7e9 * 2 * 0.3);
}
END_TEST

/* ---- bad input ------------------------------------------------------------- */

static void expect_error(const char *inst, int line, int col, const char *what)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: e\nstop: trace_end\n"
             "workload:\n"
             "  synthetic: {rate: 1/s, input: 100 tokens, output: 10 tokens, requests: 1}\n"
             "  instances:\n"
             "    count: 1\n"
             "    %s\n"
             "kv: {block_tokens: 16}\n",
             inst);
    sim_err err;
    ck_assert_int_eq(run_text(text, &err), SIM_ESCENARIO);
    ck_assert_msg(strstr(err.msg, what), "message: %s", err.msg);
    ck_assert_msg(err.line == line && err.col == col, "%s: at %d:%d, not %d:%d", err.msg,
                  err.line, err.col, line, col);
}

START_TEST(error_pp_does_not_divide_layers)
{
    expect_error("pp: 3", 7, 9, "divide the model's 32 layers");
    expect_error("model: llama3-70b\n    gpu: b200\n    pp: 0", 9, 9, "pp");
}
END_TEST

START_TEST(error_ep_above_expert_count)
{
    expect_error("model: mixtral-8x7b\n    tp: 16\n    ep: 16", 9, 9, "expert count");
    expect_error("ep: 2\n    tp: 2", 7, 9, "routed experts"); /* a dense model */
    expect_error("model: mixtral-8x7b\n    tp: 4\n    ep: 3", 9, 9, "divide");
    expect_error("model: mixtral-8x7b\n    tp: 2\n    ep: 2\n    moe_imbalance: 0.5", 10, 20,
                 "moe_imbalance");
    expect_error("model: mixtral-8x7b\n    tp: 2\n    ep: 2\n    moe_imbalance: 3", 10, 20,
                 "1..ep");
}
END_TEST

START_TEST(error_devices)
{
    expect_error("devices: g0", 7, 14, "pipeline stages");
    expect_error("pp: 2\n    devices: nosuch, g1", 8, 14, "'nosuch' is not");
}
END_TEST

/* A pipeline whose stages 1 and 2 have no link between them. */
START_TEST(error_no_route_between_stages)
{
    const char *text = "name: e\nstop: trace_end\ncomponents:\n"
                       "  - {name: fabric, type: fabric}\n"
                       "  - {name: g0, type: gpu}\n  - {name: g1, type: gpu}\n"
                       "  - {name: g2, type: gpu}\n"
                       "  - {name: inst0, type: llm_instance, model: llama3-8b, pp: 4,\n"
                       "     devices: g0 g1 g2}\n"
                       "links:\n"
                       "  - {name: a, type: nvlink, gen: 4, links: 18, ends: [g0, g1]}\n"
                       "workload:\n"
                       "  synthetic: {rate: 1/s, input: 100 tokens, output: 1 tokens,"
                       " requests: 1}\n";
    sim_err err;
    ck_assert_int_eq(run_text(text, &err), SIM_ESCENARIO);
    ck_assert_msg(strstr(err.msg, "needs 4 (one per stage)"), "%s", err.msg);
    ck_assert_int_eq(err.line, 9); /* the devices: line */
    char fixed[1024];
    snprintf(fixed, sizeof fixed, "%s", text);
    char *p = strstr(fixed, "pp: 4");
    p[4] = '3';
    /* 32 layers do not split in 3: first that error, at pp */
    ck_assert_int_eq(run_text(fixed, &err), SIM_ESCENARIO);
    ck_assert_msg(strstr(err.msg, "divide"), "%s", err.msg);
    p = strstr(fixed, "llama3-8b");
    memcpy(p, "qwen2-7b ", 9); /* 28 layers, in 2 stages */
    p = strstr(fixed, "pp: 3");
    p[4] = '2';
    char *d = strstr(fixed, "g0 g1 g2");
    memcpy(d, "g1 g2   ", 8); /* two stages, g1 - g2 unlinked */
    ck_assert_int_eq(run_text(fixed, &err), SIM_ESCENARIO);
    ck_assert_msg(strstr(err.msg, "no fabric route from 'g1' to 'g2'"), "%s", err.msg);
    ck_assert_int_eq(err.line, 9);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ppep");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_set_timeout(core, 120);
    tcase_add_test(core, mixtral_preset);
    tcase_add_test(core, active_experts_by_hand);
    tcase_add_test(core, all_to_all_bytes_formula);
    tcase_add_test(core, ep_roofline_by_hand);
    tcase_add_test(core, gpipe_closed_form);
    tcase_add_test(core, pp_fabric_gpipe_exact);
    tcase_add_test(core, pp_free_fabric_is_gpipe);
    tcase_add_test(core, pp_analytic);
    tcase_add_test(core, ep_all_to_all_bytes_exact);
    tcase_add_test(core, ep_step_is_compute_plus_fabric);
    tcase_add_test(core, expert_weights_decode_by_hand);
    tcase_add_test(core, error_pp_does_not_divide_layers);
    tcase_add_test(core, error_ep_above_expert_count);
    tcase_add_test(core, error_devices);
    tcase_add_test(core, error_no_route_between_stages);
    suite_add_tcase(s, core);
    return s;
}

int main(void)
{
    return check_main(suite());
}
