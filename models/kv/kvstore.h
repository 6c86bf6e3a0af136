/*
 * kvstore.h - the KV block store: prefix-shared, reference-counted KV
 * blocks in a hierarchy of capacity tiers, with pluggable eviction.
 *
 * KV state lives in fixed-size blocks of `block_tokens` tokens, named by
 * chained prefix hashes (block i's id hashes block i's tokens together
 * with every block before it), so equal ids mean equal prefixes and two
 * requests with a common prefix share the physical blocks of that prefix
 * (copy-on-write for transformer state: a diverging suffix gets blocks of
 * its own, because its ids differ).
 *
 * Tiers are numbered from the fastest (0: GPU HBM) down (DRAM, CXL, SSD,
 * remote pool); each has a capacity in blocks. A block may be present in
 * several tiers at once (a copy written through or left behind by a
 * promotion). A request uses blocks in tier 0: pinning a block that
 * sits only in a lower tier promotes it (the caller moves the bytes over
 * the fabric), unless the tier allows use in place (kv_store_set_access,
 * below: a GPU reading the block by load/store from CXL memory). When
 * tier 0 needs room it evicts an unpinned block chosen
 * by the tier's policy; with write-back the evicted block is demoted
 * (copied) into the next tier unless already there, cascading down; with
 * write-through every new block is copied to tier 1 at once, so eviction
 * from tier 0 moves no bytes. A block evicted from the last tier is gone.
 *
 * Use in place (copy-free access). A lower tier with access direct or
 * auto (kv_store_set_access) lets a pin use a block of the leading run
 * found there without promoting it: the block is pinned *in place* in the
 * fastest lower tier holding it (refcount > 0, out of that tier's policy,
 * so never evicted while in use; no tier-0 slot, no bytes copied). The
 * choice per block: direct always; auto in place for the k-th hit of the
 * block in that tier while k < hot_hits (a block read once stays where it
 * is), promotion from the hot_hits-th hit on (a hot block is worth its
 * copy); copy never. A block pinned in place is shared in place by every
 * later pin naming it until its last unpin (an id has one pinned location
 * at a time). The readers of a block pinned in place are its sharers (one
 * bit per store: kv_store_reader); when the block leaves the tier they read
 * it in (evicted: its slot will be rewritten by the block that takes it)
 * the store calls the invalidation hook with the sharers, so the caller can
 * invalidate the readers' cached lines (kv_store_set_inval_hook).
 *
 * Invariants (kv_store_check, called after every step in debug builds):
 * a pinned block (refcount > 0) is present in tier 0, or pinned in place
 * in a lower tier it is present in, never both, and never held by the
 * eviction policy of the tier where it is pinned, so it is never evicted;
 * every tier's occupancy is at most its capacity; each block is held by
 * the policy of every tier it is present in iff it is not pinned there
 * (tier 0: refcount 0; a lower tier: not pinned in place there).
 *
 * Memory is proportional to the blocks cached, not to the capacity: a
 * 1000 TiB tier that caches 100k blocks costs what 100k blocks cost (48 B
 * each with lru, 52 B with fifo and s3fifo, 64 B with lfu and cost; see
 * kvstore.c). Lookups and pins cost O(prefix
 * length) hash probes. The tables grow by doubling when a pin could fill
 * them (amortised O(1) per block), so growth is the only allocation: once
 * a run's working set has been reached, pins and evictions allocate
 * nothing. Use in place adds 10 B per block entry of the store that owns
 * the tier (its in-place tier, sharers' tier and sharer bits), allocated
 * when kv_store_set_access first enables it and grown with the rest.
 */
#ifndef MEMFAB_MODELS_KVSTORE_H
#define MEMFAB_MODELS_KVSTORE_H

#include <stdint.h>

#include "sim/err.h"
#include "sim/plugin.h"
#include "sim/sim.h"

typedef struct kv_store kv_store;

enum { KV_WRITE_BACK, KV_WRITE_THROUGH };

/* How a pin uses a block found only in a lower tier (kv_store_set_access). */
enum { KV_ACCESS_COPY, KV_ACCESS_DIRECT, KV_ACCESS_AUTO };

typedef struct kv_tier_cfg {
    const char *name;        /* tier name for results ("gpu", "dram", "ssd0", ...) */
    uint64_t capacity;       /* blocks */
} kv_tier_cfg;

/* What one pin did, so the caller can charge the fabric for it. */
typedef struct kv_pin_result {
    uint32_t hit_blocks;                       /* leading blocks already present (any tier) */
    uint32_t hit_by_tier[MEMFAB_MAX_TIERS];    /* of those, fastest tier holding each */
    uint32_t new_blocks;                       /* blocks allocated fresh in tier 0 */
    uint32_t promoted[MEMFAB_MAX_TIERS];       /* blocks copied from tier t into tier 0 */
    uint32_t demoted[MEMFAB_MAX_TIERS];        /* blocks copied from tier t to t+1 (evictions / write-through) */
    uint32_t dropped;                          /* blocks that left the store (last copy evicted) */
    uint32_t direct[MEMFAB_MAX_TIERS];         /* blocks pinned in place in tier t (no copy) */
} kv_pin_result;

/* Per-tier counters (for the `kv` results table). */
typedef struct kv_tier_stats {
    uint64_t hits;           /* block lookups served from this tier */
    uint64_t misses;         /* lookups that reached this tier and did not use a copy here:
                              * a lower-tier hit is a miss in every tier above it, so
                              * hits / (hits + misses) is the tier's hit ratio */
    uint64_t evictions;      /* blocks evicted from this tier */
    uint64_t blocks_in;      /* blocks copied into this tier */
    uint64_t blocks_out;     /* blocks copied out of this tier (promotions, demotions) */
    uint64_t used;           /* blocks present now */
    uint64_t peak;           /* most blocks present at once */
    uint64_t direct;         /* pins that used a block in place here (copies avoided) */
    uint64_t invalidated;    /* blocks that left this tier with sharers (hook calls) */
} kv_tier_stats;

/* Create a store. `policy` is used for every tier, each with its own state
 * created with `params` and the tier's capacity (at most 2^30: handles are
 * below the blocks a tier holds at once, and a store caches at most 2^30
 * blocks at once). Allocates nothing per block: any capacity is accepted.
 * Free with kv_store_free(). NULL with err on bad arguments (no tiers,
 * more than MEMFAB_MAX_TIERS, zero capacity), OOM, or a policy that fails
 * to start. */
kv_store *kv_store_new(const kv_tier_cfg *tiers, uint32_t ntiers, int write_mode,
                       const memfab_evict_ops *policy, const memfab_params *params,
                       sim_err *err);
void kv_store_free(kv_store *s);

/* Longest stored prefix of ids[0..n): the count of leading ids present in
 * any tier; by_tier[t] (if not NULL, ntiers entries) counts those whose
 * fastest copy is in tier t. Changes nothing. */
uint32_t kv_store_match(const kv_store *s, const uint64_t *ids, uint32_t n, uint32_t *by_tier);

/* Blocks a pin of ids[0..n) would need to allocate in tier 0 (absent ones
 * and ones only in lower tiers, except those it would use in place), and whether the pin would succeed now:
 * pinned blocks + blocks of ids not yet pinned <= tier-0 capacity (which
 * is free + evictable >= needed, counting the request's own evictable
 * blocks as not evictable). Ids of one call are meant to be distinct (chained
 * prefix hashes are); a repeated id is pinned twice and counted twice. */
uint32_t kv_store_needed(const kv_store *s, const uint64_t *ids, uint32_t n);
int kv_store_can_pin(const kv_store *s, const uint64_t *ids, uint32_t n);

/* Pin ids[0..n) for a running request at time now_ps: present blocks get a
 * reference (and count as hits), absent ones are allocated in tier 0;
 * blocks of the leading run found only in lower tiers are promoted. The
 * blocks already present are taken first, so a pin never evicts a block of
 * its own request and res->hit_blocks equals what kv_store_match reported
 * just before. Only the leading run (up to the first absent block) skips
 * prefill, so a block after it is recomputed: one in tier 0 is shared (a
 * tier-0 hit), one only in lower tiers is allocated fresh in tier 0, not
 * promoted, and counts as a miss in every tier. A leading-run block that
 * the tier's access mode uses in place (or one pinned in place already)
 * is pinned there, counted in res->direct. Returns 0,
 * or SIM_ENOMEM when tier 0 cannot make room or the host tables cannot
 * grow (nothing is changed then): a caller that must tell these apart
 * calls kv_store_reserve(s, n) first. */
int kv_store_pin(kv_store *s, const uint64_t *ids, uint32_t n, uint64_t now_ps,
                 kv_pin_result *res);

/* Grow the host tables of s (and of its pool) so that a pin of up to n
 * blocks allocates nothing: 0, or SIM_ENOMEM with err saying what could
 * not grow (out of host memory, or more than 2^30 blocks cached at once).
 * kv_store_pin calls it; the growth is geometric, so a run's allocations
 * are O(log blocks cached). */
int kv_store_reserve(kv_store *s, uint32_t n, sim_err *err);

/* Drop one reference to each of ids[0..n); a block whose count reaches 0
 * becomes evictable (it stays cached). */
void kv_store_unpin(kv_store *s, const uint64_t *ids, uint32_t n, uint64_t now_ps);

/* Shared pool (kv: {scope: global}): one store holding the lower tiers of
 * several instances, each of which keeps its own tier 0. A pool is created
 * like a store (its tiers are the shared ones, fastest first; the same
 * policy, one state per tier for all users) and is never pinned: every
 * block present in it is held by its tier's policy. kv_store_attach_pool
 * makes the pool tiers 1.. of a one-tier store s (empty, same write mode):
 * match, pin and the accessors of s then number tiers as if the pool's
 * were its own (kv_pin_result too: promoted[1 + p], demoted[p] from tier p
 * to p + 1); a pin that misses tier 0 looks in the pool, promotes the
 * leading run's pool hits (copies: the pool keeps them), writes evicted
 * (write-back) or new (write-through) tier-0 blocks into the pool's first
 * tier. kv_store_stats(s, t >= 1) is s's share of the pool tier's hits,
 * misses, evictions and blocks moved (the counter changes during its
 * pins; the shares of all attached stores add up to the pool's own
 * kv_store_stats), with used = peak = 0 (see the pool). The pool is not
 * owned by s: free it (kv_store_free) after every store attached to it;
 * kv_store_check(s) checks s only, check the pool apart. Pinning a pool
 * directly is SIM_EINVAL. */
kv_store *kv_store_new_pool(const kv_tier_cfg *tiers, uint32_t ntiers, int write_mode,
                            const memfab_evict_ops *policy, const memfab_params *params,
                            sim_err *err);
int kv_store_attach_pool(kv_store *s, kv_store *pool, sim_err *err);

/* Copy-free access to lower tier `tier` (the caller's numbering, >= 1;
 * with a pool, tiers >= 1 are the pool's): KV_ACCESS_COPY (default:
 * promote), KV_ACCESS_DIRECT (pin in place) or KV_ACCESS_AUTO (in place
 * while the block's hits in the tier are fewer than hot_hits >= 1, then
 * promote). Set before the first pin. 0, or SIM_EINVAL with err (bad tier
 * or mode, hot_hits 0), SIM_ENOMEM. */
int kv_store_set_access(kv_store *s, uint32_t tier, int access, uint32_t hot_hits,
                        sim_err *err);
/* Called when a block read in place leaves tier `tier` (the store's own
 * numbering: a pool's tiers from 0) with the readers' bits in `sharers`.
 * Set it on the store that owns the tier (the pool for shared tiers). */
typedef void (*kv_inval_fn)(void *ctx, uint32_t tier, uint64_t id, uint64_t sharers);
void kv_store_set_inval_hook(kv_store *s, kv_inval_fn fn, void *ctx);
/* Called when block id enters this store's own index (added 1: it is
 * present in some tier of the store, or about to be within the same pin)
 * and when it leaves it (added 0). The pool's blocks are not reported. A
 * router index (kv_rindex.h) keeps block holders with it. */
typedef void (*kv_index_fn)(void *ctx, uint64_t id, int added);
void kv_store_set_index_hook(kv_store *s, kv_index_fn fn, void *ctx);
/* Called when tier 0's occupancy (so kv_store_free_blocks) changes: a
 * block entering or leaving tier 0. A router index keeps the instances'
 * KV use with it (the dynamo router's decode term). */
void kv_store_set_use_hook(kv_store *s, void (*fn)(void *ctx), void *ctx);
/* Called when tier 0's evictable count (kv_store_evictable_blocks)
 * changes: a block there handed to the eviction policy or taken back from
 * it (pinned, evicted). A decode index keeps free + evictable with it
 * (serving.c: the disaggregated decode choice kv_room). */
void kv_store_set_evictable_hook(kv_store *s, void (*fn)(void *ctx), void *ctx);
/* The sharer bit index of s's pins (0 for a store of its own; the order of
 * attachment for stores sharing a pool, at most 64 of them: a 65th and
 * later share bit 63). */
uint32_t kv_store_reader(const kv_store *s);
/* The lower tier (caller's numbering) in which id is pinned in place, or 0
 * when it is not pinned in place (it may be pinned in tier 0). */
uint32_t kv_store_inplace_tier(const kv_store *s, uint64_t id);
/* References s's pins hold in place now (own tiers and the pool's). */
uint64_t kv_store_inplace_refs(const kv_store *s);

/* Blocks free and evictable in tier 0; totals (ntiers counts a pool's tiers). */
uint64_t kv_store_free_blocks(const kv_store *s);
uint64_t kv_store_evictable_blocks(const kv_store *s);
uint64_t kv_store_pinned_blocks(const kv_store *s);
uint32_t kv_store_ntiers(const kv_store *s);
const char *kv_store_tier_name(const kv_store *s, uint32_t tier);
const kv_tier_stats *kv_store_stats(const kv_store *s, uint32_t tier);

/* Cost facts handed to the eviction policy (memfab_block_info): a block
 * stored at position i of its prefix costs recompute_s + i x
 * recompute_per_block_s to recompute; reload_s[t] (ntiers - 1 entries, or
 * NULL for 0) is the time to copy a block from tier t+1 back into tier t.
 * For the last tier reload = recompute (nothing below). Default all 0.
 * Set them before the first pin: the facts are derived when a policy asks
 * for them, so they apply to every block. */
void kv_store_set_costs(kv_store *s, double recompute_s, double recompute_per_block_s,
                        const double *reload_s);
/* Capacity of a tier in blocks (0 for a bad index); whether a block is
 * present in a tier; its reference count (0 when absent). O(1). */
uint64_t kv_store_capacity(const kv_store *s, uint32_t tier);
int kv_store_contains(const kv_store *s, uint64_t id, uint32_t tier);
/* The slot block id occupies in tier `tier` of s (not the pool's), or
 * UINT32_MAX when it is not there. Slots are handed out densely: the most
 * recently freed first, else the lowest never used, so a slot is below the
 * most blocks the tier has held at once (and below its capacity). A block
 * keeps its slot while it stays in the tier: managed KV (instance.c) maps slot k to bytes
 * [k x block bytes, (k + 1) x block bytes) of its managed allocation. */
uint32_t kv_store_slot(const kv_store *s, uint64_t id, uint32_t tier);
uint32_t kv_store_refs(const kv_store *s, uint64_t id);

/* Check every invariant; 1 when they hold (use as assert(kv_store_check(s))).
 * O(blocks cached, as the tables are sized): for debug builds and tests. */
int kv_store_check(const kv_store *s);

/* Built-in eviction policies, NULL-terminated: lru, lfu, fifo, s3fifo, cost. */
extern const memfab_evict_ops *const kv_evict_policies[];
/* Whether ops is one of them. A built-in policy allocates per handle on
 * demand, up to its capacity (an insert beyond what it holds grows it);
 * kv_evict_reserve(ops, st, n) makes handles [0, n) usable without
 * allocation: 0, or SIM_ENOMEM (then, and after an insert that could not
 * grow, the state is unusable and victim() reports nothing). The store
 * calls it as its slot tables grow, so inserts never allocate. 0 for a
 * plug-in's policy (which sizes itself from `capacity`). */
int kv_evict_builtin(const memfab_evict_ops *ops);
/* 0 for a built-in policy whose insert ignores its memfab_block_info (lru,
 * fifo): the store then does not fill one in (no cache misses for facts
 * nobody reads). 1 for every other policy, plug-ins included. */
int kv_evict_reads_info(const memfab_evict_ops *ops);
int kv_evict_reserve(const memfab_evict_ops *ops, void *st, uint32_t n);
/* Built-in routing policies, NULL-terminated: round_robin, random,
 * least_loaded, prefix_affinity, dynamo, sglang, llmd. */
extern const memfab_router_ops *const kv_router_policies[];
/* Which built-in policy ops is, for callers with an indexed fast path
 * (serving.c): KV_ROUTE_OTHER for every other policy (plug-ins included),
 * which see the full view of every instance. */
enum { KV_ROUTE_OTHER, KV_ROUTE_RR, KV_ROUTE_RANDOM, KV_ROUTE_LEAST, KV_ROUTE_PREFIX,
       KV_ROUTE_DYNAMO, KV_ROUTE_SGLANG, KV_ROUTE_LLMD };
int kv_router_builtin(const memfab_router_ops *ops);

/* Indexed routing (serving.c with kv_rindex.h; kv_router.c says why each
 * choice is the one the policy makes on the full views). The plan: the
 * orders of the index's two trees (KV_RINDEX_*), whether the policy reads
 * the views of the holders of the request's first block, and whether it
 * reads the view of the min tree's root; for a pair router, whether the
 * decode choice is the first decode instance in the decode index's min
 * tree order with free KV blocks >= the prompt's blocks, or the root when
 * none has (kv_rindex_least_with on figure 1). */
typedef struct kv_rx_plan {
    int min_order, max_order;
    int holders;
    int least_view;
    int decode_room;
} kv_rx_plan;
/* The plan of policy ops with state st; -1 when it needs every view (a
 * plug-in, round_robin and random which read none, llmd with a
 * non-finite load weight). */
int kv_router_index_plan(const memfab_router_ops *ops, const void *st, kv_rx_plan *plan);
/* What the index tells the policy about one request. */
typedef struct kv_rx_query {
    const memfab_instance_view *cand; /* the holders' views, then (least_view) the root's */
    uint32_t ncand;
    uint32_t least;                   /* the min tree's root (an instance index) */
    uint64_t least_fig;               /* its figure in the min tree's order */
    uint64_t most_fig;                /* the second tree root's figure */
    uint64_t kv_total_min, kv_total_max; /* kv_total_blocks over the instances */
    /* for dynamo's sampler (temperature > 0): */
    struct kv_rindex *rx;             /* the index (its figures and second tree) */
    const uint32_t *cand_pos;         /* the index position of each cand view */
    const uint32_t *map;              /* position -> instance index (NULL: the same) */
    uint32_t n;                       /* positions in the index */
    double (*uniform)(void *rng);     /* the router's stream */
    void *rng;
    struct kv_rx_work *work;          /* the sampler's work, added to (or NULL) */
} kv_rx_query;
/* What dynamo's sampler did (kv_router.c, "dynamo with temperature > 0"):
 * requests sampled, proposals drawn, requests that fell back to the exact
 * two-pass sum over every instance after n rejected proposals, and tree
 * nodes the search for the largest non-holder cost took. */
typedef struct kv_rx_work {
    uint64_t samples, trials, fallbacks, nodes;
} kv_rx_work;
#define KV_RX_FULL UINT32_MAX
/* The policy's choice (an instance index) for req, or KV_RX_FULL when the
 * index cannot decide this request exactly (build every view instead). */
uint32_t kv_router_index_route(const memfab_router_ops *ops, void *st,
                               const memfab_request_view *req, const kv_rx_query *q);
/* The three figures the index keeps of an instance's view: outstanding
 * tokens, KV blocks in use (kv_total - kv_free), requests (waiting +
 * running). */
void kv_router_index_figures(const memfab_instance_view *v, uint64_t fig[3]);

/* Built-in pair routers (disaggregation), NULL-terminated: conductor. */
extern const memfab_pair_router_ops *const kv_pair_router_policies[];
/* Indexed pair routing (conductor only; kv_router.c, "indexed routing").
 * The prefill choice reads an index over the prefill instances with the
 * plan of kv_pair_index_plan; the decode choice is what the plan's
 * decode_room names, from an index over the decode instances with the
 * min tree on (waiting, outstanding, index) and the max tree on free KV
 * blocks, given to kv_pair_index_route as its load view `dchoice`.
 * kv_pair_index_plan: -1 when the policy needs every view (a plug-in, a
 * non-finite load weight). kv_pair_index_route: the prefill instance (the
 * index of its view in q->cand) and *reject (early rejection, judged on
 * dchoice), or KV_RX_FULL when the index cannot decide exactly. */
int kv_pair_index_plan(const memfab_pair_router_ops *ops, const void *st, kv_rx_plan *plan);
uint32_t kv_pair_index_route(const memfab_pair_router_ops *ops, void *st,
                             const memfab_request_view *req, const kv_rx_query *q,
                             const memfab_instance_view *dchoice, int *reject);

/* The parameters a built-in policy reads from its section (router: for
 * routers and pair routers, kv: for eviction policies), declared as a
 * parameter table (SIM_P_DOUBLE entries; offset unused) for the scenario
 * schema and `memfab models`. An empty table for a built-in without
 * parameters; NULL for any other name (a plug-in's policy: plugin.h has no
 * way to declare them, so its keys are accepted unchecked). */
const sim_param *kv_router_params(const char *name);
const sim_param *kv_evict_params(const char *name);
/* A parameter's default as declared in `table` (0 when absent). */
double kv_param_default(const sim_param *table, const char *key);
/* Read parameter `key` through p, its default from `table`. */
double kv_param(const memfab_params *p, const sim_param *table, const char *key);

/* Policies by name: built-ins first, then those registered from plug-ins. */
const memfab_pair_router_ops *kv_pair_router_find(const char *name);
const memfab_evict_ops *kv_evict_find(const char *name);
const memfab_router_ops *kv_router_find(const char *name);
/* Register a plug-in's policies (kept for the life of the process). */
int kv_register_plugin(const memfab_plugin *p, sim_err *err);
/* The scope a version-3 plug-in declared for its router ops (the views it
 * reads: plugin.h, "Scoped routing"), or NULL (every view). */
const memfab_router_scope *kv_router_scope(const memfab_router_ops *ops);
/* Load a plug-in shared object and register it; refuses a wrong ABI. */
int kv_load_plugin(const char *path, sim_err *err);

#endif
