/*
 * res.c - the results store: SQLite databases that follow the results
 * contract, version 1 (DESIGN.md), with the tables and views of
 * results/schema.sql (compiled in as res_schema_sql).
 *
 * NOTES ON THE DESIGN OF THE STORE
 *
 * A database is only ever appended to. res_open accepts three kinds of file:
 * none (created), an empty one (0 bytes or an SQLite database with no
 * schema) and a memfab database of contract 1 (meta application=memfab,
 * contract=1, with every contract column). The check and the schema (all
 * CREATE ... IF NOT EXISTS) run in one BEGIN IMMEDIATE transaction, which is
 * rolled back on refusal: a refused file is never written.
 *
 * The journal is WAL (readers do not wait for a writer, nor it for them;
 * the rollback journal where the file system cannot do WAL), synchronous =
 * NORMAL (OFF for res_open_nosync: scratch files that the caller syncs
 * itself before it publishes them, e.g. by rename), foreign keys on, and a
 * busy timeout (RES_BUSY_TIMEOUT_MS) so that several processes may append
 * to the same file. A writer that still
 * cannot get the lock says so (sql_why). An existing file must pass
 * PRAGMA quick_check before anything is appended to it.
 *
 * The rows of a run are staged in private in-memory tables (temp.stage_*)
 * and moved into the file by batch_commit in one short BEGIN IMMEDIATE
 * transaction: when batch_rows rows are staged, when the first of them is
 * batch_seconds old (checked on each row and on res_tick, which the run loop calls), on res_flush, res_run_error and
 * res_run_end (whose UPDATE of the runs row shares that transaction). The
 * write lock is thus held for the copy only, never while the simulation
 * runs, so a second writer's busy handler finds it free.
 *
 *   IDLE --res_run_begin (runs row committed)--> RUN
 *   RUN  --row--> RUN (pending + 1; batch_commit when due)
 *   RUN  --res_run_end (batch_commit + UPDATE runs)--> IDLE
 *
 * Invariants (assert_res_state): SQLite is in autocommit mode between
 * calls (but while a merger's batch is open: res_merger_set_batch, and
 * then only the merger uses the connection); staged tables are flagged
 * only while rows are pending; a
 * read-only connection is always IDLE and has no statements. res_close
 * commits pending rows but leaves an unfinished run 'running'; after a
 * crash the journal restores the last commit, so the database holds the
 * run's 'running' row and its rows up to the last batch.
 *
 * res_merge copies runs from another database by ATTACH; a database may
 * also have a record file, a flat copy of its runs bound to the file, which
 * a merger reads instead of the database ("record files" below).
 *
 * SQLite allocates through its own allocator; only res_db, merge's
 * scratch strings and record buffers go through sim_alloc.
 */
#include "res.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim/mem.h"

/* results/schema.sql as a C string (build/<variant>/gen/schema_sql.c). */
extern const char res_schema_sql[];

/* PRAGMA application_id of a memfab database: "mfab". */
#define RES_APPLICATION_ID 0x6d666162

/* The contract: every table and the columns it must have (DESIGN.md). */
#define RES_MAX_COLS 11
static const struct {
    const char *table;
    const char *cols[RES_MAX_COLS];
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

/* Prepared statements of a writable connection, created once in res_open.
 * The row statements write into the connection's private staging tables
 * (temp.stage_*), never into the file: see batch_commit. */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_RUN_INSERT,
    ST_RUN_END,
    ST_RUN_ERROR,
    ST_PARAM,
    ST_PARAM_DEFAULT,
    ST_METRIC,
    ST_LINK,
    ST_TIMESERIES,
    ST_REQUEST,
    ST_KV,
    ST_COHERENCE,
    N_ST
};

static const char *const st_sql[N_ST] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_RUN_INSERT] = "INSERT INTO main.runs (name, scenario_sha256, seed, version, started_at,"
                      " status) VALUES (?1, ?2, ?3, ?4, ?5, 'running')",
    [ST_RUN_END] = "UPDATE main.runs SET status = ?2, wall_s = ?3, sim_time_ps = ?4, events = ?5"
                   " WHERE run_id = ?1",
    [ST_RUN_ERROR] = "UPDATE main.runs SET error = ?2 WHERE run_id = ?1",
    [ST_PARAM] = "INSERT OR REPLACE INTO temp.stage_params (run_id, key, value, origin)"
                 " VALUES (?1, ?2, ?3, ?4)",
    /* a default never replaces a value the scenario wrote */
    [ST_PARAM_DEFAULT] = "INSERT OR IGNORE INTO temp.stage_params (run_id, key, value, origin)"
                         " VALUES (?1, ?2, ?3, 'default')",
    [ST_METRIC] = "INSERT INTO temp.stage_metrics (run_id, scope, name, value, unit)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_LINK] = "INSERT INTO temp.stage_links (run_id, link, direction, bytes, packets, busy_ps,"
                " utilization, drops, pause_ps, ecn_marks)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_TIMESERIES] = "INSERT INTO temp.stage_timeseries (run_id, scope, name, t_ps, value, unit)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_REQUEST] = "INSERT INTO temp.stage_requests (run_id, req_id, session, instance,"
                   " arrival_ps, first_token_ps, finish_ps, input_tokens, output_tokens,"
                   " cached_tokens, prefill_instance, kv_bytes, kv_wait_ps, kv_transfer_ps)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [ST_KV] = "INSERT INTO temp.stage_kv (run_id, instance, tier, hits, misses, evictions,"
              " bytes_in, bytes_out) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_COHERENCE] = "INSERT INTO temp.stage_coherence (run_id, directory, message, count)"
                     " VALUES (?1, ?2, ?3, ?4)",
};

/* The staging tables: the row tables' columns and NOT NULL constraints
 * (so that a bad row fails when it is written, not at the commit), without
 * the foreign keys, which cannot cross into temp. */
static const char stage_sql[] =
    "PRAGMA temp_store = MEMORY;"
    "CREATE TEMP TABLE stage_params (run_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,"
    " origin TEXT, PRIMARY KEY (run_id, key));"
    "CREATE TEMP TABLE stage_metrics (run_id INTEGER NOT NULL, scope TEXT NOT NULL,"
    " name TEXT NOT NULL, value REAL, unit TEXT);"
    "CREATE TEMP TABLE stage_links (run_id INTEGER NOT NULL, link TEXT NOT NULL,"
    " direction TEXT NOT NULL, bytes INTEGER NOT NULL, packets INTEGER NOT NULL,"
    " busy_ps INTEGER NOT NULL, utilization REAL, drops INTEGER NOT NULL,"
    " pause_ps INTEGER NOT NULL, ecn_marks INTEGER NOT NULL);"
    "CREATE TEMP TABLE stage_timeseries (run_id INTEGER NOT NULL, scope TEXT NOT NULL,"
    " name TEXT NOT NULL, t_ps INTEGER NOT NULL, value REAL, unit TEXT);"
    "CREATE TEMP TABLE stage_requests (run_id INTEGER NOT NULL, req_id INTEGER NOT NULL,"
    " session TEXT, instance TEXT, arrival_ps INTEGER, first_token_ps INTEGER,"
    " finish_ps INTEGER, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
    " cached_tokens INTEGER NOT NULL, prefill_instance TEXT, kv_bytes INTEGER,"
    " kv_wait_ps INTEGER, kv_transfer_ps INTEGER);"
    "CREATE TEMP TABLE stage_kv (run_id INTEGER NOT NULL, instance TEXT NOT NULL,"
    " tier TEXT NOT NULL, hits INTEGER NOT NULL, misses INTEGER NOT NULL,"
    " evictions INTEGER NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL);"
    "CREATE TEMP TABLE stage_coherence (run_id INTEGER NOT NULL, directory TEXT NOT NULL,"
    " message TEXT NOT NULL, count INTEGER NOT NULL);";

/* The row tables in staging order, with the statement that fills each. */
static const struct {
    const char *table;
    int st;
} stage_tables[] = {
    {"params", ST_PARAM},         {"metrics", ST_METRIC}, {"links", ST_LINK},
    {"timeseries", ST_TIMESERIES}, {"requests", ST_REQUEST}, {"kv", ST_KV},
    {"coherence", ST_COHERENCE},
};
#define N_STAGE (sizeof stage_tables / sizeof stage_tables[0])

/* Run-keyed tables that res_merge copies (runs itself is copied first). */
static const char *const merge_tables[] = {"params", "metrics", "links", "timeseries",
                                           "requests", "kv", "coherence"};
#define N_MERGE (sizeof merge_tables / sizeof merge_tables[0])

struct res_db {
    /* configuration, fixed by res_open */
    sqlite3 *h;              /* the connection */
    char *path;              /* file name, for messages */
    int readonly;            /* opened by res_open_readonly */
    sqlite3_stmt *st[N_ST];  /* prepared statements (writable only) */
    sqlite3_stmt *copy[N_STAGE];  /* stage_T -> main.T, in rowid order */
    sqlite3_stmt *clear[N_STAGE]; /* empty stage_T */
    unsigned batch_rows;     /* commit after this many staged rows ... */
    double batch_seconds;    /* ... or this long after the first of them */
    /* state */
    int64_t run_id;          /* run in progress, or 0 */
    unsigned pending;        /* rows staged since the last commit */
    unsigned staged;         /* bit t: stage_tables[t] holds rows */
    double batch_t0;         /* monotonic time of the first staged row */
    char errmsg[512];        /* last row-function failure, or "" */
    int batch_open;          /* a merger's transaction is open across calls */
};

#ifndef NDEBUG
static int assert_res_state(const res_db *db)
{
    assert(db->h);
    /* no transaction outside a call, but a merger's batch (res_merger_set_batch) */
    assert(sqlite3_get_autocommit(db->h) == !db->batch_open);
    assert(db->pending || !db->staged);
    assert(!db->readonly || (db->run_id == 0 && !db->pending && !db->st[ST_COMMIT]));
    return 1;
}
#endif

/* ---- helpers ---------------------------------------------------------- */

/* Record a row-function failure in db->errmsg and return code. */
static int fail(res_db *db, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(res_db *db, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof db->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

/* Monotonic wall-clock seconds. */
static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The reason of an SQLite failure on h, in words: a lock another process
 * held past the busy timeout gets its own message. */
static const char *sql_why(sqlite3 *h, int rc)
{
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return "the database is locked by another process and stayed locked past the "
               "busy timeout (" RES_BUSY_TIMEOUT_TEXT "); nothing was written, try again "
               "when the other writer is done";
    return sqlite3_errmsg(h);
}

/* SQLite stores signed 64-bit integers: a uint64 is stored modulo 2^64. */
static void bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
    sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* A request time; RES_NO_TIME becomes NULL. */
static void bind_time(sqlite3_stmt *st, int i, uint64_t v)
{
    if (v == RES_NO_TIME)
        sqlite3_bind_null(st, i);
    else
        bind_u64(st, i, v);
}

/* Strings are bound without a copy: every statement is rebound in full
 * before each step, so SQLite never reads a stale pointer. */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Step a statement that returns no rows and reset it. */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Current UTC time as ISO-8601 with milliseconds: 2026-01-31T12:00:00.000Z */
static void utc_now(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    if (!timespec_get(&ts, TIME_UTC)) {
        ts.tv_sec = time(NULL);
        ts.tv_nsec = 0;
    }
    gmtime_r(&ts.tv_sec, &tm);
    size_t len = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + len, n - len, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* 1 if table (in schema, "main" or an attached name) has column col,
 * 0 if not (or the table does not exist), negative on error. */
static int has_column(sqlite3 *h, const char *schema, const char *table, const char *col)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "SELECT 1 FROM pragma_table_info(?1, ?2) WHERE name = ?3", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, schema, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, col, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Run a one-value query; copy its text into out (or "" when no row).
 * Returns the SQLite result code. */
static int query_text(sqlite3 *h, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    out[0] = '\0';
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, n, "%s", t ? (const char *)t : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- open and close --------------------------------------------------- */

/* PRAGMA journal_mode = WAL, retried while SQLite answers BUSY, for up to
 * the busy timeout. A file the last writer left is in rollback-journal
 * mode (res_close), and switching it takes the exclusive lock from a
 * shared one: when two connections switch at once, SQLite returns
 * SQLITE_BUSY to one of them without calling its busy handler (waiting
 * could deadlock: sqlite3_busy_handler's documentation). The other one
 * finishes its switch in a moment, after which the pragma only reads. */
static int set_wal(sqlite3 *h, char *mode, size_t n)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int rc = query_text(h, "PRAGMA journal_mode = WAL", mode, n);
        if ((rc & 0xff) != SQLITE_BUSY)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double ms = 1e3 * (double)(t.tv_sec - t0.tv_sec) + 1e-6 * (double)(t.tv_nsec - t0.tv_nsec);
        if (ms >= RES_BUSY_TIMEOUT_MS)
            return rc;
        sqlite3_sleep(2);
    }
}

/* Refuse path as not a memfab database, with the reason why. */
static int refuse(sim_err *err, const char *path, const char *why)
{
    return sim_err_set(err, SIM_EFORMAT, NULL, 0, 0,
                       "%s is not a memfab results database (%s); it was left unchanged", path,
                       why);
}

/* Check that the open file is a memfab database of contract 1 (or, when
 * writable, an empty one), and on a writable connection apply the schema.
 * All in one transaction, rolled back on refusal. */
static int check_and_apply(res_db *db, sim_err *err)
{
    sqlite3 *h = db->h;
    const char *path = db->path;
    char buf[256], why[384];
    int rc, code = SIM_OK, fresh = 0;

    rc = sqlite3_exec(h, db->readonly ? "BEGIN" : "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto sqlerr;
    rc = query_text(h, "SELECT count(*) FROM sqlite_master", buf, sizeof buf);
    if (rc != SQLITE_OK)
        goto sqlerr;
    if (strcmp(buf, "0") == 0) {
        rc = query_text(h, "PRAGMA application_id", buf, sizeof buf);
        if (rc != SQLITE_OK)
            goto sqlerr;
        if (strcmp(buf, "0") != 0 && atol(buf) != RES_APPLICATION_ID) {
            snprintf(why, sizeof why, "an empty SQLite database of application id %s", buf);
            code = refuse(err, path, why);
            goto out;
        }
        if (db->readonly) {
            code = refuse(err, path, "it is empty");
            goto out;
        }
        fresh = 1;
    } else {
        rc = query_text(h, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                        buf, sizeof buf);
        if (rc != SQLITE_OK)
            goto sqlerr;
        if (strcmp(buf, "0") == 0) {
            code = refuse(err, path, "an SQLite database without a memfab meta table");
            goto out;
        }
        rc = query_text(h, "SELECT value FROM meta WHERE key = 'application'", buf, sizeof buf);
        if (rc != SQLITE_OK || strcmp(buf, "memfab") != 0) {
            snprintf(why, sizeof why, "its meta table names application '%s', not 'memfab'",
                     rc == SQLITE_OK ? buf : "?");
            code = refuse(err, path, why);
            goto out;
        }
        rc = query_text(h, "SELECT value FROM meta WHERE key = 'contract'", buf, sizeof buf);
        if (rc != SQLITE_OK)
            goto sqlerr;
        char *end;
        long v = strtol(buf, &end, 10);
        if (buf[0] == '\0' || *end != '\0' || v != RES_CONTRACT_VERSION) {
            code = sim_err_set(err, SIM_EFORMAT, NULL, 0, 0,
                               "%s follows results contract '%s'; this memfab reads and writes "
                               "contract %d; it was left unchanged",
                               path, buf, RES_CONTRACT_VERSION);
            goto out;
        }
    }

    if (!db->readonly && !fresh) {
        /* Never append to a damaged file: it would only bury the damage. */
        rc = query_text(h, "PRAGMA quick_check(1)", buf, sizeof buf);
        if (rc != SQLITE_OK)
            goto sqlerr;
        if (strcmp(buf, "ok") != 0) {
            code = sim_err_set(err, SIM_EFORMAT, NULL, 0, 0,
                               "%s is damaged: it fails SQLite's quick check (%s); it was left "
                               "unchanged (salvage it with `sqlite3 %s .recover`, or write to "
                               "another file)",
                               path, buf, path);
            goto out;
        }
    }

    if (!db->readonly) {
        if (fresh) {
            snprintf(buf, sizeof buf, "PRAGMA application_id = %d", RES_APPLICATION_ID);
            rc = sqlite3_exec(h, buf, NULL, NULL, NULL);
            if (rc != SQLITE_OK)
                goto sqlerr;
        }
        rc = sqlite3_exec(h, res_schema_sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto sqlerr;
        /* runs.error and the network columns of links are additions to
         * contract 1; older databases may lack them. */
        static const char *const added[][3] = {
            {"runs", "error", "ALTER TABLE runs ADD COLUMN error TEXT"},
            {"links", "drops", "ALTER TABLE links ADD COLUMN drops INTEGER NOT NULL DEFAULT 0"},
            {"links", "pause_ps",
             "ALTER TABLE links ADD COLUMN pause_ps INTEGER NOT NULL DEFAULT 0"},
            {"links", "ecn_marks",
             "ALTER TABLE links ADD COLUMN ecn_marks INTEGER NOT NULL DEFAULT 0"},
            {"requests", "prefill_instance",
             "ALTER TABLE requests ADD COLUMN prefill_instance TEXT"},
            {"requests", "kv_bytes", "ALTER TABLE requests ADD COLUMN kv_bytes INTEGER"},
            {"requests", "kv_wait_ps", "ALTER TABLE requests ADD COLUMN kv_wait_ps INTEGER"},
            {"requests", "kv_transfer_ps",
             "ALTER TABLE requests ADD COLUMN kv_transfer_ps INTEGER"},
            {"params", "origin", "ALTER TABLE params ADD COLUMN origin TEXT"},
            {"timeseries", "unit", "ALTER TABLE timeseries ADD COLUMN unit TEXT"}};
        for (size_t a = 0; a < sizeof added / sizeof added[0]; a++) {
            int e = has_column(h, "main", added[a][0], added[a][1]);
            if (e == 0)
                rc = sqlite3_exec(h, added[a][2], NULL, NULL, NULL);
            if (e < 0 || rc != SQLITE_OK)
                goto sqlerr;
        }
    }

    for (size_t t = 0; t < N_CONTRACT; t++) {
        for (int c = 0; c < RES_MAX_COLS && contract[t].cols[c]; c++) {
            int r = has_column(h, "main", contract[t].table, contract[t].cols[c]);
            if (r < 0) {
                rc = sqlite3_errcode(h);
                goto sqlerr;
            }
            if (r == 0) {
                snprintf(why, sizeof why, "table %s has no column %s", contract[t].table,
                         contract[t].cols[c]);
                code = refuse(err, path, why);
                goto out;
            }
        }
    }

    rc = sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto sqlerr;
    return SIM_OK;

sqlerr:
    if ((rc & 0xff) == SQLITE_NOTADB)
        code = refuse(err, path, "it is not an SQLite database");
    else if ((rc & 0xff) == SQLITE_CORRUPT)
        code = sim_err_set(err, SIM_EFORMAT, NULL, 0, 0,
                           "%s is damaged: %s; it was left unchanged (salvage it with `sqlite3 "
                           "%s .recover`, or write to another file)",
                           path, sqlite3_errmsg(h), path);
    else
        code = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", path, sql_why(h, rc));
out:
    if (!sqlite3_get_autocommit(h))
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    return code;
}

/* Prepare "INSERT [OR REPLACE] INTO main.T (cols) SELECT cols FROM
 * temp.stage_T ORDER BY rowid" over the columns of stage_T (the ones the
 * row statements fill). */
static int prepare_stage_copy(sqlite3 *h, const char *table, sqlite3_stmt **out)
{
    char cols[1024] = "", sql[2560], q[128];
    sqlite3_stmt *st;
    snprintf(q, sizeof q, "stage_%s", table);
    int rc = sqlite3_prepare_v2(h, "SELECT name FROM pragma_table_info(?1, 'temp') ORDER BY cid",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
    size_t len = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        len += (size_t)snprintf(cols + len, sizeof cols - len, "%s%s", len ? ", " : "",
                                (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;
    snprintf(sql, sizeof sql, "INSERT %sINTO main.%s (%s) SELECT %s FROM temp.%s ORDER BY rowid",
             strcmp(table, "params") == 0 ? "OR REPLACE " : "", table, cols, cols, q);
    return sqlite3_prepare_v3(h, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
}

/* Open path; *code receives the error code on failure. */
static res_db *open_db(const char *path, int readonly, int nosync, sim_err *err, int *code)
{
    res_db *db = NULL;
    struct stat sb;
    int rc;

    if (!path || !*path) {
        *code = sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "no results database file given");
        return NULL;
    }
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        *code = sim_err_set(err, SIM_EFORMAT, NULL, 0, 0,
                            "%s is not a memfab results database (not a regular file)", path);
        return NULL;
    }
    if (readonly && stat(path, &sb) != 0) {
        *code = sim_err_set(err, SIM_ENOTFOUND, NULL, 0, 0,
                            "%s: no such results database", path);
        return NULL;
    }
    db = sim_calloc(1, sizeof *db);
    if (!db || !(db->path = sim_strdup(path))) {
        *code = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory opening %s", path);
        goto err;
    }
    db->readonly = readonly;
    rc = sqlite3_open_v2(path, &db->h,
                         readonly ? SQLITE_OPEN_READONLY
                                  : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                         NULL);
    if (rc != SQLITE_OK) {
        *code = sim_err_set(err, SIM_EIO, NULL, 0, 0, "cannot open %s: %s", path,
                            db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        goto err;
    }
    sqlite3_busy_timeout(db->h, RES_BUSY_TIMEOUT_MS);
    /* No sync from the first transaction on (creating the schema of a new
     * file syncs its journal several times). Its failure on a foreign file
     * is reported by the check below, which then fails the same way. */
    if (nosync)
        (void)sqlite3_exec(db->h, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
    db->batch_rows = RES_BATCH_ROWS;
    db->batch_seconds = RES_BATCH_SECONDS;
    if ((*code = check_and_apply(db, err)) != SIM_OK)
        goto err;
    if (!readonly) {
        /* After the check: even a PRAGMA reads the file's header. WAL lets
         * readers and one writer work at once; where the file system
         * cannot do WAL, SQLite keeps the rollback journal, which works
         * too (readers then wait for commits). */
        char mode[32];
        rc = set_wal(db->h, mode, sizeof mode);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db->h,
                              nosync ? "PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON"
                                     : "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
                              NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db->h, stage_sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            *code = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", path, sql_why(db->h, rc));
            goto err;
        }
        for (int i = 0; i < N_ST; i++) {
            rc = sqlite3_prepare_v3(db->h, st_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i],
                                    NULL);
            if (rc != SQLITE_OK) {
                *code = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: preparing statement: %s",
                                    path, sqlite3_errmsg(db->h));
                goto err;
            }
        }
        for (size_t t = 0; t < N_STAGE; t++) {
            char sql[512];
            rc = prepare_stage_copy(db->h, stage_tables[t].table, &db->copy[t]);
            if (rc == SQLITE_OK) {
                snprintf(sql, sizeof sql, "DELETE FROM temp.stage_%s", stage_tables[t].table);
                rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &db->clear[t],
                                        NULL);
            }
            if (rc != SQLITE_OK) {
                *code = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: preparing statement: %s",
                                    path, sqlite3_errmsg(db->h));
                goto err;
            }
        }
    }
    assert(assert_res_state(db));
    return db;
err:
    res_close(db);
    return NULL;
}

/* Open (creating if absent) path for appending runs. The caller owns the
 * result and frees it with res_close(), which commits pending rows. */
res_db *res_open(const char *path, sim_err *err)
{
    int code;
    return open_db(path, 0, 0, err, &code);
}

/* res_open without syncing: the caller makes the file durable itself. */
res_db *res_open_nosync(const char *path, sim_err *err)
{
    int code;
    return open_db(path, 0, 1, err, &code);
}

/* Open an existing memfab database read-only (tools); free with res_close(). */
res_db *res_open_readonly(const char *path, sim_err *err)
{
    int code;
    return open_db(path, 1, 0, err, &code);
}

void res_close(res_db *db)
{
    if (!db)
        return;
    if (db->h && db->pending)
        res_flush(db);
    for (int i = 0; i < N_ST; i++)
        sqlite3_finalize(db->st[i]);
    for (size_t t = 0; t < N_STAGE; t++) {
        sqlite3_finalize(db->copy[t]);
        sqlite3_finalize(db->clear[t]);
    }
    if (db->h && !db->readonly && db->st[ST_COMMIT]) {
        /* The last writer to leave turns the file back into one file
         * (rollback journal), so that read-only tools, which cannot remove
         * a WAL, leave no -wal/-shm behind. With others still on it, this
         * fails at once and the file stays in WAL until they leave. */
        sqlite3_busy_timeout(db->h, 0);
        sqlite3_exec(db->h, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    }
    if (db->h)
        sqlite3_close(db->h);
    sim_free(db->path);
    sim_free(db);
}

struct sqlite3 *res_handle(res_db *db)
{
    return db ? db->h : NULL;
}

int64_t res_current_run(const res_db *db)
{
    return db ? db->run_id : 0;
}

const char *res_errmsg(const res_db *db)
{
    return db ? db->errmsg : "no results database";
}

/* ---- runs ------------------------------------------------------------- */

int64_t res_run_begin(res_db *db, const char *name, const char *scenario_sha256,
                      uint64_t seed, const char *version, sim_err *err)
{
    char now[64];
    int rc;

    if (!db || !name)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "res_run_begin: no database or name");
    if (db->readonly)
        return sim_err_set(err, SIM_ESTATE, NULL, 0, 0, "%s is open read-only", db->path);
    if (db->run_id)
        return sim_err_set(err, SIM_ESTATE, NULL, 0, 0,
                           "%s: run %" PRId64 " is still in progress", db->path, db->run_id);
    if (db->pending && (rc = res_flush(db)) != 0)
        return sim_err_set(err, rc, NULL, 0, 0, "%s", db->errmsg);

    utc_now(now, sizeof now);
    sqlite3_stmt *st = db->st[ST_RUN_INSERT];
    bind_text(st, 1, name);
    bind_text(st, 2, scenario_sha256);
    bind_u64(st, 3, seed);
    bind_text(st, 4, version);
    bind_text(st, 5, now);
    rc = step_done(st);
    if (rc != SQLITE_OK)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot record the run: %s", db->path,
                           sql_why(db->h, rc));
    db->run_id = sqlite3_last_insert_rowid(db->h);
    db->errmsg[0] = '\0';
    assert(assert_res_state(db));
    return db->run_id;
}

/* Move the staged rows into the file in one short write transaction,
 * together with extra (a bound runs UPDATE, or NULL), and empty the stage.
 * On failure everything is rolled back, the staged rows included, so the
 * call can be repeated. Returns 0 or a negative code (db->errmsg). */
static int batch_commit(res_db *db, sqlite3_stmt *extra, const char *what)
{
    int rc = step_done(db->st[ST_BEGIN]);
    if (rc != SQLITE_OK)
        return fail(db, SIM_EIO, "%s: cannot %s: %s", db->path, what, sql_why(db->h, rc));
    for (size_t t = 0; rc == SQLITE_OK && t < N_STAGE; t++)
        if (db->staged & (1u << t)) {
            rc = step_done(db->copy[t]);
            if (rc == SQLITE_OK)
                rc = step_done(db->clear[t]);
        }
    if (rc == SQLITE_OK && extra)
        rc = step_done(extra);
    if (rc == SQLITE_OK)
        rc = step_done(db->st[ST_COMMIT]);
    if (rc != SQLITE_OK) {
        int code = fail(db, SIM_EIO, "%s: cannot %s: %s", db->path, what, sql_why(db->h, rc));
        if (!sqlite3_get_autocommit(db->h))
            step_done(db->st[ST_ROLLBACK]);
        return code;
    }
    db->pending = 0;
    db->staged = 0;
    assert(assert_res_state(db));
    return 0;
}

/* Common checks of a write: returns the statement with run_id bound, or NULL
 * with *code set. */
static sqlite3_stmt *row_start(res_db *db, int which, int *code)
{
    if (!db) {
        *code = SIM_EINVAL;
        return NULL;
    }
    if (db->readonly) {
        *code = fail(db, SIM_ESTATE, "%s is open read-only", db->path);
        return NULL;
    }
    if (!db->run_id) {
        *code = fail(db, SIM_ESTATE, "%s: no run in progress", db->path);
        return NULL;
    }
    sqlite3_stmt *st = db->st[which];
    sqlite3_bind_int64(st, 1, db->run_id);
    return st;
}

/* Step a bound row statement into the stage; commit when the batch is
 * full or old enough. */
static int row_finish(res_db *db, sqlite3_stmt *st, const char *table)
{
    if (step_done(st) != SQLITE_OK)
        return fail(db, SIM_EIO, "%s: cannot write a %s row: %s", db->path, table,
                    sqlite3_errmsg(db->h));
    for (size_t t = 0; t < N_STAGE; t++)
        if (db->st[stage_tables[t].st] == st)
            db->staged |= 1u << t;
    double now = mono_now();
    if (db->pending++ == 0)
        db->batch_t0 = now;
    if (db->pending >= db->batch_rows || now - db->batch_t0 >= db->batch_seconds)
        return res_flush(db);
    return 0;
}

int res_tick(res_db *db)
{
    if (!db || !db->pending || mono_now() - db->batch_t0 < db->batch_seconds)
        return 0;
    return res_flush(db);
}

int res_flush(res_db *db)
{
    if (!db)
        return SIM_EINVAL;
    if (!db->pending)
        return 0;
    return batch_commit(db, NULL, "commit");
}

void res_set_batch(res_db *db, unsigned rows, double seconds)
{
    if (!db)
        return;
    db->batch_rows = rows ? rows : RES_BATCH_ROWS;
    db->batch_seconds = seconds > 0 ? seconds : RES_BATCH_SECONDS;
}

int res_run_end(res_db *db, const char *status, double wall_s, uint64_t sim_time_ps,
                uint64_t events, sim_err *err)
{
    int code;
    if (!db || !status)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "res_run_end: no database or status");
    if (strcmp(status, "complete") != 0 && strcmp(status, "interrupted") != 0 &&
        strcmp(status, "failed") != 0)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "run status '%s': use complete, interrupted or failed", status);
    sqlite3_stmt *st = row_start(db, ST_RUN_END, &code);
    if (!st)
        return sim_err_set(err, code, NULL, 0, 0, "%s", db->errmsg);
    bind_text(st, 2, status);
    sqlite3_bind_double(st, 3, wall_s);
    bind_u64(st, 4, sim_time_ps);
    bind_u64(st, 5, events);
    char what[64];
    snprintf(what, sizeof what, "end run %" PRId64, db->run_id);
    if ((code = batch_commit(db, st, what)) != 0)
        return sim_err_set(err, code, NULL, 0, 0, "%s", db->errmsg);
    db->run_id = 0;
    assert(assert_res_state(db));
    return 0;
}

int res_run_error(res_db *db, const char *message)
{
    int code;
    sqlite3_stmt *st = row_start(db, ST_RUN_ERROR, &code);
    if (!st)
        return code;
    bind_text(st, 2, message);
    return batch_commit(db, st, "record the run's error");
}

/* ---- rows ------------------------------------------------------------- */

int res_param(res_db *db, const char *key, const char *value)
{
    return res_param_from(db, key, value, NULL);
}

int res_param_from(res_db *db, const char *key, const char *value, const char *origin)
{
    int code, is_default = origin && strcmp(origin, RES_ORIGIN_DEFAULT) == 0;
    sqlite3_stmt *st = row_start(db, is_default ? ST_PARAM_DEFAULT : ST_PARAM, &code);
    if (!st)
        return code;
    bind_text(st, 2, key);
    bind_text(st, 3, value);
    if (!is_default)
        bind_text(st, 4, origin);
    return row_finish(db, st, "params");
}

int res_metric(res_db *db, const char *scope, const char *name, double value, const char *unit)
{
    int code;
    sqlite3_stmt *st = row_start(db, ST_METRIC, &code);
    if (!st)
        return code;
    bind_text(st, 2, scope);
    bind_text(st, 3, name);
    sqlite3_bind_double(st, 4, value);
    bind_text(st, 5, unit);
    return row_finish(db, st, "metrics");
}

int res_link(res_db *db, const char *link, const char *direction, uint64_t bytes,
             uint64_t packets, uint64_t busy_ps, double utilization)
{
    return res_link_net(db, link, direction, bytes, packets, busy_ps, utilization, 0, 0, 0);
}

int res_link_net(res_db *db, const char *link, const char *direction, uint64_t bytes,
                 uint64_t packets, uint64_t busy_ps, double utilization, uint64_t drops,
                 uint64_t pause_ps, uint64_t ecn_marks)
{
    int code;
    sqlite3_stmt *st = row_start(db, ST_LINK, &code);
    if (!st)
        return code;
    bind_text(st, 2, link);
    bind_text(st, 3, direction);
    bind_u64(st, 4, bytes);
    bind_u64(st, 5, packets);
    bind_u64(st, 6, busy_ps);
    sqlite3_bind_double(st, 7, utilization);
    bind_u64(st, 8, drops);
    bind_u64(st, 9, pause_ps);
    bind_u64(st, 10, ecn_marks);
    return row_finish(db, st, "links");
}

int res_timeseries(res_db *db, const char *scope, const char *name, uint64_t t_ps, double value)
{
    return res_timeseries_unit(db, scope, name, t_ps, value, NULL);
}

int res_timeseries_unit(res_db *db, const char *scope, const char *name, uint64_t t_ps,
                        double value, const char *unit)
{
    int code;
    sqlite3_stmt *st = row_start(db, ST_TIMESERIES, &code);
    if (!st)
        return code;
    bind_text(st, 2, scope);
    bind_text(st, 3, name);
    bind_u64(st, 4, t_ps);
    sqlite3_bind_double(st, 5, value);
    bind_text(st, 6, unit);
    return row_finish(db, st, "timeseries");
}

int res_request(res_db *db, uint64_t req_id, const char *session, const char *instance,
                uint64_t arrival_ps, uint64_t first_token_ps, uint64_t finish_ps,
                uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens)
{
    return res_request_pd(db, req_id, session, instance, arrival_ps, first_token_ps, finish_ps,
                          input_tokens, output_tokens, cached_tokens, NULL, 0, 0, 0);
}

int res_request_pd(res_db *db, uint64_t req_id, const char *session, const char *instance,
                   uint64_t arrival_ps, uint64_t first_token_ps, uint64_t finish_ps,
                   uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens,
                   const char *prefill_instance, uint64_t kv_bytes, uint64_t kv_wait_ps,
                   uint64_t kv_transfer_ps)
{
    int code;
    sqlite3_stmt *st = row_start(db, ST_REQUEST, &code);
    if (!st)
        return code;
    bind_u64(st, 2, req_id);
    bind_text(st, 3, session);
    bind_text(st, 4, instance);
    bind_time(st, 5, arrival_ps);
    bind_time(st, 6, first_token_ps);
    bind_time(st, 7, finish_ps);
    bind_u64(st, 8, input_tokens);
    bind_u64(st, 9, output_tokens);
    bind_u64(st, 10, cached_tokens);
    if (prefill_instance) { /* disaggregated: the phase columns */
        bind_text(st, 11, prefill_instance);
        bind_u64(st, 12, kv_bytes);
        bind_u64(st, 13, kv_wait_ps);
        bind_u64(st, 14, kv_transfer_ps);
    } else {
        for (int k = 11; k <= 14; k++)
            sqlite3_bind_null(st, k);
    }
    return row_finish(db, st, "requests");
}

int res_kv(res_db *db, const char *instance, const char *tier, uint64_t hits, uint64_t misses,
           uint64_t evictions, uint64_t bytes_in, uint64_t bytes_out)
{
    int code;
    sqlite3_stmt *st = row_start(db, ST_KV, &code);
    if (!st)
        return code;
    bind_text(st, 2, instance);
    bind_text(st, 3, tier);
    bind_u64(st, 4, hits);
    bind_u64(st, 5, misses);
    bind_u64(st, 6, evictions);
    bind_u64(st, 7, bytes_in);
    bind_u64(st, 8, bytes_out);
    return row_finish(db, st, "kv");
}

int res_coherence(res_db *db, const char *directory, const char *message, uint64_t count)
{
    int code;
    sqlite3_stmt *st = row_start(db, ST_COHERENCE, &code);
    if (!st)
        return code;
    bind_text(st, 2, directory);
    bind_text(st, 3, message);
    bind_u64(st, 4, count);
    return row_finish(db, st, "coherence");
}

int res_remove(const char *path)
{
    static const char *const side[] = {"-wal", "-shm", "-journal"};
    char buf[4200];
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s", path, side[i]);
        unlink(buf);
    }
    return unlink(path);
}

/* ---- merge ------------------------------------------------------------ */

/* A growable string (sim_alloc). After a failed allocation s is NULL and
 * further appends do nothing. */
typedef struct sbuf {
    char *s;     /* text, or NULL (empty, or after a failed allocation) */
    size_t len;  /* bytes used, without the NUL */
    size_t cap;  /* bytes allocated */
    int oom;     /* an allocation failed */
} sbuf;

static void sb_add(sbuf *b, const char *t)
{
    size_t n = strlen(t);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *s = sim_realloc(b->s, cap);
        if (!s) {
            sim_free(b->s);
            *b = (sbuf){.oom = 1};
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
}

/* Append t as a quoted SQL identifier ("" doubles an embedded quote). */
static void sb_ident(sbuf *b, const char *t)
{
    sb_add(b, "\"");
    for (const char *p = t; *p; p++) {
        char c[2] = {*p, '\0'};
        sb_add(b, *p == '"' ? "\"\"" : c);
    }
    sb_add(b, "\"");
}

/* Build "INSERT INTO main.T (run_id, c...) SELECT ?1, c... FROM memfab_src.T
 * WHERE run_id = ?2" over the columns both databases have (for runs: without
 * run_id, so that dst assigns a fresh one) and prepare it. */
static int prepare_copy(sqlite3 *h, const char *table, sqlite3_stmt **out)
{
    sqlite3_stmt *cols;
    sbuf list = {0}, sql = {0};
    int is_runs = strcmp(table, "runs") == 0;
    int rc = sqlite3_prepare_v2(h,
                                "SELECT name FROM pragma_table_info(?1, 'main') WHERE name <> 'run_id'"
                                " AND name IN (SELECT name FROM pragma_table_info(?1, 'memfab_src'))"
                                " ORDER BY cid",
                                -1, &cols, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(cols, 1, table, -1, SQLITE_STATIC);
    sb_add(&list, "");
    while ((rc = sqlite3_step(cols)) == SQLITE_ROW) {
        if (list.len > 0)
            sb_add(&list, ", ");
        sb_ident(&list, (const char *)sqlite3_column_text(cols, 0));
    }
    sqlite3_finalize(cols);
    if (rc != SQLITE_DONE) {
        sim_free(list.s);
        return rc;
    }
    if (list.oom)
        return SQLITE_NOMEM;
    sb_add(&sql, "INSERT INTO main.");
    sb_ident(&sql, table);
    sb_add(&sql, is_runs ? " (" : " (run_id, ");
    sb_add(&sql, list.s);
    sb_add(&sql, is_runs ? ") SELECT " : ") SELECT ?1, ");
    sb_add(&sql, list.s);
    sb_add(&sql, " FROM memfab_src.");
    sb_ident(&sql, table);
    sb_add(&sql, " WHERE run_id = ?2");
    sim_free(list.s);
    if (sql.oom)
        return SQLITE_NOMEM;
    rc = sqlite3_prepare_v2(h, sql.s, -1, out, NULL);
    sim_free(sql.s);
    return rc;
}

/* A merger keeps what one source taught it for the next: the source
 * schema it checked (its tables and columns, and meta's application and
 * contract) and the copy statements built for it. A source with the same
 * schema is then checked by one query on the attached file, and the
 * statements are reused (SQLite recompiles them for the new attachment);
 * a source whose schema differs is opened and checked as res_open_readonly
 * does and gets statements of its own. Merging 1,000 sweep points, this
 * removes two thirds of the merge's CPU (the checks and the column lists,
 * each a handful of queries per source). */
struct res_merger {
    res_db *dst;
    char *schema;                  /* the checked source schema, or NULL */
    sqlite3_stmt *copy_run, *copy[N_MERGE];
    /* record files (see "record files" below): the column section last
     * found equal to dst's columns, and the INSERTs compiled for it */
    unsigned char *rec_cols;
    size_t rec_cols_len;
    sqlite3_stmt *ins[1 + N_MERGE]; /* runs, then merge_tables */
    size_t ncols[1 + N_MERGE];
    /* batches of record files (res_merger_set_batch): points per
     * transaction, points in the open one, and the statements that open,
     * commit and mark it (each point in a savepoint, so that a record that
     * fails half-way is undone alone) */
    unsigned batch, inb;
    sqlite3_stmt *tx[4];
};

enum { TX_BEGIN, TX_COMMIT, TX_SAVE, TX_RELEASE };
static const char *const tx_sql[4] = {"BEGIN IMMEDIATE", "COMMIT", "SAVEPOINT memfab_point",
                                      "RELEASE memfab_point"};

res_merger *res_merger_new(res_db *dst, sim_err *err)
{
    if (!dst) {
        sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "res_merge: no database or source");
        return NULL;
    }
    res_merger *m = sim_calloc(1, sizeof *m);
    if (!m) {
        sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        return NULL;
    }
    m->dst = dst;
    m->batch = 1;
    return m;
}

int res_merger_set_batch(res_merger *m, unsigned points)
{
    if (!m)
        return SIM_EINVAL;
    m->batch = points ? points : 1;
    return SIM_OK;
}

/* Commit the open batch, if any: SQLITE_OK or the error (the batch is then
 * rolled back: its points are not in dst). */
static int merger_commit(res_merger *m)
{
    if (!m->inb)
        return SQLITE_OK;
    sqlite3 *h = m->dst->h;
    int rc = step_done(m->tx[TX_COMMIT]);
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(h))
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    m->inb = 0;
    m->dst->batch_open = 0;
    return rc;
}

int res_merger_commit(res_merger *m, sim_err *err)
{
    if (!m)
        return SIM_OK;
    int rc = merger_commit(m);
    assert(assert_res_state(m->dst));
    return rc == SQLITE_OK ? SIM_OK
                           : sim_err_set(err, SIM_EIO, NULL, 0, 0, "merging into %s: %s",
                                         m->dst->path, sqlite3_errmsg(m->dst->h));
}

static void merger_forget(res_merger *m)
{
    sim_free(m->schema);
    m->schema = NULL;
    sqlite3_finalize(m->copy_run);
    m->copy_run = NULL;
    for (size_t t = 0; t < N_MERGE; t++) {
        sqlite3_finalize(m->copy[t]);
        m->copy[t] = NULL;
    }
}

static void merger_forget_records(res_merger *m)
{
    sim_free(m->rec_cols);
    m->rec_cols = NULL;
    m->rec_cols_len = 0;
    for (size_t t = 0; t < 1 + N_MERGE; t++) {
        sqlite3_finalize(m->ins[t]);
        m->ins[t] = NULL;
    }
}

void res_merger_free(res_merger *m)
{
    if (!m)
        return;
    (void)merger_commit(m);   /* callers that must know commit first */
    for (int i = 0; i < 4; i++)
        sqlite3_finalize(m->tx[i]);
    merger_forget(m);
    merger_forget_records(m);
    sim_free(m);
}

/* The attached source's schema (every table and index with its SQL) and
 * meta's application and contract, as one string; NULL when the query
 * fails (no meta table, not a database: the full check says why). */
static char *src_schema(sqlite3 *h)
{
    sqlite3_stmt *st;
    char *out = NULL;
    if (sqlite3_prepare_v2(h,
                           "SELECT (SELECT group_concat(type || ' ' || name || ' ' ||"
                           " coalesce(sql, ''), char(10)) FROM (SELECT * FROM"
                           " memfab_src.sqlite_master ORDER BY type, name)) || char(10) ||"
                           " (SELECT value FROM memfab_src.meta WHERE key = 'application') ||"
                           " ' ' || (SELECT value FROM memfab_src.meta WHERE key = 'contract')",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        out = sim_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static int attach_src(sqlite3 *h, const char *src_path)
{
    sqlite3_stmt *attach;
    int rc = sqlite3_prepare_v2(h, "ATTACH DATABASE ?1 AS memfab_src", -1, &attach, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(attach, 1, src_path, -1, SQLITE_STATIC);
        rc = step_done(attach);
        sqlite3_finalize(attach);
    }
    return rc;
}

/* What res_merge refuses before it looks at the source: SIM_OK or the code. */
static int merge_precheck(res_db *dst, const char *src_path, sim_err *err)
{
    struct stat ss, ds;
    if (!dst || !src_path)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "res_merge: no database or source");
    if (dst->readonly)
        return sim_err_set(err, SIM_ESTATE, NULL, 0, 0, "%s is open read-only", dst->path);
    if (dst->run_id)
        return sim_err_set(err, SIM_ESTATE, NULL, 0, 0,
                           "%s: cannot merge while run %" PRId64 " is in progress", dst->path,
                           dst->run_id);
    if (stat(src_path, &ss) == 0 && stat(dst->path, &ds) == 0 && ss.st_dev == ds.st_dev &&
        ss.st_ino == ds.st_ino)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "cannot merge %s into itself", src_path);
    return SIM_OK;
}

int res_merger_add(res_merger *m, const char *src_path, sim_err *err)
{
    sqlite3_stmt *list = NULL;
    struct stat ss;
    int code = SIM_OK, rc, n = 0, attached = 0;
    res_db *dst = m ? m->dst : NULL;

    if ((code = merge_precheck(dst, src_path, err)) != SIM_OK)
        return code;
    /* the points before it are committed first: ATTACH wants no transaction */
    if ((code = res_merger_commit(m, err)) != SIM_OK)
        return code;

    sqlite3 *h = dst->h;
    char *schema = NULL;
    if (m->schema && stat(src_path, &ss) == 0 && S_ISREG(ss.st_mode)) {
        /* the schema checked last time: one query says whether it is this
         * one; anything else (another schema, not a database) is checked
         * in full below, which says what is wrong */
        if (attach_src(h, src_path) == SQLITE_OK) {
            attached = 1;
            schema = src_schema(h);
            if (!schema || strcmp(schema, m->schema) != 0) {
                sqlite3_exec(h, "DETACH DATABASE memfab_src", NULL, NULL, NULL);
                attached = 0;
            }
        }
    }
    if (!attached) {
        /* Check the source the way tools open it: read-only, memfab only. */
        res_db *src = open_db(src_path, 1, 0, err, &code);
        if (!src) {
            sim_free(schema);
            return code;
        }
        res_close(src);
        merger_forget(m);
        if ((rc = attach_src(h, src_path)) != SQLITE_OK)
            goto sqlerr;
        attached = 1;
        sim_free(schema);
        schema = src_schema(h);   /* NULL: checked, but not remembered */
        if ((rc = prepare_copy(h, "runs", &m->copy_run)) != SQLITE_OK)
            goto sqlerr;
        for (size_t t = 0; t < N_MERGE; t++)
            if ((rc = prepare_copy(h, merge_tables[t], &m->copy[t])) != SQLITE_OK)
                goto sqlerr;
        m->schema = schema;
        schema = NULL;
    }
    if ((rc = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
        goto sqlerr;
    rc = sqlite3_prepare_v2(h, "SELECT run_id FROM memfab_src.runs ORDER BY run_id", -1, &list,
                            NULL);
    if (rc != SQLITE_OK)
        goto sqlerr;
    while ((rc = sqlite3_step(list)) == SQLITE_ROW) {
        sqlite3_int64 old_id = sqlite3_column_int64(list, 0);
        sqlite3_bind_int64(m->copy_run, 2, old_id);
        if ((rc = step_done(m->copy_run)) != SQLITE_OK)
            goto sqlerr;
        sqlite3_int64 new_id = sqlite3_last_insert_rowid(h);
        for (size_t t = 0; t < N_MERGE; t++) {
            sqlite3_bind_int64(m->copy[t], 1, new_id);
            sqlite3_bind_int64(m->copy[t], 2, old_id);
            if ((rc = step_done(m->copy[t])) != SQLITE_OK)
                goto sqlerr;
        }
        n++;
    }
    if (rc != SQLITE_DONE)
        goto sqlerr;
    sqlite3_finalize(list);
    list = NULL;
    if ((rc = sqlite3_exec(h, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        goto sqlerr;
    code = n;
    goto out;

sqlerr:
    code = sim_err_set(err, SIM_EIO, NULL, 0, 0, "merging %s into %s: %s", src_path, dst->path,
                       sqlite3_errmsg(h));
    merger_forget(m);   /* statements of a failed source are not trusted again */
out:
    sim_free(schema);
    sqlite3_finalize(list);
    if (m->copy_run)
        sqlite3_reset(m->copy_run);
    for (size_t t = 0; t < N_MERGE; t++)
        if (m->copy[t])
            sqlite3_reset(m->copy[t]);
    if (!sqlite3_get_autocommit(h))
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    if (attached)
        sqlite3_exec(h, "DETACH DATABASE memfab_src", NULL, NULL, NULL);
    assert(assert_res_state(dst));
    return code;
}

int res_merge(res_db *dst, const char *src_path, sim_err *err)
{
    res_merger *m = res_merger_new(dst, err);
    if (!m)
        return err->code ? err->code : SIM_ENOMEM;
    int rc = res_merger_add(m, src_path, err);
    res_merger_free(m);
    return rc;
}

/* ---- record files ------------------------------------------------------
 *
 * Merging a database costs SQLite an ATTACH, which parses the file's whole
 * schema (11 tables, 8 indexes, 8 views), and a recompilation of every copy
 * statement for the new attachment: about 0.6 ms of CPU, more than a small
 * sweep point's rows cost to copy. A sweep worker therefore also writes its
 * rows as a record file while its own connection (schema parsed) is open,
 * and the merger inserts them through statements compiled once.
 *
 * The database stays the point's result, complete and valid; the record
 * file is a cache of it, used only when it provably belongs to it:
 *
 *   header (64 bytes, little-endian u64 after the magic):
 *     "memfab-records1\n" (16 bytes)
 *     st_dev, st_ino, st_size, st_mtime (ns) of the database file when the
 *     record was saved (unchanged by the rename of <id>.db.part to <id>.db;
 *     any write to the database changes its size or mtime)
 *     length of the body, FNV-1a 64 of the body
 *   body:
 *     u32 tables (1 + N_MERGE: runs, then merge_tables), each: name, u32
 *     column count, column names (strings are u32 length + bytes): every
 *     column but run_id, in cid order
 *     per run, in run_id order: 'R', the runs row; then per merge table its
 *     rows, each '+' and the values; '.' ends the table
 *     'E'
 *   value: 'n' NULL | 'i' i64 | 'f' the double's bits | 't' text | 'b' blob
 *
 * Rows are read by "SELECT <columns> FROM T WHERE run_id = ?", the query
 * the ATTACH path runs, so they come in its order. The merger uses a
 * record only when the header matches the database's stat, the body its
 * checksum, and the column section dst's own columns (so the ATTACH path
 * would copy exactly these columns in this order); anything else falls back
 * to the database, with its checks and its errors. Rows go in through the
 * same dst, in the same order, with the same values, so the merged file is
 * the one the ATTACH path writes (check_res merger_records_*).
 * ------------------------------------------------------------------------ */

#define REC_MAGIC "memfab-records1\n"
#define REC_HEADER 64

/* A growable byte buffer (sim_alloc); oom set after a failed allocation. */
typedef struct bbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} bbuf;

static void bb_put(bbuf *b, const void *v, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 256;
        unsigned char *p = sim_realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, v, n);
    b->len += n;
}

static void le_store(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t le_load(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void bb_u8(bbuf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    bb_put(b, &c, 1);
}

static void bb_u32(bbuf *b, uint64_t v)
{
    unsigned char x[4];
    le_store(x, v, 4);
    bb_put(b, x, 4);
}

static void bb_u64(bbuf *b, uint64_t v)
{
    unsigned char x[8];
    le_store(x, v, 8);
    bb_put(b, x, 8);
}

static void bb_bytes(bbuf *b, const void *v, size_t n)
{
    if (n > UINT32_MAX) {
        b->oom = 1;
        return;
    }
    bb_u32(b, n);
    bb_put(b, v, n);
}

/* FNV-1a, 64 bits (Fowler, Noll, Vo; http://www.isthe.com/chongo/tech/comp/fnv/). */
static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

struct res_records {
    bbuf body;
};

void res_records_free(res_records *r)
{
    if (!r)
        return;
    sim_free(r->body.p);
    sim_free(r);
}

/* "SELECT c... FROM <schema>.T WHERE run_id = ?1" over every column but
 * run_id (cid order) of schema.T, with the column names appended to b
 * (count, then names) when b is not NULL, or the count in *ncols. */
static int columns_of(sqlite3 *h, const char *schema, const char *table, bbuf *names,
                      size_t *ncols, char **select_sql)
{
    sqlite3_stmt *cols;
    sbuf list = {0}, sql = {0};
    bbuf nb = {0};
    size_t n = 0;
    int rc = sqlite3_prepare_v2(h, "SELECT name FROM pragma_table_info(?1, ?2)"
                                   " WHERE name <> 'run_id' ORDER BY cid",
                                -1, &cols, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(cols, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(cols, 2, schema, -1, SQLITE_STATIC);
    sb_add(&list, "");
    while ((rc = sqlite3_step(cols)) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(cols, 0);
        if (list.len > 0)
            sb_add(&list, ", ");
        sb_ident(&list, c);
        bb_bytes(&nb, c, strlen(c));
        n++;
    }
    sqlite3_finalize(cols);
    if (rc == SQLITE_DONE)
        rc = list.oom || nb.oom ? SQLITE_NOMEM : SQLITE_OK;
    if (rc == SQLITE_OK && n == 0)
        rc = SQLITE_ERROR;   /* no such table */
    if (rc == SQLITE_OK && names) {
        bb_u32(names, n);
        bb_put(names, nb.p, nb.len);
    }
    if (rc == SQLITE_OK && select_sql) {
        sb_add(&sql, "SELECT ");
        sb_add(&sql, list.s);
        sb_add(&sql, " FROM ");
        sb_ident(&sql, schema);
        sb_add(&sql, ".");
        sb_ident(&sql, table);
        sb_add(&sql, " WHERE run_id = ?1");
        if (sql.oom)
            rc = SQLITE_NOMEM;
        *select_sql = sql.s;
    }
    *ncols = n;
    sim_free(list.s);
    sim_free(nb.p);
    return rc;
}

/* The values of the current row of st (n columns but column skip) onto b. */
static void put_row(bbuf *b, sqlite3_stmt *st, size_t n, int skip)
{
    for (size_t c = 0; c < n; c++) {
        int i = (int)c;
        if (i == skip)
            continue;
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            bb_u8(b, 'i');
            bb_u64(b, (uint64_t)sqlite3_column_int64(st, i));
            break;
        case SQLITE_FLOAT: {
            double d = sqlite3_column_double(st, i);
            uint64_t bits;
            memcpy(&bits, &d, sizeof bits);
            bb_u8(b, 'f');
            bb_u64(b, bits);
            break;
        }
        case SQLITE_TEXT: {
            const unsigned char *t = sqlite3_column_text(st, i);
            bb_u8(b, 't');
            bb_bytes(b, t, (size_t)sqlite3_column_bytes(st, i));
            break;
        }
        case SQLITE_BLOB: {
            const void *v = sqlite3_column_blob(st, i);
            bb_u8(b, 'b');
            bb_bytes(b, v, (size_t)sqlite3_column_bytes(st, i));
            break;
        }
        default:
            bb_u8(b, 'n');
        }
    }
}

res_records *res_records_take(res_db *db, sim_err *err)
{
    if (!db || db->readonly || db->run_id) {
        sim_err_set(err, SIM_ESTATE, NULL, 0, 0, "records: the database must be writable and idle");
        return NULL;
    }
    res_records *r = sim_calloc(1, sizeof *r);
    sqlite3_stmt *sel[1 + N_MERGE] = {0}, *list = NULL;
    size_t ncols[1 + N_MERGE];
    int idcol[1 + N_MERGE];   /* where run_id is in SELECT *, which it skips */
    int rc = r ? SQLITE_OK : SQLITE_NOMEM;
    if (r)
        bb_u32(&r->body, 1 + N_MERGE);
    /* SELECT * rather than a column list from pragma_table_info (one more
     * compilation per table in every worker): the same plan, hence rows in
     * the same order, as the ATTACH path's column list, because every index
     * of these tables leads with run_id, so whether run_id is selected
     * changes no index's coverage */
    for (size_t t = 0; rc == SQLITE_OK && t < 1 + N_MERGE; t++) {
        const char *table = t == 0 ? "runs" : merge_tables[t - 1];
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT * FROM main.%s WHERE run_id = ?1", table);
        bb_bytes(&r->body, table, strlen(table));
        rc = sqlite3_prepare_v2(db->h, sql, -1, &sel[t], NULL);
        if (rc != SQLITE_OK)
            break;
        int n = sqlite3_column_count(sel[t]);
        idcol[t] = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(sqlite3_column_name(sel[t], i), "run_id") == 0)
                idcol[t] = i;
        if (idcol[t] < 0) {
            rc = SQLITE_CORRUPT;
            break;
        }
        ncols[t] = (size_t)n - 1;
        bb_u32(&r->body, ncols[t]);
        for (int i = 0; i < n; i++)
            if (i != idcol[t]) {
                const char *c = sqlite3_column_name(sel[t], i);
                bb_bytes(&r->body, c, strlen(c));
            }
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL);   /* one snapshot */
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db->h, "SELECT run_id FROM main.runs ORDER BY run_id", -1, &list,
                                NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(list)) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(list, 0);
        rc = SQLITE_OK;
        for (size_t t = 0; rc == SQLITE_OK && t < 1 + N_MERGE; t++) {
            sqlite3_bind_int64(sel[t], 1, id);
            int n = 0;
            while ((rc = sqlite3_step(sel[t])) == SQLITE_ROW) {
                bb_u8(&r->body, t == 0 ? 'R' : '+');
                put_row(&r->body, sel[t], ncols[t] + 1, idcol[t]);
                n++;
            }
            sqlite3_reset(sel[t]);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            if (t == 0 && n != 1)
                rc = SQLITE_CORRUPT;   /* run_id is the key of runs */
            if (t > 0)
                bb_u8(&r->body, '.');
        }
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    if (rc == SQLITE_OK) {
        bb_u8(&r->body, 'E');
        if (r->body.oom)
            rc = SQLITE_NOMEM;
    }
    const char *why = rc == SQLITE_OK ? NULL : sqlite3_errmsg(db->h);
    if (rc != SQLITE_OK)
        sim_err_set(err, rc == SQLITE_NOMEM ? SIM_ENOMEM : SIM_EIO, NULL, 0, 0,
                    "records of %s: %s", db->path, why);
    sqlite3_finalize(list);
    for (size_t t = 0; t < 1 + N_MERGE; t++)
        sqlite3_finalize(sel[t]);
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
    assert(assert_res_state(db));
    if (rc != SQLITE_OK) {
        res_records_free(r);
        return NULL;
    }
    return r;
}

static uint64_t mtime_ns(const struct stat *st)
{
    return (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
}

int res_records_save(const res_records *r, const char *db_path, const char *rec_path,
                     sim_err *err)
{
    struct stat st;
    if (!r || !db_path || !rec_path)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "records: nothing to save");
    if (stat(db_path, &st) != 0)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", db_path, strerror(errno));
    unsigned char h[REC_HEADER];
    memcpy(h, REC_MAGIC, 16);
    le_store(h + 16, (uint64_t)st.st_dev, 8);
    le_store(h + 24, (uint64_t)st.st_ino, 8);
    le_store(h + 32, (uint64_t)st.st_size, 8);
    le_store(h + 40, mtime_ns(&st), 8);
    le_store(h + 48, r->body.len, 8);
    le_store(h + 56, fnv1a64(r->body.p, r->body.len), 8);
    FILE *f = fopen(rec_path, "wb");
    if (!f)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", rec_path, strerror(errno));
    int ok = fwrite(h, 1, sizeof h, f) == sizeof h &&
             fwrite(r->body.p, 1, r->body.len, f) == r->body.len;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(rec_path);
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", rec_path, strerror(e));
    }
    return SIM_OK;
}

/* The whole of a record file whose header matches db_path's stat and whose
 * body its checksum, or NULL (*len: the body's length; the body starts at
 * REC_HEADER). */
static unsigned char *rec_load(const char *rec_path, const char *db_path, size_t *len)
{
    struct stat ds, rs;
    unsigned char *buf = NULL;
    if (stat(db_path, &ds) != 0)
        return NULL;
    FILE *f = fopen(rec_path, "rb");
    if (!f)
        return NULL;
    if (fstat(fileno(f), &rs) != 0 || rs.st_size < REC_HEADER)
        goto bad;
    size_t n = (size_t)rs.st_size;
    if (!(buf = sim_alloc(n)) || fread(buf, 1, n, f) != n)
        goto bad;
    if (memcmp(buf, REC_MAGIC, 16) != 0 || le_load(buf + 16, 8) != (uint64_t)ds.st_dev ||
        le_load(buf + 24, 8) != (uint64_t)ds.st_ino ||
        le_load(buf + 32, 8) != (uint64_t)ds.st_size || le_load(buf + 40, 8) != mtime_ns(&ds) ||
        le_load(buf + 48, 8) != n - REC_HEADER ||
        le_load(buf + 56, 8) != fnv1a64(buf + REC_HEADER, n - REC_HEADER))
        goto bad;
    fclose(f);
    *len = n - REC_HEADER;
    return buf;
bad:
    fclose(f);
    sim_free(buf);
    return NULL;
}

/* A cursor over a record body; any read past its end sets bad. */
typedef struct rcur {
    const unsigned char *p, *end;
    int bad;
} rcur;

static int rc_has(rcur *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = 1;
        return 0;
    }
    return 1;
}

static unsigned rc_u8(rcur *c)
{
    return rc_has(c, 1) ? *c->p++ : 0;
}

static uint64_t rc_u64(rcur *c, int n)
{
    if (!rc_has(c, (size_t)n))
        return 0;
    uint64_t v = le_load(c->p, n);
    c->p += n;
    return v;
}

static const unsigned char *rc_bytes(rcur *c, size_t *n)
{
    *n = (size_t)rc_u64(c, 4);
    if (!rc_has(c, *n))
        return NULL;
    const unsigned char *v = c->p;
    c->p += *n;
    return v;
}

/* Check the column section at c against dst's columns and prepare the
 * INSERTs for it; SQLITE_OK, or an error when it does not match. */
static int rec_prepare(res_merger *m, rcur *c)
{
    sqlite3 *h = m->dst->h;
    const unsigned char *start = c->p;
    if (rc_u64(c, 4) != 1 + N_MERGE)
        return SQLITE_MISMATCH;
    int rc = SQLITE_OK;
    for (size_t t = 0; rc == SQLITE_OK && t < 1 + N_MERGE; t++) {
        const char *table = t == 0 ? "runs" : merge_tables[t - 1];
        size_t tn;
        const unsigned char *tname = rc_bytes(c, &tn);
        if (!tname || tn != strlen(table) || memcmp(tname, table, tn) != 0)
            return SQLITE_MISMATCH;
        bbuf mine = {0};
        size_t n;
        rc = columns_of(h, "main", table, &mine, &n, NULL);
        if (rc == SQLITE_OK && (!rc_has(c, mine.len) || memcmp(c->p, mine.p, mine.len) != 0))
            rc = SQLITE_MISMATCH;
        sim_free(mine.p);
        if (rc != SQLITE_OK)
            return rc;
        /* the names again, for the INSERT */
        sbuf sql = {0};
        sb_add(&sql, "INSERT INTO main.");
        sb_ident(&sql, table);
        sb_add(&sql, t == 0 ? " (" : " (run_id");
        rc_u64(c, 4);
        for (size_t i = 0; i < n; i++) {
            size_t ln;
            const unsigned char *name = rc_bytes(c, &ln);
            char *z = name ? sim_alloc(ln + 1) : NULL;
            if (!z) {
                sim_free(sql.s);
                return SQLITE_NOMEM;
            }
            memcpy(z, name, ln);
            z[ln] = '\0';
            if (i > 0 || t > 0)
                sb_add(&sql, ", ");
            sb_ident(&sql, z);
            sim_free(z);
        }
        sb_add(&sql, ") VALUES (");
        for (size_t i = 0; i < n + (t > 0); i++) {
            char q[24];
            snprintf(q, sizeof q, "%s?%zu", i ? ", " : "", i + 1);
            sb_add(&sql, q);
        }
        sb_add(&sql, ")");
        if (sql.oom)
            return SQLITE_NOMEM;
        sqlite3_finalize(m->ins[t]);
        m->ins[t] = NULL;
        rc = sqlite3_prepare_v2(h, sql.s, -1, &m->ins[t], NULL);
        sim_free(sql.s);
        m->ncols[t] = n;
    }
    if (rc != SQLITE_OK || c->bad)
        return rc != SQLITE_OK ? rc : SQLITE_MISMATCH;
    m->rec_cols_len = (size_t)(c->p - start);
    if (!(m->rec_cols = sim_alloc(m->rec_cols_len)))
        return SQLITE_NOMEM;
    memcpy(m->rec_cols, start, m->rec_cols_len);
    return SQLITE_OK;
}

/* Bind the next row's n values at c to st from parameter first on. */
static int rec_bind(rcur *c, sqlite3_stmt *st, size_t n, int first)
{
    for (size_t i = 0; i < n && !c->bad; i++) {
        int k = first + (int)i;
        size_t len;
        const unsigned char *v;
        switch (rc_u8(c)) {
        case 'n': sqlite3_bind_null(st, k); break;
        case 'i': sqlite3_bind_int64(st, k, (sqlite3_int64)rc_u64(c, 8)); break;
        case 'f': {
            uint64_t bits = rc_u64(c, 8);
            double d;
            memcpy(&d, &bits, sizeof d);
            sqlite3_bind_double(st, k, d);
            break;
        }
        case 't':
            if ((v = rc_bytes(c, &len)) != NULL)
                sqlite3_bind_text(st, k, (const char *)v, (int)len, SQLITE_STATIC);
            break;
        case 'b':
            if ((v = rc_bytes(c, &len)) != NULL)
                sqlite3_bind_blob(st, k, v, (int)len, SQLITE_STATIC);
            break;
        default: c->bad = 1;
        }
    }
    return c->bad ? SQLITE_MISMATCH : SQLITE_OK;
}

/* Insert the runs of a checked record body into dst, in the open batch
 * (one is begun when none is; it is committed when it holds m->batch
 * points): the number of runs, -1 (this body's rows undone, the batch
 * intact) when the body does not parse or an insert fails, or -2 when the
 * batch's commit failed (its points are then not in dst). */
static int rec_insert(res_merger *m, const unsigned char *body, size_t len)
{
    sqlite3 *h = m->dst->h;
    rcur c = {body, body + len, 0};
    if (!m->rec_cols || len < m->rec_cols_len ||
        memcmp(body, m->rec_cols, m->rec_cols_len) != 0) {
        merger_forget_records(m);
        if (rec_prepare(m, &c) != SQLITE_OK) {
            merger_forget_records(m);
            return -1;
        }
    } else {
        c.p += m->rec_cols_len;
    }
    for (int i = 0; i < 4; i++)
        if (!m->tx[i] && sqlite3_prepare_v3(h, tx_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                            &m->tx[i], NULL) != SQLITE_OK)
            return -1;
    if (!m->inb && step_done(m->tx[TX_BEGIN]) != SQLITE_OK)
        return -1;
    m->dst->batch_open = 1;
    if (step_done(m->tx[TX_SAVE]) != SQLITE_OK) {
        if (!m->inb) {
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            m->dst->batch_open = 0;
        }
        return -1;
    }
    int n = 0, rc = SQLITE_OK;
    unsigned tag = 0;
    while (rc == SQLITE_OK && (tag = rc_u8(&c)) == 'R') {
        rc = rec_bind(&c, m->ins[0], m->ncols[0], 1);
        if (rc == SQLITE_OK)
            rc = step_done(m->ins[0]);
        sqlite3_int64 id = sqlite3_last_insert_rowid(h);
        for (size_t t = 1; rc == SQLITE_OK && t < 1 + N_MERGE; t++) {
            unsigned r = 0;
            while (rc == SQLITE_OK && (r = rc_u8(&c)) == '+') {
                sqlite3_bind_int64(m->ins[t], 1, id);
                rc = rec_bind(&c, m->ins[t], m->ncols[t], 2);
                if (rc == SQLITE_OK)
                    rc = step_done(m->ins[t]);
            }
            if (rc == SQLITE_OK && r != '.')
                rc = SQLITE_MISMATCH;
        }
        n++;
    }
    if (rc == SQLITE_OK && (tag != 'E' || c.p != c.end))
        rc = SQLITE_MISMATCH;
    for (size_t t = 0; t < 1 + N_MERGE; t++)
        if (m->ins[t]) {
            sqlite3_reset(m->ins[t]);
            sqlite3_clear_bindings(m->ins[t]);
        }
    if (rc == SQLITE_OK)
        rc = step_done(m->tx[TX_RELEASE]);
    if (rc != SQLITE_OK) {
        /* undo this body alone; a batch with nothing else in it ends */
        if (!sqlite3_get_autocommit(h))
            sqlite3_exec(h, "ROLLBACK TO memfab_point; RELEASE memfab_point", NULL, NULL, NULL);
        if (!m->inb && !sqlite3_get_autocommit(h))
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
        m->dst->batch_open = !sqlite3_get_autocommit(h);
        if (m->inb && sqlite3_get_autocommit(h)) {
            /* SQLite rolled the whole batch back (a full disk, an I/O error) */
            m->inb = 0;
            return -2;
        }
        return -1;
    }
    if (++m->inb >= m->batch && merger_commit(m) != SQLITE_OK)
        return -2;
    return n;
}

int res_merger_add_records(res_merger *m, const char *rec_path, const char *src_path,
                           int *used, sim_err *err)
{
    int code;
    if (used)
        *used = 0;
    if ((code = merge_precheck(m ? m->dst : NULL, src_path, err)) != SIM_OK)
        return code;
    size_t len;
    unsigned char *buf = rec_path ? rec_load(rec_path, src_path, &len) : NULL;
    int n = buf ? rec_insert(m, buf + REC_HEADER, len) : -1;
    sim_free(buf);
    assert(assert_res_state(m->dst));
    if (n >= 0) {
        if (used)
            *used = 1;
        return n;
    }
    if (n == -2)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "merging %s into %s: %s", src_path,
                           m->dst->path, sqlite3_errmsg(m->dst->h));
    return res_merger_add(m, src_path, err);   /* the database, checked, says the rest */
}
