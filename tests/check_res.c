/*
 * check_res.c - the results store (results/res.c) against the results
 * contract, version 1 (DESIGN.md): every table round-trips, runs append,
 * unfinished runs stay 'running', foreign files are refused untouched,
 * batches commit every RES_BATCH_ROWS rows, and res_merge copies runs
 * (from the database or from its record file, with the same result).
 *
 * Databases are temporary files under /tmp, removed by the fixture.
 */
#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results/res.h"
#include "sim/err.h"
#include "tests/check_main.h"

/* The contract, written out independently of res.c (DESIGN.md). */
static const struct {
    const char *table;
    const char *cols[11];
} contract[] = {
    {"runs", {"run_id", "name", "scenario_sha256", "seed", "version", "started_at", "wall_s",
              "sim_time_ps", "events", "status"}},
    {"params", {"run_id", "key", "value"}},
    {"metrics", {"run_id", "scope", "name", "value", "unit"}},
    {"links", {"run_id", "link", "direction", "bytes", "packets", "busy_ps", "utilization"}},
    {"timeseries", {"run_id", "scope", "name", "t_ps", "value"}},
    {"requests", {"run_id", "req_id", "session", "instance", "arrival_ps", "first_token_ps",
                  "finish_ps", "input_tokens", "output_tokens", "cached_tokens"}},
    {"kv", {"run_id", "instance", "tier", "hits", "misses", "evictions", "bytes_in", "bytes_out"}},
    {"coherence", {"run_id", "directory", "message", "count"}},
};
#define N_CONTRACT (sizeof contract / sizeof contract[0])
static const char *const row_tables[] = {"params", "metrics", "links", "timeseries",
                                         "requests", "kv", "coherence"};
#define N_ROW_TABLES (sizeof row_tables / sizeof row_tables[0])

/* ---- fixture and helpers ---------------------------------------------- */

static char path_a[256], path_b[256];

static void remove_db(const char *p)
{
    char j[300];
    unlink(p);
    snprintf(j, sizeof j, "%s-journal", p);
    unlink(j);
    snprintf(j, sizeof j, "%s-wal", p);
    unlink(j);
    snprintf(j, sizeof j, "%s-shm", p);
    unlink(j);
}

static void setup(void)
{
    static int n;
    snprintf(path_a, sizeof path_a, "%s/check_res.%ld.%d.a.db", test_tmpdir(), (long)getpid(), n);
    snprintf(path_b, sizeof path_b, "%s/check_res.%ld.%d.b.db", test_tmpdir(), (long)getpid(),
             n++);
    remove_db(path_a);
    remove_db(path_b);
}

static void teardown(void)
{
    remove_db(path_a);
    remove_db(path_b);
}

/* A raw connection, independent of res.c. */
static sqlite3 *raw_open(const char *p)
{
    sqlite3 *h = NULL;
    ck_assert_int_eq(sqlite3_open(p, &h), SQLITE_OK);
    return h;
}

static int64_t q_int(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(h));
    ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int q_null(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_type(st, 0) == SQLITE_NULL;
    sqlite3_finalize(st);
    return v;
}

static double q_dbl(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    double v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Copy a one-value text query into a static buffer. */
static const char *q_text(sqlite3 *h, const char *sql)
{
    static char buf[512];
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, sizeof buf, "%s", t ? (const char *)t : "(null)");
    sqlite3_finalize(st);
    return buf;
}

static void raw_exec(sqlite3 *h, const char *sql)
{
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(h, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql,
                  msg ? msg : "?");
}

/* The whole file, malloc'd; *n its size. */
static unsigned char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* One run with `k` rows in every table (k >= 1), ended with `status`. */
static int64_t write_run(res_db *db, const char *name, int k, const char *status)
{
    sim_err err;
    int64_t id = res_run_begin(db, name, "00ff", 7, "test", &err);
    ck_assert_msg(id > 0, "%s", err.msg);
    for (int i = 0; i < k; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        ck_assert_int_eq(res_param(db, key, name), 0);
        ck_assert_int_eq(res_metric(db, "run", key, i, "s"), 0);
        ck_assert_int_eq(res_link(db, "pcie0", "up", 100u * i, i, 10u * i, 0.5), 0);
        ck_assert_int_eq(res_timeseries(db, "gpu0", "util", 1000u * i, 0.25 * i), 0);
        ck_assert_int_eq(res_request(db, i, "s", "gpu0", 10, 20, 30, 5, 3, 1), 0);
        ck_assert_int_eq(res_kv(db, "gpu0", "hbm", i, 1, 0, 64, 32), 0);
        ck_assert_int_eq(res_coherence(db, "dir0", "GetS", i), 0);
    }
    if (status)
        ck_assert_int_eq(res_run_end(db, status, 0.5, 1000000, 42, &err), 0);
    return id;
}

static int64_t count_rows(sqlite3 *h, const char *table, int64_t run_id)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run_id = %lld", table,
             (long long)run_id);
    return q_int(h, sql);
}

/* ---- Core ------------------------------------------------------------- */

START_TEST(test_roundtrip)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    int64_t id = res_run_begin(db, "rt", "abcdef0123", 42, "v1.2", &err);
    ck_assert_int_eq(id, 1);
    ck_assert_int_eq(res_current_run(db), 1);
    ck_assert_int_eq(res_param(db, "gpu0.hbm", "141 GiB"), 0);
    ck_assert_int_eq(res_param(db, "seed", "1"), 0);
    ck_assert_int_eq(res_param(db, "seed", "42"), 0); /* an override: last wins */
    ck_assert_int_eq(res_metric(db, "gpu0", "busy", 0.75, "ratio"), 0);
    ck_assert_int_eq(res_link(db, "pcie0", "down", 4096, 17, 123456, 0.125), 0);
    ck_assert_int_eq(res_timeseries(db, "dram", "bw", 10000000000ull, 1.5e9), 0);
    ck_assert_int_eq(res_request(db, 9, "sess", "gpu1", 1000, 5000, 105000, 512, 11, 256), 0);
    ck_assert_int_eq(res_request(db, 10, NULL, NULL, 2000, RES_NO_TIME, RES_NO_TIME, 8, 0, 0), 0);
    ck_assert_int_eq(res_kv(db, "gpu1", "dram", 10, 3, 2, 1 << 20, 1 << 19), 0);
    ck_assert_int_eq(res_coherence(db, "dir0", "Inv", 99), 0);
    ck_assert_int_eq(res_run_error(db, "nothing wrong"), 0);
    ck_assert_int_eq(res_run_end(db, "complete", 1.25, 987654321, 31337, &err), 0);
    ck_assert_int_eq(res_current_run(db), 0);
    res_close(db);

    db = res_open_readonly(path_a, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    sqlite3 *h = res_handle(db);
    ck_assert_str_eq(q_text(h, "SELECT name || '|' || scenario_sha256 || '|' || seed || '|' ||"
                               " version || '|' || status || '|' || error FROM runs"),
                     "rt|abcdef0123|42|v1.2|complete|nothing wrong");
    ck_assert_double_eq(q_dbl(h, "SELECT wall_s FROM runs"), 1.25);
    ck_assert_int_eq(q_int(h, "SELECT sim_time_ps FROM runs"), 987654321);
    ck_assert_int_eq(q_int(h, "SELECT events FROM runs"), 31337);
    /* started_at: UTC ISO-8601, e.g. 2026-01-31T12:00:00.000Z */
    const char *t = q_text(h, "SELECT started_at FROM runs");
    ck_assert_int_eq(strlen(t), 24);
    ck_assert(t[4] == '-' && t[10] == 'T' && t[13] == ':' && t[23] == 'Z');
    ck_assert_int_eq(q_int(h, "SELECT started_at = strftime('%Y-%m-%dT%H:%M:%fZ', started_at)"
                              " FROM runs"), 1);

    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM params"), 2);
    ck_assert_str_eq(q_text(h, "SELECT value FROM params WHERE key = 'seed'"), "42");
    ck_assert_str_eq(q_text(h, "SELECT value FROM params WHERE key = 'gpu0.hbm'"), "141 GiB");
    ck_assert_str_eq(q_text(h, "SELECT scope || '|' || name || '|' || unit FROM metrics"),
                     "gpu0|busy|ratio");
    ck_assert_double_eq(q_dbl(h, "SELECT value FROM metrics"), 0.75);
    ck_assert_str_eq(q_text(h, "SELECT link || '|' || direction || '|' || bytes || '|' || packets"
                               " || '|' || busy_ps FROM links"),
                     "pcie0|down|4096|17|123456");
    ck_assert_double_eq(q_dbl(h, "SELECT utilization FROM links"), 0.125);
    ck_assert_int_eq(q_int(h, "SELECT t_ps FROM timeseries"), 10000000000ll);
    ck_assert_double_eq(q_dbl(h, "SELECT value FROM timeseries"), 1.5e9);
    ck_assert_str_eq(q_text(h, "SELECT req_id || '|' || session || '|' || instance || '|' ||"
                               " arrival_ps || '|' || first_token_ps || '|' || finish_ps || '|' ||"
                               " input_tokens || '|' || output_tokens || '|' || cached_tokens"
                               " FROM requests WHERE req_id = 9"),
                     "9|sess|gpu1|1000|5000|105000|512|11|256");
    ck_assert(q_null(h, "SELECT session FROM requests WHERE req_id = 10"));
    ck_assert(q_null(h, "SELECT first_token_ps FROM requests WHERE req_id = 10"));
    ck_assert(q_null(h, "SELECT finish_ps FROM requests WHERE req_id = 10"));
    ck_assert_str_eq(q_text(h, "SELECT instance || '|' || tier || '|' || hits || '|' || misses ||"
                               " '|' || evictions || '|' || bytes_in || '|' || bytes_out FROM kv"),
                     "gpu1|dram|10|3|2|1048576|524288");
    ck_assert_str_eq(q_text(h, "SELECT directory || '|' || message || '|' || count FROM coherence"),
                     "dir0|Inv|99");

    /* The standard views. */
    ck_assert_str_eq(q_text(h, "SELECT ttft_ps || '|' || e2e_ps || '|' || tpot_ps"
                               " FROM request_latency WHERE req_id = 9"),
                     "4000|104000|10000");
    ck_assert(q_null(h, "SELECT ttft_ps FROM request_latency WHERE req_id = 10"));
    ck_assert(q_null(h, "SELECT tpot_ps FROM request_latency WHERE req_id = 10"));
    ck_assert_str_eq(q_text(h, "SELECT requests || '|' || finished || '|' || mean_ttft_ps ||"
                               " '|' || input_tokens || '|' || cached_tokens FROM run_summary"),
                     "2|1|4000|520|256");
    ck_assert_double_eq_tol(q_dbl(h, "SELECT hit_ratio FROM kv_hit_ratio"), 10.0 / 13, 1e-12);
    ck_assert_str_eq(q_text(h, "SELECT run_name FROM run_metrics"), "rt");
    res_close(db);
}
END_TEST

START_TEST(test_two_runs_append)
{
    sim_err err;
    for (int i = 0; i < 2; i++) {
        res_db *db = res_open(path_a, &err);
        ck_assert_msg(db != NULL, "%s", err.msg);
        ck_assert_int_eq(write_run(db, i ? "second" : "first", 3, "complete"), i + 1);
        res_close(db);
    }
    /* And two runs through one handle. */
    res_db *db = res_open(path_a, &err);
    ck_assert_int_eq(write_run(db, "third", 2, "interrupted"), 3);
    ck_assert_int_eq(write_run(db, "fourth", 1, "failed"), 4);
    res_close(db);

    sqlite3 *h = raw_open(path_a);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs"), 4);
    ck_assert_str_eq(q_text(h, "SELECT group_concat(name || ':' || status, ',') FROM"
                               " (SELECT * FROM runs ORDER BY run_id)"),
                     "first:complete,second:complete,third:interrupted,fourth:failed");
    for (size_t t = 0; t < N_ROW_TABLES; t++) {
        ck_assert_int_eq(count_rows(h, row_tables[t], 1), 3);
        ck_assert_int_eq(count_rows(h, row_tables[t], 2), 3);
        ck_assert_int_eq(count_rows(h, row_tables[t], 3), 2);
        ck_assert_int_eq(count_rows(h, row_tables[t], 4), 1);
    }
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM meta"), 2);
    sqlite3_close(h);
}
END_TEST

START_TEST(test_unfinished_stays_running)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    int64_t id = write_run(db, "never-ended", 5, NULL);
    ck_assert_int_eq(id, 1);
    res_close(db); /* commits the rows, does not end the run */

    db = res_open(path_a, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    sqlite3 *h = res_handle(db);
    ck_assert_str_eq(q_text(h, "SELECT status FROM runs WHERE run_id = 1"), "running");
    ck_assert(q_null(h, "SELECT wall_s FROM runs WHERE run_id = 1"));
    ck_assert_int_eq(count_rows(h, "metrics", 1), 5);
    ck_assert_int_eq(write_run(db, "next", 1, "complete"), 2);
    ck_assert_str_eq(q_text(h, "SELECT status FROM runs WHERE run_id = 1"), "running");
    ck_assert_str_eq(q_text(h, "SELECT status FROM runs WHERE run_id = 2"), "complete");
    res_close(db);
}
END_TEST

/* A process that dies mid-run leaves the runs row and the committed batches. */
START_TEST(test_crash_mid_run)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sim_err err;
        res_db *db = res_open(path_a, &err);
        if (!db || res_run_begin(db, "crash", NULL, 1, NULL, &err) != 1)
            _exit(2);
        for (int i = 0; i < RES_BATCH_ROWS + 5; i++)
            if (res_timeseries(db, "x", "y", (uint64_t)i, i) != 0)
                _exit(3);
        /* Die without res_run_end or res_close: SIGKILL, through a shell so
         * that valgrind (make valgrind) does not leak-check the victim. */
        execl("/bin/sh", "sh", "-c", "kill -9 $$", (char *)NULL);
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %#x", status);

    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    sqlite3 *h = res_handle(db);
    ck_assert_str_eq(q_text(h, "SELECT status FROM runs"), "running");
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM timeseries"), RES_BATCH_ROWS);
    ck_assert_str_eq(q_text(h, "PRAGMA integrity_check"), "ok");
    ck_assert_int_eq(write_run(db, "after", 1, "complete"), 2);
    res_close(db);
}
END_TEST

START_TEST(test_contract_columns)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    res_close(db);
    db = res_open(path_a, &err); /* and after re-applying the schema */
    ck_assert_msg(db != NULL, "%s", err.msg);
    sqlite3 *h = res_handle(db);
    for (size_t t = 0; t < N_CONTRACT; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", contract[t].table);
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
        char have[1024] = "";
        int ncols = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            strcat(have, ",");
            strcat(have, (const char *)sqlite3_column_text(st, 1));
            ncols++;
        }
        strcat(have, ",");
        sqlite3_finalize(st);
        ck_assert_msg(ncols > 0, "table %s missing", contract[t].table);
        for (int c = 0; c < 11 && contract[t].cols[c]; c++) {
            char want[64];
            snprintf(want, sizeof want, ",%s,", contract[t].cols[c]);
            ck_assert_msg(strstr(have, want), "table %s lacks column %s (has %s)",
                          contract[t].table, contract[t].cols[c], have);
        }
    }
    ck_assert_str_eq(q_text(h, "SELECT value FROM meta WHERE key = 'contract'"), "1");
    ck_assert_str_eq(q_text(h, "SELECT value FROM meta WHERE key = 'application'"), "memfab");
    /* WAL: readers and a writer work at once (issue 19). */
    ck_assert_str_eq(q_text(h, "PRAGMA journal_mode"), "wal");
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                              " AND sql LIKE '%run_id%'"), 6);
    res_close(db);
}
END_TEST

START_TEST(test_merge)
{
    sim_err err;
    /* src: runs 1 and 2; dst: run 1 already there. */
    res_db *src = res_open(path_a, &err);
    write_run(src, "s1", 2, "complete");
    write_run(src, "s2", 4, "failed");
    ck_assert_int_eq(res_run_begin(src, "s3", NULL, 1, NULL, &err), 3);
    ck_assert_int_eq(res_run_error(src, "boom"), 0);
    res_close(src); /* s3 stays running */
    size_t n0, n1;
    unsigned char *before = slurp(path_a, &n0);

    res_db *dst = res_open(path_b, &err);
    write_run(dst, "d1", 1, "complete");
    ck_assert_int_eq(res_merge(dst, path_a, &err), 3);
    sqlite3 *h = res_handle(dst);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs"), 4);
    ck_assert_str_eq(q_text(h, "SELECT group_concat(run_id || name || status || ifnull(error, ''),"
                               " ',') FROM (SELECT * FROM runs ORDER BY run_id)"),
                     "1d1complete,2s1complete,3s2failed,4s3runningboom");
    for (size_t t = 0; t < N_ROW_TABLES; t++) {
        ck_assert_int_eq(count_rows(h, row_tables[t], 1), 1);
        ck_assert_int_eq(count_rows(h, row_tables[t], 2), 2);
        ck_assert_int_eq(count_rows(h, row_tables[t], 3), 4);
        ck_assert_int_eq(count_rows(h, row_tables[t], 4), 0);
    }
    ck_assert_str_eq(q_text(h, "SELECT value FROM params WHERE run_id = 3 AND key = 'k3'"), "s2");
    ck_assert_int_eq(q_int(h, "SELECT sum(busy_ps) FROM links WHERE run_id = 3"), 60);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs WHERE run_id = 3 AND seed = 7 AND"
                              " events = 42 AND sim_time_ps = 1000000 AND wall_s = 0.5"), 1);
    /* A second merge appends the same runs again, with new ids. */
    ck_assert_int_eq(res_merge(dst, path_a, &err), 3);
    ck_assert_int_eq(q_int(h, "SELECT max(run_id) FROM runs"), 7);
    ck_assert_int_eq(count_rows(h, "timeseries", 6), 4);
    /* dst keeps working. */
    ck_assert_int_eq(write_run(dst, "d2", 1, "complete"), 8);
    /* The source is detached again: main and the staging temp remain. */
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM pragma_database_list WHERE name NOT IN"
                              " ('main', 'temp')"), 0);
    res_close(dst);

    unsigned char *after = slurp(path_a, &n1);
    ck_assert_int_eq(n0, n1);
    ck_assert(memcmp(before, after, n0) == 0);
    free(before);
    free(after);
}
END_TEST

/* ---- Limits ----------------------------------------------------------- */

START_TEST(test_batching)
{
    sim_err err;
    const int total = 2 * RES_BATCH_ROWS + 3;
    res_db *db = res_open(path_a, &err);
    ck_assert_int_eq(res_run_begin(db, "big", NULL, 0, NULL, &err), 1);
    sqlite3 *peek = raw_open(path_a); /* another reader sees only commits */
    ck_assert_str_eq(q_text(peek, "SELECT status FROM runs"), "running");
    for (int i = 0; i < total; i++) {
        ck_assert_int_eq(res_timeseries(db, "q", "len", (uint64_t)i * 1000, i), 0);
        if (i == RES_BATCH_ROWS - 2 || i == RES_BATCH_ROWS + 1 || i == 2 * RES_BATCH_ROWS + 1) {
            int64_t seen = q_int(peek, "SELECT count(*) FROM timeseries");
            ck_assert_int_eq(seen, (i + 1) / RES_BATCH_ROWS * RES_BATCH_ROWS);
        }
    }
    ck_assert_int_eq(res_flush(db), 0);
    ck_assert_int_eq(q_int(peek, "SELECT count(*) FROM timeseries"), total);
    ck_assert_int_eq(res_flush(db), 0); /* nothing pending: a no-op */
    ck_assert_int_eq(res_run_end(db, "complete", 2.0, 1, total, &err), 0);
    ck_assert_int_eq(q_int(peek, "SELECT sum(t_ps) FROM timeseries"),
                     (int64_t)total * (total - 1) / 2 * 1000);
    sqlite3_close(peek);
    res_close(db);
}
END_TEST

START_TEST(test_extreme_values)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_int_eq(res_run_begin(db, "", NULL, UINT64_MAX, NULL, &err), 1);
    ck_assert_int_eq(res_link(db, "l", "up", INT64_MAX, 0, 0, 0.0), 0);
    ck_assert_int_eq(res_request(db, 0, "", "", 0, 0, 0, 0, 0, 0), 0);
    ck_assert_int_eq(res_metric(db, "run", "big", 1e300, NULL), 0);
    ck_assert_int_eq(res_param(db, "quote", "it's \"quoted\"; DROP TABLE runs"), 0);
    ck_assert_int_eq(res_run_end(db, "complete", 0, UINT64_MAX / 2, 0, &err), 0);
    sqlite3 *h = res_handle(db);
    ck_assert_uint_eq((uint64_t)q_int(h, "SELECT seed FROM runs"), UINT64_MAX);
    ck_assert_int_eq(q_int(h, "SELECT bytes FROM links"), INT64_MAX);
    ck_assert_int_eq(q_int(h, "SELECT sim_time_ps FROM runs"), INT64_MAX);
    ck_assert_int_eq(q_int(h, "SELECT e2e_ps FROM request_latency"), 0);
    ck_assert(q_null(h, "SELECT tpot_ps FROM request_latency"));
    ck_assert(q_null(h, "SELECT unit FROM metrics"));
    ck_assert_str_eq(q_text(h, "SELECT value FROM params"), "it's \"quoted\"; DROP TABLE runs");
    res_close(db);
}
END_TEST

START_TEST(test_empty_file_accepted)
{
    FILE *f = fopen(path_a, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    ck_assert_int_eq(write_run(db, "e", 1, "complete"), 1);
    res_close(db);
    /* An empty SQLite database (a schema-less file SQLite made) too. */
    sqlite3 *h = raw_open(path_b);
    raw_exec(h, "PRAGMA user_version = 0; CREATE TABLE t(x); DROP TABLE t; VACUUM");
    sqlite3_close(h);
    db = res_open(path_b, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    res_close(db);
    /* Read-only refuses an empty file: there is nothing to read. */
    f = fopen(path_a, "w");
    fclose(f);
    ck_assert_ptr_null(res_open_readonly(path_a, &err));
    ck_assert_int_eq(err.code, SIM_EFORMAT);
}
END_TEST

START_TEST(test_merge_no_runs)
{
    sim_err err;
    res_db *src = res_open(path_a, &err);
    res_close(src);
    res_db *dst = res_open(path_b, &err);
    ck_assert_int_eq(res_merge(dst, path_a, &err), 0);
    ck_assert_int_eq(q_int(res_handle(dst), "SELECT count(*) FROM runs"), 0);
    res_close(dst);
}
END_TEST

/* ---- Errors ----------------------------------------------------------- */

/* res_open(p) must fail with SIM_EFORMAT, name p, and leave p unchanged. */
static void assert_refused(const char *p)
{
    size_t n0, n1;
    unsigned char *before = slurp(p, &n0);
    sim_err err;
    sim_err_clear(&err);
    res_db *db = res_open(p, &err);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(err.code, SIM_EFORMAT);
    ck_assert_msg(strstr(err.msg, p) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "not a memfab results database") ||
                      strstr(err.msg, "contract"),
                  "%s", err.msg);
    sim_err_clear(&err);
    ck_assert_ptr_null(res_open_readonly(p, &err));
    ck_assert_int_eq(err.code, SIM_EFORMAT);
    unsigned char *after = slurp(p, &n1);
    ck_assert_int_eq(n0, n1);
    ck_assert(memcmp(before, after, n0) == 0);
    char j[300];
    snprintf(j, sizeof j, "%s-journal", p);
    ck_assert(!exists(j));
    free(before);
    free(after);
}

START_TEST(test_refuse_text_file)
{
    FILE *f = fopen(path_a, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++)
        fprintf(f, "line %d of a text file that is certainly no database\n", i);
    fclose(f);
    assert_refused(path_a);
    /* Short text too (less than an SQLite header). */
    f = fopen(path_a, "w");
    fputs("hello\n", f);
    fclose(f);
    assert_refused(path_a);
}
END_TEST

START_TEST(test_refuse_foreign_sqlite)
{
    sqlite3 *h = raw_open(path_a);
    raw_exec(h, "CREATE TABLE runs(x); INSERT INTO runs VALUES (1)");
    sqlite3_close(h);
    assert_refused(path_a);

    h = raw_open(path_b);
    raw_exec(h, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                "INSERT INTO meta VALUES ('application', 'othersim'), ('contract', '1')");
    sqlite3_close(h);
    assert_refused(path_b);
}
END_TEST

/* The network columns of links (drops, pause_ps, ecn_marks): written by
 * res_link_net, 0 for res_link rows, and added to a database written
 * before they existed (an additive change to contract 1). */
START_TEST(test_link_network_columns)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    ck_assert_int_eq(res_run_begin(db, "net", "ab", 1, "v", &err), 1);
    ck_assert_int_eq(res_link_net(db, "down", "tor->rx", 4096, 3, 100, 0.5, 7, 123456789, 11), 0);
    ck_assert_int_eq(res_link(db, "pcie0", "a->b", 64, 1, 10, 0.1), 0);
    ck_assert_int_eq(res_run_end(db, "complete", 0.1, 1000, 10, &err), 0);
    res_close(db);
    sqlite3 *h = raw_open(path_a);
    ck_assert_str_eq(q_text(h, "SELECT drops || '|' || pause_ps || '|' || ecn_marks FROM links"
                               " WHERE link = 'down'"),
                     "7|123456789|11");
    ck_assert_str_eq(q_text(h, "SELECT drops || '|' || pause_ps || '|' || ecn_marks FROM links"
                               " WHERE link = 'pcie0'"),
                     "0|0|0");
    /* an older database: links without the columns */
    raw_exec(h, "DROP TABLE links; CREATE TABLE links (run_id INTEGER NOT NULL, link TEXT NOT NULL,"
                " direction TEXT NOT NULL, bytes INTEGER NOT NULL, packets INTEGER NOT NULL,"
                " busy_ps INTEGER NOT NULL, utilization REAL);"
                " INSERT INTO links VALUES (1, 'old', 'x', 1, 1, 1, 0.0)");
    sqlite3_close(h);
    db = res_open(path_a, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    ck_assert_int_eq(res_run_begin(db, "net2", "ab", 1, "v", &err), 2);
    ck_assert_int_eq(res_link_net(db, "down", "tor->rx", 1, 1, 1, 0.0, 1, 2, 3), 0);
    ck_assert_int_eq(res_run_end(db, "complete", 0.1, 1000, 10, &err), 0);
    res_close(db);
    h = raw_open(path_a);
    ck_assert_str_eq(q_text(h, "SELECT drops || '|' || pause_ps || '|' || ecn_marks FROM links"
                               " WHERE link = 'old'"),
                     "0|0|0");
    ck_assert_str_eq(q_text(h, "SELECT drops || '|' || pause_ps || '|' || ecn_marks FROM links"
                               " WHERE run_id = 2"),
                     "1|2|3");
    sqlite3_close(h);
}
END_TEST

START_TEST(test_refuse_other_contract)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    write_run(db, "old", 1, "complete");
    res_close(db);
    sqlite3 *h = raw_open(path_a);
    raw_exec(h, "UPDATE meta SET value = '2' WHERE key = 'contract'");
    sqlite3_close(h);
    assert_refused(path_a);

    /* A memfab database whose table lost a contract column. */
    db = res_open(path_b, &err);
    res_close(db);
    h = raw_open(path_b);
    raw_exec(h, "DROP TABLE coherence; CREATE TABLE coherence(run_id, directory, message)");
    sqlite3_close(h);
    assert_refused(path_b);
}
END_TEST

START_TEST(test_readonly_missing)
{
    sim_err err;
    ck_assert_ptr_null(res_open_readonly(path_a, &err));
    ck_assert_int_eq(err.code, SIM_ENOTFOUND);
    ck_assert(!exists(path_a));
    ck_assert_ptr_null(res_open("/nonexistent-dir/x.db", &err));
    ck_assert_int_eq(err.code, SIM_EIO);
    ck_assert_ptr_null(res_open("/tmp", &err));
    ck_assert_int_eq(err.code, SIM_EFORMAT);
    ck_assert_ptr_null(res_open("", &err));
    ck_assert_int_eq(err.code, SIM_EINVAL);
}
END_TEST

/* Every row of every table of h (rowid order, each column quoted), one
 * string: two databases with equal dumps have equal strings. */
static char *db_rows(sqlite3 *h)
{
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    sqlite3_stmt *tabs;
    ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT name FROM sqlite_master WHERE type = 'table'"
                                           " ORDER BY name", -1, &tabs, NULL), SQLITE_OK);
    while (sqlite3_step(tabs) == SQLITE_ROW) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT rowid, * FROM \"%s\" ORDER BY rowid",
                 (const char *)sqlite3_column_text(tabs, 0));
        sqlite3_stmt *st;
        ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const char *v = (const char *)sqlite3_column_text(st, i);
                size_t n = (v ? strlen(v) : 4) + 2;
                if (len + n + 1 > cap) {
                    out = realloc(out, cap = 2 * (len + n + 1));
                    ck_assert_ptr_nonnull(out);
                }
                len += (size_t)sprintf(out + len, "%s%c", v ? v : "NULL",
                                       i + 1 < sqlite3_column_count(st) ? '|' : '\n');
            }
        sqlite3_finalize(st);
    }
    sqlite3_finalize(tabs);
    return out;
}

/* res_merger (a sweep's merge): many sources through one merger give the
 * database that res_merge of each source gives, also when a source has
 * another schema (an extra column: its statements are rebuilt) or is
 * refused (a foreign meta, not a database, missing: same errors as
 * res_merge, dst unchanged, and the next source merges). */
START_TEST(test_merger_equals_merge)
{
    sim_err err;
    char p1[300], p2[300], p3[300], bad[300], foreign[300], dst2[300];
    snprintf(p1, sizeof p1, "%s.1", path_a);
    snprintf(p2, sizeof p2, "%s.2", path_a);
    snprintf(p3, sizeof p3, "%s.3", path_a);
    snprintf(bad, sizeof bad, "%s.bad", path_a);
    snprintf(foreign, sizeof foreign, "%s.foreign", path_a);
    snprintf(dst2, sizeof dst2, "%s.dst2", path_a);
    const char *all[] = {p1, p2, p3, bad, foreign, dst2};
    for (size_t i = 0; i < 6; i++)
        remove_db(all[i]);
    res_db *src = res_open(p1, &err);
    write_run(src, "a1", 2, "complete");
    write_run(src, "a2", 3, "failed");
    res_close(src);
    src = res_open(p2, &err);
    write_run(src, "b1", 1, "complete");
    res_close(src);
    /* p3: another schema (an extra column the destination does not have) */
    src = res_open(p3, &err);
    write_run(src, "c1", 2, "complete");
    res_close(src);
    sqlite3 *r = raw_open(p3);
    ck_assert_int_eq(sqlite3_exec(r, "ALTER TABLE metrics ADD COLUMN extra TEXT", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(r);
    /* foreign: the same schema as p1, but meta names another application */
    src = res_open(foreign, &err);
    write_run(src, "f1", 1, "complete");
    res_close(src);
    r = raw_open(foreign);
    ck_assert_int_eq(sqlite3_exec(r, "UPDATE meta SET value = 'other' WHERE key = 'application'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(r);
    FILE *f = fopen(bad, "w");
    fputs("not a database\n", f);
    fclose(f);

    res_db *dst = res_open(path_b, &err);
    res_merger *m = res_merger_new(dst, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(res_merger_add(m, p1, &err), 2);
    ck_assert_int_eq(res_merger_add(m, p2, &err), 1);
    ck_assert_int_eq(res_merger_add(m, foreign, &err), SIM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "application 'other'"));
    ck_assert_int_eq(res_merger_add(m, p1, &err), 2);
    ck_assert_int_eq(res_merger_add(m, bad, &err), SIM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, bad));
    ck_assert_int_eq(res_merger_add(m, p3, &err), 1);
    ck_assert_int_eq(res_merger_add(m, p2, &err), 1);
    ck_assert_int_eq(res_merger_add(m, path_a, &err), SIM_ENOTFOUND);
    ck_assert_int_eq(res_merger_add(m, path_b, &err), SIM_EINVAL);
    ck_assert_int_eq(res_merger_add(m, p1, &err), 2);
    res_merger_free(m);
    char *got = db_rows(res_handle(dst));
    ck_assert_int_eq(q_int(res_handle(dst), "SELECT count(*) FROM runs"), 9);
    ck_assert_int_eq(q_int(res_handle(dst), "SELECT count(*) FROM pragma_database_list WHERE"
                                            " name NOT IN ('main', 'temp')"), 0);
    res_close(dst);

    dst = res_open(dst2, &err);
    const char *order[] = {p1, p2, p1, p3, p2, p1};
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_ge(res_merge(dst, order[i], &err), 1);
    char *want = db_rows(res_handle(dst));
    res_close(dst);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    for (size_t i = 0; i < 6; i++)
        remove_db(all[i]);
}
END_TEST

/* A file's bytes (malloc), its length in *n. */
static unsigned char *file_bytes(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* A database written by res_open with runs names[0..n), each with k rows
 * of every table, and its record file at rec (taken on the writer's own
 * connection, saved after the close as a sweep worker does). */
static void write_with_records(const char *p, const char *rec, const char *const *names,
                               const int *k, size_t n)
{
    sim_err err;
    remove_db(p);
    unlink(rec);
    res_db *db = res_open(p, &err);
    ck_assert_ptr_nonnull(db);
    for (size_t i = 0; i < n; i++)
        write_run(db, names[i], k[i], i % 2 ? "failed" : "complete");
    /* a NULL value, text with a NUL-free quote, a fraction, a large integer */
    ck_assert_int_ge(res_run_begin(db, "edge \"q\"", "00ff", UINT64_C(1) << 62, "test", &err), 1);
    ck_assert_int_eq(res_metric(db, "run", "null", 0.1, NULL), 0);
    ck_assert_int_eq(res_param(db, "empty", ""), 0);
    ck_assert_int_eq(res_run_end(db, "complete", 0.25, 7, 9, &err), 0);
    res_records *r = res_records_take(db, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    res_close(db);
    ck_assert_int_eq(res_records_save(r, p, rec, &err), SIM_OK);
    res_records_free(r);
}

/* Merge srcs (with their record files recs, NULL: none) into a new dst
 * at path; *used_out counts the sources merged from records. */
static void merge_into(const char *path, const char *const *srcs, const char *const *recs,
                       size_t n, const int *want, int *used_out)
{
    sim_err err;
    remove_db(path);
    res_db *dst = res_open(path, &err);
    ck_assert_ptr_nonnull(dst);
    res_merger *m = res_merger_new(dst, &err);
    int used_total = 0;
    for (size_t i = 0; i < n; i++) {
        int used = -1;
        int got = recs ? res_merger_add_records(m, recs[i], srcs[i], &used, &err)
                       : res_merger_add(m, srcs[i], &err);
        ck_assert_msg(got == want[i], "source %zu: %d, want %d (%s)", i, got, want[i], err.msg);
        used_total += used > 0;
    }
    res_merger_free(m);
    res_close(dst);
    if (used_out)
        *used_out = used_total;
}

/* Record files: merging through them gives the very file that the ATTACH
 * path (res_merger_add) writes from the same databases, byte for byte; a
 * record that is missing, damaged (a flipped byte, truncated), stale (the
 * database written after it was saved), another database's, or whose
 * columns are not dst's is not used, and the database is merged instead
 * with the same result and the same errors. */
START_TEST(test_merger_records_equal_attach)
{
    sim_err err;
    char p1[300], p2[300], r1[300], r2[300], rx[300], via_rec[300], via_db[300];
    snprintf(p1, sizeof p1, "%s.1", path_a);
    snprintf(p2, sizeof p2, "%s.2", path_a);
    snprintf(r1, sizeof r1, "%s.1.rec", path_a);
    snprintf(r2, sizeof r2, "%s.2.rec", path_a);
    snprintf(rx, sizeof rx, "%s.x.rec", path_a);
    snprintf(via_rec, sizeof via_rec, "%s.vr", path_a);
    snprintf(via_db, sizeof via_db, "%s.vd", path_a);
    const char *n1[] = {"a1", "a2"}, *n2[] = {"b1"};
    const int k1[] = {3, 2}, k2[] = {4};
    write_with_records(p1, r1, n1, k1, 2);
    write_with_records(p2, r2, n2, k2, 1);

    const char *srcs[] = {p1, p2, p1, p2}, *recs[] = {r1, r2, r1, r2};
    const int want[] = {3, 2, 3, 2};
    int used;
    merge_into(via_rec, srcs, recs, 4, want, &used);
    ck_assert_int_eq(used, 4);
    merge_into(via_db, srcs, NULL, 4, want, NULL);
    size_t na, nb;
    unsigned char *a = file_bytes(via_rec, &na), *b = file_bytes(via_db, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "the merged files differ");
    free(b);
    sqlite3 *h = raw_open(via_rec);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs"), 10);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM metrics WHERE unit IS NULL"), 4);
    ck_assert_int_eq(q_int(h, "SELECT seed FROM runs WHERE name = 'edge \"q\"' LIMIT 1"),
                     INT64_C(1) << 62);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM metrics WHERE value = 0.1"), 4);
    sqlite3_close(h);

    /* each broken record in turn, in the place of r2: the database is used */
    size_t rn;
    unsigned char *rb = file_bytes(r2, &rn);
    for (int c = 0; c < 5; c++) {
        FILE *f = fopen(rx, "wb");
        ck_assert_ptr_nonnull(f);
        if (c == 0)
            fwrite(rb, 1, rn - 1, f);               /* truncated */
        else if (c == 1) {
            rb[rn / 2] ^= 0x20;                     /* a flipped byte in the body */
            fwrite(rb, 1, rn, f);
            rb[rn / 2] ^= 0x20;
        } else if (c == 2) {
            rb[20] ^= 1;                            /* another file's device */
            fwrite(rb, 1, rn, f);
            rb[20] ^= 1;
        } else if (c == 3) {
            unsigned char *o = file_bytes(r1, &na); /* p1's record, for p2 */
            fwrite(o, 1, na, f);
            free(o);
        }                                           /* c == 4: empty */
        fclose(f);
        const char *s2[] = {p1, p2, p1, p2}, *rr[] = {r1, rx, r1, c == 4 ? "/nonexistent" : rx};
        merge_into(via_rec, s2, rr, 4, want, &used);
        ck_assert_int_eq(used, 2);
        char *got, *ref;
        h = raw_open(via_rec);
        got = db_rows(h);
        sqlite3_close(h);
        h = raw_open(via_db);
        ref = db_rows(h);
        sqlite3_close(h);
        ck_assert_str_eq(got, ref);
        free(got);
        free(ref);
    }
    free(rb);
    free(a);

    /* stale: p2 written after its record was saved (a run added) */
    res_db *db = res_open(p2, &err);
    write_run(db, "b2", 1, "complete");
    res_close(db);
    const char *s3[] = {p2}, *r3[] = {r2};
    const int w3[] = {3};
    merge_into(via_rec, s3, r3, 1, w3, &used);
    ck_assert_int_eq(used, 0);

    /* another destination schema: its columns are not the record's */
    write_with_records(p2, r2, n2, k2, 1);
    remove_db(via_rec);
    db = res_open(via_rec, &err);
    res_close(db);
    h = raw_open(via_rec);
    ck_assert_int_eq(sqlite3_exec(h, "ALTER TABLE metrics ADD COLUMN extra TEXT", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(h);
    db = res_open(via_rec, &err);
    ck_assert_ptr_nonnull(db);
    res_merger *m = res_merger_new(db, &err);
    ck_assert_int_eq(res_merger_add_records(m, r2, p2, &used, &err), 2);
    ck_assert_int_eq(used, 0);
    /* the errors of res_merge: into itself, and a refused source whose
     * record was valid before the source was changed */
    ck_assert_int_eq(res_merger_add_records(m, r2, via_rec, &used, &err), SIM_EINVAL);
    h = raw_open(p2);
    ck_assert_int_eq(sqlite3_exec(h, "UPDATE meta SET value = 'other' WHERE key = 'application'",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    ck_assert_int_eq(res_merger_add_records(m, r2, p2, &used, &err), SIM_EFORMAT);
    ck_assert_int_eq(used, 0);
    res_merger_free(m);
    ck_assert_int_eq(q_int(res_handle(db), "SELECT count(*) FROM runs"), 2);
    res_close(db);
    /* no records of a run in progress */
    db = res_open(via_db, &err);
    ck_assert_int_ge(res_run_begin(db, "open", "00", 1, "test", &err), 1);
    ck_assert_ptr_null(res_records_take(db, &err));
    ck_assert_int_eq(err.code, SIM_ESTATE);
    res_close(db);

    const char *all[] = {p1, p2, via_rec, via_db};
    for (size_t i = 0; i < 4; i++)
        remove_db(all[i]);
    unlink(r1);
    unlink(r2);
    unlink(rx);
}
END_TEST

/* Merge srcs through records in batches of `batch` points into a new dst
 * at path (res_merger_set_batch), committing at the end. */
static void merge_batched(const char *path, const char *const *srcs, const char *const *recs,
                          size_t n, const int *want, unsigned batch)
{
    sim_err err;
    remove_db(path);
    res_db *dst = res_open(path, &err);
    ck_assert_ptr_nonnull(dst);
    res_merger *m = res_merger_new(dst, &err);
    ck_assert_int_eq(res_merger_set_batch(m, batch), SIM_OK);
    for (size_t i = 0; i < n; i++) {
        int got = res_merger_add_records(m, recs[i], srcs[i], NULL, &err);
        ck_assert_msg(got == want[i], "batch %u, source %zu: %d, want %d (%s)", batch, i, got,
                      want[i], err.msg);
    }
    ck_assert_int_eq(res_merger_commit(m, &err), SIM_OK);
    res_merger_free(m);
    res_close(dst);
}

/* Batches (several record files per transaction) write the very file of
 * one transaction per source, byte for byte, at every batch size: also
 * when, inside a batch, a record whose header and checksum are valid fails
 * half-way through its rows (its rows are undone alone, by the savepoint,
 * and the source is merged from its database, which commits the batch
 * first), and when a refused source (a foreign file) comes mid-batch. The
 * bad record is built here: r2's body with its end mark 'E' replaced, and
 * its header's length and FNV-1a 64 checksum (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3; Fowler, Noll and Vo) recomputed,
 * so that only the parser can refuse it. */
START_TEST(test_merger_batches_same_file)
{
    sim_err err;
    char p1[300], p2[300], r1[300], r2[300], rb[300], bad[300], ref[300], got[300];
    snprintf(p1, sizeof p1, "%s.1", path_a);
    snprintf(p2, sizeof p2, "%s.2", path_a);
    snprintf(r1, sizeof r1, "%s.1.rec", path_a);
    snprintf(r2, sizeof r2, "%s.2.rec", path_a);
    snprintf(rb, sizeof rb, "%s.b.rec", path_a);
    snprintf(bad, sizeof bad, "%s.bad", path_a);
    snprintf(ref, sizeof ref, "%s.ref", path_a);
    snprintf(got, sizeof got, "%s.got", path_a);
    const char *n1[] = {"a1", "a2"}, *n2[] = {"b1"};
    const int k1[] = {3, 2}, k2[] = {4};
    write_with_records(p1, r1, n1, k1, 2);
    write_with_records(p2, r2, n2, k2, 1);
    FILE *f = fopen(bad, "w");
    fputs("not a database\n", f);
    fclose(f);
    /* the record that parses until its end */
    size_t len;
    unsigned char *b = file_bytes(r2, &len);
    ck_assert_int_eq(b[len - 1], 'E');
    b[len - 1] = 'X';
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 64; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    for (int i = 0; i < 8; i++)
        b[56 + i] = (unsigned char)(h >> (8 * i));
    f = fopen(rb, "wb");
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);

    const char *srcs[] = {p1, p2, p1, p2, bad, p1, p2, p1, p2, p1};
    const char *recs[] = {r1, r2, r1, rb, r1, r1, r2, r1, rb, r1};
    const int want[] = {3, 2, 3, 2, SIM_EFORMAT, 3, 2, 3, 2, 3};
    const size_t n = sizeof srcs / sizeof srcs[0];
    merge_batched(ref, srcs, recs, n, want, 1);
    size_t nref;
    unsigned char *bref = file_bytes(ref, &nref);
    sqlite3 *hh = raw_open(ref);
    ck_assert_int_eq(q_int(hh, "SELECT count(*) FROM runs"), 23);
    sqlite3_close(hh);
    const unsigned batches[] = {2, 3, 4, 64, 1000};
    for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
        merge_batched(got, srcs, recs, n, want, batches[k]);
        size_t ng;
        unsigned char *bg = file_bytes(got, &ng);
        ck_assert_uint_eq(ng, nref);
        ck_assert_msg(memcmp(bg, bref, nref) == 0, "batch %u: the merged files differ",
                      batches[k]);
        free(bg);
    }
    free(bref);
    /* a batch left open is committed by res_merger_free */
    remove_db(got);
    res_db *dst = res_open(got, &err);
    res_merger *m = res_merger_new(dst, &err);
    res_merger_set_batch(m, 10);
    ck_assert_int_eq(res_merger_add_records(m, r1, p1, NULL, &err), 3);
    ck_assert_int_eq(sqlite3_get_autocommit(res_handle(dst)), 0);
    res_merger_free(m);
    ck_assert_int_eq(q_int(res_handle(dst), "SELECT count(*) FROM runs"), 3);
    res_close(dst);
    const char *all[] = {p1, p2, bad, ref, got};
    for (size_t i = 0; i < 5; i++)
        remove_db(all[i]);
    unlink(r1);
    unlink(r2);
    unlink(rb);
}
END_TEST

START_TEST(test_state_errors)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_int_eq(res_metric(db, "run", "x", 1, NULL), SIM_ESTATE);
    ck_assert_ptr_nonnull(strstr(res_errmsg(db), "no run in progress"));
    ck_assert_int_eq(res_run_end(db, "complete", 0, 0, 0, &err), SIM_ESTATE);
    ck_assert_int_eq(res_run_error(db, "x"), SIM_ESTATE);
    ck_assert_int_eq(res_run_begin(db, "a", NULL, 0, NULL, &err), 1);
    ck_assert_int_eq(res_run_begin(db, "b", NULL, 0, NULL, &err), SIM_ESTATE);
    ck_assert_int_eq(res_run_end(db, "done", 0, 0, 0, &err), SIM_EINVAL);
    ck_assert_int_eq(res_run_end(db, "running", 0, 0, 0, &err), SIM_EINVAL);
    ck_assert_int_eq(res_merge(db, path_b, &err), SIM_ESTATE);
    /* A NOT NULL violation fails the row, not the batch. */
    ck_assert_int_eq(res_metric(db, "run", "ok", 1, NULL), 0);
    ck_assert_int_eq(res_metric(db, NULL, "bad", 1, NULL), SIM_EIO);
    ck_assert_ptr_nonnull(strstr(res_errmsg(db), "metrics"));
    ck_assert_int_eq(res_run_end(db, "complete", 0, 0, 0, &err), 0);
    ck_assert_int_eq(q_int(res_handle(db), "SELECT count(*) FROM metrics"), 1);
    ck_assert_int_eq(res_merge(db, path_a, &err), SIM_EINVAL);

    /* Merge refuses foreign and missing sources, and leaves dst alone. */
    FILE *f = fopen(path_b, "w");
    fputs("not a database\n", f);
    fclose(f);
    ck_assert_int_eq(res_merge(db, path_b, &err), SIM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, path_b));
    unlink(path_b);
    ck_assert_int_eq(res_merge(db, path_b, &err), SIM_ENOTFOUND);
    ck_assert(!exists(path_b));
    ck_assert_int_eq(q_int(res_handle(db), "SELECT count(*) FROM runs"), 1);
    res_close(db);

    /* A read-only handle takes no writes. */
    db = res_open_readonly(path_a, &err);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_eq(res_run_begin(db, "a", NULL, 0, NULL, &err), SIM_ESTATE);
    ck_assert_int_eq(res_param(db, "k", "v"), SIM_ESTATE);
    ck_assert_int_eq(res_merge(db, path_b, &err), SIM_ESTATE);
    res_close(db);
    res_close(NULL);
    ck_assert_int_eq(res_flush(NULL), SIM_EINVAL);
    ck_assert_int_eq(res_current_run(NULL), 0);
}
END_TEST


/* ---- concurrent use (issue 19 item 3) ---------------------------------- */

/* Two writers on one file, interleaved row by row, and a reader meanwhile:
 * a run's rows never keep the write lock, so the other run's begin, rows
 * and end go through at once and both runs complete. */
START_TEST(test_interleaved_writers)
{
    sim_err err;
    res_db *a = res_open(path_a, &err), *b = res_open(path_a, &err);
    ck_assert_msg(a && b, "%s", err.msg);
    ck_assert_int_eq(res_run_begin(a, "a", NULL, 1, NULL, &err), 1);
    ck_assert_int_eq(res_param(a, "k", "a"), 0);
    ck_assert_int_eq(res_timeseries(a, "x", "y", 0, 0), 0); /* a has rows pending */
    /* Not blocked by a's pending rows (before: a 30 s wait, then "locked"). */
    ck_assert_int_eq(res_run_begin(b, "b", NULL, 2, NULL, &err), 2);
    res_db *r = res_open_readonly(path_a, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    for (int i = 1; i < 3 * RES_BATCH_ROWS / 2; i++) {
        ck_assert_int_eq(res_timeseries(a, "x", "y", (uint64_t)i, i), 0);
        ck_assert_int_eq(res_timeseries(b, "x", "y", (uint64_t)i, -i), 0);
        if (i % 5000 == 0) /* a reader meanwhile sees the commits so far */
            ck_assert_int_le(q_int(res_handle(r), "SELECT count(*) FROM timeseries"), 2 * i + 1);
    }
    ck_assert_int_eq(res_run_end(b, "complete", 1, 1, 1, &err), 0);
    ck_assert_int_eq(res_run_end(a, "complete", 1, 1, 1, &err), 0);
    sqlite3 *h = res_handle(r);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs WHERE status = 'complete'"), 2);
    ck_assert_int_eq(count_rows(h, "timeseries", 1), 3 * RES_BATCH_ROWS / 2);
    ck_assert_int_eq(count_rows(h, "timeseries", 2), 3 * RES_BATCH_ROWS / 2 - 1);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM timeseries WHERE run_id = 2 AND value > 0"),
                     0);
    res_close(r);
    res_close(b);
    res_close(a);
}
END_TEST

/* Writers that open one file at the same moment all get it. A file the
 * last writer left is in rollback-journal mode (res_close turns it back),
 * so each opener switches it to WAL, which takes the exclusive lock from a
 * shared one; when two do that at once, SQLite answers one of them BUSY at
 * once instead of calling its busy handler (a wait could deadlock), and
 * res_open must wait and retry rather than fail. Eight processes released
 * together by closing a pipe, twenty rounds. */
START_TEST(test_simultaneous_opens)
{
    enum { WRITERS = 8, ROUNDS = 20 };
    sim_err err;
    for (int round = 0; round < ROUNDS; round++) {
        res_db *db = res_open(path_a, &err); /* rollback mode again after the close */
        ck_assert_ptr_nonnull(db);
        res_close(db);
        int go[2];
        ck_assert_int_eq(pipe(go), 0);
        pid_t pid[WRITERS];
        for (int k = 0; k < WRITERS; k++) {
            pid[k] = fork();
            ck_assert_int_ge(pid[k], 0);
            if (pid[k] == 0) {
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) != 0) /* EOF: every writer is released */
                    _exit(5);
                res_db *w = res_open(path_a, &err);
                if (!w) {
                    fprintf(stderr, "round %d writer %d: %s\n", round, k, err.msg);
                    _exit(2);
                }
                res_close(w);
                _exit(0);
            }
        }
        close(go[0]);
        close(go[1]);
        for (int k = 0; k < WRITERS; k++) {
            int status;
            ck_assert_int_eq(waitpid(pid[k], &status, 0), pid[k]);
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "round %d writer %d: status %#x", round, k, status);
        }
    }
}
END_TEST

/* Two processes that append a run each to one file at the same time both
 * complete, with all their rows. */
START_TEST(test_concurrent_processes)
{
    const int rows = 4 * RES_BATCH_ROWS;
    pid_t pid[2];
    sim_err err;
    res_db *db = res_open(path_a, &err); /* create it before the race */
    ck_assert_ptr_nonnull(db);
    res_close(db);
    for (int k = 0; k < 2; k++) {
        pid[k] = fork();
        ck_assert_int_ge(pid[k], 0);
        if (pid[k] == 0) {
            res_db *w = res_open(path_a, &err);
            if (!w || res_run_begin(w, k ? "b" : "a", NULL, (uint64_t)k, NULL, &err) < 0) {
                fprintf(stderr, "writer %d: %s: %s\n", k, w ? "run_begin" : "open", err.msg);
                _exit(2);
            }
            res_set_batch(w, 1000, 0);
            for (int i = 0; i < rows; i++)
                if (res_timeseries(w, "x", "y", (uint64_t)i, k) != 0)
                    _exit(3);
            if (res_run_end(w, "complete", 0, 0, 0, &err) != 0)
                _exit(4);
            res_close(w);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        ck_assert_int_eq(waitpid(pid[k], &status, 0), pid[k]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d: status %#x", k,
                      status);
    }
    db = res_open_readonly(path_a, &err);
    sqlite3 *h = res_handle(db);
    ck_assert_int_eq(q_int(h, "SELECT count(*) FROM runs WHERE status = 'complete'"), 2);
    ck_assert_int_eq(count_rows(h, "timeseries", 1), rows);
    ck_assert_int_eq(count_rows(h, "timeseries", 2), rows);
    res_close(db);
}
END_TEST

/* Rows are committed after a bounded wall time, not only by count: another
 * connection sees the run's params and rows while the run goes on, and
 * can write itself (the lock is free between commits). */
START_TEST(test_commit_by_time)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_int_eq(res_run_begin(db, "slow", NULL, 0, NULL, &err), 1);
    res_set_batch(db, 1000000, 0.1);
    sqlite3 *peek = raw_open(path_a);
    ck_assert_str_eq(q_text(peek, "SELECT status FROM runs"), "running");
    ck_assert_int_eq(res_param(db, "a.b", "1"), 0);
    ck_assert_int_eq(res_param(db, "a.c", "2"), 0);
    /* Rows staged, lock free: another writer gets it without waiting. */
    ck_assert_int_eq(sqlite3_exec(peek, "BEGIN IMMEDIATE; ROLLBACK", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(q_int(peek, "SELECT count(*) FROM params"), 0);
    usleep(150000);
    ck_assert_int_eq(res_metric(db, "run", "m", 1, NULL), 0); /* due: committed */
    ck_assert_int_eq(q_int(peek, "SELECT count(*) FROM params WHERE run_id = 1"), 2);
    ck_assert_int_eq(q_int(peek, "SELECT count(*) FROM metrics WHERE run_id = 1"), 1);
    ck_assert_str_eq(q_text(peek, "SELECT status FROM runs"), "running");
    ck_assert_int_eq(res_run_end(db, "complete", 0, 0, 0, &err), 0);
    ck_assert_str_eq(q_text(peek, "SELECT status FROM runs"), "complete");
    sqlite3_close(peek);
    res_close(db);
}
END_TEST

/* res_tick commits staged rows once the batch time has passed even when
 * no further row arrives (a run that reported rows and then simulates for
 * a long time without reporting), and does nothing before that. */
START_TEST(test_tick_commits_without_new_rows)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_int_eq(res_run_begin(db, "quiet", NULL, 0, NULL, &err), 1);
    res_set_batch(db, 1000000, 0.1);
    sqlite3 *peek = raw_open(path_a);
    ck_assert_int_eq(res_metric(db, "run", "m", 1, NULL), 0);
    ck_assert_int_eq(res_tick(db), 0);   /* too early: still staged */
    ck_assert_int_eq(q_int(peek, "SELECT count(*) FROM metrics WHERE run_id = 1"), 0);
    usleep(150000);
    ck_assert_int_eq(res_tick(db), 0);   /* due: committed with no new row */
    ck_assert_int_eq(q_int(peek, "SELECT count(*) FROM metrics WHERE run_id = 1"), 1);
    ck_assert_int_eq(res_tick(db), 0);   /* nothing staged: nothing to do */
    ck_assert_int_eq(res_tick(NULL), 0);
    sqlite3_close(peek);
    res_close(db);
}
END_TEST

/* A run killed mid-way (no res_run_end, no res_close) keeps its runs row
 * ('running'), its params (flushed before the simulation, as run.c does)
 * and the rows committed by time. */
START_TEST(test_killed_keeps_params)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sim_err err;
        res_db *db = res_open(path_a, &err);
        if (!db || res_run_begin(db, "killed", NULL, 1, NULL, &err) != 1)
            _exit(2);
        res_set_batch(db, 1000000, 0.05);
        if (res_param(db, "x.y", "1") || res_param(db, "x.z", "2") || res_flush(db))
            _exit(3);
        for (int i = 0; i < 10; i++) {
            if (res_timeseries(db, "q", "len", (uint64_t)i, i) != 0)
                _exit(4);
            usleep(30000);
        }
        _exit(0); /* abruptly: nothing is closed or ended */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    sqlite3 *h = res_handle(db);
    ck_assert_str_eq(q_text(h, "SELECT status FROM runs WHERE run_id = 1"), "running");
    ck_assert_int_eq(count_rows(h, "params", 1), 2);
    int64_t n = count_rows(h, "timeseries", 1);
    ck_assert_msg(n >= 4 && n < 10, "%lld timeseries rows committed", (long long)n);
    ck_assert_str_eq(q_text(h, "PRAGMA integrity_check"), "ok");
    ck_assert_int_eq(write_run(db, "after", 1, "complete"), 2);
    res_close(db);
}
END_TEST

/* A database that fails PRAGMA quick_check is refused, not appended to. */
START_TEST(test_refuse_damaged)
{
    sim_err err;
    res_db *db = res_open(path_a, &err);
    ck_assert_int_eq(res_run_begin(db, "r", NULL, 0, NULL, &err), 1);
    for (int i = 0; i < 5000; i++)
        ck_assert_int_eq(res_timeseries(db, "queue", "length", (uint64_t)i, i), 0);
    ck_assert_int_eq(res_run_end(db, "complete", 0, 0, 0, &err), 0);
    res_close(db);
    /* Scribble over a page in the middle of the timeseries b-tree. */
    size_t n0;
    unsigned char *before = slurp(path_a, &n0);
    ck_assert_uint_gt(n0, 16 * 4096);
    FILE *f = fopen(path_a, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, (long)(n0 / 4096 / 2) * 4096, SEEK_SET), 0);
    for (int i = 0; i < 4096; i++)
        fputc(0xA5, f);
    fclose(f);
    free(before);
    before = slurp(path_a, &n0);

    sqlite3 *raw = raw_open(path_a);
    ck_assert_str_ne(q_text(raw, "PRAGMA quick_check"), "ok");
    sqlite3_close(raw);
    sim_err_clear(&err);
    db = res_open(path_a, &err);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(err.code, SIM_EFORMAT);
    ck_assert_msg(strstr(err.msg, "damaged") && strstr(err.msg, path_a) &&
                      strstr(err.msg, "left unchanged"),
                  "message: %s", err.msg);
    size_t n1;
    unsigned char *after = slurp(path_a, &n1);
    ck_assert(n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
}
END_TEST

static Suite *res_suite(void)
{
    Suite *s = suite_create("res");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_test(core, test_roundtrip);
    tcase_add_test(core, test_link_network_columns);
    tcase_add_test(core, test_two_runs_append);
    tcase_add_test(core, test_unfinished_stays_running);
    tcase_add_test(core, test_crash_mid_run);
    tcase_add_test(core, test_contract_columns);
    tcase_add_test(core, test_merge);
    tcase_add_test(core, test_merger_equals_merge);
    tcase_add_test(core, test_merger_records_equal_attach);
    tcase_add_test(core, test_merger_batches_same_file);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("Limits");
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_set_timeout(limits, 60);
    tcase_add_test(limits, test_batching);
    tcase_add_test(limits, test_tick_commits_without_new_rows);
    tcase_add_test(limits, test_extreme_values);
    tcase_add_test(limits, test_empty_file_accepted);
    tcase_add_test(limits, test_merge_no_runs);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("Errors");
    tcase_add_checked_fixture(errors, setup, teardown);
    tcase_add_test(errors, test_refuse_text_file);
    tcase_add_test(errors, test_refuse_foreign_sqlite);
    tcase_add_test(errors, test_refuse_other_contract);
    tcase_add_test(errors, test_readonly_missing);
    tcase_add_test(errors, test_state_errors);
    tcase_add_test(errors, test_refuse_damaged);
    suite_add_tcase(s, errors);

    TCase *conc = tcase_create("Concurrency");
    tcase_add_checked_fixture(conc, setup, teardown);
    tcase_set_timeout(conc, 60);
    tcase_add_test(conc, test_interleaved_writers);
    tcase_add_test(conc, test_concurrent_processes);
    tcase_add_test(conc, test_simultaneous_opens);
    tcase_add_test(conc, test_commit_by_time);
    tcase_add_test(conc, test_killed_keeps_params);
    suite_add_tcase(s, conc);
    return s;
}

int main(void)
{
    return check_main(res_suite());
}
