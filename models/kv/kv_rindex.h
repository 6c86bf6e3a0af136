/*
 * kv_rindex.h - the routing index: which instances hold a KV block, and
 * which instance is the least loaded, kept up to date as the stores and
 * the loads change so a router need not look at every instance for every
 * request.
 *
 * Holders: a hash map from block id to the list of instances whose store
 * indexes that block (any tier). The KV stores report each block entering
 * and leaving their index (kv_store_set_index_hook); the lists are a
 * superset of the instances where kv_store_match finds the block, so a
 * router that takes the holders of a request's first block as candidates
 * and matches each exactly misses no instance with a prefix hit.
 *
 * Least loaded: a tournament tree (a complete binary tree over the
 * instances, each inner node holding the better of its two children) on
 * the key (outstanding tokens, index), the order of kv_router.c's
 * `lighter`. An update replays the matches on one leaf-to-root path (at
 * most ceil(log2 n) comparisons, fewer where the path stops changing); the
 * minimum is the root (Knuth, TAOCP vol. 3, 5.4.1, replacement selection
 * by a tree of losers/winners). Routers that order instances by another
 * figure first (dynamo, sglang: kv_router.c) get the min tree on (KV
 * blocks in use, outstanding, index) or (requests waiting + running,
 * outstanding, index) instead, and a second tree whose root is the
 * instance with the most outstanding tokens, requests or KV figure (ties:
 * lowest index): each instance keeps the three figures. (A pair router's
 * decode index stores free KV blocks as the KV figure and waiting
 * reservations as the requests figure: serving.c, rx_figures.)
 *
 * Four queries look below the roots: the first instance tied with a root
 * in cyclic order from a given position (a round-robin tie-break, by the
 * segment-tree walk over the positions from there to the end); the first
 * instance in the min tree's order whose figure reaches a bound (a
 * best-first search of the min tree pruned by the max tree on that
 * figure: a branch-and-bound whose frontier the max tree bounds); the
 * first in the second tree's order outside a given set, and the first k
 * in the min tree's order (the same best-first search, unpruned).
 *
 * Memory: one list node per (block, instance) pair held, 2 x the
 * instance count (rounded up to a power of two, p) entries per tree, p
 * more for the searches' frontier, and three figures
 * per instance; nothing per request.
 */
#ifndef MEMFAB_MODELS_KV_RINDEX_H
#define MEMFAB_MODELS_KV_RINDEX_H

#include <stdint.h>

typedef struct kv_rindex kv_rindex;

/* The orders a tree can keep (kv_rindex_new_orders). */
enum {
    KV_RINDEX_LOAD,     /* min: (outstanding, index) */
    KV_RINDEX_KV,       /* min: (KV blocks in use, outstanding, index) */
    KV_RINDEX_REQS,     /* min: (requests, outstanding, index) */
    KV_RINDEX_MAXLOAD,  /* max: (outstanding; ties lowest index) */
    KV_RINDEX_MAXREQS,  /* max: (requests; ties lowest index) */
    KV_RINDEX_MAXKV,    /* max: (the KV figure; ties lowest index) */
    KV_RINDEX_NONE      /* no second tree */
};

/* An index over n instances (figures 0) with the min tree on
 * (outstanding, index). NULL when out of memory. */
kv_rindex *kv_rindex_new(uint32_t n);
/* The same with the min tree in order `min` (LOAD, KV or REQS) and a
 * second tree in order `max` (MAXLOAD, MAXREQS, MAXKV or NONE). */
kv_rindex *kv_rindex_new_orders(uint32_t n, int min, int max);
void kv_rindex_free(kv_rindex *x);

/* Instance i's store indexed (added 1) or dropped (added 0) block id.
 * 0, or SIM_ENOMEM. */
int kv_rindex_block(kv_rindex *x, uint32_t i, uint64_t id, int added);

/* The instances holding id: up to max of them into out; returns how many
 * hold it (may exceed max). */
uint32_t kv_rindex_holders(const kv_rindex *x, uint64_t id, uint32_t *out, uint32_t max);

/* Set instance i's load (outstanding tokens). */
void kv_rindex_set_load(kv_rindex *x, uint32_t i, uint64_t load);
uint64_t kv_rindex_load(const kv_rindex *x, uint32_t i);
/* Set all three figures of instance i: outstanding tokens, KV blocks in
 * use, requests (waiting + running). */
void kv_rindex_set(kv_rindex *x, uint32_t i, uint64_t load, uint64_t kv, uint64_t reqs);
/* Figure f of instance i: 0 outstanding, 1 KV blocks in use, 2 requests. */
uint64_t kv_rindex_figure(const kv_rindex *x, uint32_t i, int f);

/* The root of the min tree: with the default order the least loaded
 * instance (fewest outstanding tokens, then lowest index). */
uint32_t kv_rindex_least(const kv_rindex *x);
/* The root of the second tree (UINT32_MAX without one). */
uint32_t kv_rindex_most(const kv_rindex *x);

/* Key comparisons made by updates since creation, both trees (a test
 * hook: it grows as log2 n per tree and update, not as n). */
uint64_t kv_rindex_comparisons(const kv_rindex *x);

/* The first instance in cyclic order from `from` (from, from + 1, ...,
 * n - 1, 0, ..., from - 1) among those that tie with the root of the min
 * tree (second 0) or of the second tree (second 1) on the figures that
 * tree's order reads: a scan that starts at `from` and keeps the first
 * strictly better. O(log n). UINT32_MAX without that tree. */
uint32_t kv_rindex_first_from(const kv_rindex *x, int second, uint32_t from);

/* The first instance in the min tree's order whose figure f (0
 * outstanding, 1 KV, 2 requests) is at least at_least, or UINT32_MAX when
 * none is; the second tree must be the max tree on f (MAXLOAD, MAXKV or
 * MAXREQS; otherwise UINT32_MAX). A best-first search of the min tree that
 * skips the subtrees the max tree shows hold no such instance: O(log n)
 * when the root qualifies or none does, O(min(|A|, Q) log^2 n) in general
 * (A: the instances before the answer that fail, Q: those that qualify;
 * kv_rindex.c proves both), at most O(n log n). */
uint32_t kv_rindex_least_with(kv_rindex *x, int f, uint64_t at_least);
/* The first instance in the second tree's order that is not in skip
 * (nskip instance positions, ascending), or UINT32_MAX when every
 * instance is listed or there is no second tree: a best-first search of
 * that tree taking at most 1 + nskip (log2 p + 1) nodes (kv_rindex.c).
 * dynamo's sampler reads the most KV blocks in use among the instances
 * that hold none of a request's prefix by it. */
uint32_t kv_rindex_first_except(kv_rindex *x, const uint32_t *skip, uint32_t nskip);
/* The first k instances in the min tree's order into out[0, k) (fewer
 * when there are fewer instances): the count. A best-first search taking
 * at most k (log2 p + 1) tree nodes. Scoped plug-in routers read the k
 * least loaded by it. */
uint32_t kv_rindex_k_least(kv_rindex *x, uint32_t k, uint32_t *out);
/* Tree nodes kv_rindex_least_with (and kv_rindex_first_except, k_least) have taken from its frontier since
 * creation (a test hook). */
uint64_t kv_rindex_walked(const kv_rindex *x);

#endif
