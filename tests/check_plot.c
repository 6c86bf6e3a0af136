/*
 * check_plot.c - memfab plot: every kind in every format, escaping of
 * strings from the database (a hostile run name plots and runs nothing),
 * and the errors (unknown kind or extension, missing gnuplot, no data).
 */
#include "tests/tools_fixture.h"
#include "tools/plot.h"
#include "tools/plot_int.h"

static const char *const hostile =
    "x\"; system(\"touch PWNED1\") `touch PWNED2` ' ; system('touch PWNED3') @GPVAL_TERM\\";

static void two_runs(void)
{
    fx_metric m[] = {{"gpu0", "latency_mean", 1e-6, "s"}};
    const char *p1[] = {"sweep.bw=8 GB/s", "router.policy=rr", NULL};
    const char *p2[] = {"sweep.bw=16 GB/s", "router.policy=rr", NULL};
    fx_run("a.db", "tiny", 1, p1, m, 1, 50, 1.0);
    m[0].value = 0.7e-6;
    fx_run("a.db", "tiny", 1, p2, m, 1, 50, 0.6);
}

static int have_gnuplot(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

/* ---- Core ---------------------------------------------------------------- */

static const char *const kinds[] = {"cdf", "param", "link-bw", "occupancy", "kv-hit",
                                    "coherence"};
static const char *const exts[] = {"png", "svg", "pdf"};

START_TEST(every_kind_every_format)
{
    if (!have_gnuplot()) {
        fprintf(stderr, "check_plot: gnuplot not installed; figures not drawn\n");
        return;
    }
    two_runs();
    const char *kind = kinds[_i / 3], *ext = exts[_i % 3];
    char out[64];
    snprintf(out, sizeof out, "fig-%s.%s", kind, ext);
    int rc = fx_sh("%s plot a.db --kind %s -o %s --title 'T' %s", fx_bin, kind, out,
                   strcmp(kind, "param") == 0 ? "--metric gpu0/latency_mean" : "");
    ck_assert_msg(rc == 0, "%s %s: %s", kind, ext, fx_out);
    ck_assert_msg(fx_exists(out), "%s missing", out);
    /* no temporary files left behind */
    ck_assert_int_eq(fx_sh("ls | grep -v -e '^a.db$' -e '^fig-' | wc -l | tr -d ' '"), 0);
    ck_assert_msg(strcmp(fx_out, "0\n") == 0, "stray files: %s", fx_out);
}
END_TEST

START_TEST(script_has_inline_data)
{
    two_runs();
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o f.pdf --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "$d0 << EOD") && strstr(fx_out, "set terminal pdfcairo size"
                                                                  " 3.5in,2.4in"), "%s", fx_out);
    /* all runs are 'tiny': the label is the differing param alone */
    ck_assert_msg(strstr(fx_out, "title 'bw=8 GB/s'"), "labels from sweep keys: %s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind param --metric gpu0/latency_mean -o f.png"
                           " --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set xlabel 'bw (GB/s)'"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf --run 2 --metric e2e -o f.svg --script",
                           fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "$d0 << EOD") && !strstr(fx_out, "$d1 << EOD"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf --where bw='16*' -o f.svg --script", fx_bin),
                     0);
    ck_assert_msg(!strstr(fx_out, "$d1 << EOD"), "--where selects one run: %s", fx_out);
}
END_TEST

/* Every `title '...'` of a script is at most max characters (quotes undoubled). */
static int titles_within(const char *script, size_t max, size_t *count)
{
    *count = 0;
    for (const char *p = strstr(script, "title '"); p; p = strstr(p, "title '")) {
        p += 7;
        size_t n = 0;
        for (; *p && !(*p == '\'' && p[1] != '\''); p++) {
            if (*p == '\'')
                p++;
            n += ((unsigned char)*p & 0xc0) != 0x80;
        }
        if (n > max)
            return 0;
        ++*count;
    }
    return 1;
}

START_TEST(short_run_labels)
{
    /* a 2 x 2 x 2 sweep of one scenario, as `memfab sweep` records it */
    fx_metric m[] = {{"g", "x", 1, ""}};
    static const char *const pol[] = {"round_robin", "dynamo"}, *const rate[] = {"0.25/s",
                                                                                  "0.5/s"};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int seed = 1; seed <= 2; seed++) {
                char p0[64], p1[64], p2[64], p3[64], p4[64];
                snprintf(p0, sizeof p0, "sweep.router.policy=%s", pol[a]);
                snprintf(p1, sizeof p1, "router.policy=%s", pol[a]);
                snprintf(p2, sizeof p2, "sweep.workload.synthetic.rate=%s", rate[b]);
                snprintf(p3, sizeof p3, "workload.synthetic.rate=%s", rate[b]);
                snprintf(p4, sizeof p4, "sweep.seed=%d", seed);
                const char *ps[] = {p0, p1, p2, p3, p4, "sweep.name=s", "name=multi-agent",
                                    "workload.synthetic.requests=100", NULL};
                fx_run("a.db", "multi-agent", (uint64_t)seed, ps, m, 1, 30,
                       1 + 0.1 * (a + 2 * b + 4 * seed));
            }
    const char *kinds_per_run[] = {"cdf", "link-bw", "kv-hit", "coherence"};
    for (size_t k = 0; k < 4; k++) {
        ck_assert_int_eq(fx_sh("%s plot a.db --kind %s -o f.png --script", fx_bin,
                               kinds_per_run[k]), 0);
        size_t n;
        ck_assert_msg(titles_within(fx_out, plot_title_max(3.5, 7), &n), "%s: a title longer"
                      " than %zu: %s", kinds_per_run[k], plot_title_max(3.5, 7), fx_out);
        ck_assert_msg(n >= 8, "%s: one entry per run (%zu)", kinds_per_run[k], n);
        ck_assert_msg(!strstr(fx_out, "title 'multi-agent") && !strstr(fx_out, "router.") &&
                      !strstr(fx_out, "synthetic."), "%s: %s", kinds_per_run[k], fx_out);
    }
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "title 'policy=round_robin rate=0.25/s seed=1'") &&
                  strstr(fx_out, "title 'policy=dynamo rate=0.5/s seed=2'"), "%s", fx_out);
    /* eight curves: the key outside, below the plot, in smaller text */
    ck_assert_msg(strstr(fx_out, "set key outside below center horizontal"), "%s", fx_out);
    /* only what differs: one policy selected, the policy is not in the label */
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf --where router.policy=dynamo -o f.png"
                           " --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "title 'rate=0.25/s seed=1'") && !strstr(fx_out, "policy="),
                  "%s", fx_out);
    /* two scenarios: the name is part of the label */
    fx_run("a.db", "other", 1, NULL, m, 1, 30, 1);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf --run 1 --run 9 -o f.png --script",
                           fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "title 'other") && strstr(fx_out, "title 'multi-agent"),
                  "%s", fx_out);
}
END_TEST

/* Sweep points with their own description (one per run, no two alike) are
 * labelled by it, not by a list of keys that a point setting one key on
 * eight instances would make unreadable; repeated descriptions
 * (replications) fall back to the keys. */
START_TEST(described_points_labelled_by_description)
{
    fx_metric m[] = {{"g", "x", 1, ""}};
    const char *p1[] = {"sweep.description=roofline", "sweep.components.inst0.step_time=roofline",
                        "sweep.components.inst7.step_time=roofline", "sweep.seed=1", NULL};
    const char *p2[] = {"sweep.description=table (BLIS grid)",
                        "sweep.components.inst0.step_time=table",
                        "sweep.components.inst7.step_time=table", "sweep.seed=1", NULL};
    fx_run("d.db", "cst", 1, p1, m, 1, 30, 1.0);
    fx_run("d.db", "cst", 1, p2, m, 1, 30, 1.5);
    ck_assert_int_eq(fx_sh("%s plot d.db --kind cdf -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "title 'roofline'") && strstr(fx_out, "title 'table (BLIS grid)'")
                  && !strstr(fx_out, "step_time="), "%.600s", fx_out);
    const char *p3[] = {"sweep.description=roofline", "sweep.components.inst0.step_time=roofline",
                        "sweep.components.inst7.step_time=roofline", "sweep.seed=2", NULL};
    fx_run("d.db", "cst", 2, p3, m, 1, 30, 1.2);
    ck_assert_int_eq(fx_sh("%s plot d.db --kind cdf -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "seed=2") && !strstr(fx_out, "title 'roofline'"), "%.600s",
                  fx_out);
}
END_TEST

START_TEST(shorten_function)
{
    char s[] = "abcdefghijklmnopqrstuvwxyz";
    plot_shorten(s, 11);
    ck_assert_str_eq(s, "abcd...wxyz");
    char u[] = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";   /* 8 x e-acute */
    plot_shorten(u, 7);
    ck_assert_str_eq(u, "\xc3\xa9\xc3\xa9...\xc3\xa9\xc3\xa9");
    char k[] = "short";
    plot_shorten(k, 40);
    ck_assert_str_eq(k, "short");
    ck_assert_uint_eq(plot_title_max(3.5, 7), 40);
    ck_assert_uint_gt(plot_title_max(7, 7), 40);
}
END_TEST

/* ---- Limits ---------------------------------------------------------------- */

START_TEST(hostile_names_are_escaped)
{
    fx_metric m[] = {{hostile, "latency_mean", 1e-6, "s"}};
    fx_run("a.db", hostile, 1, NULL, m, 1, 20, 1.0);
    fx_run("a.db", "plain", 1, NULL, m, 1, 20, 2.0);
    FILE *f = popen("true", "r");   /* keep popen's SIGCHLD handling warm for sanitizers */
    pclose(f);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o f.png --script", fx_bin), 0);
    /* the 80-character name is shortened in the middle to the 40 a key
     * column holds; quotes stay doubled, the trailing backslash kept */
    ck_assert_msg(strstr(fx_out, "title 'x\"; system(\"touch ...NED3'') @GPVAL_TERM\\'"),
                  "escaped title: %s", fx_out);
    /* and the whole name, as any string, is one quoted literal */
    char *buf;
    size_t len;
    FILE *q = open_memstream(&buf, &len);
    plot_quote(q, hostile);
    fclose(q);
    ck_assert_str_eq(buf, "'x\"; system(\"touch PWNED1\") `touch PWNED2` '' ;"
                          " system(''touch PWNED3'') @GPVAL_TERM\\'");
    free(buf);
    if (have_gnuplot()) {
        for (size_t k = 0; k < 6; k++) {
            int rc = fx_sh("%s plot a.db --kind %s -o 'o\"ut `touch PWNED4`.png' --title \"$(printf"
                           " 'a\\nb'); system('touch PWNED5')\" %s", fx_bin, kinds[k],
                           strcmp(kinds[k], "param") == 0 ? "--x seed --metric '*'" : "");
            (void)rc;   /* param and occupancy may lack data; nothing may run either way */
        }
        ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o 'o\"ut `touch PWNED4`.png'", fx_bin),
                         0);
        ck_assert(fx_exists("o\"ut `touch PWNED4`.png"));
    }
    for (int i = 1; i <= 5; i++) {
        char p[32];
        snprintf(p, sizeof p, "PWNED%d", i);
        ck_assert_msg(!fx_exists(p), "%s was created: gnuplot ran a command", p);
    }
}
END_TEST

START_TEST(quote_function)
{
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    plot_quote(f, "it's\n`x`\\");
    fclose(f);
    ck_assert_str_eq(buf, "'it''s `x`\\'");
    free(buf);
    double fs;
    ck_assert_ptr_nonnull(plot_terminal("a.pdf", 3.5, 2.4, 8, &fs));
    ck_assert(fs == 1);
    ck_assert_ptr_nonnull(strstr(plot_terminal("a.png", 3.5, 2.4, 8, &fs), "pngcairo size 1050,720"));
    ck_assert_ptr_nonnull(strstr(plot_terminal("x.y.svg", 3.5, 2.4, 8, NULL), "svg"));
    ck_assert_ptr_null(plot_terminal("a.jpg", 3.5, 2.4, 8, NULL));
    ck_assert_ptr_null(plot_terminal("noext", 3.5, 2.4, 8, NULL));
}
END_TEST

/* A run whose instance has a KV cache: kv_used:<tier> series in blocks and
 * kv rows, tiers written hbm, dram, cxl; the block size when with_block. */
static void kv_db(const char *file, int with_block)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, file);
    sim_err err;
    sim_err_clear(&err);
    res_db *db = res_open(path, &err);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_gt(res_run_begin(db, "kvs", "0123abcd", 1, "test", &err), 0);
    if (with_block)
        ck_assert_int_eq(res_param(db, "kv.block_tokens", "16"), 0);
    ck_assert_int_eq(res_metric(db, "inst0", "kv_bytes_per_token", 131072, "B"), 0);
    static const char *const tiers[] = {"hbm", "dram", "cxl"};
    for (int t = 0; t < 10; t++)
        for (int k = 0; k < 3; k++) {
            char name[32];
            snprintf(name, sizeof name, "kv_used:%s", tiers[k]);
            ck_assert_int_eq(res_timeseries(db, "inst0", name, (uint64_t)t * 1000000000000ULL,
                                            1024.0 * (k + 1) * t), 0);
        }
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(res_kv(db, "inst0", tiers[k], 10, 10, 0, 0, 0), 0);
    ck_assert_int_eq(res_run_end(db, "complete", 0.1, 10000000000000ULL, 1, &err), 0);
    res_close(db);
}

START_TEST(occupancy_default_and_tier_order)
{
    kv_db("kv.db", 1);
    kv_db("kvb.db", 0);
    ck_assert_int_eq(fx_sh("%s plot kv.db --kind occupancy -o f.png --script", fx_bin), 0);
    /* 3 x 1024 x 9 blocks of 2 MiB = 54 GiB */
    ck_assert_msg(strstr(fx_out, "set ylabel 'KV cache used (GiB)'") &&
                  strstr(fx_out, "\n9 54\n"), "%s", fx_out);
    const char *hbm = strstr(fx_out, "title 'inst0 hbm'"), *dram = strstr(fx_out, "title"
                                                                                  " 'inst0 dram'");
    const char *cxl = strstr(fx_out, "title 'inst0 cxl'");
    ck_assert_msg(hbm && dram && cxl && hbm < dram && dram < cxl, "tier order: %s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot --help", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "kv_used"), "documented: %s", fx_out);
    /* without the block size, blocks */
    ck_assert_int_eq(fx_sh("%s plot kvb.db --kind occupancy -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set ylabel 'KV cache used (blocks)'") &&
                  strstr(fx_out, "\n9 27648\n"), "%s", fx_out);
    /* kv-hit: tiers in the order written; one instance, so one bar per tier */
    ck_assert_int_eq(fx_sh("%s plot kv.db --kind kv-hit -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set xtics ('hbm' 0, 'dram' 1, 'cxl' 2)") &&
                  strstr(fx_out, "set key off"), "tier order: %s", fx_out);
    /* the fixture's run writes hbm before dram too */
    two_runs();
    ck_assert_int_eq(fx_sh("%s plot a.db --kind kv-hit --run 1 -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "'hbm'") && strstr(fx_out, "'hbm'") < strstr(fx_out, "'dram'"),
                  "%s", fx_out);
}
END_TEST


/* A series without a known block size (the shared KV pool reports blocks
 * only) makes the figure use blocks, and its axis must be scaled in blocks
 * too, not by the byte values of the series read before it. */
START_TEST(occupancy_mixed_units_and_script_without_output)
{
    char path[512];
    snprintf(path, sizeof path, "%s/mix.db", fx_dir);
    sim_err err;
    sim_err_clear(&err);
    res_db *db = res_open(path, &err);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_gt(res_run_begin(db, "mix", "0123abcd", 1, "test", &err), 0);
    ck_assert_int_eq(res_param(db, "kv.block_tokens", "16"), 0);
    ck_assert_int_eq(res_metric(db, "inst0", "kv_bytes_per_token", 131072, "B"), 0);
    for (int t = 0; t < 10; t++) {
        ck_assert_int_eq(res_timeseries(db, "inst0", "kv_used:hbm", (uint64_t)t * 1000000000000ULL,
                                        100.0 * t), 0);
        ck_assert_int_eq(res_timeseries(db, "pool", "kv_used:dram", (uint64_t)t * 1000000000000ULL,
                                        500.0 * t), 0);
    }
    ck_assert_int_eq(res_run_end(db, "complete", 0.1, 10000000000000ULL, 1, &err), 0);
    res_close(db);
    ck_assert_int_eq(fx_sh("%s plot mix.db --kind occupancy -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set ylabel 'KV cache used (blocks)'"), "%s", fx_out);
    const char *yt = strstr(fx_out, "set ytics ");
    ck_assert_ptr_nonnull(yt);
    double step = atof(yt + strlen("set ytics "));
    ck_assert_msg(step > 0 && step <= 4500, "ytics step %g for a 4500-block maximum", step);
    /* --script without -o prints a script without an output file */
    ck_assert_int_eq(fx_sh("%s plot mix.db --kind occupancy --script", fx_bin), 0);
    ck_assert_ptr_null(strstr(fx_out, "\nset output "));
    ck_assert_ptr_nonnull(strstr(fx_out, "plot "));
}
END_TEST

START_TEST(replications_give_error_bars)
{
    fx_metric m[] = {{"g", "latency_mean", 1e-6, "s"}};
    for (int seed = 1; seed <= 3; seed++)
        for (int bw = 8; bw <= 16; bw += 8) {
            char p[32];
            snprintf(p, sizeof p, "sweep.bw=%d GB/s", bw);
            const char *ps[] = {p, NULL};
            m[0].value = 1e-6 * (1 + seed * 0.1) * 8 / bw;
            fx_run("a.db", "s", (uint64_t)seed, ps, m, 1, 0, 1);
        }
    ck_assert_int_eq(fx_sh("%s plot a.db --kind param --metric g/latency_mean -o f.pdf --script",
                           fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "yerrorlines") && strstr(fx_out, "95% confidence"), "%s",
                  fx_out);
    /* mean of 1.1, 1.2, 1.3 us at 8 GB/s; t(0.975, 2) = 4.303 * 0.1/sqrt(3) */
    ck_assert_msg(strstr(fx_out, "8 1.2 0.2484"), "mean and CI half-width: %s", fx_out);
}
END_TEST

/* Latency, bytes, throughput and counts never go below zero, and neither do
 * their axes: error bars that reach below zero are cut at the axis. */
START_TEST(axes_start_at_zero)
{
    fx_metric m[] = {{"g", "latency_mean", 1e-6, "s"}};
    for (int seed = 1; seed <= 3; seed++)
        for (int bw = 8; bw <= 16; bw += 8) {
            char p[32];
            snprintf(p, sizeof p, "sweep.bw=%d GB/s", bw);
            const char *ps[] = {p, NULL};
            /* a wide spread: the confidence interval reaches below zero */
            m[0].value = 1e-6 * (seed == 3 ? 20 : 0.1);
            fx_run("a.db", "s", (uint64_t)seed, ps, m, 1, 30, 1);
        }
    ck_assert_int_eq(fx_sh("%s plot a.db --kind param --metric g/latency_mean -o f.png --script",
                           fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set yrange [0:*]") && strstr(fx_out, "yerrorlines"), "%s",
                  fx_out);
    const char *kinds_zero[] = {"link-bw", "occupancy", "coherence"};
    for (size_t k = 0; k < 3; k++) {
        ck_assert_int_eq(fx_sh("%s plot a.db --kind %s -o f.png --script", fx_bin, kinds_zero[k]),
                         0);
        ck_assert_msg(strstr(fx_out, "set yrange [0:"), "%s: %s", kinds_zero[k], fx_out);
        /* a logarithmic axis keeps gnuplot's range: zero has no logarithm */
        ck_assert_int_eq(fx_sh("%s plot a.db --kind %s -o f.png --script --logy", fx_bin,
                               kinds_zero[k]), 0);
        ck_assert_msg(!strstr(fx_out, "set yrange [0:*]"), "%s: %s", kinds_zero[k], fx_out);
    }
    ck_assert_int_eq(fx_sh("%s plot a.db --kind param --metric g/latency_mean -o f.png --script"
                           " --logy", fx_bin), 0);
    ck_assert_msg(!strstr(fx_out, "set yrange"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set yrange [0:1]"), "%s", fx_out);
    /* a metric that is negative keeps its negative range */
    fx_metric d[] = {{"g", "delta", -3, "s"}};
    fx_run("neg.db", "s", 1, (const char *[]){"sweep.bw=8 GB/s", NULL}, d, 1, 0, 1);
    d[0].value = -1;
    fx_run("neg.db", "s", 1, (const char *[]){"sweep.bw=16 GB/s", NULL}, d, 1, 0, 1);
    ck_assert_int_eq(fx_sh("%s plot neg.db --kind param --metric g/delta -o f.png --script",
                           fx_bin), 0);
    ck_assert_msg(!strstr(fx_out, "set yrange [0:*]"), "%s", fx_out);
}
END_TEST

/* n runs that differ in one swept param */
static void n_runs(const char *db, int n)
{
    fx_metric m[] = {{"gpu0", "latency_mean", 1e-6, "s"}};
    for (int i = 0; i < n; i++) {
        char p[64];
        snprintf(p, sizeof p, "sweep.router.policy=policy_number_%d", i);
        const char *ps[] = {p, NULL};
        m[0].value = 1e-6 * (1 + i);
        fx_run(db, "tiny", 1, ps, m, 1, 30, 1 + 0.1 * i);
    }
}

/* The key: below the plot for more than two series (never over the data),
 * --key moves it, --xlabel/--ylabel/--labels rename; with 1, 2, 7 and 16 runs
 * every title fits a key column. */
START_TEST(key_placement_and_names)
{
    static const int counts[] = {1, 2, 7, 16};
    const char *kinds_runs[] = {"cdf", "link-bw", "kv-hit", "coherence"};
    for (size_t c = 0; c < 4; c++) {
        char db[32];
        snprintf(db, sizeof db, "n%d.db", counts[c]);
        n_runs(db, counts[c]);
        for (size_t k = 0; k < 4; k++) {
            ck_assert_int_eq(fx_sh("%s plot %s --kind %s -o f.png --script", fx_bin, db,
                                   kinds_runs[k]), 0);
            size_t n;
            ck_assert_msg(titles_within(fx_out, plot_title_max(3.5, 7), &n), "%s", fx_out);
            int below = strstr(fx_out, "set key outside below") != NULL;
            /* never inside; below, or left out with the warning when 16
             * rows would take more than 45% of the figure */
            if (counts[c] > 2)
                ck_assert_msg((below || (counts[c] == 16 &&
                                         strstr(fx_out, "the key is left out"))) &&
                                  !strstr(fx_out, "set key inside"),
                              "%d runs, %s: %.300s", counts[c], kinds_runs[k], fx_out);
            if (strcmp(kinds_runs[k], "cdf") == 0 && counts[c] <= 2)
                ck_assert_msg(strstr(fx_out, "set key inside bottom right") && !below,
                              "%d runs: %s", counts[c], fx_out);
            for (size_t w = 0; w < 3; w++) {
                static const char *const where[] = {"below", "right", "inside"};
                static const char *const want[] = {"set key outside below",
                                                   "set key outside right", "set key inside"};
                ck_assert_int_eq(fx_sh("%s plot %s --kind %s -o f.png --script --key %s", fx_bin,
                                       db, kinds_runs[k], where[w]), 0);
                ck_assert_msg(strstr(fx_out, want[w]), "--key %s: %s", where[w], fx_out);
            }
        }
    }
    /* a key that cannot fit (16 rows in a 1.2 in tall figure holds 9) is left out, with a
     * warning; --key below still forces it */
    ck_assert_int_eq(fx_sh("%s plot n16.db --kind link-bw -o f.png --script --size 3.5x1.2",
                           fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "key of 16 series needs 16 rows") &&
                      strstr(fx_out, "set key off") && !strstr(fx_out, "set key outside"),
                  "%.400s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot n16.db --kind link-bw -o f.png --script --size 3.5x1.2"
                           " --key below", fx_bin), 0);
    ck_assert_ptr_nonnull(strstr(fx_out, "set key outside below"));
    ck_assert_int_eq(fx_sh("%s plot n2.db --kind cdf -o f.png --key top", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "below, right, inside or off"), "%s", fx_out);
    /* names */
    ck_assert_int_eq(fx_sh("%s plot n2.db --kind cdf -o f.png --script --xlabel 'TTFT (ms)'"
                           " --ylabel 'Fraction' --labels 'RR,Dynamo'", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set xlabel 'TTFT (ms)'") &&
                  strstr(fx_out, "set ylabel 'Fraction'") && strstr(fx_out, "title 'RR'") &&
                  strstr(fx_out, "title 'Dynamo'") && !strstr(fx_out, "policy_number"),
                  "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot n2.db --kind param --metric gpu0/latency_mean -o f.png"
                           " --script --labels 'mean latency'", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "title 'mean latency'"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot n2.db --kind cdf -o f.png --labels 'A,B,C'", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "--labels gives 3 names for 2 series"), "%s", fx_out);
    if (have_gnuplot()) {
        ck_assert_int_eq(fx_sh("%s plot n7.db --kind cdf -o cdf7.png", fx_bin), 0);
        ck_assert_int_eq(fx_sh("%s plot n16.db --kind kv-hit -o kv16.png", fx_bin), 0);
        ck_assert_int_eq(fx_sh("%s plot n7.db --kind link-bw -o bw7.png --key right", fx_bin), 0);
        if (getenv("PLOT_KEEP"))
            fx_sh("cp cdf7.png kv16.png bw7.png n7.db n16.db %s/", getenv("PLOT_KEEP"));
    }
}
END_TEST

/* The default link-bw figure draws the links of the `links` table only: a
 * fabric's per-path throughput ten times larger does not set the scale. */
START_TEST(link_bw_draws_links_only)
{
    char path[512];
    snprintf(path, sizeof path, "%s/l.db", fx_dir);
    sim_err err;
    sim_err_clear(&err);
    res_db *db = res_open(path, &err);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_gt(res_run_begin(db, "links", "0123abcd", 1, "test", &err), 0);
    for (int t = 0; t < 10; t++) {
        ck_assert_int_eq(res_timeseries(db, "pcie0", "throughput:host->gpu0",
                                        (uint64_t)t * 1000000000000ULL, 2e9), 0);
        ck_assert_int_eq(res_timeseries(db, "fab", "throughput:rdma",
                                        (uint64_t)t * 1000000000000ULL, 2e10), 0);
    }
    ck_assert_int_eq(res_link(db, "pcie0", "host->gpu0", 18000000000ULL, 1000, 1, 0.5), 0);
    ck_assert_int_eq(res_run_end(db, "complete", 0.1, 10000000000000ULL, 1, &err), 0);
    res_close(db);
    ck_assert_int_eq(fx_sh("%s plot l.db --kind link-bw -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "title 'pcie0 host->gpu0'") && !strstr(fx_out, "rdma") &&
                  strstr(fx_out, "set ylabel 'Throughput (GB/s)'") &&
                  strstr(fx_out, "\n9 2\n"), "%s", fx_out);
    /* --metric picks any series */
    ck_assert_int_eq(fx_sh("%s plot l.db --kind link-bw --metric '*throughput*' -o f.png"
                           " --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "title 'fab rdma'"), "%s", fx_out);
    /* series that are not rates are named by themselves and their unit */
    db = res_open(path, &err);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_gt(res_run_begin(db, "links", "0123abcd", 2, "test", &err), 0);
    for (int t = 0; t < 10; t++) {
        ck_assert_int_eq(res_timeseries_unit(db, "fab", "latency:class:kv_load",
                                             (uint64_t)t * 1000000000000ULL, 0.012, "s"), 0);
        ck_assert_int_eq(res_timeseries_unit(db, "fab", "latency:class:swap",
                                             (uint64_t)t * 1000000000000ULL, 0.004, "s"), 0);
    }
    ck_assert_int_eq(res_run_end(db, "complete", 0.1, 10000000000000ULL, 1, &err), 0);
    res_close(db);
    ck_assert_int_eq(fx_sh("%s plot l.db --run 2 --kind link-bw --metric 'fab/latency:*' -o f.png"
                           " --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set ylabel 'Latency (ms)'") && !strstr(fx_out, "Throughput") &&
                  strstr(fx_out, "\n9 12\n"), "%.2000s", fx_out);
    if (have_gnuplot()) {
        ck_assert_int_eq(fx_sh("%s plot l.db --run 1 --kind link-bw -o lbw.png", fx_bin), 0);
        if (getenv("PLOT_KEEP"))
            fx_sh("cp lbw.png %s/", getenv("PLOT_KEEP"));
    }
}
END_TEST


/* Occurrences of needle in hay. */
static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Every figure kind with 1, 2, 7 and 16 runs: one plot with the key below
 * for more than two series, or with --facet one panel per run on shared
 * axes (ranges set once, tic labels on the outer panels), panel titles
 * that fit their panel, a figure that grows with the grid; 16 runs get 16
 * distinct line types. */
START_TEST(many_runs_every_kind)
{
    static const int counts[] = {1, 2, 7, 16};
    static const char *const kinds_all[] = {"cdf", "link-bw", "occupancy", "kv-hit", "coherence",
                                            "param"};
    for (size_t c = 0; c < 4; c++) {
        char db[32];
        snprintf(db, sizeof db, "m%d.db", counts[c]);
        n_runs(db, counts[c]);
        for (size_t k = 0; k < 6; k++) {
            int param = strcmp(kinds_all[k], "param") == 0;
            const char *extra = param ? "--metric gpu0/latency_mean --x seed" : "";
            ck_assert_int_eq(fx_sh("%s plot %s --kind %s -o f.png --script %s", fx_bin, db,
                                   kinds_all[k], extra), 0);
            size_t n;
            ck_assert_msg(titles_within(fx_out, plot_title_max(3.5, 7), &n), "%s", fx_out);
            ck_assert_msg(count_of(fx_out, "\nplot ") == 1 && !strstr(fx_out, "multiplot"),
                          "%s %d: one plot: %s", kinds_all[k], counts[c], fx_out);
            ck_assert_msg(strstr(fx_out, "set linetype 32 lc rgb '#000000' lw 1.5 dt (1.5,2.5)") &&
                          strstr(fx_out, "set linetype cycle 32"), "%s", fx_out);
            /* one key entry per run (param: one line of all runs) */
            if (!param && strcmp(kinds_all[k], "occupancy") != 0 && counts[c] > 1)
                ck_assert_msg(n == (size_t)counts[c], "%s %d runs: %zu entries: %s",
                              kinds_all[k], counts[c], n, fx_out);
            /* more than two runs: the key goes below the plot, or, when its
             * rows would take more than 45% of the figure, is left out with
             * the warning (16 one-column entries in 2.4 in) */
            if (counts[c] > 2 && !param)
                ck_assert_msg(strstr(fx_out, "set key outside below") ||
                                  (counts[c] == 16 && strstr(fx_out, "the key is left out")),
                              "%.300s", fx_out);
            /* 16 runs of one swept key: 16 different line types */
            if (counts[c] == 16 && strcmp(kinds_all[k], "cdf") == 0)
                for (int lt = 1; lt <= 16; lt++) {
                    char want[32];
                    snprintf(want, sizeof want, "with steps lt %d title", lt);
                    ck_assert_msg(strstr(fx_out, want), "%s: %s", want, fx_out);
                }
            if (counts[c] == 16 && strcmp(kinds_all[k], "kv-hit") == 0)
                ck_assert_msg(count_of(fx_out, "fs pattern 4 border") == 8, "runs 9-16 hatched: %s",
                              fx_out);
            if (param)
                continue;
            /* facets: a panel per run */
            ck_assert_int_eq(fx_sh("%s plot %s --kind %s -o f.png --script --facet run", fx_bin,
                                   db, kinds_all[k]), 0);
            char want[64];
            snprintf(want, sizeof want, "# panel %d of %d\n", counts[c], counts[c]);
            ck_assert_msg(count_of(fx_out, "# panel ") == (size_t)counts[c] && strstr(fx_out, want),
                          "%s %d panels: %s", kinds_all[k], counts[c], fx_out);
            ck_assert_msg(strstr(fx_out, "set multiplot\n") && strstr(fx_out, "unset multiplot"),
                          "%s", fx_out);
            /* shared ranges: set once, before the panels */
            ck_assert_int_eq(count_of(fx_out, "set yrange ["), 1 + (strstr(fx_out, "set yrange [0:*]")
                                                                    || strstr(fx_out, "set yrange [0:1") ? 1 : 0) + 1);
            size_t cols, rows;
            plot_grid((size_t)counts[c], &cols, &rows);
            /* tic labels on the left column and bottom row only */
            ck_assert_uint_eq(count_of(fx_out, "set format y '% h'"), rows);
            ck_assert_uint_eq(count_of(fx_out, "set format y ''"), (size_t)counts[c] - rows);
            /* wider from three columns on; 1.25 in a row */
            char term[64];
            snprintf(term, sizeof term, "pngcairo size %d,", cols >= 3 ? 2100 : 1050);
            ck_assert_msg(strstr(fx_out, term), "%s: %.300s", term, fx_out);
            /* panel titles fit a panel: the run label, shortened */
            for (const char *t = strstr(fx_out, "set title '"); t; t = strstr(t + 1, "set title '")) {
                const char *e = strchr(t + 11, '\'');
                ck_assert_msg(e && (size_t)(e - t - 11) <= 45, "%.60s", t);
            }
        }
    }
    /* the grid */
    static const size_t grid[][3] = {{1, 1, 1}, {2, 2, 1},  {3, 3, 1},  {4, 2, 2},  {5, 3, 2},
                                     {6, 3, 2}, {7, 4, 2},  {8, 4, 2},  {9, 3, 3},  {10, 4, 3},
                                     {12, 4, 3}, {13, 4, 4}, {16, 4, 4}, {17, 5, 4}, {25, 5, 5}};
    for (size_t k = 0; k < sizeof grid / sizeof grid[0]; k++) {
        size_t cols, rows;
        plot_grid(grid[k][0], &cols, &rows);
        ck_assert_msg(cols == grid[k][1] && rows == grid[k][2], "%zu panels: %zu x %zu",
                      grid[k][0], cols, rows);
    }
    if (have_gnuplot())
        for (size_t k = 0; k < 5; k++) {
            ck_assert_msg(fx_sh("%s plot m7.db --kind %s -o facet-%s.png --facet run", fx_bin,
                                kinds_all[k], kinds_all[k]) == 0, "%s: %s", kinds_all[k], fx_out);
            ck_assert_msg(fx_sh("%s plot m16.db --kind %s -o all-%s.png", fx_bin, kinds_all[k],
                                kinds_all[k]) == 0, "%s: %s", kinds_all[k], fx_out);
        }
    ck_assert_int_eq(fx_sh("%s plot m2.db --kind param --metric gpu0/latency_mean --facet run"
                           " -o f.png", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s plot m2.db --kind cdf --facet tier -o f.png", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "--facet is run or instance"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot m2.db --kind cdf --agg max -o f.png", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "--agg is sum, mean or none"), "%s", fx_out);
}
END_TEST

/* A run of three instances whose kv_used:hbm series (in blocks) are
 * sampled at different times, and kv and coherence rows per instance. */
static void three_instances(const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, file);
    sim_err err;
    sim_err_clear(&err);
    res_db *db = res_open(path, &err);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_gt(res_run_begin(db, "three", "0123abcd", 1, "test", &err), 0);
    static const struct { const char *scope; int t; double v; } pts[] = {
        {"inst0", 0, 10}, {"inst2", 0, 0}, {"inst1", 1, 20}, {"inst2", 1, 60}, {"inst0", 2, 30}};
    for (size_t k = 0; k < 5; k++)
        ck_assert_int_eq(res_timeseries(db, pts[k].scope, "kv_used:hbm",
                                        (uint64_t)pts[k].t * 1000000000000ULL, pts[k].v), 0);
    /* hit ratios 0.8, 0.1 and 0.3: 80+30+60 hits of 100+300+200 lookups */
    ck_assert_int_eq(res_kv(db, "inst0", "hbm", 80, 20, 0, 0, 0), 0);
    ck_assert_int_eq(res_kv(db, "inst1", "hbm", 30, 270, 0, 0, 0), 0);
    ck_assert_int_eq(res_kv(db, "inst2", "hbm", 60, 140, 0, 0, 0), 0);
    ck_assert_int_eq(res_coherence(db, "dir0", "GetS", 100), 0);
    ck_assert_int_eq(res_coherence(db, "dir1", "GetS", 50), 0);
    /* a message type no directory sent: no empty cluster for it */
    ck_assert_int_eq(res_coherence(db, "dir0", "PutE", 0), 0);
    ck_assert_int_eq(res_coherence(db, "dir1", "PutE", 0), 0);
    ck_assert_int_eq(res_run_end(db, "complete", 0.1, 3000000000000ULL, 1, &err), 0);
    res_close(db);
}

/* Aggregation across instances, checked by hand: a member holds its last
 * sample until the next one and counts from its first. inst0 10@0 30@2,
 * inst1 20@1, inst2 0@0 60@1:
 *   t=0: {10, 0}       mean 5,      min 0,  max 10, sum 10
 *   t=1: {10, 20, 60}  mean 30,     min 10, max 60, sum 90
 *   t=2: {30, 20, 60}  mean 36.667, min 20, max 60, sum 110
 * kv-hit: pooled 170/600 = 0.283333, mean of ratios (0.8+0.1+0.3)/3 = 0.4,
 * whisker 0.1..0.8; coherence GetS: sum 150, mean 75 (whisker 50..100). */
START_TEST(aggregation_over_instances)
{
    three_instances("i.db");
    ck_assert_int_eq(fx_sh("%s plot i.db --kind occupancy -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "\n0 5 0 10\n1 30 10 60\n2 36.6666667 20 60\n") &&
                  strstr(fx_out, "with filledcurves lt 1 fs transparent solid") &&
                  strstr(fx_out, "with lines lt 1 title 'inst* hbm'") &&
                  strstr(fx_out, "set ylabel 'KV per instance (blocks)'") &&
                  strstr(fx_out, "min-max band"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot i.db --kind occupancy --agg sum -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "\n0 10\n1 90\n2 110\n") && !strstr(fx_out, "filledcurves") &&
                  strstr(fx_out, "set ylabel 'KV, all instances (blocks)'"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot i.db --kind occupancy --agg none -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "title 'inst0 hbm'") && strstr(fx_out, "title 'inst2 hbm'") &&
                  strstr(fx_out, "\n0 10\n2 30\n"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot i.db --kind occupancy --facet instance -o f.png --script",
                           fx_bin), 0);
    ck_assert_msg(count_of(fx_out, "# panel ") == 3 && strstr(fx_out, "set title 'inst1'") &&
                  strstr(fx_out, "set yrange [0:60]"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot i.db --kind kv-hit --agg sum -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "\n0 0.283333333 0.8 0.1 0.8\n") &&
                  strstr(fx_out, "with yerrorbars"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot i.db --kind kv-hit --agg mean -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "\n0 0.4 0.8 0.1 0.8\n"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot i.db --kind coherence --agg sum -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "\n0 150 0.8 150 150\n") && !strstr(fx_out, "yerrorbars") &&
                  !strstr(fx_out, "PutE"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot i.db --kind coherence --agg mean -o f.png --script", fx_bin),
                     0);
    ck_assert_msg(strstr(fx_out, "\n0 75 0.8 50 100\n"), "%s", fx_out);
    /* several runs: aggregated by default, clusters per tier (message) */
    three_instances("i.db");
    ck_assert_int_eq(fx_sh("%s plot i.db --kind coherence -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set xtics ('GetS' 0)") && count_of(fx_out, "\n-0.2 150 0.4") == 1,
                  "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot i.db --kind coherence --agg none -o f.png --script", fx_bin),
                     0);
    /* one message: clusters per directory, a colour per run */
    ck_assert_msg(strstr(fx_out, "set xtics ('dir0' 0, 'dir1' 1)") &&
                  strstr(fx_out, "title 'three #2'"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot i.db --kind coherence --facet instance -o f.png --script",
                           fx_bin), 0);
    ck_assert_msg(count_of(fx_out, "# panel ") == 2 && strstr(fx_out, "set title 'dir1'"), "%s",
                  fx_out);
    if (have_gnuplot()) {
        ck_assert_int_eq(fx_sh("%s plot i.db --kind occupancy -o occ.png", fx_bin), 0);
        ck_assert_int_eq(fx_sh("%s plot i.db --kind coherence --facet instance -o coh.pdf",
                               fx_bin), 0);
    }
}
END_TEST

/* Logarithmic axes: 1-2-3-5 within a decade, 1-2-5 within two, 1-3
 * within three, decades beyond, every n-th decade over many. */
START_TEST(log_tics)
{
    static const struct {
        double lo, hi;
        int most;
        const char *list;
        int in;
    } cases[] = {
        {2, 8, 6, "(1, 2, 3, 5, 10, 20, 30, 50)", 3},
        {2, 50, 6, "(1, 2, 5, 10, 20, 50, 100, 200, 500)", 5},
        {1, 1000, 7, "(1, 3, 10, 30, 100, 300, 1000, 3000)", 7},
        {0.014, 33, 7, "(0.01, 0.1, 1, 10, 100)", 3},
        {1e-6, 1e3, 6, "(1e-06, 0.0001, 0.01, 1, 100)", 5},
        {1.2, 1.8, 6, "(1.2, 1.4, 1.6, 1.8)", 4},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *buf;
        size_t len;
        FILE *f = open_memstream(&buf, &len);
        int in = plot_log_tics(f, 'x', cases[k].lo, cases[k].hi, cases[k].most);
        fclose(f);
        ck_assert_msg(strstr(buf, cases[k].list) && in == cases[k].in &&
                      strstr(buf, "set format x '%g'"), "[%g:%g]: %d %s", cases[k].lo,
                      cases[k].hi, in, buf);
        free(buf);
    }
    /* a CDF on a log axis gets a tic list, not a linear increment (which
     * gnuplot would take as a factor): latencies of 1.0-1.39 s span less
     * than a factor of 2, so the steps are linear */
    n_runs("l.db", 2);
    ck_assert_int_eq(fx_sh("%s plot l.db --kind cdf --logx -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "set logscale x") &&
                  strstr(fx_out, "set xtics (1, 1.1, 1.2, 1.3, 1.4)\n"), "%s", fx_out);
}
END_TEST

/* Runs of two keys: a colour per value of the first, a dash per run of it. */
START_TEST(colour_by_first_key)
{
    fx_metric m[] = {{"g", "x", 1, ""}};
    for (int a = 0; a < 4; a++)
        for (int seed = 1; seed <= 4; seed++) {
            char p[64];
            snprintf(p, sizeof p, "sweep.router.policy=p%d", a);
            const char *ps[] = {p, NULL};
            fx_run("c.db", "s", (uint64_t)seed, ps, m, 1, 10, 1 + 0.1 * a);
        }
    ck_assert_int_eq(fx_sh("%s plot c.db --kind cdf -o f.png --script", fx_bin), 0);
    /* policy p2 is colour 3; its seeds 1-4 solid, dashed, dash-dot, dotted */
    ck_assert_msg(strstr(fx_out, "lt 3 title 'policy=p2 seed=1'") &&
                  strstr(fx_out, "lt 11 title 'policy=p2 seed=2'") &&
                  strstr(fx_out, "lt 19 title 'policy=p2 seed=3'") &&
                  strstr(fx_out, "lt 27 title 'policy=p2 seed=4'"), "%s", fx_out);
}
END_TEST

/* param: a point that does not set a swept key ran with the scenario's own
 * value (its flattened param), so it is drawn there, not skipped; groups
 * are named by the keys' last components, as run labels are. */
START_TEST(param_base_value_and_short_groups)
{
    fx_metric m[] = {{"w", "tpot", 0.007, "s"}};
    const char *p1[] = {"sweep.inst0.speculation=none", "inst0.speculation=none",
                        "sweep.workload.synthetic.rate=2/s", "workload.synthetic.rate=2/s", NULL};
    const char *p2[] = {"inst0.speculation=draft", "sweep.workload.synthetic.rate=2/s",
                        "workload.synthetic.rate=2/s", NULL};
    const char *p3[] = {"sweep.inst0.speculation=none", "inst0.speculation=none",
                        "sweep.workload.synthetic.rate=20/s", "workload.synthetic.rate=20/s",
                        NULL};
    fx_run("p.db", "spec", 1, p1, m, 1, 10, 1);
    m[0].value = 0.004;
    fx_run("p.db", "spec", 1, p2, m, 1, 10, 1);
    m[0].value = 0.025;
    fx_run("p.db", "spec", 1, p3, m, 1, 10, 1);
    ck_assert_int_eq(fx_sh("%s plot p.db --kind param --metric w/tpot --x inst0.speculation"
                           " -o f.png --script", fx_bin), 0);
    ck_assert_msg(!strstr(fx_out, "has no param") && strstr(fx_out, "'draft'") &&
                  strstr(fx_out, "title 'rate=2/s'") && strstr(fx_out, "title 'rate=20/s'") &&
                  !strstr(fx_out, "speculation="), "%.3000s", fx_out);
}
END_TEST

/* ---- Errors ----------------------------------------------------------------- */

START_TEST(errors)
{
    two_runs();
    ck_assert_int_eq(fx_sh("%s plot a.db --kind pie -o f.png", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o f.jpg", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, ".pdf, .png or .svg"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s plot nosuch.db --kind cdf -o f.png", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf --run 9 -o f.png", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf --metric xyz -o f.png", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind param -o f.png", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf --where nokey -o f.png", fx_bin), 2);
    ck_assert_int_eq(fx_sh("MEMFAB_GNUPLOT=/nonexistent/gnuplot %s plot a.db --kind cdf -o f.png",
                           fx_bin), 1);
    ck_assert_msg(strstr(fx_out, "gnuplot-nox"), "names the package: %s", fx_out);
    ck_assert_int_eq(fx_sh("PATH=/nonexistent %s plot a.db --kind cdf -o f.png", fx_bin), 1);
    ck_assert_msg(strstr(fx_out, "gnuplot-nox"), "%s", fx_out);
    /* no data for the kind */
    fx_metric m[] = {{"g", "x", 1, ""}};
    fx_run("empty.db", "e", 1, NULL, m, 1, 0, 1);
    ck_assert_int_eq(fx_sh("%s plot empty.db --kind cdf -o f.png", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "requests"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s plot empty.db --kind kv-hit -o f.png", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s plot empty.db --kind occupancy -o f.png", fx_bin), 2);
    ck_assert(!fx_exists("f.png"));
}
END_TEST

/* plot never overwrites its database or a file that is not a figure, and
 * reports a figure it could not finish (full disk, gnuplot stopping half-way)
 * as a failure that leaves the old output and no temporary file. */
START_TEST(output_safety)
{
    two_runs();
    ck_assert_int_eq(fx_sh("cp a.db keep.db && ln -s a.db a.pdf"), 0);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o a.pdf", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "is the input file"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("cmp a.db keep.db"), 0);
    fx_write("notes.svg", "my notes\n");
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o notes.svg", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "not a figure"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("cmp a.db keep.db && grep -q 'my notes' notes.svg"), 0);
    ck_assert_int_eq(fx_sh("cp keep.db x.png && %s plot a.db --kind cdf -o x.png", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "results database"), "%s", fx_out);
    /* a gnuplot that stops half-way through the figure but exits 0 */
    fx_write("gp.sh", "#!/bin/sh\nout=$(sed -n \"s/^set output '\\(.*\\)'$/\\1/p\")\n"
                      "printf '%%PDF-1.5\\n%%truncated' > \"$out\"\nexit 0\n");
    fx_write("old.pdf", "%PDF-1.5 old figure\n%%EOF\n");
    ck_assert_int_eq(fx_sh("chmod +x gp.sh && MEMFAB_GNUPLOT=$PWD/gp.sh %s plot a.db --kind cdf"
                           " -o old.pdf", fx_bin), 1);
    ck_assert_msg(strstr(fx_out, "incomplete figure"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("grep -q 'old figure' old.pdf"), 0);
    if (have_gnuplot()) {
        /* a full disk: the figure is copied into /dev/full and fails there */
        ck_assert_int_eq(fx_sh("ln -s /dev/full full.png && %s plot a.db --kind cdf -o full.png",
                               fx_bin), 1);
        ck_assert_msg(strstr(fx_out, "No space left"), "%s", fx_out);
        /* an existing figure is replaced */
        ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o old.pdf", fx_bin), 0);
        ck_assert_int_eq(fx_sh("grep -q 'old figure' old.pdf"), 1);
    }
    ck_assert_int_eq(fx_sh("ls -A | grep -v -x -e a.db -e keep.db -e a.pdf -e notes.svg -e x.png"
                           " -e gp.sh -e old.pdf -e full.png | wc -l | tr -d ' '"), 0);
    ck_assert_msg(strcmp(fx_out, "0\n") == 0, "stray files: %s", fx_out);
}
END_TEST

static Suite *plot_suite(void)
{
    Suite *s = suite_create("plot");
    TCase *core = tcase_create("Core"), *limits = tcase_create("Limits"),
          *errs = tcase_create("Errors");
    TCase *all[] = {core, limits, errs};
    for (int i = 0; i < 3; i++) {
        tcase_add_checked_fixture(all[i], fx_setup, fx_teardown);
        tcase_set_timeout(all[i], 60);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_loop_test(core, every_kind_every_format, 0, 18);
    tcase_add_test(core, script_has_inline_data);
    tcase_add_test(core, short_run_labels);
    tcase_add_test(core, described_points_labelled_by_description);
    tcase_add_test(core, occupancy_default_and_tier_order);
    tcase_add_test(core, occupancy_mixed_units_and_script_without_output);
    tcase_add_test(limits, shorten_function);
    tcase_add_test(limits, hostile_names_are_escaped);
    tcase_add_test(limits, quote_function);
    tcase_add_test(limits, replications_give_error_bars);
    tcase_add_test(limits, axes_start_at_zero);
    tcase_add_test(limits, key_placement_and_names);
    tcase_add_test(limits, link_bw_draws_links_only);
    tcase_add_test(limits, many_runs_every_kind);
    tcase_add_test(limits, aggregation_over_instances);
    tcase_add_test(limits, log_tics);
    tcase_add_test(limits, colour_by_first_key);
    tcase_add_test(limits, param_base_value_and_short_groups);
    tcase_add_test(errs, errors);
    tcase_add_test(errs, output_safety);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plot_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
