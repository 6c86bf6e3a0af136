/*
 * check_kvstore.c - the KV block store (models/kv/kvstore.c): prefix sharing,
 * pin/unpin, tiers with write-back and write-through, invariants under
 * random operations with every eviction policy, and an exact comparison
 * of a single LRU pool on the Mooncake traces with an independent
 * reference LRU written here.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/kv/kvstore.h"
#include "sim/mem.h"

static kv_store *s;
static sim_err err;

static void setup(void) { sim_err_clear(&err); s = NULL; }
static void teardown(void) { kv_store_free(s); s = NULL; }

static kv_store *mk(const char *policy, int mode, uint32_t ntiers, const uint64_t *caps)
{
    static const char *const names[] = {"gpu", "dram", "cxl", "ssd"};
    kv_tier_cfg t[4];
    for (uint32_t i = 0; i < ntiers; i++)
        t[i] = (kv_tier_cfg){names[i], caps[i]};
    kv_store *x = kv_store_new(t, ntiers, mode, kv_evict_find(policy), NULL, &err);
    ck_assert_msg(x, "%s", err.msg);
    return x;
}

static int npolicies(void)
{
    int n = 0;
    while (kv_evict_policies[n])
        n++;
    return n;
}

/* ---- Mooncake traces against a reference LRU ------------------------------ */

/* A trace: every request's hash_ids, flattened. */
typedef struct trace {
    uint64_t *ids;   /* all ids */
    size_t *start;   /* request r is ids[start[r] .. start[r+1]) */
    size_t nreq, nids;
    uint64_t maxid;
} trace;

static void trace_free(trace *t)
{
    free(t->ids);
    free(t->start);
}

/* Find dir/rel along MEMFAB_TRACE_PATH (colon-separated); 1 when found. */
static int trace_path(const char *rel, char *out, size_t n)
{
    const char *env = getenv("MEMFAB_TRACE_PATH");
    char list[4096];
    snprintf(list, sizeof list, "%s", env && *env ? env : "../shared/traces");
    for (char *save = NULL, *d = strtok_r(list, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, n, "%s/%s", d, rel);
        FILE *f = fopen(out, "r");
        if (f) {
            fclose(f);
            return 1;
        }
    }
    return 0;
}

/* Minimal reader: the numbers of each line's "hash_ids": [...] array. */
static int trace_read(const char *path, trace *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t cap = 1 << 16, rcap = 1 << 12;
    t->ids = malloc(cap * sizeof *t->ids);
    t->start = malloc(rcap * sizeof *t->start);
    char *line = NULL;
    size_t ln = 0;
    while (getline(&line, &ln, f) > 0) {
        char *p = strstr(line, "\"hash_ids\"");
        if (!p || !(p = strchr(p, '[')))
            continue;
        if (t->nreq + 2 > rcap)
            t->start = realloc(t->start, (rcap *= 2) * sizeof *t->start);
        t->start[t->nreq++] = t->nids;
        p++;
        for (;;) {
            while (*p == ' ' || *p == ',')
                p++;
            if (*p < '0' || *p > '9')
                break;
            char *end;
            uint64_t v = strtoull(p, &end, 10);
            p = end;
            if (t->nids == cap)
                t->ids = realloc(t->ids, (cap *= 2) * sizeof *t->ids);
            t->ids[t->nids++] = v;
            if (v > t->maxid)
                t->maxid = v;
        }
    }
    t->start[t->nreq] = t->nids;
    free(line);
    fclose(f);
    return 0;
}

/* The reference: LRU over requests, kept as an append-only log of
 * (id, use stamp) plus the id's latest stamp; the least recently used
 * cached id is the oldest log entry whose stamp is still the id's latest.
 * Per request: its ids present are hits, the rest misses; then all its ids
 * become the most recent, in order; then the oldest others are evicted
 * down to C. A request of more than C blocks is skipped. */
typedef struct ref_lru {
    uint64_t *stamp;   /* latest use per id, 0 = not cached */
    uint64_t *log_id;  /* the log */
    uint64_t *log_st;
    size_t head, len;  /* oldest live entry, entries */
    uint64_t clock, count, cap;
} ref_lru;

static void ref_request(ref_lru *r, const uint64_t *ids, size_t n, uint64_t *hits,
                        uint64_t *misses)
{
    for (size_t i = 0; i < n; i++) {
        if (r->stamp[ids[i]])
            (*hits)++;
        else
            (*misses)++;
    }
    for (size_t i = 0; i < n; i++) {
        if (!r->stamp[ids[i]])
            r->count++;
        r->stamp[ids[i]] = ++r->clock;
        r->log_id[r->len] = ids[i];
        r->log_st[r->len++] = r->clock;
    }
    while (r->count > r->cap) {
        uint64_t id = r->log_id[r->head], st = r->log_st[r->head];
        r->head++;
        if (r->stamp[id] == st) {
            r->stamp[id] = 0;
            r->count--;
        }
    }
}

static const char *const trace_files[] = {"mooncake-fast25/conversation_trace.jsonl",
                                          "mooncake-fast25/synthetic_trace.jsonl"};
static const uint64_t trace_caps[] = {1000, 5000, 20000};

START_TEST(test_lru_matches_reference)
{
    const char *rel = trace_files[_i / 3];
    uint64_t C = trace_caps[_i % 3];
    char path[4096];
    if (!trace_path(rel, path, sizeof path)) {
        printf("check_kvstore: %s not found along MEMFAB_TRACE_PATH: skipped\n", rel);
        return;
    }
    trace t;
    ck_assert_int_eq(trace_read(path, &t), 0);
    ck_assert_uint_gt(t.nreq, 100);
    ref_lru r = {0};
    r.cap = C;
    r.stamp = calloc(t.maxid + 1, sizeof *r.stamp);
    r.log_id = malloc(t.nids * sizeof *r.log_id);
    r.log_st = malloc(t.nids * sizeof *r.log_st);
    s = mk("lru", KV_WRITE_BACK, 1, &C);
    uint64_t rh = 0, rm = 0, skipped = 0;
    for (size_t q = 0; q < t.nreq; q++) {
        const uint64_t *ids = t.ids + t.start[q];
        uint32_t n = (uint32_t)(t.start[q + 1] - t.start[q]);
        kv_pin_result res;
        int rc = kv_store_pin(s, ids, n, 0, &res);
        if (n > C) {
            if (rc != SIM_ENOMEM)
                ck_abort_msg("request %zu of %u blocks > C pinned", q, n);
            skipped++;
            continue;
        }
        if (rc)
            ck_abort_msg("request %zu: pin failed with %d", q, rc);
        kv_store_unpin(s, ids, n, 0);
        ref_request(&r, ids, n, &rh, &rm);
        if (q % 1000 == 0 && !kv_store_check(s))
            ck_abort_msg("invariant broken after request %zu", q);
    }
    ck_assert(kv_store_check(s));
    const kv_tier_stats *st = kv_store_stats(s, 0);
    printf("check_kvstore: LRU %-40s C=%6llu: hit ratio %.6f (store %llu/%llu, reference "
           "%llu/%llu, %llu requests > C skipped)\n",
           rel, (unsigned long long)C, (double)st->hits / (double)(st->hits + st->misses),
           (unsigned long long)st->hits, (unsigned long long)(st->hits + st->misses),
           (unsigned long long)rh, (unsigned long long)(rh + rm), (unsigned long long)skipped);
    ck_assert_uint_eq(st->hits, rh);
    ck_assert_uint_eq(st->misses, rm);
    ck_assert_uint_eq(st->used, r.count);
    /* Same contents, not just the same counts. */
    uint64_t differ = 0; /* (ck_assert writes to a pipe each time: keep it out of loops) */
    for (uint64_t id = 0; id <= t.maxid; id++)
        differ += kv_store_contains(s, id, 0) != (r.stamp[id] != 0);
    ck_assert_uint_eq(differ, 0);
    free(r.stamp);
    free(r.log_id);
    free(r.log_st);
    trace_free(&t);
}
END_TEST

/* ---- sharing ------------------------------------------------------------- */

START_TEST(test_sharing)
{
    enum { N = 8, P = 20 };
    uint64_t cap = 1000;
    s = mk("lru", KV_WRITE_BACK, 1, &cap);
    uint32_t suffix_total = 0;
    uint64_t ids[N][P + N + 1];
    for (uint32_t k = 0; k < N; k++) {
        uint32_t suf = k + 1;
        for (uint32_t i = 0; i < P; i++)
            ids[k][i] = 1000 + i; /* the common prefix */
        for (uint32_t i = 0; i < suf; i++)
            ids[k][P + i] = 100000 * (k + 1) + i; /* diverging suffix */
        kv_pin_result res;
        ck_assert_int_eq(kv_store_pin(s, ids[k], P + suf, 0, &res), 0);
        ck_assert_uint_eq(res.hit_blocks, k ? P : 0);
        ck_assert_uint_eq(res.new_blocks, k ? suf : P + suf);
        suffix_total += suf;
        ck_assert(kv_store_check(s));
    }
    ck_assert_uint_eq(kv_store_stats(s, 0)->used, P + suffix_total);
    ck_assert_uint_eq(kv_store_pinned_blocks(s), P + suffix_total);
    ck_assert_uint_eq(kv_store_refs(s, 1000), N);
    ck_assert_uint_eq(kv_store_refs(s, 100000 * 3), 1);
    for (uint32_t k = 0; k < N; k++)
        kv_store_unpin(s, ids[k], P + k + 1, 1);
    ck_assert_uint_eq(kv_store_pinned_blocks(s), 0);
    ck_assert_uint_eq(kv_store_evictable_blocks(s), P + suffix_total);
    ck_assert(kv_store_check(s));
}
END_TEST

START_TEST(test_match_and_needed)
{
    uint64_t caps[2] = {4, 8};
    s = mk("lru", KV_WRITE_BACK, 2, caps);
    uint64_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    ck_assert_int_eq(kv_store_pin(s, a, 4, 0, NULL), 0);
    kv_store_unpin(s, a, 4, 0);
    ck_assert_int_eq(kv_store_pin(s, b, 4, 0, NULL), 0); /* demotes a into dram */
    uint32_t by[2];
    uint64_t q[5] = {1, 2, 3, 9, 4};
    ck_assert_uint_eq(kv_store_match(s, q, 5, by), 3);
    ck_assert_uint_eq(by[0], 0);
    ck_assert_uint_eq(by[1], 3);
    uint64_t q2[3] = {5, 6, 1};
    ck_assert_uint_eq(kv_store_match(s, q2, 3, by), 3);
    ck_assert_uint_eq(by[0], 2);
    ck_assert_uint_eq(by[1], 1);
    ck_assert_uint_eq(kv_store_needed(s, q2, 3), 1);
    ck_assert(!kv_store_can_pin(s, q2, 3)); /* 4 pinned, 1 more needed, capacity 4 */
    kv_store_unpin(s, b, 4, 1);
    ck_assert(kv_store_can_pin(s, q2, 3));
    ck_assert(kv_store_check(s));
}
END_TEST

/* ---- tiers ----------------------------------------------------------------- */

/* 4 + 4 + 8 blocks; stream 16 distinct single-use blocks through tier 0. */
static void stream(int mode, kv_pin_result *sum)
{
    uint64_t caps[3] = {4, 4, 8};
    s = mk("lru", mode, 3, caps);
    memset(sum, 0, sizeof *sum);
    for (uint64_t id = 1; id <= 16; id++) {
        kv_pin_result r;
        ck_assert_int_eq(kv_store_pin(s, &id, 1, id, &r), 0);
        kv_store_unpin(s, &id, 1, id);
        for (int t = 0; t < 3; t++)
            sum->demoted[t] += r.demoted[t];
        sum->dropped += r.dropped;
        sum->new_blocks += r.new_blocks;
        ck_assert(kv_store_check(s));
    }
}

START_TEST(test_write_back_demotion)
{
    kv_pin_result sum;
    stream(KV_WRITE_BACK, &sum);
    /* 12 evictions from gpu, each demoted to dram; dram overflows 8 times
     * into ssd; nothing leaves ssd (8 blocks). */
    ck_assert_uint_eq(sum.new_blocks, 16);
    ck_assert_uint_eq(sum.demoted[0], 12);
    ck_assert_uint_eq(sum.demoted[1], 8);
    ck_assert_uint_eq(sum.dropped, 0);
    ck_assert_uint_eq(kv_store_stats(s, 0)->evictions, 12);
    ck_assert_uint_eq(kv_store_stats(s, 1)->evictions, 8);
    ck_assert_uint_eq(kv_store_stats(s, 1)->blocks_in, 12);
    ck_assert_uint_eq(kv_store_stats(s, 2)->used, 8);
    /* gpu holds 13..16, dram 9..12, ssd 1..8: exclusive. */
    for (uint64_t id = 1; id <= 16; id++)
        ck_assert_int_eq(kv_store_contains(s, id, 0) + kv_store_contains(s, id, 1) +
                             kv_store_contains(s, id, 2),
                         1);
    ck_assert(kv_store_contains(s, 16, 0) && kv_store_contains(s, 10, 1) &&
              kv_store_contains(s, 3, 2));
}
END_TEST

START_TEST(test_write_through_demotion)
{
    kv_pin_result sum;
    stream(KV_WRITE_THROUGH, &sum);
    /* every new block is copied gpu -> dram -> ssd at once; evictions move
     * nothing; ssd keeps the newest 8, so blocks 1..8 are gone. */
    ck_assert_uint_eq(sum.demoted[0], 16);
    ck_assert_uint_eq(sum.demoted[1], 16);
    ck_assert_uint_eq(sum.dropped, 8);
    ck_assert_uint_eq(kv_store_stats(s, 0)->blocks_out, 16);
    ck_assert_uint_eq(kv_store_stats(s, 2)->blocks_in, 16);
    ck_assert(kv_store_contains(s, 16, 0) && kv_store_contains(s, 16, 1) &&
              kv_store_contains(s, 16, 2));
    ck_assert(!kv_store_contains(s, 8, 2) && kv_store_contains(s, 9, 2));
}
END_TEST

START_TEST(test_promotion)
{
    uint64_t caps[3] = {4, 4, 8};
    s = mk("lru", KV_WRITE_BACK, 3, caps);
    for (uint64_t id = 1; id <= 12; id++) { /* 1..4 end in ssd, 5..8 in dram */
        ck_assert_int_eq(kv_store_pin(s, &id, 1, id, NULL), 0);
        kv_store_unpin(s, &id, 1, id);
    }
    ck_assert(kv_store_contains(s, 2, 2) && kv_store_contains(s, 6, 1));
    uint64_t req[4] = {2, 6, 12, 99};
    kv_pin_result r;
    ck_assert_int_eq(kv_store_pin(s, req, 4, 100, &r), 0);
    ck_assert(kv_store_check(s));
    ck_assert_uint_eq(r.hit_blocks, 3);
    ck_assert_uint_eq(r.hit_by_tier[0], 1);
    ck_assert_uint_eq(r.hit_by_tier[1], 1);
    ck_assert_uint_eq(r.hit_by_tier[2], 1);
    ck_assert_uint_eq(r.promoted[1], 1);
    ck_assert_uint_eq(r.promoted[2], 1);
    ck_assert_uint_eq(r.new_blocks, 1);
    for (int i = 0; i < 4; i++)
        ck_assert(kv_store_contains(s, req[i], 0));
    /* the promoted copies stay below */
    ck_assert(kv_store_contains(s, 2, 2) && kv_store_contains(s, 6, 1));
    ck_assert_uint_eq(kv_store_stats(s, 2)->hits, 1);
    ck_assert_uint_eq(kv_store_stats(s, 2)->blocks_out, 1);
    ck_assert_uint_eq(kv_store_stats(s, 0)->blocks_in, 2);
    ck_assert_uint_eq(kv_store_stats(s, 1)->misses, 12 + 2); /* 12 streamed; then 2 (in ssd) and 99 */
    ck_assert_uint_eq(kv_store_stats(s, 0)->hits, 1);         /* 12 */
    ck_assert_uint_eq(kv_store_stats(s, 0)->misses, 12 + 3);  /* 12 streamed; 2, 6 (below), 99 */
    kv_store_unpin(s, req, 4, 101);
    ck_assert(kv_store_check(s));
}
END_TEST

/* Only the leading run of present blocks skips prefill (vLLM's computed
 * blocks stop at the first miss), so a block after the first absent one is
 * recomputed: if it is only in a lower tier it is allocated fresh in HBM,
 * not promoted (promoting it would pay its load bytes on top of computing
 * it). Tier-0 stats count every lookup: a block not in tier 0 is a tier-0
 * miss, so hits / (hits + misses) of tier 0 is its hit ratio. */
START_TEST(test_gap_not_promoted)
{
    uint64_t caps[3] = {4, 4, 8};
    s = mk("lru", KV_WRITE_BACK, 3, caps);
    for (uint64_t id = 1; id <= 12; id++) { /* 1..4 end in ssd, 5..8 in dram, 9..12 gpu */
        ck_assert_int_eq(kv_store_pin(s, &id, 1, id, NULL), 0);
        kv_store_unpin(s, &id, 1, id);
    }
    uint64_t out2 = kv_store_stats(s, 2)->blocks_out;
    uint64_t req[4] = {6, 99, 2, 12}; /* dram hit, gap, ssd after the gap, gpu after the gap */
    kv_pin_result r;
    ck_assert_int_eq(kv_store_pin(s, req, 4, 100, &r), 0);
    ck_assert(kv_store_check(s));
    ck_assert_uint_eq(r.hit_blocks, 1);
    ck_assert_uint_eq(r.hit_by_tier[1], 1);
    ck_assert_uint_eq(r.promoted[1], 1);
    ck_assert_uint_eq(r.promoted[2], 0); /* block 2 is recomputed, not loaded */
    ck_assert_uint_eq(r.new_blocks, 2);  /* 99 and 2 */
    ck_assert_uint_eq(kv_store_stats(s, 2)->blocks_out, out2);
    ck_assert_uint_eq(kv_store_stats(s, 2)->hits, 0);
    ck_assert_uint_eq(kv_store_stats(s, 1)->hits, 1);
    ck_assert_uint_eq(kv_store_stats(s, 0)->hits, 1);            /* 12 */
    ck_assert_uint_eq(kv_store_stats(s, 0)->misses, 12 + 3);     /* streamed; 6, 99, 2 */
    for (int i = 0; i < 4; i++)
        ck_assert(kv_store_contains(s, req[i], 0));
    kv_store_unpin(s, req, 4, 101);
    ck_assert(kv_store_check(s));
}
END_TEST

/* ---- Limits: random operations with every policy --------------------------- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng_state >> 33) % n);
}

START_TEST(test_random_invariants)
{
    const char *pol = kv_evict_policies[_i / 2]->name;
    int mode = _i % 2 ? KV_WRITE_THROUGH : KV_WRITE_BACK;
    uint64_t caps[3] = {24, 16, 32};
    s = mk(pol, mode, 3, caps);
    double reload[2] = {1e-3, 5e-3};
    kv_store_set_costs(s, 2e-3, 1e-4, reload);
    enum { NR = 6, LEN = 8 };
    uint64_t held[NR][LEN];
    uint32_t hn[NR] = {0};
    rng_state = 12345 + (uint64_t)_i;
    for (int step = 0; step < 3000; step++) {
        uint32_t k = rnd(NR);
        if (hn[k]) {
            kv_store_unpin(s, held[k], hn[k], (uint64_t)step);
            hn[k] = 0;
        } else {
            /* a request: a shared root, a family prefix, a random tail */
            uint32_t n = 1 + rnd(LEN);
            uint64_t fam = rnd(5);
            uint64_t ids[LEN];
            for (uint32_t i = 0; i < n; i++)
                ids[i] = i < 2 ? 1 + i : i < 4 ? 100 * fam + i : 10000 + rnd(300) * 16 + i;
            int can = kv_store_can_pin(s, ids, n);
            kv_tier_stats before = *kv_store_stats(s, 0);
            uint64_t pinned = kv_store_pinned_blocks(s);
            kv_pin_result r;
            int rc = kv_store_pin(s, ids, n, (uint64_t)step, &r);
            if ((rc == 0) != can)
                ck_abort_msg("step %d: can_pin %d but pin %d", step, can, rc);
            if (rc == 0) {
                memcpy(held[k], ids, sizeof ids);
                hn[k] = n;
            } else {
                ck_assert_int_eq(rc, SIM_ENOMEM);
                ck_assert_int_eq(memcmp(&before, kv_store_stats(s, 0), sizeof before), 0);
                ck_assert_uint_eq(pinned, kv_store_pinned_blocks(s));
            }
        }
        if (!kv_store_check(s))
            ck_abort_msg("invariant broken at step %d with %s", step, pol);
        for (uint32_t t = 0; t < 3; t++)
            if (kv_store_stats(s, t)->used > caps[t])
                ck_abort_msg("step %d: tier %u over capacity", step, t);
        /* every held block is still in tier 0, pinned */
        for (uint32_t q = 0; q < NR; q++)
            for (uint32_t i = 0; i < hn[q]; i++)
                if (!kv_store_contains(s, held[q][i], 0) || !kv_store_refs(s, held[q][i]))
                    ck_abort_msg("step %d: held block %llu evicted", step,
                                 (unsigned long long)held[q][i]);
    }
    for (uint32_t q = 0; q < NR; q++)
        kv_store_unpin(s, held[q], hn[q], 9999);
    ck_assert_uint_eq(kv_store_pinned_blocks(s), 0);
    ck_assert(kv_store_check(s));
}
END_TEST

START_TEST(test_all_pinned_refuses)
{
    const char *pol = kv_evict_policies[_i]->name;
    uint64_t caps[2] = {6, 6};
    s = mk(pol, KV_WRITE_BACK, 2, caps);
    uint64_t a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {1, 7};
    ck_assert_int_eq(kv_store_pin(s, a, 6, 0, NULL), 0);
    ck_assert_uint_eq(kv_store_free_blocks(s), 0);
    ck_assert_uint_eq(kv_store_evictable_blocks(s), 0);
    kv_tier_stats st0 = *kv_store_stats(s, 0), st1 = *kv_store_stats(s, 1);
    kv_pin_result r;
    ck_assert(!kv_store_can_pin(s, b, 2));
    ck_assert_int_eq(kv_store_pin(s, b, 2, 1, &r), SIM_ENOMEM);
    ck_assert_int_eq(memcmp(&st0, kv_store_stats(s, 0), sizeof st0), 0);
    ck_assert_int_eq(memcmp(&st1, kv_store_stats(s, 1), sizeof st1), 0);
    ck_assert_uint_eq(kv_store_refs(s, 1), 1);
    ck_assert(!kv_store_contains(s, 7, 0) && !kv_store_contains(s, 7, 1));
    /* a request entirely made of pinned blocks still fits */
    ck_assert_int_eq(kv_store_pin(s, a, 3, 2, &r), 0);
    ck_assert_uint_eq(r.hit_blocks, 3);
    ck_assert(kv_store_check(s));
    kv_store_unpin(s, a, 3, 3);
    kv_store_unpin(s, a, 6, 3);
    ck_assert_int_eq(kv_store_pin(s, b, 2, 4, &r), 0);
    ck_assert_uint_eq(kv_store_stats(s, 0)->evictions, 1);
    ck_assert(kv_store_check(s));
}
END_TEST

START_TEST(test_repeated_ids)
{
    uint64_t cap = 4;
    s = mk("lru", KV_WRITE_BACK, 1, &cap);
    uint64_t ids[3] = {5, 5, 6};
    ck_assert_int_eq(kv_store_pin(s, ids, 3, 0, NULL), 0);
    ck_assert_uint_eq(kv_store_refs(s, 5), 2);
    ck_assert(kv_store_check(s));
    kv_store_unpin(s, ids, 3, 1);
    ck_assert_uint_eq(kv_store_pinned_blocks(s), 0);
    ck_assert(kv_store_check(s));
}
END_TEST

/* A repeated id is told from a tier-0 hit by the pin call that placed the
 * block (an epoch of 6 bits in the entry's flags, wrapping every 63 calls).
 * Block 5 is placed by call 1 and stays in tier 0; every later call pins
 * {5, 5} (two hits: 2 references) and places a new block 1000 + k, twice
 * (2 references: one new block, one repeat). Across many wraps of the
 * epoch, an old epoch must never pass for the current call's. */
START_TEST(test_repeated_ids_epoch_wrap)
{
    uint64_t cap = 8;
    s = mk("lru", KV_WRITE_BACK, 1, &cap);
    uint64_t first = 5;
    ck_assert_int_eq(kv_store_pin(s, &first, 1, 0, NULL), 0);
    kv_store_unpin(s, &first, 1, 0);
    for (uint64_t k = 1; k <= 500; k++) {
        uint64_t ids[4] = {5, 5, 1000 + k, 1000 + k};
        kv_pin_result r;
        ck_assert_int_eq(kv_store_pin(s, ids, 4, k, &r), 0);
        ck_assert_uint_eq(r.hit_blocks, 2);
        ck_assert_uint_eq(r.new_blocks, 1);
        ck_assert_uint_eq(kv_store_refs(s, 5), 2);
        ck_assert_uint_eq(kv_store_refs(s, 1000 + k), 2);
        ck_assert(kv_store_check(s));
        kv_store_unpin(s, ids, 4, k);
        ck_assert_uint_eq(kv_store_pinned_blocks(s), 0);
    }
}
END_TEST

/* ---- Errors ----------------------------------------------------------------- */

static double bad_get(void *ctx, const char *key, double def)
{
    return strcmp(key, "small_size_ratio") == 0 ? 7.0 : def;
}

/* A plug-in policy (not a built-in: the store keeps the entry and
 * last-access times for it, and only for it) sees every fact of
 * memfab_block_info, at insert and through victim's lookup: the time the
 * block entered the tier, its last hit, its accesses. Reference: the pins
 * below (a pin is an access at the pin's time). */
#define REC_N 8
static memfab_block_info rec_ins[REC_N];   /* facts at the last insert of each handle */
static memfab_block_info rec_look[REC_N];  /* facts looked up by the last victim() */
static int rec_held[REC_N];
static void *rec_create(uint32_t cap, const memfab_params *p) { return cap <= REC_N ? rec_held : NULL; }
static void rec_destroy(void *st) {}
static void rec_insert(void *st, uint32_t b, const memfab_block_info *in)
{
    rec_ins[b] = *in;
    rec_held[b] = 1;
}
static void rec_touch(void *st, uint32_t b, const memfab_block_info *in) {}
static void rec_remove(void *st, uint32_t b) { rec_held[b] = 0; }
static int rec_victim(void *st, uint32_t *out, const memfab_block_info *(*info)(void *, uint32_t),
                      void *ctx)
{
    int found = 0;
    for (uint32_t b = 0; b < REC_N; b++)
        if (rec_held[b]) {
            rec_look[b] = *info(ctx, b);
            if (!found)
                *out = b, found = 1;
        }
    return found;
}
static const memfab_evict_ops rec_ops = {"recorder", rec_create, rec_destroy, rec_insert,
                                         rec_touch,  rec_remove, rec_victim};

START_TEST(test_plugin_sees_times)
{
    memset(rec_held, 0, sizeof rec_held);
    kv_tier_cfg t[1] = {{"gpu", 2}};
    s = kv_store_new(t, 1, KV_WRITE_BACK, &rec_ops, NULL, &err);
    ck_assert_msg(s, "%s", err.msg);
    uint64_t a = 11, b = 22, c = 33;
    ck_assert_int_eq(kv_store_pin(s, &a, 1, 100, NULL), 0);
    kv_store_unpin(s, &a, 1, 150);
    ck_assert_int_eq(kv_store_pin(s, &b, 1, 160, NULL), 0);
    kv_store_unpin(s, &b, 1, 170);
    ck_assert_int_eq(kv_store_pin(s, &a, 1, 200, NULL), 0); /* a hit at 200 */
    kv_store_unpin(s, &a, 1, 250);
    uint32_t sa = kv_store_slot(s, a, 0);
    ck_assert_uint_eq(rec_ins[sa].id, a);
    ck_assert_uint_eq(rec_ins[sa].inserted_ps, 100);
    ck_assert_uint_eq(rec_ins[sa].last_access_ps, 200);
    ck_assert_uint_eq(rec_ins[sa].accesses, 2);
    /* c needs room: victim() looks both blocks up */
    ck_assert_int_eq(kv_store_pin(s, &c, 1, 300, NULL), 0);
    ck_assert_uint_eq(rec_look[sa].inserted_ps, 100);
    ck_assert_uint_eq(rec_look[sa].last_access_ps, 200);
    ck_assert_uint_eq(rec_look[sa].accesses, 2);
    uint32_t sb = sa == 0 ? 1 : 0;
    ck_assert_uint_eq(rec_look[sb].id, b);
    ck_assert_uint_eq(rec_look[sb].inserted_ps, 160);
    ck_assert_uint_eq(rec_look[sb].last_access_ps, 160);
    ck_assert_uint_eq(rec_look[sb].accesses, 1);
    ck_assert(kv_store_check(s));
}
END_TEST

START_TEST(test_bad_arguments)
{
    kv_tier_cfg t[MEMFAB_MAX_TIERS + 1];
    for (int i = 0; i <= MEMFAB_MAX_TIERS; i++)
        t[i] = (kv_tier_cfg){"x", 4};
    const memfab_evict_ops *lru = kv_evict_find("lru");
    ck_assert_ptr_null(kv_store_new(t, 0, KV_WRITE_BACK, lru, NULL, &err));
    ck_assert_int_eq(err.code, SIM_EINVAL);
    ck_assert_ptr_null(kv_store_new(t, MEMFAB_MAX_TIERS + 1, KV_WRITE_BACK, lru, NULL, &err));
    ck_assert_ptr_null(kv_store_new(t, 1, 7, lru, NULL, &err));
    ck_assert_ptr_null(kv_store_new(t, 1, KV_WRITE_BACK, NULL, NULL, &err));
    t[1].capacity = 0;
    ck_assert_ptr_null(kv_store_new(t, 2, KV_WRITE_BACK, lru, NULL, &err));
    ck_assert_msg(strstr(err.msg, "capacity"), "%s", err.msg);
    memfab_params p = {NULL, bad_get};
    ck_assert_ptr_null(kv_store_new(t, 1, KV_WRITE_BACK, kv_evict_find("s3fifo"), &p, &err));
    ck_assert_msg(strstr(err.msg, "s3fifo"), "%s", err.msg);
    ck_assert_ptr_null(kv_evict_find("no-such-policy"));
    kv_store_free(NULL);
    /* full-width tiers work */
    s = kv_store_new(t + 2, MEMFAB_MAX_TIERS - 1, KV_WRITE_BACK, lru, NULL, &err);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(kv_store_ntiers(s), MEMFAB_MAX_TIERS - 1);
    ck_assert_str_eq(kv_store_tier_name(s, 0), "x");
    ck_assert_ptr_null(kv_store_stats(s, MEMFAB_MAX_TIERS));
}
END_TEST

START_TEST(test_request_larger_than_tier)
{
    uint64_t caps[2] = {3, 100};
    s = mk("lru", KV_WRITE_BACK, 2, caps);
    uint64_t ids[4] = {1, 2, 3, 4};
    ck_assert(!kv_store_can_pin(s, ids, 4));
    ck_assert_int_eq(kv_store_pin(s, ids, 4, 0, NULL), SIM_ENOMEM);
    ck_assert_uint_eq(kv_store_stats(s, 0)->used, 0);
    ck_assert_uint_eq(kv_store_stats(s, 0)->misses, 0);
    kv_store_unpin(s, ids, 4, 0); /* unpinning what is not pinned is ignored */
    ck_assert(kv_store_check(s));
}
END_TEST

/* ---- Growth: memory proportional to the blocks cached --------------------- */

/* A capacity far beyond what is used (2^40 and 2^50 blocks: 2 EiB of 2 MiB
 * blocks, tables sized from it would not fit any machine): the store
 * starts empty and grows through every doubling step up to 40,000 blocks,
 * with every policy, in both write modes; invariants hold at every growth
 * step, slots stay dense (below the blocks held), and host memory stays
 * proportional to the blocks cached. */
START_TEST(test_growth_huge_capacity)
{
    const char *pol = kv_evict_policies[_i / 2]->name;
    int mode = _i % 2 ? KV_WRITE_THROUGH : KV_WRITE_BACK;
    size_t m0 = sim_mem_in_use();
    uint64_t caps[2] = {UINT64_C(1) << 40, UINT64_C(1) << 50};
    s = mk(pol, mode, 2, caps);
    ck_assert_uint_lt(sim_mem_in_use() - m0, 16384); /* nothing per configured block */
    enum { NREQ = 10000, LEN = 4 };
    uint64_t next_check = 16;
    for (uint32_t r = 0; r < NREQ; r++) {
        /* a shared root block, then three blocks of the request's own */
        uint64_t ids[LEN] = {7, 1000 + 3 * (uint64_t)r, 1001 + 3 * (uint64_t)r,
                             1002 + 3 * (uint64_t)r};
        kv_pin_result res;
        ck_assert_int_eq(kv_store_pin(s, ids, LEN, r, &res), 0);
        ck_assert_uint_eq(res.hit_blocks, r ? 1 : 0);
        ck_assert_uint_eq(res.new_blocks, r ? 3 : 4);
        ck_assert_uint_eq(res.dropped, 0);
        for (uint32_t i = 0; i < LEN; i++)
            ck_assert_uint_lt(kv_store_slot(s, ids[i], 0), kv_store_stats(s, 0)->used);
        if (r % 2)
            kv_store_unpin(s, ids, LEN, r);
        uint64_t used = kv_store_stats(s, 0)->used;
        if (used >= next_check) { /* just past each doubling of the tables */
            ck_assert_msg(kv_store_check(s), "%s: invariants broken at %llu blocks", pol,
                          (unsigned long long)used);
            next_check *= 2;
        }
    }
    uint64_t blocks = 1 + 3 * (uint64_t)NREQ;
    ck_assert_uint_eq(kv_store_stats(s, 0)->used, blocks);
    ck_assert_uint_eq(kv_store_stats(s, 0)->evictions, 0);
    ck_assert_uint_eq(kv_store_stats(s, 1)->used, mode == KV_WRITE_THROUGH ? blocks : 0);
    ck_assert(kv_store_check(s));
    /* At most twice (doubling) what the tables hold per block: about 80 B
     * per block and tier in use with the heaviest policy; far from the
     * 2^40 blocks configured. */
    size_t per = (sim_mem_in_use() - m0) / blocks;
    ck_assert_msg(per < (mode == KV_WRITE_THROUGH ? 500 : 300), "%s: %zu B per cached block",
                  pol, per);
}
END_TEST

/* Host bytes per cached block, exactly, with each built-in policy: one
 * tier, 2^17 blocks (every table then exactly full: the tables double from
 * 16, the index from 48 cells, keeping its load at most 2/3):
 *   block entry  id 8 + refs 4 + present 1 + flags (busy, moving,
 *                epoch) 1 + pos 4 + one slot number 4          = 22
 *   index        one and a half 4-byte cells per block         =  6
 *   tier slot    block 4 + accesses (with the held bit) 8      = 12
 *                (plug-in policies also get the entry and last
 *                access times, 16, and a memfab_block_info, 48)
 *   policy       lru: prev 4 + next 4                          =  8
 *                fifo, s3fifo: heap element 4 + sequence word 8
 *                (lazy heaps: no position; s3fifo's two queues
 *                share one element array; flags, queue and
 *                frequency in the word's low bits)             = 12
 *                lfu, cost: heap element 4 + position 4 +
 *                primary key 8 + sequence 8                    = 24
 * so 48 B (lru), 52 B (fifo, s3fifo), 64 B (lfu, cost). Before: 64 B
 * with LRU and 81 B (heap policies) / 114 B (s3fifo), the tier slot
 * keeping two timestamps no built-in reads and the heaps 8-byte handles,
 * 8-byte keys even for fifo, and per-handle ids for s3fifo; 73 B with LRU
 * with separate flag bytes, a 32-bit epoch and an index at load 1/2; the
 * tables sized from the capacity took 133 B per configured block, with 2
 * tiers. s3fifo's ghost (13 B per ghost entry, 0.9 x capacity entries by
 * default: 11.7 B per cached block) comes when the tier is full:
 * kv_policies test_s3fifo_ghost_bytes. */
static const struct {
    const char *policy;
    size_t bytes;
} bytes_per_block[] = {{"lru", 48}, {"fifo", 52}, {"s3fifo", 52}, {"lfu", 64}, {"cost", 64}};

START_TEST(test_bytes_per_block)
{
    const char *pol = bytes_per_block[_i].policy;
    /* every built-in policy has its figure here */
    ck_assert_int_eq(npolicies(), (int)(sizeof bytes_per_block / sizeof bytes_per_block[0]));
    size_t m0 = sim_mem_in_use();
    uint64_t caps[1] = {UINT64_C(1) << 40};
    s = mk(pol, KV_WRITE_BACK, 1, caps);
    size_t empty = sim_mem_in_use() - m0;
    enum { N = 1 << 17 };
    for (uint64_t i = 0; i < N; i++) {
        uint64_t id = 0x9e3779b97f4a7c15ULL * (i + 1);
        ck_assert_int_eq(kv_store_pin(s, &id, 1, i, NULL), 0);
        kv_store_unpin(s, &id, 1, i);
    }
    ck_assert_uint_eq(kv_store_stats(s, 0)->used, N);
    ck_assert_uint_eq(kv_store_evictable_blocks(s), N);
    ck_assert(kv_store_check(s));
    size_t got = sim_mem_in_use() - m0 - empty;
    ck_assert_msg(got == bytes_per_block[_i].bytes * N, "%s: %zu B per cached block (want %zu)",
                  pol, got / N, bytes_per_block[_i].bytes);
}
END_TEST

/* Slots are handed out as by the stack of every slot the tables sized from
 * the capacity had (the most recently freed first, else the lowest never
 * used): managed KV maps slot k to bytes [k x block, (k + 1) x block), so
 * this is part of the results. Reference: one LRU tier of C blocks, one
 * block pinned at a time; a new block takes its victim's slot once full. */
START_TEST(test_slots_as_preallocated)
{
    enum { C = 300, IDS = 700, STEPS = 20000 };
    uint64_t caps[1] = {C};
    s = mk("lru", KV_WRITE_BACK, 1, caps);
    static uint32_t slot_of_id[IDS];
    static uint64_t last_use[IDS];
    uint32_t used = 0;
    for (uint32_t i = 0; i < IDS; i++)
        slot_of_id[i] = UINT32_MAX;
    uint64_t rs = 99;
    for (uint64_t step = 1; step <= STEPS; step++) {
        rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t id = (uint32_t)((rs >> 33) % IDS);
        if (slot_of_id[id] == UINT32_MAX) {
            if (used == C) { /* evict the least recently used */
                uint32_t v = UINT32_MAX;
                for (uint32_t i = 0; i < IDS; i++)
                    if (slot_of_id[i] != UINT32_MAX &&
                        (v == UINT32_MAX || last_use[i] < last_use[v]))
                        v = i;
                slot_of_id[id] = slot_of_id[v];
                slot_of_id[v] = UINT32_MAX;
            } else {
                slot_of_id[id] = used++;
            }
        }
        last_use[id] = step;
        uint64_t bid = 5000 + id;
        ck_assert_int_eq(kv_store_pin(s, &bid, 1, step, NULL), 0);
        ck_assert_uint_eq(kv_store_slot(s, bid, 0), slot_of_id[id]);
        kv_store_unpin(s, &bid, 1, step);
    }
    ck_assert(kv_store_check(s));
}
END_TEST

/* A growth that the host cannot back fails the pin with SIM_ENOMEM and
 * changes nothing; kv_store_reserve says why; once memory is there the
 * same pin succeeds. */
START_TEST(test_growth_failure)
{
    uint64_t caps[2] = {UINT64_C(1) << 40, UINT64_C(1) << 40};
    s = mk("s3fifo", KV_WRITE_BACK, 2, caps);
    uint64_t ids[64];
    for (uint32_t i = 0; i < 64; i++)
        ids[i] = 100 + i;
    ck_assert_int_eq(kv_store_pin(s, ids, 16, 0, NULL), 0);
    sim_mem_set_limit(sim_mem_in_use() + 64);
    kv_pin_result r;
    ck_assert_int_eq(kv_store_reserve(s, 48, &err), SIM_ENOMEM);
    ck_assert_msg(strstr(err.msg, "out of host memory"), "%s", err.msg);
    ck_assert_int_eq(kv_store_pin(s, ids + 16, 48, 1, &r), SIM_ENOMEM);
    sim_mem_set_limit(0);
    ck_assert_uint_eq(kv_store_stats(s, 0)->used, 16);
    ck_assert_uint_eq(kv_store_stats(s, 0)->misses, 16);
    ck_assert(kv_store_check(s));
    ck_assert_int_eq(kv_store_reserve(s, 48, &err), 0);
    ck_assert_int_eq(kv_store_pin(s, ids + 16, 48, 1, &r), 0);
    ck_assert_uint_eq(r.new_blocks, 48);
    ck_assert_uint_eq(kv_store_stats(s, 0)->used, 64);
    ck_assert(kv_store_check(s));
}
END_TEST

static Suite *kvstore_suite(void)
{
    Suite *su = suite_create("kvstore");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_set_timeout(core, 60);
    tcase_add_loop_test(core, test_lru_matches_reference, 0, 6);
    tcase_add_test(core, test_sharing);
    tcase_add_test(core, test_match_and_needed);
    tcase_add_test(core, test_write_back_demotion);
    tcase_add_test(core, test_write_through_demotion);
    tcase_add_test(core, test_promotion);
    tcase_add_test(core, test_gap_not_promoted);
    tcase_add_test(core, test_plugin_sees_times);
    suite_add_tcase(su, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_checked_fixture(lim, setup, teardown);
    tcase_set_timeout(lim, 60);
    tcase_add_loop_test(lim, test_random_invariants, 0, 2 * npolicies());
    tcase_add_loop_test(lim, test_all_pinned_refuses, 0, npolicies());
    tcase_add_test(lim, test_repeated_ids);
    tcase_add_test(lim, test_repeated_ids_epoch_wrap);
    suite_add_tcase(su, lim);
    TCase *grow = tcase_create("Growth");
    tcase_add_checked_fixture(grow, setup, teardown);
    tcase_set_timeout(grow, 120);
    tcase_add_loop_test(grow, test_growth_huge_capacity, 0, 2 * npolicies());
    tcase_add_loop_test(grow, test_bytes_per_block, 0,
                        (int)(sizeof bytes_per_block / sizeof bytes_per_block[0]));
    tcase_add_test(grow, test_slots_as_preallocated);
    tcase_add_test(grow, test_growth_failure);
    suite_add_tcase(su, grow);
    TCase *errs = tcase_create("Errors");
    tcase_add_checked_fixture(errs, setup, teardown);
    tcase_add_test(errs, test_bad_arguments);
    tcase_add_test(errs, test_request_larger_than_tier);
    suite_add_tcase(su, errs);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(kvstore_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
