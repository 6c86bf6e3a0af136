/*
 * check_plot.c - memfab plot: every kind in every format, escaping of
 * strings from the database (a hostile run name plots and runs nothing),
 * and the errors (unknown kind or extension, missing gnuplot, no data).
 */
#include "tests/tools_fixture.h"
#include "tools/plot.h"

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
    ck_assert_msg(strstr(fx_out, "title 'tiny bw=8 GB/s'"), "labels from sweep keys: %s", fx_out);
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

/* ---- Limits ---------------------------------------------------------------- */

START_TEST(hostile_names_are_escaped)
{
    fx_metric m[] = {{hostile, "latency_mean", 1e-6, "s"}};
    fx_run("a.db", hostile, 1, NULL, m, 1, 20, 1.0);
    fx_run("a.db", "plain", 1, NULL, m, 1, 20, 2.0);
    FILE *f = popen("true", "r");   /* keep popen's SIGCHLD handling warm for sanitizers */
    pclose(f);
    ck_assert_int_eq(fx_sh("%s plot a.db --kind cdf -o f.png --script", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "title 'x\"; system(\"touch PWNED1\") `touch PWNED2` '' ;"
                                 " system(''touch PWNED3'') @GPVAL_TERM\\'"),
                  "escaped title: %s", fx_out);
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
    tcase_add_test(limits, hostile_names_are_escaped);
    tcase_add_test(limits, quote_function);
    tcase_add_test(limits, replications_give_error_bars);
    tcase_add_test(errs, errors);
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
