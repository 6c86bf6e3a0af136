/*
 * stats.h - statistics collectors for model results.
 *
 * sim_acc keeps count, mean, variance (Welford's online algorithm), min and
 * max in O(1) space. sim_samples keeps every sample (8 bytes each, grown
 * geometrically, so adding is amortized allocation-free) for exact
 * quantiles. Quantiles follow GSL's gsl_stats_quantile_from_sorted_data:
 * linear interpolation between order statistics at (n-1) * f.
 *
 * Bounded memory (sim_samples_spill): a collector may keep at most `keep`
 * samples in memory and append the rest to an anonymous temporary file,
 * 8 bytes each. Its quantiles stay exact: each order statistic is found by
 * radix selection on the samples' order-preserving 64-bit keys (16 bits a
 * pass over the file: count the keys under the prefix found so far, keep
 * the digit holding the wanted rank), and once at most `keep` samples
 * share the prefix they are read in, sorted and indexed (into the
 * collector's own array, after the samples still in memory have joined the
 * file, so a quantile allocates 1 MiB of counters and buffer, not another
 * `keep` samples). The values, and the interpolation, are the ones the
 * in-memory sort gives.
 */
#ifndef MEMFAB_SIM_STATS_H
#define MEMFAB_SIM_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

typedef struct sim_acc {
    uint64_t n;     /* samples */
    double mean;    /* running mean */
    double m2;      /* sum of squared deviations (Welford) */
    double min;     /* smallest sample */
    double max;     /* largest sample */
} sim_acc;

void sim_acc_add(sim_acc *a, double x);
double sim_acc_var(const sim_acc *a);    /* sample variance, 0 when n < 2 */

typedef struct sim_samples {
    double *v;      /* samples, in arrival order until sorted */
    size_t n;       /* used */
    size_t cap;     /* allocated */
    int sorted;     /* v is sorted */
    sim_acc acc;    /* running summary */
    size_t keep;    /* 0: keep all in memory; else most held before spilling */
    void *spill;    /* FILE * of the spilled samples, or NULL */
    uint64_t spilled; /* samples in it */
} sim_samples;

/* Add a sample; SIM_ENOMEM when growth fails (the sample is then counted in
 * acc but not kept for quantiles). */
int sim_samples_add(sim_samples *s, double x);
/* Keep at most `keep` (> 0) samples in memory from now on, the rest in a
 * temporary file (if it cannot be created the samples stay in memory). */
void sim_samples_spill(sim_samples *s, size_t keep);
/* Quantile f in [0,1] (sorts in place); NaN when empty. */
double sim_samples_quantile(sim_samples *s, double f);
void sim_samples_free(sim_samples *s);

/* Report name_mean, name_p50, name_p90, name_p99, name_max and name_count
 * as metrics of scope, scaling values by `scale` (e.g. 1e-12 for ps -> s)
 * and tagging them with unit. Nothing is reported when empty except count. */
int sim_samples_report(sim *s, const char *scope, const char *name, sim_samples *smp,
                       double scale, const char *unit);

#endif
