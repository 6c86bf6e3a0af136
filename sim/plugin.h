/*
 * plugin.h - the policy interface of memfab, version 3.
 *
 * KV-cache eviction policies and request-routing policies are small tables
 * of C functions registered by name. The built-in policies use exactly this
 * interface, and a policy compiled as a shared object loads at run time:
 *
 *     cc -shared -fPIC -I/usr/local/include mypolicy.c -o mypolicy.so
 *     memfab run scenario.yaml --plugin ./mypolicy.so
 *
 * The shared object exports one function, memfab_plugin_init, returning a
 * memfab_plugin whose `abi` must equal MEMFAB_PLUGIN_ABI; memfab refuses a
 * plug-in built against another version. This header is self-contained and
 * installed by `make install` as <memfab/plugin.h>.
 *
 * Eviction. The KV store hands a policy only *evictable* blocks: a block
 * pinned by a running request is removed from the policy (remove) and
 * given back when the last request releases it (insert). So `victim` may
 * return any block it holds. Blocks are small integer handles in
 * [0, capacity) of the `capacity` given to create (slots of one tier), so a
 * policy may size arrays by it. Handles are handed out densely (a freed one
 * first, else the lowest never used), so a handle is below the most blocks
 * the tier has held at once: for a large tier a policy had better grow its
 * arrays on demand, as the built-in ones do, than allocate `capacity`
 * entries up front (the capacity of a 1000 TiB tier is hundreds of
 * millions of blocks; a tier of more than 2^30 blocks is given as 2^30).
 * The per-block facts a policy may use are passed in memfab_block_info;
 * the pointer is valid during the call (for victim's lookup: until victim
 * returns). A pin is an access: a block leaving by
 * remove and coming back by insert has been used (info->accesses grew).
 * victim() only chooses: the store then evicts that block and calls
 * remove() for it before any other call, so a remove() of the block just
 * returned by victim() is an eviction and any other remove() is a pin; a
 * handle whose block was evicted may next be inserted for another block.
 *
 * Routing. For each arriving request the router sees every instance's
 * load and how much of the request's prefix each instance holds, per tier,
 * and returns the index of the chosen instance.
 *
 * Pair routing (version 2). With prefill/decode disaggregation a pair
 * router sees the prefill-capable instances and the decode instances
 * separately and chooses one of each, or rejects the request (early
 * rejection under overload, as Mooncake's Conductor does). A decode view's
 * `waiting` counts requests waiting for its KV reservation and its
 * prefix_blocks the request's blocks it already holds (not resent). A
 * plain router still routes disaggregated scenarios: it picks the prefill
 * instance and memfab picks the decode one (workload.disaggregation
 * decode_policy).
 *
 * Scoped routing (version 3). A router that needs only some views may
 * say so in a memfab_router_scope: the views of the instances holding a
 * prefix of the request (prefix_blocks > 0) and of the `lightest` ones
 * with the fewest outstanding tokens (ties: lowest index). memfab then
 * builds only those, from its routing index (block id -> holders, a tree
 * on outstanding tokens), so a request costs O(holders + lightest +
 * log n) instead of n views. route() gets them in ascending instance
 * order as inst[0, m) with m <= n (inst[k].index names the instance) and
 * returns a position in [0, m), as every router returns a position in the
 * array it was given. The set does not depend on whether memfab has an
 * index (with none it builds every view and passes the same subset).
 *
 * Versions. A plug-in declares the version it was built for in `abi`:
 * memfab loads versions MEMFAB_PLUGIN_ABI_MIN .. MEMFAB_PLUGIN_ABI. A
 * version-1 plug-in has no `pair_routers` field and a version-2 one no
 * `router_scopes`; memfab does not read fields beyond the plug-in's
 * version, so its routers and eviction policies work unchanged (a
 * version-1 or -2 router sees every view).
 */
#ifndef MEMFAB_PLUGIN_H
#define MEMFAB_PLUGIN_H

#include <stdint.h>

#define MEMFAB_PLUGIN_ABI 3
#define MEMFAB_PLUGIN_ABI_MIN 1

/* Named numeric parameters of a policy, read from the scenario. */
typedef struct memfab_params {
    void *ctx;
    double (*get)(void *ctx, const char *key, double def);
} memfab_params;

/* ---- eviction ---------------------------------------------------------- */

typedef struct memfab_block_info {
    uint64_t id;            /* chained prefix hash of the block */
    uint64_t inserted_ps;   /* when it entered this tier */
    uint64_t last_access_ps;/* last hit or insertion */
    uint64_t accesses;      /* hits + 1 */
    double recompute_s;     /* estimated time to recompute it (prefill share) */
    double reload_s;        /* estimated time to load it back from the next tier */
} memfab_block_info;

typedef struct memfab_evict_ops {
    const char *name;                                   /* scenario `eviction:` value */
    void *(*create)(uint32_t capacity, const memfab_params *p); /* NULL on failure */
    void (*destroy)(void *st);
    /* A block became evictable (newly stored, or unpinned). */
    void (*insert)(void *st, uint32_t block, const memfab_block_info *info);
    /* An evictable block was accessed (a prefix hit while not pinned). */
    void (*touch)(void *st, uint32_t block, const memfab_block_info *info);
    /* A block is no longer evictable (pinned, or evicted by the store). */
    void (*remove)(void *st, uint32_t block);
    /* Choose a block to evict; 1 with *block set, 0 when none is held.
     * `info` looks up the facts of any held block. */
    int (*victim)(void *st, uint32_t *block,
                  const memfab_block_info *(*info)(void *ctx, uint32_t block), void *ctx);
} memfab_evict_ops;

/* ---- routing ----------------------------------------------------------- */

#define MEMFAB_MAX_TIERS 8

typedef struct memfab_request_view {
    uint64_t id;              /* request id */
    uint64_t session;         /* session id (0 when unknown) */
    uint32_t input_tokens;    /* prompt tokens */
    uint32_t output_tokens;   /* tokens to generate */
    uint32_t n_blocks;        /* prefix blocks of the prompt */
    uint32_t block_tokens;    /* tokens per block */
    const uint64_t *block_ids;/* chained prefix hashes */
} memfab_request_view;

typedef struct memfab_instance_view {
    uint32_t index;                 /* 0 .. n-1 */
    uint64_t outstanding_tokens;    /* prefill + decode tokens still to do */
    uint32_t waiting;               /* queued requests */
    uint32_t running;               /* requests in the running batch */
    uint64_t kv_free_blocks;        /* free blocks in GPU memory */
    uint64_t kv_total_blocks;       /* GPU KV capacity in blocks */
    uint32_t prefix_blocks;         /* leading blocks of this request held (any tier) */
    uint32_t prefix_by_tier[MEMFAB_MAX_TIERS]; /* of those, how many per tier (0 = GPU) */
    uint32_t ntiers;                /* tiers in use */
    double tier_weight[MEMFAB_MAX_TIERS]; /* the scenario's per-tier value of a hit */
} memfab_instance_view;

typedef struct memfab_router_ops {
    const char *name;                                   /* scenario `policy:` value */
    void *(*create)(uint32_t instances, const memfab_params *p);
    void (*destroy)(void *st);
    /* Return the chosen instance index in [0, n). uniform() draws from the
     * router's own random stream in [0, 1). */
    uint32_t (*route)(void *st, const memfab_request_view *req,
                      const memfab_instance_view *inst, uint32_t n,
                      double (*uniform)(void *rng), void *rng);
} memfab_router_ops;

/* Version 2: choose a (prefill, decode) pair for a disaggregated request. */
typedef struct memfab_pair_router_ops {
    const char *name;                                   /* scenario `policy:` value */
    void *(*create)(uint32_t prefill_instances, uint32_t decode_instances,
                    const memfab_params *p);
    void (*destroy)(void *st);
    /* Set *prefill in [0, np) and *decode in [0, nd) and return 0, or
     * return 1 to reject the request now (it is counted as rejected). */
    int (*route_pair)(void *st, const memfab_request_view *req,
                      const memfab_instance_view *prefill, uint32_t np,
                      const memfab_instance_view *decode, uint32_t nd,
                      double (*uniform)(void *rng), void *rng, uint32_t *prefill_pick,
                      uint32_t *decode_pick);
} memfab_pair_router_ops;

/* Version 3: the views a router reads (see "Scoped routing" above). */
typedef struct memfab_router_scope {
    const memfab_router_ops *router; /* one of the plug-in's `routers`; one scope each */
    uint32_t lightest;               /* views of this many least-loaded instances (>= 1) */
} memfab_router_scope;

/* ---- the plug-in ------------------------------------------------------- */

typedef struct memfab_plugin {
    uint32_t abi;                        /* MEMFAB_PLUGIN_ABI the plug-in was built for */
    const char *name;                    /* for messages */
    const memfab_evict_ops *const *evictions; /* NULL-terminated, or NULL */
    const memfab_router_ops *const *routers;  /* NULL-terminated, or NULL */
    /* version 2 and later only: */
    const memfab_pair_router_ops *const *pair_routers; /* NULL-terminated, or NULL */
    /* version 3 and later only: */
    const memfab_router_scope *const *router_scopes; /* NULL-terminated, or NULL */
} memfab_plugin;

/* The one symbol a plug-in exports. */
typedef const memfab_plugin *(*memfab_plugin_init_fn)(void);
#define MEMFAB_PLUGIN_INIT_SYMBOL "memfab_plugin_init"

#endif
