/*
 * err.h - error codes and error messages shared by every memfab module.
 *
 * Library code never exits: a function returns 0 or a negative SIM_E* code,
 * and, when the caller passed a sim_err, fills it with a human-readable
 * message and, for scenario errors, the file:line:column it refers to.
 * Only tools/ prints errors and chooses the exit status (DESIGN.md, decision 6):
 * 0 ok, 1 runtime failure, 2 usage or scenario error, 3 regression found.
 */
#ifndef MEMFAB_SIM_ERR_H
#define MEMFAB_SIM_ERR_H

#include <stddef.h>

/* Error codes: 0 is success, everything else is negative. */
enum {
    SIM_OK = 0,
    SIM_EINVAL = -1,    /* invalid argument or value */
    SIM_ENOMEM = -2,    /* allocation failed */
    SIM_EIO = -3,       /* file or database I/O failed */
    SIM_ESCENARIO = -4, /* scenario (YAML) error: see sim_err for the mark */
    SIM_ENOTFOUND = -5, /* a named thing does not exist */
    SIM_EFORMAT = -6,   /* malformed input data (trace, database) */
    SIM_ESTATE = -7,    /* operation not valid in the current state */
    SIM_EINTR = -8      /* interrupted by a signal */
};

/* Exit statuses of the memfab command (DESIGN.md decision 6). */
enum { SIM_EXIT_OK = 0, SIM_EXIT_RUNTIME = 1, SIM_EXIT_USAGE = 2, SIM_EXIT_REGRESSION = 3 };

/* An error report. file is empty and line/col are 0 when the error has no
 * source position. line and col count from 1. */
typedef struct sim_err {
    int code;           /* the SIM_E* code */
    char file[512];     /* source file, or "" */
    int line;           /* 1-based line, or 0 */
    int col;            /* 1-based column, or 0 */
    char msg[1024];     /* the message, without the "file:line:col: error: " prefix */
} sim_err;

/* Describe an error code. */
const char *sim_strerror(int code);

/* Fill err (when not NULL) and return code. The position may be NULL/0. */
int sim_err_set(sim_err *err, int code, const char *file, int line, int col,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Clear err to "no error". */
void sim_err_clear(sim_err *err);

/* Print err to stderr as "file:line:col: error: msg"; when the file is
 * readable, follow it with the offending source line and a caret under the
 * column. Without a position prints "memfab: error: msg". */
void sim_err_print(const sim_err *err);

/* A short, escaped excerpt of untrusted text for an error message: at most
 * SIM_EXCERPT_MAX bytes of s, with bytes outside printable ASCII written as
 * \xNN and "..." when cut. A file that is not what memfab expected (an
 * `include:` of /etc/shadow, a binary trace) must not be echoed whole into
 * a terminal or into `runs.error`. Returns buf. */
#define SIM_EXCERPT_MAX 32
char *sim_excerpt(const char *s, char *buf, size_t size);

#endif
