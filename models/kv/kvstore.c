/*
 * kvstore.c - the KV block store: prefix-shared, reference-counted KV
 * blocks in a hierarchy of capacity tiers (see kvstore.h for the model).
 *
 * Data structure. Memory is proportional to the blocks cached, never to
 * the configured capacity (a 1000 TiB tier is 500 M blocks of 2 MiB; the
 * tables sized from it took 2.1 GB before a single block was cached). A
 * block is one entry of a block slab (parallel arrays; a block present in
 * several tiers uses one entry), found by id through an open-addressing
 * index of entry numbers (linear probing, the key read from the entry,
 * deletion by Knuth's Algorithm R, 3 x 2^k cells at load at most 2/3). Each tier has its
 * own slot arrays: slot s of tier t holds one block, and s is the handle
 * the tier's eviction policy sees. Free slots and free entries are LIFO
 * lists threaded through the free elements, in front of the never-used
 * ones, which are taken in order: exactly the order of the stacks of every
 * slot and entry that the preallocated tables had, so slot numbers (which
 * managed KV turns into addresses) and every result are unchanged.
 *
 * Growth. kv_store_reserve (called by every pin, and by callers that must
 * tell "out of host memory" from "no room") makes the slab, the index and
 * every tier's slots (with the built-in policy's per-handle arrays,
 * kv_evict_reserve) big enough for a pin of n blocks before anything
 * changes: a pin allocates at most n entries and adds at most n blocks to
 * each tier. Tables grow to at least double their size (the index by
 * rehashing into twice the cells), so growth is amortised O(1) per block
 * and is the only allocation: once the working set is reached, pins,
 * evictions and lookups allocate nothing. A tier's tables never grow past
 * its capacity. A growth that fails changes nothing and is reported.
 *
 * Per cached block (one tier; tests/check_kvstore.c test_bytes_per_block):
 * entry 18 B + 4 B per tier (busy, moving and the pin call's mark share one byte),
 * index 6-12 B, tier slot 12 B (the block and its access count, whose top
 * bit says the policy holds the slot; the rest of memfab_block_info is
 * derived when a policy asks: id and position from the entry, costs from
 * the store, and the entry and last-access times, which no built-in policy
 * reads, are kept for plug-in policies only), so 40 B with full tables, up
 * to twice that right after a doubling, plus the policy: lru 8 B, fifo and
 * s3fifo 12 B, lfu and cost 24 B (kv_evict.c): 48-64 B per cached block
 * (64-114 B with the times kept for every policy and 8-byte heap handles;
 * 73 B with LRU with a byte per flag, a 32-bit epoch and the index at load
 * 1/2; 133 B per configured block before). Plug-in policies get the
 * times (16 B) and a memfab_block_info per slot for their victim lookups
 * (48 B). s3fifo adds its ghost once the tier is full (13 B per ghost
 * entry, 0.9 x capacity entries by default). Use in place
 * (below) adds 10 B per entry of the store owning the tier (inplace,
 * sh_tier, sharers): allocated by kv_store_set_access at the slab's size
 * then, grown with the slab by grow_blocks, reset when an entry is freed.
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
 *   - with use in place (kv_store_set_access), a block pinned in place is
 *     present in that lower tier, not in tier 0, and out of that tier's
 *     policy; a free entry carries no in-place mark and no sharers.
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

#include <stdio.h>
#include <string.h>

#include "sim/hash.h"
#include "sim/mem.h"

#define NONE UINT32_MAX
/* Most block entries (and slots of one tier) in use at once: entry and slot
 * numbers are 32-bit and the index table (twice as many cells, a power of
 * two) must stay below 2^32 cells. 2^30 blocks of even 64 KiB are 64 TiB
 * of KV cached at once, tens of GB of host memory for the tables. */
#define MAX_LIVE (UINT32_C(1) << 30)
#define MIN_ALLOC 16u

/* What a tier slot remembers of its block (the rest of memfab_block_info is
 * derived: the id and position from the block entry, the costs from the
 * store's): its access count, and for plug-in policies only (no built-in
 * reads them) the times it entered the tier and was last accessed. In a
 * free slot, acc links the free list. */
typedef struct ktimes {
    uint64_t inserted_ps;      /* when it entered this tier */
    uint64_t last_access_ps;   /* last hit or insertion */
} ktimes;

/* A slot held by its tier's policy: the top bit of its access count (a
 * count that would need 2^63 hits to reach it; a free slot's link is below
 * 2^32, and a free slot is never held). */
#define HELD (UINT64_C(1) << 63)
#define IS_HELD(tr, sl) ((int)((tr)->acc[sl] >> 63))

typedef struct ktier {
    /* configuration */
    char *name;                /* results name */
    uint64_t cap;              /* capacity in blocks */
    double reload_s;           /* seconds to reload a block from tier t+1 */
    void *pol;                 /* eviction policy state */
    struct kv_store *s;        /* owner (for the policy's info callback) */
    uint32_t index;            /* tier number in s */
    /* state, per slot [0, nalloc); slots [0, hw) have been handed out */
    uint32_t *slot_block;      /* block entry in each slot, NONE when free */
    uint64_t *acc;             /* per slot: hits + 1, | HELD when the policy holds it;
                                * the next free slot when free */
    ktimes *times;             /* plug-in policies only: per-slot times (NULL for built-ins) */
    memfab_block_info *view;   /* plug-in policies only: facts handed out by info_cb */
    uint32_t nalloc;           /* slots allocated */
    uint32_t hw;               /* slots ever handed out (high-water mark) */
    uint32_t free_head;        /* most recently freed slot below hw, NONE */
    uint32_t nheld;            /* slots held by the policy */
    memfab_block_info scratch; /* facts handed to insert */
    kv_tier_stats st;          /* counters; st.used is the occupancy */
} ktier;

struct kv_store {
    /* configuration */
    uint32_t ntiers;           /* tiers in use */
    int mode;                  /* KV_WRITE_BACK or KV_WRITE_THROUGH */
    const memfab_evict_ops *ops; /* policy of every tier */
    int builtin;               /* ops is a built-in policy (grows with kv_evict_reserve) */
    int reads_info;            /* ops's insert reads its memfab_block_info */
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
    void (*on_use)(void *ctx); /* use hook: tier 0's occupancy changed (or NULL) */
    void (*on_held)(void *ctx); /* tier 0's evictable count changed (or NULL) */
    void *held_ctx;
    void *use_ctx;
    /* state, per block entry [0, nballoc); entries [0, bhw) have been handed out */
    uint64_t *bid;             /* block id */
    uint32_t *refs;            /* pins by running requests */
    uint8_t *present;          /* bit t: present in tier t; 0 = free entry */
    uint8_t *flags;            /* F_BUSY, F_MOVING, F_MARK */
    uint32_t *pos;             /* position in the prefix when first stored (free: next free) */
    uint32_t *slot;            /* [b * ntiers + t]: slot in tier t or NONE */
    /* use in place: NULL until kv_store_set_access enables it for a tier
     * of this store, then [0, nballoc) like the arrays above (grow_blocks) */
    uint8_t *inplace;          /* pinned in place in tier inplace - 1 (0: not) */
    uint8_t *sh_tier;          /* sharers were recorded in tier sh_tier - 1 (0: none) */
    uint64_t *sharers;         /* reader bits of the pins that used it in place there */
    uint64_t inplace_refs;     /* references this store's pins hold in place */
    uint32_t nballoc;          /* entries allocated */
    uint32_t bhw;              /* entries ever handed out */
    uint32_t bfree;            /* most recently freed entry below bhw, NONE */
    uint32_t nlive;            /* entries in use (= indexed) */
    /* the id index: open addressing, linear probing, cells hold entry
     * numbers (NONE empty) and the key is bid[cell] */
    uint32_t *tab;
    uint32_t tcells;           /* cells (0 with no table): 3 x 2^k, load at most 2/3 */
    uint64_t pinned;           /* blocks with refs > 0 */
    uint32_t *marked;          /* the entries the running pin call has marked (F_MARK) */
    uint32_t capmarked;        /* room in marked (grows to the longest call's ids) */
    char err[160];             /* what the last failed growth was */
};

/* Per-entry flags: protected during a pin (busy), being demoted and not to
 * be freed meanwhile (moving), allocated or promoted by the pin call that
 * is running (mark: set only inside kv_store_pin, which unmarks its
 * entries before it returns, so a repeated id of one call is recognised
 * in O(1) and no sweep over every entry is ever needed). */
#define F_BUSY 1u
#define F_MOVING 2u
#define F_MARK 4u
#define MARK_MIN 64u /* marked entries room at creation (grows with the calls) */
#define BUSY(s, b) ((s)->flags[b] & F_BUSY)
#define MOVING(s, b) ((s)->flags[b] & F_MOVING)

static void set_flag(kv_store *s, uint32_t b, unsigned f, int on)
{
    s->flags[b] = (uint8_t)(on ? s->flags[b] | f : s->flags[b] & ~f);
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

/* The facts of the block in slot sl of tier tr, as a policy sees them. */
static void fill_info(const ktier *tr, uint32_t sl, memfab_block_info *in)
{
    const kv_store *s = tr->s;
    uint32_t b = tr->slot_block[sl];
    in->id = s->bid[b];
    in->inserted_ps = tr->times ? tr->times[sl].inserted_ps : 0;
    in->last_access_ps = tr->times ? tr->times[sl].last_access_ps : 0;
    in->accesses = tr->acc[sl] & ~HELD;
    in->recompute_s = s->recompute_s + s->recompute_pos_s * s->pos[b];
    in->reload_s = tr->index + 1 < ntiers_all(s) ? tr->reload_s : in->recompute_s;
}

/* The victim callback: one memfab_block_info per slot (view, allocated
 * with the slots for plug-in policies), so every pointer handed out during
 * one victim() call stays valid and distinct. The built-in policies never
 * call it; for them view is NULL and a scratch serves. */
static const memfab_block_info *info_cb(void *ctx, uint32_t slot)
{
    ktier *tr = ctx;
    if (slot >= tr->hw || tr->slot_block[slot] == NONE)
        return NULL;
    memfab_block_info *in = tr->view ? &tr->view[slot] : &tr->scratch;
    fill_info(tr, slot, in);
    return in;
}

/* ---- growth ----------------------------------------------------------------
 * The only allocations after kv_store_new. Each table grows geometrically
 * (at least doubling) to cover what a pin may need, so the cost is
 * amortised O(1) per block and a run in its steady state allocates
 * nothing. */


/* Next size for a table of `have` elements that must hold `need`, at most
 * `limit`: at least double, at least MIN_ALLOC. */
static uint32_t next_size(uint32_t have, uint64_t need, uint64_t limit)
{
    uint64_t n = 2 * (uint64_t)have;
    if (n < need)
        n = need;
    if (n < MIN_ALLOC)
        n = MIN_ALLOC;
    return (uint32_t)(n < limit ? n : limit);
}

static int grow_fail(kv_store *s, const char *what, uint64_t n)
{
    snprintf(s->err, sizeof s->err, "kv store: out of host memory growing %s to %llu blocks", what,
             (unsigned long long)n);
    return SIM_ENOMEM;
}

static int grow_tier(kv_store *s, ktier *tr, uint64_t need)
{
    uint64_t limit = tr->cap < MAX_LIVE ? tr->cap : MAX_LIVE;
    if (need > limit) {
        snprintf(s->err, sizeof s->err,
                 "kv store: tier '%s' would cache more than %u blocks at once", tr->name,
                 (unsigned)MAX_LIVE);
        return SIM_ENOMEM;
    }
    uint32_t n = next_size(tr->nalloc, need, limit), o = tr->nalloc;
    if (sim_grow_array(&tr->slot_block, sizeof *tr->slot_block, o, n, 0xff) ||
        sim_grow_array(&tr->acc, sizeof *tr->acc, o, n, 0) ||
        (!s->builtin && sim_grow_array(&tr->times, sizeof *tr->times, o, n, 0)) ||
        (!s->builtin && sim_grow_array(&tr->view, sizeof *tr->view, o, n, 0)) ||
        (s->builtin && kv_evict_reserve(s->ops, tr->pol, n)))
        return grow_fail(s, tr->name, n);
    tr->nalloc = n;
    return 0;
}

/* Home cell of id: the high half of its hash scaled to the cell count
 * (Lemire's multiply-shift range reduction; the table is 3 x 2^k cells). */
static uint32_t idx_home(const kv_store *s, uint64_t id)
{
    return (uint32_t)(((sim_mix64(id) >> 32) * (uint64_t)s->tcells) >> 32);
}

static uint32_t idx_next(const kv_store *s, uint32_t i)
{
    return i + 1 == s->tcells ? 0 : i + 1;
}

/* Insert entry b (its id not indexed yet) into the index; room is there. */
static void idx_put(kv_store *s, uint32_t b)
{
    uint32_t i = idx_home(s, s->bid[b]);
    while (s->tab[i] != NONE)
        i = idx_next(s, i);
    s->tab[i] = b;
}

/* The index keeps its load at most 2/3 (at most 5 probes expected for a
 * miss, 2 for a hit, with linear probing: Knuth, TAOCP vol. 3, 6.4). */
static int grow_index(kv_store *s, uint64_t need)
{
    uint64_t cells = s->tcells ? 2 * (uint64_t)s->tcells : 3 * MIN_ALLOC;
    while (2 * cells < 3 * need)
        cells *= 2;
    uint32_t *old = s->tab;
    uint64_t ocells = old ? s->tcells : 0;
    uint32_t *tab = sim_alloc((size_t)cells * sizeof *tab);
    if (!tab)
        return grow_fail(s, "the block index", need);
    memset(tab, 0xff, (size_t)cells * sizeof *tab);
    s->tab = tab;
    s->tcells = (uint32_t)cells;
    for (uint64_t i = 0; i < ocells; i++)
        if (old[i] != NONE)
            idx_put(s, old[i]);
    sim_free(old);
    return 0;
}

static int grow_blocks(kv_store *s, uint64_t need)
{
    if (need > MAX_LIVE) {
        snprintf(s->err, sizeof s->err, "kv store: more than %u blocks cached at once",
                 (unsigned)MAX_LIVE);
        return SIM_ENOMEM;
    }
    uint32_t n = next_size(s->nballoc, need, MAX_LIVE), o = s->nballoc;
    if (sim_grow_array(&s->bid, sizeof *s->bid, o, n, 0) ||
        sim_grow_array(&s->refs, sizeof *s->refs, o, n, 0) ||
        sim_grow_array(&s->present, 1, o, n, 0) || sim_grow_array(&s->flags, 1, o, n, 0) ||
        sim_grow_array(&s->pos, sizeof *s->pos, o, n, 0) ||
        sim_grow_array(&s->slot, s->ntiers * sizeof *s->slot, o, n, 0xff) ||
        (s->inplace && (sim_grow_array(&s->inplace, 1, o, n, 0) ||
                        sim_grow_array(&s->sh_tier, 1, o, n, 0) ||
                        sim_grow_array(&s->sharers, sizeof *s->sharers, o, n, 0))))
        return grow_fail(s, "the block table", n);
    s->nballoc = n;
    return 0;
}

/* Make room in s's own tables for a pin of up to n blocks: it allocates at
 * most n entries, and each tier gains at most n blocks (each block entering
 * tier t evicts at most one, which enters t+1 at most once). */
static int reserve_own(kv_store *s, uint32_t n)
{
    uint64_t need = (uint64_t)s->nlive + n;
    if (need > s->nballoc && grow_blocks(s, need))
        return SIM_ENOMEM;
    if ((!s->tab || 3 * need > 2 * (uint64_t)s->tcells) && grow_index(s, need))
        return SIM_ENOMEM;
    for (uint32_t t = 0; t < s->ntiers; t++) {
        ktier *tr = &s->t[t];
        uint64_t want = tr->st.used + n < tr->cap ? tr->st.used + n : tr->cap;
        if (want > tr->nalloc && grow_tier(s, tr, want))
            return SIM_ENOMEM;
    }
    return 0;
}

int kv_store_reserve(kv_store *s, uint32_t n, sim_err *err)
{
    int rc = reserve_own(s, n);
    const char *why = s->err;
    if (!rc && s->pool) { /* a pin adds at most n blocks to each pool tier too */
        rc = reserve_own(s->pool, n);
        why = s->pool->err;
    }
    if (rc)
        sim_err_set(err, rc, NULL, 0, 0, "%s", why);
    return rc;
}

/* Take a free slot of tier tr (the most recently freed first, then fresh
 * ones in order, as a stack holding every slot would give); room reserved. */
static uint32_t take_slot(ktier *tr)
{
    uint32_t sl = tr->free_head;
    if (sl != NONE)
        tr->free_head = (uint32_t)tr->acc[sl];
    else
        sl = tr->hw++;
    return sl;
}

static void put_slot(ktier *tr, uint32_t sl)
{
    tr->slot_block[sl] = NONE;
    tr->acc[sl] = tr->free_head;
    tr->free_head = sl;
}

/* A free block entry for id (indexed, no tiers, no refs); room reserved. */
static uint32_t take_block(kv_store *s, uint64_t id, uint32_t pos)
{
    uint32_t b = s->bfree;
    if (b != NONE)
        s->bfree = s->pos[b];
    else
        b = s->bhw++;
    s->bid[b] = id;
    s->refs[b] = 0;
    s->present[b] = 0;
    s->flags[b] = 0;
    s->pos[b] = pos;
    s->nlive++;
    idx_put(s, b);
    if (s->on_index)
        s->on_index(s->index_ctx, id, 1);
    return b;
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
    for (uint32_t t = 0; t < ntiers; t++)
        if (tiers[t].capacity == 0) {
            sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                        "kv store: tier %u ('%s') capacity 0 blocks (want at least 1)", (unsigned)t,
                        tiers[t].name ? tiers[t].name : "");
            return NULL;
        }
    kv_store *s = sim_calloc(1, sizeof *s);
    if (!s) {
        sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "kv store: out of memory");
        return NULL;
    }
    s->ntiers = ntiers;
    s->mode = write_mode;
    s->ops = policy;
    s->builtin = kv_evict_builtin(policy);
    s->reads_info = kv_evict_reads_info(policy);
    s->bfree = NONE;
    s->marked = sim_alloc(MARK_MIN * sizeof *s->marked);
    if (!s->marked) {
        kv_store_free(s);
        sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "kv store: out of memory");
        return NULL;
    }
    s->capmarked = MARK_MIN;
    for (uint32_t t = 0; t < ntiers; t++) {
        ktier *tr = &s->t[t];
        tr->s = s;
        tr->index = t;
        tr->cap = tiers[t].capacity;
        tr->free_head = NONE;
        tr->name = sim_strdup(tiers[t].name ? tiers[t].name : "");
        if (!tr->name) {
            kv_store_free(s);
            sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "kv store: out of memory");
            return NULL;
        }
        /* Handles are below the most blocks the tier holds at once, which
         * never exceeds MAX_LIVE: a larger capacity is told as MAX_LIVE. */
        tr->pol = policy->create((uint32_t)(tr->cap < MAX_LIVE ? tr->cap : MAX_LIVE), params);
        if (!tr->pol) {
            sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                        "kv store: eviction policy '%s' failed to start for tier '%s' of %llu"
                        " blocks (bad parameters, or out of memory for state it sizes from the"
                        " capacity)",
                        policy->name, tr->name, (unsigned long long)tr->cap);
            kv_store_free(s);
            return NULL;
        }
    }
    return s;
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
        sim_free(tr->acc);
        sim_free(tr->times);
        sim_free(tr->view);
    }
    sim_free(s->bid);
    sim_free(s->refs);
    sim_free(s->present);
    sim_free(s->flags);
    sim_free(s->pos);
    sim_free(s->slot);
    sim_free(s->inplace);
    sim_free(s->sh_tier);
    sim_free(s->sharers);
    sim_free(s->tab);
    sim_free(s->marked);
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
    if (!s->tab)
        return NONE;
    for (uint32_t i = idx_home(s, id);; i = idx_next(s, i)) {
        uint32_t b = s->tab[i];
        if (b == NONE || s->bid[b] == id)
            return b;
    }
}

/* Remove entry b from the index: Knuth's Algorithm R (TAOCP vol. 3, 6.4)
 * shifts the rest of the probe run back, so there are no tombstones. */
static void idx_del(kv_store *s, uint32_t b)
{
    uint32_t i = idx_home(s, s->bid[b]);
    while (s->tab[i] != b)
        i = idx_next(s, i);
    for (uint32_t j = i;;) {
        j = idx_next(s, j);
        uint32_t e = s->tab[j];
        if (e == NONE)
            break;
        uint32_t k = idx_home(s, s->bid[e]);
        /* Move j back to i unless its home k lies cyclically in (i, j]. */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            s->tab[i] = e;
            i = j;
        }
    }
    s->tab[i] = NONE;
}

static uint32_t *slot_of(const kv_store *s, uint32_t b, uint32_t t)
{
    return &s->slot[(size_t)b * s->ntiers + t];
}

static void policy_hold(kv_store *s, uint32_t t, uint32_t b)
{
    ktier *tr = &s->t[t];
    uint32_t sl = *slot_of(s, b, t);
    if (IS_HELD(tr, sl))
        return;
    tr->acc[sl] |= HELD;
    tr->nheld++;
    if (s->on_held && t == 0) /* kv_store_evictable_blocks changed */
        s->on_held(s->held_ctx);
    if (s->reads_info)
        fill_info(tr, sl, &tr->scratch);
    s->ops->insert(tr->pol, sl, &tr->scratch);
}

static void policy_release(kv_store *s, uint32_t t, uint32_t b)
{
    ktier *tr = &s->t[t];
    uint32_t sl = *slot_of(s, b, t);
    if (!IS_HELD(tr, sl))
        return;
    tr->acc[sl] &= ~HELD;
    tr->nheld--;
    if (s->on_held && t == 0)
        s->on_held(s->held_ctx);
    s->ops->remove(tr->pol, sl);
}

static void access_block(kv_store *s, uint32_t t, uint32_t b, uint64_t now)
{
    ktier *tr = &s->t[t];
    uint32_t sl = *slot_of(s, b, t);
    tr->acc[sl]++;
    if (tr->times)
        tr->times[sl].last_access_ps = now;
}

static void free_block(kv_store *s, uint32_t b, kv_pin_result *res)
{
    if (s->sh_tier)
        s->sh_tier[b] = 0, s->sharers[b] = 0, s->inplace[b] = 0;
    idx_del(s, b);
    if (s->on_index)
        s->on_index(s->index_ctx, s->bid[b], 0);
    s->pos[b] = s->bfree;
    s->bfree = b;
    s->nlive--;
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
    if (sl >= tr->hw || !IS_HELD(tr, sl)) /* a policy returning a block it does not hold */
        return -1;
    uint32_t b = tr->slot_block[sl];
    policy_release(s, t, b);
    put_slot(tr, sl);
    *slot_of(s, b, t) = NONE;
    s->present[b] &= (uint8_t)~(1u << t);
    tr->st.used--;
    tr->st.evictions++;
    if (t == 0 && s->on_use)
        s->on_use(s->use_ctx);
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
        set_flag(s, b, F_MOVING, 1);
        int rc = enter_tier(s, t + 1, b, now, res);
        set_flag(s, b, F_MOVING, 0);
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
    if (!s->present[b] && !s->refs[b] && !MOVING(s, b))
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
    uint32_t sl = take_slot(tr);
    tr->slot_block[sl] = b;
    *slot_of(s, b, t) = sl;
    s->present[b] |= (uint8_t)(1u << t);
    if (++tr->st.used > tr->st.peak)
        tr->st.peak = tr->st.used;
    if (t == 0 && s->on_use)
        s->on_use(s->use_ctx);
    tr->acc[sl] = 1;
    if (tr->times)
        tr->times[sl].inserted_ps = tr->times[sl].last_access_ps = now;
    if ((t > 0 || s->is_pool) && !BUSY(s, b))
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
    if (pb == NONE)
        pb = take_block(p, s->bid[b], s->pos[b]);
    set_flag(p, pb, F_MOVING, 1);
    int rc = enter_tier(p, 0, pb, now, res);
    set_flag(p, pb, F_MOVING, 0);
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
    return (o->t[ot].acc[*slot_of(o, ob, ot)] & ~HELD) < s->hot_hits;
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
    if (BUSY(p, pb))
        return;
    set_flag(p, pb, F_BUSY, 1);
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
    set_flag(o, ob, F_BUSY, 0);
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
    if (!kv_store_can_pin(s, ids, n) || kv_store_reserve(s, n, NULL))
        return SIM_ENOMEM;
    kv_store *p = s->pool;
    kv_tier_stats before[MEMFAB_MAX_TIERS];
    if (p)
        for (uint32_t t = 0; t < p->ntiers; t++)
            before[t] = p->t[t].st;
    if (n > s->capmarked) { /* before anything changes: a failure leaves the store as it was */
        uint32_t cap = n > 2 * s->capmarked ? n : 2 * s->capmarked;
        uint32_t *m = sim_realloc(s->marked, (size_t)cap * sizeof *m);
        if (!m)
            return SIM_ENOMEM;
        s->marked = m;
        s->capmarked = cap;
    }
    uint32_t nt = ntiers_all(s), nmarked = 0;
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
        } else if (!BUSY(s, b)) {
            set_flag(s, b, F_BUSY, 1);
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
            if (s->flags[b] & F_MARK) { /* a repeated id of this call */
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
            b = take_block(s, ids[i], i);
        } else {
            ft = lowest_tier(s->present[b]);
        }
        s->flags[b] |= F_MARK;
        s->marked[nmarked++] = b;
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
            set_flag(p, pb, F_BUSY, 0);
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
            set_flag(s, b, F_BUSY, 0);
            for (uint32_t t = 1; t < s->ntiers; t++)
                if (s->present[b] & (1u << t)) {
                    if ((uint32_t)ft == t)
                        access_block(s, t, b, now_ps);
                    policy_hold(s, t, b);
                }
        }
    }
    for (uint32_t k = 0; k < nmarked; k++)
        s->flags[s->marked[k]] &= (uint8_t)~F_MARK;
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

/* The in-place state of the store holding tier t (caller's numbering):
 * one element per block entry allocated so far (at least MIN_ALLOC, so the
 * pointers are never NULL once enabled: `inplace` non-NULL is the switch),
 * grown by grow_blocks with the other per-entry arrays from then on. */
static int inplace_alloc(kv_store *o)
{
    if (o->inplace)
        return 0;
    if (!o->nballoc && grow_blocks(o, MIN_ALLOC))
        return SIM_ENOMEM;
    o->inplace = sim_calloc(o->nballoc, 1);
    o->sh_tier = sim_calloc(o->nballoc, 1);
    o->sharers = sim_calloc(o->nballoc, sizeof *o->sharers);
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

void kv_store_set_evictable_hook(kv_store *s, void (*fn)(void *ctx), void *ctx)
{
    s->on_held = fn;
    s->held_ctx = ctx;
}

void kv_store_set_use_hook(kv_store *s, void (*fn)(void *ctx), void *ctx)
{
    s->on_use = fn;
    s->use_ctx = ctx;
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
        uint32_t used = 0, held = 0, nfree = 0;
        if (tr->st.used > tr->cap || tr->hw > tr->nalloc || tr->nalloc > tr->cap)
            return 0;
        for (uint32_t sl = 0; sl < tr->hw; sl++) {
            uint32_t b = tr->slot_block[sl];
            if (b == NONE) {
                if (IS_HELD(tr, sl))
                    return 0;
                continue;
            }
            used++;
            if (b >= s->bhw || !(s->present[b] & (1u << t)) || *slot_of(s, b, t) != sl)
                return 0;
            int in_place = s->inplace && s->refs[b] && s->inplace[b] == t + 1;
            int want_held = t == 0 && !s->is_pool ? s->refs[b] == 0 : !in_place;
            if (IS_HELD(tr, sl) != want_held || BUSY(s, b))
                return 0;
            held += (uint32_t)IS_HELD(tr, sl);
        }
        /* the free list holds exactly the free slots below hw, each once */
        for (uint32_t sl = tr->free_head; sl != NONE; sl = (uint32_t)tr->acc[sl])
            if (sl >= tr->hw || tr->slot_block[sl] != NONE || ++nfree > tr->hw)
                return 0;
        if (used != tr->st.used || held != tr->nheld || tr->st.peak < used ||
            used + nfree != tr->hw)
            return 0;
    }
    for (uint32_t b = 0; b < s->bhw; b++) {
        if (!s->present[b]) { /* a free entry: no references, in-place state reset */
            if (s->refs[b] || (s->inplace && (s->inplace[b] || s->sh_tier[b] || s->sharers[b])))
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
    uint64_t nfree = 0, cells = 0;
    for (uint32_t b = s->bfree; b != NONE; b = s->pos[b])
        if (b >= s->bhw || s->present[b] || ++nfree > s->bhw)
            return 0;
    for (uint64_t i = 0; s->tab && i < s->tcells; i++)
        if (s->tab[i] != NONE) {
            if (s->tab[i] >= s->bhw || !s->present[s->tab[i]])
                return 0;
            cells++;
        }
    if (live != s->nlive || cells != live || live + nfree != s->bhw || s->bhw > s->nballoc ||
        pinned != s->pinned || (s->tab && 3 * live > 2 * (uint64_t)s->tcells))
        return 0;
    if (!s->pool && !s->is_pool && inplace_refs != s->inplace_refs)
        return 0;
    return 1;
}
