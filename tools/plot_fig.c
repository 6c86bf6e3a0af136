/*
 * plot_fig.c - memfab plot's layout: line styles, the key, axis tics, and
 * the plot command of one plot or of a grid of panels (see plot_int.h).
 *
 * Line styles. 24 line types: the 8 colours of the Okabe-Ito palette
 * (distinguishable in the common colour-vision deficiencies and in grey;
 * Okabe & Ito, "Color Universal Design", 2008; Wong, Nature Methods 8:441,
 * 2011) times 4 dash patterns (solid, dashed, dash-dot, dotted), each line
 * type with its own point type, so that 16 series differ in colour and
 * dash (and in point type where points are drawn) and 32 are still unique.
 * Bars cannot dash: line types 9-32 are hatched in their colour (plot.c).
 * Runs that differ in two keys get a colour per value of the first and a
 * dash per value of the others (plot.c, plot_labels).
 *
 * Facets. One panel per run or instance in a grid (plot_grid: 2 x 1 ...
 * 4 x 4), laid out in points with every margin fixed at screen
 * coordinates, so that the panels line up exactly; all panels share the
 * x and y ranges (y rounded up to a tic), tic labels and axis labels are
 * drawn on the outer panels only, each panel is titled (the run label or
 * the instance, shortened to the panel's width), and one key for all
 * panels sits below the grid. Without --size the figure grows with the
 * grid: 7 in wide from three columns on (two paper columns), 1.25 in of
 * height per row of panels, plus the key.
 */
#include "plot_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/err.h"
#include "sim/mem.h"
#include "tools/plot.h"

/* ---- the figure model ------------------------------------------------------ */

void plot_fig_init(plot_fig *g)
{
    memset(g, 0, sizeof *g);
    g->x0 = g->y0 = g->xpos = g->ypos = INFINITY;
    g->x1 = g->y1 = -INFINITY;
}

void plot_fig_free(plot_fig *g)
{
    for (size_t k = 0; k < g->n; k++) {
        sim_free(g->items[k].with);
        sim_free(g->items[k].key);
    }
    sim_free(g->items);
    for (size_t k = 0; k < g->npanels; k++)
        sim_free(g->panels[k]);
    sim_free(g->panels);
    for (size_t k = 0; k < g->ncat; k++)
        sim_free(g->catv[k]);
    sim_free(g->catv);
    plot_fig_init(g);
}

int plot_fig_add(plot_fig *g, const char *block, size_t panel, const char *with,
                 const char *key, int keyed, int lt, int dt)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 32;
        plot_item *ni = sim_realloc(g->items, cap * sizeof *ni);
        if (!ni)
            return SIM_ENOMEM;
        g->items = ni;
        g->cap = cap;
    }
    plot_item *it = &g->items[g->n];
    memset(it, 0, sizeof *it);
    snprintf(it->block, sizeof it->block, "%s", block);
    it->with = sim_strdup(with);
    it->key = key ? sim_strdup(key) : NULL;
    if (!it->with || (key && !it->key)) {
        sim_free(it->with);
        sim_free(it->key);
        return SIM_ENOMEM;
    }
    it->keyed = keyed && key;
    it->panel = panel;
    it->lt = lt;
    it->dt = dt;
    g->n++;
    return 0;
}

long plot_fig_panel(plot_fig *g, const char *t)
{
    for (size_t k = 0; k < g->npanels; k++)
        if (strcmp(g->panels[k], t) == 0)
            return (long)k;
    char **np = sim_realloc(g->panels, (g->npanels + 1) * sizeof *np);
    if (!np)
        return -1;
    g->panels = np;
    if (!(np[g->npanels] = sim_strdup(t)))
        return -1;
    return (long)g->npanels++;
}

long plot_fig_cat(plot_fig *g, const char *name)
{
    for (size_t k = 0; k < g->ncat; k++)
        if (strcmp(g->catv[k], name) == 0)
            return (long)k;
    char **nv = sim_realloc(g->catv, (g->ncat + 1) * sizeof *nv);
    if (!nv)
        return -1;
    g->catv = nv;
    if (!(nv[g->ncat] = sim_strdup(name)))
        return -1;
    g->cats = 1;
    return (long)g->ncat++;
}

void plot_fig_point(plot_fig *g, double x, double y)
{
    if (isfinite(x)) {
        g->x0 = x < g->x0 ? x : g->x0;
        g->x1 = x > g->x1 ? x : g->x1;
        if (x > 0 && x < g->xpos)
            g->xpos = x;
    }
    if (isfinite(y)) {
        g->y0 = y < g->y0 ? y : g->y0;
        g->y1 = y > g->y1 ? y : g->y1;
        if (y > 0 && y < g->ypos)
            g->ypos = y;
    }
}

void plot_fig_labels(plot_fig *g, const char *x, const char *y)
{
    snprintf(g->xlabel, sizeof g->xlabel, "%s", x);
    snprintf(g->ylabel, sizeof g->ylabel, "%s", y);
}

int plot_natcmp(const void *a, const void *b)
{
    const char *p = *(const char *const *)a, *q = *(const char *const *)b;
    while (*p && *q) {
        if (isdigit((unsigned char)*p) && isdigit((unsigned char)*q)) {
            char *ep, *eq;
            unsigned long long x = strtoull(p, &ep, 10), y = strtoull(q, &eq, 10);
            if (x != y)
                return x < y ? -1 : 1;
            p = ep;
            q = eq;
            continue;
        }
        if (*p != *q)
            return (unsigned char)*p - (unsigned char)*q;
        p++;
        q++;
    }
    return (unsigned char)*p - (unsigned char)*q;
}

/* ---- styles ------------------------------------------------------------------ */

#define NLT 32

void plot_header(FILE *f, const plot_opts *o, const char *term, double fscale)
{
    fputs("# memfab plot: generated script (data inline)\n", f);
    fprintf(f, "set terminal %s\n", term);
    if (o->out) { /* --script without -o prints a script with no output file */
        fputs("set output ", f);
        plot_quote(f, o->out);
        fputc('\n', f);
    }
    fputs("set encoding utf8\n", f);
    /* Okabe-Ito palette x solid, dashed, dash-dot; filled, open, then line
     * point types, each colour with a different shape in each third. */
    static const char *const colors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                         "#E69F00", "#56B4E9", "#F0E442", "#000000"};
    static const int points[NLT] = {7,  5, 9,  11, 13, 15, 7,  5,    /* filled */
                                    4,  6, 8,  10, 12, 14, 6,  4,    /* open */
                                    1,  2, 3,  1,  2,  3,  1,  2,    /* strokes */
                                    13, 9, 11, 7,  5,  13, 15, 9};   /* filled, again */
    static const char *const dashes[] = {"solid", "(6,3)", "(8,3,2,3)", "(1.5,2.5)"};
    for (int i = 0; i < NLT; i++)
        fprintf(f, "set linetype %d lc rgb '%s' lw 1.5 dt %s pt %d ps 0.8\n", i + 1,
                colors[i % 8], dashes[i / 8], points[i]);
    fprintf(f, "set linetype cycle %d\n", NLT);
    fputs("set border 3 lw 0.8\nset tics nomirror out scale 0.6\n", f);
    fputs("set grid ytics lw 0.5 lc rgb '#d0d0d0' dt solid\n", f);
    fputs("set key noenhanced samplen 2 spacing 1.0 font ',", f);
    fprintf(f, "%g'\n", (o->pt - 1) * fscale);
    if (o->title && o->facet == FACET_NONE) {
        fputs("set title ", f);
        plot_quote(f, o->title);
        fputc('\n', f);
    }
    if (o->logx)
        fputs("set logscale x\n", f);
    if (o->logy)
        fputs("set logscale y\n", f);
}

/* ---- tics ----------------------------------------------------------------------- */

double plot_nice_step(double lo, double hi, int most)
{
    double range = hi - lo;
    if (!(range > 0) || !isfinite(range))
        return 0;
    double p = pow(10, floor(log10(range / most)));
    static const double m[] = {1, 2, 2.5, 5, 10};
    for (int i = 0; i < 5; i++)
        if (range / (m[i] * p) <= most + 1e-9)
            return m[i] * p;
    return 10 * p;
}

/* An x tic increment of 1, 2 or 5 times a power of ten giving at most 6 tics:
 * gnuplot's own choice ignores the font size and crowds paper-sized figures. */
void plot_tics_for(FILE *f, char axis, double lo, double hi, int most)
{
    double step = plot_nice_step(lo, hi, most);
    if (step > 0)
        fprintf(f, "set %ctics %.6g\n", axis, step);
}

/* Tics at m x 10^d for the mantissas m and decades d in [d0, d1] with
 * stride `every`; the number within [lo, hi], written when f. */
static int log_list(FILE *f, char axis, const double *m, int nm, int d0, int d1, int every,
                    double lo, double hi)
{
    int in = 0, first = 1;
    if (f)
        fprintf(f, "set %ctics (", axis);
    for (int d = d0; d <= d1; d++) {
        if (((d % every) + every) % every)
            continue;
        for (int k = 0; k < nm; k++) {
            double v = m[k] * pow(10, d);
            /* round to 12 significant digits: 3 x 10^-1 prints 0.3 */
            char buf[32];
            snprintf(buf, sizeof buf, "%.12g", v);
            v = strtod(buf, NULL);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9))
                in++;
            if (f) {
                fprintf(f, "%s%s", first ? "" : ", ", buf);
                first = 0;
            }
        }
    }
    if (f)
        fputs(")\n", f);
    return in;
}

int plot_log_tics(FILE *f, char axis, double lo, double hi, int most)
{
    if (!(lo > 0) || !(hi > lo) || !isfinite(hi))
        return 0;
    int d0 = (int)floor(log10(lo)), d1 = (int)ceil(log10(hi));
    static const double m1235[] = {1, 2, 3, 5}, m125[] = {1, 2, 5}, m13[] = {1, 3}, m1[] = {1};
    struct {
        const double *m;
        int nm, every;
    } tries[] = {{m1235, 4, 1}, {m125, 3, 1}, {m13, 2, 1}, {m1, 1, 1}, {m1, 1, 2},
                 {m1, 1, 3},    {m1, 1, 5},   {m1, 1, 10}};
    for (size_t t = 0; t < sizeof tries / sizeof tries[0]; t++) {
        /* 1-2-3-5 within a decade, 1-2-5 within two, 1-3 within three */
        static const double span[] = {0, INFINITY, 1000, 100, 10};
        if (hi / lo > span[tries[t].nm] * 1.0001)
            continue;
        int in = log_list(NULL, axis, tries[t].m, tries[t].nm, d0, d1, tries[t].every, lo, hi);
        if (in >= 2 && in <= most) {
            fprintf(f, "set format %c '%%g'\n", axis);
            return log_list(f, axis, tries[t].m, tries[t].nm, d0, d1, tries[t].every, lo, hi);
        }
    }
    /* less than a factor of 2 (or 3 with a 1-2-3-5 gap): linear steps */
    double step = plot_nice_step(lo, hi, most > 1 ? most - 1 : 1);
    if (!(step > 0))
        return 0;
    fprintf(f, "set format %c '%%g'\nset %ctics (", axis, axis);
    int n = 0;
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi * (1 + 1e-9); v += step)
        fprintf(f, "%s%.6g", n++ ? ", " : "", v);
    fputs(")\n", f);
    return n;
}

/* ---- the key ------------------------------------------------------------------- */

/* The key's text size for n entries: smaller for more entries. */
static double key_pt(const plot_opts *o, size_t n)
{
    double kpt = n > 8 ? o->pt - 3 : n > 4 ? o->pt - 2 : o->pt - 1;
    return kpt < 5 ? 5 : kpt;
}

/* Columns of a key below the plot: the width over an entry (sample, gap, text). */
static size_t key_cols(const plot_opts *o, double w_in, size_t n, size_t maxlen)
{
    double em = key_pt(o, n) * 0.6;
    size_t cols = (size_t)(w_in * 72 * 0.95 / (em * ((double)maxlen + 6)));
    return cols < 1 ? 1 : cols > n ? n : cols;
}

/* The key of n entries, the longest maxlen characters. --key picks the
 * place; by default it is inside `corner` for one or two short entries
 * (corner NULL: never inside) and outside, below the plot, otherwise, so
 * that it never covers a curve. Below the plot the entries run in as many
 * columns as the width holds; more than four entries get smaller text.
 * Entries are never dropped: labels are at most plot_title_max()
 * characters, which fit a column. */
static void key_set(FILE *f, const plot_opts *o, size_t n, size_t maxlen, const char *corner)
{
    int mode = o->key;
    if (mode == KEY_AUTO)
        mode = corner && n <= 2 && maxlen <= 24 ? KEY_INSIDE : KEY_BELOW;
    double kpt = key_pt(o, n);
    switch (mode) {
    case KEY_OFF: fputs("set key off\n", f); return;
    case KEY_BELOW: {
        size_t cols = key_cols(o, o->w, n, maxlen);
        /* A key taller than 45% of the figure would squeeze the plot (the
         * x tic labels and the x label sit between them): leave it out,
         * and say how to choose fewer series (--key below still forces
         * it). 16 two-tier occupancy series of 8 runs at 60% left the
         * plot a strip with its y tics overlapping. */
        size_t rows = (n + cols - 1) / cols, fit = (size_t)(o->h * 72 * 0.45 / (kpt * 1.1));
        if (o->key == KEY_AUTO && rows > fit) {
            fprintf(stderr,
                    "memfab plot: warning: a key of %zu series needs %zu rows and a %g x %g in"
                    " figure holds %zu; the key is left out (choose series with --metric or"
                    " --run, draw panels with --facet, or force it with --key below|right)\n",
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

/* ---- emitting ------------------------------------------------------------------- */

void plot_grid(size_t n, size_t *cols, size_t *rows)
{
    size_t c = n <= 3 ? n : n == 4 ? 2 : n <= 6 ? 3 : n <= 8 ? 4 : n == 9 ? 3 : n <= 16 ? 4
                                                                                    : 0;
    if (c == 0)   /* beyond 16: a near-square grid */
        for (c = 1; c * c < n; c++)
            ;
    *cols = c ? c : 1;
    *rows = (n + *cols - 1) / *cols;
    *rows = *rows ? *rows : 1;
}

/* Distinct keyed entries in order of first appearance: idx[k] is the
 * entry of item k (-1 for items without a key). Returns the count. */
static size_t key_index(const plot_fig *g, long *idx, const char **first)
{
    size_t n = 0;
    for (size_t k = 0; k < g->n; k++)
        idx[k] = -1;
    for (size_t pass = 0; pass < 2; pass++)   /* keyed items first, then bands */
        for (size_t k = 0; k < g->n; k++) {
            const plot_item *it = &g->items[k];
            if (!it->key || (pass == 0 && !it->keyed) || (pass == 1 && it->keyed))
                continue;
            size_t e = 0;
            for (; e < n && strcmp(first[e], it->key) != 0; e++)
                ;
            if (e == n && pass == 1) {   /* a band without a line: unstyled */
                idx[k] = -1;
                continue;
            }
            if (e == n)
                first[n++] = it->key;
            idx[k] = (long)e;
        }
    return n;
}

static const char *entry_name(const plot_opts *o, const char *key, long e)
{
    return e >= 0 && (size_t)e < o->nnames ? o->names[e] : key;
}

static void item_style(FILE *f, const plot_item *it, long e)
{
    if (it->lt > 0)
        fprintf(f, " lt %d", it->lt);
    else if (e >= 0)
        fprintf(f, " lt %ld", e % NLT + 1);
    if (it->dt > 0)
        fprintf(f, " dt %d", it->dt);
}

/* The plot command of panel p (every item when p < 0), titled or not. */
static void plot_cmd(FILE *f, const plot_opts *o, const plot_fig *g, const long *idx, long p,
                     int titled)
{
    int first = 1;
    fputs("plot ", f);
    for (size_t k = 0; k < g->n; k++) {
        const plot_item *it = &g->items[k];
        if (p >= 0 && it->panel != (size_t)p)
            continue;
        /* the line type before a fill style: gnuplot colours the fill by
         * the line type given before it */
        const char *fs = strstr(it->with, " fs ");
        int head = fs ? (int)(fs - it->with) : (int)strlen(it->with);
        fprintf(f, "%s%s %.*s", first ? "" : ", \\\n     ", it->block, head, it->with);
        item_style(f, it, idx[k]);
        fputs(it->with + head, f);
        if (titled && it->keyed) {
            fputs(" title ", f);
            plot_quote(f, entry_name(o, it->key, idx[k]));
        } else {
            fputs(" notitle", f);
        }
        first = 0;
    }
    if (first)   /* an empty panel keeps its place and axes */
        fputs("NaN notitle", f);
    fputc('\n', f);
}

static void quoted_set(FILE *f, const char *what, const char *s)
{
    fprintf(f, "set %s ", what);
    plot_quote(f, s);
    fputc('\n', f);
}

/* Do the category names need rotating in a panel pw points wide? */
static int cat_rotate(const plot_opts *o, const plot_fig *g, double pw)
{
    size_t chars = 0;
    for (size_t c = 0; c < g->ncat; c++)
        chars += strlen(g->catv[c]) + 2;
    return (double)chars * o->pt * 0.55 > pw * 0.8;
}

static size_t cat_maxlen(const plot_fig *g)
{
    size_t ml = 0;
    for (size_t c = 0; c < g->ncat; c++)
        ml = strlen(g->catv[c]) > ml ? strlen(g->catv[c]) : ml;
    return ml;
}

/* The categorical x tics ('label' position), blank when !shown; rotated
 * labels end under their cluster ('right' anchors the end of the text at
 * the tic when rotated counter-clockwise). */
static void cat_tics(FILE *f, const plot_opts *o, const plot_fig *g, double pw, int shown)
{
    fprintf(f, "set xrange [-0.55:%g]\nset xtics (", (double)g->ncat - 0.45);
    for (size_t c = 0; c < g->ncat; c++) {
        fprintf(f, "%s", c ? ", " : "");
        plot_quote(f, shown ? g->catv[c] : "");
        fprintf(f, " %zu", c);
    }
    fputs(")\n", f);
    /* 45 degrees while the labels' line height fits the diagonal spacing */
    if (shown && cat_rotate(o, g, pw))
        fprintf(f, "set xtics rotate by %s\n",
                pw / (double)g->ncat >= 1.7 * o->pt ? "45 right" : "90 right");
    else
        fputs("set xtics norotate\n", f);
}

void plot_fig_emit(FILE *f, const plot_opts *o, plot_fig *g)
{
    long *idx = sim_calloc(g->n + 1, sizeof *idx);
    const char **first = sim_calloc(g->n + 1, sizeof *first);
    if (!idx || !first) {
        sim_free(idx);
        sim_free(first);
        return;
    }
    size_t n = key_index(g, idx, first);
    g->nkeys = n;
    size_t maxlen = 0;
    for (size_t e = 0; e < n; e++) {
        size_t l = strlen(entry_name(o, first[e], (long)e));
        maxlen = l > maxlen ? l : maxlen;
    }
    int key_off = n == 0 || (g->single_off && n == 1 && !o->nnames && o->key == KEY_AUTO);
    const char *xl = o->xlabel ? o->xlabel : g->xlabel, *yl = o->ylabel ? o->ylabel : g->ylabel;
    g->fw = o->w;
    g->fh = o->h;
    int logx = o->logx && !g->cats && g->xpos < INFINITY;
    int logy = o->logy && g->ypos < INFINITY;
    if (o->facet == FACET_NONE) {
        quoted_set(f, "xlabel", xl);
        quoted_set(f, "ylabel", yl);
        if (g->cats)
            cat_tics(f, o, g, o->w * 72 - 5 * o->pt, 1);
        if (logx)
            plot_log_tics(f, 'x', g->xpos, g->x1, 7);
        if (logy)
            plot_log_tics(f, 'y', g->ypos, g->y1, 6);
        if (key_off)
            fputs("set key off\n", f);
        else
            key_set(f, o, n, maxlen, g->corner);
        plot_cmd(f, o, g, idx, -1, 1);
        goto out;
    }
    /* ---- facets: a grid of panels on shared axes, one key below ---- */
    size_t np = g->npanels ? g->npanels : 1, cols, rows;
    plot_grid(np, &cols, &rows);
    double p = o->pt, W = (o->sized || cols < 3 ? o->w : o->w > 7 ? o->w : 7) * 72, H;
    double kpt = key_pt(o, n);
    size_t kcols = key_off ? 0 : key_cols(o, W / 72, n, maxlen);
    size_t krows = key_off ? 0 : (n + kcols - 1) / kcols;
    double K = krows ? (double)krows * kpt * 1.25 + 0.6 * p : 0;
    /* the left margin holds the y label and the widest y tic label
     * (10000 needs more room than 1.0) */
    char ytic[32];
    double ystep = isfinite(g->y1) && g->y1 > g->y0 ? plot_nice_step(g->y0, g->y1, 5) : 0;
    double ytop = ystep > 0 ? ceil(g->y1 / ystep - 1e-9) * ystep : g->y1;
    snprintf(ytic, sizeof ytic, "%g", fabs(ytop) > fabs(g->y0) ? ytop : g->y0);
    double ychars = isfinite(g->y1) && isfinite(g->y0) ? (double)strlen(ytic) : 4;
    double L = (ychars > 4 ? 2.2 + 0.8 * ychars : 5.2) * p, R = 1.5 * p,
           T = 1.9 * p + (o->title ? 1.7 * p : 0);
    double gx = 1.2 * p, gy = 2.2 * p;
    /* below the grid: the x tic labels (rotated category names take their
     * length), the x label, the key */
    double ticks = 2.2 * p;
    if (g->cats && cat_rotate(o, g, (W - L - R) / (double)cols - gx))
        ticks = (double)cat_maxlen(g) * p * 0.62 *
                    ((W - L - R) / (double)cols / (double)g->ncat >= 1.7 * p ? 0.72 : 1.0) +
                2.0 * p;
    double B = K + ticks + 1.8 * p;
    /* the figure's size: given, or grown with the grid */
    double pw = (W - L - R - (double)(cols - 1) * gx) / (double)cols;
    double ph = o->sized ? (o->h * 72 - T - B - (double)(rows - 1) * gy) / (double)rows : 90;
    if (ph < 3 * p) {
        fprintf(stderr, "memfab plot: warning: %zu rows of panels leave %.0f pt per panel in a"
                        " %g in tall figure; give a taller --size\n", rows, ph, o->h);
        ph = 3 * p;
    }
    H = T + B + (double)rows * ph + (double)(rows - 1) * gy;
    g->fw = W / 72;
    g->fh = H / 72;
    fputs("set multiplot", f);
    if (o->title) {
        fputs(" title ", f);
        plot_quote(f, o->title);
    }
    fputc('\n', f);
    /* shared ranges: y from the data, rounded up to a tic */
    if (!g->cats && g->x1 > g->x0)
        fprintf(f, "set xrange [%.9g:%.9g]\n", logx ? g->xpos : g->x0, g->x1);
    if (logy && g->y1 > g->ypos) {
        fprintf(f, "set yrange [%.9g:%.9g]\n", g->ypos, g->y1);
    } else if (!logy && g->y1 > g->y0) {
        double step = plot_nice_step(g->y0, g->y1, ph < 60 ? 3 : 5);
        double top = step > 0 ? ceil(g->y1 / step - 1e-9) * step : g->y1;
        fprintf(f, "set yrange [%.9g:%.9g]\nset ytics %.6g\n", g->y0, top, step);
    }
    if (logx)
        plot_log_tics(f, 'x', g->xpos, g->x1, pw < 100 ? 4 : 6);
    if (logy)
        plot_log_tics(f, 'y', g->ypos, g->y1, ph < 60 ? 3 : 5);
    else if (!g->cats && g->x1 > g->x0 && !logx)
        plot_tics_for(f, 'x', g->x0, g->x1, pw < 100 ? 3 : pw < 160 ? 4 : 6);
    fputs("set key off\n", f);
    double tpt = p - 1.5 > 5 ? p - 1.5 : 5;
    size_t tmax = (size_t)(pw / (tpt * 0.6));
    for (size_t k = 0; k < np; k++) {
        size_t r = k / cols, c = k % cols;
        double x0 = L + (double)c * (pw + gx), y1 = H - T - (double)r * (ph + gy);
        fprintf(f, "# panel %zu of %zu\n", k + 1, np);
        fprintf(f, "set lmargin at screen %.5f\nset rmargin at screen %.5f\n"
                   "set tmargin at screen %.5f\nset bmargin at screen %.5f\n",
                x0 / W, (x0 + pw) / W, y1 / H, (y1 - ph) / H);
        char *t = sim_strdup(g->npanels ? g->panels[k] : "");
        if (t) {
            plot_shorten(t, tmax < 8 ? 8 : tmax);
            fputs("set title ", f);
            plot_quote(f, t);
            fprintf(f, " offset 0,-0.5 font ',%g'\n", tpt * o->fscale);
            sim_free(t);
        }
        int bottom = k + cols >= np, left = c == 0;
        if (g->cats) {
            cat_tics(f, o, g, pw, bottom);
        } else {
            fprintf(f, "set format x %s\n", bottom ? (logx ? "'%g'" : "'% h'") : "''");
        }
        fprintf(f, "set format y %s\n", left ? (logy ? "'%g'" : "'% h'") : "''");
        plot_cmd(f, o, g, idx, (long)k, 0);
    }
    /* one x label and one y label for the grid, and the key of every
     * panel: text and key entries over an empty plot */
    fputs("# the axis labels and the key\nunset title\nunset logscale\nset border 0\n"
          "unset xtics\nunset ytics\nunset grid\nset xrange [0:1]\nset yrange [0:1]\n"
          "set lmargin at screen 0\nset rmargin at screen 1\nset tmargin at screen 1\n"
          "set bmargin at screen 0\n", f);
    fputs("set label 1 ", f);
    plot_quote(f, xl);
    fprintf(f, " at screen %.5f, screen %.5f center\n", (L + (W - L - R) / 2) / W,
            (K + 0.7 * p) / H);
    fputs("set label 2 ", f);
    plot_quote(f, yl);
    fprintf(f, " at screen %.5f, screen %.5f center rotate by 90\n", 1.0 * p / W,
            (B + (H - T - B) / 2) / H);
    if (krows)
        fprintf(f, "set key at screen 0.5, screen %.5f center top horizontal Left reverse"
                   " maxcols %zu samplen 1.5 spacing 0.9 font ',%g'\n", K / H, kcols,
                kpt * o->fscale);
    else
        fputs("set key off\n", f);
    fputs("plot NaN notitle", f);   /* keyentry alone trips gnuplot 5.4 */
    for (size_t e = 0; krows && e < n; e++) {
        size_t k = 0;
        for (; k < g->n && !(g->items[k].keyed && idx[k] == (long)e); k++)
            ;
        const char *with = strstr(g->items[k].with, "with "), *fs = strstr(g->items[k].with, " fs ");
        with = with ? with : "with lines";
        fprintf(f, ", \\\n     keyentry %.*s", fs && fs > with ? (int)(fs - with) : (int)strlen(with),
                with);
        item_style(f, &g->items[k], (long)e);
        fputs(fs && fs > with ? fs : "", f);
        fputs(" title ", f);
        plot_quote(f, entry_name(o, first[e], (long)e));
    }
    fputc('\n', f);
    fputs("unset multiplot\n", f);
out:
    sim_free(idx);
    sim_free(first);
}
