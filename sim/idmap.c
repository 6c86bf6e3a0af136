/*
 * idmap.c - fixed-size open-addressing id -> handle map (see idmap.h).
 *
 * Invariant: every entry sits in the probe run that starts at its home slot
 * (hash & mask) with no empty slot in between; sim_idmap_del restores it by
 * shifting later entries of the run back (Knuth's Algorithm R), so a
 * lookup stops at the first empty slot.
 */
#include "sim/idmap.h"

#include <string.h>

#include "sim/err.h"
#include "sim/hash.h"
#include "sim/mem.h"


int sim_idmap_init(sim_idmap *m, uint32_t max_entries)
{
    memset(m, 0, sizeof *m);
    if (max_entries > (UINT32_MAX >> 2))
        return SIM_EINVAL;
    uint32_t size = 8;
    while (size < 2 * (uint64_t)max_entries)
        size <<= 1;
    m->keys = sim_alloc((size_t)size * sizeof *m->keys);
    m->vals = sim_alloc((size_t)size * sizeof *m->vals);
    if (!m->keys || !m->vals) {
        sim_idmap_fini(m);
        return SIM_ENOMEM;
    }
    memset(m->vals, 0xff, (size_t)size * sizeof *m->vals);
    m->mask = size - 1;
    m->max = max_entries;
    return 0;
}

void sim_idmap_fini(sim_idmap *m)
{
    sim_free(m->keys);
    sim_free(m->vals);
    memset(m, 0, sizeof *m);
}

uint32_t sim_idmap_get(const sim_idmap *m, uint64_t key)
{
    if (!m->vals)
        return SIM_IDMAP_NONE;
    for (uint32_t i = (uint32_t)sim_mix64(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->vals[i] == SIM_IDMAP_NONE)
            return SIM_IDMAP_NONE;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

int sim_idmap_put(sim_idmap *m, uint64_t key, uint32_t val)
{
    uint32_t i = (uint32_t)sim_mix64(key) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        if (m->vals[i] == SIM_IDMAP_NONE)
            break;
        if (m->keys[i] == key) {
            m->vals[i] = val;
            return 0;
        }
    }
    if (m->n >= m->max)
        return SIM_ENOMEM;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 0;
}

void sim_idmap_del(sim_idmap *m, uint64_t key)
{
    uint32_t i = (uint32_t)sim_mix64(key) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        if (m->vals[i] == SIM_IDMAP_NONE)
            return;
        if (m->keys[i] == key)
            break;
    }
    /* Algorithm R: close the gap at i. */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m->mask;
        if (m->vals[j] == SIM_IDMAP_NONE)
            break;
        uint32_t k = (uint32_t)sim_mix64(m->keys[j]) & m->mask;
        /* Move j back to i unless its home k lies cyclically in (i, j]. */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->vals[i] = SIM_IDMAP_NONE;
    m->n--;
}
