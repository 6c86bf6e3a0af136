/*
 * cxlcache.c - CXL.cache: a device cache of host memory over a CXL link,
 * the host as home agent (see cxlcache.h). CXL 2.0 spec section 3.2
 * (CXL.cache: D2H requests RdShared, RdOwn, RdOwnNoData, CleanEvict,
 * DirtyEvict; H2D responses GO, GO-WritePull; H2D snoops SnpData, SnpInv;
 * D2H snoop responses RspIHitSE, RspSHitSE, RspIFwdM, RspSFwdM) and the
 * flit formats of cxl.h (68 B flits: four 16 B slots, 256 B flits: 240 or
 * 236 B of payload).
 *
 * The device: one cache of `cxl_cache` bytes in 64 B lines, fully
 * associative with LRU replacement, one MESI state per line. The host: one
 * directory bit per line of the footprint, set while the device may hold
 * the line. Only one device caches, so the directory needs no sharer list;
 * with one bit the host cannot tell S from E/M and snoops whenever the bit
 * is set.
 *
 * Device line states and transitions (D = device access, H = host access):
 *
 *            D read: RdShared / GO + Data
 *      +--------------------------------------> S
 *      |                                        | D write: RdOwnNoData / GO
 *      |   D write: RdOwn / GO + Data (E, then  v
 *   -> I ------------------------------------> E/M   (E --D write, silent--> M)
 *      ^                                        |
 *      |    H write: SnpInv / RspIHitSE, or RspIFwdM + Data from M
 *      +----------------------------------------+  (from S, E or M)
 *      |    evict (LRU): CleanEvict / GO from S, E;
 *      +------ DirtyEvict / GO-WritePull, Data from M
 *    E, M --H read: SnpData / RspSHitSE, or RspSFwdM + Data from M--> S
 *
 *   I -> S      [dev_access, read miss]      I -> M  [dev_access, write miss]
 *   S -> M      [dev_access, upgrade]        E -> M  [dev_access, silent]
 *   S,E,M -> I  [host_access, SnpInv]        E,M -> S [host_access, SnpData]
 *   S,E,M -> I  [evict_lru]
 * The directory bit is set with every GO that grants a line and cleared by
 * SnpInv and evictions. Invariant (cxl_accel_assert_state): a line is in
 * the cache (state != I) iff its directory bit is set.
 *
 * Costs on the wire. A request, GO, snoop or snoop response takes one 16 B
 * slot; data is 64 B plus a 16 B header slot. Messages sent together (GO
 * with its data, a snoop response with its data) share flits; each
 * transmission is ceil(slots x 16 / flit payload) flits, so unloaded: a
 * request is one flit (68 B or 256 B), GO + data two 68 B flits or one
 * 256 B flit. Its time is flits x flit bytes / raw rate (cxl_raw_rate) plus
 * the link latency. Latency of a device access: hit_latency on a hit;
 * otherwise request + home_latency (directory and DRAM at the host) + GO
 * (+ data). Evictions go through a write-back buffer, off the critical
 * path. Host accesses take home_latency plus the snoop round trip when the
 * directory bit is set. Accesses are sequential (one outstanding request,
 * as an in-order requester), `gap` apart; the messages are added to the
 * link's counters (links rows) but do not queue behind fabric transfers.
 */
#include "models/coherence/cxlcache.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/fabric/cxl.h"
#include "models/fabric/engine.h"
#include "sim/mem.h"
#include "sim/stats.h"

enum { EV_OP = SIM_EV_USER + 40 };
enum { OP_DR, OP_DW, OP_HW, OP_HR };   /* device read/write, host write/read */
enum { D2H = 0, H2D = 1 };
#define NONE UINT32_MAX

typedef struct slot {
    uint64_t line;          /* line number held */
    int state;              /* CXL_CACHE_* */
    uint32_t prev, next;    /* LRU list (head: most recent) */
} slot;

typedef struct op {
    int kind;               /* OP_* */
    uint64_t line;          /* line number */
} op;

typedef struct cxlacc {
    /* configuration */
    uint64_t cap;           /* cxl_cache: capacity, bytes */
    uint64_t footprint;     /* host memory addressed, bytes */
    const char *script;     /* scripted ops, or NULL ("" in YAML): the generator */
    uint64_t accesses;      /* generator: device accesses */
    uint64_t scan;          /* generator: cyclic region, bytes (0: footprint) */
    uint64_t write_every;   /* generator: every Nth device access writes (0: none) */
    uint64_t host_write_every; /* generator: host writes the line after every Nth access */
    sim_time hit_lat;       /* device cache hit */
    sim_time home_lat;      /* host home agent: directory + DRAM */
    sim_time gap;           /* between accesses */
    /* resolved at start */
    uint32_t link;          /* the cxl link to the host */
    int dev_side;           /* link end index of the device (its D2H direction) */
    const cxl_cfg *cfg;     /* the link's flits and rate */
    sim_time link_lat;      /* its latency */
    uint32_t nslots;        /* cache lines */
    uint64_t nlines;        /* footprint lines */
    op *ops;                /* parsed script */
    size_t nops;
    /* state */
    slot *slots;            /* the cache */
    uint32_t *where;        /* per footprint line: slot or NONE */
    uint8_t *dir;           /* per footprint line: host directory bit */
    uint64_t ndir;          /* directory bits set */
    uint32_t nused, mru, lru; /* slots used, LRU list ends */
    uint64_t pos;           /* next op (script) or device access (generator) */
    int host_pending;       /* generator: a host write comes next */
    uint64_t hits, misses, upgrades, snoops, writebacks, evictions;
    uint64_t dev_acc, host_acc;
    uint64_t msgs[2], flits[2], slots16[2]; /* per direction (D2H, H2D) */
    double wire[2];         /* wire bytes per direction */
    sim_samples lat;        /* device access latency, ps */
} cxlacc;

static int __attribute__((unused)) cxl_accel_assert_state(const cxlacc *a)
{
    if (a->ndir != a->nused)
        return 0;
    for (uint32_t i = 0; i < a->nused; i++) {
        const slot *s = &a->slots[i];
        if (s->state == CXL_CACHE_I || a->where[s->line] != i || !a->dir[s->line])
            return 0;
    }
    return 1;
}

/* One transmission of `msgs` messages in `slots` 16 B slots; its time. */
static sim_time xmit(sim_comp *c, cxlacc *a, int d, int msgs, int slots)
{
    uint64_t pay = cxl_flit_payload(a->cfg->flit), fb = cxl_flit_bytes(a->cfg->flit);
    uint64_t flits = ((uint64_t)slots * 16 + pay - 1) / pay;
    sim_time t = (sim_time)llround((double)(flits * fb) * 1e12 / cxl_raw_rate(a->cfg));
    a->msgs[d] += (uint64_t)msgs;
    a->flits[d] += flits;
    a->slots16[d] += (uint64_t)slots;
    a->wire[d] += (double)(flits * fb);
    fab_hdr *lh = fab_hdr_of(sim_comp_at(c->sim, a->link));
    fab_res *r = &lh->res[d == D2H ? a->dev_side : 1 - a->dev_side];
    r->units += flits;
    r->wire_bytes += (double)(flits * fb);
    r->bytes += slots > 1 ? CXL_CACHE_LINE : 0;
    r->sample_bytes += slots > 1 ? CXL_CACHE_LINE : 0;
    r->busy_ps += t;
    return t + a->link_lat;
}

static void lru_unlink(cxlacc *a, uint32_t i)
{
    slot *s = &a->slots[i];
    if (s->prev != NONE)
        a->slots[s->prev].next = s->next;
    else
        a->mru = s->next;
    if (s->next != NONE)
        a->slots[s->next].prev = s->prev;
    else
        a->lru = s->prev;
}

static void lru_front(cxlacc *a, uint32_t i)
{
    slot *s = &a->slots[i];
    s->prev = NONE;
    s->next = a->mru;
    if (a->mru != NONE)
        a->slots[a->mru].prev = i;
    a->mru = i;
    if (a->lru == NONE)
        a->lru = i;
}

/* Remove slot i (keeping the slots dense: the last one moves into i). */
static void drop(cxlacc *a, uint32_t i)
{
    slot *s = &a->slots[i];
    a->where[s->line] = NONE;
    a->dir[s->line] = 0;
    a->ndir--;
    lru_unlink(a, i);
    uint32_t last = --a->nused;
    if (i != last) {
        a->slots[i] = a->slots[last];
        slot *m = &a->slots[i];
        a->where[m->line] = i;
        if (m->prev != NONE)
            a->slots[m->prev].next = i;
        else
            a->mru = i;
        if (m->next != NONE)
            a->slots[m->next].prev = i;
        else
            a->lru = i;
    }
}

/* S,E,M -> I [evict_lru]: CleanEvict / GO, or DirtyEvict / GO-WritePull + Data. */
static void evict_lru(sim_comp *c, cxlacc *a)
{
    uint32_t v = a->lru;
    if (a->slots[v].state == CXL_CACHE_M) {
        xmit(c, a, D2H, 1, 1); /* DirtyEvict */
        xmit(c, a, H2D, 1, 1); /* GO-WritePull */
        xmit(c, a, D2H, 1, 5); /* Data */
        a->writebacks++;
    } else {
        xmit(c, a, D2H, 1, 1); /* CleanEvict */
        xmit(c, a, H2D, 1, 1); /* GO */
    }
    a->evictions++;
    drop(a, v);
}

/* A device access; returns its latency. */
static sim_time dev_access(sim_comp *c, cxlacc *a, uint64_t line, int write)
{
    uint32_t i = a->where[line];
    sim_time t;
    a->dev_acc++;
    if (i != NONE) {
        slot *s = &a->slots[i];
        lru_unlink(a, i);
        lru_front(a, i);
        if (!write || s->state != CXL_CACHE_S) { /* hit; E -> M silently */
            if (write)
                s->state = CXL_CACHE_M;
            a->hits++;
            return a->hit_lat;
        }
        /* S -> M [upgrade]: RdOwnNoData / GO */
        t = xmit(c, a, D2H, 1, 1) + a->home_lat + xmit(c, a, H2D, 1, 1);
        s->state = CXL_CACHE_M;
        a->upgrades++;
        return t;
    }
    a->misses++;
    if (a->nused == a->nslots)
        evict_lru(c, a);
    /* I -> S (RdShared) or I -> E -> M (RdOwn): request, GO + Data */
    t = xmit(c, a, D2H, 1, 1) + a->home_lat + xmit(c, a, H2D, 2, 5);
    i = a->nused++;
    a->slots[i].line = line;
    a->slots[i].state = write ? CXL_CACHE_M : CXL_CACHE_S;
    lru_front(a, i);
    a->where[line] = i;
    a->dir[line] = 1;
    a->ndir++;
    return t;
}

/* A host access to a line: snoop the device when its directory bit is set. */
static sim_time host_access(sim_comp *c, cxlacc *a, uint64_t line, int write)
{
    sim_time t = a->home_lat;
    a->host_acc++;
    if (!a->dir[line])
        return t;
    uint32_t i = a->where[line];
    slot *s = &a->slots[i];
    a->snoops++;
    t += xmit(c, a, H2D, 1, 1); /* SnpInv / SnpData */
    if (s->state == CXL_CACHE_M) {
        t += xmit(c, a, D2H, 2, 5); /* RspIFwdM / RspSFwdM + Data */
        a->writebacks++;
    } else {
        t += xmit(c, a, D2H, 1, 1); /* RspIHitSE / RspSHitSE */
    }
    if (write)
        drop(a, i);
    else
        s->state = CXL_CACHE_S;
    return t;
}

static const sim_param accel_params[] = {
    {"cxl_cache", SIM_P_SIZE, "64 KiB", "B", "device cache capacity (64 B lines, LRU)",
     offsetof(cxlacc, cap), NULL},
    {"footprint", SIM_P_SIZE, "1 MiB", "B", "host memory the device and host address",
     offsetof(cxlacc, footprint), NULL},
    {"script", SIM_P_STRING, "", "",
     "ops on line numbers: R<n>/W<n> device read/write, H<n>/h<n> host write/read",
     offsetof(cxlacc, script), NULL},
    {"accesses", SIM_P_UINT, "0", "", "generator: device accesses (cyclic over `scan`)",
     offsetof(cxlacc, accesses), NULL},
    {"scan", SIM_P_SIZE, "0 B", "B", "generator: cyclic region (0: the footprint)",
     offsetof(cxlacc, scan), NULL},
    {"write_every", SIM_P_UINT, "0", "", "generator: every Nth device access writes (0: none)",
     offsetof(cxlacc, write_every), NULL},
    {"host_write_every", SIM_P_UINT, "0", "",
     "generator: after every Nth device access the host writes that line (0: none)",
     offsetof(cxlacc, host_write_every), NULL},
    {"hit_latency", SIM_P_TIME, "5 ns", "ps", "device cache hit", offsetof(cxlacc, hit_lat),
     NULL},
    {"home_latency", SIM_P_TIME, "100 ns", "ps", "host home agent: directory lookup + DRAM",
     offsetof(cxlacc, home_lat), NULL},
    {"gap", SIM_P_TIME, "0 ns", "ps", "pause between accesses", offsetof(cxlacc, gap), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int parse_script(sim_comp *c, cxlacc *a, const scn_node *node, sim_err *err)
{
    const scn_node *at = node ? scn_map_get(node, "script") : NULL;
    size_t cap = 0;
    for (const char *p = a->script; *p;) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (!*p)
            break;
        int kind = *p == 'R' ? OP_DR : *p == 'W' ? OP_DW : *p == 'H' ? OP_HW
                 : *p == 'h' ? OP_HR : -1;
        char *end;
        unsigned long long n = kind >= 0 ? strtoull(p + 1, &end, 10) : 0;
        if (kind < 0 || end == p + 1 || n >= a->nlines)
            return scn_error(err, at,
                             "cxl_accel '%s': bad script op at '%.8s' (R<n> W<n> H<n> h<n>,"
                             " n < %llu footprint lines)",
                             c->name, p, (unsigned long long)a->nlines);
        if (a->nops == cap) {
            cap = cap ? 2 * cap : 16;
            op *o = sim_realloc(a->ops, cap * sizeof *o);
            if (!o)
                return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
            a->ops = o;
        }
        a->ops[a->nops].kind = kind;
        a->ops[a->nops++].line = n;
        p = end;
    }
    return 0;
}

/* Allocates the cache, directory and script; freed by accel_destroy(). */
static int accel_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    cxlacc *a = c->state;
    if (a->cap < CXL_CACHE_LINE || a->cap / CXL_CACHE_LINE > (1u << 24))
        return scn_error(err, node ? scn_map_get(node, "cxl_cache") : NULL,
                         "cxl_accel '%s': cxl_cache must be 64 B .. 1 GiB", c->name);
    if (a->footprint < CXL_CACHE_LINE || a->footprint / CXL_CACHE_LINE > (1u << 24))
        return scn_error(err, node ? scn_map_get(node, "footprint") : NULL,
                         "cxl_accel '%s': footprint must be 64 B .. 1 GiB", c->name);
    a->nslots = (uint32_t)(a->cap / CXL_CACHE_LINE);
    a->nlines = a->footprint / CXL_CACHE_LINE;
    if (a->scan == 0)
        a->scan = a->footprint;
    if (a->scan < CXL_CACHE_LINE || a->scan > a->footprint)
        return scn_error(err, node ? scn_map_get(node, "scan") : NULL,
                         "cxl_accel '%s': scan must be 64 B .. footprint", c->name);
    a->slots = sim_calloc(a->nslots, sizeof *a->slots);
    a->where = sim_calloc(a->nlines, sizeof *a->where);
    a->dir = sim_calloc(a->nlines, 1);
    if (!a->slots || !a->where || !a->dir)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (uint64_t i = 0; i < a->nlines; i++)
        a->where[i] = NONE;
    a->mru = a->lru = NONE;
    if (a->script && !*a->script)
        a->script = NULL; /* the generator */
    if (a->script)
        return parse_script(c, a, node, err);
    return 0;
}

static int accel_start(sim_comp *c, sim_err *err)
{
    cxlacc *a = c->state;
    size_t n = sim_ncomps(c->sim);
    a->link = NONE;
    for (size_t i = 0; i < n && a->link == NONE; i++) {
        sim_comp *l = sim_comp_at(c->sim, (uint32_t)i);
        if (cxl_link_cfg(l) && (l->ends[0] == c->id || l->ends[1] == c->id)) {
            a->link = l->id;
            a->dev_side = l->ends[0] == c->id ? 0 : 1;
            a->cfg = cxl_link_cfg(l);
            a->link_lat = fab_hdr_of(l)->latency;
        }
    }
    if (a->link == NONE)
        return scn_error(err, c->node, "cxl_accel '%s': needs a cxl link to its host", c->name);
    if (a->nops || a->accesses)
        sim_schedule(c->sim, 0, c->id, EV_OP, 0, 0);
    return 0;
}

static void accel_handle(sim_comp *c, const sim_event *e)
{
    cxlacc *a = c->state;
    if (e->kind != EV_OP)
        return;
    sim_time t;
    if (a->script) {
        if (a->pos >= a->nops)
            return;
        const op *o = &a->ops[a->pos++];
        if (o->kind == OP_DR || o->kind == OP_DW) {
            t = dev_access(c, a, o->line, o->kind == OP_DW);
            sim_samples_add(&a->lat, (double)t);
        } else {
            t = host_access(c, a, o->line, o->kind == OP_HW);
        }
    } else {
        uint64_t lines = a->scan / CXL_CACHE_LINE;
        if (a->host_pending) { /* the host writes the line just accessed */
            a->host_pending = 0;
            t = host_access(c, a, (a->pos - 1) % lines, 1);
        } else {
            if (a->pos >= a->accesses)
                return;
            uint64_t i = a->pos++;
            int w = a->write_every && (i + 1) % a->write_every == 0;
            t = dev_access(c, a, i % lines, w);
            sim_samples_add(&a->lat, (double)t);
            a->host_pending = a->host_write_every && (i + 1) % a->host_write_every == 0;
        }
        if (a->pos >= a->accesses && !a->host_pending)
            return;
    }
    assert(cxl_accel_assert_state(a));
    if (!a->script || a->pos < a->nops)
        sim_schedule(c->sim, t + a->gap, c->id, EV_OP, 0, 0);
}

static int accel_finish(sim_comp *c, sim_err *err)
{
    cxlacc *a = c->state;
    static const char *const dn[2] = {"d2h", "h2d"};
    sim *s = c->sim;
    sim_report_metric(s, c->name, "accesses", (double)a->dev_acc, "accesses");
    sim_report_metric(s, c->name, "host_accesses", (double)a->host_acc, "accesses");
    sim_report_metric(s, c->name, "hits", (double)a->hits, "accesses");
    sim_report_metric(s, c->name, "misses", (double)a->misses, "accesses");
    sim_report_metric(s, c->name, "upgrades", (double)a->upgrades, "accesses");
    sim_report_metric(s, c->name, "hit_ratio",
                      a->dev_acc ? (double)a->hits / (double)a->dev_acc : 0.0, "");
    sim_report_metric(s, c->name, "snoops", (double)a->snoops, "messages");
    sim_report_metric(s, c->name, "writebacks", (double)a->writebacks, "lines");
    sim_report_metric(s, c->name, "evictions", (double)a->evictions, "lines");
    for (int d = 0; d < 2; d++) {
        char name[64];
        snprintf(name, sizeof name, "%s_messages", dn[d]);
        sim_report_metric(s, c->name, name, (double)a->msgs[d], "messages");
        snprintf(name, sizeof name, "%s_slots", dn[d]);
        sim_report_metric(s, c->name, name, (double)a->slots16[d], "slots");
        snprintf(name, sizeof name, "%s_flits", dn[d]);
        sim_report_metric(s, c->name, name, (double)a->flits[d], "flits");
        snprintf(name, sizeof name, "%s_bytes", dn[d]);
        sim_report_metric(s, c->name, name, a->wire[d], "B");
    }
    sim_samples_report(s, c->name, "latency", &a->lat, 1e-12, "s");
    return 0;
}

static void accel_destroy(sim_comp *c)
{
    cxlacc *a = c->state;
    sim_free(a->slots);
    sim_free(a->where);
    sim_free(a->dir);
    sim_free(a->ops);
    sim_samples_free(&a->lat);
}

int cxl_cache_state(const sim_comp *c, uint64_t line)
{
    if (!c || c->model != &cxl_accel_model)
        return -1;
    const cxlacc *a = c->state;
    if (line >= a->nlines || a->where[line] == NONE)
        return CXL_CACHE_I;
    return a->slots[a->where[line]].state;
}

int cxl_cache_dir(const sim_comp *c, uint64_t line)
{
    if (!c || c->model != &cxl_accel_model)
        return -1;
    const cxlacc *a = c->state;
    return line < a->nlines ? a->dir[line] : 0;
}

/* Headline metrics of the run summary (sim_model.headline). */
static const char *const cxl_accel_headline[] = {"hit_ratio", "latency_mean", "latency_p99", NULL};

const sim_model cxl_accel_model = {
    .type = "cxl_accel",
    .summary = "CXL.cache accelerator: device cache of host memory (MESI, LRU), host directory,"
               " snoops, flits on a cxl link",
    .params = accel_params,
    .state_size = sizeof(cxlacc),
    .configure = accel_configure,
    .start = accel_start,
    .handle = accel_handle,
    .finish = accel_finish,
    .destroy = accel_destroy,
    .headline = cxl_accel_headline,
};
