/*
 * stats.c - Welford accumulators and exact sample quantiles (via GSL; the
 * samples sorted by radix, sort_samples).
 */
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "mem.h"

void sim_acc_add(sim_acc *a, double x)
{
    if (a->n == 0 || x < a->min)
        a->min = x;
    if (a->n == 0 || x > a->max)
        a->max = x;
    a->n++;
    double d = x - a->mean;
    a->mean += d / (double)a->n;
    a->m2 += d * (x - a->mean);
}

double sim_acc_var(const sim_acc *a)
{
    return a->n > 1 ? a->m2 / (double)(a->n - 1) : 0.0;
}

void sim_samples_spill(sim_samples *s, size_t keep) { s->keep = keep; }

/* Move the in-memory samples to the spill file; 0, or -1 when there is no
 * file (then the collector keeps everything in memory from now on). */
static int spill_out(sim_samples *s)
{
    if (!s->spill && !(s->spill = tmpfile())) {
        s->keep = 0;
        return -1;
    }
    if (fwrite(s->v, sizeof *s->v, s->n, s->spill) != s->n) {
        s->keep = 0; /* a short write: the file is useless, stay in memory */
        fclose(s->spill);
        s->spill = NULL;
        s->spilled = 0;
        return -1;
    }
    s->spilled += s->n;
    s->n = 0;
    s->sorted = 0;
    return 0;
}

int sim_samples_add(sim_samples *s, double x)
{
    sim_acc_add(&s->acc, x);
    if (s->keep && s->n >= s->keep && spill_out(s) == 0) {
        s->v[s->n++] = x;
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        double *v = sim_realloc(s->v, cap * sizeof *v);
        if (!v)
            return SIM_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    s->sorted = 0;
    return 0;
}

/* The order-preserving key of a double (no NaN): larger key, larger value. */
static uint64_t okey(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u >> 63 ? ~u : u | (1ull << 63);
}

static double unkey(uint64_t k)
{
    uint64_t u = k >> 63 ? k & ~(1ull << 63) : ~k;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#define SPILL_BUF 65536

/* Call fn(ctx, x) on every sample, spilled and in memory; -1 on a read error. */
static int each_sample(sim_samples *s, double *buf, void (*fn)(void *, double), void *ctx)
{
    FILE *f = s->spill;
    if (fseek(f, 0, SEEK_SET))
        return -1;
    uint64_t left = s->spilled;
    while (left) {
        size_t want = left < SPILL_BUF ? (size_t)left : SPILL_BUF;
        if (fread(buf, sizeof *buf, want, f) != want)
            return -1;
        for (size_t i = 0; i < want; i++)
            fn(ctx, buf[i]);
        left -= want;
    }
    for (size_t i = 0; i < s->n; i++)
        fn(ctx, s->v[i]);
    fseek(f, 0, SEEK_END); /* appends continue at the end */
    return 0;
}

typedef struct sel {
    uint64_t prefix;   /* the key's top `bits` bits found so far */
    int bits;
    uint64_t *count;   /* 65536 digit counters */
    double *out;       /* collecting: the samples under the prefix */
    size_t nout;
} sel;

static int under(const sel *q, uint64_t k) { return q->bits == 0 || k >> (64 - q->bits) == q->prefix; }

static void sel_count(void *ctx, double x)
{
    sel *q = ctx;
    uint64_t k = okey(x);
    if (under(q, k))
        q->count[(k >> (48 - q->bits)) & 0xffff]++;
}

static void sel_collect(void *ctx, double x)
{
    sel *q = ctx;
    if (under(q, okey(x)))
        q->out[q->nout++] = x;
}

/* The k-th smallest sample (0-based) of a spilled collector; NaN on error. */
static double order_stat(sim_samples *s, uint64_t k, double *buf, uint64_t *count)
{
    sel q = {0, 0, count, NULL, 0};
    uint32_t d;
    for (;;) {
        memset(count, 0, 65536 * sizeof *count);
        if (each_sample(s, buf, sel_count, &q))
            return NAN;
        d = 0;
        while (d < 65535 && k >= count[d])
            k -= count[d++];
        q.prefix = q.prefix << 16 | d;
        q.bits += 16;
        if (q.bits == 64)
            return unkey(q.prefix); /* every sample under it is this value */
        if (count[d] <= (s->keep > SPILL_BUF ? s->keep : SPILL_BUF))
            break;
    }
    /* With every sample in the file (spilled_quantile), the collector's own
     * array, resident already, holds what the selection collects. */
    int own = s->n == 0 && count[d] <= s->cap;
    q.out = own ? s->v
                : sim_calloc(((s->keep > SPILL_BUF ? s->keep : SPILL_BUF) + 1), sizeof *q.out);
    if (!q.out || each_sample(s, buf, sel_collect, &q)) {
        if (!own)
            sim_free(q.out);
        return NAN;
    }
    gsl_sort(q.out, 1, q.nout);
    double x = q.out[k];
    if (!own)
        sim_free(q.out);
    return x;
}

/* gsl_stats_quantile_from_sorted_data's arithmetic over order statistics
 * found by selection (the spilled case). */
static double spilled_quantile(sim_samples *s, double f)
{
    uint64_t n = s->spilled + s->n;
    /* The samples still in memory join the file first, so that order_stat
     * collects into the collector's array instead of a second one of `keep`
     * samples: at the default 2^20 of the serving workload that was 8 MB
     * per collector touched at the end of every run past 2^20 requests (the
     * step of its peak RSS from 35 to 45 MB; not a growth per request). A
     * write error drops the file (spill_out) and leaves the in-memory ones. */
    if (s->n && spill_out(s))
        return sim_samples_quantile(s, f);
    double *buf = sim_calloc(SPILL_BUF, sizeof *buf);
    uint64_t *count = sim_calloc(65536, sizeof *count);
    double r = NAN;
    if (buf && count) {
        const double index = f * (double)(n - 1);
        const uint64_t lhs = (uint64_t)index;
        const double delta = index - (double)lhs;
        if (lhs == n - 1)
            r = order_stat(s, lhs, buf, count);
        else
            r = (1 - delta) * order_stat(s, lhs, buf, count) +
                delta * order_stat(s, lhs + 1, buf, count);
    }
    sim_free(buf);
    sim_free(count);
    return r;
}

/* Sort v ascending, as gsl_sort does. gsl_sort is a heapsort, whose
 * scattered accesses cost 2% of a replay's time in the end-of-run
 * quantiles; this is an LSD radix sort on okey (8 passes of 8 bits, a
 * pass skipped when every key has the same digit there; Knuth, TAOCP vol.
 * 3, 5.2.5). Without NaN and -0.0, equal keys are equal bits, so every
 * correct sort gives the same array: gsl_sort's. With either (where a
 * heapsort's order of 0.0 and -0.0 would be its own), with few samples or
 * no memory for the keys, it is gsl_sort. */
static void sort_samples(double *v, size_t n)
{
    uint64_t *k = n >= 256 ? sim_calloc(2 * n, sizeof *k) : NULL;
    for (size_t i = 0; k && i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof u);
        if (isnan(v[i]) || u == 1ull << 63) { /* NaN or -0.0 */
            sim_free(k);
            k = NULL;
        } else {
            k[i] = okey(v[i]);
        }
    }
    if (!k) {
        gsl_sort(v, 1, n);
        return;
    }
    size_t cnt[8][256];
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 8; d++)
            cnt[d][(k[i] >> (8 * d)) & 255]++;
    uint64_t *a = k, *b = k + n;
    for (int d = 0; d < 8; d++) {
        size_t *c = cnt[d];
        if (c[(a[0] >> (8 * d)) & 255] == n)
            continue; /* one digit value: the order stays */
        size_t sum = 0;
        for (int j = 0; j < 256; j++) {
            size_t t = c[j];
            c[j] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            b[c[(a[i] >> (8 * d)) & 255]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = unkey(a[i]);
    sim_free(k);
}

double sim_samples_quantile(sim_samples *s, double f)
{
    if (s->spilled)
        return spilled_quantile(s, f);
    if (s->n == 0)
        return NAN;
    if (!s->sorted) {
        sort_samples(s->v, s->n);
        s->sorted = 1;
    }
    return gsl_stats_quantile_from_sorted_data(s->v, 1, s->n, f);
}

void sim_samples_free(sim_samples *s)
{
    sim_free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
    if (s->spill)
        fclose(s->spill);
    s->spill = NULL;
    s->spilled = 0;
}

int sim_samples_report(sim *s, const char *scope, const char *name, sim_samples *smp,
                       double scale, const char *unit)
{
    char key[256];
    int rc = 0;
    snprintf(key, sizeof key, "%s_count", name);
    rc |= sim_report_metric(s, scope, key, (double)smp->acc.n, "");
    if (smp->acc.n == 0)
        return rc;
    static const struct { const char *suffix; double f; } q[] = {
        {"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}};
    snprintf(key, sizeof key, "%s_mean", name);
    rc |= sim_report_metric(s, scope, key, smp->acc.mean * scale, unit);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        snprintf(key, sizeof key, "%s_%s", name, q[i].suffix);
        rc |= sim_report_metric(s, scope, key, sim_samples_quantile(smp, q[i].f) * scale, unit);
    }
    snprintf(key, sizeof key, "%s_max", name);
    rc |= sim_report_metric(s, scope, key, smp->acc.max * scale, unit);
    return rc;
}
