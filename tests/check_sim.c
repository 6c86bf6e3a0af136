/*
 * check_sim.c - the run loop, components, parameter tables and streams;
 * sim_round_ps (simtime.h) against llround.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mem.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/check_main.h"
#include "tests/cpulimit.h"

/* A probe model: records the order in which its events arrive. */
typedef struct probe_state {
    sim_time delay;        /* param: a time */
    uint64_t buf;          /* param: a size */
    double bw;             /* param: a rate */
    int mode;              /* param: an enum */
    const char *label;     /* param: a string, required */
    uint64_t seen[64];     /* a0 of handled events, in order */
    sim_time at[64];       /* their times */
    int n;                 /* events handled */
    int stop_after;        /* call sim_stop after this many (0 = never) */
    int fail_after;        /* call sim_fail after this many (0 = never) */
    int samples;           /* sample() calls */
} probe_state;

static const char *const modes[] = {"fast", "slow", NULL};

static const sim_param probe_params[] = {
    {"delay", SIM_P_TIME, "1 us", "ps", "a delay", offsetof(probe_state, delay), NULL},
    {"buf", SIM_P_SIZE, "4 KiB", "B", "a size", offsetof(probe_state, buf), NULL},
    {"bw", SIM_P_RATE, "1 GB/s", "B/s", "a rate", offsetof(probe_state, bw), NULL},
    {"mode", SIM_P_ENUM, "slow", "", "a choice", offsetof(probe_state, mode), modes},
    {"label", SIM_P_STRING, NULL, "", "required text", offsetof(probe_state, label), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static void probe_handle(sim_comp *c, const sim_event *e)
{
    probe_state *p = c->state;
    if (p->n < 64) {
        p->seen[p->n] = e->a0;
        p->at[p->n] = e->time;
    }
    p->n++;
    if (p->stop_after && p->n == p->stop_after)
        sim_stop(c->sim);
    if (p->fail_after && p->n >= p->fail_after)
        sim_fail(c->sim, SIM_EFORMAT, "probe failed at event %d", p->n);
}

static void probe_sample(sim_comp *c, sim_time now)
{
    (void)now;
    ((probe_state *)c->state)->samples++;
}

static const sim_model probe_model = {
    .type = "probe", .summary = "test probe", .params = probe_params,
    .state_size = sizeof(probe_state), .handle = probe_handle, .sample = probe_sample};

static const sim_model *const registry[] = {&probe_model, NULL};

static scn_doc *doc;
static sim *s;
static sim_err err;

static void load(const char *text)
{
    sim_err_clear(&err);
    doc = scn_load_string("t.yaml", text, &err);
    ck_assert_msg(doc, "%s", err.msg);
    s = sim_create();
    ck_assert_ptr_nonnull(s);
}

static void teardown(void)
{
    sim_destroy(s);
    scn_free(doc);
    s = NULL;
    doc = NULL;
}

START_TEST(params_filled_with_units_and_defaults)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, delay: 250 ns, bw: 100 Gb/s,"
         " mode: fast, label: hi}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), 0);
    probe_state *p = sim_find(s, "p")->state;
    ck_assert_uint_eq(p->delay, 250000);
    ck_assert_uint_eq(p->buf, 4096);
    ck_assert(p->bw == 12.5e9);
    ck_assert_int_eq(p->mode, 0);
    ck_assert_str_eq(p->label, "hi");
}
END_TEST

START_TEST(ties_leave_in_insertion_order)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), 0);
    sim_comp *c = sim_find(s, "p");
    /* Interleave two times; equal times must come out in push order. */
    for (uint64_t i = 0; i < 20; i++)
        sim_schedule_at(s, (i % 2) ? 500 : 100, c->id, SIM_EV_USER, i, 0);
    ck_assert_int_eq(sim_start(s, &err), 0);
    ck_assert_int_eq(sim_run(s, SIM_TIME_MAX), 0);
    probe_state *p = c->state;
    ck_assert_int_eq(p->n, 20);
    for (int i = 0; i < 10; i++) {
        ck_assert_uint_eq(p->seen[i], (uint64_t)(2 * i));
        ck_assert_uint_eq(p->seen[10 + i], (uint64_t)(2 * i + 1));
    }
    ck_assert_uint_eq(sim_events(s), 20);
}
END_TEST

START_TEST(run_until_time_and_resume)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), 0);
    sim_comp *c = sim_find(s, "p");
    for (uint64_t i = 1; i <= 10; i++)
        sim_schedule_at(s, i * 1000, c->id, SIM_EV_USER, i, 0);
    ck_assert_int_eq(sim_start(s, &err), 0);
    sim_run(s, 5000); /* inclusive */
    ck_assert_int_eq(((probe_state *)c->state)->n, 5);
    ck_assert_uint_eq(sim_now(s), 5000);
    sim_run(s, 5500);
    ck_assert_uint_eq(sim_now(s), 5500); /* clock advances to the stop time */
    sim_run(s, SIM_TIME_MAX);
    ck_assert_int_eq(((probe_state *)c->state)->n, 10);
    ck_assert_uint_eq(sim_now(s), 10000);
}
END_TEST

START_TEST(component_stops_the_run)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), 0);
    sim_comp *c = sim_find(s, "p");
    ((probe_state *)c->state)->stop_after = 3;
    for (uint64_t i = 1; i <= 10; i++)
        sim_schedule_at(s, i, c->id, SIM_EV_USER, i, 0);
    sim_start(s, &err);
    sim_run(s, SIM_TIME_MAX);
    ck_assert_int_eq(((probe_state *)c->state)->n, 3);
    ck_assert_uint_eq(sim_now(s), 3);
}
END_TEST

START_TEST(sampler_does_not_keep_run_alive)
{
    load("name: t\noutput: {sample_interval: 1 us}\ncomponents:\n"
         "  - {name: p, type: probe, label: x}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), 0);
    sim_comp *c = sim_find(s, "p");
    sim_schedule_at(s, 10 * SIM_US + 1, c->id, SIM_EV_USER, 0, 0);
    sim_start(s, &err);
    sim_run(s, SIM_TIME_MAX);
    probe_state *p = c->state;
    ck_assert_int_eq(p->samples, 10); /* at 1..10 us, then the queue empties */
    ck_assert_uint_eq(sim_now(s), 10 * SIM_US + 1);
    ck_assert_uint_eq(sim_events(s), 1); /* samples are not counted as events */
}
END_TEST

START_TEST(streams_depend_on_seed_and_name)
{
    load("name: t\nseed: 5\ncomponents:\n  - {name: a, type: probe, label: x}\n"
         "  - {name: b, type: probe, label: x}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), 0);
    unsigned long a = gsl_rng_get(sim_find(s, "a")->rng);
    unsigned long b = gsl_rng_get(sim_find(s, "b")->rng);
    ck_assert_uint_ne(a, b);
    /* Same seed and name in another simulator: the same stream. */
    sim *s2 = sim_create();
    ck_assert_int_eq(sim_build(s2, doc, registry, NULL, &err), 0);
    ck_assert_uint_eq(gsl_rng_get(sim_find(s2, "a")->rng), a);
    sim_destroy(s2);
    ck_assert(sim_stream_seed(5, "a") != sim_stream_seed(6, "a"));
    ck_assert(sim_stream_seed(5, "a") != sim_stream_seed(5, "b"));
}
END_TEST

START_TEST(missing_required_param)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "label"));
    ck_assert_int_eq(err.line, 3);
}
END_TEST

START_TEST(unknown_param_suggested)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x, dealy: 1 ns}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "did you mean 'delay'"));
    ck_assert_int_eq(err.line, 3);
}
END_TEST

START_TEST(bad_enum_and_unit)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x, mode: medium}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), SIM_ESCENARIO);
    ck_assert_int_eq(err.line, 3);
    teardown();
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x,\n     delay: 5 furlongs}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), SIM_ESCENARIO);
    ck_assert_int_eq(err.line, 4);
    ck_assert_ptr_nonnull(strstr(err.msg, "delay"));
}
END_TEST

START_TEST(duplicate_names_and_unknown_type)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x}\n"
         "  - {name: p, type: probe, label: y}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate"));
    teardown();
    load("name: t\ncomponents:\n  - {name: p, type: prob, label: x}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "did you mean 'probe'"));
    teardown();
    load("name: t\nwidgets: 3\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "widgets"));
}
END_TEST


START_TEST(component_fails_the_run)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), 0);
    sim_comp *c = sim_find(s, "p");
    ((probe_state *)c->state)->fail_after = 2;
    for (uint64_t i = 1; i <= 10; i++)
        sim_schedule_at(s, i, c->id, SIM_EV_USER, i, 0);
    sim_start(s, &err);
    int code = 0;
    ck_assert_ptr_null(sim_failure(s, &code));
    sim_run(s, SIM_TIME_MAX);
    ck_assert_int_eq(((probe_state *)c->state)->n, 2);
    const char *why = sim_failure(s, &code);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(code, SIM_EFORMAT);
    ck_assert_str_eq(why, "probe failed at event 2"); /* the first failure wins */
}
END_TEST

START_TEST(past_event_fails_not_interrupts)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), 0);
    sim_comp *c = sim_find(s, "p");
    sim_schedule_at(s, 100, c->id, SIM_EV_USER, 0, 0);
    sim_start(s, &err);
    sim_run(s, SIM_TIME_MAX);
    sim_schedule_at(s, 50, c->id, SIM_EV_USER, 0, 0); /* earlier than now */
    ck_assert_ptr_nonnull(sim_failure(s, NULL));
    /* An interrupt flag left by an earlier run does not poison a new
     * simulation in the same process. */
    sim_interrupt();
    sim *s2 = sim_create();
    ck_assert_int_eq(sim_build(s2, doc, registry, NULL, &err), 0);
    sim_comp *c2 = sim_find(s2, "p");
    for (uint64_t i = 1; i <= 5000; i++)
        sim_schedule_at(s2, i, c2->id, SIM_EV_USER, i, 0);
    ck_assert_int_eq(sim_start(s2, &err), 0);
    ck_assert_int_eq(sim_run(s2, SIM_TIME_MAX), 0);
    ck_assert_int_eq(((probe_state *)c2->state)->n, 5000);
    ck_assert_ptr_null(sim_failure(s2, NULL));
    sim_destroy(s2);
}
END_TEST

/* The sink's tick is called from the run loop every 4096 events (the
 * results store commits due rows from it); a failing tick fails the run. */
static int ticks, tick_fail_at;
static int count_tick(void *ctx)
{
    (void)ctx;
    ticks++;
    return tick_fail_at && ticks >= tick_fail_at ? SIM_EIO : 0;
}

START_TEST(sink_tick_every_4096_events)
{
    load("name: t\ncomponents:\n  - {name: p, type: probe, label: x}\n");
    ck_assert_int_eq(sim_build(s, doc, registry, NULL, &err), 0);
    sim_sink sink = {0};
    sink.tick = count_tick;
    sim_set_sink(s, &sink);
    sim_comp *c = sim_find(s, "p");
    for (uint64_t i = 1; i <= 10000; i++)
        sim_schedule_at(s, i, c->id, SIM_EV_USER, i, 0);
    ticks = 0;
    tick_fail_at = 0;
    ck_assert_int_eq(sim_start(s, &err), 0);
    sim_run(s, SIM_TIME_MAX);
    ck_assert_int_eq(ticks, 2);   /* after events 4096 and 8192 */
    ck_assert_ptr_null(sim_failure(s, NULL));
    /* a store that cannot commit fails the run at that tick */
    for (uint64_t i = 1; i <= 10000; i++)
        sim_schedule_at(s, 20000 + i, c->id, SIM_EV_USER, i, 0);
    ticks = 0;
    tick_fail_at = 1;
    sim_run(s, SIM_TIME_MAX);
    int code = 0;
    ck_assert_ptr_nonnull(sim_failure(s, &code));
    ck_assert_int_eq(code, SIM_EIO);
    ck_assert_uint_eq(sim_events(s), 12288);   /* stopped at the failing tick */
}
END_TEST

/* ---- ports: a component's link ------------------------------------------- */

static const sim_model dot_model = {.type = "dot", .summary = "an end", .state_size = 0};
static const sim_model wire_model = {.type = "wire", .summary = "a link", .is_link = 1,
                                     .state_size = 0};

/* `pairs` pairs of dots, each joined by a wire (wire i: a{i} - b{i}), and
 * one hub with two wires (ambiguous). */
static sim *ported(uint32_t pairs)
{
    sim *x = sim_create();
    ck_assert_ptr_nonnull(x);
    char name[32];
    for (uint32_t i = 0; i < pairs; i++) {
        snprintf(name, sizeof name, "a%u", i);
        sim_comp *a = sim_add(x, &dot_model, name, NULL, &err);
        snprintf(name, sizeof name, "b%u", i);
        sim_comp *b = sim_add(x, &dot_model, name, NULL, &err);
        if (!a || !b)
            return NULL;
        uint32_t ends[2] = {a->id, b->id};
        snprintf(name, sizeof name, "w%u", i);
        if (!sim_add_link(x, &wire_model, name, NULL, ends, &err))
            return NULL;
    }
    sim_comp *hub = sim_add(x, &dot_model, "hub", NULL, &err);
    sim_comp *c = sim_add(x, &dot_model, "c", NULL, &err);
    if (!hub || !c)
        return NULL;
    uint32_t e1[2] = {hub->id, c->id}, e2[2] = {c->id, hub->id};
    if (!sim_add_link(x, &wire_model, "h1", NULL, e1, &err) ||
        !sim_add_link(x, &wire_model, "h2", NULL, e2, &err))
        return NULL;
    return x;
}

/* 1 when every dot finds its wire and side, the hub none (two wires) unless
 * named. */
static int ports_ok(sim *x, uint32_t pairs)
{
    char name[32];
    int side = -1;
    for (uint32_t i = 0; i < pairs; i++) {
        snprintf(name, sizeof name, "w%u", i);
        sim_comp *w = sim_find(x, name);
        snprintf(name, sizeof name, "a%u", i);
        if (sim_port(x, sim_find(x, name), NULL, &side) != w || side != 0)
            return 0;
        snprintf(name, sizeof name, "b%u", i);
        if (sim_port(x, sim_find(x, name), NULL, &side) != w || side != 1)
            return 0;
    }
    sim_comp *hub = sim_find(x, "hub");
    if (sim_port(x, hub, NULL, &side) != NULL)
        return 0;
    if (sim_port(x, hub, "h2", &side) != sim_find(x, "h2") || side != 1)
        return 0;
    if (pairs && (sim_port(x, hub, "w0", &side) != NULL || sim_port(x, hub, "a0", &side) != NULL))
        return 0; /* not its link; not a link */
    return 1;
}

START_TEST(ports_found_and_ambiguous)
{
    s = ported(3);
    ck_assert_ptr_nonnull(s);
    ck_assert(ports_ok(s, 3));
    /* a component added after the first lookup is seen */
    sim_comp *d = sim_add(s, &dot_model, "late", NULL, &err);
    uint32_t e[2] = {sim_find(s, "c")->id, d->id};
    sim_comp *w = sim_add_link(s, &wire_model, "wl", NULL, e, &err);
    int side;
    ck_assert_ptr_eq(sim_port(s, d, NULL, &side), w);
    ck_assert_int_eq(side, 1);
    ck_assert_ptr_null(sim_port(s, sim_find(s, "c"), NULL, &side)); /* now three wires */
}
END_TEST

/* Resolving every component's port is linear: 50,000 pairs (150,000
 * components) within a CPU limit of 10 s. The scan of every component per
 * lookup took 20 s for 20,000 pairs (about 2 min here). */
static int many_ports(void *arg)
{
    (void)arg;
    enum { PAIRS = 50000 };
    sim *x = ported(PAIRS);
    int ok = x && ports_ok(x, PAIRS);
    sim_destroy(x);
    return !ok;
}

START_TEST(ports_linear)
{
    if (cpulimit_under_valgrind()) {
        fprintf(stderr, "check_sim: under valgrind: the CPU-limited port test is skipped\n");
        return;
    }
    char why[128];
    ck_assert_msg(cpulimit_run(many_ports, NULL, 10, why, sizeof why) == 0,
                  "ports of 150,000 components: %s", why);
}
END_TEST

/* sim_round_ps is (sim_time)llround(x) for every x: halves (k + 0.5 rounds
 * away from zero, up), the doubles either side of a half, the largest
 * fraction below 1 (0.49999999999999994 rounds down, as llround), integers
 * up to 2^53 and beyond (where every double is an integer), the bound
 * 2^63, negative values and 600,000 random ones over 60 binades. */
START_TEST(round_ps_is_llround)
{
    static const double fixed[] = {0.0, 0.49999999999999994, 0.5, 1.5, 2.5, 1e12 + 0.5,
                                   4503599627370495.5, 4503599627370496.0, 9007199254740993.0,
                                   9223372036854774784.0, 9223372036854775808.0, -0.4, -0.5,
                                   -2.5, -1e15};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        ck_assert_msg(sim_round_ps(fixed[i]) == (sim_time)llround(fixed[i]), "%.17g", fixed[i]);
    uint64_t r = 88172645463325252ull;
    for (int i = 0; i < 600000; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        double x = ldexp((double)(r >> 11), (int)(r % 60) - 53); /* [0, 2^60) */
        if (i % 3 == 1)
            x = floor(x) + 0.5;
        else if (i % 3 == 2)
            x = nextafter(floor(x) + 0.5, (r & 1) ? 0.0 : INFINITY);
        if (sim_round_ps(x) != (sim_time)llround(x)) /* ck_assert per value is slow */
            ck_abort_msg("%.17g: %llu, llround %lld", x, (unsigned long long)sim_round_ps(x),
                         llround(x));
    }
}
END_TEST

static Suite *sim_suite(void)
{
    Suite *su = suite_create("sim");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, NULL, teardown);
    tcase_add_test(core, params_filled_with_units_and_defaults);
    tcase_add_test(core, round_ps_is_llround);
    tcase_add_test(core, ties_leave_in_insertion_order);
    tcase_add_test(core, run_until_time_and_resume);
    tcase_add_test(core, component_stops_the_run);
    tcase_add_test(core, component_fails_the_run);
    tcase_add_test(core, past_event_fails_not_interrupts);
    tcase_add_test(core, sampler_does_not_keep_run_alive);
    tcase_add_test(core, streams_depend_on_seed_and_name);
    tcase_add_test(core, sink_tick_every_4096_events);
    tcase_add_test(core, ports_found_and_ambiguous);
    suite_add_tcase(su, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_checked_fixture(lim, NULL, teardown);
    tcase_set_timeout(lim, 60);
    tcase_add_test(lim, ports_linear);
    suite_add_tcase(su, lim);
    TCase *errors = tcase_create("Errors");
    tcase_add_checked_fixture(errors, NULL, teardown);
    tcase_add_test(errors, missing_required_param);
    tcase_add_test(errors, unknown_param_suggested);
    tcase_add_test(errors, bad_enum_and_unit);
    tcase_add_test(errors, duplicate_names_and_unknown_type);
    suite_add_tcase(su, errors);
    return su;
}

int main(void)
{
    return check_main(sim_suite());
}
