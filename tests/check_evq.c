/*
 * check_evq.c - Check suite for the pending-event set (sim/evq.c).
 *
 * Core: order by (time, insertion) against references (qsort and a simple
 * heap written here), peek, clear and reuse. Limits: times near UINT64_MAX,
 * many equal times. Errors: empty pop, pushes earlier than the clock, and
 * allocation failures in evq_new, evq_push and evq_pop; the compact
 * records' window and escapes (those tests set compact mode at any size,
 * evq_set_modes(q, 0, 0)); evq_set_modes' arguments, mode switches whose
 * memory cannot be had at each of their allocations (up at once by
 * evq_set_modes, down with the next window's events) and that are tried
 * again while the queue stays beyond the threshold, and records' memory
 * kept by evq_clear for the next switch. Stress: a differential model against the
 * reference heap that mixes every scale of time, payload and population,
 * with and without allocation failures, at the default mode thresholds and
 * at 64 / 16 (evq.c, MODES: the number of switches is asserted), and the
 * switches at the default thresholds with a failing one.
 *
 * To make allocations fail on demand, this file defines the whole of
 * sim/mem.h itself (a counted allocator like sim/mem.c, plus a switch), so
 * the linker takes these definitions and never pulls sim/mem.o from the
 * library; sim/evq.o, the only library object linked in, uses nothing else.
 */
#include <check.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/err.h"
#include "sim/evq.h"
#include "sim/mem.h"

static evq *q;

/* ------------------------------------------ the allocator, with failures */

#define HDR 16
static size_t mem_in_use, mem_peak;
static int alloc_fails; /* when set, every allocation fails */
/* when >= 0, this many more allocations succeed and every one after fails
 * (until it is set back to -1): a failure in the middle of an operation */
static long alloc_fail_in = -1;

/* Whether the next allocation fails (and count it down). */
static int alloc_refused(void)
{
    if (alloc_fails || alloc_fail_in == 0)
        return 1;
    if (alloc_fail_in > 0)
        alloc_fail_in--;
    return 0;
}

static void mem_account(ptrdiff_t delta)
{
    mem_in_use = (size_t)((ptrdiff_t)mem_in_use + delta);
    if (mem_in_use > mem_peak)
        mem_peak = mem_in_use;
}

void *sim_alloc(size_t size)
{
    unsigned char *p = alloc_refused() ? NULL : malloc(HDR + size);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    mem_account((ptrdiff_t)size);
    return p + HDR;
}

void *sim_calloc(size_t n, size_t size)
{
    if (size && n > ((size_t)-1 - HDR) / size)
        return NULL;
    void *p = sim_alloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void sim_free(void *ptr)
{
    if (!ptr)
        return;
    unsigned char *base = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    mem_account(-(ptrdiff_t)old);
    free(base);
}

void *sim_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return sim_alloc(size);
    unsigned char *base = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    unsigned char *p = alloc_refused() ? NULL : realloc(base, HDR + size);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    mem_account((ptrdiff_t)size - (ptrdiff_t)old);
    return p + HDR;
}

char *sim_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sim_alloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

size_t sim_mem_in_use(void) { return mem_in_use; }
size_t sim_mem_peak(void) { return mem_peak; }
void sim_mem_reset_peak(void) { mem_peak = mem_in_use; }

/* For hot loops: ck_assert_* records a mark point (a write) on every call,
 * which makes millions of checks slow; this only calls Check on failure. */
#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            ck_abort_msg("%s:%d: check failed: %s", __FILE__, __LINE__, #cond); \
    } while (0)

static void setup(void)
{
    q = evq_new();
    ck_assert_ptr_nonnull(q);
}

static void teardown(void)
{
    evq_free(q);
    q = NULL;
}

/* A small deterministic generator (splitmix64), so failures reproduce. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Event number seq. One in four does not fit the queue's packed target and
 * kind (a target of 2^24 - 1 or more, or a kind of 256 or more: evq.c,
 * RECORDS) and takes the escape path. */
static sim_event ev(sim_time t, uint64_t seq)
{
    sim_event e = {t, (uint32_t)seq, (uint32_t)(seq >> 32), seq, ~seq};
    if (seq % 8 == 3)
        e.target |= 0xff000000u;
    else if (seq % 8 == 6)
        e.kind = 256 + (uint32_t)(seq & 0xffff);
    return e;
}

static void ck_same(const sim_event *a, const sim_event *b)
{
    if (a->time != b->time || a->target != b->target || a->kind != b->kind ||
        a->a0 != b->a0 || a->a1 != b->a1)
        ck_abort_msg("got (%llu, %lu, %lu, %#llx, %#llx), want (%llu, %lu, %lu, %#llx, %#llx)"
                     " (time, target, kind, a0, a1)",
                     (unsigned long long)a->time, (unsigned long)a->target,
                     (unsigned long)a->kind, (unsigned long long)a->a0,
                     (unsigned long long)a->a1, (unsigned long long)b->time,
                     (unsigned long)b->target, (unsigned long)b->kind,
                     (unsigned long long)b->a0, (unsigned long long)b->a1);
}

/* Reference order: (time, seq); a0 holds the insertion sequence. */
static int cmp_ev(const void *x, const void *y)
{
    const sim_event *a = x, *b = y;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    return a->a0 < b->a0 ? -1 : a->a0 > b->a0;
}

/* Push n random events (times from [base, base + range)), then pop all and
 * compare with the qsorted reference. */
static void random_batch(size_t n, sim_time base, uint64_t range)
{
    sim_event *ref = malloc(n * sizeof *ref);
    ck_assert_ptr_nonnull(ref);
    for (size_t i = 0; i < n; i++) {
        ref[i] = ev(base + rnd() % range, i);
        CHECK(evq_push(q, &ref[i]) == 0);
    }
    ck_assert_uint_eq(evq_size(q), n);
    qsort(ref, n, sizeof *ref, cmp_ev);
    sim_event e;
    for (size_t i = 0; i < n; i++) {
        CHECK(evq_peek_time(q) == ref[i].time);
        CHECK(evq_pop(q, &e) == 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_pop(q, &e), 0);
    ck_assert_uint_eq(evq_size(q), 0);
    free(ref);
}

/* --- a simple reference heap ordered by (time, insertion sequence); the
 * sequence is a0 (rh_push) or given apart (rh_push_seq, for events whose
 * a0 is an arbitrary payload) --- */
typedef struct refheap {
    sim_event *a;
    uint64_t *seq;
    size_t n, cap;
} refheap;

static int rh_less(const refheap *h, size_t i, size_t j)
{
    if (h->a[i].time != h->a[j].time)
        return h->a[i].time < h->a[j].time;
    return h->seq[i] < h->seq[j];
}

static void rh_swap(refheap *h, size_t i, size_t j)
{
    sim_event t = h->a[i];
    h->a[i] = h->a[j];
    h->a[j] = t;
    uint64_t s = h->seq[i];
    h->seq[i] = h->seq[j];
    h->seq[j] = s;
}

static void rh_push_seq(refheap *h, const sim_event *e, uint64_t seq)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->a = realloc(h->a, h->cap * sizeof *h->a);
        h->seq = realloc(h->seq, h->cap * sizeof *h->seq);
        CHECK(h->a != NULL && h->seq != NULL);
    }
    size_t i = h->n++;
    h->a[i] = *e;
    h->seq[i] = seq;
    while (i > 0 && rh_less(h, i, (i - 1) / 2)) {
        rh_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void rh_push(refheap *h, const sim_event *e)
{
    rh_push_seq(h, e, e->a0);
}

static int rh_pop(refheap *h, sim_event *out)
{
    if (!h->n)
        return 0;
    *out = h->a[0];
    h->n--;
    h->a[0] = h->a[h->n];
    h->seq[0] = h->seq[h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < h->n && rh_less(h, l, m))
            m = l;
        if (l + 1 < h->n && rh_less(h, l + 1, m))
            m = l + 1;
        if (m == i)
            break;
        rh_swap(h, i, m);
        i = m;
    }
    return 1;
}

static void rh_free(refheap *h)
{
    free(h->a);
    free(h->seq);
    memset(h, 0, sizeof *h);
}

/* Hold model with a varying population: pops and pushes interleave, each
 * push at the last popped time plus a random increment (often 0). */
static void hold_model(size_t fill, size_t steps, uint64_t range)
{
    refheap h = {0};
    uint64_t seq = 0;
    for (size_t i = 0; i < fill; i++, seq++) {
        sim_event e = ev(rnd() % range, seq);
        CHECK(evq_push(q, &e) == 0);
        rh_push(&h, &e);
    }
    sim_time now = 0;
    for (size_t s = 0; s < steps; s++) {
        uint64_t r = rnd();
        int pops = (int)(r & 3), pushes = (int)((r >> 2) & 3); /* 0..3 each */
        for (int k = 0; k < pops; k++) {
            sim_event a, b;
            int ga = evq_pop(q, &a), gb = rh_pop(&h, &b);
            CHECK(ga == gb);
            if (!ga)
                break;
            ck_same(&a, &b);
            CHECK(a.time >= now);
            now = a.time;
        }
        for (int k = 0; k < pushes; k++, seq++) {
            uint64_t d = rnd();
            sim_time t = now + ((d & 7) == 0 ? 0 : (d >> 8) % range);
            sim_event e = ev(t, seq);
            CHECK(evq_push(q, &e) == 0);
            rh_push(&h, &e);
        }
        CHECK(evq_size(q) == h.n);
        CHECK(evq_peek_time(q) == (h.n ? h.a[0].time : SIM_TIME_MAX));
    }
    sim_event a, b;
    while (rh_pop(&h, &b)) {
        CHECK(evq_pop(q, &a) == 1);
        ck_same(&a, &b);
    }
    ck_assert_int_eq(evq_pop(q, &a), 0);
    rh_free(&h);
}

/* ---------------------------------------------------------------- Core */

START_TEST(test_fifo_ties)
{
    for (uint64_t i = 0; i < 1000; i++) {
        sim_event e = ev(i % 3 == 0 ? 5 : 7, i);
        ck_assert_int_eq(evq_push(q, &e), 0);
    }
    sim_event e;
    uint64_t prev5 = 0, prev7 = 0;
    int first5 = 1, first7 = 1;
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(evq_pop(q, &e), 1);
        if (i < 334) {
            ck_assert_uint_eq(e.time, 5);
            ck_assert(first5 || e.a0 > prev5);
            first5 = 0;
            prev5 = e.a0;
        } else {
            ck_assert_uint_eq(e.time, 7);
            ck_assert(first7 || e.a0 > prev7);
            first7 = 0;
            prev7 = e.a0;
        }
    }
}
END_TEST

/* SMALL QUEUES and FRONT (evq.c): a queue whose size walks back and forth
 * across the thresholds of the sorted array (it holds every event up to 32
 * and takes them back at 8; as a front it holds up to 256), with many
 * equal times, pops exactly in (time, insertion) order, checked against a
 * plain list scanned for the minimum. */
START_TEST(test_small_threshold_order)
{
    rng_state = 11;
    static sim_event pend[512];
    size_t np = 0;
    uint64_t seq = 0;
    sim_time now = 0;
    int up = 1;
    for (int op = 0; op < 60000; op++) {
        if (np >= 300)
            up = 0;
        else if (np <= 4)
            up = 1;
        if (up || (rnd() % 4 == 0 && np < 500)) {
            pend[np] = ev(now + rnd() % 3 * (rnd() % 2 ? 1 : 1000000), seq++);
            ck_assert_int_eq(evq_push(q, &pend[np]), 0);
            np++;
        } else {
            size_t m = 0;
            for (size_t i = 1; i < np; i++)
                if (cmp_ev(&pend[i], &pend[m]) < 0)
                    m = i;
            ck_assert_uint_eq(evq_peek_time(q), pend[m].time);
            sim_event e;
            ck_assert_int_eq(evq_pop(q, &e), 1);
            ck_same(&e, &pend[m]);
            now = e.time;
            pend[m] = pend[--np];
        }
        ck_assert_uint_eq(evq_size(q), np);
    }
}
END_TEST

START_TEST(test_random_wide)
{
    rng_state = 1;
    random_batch(1000000, 0, UINT64_C(1) << 40);
}
END_TEST

START_TEST(test_random_ties)
{
    rng_state = 2;
    random_batch(2000000, 1000, 1000); /* about 2000 events per time */
}
END_TEST

START_TEST(test_random_mixed)
{
    rng_state = 3;
    random_batch(500000, 0, 1u << 20);
    random_batch(500000, 1u << 20, 64); /* reuse after draining, clock moved */
}
END_TEST

START_TEST(test_hold_model)
{
    rng_state = 4;
    hold_model(20000, 400000, 1000000);
}
END_TEST

START_TEST(test_hold_model_ties)
{
    rng_state = 5;
    hold_model(5000, 400000, 8);
}
END_TEST

/* Sparse events (about one per 2,000 ps, so most buckets of level 1, 256 ps
 * wide with 8-bit digits, hold one event, which becomes the now lane
 * without moving: evq.c, STRUCTURE), with an eighth of the pushes at the
 * clock itself, so that the now lane keeps receiving ties behind it. */
START_TEST(test_hold_model_sparse)
{
    rng_state = 6;
    hold_model(2000, 400000, UINT64_C(1) << 22);
}
END_TEST

/* FRONT (evq.c): pushes close to the clock (0 to 300 ps, so most land in
 * the time range of the bucket just sorted into the array, and with a few
 * hundred pending the array fills and spills), and a population whose
 * lowest buckets hold tens of events, sorted by the two-pass sort. */
START_TEST(test_hold_model_front)
{
    rng_state = 12;
    hold_model(1000, 400000, 300);
    evq_clear(q);
    hold_model(3000, 400000, UINT64_C(1) << 16);
}
END_TEST

/* FRONT (evq.c): bursts of pushes just after the clock, into the time
 * range of the bucket just sorted into the array, overfill it, so that it
 * spills into the buckets below the ones that hold the later events;
 * checked against the reference heap. */
START_TEST(test_front_spill)
{
    rng_state = 13;
    refheap h = {0};
    uint64_t seq = 0;
    sim_time now = 0;
    sim_event a, b;
    for (int round = 0; round < 3000; round++) {
        int far = (int)(rnd() % 60), pops = 1 + (int)(rnd() % 20), near = (int)(rnd() % 200);
        for (int k = 0; k < far; k++, seq++) {
            sim_event e = ev(now + rnd() % (1u << 20), seq);
            CHECK(evq_push(q, &e) == 0);
            rh_push(&h, &e);
        }
        for (int k = 0; k < pops && h.n; k++) {
            CHECK(evq_pop(q, &a) == 1 && rh_pop(&h, &b) == 1);
            ck_same(&a, &b);
            now = a.time;
        }
        for (int k = 0; k < near; k++, seq++) {
            sim_event e = ev(now + rnd() % 64, seq);
            CHECK(evq_push(q, &e) == 0);
            rh_push(&h, &e);
        }
        for (int k = (int)(rnd() % 300); k > 0 && h.n; k--) {
            CHECK(evq_pop(q, &a) == 1 && rh_pop(&h, &b) == 1);
            ck_same(&a, &b);
            now = a.time;
        }
        CHECK(evq_size(q) == h.n);
    }
    while (rh_pop(&h, &b)) {
        CHECK(evq_pop(q, &a) == 1);
        ck_same(&a, &b);
    }
    ck_assert_int_eq(evq_pop(q, &a), 0);
    rh_free(&h);
}
END_TEST

START_TEST(test_peek)
{
    ck_assert_uint_eq(evq_peek_time(q), SIM_TIME_MAX);
    sim_event e = ev(300, 0);
    ck_assert_int_eq(evq_push(q, &e), 0);
    e = ev(100, 1);
    ck_assert_int_eq(evq_push(q, &e), 0);
    e = ev(200, 2);
    ck_assert_int_eq(evq_push(q, &e), 0);
    ck_assert_uint_eq(evq_peek_time(q), 100);
    ck_assert_int_eq(evq_pop(q, &e), 1);
    ck_assert_uint_eq(e.time, 100);
    e = ev(100, 3); /* at the current time */
    ck_assert_int_eq(evq_push(q, &e), 0);
    ck_assert_uint_eq(evq_peek_time(q), 100);
    ck_assert_int_eq(evq_pop(q, &e), 1);
    ck_assert_uint_eq(e.a0, 3);
    ck_assert_uint_eq(evq_peek_time(q), 200);
    ck_assert_uint_eq(evq_size(q), 2);
}
END_TEST

/* evq_pop_until against a second queue fed the same events and driven by
 * peek + pop (what the run loop did before): the same event, and 0 exactly
 * when the earliest is later than the bound; a hold model that crosses the
 * small-array, front and bucket regimes (up to 3000 pending), with bounds
 * below, at and above the earliest time. */
START_TEST(test_pop_until)
{
    evq *r = evq_new();
    ck_assert_ptr_nonnull(r);
    sim_event e, x;
    ck_assert_int_eq(evq_pop_until(q, SIM_TIME_MAX, &e), 0); /* empty */
    rng_state = 11;
    sim_time now = 0;
    uint64_t seq = 0, popped = 0, refused = 0;
    for (int step = 0; step < 60000; step++) {
        size_t target = step < 20000 ? 20 : step < 40000 ? 3000 : 5;
        while (evq_size(r) < target) {
            e = ev(now + rnd() % (rnd() % 2 ? 1000 : 1000000), seq++);
            CHECK(evq_push(q, &e) == 0);
            CHECK(evq_push(r, &e) == 0);
        }
        sim_time first = evq_peek_time(r);
        sim_time until = rnd() % 4 == 0 ? first - 1 : first + rnd() % 3;
        int got = evq_pop_until(q, until, &e);
        if (until < first) {
            CHECK(got == 0);
            refused++;
            CHECK(evq_size(q) == evq_size(r));
            CHECK(evq_peek_time(q) == first);
            continue;
        }
        CHECK(got == 1);
        CHECK(evq_pop(r, &x) == 1);
        ck_same(&e, &x);
        now = e.time;
        popped++;
    }
    ck_assert_uint_gt(popped, 40000);
    ck_assert_uint_gt(refused, 10000);
    /* an event at SIM_TIME_MAX is never taken, as peek reports it as none */
    evq_clear(q);
    e = ev(SIM_TIME_MAX, 0);
    ck_assert_int_eq(evq_push(q, &e), 0);
    ck_assert_int_eq(evq_pop_until(q, SIM_TIME_MAX, &x), 0);
    ck_assert_uint_eq(evq_size(q), 1);
    evq_free(r);
}
END_TEST

START_TEST(test_clear_reuse)
{
    rng_state = 6;
    for (uint64_t i = 0; i < 100000; i++) {
        sim_event e = ev(1000 + rnd() % 100000, i);
        CHECK(evq_push(q, &e) == 0);
    }
    sim_event e;
    for (int i = 0; i < 5000; i++)
        CHECK(evq_pop(q, &e) == 1);
    size_t bytes = evq_bytes(q);
    evq_clear(q);
    ck_assert_uint_eq(evq_size(q), 0);
    ck_assert_uint_eq(evq_peek_time(q), SIM_TIME_MAX);
    ck_assert_int_eq(evq_pop(q, &e), 0);
    ck_assert_uint_eq(evq_bytes(q), bytes); /* memory kept */
    e = ev(0, 0); /* the clock is back at 0 */
    ck_assert_int_eq(evq_push(q, &e), 0);
    evq_clear(q);
    uint64_t seed = rng_state;
    random_batch(100000, 0, 100000);
    bytes = evq_bytes(q);
    evq_clear(q);
    rng_state = seed; /* the same work again needs no new memory */
    random_batch(100000, 0, 100000);
    ck_assert_uint_eq(evq_bytes(q), bytes);
}
END_TEST

/* evq_clear resets the next window (evq.c, WINDOW) with the clock: the
 * clock in window 5 (so the window's table waits for window 6), cleared;
 * then events in windows 2 and 6 and near 0 must pop in time order (with
 * the table still set for window 6, the events there would come first). */
START_TEST(test_clear_window)
{
    ck_assert_int_eq(evq_set_modes(q, 0, 0), 0); /* compact records at any size */
    const sim_time W = UINT64_C(1) << 24;
    sim_event e, x;
    for (uint64_t i = 0; i < 600; i++) {
        e = ev(5 * W + i * 1000, i);
        ck_assert_int_eq(evq_push(q, &e), 0);
    }
    for (int i = 0; i < 590; i++)
        ck_assert_int_eq(evq_pop(q, &e), 1);
    ck_assert_uint_eq(e.time >> 24, 5);
    evq_clear(q);
    sim_event ref[100];
    size_t n = 0;
    for (uint64_t i = 0; i < 20; i++) { /* enough that the queue is not small then */
        ref[n++] = ev(6 * W + 5 + i * 3000, 1000 + 2 * i);
        ref[n++] = ev(2 * W + i * 3000, 1001 + 2 * i);
    }
    for (uint64_t i = 0; i < 60; i++)
        ref[n++] = ev(1 + i, 2000 + i);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(evq_push(q, &ref[i]), 0);
    qsort(ref, n, sizeof ref[0], cmp_ev);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(evq_peek_time(q), ref[i].time);
        ck_assert_int_eq(evq_pop(q, &x), 1);
        ck_same(&x, &ref[i]);
    }
    ck_assert_int_eq(evq_pop(q, &x), 0);
}
END_TEST

START_TEST(test_memory_accounted)
{
    size_t before = sim_mem_in_use();
    evq *r = evq_new();
    ck_assert_ptr_nonnull(r);
    for (uint64_t i = 0; i < 50000; i++) {
        sim_event e = ev(i * 7919 % 100003, i);
        CHECK(evq_push(r, &e) == 0);
    }
    ck_assert_uint_eq(sim_mem_in_use() - before, evq_bytes(r));
    evq_free(r);
    ck_assert_uint_eq(sim_mem_in_use(), before);
    evq_free(NULL);
}
END_TEST

/* -------------------------------------------------------------- Limits */

START_TEST(test_near_max)
{
    const sim_time top = UINT64_MAX;
    sim_time ts[] = {top, top - 1, top, top - 1000, (sim_time)1 << 63, top - 1, top};
    size_t n = sizeof ts / sizeof ts[0];
    for (size_t i = 0; i < n; i++) {
        sim_event e = ev(ts[i], i);
        ck_assert_int_eq(evq_push(q, &e), 0);
    }
    sim_time want_t[] = {(sim_time)1 << 63, top - 1000, top - 1, top - 1, top, top, top};
    uint64_t want_s[] = {4, 3, 1, 5, 0, 2, 6};
    sim_event e;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_assert_uint_eq(e.time, want_t[i]);
        ck_assert_uint_eq(e.a0, want_s[i]);
    }
    e = ev(top, 99); /* still allowed at the top of time */
    ck_assert_int_eq(evq_push(q, &e), 0);
    e = ev(top - 1, 100);
    ck_assert_int_eq(evq_push(q, &e), SIM_EINVAL);
    ck_assert_int_eq(evq_pop(q, &e), 1);
    ck_assert_uint_eq(e.a0, 99);
}
END_TEST

START_TEST(test_random_near_max)
{
    rng_state = 7;
    random_batch(200000, UINT64_MAX - (UINT64_C(1) << 32), UINT64_C(1) << 32);
}
END_TEST

START_TEST(test_all_equal)
{
    for (uint64_t i = 0; i < 300000; i++) {
        sim_event e = ev(42, i);
        CHECK(evq_push(q, &e) == 0);
    }
    sim_event e;
    for (uint64_t i = 0; i < 300000; i++) {
        CHECK(evq_pop(q, &e) == 1);
        CHECK(e.a0 == i);
        if (i % 3 == 0) { /* pushes at the current time go to the back */
            sim_event f = ev(42, 1000000 + i);
            CHECK(evq_push(q, &f) == 0);
        }
    }
    for (uint64_t i = 0; i < 300000; i += 3) {
        CHECK(evq_pop(q, &e) == 1);
        CHECK(e.a0 == 1000000 + i);
    }
    ck_assert_int_eq(evq_pop(q, &e), 0);
}
END_TEST

/* -------------------------------------------------------------- Errors */

START_TEST(test_empty_pop)
{
    sim_event e = ev(1, 1);
    ck_assert_int_eq(evq_pop(q, &e), 0);
    ck_assert_uint_eq(evq_size(q), 0);
    ck_assert_uint_eq(evq_peek_time(q), SIM_TIME_MAX);
    ck_assert_int_eq(evq_push(q, &e), 0);
    ck_assert_int_eq(evq_pop(q, &e), 1);
    ck_assert_int_eq(evq_pop(q, &e), 0);
}
END_TEST

START_TEST(test_push_before_now)
{
    sim_event e = ev(1000, 0);
    ck_assert_int_eq(evq_push(q, &e), 0);
    e = ev(5000, 1);
    ck_assert_int_eq(evq_push(q, &e), 0);
    ck_assert_int_eq(evq_pop(q, &e), 1);
    ck_assert_uint_eq(e.time, 1000);
    e = ev(999, 2);
    ck_assert_int_eq(evq_push(q, &e), SIM_EINVAL);
    e = ev(0, 3);
    ck_assert_int_eq(evq_push(q, &e), SIM_EINVAL);
    ck_assert_uint_eq(evq_size(q), 1); /* rejected pushes change nothing */
    e = ev(1000, 4);
    ck_assert_int_eq(evq_push(q, &e), 0);
    ck_assert_int_eq(evq_pop(q, &e), 1);
    ck_assert_uint_eq(e.a0, 4);
    ck_assert_int_eq(evq_pop(q, &e), 1);
    ck_assert_uint_eq(e.a0, 1);
    e = ev(4999, 5); /* the clock is now 5000 even though the queue is empty */
    ck_assert_int_eq(evq_push(q, &e), SIM_EINVAL);
}
END_TEST

START_TEST(test_new_nomem)
{
    alloc_fails = 1;
    ck_assert_ptr_null(evq_new());
    alloc_fails = 0;
}
END_TEST

/* Pushes that need a block when none can be had fail and change nothing. */
START_TEST(test_push_nomem)
{
    rng_state = 8;
    sim_event ref[2000];
    size_t n = 0;
    for (; n < 100; n++) { /* some memory to start with */
        ref[n] = ev(rnd() % 1000000, n);
        ck_assert_int_eq(evq_push(q, &ref[n]), 0);
    }
    size_t bytes = evq_bytes(q);
    alloc_fails = 1;
    int failed = 0;
    for (uint64_t i = n; i < 2000; i++) {
        sim_event e = ev(rnd() % 1000000, i);
        int rc = evq_push(q, &e);
        if (rc == SIM_ENOMEM) {
            failed++;
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ref[n++] = e;
    }
    alloc_fails = 0;
    ck_assert_int_gt(failed, 0);
    ck_assert_uint_eq(evq_bytes(q), bytes);
    ck_assert_uint_eq(evq_size(q), n);
    qsort(ref, n, sizeof ref[0], cmp_ev);
    sim_event e;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_pop(q, &e), 0);
}
END_TEST

/* A pop whose redistribution needs memory that cannot be had returns
 * SIM_ENOMEM and leaves the queue as it was; it succeeds once memory is back. */
START_TEST(test_pop_nomem)
{
    /* 300 events (more than the sorted array takes, so they end in the radix
     * buckets) in one level-3 bucket (times 2^25 + [0, 2^24), the clock at
     * 0: beyond the next window, evq.c WINDOW), spread over its 256 level-2
     * sub-ranges: popping the first one redistributes them into level-2
     * buckets, which needs the level's table and about one block per
     * destination */
    enum { N = 300 };
    sim_event ref[N + 1];
    rng_state = 9;
    for (uint64_t i = 0; i < N; i++) {
        ref[i] = ev((UINT64_C(1) << 25) + rnd() % (UINT64_C(1) << 24), i);
        ck_assert_int_eq(evq_push(q, &ref[i]), 0);
    }
    qsort(ref, N, sizeof ref[0], cmp_ev);
    size_t bytes = evq_bytes(q);
    alloc_fails = 1;
    sim_event e = ev(7, 7);
    ck_assert_int_eq(evq_pop(q, &e), SIM_ENOMEM);
    ck_assert_int_eq(evq_pop(q, &e), SIM_ENOMEM); /* still, and still nothing moved */
    ck_assert_uint_eq(e.time, 7);                 /* *out untouched */
    ck_assert_uint_eq(evq_size(q), N);
    ck_assert_uint_eq(evq_peek_time(q), ref[0].time);
    ck_assert_uint_eq(evq_bytes(q), bytes);
    alloc_fails = 0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_pop(q, &e), 0);
}
END_TEST

/* The same when the next window's table becomes level 2's (evq.c, WINDOW)
 * and its bucket of digit 0 must be taken apart at once: the pop fails,
 * the table goes back, and the order is intact. */
START_TEST(test_window_nomem)
{
    ck_assert_int_eq(evq_set_modes(q, 0, 0), 0); /* compact records at any size */
    /* 300 events in the next window's first 2^16 ps (times 2^24 + [0,
     * 2^16), the clock at 0): its table's bucket of digit 0, which is taken
     * apart into levels 0 and 1 when the window comes in */
    enum { N = 300, M = 20 };
    sim_event ref[N + M];
    rng_state = 14;
    for (uint64_t i = 0; i < N; i++) {
        ref[i] = ev((UINT64_C(1) << 24) + rnd() % (UINT64_C(1) << 16), i);
        ck_assert_int_eq(evq_push(q, &ref[i]), 0);
    }
    qsort(ref, N, sizeof ref[0], cmp_ev);
    size_t bytes = evq_bytes(q);
    alloc_fails = 1;
    sim_event e = ev(7, 7);
    ck_assert_int_eq(evq_pop(q, &e), SIM_ENOMEM);
    ck_assert_int_eq(evq_pop(q, &e), SIM_ENOMEM); /* still, and still nothing moved */
    ck_assert_uint_eq(e.time, 7);                 /* *out untouched */
    ck_assert_uint_eq(evq_size(q), N);
    ck_assert_uint_eq(evq_peek_time(q), ref[0].time);
    ck_assert_uint_eq(evq_bytes(q), bytes);
    alloc_fails = 0;
    /* pushes into that range after the failure keep their place (they would
     * pop first had the table stayed at level 2) */
    for (uint64_t i = N; i < N + M; i++) {
        ref[i] = ev((UINT64_C(1) << 24) + rnd() % (UINT64_C(1) << 16), i);
        ck_assert_int_eq(evq_push(q, &ref[i]), 0);
    }
    qsort(ref, N + M, sizeof ref[0], cmp_ev);
    for (size_t i = 0; i < N + M; i++) {
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_pop(q, &e), 0);
}
END_TEST

/* The same when the window's table comes in with its bucket of digit 0
 * empty and the lowest of its buckets too large for the array: the pop
 * that must take that bucket apart fails, and the clock has not moved, so
 * a push between the clock and the window's start is still allowed and
 * must come out first (it did not when the failed pop left the window in,
 * with the pivot at the window's start, later than the clock). */
START_TEST(test_window_in_pop_nomem)
{
    ck_assert_int_eq(evq_set_modes(q, 0, 0), 0); /* compact records at any size */
    /* 300 events (more than the array takes) in the next window's second
     * 2^16 ps (times 2^24 + 2^16 + [0, 2^16), the clock at 3 ps): one bucket
     * of its table; levels 0 and 1 were never used, so their tables are
     * missing and the redistribution needs memory */
    enum { N = 300 };
    sim_event ref[N + 2];
    rng_state = 16;
    const sim_time w1 = (UINT64_C(1) << 24) + (UINT64_C(1) << 16);
    for (uint64_t i = 0; i < N; i++) {
        ref[i] = ev(w1 + rnd() % (UINT64_C(1) << 16), i);
        ck_assert_int_eq(evq_push(q, &ref[i]), 0);
        if (i == 31) { /* with 32 in the array, this one at 3 ps narrows it to time 0 */
            sim_event x = ev(3, 1000);
            ck_assert_int_eq(evq_push(q, &x), 0);
        }
    }
    sim_event e;
    ck_assert_int_eq(evq_pop(q, &e), 1); /* 3 ps: the array is no longer in use */
    ck_assert_uint_eq(e.time, 3);
    qsort(ref, N, sizeof ref[0], cmp_ev);
    ck_assert_uint_eq(evq_peek_time(q), ref[0].time);
    size_t bytes = evq_bytes(q);
    alloc_fails = 1;
    e = ev(7, 7);
    ck_assert_int_eq(evq_pop(q, &e), SIM_ENOMEM);
    ck_assert_uint_eq(e.time, 7); /* *out untouched */
    ck_assert_uint_eq(evq_bytes(q), bytes);
    alloc_fails = 0;
    ck_assert_uint_eq(evq_size(q), N);
    ck_assert_uint_eq(evq_peek_time(q), ref[0].time);
    /* the clock is still 3: pushes before the window are allowed */
    ref[N] = ev(5000, N);
    ck_assert_int_eq(evq_push(q, &ref[N]), 0);
    ref[N + 1] = ev(w1 - 1, N + 1);
    ck_assert_int_eq(evq_push(q, &ref[N + 1]), 0);
    qsort(ref, N + 2, sizeof ref[0], cmp_ev);
    for (size_t i = 0; i < N + 2; i++) {
        ck_assert_uint_eq(evq_peek_time(q), ref[i].time);
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_pop(q, &e), 0);
}
END_TEST

/* The hold model across many 2^24 ps windows and a 2^32 ps boundary
 * (evq.c, WINDOW: the next window's table comes in at each window), against
 * the reference heap. Increments stay within 2^23 ps, so that the next
 * window's table is in use, but while the clock is in the last window
 * before 2^32, 300 events go two windows beyond it: the table must not be
 * used for the window after that carry (a bucket of level 4 holds them). */
START_TEST(test_window_crossings)
{
    ck_assert_int_eq(evq_set_modes(q, 0, 0), 0); /* compact records at any size */
    refheap h = {0};
    uint64_t seq = 0;
    rng_state = 15;
    const sim_time base = (UINT64_C(1) << 32) - (UINT64_C(1) << 26);
    sim_time now = base;
    int far = 0;
    for (size_t i = 0; i < 2000; i++, seq++) {
        sim_event e = ev(base + rnd() % (UINT64_C(1) << 23), seq);
        CHECK(evq_push(q, &e) == 0);
        rh_push(&h, &e);
    }
    for (size_t step = 0; step < 300000; step++, seq++) {
        sim_event a, b;
        CHECK(evq_pop(q, &a) == 1 && rh_pop(&h, &b) == 1);
        ck_same(&a, &b);
        now = a.time;
        uint64_t r = rnd();
        sim_event e = ev(now + ((r & 15) == 0 ? 0 : (r >> 8) % (UINT64_C(1) << 23)), seq);
        CHECK(evq_push(q, &e) == 0);
        rh_push(&h, &e);
        if (!far && now >> 24 == 255) {
            far = 1;
            for (int k = 0; k < 300; k++) {
                seq++;
                e = ev((UINT64_C(1) << 32) + (UINT64_C(2) << 24) + rnd() % (UINT64_C(1) << 24), seq);
                CHECK(evq_push(q, &e) == 0);
                rh_push(&h, &e);
            }
        }
    }
    ck_assert_int_eq(far, 1);
    ck_assert_uint_gt(now, (UINT64_C(1) << 32) + (UINT64_C(4) << 24)); /* it crossed */
    sim_event a, b;
    while (rh_pop(&h, &b)) {
        CHECK(evq_pop(q, &a) == 1);
        ck_same(&a, &b);
    }
    rh_free(&h);
}
END_TEST

/* Events at the boundaries of the packed target and kind (evq.c, RECORDS:
 * targets below 2^16 - 1 or 2^24 - 1, kinds below 256, pack) and beyond:
 * order and payloads survive the hold model, and the escape entries are
 * reused, not grown per push (200,000 pushes, at most 5,000 pending). */
START_TEST(test_escapes_hold)
{
    ck_assert_int_eq(evq_set_modes(q, 0, 0), 0); /* compact records at any size */
    static const uint32_t targets[] = {UINT32_MAX, 0xffffffu, 0xfffffeu, 0xffffu, 0xfffeu, 0};
    static const uint32_t kinds[] = {UINT32_MAX, 256, 255, 0};
    refheap h = {0};
    uint64_t seq = 0;
    rng_state = 11;
    size_t peak_bytes = 0;
    sim_time now = 0;
    for (size_t step = 0; step < 400000; step++) {
        uint64_t r = rnd();
        if (h.n < 5000 && (r & 1)) {
            sim_event e = {now + (r >> 8) % 100000, targets[seq % 6], kinds[seq / 6 % 4], seq,
                           ~seq};
            CHECK(evq_push(q, &e) == 0);
            rh_push(&h, &e);
            seq++;
        } else {
            sim_event a, b;
            int ga = evq_pop(q, &a), gb = rh_pop(&h, &b);
            CHECK(ga == gb);
            if (ga) {
                ck_same(&a, &b);
                now = a.time;
            }
        }
        if (evq_bytes(q) > peak_bytes)
            peak_bytes = evq_bytes(q);
    }
    /* entries that were not reused would take 16 B per escaped push, 2.7 MB */
    ck_assert_uint_lt(peak_bytes, 5000 * 64);
    sim_event a, b;
    while (rh_pop(&h, &b)) {
        CHECK(evq_pop(q, &a) == 1);
        ck_same(&a, &b);
    }
    rh_free(&h);
}
END_TEST

/* A push of an event that escapes into the radix buckets needs an escape
 * entry: when none is free and none can be had, it fails and changes
 * nothing (into the sorted array it needs none, and pushes that pack need
 * only blocks). */
START_TEST(test_escape_nomem)
{
    ck_assert_int_eq(evq_set_modes(q, 0, 0), 0); /* compact records at any size */
    enum { N = 3000 };
    static sim_event ref[N];
    size_t n = 0;
    rng_state = 12;
    for (uint64_t i = 0; i < 1000; i++) { /* the radix buckets in use, packed only */
        sim_event e = ev(rnd() % 1000000, i);
        e.target &= 0xffff;
        e.kind &= 0xff;
        ck_assert_int_eq(evq_push(q, &e), 0);
        ref[n++] = e;
    }
    size_t bytes = evq_bytes(q);
    alloc_fails = 1;
    int failed = 0, escapes_failed = 0;
    for (uint64_t i = 1000; i < N; i++) {
        sim_event e = ev(rnd() % 1000000, i);
        e.target = i % 2 ? UINT32_MAX : (uint32_t)(i & 0xffff);
        int rc = evq_push(q, &e);
        if (rc == SIM_ENOMEM) {
            failed++;
            escapes_failed += e.target == UINT32_MAX;
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ref[n++] = e;
    }
    alloc_fails = 0;
    ck_assert_int_gt(failed, 0);
    ck_assert_int_gt(escapes_failed, 0);
    ck_assert_uint_eq(evq_bytes(q), bytes);
    ck_assert_uint_eq(evq_size(q), n);
    qsort(ref, n, sizeof ref[0], cmp_ev);
    sim_event e;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_pop(q, &e), 0);
}
END_TEST

/* A push that makes the full sorted array spill into the radix buckets
 * (FRONT, evq.c) needs memory for it: without it the push fails and changes
 * nothing; the array and the order stay intact. */
START_TEST(test_spill_nomem)
{
    enum { N = 200 };
    sim_event ref[N];
    size_t n = 0;
    rng_state = 10;
    int failed = 0;
    alloc_fails = 1;
    for (uint64_t i = 0; i < N; i++) {
        sim_event e = ev(rnd() % 1000000, i);
        int rc = evq_push(q, &e);
        if (rc == SIM_ENOMEM) {
            failed++;
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ref[n++] = e;
    }
    alloc_fails = 0;
    ck_assert_int_gt(failed, 0);
    ck_assert_int_gt(n, 0); /* the array itself needs no allocation */
    ck_assert_uint_eq(evq_size(q), n);
    qsort(ref, n, sizeof ref[0], cmp_ev);
    sim_event e;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_pop(q, &e), 0);
}
END_TEST

/* Pop every event of q and compare with ref[0, n) sorted by (time, seq). */
static void pop_all_sorted(sim_event *ref, size_t n)
{
    qsort(ref, n, sizeof ref[0], cmp_ev);
    sim_event e;
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(evq_peek_time(q), ref[i].time);
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_pop(q, &e), 0);
}

/* evq_set_modes (evq.h): down_at < up_at, or both 0; anything else (equal
 * thresholds, down_at above up_at, up_at 0 with down_at > 0) is SIM_EINVAL
 * and changes nothing, in either mode (an assert before, which release
 * builds leave out: a queue with up_at <= down_at then converted itself at
 * every push and pop near the threshold). Valid ones take effect: up_at at
 * or below the count switches at once (up_at 1 here, a populated queue);
 * in compact mode a new down_at at the next pop that leaves that many or
 * fewer, some outside the array; SIZE_MAX and SIZE_MAX - 1 never switch
 * up again. */
START_TEST(test_set_modes_args)
{
    enum { N = 300 };
    static sim_event ref[2 * N];
    size_t n = 0;
    rng_state = 31;
    for (; n < N; n++) { /* times spread over many buckets, whole events */
        ref[n] = ev(rnd() % (UINT64_C(1) << 32), n);
        ck_assert_int_eq(evq_push(q, &ref[n]), 0);
    }
    static const size_t bad[][2] = {{5, 5}, {5, 6}, {0, 1}, {1, 1}, {SIZE_MAX, SIZE_MAX},
                                    {16384, 16384}, {2048, 16384}};
    size_t bytes = evq_bytes(q);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        ck_assert_int_eq(evq_set_modes(q, bad[k][0], bad[k][1]), SIM_EINVAL);
    ck_assert_int_eq(evq_compact(q), 0);
    ck_assert_uint_eq(evq_mode_switches(q), 0);
    ck_assert_uint_eq(evq_bytes(q), bytes);
    /* valid, and N pending: records at once */
    ck_assert_int_eq(evq_set_modes(q, 1, 0), 0);
    ck_assert_int_eq(evq_compact(q), 1);
    ck_assert_uint_eq(evq_mode_switches(q), 1);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        ck_assert_int_eq(evq_set_modes(q, bad[k][0], bad[k][1]), SIM_EINVAL);
    ck_assert_int_eq(evq_compact(q), 1);
    /* compact: whole again at the next pop that leaves N - 10 or fewer */
    ck_assert_int_eq(evq_set_modes(q, N, N - 10), 0);
    ck_assert_int_eq(evq_compact(q), 1);
    sim_event e;
    qsort(ref, n, sizeof ref[0], cmp_ev);
    size_t i = 0;
    for (; evq_size(q) > N - 10; i++) {
        ck_assert_int_eq(evq_compact(q), 1);
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_compact(q), 0);
    ck_assert_uint_eq(evq_mode_switches(q), 2);
    /* the largest thresholds: whole whatever the count */
    ck_assert_int_eq(evq_set_modes(q, SIZE_MAX, SIZE_MAX - 1), 0);
    memmove(ref, ref + i, (n - i) * sizeof ref[0]);
    n -= i;
    sim_time now = e.time;
    for (uint64_t k = 0; k < N; k++, n++) {
        ref[n] = ev(now + rnd() % (UINT64_C(1) << 32), 1000 + k);
        ck_assert_int_eq(evq_push(q, &ref[n]), 0);
    }
    ck_assert_int_eq(evq_compact(q), 0);
    ck_assert_uint_eq(evq_mode_switches(q), 2);
    pop_all_sorted(ref, n);
}
END_TEST

/* MODES (evq.c): evq_set_modes on a populated whole queue (buckets, the
 * array, ties, escaping events) switches it now; when an allocation of the
 * switch fails (the first block kind, the second, the escape table) it
 * returns SIM_ENOMEM and the queue is as it was, evq_bytes included; then
 * it is made, and the queue goes whole again at the new down_at. */
START_TEST(test_modes_set_now_nomem)
{
    enum { N = 3000 };
    static sim_event ref[N];
    size_t n = 0;
    rng_state = 32;
    for (; n < N; n++) {
        ref[n] = ev(n % 7 ? rnd() % (UINT64_C(1) << 26) : 4242, n);
        ck_assert_int_eq(evq_push(q, &ref[n]), 0);
    }
    qsort(ref, n, sizeof ref[0], cmp_ev);
    sim_event e;
    size_t i = 0;
    for (; i < 500; i++) { /* the clock moves, the array is in use */
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    size_t bytes = evq_bytes(q), base = sim_mem_in_use() - bytes;
    for (long k = 0; k < 3; k++) {
        alloc_fail_in = k;
        ck_assert_int_eq(evq_set_modes(q, 1000, 100), SIM_ENOMEM);
        alloc_fail_in = -1;
        ck_assert_int_eq(evq_compact(q), 0);
        ck_assert_uint_eq(evq_bytes(q), bytes);
        ck_assert_uint_eq(sim_mem_in_use() - base, bytes);
        ck_assert_uint_eq(evq_size(q), N - i);
        ck_assert_uint_eq(evq_peek_time(q), ref[i].time);
    }
    ck_assert_int_eq(evq_set_modes(q, 1000, 100), 0);
    ck_assert_int_eq(evq_compact(q), 1);
    ck_assert_uint_eq(evq_bytes(q), sim_mem_in_use() - base);
    for (; i < N; i++) {
        ck_assert_int_eq(evq_compact(q), N - i > 100);
        ck_assert_uint_eq(evq_peek_time(q), ref[i].time);
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
        CHECK(evq_bytes(q) == sim_mem_in_use() - base);
    }
    ck_assert_uint_eq(evq_mode_switches(q), 2);
}
END_TEST

/* MODES and WINDOW (evq.c): a switch down with the next window's table in
 * use: its events go to the level-3 table, which this queue never needed
 * before. When that table cannot be had, the switch is not made (the pop
 * stands, the queue as it was, evq_bytes exact); at half the count, when
 * the whole blocks cannot be had, again not (and the events return to the
 * array in compact mode); after the queue drained and grew again (events
 * 2^17 ps apart: each pop takes a bucket of one), made. Checked against the
 * sorted reference at every pop. */
START_TEST(test_modes_down_window_nomem)
{
    const sim_time W = UINT64_C(1) << 24;
    enum { N0 = 75, N1 = 5, N2 = 40 };
    static sim_event ref[N0 + N1 + N2];
    size_t n = 0;
    rng_state = 33;
    ck_assert_int_eq(evq_set_modes(q, 64, 16), 0);
    for (; n < N0; n++) { /* the clock's window: records from 64 on */
        ref[n] = ev(1000 + rnd() % (W / 2), n);
        ck_assert_int_eq(evq_push(q, &ref[n]), 0);
    }
    ck_assert_int_eq(evq_compact(q), 1);
    for (; n < N0 + N1; n++) { /* the next window: its table */
        ref[n] = ev(W + rnd() % (W / 2), n);
        ck_assert_int_eq(evq_push(q, &ref[n]), 0);
    }
    size_t base = sim_mem_in_use() - evq_bytes(q);
    qsort(ref, n, sizeof ref[0], cmp_ev);
    sim_event e;
    size_t i = 0;
    for (; evq_size(q) > 17; i++) {
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    /* leaves 16: the switch needs the level-3 table */
    size_t bytes = evq_bytes(q);
    alloc_fails = 1;
    ck_assert_int_eq(evq_pop(q, &e), 1);
    alloc_fails = 0;
    ck_same(&e, &ref[i++]);
    ck_assert_int_eq(evq_compact(q), 1);
    ck_assert_uint_eq(evq_bytes(q), bytes);
    /* at 8 (half), with the table but no whole blocks */
    for (; evq_size(q) > 9; i++) {
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
        ck_assert_int_eq(evq_compact(q), 1);
    }
    alloc_fail_in = 1;
    ck_assert_int_eq(evq_pop(q, &e), 1);
    alloc_fail_in = -1;
    ck_same(&e, &ref[i++]);
    ck_assert_int_eq(evq_compact(q), 1);
    ck_assert_uint_eq(evq_mode_switches(q), 1);
    ck_assert_uint_eq(evq_bytes(q), sim_mem_in_use() - base);
    for (; i < n; i++) {
        ck_assert_uint_eq(evq_peek_time(q), ref[i].time);
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_compact(q), 1); /* drained in the array: no switch */
    /* more events: the next pop that leaves 8 or fewer, some in buckets */
    sim_time now = e.time;
    size_t m = 0;
    for (; m < N2; m++) {
        ref[m] = ev(now + (m + 1) * (UINT64_C(1) << 17) + rnd() % 1000, 100 + m);
        ck_assert_int_eq(evq_push(q, &ref[m]), 0);
    }
    qsort(ref, m, sizeof ref[0], cmp_ev);
    for (i = 0; i < m; i++) {
        ck_assert_uint_eq(evq_peek_time(q), ref[i].time);
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
    }
    ck_assert_int_eq(evq_compact(q), 0);
    ck_assert_uint_eq(evq_mode_switches(q), 2);
    ck_assert_uint_eq(evq_bytes(q), sim_mem_in_use() - base);
}
END_TEST

/* MODES (evq.c): evq_clear of a compact queue keeps the records' blocks and
 * escape entries, so the same work again switches up without allocating
 * (allocations fail for the push that reaches the threshold and its
 * switch; the whole blocks then go back, evq_bytes exact), and everything
 * pops in order. */
START_TEST(test_modes_clear_reuse)
{
    enum { N = 20000, UP = 16384 };
    static sim_event ref[N];
    size_t base = sim_mem_in_use() - evq_bytes(q);
    rng_state = 34;
    for (uint64_t k = 0; k < N; k++) {
        ref[k] = ev(1000 + rnd() % (UINT64_C(1) << 30), k);
        CHECK(evq_push(q, &ref[k]) == 0);
    }
    ck_assert_int_eq(evq_compact(q), 1);
    size_t bytes = evq_bytes(q);
    evq_clear(q);
    ck_assert_int_eq(evq_compact(q), 0);
    ck_assert_uint_eq(evq_bytes(q), bytes);
    rng_state = 34; /* the same events again */
    size_t n = 0;
    for (; n < UP - 1; n++) {
        ref[n] = ev(1000 + rnd() % (UINT64_C(1) << 30), n);
        CHECK(evq_push(q, &ref[n]) == 0);
    }
    alloc_fails = 1; /* until a push that needs no whole block reaches UP */
    int rc;
    do {
        ref[n] = ev(1000 + rnd() % (UINT64_C(1) << 30), n);
        rc = evq_push(q, &ref[n]);
    } while (rc == SIM_ENOMEM);
    alloc_fails = 0;
    ck_assert_int_eq(rc, 0);
    n++;
    ck_assert_int_eq(evq_size(q), UP);
    ck_assert_int_eq(evq_compact(q), 1);
    ck_assert_uint_eq(evq_mode_switches(q), 3); /* up, clear, up */
    ck_assert_uint_eq(evq_bytes(q), sim_mem_in_use() - base);
    pop_all_sorted(ref, n);
    ck_assert_uint_eq(evq_bytes(q), sim_mem_in_use() - base);
}
END_TEST

/* MODES (evq.c): a switch that could not get its memory is tried again
 * while the queue stays beyond its threshold, not only once the count has
 * moved on by half: at the default thresholds, a whole queue whose switch
 * up failed at 16384 and that then holds about that many (a push, a pop)
 * becomes compact; a compact one whose switch down failed at 2048 and that
 * then holds about that many becomes whole (before, the thresholds moved
 * to 24,576 and 1,024 and stayed there: neither switch was ever made, and
 * the raised one outlived a drain). Against the reference heap. */
START_TEST(test_modes_retry_hover)
{
    refheap h = {0};
    uint64_t seq = 0;
    sim_time now = 0;
    sim_event e, a, b;
    rng_state = 35;
    while (h.n < 16383) {
        e = ev(now + rnd() % (UINT64_C(1) << 30), seq++);
        CHECK(evq_push(q, &e) == 0);
        rh_push(&h, &e);
    }
    alloc_fails = 1; /* the push that reaches 16384 succeeds, its switch not */
    int rc;
    do {
        e = ev(now + rnd() % (UINT64_C(1) << 30), seq);
        rc = evq_push(q, &e);
    } while (rc == SIM_ENOMEM);
    alloc_fails = 0;
    ck_assert_int_eq(rc, 0);
    rh_push(&h, &e);
    seq++;
    ck_assert_int_eq(evq_compact(q), 0);
    int steps = 0;
    for (; !evq_compact(q) && steps < 40000; steps++) { /* hold: a pop, a push */
        CHECK(evq_pop(q, &a) == 1 && rh_pop(&h, &b) == 1);
        ck_same(&a, &b);
        now = a.time;
        e = ev(now + rnd() % (UINT64_C(1) << 30), seq++);
        CHECK(evq_push(q, &e) == 0);
        rh_push(&h, &e);
    }
    ck_assert_int_eq(evq_compact(q), 1);
    ck_assert_uint_eq(evq_mode_switches(q), 1);
    while (h.n > 2049) {
        CHECK(evq_pop(q, &a) == 1 && rh_pop(&h, &b) == 1);
        ck_same(&a, &b);
        now = a.time;
    }
    ck_assert_int_eq(evq_compact(q), 1);
    alloc_fails = 1; /* the pop that leaves 2048 succeeds, its switch not */
    do
        rc = evq_pop(q, &a);
    while (rc == SIM_ENOMEM);
    alloc_fails = 0;
    ck_assert_int_eq(rc, 1);
    CHECK(rh_pop(&h, &b) == 1);
    ck_same(&a, &b);
    now = a.time;
    ck_assert_int_eq(evq_compact(q), 1);
    for (steps = 0; evq_compact(q) && steps < 40000; steps++) { /* hold */
        e = ev(now + rnd() % (UINT64_C(1) << 30), seq++);
        CHECK(evq_push(q, &e) == 0);
        rh_push(&h, &e);
        CHECK(evq_pop(q, &a) == 1 && rh_pop(&h, &b) == 1);
        ck_same(&a, &b);
        now = a.time;
    }
    ck_assert_int_eq(evq_compact(q), 0);
    ck_assert_uint_eq(evq_mode_switches(q), 2);
    while (rh_pop(&h, &b)) {
        CHECK(evq_pop(q, &a) == 1);
        ck_same(&a, &b);
    }
    ck_assert_int_eq(evq_pop(q, &a), 0);
    rh_free(&h);
}
END_TEST

/* ------------------------------------------- differential stress (Stress) */

/* A push time for the stress model: the clock `now` plus an increment from
 * a mix of scales, or a time just around a boundary of the radix digits
 * (2^8 to 2^56; 2^24 is the next window's, evq.c WINDOW), or the time of
 * the previous push (a tie far from the clock), or exactly the clock.
 * Log-uniform increments have up to `smax` bits. Never SIM_TIME_MAX (peek
 * reports that as none), never before the clock. */
static sim_time stress_time(sim_time now, sim_time prev, unsigned smax)
{
    static const unsigned bnd[] = {8, 16, 24, 24, 24, 32, 40, 48, 56};
    const sim_time top = SIM_TIME_MAX - 1;
    uint64_t r = rnd();
    sim_time t;
    switch (r & 15) {
    case 0:
    case 1:
        t = now; /* at the clock */
        break;
    case 2:
        t = now + 1 + (r >> 8) % 3;
        break;
    case 3:
        t = prev >= now ? prev : now; /* a tie with the previous push */
        break;
    case 4:
    case 5: { /* just before, at or after the j-th multiple of 2^k after now */
        unsigned k = bnd[(r >> 4) % (sizeof bnd / sizeof bnd[0])];
        uint64_t j = 1 + (r >> 12) % 2;
        uint64_t off = (r >> 16) % 7;
        if ((now >> k) + j > (top >> k))
            return top - (r >> 24) % 3 < now ? now : top - (r >> 24) % 3;
        t = ((now >> k) + j) << k;
        t = t - 3 + off; /* t >= 2^8 - 3 */
        break;
    }
    default: { /* log-uniform: s bits, s from 1 to smax */
        unsigned s = 1 + (unsigned)((r >> 4) % smax);
        uint64_t inc = ((uint64_t)1 << (s - 1)) | (rnd() & (((uint64_t)1 << (s - 1)) - 1));
        t = now + inc;
        if (t < now) /* wrapped */
            t = top;
        break;
    }
    }
    if (t > top)
        t = top;
    return t < now ? now : t;
}

/* Targets and kinds: small ones, ones around the packing limits (targets
 * 2^16 - 1 and 2^24 - 1, kinds 256: evq.c, RECORDS), the largest, and
 * uniform 32-bit ones. */
static uint32_t stress_target(void)
{
    uint64_t r = rnd();
    switch (r % 8) {
    case 0:
    case 1:
    case 2:
        return (uint32_t)(r >> 8) % 4096;
    case 3:
        return 0xffffu - 3 + (uint32_t)(r >> 8) % 7;
    case 4:
        return 0xffffffu - 3 + (uint32_t)(r >> 8) % 7;
    case 5:
        return UINT32_MAX - (uint32_t)(r >> 8) % 3;
    default:
        return (uint32_t)(r >> 32);
    }
}

static uint32_t stress_kind(void)
{
    uint64_t r = rnd();
    switch (r % 8) {
    case 0:
    case 1:
    case 2:
    case 3:
        return (uint32_t)(r >> 8) % 32;
    case 4:
        return 256 - 3 + (uint32_t)(r >> 8) % 7;
    case 5:
        return UINT32_MAX - (uint32_t)(r >> 8) % 3;
    default:
        return (uint32_t)(r >> 32);
    }
}

/* Counts of what the stress model did, to check that it did it. */
typedef struct stress_counts {
    uint64_t pushes, pops, until_pops, until_refused, clears, failed_push, failed_pop;
    uint64_t peak, cycles;
    uint64_t switches;       /* mode switches (evq.c, MODES), both ways */
    uint64_t deferred;       /* pushes with failures injected that left up_at or
                              * more pending in whole mode */
    uint64_t clears_compact; /* clears (or new queues) while compact */
    sim_time top_clock;
} stress_counts;

/* The differential stress model against the reference heap: `ops`
 * operations in cycles that grow the population to a target (10 to
 * 100,000) and drain it to 0 (so that the small array, the front, the
 * window and the buckets take turns), each with its own scale of
 * increments (up to 2^2 .. 2^60 ps); pushes, evq_pop, evq_pop_until with
 * bounds below, at and above the earliest time, peeks after every
 * operation, evq_size, evq_bytes against the allocator, and an occasional
 * evq_clear (and always once the clock nears SIM_TIME_MAX). Every event
 * has a random a0 and a1 (the sequence is kept apart). With `inject`,
 * three operations in four run with allocations failing, at once or after
 * 1 to 3 successful ones (most need none and succeed), and a clear is a
 * new queue instead: a failed call must return SIM_ENOMEM, leave *out
 * alone and the queue as it was (size, earliest time, and every later pop;
 * after half the failed pops, a push at the clock, which must come first). */
static void stress_model(uint64_t seed, size_t ops, int inject, size_t up_at, size_t down_at,
                         stress_counts *ct)
{
    static const size_t pops_to[] = {10, 40, 300, 3000, 20000, 100000};
    static const unsigned scales[] = {2, 8, 12, 16, 20, 23, 24, 26, 32, 40, 48, 60};
    refheap h = {0};
    uint64_t seq = 0;
    sim_time now = 0, prev = 0;
    size_t base = sim_mem_in_use() - evq_bytes(q);
    size_t goal = 0;
    unsigned smax = 8;
    int grow = 0;
    size_t near_top = 0;
    rng_state = seed;
    memset(ct, 0, sizeof *ct);
    if (up_at)
        CHECK(evq_set_modes(q, up_at, down_at) == 0);
    else
        up_at = 16384; /* evq.c's UP_AT */
    for (size_t op = 0; op < ops; op++) {
        if (!grow && h.n == 0) { /* a new cycle */
            goal = pops_to[rnd() % (sizeof pops_to / sizeof pops_to[0])];
            smax = scales[rnd() % (sizeof scales / sizeof scales[0])];
            grow = 1;
            ct->cycles++;
            if (rnd() % 6 == 0) { /* the next cycles near the top of time */
                sim_time far = SIM_TIME_MAX - (UINT64_C(1) << (16 + rnd() % 33));
                if (far > now) {
                    sim_event e = {far, stress_target(), stress_kind(), rnd(), rnd()};
                    CHECK(evq_push(q, &e) == 0);
                    rh_push_seq(&h, &e, seq++);
                    ct->pushes++;
                }
            }
        } else if (grow && h.n >= goal) {
            grow = 0;
        }
        uint64_t r = rnd();
        if (now > ct->top_clock)
            ct->top_clock = now;
        near_top += now > SIM_TIME_MAX - (UINT64_C(1) << 40);
        if (r % (inject ? 5000 : 400000) == 0 || near_top > 20000) {
            /* clear and reuse; or, with failures, start from a new queue,
             * whose memory must grow again */
            ct->clears_compact += (uint64_t)evq_compact(q);
            if (inject) {
                ct->switches += evq_mode_switches(q);
                evq_free(q);
                q = evq_new();
                CHECK(q != NULL);
                if (up_at != 16384)
                    CHECK(evq_set_modes(q, up_at, down_at) == 0);
                base = sim_mem_in_use() - evq_bytes(q);
            } else {
                evq_clear(q);
                CHECK(!evq_compact(q)); /* a clear resets to whole events */
            }
            h.n = 0;
            now = 0; /* (prev stays: ties with it land in the old clock's windows) */
            near_top = 0;
            grow = 0;
            ct->clears++;
            CHECK(evq_size(q) == 0 && evq_peek_time(q) == SIM_TIME_MAX);
            continue;
        }
        int push = (r >> 8) % 4 != 0 ? grow : !grow;
        int fail = inject && (r >> 20) % 4 != 0;
        if (push) {
            sim_event e = {stress_time(now, prev, smax), stress_target(), stress_kind(), rnd(),
                           rnd()};
            if (fail) {
                if ((r >> 24) & 1)
                    alloc_fails = 1;
                else
                    alloc_fail_in = (long)((r >> 25) % 4);
            }
            int rc = evq_push(q, &e);
            alloc_fails = 0;
            alloc_fail_in = -1;
            if (rc == SIM_ENOMEM && fail) {
                ct->failed_push++;
            } else {
                CHECK(rc == 0);
                rh_push_seq(&h, &e, seq++);
                prev = e.time;
                ct->pushes++;
                /* still whole at the threshold with allocations failing:
                 * mostly a switch that could not be made */
                ct->deferred += fail && h.n >= up_at && !evq_compact(q);
            }
        } else {
            sim_event a, b;
            const sim_event sentinel = {12345, 6, 7, 8, 9};
            a = sentinel;
            sim_time first = h.n ? h.a[0].time : SIM_TIME_MAX;
            int until = (r >> 12) % 8 < 3;
            sim_time u = SIM_TIME_MAX;
            if (until) {
                switch ((r >> 28) % 8) {
                case 0:
                    u = first ? first - 1 : 0;
                    break;
                case 1:
                case 2:
                    u = first;
                    break;
                case 3:
                    u = first + (r >> 40) % 4;
                    break;
                case 4:
                    u = now + ((r >> 32) & ((UINT64_C(1) << ((r >> 36) % 60)) - 1));
                    break;
                case 5:
                    u = now ? now - 1 : 0;
                    break;
                case 6:
                    u = SIM_TIME_MAX;
                    break;
                default:
                    u = rnd();
                    break;
                }
            }
            if (fail) {
                if ((r >> 24) & 1)
                    alloc_fails = 1;
                else
                    alloc_fail_in = (long)((r >> 25) % 4);
            }
            int got = until ? evq_pop_until(q, u, &a) : evq_pop(q, &a);
            alloc_fails = 0;
            alloc_fail_in = -1;
            if (got == SIM_ENOMEM && fail) {
                ct->failed_pop++;
                ck_same(&a, &sentinel); /* *out untouched */
                if (rnd() % 2) { /* the clock did not move: a push at it is allowed */
                    sim_event e = {now, stress_target(), stress_kind(), rnd(), rnd()};
                    CHECK(evq_push(q, &e) == 0);
                    rh_push_seq(&h, &e, seq++);
                    prev = e.time;
                    ct->pushes++;
                }
            } else if (!h.n || (until && first > u)) {
                CHECK(got == 0);
                ck_same(&a, &sentinel);
                ct->until_refused++;
            } else {
                CHECK(got == 1);
                CHECK(rh_pop(&h, &b) == 1);
                ck_same(&a, &b);
                CHECK(a.time >= now);
                now = a.time;
                if (until)
                    ct->until_pops++;
                else
                    ct->pops++;
            }
        }
        CHECK(evq_size(q) == h.n);
        CHECK(evq_peek_time(q) == (h.n ? h.a[0].time : SIM_TIME_MAX));
        CHECK(evq_bytes(q) == sim_mem_in_use() - base);
        if (h.n > ct->peak)
            ct->peak = h.n;
    }
    sim_event a, b;
    while (rh_pop(&h, &b)) {
        CHECK(evq_pop(q, &a) == 1);
        ck_same(&a, &b);
    }
    ck_assert_int_eq(evq_pop(q, &a), 0);
    ck_assert_uint_eq(evq_bytes(q), sim_mem_in_use() - base);
    ct->switches += evq_mode_switches(q);
    rh_free(&h);
    if (getenv("EVQ_STRESS_VERBOSE"))
        fprintf(stderr,
                "seed %llu: %zu ops, %llu cycles, peak %llu, pushes %llu, pops %llu, "
                "until %llu (refused %llu), clears %llu, failed push %llu pop %llu, "
                "top clock 2^64 - %llu, switches %llu, deferred %llu, clears compact %llu\n",
                (unsigned long long)seed, ops, (unsigned long long)ct->cycles,
                (unsigned long long)ct->peak, (unsigned long long)ct->pushes,
                (unsigned long long)ct->pops, (unsigned long long)ct->until_pops,
                (unsigned long long)ct->until_refused, (unsigned long long)ct->clears,
                (unsigned long long)ct->failed_push, (unsigned long long)ct->failed_pop,
                (unsigned long long)(SIM_TIME_MAX - ct->top_clock),
                (unsigned long long)ct->switches, (unsigned long long)ct->deferred,
                (unsigned long long)ct->clears_compact);
}

/* The seed of a stress test: `dflt`, or EVQ_STRESS_SEED to try others
 * (EVQ_STRESS_VERBOSE=1 prints what a run did). */
static uint64_t stress_seed(uint64_t dflt)
{
    const char *s = getenv("EVQ_STRESS_SEED");
    return s ? strtoull(s, NULL, 10) : dflt;
}

/* The modes at their default thresholds (evq.c, MODES: records from 16384
 * pending events, whole again at 2048): a switch up whose memory cannot be
 * had is not made (the push stands, evq_bytes unchanged) and is made
 * later; many ties of one time and a quarter of escaping events cross
 * both switches; everything pops in (time, insertion) order. */
START_TEST(test_modes_thresholds)
{
    enum { N = 16383, MAX = 40000 };
    static sim_event ref[MAX];
    size_t n = 0;
    rng_state = 21;
    for (; n < N; n++) {
        ref[n] = ev(n % 5 ? 1000 + rnd() % (UINT64_C(1) << 30) : 777777, n);
        ck_assert_int_eq(evq_push(q, &ref[n]), 0);
    }
    ck_assert_int_eq(evq_compact(q), 0);
    /* with allocations failing, a push that succeeds (it needs no block)
     * reaches the threshold: the switch cannot be made */
    alloc_fails = 1;
    size_t bytes = evq_bytes(q);
    int rc;
    do {
        ref[n] = ev(n % 5 ? 1000 + rnd() % (UINT64_C(1) << 30) : 777777, n);
        rc = evq_push(q, &ref[n]);
        ck_assert(rc == 0 || rc == SIM_ENOMEM);
    } while (rc != 0);
    n++;
    alloc_fails = 0;
    ck_assert_int_eq(evq_compact(q), 0);
    ck_assert_uint_eq(evq_mode_switches(q), 0);
    ck_assert_uint_eq(evq_bytes(q), bytes);
    /* it is made later (after half as many pushes beyond the threshold) */
    while (!evq_compact(q)) {
        ck_assert_uint_lt(n, MAX);
        ref[n] = ev(n % 5 ? 1000 + rnd() % (UINT64_C(1) << 30) : 777777, n);
        ck_assert_int_eq(evq_push(q, &ref[n]), 0);
        n++;
    }
    /* not at every push after the failure: after 8,192 pushes into the
     * buckets (those into the sorted array, a few, do not count) */
    ck_assert_uint_gt(n, (N + 1) + (N + 1) / 2);
    ck_assert_uint_le(n, (N + 1) + (N + 1) / 2 + 1 + 256);
    ck_assert_uint_eq(evq_mode_switches(q), 1);
    qsort(ref, n, sizeof ref[0], cmp_ev);
    sim_event e;
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(evq_peek_time(q), ref[i].time);
        ck_assert_int_eq(evq_pop(q, &e), 1);
        ck_same(&e, &ref[i]);
        if (n - i - 1 == 2048) /* back to whole events */
            ck_assert_int_eq(evq_compact(q), 0);
        if (n - i - 1 == 2049)
            ck_assert_int_eq(evq_compact(q), 1);
    }
    ck_assert_uint_eq(evq_mode_switches(q), 2);
    ck_assert_int_eq(evq_pop(q, &e), 0);
}
END_TEST

/* The stress model without failures: 6,000,000 operations (seed 2026). */
START_TEST(test_stress_differential)
{
    stress_counts ct;
    stress_model(stress_seed(2026), 6000000, 0, 0, 0, &ct);
    /* it did what it is for: many drain cycles, some to 1e5 events, every
     * kind of pop, clears, and a clock near the top of time */
    ck_assert_uint_gt(ct.cycles, 20);
    ck_assert_uint_ge(ct.peak, 100000);
    ck_assert_uint_gt(ct.pops, 300000);
    ck_assert_uint_gt(ct.until_pops, 100000);
    ck_assert_uint_gt(ct.until_refused, 10000);
    ck_assert_uint_gt(ct.clears, 2);
    ck_assert_uint_gt(ct.top_clock, SIM_TIME_MAX - (UINT64_C(1) << 40));
    /* and the modes switched at their default thresholds, both ways, and
     * were cleared while compact (evq.c, MODES) */
    ck_assert_uint_gt(ct.switches, 40);
    ck_assert_uint_gt(ct.clears_compact, 5);
}
END_TEST

/* The stress model with allocation failures injected (seed 7; a new queue
 * every 5,000 operations or so, whose memory must grow again): every failed
 * call leaves the queue as it was. */
START_TEST(test_stress_nomem)
{
    stress_counts ct;
    stress_model(stress_seed(7), 5000000, 1, 0, 0, &ct);
    ck_assert_uint_gt(ct.failed_push, 10000);
    ck_assert_uint_gt(ct.failed_pop, 10);
    ck_assert_uint_gt(ct.cycles, 1000);
    ck_assert_uint_gt(ct.peak, 10000);
}
END_TEST

/* The stress model with the modes switching at 64 and 16 pending events
 * (evq.c, MODES), so that nearly every cycle switches both ways, with ties
 * at the clock at the moment of a switch, clears while compact, and events
 * that escape (stress_target, stress_kind) converted both ways. */
START_TEST(test_stress_modes)
{
    stress_counts ct;
    stress_model(stress_seed(2027), 3000000, 0, 64, 16, &ct);
    ck_assert_uint_gt(ct.switches, 60);
    ck_assert_uint_gt(ct.clears_compact, 0);
    ck_assert_uint_ge(ct.peak, 100000);
}
END_TEST

/* The same with allocation failures injected: a switch that cannot get its
 * memory is not made (the push or pop it follows stands, the queue as it
 * was, evq_bytes exact), and is made later. */
START_TEST(test_stress_modes_nomem)
{
    stress_counts ct;
    stress_model(stress_seed(8), 3000000, 1, 64, 16, &ct);
    ck_assert_uint_gt(ct.switches, 500);
    ck_assert_uint_gt(ct.deferred, 1000);
    ck_assert_uint_gt(ct.clears_compact, 50);
    ck_assert_uint_gt(ct.failed_push, 10000);
}
END_TEST

static Suite *evq_suite(void)
{
    Suite *s = suite_create("evq");
    TCase *tc = tcase_create("Core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fifo_ties);
    tcase_add_test(tc, test_small_threshold_order);
    tcase_add_test(tc, test_random_wide);
    tcase_add_test(tc, test_random_ties);
    tcase_add_test(tc, test_random_mixed);
    tcase_add_test(tc, test_hold_model);
    tcase_add_test(tc, test_hold_model_ties);
    tcase_add_test(tc, test_hold_model_sparse);
    tcase_add_test(tc, test_hold_model_front);
    tcase_add_test(tc, test_front_spill);
    tcase_add_test(tc, test_peek);
    tcase_add_test(tc, test_pop_until);
    tcase_add_test(tc, test_clear_reuse);
    tcase_add_test(tc, test_clear_window);
    tcase_add_test(tc, test_memory_accounted);
    tcase_add_test(tc, test_escapes_hold);
    tcase_add_test(tc, test_window_crossings);
    suite_add_tcase(s, tc);

    tc = tcase_create("Limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_near_max);
    tcase_add_test(tc, test_random_near_max);
    tcase_add_test(tc, test_all_equal);
    suite_add_tcase(s, tc);

    tc = tcase_create("Errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_empty_pop);
    tcase_add_test(tc, test_push_before_now);
    tcase_add_test(tc, test_new_nomem);
    tcase_add_test(tc, test_push_nomem);
    tcase_add_test(tc, test_pop_nomem);
    tcase_add_test(tc, test_window_nomem);
    tcase_add_test(tc, test_window_in_pop_nomem);
    tcase_add_test(tc, test_spill_nomem);
    tcase_add_test(tc, test_escape_nomem);
    tcase_add_test(tc, test_set_modes_args);
    tcase_add_test(tc, test_modes_set_now_nomem);
    tcase_add_test(tc, test_modes_down_window_nomem);
    tcase_add_test(tc, test_modes_clear_reuse);
    tcase_add_test(tc, test_modes_retry_hover);
    suite_add_tcase(s, tc);

    tc = tcase_create("Stress");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_stress_differential);
    tcase_add_test(tc, test_stress_nomem);
    tcase_add_test(tc, test_modes_thresholds);
    tcase_add_test(tc, test_stress_modes);
    tcase_add_test(tc, test_stress_modes_nomem);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(evq_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
