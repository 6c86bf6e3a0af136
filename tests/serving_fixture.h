/*
 * serving_fixture.h - run a serving scenario given as text, for the suites
 * of the serving layer (check_serving, check_pd, check_uvmkv, check_kvpool,
 * check_kvtier, check_kvdirect): load, build the components and the
 * serving sections, start, run to the stop time, finish, with the results
 * going to the caller's sink; and write a small native trace for it.
 * Header-only: each test program includes it once.
 */
#ifndef MEMFAB_TESTS_SERVING_FIXTURE_H
#define MEMFAB_TESTS_SERVING_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <unistd.h>

#include "models/registry.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"

/* Called with the simulator: `before_finish` after the run and before
 * sim_finish (components still hold their run state), `after_finish`
 * after a successful finish (totals are final). Either may be NULL. */
typedef void (*sfx_hook)(sim *s);

static const char *const sfx_sections[] = {"workload", "kv", "router", "fabric", NULL};

/* 0, or the first error's code with err filled. `file` names the text in
 * error messages. */
static __attribute__((unused)) int sfx_run(const char *file, const char *text,
                                           const sim_sink *sink, sfx_hook before_finish,
                                           sfx_hook after_finish, sim_err *err)
{
    sim_err_clear(err);
    scn_doc *doc = scn_load_string(file, text, err);
    if (!doc)
        return err->code;
    sim *s = sim_create();
    sim_set_sink(s, sink);
    int rc = sim_build(s, doc, memfab_models, sfx_sections, err);
    if (!rc)
        rc = serving_build(s, doc, err);
    if (!rc)
        rc = sim_start(s, err);
    if (!rc)
        rc = sim_run(s, sim_stop_time(s));
    if (!rc && before_finish)
        before_finish(s);
    if (!rc)
        rc = sim_finish(s, err);
    if (!rc && after_finish)
        after_finish(s);
    sim_destroy(s);
    scn_free(doc);
    return rc;
}

/* Write the trace `header` line and `rows` to /tmp/memfab-NAME-PID.trace,
 * whose path goes to path (len bytes); the caller unlinks it. */
static __attribute__((unused)) void sfx_write_trace(char *path, size_t len, const char *name,
                                                    const char *header, const char *rows)
{
    snprintf(path, len, "/tmp/memfab-%s-%d.trace", name, (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fprintf(f, "%s\n%s", header, rows);
    fclose(f);
}

#endif
