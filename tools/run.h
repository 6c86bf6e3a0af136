/*
 * run.h - running one scenario into a results database (memfab run / check),
 * shared by the run, check and sweep commands.
 */
#ifndef MEMFAB_TOOLS_RUN_H
#define MEMFAB_TOOLS_RUN_H

#include <stdint.h>

#include "sim/err.h"

typedef struct run_opts {
    const char *scenario;      /* scenario file */
    const char *out;           /* database, or NULL for results/<name>.db */
    const char **sets;         /* --set assignments */
    int nsets;
    int have_seed;             /* --seed given */
    uint64_t seed;             /* its value */
    int quiet;                 /* no progress, no summary */
    int progress;              /* -1 auto (terminal), 0 off, 1 on */
    const char **plugins;      /* --plugin shared objects */
    int nplugins;
    /* for memfab sweep's workers: */
    const char *const *param_keys; /* params of the run beside the scenario's */
    const char *const *param_vals; /* (origin NULL, as sweep.*), written with them */
    int nparams;
    int nosync;                /* res_open_nosync: the caller syncs the database */
} run_opts;

/* Build a simulation from a scenario: components and links, then the
 * top-level sections (`fabric:` settings, `workload:`/`kv:`/`router:`).
 * The one build path of run, check and the benchmarks. */
struct sim;
struct scn_doc;
int run_build(struct sim *s, const struct scn_doc *doc, sim_err *err);
/* The keys the last run_build could not check (a plug-in policy's
 * parameters), space-separated dotted paths, or "". A run records them in
 * its params as memfab.unchecked_keys. */
const char *run_unchecked_keys(void);

/* A seed: decimal digits only (no sign, no leading zero, no 0x), at most
 * 2^64-1. 0 or SIM_EINVAL. Shared by --seed and the seeds of a sweep. */
int run_parse_seed(const char *s, uint64_t *out);

/* Run a scenario. Returns an exit status (SIM_EXIT_*); errors are printed. */
int run_scenario(const run_opts *o);

/* Validate a scenario without running it: 0 ok, else an exit status. */
int check_scenario(const run_opts *o);


#endif
