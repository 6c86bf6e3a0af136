/*
 * run.c - memfab run and memfab check.
 *
 * run: load the scenario, apply --seed and --set overrides, build the
 * components, open (never truncate) the results database, record the run
 * and its effective parameters, install SIGINT/SIGTERM handlers that stop
 * the run cleanly, run to the stop time, let every component report, and
 * close the run as complete, interrupted or failed.
 */
#include "run.h"

#include <fnmatch.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "models/kv/kvstore.h"
#include "models/fabric/fabric.h"
#include "models/registry.h"
#include "models/serving/serving.h"
#include "models/workload/trace.h"
#include "results/res.h"
#include "sim/mem.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/rdb.h"

/* Keys the last run_build accepted without checking them (parameters of
 * plug-in policies, which cannot declare them), space-separated paths. */
static char unchecked[2048];

static void note_unchecked(void *ctx, const scn_node *key, const char *path, const char *owner)
{
    (void)ctx;
    fprintf(stderr, "%s:%d:%d: note: key '%s' is not checked: %s declares no parameters\n",
            scn_node_file(key), scn_node_line(key), scn_node_col(key), path, owner);
    size_t n = strlen(unchecked);
    if (n + strlen(path) + 2 < sizeof unchecked)
        snprintf(unchecked + n, sizeof unchecked - n, "%s%s", n ? " " : "", path);
}

const char *run_unchecked_keys(void) { return unchecked; }

int run_build(sim *s, const scn_doc *doc, sim_err *err)
{
    unchecked[0] = '\0';
    /* Every key of every section against the declared schema first, so a
     * typo anywhere is an error with a suggestion before anything is built. */
    int rc = sim_schema_check(&memfab_scenario_schema, scn_root(doc), "", note_unchecked, NULL,
                              err);
    if (rc)
        return rc;
    rc = sim_build(s, doc, memfab_models, memfab_section_keys, err);
    if (rc)
        return rc;
    const scn_node *fab = scn_map_get(scn_root(doc), "fabric");
    if (fab) {
        if (scn_node_kind(fab) != SCN_MAP)
            return scn_error(err, fab, "'fabric' must be a mapping of fabric settings"
                                       " (memfab models fabric)");
        if (sim_find(s, "fabric"))
            return scn_error(err, fab, "the scenario has both a 'fabric:' section and a"
                                       " component named 'fabric'; keep one");
        if (!sim_add_section(s, &fabric_model, "fabric", fab, err))
            return err && err->code ? err->code : SIM_EINVAL;
    }
    return serving_build(s, doc, err);
}

/* ---- sink: simulator results -> SQLite -------------------------------- */

/* The sink's context: the database and the first write error, which makes
 * the run 'failed' instead of silently losing rows. */
typedef struct run_sink {
    res_db *db;          /* where rows go */
    sim *sim;            /* the simulator (units of time series) */
    int failed;          /* a row could not be written */
    char msg[512];       /* the first failure */
} run_sink;

static int note(run_sink *k, int rc)
{
    if (rc && !k->failed) {
        k->failed = 1;
        snprintf(k->msg, sizeof k->msg, "writing results failed: %s", res_errmsg(k->db));
    }
    return rc;
}

static int sink_metric(void *ctx, const char *scope, const char *name, double value,
                       const char *unit)
{
    run_sink *k = ctx;
    return note(k, res_metric(k->db, scope, name, value, unit));
}
static int sink_link(void *ctx, const char *link, const char *dir, uint64_t bytes,
                     uint64_t packets, uint64_t busy, double util)
{
    run_sink *k = ctx;
    return note(k, res_link(k->db, link, dir, bytes, packets, busy, util));
}

static int sink_link_net(void *ctx, const char *link, const char *dir, uint64_t bytes,
                         uint64_t packets, uint64_t busy, double util, uint64_t drops,
                         uint64_t pause_ps, uint64_t ecn)
{
    run_sink *k = ctx;
    return note(k, res_link_net(k->db, link, dir, bytes, packets, busy, util, drops, pause_ps,
                                ecn));
}
static int sink_tick(void *ctx)
{
    run_sink *k = ctx;
    return note(k, res_tick(k->db));
}
static int sink_ts(void *ctx, const char *scope, const char *name, sim_time t, double v)
{
    run_sink *k = ctx;
    const sim_comp *c = sim_find(k->sim, scope);   /* its model declares the unit */
    return note(k, res_timeseries_unit(k->db, scope, name, t, v,
                                       c ? sim_series_unit(c->model, name) : NULL));
}
static int sink_request(void *ctx, uint64_t id, const char *session, const char *instance,
                        sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                        uint64_t out, uint64_t cached)
{
    run_sink *k = ctx;
    return note(k, res_request(k->db, id, session, instance, arrival, first, finish, in, out,
                               cached));
}
static int sink_request_pd(void *ctx, uint64_t id, const char *session, const char *instance,
                           sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                           uint64_t out, uint64_t cached, const char *prefill, uint64_t kv_bytes,
                           sim_time kv_wait, sim_time kv_transfer)
{
    run_sink *k = ctx;
    return note(k, res_request_pd(k->db, id, session, instance, arrival, first, finish, in, out,
                                  cached, prefill, kv_bytes, kv_wait, kv_transfer));
}
static int sink_kv(void *ctx, const char *instance, const char *tier, uint64_t hits,
                   uint64_t misses, uint64_t evictions, uint64_t bin, uint64_t bout)
{
    run_sink *k = ctx;
    return note(k, res_kv(k->db, instance, tier, hits, misses, evictions, bin, bout));
}
static int sink_coherence(void *ctx, const char *dir, const char *msg, uint64_t count)
{
    run_sink *k = ctx;
    return note(k, res_coherence(k->db, dir, msg, count));
}

static void on_signal(int sig)
{
    (void)sig;
    sim_interrupt();
}

static void param_leaf(void *ctx, const char *key, const char *value)
{
    res_param_from(ctx, key, value, RES_ORIGIN_SCENARIO);
}

static void default_leaf(void *ctx, const char *key, const char *value)
{
    res_param_from(ctx, key, value, RES_ORIGIN_DEFAULT);
}

/* Every parameter the run used, as gem5's config.ini lists them: what the
 * scenario wrote (origin 'scenario'), then what it left at a default
 * (origin 'default'): the keys of its sections and the parameters of every
 * component entry. `kv:` and `router:` are in effect whenever `workload:`
 * is, written or not. */
static void record_params(res_db *db, sim *s, const scn_doc *doc)
{
    const scn_node *root = scn_root(doc);
    scn_flatten(doc, param_leaf, db);
    sim_schema_defaults(&memfab_scenario_schema, root, "", default_leaf, db);
    if (scn_map_get(root, "workload")) {
        for (const sim_skey *k = memfab_scenario_schema.keys; k && k->name; k++)
            if ((strcmp(k->name, "kv") == 0 || strcmp(k->name, "router") == 0) &&
                !scn_map_get(root, k->name))
                sim_schema_defaults(k->sub, NULL, k->name, default_leaf, db);
    }
    sim_params_defaults(s, doc, default_leaf, db);
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Load the scenario and apply --seed and --set. NULL after printing an error. */
static scn_doc *load_effective(const run_opts *o)
{
    sim_err err;
    sim_err_clear(&err);
    scn_doc *doc = scn_load(o->scenario, &err);
    if (!doc) {
        sim_err_print(&err);
        return NULL;
    }
    if (o->have_seed) {
        char buf[64];
        snprintf(buf, sizeof buf, "seed=%llu", (unsigned long long)o->seed);
        if (scn_set(doc, buf, &err)) {
            sim_err_print(&err);
            scn_free(doc);
            return NULL;
        }
    }
    for (int i = 0; i < o->nsets; i++)
        if (scn_set(doc, o->sets[i], &err)) {
            sim_err_print(&err);
            scn_free(doc);
            return NULL;
        }
    return doc;
}

/* Register --plugin policies (before the builder looks policies up by
 * name). Nonzero after printing the error. */
static int load_plugins(const run_opts *o)
{
    sim_err err;
    for (int i = 0; i < o->nplugins; i++) {
        sim_err_clear(&err);
        if (kv_load_plugin(o->plugins[i], &err)) {
            sim_err_print(&err);
            return -1;
        }
    }
    return 0;
}

int check_scenario(const run_opts *o)
{
    scn_doc *doc = load_effective(o);
    if (!doc)
        return SIM_EXIT_USAGE;
    if (load_plugins(o)) {
        scn_free(doc);
        return SIM_EXIT_USAGE;
    }
    sim *s = sim_create();
    sim_err err;
    sim_err_clear(&err);
    int rc = s ? run_build(s, doc, &err) : SIM_ENOMEM;
    if (!rc)
        rc = sim_start(s, &err);
    int status = SIM_EXIT_OK;
    if (rc) {
        sim_err_print(&err);
        status = rc == SIM_ENOMEM ? SIM_EXIT_RUNTIME : SIM_EXIT_USAGE;
    } else if (!o->quiet) {
        printf("%s: ok: scenario '%s', %zu components\n", o->scenario, sim_name(s),
               sim_ncomps(s));
    }
    sim_destroy(s);
    scn_free(doc);
    return status;
}

/* ---- progress ----------------------------------------------------------- */

/* Requests done over the requests the workload will issue: its
 * max_requests, its synthetic `requests:`, or the records of its trace
 * (lines, less a header line). 0 when unknown. */
static double workload_total(const scn_doc *doc)
{
    const scn_node *wn = scn_map_get(scn_root(doc), "workload");
    if (!wn || scn_node_kind(wn) != SCN_MAP)
        return 0;
    double cap = 0;
    const scn_node *mr = scn_map_get(wn, "max_requests");
    if (mr && scn_scalar(mr))
        cap = strtod(scn_scalar(mr), NULL);
    const scn_node *syn = scn_map_get(wn, "synthetic");
    if (syn && scn_node_kind(syn) == SCN_MAP) {
        const scn_node *rq = scn_map_get(syn, "requests");
        double n = rq && scn_scalar(rq) ? strtod(scn_scalar(rq), NULL) : 0;
        return cap > 0 && (n <= 0 || cap < n) ? cap : n;
    }
    const scn_node *tn = scn_map_get(wn, "trace");
    if (!tn || !scn_scalar(tn) || !*scn_scalar(tn))
        return cap;
    char dir[4096], path[4096];
    snprintf(dir, sizeof dir, "%s", scn_node_file(tn) ? scn_node_file(tn) : "");
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    sim_err err;
    sim_err_clear(&err);
    if (trace_resolve(dir, scn_scalar(tn), path, sizeof path, &err))
        return cap;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cap;
    char buf[1 << 16];
    size_t got;
    double lines = 0;
    int first = -1, last = '\n';
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (first < 0)
            first = (unsigned char)buf[0];
        for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + got - p))); p++)
            lines++;
        last = (unsigned char)buf[got - 1];
    }
    fclose(f);
    if (last != '\n')
        lines++;
    if (first >= 0 && ((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z')))
        lines--;   /* a CSV header */
    return cap > 0 && cap < lines ? cap : lines;
}

typedef struct run_progress {
    sim_comp *workload;
    double total;
} run_progress;

static int workload_progress(void *ctx, double *done, double *total)
{
    run_progress *p = ctx;
    const serving_totals *t = serving_get_totals(p->workload);
    *done = (double)(t->completed + t->rejected);
    *total = p->total;
    return p->total > 0;
}

/* The progress mode: --progress or -q, else a status line on a terminal
 * and, on anything else (CI logs, batch jobs), a line every interval once
 * a run has lasted that long. MEMFAB_PROGRESS_INTERVAL (seconds) sets the
 * interval of lines (default 10 s, 2 s with --progress). */
static void setup_progress(sim *s, const run_opts *o, const scn_doc *doc, run_progress *rp)
{
    int tty = isatty(2);
    int mode = o->progress == 0 || (o->progress < 0 && o->quiet) ? SIM_PROGRESS_OFF
               : tty                                             ? SIM_PROGRESS_TTY
               : o->progress > 0                                 ? SIM_PROGRESS_LINES
                                                                 : SIM_PROGRESS_LONG;
    double every = mode == SIM_PROGRESS_LINES ? 2.0 : 10.0;
    const char *env = getenv("MEMFAB_PROGRESS_INTERVAL");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        if (!*end && v >= 0)
            every = v;
        else
            fprintf(stderr, "memfab: MEMFAB_PROGRESS_INTERVAL wants seconds (e.g. 5), not '%s';"
                            " using %g s\n", env, every);
    }
    sim_set_progress(s, mode);
    sim_set_progress_interval(s, every);
    rp->workload = mode ? sim_find(s, "workload") : NULL;
    if (rp->workload && rp->workload->model == &llm_workload_model) {
        rp->total = workload_total(doc);
        sim_set_progress_source(s, workload_progress, rp, "requests");
    }
}

/* ---- the end-of-run summary ---------------------------------------------- */

enum {
    SUMMARY_HEADLINE_MAX = 28,   /* headline rows in all */
    SUMMARY_MODEL_MAX = 12,      /* headline rows of one model */
    SUMMARY_FILL_MAX = 12,       /* rows when the models declare few headlines */
    SUMMARY_LINKS_MAX = 8        /* busiest link directions */
};

static long long count_rows(sqlite3 *h, const char *table, int64_t run_id)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE run_id = ?", table);
    sqlite3_stmt *st;
    long long n = 0;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Add metric m of run r to the table (scope, metric, value) and mark it. */
static void summary_row(htable *t, const rdb_metric *m, int own, size_t *own_rows)
{
    if (own)
        (*own_rows)++;
    char scope[256], val[64];
    const char *slash = strchr(m->name, '/');
    size_t len = slash ? (size_t)(slash - m->name) : 0;
    snprintf(scope, sizeof scope, "%.*s", (int)len, m->name);
    const char *name = slash ? slash + 1 : m->name;
    human_value(val, sizeof val, m->value, m->unit, name);
    const char *row[3] = {scope, name, val};
    ht_add(t, row);
}

/* The metrics part of the summary: each model's headline metrics (its
 * components in scenario order), then, when they are few, the means and
 * 99th percentiles of components whose model declares none. Returns the
 * number of rows printed; *own_rows counts those that are rows of the
 * metrics table (the others derive from links, requests, kv, coherence);
 * *hidden_headline counts headline rows beyond the caps. */
static size_t summary_metrics(sim *s, const rdb_run *r, size_t *hidden_headline,
                              size_t *own_rows)
{
    size_t n = r->nmetrics, ncomp = sim_ncomps(s), shown = 0;
    *hidden_headline = 0;
    unsigned char *mark = sim_calloc(n + 1, 1);
    uint32_t *owner = sim_calloc(n + 1, sizeof *owner);     /* component id, or UINT32_MAX */
    unsigned char *seen = sim_calloc(ncomp + 1, 1);          /* model already done */
    htable t;
    if (!mark || !owner || !seen || ht_init(&t, 3)) {
        sim_free(mark);
        sim_free(owner);
        sim_free(seen);
        return 0;
    }
    ht_right(&t, 2);
    const char *head[3] = {"scope", "metric", "value"};
    ht_add(&t, head);
    for (size_t i = 0; i < n; i++) {
        char scope[256];
        const char *slash = strchr(r->metrics[i].name, '/');
        size_t len = slash ? (size_t)(slash - r->metrics[i].name) : 0;
        snprintf(scope, sizeof scope, "%.*s", (int)len, r->metrics[i].name);
        sim_comp *c = slash ? sim_find(s, scope) : NULL;
        owner[i] = c ? c->id : UINT32_MAX;
    }
    size_t total = 0;
    /* Models with fewer components first (the workload's or the fabric's
     * one-line totals before per-instance rows), then in the order of
     * their first component. */
    size_t *order = sim_calloc(ncomp + 1, sizeof *order), norder = 0;
    size_t *ncomp_of = sim_calloc(ncomp + 1, sizeof *ncomp_of);
    if (!order || !ncomp_of)
        goto done;
    for (uint32_t ci = 0; ci < ncomp; ci++) {
        const sim_model *m = sim_comp_at(s, ci)->model;
        size_t first = ci;
        for (uint32_t cj = 0; cj < ci; cj++)
            if (sim_comp_at(s, cj)->model == m) {
                first = cj;
                break;
            }
        ncomp_of[first]++;
        if (first == ci && m->headline)
            order[norder++] = ci;
    }
    for (size_t a = 1; a < norder; a++)   /* stable insertion sort by component count */
        for (size_t b = a; b > 0 && ncomp_of[order[b - 1]] > ncomp_of[order[b]]; b--) {
            size_t x = order[b];
            order[b] = order[b - 1];
            order[b - 1] = x;
        }
    for (size_t oi = 0; oi < norder; oi++) {
        uint32_t ci = (uint32_t)order[oi];
        const sim_model *m = sim_comp_at(s, ci)->model;
        size_t per_model = 0;
        for (uint32_t cj = ci; cj < ncomp; cj++) {
            sim_comp *c = sim_comp_at(s, cj);
            if (c->model != m)
                continue;
            seen[cj] = 1;
            for (const char *const *p = m->headline; *p; p++) {
                if (strchr(*p, '/'))
                    continue;
                for (size_t i = 0; i < n; i++) {
                    if (owner[i] != cj || mark[i])
                        continue;
                    const char *name = strchr(r->metrics[i].name, '/') + 1;
                    if (fnmatch(*p, name, 0) != 0)
                        continue;
                    mark[i] = 1;
                    if (per_model < SUMMARY_MODEL_MAX && total < SUMMARY_HEADLINE_MAX) {
                        summary_row(&t, &r->metrics[i], owner[i] != UINT32_MAX, own_rows);
                        per_model++;
                        total++;
                    } else {
                        (*hidden_headline)++;
                    }
                }
            }
        }
        for (const char *const *p = m->headline; *p; p++) {
            if (!strchr(*p, '/'))
                continue;
            for (size_t i = 0; i < n; i++) {
                if (mark[i] || fnmatch(*p, r->metrics[i].name, 0) != 0)
                    continue;
                mark[i] = 1;
                if (per_model < SUMMARY_MODEL_MAX && total < SUMMARY_HEADLINE_MAX) {
                    summary_row(&t, &r->metrics[i], owner[i] != UINT32_MAX, own_rows);
                    per_model++;
                    total++;
                } else {
                    (*hidden_headline)++;
                }
            }
        }
    }
    /* few headlines: means and tails of the other components */
    for (size_t i = 0; i < n && total < SUMMARY_FILL_MAX; i++) {
        if (mark[i] || owner[i] == UINT32_MAX || sim_comp_at(s, owner[i])->model->headline)
            continue;
        const char *name = strchr(r->metrics[i].name, '/') + 1;
        if (fnmatch("*_mean", name, 0) != 0 && fnmatch("*_p99", name, 0) != 0)
            continue;
        mark[i] = 1;
        summary_row(&t, &r->metrics[i], owner[i] != UINT32_MAX, own_rows);
        total++;
    }
    if (total)
        ht_print(&t, stdout);
    shown = total;
done:
    sim_free(order);
    sim_free(ncomp_of);
    ht_free(&t);
    sim_free(mark);
    sim_free(owner);
    sim_free(seen);
    return shown;
}

/* The busiest link directions with bytes, throughput and utilisation.
 * Returns the number of rows printed. */
static size_t summary_links(sqlite3 *h, int64_t run_id, double sim_s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h,
                           "SELECT link, direction, bytes, utilization FROM links WHERE run_id=?"
                           " ORDER BY utilization DESC, bytes DESC, rowid LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, SUMMARY_LINKS_MAX);
    htable t;
    if (ht_init(&t, 5)) {
        sqlite3_finalize(st);
        return 0;
    }
    for (size_t c = 2; c < 5; c++)
        ht_right(&t, c);
    const char *head[5] = {"link", "direction", "bytes", "throughput", "util"};
    ht_add(&t, head);
    size_t rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char link[128], dir[128], bytes[32], rate[32], util[32];
        const char *l = (const char *)sqlite3_column_text(st, 0);
        const char *d = (const char *)sqlite3_column_text(st, 1);
        human_text(link, sizeof link, l ? l : "", 40);
        human_text(dir, sizeof dir, d ? d : "", 48);
        double b = (double)sqlite3_column_int64(st, 2);
        human_value(bytes, sizeof bytes, b, "B", NULL);
        human_value(rate, sizeof rate, sim_s > 0 ? b / sim_s : NAN, "B/s", NULL);
        human_value(util, sizeof util,
                    sqlite3_column_type(st, 3) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 3),
                    "", "utilization");
        const char *row[5] = {link, dir, bytes, rate, util};
        ht_add(&t, row);
        rows++;
    }
    sqlite3_finalize(st);
    if (rows)
        ht_print(&t, stdout);
    ht_free(&t);
    return rows;
}

static void print_summary(sim *s, res_db *db, int64_t run_id, const char *path)
{
    sqlite3 *h = res_handle(db);
    char db_word[4200];
    human_shell_word(db_word, sizeof db_word, path);
    printf("results: %s (run %lld)\n", path, (long long)run_id);
    rdb_run r;
    memset(&r, 0, sizeof r);
    r.id = run_id;
    sim_err err;
    sim_err_clear(&err);
    size_t hidden_headline = 0, metric_rows = 0;
    if (rdb_load_metrics(h, &r, &err) == 0)
        summary_metrics(s, &r, &hidden_headline, &metric_rows);
    size_t link_rows = summary_links(h, run_id, sim_time_to_s(sim_now(s)));
    rdb_run_free(&r);

    /* what was left out, and how to see it */
    static const char *const tables[] = {"metrics", "links",    "kv", "coherence",
                                         "requests", "timeseries", NULL};
    for (size_t i = 0; tables[i]; i++) {
        long long rows = count_rows(h, tables[i], run_id), shown = 0;
        if (strcmp(tables[i], "metrics") == 0)
            shown = (long long)metric_rows;
        else if (strcmp(tables[i], "links") == 0)
            shown = (long long)link_rows;
        if (rows - shown <= 0)
            continue;
        char count[32];
        human_count(count, sizeof count, rows - shown);
        printf("  %s %s%s row%s: memfab show %s %s --run %lld\n", count, shown ? "more " : "",
               tables[i], rows - shown == 1 ? "" : "s", db_word, tables[i], (long long)run_id);
    }
    if (hidden_headline)
        printf("  (%zu headline metric%s did not fit above; they are among the metrics rows)\n",
               hidden_headline, hidden_headline == 1 ? "" : "s");
}

int run_scenario(const run_opts *o)
{
    int status = SIM_EXIT_OK;
    sim_err err;
    sim_err_clear(&err);
    res_db *db = NULL;
    sim *s = NULL;
    scn_doc *doc = load_effective(o);
    if (!doc)
        return SIM_EXIT_USAGE;

    if (load_plugins(o)) {
        scn_free(doc);
        return SIM_EXIT_USAGE;
    }

    s = sim_create();
    if (!s) {
        fprintf(stderr, "memfab: out of memory\n");
        scn_free(doc);
        return SIM_EXIT_RUNTIME;
    }
    int rc = run_build(s, doc, &err);
    if (rc) {
        sim_err_print(&err);
        status = rc == SIM_ENOMEM ? SIM_EXIT_RUNTIME : SIM_EXIT_USAGE;
        goto out;
    }

    char path[4096];
    if (o->out) {
        snprintf(path, sizeof path, "%s", o->out);
    } else {
        mkdir("results", 0777);
        snprintf(path, sizeof path, "results/%s.db", sim_name(s));
    }
    db = o->nosync ? res_open_nosync(path, &err) : res_open(path, &err);
    if (!db) {
        sim_err_print(&err);
        status = err.code == SIM_EFORMAT ? SIM_EXIT_USAGE : SIM_EXIT_RUNTIME;
        goto out;
    }
    char sha[65];
    scn_sha256(doc, sha);
    /* From here on a signal stops the run cleanly instead of killing the
     * process, so the run row never stays 'running'. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int64_t run_id = res_run_begin(db, sim_name(s), sha, sim_seed(s), MEMFAB_VERSION, &err);
    if (run_id < 0) {
        sim_err_print(&err);
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    record_params(db, s, doc);
    if (unchecked[0])
        res_param(db, "memfab.unchecked_keys", unchecked);
    for (int i = 0; i < o->nparams; i++)
        res_param(db, o->param_keys[i], o->param_vals[i]);
    /* The run row is committed; the params are too before the simulation
     * starts, so that even a kill -9 leaves what was run. */
    if (res_flush(db)) {
        fprintf(stderr, "memfab: %s\n", res_errmsg(db));
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    run_sink rs = {db, s, 0, ""};
    sim_sink sink = {&rs,        sink_metric,    sink_link,    sink_ts,
                     sink_request, sink_kv, sink_coherence, sink_request_pd, sink_link_net,
                     sink_tick};
    sim_set_sink(s, &sink);


    run_progress rp = {NULL, 0};
    setup_progress(s, o, doc, &rp);
    double t0 = wall_seconds();
    const char *final = "complete";
    rc = sim_start(s, &err);
    if (rc) {
        sim_err_print(&err);
        final = "failed";
        status = err.code == SIM_ESCENARIO ? SIM_EXIT_USAGE : SIM_EXIT_RUNTIME;
    } else {
        rc = sim_run(s, sim_stop_time(s));
        int fcode;
        const char *why = sim_failure(s, &fcode);
        if (why) {
            sim_err_set(&err, fcode, NULL, 0, 0, "%s", why);
            sim_err_print(&err);
            final = "failed";
            status = fcode == SIM_EFORMAT || fcode == SIM_ESCENARIO ? SIM_EXIT_USAGE
                                                                    : SIM_EXIT_RUNTIME;
        } else if (rc == SIM_EINTR) {
            final = "interrupted";
            status = SIM_EXIT_RUNTIME;
            fprintf(stderr, "memfab: interrupted at t = %.6g s; the run is marked 'interrupted'"
                            " and what was measured is kept\n",
                    sim_time_to_s(sim_now(s)));
        }
        if (sim_finish(s, &err)) {
            sim_err_print(&err);
            final = "failed";
            status = SIM_EXIT_RUNTIME;
        }
    }
    double wall = wall_seconds() - t0;
    sim_report_metric(s, "run", "events", (double)sim_events(s), "events");
    sim_report_metric(s, "run", "sim_time", sim_time_to_s(sim_now(s)), "s");
    if (rs.failed) {
        fprintf(stderr, "memfab: %s\n", rs.msg);
        sim_err_set(&err, SIM_EIO, NULL, 0, 0, "%s", rs.msg);
        final = "failed";
        status = SIM_EXIT_RUNTIME;
    }
    if (strcmp(final, "failed") == 0)
        res_run_error(db, err.msg);
    if (res_run_end(db, final, wall, sim_now(s), sim_events(s), &err)) {
        sim_err_print(&err);
        status = SIM_EXIT_RUNTIME;
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (!o->quiet) {
        char simt[32], evs[32], wallt[32];
        human_value(simt, sizeof simt, sim_time_to_s(sim_now(s)), "s", NULL);
        human_count(evs, sizeof evs, (long long)sim_events(s));
        human_value(wallt, sizeof wallt, wall, "s", NULL);
        printf("%s: %s: simulated %s, %s events in %s (%.3g M events/s)\n", sim_name(s), final,
               simt, evs, wallt, wall > 0 ? (double)sim_events(s) / wall / 1e6 : 0.0);
        print_summary(s, db, run_id, path);
    }
out:
    res_close(db);
    sim_destroy(s);
    scn_free(doc);
    return status;
}

/* ---- command lines ---------------------------------------------------- */

int run_parse_seed(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s || (s[0] == '0' && s[1]))
        return SIM_EINVAL;   /* empty, or a leading zero (octal to strtoull) */
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return SIM_EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return SIM_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static void run_usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: memfab %s SCENARIO.yaml [options]\n"
            "\n"
            "%s\n"
            "\n"
            "options:\n"
            "%s"
            "  --seed N            override the scenario's seed\n"
            "  --set KEY=VALUE     override a scenario value; KEY is a dotted path, e.g.\n"
            "                      --set links.l0.bandwidth='25 GB/s' (list items by name or\n"
            "                      index); repeatable\n"
            "%s"
            "  -q, --quiet         no progress line and no summary\n"
            "  -h, --help          this help\n",
            cmd,
            strcmp(cmd, "run") == 0
                ? "Run a scenario and append its results to a SQLite database (never\n"
                  "overwritten: every run adds a row to `runs`). Ctrl-C stops the run,\n"
                  "keeps what was measured and marks the run 'interrupted'."
                : "Validate a scenario (syntax, keys, units, references) without running it.",
            strcmp(cmd, "run") == 0
                ? "  -o, --output FILE   results database (default results/<scenario name>.db)\n"
                : "",
            strcmp(cmd, "run") == 0
                ? "  --plugin FILE.so    load a policy plug-in (repeatable)\n"
                  "  --progress          progress lines (percent done, ETA) even when stderr\n"
                  "                      is not a terminal: every 2 s and at the end (without\n"
                  "                      it, a line every 10 s once a run lasts that long;\n"
                  "                      MEMFAB_PROGRESS_INTERVAL=SECONDS sets the interval)\n"
                : "");
}

static int parse_run_args(int argc, char **argv, run_opts *o, const char *cmd)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"seed", required_argument, NULL, 'S'},
        {"set", required_argument, NULL, 's'},    {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {"plugin", required_argument, NULL, 'P'},
        {"progress", no_argument, NULL, 'p'},     {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->progress = -1;
    o->sets = sim_calloc((size_t)argc + 1, sizeof *o->sets);
    o->plugins = sim_calloc((size_t)argc + 1, sizeof *o->plugins);
    if (!o->sets || !o->plugins)
        return SIM_EXIT_RUNTIME;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->out = optarg; break;
        case 'S':
            if (run_parse_seed(optarg, &o->seed)) {
                fprintf(stderr, "memfab %s: --seed wants a decimal integer from 0 to"
                                " 18446744073709551615, not '%s'\n", cmd, optarg);
                return SIM_EXIT_USAGE;
            }
            o->have_seed = 1;
            break;
        case 's': o->sets[o->nsets++] = optarg; break;
        case 'P': o->plugins[o->nplugins++] = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'p': o->progress = 1; break;
        case 'h': run_usage(stdout, cmd); return -1;
        default: run_usage(stderr, cmd); return SIM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "memfab %s: expected one scenario file\n", cmd);
        run_usage(stderr, cmd);
        return SIM_EXIT_USAGE;
    }
    o->scenario = argv[optind];
    return 0;
}

static void free_opts(run_opts *o)
{
    sim_free(o->sets);
    sim_free(o->plugins);
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = parse_run_args(argc, argv, &o, "run");
    if (rc == 0)
        rc = run_scenario(&o);
    free_opts(&o);
    return rc < 0 ? 0 : rc;
}

int cmd_check(int argc, char **argv)
{
    run_opts o;
    int rc = parse_run_args(argc, argv, &o, "check");
    if (rc == 0)
        rc = check_scenario(&o);
    free_opts(&o);
    return rc < 0 ? 0 : rc;
}
