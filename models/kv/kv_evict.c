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
 *           pins (it returns with its original sequence number). A lazy
 *           min-heap on that number (below), O(log n) per new block, O(1)
 *           per pin. 12 B per handle.
 *   lfu     min-heap on (accesses, last-access sequence): the least
 *           frequently used block, ties by least recently used. O(log n).
 *           24 B per handle.
 *   s3fifo  Yang et al., "FIFO queues are all you need for cache eviction",
 *           SOSP 2023, Algorithm 1, with libCacheSim's defaults: a small
 *           FIFO S of 10% of the capacity, a main FIFO M, a ghost FIFO G of
 *           90% of the capacity holding ids only, 2-bit frequencies capped
 *           at 3. New blocks enter S (M on a ghost hit); when S holds at
 *           least 10% of the capacity its tail moves to M if freq >= 2
 *           (move_to_main_threshold) and is otherwise evicted into G; M's
 *           tail is reinserted with freq - 1 while freq > 0. Both queues
 *           are lazy heaps on a sequence number so that a block pinned and
 *           released keeps its place (only its frequency grows, as for a
 *           hit in the paper). O(log n) amortized per eviction, O(1) per
 *           pin. 12 B per handle, and 13 B per ghost entry once the tier
 *           is full (11.7 B per cached block with the default 90%).
 *   cost    min-heap on (recompute_s - reload_s, last-access sequence).
 *           The benefit of keeping a block is what recomputing it would
 *           cost beyond reloading it from the next tier (where write-back
 *           or write-through leaves a copy); the block with the smallest
 *           benefit is evicted, ties by least recently used. A block cheap
 *           to recompute, or slow to reload, goes first. With no costs
 *           configured (kv_store_set_costs) every benefit is 0 and the
 *           policy is exactly LRU. O(log n). 24 B per handle.
 *
 * Every order is strict: sequence numbers are unique among the handles a
 * policy holds, so the victim is a function of the held set and its keys,
 * whatever the heaps' inner layout (tests/check_kv_policies.c checks each
 * policy against a plain reference of its definition).
 */
#include <math.h>
#include <stddef.h>
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

/* ---- indexed min-heap of 4-byte handles on (key, seq): lfu, cost ----------
 *
 * The heap holds handles; their keys live in per-handle arrays: a primary
 * key, then a sequence number unique per held handle (so the order is
 * strict), and the handle's position, for updates and removals in place. */

typedef struct heap {
    uint32_t n;        /* entries */
    uint32_t *h;       /* handles in heap order */
    uint32_t *pos;     /* per handle: its position, NONE when absent */
    double *key;       /* per handle primary key */
    uint64_t *seq;     /* per handle sequence number */
} heap;

static int less(const heap *hp, uint32_t a, uint32_t b)
{
    if (hp->key[a] != hp->key[b])
        return hp->key[a] < hp->key[b];
    return hp->seq[a] < hp->seq[b];
}

static void place(heap *hp, uint32_t i, uint32_t b)
{
    hp->h[i] = b;
    hp->pos[b] = i;
}

static void sift(heap *hp, uint32_t i)
{
    uint32_t b = hp->h[i];
    while (i > 0 && less(hp, b, hp->h[(i - 1) / 2])) {
        place(hp, i, hp->h[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= hp->n)
            break;
        if (c + 1 < hp->n && less(hp, hp->h[c + 1], hp->h[c]))
            c++;
        if (!less(hp, hp->h[c], b))
            break;
        place(hp, i, hp->h[c]);
        i = c;
    }
    place(hp, i, b);
}

/* Add b (absent) or restore its order after its key or seq changed. */
static void heap_set(heap *hp, uint32_t b)
{
    if (hp->pos[b] == NONE) {
        hp->h[hp->n] = b;
        hp->pos[b] = hp->n++;
    }
    sift(hp, hp->pos[b]);
}

/* Take b out (it is in hp). */
static void heap_del(heap *hp, uint32_t b)
{
    uint32_t i = hp->pos[b];
    hp->pos[b] = NONE;
    uint32_t last = hp->h[--hp->n];
    if (i < hp->n) {
        place(hp, i, last);
        sift(hp, i);
    }
}

/* ---- lazy FIFO heap of 4-byte handles: fifo, s3fifo's queues ----------------
 *
 * A min-heap of handles on their 64-bit sequence words w[b] (the queue
 * entry number in the high bits, the policy's flags in the low ones: the
 * numbers are unique, so whole words compare as the numbers do), with no
 * per-handle position. A block that leaves the policy (a pin) stays in the
 * heap with its W_HELD bit cleared and is dropped only when it reaches the
 * top (lazy deletion); released before that, it is simply marked held
 * again, in its place. So a pin and its release cost O(1) and the victim
 * is the held handle with the least entry number, as with eager removal.
 * W_INQ marks a handle that has an element, so none has two: a heap holds
 * at most one element per handle. Element i lives at h[i * step]: s3fifo
 * keeps its two queues in one array of the handles' size, S from the front
 * (step 1) and M from the back (step -1), since a handle is in one of
 * them at most. */

#define W_HELD UINT64_C(1) /* held by the policy (not pinned, not evicted) */
#define W_INQ UINT64_C(2)  /* has an element in a queue's heap */

typedef struct qheap {
    uint32_t n;          /* elements (held handles and lazily removed ones) */
    ptrdiff_t step;      /* 1, or -1 for a heap growing down from h */
    uint32_t *h;         /* element 0; element i at h[i * step] */
    const uint64_t *w;   /* per handle sequence word */
} qheap;

#define QAT(q, i) ((q)->h[(ptrdiff_t)(i) * (q)->step])

static void q_up(qheap *q, uint32_t i)
{
    uint32_t b = QAT(q, i);
    while (i > 0 && q->w[b] < q->w[QAT(q, (i - 1) / 2)]) {
        QAT(q, i) = QAT(q, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    QAT(q, i) = b;
}

static void q_down(qheap *q, uint32_t i)
{
    uint32_t b = QAT(q, i);
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && q->w[QAT(q, c + 1)] < q->w[QAT(q, c)])
            c++;
        if (!(q->w[QAT(q, c)] < q->w[b]))
            break;
        QAT(q, i) = QAT(q, c);
        i = c;
    }
    QAT(q, i) = b;
}

static void q_push(qheap *q, uint32_t b)
{
    QAT(q, q->n) = b;
    q_up(q, q->n++);
}

/* Take element i out (the top, but for a caller breaking the protocol). */
static void q_take(qheap *q, uint32_t i)
{
    uint32_t last = QAT(q, --q->n);
    if (i < q->n) {
        QAT(q, i) = last;
        q_up(q, i);
        q_down(q, i);
    }
}

/* Take b's element out: it is the top right after victim() chose it. */
static void q_del(qheap *q, uint32_t b)
{
    uint32_t i = 0;
    while (i < q->n && QAT(q, i) != b)
        i++;
    if (i < q->n)
        q_take(q, i);
}

/* The held handle with the least number (there is one): drop the lazily
 * removed ones above it. w is the policy's writable view of q->w. */
static uint32_t q_top(qheap *q, uint64_t *w)
{
    for (;;) {
        uint32_t t = QAT(q, 0);
        if (w[t] & W_HELD)
            return t;
        w[t] &= ~W_INQ;
        q_take(q, 0);
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

/* ---- fifo ------------------------------------------------------------------ */

/* fifo's words: entry number << 3 | W_KEPT | W_INQ | W_HELD. W_KEPT is set
 * while the handle's block has a number (from its first insert until it is
 * evicted), so an insert back from a pin reuses it. Never used: 0. */
#define W_KEPT UINT64_C(4)
#define FIFO_SHIFT 3

typedef struct fifo {
    qheap q;           /* handles with an entry number, held or lazily removed */
    uint32_t *h;       /* the heap's elements */
    uint64_t *w;       /* per handle word */
    uint32_t nalloc;   /* handles the arrays cover */
    uint32_t nheld;    /* held handles */
    uint32_t victim;   /* last block returned by victim, NONE */
    uint64_t clock;    /* entry counter */
    uint32_t cap;      /* capacity */
    int broken;        /* a growth failed */
} fifo;

static int fifo_grow(fifo *f, uint32_t need)
{
    if (need <= f->nalloc)
        return 0;
    uint32_t o = f->nalloc, n = grow_size(o, need, f->cap);
    if (f->broken || sim_grow_array(&f->h, sizeof *f->h, o, n, -1) ||
        sim_grow_array(&f->w, sizeof *f->w, o, n, 0)) {
        f->broken = 1;
        return -1;
    }
    f->nalloc = n;
    f->q.h = f->h;
    f->q.w = f->w;
    return 0;
}

static void fifo_destroy(void *st)
{
    fifo *f = st;
    if (!f)
        return;
    sim_free(f->h);
    sim_free(f->w);
    sim_free(f);
}

static void *fifo_create(uint32_t capacity, const memfab_params *p)
{
    fifo *f = sim_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->victim = NONE;
    f->cap = capacity;
    f->q.step = 1;
    return f;
}

static void fifo_insert(void *st, uint32_t b, const memfab_block_info *info)
{
    fifo *f = st;
    if (b >= f->nalloc && fifo_grow(f, b + 1))
        return;
    uint64_t w = f->w[b];
    if (!(w & W_KEPT)) /* a new block (not back from a pin): the next number */
        w = ++f->clock << FIFO_SHIFT | W_KEPT;
    if (!(w & W_HELD))
        f->nheld++;
    f->w[b] = w | W_HELD | W_INQ;
    if (!(w & W_INQ))
        q_push(&f->q, b);
}

static void fifo_touch(void *st, uint32_t b, const memfab_block_info *info) {}

static void fifo_remove(void *st, uint32_t b)
{
    fifo *f = st;
    if (b >= f->nalloc)
        return;
    if (f->w[b] & W_HELD) {
        f->w[b] &= ~W_HELD;
        f->nheld--;
    }
    if (b == f->victim) { /* evicted: the handle's next insert is a new block */
        if (f->w[b] & W_INQ)
            q_del(&f->q, b);
        f->w[b] = 0;
        f->victim = NONE;
    }
}

static int fifo_victim(void *st, uint32_t *b,
                       const memfab_block_info *(*info)(void *, uint32_t), void *ctx)
{
    fifo *f = st;
    if (!f->nheld || f->broken)
        return 0;
    *b = f->victim = q_top(&f->q, f->w);
    return 1;
}

static const memfab_evict_ops fifo_ops = {"fifo",     fifo_create, fifo_destroy, fifo_insert,
                                          fifo_touch, fifo_remove, fifo_victim};

/* ---- heap-based policies: lfu, cost ---------------------------------------- */

enum { HP_LFU, HP_COST };

typedef struct hpol {
    int kind;          /* HP_* */
    heap hp;           /* held blocks */
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
    if (h->broken || sim_grow_array(&h->hp.h, sizeof *h->hp.h, o, n, -1) ||
        sim_grow_array(&h->hp.pos, sizeof *h->hp.pos, o, n, 0xff) ||
        sim_grow_array(&h->hp.seq, sizeof *h->hp.seq, o, n, 0) ||
        sim_grow_array(&h->hp.key, sizeof *h->hp.key, o, n, 0)) {
        h->broken = 1;
        return -1;
    }
    h->nalloc = n;
    return 0;
}

static void hpol_destroy(void *st)
{
    hpol *h = st;
    if (!h)
        return;
    sim_free(h->hp.h);
    sim_free(h->hp.pos);
    sim_free(h->hp.seq);
    sim_free(h->hp.key);
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
    return h;
}

static void *lfu_create(uint32_t c, const memfab_params *p) { return hpol_create(HP_LFU, c); }
static void *cost_create(uint32_t c, const memfab_params *p) { return hpol_create(HP_COST, c); }

static void hpol_insert(void *st, uint32_t b, const memfab_block_info *info)
{
    hpol *h = st;
    if (b >= h->nalloc && hpol_grow(h, b + 1))
        return;
    h->hp.key[b] = h->kind == HP_LFU ? (double)info->accesses : info->recompute_s - info->reload_s;
    h->hp.seq[b] = ++h->clock;
    heap_set(&h->hp, b);
}

static void hpol_touch(void *st, uint32_t b, const memfab_block_info *info)
{
    hpol *h = st;
    if (b >= h->nalloc || h->hp.pos[b] == NONE)
        return;
    hpol_insert(st, b, info);
}

static void hpol_remove(void *st, uint32_t b)
{
    hpol *h = st;
    if (b >= h->nalloc)
        return;
    if (h->hp.pos[b] != NONE)
        heap_del(&h->hp, b);
    if (b == h->victim)
        h->victim = NONE;
}

static int hpol_victim(void *st, uint32_t *b,
                       const memfab_block_info *(*info)(void *, uint32_t), void *ctx)
{
    hpol *h = st;
    if (!h->hp.n || h->broken)
        return 0;
    *b = h->victim = h->hp.h[0];
    return 1;
}

static const memfab_evict_ops lfu_ops = {"lfu",      lfu_create,  hpol_destroy, hpol_insert,
                                         hpol_touch, hpol_remove, hpol_victim};
static const memfab_evict_ops cost_ops = {"cost",     cost_create, hpol_destroy, hpol_insert,
                                          hpol_touch, hpol_remove, hpol_victim};

/* ---- s3fifo --------------------------------------------------------------- */

/* A handle's word: queue entry number << 6 | queue << 4 | freq << 2 |
 * W_INQ | W_HELD. The queue (kept across pins) and the frequency (0..3)
 * ride in the low bits, which never decide an order. Never used or
 * evicted: 0. */
enum { Q_NONE, Q_S, Q_M };
#define S3_SHIFT 6
#define W_FREQ(w) ((uint32_t)((w) >> 2) & 3u)
#define W_Q(w) ((uint32_t)((w) >> 4) & 3u)
#define W_FREQ1 (UINT64_C(1) << 2)
#define W_MAKE(seq, q, f) ((seq) << S3_SHIFT | (uint64_t)(q) << 4 | (uint64_t)(f) << 2 | W_INQ | W_HELD)

typedef struct s3 {
    qheap s, m;           /* small and main FIFOs, ordered by entry number */
    uint32_t *h;          /* both heaps' elements: S from h[0] up, M from h[nalloc-1] down */
    uint64_t *w;          /* per handle word */
    uint32_t s_held, m_held; /* held handles in S, in M */
    uint64_t *ring;       /* G: evicted ids in FIFO order (gcap of them) */
    uint32_t *gidx;       /* G's index (gcells): tag << 30 | ring position, NONE empty */
    uint32_t gcap, ghead, glen; /* ring capacity, oldest entry, length */
    uint32_t gcells;      /* index cells: 5/4 x gcap, so its load is at most 4/5 */
    uint32_t small_cap;   /* S target: small_size_ratio x capacity */
    uint32_t threshold;   /* move_to_main_threshold */
    uint32_t victim;      /* last block returned by victim, NONE */
    uint64_t victim_id;   /* its id, when it came from S (for G) */
    uint64_t clock;       /* entry counter */
    uint32_t cap, nalloc; /* capacity; handles the per-handle arrays cover */
    int broken;           /* a growth failed */
} s3;

/* ---- the ghost G ------------------------------------------------------------
 * A ring of the gcap ids most recently evicted from S, and an index from id
 * to ring position: open addressing with linear probing over 4-byte cells
 * (the key is read from the ring, as the store's block index does; 2 bits
 * of the id's hash in the cell's top bits spare 3 in 4 of those reads) at
 * load at most 4/5 (Knuth, TAOCP vol. 3, 6.4: 13 cells scanned for a miss,
 * 3 for a hit, contiguous 4-byte cells), deletion by Algorithm R (no
 * tombstones). An id is indexed at most once, at its latest ring position;
 * a ring entry whose id was hit (deleted from the index) or added again
 * later is stale and is skipped when it falls out of the ring. 13 B per
 * ghost entry (8 + 5); a sim_idmap (12-byte cells at load 1/4 to 1/2)
 * with the ring took 32-56 B.
 *
 * G is allocated whole when the first eviction can happen: in the store,
 * when the tier's slots reach the capacity (kv_evict_reserve), used alone,
 * at the first eviction into G. Before, G is empty. */
#define GHOST_MAX ((UINT32_C(1) << 30) - 1) /* positions below 2^30 - 1: no cell is NONE */
#define GPOS(c) ((c) & ((UINT32_C(1) << 30) - 1))

static int ghost_alloc(s3 *x)
{
    if (x->ring)
        return 0;
    if (x->gcap > GHOST_MAX) {
        x->broken = 1;
        return -1;
    }
    x->gcells = x->gcap + x->gcap / 4 + 1;
    x->ring = sim_calloc(x->gcap, sizeof *x->ring);
    x->gidx = sim_alloc((size_t)x->gcells * sizeof *x->gidx);
    if (!x->ring || !x->gidx) {
        x->broken = 1;
        return -1;
    }
    memset(x->gidx, 0xff, (size_t)x->gcells * sizeof *x->gidx);
    return 0;
}

/* Home cell of a hash (Lemire's multiply-shift range reduction of its high
 * half) and its tag (2 bits of the low half). */
static uint32_t ghost_home(const s3 *x, uint64_t hash)
{
    return (uint32_t)(((hash >> 32) * (uint64_t)x->gcells) >> 32);
}

static uint32_t ghost_tag(uint64_t hash) { return (uint32_t)(hash >> 30) & 3u; }

static uint32_t ghost_next(const s3 *x, uint32_t i) { return i + 1 == x->gcells ? 0 : i + 1; }

/* The cell indexing id, or NONE. */
static uint32_t ghost_find(const s3 *x, uint64_t id)
{
    if (!x->gidx)
        return NONE;
    uint64_t hash = sim_mix64(id);
    uint32_t tag = ghost_tag(hash);
    for (uint32_t i = ghost_home(x, hash), c; (c = x->gidx[i]) != NONE; i = ghost_next(x, i))
        if (c >> 30 == tag && x->ring[GPOS(c)] == id)
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
        uint32_t k = ghost_home(x, sim_mix64(x->ring[GPOS(e)]));
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
        if (c != NONE && GPOS(x->gidx[c]) == old)
            ghost_del(x, c);
        x->ghead = x->ghead + 1 == x->gcap ? 0 : x->ghead + 1;
        x->glen--;
    }
    uint32_t at = (uint32_t)(((uint64_t)x->ghead + x->glen) % x->gcap);
    uint32_t c = ghost_find(x, id);
    uint64_t hash = sim_mix64(id);
    x->ring[at] = id;
    x->glen++;
    if (c == NONE) /* room: at most gcap ids indexed, in more cells */
        for (c = ghost_home(x, hash); x->gidx[c] != NONE; c = ghost_next(x, c))
            ;
    x->gidx[c] = ghost_tag(hash) << 30 | at;
}

/* Point both heaps at the arrays (after they moved or grew). */
static void s3_bind(s3 *x)
{
    x->s.h = x->h;
    x->m.h = x->nalloc ? x->h + (x->nalloc - 1) : x->h;
    x->s.w = x->m.w = x->w;
}

static int s3_grow(s3 *x, uint32_t need)
{
    if (need > x->nalloc) {
        uint32_t o = x->nalloc, n = grow_size(o, need, x->cap);
        if (x->broken || sim_grow_array(&x->h, sizeof *x->h, o, n, -1) ||
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
    q_push(q == Q_S ? &x->s : &x->m, b);
}

static void s3_insert(void *st, uint32_t b, const memfab_block_info *info)
{
    s3 *x = st;
    if (b >= x->nalloc && s3_grow(x, b + 1))
        return;
    uint64_t w = x->w[b];
    uint32_t q = W_Q(w);
    if (q != Q_NONE) { /* back from a pin: same queue, same place */
        if (!(w & W_HELD))
            ++*(q == Q_S ? &x->s_held : &x->m_held);
        x->w[b] = w | W_HELD | W_INQ;
        if (!(w & W_INQ))
            q_push(q == Q_S ? &x->s : &x->m, b);
        return;
    }
    uint32_t c = ghost_find(x, info->id);
    if (c != NONE) {
        ghost_del(x, c); /* its ring entry is now stale */
        s3_enqueue(x, b, Q_M, 0);
        x->m_held++;
    } else {
        s3_enqueue(x, b, Q_S, 0);
        x->s_held++;
    }
}

static void s3_hit(s3 *x, uint32_t b)
{
    if (W_FREQ(x->w[b]) < 3)
        x->w[b] += W_FREQ1;
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
    uint64_t w = x->w[b];
    uint32_t q = W_Q(w);
    if (w & W_HELD) {
        --*(q == Q_S ? &x->s_held : &x->m_held);
        x->w[b] = w & ~W_HELD;
    }
    if (b == x->victim) { /* evicted */
        if (w & W_INQ)
            q_del(q == Q_S ? &x->s : &x->m, b);
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
        if (x->s_held && (x->s_held >= x->small_cap || !x->m_held)) {
            uint32_t t = q_top(&x->s, x->w);
            uint32_t f = W_FREQ(x->w[t]);
            if (f >= x->threshold) { /* to M's head */
                q_take(&x->s, 0);
                x->s_held--;
                s3_enqueue(x, t, Q_M, f);
                x->m_held++;
                continue;
            }
            /* evicted from S: its id goes to G (the store looks it up) */
            const memfab_block_info *in = info ? info(ctx, t) : NULL;
            x->victim_id = in ? in->id : 0;
            *out = x->victim = t;
            return 1;
        }
        if (!x->m_held)
            return 0;
        uint32_t t = q_top(&x->m, x->w);
        uint32_t f = W_FREQ(x->w[t]);
        if (f > 0) { /* reinserted at M's head: a larger number, at the top */
            x->w[t] = W_MAKE(++x->clock, Q_M, f - 1);
            q_down(&x->m, 0);
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
    else if (ops == &fifo_ops)
        rc = fifo_grow(st, n) || ((fifo *)st)->broken;
    else if (ops == &lfu_ops || ops == &cost_ops)
        rc = hpol_grow(st, n) || ((hpol *)st)->broken;
    else if (ops == &s3fifo_ops)
        rc = s3_grow(st, n) || ((s3 *)st)->broken;
    return rc ? SIM_ENOMEM : 0;
}

int kv_evict_reads_info(const memfab_evict_ops *ops)
{
    return ops != &lru_ops && ops != &fifo_ops;
}
