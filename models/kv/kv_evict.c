/*
 * kv_evict.c - the built-in KV eviction policies: lru, lfu, fifo, s3fifo
 * and cost, each a memfab_evict_ops table (sim/plugin.h).
 *
 * A policy holds only the evictable blocks of one tier (kvstore.h); block
 * handles are tier slots in [0, capacity), handed out densely by the store
 * (below the most blocks the tier has held at once). So no policy sizes
 * anything from `capacity` in create: the per-handle arrays grow (at least
 * doubling, up to `capacity`) when the store reserves handles
 * (kv_evict_reserve, as its own slot tables grow) or, used alone, when an
 * insert names a handle beyond them. Driven by the store, insert, touch,
 * remove and victim allocate nothing. A growth that fails leaves the state
 * `broken`: victim() reports nothing and kv_evict_reserve fails, so the
 * store ends the run with the reason instead of evicting wrongly.
 *
 * The protocol the policies rely on (plugin.h): right after victim()
 * returns a block the store evicts it and calls remove() for it; any other
 * remove() is a pin, and the block comes back through insert() when it is
 * unpinned. A pin is an access (the store counts it in info->accesses).
 *
 *   lru     doubly linked list, most recent at the head; insert and touch
 *           move to the head, the victim is the tail. O(1). 8 B per
 *           handle (32-bit prev and next; held iff head or linked after one).
 *   fifo    order of entry into the tier: a block keeps its place across
 *           pins (it returns with its original sequence number). Indexed
 *           min-heap on that number, O(log n).
 *   lfu     min-heap on (accesses, last-access sequence): the least
 *           frequently used block, ties by least recently used. O(log n).
 *   s3fifo  Yang et al., "FIFO queues are all you need for cache eviction",
 *           SOSP 2023, Algorithm 1, with libCacheSim's defaults: a small
 *           FIFO S of 10% of the capacity, a main FIFO M, a ghost FIFO G of
 *           90% of the capacity holding ids only, 2-bit frequencies capped
 *           at 3. New blocks enter S (M on a ghost hit); when S holds at
 *           least 10% of the capacity its tail moves to M if freq >= 2
 *           (move_to_main_threshold) and is otherwise evicted into G; M's
 *           tail is reinserted with freq - 1 while freq > 0. Both queues
 *           are heaps on a sequence number so that a block pinned and
 *           released keeps its place (only its frequency grows, as for a
 *           hit in the paper). O(log n) amortized per eviction.
 *   cost    min-heap on (recompute_s - reload_s, last-access sequence).
 *           The benefit of keeping a block is what recomputing it would
 *           cost beyond reloading it from the next tier (where write-back
 *           or write-through leaves a copy); the block with the smallest
 *           benefit is evicted, ties by least recently used. A block cheap
 *           to recompute, or slow to reload, goes first. With no costs
 *           configured (kv_store_set_costs) every benefit is 0 and the
 *           policy is exactly LRU. O(log n).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hash.h"
#include "models/kv/kvstore.h"
#include "sim/mem.h"

#define NONE UINT32_MAX

/* The parameters each policy reads from `kv:` (declared for the scenario
 * schema; the defaults are the ones the policies use). */
#define PD(n, def, desc) {n, SIM_P_DOUBLE, def, "", desc, 0, NULL}
#define PEND {NULL, 0, NULL, NULL, NULL, 0, NULL}
static const sim_param no_params[] = {PEND};
static const sim_param s3fifo_params[] = {
    PD("small_size_ratio", "0.10", "s3fifo: small queue share of the capacity (0..1)"),
    PD("ghost_size_ratio", "0.90", "s3fifo: ghost queue size as a share of the capacity"),
    PD("move_to_main_threshold", "2", "s3fifo: accesses that promote to the main queue (1..3)"),
    PEND};

static const struct {
    const char *policy;
    const sim_param *params;
} evict_params[] = {
    {"lru", no_params}, {"lfu", no_params}, {"fifo", no_params}, {"cost", no_params},
    {"s3fifo", s3fifo_params},
};

const sim_param *kv_evict_params(const char *name)
{
    for (size_t i = 0; name && i < sizeof evict_params / sizeof evict_params[0]; i++)
        if (strcmp(evict_params[i].policy, name) == 0)
            return evict_params[i].params;
    return NULL;
}

double kv_param_default(const sim_param *table, const char *key)
{
    for (const sim_param *q = table; q && q->name; q++)
        if (strcmp(q->name, key) == 0)
            return q->def ? strtod(q->def, NULL) : 0;
    return 0;
}

double kv_param(const memfab_params *p, const sim_param *table, const char *key)
{
    double def = kv_param_default(table, key);
    return p && p->get ? p->get(p->ctx, key, def) : def;
}

/* ---- growth of per-handle arrays ------------------------------------------ */


/* The size to grow to from `have` for handles [0, need), at most `cap`
 * (the policy's capacity): at least double, at least 16. */
static uint32_t grow_size(uint32_t have, uint32_t need, uint32_t cap)
{
    uint64_t n = 2 * (uint64_t)have;
    if (n < need)
        n = need;
    if (n < 16)
        n = 16;
    if (n > cap)
        n = cap > need ? cap : need;
    return (uint32_t)n;
}

/* ---- indexed binary min-heap of 4-byte handles ------------------------------
 *
 * The heap holds handles only; the order is read from per-handle arrays the
 * policy owns: seq (a 64-bit word, unique per held handle, so it alone is a
 * strict order) and, for lfu and cost, a primary key before it. A policy
 * may keep flags in the low bits of its seq words (the sequence number
 * proper is shifted left past them): two held handles never share a
 * sequence number, so comparing whole words orders them exactly as the
 * numbers do. Element i lives at h[i * step]: s3fifo keeps its two queues
 * in one array of the handles' size, S from the front (step 1) and M from
 * the back (step -1), since a handle is in at most one of them. */

typedef struct heap {
    uint32_t n;        /* entries */
    ptrdiff_t step;    /* 1, or -1 for a heap growing down from h */
    uint32_t *h;       /* element 0; element i at h[i * step] */
    uint32_t *pos;     /* per handle: its element, NONE when absent (shared) */
    const double *key; /* per handle primary key, or NULL: seq alone */
    const uint64_t *seq; /* per handle sequence word */
} heap;

#define AT(hp, i) ((hp)->h[(ptrdiff_t)(i) * (hp)->step])

static int less(const heap *hp, uint32_t a, uint32_t b)
{
    if (hp->key && hp->key[a] != hp->key[b])
        return hp->key[a] < hp->key[b];
    return hp->seq[a] < hp->seq[b];
}

static void place(heap *hp, uint32_t i, uint32_t b)
{
    AT(hp, i) = b;
    hp->pos[b] = i;
}

static void sift(heap *hp, uint32_t i)
{
    uint32_t b = AT(hp, i);
    while (i > 0 && less(hp, b, AT(hp, (i - 1) / 2))) {
        place(hp, i, AT(hp, (i - 1) / 2));
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= hp->n)
            break;
        if (c + 1 < hp->n && less(hp, AT(hp, c + 1), AT(hp, c)))
            c++;
        if (!less(hp, AT(hp, c), b))
            break;
        place(hp, i, AT(hp, c));
        i = c;
    }
    place(hp, i, b);
}

/* Add b (absent) or restore its order after its key or seq changed. */
static void heap_set(heap *hp, uint32_t b)
{
    if (hp->pos[b] == NONE) {
        AT(hp, hp->n) = b;
        hp->pos[b] = hp->n++;
    }
    sift(hp, hp->pos[b]);
}

/* Take b out (it is in hp). */
static void heap_del(heap *hp, uint32_t b)
{
    uint32_t i = hp->pos[b];
    hp->pos[b] = NONE;
    uint32_t last = AT(hp, --hp->n);
    if (i < hp->n) {
        place(hp, i, last);
        sift(hp, i);
    }
}

/* ---- lru ------------------------------------------------------------------ */

typedef struct lru {
    uint32_t *prev, *next;  /* links per handle; NONE at the ends and when not held */
    uint32_t head, tail;    /* most and least recently used */
    uint32_t cap, nalloc;   /* capacity; handles the arrays cover */
    int broken;             /* a growth failed */
} lru;

static int lru_grow(lru *l, uint32_t need)
{
    if (need <= l->nalloc)
        return 0;
    uint32_t n = grow_size(l->nalloc, need, l->cap), o = l->nalloc;
    if (l->broken || sim_grow_array(&l->prev, sizeof *l->prev, o, n, 0xff) ||
        sim_grow_array(&l->next, sizeof *l->next, o, n, -1)) {
        l->broken = 1;
        return -1;
    }
    l->nalloc = n;
    return 0;
}

static void lru_destroy(void *st)
{
    lru *l = st;
    if (!l)
        return;
    sim_free(l->prev);
    sim_free(l->next);
    sim_free(l);
}

static void *lru_create(uint32_t capacity, const memfab_params *p)
{
    lru *l = sim_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->cap = capacity;
    l->head = l->tail = NONE;
    return l;
}

/* Handle b is held iff it is the head or has a predecessor (an unlinked
 * handle's prev is NONE). */
static int lru_in(const lru *l, uint32_t b)
{
    return b < l->nalloc && (l->head == b || l->prev[b] != NONE);
}

static void lru_unlink(lru *l, uint32_t b)
{
    if (!lru_in(l, b))
        return;
    if (l->prev[b] != NONE)
        l->next[l->prev[b]] = l->next[b];
    else
        l->head = l->next[b];
    if (l->next[b] != NONE)
        l->prev[l->next[b]] = l->prev[b];
    else
        l->tail = l->prev[b];
    l->prev[b] = NONE;
}

static void lru_push(lru *l, uint32_t b)
{
    if (b >= l->nalloc && lru_grow(l, b + 1))
        return;
    lru_unlink(l, b);
    l->prev[b] = NONE;
    l->next[b] = l->head;
    if (l->head != NONE)
        l->prev[l->head] = b;
    else
        l->tail = b;
    l->head = b;
}

static void lru_insert(void *st, uint32_t b, const memfab_block_info *info) { lru_push(st, b); }
static void lru_touch(void *st, uint32_t b, const memfab_block_info *info) { lru_push(st, b); }
static void lru_remove(void *st, uint32_t b) { lru_unlink(st, b); }

static int lru_victim(void *st, uint32_t *b,
                      const memfab_block_info *(*info)(void *, uint32_t), void *ctx)
{
    lru *l = st;
    if (l->tail == NONE || l->broken)
        return 0;
    *b = l->tail;
    return 1;
}

static const memfab_evict_ops lru_ops = {"lru",       lru_create, lru_destroy, lru_insert,
                                         lru_touch,   lru_remove, lru_victim};

/* ---- heap-based policies: fifo, lfu, cost --------------------------------- */

enum { HP_FIFO, HP_LFU, HP_COST };

/* fifo's seq words: the entry number << 1 | KEPT, KEPT set while the
 * handle's block has one (from its first insert until it is evicted), so
 * an insert back from a pin reuses it. A handle never used is 0. */
#define KEPT UINT64_C(1)

typedef struct hpol {
    int kind;          /* HP_* */
    heap hp;           /* held blocks */
    uint32_t *h;       /* the heap's handles */
    uint32_t *pos;     /* per handle: heap position, NONE when not held */
    uint64_t *seq;     /* per handle: sequence word (fifo: entry << 1 | KEPT;
                        * lfu, cost: last insert or touch) */
    double *key;       /* lfu, cost: per handle primary key; NULL for fifo */
    uint32_t nalloc;   /* handles the arrays cover */
    uint32_t victim;   /* last block returned by victim, NONE */
    uint64_t clock;    /* sequence counter */
    uint32_t cap;      /* capacity */
    int broken;        /* a growth failed */
} hpol;

static int hpol_grow(hpol *h, uint32_t need)
{
    if (need <= h->nalloc)
        return 0;
    uint32_t o = h->nalloc, n = grow_size(o, need, h->cap);
    if (h->broken || sim_grow_array(&h->h, sizeof *h->h, o, n, -1) ||
        sim_grow_array(&h->pos, sizeof *h->pos, o, n, 0xff) ||
        sim_grow_array(&h->seq, sizeof *h->seq, o, n, 0) ||
        (h->kind != HP_FIFO && sim_grow_array(&h->key, sizeof *h->key, o, n, 0))) {
        h->broken = 1;
        return -1;
    }
    h->nalloc = n;
    h->hp.h = h->h;
    h->hp.pos = h->pos;
    h->hp.seq = h->seq;
    h->hp.key = h->key;
    return 0;
}

static void hpol_destroy(void *st)
{
    hpol *h = st;
    if (!h)
        return;
    sim_free(h->h);
    sim_free(h->pos);
    sim_free(h->seq);
    sim_free(h->key);
    sim_free(h);
}

static void *hpol_create(int kind, uint32_t capacity)
{
    hpol *h = sim_calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->kind = kind;
    h->victim = NONE;
    h->cap = capacity;
    h->hp.step = 1;
    return h;
}

static void *fifo_create(uint32_t c, const memfab_params *p) { return hpol_create(HP_FIFO, c); }
static void *lfu_create(uint32_t c, const memfab_params *p) { return hpol_create(HP_LFU, c); }
static void *cost_create(uint32_t c, const memfab_params *p) { return hpol_create(HP_COST, c); }

static void hpol_insert(void *st, uint32_t b, const memfab_block_info *info)
{
    hpol *h = st;
    if (b >= h->nalloc && hpol_grow(h, b + 1))
        return;
    switch (h->kind) {
    case HP_FIFO:
        /* A block back from a pin keeps its entry number. */
        if (!(h->seq[b] & KEPT))
            h->seq[b] = ++h->clock << 1 | KEPT;
        break;
    case HP_LFU:
        h->key[b] = (double)info->accesses;
        h->seq[b] = ++h->clock;
        break;
    default:
        h->key[b] = info->recompute_s - info->reload_s;
        h->seq[b] = ++h->clock;
        break;
    }
    heap_set(&h->hp, b);
}

static void hpol_touch(void *st, uint32_t b, const memfab_block_info *info)
{
    hpol *h = st;
    if (b >= h->nalloc || h->pos[b] == NONE || h->kind == HP_FIFO)
        return;
    hpol_insert(st, b, info);
}

static void hpol_remove(void *st, uint32_t b)
{
    hpol *h = st;
    if (b >= h->nalloc)
        return;
    if (h->pos[b] != NONE)
        heap_del(&h->hp, b);
    if (b == h->victim) { /* evicted: the handle's next insert is a new block */
        if (h->kind == HP_FIFO)
            h->seq[b] &= ~KEPT;
        h->victim = NONE;
    }
}

static int hpol_victim(void *st, uint32_t *b,
                       const memfab_block_info *(*info)(void *, uint32_t), void *ctx)
{
    hpol *h = st;
    if (!h->hp.n || h->broken)
        return 0;
    *b = h->victim = h->h[0];
    return 1;
}

static const memfab_evict_ops fifo_ops = {"fifo",     fifo_create, hpol_destroy, hpol_insert,
                                          hpol_touch, hpol_remove, hpol_victim};
static const memfab_evict_ops lfu_ops = {"lfu",      lfu_create,  hpol_destroy, hpol_insert,
                                         hpol_touch, hpol_remove, hpol_victim};
static const memfab_evict_ops cost_ops = {"cost",     cost_create, hpol_destroy, hpol_insert,
                                          hpol_touch, hpol_remove, hpol_victim};

/* ---- s3fifo --------------------------------------------------------------- */

/* A handle's seq word: its queue entry number << 4 | queue << 2 | freq.
 * The queue (kept across pins) and the frequency (0..3) ride in the low
 * bits, which never decide an order (entry numbers are unique). */
enum { Q_NONE, Q_S, Q_M };
#define W_FREQ(w) ((uint32_t)(w) & 3u)
#define W_Q(w) ((uint32_t)((w) >> 2) & 3u)
#define W_MAKE(seq, q, f) ((seq) << 4 | (uint64_t)(q) << 2 | (uint64_t)(f))

typedef struct s3 {
    heap s, m;            /* small and main FIFOs, ordered by entry number */
    uint32_t *h;          /* both heaps' handles: S from h[0] up, M from h[nalloc-1] down */
    uint32_t *pos;        /* per handle: position in its queue's heap, NONE when not held */
    uint64_t *w;          /* per handle: entry << 4 | queue << 2 | freq */
    uint64_t *ring;       /* G: evicted ids in FIFO order (gcap of them) */
    uint32_t *gidx;       /* G's index: ring positions by id, NONE empty (gcells) */
    uint32_t gcap, ghead, glen; /* ring capacity, oldest entry, length */
    uint32_t gcells;      /* index cells: 3/2 x gcap, so its load is at most 2/3 */
    uint32_t small_cap;   /* S target: small_size_ratio x capacity */
    uint32_t threshold;   /* move_to_main_threshold */
    uint32_t victim;      /* last block returned by victim, NONE */
    uint64_t victim_id;   /* its id, when it came from S (for G) */
    uint64_t clock;       /* sequence counter */
    uint32_t cap, nalloc; /* capacity; handles the per-handle arrays cover */
    int broken;           /* a growth failed */
} s3;

/* ---- the ghost G ------------------------------------------------------------
 * A ring of the gcap ids most recently evicted from S, and an index from id
 * to ring position: open addressing with linear probing over 4-byte cells
 * holding ring positions (the key is read from the ring, as the store's
 * block index does), at load at most 2/3 (Knuth, TAOCP vol. 3, 6.4: about
 * 5 probes for a miss, 2 for a hit), deletion by Algorithm R (no
 * tombstones). An id is indexed at most once, at its latest ring position;
 * a ring entry whose id was hit (deleted from the index) or added again
 * later is stale and is skipped when it falls out of the ring. 14 B per
 * ghost entry (8 + 6); a sim_idmap (12-byte cells at load 1/4 to 1/2)
 * with the ring took 32-56 B.
 *
 * G is allocated whole when the first eviction can happen: in the store,
 * when the tier's slots reach the capacity (kv_evict_reserve), used alone,
 * at the first eviction into G. Before, G is empty. */
#define GHOST_MAX (UINT32_C(1) << 30) /* ring positions and 3/2 x cells fit 32 bits */

static int ghost_alloc(s3 *x)
{
    if (x->ring)
        return 0;
    if (x->gcap > GHOST_MAX) {
        x->broken = 1;
        return -1;
    }
    x->gcells = x->gcap + (x->gcap + 1) / 2;
    x->ring = sim_calloc(x->gcap, sizeof *x->ring);
    x->gidx = sim_alloc((size_t)x->gcells * sizeof *x->gidx);
    if (!x->ring || !x->gidx) {
        x->broken = 1;
        return -1;
    }
    memset(x->gidx, 0xff, (size_t)x->gcells * sizeof *x->gidx);
    return 0;
}

/* Home cell of id (Lemire's multiply-shift range reduction of its hash). */
static uint32_t ghost_home(const s3 *x, uint64_t id)
{
    return (uint32_t)(((sim_mix64(id) >> 32) * (uint64_t)x->gcells) >> 32);
}

static uint32_t ghost_next(const s3 *x, uint32_t i) { return i + 1 == x->gcells ? 0 : i + 1; }

/* The cell indexing id, or NONE. */
static uint32_t ghost_find(const s3 *x, uint64_t id)
{
    if (!x->gidx)
        return NONE;
    for (uint32_t i = ghost_home(x, id); x->gidx[i] != NONE; i = ghost_next(x, i))
        if (x->ring[x->gidx[i]] == id)
            return i;
    return NONE;
}

/* Empty cell i, shifting the rest of its probe run back (Algorithm R). */
static void ghost_del(s3 *x, uint32_t i)
{
    for (uint32_t j = i;;) {
        j = ghost_next(x, j);
        uint32_t e = x->gidx[j];
        if (e == NONE)
            break;
        uint32_t k = ghost_home(x, x->ring[e]);
        /* Move j back to i unless its home k lies cyclically in (i, j]. */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            x->gidx[i] = e;
            i = j;
        }
    }
    x->gidx[i] = NONE;
}

static void ghost_add(s3 *x, uint64_t id)
{
    if (ghost_alloc(x))
        return;
    if (x->glen == x->gcap) { /* drop the oldest, unless stale */
        uint32_t old = x->ghead, c = ghost_find(x, x->ring[old]);
        if (c != NONE && x->gidx[c] == old)
            ghost_del(x, c);
        x->ghead = x->ghead + 1 == x->gcap ? 0 : x->ghead + 1;
        x->glen--;
    }
    uint32_t at = (uint32_t)(((uint64_t)x->ghead + x->glen) % x->gcap);
    uint32_t c = ghost_find(x, id);
    x->ring[at] = id;
    x->glen++;
    if (c == NONE) /* room: at most gcap ids indexed, in 3/2 x gcap cells */
        for (c = ghost_home(x, id); x->gidx[c] != NONE; c = ghost_next(x, c))
            ;
    x->gidx[c] = at;
}

/* Point both heaps at the arrays (after they moved or grew). */
static void s3_bind(s3 *x)
{
    x->s.h = x->h;
    x->m.h = x->nalloc ? x->h + (x->nalloc - 1) : x->h;
    x->s.pos = x->m.pos = x->pos;
    x->s.seq = x->m.seq = x->w;
}

static int s3_grow(s3 *x, uint32_t need)
{
    if (need > x->nalloc) {
        uint32_t o = x->nalloc, n = grow_size(o, need, x->cap);
        if (x->broken || sim_grow_array(&x->h, sizeof *x->h, o, n, -1) ||
            sim_grow_array(&x->pos, sizeof *x->pos, o, n, 0xff) ||
            sim_grow_array(&x->w, sizeof *x->w, o, n, 0)) {
            s3_bind(x); /* arrays that did grow may have moved; M is still at o */
            x->broken = 1;
            return -1;
        }
        /* M keeps its elements at the end: move them there */
        memmove(x->h + (n - x->m.n), x->h + (o - x->m.n), (size_t)x->m.n * sizeof *x->h);
        x->nalloc = n;
        s3_bind(x);
    }
    return need >= x->cap ? ghost_alloc(x) : 0;
}

static void s3_destroy(void *st)
{
    s3 *x = st;
    if (!x)
        return;
    sim_free(x->h);
    sim_free(x->pos);
    sim_free(x->w);
    sim_free(x->ring);
    sim_free(x->gidx);
    sim_free(x);
}

static void *s3_create(uint32_t capacity, const memfab_params *p)
{
    s3 *x = sim_calloc(1, sizeof *x);
    if (!x)
        return NULL;
    double small = kv_param(p, s3fifo_params, "small_size_ratio");
    double ghost = kv_param(p, s3fifo_params, "ghost_size_ratio");
    double thr = kv_param(p, s3fifo_params, "move_to_main_threshold");
    if (!(small > 0 && small < 1) || !(ghost >= 0) || !(thr >= 1 && thr <= 3))
        goto err;
    x->cap = capacity;
    x->small_cap = (uint32_t)ceil(small * capacity);
    double g = ceil(ghost * capacity); /* above GHOST_MAX: fails when G is needed */
    x->gcap = g > GHOST_MAX ? GHOST_MAX + 1 : g < 1 ? 1 : (uint32_t)g;
    x->threshold = (uint32_t)thr;
    x->victim = NONE;
    x->s.step = 1;
    x->m.step = -1;
    return x;
err:
    s3_destroy(x);
    return NULL;
}

/* Put held handle b at the new end of queue q with frequency f. */
static void s3_enqueue(s3 *x, uint32_t b, uint32_t q, uint32_t f)
{
    x->w[b] = W_MAKE(++x->clock, q, f);
    heap_set(q == Q_S ? &x->s : &x->m, b);
}

static void s3_insert(void *st, uint32_t b, const memfab_block_info *info)
{
    s3 *x = st;
    if (b >= x->nalloc && s3_grow(x, b + 1))
        return;
    uint32_t q = W_Q(x->w[b]);
    if (q != Q_NONE) { /* back from a pin: same queue, same place */
        heap_set(q == Q_S ? &x->s : &x->m, b);
        return;
    }
    uint32_t c = ghost_find(x, info->id);
    if (c != NONE) {
        ghost_del(x, c); /* its ring entry is now stale */
        s3_enqueue(x, b, Q_M, 0);
    } else {
        s3_enqueue(x, b, Q_S, 0);
    }
}

static void s3_hit(s3 *x, uint32_t b)
{
    if (W_FREQ(x->w[b]) < 3)
        x->w[b]++;
}

static void s3_touch(void *st, uint32_t b, const memfab_block_info *info)
{
    s3 *x = st;
    if (b < x->nalloc)
        s3_hit(x, b);
}

static void s3_remove(void *st, uint32_t b)
{
    s3 *x = st;
    if (b >= x->nalloc)
        return;
    uint32_t q = W_Q(x->w[b]);
    if (x->pos[b] != NONE)
        heap_del(q == Q_S ? &x->s : &x->m, b);
    if (b == x->victim) { /* evicted */
        if (q == Q_S)
            ghost_add(x, x->victim_id);
        x->w[b] = 0;
        x->victim = NONE;
    } else { /* pinned: a hit */
        s3_hit(x, b);
    }
}

static int s3_victim(void *st, uint32_t *out,
                     const memfab_block_info *(*info)(void *, uint32_t), void *ctx)
{
    s3 *x = st;
    if (x->broken)
        return 0;
    for (;;) {
        if (x->s.n && (x->s.n >= x->small_cap || !x->m.n)) {
            uint32_t t = x->s.h[0];
            if (W_FREQ(x->w[t]) >= x->threshold) {
                heap_del(&x->s, t);
                s3_enqueue(x, t, Q_M, W_FREQ(x->w[t]));
                continue;
            }
            /* evicted from S: its id goes to G (the store looks it up) */
            const memfab_block_info *in = info ? info(ctx, t) : NULL;
            x->victim_id = in ? in->id : 0;
            *out = x->victim = t;
            return 1;
        }
        if (!x->m.n)
            return 0;
        uint32_t t = x->m.h[0];
        uint32_t f = W_FREQ(x->w[t]);
        if (f > 0) { /* reinserted at M's head */
            s3_enqueue(x, t, Q_M, f - 1);
            continue;
        }
        *out = x->victim = t;
        return 1;
    }
}

static const memfab_evict_ops s3fifo_ops = {"s3fifo", s3_create, s3_destroy, s3_insert,
                                            s3_touch, s3_remove, s3_victim};

const memfab_evict_ops *const kv_evict_policies[] = {&lru_ops,  &lfu_ops,  &fifo_ops,
                                                     &s3fifo_ops, &cost_ops, NULL};

int kv_evict_builtin(const memfab_evict_ops *ops)
{
    for (uint32_t i = 0; kv_evict_policies[i]; i++)
        if (kv_evict_policies[i] == ops)
            return 1;
    return 0;
}

int kv_evict_reserve(const memfab_evict_ops *ops, void *st, uint32_t n)
{
    int rc = 0;
    if (ops == &lru_ops)
        rc = lru_grow(st, n) || ((lru *)st)->broken;
    else if (ops == &fifo_ops || ops == &lfu_ops || ops == &cost_ops)
        rc = hpol_grow(st, n) || ((hpol *)st)->broken;
    else if (ops == &s3fifo_ops)
        rc = s3_grow(st, n) || ((s3 *)st)->broken;
    return rc ? SIM_ENOMEM : 0;
}

int kv_evict_reads_info(const memfab_evict_ops *ops)
{
    return ops != &lru_ops && ops != &fifo_ops;
}
