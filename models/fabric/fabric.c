/*
 * fabric.c - the fabric engine (fabric_int.h), the transfer interface and
 * the `fabric` and `xfer` components (fabric.h).
 *
 * NOTES ON THE DESIGN
 * Resources live inside the components that own them (a link's two
 * directions, a host's DRAM and memcpy, an SSD's flash), so each component
 * handles the events of its own resources and its `links` rows come from
 * the same counters the engine updates. A transfer is a fab_flow: a fixed
 * array of steps (an itinerary built once, when the transfer starts), a
 * window of chunks in flight, and a completion notice. Flows and chunks
 * come from pools grown in blocks that never move (so events may carry
 * pointers) and are recycled: a steady state allocates nothing.
 *
 * A chunk at step k:  enqueue at the step's resource (FIFO per flow, ring
 * of flows per resource) -> service (FAB_EV_DONE at the resource after s)
 * -> ARRIVE at step k+1 at t0 + lat + max(u, s - s_next) (fabric_int.h),
 * or END at the fabric at t0 + s + lat after the last step. The END of a
 * chunk launches the next one of its flow; the END of the last chunk
 * completes the flow and notifies the caller.
 *
 * Invariants: a resource serves at most one chunk; a flow step is in its
 * resource's ring iff it has waiting chunks; launched - done bytes of a
 * flow never exceed its window (in chunks).
 */
#include "models/fabric/fabric.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/fabric/cxl.h"
#include "models/fabric/fabdev.h"
#include "models/fabric/fabric_int.h"
#include "models/fabric/pcie.h"
#include "sim/mem.h"
#include "sim/stats.h"

struct fab_flow {
    struct fabric_state *fab;   /* owning fabric */
    uint32_t fab_id;            /* its component id */
    uint32_t nsteps;            /* steps used */
    fab_fstep st[FAB_MAX_STEPS];/* the itinerary */
    uint64_t bytes;             /* to move */
    uint64_t launched;          /* bytes put into step 0 */
    uint64_t done;              /* bytes through the last step */
    uint32_t inflight;          /* chunks launched, not done */
    uint32_t window;            /* max chunks in flight */
    uint64_t chunk;             /* chunk size */
    int path;                   /* FABRIC_PATH_* (resolved) */
    uint32_t notify, kind;      /* completion event */
    uint64_t cookie;            /* caller's tag */
    sim_time t0;                /* request time */
    double cpu_ps;              /* CPU time charged */
    uint64_t host_mem;          /* host DRAM bytes crossed */
    uint32_t cpu_id;            /* host charged (UINT32_MAX: none) */
    uint32_t ce_gpu;            /* GPU whose copy engine it needs (UINT32_MAX: none) */
    fab_flow *next;             /* free list / copy-engine wait list */
};

typedef struct path_stats {
    uint64_t n;              /* completed transfers */
    uint64_t bytes;          /* their bytes */
    uint64_t host_mem;       /* host DRAM bytes */
    double cpu_ps;           /* CPU time */
    uint64_t sample_bytes;   /* bytes finished since the last sample */
    sim_samples lat;         /* latencies, ps */
} path_stats;

enum { MODE_CHUNK, MODE_PACKET };
static const char *const mode_names[] = {"chunk", "packet", NULL};

typedef struct fabric_state {
    /* configuration */
    uint64_t chunk;          /* chunk size (chunk mode) */
    int mode;                /* MODE_* */
    uint64_t window;         /* bytes in flight per transfer */
    int free_xfers;          /* transfers take no time */
    int gds;                 /* AUTO uses GDS for NVMe <-> GPU */
    uint64_t bounce_io;      /* bytes per bounce-buffer I/O (BOUNCE CPU cost) */
    /* state */
    int built;               /* adjacency built */
    uint32_t ncomps;         /* components when built */
    uint32_t *adj_off;       /* per component: start in adj (ncomps + 1 entries) */
    uint32_t *adj;           /* link ids attached, in scenario order */
    uint32_t *bfs_prev;      /* BFS scratch: link used to reach a node */
    uint32_t *bfs_q;         /* BFS scratch: queue */
    fab_flow *free_flows;    /* recycled flows */
    void **fblocks;          /* flow blocks */
    size_t nfblocks, capfblocks;
    fab_pool pool;           /* chunks */
    path_stats ps[FABRIC_NPATHS];
    uint64_t active;         /* flows in progress */
} fabric_state;

/* ---- pools ------------------------------------------------------------- */

static fab_chunk *pool_get(fab_pool *p)
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

static void pool_put(fab_chunk *c)
{
    fab_pool *p = c->pool;
    c->next = p->free;
    p->free = c;
}

static void pool_free(fab_pool *p)
{
    for (size_t i = 0; i < p->nblocks; i++)
        sim_free(p->blocks[i]);
    sim_free(p->blocks);
    memset(p, 0, sizeof *p);
}

/* ---- headers ----------------------------------------------------------- */

static const sim_model *const fab_models[] = {
    &pcie_model, &cxl_model, &fab_upi_model, &fab_cpu_model, &fab_gpu_model,
    &fab_nvme_model, &fab_memory_model, &fab_endpoint_model, &fab_pswitch_model,
    &fab_cswitch_model, NULL};

fab_hdr *fab_hdr_of(const sim_comp *c)
{
    if (!c)
        return NULL;
    for (int i = 0; fab_models[i]; i++)
        if (c->model == fab_models[i])
            return c->state;
    return NULL;
}

static int is_link_kind(int k) { return k == FAB_K_PCIE || k == FAB_K_CXL || k == FAB_K_UPI; }

void fab_res_init(sim_comp *c, uint32_t i, const char *label)
{
    fab_hdr *h = c->state;
    fab_res *r = &h->res[i];
    r->owner = c->id;
    r->index = i;
    r->label = sim_strdup(label);
}

void fab_link_init(sim_comp *c, int cost, const void *cfg, double rate, uint64_t unit)
{
    fab_hdr *h = c->state;
    h->nres = 2;
    h->cost = cost;
    h->cfg = cfg;
    h->rate = rate;
    h->unit = unit;
    for (int d = 0; d < 2; d++) {
        char lb[400];
        sim_comp *a = sim_comp_at(c->sim, c->ends[d]), *b = sim_comp_at(c->sim, c->ends[1 - d]);
        snprintf(lb, sizeof lb, "%s->%s", a ? a->name : "?", b ? b->name : "?");
        fab_res_init(c, (uint32_t)d, lb);
        fab_fstep *st = &h->raw[d];
        memset(st, 0, sizeof *st);
        st->res = &h->res[d];
        st->cost = cost;
        st->op = PCIE_OP_WRITE;
        st->dir = PCIE_DIR_DATA;
        st->cfg = cfg;
        st->rate = rate;
        st->lat = h->latency;
        st->unit = unit;
        st->payload = 1;
    }
}

void fab_hdr_destroy(fab_hdr *h)
{
    for (uint32_t i = 0; i < h->nres; i++)
        sim_free((void *)h->res[i].label);
    pool_free(&h->pool);
}

sim_time fab_res_busy(const fab_res *r, sim_time now)
{
    sim_time b = r->busy_ps;
    if (r->busy && now > r->cur_start)
        b += (now - r->cur_start < r->cur_svc) ? now - r->cur_start : r->cur_svc;
    return b;
}

/* ---- costs ------------------------------------------------------------- */

static sim_time step_service_at(const fab_fstep *st, uint64_t off, uint64_t bytes,
                                uint64_t *units, double *wire)
{
    double w = 0;
    uint64_t u = 0;
    sim_time t = 0;
    switch (st->cost) {
    case FAB_C_PCIE: {
        const pcie_cfg *cfg = st->cfg;
        w = pcie_wire_bytes_at(cfg, st->op, off, bytes, st->dir);
        u = pcie_tlps_at(cfg, st->op, off, bytes, st->dir);
        t = (sim_time)llround(w * 1e12 / pcie_raw_rate(cfg));
        break;
    }
    case FAB_C_CXL: {
        const cxl_cfg *cfg = st->cfg;
        w = cxl_wire_bytes_at(cfg, st->op, off, bytes, st->dir);
        u = (uint64_t)ceil(w / cxl_flit_bytes(cfg->flit));
        t = (sim_time)llround(w * 1e12 / cxl_raw_rate(cfg));
        break;
    }
    default:
        if (st->dir == PCIE_DIR_REQ)
            break; /* requests on a plain-rate link: latency only */
        w = (double)bytes;
        u = 1;
        t = st->rate > 0 ? (sim_time)llround((double)bytes * 1e12 / st->rate) : 0;
        break;
    }
    if (units)
        *units = u;
    if (wire)
        *wire = w;
    return t;
}

sim_time fab_step_service(const fab_fstep *st, uint64_t bytes, uint64_t *units, double *wire)
{
    return step_service_at(st, 0, bytes, units, wire);
}

/* ---- the engine -------------------------------------------------------- */

static void serve(sim *s, fab_res *r);

static void enqueue(sim *s, fab_fstep *st, fab_chunk *ch)
{
    fab_res *r = st->res;
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
        serve(s, r);
}

/* Credits the chunk at the head of st needs at its (credit-limited)
 * resource: class (or -1: none) and header/data counts. Raw packets larger
 * than the pool are clamped to it (they wait for the whole pool). */
static int fc_need(const fab_fstep *st, const fab_chunk *ch, uint64_t *nh, uint64_t *nd)
{
    if (st->cost != FAB_C_PCIE)
        return -1;
    const fab_credit *fc = st->res->fc;
    int cls = pcie_fc_credits_at(st->cfg, st->op, ch->flow ? ch->tag : 0, ch->bytes, st->dir,
                                 nh, nd);
    if (cls < 0 || (!*nh && !*nd))
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

static void serve(sim *s, fab_res *r)
{
    fab_fstep *st = r->ring;
    if (!st)
        return;
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
                return; /* idle until an UpdateFC (FAB_EV_CREDIT) */
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
    /* offset of this chunk in its transfer: flows keep it in tag */
    uint64_t off = ch->flow ? ch->tag : 0;
    uint64_t units;
    double wire;
    sim_time svc = step_service_at(st, off, ch->bytes, &units, &wire);
    sim_time now = sim_now(s);
    r->busy = 1;
    r->cur = ch;
    r->cur_start = now;
    r->cur_svc = svc;
    r->units += units;
    r->wire_bytes += wire;
    if (st->payload) {
        r->bytes += ch->bytes;
        r->sample_bytes += ch->bytes;
    }
    sim_schedule(s, svc, r->owner, FAB_EV_DONE, r->index, 0);
    if (r->fc) { /* consume; the UpdateFC returns them after one TLP's round trip */
        uint64_t nh, nd;
        int cls = fc_need(st, ch, &nh, &nd);
        if (cls >= 0) {
            fab_credit *fc = r->fc;
            if (fc->hdr_limit[cls])
                fc->hdr_avail[cls] -= nh;
            if (fc->data_limit[cls])
                fc->data_avail[cls] -= nd;
            sim_time per_tlp = units ? svc / (sim_time)units : svc;
            sim_schedule(s, per_tlp + fc->ret, r->owner, FAB_EV_CREDIT,
                         (uint64_t)r->index | (uint64_t)cls << 1, nh << 40 | nd);
        }
    }

    if (!ch->flow) { /* a raw packet over a link: deliver to the far end */
        sim_comp *link = sim_comp_at(s, r->owner);
        sim_schedule(s, svc + st->lat, link->ends[1 - r->index], SIM_EV_DELIVER, ch->bytes,
                     ch->tag);
        return; /* freed at DONE */
    }
    fab_flow *f = ch->flow;
    uint32_t k = ch->step;
    if (k + 1 >= f->nsteps) {
        sim_schedule(s, svc + st->lat, f->fab_id, FAB_EV_END, 0, (uint64_t)(uintptr_t)ch);
        return;
    }
    fab_fstep *nx = &f->st[k + 1];
    sim_time snext = step_service_at(nx, off, ch->bytes, NULL, NULL);
    /* first forwarding unit here, then never outrun the tail */
    sim_time u = svc;
    if (st->unit && ch->bytes > st->unit)
        u = (sim_time)((double)svc * (double)st->unit / (double)ch->bytes);
    sim_time wait = svc > snext && svc - snext > u ? svc - snext : u;
    ch->step = k + 1;
    sim_schedule(s, st->lat + wait, nx->res->owner, FAB_EV_ARRIVE, nx->res->index,
                 (uint64_t)(uintptr_t)ch);
}

void fab_handle(sim_comp *c, const sim_event *e)
{
    fab_hdr *h = c->state;
    if (e->kind == FAB_EV_ARRIVE) {
        fab_chunk *ch = (fab_chunk *)(uintptr_t)e->a1;
        fab_fstep *st = ch->flow ? &ch->flow->st[ch->step] : ch->raw;
        enqueue(c->sim, st, ch);
    } else if (e->kind == FAB_EV_DONE) {
        fab_res *r = &h->res[e->a0];
        fab_chunk *ch = r->cur;
        r->busy = 0;
        r->cur = NULL;
        r->busy_ps += r->cur_svc;
        if (ch && !ch->flow)
            pool_put(ch);
        serve(c->sim, r);
    } else if (e->kind == FAB_EV_CREDIT) {
        fab_res *r = &h->res[e->a0 & 1];
        int cls = (int)(e->a0 >> 1);
        if (!r->fc || cls >= FAB_FC_NCLASS)
            return;
        r->fc->hdr_avail[cls] += e->a1 >> 40;
        r->fc->data_avail[cls] += e->a1 & ((1ull << 40) - 1);
        r->fc->updates++;
        if (!r->busy)
            serve(c->sim, r);
    }
}

int fab_link_send(sim_comp *link, int side, uint64_t bytes, uint64_t tag)
{
    fab_hdr *h = link->state;
    fab_chunk *ch = pool_get(&h->pool);
    if (!ch)
        return SIM_ENOMEM;
    ch->flow = NULL;
    ch->raw = &h->raw[side];
    ch->step = 0;
    ch->bytes = bytes;
    ch->tag = tag;
    enqueue(link->sim, ch->raw, ch);
    return 0;
}

void fab_link_report(sim_comp *c)
{
    fab_hdr *h = c->state;
    sim_time now = sim_now(c->sim);
    for (int d = 0; d < 2; d++) {
        fab_res *r = &h->res[d];
        sim_time busy = fab_res_busy(r, now);
        sim_report_link(c->sim, c->name, r->label, r->bytes, r->units, busy,
                        now ? (double)busy / (double)now : 0.0);
        char name[460];
        snprintf(name, sizeof name, "throughput:%s", r->label);
        sim_report_metric(c->sim, c->name, name,
                          now ? (double)r->bytes / sim_time_to_s(now) : 0.0, "B/s");
        snprintf(name, sizeof name, "wire_bytes:%s", r->label);
        sim_report_metric(c->sim, c->name, name, r->wire_bytes, "B");
        snprintf(name, sizeof name, "efficiency:%s", r->label);
        sim_report_metric(c->sim, c->name, name,
                          r->wire_bytes > 0 ? (double)r->bytes / r->wire_bytes : 0.0, "");
    }
}

void fab_link_sample(sim_comp *c, sim_time now)
{
    fab_hdr *h = c->state;
    double iv = sim_time_to_s(sim_sample_interval(c->sim));
    for (int d = 0; d < 2; d++) {
        char name[460];
        snprintf(name, sizeof name, "throughput:%s", h->res[d].label);
        sim_report_timeseries(c->sim, c->name, name, now,
                              iv > 0 ? (double)h->res[d].sample_bytes / iv : 0.0);
        h->res[d].sample_bytes = 0;
    }
}

/* ---- topology ---------------------------------------------------------- */

static void topo_free(fabric_state *f)
{
    sim_free(f->adj_off);
    sim_free(f->adj);
    sim_free(f->bfs_prev);
    sim_free(f->bfs_q);
    f->adj_off = f->adj = f->bfs_prev = f->bfs_q = NULL;
    f->built = 0;
}

static int topo_build(sim *s, fabric_state *f)
{
    uint32_t n = (uint32_t)sim_ncomps(s);
    if (f->built && f->ncomps == n)
        return 0;
    topo_free(f);
    f->ncomps = n;
    f->adj_off = sim_calloc(n + 1, sizeof *f->adj_off);
    f->bfs_prev = sim_calloc(n ? n : 1, sizeof *f->bfs_prev);
    f->bfs_q = sim_calloc(n ? n : 1, sizeof *f->bfs_q);
    if (!f->adj_off || !f->bfs_prev || !f->bfs_q)
        return SIM_ENOMEM;
    uint32_t cnt = 0;
    for (uint32_t i = 0; i < n; i++) {
        sim_comp *c = sim_comp_at(s, i);
        fab_hdr *h = fab_hdr_of(c);
        if (h && is_link_kind(h->kind)) {
            f->adj_off[c->ends[0] + 1]++;
            f->adj_off[c->ends[1] + 1]++;
            cnt += 2;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        f->adj_off[i + 1] += f->adj_off[i];
    f->adj = sim_calloc(cnt ? cnt : 1, sizeof *f->adj);
    uint32_t *fill = sim_calloc(n ? n : 1, sizeof *fill);
    if (!f->adj || !fill) {
        sim_free(fill);
        return SIM_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) { /* links in scenario order */
        sim_comp *c = sim_comp_at(s, i);
        fab_hdr *h = fab_hdr_of(c);
        if (h && is_link_kind(h->kind))
            for (int k = 0; k < 2; k++) {
                uint32_t e = c->ends[k];
                f->adj[f->adj_off[e] + fill[e]++] = i;
            }
    }
    sim_free(fill);
    f->built = 1;
    return 0;
}

static int passthrough(sim *s, uint32_t id)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    return h && (h->kind == FAB_K_CPU || h->kind == FAB_K_PSWITCH || h->kind == FAB_K_CSWITCH);
}

/* BFS from a to b; fills links[] (in order from a) and *n. */
static int bfs(sim *s, fabric_state *f, uint32_t a, uint32_t b, uint32_t *links, uint32_t max,
               uint32_t *n)
{
    if (a == b) {
        *n = 0;
        return 0;
    }
    for (uint32_t i = 0; i < f->ncomps; i++)
        f->bfs_prev[i] = UINT32_MAX;
    uint32_t qh = 0, qt = 0;
    f->bfs_q[qt++] = a;
    f->bfs_prev[a] = UINT32_MAX - 1;
    while (qh < qt) {
        uint32_t u = f->bfs_q[qh++];
        if (u != a && !passthrough(s, u))
            continue;
        for (uint32_t j = f->adj_off[u]; j < f->adj_off[u + 1]; j++) {
            sim_comp *l = sim_comp_at(s, f->adj[j]);
            uint32_t v = l->ends[0] == u ? l->ends[1] : l->ends[0];
            if (f->bfs_prev[v] != UINT32_MAX)
                continue;
            f->bfs_prev[v] = l->id;
            if (v == b)
                goto found;
            f->bfs_q[qt++] = v;
        }
    }
    return SIM_ENOTFOUND;
found:;
    uint32_t cnt = 0;
    for (uint32_t v = b; v != a;) {
        sim_comp *l = sim_comp_at(s, f->bfs_prev[v]);
        v = l->ends[0] == v ? l->ends[1] : l->ends[0];
        cnt++;
    }
    if (cnt > max)
        return SIM_ENOTFOUND;
    uint32_t i = cnt;
    for (uint32_t v = b; v != a;) {
        sim_comp *l = sim_comp_at(s, f->bfs_prev[v]);
        links[--i] = l->id;
        v = l->ends[0] == v ? l->ends[1] : l->ends[0];
    }
    *n = cnt;
    return 0;
}

/* The component a transfer end is routed from (memories hang off their host). */
static uint32_t route_node(sim *s, uint32_t id)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    if (h && h->kind == FAB_K_MEM && ((fab_mem *)h)->attach_id != UINT32_MAX)
        return ((fab_mem *)h)->attach_id;
    return id;
}

/* ---- the fabric component and flows ------------------------------------ */

static uint32_t cached_fabric = UINT32_MAX;

sim_comp *fabric_get(sim *s)
{
    sim_comp *c = sim_comp_at(s, cached_fabric);
    if (c && c->model == &fabric_model)
        return c;
    size_t n = sim_ncomps(s);
    for (size_t i = 0; i < n; i++) {
        c = sim_comp_at(s, (uint32_t)i);
        if (c->model == &fabric_model) {
            cached_fabric = (uint32_t)i;
            return c;
        }
    }
    sim_err err;
    sim_err_clear(&err);
    c = sim_add(s, &fabric_model, sim_find(s, "fabric") ? "fabric_" : "fabric", NULL, &err);
    if (c)
        cached_fabric = c->id;
    return c;
}

static fab_flow *flow_get(fabric_state *f)
{
    if (!f->free_flows) {
        if (f->nfblocks == f->capfblocks) {
            size_t cap = f->capfblocks ? 2 * f->capfblocks : 8;
            void **nb = sim_realloc(f->fblocks, cap * sizeof *nb);
            if (!nb)
                return NULL;
            f->fblocks = nb;
            f->capfblocks = cap;
        }
        size_t n = 16u << (f->nfblocks < 6 ? f->nfblocks : 6);
        fab_flow *b = sim_calloc(n, sizeof *b);
        if (!b)
            return NULL;
        f->fblocks[f->nfblocks++] = b;
        for (size_t i = 0; i < n; i++) {
            b[i].next = f->free_flows;
            f->free_flows = &b[i];
        }
    }
    fab_flow *fl = f->free_flows;
    f->free_flows = fl->next;
    memset(fl, 0, sizeof *fl);
    return fl;
}

static void flow_put(fabric_state *f, fab_flow *fl)
{
    fl->next = f->free_flows;
    f->free_flows = fl;
}

static fab_fstep *add_step(fab_flow *fl, fab_res *r, int cost, int op, int dir, const void *cfg,
                           double rate, sim_time lat, uint64_t unit, int payload)
{
    if (fl->nsteps >= FAB_MAX_STEPS)
        return NULL;
    fab_fstep *st = &fl->st[fl->nsteps];
    memset(st, 0, sizeof *st);
    st->res = r;
    st->cost = cost;
    st->op = op;
    st->dir = dir;
    st->cfg = cfg;
    st->rate = rate;
    st->lat = lat;
    st->unit = unit;
    st->payload = payload;
    st->flow = fl;
    st->pos = fl->nsteps++;
    return st;
}

static int kind_of(sim *s, uint32_t id)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    return h ? h->kind : FAB_K_NONE;
}

static int memlike(sim *s, uint32_t id)
{
    int k = kind_of(s, id);
    return k == FAB_K_CPU || k == FAB_K_MEM;
}

/* The memory step of end `id` (data leaving it when `out`). 0 if it has none. */
static int mem_step(sim *s, fab_flow *fl, uint32_t id, int out, int random)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    double rate = 0;
    sim_time lat = 0;
    uint64_t unit = 4096;
    switch (h->kind) {
    case FAB_K_CPU: {
        fab_cpu *c = (fab_cpu *)h;
        rate = c->dram_bw;
        lat = c->dram_lat;
        fl->host_mem += fl->bytes;
        break;
    }
    case FAB_K_GPU: rate = ((fab_gpu *)h)->hbm_bw; lat = ((fab_gpu *)h)->hbm_lat; break;
    case FAB_K_MEM: {
        fab_mem *m = (fab_mem *)h;
        rate = m->bw;
        lat = m->lat;
        if (m->mkind == FAB_MEM_DDR && m->attach_id != UINT32_MAX &&
            kind_of(s, m->attach_id) == FAB_K_CPU)
            fl->host_mem += fl->bytes;
        break;
    }
    case FAB_K_NVME: {
        fab_nvme *d = (fab_nvme *)h;
        double seq = out ? d->read_bw : d->write_bw;
        double rnd = out ? d->rread_bw : d->rwrite_bw;
        sim_time l = out ? d->read_lat : d->write_lat;
        rate = seq;
        if (random) {
            double conc = (double)(d->qd < d->par ? d->qd : d->par);
            double little = conc * (double)d->io_size * 1e12 / (double)(l ? l : 1);
            rate = rnd < little ? rnd : little;
            unit = d->io_size;
        }
        lat = l;
        break;
    }
    case FAB_K_ENDPOINT: rate = ((fab_node *)h)->bw; break;
    default: return 0;
    }
    return add_step(fl, &h->res[0], FAB_C_RATE, 0, PCIE_DIR_DATA, NULL, rate, lat, unit, 1)
               ? 0
               : SIM_EINVAL;
}

/* Latency of entering node id (root complex, switch, device port). */
static sim_time node_lat(sim *s, uint32_t id)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    return h && !is_link_kind(h->kind) && h->kind != FAB_K_MEM ? h->latency : 0;
}

/* A segment from src to dst (ends' memory steps when src_mem/dst_mem). */
static int segment(sim *s, fabric_state *f, fab_flow *fl, uint32_t src, uint32_t dst,
                   int src_mem, int dst_mem, int random, const uint32_t *route,
                   uint32_t nroute, uint32_t initiator)
{
    uint32_t links[FAB_MAX_STEPS], n = 0;
    uint32_t a = route_node(s, src), b = route_node(s, dst);
    int rc;
    if (route) {
        if (nroute > FAB_MAX_STEPS)
            return SIM_EINVAL;
        memcpy(links, route, nroute * sizeof *links);
        n = nroute;
    } else if ((rc = bfs(s, f, a, b, links, FAB_MAX_STEPS / 3, &n))) {
        return rc;
    }
    /* sides: sides[i] = end of link i the data leaves from */
    int sides[FAB_MAX_STEPS];
    uint32_t at = a;
    for (uint32_t i = 0; i < n; i++) {
        sim_comp *l = sim_comp_at(s, links[i]);
        fab_hdr *lh = fab_hdr_of(l);
        if (!lh || !is_link_kind(lh->kind) || (l->ends[0] != at && l->ends[1] != at))
            return SIM_EINVAL;
        sides[i] = l->ends[0] == at ? 0 : 1;
        at = l->ends[1 - sides[i]];
    }
    if (at != b)
        return SIM_EINVAL;
    /* The DMA initiator decides (fabric.h): pulling from src is a read,
     * pushing from src a (posted) write. */
    int op = initiator == dst ? PCIE_OP_READ : PCIE_OP_WRITE;
    if (op == PCIE_OP_READ) /* requests from the requester (dst side) back to src */
        for (uint32_t i = n; i-- > 0;) {
            sim_comp *l = sim_comp_at(s, links[i]);
            fab_hdr *lh = l->state;
            int d = 1 - sides[i];
            if (!add_step(fl, &lh->res[d], lh->cost, op, PCIE_DIR_REQ, lh->cfg, lh->rate,
                          lh->latency + node_lat(s, l->ends[1 - d]), lh->unit, 0))
                return SIM_EINVAL;
        }
    if (src_mem && (rc = mem_step(s, fl, src, 1, random)))
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        sim_comp *l = sim_comp_at(s, links[i]);
        fab_hdr *lh = l->state;
        int d = sides[i];
        if (!add_step(fl, &lh->res[d], lh->cost, op, PCIE_DIR_DATA, lh->cfg, lh->rate,
                      lh->latency + node_lat(s, l->ends[1 - d]), lh->unit, 1))
            return SIM_EINVAL;
    }
    if (dst_mem && (rc = mem_step(s, fl, dst, 0, random)))
        return rc;
    if (op == PCIE_OP_WRITE) /* CXL.mem writes: an NDR slot per line back (cxl.h) */
        for (uint32_t i = n; i-- > 0;) {
            sim_comp *l = sim_comp_at(s, links[i]);
            fab_hdr *lh = l->state;
            int d = 1 - sides[i];
            if (lh->cost == FAB_C_CXL &&
                !add_step(fl, &lh->res[d], lh->cost, op, PCIE_DIR_REQ, lh->cfg, lh->rate,
                          lh->latency + node_lat(s, l->ends[1 - d]), lh->unit, 0))
                return SIM_EINVAL;
        }
    return 0;
}

/* The component whose DMA engine (or, for CXL, whose CPU) moves the data
 * of a DMA-path segment: a GPU copy engine when one is used, else the
 * device end (the SSD, an endpoint), else src. */
static uint32_t dma_initiator(sim *s, uint32_t src, uint32_t dst, uint32_t ce_gpu)
{
    if (ce_gpu != UINT32_MAX)
        return ce_gpu;
    if (kind_of(s, src) == FAB_K_NVME || kind_of(s, dst) == FAB_K_NVME)
        return kind_of(s, dst) == FAB_K_NVME ? dst : src;
    if (memlike(s, src) && !memlike(s, dst))
        return dst;
    if (memlike(s, src) && memlike(s, dst))
        return dst; /* host memory to memory: the reading side pulls */
    return src;
}

/* The host nearest to component id (BFS through the fabric), or UINT32_MAX. */
static uint32_t nearest_cpu(sim *s, fabric_state *f, uint32_t id)
{
    uint32_t a = route_node(s, id);
    if (kind_of(s, a) == FAB_K_CPU)
        return a;
    uint32_t best = UINT32_MAX, bestn = UINT32_MAX;
    for (uint32_t i = 0; i < f->ncomps; i++) {
        uint32_t links[FAB_MAX_STEPS], n;
        if (kind_of(s, i) == FAB_K_CPU && bfs(s, f, a, i, links, FAB_MAX_STEPS, &n) == 0 &&
            n < bestn) {
            best = i;
            bestn = n;
        }
    }
    return best;
}

static const char *const path_names[] = {"auto", "dma", "pageable", "gds", "bounce", "cxl",
                                         NULL};

const char *fabric_path_name(int path)
{
    return path >= 0 && path < FABRIC_NPATHS ? path_names[path] : "?";
}

int fabric_path_find(const char *name)
{
    for (int i = 0; path_names[i]; i++)
        if (strcmp(path_names[i], name) == 0)
            return i;
    return -1;
}

static int is_cxl_mem(sim *s, uint32_t id)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    return h && h->kind == FAB_K_MEM && ((fab_mem *)h)->mkind == FAB_MEM_CXL;
}

static void launch(sim *s, fab_flow *fl);
static void complete(sim *s, fabric_state *f, fab_flow *fl);

/* Build the itinerary of a transfer. */
static int plan(sim *s, fabric_state *f, fab_flow *fl, const fabric_req *r)
{
    int ks = kind_of(s, r->src), kd = kind_of(s, r->dst);
    int path = r->path;
    if (path == FABRIC_PATH_AUTO) {
        if ((ks == FAB_K_NVME && kd == FAB_K_GPU) || (ks == FAB_K_GPU && kd == FAB_K_NVME))
            path = f->gds ? FABRIC_PATH_GDS : FABRIC_PATH_BOUNCE;
        else if ((is_cxl_mem(s, r->src) && memlike(s, r->dst) && !is_cxl_mem(s, r->dst)) ||
                 (is_cxl_mem(s, r->dst) && memlike(s, r->src) && !is_cxl_mem(s, r->src)))
            path = FABRIC_PATH_CXL;
        else
            path = FABRIC_PATH_DMA;
    }
    fl->path = path;
    uint32_t cpu = UINT32_MAX;
    int rc = 0;
    switch (path) {
    case FABRIC_PATH_DMA:
        if (ks == FAB_K_GPU && kd != FAB_K_NVME)
            fl->ce_gpu = r->src; /* the GPU pushes */
        else if (kd == FAB_K_GPU && ks != FAB_K_NVME)
            fl->ce_gpu = r->dst; /* the GPU pulls */
        rc = segment(s, f, fl, r->src, r->dst, 1, 1, r->random, r->route, r->nroute,
                     dma_initiator(s, r->src, r->dst, fl->ce_gpu));
        cpu = nearest_cpu(s, f, memlike(s, r->src) ? r->src : r->dst);
        if (cpu != UINT32_MAX && fl->ce_gpu != UINT32_MAX)
            fl->cpu_ps += (double)((fab_cpu *)sim_comp_at(s, cpu)->state)->launch_cpu;
        break;
    case FABRIC_PATH_PAGEABLE: {
        int h2d = memlike(s, r->src);
        uint32_t host = h2d ? r->src : r->dst, dev = h2d ? r->dst : r->src;
        if (!memlike(s, host) || kind_of(s, dev) != FAB_K_GPU)
            return SIM_EINVAL;
        cpu = nearest_cpu(s, f, host);
        if (cpu == UINT32_MAX)
            return SIM_ENOTFOUND;
        fab_cpu *c = sim_comp_at(s, cpu)->state;
        fl->ce_gpu = dev;
        if (h2d) { /* pageable read + memcpy + pinned write, then DMA from pinned */
            if ((rc = mem_step(s, fl, host, 1, 0)))
                return rc;
            add_step(fl, &c->hdr.res[1], FAB_C_RATE, 0, 0, NULL, c->memcpy_bw, 0, 4096, 1);
            if ((rc = mem_step(s, fl, cpu, 0, 0)))
                return rc;
            rc = segment(s, f, fl, cpu, dev, 1, 1, 0, NULL, 0, dev);
        } else {
            if ((rc = segment(s, f, fl, dev, cpu, 1, 1, 0, NULL, 0, dev)))
                return rc;
            if ((rc = mem_step(s, fl, cpu, 1, 0)))
                return rc;
            add_step(fl, &c->hdr.res[1], FAB_C_RATE, 0, 0, NULL, c->memcpy_bw, 0, 4096, 1);
            rc = mem_step(s, fl, host, 0, 0);
        }
        fl->cpu_ps += (double)c->launch_cpu + (double)r->bytes * 1e12 / c->memcpy_bw;
        break;
    }
    case FABRIC_PATH_GDS:
        if (!((ks == FAB_K_NVME && kd == FAB_K_GPU) || (ks == FAB_K_GPU && kd == FAB_K_NVME)))
            return SIM_EINVAL;
        rc = segment(s, f, fl, r->src, r->dst, 1, 1, r->random, r->route, r->nroute,
                     ks == FAB_K_NVME ? r->src : r->dst); /* the SSD's DMA */
        cpu = nearest_cpu(s, f, ks == FAB_K_NVME ? r->src : r->dst);
        if (cpu != UINT32_MAX)
            fl->cpu_ps += (double)((fab_cpu *)sim_comp_at(s, cpu)->state)->gds_cpu;
        break;
    case FABRIC_PATH_BOUNCE: {
        if (!((ks == FAB_K_NVME && kd != FAB_K_NVME && !memlike(s, r->dst)) ||
              (kd == FAB_K_NVME && ks != FAB_K_NVME && !memlike(s, r->src))))
            return SIM_EINVAL;
        uint32_t ssd = ks == FAB_K_NVME ? r->src : r->dst;
        cpu = nearest_cpu(s, f, ssd);
        if (cpu == UINT32_MAX)
            return SIM_ENOTFOUND;
        /* each leg is the device's DMA: the SSD's, the GPU's copy engine */
        if ((rc = segment(s, f, fl, r->src, cpu, 1, 1, r->random, NULL, 0, r->src)))
            return rc;
        rc = segment(s, f, fl, cpu, r->dst, 1, 1, r->random, NULL, 0, r->dst);
        if (kind_of(s, ks == FAB_K_NVME ? r->dst : r->src) == FAB_K_GPU)
            fl->ce_gpu = ks == FAB_K_NVME ? r->dst : r->src;
        fab_cpu *c = sim_comp_at(s, cpu)->state;
        /* per bounce-buffer I/O (a read into the buffer + a copy out),
         * not per simulation chunk */
        uint64_t bio = f->bounce_io ? f->bounce_io : 1u << 20;
        uint64_t ios = (r->bytes + bio - 1) / bio;
        fl->cpu_ps += (double)ios * (double)(c->io_cpu + c->launch_cpu);
        break;
    }
    case FABRIC_PATH_CXL: {
        int load = is_cxl_mem(s, r->src);
        uint32_t mem = load ? r->src : r->dst, other = load ? r->dst : r->src;
        if (!is_cxl_mem(s, mem) || !memlike(s, other))
            return SIM_EINVAL;
        cpu = nearest_cpu(s, f, other);
        if (cpu == UINT32_MAX)
            return SIM_ENOTFOUND;
        fab_cpu *c = sim_comp_at(s, cpu)->state;
        if (load) { /* loads: CXL.mem reads, then stores into local memory */
            if ((rc = segment(s, f, fl, mem, cpu, 1, 0, 0, r->route, r->nroute, cpu)))
                return rc;
            add_step(fl, &c->hdr.res[1], FAB_C_RATE, 0, 0, NULL, c->memcpy_bw, 0, 64, 1);
            rc = mem_step(s, fl, other, 0, 0);
        } else {
            if ((rc = mem_step(s, fl, other, 1, 0)))
                return rc;
            add_step(fl, &c->hdr.res[1], FAB_C_RATE, 0, 0, NULL, c->memcpy_bw, 0, 64, 1);
            rc = segment(s, f, fl, cpu, mem, 0, 1, 0, r->route, r->nroute, cpu);
        }
        fl->cpu_ps += (double)r->bytes * 1e12 / c->memcpy_bw;
        break;
    }
    default: return SIM_EINVAL;
    }
    fl->cpu_id = cpu;
    if (fl->ce_gpu != UINT32_MAX && kind_of(s, fl->ce_gpu) != FAB_K_GPU)
        fl->ce_gpu = UINT32_MAX;
    return rc;
}

int fabric_transfer_req(sim *s, const fabric_req *r)
{
    size_t n = sim_ncomps(s);
    if (!r || r->src >= n || r->dst >= n || r->path < 0 || r->path >= FABRIC_NPATHS ||
        r->notify >= n || !fab_hdr_of(sim_comp_at(s, r->src)) ||
        !fab_hdr_of(sim_comp_at(s, r->dst)))
        return SIM_EINVAL;
    sim_comp *fc = fabric_get(s);
    if (!fc)
        return SIM_ENOMEM;
    fabric_state *f = fc->state;
    int rc = topo_build(s, f);
    if (rc)
        return rc;
    fab_flow *fl = flow_get(f);
    if (!fl)
        return SIM_ENOMEM;
    fl->fab = f;
    fl->fab_id = fc->id;
    fl->bytes = r->bytes;
    fl->notify = r->notify;
    fl->kind = r->notify_kind;
    fl->cookie = r->cookie;
    fl->t0 = sim_now(s);
    fl->ce_gpu = UINT32_MAX;
    fl->cpu_id = UINT32_MAX;
    fl->chunk = f->chunk ? f->chunk : 262144;
    if ((rc = plan(s, f, fl, r))) {
        flow_put(f, fl);
        return rc;
    }
    if (f->mode == MODE_PACKET) { /* one TLP (or flit, or 4 KiB) per chunk */
        uint64_t u = 0;
        for (uint32_t i = 0; i < fl->nsteps; i++)
            if (fl->st[i].cost != FAB_C_RATE && fl->st[i].dir == PCIE_DIR_DATA &&
                (!u || fl->st[i].unit < u))
                u = fl->st[i].unit;
        fl->chunk = u ? u : 4096;
    }
    /* credit-limited PCIe directions: a chunk holds at most one pool of
     * credits (pcie.h), so it can always be admitted */
    for (uint32_t i = 0; i < fl->nsteps; i++) {
        const fab_fstep *st = &fl->st[i];
        const fab_credit *cr = st->res->fc;
        int cls = st->cost == FAB_C_PCIE && cr ? pcie_fc_class(st->op, st->dir) : -1;
        if (cls < 0)
            continue;
        uint64_t m = pcie_fc_max_bytes(st->cfg, st->op, st->dir, cr->hdr_limit[cls],
                                       cr->data_limit[cls]);
        if (m && m < fl->chunk)
            fl->chunk = m;
    }
    uint64_t w = f->window / fl->chunk;
    fl->window = w < 1 ? 1 : w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
    f->active++;
    if (f->free_xfers || r->bytes == 0 || fl->nsteps == 0) {
        fl->done = fl->bytes;
        complete(s, f, fl);
        return 0;
    }
    if (fl->ce_gpu != UINT32_MAX) {
        fab_gpu *g = sim_comp_at(s, fl->ce_gpu)->state;
        if (g->ce_busy >= g->copy_engines) {
            g->ce_waits++;
            fl->next = NULL;
            if (g->ce_t)
                g->ce_t->next = fl;
            else
                g->ce_h = fl;
            g->ce_t = fl;
            return 0;
        }
        g->ce_busy++;
    }
    launch(s, fl);
    return 0;
}

int fabric_transfer(sim *s, uint32_t src, uint32_t dst, uint64_t bytes, int path,
                    uint32_t notify, uint32_t notify_kind, uint64_t cookie)
{
    fabric_req r = {src, dst, bytes, path, notify, notify_kind, cookie, 0, NULL, 0};
    return fabric_transfer_req(s, &r);
}

/* Put chunks into the first step up to the window. */
static void launch(sim *s, fab_flow *fl)
{
    fabric_state *f = fl->fab;
    while (fl->launched < fl->bytes && fl->inflight < fl->window) {
        fab_chunk *ch = pool_get(&f->pool);
        if (!ch) { /* out of memory: fail the run rather than hang */
            sim_fail(s, SIM_ENOMEM, "fabric: out of memory for transfer chunks");
            return;
        }
        uint64_t b = fl->bytes - fl->launched;
        ch->flow = fl;
        ch->raw = NULL;
        ch->step = 0;
        ch->bytes = b < fl->chunk ? b : fl->chunk;
        ch->tag = fl->launched; /* offset in the transfer */
        fl->launched += ch->bytes;
        fl->inflight++;
        enqueue(s, &fl->st[0], ch);
    }
}

static void complete(sim *s, fabric_state *f, fab_flow *fl)
{
    sim_time lat = f->free_xfers ? 0 : sim_now(s) - fl->t0;
    path_stats *p = &f->ps[fl->path];
    p->n++;
    p->bytes += fl->bytes;
    p->sample_bytes += fl->bytes;
    p->host_mem += fl->host_mem;
    p->cpu_ps += fl->cpu_ps;
    sim_samples_add(&p->lat, (double)lat);
    if (fl->cpu_id != UINT32_MAX)
        ((fab_cpu *)sim_comp_at(s, fl->cpu_id)->state)->cpu_ps += fl->cpu_ps;
    f->active--;
    sim_schedule(s, 0, fl->notify, fl->kind, fl->cookie, lat);
    if (fl->ce_gpu != UINT32_MAX && !(f->free_xfers || fl->nsteps == 0 || fl->bytes == 0)) {
        fab_gpu *g = sim_comp_at(s, fl->ce_gpu)->state;
        g->ce_busy--;
        if (g->ce_h) {
            fab_flow *nx = g->ce_h;
            g->ce_h = nx->next;
            if (!g->ce_h)
                g->ce_t = NULL;
            g->ce_busy++;
            launch(s, nx);
        }
    }
    flow_put(f, fl);
}

static void fabric_handle(sim_comp *c, const sim_event *e)
{
    fabric_state *f = c->state;
    if (e->kind != FAB_EV_END)
        return;
    fab_chunk *ch = (fab_chunk *)(uintptr_t)e->a1;
    fab_flow *fl = ch->flow;
    fl->done += ch->bytes;
    fl->inflight--;
    pool_put(ch);
    if (fl->done == fl->bytes)
        complete(c->sim, f, fl);
    else
        launch(c->sim, fl);
}

void fabric_set_free_transfers(sim *s, int on)
{
    sim_comp *c = fabric_get(s);
    if (c)
        ((fabric_state *)c->state)->free_xfers = on;
}

int fabric_free_transfers(sim *s)
{
    sim_comp *c = fabric_get(s);
    return c ? ((fabric_state *)c->state)->free_xfers : 0;
}

int fabric_route(sim *s, uint32_t src, uint32_t dst, uint32_t *links, uint32_t max,
                 uint32_t *n)
{
    sim_comp *c = fabric_get(s);
    if (!c || src >= sim_ncomps(s) || dst >= sim_ncomps(s))
        return SIM_EINVAL;
    fabric_state *f = c->state;
    int rc = topo_build(s, f);
    if (rc)
        return rc;
    return bfs(s, f, route_node(s, src), route_node(s, dst), links, max, n);
}

void fabric_get_totals(sim *s, int path, fabric_totals *t)
{
    memset(t, 0, sizeof *t);
    sim_comp *c = fabric_get(s);
    if (!c || path < 0 || path >= FABRIC_NPATHS)
        return;
    path_stats *p = &((fabric_state *)c->state)->ps[path];
    t->transfers = p->n;
    t->bytes = p->bytes;
    t->host_mem_bytes = p->host_mem;
    t->cpu_s = p->cpu_ps * 1e-12;
    t->latency_mean_s = p->lat.acc.n ? p->lat.acc.mean * 1e-12 : 0.0;
}

static fab_mem *mem_of(sim *s, uint32_t id)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    return h && h->kind == FAB_K_MEM ? (fab_mem *)h : NULL;
}

int fabric_mem_alloc(sim *s, uint32_t host, uint32_t mem, uint64_t bytes)
{
    fab_mem *m = mem_of(s, mem);
    if (!m || host >= sim_ncomps(s))
        return SIM_EINVAL;
    uint32_t i;
    for (i = 0; i < m->nhosts && m->host_id[i] != host; i++)
        ;
    if (i == m->nhosts) {
        if (m->nhosts == FAB_MAX_HOSTS)
            return SIM_ESTATE;
        m->host_id[m->nhosts] = host;
        m->host_used[m->nhosts++] = 0;
    }
    if (m->used + bytes > m->cap || (m->per_host && m->host_used[i] + bytes > m->per_host))
        return SIM_ESTATE;
    m->used += bytes;
    m->host_used[i] += bytes;
    return 0;
}

int fabric_mem_release(sim *s, uint32_t host, uint32_t mem, uint64_t bytes)
{
    fab_mem *m = mem_of(s, mem);
    if (!m)
        return SIM_EINVAL;
    for (uint32_t i = 0; i < m->nhosts; i++)
        if (m->host_id[i] == host) {
            if (m->host_used[i] < bytes)
                return SIM_ESTATE;
            m->host_used[i] -= bytes;
            m->used -= bytes;
            return 0;
        }
    return SIM_EINVAL;
}

static const sim_param fabric_params[] = {
    {"chunk", SIM_P_SIZE, "256 KiB", "B", "chunk size of bulk transfers (chunk mode)",
     offsetof(fabric_state, chunk), NULL},
    {"mode", SIM_P_ENUM, "chunk", "", "chunk: chunks of `chunk` bytes; packet: one TLP per event",
     offsetof(fabric_state, mode), mode_names},
    {"window", SIM_P_SIZE, "4 MiB", "B", "bytes in flight per transfer (outstanding DMA)",
     offsetof(fabric_state, window), NULL},
    {"free_transfers", SIM_P_BOOL, "false", "",
     "transfers complete at once (bytes still counted)", offsetof(fabric_state, free_xfers),
     NULL},
    {"gds", SIM_P_BOOL, "true", "", "AUTO path for NVMe<->GPU: GDS (true) or bounce (false)",
     offsetof(fabric_state, gds), NULL},
    {"bounce_io", SIM_P_SIZE, "1 MiB", "B",
     "bytes per I/O through the host bounce buffer (BOUNCE path: CPU io_cpu + launch_cpu each)",
     offsetof(fabric_state, bounce_io), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int fabric_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    fabric_state *f = c->state;
    if (f->chunk < 64)
        return scn_error(err, node ? scn_map_get(node, "chunk") : NULL,
                         "fabric '%s': chunk must be at least 64 B", c->name);
    /* Below 4 KiB any size works: TLPs (pcie_tlps_at) and CXL lines
     * (cxl_wire_bytes_at) are counted by their offset in the transfer, so
     * chunks add up to the whole. Above, a multiple of 4 KiB keeps chunks
     * aligned to every TLP boundary. */
    if (f->chunk > 4096 && f->chunk % 4096)
        return scn_error(err, node ? scn_map_get(node, "chunk") : NULL,
                         "fabric '%s': chunk above 4 KiB must be a multiple of 4 KiB",
                         c->name);
    if (f->window < f->chunk)
        f->window = f->chunk;
    if (f->bounce_io < 1)
        return scn_error(err, node ? scn_map_get(node, "bounce_io") : NULL,
                         "fabric '%s': bounce_io must be at least 1 B", c->name);
    return 0;
}

static int fabric_start(sim_comp *c, sim_err *err)
{
    return topo_build(c->sim, c->state) ? sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "oom") : 0;
}

static void fabric_sample(sim_comp *c, sim_time now)
{
    fabric_state *f = c->state;
    double iv = sim_time_to_s(sim_sample_interval(c->sim));
    for (int p = 1; p < FABRIC_NPATHS; p++) {
        if (!f->ps[p].n && !f->ps[p].sample_bytes)
            continue;
        char name[64];
        snprintf(name, sizeof name, "throughput:%s", path_names[p]);
        sim_report_timeseries(c->sim, c->name, name, now,
                              iv > 0 ? (double)f->ps[p].sample_bytes / iv : 0.0);
        f->ps[p].sample_bytes = 0;
    }
}

static int fabric_finish(sim_comp *c, sim_err *err)
{
    fabric_state *f = c->state;
    for (int p = 1; p < FABRIC_NPATHS; p++) {
        path_stats *ps = &f->ps[p];
        if (!ps->n)
            continue;
        char name[64];
        const char *pn = path_names[p];
        snprintf(name, sizeof name, "transfers:%s", pn);
        sim_report_metric(c->sim, c->name, name, (double)ps->n, "transfers");
        snprintf(name, sizeof name, "bytes:%s", pn);
        sim_report_metric(c->sim, c->name, name, (double)ps->bytes, "B");
        snprintf(name, sizeof name, "cpu_time:%s", pn);
        sim_report_metric(c->sim, c->name, name, ps->cpu_ps * 1e-12, "s");
        snprintf(name, sizeof name, "host_memory_bytes:%s", pn);
        sim_report_metric(c->sim, c->name, name, (double)ps->host_mem, "B");
        snprintf(name, sizeof name, "latency:%s", pn);
        sim_samples_report(c->sim, c->name, name, &ps->lat, 1e-12, "s");
    }
    sim_report_metric(c->sim, c->name, "free_transfers", f->free_xfers, "");
    sim_report_metric(c->sim, c->name, "unfinished_transfers", (double)f->active, "transfers");
    return 0;
}

static void fabric_destroy(sim_comp *c)
{
    fabric_state *f = c->state;
    topo_free(f);
    for (size_t i = 0; i < f->nfblocks; i++)
        sim_free(f->fblocks[i]);
    sim_free(f->fblocks);
    pool_free(&f->pool);
    for (int p = 0; p < FABRIC_NPATHS; p++)
        sim_samples_free(&f->ps[p].lat);
    if (cached_fabric == c->id)
        cached_fabric = UINT32_MAX;
}

const sim_model fabric_model = {
    .type = "fabric",
    .summary = "fabric settings (chunk size, packet mode, window, free transfers) and per-path results",
    .params = fabric_params,
    .state_size = sizeof(fabric_state),
    .configure = fabric_configure,
    .start = fabric_start,
    .handle = fabric_handle,
    .sample = fabric_sample,
    .finish = fabric_finish,
    .destroy = fabric_destroy,
};

/* ---- xfer: a transfer load generator ----------------------------------- */

enum { XFER_EV_KICK = SIM_EV_USER, XFER_EV_DONE };

typedef struct xfer_state {
    /* configuration */
    const char *src, *dst;   /* end names */
    uint64_t size;           /* bytes per transfer */
    int path;                /* FABRIC_PATH_* */
    uint64_t count;          /* transfers (0: until the run stops) */
    uint64_t outstanding;    /* transfers kept in flight */
    sim_time gap;            /* pause after a completion before the next */
    sim_time start_at;       /* first issue */
    int random;              /* random SSD I/O */
    uint64_t reserve;        /* pooled memory to reserve for the host at start */
    /* state */
    uint32_t src_id, dst_id; /* resolved */
    uint64_t issued, done;   /* transfers */
    uint64_t bytes;          /* completed bytes */
    sim_time first, last;    /* first issue, last completion */
    sim_samples lat;         /* latencies, ps */
    int failed;              /* fabric_transfer refused */
} xfer_state;

static const sim_param xfer_params[] = {
    {"src", SIM_P_STRING, NULL, "", "component the bytes come from", offsetof(xfer_state, src),
     NULL},
    {"dst", SIM_P_STRING, NULL, "", "component the bytes go to", offsetof(xfer_state, dst), NULL},
    {"size", SIM_P_SIZE, "1 MiB", "B", "bytes per transfer", offsetof(xfer_state, size), NULL},
    {"path", SIM_P_ENUM, "auto", "", "auto, dma, pageable, gds, bounce, cxl",
     offsetof(xfer_state, path), path_names},
    {"count", SIM_P_UINT, "1", "transfers", "transfers to issue (0: until the run stops)",
     offsetof(xfer_state, count), NULL},
    {"outstanding", SIM_P_UINT, "1", "transfers", "transfers kept in flight",
     offsetof(xfer_state, outstanding), NULL},
    {"gap", SIM_P_TIME, "0 ns", "ps", "pause after a completion before the next issue",
     offsetof(xfer_state, gap), NULL},
    {"start", SIM_P_TIME, "0 ns", "ps", "time of the first issue", offsetof(xfer_state, start_at),
     NULL},
    {"random", SIM_P_BOOL, "false", "", "random SSD I/O (of the SSD's io_size)",
     offsetof(xfer_state, random), NULL},
    {"reserve", SIM_P_SIZE, "0 B", "B",
     "pooled memory to reserve at start for the host (the memory end must be a `memory`)",
     offsetof(xfer_state, reserve), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int xfer_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    xfer_state *x = c->state;
    if (!x->src || !x->dst)
        return scn_error(err, node, "xfer '%s': needs 'src' and 'dst'", c->name);
    if (x->outstanding < 1)
        return scn_error(err, node ? scn_map_get(node, "outstanding") : NULL,
                         "xfer '%s': outstanding must be >= 1", c->name);
    return 0;
}

static int xfer_start(sim_comp *c, sim_err *err)
{
    xfer_state *x = c->state;
    const char *nm[2] = {x->src, x->dst};
    uint32_t *ids[2] = {&x->src_id, &x->dst_id};
    for (int k = 0; k < 2; k++) {
        sim_comp *e = sim_find(c->sim, nm[k]);
        if (!e || !fab_hdr_of(e))
            return scn_error(err, c->node ? scn_map_get(c->node, k ? "dst" : "src") : NULL,
                             "xfer '%s': no fabric component named '%s'", c->name, nm[k]);
        *ids[k] = e->id;
    }
    uint32_t links[FAB_MAX_STEPS], n;
    if (x->path != FABRIC_PATH_BOUNCE && x->path != FABRIC_PATH_PAGEABLE &&
        fabric_route(c->sim, x->src_id, x->dst_id, links, FAB_MAX_STEPS, &n))
        return scn_error(err, c->node, "xfer '%s': no route from '%s' to '%s'", c->name, x->src,
                         x->dst);
    if (x->reserve) {
        uint32_t mem = mem_of(c->sim, x->dst_id) ? x->dst_id : x->src_id;
        uint32_t host = mem == x->dst_id ? x->src_id : x->dst_id;
        if (!mem_of(c->sim, mem))
            return scn_error(err, c->node, "xfer '%s': reserve needs a memory end", c->name);
        int rc = fabric_mem_alloc(c->sim, host, mem, x->reserve);
        if (rc)
            return scn_error(err, c->node ? scn_map_get(c->node, "reserve") : NULL,
                             "xfer '%s': cannot reserve %llu B of '%s' for '%s' (capacity or"
                             " per-host capacity exceeded)",
                             c->name, (unsigned long long)x->reserve,
                             sim_comp_at(c->sim, mem)->name, sim_comp_at(c->sim, host)->name);
    }
    sim_schedule(c->sim, x->start_at, c->id, XFER_EV_KICK, x->outstanding, 0);
    return 0;
}

static void xfer_issue(sim_comp *c)
{
    xfer_state *x = c->state;
    if (x->failed || (x->count && x->issued >= x->count))
        return;
    if (!x->issued)
        x->first = sim_now(c->sim);
    fabric_req r = {x->src_id, x->dst_id, x->size, x->path, c->id, XFER_EV_DONE, x->issued,
                    x->random, NULL, 0};
    if (fabric_transfer_req(c->sim, &r) != 0) {
        x->failed = 1;
        return;
    }
    x->issued++;
}

static void xfer_handle(sim_comp *c, const sim_event *e)
{
    xfer_state *x = c->state;
    if (e->kind == XFER_EV_KICK) {
        for (uint64_t i = 0; i < e->a0; i++)
            xfer_issue(c);
    } else if (e->kind == XFER_EV_DONE) {
        x->done++;
        x->bytes += x->size;
        x->last = sim_now(c->sim);
        sim_samples_add(&x->lat, (double)e->a1);
        if (x->gap)
            sim_schedule(c->sim, x->gap, c->id, XFER_EV_KICK, 1, 0);
        else
            xfer_issue(c);
    }
}

static int xfer_finish(sim_comp *c, sim_err *err)
{
    xfer_state *x = c->state;
    double span = sim_time_to_s(x->last - x->first);
    sim_report_metric(c->sim, c->name, "transfers", (double)x->done, "transfers");
    sim_report_metric(c->sim, c->name, "bytes", (double)x->bytes, "B");
    sim_report_metric(c->sim, c->name, "throughput", span > 0 ? (double)x->bytes / span : 0.0,
                      "B/s");
    sim_report_metric(c->sim, c->name, "refused", x->failed, "");
    sim_samples_report(c->sim, c->name, "latency", &x->lat, 1e-12, "s");
    return 0;
}

static void xfer_destroy(sim_comp *c)
{
    xfer_state *x = c->state;
    sim_samples_free(&x->lat);
}

const sim_model xfer_model = {
    .type = "xfer",
    .summary = "transfer load generator: src, dst, size, path, count, outstanding, gap",
    .params = xfer_params,
    .state_size = sizeof(xfer_state),
    .configure = xfer_configure,
    .start = xfer_start,
    .handle = xfer_handle,
    .finish = xfer_finish,
    .destroy = xfer_destroy,
};
