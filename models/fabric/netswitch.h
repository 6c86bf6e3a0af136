/*
 * netswitch.h - a network switch (type: net_switch) for Ethernet and
 * InfiniBand links: a node of the fabric whose ports are the network links
 * attached to it, with a finite buffer per egress port, store-and-forward
 * or cut-through forwarding, drop-tail or lossless (PFC) flow control and
 * ECN marking. Models after the output-queued switches of ns-3
 * (QueueDisc + PFC in its RDMA forks) and OMNeT++/INET.
 *
 * Latency of a packet through the switch (one packet of s ps on each link,
 * propagation p on each, port-to-port latency L):
 *   store_and_forward   s + p + L + s + p   (the whole packet is received,
 *                       then sent: the forwarding unit is one packet)
 *   cut_through         h + p + L + s + p   (sending starts once the first
 *                       `cut_through_bytes` h of it have arrived; the egress
 *                       never outruns the ingress: engine.h)
 * Buffers: each egress port holds at most `buffer` bytes of waiting
 * packets (not the one in service). drop: an arrival that does not fit is
 * dropped and resent by its flow after the fabric's `rto`; pfc: IEEE
 * 802.1Qbb - the bytes each ingress port has waiting in the switch above
 * `pfc_xoff` pause the sender of that ingress link (after its propagation
 * delay), below `pfc_xon` resume it; a paused sender stops all its traffic
 * (head-of-line blocking, one priority class). With PFC, size the buffer
 * above pfc_xoff + the in-flight headroom (2 x propagation x rate + one
 * packet per port) or drops still happen and are counted. ECN: arrivals
 * that find at least `ecn_threshold` bytes waiting are marked (counted;
 * senders do not react).
 * Results: on each link, per direction leaving the switch, drops,
 * drop_bytes, ecn_marks, queue_max; per direction entering it (PFC),
 * pause_time and pauses; on the switch, the queue of every port over time
 * (timeseries queue:LINK_DIRECTION, bytes, each sample interval).
 */
#ifndef MEMFAB_MODELS_FABRIC_NETSWITCH_H
#define MEMFAB_MODELS_FABRIC_NETSWITCH_H

#include "sim/sim.h"

extern const sim_model net_switch_model;   /* type: net_switch */

#endif
