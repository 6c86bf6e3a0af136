/*
 * link.c - generic full-duplex link (see link.h for what it models).
 *
 * State per direction: a ring buffer of queued packets (grown
 * geometrically, so steady state allocates nothing), the packet in
 * service, and counters. One event per packet per direction ends its
 * serialization (LINK_EV_TX_DONE); one more delivers it to the far end.
 */
#include "models/queueing/link.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/mem.h"
#include "sim/stats.h"

enum { LINK_EV_TX_DONE = SIM_EV_USER };

typedef struct queued_pkt {
    uint64_t bytes;     /* payload bytes */
    uint64_t tag;       /* sender's tag, passed to the receiver */
    sim_time enqueued;  /* arrival at the link */
} queued_pkt;

typedef struct link_dir {
    queued_pkt *ring;   /* FIFO of waiting packets */
    size_t cap, head, len;
    int busy;           /* a packet is being serialized */
    queued_pkt cur;     /* the packet being serialized */
    sim_time cur_start; /* when its serialization began */
    uint64_t bytes;     /* payload bytes delivered */
    uint64_t packets;   /* packets delivered */
    uint64_t drops;     /* packets refused by a full queue */
    sim_time busy_ps;   /* time spent serializing */
    uint64_t sample_bytes; /* bytes finished since the last sample */
    sim_samples wait;   /* queueing delays, ps */
} link_dir;

typedef struct link_state {
    /* configuration */
    double bandwidth;   /* bytes/s per direction */
    sim_time latency;   /* propagation delay */
    uint64_t overhead;  /* bytes added to every packet on the wire */
    uint64_t queue_limit; /* max waiting packets per direction, 0 = unbounded */
    /* state */
    link_dir dir[2];    /* [0]: end 0 -> end 1, [1]: end 1 -> end 0 */
} link_state;

static const sim_param link_params[] = {
    {"bandwidth", SIM_P_RATE, "10 GB/s", "B/s", "bandwidth of each direction",
     offsetof(link_state, bandwidth), NULL},
    {"latency", SIM_P_TIME, "0 ns", "ps", "propagation delay",
     offsetof(link_state, latency), NULL},
    {"overhead", SIM_P_SIZE, "0 B", "B", "bytes of framing added to every packet",
     offsetof(link_state, overhead), NULL},
    {"queue_limit", SIM_P_UINT, "0", "packets", "waiting packets per direction (0 = unbounded)",
     offsetof(link_state, queue_limit), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int link_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    link_state *l = c->state;
    if (!(l->bandwidth > 0))
        return scn_error(err, node ? scn_map_get(node, "bandwidth") : NULL,
                         "link '%s': bandwidth must be positive", c->name);
    return 0;
}

static sim_time serialization(const link_state *l, uint64_t bytes)
{
    return (sim_time)llround((double)(bytes + l->overhead) * 1e12 / l->bandwidth);
}

static void start_tx(sim_comp *c, int d, queued_pkt p)
{
    link_state *l = c->state;
    link_dir *dir = &l->dir[d];
    sim_time now = sim_now(c->sim);
    sim_samples_add(&dir->wait, (double)(now - p.enqueued));
    sim_time ser = serialization(l, p.bytes);
    dir->busy = 1;
    dir->cur = p;
    dir->cur_start = now;
    dir->busy_ps += ser;
    sim_schedule(c->sim, ser, c->id, LINK_EV_TX_DONE, (uint64_t)d, 0);
}

static int link_send(sim_comp *c, int from_side, uint64_t bytes, uint64_t tag)
{
    link_state *l = c->state;
    link_dir *dir = &l->dir[from_side];
    queued_pkt p = {bytes, tag, sim_now(c->sim)};
    if (!dir->busy) {
        start_tx(c, from_side, p);
        return 0;
    }
    if (l->queue_limit && dir->len >= l->queue_limit) {
        dir->drops++;
        return SIM_ESTATE;
    }
    if (dir->len == dir->cap) {
        size_t cap = dir->cap ? 2 * dir->cap : 64;
        queued_pkt *r = sim_alloc(cap * sizeof *r);
        if (!r) {
            /* Not a modelled drop (queue_limit is): the run fails with the
             * reason instead of ending 'complete' with packets lost. */
            sim_fail(c->sim, SIM_ENOMEM, "%s: out of memory for a queue of %zu packets",
                     c->name, dir->len);
            return SIM_ENOMEM;
        }
        for (size_t i = 0; i < dir->len; i++)
            r[i] = dir->ring[(dir->head + i) % dir->cap];
        sim_free(dir->ring);
        dir->ring = r;
        dir->cap = cap;
        dir->head = 0;
    }
    dir->ring[(dir->head + dir->len) % dir->cap] = p;
    dir->len++;
    return 0;
}

static void link_handle(sim_comp *c, const sim_event *e)
{
    link_state *l = c->state;
    if (e->kind != LINK_EV_TX_DONE)
        return;
    int d = (int)e->a0;
    link_dir *dir = &l->dir[d];
    dir->bytes += dir->cur.bytes;
    dir->packets++;
    dir->sample_bytes += dir->cur.bytes;
    sim_schedule(c->sim, l->latency, c->ends[1 - d], SIM_EV_DELIVER, dir->cur.bytes,
                 dir->cur.tag);
    dir->busy = 0;
    if (dir->len) {
        queued_pkt p = dir->ring[dir->head];
        dir->head = (dir->head + 1) % dir->cap;
        dir->len--;
        start_tx(c, d, p);
    }
}

static void direction_name(sim_comp *c, int d, char *buf, size_t n)
{
    const char *a = sim_comp_at(c->sim, c->ends[d])->name;
    const char *b = sim_comp_at(c->sim, c->ends[1 - d])->name;
    snprintf(buf, n, "%s->%s", a, b);
}

static void link_sample(sim_comp *c, sim_time now)
{
    link_state *l = c->state;
    double interval = sim_time_to_s(sim_sample_interval(c->sim));
    for (int d = 0; d < 2; d++) {
        char dn[256], name[300];
        direction_name(c, d, dn, sizeof dn);
        snprintf(name, sizeof name, "throughput:%s", dn);
        sim_report_timeseries(c->sim, c->name, name, now,
                              (double)l->dir[d].sample_bytes / interval);
        l->dir[d].sample_bytes = 0;
    }
}

static int link_finish(sim_comp *c, sim_err *err)
{
    link_state *l = c->state;
    sim_time elapsed = sim_now(c->sim);
    for (int d = 0; d < 2; d++) {
        link_dir *dir = &l->dir[d];
        char dn[256], name[300];
        direction_name(c, d, dn, sizeof dn);
        /* A packet still in service counts its busy time only up to now. */
        sim_time busy = dir->busy_ps;
        if (dir->busy)
            busy = busy - serialization(l, dir->cur.bytes) + (elapsed - dir->cur_start);
        double util = elapsed ? (double)busy / (double)elapsed : 0.0;
        sim_report_link(c->sim, c->name, dn, dir->bytes, dir->packets, busy, util);
        snprintf(name, sizeof name, "wait:%s", dn);
        sim_samples_report(c->sim, c->name, name, &dir->wait, 1e-12, "s");
        /* Waits are those of packets that started transmission; packets
         * still queued at the end are reported so a truncated or overloaded
         * run is visible. */
        snprintf(name, sizeof name, "queued_at_end:%s", dn);
        sim_report_metric(c->sim, c->name, name, (double)dir->len, "packets");
        snprintf(name, sizeof name, "drops:%s", dn);
        sim_report_metric(c->sim, c->name, name, (double)dir->drops, "packets");
        snprintf(name, sizeof name, "throughput:%s", dn);
        sim_report_metric(c->sim, c->name, name,
                          elapsed ? (double)dir->bytes / sim_time_to_s(elapsed) : 0.0, "B/s");
    }
    return 0;
}

static void link_destroy(sim_comp *c)
{
    link_state *l = c->state;
    for (int d = 0; d < 2; d++) {
        sim_free(l->dir[d].ring);
        sim_samples_free(&l->dir[d].wait);
    }
}

/* Time series of sim_model.series. */
static const sim_series link_series[] = {
    {"throughput:*", "B/s", "bytes that left the direction in the sample interval, per second"},
    {NULL, NULL, NULL}};

const sim_model link_model = {
    .type = "link",
    .summary = "generic full-duplex link: FIFO per direction, bandwidth, latency, framing",
    .params = link_params,
    .state_size = sizeof(link_state),
    .is_link = 1,
    .configure = link_configure,
    .handle = link_handle,
    .sample = link_sample,
    .series = link_series,
    .finish = link_finish,
    .destroy = link_destroy,
    .send = link_send,
};
