/*
 * study.h - memfab study: with/without pairs of technologies on reference
 * scenarios, run by the sweep machinery, rendered as one table.
 *
 * A study file (scenarios/study/convergence.yaml) lists scenarios by label
 * and pairs. A pair names one technology, the problem it solves and what
 * it claims to remove (prose for the table), the scenarios it is measured
 * on, and its switch: ONE --set path with the value that turns the
 * technology on and the value that turns it off, or, for a technology that
 * is more than one setting (a CXL pool read in place is the tier's
 * component and kv.cxl_access), a list of paths with a list of on and of
 * off values; every listed key changes. `all: true` makes the
 * pair of every other pair's switch of a scenario at once (all on against
 * all off). Each pair lists the metrics that measure what it removes
 * (`removal:`), and may replace the study's end-to-end `effect:` and
 * `energy:` metrics. A metric is SCOPE/NAME as `memfab compare` names it,
 * with shell globs ("*.host/dram_bytes", "fabric/host_memory_bytes:*"):
 * the value is the sum over every matching metric of the run.
 *
 * Runs. On a scenario S, every run sets every switch of the pairs measured
 * on S: the reference point has them all on, the pair X point has X off,
 * and the all-off point has every switch off; equal points are run once.
 * The runs are points of a sweep (tools/sweep.h) whose merged database is
 * DIR/study.db. A row of the table is a pair on one scenario; its on and
 * off runs are found by scenario name and their sweep.<key> params.
 *
 * Capacity. `capacity:` (one search or a list, one per scenario) adds the
 * GPUs each side of a row needs for a target load: from a grid of load
 * rates, or by bisection over the GPU count with a time-scaled workload
 * (study_int.h); the bisection runs in rounds, each a sweep of the next
 * count of every side, until every search is decided.
 *
 * Checks. The flattened params of a row's two runs may differ only in the
 * row's switch keys (and the sweep.* bookkeeping keys); anything else is an
 * error (exit 2). Every row's two runs must be complete.
 *
 * Cells. A metric absent from a run prints "n/a (metric X not reported)",
 * so a metric a model does not report yet (energy) fills in once it does.
 */
#ifndef MEMFAB_TOOLS_STUDY_H
#define MEMFAB_TOOLS_STUDY_H

#include <stddef.h>

#include "sim/err.h"
#include "tools/rdb.h"

typedef struct study study;

/* Load and check a study file; the study is freed with study_free. */
study *study_load(const char *path, sim_err *err);
void study_free(study *st);
/* The study's name and the results directory it names (NULL: none). */
const char *study_name(const study *st);
const char *study_output(const study *st);

/* The runs of the study as points of a sweep into DIR/study.db. Returns
 * the exit status of the sweep (SIM_EXIT_*). *rank0 as swp_run. */
int study_run(study *st, const char *dir, int jobs, int progress_mode, int *rank0);

/* The params check of one row: 0 when runs a and b differ in nothing but
 * the keys keys[0..n) and sweep.* keys; otherwise SIM_EINVAL and msg names
 * (up to a few of) the other keys with both values. */
int study_params_differ(const rdb_run *a, const rdb_run *b, const char *const *keys, size_t n,
                        char *msg, size_t len);

/* The sum of the metrics of run r that match glob ("SCOPE/NAME", shell
 * wildcards), with the unit of the first; returns the number of matches
 * (0: the metric is not reported; *sum is then 0). Needs r's metrics. */
size_t study_metric_sum(const rdb_run *r, const char *glob, double *sum, const char **unit);

/* Render the table of the study from its database db (the merged results):
 * DIR/table.md, DIR/table.tex and DIR/cells.tsv (every measured cell as
 * numbers). Returns 0, SIM_EINVAL when a row's runs differ in more than
 * their switch or are missing (the message in err), or an I/O error. */
int study_render(const study *st, const char *db, const char *dir, sim_err *err);

/* The figures: DIR/pair-ID.png per pair (its own plot kind, on and off
 * runs of its first scenario where its removal changed) and
 * DIR/summary.png (per row, the relative change of its first removal,
 * effect and energy metric that has one: off value not 0; a change from 0
 * is drawn at the cap; the tic names the removal metric). A missing
 * gnuplot is a warning. */
int study_figures(const study *st, const char *db, const char *dir, sim_err *err);

/* The bisection of the capacity search (`search: gpus`): the smallest n in
 * [lo, hi] for which a predicate holds that is false below its answer and
 * true from it on (the attainment target met by n GPUs at the target load).
 * probe(ctx, n) says 1 (holds), 0 (fails) or -1 (not measured yet). The
 * counts probed are the midpoints lo + (hi - lo) / 2 of the shrinking
 * range, then hi if no midpoint held: at most ceil(log2(hi - lo + 1)) + 1
 * of them, and the same ones on every call for the same answers (a study
 * resumes the search from its database). Returns 1 with *n the answer, 0
 * with *n the next count to measure, -1 when hi fails (the answer is above
 * the range). */
int study_bisect(long lo, long hi, int (*probe)(void *ctx, long n), void *ctx, long *n);

#endif
