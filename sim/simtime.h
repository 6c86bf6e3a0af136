/*
 * simtime.h - simulated time. Time is an unsigned 64-bit count of picoseconds
 * (about 213 days of range); sizes are unsigned 64-bit byte counts.
 */
#ifndef MEMFAB_SIM_SIMTIME_H
#define MEMFAB_SIM_SIMTIME_H

#include <math.h>
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

/* (sim_time)llround(x) for every x, computed inline on [0, 2^63) (the
 * libm call was 2% of a replay's instructions): the integer part, plus
 * one when the fraction is at least a half (half away from zero, as
 * llround). The fraction x - trunc(x) is exact in binary floating point
 * (Sterbenz's lemma; x itself when the integer part is 0). */
static inline sim_time sim_round_ps(double x)
{
    if (!(x >= 0 && x < 9223372036854775808.0))
        return (sim_time)llround(x);
    sim_time t = (sim_time)x;
    return x - (double)t >= 0.5 ? t + 1 : t;
}

#endif