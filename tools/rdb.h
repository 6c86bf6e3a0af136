/*
 * rdb.h - reading results databases for the researcher's tools (compare,
 * baseline, plot, sweep): the runs of a database with their parameters, a
 * selection of runs (--run, --where), display labels, and the flat list of
 * comparable metrics of a run.
 *
 * A run's metrics are named "scope/name" and come from:
 *   metrics     SCOPE/NAME                       (as the models reported them)
 *   links       links/LINK/DIRECTION/bytes, .../utilization
 *   requests    requests/count, requests/finished, requests/{ttft,e2e,tpot}_{mean,p50,p99}
 *               (seconds), requests/output_tokens_per_s, requests/cached_share
 *   kv          kv/INSTANCE/TIER/hit_ratio, kv/INSTANCE/TIER/evictions
 *   coherence   coherence/DIRECTORY/MESSAGE
 * in that order, so that compare, baseline and the sweep summary agree.
 */
#ifndef MEMFAB_TOOLS_RDB_H
#define MEMFAB_TOOLS_RDB_H

#include <stddef.h>
#include <stdint.h>

#include "sim/err.h"

struct sqlite3;

typedef struct rdb_param {
    char *key;                 /* flattened scenario key, e.g. links.l0.bandwidth */
    char *value;               /* its value as text */
} rdb_param;

typedef struct rdb_metric {
    char *name;                /* "scope/name" */
    double value;              /* NAN when NULL */
    char *unit;                /* never NULL ("" when unknown) */
} rdb_metric;

typedef struct rdb_run {
    int64_t id;                /* run_id in its database (0 for a baseline file) */
    char *name;                /* scenario name */
    char *sha;                 /* scenario_sha256 or "" */
    uint64_t seed;             /* runs.seed */
    char *status;              /* complete, failed, ... */
    char *error;               /* runs.error or "" */
    char *version;             /* memfab version or "" */
    rdb_param *params;         /* sorted by key */
    size_t nparams;
    rdb_metric *metrics;       /* filled by rdb_load_metrics */
    size_t nmetrics;
    char *label;               /* display label, filled by rdb_label */
} rdb_run;

typedef struct rdb_set {
    rdb_run *runs;             /* ordered by run_id */
    size_t n;
} rdb_set;

/* Load every run of a database with its params (not its metrics). */
int rdb_load_runs(struct sqlite3 *h, rdb_set *out, sim_err *err);
/* Load the metrics of one run (see the head comment). */
int rdb_load_metrics(struct sqlite3 *h, rdb_run *r, sim_err *err);
/* The same for many runs of one database, its queries compiled once (free
 * the loader before closing h). */
typedef struct rdb_loader rdb_loader;
rdb_loader *rdb_loader_new(struct sqlite3 *h);
int rdb_loader_metrics(rdb_loader *l, rdb_run *r, sim_err *err);
void rdb_loader_free(rdb_loader *l);
/* Free every run and reset the set; rdb_set_free on a zeroed set is a no-op. */
void rdb_set_free(rdb_set *s);
void rdb_run_free(rdb_run *r);

/* Keep only the runs that match: run ids (when nids > 0), every `where`
 * filter KEY=GLOB (KEY is a param key, or name, seed, status, run), and
 * status complete when complete_only. Returns 0 or SIM_EINVAL for a
 * malformed filter. */
int rdb_filter(rdb_set *s, const int64_t *ids, size_t nids, char *const *where, size_t nwhere,
               int complete_only, sim_err *err);

/* The value of param key, or NULL. */
const char *rdb_param_get(const rdb_run *r, const char *key);
/* Add or replace a param (keeps the array sorted). 0 or SIM_ENOMEM. */
int rdb_param_put(rdb_run *r, const char *key, const char *value);
/* The metric of that name, or NULL. */
const rdb_metric *rdb_metric_get(const rdb_run *r, const char *name);
/* Append a metric (no check for duplicates). 0 or SIM_ENOMEM. */
int rdb_metric_add(rdb_run *r, const char *name, double value, const char *unit);

/* Give every run a short label: its name, followed by the params that
 * differ among the runs of the same name (sweep.* params first, the
 * "sweep." prefix dropped), e.g. "default bw=8 GB/s seed=2". */
void rdb_label(rdb_set *s);

/* Mean, sample standard deviation and half-width of the 95% confidence
 * interval of the mean (Student t with n-1 degrees of freedom, from GSL).
 * With n == 1, sd and half are 0. With n == 0 everything is NAN. */
void rdb_ci95(const double *v, size_t n, double *mean, double *sd, double *half);

/* Parse a run id list element ("7"). 0 or SIM_EINVAL. */
int rdb_parse_id(const char *s, int64_t *out);

/* Is the file a SQLite database (by its 16-byte header)? -1 if unreadable. */
int rdb_is_sqlite(const char *path);

#endif
