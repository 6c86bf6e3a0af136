/*
 * nic.h - a SmartNIC receive pipeline (in the style of NVIDIA BlueField-3):
 * an Ethernet port, a hardware parser / match-action stage, a pool of Arm
 * cores for the slow path, an optional DPA-like accelerator, and a DMA
 * engine that writes packets into host or GPU memory over the fabric.
 *
 * Wiring: a `source` sends frames over a link to the nic (type: nic); the
 * link is the cable and should be much faster than `line_rate` (the nic's
 * port serializes every frame at line rate with the wire overhead, so a
 * link at line rate would charge the wire time twice). Set line_rate:
 * 0 B/s to let the link be the wire. A packet's size is its Ethernet frame
 * (header and FCS included); a frame shorter than min_frame is padded; on
 * the wire it occupies max(frame, min_frame) + wire_overhead bytes
 * (preamble 7 + SFD 1 + inter-frame gap 12 = 20 B): a 64 B frame takes
 * 84 B, so 400 GbE (50 GB/s) carries at most 50e9 / 84 = 595.2 Mpps of
 * 64 B frames and 50e9 / 1538 = 32.5 Mpps of full-size frames (1500 B MTU
 * payload + 14 B header + 4 B FCS = 1518 B).
 *
 * With `device` (an `endpoint` component: the NIC's PCIe function) and
 * `deliver_to` (a cpu, gpu or memory component) delivered packets reach
 * memory through fabric_transfer(device -> deliver_to, path DMA), in
 * batches of dma_batch packets with one completion entry each, so the PCIe
 * links carry the traffic. Without `device`, the DMA completes at once.
 *
 * Queues between stages are bounded; the order in which a stage's servers
 * take queued packets is a scheduler policy, chosen by name (`scheduler:`):
 * fifo, round_robin (per flow, packet by packet), strict_priority (class 0
 * first; a full queue pushes out the newest lower-class packet for a
 * higher-class arrival). Otherwise a full queue drops the arrival. See nic.c for the pipeline drawing, the
 * packet state machine and its invariant.
 *
 * Results (scope: the nic): per stage S in wire, parser, arm, dpa, dma:
 * S:served, S:drops, S:throughput (packets/s), S:throughput_bytes (B/s),
 * S:utilization (busy server time / (servers x elapsed)),
 * S:wait_{mean,p50,p90,p99,max,count} (s), S:queued_at_end; nic-wide:
 * arrived, delivered, dropped, in_flight, packet_rate (delivered/s),
 * throughput (delivered frame B/s), latency_* (port arrival to memory
 * completion, s), dma_transfers, dma_bytes, per priority class
 * prioK:delivered, prioK:drops, prioK:latency_mean. Time series every
 * output.sample_interval: queue:S (packets waiting) and packet_rate.
 */
#ifndef MEMFAB_MODELS_NIC_H
#define MEMFAB_MODELS_NIC_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"

/* Pipeline stages, in the order a packet can visit them. */
enum {
    NIC_STAGE_WIRE = 0,   /* Ethernet port: serialization at line rate */
    NIC_STAGE_PARSER,     /* hardware parser / match-action, packets/s */
    NIC_STAGE_ARM,        /* Arm core pool: slow path */
    NIC_STAGE_DPA,        /* datapath accelerator (optional) */
    NIC_STAGE_DMA,        /* host-facing DMA (batches in flight) */
    NIC_NSTAGES
};

/* Counters of one stage (see nic_get_stats). */
typedef struct nic_stage_stats {
    const char *name;          /* "wire", "parser", "arm", "dpa", "dma" */
    uint32_t servers;          /* parallel servers (0: stage bypassed) */
    uint32_t capacity;         /* queue bound, packets */
    uint64_t served;           /* packets whose service started and ended */
    uint64_t drops;            /* packets refused by a full queue */
    uint64_t queued;           /* packets waiting now */
    uint64_t busy;             /* servers busy now */
    uint64_t max_queued;       /* highest queue occupancy seen */
    uint64_t min_len_at_drop;  /* smallest queue length seen at a drop (UINT64_MAX: none) */
    double wait_mean_s;        /* mean queueing delay of started packets */
} nic_stage_stats;

typedef struct nic_stats {
    uint64_t arrived;          /* frames received from the link */
    uint64_t delivered;        /* packets whose DMA completed */
    uint64_t dropped;          /* packets dropped anywhere */
    uint64_t in_flight;        /* queued, in service, in the parser pipeline or in DMA */
    uint64_t dma_transfers;    /* DMA batches completed */
    uint64_t dma_bytes;        /* bytes those batches moved (payload + completions) */
    double latency_mean_s;     /* port arrival -> memory, delivered packets */
    nic_stage_stats stage[NIC_NSTAGES];
} nic_stats;

/* Wire arithmetic. Time (ps, rounded) a frame of `frame` bytes holds a port
 * of `line_rate` bytes/s, and the largest frame rate of such a port. */
sim_time nic_wire_time(double line_rate, uint64_t frame, uint64_t min_frame, uint64_t overhead);
double nic_max_pps(double line_rate, uint64_t frame, uint64_t min_frame, uint64_t overhead);

/* Scheduler policies, registered by name in a table in nic.c. */
size_t nic_sched_count(void);
const char *nic_sched_name(size_t i);   /* NULL when i is out of range */

/* Counters of a nic component: 0, or SIM_EINVAL when c is not a nic. */
int nic_get_stats(const sim_comp *c, nic_stats *out);

extern const sim_model nic_model;       /* type: nic */

#endif
