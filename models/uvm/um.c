/*
 * um.c - CUDA unified memory (UVM) page migration (see um.h).
 *
 * What is modelled. A managed allocation of `footprint` bytes starts in
 * host memory. It is split in 4 KiB pages grouped in 2 MiB VA blocks, as
 * in the open nvidia-uvm driver (kernel-open/nvidia-uvm). A GPU runs
 * `kernels` kernels of `accesses` page accesses each, drawn from a pattern
 * generator (sequential, strided, random, kvcache), at `access_rate` page
 * accesses per second while it is not stalled.
 *
 *   - An access to a GPU-resident page is a hit. An access to any other
 *     page is a fault: the page enters the fault buffer (a page already in
 *     it is a duplicate fault and is not entered twice). The GPU keeps
 *     issuing accesses (other warps) until the buffer holds `batch_count`
 *     faults (uvm_perf_fault_batch_count, 256) or the kernel's accesses
 *     end; then it stalls and the driver services the batch.
 *   - Servicing a batch costs batch_cost + faults x fault_cost of driver
 *     time (fetch, preprocess, page-table updates, replay; Allen and Ge,
 *     "In-Depth Analyses of Unified Virtual Memory System for GPU
 *     Accelerated Computing", SC 2021, measure these costs in the tens of
 *     microseconds per batch; the defaults are of that order and are
 *     parameters, to be calibrated per system). Then the faulted VA blocks
 *     are serviced one by one in address order: a block without GPU memory
 *     gets a 2 MiB chunk (evicting the least recently used block when all
 *     `capacity` chunks are held, its write-back completing first), the
 *     tree prefetcher widens the faulted pages, and the block's pages move
 *     in one fabric transfer host -> GPU (path DMA). When every transfer
 *     of the batch has completed the faulting accesses replay and the GPU
 *     resumes. Stall time runs from the stall to the replay.
 *   - Tree prefetcher (uvm_perf_prefetch.c, compute_prefetch_region): a
 *     binary tree over the block with 64 KiB leaves (16 pages; the driver's
 *     page-level leaves after grow_fault_granularity widens faults to the
 *     64 KiB big page). A node's count is the number of its pages that are
 *     resident or faulted, a faulted leaf counting as full. For each
 *     faulted leaf the tree is walked bottom-up and the prefetch region is
 *     the largest node whose count x 100 > pages x threshold (51). Pages
 *     of the regions that are neither resident nor faulted are prefetched.
 *   - Eviction writes back every resident page of the victim (`writeback:
 *     all`, what UVM does: migration moves the only copy) or only the pages
 *     the GPU wrote (`writeback: dirty`, read-duplicated data) as one
 *     transfer GPU -> host, then frees the chunk.
 *   - Explicit prefetch (cudaMemPrefetchAsync before the first kernel):
 *     the first `prefetch_size` bytes (0: all), whole blocks, at most
 *     `capacity`, migrate before the first access.
 *
 *   - External driver (`driver: external`, um_touch): no kernels of its
 *     own; another model (llm_instance, kv_memory: managed) hands in the
 *     page ranges a GPU kernel accesses. They are issued in order through
 *     the same fault buffer and batch service (ext_run), a wholly resident
 *     block being counted in bulk; when the ranges end with no fault
 *     pending the caller is told the stall (ext_done). The same state
 *     machine below applies.
 *
 * Simplifications: the GPU does not overlap compute with fault servicing
 * (it stalls while a batch is serviced); a faulting access completes at
 * the replay even if its block was evicted again by a later block of the
 * same batch; the pages of one block move as one transfer (the copy
 * engine's scatter list); no access counters. Advice, the CPU actor,
 * thrashing detection and um_prefetch: see their sections below (the um
 * services one operation at a time: a GPU touch, a CPU touch or a
 * prefetch).
 *
 * Page and block state machine (a block's state is its pages' state):
 *
 *            fault batch, explicit prefetch
 *     HOST ---------------------------------> MIGRATING
 *      ^      [service_block, explicit_prefetch]  |
 *      |                                          | transfer done
 *      | write-back done                          v  [migrated]
 *   EVICTING <------------------------------------ GPU
 *      [evicted]     LRU victim [evict_block]
 *
 *   HOST -> MIGRATING   service_block (faulted + prefetched pages of a
 *                       block get a chunk and a transfer), explicit_prefetch
 *   MIGRATING -> GPU    migrated (the block's transfer completed)
 *   GPU -> EVICTING     evict_block (victim of the LRU, all its GPU pages)
 *   EVICTING -> HOST    evicted (its write-back completed; chunk freed)
 *   A block holds its 2 MiB chunk from its first HOST -> MIGRATING until
 *   EVICTING -> HOST; while it holds one and is not evicting it is on the
 *   LRU list (most recently accessed or migrated at the tail).
 *
 * Invariants (um_assert_state, checked after every event in debug builds;
 * um_check_state does the same page by page):
 *   chunks_used <= chunks_cap; chunks_used = blocks holding a chunk;
 *   per block, its per-state page counts add up to its pages and match its
 *   pages; a block without a chunk has only HOST pages; a block on the LRU
 *   holds a chunk and has no EVICTING page; an EVICTING block has no GPU
 *   or MIGRATING page; a page is in the fault buffer only while HOST;
 *   resident bytes <= capacity; MIGRATING pages exist only while a batch
 *   or the explicit prefetch is in flight, EVICTING ones only while a
 *   write-back is.
 */
#include "models/uvm/um.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "models/fabric/fabric.h"
#include "sim/mem.h"

/* Page states (low two bits of a page's byte) and flags. */
enum { PG_HOST = 0, PG_MIGRATING = 1, PG_GPU = 2, PG_EVICTING = 3 };
enum {
    PG_STATE = 0x03,    /* mask of the state */
    PG_DIRTY = 0x04,    /* written by the GPU since it left the host */
    PG_PF_TREE = 0x08,  /* brought in by the tree prefetcher, not yet accessed */
    PG_PF_EXPL = 0x10,  /* brought in by the explicit prefetch, not yet accessed */
    PG_FAULTED = 0x20,  /* in the fault buffer */
    PG_DUP = 0x40       /* GPU page whose host copy is valid too (read-mostly duplicate) */
};

/* Memory advice per page (cudaMemAdvise). */
enum { ADV_PREF_HOST = 1, ADV_PREF_GPU = 2, ADV_ACCESSED_BY = 4, ADV_READ_MOSTLY = 8 };
enum { PIN_NONE, PIN_HOST, PIN_GPU };
enum { MIT_NONE, MIT_PIN, MIT_THROTTLE };
#define UM_MAX_ADVICE 64

enum { PAT_SEQ, PAT_STRIDED, PAT_RANDOM, PAT_KV };
enum { WB_ALL, WB_DIRTY };
enum { DRV_KERNELS, DRV_EXTERNAL };

enum {
    UM_EV_RUN = SIM_EV_USER,  /* the GPU issues accesses */
    UM_EV_SERVICE,            /* the batch's handling cost is paid: migrate */
    UM_EV_MIGRATED,           /* a block's transfer in completed (a0 = block) */
    UM_EV_EVICTED,            /* a block's write-back completed (a0 = block) */
    UM_EV_REMOTE,             /* a remote-access transfer completed (a0: 0 GPU, 1 CPU) */
    UM_EV_NAP,                /* a throttled GPU migration may proceed */
    UM_EV_CPU_TICK,           /* the CPU actor's period elapsed */
    UM_EV_CPU_GO,             /* the CPU's fault handling is paid: start its transfers */
    UM_EV_CPU_MOVED           /* a CPU-fault migration GPU -> host completed (a0 = block) */
};

/* One memory-advice entry: pages [p0, p1). */
typedef struct um_advice {
    uint64_t p0, p1;
    uint8_t flags;            /* ADV_* */
} um_advice;

/* A prefetch or evict-ahead item (cudaMemPrefetchAsync to the GPU or to the CPU). */
typedef struct um_op {
    uint32_t block;
    uint16_t lo, hi;          /* pages [lo, hi) of the block (prefetch) */
    uint8_t evict;            /* evict-ahead: write the block back to the host */
} um_op;

typedef struct um_block {
    int32_t prev, next;   /* LRU links (block indices, -1 = none) */
    uint16_t npg[4];      /* pages per state */
    uint16_t pages;       /* pages in the block (the last may be short) */
    uint8_t chunk;        /* holds a 2 MiB GPU chunk */
    uint8_t on_lru;       /* linked in the LRU list */
    uint8_t inflight;     /* a transfer in or out is in flight */
    uint16_t npf;         /* pages flagged prefetched and not yet accessed */
    uint8_t pinned;       /* PIN_*: thrashing mitigation pinned it there */
    uint8_t napped;       /* a throttled migration's nap is over: do not throttle again */
    uint8_t ea_keep;      /* background evict-ahead must not take it (um_evict_ahead) */
    uint32_t nmig;        /* fault-driven migrations in the current thrashing window */
    sim_time mig_t0;      /* start of that window */
    sim_time pin_until;   /* when the pin expires */
} um_block;

typedef struct um_state {
    /* configuration (parameters; fixed after configure) */
    const char *host_name;   /* host memory component */
    const char *gpu_name;    /* GPU component */
    uint64_t capacity;       /* GPU bytes for managed data */
    uint64_t footprint;      /* allocation bytes */
    int pattern;             /* PAT_* */
    uint64_t stride;         /* strided: bytes between accesses */
    uint64_t kv_sequences;   /* kvcache: sequences */
    uint64_t accesses;       /* per kernel (0: one per page) */
    uint64_t kernels;        /* kernel launches */
    double access_rate;      /* accesses/s while running (0: instant) */
    double write_fraction;   /* probability an access writes */
    uint64_t batch_count;    /* uvm_perf_fault_batch_count */
    sim_time batch_cost;     /* driver time per batch */
    sim_time fault_cost;     /* driver time per unique fault */
    int prefetcher;          /* tree prefetcher on */
    uint64_t threshold;      /* uvm_perf_prefetch_threshold, percent */
    int explicit_pf;         /* cudaMemPrefetchAsync at start */
    uint64_t prefetch_size;  /* bytes of it (0: all) */
    int writeback;           /* WB_* */
    int driver;              /* DRV_*: own kernels, or touches from another model */
    /* derived at start */
    uint32_t host, gpu;      /* component ids */
    uint64_t npages;         /* pages of the allocation */
    uint32_t nblocks;        /* VA blocks */
    uint64_t chunks_cap;     /* capacity / 2 MiB */
    uint64_t per_kernel;     /* accesses per kernel */
    /* state */
    uint8_t *pg;             /* per page: state and flags */
    um_block *blk;           /* per block */
    int32_t lru_head, lru_tail; /* least / most recently used */
    uint64_t chunks_used;    /* chunks held */
    uint64_t *fbuf;          /* fault buffer: page indices */
    uint64_t nfault;         /* entries in it */
    uint64_t cursor;         /* next fbuf entry to service (sorted) */
    uint32_t outstanding;    /* migrations of the batch in flight */
    int evicting;            /* a write-back the batch waits for is in flight */
    int wait_victim;         /* waiting for a migration to free a victim */
    int in_batch;            /* a batch (or the explicit prefetch) is in service */
    sim_time stall_start;    /* when the GPU stalled */
    uint64_t k;              /* accesses issued so far (generator index) */
    uint64_t kernel_done;    /* accesses of the current kernel issued */
    uint64_t kernel;         /* kernels finished */
    uint32_t *kv_len;        /* kvcache: pages written per sequence */
    uint64_t kv_seq, kv_pos; /* kvcache: current sequence, scan position */
    int error;               /* a fabric transfer failed (reported at finish) */
    /* external driver: the touch in progress (um_touch) */
    const um_range *xr;      /* its ranges (the caller's, unchanged until notified) */
    uint32_t nxr, xi;        /* ranges, current range */
    uint64_t xoff;           /* next page of the current range */
    int xactive;             /* a touch is in progress */
    uint32_t xnotify, xkind; /* component and event kind told when it completes */
    uint64_t xcookie;        /* its cookie */
    sim_time xstart;         /* when it started */
    int xwait;               /* the touch waits for the CPU actor or a prefetch */
    sim_time now;            /* time of the event being handled */
    /* memory advice (cudaMemAdvise), per page ADV_* */
    um_advice advice[UM_MAX_ADVICE];
    uint32_t nadvice;
    uint8_t *adv;
    /* remote (zero-copy) accesses of the GPU not yet charged, bytes */
    uint64_t rrd, rwr;
    uint32_t rwait;          /* GPU remote transfers in flight */
    sim_time xremote_t0;     /* when they started */
    uint64_t crd, cwr;       /* the CPU touch's transfers: GPU -> host, host -> GPU */
    /* the CPU actor (cpu_touch) */
    int cpu_on, cpu_write;
    uint64_t cpu_p0, cpu_np; /* pages it touches */
    sim_time cpu_period, cpu_start, cpu_fault_cost;
    int cpu_active;          /* a CPU touch is in progress */
    int cpu_pending;         /* a CPU touch is due (runs when the GPU is idle) */
    int cpu_timer;           /* a tick is scheduled */
    int gpu_since_tick;      /* the GPU touched the region since the last tick */
    int kend;                /* kernels driver: a kernel ended, the CPU's turn */
    uint32_t cpu_out;        /* CPU transfers in flight */
    sim_time cpu_t0;         /* when the CPU touch began */
    /* thrashing detection (uvm_perf_thrashing) */
    int thr_detect, thr_mit;
    uint64_t thr_k;
    sim_time thr_window, thr_nap, thr_pin;
    /* prefetch / evict-ahead operations (um_prefetch) */
    um_op *op, *opq;         /* the operation in service, the queued one */
    uint32_t nop, opi, capop, nopq, capopq;
    int op_active;
    uint64_t ea_free;        /* background evict-ahead: free chunks wanted (0: off) */
    um_stats st;             /* counters */
} um_state;

static const char *const pattern_names[] = {"sequential", "strided", "random", "kvcache", NULL};
static const char *const writeback_names[] = {"all", "dirty", NULL};
static const char *const driver_names[] = {"kernels", "external", NULL};

static const sim_param um_params[] = {
    {"host", SIM_P_STRING, NULL, "", "host memory component (cpu or memory) holding the data",
     offsetof(um_state, host_name), NULL},
    {"gpu", SIM_P_STRING, NULL, "", "GPU component accessing it", offsetof(um_state, gpu_name),
     NULL},
    {"capacity", SIM_P_SIZE, "1 GiB", "B", "GPU memory for managed data (whole 2 MiB chunks)",
     offsetof(um_state, capacity), NULL},
    {"footprint", SIM_P_SIZE, "512 MiB", "B", "size of the managed allocation",
     offsetof(um_state, footprint), NULL},
    {"pattern", SIM_P_ENUM, "sequential", "",
     "access pattern: sequential, strided, random, kvcache", offsetof(um_state, pattern),
     pattern_names},
    {"stride", SIM_P_SIZE, "64 KiB", "B", "strided: distance between accesses (4 KiB multiple)",
     offsetof(um_state, stride), NULL},
    {"kv_sequences", SIM_P_UINT, "8", "", "kvcache: sequences (each re-reads its pages, appends one)",
     offsetof(um_state, kv_sequences), NULL},
    {"accesses", SIM_P_UINT, "0", "pages", "page accesses per kernel (0: one per page)",
     offsetof(um_state, accesses), NULL},
    {"kernels", SIM_P_UINT, "1", "", "kernel launches (the generator continues across them)",
     offsetof(um_state, kernels), NULL},
    {"access_rate", SIM_P_DOUBLE, "1e9", "1/s", "page accesses per second while not stalled (0: instant)",
     offsetof(um_state, access_rate), NULL},
    {"write_fraction", SIM_P_DOUBLE, "0", "", "probability that an access writes its page",
     offsetof(um_state, write_fraction), NULL},
    {"batch_count", SIM_P_UINT, "256", "faults", "uvm_perf_fault_batch_count: faults per batch",
     offsetof(um_state, batch_count), NULL},
    {"batch_cost", SIM_P_TIME, "20 us", "ps",
     "driver time per fault batch (Allen and Ge, SC 2021: tens of us)",
     offsetof(um_state, batch_cost), NULL},
    {"fault_cost", SIM_P_TIME, "200 ns", "ps", "driver time per unique fault of a batch",
     offsetof(um_state, fault_cost), NULL},
    {"prefetcher", SIM_P_BOOL, "true", "", "tree prefetcher (uvm_perf_prefetch_enable)",
     offsetof(um_state, prefetcher), NULL},
    {"prefetch_threshold", SIM_P_UINT, "51", "%", "uvm_perf_prefetch_threshold: node occupancy",
     offsetof(um_state, threshold), NULL},
    {"explicit_prefetch", SIM_P_BOOL, "false", "", "cudaMemPrefetchAsync to the GPU before the first kernel",
     offsetof(um_state, explicit_pf), NULL},
    {"prefetch_size", SIM_P_SIZE, "0 B", "B", "bytes explicitly prefetched (0: all, at most capacity)",
     offsetof(um_state, prefetch_size), NULL},
    {"writeback", SIM_P_ENUM, "all", "", "eviction writes back all resident pages or only dirty ones",
     offsetof(um_state, writeback), writeback_names},
    {"driver", SIM_P_ENUM, "kernels", "",
     "who accesses the allocation: its own kernels (pattern, kernels, ...) or another model "
     "through um_touch (external: e.g. an llm_instance with kv_memory: managed)",
     offsetof(um_state, driver), driver_names},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

/* ---- invariants --------------------------------------------------------- */

/* Block-level invariants, O(blocks); page-level ones when `pages`. */
static int check_state(const um_state *u, int pages)
{
    if (!u->blk)
        return 1;
    if (u->chunks_used > u->chunks_cap)
        return 0;
    uint64_t chunks = 0, gpu = 0, mig = 0, evi = 0, lru = 0;
    for (uint32_t b = 0; b < u->nblocks; b++) {
        const um_block *k = &u->blk[b];
        if (k->npg[0] + k->npg[1] + k->npg[2] + k->npg[3] != k->pages)
            return 0;
        chunks += k->chunk;
        gpu += k->npg[PG_GPU];
        mig += k->npg[PG_MIGRATING];
        evi += k->npg[PG_EVICTING];
        if (!k->chunk && k->npg[PG_HOST] != k->pages)
            return 0;
        if (k->on_lru && (!k->chunk || k->npg[PG_EVICTING]))
            return 0;
        if (k->npg[PG_EVICTING] && (k->npg[PG_GPU] || k->npg[PG_MIGRATING]))
            return 0;
        if (k->chunk && !k->on_lru && !k->npg[PG_EVICTING] && !k->inflight)
            return 0;
        lru += k->on_lru;
        if (pages) {
            uint16_t n[4] = {0, 0, 0, 0}, npf = 0;
            uint64_t p0 = (uint64_t)b * UM_BLOCK_PAGES;
            for (uint64_t p = p0; p < p0 + k->pages; p++) {
                uint8_t f = u->pg[p];
                n[f & PG_STATE]++;
                npf += (f & (PG_PF_TREE | PG_PF_EXPL)) != 0;
                if ((f & PG_FAULTED) && (f & PG_STATE) != PG_HOST)
                    return 0;
                if ((f & (PG_PF_TREE | PG_PF_EXPL)) && (f & PG_STATE) == PG_HOST)
                    return 0;
                if ((f & PG_DUP) && (f & PG_STATE) == PG_HOST)
                    return 0;
            }
            if (memcmp(n, k->npg, sizeof n) || npf != k->npf)
                return 0;
        }
    }
    if (chunks != u->chunks_used || gpu != u->st.resident_pages)
        return 0;
    if ((gpu + mig) * UM_PAGE_SIZE > u->chunks_cap * UM_BLOCK_PAGES * UM_PAGE_SIZE)
        return 0;
    if (mig && !u->in_batch)
        return 0;
    if (evi && !u->evicting && !u->cpu_active)
        return 0;
    uint64_t n = 0;
    for (int32_t b = u->lru_head; b >= 0; b = u->blk[b].next)
        if (++n > u->nblocks)
            return 0;
    return n == lru;
}

#ifndef NDEBUG
/* The per-event check (block level; the page level is um_check_state). */
static int um_assert_state(const um_state *u) { return check_state(u, 0); }
#endif

int um_check_state(const sim_comp *c)
{
    if (!c || c->model != &um_model)
        return SIM_EINVAL;
    return check_state(c->state, 1) ? 0 : SIM_ESTATE;
}

int um_get_stats(const sim_comp *c, um_stats *out)
{
    if (!c || c->model != &um_model || !out)
        return SIM_EINVAL;
    const um_state *u = c->state;
    *out = u->st;
    out->chunks_used = u->chunks_used;
    out->chunks_cap = u->chunks_cap;
    return 0;
}

/* ---- pages, blocks, LRU --------------------------------------------------- */

static void set_state(um_state *u, uint64_t p, int s)
{
    um_block *k = &u->blk[p / UM_BLOCK_PAGES];
    int old = u->pg[p] & PG_STATE;
    k->npg[old]--;
    k->npg[s]++;
    if (old == PG_GPU)
        u->st.resident_pages--;
    if (s == PG_GPU)
        u->st.resident_pages++;
    u->pg[p] = (uint8_t)((u->pg[p] & ~PG_STATE) | s);
}

static void lru_unlink(um_state *u, int32_t b)
{
    um_block *k = &u->blk[b];
    if (!k->on_lru)
        return;
    if (k->prev >= 0)
        u->blk[k->prev].next = k->next;
    else
        u->lru_head = k->next;
    if (k->next >= 0)
        u->blk[k->next].prev = k->prev;
    else
        u->lru_tail = k->prev;
    k->prev = k->next = -1;
    k->on_lru = 0;
}

/* Move (or add) block b to the most recently used end. */
static void lru_touch(um_state *u, int32_t b)
{
    um_block *k = &u->blk[b];
    if (k->on_lru && u->lru_tail == b)
        return;
    lru_unlink(u, b);
    k->prev = u->lru_tail;
    k->next = -1;
    if (u->lru_tail >= 0)
        u->blk[u->lru_tail].next = b;
    else
        u->lru_head = b;
    u->lru_tail = b;
    k->on_lru = 1;
}

/* ---- the access generator ------------------------------------------------- */

static uint64_t next_page(sim_comp *c, um_state *u, int *write)
{
    uint64_t k = u->k++, page = 0;
    *write = 0;
    switch (u->pattern) {
    case PAT_SEQ: page = k % u->npages; break;
    case PAT_STRIDED: {
        uint64_t sp = u->stride / UM_PAGE_SIZE, pos = k * sp;
        page = (pos % u->npages + (pos / u->npages) % sp) % u->npages;
        break;
    }
    case PAT_RANDOM: page = gsl_rng_uniform_int(c->rng, u->npages); break;
    case PAT_KV: {
        /* each step of a sequence re-reads its pages, then appends one */
        uint64_t region = u->npages / u->kv_sequences;
        uint64_t base = u->kv_seq * region;
        if (u->kv_pos < u->kv_len[u->kv_seq]) {
            page = base + u->kv_pos++;
        } else {
            page = base + u->kv_len[u->kv_seq];
            *write = 1;
            u->kv_len[u->kv_seq] = (uint32_t)((u->kv_len[u->kv_seq] + 1) % region);
            u->kv_pos = 0;
            u->kv_seq = gsl_rng_uniform_int(c->rng, u->kv_sequences);
        }
        break;
    }
    }
    if (u->write_fraction > 0 && gsl_rng_uniform(c->rng) < u->write_fraction)
        *write = 1;
    return page;
}

/* ---- the GPU ------------------------------------------------------------------ */

/* One GPU access to page p: a hit, or a fault entered in the buffer (a
 * duplicate when the page is in it already). */
/* Block b is pinned by the thrashing mitigation now (an expired pin is dropped). */
static int pinned_now(um_state *u, uint32_t b)
{
    um_block *k = &u->blk[b];
    if (k->pinned && u->now >= k->pin_until) {
        k->pinned = PIN_NONE;
        k->nmig = 0;
    }
    return k->pinned;
}

/* A GPU access to host page p is remote (zero-copy, no fault): its block is
 * pinned, or the advice maps it (accessed-by, or preferred location host)
 * and it is not a read of a read-mostly page (those are duplicated). */
static int gpu_remote(um_state *u, uint64_t p, int write)
{
    if (pinned_now(u, (uint32_t)(p / UM_BLOCK_PAGES)))
        return 1;
    uint8_t a = u->adv[p];
    if ((a & ADV_READ_MOSTLY) && !write)
        return 0;
    return (a & (ADV_ACCESSED_BY | ADV_PREF_HOST)) != 0;
}

static void access_page(um_state *u, uint64_t p, int write)
{
    uint8_t f = u->pg[p];
    u->st.accesses++;
    if ((f & PG_STATE) == PG_HOST && !(f & PG_FAULTED) && gpu_remote(u, p, write)) {
        u->st.remote_accesses++;
        if (write) {
            u->rwr += UM_PAGE_SIZE;
            u->st.remote_write_bytes += UM_PAGE_SIZE;
        } else {
            u->rrd += UM_PAGE_SIZE;
            u->st.remote_read_bytes += UM_PAGE_SIZE;
        }
        return;
    }
    if ((f & PG_STATE) == PG_GPU) {
        if (write && (f & PG_DUP)) { /* collapse: the host copy is invalidated */
            f &= (uint8_t)~PG_DUP;
            u->st.invalidations++;
            u->st.collapses++;
        }
        u->st.hits++;
        if (f & PG_PF_TREE)
            u->st.prefetch_used++;
        if (f & (PG_PF_TREE | PG_PF_EXPL))
            u->blk[p / UM_BLOCK_PAGES].npf--;
        f &= (uint8_t)~(PG_PF_TREE | PG_PF_EXPL);
        if (write)
            f |= PG_DIRTY;
        u->pg[p] = f;
        lru_touch(u, (int32_t)(p / UM_BLOCK_PAGES));
    } else {
        assert((f & PG_STATE) == PG_HOST); /* the GPU runs only between batches */
        if (write)
            f |= PG_DIRTY;
        if (f & PG_FAULTED) {
            u->st.duplicate_faults++;
        } else {
            f |= PG_FAULTED;
            u->fbuf[u->nfault++] = p;
            u->st.faults++;
        }
        u->pg[p] = f;
    }
}

static void gpu_run(sim_comp *c, um_state *u)
{
    uint64_t issued = 0;
    int kernel_end = 0;
    while (u->kernel < u->kernels) {
        int write;
        uint64_t p = next_page(c, u, &write);
        issued++;
        access_page(u, p, write);
        if (++u->kernel_done == u->per_kernel) {
            u->kernel_done = 0;
            u->kernel++;
            kernel_end = 1;
            u->kend = 1;
        }
        if (kernel_end || u->nfault == u->batch_count)
            break;
    }
    sim_time t = u->access_rate > 0 ? (sim_time)llround((double)issued * 1e12 / u->access_rate)
                                    : 0;
    if (u->nfault) { /* stall: the driver takes the batch */
        sim_time cost = u->batch_cost + u->nfault * u->fault_cost;
        u->in_batch = 1;
        u->stall_start = sim_now(c->sim) + t;
        u->st.handling_ps += cost;
        sim_schedule(c->sim, t + cost, c->id, UM_EV_SERVICE, 0, 0);
    } else if (u->kernel < u->kernels || u->rrd || u->rwr) {
        sim_schedule(c->sim, t, c->id, UM_EV_RUN, 1, 0);
    } else {
        u->st.end_ps = sim_now(c->sim) + t;
    }
}

/* ---- the driver ---------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Mark the pages the tree prefetcher adds to block b (faulted pages are
 * flagged PG_FAULTED); returns how many. */
static uint64_t tree_prefetch(um_state *u, uint32_t b)
{
    const um_block *k = &u->blk[b];
    uint64_t p0 = (uint64_t)b * UM_BLOCK_PAGES;
    uint32_t nleaves = (k->pages + UM_LEAF_PAGES - 1) / UM_LEAF_PAGES;
    uint32_t occ[UM_BLOCK_PAGES / UM_LEAF_PAGES], lpages[UM_BLOCK_PAGES / UM_LEAF_PAGES];
    uint8_t faulted[UM_BLOCK_PAGES / UM_LEAF_PAGES];
    for (uint32_t l = 0; l < nleaves; l++) {
        uint32_t n = 0, lp = 0;
        faulted[l] = 0;
        for (uint64_t p = p0 + l * UM_LEAF_PAGES; p < p0 + k->pages && lp < UM_LEAF_PAGES;
             p++, lp++) {
            uint8_t f = u->pg[p];
            if (f & PG_FAULTED)
                faulted[l] = 1;
            if ((f & PG_STATE) == PG_GPU || (f & PG_STATE) == PG_MIGRATING || (f & PG_FAULTED))
                n++;
        }
        lpages[l] = lp;
        occ[l] = faulted[l] ? lp : n; /* fault granularity grown to the 64 KiB big page */
    }
    uint64_t added = 0;
    for (uint32_t l = 0; l < nleaves; l++) {
        if (!faulted[l])
            continue;
        uint32_t lo = l, hi = l + 1;
        for (uint32_t size = 1; size <= UM_BLOCK_PAGES / UM_LEAF_PAGES; size *= 2) {
            uint32_t a = l / size * size, z = a + size < nleaves ? a + size : nleaves;
            uint64_t cnt = 0, pages = 0;
            for (uint32_t i = a; i < z; i++) {
                cnt += occ[i];
                pages += lpages[i];
            }
            if (cnt * 100 > pages * u->threshold) {
                lo = a;
                hi = z;
            }
        }
        for (uint64_t p = p0 + (uint64_t)lo * UM_LEAF_PAGES;
             p < p0 + k->pages && p < p0 + (uint64_t)hi * UM_LEAF_PAGES; p++)
            if ((u->pg[p] & PG_STATE) == PG_HOST && !(u->pg[p] & (PG_FAULTED | PG_PF_TREE))) {
                if (!(u->pg[p] & PG_PF_EXPL))
                    u->blk[b].npf++;
                u->pg[p] |= PG_PF_TREE;
                added++;
            }
    }
    return added;
}

static void batch_done(sim_comp *c, um_state *u);
static void service(sim_comp *c, um_state *u);
static void bg_evict(sim_comp *c, um_state *u);
static void idle_next(sim_comp *c, um_state *u);
static void cpu_run(sim_comp *c, um_state *u);

/* The least recently used block that can be evicted now (not `except`, no
 * transfer in flight), or -1. */
static int32_t pick_victim(um_state *u, uint32_t except)
{
    int32_t pref = -1; /* preferred location gpu: evicted only when nothing else can be */
    for (int32_t b = u->lru_head; b >= 0; b = u->blk[b].next)
        if ((uint32_t)b != except && !u->blk[b].inflight) {
            if (!(u->adv[(uint64_t)b * UM_BLOCK_PAGES] & ADV_PREF_GPU))
                return b;
            if (pref < 0)
                pref = b;
        }
    return pref;
}

/* GPU -> EVICTING: write block v back. Returns 1 when a write-back is in
 * flight, 0 when the block was freed at once. */
static int evict_block(sim_comp *c, um_state *u, int32_t v)
{
    um_block *k = &u->blk[v];
    uint64_t p0 = (uint64_t)v * UM_BLOCK_PAGES, out = 0;
    lru_unlink(u, v);
    u->st.evictions++;
    for (uint64_t p = p0; p < p0 + k->pages; p++) {
        if ((u->pg[p] & PG_STATE) != PG_GPU)
            continue;
        if (!(u->pg[p] & PG_DUP) && (u->writeback == WB_ALL || (u->pg[p] & PG_DIRTY)))
            out++; /* a duplicate's host copy is current: dropped, not written */
        set_state(u, p, PG_EVICTING);
    }
    u->st.pages_out += out;
    u->st.bytes_out += out * UM_PAGE_SIZE;
    if (out) {
        int rc = fabric_transfer_class(c->sim, FABRIC_CLASS_UVM, u->gpu, u->host,
                                       out * UM_PAGE_SIZE, FABRIC_PATH_DMA, c->id, UM_EV_EVICTED,
                                       (uint64_t)v);
        if (rc == 0) {
            k->inflight = 1;
            u->evicting = 1;
            return 1;
        }
        u->error = rc;
    }
    u->evicting = 1;
    sim_schedule(c->sim, 0, c->id, UM_EV_EVICTED, (uint64_t)v, 0);
    k->inflight = 1;
    return 1;
}

/* EVICTING -> HOST: the write-back of block v completed. */
static void evicted(sim_comp *c, um_state *u, int32_t v)
{
    um_block *k = &u->blk[v];
    uint64_t p0 = (uint64_t)v * UM_BLOCK_PAGES;
    for (uint64_t p = p0; p < p0 + k->pages; p++) {
        if ((u->pg[p] & PG_STATE) == PG_EVICTING)
            set_state(u, p, PG_HOST);
        u->pg[p] &= (uint8_t)~(PG_DIRTY | PG_PF_TREE | PG_PF_EXPL | PG_DUP);
    }
    k->npf = 0;
    k->inflight = 0;
    k->chunk = 0;
    u->chunks_used--;
    u->evicting = 0;
    service(c, u);
}

/* HOST -> MIGRATING for the pages of block b flagged faulted or prefetched.
 * Unwritten pages of a read-mostly range become duplicates (the host keeps
 * its copy). Returns the pages migrated (not duplicated). */
static uint64_t migrate_block(sim_comp *c, um_state *u, uint32_t b, uint8_t flags)
{
    um_block *k = &u->blk[b];
    uint64_t p0 = (uint64_t)b * UM_BLOCK_PAGES, n = 0, moved = 0;
    for (uint64_t p = p0; p < p0 + k->pages; p++) {
        uint8_t f = u->pg[p];
        if ((f & PG_STATE) != PG_HOST || !(f & flags))
            continue;
        f &= (uint8_t)~PG_FAULTED;
        if ((u->adv[p] & ADV_READ_MOSTLY) && !(f & PG_DIRTY))
            f |= PG_DUP;
        else
            moved++;
        u->pg[p] = f;
        set_state(u, p, PG_MIGRATING);
        n++;
    }
    lru_unlink(u, (int32_t)b);
    if (!n) {
        lru_touch(u, (int32_t)b);
        return 0;
    }
    k->inflight = 1;
    u->outstanding++;
    u->st.transfers_in++;
    int rc = fabric_transfer_class(c->sim, FABRIC_CLASS_UVM, u->host, u->gpu, n * UM_PAGE_SIZE,
                                   FABRIC_PATH_DMA, c->id, UM_EV_MIGRATED, b);
    if (rc) {
        u->error = rc;
        sim_schedule(c->sim, 0, c->id, UM_EV_MIGRATED, b, 0);
    }
    return moved;
}

/* MIGRATING -> GPU: the transfer of block b completed. */
static void migrated(sim_comp *c, um_state *u, uint32_t b)
{
    um_block *k = &u->blk[b];
    uint64_t p0 = (uint64_t)b * UM_BLOCK_PAGES;
    for (uint64_t p = p0; p < p0 + k->pages; p++)
        if ((u->pg[p] & PG_STATE) == PG_MIGRATING) {
            set_state(u, p, PG_GPU);
            if (u->pg[p] & PG_DUP) {
                u->st.dup_pages++;
                u->st.dup_bytes += UM_PAGE_SIZE;
            } else {
                u->st.pages_in++;
                u->st.bytes_in += UM_PAGE_SIZE;
            }
        }
    k->inflight = 0;
    lru_touch(u, (int32_t)b);
    u->outstanding--;
    if (u->wait_victim) {
        u->wait_victim = 0;
        service(c, u);
    } else if (!u->outstanding && !u->evicting && u->cursor == u->nfault) {
        batch_done(c, u);
    }
}

/* ---- thrashing detection (uvm_perf_thrashing.c) ----------------------------
 * A VA block migrated (by a GPU fault or a CPU fault) more than `threshold`
 * times within `window` of its first migration is thrashing: the next
 * migration is refused and the block pinned where it is for `pin_time`, the
 * faulting processor mapping it remotely (mitigation pin), or delayed by
 * `nap` (mitigation throttle), or only counted (mitigation none). */
static int thrash_hit(um_state *u, uint32_t b)
{
    um_block *k = &u->blk[b];
    if (!u->thr_detect)
        return 0;
    if (k->nmig && u->now - k->mig_t0 > u->thr_window)
        k->nmig = 0;
    return k->nmig >= u->thr_k;
}

static void thrash_note(um_state *u, uint32_t b)
{
    um_block *k = &u->blk[b];
    if (!k->nmig || u->now - k->mig_t0 > u->thr_window) {
        k->nmig = 0;
        k->mig_t0 = u->now;
    }
    k->nmig++;
    u->st.block_migrations++;
}

/* Give block b a chunk: 0 done, 1 the caller must return (an eviction or a
 * migration that frees a victim is awaited), 2 nothing can be evicted. */
static int get_chunk(sim_comp *c, um_state *u, uint32_t b)
{
    um_block *k = &u->blk[b];
    if (k->chunk)
        return 0;
    if (u->chunks_used == u->chunks_cap) {
        int32_t v = pick_victim(u, b);
        if (v < 0) { /* every chunk is being filled: wait for one */
            if (!u->outstanding)
                return 2;
            u->wait_victim = 1;
            return 1;
        }
        if (evict_block(c, u, v))
            return 1; /* resumed by evicted() */
    }
    k->chunk = 1;
    u->chunks_used++;
    return 0;
}

/* Service the sorted fault buffer from the cursor, block by block, then the
 * items of a prefetch operation. */
static void service(sim_comp *c, um_state *u)
{
    while (u->cursor < u->nfault) {
        uint32_t b = (uint32_t)(u->fbuf[u->cursor] / UM_BLOCK_PAGES);
        um_block *k = &u->blk[b];
        if (!k->napped && thrash_hit(u, b)) {
            u->st.thrash_detections++;
            if (u->thr_mit == MIT_PIN) { /* pinned where it is: the host; map it remotely */
                k->pinned = PIN_HOST;
                k->pin_until = u->now + u->thr_pin;
                u->st.pins++;
                for (; u->cursor < u->nfault && u->fbuf[u->cursor] / UM_BLOCK_PAGES == b;
                     u->cursor++) {
                    uint64_t p = u->fbuf[u->cursor];
                    uint8_t f = u->pg[p];
                    u->pg[p] = (uint8_t)(f & ~(PG_FAULTED | PG_DIRTY));
                    u->st.remote_accesses++;
                    if (f & PG_DIRTY) {
                        u->rwr += UM_PAGE_SIZE;
                        u->st.remote_write_bytes += UM_PAGE_SIZE;
                    } else {
                        u->rrd += UM_PAGE_SIZE;
                        u->st.remote_read_bytes += UM_PAGE_SIZE;
                    }
                }
                continue;
            }
            if (u->thr_mit == MIT_THROTTLE) { /* the migration waits a nap */
                k->napped = 1;
                u->st.throttles++;
                u->st.throttle_ps += u->thr_nap;
                sim_schedule(c->sim, u->thr_nap, c->id, UM_EV_NAP, 0, 0);
                return;
            }
        }
        int g = get_chunk(c, u, b);
        assert(g != 2);
        if (g)
            return;
        k->napped = 0;
        if (u->prefetcher)
            u->st.prefetched += tree_prefetch(u, b);
        if (migrate_block(c, u, b, PG_FAULTED | PG_PF_TREE))
            thrash_note(u, b);
        while (u->cursor < u->nfault && u->fbuf[u->cursor] / UM_BLOCK_PAGES == b)
            u->cursor++;
    }
    while (u->opi < u->nop) {
        const um_op *o = &u->op[u->opi];
        uint32_t b = o->block;
        um_block *k = &u->blk[b];
        if (o->evict) { /* evict-ahead: cudaMemPrefetchAsync to the CPU */
            u->opi++;
            if (k->chunk && k->on_lru && !k->inflight && !pinned_now(u, b)) {
                u->st.evict_ahead++;
                if (evict_block(c, u, (int32_t)b))
                    return;
            }
            continue;
        }
        uint64_t p0 = (uint64_t)b * UM_BLOCK_PAGES, need = 0;
        for (uint64_t p = p0 + o->lo; p < p0 + o->hi; p++)
            need += (u->pg[p] & PG_STATE) == PG_HOST;
        if (!need || k->inflight || pinned_now(u, b)) {
            u->opi++;
            continue;
        }
        int g = get_chunk(c, u, b);
        if (g == 1)
            return;
        if (g == 2) { /* nothing evictable: the rest of the prefetch is dropped */
            u->opi = u->nop;
            break;
        }
        for (uint64_t p = p0 + o->lo; p < p0 + o->hi; p++)
            if ((u->pg[p] & PG_STATE) == PG_HOST && !(u->pg[p] & PG_PF_EXPL)) {
                u->pg[p] |= PG_PF_EXPL;
                k->npf++;
                u->st.explicit_pages++;
            }
        migrate_block(c, u, b, PG_PF_EXPL);
        u->opi++;
    }
    if (u->outstanding && !u->evicting)
        bg_evict(c, u);
    if (!u->outstanding && !u->evicting)
        batch_done(c, u);
}

/* Background evict-ahead (um_evict_ahead): once every migration of the
 * batch or prefetch in service is issued and while some are still in
 * flight, the GPU -> host direction is idle; write back the least recently
 * used block outside the keep set, one at a time, while fewer than ea_free
 * chunks are free. It starts only while migrations are outstanding, so it
 * overlaps them and never starts an operation's tail on its own. */
static void bg_evict(sim_comp *c, um_state *u)
{
    if (!u->ea_free || !u->nop || u->opi < u->nop || u->nfault ||
        u->chunks_cap - u->chunks_used >= u->ea_free)
        return;
    for (int32_t b = u->lru_head; b >= 0; b = u->blk[b].next) {
        const um_block *k = &u->blk[b];
        if (k->ea_keep || k->inflight || !k->chunk || pinned_now(u, (uint32_t)b) ||
            (u->adv[(uint64_t)b * UM_BLOCK_PAGES] & ADV_PREF_GPU))
            continue;
        u->st.evict_ahead++;
        evict_block(c, u, b);
        return;
    }
}

/* The batch is resident: replay, the GPU resumes. */
static void batch_done(sim_comp *c, um_state *u)
{
    sim_time now = sim_now(c->sim);
    if (u->nfault) {
        u->st.batches++;
        u->st.stall_ps += now - u->stall_start;
    }
    u->nfault = u->cursor = 0;
    u->in_batch = 0;
    u->op_active = 0;
    u->nop = u->opi = 0;
    if (u->driver == DRV_EXTERNAL) {
        if (u->xactive)
            sim_schedule(c->sim, 0, c->id, UM_EV_RUN, 0, 0);
        else
            idle_next(c, u);
    } else if (u->kernel < u->kernels || u->rrd || u->rwr || u->kend)
        sim_schedule(c->sim, 0, c->id, UM_EV_RUN, 1, 0);
    else
        u->st.end_ps = now;
}

/* cudaMemPrefetchAsync(ptr, prefetch_size, gpu) before the first kernel. */
static void explicit_prefetch(sim_comp *c, um_state *u)
{
    uint64_t bytes = u->prefetch_size ? u->prefetch_size : u->footprint;
    uint64_t pages = (bytes + UM_PAGE_SIZE - 1) / UM_PAGE_SIZE;
    if (pages > u->npages)
        pages = u->npages;
    u->in_batch = 1;
    u->stall_start = sim_now(c->sim);
    for (uint32_t b = 0; b < u->nblocks && u->chunks_used < u->chunks_cap; b++) {
        uint64_t p0 = (uint64_t)b * UM_BLOCK_PAGES;
        if (p0 >= pages)
            break;
        u->blk[b].chunk = 1;
        u->chunks_used++;
        for (uint64_t p = p0; p < p0 + u->blk[b].pages && p < pages; p++) {
            u->blk[b].npf++;
            u->pg[p] |= PG_PF_EXPL;
            u->st.explicit_pages++;
        }
        migrate_block(c, u, b, PG_PF_EXPL);
    }
    if (!u->outstanding)
        batch_done(c, u);
}

/* ---- remote accesses, the CPU actor, prefetch operations ---------------------- */

/* Charge the GPU's pending remote accesses: reads host -> GPU and writes
 * GPU -> host as fabric transfers (zero-copy over the link); the GPU waits
 * for them (UM_EV_REMOTE, a0 = 0). */
static void remote_go(sim_comp *c, um_state *u)
{
    uint64_t b[2] = {u->rrd, u->rwr};
    uint32_t src[2] = {u->host, u->gpu}, dst[2] = {u->gpu, u->host};
    u->rrd = u->rwr = 0;
    u->xremote_t0 = u->now;
    for (int i = 0; i < 2; i++) {
        if (!b[i])
            continue;
        u->rwait++;
        int rc = fabric_transfer_class(c->sim, FABRIC_CLASS_UVM, src[i], dst[i], b[i],
                                       FABRIC_PATH_DMA, c->id, UM_EV_REMOTE, 0);
        if (rc) {
            u->error = rc;
            sim_schedule(c->sim, 0, c->id, UM_EV_REMOTE, 0, 0);
        }
    }
}

/* GPU kernels driver: after a chunk of accesses (kernel end, batch done). */
static void gpu_continue(sim_comp *c, um_state *u)
{
    if (u->rrd || u->rwr) {
        remote_go(c, u);
        return;
    }
    if (u->cpu_on && u->kernel < u->kernels &&
        ((u->cpu_period == 0 && u->kend) || u->cpu_pending)) {
        u->kend = 0;
        cpu_run(c, u);
        return;
    }
    u->kend = 0;
    if (u->kernel < u->kernels)
        gpu_run(c, u);
    else
        u->st.end_ps = u->now;
}

/* Free block b's chunk if it holds no GPU page any more. */
static void release_if_empty(um_state *u, uint32_t b)
{
    um_block *k = &u->blk[b];
    if (k->chunk && !k->inflight && k->npg[PG_HOST] == k->pages) {
        lru_unlink(u, (int32_t)b);
        k->chunk = 0;
        k->npf = 0;
        u->chunks_used--;
    }
}

/* The CPU actor touches its range (the GPU is idle): GPU-resident pages
 * fault on the CPU; per VA block one CPU fault (cpu fault_cost) migrates
 * every GPU page of the block back to host memory (the driver services a
 * CPU fault on its VA block). Read-mostly pages read by the CPU are
 * duplicated instead; a CPU write invalidates the GPU duplicates; pinned
 * blocks are accessed remotely. The transfers start once the fault costs
 * (and throttling naps) are paid [cpu_go]. */
static void cpu_run(sim_comp *c, um_state *u)
{
    sim_time cost = 0;
    u->cpu_active = 1;
    u->cpu_pending = 0;
    u->cpu_t0 = u->now;
    u->st.cpu_touches++;
    u->crd = u->cwr = 0;
    uint64_t end = u->cpu_p0 + u->cpu_np;
    for (uint64_t p = u->cpu_p0; p < end;) {
        uint32_t b = (uint32_t)(p / UM_BLOCK_PAGES);
        um_block *k = &u->blk[b];
        uint64_t q = (uint64_t)(b + 1) * UM_BLOCK_PAGES, lo = p, need = 0, rm = 0;
        if (q > end)
            q = end;
        p = q;
        for (uint64_t x = lo; x < q; x++) {
            if ((u->pg[x] & PG_STATE) != PG_GPU)
                continue;
            if (u->pg[x] & PG_DUP) {
                if (u->cpu_write) { /* the host copy is written: the GPU's is stale */
                    if (u->pg[x] & (PG_PF_TREE | PG_PF_EXPL))
                        k->npf--;
                    u->pg[x] &= (uint8_t)~(PG_DUP | PG_DIRTY | PG_PF_TREE | PG_PF_EXPL);
                    set_state(u, x, PG_HOST);
                    u->st.invalidations++;
                }
                continue;
            }
            need++;
            rm += (u->adv[x] & ADV_READ_MOSTLY) != 0;
        }
        release_if_empty(u, b);
        if (!need)
            continue;
        if (!u->cpu_write && rm == need) { /* read-mostly: duplicate to the host */
            for (uint64_t x = lo; x < q; x++)
                if ((u->pg[x] & PG_STATE) == PG_GPU)
                    u->pg[x] |= PG_DUP;
            u->st.cpu_faults++;
            u->st.dup_pages += need;
            u->st.dup_bytes += need * UM_PAGE_SIZE;
            u->crd += need * UM_PAGE_SIZE;
            cost += u->cpu_fault_cost;
            continue;
        }
        int remote = pinned_now(u, b) != PIN_NONE;
        if (!remote) {
            u->st.cpu_faults++;
            cost += u->cpu_fault_cost;
            if (thrash_hit(u, b)) {
                u->st.thrash_detections++;
                if (u->thr_mit == MIT_PIN) { /* pinned on the GPU: the CPU maps it */
                    k->pinned = PIN_GPU;
                    k->pin_until = u->now + u->thr_pin;
                    u->st.pins++;
                    remote = 1;
                } else if (u->thr_mit == MIT_THROTTLE) {
                    u->st.throttles++;
                    u->st.throttle_ps += u->thr_nap;
                    cost += u->thr_nap;
                }
            }
        }
        if (remote) {
            u->st.remote_accesses += need;
            if (u->cpu_write) {
                u->cwr += need * UM_PAGE_SIZE;
                u->st.remote_write_bytes += need * UM_PAGE_SIZE;
            } else {
                u->crd += need * UM_PAGE_SIZE;
                u->st.remote_read_bytes += need * UM_PAGE_SIZE;
            }
            continue;
        }
        /* GPU -> EVICTING: the whole block goes back */
        lru_unlink(u, (int32_t)b);
        k->inflight = 1;
        for (uint64_t x = (uint64_t)b * UM_BLOCK_PAGES; x < (uint64_t)b * UM_BLOCK_PAGES + k->pages;
             x++)
            if ((u->pg[x] & PG_STATE) == PG_GPU)
                set_state(u, x, PG_EVICTING);
        thrash_note(u, b);
    }
    sim_schedule(c->sim, cost, c->id, UM_EV_CPU_GO, 0, 0);
}

static void cpu_done(sim_comp *c, um_state *u)
{
    u->cpu_active = 0;
    u->st.cpu_ps += u->now - u->cpu_t0;
    if (u->driver == DRV_KERNELS)
        sim_schedule(c->sim, 0, c->id, UM_EV_RUN, 1, 0);
    else if (u->xactive)
        sim_schedule(c->sim, 0, c->id, UM_EV_RUN, 0, 0);
    else
        idle_next(c, u);
}

static void cpu_transfer(sim_comp *c, um_state *u, uint32_t src, uint32_t dst, uint64_t bytes,
                         uint32_t kind, uint64_t a0)
{
    u->cpu_out++;
    int rc = bytes ? fabric_transfer_class(c->sim, FABRIC_CLASS_UVM, src, dst, bytes,
                                           FABRIC_PATH_DMA, c->id, kind, a0)
                   : 0;
    if (!bytes || rc) {
        if (rc)
            u->error = rc;
        sim_schedule(c->sim, 0, c->id, kind, a0, 0);
    }
}

/* The CPU's faults are handled: its migrations, duplicates and remote accesses move. */
static void cpu_go(sim_comp *c, um_state *u)
{
    uint64_t end = u->cpu_p0 + u->cpu_np;
    for (uint32_t b = (uint32_t)(u->cpu_p0 / UM_BLOCK_PAGES);
         (uint64_t)b * UM_BLOCK_PAGES < end; b++) {
        const um_block *k = &u->blk[b];
        if (!k->npg[PG_EVICTING])
            continue;
        uint64_t out = 0;
        for (uint64_t x = (uint64_t)b * UM_BLOCK_PAGES; x < (uint64_t)b * UM_BLOCK_PAGES + k->pages;
             x++)
            out += (u->pg[x] & PG_STATE) == PG_EVICTING && !(u->pg[x] & PG_DUP);
        cpu_transfer(c, u, u->gpu, u->host, out * UM_PAGE_SIZE, UM_EV_CPU_MOVED, b);
    }
    if (u->crd)
        cpu_transfer(c, u, u->gpu, u->host, u->crd, UM_EV_REMOTE, 1);
    if (u->cwr)
        cpu_transfer(c, u, u->host, u->gpu, u->cwr, UM_EV_REMOTE, 1);
    u->crd = u->cwr = 0;
    if (!u->cpu_out)
        cpu_done(c, u);
}

/* EVICTING -> HOST: block b's CPU-fault migration completed. */
static void cpu_moved(sim_comp *c, um_state *u, uint32_t b)
{
    um_block *k = &u->blk[b];
    uint64_t p0 = (uint64_t)b * UM_BLOCK_PAGES, out = 0;
    for (uint64_t p = p0; p < p0 + k->pages; p++) {
        if ((u->pg[p] & PG_STATE) == PG_EVICTING) {
            out += !(u->pg[p] & PG_DUP);
            set_state(u, p, PG_HOST);
        }
        u->pg[p] &= (uint8_t)~(PG_DIRTY | PG_PF_TREE | PG_PF_EXPL | PG_DUP);
    }
    u->st.pages_out += out;
    u->st.bytes_out += out * UM_PAGE_SIZE;
    u->st.cpu_pages_out += out;
    k->npf = 0;
    k->inflight = 0;
    k->chunk = 0;
    u->chunks_used--;
    if (!--u->cpu_out)
        cpu_done(c, u);
}

/* Start a CPU touch or a queued prefetch when nothing else runs. */
static void op_start(sim_comp *c, um_state *u)
{
    um_op *t = u->op;
    uint32_t cap = u->capop;
    u->op = u->opq;
    u->capop = u->capopq;
    u->opq = t;
    u->capopq = cap;
    u->nop = u->nopq;
    u->nopq = 0;
    u->opi = 0;
    u->op_active = 1;
    u->in_batch = 1;
    u->stall_start = u->now;
    service(c, u);
}

static void idle_next(sim_comp *c, um_state *u)
{
    if (u->xactive || u->in_batch || u->cpu_active || u->rwait)
        return;
    if (u->cpu_pending)
        cpu_run(c, u);
    else if (u->nopq)
        op_start(c, u);
}

static void cpu_tick(sim_comp *c, um_state *u)
{
    u->cpu_timer = 0;
    if (u->driver == DRV_EXTERNAL ? !u->gpu_since_tick : u->kernel >= u->kernels)
        return; /* the GPU went quiet: the next touch restarts the clock */
    u->gpu_since_tick = 0;
    u->cpu_pending = 1;
    if (u->driver == DRV_EXTERNAL)
        idle_next(c, u);
    u->cpu_timer = 1;
    sim_schedule(c->sim, u->cpu_period, c->id, UM_EV_CPU_TICK, 0, 0);
}

/* ---- the external driver (um_touch) ------------------------------------------ */

/* The touch is complete: tell the caller how long the GPU stalled. */
static void ext_done(sim_comp *c, um_state *u)
{
    sim_time stall = sim_now(c->sim) - u->xstart;
    u->xactive = 0;
    u->xr = NULL;
    if (stall)
        u->st.stalled_touches++;
    sim_schedule(c->sim, 0, u->xnotify, u->xkind, u->xcookie, stall);
    if (u->cpu_on && !u->cpu_period)
        u->cpu_pending = 1; /* the CPU actor's turn, between GPU steps */
    idle_next(c, u);
}

/* One step of a touch at its cursor in range r: a read of the rest of a
 * 2 MiB block wholly resident with no prefetch flag pending is counted in
 * bulk (every page a hit, the block touched once in the LRU: the same
 * result as page by page, in O(blocks)); anything else is one page access. */
static void touch_at_cursor(um_state *u, const um_range *r)
{
    uint64_t p = r->page + u->xoff;
    uint32_t b = (uint32_t)(p / UM_BLOCK_PAGES);
    const um_block *k = &u->blk[b];
    uint64_t seg = (uint64_t)(b + 1) * UM_BLOCK_PAGES - p;
    if (seg > r->npages - u->xoff)
        seg = r->npages - u->xoff;
    if (!r->write && k->npg[PG_GPU] == k->pages && !k->npf) {
        u->st.accesses += seg;
        u->st.hits += seg;
        lru_touch(u, (int32_t)b);
        u->xoff += seg;
    } else {
        access_page(u, p, r->write);
        u->xoff++;
    }
}

/* Issue the touch's accesses from its cursor until the fault buffer is full
 * (stall: the driver takes the batch) or the ranges end. */
static void ext_run(sim_comp *c, um_state *u)
{
    while (u->xi < u->nxr && u->nfault < u->batch_count) {
        const um_range *r = &u->xr[u->xi];
        while (u->xoff < r->npages && u->nfault < u->batch_count)
            touch_at_cursor(u, r);
        if (u->xoff == r->npages) {
            u->xi++;
            u->xoff = 0;
        }
    }
    if (u->nfault) {
        sim_time cost = u->batch_cost + u->nfault * u->fault_cost;
        u->in_batch = 1;
        u->stall_start = sim_now(c->sim);
        u->st.handling_ps += cost;
        sim_schedule(c->sim, cost, c->id, UM_EV_SERVICE, 0, 0);
    } else if (u->rrd || u->rwr) {
        remote_go(c, u); /* the zero-copy accesses are charged: ext_done when they land */
    } else {
        ext_done(c, u);
    }
}

/* The state of an externally driven `um` component with its pages set up
 * (the callers of um_touch, um_prefetch, um_evict_ahead), or NULL. */
static um_state *external_um(sim_comp *c)
{
    if (!c || c->model != &um_model)
        return NULL;
    um_state *u = c->state;
    return u->driver == DRV_EXTERNAL && u->pg ? u : NULL;
}

/* 1 when every range lies inside the allocation. */
static int ranges_inside(const um_state *u, const um_range *r, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (r[i].page > u->npages || r[i].npages > u->npages - r[i].page)
            return 0;
    return 1;
}

int um_touch(sim_comp *c, const um_range *ranges, uint32_t n, uint32_t notify, uint32_t kind,
             uint64_t cookie)
{
    um_state *u = external_um(c);
    if (!u)
        return SIM_EINVAL;
    if (u->xactive)
        return SIM_ESTATE;
    if (!ranges_inside(u, ranges, n))
        return SIM_EINVAL;
    u->st.touches++;
    u->xr = ranges;
    u->nxr = n;
    u->xi = 0;
    u->xoff = 0;
    u->xactive = 1;
    u->xnotify = notify;
    u->xkind = kind;
    u->xcookie = cookie;
    u->xstart = u->now = sim_now(c->sim);
    u->gpu_since_tick = 1;
    if (u->cpu_on && u->cpu_period && !u->cpu_timer) {
        u->cpu_timer = 1;
        sim_schedule(c->sim, u->cpu_period, c->id, UM_EV_CPU_TICK, 0, 0);
    }
    if (u->in_batch || u->cpu_active) /* the driver is busy: run when it is done */
        return 1;
    /* fast case: every page resident, nothing to wait for */
    while (u->xi < u->nxr && u->nfault == 0) {
        const um_range *r = &u->xr[u->xi];
        if (u->xoff == r->npages) {
            u->xi++;
            u->xoff = 0;
            continue;
        }
        touch_at_cursor(u, r);
    }
    if (u->xi == u->nxr && u->nfault == 0 && !u->rrd && !u->rwr) {
        u->xactive = 0;
        u->xr = NULL;
        if (u->cpu_on && !u->cpu_period)
            u->cpu_pending = 1;
        idle_next(c, u);
        assert(um_assert_state(u));
        return 0;
    }
    ext_run(c, u);
    assert(um_assert_state(u));
    return 1;
}

/* Queue one operation item. */
static int op_push(um_state *u, um_op o)
{
    if (u->nopq && !o.evict && !u->opq[u->nopq - 1].evict &&
        u->opq[u->nopq - 1].block == o.block && u->opq[u->nopq - 1].hi >= o.lo) {
        um_op *q = &u->opq[u->nopq - 1];
        if (o.lo < q->lo)
            q->lo = o.lo;
        if (o.hi > q->hi)
            q->hi = o.hi;
        return 0;
    }
    if (u->nopq == u->capopq) {
        uint32_t cap = u->capopq ? 2 * u->capopq : 256;
        um_op *m = sim_realloc(u->opq, cap * sizeof *m);
        if (!m)
            return SIM_ENOMEM;
        u->opq = m;
        u->capopq = cap;
    }
    u->opq[u->nopq++] = o;
    return 0;
}

int um_prefetch(sim_comp *c, const um_range *ranges, uint32_t n, const uint32_t *evict,
                uint32_t ne)
{
    um_state *u = external_um(c);
    if (!u || !ranges_inside(u, ranges, n))
        return SIM_EINVAL;
    for (uint32_t i = 0; i < ne; i++)
        if (evict[i] >= u->nblocks)
            return SIM_EINVAL;
    u->now = sim_now(c->sim);
    u->st.prefetch_ops++;
    for (uint32_t i = 0; i < ne; i++)
        if (op_push(u, (um_op){evict[i], 0, 0, 1}))
            return SIM_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        for (uint64_t p = ranges[i].page; p < ranges[i].page + ranges[i].npages;) {
            uint32_t b = (uint32_t)(p / UM_BLOCK_PAGES);
            uint64_t q = (uint64_t)(b + 1) * UM_BLOCK_PAGES;
            if (q > ranges[i].page + ranges[i].npages)
                q = ranges[i].page + ranges[i].npages;
            if (op_push(u, (um_op){b, (uint16_t)(p - (uint64_t)b * UM_BLOCK_PAGES),
                                   (uint16_t)(q - (uint64_t)b * UM_BLOCK_PAGES), 0}))
                return SIM_ENOMEM;
            p = q;
        }
    idle_next(c, u);
    return 0;
}

int um_evict_ahead(sim_comp *c, const um_range *keep, uint32_t n, uint64_t free_chunks)
{
    um_state *u = external_um(c);
    if (!u || !ranges_inside(u, keep, n))
        return SIM_EINVAL;
    for (uint32_t b = 0; b < u->nblocks; b++)
        u->blk[b].ea_keep = 0;
    for (uint32_t i = 0; i < n; i++)
        if (keep[i].npages)
            for (uint64_t b = keep[i].page / UM_BLOCK_PAGES;
                 b <= (keep[i].page + keep[i].npages - 1) / UM_BLOCK_PAGES; b++)
                u->blk[b].ea_keep = 1;
    u->ea_free = free_chunks;
    return 0;
}

int um_region_info(const sim_comp *c, um_region *out)
{
    if (!c || c->model != &um_model || !out)
        return SIM_EINVAL;
    const um_state *u = c->state;
    out->external = u->driver == DRV_EXTERNAL;
    out->footprint = u->footprint;
    out->capacity = u->capacity;
    out->host_name = u->host_name;
    out->gpu_name = u->gpu_name;
    return 0;
}

/* ---- the component ------------------------------------------------------------ */

/* `range: [start, end]` (sizes) inside the allocation: pages [p0, p1). */
static int parse_range(const sim_comp *c, const um_state *u, const scn_node *n, const char *what,
                       uint64_t *p0, uint64_t *p1, sim_err *err)
{
    const scn_node *r = scn_map_get(n, "range");
    uint64_t v[2];
    if (!r || scn_node_kind(r) != SCN_SEQ || scn_len(r) != 2)
        return scn_error(err, r ? r : n, "um '%s': %s needs `range: [start, end]` (bytes of the "
                         "allocation)", c->name, what);
    for (int i = 0; i < 2; i++) {
        const char *t = scn_scalar(scn_seq_at(r, (size_t)i));
        sim_err e2;
        sim_err_clear(&e2);
        char *end = NULL;
        if (t && *t >= '0' && *t <= '9') { /* a bare number is bytes */
            v[i] = strtoull(t, &end, 10);
            if (*end)
                end = NULL;
        }
        if (!t || (!end && scn_parse_size(t, &v[i], &e2)))
            return scn_error(err, scn_seq_at(r, (size_t)i), "um '%s': %s range: '%s' is not a "
                             "size", c->name, what, t ? t : "?");
    }
    if (v[0] >= v[1] || v[1] > u->footprint)
        return scn_error(err, r, "um '%s': %s range [%llu, %llu) is not a region of the "
                         "allocation [0, %llu)", c->name, what, (unsigned long long)v[0],
                         (unsigned long long)v[1], (unsigned long long)u->footprint);
    *p0 = v[0] / UM_PAGE_SIZE;
    *p1 = (v[1] + UM_PAGE_SIZE - 1) / UM_PAGE_SIZE;
    return 0;
}

static const char *const um_keys[] = {"advice", "cpu_touch", "thrashing", NULL};

/* advice: [{range, preferred_location, accessed_by, read_mostly}],
 * cpu_touch: {range, period, write, fault_cost, start},
 * thrashing: {detect, threshold, window, mitigation, nap, pin_time}. */
static int parse_extra(sim_comp *c, um_state *u, const scn_node *node, sim_err *err)
{
    int rc;
    const scn_node *a = node ? scn_map_get(node, "advice") : NULL;
    if (a) {
        static const char *const ak[] = {"range", "preferred_location", "accessed_by",
                                         "read_mostly", NULL};
        static const char *const loc[] = {"none", "host", "gpu", NULL};
        static const char *const by[] = {"none", "gpu", NULL};
        if (scn_node_kind(a) != SCN_SEQ)
            return scn_error(err, a, "um '%s': advice is a list of {range: [start, end], "
                             "preferred_location, accessed_by, read_mostly}", c->name);
        if (scn_len(a) > UM_MAX_ADVICE)
            return scn_error(err, a, "um '%s': at most %d advice entries", c->name,
                             UM_MAX_ADVICE);
        for (size_t i = 0; i < scn_len(a); i++) {
            const scn_node *e = scn_seq_at(a, i);
            um_advice *d = &u->advice[u->nadvice++];
            int pl = 0, ab = 0, rm = 0;
            if (scn_node_kind(e) != SCN_MAP)
                return scn_error(err, e, "um '%s': an advice entry is a map", c->name);
            if ((rc = scn_check_keys(e, ak, "advice", err)) ||
                (rc = parse_range(c, u, e, "advice", &d->p0, &d->p1, err)) ||
                (rc = scn_get_enum(e, "preferred_location", loc, 0, &pl, err)) ||
                (rc = scn_get_enum(e, "accessed_by", by, 0, &ab, err)) ||
                (rc = scn_get_bool(e, "read_mostly", 0, &rm, err)))
                return rc;
            d->flags = (uint8_t)((pl == 1 ? ADV_PREF_HOST : pl == 2 ? ADV_PREF_GPU : 0) |
                                 (ab ? ADV_ACCESSED_BY : 0) | (rm ? ADV_READ_MOSTLY : 0));
        }
    }
    const scn_node *t = node ? scn_map_get(node, "cpu_touch") : NULL;
    if (t) {
        static const char *const tk[] = {"range", "period", "write", "fault_cost", "start", NULL};
        uint64_t p0, p1;
        if (scn_node_kind(t) != SCN_MAP)
            return scn_error(err, t, "um '%s': cpu_touch is a map {range, period, write}",
                             c->name);
        if ((rc = scn_check_keys(t, tk, "cpu_touch", err)) ||
            (rc = parse_range(c, u, t, "cpu_touch", &p0, &p1, err)) ||
            (rc = scn_get_time(t, "period", 0, &u->cpu_period, err)) ||
            (rc = scn_get_bool(t, "write", 0, &u->cpu_write, err)) ||
            (rc = scn_get_time(t, "fault_cost", 10 * SIM_US, &u->cpu_fault_cost, err)) ||
            (rc = scn_get_time(t, "start", 0, &u->cpu_start, err)))
            return rc;
        u->cpu_on = 1;
        u->cpu_p0 = p0;
        u->cpu_np = p1 - p0;
    }
    const scn_node *h = node ? scn_map_get(node, "thrashing") : NULL;
    static const char *const mit[] = {"none", "pin", "throttle", NULL};
    u->thr_detect = 1;
    u->thr_k = 3;
    u->thr_window = 1 * SIM_MS;
    u->thr_nap = 1 * SIM_MS;
    u->thr_pin = 300 * SIM_MS;
    if (h) {
        static const char *const hk[] = {"detect", "threshold", "window", "mitigation", "nap",
                                         "pin_time", NULL};
        if (scn_node_kind(h) != SCN_MAP)
            return scn_error(err, h, "um '%s': thrashing is a map {detect, threshold, window, "
                             "mitigation, nap, pin_time}", c->name);
        if ((rc = scn_check_keys(h, hk, "thrashing", err)) ||
            (rc = scn_get_bool(h, "detect", 1, &u->thr_detect, err)) ||
            (rc = scn_get_uint(h, "threshold", 3, &u->thr_k, err)) ||
            (rc = scn_get_time(h, "window", u->thr_window, &u->thr_window, err)) ||
            (rc = scn_get_enum(h, "mitigation", mit, MIT_NONE, &u->thr_mit, err)) ||
            (rc = scn_get_time(h, "nap", u->thr_nap, &u->thr_nap, err)) ||
            (rc = scn_get_time(h, "pin_time", u->thr_pin, &u->thr_pin, err)))
            return rc;
        if (u->thr_k < 1)
            return scn_error(err, scn_map_get(h, "threshold"), "um '%s': thrashing threshold "
                             "must be at least 1", c->name);
        if (u->thr_mit != MIT_NONE && !u->thr_detect)
            return scn_error(err, scn_map_get(h, "mitigation"), "um '%s': a thrashing "
                             "mitigation needs detect: true", c->name);
    }
    return 0;
}

static int um_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    um_state *u = c->state;
    const scn_node *n = node;
#define BAD(key, ...) return scn_error(err, n ? scn_map_get(n, key) : NULL, __VA_ARGS__)
    if (u->capacity < (uint64_t)UM_BLOCK_PAGES * UM_PAGE_SIZE)
        BAD("capacity", "um '%s': capacity must hold at least one 2 MiB block", c->name);
    if (u->footprint < UM_PAGE_SIZE)
        BAD("footprint", "um '%s': footprint must be at least one 4 KiB page", c->name);
    if (u->footprint / UM_PAGE_SIZE > (uint64_t)INT32_MAX)
        BAD("footprint", "um '%s': footprint too large (at most 2^31 pages)", c->name);
    if (u->stride < UM_PAGE_SIZE || u->stride % UM_PAGE_SIZE)
        BAD("stride", "um '%s': stride must be a positive multiple of 4 KiB", c->name);
    if (u->kv_sequences < 1 || u->kv_sequences > u->footprint / UM_PAGE_SIZE / 2)
        BAD("kv_sequences", "um '%s': kv_sequences must be between 1 and pages / 2", c->name);
    if (u->kernels < 1)
        BAD("kernels", "um '%s': at least one kernel", c->name);
    if (!(u->access_rate >= 0) || isinf(u->access_rate))
        BAD("access_rate", "um '%s': access_rate must be a finite rate >= 0", c->name);
    if (!(u->write_fraction >= 0 && u->write_fraction <= 1))
        BAD("write_fraction", "um '%s': write_fraction must be in [0, 1]", c->name);
    if (u->batch_count < 1 || u->batch_count > 65536)
        BAD("batch_count", "um '%s': batch_count must be in 1..65536", c->name);
    if (u->threshold > 100)
        BAD("prefetch_threshold", "um '%s': prefetch_threshold is a percentage (0..100)",
            c->name);
#undef BAD
    return parse_extra(c, u, node, err);
}

static int um_start(sim_comp *c, sim_err *err)
{
    um_state *u = c->state;
    sim_comp *h = sim_find(c->sim, u->host_name), *g = sim_find(c->sim, u->gpu_name);
    const scn_node *n = c->node;
    if (!h || (strcmp(h->model->type, "cpu") && strcmp(h->model->type, "memory")))
        return scn_error(err, n ? scn_map_get(n, "host") : NULL,
                         "um '%s': host '%s' is not a cpu or memory component", c->name,
                         u->host_name);
    if (!g || strcmp(g->model->type, "gpu"))
        return scn_error(err, n ? scn_map_get(n, "gpu") : NULL,
                         "um '%s': gpu '%s' is not a gpu component", c->name, u->gpu_name);
    uint64_t host_cap = 0;
    if (scn_get_size(h->node, strcmp(h->model->type, "cpu") ? "capacity" : "dram_capacity",
                     strcmp(h->model->type, "cpu") ? 256ull << 30 : 512ull << 30, &host_cap,
                     err))
        return err->code;
    if (u->footprint > host_cap)
        return scn_error(err, n ? scn_map_get(n, "footprint") : NULL,
                         "um '%s': footprint %.3g GiB exceeds the memory of host '%s' (%.3g GiB):"
                         " a managed allocation is backed by host memory",
                         c->name, (double)u->footprint / (1 << 30), u->host_name,
                         (double)host_cap / (1 << 30));
    u->host = h->id;
    u->gpu = g->id;
    uint32_t links[16], nl;
    if (fabric_route(c->sim, u->host, u->gpu, links, 16, &nl))
        return scn_error(err, n ? scn_map_get(n, "gpu") : NULL,
                         "um '%s': no fabric route from '%s' to '%s'", c->name, u->host_name,
                         u->gpu_name);
    u->npages = (u->footprint + UM_PAGE_SIZE - 1) / UM_PAGE_SIZE;
    u->nblocks = (uint32_t)((u->npages + UM_BLOCK_PAGES - 1) / UM_BLOCK_PAGES);
    u->chunks_cap = u->capacity / ((uint64_t)UM_BLOCK_PAGES * UM_PAGE_SIZE);
    u->per_kernel = u->accesses ? u->accesses : u->npages;
    u->pg = sim_calloc(u->npages, 1);
    u->blk = sim_calloc(u->nblocks, sizeof *u->blk);
    u->fbuf = sim_calloc(u->batch_count, sizeof *u->fbuf);
    u->kv_len = sim_calloc(u->kv_sequences, sizeof *u->kv_len);
    u->adv = sim_calloc(u->npages, 1);
    if (!u->pg || !u->blk || !u->fbuf || !u->kv_len || !u->adv)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "um '%s': out of memory", c->name);
    for (uint32_t b = 0; b < u->nblocks; b++) {
        uint64_t left = u->npages - (uint64_t)b * UM_BLOCK_PAGES;
        u->blk[b].pages = (uint16_t)(left < UM_BLOCK_PAGES ? left : UM_BLOCK_PAGES);
        u->blk[b].npg[PG_HOST] = u->blk[b].pages;
        u->blk[b].prev = u->blk[b].next = -1;
    }
    u->lru_head = u->lru_tail = -1;
    for (uint32_t i = 0; i < u->nadvice; i++) /* later entries add to earlier ones */
        for (uint64_t p = u->advice[i].p0; p < u->advice[i].p1 && p < u->npages; p++) {
            if (u->advice[i].flags & (ADV_PREF_HOST | ADV_PREF_GPU))
                u->adv[p] &= (uint8_t)~(ADV_PREF_HOST | ADV_PREF_GPU);
            u->adv[p] |= u->advice[i].flags;
        }
    if (u->driver == DRV_EXTERNAL)
        return 0; /* accesses come from um_touch */
    if (u->cpu_on && u->cpu_period) {
        u->cpu_timer = 1;
        sim_schedule(c->sim, u->cpu_start + u->cpu_period, c->id, UM_EV_CPU_TICK, 0, 0);
    }
    if (u->explicit_pf)
        explicit_prefetch(c, u);
    else
        sim_schedule(c->sim, 0, c->id, UM_EV_RUN, 0, 0);
    return 0;
}

static void um_handle(sim_comp *c, const sim_event *e)
{
    um_state *u = c->state;
    u->now = sim_now(c->sim);
    switch (e->kind) {
    case UM_EV_RUN:
        if (u->driver == DRV_EXTERNAL)
            ext_run(c, u);
        else if (e->a0)
            gpu_continue(c, u);
        else
            gpu_run(c, u);
        break;
    case UM_EV_REMOTE:
        if (e->a0) { /* the CPU's */
            if (!--u->cpu_out)
                cpu_done(c, u);
        } else if (!--u->rwait) {
            u->st.remote_ps += u->now - u->xremote_t0;
            if (u->driver == DRV_EXTERNAL)
                ext_done(c, u);
            else
                gpu_continue(c, u);
        }
        break;
    case UM_EV_NAP: service(c, u); break;
    case UM_EV_CPU_TICK: cpu_tick(c, u); break;
    case UM_EV_CPU_GO: cpu_go(c, u); break;
    case UM_EV_CPU_MOVED: cpu_moved(c, u, (uint32_t)e->a0); break;
    case UM_EV_SERVICE:
        qsort(u->fbuf, u->nfault, sizeof *u->fbuf, cmp_u64);
        service(c, u);
        break;
    case UM_EV_MIGRATED: migrated(c, u, (uint32_t)e->a0); break;
    case UM_EV_EVICTED: evicted(c, u, (int32_t)e->a0); break;
    default: return;
    }
    assert(um_assert_state(u));
}

static void um_sample(sim_comp *c, sim_time now)
{
    um_state *u = c->state;
    sim_report_timeseries(c->sim, c->name, "gpu_resident_bytes", now,
                          (double)(u->st.resident_pages * UM_PAGE_SIZE));
}

static int um_finish(sim_comp *c, sim_err *err)
{
    um_state *u = c->state;
    const um_stats *s = &u->st;
    sim *S = c->sim;
    const char *n = c->name;
    if (u->error)
        return sim_err_set(err, u->error, NULL, 0, 0, "um '%s': a fabric transfer failed: %s",
                           n, sim_strerror(u->error));
    double stall = sim_time_to_s(s->stall_ps);
    uint64_t moved = s->bytes_in + s->bytes_out;
    sim_report_metric(S, n, "accesses", (double)s->accesses, "accesses");
    sim_report_metric(S, n, "hits", (double)s->hits, "accesses");
    sim_report_metric(S, n, "faults", (double)s->faults, "faults");
    sim_report_metric(S, n, "duplicate_faults", (double)s->duplicate_faults, "faults");
    sim_report_metric(S, n, "fault_batches", (double)s->batches, "batches");
    sim_report_metric(S, n, "pages_migrated_in", (double)s->pages_in, "pages");
    sim_report_metric(S, n, "pages_migrated_out", (double)s->pages_out, "pages");
    sim_report_metric(S, n, "pages_prefetched", (double)s->prefetched, "pages");
    sim_report_metric(S, n, "prefetch_accuracy",
                      s->prefetched ? (double)s->prefetch_used / (double)s->prefetched : 0.0,
                      "");
    sim_report_metric(S, n, "explicit_prefetch_pages", (double)s->explicit_pages, "pages");
    sim_report_metric(S, n, "evictions", (double)s->evictions, "blocks");
    sim_report_metric(S, n, "bytes_in", (double)s->bytes_in, "B");
    sim_report_metric(S, n, "bytes_out", (double)s->bytes_out, "B");
    sim_report_metric(S, n, "migrated_bytes", (double)moved, "B");
    sim_report_metric(S, n, "effective_bandwidth", stall > 0 ? (double)moved / stall : 0.0,
                      "B/s");
    sim_report_metric(S, n, "stall_time", stall, "s");
    sim_report_metric(S, n, "fault_handling_time", sim_time_to_s(s->handling_ps), "s");
    sim_report_metric(S, n, "run_time", sim_time_to_s(s->end_ps), "s");
    sim_report_metric(S, n, "gpu_resident_bytes", (double)(s->resident_pages * UM_PAGE_SIZE),
                      "B");
    sim_report_metric(S, n, "remote_accesses", (double)s->remote_accesses, "pages");
    sim_report_metric(S, n, "remote_read_bytes", (double)s->remote_read_bytes, "B");
    sim_report_metric(S, n, "remote_write_bytes", (double)s->remote_write_bytes, "B");
    sim_report_metric(S, n, "remote_time", sim_time_to_s(s->remote_ps), "s");
    sim_report_metric(S, n, "duplicated_pages", (double)s->dup_pages, "pages");
    sim_report_metric(S, n, "duplicate_invalidations", (double)s->invalidations, "pages");
    sim_report_metric(S, n, "cpu_touches", (double)s->cpu_touches, "touches");
    sim_report_metric(S, n, "cpu_faults", (double)s->cpu_faults, "faults");
    sim_report_metric(S, n, "cpu_pages_migrated_out", (double)s->cpu_pages_out, "pages");
    sim_report_metric(S, n, "cpu_time", sim_time_to_s(s->cpu_ps), "s");
    sim_report_metric(S, n, "block_migrations", (double)s->block_migrations, "blocks");
    sim_report_metric(S, n, "thrash_detections", (double)s->thrash_detections, "");
    sim_report_metric(S, n, "thrash_pins", (double)s->pins, "blocks");
    sim_report_metric(S, n, "thrash_throttles", (double)s->throttles, "");
    sim_report_metric(S, n, "throttle_time", sim_time_to_s(s->throttle_ps), "s");
    sim_report_metric(S, n, "prefetch_ops", (double)s->prefetch_ops, "calls");
    sim_report_metric(S, n, "evict_ahead_blocks", (double)s->evict_ahead, "blocks");
    return 0;
}

static void um_destroy(sim_comp *c)
{
    um_state *u = c->state;
    sim_free(u->pg);
    sim_free(u->blk);
    sim_free(u->fbuf);
    sim_free(u->kv_len);
    sim_free(u->adv);
    sim_free(u->op);
    sim_free(u->opq);
    u->adv = NULL;
    u->op = u->opq = NULL;
    u->pg = NULL;
    u->blk = NULL;
    u->fbuf = NULL;
    u->kv_len = NULL;
}

/* Headline metrics of the run summary (sim_model.headline). */
static const char *const um_headline[] = {"faults", "migrated_bytes", "effective_bandwidth", "stall_time", NULL};

/* Time series of sim_model.series. */
static const sim_series um_series[] = {
    {"gpu_resident_bytes", "B", "bytes of the allocation resident in GPU memory"},
    {NULL, NULL, NULL}};

const sim_model um_model = {
    .type = "um",
    .summary = "CUDA unified memory: fault batches, tree prefetcher, LRU 2 MiB eviction over the fabric",
    .params = um_params,
    .keys = um_keys,
    .state_size = sizeof(um_state),
    .configure = um_configure,
    .start = um_start,
    .handle = um_handle,
    .sample = um_sample,
    .series = um_series,
    .finish = um_finish,
    .destroy = um_destroy,
    .headline = um_headline,
};
