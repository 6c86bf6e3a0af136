/*
 * engine.c - the fabric engine (engine.h): resources, chunks, flows,
 * credits, gates and routes. It names no protocol and no device: link
 * costs come from the fab_proto of the link's class, node behaviour from
 * its fab_node_kind.
 *
 * NOTES ON THE DESIGN
 * Resources live inside the components that own them (a link's two
 * directions, a host's DRAM and memcpy, an SSD's flash), so each component
 * handles the events of its own resources and its `links` rows come from
 * the same counters the engine updates. A transfer is a fab_flow: a fixed
 * array of steps (an itinerary built once, when the transfer starts), a
 * window of chunks in flight, and a completion notice. Chunks come from
 * pools grown in blocks that never move (so events may carry pointers) and
 * are recycled: a steady state allocates nothing.
 *
 * A chunk at step k:  enqueue at the step's resource (FIFO per flow, ring
 * of flows per resource) -> service (FAB_EV_DONE at the resource after s)
 * -> ARRIVE at step k+1 at t0 + lat + max(u, s - s_next) (engine.h), or
 * END at the fabric at t0 + s + lat after the last step. The END of a
 * chunk launches the next one of its flow; the END of the last chunk
 * completes the flow (fabric.c notifies the caller). A chunk arriving at
 * an idle plain resource with nothing waiting starts service at once
 * (start()), without the ring. Each step keeps the last price it computed
 * (price()), keyed by what a price depends on (the bytes, the offset
 * modulo the protocol's fab_proto.offset_period, an offset of 0), so the
 * chunks of a flow are mostly priced by a compare.
 *
 * Invariants: a resource serves at most one chunk; a flow step is in its
 * resource's ring iff it has waiting chunks; a flow's chunks in flight
 * never exceed its window.
 */
#include "models/fabric/engine.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/fabric/fluid.h"
#include "sim/mem.h"

const char fab_family[] = "fabric";

#define LONE_TICKET UINT32_MAX   /* fab_chunk.step of a lone flow's END ticket */
#define LONE_SKIP SIM_TIME_MAX   /* lone_ent.a of a step a chunk does not cross */
#define FAB_LONE_MAX 65536       /* most chunks x steps a lone schedule holds */

/* ---- pools ------------------------------------------------------------- */

fab_chunk *fab_pool_get(fab_pool *p)
{
    if (!p->free) {
        if (p->nblocks == p->capblocks) {
            size_t cap = p->capblocks ? 2 * p->capblocks : 8;
            void **nb = sim_realloc(p->blocks, cap * sizeof *nb);
            if (!nb)
                return NULL;
            p->blocks = nb;
            p->capblocks = cap;
        }
        size_t n = 256u << (p->nblocks < 8 ? p->nblocks : 8);
        fab_chunk *b = sim_calloc(n, sizeof *b);
        if (!b)
            return NULL;
        p->blocks[p->nblocks++] = b;
        for (size_t i = 0; i < n; i++) {
            b[i].next = p->free;
            b[i].pool = p;
            p->free = &b[i];
        }
    }
    fab_chunk *c = p->free;
    p->free = c->next;
    c->next = NULL;
    return c;
}

void fab_pool_put(fab_chunk *c)
{
    fab_pool *p = c->pool;
    c->next = p->free;
    p->free = c;
}

static void lone_free_all(fab_pool *p);

void fab_pool_free(fab_pool *p)
{
    for (size_t i = 0; i < p->nblocks; i++)
        sim_free(p->blocks[i]);
    sim_free(p->blocks);
    lone_free_all(p);
    memset(p, 0, sizeof *p);
}

/* ---- headers ----------------------------------------------------------- */

static const fab_class *class_of(const sim_comp *c)
{
    const sim_ext *x = c && c->model ? c->model->ext : NULL;
    return x && x->family == fab_family ? (const fab_class *)x : NULL;
}

fab_hdr *fab_hdr_of(const sim_comp *c)
{
    return class_of(c) ? c->state : NULL;
}

int fab_is_link(const fab_hdr *h) { return h && h->cls && h->cls->proto; }

const fab_node_kind *fab_kind_of(sim *s, uint32_t id)
{
    const fab_class *k = class_of(sim_comp_at(s, id));
    return k ? k->node : NULL;
}

static void res_init(sim_comp *c, uint32_t i, const char *label)
{
    fab_hdr *h = c->state;
    fab_res *r = &h->res[i];
    r->owner = c->id;
    r->index = i;
    r->label = sim_strdup(label);
}

void fab_node_init(sim_comp *c, uint32_t nres, const char *const *labels)
{
    fab_hdr *h = c->state;
    h->cls = class_of(c);
    h->nres = nres;
    for (uint32_t i = 0; i < nres; i++)
        res_init(c, i, labels[i]);
}

/* Does node `id` have a port for protocol p? */
static int has_port(sim *s, uint32_t id, const fab_proto *p)
{
    const fab_node_kind *k = fab_kind_of(s, id);
    if (!p->needs_port)
        return 1;
    for (size_t i = 0; k && k->ports && k->ports[i]; i++)
        if (strcmp(k->ports[i], p->name) == 0)
            return 1;
    return 0;
}

int fab_link_init(sim_comp *c, const void *cfg, uint64_t unit, sim_err *err)
{
    fab_hdr *h = c->state;
    h->cls = class_of(c);
    const fab_proto *p = h->cls->proto;
    for (int d = 0; d < 2; d++) {
        sim_comp *e = sim_comp_at(c->sim, c->ends[d]);
        if (e && !has_port(c->sim, e->id, p)) {
            const fab_node_kind *k = fab_kind_of(c->sim, e->id);
            char ports[160] = "";
            size_t len = 0;
            for (size_t i = 0; k && k->ports && k->ports[i] && len + 2 < sizeof ports; i++)
                len += (size_t)snprintf(ports + len, sizeof ports - len, "%s%s", i ? ", " : "",
                                        k->ports[i]);
            return scn_error(err, c->node ? scn_map_get(c->node, "ends") : NULL,
                             "%s link '%s': '%s' (%s) has no %s port%s%s%s", p->name, c->name,
                             e->name, k ? k->name : e->model->type, p->name,
                             *ports ? " (its ports: " : "", ports, *ports ? ")" : "");
        }
    }
    h->nres = 2;
    h->cfg = cfg;
    h->rate = p->raw_rate(cfg);
    if (h->energy < 0) /* auto */
        h->energy = p->energy_pj_bit ? p->energy_pj_bit(cfg) : 0.0;
    h->unit = unit;
    for (int d = 0; d < 2; d++) {
        char lb[400];
        sim_comp *a = sim_comp_at(c->sim, c->ends[d]), *b = sim_comp_at(c->sim, c->ends[1 - d]);
        snprintf(lb, sizeof lb, "%s->%s", a ? a->name : "?", b ? b->name : "?");
        res_init(c, (uint32_t)d, lb);
        fab_fstep *st = &h->raw[d];
        memset(st, 0, sizeof *st);
        st->res = &h->res[d];
        st->proto = p;
        st->cfg = cfg;
        st->op = FAB_OP_WRITE;
        st->dir = FAB_DIR_DATA;
        st->rate = h->rate;
        st->lat = h->latency;
        st->unit = unit;
        st->payload = 1;
    }
    return 0;
}

void fab_hdr_destroy(fab_hdr *h)
{
    for (uint32_t i = 0; i < h->nres; i++)
        sim_free((void *)h->res[i].label);
    fab_pool_free(&h->pool);
}

sim_time fab_res_busy(const fab_res *r, sim_time now)
{
    sim_time b = r->busy_ps;
    if (r->servers <= 1 && r->busy && now > r->cur_start)
        b += (now - r->cur_start < r->cur_svc) ? now - r->cur_start : r->cur_svc;
    return b;
}

/* ---- costs ------------------------------------------------------------- */

/* Packets of `size` bytes that start in [off, off + bytes). */
static uint64_t units_at(uint64_t off, uint64_t bytes, uint64_t size)
{
    return bytes ? (off + bytes + size - 1) / size - (off + size - 1) / size : 0;
}

sim_time fab_step_forward_wait(const fab_fstep *st, sim_time svc, sim_time snext,
                               uint64_t bytes)
{
    sim_time u = svc;
    if (st->unit && bytes > st->unit)
        u = (sim_time)((double)svc * (double)st->unit / (double)bytes);
    return svc > snext && svc - snext > u ? svc - snext : u;
}

/* fab_step_forward_wait for serve(), with the time of the first unit (a
 * division) remembered in the step for the last (svc, bytes) seen: the
 * chunks of a flow mostly repeat it. Same result, bit for bit. */
static inline sim_time forward_wait(fab_fstep *st, sim_time svc, sim_time snext, uint64_t bytes)
{
    sim_time u = svc;
    if (st->unit && bytes > st->unit) {
        if (svc == st->fw_svc && bytes == st->fw_bytes) {
            u = st->fw_u;
        } else {
            u = (sim_time)((double)svc * (double)st->unit / (double)bytes);
            st->fw_svc = svc;
            st->fw_bytes = bytes;
            st->fw_u = u;
        }
    }
    return svc > snext && svc - snext > u ? svc - snext : u;
}

sim_time fab_step_service_at(const fab_fstep *st, uint64_t off, uint64_t bytes, uint64_t *units,
                             double *wire)
{
    double w = 0;
    uint64_t u = 0;
    sim_time t = 0;
    if (st->ctl) { /* a fixed message with the first or the last chunk of its flow */
        int mine = st->ctl == FAB_CTL_FIRST ? off == 0
                   : st->flow ? off + bytes >= st->flow->bytes : 1;
        if (!mine)
            bytes = 0;
        else {
            bytes = st->ctl_bytes;
            off = 0;
        }
    }
    if (st->proto) {
        if (bytes)
            w = st->proto->wire_bytes_at(st->cfg, st->op, off, bytes, st->dir, &u);
        t = st->rate > 0 ? sim_round_ps(w * 1e12 / st->rate) : 0;
    } else if (st->dir == FAB_DIR_DATA && (bytes || !st->ctl)) {
        /* a server moving payload at a rate, with per-packet and per-message costs */
        w = (double)bytes;
        u = st->unit_payload ? units_at(off, bytes, st->unit_payload) : 1;
        t = st->rate > 0 ? sim_round_ps((double)bytes * 1e12 / st->rate) : 0;
        t += (sim_time)u * st->per_unit;
        if (off == 0)
            t += st->per_msg;
    }
    if (units)
        *units = u;
    if (wire)
        *wire = w;
    return t;
}

sim_time fab_step_service(const fab_fstep *st, uint64_t bytes, uint64_t *units, double *wire)
{
    return fab_step_service_at(st, 0, bytes, units, wire);
}

/* fab_step_service_at with a one-entry memo in the step: the chunks of a
 * flow mostly share their size and their alignment to the protocol's
 * granule (fab_proto.offset_period), so every chunk after the first is
 * priced by a compare. The key is what the price depends on: the bytes,
 * the offset bits below the granule, and whether the offset is 0 (a rate
 * step's per-message cost). Control steps (priced by the flow's first or
 * last chunk) are not memoized. The result is the function's own, bit for
 * bit. */
static sim_time price_miss(fab_fstep *st, uint64_t off, uint64_t bytes, uint64_t *units,
                           double *wire);

static inline sim_time price(fab_fstep *st, uint64_t off, uint64_t bytes, uint64_t *units,
                             double *wire)
{
    if (st->pm_mode > 0 && bytes == st->pm_bytes &&
        (off ? off & st->pm_mask : UINT64_MAX) == st->pm_key) {
        *units = st->pm_units;
        *wire = st->pm_wire;
        return st->pm_svc;
    }
    return price_miss(st, off, bytes, units, wire);
}

static sim_time price_miss(fab_fstep *st, uint64_t off, uint64_t bytes, uint64_t *units,
                           double *wire)
{
    if (st->pm_mode <= 0) {
        if (!st->pm_mode) {
            uint64_t p = 0;
            if (st->proto)
                p = st->proto->offset_period ? st->proto->offset_period(st->cfg, st->op, st->dir)
                                             : 0;
            else
                p = st->dir != FAB_DIR_DATA || !st->unit_payload ? 1 : st->unit_payload;
            st->pm_mask = p && !(p & (p - 1)) ? p - 1 : UINT64_MAX;
            st->pm_mode = st->ctl ? -1 : 1;
        }
        if (st->pm_mode < 0)
            return fab_step_service_at(st, off, bytes, units, wire);
    }
    /* price() missed, or the memo was just set up (empty: no hit) */
    sim_time t = fab_step_service_at(st, off, bytes, units, wire);
    st->pm_key = off ? off & st->pm_mask : UINT64_MAX;
    st->pm_bytes = bytes;
    st->pm_svc = t;
    st->pm_units = *units;
    st->pm_wire = *wire;
    return t;
}

/* ---- serving ----------------------------------------------------------- */

/* The first step at or after k that chunk ch crosses: a control step
 * (engine.h) carries its message with one chunk only (the first or the
 * last of the flow), the others go past it without an event. nsteps: none. */
uint32_t fab_flow_next_step(const fab_flow *f, uint64_t off, uint64_t bytes, uint32_t k)
{
    while (k < f->nsteps && f->st[k].ctl &&
           (f->st[k].ctl == FAB_CTL_FIRST ? off != 0 : off + bytes < f->bytes))
        k++;
    return k;
}

static uint32_t next_step(const fab_flow *f, const fab_chunk *ch, uint32_t k)
{
    return fab_flow_next_step(f, ch->tag, ch->bytes, k);
}

static int serve(sim *s, fab_res *r);
static void start(sim *s, fab_res *r, fab_fstep *st, fab_chunk *ch);

/* A step with a spread draws each chunk's service uniformly from
 * svc x [1 - spread, 1 + spread] (mean svc), from the stream of the
 * component that owns its resource; once per chunk and step, when the
 * chunk is priced. Such flows never run lone (their schedule is drawn). */
static sim_time spread_draw(sim *s, const fab_fstep *st, sim_time svc)
{
    double u = gsl_rng_uniform(sim_comp_at(s, st->res->owner)->rng);
    return sim_round_ps((double)svc * (1.0 + st->spread * (2.0 * u - 1.0)));
}

static inline sim_time spread(sim *s, const fab_fstep *st, sim_time svc)
{
    return st->spread > 0 && svc ? spread_draw(s, st, svc) : svc;
}

/* Start services while a server is free and a chunk can go. */
static void serve_all(sim *s, fab_res *r)
{
    while (!r->busy && serve(s, r))
        ;
}

/* The ingress direction a flow chunk at step k came through (PFC). */
static fab_pause *ingress(const fab_chunk *ch)
{
    return ch->flow && ch->step > 0 ? ch->flow->st[ch->step - 1].res->pause : NULL;
}

static void pause_frame(sim *s, fab_pause *p, const fab_res *r, int on)
{
    p->asked = on;
    if (on)
        p->pauses++;
    sim_schedule(s, p->delay, r->owner, FAB_EV_PAUSE, r->index, (uint64_t)on);
}

/* A flow chunk arrives at a resource with a finite buffer: drop it (1) or
 * account it (0). */
static int buffer_admit(sim *s, fab_fstep *st, fab_chunk *ch)
{
    fab_buffer *b = st->res->buf;
    uint64_t units;
    fab_step_service_at(st, ch->tag, ch->bytes, &units, NULL);
    if (b->limit && b->queued + ch->bytes > b->limit) {
        b->drops++;
        b->drop_units += units;
        b->drop_bytes += ch->bytes;
        fab_flow *fl = ch->flow;
        fl->retransmits++;
        ch->step = next_step(fl, ch, 0); /* sent again from the start of its itinerary */
        sim_schedule(s, fl->rto, fl->st[ch->step].res->owner, FAB_EV_ARRIVE,
                     fl->st[ch->step].res->index, (uint64_t)(uintptr_t)ch);
        return 1;
    }
    if (b->ecn_k && b->queued >= b->ecn_k)
        b->ecn_marks += units;
    b->queued += ch->bytes;
    if (b->queued > b->max_queued)
        b->max_queued = b->queued;
    fab_pause *p = b->lossless ? ingress(ch) : NULL;
    if (p) {
        p->held += ch->bytes;
        if (!p->asked && p->held >= p->xoff)
            pause_frame(s, p, ch->flow->st[ch->step - 1].res, 1);
    }
    return 0;
}

/* A chunk leaves a finite buffer (its service starts). */
static void buffer_leave(sim *s, fab_buffer *b, const fab_chunk *ch)
{
    b->queued -= ch->bytes;
    fab_pause *p = b->lossless ? ingress(ch) : NULL;
    if (p) {
        p->held -= ch->bytes;
        if (p->asked && p->held <= p->xon)
            pause_frame(s, p, ch->flow->st[ch->step - 1].res, 0);
    }
}

static void lone_touch(sim *s, fab_res *r);

static void enqueue(sim *s, fab_fstep *st, fab_chunk *ch)
{
    fab_res *r = st->res;
    if (r->lone) /* a lone flow holds it: it stops being alone */
        lone_touch(s, r);
    if (r->buf && ch->flow && buffer_admit(s, st, ch))
        return;
    if (!r->busy && !r->ring && !r->fc && !r->buf && !r->pause) {
        /* An idle resource with nothing waiting: serve() would put the
         * chunk in the ring only to take it out again. */
        ch->next = NULL;
        start(s, r, st, ch);
        return;
    }
    ch->next = NULL;
    if (st->qt)
        st->qt->next = ch;
    else
        st->qh = ch;
    st->qt = ch;
    if (!st->in_ring) {
        st->in_ring = 1;
        if (!r->ring) {
            st->rr_next = st->rr_prev = st;
            r->ring = st;
        } else { /* insert at the tail: just before the next to serve */
            fab_fstep *h = r->ring;
            st->rr_next = h;
            st->rr_prev = h->rr_prev;
            h->rr_prev->rr_next = st;
            h->rr_prev = st;
        }
    }
    if (!r->busy)
        serve_all(s, r);
}

/* Credits the chunk at the head of st needs at its (credit-limited)
 * resource: class (or -1: none) and header/data counts. Raw packets larger
 * than the pool are clamped to it (they wait for the whole pool). */
static int fc_need(const fab_fstep *st, const fab_chunk *ch, uint64_t *nh, uint64_t *nd)
{
    if (!st->proto || !st->proto->fc_credits_at)
        return -1;
    const fab_credit *fc = st->res->fc;
    int cls = st->proto->fc_credits_at(st->cfg, st->op, ch->flow ? ch->tag : 0, ch->bytes,
                                       st->dir, nh, nd);
    if (cls < 0 || cls >= FAB_FC_NCLASS || (!*nh && !*nd))
        return -1;
    if (fc->hdr_limit[cls] && *nh > fc->hdr_limit[cls])
        *nh = fc->hdr_limit[cls];
    if (fc->data_limit[cls] && *nd > fc->data_limit[cls])
        *nd = fc->data_limit[cls];
    return cls;
}

static int fc_fits(const fab_fstep *st, const fab_chunk *ch)
{
    uint64_t nh, nd;
    int cls = fc_need(st, ch, &nh, &nd);
    const fab_credit *fc = st->res->fc;
    return cls < 0 || ((!fc->hdr_limit[cls] || fc->hdr_avail[cls] >= nh) &&
                       (!fc->data_limit[cls] || fc->data_avail[cls] >= nd));
}

sim_time fab_fc_stall(const fab_res *r, sim_time now)
{
    if (!r->fc)
        return 0;
    return r->fc->stall_ps + (r->fc->stalled ? now - r->fc->stall_since : 0);
}

static int serve(sim *s, fab_res *r)
{
    fab_fstep *st = r->ring;
    if (!st || (r->pause && r->pause->paused))
        return 0;
    if (r->fc) { /* the first flow in round-robin order whose head chunk has credits */
        fab_credit *fc = r->fc;
        while (!fc_fits(st, st->qh)) {
            st = st->rr_next;
            if (st == r->ring) {
                if (!fc->stalled) {
                    fc->stalled = 1;
                    fc->stalls++;
                    fc->stall_since = sim_now(s);
                }
                return 0; /* idle until credits return (FAB_EV_CREDIT) */
            }
        }
        if (fc->stalled) {
            fc->stalled = 0;
            fc->stall_ps += sim_now(s) - fc->stall_since;
        }
    }
    fab_chunk *ch = st->qh;
    st->qh = ch->next;
    if (!st->qh) {
        st->qt = NULL;
        st->in_ring = 0;
        if (st->rr_next == st) {
            r->ring = NULL;
        } else {
            st->rr_prev->rr_next = st->rr_next;
            st->rr_next->rr_prev = st->rr_prev;
            r->ring = st->rr_next;
        }
    } else {
        r->ring = st->rr_next;
    }
    ch->next = NULL;
    if (r->buf && ch->flow)
        buffer_leave(s, r->buf, ch);
    start(s, r, st, ch);
    return 1;
}

/* Start the service of chunk ch of step st at r (serve() took it from the
 * ring, or enqueue() gave it straight to an idle plain resource). */
static void start(sim *s, fab_res *r, fab_fstep *st, fab_chunk *ch)
{
    /* offset of this chunk in its transfer: flows keep it in tag */
    uint64_t off = ch->flow ? ch->tag : 0;
    uint64_t units;
    double wire;
    sim_time svc;
    if (!ch->flow && ch->wire > 0) { /* framed by its sender */
        units = ch->units;
        wire = ch->wire;
        svc = st->rate > 0 ? sim_round_ps(wire * 1e12 / st->rate) : 0;
    } else if (ch->flow && ch->nstep == ch->step) { /* priced at the step before */
        svc = ch->nsvc;
        units = ch->nunits;
        wire = ch->nwire;
    } else {
        svc = spread(s, st, price(st, off, ch->bytes, &units, &wire));
    }
    sim_time now = sim_now(s);
    int pool = r->servers > 1;
    r->nbusy++;
    r->busy = r->nbusy >= (pool ? r->servers : 1);
    if (!pool) {
        r->cur = ch;
        r->cur_start = now;
        r->cur_svc = svc;
    }
    if (r->fluid && !r->pf_quiet) /* it stops the fluid flows crossing it (fluid.h) */
        fab_fluid_held(s, r);
    r->units += units;
    r->wire_bytes += wire;
    if (st->payload) {
        r->bytes += ch->bytes;
        r->sample_bytes += ch->bytes;
        if (st->op == FAB_OP_READ)
            r->read_bytes += ch->bytes;
    }
    if (pool)
        sim_schedule(s, svc, r->owner, FAB_EV_DONE, r->index | (uint64_t)svc << 8,
                     (uint64_t)(uintptr_t)ch);
    else
        sim_schedule(s, svc, r->owner, FAB_EV_DONE, r->index, 0);
    if (r->fc) { /* consume; they return after one unit's round trip */
        uint64_t nh, nd;
        int cls = fc_need(st, ch, &nh, &nd);
        if (cls >= 0) {
            fab_credit *fc = r->fc;
            if (fc->hdr_limit[cls])
                fc->hdr_avail[cls] -= nh;
            if (fc->data_limit[cls])
                fc->data_avail[cls] -= nd;
            sim_time per_unit = units ? svc / (sim_time)units : svc;
            sim_schedule(s, per_unit + fc->ret, r->owner, FAB_EV_CREDIT,
                         (uint64_t)r->index | (uint64_t)cls << 1, nh << 40 | nd);
        }
    }

    if (!ch->flow) { /* a raw packet over a link: deliver to the far end */
        sim_comp *link = sim_comp_at(s, r->owner);
        if (ch->kind)
            sim_schedule(s, svc + st->lat, ch->to, ch->kind, ch->bytes, ch->tag);
        else
            sim_schedule(s, svc + st->lat, link->ends[1 - r->index], SIM_EV_DELIVER,
                         ch->bytes, ch->tag);
        return; /* freed at DONE */
    }
    fab_flow *f = ch->flow;
    uint32_t k = next_step(f, ch, ch->step + 1);
    if (k >= f->nsteps) {
        sim_schedule(s, svc + st->lat, f->fab_id, FAB_EV_END, 0, (uint64_t)(uintptr_t)ch);
        return;
    }
    fab_fstep *nx = &f->st[k];
    /* priced once: kept in the chunk for its service there */
    sim_time snext = spread(s, nx, price(nx, off, ch->bytes, &ch->nunits, &ch->nwire));
    ch->nsvc = snext;
    ch->nstep = k;
    sim_time wait = forward_wait(st, svc, snext, ch->bytes);
    ch->step = k;
    sim_schedule(s, st->lat + wait, nx->res->owner, FAB_EV_ARRIVE, nx->res->index,
                 (uint64_t)(uintptr_t)ch);
}

/* FAB_EV_DONE: resource r of the target finished its chunk. */
static __attribute__((noinline)) void done(sim *s, fab_res *r, const sim_event *e)
{
    fab_chunk *ch;
    if (r->servers > 1) { /* a pool: the chunk and its service ride in the event */
        ch = (fab_chunk *)(uintptr_t)e->a1;
        r->busy_ps += (sim_time)(e->a0 >> 8);
    } else {
        ch = r->cur;
        r->cur = NULL;
        r->busy_ps += r->cur_svc;
    }
    r->nbusy--;
    r->busy = 0;
    if (ch && !ch->flow)
        fab_pool_put(ch);
    if (r->ring) { /* else serve() would find nothing to serve */
        r->pf_quiet = 1; /* a next chunk keeps the fluid flows stopped: no change */
        serve_all(s, r);
        r->pf_quiet = 0;
    }
    if (r->fluid && !r->nbusy) /* free again: the fluid flows resume */
        fab_fluid_held(s, r);
}

/* FAB_EV_CREDIT and FAB_EV_PAUSE (rare: off the chunk path). */
static __attribute__((noinline)) void credit_or_pause(sim_comp *c, const sim_event *e)
{
    fab_hdr *h = c->state;
    if (e->kind == FAB_EV_CREDIT) {
        fab_res *r = &h->res[e->a0 & 1];
        int cls = (int)(e->a0 >> 1);
        if (!r->fc || cls >= FAB_FC_NCLASS)
            return;
        r->fc->hdr_avail[cls] += e->a1 >> 40;
        r->fc->data_avail[cls] += e->a1 & ((1ull << 40) - 1);
        r->fc->updates++;
        if (!r->busy)
            serve_all(c->sim, r);
    } else if (e->kind == FAB_EV_PAUSE) {
        fab_res *r = &h->res[e->a0 & 1];
        fab_pause *p = r->pause;
        if (!p || p->paused == (int)e->a1)
            return;
        p->paused = (int)e->a1;
        sim_time now = sim_now(c->sim);
        if (p->paused)
            p->pause_since = now;
        else {
            p->pause_ps += now - p->pause_since;
            if (!r->busy)
                serve_all(c->sim, r);
        }
    }
}

/* A dispatcher whose cases end in calls (tail calls), so the chunk events
 * pay no frame here. */
void fab_handle(sim_comp *c, const sim_event *e)
{
    if (e->kind == FAB_EV_ARRIVE) {
        fab_chunk *ch = (fab_chunk *)(uintptr_t)e->a1;
        enqueue(c->sim, ch->flow ? &ch->flow->st[ch->step] : ch->raw, ch);
    } else if (e->kind == FAB_EV_DONE) {
        done(c->sim, &((fab_hdr *)c->state)->res[e->a0 & 0xff], e);
    } else {
        credit_or_pause(c, e);
    }
}

/* ---- links ------------------------------------------------------------- */

int fab_link_send(sim_comp *link, int side, uint64_t bytes, uint64_t tag)
{
    return fab_link_send_to(link, side, bytes, tag, 0, 0);
}

int fab_link_send_to(sim_comp *link, int side, uint64_t bytes, uint64_t tag, uint32_t to,
                     uint32_t kind)
{
    return fab_link_send_wire(link, side, bytes, 0, 0, tag, to, kind);
}

int fab_link_send_wire(sim_comp *link, int side, uint64_t bytes, double wire, uint64_t units,
                       uint64_t tag, uint32_t to, uint32_t kind)
{
    fab_hdr *h = link->state;
    fab_chunk *ch = fab_pool_get(&h->pool);
    if (!ch)
        return SIM_ENOMEM;
    ch->flow = NULL;
    ch->raw = &h->raw[side];
    ch->step = 0;
    ch->bytes = bytes;
    ch->tag = tag;
    ch->to = to;
    ch->kind = kind;
    ch->wire = wire;
    ch->units = units;
    enqueue(link->sim, ch->raw, ch);
    return 0;
}

/* Energy of the wire bytes of one link direction, J: every wire bit pays
 * the SerDes energy of the link (a transfer crossing k links pays on each
 * of the k, as each hop drives its own SerDes). */
static double wire_energy(const fab_hdr *h, const fab_res *r)
{
    return r->wire_bytes * 8.0 * h->energy * 1e-12;
}

void fab_link_report(sim_comp *c)
{
    fab_hdr *h = c->state;
    sim_time now = sim_now(c->sim);
    fab_hdr_settle(c->sim, h, 0);
    double energy = 0;
    for (int d = 0; d < 2; d++) {
        fab_res *r = &h->res[d];
        sim_time busy = fab_res_busy(r, now);
        double util = now ? (double)busy / (double)now : 0.0;
        if (r->buf || r->pause)
            sim_report_link_net(c->sim, c->name, r->label, r->bytes, r->units, busy, util,
                                r->buf ? r->buf->drop_units : 0,
                                r->pause ? r->pause->pause_ps +
                                               (r->pause->paused ? now - r->pause->pause_since : 0)
                                         : 0,
                                r->buf ? r->buf->ecn_marks : 0);
        else
            sim_report_link(c->sim, c->name, r->label, r->bytes, r->units, busy, util);
        char name[460];
        snprintf(name, sizeof name, "throughput:%s", r->label);
        sim_report_metric(c->sim, c->name, name,
                          now ? (double)r->bytes / sim_time_to_s(now) : 0.0, "B/s");
        snprintf(name, sizeof name, "wire_bytes:%s", r->label);
        sim_report_metric(c->sim, c->name, name, r->wire_bytes, "B");
        snprintf(name, sizeof name, "efficiency:%s", r->label);
        sim_report_metric(c->sim, c->name, name,
                          r->wire_bytes > 0 ? (double)r->bytes / r->wire_bytes : 0.0, "");
        snprintf(name, sizeof name, "energy_j:%s", r->label);
        sim_report_metric(c->sim, c->name, name, wire_energy(h, r), "J");
        energy += wire_energy(h, r);
        if (r->buf) { /* the egress buffer of the node it leaves */
            const fab_buffer *b = r->buf;
            snprintf(name, sizeof name, "drops:%s", r->label);
            sim_report_metric(c->sim, c->name, name, (double)b->drop_units, "packets");
            snprintf(name, sizeof name, "drop_bytes:%s", r->label);
            sim_report_metric(c->sim, c->name, name, (double)b->drop_bytes, "B");
            snprintf(name, sizeof name, "ecn_marks:%s", r->label);
            sim_report_metric(c->sim, c->name, name, (double)b->ecn_marks, "packets");
            snprintf(name, sizeof name, "queue_max:%s", r->label);
            sim_report_metric(c->sim, c->name, name, (double)b->max_queued, "B");
        }
        if (r->pause) { /* PFC toward its sender */
            const fab_pause *p = r->pause;
            snprintf(name, sizeof name, "pause_time:%s", r->label);
            sim_report_metric(c->sim, c->name, name,
                              sim_time_to_s(p->pause_ps + (p->paused ? now - p->pause_since : 0)),
                              "s");
            snprintf(name, sizeof name, "pauses:%s", r->label);
            sim_report_metric(c->sim, c->name, name, (double)p->pauses, "frames");
        }
    }
    sim_report_metric(c->sim, c->name, "energy_pj_bit", h->energy, "pJ/bit");
    sim_report_energy(c->sim, c->name, energy, 0.0);
}

const sim_series fab_link_series[] = {
    {"throughput:*", "B/s", "bytes that left the direction in the sample interval, per second"},
    {NULL, NULL, NULL}};

void fab_link_sample(sim_comp *c, sim_time now)
{
    fab_hdr *h = c->state;
    fab_hdr_settle(c->sim, h, 1);
    double iv = sim_time_to_s(sim_sample_interval(c->sim));
    for (int d = 0; d < 2; d++) {
        char name[460];
        snprintf(name, sizeof name, "throughput:%s", h->res[d].label);
        sim_report_timeseries(c->sim, c->name, name, now,
                              iv > 0 ? (double)h->res[d].sample_bytes / iv : 0.0);
        h->res[d].sample_bytes = 0;
    }
}

/* ---- flows ------------------------------------------------------------- */

fab_fstep *fab_flow_add_step(fab_flow *fl, fab_res *r, const fab_proto *proto,
                             const void *cfg, int op, int dir, double rate, sim_time lat,
                             uint64_t unit, int payload)
{
    if (fl->nsteps >= FAB_MAX_STEPS)
        return NULL;
    fab_fstep *st = &fl->st[fl->nsteps];
    memset(st, 0, sizeof *st);
    st->res = r;
    st->proto = proto;
    st->cfg = cfg;
    st->op = op;
    st->dir = dir;
    st->rate = rate;
    st->lat = lat;
    st->unit = unit;
    st->payload = payload;
    st->flow = fl;
    st->pos = fl->nsteps++;
    return st;
}

/* Latency of entering node id (root complex, switch, device port) over
 * link `link` (the node kind may waive it for some links). */
static sim_time node_lat(sim *s, uint32_t link, uint32_t id)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    if (!h || fab_is_link(h) || !h->cls->node->entry_latency)
        return 0;
    if (h->cls->node->entry_waived && h->cls->node->entry_waived(s, h, link))
        return 0;
    return h->latency;
}

fab_fstep *fab_flow_add_hop(sim *s, fab_flow *fl, uint32_t link, int side, int op, int dir,
                            int payload)
{
    sim_comp *l = sim_comp_at(s, link);
    fab_hdr *lh = l->state;
    uint64_t unit = lh->unit;
    fab_hdr *nh = fab_hdr_of(sim_comp_at(s, l->ends[1 - side]));
    if (nh && !fab_is_link(nh) && nh->cls->node->forward_unit)
        unit = nh->cls->node->forward_unit(nh, unit);
    fab_fstep *st = fab_flow_add_step(fl, &lh->res[side], lh->cls->proto, lh->cfg, op, dir,
                                      lh->rate, lh->latency + node_lat(s, link, l->ends[1 - side]),
                                      unit, payload);
    if (st)
        st->packet = lh->unit;
    return st;
}

static int lone_start(sim *s, fab_flow *fl);

void fab_flow_launch(sim *s, fab_flow *fl)
{
    if (fl->fluid && fl->launched == 0 && fab_fluid_start(s, fl))
        return;
    if (fl->fast && fl->launched == 0 && lone_start(s, fl))
        return;
    while (fl->launched < fl->bytes && fl->inflight < fl->window) {
        fab_chunk *ch = fab_pool_get(fl->pool);
        if (!ch) { /* out of memory: fail the run rather than hang */
            sim_fail(s, SIM_ENOMEM, "fabric: out of memory for transfer chunks");
            return;
        }
        uint64_t b = fl->bytes - fl->launched;
        ch->flow = fl;
        ch->raw = NULL;
        ch->step = 0;
        ch->nstep = UINT32_MAX;
        ch->bytes = b < fl->chunk ? b : fl->chunk;
        ch->tag = fl->launched; /* offset in the transfer */
        fl->launched += ch->bytes;
        fl->inflight++;
        ch->step = next_step(fl, ch, 0);
        if (ch->step >= fl->nsteps) { /* nothing for it to cross: done at once */
            sim_schedule(s, 0, fl->fab_id, FAB_EV_END, 0, (uint64_t)(uintptr_t)ch);
            continue;
        }
        enqueue(s, &fl->st[ch->step], ch);
    }
}

static int lone_ticket(sim *s, fab_chunk *ch);

int fab_flow_chunk_done(sim *s, fab_chunk *ch)
{
    fab_flow *fl = ch->flow;
    if (ch->step == LONE_TICKET)
        return lone_ticket(s, ch);
    if (ch->step == FAB_FLUID_TICKET)
        return fab_fluid_ticket(s, ch);
    fl->done += ch->bytes;
    fl->inflight--;
    fab_pool_put(ch);
    if (fl->done == fl->bytes)
        return 1;
    fab_flow_launch(s, fl);
    return 0;
}

int fab_gate_enter(fab_gate *g, fab_flow *fl)
{
    if (g->busy < g->capacity) {
        g->busy++;
        return 0;
    }
    g->waits++;
    fl->next = NULL;
    if (g->tail)
        g->tail->next = fl;
    else
        g->head = fl;
    g->tail = fl;
    return 1;
}

fab_flow *fab_gate_leave(fab_gate *g)
{
    g->busy--;
    fab_flow *nx = g->head;
    if (!nx)
        return NULL;
    g->head = nx->next;
    if (!g->head)
        g->tail = NULL;
    g->busy++;
    return nx;
}

/* ---- lone flows -------------------------------------------------------- */

/* A lone flow's schedule (engine.h, "Lone flows"): what its chunks would do,
 * computed at launch by the recurrence serve() evaluates event by event. */
typedef struct lone_ent {
    sim_time a;           /* arrival at the step (LONE_SKIP: the chunk does not cross it) */
    sim_time s;           /* service start */
    sim_time svc;         /* service time */
    uint64_t units;       /* protocol units */
    double wire;          /* wire bytes */
} lone_ent;

typedef struct lone_chunk {
    sim_time launch;      /* put into its first step */
    sim_time end;         /* its END (after the last step's service and latency) */
} lone_chunk;

struct fab_lone {
    fab_lone *next;       /* free list */
    fab_lone *all;        /* next in the pool's list of every schedule */
    lone_ent *e;          /* nch x nsteps entries, chunk-major */
    lone_chunk *c;        /* per chunk */
    size_t cap_e, cap_c;  /* allocated entries */
    uint32_t nch;         /* chunks */
    uint32_t cs[FAB_MAX_STEPS]; /* per step: first chunk whose service start is not counted */
    uint32_t ce[FAB_MAX_STEPS]; /* per step: first chunk whose service end is not counted */
};

static void lone_free_all(fab_pool *p)
{
    fab_lone *L = p->lone_all;
    while (L) {
        fab_lone *nx = L->all;
        sim_free(L->e);
        sim_free(L->c);
        sim_free(L);
        L = nx;
    }
    p->lone_all = p->lone_free = NULL;
}

/* A schedule of at least ne entries and nc chunks from p (NULL: no memory). */
static fab_lone *lone_get(fab_pool *p, size_t ne, size_t nc)
{
    fab_lone *L = p->lone_free;
    if (L) {
        p->lone_free = L->next;
    } else {
        L = sim_calloc(1, sizeof *L);
        if (!L)
            return NULL;
        L->all = p->lone_all;
        p->lone_all = L;
    }
    if (L->cap_e < ne) {
        lone_ent *e = sim_realloc(L->e, ne * sizeof *e);
        if (!e)
            goto fail;
        L->e = e;
        L->cap_e = ne;
    }
    if (L->cap_c < nc) {
        lone_chunk *c = sim_realloc(L->c, nc * sizeof *c);
        if (!c)
            goto fail;
        L->c = c;
        L->cap_c = nc;
    }
    return L;
fail:
    L->next = p->lone_free;
    p->lone_free = L;
    return NULL;
}

static void lone_put(fab_pool *p, fab_lone *L)
{
    L->next = p->lone_free;
    p->lone_free = L;
}

static inline lone_ent *lone_at(const fab_flow *fl, uint32_t c, uint32_t k)
{
    return &fl->lone->e[(size_t)c * fl->nsteps + k];
}

/* Payload of chunk c of fl. */
static inline uint64_t lone_bytes(const fab_flow *fl, uint32_t c)
{
    uint64_t off = (uint64_t)c * fl->chunk, left = fl->bytes - off;
    return left < fl->chunk ? left : fl->chunk;
}

/* Count the services of lone flow fl that started before t (strict) or at
 * or before t, and those that ended so, on the resources it still holds:
 * what serve() and FAB_EV_DONE would have added by then, in chunk order. */
static void lone_settle(fab_flow *fl, sim_time t, int strict)
{
    fab_lone *L = fl->lone;
    for (uint32_t k = 0; k < fl->nsteps; k++) {
        const fab_fstep *st = &fl->st[k];
        fab_res *r = st->res;
        if (r->lone != fl)
            continue; /* released: everything counted */
        while (L->cs[k] < L->nch) {
            const lone_ent *e = lone_at(fl, L->cs[k], k);
            if (e->a == LONE_SKIP) {
                L->cs[k]++;
                continue;
            }
            if (strict ? e->s >= t : e->s > t)
                break;
            r->units += e->units;
            r->wire_bytes += e->wire;
            if (st->payload) {
                uint64_t b = lone_bytes(fl, L->cs[k]);
                r->bytes += b;
                r->sample_bytes += b;
                if (st->op == FAB_OP_READ)
                    r->read_bytes += b;
            }
            r->cur_start = e->s;
            r->cur_svc = e->svc;
            L->cs[k]++;
        }
        while (L->ce[k] < L->cs[k]) {
            const lone_ent *e = lone_at(fl, L->ce[k], k);
            if (e->a != LONE_SKIP) {
                sim_time end = e->s + e->svc;
                if (strict ? end >= t : end > t)
                    break;
                r->busy_ps += e->svc;
            }
            L->ce[k]++;
        }
        /* in service iff the last service started has not ended */
        r->busy = L->ce[k] < L->cs[k];
        r->nbusy = (uint32_t)r->busy;
    }
}

void fab_hdr_settle(sim *s, fab_hdr *h, int strict)
{
    for (uint32_t i = 0; i < h->nres; i++) {
        if (h->res[i].lone)
            lone_settle(h->res[i].lone, sim_now(s), strict);
        if (h->res[i].fluid)
            fab_fluid_settle(s, &h->res[i]);
    }
}

/* The flow stops running lone: its resources are released, its schedule
 * returned, its ticket (if still pending) left stale. */
static void lone_end(fab_flow *fl)
{
    for (uint32_t k = 0; k < fl->nsteps; k++)
        if (fl->st[k].res->lone == fl)
            fl->st[k].res->lone = NULL;
    lone_put(fl->pool, fl->lone);
    fl->lone = NULL;
    fl->gen = 0;
}

/* Start fl as a lone flow if its path is alone (1), else 0 (it runs as
 * chunks). */
static int lone_start(sim *s, fab_flow *fl)
{
    uint32_t K = fl->nsteps;
    if (!K || !fl->chunk || !fl->window)
        return 0;
    uint64_t C = (fl->bytes + fl->chunk - 1) / fl->chunk;
    if (C > FAB_LONE_MAX || C * K > FAB_LONE_MAX)
        return 0;
    for (uint32_t k = 0; k < K; k++) {
        const fab_res *r = fl->st[k].res;
        if (r->lone || r->ring || r->busy || r->nbusy || r->servers > 1 || r->fc || r->buf ||
            r->pause || fl->st[k].spread > 0)
            return 0;
        for (uint32_t j = 0; j < k; j++)
            if (fl->st[j].res == r)
                return 0;
    }
    fab_lone *L = lone_get(fl->pool, (size_t)(C * K), (size_t)C);
    if (!L)
        return 0; /* no memory for the schedule: as chunks */
    fab_chunk *tk = fab_pool_get(fl->pool);
    if (!tk) {
        lone_put(fl->pool, L);
        return 0;
    }
    fl->lone = L;
    L->nch = (uint32_t)C;
    memset(L->cs, 0, K * sizeof L->cs[0]);
    memset(L->ce, 0, K * sizeof L->ce[0]);
    sim_time now = sim_now(s);
    sim_time free_at[FAB_MAX_STEPS] = {0}; /* every resource is idle now */
    fab_chunk probe;                        /* next_step reads tag and bytes */
    memset(&probe, 0, sizeof probe);
    probe.flow = fl;
    for (uint32_t c = 0; c < C; c++) {
        uint64_t off = (uint64_t)c * fl->chunk, b = lone_bytes(fl, c);
        lone_chunk *lc = &L->c[c];
        /* chunk c is launched by the END of chunk c - window */
        lc->launch = c < fl->window ? now : L->c[c - fl->window].end;
        for (uint32_t k = 0; k < K; k++)
            lone_at(fl, c, k)->a = LONE_SKIP;
        probe.tag = off;
        probe.bytes = b;
        uint32_t k = next_step(fl, &probe, 0);
        sim_time a = lc->launch;
        lc->end = a; /* a chunk with no step ends at once */
        sim_time svc = 0;
        uint64_t units = 0;
        double wire = 0;
        int priced = 0;
        while (k < K) {
            const fab_fstep *st = &fl->st[k];
            if (!priced)
                svc = fab_step_service_at(st, off, b, &units, &wire);
            lone_ent *e = lone_at(fl, c, k);
            e->a = a;
            e->s = a > free_at[k] ? a : free_at[k];
            e->svc = svc;
            e->units = units;
            e->wire = wire;
            free_at[k] = e->s + svc;
            uint32_t k2 = next_step(fl, &probe, k + 1);
            if (k2 >= K) {
                lc->end = e->s + svc + st->lat;
                break;
            }
            /* as serve() */
            sim_time snext = fab_step_service_at(&fl->st[k2], off, b, &units, &wire);
            sim_time wait = fab_step_forward_wait(st, svc, snext, b);
            a = e->s + st->lat + wait;
            svc = snext;
            priced = 1;
            k = k2;
        }
    }
    uint64_t gen = ++fl->pool->lone_gen;
    fl->gen = gen;
    for (uint32_t k = 0; k < K; k++)
        fl->st[k].res->lone = fl;
    tk->flow = fl;
    tk->raw = NULL;
    tk->step = LONE_TICKET;
    tk->bytes = fl->bytes;
    tk->tag = gen;
    fl->launched = fl->bytes;
    fl->inflight = 1;
    sim_schedule(s, L->c[C - 1].end - now, fl->fab_id, FAB_EV_END, 0, (uint64_t)(uintptr_t)tk);
    lone_settle(fl, now, 0); /* the first services start now, as they would */
    return 1;
}

/* The ticket of a lone run reached the fabric: the flow is complete (1),
 * or the ticket is stale (0: the flow went on as chunks). */
static int lone_ticket(sim *s, fab_chunk *ch)
{
    fab_flow *fl = ch->flow;
    uint64_t gen = ch->tag;
    fab_pool_put(ch);
    if (!fl->lone || fl->gen != gen)
        return 0;
    lone_settle(fl, sim_now(s), 0);
    lone_end(fl);
    fl->done = fl->bytes;
    fl->inflight = 0;
    return 1;
}

/* Append ch to the queue of step st (no service starts: the resource is
 * busy with the flow's previous chunk). */
static void lone_queue(fab_fstep *st, fab_chunk *ch)
{
    ch->next = NULL;
    if (st->qt)
        st->qt->next = ch;
    else
        st->qh = ch;
    st->qt = ch;
    if (!st->in_ring) {
        st->in_ring = 1;
        st->rr_next = st->rr_prev = st;
        st->res->ring = st; /* the flow held the resource alone */
    }
}

/* Turn lone flow fl into chunks at time t: the state and pending events
 * its chunks would have after its events at times <= t (counters settled
 * by the caller). */
static void lone_materialize(sim *s, fab_flow *fl, sim_time t)
{
    fab_lone *L = fl->lone;
    uint32_t K = fl->nsteps;
    uint64_t launched = 0, done = 0;
    uint32_t inflight = 0;
    for (uint32_t c = 0; c < L->nch; c++) {
        const lone_chunk *lc = &L->c[c];
        if (lc->launch > t)
            break; /* launch times do not decrease */
        uint64_t b = lone_bytes(fl, c);
        launched += b;
        if (lc->end <= t) {
            done += b;
            continue;
        }
        fab_chunk *ch = fab_pool_get(fl->pool);
        if (!ch) {
            sim_fail(s, SIM_ENOMEM, "fabric: out of memory for transfer chunks");
            break;
        }
        inflight++;
        ch->flow = fl;
        ch->raw = NULL;
        ch->bytes = b;
        ch->tag = (uint64_t)c * fl->chunk;
        ch->nstep = UINT32_MAX;
        ch->next = NULL;
        uint32_t last = UINT32_MAX, first = UINT32_MAX;
        for (uint32_t k = 0; k < K; k++) {
            const lone_ent *e = lone_at(fl, c, k);
            if (e->a == LONE_SKIP)
                continue;
            if (first == UINT32_MAX)
                first = k;
            if (e->s > t)
                continue;
            last = k;
            if (e->s + e->svc > t) { /* in service: its DONE is pending */
                fab_res *r = fl->st[k].res;
                r->cur = ch;
                sim_schedule(s, e->s + e->svc - t, r->owner, FAB_EV_DONE, r->index, 0);
            }
        }
        if (last == UINT32_MAX) { /* waits at its first step */
            ch->step = first;
            lone_queue(&fl->st[first], ch);
            continue;
        }
        uint32_t k2 = next_step(fl, ch, last + 1);
        if (k2 >= K) { /* past its last step: END pending */
            ch->step = last;
            sim_schedule(s, lc->end - t, fl->fab_id, FAB_EV_END, 0, (uint64_t)(uintptr_t)ch);
            continue;
        }
        ch->step = k2;
        const lone_ent *e2 = lone_at(fl, c, k2);
        const fab_res *r2 = fl->st[k2].res;
        if (e2->a > t)
            sim_schedule(s, e2->a - t, r2->owner, FAB_EV_ARRIVE, r2->index,
                         (uint64_t)(uintptr_t)ch);
        else
            lone_queue(&fl->st[k2], ch);
    }
    fl->launched = launched;
    fl->done = done;
    fl->inflight = inflight;
    lone_end(fl);
}

/* Someone enqueues at r, held by a lone flow: release r if the flow is
 * done with it, else turn the flow into chunks. */
static void lone_touch(sim *s, fab_res *r)
{
    fab_flow *fl = r->lone;
    sim_time now = sim_now(s);
    lone_settle(fl, now, 0);
    for (uint32_t k = 0; k < fl->nsteps; k++)
        if (fl->st[k].res == r) {
            if (fl->lone->ce[k] == fl->lone->nch) {
                r->lone = NULL;
                return;
            }
            break;
        }
    lone_materialize(s, fl, now);
}

/* ---- routes ------------------------------------------------------------ */

void fab_topo_free(fab_topo *t)
{
    sim_free(t->adj_off);
    sim_free(t->adj);
    sim_free(t->bfs_prev);
    sim_free(t->bfs_q);
    sim_free(t->dist);
    t->adj_off = t->adj = t->bfs_prev = t->bfs_q = t->dist = NULL;
    t->built = 0;
}

int fab_topo_build(sim *s, fab_topo *t)
{
    uint32_t n = (uint32_t)sim_ncomps(s);
    if (t->built && t->ncomps == n)
        return 0;
    fab_topo_free(t);
    t->ncomps = n;
    t->adj_off = sim_calloc(n + 1, sizeof *t->adj_off);
    t->bfs_prev = sim_calloc(n ? n : 1, sizeof *t->bfs_prev);
    t->bfs_q = sim_calloc(n ? n : 1, sizeof *t->bfs_q);
    t->dist = sim_calloc(n ? n : 1, sizeof *t->dist);
    if (!t->adj_off || !t->bfs_prev || !t->bfs_q || !t->dist)
        return SIM_ENOMEM;
    uint32_t cnt = 0;
    for (uint32_t i = 0; i < n; i++) {
        sim_comp *c = sim_comp_at(s, i);
        if (fab_is_link(fab_hdr_of(c))) {
            t->adj_off[c->ends[0] + 1]++;
            t->adj_off[c->ends[1] + 1]++;
            cnt += 2;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        t->adj_off[i + 1] += t->adj_off[i];
    t->adj = sim_calloc(cnt ? cnt : 1, sizeof *t->adj);
    uint32_t *fill = sim_calloc(n ? n : 1, sizeof *fill);
    if (!t->adj || !fill) {
        sim_free(fill);
        return SIM_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) { /* links in scenario order */
        sim_comp *c = sim_comp_at(s, i);
        if (fab_is_link(fab_hdr_of(c)))
            for (int k = 0; k < 2; k++) {
                uint32_t e = c->ends[k];
                t->adj[t->adj_off[e] + fill[e]++] = i;
            }
    }
    sim_free(fill);
    t->built = 1;
    return 0;
}

static int forwards(sim *s, uint32_t id)
{
    const fab_node_kind *k = fab_kind_of(s, id);
    return k && k->forwards;
}

int fab_route_find(sim *s, fab_topo *t, uint32_t a, uint32_t b, uint32_t *links, uint32_t max,
                   uint32_t *n)
{
    if (a == b) {
        *n = 0;
        return 0;
    }
    for (uint32_t i = 0; i < t->ncomps; i++)
        t->bfs_prev[i] = UINT32_MAX;
    uint32_t qh = 0, qt = 0;
    t->bfs_q[qt++] = a;
    t->bfs_prev[a] = UINT32_MAX - 1;
    while (qh < qt) {
        uint32_t u = t->bfs_q[qh++];
        if (u != a && !forwards(s, u))
            continue;
        for (uint32_t j = t->adj_off[u]; j < t->adj_off[u + 1]; j++) {
            sim_comp *l = sim_comp_at(s, t->adj[j]);
            uint32_t v = l->ends[0] == u ? l->ends[1] : l->ends[0];
            if (t->bfs_prev[v] != UINT32_MAX)
                continue;
            t->bfs_prev[v] = l->id;
            if (v == b)
                goto found;
            t->bfs_q[qt++] = v;
        }
    }
    return SIM_ENOTFOUND;
found:;
    uint32_t cnt = 0;
    for (uint32_t v = b; v != a;) {
        sim_comp *l = sim_comp_at(s, t->bfs_prev[v]);
        v = l->ends[0] == v ? l->ends[1] : l->ends[0];
        cnt++;
    }
    if (cnt > max)
        return SIM_ENOTFOUND;
    uint32_t i = cnt;
    for (uint32_t v = b; v != a;) {
        sim_comp *l = sim_comp_at(s, t->bfs_prev[v]);
        links[--i] = l->id;
        v = l->ends[0] == v ? l->ends[1] : l->ends[0];
    }
    *n = cnt;
    return 0;
}

uint32_t fab_route_node(sim *s, uint32_t id)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    if (h && !fab_is_link(h) && h->cls->node->attached_to) {
        uint32_t a = h->cls->node->attached_to(h);
        if (a != UINT32_MAX)
            return a;
    }
    return id;
}

/* splitmix64: a well-mixed 64-bit hash of x. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int fab_route_find_ecmp(sim *s, fab_topo *t, uint32_t a, uint32_t b, uint64_t hash,
                        uint32_t *links, uint32_t max, uint32_t *n)
{
    if (a == b) {
        *n = 0;
        return 0;
    }
    fab_route_dist(s, t, b); /* hops to b (a path through a is never shorter) */
    if (t->dist[a] == UINT32_MAX || t->dist[a] > max)
        return SIM_ENOTFOUND;
    /* walk from a: among the links to a neighbour one hop closer, the hash picks */
    uint32_t u = a, hop = 0;
    while (u != b) {
        uint32_t cand = 0;
        for (uint32_t j = t->adj_off[u]; j < t->adj_off[u + 1]; j++) {
            sim_comp *l = sim_comp_at(s, t->adj[j]);
            uint32_t v = l->ends[0] == u ? l->ends[1] : l->ends[0];
            if (t->dist[v] + 1 == t->dist[u] && (v == b || forwards(s, v)))
                cand++;
        }
        if (!cand)
            return SIM_ENOTFOUND;
        uint32_t pick = (uint32_t)(mix(hash ^ mix(hop)) % cand), k = 0;
        for (uint32_t j = t->adj_off[u]; j < t->adj_off[u + 1]; j++) {
            sim_comp *l = sim_comp_at(s, t->adj[j]);
            uint32_t v = l->ends[0] == u ? l->ends[1] : l->ends[0];
            if (t->dist[v] + 1 == t->dist[u] && (v == b || forwards(s, v)) && k++ == pick) {
                links[hop++] = l->id;
                u = v;
                break;
            }
        }
    }
    *n = hop;
    return 0;
}

int fab_route_has_ecmp(sim *s, uint32_t a, const uint32_t *links, uint32_t n)
{
    uint32_t at = a;
    for (uint32_t i = 0; i + 1 < n; i++) {
        sim_comp *l = sim_comp_at(s, links[i]);
        at = l->ends[0] == at ? l->ends[1] : l->ends[0];
        const fab_node_kind *k = fab_kind_of(s, at);
        if (k && k->ecmp)
            return 1;
    }
    return 0;
}

void fab_route_dist(sim *s, fab_topo *t, uint32_t a)
{
    for (uint32_t i = 0; i < t->ncomps; i++)
        t->dist[i] = UINT32_MAX;
    uint32_t qh = 0, qt = 0;
    t->bfs_q[qt++] = a;
    t->dist[a] = 0;
    while (qh < qt) {
        uint32_t u = t->bfs_q[qh++];
        if (u != a && !forwards(s, u))
            continue;
        for (uint32_t j = t->adj_off[u]; j < t->adj_off[u + 1]; j++) {
            sim_comp *l = sim_comp_at(s, t->adj[j]);
            uint32_t v = l->ends[0] == u ? l->ends[1] : l->ends[0];
            if (t->dist[v] != UINT32_MAX)
                continue;
            t->dist[v] = t->dist[u] + 1;
            t->bfs_q[qt++] = v;
        }
    }
}
