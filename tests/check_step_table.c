/*
 * check_step_table.c - the `table` step-time model (models/serving/
 * step_table.h) and its use by the serving instance (step_time: table).
 *
 *   on the grid       every row of the shipped SplitwiseSim table is
 *                     returned exactly (the weights are 0 and 1);
 *   between points    a 2 x 2 x 2 table of t000..t111 = 1 2 3 5 7 11 13 17
 *                     ms over p {0, 100}, d {0, 10}, c {0, 1000} at (25, 5,
 *                     750) is the trilinear value worked by hand below
 *                     (Numerical Recipes, 3rd ed., sec. 3.6): along c
 *                     1.75 4.5 10 16, along d 3.125 13, along p 5.59375 ms;
 *                     on unequal spacing (p {0, 100, 400}) the right cell
 *                     is found;
 *   outside the grid  linear extension from the outermost segment: p 150
 *                     (d = c = 0) is 1 + 1.5 x 6 = 10 ms, p -50 is -2 ms
 *                     floored to 0; a one-value axis is constant;
 *   linear = table    a table generated on a grid from linear coefficients
 *                     (with a context term) gives the instance the same
 *                     first-token and finish times, to the picosecond, as
 *                     the linear model, for one request and for a batch of
 *                     four requests arriving together, including points off
 *                     the grid and beyond it; with no context term the
 *                     TTFT is the hand value fixed + prefill x per_prefill;
 *   paths             step_table is relative to the file naming it (the
 *                     scenario or an included preset);
 *   bad input         missing column, non-numeric cell, negative time,
 *                     non-monotone rows, duplicate point, incomplete grid:
 *                     an error naming the CSV file, its line and the column;
 *                     `memfab check` exits 2 on one.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/serving/step_table.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/serving_fixture.h"

#define MAXREQ 16

static char dir[256];

typedef struct rec {
    capture cap;
    sim_time first[MAXREQ], finish[MAXREQ];
} rec;
static rec *R;

static int rec_request(void *ctx, uint64_t id, const char *session, const char *instance,
                       sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                       uint64_t out, uint64_t cached)
{
    rec *r = ctx;
    (void)session, (void)instance, (void)arrival, (void)in, (void)out, (void)cached;
    if (id < MAXREQ) {
        r->first[id] = first;
        r->finish[id] = finish;
    }
    return 0;
}

static int run(const char *file, const char *text, sim_err *err)
{
    memset(R, 0, sizeof *R);
    sim_sink k = {R, capture_metric, NULL, NULL, rec_request, NULL, NULL, NULL, NULL, NULL};
    return sfx_run(file, text, &k, NULL, NULL, err);
}

static void setup(void)
{
    R = calloc(1, sizeof *R);
    snprintf(dir, sizeof dir, "%s/memfab-steptable-XXXXXX", test_tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(R);
}

/* Write text to dir/name; return the full path (static buffer per call site). */
static const char *put(const char *name, const char *text)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static step_table *load_ok(const char *path)
{
    step_table *t = NULL;
    char why[512];
    int rc = step_table_load(path, &t, why, sizeof why);
    ck_assert_msg(rc == 0, "%s: %s", path, why);
    return t;
}

static const char *cube =
    "# t000..t111 = 1 2 3 5 7 11 13 17 ms\n"
    "prefill_tokens,decode_tokens,context_tokens,step_time_ms\n"
    "0,0,0,1\n0,0,1000,2\n0,10,0,3\n0,10,1000,5\n"
    "100,0,0,7\n100,0,1000,11\n100,10,0,13\n100,10,1000,17\n";

START_TEST(grid_points_exact)
{
    const char *src = getenv("MEMFAB_SRC");
    ck_assert_msg(src, "MEMFAB_SRC must be set (run through make test)");
    char path[1024];
    snprintf(path, sizeof path, "%s/scenarios/presets/step-time/llama2-70b-h100-tp4-splitwise.csv",
             src);
    step_table *t = load_ok(path);
    ck_assert_uint_eq(t->n[0], 8);
    ck_assert_uint_eq(t->n[1], 8);
    ck_assert_uint_eq(t->n[2], 1);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        double p, d, c, ms;
        if (line[0] == '#' || sscanf(line, "%lf,%lf,%lf,%lf", &p, &d, &c, &ms) != 4)
            continue;
        double got = step_table_seconds(t, p, d, c), want = ms * 1e-3;
        ck_assert_msg(got == want, "(%g, %g, %g): %.17g, the row says %.17g", p, d, c, got, want);
        rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 64);
    /* a measured point of the source: 2048-token prompt, 200.681 ms; a
     * 64-sequence decode step, 52.356 ms (ms x 1e-3, as the loader converts) */
    ck_assert(step_table_seconds(t, 2048, 0, 0) == 200.681 * 1e-3);
    ck_assert(step_table_seconds(t, 0, 64, 0) == 52.356 * 1e-3);
    step_table_free(t);
    /* the hand-made cube, all eight corners */
    t = load_ok(put("cube.csv", cube));
    const double v[8] = {1, 2, 3, 5, 7, 11, 13, 17};
    for (int i = 0; i < 8; i++)
        ck_assert(step_table_seconds(t, (i >> 2) * 100.0, ((i >> 1) & 1) * 10.0,
                                     (i & 1) * 1000.0) == v[i] * 1e-3);
    step_table_free(t);
}
END_TEST

START_TEST(between_points_hand_computed)
{
    step_table *t = load_ok(put("cube.csv", cube));
    /* along c (w 0.75): 1.75 4.5 10 16; along d (0.5): 3.125 13; along p (0.25) */
    ck_assert_double_eq_tol(step_table_seconds(t, 25, 5, 750), 5.59375e-3, 1e-17);
    /* on a face: d = 10, c = 500 -> (3 + 5) / 2 = 4 and (13 + 17) / 2 = 15; p 60: 4 + 0.6 x 11 */
    ck_assert_double_eq_tol(step_table_seconds(t, 60, 10, 500), 10.6e-3, 1e-17);
    step_table_free(t);
    /* unequal spacing along p: t = 1 + p / 100 up to 100, then + 2 per 100 */
    t = load_ok(put("p3.csv", "prefill_tokens,decode_tokens,context_tokens,step_time_s\n"
                              "0,0,0,1\n100,0,0,2\n400,0,0,8\n"));
    ck_assert_double_eq_tol(step_table_seconds(t, 50, 0, 0), 1.5, 1e-15);
    ck_assert_double_eq_tol(step_table_seconds(t, 250, 0, 0), 5.0, 1e-15);
    ck_assert_double_eq_tol(step_table_seconds(t, 399, 0, 0), 7.98, 1e-15);
    step_table_free(t);
}
END_TEST

START_TEST(outside_the_grid_extends_linearly)
{
    step_table *t = load_ok(put("cube.csv", cube));
    ck_assert_double_eq_tol(step_table_seconds(t, 150, 0, 0), 10e-3, 1e-17);   /* 1 + 1.5 x 6 */
    ck_assert_double_eq_tol(step_table_seconds(t, 0, 30, 0), 7e-3, 1e-17);     /* 1 + 3 x 2 */
    ck_assert_double_eq_tol(step_table_seconds(t, 0, 0, 3000), 4e-3, 1e-17);   /* 1 + 3 x 1 */
    /* beyond on two axes: p 200, d 20 (c 0): bilinear with weights 2, 2:
     * t00 (1 - 2)(1 - 2) + t01 (1 - 2) 2 + t10 2 (1 - 2) + t11 2 x 2 = 1 - 6 - 14 + 52 */
    ck_assert_double_eq_tol(step_table_seconds(t, 200, 20, 0), 33e-3, 1e-16);
    /* below the first value: p -50 gives 1 - 0.5 x 6 = -2 ms, floored to 0 */
    ck_assert(step_table_seconds(t, -50, 0, 0) == 0);
    step_table_free(t);
    /* an axis starting above 0 extends below it: p {100, 200}, 10 and 12 ms */
    t = load_ok(put("hi.csv", "prefill_tokens,decode_tokens,context_tokens,step_time_ms\n"
                              "100,0,0,10\n200,0,0,12\n"));
    ck_assert_double_eq_tol(step_table_seconds(t, 0, 0, 0), 8e-3, 1e-17);
    /* one value of decode_tokens and context_tokens: constant along them */
    ck_assert(step_table_seconds(t, 100, 0, 0) == step_table_seconds(t, 100, 57, 1e6));
    ck_assert_double_eq_tol(step_table_seconds(t, 150, 3, 9), 11e-3, 1e-17);
    step_table_free(t);
}
END_TEST

#define MS 1000000000ull /* ps */

/* coefficients of the linear model the generated table reproduces */
static const double C0 = 5e-3, C1 = 100e-6, C2 = 1e-3;

static const char *linear_table(double c3)
{
    static char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "# generated: %g + %g p + %g d + %g c s\n"
                                "prefill_tokens,decode_tokens,context_tokens,step_time_s\n",
                                C0, C1, C2, c3);
    /* grid narrower than the runs: prompts of 100 .. 400 tokens and
     * contexts up to ~420 are off it or beyond it */
    const int P[] = {0, 64, 256}, D[] = {0, 2, 3}, Cx[] = {0, 150};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                n += (size_t)snprintf(text + n, sizeof text - n, "%d,%d,%d,%.17g\n", P[i], D[j],
                                      Cx[k], C0 + C1 * P[i] + C2 * D[j] + c3 * Cx[k]);
    return text;
}

static const char *scenario(const char *trace, const char *step)
{
    static char text[2048];
    snprintf(text, sizeof text,
             "name: st\nstop: trace_end\n"
             "components:\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, %s}\n"
             "workload: {trace: %s, format: native}\n"
             "kv: {block_tokens: 16, prefix_caching: false}\n",
             step, trace);
    return text;
}

START_TEST(linear_table_reproduces_linear_model)
{
    const char *one = put("one.trace", "# memfab-trace v1 classes=1\n0 0 1 100 5 0\n");
    const char *four = put("four.trace", "# memfab-trace v1 classes=1\n0 0 1 100 5 0\n"
                                         "1 0 2 100 5 0\n2 0 3 100 5 0\n3 0 4 100 5 0\n");
    const char *traces[2] = {one, four};
    const int nreq[2] = {1, 4};
    const double c3s[2] = {0, 2e-6};
    sim_err err;
    for (int ci = 0; ci < 2; ci++) {
        const char *csv = put("lin.csv", linear_table(c3s[ci]));
        char lin[512], tab[512];
        snprintf(lin, sizeof lin, "step_time: linear, step_fixed: 5 ms, step_per_prefill_token:"
                 " 100 us, step_per_decode_token: 1 ms, step_per_context_token: %g us",
                 c3s[ci] * 1e6);
        snprintf(tab, sizeof tab, "step_time: table, step_table: %s", csv);
        for (int ti = 0; ti < 2; ti++) {
            sim_time f[MAXREQ], e[MAXREQ];
            ck_assert_msg(run("st.yaml", scenario(traces[ti], lin), &err) == 0, "%s", err.msg);
            memcpy(f, R->first, sizeof f);
            memcpy(e, R->finish, sizeof e);
            ck_assert_msg(run("st.yaml", scenario(traces[ti], tab), &err) == 0, "%s", err.msg);
            for (int r = 0; r < nreq[ti]; r++) {
                ck_assert_uint_gt(f[r], 0);
                ck_assert_msg(R->first[r] == f[r] && R->finish[r] == e[r],
                              "c3 %g, %d requests, request %d: table %llu / %llu ps, linear "
                              "%llu / %llu ps", c3s[ci], nreq[ti], r,
                              (unsigned long long)R->first[r], (unsigned long long)R->finish[r],
                              (unsigned long long)f[r], (unsigned long long)e[r]);
            }
            if (c3s[ci] == 0) {
                /* hand values: one prefill step of 100 x n tokens, then 4 decode
                 * steps of n sequences: TTFT 5 + 10 n ms, each step 5 + n ms */
                sim_time ttft = (5 + 10 * (sim_time)nreq[ti]) * MS;
                sim_time tpot = (5 + (sim_time)nreq[ti]) * MS;
                for (int r = 0; r < nreq[ti]; r++) {
                    ck_assert_uint_eq(R->first[r], ttft);
                    ck_assert_uint_eq(R->finish[r], ttft + 4 * tpot);
                }
            }
        }
    }
}
END_TEST

START_TEST(path_relative_to_naming_file)
{
    char sub[512];
    snprintf(sub, sizeof sub, "%s/presets", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    put("presets/t.csv", cube);
    put("presets/t.yaml", "step_time: table\nstep_table: t.csv\n");
    const char *trace = put("one.trace", "# memfab-trace v1 classes=1\n0 0 1 100 5 0\n");
    char scn[512];
    snprintf(scn, sizeof scn, "%s/s.yaml", dir);
    sim_err err;
    /* included preset: t.csv next to the preset */
    ck_assert_msg(run(scn, scenario(trace, "include: presets/t.yaml"), &err) == 0, "%s",
                  err.msg);
    ck_assert_uint_gt(R->finish[0], 0);
    /* in the scenario itself: relative to the scenario's directory */
    ck_assert_msg(run(scn, scenario(trace, "step_time: table, step_table: presets/t.csv"), &err) ==
                      0, "%s", err.msg);
    /* the same name from elsewhere does not resolve */
    ck_assert_int_ne(run("/nonexistent-dir/s.yaml",
                         scenario(trace, "step_time: table, step_table: presets/t.csv"), &err),
                     0);
    ck_assert_msg(strstr(err.msg, "cannot open"), "%s", err.msg);
}
END_TEST

/* A table that fails to load names the file, the line and the column. */
static void bad(const char *csv_text, const char *needle1, const char *needle2)
{
    const char *csv = put("bad.csv", csv_text);
    const char *trace = put("one.trace", "# memfab-trace v1 classes=1\n0 0 1 100 5 0\n");
    char step[600];
    snprintf(step, sizeof step, "step_time: table,\n     step_table: %s", csv);
    sim_err err;
    int rc = run("st.yaml", scenario(trace, step), &err);
    ck_assert_msg(rc != 0, "accepted: %s", csv_text);
    ck_assert_msg(strstr(err.msg, csv), "message '%s' lacks the file", err.msg);
    ck_assert_msg(strstr(err.msg, needle1), "message '%s' lacks '%s'", err.msg, needle1);
    ck_assert_msg(strstr(err.msg, needle2), "message '%s' lacks '%s'", err.msg, needle2);
    ck_assert_int_eq(err.line, 5); /* the step_table key of the scenario */
    ck_assert_int_gt(err.col, 0);
}

START_TEST(bad_input)
{
    const char *h = "prefill_tokens,decode_tokens,context_tokens,step_time_ms\n";
    char t[1024];
    /* missing columns */
    bad("prefill_tokens,decode_tokens,step_time_ms\n0,0,1\n", "bad.csv:1:",
        "column 'context_tokens' missing");
    bad("# c\nprefill_tokens,decode_tokens,context_tokens,time\n0,0,0,1\n", "bad.csv:2:",
        "column 'step_time_s' missing");
    /* a short row */
    snprintf(t, sizeof t, "%s0,0,0,1\n1,0\n", h);
    bad(t, "bad.csv:3:", "column 'context_tokens' (column 3): missing");
    /* non-numeric cell, line 4 (a comment line counts) */
    snprintf(t, sizeof t, "%s0,0,0,1\n# x\n100,0,0,fast\n", h);
    bad(t, "bad.csv:4:", "column 'step_time_ms' (column 4): 'fast' is not a number");
    snprintf(t, sizeof t, "%s0,0,0,1\n1e2x,0,0,2\n", h);
    bad(t, "bad.csv:3:", "column 'prefill_tokens' (column 1): '1e2x' is not a number");
    /* negative time and negative token count */
    snprintf(t, sizeof t, "%s0,0,0,1\n100,0,0,-2\n", h);
    bad(t, "bad.csv:3:", "column 'step_time_ms' (column 4): -2 is negative");
    snprintf(t, sizeof t, "%s0,-1,0,1\n", h);
    bad(t, "bad.csv:2:", "column 'decode_tokens' (column 2): -1 is negative");
    /* a step longer than the clock can schedule (1e7 s > 2^63 ps = 9.2e6 s;
     * here from milliseconds taken for nanoseconds): refused at load, not
     * "cannot schedule an event ... now 9223372036854775808 ps" in the run */
    snprintf(t, sizeof t, "%s0,0,0,1\n100,0,0,1e10\n", h);
    bad(t, "bad.csv:3:", "column 'step_time_ms' (column 4): 1e+10 ms is longer than a step");
    /* non-monotone: decode_tokens goes back within prefill 0 */
    snprintf(t, sizeof t, "%s0,10,0,1\n0,0,0,1\n", h);
    bad(t, "bad.csv:3:", "column 'decode_tokens': non-monotone grid");
    /* non-monotone along prefill_tokens */
    snprintf(t, sizeof t, "%s100,0,0,1\n0,0,0,1\n", h);
    bad(t, "bad.csv:3:", "column 'prefill_tokens': non-monotone grid");
    /* duplicate point */
    snprintf(t, sizeof t, "%s0,0,0,1\n0,0,0,2\n", h);
    bad(t, "bad.csv:3:", "duplicate grid point");
    /* incomplete: (0, 10) missing of p {0, 100} x d {0, 10} */
    snprintf(t, sizeof t, "%s0,0,0,1\n100,0,0,2\n100,10,0,3\n", h);
    bad(t, "bad.csv:3:", "incomplete grid: no row for prefill_tokens 0, decode_tokens 10");
    /* incomplete at the end */
    snprintf(t, sizeof t, "%s0,0,0,1\n0,10,0,1\n100,0,0,2\n", h);
    bad(t, "bad.csv:5:", "incomplete grid: no row for prefill_tokens 100, decode_tokens 10");
    /* no rows */
    bad(h, "bad.csv:1:", "no rows");
    /* a header of 70 columns, the needed ones last: said as such, not as a
     * missing column (the 64th field would keep the rest of the line) */
    size_t o = 0;
    for (int i = 0; i < 66; i++)
        o += (size_t)snprintf(t + o, sizeof t - o, "x%d,", i);
    snprintf(t + o, sizeof t - o, "%s0,0,0,1\n", h);
    bad(t, "bad.csv:1:", "more than 64 columns");
}
END_TEST

START_TEST(bad_configuration)
{
    const char *trace = put("one.trace", "# memfab-trace v1 classes=1\n0 0 1 100 5 0\n");
    const char *csv = put("t.csv", cube);
    char step[600];
    sim_err err;
    ck_assert_int_ne(run("st.yaml", scenario(trace, "step_time: table"), &err), 0);
    ck_assert_msg(strstr(err.msg, "needs step_table"), "%s", err.msg);
    snprintf(step, sizeof step, "step_table: %s", csv);
    ck_assert_int_ne(run("st.yaml", scenario(trace, step), &err), 0);
    ck_assert_msg(strstr(err.msg, "belongs to step_time: table"), "%s", err.msg);
    /* kept unused with another model written out (a comparison run) */
    snprintf(step, sizeof step, "step_time: roofline, step_table: %s", csv);
    ck_assert_msg(run("st.yaml", scenario(trace, step), &err) == 0, "%s", err.msg);
    snprintf(step, sizeof step, "step_time: table, step_table: %s, step_overhead: 1 ms", csv);
    ck_assert_int_ne(run("st.yaml", scenario(trace, step), &err), 0);
    ck_assert_msg(strstr(err.msg, "step_overhead"), "%s", err.msg);
}
END_TEST

/* The command line: exit 2 with file:line of the scenario and of the CSV. */
START_TEST(cli_exit_2)
{
    const char *bin = getenv("MEMFAB_BIN");
    ck_assert_msg(bin, "MEMFAB_BIN must be set (run through make test)");
    put("t.csv", "prefill_tokens,decode_tokens,context_tokens,step_time_us\n0,0,0,1\n0,0,0,2\n");
    put("one.trace", "# memfab-trace v1 classes=1\n0 0 1 100 5 0\n");
    put("s.yaml", scenario("one.trace", "step_time: table, step_table: t.csv"));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' check s.yaml > out.txt 2>&1", dir, bin);
    int st = system(cmd);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 2);
    char path[512], out[2048] = "";
    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    ck_assert_msg(strstr(out, "s.yaml:4:"), "%s", out);
    ck_assert_msg(strstr(out, "t.csv:3: duplicate grid point"), "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("step_table");
    TCase *tc = tcase_create("step_table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, grid_points_exact);
    tcase_add_test(tc, between_points_hand_computed);
    tcase_add_test(tc, outside_the_grid_extends_linearly);
    tcase_add_test(tc, linear_table_reproduces_linear_model);
    tcase_add_test(tc, path_relative_to_naming_file);
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, bad_configuration);
    tcase_add_test(tc, cli_exit_2);
    suite_add_tcase(s, tc);
    return check_main(s);
}
