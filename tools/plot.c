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
 *   With several runs, kv-hit and coherence use one colour per run. Run labels
 *   name only the params that differ between the plotted runs (plot_labels).
 *
 * Figures default to 3.5 in x 2.4 in (one column of a two-column paper)
 * with 8 pt text and the Okabe-Ito colour-blind-safe palette.
 */
#include "plot.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
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

/* ---- options ------------------------------------------------------------ */

typedef struct plot_opts {
    const char *db;            /* results database */
    const char *kind;          /* cdf, param, ... */
    const char *out;           /* figure file */
    const char *title;         /* --title, or NULL */
    const char *metric;        /* --metric */
    const char *xkey;          /* --x (param) */
    const char *group;         /* --group (param) */
    int64_t *ids;              /* --run */
    size_t nids;
    char **where;              /* --where */
    size_t nwhere;
    int logx, logy;            /* log scales */
    int script;                /* print the script, do not run gnuplot */
    double w, h, pt;           /* size in inches, font size in points */
    double fscale;             /* points to the terminal's font units */
    int key;                   /* --key: KEY_AUTO, KEY_BELOW, ... */
    const char *xlabel, *ylabel; /* --xlabel, --ylabel, or NULL */
    char **names;              /* --labels, split at commas */
    size_t nnames;
} plot_opts;

enum { KEY_AUTO, KEY_BELOW, KEY_RIGHT, KEY_INSIDE, KEY_OFF };

/* Series titled so far in the figure being built: --labels names them in
 * this order, and their count is checked against the names given. */
static size_t titled;

/* The title of the next series: the next --labels name, else def. */
static void series_title(FILE *f, const plot_opts *o, const char *def)
{
    plot_quote(f, titled < o->nnames ? o->names[titled] : def);
    titled++;
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

static void header(FILE *f, const plot_opts *o, const char *term, double fscale)
{
    fputs("# memfab plot: generated script (data inline)\n", f);
    fprintf(f, "set terminal %s\n", term);
    if (o->out) { /* --script without -o prints a script with no output file */
        fputs("set output ", f);
        plot_quote(f, o->out);
        fputc('\n', f);
    }
    fputs("set encoding utf8\n", f);
    /* Okabe-Ito palette, distinguishable in colour-blind vision and grey. */
    static const char *const colors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                         "#E69F00", "#56B4E9", "#F0E442", "#000000"};
    for (int i = 0; i < 8; i++)
        fprintf(f, "set linetype %d lc rgb '%s' lw 1.5 pt %d ps 0.8\n", i + 1, colors[i],
                (int[]){7, 5, 9, 11, 13, 4, 6, 8}[i]);
    fputs("set linetype cycle 8\n", f);
    fputs("set border 3 lw 0.8\nset tics nomirror out scale 0.6\n", f);
    fputs("set grid ytics lw 0.5 lc rgb '#d0d0d0'\n", f);
    fputs("set key noenhanced samplen 2 spacing 1.0 font ',", f);
    fprintf(f, "%g'\n", (o->pt - 1) * fscale);
    if (o->title) {
        fputs("set title ", f);
        plot_quote(f, o->title);
        fputc('\n', f);
    }
    if (o->logx)
        fputs("set logscale x\n", f);
    if (o->logy)
        fputs("set logscale y\n", f);
}

static void labels(FILE *f, const plot_opts *o, const char *x, const char *y)
{
    fputs("set xlabel ", f);
    plot_quote(f, o->xlabel ? o->xlabel : x);
    fputs("\nset ylabel ", f);
    plot_quote(f, o->ylabel ? o->ylabel : y);
    fputc('\n', f);
}

/* An x tic increment of 1, 2 or 5 times a power of ten giving at most 6 tics:
 * gnuplot's own choice ignores the font size and crowds paper-sized figures. */
static void tics_for(FILE *f, char axis, double lo, double hi, int most)
{
    double range = hi - lo;
    if (!(range > 0) || !isfinite(range))
        return;
    double p = pow(10, floor(log10(range / most)));
    double step = p;
    static const double m[] = {1, 2, 2.5, 5, 10};
    for (int i = 0; i < 5; i++)
        if (range / (m[i] * p) <= most) {
            step = m[i] * p;
            break;
        }
    fprintf(f, "set %ctics %.6g\n", axis, step);
}

static void xtics_for(FILE *f, double lo, double hi)
{
    tics_for(f, 'x', lo, hi, 6);
}

/* The key of n entries, the longest maxlen characters (or the --labels
 * names). --key picks the place; by default it is inside `corner` for one
 * or two short entries (corner NULL: never inside) and outside, below the
 * plot, otherwise, so that it never covers a curve. Below the plot the
 * entries run in as many columns as the width holds; more than four entries
 * get smaller text. Entries are never dropped: labels are at most
 * plot_title_max() characters, which fit a column. */
static void key_set(FILE *f, const plot_opts *o, size_t n, size_t maxlen, const char *corner)
{
    for (size_t k = 0; k < o->nnames; k++)
        if (strlen(o->names[k]) > maxlen)
            maxlen = strlen(o->names[k]);
    int mode = o->key;
    if (mode == KEY_AUTO)
        mode = corner && n <= 2 && maxlen <= 24 ? KEY_INSIDE : KEY_BELOW;
    double kpt = n > 8 ? o->pt - 3 : n > 4 ? o->pt - 2 : o->pt - 1;
    kpt = kpt < 5 ? 5 : kpt;
    switch (mode) {
    case KEY_OFF: fputs("set key off\n", f); return;
    case KEY_BELOW: {
        /* columns: the width over an entry (sample, gap and text) */
        double em = kpt * 0.6;
        size_t cols = (size_t)(o->w * 72 * 0.95 / (em * ((double)maxlen + 6)));
        cols = cols < 1 ? 1 : cols > n ? n : cols;
        /* A key taller than 60% of the figure would squeeze the plot and
         * spill over the data: leave it out, and say how to choose fewer
         * series (--key below still forces it). */
        size_t rows = (n + cols - 1) / cols, fit = (size_t)(o->h * 72 * 0.6 / (kpt * 1.1));
        if (o->key == KEY_AUTO && rows > fit) {
            fprintf(stderr,
                    "memfab plot: warning: a key of %zu series needs %zu rows and a %g x %g in"
                    " figure holds %zu; the key is left out (choose series with --metric or"
                    " --run, or force it with --key below|right)\n",
                    n, rows, o->w, o->h, fit);
            fputs("set key off\n", f);
            return;
        }
        /* gnuplot sizes key columns by the terminal's font, not the key's:
         * narrow them by the characters the smaller key font saves; height
         * keeps the first row clear of the x label */
        int narrow = (int)((double)maxlen * (1 - kpt / o->pt) * 0.5);
        fprintf(f, "set key outside below center horizontal Left reverse maxcols %zu"
                   " samplen 1.5 spacing 0.9 width %d height 1 font ',%g'\n", cols,
                narrow > 0 ? -narrow : 0, kpt * o->fscale);
        return;
    }
    case KEY_RIGHT:
        fprintf(f, "set key outside right top vertical samplen 1.5 spacing 0.9 font ',%g'\n",
                kpt * o->fscale);
        return;
    default: {
        size_t rows = (size_t)(o->h * 72 * 0.5 / (kpt * 1.2));
        rows = rows < 3 ? 3 : rows;
        size_t cols = (n + rows - 1) / rows;
        cols = cols < 1 ? 1 : cols;
        fprintf(f, "set key inside %s vertical maxrows %zu samplen 1.5 spacing 0.9 font ',%g'\n",
                corner ? corner : "top right", (n + cols - 1) / cols, kpt * o->fscale);
        return;
    }
    }
}

static size_t max_label(const rdb_set *s)
{
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->runs[i].label) > m)
            m = strlen(s->runs[i].label);
    return m;
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
static int plot_labels(rdb_set *s, size_t max)
{
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
    /* short names: one component, more where two keys would collide */
    for (size_t j = 0; j < nk; j++) {
        for (int parts = 1; parts < 64; parts++) {
            const char *t = key_tail(keys[j].key, parts);
            int clash = 0;
            for (size_t m = 0; m < nk && !clash; m++)
                clash = m != j && strcmp(key_tail(keys[m].key, parts), t) == 0;
            keys[j].shown = t;
            if (!clash || t == key_tail(keys[j].key, parts + 1))
                break;
        }
    }
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

static int plot_cdf(FILE *f, sqlite3 *h, const rdb_set *s, const plot_opts *o)
{
    const char *metric = o->metric ? o->metric : "ttft";
    const char *col;
    const char *what;
    if (strcmp(metric, "ttft") == 0)
        col = "ttft_ps", what = "Time to first token";
    else if (strcmp(metric, "tpot") == 0)
        col = "tpot_ps", what = "Time per output token";
    else if (strcmp(metric, "e2e") == 0)
        col = "e2e_ps", what = "End-to-end latency";
    else {
        fprintf(stderr, "memfab plot: --kind cdf: --metric is ttft, tpot or e2e, not '%s'\n",
                metric);
        return SIM_EXIT_USAGE;
    }
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM request_latency WHERE run_id = ? AND %s IS NOT NULL ORDER BY %s",
             col, col, col);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "memfab plot: %s\n", sqlite3_errmsg(h));
        return SIM_EXIT_USAGE;
    }
    dbuf *vals = sim_calloc(s->n + 1, sizeof *vals);
    int status = 0;
    double max = 0;
    size_t nonempty = 0;
    for (size_t i = 0; vals && i < s->n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->runs[i].id);
        while (sqlite3_step(st) == SQLITE_ROW)
            if (dbuf_push(&vals[i], (double)sqlite3_column_int64(st, 0) * 1e-12)) {
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
        if (vals[i].n) {
            nonempty++;
            if (vals[i].v[vals[i].n - 1] > max)
                max = vals[i].v[vals[i].n - 1];
        } else {
            fprintf(stderr, "memfab plot: run %lld (%s) has no requests with a %s; skipped\n",
                    (long long)s->runs[i].id, s->runs[i].label, metric);
        }
    }
    if (!vals) {
        status = SIM_EXIT_RUNTIME;
        goto out;
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
    labels(f, o, xl, "CDF");
    fputs("set yrange [0:1]\n", f);
    key_set(f, o, nonempty, max_label(s), "bottom right");
    {
        double lo = INFINITY;
        for (size_t i = 0; i < s->n; i++)
            if (vals[i].n && vals[i].v[0] < lo)
                lo = vals[i].v[0];
        xtics_for(f, lo * scale, max * scale);
    }
    for (size_t i = 0; i < s->n; i++) {
        if (!vals[i].n)
            continue;
        fprintf(f, "$d%zu << EOD\n", i);
        /* at most ~2000 points per curve: the quantiles, evenly spaced */
        size_t n = vals[i].n, step = n > 2000 ? n / 2000 : 1;
        for (size_t k = 0; k < n; k += step)
            fprintf(f, "%.9g %.9g\n", vals[i].v[k] * scale, (double)(k + 1) / (double)n);
        if ((n - 1) % step)
            fprintf(f, "%.9g 1\n", vals[i].v[n - 1] * scale);
        fputs("EOD\n", f);
    }
    fputs("plot ", f);
    int first = 1;
    for (size_t i = 0; i < s->n; i++) {
        if (!vals[i].n)
            continue;
        fprintf(f, "%s$d%zu using 1:2 with steps title ", first ? "" : ", \\\n     ", i);
        series_title(f, o, s->runs[i].label);
        first = 0;
    }
    fputc('\n', f);
out:
    for (size_t i = 0; vals && i < s->n; i++)
        sim_free(vals[i].v);
    sim_free(vals);
    sqlite3_finalize(st);
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

static int is_internal_key(const char *k)
{
    return strcmp(k, "seed") == 0 || strcmp(k, "sweep.name") == 0 ||
           strcmp(k, "sweep.point") == 0 || strcmp(k, "sweep.seed") == 0;
}

static int plot_param(FILE *f, sqlite3 *h, rdb_set *s, const plot_opts *o)
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
            if (is_internal_key(k) || rdb_param_get(&s->runs[i], twin))
                continue;
            int dup = 0;
            for (size_t j = 0; j < nv && !dup; j++)
                dup = strcmp(vary[j], k) == 0;
            if (!dup && varies(s, k))
                vary[nv++] = k;
        }
    int names_vary = 0;
    for (size_t i = 1; i < s->n; i++)
        names_vary |= strcmp(s->runs[i].name, s->runs[0].name) != 0;
    const char *xkey = NULL;
    char xbuf[512];
    if (o->xkey) {
        xkey = o->xkey;
        if (!rdb_param_get(&s->runs[0], xkey)) {
            snprintf(xbuf, sizeof xbuf, "sweep.%s", o->xkey);
            if (rdb_param_get(&s->runs[0], xbuf))
                xkey = xbuf;
        }
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
        const char *xv = rdb_param_get(r, xkey);
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
            const char *v = rdb_param_get(r, k);
            gl += (size_t)snprintf(glab + gl, gl < sizeof glab ? sizeof glab - gl : 0, "%s%s=%s",
                                   gl ? ", " : "", strncmp(k, "sweep.", 6) == 0 ? k + 6 : k,
                                   v ? v : "-");
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
    labels(f, o, xl, yl);
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
        if (ng == 1 && ml == 0 && !o->nnames && o->key == KEY_AUTO)
            fputs("set key off\n", f);
        else
            key_set(f, o, ng, ml ? ml : strlen(o->metric), "top right");
        if (all_numeric && !o->logx)
            xtics_for(f, lo, hi);
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
    }
    fputs("EOD\nplot ", f);
    size_t g = 0;
    for (size_t k = 0; k < npts; k++) {
        if (k && strcmp(pts[k].group, pts[k - 1].group) == 0)
            continue;
        fprintf(f, "%s$g%zu using 1:2%s with %s title ", g ? ", \\\n     " : "", g,
                reps ? ":3" : "", reps ? "yerrorlines" : "linespoints");
        series_title(f, o, pts[k].group[0] ? pts[k].group : o->metric);
        g++;
    }
    fputc('\n', f);
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

static int plot_series(FILE *f, sqlite3 *h, rdb_set *s, const plot_opts *o, int bw)
{
    const char *glob = o->metric ? o->metric : bw ? "*throughput*" : "*/" KV_USED "*,*occupancy*";
    sqlite3_stmt *names = NULL, *rows = NULL;
    int status = 0, nseries = 0;
    double vmax = 0, tmax = 0;
    /* Pass 0 keeps the largest value both in bytes and in the series' own
     * unit, since whether the figure is drawn in bytes is only known once
     * every series has been seen. */
    double vmax_bytes = 0, vmax_raw = 0;
    /* KV occupancy: every series a kv_used one, in bytes when every instance
     * gives its block size */
    int kv = !bw, kv_bytes = !bw;
    /* distinct series names and (run, scope) pairs of the drawn series */
    char *nms[64], *scs[64];
    size_t scs_run[64];
    int nnm = 0, nsc = 0;
    /* series in the order they were written (tiers in tier order) */
    /* The default link-bw figure draws links only: a series "throughput:DIR"
     * of a scope that the run's `links` table lists with that direction (a
     * fabric's per-path or a workload's throughput would set the scale);
     * a run without link rows keeps every series the glob matches. */
    if (sqlite3_prepare_v2(h, "SELECT scope, name FROM timeseries t WHERE run_id = ?1 AND"
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
    /* First pass: ranges, for the units. */
    for (int pass = 0; pass < 2; pass++) {
        char **titles = NULL;
        int *styles = NULL;
        double tf = 1, vf = 1;
        const char *tu = "s", *vu = bw ? "B/s" : "";
        if (pass == 1) {
            vmax = (kv && kv_bytes) ? vmax_bytes : vmax_raw;
            time_scale(tmax, &tf, &tu);
            char xl[64], yl[128];
            if (bw) {
                unit_scale("B/s", vmax, &vf, &vu);
                snprintf(yl, sizeof yl, "Throughput (%s)", vu);
            } else if (kv && kv_bytes) {
                static const char *const bu[] = {"B", "KiB", "MiB", "GiB", "TiB"};
                int e = 0;
                while (e < 4 && vmax >= 1024.0 * (double)(1ULL << (10 * e)))
                    e++;
                vf = 1.0 / (double)(1ULL << (10 * e));
                snprintf(yl, sizeof yl, "KV cache used (%s)", bu[e]);
            } else if (kv) {
                snprintf(yl, sizeof yl, "KV cache used (blocks)");
            } else {
                snprintf(yl, sizeof yl, "Occupancy");
            }
            snprintf(xl, sizeof xl, "Time (%s)", tu);
            labels(f, o, xl, yl);
            /* rates and occupancies are never negative: the y axis from 0 */
            yrange_from_zero(f, o, 0);
            xtics_for(f, 0, tmax * tf);
            if (!o->logy)
                tics_for(f, 'y', 0, vmax * vf, 5);
            titles = sim_calloc((size_t)nseries + 1, sizeof *titles);
            styles = sim_calloc((size_t)nseries + 1, sizeof *styles);
            if (!titles || !styles) {
                sim_free(titles);
                sim_free(styles);
                status = SIM_EXIT_RUNTIME;
                goto out;
            }
        }
        int idx = 0;
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
                int is_kv = strncmp(name, KV_USED, strlen(KV_USED)) == 0;
                double bpb = 1;
                if (!bw && is_kv)
                    bpb = kv_block_bytes(h, &s->runs[i], scope);
                if (pass == 0) {
                    kv &= is_kv;
                    kv_bytes &= is_kv && bpb > 0;
                }
                double bpb0 = bpb > 0 ? bpb : 1; /* pass 0: bytes if known */
                if (!(kv && kv_bytes))
                    bpb = 1;
                sqlite3_reset(rows);
                sqlite3_bind_int64(rows, 1, s->runs[i].id);
                sqlite3_bind_text(rows, 2, scope, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(rows, 3, name, -1, SQLITE_TRANSIENT);
                int nonzero = 0;
                if (pass == 1)
                    fprintf(f, "$s%d << EOD\n", idx);
                while (sqlite3_step(rows) == SQLITE_ROW) {
                    double t = (double)sqlite3_column_int64(rows, 0) * 1e-12;
                    double v = sqlite3_column_double(rows, 1);
                    nonzero |= v != 0;
                    if (pass == 0) {
                        tmax = t > tmax ? t : tmax;
                        vmax_bytes = fabs(v * bpb0) > vmax_bytes ? fabs(v * bpb0) : vmax_bytes;
                        vmax_raw = fabs(v) > vmax_raw ? fabs(v) : vmax_raw;
                    } else {
                        fprintf(f, "%.9g %.9g\n", t * tf, v * bpb * vf);
                    }
                }
                if (pass == 0) {
                    nseries++;
                    if (!nonzero)
                        continue;
                    const char *nm0 = strncmp(name, "throughput:", 11) == 0 ? name + 11
                                      : is_kv ? name + strlen(KV_USED) : name;
                    int k = 0;
                    for (; k < nnm && strcmp(nms[k], nm0) != 0; k++)
                        ;
                    if (k == nnm && nnm < 64 && (nms[nnm] = sim_strdup(nm0)))
                        nnm++;
                    for (k = 0; k < nsc && !(scs_run[k] == i && strcmp(scs[k], scope) == 0); k++)
                        ;
                    if (k == nsc && nsc < 64 && (scs[nsc] = sim_strdup(scope)))
                        scs_run[nsc++] = i;
                    continue;
                }
                fputs("EOD\n", f);
                /* title: link and direction ("throughput:" dropped), or
                 * instance and tier ("kv_used:" dropped); the run when several */
                const char *nm = strncmp(name, "throughput:", 11) == 0 ? name + 11
                                 : is_kv                               ? name + strlen(KV_USED)
                                                                       : name;
                size_t tl = strlen(scope) + strlen(nm) + strlen(s->runs[i].label) + 8;
                char *t = sim_alloc(tl);
                if (t) {
                    if (s->n > 1)
                        snprintf(t, tl, "%s: %s %s", s->runs[i].label, scope, nm);
                    else
                        snprintf(t, tl, "%s %s", scope, nm);
                }
                /* one colour per series name (tier, link direction), one
                 * dash pattern per run and scope (instance) */
                int ci = 0, di = 0;
                for (; ci < nnm && strcmp(nms[ci], nm) != 0; ci++)
                    ;
                for (; di < nsc && !(scs_run[di] == i && strcmp(scs[di], scope) == 0); di++)
                    ;
                if (ci < nnm && ci < 8 && di < nsc && nnm > 1 && nsc > 1)
                    styles[idx] = ci + 1 + 8 * di;
                else
                    styles[idx] = -1;
                if (t)
                    plot_shorten(t, plot_title_max(o->w, o->pt - 1));
                titles[idx] = nonzero ? t : NULL;
                if (!nonzero)
                    sim_free(t);
                idx++;
            }
        }
        if (pass == 0 && nseries == 0) {
            fprintf(stderr, "memfab plot: no time series matches '%s' in the selected runs%s\n",
                    glob, bw ? "" : " (KV tier occupancy comes from instances with a KV cache;"
                                    " --metric GLOB picks other series)");
            status = SIM_EXIT_USAGE;
            goto out;
        }
        if (pass == 1) {
            int first = 1;
            size_t shown = 0, ml = 0;
            for (int k = 0; k < idx; k++)
                if (titles[k]) {
                    shown++;
                    ml = strlen(titles[k]) > ml ? strlen(titles[k]) : ml;
                }
            /* time series fill the width: the key goes outside by default */
            key_set(f, o, shown ? shown : 1, ml, NULL);
            fputs("plot ", f);
            for (int k = 0; k < idx; k++) {
                if (!titles[k])
                    continue;
                fprintf(f, "%s$s%d using 1:2 with lines", first ? "" : ", \\\n     ", k);
                if (styles[k] > 0)
                    fprintf(f, " lt %d dt %d", (styles[k] - 1) % 8 + 1, (styles[k] - 1) / 8 + 1);
                fputs(" title ", f);
                series_title(f, o, titles[k]);
                first = 0;
            }
            if (first) {   /* every series is zero: draw them anyway */
                fputs("$s0 using 1:2 with lines title 'all series are zero'", f);
            }
            fputc('\n', f);
            for (int k = 0; k < idx; k++)
                sim_free(titles[k]);
            sim_free(titles);
            sim_free(styles);
        }
    }
out:
    for (int k = 0; k < nnm; k++)
        sim_free(nms[k]);
    for (int k = 0; k < nsc; k++)
        sim_free(scs[k]);
    sqlite3_finalize(names);
    sqlite3_finalize(rows);
    return status;
}

/* ---- bars (kv-hit, coherence) -------------------------------------------------- */

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

typedef struct bar {
    size_t run, a, b;          /* run, outer (instance, directory), inner (tier, message) */
    double v;
} bar;

/* Clustered bars. Rows are (run, a, b, value) with a the instance or
 * directory and b the tier or message, each in the order written (the
 * kv table's row order is the tier order). One run: kv-hit clusters per
 * instance with one colour per tier, coherence clusters per message with
 * one colour per directory (a dimension with one value is not a colour).
 * Several runs: one colour per run, clusters per a/b. */
static int plot_bars(FILE *f, sqlite3 *h, const rdb_set *s, const plot_opts *o, int kv)
{
    const char *sql = kv ? "SELECT instance, tier, CASE WHEN hits + misses > 0 THEN"
                           " CAST(hits AS REAL) / (hits + misses) END FROM kv"
                           " WHERE run_id = ? ORDER BY rowid"
                         : "SELECT directory, message, count FROM coherence"
                           " WHERE run_id = ? ORDER BY rowid";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "memfab plot: %s\n", sqlite3_errmsg(h));
        return SIM_EXIT_USAGE;
    }
    strs as = {NULL, 0}, bs = {NULL, 0}, xs = {NULL, 0}, ser = {NULL, 0};
    bar *bars = NULL;
    size_t nbars = 0;
    int status = 0;
    double vmax = 0;
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
            if (sqlite3_column_type(st, 2) == SQLITE_NULL)
                continue;
            double v = sqlite3_column_double(st, 2);
            vmax = v > vmax ? v : vmax;
            bars[nbars++] = (bar){i, (size_t)ka, (size_t)kb, v};
        }
    }
    if (!as.n) {
        fprintf(stderr, "memfab plot: the selected runs have no rows in `%s`\n",
                kv ? "kv" : "coherence");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    /* x clusters and colours (series) */
    int by_run = s->n > 1;
    int x_is_a = kv;   /* kv: clusters per instance; coherence: per message */
    if (!by_run) {
        size_t nx = x_is_a ? as.n : bs.n, nc = x_is_a ? bs.n : as.n;
        if (nx == 1 || (nc > 8 && nx <= 8))
            x_is_a = !x_is_a;
    }
    for (size_t k = 0; k < nbars; k++) {
        const char *a = as.v[bars[k].a], *b = bs.v[bars[k].b];
        char lab[1024];
        long kx, ks;
        if (by_run) {
            if (as.n == 1 || bs.n == 1)
                snprintf(lab, sizeof lab, "%s", as.n == 1 ? b : a);
            else
                snprintf(lab, sizeof lab, "%s/%s", a, b);
            kx = strs_index(&xs, lab);
            ks = (long)bars[k].run;
        } else {
            kx = strs_index(&xs, x_is_a ? a : b);
            ks = strs_index(&ser, x_is_a ? b : a);
        }
        if (kx < 0 || ks < 0) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        bars[k].a = (size_t)kx;   /* reused: cluster */
        bars[k].b = (size_t)ks;   /* reused: series */
    }
    size_t nser = by_run ? s->n : ser.n;
    if (!by_run && nser == 1)
        by_run = 1;   /* one colour: the run's, and no key */
    double yscale = 1;
    const char *ylab = kv ? "KV hit ratio" : "Messages";
    if (!kv && vmax >= 1e6 && !o->logy)
        yscale = 1e-6, ylab = "Messages (millions)";
    else if (!kv && vmax >= 1e4 && !o->logy)
        yscale = 1e-3, ylab = "Messages (thousands)";
    const char *xlab = by_run && s->n > 1 ? (kv ? "Instance / tier" : "Directory / message")
                       : x_is_a          ? (kv ? "Instance" : "Directory")
                                         : (kv ? "Tier" : "Message");
    labels(f, o, xlab, ylab);
    fputs("set style fill solid 0.85 border -1\nset boxwidth 1 absolute\n", f);
    fputs("set grid noxtics\nset xtics scale 0\n", f);
    /* the key: runs, or the colour dimension */
    size_t maxlen = 0;
    for (size_t k = 0; k < nser; k++) {
        size_t l = strlen(by_run ? s->runs[k].label : ser.v[k]);
        maxlen = l > maxlen ? l : maxlen;
    }
    if (nser == 1 && !o->nnames && o->key == KEY_AUTO)
        fputs("set key off\n", f);
    else
        key_set(f, o, nser, maxlen, NULL);   /* never over the bars by default */
    fprintf(f, "set xrange [-0.55:%g]\n", (double)xs.n - 0.45);
    if (kv)
        fputs("set yrange [0:1.05]\nset ytics 0.2\n", f);
    else if (!o->logy) {
        fputs("set yrange [0:*]\n", f);
        tics_for(f, 'y', 0, vmax * yscale, 5);
    }
    fputs("set xtics (", f);
    size_t xl = 0;
    for (size_t k = 0; k < xs.n; k++) {
        fprintf(f, "%s", k ? ", " : "");
        plot_quote(f, xs.v[k]);
        fprintf(f, " %zu", k);
        xl += strlen(xs.v[k]) + 2;
    }
    fputs(")\n", f);
    /* rotated labels end under their cluster: 'right' anchors the end of
     * the text at the tic when rotated counter-clockwise */
    if ((double)xl * o->pt * 0.55 > o->w * 72 * 0.8)
        fputs("set xtics rotate by 45 right\n", f);
    double w = 0.8 / (double)nser;
    for (size_t j = 0; j < nser; j++) {
        fprintf(f, "$b%zu << EOD\n", j);
        for (size_t k = 0; k < nbars; k++)
            if (bars[k].b == j)
                fprintf(f, "%.9g %.9g %.9g\n",
                        (double)bars[k].a + ((double)j - ((double)nser - 1) / 2.0) * w,
                        bars[k].v * yscale, w);
        fputs("EOD\n", f);
    }
    fputs("plot ", f);
    for (size_t j = 0; j < nser; j++) {
        fprintf(f, "%s$b%zu using 1:2:3 with boxes title ", j ? ", \\\n     " : "", j);
        series_title(f, o, by_run ? s->runs[j].label : ser.v[j]);
    }
    fputc('\n', f);
out:
    strs_free(&as);
    strs_free(&bs);
    strs_free(&xs);
    strs_free(&ser);
    sim_free(bars);
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
          "  --logx, --logy      logarithmic axes (the y axis otherwise starts at 0 for\n"
          "                      quantities that are never negative)\n"
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
    char *script = NULL;
    size_t slen = 0;
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
        case 'k': o.kind = optarg; break;
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
    static const char *const kinds[] = {"cdf", "param", "link-bw", "occupancy", "kv-hit",
                                        "coherence", NULL};
    int kind = -1;
    for (int i = 0; o.kind && kinds[i]; i++)
        if (strcmp(o.kind, kinds[i]) == 0)
            kind = i;
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
    if (plot_labels(&set, plot_title_max(o.w, o.pt - 1))) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    f = open_memstream(&script, &slen);
    if (!f) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    header(f, &o, term, fscale);
    titled = 0;
    sqlite3 *h = res_handle(db);
    switch (kind) {
    case 0: status = plot_cdf(f, h, &set, &o); break;
    case 1: status = plot_param(f, h, &set, &o); break;
    case 2: status = plot_series(f, h, &set, &o, 1); break;
    case 3: status = plot_series(f, h, &set, &o, 0); break;
    case 4: status = plot_bars(f, h, &set, &o, 1); break;
    default: status = plot_bars(f, h, &set, &o, 0); break;
    }
    fputs("unset output\n", f);
    fclose(f);
    f = NULL;
    if (!status && o.nnames && o.nnames != titled) {
        fprintf(stderr, "memfab plot: --labels gives %zu name%s for %zu series\n", o.nnames,
                o.nnames == 1 ? "" : "s", titled);
        status = SIM_EXIT_USAGE;
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
    rdb_set_free(&set);
    res_close(db);
    sim_free(o.ids);
    sim_free(o.where);
    sim_free(o.names);
    sim_free(labels_buf);
    return status;
}
