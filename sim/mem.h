/*
 * mem.h - the one allocation path of memfab.
 *
 * Every module allocates through these wrappers (as Lua routes everything
 * through luaM_realloc_), so the simulator can report how much memory its
 * structures hold. The counters are process-wide and not thread-safe:
 * memfab is single-threaded per process (sweeps use processes).
 */
#ifndef MEMFAB_SIM_MEM_H
#define MEMFAB_SIM_MEM_H

#include <stddef.h>

/* Allocate; return NULL on failure. sim_free(NULL) does nothing. */
void *sim_alloc(size_t size);
void *sim_calloc(size_t n, size_t size);
void *sim_realloc(void *p, size_t size);
void sim_free(void *p);
char *sim_strdup(const char *s);

/* Resize the array *pp from `old` to `n` elements of `size` bytes (a
 * growable table), filling the new tail with byte `fill` (fill < 0: leave
 * it). 0, or -1 with the old array kept. */
int sim_grow_array(void *pp, size_t size, size_t old, size_t n, int fill);

/* Make allocations fail once the bytes in use would exceed `bytes` (0 = no
 * limit, the default). For tests of out-of-memory paths: a model that cannot
 * allocate must fail the run with a reason, not carry on with less. */
void sim_mem_set_limit(size_t bytes);

/* Bytes currently allocated through sim_alloc and the peak since the last reset. */
size_t sim_mem_in_use(void);
size_t sim_mem_peak(void);
void sim_mem_reset_peak(void);

#endif
