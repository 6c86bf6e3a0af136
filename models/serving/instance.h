/*
 * instance.h - a GPU serving instance (type `llm_instance`): one model
 * replica on tp GPUs with a continuous-batching scheduler in the style of
 * vLLM and a KV block store (models/kv/kvstore.h) whose tier 0 is the HBM
 * left after the weights. See instance.c for the scheduler and the timing
 * model, llm_model.h for the roofline.
 *
 * Requests are records owned by the caller (the workload, models/serving/serving.c)
 * and lent to the instance from inst_submit() until the done callback
 * returns them; the instance keeps pointers, never copies.
 */
#ifndef MEMFAB_MODELS_INSTANCE_H
#define MEMFAB_MODELS_INSTANCE_H

#include <stdint.h>

#include "models/kv/kvstore.h"
#include "models/serving/llm_model.h"
#include "sim/plugin.h"
#include "sim/sim.h"

extern const sim_model llm_instance_model;

/* Request states. HANDOFF: a prefill instance computed the prompt and
 * holds its KV blocks until the workload releases them (disaggregation). */
enum { INST_WAITING, INST_LOADING, INST_PREFILL, INST_DECODE, INST_DONE, INST_REJECTED,
       INST_HANDOFF };

/* Instance roles (`role:`): mixed serves prefill and decode (colocated);
 * prefill computes prompts and hands their KV off; decode takes requests
 * whose KV arrives over the fabric and generates the remaining tokens. */
enum { INST_ROLE_MIXED, INST_ROLE_PREFILL, INST_ROLE_DECODE };

typedef struct inst_req {
    /* set by the submitter */
    uint64_t id;            /* request id from the trace */
    uint64_t session;       /* session id (0 = none) */
    sim_time arrival;       /* arrival at the router */
    uint32_t input;         /* prompt tokens (>= 1) */
    uint32_t output;        /* tokens to generate (>= 1) */
    uint32_t n_prompt;      /* prompt blocks: ceil(input / block_tokens) */
    uint32_t n_ids;         /* ids[] entries: ceil((input + output) / block_tokens) */
    uint64_t *ids;          /* block ids: the prompt's, then unique ones for generated tokens */
    uint32_t ids_cap;       /* allocated entries of ids (reused across requests) */
    uint32_t predicted;     /* prefix blocks the router saw on the chosen instance */
    uint32_t priority;      /* priority class rank: higher is served first (scheduling:
                             * priority); 0 by default */
    uint32_t klass;         /* priority class index (the workload's; 0 without classes) */
    /* state kept by the instance */
    uint32_t state;         /* INST_* */
    uint32_t instance;      /* index of the instance in the workload's list */
    uint32_t pinned;        /* ids[0..pinned) are pinned in the store */
    uint32_t ptarget;       /* tokens to prefill: input (+ generated ones after a preemption) */
    uint32_t prefilled;     /* of those, tokens whose KV exists (cached + computed) */
    uint32_t generated;     /* output tokens produced */
    uint32_t sched;         /* tokens scheduled in the step in flight */
    uint32_t cached;        /* prompt tokens served by the prefix cache (first admission) */
    uint32_t hit_blocks;    /* prompt blocks found in the store (first admission) */
    uint32_t hit_lower;     /* of those, blocks loaded from a lower tier */
    uint32_t preemptions;   /* times preempted (recompute or swap) */
    uint32_t swapped;       /* blocks of its KV swapped out (0: none); resume swaps them in */
    uint32_t resume;        /* LOADING: the state it resumes in (0: PREFILL) */
    uint32_t loads;         /* fabric loads of its blocks still in flight */
    uint32_t direct_tokens; /* tokens of its blocks pinned in place in the CXL tier */
    int admitted_once;      /* hit counters recorded */
    double spec_accept;     /* speculation: this request's acceptance rate (spec_acceptance,
                             * or drawn from spec_acceptance_dist when it is submitted) */
    double spec_expect;     /*   its tokens per full verification, (1 - a^(k+1)) / (1 - a) */
    uint32_t spec_full;     /*   its verifications with the full k draft tokens */
    uint32_t spec_full_emitted; /* tokens they produced */
    sim_time ready_at;      /* LOADING: when the lower-tier blocks are in HBM */
    sim_time first_token;   /* when the first output token was produced */
    sim_time last_token;    /* when the latest output token was produced */
    sim_time finish;        /* when the last output token was produced */
    /* disaggregation (kept by the workload and the two instances) */
    uint32_t decode;        /* decode instance index (UINT32_MAX: colocated) */
    uint32_t prefill;       /* prefill instance index */
    uint32_t kv_sent_tokens;/* layer-wise: prompt tokens whose KV has started to leave */
    uint32_t kv_hit;        /* prompt blocks the decode side already held */
    uint32_t kv_pinned;     /* blocks the decode side reserved (until decoding starts) */
    uint32_t kv_flows;      /* KV transfers in flight */
    int kv_reserved;        /* the decode side holds its blocks */
    int kv_sent;            /* every KV transfer has been started */
    sim_time admitted;      /* first admission (end of the queue wait) */
    sim_time prefill_end;   /* the prompt's last chunk ended */
    sim_time kv_start;      /* the first KV transfer started */
    sim_time kv_end;        /* the last KV transfer ended */
    uint64_t kv_bytes;      /* KV bytes moved to the decode instance */
    struct inst_req *prev, *next; /* waiting-queue links / free list */
    struct inst_req *kv_next;     /* decode side: reservation queue */
} inst_req;

/* KV configuration shared by the instances of a scenario (the `kv:` section). */
typedef struct inst_kv_tier {
    const char *name;       /* tier name for results */
    uint64_t capacity;      /* bytes; tier 0: 0 = HBM left after weights */
    double bandwidth;       /* bytes/s of moves into / out of this tier (0 = free) */
    sim_time latency;       /* fixed cost of one move */
    const char *component;  /* component holding the tier (for the fabric), or NULL */
    const char *path;       /* fabric path name of moves to/from HBM, or NULL: by kind */
    double weight;          /* router value of a hit here (0: 1 / 2^tier) */
} inst_kv_tier;

typedef struct inst_kv_cfg {
    uint32_t block_tokens;  /* tokens per KV block */
    uint32_t ntiers;        /* tiers (1..MEMFAB_MAX_TIERS) */
    inst_kv_tier tiers[MEMFAB_MAX_TIERS];
    int write_mode;         /* KV_WRITE_BACK or KV_WRITE_THROUGH */
    const char *eviction;   /* policy name (kv_evict_find) */
    memfab_params params;   /* eviction policy parameters */
    int free_transfers;     /* 1: tier moves take no time */
    int prefix_caching;     /* 0: never reuse blocks across requests */
    int scope;              /* INST_SCOPE_INSTANCE or INST_SCOPE_GLOBAL */
    sim_comp *pool;         /* scope global: the pool component (inst_pool_add), else NULL */
    int cxl_access;         /* KV_ACCESS_* (kvstore.h) of a tier on a CXL memory */
    uint32_t cxl_hot_hits;  /* auto: the hit from which a block is copied */
    const scn_node *node;   /* the kv: section (errors point into it), or NULL */
} inst_kv_cfg;

/* `kv: {scope:}`: each instance has its own lower tiers (instance), or the
 * lower tiers are one pool shared by every instance (global); tier 0 (HBM)
 * is always the instance's own. */
enum { INST_SCOPE_INSTANCE, INST_SCOPE_GLOBAL };

/* Add the component (named `name`, "pool" in the serving builder) that owns
 * the shared lower tiers of scope global: the first instance to start
 * creates its block store from its KV section (every instance sharing it
 * must have the same block size), the others attach to it; it reports the
 * pool's `kv` rows, metrics and occupancy under its name and frees the
 * store with the simulator. NULL with err (e.g. the name is taken). */
sim_comp *inst_pool_add(sim *s, const char *name, sim_err *err);

/* Called when a request leaves the instance (finished or rejected). */
typedef void (*inst_done_fn)(void *ctx, inst_req *r);

/* Configure an instance before sim_start: its KV section (copied), its index
 * and the done callback. */
void inst_setup(sim_comp *c, const inst_kv_cfg *kv, uint32_t index, inst_done_fn done,
                void *ctx);

/* Hand a request to the instance at the current time. */
void inst_submit(sim_comp *c, inst_req *r);

/* Disaggregation hooks of a prefill instance: `chunk` is called when a
 * step that prefills `tokens` of r's prompt starts (phase 0, the step lasts
 * `len`) and when it ends (phase 1); the HANDOFF of r (its prompt done, its
 * blocks still pinned) arrives through the done callback. */
typedef void (*inst_chunk_fn)(void *ctx, inst_req *r, int phase, uint32_t tokens, sim_time len);
void inst_set_chunk_hook(sim_comp *c, inst_chunk_fn chunk);
/* A prefill instance lets go of a handed-off request's blocks (they stay
 * cached). */
void inst_release(sim_comp *c, inst_req *r);
/* A decode instance reserves KV blocks for r's prompt (and a running slot):
 * 1 = reserved now (r->kv_hit = prompt blocks it already held), 0 = r waits
 * in its reservation queue and `reserved` is called when it gets room. */
typedef void (*inst_reserved_fn)(void *ctx, inst_req *r);
int inst_reserve(sim_comp *c, inst_req *r, inst_reserved_fn reserved);
/* (-1: the prompt can never fit there.) */
/* A decode instance starts decoding r, whose KV has arrived (the first
 * token counts as produced now). */
void inst_start_decode(sim_comp *c, inst_req *r);
/* Role, KV bytes per token, GPU component (UINT32_MAX: none), requests
 * waiting for a reservation, and load (tokens still to compute). */
int inst_role(sim_comp *c);
uint64_t inst_kv_bytes_per_token(sim_comp *c);
uint32_t inst_device(sim_comp *c);
uint64_t inst_reserve_waiting(sim_comp *c);
uint64_t inst_load(sim_comp *c);
uint64_t inst_free_blocks(sim_comp *c);

/* Predicted TTFT of r if it were submitted now, seconds: r's CPU costs
 * (cpu_per_request + cpu_per_input_token x input + cpu_per_output_token),
 * what is left of the step in flight, then the larger of two paths:
 *   compute  the prefill of the prompt tokens ahead of r (running
 *            requests' not yet computed or scheduled, waiting requests' -
 *            under scheduling: priority only those of r's priority or
 *            higher) and of its own (less the prefix blocks the router
 *            predicted), in steps of max_batched_tokens less one token per
 *            decoding request, each timed by the step-time model as a
 *            fresh prefill chunk (no context read) plus those decode tokens;
 *   KV room  when the blocks of those waiting prompts and r's, plus the
 *            blocks the running requests' remaining tokens will take,
 *            exceed the free and evictable ones (under priority scheduling
 *            also those of running requests of a lower priority, which r
 *            would preempt): the decode steps until the running requests
 *            finishing first have freed enough (a deficit beyond the whole
 *            batch at its release rate, sum of blocks / output tokens per
 *            step), at the present decode step time, plus the same prefill.
 * See instance.c, "Priorities". */
double inst_predict_ttft(sim_comp *c, const inst_req *r);
/* 1 when the instance schedules by priority (`scheduling: priority`). */
int inst_priority_scheduling(sim_comp *c);

/* What the router sees of the instance for request r (prefix match per tier). */
void inst_view(sim_comp *c, const inst_req *r, memfab_instance_view *v);

/* Routing index hooks (kv_rindex.h). load(ctx) is called when the
 * instance's load figures change (see inst_take_load; inst_load follows
 * from them, and a decode instance's inst_free_blocks too: its tier 0's
 * evictable count is watched), once until the index reads them with
 * inst_take_outstanding or inst_take_load;
 * block(ctx, id, added) when a block enters or leaves the instance's KV
 * index (with prefix caching on). -1 (nothing
 * set) when the instance's prefix matches depend on more than its own
 * store (a shared pool, or no store). */
typedef void (*inst_load_fn)(void *ctx);
int inst_set_route_hooks(sim_comp *c, inst_load_fn load, kv_index_fn block, void *ctx);
uint64_t inst_take_outstanding(sim_comp *c);
/* The view's load fields: index, outstanding_tokens, waiting, running,
 * kv_free_blocks and kv_total_blocks (inst_take_load sets only these;
 * inst_load_view the whole view but the prefix match). load(ctx) is called
 * whenever one of them may have changed, once until inst_take_load reads
 * them; inst_load_view reads them without re-arming the hook. */
void inst_take_load(sim_comp *c, memfab_instance_view *v);
void inst_load_view(sim_comp *c, memfab_instance_view *v);

/* Speculative decoding: `fn` is called for each request leaving the
 * instance that had a verification with the full k draft tokens (its
 * spec_accept, spec_expect, spec_full and spec_full_emitted set). */
typedef void (*inst_spec_fn)(void *ctx, const inst_req *r);
void inst_set_spec_hook(sim_comp *c, inst_spec_fn fn, void *ctx);

/* The instance's model and hardware; KV bytes per block. */
const llm_hw *inst_hw(sim_comp *c);
uint64_t inst_block_bytes(sim_comp *c);
/* Tier-0 capacity in blocks (after start). */
uint64_t inst_kv_blocks(sim_comp *c);

/* A log-bucketed histogram of picosecond values (128 sub-buckets per power
 * of two: quantiles within 0.8%), for per-token latencies where keeping
 * every sample would cost more than the simulation. */
#define INST_HIST_BUCKETS (58 * 128)
typedef struct inst_hist {
    uint64_t n;                     /* samples */
    double sum;                     /* exact sum, for the mean */
    uint64_t max;                   /* largest sample */
    uint64_t b[INST_HIST_BUCKETS];  /* counts */
} inst_hist;
void inst_hist_add(inst_hist *h, uint64_t v);
void inst_hist_merge(inst_hist *dst, const inst_hist *src);
/* Quantile f in [0,1]: the midpoint of the bucket holding it; NaN if empty. */
double inst_hist_quantile(const inst_hist *h, double f);
/* Inter-token latencies of the instance (every output token after the first). */
const inst_hist *inst_itl(sim_comp *c);

/* Counters for tests. */
typedef struct inst_counters {
    uint64_t steps;         /* steps run */
    uint64_t preemptions;   /* requests preempted */
    uint64_t rejected;      /* requests that can never fit */
    uint64_t peak_waiting;  /* longest waiting queue */
    uint64_t peak_running;  /* largest running batch */
    uint64_t load_bytes;    /* bytes loaded from lower tiers */
    uint64_t offload_bytes; /* bytes written to lower tiers */
    uint64_t fabric_moves;  /* transfers started on the fabric (stages counted) */
    uint64_t fabric_errors; /* moves the fabric refused (counted, not timed) */
    sim_time load_wait_ps;  /* summed time requests spent waiting for loads */
    uint64_t promoted_blocks; /* blocks copied from lower tiers into HBM */
    uint64_t direct_blocks; /* pins that used a CXL block in place (copies avoided) */
    uint64_t direct_bytes;  /* KV bytes steps read in place from CXL */
    uint64_t direct_steps;  /* steps that read KV in place */
    uint64_t inval_msgs;    /* back-invalidations sent for blocks this instance's own
                             * store evicted (a pool counts its own) */
    uint64_t handoffs;      /* prefill role: requests handed to a decode instance */
    uint64_t reserved;      /* decode role: reservations granted */
    uint64_t reserve_waits; /* decode role: reservations that had to wait */
    uint64_t peak_reserve_queue; /* decode role: longest reservation queue */
    uint64_t swap_outs;     /* preemptions that swapped the KV out (the rest recompute) */
    uint64_t swap_ins;      /* swapped requests resumed (KV swapped back in) */
    uint64_t swap_out_bytes;/* KV bytes swapped out */
    uint64_t swap_in_bytes; /* KV bytes swapped back in */
    uint64_t swap_fallbacks;/* swaps refused for lack of swap space (recomputed) */
    uint64_t priority_preemptions; /* running requests preempted for a waiting request of
                             * a higher priority (scheduling: priority) */
    double last_recompute_s;/* the cost estimates of the latest preemption */
    double last_swap_s;     /*   (preemption: cost), seconds */
    uint64_t spec_verifies; /* speculative decoding: verifications (request x step) */
    uint64_t spec_drafted;  /* draft tokens proposed */
    uint64_t spec_accepted; /* draft tokens accepted */
    uint64_t spec_emitted;  /* tokens produced by verifications (accepted + 1 each) */
    uint64_t spec_full;     /* verifications with the full k draft tokens */
    uint64_t spec_full_emitted; /* tokens they produced */
    sim_time spec_draft_ps; /* summed draft phases of the steps */
    double spec_full_expected; /* sum over full verifications of their request's
                             * (1 - a^(k+1)) / (1 - a) */
    uint64_t spec_drawn;    /* requests given an acceptance rate from spec_acceptance_dist */
    double spec_drawn_sum;  /*   the sum of those rates */
    uint64_t spec_requests; /* requests that left with a full verification */
    double spec_req_measured_sum; /* sum over them of spec_full_emitted / spec_full */
    double spec_req_expected_sum; /* sum over them of spec_expect */
    uint64_t pp_act_transfers; /* pipeline: activation transfers between stages (fabric) */
    uint64_t pp_act_bytes;  /*   their bytes */
    sim_time pp_stage_busy_ps; /*   summed busy time of the stages */
    sim_time pp_span_ps;    /*   stages x summed step spans (bubble = 1 - busy / this) */
    uint64_t a2a_transfers; /* expert parallelism: all-to-all transfers (fabric) */
    uint64_t a2a_bytes;     /*   their bytes (dispatch + combine, every MoE layer) */
} inst_counters;
const inst_counters *inst_stats(sim_comp *c);

#endif
