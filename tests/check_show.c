/*
 * check_show.c - what people read: human units (tools/human.c), the run
 * summary (headline metrics first, left-out rows counted with the command
 * that shows them), memfab show (filters, limits, no SQL from the user),
 * and progress lines on a stderr that is not a terminal (runs and sweeps).
 */
#include "tests/tools_fixture.h"

#include "tools/human.h"

/* A source and a sink over one link: the sink model declares headline
 * metrics (throughput, latency mean and p99). */
static const char tiny_yaml[] =
    "name: tiny\n"
    "seed: 1\n"
    "stop: 20 ms\n"
    "components:\n"
    "  - {name: src, type: source, arrivals: poisson, interarrival: 2 us, size: 4 KiB,\n"
    "     link: l0}\n"
    "  - {name: dst, type: sink}\n"
    "links:\n"
    "  - {name: l0, type: link, ends: [src, dst], bandwidth: 10 GB/s, latency: 1 us}\n";

static void setup(void)
{
    fx_setup();
    fx_write("tiny.yaml", tiny_yaml);
}

/* ---- human units ------------------------------------------------------------ */

START_TEST(human_units)
{
    char b[64];
    ck_assert_str_eq(human_value(b, sizeof b, 8.14169e-06, "s", "latency_mean"), "8.14 us");
    ck_assert_str_eq(human_value(b, sizeof b, 0.00172711, "s", NULL), "1.73 ms");
    ck_assert_str_eq(human_value(b, sizeof b, 7.88e-07, "s", NULL), "788 ns");
    ck_assert_str_eq(human_value(b, sizeof b, 0.9999999, "s", NULL), "1 s");
    ck_assert_str_eq(human_value(b, sizeof b, 0, "s", NULL), "0 s");
    ck_assert_str_eq(human_value(b, sizeof b, 26.4e9, "B/s", NULL), "26.4 GB/s");
    ck_assert_str_eq(human_value(b, sizeof b, 64e6, "B/s", NULL), "64 MB/s");
    ck_assert_str_eq(human_value(b, sizeof b, 1.5 * 1024 * 1024 * 1024, "B", NULL), "1.5 GiB");
    ck_assert_str_eq(human_value(b, sizeof b, 512, "B", NULL), "512 B");
    ck_assert_str_eq(human_value(b, sizeof b, 0.732, "", "prefix_hit_ratio_tokens"), "73.2 %");
    ck_assert_str_eq(human_value(b, sizeof b, 0.657, "", "utilization"), "65.7 %");
    ck_assert_str_eq(human_value(b, sizeof b, 3856118, "events", NULL), "3,856,118 events");
    ck_assert_str_eq(human_value(b, sizeof b, 6.73032, "requests", NULL), "6.73 requests");
    ck_assert_str_eq(human_value(b, sizeof b, 1.23456789, "", "x"), "1.235");
    ck_assert_str_eq(human_value(b, sizeof b, NAN, "s", NULL), "-");
    ck_assert_str_eq(human_count(b, sizeof b, -1234567), "-1,234,567");
    ck_assert_str_eq(human_count(b, sizeof b, 999), "999");
    ck_assert_str_eq(human_duration(b, sizeof b, 65), "1 min 05 s");
    ck_assert_str_eq(human_duration(b, sizeof b, 7260), "2 h 01 min");
    ck_assert_str_eq(human_text(b, sizeof b, "a\nb\tc\x01\\", 0), "a\\nb\\tc\\x01\\\\");
    ck_assert_str_eq(human_text(b, sizeof b, "abcdefghij", 8), "abcde...");
    ck_assert_str_eq(human_shell_word(b, sizeof b, "results/x.db"), "results/x.db");
    ck_assert_str_eq(human_shell_word(b, sizeof b, "my runs/it's.db"), "'my runs/it'\\''s.db'");
}
END_TEST

/* ---- the run summary ---------------------------------------------------------- */

START_TEST(summary_headline_units_and_left_out_rows)
{
    ck_assert_msg(fx_sh("%s run tiny.yaml -o t.db", fx_bin) == 0, "%s", fx_out);
    /* the sink's headline metrics, with human units, no e-notation */
    ck_assert_msg(strstr(fx_out, "dst") && strstr(fx_out, "throughput") &&
                      strstr(fx_out, "latency_p99"),
                  "%s", fx_out);
    ck_assert_msg(strstr(fx_out, " GB/s") && (strstr(fx_out, " us") || strstr(fx_out, " ns")),
                  "%s", fx_out);
    ck_assert_msg(!strstr(fx_out, "e-0") && !strstr(fx_out, "e+0"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "simulated 20 ms"), "%s", fx_out);
    /* what was left out, and the command that shows it */
    ck_assert_msg(strstr(fx_out, "more metrics rows: memfab show t.db metrics --run 1"), "%s",
                  fx_out);
    /* that command works and prints the rest */
    ck_assert_msg(fx_sh("%s show t.db metrics --run 1 --limit 0", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "latency_p50") && strstr(fx_out, "refused_packets"), "%s",
                  fx_out);
    ck_assert_msg(!strstr(fx_out, "more row"), "%s", fx_out);
}
END_TEST

/* ---- memfab show ------------------------------------------------------------ */

START_TEST(show_filters_and_limits)
{
    ck_assert_msg(fx_sh("%s run tiny.yaml -o t.db -q && %s run tiny.yaml -o t.db -q --seed 2",
                        fx_bin, fx_bin) == 0,
                  "%s", fx_out);
    /* overview: the runs and every table's row count */
    ck_assert_msg(fx_sh("%s show t.db", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "complete") && strstr(fx_out, "metrics") &&
                      strstr(fx_out, "run_summary"),
                  "%s", fx_out);
    /* --run and --where: only dst's rows of run 2 */
    ck_assert_msg(fx_sh("%s show t.db metrics --run 2 --where scope=dst --limit 0", fx_bin) == 0,
                  "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "latency_mean") && !strstr(fx_out, "src") &&
                      !strstr(fx_out, "  1  "),
                  "%s", fx_out);
    /* a glob, and a limit that counts the rest */
    ck_assert_msg(fx_sh("%s show t.db metrics --where 'name=latency_p*' --limit 2", fx_bin) == 0,
                  "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "latency_p") && !strstr(fx_out, "latency_mean"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "more rows: memfab show t.db metrics --where 'name=latency_p*'"
                                 " --limit"),
                  "%s", fx_out);
    /* comparisons on numbers; units by column (bytes, utilisation) */
    ck_assert_msg(fx_sh("%s show t.db links --where 'bytes>0' --run 1", fx_bin) == 0, "%s",
                  fx_out);
    ck_assert_msg(strstr(fx_out, "src->dst") && !strstr(fx_out, "dst->src") &&
                      strstr(fx_out, " MiB") && strstr(fx_out, " %"),
                  "%s", fx_out);
    /* --raw: exact stored values */
    ck_assert_msg(fx_sh("%s show t.db runs --raw --where run_id=1", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "20000000000"), "%s", fx_out);
}
END_TEST

START_TEST(show_takes_no_sql_from_the_user)
{
    ck_assert_msg(fx_sh("%s run tiny.yaml -o t.db -q", fx_bin) == 0, "%s", fx_out);
    /* a table that is not one */
    ck_assert_int_eq(fx_sh("%s show t.db 'metrics; DROP TABLE runs'", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "no table or view") && strstr(fx_out, "metrics"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s show t.db nosuch", fx_bin), 2);
    /* a column that is not one */
    ck_assert_int_eq(fx_sh("%s show t.db metrics --where '1=1 OR x=1'", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s show t.db metrics --where 'nosuch=1'", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "no column 'nosuch'") && strstr(fx_out, "scope"), "%s", fx_out);
    /* a value is data, never SQL */
    ck_assert_msg(fx_sh("%s show t.db metrics --where \"scope=x' OR '1'='1\"", fx_bin) == 0, "%s",
                  fx_out);
    ck_assert_msg(strstr(fx_out, "no rows in metrics that match"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 t.db 'SELECT COUNT(*) FROM runs'"), 0);
    ck_assert_str_eq(fx_out, "1\n");
    /* --run on a table without run_id; bad options */
    ck_assert_int_eq(fx_sh("%s show t.db meta --run 1", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s show t.db metrics --limit -3", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s show tiny.yaml", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s show --help", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "--where KEY=VALUE"), "%s", fx_out);
}
END_TEST

/* ---- progress ------------------------------------------------------------------ */

START_TEST(progress_lines_without_a_terminal)
{
    /* stderr is a pipe here. A short run prints no progress by default... */
    ck_assert_msg(fx_sh("%s run tiny.yaml -o t.db -q 2>err.txt; cat err.txt", fx_bin) == 0, "%s",
                  fx_out);
    ck_assert_str_eq(fx_out, "");
    ck_assert_msg(fx_sh("%s run tiny.yaml -o t.db 2>err.txt >/dev/null; cat err.txt", fx_bin) ==
                      0,
                  "%s", fx_out);
    ck_assert_msg(!strstr(fx_out, "%"), "%s", fx_out);
    /* ...but a long one (here: an interval of 0 s) prints lines with the
     * percent done and an ETA, and a final line */
    ck_assert_msg(fx_sh("MEMFAB_PROGRESS_INTERVAL=0 %s run tiny.yaml -o t.db 2>err.txt"
                        " >/dev/null; cat err.txt",
                        fx_bin) == 0,
                  "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "tiny:") && strstr(fx_out, "%") && strstr(fx_out, "ETA") &&
                      strstr(fx_out, "100.0% t = 0.02 s of 0.02 s") && strstr(fx_out, "took"),
                  "%s", fx_out);
    ck_assert_msg(!strstr(fx_out, "\r"), "lines, not a redrawn status: %s", fx_out);
    /* --progress: at least the final line, even for a short run */
    ck_assert_msg(fx_sh("%s run tiny.yaml -o t.db --progress 2>err.txt >/dev/null; cat err.txt",
                        fx_bin) == 0,
                  "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "100.0%") && strstr(fx_out, "took"), "%s", fx_out);
    /* -q wins over the interval */
    ck_assert_msg(fx_sh("MEMFAB_PROGRESS_INTERVAL=0 %s run tiny.yaml -o t.db -q 2>&1", fx_bin) ==
                      0,
                  "%s", fx_out);
    ck_assert_str_eq(fx_out, "");
}
END_TEST

START_TEST(sweep_progress_lines)
{
    fx_write("sweep.yaml", "scenario: tiny.yaml\nname: sp\ngrid:\n  seed: [1, 2, 3]\n");
    ck_assert_msg(fx_sh("MEMFAB_PROGRESS_INTERVAL=0 %s sweep sweep.yaml -j 1 2>err.txt;"
                        " cat err.txt",
                        fx_bin) == 0,
                  "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "sweep sp: 1/3 points (33%)") && strstr(fx_out, "ETA") &&
                      strstr(fx_out, "sweep sp: 3/3 points (100%), 0 failed"),
                  "%s", fx_out);
    ck_assert_msg(!strstr(fx_out, "\r"), "%s", fx_out);
}
END_TEST

static Suite *show_suite(void)
{
    Suite *s = suite_create("show");
    TCase *units = tcase_create("Units"), *summary = tcase_create("Summary"),
          *show = tcase_create("Show"), *progress = tcase_create("Progress");
    TCase *all[] = {units, summary, show, progress};
    for (int i = 0; i < 4; i++) {
        tcase_add_checked_fixture(all[i], setup, fx_teardown);
        tcase_set_timeout(all[i], 60);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(units, human_units);
    tcase_add_test(summary, summary_headline_units_and_left_out_rows);
    tcase_add_test(show, show_filters_and_limits);
    tcase_add_test(show, show_takes_no_sql_from_the_user);
    tcase_add_test(progress, progress_lines_without_a_terminal);
    tcase_add_test(progress, sweep_progress_lines);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(show_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
