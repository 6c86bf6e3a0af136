/*
 * kv_router.c - the built-in request routing policies, each a
 * memfab_router_ops table (sim/plugin.h): for every arriving request the
 * caller fills one memfab_instance_view per instance (load, and how much of
 * the request's prefix the instance holds, per tier) and the policy returns
 * an index in [0, n). Session stickiness is the caller's business.
 *
 * Every policy breaks ties deterministically: least outstanding tokens,
 * then lowest index. Nothing allocates per request.
 *
 * Indexed routing (serving.c with kv_rindex.h) gives the same answers as
 * these functions without a view of every instance: round_robin and random
 * read no view; least_loaded is the root of a tournament tree on
 * (outstanding, index), the order of `lighter`; prefix_affinity, dynamo,
 * sglang and llmd choose among the holders of the request's first block
 * and the root of a tree on load figures (and read global minima and
 * maxima from trees), as the section "indexed routing" below proves for
 * each. dynamo with temperature > 0 samples its softmax by rejection
 * (section "dynamo with temperature > 0"), the same function on the full
 * views and on the index, with an expected number of proposals that does
 * not depend on the instance count. Plug-ins see every view.
 *
 *   round_robin      0, 1, ..., n-1, 0, ...
 *   random           uniform over instances, from the router's stream.
 *   least_loaded     fewest outstanding tokens (prefill + decode still to do).
 *   prefix_affinity  most prefix blocks held in any tier; ties least loaded.
 *                    Pure affinity does not explore: when every request
 *                    shares a first block (the Mooncake conversation trace:
 *                    all start with block 0), the instances that took the
 *                    first simultaneous arrivals hold it and an empty
 *                    instance never wins again (10 of 16 used on that
 *                    trace; check_serving shows it). dynamo, sglang and
 *                    llmd weigh load against affinity for that reason.
 *   dynamo           NVIDIA Dynamo's KV router (lib/llm/src/kv_router/
 *                    scheduler.rs, DefaultWorkerSelector): cost =
 *                    overlap_weight x prefill_blocks + decode_blocks, where
 *                    prefill_blocks = request blocks the instance does not
 *                    hold (n_blocks - prefix_blocks) and decode_blocks = KV
 *                    blocks in use there (kv_total - kv_free, or outstanding
 *                    tokens / block_tokens when the caller gives no KV
 *                    figures). temperature 0: the minimum cost; > 0: sample
 *                    with probability proportional to exp(-c'/temperature),
 *                    c' the cost min-max normalised to [0, 1] as Dynamo's
 *                    softmax_sample does (drawn by rejection here, exactly
 *                    that distribution; Dynamo sums over all workers).
 *                    Params overlap_weight (1.0), temperature (0).
 *   sglang           SGLang's cache-aware router (sgl-router,
 *                    src/policies/cache_aware.rs): load = queued + running
 *                    requests; if max - min > balance_abs_threshold and
 *                    max > balance_rel_threshold x min, route to the least
 *                    loaded; otherwise to the instance with the longest
 *                    prefix match if match/n_blocks >= cache_threshold,
 *                    else to the least loaded. (SGLang then prefers the
 *                    worker with the smallest radix tree; we use load.)
 *                    Defaults from sgl-router's CacheAwareConfig::default:
 *                    cache_threshold 0.5, balance_abs_threshold 32,
 *                    balance_rel_threshold 1.1.
 *   llmd             llm-d's inference scheduler style (prefix-cache scorer
 *                    with tiered weights plus a load scorer): score =
 *                    sum_t tier_weight[t] x prefix_by_tier[t] / n_blocks
 *                    - load_weight x outstanding / max outstanding; pick
 *                    the maximum. When the view's tier weights are all 0
 *                    the defaults are 1, 1/2, 1/4, ... (HBM counts most).
 *                    Param load_weight (0.5).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/kv/kv_rindex.h"
#include "models/kv/kvstore.h"
#include "sim/mem.h"

/* The parameters each policy reads (declared for the scenario schema; the
 * defaults are the ones the policies use). */
#define PD(n, def, desc) {n, SIM_P_DOUBLE, def, "", desc, 0, NULL}
#define PEND {NULL, 0, NULL, NULL, NULL, 0, NULL}
static const sim_param no_params[] = {PEND};
static const sim_param dynamo_params[] = {
    PD("overlap_weight", "1.0", "cost weight of the prefill blocks not held (>= 0)"),
    PD("temperature", "0", "0: cheapest instance; > 0: softmax sampling over costs"),
    PEND};
static const sim_param sglang_params[] = {
    PD("cache_threshold", "0.5", "prefix match fraction that routes by cache (0..1)"),
    PD("balance_abs_threshold", "32", "load gap (requests) that forces load balancing"),
    PD("balance_rel_threshold", "1.1", "load ratio (>= 1) that forces load balancing"),
    PEND};
static const sim_param llmd_params[] = {
    PD("load_weight", "0.5", "weight of the normalized load term (>= 0)"), PEND};
static const sim_param conductor_params[] = {
    PD("load_weight", "0.5", "prefill score: weight of the load term (>= 0)"),
    PD("reject_waiting", "0", "reject at arrival when the best decode instance has this many"
                              " waiting (0: never)"),
    PEND};

static const struct {
    const char *policy;
    const sim_param *params;
} router_params[] = {
    {"round_robin", no_params}, {"random", no_params},       {"least_loaded", no_params},
    {"prefix_affinity", no_params}, {"dynamo", dynamo_params}, {"sglang", sglang_params},
    {"llmd", llmd_params},      {"conductor", conductor_params},
};

const sim_param *kv_router_params(const char *name)
{
    for (size_t i = 0; name && i < sizeof router_params / sizeof router_params[0]; i++)
        if (strcmp(router_params[i].policy, name) == 0)
            return router_params[i].params;
    return NULL;
}

#define param(p, table, key) kv_param(p, table, key)

/* a is better than b on load: fewer outstanding tokens, then lower index. */
static int lighter(const memfab_instance_view *a, const memfab_instance_view *b)
{
    if (a->outstanding_tokens != b->outstanding_tokens)
        return a->outstanding_tokens < b->outstanding_tokens;
    return a->index < b->index;
}

static uint32_t least_loaded_of(const memfab_instance_view *inst, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (lighter(&inst[i], &inst[best]))
            best = i;
    return best;
}

/* A policy's state: its parameters and a counter. */
typedef struct rstate {
    uint32_t n;            /* instances */
    uint64_t next;         /* round_robin: next index */
    double a, b, c;        /* policy parameters (see each policy) */
} rstate;

static void *rs_new(uint32_t n)
{
    rstate *r = sim_calloc(1, sizeof *r);
    if (r)
        r->n = n;
    return r;
}

static void rs_free(void *st) { sim_free(st); }

/* ---- round_robin, random, least_loaded, prefix_affinity ----------------- */

static void *plain_create(uint32_t n, const memfab_params *p) { return n ? rs_new(n) : NULL; }

static uint32_t rr_route(void *st, const memfab_request_view *req,
                         const memfab_instance_view *inst, uint32_t n,
                         double (*uniform)(void *), void *rng)
{
    rstate *r = st;
    return (uint32_t)(r->next++ % n);
}

static uint32_t random_route(void *st, const memfab_request_view *req,
                             const memfab_instance_view *inst, uint32_t n,
                             double (*uniform)(void *), void *rng)
{
    double u = uniform ? uniform(rng) : 0.0;
    uint32_t i = (uint32_t)(u * n);
    return i < n ? i : n - 1;
}

static uint32_t ll_route(void *st, const memfab_request_view *req,
                         const memfab_instance_view *inst, uint32_t n,
                         double (*uniform)(void *), void *rng)
{
    return least_loaded_of(inst, n);
}

static uint32_t pa_route(void *st, const memfab_request_view *req,
                         const memfab_instance_view *inst, uint32_t n,
                         double (*uniform)(void *), void *rng)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (inst[i].prefix_blocks > inst[best].prefix_blocks ||
            (inst[i].prefix_blocks == inst[best].prefix_blocks && lighter(&inst[i], &inst[best])))
            best = i;
    return best;
}

/* ---- dynamo --------------------------------------------------------------- */

/* dynamo's state: rstate (a = overlap_weight, b = temperature) and, with
 * temperature > 0, the sampler's arrays (n + 1 entries each, allocated at
 * create, so a request allocates nothing). */
typedef struct dstate {
    rstate r;
    uint32_t *hpos;   /* positions of the instances holding a prefix, ascending */
    double *hcost;    /* their costs */
    double *hcum;     /* running sums of their weights */
    uint64_t *sort;   /* the indexed path: (position, candidate) pairs to sort */
} dstate;

static void dynamo_free(void *st)
{
    dstate *d = st;
    if (!d)
        return;
    sim_free(d->hpos);
    sim_free(d->hcost);
    sim_free(d->hcum);
    sim_free(d->sort);
    sim_free(d);
}

static void *dynamo_create(uint32_t n, const memfab_params *p)
{
    dstate *d = n ? sim_calloc(1, sizeof *d) : NULL;
    if (!d)
        return NULL;
    rstate *r = &d->r;
    r->n = n;
    r->a = param(p, dynamo_params, "overlap_weight");
    r->b = param(p, dynamo_params, "temperature");
    if (!(r->a >= 0) || !(r->b >= 0)) {
        sim_free(d);
        return NULL;
    }
    if (r->b > 0) {
        size_t m = (size_t)n + 1;
        d->hpos = sim_calloc(m, sizeof *d->hpos);
        d->hcost = sim_calloc(m, sizeof *d->hcost);
        d->hcum = sim_calloc(m, sizeof *d->hcum);
        d->sort = sim_calloc(m, sizeof *d->sort);
        if (!d->hpos || !d->hcost || !d->hcum || !d->sort) {
            dynamo_free(d);
            return NULL;
        }
    }
    return d;
}

/* KV blocks in use: kv_total - kv_free (0 without KV figures). */
static uint64_t kv_used(const memfab_instance_view *v)
{
    return v->kv_total_blocks - (v->kv_free_blocks < v->kv_total_blocks ? v->kv_free_blocks
                                                                        : v->kv_total_blocks);
}

/* The decode term: KV blocks in use, or outstanding tokens in blocks
 * without KV figures. */
static double dynamo_decode(const memfab_request_view *req, const memfab_instance_view *v)
{
    if (v->kv_total_blocks)
        return (double)kv_used(v);
    return (double)v->outstanding_tokens / (req->block_tokens ? req->block_tokens : 1);
}

static double dynamo_cost(const rstate *r, const memfab_request_view *req,
                          const memfab_instance_view *v)
{
    double prefill = (double)(req->n_blocks > v->prefix_blocks ? req->n_blocks - v->prefix_blocks : 0);
    return r->a * prefill + dynamo_decode(req, v);
}

/* The cost of an instance holding no prefix block, from its decode term:
 * the same operations as dynamo_cost with prefix_blocks = 0. */
static double dynamo_cost0(const rstate *r, const memfab_request_view *req, double decode)
{
    return r->a * (double)req->n_blocks + decode;
}

/* a before b in dynamo's order: lower cost, then lighter. */
static int dynamo_before(const rstate *r, const memfab_request_view *req,
                         const memfab_instance_view *a, const memfab_instance_view *b)
{
    double ca = dynamo_cost(r, req, a), cb = dynamo_cost(r, req, b);
    return ca < cb || (ca == cb && lighter(a, b));
}

/* Dynamo's softmax weight of cost c (softmax_sample: the cost min-max
 * normalised to [0, 1] by the request's lo and span, over temperature). */
static double dynamo_weight(double c, double lo, double span, double t)
{
    return exp(-((c - lo) / span) / t);
}

/* ---- dynamo with temperature > 0: exact sampling without a sum over all
 *
 * Dynamo (lib/llm/src/kv_router/scheduler.rs, softmax_sample) picks
 * instance i with probability p_i = w_i / W, w_i = exp(-c'_i / T), c'_i =
 * (c_i - lo) / (hi - lo) the cost normalised by the request's minimum lo
 * and maximum hi, W = sum w_i. Every w_i lies in [exp(-1/T), 1], and W
 * changes with every request, so no aggregate kept between requests gives
 * it. Rejection sampling (Devroye, Non-Uniform Random Variate Generation,
 * Springer 1986, ch. II.3) draws from p without W: propose i from a
 * density q_i = g_i / G with g_i >= w_i and accept it with probability
 * w_i / g_i; an accepted i is distributed as p, whatever the trial it
 * came at, and a trial accepts with probability W / G.
 *
 * The proposal: H, the instances holding a prefix of the request
 * (prefix_blocks > 0), get g_h = w_h (computed exactly: accepted at
 * once); the others, N, all have cost fl(fl(w x n_blocks) + d_i), d_i
 * their decode term, non-decreasing in d_i, so their weights are at most
 * b = the weight of c_env = fl(fl(w x n_blocks) + d_min), d_min the least
 * decode term over all instances (c_env >= lo, as the instance with
 * d_min costs at most c_env: b <= 1); they get g_i = b, proposed uniformly
 * among N. So G = W_H + |N| b and one trial draws v uniform in [0, G): v <
 * W_H picks the holder where the running sum of the w_h passes v (in
 * position order); otherwise (v - W_H) / b names the r-th instance of N
 * (in position order), accepted when a second draw u has u b < w_i. The
 * expected trials are G / W <= exp(1/T) (every w_i >= exp(-1/T) b), 1
 * when every non-holder has the same decode term, and independent of the
 * instance count. After n rejected trials the sampler takes the exact
 * two-pass draw over all n instances (the one before this sampler); since
 * an accepted draw is p-distributed whatever the trial, this fallback
 * keeps the result exactly p-distributed and bounds a request's work by
 * O(n) at worst, O(min(G / W, n)) expected.
 *
 * The full views and the index run this same function (dynamo_sample) on
 * the same H (positions and costs, ascending), lo, hi, d_min and costs of
 * N, drawing from the same stream, so their choices are identical. The
 * index has H from the holders of the first block (a superset of the
 * instances with prefix_blocks > 0), lo as at temperature 0 (the best of
 * the holders and the root G of the tree on (KV blocks in use,
 * outstanding, index), whose cost is at most every non-holder's: section
 * "indexed routing"), d_min = G's KV blocks in use, hi the larger of H's
 * largest cost and fl(fl(w x n_blocks) + the most KV blocks in use
 * outside H), found by kv_rindex_first_except on the max tree of that
 * figure, and N's costs from the index's figures. */
typedef double (*dyn_cost_fn)(const void *ctx, uint32_t i);

/* The r-th position (from 0) not in hpos[0, nh) (ascending): r + the
 * number of listed positions h_j with h_j - j <= r (h_j - j does not
 * decrease). */
static uint32_t nth_unlisted(const uint32_t *hpos, uint32_t nh, uint32_t r)
{
    uint32_t a = 0, b = nh;
    while (a < b) {
        uint32_t m = a + (b - a) / 2;
        if (hpos[m] - m <= r)
            a = m + 1;
        else
            b = m;
    }
    return r + a;
}

/* The sample, a position in [0, n). H: d->hpos, d->hcost [0, nh); cost(ctx,
 * i): the cost of position i outside H. */
static uint32_t dynamo_sample(dstate *d, const memfab_request_view *req, uint32_t n, uint32_t nh,
                              double lo, double hi, double dmin, dyn_cost_fn cost,
                              const void *ctx, double (*uniform)(void *), void *rng,
                              kv_rx_work *work)
{
    const rstate *r = &d->r;
    double span = hi > lo ? hi - lo : 1.0, t = r->b;
    double wh = 0;
    for (uint32_t j = 0; j < nh; j++)
        d->hcum[j] = wh += dynamo_weight(d->hcost[j], lo, span, t);
    uint32_t nn = n - nh;
    double b = nn ? dynamo_weight(dynamo_cost0(r, req, dmin), lo, span, t) : 0;
    double g = wh + nn * b;
    if (work)
        work->samples++;
    for (uint32_t trial = 0; trial < n; trial++) {
        if (work)
            work->trials++;
        double v = uniform(rng) * g;
        if (nh && (v < wh || !(nn && b > 0))) {
            uint32_t a = 0, e = nh - 1; /* the first j with v < hcum[j] */
            while (a < e) {
                uint32_t m = a + (e - a) / 2;
                if (v < d->hcum[m])
                    e = m;
                else
                    a = m + 1;
            }
            return d->hpos[a];
        }
        double x = (v - wh) / b;
        uint32_t k = x < nn ? (uint32_t)x : nn - 1;
        uint32_t i = nth_unlisted(d->hpos, nh, k);
        if (uniform(rng) * b < dynamo_weight(cost(ctx, i), lo, span, t))
            return i;
    }
    /* n rejections: the exact draw, two passes over every instance */
    if (work)
        work->fallbacks++;
    double sum = 0;
    for (uint32_t i = 0, j = 0; i < n; i++)
        sum += dynamo_weight(j < nh && d->hpos[j] == i ? d->hcost[j++] : cost(ctx, i), lo, span, t);
    double u = uniform(rng) * sum, acc = 0;
    for (uint32_t i = 0, j = 0; i < n; i++) {
        acc += dynamo_weight(j < nh && d->hpos[j] == i ? d->hcost[j++] : cost(ctx, i), lo, span, t);
        if (u < acc)
            return i;
    }
    return n - 1;
}

/* The full views' costs. */
typedef struct dyn_views {
    const rstate *r;
    const memfab_request_view *req;
    const memfab_instance_view *inst;
} dyn_views;

static double views_cost(const void *ctx, uint32_t i)
{
    const dyn_views *c = ctx;
    return dynamo_cost(c->r, c->req, &c->inst[i]);
}

static uint32_t dynamo_route(void *st, const memfab_request_view *req,
                             const memfab_instance_view *inst, uint32_t n,
                             double (*uniform)(void *), void *rng)
{
    dstate *d = st;
    rstate *r = &d->r;
    if (r->b <= 0 || !uniform) {
        uint32_t best = 0;
        for (uint32_t i = 1; i < n; i++)
            if (dynamo_before(r, req, &inst[i], &inst[best]))
                best = i;
        return best;
    }
    double lo = INFINITY, hi = -INFINITY, dmin = INFINITY;
    uint32_t nh = 0;
    for (uint32_t i = 0; i < n && i < r->n; i++) {
        double c = dynamo_cost(r, req, &inst[i]), dec = dynamo_decode(req, &inst[i]);
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
        dmin = dec < dmin ? dec : dmin;
        if (inst[i].prefix_blocks) {
            d->hpos[nh] = i;
            d->hcost[nh++] = c;
        }
    }
    dyn_views ctx = {r, req, inst};
    return dynamo_sample(d, req, n < r->n ? n : r->n, nh, lo, hi, dmin, views_cost, &ctx, uniform,
                         rng, NULL);
}

/* ---- sglang --------------------------------------------------------------- */

static void *sglang_create(uint32_t n, const memfab_params *p)
{
    rstate *r = n ? rs_new(n) : NULL;
    if (!r)
        return NULL;
    r->a = param(p, sglang_params, "cache_threshold");
    r->b = param(p, sglang_params, "balance_abs_threshold");
    r->c = param(p, sglang_params, "balance_rel_threshold");
    if (!(r->a >= 0 && r->a <= 1) || !(r->b >= 0) || !(r->c >= 1)) {
        sim_free(r);
        return NULL;
    }
    return r;
}

static uint64_t sg_load(const memfab_instance_view *v) { return (uint64_t)v->waiting + v->running; }

static uint32_t sg_least(const memfab_instance_view *inst, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++) {
        uint64_t li = sg_load(&inst[i]), lb = sg_load(&inst[best]);
        if (li < lb || (li == lb && lighter(&inst[i], &inst[best])))
            best = i;
    }
    return best;
}

static uint32_t sglang_route(void *st, const memfab_request_view *req,
                             const memfab_instance_view *inst, uint32_t n,
                             double (*uniform)(void *), void *rng)
{
    rstate *r = st;
    uint64_t mx = 0, mn = UINT64_MAX;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t l = sg_load(&inst[i]);
        mx = l > mx ? l : mx;
        mn = l < mn ? l : mn;
    }
    if ((double)(mx - mn) > r->b && (double)mx > r->c * (double)mn)
        return sg_least(inst, n);
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (inst[i].prefix_blocks > inst[best].prefix_blocks ||
            (inst[i].prefix_blocks == inst[best].prefix_blocks &&
             sg_load(&inst[i]) < sg_load(&inst[best])))
            best = i;
    double ratio = req->n_blocks ? (double)inst[best].prefix_blocks / req->n_blocks : 0.0;
    if (req->n_blocks && inst[best].prefix_blocks && ratio >= r->a)
        return best;
    return sg_least(inst, n);
}

/* ---- llmd ----------------------------------------------------------------- */

static void *llmd_create(uint32_t n, const memfab_params *p)
{
    rstate *r = n ? rs_new(n) : NULL;
    if (!r)
        return NULL;
    r->a = param(p, llmd_params, "load_weight");
    if (!(r->a >= 0)) {
        sim_free(r);
        return NULL;
    }
    return r;
}

/* Tier-weighted hit fraction - load_weight x outstanding / maxload. */
static double llmd_score(const rstate *r, const memfab_request_view *req,
                         const memfab_instance_view *v, uint64_t maxload)
{
    uint32_t nt = v->ntiers < MEMFAB_MAX_TIERS ? v->ntiers : MEMFAB_MAX_TIERS;
    int weighted = 0;
    for (uint32_t t = 0; t < nt; t++)
        weighted |= v->tier_weight[t] != 0;
    double hit = 0;
    for (uint32_t t = 0; t < nt; t++)
        hit += (weighted ? v->tier_weight[t] : ldexp(1.0, -(int)t)) * v->prefix_by_tier[t];
    return (req->n_blocks ? hit / req->n_blocks : 0) -
           r->a * (maxload ? (double)v->outstanding_tokens / (double)maxload : 0);
}

static uint32_t llmd_route(void *st, const memfab_request_view *req,
                           const memfab_instance_view *inst, uint32_t n,
                           double (*uniform)(void *), void *rng)
{
    rstate *r = st;
    uint64_t maxload = 0;
    for (uint32_t i = 0; i < n; i++)
        maxload = inst[i].outstanding_tokens > maxload ? inst[i].outstanding_tokens : maxload;
    uint32_t best = 0;
    double best_score = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        const memfab_instance_view *v = &inst[i];
        double score = llmd_score(r, req, v, maxload);
        if (score > best_score || (score == best_score && lighter(v, &inst[best]))) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

static const memfab_router_ops rr_ops = {"round_robin", plain_create, rs_free, rr_route};
static const memfab_router_ops random_ops = {"random", plain_create, rs_free, random_route};
static const memfab_router_ops ll_ops = {"least_loaded", plain_create, rs_free, ll_route};
static const memfab_router_ops pa_ops = {"prefix_affinity", plain_create, rs_free, pa_route};
static const memfab_router_ops dynamo_ops = {"dynamo", dynamo_create, dynamo_free, dynamo_route};
static const memfab_router_ops sglang_ops = {"sglang", sglang_create, rs_free, sglang_route};
static const memfab_router_ops llmd_ops = {"llmd", llmd_create, rs_free, llmd_route};

const memfab_router_ops *const kv_router_policies[] = {
    &rr_ops, &random_ops, &ll_ops, &pa_ops, &dynamo_ops, &sglang_ops, &llmd_ops, NULL};

int kv_router_builtin(const memfab_router_ops *ops)
{
    return ops == &rr_ops       ? KV_ROUTE_RR
           : ops == &random_ops ? KV_ROUTE_RANDOM
           : ops == &ll_ops     ? KV_ROUTE_LEAST
           : ops == &pa_ops     ? KV_ROUTE_PREFIX
           : ops == &dynamo_ops ? KV_ROUTE_DYNAMO
           : ops == &sglang_ops ? KV_ROUTE_SGLANG
           : ops == &llmd_ops   ? KV_ROUTE_LLMD
                                : KV_ROUTE_OTHER;
}

/* ---- indexed routing -------------------------------------------------------
 *
 * Each policy's choice is the best instance in a strict total order (its
 * scan keeps the first best, and every order ends with the instance
 * index). The index gives the holders H of the request's first block (a
 * superset of the instances with prefix_blocks > 0) and the root G of a
 * tree: the first instance in an order on load figures alone. A non-holder
 * N has prefix_blocks = 0, so its key is a function of its load figures;
 * when G comes before (or is) every such N in the policy's order, the
 * best instance is the best of H and G, O(|H| + log n) instead of n. Per
 * policy (fl() is IEEE rounding, which is monotone: x <= y implies
 * fl(x) <= fl(y)):
 *
 * prefix_affinity (most prefix blocks, then lighter): G = least (outstanding,
 *   index). Any instance with a prefix block is in H; without one every
 *   prefix is 0 and the order is lighter alone, whose first is G.
 *
 * dynamo, temperature 0 (lowest cost, then lighter; cost = fl(fl(w x
 *   (nb - prefix)) + u), u = KV blocks in use, an integer): G = least (u,
 *   outstanding, index). Let P = fl(w x nb), and assume P + max kv_total <
 *   2^51 (checked per request; otherwise every view is built). For a
 *   non-holder N, cost_N = fl(P + u_N). G's prefill term is at most P
 *   (prefix_G >= 0, w >= 0), so cost_G <= fl(P + u_G) <= fl(P + u_N). If
 *   u_G = u_N, a tie in cost goes to G, lighter by the tree's order. If
 *   u_G < u_N, the exact sums differ by at least 1 while each rounding
 *   errs by at most 1/8 (ulp below 2^51 is at most 1/4), so cost_G <
 *   cost_N. Either way G comes before N. With temperature > 0 the same
 *   argument gives the minimum cost (G's or a holder's) and the section
 *   "dynamo with temperature > 0" the rest: the sampler reads the holders'
 *   views, G's, the figures of the instances it proposes and the max tree
 *   on KV blocks in use, never a sum over all instances (unless n
 *   proposals in a row were rejected).
 *
 * sglang: load = waiting + running requests. Whether to balance depends
 *   on the min and max load over all instances: the roots of a min tree on
 *   (load, outstanding, index), which is also sg_least's order, and of a
 *   max tree on load. Balancing: the min tree's root. Otherwise the best
 *   by (most prefix blocks, least load, index) has prefix_blocks > 0, so
 *   lies in H, or has 0 and the policy falls back to sg_least (the root).
 *
 * llmd (highest score, then lighter; score = fl(fl(h / nb) - fl(w x
 *   fl(outstanding / M))), h >= 0 the tier-weighted hit, M the largest
 *   outstanding over all instances, the root of a max tree): G = least
 *   (outstanding, index). A non-holder has h = 0; G has h_G >= 0 and
 *   outstanding_G <= outstanding_N, so score_G >= score_N by monotone
 *   rounding, and a tie goes to G, the lighter. (A NaN score - none arises
 *   from finite weights, but the check is cheap - builds every view.)
 */

/* dynamo with temperature > 0 from the index (see "dynamo with
 * temperature > 0" above): H from the candidates, sorted by position and
 * without duplicates (the tree root may also be a holder); lo from the
 * candidates; hi from H and the max tree; N's costs from the figures. */
typedef struct dyn_index {
    const rstate *r;
    const memfab_request_view *req;
    const kv_rindex *rx;
} dyn_index;

static double index_cost(const void *ctx, uint32_t i)
{
    const dyn_index *c = ctx;
    return dynamo_cost0(c->r, c->req, (double)kv_rindex_figure(c->rx, i, 1));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint32_t dynamo_index_sample(void *st, const memfab_request_view *req,
                                    const kv_rx_query *q)
{
    dstate *d = st;
    const rstate *r = &d->r;
    double lo = INFINITY, hi = -INFINITY;
    uint32_t ns = 0, nh = 0;
    for (uint32_t k = 0; k < q->ncand; k++) {
        double c = dynamo_cost(r, req, &q->cand[k]);
        lo = c < lo ? c : lo;
        if (q->cand[k].prefix_blocks)
            d->sort[ns++] = (uint64_t)q->cand_pos[k] << 32 | k;
    }
    qsort(d->sort, ns, sizeof *d->sort, cmp_u64);
    for (uint32_t j = 0; j < ns; j++) {
        uint32_t pos = (uint32_t)(d->sort[j] >> 32), k = (uint32_t)d->sort[j];
        if (nh && d->hpos[nh - 1] == pos)
            continue;
        d->hpos[nh] = pos;
        d->hcost[nh] = dynamo_cost(r, req, &q->cand[k]);
        hi = d->hcost[nh] > hi ? d->hcost[nh] : hi;
        nh++;
    }
    uint64_t was = kv_rindex_walked(q->rx);
    uint32_t m = kv_rindex_first_except(q->rx, d->hpos, nh);
    if (q->work)
        q->work->nodes += kv_rindex_walked(q->rx) - was;
    if (m != UINT32_MAX) {
        double c = dynamo_cost0(r, req, (double)kv_rindex_figure(q->rx, m, 1));
        hi = c > hi ? c : hi;
    }
    dyn_index ctx = {r, req, q->rx};
    uint32_t pos = dynamo_sample(d, req, q->n, nh, lo, hi, (double)q->least_fig, index_cost, &ctx,
                                 q->uniform, q->rng, q->work);
    return q->map ? q->map[pos] : pos;
}

int kv_router_index_plan(const memfab_router_ops *ops, const void *st, kv_rx_plan *plan)
{
    const rstate *r = st;
    memset(plan, 0, sizeof *plan);
    plan->max_order = KV_RINDEX_NONE;
    switch (kv_router_builtin(ops)) {
    case KV_ROUTE_LEAST:
        plan->min_order = KV_RINDEX_LOAD;
        return 0;
    case KV_ROUTE_PREFIX:
        plan->min_order = KV_RINDEX_LOAD;
        plan->holders = 1;
        return 0;
    case KV_ROUTE_DYNAMO:
        if (!r)
            return -1;
        plan->min_order = KV_RINDEX_KV;
        if (r->b > 0) /* the sampler reads the most KV blocks in use outside H */
            plan->max_order = KV_RINDEX_MAXKV;
        plan->holders = plan->least_view = 1;
        return 0;
    case KV_ROUTE_SGLANG:
        plan->min_order = KV_RINDEX_REQS;
        plan->max_order = KV_RINDEX_MAXREQS;
        plan->holders = 1;
        return 0;
    case KV_ROUTE_LLMD:
        if (!r || !isfinite(r->a))
            return -1;
        plan->min_order = KV_RINDEX_LOAD;
        plan->max_order = KV_RINDEX_MAXLOAD;
        plan->holders = plan->least_view = 1;
        return 0;
    default:
        return -1;
    }
}

void kv_router_index_figures(const memfab_instance_view *v, uint64_t fig[3])
{
    fig[0] = v->outstanding_tokens;
    fig[1] = kv_used(v);
    fig[2] = sg_load(v);
}

uint32_t kv_router_index_route(const memfab_router_ops *ops, void *st,
                               const memfab_request_view *req, const kv_rx_query *q)
{
    rstate *r = st;
    const memfab_instance_view *best = NULL;
    switch (kv_router_builtin(ops)) {
    case KV_ROUTE_LEAST:
        return q->least;
    case KV_ROUTE_PREFIX:
        for (uint32_t k = 0; k < q->ncand; k++) {
            const memfab_instance_view *v = &q->cand[k];
            if (v->prefix_blocks &&
                (!best || v->prefix_blocks > best->prefix_blocks ||
                 (v->prefix_blocks == best->prefix_blocks && lighter(v, best))))
                best = v;
        }
        return best ? best->index : q->least;
    case KV_ROUTE_DYNAMO: {
        /* P + max kv_total < 2^51 (no rounding collapses two costs), and
         * KV figures everywhere (u is the decode term) */
        if (!(r->a * (double)req->n_blocks + (double)q->kv_total_max < 0x1p51) ||
            !q->kv_total_min || !q->ncand)
            return KV_RX_FULL;
        if (r->b > 0 && q->uniform)
            return dynamo_index_sample(st, req, q);
        for (uint32_t k = 0; k < q->ncand; k++)
            if (!best || dynamo_before(r, req, &q->cand[k], best))
                best = &q->cand[k];
        return best->index;
    }
    case KV_ROUTE_SGLANG: {
        uint64_t mx = q->most_fig, mn = q->least_fig;
        if ((double)(mx - mn) > r->b && (double)mx > r->c * (double)mn)
            return q->least;
        for (uint32_t k = 0; k < q->ncand; k++) {
            const memfab_instance_view *v = &q->cand[k];
            if (v->prefix_blocks &&
                (!best || v->prefix_blocks > best->prefix_blocks ||
                 (v->prefix_blocks == best->prefix_blocks &&
                  (sg_load(v) < sg_load(best) ||
                   (sg_load(v) == sg_load(best) && v->index < best->index)))))
                best = v;
        }
        if (!best)
            return q->least;
        double ratio = req->n_blocks ? (double)best->prefix_blocks / req->n_blocks : 0.0;
        if (req->n_blocks && ratio >= r->a)
            return best->index;
        return q->least;
    }
    case KV_ROUTE_LLMD: {
        double best_score = 0;
        for (uint32_t k = 0; k < q->ncand; k++) {
            const memfab_instance_view *v = &q->cand[k];
            double score = llmd_score(r, req, v, q->most_fig);
            if (isnan(score))
                return KV_RX_FULL;
            if (!best || score > best_score || (score == best_score && lighter(v, best))) {
                best = v;
                best_score = score;
            }
        }
        return best ? best->index : KV_RX_FULL;
    }
    default:
        return KV_RX_FULL;
    }
}

/* ---- conductor: a pair router (Mooncake's Conductor, FAST 2025) -----------
 *
 * Prefill: the instance with the best prefix reuse for its load, scored as
 * llmd does (tier-weighted hit fraction - load_weight x normalized
 * outstanding tokens). Decode: among the decode instances with room for the
 * prompt's blocks, the least loaded (waiting reservations, then outstanding
 * tokens); none with room: the least loaded. Early rejection: with
 * reject_waiting > 0, a request whose best decode instance already has that
 * many reservations waiting is rejected at arrival (overload: admitting it
 * would only queue KV in the prefill pool).
 */
typedef struct conductor {
    double load_weight;        /* prefill score: weight of the load term */
    double reject_waiting;     /* reject when the decode side has this many waiting (0: never) */
} conductor;

static void *conductor_create(uint32_t np, uint32_t nd, const memfab_params *p)
{
    conductor *c = sim_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->load_weight = param(p, conductor_params, "load_weight");
    c->reject_waiting = param(p, conductor_params, "reject_waiting");
    if (!(c->load_weight >= 0) || !(c->reject_waiting >= 0)) {
        sim_free(c);
        return NULL;
    }
    return c;
}

static void conductor_destroy(void *st) { sim_free(st); }

static int conductor_route(void *st, const memfab_request_view *req,
                           const memfab_instance_view *pre, uint32_t np,
                           const memfab_instance_view *dec, uint32_t nd,
                           double (*uniform)(void *), void *rng, uint32_t *p, uint32_t *d)
{
    conductor *c = st;
    rstate ls = {0};
    ls.a = c->load_weight;
    *p = llmd_route(&ls, req, pre, np, uniform, rng);
    uint32_t best = 0;
    int best_room = -1;
    for (uint32_t i = 0; i < nd; i++) {
        int room = dec[i].kv_free_blocks >= req->n_blocks;
        const memfab_instance_view *b = &dec[best];
        if (room > best_room ||
            (room == best_room &&
             (dec[i].waiting < b->waiting ||
              (dec[i].waiting == b->waiting && dec[i].outstanding_tokens < b->outstanding_tokens)))) {
            best = i;
            best_room = room;
        }
    }
    *d = best;
    return c->reject_waiting > 0 && (double)dec[best].waiting >= c->reject_waiting;
}

static const memfab_pair_router_ops conductor_ops = {"conductor", conductor_create,
                                                     conductor_destroy, conductor_route};

/* Indexed conductor. Prefill: llmd's score over the prefill instances, so
 * llmd's plan and proof (section "indexed routing") over an index of the
 * prefill instances alone (M, the largest outstanding, is then over them,
 * as llmd_route's scan over `pre` takes it). Decode: the order is (room
 * first, then waiting, outstanding, index) - the scan above keeps the
 * first of the least by strict comparisons, so ties go to the lowest
 * index. Let G be the least decode instance by (waiting, outstanding,
 * index) over all of them. If some decode instance has room
 * (kv_free_blocks >= n_blocks), the scan's choice is the first of those
 * in the order (waiting, outstanding, index): the first in the min tree's
 * order with free blocks >= n_blocks, which kv_rindex_least_with finds
 * exactly (a best-first search of the min tree pruned by the max tree on
 * free blocks: G itself in O(1) when G has room; kv_rindex.c bounds the
 * rest). If none has room (the max tree's root has fewer free blocks than
 * n_blocks), every room flag is 0 and the scan's choice is the least
 * overall, G. The plan's decode_room names this rule; serving.c applies
 * it and hands the choice to kv_pair_index_route, which judges early
 * rejection on it as conductor_route does. */
int kv_pair_index_plan(const memfab_pair_router_ops *ops, const void *st, kv_rx_plan *plan)
{
    const conductor *c = st;
    memset(plan, 0, sizeof *plan);
    if (ops != &conductor_ops || !c || !isfinite(c->load_weight))
        return -1;
    plan->min_order = KV_RINDEX_LOAD;
    plan->max_order = KV_RINDEX_MAXLOAD;
    plan->holders = plan->least_view = 1;
    plan->decode_room = 1;
    return 0;
}

uint32_t kv_pair_index_route(const memfab_pair_router_ops *ops, void *st,
                             const memfab_request_view *req, const kv_rx_query *q,
                             const memfab_instance_view *dchoice, int *reject)
{
    conductor *c = st;
    *reject = 0;
    if (ops != &conductor_ops)
        return KV_RX_FULL;
    rstate ls = {0};
    ls.a = c->load_weight;
    uint32_t p = kv_router_index_route(&llmd_ops, &ls, req, q);
    if (p != KV_RX_FULL)
        *reject = c->reject_waiting > 0 && (double)dchoice->waiting >= c->reject_waiting;
    return p;
}

const memfab_pair_router_ops *const kv_pair_router_policies[] = {&conductor_ops, NULL};
