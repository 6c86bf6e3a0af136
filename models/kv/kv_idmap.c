/*
 * kv_idmap.c - fixed-size open-addressing id -> handle map (see kv_idmap.h).
 *
 * Invariant: every entry sits in the probe run that starts at its home slot
 * (hash & mask) with no empty slot in between; kv_idmap_del restores it by
 * shifting later entries of the run back (Knuth's Algorithm R), so a
 * lookup stops at the first empty slot.
 */
#include "models/kv/kv_idmap.h"

#include <string.h>

#include "sim/err.h"
#include "sim/hash.h"
#include "sim/mem.h"


int kv_idmap_init(kv_idmap *m, uint32_t max_entries)
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
        kv_idmap_fini(m);
        return SIM_ENOMEM;
    }
    memset(m->vals, 0xff, (size_t)size * sizeof *m->vals);
    m->mask = size - 1;
    m->max = max_entries;
    return 0;
}

void kv_idmap_fini(kv_idmap *m)
{
    sim_free(m->keys);
    sim_free(m->vals);
    memset(m, 0, sizeof *m);
}

uint32_t kv_idmap_get(const kv_idmap *m, uint64_t key)
{
    if (!m->vals)
        return KV_IDMAP_NONE;
    for (uint32_t i = (uint32_t)sim_mix64(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->vals[i] == KV_IDMAP_NONE)
            return KV_IDMAP_NONE;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

int kv_idmap_put(kv_idmap *m, uint64_t key, uint32_t val)
{
    uint32_t i = (uint32_t)sim_mix64(key) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        if (m->vals[i] == KV_IDMAP_NONE)
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

void kv_idmap_del(kv_idmap *m, uint64_t key)
{
    uint32_t i = (uint32_t)sim_mix64(key) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        if (m->vals[i] == KV_IDMAP_NONE)
            return;
        if (m->keys[i] == key)
            break;
    }
    /* Algorithm R: close the gap at i. */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m->mask;
        if (m->vals[j] == KV_IDMAP_NONE)
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
    m->vals[i] = KV_IDMAP_NONE;
    m->n--;
}
