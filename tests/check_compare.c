/*
 * check_compare.c - memfab compare and memfab baseline: tolerances,
 * directions, run matching, missing metrics, baseline files, exit codes.
 * Databases are written through results/res.h; the commands run through
 * MEMFAB_BIN.
 */
#include <math.h>

#include "sim/mem.h"
#include "sim/yamlout.h"
#include "tests/tools_fixture.h"
#include "tools/compare.h"

/* A base run: latency (lower is better), throughput (higher is better),
 * a neutral count. */
static void base_db(const char *name, double lat, double thr, double count)
{
    fx_metric m[] = {{"gpu0", "latency_mean", lat, "s"},
                     {"gpu0", "throughput", thr, "B/s"},
                     {"gpu0", "received_packets", count, "packets"}};
    const char *p[] = {"stop=1 s", "links.l0.bandwidth=25 GB/s", NULL};
    fx_run(name, "tiny", 42, p, m, 3, 0, 1);
}

/* ---- Core ---------------------------------------------------------------- */

START_TEST(identical_is_ok)
{
    base_db("a.db", 1e-6, 1e9, 100);
    base_db("b.db", 1e-6, 1e9, 100);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "all 3 metrics identical"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "0 worse"), "%s", fx_out);
}
END_TEST

START_TEST(direction_marks_regressions)
{
    base_db("a.db", 1e-6, 1e9, 100);
    base_db("worse.db", 1.1e-6, 1e9, 100);   /* latency +10% */
    base_db("better.db", 0.9e-6, 1.1e9, 100); /* latency -10%, throughput +10% */
    base_db("slower.db", 1e-6, 0.8e9, 100);  /* throughput -20% */
    ck_assert_int_eq(fx_sh("%s compare a.db worse.db", fx_bin), 3);
    ck_assert_msg(strstr(fx_out, "WORSE") && strstr(fx_out, "gpu0/latency_mean"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s compare a.db better.db", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "better") && !strstr(fx_out, "WORSE"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s compare a.db slower.db", fx_bin), 3);
    ck_assert_msg(strstr(fx_out, "gpu0/throughput") && strstr(fx_out, "WORSE"), "%s", fx_out);
    /* within the default 2%: ok */
    base_db("close.db", 1.01e-6, 1e9, 100);
    ck_assert_int_eq(fx_sh("%s compare a.db close.db", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, " ok"), "%s", fx_out);
}
END_TEST

START_TEST(tolerances_per_metric)
{
    base_db("a.db", 1e-6, 1e9, 100);
    base_db("b.db", 1.1e-6, 1e9, 103);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db", fx_bin), 3);
    ck_assert_msg(strstr(fx_out, "CHANGED"), "neutral count beyond 2%%: %s", fx_out);
    /* relative by glob, absolute by name */
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --tol '*/latency_*=15%%'"
                           " --tol gpu0/received_packets=3", fx_bin), 0);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --tol '*/latency_*=15%%'"
                           " --tol gpu0/received_packets=2.5", fx_bin), 3);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --tolerance 20%%", fx_bin), 0);
    /* a tolerance file; the command line wins over it */
    fx_write("tol.yaml", "default: 1%\nmetrics:\n  \"*/latency_*\": 15%\n"
                         "  gpu0/received_packets: 5\n");
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --tolerances tol.yaml", fx_bin), 0);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --tolerances tol.yaml"
                           " --tol gpu0/received_packets=0", fx_bin), 3);
    /* ignore and explicit direction */
    fx_write("tol2.yaml", "ignore: [gpu0/received_packets]\ndirections:\n"
                          "  gpu0/latency_mean: higher\n");
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --tolerances tol2.yaml", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "better"), "%s", fx_out);
}
END_TEST

START_TEST(markdown_table)
{
    base_db("a.db", 1e-6, 1e9, 100);
    base_db("b.db", 1.5e-6, 1e9, 100);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --format md", fx_bin), 3);
    ck_assert_msg(strstr(fx_out, "| run | metric | base | cand |"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "|---|"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "**WORSE**"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "gpu0/latency\\_mean"), "markdown escaping: %s", fx_out);
}
END_TEST

START_TEST(baseline_roundtrip)
{
    fx_metric m[] = {{"gpu0", "latency_mean", 1.2345678901234567e-6, "s"},
                     {"we\"ird", "na:me\\x", 0.1, "B"},
                     {"gpu0", "nothing", NAN, ""}};
    const char *p[] = {"stop=1 s", "sweep.bw=8 GB/s", "other=1", NULL};
    fx_run("a.db", "tiny \"quoted\"", 7, p, m, 3, 30, 1);
    ck_assert_int_eq(fx_sh("%s baseline a.db -o base.yaml", fx_bin), 0);
    ck_assert_int_eq(fx_sh("cat base.yaml"), 0);
    ck_assert_msg(strstr(fx_out, "memfab_baseline: 1"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "\"sweep.bw\": \"8 GB/s\""), "key params: %s", fx_out);
    ck_assert_msg(!strstr(fx_out, "\"other\""), "only key params by default: %s", fx_out);
    ck_assert_msg(strstr(fx_out, "requests/ttft_p99"), "derived request metrics: %s", fx_out);
    /* the baseline reproduces the database exactly */
    ck_assert_int_eq(fx_sh("%s compare base.yaml a.db --tolerance 0", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "all ") && strstr(fx_out, "identical"), "%s", fx_out);
    /* a changed candidate fails against the baseline */
    fx_metric m2[] = {{"gpu0", "latency_mean", 2e-6, "s"},
                      {"we\"ird", "na:me\\x", 0.1, "B"},
                      {"gpu0", "nothing", NAN, ""}};
    fx_run("b.db", "tiny \"quoted\"", 7, p, m2, 3, 30, 1);
    ck_assert_int_eq(fx_sh("%s compare base.yaml b.db", fx_bin), 3);
}
END_TEST

/* Many metrics, most of them changed: base value 1000 each; candidate
 * changes latency_i by +(i % 37 + 3)% (all 400 worse), throughput_i by
 * -(i % 11)% (37 same, 74 ok, 290 worse) and bytes_i by +5% (400 changed);
 * one metric, the worst, triples. */
static void many_db(const char *name, int cand, int n)
{
    fx_metric *m = calloc((size_t)(3 * n + 1), sizeof *m);
    char (*names)[32] = calloc((size_t)(3 * n + 1), sizeof *names);
    ck_assert(m && names);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        snprintf(names[k], sizeof names[k], "latency_%04d", i);
        m[k] = (fx_metric){"gpu0", names[k], cand ? 1000 * (1 + (i % 37 + 3) / 100.0) : 1000,
                           "s"};
        k++;
        snprintf(names[k], sizeof names[k], "throughput_%04d", i);
        m[k] = (fx_metric){"gpu0", names[k], cand ? 1000 * (1 - (i % 11) / 100.0) : 1000, "B/s"};
        k++;
        snprintf(names[k], sizeof names[k], "bytes_%04d", i);
        m[k] = (fx_metric){"gpu0", names[k], cand ? 1050 : 1000, "B"};
        k++;
    }
    snprintf(names[k], sizeof names[k], "latency_worst");
    m[k] = (fx_metric){"gpu1", names[k], cand ? 3000 : 1000, "s"};
    k++;
    fx_run(name, "many", 1, NULL, m, k, 0, 1);
    free(m);
    free(names);
}

/* The markdown report of a change with many rows fits a pull request
 * comment: the verdict first, the worst regressions, a count of the rest,
 * everything else collapsed, and never more than --max-bytes. */
START_TEST(markdown_report_fits)
{
    many_db("a.db", 0, 400);
    many_db("b.db", 1, 400);
    /* the default limit: 60000 bytes */
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --format md > r.md", fx_bin), 3);
    ck_assert_int_eq(fx_sh("wc -c < r.md"), 0);
    long size = atol(fx_out);
    ck_assert_msg(size > 30000 && size <= 60000, "size %ld", size);
    ck_assert_int_eq(fx_sh("head -n 1 r.md"), 0);
    ck_assert_msg(strstr(fx_out, "### :x: memfab compare: a.db vs b.db: REGRESSION\n"), "%s",
                  fx_out);
    /* a smaller limit */
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --format md --max-bytes 12000 > s.md; wc -c <"
                           " s.md", fx_bin), 0);
    ck_assert_msg(atol(fx_out) <= 12000 && atol(fx_out) > 9000, "size %s", fx_out);
    ck_assert_int_eq(fx_sh("cat s.md"), 0);
    const char *verdict = strstr(fx_out, "REGRESSION"), *counts = strstr(fx_out, "**");
    const char *worst = strstr(fx_out, "#### Regressions, worst first (20 of 1090)");
    const char *first = strstr(fx_out, "| many | gpu1/latency\\_worst | 1000 s | 3000 s | +200% |");
    const char *second = strstr(fx_out, "| many | gpu0/latency\\_0036 | 1000 s | 1390 s | +39% |");
    const char *rest = strstr(fx_out, "... and 1070 more regressions");
    const char *details = strstr(fx_out, "<details><summary>Every differing metric (1164 rows:"
                                         " 1090 regressions, 0 better");
    const char *cut = strstr(fx_out, "more rows left out to stay within 12000 bytes");
    const char *close = strstr(fx_out, "</details>");
    ck_assert_msg(verdict && counts && worst && first && second && rest && details && cut &&
                  close, "%.3000s", fx_out);
    ck_assert_msg(verdict < counts && counts < worst && worst < first && first < second &&
                  second < rest && rest < details && details < cut && cut < close, "order: %.3000s",
                  fx_out);
    ck_assert_msg(strstr(fx_out, "400 changed") && strstr(fx_out, "690 worse"), "%.3000s", fx_out);
    /* --top; no limit keeps every row */
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --format md --top 3 --max-bytes 0 > t.md;"
                           " grep -c '^| many |' t.md", fx_bin), 0);
    ck_assert_msg(atol(fx_out) == 3 + 1164, "rows %s", fx_out);
    ck_assert_int_eq(fx_sh("grep -c 'worst first (3 of 1090)' t.md; grep -c 'left out' t.md"),
                     1);
    ck_assert_msg(strcmp(fx_out, "1\n0\n") == 0, "%.3000s", fx_out);
    /* bad limits */
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --format md --max-bytes 100", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --format md --top -1", fx_bin), 2);
    /* within tolerance: the verdict, no tables */
    ck_assert_int_eq(fx_sh("%s compare a.db a.db --format md", fx_bin), 0);
    ck_assert_msg(strncmp(fx_out, "### :white_check_mark: ", 23) == 0 &&
                  strstr(fx_out, "all within tolerance") && !strstr(fx_out, "<details>") &&
                  strstr(fx_out, "All 1201 metrics identical"), "%.3000s", fx_out);
}
END_TEST

/* Several BASE CAND pairs give one report with one verdict; --failure
 * notes make it FAILED and come first. */
START_TEST(markdown_pairs_one_report)
{
    base_db("a.db", 1e-6, 1e9, 100);
    base_db("b.db", 1e-6, 1.2e9, 100);   /* better */
    fx_metric m[] = {{"x", "slo_attainment", 0.9, ""}, {"x", "rejected", 3, "requests"}};
    fx_run("c.db", "other", 1, NULL, m, 2, 0, 1);
    m[0].value = 0.8;
    m[1].value = 2;
    fx_run("d.db", "other", 1, NULL, m, 2, 0, 1);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db c.db d.db --format md --title 'memfab regress'"
                           " --note 'kv: skipped' --failure 'pd: the run failed'", fx_bin), 3);
    ck_assert_msg(strncmp(fx_out, "### :x: memfab regress: REGRESSION\n", 35) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "2 runs matched"), "%s", fx_out);
    const char *fail = strstr(fx_out, "- :x: pd: the run failed"), *note = strstr(fx_out,
                                                                               "- kv: skipped");
    ck_assert_msg(fail && note && fail < note, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "worst first (1 of 1)") &&
                  strstr(fx_out, "| other | x/slo\\_attainment | 0.9 | 0.8 |") &&
                  strstr(fx_out, "| other | x/rejected | 3 requests | 2 requests | -33.3% | 2% |"
                                 " better |") &&
                  strstr(fx_out, "| tiny | gpu0/throughput |"), "%s", fx_out);
    /* only a failure note: FAILED, exit status unchanged */
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --format md --failure 'pd: the run failed'",
                           fx_bin), 0);
    ck_assert_msg(strstr(fx_out, ": FAILED\n") && strstr(fx_out, ":x: pd: the run failed"), "%s",
                  fx_out);
    /* pairs take no --base-run; an odd count is bad input */
    ck_assert_int_eq(fx_sh("%s compare a.db b.db c.db", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db c.db d.db --base-run 1 --cand-run 1", fx_bin),
                     2);
}
END_TEST

/* A run of a build from a tree with uncommitted changes: the baseline has
 * a warning comment, baseline warns on stderr, compare notes it. */
START_TEST(dirty_tree_baseline)
{
    sim_err err;
    char path[512];
    snprintf(path, sizeof path, "%s/d.db", fx_dir);
    res_db *db = res_open(path, &err);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_gt(res_run_begin(db, "s", "", 1, "1a2b3c4-dirty", &err), 0);
    res_metric(db, "x", "latency_mean", 1, "s");
    ck_assert_int_eq(res_run_end(db, "complete", 0.1, 1000, 10, &err), 0);
    res_close(db);
    ck_assert_int_eq(fx_sh("%s baseline d.db -o d.yaml", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "warning: 1 run of d.db came from a build with uncommitted"
                                 " changes (memfab 1a2b3c4-dirty)"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("grep '^#' d.yaml"), 0);
    ck_assert_msg(strstr(fx_out, "# WARNING: written from a dirty tree: 1 run (run 1: memfab"
                                 " 1a2b3c4-dirty)"), "%s", fx_out);
    ck_assert_msg(fx_sh("%s compare d.yaml d.db", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "note: d.yaml was written by memfab 1a2b3c4-dirty, built from"
                                 " a dirty tree"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s compare d.yaml d.db --format md", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "- d.yaml was written by memfab 1a2b3c4-dirty, built from a"
                                 " dirty tree"), "%s", fx_out);
    /* a clean build says nothing */
    base_db("a.db", 1e-6, 1e9, 100);
    ck_assert_int_eq(fx_sh("%s baseline a.db -o a.yaml && grep -c dirty a.yaml", fx_bin), 1);
    ck_assert_int_eq(fx_sh("%s compare a.yaml a.db", fx_bin), 0);
    ck_assert_msg(!strstr(fx_out, "dirty"), "%s", fx_out);
}
END_TEST

/* regress.sh --format md: one report over every scenario, one verdict at
 * the top, within --max-bytes; a scenario without a baseline is in it as
 * a failure; progress goes to stderr. */
START_TEST(regress_one_markdown_report)
{
    ck_assert_int_eq(fx_sh("mkdir -p rg/baselines && cp '%s/scenarios/regress/regress.sh'"
                           " '%s/scenarios/regress/tolerances.yaml'"
                           " '%s/scenarios/regress/doorbells.yaml'"
                           " '%s/scenarios/regress/saturated.yaml' rg/ && cp"
                           " '%s/scenarios/regress/doorbells.yaml' rg/nobase.yaml &&"
                           " sh rg/regress.sh %s --update >/dev/null 2>&1; rm rg/baselines/nobase.yaml",
                           fx_src, fx_src, fx_src, fx_src, fx_src, fx_bin), 0);
    /* a deliberate change: every doorbells baseline value +30% */
    ck_assert_int_eq(fx_sh("awk '/value: [0-9]/ { sub(/value: [0-9.e+-]+/, \"value: \" 1.3 *"
                           " substr($0, index($0, \"value: \") + 7) + 0) } { print }'"
                           " rg/baselines/doorbells.yaml > d.yaml && mv d.yaml"
                           " rg/baselines/doorbells.yaml"), 0);
    ck_assert_int_eq(fx_sh("sh rg/regress.sh %s --format md --max-bytes 5000 >r.md 2>err.txt",
                           fx_bin), 3);
    ck_assert_int_eq(fx_sh("wc -c < r.md; grep -c '^### ' r.md; head -n 1 r.md; cat err.txt"), 0);
    ck_assert_msg(atol(fx_out) <= 5000 && atol(fx_out) > 2000, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "\n1\n### :x: memfab regress (3 scenarios): REGRESSION\n"),
                  "one report, verdict first: %s", fx_out);
    ck_assert_msg(strstr(fx_out, "regress: nobase: no baseline") &&
                  strstr(fx_out, "regress: 3 scenarios, FAILED (exit 3)"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("cat r.md"), 0);
    ck_assert_msg(strstr(fx_out, "- :x: nobase: no baseline") &&
                  strstr(fx_out, "2 runs matched") && strstr(fx_out, "#### Regressions, worst") &&
                  strstr(fx_out, "regress-doorbells") && strstr(fx_out, "</details>") &&
                  !strstr(fx_out, "regress:"), "%.3000s", fx_out);
    /* text output is unchanged: per scenario */
    ck_assert_int_eq(fx_sh("sh rg/regress.sh %s", fx_bin), 3);
    ck_assert_msg(strstr(fx_out, "regress: doorbells: REGRESSION") &&
                  strstr(fx_out, "regress-saturated: baseline vs run 1"), "%.3000s", fx_out);
}
END_TEST

/* ---- Limits --------------------------------------------------------------- */

START_TEST(missing_and_new_metrics)
{
    fx_metric a[] = {{"x", "latency_mean", 1, "s"}, {"x", "gone", 5, ""}};
    fx_metric b[] = {{"x", "latency_mean", 1, "s"}, {"x", "fresh", 5, ""}};
    fx_run("a.db", "s", 1, NULL, a, 2, 0, 1);
    fx_run("b.db", "s", 1, NULL, b, 2, 0, 1);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db", fx_bin), 3);
    ck_assert_msg(strstr(fx_out, "x/gone") && strstr(fx_out, "MISSING"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "x/fresh") && strstr(fx_out, "new"), "%s", fx_out);
    /* new metrics alone pass */
    ck_assert_int_eq(fx_sh("%s compare a.db b.db --ignore x/gone", fx_bin), 0);
}
END_TEST

START_TEST(runs_matched_by_params)
{
    const char *p8[] = {"bw=8 GB/s", NULL}, *p16[] = {"bw=16 GB/s", NULL};
    fx_metric slow[] = {{"g", "latency_mean", 2, "s"}}, fast[] = {{"g", "latency_mean", 1, "s"}};
    fx_run("a.db", "s", 1, p8, slow, 1, 0, 1);
    fx_run("a.db", "s", 1, p16, fast, 1, 0, 1);
    fx_run("b.db", "s", 1, p16, fast, 1, 0, 1);   /* other order */
    fx_run("b.db", "s", 1, p8, slow, 1, 0, 1);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "2 runs matched"), "%s", fx_out);
    /* a rerun appended to the candidate replaces the older one */
    fx_metric slower[] = {{"g", "latency_mean", 3, "s"}};
    fx_run("b.db", "s", 1, p8, slower, 1, 0, 1);
    ck_assert_int_eq(fx_sh("%s compare a.db b.db", fx_bin), 3);
    /* a base run without a match: a regression, with the reason */
    const char *p4[] = {"bw=4 GB/s", NULL};
    fx_run("a.db", "s", 1, p4, fast, 1, 0, 1);
    fx_run("c.db", "s", 1, p8, slow, 1, 0, 1);
    fx_run("c.db", "s", 1, p16, fast, 1, 0, 1);
    ck_assert_int_eq(fx_sh("%s compare a.db c.db", fx_bin), 3);
    ck_assert_msg(strstr(fx_out, "MISSING: no run of CAND") && strstr(fx_out, "differs in 'bw'"),
                  "%s", fx_out);
    /* explicit runs */
    ck_assert_int_eq(fx_sh("%s compare a.db c.db --base-run 2 --cand-run 2", fx_bin), 0);
    ck_assert_int_eq(fx_sh("%s compare a.db c.db --base-run 2 --cand-run 1", fx_bin), 3);
}
END_TEST

START_TEST(tolerance_parsing)
{
    cmp_tol t;
    ck_assert_int_eq(cmp_parse_tol("2%", &t), 0);
    ck_assert(t.relative && fabs(t.value - 0.02) < 1e-12);
    ck_assert_int_eq(cmp_parse_tol(" 0.1 ", &t), 0);
    ck_assert(!t.relative && t.value == 0.1);
    ck_assert_int_eq(cmp_parse_tol("0", &t), 0);
    ck_assert_int_ne(cmp_parse_tol("-1%", &t), 0);
    ck_assert_int_ne(cmp_parse_tol("5%%", &t), 0);
    ck_assert_int_ne(cmp_parse_tol("", &t), 0);
    ck_assert_int_ne(cmp_parse_tol("nan", &t), 0);
    ck_assert_int_eq(cmp_direction("gpu0/latency_p99", "s"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("requests/ttft_mean", "s"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("kv/gpu0/hbm/hit_ratio", ""), CMP_HIGHER);
    ck_assert_int_eq(cmp_direction("gpu0/throughput", "B/s"), CMP_HIGHER);
    ck_assert_int_eq(cmp_direction("l0/wait:a->b_mean", "s"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("x/anything", "ms"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("x/rate", "tokens/s"), CMP_HIGHER);
    ck_assert_int_eq(cmp_direction("x/received_packets", "packets"), CMP_NEUTRAL);
    ck_assert_int_eq(cmp_direction("kv/gpu0/hbm/evictions", "blocks"), CMP_LOWER);
    /* serving outcomes and fabric incidents */
    ck_assert_int_eq(cmp_direction("workload/slo_attainment", ""), CMP_HIGHER);
    ck_assert_int_eq(cmp_direction("workload/goodput", "requests/s"), CMP_HIGHER);
    ck_assert_int_eq(cmp_direction("fabric/model_goodput:read", "B"), CMP_HIGHER);
    ck_assert_int_eq(cmp_direction("workload/completed", "requests"), CMP_HIGHER);
    ck_assert_int_eq(cmp_direction("workload/rejected", "requests"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("workload/rejected_early", "requests"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("workload/preemptions", "requests"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("workload/unfinished", "requests"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("fabric/unfinished_transfers", "transfers"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("nic0/refused_packets", "packets"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("pd/kv_transfer_errors", ""), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("nic0/retransmits", "packets"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("workload/energy_per_output_token_j", "J"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("up0/energy_j:host->sw0", "J"), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("sw/pauses:node0.nic0->switch", ""), CMP_LOWER);
    ck_assert_int_eq(cmp_direction("gpu0/STALL_cycles", "cycles"), CMP_LOWER);
    /* the sample count of a distribution has no direction */
    ck_assert_int_eq(cmp_direction("workload/ttft_count", ""), CMP_NEUTRAL);
    ck_assert_int_eq(cmp_direction("fabric/latency:rdma_count", ""), CMP_NEUTRAL);
}
END_TEST

/* ---- Errors ---------------------------------------------------------------- */

START_TEST(bad_input_exits_2)
{
    base_db("a.db", 1e-6, 1e9, 100);
    ck_assert_int_eq(fx_sh("%s compare a.db nosuch.db", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s compare a.db", fx_bin), 2);
    fx_write("text.db", "hello\n");
    ck_assert_int_eq(fx_sh("%s compare a.db text.db", fx_bin), 2);
    ck_assert_int_eq(fx_sh("sqlite3 foreign.db 'CREATE TABLE t(x)' && %s compare a.db"
                           " foreign.db", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s compare a.db a.db --tolerance abc", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s compare a.db a.db --tol nothing", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s compare a.db a.db --format html", fx_bin), 2);
    fx_write("tol.yaml", "metrics:\n  x: [1, 2]\n");
    ck_assert_int_eq(fx_sh("%s compare a.db a.db --tolerances tol.yaml", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "tol.yaml:2:"), "position of the error: %s", fx_out);
    fx_write("tol2.yaml", "defualt: 2%\n");
    ck_assert_int_eq(fx_sh("%s compare a.db a.db --tolerances tol2.yaml", fx_bin), 2);
    fx_write("notbase.yaml", "name: x\n");
    ck_assert_int_eq(fx_sh("%s compare notbase.yaml a.db", fx_bin), 2);
    /* unrelated databases: no run matches */
    fx_metric m[] = {{"x", "y", 1, ""}};
    fx_run("other.db", "different", 1, NULL, m, 1, 0, 1);
    ck_assert_int_eq(fx_sh("%s compare a.db other.db", fx_bin), 2);
    /* baseline errors */
    ck_assert_int_eq(fx_sh("%s baseline nosuch.db", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s baseline a.db --run 99", fx_bin), 2);
}
END_TEST

START_TEST(incomplete_runs_ignored)
{
    sim_err err;
    char path[512];
    snprintf(path, sizeof path, "%s/r.db", fx_dir);
    res_db *db = res_open(path, &err);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_gt(res_run_begin(db, "s", "", 1, "t", &err), 0);
    res_metric(db, "x", "latency_mean", 1, "s");
    res_run_end(db, "failed", 0, 0, 0, &err);
    res_close(db);
    ck_assert_int_eq(fx_sh("%s compare r.db r.db", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "no complete run"), "%s", fx_out);
}
END_TEST

/* baseline never writes over its database or another kind of file, and a
 * failed write (ENOSPC) is exit 1, not a truncated baseline. */
START_TEST(baseline_output_safety)
{
    base_db("a.db", 1e-6, 1e9, 100);
    ck_assert_int_eq(fx_sh("cp a.db keep.db"), 0);
    ck_assert_int_eq(fx_sh("%s baseline a.db -o a.db", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "is the input file"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("cmp a.db keep.db && %s baseline a.db -o ./a.db", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s baseline a.db -o keep.db", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "is a results database"), "%s", fx_out);
    fx_write("scenario.yaml", "name: tiny\n");
    ck_assert_int_eq(fx_sh("%s baseline a.db -o scenario.yaml", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "not a baseline file"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("cmp a.db keep.db && grep -q 'name: tiny' scenario.yaml"), 0);
    ck_assert_int_eq(fx_sh("%s baseline a.db -o /dev/full", fx_bin), 1);
    ck_assert_msg(strstr(fx_out, "No space left"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s baseline a.db >/dev/full", fx_bin), 1);
    /* an existing baseline is replaced; nothing is left beside it */
    ck_assert_int_eq(fx_sh("%s baseline a.db -o base.yaml && %s baseline a.db -o base.yaml",
                           fx_bin, fx_bin), 0);
    ck_assert_int_eq(fx_sh("%s compare base.yaml a.db", fx_bin), 0);
    ck_assert_int_eq(fx_sh("ls -A | grep -v -x -e a.db -e keep.db -e scenario.yaml -e base.yaml"
                           " | wc -l | tr -d ' '"), 0);
    ck_assert_msg(strcmp(fx_out, "0\n") == 0, "stray files: %s", fx_out);
}
END_TEST

/* A baseline value of .inf, -.inf or .nan (or 1e999) bounds nothing: it is an
 * error at its file:line:column, not a pass for every candidate. null is a
 * metric without a value (memfab baseline writes it for NaN). */
START_TEST(nonfinite_baseline_is_error)
{
    base_db("a.db", 1e-6, 1e9, 100);
    static const char *const bad[] = {".inf", "-.inf", ".nan", ".NaN", "+.inf", "1e999",
                                      "-1e999", "inf", "nan", NULL};
    for (int i = 0; bad[i]; i++) {
        char text[512];
        snprintf(text, sizeof text, "memfab_baseline: 1\nruns:\n  - scenario: tiny\n"
                 "    metrics:\n      gpu0/latency_mean: {value: 1e-6, unit: s}\n"
                 "      gpu0/throughput: {value: %s, unit: B/s}\n", bad[i]);
        fx_write("inf.yaml", text);
        ck_assert_msg(fx_sh("%s compare inf.yaml a.db", fx_bin) == 2, "%s: %s", bad[i], fx_out);
        ck_assert_msg(strstr(fx_out, "inf.yaml:6:32:") && strstr(fx_out, "not a finite number"),
                      "%s: %s", bad[i], fx_out);
    }
    fx_write("null.yaml", "memfab_baseline: 1\nruns:\n  - scenario: tiny\n"
                          "    metrics:\n      gpu0/throughput: {value: null, unit: B/s}\n");
    ck_assert_int_eq(fx_sh("%s compare null.yaml a.db", fx_bin), 3);
    ck_assert_msg(strstr(fx_out, "CHANGED"), "%s", fx_out);
    /* two databases: an infinite base value is no licence either */
    fx_metric m[] = {{"gpu0", "latency_mean", INFINITY, "s"}};
    fx_run("i.db", "inf", 1, NULL, m, 1, 0, 1);
    m[0].value = 5;
    fx_run("j.db", "inf", 1, NULL, m, 1, 0, 1);
    ck_assert_int_eq(fx_sh("%s compare i.db j.db", fx_bin), 3);
    ck_assert_int_eq(fx_sh("%s baseline i.db -o i.yaml", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "infinite"), "%s", fx_out);
    ck_assert(!fx_exists("i.yaml"));
}
END_TEST

/* Tolerance, direction and ignore globs that match no metric are reported
 * with where they were given; the comparison itself is unchanged. */
START_TEST(unmatched_globs_reported)
{
    base_db("a.db", 1e-6, 1e9, 100);
    fx_write("tol.yaml", "metrics:\n  \"gpu0/latency_mean\": 5%\n  \"latency_mean\": 5%\n"
                         "ignore: [\"gpu9/*\"]\n");
    ck_assert_int_eq(fx_sh("%s compare a.db a.db --tolerances tol.yaml --tol 'gpu0/thruput=1%%'"
                           " --direction '*count*=lower' --ignore '*/received_packets'", fx_bin),
                     0);
    ck_assert_msg(strstr(fx_out, "tol.yaml:3:3: tolerance glob 'latency_mean' matches no metric"),
                  "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "tol.yaml:4:10: ignore glob 'gpu9/*'"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "--tol: tolerance glob 'gpu0/thruput'"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "--direction: direction glob '*count*'"), "%s", fx_out);
    ck_assert_msg(!strstr(fx_out, "'gpu0/latency_mean' matches no") &&
                  !strstr(fx_out, "received_packets' matches no"), "%s", fx_out);
}
END_TEST

/* ---- round trips through YAML (sim/yamlout.h) ----------------------------- */

/* The escapes of yamlout.h, each checked against its spelling in YAML 1.1
 * section 5.7 / YAML 1.2.2 section 5.7 (both define every one used). */
START_TEST(yaml_quote_escapes)
{
    static const struct { const char *in, *out; } cases[] = {
        {"", "\"\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"\a\b\t\n\v\f\r\x1b", "\"\\a\\b\\t\\n\\v\\f\\r\\e\""},
        {"\x01\x1f\x7f", "\"\\x01\\x1F\\x7F\""},
        /* U+0080, NEL, U+009F, NBSP, U+00A1 */
        {"\xc2\x80\xc2\x85\xc2\x9f\xc2\xa0\xc2\xa1", "\"\\x80\\N\\x9F\\_\xc2\xa1\""},
        /* LS, PS, BOM, U+FFFE, U+FFFF, U+FFFD */
        {"\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf\xef\xbf\xbe\xef\xbf\xbf\xef\xbf\xbd",
         "\"\\L\\P\\uFEFF\\uFFFE\\uFFFF\xef\xbf\xbd\""},
        /* indicators and spaces are text inside quotes */
        {" #: - ? * & ! % @ ` ' | > , [ ] { } ", "\" #: - ? * & ! % @ ` ' | > , [ ] { } \""},
        {"\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", "\"\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t bad = 7;
        char *q = yaml_quote(cases[i].in, &bad);
        ck_assert_msg(q != NULL, "case %zu refused at %zu", i, bad);
        ck_assert_str_eq(q, cases[i].out);
        sim_free(q);
    }
    /* not UTF-8 (Unicode table 3-7): refused at the first bad byte */
    static const struct { const char *in; size_t at; } bad[] = {
        {"\x80", 0},         {"a\xc0\x80", 1},     {"ab\xc1\xbf", 2},   {"\xe0\x80\x80", 0},
        {"\xe0\x9f\xbf", 0}, {"\xed\xa0\x80", 0},  {"x\xed\xbf\xbf", 1}, {"\xf0\x8f\xbf\xbf", 0},
        {"\xf4\x90\x80\x80", 0}, {"\xf5\x80\x80\x80", 0}, {"\xff", 0}, {"\xc2", 0},
        {"\xe2\x80", 0},     {"x\xf0\x9f\x98", 1}, {"\xc2\x41", 0},   {"ok\xe2\x82", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t at = 99;
        ck_assert_ptr_null(yaml_quote(bad[i].in, &at));
        ck_assert_msg(at == bad[i].at, "bad case %zu: offset %zu, expected %zu", i, at,
                      bad[i].at);
        ck_assert_int_eq(yaml_utf8_check(bad[i].in, NULL), SIM_EINVAL);
    }
}
END_TEST

/* A run named name, with one param and one metric also spelt name (key,
 * value, name, unit), as rdb_load_runs would give it. */
static void rt_run(rdb_run *r, const char *name, int64_t id)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    r->name = sim_strdup(name);
    r->sha = sim_strdup("");
    r->version = sim_strdup("v1");
    r->status = sim_strdup("complete");
    r->error = sim_strdup("");
    r->seed = (uint64_t)id;
    ck_assert(r->name && r->sha && r->version && r->status && r->error);
    ck_assert_int_eq(rdb_param_put(r, name, name), 0);
    ck_assert_int_eq(rdb_metric_add(r, name, (double)id / 3, name), 0);
}

/* Write runs with the baseline writer, read the file back, and check that
 * every string came back byte for byte. */
static void rt_check(rdb_run *runs, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rt.yaml", fx_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("memfab_baseline: 1\nruns:\n", f);
    sim_err err;
    sim_err_clear(&err);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(cmp_baseline_write_run(f, &runs[i], NULL, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(fclose(f), 0);
    rdb_set back = {NULL, 0};
    ck_assert_msg(cmp_load_baseline(path, &back, &err) == 0, "%s:%d:%d: %s", err.file,
                  err.line, err.col, err.msg);
    ck_assert_uint_eq(back.n, n);
    for (size_t i = 0; i < n; i++) {
        const rdb_run *a = &runs[i], *b = &back.runs[i];
        ck_assert_msg(strcmp(a->name, b->name) == 0, "run %zu: name changed", i);
        ck_assert_str_eq(a->sha, b->sha);
        ck_assert_str_eq(a->version, b->version);
        ck_assert_uint_eq(a->seed, b->seed);
        ck_assert_uint_eq(a->nparams, b->nparams);
        for (size_t p = 0; p < a->nparams; p++) {
            ck_assert_msg(strcmp(a->params[p].key, b->params[p].key) == 0,
                          "run %zu: param key %zu changed", i, p);
            ck_assert_msg(strcmp(a->params[p].value, b->params[p].value) == 0,
                          "run %zu: param value %zu changed", i, p);
        }
        ck_assert_uint_eq(a->nmetrics, b->nmetrics);
        for (size_t m = 0; m < a->nmetrics; m++) {
            ck_assert_msg(strcmp(a->metrics[m].name, b->metrics[m].name) == 0,
                          "run %zu: metric name changed", i);
            ck_assert_msg(strcmp(a->metrics[m].unit, b->metrics[m].unit) == 0,
                          "run %zu: unit changed", i);
            ck_assert(a->metrics[m].value == b->metrics[m].value);
        }
    }
    rdb_set_free(&back);
}

static void rt_free(rdb_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rdb_run_free(&runs[i]);
    free(runs);
}

/* Every byte value 1..255 (NUL ends a C string) in every field: alone,
 * doubled, between letters and at either end with spaces. Bytes below 0x80
 * are characters and come back unchanged; a byte from 0x80 on alone is not
 * UTF-8 and is refused, naming the field, before anything is written. */
START_TEST(baseline_every_byte)
{
    rdb_run *runs = calloc(128 * 4, sizeof *runs);
    ck_assert_ptr_nonnull(runs);
    size_t n = 0;
    for (int b = 1; b < 0x80; b++) {
        char s[4][8];
        snprintf(s[0], sizeof s[0], "%c", b);
        snprintf(s[1], sizeof s[1], "%c%c", b, b);
        snprintf(s[2], sizeof s[2], "x%cy", b);
        snprintf(s[3], sizeof s[3], " %c ", b);
        for (int k = 0; k < 4; k++)
            { rt_run(&runs[n], s[k], (int64_t)n + 1); n++; }
    }
    rt_check(runs, n);
    rt_free(runs, n);
    for (int b = 0x80; b < 0x100; b++) {
        char s[8];
        snprintf(s, sizeof s, "x%cy", b);
        for (int field = 0; field < 4; field++) {
            rdb_run r;
            rt_run(&r, "ok", 5);
            if (field == 0) {
                sim_free(r.name);
                r.name = sim_strdup(s);
            } else if (field == 1) {
                ck_assert_int_eq(rdb_param_put(&r, "k", s), 0);
            } else if (field == 2) {
                ck_assert_int_eq(rdb_metric_add(&r, s, 1, ""), 0);
            } else {
                ck_assert_int_eq(rdb_metric_add(&r, "m", 1, s), 0);
            }
            char *text = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&text, &len);
            ck_assert_ptr_nonnull(f);
            sim_err err;
            sim_err_clear(&err);
            ck_assert_int_eq(cmp_baseline_write_run(f, &r, NULL, &err), SIM_EINVAL);
            fclose(f);
            ck_assert_msg(len == 0, "byte 0x%02x: %zu bytes written before the refusal", b, len);
            static const char *const what[] = {"run 5: scenario name is not UTF-8",
                                               "run 5: value of param 'k' is not UTF-8",
                                               "run 5: metric name is not UTF-8",
                                               "run 5: unit of metric 'm' is not UTF-8"};
            char at[64];
            snprintf(at, sizeof at, "(byte 0x%02x at offset 1 of 'x\\x%02xy')", b, b);
            ck_assert_msg(strstr(err.msg, what[field]) && strstr(err.msg, at), "%s", err.msg);
            free(text);
            rdb_run_free(&r);
        }
    }
}
END_TEST

/* Every Unicode scalar value U+0001..U+10FFFF (all of the 1-, 2-, 3- and
 * 4-byte UTF-8 classes, surrogates excepted: they are not characters), in
 * run names of 4096 code points each, and a sample of each class in keys,
 * values and units: all come back unchanged. */
static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12)), o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18)), o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)), o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

START_TEST(baseline_every_code_point)
{
    const uint32_t chunk = 4096, last = 0x10FFFF;
    size_t nruns = (last + chunk) / chunk + 32;
    rdb_run *runs = calloc(nruns, sizeof *runs);
    char *s = malloc(chunk * 4 + 1);
    ck_assert(runs && s);
    size_t n = 0;
    for (uint32_t c0 = 1; c0 <= last; c0 += chunk) {
        size_t len = 0;
        for (uint32_t c = c0; c < c0 + chunk && c <= last; c++)
            if (c < 0xD800 || c > 0xDFFF)
                len += put_utf8(s + len, c);
        s[len] = '\0';
        memset(&runs[n], 0, sizeof runs[n]);
        runs[n].name = sim_strdup(s);
        runs[n].sha = sim_strdup("");
        runs[n].version = sim_strdup("");
        runs[n].status = sim_strdup("complete");
        runs[n].error = sim_strdup("");
        ck_assert(runs[n].name && runs[n].sha && runs[n].version);
        n++;
    }
    /* the class boundaries (and the YAML line breaks, BOM, non-characters)
     * in keys, values and units; a key of 6000 bytes takes the explicit
     * `? KEY` form */
    static const uint32_t edges[] = {0x01, 0x7F, 0x80, 0x85, 0x9F, 0xA0, 0x7FF, 0x800,
                                     0x2028, 0x2029, 0xD7FF, 0xE000, 0xFEFF, 0xFFFD, 0xFFFE,
                                     0xFFFF, 0x10000, 0x10FFFF};
    for (size_t e = 0; e < sizeof edges / sizeof *edges; e++) {
        char one[8];
        one[put_utf8(one, edges[e])] = '\0';
        rt_run(&runs[n++], one, (int64_t)e + 1);
    }
    ck_assert_uint_le(n, nruns);
    char *long_key = malloc(6001);
    ck_assert_ptr_nonnull(long_key);
    for (int i = 0; i < 6000; i++)
        long_key[i] = (char)('a' + i % 26);
    long_key[6000] = '\0';
    ck_assert_int_eq(rdb_param_put(&runs[n - 1], long_key, long_key), 0);
    ck_assert_int_eq(rdb_metric_add(&runs[n - 1], long_key, 1, ""), 0);
    free(long_key);
    rt_check(runs, n);
    rt_free(runs, n);
    free(s);
}
END_TEST

/* Strings that mean something to YAML (or to memfab's reader) outside
 * quotes come back as text: in every field, keys included. */
START_TEST(baseline_special_strings)
{
    static const char *const specials[] = {
        "", " ", "  lead", "trail  ", "#", "# comment", "a #b", ":", "a: b", "- ", "- x", "? x",
        "?", "*alias", "&anchor", "!tag", "!!str", "%YAML 1.1", "@", "`", "'", "''", "\"",
        "\\", "\\n", "\\x41", "null", "~", "true", "no", "1e3", "0x10", ".inf", "<<",
        "include", "---", "...", "[a, b]", "{a: b}", "|", ">", "a\nb", "a\r\nb", "\t",
        "\xef\xbb\xbf", "\xef\xbb\xbfx", "x\xc2\x85y", "x\xe2\x80\xa8y\xe2\x80\xa9z",
        "\xc2\xa0", "memfab_baseline: 1"};
    size_t ns = sizeof specials / sizeof *specials;
    rdb_run *runs = calloc(ns, sizeof *runs);
    ck_assert_ptr_nonnull(runs);
    for (size_t i = 0; i < ns; i++)
        rt_run(&runs[i], specials[i], (int64_t)i + 1);
    rt_check(runs, ns);
    rt_free(runs, ns);
}
END_TEST

/* The commands: a run named with YAML line breaks goes through memfab
 * baseline and comes back matched by memfab compare; a run whose name is not
 * UTF-8 is refused with exit 2, naming it, and leaves no file. */
START_TEST(baseline_name_round_trip_cli)
{
    fx_write("s.yaml", "name: s\nstop: 1 us\nseed: 1\ncomponents:\n"
                       "  - {name: a, type: source, interarrival: 100 ns, size: 64 B}\n"
                       "  - {name: b, type: sink}\nlinks:\n"
                       "  - {name: ab, type: link, ends: [a, b], bandwidth: 16 GB/s,"
                       " latency: 100 ns}\n");
    /* NEL, LS, PS, BOM, quote, backslash, '# ', ': ' */
    ck_assert_int_eq(fx_sh("%s run s.yaml -o r.db -q --set \"name=$(printf "
                           "'a\\302\\205b\\342\\200\\250c\\342\\200\\251d\\357\\273\\277"
                           "\\042\\134 # : e ')\"", fx_bin), 0);
    ck_assert_int_eq(fx_sh("%s baseline r.db -o b.yaml", fx_bin), 0);
    ck_assert_int_eq(fx_sh("grep scenario: b.yaml"), 0);
    ck_assert_msg(strstr(fx_out, "\"a\\Nb\\Lc\\Pd\\uFEFF\\\"\\\\ # : e \""), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s compare b.yaml r.db --tolerance 0", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "1 run matched") && strstr(fx_out, "0 runs missing"), "%s",
                  fx_out);
    ck_assert_int_eq(fx_sh("%s run s.yaml -o r.db -q --set \"name=$(printf 'bad\\377x')\"",
                           fx_bin), 0);
    ck_assert_int_eq(fx_sh("rm -f b.yaml && %s baseline r.db -o b.yaml", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "run 2: scenario name is not UTF-8 (byte 0xff at offset 3 of"
                                 " 'bad\\xffx')"), "%s", fx_out);
    ck_assert(!fx_exists("b.yaml"));
    ck_assert_int_eq(fx_sh("%s baseline r.db --run 1 -o b.yaml", fx_bin), 0);
}
END_TEST

static Suite *compare_suite(void)
{
    Suite *s = suite_create("compare");
    TCase *core = tcase_create("Core"), *limits = tcase_create("Limits"),
          *errors = tcase_create("Errors");
    TCase *all[] = {core, limits, errors};
    for (int i = 0; i < 3; i++) {
        tcase_add_checked_fixture(all[i], fx_setup, fx_teardown);
        tcase_set_timeout(all[i], 30);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(core, identical_is_ok);
    tcase_add_test(core, direction_marks_regressions);
    tcase_add_test(core, tolerances_per_metric);
    tcase_add_test(core, markdown_table);
    tcase_add_test(core, baseline_roundtrip);
    tcase_add_test(core, markdown_report_fits);
    tcase_add_test(core, markdown_pairs_one_report);
    tcase_add_test(core, dirty_tree_baseline);
    tcase_add_test(core, regress_one_markdown_report);
    tcase_add_test(limits, missing_and_new_metrics);
    tcase_add_test(limits, runs_matched_by_params);
    tcase_add_test(limits, tolerance_parsing);
    tcase_add_test(errors, bad_input_exits_2);
    tcase_add_test(errors, incomplete_runs_ignored);
    tcase_add_test(errors, baseline_output_safety);
    tcase_add_test(errors, nonfinite_baseline_is_error);
    tcase_add_test(limits, unmatched_globs_reported);
    tcase_add_test(limits, yaml_quote_escapes);
    tcase_add_test(limits, baseline_every_byte);
    tcase_add_test(limits, baseline_every_code_point);
    tcase_add_test(limits, baseline_special_strings);
    tcase_add_test(limits, baseline_name_round_trip_cli);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(compare_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
