/*
 * bench_kv.c - `memfab bench kv` (see bench_kv.h).
 *
 * Memory: for each built-in eviction policy, a one-tier store of unbounded
 * capacity caches --blocks blocks (default 2^17: every table then exactly
 * full; tests/check_kvstore.c test_bytes_per_block asserts the same
 * figures) and the bytes the store and its policy hold (sim_mem_in_use)
 * are divided by the blocks cached; for s3fifo also once its tier is full,
 * with the ghost (0.9 x capacity ids). Issue 18's target: at most 64 B per
 * cached block, the policy's state included.
 *
 * CPU: each policy alone on --handles handles under the store's protocol
 * (plugin.h): 30% new blocks (evicting the victim when full), 40% pins of
 * a held block (up to a quarter of the handles pinned at once), 30%
 * releases; --ops operations, CPU time per operation (clock(), so other
 * processes on the machine count less than in wall time).
 *
 * The store with its policy: a tier of --handles blocks is filled, then
 * takes 2 x --handles more pins of one block each (every second one a
 * block seen before, the others new, so a miss evicts), each released at
 * once: CPU per pin + release of that churn, the store's lookup, index,
 * tier and policy together (a pin's cost must not grow with the blocks
 * cached).
 */
#include "tools/bench_kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/kv/kvstore.h"
#include "sim/mem.h"

static const memfab_block_info *info_of(void *ctx, uint32_t b)
{
    return &((memfab_block_info *)ctx)[b];
}

/* Bytes per cached block of a store with `policy` holding n blocks (0 on
 * failure). */
static double store_bytes(const memfab_evict_ops *policy, uint32_t n)
{
    kv_tier_cfg t = {"hbm", UINT64_C(1) << 40};
    sim_err err;
    size_t m0 = sim_mem_in_use();
    kv_store *s = kv_store_new(&t, 1, KV_WRITE_BACK, policy, NULL, &err);
    if (!s)
        return 0;
    size_t empty = sim_mem_in_use() - m0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = 0x9e3779b97f4a7c15ULL * (i + 1ULL);
        if (kv_store_pin(s, &id, 1, i, NULL)) {
            kv_store_free(s);
            return 0;
        }
        kv_store_unpin(s, &id, 1, i);
    }
    double per = (double)(sim_mem_in_use() - m0 - empty) / n;
    kv_store_free(s);
    return per;
}

/* The policy's own bytes per handle with n of its cap handles reserved
 * (s3fifo allocates its ghost when they reach the capacity). */
static double policy_bytes(const memfab_evict_ops *o, uint32_t cap, uint32_t n)
{
    void *st = o->create(cap, NULL);
    if (!st)
        return 0;
    size_t m0 = sim_mem_in_use();
    double per = kv_evict_reserve(o, st, n) ? 0 : (double)(sim_mem_in_use() - m0) / n;
    o->destroy(st);
    return per;
}

/* CPU nanoseconds per operation of policy o on c handles. */
static double policy_ns(const memfab_evict_ops *o, uint32_t c, long ops)
{
    uint64_t rs = 42;
#define RND(n) (rs = rs * 6364136223846793005ULL + 1442695040888963407ULL, (uint32_t)((rs >> 33) % (n)))
    void *st = o->create(c, NULL);
    memfab_block_info *info = calloc(c, sizeof *info);
    uint8_t *state = calloc(c, 1); /* 0 free, 1 held, 2 pinned */
    uint32_t *pinned = malloc((size_t)c * sizeof *pinned), npin = 0, used = 0;
    if (!st || !info || !state || !pinned || kv_evict_reserve(o, st, c)) {
        if (st)
            o->destroy(st);
        free(info), free(state), free(pinned);
        return -1;
    }
    uint64_t next = 1;
    clock_t t0 = clock();
    for (long i = 0; i < ops; i++) {
        uint32_t u = RND(100), b;
        if (u < 30) {
            if (used == c) {
                if (!o->victim(st, &b, info_of, info))
                    continue;
                o->remove(st, b);
                state[b] = 0;
                used--;
            } else {
                do
                    b = RND(c);
                while (state[b]);
            }
            info[b] = (memfab_block_info){next++ % (3 * (uint64_t)c), 0, 0, 1, RND(4), 0};
            o->insert(st, b, &info[b]);
            state[b] = 1;
            used++;
        } else if (u < 70) {
            b = RND(c);
            if (npin >= c / 4 || state[b] != 1)
                continue;
            o->remove(st, b);
            info[b].accesses++;
            state[b] = 2;
            pinned[npin++] = b;
        } else if (npin) {
            uint32_t k = RND(npin);
            b = pinned[k];
            pinned[k] = pinned[--npin];
            o->insert(st, b, &info[b]);
            state[b] = 1;
        }
    }
    double ns = 1e9 * (double)(clock() - t0) / CLOCKS_PER_SEC / (double)ops;
    o->destroy(st);
    free(info), free(state), free(pinned);
    return ns;
#undef RND
}

/* CPU nanoseconds per pin + release of the store with policy o in a tier
 * of c blocks, full and churning (-1 on failure). */
static double store_ns(const memfab_evict_ops *o, uint32_t c)
{
    kv_tier_cfg t = {"hbm", c};
    sim_err err;
    kv_store *s = kv_store_new(&t, 1, KV_WRITE_BACK, o, NULL, &err);
    if (!s)
        return -1;
    clock_t t0 = 0;
    for (uint64_t i = 0; i < 3 * (uint64_t)c; i++) {
        if (i == c)
            t0 = clock(); /* full: time the churn */
        uint64_t id = 0x9e3779b97f4a7c15ULL * (1 + (i >= c && (i & 1) ? i / 2 : i));
        if (kv_store_pin(s, &id, 1, i, NULL)) {
            kv_store_free(s);
            return -1;
        }
        kv_store_unpin(s, &id, 1, i);
    }
    double ns = 1e9 * (double)(clock() - t0) / CLOCKS_PER_SEC / (2.0 * c);
    kv_store_free(s);
    return ns;
}

int bench_kv(int argc, char **argv)
{
    uint32_t blocks = 1u << 17, handles = 1u << 16;
    long ops = 4000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--blocks") == 0 && i + 1 < argc) {
            blocks = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--handles") == 0 && i + 1 < argc) {
            handles = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            ops = strtol(argv[++i], NULL, 10);
        } else {
            int help = strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
            fprintf(help ? stdout : stderr,
                    "usage: memfab bench kv [--blocks N] [--handles N] [--ops N]\n%s",
                    help ? "\nFor each built-in eviction policy: the bytes a KV store holds per"
                           " cached block\n(--blocks blocks cached, default 131072; and with"
                           " the tier full), the CPU\nof one policy operation (--ops operations"
                           " on --handles handles, default\n4000000 on 65536), and the CPU of"
                           " one pin + release of the whole store, full\nand churning. Target"
                           " (issue 18): at most 64 B per cached block.\n"
                         : "");
            return help ? 0 : 2;
        }
    }
    if (blocks < 1 || handles < 4 || ops < 1) {
        fprintf(stderr, "memfab bench kv: --blocks >= 1, --handles >= 4, --ops >= 1\n");
        return 2;
    }
    printf("%-8s %14s %18s %12s %14s   (target: <= 64 B per cached block)\n", "policy",
           "B/cached block", "B/block tier full", "ns/op", "store ns/pin");
    for (int p = 0; kv_evict_policies[p]; p++) {
        const memfab_evict_ops *o = kv_evict_policies[p];
        double per = store_bytes(o, blocks);
        if (per <= 0) {
            fprintf(stderr, "memfab bench kv: %s: store failed\n", o->name);
            return 1;
        }
        /* a full tier: the policy's state at capacity (s3fifo: + ghost)
         * instead of its state while the tier fills */
        double full = per - policy_bytes(o, handles, handles / 2) + policy_bytes(o, handles, handles);
        printf("%-8s %14.2f %18.2f %12.1f %14.1f\n", o->name, per, full,
               policy_ns(o, handles, ops), store_ns(o, handles));
    }
    return 0;
}
