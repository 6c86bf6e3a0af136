/*
 * calibrate.c - `memfab calibrate`: fit the coefficients of the linear
 * step-time model (models/serving/llm_model.h) to measurements, by least
 * squares (GSL gsl_multifit_linear), and write them as a YAML file that an
 * llm_instance includes (`include: FILE` in the instance's mapping).
 *
 * Two kinds of measurement, both CSV with a header row (RFC 4180 numbers,
 * no quoting needed; lines starting with '#' are comments):
 *
 *   steps (default): one row per engine step, columns prefill_tokens,
 *     decode_tokens, optional context_tokens, and the step's duration in
 *     one of step_time_s / step_time_ms / step_time_us. Each row is one
 *     equation  t = fixed + per_prefill p + per_decode d + per_context c.
 *
 *   --requests: one row per request measured alone (no two requests in
 *     flight at once), columns arrival_s, first_token_s, finish_s,
 *     input_tokens, output_tokens, optional cached_tokens (times in s;
 *     what `memfab show DB requests` or a serving benchmark's per-request
 *     log gives). With memfab's scheduler a lone request's prompt of P
 *     uncached tokens runs in k = ceil(P / B) prefill steps (B =
 *     --max-batched-tokens, 8192 by default) that read the tokens already
 *     prefilled, and its first token leaves with the last of them; each of
 *     its N-1 later tokens is one decode step at context P0 + j (P0 the
 *     whole prompt). So each request gives two exact equations:
 *       TTFT            = k fixed + P per_prefill + (sum of chunk offsets) per_context
 *       finish - first  = (N-1)(fixed + per_decode) + (sum_j (P0 + j - 1)) per_context
 *     Requests that overlap in time are refused: their steps were shared.
 *     These equations assume no CPU costs (all of TTFT is GPU steps).
 *
 *   steps + --cpu REQUESTS.csv: the per-request CPU costs of the instance
 *     (instance.c, "CPU costs"; BLIS's alpha model, inference-sim
 *     approach.md, "CPU & System Overhead Model"): alpha0 = cpu_per_request
 *     + alpha1 = cpu_per_input_token x M before a request of M prompt
 *     tokens joins the queue, and output token k delivered k x alpha2
 *     (cpu_per_output_token) after the step that computed it. The GPU
 *     coefficients come from the steps (first fit); a requests CSV as for
 *     --requests (lone requests) then gives, per request, with G_pre and
 *     G_dec the first fit's time of its prefill chunks and decode steps
 *     (the equations above):
 *       (first - arrival)  - G_pre = alpha0 + alpha1 M + alpha2
 *       (finish - first)   - G_dec = (N - 1) alpha2
 *     (the first token leaves alpha2 after its step, the last N alpha2
 *     after its own, so the decode phase gains (N - 1) alpha2). Both kinds
 *     of rows form one least-squares system in (alpha0, alpha1, alpha2):
 *     the decode rows identify alpha2, the TTFT rows then alpha0 (their
 *     intercept less alpha2) and alpha1 (their slope in M). So it needs
 *     prompts of two lengths at least and some requests of N >= 2, and
 *     assumes (i) requests measured one at a time (the GPU idle when each
 *     arrives, no steps shared: overlapping requests are refused), (ii)
 *     the steps measured on the same engine and budget, so their errors
 *     carry into the CPU terms (a bias e in per-token decode time shifts
 *     alpha2 by -e), and (iii) timestamps taken where the client sees
 *     tokens (after detokenisation). Why steps are needed: from
 *     arrival/first/finish alone, alpha0 + t, alpha2 - t, per_decode + t
 *     predict the same times for every t (alpha0 and alpha2 both add once
 *     to TTFT; alpha2 and the per-token step cost both add once per
 *     decode token), so no fit of those three columns alone can separate
 *     them. The report gives the CPU fit's R^2 and errors overall and per
 *     family of equations (TTFTs, decode phases), on the CPU part of each
 *     time.
 *
 * A coefficient the unconstrained fit makes negative is not a cost; it is
 * fixed at zero and the rest refitted (the report says which), since the
 * instance's parameters are durations. The report gives each coefficient
 * with its standard error, R^2, the RMS error and the largest relative
 * error of the fitted times. Exit status: 0, 1 (I/O), 2 (bad input, with
 * file:line:column and the column's name).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>

#include "sim/csvline.h"
#include "sim/err.h"
#include "tools/commands.h"
#include "tools/safeout.h"

enum { K_FIXED, K_PREFILL, K_DECODE, K_CONTEXT, NK };
static const char *const coef_key[NK] = {"step_fixed", "step_per_prefill_token",
                                         "step_per_decode_token", "step_per_context_token"};
/* The CPU fit's coefficients (instance.c, "CPU costs"; BLIS alpha0..2). */
enum { A_REQUEST, A_INPUT, A_OUTPUT, NA };
static const char *const cpu_key[NA] = {"cpu_per_request", "cpu_per_input_token",
                                        "cpu_per_output_token"};
#define MAXK 4    /* columns of the widest fit */

typedef struct fit_data {
    double *x;        /* rows x nk design matrix */
    double *y;        /* seconds */
    size_t n, cap;
    int nk;           /* columns: NK (GPU fit) or NA (CPU fit) */
} fit_data;

static int add_row(fit_data *d, const double *x, double y)
{
    size_t nk = (size_t)d->nk;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 256;
        double *nx = realloc(d->x, cap * nk * sizeof *nx);
        if (!nx)
            return -1;
        d->x = nx;
        double *ny = realloc(d->y, cap * sizeof *ny);
        if (!ny)
            return -1;
        d->y = ny;
        d->cap = cap;
    }
    memcpy(d->x + d->n * nk, x, nk * sizeof *x);
    d->y[d->n++] = y;
    return 0;
}

/* ---- CSV ------------------------------------------------------------------ */

#define MAXCOL 256

typedef struct csv {
    FILE *f;
    const char *path;
    long line;
    char buf[4096];
    char *col[MAXCOL];
    int ncol;
} csv;

/* Read the next line that is neither empty nor a comment ('#' first, as
 * the step tables of scenarios/presets/step-time/ cite their sources) and
 * split it at commas. 1, 0 at the end, -1 on a line too long. */
static int csv_next(csv *c)
{
    int r = sim_csv_next_line(c->f, c->buf, sizeof c->buf, &c->line);
    if (r > 0)
        c->ncol = sim_csv_split(c->buf, c->col, MAXCOL);
    return r;
}

/* Read the header row into names: 0, or -1 after an error (an empty
 * file, a header line too long or wider than MAXCOL columns). */
static int read_header(csv *c, char names[][64], int *nn)
{
    int r = csv_next(c);
    if (r == 0) {
        fprintf(stderr, "%s:1: error: empty file (a header row is needed)\n", c->path);
        return -1;
    }
    if (r < 0) {
        fprintf(stderr, "%s:%ld: error: header line longer than %zu bytes\n", c->path, c->line,
                sizeof c->buf - 1);
        return -1;
    }
    if (c->ncol == MAXCOL && strchr(c->col[MAXCOL - 1], ',')) {
        fprintf(stderr, "%s:%ld: error: more than %d columns\n", c->path, c->line, MAXCOL);
        return -1;
    }
    *nn = c->ncol;
    for (int i = 0; i < c->ncol; i++)
        snprintf(names[i], 64, "%s", c->col[i]);
    return 0;
}

static int find_col(const csv *c, char names[][64], int n, const char *want)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], want) == 0)
            return i;
    (void)c;
    return -1;
}

/* A finite, non-negative number, else an error naming the place:
 * FILE:LINE:COLUMN (the line counts the header as 1; the column is the
 * 1-based field number) and the column's name. */
static int num(const csv *c, int idx, const char *name, double *out)
{
    if (idx >= c->ncol) {
        fprintf(stderr, "%s:%ld:%d: error: row has %d columns, column %d '%s' missing\n",
                c->path, c->line, idx + 1, c->ncol, idx + 1, name);
        return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(c->col[idx], &end);
    if (end == c->col[idx] || *end || errno || !isfinite(v) || v < 0) {
        fprintf(stderr, "%s:%ld:%d: error: column %d '%s': '%.32s' is not a non-negative "
                        "number\n", c->path, c->line, idx + 1, idx + 1, name, c->col[idx]);
        return -1;
    }
    *out = v;
    return 0;
}

static int read_steps(csv *c, char names[][64], int nn, fit_data *d)
{
    int ip = find_col(c, names, nn, "prefill_tokens"), id = find_col(c, names, nn, "decode_tokens");
    int ic = find_col(c, names, nn, "context_tokens");
    int it = -1;
    double scale = 1;
    const char *tname = NULL;
    static const struct { const char *name; double scale; } tcols[] = {
        {"step_time_s", 1}, {"step_time_ms", 1e-3}, {"step_time_us", 1e-6}};
    for (size_t k = 0; k < 3; k++)
        if ((it = find_col(c, names, nn, tcols[k].name)) >= 0) {
            scale = tcols[k].scale;
            tname = tcols[k].name;
            break;
        }
    if (ip < 0 || id < 0 || it < 0) {
        fprintf(stderr, "%s:1: error: a steps CSV needs the columns prefill_tokens, decode_tokens "
                        "and step_time_s (or step_time_ms, step_time_us); context_tokens is "
                        "optional\n", c->path);
        return -1;
    }
    int r;
    while ((r = csv_next(c)) > 0) {
        double x[NK] = {1, 0, 0, 0}, t;
        if (num(c, ip, "prefill_tokens", &x[K_PREFILL]) || num(c, id, "decode_tokens", &x[K_DECODE]) ||
            (ic >= 0 && num(c, ic, "context_tokens", &x[K_CONTEXT])) || num(c, it, tname, &t))
            return -1;
        if (add_row(d, x, t * scale)) {
            fprintf(stderr, "memfab calibrate: out of memory\n");
            return -1;
        }
    }
    if (r < 0) {
        fprintf(stderr, "%s:%ld: error: line longer than %zu bytes\n", c->path, c->line,
                sizeof c->buf - 1);
        return -1;
    }
    return ic >= 0;
}

/* One request measured alone: times in s, tokens. */
typedef struct req_row {
    double arr, first, fin;   /* arrival, first token, finish */
    double p0, n, cached;     /* input, output and cached prompt tokens */
    long line;
} req_row;

static int by_start(const void *x, const void *y)
{
    const req_row *p = x, *q = y;
    return p->arr < q->arr ? -1 : p->arr > q->arr;
}

/* Read a requests CSV into *rows (sorted by arrival) and refuse requests
 * that overlap in time. The count, or -1 after an error. */
static long read_request_rows(csv *c, char names[][64], int nn, req_row **rows)
{
    static const char *const need[] = {"arrival_s", "first_token_s", "finish_s", "input_tokens",
                                       "output_tokens"};
    int idx[5];
    *rows = NULL;
    for (int k = 0; k < 5; k++)
        if ((idx[k] = find_col(c, names, nn, need[k])) < 0) {
            fprintf(stderr, "%s:1: error: a requests CSV needs the columns arrival_s, "
                            "first_token_s, finish_s, input_tokens, output_tokens "
                            "(cached_tokens optional); '%s' is missing\n", c->path, need[k]);
            return -1;
        }
    int icached = find_col(c, names, nn, "cached_tokens");
    req_row *sp = NULL;
    size_t ns = 0, cap = 0;
    int r;
    while ((r = csv_next(c)) > 0) {
        double v[5], cached = 0;
        for (int k = 0; k < 5; k++)
            if (num(c, idx[k], need[k], &v[k]))
                goto fail;
        if (icached >= 0 && num(c, icached, "cached_tokens", &cached))
            goto fail;
        double arr = v[0], first = v[1], fin = v[2], p0 = v[3], n = v[4];
        if (first < arr || fin < first || cached > p0 || n < 1 || p0 < 1) {
            fprintf(stderr, "%s:%ld: error: need arrival <= first token <= finish, 1 <= "
                            "output_tokens, cached_tokens <= input_tokens\n", c->path, c->line);
            goto fail;
        }
        if (ns == cap) {
            cap = cap ? 2 * cap : 256;
            req_row *nsp = realloc(sp, cap * sizeof *sp);
            if (!nsp) {
                fprintf(stderr, "memfab calibrate: out of memory\n");
                goto fail;
            }
            sp = nsp;
        }
        sp[ns++] = (req_row){arr, first, fin, p0, n, cached, c->line};
    }
    if (r < 0) {
        fprintf(stderr, "%s:%ld: error: line too long\n", c->path, c->line);
        goto fail;
    }
    qsort(sp, ns, sizeof *sp, by_start);
    size_t overlaps = 0;
    long first_bad = 0;
    for (size_t i = 1; i < ns; i++)
        if (sp[i].arr < sp[i - 1].fin) {
            if (!overlaps++)
                first_bad = sp[i].line;
        }
    if (overlaps) {
        fprintf(stderr, "%s:%ld: error: %zu of %zu requests overlap another in time; per-request "
                        "calibration needs requests measured one at a time (their steps are "
                        "then theirs alone). Fit measured steps instead.\n",
                c->path, first_bad, overlaps, ns);
        goto fail;
    }
    *rows = sp;
    return (long)ns;
fail:
    free(sp);
    return -1;
}

/* The GPU work of a lone request (memfab's scheduler, instance.c): its
 * P = input - cached uncached prompt tokens run in k = ceil(P / B) prefill
 * chunks of at most B = budget tokens, chunk i reading the o_i tokens
 * before it, and its N - 1 later tokens are one decode step each, step j
 * reading context p0 + j - 1. Coefficient rows of the two phases:
 *   prefill  {k, P, 0, sum o_i}
 *   decode   {N - 1, 0, N - 1, (N - 1) p0 + (N - 1)(N - 2) / 2} */
static void request_work(const req_row *q, double budget, double pre[NK], double dec[NK])
{
    double steps = 0, offsets = 0;
    for (double done = q->cached; done < q->p0; steps++) {
        offsets += done;
        done += fmin(budget, q->p0 - done);
    }
    pre[K_FIXED] = steps;
    pre[K_PREFILL] = q->p0 - q->cached;
    pre[K_DECODE] = 0;
    pre[K_CONTEXT] = offsets;
    double m = q->n - 1;
    dec[K_FIXED] = m;
    dec[K_PREFILL] = 0;
    dec[K_DECODE] = m;
    dec[K_CONTEXT] = m * q->p0 + m * (m - 1) / 2;
}

static int read_requests(csv *c, char names[][64], int nn, fit_data *d, double budget)
{
    req_row *rows;
    long ns = read_request_rows(c, names, nn, &rows);
    if (ns < 0)
        return -1;
    int rc = 1;   /* context is always a regressor here */
    for (long i = 0; i < ns && rc > 0; i++) {
        double xt[NK], xd[NK];
        request_work(&rows[i], budget, xt, xd);
        if ((xt[K_PREFILL] > 0 && add_row(d, xt, rows[i].first - rows[i].arr)) ||
            (rows[i].n >= 2 && add_row(d, xd, rows[i].fin - rows[i].first))) {
            fprintf(stderr, "memfab calibrate: out of memory\n");
            rc = -1;
        }
    }
    free(rows);
    return rc;
}

/* ---- the fit --------------------------------------------------------------- */

typedef struct fit_result {
    double c[MAXK], se[MAXK];
    int used[MAXK];       /* 1 fitted, 0 fixed at zero */
    double r2, rmse, max_rel;
} fit_result;

static int fit(const fit_data *d, const int *want, fit_result *out)
{
    const int nk = d->nk;
    int used[MAXK] = {0};
    memcpy(used, want, (size_t)nk * sizeof *used);
    for (;;) {
        size_t p = 0;
        int col[MAXK];
        for (int k = 0; k < nk; k++)
            if (used[k])
                col[p++] = k;
        if (p == 0 || d->n < p)
            return -1;
        gsl_matrix *X = gsl_matrix_alloc(d->n, p);
        gsl_vector *y = gsl_vector_alloc(d->n), *b = gsl_vector_alloc(p);
        gsl_matrix *cov = gsl_matrix_alloc(p, p);
        gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc(d->n, p);
        if (!X || !y || !b || !cov || !w) {
            gsl_matrix_free(X);
            gsl_vector_free(y);
            gsl_vector_free(b);
            gsl_matrix_free(cov);
            gsl_multifit_linear_free(w);
            return -1;
        }
        for (size_t i = 0; i < d->n; i++) {
            for (size_t j = 0; j < p; j++)
                gsl_matrix_set(X, i, j, d->x[i * (size_t)nk + (size_t)col[j]]);
            gsl_vector_set(y, i, d->y[i]);
        }
        double chisq;
        if (gsl_multifit_linear(X, y, b, cov, &chisq, w) != GSL_SUCCESS) {
            gsl_matrix_free(X);
            gsl_vector_free(y);
            gsl_vector_free(b);
            gsl_matrix_free(cov);
            gsl_multifit_linear_free(w);
            return -1;
        }
        int worst = -1;
        double worst_v = 0;
        for (size_t j = 0; j < p; j++)
            if (gsl_vector_get(b, j) < worst_v) {
                worst_v = gsl_vector_get(b, j);
                worst = col[j];
            }
        if (worst >= 0) {
            used[worst] = 0;   /* not a cost: fix at zero and refit */
        } else {
            memset(out, 0, sizeof *out);
            memcpy(out->used, used, sizeof used);
            for (size_t j = 0; j < p; j++) {
                out->c[col[j]] = gsl_vector_get(b, j);
                out->se[col[j]] = sqrt(gsl_matrix_get(cov, j, j));
            }
        }
        gsl_matrix_free(X);
        gsl_vector_free(y);
        gsl_vector_free(b);
        gsl_matrix_free(cov);
        gsl_multifit_linear_free(w);
        if (worst < 0)
            break;
    }
    double mean = 0, ss_tot = 0, ss_res = 0, max_rel = 0;
    for (size_t i = 0; i < d->n; i++)
        mean += d->y[i];
    mean /= (double)d->n;
    for (size_t i = 0; i < d->n; i++) {
        double f = 0;
        for (int k = 0; k < nk; k++)
            f += out->c[k] * d->x[i * (size_t)nk + (size_t)k];
        double e = d->y[i] - f;
        ss_res += e * e;
        ss_tot += (d->y[i] - mean) * (d->y[i] - mean);
        if (d->y[i] > 0 && fabs(e) / d->y[i] > max_rel)
            max_rel = fabs(e) / d->y[i];
    }
    out->r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 1;
    out->rmse = sqrt(ss_res / (double)d->n);
    out->max_rel = max_rel;
    return 0;
}

/* Seconds with a unit a scenario reads back exactly enough (ns resolution
 * is below any measured step; the value is printed with 6 significant
 * digits in the largest unit that keeps it >= 1). */
static void time_text(double s, char *buf, size_t n)
{
    if (s == 0)
        snprintf(buf, n, "0 s");
    else if (s >= 1)
        snprintf(buf, n, "%.6g s", s);
    else if (s >= 1e-3)
        snprintf(buf, n, "%.6g ms", s * 1e3);
    else if (s >= 1e-6)
        snprintf(buf, n, "%.6g us", s * 1e6);
    else if (s >= 1e-9)
        snprintf(buf, n, "%.6g ns", s * 1e9);
    else
        snprintf(buf, n, "%.0f ps", s * 1e12);
}

static int looks_like_coefficients(const unsigned char *head, size_t n)
{
    static const char tag[] = "# memfab step-time coefficients";
    return n >= sizeof tag - 1 && memcmp(head, tag, sizeof tag - 1) == 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: memfab calibrate FILE.csv [--requests | --cpu REQUESTS.csv]\n"
            "                        [--max-batched-tokens N] [-o OUT.yaml]\n"
            "\n"
            "Fit the linear step-time model of an llm_instance\n"
            "  step = step_fixed + step_per_prefill_token x prefill tokens\n"
            "       + step_per_decode_token x decode tokens + step_per_context_token x context read\n"
            "by least squares, report the fit and write the coefficients as YAML that an\n"
            "instance includes (step_time: linear, include: OUT.yaml).\n"
            "\n"
            "  (default)            FILE has one row per measured step: prefill_tokens,\n"
            "                       decode_tokens, [context_tokens,] step_time_s|_ms|_us\n"
            "  --requests           FILE has one row per request measured alone: arrival_s,\n"
            "                       first_token_s, finish_s, input_tokens, output_tokens,\n"
            "                       [cached_tokens]\n"
            "  --cpu REQUESTS.csv   with a steps FILE: also fit the per-request CPU costs\n"
            "                       (cpu_per_request, cpu_per_input_token,\n"
            "                       cpu_per_output_token) from requests measured alone\n"
            "                       (columns as for --requests), given the steps' GPU fit\n"
            "  --max-batched-tokens N  the engine's token budget per step (--requests, --cpu;\n"
            "                       8192)\n"
            "  -o, --output OUT     write the coefficients (never over an input or a file of\n"
            "                       another kind)\n"
            "  -h, --help           this help\n"
            "\n"
            "exit status: 0 ok, 1 I/O failure, 2 bad input\n");
}

/* Print one fit's coefficients and errors. */
static void print_fit(const char *const *keys, int nk, const int *want, const fit_result *fr)
{
    for (int k = 0; k < nk; k++) {
        char v[48], se[48];
        time_text(fr->c[k], v, sizeof v);
        time_text(fr->se[k], se, sizeof se);
        if (fr->used[k])
            printf("  %-24s %-14s +/- %s\n", keys[k], v, se);
        else
            printf("  %-24s 0 s            (%s)\n", keys[k],
                   want[k] ? "fixed at zero: the fit made it negative" : "not in the data");
    }
    printf("  R^2 %.6f, RMS error %.4g s, largest relative error %.3g %%\n", fr->r2, fr->rmse,
           100 * fr->max_rel);
}

static double dot(const double *c, const double *x, int n)
{
    double s = 0;
    for (int k = 0; k < n; k++)
        s += c[k] * x[k];
    return s;
}

/* R^2, RMS and largest relative error of the CPU fit over one family of
 * its equations: the TTFT ones (first column 1) or the decode ones (0). */
static void family_stats(const fit_data *d, const fit_result *fr, int ttft, fit_result *o)
{
    double mean = 0, ss_tot = 0, ss_res = 0;
    size_t n = 0;
    o->max_rel = 0;
    for (size_t i = 0; i < d->n; i++)
        if ((d->x[i * NA] == 1) == ttft) {
            mean += d->y[i];
            n++;
        }
    mean /= n ? (double)n : 1;
    for (size_t i = 0; i < d->n; i++) {
        if ((d->x[i * NA] == 1) != ttft)
            continue;
        double e = d->y[i] - dot(fr->c, d->x + i * NA, NA);
        ss_res += e * e;
        ss_tot += (d->y[i] - mean) * (d->y[i] - mean);
        if (d->y[i] > 0 && fabs(e) / d->y[i] > o->max_rel)
            o->max_rel = fabs(e) / d->y[i];
    }
    o->r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 1;
    o->rmse = n ? sqrt(ss_res / (double)n) : 0;
}

/* The CPU fit (--cpu FILE): each lone request's measured phases less the
 * GPU time the step fit `gpu` gives its steps (request_work):
 *   TTFT          - GPU prefill  = alpha0 + alpha1 x input + alpha2
 *   finish - first - GPU decode  = (N - 1) alpha2
 * rows {1, input, 1} and {0, 0, N - 1} of one least-squares system. 0, or
 * an exit status after an error. */
static int fit_cpu(const char *path, const fit_result *gpu, double budget, fit_data *cd,
                   fit_result *cr)
{
    csv c = {.path = path};
    c.f = fopen(path, "r");
    if (!c.f) {
        fprintf(stderr, "memfab calibrate: %s: %s\n", path, strerror(errno));
        return SIM_EXIT_RUNTIME;
    }
    char names[MAXCOL][64];
    int status = SIM_EXIT_USAGE;
    req_row *rows = NULL;
    int nn = 0;
    if (read_header(&c, names, &nn))
        goto out;
    long ns = read_request_rows(&c, names, nn, &rows);
    if (ns < 0)
        goto out;
    double len0 = -1;
    int lengths = 0, decodes = 0;
    for (long i = 0; i < ns; i++) {
        const req_row *q = &rows[i];
        double pre[NK], dec[NK];
        request_work(q, budget, pre, dec);
        if (pre[K_PREFILL] > 0) {
            double x[NA] = {1, q->p0, 1};
            if (add_row(cd, x, (q->first - q->arr) - dot(gpu->c, pre, NK)))
                goto oom;
            if (lengths < 2 && q->p0 != len0) {
                lengths++;
                len0 = q->p0;
            }
        }
        if (q->n >= 2) {
            double x[NA] = {0, 0, q->n - 1};
            if (add_row(cd, x, (q->fin - q->first) - dot(gpu->c, dec, NK)))
                goto oom;
            decodes++;
        }
    }
    if (lengths < 2 || !decodes || cd->n < NA + 1) {
        fprintf(stderr, "%s: error: the CPU fit needs requests of at least two prompt lengths "
                        "(to tell %s from %s), some with 2 or more output tokens (to tell %s "
                        "from %s) and %d equations at least; it has %zu\n",
                path, cpu_key[A_INPUT], cpu_key[A_REQUEST], cpu_key[A_OUTPUT],
                cpu_key[A_REQUEST], NA + 1, cd->n);
        goto out;
    }
    static const int want[NA] = {1, 1, 1};
    if (fit(cd, want, cr) < 0) {
        fprintf(stderr, "%s: error: the CPU fit failed\n", path);
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    status = SIM_EXIT_OK;
    goto out;
oom:
    fprintf(stderr, "memfab calibrate: out of memory\n");
    status = SIM_EXIT_RUNTIME;
out:
    free(rows);
    fclose(c.f);
    return status;
}

int cmd_calibrate(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *cpu = NULL;
    int requests = 0;
    double budget = 8192;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return SIM_EXIT_OK;
        } else if (!strcmp(a, "--requests")) {
            requests = 1;
        } else if (!strcmp(a, "--cpu") && i + 1 < argc) {
            cpu = argv[++i];
        } else if (!strcmp(a, "--max-batched-tokens") && i + 1 < argc) {
            char *end;
            budget = strtod(argv[++i], &end);
            if (*end || !(budget >= 1) || budget != floor(budget)) {
                fprintf(stderr, "memfab calibrate: --max-batched-tokens takes a whole number >= 1\n");
                return SIM_EXIT_USAGE;
            }
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "memfab calibrate: unknown option or missing value '%s'\n", a);
            usage(stderr);
            return SIM_EXIT_USAGE;
        } else if (!in) {
            in = a;
        } else {
            fprintf(stderr, "memfab calibrate: unexpected argument '%s'\n", a);
            return SIM_EXIT_USAGE;
        }
    }
    if (!in) {
        usage(stderr);
        return SIM_EXIT_USAGE;
    }
    if (cpu && requests) {
        fprintf(stderr, "memfab calibrate: --cpu takes the GPU coefficients from a steps file; "
                        "--requests assumes no CPU costs (see --help)\n");
        return SIM_EXIT_USAGE;
    }
    gsl_set_error_handler_off();   /* failures are return codes, handled below */
    sim_err err;
    sim_err_clear(&err);
    const char *inputs[2] = {in, cpu};
    if (out && safe_out_check(out, inputs, cpu ? 2 : 1, looks_like_coefficients,
                              "step-time coefficients", &err) < 0) {
        sim_err_print(&err);
        return SIM_EXIT_USAGE;
    }
    csv c = {.path = in};
    c.f = fopen(in, "r");
    if (!c.f) {
        fprintf(stderr, "memfab calibrate: %s: %s\n", in, strerror(errno));
        return SIM_EXIT_RUNTIME;
    }
    fit_data d = {.nk = NK}, cd = {.nk = NA};
    int status = SIM_EXIT_USAGE, have_context = -1;
    char names[MAXCOL][64];
    int nn = 0;
    if (read_header(&c, names, &nn))
        goto done;
    have_context = requests ? read_requests(&c, names, nn, &d, budget)
                            : read_steps(&c, names, nn, &d);
    if (have_context < 0)
        goto done;
    int want[NK] = {1, 1, 1, have_context};
    size_t np = 3 + (size_t)have_context;
    if (d.n < np + 1) {
        fprintf(stderr, "%s: error: %zu equations for %zu coefficients: too few to fit\n", in,
                d.n, np);
        goto done;
    }
    fit_result fr, cr;
    if (fit(&d, want, &fr) < 0) {
        fprintf(stderr, "%s: error: the fit failed (the columns may not vary)\n", in);
        status = SIM_EXIT_RUNTIME;
        goto done;
    }
    if (cpu && (status = fit_cpu(cpu, &fr, budget, &cd, &cr)) != SIM_EXIT_OK)
        goto done;
    printf("file: %s (%zu %s)\n", in, d.n, requests ? "equations from requests" : "steps");
    print_fit(coef_key, NK, want, &fr);
    if (cpu) {
        static const int cwant[NA] = {1, 1, 1};
        printf("cpu: %s (%zu equations: each request's TTFT and decode phase less the GPU time "
               "of its steps above)\n", cpu, cd.n);
        print_fit(cpu_key, NA, cwant, &cr);
        static const char *const fam[2] = {"decode phases (finish - first token)",
                                           "TTFTs (first token - arrival)"};
        for (int t = 1; t >= 0; t--) {
            fit_result fs;
            family_stats(&cd, &cr, t, &fs);
            printf("    %-37s R^2 %.6f, RMS error %.4g s, largest relative error %.3g %%\n",
                   fam[t], fs.r2, fs.rmse, 100 * fs.max_rel);
        }
    }
    status = SIM_EXIT_OK;
    if (out) {
        safe_out o;
        if (safe_out_open(&o, out, &err) < 0) {
            sim_err_print(&err);
            status = SIM_EXIT_RUNTIME;
            goto done;
        }
        fprintf(o.f, "# memfab step-time coefficients, fitted by `memfab calibrate` from %s\n"
                     "# (%zu %s): R^2 %.6f, RMS error %.4g s, largest relative error %.3g %%.\n",
                in, d.n, requests ? "equations from requests" : "steps", fr.r2, fr.rmse,
                100 * fr.max_rel);
        if (cpu)
            fprintf(o.f, "# CPU costs from %s (%zu equations): R^2 %.6f, RMS error %.4g s, "
                         "largest relative error %.3g %%.\n",
                    cpu, cd.n, cr.r2, cr.rmse, 100 * cr.max_rel);
        fprintf(o.f, "# Include in an llm_instance: {..., include: THIS_FILE}\n"
                     "step_time: linear\n");
        for (int k = 0; k < NK; k++) {
            char v[48];
            time_text(fr.c[k], v, sizeof v);
            fprintf(o.f, "%s: %s\n", coef_key[k], v);
        }
        for (int k = 0; cpu && k < NA; k++) {
            char v[48];
            time_text(cr.c[k], v, sizeof v);
            fprintf(o.f, "%s: %s\n", cpu_key[k], v);
        }
        if (safe_out_commit(&o, &err) < 0) {
            sim_err_print(&err);
            status = SIM_EXIT_RUNTIME;
        }
    }
done:
    fclose(c.f);
    free(d.x);
    free(d.y);
    free(cd.x);
    free(cd.y);
    if (fflush(stdout) != 0)
        status = SIM_EXIT_RUNTIME;
    return status;
}
