/*
 * check_rindex.c - the routing index (models/kv/kv_rindex.h) and the
 * indexed routing of the serving workload (serving.c).
 *
 *   - The tournament tree's root is the least loaded instance (fewest
 *     outstanding tokens, then lowest index) after every one of many random
 *     updates, checked against a scan; an update costs at most
 *     ceil(log2 n) key comparisons (one per level of the tree: Knuth,
 *     TAOCP vol. 3, 5.4.1), counted through the index's test hook. The
 *     other orders (KV blocks in use or requests first; the max trees)
 *     likewise, for random updates of all three figures with many ties.
 *   - The holder lists equal a brute-force set of (block, instance) pairs
 *     under random adds and removes.
 *   - Indexed routing chooses exactly what the policy chooses on the full
 *     views: the same scenario run with the index on and off gives the
 *     same request rows and metrics (hashed), for round_robin, random,
 *     least_loaded, prefix_affinity, dynamo, sglang and llmd (with
 *     parameters that make sglang balance and route by cache, and other
 *     weights), with and without session stickiness, on 12 instances, and
 *     for the four prefix-aware policies on 192 instances; dynamo with a
 *     weight beyond the index's exact range (costs of 2^51 and more) falls
 *     back to the full views and still agrees.
 *   - The queries below the roots equal scans: the first instance tied
 *     with a root in cyclic order from a start (pd_pick_decode's
 *     round-robin tie-break) and the first in the min tree's order whose
 *     figure reaches a bound (conductor's decode instance with room), the
 *     latter taking at most 1 + min(|A|, Q) (log2 p + 1) tree nodes.
 *   - With disaggregation, an ordinary router (every policy, both decode
 *     policies, sticky or not; prefill, mixed and decode instances
 *     interleaved, 13 and 48 instances) and conductor (also 12 + 36
 *     instances where 1,152 of 3,000 requests search below the decode
 *     root) give the same request rows and metrics with the index as with
 *     full views, every request decided by the index.
 *   - Work per request does not grow with the instances: with the index a
 *     least_loaded (or round_robin) request builds exactly one instance
 *     view; a prefix-aware request one per holder of its first block, the
 *     tree root's (dynamo, llmd) and at most one more (the chosen); without
 *     it every request builds n.
 *   - dynamo with temperature > 0 (Dynamo's softmax over normalised costs,
 *     drawn by rejection: kv_router.c): on ten fixed instances, 100,000
 *     draws per temperature (0.02 to 10) fit the softmax computed here
 *     (chi-square, p > 10^-3 at a fixed seed) through the full views and
 *     through the index, draw for draw the same instance; 400 random
 *     configurations (2-40 and 1,000 instances, holders without a hit,
 *     ties) likewise draw for draw; the scenario with the index equals the
 *     full views' (12 and 192 instances, three temperatures, sticky or
 *     not); at 1,000 instances a request builds about 14 views (the
 *     holders', the root's, the chosen's) and draws about 3 proposals
 *     (bound exp(1/T)), none falling back to the sum over all.
 *     At its edges (span 0, every instance or none holding, overlap
 *     weight 0, no blocks, temperature 10^-6 and 10^6, no KV figures) the
 *     draws fit the softmax too, and match the index's draw for draw
 *     where it decides (dynamo_sampler_edges).
 *   - kv_rindex_first_except and kv_rindex_k_least equal scans at their
 *     edges (empty and full skip lists, k = 0, k >= n, n = 1); a scoped
 *     plug-in's request goes to inst[k].index of the position k it
 *     returned (past the end: the last view), with and without the index,
 *     disaggregated or not; a plug-in with two scopes for one router is
 *     refused.
 *   - With disaggregation the decode choice comes from the decode index
 *     whatever the router (a plug-in, dynamo sampling or beyond its exact
 *     range, one prefill instance): no decode choice scans the decode
 *     instances, and the results are the full views'.
 *   - Memory does not grow with the trace: the peak RSS of a forked child
 *     replaying 160,000 requests exceeds that of one replaying 40,000 by
 *     less than 1 MiB when the latency collectors keep 4,096 samples in
 *     memory (the rest spilled), and by more than 2 MiB when they keep
 *     all (3 collectors x 8 B x 120,000 more samples touched = 2.9 MB):
 *     the measurement sees the difference. Skipped under ASan, whose shadow
 *     memory and quarantine blur a child's peak.
 */
#include <check.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/kv/kv_rindex.h"
#include "models/kv/kvstore.h"
#include "models/registry.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/check_main.h"

/* Requests of the disaggregated runs: PD_REQ for the comparisons of the
 * index with full views (1,500), NREQ for the larger ones (2,000); fewer
 * under ASan, which looks for memory errors, not for more decisions (the
 * suite's runs there took most of CI's ASan time). */
#ifdef UNDER_ASAN
#define NREQ 800u
#define PD_REQ 600u
#else
#define NREQ 2000u
#define PD_REQ 1500u
#endif

/* ---- the index alone ------------------------------------------------------ */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

START_TEST(tree_root_is_least_loaded)
{
    static const uint32_t sizes[] = {1, 2, 3, 7, 16, 100, 1000};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        uint32_t n = sizes[z], levels = 0;
        while ((1u << levels) < n)
            levels++;
        kv_rindex *x = kv_rindex_new(n);
        ck_assert_ptr_nonnull(x);
        uint64_t *load = calloc(n, sizeof *load), seed = 42 + n;
        ck_assert_uint_eq(kv_rindex_least(x), 0);
        for (int step = 0; step < 20000; step++) {
            uint32_t i = (uint32_t)(lcg(&seed) % n);
            load[i] = lcg(&seed) % 50; /* small range: many ties on load */
            uint64_t before = kv_rindex_comparisons(x);
            kv_rindex_set_load(x, i, load[i]);
            ck_assert_uint_le(kv_rindex_comparisons(x) - before, levels);
            uint32_t best = 0;
            for (uint32_t k = 1; k < n; k++)
                if (load[k] < load[best])
                    best = k;
            ck_assert_uint_eq(kv_rindex_least(x), best);
            ck_assert_uint_eq(kv_rindex_load(x, i), load[i]);
        }
        free(load);
        kv_rindex_free(x);
    }
}
END_TEST

/* Every order of kv_rindex_new_orders: the roots equal a scan after every
 * random update of the three figures, at most ceil(log2 n) comparisons
 * per tree and update. */
static int scan_before(int order, const uint64_t *f[3], uint32_t a, uint32_t b)
{
    if (order == KV_RINDEX_MAXLOAD || order == KV_RINDEX_MAXREQS || order == KV_RINDEX_MAXKV) {
        const uint64_t *g = f[order == KV_RINDEX_MAXLOAD ? 0 : order == KV_RINDEX_MAXKV ? 1 : 2];
        return g[a] != g[b] ? g[a] > g[b] : a < b;
    }
    if (order != KV_RINDEX_LOAD) {
        const uint64_t *g = f[order == KV_RINDEX_KV ? 1 : 2];
        if (g[a] != g[b])
            return g[a] < g[b];
    }
    return f[0][a] != f[0][b] ? f[0][a] < f[0][b] : a < b;
}

START_TEST(tree_orders_match_a_scan)
{
    static const int pairs[][2] = {{KV_RINDEX_LOAD, KV_RINDEX_MAXLOAD},
                                   {KV_RINDEX_KV, KV_RINDEX_NONE},
                                   {KV_RINDEX_REQS, KV_RINDEX_MAXREQS},
                                   {KV_RINDEX_REQS, KV_RINDEX_MAXKV}};
    static const uint32_t sizes[] = {2, 5, 64, 300};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (size_t o = 0; o < sizeof pairs / sizeof pairs[0]; o++) {
            uint32_t n = sizes[z], levels = 0;
            while ((1u << levels) < n)
                levels++;
            int lo = pairs[o][0], hi = pairs[o][1];
            kv_rindex *x = kv_rindex_new_orders(n, lo, hi);
            ck_assert_ptr_nonnull(x);
            uint64_t *fig[3], seed = 11 + n + o;
            for (int f = 0; f < 3; f++)
                fig[f] = calloc(n, sizeof *fig[f]);
            const uint64_t *cf[3] = {fig[0], fig[1], fig[2]};
            for (int step = 0; step < 5000; step++) {
                uint32_t i = (uint32_t)(lcg(&seed) % n);
                for (int f = 0; f < 3; f++)
                    if (lcg(&seed) % 2) /* change some figures, small ranges: ties */
                        fig[f][i] = lcg(&seed) % 6;
                uint64_t before = kv_rindex_comparisons(x);
                kv_rindex_set(x, i, fig[0][i], fig[1][i], fig[2][i]);
                ck_assert_uint_le(kv_rindex_comparisons(x) - before,
                                  (hi == KV_RINDEX_NONE ? 1 : 2) * levels);
                uint32_t least = 0, most = 0;
                for (uint32_t k = 1; k < n; k++) {
                    if (scan_before(lo, cf, k, least))
                        least = k;
                    if (hi != KV_RINDEX_NONE && scan_before(hi, cf, k, most))
                        most = k;
                }
                ck_assert_uint_eq(kv_rindex_least(x), least);
                if (hi != KV_RINDEX_NONE)
                    ck_assert_uint_eq(kv_rindex_most(x), most);
                else
                    ck_assert_uint_eq(kv_rindex_most(x), UINT32_MAX);
                for (int f = 0; f < 3; f++)
                    ck_assert_uint_eq(kv_rindex_figure(x, i, f), fig[f][i]);
            }
            for (int f = 0; f < 3; f++)
                free(fig[f]);
            kv_rindex_free(x);
        }
}
END_TEST

START_TEST(holders_match_a_set)
{
    enum { N = 40, IDS = 3000 };
    static unsigned char held[IDS][N];
    memset(held, 0, sizeof held);
    kv_rindex *x = kv_rindex_new(N);
    ck_assert_ptr_nonnull(x);
    uint64_t seed = 7;
    uint32_t out[N];
    for (int step = 0; step < 200000; step++) {
        uint32_t id = (uint32_t)(lcg(&seed) % IDS), i = (uint32_t)(lcg(&seed) % N);
        uint64_t key = 0x9e3779b97f4a7c15ull * (id + 1); /* spread over the map */
        int add = !held[id][i];
        ck_assert_int_eq(kv_rindex_block(x, i, key, add), 0);
        held[id][i] = (unsigned char)add;
        if (step % 97 == 0 || step > 199000) {
            uint32_t want = 0;
            for (uint32_t k = 0; k < N; k++)
                want += held[id][k];
            uint32_t got = kv_rindex_holders(x, key, out, N);
            ck_assert_uint_eq(got, want);
            for (uint32_t k = 0; k < got; k++)
                ck_assert_int_eq(held[id][out[k]], 1);
        }
    }
    for (uint32_t id = 0; id < IDS; id++) { /* everything, at the end */
        uint32_t want = 0;
        for (uint32_t k = 0; k < N; k++)
            want += held[id][k];
        ck_assert_uint_eq(kv_rindex_holders(x, 0x9e3779b97f4a7c15ull * (id + 1), out, N), want);
    }
    kv_rindex_free(x);
}
END_TEST

/* kv_rindex_first_from: the first instance tied with a root in cyclic
 * order from a position equals a scan that starts there and keeps the
 * first strictly better (serving.c's pd_pick_decode), for the min tree
 * (LOAD) and the second tree (MAXKV), after random updates with many ties
 * and from every start. */
START_TEST(first_from_matches_a_cyclic_scan)
{
    static const uint32_t sizes[] = {1, 2, 3, 7, 16, 100, 257};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        uint32_t n = sizes[z];
        kv_rindex *x = kv_rindex_new_orders(n, KV_RINDEX_LOAD, KV_RINDEX_MAXKV);
        ck_assert_ptr_nonnull(x);
        uint64_t *load = calloc(n, sizeof *load), *kv = calloc(n, sizeof *kv), seed = 5 + n;
        for (int step = 0; step < 3000; step++) {
            uint32_t i = (uint32_t)(lcg(&seed) % n);
            load[i] = lcg(&seed) % 4; /* tiny ranges: ties everywhere */
            kv[i] = lcg(&seed) % 3;
            kv_rindex_set(x, i, load[i], kv[i], 0);
            for (uint32_t t = 0; t < 4; t++) {
                uint32_t from = (uint32_t)(lcg(&seed) % n), lo = from, hi = from;
                for (uint32_t k = 1; k < n; k++) {
                    uint32_t j = (from + k) % n;
                    if (load[j] < load[lo])
                        lo = j;
                    if (kv[j] > kv[hi])
                        hi = j;
                }
                ck_assert_uint_eq(kv_rindex_first_from(x, 0, from), lo);
                ck_assert_uint_eq(kv_rindex_first_from(x, 1, from), hi);
            }
        }
        free(load);
        free(kv);
        kv_rindex_free(x);
    }
    kv_rindex *x = kv_rindex_new(4); /* no second tree */
    ck_assert_uint_eq(kv_rindex_first_from(x, 1, 2), UINT32_MAX);
    kv_rindex_free(x);
}
END_TEST

/* kv_rindex_least_with: the first instance in the min tree's order whose
 * figure reaches a bound equals a scan (conductor's decode order: room,
 * then waiting, outstanding, index), for random figures with ties and
 * random bounds; UINT32_MAX when none reaches it. The search takes at
 * most 1 + min(|A|, Q) (log2 p + 1) nodes (kv_rindex.c: A the instances
 * before the answer that fail, Q those that qualify), checked per query,
 * and exactly one when the root qualifies. */
START_TEST(least_with_matches_a_scan)
{
    static const uint32_t sizes[] = {1, 2, 5, 64, 300};
    static const int orders[][3] = {{KV_RINDEX_REQS, KV_RINDEX_MAXKV, 1},
                                    {KV_RINDEX_LOAD, KV_RINDEX_MAXLOAD, 0},
                                    {KV_RINDEX_KV, KV_RINDEX_MAXREQS, 2}};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (size_t o = 0; o < 3; o++) {
            uint32_t n = sizes[z], levels = 0;
            while ((1u << levels) < n)
                levels++;
            int lo = orders[o][0], f = orders[o][2];
            kv_rindex *x = kv_rindex_new_orders(n, lo, orders[o][1]);
            ck_assert_ptr_nonnull(x);
            uint64_t *fig[3], seed = 3 + n + o;
            for (int k = 0; k < 3; k++)
                fig[k] = calloc(n, sizeof *fig[k]);
            const uint64_t *cf[3] = {fig[0], fig[1], fig[2]};
            uint64_t searched = 0;
            for (int step = 0; step < 4000; step++) {
                uint32_t i = (uint32_t)(lcg(&seed) % n);
                for (int k = 0; k < 3; k++)
                    if (lcg(&seed) % 2)
                        fig[k][i] = lcg(&seed) % 8;
                kv_rindex_set(x, i, fig[0][i], fig[1][i], fig[2][i]);
                uint64_t bound = lcg(&seed) % 10;
                uint32_t want = UINT32_MAX, nq = 0, na = 0;
                for (uint32_t k = 0; k < n; k++) {
                    if (fig[f][k] < bound)
                        continue;
                    nq++;
                    if (want == UINT32_MAX || scan_before(lo, cf, k, want))
                        want = k;
                }
                for (uint32_t k = 0; want != UINT32_MAX && k < n; k++)
                    na += fig[f][k] < bound && scan_before(lo, cf, k, want);
                uint64_t was = kv_rindex_walked(x);
                ck_assert_uint_eq(kv_rindex_least_with(x, f, bound), want);
                uint64_t took = kv_rindex_walked(x) - was, m = na < nq ? na : nq;
                ck_assert_uint_le(took, 1 + m * (levels + 1));
                if (want != UINT32_MAX && want == kv_rindex_least(x))
                    ck_assert_uint_eq(took, 1);
                searched += took > 1;
            }
            if (n > 2)
                ck_assert_uint_gt(searched, 100); /* the search below the root ran */
            ck_assert_uint_eq(kv_rindex_least_with(x, (f + 1) % 3, 0), UINT32_MAX); /* wrong tree */
            for (int k = 0; k < 3; k++)
                free(fig[k]);
            kv_rindex_free(x);
        }
}
END_TEST

/* ---- dynamo's sampler (temperature > 0) ------------------------------------
 *
 * kv_router.c samples Dynamo's softmax (scheduler.rs, softmax_sample) by
 * rejection with a fallback to the exact two-pass draw, the same function
 * on the full views and on the index. A configuration: n instances, each
 * with a prefix hit, KV blocks in use and outstanding tokens; its full
 * views, and the index (trees on KV blocks in use, holders of the first
 * block, which may include instances that hold no prefix) with the query
 * serving.c would build: the holders' views and the root's. */
enum { SN = 1000 };
static memfab_instance_view sv[SN];            /* the full views */
static memfab_instance_view scand[SN + 1];     /* the holders' views and the root's */
static uint32_t spos[SN + 1];
static const uint64_t sids[4] = {77, 78, 79, 80};
static const memfab_request_view sreq = {1, 0, 64, 8, 4, 16, sids};

static double gsl_draw(void *rng) { return gsl_rng_uniform(rng); }

/* Set up x (n instances) from the views sv[0, n); extra: instances listed
 * as holders without a prefix hit. The query into *q. */
static void sampler_query(kv_rindex *x, uint32_t n, const uint32_t *extra, uint32_t nextra,
                          kv_rx_query *q, kv_rx_work *work)
{
    memset(q, 0, sizeof *q);
    q->kv_total_min = UINT64_MAX;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t used = sv[i].kv_total_blocks - sv[i].kv_free_blocks;
        kv_rindex_set(x, i, sv[i].outstanding_tokens, used, 0);
        if (sv[i].prefix_blocks)
            ck_assert_int_eq(kv_rindex_block(x, i, sids[0], 1), 0);
        q->kv_total_min = sv[i].kv_total_blocks < q->kv_total_min ? sv[i].kv_total_blocks
                                                                 : q->kv_total_min;
        q->kv_total_max = sv[i].kv_total_blocks > q->kv_total_max ? sv[i].kv_total_blocks
                                                                 : q->kv_total_max;
    }
    for (uint32_t k = 0; k < nextra; k++) { /* a store indexes a block once */
        uint32_t e = extra[k], seen = sv[e].prefix_blocks != 0;
        for (uint32_t j = 0; j < k; j++)
            seen |= extra[j] == e;
        if (!seen)
            ck_assert_int_eq(kv_rindex_block(x, e, sids[0], 1), 0);
    }
    uint32_t nh = kv_rindex_holders(x, sids[0], spos, n);
    for (uint32_t k = 0; k < nh; k++)
        scand[k] = sv[spos[k]];
    uint32_t g = kv_rindex_least(x);
    spos[nh] = g;
    scand[nh] = sv[g];
    q->cand = scand;
    q->ncand = nh + 1;
    q->cand_pos = spos;
    q->least = g;
    q->least_fig = kv_rindex_figure(x, g, 1);
    q->rx = x;
    q->n = n;
    q->uniform = gsl_draw;
    q->work = work;
}

static void sampler_view(uint32_t i, uint32_t prefix, uint64_t used, uint64_t outstanding)
{
    memset(&sv[i], 0, sizeof sv[i]);
    sv[i].index = i;
    sv[i].prefix_blocks = prefix;
    sv[i].kv_total_blocks = 200;
    sv[i].kv_free_blocks = 200 - used;
    sv[i].outstanding_tokens = outstanding;
    sv[i].ntiers = 1;
}

static double temp_ctx;
static double get_param(void *ctx, const char *key, double def)
{
    if (!strcmp(key, "temperature"))
        return *(double *)ctx;
    if (!strcmp(key, "overlap_weight"))
        return 1.0;
    return def;
}

/* Chi-square goodness of fit (Pearson; cells with fewer than 5 expected
 * pooled into one, as the test's validity asks: Cochran 1954) of `count`
 * (m draws) against the probabilities p: the p-value (upper tail of the
 * chi-square with cells - 1 degrees of freedom). */
static double chisq_p(const uint64_t *count, const double *p, uint32_t n, uint64_t m)
{
    double stat = 0, pool_e = 0, pool_o = 0;
    int cells = 0;
    for (uint32_t i = 0; i < n; i++) {
        double e = p[i] * (double)m;
        if (e < 5) {
            pool_e += e;
            pool_o += (double)count[i];
            if (e == 0)
                ck_assert_uint_eq(count[i], 0);
            continue;
        }
        stat += ((double)count[i] - e) * ((double)count[i] - e) / e;
        cells++;
    }
    if (pool_e > 0) {
        stat += (pool_o - pool_e) * (pool_o - pool_e) / pool_e;
        cells++;
    }
    return cells > 1 ? gsl_cdf_chisq_Q(stat, cells - 1) : 1.0;
}

/* Ten instances (cost = 1 x (4 - prefix) + KV blocks in use): holders 1,
 * 3 and 6 (6 the cheapest, 1 the costliest of all: the most KV blocks in
 * use is a holder's, so hi comes from the search that skips holders... and
 * here from holder 1 itself), non-holders 0, 2, 4, 5, 7, 8, 9 with
 * spread KV figures, and instance 9 listed as a holder without a hit.
 * For each temperature, 100,000 draws through the full views and the same
 * through the index from a twin stream: the same instance every draw, and
 * counts consistent with Dynamo's softmax computed here from the costs
 * (p-value above 10^-3 at a fixed seed). The small temperatures make the
 * proposal reject often (a fallback after 10 rejections: counted), and
 * the fallback's draws take part in the fit. */
START_TEST(dynamo_sampler_matches_softmax)
{
    static const double temps[] = {0.02, 0.1, 0.5, 2.0, 10.0};
    static const uint32_t prefix[10] = {0, 2, 0, 4, 0, 0, 3, 0, 0, 0};
    static const uint64_t used[10] = {5, 70, 30, 20, 31, 35, 2, 44, 50, 33};
    const uint32_t n = 10, extra[1] = {9};
    enum { M = 100000 };
    const memfab_router_ops *o = kv_router_find("dynamo");
    ck_assert_ptr_nonnull(o);
    for (size_t z = 0; z < sizeof temps / sizeof temps[0]; z++) {
        temp_ctx = temps[z];
        memfab_params prm = {&temp_ctx, get_param};
        void *sf = o->create(n, &prm), *si = o->create(n, &prm);
        ck_assert(sf && si);
        for (uint32_t i = 0; i < n; i++)
            sampler_view(i, prefix[i], used[i], 100 * i);
        kv_rindex *x = kv_rindex_new_orders(n, KV_RINDEX_KV, KV_RINDEX_MAXKV);
        kv_rx_query q;
        kv_rx_work work = {0};
        sampler_query(x, n, extra, 1, &q, &work);
        gsl_rng *ra = gsl_rng_alloc(gsl_rng_mt19937), *rb = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(ra, 1234 + z);
        gsl_rng_set(rb, 1234 + z);
        q.rng = rb;
        uint64_t count[10] = {0};
        for (int m = 0; m < M; m++) {
            uint32_t a = o->route(sf, &sreq, sv, n, gsl_draw, ra);
            uint32_t b = kv_router_index_route(o, si, &sreq, &q);
            ck_assert_uint_eq(a, b);
            ck_assert_uint_lt(a, n);
            count[a]++;
        }
        ck_assert_uint_eq(gsl_rng_get(ra), gsl_rng_get(rb)); /* the same draws consumed */
        /* Dynamo's softmax, from the costs */
        double c[10], lo = INFINITY, hi = -INFINITY, w[10], sum = 0, p[10];
        for (uint32_t i = 0; i < n; i++) {
            c[i] = (double)(4 - prefix[i]) + (double)used[i];
            lo = fmin(lo, c[i]);
            hi = fmax(hi, c[i]);
        }
        for (uint32_t i = 0; i < n; i++)
            sum += w[i] = exp(-(c[i] - lo) / (hi - lo) / temps[z]);
        for (uint32_t i = 0; i < n; i++)
            p[i] = w[i] / sum;
        double pv = chisq_p(count, p, n, M);
        printf("dynamo sampler, T = %g: chi-square p = %.3f; %.2f proposals a draw "
               "(bound exp(1/T) = %.3g), %llu fallbacks of %d\n",
               temps[z], pv, (double)work.trials / (double)work.samples, exp(1 / temps[z]),
               (unsigned long long)work.fallbacks, M);
        ck_assert_msg(pv > 1e-3, "T = %g: p-value %g", temps[z], pv);
        ck_assert_uint_eq(work.samples, M);
        if (temps[z] >= 0.5)
            ck_assert_double_le((double)work.trials / M, exp(1 / temps[z]));
        gsl_rng_free(ra);
        gsl_rng_free(rb);
        kv_rindex_free(x);
        o->destroy(sf);
        o->destroy(si);
    }
}
END_TEST

/* Random configurations (2 to 40 instances, and 1,000): random prefix
 * hits, KV figures with many ties, extra holder entries, temperatures
 * from 0.05 to 5: the index's draw equals the full views' draw by draw.
 * At 1,000 instances with 20 holders a draw takes few proposals and the
 * search for the costliest non-holder few tree nodes, whatever n. */
START_TEST(dynamo_sampler_indexed_equals_full_views)
{
    const memfab_router_ops *o = kv_router_find("dynamo");
    uint64_t seed = 99;
    gsl_rng *ra = gsl_rng_alloc(gsl_rng_mt19937), *rb = gsl_rng_alloc(gsl_rng_mt19937);
    uint64_t big_trials = 0, big_nodes = 0, big_max_nodes = 0;
    for (int cfg = 0; cfg < 400; cfg++) {
        uint32_t n = cfg < 360 ? 2 + (uint32_t)(lcg(&seed) % 39) : SN;
        temp_ctx = 0.05 * (double)(1 + lcg(&seed) % 100);
        memfab_params prm = {&temp_ctx, get_param};
        void *sf = o->create(n, &prm), *si = o->create(n, &prm);
        uint32_t holders = n == SN ? 20 : (uint32_t)(lcg(&seed) % (n + 1));
        uint64_t spread = 1 + lcg(&seed) % 60;
        for (uint32_t i = 0; i < n; i++)
            sampler_view(i, 0, lcg(&seed) % spread, lcg(&seed) % 4);
        for (uint32_t h = 0; h < holders; h++)
            sv[lcg(&seed) % n].prefix_blocks = 1 + (uint32_t)(lcg(&seed) % 4);
        uint32_t extra[8];
        for (int e = 0; e < 8; e++)
            extra[e] = (uint32_t)(lcg(&seed) % n);
        kv_rindex *x = kv_rindex_new_orders(n, KV_RINDEX_KV, KV_RINDEX_MAXKV);
        kv_rx_query q;
        kv_rx_work work = {0};
        sampler_query(x, n, extra, (uint32_t)(lcg(&seed) % 9), &q, &work);
        gsl_rng_set(ra, (unsigned long)cfg);
        gsl_rng_set(rb, (unsigned long)cfg);
        q.rng = rb;
        for (int m = 0; m < 50; m++) {
            uint32_t a = o->route(sf, &sreq, sv, n, gsl_draw, ra);
            uint32_t b = kv_router_index_route(o, si, &sreq, &q);
            ck_assert_msg(a == b, "config %d (n %u, T %g), draw %d: full views %u, index %u",
                          cfg, n, temp_ctx, m, a, b);
        }
        ck_assert_uint_eq(gsl_rng_get(ra), gsl_rng_get(rb));
        if (n == SN) {
            /* 20 holders at most: the search takes at most 1 + 20 x 11 nodes */
            ck_assert_uint_le(work.nodes, 50 * (1 + 20 * (10 + 1)));
            big_trials += work.trials;
            big_nodes += work.nodes;
            big_max_nodes = work.nodes > big_max_nodes ? work.nodes : big_max_nodes;
            ck_assert_uint_le(work.trials, 50 * exp(1 / temp_ctx) * 3 + 50);
            ck_assert_uint_eq(work.fallbacks, 0);
        }
        kv_rindex_free(x);
        o->destroy(sf);
        o->destroy(si);
    }
    gsl_rng_free(ra);
    gsl_rng_free(rb);
    printf("dynamo sampler, 1,000 instances, 40 configurations x 50 draws: %.2f proposals "
           "and %.2f tree nodes a draw (at most %.2f over a configuration's draws)\n",
           (double)big_trials / 2000, (double)big_nodes / 2000, (double)big_max_nodes / 50);
}
END_TEST

/* The sampler at its edges, each against Dynamo's softmax computed here
 * from the costs (chi-square, p > 10^-3 at a fixed seed; a cell of
 * probability 0 must get no draw) and, with KV figures, through the index
 * draw for draw: every instance at one cost (span 0: uniform), every
 * instance holding a prefix, none holding, overlap_weight 0, a request of
 * no blocks, temperature 10^-6 (the cheapest tie, a holder and a
 * non-holder, takes every draw; the others underflow to weight 0) and
 * 10^6, and views without KV figures (decode term outstanding tokens /
 * block_tokens, not an integer: full views only, the index declines). */
static double edge_ow, edge_t;
static double edge_param(void *ctx, const char *key, double def)
{
    if (!strcmp(key, "temperature"))
        return edge_t;
    if (!strcmp(key, "overlap_weight"))
        return edge_ow;
    return def;
}

START_TEST(dynamo_sampler_edges)
{
    enum { N = 8, M = 20000, CASES = 9 };
    const memfab_router_ops *o = kv_router_find("dynamo");
    for (int cs = 0; cs < CASES; cs++) {
        uint32_t prefix[N] = {0, 2, 0, 1, 0, 0, 3, 0};
        uint64_t used[N] = {9, 4, 12, 20, 7, 15, 30, 11}, out[N];
        for (uint32_t i = 0; i < N; i++)
            out[i] = 5 + 7 * i;
        memfab_request_view req = sreq;
        int kv = 1;
        edge_ow = 1.0;
        edge_t = 0.3;
        switch (cs) {
        case 0: /* span 0: no holder, equal KV in use */
            for (uint32_t i = 0; i < N; i++)
                prefix[i] = 0, used[i] = 6;
            break;
        case 1: /* every instance holds */
            for (uint32_t i = 0; i < N; i++)
                prefix[i] = 1 + i % 4;
            break;
        case 2: /* none holds */
            memset(prefix, 0, sizeof prefix);
            break;
        case 3:
            edge_ow = 0;
            break;
        case 4: /* no blocks: no prefix either */
            memset(prefix, 0, sizeof prefix);
            req.n_blocks = 0;
            break;
        case 5: /* tiny T: holder 1 (4 - 2 + 4 = 6) and non-holder 4 (4 + 2 = 6) tie */
            used[4] = 2;
            edge_t = 1e-6;
            break;
        case 6:
            edge_t = 1e6;
            break;
        case 7: /* no KV figures: outstanding tokens / 16 */
        case 8: /* ... and tiny T */
            kv = 0;
            edge_t = cs == 7 ? 0.2 : 1e-6;
            break;
        }
        memfab_params prm = {NULL, edge_param};
        void *sf = o->create(N, &prm), *si = o->create(N, &prm);
        ck_assert(sf && si);
        for (uint32_t i = 0; i < N; i++) {
            sampler_view(i, prefix[i], used[i], out[i]);
            if (!kv)
                sv[i].kv_total_blocks = sv[i].kv_free_blocks = 0;
        }
        kv_rindex *x = kv_rindex_new_orders(N, KV_RINDEX_KV, KV_RINDEX_MAXKV);
        kv_rx_query q;
        kv_rx_work work = {0};
        const uint32_t extra[1] = {7};
        sampler_query(x, N, extra, 1, &q, &work);
        gsl_rng *ra = gsl_rng_alloc(gsl_rng_mt19937), *rb = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(ra, 4321 + (unsigned long)cs);
        gsl_rng_set(rb, 4321 + (unsigned long)cs);
        q.rng = rb;
        uint64_t count[N] = {0};
        for (int m = 0; m < M; m++) {
            uint32_t a = o->route(sf, &req, sv, N, gsl_draw, ra);
            ck_assert_uint_lt(a, N);
            count[a]++;
            uint32_t b = kv_router_index_route(o, si, &req, &q);
            if (kv)
                ck_assert_msg(a == b, "case %d, draw %d: full views %u, index %u", cs, m, a, b);
            else
                ck_assert_uint_eq(b, KV_RX_FULL);
        }
        double c[N], lo = INFINITY, hi = -INFINITY, w[N], sum = 0, p[N];
        for (uint32_t i = 0; i < N; i++) {
            uint32_t miss = req.n_blocks > prefix[i] ? req.n_blocks - prefix[i] : 0;
            double d = kv ? (double)used[i] : (double)out[i] / 16;
            c[i] = edge_ow * miss + d;
            lo = fmin(lo, c[i]);
            hi = fmax(hi, c[i]);
        }
        for (uint32_t i = 0; i < N; i++)
            sum += w[i] = exp(-(c[i] - lo) / (hi > lo ? hi - lo : 1) / edge_t);
        for (uint32_t i = 0; i < N; i++)
            p[i] = w[i] / sum;
        double pv = chisq_p(count, p, N, M);
        printf("dynamo sampler edge case %d: chi-square p = %.3f, %.2f proposals a draw, %llu "
               "fallbacks\n",
               cs, pv, work.samples ? (double)work.trials / (double)work.samples : 0.0,
               (unsigned long long)work.fallbacks);
        ck_assert_msg(pv > 1e-3, "case %d: p-value %g", cs, pv);
        gsl_rng_free(ra);
        gsl_rng_free(rb);
        kv_rindex_free(x);
        o->destroy(sf);
        o->destroy(si);
    }
}
END_TEST

/* ---- indexed routing against the full views ------------------------------ */

/* scoped_routes_where_it_points (below): the instance index a scoped
 * router chose for each request (inst[k].index of the position k it
 * returned), and the instance names by index; the sinks check each
 * request row's instance (1) or prefill instance (2) against it. */
enum { TOP_MAX = 4096 };
static uint32_t top_chosen[TOP_MAX];
static char top_names[256][16];
static int top_on;
static uint64_t top_checked, top_bad;

static void top_check(uint64_t id, const char *name)
{
    ck_assert_uint_lt(id, TOP_MAX);
    ck_assert_uint_ne(top_chosen[id], UINT32_MAX);
    top_checked++;
    top_bad += strcmp(name, top_names[top_chosen[id]]) != 0;
}

typedef struct hsink {
    uint64_t h;          /* FNV-1a over every request row and metric */
    uint64_t rows;
    double rejected_early; /* the workload's metric */
} hsink;

static void mix(hsink *k, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        k->h = (k->h ^ b[i]) * 1099511628211ull;
}

static int h_metric(void *ctx, const char *scope, const char *name, double v, const char *unit)
{
    hsink *k = ctx;
    if (!strcmp(scope, "workload") && !strcmp(name, "rejected_early"))
        k->rejected_early = v;
    mix(k, scope, strlen(scope));
    mix(k, name, strlen(name));
    mix(k, &v, sizeof v);
    return 0;
}

static int h_request(void *ctx, uint64_t id, const char *session, const char *instance,
                     sim_time arrival, sim_time first, sim_time finish, uint64_t in, uint64_t out,
                     uint64_t cached)
{
    hsink *k = ctx;
    if (top_on == 1)
        top_check(id, instance);
    uint64_t f[7] = {id, arrival, first, finish, in, out, cached};
    mix(k, f, sizeof f);
    mix(k, instance, strlen(instance));
    k->rows++;
    return 0;
}

static int h_request_pd(void *ctx, uint64_t id, const char *session, const char *instance,
                        sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                        uint64_t out, uint64_t cached, const char *prefill, uint64_t kv_bytes,
                        sim_time kv_wait, sim_time kv_transfer)
{
    hsink *k = ctx;
    if (top_on == 2)
        top_check(id, prefill);
    uint64_t f[3] = {kv_bytes, kv_wait, kv_transfer};
    mix(k, f, sizeof f);
    mix(k, prefill, strlen(prefill));
    return h_request(ctx, id, session, instance, arrival, first, finish, in, out, cached);
}

/* Run text with the routing index on or off; the route stats in *rs. */
static void run(const char *text, int index, hsink *k, serving_route_stats *rs)
{
    sim_err err;
    sim_err_clear(&err);
    memset(k, 0, sizeof *k);
    k->h = 1469598103934665603ull;
    scn_doc *doc = scn_load_string("rindex.yaml", text, &err);
    ck_assert_msg(doc != NULL, "%s", err.msg);
    sim *s = sim_create();
    sim_sink snk = {k, h_metric, NULL, NULL, h_request, NULL, NULL, h_request_pd, NULL, NULL};
    sim_set_sink(s, &snk);
    static const char *const sections[] = {"workload", "kv", "router", "fabric", NULL};
    int rc = sim_build(s, doc, memfab_models, sections, &err);
    if (!rc)
        rc = serving_build(s, doc, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    serving_set_route_index(sim_find(s, "workload"), index);
    rc = sim_start(s, &err);
    if (!rc)
        rc = sim_run(s, sim_stop_time(s));
    if (!rc)
        rc = sim_finish(s, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    *rs = *serving_get_route_stats(sim_find(s, "workload"));
    sim_destroy(s);
    scn_free(doc);
}

/* Multi-turn sessions from `groups` prefix groups on n instances. */
static void scenario_g(char *buf, size_t len, uint32_t n, uint32_t groups, uint32_t requests,
                       const char *policy, int sticky)
{
    snprintf(buf, len,
             "name: rindex\nseed: 3\nstop: trace_end\n"
             "workload:\n"
             "  synthetic: {arrivals: poisson, rate: %u/s, groups: %u, prefix: 1024 tokens,\n"
             "              input: {dist: lognormal, mean: 200 tokens, sigma: 0.5},\n"
             "              output: {dist: lognormal, mean: 20 tokens, sigma: 0.5},\n"
             "              turns: 3, think: {dist: exponential, mean: 2 s}, requests: %u}\n"
             "  instances: {count: %u, model: llama3-8b, gpu: h100}\n"
             "kv: {block_tokens: 128, eviction: lru, tiers: [{name: hbm, capacity: 1 GiB},\n"
             "     {name: dram, capacity: 2 GiB, bandwidth: 25 GB/s, latency: 10 us}]}\n"
             "router: {policy: %s, sticky: %s}\n",
             2 * n, groups, requests, n, policy, sticky ? "true" : "false");
}

/* Five prefix groups, 1,500 requests. */
static void scenario(char *buf, size_t len, uint32_t n, const char *policy, int sticky)
{
    scenario_g(buf, len, n, 5, 1500, policy, sticky);
}

/* Each policy (with parameters that reach every branch: sglang balancing
 * and routing by cache, dynamo and llmd with other weights). */
static const char *const policies[] = {
    "round_robin",
    "random",
    "least_loaded",
    "prefix_affinity",
    "dynamo",
    "dynamo, overlap_weight: 0.3",
    "sglang",
    "sglang, balance_abs_threshold: 2, balance_rel_threshold: 1.5, cache_threshold: 0.2",
    "llmd",
    "llmd, load_weight: 2.5",
};
enum { NPOL = sizeof policies / sizeof policies[0] };

START_TEST(indexed_equals_full_views)
{
    const char *policy = policies[_i / 2];
    int sticky = _i % 2;
    char text[2048];
    scenario(text, sizeof text, 12, policy, sticky);
    hsink a, b;
    serving_route_stats ra, rb;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_uint_eq(a.rows, 1500);
    ck_assert_uint_eq(b.rows, 1500);
    ck_assert_msg(a.h == b.h, "%s sticky %d: results differ with the index", policy, sticky);
    ck_assert_uint_eq(ra.routed, 1500);
    ck_assert_uint_eq(ra.indexed, sticky ? ra.indexed : 1500);
    ck_assert_uint_gt(ra.indexed, 0);
    ck_assert_uint_eq(rb.indexed, 0);
    ck_assert_uint_eq(rb.views, 12 * 1500); /* the full path: n views a request */
}
END_TEST

/* Many instances: 192 of them, 64 prefix groups, 4,000 requests. */
START_TEST(indexed_equals_full_views_many_instances)
{
    static const char *const pol[] = {"prefix_affinity", "dynamo", "sglang", "llmd"};
    const char *policy = pol[_i];
    char text[2048];
    scenario_g(text, sizeof text, 192, 64, 4000, policy, 0);
    hsink a, b;
    serving_route_stats ra, rb;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_uint_eq(a.rows, 4000);
    ck_assert_msg(a.h == b.h, "%s, 192 instances: results differ with the index", policy);
    ck_assert_uint_eq(ra.indexed, 4000);
    ck_assert_uint_eq(rb.views, 192 * 4000);
    printf("%s, 192 instances: %.1f views a request with the index, 192 without\n", policy,
           (double)ra.views / 4000);
    /* the holders of a group's first block and a root or two, not all 192 */
    ck_assert_msg(ra.views < 4000 * 48, "%s: %llu views", policy, (unsigned long long)ra.views);
}
END_TEST

/* dynamo's index needs fl(w x n_blocks) + max KV blocks < 2^51 to be exact;
 * beyond it (a weight of 10^15) a request builds every view, and the
 * results stay those of the full views. */
/* Prefill/decode disaggregation on np prefill, nm mixed and nd decode
 * instances (interleaved), `groups` prefix groups, `requests` requests,
 * router `policy` (conductor chooses both; any other the prefill-capable
 * instance, and decode_policy the decode one); an HBM tier of `dcap` per
 * instance: 1 GiB is 512 blocks of 16 tokens x 128 KiB (Llama-3-8B: 32
 * layers x 8 KV heads x 128 x 2 x 2 B a token), a few prompts' worth, so
 * conductor's least-loaded decode instance often lacks room while another
 * has it (the search below the root); 8 GiB leaves room nearly always. */
static void scenario_pdx(char *buf, size_t len, uint32_t np, uint32_t nm, uint32_t nd,
                         const char *policy, const char *decode_policy, const char *dcap,
                         uint32_t groups, uint32_t requests)
{
    int o = snprintf(buf, len,
                     "name: rindex-pd\nseed: 5\nstop: trace_end\n"
                     "workload:\n"
                     "  synthetic: {arrivals: poisson, rate: %u/s, groups: %u, prefix: 1024 tokens,\n"
                     "              input: {dist: lognormal, mean: 400 tokens, sigma: 0.5},\n"
                     "              output: {dist: lognormal, mean: 40 tokens, sigma: 0.5},\n"
                     "              turns: 3, think: {dist: exponential, mean: 2 s}, requests: %u}\n"
                     "  disaggregation: {transfer: whole, bandwidth: 25 GB/s, latency: 10 us,\n"
                     "                   decode_policy: %s}\n"
                     "kv: {block_tokens: 16, eviction: lru, tiers: [{name: hbm, capacity: %s},\n"
                     "     {name: dram, capacity: 2 GiB, bandwidth: 25 GB/s, latency: 10 us}]}\n"
                     "router: {policy: %s}\n"
                     "components:\n",
                     4 * (np + nm + nd), groups, requests, decode_policy, dcap, policy);
    /* prefill (some mixed) and decode instances interleaved, so index
     * positions differ from instance indexes on both sides */
    for (uint32_t i = 0, j = 0; i < np + nm || j < nd;) {
        if (i < np + nm) {
            o += snprintf(buf + o, len - (size_t)o,
                          "  - {name: p%u, type: llm_instance, model: llama3-8b, role: %s}\n", i,
                          i % 3 == 1 && i / 3 < nm ? "mixed" : "prefill");
            i++;
        }
        if (j < nd && (i >= np + nm || j * (np + nm) < i * nd)) {
            o += snprintf(buf + o, len - (size_t)o,
                          "  - {name: d%u, type: llm_instance, model: llama3-8b, role: decode}\n",
                          j);
            j++;
        }
    }
    ck_assert((size_t)o < len);
}

static void scenario_pd(char *buf, size_t len, uint32_t np, uint32_t nd, const char *params,
                        const char *dcap)
{
    char policy[256];
    snprintf(policy, sizeof policy, "conductor%s", params);
    scenario_pdx(buf, len, np, 0, nd, policy, "least_loaded", dcap, 5, PD_REQ);
}

/* Conductor with the index (prefill: llmd's proof over the prefill
 * instances; decode: the (waiting, outstanding, index) root when it has
 * room, kv_router.c "Indexed conductor") and without: every request row
 * (instance, prefill instance, times, KV bytes) and metric the same, with
 * and without early rejection. */
static const char *const pd_params[] = {
    "",
    ", load_weight: 2.5",
    ", reject_waiting: 2",
    ", load_weight: 0, reject_waiting: 1",
};

START_TEST(conductor_indexed_equals_full_views)
{
    const char *params = pd_params[_i % 4];
    const char *dcap = _i / 4 ? "1 GiB" : "8 GiB";
    char text[4096];
    scenario_pd(text, sizeof text, 6, 5, params, dcap);
    hsink a, b;
    serving_route_stats ra, rb;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_uint_eq(a.rows, PD_REQ);
    ck_assert_uint_eq(b.rows, PD_REQ);
    ck_assert_msg(a.h == b.h, "conductor%s hbm %s: results differ with the index", params,
                  dcap);
    ck_assert_uint_eq(ra.routed, PD_REQ);
    ck_assert_uint_eq(ra.indexed, PD_REQ); /* every request, the room search included */
    ck_assert_uint_eq(ra.decode_indexed, PD_REQ);
    ck_assert_uint_eq(rb.indexed, 0);
    ck_assert_uint_eq(rb.decode_indexed, 0);
    ck_assert_uint_eq(rb.views, 11 * PD_REQ);
    if (_i == 7) /* early rejection reached */
        ck_assert(a.rejected_early > 0);
    /* the least-loaded decode instance lacked room while another had it:
     * these requests built all 11 views before the room search */
    ck_assert_uint_gt(ra.decode_searches, 0);
    /* the holders, the prefill root and the decode choice: never all 11 */
    ck_assert_uint_le(ra.views, ra.holders + 2 * PD_REQ);
    fprintf(stderr, "conductor%s hbm %s: %llu of %u indexed, %llu views (full: %llu), "
            "%llu room searches, %.2f nodes each (at most %llu)\n",
            params, dcap, (unsigned long long)ra.indexed, PD_REQ, (unsigned long long)ra.views,
            (unsigned long long)rb.views, (unsigned long long)ra.decode_searches,
            ra.decode_searches ? (double)ra.decode_walk / (double)ra.decode_searches : 0.0,
            (unsigned long long)ra.decode_walk_max);
}
END_TEST

/* Conductor at scale where the room search runs most: 12 prefill and 36
 * decode instances, 16 groups, 3,000 requests, 8 GiB HBM (the decode
 * stores fill with cached blocks during the run; with less HBM they are
 * full, none has room and the root is the choice, with more the root has
 * room: 1, 2, 4, 8 and 12 GiB give 164, 389, 844, 1152 and 795 such
 * requests). Before the room search each of these requests built all 48
 * views; now the index decides every request, the results are the full
 * views', and the search takes a few tree nodes, not a scan of 36. */
START_TEST(conductor_room_search_at_scale)
{
    static char text[16384];
    scenario_pdx(text, sizeof text, 12, 0, 36, "conductor", "least_loaded", "8 GiB", 16, 3000);
    hsink a, b;
    serving_route_stats ra, rb;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_uint_eq(a.rows, 3000);
    ck_assert_msg(a.h == b.h, "conductor, 12 + 36 instances, 8 GiB: results differ");
    ck_assert_uint_eq(ra.indexed, 3000);
    ck_assert_uint_eq(rb.views, 48 * 3000);
    ck_assert_uint_gt(ra.decode_searches, 900);
    printf("conductor 12 + 36, 8 GiB: %llu of 3000 searched below the root, %.2f nodes each"
           " (at most %llu), %.1f views a request (full: 48)\n",
           (unsigned long long)ra.decode_searches,
           (double)ra.decode_walk / (double)ra.decode_searches,
           (unsigned long long)ra.decode_walk_max, (double)ra.views / 3000);
    ck_assert_uint_lt(ra.decode_walk, ra.decode_searches * 36 / 2); /* well below a scan */
}
END_TEST

/* An ordinary router with disaggregation (scenarios/pd-disaggregation.yaml:
 * prefix_affinity over the prefill instances, the decode instance by
 * workload.disaggregation.decode_policy): the router's index covers the
 * prefill-capable instances (prefill and mixed, never decode: their blocks
 * are no candidates on the full views either), the decode choice comes
 * from the decode index (the cyclic tie-break of pd_pick_decode). Every
 * request row and metric equals the full views', for every policy, both
 * decode policies, with and without session stickiness, on 6 prefill + 2
 * mixed + 5 decode instances interleaved. */
static const char *const pd_ordinary[] = {
    "prefix_affinity",
    "prefix_affinity, sticky: true",
    "least_loaded",
    "round_robin",
    "random",
    "dynamo",
    "sglang, balance_abs_threshold: 2, balance_rel_threshold: 1.5, cache_threshold: 0.2",
    "llmd, sticky: true",
};
enum { NPDO = sizeof pd_ordinary / sizeof pd_ordinary[0] };

START_TEST(disagg_ordinary_router_indexed_equals_full_views)
{
    const char *policy = pd_ordinary[_i / 2];
    const char *dpol = _i % 2 ? "kv_room" : "least_loaded";
    static char text[8192];
    scenario_pdx(text, sizeof text, 6, 2, 5, policy, dpol, "2 GiB", 5, PD_REQ);
    hsink a, b;
    serving_route_stats ra, rb;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_uint_eq(a.rows, PD_REQ);
    ck_assert_uint_eq(b.rows, PD_REQ);
    ck_assert_msg(a.h == b.h, "%s, decode %s: results differ with the index", policy, dpol);
    ck_assert_uint_eq(ra.routed, PD_REQ);
    if (!strstr(policy, "sticky"))
        ck_assert_uint_eq(ra.indexed, PD_REQ);
    ck_assert_uint_gt(ra.indexed, 0);
    ck_assert_uint_eq(rb.indexed, 0);
    ck_assert_uint_eq(rb.decode_indexed, 0);
    ck_assert_uint_eq(rb.views, 8 * PD_REQ); /* the full path: every prefill-capable view */
    /* every decode choice from the index: the requests routed to a
     * prefill instance (the mixed ones decode themselves) */
    ck_assert_uint_gt(ra.decode_indexed, PD_REQ / 2);
    ck_assert_uint_le(ra.decode_indexed, PD_REQ);
    ck_assert_uint_le(ra.views, ra.holders + 2 * PD_REQ);
}
END_TEST


/* The same at a larger scale (the shape of pd-disaggregation.yaml: equal
 * prefill and decode pools): 24 + 24 instances, 64 groups, NREQ
 * requests; a request builds the views of its first block's holders and
 * one or two more, not 24. */
START_TEST(disagg_ordinary_router_many_instances)
{
    static const char *const pol[] = {"prefix_affinity", "llmd", "dynamo", "sglang"};
    const char *policy = pol[_i];
    const char *dpol = _i % 2 ? "kv_room" : "least_loaded";
    static char text[16384];
    scenario_pdx(text, sizeof text, 24, 0, 24, policy, dpol, "8 GiB", 64, NREQ);
    hsink a, b;
    serving_route_stats ra, rb;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_uint_eq(a.rows, NREQ);
    ck_assert_msg(a.h == b.h, "%s, decode %s, 24 + 24: results differ with the index", policy,
                  dpol);
    ck_assert_uint_eq(ra.indexed, NREQ);
    ck_assert_uint_eq(ra.decode_indexed, NREQ);
    ck_assert_uint_eq(rb.views, 24 * NREQ);
    printf("%s, decode %s, 24 + 24: %.2f views a request with the index, 24 without\n", policy,
           dpol, (double)ra.views / NREQ);
    ck_assert_uint_le(ra.views, ra.holders + 2 * NREQ);
    ck_assert_uint_lt(ra.views, NREQ * 12);
}
END_TEST

/* Most prefix blocks, then fewest outstanding tokens, then lowest index:
 * the rule of the test plug-in routers below. */
static uint32_t most_prefix_then_lightest(const memfab_instance_view *inst, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (inst[i].prefix_blocks > inst[best].prefix_blocks ||
            (inst[i].prefix_blocks == inst[best].prefix_blocks &&
             inst[i].outstanding_tokens < inst[best].outstanding_tokens))
            best = i;
    return best;
}

/* A plug-in router (registered in-process, as a loaded .so would be): most
 * prefix blocks, then fewest outstanding tokens, then lowest index.
 * serving.c has no indexed path for it, so every request builds the views
 * of all prefill-capable instances. */
static uint32_t plug_route(void *st, const memfab_request_view *req,
                           const memfab_instance_view *inst, uint32_t n,
                           double (*uniform)(void *), void *rng)
{
    return most_prefix_then_lightest(inst, n);
}
static void *plug_create(uint32_t n, const memfab_params *p) { return malloc(1); }
static const memfab_router_ops plug_ops = {"rindex_test_plugin", plug_create, free, plug_route};

static void register_plug(void)
{
    static const memfab_router_ops *const routers[] = {&plug_ops, NULL};
    static const memfab_plugin plug = {MEMFAB_PLUGIN_ABI, "check_rindex", NULL, routers, NULL,
                                       NULL};
    sim_err err;
    sim_err_clear(&err);
    ck_assert_msg(kv_register_plugin(&plug, &err) == 0, "%s", err.msg);
}

/* The decode choice comes from the decode index whatever the prefill
 * router is: a plug-in (no index of its own), dynamo sampling
 * (temperature > 0), dynamo whose costs leave the index's exact range (it
 * builds every prefill view), and a single prefill instance (nothing for
 * the router to choose). Each gives the full views' request rows and
 * metrics, and with the index no decode choice scanned the decode
 * instances (decode_scanned 0; without it every choice did). */
static const struct {
    const char *policy;
    uint32_t np, nd;
} dec_cases[] = {
    {"rindex_test_plugin", 6, 5},
    {"rindex_test_plugin", 8, 40},
    {"dynamo, temperature: 0.5", 6, 5},
    {"dynamo, overlap_weight: 1e15", 6, 5},
    {"prefix_affinity", 1, 7},
};
enum { NDEC = sizeof dec_cases / sizeof dec_cases[0] };

START_TEST(decode_index_whatever_the_router)
{
    register_plug();
    const char *dpol = _i % 2 ? "kv_room" : "least_loaded";
    const char *policy = dec_cases[_i / 2].policy;
    uint32_t np = dec_cases[_i / 2].np, nd = dec_cases[_i / 2].nd;
    static char text[16384];
    scenario_pdx(text, sizeof text, np, 0, nd, policy, dpol, "2 GiB", 5, PD_REQ);
    hsink a, b;
    serving_route_stats ra, rb;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_uint_eq(a.rows, PD_REQ);
    ck_assert_msg(a.h == b.h, "%s, %u + %u, decode %s: results differ with the index", policy,
                  np, nd, dpol);
    ck_assert_uint_eq(ra.decode_indexed, PD_REQ); /* every request decodes on a decode instance */
    ck_assert_uint_eq(ra.decode_scanned, 0);
    ck_assert_uint_eq(rb.decode_indexed, 0);
    ck_assert_uint_eq(rb.decode_scanned, PD_REQ);
    if (!strcmp(policy, "rindex_test_plugin")) {
        ck_assert_uint_eq(ra.indexed, 0); /* the prefill choice: every view */
        ck_assert_uint_eq(ra.views, (uint64_t)np * PD_REQ);
    }
}
END_TEST

/* A scoped plug-in router (plugin.h version 3, "Scoped routing"): reads
 * the views of the instances with a prefix hit and of the 3 lightest. Its
 * choice: with probability 1/8 (a draw from the router's stream) a
 * uniform one of the views it got, else the most prefix blocks, then the
 * fewest outstanding tokens, then the lowest index. It checks that the
 * views come in ascending instance order and records the most it got. */
static uint32_t scoped_max_views;
static int scoped_unsorted;
static uint32_t scoped_route(void *st, const memfab_request_view *req,
                             const memfab_instance_view *inst, uint32_t n,
                             double (*uniform)(void *), void *rng)
{
    scoped_max_views = n > scoped_max_views ? n : scoped_max_views;
    for (uint32_t i = 1; i < n; i++)
        scoped_unsorted |= inst[i].index <= inst[i - 1].index;
    if (uniform(rng) < 0.125) {
        uint32_t k = (uint32_t)(uniform(rng) * n);
        return k < n ? k : n - 1;
    }
    return most_prefix_then_lightest(inst, n);
}
static const memfab_router_ops scoped_ops = {"rindex_test_scoped", plug_create, free,
                                             scoped_route};

static void register_scoped(void)
{
    static const memfab_router_ops *const routers[] = {&scoped_ops, NULL};
    static const memfab_router_scope scope = {&scoped_ops, 3};
    static const memfab_router_scope *const scopes[] = {&scope, NULL};
    static const memfab_plugin plug = {3, "check_rindex_scoped", NULL, routers, NULL, scopes};
    sim_err err;
    sim_err_clear(&err);
    ck_assert_msg(kv_register_plugin(&plug, &err) == 0, "%s", err.msg);
    ck_assert_ptr_eq(kv_router_scope(&scoped_ops), &scope);
}

/* The scoped plug-in with the index and without: the same request rows
 * and metrics (the same views in the same order, the same draws), on 12
 * and 192 instances, sticky or not, and disaggregated (6 prefill + 2
 * mixed + 5 decode); with the index a request builds the holders' views
 * and at most 3 + 1 more, and the router never gets more than the
 * instances with a hit and 3. */
START_TEST(scoped_plugin_indexed_equals_full_views)
{
    register_scoped();
    static char text[16384];
    uint32_t n = _i % 3 == 0 ? 12 : _i % 3 == 1 ? 192 : 13;
    int sticky = _i / 3;
    if (n == 13)
        scenario_pdx(text, sizeof text, 6, 2, 5, sticky ? "rindex_test_scoped, sticky: true"
                                                        : "rindex_test_scoped",
                     "least_loaded", "2 GiB", 5, 1500);
    else
        scenario_g(text, sizeof text, n, n == 192 ? 64 : 5, 1500, "rindex_test_scoped", sticky);
    uint32_t np = n == 13 ? 8 : n; /* the instances the router chooses among */
    hsink a, b;
    serving_route_stats ra, rb;
    scoped_max_views = 0;
    scoped_unsorted = 0;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_uint_eq(a.rows, 1500);
    ck_assert_msg(a.h == b.h, "scoped plug-in, %u instances, sticky %d: results differ", n,
                  sticky);
    ck_assert(!scoped_unsorted);
    if (!sticky)
        ck_assert_uint_eq(ra.indexed, 1500);
    ck_assert_uint_gt(ra.indexed, 0);
    ck_assert_uint_eq(rb.indexed, 0);
    ck_assert_uint_eq(rb.views, (uint64_t)np * 1500);
    ck_assert_uint_le(ra.views, ra.holders + 4 * 1500);
    printf("scoped plug-in, %u instances%s: %.2f views a request with the index, %u without; "
           "at most %u views given to the router\n",
           np, sticky ? ", sticky" : "", (double)ra.views / 1500, np, scoped_max_views);
    if (n == 192)
        ck_assert_uint_lt(ra.views, 1500 * 24);
}
END_TEST

/* The position a scoped router returns names the view it chose: a
 * router that takes, among the views it got, the one with the highest
 * instance index (or with probability 1/4 a uniform one, or a position
 * past the end, which counts as the last view as for every router)
 * sends each request to inst[k].index, with the index and without, on
 * 12 instances and disaggregated (6 prefill + 5 decode interleaved, so
 * index positions differ from instance indexes). */
static uint32_t top_route(void *st, const memfab_request_view *req,
                          const memfab_instance_view *inst, uint32_t n,
                          double (*uniform)(void *), void *rng)
{
    uint32_t k = n - 1, ret;
    double u = uniform(rng);
    if (u < 0.25)
        k = (uint32_t)(uniform(rng) * n) % n;
    ret = u > 0.9 ? n + 7 : k; /* out of range: the last view */
    if (u > 0.9)
        k = n - 1;
    if (req->id < TOP_MAX)
        top_chosen[req->id] = inst[k].index;
    return ret;
}
static const memfab_router_ops top_ops = {"rindex_test_top", plug_create, free, top_route};

START_TEST(scoped_routes_where_it_points)
{
    static const memfab_router_ops *const routers[] = {&top_ops, NULL};
    static const memfab_router_scope scope = {&top_ops, 2};
    static const memfab_router_scope *const scopes[] = {&scope, NULL};
    static const memfab_plugin plug = {3, "check_rindex_top", NULL, routers, NULL, scopes};
    sim_err err;
    sim_err_clear(&err);
    ck_assert_msg(kv_register_plugin(&plug, &err) == 0, "%s", err.msg);
    static char text[16384];
    int pd = _i / 2;
    uint32_t n = 0;
    if (pd) {
        scenario_pdx(text, sizeof text, 6, 0, 5, "rindex_test_top", "least_loaded", "2 GiB", 5,
                     1500);
        for (const char *c = text; (c = strstr(c, "- {name: ")) != NULL; c += 9) {
            ck_assert_uint_lt(n, 256);
            sscanf(c + 9, "%15[^,]", top_names[n++]);
        }
        ck_assert_uint_eq(n, 11);
    } else {
        scenario_g(text, sizeof text, 12, 5, 1500, "rindex_test_top", 0);
        for (; n < 12; n++)
            snprintf(top_names[n], sizeof top_names[n], "inst%u", n);
    }
    memset(top_chosen, 0xff, sizeof top_chosen);
    top_on = pd ? 2 : 1;
    top_checked = top_bad = 0;
    hsink a;
    serving_route_stats ra;
    run(text, _i % 2, &a, &ra);
    top_on = 0;
    ck_assert_uint_eq(a.rows, 1500);
    ck_assert_uint_eq(top_checked, 1500);
    ck_assert_msg(top_bad == 0, "%llu of 1500 requests not on the instance the router chose",
                  (unsigned long long)top_bad);
    ck_assert_uint_eq(ra.indexed, _i % 2 ? 1500 : 0);
}
END_TEST

/* Binary compatibility: a version-2 plug-in's table ends before
 * router_scopes (it was built against the version-2 header); memfab must
 * not read past it. The table is copied into an allocation of exactly the
 * version-2 size (ASan would report a read beyond it), registers, and its
 * router sees every view. A version-3 scope naming a router the plug-in
 * does not list, or asking for 0 instances, is refused. */
static uint32_t v2_route(void *st, const memfab_request_view *req,
                         const memfab_instance_view *inst, uint32_t n,
                         double (*uniform)(void *), void *rng)
{
    return plug_route(st, req, inst, n, uniform, rng);
}
static const memfab_router_ops v2_ops = {"rindex_test_v2", plug_create, free, v2_route};

START_TEST(plugin_v2_table_unchanged)
{
    static const memfab_router_ops *const routers[] = {&v2_ops, NULL};
    memfab_plugin full = {2, "check_rindex_v2", NULL, routers, NULL, NULL};
    size_t v2size = offsetof(memfab_plugin, router_scopes);
    memfab_plugin *v2 = malloc(v2size);
    ck_assert_ptr_nonnull(v2);
    memcpy(v2, &full, v2size);
    sim_err err;
    sim_err_clear(&err);
    ck_assert_msg(kv_register_plugin(v2, &err) == 0, "%s", err.msg);
    free(v2);
    ck_assert_ptr_null(kv_router_scope(&v2_ops));
    char text[2048];
    scenario(text, sizeof text, 12, "rindex_test_v2", 0);
    hsink a;
    serving_route_stats ra;
    run(text, 1, &a, &ra);
    ck_assert_uint_eq(a.rows, 1500);
    ck_assert_uint_eq(ra.indexed, 0);
    ck_assert_uint_eq(ra.views, 12 * 1500);
    /* bad scopes */
    static const memfab_router_scope stray = {&plug_ops, 2}, zero = {&v2_ops, 0};
    static const memfab_router_scope *const s1[] = {&stray, NULL}, *const s2[] = {&zero, NULL};
    memfab_plugin b1 = {3, "bad1", NULL, routers, NULL, s1};
    memfab_plugin b2 = {3, "bad2", NULL, routers, NULL, s2};
    ck_assert_int_eq(kv_register_plugin(&b1, &err), SIM_EINVAL);
    ck_assert_msg(strstr(err.msg, "scope"), "%s", err.msg);
    ck_assert_int_eq(kv_register_plugin(&b2, &err), SIM_EINVAL);
    ck_assert_ptr_null(kv_router_scope(&v2_ops));
}
END_TEST

/* kv_rindex_k_least: the first k instances in the min tree's order equal
 * a sorted scan, for random figures with many ties, every order, k from 1
 * to n; at most k (log2 p + 1) nodes taken. */
START_TEST(k_least_matches_a_sort)
{
    uint64_t seed = 5;
    static const int orders[] = {KV_RINDEX_LOAD, KV_RINDEX_KV, KV_RINDEX_REQS};
    for (int o = 0; o < 3; o++)
        for (uint32_t n = 1; n <= 70; n += 3) {
            kv_rindex *x = kv_rindex_new_orders(n, orders[o], KV_RINDEX_NONE);
            uint64_t *fig[3];
            for (int f = 0; f < 3; f++)
                fig[f] = calloc(n, sizeof *fig[f]);
            uint32_t levels = 0;
            while ((1u << levels) < n)
                levels++;
            uint32_t out[70], want[70];
            for (int step = 0; step < 60; step++) {
                for (int u = 0; u < 5; u++) {
                    uint32_t i = (uint32_t)(lcg(&seed) % n);
                    for (int f = 0; f < 3; f++)
                        fig[f][i] = lcg(&seed) % 4;
                    kv_rindex_set(x, i, fig[0][i], fig[1][i], fig[2][i]);
                }
                const uint64_t *cf[3] = {fig[0], fig[1], fig[2]};
                for (uint32_t i = 0; i < n; i++) { /* insertion sort by the order */
                    uint32_t j = i;
                    for (; j > 0 && scan_before(orders[o], cf, i, want[j - 1]); j--)
                        want[j] = want[j - 1];
                    want[j] = i;
                }
                uint32_t k = 1 + (uint32_t)(lcg(&seed) % n);
                uint64_t was = kv_rindex_walked(x);
                ck_assert_uint_eq(kv_rindex_k_least(x, k, out), k);
                ck_assert_uint_le(kv_rindex_walked(x) - was, (uint64_t)k * (levels + 1));
                for (uint32_t j = 0; j < k; j++)
                    ck_assert_uint_eq(out[j], want[j]);
            }
            for (int f = 0; f < 3; f++)
                free(fig[f]);
            kv_rindex_free(x);
        }
}
END_TEST

/* kv_rindex_first_except: the first instance in the second tree's order
 * outside a sorted skip list equals a scan, for random figures with many
 * ties, every max order, n from 1 to 70, skip lists from empty to every
 * instance (then UINT32_MAX); at most 1 + |skip| (log2 p + 1) nodes
 * taken. Without a second tree: UINT32_MAX. kv_rindex_k_least's edges: k
 * = 0 gives nothing, k >= n every instance in the order (n = 1 too). */
START_TEST(first_except_matches_a_scan)
{
    uint64_t seed = 17;
    static const int orders[] = {KV_RINDEX_MAXLOAD, KV_RINDEX_MAXKV, KV_RINDEX_MAXREQS};
    for (int o = 0; o < 3; o++)
        for (uint32_t n = 1; n <= 70; n += 3) {
            kv_rindex *x = kv_rindex_new_orders(n, KV_RINDEX_LOAD, orders[o]);
            ck_assert_ptr_nonnull(x);
            uint64_t *fig[3];
            for (int f = 0; f < 3; f++)
                fig[f] = calloc(n, sizeof *fig[f]);
            uint32_t levels = 0;
            while ((1u << levels) < n)
                levels++;
            uint32_t skip[70], out[80], want[70];
            const uint64_t *cf[3] = {fig[0], fig[1], fig[2]};
            for (int step = 0; step < 80; step++) {
                for (int u = 0; u < 5; u++) {
                    uint32_t i = (uint32_t)(lcg(&seed) % n);
                    for (int f = 0; f < 3; f++)
                        fig[f][i] = lcg(&seed) % 4;
                    kv_rindex_set(x, i, fig[0][i], fig[1][i], fig[2][i]);
                }
                /* every instance, none, or each with probability 1/4 .. 3/4 */
                uint32_t ns = 0, mode = (uint32_t)(lcg(&seed) % 5);
                for (uint32_t i = 0; i < n; i++)
                    if (mode == 0 || (mode > 1 && lcg(&seed) % 4 < mode - 1))
                        skip[ns++] = i;
                uint32_t best = UINT32_MAX;
                for (uint32_t i = 0, j = 0; i < n; i++) {
                    if (j < ns && skip[j] == i) {
                        j++;
                        continue;
                    }
                    if (best == UINT32_MAX || scan_before(orders[o], cf, i, best))
                        best = i;
                }
                uint64_t was = kv_rindex_walked(x);
                ck_assert_uint_eq(kv_rindex_first_except(x, skip, ns), best);
                ck_assert_uint_le(kv_rindex_walked(x) - was, 1 + (uint64_t)ns * (levels + 1));
                /* k_least: 0, and n and beyond */
                ck_assert_uint_eq(kv_rindex_k_least(x, 0, out), 0);
                for (uint32_t i = 0; i < n; i++) {
                    uint32_t j = i;
                    for (; j > 0 && scan_before(KV_RINDEX_LOAD, cf, i, want[j - 1]); j--)
                        want[j] = want[j - 1];
                    want[j] = i;
                }
                uint32_t k = n + (uint32_t)(lcg(&seed) % 3);
                ck_assert_uint_eq(kv_rindex_k_least(x, k, out), n);
                for (uint32_t j = 0; j < n; j++)
                    ck_assert_uint_eq(out[j], want[j]);
            }
            for (int f = 0; f < 3; f++)
                free(fig[f]);
            kv_rindex_free(x);
            x = kv_rindex_new_orders(n, KV_RINDEX_KV, KV_RINDEX_NONE);
            ck_assert_uint_eq(kv_rindex_first_except(x, NULL, 0), UINT32_MAX);
            kv_rindex_free(x);
        }
}
END_TEST

/* A version-3 plug-in listing two scopes for one of its routers is
 * refused (which of the two would hold is otherwise the registration
 * order's accident), and registers nothing; so is a scope naming no
 * router. The same plug-in registered twice is accepted. */
static const memfab_router_ops dup_ops = {"rindex_test_dupscope", plug_create, free, plug_route};

START_TEST(plugin_scope_listed_twice_refused)
{
    static const memfab_router_ops *const routers[] = {&dup_ops, NULL};
    static const memfab_router_scope a = {&dup_ops, 2}, b = {&dup_ops, 5}, none = {NULL, 2};
    static const memfab_router_scope *const two[] = {&a, &b, NULL}, *const twice[] = {&a, &a, NULL},
                                            *const nul[] = {&none, NULL}, *const one[] = {&a, NULL};
    memfab_plugin p2 = {3, "dup2", NULL, routers, NULL, two};
    memfab_plugin pt = {3, "dup_same", NULL, routers, NULL, twice};
    memfab_plugin pn = {3, "dup_null", NULL, routers, NULL, nul};
    memfab_plugin p1 = {3, "dup_ok", NULL, routers, NULL, one};
    sim_err err;
    sim_err_clear(&err);
    ck_assert_int_eq(kv_register_plugin(&p2, &err), SIM_EINVAL);
    ck_assert_msg(strstr(err.msg, "'rindex_test_dupscope' has two scopes"), "%s", err.msg);
    ck_assert_ptr_null(kv_router_scope(&dup_ops));
    ck_assert_ptr_null(kv_router_find("rindex_test_dupscope"));
    sim_err_clear(&err);
    ck_assert_int_eq(kv_register_plugin(&pt, &err), SIM_EINVAL);
    ck_assert_msg(strstr(err.msg, "has two scopes"), "%s", err.msg);
    ck_assert_ptr_null(kv_router_find("rindex_test_dupscope"));
    sim_err_clear(&err);
    ck_assert_int_eq(kv_register_plugin(&pn, &err), SIM_EINVAL);
    ck_assert_msg(strstr(err.msg, "names no router"), "%s", err.msg);
    ck_assert_int_eq(kv_register_plugin(&p1, &err), 0);
    ck_assert_int_eq(kv_register_plugin(&p1, &err), 0);
    ck_assert_ptr_eq(kv_router_scope(&dup_ops), &a);
}
END_TEST

START_TEST(dynamo_beyond_exact_range_builds_every_view)
{
    char text[2048];
    scenario(text, sizeof text, 8, "dynamo, overlap_weight: 1e15", 0);
    hsink a, b;
    serving_route_stats ra, rb;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_msg(a.h == b.h, "results differ with the index");
    ck_assert_uint_eq(ra.routed, 1500);
    ck_assert_uint_lt(ra.indexed, 1500); /* prompts of 3+ blocks: 3e15 > 2^51 */
    ck_assert_uint_ge(ra.views, (1500 - ra.indexed) * 8);
}
END_TEST

START_TEST(views_per_request_do_not_grow_with_instances)
{
    char text[2048];
    hsink k;
    serving_route_stats rs;
    static const uint32_t ns[] = {4, 32, 128};
    for (size_t z = 0; z < 3; z++) {
        scenario(text, sizeof text, ns[z], "least_loaded", 0);
        run(text, 1, &k, &rs);
        ck_assert_uint_eq(rs.indexed, 1500);
        ck_assert_uint_eq(rs.views, 1500); /* the chosen instance's, for `predicted` */
        /* the tree: at most log2(128) = 7 comparisons per load update */
        scenario(text, sizeof text, ns[z], "round_robin", 0);
        run(text, 1, &k, &rs);
        ck_assert_uint_eq(rs.views, 1500);
        /* A request's views: the holders of its first block, the tree
         * root's (dynamo, llmd), and the chosen instance's when it is
         * neither; never one per instance. With 5 prefix groups the holders
         * are few at every n under prefix_affinity; the policies that
         * weigh load spread a group over more instances as n grows. */
        static const char *const pol[] = {"prefix_affinity", "sglang", "dynamo", "llmd"};
        for (int p = 0; p < 4; p++) {
            scenario(text, sizeof text, ns[z], pol[p], 0);
            run(text, 1, &k, &rs);
            ck_assert_uint_eq(rs.indexed, 1500);
            uint64_t lv = p < 2 ? 0 : 1500; /* the roots' views */
            ck_assert_uint_ge(rs.views, rs.holders + lv);
            ck_assert_uint_le(rs.views, rs.holders + lv + 1500); /* and the chosen's */
            printf("%s, n=%u: %.2f holders and %.2f views a request\n", pol[p], ns[z],
                   (double)rs.holders / 1500, (double)rs.views / 1500);
            if (p == 0)
                ck_assert_msg(rs.views <= 1500 * 6, "n=%u: %llu views for 1500 requests",
                              ns[z], (unsigned long long)rs.views);
        }
    }
}
END_TEST

/* dynamo with temperature > 0 from the index (kv_router.c, "dynamo with
 * temperature > 0": the same rejection sampler on both paths): the same
 * request rows and metrics as the full views, sticky or not, at small and
 * large temperatures, on 12 and 192 instances; every request decided by
 * the index with the holders' views, the root's and at most the chosen
 * one's. */
static const char *const samp_pol[] = {
    "dynamo, temperature: 0.05",
    "dynamo, temperature: 0.5",
    "dynamo, temperature: 3, overlap_weight: 0.3",
};

START_TEST(dynamo_sampling_indexed_equals_full_views)
{
    const char *policy = samp_pol[_i % 3];
    uint32_t n = _i / 3 % 2 ? 192 : 12;
    int sticky = _i / 6;
    char text[2048];
    scenario_g(text, sizeof text, n, n == 192 ? 64 : 5, 1500, policy, sticky);
    hsink a, b;
    serving_route_stats ra, rb;
    run(text, 1, &a, &ra);
    run(text, 0, &b, &rb);
    ck_assert_uint_eq(a.rows, 1500);
    ck_assert_msg(a.h == b.h, "%s, %u instances, sticky %d: results differ with the index",
                  policy, n, sticky);
    if (!sticky) {
        ck_assert_uint_eq(ra.indexed, 1500);
        ck_assert_uint_eq(ra.samples, 1500);
    }
    ck_assert_uint_eq(ra.samples, ra.indexed);
    ck_assert_uint_le(ra.views, ra.holders + 2 * 1500);
    ck_assert_uint_eq(rb.views, (uint64_t)n * 1500);
    printf("%s, %u instances%s: %.2f views, %.2f proposals, %.2f tree nodes a request, "
           "%llu fallbacks\n", policy, n, sticky ? ", sticky" : "", (double)ra.views / 1500,
           (double)ra.sample_trials / (double)ra.samples,
           (double)ra.sample_nodes / (double)ra.samples,
           (unsigned long long)ra.sample_fallbacks);
}
END_TEST

/* At 1,000 instances (scale.yaml's shape: 256 prefix groups, 2 sessions/s
 * an instance), dynamo at temperature 0.5: a request builds the views of
 * its first block's holders, the root's and at most one more, draws a few
 * proposals (at most exp(1/T) = 7.4 expected) and takes a few tree nodes;
 * no request falls back to the sum over all 1,000. */
START_TEST(dynamo_sampling_work_at_1000_instances)
{
    char text[2048];
    scenario_g(text, sizeof text, 1000, 256, 6000, "dynamo, temperature: 0.5", 0);
    hsink a;
    serving_route_stats ra;
    run(text, 1, &a, &ra);
    ck_assert_uint_eq(ra.indexed, 6000);
    ck_assert_uint_eq(ra.samples, 6000);
    ck_assert_uint_le(ra.views, ra.holders + 2 * 6000);
    ck_assert_uint_le(ra.sample_trials, (uint64_t)(6000 * exp(1 / 0.5)));
    ck_assert_uint_eq(ra.sample_fallbacks, 0);
    printf("dynamo, temperature 0.5, 1,000 instances: %.2f holders, %.2f views, %.2f "
           "proposals, %.2f tree nodes a request (full views: 1,000)\n",
           (double)ra.holders / 6000, (double)ra.views / 6000,
           (double)ra.sample_trials / 6000, (double)ra.sample_nodes / 6000);
    ck_assert_uint_lt(ra.views, 6000 * 100);
}
END_TEST

/* Peak RSS (KiB) of a forked child replaying `requests` requests on two
 * instances, its latency collectors keeping `keep` samples (0: all). */
static long child_peak_kib(uint32_t requests, size_t keep)
{
    char text[2048];
    scenario(text, sizeof text, 2, "least_loaded", 0);
    char *p = strstr(text, "requests: 1500");
    ck_assert_ptr_nonnull(p);
    char tail[1024];
    snprintf(tail, sizeof tail, "requests: %u%s", requests, p + strlen("requests: 1500"));
    strcpy(p, tail);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sim_err err;
        sim_err_clear(&err);
        scn_doc *doc = scn_load_string("mem.yaml", text, &err);
        sim *s = doc ? sim_create() : NULL;
        static const char *const sections[] = {"workload", "kv", "router", "fabric", NULL};
        int rc = s ? sim_build(s, doc, memfab_models, sections, &err) : 1;
        if (!rc)
            rc = serving_build(s, doc, &err);
        if (!rc)
            serving_set_samples_keep(sim_find(s, "workload"), keep);
        if (!rc)
            rc = sim_start(s, &err);
        if (!rc)
            rc = sim_run(s, sim_stop_time(s));
        if (!rc)
            rc = sim_finish(s, &err);
        _exit(rc ? 1 : 0);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    ck_assert_int_eq(wait4(pid, &status, 0, &ru), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child run failed");
    return ru.ru_maxrss;
}

START_TEST(memory_independent_of_trace_length)
{
#ifdef UNDER_ASAN
    printf("memory_independent_of_trace_length: skipped under ASan\n");
    return;
#endif
    long a = child_peak_kib(40000, 4096), b = child_peak_kib(160000, 4096);
    long c = child_peak_kib(40000, 0), d = child_peak_kib(160000, 0);
    printf("peak RSS: spilling %ld -> %ld KiB, keeping all %ld -> %ld KiB\n", a, b, c, d);
    ck_assert_msg(b - a < 1024, "spilling: peak %ld KiB at 40k requests, %ld KiB at 160k", a, b);
    ck_assert_msg(d - c > 2048, "keeping all: peak %ld KiB at 40k requests, %ld KiB at 160k", c,
                  d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rindex");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, tree_root_is_least_loaded);
    tcase_add_test(tc, holders_match_a_set);
    tcase_add_test(tc, tree_orders_match_a_scan);
    tcase_add_test(tc, first_from_matches_a_cyclic_scan);
    tcase_add_test(tc, least_with_matches_a_scan);
    tcase_add_test(tc, dynamo_sampler_matches_softmax);
    tcase_add_test(tc, dynamo_sampler_indexed_equals_full_views);
    tcase_add_test(tc, dynamo_sampler_edges);
    tcase_add_loop_test(tc, indexed_equals_full_views, 0, 2 * NPOL);
    tcase_add_loop_test(tc, indexed_equals_full_views_many_instances, 0, 4);
    tcase_add_loop_test(tc, conductor_indexed_equals_full_views, 0, 8);
    tcase_add_test(tc, conductor_room_search_at_scale);
    tcase_add_loop_test(tc, disagg_ordinary_router_indexed_equals_full_views, 0, 2 * NPDO);
    tcase_add_loop_test(tc, disagg_ordinary_router_many_instances, 0, 4);
    tcase_add_loop_test(tc, decode_index_whatever_the_router, 0, 2 * NDEC);
    tcase_add_loop_test(tc, scoped_plugin_indexed_equals_full_views, 0, 6);
    tcase_add_loop_test(tc, scoped_routes_where_it_points, 0, 4);
    tcase_add_test(tc, plugin_v2_table_unchanged);
    tcase_add_test(tc, k_least_matches_a_sort);
    tcase_add_test(tc, first_except_matches_a_scan);
    tcase_add_test(tc, plugin_scope_listed_twice_refused);
    tcase_add_test(tc, dynamo_beyond_exact_range_builds_every_view);
    tcase_add_test(tc, views_per_request_do_not_grow_with_instances);
    tcase_add_loop_test(tc, dynamo_sampling_indexed_equals_full_views, 0, 12);
    tcase_add_test(tc, dynamo_sampling_work_at_1000_instances);
    tcase_add_test(tc, memory_independent_of_trace_length);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_main(suite());
}
