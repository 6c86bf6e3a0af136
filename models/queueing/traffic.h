/*
 * traffic.h - packet sources and sinks for driving links.
 *
 * A source emits packets into the link it is attached to. Arrivals are
 * Poisson (exponential gaps of mean `interarrival`), deterministic (gaps
 * exactly `interarrival`) or on/off (Poisson arrivals during exponentially
 * distributed on periods of mean `on_time`, silence during off periods of
 * mean `off_time`). Sizes are fixed, exponential (mean `size`, rounded to
 * whole bytes), uniform on [size_min, size_max], lognormal (mean `size`,
 * shape `size_sigma`) or Pareto (mean `size`, shape `size_alpha` > 1),
 * all drawn from the component's own GSL stream. A packet carries its
 * creation time as its tag, so the sink measures end-to-end latency.
 *
 * A sink counts what arrives and reports received packets, bytes,
 * throughput and latency (creation to delivery) statistics.
 */
#ifndef MEMFAB_MODELS_TRAFFIC_H
#define MEMFAB_MODELS_TRAFFIC_H

#include "sim/sim.h"

extern const sim_model source_model;
extern const sim_model sink_model;

#endif
