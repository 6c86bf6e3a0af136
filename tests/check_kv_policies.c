/*
 * check_kv_policies.c - eviction and routing policies (models/kv/kv_evict.c,
 * models/kv/kv_router.c) and the plug-in loader (models/kv/kv_plugin.c).
 *
 * Every built-in policy, plus those of tests/plugins/example_policy.so
 * (loaded from MEMFAB_PLUGIN_DIR before the suite runs), goes through the
 * same generic tests by tcase_add_loop_test over the tables; then each
 * policy's own behaviour is pinned down, and bad_abi.so must be refused.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/kv/kvstore.h"
#include "sim/mem.h"

#define MAXP 32
static const memfab_evict_ops *evicts[MAXP];   /* built-ins, then plug-in ones */
static int nevict;
static const memfab_router_ops *routers[MAXP];
static int nrouter;
static int plugin_state;        /* 0 no MEMFAB_PLUGIN_DIR, 1 loaded, -1 failed */
static sim_err plugin_err;      /* why it failed */

static uint64_t rng_state = 1;
static double uniform(void *rng)
{
    uint64_t *x = rng;
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*x >> 11) / 9007199254740992.0;
}

static const memfab_block_info *info_of(void *ctx, uint32_t b)
{
    return &((memfab_block_info *)ctx)[b];
}

/* ---- eviction: generic ------------------------------------------------------ */

START_TEST(test_evict_generic)
{
    const memfab_evict_ops *o = evicts[_i];
    enum { C = 64 };
    memfab_block_info info[C];
    uint8_t held[C] = {0};
    void *st = o->create(C, NULL);
    ck_assert_msg(st, "%s: create", o->name);
    uint32_t b;
    ck_assert_int_eq(o->victim(st, &b, info_of, info), 0);
    uint64_t r = 7 + (uint64_t)_i;
    int nheld = 0;
    for (int step = 0; step < 4000; step++) {
        uint32_t k = (uint32_t)(uniform(&r) * C);
        double u = uniform(&r);
        if (!held[k] && u < 0.5) {
            info[k] = (memfab_block_info){k + 1000u * (uint64_t)step, (uint64_t)step,
                                          (uint64_t)step, 1, uniform(&r), uniform(&r)};
            o->insert(st, k, &info[k]);
            held[k] = 1;
            nheld++;
        } else if (held[k] && u < 0.6) {
            info[k].accesses++;
            o->touch(st, k, &info[k]);
        } else if (held[k] && u < 0.75) { /* pin, then unpin */
            o->remove(st, k);
            info[k].accesses++;
            o->insert(st, k, &info[k]);
        } else if (nheld && u > 0.9) {
            if (o->victim(st, &b, info_of, info) != 1 || b >= C || !held[b])
                ck_abort_msg("%s: step %d: no victim, or victim %u not held", o->name, step, b);
            o->remove(st, b);
            held[b] = 0;
            nheld--;
        }
    }
    /* drain: every held block comes out exactly once */
    while (nheld) {
        ck_assert_int_eq(o->victim(st, &b, info_of, info), 1);
        ck_assert_msg(b < C && held[b], "%s: victim %u not held", o->name, b);
        o->remove(st, b);
        held[b] = 0;
        nheld--;
    }
    ck_assert_int_eq(o->victim(st, &b, info_of, info), 0);
    o->destroy(st);
}
END_TEST

/* The policy drives a real store: invariants after every step. */
START_TEST(test_evict_in_store)
{
    const memfab_evict_ops *o = evicts[_i];
    kv_tier_cfg t[2] = {{"gpu", 12}, {"dram", 20}};
    sim_err err;
    kv_store *s = kv_store_new(t, 2, KV_WRITE_BACK, o, NULL, &err);
    ck_assert_msg(s, "%s", err.msg);
    uint64_t r = 99, held[3][6];
    uint32_t hn[3] = {0};
    for (int step = 0; step < 1500; step++) {
        uint32_t k = (uint32_t)(uniform(&r) * 3);
        if (hn[k]) {
            kv_store_unpin(s, held[k], hn[k], (uint64_t)step);
            hn[k] = 0;
        } else {
            uint32_t n = 1 + (uint32_t)(uniform(&r) * 6);
            for (uint32_t i = 0; i < n; i++)
                held[k][i] = i < 2 ? i + 1 : 100 + (uint64_t)(uniform(&r) * 40) * 8 + i;
            if (kv_store_pin(s, held[k], n, (uint64_t)step, NULL) == 0)
                hn[k] = n;
        }
        if (!kv_store_check(s))
            ck_abort_msg("%s: invariant broken at step %d", o->name, step);
    }
    kv_store_free(s);
}
END_TEST

/* ---- eviction: each policy's order ----------------------------------------- */

static void *mk(const char *name, uint32_t cap, memfab_block_info *info, uint32_t n)
{
    const memfab_evict_ops *o = kv_evict_find(name);
    ck_assert_ptr_nonnull(o);
    void *st = o->create(cap, NULL);
    for (uint32_t i = 0; i < n; i++) {
        info[i] = (memfab_block_info){500 + i, i, i, 1, 0, 0};
        o->insert(st, i, &info[i]);
    }
    return st;
}

static uint32_t evict(const char *name, void *st, memfab_block_info *info)
{
    const memfab_evict_ops *o = kv_evict_find(name);
    uint32_t b = UINT32_MAX;
    ck_assert_int_eq(o->victim(st, &b, info_of, info), 1);
    o->remove(st, b);
    return b;
}

START_TEST(test_lru_fifo_order)
{
    memfab_block_info info[4];
    const memfab_evict_ops *lru = kv_evict_find("lru"), *fifo = kv_evict_find("fifo");
    void *l = mk("lru", 4, info, 4), *f = mk("fifo", 4, info, 4);
    /* block 0 is used: touched, and pinned then released */
    lru->touch(l, 0, &info[0]);
    fifo->touch(f, 0, &info[0]);
    lru->remove(l, 1);
    lru->insert(l, 1, &info[1]);
    fifo->remove(f, 1);
    fifo->insert(f, 1, &info[1]);
    ck_assert_uint_eq(evict("lru", l, info), 2);
    ck_assert_uint_eq(evict("lru", l, info), 3);
    ck_assert_uint_eq(evict("lru", l, info), 0);
    ck_assert_uint_eq(evict("fifo", f, info), 0); /* first in, whatever its use */
    ck_assert_uint_eq(evict("fifo", f, info), 1);
    /* an evicted handle reused for a new block enters at the back */
    info[0] = (memfab_block_info){900, 9, 9, 1, 0, 0};
    fifo->insert(f, 0, &info[0]);
    ck_assert_uint_eq(evict("fifo", f, info), 2);
    ck_assert_uint_eq(evict("fifo", f, info), 3);
    ck_assert_uint_eq(evict("fifo", f, info), 0);
    lru->destroy(l);
    fifo->destroy(f);
}
END_TEST

START_TEST(test_lfu_order)
{
    memfab_block_info info[4];
    const memfab_evict_ops *o = kv_evict_find("lfu");
    void *st = mk("lfu", 4, info, 4);
    info[0].accesses = 5;
    o->touch(st, 0, &info[0]);
    info[2].accesses = 3;
    o->touch(st, 2, &info[2]);
    info[1].accesses = 3;
    o->touch(st, 1, &info[1]);
    ck_assert_uint_eq(evict("lfu", st, info), 3);  /* 1 access */
    ck_assert_uint_eq(evict("lfu", st, info), 2);  /* 3 accesses, used before 1 */
    ck_assert_uint_eq(evict("lfu", st, info), 1);
    ck_assert_uint_eq(evict("lfu", st, info), 0);
    o->destroy(st);
}
END_TEST

START_TEST(test_cost_order)
{
    memfab_block_info info[4];
    const memfab_evict_ops *o = kv_evict_find("cost");
    void *st = o->create(4, NULL);
    double rec[4] = {5, 1, 9, 1}, rel[4] = {1, 0.5, 1, 0.5};
    for (uint32_t i = 0; i < 4; i++) {
        info[i] = (memfab_block_info){i, i, i, 1, rec[i], rel[i]};
        o->insert(st, i, &info[i]);
    }
    o->touch(st, 1, &info[1]); /* 1 and 3 tie on benefit 0.5; 3 is now LRU */
    ck_assert_uint_eq(evict("cost", st, info), 3);
    ck_assert_uint_eq(evict("cost", st, info), 1);
    ck_assert_uint_eq(evict("cost", st, info), 0);  /* benefit 4 < 8 */
    ck_assert_uint_eq(evict("cost", st, info), 2);
    o->destroy(st);
}
END_TEST

START_TEST(test_s3fifo_behaviour)
{
    /* capacity 10: S target 1 block. A block hit twice while in S moves to
     * M; a one-hit wonder is evicted from S into the ghost; a block coming
     * back while in the ghost goes straight to M. */
    enum { C = 10 };
    memfab_block_info info[C];
    const memfab_evict_ops *o = kv_evict_find("s3fifo");
    void *st = o->create(C, NULL);
    for (uint32_t i = 0; i < 3; i++) {
        info[i] = (memfab_block_info){100 + i, 0, 0, 1, 0, 0};
        o->insert(st, i, &info[i]);
    }
    o->touch(st, 0, &info[0]);
    o->touch(st, 0, &info[0]); /* freq 2: promoted on its way out of S */
    o->touch(st, 1, &info[1]); /* freq 1: not enough */
    ck_assert_uint_eq(evict("s3fifo", st, info), 1);
    ck_assert_uint_eq(evict("s3fifo", st, info), 2);
    /* 1 (id 101) returns in handle 5: ghost hit, into M behind 0 */
    info[5] = (memfab_block_info){101, 1, 1, 1, 0, 0};
    o->insert(st, 5, &info[5]);
    info[6] = (memfab_block_info){106, 1, 1, 1, 0, 0};
    o->insert(st, 6, &info[6]); /* new: S */
    ck_assert_uint_eq(evict("s3fifo", st, info), 6); /* S holds >= 10%: S first */
    /* M: 0 has freq 2 -> reinserted twice, so 5 goes first */
    ck_assert_uint_eq(evict("s3fifo", st, info), 5);
    ck_assert_uint_eq(evict("s3fifo", st, info), 0);
    uint32_t b;
    ck_assert_int_eq(o->victim(st, &b, info_of, info), 0);
    o->destroy(st);
}
END_TEST

/* ---- eviction: each built-in against a plain reference ----------------------
 *
 * Each policy's definition (kv_evict.c's head comment) written the plain
 * way: a record per handle and an O(n) scan for the victim, no heap, no
 * lazy removal, the ghost as a window of the last gcap ids evicted from S.
 * Random op sequences that follow the protocol (plugin.h: new blocks,
 * touches, pins and releases, victim then remove) must give the same
 * victims in the same order, ties included: ties on the key (accesses,
 * costs drawn from 3 values) fall to the sequence, which a pin does not
 * reset for fifo and s3fifo and an insert or touch does for lfu and cost. */

enum { RC = 48, RSTEPS = 4000, RRUNS = 40 };

typedef struct rpol {
    int kind;                   /* 0 lru, 1 lfu, 2 fifo, 3 s3fifo, 4 cost */
    uint32_t cap, small, gcap;  /* s3fifo: S target, ghost length */
    uint64_t clock;
    int held[RC];
    int has_seq[RC];            /* fifo: the block has its entry number */
    uint64_t seq[RC];
    double key[RC];
    int q[RC], freq[RC];        /* s3fifo: 0 none, 1 S, 2 M */
    uint64_t ghost[64 * RC];    /* ids evicted from S, oldest first */
    int gvalid[64 * RC];        /* 0 once hit */
    uint32_t glen;
    uint64_t ghits;             /* blocks that entered M from the ghost */
    int victim;
} rpol;

static int ghost_hit(rpol *r, uint64_t id)
{
    uint32_t from = r->glen > r->gcap ? r->glen - r->gcap : 0;
    int hit = 0;
    for (uint32_t i = from; i < r->glen; i++)
        if (r->gvalid[i] && r->ghost[i] == id) {
            r->gvalid[i] = 0;
            hit = 1;
        }
    return hit;
}

static void r_insert(rpol *r, uint32_t b, const memfab_block_info *in)
{
    switch (r->kind) {
    case 0: r->seq[b] = ++r->clock; break;
    case 1: r->key[b] = (double)in->accesses, r->seq[b] = ++r->clock; break;
    case 4: r->key[b] = in->recompute_s - in->reload_s, r->seq[b] = ++r->clock; break;
    case 2:
        if (!r->has_seq[b])
            r->seq[b] = ++r->clock, r->has_seq[b] = 1;
        break;
    case 3:
        if (!r->q[b]) {
            r->freq[b] = 0;
            r->q[b] = ghost_hit(r, in->id) ? 2 : 1;
            r->ghits += r->q[b] == 2;
            r->seq[b] = ++r->clock;
        }
        break;
    }
    r->held[b] = 1;
}

static void r_touch(rpol *r, uint32_t b, const memfab_block_info *in)
{
    if (r->kind == 3 && r->freq[b] < 3)
        r->freq[b]++;
    else if (r->kind != 2 && r->kind != 3)
        r_insert(r, b, in);
}

static void r_remove(rpol *r, uint32_t b, uint64_t id)
{
    r->held[b] = 0;
    if ((int)b == r->victim) {
        if (r->kind == 3 && r->q[b] == 1) {
            ck_assert_uint_lt(r->glen, sizeof r->ghost / sizeof r->ghost[0]);
            r->ghost[r->glen] = id;
            r->gvalid[r->glen++] = 1;
        }
        r->has_seq[b] = 0;
        r->q[b] = 0;
        r->victim = -1;
    } else if (r->kind == 3 && r->freq[b] < 3) {
        r->freq[b]++;
    }
}

/* The held handle of least (key, seq) (keys for lfu and cost), in queue q
 * for s3fifo (0: any); -1 if none. */
static int r_min(const rpol *r, int q)
{
    int best = -1;
    for (int b = 0; b < (int)r->cap; b++) {
        if (!r->held[b] || (q && r->q[b] != q))
            continue;
        int keyed = r->kind == 1 || r->kind == 4;
        if (best < 0 || (keyed && r->key[b] < r->key[best]) ||
            ((!keyed || r->key[b] == r->key[best]) && r->seq[b] < r->seq[best]))
            best = b;
    }
    return best;
}

static int r_victim(rpol *r)
{
    if (r->kind != 3)
        return r->victim = r_min(r, 0);
    for (;;) {
        uint32_t ns = 0, nm = 0;
        for (uint32_t b = 0; b < r->cap; b++)
            if (r->held[b])
                r->q[b] == 1 ? ns++ : nm++;
        if (ns && (ns >= r->small || !nm)) {
            int t = r_min(r, 1);
            if (r->freq[t] >= 2) { /* to M */
                r->q[t] = 2;
                r->seq[t] = ++r->clock;
                continue;
            }
            return r->victim = t;
        }
        if (!nm)
            return r->victim = -1;
        int t = r_min(r, 2);
        if (r->freq[t] > 0) {
            r->freq[t]--;
            r->seq[t] = ++r->clock;
            continue;
        }
        return r->victim = t;
    }
}

START_TEST(test_evict_reference)
{
    static const char *const names[] = {"lru", "lfu", "fifo", "s3fifo", "cost"};
    const memfab_evict_ops *o = kv_evict_find(names[_i]);
    ck_assert_ptr_nonnull(o);
    static rpol r;
    memfab_block_info info[RC];
    uint64_t rs = 12345 + (uint64_t)_i;
    uint64_t victims = 0, ghost_hits = 0, ties = 0;
    for (int run = 0; run < RRUNS; run++) {
        uint32_t cap = run % 4 == 0 ? 1 + (uint32_t)(uniform(&rs) * 6) : 8 + (uint32_t)(uniform(&rs) * (RC - 8));
        memset(&r, 0, sizeof r);
        r.kind = _i;
        r.cap = cap;
        r.small = (uint32_t)ceil(0.10 * cap);
        r.gcap = (uint32_t)ceil(0.90 * cap);
        r.victim = -1;
        void *st = o->create(cap, NULL);
        ck_assert_ptr_nonnull(st);
        int state[RC] = {0}; /* 0 free, 1 held, 2 pinned */
        uint32_t used = 0, ids = 2 * cap + 2;
        for (int step = 0; step < RSTEPS; step++) {
            uint32_t k = (uint32_t)(uniform(&rs) * cap);
            double u = uniform(&rs);
            if (state[k] == 0 && u < 0.4) {
                /* a new block; its id unique among those held */
                uint64_t id;
                int clash;
                do {
                    id = 1 + (uint64_t)(uniform(&rs) * ids);
                    clash = 0;
                    for (uint32_t j = 0; j < cap; j++)
                        clash |= state[j] && info[j].id == id;
                } while (clash);
                double rc = (double)(int)(uniform(&rs) * 3);
                info[k] = (memfab_block_info){id, 0, 0, 1 + (uint64_t)(uniform(&rs) * 2), rc, 0};
                o->insert(st, k, &info[k]);
                r_insert(&r, k, &info[k]);
                state[k] = 1;
                used++;
            } else if (state[k] == 1 && u < 0.55) {
                info[k].accesses += (uint64_t)(uniform(&rs) * 2);
                o->touch(st, k, &info[k]);
                r_touch(&r, k, &info[k]);
            } else if (state[k] == 1 && u < 0.75) { /* pinned: an access */
                o->remove(st, k);
                r_remove(&r, k, info[k].id);
                info[k].accesses++;
                state[k] = 2;
            } else if (state[k] == 2 && u < 0.85) {
                o->insert(st, k, &info[k]);
                r_insert(&r, k, &info[k]);
                state[k] = 1;
            } else if (u >= 0.85 && (used == cap || u > 0.95)) {
                int want = r_victim(&r);
                uint32_t b = UINT32_MAX;
                int got = o->victim(st, &b, info_of, info);
                ck_assert_msg(got == (want >= 0) && (!got || (int)b == want),
                              "%s: run %d step %d: victim %d (%u), reference %d", o->name, run, step,
                              got, b, want);
                if (got) {
                    for (uint32_t j = 0; j < cap; j++)
                        ties += j != b && state[j] == 1 && (_i == 1 || _i == 4) &&
                                r.key[j] == r.key[b];
                    o->remove(st, b);
                    r_remove(&r, b, info[b].id);
                    state[b] = 0;
                    used--;
                    victims++;
                }
            }
        }
        ghost_hits += r.ghits;
        o->destroy(st);
    }
    /* the sequences exercised what they are meant to */
    ck_assert_uint_gt(victims, 5000);
    if (_i == 1 || _i == 4)
        ck_assert_uint_gt(ties, 1000);
    if (_i == 3)
        ck_assert_uint_gt(ghost_hits, 50);
}
END_TEST

/* ---- routing: generic ------------------------------------------------------- */

static memfab_instance_view V[8];
static memfab_request_view R;
static uint64_t ids[16];

static void views(uint32_t n)
{
    memset(V, 0, sizeof V);
    for (uint32_t i = 0; i < n; i++) {
        V[i].index = i;
        V[i].kv_total_blocks = 100;
        V[i].kv_free_blocks = 100;
        V[i].ntiers = 2;
    }
    for (int i = 0; i < 16; i++)
        ids[i] = (uint64_t)i + 1;
    R = (memfab_request_view){1, 1, 160, 10, 10, 16, ids};
}

START_TEST(test_router_generic)
{
    const memfab_router_ops *o = routers[_i];
    uint64_t r = 3;
    for (uint32_t n = 1; n <= 8; n++) {
        void *st = o->create(n, NULL);
        ck_assert_msg(st, "%s: create(%u)", o->name, n);
        for (int k = 0; k < 200; k++) {
            views(n);
            for (uint32_t i = 0; i < n; i++) {
                V[i].outstanding_tokens = (uint64_t)(uniform(&r) * 5000);
                V[i].waiting = (uint32_t)(uniform(&r) * 50);
                V[i].running = (uint32_t)(uniform(&r) * 50);
                V[i].kv_free_blocks = (uint64_t)(uniform(&r) * 100);
                V[i].prefix_by_tier[0] = (uint32_t)(uniform(&r) * 5);
                V[i].prefix_by_tier[1] = (uint32_t)(uniform(&r) * 5);
                V[i].prefix_blocks = V[i].prefix_by_tier[0] + V[i].prefix_by_tier[1];
            }
            uint32_t c = o->route(st, &R, V, n, uniform, &r);
            if (c >= n)
                ck_abort_msg("%s chose %u of %u", o->name, c, n);
        }
        o->destroy(st);
    }
}
END_TEST

/* ---- routing: each policy --------------------------------------------------- */

static uint32_t route(const char *name, const memfab_params *p, uint32_t n)
{
    const memfab_router_ops *o = kv_router_find(name);
    ck_assert_ptr_nonnull(o);
    void *st = o->create(n, p);
    ck_assert_ptr_nonnull(st);
    uint64_t r = 5;
    uint32_t c = o->route(st, &R, V, n, uniform, &r);
    o->destroy(st);
    return c;
}

START_TEST(test_round_robin_cycles)
{
    const memfab_router_ops *o = kv_router_find("round_robin");
    void *st = o->create(3, NULL);
    views(3);
    for (uint32_t k = 0; k < 9; k++)
        ck_assert_uint_eq(o->route(st, &R, V, 3, uniform, &rng_state), k % 3);
    o->destroy(st);
}
END_TEST

START_TEST(test_random_covers)
{
    const memfab_router_ops *o = kv_router_find("random");
    void *st = o->create(4, NULL);
    views(4);
    int seen[4] = {0};
    uint64_t r = 11;
    for (int k = 0; k < 400; k++)
        seen[o->route(st, &R, V, 4, uniform, &r)]++;
    for (int i = 0; i < 4; i++)
        ck_assert_int_gt(seen[i], 50);
    o->destroy(st);
}
END_TEST

START_TEST(test_least_loaded_and_affinity)
{
    views(4);
    uint64_t load[4] = {300, 100, 200, 100};
    for (int i = 0; i < 4; i++)
        V[i].outstanding_tokens = load[i];
    ck_assert_uint_eq(route("least_loaded", NULL, 4), 1); /* tie 1, 3: lowest index */
    ck_assert_uint_eq(route("prefix_affinity", NULL, 4), 1); /* nobody holds: least loaded */
    V[2].prefix_blocks = 6;
    V[0].prefix_blocks = 6;
    ck_assert_uint_eq(route("prefix_affinity", NULL, 4), 2); /* holders 0, 2: lighter */
    V[0].prefix_blocks = 7;
    ck_assert_uint_eq(route("prefix_affinity", NULL, 4), 0);
}
END_TEST

START_TEST(test_sglang_thresholds)
{
    /* defaults: cache_threshold 0.5, abs 32, rel 1.1; load = waiting + running */
    views(3);
    V[0].prefix_blocks = 8; /* match ratio 0.8 */
    V[0].running = 40;
    V[1].running = 10;
    V[2].running = 20;
    ck_assert_uint_eq(route("sglang", NULL, 3), 0); /* 40 - 10 = 30 <= 32: affinity */
    V[0].waiting = 3;                                /* 43 - 10 = 33 > 32, 43 > 11 */
    ck_assert_uint_eq(route("sglang", NULL, 3), 1);
    V[1].running = 41;
    V[2].running = 41;
    V[0].waiting = 40; /* 80 - 41 = 39 > 32 but 80 > 1.1 x 41: still imbalanced */
    ck_assert_uint_eq(route("sglang", NULL, 3), 1);
    V[0].waiting = 0; /* balanced again: the holder */
    ck_assert_uint_eq(route("sglang", NULL, 3), 0);
    V[0].running = 50;      /* 50 vs 41: balanced */
    V[0].prefix_blocks = 4; /* 0.4 < 0.5: least loaded (tie 1, 2: lower index) */
    ck_assert_uint_eq(route("sglang", NULL, 3), 1);
    /* the relative threshold alone can hold it back */
    views(2);
    V[0].prefix_blocks = 10;
    V[0].running = 400;
    V[1].running = 370; /* diff 30 <= 32 */
    ck_assert_uint_eq(route("sglang", NULL, 2), 0);
    V[0].running = 405; /* diff 35 > 32, but 405 < 1.1 x 370 = 407 */
    ck_assert_uint_eq(route("sglang", NULL, 2), 0);
    V[0].running = 410;
    ck_assert_uint_eq(route("sglang", NULL, 2), 1);
}
END_TEST

static double get_temp(void *ctx, const char *key, double def)
{
    return strcmp(key, "temperature") == 0 ? *(double *)ctx : def;
}

START_TEST(test_dynamo_cost)
{
    /* cost = 1.0 x (10 - prefix) + (total - free) */
    views(3);
    V[0].prefix_blocks = 10; V[0].kv_free_blocks = 80; /* 0 + 20 = 20 */
    V[1].prefix_blocks = 0;  V[1].kv_free_blocks = 95; /* 10 + 5 = 15 */
    V[2].prefix_blocks = 4;  V[2].kv_free_blocks = 90; /* 6 + 10 = 16 */
    ck_assert_uint_eq(route("dynamo", NULL, 3), 1);
    double t = 0;
    memfab_params p = {&t, get_temp};
    ck_assert_uint_eq(route("dynamo", &p, 3), 1);
    V[1].kv_free_blocks = 85; /* 10 + 15 = 25 */
    V[2].kv_free_blocks = 80; /* 6 + 20 = 26: now 0 (20) is cheapest */
    ck_assert_uint_eq(route("dynamo", NULL, 3), 0);
    /* temperature > 0 samples, favouring cheap instances */
    t = 0.5;
    const memfab_router_ops *o = kv_router_find("dynamo");
    void *st = o->create(3, &p);
    int seen[3] = {0};
    uint64_t r = 17;
    for (int k = 0; k < 2000; k++)
        seen[o->route(st, &R, V, 3, uniform, &r)]++;
    o->destroy(st);
    ck_assert_int_gt(seen[0], seen[1]);
    ck_assert_int_gt(seen[1], seen[2]);
    ck_assert_int_gt(seen[2], 0);
}
END_TEST

START_TEST(test_llmd_tier_weights)
{
    views(2);
    V[0].prefix_by_tier[1] = 8; /* ssd-ish lower tier */
    V[0].prefix_blocks = 8;
    V[1].prefix_by_tier[0] = 8; /* hbm */
    V[1].prefix_blocks = 8;
    V[0].tier_weight[0] = V[1].tier_weight[0] = 1.0;
    V[0].tier_weight[1] = V[1].tier_weight[1] = 0.2;
    ck_assert_uint_eq(route("llmd", NULL, 2), 1);
    /* default weights (all zero given): HBM still counts more */
    V[0].tier_weight[0] = V[1].tier_weight[0] = 0;
    V[0].tier_weight[1] = V[1].tier_weight[1] = 0;
    ck_assert_uint_eq(route("llmd", NULL, 2), 1);
    /* a heavy enough load on the HBM holder tips it */
    V[1].outstanding_tokens = 1000;
    V[0].outstanding_tokens = 0;
    ck_assert_uint_eq(route("llmd", NULL, 2), 0);
}
END_TEST

/* ---- plug-ins ---------------------------------------------------------------- */

START_TEST(test_plugin_loaded)
{
    if (plugin_state == 0) {
        printf("check_kv_policies: MEMFAB_PLUGIN_DIR not set: plug-in tests skipped\n");
        return;
    }
    ck_assert_msg(plugin_state == 1, "example_policy.so: %s", plugin_err.msg);
    ck_assert_ptr_nonnull(kv_evict_find("mru"));
    ck_assert_ptr_nonnull(kv_router_find("power_of_two_choices"));
    ck_assert_ptr_eq(evicts[nevict - 1], kv_evict_find("mru"));
    /* mru evicts the most recent */
    memfab_block_info info[3];
    void *st = mk("mru", 3, info, 3);
    ck_assert_uint_eq(evict("mru", st, info), 2);
    kv_evict_find("mru")->destroy(st);
    /* loading it again is harmless */
    char path[4096];
    sim_err err;
    snprintf(path, sizeof path, "%s/example_policy.so", getenv("MEMFAB_PLUGIN_DIR"));
    ck_assert_int_eq(kv_load_plugin(path, &err), 0);
}
END_TEST

START_TEST(test_plugin_bad_abi)
{
    const char *dir = getenv("MEMFAB_PLUGIN_DIR");
    if (!dir) {
        printf("check_kv_policies: MEMFAB_PLUGIN_DIR not set: bad-ABI test skipped\n");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/bad_abi.so", dir);
    sim_err err;
    sim_err_clear(&err);
    ck_assert_int_eq(kv_load_plugin(path, &err), SIM_EINVAL);
    ck_assert_msg(strstr(err.msg, "bad_abi.so") && strstr(err.msg, "999") &&
                      strstr(err.msg, "versions 1..3"),
                  "%s", err.msg);
}
END_TEST

START_TEST(test_plugin_errors)
{
    sim_err err;
    ck_assert_int_eq(kv_load_plugin("/nonexistent/x.so", &err), SIM_EIO);
    ck_assert_msg(strstr(err.msg, "/nonexistent/x.so"), "%s", err.msg);
    ck_assert_int_ne(kv_load_plugin("", &err), 0);
    ck_assert_ptr_null(kv_router_find("nope"));
    ck_assert_ptr_null(kv_evict_find(NULL));
    /* a plug-in reusing a built-in name is refused and registers nothing */
    static memfab_evict_ops fake;
    fake = *kv_evict_find("fifo");
    fake.name = "lru";
    static memfab_router_ops fine;
    fine = *kv_router_find("random");
    fine.name = "fresh_router";
    const memfab_evict_ops *ev[] = {&fake, NULL};
    const memfab_router_ops *ro[] = {&fine, NULL};
    memfab_plugin p = {MEMFAB_PLUGIN_ABI, "clash", ev, ro, NULL, NULL};
    ck_assert_int_eq(kv_register_plugin(&p, &err), SIM_EINVAL);
    ck_assert_msg(strstr(err.msg, "'lru' already exists"), "%s", err.msg);
    ck_assert_ptr_null(kv_router_find("fresh_router"));
    p.evictions = NULL;
    p.abi = MEMFAB_PLUGIN_ABI + 1; /* a version this memfab does not know */
    ck_assert_int_eq(kv_register_plugin(&p, &err), SIM_EINVAL);
    p.abi = MEMFAB_PLUGIN_ABI;
    ck_assert_int_eq(kv_register_plugin(&p, &err), 0);
    ck_assert_ptr_eq(kv_router_find("fresh_router"), &fine);
    ck_assert_int_eq(kv_register_plugin(&p, &err), 0); /* again: no-op */
}
END_TEST

/* Version 1 plug-ins still load: their table ends before pair_routers,
 * which memfab must not read (here it holds garbage to prove it). Version
 * 2 plug-ins register pair routers under names no plain router has. */
START_TEST(test_plugin_versions)
{
    sim_err err;
    static memfab_router_ops v1r;
    v1r = *kv_router_find("least_loaded");
    v1r.name = "v1_router";
    const memfab_router_ops *ro[] = {&v1r, NULL};
    memfab_plugin p1 = {1, "v1", NULL, ro, (const memfab_pair_router_ops *const *)(uintptr_t)1,
                        (const memfab_router_scope *const *)(uintptr_t)1};
    ck_assert_int_eq(kv_register_plugin(&p1, &err), 0);
    ck_assert_ptr_eq(kv_router_find("v1_router"), &v1r);
    ck_assert_ptr_null(kv_pair_router_find("v1_router"));
    static memfab_pair_router_ops pr;
    pr = *kv_pair_router_find("conductor");
    pr.name = "my_pairs";
    const memfab_pair_router_ops *pairs[] = {&pr, NULL};
    /* version 2 ends before router_scopes: a poison value there is never read */
    memfab_plugin p2 = {2, "v2", NULL, NULL, pairs,
                        (const memfab_router_scope *const *)(uintptr_t)1};
    ck_assert_int_eq(kv_register_plugin(&p2, &err), 0);
    ck_assert_ptr_eq(kv_pair_router_find("my_pairs"), &pr);
    pr.name = "my_pairs"; /* a clash with a plain router's name is refused */
    static memfab_pair_router_ops clash;
    clash = pr;
    clash.name = "least_loaded";
    const memfab_pair_router_ops *bad[] = {&clash, NULL};
    memfab_plugin p3 = {2, "v2bad", NULL, NULL, bad, NULL};
    ck_assert_int_eq(kv_register_plugin(&p3, &err), SIM_EINVAL);
    ck_assert_msg(strstr(err.msg, "'least_loaded' already exists"), "%s", err.msg);
}
END_TEST

START_TEST(test_router_bad_params)
{
    double t = -1;
    memfab_params p = {&t, get_temp};
    ck_assert_ptr_null(kv_router_find("dynamo")->create(2, &p));
    ck_assert_ptr_null(kv_router_find("round_robin")->create(0, NULL));
}
END_TEST

START_TEST(test_capacity_one)
{
    const memfab_evict_ops *o = evicts[_i];
    memfab_block_info info[1] = {{1, 0, 0, 1, 0, 0}};
    void *st = o->create(1, NULL);
    ck_assert_ptr_nonnull(st);
    uint32_t b;
    for (int k = 0; k < 5; k++) {
        info[0].id = (uint64_t)k;
        o->insert(st, 0, &info[0]);
        ck_assert_int_eq(o->victim(st, &b, info_of, info), 1);
        ck_assert_uint_eq(b, 0);
        o->remove(st, 0);
        ck_assert_int_eq(o->victim(st, &b, info_of, info), 0);
    }
    o->destroy(st);
}
END_TEST

/* s3fifo's state once its tier is full, exactly: per handle a heap element
 * (4 B) and a sequence word (8 B), and the ghost G, allocated whole when
 * the handles reach the capacity: ceil(0.9 x C) ids of 8 B and 5/4 as many
 * (+ 1) 4-byte index cells (load at most 4/5). With the store's 40 B per
 * block (check_kvstore test_bytes_per_block) a cached block then costs
 * 40 + 12 + (8 x 58983 + 4 x 73729) / 65536 = 63.70 B. */
START_TEST(test_s3fifo_ghost_bytes)
{
    enum { C = 1 << 16 };
    const memfab_evict_ops *o = kv_evict_find("s3fifo");
    size_t before = sim_mem_in_use();
    void *st = o->create(C, NULL);
    ck_assert_ptr_nonnull(st);
    size_t m0 = sim_mem_in_use();
    ck_assert_int_eq(kv_evict_reserve(o, st, C / 2), 0);
    ck_assert_uint_eq(sim_mem_in_use() - m0, 12u * (C / 2)); /* no ghost yet */
    ck_assert_int_eq(kv_evict_reserve(o, st, C), 0);
    size_t g = 58983, cells = g + g / 4 + 1; /* ceil(0.9 x 65536) */
    size_t bytes = sim_mem_in_use() - m0;
    ck_assert_uint_eq(bytes, 12u * C + 8 * g + 4 * cells);
    ck_assert_uint_le(40 * (size_t)C + bytes, 64 * (size_t)C);
    o->destroy(st);
    ck_assert_uint_eq(sim_mem_in_use(), before);
}
END_TEST

static Suite *policies_suite(void)
{
    Suite *su = suite_create("kv_policies");
    TCase *core = tcase_create("Core");
    tcase_set_timeout(core, 60);
    tcase_add_loop_test(core, test_evict_generic, 0, nevict);
    tcase_add_loop_test(core, test_evict_in_store, 0, nevict);
    tcase_add_test(core, test_lru_fifo_order);
    tcase_add_test(core, test_lfu_order);
    tcase_add_test(core, test_cost_order);
    tcase_add_test(core, test_s3fifo_behaviour);
    tcase_add_loop_test(core, test_evict_reference, 0, 5);
    tcase_add_loop_test(core, test_router_generic, 0, nrouter);
    tcase_add_test(core, test_round_robin_cycles);
    tcase_add_test(core, test_random_covers);
    tcase_add_test(core, test_least_loaded_and_affinity);
    tcase_add_test(core, test_sglang_thresholds);
    tcase_add_test(core, test_dynamo_cost);
    tcase_add_test(core, test_llmd_tier_weights);
    tcase_add_test(core, test_plugin_loaded);
    suite_add_tcase(su, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_loop_test(lim, test_capacity_one, 0, nevict);
    tcase_add_test(lim, test_s3fifo_ghost_bytes);
    suite_add_tcase(su, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_test(errs, test_plugin_bad_abi);
    tcase_add_test(errs, test_plugin_versions);
    tcase_add_test(errs, test_plugin_errors);
    tcase_add_test(errs, test_router_bad_params);
    suite_add_tcase(su, errs);
    return su;
}

int main(void)
{
    const char *dir = getenv("MEMFAB_PLUGIN_DIR");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/example_policy.so", dir);
        plugin_state = kv_load_plugin(path, &plugin_err) == 0 ? 1 : -1;
    }
    for (int i = 0; kv_evict_policies[i]; i++)
        evicts[nevict++] = kv_evict_policies[i];
    for (int i = 0; kv_router_policies[i]; i++)
        routers[nrouter++] = kv_router_policies[i];
    if (plugin_state == 1) {
        evicts[nevict++] = kv_evict_find("mru");
        routers[nrouter++] = kv_router_find("power_of_two_choices");
    }
    SRunner *sr = srunner_create(policies_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
