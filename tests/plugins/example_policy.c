/*
 * example_policy.c - a memfab policy plug-in: an eviction policy "mru"
 * (evict the most recently used block; good for looping scans larger than
 * the cache), a router "power_of_two_choices" (Mitzenmacher: draw two
 * instances at random, send the request to the one with fewer outstanding
 * tokens) and a router "scoped_affinity" that declares a scope (plug-in
 * interface version 3: it reads only the instances holding a prefix of the
 * request and the least loaded one, so memfab builds just those views).
 * Build and use:
 *
 *     cc -shared -fPIC -I/usr/local/include example_policy.c -o example_policy.so
 *     memfab run scenario.yaml --plugin ./example_policy.so
 *
 * with `kv: {eviction: mru}`, `router: {policy: power_of_two_choices}` or
 * `router: {policy: scoped_affinity}`.
 * It uses only the plug-in header and libc.
 */
#include <stdlib.h>

#include "sim/plugin.h"

#define NONE UINT32_MAX

/* ---- mru: a doubly linked list, most recent at the head ----------------- */

typedef struct mru {
    uint32_t *prev, *next; /* links per block handle */
    unsigned char *in;     /* held? */
    uint32_t head;         /* most recently used, NONE when empty */
} mru;

static void mru_destroy(void *st)
{
    mru *m = st;
    if (!m)
        return;
    free(m->prev);
    free(m->next);
    free(m->in);
    free(m);
}

static void *mru_create(uint32_t capacity, const memfab_params *p)
{
    (void)p;
    mru *m = calloc(1, sizeof *m);
    size_t c = capacity ? capacity : 1;
    if (!m)
        return NULL;
    m->prev = malloc(c * sizeof *m->prev);
    m->next = malloc(c * sizeof *m->next);
    m->in = calloc(c, 1);
    m->head = NONE;
    if (!m->prev || !m->next || !m->in) {
        mru_destroy(m);
        return NULL;
    }
    return m;
}

static void mru_remove(void *st, uint32_t b)
{
    mru *m = st;
    if (!m->in[b])
        return;
    if (m->prev[b] != NONE)
        m->next[m->prev[b]] = m->next[b];
    else
        m->head = m->next[b];
    if (m->next[b] != NONE)
        m->prev[m->next[b]] = m->prev[b];
    m->in[b] = 0;
}

static void mru_insert(void *st, uint32_t b, const memfab_block_info *info)
{
    (void)info;
    mru *m = st;
    mru_remove(m, b);
    m->prev[b] = NONE;
    m->next[b] = m->head;
    if (m->head != NONE)
        m->prev[m->head] = b;
    m->head = b;
    m->in[b] = 1;
}

static int mru_victim(void *st, uint32_t *b,
                      const memfab_block_info *(*info)(void *ctx, uint32_t block), void *ctx)
{
    (void)info;
    (void)ctx;
    mru *m = st;
    if (m->head == NONE)
        return 0;
    *b = m->head;
    return 1;
}

static const memfab_evict_ops mru_ops = {"mru",      mru_create, mru_destroy, mru_insert,
                                         mru_insert, mru_remove, mru_victim};

/* ---- power_of_two_choices ----------------------------------------------- */

static void *p2c_create(uint32_t instances, const memfab_params *p)
{
    (void)p;
    return instances ? malloc(1) : NULL;
}

static uint32_t p2c_route(void *st, const memfab_request_view *req,
                          const memfab_instance_view *inst, uint32_t n,
                          double (*uniform)(void *rng), void *rng)
{
    (void)st;
    (void)req;
    uint32_t a = (uint32_t)(uniform(rng) * n), b = (uint32_t)(uniform(rng) * n);
    a = a < n ? a : n - 1;
    b = b < n ? b : n - 1;
    if (inst[b].outstanding_tokens < inst[a].outstanding_tokens ||
        (inst[b].outstanding_tokens == inst[a].outstanding_tokens && b < a))
        return b;
    return a;
}

static const memfab_router_ops p2c_ops = {"power_of_two_choices", p2c_create, free, p2c_route};

/* ---- scoped_affinity ------------------------------------------------------
 * Most prefix blocks held (any tier), ties to fewer outstanding tokens, then
 * to the lower index: the rule of the built-in prefix_affinity, which it
 * reproduces exactly. Only an instance holding a prefix can beat the least
 * loaded one, so its scope asks for those views and the lightest one: a
 * request then costs O(holders + log N), not N views. The views come in
 * ascending instance order, so among ties the lowest position is the lowest
 * index, and the router returns a position among them. */

static uint32_t affinity_route(void *st, const memfab_request_view *req,
                               const memfab_instance_view *inst, uint32_t n,
                               double (*uniform)(void *rng), void *rng)
{
    (void)st;
    (void)req;
    (void)uniform;
    (void)rng;
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (inst[i].prefix_blocks > inst[best].prefix_blocks ||
            (inst[i].prefix_blocks == inst[best].prefix_blocks &&
             inst[i].outstanding_tokens < inst[best].outstanding_tokens))
            best = i;
    return best;
}

static const memfab_router_ops affinity_ops = {"scoped_affinity", p2c_create, free,
                                               affinity_route};
static const memfab_router_scope affinity_scope = {&affinity_ops, 1};

/* ---- the plug-in -------------------------------------------------------- */

static const memfab_evict_ops *const evictions[] = {&mru_ops, NULL};
static const memfab_router_ops *const routers[] = {&p2c_ops, &affinity_ops, NULL};
static const memfab_router_scope *const scopes[] = {&affinity_scope, NULL};

#ifndef EXAMPLE_ABI
#define EXAMPLE_ABI MEMFAB_PLUGIN_ABI
#endif

static const memfab_plugin plugin = {EXAMPLE_ABI, "example_policy", evictions, routers, NULL,
                                     scopes};

const memfab_plugin *memfab_plugin_init(void);
const memfab_plugin *memfab_plugin_init(void) { return &plugin; }
