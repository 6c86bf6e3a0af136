/*
 * step_table.h - the `table` step-time model of a serving instance: step
 * times measured on a grid of (prefill tokens, decode batch, context
 * tokens), read from a CSV and interpolated multilinearly.
 *
 * The CSV. One header row naming the columns (any order; columns with other
 * names are ignored, so provenance such as model, hardware or
 * tensor_parallel can ride along, as in SplitwiseSim's data/perf_model.csv),
 * then one row per grid point. Lines starting with '#' and empty lines are
 * comments (the file cites its source in them). Columns:
 *   prefill_tokens   uncached prompt tokens the step computes (all prefills)
 *   decode_tokens    decoding sequences in the step (the decode batch size)
 *   context_tokens   KV context tokens the step reads (all sequences)
 *   step_time_s | step_time_ms | step_time_us   the measured step duration (at
 *                    most 1e6 s: the clock counts ps in 63 bits)
 * These are the quantities and names of `memfab calibrate`'s steps CSV and
 * of the linear model's terms (llm_model.h), so one file of measured steps
 * on a grid is both fitted and interpolated. Published per-iteration
 * measurements map onto them: SplitwiseSim (Patel et al., "Splitwise",
 * ISCA 2024; github.com/Mutinifni/splitwise-sim data/perf_model.csv) gives
 * prompt_time for batch_size prompts of prompt_size tokens (a step of
 * prefill_tokens = batch_size x prompt_size, decode_tokens = 0) and
 * token_time per decode iteration of batch_size sequences (prefill_tokens
 * = 0, decode_tokens = batch_size), in ms; Vidur's profiles (Agrawal et
 * al., MLSys 2024; microsoft/vidur data/profiling/compute/<gpu>/<model>/
 * mlp.csv, attention.csv) are per operator and layer, which Vidur's own
 * simulator composes into a step - not a step table.
 *
 * The grid. The rows must enumerate the full Cartesian product of the
 * distinct values of each axis in lexicographic order (prefill_tokens
 * slowest, context_tokens fastest), each point once: a row not after its
 * predecessor is non-monotone, one equal to it a duplicate, and a point of
 * the product that no row gives makes the grid incomplete. An axis with a
 * single value means the times do not depend on that quantity. Token
 * counts and times are finite and >= 0.
 *
 * Interpolation. Per axis, x between grid values a_i <= x <= a_{i+1} has
 * weight w = (x - a_i) / (a_{i+1} - a_i) on a_{i+1} and 1 - w on a_i; the
 * step time is the sum over the 2^3 corners of the cell of the corner's
 * time times the product of its three weights (trilinear interpolation;
 * Press et al., Numerical Recipes, 3rd ed., sec. 3.6). On a grid point the
 * weights are 0 and 1 and the result is the entry itself. Outside the grid
 * an axis extends linearly from its outermost segment (w < 0 or w > 1 on
 * the first or last pair of values), not clamped: a decode batch beyond
 * the last measured one keeps growing at the last measured slope. The
 * result is floored at 0 (a steep extension below the first value could
 * otherwise go negative). Since the interpolant is affine in each variable
 * with the others fixed, a table of any function
 *   f = c0 + c1 p + c2 d + c3 c (+ any products of distinct variables)
 * is reproduced exactly (up to rounding), inside the grid and outside:
 * a table generated from linear coefficients is the linear model.
 */
#ifndef MEMFAB_MODELS_STEP_TABLE_H
#define MEMFAB_MODELS_STEP_TABLE_H

#include <stddef.h>
#include <stdint.h>

enum { STEP_TABLE_PREFILL, STEP_TABLE_DECODE, STEP_TABLE_CONTEXT, STEP_TABLE_AXES };

typedef struct step_table {
    uint32_t n[STEP_TABLE_AXES];       /* grid values per axis (>= 1) */
    double *axis[STEP_TABLE_AXES];     /* ascending grid values */
    double *t;                         /* seconds, index (i x n1 + j) x n2 + k */
} step_table;

/* Read a table CSV. 0 and *out (free with step_table_free), or -1 with a
 * message in why naming the CSV line (1-based, the header included) and
 * the column: "LINE: column 'NAME': ...". */
int step_table_load(const char *path, step_table **out, char *why, size_t whylen);
void step_table_free(step_table *t);

/* The interpolated step time in seconds of a step of p prefill tokens, d
 * decode sequences and c context tokens read. Allocates nothing. */
double step_table_seconds(const step_table *t, double p, double d, double c);

#endif
