/*
 * rnic.h - an RDMA NIC (type: rnic; ConnectX / BlueField class) as a node
 * of the fabric: on its host's PCIe tree with a network port (Ethernet /
 * RoCEv2 or InfiniBand), reliable-connected queue pairs, and the data
 * paths `rdma` (RDMA WRITE; GPUDirect RDMA when an end is a GPU), `rdma_read`
 * (RDMA READ, the destination's NIC pulls), `rdma_send` (two-sided SEND into
 * a receive the far host posted), `rdma_staged` (GPU ends staged through
 * host DRAM) and `rdma_host` (received by the host stack) of fabric.h.
 *
 * What a message of b bytes costs (paths.c builds it as one itinerary;
 * the InfiniBand Architecture Specification vol. 1 ch. 9-10 for the RC
 * transport; Kalia et al., ATC 2016, for doorbells, WQEs and CQEs on PCIe):
 *   post        the host CPU writes a doorbell (`doorbell` bytes, an MMIO
 *               posted write host -> NIC, with the WQE inline as BlueFlame
 *               does) and pays `post_cpu` of CPU time;
 *   read        the NIC DMA-reads the payload from the source memory (the
 *               GPU's HBM through the PCIe switch with GPUDirect RDMA, or
 *               host DRAM);
 *   send        the transmit pipeline: 1 / message_rate per message plus
 *               1 / packet_rate per packet of `mtu` payload bytes;
 *   wire        the network links (their protocol: headers per packet,
 *               ACKs back), switches, ECMP;
 *   receive     the receive pipeline of the far NIC, same costs;
 *   write       the far NIC DMA-writes the payload into the destination
 *               memory (posted writes);
 *   complete    after the ACK, a completion (`cqe` bytes, a posted write
 *               NIC -> host) lands in the requester's host memory.
 * Semantic routing (`semantic_routing: true`): a match-action table of
 * sessions (LRU, `table_entries`); a KV message of a session (fabric_req
 * .session) that hits is delivered peer to peer to the GPU, a miss goes to
 * the Arm cores (`miss_path: arm`: arm_packet_time per packet on a pool of
 * arm_cores) or to the host stack (`miss_path: host`, path rdma_host) and
 * installs the entry. Stated simplification: the lookup (and the install on
 * a miss) happens when the message is planned, not when its first packet
 * reaches the NIC, so a message right behind a miss of its session hits;
 * fabric_kv_place installs an entry at once, its PCIe write travelling
 * meanwhile.
 * Queue pairs: one RC QP per (local NIC, remote NIC) pair, created on first
 * use, with at most `qp_window` messages outstanding; later messages wait
 * (FIFO) for a slot. rdma_staged: the sender's GPU copy engine writes the
 * payload into host DRAM and the NIC reads it from there; the receiver's
 * NIC writes host DRAM and the GPU reads it: each byte crosses each host's
 * DRAM twice and each copy costs its own host `launch_cpu` (the sender's
 * host its copy out, the receiver's host its copy in).
 */
#ifndef MEMFAB_MODELS_FABRIC_RNIC_H
#define MEMFAB_MODELS_FABRIC_RNIC_H

#include "sim/sim.h"

extern const sim_model rnic_model;   /* type: rnic */

#endif
