/*
 * cxl.c - CXL flit arithmetic and the `cxl` link model (see cxl.h).
 */
#include "models/fabric/cxl.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "models/fabric/engine.h"
#include "models/fabric/pcie.h"

uint32_t cxl_flit_bytes(int flit) { return flit == CXL_FLIT_68 ? 68 : 256; }

uint32_t cxl_flit_payload(int flit)
{
    return flit == CXL_FLIT_68 ? 64 : flit == CXL_FLIT_256 ? 240 : 236;
}

double cxl_flit_efficiency(int flit)
{
    return (double)cxl_flit_payload(flit) / (double)cxl_flit_bytes(flit);
}

double cxl_raw_rate(const cxl_cfg *cfg)
{
    double enc = cfg->gts <= 32e9 + 1 ? 128.0 / 130.0 : 1.0;
    return cfg->gts * enc * (double)cfg->lanes / 8.0;
}

/* Lines starting in [offset, offset + bytes) of a line-aligned transfer:
 * each 64 B line is counted once, by the piece that holds its first byte,
 * so any cut of a transfer (flit payloads of 240 or 236 B, odd chunks)
 * adds up to ceil(size / 64) lines, as pcie_tlps_at counts TLPs. */
static uint64_t lines_at(uint64_t offset, uint64_t bytes)
{
    if (!bytes)
        return 0;
    return (offset + bytes + 63) / 64 - (offset + 63) / 64;
}

double cxl_wire_bytes_at(const cxl_cfg *cfg, int op, uint64_t offset, uint64_t bytes, int dir)
{
    uint64_t lines = lines_at(offset, bytes);
    /* data one way; a 16 B request (reads) or NDR completion (writes) slot
     * per line the other way */
    double payload = dir == PCIE_DIR_DATA ? (double)(lines * 64) : (double)(lines * 16);
    (void)op;
    return payload / cxl_flit_efficiency(cfg->flit);
}

double cxl_wire_bytes(const cxl_cfg *cfg, int op, uint64_t bytes, int dir)
{
    return cxl_wire_bytes_at(cfg, op, 0, bytes, dir);
}

sim_time cxl_wire_time(const cxl_cfg *cfg, int op, uint64_t bytes, int dir)
{
    return (sim_time)llround(cxl_wire_bytes(cfg, op, bytes, dir) * 1e12 / cxl_raw_rate(cfg));
}

/* ---- the protocol table the fabric engine prices cxl links with ------- */

static double proto_wire_bytes_at(const void *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                                  uint64_t *units)
{
    const cxl_cfg *x = cfg;
    double w = cxl_wire_bytes_at(x, op, off, bytes, dir);
    *units = (uint64_t)ceil(w / cxl_flit_bytes(x->flit));
    return w;
}

static double proto_raw_rate(const void *cfg) { return cxl_raw_rate(cfg); }

/* A piece's wire bytes depend on its offset only through the 64 B lines
 * it starts (lines_at). */
static uint64_t proto_offset_period(const void *cfg, int op, int dir)
{
    (void)cfg, (void)op, (void)dir;
    return 64;
}

/* The PCIe Gen5/Gen6 PHY's SerDes energy (6.5 pJ per line bit, cxl.h)
 * per wire (flit) bit: 128b/130b at 32 GT/s and below, none above. */
static double proto_energy(const void *cfg)
{
    const cxl_cfg *x = cfg;
    return 6.5 / (x->gts <= 32e9 + 1 ? 128.0 / 130.0 : 1.0);
}

static const fab_proto cxl_proto = {
    .name = "cxl",
    .wire_bytes_at = proto_wire_bytes_at,
    .offset_period = proto_offset_period,
    .raw_rate = proto_raw_rate,
    .packetized = 1,
    .write_response = 1, /* an NDR slot per line back */
    .energy_pj_bit = proto_energy,
};

static const fab_class cxl_class = {{fab_family}, &cxl_proto, NULL};

typedef struct cxl_state {
    fab_hdr hdr;          /* fabric engine state (must be first) */
    /* configuration */
    int flit;             /* CXL_FLIT_* */
    double gts;           /* transfers/s per lane */
    uint64_t lanes;       /* width */
    cxl_cfg cfg;          /* validated */
} cxl_state;

static const char *const flit_names[] = {"68B", "256B", "256B_lo", NULL};

static const sim_param cxl_params[] = {
    {"flit", SIM_P_ENUM, "68B", "",
     "flit format: 68B (CXL 1.1/2.0), 256B (3.x standard), 256B_lo (3.x latency-optimized)",
     offsetof(cxl_state, flit), flit_names},
    {"rate", SIM_P_GTS, "32 GT/s", "T/s", "signalling rate per lane",
     offsetof(cxl_state, gts), NULL},
    {"lanes", SIM_P_UINT, "16", "", "link width: 1..16", offsetof(cxl_state, lanes), NULL},
    {"latency", SIM_P_TIME, "25 ns", "ps", "one-way port-to-port latency of the hop",
     offsetof(cxl_state, hdr.latency), NULL},
    FAB_LINK_ENERGY_PARAM(cxl_state),
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int cxl_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    cxl_state *x = c->state;
    if (x->lanes < 1 || x->lanes > 16)
        return scn_error(err, node ? scn_map_get(node, "lanes") : NULL,
                         "cxl link '%s': lanes must be 1..16", c->name);
    if (!(x->gts > 0))
        return scn_error(err, node ? scn_map_get(node, "rate") : NULL,
                         "cxl link '%s': rate must be positive", c->name);
    x->cfg.flit = x->flit;
    x->cfg.gts = x->gts;
    x->cfg.lanes = (int)x->lanes;
    return fab_link_init(c, &x->cfg, cxl_flit_payload(x->flit), err);
}

const cxl_cfg *cxl_link_cfg(const sim_comp *c)
{
    if (!c || c->model != &cxl_model)
        return NULL;
    return &((const cxl_state *)c->state)->cfg;
}

static int cxl_finish(sim_comp *c, sim_err *err)
{
    cxl_state *x = c->state;
    fab_link_report(c);
    sim_report_metric(c->sim, c->name, "flit_efficiency", cxl_flit_efficiency(x->flit), "");
    sim_report_metric(c->sim, c->name, "raw_rate", cxl_raw_rate(&x->cfg), "B/s");
    return 0;
}

static void cxl_destroy(sim_comp *c)
{
    cxl_state *x = c->state;
    fab_hdr_destroy(&x->hdr);
}

const sim_model cxl_model = {
    .type = "cxl",
    .summary = "CXL link: 68 B or 256 B flits (standard / latency-optimized), full duplex",
    .params = cxl_params,
    .state_size = sizeof(cxl_state),
    .is_link = 1,
    .configure = cxl_configure,
    .handle = fab_handle,
    .sample = fab_link_sample,
    .series = fab_link_series,
    .finish = cxl_finish,
    .destroy = cxl_destroy,
    .send = fab_link_send,
    .ext = &cxl_class.ext,
};
