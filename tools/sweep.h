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

/* MPI hooks (tools/sweep_mpi.c). swp_mpi_init initializes MPI when the
 * process was started by mpirun/srun and returns 1 with the rank and size,
 * or 0 when MPI is not in use. */
int swp_mpi_init(int *rank, int *size);
void swp_mpi_barrier(void);
/* The maximum of v over all ranks, known to every rank. */
int swp_mpi_max(int v);
void swp_mpi_finalize(void);

#endif
