/*
 * check_calibrate.c - `memfab calibrate` and the linear step-time model it
 * feeds:
 *   - steps generated from known coefficients are fitted back exactly
 *     (R^2 = 1), and within 1% with +-0.1% multiplicative noise (at +-1%
 *     the decode coefficient's standard error is already ~4%: decode
 *     tokens and context read are correlated in any real batch);
 *   - a coefficient the unconstrained fit makes negative is fixed at zero
 *     and the rest refitted;
 *   - the round trip through the simulator: requests replayed one at a time
 *     on an instance with known linear coefficients, exported from the
 *     results database, fitted with --requests, give the coefficients back
 *     within 1% (so memfab's TTFT and decode times are exactly the model's
 *     equations written in tools/calibrate.c);
 *   - the CPU costs (--cpu): lone requests played step by step from known
 *     GPU and CPU coefficients are fitted back exactly (R^2 = 1), within 1%
 *     with +-20 us of timestamp jitter and +-0.1% step noise, and from
 *     requests that memfab itself served with CPU costs;
 *   - bad input (missing columns, bad numbers, overlapping requests,
 *     one prompt length for the CPU fit, coefficients without step_time:
 *     linear) is exit 2 with the place (file:line:column for a bad cell).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check_main.h"
#include "tests/tools_fixture.h"

/* The value of `key: <number> <unit>` in text, in seconds (NAN if absent). */
static double coef(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p)
        return NAN;
    p += strlen(key);
    while (*p == ' ' || *p == ':')
        p++;
    char *end;
    double v = strtod(p, &end);
    while (*end == ' ')
        end++;
    if (!strncmp(end, "ms", 2))
        return v * 1e-3;
    if (!strncmp(end, "us", 2))
        return v * 1e-6;
    if (!strncmp(end, "ns", 2))
        return v * 1e-9;
    if (!strncmp(end, "ps", 2))
        return v * 1e-12;
    return v;
}

static int near(double got, double want, double rel)
{
    return fabs(got - want) <= rel * fabs(want);
}

/* A deterministic stream in [0, 1). */
static double unit(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static void write_steps(const char *name, double noise)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "prefill_tokens,decode_tokens,context_tokens,step_time_us\n");
    uint64_t s = 42;
    for (int i = 0; i < 400; i++) {
        int p = unit(&s) < 0.6 ? 0 : 1 + (int)(unit(&s) * 8192);
        int d = (int)(unit(&s) * 256);
        long c = (long)d * (100 + (long)(unit(&s) * 4000)) + p;
        double t = 5752.7 + 17.25 * p + 6.0 * d + 0.0005 * (double)c;
        t *= 1 + noise * (2 * unit(&s) - 1);
        fprintf(f, "%d,%d,%ld,%.6f\n", p, d, c, t);
    }
    fclose(f);
}

START_TEST(steps_fit_exact_and_noisy)
{
    write_steps("steps.csv", 0);
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv -o coef.yaml", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "R^2 1.000000"), "%.600s", fx_out);
    ck_assert_int_eq(fx_sh("cat coef.yaml"), 0);
    ck_assert_msg(strstr(fx_out, "step_time: linear"), "%.600s", fx_out);
    ck_assert(near(coef(fx_out, "step_fixed"), 5752.7e-6, 1e-5));
    ck_assert(near(coef(fx_out, "step_per_prefill_token"), 17.25e-6, 1e-5));
    ck_assert(near(coef(fx_out, "step_per_decode_token"), 6.0e-6, 1e-5));
    ck_assert(near(coef(fx_out, "step_per_context_token"), 0.5e-9, 1e-2));   /* ps resolution */
    write_steps("noisy.csv", 0.001);
    ck_assert_int_eq(fx_sh("'%s' calibrate noisy.csv -o noisy.yaml && cat noisy.yaml", fx_bin), 0);
    ck_assert_msg(near(coef(fx_out, "step_fixed"), 5752.7e-6, 0.01), "%.600s", fx_out);
    ck_assert(near(coef(fx_out, "step_per_prefill_token"), 17.25e-6, 0.01));
    ck_assert(near(coef(fx_out, "step_per_decode_token"), 6.0e-6, 0.01));
    /* the written file is accepted by an instance as it is */
    fx_write("s.yaml", "name: s\nstop: 1 s\ncomponents:\n"
                       "  - {name: i, type: llm_instance, include: noisy.yaml}\n");
    ck_assert_int_eq(fx_sh("'%s' check s.yaml", fx_bin), 0);
    /* and calibrate will not write over its input or a scenario */
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv -o steps.csv", fx_bin), 2);
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv -o s.yaml", fx_bin), 2);
    ck_assert_int_eq(fx_sh("grep -c include s.yaml"), 0);
}
END_TEST

START_TEST(negative_coefficient_fixed_at_zero)
{
    /* t = 1 ms + 10 us x prefill - 1 ps x context: the context term would
     * be negative; it is held at zero and the others refitted */
    char path[512];
    snprintf(path, sizeof path, "%s/neg.csv", fx_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "prefill_tokens, decode_tokens, context_tokens, step_time_ms\n");
    uint64_t s = 7;
    for (int i = 0; i < 200; i++) {
        int p = (int)(unit(&s) * 4096), d = (int)(unit(&s) * 64);
        long c = (long)(unit(&s) * 1e6);
        fprintf(f, "%d, %d, %ld, %.9f\n", p, d, c, 1.0 + 0.01 * p + 0.002 * d - 1e-9 * (double)c);
    }
    fclose(f);
    ck_assert_int_eq(fx_sh("'%s' calibrate neg.csv", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "fixed at zero"), "%.600s", fx_out);
    ck_assert(near(coef(fx_out, "step_per_prefill_token"), 10e-6, 0.01));
}
END_TEST

/* t.trace: 12 requests, 5 s apart (each finishes long before the next),
 * prompts up to 3 budgets of 2048 long (chunked prefill), outputs 1..200
 * tokens. */
static void write_lone_trace(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/t.trace", fx_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# memfab-trace v1 block_tokens=16\n"
               "# id arrival_ps session input_tokens output_tokens [block_id ...]\n");
    static const int in[12] = {100, 900, 2048, 3000, 5000, 700, 64, 1500, 2500, 4096, 333, 2049};
    static const int out[12] = {1, 20, 200, 150, 80, 5, 120, 60, 2, 99, 33, 10};
    for (int i = 0; i < 12; i++)
        fprintf(f, "%d %llu %d %d %d\n", i, (unsigned long long)i * 5000000000000ULL, i, in[i],
                out[i]);
    fclose(f);
}

START_TEST(requests_round_trip_through_the_simulator)
{
    /* 12 requests, 5 s apart (each finishes long before the next), prompts
     * up to 3 budgets long (chunked prefill), outputs 1..200 tokens */
    write_lone_trace();
    fx_write("s.yaml",
             "name: rt\nstop: trace_end\n"
             "components:\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, gpu: h100,\n"
             "     max_batched_tokens: 2048, step_time: linear, step_fixed: 5 ms,\n"
             "     step_per_prefill_token: 20 us, step_per_decode_token: 6 us,\n"
             "     step_per_context_token: 2 ns}\n"
             "workload: {trace: t.trace, format: native}\n"
             "kv: {block_tokens: 16}\n");
    ck_assert_int_eq(fx_sh("'%s' run s.yaml -o r.db -q", fx_bin), 0);
    ck_assert_int_eq(fx_sh("sqlite3 -csv -header r.db \"SELECT arrival_ps / 1e12 AS arrival_s, "
                           "first_token_ps / 1e12 AS first_token_s, finish_ps / 1e12 AS finish_s, "
                           "input_tokens, output_tokens, cached_tokens FROM requests\" > req.csv"),
                     0);
    ck_assert_int_eq(fx_sh("'%s' calibrate req.csv --requests --max-batched-tokens 2048", fx_bin),
                     0);
    ck_assert_msg(near(coef(fx_out, "step_fixed"), 5e-3, 0.01), "%.600s", fx_out);
    ck_assert(near(coef(fx_out, "step_per_prefill_token"), 20e-6, 0.01));
    ck_assert(near(coef(fx_out, "step_per_decode_token"), 6e-6, 0.01));
    ck_assert(near(coef(fx_out, "step_per_context_token"), 2e-9, 0.01));
    /* with the wrong budget the prefill equations are wrong and it shows */
    ck_assert_int_eq(fx_sh("'%s' calibrate req.csv --requests", fx_bin), 0);
    ck_assert_msg(!near(coef(fx_out, "step_fixed"), 5e-3, 0.01), "%.600s", fx_out);
}
END_TEST

/* Requests measured one at a time on an engine with GPU coefficients
 * (f, pp, pd, pc) = (5752.7 us, 17.25 us, 6 us, 0.5 ns), the steps of
 * write_steps, and CPU costs a0 + a1 x input before queueing and a2 per
 * output token (instance.c, "CPU costs"; BLIS approach.md, "CPU & System
 * Overhead Model"). Each request is played step by step here - chunks of
 * at most `budget` tokens, one decode step per later token - not by the
 * closed forms of tools/calibrate.c. `jitter` adds uniform +-jitter
 * seconds to each measured time (clock resolution, network). */
static void write_requests(const char *name, double a0, double a1, double a2, double jitter,
                           int budget, int nreq)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "arrival_s,first_token_s,finish_s,input_tokens,output_tokens\n");
    const double fx = 5752.7e-6, pp = 17.25e-6, pd = 6.0e-6, pc = 0.5e-9;
    uint64_t s = 1234;
    double t0 = 0;
    for (int i = 0; i < nreq; i++) {
        int in = 16 + (int)(unit(&s) * 6000), out = 1 + (int)(unit(&s) * 400);
        double t = t0 + a0 + a1 * in;   /* joins the queue; the GPU is idle */
        for (int done = 0; done < in;) {
            int chunk = in - done < budget ? in - done : budget;
            t += fx + pp * chunk + pc * done;
            done += chunk;
        }
        double first = t + a2;   /* token 1 after its CPU cost */
        for (int j = 1; j < out; j++)
            t += fx + pd + pc * (in + j - 1);
        double fin = t + out * a2;   /* token k leaves k x a2 after its step */
        double e1 = jitter * (2 * unit(&s) - 1), e2 = jitter * (2 * unit(&s) - 1);
        fprintf(f, "%.9f,%.9f,%.9f,%d,%d\n", t0, first + e1, fin + e2, in, out);
        t0 = fin + e2 + 1;
    }
    fclose(f);
}

START_TEST(cpu_costs_fitted_from_requests)
{
    /* BLIS's alphas of the llama3-8b-h100-tp1 preset: 232.462 us,
     * 1.75236 us per input token, 3357.44 us per output token */
    write_steps("steps.csv", 0);
    write_requests("req.csv", 232.462e-6, 1.75236e-6, 3357.44e-6, 0, 8192, 300);
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu req.csv -o c.yaml", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "cpu: req.csv (") && strstr(fx_out, "R^2 1.000000") &&
                  strstr(strstr(fx_out, "TTFTs"), "R^2 1.000000"), "%.900s", fx_out);
    ck_assert_int_eq(fx_sh("cat c.yaml"), 0);
    ck_assert_msg(near(coef(fx_out, "cpu_per_request"), 232.462e-6, 1e-4), "%.900s", fx_out);
    ck_assert(near(coef(fx_out, "cpu_per_input_token"), 1.75236e-6, 1e-4));
    ck_assert(near(coef(fx_out, "cpu_per_output_token"), 3357.44e-6, 1e-4));
    ck_assert(near(coef(fx_out, "step_fixed"), 5752.7e-6, 1e-5));
    ck_assert_msg(strstr(fx_out, "# CPU costs from req.csv"), "%.900s", fx_out);
    /* chunked prefill: the budget must be the engine's */
    write_requests("req2k.csv", 232.462e-6, 1.75236e-6, 3357.44e-6, 0, 2048, 300);
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu req2k.csv --max-batched-tokens 2048",
                           fx_bin), 0);
    ck_assert_msg(near(coef(strstr(fx_out, "cpu:"), "cpu_per_request"), 232.462e-6, 1e-4) &&
                  near(coef(strstr(fx_out, "cpu:"), "cpu_per_input_token"), 1.75236e-6, 1e-4),
                  "%.900s", fx_out);
    /* +-20 us of jitter on every timestamp and +-0.1% on the steps: each
     * coefficient within 1% (the intercept alpha0's standard error is
     * ~0.4% with 1000 requests), R^2 reported below 1 */
    write_steps("noisy.csv", 0.001);
    write_requests("jit.csv", 232.462e-6, 1.75236e-6, 3357.44e-6, 20e-6, 8192, 1000);
    ck_assert_int_eq(fx_sh("'%s' calibrate noisy.csv --cpu jit.csv -o j.yaml && cat j.yaml",
                           fx_bin), 0);
    ck_assert_msg(near(coef(fx_out, "cpu_per_request"), 232.462e-6, 0.01), "%.1200s", fx_out);
    ck_assert_msg(near(coef(fx_out, "cpu_per_input_token"), 1.75236e-6, 0.01), "%.1200s", fx_out);
    ck_assert_msg(near(coef(fx_out, "cpu_per_output_token"), 3357.44e-6, 0.01), "%.1200s", fx_out);
    /* R^2 per family of equations: the jitter shows in the TTFTs' */
    ck_assert_int_eq(fx_sh("'%s' calibrate noisy.csv --cpu jit.csv", fx_bin), 0);
    const char *tt = strstr(fx_out, "TTFTs (first token - arrival)");
    ck_assert_msg(tt && strstr(tt, "R^2 0.99") && strstr(fx_out, "decode phases"), "%.1200s",
                  fx_out);
    /* the file with CPU costs is a valid instance include */
    fx_write("s.yaml", "name: s\nstop: 1 s\ncomponents:\n"
                       "  - {name: i, type: llm_instance, include: j.yaml}\n");
    ck_assert_int_eq(fx_sh("'%s' check s.yaml", fx_bin), 0);
}
END_TEST

START_TEST(cpu_costs_round_trip_through_the_simulator)
{
    /* memfab runs lone requests with known GPU and CPU coefficients; the
     * exported requests and steps drawn from the same GPU coefficients
     * give the CPU costs back (so the estimator's equations are memfab's
     * delivery rules: queue after a0 + a1 M, token k at step end + k a2) */
    write_lone_trace();
    fx_write("s.yaml",
             "name: rt\nstop: trace_end\n"
             "components:\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, gpu: h100,\n"
             "     max_batched_tokens: 2048, step_time: linear, step_fixed: 5752.7 us,\n"
             "     step_per_prefill_token: 17.25 us, step_per_decode_token: 6 us,\n"
             "     step_per_context_token: 0.5 ns, cpu_per_request: 1.5 ms,\n"
             "     cpu_per_input_token: 2 us, cpu_per_output_token: 400 us}\n"
             "workload: {trace: t.trace, format: native}\n"
             "kv: {block_tokens: 16}\n");
    ck_assert_int_eq(fx_sh("'%s' run s.yaml -o r.db -q", fx_bin), 0);
    ck_assert_int_eq(fx_sh("sqlite3 -csv -header r.db \"SELECT arrival_ps / 1e12 AS arrival_s, "
                           "first_token_ps / 1e12 AS first_token_s, finish_ps / 1e12 AS finish_s, "
                           "input_tokens, output_tokens, cached_tokens FROM requests\" > req.csv"),
                     0);
    write_steps("steps.csv", 0);
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu req.csv --max-batched-tokens 2048",
                           fx_bin), 0);
    const char *cpu = strstr(fx_out, "cpu:");
    ck_assert_msg(cpu, "%.900s", fx_out);
    ck_assert_msg(near(coef(cpu, "cpu_per_request"), 1.5e-3, 0.01), "%.900s", fx_out);
    ck_assert(near(coef(cpu, "cpu_per_input_token"), 2e-6, 0.01));
    ck_assert(near(coef(cpu, "cpu_per_output_token"), 400e-6, 0.01));
}
END_TEST

START_TEST(cpu_bad_input)
{
    write_steps("steps.csv", 0);
    /* a bad number: file, line and column (number and name) */
    fx_write("r.csv", "arrival_s,first_token_s,finish_s,input_tokens,output_tokens\n"
                      "0,0.1,1.0,100,10\n3,3.1,oops,100,10\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu r.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "r.csv:3:3:") && strstr(fx_out, "'finish_s'"), "%.300s", fx_out);
    /* a short row: the missing column */
    fx_write("s.csv", "arrival_s,first_token_s,finish_s,input_tokens,output_tokens\n"
                      "0,0.1,1.0,100\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu s.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "s.csv:2:5:") && strstr(fx_out, "'output_tokens' missing"),
                  "%.300s", fx_out);
    /* a missing column in the header */
    fx_write("h.csv", "arrival_s,first_token_s,input_tokens,output_tokens\n0,0.1,100,10\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu h.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "h.csv:1:") && strstr(fx_out, "'finish_s' is missing"),
                  "%.300s", fx_out);
    /* one prompt length only: alpha0 and alpha1 cannot be told apart */
    fx_write("u.csv", "arrival_s,first_token_s,finish_s,input_tokens,output_tokens\n"
                      "0,0.1,1.0,100,10\n2,2.1,3,100,10\n4,4.1,5,100,10\n6,6.1,7,100,10\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu u.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "two prompt lengths"), "%.300s", fx_out);
    /* overlapping requests, first token before arrival */
    fx_write("o.csv", "arrival_s,first_token_s,finish_s,input_tokens,output_tokens\n"
                      "0,0.1,1.0,100,10\n0.5,0.6,2.0,200,10\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu o.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "o.csv:3:") && strstr(fx_out, "overlap"), "%.300s", fx_out);
    fx_write("b.csv", "arrival_s,first_token_s,finish_s,input_tokens,output_tokens\n"
                      "1,0.5,2,100,10\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu b.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "b.csv:2:"), "%.300s", fx_out);
    /* --cpu with --requests, a missing file, an output over the CPU input */
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --requests --cpu r.csv", fx_bin), 2);
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu none.csv", fx_bin), 1);
    write_requests("req.csv", 232e-6, 1.75e-6, 3357e-6, 0, 8192, 20);
    ck_assert_int_eq(fx_sh("'%s' calibrate steps.csv --cpu req.csv -o req.csv", fx_bin), 2);
    ck_assert_int_eq(fx_sh("head -c 9 req.csv"), 0);
    ck_assert_msg(strstr(fx_out, "arrival_s"), "%.300s", fx_out);
}
END_TEST

START_TEST(bad_input)
{
    fx_write("a.csv", "prefill_tokens,step_time_s\n1,2\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate a.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "a.csv:1:") && strstr(fx_out, "decode_tokens"), "%.300s", fx_out);
    fx_write("b.csv", "prefill_tokens,decode_tokens,step_time_s\n1,2,0.1\n3,x,0.2\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate b.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "b.csv:3:") && strstr(fx_out, "'decode_tokens'"), "%.300s",
                  fx_out);
    fx_write("c.csv", "prefill_tokens,decode_tokens,step_time_s\n1,2,-0.1\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate c.csv", fx_bin), 2);
    fx_write("d.csv", "prefill_tokens,decode_tokens,step_time_s\n1,2,0.1\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate d.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "too few"), "%.300s", fx_out);
    fx_write("r.csv", "arrival_s,first_token_s,finish_s,input_tokens,output_tokens\n"
                      "0,0.1,1.0,100,10\n0.5,0.6,2.0,100,10\n3,3.1,4,100,10\n5,5.1,6,100,10\n");
    ck_assert_int_eq(fx_sh("'%s' calibrate r.csv --requests", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "r.csv:3:") && strstr(fx_out, "1 of 4 requests overlap"),
                  "%.300s", fx_out);
    ck_assert_int_eq(fx_sh("'%s' calibrate nonexistent.csv", fx_bin), 1);
    /* the instance side: linear without coefficients, coefficients left
     * to the default roofline */
    fx_write("l.yaml", "name: l\nstop: 1 s\ncomponents:\n"
                       "  - {name: i, type: llm_instance, step_time: linear}\n");
    ck_assert_int_eq(fx_sh("'%s' check l.yaml", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "l.yaml:4:") && strstr(fx_out, "memfab calibrate"), "%.300s",
                  fx_out);
    fx_write("m.yaml", "name: m\nstop: 1 s\ncomponents:\n"
                       "  - {name: i, type: llm_instance, step_fixed: 1 ms}\n");
    ck_assert_int_eq(fx_sh("'%s' check m.yaml", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "step_time: linear"), "%.300s", fx_out);
    fx_write("n.yaml", "name: n\nstop: 1 s\ncomponents:\n"
                       "  - {name: i, type: llm_instance, step_time: roofline, step_fixed: 1 ms}\n");
    ck_assert_int_eq(fx_sh("'%s' check n.yaml", fx_bin), 0);
    fx_write("o.yaml", "name: o\nstop: 1 s\ncomponents:\n"
                       "  - {name: i, type: llm_instance, step_time: linear, step_fixed: 1 ms,\n"
                       "     step_overhead: 1 ms}\n");
    ck_assert_int_eq(fx_sh("'%s' check o.yaml", fx_bin), 2);
}
END_TEST

/* Review of the CSV readers: a line too long is named by its own number
 * (the header too: not "empty file"), and a measurement export wider than
 * 32 columns still finds its columns after the 32nd. */
START_TEST(csv_long_lines_and_wide_headers)
{
    char big[5000];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char text[6000];
    snprintf(text, sizeof text, "prefill_tokens,decode_tokens,step_time_s\n1,2,0.1\n%s,2,0.1\n",
             big);
    fx_write("long.csv", text);
    ck_assert_int_eq(fx_sh("'%s' calibrate long.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "long.csv:3:") && strstr(fx_out, "longer than"), "%.300s",
                  fx_out);
    snprintf(text, sizeof text, "arrival_s,first_token_s,finish_s,input_tokens,output_tokens\n"
             "0,0.1,1.0,100,10\n%s,0.1,1.0,100,10\n", big);
    fx_write("longr.csv", text);
    ck_assert_int_eq(fx_sh("'%s' calibrate longr.csv --requests", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "longr.csv:3:") && strstr(fx_out, "too long"), "%.300s",
                  fx_out);
    snprintf(text, sizeof text, "%s\n1\n", big);
    fx_write("longh.csv", text);
    ck_assert_int_eq(fx_sh("'%s' calibrate longh.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "longh.csv:1:") && strstr(fx_out, "longer than") &&
                  !strstr(fx_out, "empty"), "%.300s", fx_out);
    /* 40 other columns first, as a benchmark's export may carry */
    FILE *f;
    char path[512];
    snprintf(path, sizeof path, "%s/wide.csv", fx_dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 40; i++)
        fprintf(f, "extra%d,", i);
    fprintf(f, "prefill_tokens,decode_tokens,step_time_ms\n");
    for (int p = 0; p < 8; p++)
        for (int d = 0; d < 4; d++) {
            for (int i = 0; i < 40; i++)
                fprintf(f, "x,");
            fprintf(f, "%d,%d,%.9f\n", 512 * p, 16 * d, 5.0 + 0.02 * 512 * p + 0.006 * 16 * d);
        }
    fclose(f);
    ck_assert_int_eq(fx_sh("'%s' calibrate wide.csv", fx_bin), 0);
    ck_assert_msg(near(coef(fx_out, "step_per_prefill_token"), 20e-6, 1e-6), "%.600s", fx_out);
    /* wider than the reader takes: said, not taken for a missing column */
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 300; i++)
        fprintf(f, "e%d,", i);
    fprintf(f, "prefill_tokens,decode_tokens,step_time_ms\n1,2,3\n");
    fclose(f);
    ck_assert_int_eq(fx_sh("'%s' calibrate wide.csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "wide.csv:1:") && strstr(fx_out, "more than 256 columns"), "%.300s",
                  fx_out);
}
END_TEST

START_TEST(shipped_presets_load)
{
    static const char *const presets[] = {"llama3-8b-h100-tp1", "llama3-8b-h100-tp2",
                                          "llama3-8b-h100-tp4", "llama3-70b-h100-tp4",
                                          "llama3-70b-h100-tp8"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        ck_assert_int_eq(fx_sh("sed -n '/^step_time/,$p' '%s/scenarios/presets/step-time/%s.yaml'",
                               fx_src, presets[i]),
                         0);
        char text[1024];
        snprintf(text, sizeof text,
                 "name: p\nstop: 1 s\ncomponents:\n  - {name: i, type: llm_instance, "
                 "model: llama3-70b, gpu: h100, tp: 8,\n     include: '%s/scenarios/presets/"
                 "step-time/%s.yaml'}\n",
                 fx_src, presets[i]);
        fx_write("p.yaml", text);
        ck_assert_msg(fx_sh("'%s' check p.yaml", fx_bin) == 0, "%s: %.300s", presets[i], fx_out);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("calibrate");
    TCase *t = tcase_create("calibrate");
    tcase_set_timeout(t, 120);
    tcase_add_checked_fixture(t, fx_setup, fx_teardown);
    tcase_add_test(t, steps_fit_exact_and_noisy);
    tcase_add_test(t, negative_coefficient_fixed_at_zero);
    tcase_add_test(t, requests_round_trip_through_the_simulator);
    tcase_add_test(t, cpu_costs_fitted_from_requests);
    tcase_add_test(t, cpu_costs_round_trip_through_the_simulator);
    tcase_add_test(t, cpu_bad_input);
    tcase_add_test(t, bad_input);
    tcase_add_test(t, shipped_presets_load);
    tcase_add_test(t, csv_long_lines_and_wide_headers);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_main(suite());
}
