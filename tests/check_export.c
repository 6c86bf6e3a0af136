/*
 * check_export.c - results that explain themselves: the *_si views (seconds
 * and bytes per second computed from the integer columns, checked against
 * exact arithmetic), timeseries.unit from the models' declarations, params
 * with every default (origin), and memfab export (RFC 4180 CSV byte for
 * byte, JSON types through Jansson, refusals, checked writes), plus the
 * README's pandas snippet when python3 has pandas.
 */
#include <jansson.h>
#include <sqlite3.h>

#include "tests/check_main.h"
#include "tests/tools_fixture.h"

static void setup(void) { fx_setup(); }

static const char tiny_yaml[] =
    "name: tiny\n"
    "seed: 1\n"
    "stop: 5 ms\n"
    "output: {sample_interval: 1 ms}\n"
    "components:\n"
    "  - {name: src, type: source, arrivals: poisson, interarrival: 20 us, size: 4 KiB,\n"
    "     link: l0}\n"
    "  - {name: dst, type: sink}\n"
    "links:\n"
    "  - {name: l0, type: link, ends: [src, dst], bandwidth: 10 GB/s, latency: 1 us}\n";

/* A small LLM scenario without kv: or router: sections. */
static const char llm_yaml[] =
    "name: llm\n"
    "seed: 3\n"
    "stop: trace_end\n"
    "output: {sample_interval: 100 ms}\n"
    "workload:\n"
    "  synthetic: {rate: 20/s, input: 200 tokens, output: 20 tokens, requests: 20}\n"
    "  instances: {count: 2, model: llama3-8b, gpu: h100}\n";

/* One run written through res.h with round numbers: sim time 2 s; a link
 * direction of 10^9 B busy 0.5 s; a request arriving at 1 s, first token at
 * 1.25 s, finished at 2 s with 4 output tokens; a sample at 10 ms. */
static void write_known_run(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, name);
    sim_err err;
    sim_err_clear(&err);
    res_db *db = res_open(path, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    ck_assert_int_gt(res_run_begin(db, "known", "00", 1, "test", &err), 0);
    ck_assert_int_eq(res_param_from(db, "comma", "a,b", RES_ORIGIN_SCENARIO), 0);
    ck_assert_int_eq(res_param_from(db, "quote", "say \"hi\"", RES_ORIGIN_SCENARIO), 0);
    ck_assert_int_eq(res_param_from(db, "lines", "one\ntwo", RES_ORIGIN_DEFAULT), 0);
    ck_assert_int_eq(res_param(db, "none", NULL), 0);
    /* a default never replaces what the scenario wrote */
    ck_assert_int_eq(res_param_from(db, "comma", "x", RES_ORIGIN_DEFAULT), 0);
    ck_assert_int_eq(res_metric(db, "m", "tenth", 0.1, "s"), 0);
    ck_assert_int_eq(res_metric(db, "m", "big", 9007199254740993.0, "B"), 0);
    ck_assert_int_eq(res_link(db, "l0", "a->b", 1000000000ULL, 10, 500000000000ULL, 0.25), 0);
    ck_assert_int_eq(res_request(db, 0, "s", "i0", 1000000000000ULL, 1250000000000ULL,
                                 2000000000000ULL, 10, 4, 0), 0);
    ck_assert_int_eq(res_timeseries_unit(db, "l0", "throughput:a->b", 10000000000ULL, 5e8, "B/s"),
                     0);
    ck_assert_int_eq(res_run_end(db, "complete", 0.5, 2000000000000ULL, 100, &err), 0);
    res_close(db);
}

/* ---- Core ---------------------------------------------------------------- */

/* The views' derived columns equal the arithmetic on the integer ones. */
START_TEST(si_views_exact)
{
    write_known_run("k.db");
    ck_assert_int_eq(fx_sh("sqlite3 k.db \"SELECT sim_time_s, events_per_s FROM runs_si;"
                           " SELECT busy_s, bytes_per_s, utilization FROM links_si;"
                           " SELECT arrival_s, ttft_ps, ttft_s, e2e_s, tpot_ps, tpot_s FROM"
                           " requests_si; SELECT t_s, value, unit FROM timeseries_si\""), 0);
    /* 2e12 ps = 2 s; 100 events / 0.5 s; 1e9 B / 2 s = 5e8 B/s; busy 0.5 s;
     * ttft 0.25 s; e2e 1 s; tpot (2 - 1.25) s / (4 - 1) = 0.25 s */
    ck_assert_str_eq(fx_out, "2.0|200.0\n"
                             "0.5|500000000.0|0.25\n"
                             "1.0|250000000000|0.25|1.0|250000000000|0.25\n"
                             "0.01|500000000.0|B/s\n");
}
END_TEST

/* Every series of a real run carries the unit its model declares. */
START_TEST(timeseries_units)
{
    fx_write("tiny.yaml", tiny_yaml);
    fx_write("llm.yaml", llm_yaml);
    ck_assert_msg(fx_sh("%s run tiny.yaml -o t.db -q && %s run llm.yaml -o t.db -q", fx_bin,
                        fx_bin) == 0, "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 t.db \"SELECT name, unit, COUNT(*) FROM timeseries"
                           " GROUP BY name, unit ORDER BY name\""), 0);
    /* 5 samples of each direction of l0; the llm run's series per instance */
    ck_assert_msg(strstr(fx_out, "throughput:dst->src|B/s|5\nthroughput:src->dst|B/s|5\n"),
                  "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "kv_used:hbm|B|"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "running|requests|"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "in_system|requests|"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 t.db \"SELECT COUNT(*) FROM timeseries WHERE unit IS NULL\""),
                     0);
    ck_assert_str_eq(fx_out, "0\n");
}
END_TEST

/* params: what was written (origin scenario), every default (origin
 * default) under the key --set would use, and --set wins over a default. */
START_TEST(params_with_defaults)
{
    fx_write("tiny.yaml", tiny_yaml);
    fx_write("llm.yaml", llm_yaml);
    ck_assert_msg(fx_sh("%s run tiny.yaml -o p.db -q --set links.l0.queue_limit=8 && "
                        "%s run llm.yaml -o p.db -q", fx_bin, fx_bin) == 0, "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 p.db \"SELECT key, value, origin FROM params WHERE run_id = 1"
                           " AND key IN ('links.l0.bandwidth', 'links.l0.overhead',"
                           " 'links.l0.queue_limit', 'components.src.on_time',"
                           " 'output.requests', 'seed') ORDER BY key\""), 0);
    ck_assert_str_eq(fx_out, "components.src.on_time|1 ms|default\n"
                             "links.l0.bandwidth|10 GB/s|scenario\n"
                             "links.l0.overhead|0 B|default\n"
                             "links.l0.queue_limit|8|scenario\n"
                             "output.requests|true|default\n"
                             "seed|1|scenario\n");
    /* kv: and router: are in effect with a workload, written or not; the
     * default policy's parameters and the instances' parameters too */
    ck_assert_int_eq(fx_sh("sqlite3 p.db \"SELECT key, value FROM params WHERE run_id = 2 AND"
                           " origin = 'default' AND key IN ('kv.block_tokens', 'kv.eviction',"
                           " 'router.policy', 'router.sticky', 'workload.instances.max_seqs',"
                           " 'workload.instances.tp', 'workload.synthetic.arrivals',"
                           " 'workload.synthetic.block_tokens') ORDER BY key\""), 0);
    ck_assert_str_eq(fx_out, "kv.block_tokens|16\n"
                             "kv.eviction|lru\n"
                             "router.policy|round_robin\n"
                             "router.sticky|false\n"
                             "workload.instances.max_seqs|256\n"
                             "workload.instances.tp|1\n"
                             "workload.synthetic.arrivals|poisson\n");
    /* every default is a value memfab accepts: the run reproduces with all
     * of them given explicitly */
    ck_assert_int_eq(fx_sh("sqlite3 p.db \"SELECT COUNT(*) FROM params WHERE run_id = 1 AND"
                           " origin = 'default'\""), 0);
    ck_assert_int_gt(atoi(fx_out), 10);
    ck_assert_int_eq(fx_sh("sqlite3 -separator = p.db \"SELECT key, value FROM params WHERE"
                           " run_id = 1 AND origin = 'default' AND value <> ''\" | sed"
                           " \"s/.*/--set '&'/\" | xargs %s run tiny.yaml -o q.db -q --set links.l0.queue_limit=8", fx_bin), 0);
    ck_assert_msg(fx_sh("sqlite3 p.db \"SELECT name, value FROM metrics WHERE run_id = 1 AND"
                           " scope = 'dst' ORDER BY name\" > a.txt && sqlite3 q.db \"SELECT name, value FROM"
                           " metrics WHERE scope = 'dst' ORDER BY name\" > b.txt && diff a.txt b.txt") == 0, "%s", fx_out);
}
END_TEST

/* Runs still match an older database whose params lack the defaults. */
START_TEST(compare_ignores_defaults)
{
    fx_write("tiny.yaml", tiny_yaml);
    ck_assert_msg(fx_sh("%s run tiny.yaml -o a.db -q && %s run tiny.yaml -o b.db -q", fx_bin,
                        fx_bin) == 0, "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 a.db \"DELETE FROM params WHERE origin = 'default'\""), 0);
    ck_assert_msg(fx_sh("%s compare a.db b.db", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "1 run matched") && strstr(fx_out, "0 runs missing"), "%s",
                  fx_out);
}
END_TEST

/* RFC 4180, byte for byte: header, CRLF, quoting, doubled quotes, NULL empty. */
START_TEST(export_csv_rfc4180)
{
    write_known_run("k.db");
    ck_assert_msg(fx_sh("%s export k.db --format csv --table params -o out", fx_bin) == 0, "%s",
                  fx_out);
    char path[600];
    snprintf(path, sizeof path, "%s/out/params.csv", fx_dir);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    ck_assert_str_eq(buf, "run_id,key,value,origin\r\n"
                          "1,comma,\"a,b\",scenario\r\n"
                          "1,quote,\"say \"\"hi\"\"\",scenario\r\n"
                          "1,lines,\"one\ntwo\",default\r\n"
                          "1,none,,\r\n");
    /* reals in their shortest exact form; integers exactly */
    ck_assert_int_eq(fx_sh("%s export k.db --format csv --table metrics -o - | tr -d '\\r'",
                           fx_bin), 0);
    ck_assert_str_eq(fx_out, "run_id,scope,name,value,unit\n1,m,tenth,0.1,s\n"
                             "1,m,big,9007199254740992,B\n");
    /* no temporary file is left beside the outputs */
    ck_assert_int_eq(fx_sh("ls -A out"), 0);
    ck_assert_str_eq(fx_out, "params.csv\n");
}
END_TEST

START_TEST(export_json_types)
{
    write_known_run("k.db");
    ck_assert_msg(fx_sh("%s export k.db --format json", fx_bin) == 0, "%s", fx_out);
    /* default: every table, into k-json/ */
    ck_assert_int_eq(fx_sh("ls k-json"), 0);
    ck_assert_str_eq(fx_out, "coherence.json\nkv.json\nlinks.json\nmeta.json\nmetrics.json\n"
                             "params.json\nrequests.json\nruns.json\ntimeseries.json\n");
    char path[600];
    snprintf(path, sizeof path, "%s/k-json/params.json", fx_dir);
    json_error_t je;
    json_t *a = json_load_file(path, 0, &je);
    ck_assert_msg(a && json_is_array(a), "%s", je.text);
    ck_assert_int_eq(json_array_size(a), 4);
    json_t *r0 = json_array_get(a, 0), *r3 = json_array_get(a, 3);
    ck_assert(json_is_integer(json_object_get(r0, "run_id")));
    ck_assert_str_eq(json_string_value(json_object_get(r0, "value")), "a,b");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 2), "value")),
                     "one\ntwo");
    ck_assert(json_is_null(json_object_get(r3, "value")));
    ck_assert(json_is_null(json_object_get(r3, "origin")));
    json_decref(a);
    snprintf(path, sizeof path, "%s/k-json/metrics.json", fx_dir);
    a = json_load_file(path, 0, &je);
    ck_assert_ptr_nonnull(a);
    ck_assert(json_real_value(json_object_get(json_array_get(a, 0), "value")) == 0.1);
    json_decref(a);
    /* an empty table is an empty array */
    snprintf(path, sizeof path, "%s/k-json/coherence.json", fx_dir);
    a = json_load_file(path, 0, &je);
    ck_assert(a && json_is_array(a) && json_array_size(a) == 0);
    json_decref(a);
    /* a view */
    ck_assert_int_eq(fx_sh("%s export k.db --format json --table links_si -o -", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "\"bytes_per_s\":500000000.0"), "%s", fx_out);
}
END_TEST

/* ---- Errors ------------------------------------------------------------- */

START_TEST(export_refusals)
{
    write_known_run("k.db");
    /* the database itself is never an output, whatever its name */
    ck_assert_int_eq(fx_sh("mkdir o && cp k.db o/runs.csv && cp k.db keep.db"), 0);
    ck_assert_int_eq(fx_sh("%s export o/runs.csv --format csv --table runs -o o", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "refusing to overwrite"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("cmp o/runs.csv keep.db"), 0);
    /* nor a file that is not an export; an old export is replaced */
    ck_assert_int_eq(fx_sh("printf 'x\\000y' > o/kv.csv && printf 'old\\r\\n' > o/metrics.csv"),
                     0);
    ck_assert_int_eq(fx_sh("%s export k.db --format csv --table kv -o o", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s export k.db --format csv --table metrics -o o && head -c 12"
                           " o/metrics.csv", fx_bin), 0);
    ck_assert_msg(strstr(fx_out, "run_id,scope"), "%s", fx_out);
    /* a failed write is an error (exit 1), not a truncated success */
    ck_assert_int_eq(fx_sh("%s export k.db --format csv --table runs -o - > /dev/full", fx_bin),
                     1);
    /* usage */
    ck_assert_int_eq(fx_sh("%s export k.db --format csv --table link_si", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "did you mean 'links_si'?"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s export k.db --format xml", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s export k.db", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s export k.db --format csv -o -", fx_bin), 2);
    ck_assert_int_eq(fx_sh("echo hello > t.txt && %s export t.txt --format csv", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "not a memfab results database"), "%s", fx_out);
}
END_TEST

/* The README's pandas snippet runs as printed (python3 with pandas only). */
START_TEST(readme_pandas_snippet)
{
    const char *py = getenv("MEMFAB_PYTHON") ? getenv("MEMFAB_PYTHON") : "python3";
    if (fx_sh("%s -c 'import pandas' 2>/dev/null", py) != 0) {
        printf("readme_pandas_snippet: skipped: %s cannot import pandas (apt-get install"
               " python3-pandas, or MEMFAB_PYTHON=...)\n", py);
        return;
    }
    ck_assert_int_eq(fx_sh("awk '/<!-- pandas-snippet/{f=1;next} /<!-- end pandas-snippet/{f=0}"
                           " f' '%s/README.md' | sed '/^```/d' > snippet.py && grep -c pd."
                           " snippet.py", fx_src), 0);
    ck_assert_int_ge(atoi(fx_out), 4);
    ck_assert_msg(fx_sh("mkdir results && %s run '%s/scenarios/default.yaml' -q --set stop=50ms"
                        " -o results/default.db && %s export results/default.db --format csv"
                        " 2>/dev/null && %s snippet.py", fx_bin, fx_src, fx_bin, py) == 0,
                  "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "bytes_per_s") && strstr(fx_out, "latency_mean"), "%s",
                  fx_out);
}
END_TEST

static Suite *export_suite(void)
{
    Suite *s = suite_create("export");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, fx_teardown);
    tcase_set_timeout(core, 120);
    tcase_add_test(core, si_views_exact);
    tcase_add_test(core, timeseries_units);
    tcase_add_test(core, params_with_defaults);
    tcase_add_test(core, compare_ignores_defaults);
    tcase_add_test(core, export_csv_rfc4180);
    tcase_add_test(core, export_json_types);
    tcase_add_test(core, readme_pandas_snippet);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("Errors");
    tcase_add_checked_fixture(errors, setup, fx_teardown);
    tcase_add_test(errors, export_refusals);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return check_main(export_suite());
}
