/*
 * mesi.h - directory-based MESI cache coherence (caches + a home directory).
 *
 * Two model types: `mesi_dir`, the home node of a shared memory region
 * (for instance a CXL-attached region) holding one directory entry per
 * 64 B line, and `mesi_cache`, a private cache with a capacity in lines and
 * an access generator (read/write ratio, sharing pattern, footprint, rate).
 * Caches name their directory; the two exchange the protocol messages of
 * Nagarajan, Sorin, Hill and Wood, "A Primer on Memory Consistency and Cache
 * Coherence", 2nd ed., section 8.3 (Tables 8.3 and 8.4) as events with a
 * latency per message. models/coherence/mesi.c draws the state machine.
 *
 * A third type, `hdm_dir`, is the directory of a CXL memory shared by
 * several hosts (CXL 3.0 HDM-DB: device-managed coherence with
 * back-invalidation snoops, BISnp/BIRsp); each host then has its own
 * mesi_dir with `home:` naming it, under which its caches live (see
 * mesi.c, "Device-managed coherence").
 *
 * Results: per directory, one `coherence` row per message type (all
 * eleven, zeros included; an hdm_dir: its twelve CXL.mem types) and metrics (miss latency, misses by type,
 * invalidations per write, bytes by message class, protocol errors and
 * invariant violations, which must be zero); per cache, its own access and
 * miss metrics.
 *
 * The functions below let tests script accesses and inspect states.
 */
#ifndef MEMFAB_MODELS_MESI_H
#define MEMFAB_MODELS_MESI_H

#include <stdint.h>

#include "sim/sim.h"

typedef struct mesi_dir mesi_dir;     /* state of a `mesi_dir` component */
typedef struct mesi_cache mesi_cache; /* state of a `mesi_cache` component */

extern const sim_model mesi_dir_model;
extern const sim_model mesi_cache_model;
extern const sim_model hdm_dir_model;    /* device-managed coherence of a shared CXL memory */

/* Message types, in the order of the `coherence` rows. */
typedef enum {
    MESI_GETS, MESI_GETM, MESI_PUTS, MESI_PUTM, MESI_PUTE, MESI_FWD_GETS, MESI_FWD_GETM,
    MESI_INV, MESI_INV_ACK, MESI_PUT_ACK, MESI_DATA, MESI_NMSG
} mesi_msg;

/* Cache line states (Table 8.3): stable, then transient. */
typedef enum {
    MESI_I, MESI_S, MESI_E, MESI_M,
    MESI_IS_D, MESI_IM_AD, MESI_IM_A, MESI_SM_AD, MESI_SM_A,
    MESI_MI_A, MESI_EI_A, MESI_SI_A, MESI_II_A, MESI_NCSTATE
} mesi_cstate;

/* Directory entry states (Table 8.4). */
/* MESI_DIR_B: the snoop filter evicts the entry (back-invalidation of its
 * sharers or recall of its owner in progress); requests for it wait. */
typedef enum { MESI_DIR_I, MESI_DIR_S, MESI_DIR_E, MESI_DIR_M, MESI_DIR_S_D, MESI_DIR_B,
               MESI_NDSTATE } mesi_dstate;

/* Names: "GetS" ... "Data"; "I" ... "II^A"; "I" ... "S^D". */
const char *mesi_msg_name(mesi_msg m);
const char *mesi_cstate_name(int st);
const char *mesi_dstate_name(int st);

/* Script an access: after `delay`, the cache's core loads (write = 0) or
 * stores (write = 1) line `line` (a line index in its directory's region).
 * The core has one access outstanding; scripted accesses queue behind it.
 * Call after sim_start. 0, SIM_EINVAL (not a mesi_cache, line out of
 * range) or SIM_ENOMEM. */
int mesi_cache_access(sim_comp *cache, sim_time delay, uint64_t line, int write);

/* Inspect a cache line, a directory entry, message counts. */
int mesi_cache_state(const sim_comp *cache, uint64_t line);        /* mesi_cstate, -1 if bad */
/* Counters by name: loads, stores, hits, read_misses, write_misses,
 * upgrade_misses, evictions, invalidations, cache_to_cache, generated,
 * resident (lines held), stalled (forwarded messages waiting); 0 if unknown. */
uint64_t mesi_cache_stat(const sim_comp *cache, const char *name);
int mesi_dir_state(const sim_comp *dir, uint64_t line);            /* mesi_dstate, -1 if bad */
uint64_t mesi_dir_sharers(const sim_comp *dir, uint64_t line);     /* bit i: cache index i */
int mesi_dir_owner(const sim_comp *dir, uint64_t line);            /* cache index, -1 if none */
uint64_t mesi_dir_count(const sim_comp *dir, mesi_msg m);
/* Messages of a type by name, the Primer's and the others: "Nack",
 * "SW-Notify", "SW-Ack", "SW-Round", "SW-Update", "SW-Inv", "SW-Fetch",
 * "SW-Data"; 0 if unknown. */
uint64_t mesi_dir_count_name(const sim_comp *dir, const char *name);
/* Directory counters by name: messages (all types), bytes, nacks,
 * max_queue, snoop_filter_evictions, back_invalidations, tracked (entries
 * held), rounds, loads, stores, writebacks (a host directory's MemWr),
 * conflict_snoops (an hdm_dir's BISnps for requests), hosts; 0 if unknown.
 * The mesi_dir_* inspectors take an hdm_dir too (its entries track hosts:
 * sharers bit h, owner h = the h-th host directory attached to it);
 * mesi_dir_count_name gives its types "MemRd,S", "MemRd,A", "MemInv,A",
 * "MemWr", "MemData", "Cmp", "Cmp-S", "Cmp-E", "BISnpData", "BISnpInv",
 * "BIRspS", "BIRspI" (every message between the hosts and the device is
 * counted there, not at the host directory). */
uint64_t mesi_dir_stat(const sim_comp *dir, const char *name);
/* Protocol errors (a message no table entry allows) + invariant violations
 * + loads that did not return the latest write; 0 for a correct protocol.
 * An hdm_dir's include those of its host directories. */
uint64_t mesi_dir_errors(const sim_comp *dir);
/* A host directory's permission from its hdm_dir on a line: 0 I, 1 S,
 * 2 E (exclusive, possibly modified in the host); -1 if not a host
 * directory. */
int mesi_dir_host_perm(const sim_comp *dir, uint64_t line);

/* Checks: the full SWMR + data-value invariant over every line (1 = holds;
 * an hdm_dir: across the caches of every host), and quiescence (1 = every
 * line stable, nothing stalled, no access pending; an hdm_dir: its hosts
 * too). */
int mesi_dir_check(const sim_comp *dir);
int mesi_dir_quiescent(const sim_comp *dir);

#endif
