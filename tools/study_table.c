/*
 * study_table.c - the table, cells and figures of memfab study (study.h).
 *
 * A row is a pair on one scenario. Its two runs are the complete runs of
 * that scenario (runs.name) whose sweep.<key> params hold, for every switch
 * key of the scenario, the value of the row's side: the on run has every
 * switch on; the off run has the row's switch keys off and the others on.
 * The latest such run is used.
 *
 * Cells list "label: OFF -> ON (change)" per metric, where a metric is the
 * sum of a run's metrics that match its SCOPE/NAME glob (fnmatch, so `*`
 * also crosses the '/'); a metric that matches nothing in a run prints
 * "n/a (metric X not reported)". cells.tsv keeps the numbers (%.10g) for
 * scripts and the regression suite.
 */
#include "tools/study.h"

#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "results/res.h"
#include "sim/mem.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/plot.h"
#include "tools/study_int.h"

int study_params_differ(const rdb_run *a, const rdb_run *b, const char *const *keys, size_t n,
                        char *msg, size_t len)
{
    size_t i = 0, j = 0, bad = 0, ml = 0;
    msg[0] = '\0';
    /* both params arrays are sorted by key: merge them */
    while (i < a->nparams || j < b->nparams) {
        int c = i >= a->nparams   ? 1
                : j >= b->nparams ? -1
                                  : strcmp(a->params[i].key, b->params[j].key);
        const char *key = c <= 0 ? a->params[i].key : b->params[j].key;
        const char *va = c <= 0 ? a->params[i].value : "(absent)";
        const char *vb = c >= 0 ? b->params[j].value : "(absent)";
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
        if (strcmp(va, vb) == 0 || strncmp(key, "sweep.", 6) == 0)
            continue;
        int allowed = 0;
        for (size_t k = 0; k < n && !allowed; k++)
            allowed = strcmp(keys[k], key) == 0;
        if (allowed)
            continue;
        if (bad++ < 4 && ml < len)
            ml += (size_t)snprintf(msg + ml, len - ml, "%s%s: '%s' vs '%s'", bad > 1 ? "; " : "",
                                   key, va, vb);
    }
    if (bad > 4 && ml < len)
        snprintf(msg + ml, len - ml, "; and %zu more", bad - 4);
    return bad ? SIM_EINVAL : 0;
}

size_t study_metric_sum(const rdb_run *r, const char *glob, double *sum, const char **unit)
{
    size_t n = 0;
    *sum = 0;
    if (unit)
        *unit = "";
    for (size_t i = 0; i < r->nmetrics; i++) {
        const rdb_metric *m = &r->metrics[i];
        if (fnmatch(glob, m->name, 0) != 0 || isnan(m->value))
            continue;
        if (!n && unit)
            *unit = m->unit;
        *sum += m->value;
        n++;
    }
    return n;
}

/* ---- finding a row's runs -------------------------------------------------- */

/* The latest complete run of scenario `name` whose sweep.<key> params are
 * keys[k] = vals[k] for every k, or NULL; with `without` (the capacity
 * search's load key), only runs that have no sweep.<without> param (the
 * table's runs, not the capacity points). */
static rdb_run *find_run(rdb_set *set, const char *name, const char **keys, const char **vals,
                         size_t n, const char *without)
{
    rdb_run *best = NULL;
    char wkey[1024];
    if (without)
        snprintf(wkey, sizeof wkey, "sweep.%s", without);
    for (size_t i = 0; i < set->n; i++) {
        rdb_run *r = &set->runs[i];
        if (strcmp(r->name, name) || strcmp(r->status, "complete"))
            continue;
        if (without && rdb_param_get(r, wkey))
            continue;
        size_t k = 0;
        for (; k < n; k++) {
            char key[1024];
            snprintf(key, sizeof key, "sweep.%s", keys[k]);
            const char *v = rdb_param_get(r, key);
            if (!v || strcmp(v, vals[k]))
                break;
        }
        if (k == n)
            best = r;
    }
    return best;
}

/* A side's capacity (the capacity search, study_int.h): ok, or why not. */
typedef struct cap_side {
    int ok;
    double rate;                /* the sustained rate of the run's GPUs, 1/s */
    char rate_text[64];         /* ... as the table prints it */
    double gpus;                /* GPUs of the cluster (matches of cap.gpus) */
    double needed;              /* GPUs for the target load */
    rdb_run *at;                /* bisection: the run of the answer */
    char why[256];              /* n/a: the reason */
} cap_side;

typedef struct row_runs {
    rdb_run *on, *off;
    cap_side cap[2];            /* 0 on, 1 off */
    int has_cap;                /* the row is on the capacity scenario */
} row_runs;

/* The GPUs a sustained rate needs for the load: capacity per GPU is
 * rate / gpus, so ceil(load / (rate / gpus)); a quotient within 1e-9 of an
 * integer is that integer (the rates are decimal text). */
static double gpus_needed(double load, double rate, double gpus)
{
    double x = load * gpus / rate, r = round(x);
    return fabs(x - r) <= 1e-9 * x ? r : ceil(x);
}

/* The capacity of one side of a row: its grid of runs (the side's switch
 * values v[0..nk), the load key at each rate, the fixed keys), each
 * checked against the other side's run at the same rate (only the row's
 * switch may differ); the sustained rate is the highest rate below the
 * first that misses the target. A grid run missing is an error (resume);
 * a target no probed rate reaches, a grid that never misses it, or a run
 * without the metrics is n/a with its reason. */
static int cap_eval(const study *st, const st_capacity *c, sqlite3 *h, rdb_set *set,
                    const st_row *row, const char **keys, const char **v, size_t nk,
                    rdb_run **grid, cap_side *out, sim_err *err)
{
    const st_scen *sc = &st->scen[row->scen];
    size_t n = nk + 1 + c->nset;
    const char **k2 = sim_calloc(n + 1, sizeof *k2), **v2 = sim_calloc(n + 1, sizeof *v2);
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!k2 || !v2) {
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < nk; k++) {
        k2[k] = keys[k];
        v2[k] = v[k];
    }
    k2[nk] = c->key;
    for (size_t k = 0; k < c->nset; k++) {
        k2[nk + 1 + k] = c->set_keys[k];
        v2[nk + 1 + k] = c->set_vals[k];
    }
    long first_miss = -1;
    double miss_att = 0;
    for (size_t i = 0; i < c->nrates; i++) {
        v2[nk] = c->rates[i];
        rdb_run *x = find_run(set, sc->name, k2, v2, n, NULL);
        if (!x) {
            rc = sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "pair '%s' on scenario '%s': no "
                             "complete capacity run at %s=%s in the database (run the study "
                             "again to resume)", row->pair->id, sc->label, c->key, c->rates[i]);
            goto done;
        }
        if (!x->metrics && (rc = rdb_load_metrics(h, x, err)))
            goto done;
        grid[i] = x;
        double att;
        if (!study_metric_sum(x, c->metric, &att, NULL)) {
            snprintf(out->why, sizeof out->why, "metric %s not reported at %s", c->metric,
                     c->rates[i]);
            goto done;
        }
        if (first_miss < 0 && att < c->target) {
            first_miss = (long)i;
            miss_att = att;
        }
    }
    if (first_miss == 0) {
        snprintf(out->why, sizeof out->why, "no probed rate reaches %s SLO attainment: the "
                 "lowest, %s, reaches %.1f%%", c->target_text, c->rates[0], 100 * miss_att);
        goto done;
    }
    if (first_miss < 0) {
        snprintf(out->why, sizeof out->why, "every probed rate up to %s meets %s SLO "
                 "attainment: the grid does not bracket the capacity", c->rates[c->nrates - 1],
                 c->target_text);
        goto done;
    }
    size_t ri = (size_t)first_miss - 1;
    double g;
    size_t ng = study_metric_sum(grid[ri], c->gpus, &g, NULL);
    if (!ng) {
        snprintf(out->why, sizeof out->why, "no GPU reports %s", c->gpus);
        goto done;
    }
    out->gpus = (double)ng;
    out->rate = c->rate_v[ri];
    snprintf(out->rate_text, sizeof out->rate_text, "%s", c->rates[ri]);
    out->needed = gpus_needed(c->load, c->rate_v[ri], out->gpus);
    out->ok = 1;
done:
    sim_free(k2);
    sim_free(v2);
    return rc;
}

/* ---- the bisection over the GPU count ------------------------------------------ */

void study_bisect_value(const st_capacity *c, long n, double r0, double g, char *buf, size_t len)
{
    snprintf(buf, len, "%.10g", (double)n * r0 / (c->load * g));
}

/* The offered rate of run id: (requests - 1) / (last arrival - first
 * arrival), 1/s; 0 when it has fewer than two requests or one instant. */
static int offered_rate(sqlite3 *h, int64_t id, double *r0, sim_err *err)
{
    sqlite3_stmt *q = NULL;
    *r0 = 0;
    if (sqlite3_prepare_v2(h, "SELECT count(*), min(arrival_ps), max(arrival_ps) FROM requests "
                           "WHERE run_id = ?", -1, &q, NULL) != SQLITE_OK)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "study database: %s", sqlite3_errmsg(h));
    sqlite3_bind_int64(q, 1, id);
    if (sqlite3_step(q) == SQLITE_ROW) {
        sqlite3_int64 n = sqlite3_column_int64(q, 0);
        sqlite3_int64 a = sqlite3_column_int64(q, 1), b = sqlite3_column_int64(q, 2);
        if (n >= 2 && b > a)
            *r0 = (double)(n - 1) / ((double)(b - a) * 1e-12);
    }
    sqlite3_finalize(q);
    return 0;
}

typedef struct bis_ctx {
    const st_capacity *c;
    sqlite3 *h;
    rdb_set *set;
    const char *name;          /* the scenario's runs.name */
    const char **k2, **v2;     /* the point's keys: switches, load key (at nk), set */
    size_t n, nk;
    double r0, g;
    char val[64];
    rdb_run *last;             /* the run of the last count probed */
    char (*seen)[64];          /* the values of the counts probed and found */
    size_t nseen;
    int rc;                    /* an error of rdb_load_metrics */
    sim_err *err;
} bis_ctx;

static int bis_probe(void *ctx, long n)
{
    bis_ctx *b = ctx;
    study_bisect_value(b->c, n, b->r0, b->g, b->val, sizeof b->val);
    b->v2[b->nk] = b->val;
    b->last = find_run(b->set, b->name, b->k2, b->v2, b->n, NULL);
    if (!b->last || b->rc)
        return -1;
    size_t i = 0;
    while (b->seen && i < b->nseen && strcmp(b->seen[i], b->val))
        i++;
    if (b->seen && i == b->nseen && b->nseen < ST_BIS_MAX) /* hi is probed twice */
        snprintf(b->seen[b->nseen++], sizeof *b->seen, "%s", b->val);
    if (!b->last->metrics && (b->rc = rdb_load_metrics(b->h, b->last, b->err)))
        return -1;
    double att;
    /* a run without the metric met no target */
    return study_metric_sum(b->last, b->c->metric, &att, NULL) && att >= b->c->target;
}

/* A side's bisection: out filled when decided (ok, or n/a with the
 * reason), else *need set with the load key's value to run next. */
static int bis_side(const study *st, const st_capacity *c, sqlite3 *h, rdb_set *set,
                    const char **keys, const char **v, size_t nk, cap_side *out, int *need,
                    char *value, size_t len, char (*seen)[64], size_t *nseen, sim_err *err)
{
    const st_scen *sc = &st->scen[c->scen];
    size_t n = nk + 1 + c->nset;
    const char **k2 = sim_calloc(n + 1, sizeof *k2), **v2 = sim_calloc(n + 1, sizeof *v2);
    const char **on = sim_calloc(nk + 1, sizeof *on), **off = sim_calloc(nk + 1, sizeof *off);
    const char **ks = sim_calloc(nk + 1, sizeof *ks);
    int rc = 0;
    memset(out, 0, sizeof *out);
    *need = 0;
    if (!k2 || !v2 || !on || !off || !ks) {
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    /* the probe: every switch on, the time scale 1 */
    study_scen_keys(st, c->scen, ks, on, off, nk);
    for (size_t k = 0; k < nk; k++) {
        k2[k] = keys[k];
        v2[k] = on[k];
    }
    k2[nk] = c->key;
    v2[nk] = "1";
    for (size_t k = 0; k < c->nset; k++) {
        k2[nk + 1 + k] = c->set_keys[k];
        v2[nk + 1 + k] = c->set_vals[k];
    }
    rdb_run *probe = find_run(set, sc->name, k2, v2, n, NULL);
    if (!probe) {
        *need = 2;
        snprintf(value, len, "1");
        goto done;
    }
    if (!probe->metrics && (rc = rdb_load_metrics(h, probe, err)))
        goto done;
    bis_ctx b = {.c = c, .h = h, .set = set, .name = sc->name, .k2 = k2, .v2 = v2, .n = n,
                 .nk = nk, .seen = seen, .err = err};
    if ((rc = offered_rate(h, probe->id, &b.r0, err)))
        goto done;
    double gs;
    b.g = (double)study_metric_sum(probe, c->gpus, &gs, NULL);
    ((st_capacity *)c)->r0 = b.r0;
    ((st_capacity *)c)->g = b.g;
    if (!(b.r0 > 0) || !(b.g > 0)) {
        snprintf(out->why, sizeof out->why, "the probe run %lld has %s", (long long)probe->id,
                 b.g > 0 ? "no arrival span (fewer than two requests)" : "no GPU metric");
        goto done;
    }
    for (size_t k = 0; k < nk; k++)
        v2[k] = v[k];
    long ans;
    int r = study_bisect(c->gmin, c->gmax, bis_probe, &b, &ans);
    if (nseen)
        *nseen = b.nseen;
    if ((rc = b.rc))
        goto done;
    out->gpus = b.g;
    if (r == 0) {
        *need = 1;
        study_bisect_value(c, ans, b.r0, b.g, value, len);
    } else if (r < 0) {
        snprintf(out->why, sizeof out->why, "%ld GPUs, the top of the range, miss %s SLO "
                 "attainment", c->gmax, c->target_text);
    } else if (ans == c->gmin && c->gmin > 1) {
        snprintf(out->why, sizeof out->why, "%ld GPUs, the bottom of the range, meet %s SLO "
                 "attainment: the range does not bracket the answer", c->gmin, c->target_text);
    } else {
        out->ok = 1;
        out->needed = (double)ans;
        out->rate = c->load * b.g / (double)ans;
        out->at = b.last;
        snprintf(out->rate_text, sizeof out->rate_text, "%.4g/s", out->rate);
    }
done:
    sim_free(k2);
    sim_free(v2);
    sim_free(on);
    sim_free(off);
    sim_free(ks);
    return rc;
}

int study_bisect_next(const study *st, const st_capacity *c, sqlite3 *h, rdb_set *set,
                      const char **keys, const char **v, size_t nk, int *need, char *value,
                      size_t len, char (*seen)[64], size_t *nseen, sim_err *err)
{
    cap_side side;
    *nseen = 0;
    return bis_side(st, c, h, set, keys, v, nk, &side, need, value, len, seen, nseen, err);
}

static int find_rows(const study *st, sqlite3 *h, rdb_set *set, row_runs *rr, sim_err *err)
{
    const char **keys = sim_calloc(st->nswitch + 1, sizeof *keys);
    const char **on = sim_calloc(st->nswitch + 1, sizeof *on);
    const char **off = sim_calloc(st->nswitch + 1, sizeof *off);
    const char **v = sim_calloc(st->nswitch + 1, sizeof *v);
    size_t maxr = 0;
    for (size_t i = 0; i < st->ncap; i++)
        maxr = st->caps[i].nrates > maxr ? st->caps[i].nrates : maxr;
    rdb_run **grid[2] = {sim_calloc(maxr + 1, sizeof **grid), sim_calloc(maxr + 1, sizeof **grid)};
    int rc = 0;
    if (!keys || !on || !off || !v || !grid[0] || !grid[1])
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t r = 0; !rc && r < st->nrows; r++) {
        const st_row *row = &st->rows[r];
        memset(grid[0], 0, (maxr + 1) * sizeof **grid);
        memset(grid[1], 0, (maxr + 1) * sizeof **grid);
        const st_scen *sc = &st->scen[row->scen];
        const st_capacity *c = study_cap_of(st, row->scen);
        size_t nk = study_scen_keys(st, row->scen, keys, on, off, st->nswitch);
        for (int side = 0; side < 2 && !rc; side++) {
            for (size_t k = 0; k < nk; k++) {
                v[k] = on[k];
                for (size_t j = 0; side == 1 && j < row->nkeys; j++)
                    if (strcmp(row->keys[j], keys[k]) == 0)
                        v[k] = row->off[j];
            }
            rdb_run *x = find_run(set, sc->name, keys, v, nk, c ? c->key : NULL);
            if (!x) {
                rc = sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                                 "pair '%s' on scenario '%s': no complete %s run in the "
                                 "database (run the study again to resume)",
                                 row->pair->id, sc->label, side ? "off" : "on");
                break;
            }
            if (!x->metrics && (rc = rdb_load_metrics(h, x, err)))
                break;
            if (side)
                rr[r].off = x;
            else
                rr[r].on = x;
            if (c && !c->bisect) {
                rr[r].has_cap = 1;
                rc = cap_eval(st, c, h, set, row, keys, v, nk, grid[side], &rr[r].cap[side],
                              err);
            } else if (c) {
                int need = 0;
                char value[64];
                rr[r].has_cap = 1;
                rc = bis_side(st, c, h, set, keys, v, nk, &rr[r].cap[side], &need, value,
                              sizeof value, NULL, NULL, err);
                if (!rc && need)
                    rc = sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "pair '%s' on scenario '%s':"
                                     " its capacity bisection is not done (no complete run at "
                                     "%s=%s in the database; run the study again to resume)",
                                     row->pair->id, sc->label, c->key, value);
            }
        }
        /* the bisection's answers of the two sides differ in the row's
         * switch and the load key only */
        const cap_side *bs = rr[r].cap;
        if (!rc && c && c->bisect && bs[0].at && bs[1].at) {
            const char **ak = sim_calloc(row->nkeys + 2, sizeof *ak);
            char msg[1024];
            if (!ak) {
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                break;
            }
            for (size_t k = 0; k < row->nkeys; k++)
                ak[k] = row->keys[k];
            ak[row->nkeys] = c->key;
            if (study_params_differ(bs[0].at, bs[1].at, ak, row->nkeys + 1, msg, sizeof msg))
                rc = sim_err_set(err, SIM_EINVAL, st->file, 0, 0,
                                 "pair '%s' on scenario '%s': its capacity runs (%lld on, %lld "
                                 "off) differ in more than the pair's switch and %s: %s",
                                 row->pair->id, sc->label, (long long)bs[0].at->id,
                                 (long long)bs[1].at->id, c->key, msg);
            sim_free(ak);
        }
        /* the capacity points of the two sides differ in the row's switch only */
        for (size_t i = 0; !rc && c && !c->bisect && i < c->nrates; i++) {
            char msg[1024];
            if (grid[0][i] && grid[1][i] &&
                study_params_differ(grid[0][i], grid[1][i], row->keys, row->nkeys, msg,
                                    sizeof msg))
                rc = sim_err_set(err, SIM_EINVAL, st->file, 0, 0,
                                 "pair '%s' on scenario '%s': its capacity runs at %s (%lld on, "
                                 "%lld off) differ in more than the pair's switch: %s",
                                 row->pair->id, sc->label, c->rates[i],
                                 (long long)grid[0][i]->id, (long long)grid[1][i]->id, msg);
        }
        if (rc)
            break;
        char msg[1024];
        if (study_params_differ(rr[r].on, rr[r].off, row->keys, row->nkeys, msg, sizeof msg)) {
            rc = sim_err_set(err, SIM_EINVAL, st->file, 0, 0,
                             "pair '%s' on scenario '%s': its runs (%lld on, %lld off) differ in "
                             "more than the pair's switch (%s%s): %s",
                             row->pair->id, sc->label, (long long)rr[r].on->id,
                             (long long)rr[r].off->id, row->keys[0],
                             row->nkeys > 1 ? ", ..." : "", msg);
        }
    }
    sim_free(keys);
    sim_free(on);
    sim_free(off);
    sim_free(v);
    sim_free(grid[0]);
    sim_free(grid[1]);
    return rc;
}

/* ---- cells -------------------------------------------------------------------- */

enum { FMT_MD, FMT_TEX };

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *t, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *ns = sim_realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* Text for a format: Markdown escapes '|' (a cell delimiter); LaTeX escapes
 * its specials. */
static void sb_text(sbuf *b, const char *t, int fmt)
{
    for (; *t; t++) {
        const char *rep = NULL;
        char one[2] = {*t, 0};
        if (fmt == FMT_MD && *t == '|')
            rep = "\\|";
        else if (fmt == FMT_MD && *t == '\n')
            rep = " ";
        else if (fmt == FMT_TEX) {
            switch (*t) {
            case '\\': rep = "\\textbackslash{}"; break;
            case '&': rep = "\\&"; break;
            case '%': rep = "\\%"; break;
            case '$': rep = "\\$"; break;
            case '#': rep = "\\#"; break;
            case '_': rep = "\\_"; break;
            case '{': rep = "\\{"; break;
            case '}': rep = "\\}"; break;
            case '~': rep = "\\textasciitilde{}"; break;
            case '^': rep = "\\textasciicircum{}"; break;
            case '\n': rep = " "; break;
            default: break;
            }
        }
        if (rep)
            sb_put(b, rep, strlen(rep));
        else
            sb_put(b, one, 1);
    }
}

static void sb_fmt(sbuf *b, int fmt, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void sb_fmt(sbuf *b, int fmt, const char *f, ...)
{
    char t[1024];
    va_list ap;
    va_start(ap, f);
    vsnprintf(t, sizeof t, f, ap);
    va_end(ap);
    sb_text(b, t, fmt);
}

/* The relative change from off to on, as text. */
static void change_text(char *buf, size_t n, double off, double on)
{
    if (off == on)
        snprintf(buf, n, "unchanged");
    else if (off != 0)
        snprintf(buf, n, "%+.1f%%", 100.0 * (on - off) / fabs(off));
    else
        snprintf(buf, n, "from 0");
}

/* One metric of a row into a cell (and a line of cells.tsv). */
static void cell_metric(sbuf *b, int fmt, const st_metric *m, const rdb_run *on,
                        const rdb_run *off, FILE *tsv, const char *pair, const char *scen,
                        const char *col)
{
    double von, voff;
    const char *uon, *uoff;
    size_t non = study_metric_sum(on, m->glob, &von, &uon);
    size_t noff = study_metric_sum(off, m->glob, &voff, &uoff);
    if (m->absent_zero && (non || noff)) { /* declared: not reported means none */
        if (!non)
            uon = uoff;
        if (!noff)
            uoff = uon;
        non = noff = 1;
    }
    if (!non || !noff) {
        sb_text(b, m->label, fmt);
        sb_fmt(b, fmt, ": n/a (metric %s not reported%s)", m->glob,
               non == noff ? "" : non ? " by the off run" : " by the on run");
        if (tsv)
            fprintf(tsv, "%s\t%s\t%s\t%s\t%s\tn/a\tn/a\t\tn/a\n", pair, scen, col, m->label,
                    m->glob);
        return;
    }
    char a[64], z[64], ch[64];
    const char *name = strrchr(m->glob, '/') + 1;
    human_value(a, sizeof a, voff, uoff, name);
    human_value(z, sizeof z, von, uon, name);
    change_text(ch, sizeof ch, voff, von);
    sb_text(b, m->label, fmt);
    sb_text(b, ": ", fmt);
    sb_text(b, a, fmt);
    if (fmt == FMT_TEX)
        sb_put(b, " $\\to$ ", 7);
    else
        sb_put(b, " \xe2\x86\x92 ", 5);
    sb_text(b, z, fmt);
    sb_fmt(b, fmt, " (%s)", ch);
    if (tsv)
        fprintf(tsv, "%s\t%s\t%s\t%s\t%s\t%.10g\t%.10g\t%s\tok\n", pair, scen, col, m->label,
                m->glob, voff, von, uon);
}

static void cell_list(sbuf *b, int fmt, const st_metric *ms, size_t n, const rdb_run *on,
                      const rdb_run *off, FILE *tsv, const char *pair, const char *scen,
                      const char *col)
{
    if (!n)
        sb_text(b, "(none listed)", fmt);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_put(b, fmt == FMT_TEX ? " \\newline " : "<br>", fmt == FMT_TEX ? 10 : 4);
        cell_metric(b, fmt, &ms[i], on, off, tsv, pair, scen, col);
    }
}

static void sb_arrow(sbuf *b, int fmt)
{
    if (fmt == FMT_TEX)
        sb_put(b, " $\\to$ ", 7);
    else
        sb_put(b, " \xe2\x86\x92 ", 5);
}

/* The capacity line of a row's effect cell (and its lines of cells.tsv):
 * the GPUs each side needs for the target load of its scenario's search,
 * and the sustained rate of the run's GPUs they come from; n/a with the
 * reason where there is none. */
static void cell_capacity(const study *st, const st_row *row, const row_runs *rr, sbuf *b,
                          int fmt, FILE *tsv)
{
    const st_capacity *c = study_cap_of(st, row->scen);
    const char *pair = row->pair->id, *scen = st->scen[row->scen].label;
    char lab[256];
    if (c)
        snprintf(lab, sizeof lab, "GPUs for %s %s (SLO attainment >= %s)", c->load_text,
                 c->unit, c->target_text);
    else
        snprintf(lab, sizeof lab, "GPUs for a target load");
    sb_text(b, lab, fmt);
    sb_text(b, ": ", fmt);
    if (!rr->has_cap) {
        const char *why = NULL;
        for (size_t k = 0; k < st->ncap; k++)
            for (size_t i = 0; i < st->caps[k].nna && !why; i++)
                if (strcmp(st->caps[k].na_scen[i], scen) == 0)
                    why = st->caps[k].na_why[i];
        sb_fmt(b, fmt, "n/a (%s)", why ? why : "no capacity search runs on this scenario");
        if (tsv) {
            fprintf(tsv, "%s\t%s\teffect\tsustained rate\tcapacity/rate\tn/a\tn/a\t\tn/a\n", pair,
                    scen);
            fprintf(tsv, "%s\t%s\teffect\tGPUs for the target load\tcapacity/gpus_needed\tn/a"
                    "\tn/a\t\tn/a\n", pair, scen);
        }
        return;
    }
    const cap_side *on = &rr->cap[0], *off = &rr->cap[1];
    if (off->ok)
        sb_fmt(b, fmt, "%.0f", off->needed);
    else
        sb_fmt(b, fmt, "n/a (%s)", off->why);
    sb_arrow(b, fmt);
    if (on->ok)
        sb_fmt(b, fmt, "%.0f", on->needed);
    else
        sb_fmt(b, fmt, "n/a (%s)", on->why);
    if (on->ok && off->ok) {
        char ch[64];
        change_text(ch, sizeof ch, off->needed, on->needed);
        sb_fmt(b, fmt, " (%s)", ch);
    }
    sb_text(b, "; sustained rate: ", fmt);
    sb_text(b, off->ok ? off->rate_text : "n/a", fmt);
    sb_arrow(b, fmt);
    sb_text(b, on->ok ? on->rate_text : "n/a", fmt);
    double g = on->ok ? on->gpus : off->gpus;
    if (on->ok || off->ok)
        sb_fmt(b, fmt, " on %.0f GPUs", g);
    if (tsv) {
        char a[64] = "n/a", z[64] = "n/a";
        const char *ok = on->ok && off->ok ? "ok" : "n/a";
        if (off->ok)
            snprintf(a, sizeof a, "%.10g", off->rate);
        if (on->ok)
            snprintf(z, sizeof z, "%.10g", on->rate);
        fprintf(tsv, "%s\t%s\teffect\tsustained rate\tcapacity/rate\t%s\t%s\t1/s\t%s\n", pair,
                scen, a, z, ok);
        if (off->ok)
            snprintf(a, sizeof a, "%.10g", off->gpus);
        if (on->ok)
            snprintf(z, sizeof z, "%.10g", on->gpus);
        fprintf(tsv, "%s\t%s\teffect\tGPUs of the cluster\tcapacity/gpus\t%s\t%s\tGPUs\t%s\n",
                pair, scen, a, z, ok);
        if (off->ok)
            snprintf(a, sizeof a, "%.10g", off->needed);
        if (on->ok)
            snprintf(z, sizeof z, "%.10g", on->needed);
        fprintf(tsv, "%s\t%s\teffect\tGPUs for the target load\tcapacity/gpus_needed\t%s\t%s\t"
                "GPUs\t%s\n", pair, scen, a, z, ok);
    }
}

static const char *const headers[] = {"Technology", "Core problem", "Removes",
                                      "Measured removal (off \xe2\x86\x92 on)",
                                      "End-to-end effect (off \xe2\x86\x92 on)",
                                      "Energy (off \xe2\x86\x92 on)", "Scenario (switch)"};

static void row_cells(const study *st, size_t r, const row_runs *rr, int fmt, sbuf *b,
                      FILE *tsv)
{
    const st_row *row = &st->rows[r];
    const st_pair *p = row->pair;
    const st_scen *sc = &st->scen[row->scen];
    const char *sep = fmt == FMT_TEX ? " & " : " | ";
    if (fmt == FMT_MD)
        sb_put(b, "| ", 2);
    sb_text(b, p->technology, fmt);
    sb_put(b, sep, 3);
    sb_text(b, p->problem, fmt);
    sb_put(b, sep, 3);
    sb_text(b, p->removes, fmt);
    sb_put(b, sep, 3);
    cell_list(b, fmt, p->removal, p->nremoval, rr[r].on, rr[r].off, tsv, p->id, sc->label,
              "removal");
    sb_put(b, sep, 3);
    const st_metric *eff = p->has_effect ? p->effect : st->effect;
    size_t neff = p->has_effect ? p->neffect : st->neffect;
    cell_list(b, fmt, eff, neff, rr[r].on, rr[r].off, tsv, p->id, sc->label, "effect");
    if (st->ncap) {
        sb_put(b, fmt == FMT_TEX ? " \\newline " : "<br>", fmt == FMT_TEX ? 10 : 4);
        cell_capacity(st, row, &rr[r], b, fmt, tsv);
    }
    sb_put(b, sep, 3);
    const st_metric *en = p->has_energy ? p->energy : st->energy;
    size_t nen = p->has_energy ? p->nenergy : st->nenergy;
    cell_list(b, fmt, en, nen, rr[r].on, rr[r].off, tsv, p->id, sc->label, "energy");
    sb_put(b, sep, 3);
    sb_fmt(b, fmt, "%s (%s, runs %lld/%lld): ", sc->label, sc->name, (long long)rr[r].off->id,
           (long long)rr[r].on->id);
    for (size_t k = 0; k < row->nkeys; k++) {
        if (k)
            sb_text(b, ", ", fmt);
        sb_fmt(b, fmt, "%s=%s|%s", row->keys[k], row->on[k], row->off[k]);
    }
    if (p->note && *p->note) {
        sb_text(b, ". ", fmt);
        sb_text(b, p->note, fmt);
    }
    if (fmt == FMT_MD)
        sb_put(b, " |\n", 3);
    else
        sb_put(b, " \\\\\n\\hline\n", 11);
}

static int write_file(const char *dir, const char *name, const sbuf *b, sim_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(b->s, 1, b->len, f) != b->len) {
        if (f)
            fclose(f);
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot write", path);
    }
    return fclose(f) == 0 ? 0 : sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot write", path);
}

static int open_rows(const study *st, const char *db, res_db **rdb, rdb_set *set, row_runs **rr,
                     sim_err *err)
{
    memset(set, 0, sizeof *set);
    *rr = NULL;
    *rdb = res_open_readonly(db, err);
    if (!*rdb)
        return err->code ? err->code : SIM_EIO;
    int rc = rdb_load_runs(res_handle(*rdb), set, err);
    if (!rc) {
        *rr = sim_calloc(st->nrows + 1, sizeof **rr);
        rc = *rr ? find_rows(st, res_handle(*rdb), set, *rr, err)
                 : sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    }
    return rc;
}

/* The definition of a search's capacity line, under the table. */
static void capacity_note(const study *st, const st_capacity *c, sbuf *b, int fmt)
{
    if (c->bisect) {
        sb_fmt(b, fmt, "GPUs for %s %s, on scenario '%s'", c->load_text, c->unit,
               st->scen[c->scen].label);
        for (size_t i = 0; i < c->nset; i++)
            sb_fmt(b, fmt, "%s%s=%s", i ? ", " : " with ", c->set_keys[i], c->set_vals[i]);
        sb_fmt(b, fmt, ": the smallest GPU count n in [%ld, %ld] whose share of the load meets "
               "%s >= %s on the run's G GPUs, found by bisection over n (at most %d runs a "
               "side). The share, %s x G / n, is offered by %s = n x r0 / (%s x G), r0 the "
               "offered rate at %s 1 (requests - 1 over the arrival span of a probe run with "
               "every switch on", c->gmin, c->gmax, c->metric, c->target_text,
               (int)ceil(log2((double)(c->gmax - c->gmin + 1))) + 1, c->load_text, c->key,
               c->load_text, c->key);
        if (c->r0 > 0)
            sb_fmt(b, fmt, ": %.4g/s on %.0f GPUs", c->r0, c->g);
        sb_fmt(b, fmt, "); the sustained rate is %s x G / n. This assumes the attainment falls "
               "as the load rises (bisection) and the sustained load scales linearly with the "
               "GPU count (the router spreads the requests over instances); the rate is the "
               "measurement, the GPU count derived. n/a: the range does not bracket the "
               "answer.", c->load_text);
        return;
    }
    sb_fmt(b, fmt, "GPUs for %s %s: on scenario '%s', every run of the table is repeated at "
           "each %s of [", c->load_text, c->unit, st->scen[c->scen].label, c->key);
    for (size_t i = 0; i < c->nrates; i++) {
        if (i)
            sb_text(b, ", ", fmt);
        sb_text(b, c->rates[i], fmt);
    }
    sb_text(b, "]", fmt);
    for (size_t i = 0; i < c->nset; i++)
        sb_fmt(b, fmt, "%s%s=%s", i ? ", " : " with ", c->set_keys[i], c->set_vals[i]);
    sb_fmt(b, fmt, ". A side's sustained rate is the highest rate below the first that misses "
           "%s >= %s; its capacity per GPU is that rate / the GPUs of the run (the runs' "
           "%s metrics), and the GPUs for the load are ceil(%s / capacity per GPU). This "
           "assumes the sustained load scales linearly with the GPU count (the router spreads "
           "sessions over instances); the rate is the measurement, the GPU count derived. "
           "n/a: no probed rate meets the target, or the grid never misses it.", c->metric,
           c->target_text, c->gpus, c->load_text);
}

int study_render(const study *st, const char *db, const char *dir, sim_err *err)
{
    res_db *rdb;
    rdb_set set;
    row_runs *rr;
    int rc = open_rows(st, db, &rdb, &set, &rr, err);
    sbuf md = {0}, tex = {0};
    FILE *tsv = NULL;
    if (rc)
        goto out;
    char path[4096];
    snprintf(path, sizeof path, "%s/cells.tsv", dir);
    tsv = fopen(path, "w");
    if (!tsv) {
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot write", path);
        goto out;
    }
    fputs("pair\tscenario\tcolumn\tlabel\tmetric\toff\ton\tunit\tstatus\n", tsv);
    /* Markdown */
    if (st->title && *st->title) {
        sb_text(&md, st->title, FMT_MD);
        sb_put(&md, "\n\n", 2);
    }
    for (size_t c = 0; c < sizeof headers / sizeof *headers; c++) {
        sb_put(&md, c ? " | " : "| ", c ? 3 : 2);
        sb_text(&md, headers[c], FMT_MD);
    }
    sb_put(&md, " |\n", 3);
    for (size_t c = 0; c < sizeof headers / sizeof *headers; c++)
        sb_put(&md, "|---", 4);
    sb_put(&md, "|\n", 2);
    for (size_t r = 0; r < st->nrows; r++)
        row_cells(st, r, rr, FMT_MD, &md, tsv);
    if (st->nnotes || st->ncap)
        sb_put(&md, "\n", 1);
    for (size_t i = 0; i < st->ncap; i++) {
        sb_put(&md, "- ", 2);
        capacity_note(st, &st->caps[i], &md, FMT_MD);
        sb_put(&md, "\n", 1);
    }
    for (size_t i = 0; i < st->nnotes; i++) {
        sb_put(&md, "- ", 2);
        sb_text(&md, st->notes[i], FMT_MD);
        sb_put(&md, "\n", 1);
    }
    /* LaTeX: a table* of p{} columns (needs no package beyond LaTeX's own) */
    sb_put(&tex, "% memfab study: generated, do not edit\n\\begin{table*}\n\\centering\\scriptsize\n",
           strlen("% memfab study: generated, do not edit\n\\begin{table*}\n\\centering\\scriptsize\n"));
    const char *cols = "\\begin{tabular}{|p{0.09\\linewidth}|p{0.11\\linewidth}|p{0.11\\linewidth}"
                       "|p{0.2\\linewidth}|p{0.18\\linewidth}|p{0.1\\linewidth}|p{0.1\\linewidth}|}"
                       "\n\\hline\n";
    sb_put(&tex, cols, strlen(cols));
    for (size_t c = 0; c < sizeof headers / sizeof *headers; c++) {
        if (c)
            sb_put(&tex, " & ", 3);
        sb_put(&tex, "\\textbf{", 8);
        char h[128];
        snprintf(h, sizeof h, "%s", headers[c]);
        char *arrow = strstr(h, "\xe2\x86\x92");
        if (arrow) {
            *arrow = '\0';
            sb_text(&tex, h, FMT_TEX);
            sb_put(&tex, "$\\to$", 5);
            sb_text(&tex, arrow + 3, FMT_TEX);
        } else {
            sb_text(&tex, h, FMT_TEX);
        }
        sb_put(&tex, "}", 1);
    }
    sb_put(&tex, " \\\\\n\\hline\n", 11);
    for (size_t r = 0; r < st->nrows; r++)
        row_cells(st, r, rr, FMT_TEX, &tex, NULL);
    sb_put(&tex, "\\end{tabular}\n", 14);
    if (st->title && *st->title) {
        sb_put(&tex, "\\caption{", 9);
        sb_text(&tex, st->title, FMT_TEX);
        sb_put(&tex, "}\n", 2);
    }
    sb_put(&tex, "\\end{table*}\n", 13);
    if (md.oom || tex.oom) {
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    if ((rc = write_file(dir, "table.md", &md, err)) ||
        (rc = write_file(dir, "table.tex", &tex, err)))
        goto out;
out:
    if (tsv && fclose(tsv) != 0 && !rc)
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s/cells.tsv: cannot write", dir);
    sim_free(md.s);
    sim_free(tex.s);
    sim_free(rr);
    rdb_set_free(&set);
    res_close(rdb);
    return rc;
}

/* ---- figures -------------------------------------------------------------------- */

/* The relative change in percent, NaN when not measured in both; *from0
 * (when given) is set when the off value is 0 and the on value is not
 * (no relative change exists: the caller draws it at its cap). */
static double change_pct(const st_metric *m, const row_runs *rr, int *from0)
{
    double a, z;
    size_t na = study_metric_sum(rr->off, m->glob, &a, NULL);
    size_t nz = study_metric_sum(rr->on, m->glob, &z, NULL);
    if (from0)
        *from0 = 0;
    if (m->absent_zero ? !na && !nz : !na || !nz)
        return NAN;
    if (a == z)
        return 0;
    if (a == 0) {
        if (from0)
            *from0 = 1;
        return NAN;
    }
    return 100.0 * (z - a) / fabs(a);
}

/* The metric of a list the summary draws for a row: the first one with a
 * relative change (measured in both runs, off value not 0), else the first
 * that grew from 0 (*from0 set), else the first measured; -1 if none. */
static int summary_pick(const st_metric *ms, size_t n, const row_runs *rr, double *pct,
                        int *from0)
{
    int grew = -1, any = -1;
    *pct = NAN;
    *from0 = 0;
    for (size_t i = 0; i < n; i++) {
        int f;
        double c = change_pct(&ms[i], rr, &f);
        if (!isnan(c)) {
            if (any < 0)
                any = (int)i;
            double a;
            if (study_metric_sum(rr->off, ms[i].glob, &a, NULL) && a != 0) {
                *pct = c;
                return (int)i;
            }
        } else if (f && grew < 0) {
            grew = (int)i;
        }
    }
    if (grew >= 0) {
        *from0 = 1;
        return grew;
    }
    if (any >= 0)
        *pct = 0; /* measured, unchanged at 0 */
    return any;
}

int study_figures(const study *st, const char *db, const char *dir, sim_err *err)
{
    res_db *rdb;
    rdb_set set;
    row_runs *rr;
    int rc = open_rows(st, db, &rdb, &set, &rr, err);
    sbuf sc = {0};
    if (rc)
        goto out;
    /* one figure per pair, by memfab plot: the two runs of its first
     * scenario where the removal changed (summary_pick: a measured change),
     * else of its first scenario */
    for (size_t i = 0; i < st->npairs; i++) {
        const st_pair *p = &st->pairs[i];
        size_t r = st->nrows, first = st->nrows;
        for (size_t x = 0; x < st->nrows && r == st->nrows; x++) {
            if (st->rows[x].pair != p)
                continue;
            if (first == st->nrows)
                first = x;
            double pct;
            int f;
            int k = summary_pick(p->removal, p->nremoval, &rr[x], &pct, &f);
            if (k >= 0 && (f || pct != 0))
                r = x;
        }
        if (r == st->nrows)
            r = first;
        if (r == st->nrows)
            continue;
        char out[4096], a[32], b[32], title[512];
        snprintf(out, sizeof out, "%s/pair-%s.png", dir, p->id);
        snprintf(a, sizeof a, "%lld", (long long)rr[r].off->id);
        snprintf(b, sizeof b, "%lld", (long long)rr[r].on->id);
        snprintf(title, sizeof title, "%s (%s)", p->technology, st->scen[st->rows[r].scen].label);
        const char *kind = p->fig_kind ? p->fig_kind : "cdf";
        const char *metric = p->fig_metric ? p->fig_metric : kind[0] == 'c' && kind[1] == 'd'
                                                                ? "ttft" : NULL;
        char *argv[20];
        int argc = 0;
        argv[argc++] = (char *)"plot";
        argv[argc++] = (char *)db;
        argv[argc++] = (char *)"--kind";
        argv[argc++] = (char *)kind;
        if (metric) {
            argv[argc++] = (char *)"--metric";
            argv[argc++] = (char *)metric;
        }
        argv[argc++] = (char *)"--run";
        argv[argc++] = a;
        argv[argc++] = (char *)"--run";
        argv[argc++] = b;
        argv[argc++] = (char *)"--title";
        argv[argc++] = title;
        argv[argc++] = (char *)"-o";
        argv[argc++] = out;
        argv[argc] = NULL;
        fflush(stderr);
        if (cmd_plot(argc, argv) != 0)
            fprintf(stderr, "memfab study: figure %s was not drawn (see above)\n", out);
    }
    /* the summary: per row, the first removal, effect and energy metric with
     * a relative change (summary_pick), change in %; each tic names the
     * removal metric drawn; a change from 0 is drawn at the cap and says so */
    char out[4096];
    snprintf(out, sizeof out, "%s/summary.png", dir);
    double fscale = 1;
    const char *term = plot_terminal(out, 9.0, 4.6, 8, &fscale);
    char line[512];
    snprintf(line, sizeof line, "set terminal %s\nset output ", term);
    sb_put(&sc, line, strlen(line));
    {
        char *q = NULL;
        size_t ql = 0;
        FILE *m = open_memstream(&q, &ql);
        if (m) {
            plot_quote(m, out);
            fputs("\nset title ", m);
            plot_quote(m, "What each technology changes (on vs off, % of off)");
            fputs(" noenhanced\nset style data histograms\nset style histogram clustered gap 1\n"
                  "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
                  "set ylabel 'change with the technology (%)'\nset grid ytics\n"
                  "set key below noenhanced\nset xzeroaxis lt -1\nset lmargin 26\n"
                  "set xtics rotate by 30 right noenhanced (", m);
            for (size_t r = 0; r < st->nrows; r++) {
                const st_pair *p = st->rows[r].pair;
                double pct;
                int f, k = summary_pick(p->removal, p->nremoval, &rr[r], &pct, &f);
                char lab[512];
                snprintf(lab, sizeof lab, "%s (%s): %s%s", p->id,
                         st->scen[st->rows[r].scen].label,
                         k < 0 ? "removal not measured" : p->removal[k].label,
                         f ? ", from 0" : "");
                if (r)
                    fputs(", ", m);
                plot_quote(m, lab);
                fprintf(m, " %zu", r);
            }
            fputs(")\n$d << EOD\n", m);
            /* a change beyond +300% (or from 0) is drawn at 300 (the cells have the value) */
            for (size_t r = 0; r < st->nrows; r++) {
                const st_pair *p = st->rows[r].pair;
                const st_metric *eff = p->has_effect ? p->effect : st->effect;
                size_t neff = p->has_effect ? p->neffect : st->neffect;
                const st_metric *en = p->has_energy ? p->energy : st->energy;
                size_t nen = p->has_energy ? p->nenergy : st->nenergy;
                double v[3];
                int f[3];
                summary_pick(p->removal, p->nremoval, &rr[r], &v[0], &f[0]);
                summary_pick(eff, neff, &rr[r], &v[1], &f[1]);
                summary_pick(en, nen, &rr[r], &v[2], &f[2]);
                fprintf(m, "%zu", r);
                for (int i = 0; i < 3; i++)
                    fprintf(m, " %.6g", f[i] ? 300 : isnan(v[i]) ? NAN : v[i] > 300 ? 300 : v[i]);
                fputs("\n", m);
            }
            fputs("EOD\nset yrange [-100:*]\nplot $d using 2 title ", m);
            plot_quote(m, "measured removal (the metric in the tic)");
            fputs(", '' using 3 title ", m);
            plot_quote(m, "first end-to-end effect");
            fputs(", '' using 4 title ", m);
            plot_quote(m, "first energy metric (changes beyond +300% or from 0 drawn at 300)");
            fputs("\n", m);
            fclose(m);
            sb_put(&sc, q, ql);
            free(q);
        } else {
            sc.oom = 1;
        }
    }
    if (sc.oom) {
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    int g = plot_script(sc.s, sc.len);
    if (g == -2)
        fprintf(stderr, "memfab study: gnuplot is not installed; no figures (apt-get install "
                        "gnuplot-nox)\n");
    else if (g != 0)
        fprintf(stderr, "memfab study: gnuplot failed on %s (status %d)\n", out, g);
out:
    sim_free(sc.s);
    sim_free(rr);
    rdb_set_free(&set);
    res_close(rdb);
    return rc;
}
