/*
 * nvlink.c - NVLink flit arithmetic and the `nvlink` link model (see
 * nvlink.h).
 */
#include "models/fabric/nvlink.h"

#include <stddef.h>
#include <stdio.h>

#include "models/fabric/engine.h"

/* ---- protocol arithmetic ---------------------------------------------- */

int nvlink_pairs(int gen) { return gen == 3 ? 4 : gen == 4 || gen == 5 ? 2 : 0; }

double nvlink_pair_rate(int gen)
{
    return gen == 3 ? 50e9 : gen == 4 ? 100e9 : gen == 5 ? 200e9 : 0.0;
}

double nvlink_link_rate(int gen) { return nvlink_pairs(gen) * nvlink_pair_rate(gen) / 8.0; }

double nvlink_raw_rate(const nvlink_cfg *cfg) { return nvlink_link_rate(cfg->gen) * cfg->links; }

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static uint64_t starts(uint64_t off, uint64_t bytes, uint64_t g)
{
    return bytes ? ceil_div(off + bytes, g) - ceil_div(off, g) : 0;
}

static double wire_at(int op, uint64_t off, uint64_t bytes, int dir, uint64_t *pkts)
{
    uint64_t n = starts(off, bytes, NVLINK_MAX_DATA);
    *pkts = n;
    if (dir == FAB_DIR_DATA) /* header flit + data flits */
        return (double)((n + starts(off, bytes, NVLINK_FLIT_BYTES)) * NVLINK_FLIT_BYTES);
    (void)op; /* read request or write response: one flit per packet */
    return (double)(n * NVLINK_FLIT_BYTES);
}

double nvlink_wire_bytes_at(const nvlink_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir)
{
    uint64_t n;
    (void)cfg;
    return wire_at(op, off, bytes, dir, &n);
}

uint64_t nvlink_packets_at(const nvlink_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir)
{
    uint64_t n;
    (void)cfg;
    wire_at(op, off, bytes, dir, &n);
    return n;
}

double nvlink_packet_efficiency(void)
{
    return (double)NVLINK_MAX_DATA / (double)(NVLINK_MAX_DATA + NVLINK_FLIT_BYTES);
}

double nvlink_model_bw(const nvlink_cfg *cfg, int op, uint64_t size)
{
    double data = nvlink_wire_bytes_at(cfg, op, 0, size, FAB_DIR_DATA);
    double req = nvlink_wire_bytes_at(cfg, op, 0, size, FAB_DIR_REQ);
    double busiest = data > req ? data : req;
    return busiest > 0 ? nvlink_raw_rate(cfg) / busiest * (double)size : 0.0;
}

int nvlink_cfg_check(const nvlink_cfg *cfg, const char **why, const char **key)
{
    const char *w = NULL, *k = NULL;
    if (cfg->gen < 3 || cfg->gen > 5)
        w = "gen must be 3 (A100), 4 (H100) or 5 (B200)", k = "gen";
    else if (cfg->links < 1 || cfg->links > 18)
        w = "links must be 1..18 (an H100 or B200 has 18, an A100 12)", k = "links";
    if (why)
        *why = w;
    if (key)
        *key = k;
    return w ? SIM_EINVAL : 0;
}

/* ---- the protocol table ------------------------------------------------ */

static double proto_wire_bytes_at(const void *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                                  uint64_t *units)
{
    (void)cfg;
    return wire_at(op, off, bytes, dir, units);
}

static double proto_raw_rate(const void *cfg) { return nvlink_raw_rate(cfg); }

/* NVIDIA's figure for NVLink (nvlink.h): 1.3 pJ/bit, every generation. */
static double proto_energy(const void *cfg) { return 1.3; }

static const fab_proto nvlink_proto = {
    .name = "nvlink",
    .wire_bytes_at = proto_wire_bytes_at,
    .raw_rate = proto_raw_rate,
    .packetized = 1,
    .write_response = 1, /* a response flit per write packet */
    .needs_port = 1,
    .energy_pj_bit = proto_energy,
};

static const fab_class nvlink_class = {{fab_family}, &nvlink_proto, NULL};

/* ---- the link model --------------------------------------------------- */

typedef struct nvlink_state {
    fab_hdr hdr;          /* fabric engine state (must be first) */
    /* configuration */
    uint64_t gen, links;  /* as read */
    nvlink_cfg cfg;       /* the validated configuration */
} nvlink_state;

static const sim_param nvlink_params[] = {
    {"gen", SIM_P_UINT, "4", "",
     "NVLink generation: 3 (A100), 4 (H100), 5 (B200): 25, 25, 50 GB/s per link and direction",
     offsetof(nvlink_state, gen), NULL},
    {"links", SIM_P_UINT, "18", "", "links bundled between the two ends (1..18)",
     offsetof(nvlink_state, links), NULL},
    {"latency", SIM_P_TIME, "10 ns", "ps", "one-way latency of the hop (propagation, PHY)",
     offsetof(nvlink_state, hdr.latency), NULL},
    FAB_LINK_ENERGY_PARAM(nvlink_state),
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int nvlink_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    nvlink_state *x = c->state;
    x->cfg.gen = x->gen > 64 ? 64 : (int)x->gen;
    x->cfg.links = x->links > 64 ? 64 : (int)x->links;
    const char *why, *key;
    if (nvlink_cfg_check(&x->cfg, &why, &key))
        return scn_error(err, node ? scn_map_get(node, key) : NULL, "nvlink '%s': %s (got %llu)",
                         c->name, why,
                         (unsigned long long)(key[0] == 'g' ? x->gen : x->links));
    return fab_link_init(c, &x->cfg, NVLINK_MAX_DATA, err);
}

const nvlink_cfg *nvlink_link_cfg(const sim_comp *c)
{
    if (!c || c->model != &nvlink_model)
        return NULL;
    return &((const nvlink_state *)c->state)->cfg;
}

static int nvlink_finish(sim_comp *c, sim_err *err)
{
    nvlink_state *x = c->state;
    fab_link_report(c);
    sim_report_metric(c->sim, c->name, "raw_rate", nvlink_raw_rate(&x->cfg), "B/s");
    sim_report_metric(c->sim, c->name, "line_rate",
                      nvlink_pair_rate(x->cfg.gen) * nvlink_pairs(x->cfg.gen) * x->cfg.links,
                      "b/s");
    sim_report_metric(c->sim, c->name, "efficiency_mtu", nvlink_packet_efficiency(), "");
    sim_report_metric(c->sim, c->name, "model_goodput:write",
                      nvlink_model_bw(&x->cfg, FAB_OP_WRITE, 1 << 20), "B/s");
    sim_report_metric(c->sim, c->name, "model_goodput:read",
                      nvlink_model_bw(&x->cfg, FAB_OP_READ, 1 << 20), "B/s");
    return 0;
}

static void nvlink_destroy(sim_comp *c)
{
    nvlink_state *x = c->state;
    fab_hdr_destroy(&x->hdr);
}

const sim_model nvlink_model = {
    .type = "nvlink",
    .summary = "NVLink 3/4/5 bundle of links: 16 B flits, a header flit per 256 B, full duplex",
    .params = nvlink_params,
    .state_size = sizeof(nvlink_state),
    .is_link = 1,
    .configure = nvlink_configure,
    .handle = fab_handle,
    .sample = fab_link_sample,
    .series = fab_link_series,
    .finish = nvlink_finish,
    .destroy = nvlink_destroy,
    .send = fab_link_send,
    .ext = &nvlink_class.ext,
};
