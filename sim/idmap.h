/*
 * idmap.h - a fixed-size open-addressing map from 64-bit ids to 32-bit
 * handles, shared by the KV store (its block index), the S3-FIFO ghost
 * queue and the NIC's match-action table.
 *
 * Linear probing over a power-of-two table sized at init to at least twice
 * the most entries the owner will ever hold, so probes stay short and
 * nothing is allocated after init; deletion shifts entries back (Knuth,
 * TAOCP vol. 3, 6.4 Algorithm R), so there are no tombstones and lookups
 * never degrade. The struct is exposed so owners can embed it.
 */
#ifndef MEMFAB_SIM_IDMAP_H
#define MEMFAB_SIM_IDMAP_H

#include <stdint.h>

#define SIM_IDMAP_NONE UINT32_MAX

typedef struct sim_idmap {
    uint64_t *keys;  /* ids; meaningful where vals[i] != SIM_IDMAP_NONE */
    uint32_t *vals;  /* handles, SIM_IDMAP_NONE for an empty slot */
    uint32_t mask;   /* table size - 1 */
    uint32_t n;      /* entries held */
    uint32_t max;    /* most entries allowed (fixed at init) */
} sim_idmap;

/* Allocate a map for up to max_entries entries; 0 or SIM_ENOMEM/SIM_EINVAL.
 * Release with sim_idmap_fini (safe on a zeroed or failed map). */
int sim_idmap_init(sim_idmap *m, uint32_t max_entries);
void sim_idmap_fini(sim_idmap *m);

/* Look up, insert or replace (0, or SIM_ENOMEM when already max entries),
 * delete (absent keys are ignored). */
uint32_t sim_idmap_get(const sim_idmap *m, uint64_t key);
int sim_idmap_put(sim_idmap *m, uint64_t key, uint32_t val);
void sim_idmap_del(sim_idmap *m, uint64_t key);

#endif
