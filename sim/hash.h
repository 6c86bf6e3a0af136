/*
 * hash.h - the 64-bit mixing function every module uses for hashing ids,
 * names and seeds: the finalizer of splitmix64 (Steele, Lea and Flood,
 * "Fast splittable pseudorandom number generators", OOPSLA 2014), a
 * bijection on 64-bit values with good avalanche, so consecutive ids
 * spread over a hash table.
 */
#ifndef MEMFAB_SIM_HASH_H
#define MEMFAB_SIM_HASH_H

#include <stdint.h>

static inline uint64_t sim_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* One splitmix64 output step: the finalizer of x plus the golden gamma. */
static inline uint64_t sim_splitmix64(uint64_t x)
{
    return sim_mix64(x + 0x9e3779b97f4a7c15ULL);
}

#endif
