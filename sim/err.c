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

/* Print line `line` of `path` and a caret under column `col`. */
static void print_source_line(const char *path, int line, int col)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    int n = 0;
    while (fgets(buf, sizeof buf, f)) {
        size_t len = strlen(buf);
        int complete = len > 0 && buf[len - 1] == '\n';
        if (++n == line) {
            if (complete)
                buf[--len] = '\0';
            fprintf(stderr, "  %s\n  ", buf);
            for (int i = 1; i < col && (size_t)(i - 1) < len; i++)
                fputc(buf[i - 1] == '\t' ? '\t' : ' ', stderr);
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
