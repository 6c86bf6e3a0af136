/*
 * bench_kv.h - `memfab bench kv`: memory per cached KV block and CPU per
 * pin for every built-in eviction policy (issue 18, target 3).
 */
#ifndef MEMFAB_TOOLS_BENCH_KV_H
#define MEMFAB_TOOLS_BENCH_KV_H

/* Run the benchmark; argv[0] is "kv". Prints a table on stdout. Returns 0,
 * 1 when a store cannot be built or its invariants fail, 2 on a usage error. */
int bench_kv(int argc, char **argv);

#endif
