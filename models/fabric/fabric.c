/*
 * fabric.c - the transfer interface (fabric.h), the `fabric` component that
 * holds the settings and the per-path results, and the `xfer` load
 * generator. Itineraries come from the data paths (paths.c), the moving of
 * chunks from the engine (engine.c).
 *
 * A transfer: a flow from the fabric's pool gets its itinerary (paths.c),
 * its chunk size (the chunk setting, one forwarding unit in packet mode,
 * capped at one pool of credits on credit-limited links) and window; it
 * waits for a copy engine when its path needs one (a fab_gate), then runs
 * in the engine. The engine tells the fabric component (FAB_EV_END) when
 * each chunk has finished; the last one completes the flow: per-path
 * statistics, CPU time charged to the host, the caller notified, the copy
 * engine handed to the next waiting flow. Flows are recycled: a steady
 * state allocates nothing.
 */
#include "models/fabric/fabric.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "models/fabric/devices_int.h"
#include "models/fabric/engine.h"
#include "models/fabric/fluid.h"
#include "models/fabric/paths.h"

#include "sim/mem.h"
#include "sim/stats.h"

typedef struct path_stats {
    uint64_t n;              /* completed transfers */
    uint64_t bytes;          /* their bytes */
    uint64_t host_mem;       /* host DRAM bytes */
    double cpu_ps;           /* CPU time */
    uint64_t sample_bytes;   /* bytes finished since the last sample */
    uint64_t sample_n;       /* transfers finished since the last sample */
    double sample_lat;       /* the sum of their latencies, ps */
    sim_time sample_max;     /* the largest of them, ps */
    sim_samples lat;         /* latencies, ps */
} path_stats;

enum { MODE_CHUNK, MODE_PACKET };
static const char *const mode_names[] = {"chunk", "packet", NULL};
enum { FLOW_CHUNK, FLOW_FLUID };
static const char *const flow_model_names[] = {"chunk", "fluid", NULL};
static const char *const bounce_mode_names[] = {"o_direct", "page_cache", "pageable", NULL};

typedef struct fabric_state {
    /* configuration */
    uint64_t chunk;          /* chunk size (chunk mode) */
    int mode;                /* MODE_* */
    uint64_t window;         /* bytes in flight per transfer */
    int free_xfers;          /* transfers take no time */
    fab_path_opts paths;     /* gds, bounce buffers */
    sim_time rto;            /* a chunk dropped by a full switch buffer is resent after this */
    int lone_flows;          /* a transfer alone on its path runs in one piece (engine.h) */
    int flow_model;          /* FLOW_*: bulk transfers as chunks or as fluid flows (fluid.h) */
    /* state */
    fab_fluid fluid;         /* the fluid flows (flow_model: fluid) */
    fab_topo topo;           /* adjacency and route scratch */
    fab_flow *free_flows;    /* recycled flows */
    void **fblocks;          /* flow blocks */
    size_t nfblocks, capfblocks;
    fab_pool pool;           /* chunks */
    path_stats ps[FABRIC_NPATHS];
    path_stats cs[FABRIC_NCLASSES]; /* the same per transfer class */
    uint64_t active;         /* flows in progress */
} fabric_state;

static const char *const *const path_names = fab_path_names;

static const char *const class_names[] = {"other",   "kv_load", "kv_writeback", "kv_transfer",
                                          "uvm",     "network", "control",      "kv_direct",
                                          "coherence", "swap", "activations",
                                          "all_to_all", NULL};

const char *fabric_class_name(int cls)
{
    return cls >= 0 && cls < FABRIC_NCLASSES ? class_names[cls] : "?";
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
    /* Zero all but the itinerary: its 48 steps are 9 KB, and
     * fab_flow_add_step clears each step it appends (a whole memset was
     * 11% of the instructions of a fluid replay). */
    memset(fl, 0, offsetof(fab_flow, st));
    memset((char *)fl + offsetof(fab_flow, st) + sizeof fl->st, 0,
           sizeof *fl - offsetof(fab_flow, st) - sizeof fl->st);
    return fl;
}

static void flow_put(fabric_state *f, fab_flow *fl)
{
    fl->next = f->free_flows;
    f->free_flows = fl;
}

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

static void complete(sim *s, fabric_state *f, fab_flow *fl);

/* The chunk size of a flow: the setting (or the path's own, fl->chunk:
 * the bounce buffers), one forwarding unit in packet
 * mode, at most one pool of credits on credit-limited links, and at most
 * the smallest finite buffer on its way (a larger chunk could never be
 * admitted: dropped and resent forever). */
static uint64_t chunk_size(const fabric_state *f, const fab_flow *fl)
{
    uint64_t chunk = fl->chunk ? fl->chunk : f->chunk ? f->chunk : 262144;
    if (f->mode == MODE_PACKET) { /* one TLP (or flit, or 4 KiB) per chunk */
        uint64_t u = 0;
        for (uint32_t i = 0; i < fl->nsteps; i++) {
            const fab_fstep *st = &fl->st[i];
            if (st->proto && st->proto->packetized && st->dir == FAB_DIR_DATA &&
                (!u || st->packet < u))
                u = st->packet;
        }
        chunk = u ? u : 4096;
    }
    for (uint32_t i = 0; i < fl->nsteps; i++) {
        const fab_fstep *st = &fl->st[i];
        const fab_credit *cr = st->res->fc;
        int cls = cr && st->proto && st->proto->fc_class ? st->proto->fc_class(st->op, st->dir)
                                                         : -1;
        if (cls < 0 || cls >= FAB_FC_NCLASS)
            continue;
        uint64_t m = st->proto->fc_max_bytes(st->cfg, st->op, st->dir, cr->hdr_limit[cls],
                                             cr->data_limit[cls]);
        if (m && m < chunk)
            chunk = m;
    }
    for (uint32_t i = 0; i < fl->nsteps; i++) {
        const fab_buffer *b = fl->st[i].res->buf;
        if (b && b->limit && b->limit < chunk) /* whole 4 KiB pieces above 4 KiB */
            chunk = b->limit > 4096 ? b->limit - b->limit % 4096 : b->limit;
    }
    return chunk;
}

/* Validate r, take a flow and build its itinerary (*gate: the engine it
 * must hold). On failure nothing is kept. */
static int plan_flow(sim *s, const fabric_req *r, fabric_state **fp, fab_flow **flp,
                     fab_gate **gate)
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
    int rc = fab_topo_build(s, &f->topo);
    if (rc)
        return rc;
    fab_flow *fl = flow_get(f);
    if (!fl)
        return SIM_ENOMEM;
    fl->fab_id = fc->id;
    fl->pool = &f->pool;
    fl->bytes = r->bytes;
    fl->hash = ((uint64_t)r->src << 32 | r->dst) ^ (r->flow_label * 0xc2b2ae3d27d4eb4full);
    *gate = NULL;
    if ((rc = fab_path_plan(s, &f->topo, &f->paths, fl, r, gate))) {
        flow_put(f, fl);
        return rc;
    }
    *fp = f;
    *flp = fl;
    return 0;
}

int fabric_transfer_req(sim *s, const fabric_req *r)
{
    fabric_state *f;
    fab_flow *fl;
    fab_gate *gate;
    int rc = plan_flow(s, r, &f, &fl, &gate);
    if (rc)
        return rc;
    fl->notify = r->notify;
    fl->kind = r->notify_kind;
    fl->cookie = r->cookie;
    fl->xclass = r->xclass >= 0 && r->xclass < FABRIC_NCLASSES ? r->xclass : 0;
    fl->t0 = sim_now(s);
    fl->rto = f->rto;
    fl->fluid = f->flow_model == FLOW_FLUID ? &f->fluid : NULL;
    f->fluid.fab_id = fl->fab_id;
    fl->fast = f->lone_flows && !fl->fluid;
    /* a path with its own chunks keeps its window in bytes (the bounce
     * buffers: count x size) when the chunk is cut smaller */
    uint64_t window = fl->chunk ? fl->chunk * (fl->window ? fl->window : 1) : f->window;
    fl->chunk = chunk_size(f, fl);
    if (fl->inflight_cap && fl->inflight_cap < window) {
        /* outstanding requests: a quarter of them per chunk (whole 64 B
         * pieces), so the cap is kept in flight while chunks return */
        window = fl->inflight_cap;
        uint64_t c = window / 4 >= 64 ? window / 4 - window / 4 % 64 : 64;
        if (c < fl->chunk)
            fl->chunk = c > 4096 ? c - c % 4096 : c;
    }
    uint64_t w = window / fl->chunk;
    fl->window = w < 1 ? 1 : w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
    f->active++;
    if (f->free_xfers || r->bytes == 0 || fl->nsteps == 0) {
        fl->done = fl->bytes;
        complete(s, f, fl);
        return 0;
    }
    fl->gate = gate;
    fl->counted = 1; /* the flows crossing each resource, for fabric_estimate */
    for (uint32_t i = 0; i < fl->nsteps; i++)
        fl->st[i].res->flows++;
    if (gate && fab_gate_enter(gate, fl))
        return 0; /* waits for a copy engine */
    fab_flow_launch(s, fl);
    return 0;
}

int fabric_estimate(sim *s, const fabric_req *r, double *seconds)
{
    fabric_state *f;
    fab_flow *fl;
    fab_gate *gate;
    int rc = plan_flow(s, r, &f, &fl, &gate);
    if (rc)
        return rc;
    double worst = 0, lat = 0;
    for (uint32_t i = 0; i < fl->nsteps; i++) {
        const fab_fstep *st = &fl->st[i];
        uint64_t units;
        double wire;
        double svc = sim_time_to_s(fab_step_service(st, r->bytes, &units, &wire));
        double share = svc * (double)(st->res->flows + 1);
        if (st->res->servers > 1)
            share /= (double)st->res->servers;
        if (share > worst)
            worst = share;
        lat += sim_time_to_s(st->lat);
    }
    flow_put(f, fl);
    *seconds = f->free_xfers || !r->bytes ? 0 : worst + lat;
    return 0;
}

int fabric_check_transfer(sim *s, const fabric_req *r)
{
    fabric_state *f;
    fab_flow *fl;
    fab_gate *gate;
    int rc = plan_flow(s, r, &f, &fl, &gate);
    if (!rc)
        flow_put(f, fl);
    return rc;
}

int fabric_transfer_class(sim *s, int cls, uint32_t src, uint32_t dst, uint64_t bytes, int path,
                          uint32_t notify, uint32_t notify_kind, uint64_t cookie)
{
    fabric_req r = {src, dst, bytes, path, notify, notify_kind, cookie, 0, NULL, 0, 0, 0, cls, 0, 0};
    return fabric_transfer_req(s, &r);
}

int fabric_transfer(sim *s, uint32_t src, uint32_t dst, uint64_t bytes, int path,
                    uint32_t notify, uint32_t notify_kind, uint64_t cookie)
{
    fabric_req r = {src, dst, bytes, path, notify, notify_kind, cookie, 0, NULL, 0, 0, 0, 0, 0, 0};
    return fabric_transfer_req(s, &r);
}

static void complete(sim *s, fabric_state *f, fab_flow *fl)
{
    sim_time lat = f->free_xfers ? 0 : sim_now(s) - fl->t0;
    path_stats *p = &f->ps[fl->path];
    p->n++;
    p->bytes += fl->bytes;
    p->sample_bytes += fl->bytes;
    p->host_mem += fl->host_mem;
    p->cpu_ps += fl->cpu_ps + fl->cpu_far_ps;
    sim_samples_add(&p->lat, (double)lat);
    path_stats *k = &f->cs[fl->xclass];
    k->n++;
    k->bytes += fl->bytes;
    k->sample_bytes += fl->bytes;
    k->sample_n++;
    k->sample_lat += (double)lat;
    if (lat > k->sample_max)
        k->sample_max = lat;
    sim_samples_add(&k->lat, (double)lat);
    if (fl->cpu_account)
        *fl->cpu_account += fl->cpu_ps;
    if (fl->cpu_far_account)
        *fl->cpu_far_account += fl->cpu_far_ps;
    if (fl->sm_account) /* a copy kernel holds its SMs from launch to completion */
        *fl->sm_account += fl->sm_count * (double)lat;
    f->active--;
    if (fl->counted) {
        fl->counted = 0;
        for (uint32_t i = 0; i < fl->nsteps; i++)
            fl->st[i].res->flows--;
    }
    sim_schedule(s, 0, fl->notify, fl->kind, fl->cookie, lat);
    if (fl->gate) { /* hand the copy engine to the next waiting flow */
        fab_flow *nx = fab_gate_leave(fl->gate);
        if (nx)
            fab_flow_launch(s, nx);
    }
    flow_put(f, fl);
}

static void fabric_handle(sim_comp *c, const sim_event *e)
{
    if (e->kind == FAB_EV_FLUID) {
        fab_fluid_timer(c->sim, &((fabric_state *)c->state)->fluid, e->a1);
        return;
    }
    if (e->kind != FAB_EV_END)
        return;
    fab_chunk *ch = (fab_chunk *)(uintptr_t)e->a1;
    fab_flow *fl = ch->flow;
    if (fab_flow_chunk_done(c->sim, ch))
        complete(c->sim, c->state, fl);
}

int fabric_kv_place(sim *s, uint32_t gpu, uint64_t session)
{
    sim_comp *c = fabric_get(s);
    if (!c || gpu >= sim_ncomps(s))
        return SIM_EINVAL;
    fabric_state *f = c->state;
    int rc = fab_topo_build(s, &f->topo);
    if (rc)
        return rc;
    uint32_t nic = fab_path_nic_of(s, &f->topo, gpu);
    if (nic == UINT32_MAX)
        return SIM_ENOTFOUND;
    fab_rnic *n = sim_comp_at(s, nic)->state;
    if (!n->semantic)
        return 0;
    fab_rnic_install(n, session);
    uint32_t host = fab_path_host_of(s, &f->topo, nic);
    if (host == UINT32_MAX)
        return 0; /* no host to write it: installed without a PCIe cost */
    return fabric_transfer_class(s, FABRIC_CLASS_CONTROL, host, nic, n->table_update,
                                 FABRIC_PATH_MMIO, c->id, FAB_EV_NOTIFY, 0);
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
    int rc = fab_topo_build(s, &f->topo);
    if (rc)
        return rc;
    return fab_route_find(s, &f->topo, fab_route_node(s, src), fab_route_node(s, dst), links,
                          max, n);
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
    return fab_kind_of(s, id) == &fab_kind_memory ? sim_comp_at(s, id)->state : NULL;
}

int fabric_cxl_memory(sim *s, uint32_t id, sim_time *latency)
{
    fab_mem *m = mem_of(s, id);
    if (!m || m->mkind != FAB_MEM_CXL)
        return 0;
    if (latency)
        *latency = m->lat;
    return 1;
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
     offsetof(fabric_state, paths.gds), NULL},
    {"bounce_io", SIM_P_SIZE, "1 MiB", "B",
     "bytes of one host bounce buffer, one I/O each (BOUNCE path; cuFile's "
     "per_buffer_cache_size_kb 1024, fabric.h)",
     offsetof(fabric_state, paths.bounce_io), NULL},
    {"bounce_buffers", SIM_P_UINT, "64", "",
     "host bounce buffers one transfer may fill at once (cuFile's posix_pool_slab_count of "
     "the 1024 KiB slab)", offsetof(fabric_state, paths.bounce_buffers), NULL},
    {"bounce_mode", SIM_P_ENUM, "o_direct", "",
     "how the BOUNCE path reads/writes the SSD: o_direct (DMA into the pinned buffer, no CPU "
     "copy), page_cache (one copy between page cache and pinned buffer), pageable (read() "
     "into pageable memory, cudaMemcpy stages it: two copies)",
     offsetof(fabric_state, paths.bounce_mode), bounce_mode_names},
    {"rto", SIM_P_TIME, "100 us", "ps",
     "time from a drop at a full switch buffer to the resend of the chunk (NAK or timeout)",
     offsetof(fabric_state, rto), NULL},
    {"lone_flows", SIM_P_BOOL, "false", "",
     "true: a transfer alone on every resource of its path is computed at once until "
     "another transfer joins a resource (faster; off by default because the study's "
     "Mooncake run differs from the chunked run, see README); false: every chunk is events",
     offsetof(fabric_state, lone_flows), NULL},
    {"flow_model", SIM_P_ENUM, "chunk", "",
     "chunk: bulk transfers move as chunk events through the resources' queues; fluid: as "
     "fluid flows at max-min fair rates, recomputed when a flow starts or drains (a flow "
     "alone takes the chunk model's time; see README)",
     offsetof(fabric_state, flow_model), flow_model_names},
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
    if (f->paths.bounce_io < 64 || (f->paths.bounce_io > 4096 && f->paths.bounce_io % 4096))
        return scn_error(err, node ? scn_map_get(node, "bounce_io") : NULL,
                         "fabric '%s': bounce_io must be at least 64 B, and a multiple of "
                         "4 KiB above 4 KiB", c->name);
    if (f->paths.bounce_buffers < 1 || f->paths.bounce_buffers > UINT32_MAX)
        return scn_error(err, node ? scn_map_get(node, "bounce_buffers") : NULL,
                         "fabric '%s': bounce_buffers must be at least 1", c->name);
    return 0;
}

static int fabric_start(sim_comp *c, sim_err *err)
{
    return fab_topo_build(c->sim, &((fabric_state *)c->state)->topo) ? sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "oom") : 0;
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
    /* Per transfer class: a path's transfers may be of unlike classes (KV
     * loads and UVM migrations both take dma), so latency over time is
     * reported per class, never pooled. An interval in which no transfer
     * of a class finished has no latency point (its throughput is 0). */
    for (int k = 1; k < FABRIC_NCLASSES; k++) {
        path_stats *cs = &f->cs[k];
        if (!cs->n)
            continue;
        char name[64];
        snprintf(name, sizeof name, "throughput:class:%s", class_names[k]);
        sim_report_timeseries(c->sim, c->name, name, now,
                              iv > 0 ? (double)cs->sample_bytes / iv : 0.0);
        if (cs->sample_n) {
            snprintf(name, sizeof name, "latency:class:%s", class_names[k]);
            sim_report_timeseries(c->sim, c->name, name, now,
                                  cs->sample_lat / (double)cs->sample_n * 1e-12);
            snprintf(name, sizeof name, "latency_max:class:%s", class_names[k]);
            sim_report_timeseries(c->sim, c->name, name, now, sim_time_to_s(cs->sample_max));
        }
        cs->sample_bytes = 0;
        cs->sample_n = 0;
        cs->sample_lat = 0;
        cs->sample_max = 0;
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
    for (int k = 1; k < FABRIC_NCLASSES; k++) { /* classified transfers only */
        path_stats *ps = &f->cs[k];
        if (!ps->n)
            continue;
        char name[64];
        snprintf(name, sizeof name, "transfers:class:%s", class_names[k]);
        sim_report_metric(c->sim, c->name, name, (double)ps->n, "transfers");
        snprintf(name, sizeof name, "bytes:class:%s", class_names[k]);
        sim_report_metric(c->sim, c->name, name, (double)ps->bytes, "B");
        snprintf(name, sizeof name, "latency:class:%s", class_names[k]);
        sim_samples_report(c->sim, c->name, name, &ps->lat, 1e-12, "s");
    }
    if (f->flow_model == FLOW_FLUID) {
        sim_report_metric(c->sim, c->name, "fluid_flows", (double)f->fluid.flows, "transfers");
        sim_report_metric(c->sim, c->name, "fluid_chunked", (double)f->fluid.chunked,
                          "transfers");
        sim_report_metric(c->sim, c->name, "fluid_single_chunk", (double)f->fluid.single,
                          "transfers");
        sim_report_metric(c->sim, c->name, "fluid_recomputes", (double)f->fluid.recomputes, "");
    }
    sim_report_metric(c->sim, c->name, "free_transfers", f->free_xfers, "");
    sim_report_metric(c->sim, c->name, "unfinished_transfers", (double)f->active, "transfers");
    return 0;
}

static void fabric_destroy(sim_comp *c)
{
    fabric_state *f = c->state;
    fab_topo_free(&f->topo);
    for (size_t i = 0; i < f->nfblocks; i++)
        sim_free(f->fblocks[i]);
    sim_free(f->fblocks);
    fab_pool_free(&f->pool);
    fab_fluid_free(&f->fluid);
    for (int p = 0; p < FABRIC_NPATHS; p++)
        sim_samples_free(&f->ps[p].lat);
    for (int k = 0; k < FABRIC_NCLASSES; k++)
        sim_samples_free(&f->cs[k].lat);
    if (cached_fabric == c->id)
        cached_fabric = UINT32_MAX;
}

/* Headline metrics of the run summary (sim_model.headline). */
static const char *const fabric_headline[] = {"bytes:*", "latency:*_mean", "latency:*_p99",
                                              "run/energy_*", NULL};

/* Time series of sim_model.series. */
static const sim_series fabric_series[] = {
    {"throughput:class:*", "B/s",
     "bytes of a transfer class's transfers (kv_load, uvm, ...) delivered in the interval, per second"},
    {"latency:class:*", "s",
     "mean latency of a transfer class's transfers that finished in the interval (none: no point)"},
    {"latency_max:class:*", "s",
     "largest latency of a transfer class's transfers that finished in the interval"},
    {"throughput:*", "B/s", "bytes of a data path's transfers delivered in the interval, per second"},
    {NULL, NULL, NULL}};

const sim_model fabric_model = {
    .type = "fabric",
    .summary = "fabric settings (chunk size, packet mode, window, free transfers) and per-path results",
    .params = fabric_params,
    .state_size = sizeof(fabric_state),
    .configure = fabric_configure,
    .start = fabric_start,
    .handle = fabric_handle,
    .sample = fabric_sample,
    .series = fabric_series,
    .finish = fabric_finish,
    .destroy = fabric_destroy,
    .headline = fabric_headline,
};

/* ---- xfer: a transfer load generator ----------------------------------- */

enum { XFER_EV_KICK = SIM_EV_USER, XFER_EV_DONE, XFER_EV_ARRIVE };

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
    uint64_t flows;          /* ECMP: transfer i is flow i mod flows (1: one route) */
    double rate;             /* open loop: Poisson arrivals per second (0: closed loop) */
    sim_time interarrival;   /* open loop, the same given as the mean gap (0: use rate) */
    uint64_t sessions;       /* each transfer a KV message of a session drawn uniformly from
                              * 1..sessions (0: no session) */
    int copy;                /* FABRIC_COPY_*: copy engine or copy kernel */
    uint64_t pieces;         /* contiguous pieces per transfer */
    /* state */
    uint32_t src_id, dst_id; /* resolved */
    uint64_t issued, done;   /* transfers */
    uint64_t bytes;          /* completed bytes */
    sim_time first, last;    /* first issue, last completion */
    sim_samples lat;         /* latencies, ps */
    int failed;              /* fabric_transfer refused */
} xfer_state;

static const char *const copy_names[] = {"ce", "sm", NULL};

static const sim_param xfer_params[] = {
    {"src", SIM_P_STRING, NULL, "", "component the bytes come from", offsetof(xfer_state, src),
     NULL},
    {"dst", SIM_P_STRING, NULL, "", "component the bytes go to", offsetof(xfer_state, dst), NULL},
    {"size", SIM_P_SIZE, "1 MiB", "B", "bytes per transfer", offsetof(xfer_state, size), NULL},
    {"path", SIM_P_ENUM, "auto", "",
     "auto, dma, pageable, gds, bounce, cxl, rdma, rdma_read, rdma_staged, rdma_host, mmio, "
     "rdma_send",
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
    {"flows", SIM_P_UINT, "1", "",
     "flows the transfers take turns on (ECMP spreads flows over equal-cost routes)",
     offsetof(xfer_state, flows), NULL},
    {"rate", SIM_P_DOUBLE, "0", "transfers/s",
     "open loop: Poisson arrivals at this rate, whatever is in flight (0: closed loop with "
     "outstanding)",
     offsetof(xfer_state, rate), NULL},
    {"sessions", SIM_P_UINT, "0", "sessions",
     "tag each transfer with a session drawn uniformly from 1..sessions (a semantic-routing "
     "NIC looks it up); 0: none",
     offsetof(xfer_state, sessions), NULL},
    {"reserve", SIM_P_SIZE, "0 B", "B",
     "pooled memory to reserve at start for the host (the memory end must be a `memory`)",
     offsetof(xfer_state, reserve), NULL},
    {"interarrival", SIM_P_TIME, "0 ns", "ps",
     "open loop, given as the mean gap between Poisson issues instead of `rate`",
     offsetof(xfer_state, interarrival), NULL},
    {"copy_engine", SIM_P_ENUM, "ce", "",
     "who moves a DMA copy with a GPU end: ce (a copy engine, cudaMemcpyAsync) or sm (a copy "
     "kernel on the GPU's SMs)",
     offsetof(xfer_state, copy), copy_names},
    {"pieces", SIM_P_UINT, "1", "",
     "contiguous pieces a transfer's bytes lie in (strided/gathered copies): a copy engine "
     "takes one descriptor per piece, a copy kernel one launch for all",
     offsetof(xfer_state, pieces), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int xfer_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    xfer_state *x = c->state;
    if (!x->src || !x->dst)
        return scn_error(err, node, "xfer '%s': needs 'src' and 'dst'", c->name);
    if (x->outstanding < 1)
        return scn_error(err, node ? scn_map_get(node, "outstanding") : NULL,
                         "xfer '%s': outstanding must be >= 1", c->name);
    if (x->rate < 0 || (x->rate > 0 && x->interarrival))
        return scn_error(err, node ? scn_map_get(node, "interarrival") : NULL,
                         "xfer '%s': give an open-loop `rate` (>= 0) or `interarrival`, not both",
                         c->name);
    if (x->interarrival)
        x->rate = 1e12 / (double)x->interarrival;
    if (x->pieces < 1 || (x->pieces > 1 && x->pieces > x->size) || x->pieces > UINT32_MAX)
        return scn_error(err, node ? scn_map_get(node, "pieces") : NULL,
                         "xfer '%s': pieces must be 1..size (bytes)", c->name);
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
    int network = x->path == FABRIC_PATH_RDMA || x->path == FABRIC_PATH_RDMA_READ ||
                  x->path == FABRIC_PATH_RDMA_STAGED || x->path == FABRIC_PATH_RDMA_HOST ||
                  x->path == FABRIC_PATH_RDMA_SEND;
    if (x->path != FABRIC_PATH_BOUNCE && x->path != FABRIC_PATH_PAGEABLE && !network &&
        fabric_route(c->sim, x->src_id, x->dst_id, links, FAB_MAX_STEPS, &n)) {
        fabric_req probe = {x->src_id, x->dst_id, x->size, x->path, c->id, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0};
        if (x->path != FABRIC_PATH_AUTO || fabric_check_transfer(c->sim, &probe))
            return scn_error(err, c->node, "xfer '%s': no route from '%s' to '%s'", c->name,
                             x->src, x->dst);
    }
    if (network) {
        fabric_req probe = {x->src_id, x->dst_id, x->size, x->path, c->id, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0};
        int rc = fabric_check_transfer(c->sim, &probe);
        if (rc)
            return scn_error(err, c->node ? scn_map_get(c->node, "path") : NULL,
                             "xfer '%s': %s from '%s' to '%s' is impossible: %s", c->name,
                             path_names[x->path], x->src, x->dst,
                             rc == SIM_ENOTFOUND ? "no network route between their NICs, or an"
                                                   " end without an rnic"
                                                 : "a GPU end's rnic has gpudirect: false (use"
                                                   " rdma_staged)");
    }
    if (x->copy == FABRIC_COPY_SM) {
        fabric_req probe = {x->src_id, x->dst_id, x->size, x->path, c->id, 0, 0, 0, NULL, 0, 0,
                            0, 0, FABRIC_COPY_SM, 1};
        if (fabric_check_transfer(c->sim, &probe) == SIM_EINVAL)
            return scn_error(err, c->node ? scn_map_get(c->node, "copy_engine") : NULL,
                             "xfer '%s': copy_engine: sm needs a DMA copy (path: dma or auto) "
                             "with a GPU end that is not an SSD transfer",
                             c->name);
    }
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
    if (x->rate > 0)
        sim_schedule(c->sim, x->start_at, c->id, XFER_EV_ARRIVE, 0, 0);
    else
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
    uint64_t session = x->sessions ? 1 + gsl_rng_uniform_int(c->rng, x->sessions) : 0;
    fabric_req r = {x->src_id, x->dst_id, x->size, x->path, c->id, XFER_EV_DONE, x->issued,
                    x->random, NULL, 0, x->flows > 1 ? x->issued % x->flows : 0, session,
                    FABRIC_CLASS_OTHER, x->copy, (uint32_t)x->pieces};
    int rc = fabric_transfer_req(c->sim, &r);
    if (rc != 0) {
        /* The scenario asked for a transfer the fabric cannot do (out of
         * memory): the run could not do what it says, so it fails with the
         * reason rather than end 'complete' with fewer transfers. */
        x->failed = 1;
        sim_fail(c->sim, rc, "%s: the fabric refused transfer %llu: %s", c->name,
                 (unsigned long long)x->issued, sim_strerror(rc));
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
    } else if (e->kind == XFER_EV_ARRIVE) { /* open loop: issue, draw the next arrival */
        xfer_issue(c);
        if (!x->failed && (!x->count || x->issued < x->count))
            sim_schedule(c->sim, (sim_time)llround(gsl_ran_exponential(c->rng, 1e12 / x->rate)),
                         c->id, XFER_EV_ARRIVE, 0, 0);
    } else if (e->kind == XFER_EV_DONE) {
        x->done++;
        x->bytes += x->size;
        x->last = sim_now(c->sim);
        sim_samples_add(&x->lat, (double)e->a1);
        if (x->rate > 0)
            return; /* open loop: arrivals do not wait for completions */
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

/* Headline metrics of the run summary (sim_model.headline). */
static const char *const xfer_headline[] = {"throughput", "latency_mean", "latency_p99", NULL};

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
    .headline = xfer_headline,
};

/* ---- alltoall: every member sends to every other ------------------------ */

enum { A2A_EV_KICK = SIM_EV_USER, A2A_EV_DONE };

typedef struct a2a_state {
    /* configuration */
    const char *pattern;     /* member names: printf pattern with one %d, e.g. node%d.gpu0 */
    uint64_t members;        /* k = 0 .. members - 1 */
    uint64_t size;           /* bytes per message */
    int path;                /* FABRIC_PATH_* */
    uint64_t outstanding;    /* messages each member keeps in flight */
    /* state */
    uint32_t *ids;           /* member component ids */
    uint64_t *next;          /* per member: the next destination offset (1 .. members - 1) */
    uint64_t done, bytes;    /* completed messages and their bytes */
    uint64_t refused;        /* messages fabric_transfer refused */
    sim_samples lat;         /* latencies, ps */
} a2a_state;

static const sim_param a2a_params[] = {
    {"members", SIM_P_UINT, NULL, "", "number of members (k = 0 .. members-1)",
     offsetof(a2a_state, members), NULL},
    {"pattern", SIM_P_STRING, NULL, "",
     "member name with one %d for k, e.g. node%d.gpu0", offsetof(a2a_state, pattern), NULL},
    {"size", SIM_P_SIZE, "1 MiB", "B", "bytes per message", offsetof(a2a_state, size), NULL},
    {"path", SIM_P_ENUM, "auto", "", "data path of every message (see xfer)",
     offsetof(a2a_state, path), fab_path_names},
    {"outstanding", SIM_P_UINT, "1", "messages", "messages each member keeps in flight",
     offsetof(a2a_state, outstanding), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int a2a_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    a2a_state *a = c->state;
    const char *pc = a->pattern ? strchr(a->pattern, '%') : NULL;
    if (!pc || pc[1] != 'd' || strchr(pc + 2, '%'))
        return scn_error(err, node ? scn_map_get(node, "pattern") : NULL,
                         "alltoall '%s': pattern needs exactly one %%d (e.g. node%%d.gpu0)",
                         c->name);
    if (a->members < 2 || a->members > 1000000 || a->outstanding < 1 || a->size < 1)
        return scn_error(err, node, "alltoall '%s': members >= 2, outstanding >= 1, size >= 1 B",
                         c->name);
    return 0;
}

static void a2a_issue(sim_comp *c, uint32_t k)
{
    a2a_state *a = c->state;
    uint64_t n = a->members;
    uint64_t d = (k + a->next[k]) % n;
    a->next[k] = a->next[k] % (n - 1) + 1;
    fabric_req r = {a->ids[k], a->ids[d], a->size, a->path, c->id, A2A_EV_DONE, k, 0, NULL, 0,
                    d, 0, FABRIC_CLASS_OTHER, 0, 0};
    int rc = fabric_transfer_req(c->sim, &r);
    if (rc) { /* as in xfer_issue: a refused message fails the run */
        a->refused++;
        sim_fail(c->sim, rc, "%s: the fabric refused a message from member %u: %s", c->name, k,
                 sim_strerror(rc));
    }
}

static int a2a_start(sim_comp *c, sim_err *err)
{
    a2a_state *a = c->state;
    a->ids = sim_calloc(a->members, sizeof *a->ids);
    a->next = sim_calloc(a->members, sizeof *a->next);
    if (!a->ids || !a->next)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (uint64_t k = 0; k < a->members; k++) {
        char name[512];
        snprintf(name, sizeof name, a->pattern, (int)k);
        sim_comp *m = sim_find(c->sim, name);
        if (!m || !fab_hdr_of(m))
            return scn_error(err, c->node ? scn_map_get(c->node, "pattern") : NULL,
                             "alltoall '%s': no fabric component named '%s'", c->name, name);
        a->ids[k] = m->id;
        a->next[k] = 1;
    }
    sim_schedule(c->sim, 0, c->id, A2A_EV_KICK, 0, 0);
    return 0;
}

static void a2a_handle(sim_comp *c, const sim_event *e)
{
    a2a_state *a = c->state;
    if (e->kind == A2A_EV_KICK) {
        for (uint32_t k = 0; k < a->members; k++)
            for (uint64_t i = 0; i < a->outstanding; i++)
                a2a_issue(c, k);
    } else if (e->kind == A2A_EV_DONE) {
        a->done++;
        a->bytes += a->size;
        sim_samples_add(&a->lat, (double)e->a1);
        a2a_issue(c, (uint32_t)e->a0);
    }
}

static int a2a_finish(sim_comp *c, sim_err *err)
{
    a2a_state *a = c->state;
    double t = sim_time_to_s(sim_now(c->sim));
    sim_report_metric(c->sim, c->name, "messages", (double)a->done, "messages");
    sim_report_metric(c->sim, c->name, "bytes", (double)a->bytes, "B");
    sim_report_metric(c->sim, c->name, "throughput", t > 0 ? (double)a->bytes / t : 0.0, "B/s");
    sim_report_metric(c->sim, c->name, "refused", (double)a->refused, "messages");
    sim_samples_report(c->sim, c->name, "latency", &a->lat, 1e-12, "s");
    return 0;
}

static void a2a_destroy(sim_comp *c)
{
    a2a_state *a = c->state;
    sim_free(a->ids);
    sim_free(a->next);
    sim_samples_free(&a->lat);
}

const sim_model alltoall_model = {
    .type = "alltoall",
    .summary = "all-to-all load: each member sends messages to every other in turn",
    .params = a2a_params,
    .state_size = sizeof(a2a_state),
    .configure = a2a_configure,
    .start = a2a_start,
    .handle = a2a_handle,
    .finish = a2a_finish,
    .destroy = a2a_destroy,
};
