/*
 * err.c - error codes, messages and the file:line:col printer.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sim_strerror(int code)
{
    switch (code) {
    case SIM_OK: return "success";
    case SIM_EINVAL: return "invalid argument";
    case SIM_ENOMEM: return "out of memory";
    case SIM_EIO: return "input/output error";
    case SIM_ESCENARIO: return "scenario error";
    case SIM_ENOTFOUND: return "not found";
    case SIM_EFORMAT: return "malformed input";
    case SIM_ESTATE: return "invalid state";
    case SIM_EINTR: return "interrupted";
    default: return "unknown error";
    }
}

int sim_err_set(sim_err *err, int code, const char *file, int line, int col,
                const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    err->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void sim_err_clear(sim_err *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
}

char *sim_excerpt(const char *s, char *buf, size_t size)
{
    size_t o = 0, i = 0;
    if (!size)
        return buf;
    for (; s[i] && i < SIM_EXCERPT_MAX && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
    }
    if (s[i] && o + 4 <= size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o < size ? o : size - 1] = '\0';
    return buf;
}

/* Does path name a YAML file (the only files whose lines are shown at length)? */
static int is_yaml_path(const char *path)
{
    size_t n = strlen(path);
    return (n >= 5 && strcmp(path + n - 5, ".yaml") == 0) ||
           (n >= 4 && strcmp(path + n - 4, ".yml") == 0);
}

/* Print line `line` of `path` and a caret under column `col`. The line is
 * shown as an escaped window around the column: up to 100 bytes of a YAML
 * file, SIM_EXCERPT_MAX of any other (a trace, or a file included by
 * mistake), so an error never echoes a whole line of an arbitrary file. */
static void print_source_line(const char *path, int line, int col)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    int n = 0;
    size_t window = is_yaml_path(path) ? 100 : SIM_EXCERPT_MAX;
    while (fgets(buf, sizeof buf, f)) {
        size_t len = strlen(buf);
        int complete = len > 0 && buf[len - 1] == '\n';
        if (++n == line) {
            if (complete)
                buf[--len] = '\0';
            size_t at = col > 0 ? (size_t)col - 1 : 0, from = 0;
            if (at > len)
                at = len;
            if (at >= window / 2)
                from = at - window / 2;
            size_t to = from + window < len ? from + window : len;
            int yaml = is_yaml_path(path);
            fputs(from ? "  ..." : "  ", stderr);
            for (size_t i = from; i < to; i++) {
                unsigned char c = (unsigned char)buf[i];
                if (c == '\t' || (c >= 0x20 && c < 0x7f) || (c >= 0x80 && yaml))
                    fputc(c, stderr);
                else /* bytes beyond ASCII are shown only from YAML files */
                    fprintf(stderr, "\\x%02x", c);
            }
            fputs(to < len ? "...\n  " : "\n  ", stderr);
            fputs(from ? "   " : "", stderr);
            for (size_t i = from; i < at; i++) {
                unsigned char c = (unsigned char)buf[i];
                if (c == '\t')
                    fputc('\t', stderr);
                else if ((c >= 0x20 && c < 0x7f) || (c >= 0x80 && yaml))
                    fputc(' ', stderr);
                else
                    fputs("    ", stderr);
            }
            fputs("^\n", stderr);
            break;
        }
        /* A line longer than the buffer: consume the rest of it. */
        while (!complete && fgets(buf, sizeof buf, f)) {
            len = strlen(buf);
            complete = len > 0 && buf[len - 1] == '\n';
        }
    }
    fclose(f);
}

void sim_err_print(const sim_err *err)
{
    if (!err)
        return;
    if (err->file[0] && err->line > 0) {
        fprintf(stderr, "%s:%d:%d: error: %s\n", err->file, err->line, err->col, err->msg);
        print_source_line(err->file, err->line, err->col);
    } else if (err->file[0]) {
        fprintf(stderr, "%s: error: %s\n", err->file, err->msg);
    } else {
        fprintf(stderr, "memfab: error: %s\n", err->msg);
    }
}
