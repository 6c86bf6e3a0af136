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
 * as an in-order requester), `gap` apart.
 *
 * On the link. Every transmission is one packet queued on the CXL link in
 * its direction (fab_link_send_wire: it occupies the link for its flits'
 * wire bytes at the raw rate), in the same queues as the fabric's bulk
 * transfers over that link, and its arrival is reported back here; so
 * latencies include the queueing behind bulk traffic, and unloaded they
 * are exactly the sums above. An access is a chain of legs: a miss is
 * [request D2H] -> home_latency -> [GO + Data H2D]; a snooping host access
 * is home_latency -> [snoop H2D] -> [response D2H]; an eviction is a
 * separate chain started just after the request that needed the frame
 * ([CleanEvict D2H] -> [GO H2D], or [DirtyEvict D2H] -> [GO-WritePull H2D]
 * -> [Data D2H]; the host answers at once), so it never delays the
 * request. Line states and directory bits change when the access begins:
 * with one access outstanding nothing else observes the transient, and
 * the message counts are those of the protocol flows above.
 *
 * `node:` names the fabric node the device sits on (a GPU or endpoint
 * with a cxl link to the host); without it the component itself must end
 * a cxl link. Several cxl_accel may share a node and so its link.
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

enum { EV_OP = SIM_EV_USER + 40, EV_ARR, EV_LEG, EV_DONE };
enum { OP_DR, OP_DW, OP_HW, OP_HR };   /* device read/write, host write/read */
enum { D2H = 0, H2D = 1 };
#define NONE UINT32_MAX

typedef struct slot {
    uint64_t line;          /* line number held */
    int state;              /* CXL_CACHE_* */
    uint32_t prev, next;    /* LRU list (head: most recent) */
} slot;

/* A chain of transmissions (legs), each sent `before` after the previous
 * one arrived; `main`: the current access completes with its last leg. */
#define MAX_LEGS 3
typedef struct leg {
    int dir, msgs, slots;
    sim_time before;
} leg;

typedef struct chain {
    leg legs[MAX_LEGS];
    int n, k;
    int main;
    uint32_t next_free;
} chain;

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
    const char *node;       /* fabric node it sits on ("": the component itself) */
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
    chain *ch;              /* chains in flight */
    uint32_t nch, capch, chfree;
    sim_time op_start;      /* the current access began */
    int op_dev;             /* it is a device access (its latency is sampled) */
    sim_comp *comp;         /* itself */
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

/* A new chain (its index), or NONE when out of memory. */
static uint32_t chain_new(cxlacc *a, int main)
{
    if (a->chfree == NONE) {
        if (a->nch == a->capch) {
            uint32_t cap = a->capch ? 2 * a->capch : 8;
            chain *n = sim_realloc(a->ch, cap * sizeof *n);
            if (!n) {
                sim_fail(a->comp->sim, SIM_ENOMEM, "cxl_accel '%s': out of memory",
                         a->comp->name);
                return NONE;
            }
            a->ch = n;
            a->capch = cap;
        }
        a->ch[a->nch].next_free = NONE;
        a->chfree = a->nch++;
    }
    uint32_t i = a->chfree;
    a->chfree = a->ch[i].next_free;
    a->ch[i].n = a->ch[i].k = 0;
    a->ch[i].main = main;
    return i;
}

static void chain_leg(cxlacc *a, uint32_t i, int d, int msgs, int slots, sim_time before)
{
    if (i == NONE)
        return;
    chain *ch = &a->ch[i];
    assert(ch->n < MAX_LEGS);
    ch->legs[ch->n++] = (leg){d, msgs, slots, before};
}

/* One transmission of `msgs` messages in `slots` 16 B slots: counted here
 * and sent as one packet of its flits over the link; its arrival comes
 * back as EV_ARR with the chain index. */
static void xmit(sim_comp *c, cxlacc *a, uint32_t chain_id, int d, int msgs, int slots)
{
    uint64_t pay = cxl_flit_payload(a->cfg->flit), fb = cxl_flit_bytes(a->cfg->flit);
    uint64_t flits = ((uint64_t)slots * 16 + pay - 1) / pay;
    a->msgs[d] += (uint64_t)msgs;
    a->flits[d] += flits;
    a->slots16[d] += (uint64_t)slots;
    a->wire[d] += (double)(flits * fb);
    if (fab_link_send_wire(sim_comp_at(c->sim, a->link), d == D2H ? a->dev_side : 1 - a->dev_side,
                           slots > 1 ? CXL_CACHE_LINE : 0, (double)(flits * fb), flits, chain_id,
                           c->id, EV_ARR))
        sim_fail(c->sim, SIM_ENOMEM, "cxl_accel '%s': out of memory", c->name);
}

/* Send leg k of chain i now, or after its `before`. */
static void chain_step(sim_comp *c, cxlacc *a, uint32_t i)
{
    if (i == NONE)
        return;
    chain *ch = &a->ch[i];
    const leg *l = &ch->legs[ch->k];
    if (l->before > 0)
        sim_schedule(c->sim, l->before, c->id, EV_LEG, 0, i);
    else
        xmit(c, a, i, l->dir, l->msgs, l->slots);
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

/* S,E,M -> I [evict_lru]: CleanEvict / GO, or DirtyEvict / GO-WritePull + Data.
 * Returns the eviction's chain, to be started after the request. */
static uint32_t evict_lru(cxlacc *a)
{
    uint32_t v = a->lru;
    uint32_t e = chain_new(a, 0);
    if (a->slots[v].state == CXL_CACHE_M) {
        chain_leg(a, e, D2H, 1, 1, 0); /* DirtyEvict */
        chain_leg(a, e, H2D, 1, 1, 0); /* GO-WritePull */
        chain_leg(a, e, D2H, 1, 5, 0); /* Data */
        a->writebacks++;
    } else {
        chain_leg(a, e, D2H, 1, 1, 0); /* CleanEvict */
        chain_leg(a, e, H2D, 1, 1, 0); /* GO */
    }
    a->evictions++;
    drop(a, v);
    return e;
}

/* A device access: its state change now; returns the delay to its
 * completion (a hit) or 0 with *m set to the chain that completes it. */
static sim_time dev_access(cxlacc *a, uint64_t line, int write, uint32_t *m, uint32_t *ev)
{
    uint32_t i = a->where[line];
    a->dev_acc++;
    *m = *ev = NONE;
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
        *m = chain_new(a, 1);
        chain_leg(a, *m, D2H, 1, 1, 0);
        chain_leg(a, *m, H2D, 1, 1, a->home_lat);
        s->state = CXL_CACHE_M;
        a->upgrades++;
        return 0;
    }
    a->misses++;
    if (a->nused == a->nslots)
        *ev = evict_lru(a);
    /* I -> S (RdShared) or I -> E -> M (RdOwn): request, GO + Data */
    *m = chain_new(a, 1);
    chain_leg(a, *m, D2H, 1, 1, 0);
    chain_leg(a, *m, H2D, 2, 5, a->home_lat);
    i = a->nused++;
    a->slots[i].line = line;
    a->slots[i].state = write ? CXL_CACHE_M : CXL_CACHE_S;
    lru_front(a, i);
    a->where[line] = i;
    a->dir[line] = 1;
    a->ndir++;
    return 0;
}

/* A host access to a line: snoop the device when its directory bit is set
 * (after the home agent's lookup). Returns the delay to its completion, or
 * 0 with *m set to the snoop's chain. */
static sim_time host_access(cxlacc *a, uint64_t line, int write, uint32_t *m)
{
    a->host_acc++;
    *m = NONE;
    if (!a->dir[line])
        return a->home_lat;
    uint32_t i = a->where[line];
    slot *s = &a->slots[i];
    a->snoops++;
    *m = chain_new(a, 1);
    chain_leg(a, *m, H2D, 1, 1, a->home_lat); /* SnpInv / SnpData */
    if (s->state == CXL_CACHE_M) {
        chain_leg(a, *m, D2H, 2, 5, 0); /* RspIFwdM / RspSFwdM + Data */
        a->writebacks++;
    } else {
        chain_leg(a, *m, D2H, 1, 1, 0); /* RspIHitSE / RspSHitSE */
    }
    if (write)
        drop(a, i);
    else
        s->state = CXL_CACHE_S;
    return 0;
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
    {"node", SIM_P_STRING, "", "",
     "fabric node the device sits on, whose cxl link to the host it uses (\"\": the component"
     " itself ends the link)",
     offsetof(cxlacc, node), NULL},
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
    a->comp = c;
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
    uint32_t me = c->id;
    a->chfree = NONE;
    if (a->node && *a->node) {
        sim_comp *h = sim_find(c->sim, a->node);
        if (!h || !fab_hdr_of(h) || fab_is_link(fab_hdr_of(h)))
            return scn_error(err, c->node ? scn_map_get(c->node, "node") : NULL,
                             "cxl_accel '%s': `node:` must name the fabric node it sits on",
                             c->name);
        me = h->id;
    }
    a->link = NONE;
    for (size_t i = 0; i < n && a->link == NONE; i++) {
        sim_comp *l = sim_comp_at(c->sim, (uint32_t)i);
        if (cxl_link_cfg(l) && (l->ends[0] == me || l->ends[1] == me)) {
            a->link = l->id;
            a->dev_side = l->ends[0] == me ? 0 : 1;
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

/* The current access completed: sample it, schedule the next. */
static void op_done(sim_comp *c, cxlacc *a)
{
    if (a->op_dev)
        sim_samples_add(&a->lat, (double)(sim_now(c->sim) - a->op_start));
    assert(cxl_accel_assert_state(a));
    int more = a->script ? a->pos < a->nops : a->pos < a->accesses || a->host_pending;
    if (more)
        sim_schedule(c->sim, a->gap, c->id, EV_OP, 0, 0);
}

/* Begin the next access (script or generator). */
static void op_begin(sim_comp *c, cxlacc *a)
{
    sim_time t;
    uint32_t m = NONE, ev = NONE;
    a->op_start = sim_now(c->sim);
    if (a->script) {
        if (a->pos >= a->nops)
            return;
        const op *o = &a->ops[a->pos++];
        a->op_dev = o->kind == OP_DR || o->kind == OP_DW;
        if (a->op_dev)
            t = dev_access(a, o->line, o->kind == OP_DW, &m, &ev);
        else
            t = host_access(a, o->line, o->kind == OP_HW, &m);
    } else {
        uint64_t lines = a->scan / CXL_CACHE_LINE;
        if (a->host_pending) { /* the host writes the line just accessed */
            a->host_pending = 0;
            a->op_dev = 0;
            t = host_access(a, (a->pos - 1) % lines, 1, &m);
        } else {
            if (a->pos >= a->accesses)
                return;
            uint64_t i = a->pos++;
            int w = a->write_every && (i + 1) % a->write_every == 0;
            a->op_dev = 1;
            t = dev_access(a, i % lines, w, &m, &ev);
            a->host_pending = a->host_write_every && (i + 1) % a->host_write_every == 0;
        }
    }
    if (m != NONE)
        chain_step(c, a, m); /* the request goes first */
    else
        sim_schedule(c->sim, t, c->id, EV_DONE, 0, 0);
    if (ev != NONE)
        chain_step(c, a, ev); /* the write-back buffer drains behind it */
}

static void accel_handle(sim_comp *c, const sim_event *e)
{
    cxlacc *a = c->state;
    if (e->kind == EV_OP) {
        op_begin(c, a);
    } else if (e->kind == EV_DONE) {
        op_done(c, a);
    } else if (e->kind == EV_LEG) {
        uint32_t i = (uint32_t)e->a1;
        const leg *l = &a->ch[i].legs[a->ch[i].k];
        xmit(c, a, i, l->dir, l->msgs, l->slots);
    } else if (e->kind == EV_ARR) {
        uint32_t i = (uint32_t)e->a1;
        chain *ch = &a->ch[i];
        if (++ch->k < ch->n) {
            chain_step(c, a, i);
            return;
        }
        int main = ch->main;
        ch->next_free = a->chfree;
        a->chfree = i;
        if (main)
            op_done(c, a);
    }
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
    sim_free(a->ch);
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
