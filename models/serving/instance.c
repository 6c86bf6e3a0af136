/*
 * instance.c - a GPU serving instance with continuous batching in the style
 * of vLLM (Kwon et al., "Efficient Memory Management for Large Language
 * Model Serving with PagedAttention", SOSP 2023; vLLM v1 scheduler).
 *
 * What it models. One replica of a model on `tp` GPUs. Its KV cache is a
 * kv_store (models/kv/kvstore.h) whose tier 0 holds
 *     floor((gpu_mem_util x tp x HBM - weight bytes) / block bytes)
 * blocks of block_tokens tokens (kv_capacity: simple), or the count vLLM
 * computes per GPU from the memory the device reports, the weights' share,
 * the non-torch memory, the profiling pass's activation peak and a CUDA
 * graph reserve (kv_capacity: vllm; vllm_capacity); lower tiers (DRAM, CXL, SSD) come from the
 * scenario's `kv:` section. Time advances one *step* at a time: each step
 * is one event, never one per token.
 *
 * Request life cycle (state machine; functions in brackets):
 *
 *     submit --> WAITING --admit--> PREFILL --last chunk--> DECODE --last token--> DONE
 *                  ^  |               ^   \                    |
 *                  |  +--admit with---+    +----preempt--------+
 *                  |     lower-tier hits: LOADING --ready--^   |
 *                  |     or a swap-in       (resumes PREFILL or DECODE)
 *                  +------------ preempt (recompute or swap) --+
 *
 *   WAITING -> PREFILL   [admit]     prompt blocks pinned; cached prefix skipped
 *   WAITING -> LOADING   [admit]     some prefix blocks sit in a lower tier
 *   LOADING -> PREFILL   [compose]   once ready_at has passed
 *   PREFILL -> DECODE    [step_end]  the chunk that completes the prompt
 *                                    also yields the first output token
 *   DECODE  -> DONE      [step_end]  the output_tokens-th token
 *   any running -> WAITING (front)   [preempt] KV memory ran out: the last
 *                                    admitted request loses its blocks and
 *                                    will recompute prompt + generated tokens,
 *                                    or [swap_out] its KV leaves over the fabric
 *   WAITING -> LOADING   [admit_swapped] a swapped request's KV comes back;
 *                                    it resumes in the state it left
 *
 * One step [compose]: with a budget of max_batched_tokens tokens, first every
 * running request in admission order (a decoding request takes 1 token, a
 * prefilling one the next chunk of its prompt: chunked prefill), then
 * waiting requests in FIFO order while the budget, max_seqs and the KV
 * store allow (admission needs room for the whole prompt plus a watermark;
 * no admission in a step that preempted, as vLLM). A decode that needs a
 * new block and finds no room preempts from the tail of the running list.
 * The step's duration is llm_step_time() of what it computes, by the
 * instance's `step_time` model (llm_model.h): the roofline (default),
 * linear coefficients, or a table of measured steps interpolated over
 * (prefill tokens, decode tokens, context tokens) (`step_time: table`,
 * `step_table: FILE.csv`, the path relative to the file naming it, as
 * include:; step_table.h); at its end [step_end] progress is applied, first tokens and
 * finishes are stamped with the end time, finished requests release their
 * blocks (they stay cached, evictable) and the next step starts at once.
 *
 * Timing of KV tier moves: a prefix hit in tier t > 0 promotes its blocks
 * to HBM before the prefill can start. Two models:
 *
 *   fabric   the instance names its fabric GPU (`device: gpu0`) and the
 *            tier names the fabric component holding it (`component:`):
 *            a `cpu` (its DRAM) or DDR `memory`, a CXL `memory`, an `nvme`.
 *            Every promotion is a fabric_transfer (fabric.h) from the
 *            tier's component to the GPU, on the tier's `path:`
 *              DRAM   dma (pinned cudaMemcpy; or pageable)
 *              CXL    cxl: CPU loads from the CXL memory into a host
 *                     staging buffer (fabric CXL path), then pinned DMA to
 *                     the GPU - two transfers in sequence; or dma: the GPU
 *                     copy engine reads the CXL memory directly
 *              NVMe   gds (GPUDirect Storage) or bounce (host buffer)
 *            and every write-back demotion the reverse (tier t -> t+1 for
 *            t >= 1 on the fabric's automatic path). The request counts
 *            its loads in flight (inst_req.loads) and stays LOADING until
 *            the fabric's completion events have brought it to 0 [moved];
 *            demotions are asynchronous (the HBM block is reused at once:
 *            a stated simplification). Links, memories and CPUs on the way
 *            see the bytes (their `links` rows, host DRAM bytes, CPU time).
 *   channel  otherwise: one FIFO channel per tier and instance; a load of b
 *            bytes starting at max(now, channel free) takes latency +
 *            b / bandwidth. Demotions are counted in bytes only.
 *
 * Scope. `kv: {scope: instance}` (default): every instance has a store of
 * its own, lower tiers included (tiers naming the same component still
 * have separate capacities). `scope: global`: tier 0 stays the instance's
 * HBM, the lower tiers are one pool shared by every instance (Mooncake's
 * distributed DRAM/SSD pool, a shared CXL memory pool): a block any
 * instance demoted or wrote through is a prefix hit for every instance,
 * promoted into the requesting instance's HBM from the pool tier's
 * component over the fabric; capacity and eviction (one policy state per
 * tier) are shared. The pool is a kv_store owned by a `pool` component
 * (inst_pool_add) and attached to each instance's one-tier store
 * (kv_store_attach_pool). Moves inside the pool (write-back from a pool
 * tier to the next) are charged to the instance whose pin caused them;
 * the channel model keeps one channel per tier and instance (the
 * instance's own path to the pool). The `kv` rows give each instance's
 * share of the pool tiers' counters and the pool's totals as instance
 * "pool"; occupancy of the pool tiers is reported by the pool.
 *
 * Copy-free access (`kv: {cxl_access: direct | auto}`). The one tier on a
 * CXL memory the GPU reaches over a cxl link [resolve_direct] may be read
 * in place: the store pins such blocks where they are (kvstore.h) and no
 * move is charged. Every step reads the request's in-place tokens from
 * CXL instead of HBM: llm_step.cxl_bytes (the roofline's t_cxl term), and
 * one fabric transfer of those bytes on path `load` (the GPU's own loads,
 * class kv_direct) that the step waits for [INST_EV_DIRECT] when it is
 * slower than the roofline. A request's in-place tokens are its blocks'
 * tokens up to ptarget at admission (direct_tokens_of); a block of
 * generated tokens found in place after a preemption counts whole (a
 * stated approximation). Writes of new tokens go to HBM as before. When a
 * block read in place leaves the CXL tier, its readers get one
 * back-invalidation per 64 B line and as many responses [own_inval,
 * pool_inval], each batch a `msg` transfer of 16 B per message.
 *
 * `kv: {free_transfers: true}` takes the timing out of both: loads are
 * ready at once (bytes still counted in the instance's metrics).
 *
 * Swap preemption (`preemption: swap | cost`; recompute is the default).
 * vLLM's swap space (Kwon et al. 2023, section 4.5 "Swapping"): the
 * preempted request's KV - the blocks holding its computed tokens, ceil(n
 * / block_tokens) of them for n tokens of KV (a prefill's computed or
 * cached tokens, a decode's context but its newest token) - is copied to
 * the first kv tier below HBM [swap_out] and back when it is admitted
 * again [admit_swapped], whole blocks both ways, so bytes out = bytes in.
 * Over the fabric both are transfers of class `swap` on the tier's route
 * and path (the reverse of its promotions; a CXL tier on the cxl path
 * stages through the host); on a channel tier they occupy its channel.
 * The swapped copy lives outside the block store (a private swap area,
 * bounded by swap_space): its HBM blocks are released as under recompute
 * (they stay cached until evicted), and on resume the blocks are pinned
 * again with the swap-in charged in full, whatever the store still holds.
 * A swapped request resumes only once its swap-out has landed, at the head
 * of the queue (swapped requests first, as vLLM). `cost` swaps when
 *   swap-out + swap-in time  <  recompute time,
 * recompute = the step-time model's (roofline, linear or table) time of one
 * prefill of the n tokens from nothing cached (prefix hits ignored), swap
 * = fabric_estimate of each leg at the load of the moment (bytes / the
 * bottleneck resource's fair share with the flows already on it, plus
 * latencies; fabric.h) or, on a channel tier, the channel's backlog plus
 * 2 (latency + bytes / bandwidth). Ties recompute.
 *
 * Speculative decoding (`speculation: draft | head`). Each decoding
 * sequence gets k = spec_tokens draft tokens (fewer near its last token or
 * the step's token budget) proposed in k sequential draft rounds, then one
 * target step verifies them: k + 1 positions per sequence (keys ctx ..
 * ctx + k; the roofline's pairs (k + 1) ctx + k (k + 1) / 2, KV read once).
 * Draft tokens are accepted in order, each with probability
 * spec_acceptance, until the first rejection (drawn from the instance's
 * own GSL stream); the target's token at that position comes with them,
 * so a verification yields j + 1 tokens for j accepted, whose expectation
 * is (1 - a^(k+1)) / (1 - a) (Leviathan et al., ICML 2023, eq. 1; Chen et
 * al., "Accelerating LLM decoding with speculative sampling", 2023). A
 * draft model's round is its own decode step on the same GPUs (the
 * roofline of the preset spec_draft_model; its weights are taken from the
 * HBM left for KV, its own KV cache is not modelled); a head's round
 * (EAGLE, Medusa, n-gram lookup) costs spec_draft_time. The step lasts
 * draft rounds + verification. Tokens yielded together arrive together:
 * the ITL histogram gets one gap and zeros for the others.
 *   Acceptance per request (`spec_acceptance_dist`). Acceptance is a
 * property of the request as much as of the draft/target pair: it varies
 * with the task and the output's predictability (Leviathan et al. 2023,
 * table 3, measure alpha per model pair and task; Liu et al., "Optimizing
 * Speculative Decoding for Serving Large Language Models Using Goodput"
 * (SmartSpec), 2024, track it online because it changes with the
 * workload). So each request gets
 * its own rate a_r when it is submitted (or starts decoding on a decode
 * instance), drawn from the instance's GSL stream: Beta with the given
 * mean m and concentration c (alpha = m c, beta = (1 - m) c: the usual
 * model of a rate in (0, 1)), uniform on [min, max], or one of a list of
 * measured rates (`values:` or a bare list) uniformly at random; its
 * verifications use a_r, so a request's tokens per full verification tend
 * to (1 - a_r^(k+1)) / (1 - a_r). Without the key every request has
 * spec_acceptance and the stream is not drawn for it (results as before).
 * Over a mix of rates the pooled tokens per verification is the formula's
 * mean weighted by each request's verifications, below its plain mean
 * over requests (low rates need more verifications for the same output),
 * and both differ from the formula at the mean rate (it is convex in a);
 * the instance reports the pooled and the per-request means with their
 * expectations. Traces carry no acceptance (Mooncake, Azure and memfab's
 * native format record lengths, times and block ids only, and the rate
 * depends on the draft model a trace does not name), so the rate comes
 * from the instance's configuration, not from a trace field.
 *
 * Pipeline and expert parallelism (`pp`, `pp_microbatches`, `ep`,
 * `moe_imbalance`, `devices`; formulas in llm_model.h). `pp: P` splits the
 * layers over P stages of tp GPUs each (the instance has tp x P GPUs: HBM
 * for weights and KV, energy); a step's tokens go through in micro-batches
 * on a forward-only GPipe schedule. Without `devices` the step time is the
 * closed form, (m + P - 1) stage times plus P - 1 activation hops over
 * link_bandwidth. With `devices: gpu0 gpu1 ...` (one fabric gpu per stage)
 * the instance plays the schedule with events [pl_launch, pl_stage_done,
 * pl_arrived]: a stage computes a micro-batch for t_stage once the
 * previous micro-batch has left it and the micro-batch's activations have
 * arrived, and each micro-batch it finishes sends tokens / m x hidden x 2
 * bytes to the next stage's GPU as a fabric transfer (class activations);
 * the step ends when the last stage finishes the last micro-batch (plus
 * step_overhead). Bubble fraction = 1 - stage busy time / (P x step time).
 * `ep: E` (MoE models) spreads each MoE layer's experts over E groups of
 * tp / E GPUs; the busiest holds moe_imbalance x the mean tokens. With
 * `devices` (one per rank, pp 1) the step's dispatch and combine, of all
 * MoE layers, move as one fabric transfer per ordered pair of ranks
 * (class all_to_all) of 2 x moe_layers x a2a bytes / (E (E - 1)) each;
 * the all-to-all is on the critical path, so the step lasts its compute
 * time (llm_model.h, the all-to-alls' latencies included, their bytes
 * not) plus the time the fabric took to move them [a2a_launch, a2a_done].
 * With pp > 1 the all-to-all stays inside the stage time (analytic).
 * Both exclude the linear and table step times (their numbers are one
 * measured configuration's), speculation, managed KV and KV read in place.
 *
 * Priorities (`scheduling: priority`; fcfs is the default). Requests carry
 * the priority of their workload class (serving.c): the waiting queue is
 * kept in priority order, arrival order within a priority [wait_insert],
 * a preempted request heading its own priority. Before each step, while
 * the queue's head cannot be admitted (no running slot, or no KV room with
 * the watermark) and a prefilling or decoding request of lower priority
 * runs, the lowest-priority one (latest admitted among equals) is
 * preempted by the instance's preemption mode [priority_preempt] (vLLM v0
 * scheduler, _schedule_priority_preemption; the step then admits as
 * usual). A decode short of a KV block preempts the lowest priority among
 * itself and the requests not yet scheduled in the step [shortage_victim]
 * (vLLM v1: max of (priority value, arrival) among the running; here the
 * ones scheduled before it are spared). The workload's SLO-aware
 * admission asks inst_predict_ttft (instance.h) for a request's predicted
 * TTFT; its decode share of a step ignores the decoders' KV reads and
 * their attention beyond one key each (the predicted steps are prefill
 * steps) - exact for a linear step time without a context term.
 *
 * CPU costs (BLIS's alpha model, inference-sim approach.md "CPU & System
 * Overhead Model" and its simulator's getQueueingTime /
 * getOutputTokenProcessingTime): a submitted request joins the waiting
 * queue cpu_per_request + cpu_per_input_token x input later [enqueue];
 * output token k of a request is delivered k x cpu_per_output_token after
 * the step that computed it ends, so TTFT gains alpha0 + alpha1 M + alpha2,
 * E2E alpha0 + alpha1 M + alpha2 N and each inter-token gap alpha2, while
 * the GPU's steps are not delayed (the API server detokenises beside the
 * GPU). A decode instance's first token (disaggregation) takes none.
 *
 * Simplifications (stated, not hidden): a block allocated for a request
 * counts as a prefix hit for a concurrent request before its KV is
 * computed; the partially filled last prompt block keeps its trace id while
 * decode fills it; generated tokens get blocks whose ids no later request
 * can match.
 */
#include "models/serving/instance.h"

#include <assert.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/fabric/cxl.h"
#include "models/fabric/devices.h"
#include "models/fabric/fabric.h"
#include "models/kv/kvstore.h"
#include "models/serving/step_table.h"
#include "models/uvm/um.h"
#include "sim/mem.h"

enum { INST_EV_STEP = SIM_EV_USER, INST_EV_WAKE, INST_EV_MOVED, INST_EV_TOUCHED,
       INST_EV_DIRECT, INST_EV_INVAL, INST_EV_PP_STAGE, INST_EV_PP_ACT, INST_EV_A2A,
       INST_EV_QUEUE };
enum { KVMEM_EXPLICIT, KVMEM_MANAGED };
enum { PREEMPT_RECOMPUTE, PREEMPT_SWAP, PREEMPT_COST };
enum { SPEC_NONE, SPEC_DRAFT, SPEC_HEAD };
enum { SPEC_DIST_FIXED, SPEC_DIST_BETA, SPEC_DIST_UNIFORM, SPEC_DIST_EMPIRICAL };
enum { SCHED_FCFS, SCHED_PRIORITY };
#define SPEC_MAX_K 64
#define PAR_MAX_DEV 64 /* fabric devices of a pipeline or an EP group */

#define NONE UINT32_MAX

/* The shared lower tiers of scope global (component `pool`). */
typedef struct pool_state {
    kv_store *store;            /* the pool, created by the first instance to start */
    uint64_t block_bytes;       /* KV bytes per block (every instance must agree) */
    uint32_t ntiers;            /* shared tiers */
    const char *names[MEMFAB_MAX_TIERS]; /* their names (the creator's KV section) */
    const char *creator;        /* instance that created it */
    sim_comp *readers[64];      /* instance of each sharer bit (kv_store_reader) */
    uint64_t inval_msgs;        /* back-invalidations sent for evicted pool blocks */
} pool_state;

/* A tier move in flight on the fabric (slot of inst_state.moves). */
typedef struct inst_move {
    inst_req *r;            /* request waiting for it, or NULL (demotion) */
    uint32_t next_free;     /* free list link */
    uint32_t dst2;          /* second stage destination, or NONE */
    int path2;              /* its path */
    uint32_t mid;           /* second stage source (first stage destination) */
    uint64_t bytes;         /* bytes moved */
    sim_time t0;            /* when the move started */
    int cls;                /* FABRIC_CLASS_* of both stages */
} inst_move;

typedef struct inst_state {
    /* configuration (scenario) */
    const char *model_name;     /* preset or "custom" */
    const char *gpu_name;       /* preset or "custom" */
    uint64_t tp;                /* tensor-parallel GPUs */
    uint64_t layers, hidden, heads, kv_heads, head_dim, kv_lora_rank, rope_dim; /* 0 = preset */
    double params, active_params; /* 0 = preset */
    uint64_t weight_bytes, kv_bytes; /* 0 = preset */
    uint64_t hbm;               /* 0 = preset */
    double hbm_bandwidth, flops, link_bandwidth, compute_eff, mem_eff; /* 0 = preset */
    double idle_w, peak_w;      /* GPU board power idle / computing (SCN_AUTO = preset) */
    double gpu_mem_util;        /* fraction of HBM the server may use */
    uint64_t max_batched_tokens;/* token budget per step */
    uint64_t max_seqs;          /* running requests at most */
    int chunked_prefill;        /* 1: split prompts across steps */
    double kv_watermark;        /* fraction of KV blocks kept free at admission */
    sim_time allreduce_latency; /* per all-reduce */
    sim_time step_overhead;     /* fixed cost per step */
    int step_time;              /* LLM_STEP_ROOFLINE, LLM_STEP_LINEAR or LLM_STEP_TABLE */
    sim_time step_fixed, step_per_prefill, step_per_decode, step_per_context; /* linear */
    const char *step_table_path;/* table: the CSV (relative to the file that names it) */
    step_table *table;          /* table: the loaded grid */
    const char *device;         /* fabric gpu holding tier 0 ("" = none) */
    int role;                   /* INST_ROLE_* */
    int kv_memory;              /* KVMEM_*: KV in explicit tiers or in a managed region */
    int kv_capacity;            /* KVCAP_*: how tier 0's blocks are counted */
    uint64_t gpu_memory;        /* memory the device reports per GPU (0: preset) */
    uint64_t non_torch;         /* KVCAP_VLLM: memory outside PyTorch's allocator per GPU */
    uint64_t act_peak;          /* KVCAP_VLLM: profiling pass activation peak per GPU */
    uint64_t graph_mem;         /* KVCAP_VLLM: CUDA graph reserve per GPU */
    const char *managed;        /* managed: the `um` component (driver: external) */
    uint32_t managed_tiers_unused; /* lower kv tiers a managed instance leaves out */
    int64_t managed_prefetch;   /* scheduler prefetch: waiting requests looked ahead (0: off) */
    int managed_evict_ahead;    /* evict ahead, in the background, what the batch and lookahead do not need */
    int preemption;             /* PREEMPT_*: recompute, swap, or the cheaper by cost */
    uint64_t swap_space;        /* bytes of swap space (0: unbounded) */
    int spec;                   /* SPEC_*: speculative decoding off, draft model, head */
    uint64_t spec_k;            /* draft tokens proposed per verification */
    double spec_accept;         /* probability each draft token is accepted */
    int spec_dist;              /* SPEC_DIST_*: acceptance rate per request */
    double spec_d1, spec_d2;    /* its parameters: beta alpha, beta; uniform min, max */
    double *spec_values;        /* SPEC_DIST_EMPIRICAL: the rates drawn from (owned) */
    uint32_t spec_nvalues;
    inst_spec_fn spec_hook;     /* per-request observer (tests), or NULL */
    void *spec_hook_ctx;
    const char *spec_draft_model; /* SPEC_DRAFT: preset of the draft model */
    sim_time spec_draft_time;   /* SPEC_HEAD: one draft forward (one token per sequence) */
    uint64_t pp_stages;         /* pipeline stages (1: none) */
    uint64_t pp_micro;          /* micro-batches per step (0: as many as stages) */
    uint64_t ep;                /* expert-parallel degree (1: none) */
    double moe_imb;             /* router load imbalance, busiest rank / mean */
    const char *devices;        /* fabric gpus of the stages / EP ranks ("" = none) */
    int scheduling;             /* SCHED_*: waiting queue in arrival or priority order */
    sim_time cpu_req, cpu_in, cpu_out; /* CPU costs: per request, per input token (before
                                 * the queue), per output token (BLIS alpha0..2) */
    /* derived configuration */
    llm_hw draft_hw;            /* SPEC_DRAFT: the draft model on the same GPUs */
    llm_model model;            /* effective model */
    llm_gpu gpu;                /* effective GPU */
    llm_hw hw;                  /* model + GPU + tp */
    uint64_t kvbpt;             /* KV bytes per token */
    double kv_gpu_bytes;        /* KVCAP_VLLM: bytes per GPU left for KV blocks */
    uint64_t kvbpt_gpu;         /* KVCAP_VLLM: KV bytes per token on one GPU */
    uint64_t block_bytes;       /* KV bytes per block */
    inst_kv_cfg kv;             /* KV section */
    uint64_t kv_blocks;         /* tier-0 capacity, blocks */
    uint32_t index;             /* position in the workload's instance list */
    uint32_t dev_id;            /* fabric gpu component, or NONE */
    uint32_t tier_comp[MEMFAB_MAX_TIERS]; /* fabric component of each tier, or NONE */
    uint32_t tier_host[MEMFAB_MAX_TIERS]; /* CXL tiers on the cxl path: staging host */
    int tier_path[MEMFAB_MAX_TIERS];      /* FABRIC_PATH_* between the tier and the GPU */
    uint32_t direct_tier;       /* tier read in place (cxl_access direct/auto), 0: none */
    inst_done_fn done;          /* completion callback */
    void *done_ctx;
    inst_chunk_fn chunk_cb;     /* prefill role: chunk start/end hook (or NULL) */
    inst_reserved_fn reserved_cb; /* decode role: a waiting reservation got room */
    /* state */
    kv_store *store;            /* KV blocks */
    inst_req *wait_head, *wait_tail; /* FIFO of waiting requests */
    uint32_t nwait;             /* its length */
    inst_req **run;             /* running requests, admission order (max_seqs) */
    uint32_t nrun;
    int busy;                   /* a step is in flight */
    int kick_pending;           /* a zero-delay wake is queued */
    sim_time step_began;        /* start of the step in flight */
    sim_time step_len;          /* its duration */
    int direct_wait;            /* the step's in-place KV reads are on the fabric */
    int step_timed_out;         /* its roofline time has passed (waits for them) */
    uint64_t outstanding;       /* prefill + decode tokens still to compute */
    inst_load_fn on_load;       /* routing index: outstanding changed (or NULL) */
    void *route_ctx;            /* its context (and the KV index hook's) */
    int load_dirty;             /* on_load called since the last inst_take_outstanding */
    sim_time chan_free[MEMFAB_MAX_TIERS]; /* per-tier load channel free at */
    inst_move *moves;           /* fabric moves: slots */
    uint32_t nmoves, capmoves;  /* slots used / allocated */
    uint32_t free_move;         /* free slot list, NONE = empty */
    uint64_t moves_inflight;    /* moves not yet complete */
    uint64_t logical_pinned;    /* block references held by running requests */
    uint64_t peak_logical, peak_pinned; /* most references / distinct pinned blocks */
    uint64_t peak_saved;        /* most (references - distinct blocks) at once */
    sim_time busy_ps;           /* time spent in completed steps (the one in
                                 * flight counts up to now: busy_until) */
    uint64_t prompt_blocks, hit_blocks, input_tokens, cached_tokens; /* prefix stats */
    uint64_t prompt_tokens_computed, decode_tokens; /* work done */
    inst_counters cnt;          /* counters */
    uint64_t swap_used;         /* swap space held by swapped-out requests, bytes */
    uint64_t *pred_scratch;     /* inst_predict_ttft: (remaining << 32 | blocks) per runner */
    uint32_t pred_cap;          /* its entries */
    uint64_t spec_n[SPEC_MAX_K];/* the step in flight: sequences drafting round j */
    double spec_ctx[SPEC_MAX_K];/*   and the sum of their contexts in round j */
    inst_hist itl;              /* inter-token latencies */
    /* disaggregation */
    uint64_t outside_pins;      /* block references of requests outside the run list:
                                 * handed off (prefill) or reserved (decode) */
    uint32_t nreserved;         /* decode: reserved, not yet decoding (hold run slots) */
    inst_req *kv_head, *kv_tail;/* decode: reservation queue (FIFO) */
    uint64_t nkv;               /* its length */
 /* pipeline / expert parallelism over the fabric (devices) */
    uint32_t par_dev[PAR_MAX_DEV]; /* fabric gpu of each stage (pp > 1) or EP rank */
    uint32_t npar;              /* entries (0: no devices, analytic) */
    uint32_t pl_m;              /* the step in flight: micro-batches */
    sim_time pl_t;              /*   one stage's time per micro-batch */
    uint64_t pl_act;            /*   activation bytes per micro-batch and boundary */
    uint32_t pl_next[PAR_MAX_DEV]; /* micro-batches stage s has finished */
    uint32_t pl_arr[PAR_MAX_DEV];  /* micro-batches whose activations reached stage s */
    uint8_t pl_busy[PAR_MAX_DEV];  /* stage s is computing */
    sim_time pl_busy_ps, pl_span_ps; /* stage busy time, P x step spans (bubbles) */
    int a2a_phase;              /* A2A_*: the step's all-to-all over the fabric */
    uint32_t a2a_pending;       /* its transfers in flight */
    sim_time a2a_extra;         /* the time they took (phase A2A_DONE) */
    /* managed KV (see the section at the end) */
    sim_comp *um;               /* the managed region, or NULL (explicit tiers) */
    um_range *mr;               /* pages the step in flight touches */
    uint32_t nmr, capmr;        /* entries used / allocated */
    sim_time step_dt;           /* compute time of a step waiting for its faults */
    sim_time managed_stall_ps;  /* steps' time stalled on faults */
    uint64_t managed_stalls;    /* steps that stalled */
    uint64_t managed_touched;   /* bytes the steps touched */
} inst_state;

/* The routing index learns that outstanding changed (once until it reads
 * the new value with inst_take_outstanding). */
static void load_touch(inst_state *st)
{
    if (st->on_load && !st->load_dirty) {
        st->load_dirty = 1;
        st->on_load(st->route_ctx);
    }
}

static int managed_start(sim_comp *c, sim_err *err);
static void managed_prefetch(sim_comp *c);
static int managed_launch(sim_comp *c, sim_time dt);
static void managed_touched(sim_comp *c, sim_time stall);
static void managed_report(sim_comp *c);

/* ---- histogram ---------------------------------------------------------- */

static unsigned hist_index(uint64_t v)
{
    if (v < 128)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    return (e - 6) * 128 + (unsigned)((v >> (e - 7)) & 127);
}

static double hist_mid(unsigned i)
{
    if (i < 128)
        return (double)i;
    unsigned e = i / 128 + 6, m = i % 128;
    double lo = ldexp(128.0 + m, (int)e - 7);
    return lo + ldexp(1.0, (int)e - 7) / 2;
}

/* Inlined into step_end: once per output token (4.1 M calls in the
 * Mooncake replay). */
static inline void hist_add(inst_hist *h, uint64_t v)
{
    h->n++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
    h->b[hist_index(v)]++;
}

void inst_hist_add(inst_hist *h, uint64_t v) { hist_add(h, v); }

void inst_hist_merge(inst_hist *dst, const inst_hist *src)
{
    dst->n += src->n;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
    for (unsigned i = 0; i < INST_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
}

double inst_hist_quantile(const inst_hist *h, double f)
{
    if (!h->n)
        return NAN;
    uint64_t rank = (uint64_t)floor(f * (double)(h->n - 1)), seen = 0;
    for (unsigned i = 0; i < INST_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > rank) {
            double mid = hist_mid(i);
            return mid > (double)h->max ? (double)h->max : mid;
        }
    }
    return (double)h->max;
}

const inst_hist *inst_itl(sim_comp *c) { return &((inst_state *)c->state)->itl; }


static const char *const role_names[] = {"mixed", "prefill", "decode", NULL};
static const char *const kv_memory_names[] = {"explicit", "managed", NULL};
enum { KVCAP_SIMPLE, KVCAP_VLLM };
static const char *const kv_capacity_names[] = {"simple", "vllm", NULL};
static const char *const step_time_names[] = {"roofline", "linear", "table", NULL};
static const char *const preemption_names[] = {"recompute", "swap", "cost", NULL};
static const char *const spec_names[] = {"none", "draft", "head", NULL};
enum { A2A_NONE, A2A_MOVING, A2A_DONE, A2A_WAITING, A2A_FINAL };
static const char *const scheduling_names[] = {"fcfs", "priority", NULL};

#define P(name, type, def, unit, desc, field) \
    {name, type, def, unit, desc, offsetof(inst_state, field), NULL}

static const sim_param inst_params[] = {
    P("model", SIM_P_STRING, "llama3-8b", "",
      "model preset (llama2-7b|13b|70b, llama3-8b|70b, llama3.2-1b, qwen2-7b, deepseek-v3, mixtral-8x7b) or "
      "custom",
      model_name),
    P("gpu", SIM_P_STRING, "h100", "", "GPU preset (h100, h200, a100, a100-40gb, l40s, b200, mi300x)",
      gpu_name),
    P("tp", SIM_P_UINT, "1", "GPUs", "tensor-parallel GPUs of the instance", tp),
    P("layers", SIM_P_UINT, "0", "", "override: transformer layers (0 = preset)", layers),
    P("hidden", SIM_P_UINT, "0", "", "override: model width", hidden),
    P("heads", SIM_P_UINT, "0", "", "override: query heads", heads),
    P("kv_heads", SIM_P_UINT, "0", "", "override: KV heads (GQA)", kv_heads),
    P("head_dim", SIM_P_UINT, "0", "", "override: head dimension", head_dim),
    P("kv_lora_rank", SIM_P_UINT, "0", "", "override: MLA compressed KV width (0 = standard)",
      kv_lora_rank),
    P("rope_dim", SIM_P_UINT, "0", "", "override: MLA decoupled RoPE width", rope_dim),
    P("params", SIM_P_DOUBLE, "0", "parameters", "override: total parameters", params),
    P("active_params", SIM_P_DOUBLE, "0", "parameters",
      "override: parameters used per token (MoE; default = params)", active_params),
    P("weight_bytes", SIM_P_UINT, "0", "B", "override: bytes per weight", weight_bytes),
    P("kv_bytes", SIM_P_UINT, "0", "B", "override: bytes per KV element", kv_bytes),
    P("hbm", SIM_P_SIZE, "0 B", "B", "override: HBM per GPU", hbm),
    P("hbm_bandwidth", SIM_P_RATE, "0 B/s", "B/s", "override: HBM bandwidth per GPU",
      hbm_bandwidth),
    P("flops", SIM_P_FLOPS, "0 FLOP/s", "FLOP/s", "override: dense BF16 FLOP/s per GPU", flops),
    P("link_bandwidth", SIM_P_RATE, "0 B/s", "B/s",
      "override: GPU-GPU bandwidth per direction (all-reduce)", link_bandwidth),
    P("compute_eff", SIM_P_DOUBLE, "0", "", "override: achieved fraction of peak FLOP/s",
      compute_eff),
    P("mem_eff", SIM_P_DOUBLE, "0", "", "override: achieved fraction of HBM bandwidth", mem_eff),
    P("gpu_idle_power", SIM_P_POWER, "auto", "W",
      "board power of each GPU while no step computes (auto: the preset's, 15% of TDP)",
      idle_w),
    P("gpu_peak_power", SIM_P_POWER, "auto", "W",
      "board power of each GPU while a step computes (auto: the preset's TDP)", peak_w),
    P("gpu_mem_util", SIM_P_DOUBLE, "0.9", "", "fraction of HBM for weights + KV (vLLM)",
      gpu_mem_util),
    P("max_batched_tokens", SIM_P_UINT, "8192", "tokens", "token budget per step",
      max_batched_tokens),
    {"kv_capacity", SIM_P_ENUM, "simple", "",
     "HBM KV blocks: simple (gpu_mem_util x tp x hbm - weights, over the block bytes) or vllm "
     "(vLLM's rule per GPU: gpu_mem_util x gpu_memory - weights / (tp x pp) - non_torch_memory "
     "- activation_peak - cuda_graph_memory, over one GPU's share of a block)",
     offsetof(inst_state, kv_capacity), kv_capacity_names},
    P("gpu_memory", SIM_P_SIZE, "0 B", "B",
      "kv_capacity vllm: memory one GPU reports (cudaMemGetInfo total, vLLM's total_gpu_memory); "
      "0: h100 79.22 GiB (vLLM's log), other presets their hbm", gpu_memory),
    P("non_torch_memory", SIM_P_SIZE, "0 B", "B",
      "kv_capacity vllm: memory per GPU outside PyTorch's allocator (CUDA context, cuBLAS, "
      "NCCL); unset: 1.79 GiB at tp 1, 3.58 GiB at tp > 1 (vLLM's H100 logs)", non_torch),
    P("activation_peak", SIM_P_SIZE, "0 B", "B",
      "kv_capacity vllm: activation peak per GPU of vLLM's profiling pass of max_batched_tokens "
      "tokens; unset: max_batched_tokens x hidden x 2 B x 20", act_peak),
    P("cuda_graph_memory", SIM_P_SIZE, "0 B", "B",
      "kv_capacity vllm: CUDA graph reserve per GPU (0: vLLM up to 0.10 captures its graphs "
      "after sizing the KV cache, in the 1 - gpu_mem_util headroom)", graph_mem),
    P("max_seqs", SIM_P_UINT, "256", "requests", "running requests at most", max_seqs),
    P("chunked_prefill", SIM_P_BOOL, "true", "", "split long prompts across steps",
      chunked_prefill),
    P("kv_watermark", SIM_P_DOUBLE, "0.01", "",
      "fraction of KV blocks left free when admitting", kv_watermark),
    P("allreduce_latency", SIM_P_TIME, "0 us", "ps", "fixed cost of each tp all-reduce",
      allreduce_latency),
    P("step_overhead", SIM_P_TIME, "0 us", "ps", "fixed cost of every step", step_overhead),
    {"step_time", SIM_P_ENUM, "roofline", "",
     "roofline (from the model and GPU numbers) or linear (fitted coefficients: step_fixed + "
     "step_per_prefill_token x prefill + step_per_decode_token x decode + "
     "step_per_context_token x context read; include a file of scenarios/presets/step-time/ "
     "or one written by memfab calibrate) or table (measured step times over prefill tokens, "
     "decode tokens and context tokens, interpolated from the CSV step_table)",
     offsetof(inst_state, step_time), step_time_names},
    P("step_table", SIM_P_STRING, "", "",
      "table step time: CSV of measured steps on a grid (columns prefill_tokens, "
      "decode_tokens, context_tokens, step_time_s|_ms|_us; path relative to the file that "
      "names it; scenarios/presets/step-time/*.csv)", step_table_path),
    P("step_fixed", SIM_P_TIME, "0 s", "ps", "linear step time: fixed cost of a step",
      step_fixed),
    P("step_per_prefill_token", SIM_P_TIME, "0 s", "ps",
      "linear step time: cost per prefill (uncached prompt) token", step_per_prefill),
    P("step_per_decode_token", SIM_P_TIME, "0 s", "ps",
      "linear step time: cost per decode token", step_per_decode),
    P("step_per_context_token", SIM_P_TIME, "0 s", "ps",
      "linear step time: cost per KV context token read", step_per_context),
    P("device", SIM_P_STRING, "", "",
      "fabric gpu component of the instance: KV tiers naming a `component:` move over the "
      "fabric to/from it; disaggregated KV transfers leave/reach it", device),
    {"role", SIM_P_ENUM, "mixed", "",
     "mixed (prefill + decode), prefill (hands each prompt's KV to a decode instance) or "
     "decode (decodes requests whose KV arrives over the fabric)",
     offsetof(inst_state, role), role_names},
    {"kv_memory", SIM_P_ENUM, "explicit", "",
     "explicit (KV blocks in the kv: tiers, moved by cudaMemcpy-style copies) or managed "
     "(KV in the managed allocation of the `managed:` um component; pages migrate on GPU "
     "faults)", offsetof(inst_state, kv_memory), kv_memory_names},
    P("managed", SIM_P_STRING, "", "",
      "kv_memory managed: the `um` component (driver: external) holding the KV", managed),
    P("managed_prefetch", SIM_P_INT, "0", "requests",
      "kv_memory managed: while a step runs, cudaMemPrefetchAsync the cached KV of the first N "
      "waiting requests (0: off)", managed_prefetch),
    P("managed_evict_ahead", SIM_P_BOOL, "false", "",
      "kv_memory managed, with managed_prefetch: write back ahead, while migrations occupy the "
      "link, the LRU blocks neither the running batch nor the looked-ahead requests need, so the "
      "next prefetch finds room instead of waiting for a write-back", managed_evict_ahead),
    {"preemption", SIM_P_ENUM, "recompute", "",
     "what a preempted request's KV becomes: recompute (freed; prompt + generated tokens "
     "prefilled again, vLLM's default), swap (copied over the fabric to the first KV tier below "
     "HBM and back on resume, vLLM's swap space) or cost (per preemption, the cheaper of the "
     "two under the step-time model and the fabric's load now)",
     offsetof(inst_state, preemption), preemption_names},
    P("swap_space", SIM_P_SIZE, "0 B", "B",
      "preemption swap/cost: bytes of swapped KV held at once (0: unbounded); a swap that "
      "does not fit recomputes", swap_space),
    {"speculation", SIM_P_ENUM, "none", "",
     "speculative decoding: none, draft (a draft model proposes spec_tokens tokens, one "
     "decode step of it per token) or head (an n-gram / EAGLE-style head, spec_draft_time per "
     "proposed token); one target step verifies them",
     offsetof(inst_state, spec), spec_names},
    P("spec_tokens", SIM_P_UINT, "4", "tokens", "speculation: draft tokens per verification (k, "
      "1..64)", spec_k),
    P("spec_acceptance", SIM_P_DOUBLE, "0.7", "",
      "speculation: probability that each draft token is accepted, given the previous one was "
      "(a, in [0, 1]), the same for every request; spec_acceptance_dist draws one per request: "
      "{dist: beta, mean: 0.7, concentration: 10}, {dist: uniform, min:, max:}, {dist: "
      "empirical, values: [...]} or a list of rates", spec_accept),
    P("spec_draft_model", SIM_P_STRING, "llama3.2-1b", "",
      "speculation draft: model preset of the draft model (same GPUs and tp)", spec_draft_model),
    P("spec_draft_time", SIM_P_TIME, "0 s", "ps",
      "speculation head: time of one draft forward (one proposed token for every sequence)",
      spec_draft_time),
    P("pp", SIM_P_UINT, "1", "stages",
      "pipeline-parallel stages (layers split evenly; must divide them), tp GPUs each",
      pp_stages),
    P("pp_microbatches", SIM_P_UINT, "0", "micro-batches",
      "pipeline: micro-batches a step's tokens are split into (0: as many as stages; at "
      "most one per token)", pp_micro),
    P("ep", SIM_P_UINT, "1", "ranks",
      "expert-parallel degree of a MoE model (mixtral-8x7b, deepseek-v3): experts spread over "
      "ep groups of tp / ep GPUs (at most the expert count; divides tp); all-to-all dispatch "
      "and combine per MoE layer", ep),
    P("moe_imbalance", SIM_P_DOUBLE, "1", "",
      "expert parallelism: router load imbalance, the busiest rank's tokens / the mean (1..ep; "
      "unused with ep 1)",
      moe_imb),
    P("devices", SIM_P_STRING, "", "",
      "fabric gpus of the pipeline stages (pp > 1) or EP ranks (ep > 1), separated by spaces "
      "or commas: activations and all-to-alls move over the fabric between them", devices),
    P("cpu_per_request", SIM_P_TIME, "0 s", "ps",
      "CPU time before a request joins the queue (API server, tokenisation: BLIS alpha0)",
      cpu_req),
    P("cpu_per_input_token", SIM_P_TIME, "0 s", "ps",
      "CPU time per prompt token before a request joins the queue (BLIS alpha1)", cpu_in),
    P("cpu_per_output_token", SIM_P_TIME, "0 s", "ps",
      "CPU time per output token (detokenisation, streaming: BLIS alpha2), added to each "
      "token's delivery, not to the GPU's steps", cpu_out),
    {"scheduling", SIM_P_ENUM, "fcfs", "",
     "fcfs (waiting requests in arrival order) or priority (higher workload class priority "
     "first, arrival order within a class; a waiting request that does not fit preempts "
     "running requests of lower priority, and a KV shortage preempts the lowest priority "
     "first)", offsetof(inst_state, scheduling), scheduling_names},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

/* The scenario node of key k of the instance, or the instance's node. */
#define PKEY(k) (node && scn_map_get(node, k) ? scn_map_get(node, k) : node)

#define OVR(dst, v) \
    do {            \
        if (v)      \
            dst = v; \
    } while (0)

/* step_time: table: load step_table, its path relative to the file whose
 * mapping names it (as include:); one from an override (--set, a sweep
 * point) is relative to the file of the instance's mapping (the
 * scenario). A
 * step_table without step_time: table written out is a mistake, as
 * coefficients without linear are (kept unused when step_time names
 * another model, for comparison runs). */
static int table_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    inst_state *st = c->state;
    const scn_node *pn = node ? scn_map_get(node, "step_table") : NULL;
    step_table_free(st->table);
    st->table = NULL;
    if (st->step_time != LLM_STEP_TABLE) {
        if (st->step_table_path[0] && !(node && scn_map_get(node, "step_time")))
            return scn_error(err, pn ? pn : node, "instance '%s': step_table belongs to "
                             "step_time: table (this instance uses the roofline by default; "
                             "write step_time: table)", c->name);
        return 0;
    }
    if (!st->step_table_path[0])
        return scn_error(err, node ? scn_map_get(node, "step_time") : NULL,
                         "instance '%s': step_time: table needs step_table: FILE.csv (a grid "
                         "of measured step times; scenarios/presets/step-time/ ships some)",
                         c->name);
    const char *file = pn ? scn_node_file(pn) : NULL;
    if (!file || file[0] == '<') /* an override (--set, a sweep point): the scenario's */
        file = node ? scn_node_file(node) : NULL;
    char *path = scn_resolve_path(file, st->step_table_path);
    if (!path)
        return scn_error(err, pn ? pn : node, "instance '%s': out of memory", c->name);
    char why[512];
    int rc = 0;
    if (step_table_load(path, &st->table, why, sizeof why))
        rc = scn_error(err, pn ? pn : node, "instance '%s': step_table %s%s%s", c->name, path,
                       why[0] >= '0' && why[0] <= '9' ? ":" : ": ", why);
    sim_free(path);
    return rc;
}

/* kv_capacity: vllm. vLLM sizes its KV cache per GPU after a profiling
 * forward pass (vllm/worker/worker.py determine_num_available_blocks, v0.6
 * to v0.10; the log it prints is quoted below):
 *     available = total_gpu_memory x gpu_memory_utilization
 *                 - weights / (tp x pp) - non_torch_memory - activation peak
 *     num_gpu_blocks = floor(available / cache_block_size)
 *     cache_block_size = block_size x layers / pp x 2 x kv_heads / tp
 *                        x head_size x dtype bytes
 * total_gpu_memory is what cudaMemGetInfo reports, not the marketing
 * size: an H100 80GB reports 79.22 GiB (vLLM PR #10511 and #12126 logs;
 * nvidia-smi shows 81559 MiB). With kv_heads < tp a head is replicated
 * (one per GPU); MLA keeps the whole latent on every GPU. The log of
 * `vllm serve meta-llama/Meta-Llama-3-8B` on one H100 (PR #10511):
 * total 79.22 GiB x 0.90 = 71.29 GiB; weights 14.96 GiB; non_torch 1.79
 * GiB (3.58 GiB at tp 2: NCCL); activation peak 1.26 GiB (the same at tp
 * 2); available 53.29 GiB. The unset defaults take these: non_torch 1.79
 * / 3.58 GiB, and an activation peak of 20 hidden-wide BF16 values per
 * token of the profiling pass (8192 x 4096 x 2 B x 20 = 1.25 GiB; the
 * log's peak does not shrink with tp, so it is not divided by tp). The
 * CUDA graph reserve is 0 by default: those versions capture graphs after
 * sizing the cache, in the headroom gpu_memory_utilization leaves. Here
 * the bytes per GPU are checked; inst_start divides them by the block. */
static int vllm_capacity(sim_comp *c, const scn_node *node, sim_err *err)
{
    inst_state *st = c->state;
    const llm_model *mm = &st->model;
    const double gib = 1024.0 * 1024.0 * 1024.0;
    uint64_t pp = st->pp_stages > 1 ? st->pp_stages : 1;
    double gpus = (double)st->tp * (double)pp;
    double total = (double)st->gpu_memory;
    if (!total) /* the device's own report, where known; else the preset's size */
        total = strcmp(st->gpu_name, "h100") == 0 && !st->hbm ? 79.22 * gib
                                                               : (double)st->gpu.hbm;
    int given_nt = node && scn_map_get(node, "non_torch_memory");
    int given_act = node && scn_map_get(node, "activation_peak");
    double non_torch = given_nt ? (double)st->non_torch : (st->tp > 1 ? 3.58 : 1.79) * gib;
    double act = given_act ? (double)st->act_peak
                           : (double)st->max_batched_tokens * mm->hidden * 2.0 * 20.0;
    double weights = llm_weight_bytes(mm) / gpus;
    if (st->spec == SPEC_DRAFT)
        weights += llm_weight_bytes(st->draft_hw.m) / gpus;
    double budget = st->gpu_mem_util * total;
    st->kv_gpu_bytes = budget - weights - non_torch - act - (double)st->graph_mem;
    uint64_t layers = (mm->layers + pp - 1) / pp; /* the largest stage */
    if (mm->kv_lora_rank)
        st->kvbpt_gpu = (uint64_t)(mm->kv_lora_rank + mm->rope_dim) * layers * mm->kv_bytes;
    else
        st->kvbpt_gpu = 2ULL * layers * (mm->kv_heads >= st->tp ? mm->kv_heads / st->tp : 1) *
                        mm->head_dim * mm->kv_bytes;
    if (!(st->kv_gpu_bytes > 0))
        return scn_error(err, node ? scn_map_get(node, "kv_capacity") : NULL,
                         "instance '%s': kv_capacity vllm: per GPU, weights %.2f GiB + "
                         "non-torch %.2f GiB + activation peak %.2f GiB + CUDA graphs %.2f GiB "
                         "exceed gpu_mem_util x gpu_memory = %.2f GiB; raise tp or gpu_mem_util",
                         c->name, weights / gib, non_torch / gib, act / gib,
                         (double)st->graph_mem / gib, budget / gib);
    return 0;
}

static const char *const inst_keys[] = {"spec_acceptance_dist", NULL};
static const char *const spec_dist_names[] = {"fixed", "beta", "uniform", "empirical", NULL};

/* A probability in [0, 1] (open_ends: in (0, 1)) from the scalar n. */
static int spec_rate_value(sim_comp *c, const scn_node *n, const char *what, int open_ends,
                           double *out, sim_err *err)
{
    const char *txt = scn_scalar(n);
    char *end = NULL;
    double v = txt ? strtod(txt, &end) : NAN;
    if (!txt || end == txt || *end || !isfinite(v))
        return scn_error(err, n, "instance '%s': spec_acceptance_dist %s must be a number, "
                         "not '%s'", c->name, what, txt ? txt : "(not a scalar)");
    if (open_ends ? !(v > 0 && v < 1) : !(v >= 0 && v <= 1))
        return scn_error(err, n, "instance '%s': spec_acceptance_dist %s is %s, not %g",
                         c->name, what, open_ends ? "a mean rate in (0, 1) (beta)"
                                                  : "a probability in [0, 1]", v);
    *out = v;
    return 0;
}

/* `spec_acceptance_dist`: the acceptance rate of each request, drawn when it
 * is submitted from the instance's GSL stream. A list of rates is the
 * empirical distribution of those rates (each request takes one, uniformly
 * at random). */
static int spec_dist_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    inst_state *st = c->state;
    const scn_node *d = node ? scn_map_get(node, "spec_acceptance_dist") : NULL;
    st->spec_dist = SPEC_DIST_FIXED;
    if (!d)
        return 0;
    if (scn_map_get(node, "spec_acceptance"))
        return scn_error(err, d, "instance '%s': spec_acceptance_dist and spec_acceptance "
                         "both given; the distribution replaces the fixed rate", c->name);
    const scn_node *values = NULL;
    if (scn_node_kind(d) == SCN_SEQ) {
        values = d;
        st->spec_dist = SPEC_DIST_EMPIRICAL;
    } else if (scn_node_kind(d) == SCN_MAP) {
        static const char *const keys[] = {"dist", "mean", "concentration", "min", "max",
                                           "values", NULL};
        if (scn_check_keys(d, keys, "spec_acceptance_dist", err))
            return -1;
        int kind;
        if (scn_get_enum(d, "dist", spec_dist_names, -1, &kind, err))
            return -1;
        if (kind < 0)
            return scn_error(err, d, "instance '%s': spec_acceptance_dist needs 'dist' (beta, "
                             "uniform or empirical)", c->name);
        st->spec_dist = kind;
        /* the keys of each distribution, and no others */
        static const char *const own[][3] = {{"mean", NULL, NULL},
                                             {"mean", "concentration", NULL},
                                             {"min", "max", NULL},
                                             {"values", NULL, NULL}};
        for (size_t i = 0; i < scn_len(d); i++) {
            const char *k = scn_map_key(d, i);
            int ok = strcmp(k, "dist") == 0;
            for (int j = 0; j < 3 && own[kind][j]; j++)
                ok |= strcmp(k, own[kind][j]) == 0;
            if (!ok)
                return scn_error(err, scn_map_key_node(d, i), "instance '%s': '%s' is not a "
                                 "parameter of spec_acceptance_dist %s (it takes %s%s%s)",
                                 c->name, k, spec_dist_names[kind], own[kind][0],
                                 own[kind][1] ? " and " : "", own[kind][1] ? own[kind][1] : "");
        }
        for (int j = 0; j < 3 && own[kind][j]; j++)
            if (!scn_map_get(d, own[kind][j]))
                return scn_error(err, d, "instance '%s': spec_acceptance_dist %s needs '%s'",
                                 c->name, spec_dist_names[kind], own[kind][j]);
        if (kind == SPEC_DIST_FIXED) {
            if (spec_rate_value(c, scn_map_get(d, "mean"), "mean", 0, &st->spec_accept, err))
                return -1;
        } else if (kind == SPEC_DIST_BETA) {
            double mean, conc;
            if (spec_rate_value(c, scn_map_get(d, "mean"), "mean", 1, &mean, err) ||
                scn_get_double(d, "concentration", 0, &conc, err))
                return -1;
            if (!(conc > 0))
                return scn_error(err, scn_map_get(d, "concentration"), "instance '%s': "
                                 "spec_acceptance_dist concentration (alpha + beta) must be "
                                 "> 0, not %g", c->name, conc);
            st->spec_d1 = mean * conc;         /* alpha */
            st->spec_d2 = (1 - mean) * conc;   /* beta */
        } else if (kind == SPEC_DIST_UNIFORM) {
            if (spec_rate_value(c, scn_map_get(d, "min"), "min", 0, &st->spec_d1, err) ||
                spec_rate_value(c, scn_map_get(d, "max"), "max", 0, &st->spec_d2, err))
                return -1;
            if (st->spec_d1 > st->spec_d2)
                return scn_error(err, scn_map_get(d, "max"), "instance '%s': "
                                 "spec_acceptance_dist max %g is below min %g", c->name,
                                 st->spec_d2, st->spec_d1);
        } else {
            values = scn_map_get(d, "values");
            if (scn_node_kind(values) != SCN_SEQ)
                return scn_error(err, values, "instance '%s': spec_acceptance_dist values is "
                                 "a list of rates ([0.9, 0.6, ...])", c->name);
        }
    } else {
        return scn_error(err, d, "instance '%s': spec_acceptance_dist is a mapping ({dist: "
                         "beta, mean: 0.7, concentration: 10}) or a list of rates", c->name);
    }
    if (values) {
        size_t n = scn_len(values);
        if (n == 0 || n > UINT32_MAX)
            return scn_error(err, values, "instance '%s': spec_acceptance_dist needs one rate "
                             "at least", c->name);
        st->spec_values = sim_alloc(n * sizeof *st->spec_values);
        if (!st->spec_values)
            return scn_error(err, values, "instance '%s': out of memory", c->name);
        st->spec_nvalues = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
            if (spec_rate_value(c, scn_seq_at(values, i), "value", 0, &st->spec_values[i], err))
                return -1;
    }
    return 0;
}

static int inst_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    inst_state *st = c->state;
    const llm_model *m = llm_model_find(st->model_name);
    if (m) {
        st->model = *m;
    } else if (strcmp(st->model_name, "custom") == 0) {
        memset(&st->model, 0, sizeof st->model);
        st->model.name = "custom";
        st->model.weight_bytes = 2;
        st->model.kv_bytes = 2;
    } else {
        char names[512];
        size_t n = 0;
        for (const llm_model *p = llm_models; p->name && n < sizeof names; p++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", p->name);
        return scn_error(err, node ? scn_map_get(node, "model") : NULL,
                         "instance '%s': unknown model '%s' (presets: %s; or 'custom' with "
                         "layers, hidden, heads, kv_heads, head_dim, params)",
                         c->name, st->model_name, names);
    }
    OVR(st->model.layers, (uint32_t)st->layers);
    OVR(st->model.hidden, (uint32_t)st->hidden);
    OVR(st->model.heads, (uint32_t)st->heads);
    OVR(st->model.kv_heads, (uint32_t)st->kv_heads);
    OVR(st->model.head_dim, (uint32_t)st->head_dim);
    OVR(st->model.kv_lora_rank, (uint32_t)st->kv_lora_rank);
    OVR(st->model.rope_dim, (uint32_t)st->rope_dim);
    OVR(st->model.params, st->params);
    OVR(st->model.weight_bytes, (uint32_t)st->weight_bytes);
    OVR(st->model.kv_bytes, (uint32_t)st->kv_bytes);
    if (st->active_params)
        st->model.active_params = st->active_params;
    else if (st->params || !m)
        st->model.active_params = st->model.params;
    if (st->head_dim || !m) {
        st->model.qk_dim = st->model.head_dim + (st->model.kv_lora_rank ? st->model.rope_dim : 0);
        st->model.v_dim = st->model.head_dim;
    }
    if (!st->model.kv_heads)
        st->model.kv_heads = st->model.heads;
    const llm_model *mm = &st->model;
    if (!mm->layers || !mm->hidden || !mm->heads || !mm->head_dim || !(mm->params > 0))
        return scn_error(err, node, "instance '%s': a custom model needs layers, hidden, heads,"
                         " head_dim and params", c->name);

    const llm_gpu *g = llm_gpu_find(st->gpu_name);
    if (g) {
        st->gpu = *g;
    } else if (strcmp(st->gpu_name, "custom") == 0) {
        memset(&st->gpu, 0, sizeof st->gpu);
        st->gpu.name = "custom";
        st->gpu.compute_eff = 0.6;
        st->gpu.mem_eff = 0.8;
    } else {
        return scn_error(err, node ? scn_map_get(node, "gpu") : NULL,
                         "instance '%s': unknown gpu '%s' (presets: h100, h200, a100, a100-40gb,"
                         " l40s, b200, mi300x; or 'custom' with hbm, hbm_bandwidth, flops)",
                         c->name, st->gpu_name);
    }
    OVR(st->gpu.hbm, st->hbm);
    OVR(st->gpu.hbm_bandwidth, st->hbm_bandwidth);
    OVR(st->gpu.flops, st->flops);
    OVR(st->gpu.link_bandwidth, st->link_bandwidth);
    OVR(st->gpu.compute_eff, st->compute_eff);
    OVR(st->gpu.mem_eff, st->mem_eff);
    if (st->idle_w >= 0)
        st->gpu.idle_w = st->idle_w;
    if (st->peak_w >= 0)
        st->gpu.peak_w = st->peak_w;
    const llm_gpu *gg = &st->gpu;
    if (gg->peak_w < gg->idle_w)
        return scn_error(err, node, "instance '%s': gpu_peak_power (%g W) below gpu_idle_power"
                         " (%g W)", c->name, gg->peak_w, gg->idle_w);
    if (!gg->hbm || !(gg->hbm_bandwidth > 0) || !(gg->flops > 0))
        return scn_error(err, node, "instance '%s': a custom gpu needs hbm, hbm_bandwidth and flops",
                         c->name);
    if (!(gg->compute_eff > 0 && gg->compute_eff <= 1 && gg->mem_eff > 0 && gg->mem_eff <= 1))
        return scn_error(err, node, "instance '%s': compute_eff and mem_eff must be in (0, 1]",
                         c->name);
    if (st->tp < 1 || st->tp > 1024)
        return scn_error(err, node ? scn_map_get(node, "tp") : NULL,
                         "instance '%s': tp must be 1..1024", c->name);
    if (st->tp > 1 && !(gg->link_bandwidth > 0))
        return scn_error(err, node, "instance '%s': tp > 1 needs link_bandwidth", c->name);
    if (!st->max_batched_tokens || !st->max_seqs)
        return scn_error(err, node, "instance '%s': max_batched_tokens and max_seqs must be positive",
                         c->name);
    if (!(st->gpu_mem_util > 0 && st->gpu_mem_util <= 1))
        return scn_error(err, node ? scn_map_get(node, "gpu_mem_util") : NULL,
                         "instance '%s': gpu_mem_util must be in (0, 1]", c->name);
    if (st->kv_watermark < 0 || st->kv_watermark >= 1)
        return scn_error(err, node, "instance '%s': gpu_mem_util must be in (0, 1] and "
                         "kv_watermark in [0, 1)", c->name);
    int any_linear = st->step_fixed || st->step_per_prefill || st->step_per_decode ||
                     st->step_per_context;
    if (st->step_time == LLM_STEP_LINEAR && !any_linear)
        return scn_error(err, node ? scn_map_get(node, "step_time") : NULL,
                         "instance '%s': step_time: linear needs its coefficients (step_fixed, "
                         "step_per_prefill_token, step_per_decode_token, step_per_context_token): "
                         "include a file of scenarios/presets/step-time/ or one written by "
                         "`memfab calibrate`", c->name);
    /* Coefficients with the roofline by default are a forgotten `step_time:
     * linear`; with `step_time: roofline` written out they are kept for a
     * comparison run (and recorded in params) but unused. */
    if (st->step_time == LLM_STEP_ROOFLINE && any_linear && !(node && scn_map_get(node, "step_time")))
        return scn_error(err, node, "instance '%s': step_fixed and the step_per_* coefficients "
                         "belong to step_time: linear (this instance uses the roofline by "
                         "default; write step_time: linear, or step_time: roofline to keep them "
                         "unused)", c->name);
    if (st->step_time == LLM_STEP_LINEAR && st->step_overhead)
        return scn_error(err, node ? scn_map_get(node, "step_overhead") : NULL,
                         "instance '%s': step_overhead is the roofline's fixed cost; the linear "
                         "model's is step_fixed", c->name);
    if (st->step_time == LLM_STEP_TABLE && st->step_overhead)
        return scn_error(err, node ? scn_map_get(node, "step_overhead") : NULL,
                         "instance '%s': step_overhead is the roofline's fixed cost; a step "
                         "table's times include it", c->name);
    int trc = table_configure(c, node, err);
    if (trc)
        return trc;
    if (st->pp_stages < 1 || st->pp_stages > PAR_MAX_DEV || mm->layers % st->pp_stages)
        return scn_error(err, PKEY("pp"),
                         "instance '%s': pp (%llu stages) must divide the model's %u layers "
                         "(at most %d stages)", c->name, (unsigned long long)st->pp_stages,
                         mm->layers, PAR_MAX_DEV);
    if (st->ep < 1 || (st->ep > 1 && st->ep > mm->experts))
        return scn_error(err, PKEY("ep"),
                         "instance '%s': ep (%llu) must be 1..the expert count (%s has %u "
                         "routed experts)", c->name, (unsigned long long)st->ep, mm->name,
                         mm->experts);
    if (st->ep > 1 && (st->tp % st->ep || st->ep > PAR_MAX_DEV))
        return scn_error(err, PKEY("ep"), "instance '%s': ep (%llu) must divide "
                         "tp (%llu): each EP rank is tp / ep of the instance's GPUs", c->name,
                         (unsigned long long)st->ep, (unsigned long long)st->tp);
    if (!(st->moe_imb >= 1) || (st->ep > 1 && st->moe_imb > (double)st->ep))
        return scn_error(err, PKEY("moe_imbalance"),
                         "instance '%s': moe_imbalance (%g) is the busiest rank's tokens over "
                         "the mean: 1..ep (%llu)", c->name, st->moe_imb,
                         (unsigned long long)st->ep);
    if ((st->pp_stages > 1 || st->ep > 1) && st->step_time != LLM_STEP_ROOFLINE)
        return scn_error(err, PKEY("step_time"), "instance '%s': pp and ep need "
                         "step_time: roofline (linear coefficients and step tables are "
                         "measured for one configuration)", c->name);
    if ((st->pp_stages > 1 || st->ep > 1) && !(gg->link_bandwidth > 0))
        return scn_error(err, node, "instance '%s': pp > 1 and ep > 1 need link_bandwidth "
                         "(activations, all-to-alls)", c->name);
    if (*st->devices && st->pp_stages == 1 && st->ep == 1)
        return scn_error(err, PKEY("devices"), "instance '%s': devices are the "
                         "gpus of pipeline stages (pp > 1) or EP ranks (ep > 1)", c->name);
    if (*st->devices && (st->spec != SPEC_NONE || st->kv_memory == KVMEM_MANAGED))
        return scn_error(err, PKEY("devices"), "instance '%s': pipeline / EP "
                         "devices on the fabric are not modelled with speculation or managed "
                         "KV", c->name);
    st->hw.m = &st->model;
    st->hw.g = &st->gpu;
    st->hw.tp = (uint32_t)st->tp;
    st->hw.allreduce_latency_s = sim_time_to_s(st->allreduce_latency);
    st->hw.step_overhead_s = sim_time_to_s(st->step_overhead);
    st->hw.step_model = st->step_time;
    st->hw.table = st->table;
    st->hw.linear = (llm_linear){sim_time_to_s(st->step_fixed), sim_time_to_s(st->step_per_prefill),
                                 sim_time_to_s(st->step_per_decode),
                                 sim_time_to_s(st->step_per_context)};
    /* A distribution on an instance that does not speculate is a mistake,
     * as a step_table without step_time: table is; with speculation: none
     * written out it is kept unused (comparison runs). */
    const scn_node *sdn = node ? scn_map_get(node, "spec_acceptance_dist") : NULL;
    if (st->spec == SPEC_NONE && sdn && !scn_map_get(node, "speculation"))
        return scn_error(err, sdn, "instance '%s': spec_acceptance_dist belongs to speculative "
                         "decoding, and this instance does not speculate (write speculation: "
                         "draft or head)", c->name);
    if (st->spec != SPEC_NONE) {
        const scn_node *kn = node ? scn_map_get(node, "spec_tokens") : NULL;
        const scn_node *an = node ? scn_map_get(node, "spec_acceptance") : NULL;
        if (st->spec_k < 1 || st->spec_k > SPEC_MAX_K)
            return scn_error(err, kn ? kn : node, "instance '%s': spec_tokens must be 1..%d "
                             "with speculation on (k = %llu)", c->name, SPEC_MAX_K,
                             (unsigned long long)st->spec_k);
        if (!(st->spec_accept >= 0 && st->spec_accept <= 1))
            return scn_error(err, an ? an : node, "instance '%s': spec_acceptance is a "
                             "probability in [0, 1], not %g", c->name, st->spec_accept);
        if (spec_dist_configure(c, node, err))
            return -1;
        if (st->spec == SPEC_DRAFT) {
            const llm_model *dm = llm_model_find(st->spec_draft_model);
            if (!dm)
                return scn_error(err, node ? scn_map_get(node, "spec_draft_model") : NULL,
                                 "instance '%s': unknown spec_draft_model '%s' (a model preset)",
                                 c->name, st->spec_draft_model);
            st->draft_hw = st->hw;
            st->draft_hw.m = dm;
            st->draft_hw.step_model = LLM_STEP_ROOFLINE; /* the coefficients are the target's */
        } else if (!st->spec_draft_time) {
            return scn_error(err, node ? scn_map_get(node, "speculation") : node,
                             "instance '%s': speculation head needs spec_draft_time (the time "
                             "of one draft forward)", c->name);
        }
    }
    st->hw.pp = (uint32_t)st->pp_stages;
    st->hw.microbatches = (uint32_t)(st->pp_micro ? st->pp_micro : st->pp_stages);
    st->hw.ep = (uint32_t)st->ep;
    st->hw.moe_imbalance = st->moe_imb;
    st->kvbpt = llm_kv_bytes_per_token(&st->model);
    /* Default KV section: 16-token blocks in HBM only, LRU. */
    st->kv.block_tokens = 16;
    st->kv.ntiers = 1;
    st->kv.tiers[0].name = "hbm";
    st->kv.write_mode = KV_WRITE_BACK;
    st->kv.eviction = "lru";
    st->kv.prefix_caching = 1;
    double usable = st->gpu_mem_util * (double)st->tp * (double)gg->hbm;
    if (st->pp_stages > 1) /* every stage's GPUs hold weights and KV */
        usable *= (double)st->pp_stages;
    if (st->spec == SPEC_DRAFT) /* the draft model's weights share the HBM */
        usable -= llm_weight_bytes(st->draft_hw.m);
    if (st->kv_capacity == KVCAP_VLLM)
        return vllm_capacity(c, node, err);
    if (usable <= llm_weight_bytes(mm))
        return scn_error(err, node, "instance '%s': %.1f GB of weights do not fit in %.1f GB "
                         "(gpu_mem_util x tp x hbm); raise tp",
                         c->name, llm_weight_bytes(mm) / 1e9, usable / 1e9);
    return 0;
}

void inst_setup(sim_comp *c, const inst_kv_cfg *kv, uint32_t index, inst_done_fn done,
                void *ctx)
{
    inst_state *st = c->state;
    if (kv)
        st->kv = *kv;
    st->index = index;
    st->done = done;
    st->done_ctx = ctx;
    if (st->device && *st->device)
        (void)fabric_get(c->sim); /* the fabric component exists before the run starts */
}

const llm_hw *inst_hw(sim_comp *c) { return &((inst_state *)c->state)->hw; }
uint64_t inst_block_bytes(sim_comp *c)
{
    inst_state *st = c->state;
    return st->kvbpt * st->kv.block_tokens;
}
uint64_t inst_kv_blocks(sim_comp *c) { return ((inst_state *)c->state)->kv_blocks; }
const inst_counters *inst_stats(sim_comp *c) { return &((inst_state *)c->state)->cnt; }

/* The scenario node of a `memory` component says kind: cxl. */
static int is_cxl_memory(const sim_comp *m)
{
    const scn_node *k = m->node ? scn_map_get(m->node, "kind") : NULL;
    const char *v = k ? scn_scalar(k) : NULL;
    return v && strcmp(v, "cxl") == 0;
}

/* The component of a tier: `name` itself, or else, for an instance whose
 * device is a cluster node's (`node1.gpu2`), that node's copy of the template
 * component `name` (`node1.host`): a tier written with template names is
 * local to every instance's node. */
static sim_comp *tier_component(sim *s, const char *device, const char *name)
{
    sim_comp *m = sim_find(s, name);
    const char *dot = device ? strrchr(device, '.') : NULL;
    if (m || !dot || strchr(name, '.'))
        return m;
    char full[512];
    if (snprintf(full, sizeof full, "%.*s.%s", (int)(dot - device), device, name) >=
        (int)sizeof full)
        return NULL;
    return sim_find(s, full);
}

/* Tie the tiers naming a `component:` to the fabric: the instance's GPU
 * (`device:`), each tier's component and path, and for CXL tiers on the
 * cxl path the host that stages the data (the cpu nearest to the GPU). */
static int resolve_fabric(sim_comp *c, sim_err *err)
{
    inst_state *st = c->state;
    sim *s = c->sim;
    st->dev_id = NONE;
    for (uint32_t t = 0; t < MEMFAB_MAX_TIERS; t++)
        st->tier_comp[t] = st->tier_host[t] = NONE;
    int any = 0;
    for (uint32_t t = 1; t < st->kv.ntiers; t++)
        any |= st->kv.tiers[t].component != NULL;
    int named = st->device && *st->device;
    if (!any && !named)
        return 0;
    const scn_node *dn = c->node ? scn_map_get(c->node, "device") : NULL;
    if (!named)
        return scn_error(err, c->node,
                         "instance '%s': kv tiers name fabric components; give the instance "
                         "`device:` (its fabric gpu component)", c->name);
    /* a named device is the instance's GPU on the fabric: KV tier moves and
     * disaggregated KV transfers leave and reach it */
    sim_comp *dev = sim_find(s, st->device);
    if (!dev || dev->model != &fab_gpu_model)
        return scn_error(err, dn ? dn : c->node, "instance '%s': device '%s' is not a `gpu` "
                         "component of the scenario", c->name, st->device);
    st->dev_id = dev->id;
    if (!any)
        return 0;
    for (uint32_t t = 1; t < st->kv.ntiers; t++) {
        const inst_kv_tier *k = &st->kv.tiers[t];
        if (!k->component)
            continue;
        sim_comp *m = tier_component(s, st->device, k->component);
        int kind = !m ? -1 : m->model == &fab_cpu_model ? 0
                   : m->model == &fab_memory_model ? (is_cxl_memory(m) ? 2 : 1)
                   : m->model == &fab_nvme_model ? 3 : -1;
        if (kind < 0)
            return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0,
                               "kv tier '%s': component '%s' is not a cpu, memory or nvme "
                               "component of the scenario", k->name, k->component);
        static const int defaults[] = {FABRIC_PATH_DMA, FABRIC_PATH_DMA, FABRIC_PATH_CXL,
                                       FABRIC_PATH_GDS};
        int path = defaults[kind];
        if (k->path) {
            path = fabric_path_find(k->path);
            int ok = kind <= 1   ? path == FABRIC_PATH_DMA || path == FABRIC_PATH_PAGEABLE
                     : kind == 2 ? path == FABRIC_PATH_CXL || path == FABRIC_PATH_DMA
                                 : path == FABRIC_PATH_GDS || path == FABRIC_PATH_BOUNCE;
            if (!ok)
                return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0,
                                   "kv tier '%s': path '%s' does not fit component '%s' (%s)",
                                   k->name, k->path, k->component,
                                   kind <= 1 ? "DRAM: dma or pageable"
                                   : kind == 2 ? "CXL memory: cxl or dma"
                                               : "nvme: gds or bounce");
        }
        uint32_t links[64], n;
        if (fabric_route(s, m->id, dev->id, links, 64, &n))
            return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0,
                               "kv tier '%s': no fabric route from '%s' to device '%s'",
                               k->name, k->component, st->device);
        if (path == FABRIC_PATH_CXL) {
            uint32_t best = NONE, bestn = NONE;
            for (size_t i = 0; i < sim_ncomps(s); i++) {
                sim_comp *h = sim_comp_at(s, (uint32_t)i);
                if (h->model == &fab_cpu_model &&
                    fabric_route(s, h->id, dev->id, links, 64, &n) == 0 && n < bestn &&
                    fabric_route(s, m->id, h->id, links, 64, &n) == 0) {
                    fabric_route(s, h->id, dev->id, links, 64, &n);
                    best = h->id;
                    bestn = n;
                }
            }
            if (best == NONE)
                return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0,
                                   "kv tier '%s': the cxl path needs a cpu reaching both '%s' "
                                   "and '%s'", k->name, k->component, st->device);
            st->tier_host[t] = best;
        }
        st->tier_comp[t] = m->id;
        st->tier_path[t] = path;
    }
    return 0;
}

/* ---- copy-free access to a CXL tier (kv: {cxl_access: direct | auto}) ---- */

static void inval_send(sim *s, uint32_t mem, uint32_t gpu, uint32_t notify, uint64_t lines,
                       int timed);

/* Back-invalidations for block `id` leaving the CXL tier of an instance's
 * own store: its only reader is the instance. */
static void own_inval(void *ctx, uint32_t tier, uint64_t id, uint64_t sharers)
{
    (void)id;
    (void)sharers; /* one store, one reader (bit 0) */
    sim_comp *c = ctx;
    inst_state *st = c->state;
    uint64_t lines = (st->block_bytes + 63) / 64;
    st->cnt.inval_msgs += lines;
    inval_send(c->sim, st->tier_comp[tier], st->dev_id, c->id, lines, !st->kv.free_transfers);
}

/* The same for a pool block: every instance whose bit is set read it. */
static void pool_inval(void *ctx, uint32_t tier, uint64_t id, uint64_t sharers)
{
    (void)id;
    sim_comp *pc = ctx;
    pool_state *ps = pc->state;
    uint64_t lines = (ps->block_bytes + 63) / 64;
    for (uint32_t k = 0; k < 64; k++) {
        if (!(sharers & (UINT64_C(1) << k)) || !ps->readers[k])
            continue;
        sim_comp *c = ps->readers[k];
        inst_state *st = c->state;
        ps->inval_msgs += lines;
        inval_send(c->sim, st->tier_comp[1 + tier], st->dev_id, c->id, lines,
                   !st->kv.free_transfers);
    }
}

/* `lines` back-invalidation snoops (CXL 3.0 BISnpInv, one 16 B slot each)
 * from the memory device to the reader's GPU and as many responses
 * (BIRsp) back, each batch one MSG transfer on the fabric: its links
 * price the slots with their flits (cxl.h: 4 slots per 68 B flit). */
static void inval_send(sim *s, uint32_t mem, uint32_t gpu, uint32_t notify, uint64_t lines,
                       int timed)
{
    if (!timed || mem == NONE || gpu == NONE)
        return;
    (void)fabric_transfer_class(s, FABRIC_CLASS_COHERENCE, mem, gpu, lines * 16, FABRIC_PATH_MSG,
                                notify, INST_EV_INVAL, 0);
    (void)fabric_transfer_class(s, FABRIC_CLASS_COHERENCE, gpu, mem, lines * 16, FABRIC_PATH_MSG,
                                notify, INST_EV_INVAL, 0);
}

/* Does the fabric route between memory m and the GPU cross a CXL link? */
static int cxl_route(sim *s, uint32_t m, uint32_t dev)
{
    uint32_t links[64], n;
    if (fabric_route(s, m, dev, links, 64, &n))
        return 0;
    for (uint32_t i = 0; i < n && i < 64; i++)
        if (sim_comp_at(s, links[i])->model == &cxl_model)
            return 1;
    return 0;
}

/* cxl_access direct or auto: the tier on a CXL memory the GPU reads in
 * place (exactly one), its bandwidth for the roofline (the tier's
 * `bandwidth`, else the memory's), the store's access mode and the
 * invalidation hook. Errors point at kv.cxl_access. */
static int resolve_direct(sim_comp *c, sim_err *err)
{
    inst_state *st = c->state;
    st->direct_tier = 0;
    if (st->kv.cxl_access == KV_ACCESS_COPY)
        return 0;
    const scn_node *an = st->kv.node ? scn_map_get(st->kv.node, "cxl_access") : NULL;
    if (!an)
        an = st->kv.node;
    static const char *const mode[] = {"copy", "direct", "auto"};
    const char *mn = mode[st->kv.cxl_access];
    if (st->kv_memory == KVMEM_MANAGED)
        return scn_error(err, an, "instance '%s': cxl_access %s needs explicit kv tiers, not "
                         "kv_memory managed", c->name, mn);
    for (uint32_t t = 1; t < st->kv.ntiers; t++) {
        sim_comp *m = st->tier_comp[t] != NONE ? sim_comp_at(c->sim, st->tier_comp[t]) : NULL;
        if (!m || m->model != &fab_memory_model)
            continue; /* host DRAM, SSDs and channel tiers are copied */
        if (!fab_memory_is_cxl(m) || !cxl_route(c->sim, m->id, st->dev_id))
            return scn_error(err, an, "instance '%s': cxl_access %s: kv tier '%s' is on memory "
                             "'%s', which has no CXL path to device '%s' (the GPU reads in place "
                             "only a memory of kind cxl reached over a cxl link)",
                             c->name, mn, st->kv.tiers[t].name, m->name, st->device);
        if (st->direct_tier)
            return scn_error(err, an, "instance '%s': cxl_access %s: kv tiers '%s' and '%s' are "
                             "both on CXL memories; one tier can be read in place", c->name, mn,
                             st->kv.tiers[st->direct_tier].name, st->kv.tiers[t].name);
        st->direct_tier = t;
    }
    if (!st->direct_tier)
        return scn_error(err, an, "instance '%s': cxl_access %s: no kv tier is on a CXL memory "
                         "component (give a tier `component:` naming a memory of kind cxl)",
                         c->name, mn);
    uint32_t t = st->direct_tier;
    sim_comp *m = sim_comp_at(c->sim, st->tier_comp[t]);
    st->hw.cxl_bandwidth = st->kv.tiers[t].bandwidth > 0 ? st->kv.tiers[t].bandwidth
                                                         : fab_memory_bandwidth(m);
    int rc = kv_store_set_access(st->store, t, st->kv.cxl_access, st->kv.cxl_hot_hits, err);
    if (rc)
        return rc;
    if (st->kv.pool && st->kv.ntiers > 1) {
        pool_state *ps = st->kv.pool->state;
        uint32_t k = kv_store_reader(st->store);
        if (ps->readers[k])
            return scn_error(err, an, "instance '%s': cxl_access %s: more than 64 instances "
                             "share the pool (one sharer bit each)", c->name, mn);
        ps->readers[k] = c;
        kv_store_set_inval_hook(ps->store, pool_inval, st->kv.pool);
    } else {
        kv_store_set_inval_hook(st->store, own_inval, c);
    }
    return 0;
}

/* Tokens of r's blocks pinned in place, ids[0..nb): block k holds tokens
 * [k bt, min((k + 1) bt, ptarget)) of the sequence. */
static uint32_t direct_tokens_of(const inst_state *st, const inst_req *r, uint32_t nb)
{
    uint64_t bt = st->kv.block_tokens, tok = 0;
    for (uint32_t k = 0; k < nb; k++)
        if (kv_store_inplace_tier(st->store, r->ids[k])) {
            uint64_t end = (k + 1) * bt < r->ptarget ? (k + 1) * bt : r->ptarget;
            tok += end > k * bt ? end - k * bt : 0;
        }
    return (uint32_t)tok;
}

/* Tokens of r's blocks pinned in place among its first `upto` tokens. */
static uint64_t direct_tokens_upto(const inst_state *st, const inst_req *r, uint64_t upto)
{
    uint64_t bt = st->kv.block_tokens, tok = 0;
    for (uint32_t k = 0; k < r->pinned && k * bt < upto; k++)
        if (kv_store_inplace_tier(st->store, r->ids[k]))
            tok += ((k + 1) * bt < upto ? (k + 1) * bt : upto) - k * bt;
    return tok;
}

/* Count what a pin did: promotions, blocks used in place. */
static void count_pin(inst_state *st, const kv_pin_result *res)
{
    for (uint32_t t = 1; t < st->kv.ntiers; t++) {
        st->cnt.promoted_blocks += res->promoted[t];
        st->cnt.direct_blocks += res->direct[t];
    }
}

/* The fabric gpus of `devices:` (one per stage when pp > 1, else per EP
 * rank). */
static int resolve_par(sim_comp *c, sim_err *err)
{
    inst_state *st = c->state;
    if (!st->devices || !*st->devices)
        return 0;
    const scn_node *dn = c->node ? scn_map_get(c->node, "devices") : NULL;
    uint32_t want = (uint32_t)(st->pp_stages > 1 ? st->pp_stages : st->ep);
    const char *p = st->devices;
    st->npar = 0;
    while (*p) {
        size_t n = strcspn(p, " ,\t");
        if (n) {
            char name[256];
            if (n >= sizeof name || st->npar >= PAR_MAX_DEV)
                return scn_error(err, dn ? dn : c->node, "instance '%s': devices: a name too "
                                 "long or more than %d names", c->name, PAR_MAX_DEV);
            memcpy(name, p, n);
            name[n] = 0;
            sim_comp *d = sim_find(c->sim, name);
            if (!d || d->model != &fab_gpu_model)
                return scn_error(err, dn ? dn : c->node, "instance '%s': devices: '%s' is not "
                                 "a `gpu` component of the scenario", c->name, name);
            st->par_dev[st->npar++] = d->id;
            p += n;
        } else {
            p++;
        }
    }
    if (st->npar != want)
        return scn_error(err, dn ? dn : c->node, "instance '%s': devices names %u gpus; %s "
                         "needs %u (one per %s)", c->name, st->npar,
                         st->pp_stages > 1 ? "pp" : "ep", want,
                         st->pp_stages > 1 ? "stage" : "rank");
    if (st->direct_tier)
        return scn_error(err, dn ? dn : c->node, "instance '%s': pipeline / EP devices on the "
                         "fabric are not modelled with KV read in place", c->name);
    if (st->ep > 1 && st->pp_stages == 1) /* the fabric moves the all-to-all's bytes */
        st->hw.a2a_external = 1;
    (void)fabric_get(c->sim);
    /* every pair that exchanges bytes has a route (NVLink, PCIe, RDMA...) */
    for (uint32_t i = 0; i < st->npar; i++)
        for (uint32_t j = 0; j < st->npar; j++) {
            if (i == j || (st->pp_stages > 1 && j != i + 1))
                continue;
            fabric_req fr = {st->par_dev[i], st->par_dev[j], 1, FABRIC_PATH_AUTO, c->id,
                             INST_EV_PP_ACT, 0, 0, NULL, 0, 0, 0, 0, 0, 0};
            if (st->par_dev[i] == st->par_dev[j] || fabric_check_transfer(c->sim, &fr))
                return scn_error(err, dn ? dn : c->node, "instance '%s': devices: no fabric "
                                 "route from '%s' to '%s' (%s)", c->name,
                                 sim_comp_at(c->sim, st->par_dev[i])->name,
                                 sim_comp_at(c->sim, st->par_dev[j])->name,
                                 st->pp_stages > 1 ? "activations" : "all-to-all");
        }
    return 0;
}

/* kv_store_new failed. Its arguments were checked here, so SIM_EINVAL is
 * the eviction policy refusing to start: its parameters, or (a plug-in
 * that sizes its state from the capacity) a tier too large for the host.
 * That is the scenario's doing: a scenario error naming the keys, before
 * the run starts. */
static int store_failed(const sim_comp *c, const inst_state *st, sim_err *err)
{
    if (!err || !err->code)
        return SIM_ENOMEM;
    if (err->code != SIM_EINVAL)
        return err->code;
    char msg[sizeof err->msg];
    memcpy(msg, err->msg, sizeof msg);
    return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0,
                       "instance '%s': %s; see kv.eviction ('%s'), its parameters and the "
                       "kv.tiers capacities", c->name, msg, st->kv.eviction);
}

static int inst_start(sim_comp *c, sim_err *err)
{
    inst_state *st = c->state;
    st->block_bytes = st->kvbpt * st->kv.block_tokens;
    double usable = st->gpu_mem_util * (double)st->tp * (double)st->gpu.hbm *
                        (double)(st->pp_stages > 1 ? st->pp_stages : 1) -
                    llm_weight_bytes(&st->model) -
                    (st->spec == SPEC_DRAFT ? llm_weight_bytes(st->draft_hw.m) : 0);
    /* usable < 0 is possible under kv_capacity: vllm (gpu_memory sizes it, not
     * the preset's hbm), whose blocks replace these below; a negative
     * double is not converted to uint64_t (undefined behaviour) */
    uint64_t cap0 = st->kv.tiers[0].capacity ? st->kv.tiers[0].capacity
                    : usable > 0             ? (uint64_t)usable
                                             : 0;
    st->kv_blocks = cap0 / st->block_bytes;
    if (st->kv_capacity == KVCAP_VLLM && !st->kv.tiers[0].capacity) /* vllm_capacity */
        st->kv_blocks = (uint64_t)floor(st->kv_gpu_bytes /
                                        (double)(st->kvbpt_gpu * st->kv.block_tokens));
    if (st->kv_memory == KVMEM_MANAGED) { /* the managed allocation holds the KV */
        int rc = managed_start(c, err);
        if (rc)
            return rc;
    }
    if (st->kv_blocks < 1)
        return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0,
                           "instance '%s': no room for one KV block of %llu B", c->name,
                           (unsigned long long)st->block_bytes);
    kv_tier_cfg tiers[MEMFAB_MAX_TIERS];
    for (uint32_t t = 0; t < st->kv.ntiers; t++) {
        tiers[t].name = st->kv.tiers[t].name;
        tiers[t].capacity = t == 0 ? st->kv_blocks : st->kv.tiers[t].capacity / st->block_bytes;
        if (!tiers[t].capacity)
            return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0,
                               "instance '%s': kv tier '%s' holds less than one %llu B block",
                               c->name, tiers[t].name, (unsigned long long)st->block_bytes);
    }
    const memfab_evict_ops *pol = kv_evict_find(st->kv.eviction);
    if (!pol)
        return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0, "unknown eviction policy '%s'",
                           st->kv.eviction);
    const memfab_params *pp = st->kv.params.get ? &st->kv.params : NULL;
    int shared = st->kv.pool && st->kv.ntiers > 1;
    st->store = kv_store_new(tiers, shared ? 1 : st->kv.ntiers, st->kv.write_mode, pol, pp, err);
    if (!st->store)
        return store_failed(c, st, err);
    pool_state *ps = shared ? st->kv.pool->state : NULL;
    /* Costs for cost-aware eviction: recomputing block i of a prefix is a
     * prefill of block_tokens tokens after i x block_tokens cached ones
     * (compute-bound); reloading from tier t+1 is latency + bytes / bandwidth. */
    double rate = (double)st->tp * st->gpu.flops * st->gpu.compute_eff;
    double bt = st->kv.block_tokens;
    double rc0 = (2.0 * st->model.active_params * bt +
                  llm_attn_flops_per_pair(&st->model) * bt * (bt + 1) / 2) / rate;
    double rci = llm_attn_flops_per_pair(&st->model) * bt * bt / rate;
    double reload[MEMFAB_MAX_TIERS] = {0};
    for (uint32_t t = 1; t < st->kv.ntiers; t++)
        reload[t - 1] = st->kv.tiers[t].bandwidth > 0
                            ? sim_time_to_s(st->kv.tiers[t].latency) +
                                  (double)st->block_bytes / st->kv.tiers[t].bandwidth
                            : 0;
    if (ps && !ps->store) {
        ps->store = kv_store_new_pool(tiers + 1, st->kv.ntiers - 1, st->kv.write_mode, pol, pp,
                                      err);
        if (!ps->store)
            return store_failed(c, st, err);
        kv_store_set_costs(ps->store, rc0, rci, reload + 1);
        ps->block_bytes = st->block_bytes;
        ps->ntiers = st->kv.ntiers - 1;
        for (uint32_t t = 1; t < st->kv.ntiers; t++)
            ps->names[t - 1] = st->kv.tiers[t].name;
        ps->creator = c->name;
    } else if (ps && ps->block_bytes != st->block_bytes) {
        return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0,
                           "kv scope global: instance '%s' has %llu B KV blocks, the pool "
                           "(created by '%s') %llu B; instances sharing a pool need the same "
                           "model and block size",
                           c->name, (unsigned long long)st->block_bytes, ps->creator,
                           (unsigned long long)ps->block_bytes);
    }
    if (ps && kv_store_attach_pool(st->store, ps->store, err))
        return err && err->code ? err->code : SIM_EINVAL;
    kv_store_set_costs(st->store, rc0, rci, st->kv.ntiers > 1 ? reload : NULL);
    st->run = sim_calloc(st->max_seqs, sizeof *st->run);
    if (!st->run)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    st->free_move = NONE;
    int rc = resolve_fabric(c, err);
    if (!rc && st->preemption != PREEMPT_RECOMPUTE &&
        (st->kv.ntiers < 2 || st->kv_memory == KVMEM_MANAGED)) {
        const scn_node *pn = c->node ? scn_map_get(c->node, "preemption") : NULL;
        return scn_error(err, pn ? pn : c->node, "instance '%s': preemption %s swaps KV to the "
                         "first kv tier below HBM, and %s", c->name,
                         preemption_names[st->preemption],
                         st->kv_memory == KVMEM_MANAGED ? "kv_memory managed has none"
                                                        : "kv: tiers lists only HBM");
    }
    if (!rc)
        rc = resolve_direct(c, err);
    return rc ? rc : resolve_par(c, err);
}

/* ---- queues ------------------------------------------------------------ */

static void wait_push_back(inst_state *st, inst_req *r)
{
    r->next = NULL;
    r->prev = st->wait_tail;
    if (st->wait_tail)
        st->wait_tail->next = r;
    else
        st->wait_head = r;
    st->wait_tail = r;
    st->nwait++;
    load_touch(st);
}

static void wait_push_front(inst_state *st, inst_req *r)
{
    r->prev = NULL;
    r->next = st->wait_head;
    if (st->wait_head)
        st->wait_head->prev = r;
    else
        st->wait_tail = r;
    st->wait_head = r;
    st->nwait++;
    load_touch(st);
}

static inst_req *wait_pop_front(inst_state *st)
{
    inst_req *r = st->wait_head;
    if (!r)
        return NULL;
    st->wait_head = r->next;
    if (st->wait_head)
        st->wait_head->prev = NULL;
    else
        st->wait_tail = NULL;
    r->next = r->prev = NULL;
    st->nwait--;
    load_touch(st);
    return r;
}

/* Priority scheduling: insert r before the first waiting request of a
 * lower priority (front = 0: behind its equals, arrival order) or of a
 * priority no higher (front = 1: a preempted request heads its class). */
static void wait_insert(inst_state *st, inst_req *r, int front)
{
    inst_req *q = st->wait_head;
    while (q && (front ? q->priority > r->priority : q->priority >= r->priority))
        q = q->next;
    if (!q) {
        wait_push_back(st, r);
        return;
    }
    r->next = q;
    r->prev = q->prev;
    if (q->prev)
        q->prev->next = r;
    else
        st->wait_head = r;
    q->prev = r;
    st->nwait++;
    load_touch(st);
}

/* Into the waiting queue: new requests at the back (front = 0), preempted
 * ones at the front (front = 1); under priority scheduling within their
 * priority. */
static void wait_enqueue(inst_state *st, inst_req *r, int front)
{
    if (st->scheduling == SCHED_PRIORITY)
        wait_insert(st, r, front);
    else if (front)
        wait_push_front(st, r);
    else
        wait_push_back(st, r);
}

static uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

/* Tokens still to compute for r. */
static uint64_t remaining(const inst_state *st, const inst_req *r)
{
    /* a prefill instance computes only the prompt */
    return (uint64_t)(r->ptarget - r->prefilled) +
           (st->role == INST_ROLE_PREFILL ? 0 : r->output - r->generated);
}

static void swap_move(sim_comp *c, inst_req *r, uint64_t bytes, int in);
static double swap_seconds(sim_comp *c, uint64_t bytes);

/* Tokens of r whose KV exists: a prefill's computed (or cached) tokens, a
 * decode's context but its newest token (the next step writes that one). */
static uint64_t kv_tokens_of(const inst_req *r)
{
    return r->state == INST_DECODE ? (uint64_t)r->input + r->generated - 1 : r->prefilled;
}

/* Seconds to recompute n tokens of KV: one prefill of n tokens from
 * nothing cached, under the instance's step-time model (roofline or
 * linear), as the step would be timed alone. */
static double recompute_seconds(const inst_state *st, uint64_t n)
{
    llm_step p = {n, (double)n * ((double)n + 1) / 2, 0, 0, n, 0};
    return llm_step_seconds(&st->hw, &p, NULL, NULL, NULL);
}

/* Swap v out if the policy says so: 1 = swapped (its KV leaves over the
 * fabric; it resumes where it was), 0 = recompute. */
static int swap_out(sim_comp *c, inst_req *v)
{
    inst_state *st = c->state;
    if (st->preemption == PREEMPT_RECOMPUTE || v->loads > 0 ||
        (v->state != INST_DECODE && v->state != INST_PREFILL))
        return 0;
    uint64_t kvt = kv_tokens_of(v);
    uint32_t sb = ceil_div(kvt, st->kv.block_tokens);
    if (sb > v->pinned)
        sb = v->pinned;
    if (!sb)
        return 0; /* nothing computed yet: nothing to save */
    uint64_t bytes = (uint64_t)sb * st->block_bytes;
    if (st->preemption == PREEMPT_COST) {
        st->cnt.last_recompute_s = recompute_seconds(st, kvt);
        st->cnt.last_swap_s = swap_seconds(c, bytes);
        if (!(st->cnt.last_swap_s < st->cnt.last_recompute_s))
            return 0;
    }
    if (st->swap_space && st->swap_used + bytes > st->swap_space) {
        st->cnt.swap_fallbacks++;
        return 0;
    }
    st->swap_used += bytes;
    st->cnt.swap_outs++;
    st->cnt.swap_out_bytes += bytes;
    v->swapped = sb;
    v->resume = v->state;
    v->ready_at = sim_now(c->sim);
    swap_move(c, v, bytes, 0);
    return 1;
}

/* Take running request k off the batch (the others keep their order),
 * free its blocks, put it at the head of the waiting queue (of its
 * priority); its KV is swapped out or dropped for recomputation. [preempt] */
static void preempt_at(sim_comp *c, uint32_t k)
{
    inst_state *st = c->state;
    inst_req *v = st->run[k];
    memmove(st->run + k, st->run + k + 1, (st->nrun - k - 1) * sizeof *st->run);
    st->nrun--;
    load_touch(st);
    sim_time now = sim_now(c->sim);
    uint64_t before = remaining(st, v);
    int swapped = swap_out(c, v);
    kv_store_unpin(st->store, v->ids, v->pinned, now);
    st->logical_pinned -= v->pinned;
    v->pinned = 0;
    v->direct_tokens = 0;
    if (swapped) { /* progress kept: prefilled, ptarget and generated stay */
        v->sched = 0;
        v->state = INST_WAITING;
        v->preemptions++;
        st->cnt.preemptions++;
        wait_enqueue(st, v, 1);
        return;
    }
    v->resume = 0;
    v->prefilled = 0;
    v->ptarget = v->input + v->generated; /* generated tokens join the prompt */
    v->sched = 0;
    v->state = INST_WAITING;
    v->preemptions++;
    st->cnt.preemptions++;
    st->outstanding += remaining(st, v) - before;
    load_touch(st);
    wait_enqueue(st, v, 1);
}

/* The victim of a KV shortage met by run[i]: the last running request
 * (vLLM's FCFS policy); under priority scheduling the lowest priority of
 * run[i..], the latest admitted among equals (vLLM's priority policy picks
 * the max of (priority value, arrival); requests before i have been
 * scheduled in this step and are spared). */
static uint32_t shortage_victim(const inst_state *st, uint32_t i)
{
    uint32_t v = st->nrun - 1;
    if (st->scheduling != SCHED_PRIORITY)
        return v;
    for (uint32_t k = st->nrun - 1; k-- > i;)
        if (st->run[k]->priority < st->run[v]->priority)
            v = k;
    return v;
}

/* Blocks r pins when admitted now (as admit / admit_swapped). */
static uint32_t admit_blocks(const inst_state *st, const inst_req *r)
{
    if (r->swapped && r->resume != INST_PREFILL)
        return r->swapped;
    uint32_t nb = ceil_div(r->ptarget, st->kv.block_tokens);
    return nb > r->n_ids ? r->n_ids : nb;
}

static int room_for(inst_state *st, const inst_req *r, uint32_t nb);

/* Priority preemption (vLLM v0 scheduler, _schedule_priority_preemption):
 * while the head of the waiting queue cannot be admitted (no running slot
 * or no KV room) and a running request (prefilling or decoding) has a
 * lower priority, preempt the lowest-priority one, latest admitted among
 * equals, by the instance's preemption mode. A swapped head still waiting
 * for its swap-out is left alone. */
static void priority_preempt(sim_comp *c)
{
    inst_state *st = c->state;
    inst_req *h = st->wait_head;
    if (!h || (h->swapped && (h->loads > 0 || h->ready_at > sim_now(c->sim))))
        return;
    while (st->nrun > 0) {
        if (st->nrun < st->max_seqs && room_for(st, h, admit_blocks(st, h)))
            return;
        uint32_t v = UINT32_MAX;
        for (uint32_t k = st->nrun; k-- > 0;) {
            const inst_req *q = st->run[k];
            if (q->priority < h->priority &&
                (q->state == INST_PREFILL || q->state == INST_DECODE) &&
                (v == UINT32_MAX || q->priority < st->run[v]->priority))
                v = k;
        }
        if (v == UINT32_MAX)
            return;
        st->cnt.priority_preemptions++;
        preempt_at(c, v);
    }
}

static void finish_req(sim_comp *c, inst_req *r, int state)
{
    inst_state *st = c->state;
    assert(r->loads == 0);
    if (r->pinned)
        kv_store_unpin(st->store, r->ids, r->pinned, sim_now(c->sim));
    st->logical_pinned -= r->pinned;
    r->pinned = 0;
    r->direct_tokens = 0;
    st->outstanding -= remaining(st, r);
    load_touch(st);
    r->state = (uint32_t)state;
    if (r->spec_full) {
        st->cnt.spec_requests++;
        st->cnt.spec_req_measured_sum += (double)r->spec_full_emitted / r->spec_full;
        st->cnt.spec_req_expected_sum += r->spec_expect;
        if (st->spec_hook)
            st->spec_hook(st->spec_hook_ctx, r);
    }
    if (st->done)
        st->done(st->done_ctx, r);
}

void inst_set_spec_hook(sim_comp *c, inst_spec_fn fn, void *ctx)
{
    inst_state *st = c->state;
    st->spec_hook = fn;
    st->spec_hook_ctx = ctx;
}

/* Expected tokens of a full verification at acceptance a: sum_{i=0..k} a^i. */
static double spec_expected(double a, double k)
{
    return a < 1 ? (1 - pow(a, k + 1)) / (1 - a) : k + 1;
}

/* r's acceptance rate on this instance: spec_acceptance, or a draw from
 * spec_acceptance_dist on the instance's stream (no draw without one, so
 * a fixed rate leaves the stream as it was). */
static void spec_assign(sim_comp *c, inst_req *r)
{
    inst_state *st = c->state;
    r->spec_full = r->spec_full_emitted = 0;
    if (st->spec == SPEC_NONE)
        return;
    double a = st->spec_accept;
    switch (st->spec_dist) {
    case SPEC_DIST_BETA:
        a = gsl_ran_beta(c->rng, st->spec_d1, st->spec_d2);
        break;
    case SPEC_DIST_UNIFORM:
        a = st->spec_d1 + (st->spec_d2 - st->spec_d1) * gsl_rng_uniform(c->rng);
        break;
    case SPEC_DIST_EMPIRICAL:
        a = st->spec_values[gsl_rng_uniform_int(c->rng, st->spec_nvalues)];
        break;
    default:
        break;
    }
    if (st->spec_dist != SPEC_DIST_FIXED) {
        st->cnt.spec_drawn++;
        st->cnt.spec_drawn_sum += a;
    }
    r->spec_accept = a;
    r->spec_expect = spec_expected(a, (double)st->spec_k);
}

/* ---- tier moves ----------------------------------------------------------- */

/* Start one fabric move of `bytes` from src to dst on `path`, then (dst2 !=
 * NONE) from dst on to dst2 on path2; r (if not NULL) waits for it. A move
 * the fabric refuses is counted in fabric_errors and not timed. */
static void move_start(sim_comp *c, inst_req *r, uint32_t src, uint32_t dst, int path,
                       uint32_t dst2, int path2, uint64_t bytes, int cls)
{
    inst_state *st = c->state;
    uint32_t slot = st->free_move;
    if (slot != NONE) {
        st->free_move = st->moves[slot].next_free;
    } else {
        if (st->nmoves == st->capmoves) {
            uint32_t cap = st->capmoves ? 2 * st->capmoves : 64;
            inst_move *m = sim_realloc(st->moves, cap * sizeof *m);
            if (!m) {
                st->cnt.fabric_errors++;
                return;
            }
            st->moves = m;
            st->capmoves = cap;
        }
        slot = st->nmoves++;
    }
    inst_move *m = &st->moves[slot];
    m->r = r;
    m->next_free = NONE;
    m->dst2 = dst2;
    m->path2 = path2;
    m->mid = dst;
    m->bytes = bytes;
    m->t0 = sim_now(c->sim);
    m->cls = cls;
    if (fabric_transfer_class(c->sim, cls, src, dst, bytes, path, c->id, INST_EV_MOVED, slot) !=
        0) {
        st->cnt.fabric_errors++;
        m->next_free = st->free_move;
        st->free_move = slot;
        return;
    }
    st->cnt.fabric_moves++;
    st->moves_inflight++;
    if (r)
        r->loads++;
}

/* A fabric move finished a stage. [moved] */
static void move_done(sim_comp *c, uint32_t slot)
{
    inst_state *st = c->state;
    assert(slot < st->nmoves);
    inst_move *m = &st->moves[slot];
    if (m->dst2 != NONE) {
        uint32_t d = m->dst2;
        m->dst2 = NONE;
        if (fabric_transfer_class(c->sim, m->cls, m->mid, d, m->bytes, m->path2, c->id, INST_EV_MOVED,
                                  slot) == 0) {
            st->cnt.fabric_moves++;
            return;
        }
        st->cnt.fabric_errors++;
    }
    inst_req *r = m->r;
    st->moves_inflight--;
    m->r = NULL;
    m->next_free = st->free_move;
    st->free_move = slot;
    if (r) {
        assert(r->loads > 0);
        if (--r->loads == 0 && r->state == INST_LOADING) {
            st->cnt.load_wait_ps += sim_now(c->sim) - r->ready_at;
            r->ready_at = sim_now(c->sim);
        }
    }
}

/* Charge the moves of one pin: promotions into HBM (r waits for them) and
 * demotions down the tiers. Returns when the channel-model loads are in
 * HBM (now when there are none); fabric loads are counted in r->loads. */
static sim_time charge_moves(sim_comp *c, inst_req *r, const kv_pin_result *res)
{
    inst_state *st = c->state;
    sim_time now = sim_now(c->sim), ready = now;
    int timed = !st->kv.free_transfers;
    for (uint32_t t = 0; t < st->kv.ntiers; t++) {
        if (t > 0 && res->promoted[t]) {
            uint64_t bytes = (uint64_t)res->promoted[t] * st->block_bytes;
            st->cnt.load_bytes += bytes;
            if (timed && st->tier_comp[t] != NONE) {
                if (st->tier_host[t] != NONE) /* CXL loads into a host buffer, then DMA */
                    move_start(c, r, st->tier_comp[t], st->tier_host[t], FABRIC_PATH_CXL,
                               st->dev_id, FABRIC_PATH_DMA, bytes, FABRIC_CLASS_KV_LOAD);
                else
                    move_start(c, r, st->tier_comp[t], st->dev_id, st->tier_path[t], NONE, 0,
                               bytes, FABRIC_CLASS_KV_LOAD);
            } else if (timed && st->kv.tiers[t].bandwidth > 0) {
                sim_time start = st->chan_free[t] > now ? st->chan_free[t] : now;
                sim_time xfer = (sim_time)llround((double)bytes * 1e12 / st->kv.tiers[t].bandwidth);
                st->chan_free[t] = start + xfer;
                sim_time done = start + xfer + st->kv.tiers[t].latency;
                if (done > ready)
                    ready = done;
            }
        }
        if (res->demoted[t]) {
            uint64_t bytes = (uint64_t)res->demoted[t] * st->block_bytes;
            st->cnt.offload_bytes += bytes;
            if (!timed || t + 1 >= st->kv.ntiers || st->tier_comp[t + 1] == NONE)
                continue;
            if (t == 0 && st->tier_host[1] != NONE) /* DMA to a host buffer, CXL stores */
                move_start(c, NULL, st->dev_id, st->tier_host[1], FABRIC_PATH_DMA,
                           st->tier_comp[1], FABRIC_PATH_CXL, bytes, FABRIC_CLASS_KV_WRITEBACK);
            else if (t == 0)
                move_start(c, NULL, st->dev_id, st->tier_comp[1], st->tier_path[1], NONE, 0,
                           bytes, FABRIC_CLASS_KV_WRITEBACK);
            else if (st->tier_comp[t] != NONE)
                move_start(c, NULL, st->tier_comp[t], st->tier_comp[t + 1], FABRIC_PATH_AUTO,
                           NONE, 0, bytes, FABRIC_CLASS_KV_WRITEBACK);
        }
    }
    return ready;
}

/* Grow the KV store's host tables for a pin of n blocks (kv_store_reserve).
 * They grow with the blocks cached, not with the capacity, so a huge tier
 * costs nothing until used; if the host runs out of memory the run fails
 * with the reason instead of taking the no-room path. 0 or -1. */
static int kv_grow(sim_comp *c, uint32_t n)
{
    inst_state *st = c->state;
    sim_err e;
    sim_err_clear(&e);
    if (kv_store_reserve(st->store, n, &e) == 0)
        return 0;
    sim_fail(c->sim, e.code, "instance '%s': %s", c->name, e.msg);
    return -1;
}

/* ---- swap preemption ---------------------------------------------------- */

/* Move `bytes` of r's swapped KV between HBM and the first tier below it
 * (in = 1: back into HBM); r waits for it (r->loads, or r->ready_at on a
 * channel tier). Over the fabric the route of the tier's demotions and
 * promotions, class swap; a CXL tier on the cxl path stages through the
 * host (two transfers). */
static void swap_move(sim_comp *c, inst_req *r, uint64_t bytes, int in)
{
    inst_state *st = c->state;
    if (st->kv.free_transfers)
        return;
    sim_time now = sim_now(c->sim);
    if (st->tier_comp[1] != NONE) {
        uint32_t m = st->tier_comp[1], h = st->tier_host[1], g = st->dev_id;
        if (h != NONE && in)
            move_start(c, r, m, h, FABRIC_PATH_CXL, g, FABRIC_PATH_DMA, bytes, FABRIC_CLASS_SWAP);
        else if (h != NONE)
            move_start(c, r, g, h, FABRIC_PATH_DMA, m, FABRIC_PATH_CXL, bytes, FABRIC_CLASS_SWAP);
        else
            move_start(c, r, in ? m : g, in ? g : m, st->tier_path[1], NONE, 0, bytes,
                       FABRIC_CLASS_SWAP);
        return;
    }
    if (!(st->kv.tiers[1].bandwidth > 0))
        return; /* a channel without a rate moves for free */
    sim_time start = st->chan_free[1] > now ? st->chan_free[1] : now;
    sim_time xfer = (sim_time)llround((double)bytes * 1e12 / st->kv.tiers[1].bandwidth);
    st->chan_free[1] = start + xfer;
    sim_time done = start + xfer + st->kv.tiers[1].latency;
    if (done > r->ready_at)
        r->ready_at = done;
    sim_schedule_at(c->sim, done, c->id, INST_EV_WAKE, 0, 0);
}

/* One way of a swap at the load now, seconds (fabric_estimate), or INFINITY
 * when the fabric cannot plan it. */
static double swap_leg(sim_comp *c, uint32_t src, uint32_t dst, int path, uint64_t bytes)
{
    fabric_req q = {src, dst, bytes, path, c->id, INST_EV_MOVED, 0, 0, NULL, 0, 0, 0,
                    FABRIC_CLASS_SWAP, 0, 0};
    double t;
    return fabric_estimate(c->sim, &q, &t) ? INFINITY : t;
}

/* Estimated swap-out + swap-in time of `bytes` now: over the fabric, each
 * leg by fabric_estimate (bytes / the path's available bandwidth at the
 * current load, plus its latencies; a CXL tier's two stages added); on a
 * channel tier, the wait for the channel plus twice latency + bytes /
 * bandwidth. */
static double swap_seconds(sim_comp *c, uint64_t bytes)
{
    inst_state *st = c->state;
    if (st->kv.free_transfers)
        return 0;
    if (st->tier_comp[1] != NONE) {
        uint32_t m = st->tier_comp[1], h = st->tier_host[1], g = st->dev_id;
        if (h != NONE)
            return swap_leg(c, g, h, FABRIC_PATH_DMA, bytes) +
                   swap_leg(c, h, m, FABRIC_PATH_CXL, bytes) +
                   swap_leg(c, m, h, FABRIC_PATH_CXL, bytes) +
                   swap_leg(c, h, g, FABRIC_PATH_DMA, bytes);
        return swap_leg(c, g, m, st->tier_path[1], bytes) +
               swap_leg(c, m, g, st->tier_path[1], bytes);
    }
    double bw = st->kv.tiers[1].bandwidth;
    if (!(bw > 0))
        return 0;
    sim_time now = sim_now(c->sim);
    double wait = st->chan_free[1] > now ? sim_time_to_s(st->chan_free[1] - now) : 0;
    return wait + 2 * (sim_time_to_s(st->kv.tiers[1].latency) + (double)bytes / bw);
}

/* Room to pin nb of r's blocks now, watermark kept (as vLLM's admission). */
static int room_for(inst_state *st, const inst_req *r, uint32_t nb)
{
    if (!kv_store_can_pin(st->store, r->ids, nb))
        return 0;
    if (st->nrun > 0 && st->kv_watermark > 0) {
        uint64_t need = kv_store_needed(st->store, r->ids, nb);
        uint64_t avail = kv_store_free_blocks(st->store) + kv_store_evictable_blocks(st->store);
        if (avail < need || (double)(avail - need) < st->kv_watermark * (double)st->kv_blocks)
            return 0;
    }
    return 1;
}

/* Pin r's first nb blocks, when there is room (growing the store as
 * needed): 1 pinned, with the store's answer in res; 0 not now. */
static int pin_blocks(sim_comp *c, inst_req *r, uint32_t nb, kv_pin_result *res)
{
    inst_state *st = c->state;
    if (!room_for(st, r, nb))
        return 0;
    memset(res, 0, sizeof *res);
    if (kv_grow(c, nb) || kv_store_pin(st->store, r->ids, nb, sim_now(c->sim), res) != 0)
        return 0;
    r->pinned = nb;
    st->logical_pinned += nb;
    if (st->direct_tier) {
        count_pin(st, res);
        r->direct_tokens = res->direct[st->direct_tier] ? direct_tokens_of(st, r, nb) : 0;
    }
    return 1;
}

/* Resume a swapped request: once its swap-out has landed, pin its blocks
 * (a prefill's whole prompt, a decode's swapped blocks; the decode pins
 * more as it grows) and swap its KV back in; it runs again in the state
 * it left, nothing recomputed. Whatever the store finds of those blocks
 * (still cached in HBM, in a lower tier) is ignored: the swapped copy is
 * what comes back. 1 = admitted, 0 = not now. */
static int admit_swapped(sim_comp *c, inst_req *r)
{
    inst_state *st = c->state;
    sim_time now = sim_now(c->sim);
    if (r->loads > 0 || r->ready_at > now)
        return 0; /* the swap-out is still on its way */
    uint32_t nb = r->swapped;
    if (r->resume == INST_PREFILL) {
        nb = ceil_div(r->ptarget, st->kv.block_tokens);
        if (nb > r->n_ids)
            nb = r->n_ids;
    }
    kv_pin_result res;
    if (!pin_blocks(c, r, nb, &res))
        return 0;
    memset(res.promoted, 0, sizeof res.promoted); /* the swap-in brings the KV */
    (void)charge_moves(c, NULL, &res);            /* room made: write-backs */
    uint64_t bytes = (uint64_t)r->swapped * st->block_bytes;
    st->swap_used -= bytes;
    st->cnt.swap_ins++;
    st->cnt.swap_in_bytes += bytes;
    r->swapped = 0;
    r->ready_at = now;
    swap_move(c, r, bytes, 1);
    if (r->loads > 0 || r->ready_at > now) {
        r->state = INST_LOADING;
    } else {
        r->state = r->resume;
        r->resume = 0;
    }
    st->run[st->nrun++] = r;
    load_touch(st);
    return 1;
}

/* Try to admit the head of the waiting queue. 1 = admitted (r set), 0 = not. */
static int admit(sim_comp *c, inst_req *r)
{
    inst_state *st = c->state;
    if (r->swapped)
        return admit_swapped(c, r);
    uint32_t pt = r->ptarget;
    uint32_t nb = ceil_div(pt, st->kv.block_tokens);
    if (nb > r->n_ids)
        nb = r->n_ids;
    kv_pin_result res;
    if (!pin_blocks(c, r, nb, &res))
        return 0;
    uint32_t hit = st->kv.prefix_caching ? res.hit_blocks : 0;
    uint64_t cached = (uint64_t)hit * st->kv.block_tokens;
    if (cached >= pt)
        cached = pt - 1; /* the last prompt token is always computed (its logits) */
    r->prefilled = (uint32_t)cached;
    st->outstanding -= cached;
    load_touch(st);
    if (!r->admitted_once) {
        r->admitted_once = 1;
        r->admitted = sim_now(c->sim);
        uint32_t ph = hit < r->n_prompt ? hit : r->n_prompt;
        r->hit_blocks = ph;
        r->cached = r->prefilled < r->input ? r->prefilled : r->input;
        r->hit_lower = 0;
        for (uint32_t t = 1; t < st->kv.ntiers; t++)
            r->hit_lower += res.promoted[t];
        st->prompt_blocks += r->n_prompt;
        st->hit_blocks += ph;
        st->input_tokens += r->input;
        st->cached_tokens += r->cached;
    }
    sim_time ready = charge_moves(c, r, &res);
    if (ready > sim_now(c->sim) || r->loads > 0) {
        r->state = INST_LOADING;
        r->ready_at = ready;
        if (ready > sim_now(c->sim))
            sim_schedule_at(c->sim, ready, c->id, INST_EV_WAKE, 0, 0);
    } else {
        r->state = INST_PREFILL;
    }
    st->run[st->nrun++] = r;
    load_touch(st);
    return 1;
}

/* The draft phase of the step being composed: round j proposes one token
 * for each of the spec_n[j] sequences still drafting; a draft model's
 * round is its own decode step (the roofline of the draft model on the
 * same GPUs: every one of those sequences computes one token attending to
 * its context so far, reading it), a head's round costs spec_draft_time.
 * Rounds run one after another (each token depends on the previous). */
static sim_time draft_time(inst_state *st)
{
    sim_time t = 0;
    for (uint32_t j = 0; j < SPEC_MAX_K && st->spec_n[j]; j++) {
        if (st->spec == SPEC_HEAD) {
            t += st->spec_draft_time;
        } else {
            uint64_t n = st->spec_n[j];
            llm_step d = {n, st->spec_ctx[j], (uint64_t)st->spec_ctx[j] - n, 0, 0, n};
            t += llm_step_time(&st->draft_hw, &d);
        }
        st->spec_n[j] = 0;
        st->spec_ctx[j] = 0;
    }
    st->cnt.spec_draft_ps += t;
    return t;
}

/* ---- pipeline and expert parallelism over the fabric -------------------- */

/* Stage s starts its next micro-batch when it is free and the micro-batch's
 * activations are there. */
static void pl_try(sim_comp *c, uint32_t s)
{
    inst_state *st = c->state;
    if (!st->pl_busy[s] && st->pl_next[s] < st->pl_arr[s]) {
        st->pl_busy[s] = 1;
        sim_schedule(c->sim, st->pl_t, c->id, INST_EV_PP_STAGE, s, 0);
    }
}

/* Start a step's GPipe schedule: every micro-batch is at stage 0. [pl_launch] */
static void pl_launch(sim_comp *c, const llm_step *step)
{
    inst_state *st = c->state;
    double ts = llm_stage_seconds(&st->hw, step);
    st->pl_m = llm_pp_microbatches(&st->hw, step->tokens);
    st->pl_t = (sim_time)llround(ts * 1e12);
    if (st->pl_t == 0)
        st->pl_t = 1;
    st->pl_act = (uint64_t)llround(llm_pp_act_bytes(&st->hw, step->tokens));
    for (uint32_t s = 0; s < st->npar; s++) {
        st->pl_next[s] = 0;
        st->pl_arr[s] = s ? 0 : st->pl_m;
        st->pl_busy[s] = 0;
    }
    pl_try(c, 0);
}

/* Stage s finished a micro-batch: its activations leave for stage s + 1;
 * the last stage's last one ends the step. [pl_stage_done] */
static void pl_stage_done(sim_comp *c, uint32_t s)
{
    inst_state *st = c->state;
    st->pl_busy[s] = 0;
    st->pl_next[s]++;
    st->cnt.pp_stage_busy_ps += st->pl_t;
    if (s + 1 < st->npar) {
        if (fabric_transfer_class(c->sim, FABRIC_CLASS_ACTIVATIONS, st->par_dev[s],
                                  st->par_dev[s + 1], st->pl_act, FABRIC_PATH_AUTO, c->id,
                                  INST_EV_PP_ACT, s + 1) == 0) {
            st->cnt.pp_act_transfers++;
            st->cnt.pp_act_bytes += st->pl_act;
        } else { /* refused: counted, and the activations arrive untimed */
            st->cnt.fabric_errors++;
            st->pl_arr[s + 1]++;
            pl_try(c, s + 1);
        }
    } else if (st->pl_next[s] == st->pl_m) {
        sim_time span = sim_now(c->sim) - st->step_began;
        st->cnt.pp_span_ps += span * st->npar;
        st->step_len = span + st->step_overhead;
        sim_schedule(c->sim, st->step_overhead, c->id, INST_EV_STEP, 0, 0);
    }
    pl_try(c, s);
}

/* The step's dispatch and combine of every MoE layer: one transfer per
 * ordered pair of EP ranks. [a2a_launch] */
static void a2a_launch(sim_comp *c, const llm_step *step)
{
    inst_state *st = c->state;
    uint32_t e = st->npar;
    double per_layer = llm_a2a_bytes(&st->model, (double)step->tokens, e);
    uint64_t pair = (uint64_t)llround(2.0 * st->model.moe_layers * per_layer /
                                      ((double)e * (double)(e - 1)));
    st->a2a_phase = A2A_MOVING;
    st->a2a_pending = 0;
    for (uint32_t i = 0; i < e; i++)
        for (uint32_t j = 0; j < e; j++) {
            if (i == j)
                continue;
            if (fabric_transfer_class(c->sim, FABRIC_CLASS_ALL_TO_ALL, st->par_dev[i],
                                      st->par_dev[j], pair, FABRIC_PATH_AUTO, c->id,
                                      INST_EV_A2A, 0) == 0) {
                st->a2a_pending++;
                st->cnt.a2a_transfers++;
                st->cnt.a2a_bytes += pair;
            } else {
                st->cnt.fabric_errors++;
            }
        }
    if (!st->a2a_pending) {
        st->a2a_phase = A2A_DONE;
        st->a2a_extra = 0;
    }
}

/* An all-to-all transfer landed; the last one fixes the step's end: its
 * compute time plus the time the fabric took. [a2a_done] */
static void a2a_done(sim_comp *c)
{
    inst_state *st = c->state;
    if (--st->a2a_pending)
        return;
    sim_time extra = sim_now(c->sim) - st->step_began;
    if (st->a2a_phase == A2A_MOVING) { /* the compute part is still running */
        st->a2a_phase = A2A_DONE;
        st->a2a_extra = extra;
    } else { /* A2A_WAITING: the compute part ended at step_began + step_len */
        st->a2a_phase = A2A_FINAL;
        sim_time end = st->step_began + st->step_len + extra;
        st->step_len += extra;
        sim_schedule(c->sim, end - sim_now(c->sim), c->id, INST_EV_STEP, 0, 0);
    }
}

/* Schedule `chunk` prompt tokens of r in the step, after the r->prefilled
 * already done: attention of the chunk over that prefix and itself, the
 * prefix's KV read from HBM or, for tokens kept in place, over CXL. */
static void step_prefill(const inst_state *st, inst_req *r, uint64_t chunk, llm_step *step)
{
    r->sched = (uint32_t)chunk;
    step->tokens += chunk;
    step->prefill_tokens += chunk;
    double o = r->prefilled, ch = (double)chunk;
    step->attn_pairs += ch * o + ch * (ch + 1) / 2;
    uint64_t dtok = r->direct_tokens ? direct_tokens_upto(st, r, r->prefilled) : 0;
    step->ctx_read += r->prefilled - dtok;
    step->cxl_bytes += dtok * st->kvbpt;
}

/* Compose and launch one step; nothing when there is no work. [compose] */
static void compose(sim_comp *c)
{
    inst_state *st = c->state;
    sim_time now = sim_now(c->sim);
    uint64_t budget = st->max_batched_tokens;
    llm_step step = {0, 0.0, 0, 0, 0, 0};
    int preempted = 0;
    if (st->scheduling == SCHED_PRIORITY)
        priority_preempt(c);
    for (uint32_t i = 0; i < st->nrun && budget > 0; i++) {
        inst_req *r = st->run[i];
        if (r->state == INST_LOADING) {
            if (r->ready_at > now || r->loads > 0)
                continue;
            r->state = r->resume ? r->resume : INST_PREFILL; /* a swap-in resumes */
            r->resume = 0;
        }
        if (r->state == INST_DECODE) {
            uint64_t ctx = (uint64_t)r->input + r->generated;
            uint64_t kk = 0; /* draft tokens to verify (speculation) */
            if (st->spec != SPEC_NONE) {
                kk = st->spec_k;
                if (kk > r->output - r->generated - 1) /* no drafts past the last token */
                    kk = r->output - r->generated - 1;
                if (kk > budget - 1)
                    kk = budget - 1;
            }
            /* blocks needed: min(ceil((ctx + kk) / block_tokens), n_ids), more
             * than pinned only when ctx + kk > pinned x block_tokens (once a
             * block, so the division is skipped the other steps) */
            uint32_t need = r->pinned;
            if (r->n_ids > r->pinned &&
                ctx + kk > (uint64_t)r->pinned * st->kv.block_tokens) {
                need = ceil_div(ctx + kk, st->kv.block_tokens);
                if (need > r->n_ids)
                    need = r->n_ids;
            }
            int self = 0;
            while (need > r->pinned) {
                kv_pin_result res;
                if (kv_grow(c, 1))
                    return;
                if (kv_store_pin(st->store, r->ids + r->pinned, 1, now, &res) == 0) {
                    r->pinned++;
                    st->logical_pinned++;
                    if (st->direct_tier && res.direct[st->direct_tier]) {
                        /* a block of generated tokens found in place after a
                         * preemption: its whole block is read (capped below) */
                        r->direct_tokens += st->kv.block_tokens;
                    }
                    if (st->direct_tier)
                        count_pin(st, &res);
                    (void)charge_moves(c, NULL, &res);
                    continue;
                }
                preempted = 1;
                uint32_t v = shortage_victim(st, i);
                if (v == i) {
                    self = 1;
                    break;
                }
                preempt_at(c, v);
            }
            if (self) {
                if (st->nrun == 1) {
                    /* Alone and still no room: it can never finish here. */
                    st->nrun--;
                    load_touch(st);
                    st->cnt.rejected++;
                    finish_req(c, r, INST_REJECTED);
                    break;
                }
                preempt_at(c, i);
                /* FCFS: r was the last, the loop ends. Priority: the
                 * requests after r (higher priority) move down one slot
                 * and are still to be scheduled (i wraps to 0 when 0). */
                i--;
                continue;
            }
            r->sched = (uint32_t)(1 + kk);
            budget -= 1 + kk;
            step.tokens += 1 + kk;
            step.decode_tokens += 1 + kk;
            /* k + 1 positions verified at once: keys ctx, ctx + 1, ..., ctx + k */
            if (kk == 0) /* the same value: 1.0 x ctx + 0.0 is ctx exactly */
                step.attn_pairs += (double)ctx;
            else
                step.attn_pairs +=
                    (double)(kk + 1) * (double)ctx + (double)(kk * (kk + 1) / 2);
            for (uint64_t j = 0; j < kk; j++) { /* draft round j proposes token ctx + j */
                st->spec_n[j]++;
                st->spec_ctx[j] += (double)(ctx + j);
            }
            uint64_t dtok = r->direct_tokens < ctx - 1 ? r->direct_tokens : ctx - 1;
            step.ctx_read += ctx - 1 - dtok;
            step.cxl_bytes += dtok * st->kvbpt;
        } else if (r->state == INST_PREFILL) {
            uint32_t pt = r->ptarget;
            uint64_t left = pt - r->prefilled;
            uint64_t chunk = left < budget ? left : budget;
            if (!st->chunked_prefill && chunk < left) {
                if (step.tokens)
                    continue;
                chunk = left; /* an oversized prompt gets a step of its own */
            }
            budget = chunk >= budget ? 0 : budget - chunk;
            step_prefill(st, r, chunk, &step);
        }
    }
    while (!preempted && budget > 0 && st->wait_head && st->nrun < st->max_seqs) {
        inst_req *r = st->wait_head;
        if (!admit(c, r))
            break;
        wait_pop_front(st);
        if (r->state != INST_PREFILL)
            continue;
        uint32_t pt = r->ptarget;
        uint64_t left = pt - r->prefilled;
        uint64_t chunk = left < budget ? left : budget;
        if (!st->chunked_prefill && chunk < left) {
            if (step.tokens)
                break; /* admitted; prefills whole in a later step */
            chunk = left;
        }
        budget = chunk >= budget ? 0 : budget - chunk;
        step_prefill(st, r, chunk, &step);
    }
    /* Sharing: references held vs distinct blocks, after the admissions. */
    uint64_t phys = kv_store_pinned_blocks(st->store);
    uint64_t in_hbm = st->logical_pinned; /* references held in HBM */
    if (st->direct_tier)
        in_hbm -= kv_store_inplace_refs(st->store);
    if (st->logical_pinned > st->peak_logical)
        st->peak_logical = st->logical_pinned;
    if (phys > st->peak_pinned)
        st->peak_pinned = phys;
    if (in_hbm - phys > st->peak_saved)
        st->peak_saved = in_hbm - phys;
    if (st->nwait > st->cnt.peak_waiting)
        st->cnt.peak_waiting = st->nwait;
    if (st->nrun > st->cnt.peak_running)
        st->cnt.peak_running = st->nrun;
    if (!step.tokens)
        return;
    sim_time dt = llm_step_time(&st->hw, &step);
    if (st->spec != SPEC_NONE) /* the draft rounds run before the verification */
        dt += draft_time(st);
    if (dt == 0)
        dt = 1;
    if (st->chunk_cb) /* prefill role: the chunks of this step start now */
        for (uint32_t i = 0; i < st->nrun; i++)
            if (st->run[i]->sched && st->run[i]->state == INST_PREFILL)
                st->chunk_cb(st->done_ctx, st->run[i], 0, st->run[i]->sched, dt);
    st->busy = 1;
    st->step_began = now;
    st->step_len = dt;
    st->cnt.steps++;
    if (step.cxl_bytes) { /* the KV read in place crosses the fabric during the step */
        st->cnt.direct_bytes += step.cxl_bytes;
        st->cnt.direct_steps++;
        st->step_timed_out = 0;
        if (!st->kv.free_transfers) {
            if (fabric_transfer_class(c->sim, FABRIC_CLASS_KV_DIRECT,
                                      st->tier_comp[st->direct_tier], st->dev_id, step.cxl_bytes,
                                      FABRIC_PATH_LOAD, c->id, INST_EV_DIRECT, 0) == 0)
                st->direct_wait = 1;
            else
                st->cnt.fabric_errors++;
        }
    }
    if (st->npar && st->pp_stages > 1) {
        pl_launch(c, &step);
        return; /* the pipeline's events end the step */
    }
    if (st->npar && st->ep > 1)
        a2a_launch(c, &step);
    if (st->um && managed_launch(c, dt))
        return; /* stalled on faults: managed_touched schedules the step */
    sim_schedule(c->sim, dt, c->id, INST_EV_STEP, 0, 0);
}

#ifndef NDEBUG
/* The invariants a step may break, checked in O(pinned blocks): every block
 * a running request holds is in HBM with a reference (so it cannot be
 * evicted), the references add up, no tier exceeds its capacity. */
static int check_step(const inst_state *st)
{
    uint64_t refs = 0;
    for (uint32_t i = 0; i < st->nrun; i++) {
        const inst_req *r = st->run[i];
        refs += r->pinned;
        for (uint32_t k = 0; k < r->pinned; k++) {
            if (st->direct_tier && kv_store_inplace_tier(st->store, r->ids[k]))
                continue; /* pinned in place in the CXL tier */
            if (!kv_store_contains(st->store, r->ids[k], 0) ||
                kv_store_refs(st->store, r->ids[k]) == 0)
                return 0;
        }
    }
    refs += st->outside_pins; /* handed off or reserved, outside the run list */
    if (refs != st->logical_pinned || kv_store_pinned_blocks(st->store) > refs)
        return 0;
    for (uint32_t t = 0; t < st->kv.ntiers; t++)
        if (kv_store_stats(st->store, t)->used > kv_store_capacity(st->store, t))
            return 0;
    return 1;
}
#endif

static void retry_reservations(sim_comp *c);

/* Apply the step that just ended. [step_end] */
static void step_end(sim_comp *c)
{
    inst_state *st = c->state;
    sim_time now = sim_now(c->sim);
    uint32_t w = 0;
    inst_req *handoff = NULL, **htail = &handoff; /* handed off in this step, in order */
    st->busy = 0;
    st->busy_ps += st->step_len;
    for (uint32_t i = 0; i < st->nrun; i++) {
        inst_req *r = st->run[i];
        uint32_t s = r->sched;
        int done = 0;
        if (s) {
            r->sched = 0;
            if (r->state == INST_PREFILL) {
                r->prefilled += s;
                st->outstanding -= s;
                load_touch(st);
                st->prompt_tokens_computed += s;
                if (st->chunk_cb)
                    st->chunk_cb(st->done_ctx, r, 1, s, 0);
                if (r->prefilled == r->ptarget && st->role == INST_ROLE_PREFILL) {
                    /* The prompt is done: its KV leaves for the decode
                     * instance; the blocks stay pinned until released. */
                    r->prefill_end = now;
                    r->state = INST_HANDOFF;
                    st->outside_pins += r->pinned;
                    st->cnt.handoffs++;
                    r->kv_next = NULL;
                    *htail = r;
                    htail = &r->kv_next;
                    continue;
                }
                if (r->prefilled == r->ptarget) {
                    /* The last chunk yields the next token (delivered after
                     * its CPU cost: token k at now + k x cpu_per_output_token). */
                    if (!r->generated)
                        r->first_token = now + st->cpu_out;
                    else
                        hist_add(&st->itl, now - r->last_token + st->cpu_out);
                    r->generated++;
                    st->outstanding--;
                    load_touch(st);
                    r->last_token = now;
                    r->state = INST_DECODE;
                    done = r->generated >= r->output;
                }
            } else if (r->state == INST_DECODE) {
                uint32_t n = 1;
                if (s > 1) { /* speculation: s - 1 draft tokens verified */
                    uint32_t kk = s - 1, j = 0;
                    while (j < kk && gsl_rng_uniform(c->rng) < r->spec_accept)
                        j++; /* accepted in order until the first rejection */
                    n = j + 1; /* plus the target's own token at the first rejection */
                    st->cnt.spec_verifies++;
                    st->cnt.spec_drafted += kk;
                    st->cnt.spec_accepted += j;
                    st->cnt.spec_emitted += n;
                    if (kk == st->spec_k) {
                        st->cnt.spec_full++;
                        st->cnt.spec_full_emitted += n;
                        st->cnt.spec_full_expected += r->spec_expect;
                        r->spec_full++;
                        r->spec_full_emitted += n;
                    }
                }
                r->generated += n;
                st->outstanding -= n;
                load_touch(st);
                st->decode_tokens += n;
                hist_add(&st->itl, now - r->last_token + st->cpu_out);
                for (uint32_t k = 1; k < n; k++) /* the others arrive with it (each after
                                                  * its own CPU cost) */
                    hist_add(&st->itl, st->cpu_out);
                r->last_token = now;
                done = r->generated >= r->output;
            }
        }
        if (done) {
            r->finish = now + (sim_time)r->generated * st->cpu_out;
            finish_req(c, r, INST_DONE);
        } else {
            st->run[w++] = r;
        }
    }
    st->nrun = w;
    load_touch(st);
    for (inst_req *r = handoff, *nx; r; r = nx) { /* the workload moves their KV */
        nx = r->kv_next;
        r->kv_next = NULL;
        if (st->done)
            st->done(st->done_ctx, r);
    }
    retry_reservations(c);
#ifndef NDEBUG
    /* After every step: the running requests' blocks are pinned in HBM and
     * no tier is over capacity (O(pinned blocks)); the full kv_store_check
     * (O(capacity)) every step for stores up to 16384 blocks, else every
     * 64th step. */
    assert(check_step(st));
    if (st->kv_blocks <= 16384 || (st->cnt.steps & 63) == 0) {
        assert(kv_store_check(st->store));
        if (st->kv.pool && st->kv.ntiers > 1)
            assert(kv_store_check(((const pool_state *)st->kv.pool->state)->store));
    }
#endif
    compose(c);
}

/* ---- disaggregation ----------------------------------------------------- */

static void kick(sim_comp *c)
{
    inst_state *st = c->state;
    if (!st->busy && !st->kick_pending) {
        st->kick_pending = 1;
        sim_schedule(c->sim, 0, c->id, INST_EV_WAKE, 0, 0);
    }
}

void inst_set_chunk_hook(sim_comp *c, inst_chunk_fn chunk)
{
    ((inst_state *)c->state)->chunk_cb = chunk;
}

void inst_release(sim_comp *c, inst_req *r)
{
    inst_state *st = c->state;
    assert(r->state == INST_HANDOFF);
    kv_store_unpin(st->store, r->ids, r->pinned, sim_now(c->sim));
    st->logical_pinned -= r->pinned;
    st->outside_pins -= r->pinned;
    r->pinned = 0;
    r->direct_tokens = 0;
    kick(c); /* freed blocks may admit waiting prompts */
}

/* Blocks of r's prompt. */
static uint32_t prompt_blocks(const inst_state *st, const inst_req *r)
{
    uint32_t nb = ceil_div(r->input, st->kv.block_tokens);
    return nb > r->n_ids ? r->n_ids : nb;
}

/* Reserve r's prompt blocks now if there is room (1), else 0. */
static int try_reserve(sim_comp *c, inst_req *r)
{
    inst_state *st = c->state;
    uint32_t nb = prompt_blocks(st, r);
    if (st->nrun + st->nreserved >= st->max_seqs || !kv_store_can_pin(st->store, r->ids, nb))
        return 0;
    kv_pin_result res;
    memset(&res, 0, sizeof res);
    if (kv_grow(c, nb) || kv_store_pin(st->store, r->ids, nb, sim_now(c->sim), &res) != 0)
        return 0;
    (void)charge_moves(c, NULL, &res); /* lower-tier hits promoted, write-backs demoted */
    if (st->direct_tier) {
        count_pin(st, &res);
        r->direct_tokens = res.direct[st->direct_tier] ? direct_tokens_of(st, r, nb) : 0;
    }
    uint32_t hit = st->kv.prefix_caching ? res.hit_blocks : 0;
    r->kv_hit = hit < r->n_prompt ? hit : r->n_prompt;
    r->kv_pinned = nb;
    r->kv_reserved = 1;
    st->logical_pinned += nb;
    st->outside_pins += nb;
    st->nreserved++;
    load_touch(st);
    st->cnt.reserved++;
    return 1;
}

int inst_reserve(sim_comp *c, inst_req *r, inst_reserved_fn reserved)
{
    inst_state *st = c->state;
    st->reserved_cb = reserved;
    if (prompt_blocks(st, r) + 1 > st->kv_blocks)
        return -1;
    if (!st->kv_head && try_reserve(c, r))
        return 1;
    st->cnt.reserve_waits++;
    r->kv_next = NULL;
    if (st->kv_tail)
        st->kv_tail->kv_next = r;
    else
        st->kv_head = r;
    st->kv_tail = r;
    if (++st->nkv > st->cnt.peak_reserve_queue)
        st->cnt.peak_reserve_queue = st->nkv;
    load_touch(st);
    return 0;
}

/* Grant waiting reservations in FIFO order while there is room. */
static void retry_reservations(sim_comp *c)
{
    inst_state *st = c->state;
    while (st->kv_head && try_reserve(c, st->kv_head)) {
        inst_req *r = st->kv_head;
        st->kv_head = r->kv_next;
        if (!st->kv_head)
            st->kv_tail = NULL;
        r->kv_next = NULL;
        st->nkv--;
        load_touch(st);
        if (st->reserved_cb)
            st->reserved_cb(st->done_ctx, r);
    }
}

void inst_start_decode(sim_comp *c, inst_req *r)
{
    inst_state *st = c->state;
    sim_time now = sim_now(c->sim);
    assert(r->kv_reserved && st->nreserved > 0);
    st->nreserved--;
    load_touch(st);
    st->outside_pins -= r->kv_pinned;
    r->kv_reserved = 0;
    r->pinned = r->kv_pinned;
    r->kv_pinned = 0;
    r->ptarget = r->prefilled = r->input;
    r->generated = 1; /* the prefill's token, delivered with the KV */
    r->sched = 0;
    r->first_token = r->last_token = now;
    r->admitted_once = 1;
    r->state = INST_DECODE;
    spec_assign(c, r);
    st->outstanding += r->output - 1;
    load_touch(st);
    if (r->output <= 1) {
        r->finish = now;
        finish_req(c, r, INST_DONE);
        retry_reservations(c);
        return;
    }
    st->run[st->nrun++] = r;
    load_touch(st);
    kick(c);
}

int inst_role(sim_comp *c) { return ((inst_state *)c->state)->role; }
uint64_t inst_kv_bytes_per_token(sim_comp *c) { return ((inst_state *)c->state)->kvbpt; }
uint32_t inst_device(sim_comp *c) { return ((inst_state *)c->state)->dev_id; }
uint64_t inst_reserve_waiting(sim_comp *c) { return ((inst_state *)c->state)->nkv; }
uint64_t inst_load(sim_comp *c)
{
    inst_state *st = c->state;
    return st->outstanding + st->nkv + st->nreserved;
}
uint64_t inst_free_blocks(sim_comp *c)
{
    inst_state *st = c->state;
    return kv_store_free_blocks(st->store) + kv_store_evictable_blocks(st->store);
}

static void enqueue(sim_comp *c, inst_req *r);

void inst_submit(sim_comp *c, inst_req *r)
{
    inst_state *st = c->state;
    r->state = INST_WAITING;
    r->pinned = r->prefilled = r->generated = r->sched = 0;
    r->ptarget = r->input;
    r->admitted_once = 0;
    r->loads = 0;
    r->direct_tokens = 0;
    r->preemptions = 0;
    r->first_token = r->last_token = r->finish = 0;
    r->cached = r->hit_blocks = r->hit_lower = 0;
    r->swapped = r->resume = 0;
    spec_assign(c, r);
    /* A request that cannot fit even alone is rejected at once (a prefill
     * instance holds only the prompt). */
    if ((st->role == INST_ROLE_PREFILL ? r->n_prompt : r->n_ids) > st->kv_blocks) {
        st->cnt.rejected++;
        r->state = INST_REJECTED;
        if (st->done)
            st->done(st->done_ctx, r);
        return;
    }
    /* counted in the instance's load at once (the router sees it) */
    st->outstanding += (uint64_t)r->input + (st->role == INST_ROLE_PREFILL ? 0 : r->output);
    load_touch(st);
    sim_time cpu = st->cpu_req + (sim_time)r->input * st->cpu_in;
    if (cpu) { /* BLIS's queueing time: the request joins the queue after it */
        sim_schedule(c->sim, cpu, c->id, INST_EV_QUEUE, (uint64_t)(uintptr_t)r, 0);
        return;
    }
    enqueue(c, r);
}

/* r joins the waiting queue now. */
static void enqueue(sim_comp *c, inst_req *r)
{
    inst_state *st = c->state;
    wait_enqueue(st, r, 0);
    if (!st->busy && !st->kick_pending) {
        /* Start at this time, after every arrival of this instant. */
        st->kick_pending = 1;
        sim_schedule(c->sim, 0, c->id, INST_EV_WAKE, 0, 0);
    }
}

static void inst_handle(sim_comp *c, const sim_event *e)
{
    inst_state *st = c->state;
    if (e->kind == INST_EV_STEP) {
        if (st->a2a_phase == A2A_MOVING) { /* compute done; the all-to-all is not */
            st->a2a_phase = A2A_WAITING;
            return;
        }
        if (st->a2a_phase == A2A_DONE) { /* then the all-to-all's time, in sequence */
            st->a2a_phase = A2A_FINAL;
            st->step_len += st->a2a_extra;
            sim_schedule(c->sim, st->a2a_extra, c->id, INST_EV_STEP, 0, 0);
            return;
        }
        st->a2a_phase = A2A_NONE;
        if (st->direct_wait) { /* the roofline time is up; the KV reads are not */
            st->step_timed_out = 1;
            return;
        }
        step_end(c);
    } else if (e->kind == INST_EV_DIRECT) {
        st->direct_wait = 0;
        if (st->step_timed_out) { /* the fabric was the slower: the step ends now */
            st->step_timed_out = 0;
            st->step_len = sim_now(c->sim) - st->step_began;
            step_end(c);
        }
    } else if (e->kind == INST_EV_PP_STAGE) {
        pl_stage_done(c, (uint32_t)e->a0);
    } else if (e->kind == INST_EV_PP_ACT) {
        st->pl_arr[e->a0]++;
        pl_try(c, (uint32_t)e->a0);
    } else if (e->kind == INST_EV_A2A) {
        a2a_done(c);
    } else if (e->kind == INST_EV_INVAL) {
        /* a batch of back-invalidations (or their responses) arrived */
    } else if (e->kind == INST_EV_WAKE) {
        st->kick_pending = 0;
        if (!st->busy)
            compose(c);
    } else if (e->kind == INST_EV_MOVED) {
        move_done(c, (uint32_t)e->a0);
        if (!st->busy)
            compose(c);
    } else if (e->kind == INST_EV_TOUCHED) {
        managed_touched(c, (sim_time)e->a1);
    } else if (e->kind == INST_EV_QUEUE) {
        enqueue(c, (inst_req *)(uintptr_t)e->a0);
    }
}

/* Seconds to prefill `tokens` in steps of `per` tokens beside `dec`
 * decode tokens (inst_predict_ttft). */
static double prefill_estimate(const inst_state *st, uint64_t tokens, uint64_t per, uint64_t dec)
{
    double t = 0;
    while (tokens > 0) {
        uint64_t n = tokens < per ? tokens : per;
        llm_step p = {n + dec, (double)n * ((double)n + 1) / 2 + (double)dec, 0, 0, n, dec};
        t += llm_step_seconds(&st->hw, &p, NULL, NULL, NULL);
        tokens -= n;
    }
    return t;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int inst_priority_scheduling(sim_comp *c)
{
    return ((inst_state *)c->state)->scheduling == SCHED_PRIORITY;
}

double inst_predict_ttft(sim_comp *c, const inst_req *r)
{
    inst_state *st = c->state;
    sim_time now = sim_now(c->sim);
    /* its own CPU costs: before the queue, and its first token's */
    double t = sim_time_to_s(st->cpu_req + (sim_time)r->input * st->cpu_in + st->cpu_out);
    if (st->busy && st->step_began + st->step_len > now)
        t += sim_time_to_s(st->step_began + st->step_len - now);
    uint64_t ahead = 0, dec = 0, ctx = 0, need = 0, yield = 0;
    for (uint32_t i = 0; i < st->nrun; i++) {
        const inst_req *q = st->run[i];
        if (st->scheduling == SCHED_PRIORITY && q->priority < r->priority)
            yield += q->pinned; /* r would preempt it for its blocks */
        else if (q->n_ids > q->pinned) /* the blocks its remaining tokens will take */
            need += q->n_ids - q->pinned;
        if (q->state == INST_DECODE) {
            dec++;
            ctx += (uint64_t)q->input + q->generated;
        } else if (q->ptarget > q->prefilled + q->sched) {
            ahead += q->ptarget - q->prefilled - q->sched;
        }
    }
    for (const inst_req *q = st->wait_head; q; q = q->next)
        if (st->scheduling != SCHED_PRIORITY || q->priority >= r->priority) {
            ahead += q->ptarget - q->prefilled;
            need += admit_blocks(st, q);
        }
    uint64_t hit = (uint64_t)r->predicted * st->kv.block_tokens;
    uint64_t own = r->input - (hit < r->input ? hit : r->input - 1);
    need += ceil_div(r->input, st->kv.block_tokens);
    ahead += own;
    uint64_t per = st->max_batched_tokens > dec ? st->max_batched_tokens - dec
                                                : st->max_batched_tokens;
    if (!st->chunked_prefill && per < ahead)
        per = ahead; /* whole prompts: one long step (an approximation) */
    double compute = prefill_estimate(st, ahead, per, dec);
    /* KV room: blocks the queue ahead and r need beyond the free and
     * evictable ones (less the watermark) come back as running requests
     * finish; the one that frees enough finishes after its remaining
     * tokens' decode steps at the present decode step time. */
    uint64_t avail = kv_store_free_blocks(st->store) + kv_store_evictable_blocks(st->store) +
                     yield;
    uint64_t mark = (uint64_t)(st->kv_watermark * (double)st->kv_blocks);
    avail = avail > mark ? avail - mark : 0;
    if (need > avail && st->nrun > 0) {
        if (st->nrun > st->pred_cap) {
            uint64_t *p = sim_realloc(st->pred_scratch, st->max_seqs * sizeof *p);
            if (!p)
                return t + compute;
            st->pred_scratch = p;
            st->pred_cap = (uint32_t)st->max_seqs;
        }
        uint32_t n = 0;
        for (uint32_t i = 0; i < st->nrun; i++) {
            const inst_req *q = st->run[i];
            uint64_t left = remaining(st, q) - q->sched; /* after the step in flight */
            /* remaining tokens, a decoding flag, blocks (< 2^31: the store's size) */
            st->pred_scratch[n++] = (left > UINT32_MAX ? UINT32_MAX : left) << 32 |
                                    (uint64_t)(q->state == INST_DECODE) << 31 |
                                    (q->pinned & 0x7fffffffu);
        }
        qsort(st->pred_scratch, n, sizeof *st->pred_scratch, cmp_u64);
        uint64_t freed = 0, dec_after = dec;
        double steps = 0;
        for (uint32_t i = 0; i < n && avail + freed < need; i++) {
            freed += st->pred_scratch[i] & 0x7fffffffu;
            dec_after -= (st->pred_scratch[i] >> 31) & 1;
            steps = (double)(st->pred_scratch[i] >> 32);
        }
        if (avail + freed < need) {
            /* more than the whole batch must turn over: the rest at the
             * batch's release rate, sum of blocks / output tokens per step */
            double rate = 0;
            for (uint32_t i = 0; i < st->nrun; i++)
                rate += (double)st->run[i]->pinned / (double)st->run[i]->output;
            if (rate > 0)
                steps += (double)(need - avail - freed) / rate;
        }
        llm_step d = {dec, (double)ctx, ctx > dec ? ctx - dec : 0, 0, 0, dec};
        double drain = steps * (dec ? llm_step_seconds(&st->hw, &d, NULL, NULL, NULL)
                                            : 0) +
                       prefill_estimate(st, ahead, per, dec_after);
        if (drain > compute)
            compute = drain;
    }
    return t + compute;
}

/* The view's load fields (every field but the prefix match). The routing
 * index is told (load_touch) whenever one of them may change: outstanding,
 * nwait, nkv, nrun, nreserved, and tier 0's occupancy (the store's use
 * hook), and on a decode instance its evictable count (inst_free_blocks;
 * the store's evictable hook); kv_blocks is fixed once the store exists. */
static void load_fields(const inst_state *st, memfab_instance_view *v)
{
    v->index = st->index;
    v->outstanding_tokens = st->outstanding;
    v->waiting = st->nwait + (uint32_t)st->nkv; /* decode role: reservations waiting */
    v->running = st->nrun + st->nreserved;
    v->kv_free_blocks = kv_store_free_blocks(st->store);
    v->kv_total_blocks = st->kv_blocks;
}

static void load_view(const inst_state *st, memfab_instance_view *v)
{
    memset(v, 0, sizeof *v);
    load_fields(st, v);
    v->ntiers = st->kv.ntiers;
    for (uint32_t t = 0; t < st->kv.ntiers; t++)
        v->tier_weight[t] = st->kv.tiers[t].weight > 0 ? st->kv.tiers[t].weight
                                                        : 1.0 / (double)(1u << t);
}

void inst_view(sim_comp *c, const inst_req *r, memfab_instance_view *v)
{
    inst_state *st = c->state;
    load_view(st, v);
    if (st->kv.prefix_caching)
        v->prefix_blocks = kv_store_match(st->store, r->ids, r->n_prompt, v->prefix_by_tier);
}

void inst_load_view(sim_comp *c, memfab_instance_view *v) { load_view(c->state, v); }

void inst_take_load(sim_comp *c, memfab_instance_view *v)
{
    inst_state *st = c->state;
    st->load_dirty = 0;
    load_fields(st, v);
}

static void use_touch(void *ctx) { load_touch(ctx); }

int inst_set_route_hooks(sim_comp *c, inst_load_fn load, kv_index_fn block, void *ctx)
{
    inst_state *st = c->state;
    if (st->kv.prefix_caching && (!st->store || (st->kv.pool && st->kv.ntiers > 1)))
        return -1; /* matches would see a shared pool or no store */
    for (uint32_t t = 0; st->store && t < kv_store_ntiers(st->store); t++)
        if (kv_store_stats(st->store, t)->used)
            return -1; /* the index would miss the blocks already there */
    st->on_load = load;
    st->route_ctx = ctx;
    st->load_dirty = 0;
    if (st->kv.prefix_caching)
        kv_store_set_index_hook(st->store, block, ctx);
    if (st->store)
        kv_store_set_use_hook(st->store, load ? use_touch : NULL, load ? st : NULL);
    if (st->store && st->role == INST_ROLE_DECODE) /* inst_free_blocks counts evictable */
        kv_store_set_evictable_hook(st->store, load ? use_touch : NULL, load ? st : NULL);
    return 0;
}

uint64_t inst_take_outstanding(sim_comp *c)
{
    inst_state *st = c->state;
    st->load_dirty = 0;
    return st->outstanding;
}

static void inst_sample(sim_comp *c, sim_time now)
{
    inst_state *st = c->state;
    sim_report_timeseries(c->sim, c->name, "waiting", now, (double)st->nwait);
    sim_report_timeseries(c->sim, c->name, "running", now, (double)st->nrun);
    if (!st->store)
        return;
    uint32_t own = st->kv.pool ? 1 : st->kv.ntiers; /* the pool samples its tiers */
    for (uint32_t t = 0; t < own; t++) {
        char name[160];
        snprintf(name, sizeof name, "kv_used:%s", st->kv.tiers[t].name);
        sim_report_timeseries(c->sim, c->name, name, now,
                              (double)kv_store_stats(st->store, t)->used);
    }
}

/* Busy time up to now: a step still in flight counts only up to now, so
 * a run stopped mid-step keeps utilization <= 1 (as link.c does). */
static sim_time busy_until(const inst_state *st, sim_time now)
{
    sim_time b = st->busy_ps;
    if (st->busy && now > st->step_began)
        b += now - st->step_began < st->step_len ? now - st->step_began : st->step_len;
    return b;
}

static int inst_finish(sim_comp *c, sim_err *err)
{
    inst_state *st = c->state;
    sim *s = c->sim;
    double el = sim_time_to_s(sim_now(s));
    sim_report_metric(s, c->name, "kv_bytes_per_token", (double)st->kvbpt, "B");
    sim_report_metric(s, c->name, "kv_capacity_blocks", (double)st->kv_blocks, "blocks");
    if (st->kv_capacity == KVCAP_VLLM) /* vLLM's available_kv_cache_memory */
        sim_report_metric(s, c->name, "kv_memory_per_gpu", st->kv_gpu_bytes, "B");
    sim_report_metric(s, c->name, "kv_capacity_tokens",
                      (double)st->kv_blocks * st->kv.block_tokens, "tokens");
    sim_report_metric(s, c->name, "steps", (double)st->cnt.steps, "steps");
    if (st->role == INST_ROLE_PREFILL)
        sim_report_metric(s, c->name, "handoffs", (double)st->cnt.handoffs, "requests");
    if (st->role == INST_ROLE_DECODE) {
        sim_report_metric(s, c->name, "kv_reservations", (double)st->cnt.reserved, "requests");
        sim_report_metric(s, c->name, "kv_reservation_waits", (double)st->cnt.reserve_waits,
                          "requests");
        sim_report_metric(s, c->name, "kv_reservation_queue_peak",
                          (double)st->cnt.peak_reserve_queue, "requests");
        sim_report_metric(s, c->name, "kv_reservation_queue_at_end", (double)st->nkv,
                          "requests");
    }
    sim_report_metric(s, c->name, "utilization", el > 0 ? sim_time_to_s(busy_until(st, sim_now(s))) / el : 0,
                      "");
    /* the GPUs' energy over the run (llm_model.h): tp x (idle T + (peak - idle) busy) */
    double gpu_j = (double)st->tp * (double)st->pp_stages *
                   llm_gpu_energy_j(&st->gpu, sim_time_to_s(busy_until(st, sim_now(s))), el);
    sim_report_metric(s, c->name, "gpu_power_mean", el > 0 ? gpu_j / el : 0, "W");
    sim_report_energy(s, c->name, 0.0, gpu_j);
    if (st->pp_stages > 1) {
        /* the closed form's bubble (t_act = 0), or the one the events played */
        uint32_t m = st->hw.microbatches, p = (uint32_t)st->pp_stages;
        double bub = st->npar ? (st->cnt.pp_span_ps
                                     ? 1.0 - (double)st->cnt.pp_stage_busy_ps /
                                                 (double)st->cnt.pp_span_ps
                                     : 0)
                              : (double)(p - 1) / (double)(m + p - 1);
        sim_report_metric(s, c->name, "pp_bubble_fraction", bub, "");
        sim_report_metric(s, c->name, "pp_activation_bytes", (double)st->cnt.pp_act_bytes, "B");
        sim_report_metric(s, c->name, "pp_activation_transfers",
                          (double)st->cnt.pp_act_transfers, "transfers");
    }
    if (st->ep > 1) {
        sim_report_metric(s, c->name, "ep_all_to_all_bytes", (double)st->cnt.a2a_bytes, "B");
        sim_report_metric(s, c->name, "ep_all_to_all_transfers", (double)st->cnt.a2a_transfers,
                          "transfers");
    }
    sim_report_metric(s, c->name, "preemptions", (double)st->cnt.preemptions, "requests");
    if (st->preemption != PREEMPT_RECOMPUTE) {
        sim_report_metric(s, c->name, "swap_outs", (double)st->cnt.swap_outs, "requests");
        sim_report_metric(s, c->name, "swap_ins", (double)st->cnt.swap_ins, "requests");
        sim_report_metric(s, c->name, "recomputes",
                          (double)(st->cnt.preemptions - st->cnt.swap_outs), "requests");
        sim_report_metric(s, c->name, "swap_out_bytes", (double)st->cnt.swap_out_bytes, "B");
        sim_report_metric(s, c->name, "swap_in_bytes", (double)st->cnt.swap_in_bytes, "B");
        sim_report_metric(s, c->name, "swap_fallbacks", (double)st->cnt.swap_fallbacks,
                          "requests");
    }
    if (st->spec != SPEC_NONE) {
        const inst_counters *k = &st->cnt;
        double a = st->spec_accept, kk = (double)st->spec_k;
        sim_report_metric(s, c->name, "spec_verifications", (double)k->spec_verifies, "steps");
        sim_report_metric(s, c->name, "spec_draft_tokens", (double)k->spec_drafted, "tokens");
        sim_report_metric(s, c->name, "spec_accepted_tokens", (double)k->spec_accepted,
                          "tokens");
        sim_report_metric(s, c->name, "spec_acceptance_measured",
                          k->spec_drafted ? (double)k->spec_accepted / k->spec_drafted : 0, "");
        sim_report_metric(s, c->name, "spec_tokens_per_verification",
                          k->spec_full ? (double)k->spec_full_emitted / k->spec_full : 0,
                          "tokens");
        if (st->spec_dist == SPEC_DIST_FIXED) {
            sim_report_metric(s, c->name, "spec_tokens_per_verification_expected",
                              spec_expected(a, kk), "tokens");
        } else {
            /* rates per request: the pooled expectation weighs each request's
             * formula by its full verifications; the per-request mean is the
             * plain mean of the formula over the requests' rates */
            sim_report_metric(s, c->name, "spec_tokens_per_verification_expected",
                              k->spec_full ? k->spec_full_expected / k->spec_full : 0, "tokens");
            sim_report_metric(s, c->name, "spec_acceptance_drawn_mean",
                              k->spec_drawn ? k->spec_drawn_sum / k->spec_drawn : 0, "");
            sim_report_metric(s, c->name, "spec_tokens_per_verification_request_mean",
                              k->spec_requests ? k->spec_req_measured_sum / k->spec_requests
                                               : 0, "tokens");
            sim_report_metric(s, c->name, "spec_tokens_per_verification_request_mean_expected",
                              k->spec_requests ? k->spec_req_expected_sum / k->spec_requests
                                               : 0, "tokens");
        }
        sim_report_metric(s, c->name, "spec_draft_time", sim_time_to_s(k->spec_draft_ps), "s");
    }
    if (st->scheduling == SCHED_PRIORITY)
        sim_report_metric(s, c->name, "priority_preemptions",
                          (double)st->cnt.priority_preemptions, "requests");
    sim_report_metric(s, c->name, "rejected", (double)st->cnt.rejected, "requests");
    sim_report_metric(s, c->name, "peak_waiting", (double)st->cnt.peak_waiting, "requests");
    sim_report_metric(s, c->name, "peak_running", (double)st->cnt.peak_running, "requests");
    sim_report_metric(s, c->name, "prefill_tokens_computed", (double)st->prompt_tokens_computed,
                      "tokens");
    sim_report_metric(s, c->name, "prefix_hit_ratio_blocks",
                      st->prompt_blocks ? (double)st->hit_blocks / st->prompt_blocks : 0, "");
    sim_report_metric(s, c->name, "prefix_hit_ratio_tokens",
                      st->input_tokens ? (double)st->cached_tokens / st->input_tokens : 0, "");
    sim_report_metric(s, c->name, "kv_load_bytes", (double)st->cnt.load_bytes, "B");
    sim_report_metric(s, c->name, "kv_offload_bytes", (double)st->cnt.offload_bytes, "B");
    sim_report_metric(s, c->name, "kv_bytes_reused", (double)st->hit_blocks * st->block_bytes,
                      "B");
    sim_report_metric(s, c->name, "kv_peak_references", (double)st->peak_logical, "blocks");
    sim_report_metric(s, c->name, "kv_peak_pinned", (double)st->peak_pinned, "blocks");
    sim_report_metric(s, c->name, "kv_bytes_saved_by_sharing",
                      (double)st->peak_saved * st->block_bytes, "B");
    sim_report_metric(s, c->name, "kv_fabric_moves", (double)st->cnt.fabric_moves, "transfers");
    sim_report_metric(s, c->name, "kv_fabric_errors", (double)st->cnt.fabric_errors, "transfers");
    sim_report_metric(s, c->name, "kv_load_wait", sim_time_to_s(st->cnt.load_wait_ps), "s");
    if (st->direct_tier) { /* copy-free access (cxl_access direct / auto) */
        sim_report_metric(s, c->name, "kv_direct_blocks", (double)st->cnt.direct_blocks,
                          "blocks");
        sim_report_metric(s, c->name, "kv_copies_avoided", (double)st->cnt.direct_blocks,
                          "copies");
        sim_report_metric(s, c->name, "kv_direct_bytes", (double)st->cnt.direct_bytes, "B");
        sim_report_metric(s, c->name, "kv_direct_steps", (double)st->cnt.direct_steps, "steps");
        sim_report_metric(s, c->name, "kv_promoted_blocks", (double)st->cnt.promoted_blocks,
                          "blocks");
        sim_report_metric(s, c->name, "kv_copied_bytes",
                          (double)st->cnt.promoted_blocks * st->block_bytes, "B");
        if (!st->kv.pool) {
            char dir[160];
            snprintf(dir, sizeof dir, "%s:%s", c->name, st->kv.tiers[st->direct_tier].name);
            sim_report_metric(s, c->name, "kv_invalidations", (double)st->cnt.inval_msgs,
                              "messages");
            sim_report_coherence(s, dir, "BISnpInv", st->cnt.inval_msgs);
            sim_report_coherence(s, dir, "BIRsp", st->cnt.inval_msgs);
        }
    }
    managed_report(c);
    if (st->store) {
        for (uint32_t t = 0; t < st->kv.ntiers; t++) {
            const kv_tier_stats *ts = kv_store_stats(st->store, t);
            const char *tn = st->kv.tiers[t].name;
            char name[160];
            if (t == 0 || !st->kv.pool) { /* the pool reports its tiers' occupancy */
                snprintf(name, sizeof name, "kv_peak_blocks:%s", tn);
                sim_report_metric(s, c->name, name, (double)ts->peak, "blocks");
                snprintf(name, sizeof name, "kv_peak_bytes:%s", tn);
                sim_report_metric(s, c->name, name, (double)ts->peak * st->block_bytes, "B");
            }
            snprintf(name, sizeof name, "kv_bytes_in:%s", tn);
            sim_report_metric(s, c->name, name, (double)ts->blocks_in * st->block_bytes, "B");
            snprintf(name, sizeof name, "kv_bytes_out:%s", tn);
            sim_report_metric(s, c->name, name, (double)ts->blocks_out * st->block_bytes, "B");
            sim_report_kv(s, c->name, st->kv.tiers[t].name, ts->hits, ts->misses, ts->evictions,
                          ts->blocks_in * st->block_bytes, ts->blocks_out * st->block_bytes);
        }
    }
    return 0;
}

static void inst_destroy(sim_comp *c)
{
    inst_state *st = c->state;
    kv_store_free(st->store);
    step_table_free(st->table);
    sim_free(st->run);
    sim_free(st->moves);
    sim_free(st->mr);
    sim_free(st->pred_scratch);
    sim_free(st->spec_values);
}

/* Headline metrics of the run summary (sim_model.headline). */
static const char *const llm_instance_headline[] = {"utilization", "prefix_hit_ratio_tokens", "preemptions", NULL};

/* Time series of sim_model.series. */
static const sim_series llm_instance_series[] = {
    {"waiting", "requests", "requests queued for admission"},
    {"running", "requests", "requests in the running batch"},
    {"kv_used:*", "B", "KV bytes held in a tier"},
    {NULL, NULL, NULL}};

const sim_model llm_instance_model = {
    .type = "llm_instance",
    .summary = "GPU serving instance: vLLM-style continuous batching, chunked prefill, "
               "preemption (recompute or swap over the fabric), speculative decoding, "
               "roofline step time, KV block store with prefix caching",
    .params = inst_params,
    .keys = inst_keys,
    .state_size = sizeof(inst_state),
    .configure = inst_configure,
    .start = inst_start,
    .handle = inst_handle,
    .sample = inst_sample,
    .series = llm_instance_series,
    .finish = inst_finish,
    .destroy = inst_destroy,
    .headline = llm_instance_headline,
};

/* ---- the shared pool of scope global ----------------------------------- */

static void pool_sample(sim_comp *c, sim_time now)
{
    pool_state *ps = c->state;
    for (uint32_t t = 0; ps->store && t < ps->ntiers; t++) {
        char name[160];
        snprintf(name, sizeof name, "kv_used:%s", ps->names[t]);
        sim_report_timeseries(c->sim, c->name, name, now,
                              (double)kv_store_stats(ps->store, t)->used);
    }
}

static int pool_finish(sim_comp *c, sim_err *err)
{
    (void)err;
    pool_state *ps = c->state;
    sim *s = c->sim;
    int direct = 0;
    for (uint32_t k = 0; k < 64; k++)
        direct |= ps->readers[k] != NULL;
    for (uint32_t t = 0; direct && ps->store && t < ps->ntiers; t++) {
        inst_state *st = ps->readers[0] ? ps->readers[0]->state : NULL;
        if (!st || st->direct_tier != 1 + t)
            continue;
        char dir[160];
        snprintf(dir, sizeof dir, "%s:%s", c->name, ps->names[t]);
        sim_report_metric(s, c->name, "kv_invalidations", (double)ps->inval_msgs, "messages");
        sim_report_metric(s, c->name, "kv_invalidated_blocks",
                          (double)kv_store_stats(ps->store, t)->invalidated, "blocks");
        sim_report_coherence(s, dir, "BISnpInv", ps->inval_msgs);
        sim_report_coherence(s, dir, "BIRsp", ps->inval_msgs);
    }
    for (uint32_t t = 0; ps->store && t < ps->ntiers; t++) {
        const kv_tier_stats *ts = kv_store_stats(ps->store, t);
        const char *tn = ps->names[t];
        uint64_t bb = ps->block_bytes;
        char name[160];
        snprintf(name, sizeof name, "kv_capacity_blocks:%s", tn);
        sim_report_metric(s, c->name, name, (double)kv_store_capacity(ps->store, t), "blocks");
        snprintf(name, sizeof name, "kv_peak_blocks:%s", tn);
        sim_report_metric(s, c->name, name, (double)ts->peak, "blocks");
        snprintf(name, sizeof name, "kv_peak_bytes:%s", tn);
        sim_report_metric(s, c->name, name, (double)ts->peak * bb, "B");
        snprintf(name, sizeof name, "kv_bytes_in:%s", tn);
        sim_report_metric(s, c->name, name, (double)ts->blocks_in * bb, "B");
        snprintf(name, sizeof name, "kv_bytes_out:%s", tn);
        sim_report_metric(s, c->name, name, (double)ts->blocks_out * bb, "B");
        sim_report_kv(s, c->name, tn, ts->hits, ts->misses, ts->evictions, ts->blocks_in * bb,
                      ts->blocks_out * bb);
    }
    return 0;
}

static void pool_destroy(sim_comp *c)
{
    pool_state *ps = c->state;
    kv_store_free(ps->store); /* the instances' stores never free it */
    ps->store = NULL;
}

static const sim_param pool_params[] = {{NULL, 0, NULL, NULL, NULL, 0, NULL}};

/* Not in the registry: the serving builder adds it for `kv: {scope: global}`. */
/* Time series of sim_model.series. */
static const sim_series llm_kv_pool_series[] = {
    {"kv_used:*", "B", "KV bytes held in a tier of the shared pool"},
    {NULL, NULL, NULL}};

static const sim_model llm_kv_pool_model = {
    .type = "llm_kv_pool",
    .summary = "KV lower tiers shared by every llm_instance (kv scope: global)",
    .params = pool_params,
    .state_size = sizeof(pool_state),
    .sample = pool_sample,
    .series = llm_kv_pool_series,
    .finish = pool_finish,
    .destroy = pool_destroy,
};

sim_comp *inst_pool_add(sim *s, const char *name, sim_err *err)
{
    if (sim_find(s, name)) {
        sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0,
                    "kv scope global: the pool's name '%s' is taken by a component", name);
        return NULL;
    }
    return sim_add(s, &llm_kv_pool_model, name, NULL, err);
}

/* ---- managed KV (kv_memory: managed) ---------------------------------------
 *
 * The KV cache lives in a CUDA managed allocation, the `um` component named
 * by `managed:` (driver: external), instead of explicit tiers: the block
 * store has one tier whose capacity is the allocation (footprint / block
 * bytes, which may exceed HBM), and no copy is ever issued for it. Block
 * slot k of the store is bytes [k x block_bytes, (k + 1) x block_bytes) of
 * the allocation (a block's layers contiguous: a stated simplification of
 * vLLM's per-layer layout). Each step touches, before it computes, the KV
 * it reads (the cached context of every scheduled request) and writes (the
 * tokens it appends) [managed_launch -> um_touch]; pages that are not
 * GPU-resident fault and are serviced by the UVM driver model (fault
 * batches, 2 MiB VA blocks, the tree prefetcher, LRU eviction with
 * write-back under oversubscription, migrations as fabric DMA transfers
 * sharing the PCIe links). The step's compute starts when the last batch
 * is serviced [managed_touched]: the stall is part of the step, hence of
 * TTFT and TPOT. A step whose pages are all resident starts at once, so a
 * warm working set inside HBM times exactly as explicit tiers do.
 */

static int managed_start(sim_comp *c, sim_err *err)
{
    inst_state *st = c->state;
    const scn_node *mn = c->node ? scn_map_get(c->node, "managed") : NULL;
    const scn_node *kn = c->node ? scn_map_get(c->node, "kv_memory") : NULL;
    sim_comp *u = st->managed && *st->managed ? sim_find(c->sim, st->managed) : NULL;
    um_region info;
    if (!st->managed || !*st->managed)
        return scn_error(err, kn ? kn : c->node, "instance '%s': kv_memory managed needs "
                         "`managed:` (a um component with driver: external)", c->name);
    if (!u || um_region_info(u, &info))
        return scn_error(err, mn, "instance '%s': managed region '%s' does not exist (no um "
                         "component of that name)", c->name, st->managed);
    if (!info.external)
        return scn_error(err, mn, "instance '%s': um '%s' runs its own kernels; give it "
                         "driver: external to hold a KV cache", c->name, st->managed);
    /* The lower tiers describe where explicit copies go; the driver moves a
     * managed instance's pages between HBM and host memory instead, so it
     * leaves them out (kv_memory is then the one switch between the two
     * ways: the study's unified-memory pair). */
    st->managed_tiers_unused = st->kv.ntiers - 1;
    st->kv.ntiers = 1;
    st->kv.pool = NULL;
    if (st->device && *st->device && strcmp(st->device, info.gpu_name))
        return scn_error(err, mn, "instance '%s': device '%s' is not the gpu '%s' of um '%s'",
                         c->name, st->device, info.gpu_name, st->managed);
    st->kv_blocks = info.footprint / st->block_bytes;
    if (st->kv_blocks < 1)
        return scn_error(err, mn, "instance '%s': um '%s' holds less than one %llu B KV block",
                         c->name, st->managed, (unsigned long long)st->block_bytes);
    if (st->kv_blocks > UINT32_MAX - 1)
        return scn_error(err, mn, "instance '%s': um '%s' holds too many KV blocks", c->name,
                         st->managed);
    if (st->managed_prefetch < 0)
        return scn_error(err, c->node ? scn_map_get(c->node, "managed_prefetch") : NULL,
                         "instance '%s': managed_prefetch is a lookahead in waiting requests "
                         "(>= 0), not %lld", c->name, (long long)st->managed_prefetch);
    if (st->managed_evict_ahead && st->managed_prefetch < 1)
        return scn_error(err, c->node ? scn_map_get(c->node, "managed_evict_ahead") : NULL,
                         "instance '%s': managed_evict_ahead makes room for the scheduler's "
                         "prefetch; it needs managed_prefetch >= 1", c->name);
    st->um = u;
    return 0;
}

/* Append the pages of bytes [off, off + len) of the allocation. */
static int managed_add(inst_state *st, uint64_t off, uint64_t len, int write)
{
    if (!len)
        return 0;
    uint64_t p0 = off / UM_PAGE_SIZE, p1 = (off + len + UM_PAGE_SIZE - 1) / UM_PAGE_SIZE;
    if (st->nmr && st->mr[st->nmr - 1].write == write &&
        st->mr[st->nmr - 1].page + st->mr[st->nmr - 1].npages >= p0 &&
        st->mr[st->nmr - 1].page <= p0) { /* extends the previous range */
        um_range *q = &st->mr[st->nmr - 1];
        if (p1 > q->page + q->npages)
            q->npages = p1 - q->page;
        return 0;
    }
    if (st->nmr == st->capmr) {
        uint32_t cap = st->capmr ? 2 * st->capmr : 256;
        um_range *m = sim_realloc(st->mr, cap * sizeof *m);
        if (!m)
            return SIM_ENOMEM;
        st->mr = m;
        st->capmr = cap;
    }
    st->mr[st->nmr++] = (um_range){p0, p1 - p0, write};
    return 0;
}

/* The KV request r's scheduled work touches: tokens [0, from) read, [from, to) written. */
static void managed_req(inst_state *st, const inst_req *r, uint64_t from, uint64_t to)
{
    uint64_t bt = st->kv.block_tokens;
    for (uint64_t k = 0; k * bt < to && k < r->pinned; k++) {
        uint32_t slot = kv_store_slot(st->store, r->ids[k], 0);
        if (slot == UINT32_MAX)
            continue;
        uint64_t base = (uint64_t)slot * st->block_bytes;
        uint64_t t0 = k * bt, t1 = t0 + bt < to ? t0 + bt : to;
        uint64_t rd = from < t0 ? t0 : from > t1 ? t1 : from; /* reads end, writes begin */
        st->managed_touched += (t1 - t0) * st->kvbpt;
        (void)managed_add(st, base, (rd - t0) * st->kvbpt, 0);
        (void)managed_add(st, base + (rd - t0) * st->kvbpt, (t1 - rd) * st->kvbpt, 1);
    }
}

/* Touch the step's KV in the managed region: 1 = the step stalls on faults
 * (managed_touched schedules it), 0 = everything resident, run now. */
static void managed_keep(sim_comp *c);

static int managed_launch(sim_comp *c, sim_time dt)
{
    inst_state *st = c->state;
    if (st->managed_evict_ahead)
        managed_keep(c);
    st->nmr = 0;
    for (uint32_t i = 0; i < st->nrun; i++) {
        const inst_req *r = st->run[i];
        if (!r->sched)
            continue;
        if (r->state == INST_DECODE) {
            uint64_t ctx = (uint64_t)r->input + r->generated;
            managed_req(st, r, ctx - 1, ctx);
        } else if (r->state == INST_PREFILL) {
            managed_req(st, r, r->prefilled, (uint64_t)r->prefilled + r->sched);
        }
    }
    if (!st->nmr)
        return 0;
    int rc = um_touch(st->um, st->mr, st->nmr, c->id, INST_EV_TOUCHED, 0);
    if (rc < 0) {
        st->cnt.fabric_errors++;
        return 0;
    }
    if (rc == 0) {
        managed_prefetch(c);
        return 0;
    }
    st->step_dt = dt;
    return 1;
}

/* Scheduler-driven prefetch: while the step computes, the KV already
 * cached for the first `managed_prefetch` waiting requests (their prompt's
 * prefix blocks found in the allocation) is prefetched to the GPU
 * (um_prefetch: cudaMemPrefetchAsync; the driver evicts LRU blocks for it
 * off the critical path), so their prefill does not fault on it. */
static void managed_prefetch(sim_comp *c)
{
    inst_state *st = c->state;
    if (st->managed_prefetch <= 0)
        return;
    st->nmr = 0;
    int64_t n = 0;
    for (const inst_req *r = st->wait_head; r && n < st->managed_prefetch; r = r->next, n++)
        for (uint32_t k = 0; k < r->n_prompt && k < r->n_ids; k++) {
            uint32_t slot = kv_store_slot(st->store, r->ids[k], 0);
            if (slot == UINT32_MAX)
                break; /* the cached prefix ends */
            (void)managed_add(st, (uint64_t)slot * st->block_bytes, st->block_bytes, 0);
        }
    if (st->nmr && um_prefetch(st->um, st->mr, st->nmr, NULL, 0))
        st->cnt.fabric_errors++;
    st->nmr = 0;
}

/* Evict-ahead (managed_evict_ahead), set as each step launches: the KV of
 * the running batch (every block it holds) and the cached prefixes of the
 * first managed_prefetch waiting requests are kept; the driver may write
 * back the LRU rest in the background while migrations occupy the link,
 * until the next prefetch (the lookahead's prefix, in 2 MiB chunks) has
 * room. */
static void managed_keep(sim_comp *c)
{
    inst_state *st = c->state;
    st->nmr = 0;
    for (uint32_t i = 0; i < st->nrun; i++) {
        const inst_req *r = st->run[i];
        for (uint64_t k = 0; k < r->pinned; k++) {
            uint32_t slot = kv_store_slot(st->store, r->ids[k], 0);
            if (slot != UINT32_MAX)
                (void)managed_add(st, (uint64_t)slot * st->block_bytes, st->block_bytes, 0);
        }
    }
    uint64_t want = 0;
    int64_t n = 0;
    for (const inst_req *r = st->wait_head; r && n < st->managed_prefetch; r = r->next, n++)
        for (uint32_t k = 0; k < r->n_prompt && k < r->n_ids; k++) {
            uint32_t slot = kv_store_slot(st->store, r->ids[k], 0);
            if (slot == UINT32_MAX)
                break;
            (void)managed_add(st, (uint64_t)slot * st->block_bytes, st->block_bytes, 0);
            want += st->block_bytes;
        }
    uint64_t chunk = (uint64_t)UM_BLOCK_PAGES * UM_PAGE_SIZE;
    if (um_evict_ahead(st->um, st->mr, st->nmr, (want + chunk - 1) / chunk))
        st->cnt.fabric_errors++;
    st->nmr = 0;
}

/* The step's faults are serviced: it computes now. */
static void managed_touched(sim_comp *c, sim_time stall)
{
    inst_state *st = c->state;
    st->managed_stall_ps += stall;
    st->managed_stalls++;
    st->step_len = stall + st->step_dt;
    sim_schedule(c->sim, st->step_dt, c->id, INST_EV_STEP, 0, 0);
    managed_prefetch(c);
}

static void managed_report(sim_comp *c)
{
    inst_state *st = c->state;
    sim *s = c->sim;
    if (!st->um) {
        if (st->dev_id != NONE) { /* explicit tiers over the fabric: the copies issued */
            sim_report_metric(s, c->name, "kv_memcpy_calls", (double)st->cnt.fabric_moves,
                              "calls");
            sim_report_metric(s, c->name, "kv_memcpy_bytes",
                              (double)(st->cnt.load_bytes + st->cnt.offload_bytes), "B");
        }
        return;
    }
    um_stats u;
    if (um_get_stats(st->um, &u))
        return;
    sim_report_metric(s, c->name, "kv_memcpy_calls", 0, "calls");
    sim_report_metric(s, c->name, "kv_memcpy_bytes", 0, "B");
    sim_report_metric(s, c->name, "managed_tiers_unused", (double)st->managed_tiers_unused,
                      "tiers");
    sim_report_metric(s, c->name, "managed_faults", (double)u.faults, "faults");
    sim_report_metric(s, c->name, "managed_fault_batches", (double)u.batches, "batches");
    sim_report_metric(s, c->name, "managed_migrated_bytes", (double)(u.bytes_in + u.bytes_out),
                      "B");
    sim_report_metric(s, c->name, "managed_stall_time", sim_time_to_s(st->managed_stall_ps), "s");
    sim_report_metric(s, c->name, "managed_stalled_steps", (double)st->managed_stalls, "steps");
    sim_report_metric(s, c->name, "managed_touched_bytes", (double)st->managed_touched, "B");
    sim_report_metric(s, c->name, "copies_avoided", (double)(u.transfers_in + u.evictions),
                      "copies");
}
