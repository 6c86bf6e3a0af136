/*
 * evq.c - the pending-event set: a monotone radix heap with FIFO buckets
 * and a sorted front.
 *
 * STRUCTURE. This is the radix heap of Ahuja, Mehlhorn, Orlin and Tarjan
 * ("Faster algorithms for the shortest path problem", JACM 37(2), 1990),
 * generalised to digits of EVQ_DIGIT bits. It exploits the one promise the
 * run loop makes: time never goes backwards. Let `last` be the time of the
 * last popped event (the clock) and `piv` the pivot, a time <= last and
 * <= every pending time (it is last, or the minimum of the bucket last
 * taken apart). Outside the front (below), a pending event with time t is
 * kept in
 *
 *   - the now lane, when t == piv;
 *   - otherwise bucket (L, d), where L is the highest digit in which t and
 *     piv differ and d is t's value in that digit (d > piv's digit, so
 *     digit 0 is never used).
 *
 * Buckets are numbered L * RADIX + d, so a lower number means a smaller
 * time: every event in a lower bucket is earlier than every event in a
 * higher one. A bitmap of non-empty buckets, with a summary word of its
 * non-zero words, finds the lowest one with two count-trailing-zeros. Each
 * level's table of buckets (tail block, count and minimum; RADIX of them,
 * 6 KB with 8-bit digits) is allocated the first time an event goes to
 * that level. (With the count and minimum in the tail block instead, 2 KB
 * per level, a push had to load that block before writing it, and at 1e5
 * events, where the blocks no longer fit in L2, the hold ran 10-25%
 * slower for the same instructions.) When the front and the now lane are
 * empty, a pop looks at the lowest bucket:
 *   - one event (its count says so: a radix bucket is only ever emptied
 *     whole): it is popped where it is; piv and last become its time;
 *   - level 0: all its events share one time (they agree with piv in every
 *     other digit), so the bucket becomes the now lane; no event moves;
 *   - level L >= 1 and at most FRONT_MAX events: it is sorted into the front;
 *   - otherwise piv becomes the bucket's minimum and the bucket is
 *     redistributed into lower buckets. Every level below L is empty at
 *     that moment, and an event moves only to a strictly lower level, so it
 *     moves at most ceil(64 / EVQ_DIGIT) times in its life.
 * Moving piv from p to a time p' with p <= p' <= every pending time, where
 * p' agrees with p above the lowest non-empty level L and is in the range
 * of the lowest bucket, keeps every bucket where it was: an event of level
 * L' > L still differs from p' first in digit L', one of level L still has
 * a larger digit L than p'.
 *
 * FRONT. Most pops then come from a sorted array: the window
 * [sh, sh + sn) of sm[], in (time, insertion) order, which holds every
 * pending event with time <= flim while `front` is set (the buckets below
 * flim's level are then empty, and the now lane too). Taking a bucket
 * (L, d) of c <= FRONT_MAX events into it costs a sort instead of a
 * redistribution and the pops from one-event buckets that followed it:
 * each event gets the key (its time's bits below digit L, its position in
 * the bucket) in IDX_BITS, so that equal times keep bucket order, which is
 * insertion order (FIFO TIES); above PRESORT_ABOVE events a stable counting
 * pass on about log2(c) top bits of the time leaves an insertion sort
 * little to do. flim becomes the end of the bucket's range, piv its
 * minimum. A push with t <= flim is inserted after every event of time
 * <= t (found from the back, with a binary search past 8 events; when
 * neither narrowing nor sliding can follow, the events passed move up a
 * slot in the same pass, and evq_push is then a leaf). Two
 * things bound that work:
 *   - when the array is full, or pushes have shifted NARROW_BUDGET events
 *     since it was filled, the push narrows it: with the clock c as piv,
 *     the events later than the end of c's range at the level where t
 *     first differs from c move into the empty buckets below flim's level
 *     (in array order, so FIFO holds), flim becomes that end, and t lands
 *     beyond it in a bucket (t == c: the array keeps only time c and t goes
 *     after it);
 *   - when every event is at the clock and the array is full, it spills
 *     into the now lane, and the front ends.
 * Measured with tools/bench-instr.sh (callgrind, 2e5 holds of `memfab
 * bench events`): at 1e3 events in the hold model (1 us mean), 283
 * instructions per hold before the front and the level tables, 206 after;
 * ties (1 ns mean) 273 and 232; at 1e5 321 and 276, ties 203 and 195.
 *
 * FIFO TIES. Buckets are FIFO queues and redistribution scans its source
 * in order and appends, so it is stable. Its destinations are empty when it
 * starts, and every later push carries a larger sequence number than any
 * event already present. By induction each bucket holds its events in
 * insertion order, so events of equal time leave in insertion order without
 * storing or comparing a sequence number. The front sorts by (time,
 * position in the bucket) and inserts after equal times; narrowing and
 * spilling move a suffix of the array, in order, into empty buckets.
 *
 * MEMORY. Buckets are rings of fixed blocks of BLK_N whole 32-byte events
 * (the tail's link is the head), carved from slabs and recycled through a
 * free list, so a redistribution returns its source blocks as it consumes
 * them and the peak is about one copy of the pending events. Memory grows
 * lazily, only when the free list cannot cover an operation, and is
 * checked before the operation changes anything, so a failed allocation
 * leaves the queue as it was:
 *   - a push takes at most one block (its bucket is empty or its tail full)
 *     and maybe one level table; narrowing or spilling m events takes at
 *     most m + 1 blocks and the level tables they reach;
 *   - a redistribution of a level-L bucket of c events has at most
 *     D <= min(c, (RADIX - 1) L + 1) destinations (the now lane and the
 *     buckets of levels below L), all empty when it starts. Each
 *     destination's tail block is partly empty, so when the p-th event
 *     moves they hold fewer than p / BLK_N + D blocks, and, as every radix
 *     bucket starts at slot 0 of its head block, floor((p - 1) / BLK_N)
 *     source blocks have been returned: the move takes at most D free
 *     blocks in net. When fewer than D are free and the queue is small, or
 *     a level table below L is missing, a first pass over the source
 *     computes the exact need (and the levels reached) by replaying the
 *     block takes and returns of the move without moving anything, so a
 *     small queue holds no reserve it will not use.
 * Only push and pop grow memory (a pop can fail with SIM_ENOMEM); nothing
 * shrinks until evq_free. What remains at small sizes is partly filled
 * blocks: at 1e3 pending events in the hold model up to 144 buckets are
 * non-empty at once, each with a partly filled 520-byte block, for about
 * 143 B per event (the fixed part is the 8.6 KB struct and 6 KB per level
 * used, three or four levels there).
 *
 * SMALL QUEUES. While few events are pending (the common case of a
 * simulation with tens of components in flight) the buckets cost more than
 * they save, so every event is kept in the array, with flim = SIM_TIME_MAX,
 * up to SMALL_CAP events; a push that finds it full narrows it as above.
 * When a pop leaves SMALL_LOW events or fewer the others return to the
 * array: the now lane first, then the buckets by number, stably sorted by
 * time (equal times share a bucket, where they are in insertion order)
 * after the array's own events (which are all earlier), with no
 * allocation. The gap between SMALL_LOW and SMALL_CAP keeps a queue near a
 * threshold from moving every event.
 *
 * DIGIT WIDTH. An event moves about once per level between its push and its
 * pop: in a bucket (L, d) redistributed around its minimum, the other events
 * mostly differ from it first in digit L - 1. Wider digits mean fewer levels
 * and fewer moves, but RADIX - 1 buckets per level, each non-empty one with
 * a partly filled block. Measured with `memfab bench events` (hold model,
 * 1 us mean increment; instructions per hold by callgrind, 2e5 holds;
 * before the one-event shortcuts, which brought 8 bits to 316 and 279, and
 * before the front):
 *   4 bits: 469 instructions per hold at 1e5, 62 B per event at 1e3;
 *   6 bits: 390, 98 B; 8 bits: 341, 173 B (then with a fixed 66 KB of
 *   bucket headers, now allocated per level);
 * speedup over the 16-byte binary heap at 1e3 / 1e5 / 1e6 in paired runs:
 * 4 bits 1.0x / 2.4-2.6x / 5.1-5.3x, 8 bits 1.6-1.9x / 3.5-3.8x / 5.5-6.0x.
 * 8 bits are the default.
 *
 * Alternatives considered: a binary heap (libuv style; one cache miss per
 * level once the heap leaves the cache), Brown's calendar queue (CACM 31(10),
 * 1988; needs resizing heuristics and is not FIFO-stable without a sequence
 * compare) and the ladder queue of Tang, Goh and Thng (ACM TOMACS 15(3),
 * 2005; O(1) amortised, and the model of the front: its bottom rung is a
 * sorted list fed by sorting one small bucket, which here stays FIFO-stable
 * because the sort key carries the position in the bucket).
 */
#include "evq.h"

#include <assert.h>
#include <string.h>

#include "err.h"
#include "mem.h"

#ifndef EVQ_DIGIT
#define EVQ_DIGIT 8 /* bits per radix digit, 1 to 8 (see DIGIT WIDTH) */
#endif
#ifndef BLK_N
#define BLK_N 16 /* events per block, a power of two */
#endif
#ifndef SM_CAP
#define SM_CAP 256 /* events the sorted array holds, at most 256 (see FRONT) */
#endif
#ifndef FRONT_MAX
#define FRONT_MAX SM_CAP /* a bucket of at most this many events is sorted into the array */
#endif
#ifndef PRESORT_ABOVE
#define PRESORT_ABOVE 16 /* sort larger buckets in two passes (see FRONT) */
#endif
#ifndef NARROW_BUDGET
#define NARROW_BUDGET 4096 /* events pushes may shift in the array before it narrows */
#endif
#ifndef SMALL_CAP
#define SMALL_CAP 32 /* events the array holds while it holds them all (SMALL QUEUES) */
#endif
#ifndef SMALL_LOW
#define SMALL_LOW (SMALL_CAP / 4) /* every event returns to the array at or below this many */
#endif

#define RADIX (1u << EVQ_DIGIT)
#define LEVELS ((64 + EVQ_DIGIT - 1) / EVQ_DIGIT)
#define NB (LEVELS * RADIX) /* bucket numbers L * RADIX + digit; digit 0 is never used */
#define NWORDS ((NB + 63) / 64)
#define IDX_BITS 8          /* bits of an event's position in a sort key (FRONT) */
/* the highest level whose offsets from the bucket minimum leave IDX_BITS free */
#define FRONT_LEVEL ((64 - IDX_BITS) / EVQ_DIGIT)
/* Below this many blocks a short redistribution reserve is computed exactly
 * (see MEMORY); above, the bound (RADIX - 1) L + 1 costs under 6% of the
 * memory (1,786 blocks at L = 7 with 8-bit digits). At 4096, the value for
 * 4-bit digits, a 1e5-event hold run grew from 36.3 to 40.8 B per event
 * over 5e6 holds; at 32768 it stays at 36.3, with the same instructions. */
#ifndef EXACT_BELOW
#define EXACT_BELOW 32768
#endif

#define COLD __attribute__((noinline, cold)) /* rare: off the paths of push and pop */
#define NOINLINE __attribute__((noinline)) /* once per bucket: out of push and pop */

_Static_assert(NWORDS <= 64, "the summary word covers at most 64 bitmap words");
_Static_assert((BLK_N & (BLK_N - 1)) == 0, "BLK_N is a power of two");
_Static_assert(FRONT_MAX <= SM_CAP && SM_CAP <= (1 << IDX_BITS), "sort keys hold a position");
_Static_assert(SMALL_LOW < SMALL_CAP && SMALL_CAP <= SM_CAP, "the array takes back what it holds");

typedef struct blk {
    struct blk *next;       /* radix bucket: a ring, the tail's next is the head;
                             * now lane: the next block; free list: next free */
    sim_event ev[BLK_N];    /* events, oldest first */
} blk;

typedef struct bkt {
    blk *tail;              /* newest block, or NULL when the bucket is empty */
    uint64_t cnt;           /* events appended */
    sim_time bmin;          /* the earliest of them */
} bkt;

typedef struct lane {
    blk *head;              /* oldest block; NULL when the lane is empty */
    blk *tail;              /* newest block */
    uint32_t rd;            /* next slot to read in head */
    uint32_t wr;            /* next slot to write in tail */
} lane;

typedef struct slab {
    struct slab *next;      /* older slab */
    size_t nblk;            /* blocks carved from this slab */
} slab;

struct evq {
    /* state */
    sim_time last;          /* time of the last popped event (the clock) */
    sim_time piv;           /* the radix pivot: buckets hold times > piv, by the
                             * highest digit in which they differ from it */
    size_t n;               /* pending events */
    int front;              /* 1: sm[] holds every pending event with time <= flim */
    uint32_t cap;           /* with front: SMALL_CAP when flim is SIM_TIME_MAX, else SM_CAP */
    uint32_t shifted;       /* events pushes shifted in the array since it was filled */
    uint32_t sh, sn;        /* sm[sh .. sh + sn) holds them, in (time, insertion) order */
    sim_time flim;          /* see front */
    lane now;               /* events at time == piv == last, FIFO (never with front) */
    uint64_t words;         /* bit w set iff nonempty[w] != 0 */
    uint64_t nonempty[NWORDS]; /* bit b set iff bucket b is non-empty */
    bkt *lv[LEVELS];        /* per level, allocated on first use: the buckets by digit */
    sim_event sm[SM_CAP];   /* the sorted array (FRONT) */
    /* memory */
    blk *free;              /* free blocks */
    size_t nfree;           /* blocks on the free list */
    size_t nblocks;         /* blocks allocated in all slabs */
    slab *slabs;            /* every slab, newest first */
    size_t bytes;           /* bytes held: this struct, level tables and slabs */
};

/* The bucket number of time t > piv. */
static inline unsigned bucket_of(sim_time t, sim_time piv)
{
    unsigned hb = 63u - (unsigned)__builtin_clzll(t ^ piv);
    unsigned lv = hb / EVQ_DIGIT;
    return lv * RADIX + (unsigned)((t >> (lv * EVQ_DIGIT)) & (RADIX - 1));
}

static inline bkt *slot_of(evq *q, unsigned i)
{
    return &q->lv[i / RADIX][i % RADIX];
}

/* Events in the tail block of a radix bucket of cnt >= 1 events. */
static inline uint32_t tail_fill(uint64_t cnt)
{
    return (uint32_t)((cnt - 1) % BLK_N) + 1;
}

static inline blk *blk_get(evq *q)
{
    blk *x = q->free;
    assert(x); /* guaranteed by the checks before every change */
    q->free = x->next;
    q->nfree--;
    return x;
}

static inline void blk_put(evq *q, blk *x)
{
    x->next = q->free;
    q->free = x;
    q->nfree++;
}

static inline void mark(evq *q, unsigned i)
{
    q->nonempty[i >> 6] |= (uint64_t)1 << (i & 63);
    q->words |= (uint64_t)1 << (i >> 6);
}

static inline void unmark(evq *q, unsigned i)
{
    if (!(q->nonempty[i >> 6] &= ~((uint64_t)1 << (i & 63))))
        q->words &= ~((uint64_t)1 << (i >> 6));
}

/* The lowest non-empty bucket; the radix buckets must not all be empty. */
static inline unsigned lowest(const evq *q)
{
    unsigned w = (unsigned)__builtin_ctzll(q->words);
    return w * 64 + (unsigned)__builtin_ctzll(q->nonempty[w]);
}

/* Append an event to bucket i (its level table exists, a block is free if
 * the bucket needs one). */
static inline void radix_put(evq *q, unsigned i, const sim_event *e)
{
    bkt *b = slot_of(q, i);
    blk *tl = b->tail;
    if (!tl) {
        tl = blk_get(q);
        tl->next = tl;
        b->tail = tl;
        b->cnt = 0;
        b->bmin = e->time;
        mark(q, i);
    } else {
        if (b->cnt % BLK_N == 0) { /* the tail is full */
            blk *x = blk_get(q);
            x->next = tl->next;
            tl->next = x;
            b->tail = tl = x;
        }
        if (e->time < b->bmin)
            b->bmin = e->time;
    }
    tl->ev[b->cnt % BLK_N] = *e;
    b->cnt++;
}

/* Append an event to the now lane (a block is free if it needs one). */
static inline void lane_put(evq *q, const sim_event *e)
{
    lane *l = &q->now;
    if (!l->tail) {
        l->head = l->tail = blk_get(q);
        l->rd = l->wr = 0;
    } else if (l->wr == BLK_N) {
        blk *x = blk_get(q);
        l->tail->next = x;
        l->tail = x;
        l->wr = 0;
    }
    l->tail->ev[l->wr++] = *e;
}

/* Add a slab so that at least `want` blocks are free. */
static COLD int grow(evq *q, size_t want)
{
    size_t add = q->nblocks / 8; /* 12.5% steps keep the slack small */
    if (add > 2048)
        add = 2048; /* 1 MB: the slack of a large queue stays under 1 MB */
    if (q->nfree + add < want)
        add = want - q->nfree;
    size_t bytes = sizeof(slab) + add * sizeof(blk);
    slab *s = sim_alloc(bytes);
    if (!s)
        return SIM_ENOMEM;
    s->next = q->slabs;
    s->nblk = add;
    q->slabs = s;
    blk *first = (blk *)(void *)((char *)s + sizeof(slab));
    for (size_t i = add; i-- > 0;)
        blk_put(q, &first[i]);
    q->nblocks += add;
    q->bytes += bytes;
    return 0;
}

/* Make sure the level tables in `mask` exist: 0, or SIM_ENOMEM with none
 * added. */
static COLD int need_levels(evq *q, unsigned mask)
{
    unsigned added = 0;
    for (unsigned L = 0; L < LEVELS; L++) {
        if (!(mask >> L & 1) || q->lv[L])
            continue;
        q->lv[L] = sim_calloc(RADIX, sizeof(bkt));
        if (!q->lv[L]) {
            for (unsigned k = 0; k < L; k++)
                if (added >> k & 1) {
                    sim_free(q->lv[k]);
                    q->lv[k] = NULL;
                    q->bytes -= RADIX * sizeof(bkt);
                }
            return SIM_ENOMEM;
        }
        q->bytes += RADIX * sizeof(bkt);
        added |= 1u << L;
    }
    return 0;
}

evq *evq_new(void)
{
    evq *q = sim_calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->bytes = sizeof *q;
    q->front = 1;
    q->flim = SIM_TIME_MAX;
    q->cap = SMALL_CAP;
    return q;
}

void evq_free(evq *q)
{
    if (!q)
        return;
    slab *s = q->slabs;
    while (s) {
        slab *nx = s->next;
        sim_free(s);
        s = nx;
    }
    for (unsigned L = 0; L < LEVELS; L++)
        sim_free(q->lv[L]);
    sim_free(q);
}

/* Free blocks a redistribution of the bucket with tail tl around pivot
 * `piv` needs: a dry run of the move that counts the events each
 * destination receives (counter 0 is the now lane, counter j + 1 bucket j;
 * the source is at level L, so j < L * RADIX) and replays its block takes
 * and returns. Also sets *levels to the levels the move writes. */
static size_t redistribution_need(const bkt *b, sim_time piv, unsigned L, unsigned *levels)
{
    uint32_t cnt[NB + 1];
    memset(cnt, 0, (L * RADIX + 1) * sizeof cnt[0]);
    size_t held = 0, worst = 0;
    unsigned lvs = 0;
    const blk *tl = b->tail, *x = tl->next;
    for (;;) {
        uint32_t end = (x == tl) ? tail_fill(b->cnt) : BLK_N;
        for (uint32_t r = 0; r < end; r++) {
            sim_time t = x->ev[r].time;
            unsigned j = 0;
            if (t != piv) {
                j = bucket_of(t, piv) + 1;
                lvs |= 1u << ((j - 1) / RADIX);
            }
            if (cnt[j]++ % BLK_N == 0 && ++held > worst)
                worst = held;
        }
        if (x == tl)
            break;
        held--; /* the move returns the consumed block */
        x = x->next;
    }
    *levels = lvs;
    return worst;
}

/* Move bucket i (level L >= 1, more than FRONT_MAX events or above
 * FRONT_LEVEL) into the empty now lane and lower levels around its minimum:
 * 0, or SIM_ENOMEM with nothing changed. */
static NOINLINE int redistribute(evq *q, unsigned i)
{
    unsigned L = i / RADIX;
    bkt *s = slot_of(q, i);
    blk *tl = s->tail;
    uint64_t cnt = s->cnt;
    sim_time piv = s->bmin;
    /* make sure the blocks and level tables the move takes exist (MEMORY) */
    size_t need = (size_t)L * (RADIX - 1) + 1;
    if (cnt < need)
        need = cnt; /* at most one destination per event */
    unsigned lowmask = (1u << L) - 1, levels = lowmask;
    int have_levels = 1;
    for (unsigned k = 0; k < L; k++)
        have_levels &= q->lv[k] != NULL;
    if ((q->nfree < need && q->nblocks < EXACT_BELOW) || !have_levels)
        need = redistribution_need(s, piv, L, &levels);
    int rc = 0; /* (calls of cold functions only on a branch: GCC treats the
                 * code after an unconditional one as cold too) */
    if (!have_levels && (rc = need_levels(q, levels)) != 0)
        return rc;
    if (q->nfree < need && (rc = grow(q, need)) != 0)
        return rc;
    s->tail = NULL;
    unmark(q, i);
    q->piv = piv;
    /* stable: scan in order, append to empty destinations (FIFO TIES) */
    blk *x = tl->next;
    for (;;) {
        uint32_t end = BLK_N;
        if (x == tl)
            end = tail_fill(cnt);
        else /* blocks are scattered: fetch the next one early */
            for (size_t off = 0; off < sizeof(blk); off += 64)
                __builtin_prefetch((const char *)x->next + off);
        for (uint32_t r = 0; r < end; r++) {
            const sim_event *e = &x->ev[r];
            if (e->time == piv)
                lane_put(q, e);
            else
                radix_put(q, bucket_of(e->time, piv), e);
        }
        blk *nx = x->next;
        int done = (x == tl);
        blk_put(q, x);
        if (done)
            break;
        x = nx;
    }
    return 0;
}

/* FRONT: sort bucket i (at most FRONT_MAX events, level <= FRONT_LEVEL)
 * into the empty array, which then covers its whole time range. */
static void extract(evq *q, unsigned i)
{
    unsigned L = i / RADIX, sh = L * EVQ_DIGIT;
    bkt *s = slot_of(q, i);
    blk *tl = s->tail;
    uint64_t cnt = s->cnt;
    sim_time p = s->bmin, low = ((sim_time)1 << sh) - 1;
    uint64_t key[FRONT_MAX], tmp[FRONT_MAX];
    const sim_event *src[FRONT_MAX];
    uint32_t c = 0;
    blk *x = tl->next;
    for (;;) {
        uint32_t end = (x == tl) ? tail_fill(cnt) : BLK_N;
        for (uint32_t r = 0; r < end; r++, c++) {
            /* the bits below the bucket's digit, then the position: the key
             * orders by (time, insertion) */
            key[c] = (x->ev[r].time & low) << IDX_BITS | c;
            src[c] = &x->ev[r];
        }
        blk *nx = x->next;
        int done = (x == tl);
        blk_put(q, x); /* only its link changes: the events stay readable */
        if (done)
            break;
        x = nx;
    }
    uint64_t *k = key;
    if (L > 0 && c > PRESORT_ABOVE) {
        /* a stable counting pass on the top bits of the keys' times, about
         * log2(c) of them (one event per bin), leaves the insertion sort
         * below little to do */
        unsigned bits = 32u - (unsigned)__builtin_clz(c - 1); /* ceil(log2(c)) >= 5 */
        if (bits > EVQ_DIGIT)
            bits = EVQ_DIGIT;
        unsigned top = IDX_BITS + sh - bits;
        uint16_t at[257];
        memset(at, 0, ((1u << bits) + 1) * sizeof at[0]);
        for (uint32_t j = 0; j < c; j++)
            at[(key[j] >> top) + 1]++;
        for (unsigned b = 1; b <= 1u << bits; b++)
            at[b] = (uint16_t)(at[b] + at[b - 1]);
        for (uint32_t j = 0; j < c; j++)
            tmp[at[key[j] >> top]++] = key[j];
        k = tmp;
    }
    if (L > 0) /* a level-0 bucket holds one time, in insertion order */
        for (uint32_t j = 1; j < c; j++) {
            uint64_t v = k[j];
            uint32_t m = j;
            for (; m > 0 && k[m - 1] > v; m--)
                k[m] = k[m - 1];
            k[m] = v;
        }
    for (uint32_t j = 0; j < c; j++)
        q->sm[j] = *src[k[j] & ((1u << IDX_BITS) - 1)];
    s->tail = NULL;
    unmark(q, i);
    q->sh = 0;
    q->sn = c;
    q->piv = p;
    q->front = 1;
    q->cap = SM_CAP;
    q->shifted = 0;
    q->flim = p | low;
}

/* The now lane and the array are empty and the buckets are not: refill one
 * of them from the lowest bucket. 0, or SIM_ENOMEM with nothing changed. */
static NOINLINE int refill(evq *q, unsigned i)
{
    unsigned L = i / RADIX;
    bkt *b = slot_of(q, i);
    blk *tl = b->tail;
    if (L > 0 && b->cnt <= FRONT_MAX && L <= FRONT_LEVEL) {
        extract(q, i);
        return 0;
    }
    if (L == 0) { /* one time: the bucket becomes the now lane, nothing moves */
        b->tail = NULL;
        unmark(q, i);
        q->piv = b->bmin;
        q->now.head = tl->next;
        q->now.tail = tl;
        q->now.rd = 0;
        q->now.wr = tail_fill(b->cnt);
        q->front = 0;
        return 0;
    }
    int rc = redistribute(q, i);
    if (!rc)
        q->front = 0;
    return rc;
}

/* FRONT: the array is full and e->time <= flim: move the array into the now
 * lane and the lower levels around the clock, making sure the memory for
 * this and for pushing t exists first. 0, or SIM_ENOMEM with nothing changed. */
static COLD int spill(evq *q, sim_time t)
{
    sim_time c = q->last;
    const sim_event *a = q->sm + q->sh;
    unsigned levels = t != c ? 1u << (bucket_of(t, c) / RADIX) : 0;
    for (uint32_t k = 0; k < q->sn; k++)
        if (a[k].time != c)
            levels |= 1u << (bucket_of(a[k].time, c) / RADIX);
    int rc = need_levels(q, levels);
    if (rc)
        return rc;
    if (q->nfree < (size_t)q->sn + 1 && (rc = grow(q, (size_t)q->sn + 1)) != 0)
        return rc; /* each event may open a bucket, and so may t */
    q->piv = c;
    for (uint32_t k = 0; k < q->sn; k++) {
        if (a[k].time == c)
            lane_put(q, &a[k]);
        else
            radix_put(q, bucket_of(a[k].time, c), &a[k]);
    }
    q->sh = q->sn = 0;
    q->front = 0;
    return 0;
}

/* Append the events of the now lane, then of every bucket by number, to the
 * array, and empty them. */
static void lane_to_small(evq *q)
{
    lane *l = &q->now;
    blk *x = l->head;
    uint32_t r = l->rd;
    while (x) {
        uint32_t end = (x == l->tail) ? l->wr : BLK_N;
        for (; r < end; r++)
            q->sm[q->sn++] = x->ev[r];
        blk *nx = (x == l->tail) ? NULL : x->next;
        blk_put(q, x);
        x = nx;
        r = 0;
    }
    memset(l, 0, sizeof *l);
}

static void bucket_to_small(evq *q, unsigned i)
{
    bkt *s = slot_of(q, i);
    blk *tl = s->tail, *x = tl->next;
    for (;;) {
        uint32_t end = (x == tl) ? tail_fill(s->cnt) : BLK_N;
        for (uint32_t r = 0; r < end; r++)
            q->sm[q->sn++] = x->ev[r];
        blk *nx = x->next;
        int done = (x == tl);
        blk_put(q, x);
        if (done)
            break;
        x = nx;
    }
    s->tail = NULL;
    unmark(q, i);
}

/* SMALL QUEUES: move every pending event (at most SMALL_LOW) into the array. */
static COLD void to_small(evq *q)
{
    if (q->sh) {
        memmove(q->sm, q->sm + q->sh, q->sn * sizeof q->sm[0]);
        q->sh = 0;
    }
    uint32_t from = q->sn; /* the array's events precede all others */
    lane_to_small(q);
    while (q->words)
        bucket_to_small(q, lowest(q));
    /* stable insertion sort by time: equal times came from one bucket, in order */
    for (uint32_t i = from + 1; i < q->sn; i++) {
        sim_event e = q->sm[i];
        uint32_t j = i;
        while (j > from && q->sm[j - 1].time > e.time) {
            q->sm[j] = q->sm[j - 1];
            j--;
        }
        q->sm[j] = e;
    }
    q->front = 1;
    q->flim = SIM_TIME_MAX;
    q->cap = SMALL_CAP;
    q->piv = q->last;
}

/* The first of a[0, n) later than t (n when none is): a binary search of
 * the sorted array, for narrowing and for a push's insertion point. */
static inline uint32_t first_later(const sim_event *a, uint32_t n, sim_time t)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (a[mid].time > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* FRONT: a push of t <= flim would shift many events of the array, or finds
 * it full: narrow the array to the events of the clock's sub-range at the
 * level where t first differs from the clock (so that t falls beyond it,
 * unless t is the clock), moving the later events into the (empty) buckets
 * of the levels below flim's, around the clock; make sure the memory for
 * the move and for pushing t exists first. 1 when events moved, 0 when
 * none did (every event is in the new range), or SIM_ENOMEM with nothing
 * changed. */
static COLD int narrow(evq *q, sim_time t)
{
    sim_time c = q->last;
    unsigned l = t == c ? 0 : (63u - (unsigned)__builtin_clzll(t ^ c)) / EVQ_DIGIT;
    sim_time nf = c | (((sim_time)1 << (l * EVQ_DIGIT)) - 1);
    const sim_event *a = q->sm + q->sh;
    uint32_t lo = first_later(a, q->sn, nf);
    if (lo == q->sn && t == c)
        return 0;
    unsigned levels = t != c ? 1u << (bucket_of(t, c) / RADIX) : 0;
    for (uint32_t k = lo; k < q->sn; k++)
        levels |= 1u << (bucket_of(a[k].time, c) / RADIX);
    int rc = need_levels(q, levels);
    if (rc)
        return rc;
    size_t need = (size_t)(q->sn - lo) + 1; /* each event may open a bucket, and so may t */
    if (q->nfree < need && (rc = grow(q, need)) != 0)
        return rc;
    q->piv = c;
    for (uint32_t k = lo; k < q->sn; k++)
        radix_put(q, bucket_of(a[k].time, c), &a[k]);
    q->sn = lo;
    if (!lo)
        q->sh = 0;
    q->flim = nf;
    q->cap = SM_CAP;
    q->shifted = 0;
    return 1;
}

/* The insertion point of time t in the array: after every event of time
 * <= t (FIFO). Pushes mostly land near the end. */
static inline uint32_t insertion_point(const evq *q, sim_time t)
{
    const sim_event *a = q->sm + q->sh;
    uint32_t hi = q->sn, stop = hi > 8 ? hi - 8 : 0;
    while (hi > stop && a[hi - 1].time > t)
        hi--;
    if (hi == stop && hi > 0 && a[hi - 1].time > t)
        hi = first_later(a, hi, t);
    return hi;
}

/* Move the n events at a one slot up, one event at a time: a push mostly
 * moves a few (about 6 in the fabric replay), which costs less so than a
 * call to memmove. The empty asm keeps the compiler from turning the loop
 * back into that call. */
static inline void shift_up(sim_event *a, uint32_t n)
{
    sim_event *d = a + n;
    while (d > a) {
        d[0] = d[-1];
        d--;
        __asm__("" : "+r"(d));
    }
}

/* A push into the radix heap (or the now lane): t >= the clock, and t is
 * beyond the array's range (or the array is off). */
static __attribute__((noinline)) int push_radix(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    if (t == q->piv) {
        if (!q->free && (!q->now.tail || q->now.wr == BLK_N) && grow(q, 1))
            return SIM_ENOMEM;
        lane_put(q, e);
    } else {
        unsigned i = bucket_of(t, q->piv);
        if (!q->lv[i / RADIX] && need_levels(q, 1u << (i / RADIX)))
            return SIM_ENOMEM;
        if (!q->free) {
            const bkt *b = slot_of(q, i);
            if ((!b->tail || b->cnt % BLK_N == 0) && grow(q, 1))
                return SIM_ENOMEM;
        }
        radix_put(q, i, e);
    }
    q->n++;
    return 0;
}

/* A push into the array that must narrow, spill or slide it first (or
 * that falls beyond the array once narrowed). */
static COLD int push_front(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    uint32_t pos = insertion_point(q, t);
    if (q->sn == q->cap || q->shifted + (q->sn - pos) > NARROW_BUDGET) {
        int rc = narrow(q, t);
        if (rc < 0 && q->sn == q->cap)
            return rc;
        if (rc == 0 && q->sn == q->cap) {
            rc = spill(q, t); /* every event is at the clock, and so is t */
            if (rc)
                return rc;
        }
        if (rc == 1 && t > q->flim)
            return push_radix(q, e); /* memory for it is secured */
        /* t is the clock (appended), or memory failed (insert anyway) */
        pos = insertion_point(q, t);
    }
    if (!q->front)
        return push_radix(q, e);
    sim_event *base = q->sm + q->sh;
    if (q->sh + q->sn == SM_CAP) { /* no room at the end: slide to the start */
        memmove(q->sm, base, q->sn * sizeof q->sm[0]);
        q->sh = 0;
        base = q->sm;
    }
    q->shifted += q->sn - pos;
    if (q->sn - pos <= 16)
        shift_up(base + pos, q->sn - pos);
    else
        memmove(base + pos + 1, base + pos, (q->sn - pos) * sizeof *base);
    base[pos] = *e;
    q->sn++;
    q->n++;
    return 0;
}

/* The rest of a push more than 8 events deep in the array, whose last
 * 8 events moved up a slot already (a[i] is free): a binary search in
 * [0, i) for the insertion point, and the events from it moved up. */
static COLD int push_deep(evq *q, const sim_event *e, uint32_t i)
{
    sim_event *a = q->sm + q->sh;
    uint32_t hi = first_later(a, i, e->time);
    memmove(a + hi + 1, a + hi, (i - hi) * sizeof *a);
    a[hi] = *e;
    q->shifted += q->sn - hi;
    q->sn++;
    q->n++;
    return 0;
}

int evq_push(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    if (t < q->last)
        return SIM_EINVAL;
    if (!q->front || t > q->flim)
        return push_radix(q, e);
    if (q->sn == q->cap || q->sh + q->sn == SM_CAP || q->shifted + q->sn > NARROW_BUDGET)
        return push_front(q, e);
    /* Into the sorted array, where neither narrowing nor sliding can
     * follow, whatever the insertion point: find it as insertion_point()
     * does (back 8 events, then a binary search), moving each event passed
     * up a slot on the way. */
    sim_event *a = q->sm + q->sh, *p = a + q->sn;
    sim_event *lim = q->sn > 8 ? p - 8 : a;
    while (p > lim && p[-1].time > t) {
        p[0] = p[-1];
        p--;
    }
    uint32_t i = (uint32_t)(p - a);
    if (p == lim && i > 0 && a[i - 1].time > t)
        return push_deep(q, e, i);
    a[i] = *e;
    q->shifted += q->sn - i;
    q->sn++;
    q->n++;
    return 0;
}

/* The end of every pop: one event fewer, and back to the array when few
 * are left (SMALL QUEUES). */
static inline int popped(evq *q)
{
    q->n--;
    if (q->n <= SMALL_LOW && q->n > q->sn)
        to_small(q);
    return 1;
}

/* A pop from the sorted array (q->sn > 0). */
static inline int pop_sorted(evq *q, sim_event *out)
{
    *out = q->sm[q->sh++];
    q->last = out->time;
    if (--q->sn == 0)
        q->sh = 0;
    return popped(q);
}

int evq_pop(evq *q, sim_event *out)
{
    if (q->sn) {
        return pop_sorted(q, out);
    } else if (q->now.head) {
        lane *l = &q->now;
        *out = l->head->ev[l->rd++];
        q->last = q->piv;
        if (l->head == l->tail) {
            if (l->rd == l->wr) {
                blk_put(q, l->head);
                l->head = l->tail = NULL;
                l->rd = l->wr = 0;
            }
        } else if (l->rd == BLK_N) {
            blk *x = l->head;
            l->head = x->next;
            l->rd = 0;
            blk_put(q, x);
            if (l->head != l->tail)
                __builtin_prefetch(l->head->next);
        }
    } else if (q->n == 0) {
        return 0;
    } else {
        unsigned i = lowest(q);
        bkt *s = slot_of(q, i);
        if (s->cnt == 1) { /* a bucket of one event: popped where it is */
            *out = s->tail->ev[0];
            blk_put(q, s->tail);
            s->tail = NULL;
            unmark(q, i);
            q->piv = q->last = out->time;
            q->front = 0;
        } else {
            int rc = refill(q, i);
            if (rc)
                return rc;
            return evq_pop(q, out) == 1 ? 1 : SIM_ENOMEM; /* cannot fail now */
        }
    }
    return popped(q);
}

int evq_pop_until(evq *q, sim_time until, sim_event *out)
{
    if (q->sn) { /* the front: evq_pop's first case */
        sim_time t = q->sm[q->sh].time;
        if (t > until || t == SIM_TIME_MAX)
            return 0;
        return pop_sorted(q, out);
    }
    sim_time t = evq_peek_time(q);
    if (t == SIM_TIME_MAX || t > until)
        return 0;
    return evq_pop(q, out);
}

sim_time evq_peek_time(evq *q)
{
    if (q->n == 0)
        return SIM_TIME_MAX;
    if (q->sn)
        return q->sm[q->sh].time;
    if (q->now.head)
        return q->piv;
    return slot_of(q, lowest(q))->bmin;
}

size_t evq_size(const evq *q) { return q->n; }

size_t evq_bytes(const evq *q) { return q->bytes; }

/* Return every block of the now lane and of the buckets to the free list. */
static void drain(evq *q)
{
    for (blk *x = q->now.head; x;) {
        blk *nx = (x == q->now.tail) ? NULL : x->next;
        blk_put(q, x);
        x = nx;
    }
    memset(&q->now, 0, sizeof q->now);
    while (q->words) {
        unsigned i = lowest(q);
        bkt *s = slot_of(q, i);
        blk *tl = s->tail, *x = tl->next;
        for (;;) {
            blk *nx = x->next;
            int done = (x == tl);
            blk_put(q, x);
            if (done)
                break;
            x = nx;
        }
        s->tail = NULL;
        unmark(q, i);
    }
}

void evq_clear(evq *q)
{
    drain(q);
    q->sh = q->sn = 0;
    q->n = 0;
    q->last = q->piv = 0;
    q->front = 1;
    q->flim = SIM_TIME_MAX;
    q->cap = SMALL_CAP;
}
