/*
 * check_llm_model.c - model and GPU presets and the roofline step time.
 *
 * KV bytes per token (fidelity-references.md): 2 x layers x kv_heads x
 * head_dim x bytes for MHA/GQA; (kv_lora_rank + rope_dim) x layers x bytes
 * for MLA. The architecture numbers below are copied here from each
 * model's published config.json, independently of the preset table.
 * Roofline (Williams, Waterman, Patterson, CACM 2009; the prefill/decode
 * forms of fidelity-references.md): t = max(FLOPs / (tp F eff_c),
 * bytes / (tp BW eff_m)) (+ all-reduce when tp > 1).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "models/serving/llm_model.h"
#include "tests/check_main.h"

typedef struct ref {
    const char *name;
    double layers, kv_heads, head_dim, lora, rope, bytes;
} ref;

static const ref refs[] = {
    {"llama2-7b", 32, 32, 128, 0, 0, 2},   {"llama2-13b", 40, 40, 128, 0, 0, 2},
    {"llama2-70b", 80, 8, 128, 0, 0, 2},   {"llama3-8b", 32, 8, 128, 0, 0, 2},
    {"llama3-70b", 80, 8, 128, 0, 0, 2},   {"qwen2-7b", 28, 4, 128, 0, 0, 2},
    {"deepseek-v3", 61, 0, 0, 512, 64, 2},
};
#define NREFS (sizeof refs / sizeof refs[0])

START_TEST(kv_bytes_per_token)
{
    const ref *r = &refs[_i];
    const llm_model *m = llm_model_find(r->name);
    ck_assert_ptr_nonnull(m);
    double want = r->lora ? (r->lora + r->rope) * r->layers * r->bytes
                          : 2 * r->layers * r->kv_heads * r->head_dim * r->bytes;
    ck_assert_uint_eq(llm_kv_bytes_per_token(m), (uint64_t)want);
}
END_TEST

START_TEST(known_values)
{
    /* Figures quoted in the literature: Llama-2-7B holds 0.5 MiB of KV per
     * token in FP16 (vLLM paper, sec. 2.3 for 13B: 800 KiB); DeepSeek-V3
     * 70,272 B (MLA, 576 x 61 x 2). */
    ck_assert_uint_eq(llm_kv_bytes_per_token(llm_model_find("llama2-7b")), 524288);
    ck_assert_uint_eq(llm_kv_bytes_per_token(llm_model_find("llama2-13b")), 819200);
    ck_assert_uint_eq(llm_kv_bytes_per_token(llm_model_find("deepseek-v3")), 70272);
    const llm_gpu *h = llm_gpu_find("h100");
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->hbm, 80000000000ULL);
    ck_assert(h->hbm_bandwidth == 3.35e12 && h->flops == 989e12);
    ck_assert(llm_gpu_find("h200")->hbm == 141000000000ULL);
    ck_assert(llm_gpu_find("h200")->hbm_bandwidth == 4.8e12);
}
END_TEST

static llm_hw hw_of(const char *model, const char *gpu, uint32_t tp)
{
    llm_hw hw = {llm_model_find(model), llm_gpu_find(gpu), tp, 0, 0, 0, LLM_STEP_ROOFLINE, {0, 0, 0, 0}, 0, 0, 0, 0, 0, NULL};
    return hw;
}

START_TEST(prefill_compute_bound)
{
    llm_hw hw = hw_of("llama3-8b", "h100", 1);
    double n = 4096;
    llm_step st = {4096, n * (n + 1) / 2, 0, 0, 0, 0};
    double tc, tm, ta;
    double t = llm_step_seconds(&hw, &st, &tc, &tm, &ta);
    double P = 8030261248.0;
    double flops = 2 * P * n + 4.0 * 32 * 32 * 128 * n * (n + 1) / 2;
    ck_assert_double_eq_tol(tc, flops / (989e12 * 0.6), 1e-12);
    ck_assert(tc > tm);
    ck_assert_double_eq(t, tc);
    ck_assert_double_eq(ta, 0);
}
END_TEST

START_TEST(decode_memory_bound)
{
    llm_hw hw = hw_of("llama3-70b", "h200", 1);
    /* 64 sequences of 2000 tokens each decode one token. */
    llm_step st = {64, 64.0 * 2001, 64 * 2000, 0, 0, 0};
    double tc, tm;
    double t = llm_step_seconds(&hw, &st, &tc, &tm, NULL);
    double bytes = 70553706496.0 * 2 + 327680.0 * (64 * 2000 + 64);
    ck_assert_double_eq_tol(tm, bytes / (4.8e12 * 0.8), 1e-12);
    ck_assert(tm > tc);
    ck_assert_double_eq(t, tm);
}
END_TEST

/* KV read in place from CXL is a second memory stream, concurrent with HBM:
 * the step is max(t_comp, t_hbm, t_cxl) (llm_model.h); t_cxl = bytes / W. */
START_TEST(cxl_term_is_a_concurrent_stream)
{
    llm_hw hw = hw_of("llama3-70b", "h200", 1);
    hw.cxl_bandwidth = 64e9;
    /* 64 sequences of 2000 tokens; 1500 of each read from CXL. */
    llm_step st = {64, 64.0 * 2001, 64 * 500, 64 * 1500 * 327680ULL, 0, 0};
    double tc, tm, tx;
    double t = llm_step_seconds_cxl(&hw, &st, &tc, &tm, &tx, NULL);
    double hbm = (70553706496.0 * 2 + 327680.0 * (64 * 500 + 64)) / (4.8e12 * 0.8);
    ck_assert_double_eq_tol(tm, hbm, 1e-12);
    ck_assert_double_eq(tx, 64 * 1500 * 327680.0 / 64e9);
    ck_assert(tx > tm && tx > tc);
    ck_assert_double_eq(t, tx); /* the link is the bottleneck: max, not tm + tx */
    /* A fast path: HBM dominates again and the CXL stream hides behind it. */
    hw.cxl_bandwidth = 1e15;
    t = llm_step_seconds_cxl(&hw, &st, &tc, &tm, &tx, NULL);
    ck_assert(tx < tm);
    ck_assert_double_eq(t, tm);
    /* No CXL bytes: exactly today's step. */
    llm_step st0 = {64, 64.0 * 2001, 64 * 2000, 0, 0, 0};
    ck_assert_double_eq(llm_step_seconds_cxl(&hw, &st0, NULL, NULL, &tx, NULL),
                        llm_step_seconds(&hw, &st0, NULL, NULL, NULL));
    ck_assert_double_eq(tx, 0);
}
END_TEST

START_TEST(tensor_parallel)
{
    llm_hw h1 = hw_of("llama2-70b", "h100", 1), h4 = hw_of("llama2-70b", "h100", 4);
    llm_step st = {8, 8.0 * 1000, 8 * 1000, 0, 0, 0};
    double tm1, tm4, ta4;
    llm_step_seconds(&h1, &st, NULL, &tm1, NULL);
    double t4 = llm_step_seconds(&h4, &st, NULL, &tm4, &ta4);
    ck_assert_double_eq_tol(tm4, tm1 / 4, 1e-15);
    /* Ring all-reduce, 2 per layer: 2 x 80 x 2 (tp-1)/tp x 8 tokens x 8192 x 2 B / 450 GB/s. */
    ck_assert_double_eq_tol(ta4, 2 * 80 * (2.0 * 3 / 4 * 8 * 8192 * 2 / 450e9), 1e-15);
    ck_assert_double_eq_tol(t4, tm4 + ta4, 1e-15);
}
END_TEST

START_TEST(mixed_is_max)
{
    llm_hw hw = hw_of("qwen2-7b", "a100", 1);
    llm_step st = {1024 + 32, 1024.0 * 1025 / 2 + 32 * 500.0, 32 * 499, 0, 0, 0};
    double tc, tm;
    double t = llm_step_seconds(&hw, &st, &tc, &tm, NULL);
    ck_assert_double_eq(t, fmax(tc, tm));
    ck_assert_uint_eq(llm_step_time(&hw, &st), (uint64_t)llround(t * 1e12));
}
END_TEST

/* The linear model is its formula, exactly (BLIS's blackbox GPU model with
 * a context term): fixed + per_prefill p + per_decode d + per_context c;
 * the roofline's parts are not reported for it. Coefficients of the BLIS
 * fit for Llama-3.1-8B on one H100 (scenarios/presets/step-time/). */
START_TEST(linear_step_time)
{
    llm_hw hw = hw_of("llama3-8b", "h100", 1);
    hw.step_model = LLM_STEP_LINEAR;
    hw.linear = (llm_linear){5752.705e-6, 17.25086e-6, 5.999144e-6, 0.5e-9};
    /* 512 prefill tokens after 1024 cached, plus 40 decodes at context 2000 */
    llm_step st = {512 + 40, 0, 1024 + 40 * 1999, 0, 512, 40};
    double tc = 1, tm = 1, ta = 1;
    double t = llm_step_seconds(&hw, &st, &tc, &tm, &ta);
    double want = 5752.705e-6 + 512 * 17.25086e-6 + 40 * 5.999144e-6 + (1024 + 40 * 1999) * 0.5e-9;
    ck_assert_double_eq_tol(t, want, 1e-15);
    ck_assert_double_eq(tc + tm + ta, 0);
    ck_assert_uint_eq(llm_step_time(&hw, &st), (uint64_t)llround(want * 1e12));
    /* an empty step costs the fixed term */
    llm_step none = {0, 0, 0, 0, 0, 0};
    ck_assert_double_eq_tol(llm_step_seconds(&hw, &none, NULL, NULL, NULL), 5752.705e-6, 1e-15);
    /* a step beyond the clock (2^64 ps is 1.8e7 s) saturates instead of
     * wrapping through llround */
    hw.linear = (llm_linear){2e7, 0, 0, 0};
    ck_assert_uint_eq(llm_step_time(&hw, &none), SIM_TIME_MAX);
    hw.linear = (llm_linear){9e6, 0, 0, 0};
    ck_assert_uint_eq(llm_step_time(&hw, &none), 9000000ULL * 1000000000000ULL);
}
END_TEST

START_TEST(limits_empty_step)
{
    /* No tokens: the weights are still read once. */
    llm_hw hw = hw_of("llama2-7b", "h100", 1);
    llm_step st = {0, 0, 0, 0, 0, 0};
    double t = llm_step_seconds(&hw, &st, NULL, NULL, NULL);
    ck_assert_double_eq_tol(t, 6738415616.0 * 2 / (3.35e12 * 0.8), 1e-15);
    /* MoE: compute uses active parameters, memory all of them. */
    const llm_model *ds = llm_model_find("deepseek-v3");
    ck_assert(ds->active_params < ds->params);
    ck_assert_double_eq(llm_weight_bytes(ds), 671e9);
}
END_TEST

START_TEST(errors_unknown)
{
    ck_assert_ptr_null(llm_model_find("llama9-1t"));
    ck_assert_ptr_null(llm_model_find(NULL));
    ck_assert_ptr_null(llm_gpu_find("tpu"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("llm_model");
    TCase *tc = tcase_create("Core");
    tcase_add_loop_test(tc, kv_bytes_per_token, 0, NREFS);
    tcase_add_test(tc, known_values);
    tcase_add_test(tc, prefill_compute_bound);
    tcase_add_test(tc, decode_memory_bound);
    tcase_add_test(tc, cxl_term_is_a_concurrent_stream);
    tcase_add_test(tc, tensor_parallel);
    tcase_add_test(tc, mixed_is_max);
    tcase_add_test(tc, linear_step_time);
    suite_add_tcase(s, tc);
    tc = tcase_create("Limits");
    tcase_add_test(tc, limits_empty_step);
    suite_add_tcase(s, tc);
    tc = tcase_create("Errors");
    tcase_add_test(tc, errors_unknown);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_main(suite());
}
