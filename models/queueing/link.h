/*
 * link.h - a generic full-duplex point-to-point link.
 *
 * Each direction is an independent FIFO server: a packet of b bytes holds
 * the direction for (b + overhead) / bandwidth (serialization), then
 * arrives at the far end `latency` later (propagation). Packets queue in
 * arrival order while the direction is busy, so a link fed by Poisson
 * arrivals with exponential sizes is an M/M/1 queue, with deterministic
 * sizes an M/D/1 queue (tests/check_link.c holds it to those formulas).
 *
 * Results: a `links` row per direction (bytes, packets, busy time,
 * utilization = busy / elapsed), queueing-delay statistics (wait_*: from
 * arrival at the link to start of transmission, over the packets that
 * started; queued_at_end counts those still waiting when the run stopped,
 * whose waits are censored) per direction in `metrics`, and throughput per direction every output.sample_interval in
 * `timeseries` (bytes whose transmission finished in the interval, over
 * the interval).
 */
#ifndef MEMFAB_MODELS_LINK_H
#define MEMFAB_MODELS_LINK_H

#include "sim/sim.h"

extern const sim_model link_model;

#endif
