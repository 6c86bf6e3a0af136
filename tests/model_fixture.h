/*
 * model_fixture.h - build a scenario given as text from the model registry
 * (no serving sections), start it, run it and finish it, with every
 * metric, link and time-series row captured in `cap` (tests/capture.h);
 * the models' own test suites (check_cohfab, check_hdmdb, check_mesi)
 * script events between mfx_build() and mfx_finish(). Header-only: each
 * test program includes it once; mfx_teardown is its Check fixture
 * teardown.
 */
#ifndef MEMFAB_TESTS_MODEL_FIXTURE_H
#define MEMFAB_TESTS_MODEL_FIXTURE_H

#include <check.h>
#include <string.h>

#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"

static __attribute__((unused)) capture cap;
static scn_doc *doc;
static sim *S;
static sim_err err;

static void mfx_teardown(void)
{
    if (S)
        sim_destroy(S);
    if (doc)
        scn_free(doc);
    S = NULL;
    doc = NULL;
}

/* Load `text` (named `file` in errors; NULL: the file `file`), build and
 * start it with its rows going to `sink` (NULL: nowhere); a failure fails
 * the test with the error. */
static void mfx_build_to(const char *file, const char *text, const sim_sink *sink)
{
    mfx_teardown();
    doc = capture_load(file, text, NULL, &err);
    S = sim_create();
    if (sink)
        sim_set_sink(S, sink);
    ck_assert_msg(sim_build(S, doc, memfab_models, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(sim_start(S, &err) == 0, "%s", err.msg);
}

/* mfx_build_to with every row captured in cap. */
static __attribute__((unused)) void mfx_build(const char *file, const char *text)
{
    sim_sink k = capture_sink(&cap);
    mfx_build_to(file, text, &k);
}

/* Run until `until` (SIM_TIME_MAX: no event left) and finish. */
static __attribute__((unused)) void mfx_finish_at(sim_time until)
{
    ck_assert_int_eq(sim_run(S, until), 0);
    ck_assert_msg(sim_finish(S, &err) == 0, "%s", err.msg);
}

/* The component of that name; fails the test when there is none. */
static __attribute__((unused)) sim_comp *mfx_comp(const char *n)
{
    sim_comp *c = sim_find(S, n);
    ck_assert_msg(c, "no %s", n);
    return c;
}

/* Bad input: building or starting `text` fails with a message containing
 * `needle` at line `line` (and some column). */
static __attribute__((unused)) void mfx_bad(const char *text, const char *needle, int line)
{
    mfx_teardown();
    sim_err_clear(&err);
    doc = scn_load_string("bad.yaml", text, &err);
    ck_assert_msg(doc, "%s", err.msg);
    S = sim_create();
    int rc = sim_build(S, doc, memfab_models, NULL, &err);
    if (!rc)
        rc = sim_start(S, &err);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(err.msg, needle), "message: %s", err.msg);
    ck_assert_int_eq(err.line, line);
    ck_assert_int_gt(err.col, 0);
}

#endif
