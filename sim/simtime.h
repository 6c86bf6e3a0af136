/*
 * simtime.h - simulated time. Time is an unsigned 64-bit count of picoseconds
 * (about 213 days of range); sizes are unsigned 64-bit byte counts.
 */
#ifndef MEMFAB_SIM_SIMTIME_H
#define MEMFAB_SIM_SIMTIME_H

#include <stdint.h>

typedef uint64_t sim_time;

#define SIM_PS ((sim_time)1)
#define SIM_NS ((sim_time)1000)
#define SIM_US ((sim_time)1000000)
#define SIM_MS ((sim_time)1000000000)
#define SIM_S ((sim_time)1000000000000ULL)
#define SIM_TIME_MAX UINT64_MAX

/* Seconds as a double, for reporting. */
static inline double sim_time_to_s(sim_time t) { return (double)t * 1e-12; }

#endif
