/*
 * check_study.c - memfab study (tools/study.h): the params check that
 * refuses a pair whose runs differ in more than its switch, the table
 * renderer on a fixture database, and each measured removal against its
 * accounting identity in a small case run through the binary:
 *   GDS vs bounce: the bounce path writes every SSD byte into a host
 *     buffer and reads it out again, so GDS removes exactly 2 x N x S bytes
 *     of host DRAM traffic for N reads of S bytes (NVIDIA, "GPUDirect
 *     Storage Overview", the bounce-buffer path) and moves N x S by `gds`.
 *   prefix sharing: k requests sharing a P-token prefix hold its
 *     P / block_tokens blocks once instead of k times, so sharing removes
 *     exactly (k - 1) x P x (KV bytes per token) of KV at the peak, and
 *     (k - 1) x P prefill tokens (vLLM automatic prefix caching).
 *   copy-free CXL reads: requests 0-2 fill an 8-block HBM, so request 2
 *     evicts request 0's four blocks (P = 4 x 2 MiB) into the CXL tier
 *     (written back by DMA: one HBM read); request 3 reuses them. Copying
 *     (kv.cxl_access copy) moves the P bytes into HBM and, to make room,
 *     writes back four more blocks (W = P); reading in place (direct) moves
 *     neither, so it removes exactly P of KV copied into HBM and P + W of
 *     HBM traffic, and HBM energy (P + W) x 8 x 3.9 pJ/bit (the gpu's
 *     hbm_energy, O'Connor et al., MICRO 2017), while the CXL memory
 *     serves the 63 cached tokens once (x 128 KiB; the last prompt token is
 *     computed). Against the same tier in host DRAM copied by DMA (the
 *     study's two-key CXL pair), the host DRAM carries P + 2W = 24 MiB
 *     with copies and 0 with the pool read in place: DRAM energy
 *     24 MiB x 8 x 20 pJ/bit (the cpu's dram_energy, Horowitz ISSCC 2014)
 *     is removed exactly.
 * The capacity search: a grid of rates on a fixture database, and the
 * bisection over the GPU count exact on a predicate whose answer is known
 * by construction and, through the binary, consistent with its own runs
 * (the answer meets the target, one GPU less misses it).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "tests/tools_fixture.h"
#include "tools/study.h"

/* A value of cells.tsv: the `col`umn (off or on) of the line with this
 * pair and metric; NAN when absent or n/a. */
static double cell(const char *dir, const char *pair, const char *metric, int on)
{
    char path[512], line[2048];
    snprintf(path, sizeof path, "%s/%s/cells.tsv", fx_dir, dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    double v = NAN;
    while (fgets(line, sizeof line, f)) {
        char *fld[9] = {0};
        char *s = line;
        for (int i = 0; i < 9 && s; i++) {
            fld[i] = s;
            s = strchr(s, '\t');
            if (s)
                *s++ = '\0';
        }
        if (fld[4] && strcmp(fld[0], pair) == 0 && strcmp(fld[4], metric) == 0 && fld[6] &&
            strcmp(fld[5], "n/a") != 0)
            v = atof(on ? fld[6] : fld[5]);
    }
    fclose(f);
    return v;
}

static char *slurp(const char *name)
{
    static char buf[1 << 16];
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* string literals as the char * of rdb rows (never written to) */
#define S(x) ((char *)(x))

/* ---- the params check ------------------------------------------------------ */

START_TEST(params_differ_refuses_a_second_key)
{
    rdb_param pa[] = {{S("kv.prefix_caching"), S("true")}, {S("router.policy"), S("dynamo")},
                      {S("seed"), S("1")}, {S("sweep.point"), S("aaa")}};
    rdb_param pb[] = {{S("kv.prefix_caching"), S("false")}, {S("router.policy"), S("round_robin")},
                      {S("seed"), S("1")}, {S("sweep.point"), S("bbb")}};
    rdb_run a = {.params = pa, .nparams = 4}, b = {.params = pb, .nparams = 4};
    const char *one[] = {"kv.prefix_caching"};
    const char *two[] = {"kv.prefix_caching", "router.policy"};
    char msg[512];
    /* two keys differ, one is the pair's: refused, naming the other */
    ck_assert_int_eq(study_params_differ(&a, &b, one, 1, msg, sizeof msg), SIM_EINVAL);
    ck_assert_msg(strstr(msg, "router.policy: 'dynamo' vs 'round_robin'"), "%s", msg);
    ck_assert_ptr_null(strstr(msg, "prefix_caching"));
    ck_assert_ptr_null(strstr(msg, "sweep.point"));   /* bookkeeping is not a difference */
    /* both are the row's switches (all on vs all off): accepted */
    ck_assert_int_eq(study_params_differ(&a, &b, two, 2, msg, sizeof msg), 0);
    /* a key present in one run only is a difference */
    rdb_param pc[] = {{S("kv.prefix_caching"), S("false")}, {S("router.policy"), S("dynamo")},
                      {S("seed"), S("1")}, {S("stop"), S("1 s")}};
    rdb_run c = {.params = pc, .nparams = 4};
    ck_assert_int_eq(study_params_differ(&a, &c, one, 1, msg, sizeof msg), SIM_EINVAL);
    ck_assert_msg(strstr(msg, "stop: '(absent)' vs '1 s'"), "%s", msg);
}
END_TEST

/* The CXL pair's switch is two keys: both may differ, a third may not, and
 * a key left at its default (not a param: rdb loads only what scenarios and
 * --set wrote) is no difference. */
START_TEST(params_differ_two_key_switch)
{
    rdb_param pa[] = {{S("kv.cxl_access"), S("auto")}, {S("kv.tiers.pool.component"), S("cxlpool")},
                      {S("kv.tiers.pool.path"), S("dma")}, {S("sweep.kv.cxl_access"), S("auto")}};
    rdb_param pb[] = {{S("kv.cxl_access"), S("copy")}, {S("kv.tiers.pool.component"), S("host")},
                      {S("kv.tiers.pool.path"), S("dma")}, {S("sweep.kv.cxl_access"), S("copy")}};
    rdb_param pc[] = {{S("kv.cxl_access"), S("copy")}, {S("kv.tiers.pool.component"), S("host")},
                      {S("kv.tiers.pool.path"), S("pageable")}};
    rdb_run a = {.params = pa, .nparams = 4}, b = {.params = pb, .nparams = 4},
            c = {.params = pc, .nparams = 3};
    const char *keys[] = {"kv.tiers.pool.component", "kv.cxl_access"};
    char msg[512];
    ck_assert_int_eq(study_params_differ(&a, &b, keys, 2, msg, sizeof msg), 0);
    ck_assert_int_eq(study_params_differ(&a, &b, keys, 1, msg, sizeof msg), SIM_EINVAL);
    ck_assert_msg(strstr(msg, "kv.cxl_access: 'auto' vs 'copy'"), "%s", msg);
    ck_assert_int_eq(study_params_differ(&a, &c, keys, 2, msg, sizeof msg), SIM_EINVAL);
    ck_assert_msg(strstr(msg, "kv.tiers.pool.path: 'dma' vs 'pageable'"), "%s", msg);
}
END_TEST

START_TEST(metric_sum_globs)
{
    rdb_metric m[] = {{S("node0.host/dram_bytes"), 100, S("B")}, {S("node1.host/dram_bytes"), 23, S("B")},
                      {S("node0.host/cpu_time"), 1, S("s")}, {S("fabric/bytes:dma"), NAN, S("B")}};
    rdb_run r = {.metrics = m, .nmetrics = 4};
    double v;
    const char *u;
    ck_assert_uint_eq(study_metric_sum(&r, "*.host/dram_bytes", &v, &u), 2);
    ck_assert_double_eq(v, 123);
    ck_assert_str_eq(u, "B");
    ck_assert_uint_eq(study_metric_sum(&r, "fabric/bytes:dma", &v, &u), 0); /* NULL value */
    ck_assert_uint_eq(study_metric_sum(&r, "workload/energy_total_j", &v, &u), 0);
}
END_TEST

/* ---- the renderer on a fixture database ------------------------------------- */

static void fixture_study(void)
{
    fx_write("s.yaml", "name: fx-scen\nstop: 1 s\n");
    fx_write("study.yaml",
             "name: fx\n"
             "title: Fixture table\n"
             "scenarios: {s: s.yaml}\n"
             "effect: [{label: TTFT p99, metric: workload/ttft_p99}]\n"
             "energy: [{label: energy, metric: workload/energy_total_j}]\n"
             "pairs:\n"
             "  - {id: t, technology: 'A_B & C', problem: '50% of copies', removes: copies,\n"
             "     scenarios: [s], key: k, on: a, off: b,\n"
             "     removal: [{label: host bytes, metric: '*.host/dram_bytes'}]}\n");
}

START_TEST(render_fixture_db)
{
    fixture_study();
    ck_assert_int_eq(fx_sh("mkdir -p out"), 0);
    fx_metric on[] = {{"n0.host", "dram_bytes", 100, "B"}, {"n1.host", "dram_bytes", 0, "B"},
                      {"workload", "ttft_p99", 0.5, "s"}};
    fx_metric off[] = {{"n0.host", "dram_bytes", 200, "B"}, {"n1.host", "dram_bytes", 100, "B"},
                       {"workload", "ttft_p99", 2.0, "s"}};
    const char *pon[] = {"k=a", "sweep.k=a", "x=1", NULL};
    const char *poff[] = {"k=b", "sweep.k=b", "x=1", NULL};
    fx_run("out/study.db", "fx-scen", 1, pon, on, 3, 0, 1);
    fx_run("out/study.db", "fx-scen", 1, poff, off, 3, 0, 1);
    char path[512], db[512], dir[512];
    snprintf(path, sizeof path, "%s/study.yaml", fx_dir);
    snprintf(db, sizeof db, "%s/out/study.db", fx_dir);
    snprintf(dir, sizeof dir, "%s/out", fx_dir);
    sim_err err;
    sim_err_clear(&err);
    study *st = study_load(path, &err);
    ck_assert_msg(st != NULL, "%s", err.msg);
    ck_assert_int_eq(study_render(st, db, dir, &err), 0);
    const char *md = slurp("out/table.md");
    ck_assert_msg(strstr(md, "| A_B & C | 50% of copies | copies | host bytes: 300 B \xe2\x86\x92 "
                             "100 B (-66.7%) | TTFT p99: 2 s \xe2\x86\x92 500 ms (-75.0%) | "
                             "energy: n/a (metric workload/energy_total_j not reported) | s "
                             "(fx-scen, runs 2/1): k=a\\|b |"), "%s", md);
    const char *tex = slurp("out/table.tex");
    ck_assert_msg(strstr(tex, "A\\_B \\& C & 50\\% of copies & copies & host bytes: 300 B $\\to$ "
                              "100 B (-66.7\\%)"), "%s", tex);
    ck_assert_double_eq(cell("out", "t", "*.host/dram_bytes", 0), 300);
    ck_assert_double_eq(cell("out", "t", "*.host/dram_bytes", 1), 100);
    ck_assert(isnan(cell("out", "t", "workload/energy_total_j", 1)));
    /* a third run, off, that differs in x too: the latest off run is refused */
    const char *bad[] = {"k=b", "sweep.k=b", "x=2", NULL};
    fx_run("out/study.db", "fx-scen", 1, bad, off, 3, 0, 1);
    ck_assert_int_eq(study_render(st, db, dir, &err), SIM_EINVAL);
    ck_assert_msg(strstr(err.msg, "differ in more than the pair's switch (k): x: '1' vs '2'"),
                  "%s", err.msg);
    study_free(st);
}
END_TEST

/* ---- the capacity search on a fixture database ------------------------------ */

/* A side's sustained rate is the highest grid rate below the first that
 * misses the target; GPUs for the load = ceil(load / (rate / GPUs)). With
 * 3 GPUs and a load of 7/s: on sustains 2/s (1.00, 0.95 meet 90%, 0.50 at
 * 4/s misses): 7 x 3 / 2 = 10.5 -> 11 GPUs; off sustains 1/s (0.80 at 2/s
 * is its first miss; its 0.95 at 4/s after the miss does not count):
 * 7 x 3 / 1 = 21 GPUs. A 99% target no off rate reaches is n/a with the
 * attainment of the lowest rate; a 40% target every rate meets is n/a (the
 * grid does not bracket the capacity), never a number. */
static void capacity_study(const char *file, const char *target)
{
    char y[2048];
    snprintf(y, sizeof y,
             "name: fx\n"
             "scenarios: {s: s.yaml, c: c.yaml}\n"
             "effect: [{label: TTFT p99, metric: workload/ttft_p99}]\n"
             "capacity:\n"
             "  scenario: s\n"
             "  key: workload.synthetic.rate\n"
             "  rates: [1/s, 2/s, 4/s]\n"
             "  set: {n: 10}\n"
             "  target: %s\n"
             "  load: 7/s\n"
             "  unit: sessions\n"
             "  gpus: '*.gpu*/hbm_utilization'\n"
             "  na: {c: no serving workload}\n"
             "pairs:\n"
             "  - {id: t, technology: T, scenarios: [s], key: k, on: a, off: b,\n"
             "     removal: [{label: host bytes, metric: '*.host/dram_bytes'}]}\n"
             "  - {id: u, technology: U, scenarios: [c], key: j, on: a, off: b,\n"
             "     removal: [{label: host bytes, metric: '*.host/dram_bytes'}]}\n",
             target);
    fx_write(file, y);
}

static void capacity_runs(void)
{
    fx_write("s.yaml", "name: fx-scen\nstop: 1 s\n");
    fx_write("c.yaml", "name: fx-coh\nstop: 1 s\n");
    ck_assert_int_eq(fx_sh("mkdir -p out"), 0);
    fx_metric m[] = {{"n0.host", "dram_bytes", 100, "B"}, {"workload", "ttft_p99", 1, "s"}};
    const char *pon[] = {"k=a", "sweep.k=a", NULL}, *poff[] = {"k=b", "sweep.k=b", NULL};
    const char *jon[] = {"j=a", "sweep.j=a", NULL}, *joff[] = {"j=b", "sweep.j=b", NULL};
    fx_run("out/study.db", "fx-scen", 1, pon, m, 2, 0, 1);
    fx_run("out/study.db", "fx-scen", 1, poff, m, 2, 0, 1);
    fx_run("out/study.db", "fx-coh", 1, jon, m, 2, 0, 1);
    fx_run("out/study.db", "fx-coh", 1, joff, m, 2, 0, 1);
    const char *rates[] = {"1/s", "2/s", "4/s"};
    const double att[2][3] = {{1.00, 0.95, 0.50}, {0.92, 0.80, 0.95}};
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < 3; i++) {
            char r1[64], r2[64];
            snprintf(r1, sizeof r1, "workload.synthetic.rate=%s", rates[i]);
            snprintf(r2, sizeof r2, "sweep.workload.synthetic.rate=%s", rates[i]);
            const char *p[] = {side ? "k=b" : "k=a", side ? "sweep.k=b" : "sweep.k=a", r1, r2,
                               "n=10", "sweep.n=10", NULL};
            fx_metric cm[] = {{"workload", "slo_attainment", att[side][i], ""},
                              {"node0.gpu0", "hbm_utilization", 0.1, ""},
                              {"node0.gpu1", "hbm_utilization", 0.1, ""},
                              {"node1.gpu0", "hbm_utilization", 0.1, ""},
                              {"n0.host", "dram_bytes", 1, "B"}};
            fx_run("out/study.db", "fx-scen", 1, p, cm, 5, 0, 1);
        }
}

static study *render_capacity(const char *file, sim_err *err)
{
    char path[512], db[512], dir[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, file);
    snprintf(db, sizeof db, "%s/out/study.db", fx_dir);
    snprintf(dir, sizeof dir, "%s/out", fx_dir);
    sim_err_clear(err);
    study *st = study_load(path, err);
    ck_assert_msg(st != NULL, "%s", err->msg);
    ck_assert_int_eq(study_render(st, db, dir, err), 0);
    return st;
}

START_TEST(capacity_fixture_db)
{
    capacity_runs();
    capacity_study("s90.yaml", "90%");
    capacity_study("s99.yaml", "0.99");
    capacity_study("s40.yaml", "40%");
    sim_err err;
    study *st = render_capacity("s90.yaml", &err);
    ck_assert_double_eq(cell("out", "t", "capacity/rate", 1), 2);
    ck_assert_double_eq(cell("out", "t", "capacity/rate", 0), 1);
    ck_assert_double_eq(cell("out", "t", "capacity/gpus", 1), 3);
    ck_assert_double_eq(cell("out", "t", "capacity/gpus_needed", 1), 11);
    ck_assert_double_eq(cell("out", "t", "capacity/gpus_needed", 0), 21);
    const char *md = slurp("out/table.md");
    ck_assert_msg(strstr(md, "GPUs for 7/s sessions (SLO attainment >= 90%): 21 \xe2\x86\x92 11 "
                             "(-47.6%); sustained rate: 1/s \xe2\x86\x92 2/s on 3 GPUs"), "%s", md);
    /* the other scenario's row: n/a with the study's reason */
    ck_assert_msg(strstr(md, "GPUs for a target load: n/a (no serving workload)"), "%s", md);
    ck_assert(isnan(cell("out", "u", "capacity/gpus_needed", 1)));
    study_free(st);

    st = render_capacity("s99.yaml", &err);
    md = slurp("out/table.md");
    ck_assert_msg(strstr(md, "(SLO attainment >= 0.99): n/a (no probed rate reaches 0.99 SLO "
                             "attainment: the lowest, 1/s, reaches 92.0%) \xe2\x86\x92 21; "
                             "sustained rate: n/a \xe2\x86\x92 1/s on 3 GPUs"), "%s", md);
    ck_assert(isnan(cell("out", "t", "capacity/gpus_needed", 0)));
    study_free(st);

    st = render_capacity("s40.yaml", &err);
    md = slurp("out/table.md");
    ck_assert_msg(strstr(md, "n/a (every probed rate up to 4/s meets 40% SLO attainment: the "
                             "grid does not bracket the capacity)"), "%s", md);
    ck_assert(isnan(cell("out", "t", "capacity/gpus_needed", 1)));
    study_free(st);

    /* a capacity run that differs in more than the switch is refused */
    const char *bad[] = {"k=b", "sweep.k=b", "workload.synthetic.rate=4/s",
                         "sweep.workload.synthetic.rate=4/s", "n=10", "sweep.n=10", "x=2", NULL};
    fx_metric cm[] = {{"workload", "slo_attainment", 0.1, ""}};
    fx_run("out/study.db", "fx-scen", 1, bad, cm, 1, 0, 1);
    char path[512], db[512], dir[512];
    snprintf(path, sizeof path, "%s/s90.yaml", fx_dir);
    snprintf(db, sizeof db, "%s/out/study.db", fx_dir);
    snprintf(dir, sizeof dir, "%s/out", fx_dir);
    st = study_load(path, &err);
    ck_assert_int_eq(study_render(st, db, dir, &err), SIM_EINVAL);
    ck_assert_msg(strstr(err.msg, "capacity runs at 4/s") && strstr(err.msg, "x: '(absent)' vs "
                  "'2'"), "%s", err.msg);
    study_free(st);
}
END_TEST

START_TEST(load_errors)
{
    fx_write("s.yaml", "name: fx-scen\n");
    fx_write("two.yaml", "scenarios: {s: s.yaml}\npairs:\n"
                         "  - {id: a, technology: A, scenarios: [s], key: k, on: x, off: y}\n"
                         "  - {id: b, technology: B, scenarios: [s], key: k, on: x, off: z}\n");
    fx_write("nokey.yaml", "scenarios: {s: s.yaml}\npairs:\n"
                           "  - {id: a, technology: A, scenarios: [s], on: x, off: y}\n");
    fx_write("typo.yaml", "scenarios: {s: s.yaml}\npairs:\n"
                          "  - {id: a, technology: A, scenarios: [s], key: k, on: x, of: y}\n");
    ck_assert_int_eq(fx_sh("'%s' study two.yaml -q", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "switch the same key 'k'"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("'%s' study nokey.yaml -q", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "needs its switch"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("'%s' study typo.yaml -q", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "unknown key 'of'"), "%s", fx_out);
    /* a switch of several keys: as many on and off values, each key changes,
     * no key twice, and no key shared with another pair on a scenario */
    fx_write("len.yaml", "scenarios: {s: s.yaml}\npairs:\n"
                         "  - {id: a, technology: A, scenarios: [s], key: [k, j], on: [x, y],\n"
                         "     off: z}\n");
    fx_write("same.yaml", "scenarios: {s: s.yaml}\npairs:\n"
                          "  - {id: a, technology: A, scenarios: [s], key: [k, j], on: [x, y],\n"
                          "     off: [z, y]}\n");
    fx_write("twice.yaml", "scenarios: {s: s.yaml}\npairs:\n"
                           "  - {id: a, technology: A, scenarios: [s], key: [k, k], on: [x, y],\n"
                           "     off: [z, w]}\n");
    fx_write("shared.yaml", "scenarios: {s: s.yaml}\npairs:\n"
                            "  - {id: a, technology: A, scenarios: [s], key: [k, j], on: [x, y],\n"
                            "     off: [z, w]}\n"
                            "  - {id: b, technology: B, scenarios: [s], key: j, on: x, off: v}\n");
    ck_assert_int_eq(fx_sh("'%s' study len.yaml -q", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "names 2 keys, so `on:` and `off:` give 2 values each"), "%s",
                  fx_out);
    ck_assert_int_eq(fx_sh("'%s' study same.yaml -q", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "on and off of 'j' are both 'y'"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("'%s' study twice.yaml -q", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "key 'k' is listed twice"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("'%s' study shared.yaml -q", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "switch the same key 'j'"), "%s", fx_out);
    /* the capacity section: a typo, an unordered grid, a bad target, the
     * load key being a switch */
    const char *pair = "pairs:\n  - {id: a, technology: A, scenarios: [s], key: k, on: x, "
                       "off: y}\n";
    const char *capf[][2] = {
        {"r, rats: [1/s]", "unknown key 'rats' in capacity; did you mean 'rates'"},
        {"r, rates: [2/s, 1/s]", "`rates:` must ascend ('1/s' after '2/s')"},
        {"r, rates: [1/s], target: 120%", "key 'target': '120%' is not an attainment"},
        {"k, rates: [1/s]", "capacity: key 'k' is pair 'a''s switch"},
        {"r, rates: [1/s], search: gpu", "key 'search': 'gpu' is neither rates"},
        {"workload.time_scale, search: gpus, rates: [1/s]", "needs `scenario:`, `key:`, "
         "`range:`"},
        {"workload.time_scale, search: gpus, range: [4, 2], rates: [1/s]",
         "search: gpus takes `range:`, not `rates:`"},
        {"workload.time_scale, search: gpus, range: [4, 2]", "`range:` is [LO, HI], GPU counts "
         "with 1 <= LO < HI"},
        {"workload.time_scale, search: gpus, range: [0, 2]", "`range:` is [LO, HI]"},
        {"workload.synthetic.rate, search: gpus, range: [1, 2]", "a time scale of its arrivals"},
        {"r, rates: [1/s], range: [1, 2]", "`range:` is for search: gpus"}};
    for (size_t i = 0; i < sizeof capf / sizeof *capf; i++) {
        char y[1024];
        snprintf(y, sizeof y, "scenarios: {s: s.yaml}\ncapacity: {scenario: s, load: 9/s, "
                 "gpus: '*.gpu*/x', key: %s}\n%s", capf[i][0], pair);
        fx_write("cap.yaml", y);
        ck_assert_int_eq(fx_sh("'%s' study cap.yaml -q", fx_bin), 2);
        ck_assert_msg(strstr(fx_out, capf[i][1]), "%s: %s", capf[i][0], fx_out);
    }
    /* a list of searches: one per scenario */
    char y[1024];
    snprintf(y, sizeof y, "scenarios: {s: s.yaml}\ncapacity:\n"
             "  - {scenario: s, load: 9/s, gpus: 'g/x', key: r, rates: [1/s]}\n"
             "  - {scenario: s, load: 9/s, gpus: 'g/x', key: r, rates: [2/s]}\n%s", pair);
    fx_write("cap.yaml", y);
    ck_assert_int_eq(fx_sh("'%s' study cap.yaml -q", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "capacity: scenario 's' has two searches"), "%s", fx_out);
}
END_TEST

/* ---- the bisection over the GPU count ------------------------------------------ */

/* A predicate known by construction: n GPUs suffice from K on. */
typedef struct oracle {
    long K;
    signed char known[256];    /* -1 not measured, else the measurement */
    int probes;
} oracle;

static int oracle_probe(void *ctx, long n)
{
    oracle *o = ctx;
    return o->known[n];
}

/* study_bisect finds exactly the smallest count for every answer K in and
 * around [lo, hi] = [3, 100], measuring one count per call as a study does
 * (one round each), with at most ceil(log2(98)) + 1 = 8 measurements; K
 * above the range is -1 (hi fails), K at or below lo answers lo. */
START_TEST(bisect_exact)
{
    const long lo = 3, hi = 100;
    for (long K = 1; K <= hi + 2; K++) {
        oracle o = {.K = K};
        memset(o.known, -1, sizeof o.known);
        long n = 0;
        int r;
        while ((r = study_bisect(lo, hi, oracle_probe, &o, &n)) == 0) {
            ck_assert_msg(n >= lo && n <= hi && o.known[n] < 0, "K %ld: probe %ld", K, n);
            o.known[n] = n >= K; /* measure it */
            o.probes++;
            ck_assert_int_le(o.probes, 8);
        }
        if (K > hi) {
            ck_assert_int_eq(r, -1);
        } else {
            ck_assert_int_eq(r, 1);
            ck_assert_int_eq(n, K < lo ? lo : K);
            if (K > lo) /* the count below the answer was measured and failed */
                ck_assert_int_eq(o.known[K - 1], 0);
            ck_assert_int_eq(o.known[n], 1);
        }
    }
}
END_TEST

/* The search through the binary: a single-GPU case whose SLO attainment
 * falls with the load (Poisson arrivals of 2,000-token prompts, TTFT SLO
 * 150 ms). The answer n must be the count whose time scale
 * n x r0 / (load x 1 GPU) meets 90% while n - 1's misses, r0 recomputed
 * here from the probe run's arrivals; both sides of the pair (a switch
 * that changes nothing without shared prefixes) agree; each side makes at
 * most log2(64) + 1 = 7 runs besides the probe; a rerun resumes. */
static double q1(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
    double v = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL
                   ? sqlite3_column_double(q, 0) : NAN;
    sqlite3_finalize(q);
    return v;
}

static double attainment_at(sqlite3 *h, const char *side, double ts)
{
    char val[64], sql[1024];
    snprintf(val, sizeof val, "%.10g", ts);
    snprintf(sql, sizeof sql,
             "SELECT m.value FROM metrics m JOIN params a ON a.run_id = m.run_id JOIN params b "
             "ON b.run_id = m.run_id WHERE m.scope = 'workload' AND m.name = 'slo_attainment' "
             "AND a.key = 'sweep.workload.time_scale' AND a.value = '%s' AND b.key = "
             "'sweep.kv.prefix_caching' AND b.value = '%s'", val, side);
    return q1(h, sql);
}

START_TEST(bisect_through_binary)
{
    fx_write("b.yaml",
             "name: bisect-case\nseed: 3\nstop: trace_end\n"
             "components:\n"
             "  - {name: gpu0, type: gpu}\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0}\n"
             "workload:\n"
             "  synthetic: {arrivals: poisson, rate: 10/s, input: {dist: fixed, mean: 2000 tokens},\n"
             "              output: {dist: fixed, mean: 8 tokens}, requests: 60}\n"
             "  slo: {ttft: 150 ms, tpot: 1 s}\n");
    fx_write("s.yaml",
             "name: bisect\nscenarios: {b: b.yaml}\n"
             "capacity: {scenario: b, key: workload.time_scale, search: gpus, range: [1, 64],\n"
             "           target: 90%, load: 100/s, unit: requests, gpus: gpu0/hbm_utilization}\n"
             "pairs:\n"
             "  - {id: pc, technology: PC, scenarios: [b], key: kv.prefix_caching, on: 'true',\n"
             "     off: 'false', removal: ['*/prefill_tokens_computed']}\n");
    ck_assert_msg(fx_sh("'%s' study s.yaml -o out -q --no-figures -j 1", fx_bin) == 0, "%s",
                  fx_out);
    double n = cell("out", "pc", "capacity/gpus_needed", 1);
    ck_assert_double_eq(cell("out", "pc", "capacity/gpus_needed", 0), n);
    ck_assert_double_eq(cell("out", "pc", "capacity/gpus", 1), 1);
    ck_assert_msg(n > 1 && n < 64, "answer %g is not inside the range", n);
    ck_assert_double_eq_tol(cell("out", "pc", "capacity/rate", 1), 100.0 / n, 1e-9);
    char db[512];
    snprintf(db, sizeof db, "%s/out/study.db", fx_dir);
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    double r0 = q1(h, "SELECT (count(*) - 1) / ((max(arrival_ps) - min(arrival_ps)) * 1e-12) "
                      "FROM requests WHERE run_id = (SELECT run_id FROM params WHERE key = "
                      "'sweep.workload.time_scale' AND value = '1')");
    ck_assert_msg(r0 > 5 && r0 < 20, "offered rate %g of a 10/s Poisson stream", r0);
    const char *sides[] = {"true", "false"};
    for (int i = 0; i < 2; i++) {
        double at = attainment_at(h, sides[i], n * r0 / 100.0);
        double below = attainment_at(h, sides[i], (n - 1) * r0 / 100.0);
        ck_assert_msg(at >= 0.9 && below < 0.9, "%s: attainment %g at %g GPUs, %g at one less",
                      sides[i], at, n, below);
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM params a JOIN params b ON a.run_id = "
                 "b.run_id WHERE a.key = 'sweep.workload.time_scale' AND a.value != '1' AND "
                 "b.key = 'sweep.kv.prefix_caching' AND b.value = '%s'", sides[i]);
        ck_assert_double_le(q1(h, sql), 7);
    }
    sqlite3_close(h);
    /* a rerun resumes: nothing runs again */
    ck_assert_int_eq(fx_sh("'%s' study s.yaml -o out -j 1 --no-figures", fx_bin), 0);
    ck_assert_msg(!strstr(fx_out, "capacity bisection, round"), "%s", fx_out);
    ck_assert_double_eq(cell("out", "pc", "capacity/gpus_needed", 1), n);
}
END_TEST

/* ---- accounting identities, through the binary --------------------------------- */

START_TEST(identities)
{
    fx_write("p.yaml",
             "name: prefix-identity\nseed: 1\nstop: trace_end\n"
             "workload:\n"
             "  synthetic: {arrivals: poisson, rate: 10000/s, groups: 1, prefix: 4096 tokens,\n"
             "              input: {dist: fixed, mean: 64 tokens},\n"
             "              output: {dist: fixed, mean: 64 tokens}, requests: 4}\n"
             "  instances: {count: 1, model: llama3-8b, gpu: h100, tp: 1}\n"
             "kv: {block_tokens: 16, prefix_caching: true, tiers: [{name: hbm}]}\n");
    fx_write("g.yaml",
             "name: gds-identity\nseed: 1\n"
             "components:\n"
             "  - {name: fabric, type: fabric, chunk: 1 MiB, window: 8 MiB}\n"
             "  - {name: host, type: cpu, dram_bandwidth: 200 GB/s, io_cpu: 5 us, gds_cpu: 1 us}\n"
             "  - {name: sw, type: pcie_switch, latency: 150 ns}\n"
             "  - {name: gpu, type: gpu}\n"
             "  - {name: ssd, type: nvme, read_bandwidth: 7 GB/s, read_latency: 80 us}\n"
             "  - {name: x, type: xfer, src: ssd, dst: gpu, size: 4 MiB, path: gds, count: 8,\n"
             "     outstanding: 2}\n"
             "links:\n"
             "  - {name: up, type: pcie, gen: 5, lanes: 16, ends: [host, sw]}\n"
             "  - {name: pg, type: pcie, gen: 5, lanes: 16, ends: [sw, gpu]}\n"
             "  - {name: ps, type: pcie, gen: 4, lanes: 4, ends: [sw, ssd]}\n");
    fx_write("s.yaml",
             "name: identities\nscenarios: {p: p.yaml, g: g.yaml}\npairs:\n"
             "  - {id: gds, technology: GDS, scenarios: [g], key: components.x.path, on: gds,\n"
             "     off: bounce, removal: [{metric: 'fabric/host_memory_bytes:bounce', absent: 0},\n"
             "     {metric: 'fabric/bytes:gds', absent: 0}, host/dram_bytes]}\n"
             "  - {id: prefix, technology: sharing, scenarios: [p], key: kv.prefix_caching,\n"
             "     on: 'true', off: 'false', removal: ['*/kv_bytes_saved_by_sharing',\n"
             "     '*/prefill_tokens_computed']}\n");
    ck_assert_msg(fx_sh("'%s' study s.yaml -o out -q --no-figures -j 1", fx_bin) == 0, "%s",
                  fx_out);
    const double N = 8, S = 4 * 1048576.0;
    ck_assert_double_eq(cell("out", "gds", "fabric/host_memory_bytes:bounce", 0), 2 * N * S);
    ck_assert_double_eq(cell("out", "gds", "fabric/host_memory_bytes:bounce", 1), 0);
    ck_assert_double_eq(cell("out", "gds", "host/dram_bytes", 0), 2 * N * S);
    ck_assert_double_eq(cell("out", "gds", "host/dram_bytes", 1), 0);
    ck_assert_double_eq(cell("out", "gds", "fabric/bytes:gds", 1), N * S);
    /* Llama-3-8B: 32 layers x 8 KV heads x 128 x 2 (K, V) x 2 B = 128 KiB per token */
    const double k = 4, P = 4096, kvbpt = 131072, in = 64;
    ck_assert_double_eq(cell("out", "prefix", "*/kv_bytes_saved_by_sharing", 0), 0);
    ck_assert_double_eq(cell("out", "prefix", "*/kv_bytes_saved_by_sharing", 1),
                        (k - 1) * P * kvbpt);
    ck_assert_double_eq(cell("out", "prefix", "*/prefill_tokens_computed", 0), k * (P + in));
    ck_assert_double_eq(cell("out", "prefix", "*/prefill_tokens_computed", 1), P + k * in);
    /* a rerun resumes: nothing runs again, the same cells */
    ck_assert_int_eq(fx_sh("'%s' study s.yaml -o out -j 1 --no-figures", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "complete before this run: 4"), "%s", fx_out);
}
END_TEST

/* The copy-free identities (see the head comment), through memfab study:
 * pair `direct` flips kv.cxl_access on a CXL tier moved by DMA; pair `cxl`
 * is the study's two-key CXL switch (the tier's component and
 * kv.cxl_access) against the same tier in host DRAM. */
static void cxl_case(const char *file, const char *name)
{
    char text[2048];
    snprintf(text, sizeof text,
             "name: %s\nstop: trace_end\n"
             "components:\n"
             "  - {name: fabric, type: fabric, chunk: 1 MiB, window: 8 MiB}\n"
             "  - {name: host, type: cpu}\n"
             "  - {name: gpu0, type: gpu}\n"
             "  - {name: cxl0, type: memory, kind: cxl, capacity: 64 GiB, bandwidth: 64 GB/s}\n"
             "  - {name: inst0, type: llm_instance, model: llama3-8b, device: gpu0}\n"
             "links:\n"
             "  - {name: up, type: pcie, gen: 5, lanes: 16, ends: [host, gpu0]}\n"
             "  - {name: cl, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, ends: [host, cxl0]}\n"
             "workload: {trace: t.trace, format: native}\n"
             "kv: {block_tokens: 16, cxl_access: direct, tiers: [{name: hbm, capacity: 16 MiB},\n"
             "     {name: pool, capacity: 1 GiB, component: cxl0, path: dma}]}\n",
             name);
    fx_write(file, text);
}

START_TEST(copy_free_identities)
{
    /* requests 0-2: 63 + 1 tokens, four blocks each; 3 reuses 0's blocks */
    fx_write("t.trace", "# memfab-trace v1 block_tokens=16\n"
                        "0 0 1 63 1 1 2 3 4\n"
                        "1 1000000000000 2 63 1 5 6 7 8\n"
                        "2 2000000000000 3 63 1 9 10 11 12\n"
                        "3 3000000000000 4 64 1 1 2 3 4\n");
    cxl_case("d.yaml", "copy-free-identity");
    cxl_case("h.yaml", "copy-free-vs-host");
    fx_write("s.yaml",
             "name: cxl-identities\nscenarios: {d: d.yaml, h: h.yaml}\n"
             "energy: [workload/energy_data_movement_j]\npairs:\n"
             "  - {id: direct, technology: copy-free, scenarios: [d], key: kv.cxl_access,\n"
             "     on: direct, off: copy,\n"
             "     removal: ['*/kv_load_bytes',\n"
             "               {metric: '*/kv_direct_blocks', absent: 0},\n"
             "               {metric: '*/kv_direct_bytes', absent: 0},\n"
             "               gpu0/hbm_bytes, cxl0/mem_bytes, host/dram_bytes],\n"
             "     energy: [gpu0/energy_j, workload/energy_data_movement_j]}\n"
             "  - {id: cxl, technology: CXL pool, scenarios: [h],\n"
             "     key: [kv.tiers.pool.component, kv.cxl_access], on: [cxl0, direct],\n"
             "     off: [host, copy], removal: [host/dram_bytes, '*/kv_load_bytes'],\n"
             "     energy: [host/energy_dram_j]}\n");
    ck_assert_msg(fx_sh("'%s' study s.yaml -o out -q --no-figures -j 1", fx_bin) == 0, "%s",
                  fx_out);
    const double MiB = 1048576.0, P = 4 * 2 * MiB, W = P, KVBPT = 131072;
    /* copy-free removes exactly the promoted bytes and blocks */
    ck_assert_double_eq(cell("out", "direct", "*/kv_load_bytes", 0), P);
    ck_assert_double_eq(cell("out", "direct", "*/kv_load_bytes", 1), 0);
    /* the blocks read in place are the ones the copy promoted: P / 2 MiB */
    ck_assert_double_eq(cell("out", "direct", "*/kv_direct_blocks", 0), 0);
    ck_assert_double_eq(cell("out", "direct", "*/kv_direct_blocks", 1), P / (2 * MiB));
    ck_assert_double_eq(cell("out", "direct", "*/kv_direct_bytes", 1), 63 * KVBPT);
    /* HBM: the first write-back (P) in both; the copy adds P in and W out */
    ck_assert_double_eq(cell("out", "direct", "gpu0/hbm_bytes", 0), P + P + W);
    ck_assert_double_eq(cell("out", "direct", "gpu0/hbm_bytes", 1), P);
    ck_assert_double_eq(cell("out", "direct", "cxl0/mem_bytes", 0), P + P + W);
    ck_assert_double_eq(cell("out", "direct", "cxl0/mem_bytes", 1), P + 63 * KVBPT);
    /* DMA to and from the CXL memory: no host DRAM in either run */
    ck_assert_double_eq(cell("out", "direct", "host/dram_bytes", 0), 0);
    ck_assert_double_eq(cell("out", "direct", "host/dram_bytes", 1), 0);
    /* the HBM energy of the removed bytes: (P + W) x 8 x 3.9 pJ/bit */
    double de = cell("out", "direct", "gpu0/energy_j", 0) - cell("out", "direct", "gpu0/energy_j", 1);
    ck_assert_msg(fabs(de - (P + W) * 8 * 3.9e-12) < 1e-15, "%.17g", de);
    ck_assert(cell("out", "direct", "workload/energy_data_movement_j", 1) <
              cell("out", "direct", "workload/energy_data_movement_j", 0));
    /* against host DRAM copies: every byte of host DRAM traffic goes */
    ck_assert_double_eq(cell("out", "cxl", "host/dram_bytes", 0), P + 2 * W);
    ck_assert_double_eq(cell("out", "cxl", "host/dram_bytes", 1), 0);
    ck_assert_double_eq(cell("out", "cxl", "*/kv_load_bytes", 0), P);
    ck_assert_double_eq(cell("out", "cxl", "*/kv_load_bytes", 1), 0);
    double dd = cell("out", "cxl", "host/energy_dram_j", 0);
    ck_assert_msg(fabs(dd - (P + 2 * W) * 8 * 20e-12) < 1e-15, "%.17g", dd);
    ck_assert_double_eq(cell("out", "cxl", "host/energy_dram_j", 1), 0);
    /* the row names both keys with both values */
    const char *md = slurp("out/table.md");
    ck_assert_msg(strstr(md, "kv.tiers.pool.component=cxl0\\|host, kv.cxl_access=direct\\|copy"),
                  "%s", md);
}
END_TEST

static Suite *study_suite(void)
{
    Suite *s = suite_create("study");
    TCase *tc = tcase_create("Core");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, params_differ_refuses_a_second_key);
    tcase_add_test(tc, params_differ_two_key_switch);
    tcase_add_test(tc, metric_sum_globs);
    tcase_add_test(tc, render_fixture_db);
    tcase_add_test(tc, capacity_fixture_db);
    tcase_add_test(tc, bisect_exact);
    tcase_add_test(tc, bisect_through_binary);
    tcase_add_test(tc, identities);
    tcase_add_test(tc, copy_free_identities);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("Errors");
    tcase_add_checked_fixture(te, fx_setup, fx_teardown);
    tcase_add_test(te, load_errors);
    suite_add_tcase(s, te);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(study_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
