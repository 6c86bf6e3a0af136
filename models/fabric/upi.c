/*
 * upi.c - the `upi` socket-interconnect link and its protocol table (upi.h).
 */
#include "models/fabric/upi.h"

#include <stddef.h>

#include "models/fabric/engine.h"

typedef struct upi_state {
    fab_hdr hdr;          /* fabric engine state (must be first) */
    /* configuration */
    double bw;            /* bytes/s per direction */
    const char *preset;   /* socket-link preset or "" */
} upi_state;

/* Data bytes one for one; the request direction carries nothing. */
static double upi_wire_bytes_at(const void *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                                uint64_t *units)
{
    *units = dir == FAB_DIR_DATA ? 1 : 0;
    return dir == FAB_DIR_DATA ? (double)bytes : 0.0;
}

static double upi_raw_rate(const void *cfg) { return *(const double *)cfg; }

/* A 16 GT/s-class NRZ SerDes, as PCIe Gen4's (upi.h): 3.86 pJ/bit. */
static double upi_energy(const void *cfg) { return 3.86; }

static const fab_proto upi_proto = {
    .name = "upi",
    .wire_bytes_at = upi_wire_bytes_at,
    .raw_rate = upi_raw_rate,
    .energy_pj_bit = upi_energy,
};

static const fab_class upi_class = {{fab_family}, &upi_proto, NULL};

/* Socket-link presets (upi.h head comment: sources). */
static const char *const p_spr_upi[] = {"bandwidth", "128 GB/s", NULL};
static const char *const p_genoa_xgmi[] = {"bandwidth", "256 GB/s", "latency", "46.4 ns", NULL};

const sim_preset upi_presets[] = {
    {"spr-upi-4x16gt", p_spr_upi},
    {"genoa-xgmi-4x32g", p_genoa_xgmi},
    {NULL, NULL}};

static const sim_param upi_params[] = {
    {"bandwidth", SIM_P_RATE, "40 GB/s", "B/s", "bandwidth per direction",
     offsetof(upi_state, bw), NULL},
    {"latency", SIM_P_TIME, "100 ns", "ps", "one-way latency (the NUMA penalty)",
     offsetof(upi_state, hdr.latency), NULL},
    FAB_LINK_ENERGY_PARAM(upi_state),
    {"preset", SIM_P_STRING, "", "",
     "socket-link preset (spr-upi-4x16gt, genoa-xgmi-4x32g); the entry's own keys override "
     "its values",
     offsetof(upi_state, preset), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int upi_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    upi_state *u = c->state;
    if (!(u->bw > 0))
        return scn_error(err, node, "upi link '%s': bandwidth must be positive", c->name);
    return fab_link_init(c, &u->bw, 64, err);
}

static int upi_finish(sim_comp *c, sim_err *err)
{
    fab_link_report(c);
    return 0;
}

static void upi_destroy(sim_comp *c) { fab_hdr_destroy(c->state); }

const sim_model upi_model = {
    .type = "upi",
    .summary = "socket-to-socket link (UPI / Infinity Fabric): bandwidth, NUMA latency",
    .params = upi_params,
    .state_size = sizeof(upi_state),
    .is_link = 1,
    .configure = upi_configure,
    .handle = fab_handle,
    .sample = fab_link_sample,
    .series = fab_link_series,
    .finish = upi_finish,
    .destroy = upi_destroy,
    .send = fab_link_send,
    .ext = &upi_class.ext,
    .presets = upi_presets,
};
