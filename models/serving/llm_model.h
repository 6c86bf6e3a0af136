/*
 * llm_model.h - LLM and GPU presets and the roofline step-time model of a
 * serving instance.
 *
 * An llm_model holds the architecture numbers that decide KV-cache size and
 * FLOPs (from each model's published config.json); an llm_gpu holds one
 * GPU's HBM capacity, bandwidth, dense BF16 FLOP/s and interconnect. Both
 * come from preset tables (llm_model_find, llm_gpu_find) and can be
 * overridden field by field from a scenario.
 *
 * KV bytes per token (fidelity-references.md, "KV cache and GPU compute"):
 *   standard attention (MHA/GQA): 2 x layers x kv_heads x head_dim x kv_bytes
 *   MLA (DeepSeek-V2/V3):         (kv_lora_rank + rope_dim) x layers x kv_bytes
 *
 * The step-time model (llm_step_time) of one continuous-batching step that
 * computes T = prefill + decode tokens on tp GPUs:
 *   flops   = 2 x active_params x T                         (dense GEMMs)
 *           + 2 x layers x heads x (qk_dim + v_dim) x pairs (attention: QK^T and AV,
 *             pairs = sum over computed tokens of the keys each attends to,
 *             causal: a chunk of c tokens after o cached ones has c x o + c(c+1)/2)
 *   bytes   = weight_bytes x params                       (every weight read once)
 *           + kv_bytes_per_token x (context read + T written)
 *   t_comp  = flops / (tp x FLOP/s x compute_eff)
 *   t_mem   = bytes / (tp x HBM B/s x mem_eff)
 *   t_ar    = when tp > 1: 2 x layers all-reduces of T x hidden x act_bytes
 *             bytes each, ring algorithm: 2 (tp-1)/tp x size / link B/s
 *             + latency each (Megatron-LM: two all-reduces per layer)
 *   t_cxl   = cxl_bytes / cxl_bandwidth    (KV read in place from CXL memory,
 *             copy-free access: those tokens are left out of context read above)
 *   step    = max(t_comp, t_mem, t_cxl) + t_ar + step_overhead
 * So a prefill-only step is compute-bound, a decode-only step memory-bound,
 * and a mixed step pays for the slower of the two (a roofline: compute and
 * memory traffic overlap perfectly within a step).
 *
 * The CXL term. KV read directly from a CXL memory (load/store over the
 * GPU's PCIe/CXL path, no copy into HBM) is a second memory stream beside
 * HBM: the HBM controllers and the CXL link are independent resources the
 * GPU drives concurrently, so the memory time is the slower stream, max(
 * t_mem, t_cxl), not their sum - the roofline's rule for several memory
 * ceilings (Williams, Waterman, Patterson, "Roofline", CACM 52(4) 2009:
 * time is bounded by the most loaded resource; Yang et al., "Hierarchical
 * Roofline analysis", 2020, one ceiling per memory level), and what
 * measurements of CXL memory show: DDR and CXL bandwidth add up when both
 * are streamed at once (Sun et al., "Demystifying CXL Memory with Genuine
 * CXL-Ready Systems and Devices", MICRO 2023, interleaving section). When
 * the CXL link is the bottleneck (the usual case: tens of GB/s against TB/s
 * of HBM) the step is t_cxl; the sum would only hold if attention waited
 * for the CXL reads before touching HBM, which a kernel streaming both
 * does not. cxl_bandwidth is the path's (llm_hw); the fabric carries the
 * same bytes and the instance ends the step no earlier than they arrive.
 *
 * Mixture of experts (experts > 0). The weights split into dense ones
 * (attention, shared experts, embeddings: params - expert_params) and
 * routed experts of pe = expert_params / (experts x moe_layers) parameters
 * each. A step of T tokens activates, per MoE layer,
 *   A = min(experts, T x top_k)
 * experts (as many distinct experts as the tokens pick, capped at all of
 * them: an upper bound, each token assumed to pick experts no other token
 * of the step picked), and reads only their weights:
 *   weight bytes = weight_bytes x (params - expert_params
 *                                  + moe_layers x pe x min(experts, imb x A))
 * with imb = moe_imbalance under expert parallelism (1 without). FLOPs
 * use the active parameters (dense + top_k experts per token).
 *
 * Expert parallelism (ep > 1; ep divides tp). The routed experts of each
 * MoE layer are spread over ep groups of tp / ep GPUs. The router sends
 * the busiest group imb x the mean of the tokens (imb = moe_imbalance >=
 * 1), so that group, which sets the step time, computes imb x its share
 * of the expert FLOPs and reads the weights of imb x A / ep of the
 * experts (at most experts / ep):
 *   flops = 2 x (active_params - top_k x moe_layers x pe) x T + attention
 *         + imb x 2 x top_k x moe_layers x pe x T
 * Each MoE layer dispatches every token's hidden vector to its top_k
 * experts and combines the results back (an all-to-all each way); with
 * tokens spread evenly over the ranks, (ep - 1) / ep of those copies leave
 * their rank:
 *   a2a bytes per MoE layer, each way = T x hidden x 2 x top_k x (ep - 1) / ep
 * (BF16 activations; LLMServingSim and DeepSpeed-MoE count the same
 * volume). Without fabric devices each all-to-all takes its bytes / ep
 * (every rank sends its share on its own link) over link_bandwidth plus
 * allreduce_latency, two per MoE layer, added to the step like t_ar:
 *   t_a2a = 2 x moe_layers x (a2a bytes / ep / link B/s + latency)
 * The all-to-all volume is the mean one: imbalance lengthens the busiest
 * rank's compute and weight reads, not the bytes moved (a simplification).
 * Under EP the all-reduce after a MoE layer's MLP runs only over the tp /
 * ep GPUs that shard one expert group (none when ep = tp: the combine
 * replaces it); attention and dense layers keep their two all-reduces
 * over tp:
 *   t_ar = (2 x layers - moe_layers) x AR(tp) + moe_layers x AR(tp / ep)
 * with AR(n) = 2 (n - 1) / n x T x hidden x 2 / link B/s + latency (0 for n = 1).
 *
 * Pipeline parallelism (pp > 1). The layers split evenly over pp stages of
 * tp GPUs each (pp divides layers; the weights, embeddings included, split
 * evenly too: an approximation). A step's T tokens go through in m =
 * min(microbatches, T) micro-batches of T / m tokens (and 1 / m of the
 * attention pairs and context reads); a stage computes one micro-batch in
 *   t_stage = the roofline above of layers / pp layers and T / m tokens
 *            (FLOPs, bytes, all-reduces and all-to-alls all / pp and / m;
 *             the stage reads its 1 / pp of the weights once per micro-batch)
 * Forward-only GPipe schedule (Huang et al., "GPipe: Efficient Training of
 * Giant Neural Networks using Pipeline Parallelism", NeurIPS 2019; no
 * backward pass in inference): stage s starts micro-batch j at
 * j x t_stage + s x (t_stage + t_act), so
 *   step = (m + pp - 1) x t_stage + (pp - 1) x t_act + step_overhead
 *   bubble fraction = (pp - 1) / (m + pp - 1)   (for t_act = 0)
 * where t_act = T / m x hidden x 2 bytes of activations over link_bandwidth
 * (the NVLink or network between stages). With fabric devices the instance
 * replays this schedule with events and moves the activations as fabric
 * transfers (instance.c), so the link times are the fabric's.
 *
 * The linear step-time model (LLM_STEP_LINEAR) replaces the roofline by
 * coefficients fitted to measured steps, the regression of BLIS's
 * blackbox latency model (inference-sim/inference-sim, approach.md:
 * GPU time = b0 + b1 x uncached prefill tokens + b2 x decode tokens)
 * with a fourth term for KV context read:
 *   step = fixed + per_prefill x prefill tokens + per_decode x decode tokens
 *        + per_context x context tokens read
 * Coefficients come from measurements of one (model, GPU, tp, engine
 * version); `memfab calibrate` fits them by least squares.
 *
 * The table step-time model (LLM_STEP_TABLE) interpolates measured step
 * times over (prefill tokens, decode tokens, context tokens read)
 * multilinearly (step_table.h: the CSV, the grid, extrapolation).
 * Like the linear model it has no compute/HBM/all-reduce parts; KV read in
 * place from CXL bounds its step from below the same way.
 *
 * GPU energy of an instance over a run of T seconds whose steps kept it
 * busy for B seconds (busy fraction u = B / T), per GPU:
 *   E = idle x T + (peak - idle) x B = (idle + (peak - idle) x u) x T
 * (llm_gpu_energy_j): power linear in utilization between the idle board
 * power and the TDP, a step drawing TDP whether compute- or memory-bound.
 */
#ifndef MEMFAB_MODELS_LLM_MODEL_H
#define MEMFAB_MODELS_LLM_MODEL_H

#include <stdint.h>

#include "sim/simtime.h"

typedef struct llm_model {
    const char *name;       /* preset name ("llama3-70b") */
    uint32_t layers;        /* transformer layers */
    uint32_t hidden;        /* model width */
    uint32_t heads;         /* query heads */
    uint32_t kv_heads;      /* KV heads (GQA); = heads for MHA */
    uint32_t head_dim;      /* per-head dimension (qk = v for standard attention) */
    uint32_t kv_lora_rank;  /* MLA: compressed KV width; 0 = standard attention */
    uint32_t rope_dim;      /* MLA: decoupled RoPE key width */
    uint32_t qk_dim;        /* per-head query/key width used for attention FLOPs */
    uint32_t v_dim;         /* per-head value width used for attention FLOPs */
    double params;          /* total parameters */
    double active_params;   /* parameters used per token (MoE); = params when dense */
    uint32_t weight_bytes;  /* bytes per weight (2 = BF16, 1 = FP8) */
    uint32_t kv_bytes;      /* bytes per KV element */
    uint32_t experts;       /* MoE: routed experts per MoE layer (0: dense model) */
    uint32_t top_k;         /* MoE: routed experts each token activates */
    uint32_t moe_layers;    /* MoE: layers whose MLP is the routed experts */
    double expert_params;   /* MoE: parameters of all routed experts of all MoE layers */
} llm_model;

typedef struct llm_gpu {
    const char *name;       /* preset name ("h100") */
    uint64_t hbm;           /* HBM capacity, bytes */
    double hbm_bandwidth;   /* bytes/s */
    double flops;           /* dense BF16 FLOP/s */
    double link_bandwidth;  /* GPU-to-GPU bytes/s per direction (NVLink), for all-reduce */
    double compute_eff;     /* fraction of peak FLOP/s reached by GEMMs */
    double mem_eff;         /* fraction of peak HBM bandwidth reached */
    double idle_w;          /* board power idle (no step computing), W */
    double peak_w;          /* board power computing a step (TDP), W */
} llm_gpu;

/* What one step computes (the caller sums over the batch). */
typedef struct llm_step {
    uint64_t tokens;        /* tokens computed: prefill chunk tokens + decode tokens */
    double attn_pairs;      /* sum over computed tokens of the keys attended to */
    uint64_t ctx_read;      /* KV tokens read from HBM (context of every computed sequence) */
    uint64_t cxl_bytes;     /* KV bytes read in place from CXL memory (0: none) */
    uint64_t prefill_tokens;/* of tokens, prefill (uncached prompt) tokens (linear model) */
    uint64_t decode_tokens; /* of tokens, decode tokens, one per decoding sequence (linear) */
} llm_step;

enum { LLM_STEP_ROOFLINE, LLM_STEP_LINEAR, LLM_STEP_TABLE };

struct step_table; /* step_table.h */

/* Coefficients of the linear step-time model, seconds. */
typedef struct llm_linear {
    double fixed;           /* per step */
    double per_prefill;     /* per prefill token */
    double per_decode;      /* per decode token */
    double per_context;     /* per KV context token read */
} llm_linear;

/* Instance configuration that the step time depends on. */
typedef struct llm_hw {
    const llm_model *m;     /* the model */
    const llm_gpu *g;       /* one GPU */
    uint32_t tp;            /* tensor-parallel GPUs */
    double allreduce_latency_s; /* per all-reduce fixed cost, seconds */
    double step_overhead_s; /* fixed cost per step (scheduler, launch), seconds */
    double cxl_bandwidth;   /* bytes/s of KV read in place from CXL (0: no such reads) */
    int step_model;         /* LLM_STEP_ROOFLINE (default, 0), LLM_STEP_LINEAR or _TABLE */
    llm_linear linear;      /* the linear model's coefficients */
    uint32_t pp;            /* pipeline stages (0 or 1: none), tp GPUs each */
    uint32_t microbatches;  /* pipeline micro-batches per step (0 or 1: one) */
    uint32_t ep;            /* expert-parallel degree (0 or 1: none; divides tp) */
    double moe_imbalance;   /* busiest EP rank's tokens / the mean (>= 1; 0: 1) */
    int a2a_external;       /* 1: the caller moves the all-to-alls' bytes (fabric); the
                             * step time keeps only their latencies */
    const struct step_table *table; /* LLM_STEP_TABLE: the grid (step_table.h) */
} llm_hw;

/* Presets, NULL-name-terminated, and lookup by name (NULL when absent). */
extern const llm_model llm_models[];
extern const llm_gpu llm_gpus[];
const llm_model *llm_model_find(const char *name);
const llm_gpu *llm_gpu_find(const char *name);

/* KV cache bytes per token of the whole model (all layers, all TP ranks). */
uint64_t llm_kv_bytes_per_token(const llm_model *m);
/* Bytes of weights. */
double llm_weight_bytes(const llm_model *m);
/* Attention FLOPs per (query, key) pair over all layers. */
double llm_attn_flops_per_pair(const llm_model *m);

/* Energy in joules of one GPU busy for busy_s of a run of total_s. */
double llm_gpu_energy_j(const llm_gpu *g, double busy_s, double total_s);

/* Step time in seconds and its parts (t_comp, t_mem, t_ar may be NULL;
 * t_mem is the HBM stream; llm_step_seconds_cxl also gives t_cxl). The
 * linear and table models have no compute/HBM/all-reduce parts and sets them to 0; KV
 * read in place from CXL still bounds its step from below (the step
 * cannot end before those bytes have streamed). */
double llm_step_seconds_cxl(const llm_hw *hw, const llm_step *st, double *t_comp,
                            double *t_mem, double *t_cxl, double *t_ar);
double llm_step_seconds(const llm_hw *hw, const llm_step *st, double *t_comp, double *t_mem,
                        double *t_ar);
/* MoE: experts a step of `tokens` tokens activates per MoE layer,
 * min(experts, tokens x top_k) (0 for a dense model). */
double llm_moe_active_experts(const llm_model *m, double tokens);
/* Weight bytes a step of `tokens` tokens reads on the whole instance (dense
 * weights + the activated experts' under hw's ep and moe_imbalance);
 * llm_weight_bytes for a dense model. */
double llm_step_weight_bytes(const llm_hw *hw, double tokens);
/* MoE under EP: bytes one all-to-all (dispatch or combine) of one MoE layer
 * moves, tokens x hidden x 2 x top_k x (ep - 1) / ep; 0 when ep <= 1. */
double llm_a2a_bytes(const llm_model *m, double tokens, uint32_t ep);
/* Pipeline: micro-batches of a step of `tokens` tokens, min(microbatches,
 * tokens) (>= 1); activation bytes one micro-batch sends across one stage
 * boundary, tokens / m x hidden x 2. */
uint32_t llm_pp_microbatches(const llm_hw *hw, uint64_t tokens);
double llm_pp_act_bytes(const llm_hw *hw, uint64_t tokens);
/* Pipeline: the time of one stage computing one micro-batch of st (the
 * whole step when pp <= 1 and one micro-batch, without step_overhead). */
double llm_stage_seconds(const llm_hw *hw, const llm_step *st);
/* The same, rounded to picoseconds (llround). */
sim_time llm_step_time(const llm_hw *hw, const llm_step *st);

#endif
