/*
 * check_e2e.c - end-to-end tests of the memfab command: run scenarios, then
 * query the results database.
 *
 * Needs MEMFAB_BIN (the binary) and MEMFAB_SRC (the repository root) in the
 * environment; `make test` sets both.
 */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tests/check_main.h"

static char tmpdir[256];
static const char *bin, *src;

static void setup(void)
{
    bin = getenv("MEMFAB_BIN");
    src = getenv("MEMFAB_SRC");
    ck_assert_msg(bin && src, "MEMFAB_BIN and MEMFAB_SRC must be set (run through make test)");
    snprintf(tmpdir, sizeof tmpdir, "%s/memfab-e2e-XXXXXX", test_tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Run a shell command, capture stderr+stdout into out; return the exit status. */
static int sh(char *out, size_t outlen, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = 0;
    if (out && outlen) {
        out[0] = '\0';
        n = fread(out, 1, outlen - 1, p);
        out[n] = '\0';
    }
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0)
        ;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Every row of a query, concatenated as text. */
static char *dump(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    buf[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);
            size_t need = n + (t ? strlen(t) : 4) + 3;
            if (need > cap) {
                cap = 2 * need;
                buf = realloc(buf, cap);
            }
            n += (size_t)sprintf(buf + n, "%s%c", t ? t : "NULL", i + 1 < sqlite3_column_count(st) ? '|' : '\n');
        }
    }
    sqlite3_finalize(st);
    return buf;
}

static long long count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

START_TEST(default_scenario_meets_contract)
{
    char out[8192], db[512];
    snprintf(db, sizeof db, "%s/d.db", tmpdir);
    int rc = sh(out, sizeof out, "%s run %s/scenarios/default.yaml -o %s", bin, src, db);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, db));
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(count(h, "SELECT count(*) FROM runs WHERE status='complete'"), 1);
    /* Contract v1: every table and column exists. */
    static const char *contract[] = {
        "runs(run_id,name,scenario_sha256,seed,version,started_at,wall_s,sim_time_ps,events,status)",
        "params(run_id,key,value)", "metrics(run_id,scope,name,value,unit)",
        "links(run_id,link,direction,bytes,packets,busy_ps,utilization)",
        "timeseries(run_id,scope,name,t_ps,value)",
        "requests(run_id,req_id,session,instance,arrival_ps,first_token_ps,finish_ps,"
        "input_tokens,output_tokens,cached_tokens)",
        "kv(run_id,instance,tier,hits,misses,evictions,bytes_in,bytes_out)",
        "coherence(run_id,directory,message,count)"};
    for (size_t i = 0; i < sizeof contract / sizeof contract[0]; i++) {
        char table[64], cols[512];
        ck_assert_int_eq(sscanf(contract[i], "%63[^(](%511[^)])", table, cols), 2);
        for (char *c = strtok(cols, ","); c; c = strtok(NULL, ",")) {
            char q[256];
            snprintf(q, sizeof q, "SELECT count(*) FROM pragma_table_info('%s') WHERE name='%s'",
                     table, c);
            ck_assert_msg(count(h, q) == 1, "contract column %s.%s missing", table, c);
        }
    }
    ck_assert_int_eq(count(h, "SELECT count(*) FROM links"), 6);
    ck_assert_int_gt(count(h, "SELECT count(*) FROM timeseries"), 100);
    ck_assert_int_gt(count(h, "SELECT count(*) FROM metrics WHERE name LIKE 'wait:%_p99'"), 0);
    ck_assert_int_eq(count(h, "SELECT count(*) FROM params WHERE key='seed' AND value='42'"), 1);
    ck_assert_int_eq(count(h, "SELECT sim_time_ps FROM runs"), 1000000000000LL);
    ck_assert_int_gt(count(h, "SELECT events FROM runs"), 100000);
    sqlite3_close(h);
}
END_TEST

/* Runs 1 and 2 of h give the same rows for each query (a format with one
 * %d, the run id), each query giving at least min_chars of them. */
static void same_rows(sqlite3 *h, const char *const *tables, size_t n, size_t min_chars)
{
    for (size_t i = 0; i < n; i++) {
        char q1[512], q2[512];
        snprintf(q1, sizeof q1, tables[i], 1);
        snprintf(q2, sizeof q2, tables[i], 2);
        char *a = dump(h, q1), *b = dump(h, q2);
        ck_assert_msg(strlen(a) >= min_chars, "too few rows: %s", tables[i]);
        ck_assert_msg(strcmp(a, b) == 0, "runs 1 and 2 differ in: %s", tables[i]);
        free(a);
        free(b);
    }
}

START_TEST(same_seed_same_rows)
{
    char out[8192], db[512];
    snprintf(db, sizeof db, "%s/twice.db", tmpdir);
    for (int i = 0; i < 2; i++) {
        int rc = sh(out, sizeof out, "%s run -q %s/scenarios/default.yaml -o %s --set stop=200ms",
                    bin, src, db);
        ck_assert_msg(rc == 0, "%s", out);
    }
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(count(h, "SELECT count(*) FROM runs"), 2);
    static const char *tables[] = {
        "SELECT name,scenario_sha256,seed,version,sim_time_ps,events,status FROM runs WHERE run_id=%d",
        "SELECT key,value FROM params WHERE run_id=%d ORDER BY rowid",
        "SELECT scope,name,value,unit FROM metrics WHERE run_id=%d ORDER BY rowid",
        "SELECT link,direction,bytes,packets,busy_ps,utilization FROM links WHERE run_id=%d ORDER BY rowid",
        "SELECT scope,name,t_ps,value FROM timeseries WHERE run_id=%d ORDER BY rowid",
        "SELECT * FROM requests WHERE run_id=%d ORDER BY rowid",
        "SELECT instance,tier,hits,misses,evictions,bytes_in,bytes_out FROM kv WHERE run_id=%d ORDER BY rowid",
        "SELECT directory,message,count FROM coherence WHERE run_id=%d ORDER BY rowid"};
    same_rows(h, tables, sizeof tables / sizeof tables[0], 0);
    /* A different seed gives different results. */
    int rc = sh(out, sizeof out, "%s run -q %s/scenarios/default.yaml -o %s --set stop=200ms --seed 7",
                bin, src, db);
    ck_assert_int_eq(rc, 0);
    char *a = dump(h, "SELECT value FROM metrics WHERE run_id=1 ORDER BY rowid");
    char *b = dump(h, "SELECT value FROM metrics WHERE run_id=3 ORDER BY rowid");
    ck_assert_str_ne(a, b);
    free(a);
    free(b);
    sqlite3_close(h);
}
END_TEST

/* A plug-in router loaded with --plugin, as a user would: the example's
 * scoped_affinity (tests/plugins/example_policy.c) declares a scope (the
 * prefix holders and the least-loaded instance: plug-in interface version
 * 3) and has prefix_affinity's rule, so on scale.yaml (16 instances, 3,000
 * requests) every request row and every workload and instance metric must
 * equal the built-in prefix_affinity's, while memfab builds a few views a
 * request instead of 16. */
START_TEST(scoped_plugin_router_equals_builtin)
{
    const char *dir = getenv("MEMFAB_PLUGIN_DIR");
    if (!dir || !*dir) {
        printf("scoped_plugin_router_equals_builtin: MEMFAB_PLUGIN_DIR not set: skipped\n");
        return;
    }
    char out[8192], db[512];
    snprintf(db, sizeof db, "%s/scoped.db", tmpdir);
    const char *set = "--set workload.synthetic.requests=3000";
    int rc = sh(out, sizeof out, "%s run -q %s/scenarios/scale.yaml -o %s %s", bin, src, db, set);
    ck_assert_msg(rc == 0, "%s", out);
    rc = sh(out, sizeof out,
            "%s run -q %s/scenarios/scale.yaml -o %s %s --plugin %s/example_policy.so"
            " --set router.policy=scoped_affinity",
            bin, src, db, set, dir);
    ck_assert_msg(rc == 0, "%s", out);
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(count(h, "SELECT count(*) FROM requests WHERE run_id=2"), 3000);
    static const char *tables[] = {
        "SELECT req_id,session,instance,arrival_ps,first_token_ps,finish_ps,input_tokens,"
        "output_tokens,cached_tokens FROM requests WHERE run_id=%d ORDER BY rowid",
        "SELECT scope,name,value,unit FROM metrics WHERE run_id=%d AND (scope='workload' OR"
        " scope GLOB 'inst*') AND name NOT GLOB 'router_*' ORDER BY rowid",
        "SELECT instance,tier,hits,misses,evictions,bytes_in,bytes_out FROM kv WHERE run_id=%d"
        " ORDER BY rowid"};
    same_rows(h, tables, sizeof tables / sizeof tables[0], 100);
    sqlite3_close(h);
}
END_TEST

/* The value of one metric of run 1, a real. */
static double metric(sqlite3 *db, const char *scope, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT value FROM metrics WHERE run_id=1 AND scope='%s' AND name='%s'", scope, name);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "no metric %s/%s", scope, name);
    double v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* `memfab bench replay` simulates what `memfab run` does (results
 * discarded) and prints the run's percentiles under its line, which is how
 * make bench compares target 1's fluid and chunk runs in results: on
 * scale.yaml (500 requests) its events, requests and TTFT / TPOT p50 and
 * p99 must be the database's, to the digits it prints. */
START_TEST(bench_replay_prints_the_runs_figures)
{
    char out[8192], db[512], want[256];
    snprintf(db, sizeof db, "%s/bench.db", tmpdir);
    const char *set = "--set workload.synthetic.requests=500";
    int rc = sh(out, sizeof out, "%s run -q %s/scenarios/scale.yaml -o %s %s", bin, src, db, set);
    ck_assert_msg(rc == 0, "%s", out);
    rc = sh(out, sizeof out, "%s bench replay --scenario %s/scenarios/scale.yaml %s", bin, src, set);
    ck_assert_msg(rc == 0, "%s", out);
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    snprintf(want, sizeof want, " %12.0f ", metric(h, "run", "events"));
    ck_assert_msg(strstr(out, want), "events '%s' not in:\n%s", want, out);
    snprintf(want, sizeof want, " %10.0f ", metric(h, "workload", "completed"));
    ck_assert_msg(strstr(out, want), "requests '%s' not in:\n%s", want, out);
    snprintf(want, sizeof want, "ttft p50 / p99 %.4f / %.4f s  tpot p50 / p99 %.3f / %.3f ms",
             metric(h, "workload", "ttft_p50"), metric(h, "workload", "ttft_p99"),
             1e3 * metric(h, "workload", "tpot_p50"), 1e3 * metric(h, "workload", "tpot_p99"));
    ck_assert_msg(strstr(out, want), "'%s' not in:\n%s", want, out);
    sqlite3_close(h);
}
END_TEST

/* Run `memfab run SCENARIO --set SET -o DB -q` in a child; its exit status,
 * and its peak resident set in *maxrss_kb (getrusage of that child). */
static int run_child(const char *scenario, const char *set, const char *db, long *maxrss_kb)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execl(bin, "memfab", "run", "-q", scenario, "--set", set, "-o", db, (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    ck_assert_int_eq(wait4(pid, &st, 0, &ru), pid);
    *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* KV memory is proportional to the blocks cached, not to the capacity
 * (issue 18): a 1000 TiB DRAM tier (500 M blocks of 2 MiB; the tables
 * sized from the capacity took 2.1 GB, at 2^30 blocks' worth the kernel
 * killed the run) runs in the RSS of the scenario's 256 GiB tier (131,072
 * blocks, which the old store could preallocate) and gives the same
 * results: the tier never fills, so its size cannot matter. */
START_TEST(huge_kv_tier_bounded_rss)
{
    char scn[512], db[512];
    snprintf(scn, sizeof scn, "%s/scenarios/multi-agent.yaml", src);
    snprintf(db, sizeof db, "%s/huge.db", tmpdir);
    long small_kb, huge_kb;
    ck_assert_int_eq(run_child(scn, "kv.tiers.dram.capacity=256 GiB", db, &small_kb), 0);
    ck_assert_int_eq(run_child(scn, "kv.tiers.dram.capacity=1000 TiB", db, &huge_kb), 0);
    fprintf(stderr,
            "huge_kv_tier_bounded_rss: peak RSS 256 GiB tier %ld KiB, 1000 TiB tier %ld KiB\n",
            small_kb, huge_kb);
    /* Generous bounds (sanitizer builds carry their own overhead), far
     * below the 2.1 GB the capacity-sized tables took. */
    ck_assert_msg(huge_kb < small_kb + 64 * 1024 && huge_kb < 1024 * 1024,
                  "1000 TiB tier: peak RSS %ld KiB (256 GiB tier: %ld KiB)", huge_kb, small_kb);
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(count(h, "SELECT count(*) FROM runs WHERE status='complete'"), 2);
    static const char *tables[] = {
        "SELECT name,seed,sim_time_ps,events,status FROM runs WHERE run_id=%d",
        "SELECT scope,name,value,unit FROM metrics WHERE run_id=%d ORDER BY rowid",
        "SELECT link,direction,bytes,packets,busy_ps,utilization FROM links WHERE run_id=%d ORDER BY rowid",
        "SELECT scope,name,t_ps,value FROM timeseries WHERE run_id=%d ORDER BY rowid",
        "SELECT req_id,session,instance,arrival_ps,first_token_ps,finish_ps,input_tokens,"
        "output_tokens,cached_tokens,prefill_instance,kv_bytes,kv_wait_ps,kv_transfer_ps"
        " FROM requests WHERE run_id=%d ORDER BY rowid",
        "SELECT instance,tier,hits,misses,evictions,bytes_in,bytes_out FROM kv WHERE run_id=%d ORDER BY rowid"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char q1[512], q2[512];
        snprintf(q1, sizeof q1, tables[i], 1);
        snprintf(q2, sizeof q2, tables[i], 2);
        char *a = dump(h, q1), *b = dump(h, q2);
        ck_assert_msg(strcmp(a, b) == 0, "256 GiB and 1000 TiB tiers differ in: %s", tables[i]);
        free(a);
        free(b);
    }
    ck_assert_int_gt(count(h, "SELECT count(*) FROM requests WHERE run_id=2"), 0);
    sqlite3_close(h);
}
END_TEST

/* Broken scenarios: exit 2 and a file:line:col error. */
static const struct broken {
    const char *yaml;
    const char *expect; /* substring of the error, including the position */
} broken[] = {
    {"name: x\ncomponents: [\n  {name: a, type: sink\n", "bad.yaml:"},
    {"name: x\ncomponents:\n  - {name: a, type: sink}\n  - {name: b, type: source, interarival: 1 us}\n",
     "bad.yaml:4:"},
    {"name: x\ncomponents:\n  - {name: a, type: source, interarrival: 3 parsecs}\n", "bad.yaml:3:"},
    {"name: x\ninclude: missing-part.yaml\n", "bad.yaml:2:"},
    {"name: x\ncomponents:\n  - {name: a, type: sourse}\n", "did you mean 'source'"},
    {"name: x\nstop: 10\n", "bad.yaml:2:"},
};

START_TEST(broken_scenario_exit_2)
{
    char out[8192], path[512];
    snprintf(path, sizeof path, "%s/bad.yaml", tmpdir);
    write_file(path, broken[_i].yaml);
    int rc = sh(out, sizeof out, "%s check %s", bin, path);
    ck_assert_msg(rc == 2, "exit %d for case %d: %s", rc, _i, out);
    ck_assert_msg(strstr(out, broken[_i].expect), "case %d: expected '%s' in: %s", _i,
                  broken[_i].expect, out);
    ck_assert_ptr_nonnull(strstr(out, "error:"));
    rc = sh(out, sizeof out, "%s run -q %s -o %s/never.db", bin, path, tmpdir);
    ck_assert_int_eq(rc, 2);
    char db[512];
    snprintf(db, sizeof db, "%s/never.db", tmpdir);
    ck_assert_int_ne(access(db, F_OK), 0);
}
END_TEST

START_TEST(unknown_key_suggests)
{
    char out[8192], path[512];
    snprintf(path, sizeof path, "%s/bad.yaml", tmpdir);
    write_file(path, broken[1].yaml);
    sh(out, sizeof out, "%s check %s", bin, path);
    ck_assert_ptr_nonnull(strstr(out, "interarival"));
    ck_assert_ptr_nonnull(strstr(out, "did you mean 'interarrival'"));
    ck_assert_ptr_nonnull(strstr(out, "^"));
}
END_TEST

START_TEST(foreign_file_refused_untouched)
{
    char out[8192], path[512];
    snprintf(path, sizeof path, "%s/notes.db", tmpdir);
    write_file(path, "my precious notes\n");
    int rc = sh(out, sizeof out, "%s run -q %s/scenarios/default.yaml -o %s", bin, src, path);
    ck_assert_int_eq(rc, 2);
    ck_assert_ptr_nonnull(strstr(out, "not a memfab"));
    FILE *f = fopen(path, "r");
    char buf[64] = {0};
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    fclose(f);
    ck_assert_str_eq(buf, "my precious notes\n");
}
END_TEST

START_TEST(sigint_marks_interrupted)
{
    char db[512], scen[512], out[4096];
    snprintf(db, sizeof db, "%s/int.db", tmpdir);
    snprintf(scen, sizeof scen, "%s/scenarios/default.yaml", src);
    /* First a complete run that must survive. */
    ck_assert_int_eq(sh(out, sizeof out, "%s run -q %s -o %s --set stop=50ms", bin, scen, db), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(bin, bin, "run", "-q", scen, "-o", db, "--set", "stop=100000 s", (char *)NULL);
        _exit(127);
    }
    usleep(1500000);
    kill(pid, SIGINT);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 1);
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(count(h, "SELECT count(*) FROM runs"), 2);
    ck_assert_int_eq(count(h, "SELECT count(*) FROM runs WHERE run_id=1 AND status='complete'"), 1);
    ck_assert_int_eq(count(h, "SELECT count(*) FROM runs WHERE run_id=2 AND status='interrupted'"), 1);
    ck_assert_int_gt(count(h, "SELECT count(*) FROM links WHERE run_id=2"), 0);
    ck_assert_int_gt(count(h, "SELECT count(*) FROM metrics WHERE run_id=1"), 0);
    sqlite3_close(h);
}
END_TEST

START_TEST(help_everywhere)
{
    char out[8192];
    static const char *cmds[] = {"", "run", "check", "models", "bench", "trace"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int rc = sh(out, sizeof out, "%s %s --help", bin, cmds[i]);
        ck_assert_msg(rc == 0, "memfab %s --help: exit %d", cmds[i], rc);
        ck_assert_msg(strstr(out, "usage:"), "memfab %s --help: %s", cmds[i], out);
    }
    ck_assert_int_eq(sh(out, sizeof out, "%s models", bin), 0);
    ck_assert_ptr_nonnull(strstr(out, "bandwidth"));
    ck_assert_int_eq(sh(out, sizeof out, "%s frobnicate", bin), 2);
}
END_TEST


START_TEST(trace_stats_and_errors)
{
    char out[8192], path[512];
    snprintf(path, sizeof path, "%s/t.trace", tmpdir);
    write_file(path, "# memfab-trace v1 block_tokens=16\n0 0 1 32 4 7 8\n1 1000000 1 48 2 7 8 9\n");
    ck_assert_int_eq(sh(out, sizeof out, "%s trace stats %s", bin, path), 0);
    ck_assert_ptr_nonnull(strstr(out, "requests: 2"));
    ck_assert_ptr_nonnull(strstr(out, "unique_blocks: 3"));
    ck_assert_ptr_nonnull(strstr(out, "prefix_reuse_blocks: 0.400000")); /* 2 of 5 seen before */
    write_file(path, "# memfab-trace v1 block_tokens=16\n0 0 1 32 4 7 8\n1 x 1 48 2 7 8 9\n");
    ck_assert_int_eq(sh(out, sizeof out, "%s trace stats %s", bin, path), 2);
    ck_assert_ptr_nonnull(strstr(out, "t.trace:3:"));
    /* A scenario whose trace is missing names the file and where to get it. */
    snprintf(path, sizeof path, "%s/s.yaml", tmpdir);
    write_file(path, "name: s\nworkload:\n  trace: mooncake-fast25/nope.jsonl\n  format: mooncake\n"
                     "  instances: {count: 1, model: llama3-8b, gpu: h100}\n");
    ck_assert_int_eq(sh(out, sizeof out, "MEMFAB_TRACE_PATH= %s check %s", bin, path), 2);
    ck_assert_ptr_nonnull(strstr(out, "nope.jsonl"));
    ck_assert_ptr_nonnull(strstr(out, "github.com/kvcache-ai/Mooncake"));
}
END_TEST

START_TEST(install_puts_binary_and_header)
{
    char out[8192];
    int rc = sh(out, sizeof out, "make -s -C %s install DESTDIR=%s/root PREFIX=/usr 2>&1", src, tmpdir);
    ck_assert_msg(rc == 0, "%s", out);
    char p[512];
    snprintf(p, sizeof p, "%s/root/usr/bin/memfab", tmpdir);
    ck_assert_int_eq(access(p, X_OK), 0);
    snprintf(p, sizeof p, "%s/root/usr/include/memfab/plugin.h", tmpdir);
    ck_assert_int_eq(access(p, R_OK), 0);
}
END_TEST


START_TEST(bad_trace_line_fails_run)
{
    /* A malformed record in the middle of a replay ends the run as
     * 'failed' (exit 2), with the file and line, and keeps the rows. */
    char out[8192], tr[512], sc[512], db[512];
    snprintf(tr, sizeof tr, "%s/t.trace", tmpdir);
    snprintf(sc, sizeof sc, "%s/s.yaml", tmpdir);
    snprintf(db, sizeof db, "%s/s.db", tmpdir);
    write_file(tr, "# memfab-trace v1 block_tokens=16\n0 0 1 32 4 7 8\n1 1000000 1 48 2 7 8 9\n"
                   "2 2000000 1 x 2\n3 3000000 1 48 2\n");
    write_file(sc, "name: s\nworkload:\n  trace: t.trace\n  format: native\n"
                   "  instances: {count: 1, model: llama3-8b, gpu: h100}\n");
    int rc = sh(out, sizeof out, "%s run -q %s -o %s", bin, sc, db);
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "t.trace:4:"));
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(count(h, "SELECT count(*) FROM runs WHERE status='failed' AND error LIKE '%t.trace:4:%'"), 1);
    sqlite3_close(h);
}
END_TEST


START_TEST(fabric_section_equals_component)
{
    /* The top-level `fabric:` section configures the same fabric as a
     * `{type: fabric}` component; an unknown key in it is an error. */
    char out[8192], sc[512], db1[512], db2[512];
    snprintf(sc, sizeof sc, "%s/g.yaml", tmpdir);
    snprintf(db1, sizeof db1, "%s/g1.db", tmpdir);
    snprintf(db2, sizeof db2, "%s/g2.db", tmpdir);
    ck_assert_int_eq(sh(out, sizeof out, "%s run -q %s/scenarios/gds-vs-bounce.yaml -o %s", bin, src, db1), 0);
    ck_assert_int_eq(sh(out, sizeof out,
                        "sed '/type: fabric,/d' %s/scenarios/gds-vs-bounce.yaml > %s &&"
                        " echo 'fabric: {chunk: 1 MiB, window: 8 MiB}' >> %s",
                        src, sc, sc), 0);
    ck_assert_int_eq(sh(out, sizeof out, "%s run -q %s -o %s", bin, sc, db2), 0);
    sqlite3 *h1, *h2;
    ck_assert_int_eq(sqlite3_open(db1, &h1), SQLITE_OK);
    ck_assert_int_eq(sqlite3_open(db2, &h2), SQLITE_OK);
    const char *q = "SELECT scope,name,value FROM metrics WHERE scope='fabric' ORDER BY name";
    char *a = dump(h1, q), *b = dump(h2, q);
    ck_assert_msg(strlen(a) > 100, "no fabric metrics: %s", a);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    sqlite3_close(h1);
    sqlite3_close(h2);
    ck_assert_int_eq(sh(out, sizeof out, "sed -i 's/chunk:/chunck:/' %s && %s check %s", sc, bin, sc), 2);
    ck_assert_ptr_nonnull(strstr(out, "did you mean 'chunk'"));
}
END_TEST

static Suite *e2e_suite(void)
{
    Suite *s = suite_create("e2e");
    TCase *core = tcase_create("Core");
    tcase_set_timeout(core, 120);
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_test(core, default_scenario_meets_contract);
    tcase_add_test(core, same_seed_same_rows);
    tcase_add_test(core, sigint_marks_interrupted);
    tcase_add_test(core, help_everywhere);
    tcase_add_test(core, trace_stats_and_errors);
    tcase_add_test(core, install_puts_binary_and_header);
    tcase_add_test(core, fabric_section_equals_component);
    tcase_add_test(core, huge_kv_tier_bounded_rss);
    tcase_add_test(core, scoped_plugin_router_equals_builtin);
    tcase_add_test(core, bench_replay_prints_the_runs_figures);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("Errors");
    tcase_set_timeout(errors, 60);
    tcase_add_checked_fixture(errors, setup, teardown);
    tcase_add_loop_test(errors, broken_scenario_exit_2, 0, sizeof broken / sizeof broken[0]);
    tcase_add_test(errors, unknown_key_suggests);
    tcase_add_test(errors, foreign_file_refused_untouched);
    tcase_add_test(errors, bad_trace_line_fails_run);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return check_main(e2e_suite());
}
