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

#include <getopt.h>
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
#include "results/res.h"
#include "sim/mem.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tools/commands.h"

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
static int sink_ts(void *ctx, const char *scope, const char *name, sim_time t, double v)
{
    run_sink *k = ctx;
    return note(k, res_timeseries(k->db, scope, name, t, v));
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
    res_param(ctx, key, value);
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

static void print_summary(res_db *db, int64_t run_id, const char *path)
{
    sqlite3 *h = res_handle(db);
    sqlite3_stmt *st;
    printf("results: %s (run %lld)\n", path, (long long)run_id);
    if (sqlite3_prepare_v2(h,
                           "SELECT link, direction, bytes, utilization FROM links WHERE run_id=?"
                           " ORDER BY rowid LIMIT 12",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        int first = 1;
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (first)
                printf("  %-16s %-24s %14s %8s\n", "link", "direction", "bytes", "util");
            first = 0;
            printf("  %-16s %-24s %14lld %7.1f%%\n", sqlite3_column_text(st, 0),
                   sqlite3_column_text(st, 1), (long long)sqlite3_column_int64(st, 2),
                   100.0 * sqlite3_column_double(st, 3));
        }
        sqlite3_finalize(st);
    }
    if (sqlite3_prepare_v2(h,
                           "SELECT scope, name, value, unit FROM metrics WHERE run_id=? AND"
                           " (scope='run' OR name LIKE '%mean' OR name LIKE '%p99')"
                           " ORDER BY rowid LIMIT 16",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        int first = 1;
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (first)
                printf("  %-16s %-32s %14s\n", "scope", "metric", "value");
            first = 0;
            printf("  %-16s %-32s %14.6g %s\n", sqlite3_column_text(st, 0),
                   sqlite3_column_text(st, 1), sqlite3_column_double(st, 2),
                   sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : "");
        }
        sqlite3_finalize(st);
    }
    printf("query: sqlite3 %s \"SELECT * FROM metrics WHERE run_id=%lld\"\n", path,
           (long long)run_id);
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
    db = res_open(path, &err);
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
    scn_flatten(doc, param_leaf, db);
    if (unchecked[0])
        res_param(db, "memfab.unchecked_keys", unchecked);
    run_sink rs = {db, 0, ""};
    sim_sink sink = {&rs,        sink_metric,    sink_link,    sink_ts,
                     sink_request, sink_kv, sink_coherence, sink_request_pd, sink_link_net};
    sim_set_sink(s, &sink);


    int progress = o->progress < 0 ? (!o->quiet && isatty(2)) : o->progress;
    sim_set_progress(s, progress);
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
        printf("%s: %s: simulated %.6g s, %llu events in %.3f s (%.3g M events/s)\n",
               sim_name(s), final, sim_time_to_s(sim_now(s)), (unsigned long long)sim_events(s),
               wall, wall > 0 ? (double)sim_events(s) / wall / 1e6 : 0.0);
        print_summary(db, run_id, path);
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
                  "  --progress          progress line even when stderr is not a terminal\n"
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
