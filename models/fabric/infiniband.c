/*
 * infiniband.c - IBA RC packet arithmetic and the `infiniband` link model
 * (see infiniband.h). Every cost the engine charges on an infiniband link
 * comes from ib_rc_wire_bytes_at() through the protocol table ib_proto.
 */
#include "models/fabric/infiniband.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "models/fabric/engine.h"

/* ---- protocol arithmetic ---------------------------------------------- */

double ib_lane_rate(int rate)
{
    static const double r[] = {25e9, 50e9, 100e9, 200e9};
    return rate >= IB_EDR && rate <= IB_XDR ? r[rate] : 0.0;
}

double ib_lane_signal(int rate)
{
    static const double r[] = {25.78125e9, 53.125e9, 106.25e9, 212.5e9};
    return rate >= IB_EDR && rate <= IB_XDR ? r[rate] : 0.0;
}

double ib_coding_efficiency(int rate)
{
    if (rate == IB_EDR)
        return 64.0 / 66.0;
    return 256.0 / 257.0 * 514.0 / 544.0; /* transcoding, then RS(544,514) */
}

double ib_raw_rate(const ib_cfg *cfg) { return ib_lane_rate(cfg->rate) * cfg->width / 8.0; }

double ib_line_rate(const ib_cfg *cfg) { return ib_lane_signal(cfg->rate) * cfg->width; }

uint32_t ib_pkt_overhead(const ib_cfg *cfg)
{
    return IB_LRH_BYTES + IB_BTH_BYTES + IB_ICRC_BYTES + IB_VCRC_BYTES +
           (cfg->grh ? IB_GRH_BYTES : 0);
}

uint32_t ib_mtu_fit(uint64_t room)
{
    uint32_t m = 0;
    for (uint32_t v = 256; v <= 4096; v <<= 1)
        if (v <= room)
            m = v;
    return m;
}

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* Units of g bytes whose first byte lies in [off, off + bytes). */
static uint64_t starts(uint64_t off, uint64_t bytes, uint64_t g)
{
    return bytes ? ceil_div(off + bytes, g) - ceil_div(off, g) : 0;
}

double ib_rc_wire_bytes_at(uint32_t pmtu, uint32_t hdr, uint32_t ack_every, int op,
                           uint64_t off, uint64_t bytes, int dir, uint64_t *pkts)
{
    uint64_t n = starts(off, bytes, pmtu);
    uint64_t first = bytes && off == 0;
    uint64_t w;
    if (dir == FAB_DIR_DATA) {
        uint64_t pay = 4 * starts(off, bytes, 4); /* PadCnt: payload in 4 B words */
        uint64_t ext;
        if (op == FAB_OP_WRITE) {
            ext = first * IB_RETH_BYTES; /* WRITE First / Only */
        } else {
            /* READ response First/Only, and Last when there is a packet 1 */
            uint64_t last = bytes && off <= pmtu && pmtu < off + bytes;
            ext = (first + last) * IB_AETH_BYTES;
        }
        *pkts = n;
        w = n * hdr + pay + ext;
    } else if (op == FAB_OP_READ) {
        *pkts = first; /* the READ request: BTH + RETH, no payload */
        w = first * (hdr + IB_RETH_BYTES);
    } else {
        /* ACKs of a WRITE: one per ack_every packets (counted with the
         * first packet of each group), or one per message */
        uint64_t acks = first;
        if (ack_every) {
            uint64_t i0 = ceil_div(off, pmtu), i1 = i0 + n;
            acks = ceil_div(i1, ack_every) - ceil_div(i0, ack_every);
        }
        *pkts = acks;
        w = acks * (hdr + IB_AETH_BYTES);
    }
    return (double)w;
}

double ib_wire_bytes_at(const ib_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir)
{
    uint64_t n;
    return ib_rc_wire_bytes_at(cfg->mtu, ib_pkt_overhead(cfg), cfg->ack_every, op, off, bytes,
                               dir, &n);
}

uint64_t ib_packets_at(const ib_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir)
{
    uint64_t n;
    ib_rc_wire_bytes_at(cfg->mtu, ib_pkt_overhead(cfg), cfg->ack_every, op, off, bytes, dir, &n);
    return n;
}

double ib_mtu_efficiency(const ib_cfg *cfg)
{
    return (double)cfg->mtu / (double)(cfg->mtu + ib_pkt_overhead(cfg));
}

double ib_model_bw(const ib_cfg *cfg, int op, uint64_t size)
{
    double data = ib_wire_bytes_at(cfg, op, 0, size, FAB_DIR_DATA);
    double req = ib_wire_bytes_at(cfg, op, 0, size, FAB_DIR_REQ);
    double busiest = data > req ? data : req;
    return busiest > 0 ? ib_raw_rate(cfg) / busiest * (double)size : 0.0;
}

int ib_cfg_check(const ib_cfg *cfg, const char **why, const char **key)
{
    const char *w = NULL, *k = NULL;
    if (cfg->rate < IB_EDR || cfg->rate > IB_XDR)
        w = "rate must be EDR, HDR, NDR or XDR", k = "rate";
    else if (cfg->width != 1 && cfg->width != 2 && cfg->width != 4 && cfg->width != 8 &&
             cfg->width != 12)
        w = "width must be 1x, 2x, 4x, 8x or 12x", k = "width";
    else if (cfg->mtu < 256 || cfg->mtu > 4096 || (cfg->mtu & (cfg->mtu - 1)))
        w = "mtu must be a power of two from 256 B to 4096 B (IBA path MTUs)", k = "mtu";
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
    const ib_cfg *x = cfg;
    return ib_rc_wire_bytes_at(x->mtu, ib_pkt_overhead(x), x->ack_every, op, off, bytes, dir,
                               units);
}

static double proto_raw_rate(const void *cfg) { return ib_raw_rate(cfg); }

/* A 112G-class PAM4 SerDes (infiniband.h): 5.5 pJ per line bit, per wire
 * bit over the lane's coding efficiency. */
static double proto_energy(const void *cfg)
{
    return 5.5 / ib_coding_efficiency(((const ib_cfg *)cfg)->rate);
}

static const fab_proto ib_proto = {
    .name = "infiniband",
    .wire_bytes_at = proto_wire_bytes_at,
    .raw_rate = proto_raw_rate,
    .packetized = 1,
    .write_response = 1, /* the responder's ACKs of RDMA WRITEs */
    .needs_port = 1,
    .energy_pj_bit = proto_energy,
};

static const fab_class ib_class = {{fab_family}, &ib_proto, NULL};

/* ---- the link model --------------------------------------------------- */

typedef struct ib_state {
    fab_hdr hdr;          /* fabric engine state (must be first) */
    /* configuration */
    int rate;             /* IB_EDR .. IB_XDR */
    int width_i;          /* index into widths[] */
    uint64_t mtu;         /* path MTU as read, bytes */
    int grh;              /* GRH on every packet */
    uint64_t ack_every;   /* as read */
    double cable_m;       /* cable length, metres (sets hdr.latency when given) */
    ib_cfg cfg;           /* the validated configuration */
} ib_state;

static const char *const rate_names[] = {"EDR", "HDR", "NDR", "XDR", NULL};
static const char *const width_names[] = {"1x", "2x", "4x", "8x", "12x", NULL};
static const int widths[] = {1, 2, 4, 8, 12};

static const sim_param ib_params[] = {
    {"rate", SIM_P_ENUM, "NDR", "",
     "data rate per lane: EDR 25, HDR 50, NDR 100, XDR 200 Gb/s (after line coding)",
     offsetof(ib_state, rate), rate_names},
    {"width", SIM_P_ENUM, "4x", "", "link width in lanes: 1x, 2x, 4x, 8x, 12x",
     offsetof(ib_state, width_i), width_names},
    {"mtu", SIM_P_SIZE, "4096 B", "B", "path MTU, payload per packet: 256, 512, 1024, 2048, 4096",
     offsetof(ib_state, mtu), NULL},
    {"grh", SIM_P_BOOL, "false", "", "global route header (40 B) on every packet",
     offsetof(ib_state, grh), NULL},
    {"ack_every", SIM_P_UINT, "0", "packets",
     "responder sends one ACK per this many RDMA WRITE packets (0: one per message)",
     offsetof(ib_state, ack_every), NULL},
    {"latency", SIM_P_TIME, "10 ns", "ps",
     "one-way propagation (default: 2 m of cable); give this or cable_length",
     offsetof(ib_state, hdr.latency), NULL},
    {"cable_length", SIM_P_DOUBLE, "2", "m",
     "cable length; sets latency at 5 ns/m (signal speed ~2/3 c in copper and fibre)",
     offsetof(ib_state, cable_m), NULL},
    FAB_LINK_ENERGY_PARAM(ib_state),
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int ib_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    ib_state *x = c->state;
    const scn_node *len = node ? scn_map_get(node, "cable_length") : NULL;
    if (len && scn_map_get(node, "latency"))
        return scn_error(err, len, "infiniband link '%s': give latency or cable_length, not both",
                         c->name);
    if (len) {
        if (!(x->cable_m >= 0 && x->cable_m <= 1e5))
            return scn_error(err, len, "infiniband link '%s': cable_length %g m is outside 0..100000 m",
                             c->name, x->cable_m);
        x->hdr.latency = (sim_time)llround(x->cable_m * 5000.0);
    }
    x->cfg.rate = x->rate;
    x->cfg.width = widths[x->width_i];
    x->cfg.mtu = x->mtu > 65536 ? 65536 : (uint32_t)x->mtu;
    x->cfg.grh = x->grh;
    x->cfg.ack_every = x->ack_every > UINT32_MAX ? UINT32_MAX : (uint32_t)x->ack_every;
    const char *why, *key;
    if (ib_cfg_check(&x->cfg, &why, &key)) {
        const scn_node *at = node ? scn_map_get(node, key) : NULL;
        if (key[0] == 'm')
            return scn_error(err, at, "infiniband link '%s': mtu %llu B is invalid: %s", c->name,
                             (unsigned long long)x->mtu, why);
        return scn_error(err, at, "infiniband link '%s': %s", c->name, why);
    }
    return fab_link_init(c, &x->cfg, x->cfg.mtu, err);
}

const ib_cfg *ib_link_cfg(const sim_comp *c)
{
    if (!c || c->model != &ib_model)
        return NULL;
    return &((const ib_state *)c->state)->cfg;
}

static int ib_finish(sim_comp *c, sim_err *err)
{
    ib_state *x = c->state;
    fab_link_report(c);
    sim_report_metric(c->sim, c->name, "raw_rate", ib_raw_rate(&x->cfg), "B/s");
    sim_report_metric(c->sim, c->name, "line_rate", ib_line_rate(&x->cfg), "b/s");
    sim_report_metric(c->sim, c->name, "coding_efficiency", ib_coding_efficiency(x->cfg.rate), "");
    sim_report_metric(c->sim, c->name, "efficiency_mtu", ib_mtu_efficiency(&x->cfg), "");
    sim_report_metric(c->sim, c->name, "model_goodput:write",
                      ib_model_bw(&x->cfg, FAB_OP_WRITE, 1 << 20), "B/s");
    sim_report_metric(c->sim, c->name, "model_goodput:read",
                      ib_model_bw(&x->cfg, FAB_OP_READ, 1 << 20), "B/s");
    return 0;
}

static void ib_destroy(sim_comp *c)
{
    ib_state *x = c->state;
    fab_hdr_destroy(&x->hdr);
}

const sim_model ib_model = {
    .type = "infiniband",
    .summary = "InfiniBand EDR..XDR link: LRH/BTH/ICRC/VCRC per packet, RC WRITE/READ, ACKs",
    .params = ib_params,
    .state_size = sizeof(ib_state),
    .is_link = 1,
    .configure = ib_configure,
    .handle = fab_handle,
    .sample = fab_link_sample,
    .series = fab_link_series,
    .finish = ib_finish,
    .destroy = ib_destroy,
    .send = fab_link_send,
    .ext = &ib_class.ext,
};
