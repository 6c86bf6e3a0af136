/*
 * serving.c - the LLM serving workload component (`llm_workload`) and the
 * builder of the serving sections (workload, kv, router; see serving.h).
 *
 * What it models. Requests enter the system at their trace (or synthetic)
 * arrival times, a router picks an instance for each one at that instant
 * (policy from kv_router_find, optionally sticky per session), and the
 * instance (instance.c) serves it. The workload then records the request's
 * row and its latencies.
 *
 * Laziness: the reader holds one request; exactly one arrival event is
 * pending at a time. The event dispatches every request of that instant,
 * then reads ahead to the first later one and schedules its arrival. The
 * pending request's block ids stay valid in the reader until the next
 * trace_next(), so nothing is copied until dispatch. Request records come
 * from a pool (chunks of 256, never moved, recycled through a free list),
 * and each keeps its block-id array for reuse, so steady state allocates
 * nothing.
 *
 * Block ids of a request: ceil((input + output) / block_tokens) ids. The
 * first ceil(input / block_tokens) come from the trace when it has ids of
 * the same block size, or of a multiple f of it (sub-block j of trace block
 * p gets id mix(id[p], j mod f): equal trace ids imply equal sub-prefixes;
 * prefixes diverging inside a trace block are not matched - conservative).
 * The others (generated tokens, traces without ids) are unique per request.
 *
 * Metrics (scope: the workload component; definitions as in vLLM's
 * benchmark_serving): TTFT = first token - arrival; TPOT = (finish - first
 * token) / (output - 1) for output > 1; ITL = gap between consecutive
 * tokens of a request (histogram, 0.8% resolution); e2e = finish -
 * arrival; throughput = tokens / makespan where makespan (the window) =
 * last departure - first arrival, or stop time - first arrival when the run
 * stopped with requests in flight; goodput = requests meeting every SLO /
 * makespan (DistServe, Zhong et al. OSDI 2024). Little's law L = lambda W:
 * `in_system_mean` is the exact time integral of the number of requests in
 * the system over the window, `arrival_rate` = requests / window, `e2e_mean`
 * = W. Latencies cover completed requests only: `unfinished` counts those
 * still in the system at the end and `truncated` is 1 when there are any
 * (the stop time censored the run, so e2e_mean underestimates W).
 *
 * Priorities and admission (`classes`, `admission`, `rate_limit`; README
 * "Priorities and admission"): each request gets a class [assign_class]
 * whose priority the instances use under `scheduling: priority`; before an
 * instance sees it, a colocated request passes a token bucket and the
 * SLO-aware admission [gate_submit]; deferred requests are retried every
 * `retry` [defer_retry]. Per-class metrics go to scope class:NAME.
 *
 * Energy: the workload names itself the scope of the run's energy totals
 * (sim_energy_work): energy_total_j and its data-movement and compute
 * parts, energy_per_request_j = total / completed requests and
 * energy_per_output_token_j = total / output tokens of completed requests
 * (the energy of requests still in flight is in the total).
 */
#include "models/serving/serving.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/fabric/fabric.h"
#include "models/serving/instance.h"
#include "models/kv/kv_rindex.h"
#include "models/kv/kvstore.h"
#include "models/workload/synth.h"
#include "models/workload/trace.h"
#include "sim/mem.h"
#include "sim/stats.h"

enum { WL_EV_ARRIVAL = SIM_EV_USER, WL_EV_KV, WL_EV_RETRY };

/* SLO-aware admission (workload.admission.policy). */
enum { ADM_NONE, ADM_REJECT, ADM_DEFER };
static const char *const adm_policies[] = {"none", "reject", "defer", NULL};

#define WL_MAX_CLASSES 32

/* A priority class (workload.classes) and its counters. */
typedef struct wl_class {
    const char *name;           /* for the scope class:NAME */
    double share;               /* fraction of requests (hash assignment) */
    uint64_t priority;          /* higher is served first (scheduling: priority) */
    sim_time slo_ttft, slo_tpot;/* 0: the workload's */
    uint64_t arrived, completed, rejected, rejected_slo, rejected_rate, deferred, preempted;
    uint64_t good;              /* completed within the class's SLOs */
    double work;                /* tokens (input + output) of its arrivals */
    sim_samples ttft, tpot, e2e;
} wl_class;

/* KV transfer modes of disaggregation. */
enum { PD_WHOLE, PD_LAYERWISE };
static const char *const pd_modes[] = {"whole", "layerwise", NULL};
enum { PD_LEAST_LOADED, PD_KV_ROOM };
static const char *const pd_policies[] = {"least_loaded", "kv_room", NULL};

#define POOL_CHUNK 256
#define WL_SAMPLES_KEEP ((size_t)1 << 20) /* latency samples held in memory, each */

typedef struct pool_chunk {
    struct pool_chunk *next;    /* chunk list, for freeing */
    inst_req r[POOL_CHUNK];     /* records */
} pool_chunk;

typedef struct wl_state {
    /* configuration */
    const char *trace;          /* trace path as written, or NULL */
    const char *format;         /* trace format name */
    double time_scale;          /* arrival multiplier */
    uint64_t max_requests;      /* 0 = all */
    sim_time slo_ttft;          /* 0 = no TTFT SLO */
    sim_time slo_tpot;          /* 0 = no TPOT SLO */
    uint32_t block_tokens;      /* KV block size */
    int prefix_caching;         /* use the trace's ids */
    const char *policy;         /* router policy */
    int sticky;                 /* session stickiness */
    const scn_node *router_node;/* router params */
    /* state */
    trace_reader *reader;       /* the request stream */
    trace_req pending;          /* the next request (valid when have_pending) */
    int have_pending;
    char path[4096];            /* resolved trace path */
    sim_comp **inst;            /* instances, in index order */
    uint32_t ninst;
    const memfab_router_ops *router;
    void *router_st;
    memfab_instance_view *views;/* one per instance, reused */
    trace_u64map *sessions;     /* session -> instance (sticky) */
    pool_chunk *chunks;         /* record storage */
    inst_req *free_list;        /* recycled records */
    uint64_t uid;               /* unique request counter */
    uint64_t in_system;         /* requests arrived and not finished */
    sim_time last_change;       /* of in_system */
    double area;                /* integral of in_system dt, ps */
    sim_time first_arrival;     /* of the first request */
    double sample_sum;          /* sum of sampled in_system */
    uint64_t nsamples;
    uint64_t good;              /* requests meeting the SLOs */
    sim_samples ttft, tpot, e2e;
    serving_totals tot;
    /* prefill/decode disaggregation (workload.disaggregation) */
    int disagg;                 /* some instance has role prefill or decode */
    int pd_mode;                /* PD_WHOLE or PD_LAYERWISE */
    int pd_path;                /* fabric path of KV transfers */
    int pd_policy;              /* decode choice: PD_* */
    double pd_bw;               /* without fabric devices: bytes/s (0: instant) */
    sim_time pd_lat;            /* without fabric devices: fixed latency */
    const scn_node *pd_node;    /* the section (error marks) */
    uint32_t *pidx, npre;       /* prefill-capable instances (router's choice) */
    uint32_t *didx, ndec;       /* decode instances */
    uint64_t kv_bytes;          /* KV bytes moved */
    uint64_t kv_errors;         /* transfers the fabric refused (moved at once) */
    sim_samples kv_wait, kv_exposed, ttft_prefill;
    const memfab_pair_router_ops *pair; /* a pair router chooses (prefill, decode), or NULL */
    void *pair_st;
    memfab_instance_view *dviews;       /* decode instances' views, reused */
    uint64_t rejected_early;            /* rejected at arrival by the pair router */
    sim_time *kv_chan;                  /* bandwidth model: per instance, receive channel free at */
    uint64_t kv_chunk;                  /* KV wire protocol: payload bytes per chunk */
    uint64_t kv_header;                 /* ... and the header each chunk carries */
    uint64_t kv_header_bytes;           /* header bytes sent */
    trace_u64map *placed;               /* session -> decode instance + 1 (NIC tables) */
    uint64_t placements;                /* NIC table placements issued */
    uint64_t dec_rr;                    /* decode choice: where the tie-breaking scan starts */
    /* priorities and admission */
    wl_class cls[WL_MAX_CLASSES];       /* workload.classes */
    uint32_t ncls;
    int admission;                      /* ADM_* */
    sim_time adm_retry;                 /* defer: retry period */
    double rl_rate;                     /* rate_limit: tokens per second (0: none) */
    double rl_burst;                    /* bucket capacity, tokens */
    double rl_level;                    /* tokens x 1e12 (exact for integral ps x rate) */
    sim_time rl_last;                   /* last refill */
    uint64_t rejected_slo, rejected_rate, deferred; /* totals of the classes' counters */
    inst_req *def_head, *def_tail;      /* deferred requests, FIFO (linked by next) */
    int retry_pending;                  /* a WL_EV_RETRY is scheduled */
    /* indexed routing (kv_rindex.h; see route_indexed) */
    int route_full;                     /* 1: every request sees every view (tests) */
    int rx_tried;                       /* the index was set up (or refused) */
    int rx_failed;                      /* the index ran out of memory */
    int rkind;                          /* kv_router_builtin of the router */
    kv_rindex *rx;                      /* the index, or NULL: full views */
    kv_rindex *rxd;                     /* disaggregation: the decode instances' index */
    struct rx_ctx {                     /* per instance, hook context */
        struct wl_state *w;
        uint32_t i;                     /* the instance */
        uint32_t k;                     /* its position in its index (rx or rxd) */
        int dec;                        /* in rxd (RX_DEC_*; 0: in rx) */
    } *rctx;
    uint32_t *dirty, ndirty;            /* instances whose load changed since the last route */
    uint32_t *cand;                     /* holders of a request's first block */
    memfab_instance_view *cviews;       /* their views, and the tree root's (n + 1) */
    uint32_t ncviews;                   /* views in cviews for the request being routed */
    kv_rx_plan rplan;                   /* what the router reads of the index */
    uint64_t kv_total_min, kv_total_max; /* kv_total_blocks over the instances */
    serving_route_stats rstat;          /* routing work (test hook) */
    kv_rx_work rwork;                   /* dynamo's sampler's work (into rstat) */
    const memfab_router_scope *scope;   /* a scoped plug-in router's views (plugin.h), or NULL */
    uint32_t scope_k;                   /* its lightest instances, at most n */
    memfab_instance_view *sviews;       /* the views it gets (n) */
    uint32_t *spos;                     /* their positions (n) */
    uint64_t *ssort;                    /* (position, source) pairs to sort (n + k) */
    uint32_t *slight;                   /* the k lightest positions (k) */
    size_t samples_keep;                /* 0: WL_SAMPLES_KEEP; SIZE_MAX: all (test hook) */
} wl_state;

static const sim_param wl_params[] = {
    {"trace", SIM_P_STRING, "", "",
     "trace file (relative to the scenario, then MEMFAB_TRACE_PATH); or `synthetic:`",
     offsetof(wl_state, trace), NULL},
    {"format", SIM_P_STRING, "auto", "", "auto, mooncake, azure, burstgpt, qwen, native",
     offsetof(wl_state, format), NULL},
    {"time_scale", SIM_P_DOUBLE, "1.0", "", "multiply arrival times (0.5 = twice the rate)",
     offsetof(wl_state, time_scale), NULL},
    {"max_requests", SIM_P_UINT, "0", "requests", "stop reading after this many (0 = all)",
     offsetof(wl_state, max_requests), NULL},
    {"slo_ttft", SIM_P_TIME, "0 s", "ps", "TTFT SLO for goodput (also slo: {ttft:}); 0 = none",
     offsetof(wl_state, slo_ttft), NULL},
    {"slo_tpot", SIM_P_TIME, "0 s", "ps", "TPOT SLO for goodput (also slo: {tpot:}); 0 = none",
     offsetof(wl_state, slo_tpot), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static const char *const wl_keys[] = {"synthetic", "slo", "instances", "disaggregation",
                                      "classes", "admission", "rate_limit", NULL};

/* ---- the keys of the serving sections (sim/schema.h) ------------------------ */

#define SK_END {NULL, 0, NULL, NULL, NULL, NULL, NULL}
static const sim_skey dist_keys[] = {
    {"dist", SIM_S_VALUE, "fixed|uniform|exponential|lognormal", "fixed", "", "the distribution",
     NULL},
    {"mean", SIM_S_VALUE, "tokens|time", "0", "", "mean (fixed, exponential, lognormal)", NULL},
    {"min", SIM_S_VALUE, "tokens|time", "0", "", "uniform: lower bound", NULL},
    {"max", SIM_S_VALUE, "tokens|time", "0", "", "uniform: upper bound", NULL},
    {"sigma", SIM_S_VALUE, "real", "1", "", "lognormal: sigma of the underlying normal", NULL},
    SK_END};
static const sim_schema dist_schema = {"distribution", dist_keys, NULL, NULL, NULL, NULL, NULL};

static const sim_skey synth_keys[] = {
    {"arrivals", SIM_S_VALUE, "poisson|gamma", "poisson", "", "arrival process", NULL},
    {"rate", SIM_S_VALUE, "rate", "1/s", "/s", "sessions per second (2/s, 30/min, 100/h)", NULL},
    {"cv", SIM_S_VALUE, "real", "1", "", "gamma arrivals: coefficient of variation", NULL},
    {"input", SIM_S_MAP_OR_VALUE, "tokens|dist", NULL, "tokens", "prompt tokens per turn",
     &dist_schema},
    {"output", SIM_S_MAP_OR_VALUE, "tokens|dist", NULL, "tokens", "generated tokens per turn",
     &dist_schema},
    {"turns", SIM_S_MAP_OR_VALUE, "count|dist", "1", "", "turns per session", &dist_schema},
    {"think", SIM_S_MAP_OR_VALUE, "time|dist", "0 s", "", "pause between turns", &dist_schema},
    {"groups", SIM_S_VALUE, "uint", "0", "", "sessions share one of this many system prompts",
     NULL},
    {"prefix", SIM_S_VALUE, "tokens", "0", "tokens", "shared system prompt length", NULL},
    {"block_tokens", SIM_S_VALUE, "tokens", "kv.block_tokens", "tokens",
     "block size of the generated prefix ids", NULL},
    {"max_context", SIM_S_VALUE, "tokens", NULL, "tokens", "context length cap of a session",
     NULL},
    {"requests", SIM_S_VALUE, "uint", NULL, "", "stop after this many requests", NULL},
    {"horizon", SIM_S_VALUE, "time", "0 s", "", "stop generating arrivals after this time", NULL},
    {"seed", SIM_S_VALUE, "uint", "(run seed)", "", "seed of the generator", NULL},
    SK_END};
static const sim_schema synth_schema = {"workload.synthetic", synth_keys, NULL, NULL, NULL, NULL,
                                        NULL};

static const sim_skey slo_keys[] = {
    {"ttft", SIM_S_VALUE, "time", "0 s", "", "time-to-first-token SLO (0: none)", NULL},
    {"tpot", SIM_S_VALUE, "time", "0 s", "", "time-per-output-token SLO (0: none)", NULL},
    SK_END};
static const sim_schema slo_schema = {"workload.slo", slo_keys, NULL, NULL, NULL, NULL, NULL};

static const sim_skey class_keys[] = {
    {"name", SIM_S_VALUE, "string", NULL, "", "class name (metrics scope class:NAME)", NULL},
    {"share", SIM_S_VALUE, "real", NULL, "",
     "fraction of the requests in this class (shares sum to 1; a trace's class column wins)",
     NULL},
    {"priority", SIM_S_VALUE, "uint", "0", "", "higher is served first (scheduling: priority)",
     NULL},
    {"slo", SIM_S_MAP, "section", NULL, "", "the class's SLOs (default: workload.slo)",
     &slo_schema},
    SK_END};
static const sim_schema class_schema = {"workload class", class_keys, NULL, NULL, NULL, NULL,
                                        NULL};

static const sim_skey admission_keys[] = {
    {"policy", SIM_S_VALUE, "none|reject|defer", "none", "",
     "a request whose predicted TTFT exceeds its SLO: admitted (none), rejected, or held at "
     "the router and retried", NULL},
    {"retry", SIM_S_VALUE, "time", "10 ms", "", "defer: period of the retries", NULL},
    SK_END};
static const sim_schema admission_schema = {"workload.admission", admission_keys, NULL, NULL,
                                            NULL, NULL, NULL};

static const sim_skey rate_limit_keys[] = {
    {"rate", SIM_S_VALUE, "rate", NULL, "/s", "token refill rate (requests per second)", NULL},
    {"burst", SIM_S_VALUE, "real", "1", "", "bucket capacity (requests; >= 1)", NULL},
    SK_END};
static const sim_schema rate_limit_schema = {"workload.rate_limit", rate_limit_keys, NULL, NULL,
                                             NULL, NULL, NULL};

static const sim_skey instances_keys[] = {
    {"count", SIM_S_VALUE, "uint", "1", "", "instances to create (1..100000)", NULL},
    {"name", SIM_S_VALUE, "string", "inst", "", "name prefix: inst0, inst1, ...", NULL},
    SK_END};
static const sim_schema instances_schema = {"workload.instances", instances_keys, NULL,
                                            &llm_instance_model, NULL, NULL, NULL};

static const sim_skey pd_keys[] = {
    {"transfer", SIM_S_VALUE, "whole|layerwise", "whole", "", "KV moves after prefill or per layer",
     NULL},
    {"path", SIM_S_VALUE, "auto|dma|rdma|rdma_read|rdma_staged", "auto", "",
     "fabric path of KV transfers", NULL},
    {"decode_policy", SIM_S_VALUE, "least_loaded|kv_room", "least_loaded", "",
     "how the decode instance is chosen", NULL},
    {"bandwidth", SIM_S_VALUE, "rate", "0", "B/s", "without fabric devices: KV bandwidth (0: instant)",
     NULL},
    {"latency", SIM_S_VALUE, "time", "0 s", "", "without fabric devices: fixed KV latency", NULL},
    {"kv_chunk", SIM_S_VALUE, "size", "64 KiB", "B", "KV wire protocol: payload per chunk", NULL},
    {"kv_header", SIM_S_VALUE, "size", "0 B", "B", "KV wire protocol: header per chunk", NULL},
    SK_END};
static const sim_schema pd_schema = {"workload.disaggregation", pd_keys, NULL, NULL, NULL, NULL,
                                     NULL};

static const sim_skey workload_keys[] = {
    {"synthetic", SIM_S_MAP, "section", NULL, "", "generate requests instead of a trace",
     &synth_schema},
    {"slo", SIM_S_MAP, "section", NULL, "", "SLOs for goodput", &slo_schema},
    {"instances", SIM_S_MAP, "section", NULL, "",
     "create COUNT llm_instance components with these parameters", &instances_schema},
    {"disaggregation", SIM_S_MAP, "section", NULL, "",
     "prefill/decode disaggregation: how KV moves", &pd_schema},
    {"classes", SIM_S_LIST, "list", NULL, "",
     "priority classes: [{name, share, priority, slo: {ttft, tpot}}]", &class_schema},
    {"admission", SIM_S_MAP, "section", NULL, "",
     "SLO-aware admission at the router (predicted TTFT vs the class's TTFT SLO)",
     &admission_schema},
    {"rate_limit", SIM_S_MAP, "section", NULL, "",
     "token-bucket rate limit at the router: {rate: 100/s, burst: 10}", &rate_limit_schema},
    SK_END};
const sim_schema serving_workload_schema = {"workload", workload_keys, wl_params, NULL, NULL,
                                            NULL, NULL};

static const sim_skey tier_keys[] = {
    {"name", SIM_S_VALUE, "string", "hbm (tier 0)", "", "the tier's name", NULL},
    {"capacity", SIM_S_VALUE, "size", "(HBM: what the weights leave)", "B",
     "bytes of KV the tier holds (required below HBM)", NULL},
    {"bandwidth", SIM_S_VALUE, "rate", "0", "B/s", "copy bandwidth to/from HBM (0: instant)",
     NULL},
    {"latency", SIM_S_VALUE, "time", "0 s", "", "fixed latency of a copy", NULL},
    {"component", SIM_S_VALUE, "string", NULL, "", "fabric component holding the tier", NULL},
    {"path", SIM_S_VALUE, "dma|pageable|gds|bounce|cxl", NULL, "",
     "fabric path of copies (needs component)", NULL},
    {"weight", SIM_S_VALUE, "real", "0", "", "value of a hit in this tier to the llmd router",
     NULL},
    {"enabled", SIM_S_VALUE, "bool", "true", "", "false: leave the tier out (sweeps)", NULL},
    SK_END};
static const sim_schema tier_schema = {"kv tier", tier_keys, NULL, NULL, NULL, NULL, NULL};

static const sim_skey kv_keys[] = {
    {"block_tokens", SIM_S_VALUE, "tokens", "16", "tokens", "tokens per KV block", NULL},
    {"eviction", SIM_S_VALUE, "lru|lfu|fifo|s3fifo|cost|plug-in", "lru", "",
     "eviction policy; its parameters are kv: keys too", NULL},
    {"write", SIM_S_VALUE, "back|through", "back", "", "when lower tiers get a copy", NULL},
    {"scope", SIM_S_VALUE, "instance|global", "instance", "",
     "global: lower tiers are one pool shared by every instance", NULL},
    {"prefix_caching", SIM_S_VALUE, "bool", "true", "", "reuse blocks of equal prefixes", NULL},
    {"free_transfers", SIM_S_VALUE, "bool", "false", "", "tier copies take no time", NULL},
    {"cxl_access", SIM_S_VALUE, "copy|direct|auto", "copy", "",
     "a tier on a CXL memory: copy (promote hits into HBM), direct (read them in place by "
     "load/store every step), auto (in place until a block's cxl_hot_hits-th hit, then copy)",
     NULL},
    {"cxl_hot_hits", SIM_S_VALUE, "uint", "2", "hits",
     "cxl_access auto: the hit in the CXL tier from which a block is promoted (hot)", NULL},
    {"tiers", SIM_S_LIST, "list", "[hbm]", "", "the tiers, HBM first", &tier_schema},
    SK_END};

static const sim_skey router_keys[] = {
    {"policy", SIM_S_VALUE,
     "round_robin|random|least_loaded|prefix_affinity|dynamo|sglang|llmd|conductor|plug-in",
     "round_robin", "", "routing policy; its parameters are router: keys too", NULL},
    {"sticky", SIM_S_VALUE, "bool", "false", "", "keep a session on its first instance", NULL},
    {"tier_weights", SIM_S_VALUE, "list of reals", NULL, "",
     "value of a prefix hit per kv tier (llmd, conductor)", NULL},
    SK_END};

/* The chosen policy's parameters: declared for built-ins, open for a
 * plug-in's, an error for an unknown name. */
static int policy_more(const scn_node *map, const char *key, const char *def, int router,
                       sim_schema_more *out, sim_err *err)
{
    const scn_node *v = scn_map_get(map, key);
    const char *name = v ? scn_scalar(v) : def;
    if (!name)
        return 0; /* not a scalar: the section's reader reports it */
    const char *what = router ? "router policy" : "eviction policy";
    out->params = router ? kv_router_params(name) : kv_evict_params(name);
    snprintf(out->owner, sizeof out->owner, "%s '%s'", what, name);
    if (out->params)
        return 0;
    if (router ? (kv_router_find(name) || kv_pair_router_find(name)) : !!kv_evict_find(name)) {
        out->open = 1;
        snprintf(out->owner, sizeof out->owner, "plug-in %s '%s'", what, name);
        return 0;
    }
    const char *names[32];
    size_t n = 0;
    if (router) {
        for (size_t i = 0; kv_router_policies[i] && n < 30; i++)
            names[n++] = kv_router_policies[i]->name;
        for (size_t i = 0; kv_pair_router_policies[i] && n < 31; i++)
            names[n++] = kv_pair_router_policies[i]->name;
    } else {
        for (size_t i = 0; kv_evict_policies[i] && n < 31; i++)
            names[n++] = kv_evict_policies[i]->name;
    }
    names[n] = NULL;
    const char *sug = scn_suggest(name, names);
    if (router)
        return scn_error(err, v, "unknown router policy '%s' (round_robin, random, least_loaded,"
                         " prefix_affinity, dynamo, sglang, llmd, conductor, or a plug-in's)%s%s%s",
                         name, sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
    return scn_error(err, v, "unknown eviction policy '%s' (lru, lfu, fifo, s3fifo, cost, or a"
                     " plug-in's)%s%s%s", name, sug ? "; did you mean '" : "", sug ? sug : "",
                     sug ? "'?" : "");
}

static int kv_more(const scn_node *map, const char *path, sim_schema_more *out, sim_err *err)
{
    return policy_more(map, "eviction", "lru", 0, out, err);
}

static int router_more(const scn_node *map, const char *path, sim_schema_more *out, sim_err *err)
{
    return policy_more(map, "policy", "round_robin", 1, out, err);
}

/* A key that is another policy's parameter. */
static int policy_elsewhere(const char *key, char *why, size_t len, int router)
{
    if (router) {
        const memfab_router_ops *const *r = kv_router_policies;
        for (size_t i = 0; r[i]; i++) {
            const sim_param *p = kv_router_params(r[i]->name);
            for (; p && p->name; p++)
                if (strcmp(p->name, key) == 0) {
                    snprintf(why, len, "a parameter of router policy '%s'", r[i]->name);
                    return 1;
                }
        }
        const memfab_pair_router_ops *const *q = kv_pair_router_policies;
        for (size_t i = 0; q[i]; i++) {
            const sim_param *p = kv_router_params(q[i]->name);
            for (; p && p->name; p++)
                if (strcmp(p->name, key) == 0) {
                    snprintf(why, len, "a parameter of router policy '%s'", q[i]->name);
                    return 1;
                }
        }
        return 0;
    }
    for (size_t i = 0; kv_evict_policies[i]; i++) {
        const sim_param *p = kv_evict_params(kv_evict_policies[i]->name);
        for (; p && p->name; p++)
            if (strcmp(p->name, key) == 0) {
                snprintf(why, len, "a parameter of eviction policy '%s'",
                         kv_evict_policies[i]->name);
                return 1;
            }
    }
    return 0;
}

static int kv_elsewhere(const char *key, char *why, size_t len)
{
    return policy_elsewhere(key, why, len, 0);
}

static int router_elsewhere(const char *key, char *why, size_t len)
{
    return policy_elsewhere(key, why, len, 1);
}

const sim_schema serving_kv_schema = {"kv", kv_keys, NULL, NULL, NULL, kv_more, kv_elsewhere};
const sim_schema serving_router_schema = {"router", router_keys, NULL, NULL, NULL, router_more,
                                          router_elsewhere};

/* ---- helpers ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* A count of tokens: "512", "512 tokens". */
static int get_tokens(const scn_node *n, const char *key, double def, double *out, sim_err *err)
{
    const scn_node *v = scn_map_get(n, key);
    *out = def;
    if (!v)
        return 0;
    const char *t = scn_scalar(v);
    char *end;
    double x = t ? strtod(t, &end) : -1;
    if (!t || end == t || x < 0)
        return scn_error(err, v, "key '%s': '%s' is not a token count (e.g. 512 tokens)", key,
                         t ? t : "");
    while (*end == ' ')
        end++;
    if (*end && strcmp(end, "tokens") != 0 && strcmp(end, "token") != 0)
        return scn_error(err, v, "key '%s': unit '%s' is not 'tokens'", key, end);
    *out = x;
    return 0;
}

/* A rate: "2/s", "120 /min", "3600/h". */
static int get_per_second(const scn_node *n, const char *key, double def, double *out,
                          sim_err *err)
{
    const scn_node *v = scn_map_get(n, key);
    *out = def;
    if (!v)
        return 0;
    const char *t = scn_scalar(v);
    char *end;
    double x = t ? strtod(t, &end) : -1;
    if (t && end != t && x > 0) {
        while (*end == ' ')
            end++;
        if (strcmp(end, "/s") == 0) { *out = x; return 0; }
        if (strcmp(end, "/min") == 0) { *out = x / 60; return 0; }
        if (strcmp(end, "/h") == 0) { *out = x / 3600; return 0; }
    }
    return scn_error(err, v, "key '%s': '%s' is not a positive rate (e.g. 2/s, 30/min, 100/h)",
                     key, t ? t : "");
}

/* A distribution: a scalar (fixed) or {dist: fixed|uniform|exponential|
 * lognormal, mean:, min:, max:, sigma:}; time = 1 for seconds, else tokens. */
static int get_dist(const scn_node *n, const char *key, synth_dist *d, int time, sim_err *err)
{
    const scn_node *v = scn_map_get(n, key);
    if (!v)
        return 0;
    if (scn_node_kind(v) == SCN_SCALAR) {
        d->kind = SYNTH_FIXED;
        d->b = 0;
        if (time) {
            sim_time t;
            int rc = scn_get_time(n, key, 0, &t, err);
            d->a = sim_time_to_s(t);
            return rc;
        }
        return get_tokens(n, key, 1, &d->a, err); /* also plain counts (turns) */
    }
    int rc = sim_schema_check(&dist_schema, v, key, NULL, NULL, err);
    if (rc)
        return rc;
    static const char *const kinds[] = {"fixed", "uniform", "exponential", "lognormal", NULL};
    int k;
    if ((rc = scn_get_enum(v, "dist", kinds, 0, &k, err)))
        return rc;
    d->kind = (synth_dist_kind)k;
    double mean = 0, lo = 0, hi = 0, sigma = 1;
    if (time) {
        sim_time a = 0, b = 0, c = 0;
        if ((rc = scn_get_time(v, "mean", 0, &a, err)) || (rc = scn_get_time(v, "min", 0, &b, err)) ||
            (rc = scn_get_time(v, "max", 0, &c, err)))
            return rc;
        mean = sim_time_to_s(a), lo = sim_time_to_s(b), hi = sim_time_to_s(c);
    } else if ((rc = get_tokens(v, "mean", 0, &mean, err)) || (rc = get_tokens(v, "min", 0, &lo, err)) ||
               (rc = get_tokens(v, "max", 0, &hi, err))) {
        return rc;
    }
    if ((rc = scn_get_double(v, "sigma", 1.0, &sigma, err)))
        return rc;
    if (d->kind == SYNTH_UNIFORM) {
        d->a = lo;
        d->b = hi;
    } else {
        d->a = mean;
        d->b = d->kind == SYNTH_LOGNORMAL ? sigma : 0;
    }
    return 0;
}

static int parse_synth(const scn_node *n, uint64_t seed, uint32_t block_tokens,
                       synth_config *c, sim_err *err)
{
    int rc = sim_schema_check(&synth_schema, n, "workload.synthetic", NULL, NULL, err);
    if (rc)
        return rc;
    *c = synth_config_default();
    c->seed = seed;
    static const char *const arr[] = {"poisson", "gamma", NULL};
    int a;
    double x;
    uint64_t u;
    if ((rc = scn_get_enum(n, "arrivals", arr, 0, &a, err)))
        return rc;
    c->arrivals = a ? SYNTH_GAMMA : SYNTH_POISSON;
    if ((rc = get_per_second(n, "rate", c->rate, &c->rate, err)) ||
        (rc = scn_get_double(n, "cv", c->cv, &c->cv, err)) ||
        (rc = get_dist(n, "input", &c->input, 0, err)) ||
        (rc = get_dist(n, "output", &c->output, 0, err)) ||
        (rc = get_dist(n, "turns", &c->turns, 0, err)) ||
        (rc = get_dist(n, "think", &c->think_s, 1, err)))
        return rc;
    if ((rc = scn_get_uint(n, "groups", 0, &u, err)))
        return rc;
    c->groups = (uint32_t)u;
    if ((rc = get_tokens(n, "prefix", 0, &x, err)))
        return rc;
    c->prefix_tokens = (uint32_t)x;
    if ((rc = get_tokens(n, "block_tokens", block_tokens ? block_tokens : c->block_tokens, &x,
                         err)))
        return rc;
    c->block_tokens = (uint32_t)x;
    if ((rc = get_tokens(n, "max_context", c->max_context, &x, err)))
        return rc;
    c->max_context = (uint32_t)x;
    if ((rc = scn_get_uint(n, "requests", c->max_requests, &c->max_requests, err)) ||
        (rc = scn_get_time(n, "horizon", 0, &c->horizon, err)) ||
        (rc = scn_get_uint(n, "seed", c->seed, &c->seed, err)))
        return rc;
    if (synth_config_check(c, err))
        return scn_error(err, n, "workload.synthetic: %s", err->msg);
    return 0;
}

/* ---- the workload component --------------------------------------------- */

/* workload.classes, workload.admission, workload.rate_limit. */
static int parse_priorities(wl_state *w, const scn_node *node, sim_err *err)
{
    const scn_node *cl = node ? scn_map_get(node, "classes") : NULL;
    int rc;
    if (cl) {
        if (scn_node_kind(cl) != SCN_SEQ || scn_len(cl) < 1 || scn_len(cl) > WL_MAX_CLASSES)
            return scn_error(err, cl, "workload.classes: a list of 1..%d classes",
                             WL_MAX_CLASSES);
        double sum = 0;
        for (uint32_t i = 0; i < scn_len(cl); i++) {
            const scn_node *cn = scn_seq_at(cl, i);
            wl_class *k = &w->cls[i];
            if ((rc = sim_schema_check(&class_schema, cn, "workload class", NULL, NULL, err)) ||
                (rc = scn_get_string(cn, "name", NULL, &k->name, err)) ||
                (rc = scn_get_double(cn, "share", -1, &k->share, err)) ||
                (rc = scn_get_uint(cn, "priority", 0, &k->priority, err)))
                return rc;
            if (!k->name)
                return scn_error(err, cn, "workload class %u needs a 'name'", i);
            for (uint32_t j = 0; j < i; j++)
                if (strcmp(w->cls[j].name, k->name) == 0)
                    return scn_error(err, scn_map_get(cn, "name"),
                                     "workload.classes: class '%s' is listed twice", k->name);
            if (!scn_map_get(cn, "share"))
                return scn_error(err, cn, "workload class '%s' needs a 'share' (0..1)", k->name);
            if (!(k->share >= 0 && k->share <= 1))
                return scn_error(err, scn_map_get(cn, "share"),
                                 "workload class '%s': share must be in [0, 1]", k->name);
            if (k->priority > UINT32_MAX)
                return scn_error(err, scn_map_get(cn, "priority"),
                                 "workload class '%s': priority must be 0..%u", k->name,
                                 UINT32_MAX);
            const scn_node *slo = scn_map_get(cn, "slo");
            if (slo && ((rc = scn_get_time(slo, "ttft", 0, &k->slo_ttft, err)) ||
                        (rc = scn_get_time(slo, "tpot", 0, &k->slo_tpot, err))))
                return rc;
            sum += k->share;
            w->ncls++;
        }
        if (fabs(sum - 1) > 1e-9)
            return scn_error(err, cl, "workload.classes: the shares sum to %.12g, not 1", sum);
    }
    const scn_node *an = node ? scn_map_get(node, "admission") : NULL;
    w->adm_retry = (sim_time)10000000000ULL; /* 10 ms */
    if (an && ((rc = scn_get_enum(an, "policy", adm_policies, ADM_NONE, &w->admission, err)) ||
               (rc = scn_get_time(an, "retry", w->adm_retry, &w->adm_retry, err))))
        return rc;
    if (an && w->adm_retry == 0)
        return scn_error(err, scn_map_get(an, "retry"), "workload.admission.retry must be > 0");
    const scn_node *rl = node ? scn_map_get(node, "rate_limit") : NULL;
    if (rl) {
        if (!scn_map_get(rl, "rate"))
            return scn_error(err, rl, "workload.rate_limit needs a 'rate' (e.g. 100/s)");
        if ((rc = get_per_second(rl, "rate", 0, &w->rl_rate, err)) ||
            (rc = scn_get_double(rl, "burst", 1, &w->rl_burst, err)))
            return rc;
        if (!(w->rl_burst >= 1))
            return scn_error(err, scn_map_get(rl, "burst"),
                             "workload.rate_limit.burst must be >= 1 (requests)");
        w->rl_level = w->rl_burst * 1e12; /* the bucket starts full */
    }
    return 0;
}

static int wl_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    wl_state *w = c->state;
    if (!(w->time_scale > 0))
        return scn_error(err, scn_map_get(node, "time_scale"), "time_scale must be positive");
    const scn_node *slo = node ? scn_map_get(node, "slo") : NULL;
    if (slo) {
        int rc = sim_schema_check(&slo_schema, slo, "workload.slo", NULL, NULL, err);
        if (!rc)
            rc = scn_get_time(slo, "ttft", w->slo_ttft, &w->slo_ttft, err);
        if (!rc)
            rc = scn_get_time(slo, "tpot", w->slo_tpot, &w->slo_tpot, err);
        if (rc)
            return rc;
    }
    int prc = parse_priorities(w, node, err);
    if (prc)
        return prc;
    const scn_node *syn = node ? scn_map_get(node, "synthetic") : NULL;
    if (w->trace && !*w->trace)
        w->trace = NULL;
    if (syn && w->trace)
        return scn_error(err, syn, "workload: give either 'trace' or 'synthetic', not both");
    if (syn) {
        /* Validated now, opened by serving_build once the KV block size is known. */
        synth_config cfg;
        return parse_synth(syn, 1, 0, &cfg, err);
    } else if (w->trace) {
        trace_format fmt;
        if (trace_format_parse(w->format, &fmt))
            return scn_error(err, scn_map_get(node, "format"),
                             "unknown trace format '%s' (auto, mooncake, azure, burstgpt, qwen,"
                             " native)", w->format);
        const scn_node *tn = scn_map_get(node, "trace");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", scn_node_file(tn) ? scn_node_file(tn) : "");
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
        sim_err e2;
        sim_err_clear(&e2);
        if (trace_resolve(dir, w->trace, w->path, sizeof w->path, &e2))
            return scn_error(err, tn, "%s", e2.msg);
        w->reader = trace_open(w->path, fmt, err);
        if (!w->reader)
            return err->code ? err->code : SIM_EIO;
    } else {
        return scn_error(err, node, "workload: needs 'trace: FILE' or 'synthetic: {...}'");
    }
    return 0;
}

static inst_req *pool_get(wl_state *w)
{
    if (!w->free_list) {
        pool_chunk *ch = sim_calloc(1, sizeof *ch);
        if (!ch)
            return NULL;
        ch->next = w->chunks;
        w->chunks = ch;
        for (int i = POOL_CHUNK - 1; i >= 0; i--) {
            ch->r[i].next = w->free_list;
            w->free_list = &ch->r[i];
        }
    }
    inst_req *r = w->free_list;
    w->free_list = r->next;
    r->next = r->prev = NULL;
    return r;
}

static void in_system_change(wl_state *w, sim_time now, int delta)
{
    w->area += (double)w->in_system * (double)(now - w->last_change);
    w->last_change = now;
    w->in_system = delta > 0 ? w->in_system + 1 : w->in_system - 1;
}

static double uniform_draw(void *rng) { return gsl_rng_uniform(rng); }

/* Build r's block ids from the trace request. 0 or SIM_ENOMEM. */
static int make_ids(wl_state *w, inst_req *r, const trace_req *t)
{
    uint32_t B = w->block_tokens;
    r->n_prompt = (uint32_t)(((uint64_t)r->input + B - 1) / B);
    r->n_ids = (uint32_t)(((uint64_t)r->input + r->output + B - 1) / B);
    if (r->n_ids > r->ids_cap) {
        uint32_t cap = r->ids_cap ? r->ids_cap : 64;
        while (cap < r->n_ids)
            cap *= 2;
        uint64_t *ids = sim_realloc(r->ids, cap * sizeof *ids);
        if (!ids)
            return SIM_ENOMEM;
        r->ids = ids;
        r->ids_cap = cap;
    }
    uint32_t k = 0;
    /* serving_build checked that B divides the source's block size; a
     * request with another size would lose its prefix ids silently */
    if (w->prefix_caching && t->n_blocks && t->block_tokens % B)
        return SIM_EFORMAT;
    if (w->prefix_caching && t->n_blocks && t->block_tokens) {
        uint32_t f = t->block_tokens / B;
        uint32_t n = r->n_prompt;
        if ((uint64_t)t->n_blocks * f < n)
            n = t->n_blocks * f;
        if (f == 1)
            for (; k < n; k++)
                r->ids[k] = t->block_ids[k];
        else
            for (; k < n; k++)
                r->ids[k] = mix64(t->block_ids[k / f] ^ mix64(k % f));
    }
    uint64_t salt = mix64(w->uid ^ 0x5eedf00dULL);
    for (; k < r->n_ids; k++)
        r->ids[k] = mix64(salt + k);
    return 0;
}

/* ---- prefill/decode disaggregation --------------------------------------- */

static void done_cb(void *ctx, inst_req *r);

static void rx_flush(wl_state *w);

/* The decode instance for r: least loaded (tokens to compute, reservations
 * waiting) or most free KV blocks; ties go round-robin (the scan starts
 * one instance further each time), so an idle pool shares the work. With
 * the routing index (rx_setup) the same choice in O(log n): the decode
 * index's tree on that figure (min on inst_load, or max on
 * inst_free_blocks) and the first instance tied with its root in cyclic
 * order from `start` (kv_rindex_first_from), which is what the scan below
 * keeps (it replaces its best only by a strictly better one). */
static uint32_t pd_pick_decode(wl_state *w)
{
    uint32_t start = (uint32_t)(w->dec_rr++ % w->ndec);
    if (w->rxd) {
        rx_flush(w);
        w->rstat.decode_indexed++;
        return w->didx[kv_rindex_first_from(w->rxd, w->pd_policy == PD_KV_ROOM, start)];
    }
    w->rstat.decode_scanned++;
    uint32_t best = w->didx[start];
    for (uint32_t k = 1; k < w->ndec; k++) {
        uint32_t i = (start + k) % w->ndec;
        sim_comp *a = w->inst[w->didx[i]], *b = w->inst[best];
        if (w->pd_policy == PD_KV_ROOM ? inst_free_blocks(a) > inst_free_blocks(b)
                                       : inst_load(a) < inst_load(b))
            best = w->didx[i];
    }
    return best;
}

/* Prompt tokens in [a, b) whose KV the decode side does not already hold. */
static uint64_t pd_tokens(const wl_state *w, const inst_req *r, uint64_t a, uint64_t b)
{
    uint64_t held = (uint64_t)r->kv_hit * w->block_tokens;
    if (a < held)
        a = held;
    return b > a ? b - a : 0;
}

/* Move `bytes` of r's KV from its prefill GPU(s) to its decode GPU(s): one
 * flow per tensor-parallel shard (max of the two degrees), over the fabric
 * when both instances name a device, else after latency + bytes / bandwidth
 * through the decode instance's one FIFO receive channel (at once with no
 * bandwidth). */
static void pd_send(sim_comp *c, inst_req *r, uint64_t bytes)
{
    wl_state *w = c->state;
    if (!bytes)
        return;
    sim_comp *p = w->inst[r->prefill], *d = w->inst[r->decode];
    r->kv_bytes += bytes;
    w->kv_bytes += bytes;
    /* on the wire each KV chunk carries its header (request, session, layer/block, offset) */
    uint64_t hdr = w->kv_header ? (bytes + w->kv_chunk - 1) / w->kv_chunk * w->kv_header : 0;
    w->kv_header_bytes += hdr;
    bytes += hdr;
    uint32_t src = inst_device(p), dst = inst_device(d);
    if (src != UINT32_MAX && dst != UINT32_MAX && src != dst) {
        uint32_t tp_p = inst_hw(p)->tp, tp_d = inst_hw(d)->tp;
        uint32_t shards = tp_p > tp_d ? tp_p : tp_d;
        uint64_t each = bytes / shards;
        for (uint32_t k = 0; k < shards; k++) {
            uint64_t b = each + (k == 0 ? bytes - each * shards : 0);
            fabric_req fr = {src, dst, b, w->pd_path, c->id, WL_EV_KV,
                             (uint64_t)(uintptr_t)r, 0, NULL, 0, r->id * 64 + k,
                             r->session ? r->session : r->id + 1, FABRIC_CLASS_KV_TRANSFER, 0, 0};
            if (fabric_transfer_req(c->sim, &fr) == 0)
                r->kv_flows++;
            else
                w->kv_errors++;
        }
    } else if (w->pd_bw > 0) { /* one FIFO receive channel per decode instance */
        sim_time now = sim_now(c->sim);
        sim_time start = w->kv_chan[r->decode] > now ? w->kv_chan[r->decode] : now;
        sim_time end = start + (sim_time)llround((double)bytes * 1e12 / w->pd_bw);
        w->kv_chan[r->decode] = end;
        sim_schedule_at(c->sim, end + w->pd_lat, c->id, WL_EV_KV, (uint64_t)(uintptr_t)r, 0);
        r->kv_flows++;
    }
}

/* Everything in place: the KV has arrived, the prefill lets go, the decode
 * instance takes over (its first token counts as delivered now). */
static void pd_check(sim_comp *c, inst_req *r)
{
    wl_state *w = c->state;
    if (r->state != INST_HANDOFF || !r->kv_reserved || !r->kv_sent || r->kv_flows)
        return;
    sim_time now = sim_now(c->sim);
    r->kv_end = now;
    sim_samples_add(&w->ttft_prefill, (double)(r->prefill_end - r->arrival));
    sim_samples_add(&w->kv_exposed, (double)(r->kv_end - r->prefill_end));
    inst_release(w->inst[r->prefill], r);
    r->instance = r->decode;
    inst_start_decode(w->inst[r->decode], r);
}

/* The whole prompt's KV (what the decode side lacks) leaves at once. */
static void pd_send_whole(sim_comp *c, inst_req *r)
{
    wl_state *w = c->state;
    uint64_t kvbpt = inst_kv_bytes_per_token(w->inst[r->prefill]);
    pd_send(c, r, kvbpt * pd_tokens(w, r, 0, r->input));
    r->kv_sent = 1;
    pd_check(c, r);
}

/* The decode instance reserved r's blocks (now, or after a wait). */
static void pd_reserved(void *ctx, inst_req *r)
{
    sim_comp *c = ctx;
    wl_state *w = c->state;
    r->kv_start = sim_now(c->sim);
    sim_time since = w->pd_mode == PD_LAYERWISE ? r->arrival : r->prefill_end;
    sim_samples_add(&w->kv_wait, (double)(r->kv_start - since));
    if (w->pd_mode == PD_LAYERWISE)
        inst_submit(w->inst[r->prefill], r); /* the prefill may start streaming */
    else
        pd_send_whole(c, r);
}

/* A request no decode instance can ever hold. */
static void pd_reject(sim_comp *c, inst_req *r)
{
    wl_state *w = c->state;
    if (r->state == INST_HANDOFF)
        inst_release(w->inst[r->prefill], r);
    r->state = INST_REJECTED;
    done_cb(c, r);
}

/* Reserve on the decode side; 1 when r may proceed now. */
static int pd_reserve(sim_comp *c, inst_req *r)
{
    wl_state *w = c->state;
    int rc = inst_reserve(w->inst[r->decode], r, pd_reserved);
    if (rc < 0) {
        pd_reject(c, r);
        return 0;
    }
    if (rc > 0) {
        r->kv_start = sim_now(c->sim);
        sim_samples_add(&w->kv_wait, 0.0);
    }
    return rc > 0;
}

/* A new request for a prefill instance. Layer-wise streaming needs the
 * decode side's blocks before the first layer leaves, so it reserves
 * first; whole transfers reserve when the prompt is done. */
static void pd_dispatch(sim_comp *c, inst_req *r)
{
    wl_state *w = c->state;
    r->prefill = r->instance;
    if (r->decode == UINT32_MAX)
        r->decode = pd_pick_decode(w);
    r->kv_sent_tokens = 0;
    /* keep the decode NIC's match-action table current as sessions are placed */
    uint64_t key = r->session ? r->session : r->id + 1, was = 0;
    uint32_t dev = inst_device(w->inst[r->decode]);
    if (dev != UINT32_MAX && !(trace_u64map_get(w->placed, key, &was) && was == r->decode + 1u)) {
        trace_u64map_put(w->placed, key, r->decode + 1u);
        if (fabric_kv_place(c->sim, dev, key) == 0)
            w->placements++;
    }
    if (w->pd_mode == PD_LAYERWISE) {
        if (r->n_prompt > inst_kv_blocks(w->inst[r->prefill])) {
            pd_reject(c, r);
            return;
        }
        if (!pd_reserve(c, r))
            return; /* waits (pd_reserved submits it) or rejected */
    }
    inst_submit(w->inst[r->prefill], r);
}

/* Layer-wise streaming (prefill chunk hook): a chunk's first L-1 layers'
 * KV leaves as its step starts (paced by the fabric), its last layer's as
 * the step ends; the prompt's cached prefix leaves with the first chunk.
 * Exposed after the prefill: the last layer's share and the latency, when
 * the network keeps up. */
static void pd_chunk(void *ctx, inst_req *r, int phase, uint32_t tokens, sim_time len)
{
    sim_comp *c = ctx;
    wl_state *w = c->state;
    if (w->pd_mode != PD_LAYERWISE || r->decode == UINT32_MAX)
        return;
    sim_comp *p = w->inst[r->prefill];
    uint64_t kvbpt = inst_kv_bytes_per_token(p), L = inst_hw(p)->m->layers;
    uint64_t a = phase ? r->prefilled - tokens : r->prefilled, b = a + tokens;
    uint64_t chunk = kvbpt * pd_tokens(w, r, a, b), early = L > 1 ? chunk * (L - 1) / L : 0;
    if (phase == 0) {
        uint64_t prefix = r->kv_sent_tokens < a ? pd_tokens(w, r, r->kv_sent_tokens, a) : 0;
        if (b > r->kv_sent_tokens)
            r->kv_sent_tokens = (uint32_t)b;
        pd_send(c, r, kvbpt * prefix + early);
    } else {
        pd_send(c, r, chunk - early);
    }
}

/* The prefill instance handed r off. */
static void pd_handoff(sim_comp *c, inst_req *r)
{
    wl_state *w = c->state;
    if (w->pd_mode == PD_LAYERWISE) {
        r->kv_sent = 1; /* every chunk's KV has left */
        pd_check(c, r);
    } else if (pd_reserve(c, r)) {
        pd_send_whole(c, r);
    }
}

/* Refused at the router (rate limit or admission): the request leaves
 * without reaching an instance (its row names the routed instance). */
static void router_reject(sim_comp *c, inst_req *r)
{
    r->state = INST_REJECTED;
    r->first_token = r->last_token = r->finish = 0;
    r->cached = r->hit_blocks = 0;
    r->preemptions = 0;
    done_cb(c, r);
}

static void defer_push(sim_comp *c, inst_req *r)
{
    wl_state *w = c->state;
    r->next = NULL;
    if (w->def_tail)
        w->def_tail->next = r;
    else
        w->def_head = r;
    w->def_tail = r;
    if (!w->retry_pending) {
        w->retry_pending = 1;
        sim_schedule(c->sim, w->adm_retry, c->id, WL_EV_RETRY, 0, 0);
    }
}

/* The TTFT SLO of r (its class's, else the workload's), ps; 0: none. */
static sim_time ttft_slo(const wl_state *w, const inst_req *r)
{
    if (w->ncls && w->cls[r->klass].slo_ttft)
        return w->cls[r->klass].slo_ttft;
    return w->slo_ttft;
}

/* r's predicted TTFT on its instance, rounded to ps (compared with SLOs
 * in ps, so a prediction equal to the SLO is within it). */
static sim_time predicted_ps(const wl_state *w, const inst_req *r)
{
    sim_comp *in = w->inst[r->instance];
    double p = inst_predict_ttft(in, r) * 1e12;
    if (w->ncls && inst_priority_scheduling(in)) {
        /* Higher classes arriving while r waits go first: with a fraction
         * f of the offered work (tokens of the arrivals so far) in classes
         * of a higher priority, r's wait stretches by 1 / (1 - f), as a
         * lower class's in a preemptive-priority queue of a busy server
         * (Kleinrock, Queueing Systems vol. 2, 1976, sec. 3.7). */
        double hi = 0, all = 0;
        for (uint32_t k = 0; k < w->ncls; k++) {
            all += w->cls[k].work;
            if (w->cls[k].priority > r->priority)
                hi += w->cls[k].work;
        }
        if (hi > 0)
            p = hi < all ? p / (1 - hi / all) : 1.8e19;
    }
    return p >= 1.8e19 ? SIM_TIME_MAX : (sim_time)llround(p);
}

/* Hand r to its instance through the router's gates: the token bucket
 * (one token per request; refilled at rl_rate up to rl_burst; none left:
 * rejected), then SLO-aware admission (predicted TTFT > the TTFT SLO:
 * rejected, or deferred and retried every adm_retry). */
static void gate_submit(sim_comp *c, inst_req *r)
{
    wl_state *w = c->state;
    sim_time now = sim_now(c->sim);
    wl_class *k = w->ncls ? &w->cls[r->klass] : NULL;
    if (w->rl_rate > 0) {
        /* level in tokens x 1e12: (now - last) ps x rate tokens/s, exact in a
         * double for integral rates and spans below 2^53 / rate ps */
        w->rl_level += (double)(now - w->rl_last) * w->rl_rate;
        if (w->rl_level > w->rl_burst * 1e12)
            w->rl_level = w->rl_burst * 1e12;
        w->rl_last = now;
        if (w->rl_level < 1e12) {
            w->rejected_rate++;
            if (k)
                k->rejected_rate++;
            router_reject(c, r);
            return;
        }
        w->rl_level -= 1e12;
    }
    sim_time slo = ttft_slo(w, r);
    if (w->admission != ADM_NONE && slo && predicted_ps(w, r) > slo) {
        if (w->admission == ADM_REJECT) {
            w->rejected_slo++;
            if (k)
                k->rejected_slo++;
            router_reject(c, r);
        } else {
            w->deferred++;
            if (k)
                k->deferred++;
            defer_push(c, r);
        }
        return;
    }
    inst_submit(w->inst[r->instance], r);
}

/* Retry the deferred requests in order: submitted when the time already
 * waited plus the predicted TTFT fits the SLO, rejected once the wait
 * alone exceeds it, else kept (on the instance routed at arrival). */
static void defer_retry(sim_comp *c)
{
    wl_state *w = c->state;
    sim_time now = sim_now(c->sim);
    inst_req *r = w->def_head, *keep = NULL, *ktail = NULL;
    w->def_head = w->def_tail = NULL;
    while (r) {
        inst_req *nx = r->next;
        r->next = NULL;
        sim_time slo = ttft_slo(w, r);
        if (now - r->arrival > slo) {
            w->rejected_slo++;
            if (w->ncls)
                w->cls[r->klass].rejected_slo++;
            router_reject(c, r);
        } else if (now - r->arrival + predicted_ps(w, r) <= slo) {
            inst_submit(w->inst[r->instance], r);
        } else {
            if (ktail)
                ktail->next = r;
            else
                keep = r;
            ktail = r;
        }
        r = nx;
    }
    w->def_head = keep;
    w->def_tail = ktail;
    w->retry_pending = 0;
    if (keep) {
        w->retry_pending = 1;
        sim_schedule(c->sim, w->adm_retry, c->id, WL_EV_RETRY, 0, 0);
    }
}

/* r's class: the trace's class column, else by share from a hash of its
 * session (its id without one), so a session keeps its class and no
 * random stream is drawn. 0, or SIM_EFORMAT (run failed) for a class the
 * scenario does not list. */
static int assign_class(sim_comp *c, inst_req *r, const trace_req *t)
{
    wl_state *w = c->state;
    r->klass = r->priority = 0;
    if (!w->ncls)
        return 0;
    uint32_t k = 0;
    if (t->has_class) {
        if (t->klass >= w->ncls) {
            sim_fail(c->sim, SIM_EFORMAT, "%s:%ld:%d: unknown class %u: workload.classes lists"
                     " %u (0..%u)", trace_reader_name(w->reader), trace_reader_line(w->reader),
                     t->class_col, t->klass, w->ncls, w->ncls - 1);
            return SIM_EFORMAT;
        }
        k = t->klass;
    } else {
        double u = (double)(mix64((t->session ? t->session : t->id + 1) ^ 0xc1a55e5ULL) >> 11) *
                   0x1p-53, acc = 0;
        for (k = 0; k + 1 < w->ncls; k++) {
            acc += w->cls[k].share;
            if (u < acc)
                break;
        }
    }
    r->klass = k;
    r->priority = (uint32_t)w->cls[k].priority;
    w->cls[k].arrived++;
    w->cls[k].work += (double)(t->input_tokens ? t->input_tokens : 1) +
                      (double)(t->output_tokens ? t->output_tokens : 1);
    return 0;
}

/* ---- indexed routing ------------------------------------------------------
 *
 * For the built-in routers that allow it (kv_router_index_plan: all but
 * plug-ins and llmd with a non-finite weight; kv_pair_index_plan:
 * conductor; dynamo with temperature > 0 samples from the router's stream,
 * with the query's uniform and rng)
 * and every instance matching prefixes in its own store only, the
 * workload keeps a kv_rindex: the instances report load changes
 * (inst_set_route_hooks: outstanding tokens, requests, KV blocks in use
 * and evictable) and their stores every block entering and leaving their
 * index. A request then costs O(log n) per instance whose load changed
 * since the last one, plus one exact match per holder of its first block,
 * instead of a view of all n instances; the choice is the one the policy
 * makes on the full views (kv_router.c proves it per policy), and a
 * request the index cannot decide exactly (kv_router_index_route:
 * KV_RX_FULL) gets the full views.
 *
 * With disaggregation the router's index (rx) covers the prefill-capable
 * instances only (position k = pidx[k], ascending like the instance
 * indexes the policies break ties on), as the full views do: a decode
 * instance's blocks are never offered to the router, so it is no holder.
 * The decode instances have an index of their own (rxd, position j =
 * didx[j]): for a pair router on (outstanding, free KV blocks, waiting),
 * the min tree on (waiting, outstanding, index) and the max tree on free
 * blocks (RX_DEC_PAIR); for an ordinary router, the figure
 * workload.disaggregation.decode_policy reads, inst_load (least_loaded,
 * min tree) or inst_free_blocks (kv_room, max tree), the other 0
 * (RX_DEC_PICK; pd_pick_decode), set up whether or not the router has an
 * index (a plug-in has none: rx stays NULL and its requests build every
 * prefill view, while the decode choice still comes from rxd). */
enum { RX_DEC_PAIR = 1, RX_DEC_PICK };

static void rx_load(void *ctx)
{
    struct rx_ctx *q = ctx;
    q->w->dirty[q->w->ndirty++] = q->i; /* at most once per instance between routes */
}

static void rx_block(void *ctx, uint64_t id, int added)
{
    struct rx_ctx *q = ctx;
    if (!q->dec && kv_rindex_block(q->w->rx, q->k, id, added)) /* no router reads decode holders */
        q->w->rx_failed = 1;
}

/* The figures an index keeps of instance i (load view v):
 * kv_router_index_figures, or for a decode instance those its kind reads
 * (see above). */
static void rx_figures(wl_state *w, const struct rx_ctx *q, const memfab_instance_view *v,
                       uint64_t f[3])
{
    kv_router_index_figures(v, f);
    if (!q->dec)
        return;
    if (q->dec == RX_DEC_PAIR) {
        f[1] = v->kv_free_blocks;
        f[2] = v->waiting;
    } else {
        int room = w->pd_policy == PD_KV_ROOM;
        f[0] = room ? 0 : inst_load(w->inst[q->i]);
        f[1] = room ? inst_free_blocks(w->inst[q->i]) : 0;
        f[2] = 0;
    }
}

/* Instance i's load figures into its index (re-arming its hook). */
static void rx_refresh(wl_state *w, uint32_t i)
{
    memfab_instance_view v;
    uint64_t f[3];
    const struct rx_ctx *q = &w->rctx[i];
    inst_take_load(w->inst[i], &v);
    rx_figures(w, q, &v, f);
    kv_rindex_set(q->dec ? w->rxd : w->rx, q->k, f[0], f[1], f[2]);
}

/* Set the index up at the first request (every store exists by then and
 * is empty); leave rx NULL when the router or an instance does not allow
 * it. With disaggregation and an ordinary router the decode index (rxd)
 * serves pd_pick_decode whatever the router is: it reads only the decode
 * instances' load figures, so it is set up with or without rx (a plug-in
 * router, dynamo sampling, a single prefill-capable instance), and then
 * only the decode instances report to it. A pair router's decode index
 * serves its indexed path only (route_pair_indexed), so it comes with rx. */
static void rx_setup(sim_comp *c)
{
    wl_state *w = c->state;
    w->rx_tried = 1;
    w->rkind = kv_router_builtin(w->router);
    if (!w->pair && w->rkind == KV_ROUTE_OTHER && (w->scope = kv_router_scope(w->router))) {
        uint32_t n = w->disagg ? w->npre : w->ninst;
        w->scope_k = w->scope->lightest < n ? w->scope->lightest : n;
        w->sviews = sim_calloc((size_t)w->ninst + 1, sizeof *w->sviews);
        w->spos = sim_calloc((size_t)w->ninst + 1, sizeof *w->spos);
        w->ssort = sim_calloc((size_t)w->ninst + w->scope_k + 1, sizeof *w->ssort);
        w->slight = sim_calloc((size_t)w->scope_k + 1, sizeof *w->slight);
        if (!w->sviews || !w->spos || !w->ssort || !w->slight) {
            w->rx_failed = 1;
            return;
        }
    }
    if (w->route_full || w->ninst < 2)
        return;
    /* Disaggregated (a pair router, or an ordinary one choosing among two
     * or more prefill-capable instances): rx over the prefill instances,
     * rxd over the decode ones; otherwise rx over every instance. */
    int pair = w->pair && w->disagg && w->npre && w->ndec;
    if (w->pair && !pair)
        return;
    int plain = !pair && (w->rkind == KV_ROUTE_RR || w->rkind == KV_ROUTE_RANDOM);
    int want_rx = pair ? !kv_pair_index_plan(w->pair, w->pair_st, &w->rplan)
                  : w->disagg && w->npre < 2 ? 0
                  : plain || w->scope ? 1
                          : !kv_router_index_plan(w->router, w->router_st, &w->rplan);
    if (w->scope) /* the holders' views and the k lightest (min tree on load) */
        w->rplan = (kv_rx_plan){KV_RINDEX_LOAD, KV_RINDEX_NONE, 1, 0, 0};
    if (plain)
        w->rplan = (kv_rx_plan){KV_RINDEX_LOAD, KV_RINDEX_NONE, 0, 0, 0};
    int dkind = !w->disagg || !w->ndec ? 0 : pair ? RX_DEC_PAIR : RX_DEC_PICK;
    if (!want_rx && dkind != RX_DEC_PICK)
        return;
    if (want_rx)
        w->rx = kv_rindex_new_orders(w->disagg ? w->npre : w->ninst, w->rplan.min_order,
                                     w->rplan.max_order);
    if (dkind == RX_DEC_PAIR)
        w->rxd = kv_rindex_new_orders(w->ndec, KV_RINDEX_REQS, KV_RINDEX_MAXKV);
    else if (dkind == RX_DEC_PICK)
        w->rxd = kv_rindex_new_orders(w->ndec, KV_RINDEX_LOAD,
                                      w->pd_policy == PD_KV_ROOM ? KV_RINDEX_MAXKV
                                                                 : KV_RINDEX_NONE);
    w->rctx = sim_calloc(w->ninst, sizeof *w->rctx);
    w->dirty = sim_calloc(w->ninst, sizeof *w->dirty);
    w->cand = sim_calloc((size_t)w->ninst + 1, sizeof *w->cand);
    w->cviews = sim_calloc((size_t)w->ninst + 1, sizeof *w->cviews);
    uint32_t i = 0;
    if ((w->rx || !want_rx) && (w->rxd || !dkind) && w->rctx && w->dirty && w->cand &&
        w->cviews) {
        w->kv_total_min = UINT64_MAX;
        w->kv_total_max = 0;
        if (dkind) {
            for (uint32_t k = 0; k < w->npre; k++)
                w->rctx[w->pidx[k]].k = k;
            for (uint32_t j = 0; j < w->ndec; j++) {
                w->rctx[w->didx[j]].k = j;
                w->rctx[w->didx[j]].dec = dkind;
            }
        } else {
            for (uint32_t k = 0; k < w->ninst; k++)
                w->rctx[k].k = k;
        }
        for (; i < w->ninst; i++) {
            w->rctx[i].w = w;
            w->rctx[i].i = i;
            if (!w->rctx[i].dec && !w->rx)
                continue; /* in no index: no hooks */
            if (inst_set_route_hooks(w->inst[i], rx_load, rx_block, &w->rctx[i]))
                break;
            memfab_instance_view v;
            inst_load_view(w->inst[i], &v); /* kv_total_blocks is fixed from the start */
            if (!w->rctx[i].dec) {
                w->kv_total_min = v.kv_total_blocks < w->kv_total_min ? v.kv_total_blocks
                                                                      : w->kv_total_min;
                w->kv_total_max = v.kv_total_blocks > w->kv_total_max ? v.kv_total_blocks
                                                                      : w->kv_total_max;
            }
            rx_refresh(w, i);
        }
    }
    if (i == w->ninst)
        return;
    while (i-- > 0) /* refused (or no memory): full views for every request */
        inst_set_route_hooks(w->inst[i], NULL, NULL, NULL);
    kv_rindex_free(w->rx);
    kv_rindex_free(w->rxd);
    w->rx = w->rxd = NULL;
}

#ifndef NDEBUG
/* Debug builds: after the refresh, the index holds every instance's
 * present figures (a load change the instance did not report would
 * show here). O(n) per request. */
static int rx_consistent(wl_state *w)
{
    for (uint32_t i = 0; i < w->ninst; i++) {
        memfab_instance_view v;
        uint64_t f[3];
        const struct rx_ctx *q = &w->rctx[i];
        if (!q->dec && !w->rx)
            continue; /* in no index */
        inst_load_view(w->inst[i], &v);
        rx_figures(w, q, &v, f);
        for (int k = 0; k < 3; k++)
            if (kv_rindex_figure(q->dec ? w->rxd : w->rx, q->k, k) != f[k])
                return 0;
    }
    return 1;
}
#endif

/* Bring the indexes up to date: the instances whose load changed. */
static void rx_flush(wl_state *w)
{
    for (uint32_t k = 0; k < w->ndirty; k++)
        rx_refresh(w, w->dirty[k]);
    w->ndirty = 0;
    assert(rx_consistent(w));
}

/* The index query for r over the n instances w->rx covers (map[k]: the
 * instance at index position k; NULL: position = instance): the views of
 * the holders of r's first block, the least-loaded instance (and its view
 * when the plan reads it) and the plan's load figures. Brings the index up
 * to date first. */
static void rx_query(wl_state *w, inst_req *r, const uint32_t *map, uint32_t n, kv_rx_query *q)
{
    rx_flush(w);
    memset(q, 0, sizeof *q);
    q->cand = w->cviews;
    if (w->rplan.holders && r->n_prompt) {
        uint32_t nh = kv_rindex_holders(w->rx, r->ids[0], w->cand, n);
        w->rstat.holders += nh;
        for (uint32_t k = 0; k < nh && k < n; k++)
            inst_view(w->inst[map ? map[w->cand[k]] : w->cand[k]], r, &w->cviews[q->ncand++]);
    }
    uint32_t least = kv_rindex_least(w->rx);
    q->least = map ? map[least] : least;
    if (w->rplan.least_view) {
        w->cand[q->ncand] = least;
        inst_view(w->inst[q->least], r, &w->cviews[q->ncand++]);
    }
    w->rstat.views += q->ncand;
    static const int fig_of[] = {[KV_RINDEX_LOAD] = 0,    [KV_RINDEX_KV] = 1,
                                 [KV_RINDEX_REQS] = 2,    [KV_RINDEX_MAXLOAD] = 0,
                                 [KV_RINDEX_MAXREQS] = 2, [KV_RINDEX_MAXKV] = 1};
    q->least_fig = kv_rindex_figure(w->rx, least, fig_of[w->rplan.min_order]);
    if (w->rplan.max_order != KV_RINDEX_NONE)
        q->most_fig = kv_rindex_figure(w->rx, kv_rindex_most(w->rx), fig_of[w->rplan.max_order]);
    q->kv_total_min = w->kv_total_min;
    q->kv_total_max = w->kv_total_max;
    q->rx = w->rx;
    q->cand_pos = w->cand;
    q->map = map;
    q->n = n;
    q->work = &w->rwork;
    w->ncviews = q->ncand;
}

/* The pair router's choice for r from the two indexes: the prefill
 * instance (an instance index; its view is in cviews) with the decode
 * position in *dd and early rejection in *reject, or KV_RX_FULL when the
 * request needs every view. The decode position: the plan's rule
 * (kv_rx_plan.decode_room: the first in the min tree's order with room
 * for the prompt, else the root), or the root. */
static uint32_t route_pair_indexed(sim_comp *c, inst_req *r, const memfab_request_view *rv,
                                   uint32_t *dd, int *reject)
{
    wl_state *w = c->state;
    kv_rx_query q;
    rx_query(w, r, w->pidx, w->npre, &q);
    *dd = kv_rindex_least(w->rxd);
    if (w->rplan.decode_room) {
        uint64_t was = kv_rindex_walked(w->rxd);
        uint32_t j = kv_rindex_least_with(w->rxd, 1, rv->n_blocks);
        if (j != UINT32_MAX)
            *dd = j;
        uint64_t took = kv_rindex_walked(w->rxd) - was; /* 1: the root had room */
        w->rstat.decode_searches += took > 1;
        w->rstat.decode_walk += took > 1 ? took : 0;
        if (took > w->rstat.decode_walk_max)
            w->rstat.decode_walk_max = took;
    }
    memfab_instance_view dv;
    inst_load_view(w->inst[w->didx[*dd]], &dv);
    w->rstat.views++;
    uint32_t pick = kv_pair_index_route(w->pair, w->pair_st, rv, &q, &dv, reject);
    if (pick != KV_RX_FULL) {
        w->rstat.indexed++;
        w->rstat.decode_indexed++;
    }
    return pick;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* A scoped plug-in router (plugin.h, "Scoped routing") on the views it
 * reads: the positions in w->ssort[0, ns) as (position << 32 | source)
 * pairs, sorted, a repeated position taken once (the lower source first:
 * one whose view is already built, built[src] for src < nbuilt; others
 * are built here). Its choice as a position; the views it got in
 * w->sviews[0, *nviews). */
static uint32_t scope_route(sim_comp *c, inst_req *r, const memfab_request_view *rv,
                            const uint32_t *map, uint32_t ns,
                            const memfab_instance_view *built, uint32_t nbuilt, uint32_t *nviews)
{
    wl_state *w = c->state;
    qsort(w->ssort, ns, sizeof *w->ssort, cmp_u64);
    uint32_t m = 0;
    for (uint32_t j = 0; j < ns; j++) {
        uint32_t pos = (uint32_t)(w->ssort[j] >> 32), src = (uint32_t)w->ssort[j];
        if (m && w->spos[m - 1] == pos)
            continue;
        w->spos[m] = pos;
        if (src < nbuilt) {
            w->sviews[m] = built[src];
        } else {
            inst_view(w->inst[map ? map[pos] : pos], r, &w->sviews[m]);
            w->rstat.views++;
        }
        m++;
    }
    *nviews = m;
    uint32_t k = w->router->route(w->router_st, rv, w->sviews, m, uniform_draw, c->rng);
    return w->spos[k < m ? k : m - 1];
}

/* The router's choice among the full views w->views[0, n) (a position):
 * all of them, or a scoped router's subset (the instances with a prefix
 * hit and the scope_k lightest by (outstanding, position), the order of
 * the index's min tree), the same set its indexed path gives it. */
static uint32_t route_views(sim_comp *c, inst_req *r, const memfab_request_view *rv, uint32_t n)
{
    wl_state *w = c->state;
    if (!w->scope)
        return w->router->route(w->router_st, rv, w->views, n, uniform_draw, c->rng);
    uint32_t nl = 0, k = w->scope_k, ns = 0;
    for (uint32_t i = 0; i < n; i++) { /* insertion into the sorted k lightest */
        uint64_t o = w->views[i].outstanding_tokens;
        if (nl == k && o >= w->views[w->slight[nl - 1]].outstanding_tokens)
            continue;
        uint32_t j = nl < k ? nl++ : nl - 1;
        for (; j > 0 && o < w->views[w->slight[j - 1]].outstanding_tokens; j--)
            w->slight[j] = w->slight[j - 1];
        w->slight[j] = i;
    }
    for (uint32_t i = 0; i < n; i++)
        if (w->views[i].prefix_blocks)
            w->ssort[ns++] = (uint64_t)i << 32 | i;
    for (uint32_t j = 0; j < nl; j++)
        w->ssort[ns++] = (uint64_t)w->slight[j] << 32 | w->slight[j];
    uint32_t m;
    return scope_route(c, r, rv, NULL, ns, w->views, n, &m);
}

/* The router's choice for r among the n instances rx covers (map: as for
 * rx_query), from the index: an index position in [0, n), or KV_RX_FULL
 * when the request needs the full views. */
static uint32_t route_indexed(sim_comp *c, inst_req *r, const memfab_request_view *rv,
                              const uint32_t *map, uint32_t n)
{
    wl_state *w = c->state;
    w->ncviews = 0;
    if (w->rkind == KV_ROUTE_RR || w->rkind == KV_ROUTE_RANDOM) { /* they read no view */
        w->rstat.indexed++;
        return w->router->route(w->router_st, rv, w->views, n, uniform_draw, c->rng);
    }
    kv_rx_query q;
    rx_query(w, r, map, n, &q);
    if (w->scope) { /* the holders with a hit and the k lightest */
        uint32_t ns = 0;
        for (uint32_t k = 0; k < q.ncand; k++)
            if (q.cand[k].prefix_blocks)
                w->ssort[ns++] = (uint64_t)w->cand[k] << 32 | k;
        uint32_t nl = kv_rindex_k_least(w->rx, w->scope_k, w->slight);
        for (uint32_t j = 0; j < nl; j++)
            w->ssort[ns++] = (uint64_t)w->slight[j] << 32 | UINT32_MAX;
        uint32_t m = 0, pos = scope_route(c, r, rv, map, ns, q.cand, q.ncand, &m);
        memcpy(w->cviews, w->sviews, sizeof *w->cviews * m); /* the chosen's view among them */
        w->ncviews = m;
        w->rstat.indexed++;
        return pos;
    }
    q.uniform = uniform_draw;
    q.rng = c->rng;
    uint32_t pick = kv_router_index_route(w->router, w->router_st, rv, &q);
    if (pick == KV_RX_FULL)
        return pick;
    w->rstat.indexed++;
    return map ? w->rctx[pick].k : pick; /* an instance index: its position */
}

static void dispatch(sim_comp *c, const trace_req *t)
{
    wl_state *w = c->state;
    sim_time now = sim_now(c->sim);
    inst_req *r = pool_get(w);
    if (!r) {
        sim_fail(c->sim, SIM_ENOMEM, "%s: out of memory for request records", c->name);
        return;
    }
    r->id = t->id;
    r->session = t->session;
    r->arrival = now;
    r->input = t->input_tokens ? t->input_tokens : 1;
    r->output = t->output_tokens ? t->output_tokens : 1;
    w->uid++;
    int rc = make_ids(w, r, t);
    if (rc == SIM_EFORMAT) {
        sim_fail(c->sim, rc, "%s: request %llu has %u-token blocks, which kv.block_tokens "
                 "(%u) does not divide", c->name, (unsigned long long)t->id, t->block_tokens,
                 w->block_tokens);
        return;
    }
    if (rc) {
        sim_fail(c->sim, SIM_ENOMEM, "%s: out of memory for block ids", c->name);
        return;
    }
    if (assign_class(c, r, t)) {
        r->next = w->free_list;
        w->free_list = r;
        return;
    }
    /* The router chooses among the instances that take prompts: all of
     * them, or with disaggregation the prefill (and mixed) ones. */
    uint32_t n = w->disagg ? w->npre : w->ninst;
    uint32_t pick = 0;
    uint64_t stuck = 0;
    int have = 0;
    if (w->pair) { /* a pair router: (prefill, decode) or early rejection */
        if (!w->rx_tried)
            rx_setup(c);
        if (w->rx_failed) {
            sim_fail(c->sim, SIM_ENOMEM, "%s: out of memory for the routing index", c->name);
            return;
        }
        memfab_request_view rv = {r->id, r->session, r->input, r->output, r->n_prompt,
                                  w->block_tokens, r->ids};
        uint32_t pp = 0, dd = 0, g = KV_RX_FULL;
        int reject = 0;
        w->rstat.routed++;
        if (w->rx)
            g = route_pair_indexed(c, r, &rv, &dd, &reject);
        if (g != KV_RX_FULL) { /* the index decided: the prefill view is in cviews */
            uint32_t k = 0;
            while (k < w->ncviews && w->cviews[k].index != g)
                k++;
            assert(k < w->ncviews);
            r->predicted = k < w->ncviews ? w->cviews[k].prefix_blocks : 0;
            r->instance = g;
        } else {
            w->rstat.views += n + w->ndec;
            for (uint32_t i = 0; i < n; i++)
                inst_view(w->inst[w->pidx[i]], r, &w->views[i]);
            for (uint32_t j = 0; j < w->ndec; j++)
                inst_view(w->inst[w->didx[j]], r, &w->dviews[j]);
            reject = w->pair->route_pair(w->pair_st, &rv, w->views, n, w->dviews, w->ndec,
                                         uniform_draw, c->rng, &pp, &dd);
            pp = pp < n ? pp : n - 1;
            dd = dd < w->ndec ? dd : w->ndec - 1;
            r->predicted = w->views[pp].prefix_blocks;
            r->instance = w->pidx[pp];
        }
        r->decode = UINT32_MAX;
        r->kv_next = NULL;
        w->tot.arrived++;
        if (w->tot.arrived == 1)
            w->first_arrival = now;
        in_system_change(w, now, +1);
        if (reject) {
            w->rejected_early++;
            r->prefill = r->instance;
            r->state = INST_REJECTED;
            done_cb(c, r);
            return;
        }
        r->kv_hit = r->kv_pinned = r->kv_flows = 0;
        r->kv_reserved = r->kv_sent = 0;
        r->admitted = r->prefill_end = r->kv_start = r->kv_end = 0;
        r->kv_bytes = 0;
        if (inst_role(w->inst[r->instance]) == INST_ROLE_PREFILL) {
            r->decode = w->didx[dd];
            pd_dispatch(c, r);
        } else {
            inst_submit(w->inst[r->instance], r);
        }
        return;
    }
    if (!w->rx_tried)
        rx_setup(c);
    if (w->rx_failed) {
        sim_fail(c->sim, SIM_ENOMEM, "%s: out of memory for the routing index", c->name);
        return;
    }
    if (w->sticky && r->session && trace_u64map_get(w->sessions, r->session, &stuck)) {
        pick = (uint32_t)stuck;
        have = 1;
    }
    int full = 0; /* the index could not decide: every view */
    if (w->rx) { /* n > 1: the index, then the chosen instance's view only */
        const uint32_t *map = w->disagg ? w->pidx : NULL; /* position -> instance */
        w->rstat.routed++;
        if (!have) {
            memfab_request_view rv = {r->id, r->session, r->input, r->output, r->n_prompt,
                                      w->block_tokens, r->ids};
            pick = route_indexed(c, r, &rv, map, n);
            if (pick == KV_RX_FULL) {
                full = 1;
                w->rstat.views += n;
                for (uint32_t i = 0; i < n; i++)
                    inst_view(w->inst[map ? map[i] : i], r, &w->views[i]);
                pick = route_views(c, r, &rv, n);
            }
            if (pick >= n)
                pick = n - 1;
            if (w->sticky && r->session)
                trace_u64map_put(w->sessions, r->session, pick);
        }
        uint32_t k = 0, ip = map ? map[pick] : pick; /* the chosen's view: built, or now */
        while (!have && !full && k < w->ncviews && w->cviews[k].index != ip)
            k++;
        if (full) {
            r->predicted = w->views[pick].prefix_blocks;
        } else if (!have && k < w->ncviews) {
            r->predicted = w->cviews[k].prefix_blocks;
        } else {
            memfab_instance_view v;
            inst_view(w->inst[ip], r, &v);
            w->rstat.views++;
            r->predicted = v.prefix_blocks;
        }
    } else if (n > 1 || w->sticky) {
        w->rstat.routed += n > 1;
        w->rstat.views += n;
        for (uint32_t i = 0; i < n; i++)
            inst_view(w->inst[w->disagg ? w->pidx[i] : i], r, &w->views[i]);
    }
    if (!w->rx && !have && n > 1) {
        memfab_request_view rv = {r->id, r->session, r->input, r->output, r->n_prompt,
                                  w->block_tokens, r->ids};
        pick = route_views(c, r, &rv, n);
        if (pick >= n)
            pick = n - 1;
        if (w->sticky && r->session)
            trace_u64map_put(w->sessions, r->session, pick);
    }
    if (w->rx)
        ; /* predicted above */
    else if (n > 1 || w->sticky)
        r->predicted = w->views[pick].prefix_blocks;
    else {
        memfab_instance_view v;
        inst_view(w->inst[w->disagg ? w->pidx[0] : 0], r, &v);
        r->predicted = v.prefix_blocks;
    }
    if (w->disagg)
        pick = w->pidx[pick];
    r->instance = pick;
    r->decode = UINT32_MAX;
    r->kv_hit = r->kv_pinned = r->kv_flows = 0;
    r->kv_reserved = r->kv_sent = 0;
    r->admitted = r->prefill_end = r->kv_start = r->kv_end = 0;
    r->kv_bytes = 0;
    r->kv_next = NULL;
    w->tot.arrived++;
    if (w->tot.arrived == 1)
        w->first_arrival = now;
    in_system_change(w, now, +1);
    if (w->disagg && inst_role(w->inst[pick]) == INST_ROLE_PREFILL) {
        pd_dispatch(c, r);
        return;
    }
    gate_submit(c, r);
}

/* Read the next request into pending; 1 = have one. */
static int read_next(sim_comp *c)
{
    wl_state *w = c->state;
    sim_err err;
    sim_err_clear(&err);
    w->have_pending = 0;
    if (w->max_requests && w->tot.arrived >= w->max_requests)
        return 0;
    int rc = trace_next(w->reader, &w->pending, &err);
    if (rc < 0) {
        /* A malformed record ends the run as failed, naming file:line. */
        if (err.file[0] && err.line)
            sim_fail(c->sim, rc, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
        else
            sim_fail(c->sim, rc, "%s", err.msg);
        return 0;
    }
    if (rc == 0)
        return 0;
    double t = (double)w->pending.arrival * w->time_scale;
    w->pending.arrival = t >= 1.8e19 ? SIM_TIME_MAX - 1 : (sim_time)llround(t);
    if (w->pending.arrival < sim_now(c->sim))
        w->pending.arrival = sim_now(c->sim);
    w->have_pending = 1;
    return 1;
}

static void done_cb(void *ctx, inst_req *r)
{
    sim_comp *c = ctx;
    wl_state *w = c->state;
    if (r->state == INST_HANDOFF) {
        pd_handoff(c, r);
        return;
    }
    sim_time now = sim_now(c->sim);
    char sess[32];
    snprintf(sess, sizeof sess, "%llu", (unsigned long long)r->session);
    /* A time that never happened (rejected: no first token; not finished)
     * is SIM_TIME_MAX, which the results store writes as NULL, so the
     * request_latency view leaves it out instead of a negative latency. */
    sim_time first = r->first_token ? r->first_token : SIM_TIME_MAX;
    sim_time fin = r->state == INST_DONE ? r->finish : SIM_TIME_MAX;
    if (r->decode != UINT32_MAX) {
        sim_time since = w->pd_mode == PD_LAYERWISE ? r->arrival : r->prefill_end;
        int moved = r->kv_end != 0;
        sim_report_request_pd(c->sim, r->id, sess, w->inst[r->decode]->name, r->arrival,
                              first, fin, r->input,
                              r->output, r->cached, w->inst[r->prefill]->name, r->kv_bytes,
                              moved && r->kv_start >= since ? r->kv_start - since : 0,
                              moved ? r->kv_end - r->prefill_end : 0);
    } else {
        sim_report_request(c->sim, r->id, sess, w->inst[r->instance]->name, r->arrival,
                           first, fin, r->input,
                           r->output, r->cached);
    }
    in_system_change(w, now, -1);
    wl_class *k = w->ncls ? &w->cls[r->klass] : NULL;
    if (k && r->preemptions)
        k->preempted++;
    if (r->state == INST_DONE) {
        w->tot.completed++;
        w->tot.output_tokens += r->output;
        w->tot.input_tokens += r->input;
        w->tot.cached_tokens += r->cached;
        w->tot.prompt_blocks += r->n_prompt;
        w->tot.hit_blocks += r->hit_blocks;
        w->tot.predicted_blocks += r->predicted;
        double ttft = (double)(r->first_token - r->arrival);
        double tpot = r->output > 1 ? (double)(r->finish - r->first_token) / (r->output - 1) : 0;
        sim_samples_add(&w->ttft, ttft);
        if (r->output > 1)
            sim_samples_add(&w->tpot, tpot);
        sim_samples_add(&w->e2e, (double)(r->finish - r->arrival));
        sim_time st = w->slo_ttft, sp = w->slo_tpot; /* a class's own SLOs win */
        if (k && k->slo_ttft)
            st = k->slo_ttft;
        if (k && k->slo_tpot)
            sp = k->slo_tpot;
        int good = (!st || ttft <= (double)st) && (!sp || tpot <= (double)sp);
        if (good)
            w->good++;
        if (k) {
            k->completed++;
            k->good += good;
            sim_samples_add(&k->ttft, ttft);
            if (r->output > 1)
                sim_samples_add(&k->tpot, tpot);
            sim_samples_add(&k->e2e, (double)(r->finish - r->arrival));
        }
    } else {
        w->tot.rejected++;
        if (k)
            k->rejected++;
    }
    r->next = w->free_list;
    w->free_list = r;
}

static int wl_start(sim_comp *c, sim_err *err)
{
    wl_state *w = c->state;
    if (!w->ninst)
        return scn_error(err, c->node, "workload: no llm_instance to serve it (add "
                         "workload.instances: {count: N, ...} or llm_instance components)");
    for (uint32_t i = 0; w->disagg && i < w->npre; i++)
        for (uint32_t j = 0; j < w->ndec; j++) {
            sim_comp *p = w->inst[w->pidx[i]], *d = w->inst[w->didx[j]];
            uint32_t a = inst_device(p), b = inst_device(d);
            if (inst_role(p) != INST_ROLE_PREFILL || a == UINT32_MAX || b == UINT32_MAX ||
                a == b)
                continue;
            fabric_req fr = {a, b, 1, w->pd_path, c->id, WL_EV_KV, 0, 0, NULL, 0, 0, 0, 0, 0, 0};
            if (fabric_check_transfer(c->sim, &fr))
                return scn_error(err, w->pd_node ? w->pd_node : c->node,
                                 "disaggregation: no %s route for KV from prefill '%s' (device"
                                 " '%s') to decode '%s' (device '%s')",
                                 fabric_path_name(w->pd_path), p->name,
                                 sim_comp_at(c->sim, a)->name, d->name,
                                 sim_comp_at(c->sim, b)->name);
        }
    /* latency samples beyond 2^20 each go to temporary files (exact
     * percentiles, memory independent of the trace length) */
    sim_samples *all[] = {&w->ttft, &w->tpot, &w->e2e, &w->kv_wait, &w->kv_exposed,
                          &w->ttft_prefill};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sim_samples_spill(all[i], w->samples_keep == 0 ? WL_SAMPLES_KEEP
                                  : w->samples_keep == SIZE_MAX ? 0 : w->samples_keep);
    w->views = sim_calloc(w->ninst, sizeof *w->views);
    w->sessions = trace_u64map_new();
    if (!w->views || !w->sessions)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    if (read_next(c))
        sim_schedule_at(c->sim, w->pending.arrival, c->id, WL_EV_ARRIVAL, 0, 0);
    return 0;
}

static void wl_handle(sim_comp *c, const sim_event *e)
{
    wl_state *w = c->state;
    if (e->kind == WL_EV_KV) { /* a KV transfer of a disaggregated request arrived */
        inst_req *r = (inst_req *)(uintptr_t)e->a0;
        r->kv_flows--;
        pd_check(c, r);
        return;
    }
    if (e->kind == WL_EV_RETRY) {
        defer_retry(c);
        return;
    }
    if (e->kind != WL_EV_ARRIVAL || !w->have_pending)
        return;
    sim_time now = sim_now(c->sim);
    do {
        dispatch(c, &w->pending);
    } while (read_next(c) && w->pending.arrival == now);
    if (w->have_pending)
        sim_schedule_at(c->sim, w->pending.arrival, c->id, WL_EV_ARRIVAL, 0, 0);
}

static void wl_sample(sim_comp *c, sim_time now)
{
    wl_state *w = c->state;
    sim_report_timeseries(c->sim, c->name, "in_system", now, (double)w->in_system);
    w->sample_sum += (double)w->in_system;
    w->nsamples++;
}

static int wl_finish(sim_comp *c, sim_err *err)
{
    wl_state *w = c->state;
    sim *s = c->sim;
    const char *sc = c->name;
    serving_totals *t = &w->tot;
    sim_time now = sim_now(s);
    /* One window for both sides of Little's law: [first arrival, end]. A
     * drained run ends at its last departure (in_system is 0 from there);
     * a run stopped with requests in flight ends at the stop time, and the
     * requests still in the system count up to it (censored, reported as
     * `unfinished` and `truncated`). */
    uint64_t unfinished = w->in_system;
    sim_time end = unfinished ? now : w->last_change;
    in_system_change(w, end, +1); /* close the integral at the window's end ... */
    w->in_system--;               /* ... without changing the count */
    double span = end > w->first_arrival ? sim_time_to_s(end - w->first_arrival) : 0;
    t->unfinished = unfinished;
    t->makespan = span;
    t->ttft_mean = w->ttft.acc.n ? w->ttft.acc.mean * 1e-12 : 0;
    t->e2e_mean = w->e2e.acc.n ? w->e2e.acc.mean * 1e-12 : 0;
    t->in_system_mean = span > 0 ? w->area * 1e-12 / span : 0;
    t->sampled_in_system = w->nsamples ? w->sample_sum / (double)w->nsamples : 0;
    t->arrival_rate = span > 0 ? (double)t->arrived / span : 0;
    inst_hist itl;
    memset(&itl, 0, sizeof itl);
    for (uint32_t i = 0; i < w->ninst; i++) {
        inst_hist_merge(&itl, inst_itl(w->inst[i]));
        t->preemptions += inst_stats(w->inst[i])->preemptions;
    }
    /* the run's energy totals go to this scope, per completed request and
     * per output token of completed requests (sim_finish) */
    sim_energy_work(s, sc, (double)t->completed, (double)t->output_tokens);
    sim_report_metric(s, sc, "requests", (double)t->arrived, "requests");
    sim_report_metric(s, sc, "completed", (double)t->completed, "requests");
    sim_report_metric(s, sc, "rejected", (double)t->rejected, "requests");
    /* latency metrics cover completed requests only: these show the censoring */
    sim_report_metric(s, sc, "unfinished", (double)unfinished, "requests");
    sim_report_metric(s, sc, "truncated", unfinished ? 1.0 : 0.0, "");
    sim_report_metric(s, sc, "preemptions", (double)t->preemptions, "requests");
    sim_samples_report(s, sc, "ttft", &w->ttft, 1e-12, "s");
    sim_samples_report(s, sc, "tpot", &w->tpot, 1e-12, "s");
    sim_samples_report(s, sc, "e2e", &w->e2e, 1e-12, "s");
    sim_report_metric(s, sc, "itl_count", (double)itl.n, "tokens");
    if (itl.n) {
        sim_report_metric(s, sc, "itl_mean", itl.sum / (double)itl.n * 1e-12, "s");
        sim_report_metric(s, sc, "itl_p50", inst_hist_quantile(&itl, 0.5) * 1e-12, "s");
        sim_report_metric(s, sc, "itl_p90", inst_hist_quantile(&itl, 0.9) * 1e-12, "s");
        sim_report_metric(s, sc, "itl_p99", inst_hist_quantile(&itl, 0.99) * 1e-12, "s");
        sim_report_metric(s, sc, "itl_max", (double)itl.max * 1e-12, "s");
    }
    sim_report_metric(s, sc, "makespan", span, "s");
    sim_report_metric(s, sc, "throughput_output", span > 0 ? t->output_tokens / span : 0,
                      "tokens/s");
    sim_report_metric(s, sc, "throughput_input", span > 0 ? t->input_tokens / span : 0,
                      "tokens/s");
    sim_report_metric(s, sc, "throughput_requests", span > 0 ? t->completed / span : 0,
                      "requests/s");
    sim_report_metric(s, sc, "goodput", span > 0 ? w->good / span : 0, "requests/s");
    sim_report_metric(s, sc, "slo_attainment", t->completed ? (double)w->good / t->completed : 0,
                      "");
    sim_report_metric(s, sc, "prefix_hit_ratio_blocks",
                      t->prompt_blocks ? (double)t->hit_blocks / t->prompt_blocks : 0, "");
    sim_report_metric(s, sc, "prefix_hit_ratio_tokens",
                      t->input_tokens ? (double)t->cached_tokens / t->input_tokens : 0, "");
    sim_report_metric(s, sc, "router_predicted_hit_blocks", (double)t->predicted_blocks,
                      "blocks");
    sim_report_metric(s, sc, "router_delivered_hit_blocks", (double)t->hit_blocks, "blocks");
    sim_report_metric(s, sc, "in_system_mean", t->in_system_mean, "requests");
    sim_report_metric(s, sc, "arrival_rate", t->arrival_rate, "requests/s");
    sim_report_metric(s, sc, "littles_law_lambda_w", t->arrival_rate * t->e2e_mean, "requests");
    if (w->rl_rate > 0)
        sim_report_metric(s, sc, "rejected_rate_limit", (double)w->rejected_rate, "requests");
    if (w->admission != ADM_NONE) {
        sim_report_metric(s, sc, "rejected_slo", (double)w->rejected_slo, "requests");
        sim_report_metric(s, sc, "deferred", (double)w->deferred, "requests");
        uint64_t still = 0;
        for (const inst_req *r = w->def_head; r; r = r->next)
            still++;
        sim_report_metric(s, sc, "deferred_at_end", (double)still, "requests");
    }
    for (uint32_t i = 0; i < w->ncls; i++) { /* per class, scope class:NAME */
        wl_class *k = &w->cls[i];
        char scope[160];
        snprintf(scope, sizeof scope, "class:%s", k->name);
        sim_report_metric(s, scope, "priority", (double)k->priority, "");
        sim_report_metric(s, scope, "requests", (double)k->arrived, "requests");
        sim_report_metric(s, scope, "completed", (double)k->completed, "requests");
        sim_report_metric(s, scope, "rejected", (double)k->rejected, "requests");
        sim_report_metric(s, scope, "rejected_slo", (double)k->rejected_slo, "requests");
        sim_report_metric(s, scope, "rejected_rate_limit", (double)k->rejected_rate,
                          "requests");
        sim_report_metric(s, scope, "deferred", (double)k->deferred, "requests");
        sim_report_metric(s, scope, "preempted", (double)k->preempted, "requests");
        sim_samples_report(s, scope, "ttft", &k->ttft, 1e-12, "s");
        sim_samples_report(s, scope, "tpot", &k->tpot, 1e-12, "s");
        sim_samples_report(s, scope, "e2e", &k->e2e, 1e-12, "s");
        sim_report_metric(s, scope, "goodput", span > 0 ? k->good / span : 0, "requests/s");
        sim_report_metric(s, scope, "slo_attainment",
                          k->completed ? (double)k->good / k->completed : 0, "");
    }
    if (w->disagg) {
        sim_report_metric(s, sc, "kv_transfer_bytes", (double)w->kv_bytes, "B");
        sim_report_metric(s, sc, "rejected_early", (double)w->rejected_early, "requests");
        sim_report_metric(s, sc, "kv_header_bytes", (double)w->kv_header_bytes, "B");
        sim_report_metric(s, sc, "nic_table_placements", (double)w->placements, "writes");
        sim_report_metric(s, sc, "kv_transfer_errors", (double)w->kv_errors, "transfers");
        sim_samples_report(s, sc, "ttft_prefill", &w->ttft_prefill, 1e-12, "s");
        sim_samples_report(s, sc, "kv_wait", &w->kv_wait, 1e-12, "s");
        sim_samples_report(s, sc, "kv_transfer_exposed", &w->kv_exposed, 1e-12, "s");
        uint64_t waiting = 0;
        for (uint32_t j = 0; j < w->ndec; j++)
            waiting += inst_reserve_waiting(w->inst[w->didx[j]]);
        sim_report_metric(s, sc, "kv_reservation_waiting_at_end", (double)waiting, "requests");
    }
    return 0;
}

static void wl_destroy(sim_comp *c)
{
    wl_state *w = c->state;
    trace_close(w->reader);
    if (w->router && w->router_st)
        w->router->destroy(w->router_st);
    if (w->pair && w->pair_st)
        w->pair->destroy(w->pair_st);
    sim_free(w->dviews);
    trace_u64map_free(w->sessions);
    sim_free(w->views);
    sim_free(w->inst);
    kv_rindex_free(w->rx);
    kv_rindex_free(w->rxd);
    sim_free(w->rctx);
    sim_free(w->dirty);
    sim_free(w->cand);
    sim_free(w->cviews);
    sim_free(w->sviews);
    sim_free(w->spos);
    sim_free(w->ssort);
    sim_free(w->slight);
    for (pool_chunk *ch = w->chunks, *nx; ch; ch = nx) {
        nx = ch->next;
        for (int i = 0; i < POOL_CHUNK; i++)
            sim_free(ch->r[i].ids);
        sim_free(ch);
    }
    sim_samples_free(&w->ttft);
    sim_samples_free(&w->tpot);
    sim_samples_free(&w->e2e);
    sim_samples_free(&w->kv_wait);
    sim_samples_free(&w->kv_exposed);
    sim_samples_free(&w->ttft_prefill);
    for (uint32_t i = 0; i < w->ncls; i++) {
        sim_samples_free(&w->cls[i].ttft);
        sim_samples_free(&w->cls[i].tpot);
        sim_samples_free(&w->cls[i].e2e);
    }
    sim_free(w->pidx);
    sim_free(w->didx);
    sim_free(w->kv_chan);
    trace_u64map_free(w->placed);
}

/* Headline metrics of the run summary (sim_model.headline). */
static const char *const llm_workload_headline[] = {"completed", "rejected", "ttft_mean", "ttft_p99", "tpot_mean", "e2e_p99", "throughput_output", "goodput", "slo_attainment", "prefix_hit_ratio_tokens", "energy_total_j", "energy_per_output_token_j", NULL};

/* Time series of sim_model.series. */
static const sim_series llm_workload_series[] = {
    {"in_system", "requests", "requests arrived and not yet finished"},
    {NULL, NULL, NULL}};

const sim_model llm_workload_model = {
    .type = "llm_workload",
    .summary = "LLM requests from a trace or synthetic generator, routed to llm_instance "
               "components (built from the workload/kv/router sections)",
    .params = wl_params,
    .keys = wl_keys,
    .state_size = sizeof(wl_state),
    .configure = wl_configure,
    .start = wl_start,
    .handle = wl_handle,
    .sample = wl_sample,
    .series = llm_workload_series,
    .finish = wl_finish,
    .destroy = wl_destroy,
    .headline = llm_workload_headline,
};

const serving_totals *serving_get_totals(sim_comp *c) { return &((wl_state *)c->state)->tot; }

const serving_route_stats *serving_get_route_stats(sim_comp *c)
{
    wl_state *w = c->state;
    w->rstat.comparisons = w->rx ? kv_rindex_comparisons(w->rx) : 0;
    w->rstat.samples = w->rwork.samples;
    w->rstat.sample_trials = w->rwork.trials;
    w->rstat.sample_fallbacks = w->rwork.fallbacks;
    w->rstat.sample_nodes = w->rwork.nodes;
    return &w->rstat;
}

void serving_set_route_index(sim_comp *c, int on) { ((wl_state *)c->state)->route_full = !on; }

void serving_set_samples_keep(sim_comp *c, size_t keep)
{
    ((wl_state *)c->state)->samples_keep = keep ? keep : SIZE_MAX;
}

/* ---- the builder ---------------------------------------------------------- */

static double node_param(void *ctx, const char *key, double def)
{
    const scn_node *n = ctx;
    const scn_node *v = n ? scn_map_get(n, key) : NULL;
    const char *t = v ? scn_scalar(v) : NULL;
    char *end;
    double x = t ? strtod(t, &end) : def;
    return t && end != t ? x : def;
}

static int parse_kv(const scn_node *n, uint32_t trace_bt, inst_kv_cfg *kv, sim_err *err)
{
    memset(kv, 0, sizeof *kv);
    kv->block_tokens = trace_bt ? trace_bt : 16;
    kv->ntiers = 1;
    kv->tiers[0].name = "hbm";
    kv->eviction = "lru";
    kv->write_mode = KV_WRITE_BACK;
    kv->prefix_caching = 1;
    kv->params.get = node_param;
    kv->params.ctx = (void *)n;
    kv->cxl_access = KV_ACCESS_COPY;
    kv->cxl_hot_hits = 2;
    if (!n)
        return 0;
    if (scn_node_kind(n) != SCN_MAP)
        return scn_error(err, n, "'kv' must be a mapping");
    int rc;
    double bt;
    if ((rc = get_tokens(n, "block_tokens", kv->block_tokens, &bt, err)))
        return rc;
    if (bt < 1 || bt > 1 << 20)
        return scn_error(err, scn_map_get(n, "block_tokens"), "kv.block_tokens must be 1..2^20");
    kv->block_tokens = (uint32_t)bt;
    if (trace_bt && trace_bt % kv->block_tokens)
        return scn_error(err, scn_map_get(n, "block_tokens"),
                         "kv.block_tokens (%u) must divide the trace's block size (%u tokens) "
                         "so its prefix ids can be used",
                         kv->block_tokens, trace_bt);
    if ((rc = scn_get_string(n, "eviction", "lru", &kv->eviction, err)))
        return rc;
    if (!kv_evict_find(kv->eviction))
        return scn_error(err, scn_map_get(n, "eviction"), "unknown eviction policy '%s'",
                         kv->eviction);
    static const char *const wm[] = {"back", "through", NULL};
    int w;
    if ((rc = scn_get_enum(n, "write", wm, 0, &w, err)))
        return rc;
    kv->write_mode = w ? KV_WRITE_THROUGH : KV_WRITE_BACK;
    static const char *const scopes[] = {"instance", "global", NULL};
    int sc;
    if ((rc = scn_get_enum(n, "scope", scopes, 0, &sc, err)))
        return rc;
    kv->scope = sc ? INST_SCOPE_GLOBAL : INST_SCOPE_INSTANCE;
    if ((rc = scn_get_bool(n, "prefix_caching", 1, &kv->prefix_caching, err)) ||
        (rc = scn_get_bool(n, "free_transfers", 0, &kv->free_transfers, err)))
        return rc;
    static const char *const acc[] = {"copy", "direct", "auto", NULL};
    int a;
    uint64_t hot;
    if ((rc = scn_get_enum(n, "cxl_access", acc, 0, &a, err)) ||
        (rc = scn_get_uint(n, "cxl_hot_hits", 2, &hot, err)))
        return rc;
    if (hot < 1 || hot > UINT32_MAX)
        return scn_error(err, scn_map_get(n, "cxl_hot_hits"), "kv.cxl_hot_hits must be 1 or "
                         "more (the hit from which a block is copied into HBM)");
    kv->cxl_access = a == 1 ? KV_ACCESS_DIRECT : a == 2 ? KV_ACCESS_AUTO : KV_ACCESS_COPY;
    kv->cxl_hot_hits = (uint32_t)hot;
    kv->node = n;
    const scn_node *tiers = scn_map_get(n, "tiers");
    if (tiers) {
        if (scn_node_kind(tiers) != SCN_SEQ || scn_len(tiers) < 1 ||
            scn_len(tiers) > MEMFAB_MAX_TIERS)
            return scn_error(err, tiers, "kv.tiers: a list of 1..%d tiers, HBM first",
                             MEMFAB_MAX_TIERS);
        uint32_t listed = (uint32_t)scn_len(tiers);
        kv->ntiers = 0;
        for (uint32_t i = 0; i < listed; i++) {
            const scn_node *tn = scn_seq_at(tiers, i);
            int on = 1;
            if ((rc = sim_schema_check(&tier_schema, tn, "kv tier", NULL, NULL, err)) ||
                (rc = scn_get_bool(tn, "enabled", 1, &on, err)))
                return rc;
            if (!on && i == 0)
                return scn_error(err, scn_map_get(tn, "enabled"), "kv tier 0 (HBM) cannot be "
                                 "disabled");
            if (!on)
                continue; /* a tier switched off (e.g. by a sweep's --set) */
            uint32_t t = kv->ntiers++;
            inst_kv_tier *k = &kv->tiers[t];
            if (
                (rc = scn_get_string(tn, "name", t ? NULL : "hbm", &k->name, err)) ||
                (rc = scn_get_size(tn, "capacity", 0, &k->capacity, err)) ||
                (rc = scn_get_rate(tn, "bandwidth", 0, &k->bandwidth, err)) ||
                (rc = scn_get_time(tn, "latency", 0, &k->latency, err)) ||
                (rc = scn_get_string(tn, "component", NULL, &k->component, err)) ||
                (rc = scn_get_string(tn, "path", NULL, &k->path, err)) ||
                (rc = scn_get_double(tn, "weight", 0, &k->weight, err)))
                return rc;
            if (k->weight < 0)
                return scn_error(err, scn_map_get(tn, "weight"), "kv tier '%s': weight must be "
                                 ">= 0", k->name);
            if (k->path && (fabric_path_find(k->path) <= 0))
                return scn_error(err, scn_map_get(tn, "path"), "kv tier '%s': unknown path '%s' "
                                 "(dma, pageable, gds, bounce, cxl)", k->name, k->path);
            if (k->path && !k->component)
                return scn_error(err, scn_map_get(tn, "path"), "kv tier '%s': a path needs the "
                                 "tier's fabric `component:`", k->name);
            if (!k->name)
                return scn_error(err, tn, "kv tier %u needs a 'name'", t);
            if (t > 0 && !k->capacity)
                return scn_error(err, tn, "kv tier '%s' needs a 'capacity' (e.g. 256 GiB)",
                                 k->name);
        }
    }
    return 0;
}

/* kv: {scope: global} with lower tiers: the component owning the pool. */
static int add_pool(sim *s, const scn_node *kn, inst_kv_cfg *kv, sim_err *err)
{
    if (kv->scope != INST_SCOPE_GLOBAL || kv->ntiers < 2)
        return 0; /* nothing to share */
    kv->pool = inst_pool_add(s, "pool", err);
    if (!kv->pool)
        return scn_error(err, scn_map_get(kn, "scope"), "%s", err->msg);
    return 0;
}

/* workload.disaggregation, and the prefill and decode pools. */
static int pd_build(sim *s, const scn_node *wn, wl_state *w, sim_err *err)
{
    const scn_node *pn = scn_map_get(wn, "disaggregation");
    uint32_t npre = 0, ndec = 0, nmix = 0;
    for (uint32_t i = 0; i < w->ninst; i++) {
        int role = inst_role(w->inst[i]);
        npre += role == INST_ROLE_PREFILL;
        ndec += role == INST_ROLE_DECODE;
        nmix += role == INST_ROLE_MIXED;
    }
    w->pd_mode = PD_WHOLE;
    w->pd_path = FABRIC_PATH_AUTO;
    w->pd_node = pn;
    if (pn) {
        const char *path;
        int rc;
        if (scn_node_kind(pn) != SCN_MAP)
            return scn_error(err, pn, "workload.disaggregation must be a mapping");
        if ((rc = sim_schema_check(&pd_schema, pn, "workload.disaggregation", NULL, NULL,
                                   err)) ||
            (rc = scn_get_enum(pn, "transfer", pd_modes, PD_WHOLE, &w->pd_mode, err)) ||
            (rc = scn_get_enum(pn, "decode_policy", pd_policies, PD_LEAST_LOADED, &w->pd_policy,
                               err)) ||
            (rc = scn_get_string(pn, "path", "auto", &path, err)) ||
            (rc = scn_get_rate(pn, "bandwidth", 0, &w->pd_bw, err)) ||
            (rc = scn_get_time(pn, "latency", 0, &w->pd_lat, err)) ||
            (rc = scn_get_size(pn, "kv_chunk", 64 * 1024, &w->kv_chunk, err)) ||
            (rc = scn_get_size(pn, "kv_header", 0, &w->kv_header, err)))
            return rc;
        if (w->kv_chunk < 64)
            return scn_error(err, scn_map_get(pn, "kv_chunk"),
                             "workload.disaggregation.kv_chunk must be at least 64 B");
        w->pd_path = fabric_path_find(path);
        if (w->pd_path < 0)
            return scn_error(err, scn_map_get(pn, "path"),
                             "workload.disaggregation.path: unknown path '%s' (auto, dma, rdma,"
                             " rdma_read, rdma_staged)",
                             path);
    }
    if (!npre && !ndec)
        return 0;
    const scn_node *at = pn ? pn : wn;
    if (!ndec)
        return scn_error(err, at, "disaggregation: %u prefill instance(s) but no decode instance"
                         " (role: decode)", npre);
    if (!npre)
        return scn_error(err, at, "disaggregation: %u decode instance(s) but no prefill instance"
                         " (role: prefill)", ndec);
    w->disagg = 1;
    if (!w->kv_chunk)
        w->kv_chunk = 64 * 1024;
    w->placed = trace_u64map_new();
    w->kv_chan = sim_calloc(w->ninst, sizeof *w->kv_chan);
    w->pidx = sim_calloc(npre + nmix, sizeof *w->pidx);
    w->didx = sim_calloc(ndec, sizeof *w->didx);
    if (!w->pidx || !w->didx || !w->kv_chan || !w->placed)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (uint32_t i = 0; i < w->ninst; i++) {
        int role = inst_role(w->inst[i]);
        if (role == INST_ROLE_DECODE)
            w->didx[w->ndec++] = i;
        else
            w->pidx[w->npre++] = i;
        if (role == INST_ROLE_PREFILL)
            inst_set_chunk_hook(w->inst[i], pd_chunk);
    }
    /* Tensor-parallel shards re-shard only when one degree divides the other. */
    for (uint32_t i = 0; i < w->npre; i++)
        for (uint32_t j = 0; j < w->ndec; j++) {
            sim_comp *p = w->inst[w->pidx[i]], *d = w->inst[w->didx[j]];
            uint64_t a = inst_hw(p)->tp, b = inst_hw(d)->tp;
            if (inst_role(p) == INST_ROLE_PREFILL && (a > b ? a % b : b % a))
                return scn_error(err, p->node ? scn_map_get(p->node, "tp") : at,
                                 "disaggregation: prefill '%s' (tp %llu) and decode '%s' (tp"
                                 " %llu) cannot re-shard their KV: one tp must divide the"
                                 " other",
                                 p->name, (unsigned long long)a, d->name, (unsigned long long)b);
        }
    return 0;
}

int serving_build(sim *s, const scn_doc *doc, sim_err *err)
{
    const scn_node *root = scn_root(doc);
    const scn_node *wn = scn_map_get(root, "workload");
    const scn_node *kn = scn_map_get(root, "kv");
    const scn_node *rn = scn_map_get(root, "router");
    inst_kv_cfg kv;
    int rc;
    if ((rc = sim_schema_check(&serving_kv_schema, kn, "kv", NULL, NULL, err)) ||
        (rc = sim_schema_check(&serving_router_schema, rn, "router", NULL, NULL, err)))
        return rc;
    if (!wn) {
        if ((rc = parse_kv(kn, 0, &kv, err)) || (rc = add_pool(s, kn, &kv, err)))
            return rc;
        uint32_t idx = 0;
        for (size_t i = 0; i < sim_ncomps(s); i++)
            if (sim_comp_at(s, (uint32_t)i)->model == &llm_instance_model)
                inst_setup(sim_comp_at(s, (uint32_t)i), &kv, idx++, NULL, NULL);
        return 0;
    }
    if (scn_node_kind(wn) != SCN_MAP)
        return scn_error(err, wn, "'workload' must be a mapping");
    if ((rc = sim_schema_check(&serving_workload_schema, wn, "workload", NULL, NULL, err)))
        return rc;
    sim_comp *wc = sim_add(s, &llm_workload_model, "workload", wn, err);
    if (!wc)
        return err->code ? err->code : SIM_EINVAL;
    wl_state *w = wc->state;
    uint32_t trace_bt = w->reader ? trace_reader_block_tokens(w->reader) : 0;
    if ((rc = parse_kv(kn, trace_bt, &kv, err)))
        return rc;
    const scn_node *syn = scn_map_get(wn, "synthetic");
    if (syn) {
        /* Synthetic block ids use the KV block size unless told otherwise. */
        synth_config cfg;
        if ((rc = parse_synth(syn, sim_stream_seed(sim_seed(s), "workload"), kv.block_tokens,
                              &cfg, err)))
            return rc;
        if (cfg.block_tokens % kv.block_tokens) {
            const scn_node *at = kn ? scn_map_get(kn, "block_tokens") : NULL;
            return scn_error(err, at ? at : scn_map_get(syn, "block_tokens"),
                             "kv.block_tokens (%u) must divide workload.synthetic.block_tokens "
                             "(%u tokens) so its prefix ids can be used",
                             kv.block_tokens, cfg.block_tokens);
        }
        w->reader = synth_open(&cfg, err);
        if (!w->reader)
            return scn_error(err, syn, "workload.synthetic: %s", err->msg);
    }
    w->block_tokens = kv.block_tokens;
    w->prefix_caching = kv.prefix_caching;
    /* Instances asked for by workload.instances. */
    const scn_node *in = scn_map_get(wn, "instances");
    if (in) {
        uint64_t count;
        const char *prefix;
        if ((rc = scn_get_uint(in, "count", 1, &count, err)) ||
            (rc = scn_get_string(in, "name", "inst", &prefix, err)))
            return rc;
        if (count < 1 || count > 100000)
            return scn_error(err, scn_map_get(in, "count"), "instances.count must be 1..100000");
        for (uint64_t i = 0; i < count; i++) {
            char name[128];
            snprintf(name, sizeof name, "%s%llu", prefix, (unsigned long long)i);
            if (!sim_add(s, &llm_instance_model, name, in, err))
                return err->code ? err->code : SIM_EINVAL;
        }
    }
    for (size_t i = 0; i < sim_ncomps(s); i++)
        if (sim_comp_at(s, (uint32_t)i)->model == &llm_instance_model)
            w->ninst++;
    w->inst = sim_calloc(w->ninst ? w->ninst : 1, sizeof *w->inst);
    if (!w->inst)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    if ((rc = add_pool(s, kn, &kv, err)))
        return rc;
    uint32_t idx = 0;
    for (size_t i = 0; i < sim_ncomps(s); i++) {
        sim_comp *c = sim_comp_at(s, (uint32_t)i);
        if (c->model != &llm_instance_model)
            continue;
        inst_setup(c, &kv, idx, done_cb, wc);
        w->inst[idx++] = c;
    }
    if ((rc = pd_build(s, wn, w, err)))
        return rc;
    /* The router. */
    w->policy = "round_robin";
    if (rn) {
        if (scn_node_kind(rn) != SCN_MAP)
            return scn_error(err, rn, "'router' must be a mapping");
        if ((rc = scn_get_string(rn, "policy", "round_robin", &w->policy, err)) ||
            (rc = scn_get_bool(rn, "sticky", 0, &w->sticky, err)))
            return rc;
    }
    /* router.tier_weights: [w0, w1, ...] - the value of a hit per tier (llmd). */
    const scn_node *tw = rn ? scn_map_get(rn, "tier_weights") : NULL;
    if (tw) {
        if (scn_node_kind(tw) != SCN_SEQ || scn_len(tw) != kv.ntiers)
            return scn_error(err, tw, "router.tier_weights: a list of %u numbers, one per kv tier",
                             kv.ntiers);
        for (uint32_t t = 0; t < kv.ntiers; t++) {
            const char *v = scn_scalar(scn_seq_at(tw, t));
            char *end;
            double x = v ? strtod(v, &end) : -1;
            if (!v || end == v || *end || x < 0)
                return scn_error(err, scn_seq_at(tw, t), "router.tier_weights: '%s' is not a "
                                 "number >= 0", v ? v : "");
            kv.tiers[t].weight = x;
        }
        for (uint32_t i = 0; i < w->ninst; i++)
            inst_setup(w->inst[i], &kv, i, done_cb, wc);
    }
    w->pair = kv_pair_router_find(w->policy);
    if (w->pair) {
        if (!w->disagg)
            return scn_error(err, scn_map_get(rn, "policy"),
                             "router.policy '%s' chooses prefill/decode pairs, but no instance"
                             " has role prefill or decode",
                             w->policy);
        memfab_params pp = {(void *)rn, node_param};
        w->pair_st = w->pair->create(w->npre, w->ndec, &pp);
        w->dviews = sim_calloc(w->ndec, sizeof *w->dviews);
        if (!w->pair_st || !w->dviews)
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "router '%s': create failed",
                               w->policy);
        w->policy = "round_robin"; /* a plain router stays available (unused) */
    }
    w->router = kv_router_find(w->policy);
    if (!w->router)
        return scn_error(err, rn ? scn_map_get(rn, "policy") : wn,
                         "unknown router policy '%s' (round_robin, random, least_loaded, "
                         "prefix_affinity, dynamo, sglang, llmd, or a plug-in's)",
                         w->policy);
    memfab_params rp = {(void *)rn, node_param};
    uint32_t nroute = w->disagg ? w->npre : w->ninst;
    w->router_st = w->router->create(nroute ? nroute : 1, &rp);
    if (!w->router_st)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "router '%s': create failed", w->policy);
    return 0;
}
