/*
 * bench_kv.h - `memfab bench kv`: host bytes per cached KV block and CPU
 * per eviction-policy operation, for every built-in eviction policy.
 */
#ifndef MEMFAB_TOOLS_BENCH_KV_H
#define MEMFAB_TOOLS_BENCH_KV_H

/* argv[0] is "kv". Prints figures on stdout; asserts nothing. Returns 0,
 * 1 when a store cannot be built, 2 on a usage error. */
int bench_kv(int argc, char **argv);

#endif
