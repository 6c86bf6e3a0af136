/*
 * um.h - CUDA unified memory (UVM) page migration: a GPU touching a managed
 * allocation that lives in host memory, faulting pages in over the fabric
 * in batches, with the driver's tree prefetcher and LRU eviction of 2 MiB
 * blocks when the allocation does not fit (oversubscription).
 *
 * A `um` component names a host memory component (`host:`, a cpu or a
 * memory) and a GPU (`gpu:`); migrations are fabric transfers between them
 * (path DMA), so their bytes appear on the PCIe links of the route. See
 * um.c for the model, its state machine and its assumptions.
 *
 * Results (scope: the component): faults, duplicate_faults, fault_batches,
 * pages_migrated_in, pages_migrated_out, pages_prefetched,
 * prefetch_accuracy, explicit_prefetch_pages, evictions, bytes_in,
 * bytes_out, migrated_bytes, effective_bandwidth, stall_time,
 * fault_handling_time, run_time, accesses, hits; timeseries
 * gpu_resident_bytes.
 */
#ifndef MEMFAB_MODELS_UM_H
#define MEMFAB_MODELS_UM_H

#include <stdint.h>

#include "sim/sim.h"

#define UM_PAGE_SIZE 4096u          /* bytes per page */
#define UM_BLOCK_PAGES 512u         /* pages per 2 MiB VA block */
#define UM_LEAF_PAGES 16u           /* pages per 64 KiB prefetch-tree leaf */

/* Counters of a um component so far (tests and other models). */
typedef struct um_stats {
    uint64_t accesses;          /* page accesses issued by the GPU */
    uint64_t hits;              /* accesses to GPU-resident pages */
    uint64_t faults;            /* unique faulted pages (one per page per batch) */
    uint64_t duplicate_faults;  /* faults on a page already in the fault buffer */
    uint64_t batches;           /* fault batches serviced */
    uint64_t pages_in;          /* pages migrated host -> GPU (all causes) */
    uint64_t pages_out;         /* pages written back GPU -> host */
    uint64_t prefetched;        /* pages brought in by the tree prefetcher */
    uint64_t prefetch_used;     /* ... and later accessed while resident */
    uint64_t explicit_pages;    /* pages brought in by the explicit prefetch */
    uint64_t evictions;         /* 2 MiB blocks evicted */
    uint64_t bytes_in, bytes_out; /* migrated bytes per direction */
    sim_time stall_ps;          /* GPU stalled on faults (batch cost + migration) */
    sim_time handling_ps;       /* of which fault-handling cost */
    sim_time end_ps;            /* when the last kernel finished (0: not yet) */
    uint64_t resident_pages;    /* GPU-resident pages now */
    uint64_t chunks_used;       /* 2 MiB GPU chunks held now */
    uint64_t chunks_cap;        /* 2 MiB GPU chunks available */
    uint64_t transfers_in;      /* migration transfers host -> GPU started (driver copies) */
    uint64_t touches;           /* external driver: um_touch calls */
    uint64_t stalled_touches;   /* ... that had to wait for a fault batch */
    /* memory advice */
    uint64_t remote_accesses;   /* page accesses served remotely (zero-copy), GPU or CPU */
    uint64_t remote_read_bytes; /* bytes read remotely (host -> GPU or GPU -> host) */
    uint64_t remote_write_bytes;/* bytes written remotely */
    sim_time remote_ps;         /* GPU time waiting for remote transfers */
    uint64_t dup_pages;         /* read-mostly duplicates created (copies, not migrations) */
    uint64_t dup_bytes;
    uint64_t invalidations;     /* duplicate copies invalidated by a write */
    uint64_t collapses;         /* pages whose duplicates a GPU write collapsed onto the GPU */
    /* the CPU actor */
    uint64_t cpu_touches;       /* CPU touches of its range */
    uint64_t cpu_faults;        /* CPU faults (one per VA block migrated back) */
    uint64_t cpu_pages_out;     /* pages migrated GPU -> host by CPU faults */
    sim_time cpu_ps;            /* CPU time in its touches (faults, migrations, naps) */
    /* thrashing */
    uint64_t block_migrations;  /* fault-driven VA-block migrations, GPU faults and CPU faults */
    uint64_t thrash_detections; /* migrations refused or delayed as thrashing */
    uint64_t pins;              /* blocks pinned (mitigation pin) */
    uint64_t throttles;         /* migrations delayed (mitigation throttle) */
    sim_time throttle_ps;       /* nap time spent */
    /* um_prefetch */
    uint64_t prefetch_ops;      /* um_prefetch calls */
    uint64_t evict_ahead;       /* blocks written back by evict-ahead */
} um_stats;

/* Read the counters of um component c: 0, or SIM_EINVAL if c is not a um. */
int um_get_stats(const sim_comp *c, um_stats *out);

/* Check every invariant of c's state, page by page (O(pages)): 0, or
 * SIM_ESTATE when one is broken, SIM_EINVAL if c is not a um. */
int um_check_state(const sim_comp *c);

/* ---- a managed region driven by another model (`driver: external`) ----
 * With driver external the component runs no kernels of its own: another
 * model (an llm_instance with kv_memory: managed) names it and calls
 * um_touch for each GPU kernel that accesses the allocation. The touch
 * walks the ranges in order as the GPU would: resident pages are hits,
 * others fault into the buffer; a full buffer (batch_count) stalls the GPU
 * while the driver services the batch exactly as for the um's own kernels
 * (batch_cost + faults x fault_cost, the tree prefetcher, LRU eviction of
 * 2 MiB blocks with write-back, migrations as fabric DMA transfers), then
 * the accesses resume. */
typedef struct um_range {
    uint64_t page;              /* first 4 KiB page of the allocation */
    uint64_t npages;            /* pages */
    int write;                  /* the kernel writes them (dirty) */
} um_range;

/* What a um region is (for the model that drives it). */
typedef struct um_region {
    int external;               /* driver: external */
    uint64_t footprint;         /* allocation bytes */
    uint64_t capacity;          /* GPU bytes for it */
    const char *host_name, *gpu_name; /* its host memory and GPU components */
} um_region;
int um_region_info(const sim_comp *c, um_region *out);

/* A GPU kernel accesses ranges[0..n) now. Returns 0 when every page was
 * resident (no stall; nothing is scheduled), 1 when the GPU stalled on
 * faults: component `notify` then receives an event of kind `kind` with a0
 * = cookie and a1 = the stall in ps once the last batch is serviced; the
 * ranges must stay unchanged until then. SIM_EINVAL (not an external um,
 * a range outside the allocation), SIM_ESTATE (a touch is in progress). */
int um_touch(sim_comp *c, const um_range *ranges, uint32_t n, uint32_t notify, uint32_t kind,
             uint64_t cookie);

/* cudaMemPrefetchAsync for the external driver: migrate the pages of
 * ranges[0..n) to the GPU (prefetch) and write the listed blocks back to the
 * host (evict[0..ne), VA block indices: evict-ahead), asynchronously: the
 * caller does not wait. The um services one operation at a time (GPU
 * touch, CPU touch, prefetch); a prefetch requested while it is busy is
 * queued, and a GPU touch arriving during a prefetch waits for it (the
 * driver's VA-block locks). 0, or SIM_EINVAL (not an external um, a range
 * outside the allocation), SIM_ENOMEM. */
int um_prefetch(sim_comp *c, const um_range *ranges, uint32_t n, const uint32_t *evict,
                uint32_t ne);

/* Background evict-ahead for the external driver: from now on, whenever the
 * migrations of the operation in service (a GPU touch's fault batches or a
 * prefetch) are all issued and some are still in flight, the driver writes
 * back, one block at a time, the least recently used GPU-resident block
 * outside keep[0..n), while fewer than free_chunks 2 MiB chunks are free:
 * the write-backs use the GPU -> host direction the migrations leave idle,
 * so the next prefetch finds room without waiting for a write-back first.
 * Counted in evict_ahead. A call replaces the previous keep set;
 * free_chunks 0 turns it off. 0, or SIM_EINVAL (not an external um, a
 * range outside the allocation). */
int um_evict_ahead(sim_comp *c, const um_range *keep, uint32_t n, uint64_t free_chunks);

extern const sim_model um_model;   /* type: um */

#endif
