/*
 * cxlcache.h - CXL.cache: an accelerator (CXL Type 1/2 device, type:
 * cxl_accel) with a cache of host memory, attached to a host (`cpu`) over a
 * `cxl` link; the host acts as the home agent with one directory bit per
 * line. See cxlcache.c for the state machine and the message costs.
 *
 * Scenario keys: `cxl_cache` (capacity, 64 B lines, fully associative LRU),
 * `footprint` (host memory the device and the host writer touch), either a
 * `script` ("R3 W3 H3 h3": device read/write, host write/read of line 3)
 * or a generator (`accesses` over a cyclic `scan` region, `write_every`,
 * `host_write_every`), `node` (the fabric node it sits on; its cxl link
 * carries the messages as packets). Results (scope: the device): hits, misses,
 * hit_ratio, upgrades, snoops, writebacks, evictions, per direction
 * messages, flits and wire bytes (d2h_*, h2d_*), access latency.
 */
#ifndef MEMFAB_MODELS_CXLCACHE_H
#define MEMFAB_MODELS_CXLCACHE_H

#include "sim/sim.h"

#define CXL_CACHE_LINE 64   /* CXL.cache coherence granule, bytes */

/* Line states of the device cache (MESI). */
enum { CXL_CACHE_I = 0, CXL_CACHE_S, CXL_CACHE_E, CXL_CACHE_M };

/* State of line `line` (a line number in the footprint) in device c's
 * cache, and the host directory bit for it; -1 if c is not a cxl_accel. */
int cxl_cache_state(const sim_comp *c, uint64_t line);
int cxl_cache_dir(const sim_comp *c, uint64_t line);

extern const sim_model cxl_accel_model;   /* type: cxl_accel */

#endif
