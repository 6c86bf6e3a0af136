/*
 * safeout.h - output files that never destroy an input or leave a
 * truncated result behind.
 *
 * safe_out_check() refuses an output path that names one of the inputs
 * (the same file by device and inode, whatever the spelling: links,
 * "./x", symlinks), a directory, or an existing file of another kind than
 * the one about to be written (a results database, a scenario, ... when a
 * baseline or a trace is written): the `same_kind` callback looks at the
 * first bytes of an existing non-empty regular file. The error names the
 * path and the reason; it is a usage error (SIM_EINVAL, exit 2).
 *
 * safe_out_open() writes a regular (or new) file through a temporary file
 * in the same directory; safe_out_commit() flushes it, checks every error
 * (ferror, fflush, fsync, fclose) and only then renames it over the
 * output, so an interrupted or failed write leaves the old file (or no
 * file) in place. "-" is standard output and a device or FIFO (/dev/null,
 * /dev/full) is written in place; their write errors are checked too.
 * safe_out_abort() removes the temporary file.
 */
#ifndef MEMFAB_TOOLS_SAFEOUT_H
#define MEMFAB_TOOLS_SAFEOUT_H

#include <stddef.h>
#include <stdio.h>

#include "sim/err.h"

typedef struct safe_out {
    FILE *f;            /* write here */
    const char *path;   /* the output as given */
    char *tmp;          /* the temporary file, or NULL when written in place */
    char *real;         /* the file a symbolic link `path` names (malloc), or NULL */
    int is_stdout;
} safe_out;

/* 1 when the first n bytes of an existing file show the kind being written. */
typedef int (*safe_out_kind_fn)(const unsigned char *head, size_t n);

int safe_out_check(const char *path, const char *const *inputs, size_t ninputs,
                   safe_out_kind_fn same_kind, const char *kind_name, sim_err *err);

/* A temporary path in the directory of `path` that keeps its extension
 * (gnuplot picks nothing from it, but the figure stays recognisable); the
 * file is created empty. NULL with err set on failure; sim_free the result. */
char *safe_out_tmpname(const char *path, sim_err *err);

int safe_out_open(safe_out *o, const char *path, sim_err *err);
int safe_out_commit(safe_out *o, sim_err *err);
void safe_out_abort(safe_out *o);

/* Put a finished temporary file in place of `path`: rename it over a
 * regular (or new) file, or copy it into a device or FIFO with every write
 * checked; the temporary file is removed either way. */
int safe_out_install(const char *tmp, const char *path, sim_err *err);

#endif
