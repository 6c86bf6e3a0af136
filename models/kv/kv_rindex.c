/*
 * kv_rindex.c - the routing index (see kv_rindex.h): block holders and the
 * least-loaded instance.
 *
 * Holders are singly linked lists of nodes drawn from one growable array
 * (indices, so growth may move it); the block map is a sim_idmap from
 * block id to the list's first node, rebuilt twice as large when full.
 * Removing an instance from a block's list walks that list: its length is
 * the number of instances holding the block, and a removal follows one
 * eviction, not one request.
 */
#include "models/kv/kv_rindex.h"

#include <string.h>

#include "sim/err.h"
#include "sim/idmap.h"
#include "sim/mem.h"

#define NONE UINT32_MAX

struct kv_rindex {
    uint32_t n;          /* instances */
    sim_idmap map;       /* block id -> first node */
    uint32_t *inst;      /* node: the instance */
    uint32_t *next;      /* node: next in its block's list, NONE at the end */
    uint32_t nnodes, capnodes, free_node; /* used slots / allocated / free list */
    uint32_t p;          /* leaves of the tree (power of two >= n) */
    uint32_t *tree;      /* [1, 2p): inner nodes and leaves, each an instance or NONE */
    uint64_t *load;      /* per instance */
    uint64_t cmps;       /* key comparisons (test hook) */
};

/* a before b: fewer outstanding tokens, then lower index; NONE last. */
static int before(kv_rindex *x, uint32_t a, uint32_t b)
{
    if (b == NONE)
        return a != NONE;
    if (a == NONE)
        return 0;
    x->cmps++;
    if (x->load[a] != x->load[b])
        return x->load[a] < x->load[b];
    return a < b;
}

kv_rindex *kv_rindex_new(uint32_t n)
{
    kv_rindex *x = sim_calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->n = n;
    x->free_node = NONE;
    x->p = 1;
    while (x->p < n)
        x->p *= 2;
    x->tree = sim_calloc(2 * (size_t)x->p, sizeof *x->tree);
    x->load = sim_calloc(n ? n : 1, sizeof *x->load);
    if (!x->tree || !x->load || sim_idmap_init(&x->map, 1024)) {
        kv_rindex_free(x);
        return NULL;
    }
    for (uint32_t i = 0; i < x->p; i++)
        x->tree[x->p + i] = i < n ? i : NONE;
    for (uint32_t k = x->p - 1; k >= 1; k--) {
        uint32_t a = x->tree[2 * k], b = x->tree[2 * k + 1];
        x->tree[k] = before(x, b, a) ? b : a;
    }
    return x;
}

void kv_rindex_free(kv_rindex *x)
{
    if (!x)
        return;
    sim_idmap_fini(&x->map);
    sim_free(x->inst);
    sim_free(x->next);
    sim_free(x->tree);
    sim_free(x->load);
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

void kv_rindex_set_load(kv_rindex *x, uint32_t i, uint64_t load)
{
    if (i >= x->n || x->load[i] == load)
        return;
    x->load[i] = load;
    for (uint32_t k = (x->p + i) / 2; k >= 1; k /= 2) {
        uint32_t a = x->tree[2 * k], b = x->tree[2 * k + 1];
        x->tree[k] = before(x, b, a) ? b : a;
    }
}

uint64_t kv_rindex_load(const kv_rindex *x, uint32_t i) { return i < x->n ? x->load[i] : 0; }

uint32_t kv_rindex_least(const kv_rindex *x) { return x->tree[1]; }

uint64_t kv_rindex_comparisons(const kv_rindex *x) { return x->cmps; }
