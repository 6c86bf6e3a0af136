/*
 * sweep.h - memfab sweep: a grid of scenario overrides and seeds, run in
 * parallel worker processes (-j N) or across MPI ranks, merged into one
 * results database.
 *
 * The MPI layer lives in tools/sweep_mpi.c, which is linked into the memfab
 * binary only when the build found mpicc. sweep.c references these hooks
 * weakly: without sweep_mpi.o they are NULL and the sweep runs locally.
 */
#ifndef MEMFAB_TOOLS_SWEEP_H
#define MEMFAB_TOOLS_SWEEP_H

#include <stddef.h>

#include "sim/err.h"

/* Load and check a sweep file as `memfab sweep` does before it runs
 * anything (the base scenario is read and every point's overrides checked
 * against it), then free it: 0 with the number of runs in *npoints, or an
 * error in err (file:line:column where the sweep file is at fault). A sweep
 * of more than max_runs runs is an error (0: the limit of memfab sweep, a
 * million). Runs nothing and writes nothing (the sweep fuzz harness,
 * tests/fuzz/, which bounds the cost of an input with a small max_runs). */
int sweep_load_check(const char *path, size_t max_runs, size_t *npoints, sim_err *err);

/* MPI hooks (tools/sweep_mpi.c). swp_mpi_init initializes MPI when the
 * process was started by mpirun/srun and returns 1 with the rank and size,
 * or 0 when MPI is not in use. */
int swp_mpi_init(int *rank, int *size);
void swp_mpi_barrier(void);
/* The maximum of v over all ranks, known to every rank. */
int swp_mpi_max(int v);
void swp_mpi_finalize(void);

#endif
