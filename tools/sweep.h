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

/* A sweep built in memory (memfab study): points that may each name their
 * own scenario, run and merged by the machinery of memfab sweep (workers,
 * -j, MPI ranks, resume, locks, progress). swp_new returns a sweep owned by
 * the caller (free with swp_free); `file` is the file that describes it
 * (hashed into every point id, named in errors); `work` NULL is OUT.d. */
typedef struct swp_sweep swp_sweep;
swp_sweep *swp_new(const char *name, const char *file, const char *out, const char *work);
void swp_free(swp_sweep *s);
/* Add a point: `scenario` with the overrides keys[i]=vals[i]. Returns its
 * index (>= 0) or a negative SIM_E* code. */
int swp_add(swp_sweep *s, const char *scenario, char *const *keys, char *const *vals, size_t n,
            sim_err *err);
/* Point ids, and every point's overrides checked against the scenario schema. */
int swp_prepare(swp_sweep *s, sim_err *err);
size_t swp_npoints(const swp_sweep *s);
const char *swp_point_id(const swp_sweep *s, size_t i);   /* its sweep.point param */
const char *swp_output(const swp_sweep *s);
/* Run the points that are not complete (jobs 0: one per CPU, or 1 under MPI)
 * and merge them into the output. progress_mode: 0 as memfab sweep, 1 as
 * --progress, -1 quiet. *is_rank0 says whether this process merged (and
 * should report). Returns an exit status (SIM_EXIT_*). swp_end finalizes
 * MPI when it was started. */
int swp_run(swp_sweep *s, int jobs, int progress_mode, int *is_rank0);
void swp_end(void);

/* Where the time of the last sweep run in this process went (memfab sweep
 * --timing, memfab bench sweep): wall seconds and CPU seconds (user +
 * system). Under MPI, each rank's own; only rank 0 merges. */
typedef struct swp_timing {
    double run_wall;       /* running the points (fork, wait, reap) */
    double run_cpu;        /* this process's CPU meanwhile: the scheduler */
    double workers_cpu;    /* CPU of the worker processes it reaped */
    size_t points_run;     /* points run (complete or failed), not those skipped */
    int jobs;              /* worker processes */
    int merged;            /* this process merged (the fields below are set) */
    double merge_wall;     /* the wall the merge adds: after the points (its hand-over,
                              the points left, sweep_summary, sync) and its start */
    double merge_cpu;      /* all of the merge's CPU, merge_beside_cpu included */
    size_t merged_records; /* points merged from their record files */
    size_t merged_beside;  /* points merged beside the running points (sweep.c) */
    double merge_beside_cpu; /* that child's CPU */
} swp_timing;
void swp_last_timing(swp_timing *t);

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
