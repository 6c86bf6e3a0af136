/*
 * evq.c - the pending-event set: a monotone radix heap with FIFO buckets.
 *
 * STRUCTURE. This is the radix heap of Ahuja, Mehlhorn, Orlin and Tarjan
 * ("Faster algorithms for the shortest path problem", JACM 37(2), 1990),
 * generalised to digits of EVQ_DIGIT bits. It exploits the one promise the
 * run loop makes: time never goes backwards. Let `last` be the time of the
 * last popped event. A pending event with time t is kept in
 *
 *   - the now lane, when t == last;
 *   - otherwise bucket (L, d), where L is the highest digit in which t and
 *     last differ and d is t's value in that digit (d > last's digit,
 *     because t > last, so digit 0 is never used).
 *
 * Buckets are numbered L * (RADIX - 1) + d - 1 (digit 0 is never used, so
 * it has no bucket), so a lower number means a smaller time: every event in a lower bucket is earlier than every event in a
 * higher one. A bitmap of non-empty buckets, with a summary word of its
 * non-zero words, finds the lowest one with two count-trailing-zeros. Popping takes from the now lane; when it is empty:
 *   - if the lowest bucket has L == 0, all its events share one time (they
 *     agree with last in every other digit), and so does a bucket of one
 *     event (its count says so: a radix bucket is only ever emptied whole),
 *     so it becomes the now lane by swapping two bucket headers: no event
 *     moves (a one-event bucket is popped in place, and its block freed).
 *     The second case is the common one when the pending events are
 *     sparser than one per 2^EVQ_DIGIT ps: a level-1 bucket of one event;
 *   - otherwise last becomes that bucket's minimum (kept per bucket as
 *     events are appended) and the bucket is redistributed into lower
 *     buckets. Every level below L is empty at that moment, and an event
 *     moves only to a strictly lower level, so it moves at most
 *     ceil(64 / EVQ_DIGIT) times in its life (two or three in a hold model).
 *
 * FIFO TIES. Buckets are FIFO queues and redistribution scans its source
 * in order and appends, so it is stable. Its destinations are empty when it
 * starts, and every later push carries a larger sequence number than any
 * event already present. By induction each bucket holds its events in
 * insertion order, so events of equal time leave in insertion order without
 * storing or comparing a sequence number.
 *
 * MEMORY. Buckets are singly linked lists of fixed blocks of BLK_N whole
 * 32-byte events, carved from slabs and recycled through a free list, so
 * a redistribution returns its source blocks as it consumes them and the
 * peak is about one copy of the pending events. Memory grows lazily, only
 * when the free list cannot cover an operation, and is checked before the
 * operation changes anything, so a failed allocation leaves the queue as it
 * was:
 *   - a push takes at most one block (its bucket is empty or its tail full);
 *   - a redistribution of a level-L bucket of c events has at most
 *     D <= min(c, (RADIX - 1) L + 1) destinations (the now lane and the
 *     buckets of levels below L; each bucket counts the events appended
 *     to it), all empty when it starts. Each destination's tail block is
 *     partly empty, so when the p-th event moves they hold fewer than
 *     p / BLK_N + D blocks, and, as every radix bucket starts at slot 0 of
 *     its head block, floor((p - 1) / BLK_N) source blocks have been
 *     returned: the move takes at most D free blocks in net. When fewer
 *     than D are free and the queue is small, a first pass over the source
 *     computes the exact need by replaying the block takes and returns of
 *     the move without moving anything, so a small queue holds no reserve
 *     it will not use.
 * Only push and pop grow memory (a pop can fail with SIM_ENOMEM); nothing
 * shrinks until evq_free.
 *
 * SMALL QUEUES. While few events are pending (the common case of a
 * simulation with tens of components in flight), the buckets cost more
 * than they save: a pop that empties the now lane redistributes a bucket
 * holding one or two events. Up to SMALL_CAP events are therefore kept in
 * a sorted array (a window [sh, sh + sn) of sm[]): a push scans from the
 * back past the events with a strictly later time and inserts there, so
 * equal times keep insertion order (FIFO) without a sequence number; a pop
 * takes the front. A push that finds the array full moves every event into
 * the radix heap in array order (which is (time, insertion) order, so the
 * FIFO invariant of the buckets holds), after making sure the blocks they
 * can take are free; when a pop leaves SMALL_LOW events or fewer in the
 * radix heap they return to the array: the now lane first, then the buckets
 * by number, stably sorted by time (equal times share a bucket, where they
 * are in insertion order), with no allocation. The gap between SMALL_LOW
 * and SMALL_CAP keeps a queue near a threshold from moving every event.
 *
 * DIGIT WIDTH. An event moves about once per level between its push and its
 * pop: in a bucket (L, d) redistributed around its minimum, the other events
 * mostly differ from it first in digit L - 1. Wider digits mean fewer levels
 * and fewer moves, but RADIX - 1 buckets per level, each non-empty one with
 * a partly filled block. Measured with `memfab bench events` (hold model,
 * 1 us mean increment; instructions per hold by callgrind, 2e5 holds;
 * before the one-event shortcuts, which brought 8 bits to 316 and 279):
 *   4 bits: 469 instructions per hold at 1e5, 62 B per event at 1e3;
 *   6 bits: 390, 98 B; 8 bits: 341, 173 B (the fixed 66 KB of bucket
 *   headers and one partly filled block per level-1 bucket);
 * speedup over the 16-byte binary heap at 1e3 / 1e5 / 1e6 in paired runs:
 * 4 bits 1.0x / 2.4-2.6x / 5.1-5.3x, 8 bits 1.6-1.9x / 3.5-3.8x / 5.5-6.0x.
 * 8 bits are the default: memory per event is the same from 1e5 up
 * (36 B against 35.8 B) and only a small queue pays the fixed headers.
 *
 * Alternatives considered: a binary heap (libuv style; one cache miss per
 * level once the heap leaves the cache), Brown's calendar queue (CACM 31(10),
 * 1988; needs resizing heuristics and is not FIFO-stable without a sequence
 * compare) and the ladder queue of Tang, Goh and Thng (ACM TOMACS 15(3),
 * 2005; O(1) amortised but sorts its bottom rung, which again needs the
 * sequence number for ties).
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
#define BLK_N 16 /* events per block */
#endif

#ifndef SMALL_CAP
#define SMALL_CAP 32 /* events kept in the sorted array (0: never) */
#endif
#define SMALL_LOW (SMALL_CAP / 4) /* return to the array at or below this many */

#define RADIX (1u << EVQ_DIGIT)
#define LEVELS ((64 + EVQ_DIGIT - 1) / EVQ_DIGIT)
#define NB (LEVELS * (RADIX - 1))             /* bucket numbers (digit 0 is never used) */
#define NWORDS ((NB + 63) / 64)
/* Below this many blocks a short redistribution reserve is computed exactly
 * (see MEMORY); above, the bound (RADIX - 1) L + 1 costs under 6% of the
 * memory (1,786 blocks at L = 7 with 8-bit digits). At 4096, the value for
 * 4-bit digits, a 1e5-event hold run grew from 36.3 to 40.8 B per event
 * over 5e6 holds; at 32768 it stays at 36.3, with the same instructions. */
#ifndef EXACT_BELOW
#define EXACT_BELOW 32768
#endif

typedef struct blk {
    struct blk *next;       /* next block of the bucket, or next free block */
    sim_event ev[BLK_N];    /* events, oldest first */
} blk;

typedef struct bucket {
    blk *head;              /* oldest block; NULL when the bucket is empty */
    blk *tail;              /* newest block */
    uint16_t rd;            /* next slot to read in head */
    uint16_t wr;            /* next slot to write in tail */
    uint32_t cnt;           /* events appended (radix buckets), saturating */
} bucket;

typedef struct slab {
    struct slab *next;      /* older slab */
    size_t nblk;            /* blocks carved from this slab */
} slab;

struct evq {
    /* state */
    sim_time last;          /* time of the last popped event (the clock) */
    size_t n;               /* pending events */
    int small;              /* 1: the events are in sm[], the buckets are empty */
    uint32_t sh, sn;        /* sm[sh .. sh + sn) holds them, in (time, insertion) order */
    sim_event sm[SMALL_CAP > 0 ? SMALL_CAP : 1]; /* the sorted array (SMALL QUEUES) */
    bucket now;             /* events at time == last, FIFO */
    uint64_t nonempty[NWORDS]; /* bit b set iff bucket b is non-empty */
    uint64_t words;         /* bit w set iff nonempty[w] != 0 */
    bucket b[NB];           /* radix buckets, numbered L * (RADIX - 1) + digit - 1 */
    sim_time bmin[NB];      /* earliest time in each non-empty bucket */
    /* memory */
    blk *free;              /* free blocks */
    size_t nfree;           /* blocks on the free list */
    size_t nblocks;         /* blocks allocated in all slabs */
    slab *slabs;            /* every slab, newest first */
    size_t bytes;           /* bytes held: this struct plus slabs */
};

/* The bucket number of time t > last. */
static inline unsigned bucket_of(sim_time t, sim_time last)
{
    unsigned hb = 63u - (unsigned)__builtin_clzll(t ^ last);
    unsigned lv = hb / EVQ_DIGIT;
    return lv * (RADIX - 1) + (unsigned)((t >> (lv * EVQ_DIGIT)) & (RADIX - 1)) - 1;
}

static inline blk *blk_get(evq *q)
{
    blk *x = q->free;
    assert(x); /* guaranteed by the checks in evq_push and advance */
    q->free = x->next;
    q->nfree--;
    x->next = NULL;
    return x;
}

static inline void blk_put(evq *q, blk *x)
{
    x->next = q->free;
    q->free = x;
    q->nfree++;
}

/* Append an event to a bucket; the bucket's minimum is the caller's job. */
static inline void bucket_put(evq *q, bucket *bk, const sim_event *e)
{
    if (!bk->tail) {
        bk->head = bk->tail = blk_get(q);
        bk->rd = bk->wr = 0;
        bk->cnt = 0;
    } else if (bk->wr == BLK_N) {
        blk *x = blk_get(q);
        bk->tail->next = x;
        bk->tail = x;
        bk->wr = 0;
    }
    bk->tail->ev[bk->wr++] = *e;
    bk->cnt += (bk->cnt != UINT32_MAX);
}

_Static_assert(NWORDS <= 64, "the summary word covers at most 64 bitmap words");

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

/* The lowest non-empty bucket, or NB when all are empty. */
static inline unsigned lowest(const evq *q)
{
    if (!q->words)
        return NB;
    unsigned w = (unsigned)__builtin_ctzll(q->words);
    return w * 64 + (unsigned)__builtin_ctzll(q->nonempty[w]);
}

/* Add a slab so that at least `want` blocks are free. */
static int grow(evq *q, size_t want)
{
    size_t add = q->nblocks / 8; /* 12.5% steps keep the slack small */
    if (add > 8192)
        add = 8192;
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

evq *evq_new(void)
{
    evq *q = sim_calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->bytes = sizeof *q;
    q->small = SMALL_CAP > 0;
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
    sim_free(q);
}

static inline __attribute__((always_inline)) int radix_push(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    unsigned i = 0;
    bucket *bk = &q->now;
    if (t != q->last) {
        i = bucket_of(t, q->last);
        bk = &q->b[i];
    }
    if (!q->free && (!bk->tail || bk->wr == BLK_N)) {
        int rc = grow(q, 1);
        if (rc)
            return rc;
    }
    if (bk != &q->now) {
        if (!bk->head) {
            q->bmin[i] = t;
            mark(q, i);
        } else if (t < q->bmin[i]) {
            q->bmin[i] = t;
        }
    }
    bucket_put(q, bk, e);
    return 0;
}

/* Free blocks a redistribution of src at clock `last` needs: a dry run of
 * the move that counts the events each destination receives (counter 0 is
 * the now lane; bucket 0 is never used, as digit 0 never is) and replays
 * its block takes and returns. src is at level L, so every destination is
 * below L * (RADIX - 1); counter j + 1 is bucket j. */
static size_t redistribution_need(const bucket *src, sim_time last, unsigned L)
{
    uint32_t cnt[NB + 1];
    memset(cnt, 0, (L * (RADIX - 1) + 1) * sizeof cnt[0]);
    size_t held = 0, worst = 0;
    const blk *x = src->head;
    uint32_t r = src->rd;
    for (;;) {
        uint32_t end = (x == src->tail) ? src->wr : BLK_N;
        for (; r < end; r++) {
            sim_time t = x->ev[r].time;
            unsigned j = t == last ? 0 : bucket_of(t, last) + 1;
            if (cnt[j]++ % BLK_N == 0 && ++held > worst)
                worst = held;
        }
        if (x == src->tail)
            break;
        held--; /* advance returns the consumed block */
        x = x->next;
        r = 0;
    }
    return worst;
}

/* Refill the empty now lane from the lowest non-empty bucket: 0, or
 * SIM_ENOMEM with nothing changed. */
static int advance(evq *q, unsigned i)
{
    assert(i < NB);
    /* a bucket of level 0, or of one event, holds one time only */
    int one_time = i < RADIX - 1 || q->b[i].cnt == 1;
    if (!one_time) {
        /* make sure the blocks the move takes are free (see MEMORY) */
        unsigned lv = i / (RADIX - 1);
        const bucket *sb = &q->b[i];
        size_t need = (size_t)lv * (RADIX - 1) + 1;
        if (sb->cnt < need)
            need = sb->cnt; /* at most one destination per event */
        if (q->nfree < need) {
            if (q->nblocks < EXACT_BELOW)
                need = redistribution_need(&q->b[i], q->bmin[i], lv);
            if (q->nfree < need) {
                int rc = grow(q, need);
                if (rc)
                    return rc;
            }
        }
    }
    bucket src = q->b[i];
    memset(&q->b[i], 0, sizeof q->b[i]);
    unmark(q, i);
    if (one_time) {
        /* every event is at the bucket's minimum: it becomes the now lane */
        q->last = q->bmin[i];
        q->now = src;
        return 0;
    }
    sim_time last = q->last = q->bmin[i];
    /* stable redistribution into the (empty) lower levels */
    blk *x = src.head;
    uint32_t r = src.rd;
    for (;;) {
        uint32_t end = (x == src.tail) ? src.wr : BLK_N;
        if (x != src.tail) /* blocks are scattered: fetch the next one early */
            for (size_t off = 0; off < sizeof(blk); off += 64)
                __builtin_prefetch((const char *)x->next + off);
        for (; r < end; r++) {
            const sim_event *e = &x->ev[r];
            sim_time t = e->time;
            if (t == last) {
                bucket_put(q, &q->now, e);
            } else {
                unsigned j = bucket_of(t, last);
                bucket *bk = &q->b[j];
                if (!bk->head) {
                    q->bmin[j] = t;
                    mark(q, j);
                } else if (t < q->bmin[j]) {
                    q->bmin[j] = t;
                }
                bucket_put(q, bk, e);
            }
        }
        blk *nx = x->next;
        int done = (x == src.tail);
        blk_put(q, x);
        if (done)
            break;
        x = nx;
        r = 0;
    }
    return 0;
}

static int radix_pop(evq *q, sim_event *out)
{
    if (!q->now.head) {
        unsigned i = lowest(q); /* < NB: the queue is not empty */
        if (i < NB && q->b[i].cnt == 1) {
            bucket *bk = &q->b[i];
            /* a bucket of one event: take it there, no now lane (STRUCTURE) */
            *out = bk->head->ev[bk->rd];
            blk_put(q, bk->head);
            memset(bk, 0, sizeof *bk);
            unmark(q, i);
            q->last = q->bmin[i];
            return 1;
        }
        int rc = advance(q, i);
        if (rc)
            return rc;
    }
    bucket *nw = &q->now;
    *out = nw->head->ev[nw->rd++];
    if (nw->head == nw->tail) {
        if (nw->rd == nw->wr) {
            blk_put(q, nw->head);
            nw->head = nw->tail = NULL;
            nw->rd = nw->wr = 0;
        }
    } else if (nw->rd == BLK_N) {
        blk *x = nw->head;
        nw->head = x->next;
        nw->rd = 0;
        blk_put(q, x);
        if (nw->head != nw->tail)
            __builtin_prefetch(nw->head->next);
    }
    return 1;
}

/* Return every block of a bucket to the free list and empty it. */
static void drain(evq *q, bucket *bk);

/* SMALL QUEUES: move the array into the radix heap (0), or SIM_ENOMEM
 * with nothing changed. */
static int small_to_radix(evq *q)
{
    if (q->nfree < (size_t)q->sn + 1) { /* each event may open a bucket, and the next push */
        int rc = grow(q, (size_t)q->sn + 1);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < q->sn; i++)
        radix_push(q, &q->sm[q->sh + i]);
    q->sh = q->sn = 0;
    q->small = 0;
    return 0;
}

/* Append the events of bucket bk, in order, to the array (radix_to_small). */
static void bucket_to_small(evq *q, bucket *bk)
{
    const blk *x = bk->head;
    uint32_t r = bk->rd;
    while (x) {
        uint32_t end = (x == bk->tail) ? bk->wr : BLK_N;
        for (; r < end; r++)
            q->sm[q->sn++] = x->ev[r];
        x = (x == bk->tail) ? NULL : x->next;
        r = 0;
    }
    drain(q, bk);
}

/* SMALL QUEUES: move the (at most SMALL_LOW) pending events into the array. */
static void radix_to_small(evq *q)
{
    q->sh = q->sn = 0;
    bucket_to_small(q, &q->now);
    for (unsigned w = 0; w < NWORDS; w++)
        while (q->nonempty[w]) {
            unsigned i = w * 64 + (unsigned)__builtin_ctzll(q->nonempty[w]);
            bucket_to_small(q, &q->b[i]);
            unmark(q, i);
        }
    /* stable insertion sort by time: equal times came from one bucket, in order */
    for (uint32_t i = 1; i < q->sn; i++) {
        sim_event e = q->sm[i];
        uint32_t j = i;
        while (j > 0 && q->sm[j - 1].time > e.time) {
            q->sm[j] = q->sm[j - 1];
            j--;
        }
        q->sm[j] = e;
    }
    q->small = 1;
}

int evq_push(evq *q, const sim_event *e)
{
    sim_time t = e->time;
    if (t < q->last)
        return SIM_EINVAL;
    if (q->small) {
        if (q->sn < SMALL_CAP) {
            if (q->sh + q->sn == SMALL_CAP) { /* no room at the end: slide to the start */
                memmove(q->sm, q->sm + q->sh, q->sn * sizeof q->sm[0]);
                q->sh = 0;
            }
            sim_event *base = q->sm + q->sh;
            uint32_t pos = q->sn;
            /* shift the later events up by one; stop after every equal time: FIFO */
            for (; pos > 0 && base[pos - 1].time > t; pos--)
                base[pos] = base[pos - 1];
            base[pos] = *e;
            q->sn++;
            q->n++;
            return 0;
        }
        int rc = small_to_radix(q);
        if (rc)
            return rc;
    }
    int rc = radix_push(q, e);
    if (!rc)
        q->n++;
    return rc;
}

int evq_pop(evq *q, sim_event *out)
{
    if (q->n == 0)
        return 0;
    if (q->small) {
        *out = q->sm[q->sh++];
        q->last = out->time;
        if (--q->sn == 0)
            q->sh = 0;
        q->n--;
        return 1;
    }
    int rc = radix_pop(q, out);
    if (rc == 1) {
        q->n--;
        if (SMALL_CAP > 0 && q->n <= SMALL_LOW)
            radix_to_small(q);
    }
    return rc;
}

sim_time evq_peek_time(evq *q)
{
    if (q->n == 0)
        return SIM_TIME_MAX;
    if (q->small)
        return q->sm[q->sh].time;
    if (q->now.head)
        return q->last;
    return q->bmin[lowest(q)];
}

size_t evq_size(const evq *q) { return q->n; }

size_t evq_bytes(const evq *q) { return q->bytes; }

static void drain(evq *q, bucket *bk)
{
    blk *x = bk->head;
    while (x) {
        blk *nx = (x == bk->tail) ? NULL : x->next;
        blk_put(q, x);
        x = nx;
    }
    memset(bk, 0, sizeof *bk);
}

void evq_clear(evq *q)
{
    drain(q, &q->now);
    for (unsigned i = 0; i < NB; i++)
        if (q->b[i].head)
            drain(q, &q->b[i]);
    memset(q->nonempty, 0, sizeof q->nonempty);
    q->words = 0;
    q->n = 0;
    q->last = 0;
    q->sh = q->sn = 0;
    q->small = SMALL_CAP > 0;
}
