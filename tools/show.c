/*
 * show.c - memfab show: print a table or view of a results database in the
 * style of the run summary (aligned columns, human units), filtered.
 *
 *   memfab show DB                       the runs and the row count of every table
 *   memfab show DB TABLE [--run ID] [--where KEY=VALUE]... [--limit N] [--raw]
 *
 * No SQL text comes from the user: TABLE must be a table or view of the
 * database (looked up in sqlite_master, then quoted), a --where key must be
 * one of its columns, and every value is a bound parameter.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "results/res.h"
#include "sim/err.h"
#include "sim/mem.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/rdb.h"

enum { SHOW_DEFAULT_LIMIT = 40, SHOW_TEXT_MAX = 48 };

typedef struct where {
    char *col;                 /* a column of the table (validated) */
    const char *op;            /* "=", "!=", "<", "<=", ">", ">=", "GLOB" */
    const char *value;         /* bound as a number when it reads as one */
} where;

typedef struct show_opts {
    const char *db;
    const char *table;
    int64_t run;               /* 0: every run */
    char **wheres;             /* --where arguments as given */
    size_t nwheres;
    long long limit;           /* 0: every row */
    int raw;                   /* exact values, no units */
} show_opts;

static void show_usage(FILE *f)
{
    fputs("usage: memfab show DB [TABLE] [--run ID] [--where KEY=VALUE]... [--limit N] [--raw]\n"
          "\n"
          "Print a table or view of a results database in aligned columns with\n"
          "human units (times from *_ps columns as ns/us/ms/s, bytes as KiB/MiB/GiB,\n"
          "ratios as %, counts with thousands separators). Without TABLE: the runs\n"
          "and the number of rows of every table and view.\n"
          "\n"
          "tables: runs params metrics links timeseries requests kv coherence\n"
          "views:  run_summary run_metrics request_latency kv_hit_ratio\n"
          "        (and sweep_summary in a merged sweep database)\n"
          "\n"
          "options:\n"
          "  --run ID            rows of that run only (tables with a run_id column)\n"
          "  --where KEY=VALUE   rows whose column KEY equals VALUE; a VALUE with * ? [\n"
          "                      is a glob; also KEY!=V, KEY<V, KEY<=V, KEY>V, KEY>=V;\n"
          "                      repeatable (all must hold)\n"
          "  --limit N           at most N rows (default 40; 0 = all); the rows left\n"
          "                      out are counted\n"
          "  --raw               exact stored values (no unit scaling, no separators)\n"
          "  -h, --help          this help\n"
          "\n"
          "examples:\n"
          "  memfab show results/default.db\n"
          "  memfab show results/default.db metrics --run 1 --where scope=gpu0\n"
          "  memfab show results/default.db metrics --where 'name=*_p99' --limit 0\n"
          "  memfab show results/kv-pool.db request_latency --where 'ttft_ps>1000000000000'\n",
          f);
}

/* ---- identifiers --------------------------------------------------------- */

/* Is `name` a table or view of the database? 1 table, 2 view, 0 no. */
static int table_kind(sqlite3 *h, const char *name)
{
    sqlite3_stmt *st;
    int kind = 0;
    if (sqlite3_prepare_v2(h,
                           "SELECT type FROM sqlite_master WHERE name = ? AND type IN"
                           " ('table', 'view') AND name NOT LIKE 'sqlite!_%' ESCAPE '!'",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        kind = strcmp((const char *)sqlite3_column_text(st, 0), "view") == 0 ? 2 : 1;
    sqlite3_finalize(st);
    return kind;
}

/* An identifier in double quotes, quotes doubled. NULL when out of memory. */
static char *quote_ident(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *q = sim_alloc(2 * n + 3);
    if (!q)
        return NULL;
    q[o++] = '"';
    for (; *s; s++) {
        if (*s == '"')
            q[o++] = '"';
        q[o++] = *s;
    }
    q[o++] = '"';
    q[o] = '\0';
    return q;
}

/* The tables and views, comma-separated, for error messages. */
static void list_tables(sqlite3 *h, char *buf, size_t n)
{
    sqlite3_stmt *st;
    size_t o = 0;
    buf[0] = '\0';
    if (sqlite3_prepare_v2(h,
                           "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND"
                           " name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY type, rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(st) == SQLITE_ROW && o < n)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "",
                              (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* ---- formatting ------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_count_column(const char *c)
{
    static const char *const counts[] = {"hits", "misses", "evictions", "packets", "count",
                                         "events", "drops", "ecn_marks", "requests", "finished",
                                         "n", NULL};
    for (size_t i = 0; counts[i]; i++)
        if (strcmp(c, counts[i]) == 0)
            return 1;
    return ends_with(c, "_tokens") || ends_with(c, "_count");
}

static int is_value_column(const char *c)
{
    static const char *const vals[] = {"value", "mean", "stddev", "ci95", "ci_low", "ci_high",
                                       NULL};
    for (size_t i = 0; vals[i]; i++)
        if (strcmp(c, vals[i]) == 0)
            return 1;
    return 0;
}

/* One cell as text. unit/name: the row's `unit` and metric name columns
 * (NULL when the table has none). */
static void cell_text(char *buf, size_t n, sqlite3_stmt *st, int i, const char *col,
                      const char *unit, const char *name, int raw)
{
    int type = sqlite3_column_type(st, i);
    if (type == SQLITE_NULL) {
        snprintf(buf, n, "NULL");
        return;
    }
    if (type == SQLITE_TEXT || type == SQLITE_BLOB) {
        const char *t = (const char *)sqlite3_column_text(st, i);
        if (type == SQLITE_BLOB)
            snprintf(buf, n, "(blob, %d bytes)", sqlite3_column_bytes(st, i));
        else
            human_text(buf, n, t ? t : "", raw ? 0 : SHOW_TEXT_MAX);
        return;
    }
    double v = sqlite3_column_double(st, i);
    if (raw) {
        if (type == SQLITE_INTEGER)
            snprintf(buf, n, "%lld", (long long)sqlite3_column_int64(st, i));
        else
            snprintf(buf, n, "%.17g", v);
        return;
    }
    if (unit && is_value_column(col))
        human_value(buf, n, v, unit, name);
    else if (ends_with(col, "_ps"))
        human_value(buf, n, v * 1e-12, "s", NULL);
    else if (strcmp(col, "wall_s") == 0 || ends_with(col, "_s") || strcmp(col, "makespan") == 0)
        human_value(buf, n, v, "s", NULL);
    else if (strcmp(col, "bytes") == 0 || ends_with(col, "_bytes") ||
             strncmp(col, "bytes_", 6) == 0)
        human_value(buf, n, v, "B", NULL);
    else if (ends_with(col, "per_s") || ends_with(col, "_per_second"))
        human_value(buf, n, v, "/s", NULL);
    else if (human_is_ratio(col))
        human_value(buf, n, v, "", col);
    else if (type == SQLITE_INTEGER && is_count_column(col))
        human_count(buf, n, (long long)sqlite3_column_int64(st, i));
    else if (type == SQLITE_INTEGER)
        snprintf(buf, n, "%lld", (long long)sqlite3_column_int64(st, i));
    else
        snprintf(buf, n, "%.6g", v);
}

/* ---- filters --------------------------------------------------------------- */

/* Parse "KEY<op>VALUE" against the table's columns. 0, or SIM_EINVAL after
 * printing why. */
static int parse_where(const char *arg, sqlite3_stmt *cols, where *w)
{
    static const char *const ops[] = {"!=", "<=", ">=", "=", "<", ">", NULL};
    size_t klen = strcspn(arg, "!<>=");
    const char *op = NULL;
    for (size_t i = 0; ops[i] && !op; i++)
        if (strncmp(arg + klen, ops[i], strlen(ops[i])) == 0)
            op = ops[i];
    if (!klen || !op) {
        fprintf(stderr, "memfab show: --where wants KEY=VALUE (or KEY!=, <, <=, >, >=), not"
                        " '%s'\n", arg);
        return SIM_EINVAL;
    }
    int ncol = sqlite3_column_count(cols);
    const char *col = NULL;
    for (int i = 0; i < ncol && !col; i++) {
        const char *c = sqlite3_column_name(cols, i);
        if (strlen(c) == klen && strncasecmp(c, arg, klen) == 0)
            col = c;
    }
    if (!col) {
        fprintf(stderr, "memfab show: --where '%s': no column '%.*s'; the columns are:", arg,
                (int)klen, arg);
        for (int i = 0; i < ncol; i++)
            fprintf(stderr, "%s %s", i ? "," : "", sqlite3_column_name(cols, i));
        fputc('\n', stderr);
        return SIM_EINVAL;
    }
    w->col = quote_ident(col);
    if (!w->col)
        return SIM_ENOMEM;
    w->value = arg + klen + strlen(op);
    w->op = op;
    if (strcmp(op, "=") == 0 && strpbrk(w->value, "*?["))
        w->op = "GLOB";
    else if (strcmp(op, "!=") == 0 && strpbrk(w->value, "*?["))
        w->op = "NOT GLOB";
    return 0;
}

static void bind_value(sqlite3_stmt *st, int idx, const char *v, int glob)
{
    char *end;
    if (!glob && *v) {
        errno = 0;
        long long i = strtoll(v, &end, 10);
        if (!*end && !errno) {
            sqlite3_bind_int64(st, idx, i);
            return;
        }
        double d = strtod(v, &end);
        if (!*end && !errno) {
            sqlite3_bind_double(st, idx, d);
            return;
        }
    }
    sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
}

/* ---- one table ------------------------------------------------------------- */

/* A growing SQL string. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *t)
{
    size_t n = strlen(t);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = 2 * (b->len + n + 1) + 64;
        char *s = sim_realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
}

static int show_table(sqlite3 *h, const show_opts *o)
{
    int status = SIM_EXIT_OK;
    int kind = table_kind(h, o->table);
    if (!kind) {
        char list[2048];
        list_tables(h, list, sizeof list);
        fprintf(stderr, "memfab show: %s has no table or view '%s'; it has: %s\n", o->db,
                o->table, list);
        return SIM_EXIT_USAGE;
    }
    char *qt = quote_ident(o->table);
    sbuf from = {0}, sql = {0};
    where *ws = sim_calloc(o->nwheres + 1, sizeof *ws);
    sqlite3_stmt *cols = NULL, *st = NULL;
    if (!qt || !ws) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    sb_add(&from, "SELECT * FROM ");
    sb_add(&from, qt);
    sb_add(&from, " LIMIT 0");
    if (sqlite3_prepare_v2(h, from.s ? from.s : "", -1, &cols, NULL) != SQLITE_OK) {
        fprintf(stderr, "memfab show: %s: %s\n", o->table, sqlite3_errmsg(h));
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    int ncol = sqlite3_column_count(cols), has_run = 0, unit_col = -1, name_col = -1;
    for (int i = 0; i < ncol; i++) {
        const char *c = sqlite3_column_name(cols, i);
        if (strcmp(c, "run_id") == 0)
            has_run = 1;
        else if (strcmp(c, "unit") == 0)
            unit_col = i;
        else if (strcmp(c, "name") == 0 || strcmp(c, "metric") == 0)
            name_col = i;
    }
    if (o->run && !has_run) {
        fprintf(stderr, "memfab show: %s has no run_id column; drop --run\n", o->table);
        status = SIM_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < o->nwheres; i++)
        if (parse_where(o->wheres[i], cols, &ws[i])) {
            status = SIM_EXIT_USAGE;
            goto out;
        }

    /* FROM "table" WHERE run_id = ? AND "col" op ? ... */
    sbuf cond = {0};
    sb_add(&cond, " FROM ");
    sb_add(&cond, qt);
    const char *glue = " WHERE ";
    if (o->run) {
        sb_add(&cond, glue);
        sb_add(&cond, "run_id = ?");
        glue = " AND ";
    }
    for (size_t i = 0; i < o->nwheres; i++) {
        sb_add(&cond, glue);
        sb_add(&cond, ws[i].col);
        sb_add(&cond, " ");
        sb_add(&cond, ws[i].op);
        sb_add(&cond, " ?");
        glue = " AND ";
    }
    long long total = 0;
    for (int pass = 0; pass < 2; pass++) {
        sql.len = 0;
        sb_add(&sql, pass == 0 ? "SELECT COUNT(*)" : "SELECT *");
        sb_add(&sql, cond.s ? cond.s : "");
        if (pass == 1) {
            if (kind == 1)
                sb_add(&sql, " ORDER BY rowid");
            sb_add(&sql, " LIMIT ?");
        }
        if (sql.oom || cond.oom) {
            status = SIM_EXIT_RUNTIME;
            break;
        }
        sqlite3_finalize(st);
        st = NULL;
        if (sqlite3_prepare_v2(h, sql.s, -1, &st, NULL) != SQLITE_OK) {
            fprintf(stderr, "memfab show: %s: %s\n", o->table, sqlite3_errmsg(h));
            status = SIM_EXIT_RUNTIME;
            break;
        }
        int idx = 1;
        if (o->run)
            sqlite3_bind_int64(st, idx++, o->run);
        for (size_t i = 0; i < o->nwheres; i++)
            bind_value(st, idx++, ws[i].value, strstr(ws[i].op, "GLOB") != NULL);
        if (pass == 0) {
            if (sqlite3_step(st) == SQLITE_ROW)
                total = sqlite3_column_int64(st, 0);
            continue;
        }
        sqlite3_bind_int64(st, idx, o->limit > 0 ? o->limit : -1);
        htable t;
        if (ht_init(&t, (size_t)ncol)) {
            status = SIM_EXIT_RUNTIME;
            break;
        }
        const char **row = sim_calloc((size_t)ncol + 1, sizeof *row);
        char **cells = sim_calloc((size_t)ncol + 1, sizeof *cells);
        int ok = row && cells;
        for (int i = 0; ok && i < ncol; i++)
            ok = (cells[i] = sim_alloc(4 * SHOW_TEXT_MAX + 64)) != NULL;
        for (int i = 0; ok && i < ncol; i++) {
            char name[256];
            human_text(name, sizeof name, sqlite3_column_name(st, i), SHOW_TEXT_MAX);
            snprintf(cells[i], 4 * SHOW_TEXT_MAX + 64, "%s", name);
            row[i] = cells[i];
        }
        if (ok)
            ht_add(&t, row);
        long long shown = 0;
        while (ok && sqlite3_step(st) == SQLITE_ROW) {
            char unit[64] = "", mname[256] = "";
            if (unit_col >= 0 && sqlite3_column_text(st, unit_col))
                snprintf(unit, sizeof unit, "%s", (const char *)sqlite3_column_text(st, unit_col));
            if (name_col >= 0 && sqlite3_column_text(st, name_col))
                snprintf(mname, sizeof mname, "%s",
                         (const char *)sqlite3_column_text(st, name_col));
            for (int i = 0; i < ncol; i++) {
                cell_text(cells[i], 4 * SHOW_TEXT_MAX + 64, st, i, sqlite3_column_name(st, i),
                          unit_col >= 0 ? unit : NULL, name_col >= 0 ? mname : NULL, o->raw);
                int type = sqlite3_column_type(st, i);
                if (type == SQLITE_INTEGER || type == SQLITE_FLOAT)
                    ht_right(&t, (size_t)i);
            }
            ht_add(&t, row);
            shown++;
        }
        if (shown)
            ht_print(&t, stdout);
        else
            printf("  no rows in %s%s\n", o->table,
                   o->run || o->nwheres ? " that match the filters" : "");
        if (total > shown) {
            char more[32], all[32];
            human_count(more, sizeof more, total - shown);
            snprintf(all, sizeof all, "%lld", total);
            char word[4200], tw[600];
            printf("  %s more row%s: memfab show %s %s", more, total - shown == 1 ? "" : "s",
                   human_shell_word(word, sizeof word, o->db),
                   human_shell_word(tw, sizeof tw, o->table));
            if (o->run)
                printf(" --run %lld", (long long)o->run);
            for (size_t i = 0; i < o->nwheres; i++)
                printf(" --where %s", human_shell_word(word, sizeof word, o->wheres[i]));
            printf(" --limit %s\n", total > 1000 ? "0" : all);
        }
        for (int i = 0; cells && i < ncol; i++)
            sim_free(cells[i]);
        sim_free(cells);
        sim_free(row);
        ht_free(&t);
        if (!ok)
            status = SIM_EXIT_RUNTIME;
    }
    sim_free(cond.s);
out:
    sqlite3_finalize(cols);
    sqlite3_finalize(st);
    for (size_t i = 0; ws && i < o->nwheres; i++)
        sim_free(ws[i].col);
    sim_free(ws);
    sim_free(qt);
    sim_free(from.s);
    sim_free(sql.s);
    return status;
}

/* Without TABLE: the runs, then every table and view with its row count. */
static int show_overview(sqlite3 *h, show_opts *o)
{
    show_opts r = *o;
    r.table = "runs";
    r.nwheres = 0;
    if (r.run) {
        static char buf[64];
        static char *w[1];
        snprintf(buf, sizeof buf, "run_id=%lld", (long long)r.run);
        w[0] = buf;
        r.wheres = w;
        r.nwheres = 1;
        r.run = 0;
    }
    int status = show_table(h, &r);
    if (status)
        return status;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h,
                           "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')"
                           " AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY type, rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return SIM_EXIT_RUNTIME;
    htable t;
    if (ht_init(&t, 3)) {
        sqlite3_finalize(st);
        return SIM_EXIT_RUNTIME;
    }
    ht_right(&t, 2);
    const char *head[3] = {"table", "kind", o->run ? "rows of this run" : "rows"};
    ht_add(&t, head);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        if (strcmp(name, "runs") == 0)
            continue;
        char *qt = quote_ident(name);
        char sql[512], count[32] = "?", shown[128];
        sqlite3_stmt *c = NULL;
        int by_run = 0;
        if (qt) {
            snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE run_id = ?", qt);
            by_run = o->run && sqlite3_prepare_v2(h, sql, -1, &c, NULL) == SQLITE_OK;
            if (!by_run) {
                sqlite3_finalize(c);
                c = NULL;
                snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", qt);
                if (sqlite3_prepare_v2(h, sql, -1, &c, NULL) != SQLITE_OK) {
                    sqlite3_finalize(c);
                    c = NULL;
                }
            }
        }
        if (c) {
            if (by_run)
                sqlite3_bind_int64(c, 1, o->run);
            if (sqlite3_step(c) == SQLITE_ROW)
                human_count(count, sizeof count, sqlite3_column_int64(c, 0));
            sqlite3_finalize(c);
        }
        sim_free(qt);
        human_text(shown, sizeof shown, name, SHOW_TEXT_MAX);
        const char *row[3] = {shown, type, count};
        ht_add(&t, row);
    }
    sqlite3_finalize(st);
    putchar('\n');
    ht_print(&t, stdout);
    ht_free(&t);
    char word[4200];
    printf("  one table: memfab show %s TABLE [--run ID] [--where KEY=VALUE] [--limit N]\n",
           human_shell_word(word, sizeof word, o->db));
    return SIM_EXIT_OK;
}

int cmd_show(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run", required_argument, NULL, 'r'},   {"where", required_argument, NULL, 'w'},
        {"limit", required_argument, NULL, 'n'}, {"raw", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    show_opts o;
    memset(&o, 0, sizeof o);
    o.limit = SHOW_DEFAULT_LIMIT;
    o.wheres = sim_calloc((size_t)argc + 1, sizeof *o.wheres);
    if (!o.wheres)
        return SIM_EXIT_RUNTIME;
    int c, status = SIM_EXIT_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (rdb_parse_id(optarg, &o.run)) {
                fprintf(stderr, "memfab show: --run wants a run id (1, 2, ...), not '%s'\n",
                        optarg);
                status = SIM_EXIT_USAGE;
                goto out;
            }
            break;
        case 'w': o.wheres[o.nwheres++] = optarg; break;
        case 'n': {
            char *end;
            errno = 0;
            o.limit = strtoll(optarg, &end, 10);
            if (!*optarg || *end || errno || o.limit < 0) {
                fprintf(stderr, "memfab show: --limit wants a number of rows (0 = all), not"
                                " '%s'\n", optarg);
                status = SIM_EXIT_USAGE;
                goto out;
            }
            break;
        }
        case 'R': o.raw = 1; break;
        case 'h': show_usage(stdout); goto out;
        default: show_usage(stderr); status = SIM_EXIT_USAGE; goto out;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        fprintf(stderr, "memfab show: expected a results database and at most one table\n");
        show_usage(stderr);
        status = SIM_EXIT_USAGE;
        goto out;
    }
    o.db = argv[optind];
    o.table = optind + 1 < argc ? argv[optind + 1] : NULL;
    int is = rdb_is_sqlite(o.db);
    if (is <= 0) {
        fprintf(stderr, "memfab show: %s: %s\n", o.db,
                is < 0 ? strerror(errno) : "not a SQLite database");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    sim_err err;
    sim_err_clear(&err);
    res_db *db = res_open_readonly(o.db, &err);
    if (!db) {
        sim_err_print(&err);
        status = SIM_EXIT_USAGE;
        goto out;
    }
    status = o.table ? show_table(res_handle(db), &o) : show_overview(res_handle(db), &o);
    res_close(db);
out:
    sim_free(o.wheres);
    return status;
}
