/*
 * sweep_mpi.c - the MPI layer of memfab sweep (see sweep.h). Compiled with
 * mpicc and linked into the memfab binary only when mpicc is available;
 * the library and the tests never include it.
 *
 * MPI is initialized only when a launcher set the environment (Open MPI's
 * OMPI_COMM_WORLD_SIZE, PMIx, PMI/Slurm), so a plain `memfab sweep` never
 * starts MPI. Workers fork after MPI_Init and never call MPI themselves.
 */
#include "tools/sweep.h"

#include <stdlib.h>

#include <mpi.h>

static int active;

int swp_mpi_init(int *rank, int *size)
{
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_SIZE") &&
        !getenv("PMI_RANK"))
        return 0;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return 0;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    active = 1;
    return 1;
}

void swp_mpi_barrier(void)
{
    if (active)
        MPI_Barrier(MPI_COMM_WORLD);
}

int swp_mpi_max(int v)
{
    int out = v;
    if (active)
        MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
}

void swp_mpi_finalize(void)
{
    if (active)
        MPI_Finalize();
    active = 0;
}
