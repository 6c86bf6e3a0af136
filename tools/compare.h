/*
 * compare.h - memfab compare (regression check of two result sets) and
 * memfab baseline (a reviewable YAML file of a run's metrics).
 *
 * Direction of a metric (which way is better), decided in this order;
 * "its name" is the part after the last '/', lower-cased:
 *   1. an explicit rule: `directions:` in the --tolerances file or
 *      --direction GLOB=higher|lower|none on the command line;
 *   2. its name ends in _count: the sample count of a distribution
 *      (ttft_count, latency:rdma_count)              -> neutral;
 *   3. its name contains hit, throughput, bandwidth, goodput,
 *      tokens_per_s, per_s, cached_share, attainment (slo_attainment)
 *      or completed                                  -> higher is better;
 *   4. its name contains latency, ttft, tpot, e2e, wait, delay, stall,
 *      miss, evict, drop, refused, queue, reject (rejected), preempt
 *      (preemptions), unfinished, error, retransmit, pause or energy, or its unit
 *      is a time (ps ns us ms s)                     -> lower is better;
 *   5. its unit is a rate (ends in "/s")             -> higher is better;
 *   6. otherwise it is neutral: a change beyond tolerance is reported as
 *      "changed" and fails like a regression (counts, bytes, events).
 */
#ifndef MEMFAB_TOOLS_COMPARE_H
#define MEMFAB_TOOLS_COMPARE_H

#include <stdio.h>

#include "sim/err.h"
#include "tools/rdb.h"

typedef enum { CMP_NEUTRAL = 0, CMP_HIGHER = 1, CMP_LOWER = -1 } cmp_dir;

typedef struct cmp_tol {
    int relative;              /* 1: value is a fraction of |base|; 0: absolute */
    double value;              /* >= 0 */
} cmp_tol;

/* Parse "2%" (relative), "0.1" (absolute) or "0". 0 or SIM_EINVAL. */
int cmp_parse_tol(const char *s, cmp_tol *out);
/* The direction of a metric by the rules above (no explicit rules). */
cmp_dir cmp_direction(const char *name, const char *unit);

/* Load a baseline file written by memfab baseline into runs (id 0) with
 * params and metrics. 0, or SIM_ESCENARIO / SIM_EIO with err at the mark. */
int cmp_load_baseline(const char *path, rdb_set *out, sim_err *err);

/* Write run r as one item of a baseline file's `runs:` list (scenario,
 * run_id, scenario_sha256, seed, version, params, metrics), every string a
 * double-quoted YAML scalar (sim/yamlout.h) that cmp_load_baseline reads
 * back unchanged; params only where keep[p] (keep NULL: all). A string that
 * is not UTF-8 is refused before anything is written: SIM_EINVAL with err
 * naming the run, the field and the byte. SIM_ENOMEM. Infinite metric
 * values are the caller's to refuse (NaN is written as null). */
int cmp_baseline_write_run(FILE *f, const rdb_run *r, const unsigned char *keep, sim_err *err);

/* Load a --tolerances file and look every metric name up in its rules (as
 * compare does), then free it: 0 with the number of (metric, rule kind)
 * pairs that matched in *matched (may be NULL), or SIM_ESCENARIO with err at
 * the mark. Used by the tolerance fuzz harness (tests/fuzz/). */
int cmp_check_tolerances(const char *path, const char *const *metrics, size_t nmetrics,
                         size_t *matched, sim_err *err);

#endif
