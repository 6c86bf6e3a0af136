/*
 * capture.h - a sim_sink that keeps metrics and link rows in memory, for
 * tests that run a simulation without a database, and capture_run, which
 * loads a scenario (text or file, with --set overrides), builds, starts,
 * runs and finishes it into that sink, and capture_cli_check, which runs
 * `memfab check` on a scenario text. Header-only on purpose: each test
 * program includes it once.
 */
#ifndef MEMFAB_TESTS_CAPTURE_H
#define MEMFAB_TESTS_CAPTURE_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "models/registry.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/check_main.h"

#define CAPTURE_MAX 4096

typedef struct capture_row {
    char scope[96];
    char name[160];
    double value;
} capture_row;

typedef struct capture {
    capture_row rows[CAPTURE_MAX];
    int n;
    uint64_t link_bytes[64], link_busy[64];
    double link_util[64];
    char link_dir[64][96];
    int nlinks;
    uint64_t requests, timeseries;
    double ts_sum, ts_wsum;  /* sum of the series' values, and weighted by their time */
} capture;

static inline int capture_metric(void *ctx, const char *scope, const char *name, double value,
                          const char *unit)
{
    capture *c = ctx;
    (void)unit;
    if (c->n < CAPTURE_MAX) {
        snprintf(c->rows[c->n].scope, sizeof c->rows[c->n].scope, "%s", scope);
        snprintf(c->rows[c->n].name, sizeof c->rows[c->n].name, "%s", name);
        c->rows[c->n++].value = value;
    }
    return 0;
}

static inline int capture_link(void *ctx, const char *link, const char *dir, uint64_t bytes,
                        uint64_t packets, uint64_t busy, double util)
{
    capture *c = ctx;
    (void)link;
    (void)packets;
    if (c->nlinks < 64) {
        snprintf(c->link_dir[c->nlinks], sizeof c->link_dir[0], "%s", dir);
        c->link_bytes[c->nlinks] = bytes;
        c->link_busy[c->nlinks] = busy;
        c->link_util[c->nlinks++] = util;
    }
    return 0;
}

static inline int capture_ts(void *ctx, const char *scope, const char *name, sim_time t, double v)
{
    ((capture *)ctx)->ts_sum += v;
    ((capture *)ctx)->ts_wsum += v * (double)(t % 1000003);
    (void)scope; (void)name; (void)t; (void)v;
    ((capture *)ctx)->timeseries++;
    return 0;
}

static inline int capture_request(void *ctx, uint64_t id, const char *session, const char *instance,
                           sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                           uint64_t out, uint64_t cached)
{
    (void)id; (void)session; (void)instance; (void)arrival; (void)first; (void)finish;
    (void)in; (void)out; (void)cached;
    ((capture *)ctx)->requests++;
    return 0;
}

/* The sink that keeps rows in c, cleared. */
static inline sim_sink capture_sink(capture *c)
{
    memset(c, 0, sizeof *c);
    sim_sink k = {c, capture_metric, capture_link, capture_ts, capture_request, NULL, NULL, NULL, NULL, NULL};
    return k;
}

static inline void capture_attach(capture *c, sim *s)
{
    sim_sink k = capture_sink(c);
    sim_set_sink(s, &k);
}

/* The value of metric scope/name, or NAN. */
static inline double capture_get(const capture *c, const char *scope, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->rows[i].scope, scope) == 0 && strcmp(c->rows[i].name, name) == 0)
            return c->rows[i].value;
    return NAN;
}

/* The value of metric scope/name; its absence fails the test. */
static inline double capture_must(const capture *c, const char *scope, const char *name)
{
    double v = capture_get(c, scope, name);
    ck_assert_msg(!isnan(v), "no metric %s/%s", scope, name);
    return v;
}

/* got within rel (a fraction) of want, or the test fails saying `what`. */
static inline void capture_close(double got, double want, double rel, const char *what)
{
    ck_assert_msg(fabs(got - want) <= rel * fabs(want), "%s: got %.9g, expected %.9g (%.4f%% off)",
                  what, got, want, 100.0 * fabs(got - want) / fabs(want));
}

/* Load a scenario: `text` named `file` in errors, or the file `file` when
 * text is NULL; then apply the overrides `sets` ("a.b=v", NULL-terminated,
 * or NULL) as --set does. A failure fails the test with the error. */
static inline scn_doc *capture_load(const char *file, const char *text, const char *const *sets,
                                    sim_err *err)
{
    sim_err_clear(err);
    scn_doc *doc = text ? scn_load_string(file, text, err) : scn_load(file, err);
    ck_assert_msg(doc, "%s", err->msg);
    for (size_t i = 0; sets && sets[i]; i++)
        ck_assert_msg(scn_set(doc, sets[i], err) == 0, "%s", err->msg);
    return doc;
}

/* Load `text` (named `file` in errors), build it with no sink and, when
 * `start`, start it; then free it all. For scenarios that must fail: 0 or
 * the first error's code, with err filled. */
static inline int capture_build(const char *file, const char *text, int start, sim_err *err)
{
    scn_doc *doc = capture_load(file, text, NULL, err);
    sim *s = sim_create();
    int rc = sim_build(s, doc, memfab_models, NULL, err);
    if (!rc && start)
        rc = sim_start(s, err);
    sim_destroy(s);
    scn_free(doc);
    return rc;
}

typedef void (*capture_hook)(sim *s);

/* How capture_run runs a scenario; a zero field takes the default. */
typedef struct capture_opts {
    const char *file;             /* the text's name in errors ("t.yaml"), or the file to load */
    const char *const *sets;      /* overrides as capture_load takes them */
    const sim_sink *sink;         /* the sink instead of the capture's own (cap is cleared still) */
    const char *const *sections;  /* the top-level sections sim_build leaves to others */
    int serving;                  /* build the serving sections when there is a workload */
    sim_time until;               /* run until then (0: until no event is left) */
    int to_stop;                  /* run until the scenario's stop time instead */
    capture_hook started;         /* after sim_start, before the run */
    capture_hook run;             /* runs the simulation instead of sim_run (and asserts) */
    capture_hook ran;             /* after the run, before sim_finish */
    capture_hook finished;        /* after sim_finish */
} capture_opts;

/* Load `text` (NULL: the file o->file), build, start, run and finish it
 * with the rows going to `cap`; the run and the finish must succeed. o may
 * be NULL. Returns 0 or the build or start code, with err filled. */
static inline int capture_run(capture *cap, const char *text, const capture_opts *o, sim_err *err)
{
    static const capture_opts none;
    if (!o)
        o = &none;
    scn_doc *doc = capture_load(o->file ? o->file : "t.yaml", text, o->sets, err);
    sim *s = sim_create();
    capture_attach(cap, s);
    if (o->sink)
        sim_set_sink(s, o->sink);
    int rc = sim_build(s, doc, memfab_models, o->sections, err);
    if (!rc && o->serving && scn_map_get(scn_root(doc), "workload"))
        rc = serving_build(s, doc, err);
    if (!rc)
        rc = sim_start(s, err);
    if (!rc) {
        if (o->started)
            o->started(s);
        if (o->run)
            o->run(s);
        else
            ck_assert_int_eq(sim_run(s, o->to_stop ? sim_stop_time(s)
                                        : o->until ? o->until : SIM_TIME_MAX), 0);
        if (o->ran)
            o->ran(s);
        ck_assert_msg(sim_finish(s, err) == 0, "%s", err->msg);
        if (o->finished)
            o->finished(s);
    }
    sim_destroy(s);
    scn_free(doc);
    return rc;
}

/* `memfab check` (the binary bin) on `text` written to a temporary file,
 * removed after: the exit status (-1: not a normal exit), with the file's
 * path in path (256 bytes) and the output (stdout and stderr) in out
 * (outlen bytes). */
static inline int capture_cli_check(const char *bin, const char *text, char path[256], char *out,
                                    size_t outlen)
{
    snprintf(path, 256, "%s/memfab-check-XXXXXX.yaml", test_tmpdir());
    int fd = mkstemps(path, 5);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' check '%s' 2>&1", bin, path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    remove(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
