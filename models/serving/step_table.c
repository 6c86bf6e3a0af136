/*
 * step_table.c - read a step-time table CSV and interpolate it (the layout,
 * the grid rules and the interpolation are in step_table.h).
 */
#include "models/serving/step_table.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/csvline.h"
#include "sim/mem.h"

#define MAXCOL 64
#define LINE_MAX_BYTES 4096
/* The longest measured step taken (seconds): the simulated clock counts
 * picoseconds in 63 bits (9.2e6 s), so a longer step could not be
 * scheduled; a million seconds is far above any real step. */
#define STEP_TABLE_MAX_S 1e6

static const char *const axis_col[STEP_TABLE_AXES] = {"prefill_tokens", "decode_tokens",
                                                      "context_tokens"};

typedef struct row {
    double x[STEP_TABLE_AXES];
    double t;      /* seconds */
    long line;
} row;

static int fail(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* -1, 0, 1 as point a is before, at, after point b in the grid order. */
static int cmp_point(const double *a, const double *b)
{
    for (int k = 0; k < STEP_TABLE_AXES; k++)
        if (a[k] != b[k])
            return a[k] < b[k] ? -1 : 1;
    return 0;
}

void step_table_free(step_table *t)
{
    if (!t)
        return;
    for (int k = 0; k < STEP_TABLE_AXES; k++)
        sim_free(t->axis[k]);
    sim_free(t->t);
    sim_free(t);
}

/* Check the rows (in file order) form the full grid; build the table. */
static int build(const row *r, size_t nr, step_table **out, char *why, size_t len)
{
    for (size_t i = 1; i < nr; i++) {
        int c = cmp_point(r[i].x, r[i - 1].x);
        if (c == 0)
            return fail(why, len, "%ld: duplicate grid point (prefill_tokens %g, decode_tokens "
                        "%g, context_tokens %g), also on line %ld", r[i].line, r[i].x[0],
                        r[i].x[1], r[i].x[2], r[i - 1].line);
        if (c < 0) {
            int k = 0;
            while (r[i].x[k] == r[i - 1].x[k])
                k++;
            return fail(why, len, "%ld: column '%s': non-monotone grid: (%g, %g, %g) comes "
                        "after (%g, %g, %g) on line %ld; rows go in ascending order of "
                        "prefill_tokens, then decode_tokens, then context_tokens", r[i].line,
                        axis_col[k], r[i].x[0], r[i].x[1], r[i].x[2], r[i - 1].x[0],
                        r[i - 1].x[1], r[i - 1].x[2], r[i - 1].line);
        }
    }
    step_table *t = sim_calloc(1, sizeof *t);
    if (!t)
        return fail(why, len, "out of memory");
    double *v = sim_alloc(nr * sizeof *v);
    if (!v) {
        sim_free(t);
        return fail(why, len, "out of memory");
    }
    size_t total = 1;
    for (int k = 0; k < STEP_TABLE_AXES; k++) {
        for (size_t i = 0; i < nr; i++)
            v[i] = r[i].x[k];
        qsort(v, nr, sizeof *v, cmp_double);
        size_t u = 0;
        for (size_t i = 0; i < nr; i++)
            if (!u || v[i] != v[u - 1])
                v[u++] = v[i];
        t->n[k] = (uint32_t)u;
        t->axis[k] = sim_alloc(u * sizeof(double));
        if (!t->axis[k]) {
            sim_free(v);
            step_table_free(t);
            return fail(why, len, "out of memory");
        }
        memcpy(t->axis[k], v, u * sizeof(double));
        total *= u;
    }
    sim_free(v);
    /* Walk the grid in order beside the rows: the first point no row gives. */
    uint32_t idx[STEP_TABLE_AXES] = {0, 0, 0};
    for (size_t g = 0; g < total; g++) {
        double want[STEP_TABLE_AXES];
        for (int k = 0; k < STEP_TABLE_AXES; k++)
            want[k] = t->axis[k][idx[k]];
        if (g >= nr || cmp_point(r[g].x, want) != 0) {
            char at[96];
            if (g < nr)
                snprintf(at, sizeof at, "%ld", r[g].line);
            else
                snprintf(at, sizeof at, "%ld", r[nr - 1].line + 1);
            fail(why, len, "%s: incomplete grid: no row for prefill_tokens %g, decode_tokens "
                 "%g, context_tokens %g (the grid is every combination of the %u x %u x %u "
                 "values the columns take, %zu rows; the file has %zu)", at, want[0], want[1],
                 want[2], t->n[0], t->n[1], t->n[2], total, nr);
            step_table_free(t);
            return -1;
        }
        for (int k = STEP_TABLE_AXES - 1; k >= 0; k--) {
            if (++idx[k] < t->n[k])
                break;
            idx[k] = 0;
        }
    }
    t->t = sim_alloc(total * sizeof(double));
    if (!t->t) {
        step_table_free(t);
        return fail(why, len, "out of memory");
    }
    for (size_t g = 0; g < total; g++)
        t->t[g] = r[g].t;
    *out = t;
    return 0;
}

int step_table_load(const char *path, step_table **out, char *why, size_t len)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(why, len, "cannot open: %s", strerror(errno));
    char *buf = sim_alloc(LINE_MAX_BYTES);
    row *r = NULL;
    size_t nr = 0, cap = 0;
    int rc = -1;
    long line = 0;
    if (!buf) {
        fail(why, len, "out of memory");
        goto out;
    }
    char *col[MAXCOL];
    int got = sim_csv_next_line(f, buf, LINE_MAX_BYTES, &line);
    if (got <= 0) {
        fail(why, len, "%ld: %s", line, got < 0 ? "line too long" : "no header row");
        goto out;
    }
    int nc = sim_csv_split(buf, col, MAXCOL);
    if (nc == MAXCOL && strchr(col[MAXCOL - 1], ',')) { /* the last field kept the rest */
        fail(why, len, "%ld: more than %d columns (a step table is read from its first %d)",
             line, MAXCOL, MAXCOL);
        goto out;
    }
    int ix[STEP_TABLE_AXES], it = -1;
    double scale = 1;
    const char *tname = NULL;
    static const struct { const char *name; double scale; } tcols[] = {
        {"step_time_s", 1}, {"step_time_ms", 1e-3}, {"step_time_us", 1e-6}};
    for (int k = 0; k < STEP_TABLE_AXES; k++) {
        ix[k] = -1;
        for (int i = 0; i < nc; i++)
            if (strcmp(col[i], axis_col[k]) == 0)
                ix[k] = i;
        if (ix[k] < 0) {
            fail(why, len, "%ld: column '%s' missing (a step table needs prefill_tokens, "
                 "decode_tokens, context_tokens and step_time_s, step_time_ms or "
                 "step_time_us)", line, axis_col[k]);
            goto out;
        }
    }
    for (size_t k = 0; k < 3 && it < 0; k++)
        for (int i = 0; i < nc; i++)
            if (strcmp(col[i], tcols[k].name) == 0) {
                it = i;
                scale = tcols[k].scale;
                tname = tcols[k].name;
            }
    if (it < 0) {
        fail(why, len, "%ld: column 'step_time_s' missing (or step_time_ms, step_time_us: "
             "the measured step duration)", line);
        goto out;
    }
    while ((got = sim_csv_next_line(f, buf, LINE_MAX_BYTES, &line)) > 0) {
        nc = sim_csv_split(buf, col, MAXCOL);
        row rw = {{0, 0, 0}, 0, line};
        for (int k = 0; k <= STEP_TABLE_AXES; k++) {
            int i = k < STEP_TABLE_AXES ? ix[k] : it;
            const char *name = k < STEP_TABLE_AXES ? axis_col[k] : tname;
            if (i >= nc) {
                fail(why, len, "%ld: column '%s' (column %d): missing, the row has %d columns",
                     line, name, i + 1, nc);
                goto out;
            }
            char *end;
            errno = 0;
            double x = strtod(col[i], &end);
            if (end == col[i] || *end || errno || !isfinite(x)) {
                fail(why, len, "%ld: column '%s' (column %d): '%.32s' is not a number", line,
                     name, i + 1, col[i]);
                goto out;
            }
            if (x < 0) {
                fail(why, len, "%ld: column '%s' (column %d): %g is negative%s", line, name,
                     i + 1, x, k == STEP_TABLE_AXES ? " (a step time is a duration)" : "");
                goto out;
            }
            if (k == STEP_TABLE_AXES && x * scale > STEP_TABLE_MAX_S) {
                fail(why, len, "%ld: column '%s' (column %d): %g %s is longer than a step "
                     "may be (%g s; a wrong unit column?)", line, name, i + 1, x,
                     tname + strlen("step_time_"), STEP_TABLE_MAX_S);
                goto out;
            }
            if (k < STEP_TABLE_AXES)
                rw.x[k] = x;
            else
                rw.t = x * scale;
        }
        if (nr == cap) {
            size_t nc2 = cap ? 2 * cap : 64;
            row *n2 = sim_realloc(r, nc2 * sizeof *n2);
            if (!n2) {
                fail(why, len, "%ld: out of memory", line);
                goto out;
            }
            r = n2;
            cap = nc2;
        }
        r[nr++] = rw;
    }
    if (got < 0) {
        fail(why, len, "%ld: line longer than %d bytes", line, LINE_MAX_BYTES - 1);
        goto out;
    }
    if (!nr) {
        fail(why, len, "%ld: no rows after the header", line);
        goto out;
    }
    rc = build(r, nr, out, why, len);
out:
    fclose(f);
    sim_free(buf);
    sim_free(r);
    return rc;
}

/* The cell of x on an axis and the weight of its upper corner: lo such
 * that a[lo] <= x <= a[lo + 1] inside the grid, the outermost segment
 * outside it (w < 0 or > 1: linear extension). One value: lo 0, w 0. */
static void locate(const double *a, uint32_t n, double x, uint32_t *lo, double *w)
{
    if (n == 1) {
        *lo = 0;
        *w = 0;
        return;
    }
    uint32_t l = 0, h = n - 1; /* invariant: a[l] <= x < a[h] once inside */
    if (x <= a[0]) {
        h = 1;
    } else if (x >= a[n - 1]) {
        l = n - 2;
    } else {
        while (h - l > 1) {
            uint32_t m = l + (h - l) / 2;
            if (a[m] <= x)
                l = m;
            else
                h = m;
        }
    }
    *lo = l;
    *w = (x - a[l]) / (a[l + 1] - a[l]);
}

double step_table_seconds(const step_table *t, double p, double d, double c)
{
    uint32_t lo[STEP_TABLE_AXES];
    double w[STEP_TABLE_AXES];
    const double x[STEP_TABLE_AXES] = {p, d, c};
    for (int k = 0; k < STEP_TABLE_AXES; k++)
        locate(t->axis[k], t->n[k], x[k], &lo[k], &w[k]);
    double s = 0;
    for (int corner = 0; corner < 8; corner++) {
        double wt = 1;
        size_t off = 0;
        int skip = 0;
        for (int k = 0; k < STEP_TABLE_AXES; k++) {
            int up = (corner >> (STEP_TABLE_AXES - 1 - k)) & 1;
            if (up && t->n[k] == 1) {
                skip = 1; /* a single value: no upper corner */
                break;
            }
            wt *= up ? w[k] : 1 - w[k];
            off = off * t->n[k] + lo[k] + (uint32_t)up;
        }
        if (!skip && wt != 0)
            s += wt * t->t[off];
    }
    return s > 0 ? s : 0;
}
