/*
 * fuzz_trace.c - fuzz one trace reader (models/workload/trace.h), chosen
 * at compile time by FUZZ_TRACE_FMT (TRACE_MOONCAKE, TRACE_AZURE,
 * TRACE_BURSTGPT, TRACE_QWEN, TRACE_NATIVE): one harness per format, so
 * that each format's corpus and coverage stand on their own.
 *
 * Oracles, beyond the sanitizers:
 *   1. determinism: a second reader of the same bytes yields the same
 *      stream, ending the same way (the end, or the same error code);
 *   2. convert round trip (trace_stats.h: "a convert/re-read round trip
 *      reproduces the stream exactly"): trace_convert of a stream that
 *      reads to its end succeeds with as many requests; the native text it
 *      writes reads back as the same requests (every field, every block id,
 *      the block size); converting that native trace again gives the same
 *      bytes. A stream that ends in an error makes convert fail too;
 *   3. detection: TRACE_AUTO on the same bytes, when it picks this format,
 *      yields the same stream.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/workload/trace.h"
#include "models/workload/trace_stats.h"
#include "sim/mem.h"

#ifndef FUZZ_TRACE_FMT
#define FUZZ_TRACE_FMT TRACE_NATIVE
#endif

typedef struct stream {
    trace_req *reqs;           /* block_ids point into ids (as offsets until done) */
    uint64_t *ids;
    size_t n, cap, nids, capids;
    int end;                   /* 0: read to the end; else the SIM_E* error */
} stream;

static void stream_free(stream *st)
{
    free(st->reqs);
    free(st->ids);
    memset(st, 0, sizeof *st);
}

/* Read all of path as fmt into st. -1 when the reader cannot be opened
 * (st empty), else 0. */
static int read_all(const char *path, trace_format fmt, stream *st, trace_format *detected)
{
    memset(st, 0, sizeof *st);
    sim_err err;
    sim_err_clear(&err);
    trace_reader *r = trace_open(path, fmt, &err);
    if (!r)
        return -1;
    if (detected)
        *detected = trace_reader_format(r);
    trace_req q;
    int rc;
    while ((rc = trace_next(r, &q, &err)) == 1) {
        if (st->n == st->cap) {
            st->cap = st->cap ? 2 * st->cap : 16;
            trace_req *nr = realloc(st->reqs, st->cap * sizeof *nr);
            if (!nr)
                abort();
            st->reqs = nr;
        }
        if (st->nids + q.n_blocks > st->capids) {
            while (st->nids + q.n_blocks > st->capids)
                st->capids = st->capids ? 2 * st->capids : 64;
            uint64_t *ni = realloc(st->ids, st->capids * sizeof *ni);
            if (!ni)
                abort();
            st->ids = ni;
        }
        if (q.n_blocks)
            memcpy(st->ids + st->nids, q.block_ids, q.n_blocks * sizeof *q.block_ids);
        q.block_ids = (const uint64_t *)(uintptr_t)st->nids;   /* an offset for now */
        st->nids += q.n_blocks;
        st->reqs[st->n++] = q;
    }
    /* the contract: after the end or an error, the same result again */
    int again = trace_next(r, &q, &err);
    if (again != rc)
        fuzz_fail("trace_next returned %d after %d", again, rc);
    st->end = rc;
    trace_close(r);
    return 0;
}

static void same_stream(const stream *a, const stream *b, const char *what, int check_end)
{
    if (a->n != b->n)
        fuzz_fail("%s: %zu requests, then %zu", what, a->n, b->n);
    if (check_end && a->end != b->end)
        fuzz_fail("%s: ended with %d, then %d", what, a->end, b->end);
    for (size_t i = 0; i < a->n; i++) {
        const trace_req *x = &a->reqs[i], *y = &b->reqs[i];
        if (x->id != y->id || x->session != y->session || x->arrival != y->arrival ||
            x->input_tokens != y->input_tokens || x->output_tokens != y->output_tokens ||
            x->n_blocks != y->n_blocks || x->block_tokens != y->block_tokens)
            fuzz_fail("%s: request %zu differs (id %llu/%llu arrival %llu/%llu blocks %u/%u"
                      " block_tokens %u/%u)", what, i, (unsigned long long)x->id,
                      (unsigned long long)y->id, (unsigned long long)x->arrival,
                      (unsigned long long)y->arrival, x->n_blocks, y->n_blocks,
                      x->block_tokens, y->block_tokens);
        if (x->n_blocks &&
            memcmp(a->ids + (uintptr_t)x->block_ids, b->ids + (uintptr_t)y->block_ids,
                   x->n_blocks * sizeof *a->ids) != 0)
            fuzz_fail("%s: request %zu: block ids differ", what, i);
    }
}

/* The text after the first k lines of buf. */
static const char *skip_lines(const char *buf, size_t len, int k)
{
    const char *p = buf, *end = buf + len;
    for (; k > 0 && p < end; k--) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    return p;
}

/* Convert path (as fmt) to native text in *out (malloc'd, *outlen bytes).
 * Returns trace_convert's result, or INT64_MIN when the reader cannot be
 * opened. */
static int64_t convert(const char *path, trace_format fmt, char **out, size_t *outlen)
{
    sim_err err;
    sim_err_clear(&err);
    *out = NULL;
    *outlen = 0;
    trace_reader *r = trace_open(path, fmt, &err);
    if (!r)
        return INT64_MIN;
    FILE *f = open_memstream(out, outlen);
    if (!f)
        abort();
    int64_t n = trace_convert(r, f, &err);
    if (fclose(f))
        abort();
    trace_close(r);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("input.trace", data, size);
    if (!path)
        return 0;
    stream a, b;
    int opened = read_all(path, FUZZ_TRACE_FMT, &a, NULL) == 0;
    if (opened) {
        if (read_all(path, FUZZ_TRACE_FMT, &b, NULL))
            fuzz_fail("the second open of the same bytes failed");
        same_stream(&a, &b, "reread", 1);
        stream_free(&b);

        char *nat = NULL;
        size_t natlen = 0;
        int64_t n = convert(path, FUZZ_TRACE_FMT, &nat, &natlen);
        if (n == INT64_MIN)
            fuzz_fail("convert: the reader did not open");
        if (a.end != 0 && n >= 0)
            fuzz_fail("convert succeeded (%lld requests) on a stream that fails (%d)",
                      (long long)n, a.end);
        if (a.end == 0) {
            if (n < 0 || (size_t)n != a.n)
                fuzz_fail("convert: %lld, the stream has %zu requests", (long long)n, a.n);
            const char *npath = fuzz_file("converted.trace", nat, natlen);
            if (!npath)
                abort();
            if (read_all(npath, TRACE_NATIVE, &b, NULL))
                fuzz_fail("the converted trace does not open");
            same_stream(&a, &b, "convert round trip", 1);
            stream_free(&b);
            char *nat2 = NULL;
            size_t nat2len = 0;
            int64_t n2 = convert(npath, TRACE_NATIVE, &nat2, &nat2len);
            /* the second line names the source: compare from the third */
            const char *x = skip_lines(nat, natlen, 2), *y = skip_lines(nat2, nat2len, 2);
            size_t xl = natlen - (size_t)(x - nat), yl = nat2len - (size_t)(y - nat2);
            if (n2 != n || xl != yl || memcmp(x, y, xl) != 0 ||
                memcmp(nat, nat2, (size_t)(strchr(nat, '\n') - nat)) != 0)
                fuzz_fail("converting the converted trace changed it");
            free(nat2);
        }
        free(nat);
    }
    trace_format det = TRACE_AUTO;
    if (read_all(path, TRACE_AUTO, &b, &det) == 0) {
        if (det == FUZZ_TRACE_FMT && !opened)
            fuzz_fail("auto-detection opens as %s what the %s reader refused",
                      trace_format_name(det), trace_format_name(FUZZ_TRACE_FMT));
        if (det == FUZZ_TRACE_FMT)
            same_stream(&a, &b, "auto-detected", 1);
        stream_free(&b);
    }
    stream_free(&a);
    return 0;
}
