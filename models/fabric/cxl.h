/*
 * cxl.h - CXL links: flit arithmetic as pure functions and the `cxl` link
 * model (type: cxl) served by the fabric engine (engine.h).
 *
 * Flits (CXL 2.0 spec ch. 4 and CXL 3.0 spec ch. 6; fidelity-references.md):
 *   68 B flit (CXL 1.1/2.0): four 16 B slots (64 B) + 2 B CRC + 2 B protocol
 *       id: a stream of payload bytes occupies bytes x 68/64 of the wire.
 *   256 B flit (CXL 3.x), standard: 16 B of header/CRC/FEC, 240 B payload.
 *   256 B flit, latency-optimized: 20 B of overhead, 236 B payload.
 * Line encoding: 128b/130b at <= 32 GT/s (PCIe 5 PHY), none at 64 GT/s
 * (PCIe 6 PHY with the FEC inside the flit).
 * CXL.mem reads: the M2S request takes one 16 B slot per 64 B line in the
 * request direction, the data (S2M DRS) the payload bytes in the other;
 * writes: the data (M2S RwD) one way and a 16 B NDR slot per line back.
 * CXL.mem moves 64 B lines, so sizes are rounded up to whole lines. A
 * piece of a transfer (a fabric chunk or a flit's payload, which need not
 * be a multiple of 64 B) is charged for the lines that start in it
 * (cxl_wire_bytes_at), so the pieces of a transfer add up to its lines.
 *
 * Energy: the engine charges every wire bit a link direction serves (payload,
 * headers, framing, link-layer share; engine.h) the link's `energy` in pJ/bit
 * (SerDes of the transmitter and the receiver together; idle lanes cost
 * nothing: the model is energy-proportional). CXL runs on the PCIe Gen5/Gen6
 * PHY (CXL 2.0 and 3.x specifications), so its default is PCIe Gen5's
 * 6.5 pJ per line bit (pcie.h: NVIDIA's NVLink comparison), over 128/130 at
 * 32 GT/s and below.
 */
#ifndef MEMFAB_MODELS_CXL_H
#define MEMFAB_MODELS_CXL_H

#include <stdint.h>

#include "sim/sim.h"

enum { CXL_FLIT_68 = 0, CXL_FLIT_256 = 1, CXL_FLIT_256_LO = 2 };

typedef struct cxl_cfg {
    int flit;        /* CXL_FLIT_* */
    double gts;      /* transfers/s per lane */
    int lanes;       /* 1..16 */
} cxl_cfg;

/* Flit size and its payload bytes. */
uint32_t cxl_flit_bytes(int flit);
uint32_t cxl_flit_payload(int flit);
/* Payload efficiency of a flit: 64/68, 240/256 or 236/256. */
double cxl_flit_efficiency(int flit);
/* Raw bytes/s per direction after line encoding. */
double cxl_raw_rate(const cxl_cfg *cfg);
/* Wire bytes of `bytes` of data of op (PCIE_OP_WRITE / PCIE_OP_READ, from
 * pcie.h) in direction dir (PCIE_DIR_DATA / PCIE_DIR_REQ); _at: the piece
 * at `offset` of a line-aligned transfer (the lines that start in it). */
double cxl_wire_bytes(const cxl_cfg *cfg, int op, uint64_t bytes, int dir);
double cxl_wire_bytes_at(const cxl_cfg *cfg, int op, uint64_t offset, uint64_t bytes, int dir);
sim_time cxl_wire_time(const cxl_cfg *cfg, int op, uint64_t bytes, int dir);

const cxl_cfg *cxl_link_cfg(const sim_comp *c);

extern const sim_model cxl_model;

#endif
