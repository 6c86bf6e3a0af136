/*
 * bench_events.c - `memfab bench events`: the classic hold model.
 *
 * Fill a structure with N pending events, then repeat "pop the earliest,
 * push one at its time plus a random increment" and time the repetitions.
 * Increments are exponential (GSL gsl_ran_exponential), rounded to integer
 * picoseconds and pregenerated into an array that is cycled, so the RNG is
 * not timed and both structures see the identical stream. Two variants:
 * "hold" (mean 1 us, few ties) and "ties" (mean 1 ns, many equal times).
 *
 * Events carry payloads like a simulation's (mkev below: a0 a full 64-bit
 * hash, a1 the sequence under a 64-bit mask, 4096 targets, 32 kinds), so
 * that the event set, which counts the bytes it holds, gains nothing from
 * zeros or repeats a real run would not have.
 *
 * Each N runs the pending-event set (sim/evq.c) and a plain binary heap of
 * 16-byte (time, sequence) entries, written here. Both must pop the same
 * events in the same order: the final time and a checksum of the pop order
 * must agree, or the benchmark fails. Times are the thread's CPU time. It
 * prints figures and asserts no time.
 */
#include "tools/bench_events.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "sim/evq.h"
#include "sim/mem.h"

#define INC_N (1u << 20) /* pregenerated increments, cycled */
#define MAX_NS 16

/* A plain binary min-heap of 16-byte entries ordered by (time, seq), what
 * std::priority_queue<pair<time, seq>> holds: the sequence number breaks
 * ties in insertion order, as libuv's timer heap does, and doubles as the
 * event's handle. The benchmark's payload is a function of the sequence
 * number (mkev below, which the heap inverts from a1), so the heap rebuilds
 * the event from its entry and stores no payload; a simulator using such a heap would keep its 24-byte
 * payloads elsewhere, indexed by the handle, and that memory is not counted
 * here. The evq figures do count its payloads (sim_event is 32 bytes). */
typedef struct hnode {
    sim_time time;  /* when it fires */
    uint64_t seq;   /* insertion sequence, the event's handle */
} hnode;

typedef struct heap {
    hnode *a;       /* a[0] is the minimum */
    size_t n;       /* events held */
    size_t cap;     /* slots allocated */
} heap;

static inline sim_event mkev(sim_time t, uint64_t k);
#define A1_XOR 0xa5c3f00d5eed1234ULL /* a1 = k ^ A1_XOR: the heap's handle k */

static inline int hless(const hnode *x, const hnode *y)
{
    return x->time < y->time || (x->time == y->time && x->seq < y->seq);
}

/* e must come from mkev(e->time, k) with k its insertion sequence (a1 ^ A1_XOR). */
static int heap_push(heap *h, const sim_event *e)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? 2 * h->cap : 16;
        hnode *na = sim_realloc(h->a, nc * sizeof *na);
        if (!na)
            return -1;
        h->a = na;
        h->cap = nc;
    }
    hnode x = {e->time, e->a1 ^ A1_XOR};
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(&x, &h->a[p]))
            break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = x;
    return 0;
}

static int heap_pop(heap *h, sim_event *out)
{
    if (h->n == 0)
        return 0;
    *out = mkev(h->a[0].time, h->a[0].seq);
    hnode x = h->a[--h->n];
    size_t n = h->n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && hless(&h->a[c + 1], &h->a[c]))
            c++;
        if (!hless(&h->a[c], &x))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (n)
        h->a[i] = x;
    return 1;
}

/* The result of one run. */
typedef struct run_res {
    double secs;        /* CPU time of the hold phase */
    sim_time final;     /* time of the last popped event */
    uint64_t sum;       /* checksum of the pop order */
    size_t bytes;       /* peak bytes held by the structure */
    int ok;             /* 0 when a push failed */
} run_res;

/* CPU time of this thread: on a shared machine, wall time also counts the
 * time other processes hold the core. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline uint64_t mix(uint64_t h, const sim_event *e)
{
    h = (h ^ e->a0) * 0x100000001b3ULL + e->time;
    h = (h ^ e->a1) * 0x100000001b3ULL + e->target;
    return (h ^ e->kind) * 0x100000001b3ULL;
}

/* The payload of the k-th event, as a simulation's would look: a0 a full
 * 64-bit word (a hash of k, as incompressible as a pointer or a byte count
 * gets), a1 the sequence under a 64-bit mask (every bit varies), the target
 * one of 4096 components and the kind one of 32 (models' kinds start at 16,
 * SIM_EV_USER). Nothing in it is constant, so a structure that packs
 * payloads gains only what real events allow. */
static inline sim_event mkev(sim_time t, uint64_t k)
{
    uint64_t h = k * 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 32)) * 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    sim_event e = {t, (uint32_t)(h >> 52), 16 + (uint32_t)(h >> 8 & 31), h, k ^ A1_XOR};
    return e;
}

/* The same hold loop for both structures; the macro keeps both inlined. */
#define HOLD_LOOP(PUSH, POP, S)                                               \
    do {                                                                      \
        uint64_t k = 0;                                                       \
        sim_event e;                                                          \
        for (size_t i = 0; i < n; i++, k++) {                                 \
            e = mkev(inc[k & (INC_N - 1)], k);                                \
            if (PUSH((S), &e) != 0)                                           \
                goto out;                                                     \
        }                                                                     \
        double t0 = now_s();                                                  \
        uint64_t sum = 0;                                                     \
        sim_time last = 0;                                                    \
        for (size_t i = 0; i < holds; i++, k++) {                             \
            POP((S), &e);                                                     \
            sum = mix(sum, &e);                                               \
            last = e.time;                                                    \
            e = mkev(last + inc[k & (INC_N - 1)], k);                         \
            if (PUSH((S), &e) != 0)                                           \
                goto out;                                                     \
        }                                                                     \
        r.secs = now_s() - t0;                                                \
        r.final = last;                                                       \
        r.sum = sum;                                                          \
        r.ok = 1;                                                             \
    } while (0)

static run_res run_evq(const sim_time *inc, size_t n, size_t holds)
{
    run_res r = {0};
    evq *q = evq_new();
    if (!q)
        return r;
    HOLD_LOOP(evq_push, evq_pop, q);
out:
    r.bytes = evq_bytes(q);
    evq_free(q);
    return r;
}

static run_res run_heap(const sim_time *inc, size_t n, size_t holds)
{
    run_res r = {0};
    heap h = {0};
    HOLD_LOOP(heap_push, heap_pop, &h);
out:
    r.bytes = h.cap * sizeof(hnode);
    sim_free(h.a);
    return r;
}

/* Hold repetitions for N: enough to reach steady state and a stable rate,
 * few enough that the default run stays well under two minutes. */
static size_t holds_for(size_t n, int quick)
{
    size_t h = n >= 1000000 ? 2 * n : 5000000;
    if (h > 20000000)
        h = 20000000;
    return quick ? h / 10 : h;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: memfab bench events [-n LIST] [--quick] [--holds H] [--only S]\n"
            "                          [--variant V] [--help]\n\n"
            "Hold-model benchmark of the pending-event set against a binary heap.\n"
            "Fill N events, then repeatedly pop the earliest and push one at its\n"
            "time plus an exponential increment: mean 1 us (\"hold\") and mean 1 ns\n"
            "(\"ties\", many equal times). Both structures see the same stream and\n"
            "must pop the same events in the same order. Events carry payloads\n"
            "like a simulation's (a0 a 64-bit hash, a1 a masked sequence, 4,096 targets,\n"
            "32 kinds); the heap holds 16-byte (time, sequence) entries, as\n"
            "std::priority_queue of pairs would, its payloads kept elsewhere.\n"
            "B/event is the structure's bytes at the end of the run over N.\n\n"
            "  -n LIST    comma-separated N values (default 1e3,1e5,1e6,1e7)\n"
            "  --quick    N up to 1e6 and a tenth of the repetitions\n"
            "  --holds H  H repetitions for every N (0: fill only; for instruction\n"
            "             counts: run under callgrind with H and with 0, divide by H)\n"
            "  --only S   run one structure, evq or heap (no ratios)\n"
            "  --variant V  run one variant, hold or ties\n"
            "  -h, --help this text\n");
}

static int parse_list(const char *s, size_t *ns, int *count)
{
    int c = 0;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !(v >= 1) || v > 1e9 || c == MAX_NS)
            return -1;
        ns[c++] = (size_t)llround(v);
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    *count = c;
    return c ? 0 : -1;
}

static void fill_increments(sim_time *inc, double mean, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    for (size_t i = 0; i < INC_N; i++)
        inc[i] = (sim_time)llround(gsl_ran_exponential(rng, mean));
    gsl_rng_free(rng);
}

int bench_events(int argc, char **argv)
{
    size_t ns[MAX_NS] = {1000, 100000, 1000000, 10000000};
    int nn = 4, quick = 0, custom = 0;
    double fixed_holds = -1;                /* --holds */
    const char *only = NULL, *variant = NULL; /* --only, --variant */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--holds") && i + 1 < argc) {
            char *end;
            fixed_holds = strtod(argv[++i], &end);
            if (*end || !(fixed_holds >= 0) || fixed_holds > 1e10) {
                fprintf(stderr, "memfab bench events: bad --holds '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
            if (strcmp(only, "evq") && strcmp(only, "heap")) {
                fprintf(stderr, "memfab bench events: --only takes evq or heap, not '%s'\n", only);
                return 2;
            }
        } else if (!strcmp(argv[i], "--variant") && i + 1 < argc) {
            variant = argv[++i];
            if (strcmp(variant, "hold") && strcmp(variant, "ties")) {
                fprintf(stderr, "memfab bench events: --variant takes hold or ties, not '%s'\n",
                        variant);
                return 2;
            }
        } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            if (parse_list(argv[++i], ns, &nn) != 0) {
                fprintf(stderr, "memfab bench events: bad -n list '%s'\n", argv[i]);
                return 2;
            }
            custom = 1;
        } else {
            fprintf(stderr, "memfab bench events: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (quick && !custom)
        nn = 3;

    static const struct { const char *name; double mean; } variants[] = {
        {"hold", 1e6}, /* 1 us mean increment */
        {"ties", 1e3}, /* 1 ns mean increment: many equal times */
    };
    sim_time *inc = malloc(INC_N * sizeof *inc);
    if (!inc) {
        fprintf(stderr, "memfab bench events: out of memory\n");
        return 1;
    }
    printf("%-7s %10s %-6s %14s %10s %14s %8s %9s %9s\n", "variant", "N", "struct",
           "events/s", "ns/event", "peak bytes", "B/event", "speedup", "mem ratio");
    int rc = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0] && !rc; v++) {
        if (variant && strcmp(variant, variants[v].name))
            continue;
        fill_increments(inc, variants[v].mean, 12345 + v);
        for (int j = 0; j < nn && !rc; j++) {
            size_t n = ns[j], holds = holds_for(n, quick);
            if (fixed_holds >= 0)
                holds = (size_t)fixed_holds;
            if (only) { /* one structure: its row, no ratios */
                run_res a = !strcmp(only, "evq") ? run_evq(inc, n, holds) : run_heap(inc, n, holds);
                if (!a.ok) {
                    fprintf(stderr, "memfab bench events: out of memory at N=%zu\n", n);
                    rc = 1;
                    break;
                }
                double ra = a.secs > 0 ? (double)holds / a.secs : 0;
                printf("%-7s %10zu %-6s %14.0f %10.1f %14zu %8.1f %9s %9s\n", variants[v].name, n,
                       only, ra, ra > 0 ? 1e9 / ra : 0.0, a.bytes, (double)a.bytes / (double)n, "-",
                       "-");
                fflush(stdout);
                continue;
            }
            run_res a = run_evq(inc, n, holds);
            run_res b = run_heap(inc, n, holds);
            if (!a.ok || !b.ok) {
                fprintf(stderr, "memfab bench events: out of memory at N=%zu\n", n);
                rc = 1;
                break;
            }
            if (a.final != b.final || a.sum != b.sum) {
                fprintf(stderr,
                        "memfab bench events: error: %s N=%zu: evq and heap disagree "
                        "(final time %llu vs %llu, checksum %016llx vs %016llx)\n",
                        variants[v].name, n, (unsigned long long)a.final,
                        (unsigned long long)b.final, (unsigned long long)a.sum,
                        (unsigned long long)b.sum);
                rc = 1;
                break;
            }
            double ra = (double)holds / a.secs, rb = (double)holds / b.secs;
            printf("%-7s %10zu %-6s %14.0f %10.1f %14zu %8.1f %8.2fx %9.2f\n",
                   variants[v].name, n, "evq", ra, 1e9 / ra, a.bytes,
                   (double)a.bytes / (double)n, ra / rb, (double)a.bytes / (double)b.bytes);
            printf("%-7s %10zu %-6s %14.0f %10.1f %14zu %8.1f %8.2fx %9.2f\n",
                   variants[v].name, n, "heap", rb, 1e9 / rb, b.bytes,
                   (double)b.bytes / (double)n, 1.0, 1.0);
            fflush(stdout);
        }
    }
    free(inc);
    return rc;
}
