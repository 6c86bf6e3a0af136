/*
 * check_trace.c - tests of the trace readers, synthetic workloads and trace
 * statistics (models/workload/trace.h, models/workload/synth.h, models/workload/trace_stats.h).
 *
 * The statistics of the real public traces (found through
 * MEMFAB_TRACE_PATH; skipped with a message when absent) are checked
 * against a reference computed here independently: its own sscanf/strstr
 * parsing of the Mooncake JSON lines and the Azure CSV, its own calendar
 * arithmetic, its own sort and percentile code, and a sort-based count of
 * unique and previously seen blocks instead of a hash set.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/workload/synth.h"
#include "models/workload/trace.h"
#include "models/workload/trace_stats.h"
#include "sim/err.h"
#include "tests/check_main.h"

/* ---- Fixture: a temporary directory ------------------------------------ */

static char tmpdir[256];
static int tmpcount;

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/check_trace.XXXXXX", test_tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    tmpcount = 0;
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "check_trace: could not remove %s\n", tmpdir);
}

/* Write text to a new file in tmpdir; returns its path (static storage
 * rotating among 8 buffers). */
static const char *write_tmp(const char *name, const char *text)
{
    static char paths[8][512];
    char *p = paths[tmpcount++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

/* Find a public trace under MEMFAB_TRACE_PATH; 0 (with a skip message)
 * when absent. */
static int find_trace(const char *rel, char *out, size_t outlen)
{
    const char *env = getenv("MEMFAB_TRACE_PATH");
    while (env && *env) {
        size_t n = strcspn(env, ":");
        snprintf(out, outlen, "%.*s/%s", (int)n, env, rel);
        if (access(out, R_OK) == 0)
            return 1;
        env += n;
        if (*env == ':')
            env++;
    }
    fprintf(stderr, "check_trace: SKIP %s not found in MEMFAB_TRACE_PATH\n", rel);
    return 0;
}

/* ---- The independent reference ------------------------------------------ */

typedef struct bref {
    uint64_t id;     /* block id */
    uint64_t seq;    /* global reference order */
    uint64_t tokens; /* tokens the reference covers */
} bref;

typedef struct ref {
    uint64_t n;                    /* requests */
    uint64_t first_ps, last_ps;    /* arrivals */
    uint32_t *in, *out;            /* token counts */
    uint64_t in_sum, out_sum;      /* sums */
    bref *b;                       /* block references */
    uint64_t nb, bcap;             /* count and capacity */
} ref;

static void ref_add(ref *r, uint64_t t, uint32_t in, uint32_t out)
{
    if ((r->n & (r->n - 1)) == 0) {
        size_t cap = r->n ? r->n * 2 : 1;
        r->in = realloc(r->in, cap * sizeof *r->in);
        r->out = realloc(r->out, cap * sizeof *r->out);
        ck_assert(r->in && r->out);
    }
    if (r->n == 0)
        r->first_ps = t;
    r->last_ps = t;
    r->in[r->n] = in;
    r->out[r->n] = out;
    r->in_sum += in;
    r->out_sum += out;
    r->n++;
}

static void ref_free(ref *r)
{
    free(r->in);
    free(r->out);
    free(r->b);
}

/* Shell sort (Ciura gaps), independent of the library's qsort use. */
static void shell_sort(uint32_t *v, size_t n)
{
    static const size_t gaps[] = {88573, 39373, 17497, 7777, 3457, 1535, 701, 301, 132, 57, 23,
                                  10, 4, 1};
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            uint32_t x = v[i];
            size_t j = i;
            for (; j >= gap && v[j - gap] > x; j -= gap)
                v[j] = v[j - gap];
            v[j] = x;
        }
    }
}

/* Nearest rank: x[ceil(p/100 * n)], 1-based. */
static uint32_t ref_pct(const uint32_t *v, size_t n, double p)
{
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    if (k < 1)
        k = 1;
    return v[k - 1];
}

static int cmp_bref(const void *a, const void *b)
{
    const bref *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void check_dist(const trace_dist *d, uint32_t *v, size_t n, uint64_t sum)
{
    shell_sort(v, n);
    size_t unsorted = 0;
    for (size_t i = 1; i < n; i++)
        unsorted += v[i - 1] > v[i];
    ck_assert_uint_eq(unsorted, 0);
    ck_assert_uint_eq(d->sum, sum);
    ck_assert(d->mean == (double)sum / (double)n);
    ck_assert_uint_eq(d->min, v[0]);
    ck_assert_uint_eq(d->max, v[n - 1]);
    ck_assert_uint_eq(d->p50, ref_pct(v, n, 50));
    ck_assert_uint_eq(d->p90, ref_pct(v, n, 90));
    ck_assert_uint_eq(d->p99, ref_pct(v, n, 99));
}

/* Compare the library's statistics of `path` with the reference. */
static void check_against(const char *path, trace_format fmt, ref *r)
{
    sim_err e;
    trace_reader *tr = trace_open(path, TRACE_AUTO, &e);
    ck_assert_msg(tr != NULL, "%s", e.msg);
    ck_assert_int_eq(trace_reader_format(tr), fmt);
    trace_stats st;
    int rc = trace_stats_compute(tr, &st, &e);
    ck_assert_msg(rc == 0, "%s:%d: %s", e.file, e.line, e.msg);
    trace_close(tr);

    ck_assert_uint_eq(st.requests, r->n);
    ck_assert_uint_eq(st.first, r->first_ps);
    ck_assert_uint_eq(st.span, r->last_ps - r->first_ps);
    ck_assert(st.rate == (double)(r->n - 1) / ((double)(r->last_ps - r->first_ps) * 1e-12));
    check_dist(&st.input, r->in, r->n, r->in_sum);
    check_dist(&st.output, r->out, r->n, r->out_sum);

    if (fmt != TRACE_MOONCAKE) {
        ck_assert_uint_eq(st.total_blocks, 0);
        return;
    }
    qsort(r->b, r->nb, sizeof *r->b, cmp_bref);
    uint64_t unique = 0, tok = 0, tok_seen = 0;
    for (uint64_t i = 0; i < r->nb; i++) {
        tok += r->b[i].tokens;
        if (i == 0 || r->b[i].id != r->b[i - 1].id)
            unique++;
        else
            tok_seen += r->b[i].tokens;
    }
    ck_assert_uint_eq(st.block_tokens, 512);
    ck_assert_uint_eq(st.total_blocks, r->nb);
    ck_assert_uint_eq(st.unique_blocks, unique);
    ck_assert(st.reuse_ratio == (double)(r->nb - unique) / (double)r->nb);
    ck_assert_uint_eq(st.block_token_refs, tok);
    ck_assert_uint_eq(st.block_token_reused, tok_seen);
    ck_assert(st.token_reuse_ratio == (double)tok_seen / (double)tok);
    fprintf(stderr, "check_trace: %s: %llu requests, %llu blocks, %llu unique, reuse %.4f\n",
            path, (unsigned long long)r->n, (unsigned long long)r->nb,
            (unsigned long long)unique, st.reuse_ratio);
}

static const char *const mooncake_files[] = {"mooncake-fast25/conversation_trace.jsonl",
                                             "mooncake-fast25/synthetic_trace.jsonl"};
static const char *const azure_files[] = {"azure-llm-2023/AzureLLMInferenceTrace_conv.csv",
                                          "azure-llm-2023/AzureLLMInferenceTrace_code.csv"};

/* Reference: Mooncake JSON lines by strstr/strtoull. */
START_TEST(test_real_mooncake)
{
    char path[1024];
    if (!find_trace(mooncake_files[_i], path, sizeof path))
        return;
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ref r;
    memset(&r, 0, sizeof r);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        char *ts = strstr(line, "\"timestamp\":"), *il = strstr(line, "\"input_length\":");
        char *ol = strstr(line, "\"output_length\":"), *h = strstr(line, "\"hash_ids\":");
        if (!(ts && il && ol && h))
            ck_abort_msg("reference parser: unexpected line %s", line);
        unsigned long long t = strtoull(ts + 12, NULL, 10);
        unsigned long in = strtoul(il + 15, NULL, 10), out = strtoul(ol + 16, NULL, 10);
        ref_add(&r, t * 1000000000ULL, (uint32_t)in, (uint32_t)out);
        char *p = strchr(h, '[') + 1;
        for (uint64_t i = 0;; i++) {
            while (*p == ' ' || *p == ',')
                p++;
            if (*p == ']')
                break;
            char *end;
            unsigned long long id = strtoull(p, &end, 10);
            if (end == p)
                ck_abort_msg("reference parser: bad hash_ids in %s", line);
            p = end;
            if (r.nb == r.bcap) {
                r.bcap = r.bcap ? r.bcap * 2 : 4096;
                r.b = realloc(r.b, r.bcap * sizeof *r.b);
                ck_assert_ptr_nonnull(r.b);
            }
            long long left = (long long)in - (long long)(i * 512);
            r.b[r.nb].id = id;
            r.b[r.nb].seq = r.nb;
            r.b[r.nb].tokens = left <= 0 ? 0 : left < 512 ? (uint64_t)left : 512;
            r.nb++;
        }
    }
    free(line);
    fclose(f);
    check_against(path, TRACE_MOONCAKE, &r);
    ref_free(&r);
}
END_TEST

/* Seconds since 1970 by counting days, independent of the library. */
static long long ref_epoch(int y, int mo, int d, int h, int mi, int s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long long days = 0;
    for (int yy = 1970; yy < y; yy++)
        days += 365 + ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0);
    for (int m = 1; m < mo; m++)
        days += mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    days += d - 1;
    return ((days * 24 + h) * 60 + mi) * 60 + s;
}

/* Reference: Azure CSV by sscanf. */
START_TEST(test_real_azure)
{
    char path[1024];
    if (!find_trace(azure_files[_i], path, sizeof path))
        return;
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ref r;
    memset(&r, 0, sizeof r);
    char line[512];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert(strncmp(line, "TIMESTAMP,ContextTokens,GeneratedTokens", 39) == 0);
    long long s0 = -1, t0 = 0;
    while (fgets(line, sizeof line, f)) {
        int y, mo, d, h, mi, s;
        char frac[32];
        unsigned in, out;
        if (sscanf(line, "%d-%d-%d %d:%d:%d.%31[0-9],%u,%u", &y, &mo, &d, &h, &mi, &s, frac, &in,
                   &out) != 9)
            ck_abort_msg("reference parser: unexpected line %s", line);
        char ps[13] = "000000000000";
        memcpy(ps, frac, strlen(frac) < 12 ? strlen(frac) : 12);
        long long sec = ref_epoch(y, mo, d, h, mi, s);
        if (s0 < 0)
            s0 = sec, t0 = atoll(ps);
        long long t = (sec - s0) * 1000000000000LL + atoll(ps);
        ref_add(&r, (uint64_t)(t - t0), in, out);
    }
    fclose(f);
    check_against(path, TRACE_AZURE, &r);
    ref_free(&r);
}
END_TEST

/* ---- Streams: compare two readers --------------------------------------- */

typedef struct reqcopy {
    trace_req q;
    uint64_t ids[64];
} reqcopy;

/* Read both streams to the end and assert they are equal. Returns count. */
static uint64_t assert_same_stream(trace_reader *a, trace_reader *b)
{
    sim_err e;
    trace_req x, y;
    uint64_t n = 0;
    for (;;) {
        int ra = trace_next(a, &x, &e);
        ck_assert_msg(ra >= 0, "%s:%d: %s", e.file, e.line, e.msg);
        int rb = trace_next(b, &y, &e);
        ck_assert_msg(rb >= 0, "%s:%d: %s", e.file, e.line, e.msg);
        if (ra == 0 && rb == 0)
            return n;
        /* compare without ck_assert per field: it is slow in hot loops */
        if (ra != rb || x.id != y.id || x.session != y.session || x.arrival != y.arrival ||
            x.input_tokens != y.input_tokens || x.output_tokens != y.output_tokens ||
            x.n_blocks != y.n_blocks || x.block_tokens != y.block_tokens ||
            (x.n_blocks &&
             memcmp(x.block_ids, y.block_ids, x.n_blocks * sizeof *x.block_ids) != 0))
            ck_abort_msg("streams differ at request %llu: id %llu/%llu arrival %llu/%llu "
                         "in %u/%u out %u/%u blocks %u/%u", (unsigned long long)n,
                         (unsigned long long)x.id, (unsigned long long)y.id,
                         (unsigned long long)x.arrival, (unsigned long long)y.arrival,
                         x.input_tokens, y.input_tokens, x.output_tokens, y.output_tokens,
                         x.n_blocks, y.n_blocks);
        n++;
    }
}

static const char mooncake_sample[] =
    "{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 10, \"hash_ids\": [0, 1]}\n"
    "{\"timestamp\": 0, \"input_length\": 1100, \"output_length\": 20, \"hash_ids\": [0, 1, 2]}\n"
    "\n"
    "{\"timestamp\": 1500, \"input_length\": 300, \"output_length\": 5, \"hash_ids\": [3]}\n"
    "{\"timestamp\": 2000.5, \"input_length\": 7, \"output_length\": 1, \"hash_ids\": []}\n";

/* Convert path to the native format, re-read, compare with a fresh read. */
static void roundtrip(const char *path)
{
    sim_err e;
    char out[600];
    snprintf(out, sizeof out, "%s/rt.trace", tmpdir);
    trace_reader *r = trace_open(path, TRACE_AUTO, &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    FILE *f = fopen(out, "w");
    ck_assert_ptr_nonnull(f);
    int64_t n = trace_convert(r, f, &e);
    ck_assert_msg(n >= 0, "%s", e.msg);
    ck_assert_int_eq(fclose(f), 0);
    trace_close(r);
    trace_reader *a = trace_open(path, TRACE_AUTO, &e);
    trace_reader *b = trace_open(out, TRACE_AUTO, &e);
    ck_assert_msg(a && b, "%s:%d: %s", e.file, e.line, e.msg);
    ck_assert_int_eq(trace_reader_format(b), TRACE_NATIVE);
    ck_assert_uint_eq(assert_same_stream(a, b), (uint64_t)n);
    trace_close(a);
    trace_close(b);
}

START_TEST(test_native_roundtrip)
{
    roundtrip(write_tmp("m.jsonl", mooncake_sample));
    char path[1024];
    if (find_trace(mooncake_files[1], path, sizeof path))
        roundtrip(path);
    if (find_trace(azure_files[1], path, sizeof path))
        roundtrip(path);
}
END_TEST

START_TEST(test_native_synth_roundtrip)
{
    synth_config c = synth_config_default();
    c.turns = (synth_dist){SYNTH_UNIFORM, 1, 5};
    c.groups = 2;
    c.prefix_tokens = 1500;
    c.max_requests = 300;
    sim_err e;
    trace_reader *r = synth_open(&c, &e);
    ck_assert_ptr_nonnull(r);
    char out[600];
    snprintf(out, sizeof out, "%s/synth.trace", tmpdir);
    FILE *f = fopen(out, "w");
    ck_assert_int_eq(trace_convert(r, f, &e), 300);
    fclose(f);
    trace_close(r);
    trace_reader *a = synth_open(&c, &e), *b = trace_open(out, TRACE_NATIVE, &e);
    ck_assert(a && b);
    ck_assert_uint_eq(assert_same_stream(a, b), 300);
    trace_close(a);
    trace_close(b);
}
END_TEST

START_TEST(test_mooncake_sample)
{
    sim_err e;
    trace_reader *r = trace_open(write_tmp("m.jsonl", mooncake_sample), TRACE_AUTO, &e);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(trace_reader_format(r), TRACE_MOONCAKE);
    ck_assert_uint_eq(trace_reader_block_tokens(r), 512);
    trace_req q;
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.id, 0);
    ck_assert_uint_eq(q.n_blocks, 2);
    ck_assert_uint_eq(q.block_tokens, 512);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.block_ids[2], 2);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 1500 * SIM_MS);
    ck_assert_int_eq(trace_reader_line(r), 4);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 2000 * SIM_MS + 500 * SIM_US);
    ck_assert_uint_eq(q.n_blocks, 0);
    ck_assert_uint_eq(q.block_tokens, 0);
    ck_assert_ptr_null(q.block_ids);
    ck_assert_int_eq(trace_next(r, &q, &e), 0);
    ck_assert_int_eq(trace_next(r, &q, &e), 0);
    trace_close(r);
    /* statistics of the sample, by hand: blocks 0 1 | 0 1 2 | 3 -> 6 refs, 4 unique */
    r = trace_open(write_tmp("m2.jsonl", mooncake_sample), TRACE_MOONCAKE, &e);
    trace_stats st;
    ck_assert_int_eq(trace_stats_compute(r, &st, &e), 0);
    trace_close(r);
    ck_assert_uint_eq(st.requests, 4);
    ck_assert_uint_eq(st.total_blocks, 6);
    ck_assert_uint_eq(st.unique_blocks, 4);
    ck_assert(st.reuse_ratio == 2.0 / 6.0);
    /* tokens: 512+488 | 512+512+76 | 300 = 2400; seen: the second
     * request's blocks 0 and 1, 512 tokens each */
    ck_assert_uint_eq(st.block_token_refs, 2400);
    ck_assert_uint_eq(st.block_token_reused, 1024);
    ck_assert_uint_eq(st.input.p50, 300);
    ck_assert_uint_eq(st.input.p99, 1100);
}
END_TEST

START_TEST(test_azure_forms)
{
    sim_err e;
    const char *p = write_tmp("a24.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                         "2024-05-10 00:00:00.009930+00:00,100,10\n"
                                         "2024-05-10 00:00:01.5+00:00,200,20\n"
                                         "2024-05-10 02:00:01.5+02:00,300,30\n"
                                         "2024-05-11 00:00:00,400,40");
    trace_reader *r = trace_open(p, TRACE_AUTO, &e);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(trace_reader_format(r), TRACE_AZURE);
    trace_req q;
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 0);
    ck_assert_uint_eq(q.input_tokens, 100);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 1500 * SIM_MS - 9930 * SIM_US);
    ck_assert_int_eq(trace_next(r, &q, &e), 1); /* +02:00: the same instant */
    ck_assert_uint_eq(q.arrival, 1500 * SIM_MS - 9930 * SIM_US);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 86400 * SIM_S - 9930 * SIM_US);
    ck_assert_uint_eq(q.output_tokens, 40);
    ck_assert_int_eq(trace_next(r, &q, &e), 0);
    trace_close(r);
    /* 2023 form, 7 digits, exact */
    p = write_tmp("a23.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                             "2023-11-16 18:17:03.9799600,4808,10\n"
                             "2023-11-16 18:17:04.0319601,3180,8\n");
    r = trace_open(p, TRACE_AZURE, &e);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 52000100 * SIM_NS); /* 0.0520001 s */
    trace_close(r);
}
END_TEST

START_TEST(test_burstgpt_sample)
{
    sim_err e;
    const char *p = write_tmp("b.csv",
                              "Timestamp,Model,Request tokens,Response tokens,Total tokens,"
                              "Log Type\n"
                              "5,ChatGPT,472,18,490,Conversation log\n"
                              "45.25,GPT-4,1087,0,1087,API log\n"
                              "45.25,\"GPT-4, big\",12,3,15,API log\n");
    trace_reader *r = trace_open(p, TRACE_AUTO, &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    ck_assert_int_eq(trace_reader_format(r), TRACE_BURSTGPT);
    trace_req q;
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 5 * SIM_S);
    ck_assert_uint_eq(q.input_tokens, 472);
    ck_assert_uint_eq(q.output_tokens, 18);
    ck_assert_uint_eq(q.session, 0);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 45 * SIM_S + 250 * SIM_MS);
    ck_assert_uint_eq(q.output_tokens, 0);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.input_tokens, 12);
    ck_assert_uint_eq(q.id, 2);
    ck_assert_int_eq(trace_next(r, &q, &e), 0);
    trace_close(r);
    /* with session ids, columns in another order */
    p = write_tmp("b2.csv", "Session ID,Timestamp,Model,Response tokens,Request tokens,Log Type\n"
                            "17,1,ChatGPT,5,10,Conversation log\n"
                            "abc,2,ChatGPT,6,11,Conversation log\n"
                            ",3,ChatGPT,7,12,API log\n");
    r = trace_open(p, TRACE_BURSTGPT, &e);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.session, 17);
    ck_assert_uint_eq(q.input_tokens, 10);
    ck_assert_uint_eq(q.output_tokens, 5);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_ne(q.session, 0);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.session, 0);
    trace_close(r);
}
END_TEST

START_TEST(test_qwen_sample)
{
    sim_err e;
    const char *p = write_tmp(
        "q.jsonl",
        "{\"chat_id\": 10, \"parent_chat_id\": -1, \"timestamp\": 0.5, \"input_length\": 40, "
        "\"output_length\": 8, \"type\": \"text\", \"turn\": 1, \"hash_ids\": [1, 2, 3]}\n"
        "{\"chat_id\": 11, \"parent_chat_id\": -1, \"timestamp\": 1.0, \"input_length\": 16, "
        "\"output_length\": 4, \"type\": \"text\", \"turn\": 1, \"hash_ids\": [9]}\n"
        "{\"chat_id\": 12, \"parent_chat_id\": 10, \"timestamp\": 2.25, \"input_length\": 60, "
        "\"output_length\": 2, \"type\": \"text\", \"turn\": 2, \"hash_ids\": [1, 2, 3, 4]}\n"
        "{\"chat_id\": 13, \"parent_chat_id\": 12, \"timestamp\": 3, \"input_length\": 70, "
        "\"output_length\": 2, \"type\": \"text\", \"turn\": 3, \"hash_ids\": [1, 2, 3, 4, 5]}\n"
        "{\"chat_id\": 14, \"parent_chat_id\": 7, \"timestamp\": 3, \"input_length\": 1, "
        "\"output_length\": 1, \"type\": \"text\", \"turn\": 2, \"hash_ids\": [6]}\n");
    trace_reader *r = trace_open(p, TRACE_AUTO, &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    ck_assert_int_eq(trace_reader_format(r), TRACE_QWEN);
    ck_assert_uint_eq(trace_reader_block_tokens(r), 16);
    static const uint64_t ids[] = {10, 11, 12, 13, 14}, sess[] = {10, 11, 10, 10, 7};
    static const sim_time at[] = {500 * SIM_MS, SIM_S, 2250 * SIM_MS, 3 * SIM_S, 3 * SIM_S};
    trace_req q;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(trace_next(r, &q, &e), 1);
        ck_assert_uint_eq(q.id, ids[i]);
        ck_assert_uint_eq(q.session, sess[i]);
        ck_assert_uint_eq(q.arrival, at[i]);
        ck_assert_uint_eq(q.block_tokens, 16);
    }
    ck_assert_int_eq(trace_next(r, &q, &e), 0);
    trace_close(r);
    r = trace_open(p, TRACE_QWEN, &e);
    trace_stats st;
    ck_assert_int_eq(trace_stats_compute(r, &st, &e), 0);
    trace_close(r);
    ck_assert_uint_eq(st.sessions, 3);
    ck_assert_uint_eq(st.total_blocks, 14);
    ck_assert_uint_eq(st.unique_blocks, 7);
}
END_TEST

START_TEST(test_percentile)
{
    const uint32_t v[] = {1, 2, 3, 4};
    ck_assert_uint_eq(trace_percentile(v, 4, 50), 2);
    ck_assert_uint_eq(trace_percentile(v, 4, 51), 3);
    ck_assert_uint_eq(trace_percentile(v, 4, 90), 4);
    ck_assert_uint_eq(trace_percentile(v, 4, 1), 1);
    ck_assert_uint_eq(trace_percentile(v, 4, 100), 4);
    ck_assert_uint_eq(trace_percentile(v, 1, 99), 1);
    ck_assert_uint_eq(trace_percentile(v, 0, 50), 0);
    uint32_t w[100];
    for (int i = 0; i < 100; i++)
        w[i] = (uint32_t)i + 1;
    ck_assert_uint_eq(trace_percentile(w, 100, 99), 99);
    ck_assert_uint_eq(trace_percentile(w, 100, 90), 90);
}
END_TEST

START_TEST(test_format_names)
{
    trace_format f;
    for (int i = TRACE_AUTO; i <= TRACE_NATIVE; i++) {
        ck_assert_int_eq(trace_format_parse(trace_format_name((trace_format)i), &f), 0);
        ck_assert_int_eq(f, i);
    }
    ck_assert_int_eq(trace_format_parse("Mooncake", &f), 0);
    ck_assert_int_eq(f, TRACE_MOONCAKE);
    ck_assert_int_eq(trace_format_parse("splunk", &f), SIM_EINVAL);
}
END_TEST

START_TEST(test_resolve)
{
    sim_err e;
    char out[1024];
    write_tmp("x.jsonl", mooncake_sample);
    ck_assert_int_eq(trace_resolve(tmpdir, "x.jsonl", out, sizeof out, &e), 0);
    ck_assert_str_eq(strrchr(out, '/'), "/x.jsonl");
    char env[600];
    snprintf(env, sizeof env, "/nonexistent-dir::%s", tmpdir);
    setenv("MEMFAB_TRACE_PATH", env, 1);
    ck_assert_int_eq(trace_resolve("/", "x.jsonl", out, sizeof out, &e), 0);
    ck_assert(strncmp(out, tmpdir, strlen(tmpdir)) == 0);
    ck_assert_int_eq(trace_resolve("/", "x.jsonl", out, 5, &e), SIM_EINVAL);
    /* the trace cache is searched last, and a file of the catalog is
     * named with the command that downloads it */
    char cache[700], cached[800];
    snprintf(cache, sizeof cache, "%s/xdg", tmpdir);
    setenv("XDG_CACHE_HOME", cache, 1);
    ck_assert_int_eq(
        trace_resolve(tmpdir, "mooncake/conversation_trace.jsonl", out, sizeof out, &e),
        SIM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "mooncake/conversation_trace.jsonl"));
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent-dir/mooncake"));
    snprintf(cached, sizeof cached, "%s/memfab/traces/mooncake/conversation_trace.jsonl", cache);
    ck_assert_ptr_nonnull(strstr(e.msg, cached));
    ck_assert_ptr_nonnull(strstr(e.msg, "memfab trace fetch mooncake-conversation"));
    ck_assert_int_eq(trace_resolve(NULL, "AzureLLMInferenceTrace_code.csvx", out, sizeof out, &e),
                     SIM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "memfab trace fetch --list"));
    ck_assert_ptr_nonnull(strstr(e.msg, "AzureLLMInferenceTrace_code.csvx"));
    /* found in the cache */
    snprintf(cached, sizeof cached, "%s/memfab", cache);
    ck_assert_int_eq(mkdir(cache, 0777), 0);
    ck_assert_int_eq(mkdir(cached, 0777), 0);
    snprintf(cached, sizeof cached, "%s/memfab/traces", cache);
    ck_assert_int_eq(mkdir(cached, 0777), 0);
    snprintf(cached, sizeof cached, "%s/memfab/traces/only-cached.jsonl", cache);
    FILE *f = fopen(cached, "w");
    ck_assert_ptr_nonnull(f);
    fputs(mooncake_sample, f);
    fclose(f);
    ck_assert_int_eq(trace_resolve(tmpdir, "only-cached.jsonl", out, sizeof out, &e), 0);
    ck_assert_str_eq(out, cached);
    /* a relative XDG_CACHE_HOME is ignored (XDG Base Directory spec) */
    setenv("XDG_CACHE_HOME", "relative", 1);
    setenv("HOME", "/nonexistent-home", 1);
    ck_assert_int_eq(trace_cache_dir(cached, sizeof cached), 0);
    ck_assert_str_eq(cached, "/nonexistent-home/.cache/memfab/traces");
    unsetenv("XDG_CACHE_HOME");
}
END_TEST

/* ---- Synthetic workloads ------------------------------------------------ */

START_TEST(test_synth_determinism)
{
    synth_config c = synth_config_default();
    c.turns = (synth_dist){SYNTH_UNIFORM, 1, 4};
    c.think_s = (synth_dist){SYNTH_EXPONENTIAL, 2, 0};
    c.arrivals = SYNTH_GAMMA;
    c.cv = 3;
    c.max_requests = 500;
    sim_err e;
    trace_reader *a = synth_open(&c, &e), *b = synth_open(&c, &e);
    ck_assert(a && b);
    ck_assert_uint_eq(assert_same_stream(a, b), 500);
    trace_close(a);
    trace_close(b);
    /* a different seed gives a different stream */
    synth_config d = c;
    d.seed = 2;
    synth *x = synth_new(&c, &e), *y = synth_new(&d, &e);
    trace_req p, q;
    int differ = 0;
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(synth_next(x, &p, &e), 1);
        ck_assert_int_eq(synth_next(y, &q, &e), 1);
        differ += p.arrival != q.arrival || p.input_tokens != q.input_tokens;
    }
    ck_assert_int_gt(differ, 40);
    synth_free(x);
    synth_free(y);
}
END_TEST

/* Groups share exactly prefix_tokens / block_tokens leading ids. */
START_TEST(test_synth_shared_prefix)
{
    static const uint32_t prefixes[] = {2000, 1024, 511};
    synth_config c = synth_config_default();
    c.groups = 3;
    c.prefix_tokens = prefixes[_i];
    c.block_tokens = 512;
    c.input = (synth_dist){SYNTH_UNIFORM, 1, 2000};
    c.max_requests = 120;
    uint32_t shared = c.prefix_tokens / c.block_tokens;
    sim_err e;
    synth *s = synth_new(&c, &e);
    ck_assert_ptr_nonnull(s);
    static uint64_t ids[120][8];
    static uint32_t nb[120];
    trace_req q;
    for (int i = 0; i < 120; i++) {
        ck_assert_int_eq(synth_next(s, &q, &e), 1);
        ck_assert_uint_eq(q.session, (uint64_t)i + 1); /* one turn: one request per session */
        ck_assert_uint_gt(q.n_blocks, shared);
        ck_assert_uint_le(q.n_blocks, 8);
        ck_assert_uint_eq(q.n_blocks, (q.input_tokens + 511) / 512);
        nb[i] = q.n_blocks;
        memcpy(ids[i], q.block_ids, q.n_blocks * sizeof *ids[i]);
    }
    ck_assert_int_eq(synth_next(s, &q, &e), 0);
    synth_free(s);
    int same_group = 0, clashes = 0;
    for (int i = 0; i < 120; i++) {
        for (int j = i + 1; j < 120; j++) {
            uint32_t k = 0;
            while (k < nb[i] && k < nb[j] && ids[i][k] == ids[j][k])
                k++;
            ck_assert_msg(k == 0 || k == shared, "sessions %d and %d share %u blocks", i, j, k);
            same_group += shared && k == shared;
            /* (plain loops: ck_assert in hot loops is slow under Check) */
            for (uint32_t m = shared; m < nb[i]; m++)
                for (uint32_t n = 0; n < nb[j]; n++)
                    clashes += ids[i][m] == ids[j][n];
        }
    }
    ck_assert_int_eq(clashes, 0);
    if (shared)
        ck_assert_int_gt(same_group, 0);
}
END_TEST

/* Turn k's prompt is turn k-1's context plus a message, and repeats its
 * full blocks. */
START_TEST(test_synth_multiturn)
{
    synth_config c = synth_config_default();
    c.turns = (synth_dist){SYNTH_FIXED, 4, 0};
    c.think_s = (synth_dist){SYNTH_FIXED, 10, 0};
    c.rate = 0.5;
    c.block_tokens = 64;
    c.input = (synth_dist){SYNTH_UNIFORM, 10, 300};
    c.output = (synth_dist){SYNTH_UNIFORM, 1, 200};
    c.max_requests = 400;
    enum { NS = 200 };
    static uint64_t prev_ids[NS][64];
    static uint32_t prev_in[NS], prev_out[NS], turns[NS];
    static sim_time prev_at[NS];
    sim_err e;
    trace_reader *r = synth_open(&c, &e);
    ck_assert_ptr_nonnull(r);
    trace_req q;
    int later = 0;
    while (trace_next(r, &q, &e) == 1) {
        ck_assert_uint_lt(q.session, NS);
        uint64_t s = q.session;
        if (turns[s]) {
            ck_assert_uint_gt(q.input_tokens, prev_in[s] + prev_out[s]);
            ck_assert_uint_eq(q.arrival, prev_at[s] + 10 * SIM_S);
            for (uint32_t i = 0; i < prev_in[s] / 64; i++)
                ck_assert_uint_eq(q.block_ids[i], prev_ids[s][i]);
            if (prev_in[s] % 64)
                ck_assert_uint_ne(q.block_ids[prev_in[s] / 64], prev_ids[s][prev_in[s] / 64]);
            later++;
        }
        ck_assert_uint_le(q.n_blocks, 64);
        turns[s]++;
        ck_assert_uint_le(turns[s], 4);
        prev_in[s] = q.input_tokens;
        prev_out[s] = q.output_tokens;
        prev_at[s] = q.arrival;
        memcpy(prev_ids[s], q.block_ids, q.n_blocks * sizeof *q.block_ids);
    }
    ck_assert_int_gt(later, 200);
    trace_close(r);
}
END_TEST

START_TEST(test_synth_poisson)
{
    synth_config c = synth_config_default();
    c.rate = 50;
    c.input = (synth_dist){SYNTH_FIXED, 100, 0};
    c.output = (synth_dist){SYNTH_EXPONENTIAL, 100, 0};
    c.max_requests = 100001;
    c.arrivals = (synth_arrivals)_i; /* gamma with cv 1 is Poisson too */
    c.cv = 1;
    sim_err e;
    trace_reader *r = synth_open(&c, &e);
    trace_stats st;
    ck_assert_int_eq(trace_stats_compute(r, &st, &e), 0);
    trace_close(r);
    double mean_gap = sim_time_to_s(st.span) / (double)(st.requests - 1);
    ck_assert_msg(fabs(mean_gap * c.rate - 1) < 0.02, "mean gap %g s, expected %g", mean_gap,
                  1 / c.rate);
    ck_assert_msg(fabs(st.output.mean / 100 - 1) < 0.02, "output mean %g", st.output.mean);
    ck_assert_uint_eq(st.input.p50, 100);
}
END_TEST

START_TEST(test_synth_gamma_cv)
{
    synth_config c = synth_config_default();
    c.rate = 10;
    c.arrivals = SYNTH_GAMMA;
    c.cv = 4;
    c.input = (synth_dist){SYNTH_LOGNORMAL, 1000, 0.5};
    c.max_requests = 50000;
    sim_err e;
    synth *s = synth_new(&c, &e);
    trace_req q;
    double sum = 0, sq = 0, in = 0;
    sim_time last = 0;
    for (int i = 0; i < 50000; i++) {
        if (synth_next(s, &q, &e) != 1)
            ck_abort_msg("synth_next failed at %d", i);
        if (i) {
            double g = sim_time_to_s(q.arrival - last);
            sum += g;
            sq += g * g;
        }
        last = q.arrival;
        in += q.input_tokens;
    }
    synth_free(s);
    double n = 49999, mean = sum / n, cv = sqrt(sq / n - mean * mean) / mean;
    ck_assert_msg(fabs(mean * 10 - 1) < 0.1, "mean gap %g", mean);
    ck_assert_msg(cv > 3 && cv < 5, "cv %g", cv);
    ck_assert_msg(fabs(in / 50000 / 1000 - 1) < 0.02, "lognormal mean %g", in / 50000);
}
END_TEST

/* ---- Limits ---------------------------------------------------------------- */

START_TEST(test_empty)
{
    sim_err e;
    const char *p = write_tmp("empty.jsonl", "");
    trace_reader *r = trace_open(p, TRACE_MOONCAKE, &e);
    ck_assert_ptr_nonnull(r);
    trace_stats st;
    ck_assert_int_eq(trace_stats_compute(r, &st, &e), 0);
    ck_assert_uint_eq(st.requests, 0);
    ck_assert(st.rate == 0 && st.input.mean == 0 && st.reuse_ratio == 0);
    trace_close(r);
    ck_assert_ptr_null(trace_open(p, TRACE_AUTO, &e));
    ck_assert_int_eq(e.code, SIM_EFORMAT);
    ck_assert_ptr_null(trace_open(p, TRACE_AZURE, &e));
    /* only a header: zero requests */
    r = trace_open(write_tmp("h.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"), TRACE_AUTO, &e);
    ck_assert_ptr_nonnull(r);
    trace_req q;
    ck_assert_int_eq(trace_next(r, &q, &e), 0);
    trace_close(r);
    r = trace_open(write_tmp("h.trace", "# memfab-trace v1\n"), TRACE_AUTO, &e);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(trace_next(r, &q, &e), 0);
    trace_close(r);
    trace_close(NULL);
}
END_TEST

START_TEST(test_line_endings)
{
    sim_err e;
    const char *p = write_tmp("crlf.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                                          "2023-11-16 18:17:03.5,10,1\r\n"
                                          "\r\n"
                                          "2023-11-16 18:17:03.5,20,2\r\n"
                                          "2023-11-16 18:17:04,30,3");
    trace_reader *r = trace_open(p, TRACE_AUTO, &e);
    ck_assert_ptr_nonnull(r);
    trace_stats st;
    ck_assert_msg(trace_stats_compute(r, &st, &e) == 0, "%s", e.msg);
    trace_close(r);
    ck_assert_uint_eq(st.requests, 3);
    ck_assert_uint_eq(st.span, 500 * SIM_MS);
    ck_assert_uint_eq(st.output.sum, 6);
    ck_assert(st.rate == 4.0);
    /* a single request: span and rate 0 */
    r = trace_open(write_tmp("one.jsonl", "{\"timestamp\": 7, \"input_length\": 1, "
                                          "\"output_length\": 1}"), TRACE_AUTO, &e);
    ck_assert_int_eq(trace_stats_compute(r, &st, &e), 0);
    trace_close(r);
    ck_assert_uint_eq(st.requests, 1);
    ck_assert_uint_eq(st.span, 0);
    ck_assert(st.rate == 0);
    ck_assert_uint_eq(st.total_blocks, 0);
}
END_TEST

START_TEST(test_long_line)
{
    enum { N = 100000 };
    size_t cap = (size_t)N * 8 + 200;
    char *buf = malloc(cap);
    size_t n = (size_t)snprintf(buf, cap, "# memfab-trace v1 block_tokens=16\n7 5 3 %d 2", N * 16);
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(buf + n, cap - n, " %d", i);
    n += (size_t)snprintf(buf + n, cap - n, "\n# done\n");
    const char *p = write_tmp("long.trace", buf);
    free(buf);
    sim_err e;
    trace_reader *r = trace_open(p, TRACE_AUTO, &e);
    ck_assert_ptr_nonnull(r);
    trace_req q;
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.n_blocks, N);
    ck_assert_uint_eq(q.block_ids[N - 1], N - 1);
    ck_assert_uint_eq(q.id, 7);
    ck_assert_uint_eq(q.arrival, 5);
    ck_assert_uint_eq(q.session, 3);
    ck_assert_uint_eq(q.block_tokens, 16);
    ck_assert_int_eq(trace_next(r, &q, &e), 0);
    trace_close(r);
    /* extremes of the native fields */
    r = trace_open(write_tmp("max.trace", "# memfab-trace v1 block_tokens=1\n"
                                          "18446744073709551615 18446744073709551615 1 "
                                          "4294967295 0 18446744073709551615\n"),
                   TRACE_NATIVE, &e);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, UINT64_MAX);
    ck_assert_uint_eq(q.input_tokens, UINT32_MAX);
    ck_assert_uint_eq(q.block_ids[0], UINT64_MAX);
    trace_close(r);
}
END_TEST

START_TEST(test_synth_limits)
{
    synth_config c = synth_config_default();
    sim_err e;
    c.max_requests = 1;
    synth *s = synth_new(&c, &e);
    trace_req q;
    ck_assert_int_eq(synth_next(s, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 0);
    ck_assert_uint_eq(q.id, 0);
    ck_assert_uint_eq(q.session, 1);
    ck_assert_int_eq(synth_next(s, &q, &e), 0);
    ck_assert_int_eq(synth_next(s, &q, &e), 0);
    synth_free(s);
    /* a horizon: every arrival <= 10 s, and about rate * horizon of them */
    c.max_requests = 0;
    c.horizon = 10 * SIM_S;
    c.rate = 100;
    s = synth_new(&c, &e);
    int n = 0;
    while (synth_next(s, &q, &e) == 1) {
        ck_assert_uint_le(q.arrival, 10 * SIM_S);
        n++;
    }
    ck_assert_int_gt(n, 800);
    ck_assert_int_lt(n, 1200);
    synth_free(s);
    /* a context limit ends sessions and truncates first prompts */
    c = synth_config_default();
    c.turns = (synth_dist){SYNTH_FIXED, 1000, 0};
    c.think_s = (synth_dist){SYNTH_FIXED, 0.001, 0};
    c.max_context = 4096;
    c.max_requests = 2000;
    s = synth_new(&c, &e);
    while (synth_next(s, &q, &e) == 1)
        ck_assert_uint_le(q.input_tokens, 4096);
    synth_free(s);
    synth_free(NULL);
}
END_TEST

START_TEST(test_u64map)
{
    trace_u64map *m = trace_u64map_new();
    ck_assert_ptr_nonnull(m);
    int inserted = 0;
    for (uint64_t k = 0; k < 100000; k++)
        inserted += trace_u64map_put(m, k * 0x100000000ULL, k + 1) == 1;
    ck_assert_int_eq(inserted, 100000);
    ck_assert_int_eq(trace_u64map_put(m, 0, 99), 0);
    ck_assert_int_eq(trace_u64map_put(m, UINT64_MAX, 5), 1);
    ck_assert_uint_eq(trace_u64map_count(m), 100001);
    uint64_t v;
    ck_assert_int_eq(trace_u64map_get(m, 0, &v), 1);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(trace_u64map_get(m, 77 * 0x100000000ULL, &v), 1);
    ck_assert_uint_eq(v, 78);
    ck_assert_int_eq(trace_u64map_get(m, 1, NULL), 0);
    trace_u64map_free(m);
    trace_u64map_free(NULL);
}
END_TEST

/* ---- Errors -------------------------------------------------------------- */

/* Open p (format f), read to the end; assert an error at `line` whose
 * message contains `what`. */
static void expect_error(const char *p, trace_format f, int line, const char *what)
{
    sim_err e;
    sim_err_clear(&e);
    trace_reader *r = trace_open(p, f, &e);
    int rc = r ? 0 : e.code;
    trace_req q;
    while (r && (rc = trace_next(r, &q, &e)) == 1)
        ;
    ck_assert_msg(rc < 0, "%s: expected an error", p);
    ck_assert_int_eq(e.code, SIM_EFORMAT);
    ck_assert_str_eq(e.file, p);
    ck_assert_msg(e.line == line, "%s: error at line %d, expected %d (%s)", p, e.line, line,
                  e.msg);
    ck_assert_msg(strstr(e.msg, what) != NULL, "message '%s' lacks '%s'", e.msg, what);
    if (r) { /* sticky */
        sim_err e2;
        ck_assert_int_eq(trace_next(r, &q, &e2), rc);
        ck_assert_int_eq(e2.line, line);
    }
    trace_close(r);
}

#define ML(t, in, out) \
    "{\"timestamp\": " #t ", \"input_length\": " #in ", \"output_length\": " #out "}\n"

START_TEST(test_json_errors)
{
    /* issue 19: a key given twice, a chat_id given twice, more hash_ids than
     * the prompt fills (Mooncake: 512 tokens per block) */
    expect_error(write_tmp("dupkey.jsonl", "{\"timestamp\": 0, \"input_length\": 1, "
                                           "\"input_length\": 2, \"output_length\": 1}\n"),
                 TRACE_AUTO, 1, "duplicate");
    expect_error(write_tmp("dupchat.jsonl",
                           "{\"chat_id\": 5, \"parent_chat_id\": -1, \"timestamp\": 0, "
                           "\"input_length\": 1, \"output_length\": 1}\n"
                           "{\"chat_id\": 5, \"parent_chat_id\": -1, \"timestamp\": 1, "
                           "\"input_length\": 1, \"output_length\": 1}\n"),
                 TRACE_AUTO, 2, "duplicate chat_id 5");
    expect_error(write_tmp("nb.jsonl", "{\"timestamp\": 0, \"input_length\": 513, "
                                       "\"output_length\": 1, \"hash_ids\": [1, 2]}\n"
                                       "{\"timestamp\": 1, \"input_length\": 512, "
                                       "\"output_length\": 1, \"hash_ids\": [1, 2]}\n"),
                 TRACE_AUTO, 2, "2 block ids but its 512 prompt tokens fill at most 1 blocks");
    expect_error(write_tmp("bad.jsonl", ML(0, 1, 1) ML(1, 1, 1) "{\"timestamp\": 2, \"input_l\n"),
                 TRACE_AUTO, 3, "invalid JSON");
    expect_error(write_tmp("bad1.jsonl", "{\"timestamp\": 2,, }\n"), TRACE_AUTO, 1, "invalid JSON");
    expect_error(write_tmp("miss.jsonl", ML(0, 1, 1) "{\"timestamp\": 1, \"output_length\": 3}\n"),
                 TRACE_MOONCAKE, 2, "missing field \"input_length\"");
    expect_error(write_tmp("neg.jsonl", ML(0, 1, 1) ML(0, 1, 1) ML(1, 5, -3)), TRACE_AUTO, 3,
                 "negative");
    expect_error(write_tmp("negt.jsonl", ML(-1, 1, 1)), TRACE_AUTO, 1, "negative");
    expect_error(write_tmp("mono.jsonl", ML(0, 1, 1) ML(5, 1, 1) "\n" ML(5, 1, 1) ML(4, 1, 1)),
                 TRACE_AUTO, 5, "before the previous");
    expect_error(write_tmp("str.jsonl", "{\"timestamp\": 0, \"input_length\": \"7\", "
                                        "\"output_length\": 1}\n"),
                 TRACE_AUTO, 1, "must be an integer");
    expect_error(write_tmp("ids.jsonl", "{\"timestamp\": 0, \"input_length\": 7, "
                                        "\"output_length\": 1, \"hash_ids\": [1, -2]}\n"),
                 TRACE_AUTO, 1, "hash_ids[1]");
    expect_error(write_tmp("arr.jsonl", "[1, 2]\n"), TRACE_MOONCAKE, 1, "JSON object");
    expect_error(write_tmp("big.jsonl", ML(0, 4294967296, 1)), TRACE_AUTO, 1, "too large");
    expect_error(write_tmp("qw.jsonl", "{\"chat_id\": 1, \"parent_chat_id\": -2, \"timestamp\": 0, "
                                       "\"input_length\": 1, \"output_length\": 1}\n"),
                 TRACE_AUTO, 1, "parent_chat_id");
}
END_TEST

/* ---- The Mooncake fast path against Jansson ------------------------------ */

/* Copy src to tmpdir/name with `, "pad": 0` before each line's last '}': a
 * key the format lacks, so every line of the copy goes to Jansson (trace.c
 * mooncake_fast takes only the format's four keys) and reads as the
 * original line does there. */
static const char *padded_copy(const char *src, const char *name)
{
    static char out[600];
    snprintf(out, sizeof out, "%s/%s", tmpdir, name);
    FILE *in = fopen(src, "r"), *o = fopen(out, "w");
    ck_assert(in && o);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        char *b = strrchr(line, '}');
        if (b) {
            fwrite(line, 1, (size_t)(b - line), o);
            fputs(", \"pad\": 0", o);
            fputs(b, o);
        } else {
            fputs(line, o);
        }
    }
    free(line);
    fclose(in);
    ck_assert_int_eq(fclose(o), 0);
    return out;
}

static uint64_t same_as_jansson(const char *path)
{
    sim_err e;
    trace_reader *a = trace_open(path, TRACE_MOONCAKE, &e);
    ck_assert_msg(a != NULL, "%s", e.msg);
    trace_reader *b = trace_open(padded_copy(path, "padded.jsonl"), TRACE_MOONCAKE, &e);
    ck_assert_msg(b != NULL, "%s", e.msg);
    uint64_t n = assert_same_stream(a, b);
    trace_close(a);
    trace_close(b);
    return n;
}

/* Lines in the shapes the fast path takes (spaces, tabs, a CR, keys in any
 * order, null, empty and absent hash_ids, 18-digit ids, the largest
 * lengths) and in shapes it leaves to Jansson (a real or exponent
 * timestamp, a 19-digit id, an escaped key): each equal to Jansson's
 * reading, and the values by hand. */
static const char mooncake_shapes[] =
    "{\"timestamp\": 0, \"input_length\": 1000, \"output_length\": 10, \"hash_ids\": [0, 1]}\n"
    "{\"hash_ids\":[5,6,7],\"output_length\":3,\"input_length\":1100,\"timestamp\":7}\n"
    " \t{ \"timestamp\" : 9 ,\t\"input_length\" : 512 , \"output_length\" : 0 , "
    "\"hash_ids\" : [ 123456789012345678 ] } \r\n"
    "{\"timestamp\": 10, \"input_length\": 20, \"output_length\": 4, \"hash_ids\": null}\n"
    "{\"timestamp\": 11, \"input_length\": 20, \"output_length\": 4}\n"
    "{\"timestamp\": 12, \"input_length\": 0, \"output_length\": 4294967295, \"hash_ids\": []}\n"
    "{\"timestamp\": 12.25, \"input_length\": 20, \"output_length\": 4}\n"
    "{\"timestamp\": 13, \"input_length\": 20, \"output_length\": 4, "
    "\"hash_ids\": [1234567890123456789]}\n"
    "{\"timestamp\": 1.4e1, \"input_length\": 20, \"output_length\": 4}\n"
    "{\"timest\\u0061mp\": 15, \"input_length\": 4294967295, \"output_length\": 4}\n";

START_TEST(test_mooncake_fast_equals_jansson)
{
    const char *p = write_tmp("shapes.jsonl", mooncake_shapes);
    ck_assert_uint_eq(same_as_jansson(p), 10);
    static const uint64_t ms[] = {0, 7, 9, 10, 11, 12, 0, 13, 14, 15};
    static const uint32_t in[] = {1000, 1100, 512, 20, 20, 0, 20, 20, 20, 4294967295u};
    static const uint32_t out[] = {10, 3, 0, 4, 4, 4294967295u, 4, 4, 4, 4};
    static const uint32_t nb[] = {2, 3, 1, 0, 0, 0, 0, 1, 0, 0};
    sim_err e;
    trace_reader *r = trace_open(p, TRACE_AUTO, &e);
    ck_assert_ptr_nonnull(r);
    trace_req q;
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(trace_next(r, &q, &e), 1);
        ck_assert_uint_eq(q.arrival, i == 6 ? 12 * SIM_MS + 250 * SIM_US : ms[i] * SIM_MS);
        ck_assert_uint_eq(q.input_tokens, in[i]);
        ck_assert_uint_eq(q.output_tokens, out[i]);
        ck_assert_uint_eq(q.n_blocks, nb[i]);
        ck_assert_uint_eq(q.block_tokens, nb[i] ? 512 : 0);
        if (i == 1)
            ck_assert(q.block_ids[0] == 5 && q.block_ids[2] == 7);
        if (i == 2)
            ck_assert_uint_eq(q.block_ids[0], 123456789012345678ull);
        if (i == 7)
            ck_assert_uint_eq(q.block_ids[0], 1234567890123456789ull);
    }
    ck_assert_int_eq(trace_next(r, &q, &e), 0);
    trace_close(r);
    /* shapes the fast path must not accept as they are: Jansson's errors */
    expect_error(write_tmp("dup2.jsonl", "{\"timestamp\": 0, \"timestamp\": 1, "
                                         "\"input_length\": 2, \"output_length\": 1}\n"),
                 TRACE_MOONCAKE, 1, "duplicate");
    expect_error(write_tmp("zero.jsonl", "{\"timestamp\": 01, \"input_length\": 2, "
                                         "\"output_length\": 1}\n"),
                 TRACE_MOONCAKE, 1, "invalid JSON");
    expect_error(write_tmp("tail.jsonl", ML(0, 1, 1) "{\"timestamp\": 1, \"input_length\": 2, "
                                         "\"output_length\": 1} x\n"),
                 TRACE_MOONCAKE, 2, "invalid JSON");
    expect_error(write_tmp("huge.jsonl", "{\"timestamp\": 0, \"input_length\": 2, "
                                         "\"output_length\": 1, "
                                         "\"hash_ids\": [99999999999999999999]}\n"),
                 TRACE_MOONCAKE, 1, "invalid JSON");
    expect_error(write_tmp("comma.jsonl", "{\"timestamp\": 0, \"input_length\": 2, "
                                          "\"output_length\": 1, \"hash_ids\": [1,]}\n"),
                 TRACE_MOONCAKE, 1, "invalid JSON");
    expect_error(write_tmp("big2.jsonl", ML(0, 1, 4294967296)), TRACE_MOONCAKE, 1, "too large");
    /* 4,000 lines of 40-400 ids, 3.2 MB: lines cross the reader's 64 KiB
     * blocks at every offset */
    char big[600];
    snprintf(big, sizeof big, "%s/big.jsonl", tmpdir);
    FILE *f = fopen(big, "w");
    ck_assert_ptr_nonnull(f);
    uint64_t id = 0;
    for (int i = 0; i < 4000; i++) {
        int n = 40 + (i * 7919) % 361;
        fprintf(f, "{\"timestamp\": %d, \"input_length\": %d, \"output_length\": %d, \"hash_ids\": [",
                i, n * 512, 1 + i % 97);
        for (int k = 0; k < n; k++)
            fprintf(f, k ? ", %llu" : "%llu", (unsigned long long)(id++ * 2654435761u % 1000003));
        fputs("]}\n", f);
    }
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_eq(same_as_jansson(big), 4000);
    /* the published traces, line by line */
    char path[1024];
    for (int i = 0; i < 2; i++)
        if (find_trace(mooncake_files[i], path, sizeof path))
            ck_assert_uint_gt(same_as_jansson(path), 3000);
}
END_TEST

/* Line limits at the reader's block boundaries: a comment line of exactly
 * TRACE_MAX_LINE (1 MiB) bytes is read, one byte more is an error, and a
 * NUL at that byte is the NUL error (it comes first in the line). */
START_TEST(test_line_limit_exact)
{
    enum { MAXL = 1 << 20 };
    for (int v = 0; v < 3; v++) {
        char *buf = malloc(MAXL + 200);
        ck_assert_ptr_nonnull(buf);
        size_t n = (size_t)sprintf(buf, "# memfab-trace v1 block_tokens=16\n#");
        memset(buf + n, 'x', MAXL - 1);
        n += MAXL - 1;
        if (v == 1)
            buf[n++] = 'y';
        if (v == 2)
            buf[n++] = '\0';
        n += (size_t)sprintf(buf + n, "\n7 5 3 16 2\n");
        char p[600];
        snprintf(p, sizeof p, "%s/limit%d.trace", tmpdir, v);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
        free(buf);
        sim_err e;
        trace_req q;
        trace_reader *r = trace_open(p, TRACE_AUTO, &e);
        ck_assert_ptr_nonnull(r);
        int rc = trace_next(r, &q, &e);
        if (v == 0) {
            ck_assert_msg(rc == 1, "%s", e.msg);
            ck_assert_uint_eq(q.id, 7);
            ck_assert_int_eq(trace_reader_line(r), 3);
        } else {
            ck_assert_int_lt(rc, 0);
            ck_assert_int_eq(e.line, 2);
            ck_assert_ptr_nonnull(strstr(e.msg, v == 1 ? "longer than" : "NUL"));
            if (v == 2)
                ck_assert_int_eq(e.col, MAXL + 1);
        }
        trace_close(r);
    }
}
END_TEST

START_TEST(test_csv_errors)
{
    static const char h[] = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s2023-11-16 18:17:03.9,1,1\n2023-11-16 18:17:03.8,1,1\n", h);
    expect_error(write_tmp("mono.csv", buf), TRACE_AUTO, 3, "before the first row");
    snprintf(buf, sizeof buf, "%s2023-11-16 18:17:03.9,1,1\n2023-11-16 18:17:04,1,1\n"
                              "2023-11-16 18:17:03.95,1,1\n", h);
    expect_error(write_tmp("mono2.csv", buf), TRACE_AUTO, 4, "before the previous");
    snprintf(buf, sizeof buf, "%s2023-11-16 18:17:03.9,1,1\n2023-11-16 18:7:04,1,1\n", h);
    expect_error(write_tmp("ts.csv", buf), TRACE_AUTO, 3, "bad timestamp");
    /* Impossible dates are refused (issue 19): Feb 30, Feb 29 of a common
     * year, April 31 and second 60; Feb 29 of a leap year is accepted. */
    static const char *const bad_dates[] = {"2023-02-30 00:00:00", "2023-02-29 12:00:00",
                                            "2023-04-31 00:00:00", "2023-11-16 18:17:60"};
    for (size_t i = 0; i < sizeof bad_dates / sizeof *bad_dates; i++) {
        snprintf(buf, sizeof buf, "%s%s,1,1\n", h, bad_dates[i]);
        expect_error(write_tmp("date.csv", buf), TRACE_AUTO, 2, "bad timestamp");
    }
    snprintf(buf, sizeof buf, "%s2024-02-29 23:59:59.5,1,1\n", h);
    sim_err le;
    sim_err_clear(&le);
    trace_reader *leap = trace_open(write_tmp("leap.csv", buf), TRACE_AUTO, &le);
    ck_assert_ptr_nonnull(leap);
    trace_req lq;
    ck_assert_int_eq(trace_next(leap, &lq, &le), 1);
    ck_assert_int_eq(trace_next(leap, &lq, &le), 0);
    trace_close(leap);
    snprintf(buf, sizeof buf, "%s2023-11-16 18:17:03.9,-1,1\n", h);
    expect_error(write_tmp("neg.csv", buf), TRACE_AZURE, 2, "bad prompt token count \"-1\"");
    snprintf(buf, sizeof buf, "%s2023-11-16 18:17:03.9,1\n", h);
    expect_error(write_tmp("short.csv", buf), TRACE_AUTO, 2, "at least 3");
    expect_error(write_tmp("hdr.csv", "TIMESTAMP,Context,GeneratedTokens\n"), TRACE_AZURE, 1,
                 "ContextTokens");
    expect_error(write_tmp("what.csv", "a,b,c\n1,2,3\n"), TRACE_AUTO, 1, "cannot detect");
    expect_error(write_tmp("b.csv", "Timestamp,Model,Request tokens,Response tokens\n"
                                    "1,x,5,5\n0.5,x,5,5\n"),
                 TRACE_AUTO, 3, "before the previous");
    expect_error(write_tmp("b2.csv", "Timestamp,Model,Request tokens,Response tokens\n"
                                     "-1,x,5,5\n"),
                 TRACE_BURSTGPT, 2, "bad timestamp");
}
END_TEST

START_TEST(test_native_errors)
{
    expect_error(write_tmp("v2.trace", "# memfab-trace v2\n"), TRACE_AUTO, 1, "version");
    expect_error(write_tmp("key.trace", "# memfab-trace v1 blocks=5\n"), TRACE_AUTO, 1,
                 "unknown header field");
    expect_error(write_tmp("nohdr.trace", "0 0 0 1 1\n"), TRACE_NATIVE, 1, "must start with");
    expect_error(write_tmp("few.trace", "# memfab-trace v1\n0 0 0 1 1\n0 1 0 1\n"), TRACE_AUTO, 3,
                 "missing output_tokens");
    expect_error(write_tmp("x.trace", "# memfab-trace v1\n0 0 0 1x 1\n"), TRACE_AUTO, 2,
                 "unexpected character");
    expect_error(write_tmp("neg.trace", "# memfab-trace v1\n0 0 0 -1 1\n"), TRACE_AUTO, 2,
                 "input_tokens");
    expect_error(write_tmp("ov.trace", "# memfab-trace v1\n0 0 0 4294967296 1\n"), TRACE_AUTO, 2,
                 "out of range");
    expect_error(write_tmp("bt.trace", "# memfab-trace v1\n0 0 0 10 1 5 6\n"), TRACE_AUTO, 2,
                 "block_tokens");
    expect_error(write_tmp("mono.trace", "# memfab-trace v1\n# c\n0 10 0 1 1\n1 9 0 1 1\n"),
                 TRACE_AUTO, 4, "before the previous");
    /* issue 19: a request id given twice, and more blocks than the prompt
     * fills (10 tokens at 4 per block fill 3 blocks, not 4) */
    expect_error(write_tmp("dup.trace", "# memfab-trace v1\n7 0 0 1 1\n8 1 0 1 1\n7 2 0 1 1\n"),
                 TRACE_AUTO, 4, "duplicate request id 7");
    expect_error(write_tmp("nb.trace", "# memfab-trace v1 block_tokens=4\n0 0 0 10 1 1 2 3\n"
                                       "1 0 0 10 1 1 2 3 4\n"),
                 TRACE_AUTO, 3, "4 block ids but its 10 prompt tokens fill at most 3 blocks");
}
END_TEST

START_TEST(test_other_errors)
{
    sim_err e;
    char p[600];
    snprintf(p, sizeof p, "%s/none.jsonl", tmpdir);
    ck_assert_ptr_null(trace_open(p, TRACE_AUTO, &e));
    ck_assert_int_eq(e.code, SIM_ENOTFOUND);
    ck_assert_str_eq(e.file, p);
    ck_assert_ptr_null(trace_open(p, (trace_format)42, &e));
    ck_assert_int_eq(e.code, SIM_EINVAL);
    synth_config c = synth_config_default();
    c.rate = 0;
    ck_assert_ptr_null(synth_new(&c, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "rate"));
    c = synth_config_default();
    c.input = (synth_dist){SYNTH_UNIFORM, 10, 5};
    ck_assert_ptr_null(synth_open(&c, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "input"));
    c = synth_config_default();
    c.max_requests = 0;
    ck_assert_int_eq(synth_config_check(&c, &e), SIM_EINVAL);
    c = synth_config_default();
    c.groups = 1;
    c.prefix_tokens = c.max_context;
    ck_assert_int_eq(synth_config_check(&c, &e), SIM_EINVAL);
    c = synth_config_default();
    c.block_tokens = 0;
    ck_assert_int_eq(synth_config_check(&c, &e), SIM_EINVAL);
}
END_TEST

/* Run a shell command in tmpdir with the memfab binary as $M (stderr and
 * stdout into tmpdir/out.txt); its exit status. */
static int memfab_sh(const char *cmd)
{
    const char *bin = getenv("MEMFAB_BIN");
    ck_assert_msg(bin != NULL, "MEMFAB_BIN must be set (run through make test)");
    char full[4096];
    snprintf(full, sizeof full, "cd '%s' && M='%s' && { %s ; } >out.txt 2>&1", tmpdir, bin, cmd);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp_tmp(const char *name)
{
    static char buf[8192];
    char p[600];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* `trace convert` never destroys its input nor a file of another kind, and
 * a failed write (ENOSPC on /dev/full) is an error that leaves no file. */
START_TEST(test_convert_output_safety)
{
    write_tmp("a.jsonl", "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 5, "
                         "\"hash_ids\": [1]}\n"
                         "{\"timestamp\": 7, \"input_length\": 600, \"output_length\": 3, "
                         "\"hash_ids\": [1, 2]}\n");
    write_tmp("other.txt", "precious notes\n");
    ck_assert_int_eq(memfab_sh("cp a.jsonl keep.jsonl && ln -s a.jsonl link.jsonl"), 0);
    /* the output is the input, under its own name, a symlink, or ./ */
    static const char *const same[] = {"$M trace convert a.jsonl -o a.jsonl",
                                       "$M trace convert a.jsonl -o link.jsonl",
                                       "$M trace convert link.jsonl -o ./a.jsonl", NULL};
    for (int i = 0; same[i]; i++) {
        ck_assert_int_eq(memfab_sh(same[i]), 2);
        ck_assert_msg(strstr(slurp_tmp("out.txt"), "is the input file"), "%s: %s", same[i],
                      slurp_tmp("out.txt"));
        ck_assert_int_eq(memfab_sh("cmp a.jsonl keep.jsonl"), 0);
    }
    /* an existing file of another kind, and a directory */
    ck_assert_int_eq(memfab_sh("$M trace convert a.jsonl -o other.txt"), 2);
    ck_assert_ptr_nonnull(strstr(slurp_tmp("out.txt"), "not a memfab native trace"));
    ck_assert_str_eq(slurp_tmp("other.txt"), "precious notes\n");
    ck_assert_int_eq(memfab_sh("mkdir d && $M trace convert a.jsonl -o d"), 2);
    /* a native trace may be replaced, through a temporary file */
    ck_assert_int_eq(memfab_sh("$M trace convert a.jsonl -o n.trace"), 0);
    ck_assert_int_eq(memfab_sh("$M trace convert a.jsonl -o n.trace"), 0);
    ck_assert_ptr_nonnull(strstr(slurp_tmp("n.trace"), "# memfab-trace v1"));
    /* a full disk: exit 1 with the reason */
    ck_assert_int_eq(memfab_sh("$M trace convert a.jsonl -o /dev/full"), 1);
    ck_assert_msg(strstr(slurp_tmp("out.txt"), "No space left"), "%s", slurp_tmp("out.txt"));
    ck_assert_int_eq(memfab_sh("$M trace convert a.jsonl -o - >/dev/full"), 1);
    /* nothing left behind but the files made here */
    ck_assert_int_eq(memfab_sh("test \"$(ls -A | grep -v -x -e a.jsonl -e keep.jsonl -e link.jsonl"
                               " -e other.txt -e d -e n.trace -e out.txt)\" = ''"), 0);
}
END_TEST

/* Inputs that would never end a line: a NUL byte (a binary file) and a
 * line longer than the 1 MiB bound are errors at file:line. */
START_TEST(test_unbounded_lines)
{
    ck_assert_int_eq(memfab_sh("printf '# memfab-trace v1 block_tokens=16\\n1 2\\0 3\\n' >nul.trace"),
                     0);
    char p[600];
    snprintf(p, sizeof p, "%s/nul.trace", tmpdir);
    sim_err e;
    trace_req q;
    trace_reader *r = trace_open(p, TRACE_AUTO, &e);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_lt(trace_next(r, &q, &e), 0);
    ck_assert_int_eq(e.code, SIM_EFORMAT);
    ck_assert_int_eq(e.line, 2);
    ck_assert_int_eq(e.col, 4);
    ck_assert_ptr_nonnull(strstr(e.msg, "NUL"));
    trace_close(r);
    /* the command line: exit 2 at once, naming the file and line */
    ck_assert_int_eq(memfab_sh("head -c 65536 /dev/zero >zeros.bin"), 0);
    ck_assert_int_eq(memfab_sh("timeout 20 $M trace stats zeros.bin"), 2);
    ck_assert_msg(strstr(slurp_tmp("out.txt"), "zeros.bin:1:1"), "%s", slurp_tmp("out.txt"));
    ck_assert_ptr_nonnull(strstr(slurp_tmp("out.txt"), "NUL byte"));
    /* a line of 2 MiB without a line break */
    ck_assert_int_eq(memfab_sh("head -c 2097152 /dev/zero | tr '\\0' 7 >long.trace"), 0);
    ck_assert_int_eq(memfab_sh("timeout 20 $M trace stats long.trace"), 2);
    ck_assert_msg(strstr(slurp_tmp("out.txt"), "long.trace:1"), "%s", slurp_tmp("out.txt"));
    ck_assert_ptr_nonnull(strstr(slurp_tmp("out.txt"), "longer than"));
}
END_TEST

/* Issue 19, item 5: a trace is a regular file. A FIFO blocked `trace stats`
 * forever (open() waits for a writer) and a device never ends: both, and a
 * directory, are refused at once, exit 2, naming the kind of file. */
START_TEST(test_not_regular_refused)
{
    ck_assert_int_eq(memfab_sh("mkfifo fifo && mkdir -p dir"), 0);
    static const struct {
        const char *path, *kind;
    } cases[] = {{"fifo", "a FIFO"}, {"/dev/zero", "a character device"}, {"dir", "a directory"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "timeout 20 $M trace stats %s", cases[i].path);
        ck_assert_int_eq(memfab_sh(cmd), 2);
        const char *out = slurp_tmp("out.txt");
        /* (the command looks a directory up as a missing file) */
        ck_assert_msg(i == 2 || (strstr(out, cases[i].kind) && strstr(out, "regular file")),
                      "%s: %s", cases[i].path, out);
        char p[600];
        snprintf(p, sizeof p, "%s%s%s", cases[i].path[0] == '/' ? "" : tmpdir,
                 cases[i].path[0] == '/' ? "" : "/", cases[i].path);
        sim_err e;
        ck_assert_ptr_null(trace_open(p, TRACE_AUTO, &e));
        ck_assert_int_eq(e.code, SIM_EFORMAT);
    }
}
END_TEST

/* Issue 19, item 6: an error quotes a short, escaped excerpt of a trace
 * line, in its message (and so in runs.error) and in the echoed line. */
START_TEST(test_error_excerpts)
{
    char big[200];
    memset(big, 's', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char buf[512];
    snprintf(buf, sizeof buf, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-\x01%s,1,1\n", big);
    const char *p = write_tmp("secret.csv", buf);
    expect_error(p, TRACE_AUTO, 2, "bad timestamp \"2023-\\x01ssssssssssssssssssssssssss...\"");
    ck_assert_int_eq(memfab_sh("$M trace stats secret.csv"), 2);
    const char *out = slurp_tmp("out.txt");
    ck_assert_msg(strstr(out, "\n  2023-\\x01ssssssssssssssssssssssssss...\n  ^\n"), "%s", out);
    ck_assert_msg(!strstr(out, "ssssssssssssssssssssssssssssssssssss"), "%s", out);
    ck_assert_msg(!strchr(out, '\x01'), "%s", out);
}
END_TEST

/* The converted trace names its source in a comment: a file name with a
 * line break (or any control byte) is escaped there, so that the rest of
 * the name cannot become a data line of the native trace. */
START_TEST(test_convert_source_name_escaped)
{
    const char *p = write_tmp("a\n9 9 9 9 9\rb.jsonl",
                              "{\"timestamp\": 7, \"input_length\": 1, \"output_length\": 1}\n");
    sim_err e;
    trace_reader *r = trace_open(p, TRACE_MOONCAKE, &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    char out[600];
    snprintf(out, sizeof out, "%s/named.trace", tmpdir);
    FILE *f = fopen(out, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(trace_convert(r, f, &e), 1);
    ck_assert_int_eq(fclose(f), 0);
    trace_close(r);
    r = trace_open(out, TRACE_NATIVE, &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    trace_req q;
    ck_assert_int_eq(trace_next(r, &q, &e), 1);
    ck_assert_uint_eq(q.arrival, 7 * SIM_MS);
    ck_assert_int_eq(trace_next(r, &q, &e), 0);   /* not a second request 9 */
    trace_close(r);
    f = fopen(out, "r");
    char line[700];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_msg(strstr(line, "a\\x0a9 9 9 9 9\\x0db.jsonl)\n"), "%s", line);
    fclose(f);
}
END_TEST

static Suite *trace_suite(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("Core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_real_mooncake, 0, 2);
    tcase_add_loop_test(tc, test_real_azure, 0, 2);
    tcase_add_test(tc, test_native_roundtrip);
    tcase_add_test(tc, test_native_synth_roundtrip);
    tcase_add_test(tc, test_mooncake_sample);
    tcase_add_test(tc, test_azure_forms);
    tcase_add_test(tc, test_burstgpt_sample);
    tcase_add_test(tc, test_qwen_sample);
    tcase_add_test(tc, test_percentile);
    tcase_add_test(tc, test_format_names);
    tcase_add_test(tc, test_resolve);
    tcase_add_test(tc, test_synth_determinism);
    tcase_add_loop_test(tc, test_synth_shared_prefix, 0, 3);
    tcase_add_test(tc, test_synth_multiturn);
    tcase_add_loop_test(tc, test_synth_poisson, 0, 2);
    tcase_add_test(tc, test_synth_gamma_cv);
    tcase_add_test(tc, test_mooncake_fast_equals_jansson); /* seconds under ASan */
    tcase_add_test(tc, test_line_limit_exact);
    suite_add_tcase(s, tc);

    tc = tcase_create("Limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_line_endings);
    tcase_add_test(tc, test_long_line);
    tcase_add_test(tc, test_synth_limits);
    tcase_add_test(tc, test_u64map);
    suite_add_tcase(s, tc);

    tc = tcase_create("Errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_json_errors);
    tcase_add_test(tc, test_csv_errors);
    tcase_add_test(tc, test_native_errors);
    tcase_add_test(tc, test_error_excerpts);
    tcase_add_test(tc, test_other_errors);
    tcase_add_test(tc, test_convert_output_safety);
    tcase_add_test(tc, test_convert_source_name_escaped);
    tcase_add_test(tc, test_unbounded_lines);
    tcase_add_test(tc, test_not_regular_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_main(trace_suite());
}
