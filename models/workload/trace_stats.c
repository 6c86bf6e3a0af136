/*
 * trace_stats.c - statistics over a request stream and native-format
 * conversion (definitions in trace_stats.h).
 *
 * One pass: token counts go into two growable arrays (sorted at the end
 * for exact nearest-rank percentiles), block ids into a hash set whose
 * insert result tells whether a reference was seen before.
 */
#include "models/workload/trace_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mem.h"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

uint32_t trace_percentile(const uint32_t *sorted, size_t n, unsigned p)
{
    if (n == 0)
        return 0;
    uint64_t k = ((uint64_t)p * n + 99) / 100;
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return sorted[k - 1];
}

static void summarize(uint32_t *v, size_t n, uint64_t sum, trace_dist *d)
{
    memset(d, 0, sizeof *d);
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, cmp_u32);
    d->sum = sum;
    d->mean = (double)sum / (double)n;
    d->min = v[0];
    d->max = v[n - 1];
    d->p50 = trace_percentile(v, n, 50);
    d->p90 = trace_percentile(v, n, 90);
    d->p99 = trace_percentile(v, n, 99);
}

int trace_stats_compute(trace_reader *r, trace_stats *st, sim_err *err)
{
    memset(st, 0, sizeof *st);
    uint32_t *in = NULL, *outv = NULL;
    size_t cap = 0;
    uint64_t in_sum = 0, out_sum = 0;
    trace_u64map *blocks = trace_u64map_new(), *sessions = trace_u64map_new();
    int rc = 0;
    if (!blocks || !sessions) {
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    trace_req q;
    while ((rc = trace_next(r, &q, err)) == 1) {
        if (st->requests == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            uint32_t *a = sim_realloc(in, ncap * sizeof *a);
            if (a)
                in = a;
            uint32_t *b = a ? sim_realloc(outv, ncap * sizeof *b) : NULL;
            if (!b) {
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                goto done;
            }
            outv = b;
            cap = ncap;
        }
        if (st->requests == 0)
            st->first = q.arrival;
        st->last = q.arrival;
        in[st->requests] = q.input_tokens;
        outv[st->requests] = q.output_tokens;
        in_sum += q.input_tokens;
        out_sum += q.output_tokens;
        st->requests++;
        if (q.session && trace_u64map_put(sessions, q.session, 0) < 0) {
            rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
            goto done;
        }
        if (q.n_blocks == 0)
            continue;
        if (st->block_requests++ == 0)
            st->block_tokens = q.block_tokens;
        uint64_t bt = q.block_tokens;
        for (uint32_t i = 0; i < q.n_blocks; i++) {
            uint64_t start = (uint64_t)i * bt, t = 0;
            if (q.input_tokens > start)
                t = q.input_tokens - start < bt ? q.input_tokens - start : bt;
            int ins = trace_u64map_put(blocks, q.block_ids[i], 0);
            if (ins < 0) {
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                goto done;
            }
            st->total_blocks++;
            st->block_token_refs += t;
            if (ins == 0)
                st->block_token_reused += t;
        }
    }
    if (rc < 0)
        goto done;
    st->span = st->last - st->first;
    st->rate = st->span ? (double)(st->requests - 1) / sim_time_to_s(st->span) : 0.0;
    summarize(in, st->requests, in_sum, &st->input);
    summarize(outv, st->requests, out_sum, &st->output);
    st->sessions = trace_u64map_count(sessions);
    st->unique_blocks = trace_u64map_count(blocks);
    if (st->total_blocks)
        st->reuse_ratio =
            (double)(st->total_blocks - st->unique_blocks) / (double)st->total_blocks;
    if (st->block_token_refs)
        st->token_reuse_ratio =
            (double)st->block_token_reused / (double)st->block_token_refs;
    rc = 0;
done:
    sim_free(in);
    sim_free(outv);
    trace_u64map_free(blocks);
    trace_u64map_free(sessions);
    return rc;
}

static void print_dist(FILE *out, const char *name, const trace_dist *d)
{
    fprintf(out, "%s_tokens_mean: %.3f\n", name, d->mean);
    fprintf(out, "%s_tokens_min: %" PRIu32 "\n", name, d->min);
    fprintf(out, "%s_tokens_p50: %" PRIu32 "\n", name, d->p50);
    fprintf(out, "%s_tokens_p90: %" PRIu32 "\n", name, d->p90);
    fprintf(out, "%s_tokens_p99: %" PRIu32 "\n", name, d->p99);
    fprintf(out, "%s_tokens_max: %" PRIu32 "\n", name, d->max);
}

void trace_stats_print(const trace_stats *st, FILE *out)
{
    fprintf(out, "requests: %" PRIu64 "\n", st->requests);
    fprintf(out, "first_arrival_s: %.6f\n", sim_time_to_s(st->first));
    fprintf(out, "span_s: %.6f\n", sim_time_to_s(st->span));
    fprintf(out, "rate_per_s: %.4f\n", st->rate);
    print_dist(out, "input", &st->input);
    print_dist(out, "output", &st->output);
    fprintf(out, "sessions: %" PRIu64 "\n", st->sessions);
    if (st->block_requests) {
        fprintf(out, "block_tokens: %" PRIu32 "\n", st->block_tokens);
        fprintf(out, "requests_with_blocks: %" PRIu64 "\n", st->block_requests);
        fprintf(out, "total_blocks: %" PRIu64 "\n", st->total_blocks);
        fprintf(out, "unique_blocks: %" PRIu64 "\n", st->unique_blocks);
        fprintf(out, "prefix_reuse_blocks: %.6f\n", st->reuse_ratio);
        fprintf(out, "prefix_reuse_tokens: %.6f\n", st->token_reuse_ratio);
    }
}

int64_t trace_convert(trace_reader *r, FILE *out, sim_err *err)
{
    const char *name = trace_reader_name(r);
    int64_t n = 0;
    uint32_t bt = trace_reader_block_tokens(r);
    trace_req q;
    int rc;
    if (fprintf(out, "# memfab-trace v1 block_tokens=%" PRIu32 "\n", bt) < 0 ||
        fputs("# id arrival_ps session input_tokens output_tokens [block_id ...] (from ", out) < 0)
        goto io;
    /* The source's name in a comment: control bytes escaped, so that a
     * line break in a file name cannot end the comment and become data. */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if ((*p < 0x20 || *p == 0x7f) ? fprintf(out, "\\x%02x", *p) < 0 : putc(*p, out) == EOF)
            goto io;
    if (fputs(")\n", out) < 0)
        goto io;
    while ((rc = trace_next(r, &q, err)) == 1) {
        if (q.n_blocks && q.block_tokens != bt)
            return sim_err_set(err, SIM_EFORMAT, name, (int)trace_reader_line(r), 0,
                               "request uses %" PRIu32 "-token blocks but the source declares "
                               "%" PRIu32, q.block_tokens, bt);
        if (fprintf(out, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32 " %" PRIu32, q.id,
                    q.arrival, q.session, q.input_tokens, q.output_tokens) < 0)
            goto io;
        for (uint32_t i = 0; i < q.n_blocks; i++)
            if (fprintf(out, " %" PRIu64, q.block_ids[i]) < 0)
                goto io;
        if (fputc('\n', out) == EOF)
            goto io;
        n++;
    }
    if (rc < 0)
        return rc;
    if (fflush(out) != 0)
        goto io;
    return n;
io:
    return sim_err_set(err, SIM_EIO, NULL, 0, 0, "writing the native trace failed: %s",
                       strerror(errno));
}
