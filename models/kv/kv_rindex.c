/*
 * kv_rindex.c - the routing index (see kv_rindex.h): block holders and the
 * least-loaded instance.
 *
 * Holders are singly linked lists of nodes drawn from one growable array
 * (indices, so growth may move it); the block map is a sim_idmap from
 * block id to the list's first node, rebuilt twice as large when full.
 * Removing an instance from a block's list walks that list: its length is
 * the number of instances holding the block, and a removal follows one
 * eviction, not one request. The trees are arrays (node k's children at
 * 2k and 2k + 1, the leaves at p..2p-1), so the queries below the roots
 * (kv_rindex_first_from, kv_rindex_least_with, kv_rindex_first_except,
 * kv_rindex_k_least) walk them by index arithmetic; the best-first
 * searches share one frontier heap of p entries (its nodes are disjoint
 * subtrees).
 */
#include "models/kv/kv_rindex.h"

#include <string.h>

#include "sim/err.h"
#include "sim/idmap.h"
#include "sim/mem.h"

#define NONE UINT32_MAX

/* A tournament tree: [1, 2p) inner nodes and leaves, each an instance or NONE. */
typedef struct rtree {
    uint32_t *t;
    int order;           /* KV_RINDEX_* */
} rtree;

struct kv_rindex {
    uint32_t n;          /* instances */
    sim_idmap map;       /* block id -> first node */
    uint32_t *inst;      /* node: the instance */
    uint32_t *next;      /* node: next in its block's list, NONE at the end */
    uint32_t nnodes, capnodes, free_node; /* used slots / allocated / free list */
    uint32_t p;          /* leaves of each tree (power of two >= n) */
    rtree lo, hi;        /* the min tree and the second tree (hi.t NULL: none) */
    uint64_t *fig[3];    /* per instance: outstanding, KV blocks in use, requests */
    uint64_t cmps;       /* key comparisons (test hook) */
    uint32_t *heap;      /* the searches' frontier (p entries) */
    uint64_t walked;     /* nodes kv_rindex_least_with took from it (test hook) */
};

/* a before b in tree order; NONE last. Min orders: the order's figure,
 * then outstanding, then lower index. Max orders: the larger figure, then
 * lower index. */
static int before(kv_rindex *x, int order, uint32_t a, uint32_t b)
{
    if (b == NONE)
        return a != NONE;
    if (a == NONE)
        return 0;
    x->cmps++;
    const uint64_t *o = x->fig[0];
    switch (order) {
    case KV_RINDEX_MAXLOAD:
    case KV_RINDEX_MAXREQS:
    case KV_RINDEX_MAXKV: {
        const uint64_t *f = x->fig[order == KV_RINDEX_MAXLOAD ? 0 : order == KV_RINDEX_MAXKV ? 1 : 2];
        if (f[a] != f[b])
            return f[a] > f[b];
        return a < b;
    }
    case KV_RINDEX_KV:
    case KV_RINDEX_REQS: {
        const uint64_t *f = x->fig[order == KV_RINDEX_KV ? 1 : 2];
        if (f[a] != f[b])
            return f[a] < f[b];
    } /* fall through */
    default:
        if (o[a] != o[b])
            return o[a] < o[b];
        return a < b;
    }
}

/* Instance i's key changed: replay the matches on its path. A node whose
 * winner neither was nor is i keeps the same winner with the same key, so
 * nothing above it changes: stop there. */
static void replay(kv_rindex *x, rtree *r, uint32_t i)
{
    for (uint32_t k = (x->p + i) / 2; k >= 1; k /= 2) {
        uint32_t a = r->t[2 * k], b = r->t[2 * k + 1], was = r->t[k];
        r->t[k] = before(x, r->order, b, a) ? b : a;
        if (r->t[k] == was && was != i)
            break;
    }
}

static int tree_init(kv_rindex *x, rtree *r, int order)
{
    r->order = order;
    r->t = sim_calloc(2 * (size_t)x->p, sizeof *r->t);
    if (!r->t)
        return SIM_ENOMEM;
    for (uint32_t i = 0; i < x->p; i++)
        r->t[x->p + i] = i < x->n ? i : NONE;
    for (uint32_t k = x->p - 1; k >= 1; k--) {
        uint32_t a = r->t[2 * k], b = r->t[2 * k + 1];
        r->t[k] = before(x, order, b, a) ? b : a;
    }
    return 0;
}

kv_rindex *kv_rindex_new_orders(uint32_t n, int min, int max)
{
    kv_rindex *x = sim_calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->n = n;
    x->free_node = NONE;
    x->p = 1;
    while (x->p < n)
        x->p *= 2;
    for (int f = 0; f < 3; f++)
        x->fig[f] = sim_calloc(n ? n : 1, sizeof *x->fig[f]);
    if (!x->fig[0] || !x->fig[1] || !x->fig[2] || sim_idmap_init(&x->map, 1024) ||
        tree_init(x, &x->lo, min) || !(x->heap = sim_calloc(x->p, sizeof *x->heap)) ||
        (max != KV_RINDEX_NONE && tree_init(x, &x->hi, max))) {
        kv_rindex_free(x);
        return NULL;
    }
    return x;
}

kv_rindex *kv_rindex_new(uint32_t n)
{
    return kv_rindex_new_orders(n, KV_RINDEX_LOAD, KV_RINDEX_NONE);
}

void kv_rindex_free(kv_rindex *x)
{
    if (!x)
        return;
    sim_idmap_fini(&x->map);
    sim_free(x->inst);
    sim_free(x->next);
    sim_free(x->lo.t);
    sim_free(x->hi.t);
    sim_free(x->heap);
    for (int f = 0; f < 3; f++)
        sim_free(x->fig[f]);
    sim_free(x);
}

/* Twice the room in the block map: a new map, every entry moved over. */
static int grow_map(kv_rindex *x)
{
    sim_idmap m;
    if (sim_idmap_init(&m, x->map.max * 2))
        return SIM_ENOMEM;
    for (uint32_t k = 0; k <= x->map.mask; k++)
        if (x->map.vals[k] != SIM_IDMAP_NONE)
            sim_idmap_put(&m, x->map.keys[k], x->map.vals[k]);
    sim_idmap_fini(&x->map);
    x->map = m;
    return 0;
}

static uint32_t node_new(kv_rindex *x)
{
    if (x->free_node != NONE) {
        uint32_t k = x->free_node;
        x->free_node = x->next[k];
        return k;
    }
    if (x->nnodes == x->capnodes) {
        uint32_t cap = x->capnodes ? 2 * x->capnodes : 1024;
        uint32_t *a = sim_realloc(x->inst, cap * sizeof *a);
        if (!a)
            return NONE;
        x->inst = a;
        uint32_t *b = sim_realloc(x->next, cap * sizeof *b);
        if (!b)
            return NONE;
        x->next = b;
        x->capnodes = cap;
    }
    return x->nnodes++;
}

int kv_rindex_block(kv_rindex *x, uint32_t i, uint64_t id, int added)
{
    uint32_t head = sim_idmap_get(&x->map, id);
    if (added) {
        uint32_t k = node_new(x);
        if (k == NONE)
            return SIM_ENOMEM;
        x->inst[k] = i;
        x->next[k] = head;
        if (head == SIM_IDMAP_NONE && x->map.n >= x->map.max && grow_map(x)) {
            x->next[k] = x->free_node;
            x->free_node = k;
            return SIM_ENOMEM;
        }
        return sim_idmap_put(&x->map, id, k);
    }
    for (uint32_t k = head, prev = NONE; k != SIM_IDMAP_NONE; prev = k, k = x->next[k]) {
        if (x->inst[k] != i)
            continue;
        if (prev != NONE)
            x->next[prev] = x->next[k];
        else if (x->next[k] != NONE)
            sim_idmap_put(&x->map, id, x->next[k]); /* replaces: no growth */
        else
            sim_idmap_del(&x->map, id);
        x->next[k] = x->free_node;
        x->free_node = k;
        break;
    }
    return 0;
}

uint32_t kv_rindex_holders(const kv_rindex *x, uint64_t id, uint32_t *out, uint32_t max)
{
    uint32_t c = 0;
    for (uint32_t k = sim_idmap_get(&x->map, id); k != SIM_IDMAP_NONE; k = x->next[k]) {
        if (c < max)
            out[c] = x->inst[k];
        c++;
    }
    return c;
}

void kv_rindex_set(kv_rindex *x, uint32_t i, uint64_t load, uint64_t kv, uint64_t reqs)
{
    if (i >= x->n)
        return;
    uint64_t was[3] = {x->fig[0][i], x->fig[1][i], x->fig[2][i]};
    x->fig[0][i] = load;
    x->fig[1][i] = kv;
    x->fig[2][i] = reqs;
    /* replay a tree only when a figure its order reads changed */
    static const unsigned reads[] = {
        [KV_RINDEX_LOAD] = 1, [KV_RINDEX_KV] = 3, [KV_RINDEX_REQS] = 5,
        [KV_RINDEX_MAXLOAD] = 1, [KV_RINDEX_MAXREQS] = 4, [KV_RINDEX_MAXKV] = 2};
    unsigned changed = (was[0] != load) | (was[1] != kv) << 1 | (was[2] != reqs) << 2;
    if (changed & reads[x->lo.order])
        replay(x, &x->lo, i);
    if (x->hi.t && (changed & reads[x->hi.order]))
        replay(x, &x->hi, i);
}

void kv_rindex_set_load(kv_rindex *x, uint32_t i, uint64_t load)
{
    if (i < x->n)
        kv_rindex_set(x, i, load, x->fig[1][i], x->fig[2][i]);
}

uint64_t kv_rindex_load(const kv_rindex *x, uint32_t i) { return i < x->n ? x->fig[0][i] : 0; }

uint64_t kv_rindex_figure(const kv_rindex *x, uint32_t i, int f)
{
    return i < x->n && f >= 0 && f < 3 ? x->fig[f][i] : 0;
}

uint32_t kv_rindex_least(const kv_rindex *x) { return x->lo.t[1]; }

uint32_t kv_rindex_most(const kv_rindex *x) { return x->hi.t ? x->hi.t[1] : NONE; }

uint64_t kv_rindex_comparisons(const kv_rindex *x) { return x->cmps; }

/* ---- queries beyond the roots ------------------------------------------- */

/* a and b (instances) tie on every figure the order reads: they differ at
 * most in the index. */
static int same_key(const kv_rindex *x, int order, uint32_t a, uint32_t b)
{
    uint64_t *const *f = x->fig;
    switch (order) {
    case KV_RINDEX_MAXLOAD:
        return f[0][a] == f[0][b];
    case KV_RINDEX_MAXKV:
        return f[1][a] == f[1][b];
    case KV_RINDEX_MAXREQS:
        return f[2][a] == f[2][b];
    case KV_RINDEX_KV:
        return f[1][a] == f[1][b] && f[0][a] == f[0][b];
    case KV_RINDEX_REQS:
        return f[2][a] == f[2][b] && f[0][a] == f[0][b];
    default:
        return f[0][a] == f[0][b];
    }
}

/* A tree's winner at node k is the first instance of k's subtree in the
 * tree's order, so among the instances of that subtree that tie with the
 * root on the figures, the lowest index. The positions [from, p) are the
 * disjoint subtrees of the nodes the loop takes, left to right (the
 * bottom-up segment-tree walk with the right end at p: a node is taken
 * when it is a right child, then the walk moves one node right and up),
 * at most one per level. The first taken node whose winner ties with the
 * root holds the answer; none: every tied instance lies before `from`,
 * and the root (the lowest tied index) is the first after wrapping. */
uint32_t kv_rindex_first_from(const kv_rindex *x, int second, uint32_t from)
{
    const rtree *r = second ? &x->hi : &x->lo;
    if (!r->t)
        return NONE;
    uint32_t root = r->t[1];
    if (from == 0 || from >= x->n)
        return root;
    for (uint32_t l = x->p + from, e = 2 * x->p; l < e; l /= 2, e /= 2)
        if (l & 1) {
            uint32_t w = r->t[l++];
            if (w != NONE && same_key(x, r->order, w, root))
                return w;
        }
    return root;
}

/* Best-first search of the min tree, pruned by the max tree.
 *
 * The frontier is a set of disjoint subtrees (nodes) each holding an
 * instance with figure f >= at_least (the max tree's winner at the node
 * says so in O(1)), kept in a binary heap by the min tree's winner at each
 * node. The node taken first has the first winner in the min order among
 * the frontier; the winner is the first of its subtree, so when it
 * qualifies it is the answer (every other qualifying instance lies in some
 * frontier subtree, after that subtree's winner, after the taken one). A
 * winner that does not qualify is not the answer: the node's two children
 * replace it (those of them that still hold a qualifying instance). A leaf
 * that qualifies is taken as the answer, so only inner nodes are split.
 *
 * Cost: every node taken but the last has a winner W that fails the test
 * and comes before the answer in the min order; each instance is the
 * winner of at most log2 p + 1 nodes (its leaf-to-root path), so at most
 * 1 + |A| (log2 p + 1) nodes are taken, A the instances before the answer
 * that fail. Every node entered also holds a qualifying instance, so they
 * lie on the root paths of the Q qualifying instances: at most
 * Q (log2 p + 1) of them. Each take and put is O(log) heap work, so the
 * search costs O(min(|A|, Q) log^2 n), at worst O(n log n) (every node),
 * and O(log n) when the root's winner or only a few near it fail. */
static void heap_put(kv_rindex *x, const rtree *r, uint32_t *h, uint32_t *nh, uint32_t k)
{
    uint32_t c = (*nh)++;
    while (c > 0) {
        uint32_t up = (c - 1) / 2;
        if (!before(x, r->order, r->t[k], r->t[h[up]]))
            break;
        h[c] = h[up];
        c = up;
    }
    h[c] = k;
}

static uint32_t heap_take(kv_rindex *x, const rtree *r, uint32_t *h, uint32_t *nh)
{
    uint32_t top = h[0], last = h[--*nh], c = 0;
    for (;;) {
        uint32_t a = 2 * c + 1, b = a + 1, m = c;
        uint32_t best = last;
        if (a < *nh && before(x, r->order, r->t[h[a]], r->t[best]))
            m = a, best = h[a];
        if (b < *nh && before(x, r->order, r->t[h[b]], r->t[best]))
            m = b, best = h[b];
        if (m == c)
            break;
        h[c] = h[m];
        c = m;
    }
    if (*nh)
        h[c] = last;
    return top;
}

uint32_t kv_rindex_least_with(kv_rindex *x, int f, uint64_t at_least)
{
    static const int max_of[3] = {KV_RINDEX_MAXLOAD, KV_RINDEX_MAXKV, KV_RINDEX_MAXREQS};
    if (f < 0 || f > 2 || !x->hi.t || x->hi.order != max_of[f])
        return NONE;
    const uint64_t *g = x->fig[f];
    const uint32_t *hi = x->hi.t, *lo = x->lo.t;
#define HOLDS(k) (hi[k] != NONE && g[hi[k]] >= at_least)
    if (!HOLDS(1))
        return NONE;
    uint32_t nh = 0;
    uint64_t cmps = x->cmps; /* the test hook counts the updates' comparisons only */
    heap_put(x, &x->lo, x->heap, &nh, 1);
    while (nh) {
        uint32_t k = heap_take(x, &x->lo, x->heap, &nh);
        x->walked++;
        if (g[lo[k]] >= at_least) {
            x->cmps = cmps;
            return lo[k];
        }
        /* k is an inner node: a qualifying leaf is its own winner */
        if (HOLDS(2 * k))
            heap_put(x, &x->lo, x->heap, &nh, 2 * k);
        if (HOLDS(2 * k + 1))
            heap_put(x, &x->lo, x->heap, &nh, 2 * k + 1);
    }
#undef HOLDS
    x->cmps = cmps;
    return NONE; /* not reached: the root's subtree holds a qualifying instance */
}

uint64_t kv_rindex_walked(const kv_rindex *x) { return x->walked; }

/* The first instance in the second tree's order outside a sorted list:
 * the same best-first search, on the second tree, with "not in the list"
 * (a binary search) as the test. Every node taken but the last has a
 * listed winner, and each listed instance wins at most log2 p + 1 nodes
 * (its leaf-to-root path), so at most 1 + |skip| (log2 p + 1) nodes are
 * taken, each O(log) heap work. */
static int listed(const uint32_t *skip, uint32_t nskip, uint32_t i)
{
    uint32_t a = 0, b = nskip;
    while (a < b) {
        uint32_t m = a + (b - a) / 2;
        if (skip[m] < i)
            a = m + 1;
        else
            b = m;
    }
    return a < nskip && skip[a] == i;
}

uint32_t kv_rindex_first_except(kv_rindex *x, const uint32_t *skip, uint32_t nskip)
{
    if (!x->hi.t || x->hi.t[1] == NONE)
        return NONE;
    const uint32_t *t = x->hi.t;
    if (!listed(skip, nskip, t[1])) {
        x->walked++;
        return t[1];
    }
    uint32_t nh = 0;
    uint64_t cmps = x->cmps; /* the test hook counts the updates' comparisons only */
    heap_put(x, &x->hi, x->heap, &nh, 1);
    uint32_t found = NONE;
    while (nh) {
        uint32_t k = heap_take(x, &x->hi, x->heap, &nh);
        x->walked++;
        if (!listed(skip, nskip, t[k])) {
            found = t[k];
            break;
        }
        if (k < x->p) { /* inner node: its children that hold an instance */
            if (t[2 * k] != NONE)
                heap_put(x, &x->hi, x->heap, &nh, 2 * k);
            if (t[2 * k + 1] != NONE)
                heap_put(x, &x->hi, x->heap, &nh, 2 * k + 1);
        }
    }
    x->cmps = cmps;
    return found;
}

/* The first k instances in the min tree's order: the same best-first
 * search with no test. A taken leaf is the next instance in the order (its
 * winner comes before every other frontier node's, and each of those is
 * the first of its subtree); a taken inner node gives way to its children.
 * Each instance output is the winner of at most log2 p + 1 nodes taken
 * before its leaf, so at most k (log2 p + 1) nodes are taken. */
uint32_t kv_rindex_k_least(kv_rindex *x, uint32_t k, uint32_t *out)
{
    const uint32_t *t = x->lo.t;
    uint32_t nh = 0, m = 0;
    if (!k || t[1] == NONE)
        return 0;
    uint64_t cmps = x->cmps; /* the test hook counts the updates' comparisons only */
    heap_put(x, &x->lo, x->heap, &nh, 1);
    while (nh && m < k) {
        uint32_t v = heap_take(x, &x->lo, x->heap, &nh);
        x->walked++;
        if (v >= x->p) {
            out[m++] = t[v];
            continue;
        }
        if (t[2 * v] != NONE)
            heap_put(x, &x->lo, x->heap, &nh, 2 * v);
        if (t[2 * v + 1] != NONE)
            heap_put(x, &x->lo, x->heap, &nh, 2 * v + 1);
    }
    x->cmps = cmps;
    return m;
}
