/*
 * ethernet.c - Ethernet frame arithmetic and the `ethernet` link model
 * (see ethernet.h). RoCE packets go through the IBA RC arithmetic of
 * infiniband.c with the Ethernet/IP/UDP framing as the per-packet header.
 */
#include "models/fabric/ethernet.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "models/fabric/engine.h"
#include "models/fabric/infiniband.h"

/* ---- protocol arithmetic ---------------------------------------------- */

static const double speeds_gbps[] = {10, 25, 40, 50, 100, 200, 400, 800};
#define NSPEEDS (sizeof speeds_gbps / sizeof speeds_gbps[0])

int eth_speed_ok(double bps)
{
    for (size_t i = 0; i < NSPEEDS; i++)
        if (fabs(bps - speeds_gbps[i] * 1e9) <= 1e-9 * bps)
            return 1;
    return 0;
}

double eth_coding_efficiency(double bps)
{
    if (bps < 45e9)
        return 64.0 / 66.0;                     /* 10/25/40GBASE-R */
    if (bps > 95e9 && bps < 105e9)
        return 256.0 / 257.0 * 514.0 / 528.0;   /* 100GBASE-R, RS(528,514) */
    return 256.0 / 257.0 * 514.0 / 544.0;       /* 50/200/400/800GBASE-R, RS(544,514) */
}

double eth_line_rate(const eth_cfg *cfg) { return cfg->speed / eth_coding_efficiency(cfg->speed); }

double eth_raw_rate(const eth_cfg *cfg) { return cfg->speed / 8.0; }

uint32_t eth_frame_overhead(const eth_cfg *cfg)
{
    return ETH_PREAMBLE_BYTES + ETH_IFG_BYTES + ETH_HDR_BYTES + ETH_FCS_BYTES +
           (cfg->vlan ? ETH_VLAN_BYTES : 0);
}

uint32_t eth_l3_overhead(const eth_cfg *cfg)
{
    if (cfg->transport == ETH_ROCE)
        return ETH_IPV4_BYTES + ETH_UDP_BYTES + IB_BTH_BYTES + IB_ICRC_BYTES;
    if (cfg->transport == ETH_TCP)
        return ETH_IPV4_BYTES + ETH_TCP_BYTES + ETH_TCP_TS_BYTES;
    return 0;
}

uint32_t eth_pkt_overhead(const eth_cfg *cfg) { return eth_frame_overhead(cfg) + eth_l3_overhead(cfg); }

uint32_t eth_payload_per_packet(const eth_cfg *cfg)
{
    if (cfg->transport == ETH_ROCE)
        return ib_mtu_fit(cfg->mtu - eth_l3_overhead(cfg) - IB_RETH_BYTES);
    return cfg->mtu - eth_l3_overhead(cfg);
}

uint32_t eth_ack_every(const eth_cfg *cfg)
{
    if (cfg->ack_every || cfg->transport != ETH_TCP)
        return cfg->ack_every;
    return 2; /* delayed ACK: at least every second full-sized segment */
}

/* Minimum MAC client data of a frame (46 B, 42 B when tagged). */
static uint64_t min_client(const eth_cfg *cfg)
{
    return ETH_MIN_FRAME - ETH_HDR_BYTES - ETH_FCS_BYTES - (cfg->vlan ? ETH_VLAN_BYTES : 0);
}

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static uint64_t starts(uint64_t off, uint64_t bytes, uint64_t g)
{
    return bytes ? ceil_div(off + bytes, g) - ceil_div(off, g) : 0;
}

/* Raw frames: payload bytes in [0, x) that lie past the first m bytes of
 * their frame (frames of p bytes). */
static uint64_t past_min(uint64_t x, uint64_t p, uint64_t m)
{
    uint64_t r = x % p;
    return x / p * (p - m) + (r > m ? r - m : 0);
}

static double wire_at(const eth_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                      uint64_t *pkts)
{
    uint32_t p = eth_payload_per_packet(cfg), h = eth_pkt_overhead(cfg);
    uint32_t every = eth_ack_every(cfg);
    if (cfg->transport == ETH_ROCE)
        return ib_rc_wire_bytes_at(p, h, every, op, off, bytes, dir, pkts);
    uint64_t n = starts(off, bytes, p), first = bytes && off == 0;
    if (cfg->transport == ETH_TCP) {
        if (dir == FAB_DIR_DATA) {
            *pkts = n;
            return (double)(n * h + bytes);
        }
        uint64_t i0 = ceil_div(off, p), i1 = i0 + n;
        uint64_t acks = ceil_div(i1, every) - ceil_div(i0, every);
        *pkts = acks + (op == FAB_OP_READ ? first : 0); /* + the READ request */
        return (double)(*pkts * h);
    }
    uint64_t m = min_client(cfg);
    if (dir == FAB_DIR_DATA) {
        *pkts = n;
        uint64_t client = bytes ? n * m + past_min(off + bytes, p, m) - past_min(off, p, m) : 0;
        return (double)(n * h + client);
    }
    *pkts = op == FAB_OP_READ ? first : 0; /* a minimum-size request frame */
    return (double)(*pkts * (h + m));
}

double eth_wire_bytes_at(const eth_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir)
{
    uint64_t n;
    return wire_at(cfg, op, off, bytes, dir, &n);
}

uint64_t eth_packets_at(const eth_cfg *cfg, int op, uint64_t off, uint64_t bytes, int dir)
{
    uint64_t n;
    wire_at(cfg, op, off, bytes, dir, &n);
    return n;
}

double eth_mtu_efficiency(const eth_cfg *cfg)
{
    uint32_t p = eth_payload_per_packet(cfg);
    return (double)p / (double)(p + eth_pkt_overhead(cfg));
}

double eth_model_bw(const eth_cfg *cfg, int op, uint64_t size)
{
    double data = eth_wire_bytes_at(cfg, op, 0, size, FAB_DIR_DATA);
    double req = eth_wire_bytes_at(cfg, op, 0, size, FAB_DIR_REQ);
    double busiest = data > req ? data : req;
    return busiest > 0 ? eth_raw_rate(cfg) / busiest * (double)size : 0.0;
}

int eth_cfg_check(const eth_cfg *cfg, const char **why, const char **key)
{
    const char *w = NULL, *k = NULL;
    if (!eth_speed_ok(cfg->speed))
        w = "speed must be 10, 25, 40, 50, 100, 200, 400 or 800 Gb/s (IEEE 802.3 MAC rates)",
        k = "speed";
    else if (cfg->mtu < 1500)
        w = "is below 1500 B (the standard Ethernet MTU; range 1500..9216 B)", k = "mtu";
    else if (cfg->mtu > 9216)
        w = "is above 9216 B (the usual jumbo-frame limit of data-centre switches; range 1500..9216 B)",
        k = "mtu";
    else if (cfg->transport < ETH_ROCE || cfg->transport > ETH_RAW)
        w = "transport must be roce, tcp or raw", k = "transport";
    if (why)
        *why = w;
    if (key)
        *key = k;
    return w ? SIM_EINVAL : 0;
}

/* ---- the protocol tables ---------------------------------------------- */

static double proto_wire_bytes_at(const void *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                                  uint64_t *units)
{
    return wire_at(cfg, op, off, bytes, dir, units);
}

static double proto_raw_rate(const void *cfg) { return eth_raw_rate(cfg); }

/* RoCE and TCP acknowledge writes (the REQ direction carries ACKs after
 * the data); raw frames do not, so a raw link's header points to the
 * second table, whose writes complete at delivery. */
/* A 112G-class PAM4 SerDes (ethernet.h): 5.5 pJ per line bit, per wire
 * bit over the PHY's coding efficiency (64b/66b, 256b/257b and FEC). */
static double proto_energy(const void *cfg)
{
    return 5.5 / eth_coding_efficiency(((const eth_cfg *)cfg)->speed);
}

static const fab_proto eth_proto = {
    .name = "ethernet",
    .wire_bytes_at = proto_wire_bytes_at,
    .raw_rate = proto_raw_rate,
    .packetized = 1,
    .write_response = 1,
    .needs_port = 1,
    .energy_pj_bit = proto_energy,
};
static const fab_proto eth_raw_proto = {
    .name = "ethernet",
    .wire_bytes_at = proto_wire_bytes_at,
    .raw_rate = proto_raw_rate,
    .packetized = 1,
    .write_response = 0,
    .needs_port = 1,
    .energy_pj_bit = proto_energy,
};

static const fab_class eth_class = {{fab_family}, &eth_proto, NULL};
static const fab_class eth_raw_class = {{fab_family}, &eth_raw_proto, NULL};

/* ---- the link model --------------------------------------------------- */

typedef struct eth_state {
    fab_hdr hdr;          /* fabric engine state (must be first) */
    /* configuration */
    double speed;         /* bytes/s as read */
    uint64_t mtu;         /* as read */
    int transport;        /* ETH_* */
    int vlan;             /* 802.1Q tag */
    uint64_t ack_every;   /* as read */
    double cable_m;       /* cable length, metres (sets hdr.latency when given) */
    eth_cfg cfg;          /* the validated configuration */
} eth_state;

static const char *const transport_names[] = {"roce", "tcp", "raw", NULL};

static const sim_param eth_params[] = {
    {"speed", SIM_P_RATE, "400 Gb/s", "B/s",
     "MAC data rate: 10, 25, 40, 50, 100, 200, 400 or 800 Gb/s", offsetof(eth_state, speed),
     NULL},
    {"mtu", SIM_P_SIZE, "4200 B", "B",
     "L3 MTU, MAC client data per frame: 1500..9216 (RoCE: 4200 gives a 4096 B RoCE MTU)",
     offsetof(eth_state, mtu), NULL},
    {"transport", SIM_P_ENUM, "roce", "",
     "roce (RoCEv2: IPv4/UDP/BTH/ICRC), tcp (IPv4/TCP with timestamps) or raw frames",
     offsetof(eth_state, transport), transport_names},
    {"vlan", SIM_P_BOOL, "false", "", "802.1Q tag (4 B) on every frame", offsetof(eth_state, vlan),
     NULL},
    {"ack_every", SIM_P_UINT, "0", "packets",
     "receiver ACK per this many data packets (0: RoCE one per message, TCP every 2nd segment)",
     offsetof(eth_state, ack_every), NULL},
    {"latency", SIM_P_TIME, "10 ns", "ps",
     "one-way propagation (default: 2 m of cable); give this or cable_length",
     offsetof(eth_state, hdr.latency), NULL},
    {"cable_length", SIM_P_DOUBLE, "2", "m",
     "cable length; sets latency at 5 ns/m (light in fibre, ~2/3 c)",
     offsetof(eth_state, cable_m), NULL},
    FAB_LINK_ENERGY_PARAM(eth_state),
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int eth_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    eth_state *x = c->state;
    const scn_node *len = node ? scn_map_get(node, "cable_length") : NULL;
    if (len && scn_map_get(node, "latency"))
        return scn_error(err, len, "ethernet link '%s': give latency or cable_length, not both",
                         c->name);
    if (len) {
        if (!(x->cable_m >= 0 && x->cable_m <= 1e5))
            return scn_error(err, len, "ethernet link '%s': cable_length %g m is outside 0..100000 m",
                             c->name, x->cable_m);
        x->hdr.latency = (sim_time)llround(x->cable_m * 5000.0);
    }
    x->cfg.speed = x->speed * 8.0;
    x->cfg.mtu = x->mtu > 65536 ? 65536 : (uint32_t)x->mtu;
    x->cfg.transport = x->transport;
    x->cfg.vlan = x->vlan;
    x->cfg.ack_every = x->ack_every > UINT32_MAX ? UINT32_MAX : (uint32_t)x->ack_every;
    const char *why, *key;
    if (eth_cfg_check(&x->cfg, &why, &key)) {
        const scn_node *at = node ? scn_map_get(node, key) : NULL;
        if (key[0] == 's')
            return scn_error(err, at, "ethernet link '%s': speed %g Gb/s is not allowed: %s",
                             c->name, x->cfg.speed / 1e9, why);
        if (key[0] == 'm')
            return scn_error(err, at, "ethernet link '%s': mtu %llu B %s", c->name,
                             (unsigned long long)x->mtu, why);
        return scn_error(err, at, "ethernet link '%s': %s", c->name, why);
    }
    int rc = fab_link_init(c, &x->cfg, eth_payload_per_packet(&x->cfg), err);
    if (!rc && x->cfg.transport == ETH_RAW)
        x->hdr.cls = &eth_raw_class;
    return rc;
}

const eth_cfg *eth_link_cfg(const sim_comp *c)
{
    if (!c || c->model != &eth_model)
        return NULL;
    return &((const eth_state *)c->state)->cfg;
}

static int eth_finish(sim_comp *c, sim_err *err)
{
    eth_state *x = c->state;
    fab_link_report(c);
    sim_report_metric(c->sim, c->name, "raw_rate", eth_raw_rate(&x->cfg), "B/s");
    sim_report_metric(c->sim, c->name, "line_rate", eth_line_rate(&x->cfg), "b/s");
    sim_report_metric(c->sim, c->name, "coding_efficiency", eth_coding_efficiency(x->cfg.speed),
                      "");
    sim_report_metric(c->sim, c->name, "payload_per_packet",
                      (double)eth_payload_per_packet(&x->cfg), "B");
    sim_report_metric(c->sim, c->name, "efficiency_mtu", eth_mtu_efficiency(&x->cfg), "");
    sim_report_metric(c->sim, c->name, "model_goodput:write",
                      eth_model_bw(&x->cfg, FAB_OP_WRITE, 1 << 20), "B/s");
    sim_report_metric(c->sim, c->name, "model_goodput:read",
                      eth_model_bw(&x->cfg, FAB_OP_READ, 1 << 20), "B/s");
    return 0;
}

static void eth_destroy(sim_comp *c)
{
    eth_state *x = c->state;
    fab_hdr_destroy(&x->hdr);
}

const sim_model eth_model = {
    .type = "ethernet",
    .summary = "Ethernet 10..800 Gb/s link: 802.3 framing, RoCEv2 / TCP / raw frames, ACKs",
    .params = eth_params,
    .state_size = sizeof(eth_state),
    .is_link = 1,
    .configure = eth_configure,
    .handle = fab_handle,
    .sample = fab_link_sample,
    .series = fab_link_series,
    .finish = eth_finish,
    .destroy = eth_destroy,
    .send = fab_link_send,
    .ext = &eth_class.ext,
};
