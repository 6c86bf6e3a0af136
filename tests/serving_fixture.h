/*
 * serving_fixture.h - run a serving scenario given as text, for the suites
 * of the serving layer (check_serving, check_pd, check_uvmkv, check_kvpool,
 * check_kvtier, check_kvdirect): load, build the components and the
 * serving sections, start, run to the stop time, finish, with the results
 * going to the caller's sink; write a small native trace for it; and the
 * roofline step times of Llama-2-7B on one H100, written out by hand from
 * the model's config numbers (not from the code) for check_serving and
 * check_energy. Header-only: each test program includes it once.
 */
#ifndef MEMFAB_TESTS_SERVING_FIXTURE_H
#define MEMFAB_TESTS_SERVING_FIXTURE_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "models/registry.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/check_main.h"

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

/* Llama-2-7B (P parameters, L layers, H heads of D, KV bytes per token) on
 * one H100 at 60% of its 989 TFLOP/s and 80% of its 3.35 TB/s:
 *   chunk of c tokens after o:  FLOPs = 2 P c + 4 L H D (c o + c(c+1)/2)
 *                               bytes = 2 P + KV (o + c)
 *   decode at context n:        FLOPs = 2 P + 4 L H D n,  bytes = 2 P + KV n
 *   t = max(FLOPs / F, bytes / BW), in ps. */
static const double sfx_P = 6738415616.0, sfx_L = 32, sfx_H = 32, sfx_D = 128, sfx_KV = 524288;
static const double sfx_F = 989e12 * 0.6, sfx_BW = 3.35e12 * 0.8;

static __attribute__((unused)) sim_time sfx_chunk_ps(double c, double o)
{
    double flops = 2 * sfx_P * c + 4 * sfx_L * sfx_H * sfx_D * (c * o + c * (c + 1) / 2);
    double bytes = 2 * sfx_P + sfx_KV * (o + c);
    return (sim_time)llround(fmax(flops / sfx_F, bytes / sfx_BW) * 1e12);
}

static __attribute__((unused)) sim_time sfx_decode_ps(double n)
{
    double flops = 2 * sfx_P + 4 * sfx_L * sfx_H * sfx_D * n;
    double bytes = 2 * sfx_P + sfx_KV * n;
    return (sim_time)llround(fmax(flops / sfx_F, bytes / sfx_BW) * 1e12);
}

/* Write the trace `header` line and `rows` to TMPDIR/memfab-NAME-PID.trace,
 * whose path goes to path (len bytes); the caller unlinks it. */
static __attribute__((unused)) void sfx_write_trace(char *path, size_t len, const char *name,
                                                    const char *header, const char *rows)
{
    snprintf(path, len, "%s/memfab-%s-%d.trace", test_tmpdir(), name, (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fprintf(f, "%s\n%s", header, rows);
    fclose(f);
}

#endif
