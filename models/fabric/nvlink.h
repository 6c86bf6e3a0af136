/*
 * nvlink.h - NVLink (type: nvlink): a bundle of GPU-to-GPU (or GPU-to-
 * NVSwitch) links, the flit arithmetic as pure functions and the link
 * model.
 *
 * Rates per link and direction (NVIDIA whitepapers):
 *
 *   gen 3  A100 ("NVIDIA A100 Tensor Core GPU Architecture", 2020): 4
 *          signal pairs per direction at 50 Gb/s = 25 GB/s; 12 links,
 *          600 GB/s in total (both directions)
 *   gen 4  H100 ("NVIDIA H100 Tensor Core GPU Architecture", 2022): 2
 *          pairs per direction at 100 Gb/s (PAM4) = 25 GB/s; 18 links,
 *          900 GB/s in total
 *   gen 5  B200 ("NVIDIA Blackwell Architecture Technical Brief", 2024):
 *          2 pairs at 200 Gb/s = 50 GB/s; 18 links, 1.8 TB/s in total
 *
 *   raw rate = links x per-link rate per direction. NVIDIA quotes these
 *   as the links' bandwidth; we take them as the rate flits move at (no
 *   further line coding is charged: assumption).
 *
 * Packets. NVIDIA publishes no packet format after NVLink 1; we assume
 * the one Foley and Danskin describe for it ("Ultra-performance Pascal GPU
 * and NVLink interconnect", IEEE Micro 37(2), 2017) holds for all three
 * generations: 16 B (128-bit) flits; a packet is one header flit (command,
 * address, CRC) and up to 16 data flits, i.e. at most 256 B of data.
 * Optional address-extension and byte-enable flits are not charged.
 *
 *   write  of b bytes: ceil(b/256) packets, each 1 header flit + its data
 *          in whole flits, one way; one response flit per packet back
 *          (writes are acknowledged: assumption)
 *   read   of b bytes: one request flit per 256 B one way, responses of
 *          1 header flit + data flits the other
 *
 *   so a stream of 256 B packets runs at 256/272 = 94.1% of the raw rate.
 *
 * Pieces add up: a packet's header (and its response or request flit) is
 * counted in the piece holding its first data byte, a data flit in the
 * piece holding its first byte (packets start at multiples of 256 B, so
 * flit boundaries are multiples of 16 B).
 *
 * Energy: the engine charges every wire bit a link direction serves (payload,
 * headers, framing, link-layer share; engine.h) the link's `energy` in pJ/bit
 * (SerDes of the transmitter and the receiver together; idle lanes cost
 * nothing: the model is energy-proportional). Default 1.3 pJ/bit for every
 * generation: NVIDIA's figure for NVLink data transmission ("What Is
 * NVLink?", NVIDIA blog 2023; measured on NVLink-C2C, Wei et al., ISSCC
 * 2023, paper 9.3). Off-package links through NVSwitch cost more; set
 * `energy:` when a measured figure is at hand.
 */
#ifndef MEMFAB_MODELS_FABRIC_NVLINK_H
#define MEMFAB_MODELS_FABRIC_NVLINK_H

#include <stdint.h>

#include "sim/sim.h"

enum {
    NVLINK_FLIT_BYTES = 16,     /* one flit */
    NVLINK_MAX_DATA = 256       /* data bytes per packet (16 flits) */
};

/* One bundle's configuration. */
typedef struct nvlink_cfg {
    int gen;             /* 3, 4, 5 */
    int links;           /* links bundled, 1..18 */
} nvlink_cfg;

/* Validate: 0, or SIM_EINVAL with a reason in *why and the key in *key. */
int nvlink_cfg_check(const nvlink_cfg *cfg, const char **why, const char **key);

/* Per link and direction: bytes/s, signal pairs and Gb/s per pair. */
double nvlink_link_rate(int gen);
int nvlink_pairs(int gen);
double nvlink_pair_rate(int gen);
/* Raw bytes/s per direction of the bundle. */
double nvlink_raw_rate(const nvlink_cfg *cfg);

/* Wire bytes of the piece [off, off + bytes) of a transfer of op
 * (FAB_OP_*) in direction dir (FAB_DIR_*), and the packets starting in it. */
double nvlink_wire_bytes_at(const nvlink_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir);
uint64_t nvlink_packets_at(const nvlink_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir);
/* Payload efficiency of full packets: 256 / 272. */
double nvlink_packet_efficiency(void);
/* Goodput (payload bytes/s) of a stream of `size`-byte transfers of op. */
double nvlink_model_bw(const nvlink_cfg *cfg, int op, uint64_t size);

/* A link component's configuration (NULL if c is not an nvlink). */
const nvlink_cfg *nvlink_link_cfg(const sim_comp *c);

extern const sim_model nvlink_model;   /* type: nvlink */

#endif
