/*
 * kvstore.c - the KV block store: prefix-shared, reference-counted KV
 * blocks in a hierarchy of capacity tiers (see kvstore.h for the model).
 *
 * Data structure. A block is one entry of a table sized at creation to the
 * sum of the tier capacities plus one (a block present in several tiers
 * uses one entry; the extra one lets a new block take its entry before the
 * eviction that makes room for it), found by id through an open-addressing index (sim/idmap.h) of
 * the same size. Each tier has its own slot array [0, capacity): slot s of
 * tier t holds one block, and s is the handle the tier's eviction policy
 * sees, so a policy may index arrays of `capacity` entries by it. Free
 * slots and free block entries are stacks. Nothing is allocated after
 * kv_store_new.
 *
 * Invariants (kv_store_check):
 *   - tier t holds used(t) <= capacity(t) blocks; block b has presence bit
 *     t iff a slot of tier t names b, and that slot is the one b records;
 *   - a block with refs > 0 is present in tier 0; a block entry is live iff
 *     it is present somewhere, and live entries are exactly those indexed;
 *   - a tier-0 slot is held by the policy iff its block has refs == 0; a
 *     slot of a lower tier is always held (lower tiers are never pinned).
 *     The one exception lives only inside kv_store_pin: blocks of the
 *     request found in a lower tier are "busy" (taken out of their
 *     policies) so that cascading evictions cannot drop them before they
 *     are promoted. Likewise a block being demoted is "moving": the
 *     cascade it triggers may evict its own copy further down, and the
 *     block entry must not be freed before it lands.
 *
 * Pin order. kv_store_pin first takes a reference on every block of the
 * request already in tier 0 (and protects those in lower tiers), then
 * allocates or promotes the others in order, evicting unpinned blocks of
 * other requests. So a request never evicts its own blocks and its hits
 * are exactly what kv_store_match reported before the pin (as in vLLM's
 * block manager, which takes the computed blocks before allocating new
 * ones). A pin is the access a policy sees: the block leaves the policy
 * and returns on the last unpin.
 *
 * Use in place (kv_store_set_access). A leading-run block found only in a
 * lower tier whose access mode says so (plan_direct: direct, or auto below
 * hot_hits hits there; or already pinned in place by anyone) is not
 * promoted: phase 2 takes a reference on it where it is (`inplace` = its
 * tier + 1, in the store that holds the tier: s or the pool) and leaves
 * it out of that tier's policy; its other lower copies return to their
 * policies. It needs no tier-0 slot, so kv_store_can_pin / needed count
 * only blocks plan_direct does not take (the plan is a pure function of
 * the state before the pin, and phase 1 protects the blocks it names, so
 * the pin does what the check counted). Unpin finds the reference in s
 * (own tiers) or, for an id s does not hold, in the pool. A pin in place
 * records the pinning store's reader bit in the block's sharers; evict_one
 * hands them to the invalidation hook when the block leaves the tier they
 * were recorded for.
 *
 * Offload. Write-back: a block evicted from tier t is copied to t+1 unless
 * a copy is there, which may evict from t+1 in turn (cascade); if t+1 has
 * nothing evictable the block is dropped. Write-through: a block entering
 * tier t (new, promoted, or written through from above) is copied to t+1
 * at once, down to the last tier; evictions move no bytes and a block is
 * gone when its last copy is evicted.
 *
 * Shared pool (kv: {scope: global}). A pool is a store whose tiers are all
 * lower tiers (kv_store_new_pool: never pinned, every present block held by
 * its tier's policy, one policy state per tier for all users). A store of
 * one tier (an instance's HBM) attached to it (kv_store_attach_pool) sees
 * the pool as its tiers 1..: lookups that miss tier 0 continue in the pool,
 * a pool hit of the leading run is protected (busy in the pool) during the
 * pin and promoted (copied) into tier 0, write-back evictions from tier 0
 * land in the pool's first tier (to_pool), write-through copies new tier-0
 * blocks there. Pool moves carry the pool's tier numbers shifted by `base`
 * (1) in kv_pin_result, so the caller charges them as for a private store.
 * Only pins touch the pool, so the attached store's share of the pool's
 * counters (pst) is the difference of the pool's counters across each pin:
 * the shares of all attached stores add up to the pool's counters.
 *
 * References: vLLM automatic prefix caching (block hashes chained over the
 * prefix, reference-counted blocks, evictable free queue); Mooncake (Qin
 * et al., FAST 2025) for the multi-tier KV pool; SGLang RadixAttention for
 * prefix sharing.
 */
#include "models/kv/kvstore.h"

#include <string.h>

#include "sim/idmap.h"
#include "sim/mem.h"

#define NONE UINT32_MAX
#define MAX_BLOCKS (UINT32_C(1) << 30)

typedef struct ktier {
    /* configuration */
    char *name;                /* results name */
    uint32_t cap;              /* capacity in blocks */
    double reload_s;           /* seconds to reload a block from tier t+1 */
    void *pol;                 /* eviction policy state */
    /* state */
    uint32_t *slot_block;      /* block entry in each slot, NONE when free */
    memfab_block_info *info;   /* per-slot facts handed to the policy */
    uint8_t *held;             /* slot currently held by the policy */
    uint32_t *free_slots;      /* stack of free slots */
    uint32_t nfree;            /* its depth */
    uint32_t nheld;            /* slots held by the policy */
    kv_tier_stats st;          /* counters; st.used is the occupancy */
} ktier;

struct kv_store {
    /* configuration */
    uint32_t ntiers;           /* tiers in use */
    int mode;                  /* KV_WRITE_BACK or KV_WRITE_THROUGH */
    const memfab_evict_ops *ops; /* policy of every tier */
    uint32_t nmax;             /* block entries: sum of capacities */
    double recompute_s;        /* recompute cost of a block at position 0 */
    double recompute_pos_s;    /* extra cost per block of preceding prefix */
    ktier t[MEMFAB_MAX_TIERS];  /* tier 0 is the fastest */
    int is_pool;               /* 1: every tier is a lower tier (shared pool, never pinned) */
    uint32_t base;             /* tier number of t[0] in a kv_pin_result (1 for a pool) */
    kv_store *pool;            /* shared lower tiers after tier 0, or NULL (not owned) */
    kv_tier_stats pst[MEMFAB_MAX_TIERS]; /* with a pool: this store's share of its counters */
    uint8_t access[MEMFAB_MAX_TIERS]; /* KV_ACCESS_* per tier, caller's numbering */
    uint32_t hot_hits;         /* auto: the hit from which a block is promoted */
    int direct_any;            /* some tier is not KV_ACCESS_COPY */
    uint32_t reader;           /* sharer bit of this store's pins */
    uint32_t nreaders;         /* a pool: stores attached so far */
    kv_inval_fn inval;         /* invalidation hook (or NULL) */
    void *inval_ctx;
    kv_index_fn on_index;      /* index hook: a block entered / left the index (or NULL) */
    void *index_ctx;
    /* state, per block entry */
    uint64_t *bid;             /* block id */
    uint32_t *refs;            /* pins by running requests */
    uint8_t *present;          /* bit t: present in tier t; 0 = free entry */
    uint8_t *busy;             /* protected during a pin */
    uint8_t *moving;           /* being demoted: not freed meanwhile */
    uint32_t *pos;             /* position in the prefix when first stored */
    uint32_t *epoch;           /* pin call that allocated or promoted it */
    uint32_t *slot;            /* [b * ntiers + t]: slot in tier t or NONE */
    uint32_t *free_blocks;     /* stack of free entries */
    uint32_t nfree_blocks;     /* its depth */
    uint8_t *inplace;          /* pinned in place in tier inplace - 1 (0: not); NULL until
                                * use in place is enabled */
    uint8_t *sh_tier;          /* sharers were recorded in tier sh_tier - 1 (0: none) */
    uint64_t *sharers;         /* reader bits of the pins that used it in place there */
    uint64_t inplace_refs;     /* references this store's pins hold in place */
    sim_idmap index;            /* id -> block entry */
    uint64_t pinned;           /* blocks with refs > 0 */
    uint32_t cur_epoch;        /* counts pin calls */
};

static const memfab_block_info *info_cb(void *ctx, uint32_t slot)
{
    return &((ktier *)ctx)->info[slot];
}

/* Tiers seen by a caller: own tiers, then the pool's. */
static uint32_t ntiers_all(const kv_store *s)
{
    return s->ntiers + (s->pool ? s->pool->ntiers : 0);
}

static int lowest_tier(uint8_t present)
{
    for (int t = 0; t < MEMFAB_MAX_TIERS; t++)
        if (present & (1u << t))
            return t;
    return -1;
}

kv_store *kv_store_new(const kv_tier_cfg *tiers, uint32_t ntiers, int write_mode,
                       const memfab_evict_ops *policy, const memfab_params *params,
                       sim_err *err)
{
    if (!tiers || ntiers == 0 || ntiers > MEMFAB_MAX_TIERS) {
        sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "kv store: %u tiers (want 1 to %d)",
                    (unsigned)ntiers, MEMFAB_MAX_TIERS);
        return NULL;
    }
    if (write_mode != KV_WRITE_BACK && write_mode != KV_WRITE_THROUGH) {
        sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "kv store: unknown write mode %d", write_mode);
        return NULL;
    }
    if (!policy || !policy->create || !policy->destroy || !policy->insert ||
        !policy->remove || !policy->victim) {
        sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "kv store: eviction policy '%s' is incomplete",
                    policy && policy->name ? policy->name : "(null)");
        return NULL;
    }
    uint64_t total = 0;
    for (uint32_t t = 0; t < ntiers; t++) {
        if (tiers[t].capacity == 0 || tiers[t].capacity > MAX_BLOCKS) {
            sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                        "kv store: tier %u ('%s') capacity %llu blocks (want 1 to %u)",
                        (unsigned)t, tiers[t].name ? tiers[t].name : "", 
                        (unsigned long long)tiers[t].capacity, (unsigned)MAX_BLOCKS);
            return NULL;
        }
        total += tiers[t].capacity;
    }
    if (total > MAX_BLOCKS) {
        sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "kv store: %llu blocks in all tiers (at most %u)",
                    (unsigned long long)total, (unsigned)MAX_BLOCKS);
        return NULL;
    }
    kv_store *s = sim_calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->ntiers = ntiers;
    s->mode = write_mode;
    s->ops = policy;
    s->nmax = (uint32_t)total + 1; /* + 1: a new block takes its entry before evicting */
    size_t n = s->nmax;
    s->bid = sim_calloc(n, sizeof *s->bid);
    s->refs = sim_calloc(n, sizeof *s->refs);
    s->present = sim_calloc(n, 1);
    s->busy = sim_calloc(n, 1);
    s->moving = sim_calloc(n, 1);
    s->pos = sim_calloc(n, sizeof *s->pos);
    s->epoch = sim_calloc(n, sizeof *s->epoch);
    s->slot = sim_alloc(n * ntiers * sizeof *s->slot);
    s->free_blocks = sim_alloc(n * sizeof *s->free_blocks);
    if (!s->bid || !s->refs || !s->present || !s->busy || !s->moving || !s->pos || !s->epoch || !s->slot ||
        !s->free_blocks || sim_idmap_init(&s->index, s->nmax))
        goto oom;
    memset(s->slot, 0xff, n * ntiers * sizeof *s->slot);
    for (uint32_t i = 0; i < s->nmax; i++)
        s->free_blocks[i] = s->nmax - 1 - i;
    s->nfree_blocks = s->nmax;
    for (uint32_t t = 0; t < ntiers; t++) {
        ktier *tr = &s->t[t];
        size_t c = tiers[t].capacity;
        tr->cap = (uint32_t)c;
        tr->name = sim_strdup(tiers[t].name ? tiers[t].name : "");
        tr->slot_block = sim_alloc(c * sizeof *tr->slot_block);
        tr->info = sim_calloc(c, sizeof *tr->info);
        tr->held = sim_calloc(c, 1);
        tr->free_slots = sim_alloc(c * sizeof *tr->free_slots);
        if (!tr->name || !tr->slot_block || !tr->info || !tr->held || !tr->free_slots)
            goto oom;
        memset(tr->slot_block, 0xff, c * sizeof *tr->slot_block);
        for (uint32_t i = 0; i < tr->cap; i++)
            tr->free_slots[i] = tr->cap - 1 - i;
        tr->nfree = tr->cap;
        tr->pol = policy->create(tr->cap, params);
        if (!tr->pol) {
            sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                        "kv store: eviction policy '%s' failed to start for tier '%s'"
                        " (bad parameters or out of memory)",
                        policy->name, tr->name);
            kv_store_free(s);
            return NULL;
        }
    }
    return s;
oom:
    kv_store_free(s);
    sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "kv store: out of memory for %llu blocks",
                (unsigned long long)total);
    return NULL;
}

void kv_store_free(kv_store *s)
{
    if (!s)
        return;
    for (uint32_t t = 0; t < s->ntiers; t++) {
        ktier *tr = &s->t[t];
        if (tr->pol)
            s->ops->destroy(tr->pol);
        sim_free(tr->name);
        sim_free(tr->slot_block);
        sim_free(tr->info);
        sim_free(tr->held);
        sim_free(tr->free_slots);
    }
    sim_free(s->bid);
    sim_free(s->refs);
    sim_free(s->present);
    sim_free(s->busy);
    sim_free(s->moving);
    sim_free(s->pos);
    sim_free(s->epoch);
    sim_free(s->slot);
    sim_free(s->free_blocks);
    sim_free(s->inplace);
    sim_free(s->sh_tier);
    sim_free(s->sharers);
    sim_idmap_fini(&s->index);
    sim_free(s);
}

void kv_store_set_costs(kv_store *s, double recompute_s, double recompute_per_block_s,
                        const double *reload_s)
{
    s->recompute_s = recompute_s;
    s->recompute_pos_s = recompute_per_block_s;
    for (uint32_t t = 0; t < s->ntiers; t++)
        s->t[t].reload_s = reload_s && t + 1 < ntiers_all(s) ? reload_s[t] : 0;
}

/* ---- tier membership ------------------------------------------------------ */

static uint32_t lookup(const kv_store *s, uint64_t id)
{
    return sim_idmap_get(&s->index, id);
}

static uint32_t *slot_of(const kv_store *s, uint32_t b, uint32_t t)
{
    return &s->slot[(size_t)b * s->ntiers + t];
}

static void policy_hold(kv_store *s, uint32_t t, uint32_t b)
{
    ktier *tr = &s->t[t];
    uint32_t sl = *slot_of(s, b, t);
    if (tr->held[sl])
        return;
    tr->held[sl] = 1;
    tr->nheld++;
    s->ops->insert(tr->pol, sl, &tr->info[sl]);
}

static void policy_release(kv_store *s, uint32_t t, uint32_t b)
{
    ktier *tr = &s->t[t];
    uint32_t sl = *slot_of(s, b, t);
    if (!tr->held[sl])
        return;
    tr->held[sl] = 0;
    tr->nheld--;
    s->ops->remove(tr->pol, sl);
}

static void access_block(kv_store *s, uint32_t t, uint32_t b, uint64_t now)
{
    memfab_block_info *in = &s->t[t].info[*slot_of(s, b, t)];
    in->accesses++;
    in->last_access_ps = now;
}

static void free_block(kv_store *s, uint32_t b, kv_pin_result *res)
{
    if (s->sh_tier)
        s->sh_tier[b] = 0, s->sharers[b] = 0, s->inplace[b] = 0;
    sim_idmap_del(&s->index, s->bid[b]);
    if (s->on_index)
        s->on_index(s->index_ctx, s->bid[b], 0);
    s->free_blocks[s->nfree_blocks++] = b;
    if (res)
        res->dropped++;
}

static int enter_tier(kv_store *s, uint32_t t, uint32_t b, uint64_t now, kv_pin_result *res);
static int to_pool(kv_store *s, uint32_t b, uint64_t now, kv_pin_result *res);

/* Evict one policy-chosen block from tier t; 0, or -1 when none is held. */
static int evict_one(kv_store *s, uint32_t t, uint64_t now, kv_pin_result *res)
{
    ktier *tr = &s->t[t];
    uint32_t sl;
    if (!tr->nheld || !s->ops->victim(tr->pol, &sl, info_cb, tr))
        return -1;
    if (sl >= tr->cap || !tr->held[sl]) /* a policy returning a block it does not hold */
        return -1;
    uint32_t b = tr->slot_block[sl];
    policy_release(s, t, b);
    tr->slot_block[sl] = NONE;
    tr->free_slots[tr->nfree++] = sl;
    *slot_of(s, b, t) = NONE;
    s->present[b] &= (uint8_t)~(1u << t);
    tr->st.used--;
    tr->st.evictions++;
    if (s->sh_tier && s->sh_tier[b] == t + 1) { /* its readers' lines go stale */
        uint64_t sh = s->sharers[b];
        s->sh_tier[b] = 0;
        s->sharers[b] = 0;
        tr->st.invalidated++;
        if (s->inval)
            s->inval(s->inval_ctx, t, s->bid[b], sh);
    }
    if (s->mode == KV_WRITE_BACK && t + 1 < s->ntiers && !(s->present[b] & (1u << (t + 1)))) {
        /* While b moves down, the cascade may evict b's own copy further
         * down; b must survive that until it lands in t+1. */
        s->moving[b] = 1;
        int rc = enter_tier(s, t + 1, b, now, res);
        s->moving[b] = 0;
        if (rc == 0) {
            tr->st.blocks_out++;
            s->t[t + 1].st.blocks_in++;
            if (res)
                res->demoted[s->base + t]++;
        }
    } else if (s->mode == KV_WRITE_BACK && s->pool && t + 1 == s->ntiers) {
        if (to_pool(s, b, now, res) >= 0 && !s->present[b] && !s->refs[b]) {
            free_block(s, b, NULL); /* it lives on in the pool */
            return 0;
        }
    }
    if (!s->present[b] && !s->refs[b] && !s->moving[b])
        free_block(s, b, res);
    return 0;
}

/* Put block b into tier t (making room), write through below; the tier-0
 * caller pins it, lower tiers hand it to their policy. 0 or -1 (no room). */
static int enter_tier(kv_store *s, uint32_t t, uint32_t b, uint64_t now, kv_pin_result *res)
{
    ktier *tr = &s->t[t];
    while (tr->st.used >= tr->cap)
        if (evict_one(s, t, now, res))
            return -1;
    uint32_t sl = tr->free_slots[--tr->nfree];
    tr->slot_block[sl] = b;
    *slot_of(s, b, t) = sl;
    s->present[b] |= (uint8_t)(1u << t);
    if (++tr->st.used > tr->st.peak)
        tr->st.peak = tr->st.used;
    memfab_block_info *in = &tr->info[sl];
    in->id = s->bid[b];
    in->inserted_ps = in->last_access_ps = now;
    in->accesses = 1;
    in->recompute_s = s->recompute_s + s->recompute_pos_s * s->pos[b];
    in->reload_s = t + 1 < ntiers_all(s) ? tr->reload_s : in->recompute_s;
    if ((t > 0 || s->is_pool) && !s->busy[b])
        policy_hold(s, t, b);
    if (s->mode == KV_WRITE_THROUGH && t + 1 < s->ntiers && !(s->present[b] & (1u << (t + 1)))) {
        if (enter_tier(s, t + 1, b, now, res) == 0) {
            tr->st.blocks_out++;
            s->t[t + 1].st.blocks_in++;
            if (res)
                res->demoted[s->base + t]++;
        }
    } else if (s->mode == KV_WRITE_THROUGH && s->pool && t + 1 == s->ntiers) {
        (void)to_pool(s, b, now, res);
    }
    return 0;
}

/* Copy block b from the last tier of s into its pool's first tier, unless
 * a copy is there: 0 copied, 1 already there, -1 no room (dropped from the
 * pool's view). The pool entry is "moving" while the cascade it triggers
 * runs, so the cascade cannot free it before it lands. */
static int to_pool(kv_store *s, uint32_t b, uint64_t now, kv_pin_result *res)
{
    kv_store *p = s->pool;
    uint32_t pb = lookup(p, s->bid[b]);
    if (pb != NONE && (p->present[pb] & 1u))
        return 1;
    if (pb == NONE) {
        pb = p->free_blocks[--p->nfree_blocks];
        p->bid[pb] = s->bid[b];
        p->refs[pb] = 0;
        p->present[pb] = 0;
        p->busy[pb] = 0;
        p->pos[pb] = s->pos[b];
        sim_idmap_put(&p->index, s->bid[b], pb);
    }
    p->moving[pb] = 1;
    int rc = enter_tier(p, 0, pb, now, res);
    p->moving[pb] = 0;
    if (rc == 0) {
        s->t[s->ntiers - 1].st.blocks_out++;
        p->t[0].st.blocks_in++;
        if (res)
            res->demoted[s->ntiers - 1]++;
        return 0;
    }
    if (!p->present[pb])
        free_block(p, pb, NULL);
    return -1;
}

/* ---- queries -------------------------------------------------------------- */

/* Fastest tier (caller's numbering) holding id, or -1; *pb gets the pool
 * entry when that tier is in the pool. */
static int find_tier(const kv_store *s, uint64_t id, uint32_t *b, uint32_t *pb)
{
    *b = lookup(s, id);
    *pb = NONE;
    if (*b != NONE)
        return lowest_tier(s->present[*b]);
    if (s->pool && (*pb = lookup(s->pool, id)) != NONE)
        return (int)s->ntiers + lowest_tier(s->pool->present[*pb]);
    return -1;
}

/* Counters of tier t in the caller's numbering (own, then the pool's). */
static kv_tier_stats *tstats(kv_store *s, uint32_t t)
{
    return t < s->ntiers ? &s->t[t].st : &s->pool->t[t - s->ntiers].st;
}

/* Is use in place possible at all (s or its pool has the state for it)? */
static int inplace_on(const kv_store *s)
{
    return s->inplace || (s->pool && s->pool->inplace);
}

/* As find_tier, and the store o holding that tier (s or its pool), the
 * block's entry ob there and o's own number ot of the tier. */
static int locate(const kv_store *s, uint64_t id, kv_store **o, uint32_t *ob, uint32_t *ot)
{
    uint32_t b, pb;
    int ft = find_tier(s, id, &b, &pb);
    if (ft < 0)
        return -1;
    if (pb != NONE) {
        *o = s->pool;
        *ob = pb;
        *ot = (uint32_t)ft - s->ntiers;
    } else {
        *o = (kv_store *)s;
        *ob = b;
        *ot = (uint32_t)ft;
    }
    return ft;
}

/* Would a pin use the block found at caller tier ft > 0 (o, ob, ot as
 * locate gives) in place? Yes when someone holds it in place (shared
 * there), else for a block of the leading run when the tier's access is
 * direct, or auto and this is its k-th hit there with k < hot_hits
 * (info.accesses is hits + 1, so k = accesses before this hit counts). */
static int plan_direct(const kv_store *s, const kv_store *o, uint32_t ob, uint32_t ot, int ft,
                       int leading)
{
    if (!o->inplace)
        return 0;
    if (o->refs[ob] && o->inplace[ob])
        return 1;
    if (!leading || ft <= 0)
        return 0;
    int a = s->access[ft];
    if (a == KV_ACCESS_DIRECT)
        return 1;
    if (a != KV_ACCESS_AUTO)
        return 0;
    return o->t[ot].info[*slot_of(o, ob, ot)].accesses < s->hot_hits;
}

/* Blocks of ids[0..n) a pin would take a tier-0 slot for: all but those
 * pinned already (any where) and those plan_direct uses in place; with
 * fresh = 1 only those not in tier 0 (kv_store_needed), else those not
 * pinned in tier 0 (kv_store_can_pin). */
static uint64_t slots_planned(const kv_store *s, const uint64_t *ids, uint32_t n, int fresh)
{
    uint64_t k = 0;
    int leading = 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = lookup(s, ids[i]);
        if (b != NONE && (s->present[b] & 1u)) {
            if (!fresh && s->refs[b] == 0)
                k++;
            continue;
        }
        if (b != NONE && s->refs[b])
            continue; /* pinned in place in an own lower tier */
        kv_store *o;
        uint32_t ob, ot;
        int ft = locate(s, ids[i], &o, &ob, &ot);
        if (ft < 0)
            leading = 0;
        else if (plan_direct(s, o, ob, ot, ft, leading))
            continue;
        k++;
    }
    return k;
}

uint32_t kv_store_match(const kv_store *s, const uint64_t *ids, uint32_t n, uint32_t *by_tier)
{
    if (by_tier)
        memset(by_tier, 0, ntiers_all(s) * sizeof *by_tier);
    uint32_t i = 0;
    for (; i < n; i++) {
        uint32_t b, pb;
        int ft = find_tier(s, ids[i], &b, &pb);
        if (ft < 0)
            break;
        if (by_tier)
            by_tier[ft]++;
    }
    return i;
}

uint32_t kv_store_needed(const kv_store *s, const uint64_t *ids, uint32_t n)
{
    if (inplace_on(s))
        return (uint32_t)slots_planned(s, ids, n, 1);
    uint32_t need = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = lookup(s, ids[i]);
        if (b == NONE || !(s->present[b] & 1u))
            need++;
    }
    return need;
}

/* Blocks of ids not pinned now: each needs a tier-0 slot of its own. */
static uint64_t unpinned_of(const kv_store *s, const uint64_t *ids, uint32_t n)
{
    if (inplace_on(s))
        return slots_planned(s, ids, n, 0);
    uint64_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = lookup(s, ids[i]);
        if (b == NONE || s->refs[b] == 0)
            k++;
    }
    return k;
}

int kv_store_can_pin(const kv_store *s, const uint64_t *ids, uint32_t n)
{
    return s->pinned + unpinned_of(s, ids, n) <= s->t[0].cap;
}

/* ---- pin and unpin -------------------------------------------------------- */

/* Protect (busy) or release a pool entry during a pin. */
static void pool_protect(kv_store *p, uint32_t pb)
{
    if (p->busy[pb])
        return;
    p->busy[pb] = 1;
    for (uint32_t t = 0; t < p->ntiers; t++)
        if (p->present[pb] & (1u << t))
            policy_release(p, t, pb);
}

/* Pin block ob of o (s or its pool) in place in o's tier ot (the tier it
 * is already pinned in, if it is): a reference, out of that tier's
 * policy, its other copies back in theirs; s's reader joins its sharers. */
static void pin_inplace(kv_store *s, kv_store *o, uint32_t ob, uint32_t ot, uint64_t now,
                        kv_pin_result *res)
{
    if (o->refs[ob]++ && o->inplace[ob])
        ot = o->inplace[ob] - 1u;
    o->inplace[ob] = (uint8_t)(ot + 1);
    o->busy[ob] = 0;
    for (uint32_t t = 0; t < o->ntiers; t++) {
        if (!(o->present[ob] & (1u << t)))
            continue;
        if (t == ot)
            policy_release(o, t, ob);
        else
            policy_hold(o, t, ob);
    }
    access_block(o, ot, ob, now);
    o->sharers[ob] |= UINT64_C(1) << s->reader;
    o->sh_tier[ob] = (uint8_t)(ot + 1);
    o->t[ot].st.direct++;
    s->inplace_refs++;
    res->direct[o == s ? ot : s->ntiers + ot]++;
}

/* Drop one in-place reference of block ob of o; the last returns it to
 * its tier's policy. */
static void unpin_inplace(kv_store *s, kv_store *o, uint32_t ob)
{
    s->inplace_refs--;
    if (--o->refs[ob] == 0) {
        uint32_t t = o->inplace[ob] - 1u;
        o->inplace[ob] = 0;
        policy_hold(o, t, ob);
    }
}

int kv_store_pin(kv_store *s, const uint64_t *ids, uint32_t n, uint64_t now_ps,
                 kv_pin_result *res)
{
    kv_pin_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (s->is_pool)
        return SIM_EINVAL;
    if (!kv_store_can_pin(s, ids, n))
        return SIM_ENOMEM;
    kv_store *p = s->pool;
    kv_tier_stats before[MEMFAB_MAX_TIERS];
    if (p)
        for (uint32_t t = 0; t < p->ntiers; t++)
            before[t] = p->t[t].st;
    uint32_t nt = ntiers_all(s);
    uint32_t ep = ++s->cur_epoch;
    uint32_t lead = n; /* index of the first absent block */
    /* Phase 1: take the hits; protect the lower-tier copies of the leading
     * run. A block after the first absent one is recomputed by the request
     * (only the leading run skips prefill), so a copy of it in a lower tier
     * is of no use: it counts as a miss everywhere and phase 2 allocates
     * it fresh. One already in tier 0 is simply shared. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b, pb;
        int ft = find_tier(s, ids[i], &b, &pb);
        if (ft < 0 || (ft > 0 && i > lead)) {
            if (ft < 0 && lead == n)
                lead = i;
            for (uint32_t t = 0; t < nt; t++)
                tstats(s, t)->misses++;
            continue;
        }
        if (i < lead) {
            res->hit_blocks++;
            res->hit_by_tier[ft]++;
        }
        tstats(s, (uint32_t)ft)->hits++;
        for (int t = 0; t < ft; t++) /* a lower-tier hit missed every tier above */
            tstats(s, (uint32_t)t)->misses++;
        if (ft == 0) {
            access_block(s, 0, b, now_ps);
            if (s->refs[b]++ == 0) {
                s->pinned++;
                policy_release(s, 0, b);
            }
        } else if (pb != NONE) {
            pool_protect(p, pb);
        } else if (!s->busy[b]) {
            s->busy[b] = 1;
            for (uint32_t t = 1; t < s->ntiers; t++)
                if (s->present[b] & (1u << t))
                    policy_release(s, t, b);
        }
    }
    /* Phase 2: allocate the absent blocks, promote the lower-tier ones
     * (or use them in place). */
    int ip = inplace_on(s);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = lookup(s, ids[i]), pb = NONE;
        if (b != NONE && (s->present[b] & 1u)) {
            if (s->epoch[b] == ep) { /* a repeated id of this call */
                s->refs[b]++;
                access_block(s, 0, b, now_ps);
            }
            continue;
        }
        if (ip) {
            kv_store *o;
            uint32_t ob, ot;
            int ft = locate(s, ids[i], &o, &ob, &ot);
            if (ft > 0 && plan_direct(s, o, ob, ot, ft, i < lead)) {
                pin_inplace(s, o, ob, ot, now_ps, res);
                continue;
            }
        }
        int ft = -1;
        if (b != NONE && i > lead) { /* after the gap: recomputed, not promoted */
            ft = -1;
        } else if (b == NONE) {
            if (p && i < lead && (pb = lookup(p, ids[i])) != NONE)
                ft = (int)s->ntiers + lowest_tier(p->present[pb]); /* a pool hit */
            b = s->free_blocks[--s->nfree_blocks];
            s->bid[b] = ids[i];
            s->refs[b] = 0;
            s->present[b] = 0;
            s->busy[b] = 0;
            s->pos[b] = i;
            sim_idmap_put(&s->index, ids[i], b);
            if (s->on_index)
                s->on_index(s->index_ctx, ids[i], 1);
        } else {
            ft = lowest_tier(s->present[b]);
        }
        s->epoch[b] = ep;
        s->refs[b] = 1;
        s->pinned++;
        enter_tier(s, 0, b, now_ps, res); /* room guaranteed by can_pin */
        if (ft < 0) {
            res->new_blocks++;
        } else if (pb != NONE) {
            uint32_t pt = (uint32_t)ft - s->ntiers;
            res->promoted[ft]++;
            p->t[pt].st.blocks_out++;
            s->t[0].st.blocks_in++;
            p->busy[pb] = 0;
            for (uint32_t t = 0; t < p->ntiers; t++)
                if (p->present[pb] & (1u << t)) {
                    if (t == pt)
                        access_block(p, t, pb, now_ps);
                    policy_hold(p, t, pb);
                }
        } else {
            res->promoted[ft]++;
            s->t[ft].st.blocks_out++;
            s->t[0].st.blocks_in++;
            s->busy[b] = 0;
            for (uint32_t t = 1; t < s->ntiers; t++)
                if (s->present[b] & (1u << t)) {
                    if ((uint32_t)ft == t)
                        access_block(s, t, b, now_ps);
                    policy_hold(s, t, b);
                }
        }
    }
    if (p) /* this store's share of the pool's counters */
        for (uint32_t t = 0; t < p->ntiers; t++) {
            const kv_tier_stats *a = &before[t], *z = &p->t[t].st;
            s->pst[t].hits += z->hits - a->hits;
            s->pst[t].misses += z->misses - a->misses;
            s->pst[t].evictions += z->evictions - a->evictions;
            s->pst[t].blocks_in += z->blocks_in - a->blocks_in;
            s->pst[t].blocks_out += z->blocks_out - a->blocks_out;
            s->pst[t].direct += z->direct - a->direct;
            s->pst[t].invalidated += z->invalidated - a->invalidated;
        }
    return 0;
}

void kv_store_unpin(kv_store *s, const uint64_t *ids, uint32_t n, uint64_t now_ps)
{
    (void)now_ps;
    int ip = inplace_on(s);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = lookup(s, ids[i]);
        if (ip && (b == NONE || s->refs[b] == 0) && s->pool && s->pool->inplace) {
            kv_store *p = s->pool; /* an id s does not hold: pinned in place in the pool? */
            uint32_t pb = lookup(p, ids[i]);
            if (pb != NONE && p->refs[pb] && p->inplace[pb])
                unpin_inplace(s, p, pb);
            continue;
        }
        if (b == NONE || s->refs[b] == 0)
            continue; /* not pinned: a caller error, ignored */
        if (ip && s->inplace && s->inplace[b]) {
            unpin_inplace(s, s, b);
            continue;
        }
        if (--s->refs[b] == 0) {
            s->pinned--;
            policy_hold(s, 0, b);
        }
    }
}

/* ---- accessors ------------------------------------------------------------ */

uint64_t kv_store_free_blocks(const kv_store *s) { return s->t[0].cap - s->t[0].st.used; }
uint64_t kv_store_evictable_blocks(const kv_store *s) { return s->t[0].nheld; }
uint64_t kv_store_pinned_blocks(const kv_store *s) { return s->pinned; }
uint32_t kv_store_ntiers(const kv_store *s) { return ntiers_all(s); }

uint64_t kv_store_capacity(const kv_store *s, uint32_t tier)
{
    if (tier >= s->ntiers)
        return s->pool ? kv_store_capacity(s->pool, tier - s->ntiers) : 0;
    return s->t[tier].cap;
}

const char *kv_store_tier_name(const kv_store *s, uint32_t tier)
{
    if (tier >= s->ntiers)
        return s->pool ? kv_store_tier_name(s->pool, tier - s->ntiers) : NULL;
    return s->t[tier].name;
}

const kv_tier_stats *kv_store_stats(const kv_store *s, uint32_t tier)
{
    if (tier >= s->ntiers)
        return s->pool && tier < ntiers_all(s) ? &s->pst[tier - s->ntiers] : NULL;
    return &s->t[tier].st;
}

int kv_store_contains(const kv_store *s, uint64_t id, uint32_t tier)
{
    if (tier >= s->ntiers)
        return s->pool ? kv_store_contains(s->pool, id, tier - s->ntiers) : 0;
    uint32_t b = lookup(s, id);
    return b != NONE && (s->present[b] & (1u << tier));
}

uint32_t kv_store_slot(const kv_store *s, uint64_t id, uint32_t tier)
{
    if (tier >= s->ntiers)
        return NONE;
    uint32_t b = lookup(s, id);
    if (b == NONE || !(s->present[b] & (1u << tier)))
        return NONE;
    return *slot_of(s, b, tier);
}

kv_store *kv_store_new_pool(const kv_tier_cfg *tiers, uint32_t ntiers, int write_mode,
                            const memfab_evict_ops *policy, const memfab_params *params,
                            sim_err *err)
{
    kv_store *p = kv_store_new(tiers, ntiers, write_mode, policy, params, err);
    if (p) {
        p->is_pool = 1;
        p->base = 1;
    }
    return p;
}

int kv_store_attach_pool(kv_store *s, kv_store *pool, sim_err *err)
{
    if (s->ntiers != 1 || s->is_pool || s->pool || !pool || !pool->is_pool ||
        pool->mode != s->mode || 1 + pool->ntiers > MEMFAB_MAX_TIERS || s->t[0].st.used)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "kv store: a pool attaches to an empty one-tier store of the same "
                           "write mode, %d tiers in all at most", MEMFAB_MAX_TIERS);
    s->pool = pool;
    s->reader = pool->nreaders < 63 ? pool->nreaders : 63;
    pool->nreaders++;
    return 0;
}

/* The in-place state of the store holding tier t (caller's numbering). */
static int inplace_alloc(kv_store *o)
{
    if (o->inplace)
        return 0;
    o->inplace = sim_calloc(o->nmax, 1);
    o->sh_tier = sim_calloc(o->nmax, 1);
    o->sharers = sim_calloc(o->nmax, sizeof *o->sharers);
    if (o->inplace && o->sh_tier && o->sharers)
        return 0;
    sim_free(o->inplace);
    sim_free(o->sh_tier);
    sim_free(o->sharers);
    o->inplace = o->sh_tier = NULL;
    o->sharers = NULL;
    return SIM_ENOMEM;
}

int kv_store_set_access(kv_store *s, uint32_t tier, int access, uint32_t hot_hits,
                        sim_err *err)
{
    if (s->is_pool || tier < 1 || tier >= ntiers_all(s) || access < KV_ACCESS_COPY ||
        access > KV_ACCESS_AUTO || hot_hits < 1)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "kv store: access %d to tier %u (want copy, direct or auto to a "
                           "lower tier 1..%u, hot_hits >= 1)",
                           access, (unsigned)tier, (unsigned)ntiers_all(s) - 1);
    s->access[tier] = (uint8_t)access;
    s->hot_hits = hot_hits;
    if (access == KV_ACCESS_COPY)
        return 0;
    s->direct_any = 1;
    if (inplace_alloc(tier < s->ntiers ? s : s->pool))
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "kv store: out of memory");
    return 0;
}

void kv_store_set_inval_hook(kv_store *s, kv_inval_fn fn, void *ctx)
{
    s->inval = fn;
    s->inval_ctx = ctx;
}

void kv_store_set_index_hook(kv_store *s, kv_index_fn fn, void *ctx)
{
    s->on_index = fn;
    s->index_ctx = ctx;
}

uint32_t kv_store_reader(const kv_store *s) { return s->reader; }

uint64_t kv_store_inplace_refs(const kv_store *s) { return s->inplace_refs; }

uint32_t kv_store_inplace_tier(const kv_store *s, uint64_t id)
{
    uint32_t b = lookup(s, id);
    if (b != NONE)
        return s->inplace && s->refs[b] && s->inplace[b] ? s->inplace[b] - 1u : 0;
    const kv_store *p = s->pool;
    if (!p || !p->inplace)
        return 0;
    uint32_t pb = lookup(p, id);
    return pb != NONE && p->refs[pb] && p->inplace[pb] ? s->ntiers + p->inplace[pb] - 1u : 0;
}

uint32_t kv_store_refs(const kv_store *s, uint64_t id)
{
    uint32_t b = lookup(s, id);
    return b == NONE ? 0 : s->refs[b];
}

/* ---- invariants ----------------------------------------------------------- */

int kv_store_check(const kv_store *s)
{
    uint64_t live = 0, pinned = 0, inplace_refs = 0;
    for (uint32_t t = 0; t < s->ntiers; t++) {
        const ktier *tr = &s->t[t];
        uint32_t used = 0, held = 0;
        if (tr->st.used > tr->cap || tr->nfree != tr->cap - tr->st.used)
            return 0;
        for (uint32_t sl = 0; sl < tr->cap; sl++) {
            uint32_t b = tr->slot_block[sl];
            if (b == NONE) {
                if (tr->held[sl])
                    return 0;
                continue;
            }
            used++;
            if (b >= s->nmax || !(s->present[b] & (1u << t)) || *slot_of(s, b, t) != sl)
                return 0;
            int in_place = s->inplace && s->refs[b] && s->inplace[b] == t + 1;
            int want_held = t == 0 && !s->is_pool ? s->refs[b] == 0 : !in_place;
            if (tr->held[sl] != want_held || s->busy[b])
                return 0;
            if (tr->info[sl].id != s->bid[b])
                return 0;
            held += tr->held[sl];
        }
        if (used != tr->st.used || held != tr->nheld || tr->st.peak < used)
            return 0;
    }
    for (uint32_t b = 0; b < s->nmax; b++) {
        if (!s->present[b]) {
            if (s->refs[b])
                return 0;
            continue;
        }
        live++;
        if (s->present[b] >> s->ntiers)
            return 0;
        uint8_t ip = s->inplace ? s->inplace[b] : 0;
        if (s->refs[b] && ip) { /* pinned in place: there, and not in tier 0 too */
            inplace_refs += s->refs[b];
            if (ip > s->ntiers || !(s->present[b] & (1u << (ip - 1))) ||
                (!s->is_pool && (s->present[b] & 1u)))
                return 0;
        } else if (s->refs[b]) {
            pinned++;
            if (s->is_pool || !(s->present[b] & 1u))
                return 0;
        } else if (ip) {
            return 0; /* a stale in-place mark */
        }
        /* the readers of a block are recorded for a tier it is in */
        if (s->sh_tier && s->sh_tier[b] &&
            (s->sh_tier[b] > s->ntiers || !(s->present[b] & (1u << (s->sh_tier[b] - 1)))))
            return 0;
        if (lookup(s, s->bid[b]) != b)
            return 0;
        for (uint32_t t = 0; t < s->ntiers; t++)
            if (!!(s->present[b] & (1u << t)) != (*slot_of(s, b, t) != NONE))
                return 0;
    }
    if (live != s->index.n || live + s->nfree_blocks != s->nmax || pinned != s->pinned)
        return 0;
    if (!s->pool && !s->is_pool && inplace_refs != s->inplace_refs)
        return 0;
    return 1;
}
