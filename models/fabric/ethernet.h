/*
 * ethernet.h - Ethernet links (type: ethernet) carrying RoCEv2, TCP or raw
 * frames: the frame arithmetic as pure functions and the link model.
 *
 * Rates (IEEE 802.3-2022). `speed` is the MAC data rate, and the raw rate
 * of a direction is speed / 8 bytes/s. The PHY sends more bits than that:
 *
 *   10, 25, 40 Gb/s     64b/66b (cl. 49, 107, 82): x 66/64 -> 10.3125,
 *                       25.78125, 41.25 Gb/s
 *   100 Gb/s            100GBASE-R over 4 lanes, 256b/257b transcoding +
 *                       RS(528,514) FEC (cl. 91): x 257/256 x 528/514
 *                       = 103.125 Gb/s (the same as 64b/66b)
 *   50, 200, 400, 800   256b/257b + RS(544,514) (cl. 134, 119, 172 of
 *                       802.3df-2024): x 257/256 x 544/514 -> 53.125,
 *                       212.5, 425, 850 Gb/s
 *
 * reported as `line_rate` with `coding_efficiency` = speed / line_rate.
 *
 * Frames (802.3 cl. 3 and 4): every frame costs preamble + SFD 8 B and an
 * inter-frame gap of 12 B (96 bit times, cl. 4.4.2) besides the frame:
 * MAC header 14 B (+ 4 B 802.1Q tag with vlan: true), FCS 4 B, and at
 * least 64 B of frame (minFrameSize, cl. 4.4.2), i.e. at least 46 B of MAC
 * client data (42 B when tagged, cl. 3.2.7), padded. `mtu` is the L3 MTU,
 * the MAC client data of the largest frame (1500 B standard, up to 9216 B
 * jumbo; jumbo frames are outside 802.3 but universal in data centres).
 *
 * Transports (per packet, inside the MAC client data):
 *
 *   roce   RoCEv2 (IBTA Annex A17, 2014): IPv4 20 + UDP 8 + BTH 12 +
 *          ICRC 4 = 44 B, then the IBA RC transport of infiniband.h: RETH
 *          16 B on the first packet of a WRITE and on a READ request, AETH
 *          4 B on ACKs and READ responses, payload padded to 4 B. Payload
 *          per packet = the largest IB MTU (256..4096 B) that fits in
 *          mtu - 60 B (44 B + the 16 B RETH, so that every packet fits);
 *          mtu 1500 -> 1024 B, 4200 (the default, NVIDIA's usual RoCE
 *          port MTU) or 9000 -> 4096 B. Every RoCE frame is >= 66 B, so
 *          never padded. ACKs: one per message unless ack_every is set.
 *   tcp    IPv4 20 + TCP 20 + timestamp option 12 B (RFC 7323, padded to
 *          a 4 B multiple) = 52 B, segments of MSS = mtu - 52 B; the
 *          receiver ACKs every 2nd segment (delayed ACK, RFC 1122
 *          4.2.3.2, RFC 5681 4.2) unless ack_every is set; an ACK is a
 *          header-only segment. A READ is a header-only request segment
 *          the other way, then the data. Frames >= 70 B, never padded.
 *   raw    MAC client data only (mtu per frame), padded to 46 B (42 B
 *          tagged); no ACKs (writes complete at delivery); a READ is a
 *          minimum-size request frame the other way.
 *
 * Pieces add up (see infiniband.h for RoCE): a packet's headers are
 * counted in the piece that holds its first payload byte. Raw padding: a
 * frame's first 46 (42) payload bytes are charged as a block, in the piece
 * that holds its first byte, and only bytes past them count one by one, so
 * every frame costs max(payload, 46) whatever the cut.
 *
 * Propagation: `latency`, or `cable_length` at 5 ns/m (light in silica
 * fibre, n ~ 1.47, and signals in twinax travel at about 2/3 c); default
 * 2 m = 10 ns. Switch latency belongs to switches, not to links.
 *
 * Energy: the engine charges every wire bit a link direction serves (payload,
 * headers, framing, link-layer share; engine.h) the link's `energy` in pJ/bit
 * (SerDes of the transmitter and the receiver together; idle lanes cost
 * nothing: the model is energy-proportional). Default 5.5 pJ per line bit, the
 * 112G-class PAM4 SerDes NVIDIA compares NVLink-C2C against (Wei et al.,
 * ISSCC 2023, paper 9.3: 1.3 vs 5.5 pJ/bit), over the PHY's coding efficiency
 * (64b/66b; 256b/257b with RS FEC), the same at every speed. Optics are not
 * included: a pluggable module adds its own (module watts / line rate), to
 * be added to `energy:`.
 */
#ifndef MEMFAB_MODELS_FABRIC_ETHERNET_H
#define MEMFAB_MODELS_FABRIC_ETHERNET_H

#include <stdint.h>

#include "sim/sim.h"

/* 802.3 framing and L3/L4 header sizes, bytes. */
enum {
    ETH_PREAMBLE_BYTES = 8,  /* preamble 7 + SFD 1 */
    ETH_IFG_BYTES = 12,      /* inter-frame gap, 96 bit times */
    ETH_HDR_BYTES = 14,      /* destination, source, EtherType */
    ETH_VLAN_BYTES = 4,      /* 802.1Q tag */
    ETH_FCS_BYTES = 4,       /* frame check sequence */
    ETH_MIN_FRAME = 64,      /* minFrameSize: header to FCS */
    ETH_IPV4_BYTES = 20,
    ETH_UDP_BYTES = 8,
    ETH_TCP_BYTES = 20,
    ETH_TCP_TS_BYTES = 12    /* timestamp option, with its NOP padding */
};

enum { ETH_ROCE = 0, ETH_TCP = 1, ETH_RAW = 2 };

/* One link's configuration. */
typedef struct eth_cfg {
    double speed;        /* MAC data rate, bits/s */
    uint32_t mtu;        /* L3 MTU, bytes (1500..9216) */
    int transport;       /* ETH_ROCE, ETH_TCP, ETH_RAW */
    int vlan;            /* 1: 802.1Q tag on every frame */
    uint32_t ack_every;  /* ACK per N data packets (0: the transport's default) */
} eth_cfg;

/* Validate: 0, or SIM_EINVAL with a reason in *why and the key in *key. */
int eth_cfg_check(const eth_cfg *cfg, const char **why, const char **key);
/* Is `bps` one of 10, 25, 40, 50, 100, 200, 400, 800 Gb/s? */
int eth_speed_ok(double bps);

/* PHY coding efficiency at a MAC rate (see above), the line rate in bits/s
 * (speed / efficiency) and the raw bytes/s per direction (speed / 8). */
double eth_coding_efficiency(double bps);
double eth_line_rate(const eth_cfg *cfg);
double eth_raw_rate(const eth_cfg *cfg);

/* Per-frame bytes outside the MAC client data (preamble, IFG, header, tag,
 * FCS), the transport's headers inside it, and their sum. */
uint32_t eth_frame_overhead(const eth_cfg *cfg);
uint32_t eth_l3_overhead(const eth_cfg *cfg);
uint32_t eth_pkt_overhead(const eth_cfg *cfg);
/* Payload bytes per packet (RoCE MTU, TCP MSS, or mtu for raw). */
uint32_t eth_payload_per_packet(const eth_cfg *cfg);
/* ACK period in data packets after defaults (0: one per message). */
uint32_t eth_ack_every(const eth_cfg *cfg);

/* Wire bytes of the piece [off, off + bytes) of a message of op
 * (FAB_OP_*) in direction dir (FAB_DIR_*), and the packets starting in it. */
double eth_wire_bytes_at(const eth_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir);
uint64_t eth_packets_at(const eth_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir);
/* Payload efficiency of a stream of full packets: payload / wire bytes. */
double eth_mtu_efficiency(const eth_cfg *cfg);
/* Goodput (payload bytes/s) of a back-to-back stream of `size`-byte
 * messages of op on an idle link: the direction that saturates first binds. */
double eth_model_bw(const eth_cfg *cfg, int op, uint64_t size);

/* A link component's configuration (NULL if c is not an ethernet link). */
const eth_cfg *eth_link_cfg(const sim_comp *c);

extern const sim_model eth_model;   /* type: ethernet */

#endif
