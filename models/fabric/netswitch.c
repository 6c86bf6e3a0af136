/*
 * netswitch.c - the `net_switch` network switch (see netswitch.h).
 */
#include "models/fabric/netswitch.h"

#include <stddef.h>
#include <stdio.h>

#include "models/fabric/engine.h"
#include "sim/mem.h"

enum { FWD_CUT_THROUGH, FWD_STORE_AND_FORWARD };
enum { FC_DROP, FC_PFC };
static const char *const fwd_names[] = {"cut_through", "store_and_forward", NULL};
static const char *const fc_names[] = {"drop", "pfc", NULL};

typedef struct netswitch {
    fab_hdr hdr;          /* fabric engine state (must be first); latency = port to port */
    /* configuration */
    int forwarding;       /* FWD_* */
    uint64_t ct_bytes;    /* cut-through: bytes received before sending starts */
    uint64_t buffer;      /* bytes per egress port */
    int fc;               /* FC_* */
    uint64_t xoff, xon;   /* PFC thresholds per ingress port */
    uint64_t ecn;         /* ECN marking threshold (0: off) */
    /* state */
    uint32_t nports;      /* links attached */
    fab_res **egress;     /* per port: the link direction leaving the switch */
    fab_buffer *bufs;     /* per port: its buffer */
    fab_pause *pauses;    /* per port: PFC of the direction entering (pfc only) */
} netswitch;

static uint64_t forward_unit(const fab_hdr *h, uint64_t link_unit)
{
    const netswitch *w = (const netswitch *)h;
    if (w->forwarding == FWD_STORE_AND_FORWARD || !link_unit)
        return link_unit;
    return w->ct_bytes < link_unit ? w->ct_bytes : link_unit;
}

static const char *const net_ports[] = {"ethernet", "infiniband", NULL};

static const fab_node_kind netswitch_kind = {
    .name = "net_switch",
    .forwards = 1,
    .entry_latency = 1,
    .ports = net_ports,
    .ecmp = 1,
    .forward_unit = forward_unit,
};

static const fab_class netswitch_class = {{fab_family}, NULL, &netswitch_kind};

static const sim_param netswitch_params[] = {
    {"latency", SIM_P_TIME, "300 ns", "ps", "port-to-port latency (pipeline, lookup)",
     offsetof(netswitch, hdr.latency), NULL},
    {"forwarding", SIM_P_ENUM, "cut_through", "", "cut_through or store_and_forward",
     offsetof(netswitch, forwarding), fwd_names},
    {"cut_through_bytes", SIM_P_SIZE, "64 B", "B",
     "cut-through: bytes of a packet received before it leaves", offsetof(netswitch, ct_bytes),
     NULL},
    {"buffer", SIM_P_SIZE, "2 MiB", "B", "buffer per egress port (waiting packets)",
     offsetof(netswitch, buffer), NULL},
    {"flow_control", SIM_P_ENUM, "drop", "",
     "drop (drop-tail, the flow resends after the fabric's rto) or pfc (lossless, 802.1Qbb)",
     offsetof(netswitch, fc), fc_names},
    {"pfc_xoff", SIM_P_SIZE, "512 KiB", "B", "PFC: pause an ingress port holding this much",
     offsetof(netswitch, xoff), NULL},
    {"pfc_xon", SIM_P_SIZE, "256 KiB", "B", "PFC: resume it below this",
     offsetof(netswitch, xon), NULL},
    {"ecn_threshold", SIM_P_SIZE, "0 B", "B",
     "mark packets arriving at a port with this much waiting (0: no ECN)",
     offsetof(netswitch, ecn), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int netswitch_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    netswitch *w = c->state;
    if (w->buffer < 64)
        return scn_error(err, node ? scn_map_get(node, "buffer") : NULL,
                         "net_switch '%s': buffer must be at least 64 B", c->name);
    if (w->ct_bytes < 1)
        return scn_error(err, node ? scn_map_get(node, "cut_through_bytes") : NULL,
                         "net_switch '%s': cut_through_bytes must be at least 1 B", c->name);
    if (w->fc == FC_PFC && !(w->xon < w->xoff && w->xoff <= w->buffer))
        return scn_error(err, node ? scn_map_get(node, "pfc_xoff") : NULL,
                         "net_switch '%s': PFC needs pfc_xon < pfc_xoff <= buffer", c->name);
    fab_node_init(c, 0, NULL);
    return 0;
}

/* Attach a buffer to every egress direction and PFC to every ingress one. */
static int netswitch_start(sim_comp *c, sim_err *err)
{
    netswitch *w = c->state;
    sim *s = c->sim;
    uint32_t n = 0, nc = (uint32_t)sim_ncomps(s);
    for (uint32_t i = 0; i < nc; i++) {
        sim_comp *l = sim_comp_at(s, i);
        if (fab_is_link(fab_hdr_of(l)) && (l->ends[0] == c->id || l->ends[1] == c->id))
            n++;
    }
    w->egress = sim_calloc(n ? n : 1, sizeof *w->egress);
    w->bufs = sim_calloc(n ? n : 1, sizeof *w->bufs);
    w->pauses = sim_calloc(n ? n : 1, sizeof *w->pauses);
    if (!w->egress || !w->bufs || !w->pauses)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (uint32_t i = 0; i < nc; i++) {
        sim_comp *l = sim_comp_at(s, i);
        fab_hdr *lh = fab_hdr_of(l);
        if (!fab_is_link(lh) || (l->ends[0] != c->id && l->ends[1] != c->id))
            continue;
        int out = l->ends[0] == c->id ? 0 : 1; /* the direction leaving the switch */
        fab_buffer *b = &w->bufs[w->nports];
        b->limit = w->buffer;
        b->ecn_k = w->ecn;
        b->lossless = w->fc == FC_PFC;
        lh->res[out].buf = b;
        w->egress[w->nports] = &lh->res[out];
        if (w->fc == FC_PFC) {
            fab_pause *p = &w->pauses[w->nports];
            p->xoff = w->xoff;
            p->xon = w->xon;
            p->delay = lh->latency; /* the PAUSE frame crosses the link back */
            lh->res[1 - out].pause = p;
        }
        w->nports++;
    }
    return 0;
}

static void netswitch_sample(sim_comp *c, sim_time now)
{
    netswitch *w = c->state;
    for (uint32_t i = 0; i < w->nports; i++) {
        char name[460];
        snprintf(name, sizeof name, "queue:%s", w->egress[i]->label);
        sim_report_timeseries(c->sim, c->name, name, now, (double)w->bufs[i].queued);
    }
}

static int netswitch_finish(sim_comp *c, sim_err *err)
{
    netswitch *w = c->state;
    uint64_t drops = 0, marks = 0, pauses = 0;
    for (uint32_t i = 0; i < w->nports; i++) {
        drops += w->bufs[i].drop_units;
        marks += w->bufs[i].ecn_marks;
        pauses += w->pauses[i].pauses;
    }
    sim_report_metric(c->sim, c->name, "ports", (double)w->nports, "");
    sim_report_metric(c->sim, c->name, "drops", (double)drops, "packets");
    sim_report_metric(c->sim, c->name, "ecn_marks", (double)marks, "packets");
    sim_report_metric(c->sim, c->name, "pauses", (double)pauses, "frames");
    return 0;
}

static void netswitch_destroy(sim_comp *c)
{
    netswitch *w = c->state;
    sim_free(w->egress);
    sim_free(w->bufs);
    sim_free(w->pauses);
    fab_hdr_destroy(&w->hdr);
}

/* Time series of sim_model.series. */
static const sim_series netswitch_series[] = {
    {"queue:*", "B", "bytes waiting in the egress buffer of a port"},
    {NULL, NULL, NULL}};

const sim_model net_switch_model = {
    .type = "net_switch",
    .summary = "Ethernet/InfiniBand switch: egress buffers, cut-through or store-and-forward, "
               "drop-tail or PFC, ECN",
    .params = netswitch_params,
    .state_size = sizeof(netswitch),
    .configure = netswitch_configure,
    .start = netswitch_start,
    .handle = fab_handle,
    .sample = netswitch_sample,
    .series = netswitch_series,
    .finish = netswitch_finish,
    .destroy = netswitch_destroy,
    .ext = &netswitch_class.ext,
};
