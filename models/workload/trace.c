/*
 * trace.c - lazy readers for LLM request traces (see trace.h for the
 * formats).
 *
 * A file reader owns one growable line buffer and one growable block-id
 * array; each trace_next() reads the next non-blank line into the buffer,
 * parses it (JSON lines with Jansson, CSV and the native format by hand)
 * and points the request at the block-id array. Nothing else accumulates,
 * except the Qwen chat map. trace_next() wraps every source, file or
 * generic, and enforces the stream invariants of trace.h: non-decreasing
 * arrivals and block_tokens == 0 exactly when there are no block ids.
 * Errors are sticky: once a reader failed, it keeps returning that error.
 *
 * Times are converted to picoseconds exactly where the input is decimal
 * text (CSV, native); JSON reals go through a double (Jansson's only
 * representation), rounded to the nearest picosecond.
 */
#include "models/workload/trace.h"
#include "models/workload/trace_catalog.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim/hash.h"
#include "sim/mem.h"
#include "sim/scn.h"

#define MAX_CSV_FIELDS 64
#define PS_PER_S 1000000000000ULL

struct trace_reader {
    /* Configuration, fixed after open. */
    char *path;                   /* file path or source name, for messages */
    trace_format fmt;             /* detected or given format (AUTO: generic) */
    uint32_t block_tokens;        /* tokens per block of this source's ids */
    const trace_source_ops *ops;  /* generic source, or NULL for a file */
    void *ctx;                    /* generic source state */
    int col_time, col_in, col_out, col_session; /* CSV column indices (-1: none) */
    int classes;                  /* native: a class column follows output_tokens */
    /* State, changes per request. */
    FILE *f;                      /* the open file */
    char *rbuf;                   /* read buffer (READ_BUF bytes) */
    size_t rpos, rend;            /* its unread bytes: [rpos, rend) */
    char *line;                   /* current line, NUL-terminated, no newline */
    size_t cap, len;              /* line buffer capacity and length */
    long lineno;                  /* 1-based number of `line` */
    long req_line;                /* line of the last request returned */
    int pending;                  /* `line` holds a data line not yet consumed */
    uint64_t *blocks;             /* block ids of the current request */
    size_t blocks_cap;            /* capacity of blocks */
    uint64_t count;               /* requests returned so far */
    sim_time last;                /* arrival of the last request */
    int status;                   /* 0 reading, 1 ended, <0 sticky error */
    sim_err saved;                /* the sticky error */
    int have_t0;                  /* Azure: first row's time is known */
    int64_t t0_sec;               /* Azure: first row, seconds since the epoch */
    uint64_t t0_frac;             /* Azure: first row, fraction in ps */
    trace_u64map *chats;          /* Qwen: chat_id -> root chat id; native: ids seen */
};

/* ---- Format names ---------------------------------------------------- */

static const char *const format_names[] = {"auto", "mooncake", "azure", "burstgpt", "qwen",
                                           "native"};

int trace_format_parse(const char *name, trace_format *out)
{
    for (size_t i = 0; name && i < sizeof format_names / sizeof format_names[0]; i++) {
        if (strcasecmp(name, format_names[i]) == 0) {
            *out = (trace_format)i;
            return 0;
        }
    }
    return SIM_EINVAL;
}

const char *trace_format_name(trace_format fmt)
{
    if ((unsigned)fmt < sizeof format_names / sizeof format_names[0])
        return format_names[fmt];
    return "unknown";
}

/* ---- The uint64 map ---------------------------------------------------- */

struct trace_u64map {
    uint64_t *keys;      /* cap keys */
    uint64_t *vals;      /* cap values */
    unsigned char *used; /* cap occupancy flags */
    size_t cap, n;       /* capacity (power of two) and entries */
};

static int map_alloc(trace_u64map *m, size_t cap)
{
    m->keys = sim_alloc(cap * sizeof *m->keys);
    m->vals = sim_alloc(cap * sizeof *m->vals);
    m->used = sim_calloc(cap, 1);
    m->cap = cap;
    m->n = 0;
    if (!m->keys || !m->vals || !m->used) {
        sim_free(m->keys);
        sim_free(m->vals);
        sim_free(m->used);
        return SIM_ENOMEM;
    }
    return 0;
}

trace_u64map *trace_u64map_new(void)
{
    trace_u64map *m = sim_alloc(sizeof *m);
    if (!m)
        return NULL;
    if (map_alloc(m, 64) < 0) {
        sim_free(m);
        return NULL;
    }
    return m;
}

void trace_u64map_free(trace_u64map *m)
{
    if (!m)
        return;
    sim_free(m->keys);
    sim_free(m->vals);
    sim_free(m->used);
    sim_free(m);
}

/* Slot of key, or of the empty slot where it would go. */
static size_t map_slot(const trace_u64map *m, uint64_t key)
{
    size_t mask = m->cap - 1, i = (size_t)sim_mix64(key) & mask;
    while (m->used[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

int trace_u64map_put(trace_u64map *m, uint64_t key, uint64_t val)
{
    size_t i = map_slot(m, key);
    if (m->used[i])
        return 0;
    if ((m->n + 1) * 2 > m->cap) {
        trace_u64map old = *m;
        if (map_alloc(m, old.cap * 2) < 0) {
            *m = old;
            return SIM_ENOMEM;
        }
        for (size_t j = 0; j < old.cap; j++) {
            if (old.used[j]) {
                size_t k = map_slot(m, old.keys[j]);
                m->used[k] = 1;
                m->keys[k] = old.keys[j];
                m->vals[k] = old.vals[j];
                m->n++;
            }
        }
        sim_free(old.keys);
        sim_free(old.vals);
        sim_free(old.used);
        i = map_slot(m, key);
    }
    m->used[i] = 1;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 1;
}

int trace_u64map_get(const trace_u64map *m, uint64_t key, uint64_t *val)
{
    size_t i = map_slot(m, key);
    if (!m->used[i])
        return 0;
    if (val)
        *val = m->vals[i];
    return 1;
}

size_t trace_u64map_count(const trace_u64map *m) { return m->n; }

/* ---- Small parsers ----------------------------------------------------- */

/* Set a format error at the current line. */
#define FERR(r, err, col, ...) \
    sim_err_set((err), SIM_EFORMAT, (r)->path, (int)(r)->lineno, (col), __VA_ARGS__)

/* Trim blanks at both ends, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* The whole of s is an unsigned decimal integer <= max. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (*s)
        return -1;
    *out = v;
    return 0;
}

/* The whole of s is a non-negative decimal number of units of 10^-exp10
 * seconds; convert it exactly to picoseconds (digits beyond 1 ps are
 * truncated). */
static int parse_decimal_ps(const char *s, int exp10, sim_time *out)
{
    uint64_t scale = 1, ip = 0, frac = 0, fscale;
    for (int i = 0; i < exp10; i++)
        scale *= 10;
    if (*s == '+')
        s++;
    if (!isdigit((unsigned char)*s) && !(*s == '.' && isdigit((unsigned char)s[1])))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        if (ip > (UINT64_MAX / scale - 9) / 10)
            return -1;
        ip = ip * 10 + (uint64_t)(*s - '0');
    }
    fscale = scale;
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++) {
            if (fscale >= 10) {
                fscale /= 10;
                frac += (uint64_t)(*s - '0') * fscale;
            }
        }
    }
    if (*s)
        return -1;
    uint64_t v = ip * scale;
    if (v > UINT64_MAX - frac)
        return -1;
    *out = v + frac;
    return 0;
}

/* Split a CSV line in place (double quotes with "" escapes). Returns the
 * number of fields; fld/col receive up to max of them (col: 1-based). */
static int csv_split(char *s, char **fld, int *col, int max)
{
    int n = 0;
    char *p = s;
    for (;;) {
        char *start = p, *w;
        if (n < max)
            col[n] = (int)(p - s) + 1;
        if (*p == '"') {
            w = p;
            start = ++p;
            w = start;
            while (*p) {
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            while (*p && *p != ',')
                *w++ = *p++;
        } else {
            while (*p && *p != ',')
                p++;
            w = p;
        }
        char c = *p;
        *w = '\0';
        if (n < max)
            fld[n] = trim(start);
        n++;
        if (c != ',')
            break;
        p++;
    }
    return n;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Parse `YYYY-MM-DD HH:MM:SS[.f...][Z|+HH:MM|-HH:MM]` (a `T` may separate
 * date and time) into UTC seconds since the epoch and a fraction in ps.
 * The fraction is parsed as digits, not through a double, so all 7 (2023)
 * or 6 (2024) digits are exact. */
static int parse_datetime(const char *s, int64_t *sec, uint64_t *frac_ps)
{
    int y, mo, d, h, mi, se, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    s += n;
    if (*s != ' ' && *s != 'T')
        return -1;
    s++;
    n = 0;
    if (sscanf(s, "%2d:%2d:%2d%n", &h, &mi, &se, &n) != 3 || n != 8)
        return -1;
    s += n;
    /* Days per month of the proleptic Gregorian calendar; Feb 29 only in
     * leap years. Second 60 is refused: the traces' clocks (2023, 2024) saw
     * no leap second (the last was 2016-12-31, IERS Bulletin C), and a
     * second 60 would otherwise equal second 0 of the next minute. */
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
        mi > 59 || se > 59 || h < 0 || mi < 0 || se < 0)
        return -1;
    uint64_t f = 0, scale = PS_PER_S;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        for (; isdigit((unsigned char)*s); s++) {
            if (scale >= 10) {
                scale /= 10;
                f += (uint64_t)(*s - '0') * scale;
            }
        }
    }
    int64_t off = 0;
    if (*s == 'Z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int oh, om;
        n = 0;
        if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
            return -1;
        off = (oh * 3600 + om * 60) * (*s == '-' ? -1 : 1);
        s += 6;
    }
    if (*s)
        return -1;
    /* The same value timegm() would give, without its time_t limits. */
    *sec = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - off;
    *frac_ps = f;
    return 0;
}

/* ---- Line reading ------------------------------------------------------ */

/* Longest line a text trace may hold, terminator excluded: a bound on the
 * line buffer, so that a file without line breaks cannot take all memory. */
#define TRACE_MAX_LINE (1u << 20)

/* Read the next line into r->line without its line terminator: 1 = got
 * one, 0 = end of file, <0 = error. A NUL byte is an error (a text trace
 * holds none; /dev/zero or a binary file would otherwise never end a line),
 * and so is a line longer than TRACE_MAX_LINE bytes; whichever comes first
 * in the line is reported. The file is read in blocks of READ_BUF bytes
 * and lines are cut with memchr (a getc per byte was 3% of a replay). */
#define READ_BUF 65536

static int line_room(trace_reader *r, size_t need, sim_err *err)
{
    if (r->cap >= need)
        return 0;
    size_t ncap = r->cap ? r->cap : 4096;
    while (ncap < need)
        ncap *= 2;
    char *nl = sim_realloc(r->line, ncap);
    if (!nl)
        return sim_err_set(err, SIM_ENOMEM, r->path, (int)r->lineno + 1, 0,
                           "out of memory reading a line");
    r->line = nl;
    r->cap = ncap;
    return 0;
}

static int read_line(trace_reader *r, sim_err *err)
{
    r->len = 0;
    int eof = 0;
    for (;;) {
        if (r->rpos == r->rend) {
            if (!r->rbuf && !(r->rbuf = sim_realloc(NULL, READ_BUF)))
                return sim_err_set(err, SIM_ENOMEM, r->path, (int)r->lineno + 1, 0,
                                   "out of memory reading a line");
            size_t n = fread(r->rbuf, 1, READ_BUF, r->f);
            if (n == 0) {
                if (ferror(r->f))
                    return sim_err_set(err, SIM_EIO, r->path, (int)r->lineno + 1, 0,
                                       "read error: %s", strerror(errno));
                eof = 1;
                break;
            }
            r->rpos = 0;
            r->rend = n;
        }
        const char *p = r->rbuf + r->rpos;
        size_t avail = r->rend - r->rpos;
        const char *nl = memchr(p, '\n', avail);
        size_t seg = nl ? (size_t)(nl - p) : avail;
        const char *z = memchr(p, '\0', seg);
        size_t ok = z ? (size_t)(z - p) : seg; /* bytes before a NUL */
        /* the first byte at index TRACE_MAX_LINE of the line, if not a NUL */
        size_t room = r->len < TRACE_MAX_LINE ? TRACE_MAX_LINE - r->len : 0;
        if (room < ok)
            return sim_err_set(err, SIM_EFORMAT, r->path, (int)r->lineno + 1, 0,
                               "line longer than %u bytes", TRACE_MAX_LINE);
        if (z)
            return sim_err_set(err, SIM_EFORMAT, r->path, (int)r->lineno + 1,
                               (int)(r->len + ok) + 1,
                               "NUL byte in a text trace (is this a binary file?)");
        int rc = line_room(r, r->len + seg + 2, err);
        if (rc)
            return rc;
        memcpy(r->line + r->len, p, seg);
        r->len += seg;
        r->rpos += seg;
        if (nl) {
            r->rpos++;
            break;
        }
    }
    if (eof && r->len == 0)
        return 0;
    if (!r->line) {
        /* An empty first line: give the caller a buffer to point at. */
        int rc = line_room(r, 4096, err);
        if (rc)
            return rc;
    }
    r->line[r->len] = '\0';
    r->lineno++;
    while (r->len > 0 && r->line[r->len - 1] == '\r')
        r->line[--r->len] = '\0';
    return 1;
}

static int is_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

/* Next line that holds data: skips blank lines, and `#` comments when
 * comments is set. Uses the pending line first. */
static int next_data_line(trace_reader *r, int comments, sim_err *err)
{
    if (r->pending) {
        r->pending = 0;
        return 1;
    }
    for (;;) {
        int rc = read_line(r, err);
        if (rc <= 0)
            return rc;
        if (is_blank(r->line) || (comments && r->line[0] == '#'))
            continue;
        return 1;
    }
}

static int reserve_blocks(trace_reader *r, size_t n, sim_err *err)
{
    if (n <= r->blocks_cap)
        return 0;
    size_t ncap = r->blocks_cap ? r->blocks_cap : 64;
    while (ncap < n)
        ncap *= 2;
    uint64_t *nb = sim_realloc(r->blocks, ncap * sizeof *nb);
    if (!nb)
        return sim_err_set(err, SIM_ENOMEM, r->path, (int)r->lineno, 0,
                           "out of memory for %zu block ids", n);
    r->blocks = nb;
    r->blocks_cap = ncap;
    return 0;
}

/* ---- JSON lines (Mooncake, Qwen) ---------------------------------------- */

static int json_parse_line(trace_reader *r, json_t **out, sim_err *err)
{
    json_error_t je;
    /* A key given twice would be read as one of its values, silently. */
    json_t *o = json_loadb(r->line, r->len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return FERR(r, err, je.column > 0 ? je.column : 1, "invalid JSON: %s", je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return FERR(r, err, 1, "expected a JSON object");
    }
    *out = o;
    return 0;
}

/* 1-based column of "key" in the current line, 1 when absent. */
static int key_col(const trace_reader *r, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(r->line, pat);
    return p ? (int)(p - r->line) + 1 : 1;
}

/* A required integer field in [lo, hi]. */
static int json_int(trace_reader *r, json_t *o, const char *key, json_int_t lo, json_int_t hi,
                    json_int_t *out, sim_err *err)
{
    int c = key_col(r, key);
    json_t *v = json_object_get(o, key);
    if (!v)
        return FERR(r, err, c, "missing field \"%s\"", key);
    if (!json_is_integer(v))
        return FERR(r, err, c, "field \"%s\" must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < lo)
        return FERR(r, err, c, "field \"%s\" is %s (%lld)", key, x < 0 ? "negative" : "too small",
                    (long long)x);
    if (x > hi)
        return FERR(r, err, c, "field \"%s\" is too large (%lld)", key, (long long)x);
    *out = x;
    return 0;
}

static int json_u32(trace_reader *r, json_t *o, const char *key, uint32_t *out, sim_err *err)
{
    json_int_t x;
    int rc = json_int(r, o, key, 0, UINT32_MAX, &x, err);
    if (rc == 0)
        *out = (uint32_t)x;
    return rc;
}

/* A required non-negative time field counted in units of ps_per_unit. */
static int json_time(trace_reader *r, json_t *o, const char *key, uint64_t ps_per_unit,
                     sim_time *out, sim_err *err)
{
    int c = key_col(r, key);
    json_t *v = json_object_get(o, key);
    if (!v)
        return FERR(r, err, c, "missing field \"%s\"", key);
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0)
            return FERR(r, err, c, "field \"%s\" is negative (%lld)", key, (long long)x);
        if ((uint64_t)x > UINT64_MAX / ps_per_unit)
            return FERR(r, err, c, "field \"%s\" is too large (%lld)", key, (long long)x);
        *out = (uint64_t)x * ps_per_unit;
        return 0;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v) * (double)ps_per_unit;
        if (!(x >= 0))
            return FERR(r, err, c, "field \"%s\" is negative (%g)", key, json_real_value(v));
        if (x >= 1.8e19)
            return FERR(r, err, c, "field \"%s\" is too large (%g)", key, json_real_value(v));
        *out = (sim_time)(x + 0.5);
        return 0;
    }
    return FERR(r, err, c, "field \"%s\" must be a number", key);
}

/* The optional "hash_ids" array into r->blocks. */
static int json_blocks(trace_reader *r, json_t *o, trace_req *out, sim_err *err)
{
    json_t *a = json_object_get(o, "hash_ids");
    out->n_blocks = 0;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return FERR(r, err, key_col(r, "hash_ids"), "field \"hash_ids\" must be an array");
    size_t n = json_array_size(a);
    if (n > UINT32_MAX)
        return FERR(r, err, key_col(r, "hash_ids"), "too many hash_ids");
    int rc = reserve_blocks(r, n, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return FERR(r, err, key_col(r, "hash_ids"),
                        "hash_ids[%zu] must be a non-negative integer", i);
        r->blocks[i] = (uint64_t)json_integer_value(v);
    }
    out->n_blocks = (uint32_t)n;
    out->block_ids = r->blocks;
    return 0;
}

/* The Mooncake fast path. A line of the published traces is one flat
 * object of non-negative integers and one array of them:
 *   {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, 2]}
 * Parsing it with Jansson builds a JSON value per number (70,000
 * instructions a line, 15% of a fluid replay of the conversation trace);
 * this scans it in place. It takes only lines whose meaning is beyond
 * doubt: the four keys of the format, each at most once, spelt without
 * escapes; integers of at most 18 digits without sign, fraction, exponent
 * or leading zero; "hash_ids" an array of them or null; JSON white space
 * only; nothing after the closing brace; every field in range. Anything
 * else (reals, other keys, duplicates, a missing field, any error) returns
 * 0 and the line goes to Jansson, so what is read and every message is
 * Jansson's (check_trace mooncake_fast_equals_jansson). */
static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

/* An unsigned JSON integer of 1-18 digits at p: the character after it, or
 * NULL. */
static const char *json_u60(const char *p, uint64_t *out)
{
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return NULL;
    uint64_t x = 0;
    int n = 0;
    while (*p >= '0' && *p <= '9') {
        if (++n > 18)
            return NULL;
        x = x * 10 + (uint64_t)(*p++ - '0');
    }
    *out = x;
    return p;
}

static int mooncake_fast(trace_reader *r, trace_req *out)
{
    static const char *const keys[] = {"timestamp", "input_length", "output_length",
                                       "hash_ids"};
    static const size_t keylen[] = {9, 12, 13, 8};
    uint64_t v[3] = {0, 0, 0};
    unsigned seen = 0;
    uint32_t nb = 0;
    int null_ids = 0;
    const char *p = json_ws(r->line);
    if (*p++ != '{')
        return 0;
    p = json_ws(p);
    if (*p != '}') {
        for (;;) {
            if (*p++ != '"')
                return 0;
            int k = 0;
            while (k < 4 && !(strncmp(p, keys[k], keylen[k]) == 0 && p[keylen[k]] == '"'))
                k++;
            if (k == 4 || (seen & 1u << k))
                return 0;
            seen |= 1u << k;
            p = json_ws(p + keylen[k] + 1);
            if (*p++ != ':')
                return 0;
            p = json_ws(p);
            if (k < 3) {
                if (!(p = json_u60(p, &v[k])))
                    return 0;
            } else if (strncmp(p, "null", 4) == 0) {
                null_ids = 1;
                p += 4;
            } else {
                if (*p++ != '[')
                    return 0;
                p = json_ws(p);
                if (*p != ']') {
                    for (;;) {
                        uint64_t id;
                        if (!(p = json_u60(p, &id)) || nb == UINT32_MAX ||
                            reserve_blocks(r, (size_t)nb + 1, NULL) < 0)
                            return 0;
                        r->blocks[nb++] = id;
                        p = json_ws(p);
                        if (*p == ']')
                            break;
                        if (*p++ != ',')
                            return 0;
                        p = json_ws(p);
                    }
                }
                p++;
            }
            p = json_ws(p);
            if (*p == '}')
                break;
            if (*p++ != ',')
                return 0;
            p = json_ws(p);
        }
    }
    if (*json_ws(p + 1) != '\0' || (seen & 7u) != 7u || v[0] > UINT64_MAX / SIM_MS ||
        v[1] > UINT32_MAX || v[2] > UINT32_MAX)
        return 0;
    out->id = r->count;
    out->session = 0;
    out->arrival = v[0] * SIM_MS;
    out->input_tokens = (uint32_t)v[1];
    out->output_tokens = (uint32_t)v[2];
    out->n_blocks = 0;
    if ((seen & 8u) && !null_ids) {
        out->n_blocks = nb;
        out->block_ids = r->blocks;
    }
    out->block_tokens = out->n_blocks ? r->block_tokens : 0;
    return 1;
}

static int next_mooncake(trace_reader *r, trace_req *out, sim_err *err)
{
    int rc = next_data_line(r, 0, err);
    if (rc <= 0)
        return rc;
    if (mooncake_fast(r, out))
        return 1;
    json_t *o;
    if ((rc = json_parse_line(r, &o, err)) < 0)
        return rc;
    out->id = r->count;
    out->session = 0;
    if ((rc = json_time(r, o, "timestamp", SIM_MS, &out->arrival, err)) < 0 ||
        (rc = json_u32(r, o, "input_length", &out->input_tokens, err)) < 0 ||
        (rc = json_u32(r, o, "output_length", &out->output_tokens, err)) < 0 ||
        (rc = json_blocks(r, o, out, err)) < 0) {
        json_decref(o);
        return rc;
    }
    json_decref(o);
    out->block_tokens = out->n_blocks ? r->block_tokens : 0;
    return 1;
}

static int next_qwen(trace_reader *r, trace_req *out, sim_err *err)
{
    int rc = next_data_line(r, 0, err);
    if (rc <= 0)
        return rc;
    json_t *o;
    if ((rc = json_parse_line(r, &o, err)) < 0)
        return rc;
    json_int_t chat, parent;
    if ((rc = json_int(r, o, "chat_id", 0, LLONG_MAX, &chat, err)) < 0 ||
        (rc = json_int(r, o, "parent_chat_id", -1, LLONG_MAX, &parent, err)) < 0 ||
        (rc = json_time(r, o, "timestamp", SIM_S, &out->arrival, err)) < 0 ||
        (rc = json_u32(r, o, "input_length", &out->input_tokens, err)) < 0 ||
        (rc = json_u32(r, o, "output_length", &out->output_tokens, err)) < 0 ||
        (rc = json_blocks(r, o, out, err)) < 0) {
        json_decref(o);
        return rc;
    }
    json_decref(o);
    uint64_t root = (uint64_t)chat;
    if (parent >= 0 && !trace_u64map_get(r->chats, (uint64_t)parent, &root))
        root = (uint64_t)parent;
    rc = trace_u64map_put(r->chats, (uint64_t)chat, root);
    if (rc < 0)
        return sim_err_set(err, SIM_ENOMEM, r->path, (int)r->lineno, 0, "out of memory");
    if (rc == 0)
        return FERR(r, err, key_col(r, "chat_id"), "duplicate chat_id %lld", (long long)chat);
    out->id = (uint64_t)chat;
    out->session = root;
    out->block_tokens = out->n_blocks ? r->block_tokens : 0;
    return 1;
}

/* ---- CSV (Azure, BurstGPT) -------------------------------------------- */

static int find_col(char **fld, int n, const char *name)
{
    for (int i = 0; i < n && i < MAX_CSV_FIELDS; i++)
        if (strcasecmp(fld[i], name) == 0)
            return i;
    return -1;
}

/* Parse the CSV header in r->line for r->fmt (AUTO: detect). */
static int csv_header(trace_reader *r, sim_err *err)
{
    char *fld[MAX_CSV_FIELDS];
    int col[MAX_CSV_FIELDS];
    int n = csv_split(r->line, fld, col, MAX_CSV_FIELDS);
    if (n > MAX_CSV_FIELDS)
        n = MAX_CSV_FIELDS;
    if (r->fmt == TRACE_AUTO) {
        if (find_col(fld, n, "ContextTokens") >= 0)
            r->fmt = TRACE_AZURE;
        else if (find_col(fld, n, "Request tokens") >= 0)
            r->fmt = TRACE_BURSTGPT;
        else
            return FERR(r, err, 1,
                        "cannot detect the trace format from the first line (expected a "
                        "memfab-trace header, a JSON object or a CSV header of an Azure or "
                        "BurstGPT trace); use --format");
    }
    const char *t, *in, *outc;
    if (r->fmt == TRACE_AZURE) {
        t = "TIMESTAMP", in = "ContextTokens", outc = "GeneratedTokens";
    } else {
        t = "Timestamp", in = "Request tokens", outc = "Response tokens";
    }
    r->col_time = find_col(fld, n, t);
    r->col_in = find_col(fld, n, in);
    r->col_out = find_col(fld, n, outc);
    r->col_session = r->fmt == TRACE_BURSTGPT ? find_col(fld, n, "Session ID") : -1;
    const char *missing = r->col_time < 0 ? t : r->col_in < 0 ? in : r->col_out < 0 ? outc : NULL;
    if (missing)
        return FERR(r, err, 1, "%s header has no \"%s\" column", trace_format_name(r->fmt),
                    missing);
    return 0;
}

static int next_csv(trace_reader *r, trace_req *out, sim_err *err)
{
    char ex[4 * SIM_EXCERPT_MAX + 8]; /* an escaped excerpt of a bad field */
    int rc = next_data_line(r, 0, err);
    if (rc <= 0)
        return rc;
    char *fld[MAX_CSV_FIELDS];
    int col[MAX_CSV_FIELDS];
    int n = csv_split(r->line, fld, col, MAX_CSV_FIELDS);
    int need = r->col_time;
    if (r->col_in > need)
        need = r->col_in;
    if (r->col_out > need)
        need = r->col_out;
    if (n <= need)
        return FERR(r, err, 1, "expected at least %d comma-separated fields, found %d", need + 1,
                    n);
    uint64_t v;
    if (parse_uint(fld[r->col_in], UINT32_MAX, &v) < 0)
        return FERR(r, err, col[r->col_in], "bad prompt token count \"%s\"",
                    sim_excerpt(fld[r->col_in], ex, sizeof ex));
    out->input_tokens = (uint32_t)v;
    if (parse_uint(fld[r->col_out], UINT32_MAX, &v) < 0)
        return FERR(r, err, col[r->col_out], "bad output token count \"%s\"",
                    sim_excerpt(fld[r->col_out], ex, sizeof ex));
    out->output_tokens = (uint32_t)v;
    const char *ts = fld[r->col_time];
    if (r->fmt == TRACE_AZURE) {
        int64_t sec;
        uint64_t frac;
        if (parse_datetime(ts, &sec, &frac) < 0)
            return FERR(r, err, col[r->col_time],
                        "bad timestamp \"%s\" (expected YYYY-MM-DD HH:MM:SS[.fraction][+HH:MM])",
                        sim_excerpt(ts, ex, sizeof ex));
        if (!r->have_t0) {
            r->have_t0 = 1;
            r->t0_sec = sec;
            r->t0_frac = frac;
        }
        int64_t ds = sec - r->t0_sec;
        if (ds < 0 || (ds == 0 && frac < r->t0_frac))
            return FERR(r, err, col[r->col_time],
                        "timestamp %s is before the first row's (trace must be sorted by time)",
                        sim_excerpt(ts, ex, sizeof ex));
        if ((uint64_t)ds > UINT64_MAX / PS_PER_S - 1)
            return FERR(r, err, col[r->col_time], "timestamp %s is too far from the first row's",
                        sim_excerpt(ts, ex, sizeof ex));
        out->arrival = (uint64_t)ds * PS_PER_S + frac - r->t0_frac;
    } else {
        if (parse_decimal_ps(ts, 12, &out->arrival) < 0)
            return FERR(r, err, col[r->col_time], "bad timestamp \"%s\" (expected seconds >= 0)",
                        sim_excerpt(ts, ex, sizeof ex));
    }
    out->id = r->count;
    out->session = 0;
    if (r->col_session >= 0 && r->col_session < n && r->col_session < MAX_CSV_FIELDS &&
        *fld[r->col_session]) {
        const char *s = fld[r->col_session];
        if (parse_uint(s, UINT64_MAX, &out->session) < 0) {
            uint64_t h = 1469598103934665603ULL; /* FNV-1a */
            for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
            out->session = h;
        }
    }
    out->n_blocks = 0;
    out->block_tokens = 0;
    return 1;
}

/* ---- Native ------------------------------------------------------------- */

static int native_header(trace_reader *r, sim_err *err)
{
    char ex[4 * SIM_EXCERPT_MAX + 8]; /* an escaped excerpt of a bad word */
    static const char magic[] = "# memfab-trace";
    if (strncmp(r->line, magic, sizeof magic - 1) != 0)
        return FERR(r, err, 1, "native trace must start with \"# memfab-trace v1\"");
    char *p = r->line + sizeof magic - 1;
    int first = 1;
    r->block_tokens = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        char *w = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        int c = (int)(w - r->line) + 1;
        char save = *p;
        *p = '\0';
        if (first) {
            if (strcmp(w, "v1") != 0)
                return FERR(r, err, c, "unsupported memfab-trace version \"%s\" (expected v1)",
                            sim_excerpt(w, ex, sizeof ex));
            first = 0;
        } else if (strncmp(w, "block_tokens=", 13) == 0) {
            uint64_t v;
            if (parse_uint(w + 13, UINT32_MAX, &v) < 0)
                return FERR(r, err, c, "bad block_tokens \"%s\"",
                            sim_excerpt(w + 13, ex, sizeof ex));
            r->block_tokens = (uint32_t)v;
        } else if (strncmp(w, "classes=", 8) == 0) {
            if (strcmp(w + 8, "0") != 0 && strcmp(w + 8, "1") != 0)
                return FERR(r, err, c, "bad classes \"%s\" (0 or 1)",
                            sim_excerpt(w + 8, ex, sizeof ex));
            r->classes = w[8] == '1';
        } else {
            return FERR(r, err, c, "unknown header field \"%s\"",
                        sim_excerpt(w, ex, sizeof ex));
        }
        *p = save;
    }
    if (first)
        return FERR(r, err, 1, "native trace header has no version (expected v1)");
    return 0;
}

static int next_native(trace_reader *r, trace_req *out, sim_err *err)
{
    int rc = next_data_line(r, 1, err);
    if (rc <= 0)
        return rc;
    static const char *const names[] = {"request id", "arrival_ps", "session",
                                        "input_tokens", "output_tokens", "class"};
    uint64_t head[6];
    size_t nh = r->classes ? 6 : 5; /* fixed fields before the block ids */
    size_t nb = 0;
    const char *p = r->line;
    for (size_t k = 0;; k++) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) {
            if (k < nh)
                return FERR(r, err, (int)(p - r->line) + 1, "missing %s (expected at least %zu "
                            "fields: id arrival_ps session input_tokens output_tokens%s)",
                            names[k], nh, nh > 5 ? " class" : "");
            break;
        }
        int c = (int)(p - r->line) + 1;
        uint64_t max = (k == 3 || k == 4 || (k == 5 && nh > 5)) ? UINT32_MAX : UINT64_MAX, v = 0;
        if (!isdigit((unsigned char)*p))
            return FERR(r, err, c, "expected an unsigned integer (%s)",
                        k < nh ? names[k] : "block id");
        for (; isdigit((unsigned char)*p); p++) {
            unsigned d = (unsigned)(*p - '0');
            if (v > (max - d) / 10)
                return FERR(r, err, c, "%s out of range", k < nh ? names[k] : "block id");
            v = v * 10 + d;
        }
        if (*p && *p != ' ' && *p != '\t')
            return FERR(r, err, (int)(p - r->line) + 1, "unexpected character '%c'", *p);
        if (k < nh) {
            head[k] = v;
            if (k == 5)
                out->class_col = c;
        } else {
            if ((rc = reserve_blocks(r, nb + 1, err)) < 0)
                return rc;
            r->blocks[nb++] = v;
        }
    }
    if (nb > UINT32_MAX)
        return FERR(r, err, 1, "too many block ids");
    if (nb && !r->block_tokens)
        return FERR(r, err, 1, "line has block ids but the header sets no block_tokens");
    int seen = trace_u64map_put(r->chats, head[0], 0);
    if (seen < 0)
        return sim_err_set(err, SIM_ENOMEM, r->path, (int)r->lineno, 0, "out of memory");
    if (seen == 0)
        return FERR(r, err, 1, "duplicate request id %llu", (unsigned long long)head[0]);
    out->id = head[0];
    out->arrival = head[1];
    out->session = head[2];
    out->input_tokens = (uint32_t)head[3];
    out->output_tokens = (uint32_t)head[4];
    out->n_blocks = (uint32_t)nb;
    out->block_ids = nb ? r->blocks : NULL;
    out->block_tokens = nb ? r->block_tokens : 0;
    if (r->classes) {
        out->klass = (uint32_t)head[5];
        out->has_class = 1;
    }
    return 1;
}

/* ---- Open, next, close -------------------------------------------------- */

/* Detect or check the format from the first data line and consume headers. */
static int open_first_line(trace_reader *r, sim_err *err)
{
    int rc;
    for (;;) {
        rc = read_line(r, err);
        if (rc < 0)
            return rc;
        if (rc == 0 || !is_blank(r->line))
            break;
    }
    if (rc == 0) {
        /* An empty file: a valid empty JSONL trace; headers are required. */
        if (r->fmt == TRACE_MOONCAKE || r->fmt == TRACE_QWEN)
            return 0;
        return sim_err_set(err, SIM_EFORMAT, r->path, 0, 0, "empty file: %s",
                           r->fmt == TRACE_AUTO ? "cannot detect the trace format"
                                                : "missing the header line");
    }
    if (r->fmt == TRACE_AUTO) {
        if (strncmp(r->line, "# memfab-trace", 14) == 0) {
            r->fmt = TRACE_NATIVE;
        } else if (r->line[strspn(r->line, " \t")] == '{') {
            json_t *o;
            if ((rc = json_parse_line(r, &o, err)) < 0)
                return rc;
            r->fmt = json_object_get(o, "chat_id") ? TRACE_QWEN : TRACE_MOONCAKE;
            json_decref(o);
        }
    }
    switch (r->fmt) {
    case TRACE_MOONCAKE:
    case TRACE_QWEN:
        r->block_tokens = r->fmt == TRACE_MOONCAKE ? 512 : 16;
        r->pending = 1;
        if (r->fmt == TRACE_QWEN && !(r->chats = trace_u64map_new()))
            return sim_err_set(err, SIM_ENOMEM, r->path, 0, 0, "out of memory");
        return 0;
    case TRACE_NATIVE:
        if (!(r->chats = trace_u64map_new())) /* request ids seen, for duplicates */
            return sim_err_set(err, SIM_ENOMEM, r->path, 0, 0, "out of memory");
        return native_header(r, err);
    default:
        return csv_header(r, err);
    }
}


/* Open a trace for reading: only a regular file. A FIFO would block in
 * open() until a writer comes (forever, for `memfab trace stats FIFO`),
 * and a device never ends (/dev/zero, /dev/urandom), so both are refused
 * before a byte is read. The open itself is O_NONBLOCK, so a path that is
 * a FIFO cannot block it; the check is on the opened file (fstat), so a
 * path swapped after a stat cannot slip through. NULL with err set. */
static FILE *open_regular(const char *path, sim_err *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        sim_err_set(err, errno == ENOENT ? SIM_ENOTFOUND : SIM_EIO, path, 0, 0,
                    "cannot open trace: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        sim_err_set(err, SIM_EIO, path, 0, 0, "cannot open trace: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        sim_err_set(err, SIM_EFORMAT, path, 0, 0,
                    "cannot read a trace from %s: a trace is a regular file", scn_file_kind(&st));
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ? NULL : fdopen(fd, "r");
    if (!f) {
        sim_err_set(err, SIM_EIO, path, 0, 0, "cannot open trace: %s", strerror(errno));
        close(fd);
    }
    return f;
}

trace_reader *trace_open(const char *path, trace_format fmt, sim_err *err)
{
    if ((unsigned)fmt > TRACE_NATIVE) {
        sim_err_set(err, SIM_EINVAL, path, 0, 0, "invalid trace format %d", (int)fmt);
        return NULL;
    }
    trace_reader *r = sim_calloc(1, sizeof *r);
    if (!r || !(r->path = sim_strdup(path))) {
        sim_free(r);
        sim_err_set(err, SIM_ENOMEM, path, 0, 0, "out of memory");
        return NULL;
    }
    r->fmt = fmt;
    r->f = open_regular(path, err);
    if (!r->f)
        goto fail;
    if (open_first_line(r, err) < 0)
        goto fail;
    return r;
fail:
    trace_close(r);
    return NULL;
}

trace_reader *trace_open_source(const trace_source_ops *ops, void *ctx, const char *name,
                                uint32_t block_tokens, sim_err *err)
{
    trace_reader *r = sim_calloc(1, sizeof *r);
    if (!r || !(r->path = sim_strdup(name ? name : "source"))) {
        sim_free(r);
        if (ops && ops->close)
            ops->close(ctx);
        sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        return NULL;
    }
    r->fmt = TRACE_AUTO;
    r->ops = ops;
    r->ctx = ctx;
    r->block_tokens = block_tokens;
    return r;
}

static int read_one(trace_reader *r, trace_req *out, sim_err *err)
{
    if (r->ops)
        return r->ops->next(r->ctx, out, err);
    switch (r->fmt) {
    case TRACE_MOONCAKE: return next_mooncake(r, out, err);
    case TRACE_QWEN: return next_qwen(r, out, err);
    case TRACE_NATIVE: return next_native(r, out, err);
    default: return next_csv(r, out, err);
    }
}

int trace_next(trace_reader *r, trace_req *out, sim_err *err)
{
    if (r->status < 0) {
        if (err)
            *err = r->saved;
        return r->status;
    }
    if (r->status == 1)
        return 0;
    sim_err e;
    sim_err_clear(&e);
    memset(out, 0, sizeof *out);
    int rc = read_one(r, out, &e);
    if (rc == 1) {
        long line = r->ops ? (long)r->count + 1 : r->lineno;
        if (out->n_blocks == 0) {
            out->block_ids = NULL;
            out->block_tokens = 0;
        } else if (out->block_tokens == 0 || !out->block_ids) {
            rc = sim_err_set(&e, SIM_EFORMAT, r->path, (int)line, 0,
                             "request has block ids but no block size");
        } else if (out->n_blocks > ((uint64_t)out->input_tokens + out->block_tokens - 1) /
                                       out->block_tokens) {
            /* Blocks cover the prompt (the last possibly partial), so a
             * prompt of n tokens has at most ceil(n / block_tokens); the
             * public Mooncake traces have exactly that many. */
            rc = sim_err_set(&e, SIM_EFORMAT, r->path, (int)line, 0,
                             "request has %u block ids but its %u prompt tokens fill at most "
                             "%llu blocks of %u tokens",
                             out->n_blocks, out->input_tokens,
                             ((unsigned long long)out->input_tokens + out->block_tokens - 1) /
                                 out->block_tokens,
                             out->block_tokens);
        }
        if (rc == 1 && r->count > 0 && out->arrival < r->last)
            rc = sim_err_set(&e, SIM_EFORMAT, r->path, (int)line, 0,
                             "arrival %.9f s is before the previous request's %.9f s "
                             "(trace must be sorted by time)",
                             sim_time_to_s(out->arrival), sim_time_to_s(r->last));
        if (rc == 1) {
            r->req_line = line;
            r->last = out->arrival;
            r->count++;
            return 1;
        }
    }
    if (rc == 0) {
        r->status = 1;
        return 0;
    }
    if (rc > 0)
        rc = sim_err_set(&e, SIM_EINVAL, r->path, 0, 0, "source returned %d", rc);
    if (e.code == 0)
        sim_err_set(&e, rc, r->path, 0, 0, "%s", sim_strerror(rc));
    r->status = rc;
    r->saved = e;
    if (err)
        *err = e;
    memset(out, 0, sizeof *out);
    return rc;
}

void trace_close(trace_reader *r)
{
    if (!r)
        return;
    if (r->ops && r->ops->close)
        r->ops->close(r->ctx);
    if (r->f)
        fclose(r->f);
    trace_u64map_free(r->chats);
    sim_free(r->blocks);
    sim_free(r->line);
    sim_free(r->rbuf);
    sim_free(r->path);
    sim_free(r);
}

trace_format trace_reader_format(const trace_reader *r) { return r->fmt; }
uint32_t trace_reader_block_tokens(const trace_reader *r) { return r->block_tokens; }
const char *trace_reader_name(const trace_reader *r) { return r->path; }
long trace_reader_line(const trace_reader *r) { return r->req_line; }

/* ---- Finding trace files ------------------------------------------------ */

static int readable_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && !S_ISDIR(st.st_mode) && access(p, R_OK) == 0;
}

/* Where the public trace a file name points to can be had: `memfab trace
 * fetch NAME` when the catalog knows the file, else its home page. */
static const char *download_hint(const char *path)
{
    static _Thread_local char hint[256];
    const trace_catalog_entry *c = trace_catalog_by_path(path);
    if (c) {
        snprintf(hint, sizeof hint,
                 "Download it with `memfab trace fetch %s`, or set MEMFAB_TRACE_PATH.",
                 c->name);
        return hint;
    }
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (strcasestr(b, "qwen") || strcasestr(b, "bailian"))
        return "The Qwen/Bailian traces can be downloaded from "
               "https://github.com/alibaba-edu/qwen-bailian-usagetraces-anon.";
    return "`memfab trace fetch --list` names the public traces memfab downloads (from "
           "github.com/kvcache-ai/Mooncake, github.com/Azure/AzurePublicDataset and "
           "github.com/HPMLL/BurstGPT).";
}

int trace_cache_dir(char *out, size_t outlen)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    /* XDG Base Directory Specification 0.8: a relative XDG_CACHE_HOME is
     * invalid and must be ignored. */
    if (xdg && xdg[0] == '/')
        n = snprintf(out, outlen, "%s/memfab/traces", xdg);
    else if (home && home[0] == '/')
        n = snprintf(out, outlen, "%s/.cache/memfab/traces", home);
    else
        return -1;
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* Try dir/path (or path itself when dir is NULL); on success copy it to
 * out. 1 found, 0 not (noted in looked), SIM_EINVAL too long. */
static int try_candidate(const char *dir, size_t dirlen, const char *path, char *out,
                         size_t outlen, char *looked, size_t *ll, size_t looked_size,
                         sim_err *err)
{
    char cand[4096];
    if (dir)
        snprintf(cand, sizeof cand, "%.*s/%s", (int)dirlen, dir, path);
    else
        snprintf(cand, sizeof cand, "%s", path);
    if (readable_file(cand)) {
        if (strlen(cand) >= outlen)
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "trace path too long: %s", cand);
        memcpy(out, cand, strlen(cand) + 1);
        return 1;
    }
    if (*ll < looked_size)
        *ll += (size_t)snprintf(looked + *ll, looked_size - *ll, "%s%s", *ll ? ", " : "", cand);
    return 0;
}

int trace_resolve(const char *scenario_dir, const char *path, char *out, size_t outlen,
                  sim_err *err)
{
    if (!path || !*path)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "empty trace path");
    char looked[900] = "";
    size_t ll = 0;
    int r;
    if (path[0] == '/') {
        r = try_candidate(NULL, 0, path, out, outlen, looked, &ll, sizeof looked, err);
        if (r)
            return r < 0 ? r : 0;
        return sim_err_set(err, SIM_ENOTFOUND, NULL, 0, 0, "trace file '%s' not found. %s",
                           path, download_hint(path));
    }
    /* The scenario's directory, each directory of MEMFAB_TRACE_PATH, then
     * the cache that `memfab trace fetch` fills. */
    const char *dir = scenario_dir && *scenario_dir ? scenario_dir : ".";
    r = try_candidate(dir, strlen(dir), path, out, outlen, looked, &ll, sizeof looked, err);
    if (r)
        return r < 0 ? r : 0;
    for (const char *env = getenv("MEMFAB_TRACE_PATH"); env && *env;) {
        size_t n = strcspn(env, ":");
        if (n > 0) {
            r = try_candidate(env, n, path, out, outlen, looked, &ll, sizeof looked, err);
            if (r)
                return r < 0 ? r : 0;
        }
        env += n;
        if (*env == ':')
            env++;
    }
    char cache[3000];
    if (trace_cache_dir(cache, sizeof cache) == 0) {
        r = try_candidate(cache, strlen(cache), path, out, outlen, looked, &ll, sizeof looked,
                          err);
        if (r)
            return r < 0 ? r : 0;
    }
    return sim_err_set(err, SIM_ENOTFOUND, NULL, 0, 0,
                       "trace file '%s' not found (looked at: %s; MEMFAB_TRACE_PATH %s). %s", path,
                       looked,
                       getenv("MEMFAB_TRACE_PATH") ? "lists more directories, colon-separated"
                                                   : "is not set",
                       download_hint(path));
}
