/*
 * plot.c - memfab plot (see plot.h for the escaping rules).
 *
 * Kinds and where their data comes from:
 *   cdf        request_latency (ttft_ps, tpot_ps or e2e_ps): one step curve per run
 *   param      a metric (rdb.h names) versus a param, one line per group of the
 *              other varying params; replications (runs that differ only in
 *              seed) become the mean with 95% confidence error bars
 *   link-bw    timeseries whose "scope/name" matches --metric (globs separated
 *              by commas; default "*throughput*" of the links in the `links`
 *              table): one curve per run, link and direction
 *   occupancy  timeseries matching --metric (default: kv_used:TIER of any scope,
 *              the KV tiers of each instance, or names matching *occupancy*);
 *              kv_used in bytes when the instance's kv_bytes_per_token metric
 *              and the kv.block_tokens param give the block size, else blocks
 *   kv-hit     kv: hit ratio per instance (clusters) and tier (colours, tier order)
 *   coherence  coherence: counts per message (clusters) and directory (colours)
 *   With several runs, kv-hit and coherence use one colour per run and are
 *   aggregated over instances (directories); occupancy is the mean over the
 *   instances of a run named alike but for their number (inst0..inst7),
 *   with a min-max band (--agg). --facet run|instance draws one panel per
 *   run or instance (plot_fig.c). Run labels name only the params that
 *   differ between the plotted runs (plot_labels), and runs that differ in
 *   two keys get a colour per value of the first, a dash per the rest.
 *
 * Figures default to 3.5 in x 2.4 in (one column of a two-column paper)
 * with 8 pt text and the Okabe-Ito colour-blind-safe palette.
 */
#include "plot.h"
#include "plot_int.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "results/res.h"
#include "sim/mem.h"
#include "tools/commands.h"
#include "tools/rdb.h"
#include "tools/safeout.h"

void plot_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\'')
            fputs("''", f);
        else if (*p < 0x20 || *p == 0x7f)
            fputc(' ', f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

const char *plot_terminal(const char *path, double w, double h, double pt, double *fscale)
{
    double dummy;
    if (!fscale)
        fscale = &dummy;
    *fscale = 1;
    static char buf[256];
    const char *dot = strrchr(path, '.');
    if (!dot)
        return NULL;
    if (strcmp(dot, ".pdf") == 0)
        snprintf(buf, sizeof buf, "pdfcairo size %gin,%gin font 'Helvetica,%g' linewidth 1"
                 " noenhanced", w, h, pt);
    else if (strcmp(dot, ".png") == 0)   /* 300 dpi; cairo fonts are 72 dpi points */
        *fscale = 300.0 / 72, snprintf(buf, sizeof buf, "pngcairo size %d,%d font 'Helvetica,%g' linewidth %g"
                 " noenhanced", (int)(w * 300), (int)(h * 300), pt * 300 / 72, 300.0 / 72);
    else if (strcmp(dot, ".svg") == 0)
        *fscale = 96.0 / 72, snprintf(buf, sizeof buf, "svg size %d,%d font 'Helvetica,%g' noenhanced",
                 (int)(w * 96), (int)(h * 96), pt * 96 / 72);
    else
        return NULL;
    return buf;
}

/* Non-negative quantities (latency, bytes, throughput, counts) are drawn
 * from zero: error bars and gnuplot's autoscale margins would otherwise
 * take the axis below it. A logarithmic axis keeps its autoscale. */
static void yrange_from_zero(FILE *f, const plot_opts *o, double ymin)
{
    if (!o->logy && ymin >= 0)
        fputs("set yrange [0:*]\n", f);
}

/* A time unit that keeps values readable: scale from seconds. */
static void time_scale(double max_s, double *f, const char **unit)
{
    if (max_s < 1e-6) {
        *f = 1e9;
        *unit = "ns";
    } else if (max_s < 1e-3) {
        *f = 1e6;
        *unit = "us";
    } else if (max_s < 1) {
        *f = 1e3;
        *unit = "ms";
    } else {
        *f = 1;
        *unit = "s";
    }
}

/* Scale for a metric with a unit: seconds and bytes/s get readable units. */
static void unit_scale(const char *unit, double max, double *f, const char **out)
{
    *f = 1;
    *out = unit;
    if (strcmp(unit, "s") == 0) {
        time_scale(max, f, out);
    } else if (strcmp(unit, "B/s") == 0) {
        if (max >= 1e9)
            *f = 1e-9, *out = "GB/s";
        else if (max >= 1e6)
            *f = 1e-6, *out = "MB/s";
        else if (max >= 1e3)
            *f = 1e-3, *out = "kB/s";
    } else if (strcmp(unit, "B") == 0) {
        if (max >= 1e9)
            *f = 1e-9, *out = "GB";
        else if (max >= 1e6)
            *f = 1e-6, *out = "MB";
        else if (max >= 1e3)
            *f = 1e-3, *out = "kB";
    }
}

static int varies(const rdb_set *s, const char *key)
{
    const char *v0 = rdb_param_get(&s->runs[0], key);
    for (size_t i = 1; i < s->n; i++) {
        const char *v = rdb_param_get(&s->runs[i], key);
        if ((v == NULL) != (v0 == NULL) || (v && strcmp(v, v0) != 0))
            return 1;
    }
    return 0;
}

/* ---- labels --------------------------------------------------------------- */

size_t plot_title_max(double w_in, double key_pt)
{
    /* gnuplot sizes a key column by character count at about 0.9 em per
     * character and drops the whole key when a column is wider than the
     * canvas; 40 characters at the default 3.5 in and 7 pt key text. */
    double n = w_in * 72 / (key_pt * 0.9);
    return n < 16 ? 16 : n > 120 ? 120 : (size_t)n;
}

void plot_shorten(char *s, size_t max)
{
    /* count characters, not bytes: UTF-8 continuation bytes are 10xxxxxx */
    size_t chars = 0, len = strlen(s);
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    if (chars <= max || max < 5)
        return;
    /* keep the head and the tail (where params and seeds are), "..." between */
    size_t head = (max - 3) / 2, tail = max - 3 - head;
    size_t hb = 0, c = 0;
    for (; hb < len; hb++) {
        if (((unsigned char)s[hb] & 0xc0) != 0x80 && c++ == head)
            break;
    }
    size_t tb = len;
    for (c = 0; tb > 0;) {
        tb--;
        if (((unsigned char)s[tb] & 0xc0) != 0x80 && ++c == tail)
            break;
    }
    memcpy(s + hb, "...", 3);
    memmove(s + hb + 3, s + tb, len - tb + 1);
}

/* The keys a run label shows: every param except the sweep bookkeeping, the
 * scenario name and description, and the plain twin of a swept key. */
static int label_key(const rdb_run *r, const char *k)
{
    if (strcmp(k, "sweep.name") == 0 || strcmp(k, "sweep.point") == 0 ||
        strcmp(k, "name") == 0 || strcmp(k, "description") == 0)
        return 0;
    if (strncmp(k, "sweep.", 6) != 0) {
        char twin[600];
        snprintf(twin, sizeof twin, "sweep.%s", k);
        if (rdb_param_get(r, twin))
            return 0;
    }
    return 1;
}

/* Key display rank: swept keys, then the others, the seed last. */
static int key_rank(const char *k)
{
    if (strcmp(k, "seed") == 0 || strcmp(k, "sweep.seed") == 0)
        return 2;
    return strncmp(k, "sweep.", 6) == 0 ? 0 : 1;
}

/* The last `parts` dot-separated components of k (after "sweep."). */
static const char *key_tail(const char *k, int parts)
{
    if (strncmp(k, "sweep.", 6) == 0)
        k += 6;
    const char *p = k + strlen(k);
    while (p > k) {
        p--;
        if (*p == '.' && --parts == 0)
            return p + 1;
    }
    return k;
}

typedef struct vkey {
    const char *key;           /* the param key */
    const char *shown;         /* its short name */
    int rank;
} vkey;

/* The short name of keys[j].key among keys[0..n): its last component, more
 * where two keys would look alike ("policy", "inst0.step_time"). */
static const char *short_key(const vkey *keys, size_t n, size_t j)
{
    const char *t = keys[j].key;
    for (int parts = 1; parts < 64; parts++) {
        t = key_tail(keys[j].key, parts);
        int clash = 0;
        for (size_t m = 0; m < n && !clash; m++)
            clash = m != j && strcmp(key_tail(keys[m].key, parts), t) == 0;
        if (!clash || t == key_tail(keys[j].key, parts + 1))
            break;
    }
    return t;
}

static int cmp_vkey(const void *a, const void *b)
{
    const vkey *p = a, *q = b;
    return p->rank != q->rank ? p->rank - q->rank : strcmp(p->key, q->key);
}

/* Replace every run label by a short one for a figure: the scenario name
 * only when the runs' names differ, then the params that differ between
 * the runs, each named by the last component of its key (more components
 * when two keys would look alike), e.g. "policy=dynamo rate=0.5/s seed=2";
 * runs alike in all of these get " #ID". Labels longer than max are
 * shortened in the middle. Returns 0 or SIM_ENOMEM. */
static int plot_labels(rdb_set *s, size_t max, int *run_lt)
{
    /* Sweep points that describe themselves (a point's `description:`,
     * one per run and no two alike) are labelled by it: a point that sets
     * the same key on eight instances would otherwise show as a list of
     * keys shortened past recognition. */
    int described = s->n > 1;
    for (size_t i = 0; i < s->n && described; i++) {
        const char *d = rdb_param_get(&s->runs[i], "sweep.description");
        described = d && *d;
        for (size_t j = 0; j < i && described; j++)
            described = strcmp(d, rdb_param_get(&s->runs[j], "sweep.description")) != 0;
    }
    for (size_t i = 0; i < s->n && described; i++) {
        char *lab = sim_strdup(rdb_param_get(&s->runs[i], "sweep.description"));
        if (!lab)
            return SIM_ENOMEM;
        plot_shorten(lab, max);
        sim_free(s->runs[i].label);
        s->runs[i].label = lab;
    }
    if (described) {
        for (size_t i = 0; i < s->n; i++)
            run_lt[i] = (int)(i % 32) + 1;
        return 0;
    }
    int names_vary = 0;
    for (size_t i = 1; i < s->n; i++)
        names_vary |= strcmp(s->runs[i].name, s->runs[0].name) != 0;
    size_t nk = 0, cap = 0;
    vkey *keys = NULL;
    for (size_t i = 0; i < s->n; i++)
        for (size_t p = 0; p < s->runs[i].nparams; p++) {
            const char *k = s->runs[i].params[p].key;
            if (!label_key(&s->runs[i], k))
                continue;
            int dup = 0;
            for (size_t j = 0; j < nk && !dup; j++)
                dup = strcmp(keys[j].key, k) == 0;
            if (dup || !varies(s, k))
                continue;
            if (nk == cap) {
                vkey *nkeys = sim_realloc(keys, (cap = cap ? 2 * cap : 16) * sizeof *keys);
                if (!nkeys) {
                    sim_free(keys);
                    return SIM_ENOMEM;
                }
                keys = nkeys;
            }
            keys[nk++] = (vkey){k, NULL, key_rank(k)};
        }
    if (nk)
        qsort(keys, nk, sizeof *keys, cmp_vkey);
    for (size_t j = 0; j < nk; j++)
        keys[j].shown = short_key(keys, nk, j);
    int status = 0;
    for (size_t i = 0; i < s->n && !status; i++) {
        rdb_run *r = &s->runs[i];
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
            status = SIM_ENOMEM;
            break;
        }
        int any = 0;
        if (names_vary || nk == 0) {
            fputs(r->name, f);
            any = 1;
        }
        for (size_t j = 0; j < nk; j++) {
            const char *v = rdb_param_get(r, keys[j].key);
            fprintf(f, "%s%s=%s", any ? " " : "", keys[j].shown, v ? v : "-");
            any = 1;
        }
        /* runs that look alike get their ids */
        for (size_t j = 0; j < s->n; j++) {
            if (j == i || (names_vary && strcmp(s->runs[j].name, r->name) != 0))
                continue;
            int same = 1;
            for (size_t m = 0; m < nk && same; m++) {
                const char *a = rdb_param_get(r, keys[m].key);
                const char *b = rdb_param_get(&s->runs[j], keys[m].key);
                same = (a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0);
            }
            if (same) {
                fprintf(f, " #%lld", (long long)r->id);
                break;
            }
        }
        fclose(f);
        char *lab = buf ? sim_strdup(buf) : NULL;
        free(buf);   /* open_memstream allocates with malloc */
        if (!lab) {
            status = SIM_ENOMEM;
            break;
        }
        plot_shorten(lab, max);
        sim_free(r->label);
        r->label = lab;
    }
    /* Line types of runs drawn as series: with two or more differing keys
     * and at most 8 values of the first (policy=... seed=...), one colour
     * per value of the first key and one dash pattern (hatch) per run of
     * that value, up to 4 (lt = 8 x variant + colour); else one line type
     * per run in order. */
    for (size_t i = 0; i < s->n; i++)
        run_lt[i] = (int)(i % 32) + 1;
    if (nk >= 2 && !status) {
        size_t ncol = 0, *colour = sim_calloc(s->n + 1, sizeof *colour);
        size_t *variant = sim_calloc(s->n + 1, sizeof *variant);
        int fits = colour && variant;
        for (size_t i = 0; i < s->n && fits; i++) {
            const char *v = rdb_param_get(&s->runs[i], keys[0].key);
            size_t c = ncol;
            for (size_t j = 0; j < i; j++) {
                const char *w = rdb_param_get(&s->runs[j], keys[0].key);
                if ((v == NULL) == (w == NULL) && (!v || strcmp(v, w) == 0)) {
                    c = colour[j];
                    variant[i]++;
                }
            }
            if (c == ncol)
                ncol++;
            colour[i] = c;
            fits = ncol <= 8 && variant[i] < 4;
        }
        for (size_t i = 0; i < s->n && fits; i++)
            run_lt[i] = (int)(8 * variant[i] + colour[i]) + 1;
        sim_free(colour);
        sim_free(variant);
    }
    sim_free(keys);
    return status;
}

/* ---- cdf ------------------------------------------------------------------ */

typedef struct dbuf {
    double *v;
    size_t n, cap;
} dbuf;

static int dbuf_push(dbuf *b, double x)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        double *nv = sim_realloc(b->v, cap * sizeof *nv);
        if (!nv)
            return SIM_ENOMEM;
        b->v = nv;
        b->cap = cap;
    }
    b->v[b->n++] = x;
    return 0;
}

/* A list of distinct strings, in order of insertion. */
typedef struct strs {
    char **v;
    size_t n;
} strs;

/* Index of c in l, appended when missing; -1 without memory. */
static long strs_index(strs *l, const char *c)
{
    for (size_t k = 0; k < l->n; k++)
        if (strcmp(l->v[k], c) == 0)
            return (long)k;
    char **nv = sim_realloc(l->v, (l->n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    l->v = nv;
    if (!(l->v[l->n] = sim_strdup(c)))
        return -1;
    return (long)l->n++;
}

static void strs_free(strs *l)
{
    for (size_t k = 0; k < l->n; k++)
        sim_free(l->v[k]);
    sim_free(l->v);
}

/* One panel per run: its index in the figure, in run order. */
static int run_panels(plot_fig *g, const rdb_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (plot_fig_panel(g, s->runs[i].label) < 0)
            return SIM_ENOMEM;
    return 0;
}

/* --facet instance: one panel per name of l, in natural order. */
static int named_panels(plot_fig *g, strs *l)
{
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, plot_natcmp);
    for (size_t k = 0; k < l->n; k++)
        if (plot_fig_panel(g, l->v[k]) < 0)
            return SIM_ENOMEM;
    return 0;
}

static int plot_cdf(FILE *f, sqlite3 *h, const rdb_set *s, const plot_opts *o, plot_fig *g)
{
    const char *metric = o->metric ? o->metric : "ttft";
    const char *col;
    const char *what, *shortname;
    if (strcmp(metric, "ttft") == 0)
        col = "ttft_ps", what = "Time to first token", shortname = "TTFT";
    else if (strcmp(metric, "tpot") == 0)
        col = "tpot_ps", what = "Time per output token", shortname = "TPOT";
    else if (strcmp(metric, "e2e") == 0)
        col = "e2e_ps", what = "End-to-end latency", shortname = "E2E latency";
    else {
        fprintf(stderr, "memfab plot: --kind cdf: --metric is ttft, tpot or e2e, not '%s'\n",
                metric);
        return SIM_EXIT_USAGE;
    }
    /* served requests only: one an instance rejected (too long to fit even
     * alone) is written with its first token and finish at 0, which the
     * view turns into negative latencies; e2e_ps > 0 leaves it out */
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM request_latency WHERE run_id = ?1 AND %s IS NOT NULL AND"
             " e2e_ps > 0 AND (?2 IS NULL OR instance = ?2) ORDER BY %s", col, col, col);
    sqlite3_stmt *st = NULL, *is = NULL;
    strs insts = {NULL, 0};
    dbuf *vals = NULL;
    int status = 0;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, "SELECT DISTINCT instance FROM requests WHERE run_id = ?"
                              " AND instance IS NOT NULL", -1, &is, NULL) != SQLITE_OK) {
        fprintf(stderr, "memfab plot: %s\n", sqlite3_errmsg(h));
        status = SIM_EXIT_USAGE;
        goto out;
    }
    /* curves: one per run, or per run and instance with --facet instance */
    if (o->facet == FACET_INSTANCE) {
        for (size_t i = 0; i < s->n; i++) {
            sqlite3_reset(is);
            sqlite3_bind_int64(is, 1, s->runs[i].id);
            while (sqlite3_step(is) == SQLITE_ROW)
                if (strs_index(&insts, (const char *)sqlite3_column_text(is, 0)) < 0) {
                    status = SIM_EXIT_RUNTIME;
                    goto out;
                }
        }
        if (named_panels(g, &insts)) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
    } else if (o->facet == FACET_RUN && run_panels(g, s)) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    size_t ninst = insts.n ? insts.n : 1, ncurves = s->n * ninst;
    vals = sim_calloc(ncurves + 1, sizeof *vals);
    if (!vals) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    double max = 0, lo = INFINITY;
    size_t nonempty = 0;
    for (size_t c = 0; c < ncurves; c++) {
        size_t i = c / ninst, j = c % ninst;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->runs[i].id);
        if (insts.n)
            sqlite3_bind_text(st, 2, insts.v[j], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, 2);
        while (sqlite3_step(st) == SQLITE_ROW)
            if (dbuf_push(&vals[c], (double)sqlite3_column_int64(st, 0) * 1e-12)) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
        if (vals[c].n) {
            nonempty++;
            max = vals[c].v[vals[c].n - 1] > max ? vals[c].v[vals[c].n - 1] : max;
            lo = vals[c].v[0] < lo ? vals[c].v[0] : lo;
        } else if (!insts.n) {
            fprintf(stderr, "memfab plot: run %lld (%s) has no requests with a %s; skipped\n",
                    (long long)s->runs[i].id, s->runs[i].label, metric);
        }
    }
    if (!nonempty) {
        fprintf(stderr, "memfab plot: --kind cdf needs rows in the `requests` table (a serving"
                        " workload); none of the selected runs has any\n");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    double scale;
    const char *unit;
    time_scale(max, &scale, &unit);
    char xl[128];
    snprintf(xl, sizeof xl, "%s (%s)", what, unit);
    plot_fig_labels(g, xl, "CDF");
    fputs("set yrange [0:1]\n", f);
    plot_fig_point(g, o->facet != FACET_NONE ? 0 : lo * scale, 0);   /* panels: from 0 */
    plot_fig_point(g, max * scale, 1);
    for (size_t c = 0; c < ncurves; c++)   /* the smallest positive latency, for --logx */
        for (size_t k = 0; k < vals[c].n; k++)
            if (vals[c].v[k] > 0) {
                plot_fig_point(g, vals[c].v[k] * scale, NAN);
                break;
            }
    if (!o->logx)
        plot_tics_for(f, 'x', lo * scale, max * scale, 6);
    g->corner = "bottom right";
    g->single_off = o->facet == FACET_RUN;
    for (size_t c = 0; c < ncurves; c++) {
        if (!vals[c].n)
            continue;
        size_t i = c / ninst, j = c % ninst;
        char block[48];
        snprintf(block, sizeof block, "$d%zu", c);
        fprintf(f, "%s << EOD\n", block);
        /* at most ~2000 points per curve: the quantiles, evenly spaced */
        size_t n = vals[c].n, step = n > 2000 ? n / 2000 : 1;
        for (size_t k = 0; k < n; k += step)
            fprintf(f, "%.9g %.9g\n", vals[c].v[k] * scale, (double)(k + 1) / (double)n);
        if ((n - 1) % step)
            fprintf(f, "%.9g 1\n", vals[c].v[n - 1] * scale);
        fputs("EOD\n", f);
        /* --facet run: one curve per panel, under the metric's name (no key) */
        if (plot_fig_add(g, block, o->facet == FACET_RUN ? i : o->facet == FACET_INSTANCE ? j : 0,
                         "using 1:2 with steps",
                         o->facet == FACET_RUN ? shortname : s->runs[i].label, 1,
                         o->facet == FACET_RUN ? 0 : o->run_lt[i], 0)) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
    }
out:
    for (size_t c = 0; vals && c < s->n * (insts.n ? insts.n : 1); c++)
        sim_free(vals[c].v);
    sim_free(vals);
    strs_free(&insts);
    sqlite3_finalize(st);
    sqlite3_finalize(is);
    return status;
}

/* ---- param ---------------------------------------------------------------- */

/* Leading number of a param value and the unit text after it. */
static int numeric(const char *v, double *x, const char **unit)
{
    char *end;
    *x = strtod(v, &end);
    if (end == v)
        return 0;
    while (*end == ' ')
        end++;
    *unit = end;
    return 1;
}

typedef struct pt {
    char *group;               /* group label ("" without groups) */
    char *xval;                /* x value as text */
    double x;                  /* numeric x, or category index */
    dbuf y;                    /* one value per replication */
} pt;

static int cmp_pt(const void *a, const void *b)
{
    const pt *p = a, *q = b;
    int c = strcmp(p->group, q->group);
    if (c)
        return c;
    return p->x < q->x ? -1 : p->x > q->x;
}

/* Keys that are not parameters of the model: bookkeeping, and a point's
 * description (prose naming what its keys set; grouping by it would give
 * every point a line of its own). */
static int is_internal_key(const char *k)
{
    return strcmp(k, "seed") == 0 || strcmp(k, "sweep.name") == 0 ||
           strcmp(k, "sweep.point") == 0 || strcmp(k, "sweep.seed") == 0 ||
           strcmp(k, "description") == 0 || strcmp(k, "sweep.description") == 0;
}

/* A run's value of a swept key: a point that does not set "sweep.X" ran with
 * the scenario's own X, which the run's flattened params hold. */
static const char *swept_value(const rdb_run *r, const char *k)
{
    const char *v = rdb_param_get(r, k);
    if (!v && strncmp(k, "sweep.", 6) == 0)
        v = rdb_param_get(r, k + 6);
    return v;
}

static int plot_param(FILE *f, sqlite3 *h, rdb_set *s, const plot_opts *o, plot_fig *g)
{
    if (!o->metric) {
        fprintf(stderr, "memfab plot: --kind param needs --metric NAME (e.g. gpu0/latency_p99,"
                        " requests/ttft_p99)\n");
        return SIM_EXIT_USAGE;
    }
    /* The varying params: sweep.* keys if any, else every varying key. */
    const char **vary = sim_calloc(4096, sizeof *vary);
    size_t nv = 0;
    int status = 0;
    pt *pts = NULL;
    size_t npts = 0;
    char **cats = NULL;
    size_t ncats = 0;
    if (!vary)
        return SIM_EXIT_RUNTIME;
    for (size_t i = 0; i < s->n; i++)
        for (size_t p = 0; p < s->runs[i].nparams && nv < 4095; p++) {
            const char *k = s->runs[i].params[p].key;
            char twin[600];
            snprintf(twin, sizeof twin, "sweep.%s", k);
            /* a key some point sweeps is its sweep.* twin (swept_value) */
            int swept = 0;
            for (size_t r = 0; r < s->n && !swept; r++)
                swept = rdb_param_get(&s->runs[r], twin) != NULL;
            if (is_internal_key(k) || swept)
                continue;
            int dup = 0;
            for (size_t j = 0; j < nv && !dup; j++)
                dup = strcmp(vary[j], k) == 0;
            if (!dup && varies(s, k))
                vary[nv++] = k;
        }
    /* the group keys' short names, as run labels show them */
    vkey *gkeys = sim_calloc(nv + 1, sizeof *gkeys);
    if (!gkeys) {
        sim_free(vary);
        return SIM_EXIT_RUNTIME;
    }
    for (size_t j = 0; j < nv; j++)
        gkeys[j].key = vary[j];
    for (size_t j = 0; j < nv; j++)
        gkeys[j].shown = short_key(gkeys, nv, j);
    int names_vary = 0;
    for (size_t i = 1; i < s->n; i++)
        names_vary |= strcmp(s->runs[i].name, s->runs[0].name) != 0;
    const char *xkey = NULL;
    char xbuf[512];
    if (o->xkey) {
        /* a swept key is its sweep.* twin, whether or not --x says so */
        xkey = o->xkey;
        snprintf(xbuf, sizeof xbuf, "sweep.%s", o->xkey);
        for (size_t i = 0; i < s->n && xkey != xbuf; i++)
            if (rdb_param_get(&s->runs[i], xbuf))
                xkey = xbuf;
    } else {
        for (int pass = 0; pass < 2 && !xkey; pass++)   /* swept keys first */
            for (size_t j = 0; j < nv && !xkey; j++)
                if ((pass || strncmp(vary[j], "sweep.", 6) == 0) && !strstr(vary[j], "policy") &&
                    (!o->group || !strstr(vary[j], o->group)))
                    xkey = vary[j];
        if (!xkey && nv)
            xkey = vary[0];
    }
    if (!xkey) {
        fprintf(stderr, "memfab plot: --kind param: no parameter varies among the selected runs;"
                        " give --x KEY\n");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    /* Metric values per (group, x). */
    int all_numeric = 1;
    const char *xunit = NULL;
    const char *yunit = NULL;
    double ymax = 0;
    for (size_t i = 0; i < s->n; i++) {
        rdb_run *r = &s->runs[i];
        const char *xv = swept_value(r, xkey);
        if (!xv) {
            fprintf(stderr, "memfab plot: run %lld has no param '%s'; skipped\n",
                    (long long)r->id, xkey);
            continue;
        }
        sim_err err;
        sim_err_clear(&err);
        if (!r->metrics && rdb_load_metrics(h, r, &err)) {
            sim_err_print(&err);
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        const rdb_metric *m = rdb_metric_get(r, o->metric);
        if (!m) {
            fprintf(stderr, "memfab plot: run %lld (%s) has no metric '%s'; skipped\n",
                    (long long)r->id, r->label, o->metric);
            continue;
        }
        if (!yunit)
            yunit = m->unit;
        if (fabs(m->value) > ymax)
            ymax = fabs(m->value);
        /* group label: the other varying keys (or --group) */
        char glab[1024] = "";
        size_t gl = 0;
        if (names_vary && !o->group)
            gl = (size_t)snprintf(glab, sizeof glab, "%s", r->name) % sizeof glab;
        for (size_t j = 0; j < nv; j++) {
            const char *k = vary[j];
            if (strcmp(k, xkey) == 0)
                continue;
            if (o->group && strcmp(k, o->group) != 0 &&
                !(strncmp(k, "sweep.", 6) == 0 && strcmp(k + 6, o->group) == 0))
                continue;
            const char *v = swept_value(r, k);
            gl += (size_t)snprintf(glab + gl, gl < sizeof glab ? sizeof glab - gl : 0, "%s%s=%s",
                                   gl ? ", " : "", gkeys[j].shown, v ? v : "-");
            if (gl >= sizeof glab)
                gl = sizeof glab - 1;
        }
        double x;
        const char *u;
        if (numeric(xv, &x, &u)) {
            if (!xunit)
                xunit = u;
            else if (strcmp(xunit, u) != 0)
                all_numeric = 0;
        } else {
            all_numeric = 0;
        }
        size_t k = 0;
        for (; k < npts; k++)
            if (strcmp(pts[k].group, glab) == 0 && strcmp(pts[k].xval, xv) == 0)
                break;
        if (k == npts) {
            pt *np = sim_realloc(pts, (npts + 1) * sizeof *np);
            if (!np) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
            pts = np;
            memset(&pts[npts], 0, sizeof *pts);
            pts[npts].group = sim_strdup(glab);
            pts[npts].xval = sim_strdup(xv);
            npts++;
        }
        if (dbuf_push(&pts[k].y, m->value)) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
    }
    if (!npts) {
        fprintf(stderr, "memfab plot: no selected run has metric '%s' and param '%s'\n",
                o->metric, xkey);
        status = SIM_EXIT_USAGE;
        goto out;
    }
    /* x positions: numbers, or category indexes in sorted order of first appearance */
    cats = sim_calloc(npts + 1, sizeof *cats);
    for (size_t k = 0; k < npts; k++) {
        if (all_numeric) {
            const char *u;
            numeric(pts[k].xval, &pts[k].x, &u);
            continue;
        }
        size_t c = 0;
        for (; c < ncats; c++)
            if (strcmp(cats[c], pts[k].xval) == 0)
                break;
        if (c == ncats)
            cats[ncats++] = pts[k].xval;
        pts[k].x = (double)c;
    }
    qsort(pts, npts, sizeof *pts, cmp_pt);
    double ys;
    const char *yu;
    unit_scale(yunit ? yunit : "", ymax, &ys, &yu);
    const char *xname = strncmp(xkey, "sweep.", 6) == 0 ? xkey + 6 : xkey;
    char xl[700], yl[700];
    if (all_numeric && xunit && *xunit)
        snprintf(xl, sizeof xl, "%s (%s)", xname, xunit);
    else
        snprintf(xl, sizeof xl, "%s", xname);
    snprintf(yl, sizeof yl, "%s%s%s%s", o->metric, *yu ? " (" : "", yu, *yu ? ")" : "");
    plot_fig_labels(g, xl, yl);
    {
        size_t ng = 0, ml = 0;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t k = 0; k < npts; k++) {
            if (k == 0 || strcmp(pts[k].group, pts[k - 1].group) != 0)
                ng++;
            if (strlen(pts[k].group) > ml)
                ml = strlen(pts[k].group);
            lo = pts[k].x < lo ? pts[k].x : lo;
            hi = pts[k].x > hi ? pts[k].x : hi;
        }
        g->single_off = ng == 1 && ml == 0;
        g->corner = "top right";
        if (all_numeric && !o->logx)
            plot_tics_for(f, 'x', lo, hi, 6);
        /* y tics too: gnuplot's choice crowds a plot that a tall key
         * below has made short (0, 5, ..., 50) */
        if (!o->logy)
            plot_tics_for(f, 'y', 0, ymax * ys, 5);
    }
    fputs("set offsets graph 0.04, graph 0.04, graph 0.05, graph 0.05\n", f);
    if (!all_numeric) {
        fputs("set xtics (", f);
        for (size_t c = 0; c < ncats; c++) {
            fprintf(f, "%s", c ? ", " : "");
            plot_quote(f, cats[c]);
            fprintf(f, " %zu", c);
        }
        fputs(")\n", f);
    }
    {
        /* from zero when no mean is negative (error bars may reach below) */
        double ymin = INFINITY;
        for (size_t k = 0; k < npts; k++) {
            double mean, sd, half;
            rdb_ci95(pts[k].y.v, pts[k].y.n, &mean, &sd, &half);
            ymin = mean < ymin ? mean : ymin;
        }
        yrange_from_zero(f, o, ymin);
    }
    int reps = 0;
    size_t ngroups = 0;
    for (size_t k = 0; k < npts; k++) {
        reps |= pts[k].y.n > 1;
        if (k == 0 || strcmp(pts[k].group, pts[k - 1].group) != 0) {
            if (k)
                fputs("EOD\n", f);
            fprintf(f, "$g%zu << EOD\n", ngroups++);
        }
        double mean, sd, half;
        rdb_ci95(pts[k].y.v, pts[k].y.n, &mean, &sd, &half);
        fprintf(f, "%.9g %.9g %.9g %zu\n", pts[k].x, mean * ys, half * ys, pts[k].y.n);
        plot_fig_point(g, all_numeric ? pts[k].x : NAN, mean * ys);
    }
    fputs("EOD\n", f);
    size_t gi = 0;
    for (size_t k = 0; k < npts; k++) {
        if (k && strcmp(pts[k].group, pts[k - 1].group) == 0)
            continue;
        char block[48], title[1024];
        snprintf(block, sizeof block, "$g%zu", gi++);
        /* a group named by several keys is shortened in the middle, as run
         * labels are, rather than cut off by the figure's edge */
        snprintf(title, sizeof title, "%s", pts[k].group[0] ? pts[k].group : o->metric);
        plot_shorten(title, plot_title_max(o->w, o->pt - 1));
        if (plot_fig_add(g, block, 0, reps ? "using 1:2:3 with yerrorlines"
                                           : "using 1:2 with linespoints",
                         title, 1, 0, 0)) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
    }
    if (reps)
        fprintf(stderr, "memfab plot: error bars are 95%% confidence intervals of the mean over"
                        " seeds (Student t)\n");
out:
    for (size_t k = 0; k < npts; k++) {
        sim_free(pts[k].group);
        sim_free(pts[k].xval);
        sim_free(pts[k].y.v);
    }
    sim_free(pts);
    sim_free(cats);
    sim_free(vary);
    sim_free(gkeys);
    return status;
}

/* ---- time series ----------------------------------------------------------- */

/* Does "scope/name" match one of the comma-separated globs? */
static int glob_any(const char *globs, const char *full)
{
    char g[1024];
    for (const char *p = globs; *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        snprintf(g, sizeof g, "%.*s", (int)(l < sizeof g ? l : sizeof g - 1), p);
        if (*g && fnmatch(g, full, 0) == 0)
            return 1;
        p += l + (c ? 1 : 0);
    }
    return 0;
}

/* Bytes per KV block of an instance: its kv_bytes_per_token metric times
 * the kv.block_tokens param; 0 when either is missing. */
static double kv_block_bytes(sqlite3 *h, rdb_run *r, const char *scope)
{
    sim_err err;
    sim_err_clear(&err);
    if (!r->metrics && rdb_load_metrics(h, r, &err))
        return 0;
    char name[600];
    snprintf(name, sizeof name, "%s/kv_bytes_per_token", scope);
    const rdb_metric *m = rdb_metric_get(r, name);
    const char *bt = rdb_param_get(r, "kv.block_tokens");
    double tokens = bt ? strtod(bt, NULL) : 0;
    if (!m || strcmp(m->unit, "B") != 0 || !(m->value > 0) || !(tokens > 0))
        return 0;
    return m->value * tokens;
}

#define KV_USED "kv_used:"

/* One stored time series of one run. */
typedef struct tser {
    size_t run;                /* index in the run set */
    char *scope, *name;        /* as stored */
    char *unit;                /* the series' unit as stored (NULL: none given) */
    double bpb;                /* bytes per KV block (kv_used series), 0 unknown */
    int is_kv;                 /* a kv_used:TIER series */
    dbuf t, v;                 /* seconds, stored values */
} tser;

/* A drawn curve: one series, or a group of instances' series aggregated. */
typedef struct curve {
    size_t run;                /* index in the run set */
    const char *scope;         /* the (first) member's scope */
    const char *name;          /* the stored name */
    const char *shown;         /* short name: tier or link direction */
    char gname[256];           /* the scope, or "stem*" for a group */
    char stem[256];            /* the scope without its trailing number */
    size_t *mem, nmem;         /* member series */
    dbuf t, y, lo, hi;         /* lo and hi: the min-max band of a mean */
    int nonzero;
} curve;

/* The scope without its trailing number: inst12 -> inst (a scope that is
 * only a number, or has none, is its own stem). */
static void scope_stem(const char *scope, char *out, size_t n)
{
    size_t l = strlen(scope);
    while (l > 0 && scope[l - 1] >= '0' && scope[l - 1] <= '9')
        l--;
    if (l == 0 || l == strlen(scope))
        l = strlen(scope);
    snprintf(out, n, "%.*s", (int)l, scope);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Aggregate the members of c: every member holds its last value until its
 * next sample (sample and hold over the union of the members' sample
 * times); a member before its first sample does not count. Sum, or mean
 * with the min and max. conv[k] converts member k's values. */
static int curve_aggregate(curve *c, const tser *ts, const double *conv, int sum)
{
    dbuf all = {NULL, 0, 0};
    int rc = 0;
    for (size_t m = 0; m < c->nmem; m++)
        for (size_t k = 0; k < ts[c->mem[m]].t.n; k++)
            if ((rc = dbuf_push(&all, ts[c->mem[m]].t.v[k])))
                goto out;
    if (all.n)
        qsort(all.v, all.n, sizeof *all.v, cmp_double);
    size_t *at = sim_calloc(c->nmem + 1, sizeof *at);
    if (!at) {
        rc = SIM_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < all.n; k++) {
        if (k && all.v[k] == all.v[k - 1])
            continue;
        double t = all.v[k], s = 0, lo = INFINITY, hi = -INFINITY;
        size_t cnt = 0;
        for (size_t m = 0; m < c->nmem; m++) {
            const tser *x = &ts[c->mem[m]];
            while (at[m] < x->t.n && x->t.v[at[m]] <= t)
                at[m]++;
            if (at[m] == 0)
                continue;   /* not started */
            double v = x->v.v[at[m] - 1] * conv[c->mem[m]];
            s += v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            cnt++;
        }
        if (!cnt)
            continue;
        if ((rc = dbuf_push(&c->t, t)) || (rc = dbuf_push(&c->y, sum ? s : s / (double)cnt)) ||
            (!sum && ((rc = dbuf_push(&c->lo, lo)) || (rc = dbuf_push(&c->hi, hi)))))
            break;
        c->nonzero |= s != 0 || hi != 0 || lo != 0;
    }
    sim_free(at);
out:
    sim_free(all.v);
    return rc;
}

/* Sort KV curves by run, instance (group) as first written, then tier in
 * the order of the runs' kv rows (insertion sort: stable, n is small). */
static int tier_order(sqlite3 *h, const rdb_set *s, curve *cv, size_t ncv)
{
    sqlite3_stmt *st;
    strs tiers = {NULL, 0}, grp = {NULL, 0};
    int rc = 0;
    if (sqlite3_prepare_v2(h, "SELECT tier FROM kv WHERE run_id = ? GROUP BY tier"
                              " ORDER BY MIN(rowid)", -1, &st, NULL) != SQLITE_OK)
        return 0;   /* no kv table: the order written */
    for (size_t i = 0; i < s->n && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->runs[i].id);
        while (sqlite3_step(st) == SQLITE_ROW && !rc)
            rc = strs_index(&tiers, (const char *)sqlite3_column_text(st, 0)) < 0;
    }
    sqlite3_finalize(st);
    long *rank = sim_calloc(2 * ncv + 1, sizeof *rank);
    rc |= !rank;
    for (size_t c = 0; c < ncv && !rc; c++) {
        long t = 0;
        for (; (size_t)t < tiers.n && strcmp(tiers.v[t], cv[c].shown) != 0; t++)
            ;
        char key[300];
        snprintf(key, sizeof key, "%zu %s", cv[c].run, cv[c].gname);
        long gi = strs_index(&grp, key);
        rc = gi < 0;
        rank[2 * c] = gi;
        rank[2 * c + 1] = t;
    }
    for (size_t c = 1; c < ncv && !rc; c++)
        for (size_t d = c; d > 0 && (cv[d - 1].run > cv[d].run ||
                                     (cv[d - 1].run == cv[d].run &&
                                      (rank[2 * d - 2] > rank[2 * d] ||
                                       (rank[2 * d - 2] == rank[2 * d] &&
                                        rank[2 * d - 1] > rank[2 * d + 1])))); d--) {
            curve tc = cv[d];
            cv[d] = cv[d - 1];
            cv[d - 1] = tc;
            long r0 = rank[2 * d], r1 = rank[2 * d + 1];
            rank[2 * d] = rank[2 * d - 2];
            rank[2 * d + 1] = rank[2 * d - 1];
            rank[2 * d - 2] = r0;
            rank[2 * d - 1] = r1;
        }
    sim_free(rank);
    strs_free(&tiers);
    strs_free(&grp);
    return rc ? SIM_ENOMEM : 0;
}

static int plot_series(FILE *f, sqlite3 *h, rdb_set *s, const plot_opts *o, int bw,
                       plot_fig *g)
{
    const char *glob = o->metric ? o->metric : bw ? "*throughput*" : "*/" KV_USED "*,*occupancy*";
    sqlite3_stmt *names = NULL, *rows = NULL;
    int status = 0;
    tser *ts = NULL;
    size_t nts = 0;
    curve *cv = NULL;
    size_t ncv = 0;
    double *conv = NULL;
    strs scopes = {NULL, 0}, nms = {NULL, 0}, srcs = {NULL, 0};
    /* The default link-bw figure draws links only: a series "throughput:DIR"
     * of a scope that the run's `links` table lists with that direction (a
     * fabric's per-path or a workload's throughput would set the scale);
     * a run without link rows keeps every series the glob matches. */
    if (sqlite3_prepare_v2(h, "SELECT scope, name, MAX(unit) FROM timeseries t WHERE run_id = ?1 AND"
                              " (?2 = 0 OR NOT EXISTS (SELECT 1 FROM links WHERE run_id = ?1)"
                              " OR EXISTS (SELECT 1 FROM links l WHERE l.run_id = ?1 AND"
                              " l.link = t.scope AND 'throughput:' || l.direction = t.name))"
                              " GROUP BY scope, name ORDER BY MIN(rowid)", -1, &names,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, "SELECT t_ps, value FROM timeseries WHERE run_id = ? AND"
                              " scope = ? AND name = ? ORDER BY t_ps", -1, &rows,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "memfab plot: %s\n", sqlite3_errmsg(h));
        status = SIM_EXIT_USAGE;
        goto out;
    }
    /* the series, in the order they were written (tiers in tier order) */
    int kv = !bw, kv_bytes = !bw;
    for (size_t i = 0; i < s->n; i++) {
        sqlite3_reset(names);
        sqlite3_bind_int64(names, 1, s->runs[i].id);
        sqlite3_bind_int(names, 2, bw && !o->metric);
        while (sqlite3_step(names) == SQLITE_ROW) {
            const char *scope = (const char *)sqlite3_column_text(names, 0);
            const char *name = (const char *)sqlite3_column_text(names, 1);
            char full[1024];
            snprintf(full, sizeof full, "%s/%s", scope, name);
            if (!glob_any(glob, full))
                continue;
            tser *nt = sim_realloc(ts, (nts + 1) * sizeof *nt);
            if (!nt) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
            ts = nt;
            tser *x = &ts[nts++];
            memset(x, 0, sizeof *x);
            x->run = i;
            x->scope = sim_strdup(scope);
            x->name = sim_strdup(name);
            const char *unit = (const char *)sqlite3_column_text(names, 2);
            x->unit = unit ? sim_strdup(unit) : NULL;
            if (!x->scope || !x->name || (unit && !x->unit) || strs_index(&scopes, scope) < 0) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
            x->is_kv = strncmp(name, KV_USED, strlen(KV_USED)) == 0;
            x->bpb = !bw && x->is_kv ? kv_block_bytes(h, &s->runs[i], scope) : 0;
            kv &= x->is_kv;
            kv_bytes &= x->is_kv && x->bpb > 0;
            sqlite3_reset(rows);
            sqlite3_bind_int64(rows, 1, s->runs[i].id);
            sqlite3_bind_text(rows, 2, scope, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(rows, 3, name, -1, SQLITE_TRANSIENT);
            while (sqlite3_step(rows) == SQLITE_ROW)
                if (dbuf_push(&x->t, (double)sqlite3_column_int64(rows, 0) * 1e-12) ||
                    dbuf_push(&x->v, sqlite3_column_double(rows, 1))) {
                    status = SIM_EXIT_RUNTIME;
                    goto out;
                }
        }
    }
    if (nts == 0) {
        fprintf(stderr, "memfab plot: no time series matches '%s' in the selected runs%s\n",
                glob, bw ? "" : " (KV tier occupancy comes from instances with a KV cache;"
                                " --metric GLOB picks other series)");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    /* KV occupancy in bytes when every instance gives its block size */
    conv = sim_calloc(nts + 1, sizeof *conv);
    if (!conv) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    for (size_t k = 0; k < nts; k++)
        conv[k] = kv && kv_bytes ? ts[k].bpb : 1;
    /* the curves: instances of a run named alike but for their number
     * (inst0..inst7) aggregated per series name, unless --agg none (the
     * default for link-bw) or --facet instance (a panel each) */
    int agg = o->agg != AGG_AUTO ? o->agg : bw ? AGG_NONE : AGG_MEAN;
    if (o->facet == FACET_INSTANCE)
        agg = AGG_NONE;
    cv = sim_calloc(nts + 1, sizeof *cv);
    if (!cv) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    for (size_t k = 0; k < nts; k++) {
        char stem[256];
        scope_stem(ts[k].scope, stem, sizeof stem);
        size_t c = 0;
        if (agg != AGG_NONE)
            for (; c < ncv; c++)
                if (cv[c].run == ts[k].run && strcmp(cv[c].stem, stem) == 0 &&
                    strcmp(cv[c].name, ts[k].name) == 0)
                    break;
        if (agg == AGG_NONE || c == ncv) {
            c = ncv++;
            cv[c].run = ts[k].run;
            cv[c].scope = ts[k].scope;
            cv[c].name = ts[k].name;
            cv[c].shown = strncmp(ts[k].name, "throughput:", 11) == 0 ? ts[k].name + 11
                          : ts[k].is_kv ? ts[k].name + strlen(KV_USED) : ts[k].name;
            snprintf(cv[c].stem, sizeof cv[c].stem, "%s", stem);
            snprintf(cv[c].gname, sizeof cv[c].gname, "%s", ts[k].scope);
            if (!(cv[c].mem = sim_calloc(nts + 1, sizeof *cv[c].mem))) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
        }
        cv[c].mem[cv[c].nmem++] = k;
    }
    /* KV tiers in tier order (the kv table's row order), within each run
     * and instance group, as the series of one instance were written */
    if (kv && ncv > 1 && tier_order(h, s, cv, ncv)) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    size_t grouped = 0, groups = 0;
    const char *example = NULL;
    double vmax = 0, tmax = 0;
    for (size_t c = 0; c < ncv; c++) {
        if (cv[c].nmem > 1) {
            snprintf(cv[c].gname, sizeof cv[c].gname, "%s*", cv[c].stem);
            if (cv[c].nmem > grouped)
                grouped = cv[c].nmem, example = cv[c].gname;
            groups++;
        }
        if (curve_aggregate(&cv[c], ts, conv, agg == AGG_SUM || cv[c].nmem == 1)) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        for (size_t k = 0; k < cv[c].t.n; k++) {
            tmax = cv[c].t.v[k] > tmax ? cv[c].t.v[k] : tmax;
            double v = cv[c].hi.n ? cv[c].hi.v[k] : cv[c].y.v[k];
            vmax = fabs(v) > vmax ? fabs(v) : vmax;
        }
    }
    if (groups)
        fprintf(stderr, "memfab plot: %s: the %s over the instances of a run named alike but"
                        " for their number (%s: %zu)%s; --agg none draws each, --facet"
                        " instance one panel each\n", bw ? "link-bw" : "occupancy",
                agg == AGG_SUM ? "sum" : "mean", example, grouped,
                agg == AGG_SUM ? "" : ", with a min-max band");
    /* units */
    double tf = 1, vf = 1;
    const char *tu = "s", *vu = "";
    time_scale(tmax, &tf, &tu);
    char xl[64], yl[160];
    /* what the y axis holds: one series, the mean per instance, or a sum */
    int am = groups ? (agg == AGG_MEAN ? 1 : 2) : 0;
    /* --metric may pick series that are not rates (per-class latencies,
     * counts): then the axis is named by the series and their own unit */
    const char *unit_all = nts ? ts[0].unit : NULL, *name_all = nts ? ts[0].name : NULL;
    for (size_t k = 1; k < nts; k++) {
        if (unit_all && (!ts[k].unit || strcmp(ts[k].unit, unit_all) != 0))
            unit_all = NULL;
        if (name_all && strcmp(ts[k].name, name_all) != 0)
            name_all = NULL;
    }
    if (bw && unit_all && strcmp(unit_all, "B/s") != 0) {
        /* the series' common name, else the part before their first ':'
         * (latency:class:kv_load, latency:class:kv_writeback: Latency) */
        char what[96];
        size_t stem = name_all ? strlen(name_all) : strcspn(ts[0].name, ":");
        for (size_t k = 1; k < nts && !name_all; k++)
            if (strcspn(ts[k].name, ":") != stem || strncmp(ts[k].name, ts[0].name, stem) != 0)
                stem = 0;
        snprintf(what, sizeof what, "%.*s", stem ? (int)stem : 5, stem ? ts[0].name : "value");
        what[0] = (char)toupper((unsigned char)what[0]);
        unit_scale(unit_all, vmax, &vf, &vu);
        snprintf(yl, sizeof yl, "%s%s%s%s%s", what,
                 (const char *[]){"", " per link", ", all links"}[am], *vu ? " (" : "", vu,
                 *vu ? ")" : "");
    } else if (bw) {
        unit_scale("B/s", vmax, &vf, &vu);
        snprintf(yl, sizeof yl, "%s (%s)",
                 (const char *[]){"Throughput", "Throughput per link", "Throughput, all links"}[am],
                 vu);
    } else if (kv) {
        static const char *const bu[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        int e = 0;
        while (kv_bytes && e < 4 && vmax >= 1024.0 * (double)(1ULL << (10 * e)))
            e++;
        vf = 1.0 / (double)(1ULL << (10 * e));
        snprintf(yl, sizeof yl, "%s (%s)",
                 (const char *[]){"KV cache used", "KV per instance", "KV, all instances"}[am],
                 kv_bytes ? bu[e] : "blocks");
    } else {
        snprintf(yl, sizeof yl, "%s",
                 (const char *[]){"Occupancy", "Occupancy per instance", "Occupancy, sum"}[am]);
    }
    snprintf(xl, sizeof xl, "Time (%s)", tu);
    plot_fig_labels(g, xl, yl);
    /* rates and occupancies are never negative: the y axis from 0 */
    yrange_from_zero(f, o, 0);
    plot_tics_for(f, 'x', 0, tmax * tf, 6);
    if (!o->logy)
        plot_tics_for(f, 'y', 0, vmax * vf, 5);
    plot_fig_point(g, 0, 0);
    plot_fig_point(g, tmax * tf, vmax * vf);
    /* panels */
    if ((o->facet == FACET_RUN && run_panels(g, s)) ||
        (o->facet == FACET_INSTANCE && named_panels(g, &scopes))) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    /* one colour per series name (tier, link direction) and one dash pattern
     * per source (run and instance; instance in a run's panel; run in an
     * instance's panel) when both vary; else one line type per curve */
    for (size_t c = 0; c < ncv; c++) {
        if (!cv[c].nonzero)
            continue;
        char src[600];
        snprintf(src, sizeof src, "%zu %s", o->facet == FACET_INSTANCE ? cv[c].run : 0,
                 o->facet == FACET_INSTANCE ? "" : cv[c].gname);
        if (o->facet == FACET_NONE)
            snprintf(src, sizeof src, "%zu %s", cv[c].run, cv[c].gname);
        if (strs_index(&nms, cv[c].shown) < 0 || strs_index(&srcs, src) < 0) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
    }
    int drawn = 0;
    for (size_t c = 0; c < ncv; c++) {
        curve *x = &cv[c];
        if (!x->nonzero)
            continue;
        char block[48];
        snprintf(block, sizeof block, "$s%zu", c);
        fprintf(f, "%s << EOD\n", block);
        for (size_t k = 0; k < x->t.n; k++) {
            fprintf(f, "%.9g %.9g", x->t.v[k] * tf, x->y.v[k] * vf);
            if (x->hi.n)
                fprintf(f, " %.9g %.9g", x->lo.v[k] * vf, x->hi.v[k] * vf);
            fputc('\n', f);
            if (o->logy) {
                plot_fig_point(g, NAN, x->y.v[k] * vf);
                if (x->hi.n)
                    plot_fig_point(g, NAN, x->lo.v[k] * vf);
            }
        }
        fputs("EOD\n", f);
        /* the key entry: run (when several and not a panel each), instance
         * or group (unless a panel each), series name */
        const char *lab = s->runs[x->run].label;
        char t[1024];
        if (o->facet == FACET_RUN)
            snprintf(t, sizeof t, "%s %s", x->gname, x->shown);
        else if (o->facet == FACET_INSTANCE)
            snprintf(t, sizeof t, "%s%s%s", s->n > 1 ? lab : "", s->n > 1 ? " " : "", x->shown);
        else if (s->n > 1)
            snprintf(t, sizeof t, "%s: %s %s", lab, x->gname, x->shown);
        else
            snprintf(t, sizeof t, "%s %s", x->gname, x->shown);
        plot_shorten(t, plot_title_max(o->w, o->pt - 1));
        char src[600];
        snprintf(src, sizeof src, "%zu %s", o->facet == FACET_INSTANCE ? x->run : 0,
                 o->facet == FACET_INSTANCE ? "" : x->gname);
        if (o->facet == FACET_NONE)
            snprintf(src, sizeof src, "%zu %s", x->run, x->gname);
        long ci = strs_index(&nms, x->shown), di = strs_index(&srcs, src);
        int styled = nms.n > 1 && srcs.n > 1 && ci >= 0 && di >= 0;
        int lt = styled ? (int)(ci % 8) + 1 : 0, dt = styled ? (int)(di % 5) + 1 : 0;
        size_t panel = o->facet == FACET_RUN        ? x->run
                       : o->facet == FACET_INSTANCE ? (size_t)plot_fig_panel(g, x->scope)
                                                    : 0;
        if ((x->hi.n && plot_fig_add(g, block, panel, "using 1:3:4 with filledcurves"
                                     " fs transparent solid 0.22 noborder", t, 0, lt, dt)) ||
            plot_fig_add(g, block, panel, "using 1:2 with lines", t, 1, lt, dt)) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        drawn++;
    }
    if (!drawn) {   /* every series is zero: draw one anyway */
        fputs("$s0 << EOD\n0 0\nEOD\n", f);
        if (plot_fig_add(g, "$s0", 0, "using 1:2 with lines", "all series are zero", 1, 0,
                         0)) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
    }
out:
    for (size_t k = 0; k < nts; k++) {
        sim_free(ts[k].scope);
        sim_free(ts[k].name);
        sim_free(ts[k].unit);
        sim_free(ts[k].t.v);
        sim_free(ts[k].v.v);
    }
    sim_free(ts);
    for (size_t c = 0; c < ncv; c++) {
        sim_free(cv[c].mem);
        sim_free(cv[c].t.v);
        sim_free(cv[c].y.v);
        sim_free(cv[c].lo.v);
        sim_free(cv[c].hi.v);
    }
    sim_free(cv);
    sim_free(conv);
    strs_free(&scopes);
    strs_free(&nms);
    strs_free(&srcs);
    sqlite3_finalize(names);
    sqlite3_finalize(rows);
    return status;
}

/* ---- bars (kv-hit, coherence) -------------------------------------------------- */

typedef struct bar {
    size_t run, a, b;          /* run, outer (instance, directory), inner (tier, message) */
    double num, den;           /* hits and lookups (kv), or a count and 1 */
} bar;

/* One drawn bar: where, in which colour, how high, its min-max whisker. */
typedef struct dbar {
    size_t panel, cluster, series;
    double v, lo, hi;          /* lo > hi: no whisker */
} dbar;

/* Clustered bars. Rows are (run, a, b, value) with a the instance or
 * directory and b the tier or message, each in the order written (the
 * kv table's row order is the tier order).
 *   One run: kv-hit clusters per instance with one colour per tier,
 *   coherence clusters per message with one colour per directory (a
 *   dimension with one value is not a colour).
 *   Several runs: aggregated over instances (directories) by default,
 *   clusters per tier (message), one colour per run: kv-hit the hit ratio
 *   of all lookups (--agg sum) or the mean of the instances' ratios (--agg
 *   mean), with a min-max whisker over instances; coherence the sum (or
 *   the mean with a whisker). --agg none: clusters per instance/tier.
 *   --facet run: a panel per run as one run is drawn; --facet instance: a
 *   panel per instance (directory), clusters per tier (message), a colour
 *   per run. */
static int plot_bars(FILE *f, sqlite3 *h, const rdb_set *s, const plot_opts *o, int kv,
                     plot_fig *g)
{
    const char *sql = kv ? "SELECT instance, tier, hits, hits + misses FROM kv"
                           " WHERE run_id = ? ORDER BY rowid"
                         /* message types no selected run sent are left out: a
                          * protocol's full list (MESI, HDM-DB, software sync)
                          * would crowd the axis with empty clusters */
                         : "SELECT directory, message, count, 1 FROM coherence"
                           " WHERE run_id = ? AND count > 0 ORDER BY rowid";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "memfab plot: %s\n", sqlite3_errmsg(h));
        return SIM_EXIT_USAGE;
    }
    strs as = {NULL, 0}, bs = {NULL, 0}, ser = {NULL, 0};
    bar *bars = NULL;
    dbar *db = NULL;
    int *ser_lt = NULL;        /* line type of each series (a run's, or in order) */
    size_t nbars = 0, ndb = 0;
    int status = 0;
    for (size_t i = 0; i < s->n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->runs[i].id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *a = (const char *)sqlite3_column_text(st, 0);
            const char *b = (const char *)sqlite3_column_text(st, 1);
            long ka = strs_index(&as, a ? a : ""), kb = strs_index(&bs, b ? b : "");
            bar *nb = sim_realloc(bars, (nbars + 1) * sizeof *nb);
            if (ka < 0 || kb < 0 || !nb) {
                bars = nb ? nb : bars;
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
            bars = nb;
            double den = sqlite3_column_double(st, 3);
            if (!(den > 0))
                continue;   /* no lookups: no ratio */
            bars[nbars++] = (bar){i, (size_t)ka, (size_t)kb, sqlite3_column_double(st, 2), den};
        }
    }
    if (!as.n) {
        fprintf(stderr, "memfab plot: the selected runs have no rows in `%s`\n",
                kv ? "kv" : "coherence");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    int agg = o->agg;
    if (agg == AGG_AUTO)
        agg = s->n > 1 && o->facet == FACET_NONE ? AGG_SUM : AGG_NONE;
    if (o->facet == FACET_INSTANCE || as.n == 1)
        agg = AGG_NONE;
    const char *aname = kv ? "instance" : "directory", *bname = kv ? "tier" : "message";
    db = sim_calloc(nbars + 1, sizeof *db);
    ser_lt = sim_calloc(nbars + 1, sizeof *ser_lt);
    if (!db || !ser_lt) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    if (o->facet == FACET_RUN && run_panels(g, s)) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    if (o->facet == FACET_INSTANCE) {
        strs sorted = {NULL, 0};
        for (size_t k = 0; k < as.n && !status; k++)
            status = strs_index(&sorted, as.v[k]) < 0 ? SIM_EXIT_RUNTIME : 0;
        status = status ? status : named_panels(g, &sorted) ? SIM_EXIT_RUNTIME : 0;
        strs_free(&sorted);
        if (status)
            goto out;
    }
    int one_run = s->n == 1 || o->facet == FACET_RUN;
    /* one run without aggregation: clusters per instance and a colour per
     * tier (kv), per message and a colour per directory (coherence); the
     * other way round when the clusters would be one, or the colours many */
    int x_is_a = kv;
    {
        size_t nx = x_is_a ? as.n : bs.n, nc = x_is_a ? bs.n : as.n;
        if (nx == 1 || (nc > 8 && nx <= 8))
            x_is_a = !x_is_a;
    }
    if (agg != AGG_NONE) {
        /* (run, b): sums over a, and the min-max of the per-a values */
        for (size_t k = 0; k < nbars; k++) {
            size_t d = 0;
            for (; d < ndb; d++)
                if (db[d].panel == bars[k].run && db[d].cluster == bars[k].b)
                    break;
            double v = kv ? bars[k].num / bars[k].den : bars[k].num;
            if (d == ndb)
                db[ndb++] = (dbar){bars[k].run, bars[k].b, 0, 0, INFINITY, -INFINITY};
            db[d].lo = v < db[d].lo ? v : db[d].lo;
            db[d].hi = v > db[d].hi ? v : db[d].hi;
            db[d].series++;   /* count of a, for now */
        }
        for (size_t d = 0; d < ndb; d++) {
            double num = 0, den = 0, sumv = 0;
            for (size_t k = 0; k < nbars; k++)
                if (bars[k].run == db[d].panel && bars[k].b == db[d].cluster) {
                    num += bars[k].num;
                    den += bars[k].den;
                    sumv += kv ? bars[k].num / bars[k].den : bars[k].num;
                }
            size_t cnt = db[d].series, run = db[d].panel;
            db[d].v = agg == AGG_MEAN ? sumv / (double)cnt : kv ? num / den : num;
            if (cnt < 2 || (!kv && agg == AGG_SUM))
                db[d].lo = INFINITY, db[d].hi = -INFINITY;   /* no whisker */
            long c = plot_fig_cat(g, bs.v[db[d].cluster]);
            long j = strs_index(&ser, o->facet == FACET_RUN ? (kv ? "KV hit ratio" : "messages")
                                                             : s->runs[run].label);
            if (c < 0 || j < 0) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
            ser_lt[j] = o->facet == FACET_RUN ? 1 : o->run_lt[run];
            db[d] = (dbar){o->facet == FACET_RUN ? run : 0, (size_t)c, (size_t)j, db[d].v,
                           db[d].lo, db[d].hi};
        }
    } else {
        for (size_t k = 0; k < nbars; k++) {
            const char *a = as.v[bars[k].a], *b = bs.v[bars[k].b];
            char lab[1024];
            const char *cl, *sl;
            size_t panel = 0;
            int lt = o->run_lt[bars[k].run];
            if (o->facet == FACET_INSTANCE) {
                panel = (size_t)plot_fig_panel(g, a);
                cl = b;
                sl = s->runs[bars[k].run].label;
            } else if (one_run) {
                panel = o->facet == FACET_RUN ? bars[k].run : 0;
                cl = x_is_a ? a : b;
                sl = x_is_a ? b : a;
                lt = 0;
            } else {
                if (as.n == 1 || bs.n == 1)
                    snprintf(lab, sizeof lab, "%s", as.n == 1 ? b : a);
                else
                    snprintf(lab, sizeof lab, "%s/%s", a, b);
                cl = lab;
                sl = s->runs[bars[k].run].label;
            }
            long c = plot_fig_cat(g, cl), j = strs_index(&ser, sl);
            if (c < 0 || j < 0) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
            ser_lt[j] = lt ? lt : (int)(j % 32) + 1;
            db[ndb++] = (dbar){panel, (size_t)c, (size_t)j, bars[k].num / bars[k].den, INFINITY,
                               -INFINITY};
        }
    }
    size_t nser = ser.n;
    double vmax = 0;
    for (size_t d = 0; d < ndb; d++) {
        double top = db[d].hi > db[d].v ? db[d].hi : db[d].v;
        vmax = top > vmax ? top : vmax;
    }
    double yscale = 1;
    const char *yu = "";
    if (!kv && vmax >= 1e6 && !o->logy)
        yscale = 1e-6, yu = " (millions)";
    else if (!kv && vmax >= 1e4 && !o->logy)
        yscale = 1e-3, yu = " (thousands)";
    char ylab[128], xlab[128];
    int aggd = agg != AGG_NONE;
    snprintf(ylab, sizeof ylab, "%s%s%s", kv ? "KV hit ratio" : "Messages",
             aggd && agg == AGG_MEAN ? (kv ? ", mean of instances" : " per directory") : "", yu);
    if (aggd || o->facet == FACET_INSTANCE)
        snprintf(xlab, sizeof xlab, "%s", kv ? "Tier" : "Message");
    else if (!one_run)
        snprintf(xlab, sizeof xlab, "%s", kv ? "Instance / tier" : "Directory / message");
    else
        snprintf(xlab, sizeof xlab, "%s", x_is_a ? (kv ? "Instance" : "Directory")
                                                 : (kv ? "Tier" : "Message"));
    plot_fig_labels(g, xlab, ylab);
    if (aggd && as.n > 1)
        fprintf(stderr, "memfab plot: %s: %s over %zu %ss per %s%s; --agg none draws each"
                        " %s, --facet instance one panel each\n", kv ? "kv-hit" : "coherence",
                kv ? (agg == AGG_SUM ? "the hit ratio of all lookups" : "the mean hit ratio")
                   : (agg == AGG_SUM ? "the sum" : "the mean"),
                as.n, kv ? "instance" : "directorie", bname, kv || agg == AGG_MEAN ? ", whiskers min-max" : "", aname);
    /* thin bars lose their colour to a border */
    size_t cols, rows;
    plot_grid(g->npanels ? g->npanels : 1, &cols, &rows);
    double fw = o->facet == FACET_NONE || o->sized || cols < 3 ? o->w : 7;
    double pw = fw * 72 / (double)(o->facet == FACET_NONE ? 1 : cols) - 5 * o->pt;
    double bw_pt = pw / (double)(g->ncat ? g->ncat : 1) * 0.8 / (double)(nser ? nser : 1);
    fprintf(f, "set style fill solid 0.85 %s\nset boxwidth 1 absolute\n",
            bw_pt >= 6 ? "border -1" : "noborder");
    fputs("set grid noxtics\nset xtics scale 0\n", f);
    g->single_off = nser == 1;
    if (kv && vmax > 0.5) {
        fputs("set yrange [0:1.05]\nset ytics 0.2\n", f);
        plot_fig_point(g, NAN, 1);
    } else if (kv && !o->logy) {   /* low ratios: the axis up to the data, from 0 */
        fputs("set yrange [0:*]\n", f);
        plot_tics_for(f, 'y', 0, vmax, 5);
    } else if (!o->logy) {
        fputs("set yrange [0:*]\n", f);
        plot_tics_for(f, 'y', 0, vmax * yscale, 5);
    }
    plot_fig_point(g, NAN, 0);
    double w = 0.8 / (double)nser;
    size_t np = g->npanels ? g->npanels : 1;
    for (size_t p = 0; p < np; p++)
        for (size_t j = 0; j < nser; j++) {
            char block[48];
            snprintf(block, sizeof block, "$b%zu_%zu", p, j);
            int any = 0, whisk = 0;
            for (size_t d = 0; d < ndb; d++) {
                if (db[d].panel != p || db[d].series != j)
                    continue;
                if (!any)
                    fprintf(f, "%s << EOD\n", block);
                any = 1;
                int has = db[d].lo <= db[d].hi;
                whisk |= has;
                double x = (double)db[d].cluster + ((double)j - ((double)nser - 1) / 2.0) * w;
                fprintf(f, "%.9g %.9g %.9g %.9g %.9g\n", x, db[d].v * yscale, w,
                        (has ? db[d].lo : db[d].v) * yscale, (has ? db[d].hi : db[d].v) * yscale);
                plot_fig_point(g, NAN, (has ? db[d].hi : db[d].v) * yscale);
                if (db[d].v > 0)
                    plot_fig_point(g, NAN, db[d].v * yscale);
            }
            if (!any)
                continue;
            fputs("EOD\n", f);
            /* colours 9-32 repeat, hatched (bars have no dash) */
            static const int hatch[] = {0, 4, 5, 1};
            int lt = ser_lt[j], hv = hatch[((lt - 1) / 8) % 4];
            char with[128];
            snprintf(with, sizeof with, "using 1:2:3 with boxes%s%.0d%s", hv ? " fs pattern " : "",
                     hv, hv ? " border" : "");
            if (plot_fig_add(g, block, p, with, ser.v[j], 1, lt, 1) ||
                (whisk && plot_fig_add(g, block, p, "using 1:2:4:5 with yerrorbars lc rgb"
                                       " '#303030' lw 0.8 dt solid ps 0", NULL, 0, 0, 0))) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
        }
out:
    strs_free(&as);
    strs_free(&bs);
    strs_free(&ser);
    sim_free(bars);
    sim_free(db);
    sim_free(ser_lt);
    sqlite3_finalize(st);
    return status;
}

/* ---- gnuplot -------------------------------------------------------------- */

/* The gnuplot program: $MEMFAB_GNUPLOT, else `gnuplot` on PATH. */
static int find_gnuplot(char *out, size_t n)
{
    const char *env = getenv("MEMFAB_GNUPLOT");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *c = strchr(path, ':');
        size_t l = c ? (size_t)(c - path) : strlen(path);
        snprintf(out, n, "%.*s/gnuplot", (int)l, l ? path : ".");
        if (access(out, X_OK) == 0)
            return 0;
        path += l + (c ? 1 : 0);
    }
    return -1;
}

/* Pipe the script to gnuplot (fork + exec, no shell). Returns its exit status. */
/* An existing output may be replaced only when it is a figure. */
static int is_figure(const unsigned char *h, size_t n)
{
    size_t i = 0;
    if (n >= 4 && (memcmp(h, "%PDF", 4) == 0 || memcmp(h, "\x89PNG", 4) == 0))
        return 1;
    while (i < n && (h[i] == ' ' || h[i] == '\n' || h[i] == '\r' || h[i] == '\t'))
        i++;
    return (n - i >= 5 && memcmp(h + i, "<?xml", 5) == 0) ||
           (n - i >= 4 && memcmp(h + i, "<svg", 4) == 0);
}

/* Did gnuplot finish the figure? Its exit status does not tell when the
 * disk fills: the file must end as its format ends (PDF %%EOF, the PNG
 * IEND chunk, SVG </svg>). */
static int figure_complete(const char *path)
{
    const char *ext = strrchr(path, '.');
    FILE *f = fopen(path, "rb");
    if (!f || !ext)
        return f ? fclose(f), 0 : 0;
    unsigned char tail[1024];
    size_t n = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > 0 && fseek(f, size > (long)sizeof tail ? size - (long)sizeof tail : 0,
                              SEEK_SET) == 0)
            n = fread(tail, 1, sizeof tail, f);
    }
    fclose(f);
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r' || tail[n - 1] == ' '))
        n--;
    if (strcmp(ext, ".png") == 0)
        return n >= 8 && memcmp(tail + n - 8, "IEND\xae\x42\x60\x82", 8) == 0;
    const char *end = strcmp(ext, ".pdf") == 0 ? "%%EOF" : "</svg>";
    size_t el = strlen(end);
    return n >= el && memcmp(tail + n - el, end, el) == 0;
}

/* Run gnuplot on the script: its exit status, -1 when it could not be
 * started or did not take the whole script. */
static int run_gnuplot(const char *prog, const char *script, size_t len)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[0], 0);
        close(fd[0]);
        close(fd[1]);
        execl(prog, prog, (char *)NULL);
        _exit(127);
    }
    close(fd[0]);
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd[1], script + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int closed = close(fd[1]);
    signal(SIGPIPE, old);
    int st;
    pid_t w;
    while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (w < 0)
        return -1;
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return rc ? rc : off < len || closed != 0 ? -1 : 0;
}

int plot_script(const char *script, size_t len)
{
    char gp[4096];
    if (find_gnuplot(gp, sizeof gp) != 0)
        return -2;
    return run_gnuplot(gp, script, len);
}

/* The index of figure kind `name` (cdf 0, param 1, ...), or -1. */
static int plot_kind(const char *name)
{
    static const char *const kinds[] = {"cdf", "param", "link-bw", "occupancy", "kv-hit",
                                        "coherence", NULL};
    for (int i = 0; kinds[i]; i++)
        if (strcmp(name, kinds[i]) == 0)
            return i;
    return -1;
}

static void plot_usage(FILE *f)
{
    fputs("usage: memfab plot DB --kind KIND -o FIG.{pdf,png,svg} [options]\n"
          "\n"
          "Draw a figure from a results database with gnuplot (Debian: gnuplot-nox),\n"
          "sized for one column of a two-column paper. Without --run, every complete\n"
          "run of DB is drawn.\n"
          "\n"
          "kinds:\n"
          "  cdf        CDF of request latency, one curve per run (--metric ttft|tpot|e2e)\n"
          "  param      a metric versus a parameter, one line per group; replications\n"
          "             (seeds) give the mean and 95% confidence error bars\n"
          "             (--metric NAME, --x KEY, --group KEY)\n"
          "  link-bw    link throughput over time (--metric GLOB[,GLOB...] on SCOPE/NAME\n"
          "             series, default *throughput*)\n"
          "  occupancy  KV cache used per instance and tier over time, in GiB (or blocks\n"
          "             when the block size is unknown); --metric GLOB[,GLOB...] on\n"
          "             SCOPE/NAME, default */kv_used:*,*occupancy*\n"
          "  kv-hit     KV cache hit ratio, bars per instance, one colour per tier (in\n"
          "             tier order); several runs: one colour per run\n"
          "  coherence  coherence message counts, bars per message, one colour per\n"
          "             directory; several runs: one colour per run\n"
          "\n"
          "Curves and bars of several runs are labelled with the params that differ\n"
          "between them (last key component: policy=dynamo rate=0.5/s seed=2), the\n"
          "scenario name only when the runs' names differ.\n"
          "\n"
          "options:\n"
          "  -k, --kind KIND     the figure kind (required)\n"
          "  -o, --output FILE   the figure; .pdf (pdfcairo), .png (pngcairo, 300 dpi) or\n"
          "                      .svg\n"
          "  --run ID            draw this run (repeatable)\n"
          "  --where KEY=GLOB    only runs whose param (or name, seed, status) matches\n"
          "                      (repeatable; sweep keys may omit their 'sweep.' prefix)\n"
          "  --title TEXT        a title (default: none, as papers caption figures)\n"
          "  --metric M          see the kinds\n"
          "  --x KEY             param: the x-axis param (default: the first swept key)\n"
          "  --group KEY         param: one line per value of KEY (default: every other\n"
          "                      varying key)\n"
          "  --logx, --logy      logarithmic axes, tics at 1-2-5 or decades (the y axis\n"
          "                      otherwise starts at 0 for quantities never negative)\n"
          "  --facet run|instance  one panel per run, or per instance (link, directory),\n"
          "                      on shared axes with one key; a grid of up to 4 x 4\n"
          "  --agg sum|mean|none how instances (directories) of a run are combined:\n"
          "                      occupancy: mean with a min-max band (default); kv-hit\n"
          "                      and coherence with several runs: sum (the hit ratio of\n"
          "                      all lookups, with min-max whiskers); none: each one\n"
          "  --key WHERE         the key: below (outside, under the plot), right (outside),\n"
          "                      inside or off; default: inside for one or two short\n"
          "                      entries, below otherwise\n"
          "  --xlabel TEXT, --ylabel TEXT   axis labels instead of the defaults\n"
          "  --labels A,B,...    series names, in the order of the key (as many names\n"
          "                      as series)\n"
          "  --size WxH          size in inches (default 3.5x2.4; 7x2.4 spans two columns)\n"
          "  --font-size PT      text size in points (default 8)\n"
          "  --script            print the gnuplot script instead of running gnuplot\n"
          "  -h, --help          this help\n"
          "\n"
          "Metric names for param: memfab compare lists them (SCOPE/NAME, e.g.\n"
          "pcie_h2d/wait:host_dma->gpu0_p99, requests/ttft_p99).\n",
          f);
}

int cmd_plot(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"kind", required_argument, NULL, 'k'},   {"output", required_argument, NULL, 'o'},
        {"run", required_argument, NULL, 'r'},    {"where", required_argument, NULL, 'w'},
        {"title", required_argument, NULL, 't'},  {"metric", required_argument, NULL, 'm'},
        {"x", required_argument, NULL, 'x'},      {"group", required_argument, NULL, 'g'},
        {"logx", no_argument, NULL, 'L'},         {"logy", no_argument, NULL, 'Y'},
        {"size", required_argument, NULL, 'S'},   {"font-size", required_argument, NULL, 'F'},
        {"script", no_argument, NULL, 's'},       {"help", no_argument, NULL, 'h'},
        {"key", required_argument, NULL, 'K'},    {"xlabel", required_argument, NULL, 'X'},
        {"ylabel", required_argument, NULL, 'V'}, {"labels", required_argument, NULL, 'N'},
        {"facet", required_argument, NULL, 'P'},  {"agg", required_argument, NULL, 'A'},
        {NULL, 0, NULL, 0}};
    plot_opts o;
    memset(&o, 0, sizeof o);
    o.w = 3.5;
    o.h = 2.4;
    o.pt = 8;
    o.ids = sim_calloc((size_t)argc + 1, sizeof *o.ids);
    o.where = sim_calloc((size_t)argc + 1, sizeof *o.where);
    int status = 0, c;
    res_db *db = NULL;
    rdb_set set = {NULL, 0};
    char *script = NULL, *body = NULL;
    size_t slen = 0, blen = 0;
    plot_fig fig;
    plot_fig_init(&fig);
    FILE *f = NULL;
    char *tmp_out = NULL;          /* the figure while gnuplot draws it */
    char *labels_buf = NULL;       /* --labels, split in place */
    const char *final_out = NULL;  /* -o */
    sim_err err;
    sim_err_clear(&err);
    if (!o.ids || !o.where) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': /* checked at once: an unknown kind is an error even with --help after it */
            o.kind = optarg;
            if (plot_kind(optarg) < 0) {
                fprintf(stderr, "memfab plot: --kind is one of cdf, param, link-bw, occupancy,"
                                " kv-hit, coherence (not '%s')\n", optarg);
                status = SIM_EXIT_USAGE;
                goto out;
            }
            break;
        case 'o': o.out = optarg; break;
        case 'r':
            if (rdb_parse_id(optarg, &o.ids[o.nids++])) {
                fprintf(stderr, "memfab plot: bad run id '%s'\n", optarg);
                status = SIM_EXIT_USAGE;
                goto out;
            }
            break;
        case 'w': o.where[o.nwhere++] = optarg; break;
        case 't': o.title = optarg; break;
        case 'm': o.metric = optarg; break;
        case 'x': o.xkey = optarg; break;
        case 'g': o.group = optarg; break;
        case 'L': o.logx = 1; break;
        case 'Y': o.logy = 1; break;
        case 's': o.script = 1; break;
        case 'K': {
            static const char *const keys[] = {"auto", "below", "right", "inside", "off", NULL};
            o.key = -1;
            for (int i = 0; keys[i]; i++)
                if (strcmp(optarg, keys[i]) == 0)
                    o.key = i;
            if (o.key < 0) {
                fprintf(stderr, "memfab plot: --key is below, right, inside or off (not '%s')\n",
                        optarg);
                status = SIM_EXIT_USAGE;
                goto out;
            }
            break;
        }
        case 'P':
        case 'A': {
            static const char *const facets[] = {"none", "run", "instance", NULL};
            static const char *const aggs[] = {"auto", "sum", "mean", "none", NULL};
            const char *const *l = c == 'P' ? facets : aggs;
            int v = -1;
            for (int i = 0; l[i]; i++)
                if (strcmp(optarg, l[i]) == 0)
                    v = i;
            if (v < 0) {
                fprintf(stderr, c == 'P' ? "memfab plot: --facet is run or instance (not '%s')\n"
                                         : "memfab plot: --agg is sum, mean or none (not '%s')\n",
                        optarg);
                status = SIM_EXIT_USAGE;
                goto out;
            }
            *(c == 'P' ? &o.facet : &o.agg) = v;
            break;
        }
        case 'X': o.xlabel = optarg; break;
        case 'V': o.ylabel = optarg; break;
        case 'N': {
            /* A,B,C: one name per series, in the order of the key */
            sim_free(labels_buf);
            sim_free(o.names);
            o.nnames = 0;
            labels_buf = sim_strdup(optarg);
            o.names = sim_calloc(strlen(optarg) + 2, sizeof *o.names);
            if (!labels_buf || !o.names) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
            for (char *p = labels_buf;;) {
                o.names[o.nnames++] = p;
                char *comma = strchr(p, ',');
                if (!comma)
                    break;
                *comma = '\0';
                p = comma + 1;
            }
            break;
        }
        case 'S':
            if (sscanf(optarg, "%lfx%lf", &o.w, &o.h) != 2 || o.w <= 0 || o.h <= 0 ||
                o.w > 40 || o.h > 40) {
                fprintf(stderr, "memfab plot: --size WxH in inches, e.g. 3.5x2.4\n");
                status = SIM_EXIT_USAGE;
                goto out;
            }
            o.sized = 1;
            break;
        case 'F':
            o.pt = atof(optarg);
            if (!(o.pt >= 4 && o.pt <= 72)) {
                fprintf(stderr, "memfab plot: --font-size between 4 and 72 points\n");
                status = SIM_EXIT_USAGE;
                goto out;
            }
            break;
        case 'h': plot_usage(stdout); goto out;
        default: plot_usage(stderr); status = SIM_EXIT_USAGE; goto out;
        }
    }
    int kind = o.kind ? plot_kind(o.kind) : -1;
    if (optind != argc - 1 || kind < 0 || (!o.out && !o.script)) {
        if (optind != argc - 1)
            fprintf(stderr, "memfab plot: expected one results database\n");
        else if (kind < 0)
            fprintf(stderr, "memfab plot: --kind is one of cdf, param, link-bw, occupancy,"
                            " kv-hit, coherence%s%s%s\n", o.kind ? " (not '" : "",
                    o.kind ? o.kind : "", o.kind ? "')" : "");
        else
            fprintf(stderr, "memfab plot: -o FIG.pdf|png|svg is required\n");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    if (o.facet != FACET_NONE && kind == 1) {
        fprintf(stderr, "memfab plot: --facet draws cdf, link-bw, occupancy, kv-hit and"
                        " coherence; --kind param draws its runs as points (--group picks"
                        " the lines)\n");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    double fscale;
    const char *term = plot_terminal(o.out ? o.out : "figure.pdf", o.w, o.h, o.pt, &fscale);
    o.fscale = fscale;
    if (!term) {
        fprintf(stderr, "memfab plot: %s: the extension picks the format: .pdf, .png or .svg\n",
                o.out);
        status = SIM_EXIT_USAGE;
        goto out;
    }
    char gp[4096];
    if (!o.script && find_gnuplot(gp, sizeof gp) != 0) {
        fprintf(stderr, "memfab plot: gnuplot not found%s%s; install it with"
                        " `apt-get install gnuplot-nox` (Debian/Ubuntu)\n",
                getenv("MEMFAB_GNUPLOT") ? " at MEMFAB_GNUPLOT=" : " on PATH",
                getenv("MEMFAB_GNUPLOT") ? getenv("MEMFAB_GNUPLOT") : "");
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    o.db = argv[optind];
    if (!o.script) {
        /* never over the database or a file that is not a figure; gnuplot draws
         * into a temporary file beside it, renamed once the figure is complete */
        const char *inputs[] = {o.db};
        if (safe_out_check(o.out, inputs, 1, is_figure, "a figure", &err)) {
            sim_err_print(&err);
            status = err.code == SIM_EINVAL ? SIM_EXIT_USAGE : SIM_EXIT_RUNTIME;
            goto out;
        }
        final_out = o.out;
        if (!(tmp_out = safe_out_tmpname(final_out, &err))) {
            sim_err_print(&err);
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        o.out = tmp_out;
    }
    db = res_open_readonly(o.db, &err);
    if (!db || rdb_load_runs(res_handle(db), &set, &err) ||
        rdb_filter(&set, o.ids, o.nids, o.where, o.nwhere, o.nids == 0, &err)) {
        sim_err_print(&err);
        status = err.code == SIM_ENOMEM ? SIM_EXIT_RUNTIME : SIM_EXIT_USAGE;
        goto out;
    }
    if (set.n == 0) {
        fprintf(stderr, "memfab plot: %s: no %srun matches\n", o.db, o.nids ? "" : "complete ");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < o.nids; i++) {
        int found = 0;
        for (size_t j = 0; j < set.n; j++)
            found |= set.runs[j].id == o.ids[i];
        if (!found) {
            fprintf(stderr, "memfab plot: %s: no run %lld%s\n", o.db, (long long)o.ids[i],
                    o.nwhere ? " matching --where" : "");
            status = SIM_EXIT_USAGE;
            goto out;
        }
    }
    rdb_label(&set);
    o.run_lt = sim_calloc(set.n + 1, sizeof *o.run_lt);
    if (!o.run_lt || plot_labels(&set, plot_title_max(o.w, o.pt - 1), o.run_lt)) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    /* the body first: with facets, the figure's size follows the panels */
    f = open_memstream(&body, &blen);
    if (!f) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    sqlite3 *h = res_handle(db);
    switch (kind) {
    case 0: status = plot_cdf(f, h, &set, &o, &fig); break;
    case 1: status = plot_param(f, h, &set, &o, &fig); break;
    case 2: status = plot_series(f, h, &set, &o, 1, &fig); break;
    case 3: status = plot_series(f, h, &set, &o, 0, &fig); break;
    case 4: status = plot_bars(f, h, &set, &o, 1, &fig); break;
    default: status = plot_bars(f, h, &set, &o, 0, &fig); break;
    }
    if (!status)
        plot_fig_emit(f, &o, &fig);
    fputs("unset output\n", f);
    fclose(f);
    f = NULL;
    if (!status && o.nnames && o.nnames != fig.nkeys) {
        fprintf(stderr, "memfab plot: --labels gives %zu name%s for %zu series\n", o.nnames,
                o.nnames == 1 ? "" : "s", fig.nkeys);
        status = SIM_EXIT_USAGE;
    }
    if (!status) {
        f = open_memstream(&script, &slen);
        if (!f) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        term = plot_terminal(o.out ? o.out : "figure.pdf", fig.fw, fig.fh, o.pt, &fscale);
        plot_header(f, &o, term, fscale);
        fwrite(body, 1, blen, f);
        fclose(f);
        f = NULL;
    }
    if (status)
        goto out;
    if (o.script) {
        fwrite(script, 1, slen, stdout);
        goto out;
    }
    int rc = run_gnuplot(gp, script, slen);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "memfab plot: gnuplot did not take the whole script (%s)\n", gp);
        else
            fprintf(stderr, "memfab plot: gnuplot failed (exit %d); see its message above, or"
                            " inspect the script with --script\n", rc);
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    if (!figure_complete(tmp_out)) {
        fprintf(stderr, "memfab plot: %s: gnuplot left an incomplete figure (disk full?);"
                        " %s is unchanged\n", tmp_out, final_out);
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    if (safe_out_install(tmp_out, final_out, &err)) {
        sim_err_print(&err);
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    sim_free(tmp_out);
    tmp_out = NULL;
    fprintf(stderr, "memfab plot: %s (%zu run%s)\n", final_out, set.n, set.n == 1 ? "" : "s");
out:
    if (tmp_out) {
        unlink(tmp_out);
        sim_free(tmp_out);
    }
    if (f)
        fclose(f);
    free(script);   /* open_memstream allocates with malloc */
    free(body);
    plot_fig_free(&fig);
    rdb_set_free(&set);
    res_close(db);
    sim_free(o.ids);
    sim_free(o.where);
    sim_free(o.run_lt);
    sim_free(o.names);
    sim_free(labels_buf);
    return status;
}
