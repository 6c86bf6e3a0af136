/*
 * infiniband.h - InfiniBand links (type: infiniband): the packet
 * arithmetic of the IBA reliable-connected (RC) transport as pure
 * functions, shared with RoCE (ethernet.h), and the link model built on it.
 *
 * Rates (data rate per lane after line coding; InfiniBand Architecture
 * Specification vol. 2 (physical layer) rel. 1.4/1.5 and NVIDIA's adapter
 * documentation: ConnectX-5 EDR 100 Gb/s, ConnectX-6 HDR 200 Gb/s,
 * ConnectX-7 NDR 400 Gb/s, ConnectX-8 XDR 800 Gb/s at 4x):
 *
 *   EDR  25.78125 Gb/s NRZ per lane, 64b/66b             ->  25 Gb/s
 *   HDR  53.125 Gb/s PAM4, 256b/257b + RS(544,514) FEC   ->  50 Gb/s
 *   NDR  106.25 Gb/s PAM4, same coding                   -> 100 Gb/s
 *   XDR  212.5 Gb/s PAM4, same coding                    -> 200 Gb/s
 *
 *   raw rate = lane data rate x width (1x, 2x, 4x, 8x, 12x) / 8 bytes/s per
 *   direction; the signalling rate (`line_rate`) = data rate / coding
 *   efficiency, e.g. 50 x 257/256 x 544/514 = 53.125 Gb/s. The PAM4 rates
 *   use the coding of the Ethernet PHYs of the same lane rate (IEEE 802.3
 *   clauses 119/134); that HDR..XDR use exactly it is our assumption.
 *
 * Packets (IBA vol. 1 rel. 1.4: ch. 5 "Data packet format", ch. 7 link
 * layer, ch. 8 network layer, ch. 9 transport layer; section numbers as
 * in that release):
 *
 *   per packet   LRH 8 + BTH 12 + ICRC 4 + VCRC 2 = 26 B (LRH, VCRC: ch. 7;
 *                BTH: sec. 9.2; ICRC: ch. 5), + GRH 40 B when routed
 *                (grh: true; sec. 8.3)
 *   payload      up to the path MTU (256, 512, 1024, 2048 or 4096 B: the
 *                MTU counts payload only), padded to a multiple of 4 B
 *                (the BTH's PadCnt, sec. 9.2)
 *   RDMA WRITE   First/Only packet + RETH 16 B (sec. 9.3, 9.4); the
 *                responder's ACK = BTH + AETH 4 B (sec. 9.3, 9.7)
 *   RDMA READ    one request packet (BTH + RETH, no payload) the other
 *                way; response First/Last/Only + AETH 4 B, Middle none
 *                (sec. 9.4, 9.7)
 *   ACKs         the responder may coalesce them (sec. 9.7); with
 *                ack_every N it sends one per N request packets, with 0
 *                one per message (acknowledging the last packet, whose
 *                AckReq bit the requester sets). READ responses need none.
 *
 * Not charged: the physical layer's packet delimiters and idles, link
 * flow-control packets (6 B each, ch. 7), SKIP ordered sets; credits
 * are not modelled (the receiver never stalls the link).
 *
 * Pieces: the engine prices any piece [off, off + bytes) of a message. A
 * packet (its headers, its RETH or AETH) is counted in the piece that
 * holds its first payload byte, a 4 B pad word in the piece that holds its
 * first byte, and the second AETH of a multi-packet READ response (on the
 * Last packet) in the piece that holds packet 1, which exists exactly when
 * there is a Last packet. The ACK of a group of N packets is counted with
 * the group's first packet; the one ACK of a message with its first byte.
 * So pieces of any size add up exactly to the whole message.
 *
 * Energy: the engine charges every wire bit a link direction serves (payload,
 * headers, framing, link-layer share; engine.h) the link's `energy` in pJ/bit
 * (SerDes of the transmitter and the receiver together; idle lanes cost
 * nothing: the model is energy-proportional). Default 5.5 pJ per line bit, the
 * 112G-class PAM4 SerDes of ethernet.h (Wei et al., ISSCC 2023, 9.3), over
 * the lane's coding efficiency; optics not included.
 */
#ifndef MEMFAB_MODELS_FABRIC_INFINIBAND_H
#define MEMFAB_MODELS_FABRIC_INFINIBAND_H

#include <stdint.h>

#include "sim/sim.h"

/* IBA transport header sizes (vol. 1 ch. 5, 9). */
enum {
    IB_LRH_BYTES = 8,    /* local route header */
    IB_GRH_BYTES = 40,   /* global route header */
    IB_BTH_BYTES = 12,   /* base transport header */
    IB_RETH_BYTES = 16,  /* RDMA extended header (WRITE First/Only, READ request) */
    IB_AETH_BYTES = 4,   /* ACK extended header (ACK, READ response First/Last/Only) */
    IB_ICRC_BYTES = 4,   /* invariant CRC */
    IB_VCRC_BYTES = 2    /* variant CRC */
};

enum { IB_EDR = 0, IB_HDR = 1, IB_NDR = 2, IB_XDR = 3 };

/* One link's configuration. */
typedef struct ib_cfg {
    int rate;            /* IB_EDR .. IB_XDR */
    int width;           /* lanes: 1, 2, 4, 8, 12 */
    uint32_t mtu;        /* path MTU, payload bytes per packet (256..4096, power of two) */
    int grh;             /* 1: every packet carries a GRH */
    uint32_t ack_every;  /* responder ACK per N WRITE packets (0: one per message) */
} ib_cfg;

/* Validate: 0, or SIM_EINVAL with a reason in *why and the key in *key. */
int ib_cfg_check(const ib_cfg *cfg, const char **why, const char **key);

/* Per-lane data rate (after coding) and signalling rate, bits/s; their
 * ratio is the coding efficiency. */
double ib_lane_rate(int rate);
double ib_lane_signal(int rate);
double ib_coding_efficiency(int rate);
/* Raw bytes/s per direction (data rate x width / 8) and the line rate in
 * bits/s (signalling rate x width). */
double ib_raw_rate(const ib_cfg *cfg);
double ib_line_rate(const ib_cfg *cfg);
/* Bytes per packet outside payload and extended headers: LRH, BTH, ICRC,
 * VCRC (+ GRH). */
uint32_t ib_pkt_overhead(const ib_cfg *cfg);
/* The largest IB MTU (256..4096) not above `room` bytes, 0 if none. */
uint32_t ib_mtu_fit(uint64_t room);

/* The RC transport of one message on any link: packets of up to pmtu
 * payload bytes, each costing `hdr` bytes of framing and headers besides
 * its payload (padded to 4 B) and extended headers (see above). The wire
 * bytes of the piece [off, off + bytes) of a message of op (FAB_OP_*) in
 * direction dir (FAB_DIR_*), and in *pkts the packets that start in it. */
double ib_rc_wire_bytes_at(uint32_t pmtu, uint32_t hdr, uint32_t ack_every, int op,
                           uint64_t off, uint64_t bytes, int dir, uint64_t *pkts);

/* The same on an InfiniBand link; packets of the piece. */
double ib_wire_bytes_at(const ib_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir);
uint64_t ib_packets_at(const ib_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir);
/* Payload efficiency of a stream of MTU-sized WRITE packets: mtu / (mtu + overhead). */
double ib_mtu_efficiency(const ib_cfg *cfg);
/* Goodput (payload bytes/s) of a back-to-back stream of `size`-byte
 * messages of op on an idle link: the direction that saturates first binds. */
double ib_model_bw(const ib_cfg *cfg, int op, uint64_t size);

/* A link component's configuration (NULL if c is not an infiniband link). */
const ib_cfg *ib_link_cfg(const sim_comp *c);

extern const sim_model ib_model;   /* type: infiniband */

#endif
