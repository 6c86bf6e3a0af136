/*
 * export.c - memfab export: the tables of a results database as CSV or
 * JSON files, for people who read results with a spreadsheet, pandas, R
 * or jq rather than SQLite.
 *
 *   memfab export DB --format csv|json [--table T]... [-o DIR|-]
 *
 * One file per table, DIR/T.csv or DIR/T.json; DIR defaults to the
 * database's path without `.db` plus `-csv` or `-json` (results/default.db
 * -> results/default-csv/) and is created when absent. Without --table,
 * every table of the database is written (runs, params, metrics, links,
 * timeseries, requests, kv, coherence, meta, and sweep_summary in a merged
 * sweep); --table also takes a view (links_si, requests_si, timeseries_si,
 * runs_si, run_summary, ...). `-o -` writes the one table given to
 * standard output.
 *
 * CSV follows RFC 4180: a header line with the column names, fields
 * separated by commas, lines ended by CRLF, a field that holds a comma, a
 * double quote, CR or LF enclosed in double quotes with inner quotes
 * doubled; NULL is an empty field. Integers are written exactly; reals in
 * the shortest form that reads back to the same double (%.15g, else
 * %.17g). JSON (encoded by Jansson) is an array with one object per row,
 * keys in column order, NULL and non-finite reals as null, one row per
 * line so that line-oriented tools can follow it.
 *
 * Safety: the database is opened read-only (a file that is not a memfab
 * database is refused); an output that is the database itself (or its WAL
 * or shared-memory file), or an existing file of another kind, is refused;
 * every file is written to a temporary file beside it and renamed over the
 * output only after every write, flush, fsync and close succeeded
 * (safeout.h), so an interrupted export leaves the old file or none.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sqlite3.h>

#include "results/res.h"
#include "sim/mem.h"
#include "sim/scn.h"
#include "tools/commands.h"
#include "tools/safeout.h"

enum { FMT_CSV, FMT_JSON };

/* ---- values ------------------------------------------------------------- */

/* The shortest of %.15g and %.17g that reads back to v. */
static void real_text(char *buf, size_t n, double v)
{
    snprintf(buf, n, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, n, "%.17g", v);
}

/* One CSV field (RFC 4180 section 2, rules 5-7). */
static void csv_field(FILE *f, const char *s, size_t len)
{
    if (!memchr(s, ',', len) && !memchr(s, '"', len) && !memchr(s, '\r', len) &&
        !memchr(s, '\n', len)) {
        fwrite(s, 1, len, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static void csv_value(FILE *f, sqlite3_stmt *st, int c)
{
    char buf[64];
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_NULL:
        break;
    case SQLITE_INTEGER:
        fprintf(f, "%lld", (long long)sqlite3_column_int64(st, c));
        break;
    case SQLITE_FLOAT:
        real_text(buf, sizeof buf, sqlite3_column_double(st, c));
        fputs(buf, f);
        break;
    default: {
        const char *t = (const char *)sqlite3_column_text(st, c);
        csv_field(f, t ? t : "", (size_t)sqlite3_column_bytes(st, c));
        break;
    }
    }
}

/* A column's value as a Jansson value (new reference; NULL on no memory). */
static json_t *json_value(sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_NULL:
        return json_null();
    case SQLITE_INTEGER:
        return json_integer((json_int_t)sqlite3_column_int64(st, c));
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(st, c);
        return isfinite(v) ? json_real(v) : json_null();
    }
    default: {
        const char *t = (const char *)sqlite3_column_text(st, c);
        return json_stringn(t ? t : "", (size_t)sqlite3_column_bytes(st, c));
    }
    }
}

/* ---- one table ---------------------------------------------------------- */

/* Write every row of `table` to f. 0, or SIM_EIO / SIM_ENOMEM with err set. */
static int write_table(sqlite3 *h, const char *table, int fmt, FILE *f, sim_err *err)
{
    char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", table);
    sqlite3_stmt *st = NULL;
    if (!sql)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", table, sqlite3_errmsg(h));
    int ncol = sqlite3_column_count(st), code = 0;
    if (fmt == FMT_CSV) {
        for (int c = 0; c < ncol; c++) {
            const char *name = sqlite3_column_name(st, c);
            if (c)
                fputc(',', f);
            csv_field(f, name, strlen(name));
        }
        fputs("\r\n", f);
    } else {
        fputs("[", f);
    }
    size_t rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fmt == FMT_CSV) {
            for (int c = 0; c < ncol; c++) {
                if (c)
                    fputc(',', f);
                csv_value(f, st, c);
            }
            fputs("\r\n", f);
        } else {
            json_t *row = json_object();
            for (int c = 0; row && c < ncol; c++)
                if (json_object_set_new(row, sqlite3_column_name(st, c), json_value(st, c)))
                    json_decref(row), row = NULL;
            char *text = row ? json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            json_decref(row);
            if (!text) {
                code = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                break;
            }
            fprintf(f, "%s\n%s", rows ? "," : "", text);
            free(text);
        }
        rows++;
        if (ferror(f)) {
            code = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", table, strerror(errno));
            break;
        }
    }
    if (!code && rc != SQLITE_DONE)
        code = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", table, sqlite3_errmsg(h));
    if (!code && fmt == FMT_JSON)
        fputs(rows ? "\n]\n" : "]\n", f);
    sqlite3_finalize(st);
    return code;
}

/* An existing output may be replaced only when it looks like an export. */
static int csv_kind(const unsigned char *head, size_t n)
{
    return memchr(head, '\0', n) == NULL;
}

static int json_kind(const unsigned char *head, size_t n)
{
    size_t i = 0;
    while (i < n && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t'))
        i++;
    return i < n && head[i] == '[';
}

/* ---- the command ------------------------------------------------------------ */

static void export_usage(FILE *f)
{
    fputs("usage: memfab export DB --format csv|json [--table TABLE]... [-o DIR|-]\n"
          "\n"
          "Write the tables of a results database as CSV (RFC 4180) or JSON files, one\n"
          "file per table: DIR/TABLE.csv or DIR/TABLE.json. Times stay integer picoseconds\n"
          "and sizes integer bytes, as in the database; the views runs_si, links_si,\n"
          "requests_si and timeseries_si add seconds and bytes per second (--table).\n"
          "\n"
          "options:\n"
          "  --format csv|json   the file format (required)\n"
          "  -t, --table TABLE   a table or view to write (repeatable; default every table)\n"
          "  -o, --output DIR    the directory (default: DB without .db, plus -csv or\n"
          "                      -json); '-' writes the one --table to standard output\n"
          "  -h, --help          this help\n"
          "\n"
          "Existing files are replaced only when they look like exports; the database\n"
          "itself is never overwritten. Exit status: 0 ok, 1 write failure, 2 usage.\n",
          f);
}

/* The tables (type 'table', or a named table or view) to write. */
static int list_tables(sqlite3 *h, char ***out, size_t *n, sim_err *err)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(h, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT"
                              " LIKE 'sqlite_%' ORDER BY rowid", -1, &st, NULL) != SQLITE_OK)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s", sqlite3_errmsg(h));
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        char **nv = sim_realloc(*out, (*n + 2) * sizeof *nv);
        if (!nv || !(nv[*n] = sim_strdup((const char *)sqlite3_column_text(st, 0)))) {
            if (nv)
                *out = nv;
            rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
            break;
        }
        *out = nv;
        nv[++*n] = NULL;
    }
    sqlite3_finalize(st);
    return rc;
}

/* A --table that names no table or view: an error with a suggestion. */
static int check_table(sqlite3 *h, const char *name, sim_err *err)
{
    sqlite3_stmt *st;
    const char *names[64];
    size_t n = 0;
    int found = 0;
    if (sqlite3_prepare_v2(h, "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                              " AND name NOT LIKE 'sqlite_%' ORDER BY name", -1, &st, NULL) !=
        SQLITE_OK)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s", sqlite3_errmsg(h));
    char all[1024] = "";
    size_t len = 0;
    static char keep[64][64];
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        found |= strcmp(t, name) == 0;
        if (n < 63) {
            snprintf(keep[n], sizeof keep[n], "%s", t);
            names[n] = keep[n];
            n++;
        }
        if (len + strlen(t) + 3 < sizeof all)
            len += (size_t)snprintf(all + len, sizeof all - len, "%s%s", len ? ", " : "", t);
    }
    names[n] = NULL;
    sqlite3_finalize(st);
    if (found)
        return 0;
    const char *sug = scn_suggest(name, names);
    return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                       "no table or view '%s' in the database%s%s%s (there are: %s)", name,
                       sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "", all);
}

int cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'}, {"table", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *format = NULL, *dir = NULL;
    char **tables = sim_calloc((size_t)argc + 1, sizeof *tables), **owned = NULL;
    size_t ntables = 0, nowned = 0;
    int c, status = SIM_EXIT_OK;
    if (!tables) {
        fprintf(stderr, "memfab export: out of memory\n");
        return SIM_EXIT_RUNTIME;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:t:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 't': tables[ntables++] = optarg; break;
        case 'o': dir = optarg; break;
        case 'h': export_usage(stdout); sim_free(tables); return 0;
        default: export_usage(stderr); sim_free(tables); return SIM_EXIT_USAGE;
        }
    }
    int fmt = -1;
    if (format && strcmp(format, "csv") == 0)
        fmt = FMT_CSV;
    else if (format && strcmp(format, "json") == 0)
        fmt = FMT_JSON;
    const char *why = optind != argc - 1 ? "expected one results database"
                      : !format           ? "--format csv|json is required"
                      : fmt < 0           ? "--format must be csv or json"
                      : dir && strcmp(dir, "-") == 0 && ntables != 1
                          ? "-o - (standard output) takes exactly one --table"
                          : NULL;
    if (why) {
        fprintf(stderr, "memfab export: %s%s%s\n", why, fmt < 0 && format ? ", not " : "",
                fmt < 0 && format ? format : "");
        export_usage(stderr);
        sim_free(tables);
        return SIM_EXIT_USAGE;
    }
    const char *dbpath = argv[optind];
    const char *ext = fmt == FMT_CSV ? "csv" : "json";
    sim_err err;
    sim_err_clear(&err);
    char *defdir = NULL, *wal = NULL, *shm = NULL;
    res_db *db = res_open_readonly(dbpath, &err);
    if (!db) {
        sim_err_print(&err);
        sim_free(tables);
        return err.code == SIM_EIO || err.code == SIM_ENOMEM ? SIM_EXIT_RUNTIME : SIM_EXIT_USAGE;
    }
    sqlite3 *h = res_handle(db);
    for (size_t i = 0; i < ntables && !status; i++)
        if (check_table(h, tables[i], &err)) {
            sim_err_print(&err);
            status = SIM_EXIT_USAGE;
        }
    if (status)
        goto out;
    if (!ntables) {
        if (list_tables(h, &owned, &nowned, &err)) {
            sim_err_print(&err);
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        sim_free(tables);
        tables = NULL;
        ntables = nowned;
    }
    char **names = tables ? tables : owned;
    {
    }
    int to_stdout = dir && strcmp(dir, "-") == 0;
    if (!dir) {
        size_t len = strlen(dbpath);
        if (len > 3 && strcmp(dbpath + len - 3, ".db") == 0)
            len -= 3;
        defdir = sim_alloc(len + 8);
        if (!defdir) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        snprintf(defdir, len + 8, "%.*s-%s", (int)len, dbpath, ext);
        dir = defdir;
    }
    struct stat sd;
    if (!to_stdout && mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "memfab export: %s: %s\n", dir, strerror(errno));
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    if (!to_stdout && (stat(dir, &sd) != 0 || !S_ISDIR(sd.st_mode))) {
        fprintf(stderr, "memfab export: %s: not a directory (-o names the directory that"
                        " receives one file per table)\n", dir);
        status = SIM_EXIT_USAGE;
        goto out;
    }
    size_t dl = strlen(dbpath);
    wal = sim_alloc(dl + 8);
    shm = sim_alloc(dl + 8);
    if (!wal || !shm) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    snprintf(wal, dl + 8, "%s-wal", dbpath);
    snprintf(shm, dl + 8, "%s-shm", dbpath);
    const char *inputs[] = {dbpath, wal, shm};
    for (size_t i = 0; i < ntables && !status; i++) {
        char *path = to_stdout ? NULL
                               : sim_alloc(strlen(dir) + strlen(names[i]) + strlen(ext) + 3);
        if (!to_stdout && !path) {
            status = SIM_EXIT_RUNTIME;
            break;
        }
        if (path)
            sprintf(path, "%s/%s.%s", dir, names[i], ext);
        const char *target = path ? path : "-";
        safe_out o;
        if (safe_out_check(target, inputs, 3, fmt == FMT_CSV ? csv_kind : json_kind,
                           fmt == FMT_CSV ? "a CSV file" : "a JSON file", &err) ||
            safe_out_open(&o, target, &err)) {
            sim_err_print(&err);
            status = err.code == SIM_EINVAL ? SIM_EXIT_USAGE : SIM_EXIT_RUNTIME;
        } else if (write_table(h, names[i], fmt, o.f, &err)) {
            safe_out_abort(&o);
            sim_err_print(&err);
            status = SIM_EXIT_RUNTIME;
        } else if (safe_out_commit(&o, &err)) {
            sim_err_print(&err);
            status = SIM_EXIT_RUNTIME;
        } else if (path) {
            fprintf(stderr, "memfab export: %s\n", path);
        }
        sim_free(path);
    }
out:
    res_close(db);
    for (size_t i = 0; i < nowned; i++)
        sim_free(owned[i]);
    sim_free(owned);
    sim_free(tables);
    sim_free(defdir);
    sim_free(wal);
    sim_free(shm);
    return status;
}
