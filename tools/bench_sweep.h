/*
 * bench_sweep.h - `memfab bench sweep`: how memfab sweep scales with -j N
 * (and MPI ranks), and what share of a sweep its merge step takes.
 */
#ifndef MEMFAB_TOOLS_BENCH_SWEEP_H
#define MEMFAB_TOOLS_BENCH_SWEEP_H

/* argv[0] is "sweep". Prints figures on stdout; asserts nothing. Returns 0,
 * 1 when a sweep failed or two runs of the same sweep merged into different
 * databases, 2 on a usage error. */
int bench_sweep(int argc, char **argv);

#endif
