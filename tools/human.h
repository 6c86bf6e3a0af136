/*
 * human.h - numbers for people: a value and its unit as a short string with
 * three significant digits and a scaled unit ("8.14 us", "26.4 GB/s",
 * "1.50 GiB", "73.2 %", "3,856,118 events"), and text made safe for a
 * terminal. Shared by the run summary, `memfab show` and progress lines.
 */
#ifndef MEMFAB_TOOLS_HUMAN_H
#define MEMFAB_TOOLS_HUMAN_H

#include <stddef.h>

/* Format value v of `unit` (as the metrics table stores it: "s", "B",
 * "B/s", "requests", "" ...). `name` (may be NULL) is the metric's name: a
 * unit-less ratio (hit_ratio, utilization, share, efficiency, accuracy,
 * attainment, fraction) prints as a percentage. Rules:
 *   s      ps, ns, us, ms, s          B     B, KiB, MiB, GiB, TiB
 *   B/s    B/s, kB/s, MB/s, GB/s, TB/s  ratio  "73.2 %"
 *   counts (any other unit, or none) with thousands separators when whole,
 *   else %.4g; NaN prints "-". Returns buf. */
char *human_value(char *buf, size_t n, double v, const char *unit, const char *name);

/* Is this unit-less metric name a ratio in [0, 1] (printed as a percentage)? */
int human_is_ratio(const char *name);

/* A whole number with thousands separators ("3,856,118"). Returns buf. */
char *human_count(char *buf, size_t n, long long v);

/* A duration in wall-clock seconds for ETAs: "42 s", "3 min 05 s", "2 h 07 min". */
char *human_duration(char *buf, size_t n, double seconds);

/* Text safe to print in a table: control bytes as \n, \t, \r or \xNN, a
 * backslash as \\; cut to at most `max` display columns with "..." (max 0:
 * no cut). Returns buf. */
char *human_text(char *buf, size_t n, const char *s, size_t max);

/* A word for a shell command line: as is when plain, else in single
 * quotes (a quote inside as '\\''). Returns buf. */
char *human_shell_word(char *buf, size_t n, const char *s);

/* Display columns of UTF-8 text (continuation bytes do not count). */
size_t human_width(const char *s);

/* ---- tables: the style of the run summary and `memfab show` ------------ */

#include <stdio.h>

/* Rows of text cells printed in aligned columns: the first row is the
 * header; a column marked right-aligned holds numbers. Cells are copied. */
typedef struct htable {
    size_t ncols;
    char **cells;              /* nrows x ncols */
    size_t nrows, cap;
    unsigned char *right;      /* per column: 1 = right-aligned */
} htable;

int ht_init(htable *t, size_t ncols);          /* 0 or SIM_ENOMEM */
int ht_add(htable *t, const char *const *row);  /* ncols cells (NULL = ""); 0 or SIM_ENOMEM */
void ht_right(htable *t, size_t col);
void ht_print(const htable *t, FILE *f);        /* two-space indent, two-space gaps */
void ht_free(htable *t);

#endif
