/*
 * human.c - numbers and text for people (see human.h).
 */
#include "human.h"

#include "sim/err.h"
#include "sim/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct scale {
    double factor;
    const char *suffix;
} scale;

/* The largest step whose factor is at most |v| (after rounding to three
 * digits, so 999.96 us prints as 1 ms, not 1e+03 us). */
static char *scaled(char *buf, size_t n, double v, const scale *sc, size_t nsc)
{
    double a = fabs(v);
    size_t k = 0;
    if (a > 0)
        for (size_t i = 0; i < nsc; i++)
            if (a / sc[i].factor >= 0.99995)
                k = i;
    double x = v / sc[k].factor;
    if (fabs(x) >= 999.5 && k + 1 < nsc) {
        k++;
        x = v / sc[k].factor;
    }
    snprintf(buf, n, "%.3g %s", x, sc[k].suffix);
    return buf;
}

char *human_count(char *buf, size_t n, long long v)
{
    char tmp[32];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int len = snprintf(tmp, sizeof tmp, "%llu", u);
    char out[48];
    size_t o = 0;
    if (v < 0)
        out[o++] = '-';
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = '\0';
    snprintf(buf, n, "%s", out);
    return buf;
}

int human_is_ratio(const char *name)
{
    static const char *const words[] = {"ratio", "utilization", "util", "share", "efficiency",
                                        "accuracy", "attainment", "fraction", NULL};
    if (!name)
        return 0;
    for (size_t i = 0; words[i]; i++)
        if (strstr(name, words[i]))
            return 1;
    return 0;
}

static int whole(double v)
{
    return fabs(v) < 9e15 && v == floor(v);
}

char *human_value(char *buf, size_t n, double v, const char *unit, const char *name)
{
    static const scale time_sc[] = {
        {1e-12, "ps"}, {1e-9, "ns"}, {1e-6, "us"}, {1e-3, "ms"}, {1, "s"}};
    static const scale bytes_sc[] = {{1, "B"},
                                     {1024.0, "KiB"},
                                     {1024.0 * 1024, "MiB"},
                                     {1024.0 * 1024 * 1024, "GiB"},
                                     {1024.0 * 1024 * 1024 * 1024, "TiB"},
                                     {1024.0 * 1024 * 1024 * 1024 * 1024, "PiB"}};
    static const scale rate_sc[] = {{1, "B/s"}, {1e3, "kB/s"}, {1e6, "MB/s"},
                                    {1e9, "GB/s"}, {1e12, "TB/s"}, {1e15, "PB/s"}};
    static const scale joule_sc[] = {{1e-12, "pJ"}, {1e-9, "nJ"}, {1e-6, "uJ"}, {1e-3, "mJ"},
                                     {1, "J"},      {1e3, "kJ"},  {1e6, "MJ"},  {1e9, "GJ"}};
    if (!unit)
        unit = "";
    if (isnan(v)) {
        snprintf(buf, n, "-");
        return buf;
    }
    if (isinf(v)) {
        snprintf(buf, n, "%s%s%s", v < 0 ? "-inf" : "inf", *unit ? " " : "", unit);
        return buf;
    }
    if (strcmp(unit, "s") == 0) {
        if (v == 0) {
            snprintf(buf, n, "0 s");
            return buf;
        }
        if (fabs(v) >= 1000) {   /* long simulated times stay in seconds */
            snprintf(buf, n, "%.4g s", v);
            return buf;
        }
        return scaled(buf, n, v, time_sc, sizeof time_sc / sizeof time_sc[0]);
    }
    if (strcmp(unit, "B") == 0) {
        if (fabs(v) < 1024 && whole(v)) {
            snprintf(buf, n, "%.0f B", v);
            return buf;
        }
        return scaled(buf, n, v, bytes_sc, sizeof bytes_sc / sizeof bytes_sc[0]);
    }
    if (strcmp(unit, "B/s") == 0)
        return scaled(buf, n, v, rate_sc, sizeof rate_sc / sizeof rate_sc[0]);
    if (strcmp(unit, "J") == 0) {
        if (v == 0) {
            snprintf(buf, n, "0 J");
            return buf;
        }
        return scaled(buf, n, v, joule_sc, sizeof joule_sc / sizeof joule_sc[0]);
    }
    if ((!*unit || strcmp(unit, "%") == 0 || strcmp(unit, "ratio") == 0) &&
        human_is_ratio(name) && fabs(v) <= 1.0000001) {
        double p = 100.0 * v;
        if (p != 0 && fabs(p) < 0.1)
            snprintf(buf, n, "%.2g %%", p);
        else
            snprintf(buf, n, "%.1f %%", p);
        return buf;
    }
    char num[48];
    if (whole(v))
        human_count(num, sizeof num, (long long)v);
    else
        snprintf(num, sizeof num, "%.4g", v);
    snprintf(buf, n, "%s%s%s", num, *unit ? " " : "", unit);
    return buf;
}

char *human_duration(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e9) {
        snprintf(buf, n, "?");
        return buf;
    }
    long long t = (long long)llround(s);
    if (t < 60)
        snprintf(buf, n, "%lld s", t);
    else if (t < 3600)
        snprintf(buf, n, "%lld min %02lld s", t / 60, t % 60);
    else
        snprintf(buf, n, "%lld h %02lld min", t / 3600, (t % 3600) / 60);
    return buf;
}

size_t human_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

char *human_text(char *buf, size_t n, const char *s, size_t max)
{
    size_t o = 0;
    if (!n)
        return buf;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[8];
        if (ch == '\n')
            strcpy(esc, "\\n");
        else if (ch == '\t')
            strcpy(esc, "\\t");
        else if (ch == '\r')
            strcpy(esc, "\\r");
        else if (ch == '\\')
            strcpy(esc, "\\\\");
        else if (ch < 0x20 || ch == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", ch);
        else {
            esc[0] = (char)ch;
            esc[1] = '\0';
        }
        size_t len = strlen(esc);
        if (o + len + 1 > n)
            break;
        memcpy(buf + o, esc, len);
        o += len;
    }
    buf[o] = '\0';
    if (max > 3 && human_width(buf) > max) {
        /* keep max - 3 columns (whole UTF-8 sequences), then "..." */
        size_t w = 0, i = 0;
        for (; buf[i]; i++) {
            if (((unsigned char)buf[i] & 0xC0) != 0x80) {
                if (w == max - 3)
                    break;
                w++;
            }
        }
        if (i + 4 <= n)
            memcpy(buf + i, "...", 4);
    }
    return buf;
}

char *human_shell_word(char *buf, size_t n, const char *s)
{
    int plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+,:@%",
                       *p) != NULL;
    if (plain) {
        snprintf(buf, n, "%s", s);
        return buf;
    }
    size_t o = 0;
    if (n < 3)
        return buf;
    buf[o++] = '\'';
    for (; *s && o + 6 < n; s++) {
        if (*s == '\'') {
            memcpy(buf + o, "'\\''", 4);
            o += 4;
        } else {
            buf[o++] = *s;
        }
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

/* ---- tables ------------------------------------------------------------- */

int ht_init(htable *t, size_t ncols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->right = sim_calloc(ncols ? ncols : 1, 1);
    return t->right ? 0 : SIM_ENOMEM;
}

int ht_add(htable *t, const char *const *row)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **c = sim_realloc(t->cells, cap * t->ncols * sizeof *c);
        if (!c)
            return SIM_ENOMEM;
        t->cells = c;
        t->cap = cap;
    }
    char **dst = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        dst[i] = sim_strdup(row[i] ? row[i] : "");
        if (!dst[i]) {
            while (i--)
                sim_free(dst[i]);
            return SIM_ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

void ht_right(htable *t, size_t col)
{
    if (col < t->ncols)
        t->right[col] = 1;
}

void ht_print(const htable *t, FILE *f)
{
    size_t *w = sim_calloc(t->ncols ? t->ncols : 1, sizeof *w);
    if (!w)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t x = human_width(t->cells[r * t->ncols + c]);
            if (x > w[c])
                w[c] = x;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        fputs("  ", f);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            size_t pad = w[c] - human_width(cell);
            int last = c + 1 == t->ncols;
            if (t->right[c])
                fprintf(f, "%*s%s", (int)pad, "", cell);
            else
                fprintf(f, "%s%*s", cell, last ? 0 : (int)pad, "");
            if (!last)
                fputs("  ", f);
        }
        fputc('\n', f);
    }
    sim_free(w);
}

void ht_free(htable *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        sim_free(t->cells[i]);
    sim_free(t->cells);
    sim_free(t->right);
    memset(t, 0, sizeof *t);
}
