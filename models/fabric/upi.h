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
 */
#ifndef MEMFAB_MODELS_FABRIC_UPI_H
#define MEMFAB_MODELS_FABRIC_UPI_H

#include "sim/sim.h"

extern const sim_model upi_model;   /* type: upi (a link) */

#endif
