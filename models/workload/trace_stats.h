/*
 * trace_stats.h - statistics over a request stream, and conversion of any
 * stream to memfab's native trace format.
 *
 * Definitions (used everywhere memfab reports trace statistics):
 *   span        last arrival - first arrival.
 *   rate        (requests - 1) / span, in requests per second: the inverse
 *               of the mean inter-arrival time; 0 when span is 0.
 *   mean        (double)sum / (double)count of the token counts (sums are
 *               exact 64-bit integers).
 *   percentile  nearest rank: the p-th percentile of N values sorted
 *               ascending x[1] <= ... <= x[N] is x[k] with
 *               k = ceil(p * N / 100), computed in integers as
 *               (p * N + 99) / 100, and k = 1 when that is 0. It is always
 *               one of the values; p50 of {1,2,3,4} is 2. (trace_percentile)
 *   total_blocks   number of block-id references, summed over requests.
 *   unique_blocks  number of distinct block ids.
 *   reuse_ratio    infinite-cache prefix reuse, block-weighted: the fraction
 *               of block references whose id was seen before (earlier in
 *               the stream, or earlier in the same request) =
 *               (double)(total_blocks - unique_blocks) / (double)total_blocks.
 *   token_reuse_ratio   the same, token-weighted: block i of a request with
 *               L prompt tokens and block size B covers
 *               t_i = min(B, max(0, L - i*B)) tokens; the ratio is the sum
 *               of t_i over references seen before divided by the sum of
 *               t_i over all references. It is the fraction of prompt
 *               tokens an infinite prefix cache would serve when every
 *               request's ids cover its prompt (ceil(L/B) ids).
 * Block statistics count only requests that carry block ids.
 *
 * Memory: computing the statistics keeps every request's two token counts
 * (8 bytes per request, for exact percentiles) and a hash set of the
 * distinct block ids (about 32 bytes per distinct id).
 */
#ifndef MEMFAB_MODELS_TRACE_STATS_H
#define MEMFAB_MODELS_TRACE_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "models/workload/trace.h"

/* Summary of a token-count distribution. */
typedef struct trace_dist {
    double mean;   /* (double)sum / count */
    uint64_t sum;  /* exact sum */
    uint32_t min, p50, p90, p99, max; /* nearest-rank percentiles */
} trace_dist;

typedef struct trace_stats {
    uint64_t requests;        /* requests read */
    sim_time first, last;     /* first and last arrival, ps */
    sim_time span;            /* last - first, ps */
    double rate;              /* (requests - 1) / span, 1/s; 0 when span is 0 */
    trace_dist input;         /* prompt tokens per request */
    trace_dist output;        /* generated tokens per request */
    uint64_t sessions;        /* distinct nonzero session ids */
    uint32_t block_tokens;    /* block size of the ids (first request with ids) */
    uint64_t block_requests;  /* requests with block ids */
    uint64_t total_blocks;    /* block-id references */
    uint64_t unique_blocks;   /* distinct block ids */
    double reuse_ratio;       /* block-weighted prefix reuse, 0 when no blocks */
    uint64_t block_token_refs;    /* sum of t_i over all references */
    uint64_t block_token_reused;  /* sum of t_i over references seen before */
    double token_reuse_ratio; /* block_token_reused / block_token_refs */
} trace_stats;

/* Read r to its end and fill st. Returns 0, or a SIM_E* error from the
 * reader (err names file and line) or SIM_ENOMEM. */
int trace_stats_compute(trace_reader *r, trace_stats *st, sim_err *err);

/* Print st as `key: value` lines, one statistic a line. */
void trace_stats_print(const trace_stats *st, FILE *out);

/* The nearest-rank p-th percentile (0 < p <= 100) of n values sorted
 * ascending; 0 when n is 0. */
uint32_t trace_percentile(const uint32_t *sorted, size_t n, unsigned p);

/* Write the rest of r's stream to out in the native format (trace.h),
 * header first. Returns the number of requests written (>= 0), or a SIM_E*
 * error: the reader's, or SIM_EIO when writing fails. */
int64_t trace_convert(trace_reader *r, FILE *out, sim_err *err);

#endif
