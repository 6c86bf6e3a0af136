/*
 * upi.h - the socket interconnect (UPI, Infinity Fabric) as a fabric link
 * protocol (type: upi): a full-duplex link of `bandwidth` per direction and
 * a one-way `latency` (the NUMA penalty of a remote DRAM access).
 *
 * Assumptions: the link is a rate, not a packet protocol. Payload bytes
 * occupy the wire one for one (UPI's 80 B flits carrying 64 B lines are
 * folded into the configured bandwidth, which users set to the measured
 * data rate); read requests and write responses cost latency only; `mode:
 * packet` does not cut transfers at its 64 B forwarding unit.
 *
 * Energy: the engine charges every wire bit a link direction serves (payload,
 * headers, framing, link-layer share; engine.h) the link's `energy` in pJ/bit
 * (SerDes of the transmitter and the receiver together; idle lanes cost
 * nothing: the model is energy-proportional). Intel publishes no UPI figure; the
 * default, 3.86 pJ/bit, is the 16 GT/s NRZ SerDes class of PCIe Gen4
 * (pcie.h: twice Bae et al.'s 1.93 pJ/bit transmitter). Here wire bytes are
 * the payload bytes, so B bytes cost exactly 8 x B x energy.
 *
 * NUMA: a host entered from another host over a socket link pays no root
 * complex latency (devices.c cpu_entry_waived), so a device's read of
 * remote-socket DRAM costs its local read plus 2 x latency + 64 B /
 * bandwidth (the request and the data each cross once), and its
 * bandwidth is min(bandwidth, the remote DRAM's, the device's links).
 *
 * Presets (`preset:`; an entry's own keys override them):
 *   spr-upi-4x16gt    Intel Xeon 4th gen (Sapphire Rapids) 2-socket: 4 UPI
 *                     2.0 links at 16 GT/s (Intel product specifications,
 *                     Xeon Platinum 8480+), 20 lanes each: 40 GB/s raw per
 *                     link and direction, x 64/80 (above) = 128 GB/s.
 *                     No published idle-latency measurement was found for
 *                     it: latency stays the model's default (100 ns).
 *   genoa-xgmi-4x32g  AMD EPYC 9004 (Genoa) 2-socket: 4 xGMI3 links, x16 at
 *                     32 Gb/s (AMD EPYC 9004 platform documentation): 256
 *                     GB/s raw per direction (no published efficiency; raw).
 *                     latency 46.4 ns: an Intel MLC v3 idle-latency matrix
 *                     of a 2-socket EPYC 9224 (DDR5, NPS2), published with a
 *                     CXL-expander study on GitHub: local 105.9-107.5 ns,
 *                     remote socket 199.0-200.7 ns (means 106.8 and 199.9),
 *                     so a 93.1 ns penalty = 2 x 46.4 ns + 64 B / 256 GB/s.
 *                     A calibration, reproduced in check_hw_fidelity.
 */
#ifndef MEMFAB_MODELS_FABRIC_UPI_H
#define MEMFAB_MODELS_FABRIC_UPI_H

#include "sim/sim.h"

extern const sim_model upi_model;   /* type: upi (a link) */
extern const sim_preset upi_presets[]; /* its presets, ending with {NULL} */

#endif
