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
 */
#ifndef MEMFAB_MODELS_FABRIC_UPI_H
#define MEMFAB_MODELS_FABRIC_UPI_H

#include "sim/sim.h"

extern const sim_model upi_model;   /* type: upi (a link) */

#endif
