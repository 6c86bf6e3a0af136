/*
 * llm_model.c - LLM and GPU presets and the roofline step time (see
 * llm_model.h for the formulas).
 *
 * Sources of the preset numbers:
 *   Llama-2 7B/13B/70B  meta-llama/Llama-2-*-hf config.json (Touvron et al. 2023);
 *   Llama-3 8B/70B      meta-llama/Meta-Llama-3-*  config.json;
 *   Qwen2-7B            Qwen/Qwen2-7B config.json;
 *   Llama-3.2-1B        meta-llama/Llama-3.2-1B config.json (16 layers, hidden 2048,
 *                       32 heads, 8 KV heads, head_dim 64, tied embeddings;
 *                       1.24B parameters): the usual draft model of Llama-3
 *                       speculative decoding (instance.c, speculation: draft);
 *   DeepSeek-V3         deepseek-ai/DeepSeek-V3 config.json and the V3 report:
 *                       61 layers, 128 heads, MLA kv_lora_rank 512, qk_rope_head_dim
 *                       64, qk_nope_head_dim 128, v_head_dim 128, 671B total / 37B
 *                       active parameters, FP8 weights. Attention FLOPs use the
 *                       unabsorbed head widths (qk 192, v 128), as prefill does.
 *                       MoE: 256 routed experts, 8 per token (num_experts_per_tok),
 *                       moe_intermediate_size 2048, first_k_dense_replace 3, so 58
 *                       MoE layers of 256 experts of 3 x 7168 x 2048 parameters:
 *                       653,908,770,816 routed-expert parameters (the shared
 *                       expert is dense, in every token's path);
 *   Mixtral-8x7B        mistralai/Mixtral-8x7B-v0.1 config.json (Jiang et al.,
 *                       "Mixtral of Experts", arXiv:2401.04088): 32 layers, hidden
 *                       4096, 32 heads, 8 KV heads, head_dim 128, intermediate 14336,
 *                       8 local experts, 2 per token; 46.7B total / 12.9B active
 *                       parameters (the paper's figures); routed experts 32 x 8 x
 *                       3 x 4096 x 14336 = 45,097,156,608 parameters.
 *   Parameter counts are those the model cards report (exact where published).
 *   GPUs: NVIDIA H100 SXM (80 GB HBM3, 3.35 TB/s, 989 TFLOP/s dense BF16, NVLink 4
 *   900 GB/s = 450 GB/s per direction), H200 (141 GB HBM3e, 4.8 TB/s), A100 SXM
 *   80 GB (2.039 TB/s, 312 TFLOP/s, NVLink 3 300 GB/s per direction) and 40 GB
 *   (1.555 TB/s), L40S (48 GB GDDR6, 864 GB/s, 362 TFLOP/s, PCIe Gen4 x16 32 GB/s),
 *   B200 (180 GB, 8 TB/s, 2.25 PFLOP/s, NVLink 5 900 GB/s per direction),
 *   AMD MI300X (192 GB, 5.3 TB/s, 1307 TFLOP/s, Infinity Fabric 448 GB/s).
 *   Power: peak = the board TDP of the vendor's datasheet (NVIDIA H100 SXM5 and
 *   H200 SXM 700 W, A100 SXM4 400 W (80 GB and 40 GB), L40S 350 W, B200 1000 W;
 *   AMD Instinct MI300X 750 W). Idle = 15% of TDP for every preset: an
 *   assumption, as vendors publish no idle figure; a serving GPU keeps a
 *   CUDA context, which alone holds it 26-50 W above bare idle on HBM GPUs
 *   (Vadari, "The Model Parking Tax", arXiv:2605.23918, 2026). Measure
 *   with nvidia-smi and set gpu_idle_power / gpu_peak_power per instance.
 * The efficiency factors (0.6 of peak FLOP/s for GEMMs, 0.8 of peak HBM
 * bandwidth) are typical achieved fractions, not measurements: calibrate
 * them per deployment (compute_eff / mem_eff in the scenario).
 */
#include "models/serving/llm_model.h"

#include "models/serving/step_table.h"

#include <math.h>
#include <string.h>

/*   name         layers hidden heads kvh hd  lora rope qk  v    params      active      wB kvB
 *   experts top_k moe_layers expert_params (MoE; 0 for dense models) */
const llm_model llm_models[] = {
    {"llama2-7b", 32, 4096, 32, 32, 128, 0, 0, 128, 128, 6738415616.0, 6738415616.0, 2, 2, 0, 0, 0, 0},
    {"llama2-13b", 40, 5120, 40, 40, 128, 0, 0, 128, 128, 13015864320.0, 13015864320.0, 2, 2, 0, 0, 0, 0},
    {"llama2-70b", 80, 8192, 64, 8, 128, 0, 0, 128, 128, 68976648192.0, 68976648192.0, 2, 2, 0, 0, 0, 0},
    {"llama3-8b", 32, 4096, 32, 8, 128, 0, 0, 128, 128, 8030261248.0, 8030261248.0, 2, 2, 0, 0, 0, 0},
    {"llama3-70b", 80, 8192, 64, 8, 128, 0, 0, 128, 128, 70553706496.0, 70553706496.0, 2, 2, 0, 0, 0, 0},
    {"qwen2-7b", 28, 3584, 28, 4, 128, 0, 0, 128, 128, 7615616512.0, 7615616512.0, 2, 2, 0, 0, 0, 0},
    {"deepseek-v3", 61, 7168, 128, 128, 128, 512, 64, 192, 128, 671e9, 37e9, 1, 2,
     256, 8, 58, 653908770816.0},
    {"llama3.2-1b", 16, 2048, 32, 8, 64, 0, 0, 64, 64, 1235814400.0, 1235814400.0, 2, 2, 0, 0, 0, 0},
    {"mixtral-8x7b", 32, 4096, 32, 8, 128, 0, 0, 128, 128, 46.7e9, 12.9e9, 2, 2, 8, 2, 32,
     45097156608.0},
    {NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};

/*  name         hbm        HBM B/s     FLOP/s      link B/s  ceff meff idle W  TDP W */
const llm_gpu llm_gpus[] = {
    {"h100", 80000000000ULL, 3.35e12, 989e12, 450e9, 0.6, 0.8, 105, 700},
    {"h200", 141000000000ULL, 4.8e12, 989e12, 450e9, 0.6, 0.8, 105, 700},
    {"a100", 80000000000ULL, 2.039e12, 312e12, 300e9, 0.6, 0.8, 60, 400},
    {"a100-40gb", 40000000000ULL, 1.555e12, 312e12, 300e9, 0.6, 0.8, 60, 400},
    {"l40s", 48000000000ULL, 864e9, 362e12, 32e9, 0.6, 0.8, 52.5, 350},
    {"b200", 180000000000ULL, 8e12, 2.25e15, 900e9, 0.6, 0.8, 150, 1000},
    {"mi300x", 192000000000ULL, 5.3e12, 1307e12, 448e9, 0.6, 0.8, 112.5, 750},
    {NULL, 0, 0, 0, 0, 0, 0, 0, 0}};

const llm_model *llm_model_find(const char *name)
{
    for (const llm_model *m = llm_models; name && m->name; m++)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

const llm_gpu *llm_gpu_find(const char *name)
{
    for (const llm_gpu *g = llm_gpus; name && g->name; g++)
        if (strcmp(g->name, name) == 0)
            return g;
    return NULL;
}

uint64_t llm_kv_bytes_per_token(const llm_model *m)
{
    if (m->kv_lora_rank)
        return (uint64_t)(m->kv_lora_rank + m->rope_dim) * m->layers * m->kv_bytes;
    return 2ULL * m->layers * m->kv_heads * m->head_dim * m->kv_bytes;
}

double llm_gpu_energy_j(const llm_gpu *g, double busy_s, double total_s)
{
    return g->idle_w * total_s + (g->peak_w - g->idle_w) * busy_s;
}

double llm_weight_bytes(const llm_model *m) { return m->params * (double)m->weight_bytes; }

double llm_attn_flops_per_pair(const llm_model *m)
{
    return 2.0 * m->layers * m->heads * (double)(m->qk_dim + m->v_dim);
}

double llm_step_seconds(const llm_hw *hw, const llm_step *st, double *t_comp, double *t_mem,
                        double *t_ar)
{
    return llm_step_seconds_cxl(hw, st, t_comp, t_mem, NULL, t_ar);
}

double llm_moe_active_experts(const llm_model *m, double tokens)
{
    if (!m->experts)
        return 0;
    double a = tokens * (double)m->top_k;
    return a < (double)m->experts ? a : (double)m->experts;
}

/* Parameters of one routed expert of one MoE layer. */
static double expert_size(const llm_model *m)
{
    return m->experts && m->moe_layers ? m->expert_params / ((double)m->experts * m->moe_layers)
                                       : 0;
}

static double imbalance(const llm_hw *hw)
{
    return hw->ep > 1 && hw->moe_imbalance > 1 ? hw->moe_imbalance : 1.0;
}

double llm_step_weight_bytes(const llm_hw *hw, double tokens)
{
    const llm_model *m = hw->m;
    if (!m->experts)
        return llm_weight_bytes(m);
    double busy = imbalance(hw) * llm_moe_active_experts(m, tokens);
    if (busy > (double)m->experts)
        busy = (double)m->experts;
    return ((m->params - m->expert_params) + (double)m->moe_layers * expert_size(m) * busy) *
           (double)m->weight_bytes;
}

double llm_a2a_bytes(const llm_model *m, double tokens, uint32_t ep)
{
    if (ep <= 1 || !m->experts)
        return 0;
    return tokens * (double)m->hidden * 2.0 * (double)m->top_k * (double)(ep - 1) / (double)ep;
}

uint32_t llm_pp_microbatches(const llm_hw *hw, uint64_t tokens)
{
    uint64_t mb = hw->microbatches > 1 ? hw->microbatches : 1;
    if (mb > tokens)
        mb = tokens ? tokens : 1;
    return (uint32_t)mb;
}

double llm_pp_act_bytes(const llm_hw *hw, uint64_t tokens)
{
    return (double)tokens / (double)llm_pp_microbatches(hw, tokens) * (double)hw->m->hidden * 2.0;
}

/* The roofline of `frac` of the layers computing T tokens (pairs, ctx, cxl
 * bytes already scaled to them), without step_overhead. */
static double roofline(const llm_hw *hw, double T, double pairs, double ctx, double cxl,
                       double frac, double *t_comp, double *t_mem, double *t_cxl, double *t_ar)
{
    const llm_model *m = hw->m;
    const llm_gpu *g = hw->g;
    double tp = (double)hw->tp;
    double flops;
    if (m->experts) {
        double pe = expert_size(m), kl = (double)m->top_k * m->moe_layers * pe;
        flops = 2.0 * (m->active_params - kl) * T + llm_attn_flops_per_pair(m) * pairs +
                imbalance(hw) * 2.0 * kl * T;
    } else {
        flops = 2.0 * m->active_params * T + llm_attn_flops_per_pair(m) * pairs;
    }
    flops *= frac;
    double kvb = (double)llm_kv_bytes_per_token(m);
    double bytes = (llm_step_weight_bytes(hw, T) + kvb * (ctx + T)) * frac;
    double tc = flops / (tp * g->flops * g->compute_eff);
    double tm = bytes / (tp * g->hbm_bandwidth * g->mem_eff);
    double ta = 0;
    double lay = (double)m->layers * frac;
    if (hw->tp > 1 && !(hw->ep > 1 && m->experts)) {
        /* Activations are BF16 (2 bytes). */
        double size = T * m->hidden * 2.0;
        ta = 2.0 * lay *
             (2.0 * (tp - 1) / tp * size / g->link_bandwidth + hw->allreduce_latency_s);
    } else if (hw->tp > 1) {
        /* EP: attention and dense MLPs all-reduce over the tp GPUs, each MoE
         * layer's experts only over the tp / ep GPUs of an EP group */
        double size = T * m->hidden * 2.0, moe = (double)m->moe_layers * frac;
        double grp = tp / (double)hw->ep;
        double ar = 2.0 * (tp - 1) / tp * size / g->link_bandwidth + hw->allreduce_latency_s;
        double arg = grp > 1 ? 2.0 * (grp - 1) / grp * size / g->link_bandwidth +
                                   hw->allreduce_latency_s
                             : 0;
        ta = (2.0 * lay - moe) * ar + moe * arg;
    }
    if (hw->ep > 1 && m->experts) /* dispatch + combine per MoE layer (llm_model.h) */
        ta += 2.0 * (double)m->moe_layers * frac *
              ((hw->a2a_external ? 0.0
                                 : llm_a2a_bytes(m, T, hw->ep) / (double)hw->ep /
                                       g->link_bandwidth) +
               hw->allreduce_latency_s);
    if (t_comp)
        *t_comp = tc;
    if (t_mem)
        *t_mem = tm;
    if (t_ar)
        *t_ar = ta;
    double tx = cxl > 0 && hw->cxl_bandwidth > 0 ? cxl * frac / hw->cxl_bandwidth : 0;
    if (t_cxl)
        *t_cxl = tx;
    double t = tc > tm ? tc : tm;
    if (tx > t) /* a second memory stream, concurrent with HBM (llm_model.h) */
        t = tx;
    return t + ta;
}

double llm_stage_seconds(const llm_hw *hw, const llm_step *st)
{
    double mb = (double)llm_pp_microbatches(hw, st->tokens);
    double frac = hw->pp > 1 ? 1.0 / (double)hw->pp : 1.0;
    return roofline(hw, (double)st->tokens / mb, st->attn_pairs / mb, (double)st->ctx_read / mb,
                    (double)st->cxl_bytes / mb, frac, NULL, NULL, NULL, NULL);
}

double llm_step_seconds_cxl(const llm_hw *hw, const llm_step *st, double *t_comp,
                            double *t_mem, double *t_cxl, double *t_ar)
{
    if (hw->step_model == LLM_STEP_LINEAR || hw->step_model == LLM_STEP_TABLE) {
        const llm_linear *k = &hw->linear;
        if (t_comp)
            *t_comp = 0;
        if (t_mem)
            *t_mem = 0;
        if (t_ar)
            *t_ar = 0;
        double tl = hw->step_model == LLM_STEP_TABLE
                        ? step_table_seconds(hw->table, (double)st->prefill_tokens,
                                             (double)st->decode_tokens, (double)st->ctx_read)
                        : k->fixed + k->per_prefill * (double)st->prefill_tokens +
                              k->per_decode * (double)st->decode_tokens +
                              k->per_context * (double)st->ctx_read;
        double tx = st->cxl_bytes && hw->cxl_bandwidth > 0
                        ? (double)st->cxl_bytes / hw->cxl_bandwidth : 0;
        if (t_cxl)
            *t_cxl = tx;
        return tl > tx ? tl : tx;
    }
    uint32_t mb = llm_pp_microbatches(hw, st->tokens);
    if (hw->pp <= 1 && mb == 1)
        return roofline(hw, (double)st->tokens, st->attn_pairs, (double)st->ctx_read,
                        (double)st->cxl_bytes, 1.0, t_comp, t_mem, t_cxl, t_ar) +
               hw->step_overhead_s;
    /* GPipe, forward only (llm_model.h): (m + p - 1) stage times and the
     * p - 1 activation hops of the last micro-batch; the parts are one
     * stage's times that many times. */
    double p = hw->pp > 1 ? (double)hw->pp : 1.0, m = (double)mb, n = m + p - 1;
    double tc = 0, tm = 0, tx = 0, ta = 0;
    double ts = roofline(hw, (double)st->tokens / m, st->attn_pairs / m,
                         (double)st->ctx_read / m, (double)st->cxl_bytes / m, 1.0 / p, &tc, &tm,
                         &tx, &ta);
    double hop = hw->pp > 1 ? llm_pp_act_bytes(hw, st->tokens) / hw->g->link_bandwidth : 0;
    if (t_comp)
        *t_comp = n * tc;
    if (t_mem)
        *t_mem = n * tm;
    if (t_cxl)
        *t_cxl = n * tx;
    if (t_ar)
        *t_ar = n * ta;
    return n * ts + (p - 1) * hop + hw->step_overhead_s;
}

sim_time llm_step_time(const llm_hw *hw, const llm_step *st)
{
    /* A step beyond the clock (a step table extrapolated far past its
     * grid, absurd coefficients) saturates, so that scheduling it fails
     * with the scheduler's error instead of llround's undefined result. */
    double ps = llm_step_seconds(hw, st, NULL, NULL, NULL) * 1e12;
    if (!(ps < 9.2e18))
        return SIM_TIME_MAX;
    return ps > 0 ? sim_round_ps(ps) : 0;
}
