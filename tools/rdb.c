/*
 * rdb.c - reading results databases for the tools (see rdb.h).
 *
 * Everything here is read-only SQL on a contract v1 database. Runs are kept
 * in run_id order and params sorted by key, so every listing derived from
 * them (labels, baselines, summaries) is deterministic.
 */
#include "rdb.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <sqlite3.h>

#include "sim/mem.h"

static char *dup_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return sim_strdup(t ? (const char *)t : "");
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const rdb_param *)a)->key, ((const rdb_param *)b)->key);
}

void rdb_run_free(rdb_run *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nparams; i++) {
        sim_free(r->params[i].key);
        sim_free(r->params[i].value);
    }
    for (size_t i = 0; i < r->nmetrics; i++) {
        sim_free(r->metrics[i].name);
        sim_free(r->metrics[i].unit);
    }
    sim_free(r->params);
    sim_free(r->metrics);
    sim_free(r->name);
    sim_free(r->sha);
    sim_free(r->status);
    sim_free(r->error);
    sim_free(r->version);
    sim_free(r->label);
    memset(r, 0, sizeof *r);
}

void rdb_set_free(rdb_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        rdb_run_free(&s->runs[i]);
    sim_free(s->runs);
    s->runs = NULL;
    s->n = 0;
}

int rdb_param_put(rdb_run *r, const char *key, const char *value)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].key, key) == 0) {
            char *v = sim_strdup(value);
            if (!v)
                return SIM_ENOMEM;
            sim_free(r->params[i].value);
            r->params[i].value = v;
            return 0;
        }
    rdb_param *p = sim_realloc(r->params, (r->nparams + 1) * sizeof *p);
    if (!p)
        return SIM_ENOMEM;
    r->params = p;
    p[r->nparams].key = sim_strdup(key);
    p[r->nparams].value = sim_strdup(value);
    if (!p[r->nparams].key || !p[r->nparams].value) {
        sim_free(p[r->nparams].key);
        sim_free(p[r->nparams].value);
        return SIM_ENOMEM;
    }
    r->nparams++;
    qsort(r->params, r->nparams, sizeof *r->params, cmp_param);
    return 0;
}

const char *rdb_param_get(const rdb_run *r, const char *key)
{
    rdb_param k = {(char *)key, NULL};
    const rdb_param *p = r->nparams ? bsearch(&k, r->params, r->nparams, sizeof k, cmp_param) : NULL;
    return p ? p->value : NULL;
}

int rdb_metric_add(rdb_run *r, const char *name, double value, const char *unit)
{
    rdb_metric *m = sim_realloc(r->metrics, (r->nmetrics + 1) * sizeof *m);
    if (!m)
        return SIM_ENOMEM;
    r->metrics = m;
    m[r->nmetrics].name = sim_strdup(name);
    m[r->nmetrics].unit = sim_strdup(unit ? unit : "");
    m[r->nmetrics].value = value;
    if (!m[r->nmetrics].name || !m[r->nmetrics].unit) {
        sim_free(m[r->nmetrics].name);
        sim_free(m[r->nmetrics].unit);
        return SIM_ENOMEM;
    }
    r->nmetrics++;
    return 0;
}

const rdb_metric *rdb_metric_get(const rdb_run *r, const char *name)
{
    for (size_t i = 0; i < r->nmetrics; i++)
        if (strcmp(r->metrics[i].name, name) == 0)
            return &r->metrics[i];
    return NULL;
}

static int sql_fail(sqlite3 *h, sim_err *err, const char *what)
{
    return sim_err_set(err, SIM_EFORMAT, NULL, 0, 0, "%s: %s", what, sqlite3_errmsg(h));
}

int rdb_load_runs(sqlite3 *h, rdb_set *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL, *ps = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(h,
                           "SELECT run_id, name, scenario_sha256, seed, status, error, version"
                           " FROM runs ORDER BY run_id",
                           -1, &st, NULL) != SQLITE_OK ||
        /* Parameters left at their defaults (origin 'default') are for
         * people reading params; runs match, and are labelled, by what
         * their scenarios wrote, as before memfab recorded defaults. A
         * database older than params.origin has none. */
        (sqlite3_prepare_v2(h, "SELECT key, value FROM params WHERE run_id = ?"
                               " AND origin IS NOT 'default' ORDER BY key",
                            -1, &ps, NULL) != SQLITE_OK &&
         sqlite3_prepare_v2(h, "SELECT key, value FROM params WHERE run_id = ? ORDER BY key", -1,
                            &ps, NULL) != SQLITE_OK)) {
        rc = sql_fail(h, err, "reading runs");
        goto out;
    }
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        rdb_run *runs = sim_realloc(out->runs, (out->n + 1) * sizeof *runs);
        if (!runs) {
            rc = SIM_ENOMEM;
            goto out;
        }
        out->runs = runs;
        rdb_run *r = &runs[out->n++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(st, 0);
        r->name = dup_text(st, 1);
        r->sha = dup_text(st, 2);
        r->seed = (uint64_t)sqlite3_column_int64(st, 3);
        r->status = dup_text(st, 4);
        r->error = dup_text(st, 5);
        r->version = dup_text(st, 6);
        if (!r->name || !r->sha || !r->status || !r->error || !r->version) {
            rc = SIM_ENOMEM;
            goto out;
        }
        sqlite3_reset(ps);
        sqlite3_bind_int64(ps, 1, r->id);
        while (sqlite3_step(ps) == SQLITE_ROW) {
            rdb_param *p = sim_realloc(r->params, (r->nparams + 1) * sizeof *p);
            if (!p) {
                rc = SIM_ENOMEM;
                goto out;
            }
            r->params = p;
            p[r->nparams].key = dup_text(ps, 0);
            p[r->nparams].value = dup_text(ps, 1);
            r->nparams++;
            if (!p[r->nparams - 1].key || !p[r->nparams - 1].value) {
                rc = SIM_ENOMEM;
                goto out;
            }
        }
        /* SQLite orders by BINARY collation, which is strcmp order. */
    }
    if (s != SQLITE_DONE)
        rc = sql_fail(h, err, "reading runs");
out:
    sqlite3_finalize(st);
    sqlite3_finalize(ps);
    if (rc == SIM_ENOMEM)
        sim_err_set(err, rc, NULL, 0, 0, "out of memory");
    if (rc)
        rdb_set_free(out);
    return rc;
}

/* The queries of rdb_load_metrics, compiled once per loader: a sweep's
 * summary loads every run of its merged database, and compiling these
 * statements (two of them over views) for every run was most of its cost. */
enum { Q_METRICS, Q_LINKS, Q_SUMMARY, Q_KV, Q_COHERENCE, Q_TTFT, Q_TPOT, Q_E2E, N_Q };
static const char *const loader_sql[N_Q] = {
    "SELECT scope, name, value, unit FROM metrics WHERE run_id = ? ORDER BY rowid",
    "SELECT link, direction, bytes, utilization FROM links WHERE run_id = ? ORDER BY rowid",
    "SELECT requests, finished, output_tokens_per_s, cached_share FROM run_summary"
    " WHERE run_id = ?",
    "SELECT instance, tier, hit_ratio, evictions FROM kv_hit_ratio WHERE run_id = ?"
    " ORDER BY rowid",
    "SELECT directory, message, count FROM coherence WHERE run_id = ? ORDER BY rowid",
    "SELECT ttft_ps FROM request_latency WHERE run_id = ? AND ttft_ps IS NOT NULL ORDER BY ttft_ps",
    "SELECT tpot_ps FROM request_latency WHERE run_id = ? AND tpot_ps IS NOT NULL ORDER BY tpot_ps",
    "SELECT e2e_ps FROM request_latency WHERE run_id = ? AND e2e_ps IS NOT NULL ORDER BY e2e_ps",
};

struct rdb_loader {
    sqlite3 *h;
    sqlite3_stmt *st[N_Q];
    int absent[N_Q];           /* could not be compiled (an older database) */
};

rdb_loader *rdb_loader_new(sqlite3 *h)
{
    rdb_loader *l = sim_calloc(1, sizeof *l);
    if (l)
        l->h = h;
    return l;
}

void rdb_loader_free(rdb_loader *l)
{
    if (!l)
        return;
    for (int q = 0; q < N_Q; q++)
        sqlite3_finalize(l->st[q]);
    sim_free(l);
}

/* Query q bound to run r, or NULL when it does not compile. */
static sqlite3_stmt *loader_query(rdb_loader *l, int q, const rdb_run *r)
{
    if (!l->st[q] && !l->absent[q] &&
        sqlite3_prepare_v2(l->h, loader_sql[q], -1, &l->st[q], NULL) != SQLITE_OK) {
        l->st[q] = NULL;
        l->absent[q] = 1;
    }
    sqlite3_stmt *st = l->st[q];
    if (st) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, r->id);
    }
    return st;
}

/* Mean and nearest-rank quantiles of one column of request_latency, in s. */
static int request_stats(rdb_loader *l, rdb_run *r, int q, const char *label)
{
    sqlite3_stmt *st = loader_query(l, q, r);
    if (!st)
        return 0;   /* an older database without the view: nothing to add */
    double *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            double *nv = sim_realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = SIM_ENOMEM;
                goto out;
            }
            v = nv;
        }
        v[n++] = (double)sqlite3_column_int64(st, 0) * 1e-12;
    }
    if (n > 0) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += v[i];
        static const struct { const char *suffix; double q; } qs[] = {{"p50", 0.5}, {"p99", 0.99}};
        char name[128];
        snprintf(name, sizeof name, "requests/%s_mean", label);
        rc |= rdb_metric_add(r, name, sum / (double)n, "s");
        for (size_t i = 0; i < 2; i++) {
            size_t k = (size_t)ceil(qs[i].q * (double)n);
            k = k ? k - 1 : 0;
            snprintf(name, sizeof name, "requests/%s_%s", label, qs[i].suffix);
            rc |= rdb_metric_add(r, name, v[k], "s");
        }
    }
out:
    sim_free(v);
    sqlite3_reset(st);
    return rc;
}

static double col_double(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

int rdb_loader_metrics(rdb_loader *l, rdb_run *r, sim_err *err)
{
    sqlite3_stmt *st = NULL;
    char name[1024];
    int rc = 0;

#define QUERY(q)                                                                     \
    do {                                                                             \
        if (st)                                                                      \
            sqlite3_reset(st);                                                       \
        if (!(st = loader_query(l, q, r))) {                                         \
            rc = sql_fail(l->h, err, "reading metrics");                             \
            goto out;                                                                \
        }                                                                            \
    } while (0)
#define TXT(i) (sqlite3_column_text(st, i) ? (const char *)sqlite3_column_text(st, i) : "")

    QUERY(Q_METRICS);
    while (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(name, sizeof name, "%s/%s", TXT(0), TXT(1));
        if (rdb_metric_get(r, name))
            continue;   /* a duplicate row: the first one counts */
        rc |= rdb_metric_add(r, name, col_double(st, 2), TXT(3));
    }
    QUERY(Q_LINKS);
    while (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(name, sizeof name, "links/%s/%s/bytes", TXT(0), TXT(1));
        rc |= rdb_metric_add(r, name, col_double(st, 2), "B");
        snprintf(name, sizeof name, "links/%s/%s/utilization", TXT(0), TXT(1));
        rc |= rdb_metric_add(r, name, col_double(st, 3), "");
    }
    QUERY(Q_SUMMARY);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
        rc |= rdb_metric_add(r, "requests/count", col_double(st, 0), "requests");
        rc |= rdb_metric_add(r, "requests/finished", col_double(st, 1), "requests");
        rc |= request_stats(l, r, Q_TTFT, "ttft");
        rc |= request_stats(l, r, Q_TPOT, "tpot");
        rc |= request_stats(l, r, Q_E2E, "e2e");
        rc |= rdb_metric_add(r, "requests/output_tokens_per_s", col_double(st, 2), "tokens/s");
        rc |= rdb_metric_add(r, "requests/cached_share", col_double(st, 3), "");
    }
    QUERY(Q_KV);
    while (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(name, sizeof name, "kv/%s/%s/hit_ratio", TXT(0), TXT(1));
        rc |= rdb_metric_add(r, name, col_double(st, 2), "");
        snprintf(name, sizeof name, "kv/%s/%s/evictions", TXT(0), TXT(1));
        rc |= rdb_metric_add(r, name, col_double(st, 3), "blocks");
    }
    QUERY(Q_COHERENCE);
    while (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(name, sizeof name, "coherence/%s/%s", TXT(0), TXT(1));
        rc |= rdb_metric_add(r, name, col_double(st, 2), "messages");
    }
    if (rc)
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
out:
#undef QUERY
#undef TXT
    if (st)
        sqlite3_reset(st);
    return rc;
}

int rdb_load_metrics(sqlite3 *h, rdb_run *r, sim_err *err)
{
    rdb_loader *l = rdb_loader_new(h);
    if (!l)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = rdb_loader_metrics(l, r, err);
    rdb_loader_free(l);
    return rc;
}

int rdb_parse_id(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v <= 0)
        return SIM_EINVAL;
    *out = v;
    return 0;
}

static int run_matches(const rdb_run *r, char *const *where, size_t nwhere)
{
    for (size_t i = 0; i < nwhere; i++) {
        const char *eq = strchr(where[i], '=');
        size_t kl = (size_t)(eq - where[i]);
        char key[512];
        snprintf(key, sizeof key, "%.*s", (int)kl, where[i]);
        const char *pat = eq + 1, *val;
        char buf[64];
        if (strcmp(key, "name") == 0) {
            val = r->name;
        } else if (strcmp(key, "status") == 0) {
            val = r->status;
        } else if (strcmp(key, "run") == 0 || strcmp(key, "run_id") == 0) {
            snprintf(buf, sizeof buf, "%lld", (long long)r->id);
            val = buf;
        } else if (strcmp(key, "seed") == 0 && !rdb_param_get(r, "seed")) {
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)r->seed);
            val = buf;
        } else {
            val = rdb_param_get(r, key);
            if (!val) {
                /* sweep keys may be given without their "sweep." prefix */
                char sk[600];
                snprintf(sk, sizeof sk, "sweep.%s", key);
                val = rdb_param_get(r, sk);
            }
        }
        if (!val || fnmatch(pat, val, 0) != 0)
            return 0;
    }
    return 1;
}

int rdb_filter(rdb_set *s, const int64_t *ids, size_t nids, char *const *where, size_t nwhere,
               int complete_only, sim_err *err)
{
    for (size_t i = 0; i < nwhere; i++) {
        const char *eq = strchr(where[i], '=');
        if (!eq || eq == where[i])
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "--where '%s': expected KEY=VALUE (VALUE may use * and ?)",
                               where[i]);
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        rdb_run *r = &s->runs[i];
        int keep = 1;
        if (nids) {
            keep = 0;
            for (size_t j = 0; j < nids; j++)
                keep |= ids[j] == r->id;
        }
        if (keep && complete_only && strcmp(r->status, "complete") != 0)
            keep = 0;
        if (keep && !run_matches(r, where, nwhere))
            keep = 0;
        if (keep)
            s->runs[k++] = *r;
        else
            rdb_run_free(r);
    }
    s->n = k;
    return 0;
}

static int is_sweep_internal(const char *key)
{
    return strcmp(key, "sweep.name") == 0 || strcmp(key, "sweep.point") == 0;
}

void rdb_label(rdb_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        rdb_run *r = &s->runs[i];
        size_t cap = 256, len = 0;
        char *lab = sim_alloc(cap);
        if (!lab)
            return;
        len = (size_t)snprintf(lab, cap, "%s", r->name);
        int differs_any = 0, same_params_twin = 0;
        /* Two passes: sweep.* params first, then the others. */
        for (int pass = 0; pass < 2; pass++) {
            for (size_t p = 0; p < r->nparams; p++) {
                const rdb_param *pp = &r->params[p];
                int is_sweep = strncmp(pp->key, "sweep.", 6) == 0;
                if (is_sweep != (pass == 0) || is_sweep_internal(pp->key))
                    continue;
                if (!is_sweep && rdb_param_get(r, "sweep.name")) {
                    /* in a sweep, the swept keys already say what differs
                     * (their plain copies are skipped), except the seed */
                    char sk[600];
                    snprintf(sk, sizeof sk, "sweep.%s", pp->key);
                    if (rdb_param_get(r, sk))
                        continue;
                }
                int differs = 0;
                for (size_t j = 0; j < s->n && !differs; j++) {
                    if (j == i || strcmp(s->runs[j].name, r->name) != 0)
                        continue;
                    const char *ov = rdb_param_get(&s->runs[j], pp->key);
                    differs = !ov || strcmp(ov, pp->value) != 0;
                }
                if (!differs)
                    continue;
                differs_any = 1;
                const char *k = is_sweep ? pp->key + 6 : pp->key;
                size_t need = len + strlen(k) + strlen(pp->value) + 4;
                if (need > cap) {
                    char *nl = sim_realloc(lab, cap = need * 2);
                    if (!nl)
                        break;
                    lab = nl;
                }
                len += (size_t)snprintf(lab + len, cap - len, " %s=%s", k, pp->value);
            }
        }
        for (size_t j = 0; j < s->n; j++)
            if (j != i && strcmp(s->runs[j].name, r->name) == 0 &&
                s->runs[j].nparams == r->nparams) {
                int same = 1;
                for (size_t p = 0; p < r->nparams && same; p++)
                    same = strcmp(r->params[p].key, s->runs[j].params[p].key) == 0 &&
                           strcmp(r->params[p].value, s->runs[j].params[p].value) == 0;
                same_params_twin |= same;
            }
        if (same_params_twin && len + 24 < cap)
            snprintf(lab + len, cap - len, " #%lld", (long long)r->id);
        (void)differs_any;
        sim_free(r->label);
        r->label = lab;
    }
}

void rdb_ci95(const double *v, size_t n, double *mean, double *sd, double *half)
{
    if (n == 0) {
        *mean = *sd = *half = NAN;
        return;
    }
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i];
    m /= (double)n;
    *mean = m;
    if (n == 1) {
        *sd = *half = 0;
        return;
    }
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - m) * (v[i] - m);
    *sd = sqrt(ss / (double)(n - 1));
    *half = gsl_cdf_tdist_Pinv(0.975, (double)(n - 1)) * *sd / sqrt((double)n);
}

int rdb_is_sqlite(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char hdr[16];
    size_t n = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    return n == 16 && memcmp(hdr, "SQLite format 3", 16) == 0;
}
