/*
 * check_prio.c - priority classes, priority scheduling, SLO-aware
 * admission and the token-bucket rate limit of the serving layer
 * (serving.c gate_submit, instance.c "Priorities"), and the instance's
 * per-request CPU costs (instance.c "CPU costs"), held to hand-computed
 * numbers.
 *
 * Every case runs one llama3-8b instance with the linear step time
 *   step = step_fixed + 100 us x prefill tokens + 1 ms x decode tokens
 * (step_fixed 0, no context term), so a 100-token prompt prefills in
 * exactly 10 ms and each decode step of one sequence lasts 1 ms; prefix
 * caching is off, so a recomputed request prefills all its tokens again.
 *
 *   priority order  six requests at t = 0, classes low/high/mid/low/high/
 *                   mid (priorities 0/2/1), max_seqs 1: served in the
 *                   order 1 4 2 5 0 3, each 10 + 1 ms, so the k-th served
 *                   finishes at 11 (k + 1) ms. FCFS serves 0..5.
 *   preemption      a low request (100 + 10 tokens) runs alone (max_seqs
 *                   1); a high one arrives at 12.5 ms. At the step end of
 *                   13 ms the low one has 4 tokens (first at 10, then 11,
 *                   12, 13) and is preempted (vLLM v0's priority
 *                   preemption); the high one prefills in [13, 23] and
 *                   decodes in [23, 24]; the low one recomputes 104 tokens
 *                   (10.4 ms) to 34.4 ms, yielding its 5th token, and its
 *                   last 5 decode steps end at 39.4 ms.
 *   token bucket    rate 100/s, burst 5, one request every 1 ms from 0 to
 *                   1 s: a full bucket admits its 5, then one token every
 *                   10 ms, so over [0, T] exactly 5 + 100 T requests pass
 *                   (T = 0.5 s: 55, T = 1 s: 105) and the rest are
 *                   rejected (a token bucket's arrival curve b + r T; Le
 *                   Boudec and Thiran, Network Calculus, 2001, sec. 1.2).
 *   admission       seven requests at t = 0 of classes A (TTFT SLO 35 ms)
 *                   and B (no SLO) alternately, 100-token prompts, one
 *                   output token, max_batched_tokens 100: the k-th admitted
 *                   waits for k prefills, so a request with j admitted
 *                   ahead is predicted (j + 1) x 10 ms. A0 10, B1, A2 30,
 *                   B3, A4 50 > 35 rejected, B5, A6 (5 ahead) 60 rejected:
 *                   exactly requests 4 and 6, and A2's TTFT is its
 *                   prediction, 30 ms.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/serving/instance.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/serving_fixture.h"

#define MAXREQ 2048

typedef struct rec {
    capture cap; /* first: capture_metric casts ctx */
    uint64_t n;
    sim_time arrival[MAXREQ], first[MAXREQ], finish[MAXREQ];
    uint64_t order[MAXREQ]; /* ids in the order their rows came (completion order) */
} rec;

static rec *R;
static inst_counters C0;
static char trace_path[256];

static int rec_request(void *ctx, uint64_t id, const char *session, const char *instance,
                       sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                       uint64_t out, uint64_t cached)
{
    rec *r = ctx;
    (void)session, (void)instance, (void)in, (void)out, (void)cached;
    if (id < MAXREQ) {
        r->arrival[id] = arrival;
        r->first[id] = first;
        r->finish[id] = finish;
    }
    if (r->n < MAXREQ)
        r->order[r->n] = id;
    r->n++;
    return 0;
}

static void keep_stats(sim *s) { C0 = *inst_stats(sim_find(s, "inst0")); }

static int run(const char *text, sim_err *err)
{
    memset(R, 0, sizeof *R);
    memset(&C0, 0, sizeof C0);
    sim_sink k = {R, capture_metric, NULL, NULL, rec_request, NULL, NULL, NULL, NULL, NULL};
    return sfx_run("test.yaml", text, &k, keep_stats, NULL, err);
}

/* A native trace with a class column: n lines of "id arrival_ps session
 * input output class". */
static void write_trace(const char *lines)
{
    sfx_write_trace(trace_path, sizeof trace_path, "prio", "# memfab-trace v1 classes=1", lines);
}

static void setup(void)
{
    R = calloc(1, sizeof *R);
    snprintf(trace_path, sizeof trace_path, "%s/memfab-prio-%d.trace", test_tmpdir(),
             (int)getpid());
}

static void teardown(void)
{
    unlink(trace_path);
    free(R);
}

#define MS 1000000000ull /* ps */

/* The instance of every case (the linear step time of the head comment). */
static void scenario(char *text, size_t len, const char *inst_extra, const char *workload_extra)
{
    snprintf(text, len,
             "name: prio\nstop: trace_end\n"
             "components:\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, step_time: linear,"
             " step_fixed: 0 s, step_per_prefill_token: 100 us, step_per_decode_token: 1 ms,"
             " step_per_context_token: 0 s%s}\n"
             "workload: {trace: %s, format: native%s}\n"
             "kv: {block_tokens: 16, prefix_caching: false}\n",
             inst_extra, trace_path, workload_extra);
}

static const char *const three_classes =
    ", classes: [{name: low, share: 0.5, priority: 0}, {name: mid, share: 0.25, priority: 1},"
    " {name: high, share: 0.25, priority: 2}]";

START_TEST(strict_priority_order)
{
    /* classes low=0, mid=1, high=2 (indices); ids 0..5 low high mid low high mid */
    write_trace("0 0 1 100 2 0\n1 0 2 100 2 2\n2 0 3 100 2 1\n"
                "3 0 4 100 2 0\n4 0 5 100 2 2\n5 0 6 100 2 1\n");
    sim_err err;
    char text[2048];
    scenario(text, sizeof text, ", max_seqs: 1, scheduling: priority", three_classes);
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    const uint64_t want[6] = {1, 4, 2, 5, 0, 3};
    ck_assert_uint_eq(R->n, 6);
    for (int k = 0; k < 6; k++) {
        ck_assert_uint_eq(R->order[k], want[k]);
        ck_assert_uint_eq(R->finish[want[k]], 11 * (uint64_t)(k + 1) * MS);
        ck_assert_uint_eq(R->first[want[k]], (11 * (uint64_t)k + 10) * MS);
    }
    ck_assert_double_eq(capture_get(&R->cap, "class:high", "completed"), 2);
    ck_assert_double_eq(capture_get(&R->cap, "class:high", "ttft_mean"), (0.010 + 0.021) / 2);
    ck_assert_double_eq(capture_get(&R->cap, "class:low", "requests"), 2);
    /* the same under fcfs: arrival order */
    scenario(text, sizeof text, ", max_seqs: 1", three_classes);
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    for (int k = 0; k < 6; k++) {
        ck_assert_uint_eq(R->order[k], (uint64_t)k);
        ck_assert_uint_eq(R->finish[k], 11 * (uint64_t)(k + 1) * MS);
    }
}
END_TEST

START_TEST(higher_class_preempts_lower)
{
    write_trace("0 0 1 100 10 0\n1 12500000000 2 100 2 2\n");
    sim_err err;
    char text[2048];
    scenario(text, sizeof text, ", max_seqs: 1, scheduling: priority", three_classes);
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(C0.priority_preemptions, 1);
    ck_assert_uint_eq(C0.preemptions, 1);
    ck_assert_uint_eq(R->first[1], 23 * MS);
    ck_assert_uint_eq(R->finish[1], 24 * MS);
    ck_assert_uint_eq(R->first[0], 10 * MS);
    ck_assert_uint_eq(R->finish[0], 39400000000ull);
    ck_assert_double_eq(capture_get(&R->cap, "class:low", "preempted"), 1);
    ck_assert_double_eq(capture_get(&R->cap, "class:high", "preempted"), 0);
    ck_assert_double_eq(capture_get(&R->cap, "inst0", "prefill_tokens_computed"), 304);
    /* FCFS: no preemption; the high one waits for the low one (19 ms) */
    scenario(text, sizeof text, ", max_seqs: 1", three_classes);
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(C0.preemptions, 0);
    ck_assert_uint_eq(R->finish[0], 19 * MS);
    ck_assert_uint_eq(R->first[1], 29 * MS);
}
END_TEST

START_TEST(token_bucket_admits_burst_plus_rate_t)
{
    /* one request every 1 ms over [0, 1 s]: 1001 requests of 1 + 1 tokens */
    size_t cap = 1001 * 40, len = 0;
    char *lines = malloc(cap);
    ck_assert(lines);
    for (int i = 0; i <= 1000; i++)
        len += (size_t)snprintf(lines + len, cap - len, "%d %llu 0 1 1 0\n", i,
                                (unsigned long long)i * MS);
    write_trace(lines);
    free(lines);
    sim_err err;
    char text[2048];
    scenario(text, sizeof text, "",
             ", classes: [{name: all, share: 1}], rate_limit: {rate: 100/s, burst: 5}");
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    uint64_t half = 0, all = 0;
    for (int i = 0; i <= 1000; i++) {
        if (R->finish[i] == SIM_TIME_MAX) /* rejected */
            continue;
        all++;
        half += R->arrival[i] <= 500 * MS;
    }
    ck_assert_uint_eq(half, 5 + 50);
    ck_assert_uint_eq(all, 5 + 100);
    ck_assert_double_eq(capture_get(&R->cap, "workload", "rejected_rate_limit"), 1001 - 105);
    ck_assert_double_eq(capture_get(&R->cap, "class:all", "rejected_rate_limit"), 1001 - 105);
    ck_assert_double_eq(capture_get(&R->cap, "workload", "completed"), 105);
}
END_TEST

START_TEST(admission_rejects_predicted_slo_misses)
{
    write_trace("0 0 1 100 1 0\n1 0 2 100 1 1\n2 0 3 100 1 0\n3 0 4 100 1 1\n"
                "4 0 5 100 1 0\n5 0 6 100 1 1\n6 0 7 100 1 0\n");
    sim_err err;
    char text[2048];
    const char *cls = ", classes: [{name: a, share: 0.5, slo: {ttft: 35 ms}},"
                      " {name: b, share: 0.5}], admission: {policy: reject}";
    scenario(text, sizeof text, ", max_batched_tokens: 100", cls);
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 7; i++)
        ck_assert_msg((R->finish[i] == SIM_TIME_MAX) == (i == 4 || i == 6), "request %d", i);
    ck_assert_uint_eq(R->first[2], 30 * MS); /* its prediction */
    ck_assert_double_eq(capture_get(&R->cap, "class:a", "rejected_slo"), 2);
    ck_assert_double_eq(capture_get(&R->cap, "class:b", "rejected_slo"), 0);
    ck_assert_double_eq(capture_get(&R->cap, "workload", "rejected"), 2);
    ck_assert_double_eq(capture_get(&R->cap, "class:a", "slo_attainment"), 1);
    /* without admission all seven run; A4 and A6 miss the SLO */
    scenario(text, sizeof text, ", max_batched_tokens: 100",
             ", classes: [{name: a, share: 0.5, slo: {ttft: 35 ms}}, {name: b, share: 0.5}]");
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    ck_assert_double_eq(capture_get(&R->cap, "workload", "completed"), 7);
    ck_assert_double_eq(capture_get(&R->cap, "class:a", "slo_attainment"), 0.5);
    /* defer: A4 and A6 wait, retried every 5 ms, and are rejected once their
     * wait exceeds 35 ms (the queue drains at the predicted pace) */
    scenario(text, sizeof text, ", max_batched_tokens: 100",
             ", classes: [{name: a, share: 0.5, slo: {ttft: 35 ms}}, {name: b, share: 0.5}],"
             " admission: {policy: defer, retry: 5 ms}");
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    ck_assert_double_eq(capture_get(&R->cap, "class:a", "deferred"), 2);
    ck_assert_double_eq(capture_get(&R->cap, "class:a", "rejected_slo"), 2);
    ck_assert_double_eq(capture_get(&R->cap, "class:a", "completed"), 2);
}
END_TEST

/* A deferred request is admitted once the queue ahead has drained enough:
 * A (SLO 25 ms) arrives at 0 behind two B prompts (predicted 30 ms) under
 * priority scheduling B > A... here the reverse: B requests of a lower
 * class are not counted ahead of A, so only the step in flight is. */
START_TEST(priority_prediction_counts_only_equal_or_higher)
{
    write_trace("0 0 1 100 1 1\n1 0 2 100 1 1\n2 0 3 100 1 1\n3 1000000000 4 100 1 0\n");
    sim_err err;
    char text[2048];
    /* class 0 = a (priority 1, SLO 25 ms), class 1 = b (priority 0) */
    scenario(text, sizeof text, ", max_batched_tokens: 100, scheduling: priority",
             ", classes: [{name: a, share: 0.5, priority: 1, slo: {ttft: 25 ms}},"
             " {name: b, share: 0.5}], admission: {policy: reject}");
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    /* A arrives at 1 ms: 9 ms left of B0's step, then its own 10 ms: 19 <= 25 */
    ck_assert_uint_eq(R->first[3], 20 * MS);
    ck_assert_uint_eq(R->first[1], 30 * MS);
    ck_assert_double_eq(capture_get(&R->cap, "workload", "rejected"), 0);
    /* FCFS counts B1 and B2 ahead too: 9 + 30 = 39 > 25, rejected */
    scenario(text, sizeof text, ", max_batched_tokens: 100",
             ", classes: [{name: a, share: 0.5, priority: 1, slo: {ttft: 25 ms}},"
             " {name: b, share: 0.5}], admission: {policy: reject}");
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(R->finish[3], SIM_TIME_MAX); /* rejected: never finished */
    ck_assert_double_eq(capture_get(&R->cap, "class:a", "rejected_slo"), 1);
}
END_TEST

/* The KV term of the prediction. HBM holds 20 blocks of 16 tokens (2 MiB
 * each, llama3-8b), watermark 0. R0 (160 + 11 tokens: 11 blocks) prefills
 * in [0, 16 ms] and decodes one token per 1 ms step to 26 ms. R1 (160
 * tokens: 10 blocks) arrives at 20.5 ms: 9 blocks are free, so it waits
 * for R0, whose 11 blocks come back after the step in flight (0.5 ms
 * left) and 5 more decode steps (5 ms), then prefills its 160 tokens
 * alone (16 ms): the prediction is 0.5 + max(compute path: 160 tokens
 * beside the present decoder, 16 + 1 ms; KV path: 5 + 16 ms) = 21.5 ms,
 * R1's actual TTFT
 * (admitted at 26, first token at 42 ms). An SLO of 21.5 ms admits it,
 * 21.4 ms rejects it. */
START_TEST(admission_waits_for_kv_room)
{
    write_trace("0 0 1 160 11 1\n1 20500000000 2 160 1 0\n");
    sim_err err;
    char text[2048];
    const char *inst = ", kv_watermark: 0";
    char wl[512];
    for (int pass = 0; pass < 2; pass++) {
        snprintf(wl, sizeof wl,
                 ", classes: [{name: a, share: 0.5, slo: {ttft: %s}}, {name: b, share: 0.5}],"
                 " admission: {policy: reject}", pass ? "21.4 ms" : "21.5 ms");
        scenario(text, sizeof text, inst, wl);
        char *kv = strstr(text, "kv: {block_tokens: 16, prefix_caching: false}");
        ck_assert(kv);
        snprintf(kv, sizeof text - (size_t)(kv - text),
                 "kv: {block_tokens: 16, prefix_caching: false, tiers: [{name: hbm, capacity: "
                 "40 MiB}]}\n");
        ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(R->finish[0], 26 * MS);
        if (!pass) {
            ck_assert_uint_eq(R->first[1], 42 * MS);
            ck_assert_double_eq(capture_get(&R->cap, "class:a", "rejected_slo"), 0);
        } else {
            ck_assert_uint_eq(R->finish[1], SIM_TIME_MAX); /* rejected */
            ck_assert_double_eq(capture_get(&R->cap, "class:a", "rejected_slo"), 1);
        }
    }
}
END_TEST

/* Shares pick classes by a hash of the session: with no class column, a
 * 0.25/0.75 split over 4000 one-request sessions lands near 1000/3000. */
START_TEST(shares_assign_classes)
{
    size_t cap = 4000 * 40, len = 0;
    char *lines = malloc(cap);
    ck_assert(lines);
    for (int i = 0; i < 4000; i++)
        len += (size_t)snprintf(lines + len, cap - len, "%d %d %d 1 1\n", i, i, i + 1);
    FILE *f = fopen(trace_path, "w");
    ck_assert(f);
    fprintf(f, "# memfab-trace v1\n%s", lines);
    fclose(f);
    free(lines);
    sim_err err;
    char text[2048];
    scenario(text, sizeof text, "", ", classes: [{name: x, share: 0.25}, {name: y, share: 0.75}]");
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    double x = capture_get(&R->cap, "class:x", "requests");
    double y = capture_get(&R->cap, "class:y", "requests");
    ck_assert_double_eq(x + y, 4000);
    /* binomial(4000, 0.25): sd 27.4; 5 sd */
    ck_assert_msg(fabs(x - 1000) < 137, "x = %g", x);
}
END_TEST

/* CPU costs (BLIS's alpha model): alpha0 = 2 ms, alpha1 = 10 us per
 * prompt token, alpha2 = 0.5 ms per output token. A request of 100 + 5
 * tokens joins the queue at 2 + 1 = 3 ms, prefills to 13 ms (GPU) and its
 * first token is delivered at 13.5 ms; its decode steps end at 14..17 ms
 * and its last token at 17 + 5 x 0.5 = 19.5 ms: TTFT = 10 + 3 + 0.5 ms,
 * E2E = 14 + 3 + 2.5 ms (approach.md: TTFT and E2E include alpha0 +
 * alpha1 M, plus alpha2 per token delivered). The GPU is not held: a
 * second request (max_seqs 1) starts its prefill at 17 ms, not 19.5. */
START_TEST(cpu_costs_in_ttft_and_e2e)
{
    write_trace("0 0 1 100 5 0\n");
    sim_err err;
    char text[2048];
    const char *cpu = ", cpu_per_request: 2 ms, cpu_per_input_token: 10 us,"
                      " cpu_per_output_token: 0.5 ms, max_seqs: 1";
    scenario(text, sizeof text, cpu, "");
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(R->first[0], 13500000000ull);
    ck_assert_uint_eq(R->finish[0], 19500000000ull);
    ck_assert_double_eq_tol(capture_get(&R->cap, "workload", "tpot_mean"), 1.5e-3, 1e-15);
    ck_assert_double_eq_tol(capture_get(&R->cap, "workload", "itl_mean"), 1.5e-3, 1e-5);
    /* without the costs: 10 and 14 ms */
    scenario(text, sizeof text, ", max_seqs: 1", "");
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(R->first[0], 10 * MS);
    ck_assert_uint_eq(R->finish[0], 14 * MS);
    /* two requests: the second's GPU work follows the first's at 17 ms */
    write_trace("0 0 1 100 5 0\n1 0 2 100 5 0\n");
    scenario(text, sizeof text, cpu, "");
    ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(R->first[1], 27500000000ull);
    ck_assert_uint_eq(R->finish[1], 33500000000ull);
    /* admission counts them: a lone request is predicted 3 + 10 + 0.5 ms */
    write_trace("0 0 1 100 5 0\n");
    for (int pass = 0; pass < 2; pass++) {
        char wl[256];
        snprintf(wl, sizeof wl, ", classes: [{name: a, share: 1, slo: {ttft: %s}}],"
                 " admission: {policy: reject}", pass ? "13.4 ms" : "13.5 ms");
        scenario(text, sizeof text, cpu, wl);
        ck_assert_msg(run(text, &err) == 0, "%s", err.msg);
        ck_assert_double_eq(capture_get(&R->cap, "workload", "completed"), pass ? 0 : 1);
    }
}
END_TEST

static void expect_error(const char *inst_extra, const char *wl_extra, const char *needle,
                         int line)
{
    sim_err err;
    char text[2048];
    scenario(text, sizeof text, inst_extra, wl_extra);
    int rc = run(text, &err);
    ck_assert_msg(rc != 0, "accepted: %s", wl_extra);
    ck_assert_msg(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
    ck_assert_int_eq(err.line, line);
    ck_assert_int_gt(err.col, 0);
}

START_TEST(bad_input)
{
    write_trace("0 0 1 100 1 0\n1 0 2 100 1 3\n");
    expect_error("", ", classes: [{name: a, share: 0.5}, {name: b, share: 0.25}]",
                 "sum to 0.75", 5);
    expect_error("", ", classes: [{name: a, share: -1}]", "share must be", 5);
    expect_error("", ", classes: [{name: a, share: 1}], rate_limit: {rate: -5/s}",
                 "not a positive rate", 5);
    expect_error("", ", classes: [{name: a, share: 1}], rate_limit: {rate: 5/s, burst: 0}",
                 "burst", 5);
    expect_error("", ", classes: [{name: a, share: 1}], admission: {policy: rejct}",
                 "reject", 5);
    expect_error("", ", classes: [{name: a, share: 1, prio: 2}]", "priority", 5);
    expect_error(", scheduling: prio", "", "priority", 4);
    /* a class index the scenario does not list: the run fails (exit 2)
     * naming the trace's line and column */
    sim_err err;
    char text[2048];
    scenario(text, sizeof text, "", ", classes: [{name: a, share: 0.5}, {name: b, share: 0.5}]");
    sim_err_clear(&err);
    scn_doc *doc = scn_load_string("test.yaml", text, &err);
    ck_assert(doc);
    sim *s = sim_create();
    int rc = sim_build(s, doc, memfab_models, sfx_sections, &err);
    if (!rc)
        rc = serving_build(s, doc, &err);
    if (!rc)
        rc = sim_start(s, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    sim_run(s, sim_stop_time(s));
    int code = 0;
    const char *msg = sim_failure(s, &code);
    ck_assert_msg(msg != NULL, "the run did not fail");
    ck_assert_int_eq(code, SIM_EFORMAT);
    char want[512];
    snprintf(want, sizeof want, "%s:3:13: unknown class 3", trace_path);
    ck_assert_msg(strstr(msg, want), "message '%s'", msg);
    sim_destroy(s);
    scn_free(doc);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("prio");
    TCase *t = tcase_create("prio");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, strict_priority_order);
    tcase_add_test(t, higher_class_preempts_lower);
    tcase_add_test(t, token_bucket_admits_burst_plus_rate_t);
    tcase_add_test(t, admission_rejects_predicted_slo_misses);
    tcase_add_test(t, priority_prediction_counts_only_equal_or_higher);
    tcase_add_test(t, admission_waits_for_kv_room);
    tcase_add_test(t, shares_assign_classes);
    tcase_add_test(t, cpu_costs_in_ttft_and_e2e);
    tcase_add_test(t, bad_input);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_main(suite());
}
