/*
 * mesi.c - directory-based MESI coherence: private caches and a home
 * directory, after Nagarajan, Sorin, Hill and Wood, "A Primer on Memory
 * Consistency and Cache Coherence", 2nd ed., section 8.3: Table 8.3 (cache
 * controller) and Table 8.4 (directory controller) of the MESI directory
 * protocol, which extends the MSI protocol of Tables 8.1/8.2 with E (granted
 * on a GetS when there is no sharer and no owner) and a silent E->M upgrade.
 *
 * Networks. Messages are events with a latency per message. As the Primer
 * requires, the *forwarded-request* network (Fwd-GetS, Fwd-GetM, Inv,
 * Put-Ack, all sent by the directory) is point-to-point ordered: those take
 * exactly `latency`, and equal-time events run in insertion order. The
 * request (GetS, GetM, PutS, PutM, PutE) and response (Data, Inv-Ack)
 * networks need no order; they may get `jitter` (uniform extra delay), and
 * Data from the directory adds `memory_latency`. So a Data can be overtaken
 * by a later Inv or Fwd-* from the directory, which is what the IS^D/IM^AD
 * stalls are for.
 *
 * Cache controller (Table 8.3). Stable states in the middle; X^YZ is a
 * transient state going from X to Y, waiting for Z (A = acks, D = data).
 *
 *                 Store/GetM              Data(acks>0)         last Inv-Ack
 *          I -----------------> IM^AD ---------------> IM^A -------------+
 *          |  \                   |  Data(acks=0) or from owner          |
 *          |   \ Load/GetS        +-----------------------------------+  |
 *          |    v      Data(excl)                                     v  v
 *          |   IS^D -------------> E --------- Store (silent) ------> M
 *          |    | Data                |  \                          / |
 *          |    v      Fwd-GetS/Data  |   \ Fwd-GetM/Data   Fwd-GetS  |
 *          |    S <-------------------+----\-----------------------+  |
 *          |    |  \ Store/GetM             \                         |
 *          |    |   SM^AD --Data(acks>0)--> SM^A --last Inv-Ack--> M   |
 *          |    |     | Inv/Inv-Ack -> IM^AD                            |
 *          +----+--- Inv/Inv-Ack (S->I), Fwd-GetM (E,M->I) -------------+
 *   Replacement: S --PutS--> SI^A, E --PutE--> EI^A, M --PutM--> MI^A;
 *   SI^A --Inv--> II^A; MI^A,EI^A --Fwd-GetS--> SI^A, --Fwd-GetM--> II^A;
 *   SI^A, MI^A, EI^A, II^A --Put-Ack--> I.
 *
 * Transitions and the function performing each:
 *   I -> IS^D (Load, send GetS)                       [core_try]
 *   I -> IM^AD, S -> SM^AD (Store, send GetM)         [core_try]
 *   E -> M (Store, silent)                            [core_try]
 *   S -> SI^A (PutS), E -> EI^A (PutE), M -> MI^A (PutM + data)
 *                                                     [cache_replace]
 *   IS^D -> E (exclusive Data), IS^D -> S (Data from dir or owner),
 *   IM^AD -> M (Data, acks 0 or from owner), IM^AD -> IM^A (Data, acks > 0),
 *   SM^AD -> M / SM^A likewise                        [cache_on_data]
 *   IM^A, SM^A -> M (last Inv-Ack); IM^AD, SM^AD count early acks
 *                                                     [cache_on_inv_ack]
 *   S -> I, SM^AD -> IM^AD, SI^A -> II^A (Inv, send Inv-Ack to requester)
 *                                                     [cache_on_inv]
 *   E,M -> S, EI^A,MI^A -> SI^A (Fwd-GetS, Data to requester and dir)
 *                                                     [cache_on_fwd_gets]
 *   E,M -> I, EI^A,MI^A -> II^A (Fwd-GetM, Data to requester)
 *                                                     [cache_on_fwd_getm]
 *   SI^A, MI^A, EI^A, II^A -> I (Put-Ack)              [cache_on_put_ack]
 *   Stalls: Inv in IS^D; Fwd-GetS/Fwd-GetM in IS^D (the line may become E:
 *   the directory made this cache owner before its Data arrived), IM^AD,
 *   IM^A, SM^AD, SM^A. A stalled message waits in the cache's queue and is
 *   retried after the line changes state, after the core has performed the
 *   access the transaction was for [cache_drain]. Loads and stores to a
 *   line in a transient state wait the same way [core_try].
 *
 * Directory controller (Table 8.4):
 *
 *        GetS (no sharer): excl Data          GetM: Data, owner = req
 *   I --------------------------------> E    I,S --------------------> M
 *   I <-- PutE/PutM from owner -------- E,M  (S: Inv to sharers, Data
 *   I <-- PutS-Last ------------------- S     carries the ack count)
 *   E,M --GetS: Fwd-GetS to owner--> S^D --Data from old owner--> S
 *   E,M --GetM: Fwd-GetM to owner, owner = req--> M
 *
 *   I -> E (GetS), S -> S (GetS, add sharer)          [dir_on_gets]
 *   E,M -> S^D (GetS, Fwd-GetS, sharers = {req, owner}) [dir_on_gets]
 *   I,S,E,M -> M (GetM)                               [dir_on_getm]
 *   S -> I (PutS-Last), PutS-NotLast, stale PutS      [dir_on_puts]
 *   E,M -> I (PutM/PutE from owner, memory updated by PutM),
 *   non-owner PutM/PutE (remove from sharers)         [dir_on_put_owner]
 *   S^D -> S (Data, memory updated)                   [dir_on_data]
 *   Stalls: GetS and GetM in S^D wait in the directory's queue until the
 *   Data arrives [dir_drain].
 *   Two corner cases the tables leave open, handled so the entry stays
 *   exact: a non-owner PutM/PutE in S that removes the last sharer, and a
 *   Data into S^D after both sharers sent PutS, end in I instead of S with
 *   no sharers.
 *
 * Invariants, checked by line_ok() after every protocol event for the
 * touched line and by mesi_assert_state() over every line when `verify` is
 * set (assert()ed in debug builds, always counted):
 *   SWMR: per line, at most one cache has write permission (E or M) and
 *     then no other cache has read permission (S, SM^AD, SM^A);
 *   data value: every cache with read permission holds the latest written
 *     version of the line (the directory keeps the golden version; stores
 *     increment it, loads compare against it), and memory holds it when the
 *     entry is I or S;
 *   directory: in S every reader is a sharer and nobody can write; in I
 *     nobody can read (in S^D the old owner may still hold E/M until the
 *     Fwd-GetS reaches it).
 *
 * Timing. Each cache has a blocking core: one access at a time; the next is
 * generated an exponential think time (mean `interval`) after completion,
 * plus `hit_latency` for a hit. A miss lasts from the access to the
 * arrival of the last message it waits for. When a miss needs a frame and
 * the cache holds `capacity` lines, a random stable line is evicted first;
 * it waits for its Put-Ack in a write-back buffer outside the capacity.
 *
 * Not modelled: bandwidth and queueing of the network (per-message bytes
 * are counted, see `control_bytes`/`data_header`, but not sent over a link),
 * directory occupancy, and silent S evictions (every eviction sends a Put).
 */
#include "models/coherence/mesi.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "sim/mem.h"
#include "sim/stats.h"

enum { MESI_EV_MSG = SIM_EV_USER, MESI_EV_GEN, MESI_EV_SCRIPT };

#define LINE_BYTES 64u
#define MAX_CACHES 64u
#define FROM_DIR 0xFFFFu    /* source/destination index of the directory */
#define NO_OWNER 0xFFu
#define NOT_RESIDENT UINT32_MAX

enum { PAT_NONE, PAT_PRIVATE, PAT_SHARED, PAT_PRODCONS, PAT_MIGRATORY };
static const char *const pattern_names[] = {"none", "private", "shared", "producer_consumer",
                                            "migratory", NULL};

static const char *const msg_names[MESI_NMSG] = {
    "GetS", "GetM", "PutS", "PutM", "PutE", "Fwd-GetS", "Fwd-GetM",
    "Inv", "Inv-Ack", "Put-Ack", "Data"};
static const char *const cstate_names[MESI_NCSTATE] = {
    "I", "S", "E", "M", "IS^D", "IM^AD", "IM^A", "SM^AD", "SM^A",
    "MI^A", "EI^A", "SI^A", "II^A"};
static const char *const dstate_names[MESI_NDSTATE] = {"I", "S", "E", "M", "S^D"};

/* A protocol message as it travels in an event: a0 = line | type << 40 |
 * src << 48; a1 = version | acks << 32 | exclusive << 47 | requester << 48. */
typedef struct msg {
    uint64_t a0, a1;
} msg;

static msg msg_pack(uint64_t line, unsigned type, unsigned src, uint32_t ver, unsigned acks,
                    int excl, unsigned req)
{
    msg m;
    m.a0 = line | (uint64_t)type << 40 | (uint64_t)src << 48;
    m.a1 = ver | (uint64_t)(acks & 0x7FFF) << 32 | (uint64_t)(excl != 0) << 47 |
           (uint64_t)req << 48;
    return m;
}
static uint64_t m_line(msg m) { return m.a0 & ((1ULL << 40) - 1); }
static unsigned m_type(msg m) { return (unsigned)(m.a0 >> 40 & 0xFF); }
static unsigned m_src(msg m) { return (unsigned)(m.a0 >> 48); }
static uint32_t m_ver(msg m) { return (uint32_t)m.a1; }
static unsigned m_acks(msg m) { return (unsigned)(m.a1 >> 32 & 0x7FFF); }
static int m_excl(msg m) { return (int)(m.a1 >> 47 & 1); }
static unsigned m_req(msg m) { return (unsigned)(m.a1 >> 48); }

/* A FIFO of messages (stalled ones, scripted accesses); grows
 * geometrically, so steady state allocates nothing. */
typedef struct fifo {
    msg *v;             /* ring */
    size_t cap;         /* slots */
    size_t head;        /* first used slot */
    size_t len;         /* used slots */
} fifo;

static int fifo_push(fifo *f, msg m)
{
    if (f->len == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        msg *v = sim_alloc(cap * sizeof *v);
        if (!v)
            return SIM_ENOMEM;
        for (size_t i = 0; i < f->len; i++)
            v[i] = f->v[(f->head + i) % f->cap];
        sim_free(f->v);
        f->v = v;
        f->cap = cap;
        f->head = 0;
    }
    f->v[(f->head + f->len) % f->cap] = m;
    f->len++;
    return 0;
}

static msg fifo_pop(fifo *f)
{
    msg m = f->v[f->head];
    f->head = (f->head + 1) % f->cap;
    f->len--;
    return m;
}

/* One directory entry. */
typedef struct dline {
    uint64_t sharers;   /* bit i: cache index i is a sharer */
    uint32_t mem;       /* version held by memory */
    uint32_t latest;    /* golden: version of the latest store (checker) */
    uint8_t st;         /* mesi_dstate */
    uint8_t owner;      /* cache index of the owner, NO_OWNER if none */
} dline;

/* One line as one cache sees it. */
typedef struct cline {
    uint32_t ver;       /* version of the data held (valid with read permission) */
    uint32_t pos;       /* index in resident[], NOT_RESIDENT if not resident */
    int16_t acks;       /* Inv-Acks still expected (negative: arrived before Data) */
    uint8_t st;         /* mesi_cstate */
} cline;

struct mesi_dir {
    /* configuration */
    uint64_t size;          /* bytes of the home region */
    sim_time latency;       /* one message, one hop */
    sim_time memory_latency;/* added to Data sent by the directory (memory read) */
    sim_time jitter;        /* max extra delay on request and response messages */
    uint64_t control_bytes; /* bytes of a control message */
    uint64_t data_header;   /* header bytes of a data-carrying message (+64 B) */
    int verify;             /* check every line after every event */
    /* state */
    sim_comp *comp;         /* this component */
    uint64_t nlines;        /* size / 64 */
    dline *lines;           /* one entry per line */
    mesi_cache *caches[MAX_CACHES]; /* registered caches, by index */
    unsigned ncaches;       /* registered */
    fifo stalled;           /* GetS/GetM stalled in S^D */
    int draining;           /* dir_drain is running */
    uint64_t count[MESI_NMSG]; /* messages sent, by type */
    uint64_t bytes_control; /* bytes of control messages */
    uint64_t bytes_data;    /* bytes of data-carrying messages */
    uint64_t protocol_errors; /* messages no table entry allows */
    uint64_t violations;    /* invariant violations (line_ok/mesi_assert_state) */
    uint64_t stale_loads;   /* loads that did not return the latest write */
    uint64_t loads, stores; /* accesses performed by its caches */
    uint64_t read_misses, write_misses, upgrades, evictions, c2c; /* by type */
    sim_samples miss_lat;   /* miss latency of every cache, ps */
};

struct mesi_cache {
    /* configuration */
    const char *directory;  /* name of the home directory */
    uint64_t capacity;      /* lines */
    int pattern;            /* PAT_* */
    double write_ratio;     /* probability an access is a store */
    uint64_t footprint;     /* bytes of its address range */
    uint64_t base;          /* byte offset of that range in the directory's region */
    sim_time interval;      /* mean think time between accesses */
    uint64_t accesses;      /* accesses to generate, 0 = until the run stops */
    sim_time hit_latency;   /* time of a hit */
    sim_time start_at;      /* first access */
    /* state */
    sim_comp *comp;         /* this component */
    mesi_dir *d;            /* its directory */
    unsigned idx;           /* index at the directory */
    uint64_t lo, nfoot;     /* first line and lines of the range */
    cline *lines;           /* d->nlines entries */
    uint64_t *resident;     /* resident lines (not I, not being evicted) */
    uint32_t nres;          /* entries in resident[] */
    fifo stalled;           /* forwarded messages stalled in transient states */
    fifo script;            /* accesses waiting for the core: a0 line, a1 write | migratory << 1 */
    int draining;           /* cache_drain is running */
    int busy;               /* the core has an access */
    uint64_t cur_line;      /* its line */
    int cur_write;          /* it is a store */
    int cur_migratory;      /* a load to be followed by a store to the same line */
    int cur_missed;         /* it missed (a request was sent) */
    sim_time cur_start;     /* when it began */
    uint64_t generated;     /* accesses generated */
    uint64_t cursor;        /* producer/consumer: next line of the range */
    uint64_t loads, stores, hits, read_misses, write_misses, upgrades, evictions,
        invs, c2c;          /* counters */
    sim_samples miss_lat;   /* miss latency, ps */
};

const char *mesi_msg_name(mesi_msg m) { return (unsigned)m < MESI_NMSG ? msg_names[m] : "?"; }
const char *mesi_cstate_name(int st)
{
    return st >= 0 && st < MESI_NCSTATE ? cstate_names[st] : "?";
}
const char *mesi_dstate_name(int st)
{
    return st >= 0 && st < MESI_NDSTATE ? dstate_names[st] : "?";
}

static int can_read(int st)
{
    return st == MESI_S || st == MESI_E || st == MESI_M || st == MESI_SM_AD || st == MESI_SM_A;
}
static int can_write(int st) { return st == MESI_E || st == MESI_M; }
static int is_resident(int st)
{
    return !(st == MESI_I || st == MESI_MI_A || st == MESI_EI_A || st == MESI_SI_A ||
             st == MESI_II_A);
}
static int is_forwarded(unsigned type)
{
    return type == MESI_FWD_GETS || type == MESI_FWD_GETM || type == MESI_INV ||
           type == MESI_PUT_ACK;
}

/* ---- Invariants ---------------------------------------------------------- */

static void report_violation(mesi_dir *d, uint64_t line, const char *what)
{
    if (d->violations++ == 0)
        fprintf(stderr, "mesi: %s: line %llu: %s (directory %s)\n", d->comp->name,
                (unsigned long long)line, what, mesi_dstate_name(d->lines[line].st));
}

/* SWMR and the data-value invariant for one line (see the head comment). */
static int line_ok(const mesi_dir *d, uint64_t line, const char **why)
{
    const dline *e = &d->lines[line];
    unsigned writers = 0, readers = 0;
    for (unsigned i = 0; i < d->ncaches; i++) {
        const cline *l = &d->caches[i]->lines[line];
        if (can_write(l->st))
            writers++;
        else if (can_read(l->st))
            readers++;
        if (can_read(l->st) && l->ver != e->latest) {
            *why = "data value: a readable copy is not the latest write";
            return 0;
        }
        if (e->st == MESI_DIR_S && can_read(l->st) && !(e->sharers >> i & 1)) {
            *why = "a reader is not in the directory's sharer set";
            return 0;
        }
    }
    if (writers > 1 || (writers == 1 && readers > 0)) {
        *why = "SWMR: a writer coexists with another reader or writer";
        return 0;
    }
    if (e->st == MESI_DIR_I && (writers || readers)) {
        *why = "directory I but a cache can read";
        return 0;
    }
    if (e->st == MESI_DIR_S && writers) {
        *why = "directory S but a cache can write";
        return 0;
    }
    if ((e->st == MESI_DIR_I || e->st == MESI_DIR_S) && e->mem != e->latest) {
        *why = "data value: memory is stale in I or S";
        return 0;
    }
    return 1;
}

/* The whole directory: every line (O(lines x caches)). */
static int mesi_assert_state(const mesi_dir *d)
{
    for (uint64_t x = 0; x < d->nlines; x++) {
        const char *why = NULL;
        if (!line_ok(d, x, &why)) {
            fprintf(stderr, "mesi: %s: line %llu: %s\n", d->comp->name, (unsigned long long)x,
                    why);
            return 0;
        }
    }
    return 1;
}

/* After each protocol step on `line`. */
static void checkpoint(mesi_dir *d, uint64_t line)
{
    const char *why = NULL;
    if (!line_ok(d, line, &why))
        report_violation(d, line, why);
    if (d->verify && !mesi_assert_state(d))
        d->violations++;
    assert(d->violations == 0);
}

static void protocol_error(mesi_dir *d, uint64_t line, const char *who, unsigned type, int st,
                           const char *(*name)(int))
{
    if (d->protocol_errors++ == 0)
        fprintf(stderr, "mesi: %s: line %llu: %s in state %s at %s has no table entry\n",
                d->comp->name, (unsigned long long)line, mesi_msg_name((mesi_msg)type), name(st),
                who);
}

/* ---- Messages ------------------------------------------------------------ */

/* Send a message for a line of directory d from component `from` to cache
 * index dst (or FROM_DIR); counts it. */
static void send(mesi_dir *d, sim_comp *from, unsigned dst, unsigned type, uint64_t line,
                 unsigned src, uint32_t ver, unsigned acks, int excl, unsigned req)
{
    sim_time delay = d->latency;
    if (type == MESI_DATA && src == FROM_DIR)
        delay += d->memory_latency;
    if (d->jitter && !is_forwarded(type))
        delay += (sim_time)(gsl_rng_uniform(from->rng) * (double)d->jitter);
    d->count[type]++;
    if (type == MESI_DATA || type == MESI_PUTM)
        d->bytes_data += LINE_BYTES + d->data_header;
    else
        d->bytes_control += d->control_bytes;
    uint32_t target = dst == FROM_DIR ? d->comp->id : d->caches[dst]->comp->id;
    msg m = msg_pack(line, type, src, ver, acks, excl, req);
    sim_schedule(from->sim, delay, target, MESI_EV_MSG, m.a0, m.a1);
}

/* ---- Directory controller (Table 8.4) ------------------------------------ */

enum { HANDLED = 0, STALL = 1 };

static int popcount64(uint64_t x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

static int dir_on_gets(mesi_dir *d, uint64_t x, unsigned r)
{
    dline *e = &d->lines[x];
    switch (e->st) {
    case MESI_DIR_I: /* send Exclusive Data to Req, set Owner to Req / E */
        send(d, d->comp, r, MESI_DATA, x, FROM_DIR, e->mem, 0, 1, r);
        e->owner = (uint8_t)r;
        e->st = MESI_DIR_E;
        return HANDLED;
    case MESI_DIR_S: /* send Data to Req, add Req to Sharers */
        send(d, d->comp, r, MESI_DATA, x, FROM_DIR, e->mem, 0, 0, r);
        e->sharers |= 1ULL << r;
        return HANDLED;
    case MESI_DIR_E:
    case MESI_DIR_M: /* send Fwd-GetS to Owner, add Req and Owner to Sharers, clear Owner / S^D */
        send(d, d->comp, e->owner, MESI_FWD_GETS, x, FROM_DIR, 0, 0, 0, r);
        e->sharers = 1ULL << r | 1ULL << e->owner;
        e->owner = NO_OWNER;
        e->st = MESI_DIR_S_D;
        return HANDLED;
    default: return STALL; /* S^D */
    }
}

static int dir_on_getm(mesi_dir *d, uint64_t x, unsigned r)
{
    dline *e = &d->lines[x];
    switch (e->st) {
    case MESI_DIR_I: /* send Data to Req, set Owner to Req / M */
        send(d, d->comp, r, MESI_DATA, x, FROM_DIR, e->mem, 0, 0, r);
        e->owner = (uint8_t)r;
        e->st = MESI_DIR_M;
        return HANDLED;
    case MESI_DIR_S: { /* send Data (ack count) to Req, Inv to Sharers, clear Sharers, Owner = Req / M */
        uint64_t others = e->sharers & ~(1ULL << r);
        send(d, d->comp, r, MESI_DATA, x, FROM_DIR, e->mem, (unsigned)popcount64(others), 0, r);
        for (unsigned i = 0; i < d->ncaches; i++)
            if (others >> i & 1)
                send(d, d->comp, i, MESI_INV, x, FROM_DIR, 0, 0, 0, r);
        e->sharers = 0;
        e->owner = (uint8_t)r;
        e->st = MESI_DIR_M;
        return HANDLED;
    }
    case MESI_DIR_E:
    case MESI_DIR_M: /* send Fwd-GetM to Owner, set Owner to Req / M */
        if (e->owner == r) {
            protocol_error(d, x, "directory (GetM from owner)", MESI_GETM, e->st,
                           mesi_dstate_name);
            return HANDLED;
        }
        send(d, d->comp, e->owner, MESI_FWD_GETM, x, FROM_DIR, 0, 0, 0, r);
        e->owner = (uint8_t)r;
        e->st = MESI_DIR_M;
        return HANDLED;
    default: return STALL; /* S^D */
    }
}

static int dir_on_puts(mesi_dir *d, uint64_t x, unsigned r)
{
    dline *e = &d->lines[x];
    switch (e->st) {
    case MESI_DIR_S: /* PutS-NotLast: remove Req, Put-Ack; PutS-Last: also / I */
    case MESI_DIR_S_D: /* remove Req from Sharers, Put-Ack */
        e->sharers &= ~(1ULL << r);
        if (e->st == MESI_DIR_S && !e->sharers)
            e->st = MESI_DIR_I;
        break;
    default: break; /* I, E, M: a stale PutS: Put-Ack */
    }
    send(d, d->comp, r, MESI_PUT_ACK, x, FROM_DIR, 0, 0, 0, r);
    return HANDLED;
}

/* PutM (with data) and PutE (without). */
static int dir_on_put_owner(mesi_dir *d, uint64_t x, unsigned r, unsigned type, uint32_t ver)
{
    dline *e = &d->lines[x];
    int owner = (e->st == MESI_DIR_E || e->st == MESI_DIR_M) && e->owner == r;
    if (owner) {
        if (type == MESI_PUTE && e->st == MESI_DIR_M) {
            /* Table 8.4: PutE from the owner in M cannot happen. */
            protocol_error(d, x, "directory", type, e->st, mesi_dstate_name);
            return HANDLED;
        }
        if (type == MESI_PUTM)
            e->mem = ver; /* copy data to memory */
        e->owner = NO_OWNER;
        e->st = MESI_DIR_I;
    } else if (e->st == MESI_DIR_S || e->st == MESI_DIR_S_D) {
        /* non-owner (lost ownership to a Fwd-GetS): remove Req from Sharers */
        e->sharers &= ~(1ULL << r);
        if (e->st == MESI_DIR_S && !e->sharers)
            e->st = MESI_DIR_I;
    }
    send(d, d->comp, r, MESI_PUT_ACK, x, FROM_DIR, 0, 0, 0, r);
    return HANDLED;
}

static int dir_on_data(mesi_dir *d, uint64_t x, uint32_t ver)
{
    dline *e = &d->lines[x];
    if (e->st != MESI_DIR_S_D) {
        protocol_error(d, x, "directory", MESI_DATA, e->st, mesi_dstate_name);
        return HANDLED;
    }
    e->mem = ver; /* copy data to memory / S */
    e->st = e->sharers ? MESI_DIR_S : MESI_DIR_I;
    return HANDLED;
}

static int dir_msg(mesi_dir *d, msg m)
{
    uint64_t x = m_line(m);
    unsigned r = m_src(m);
    switch (m_type(m)) {
    case MESI_GETS: return dir_on_gets(d, x, r);
    case MESI_GETM: return dir_on_getm(d, x, r);
    case MESI_PUTS: return dir_on_puts(d, x, r);
    case MESI_PUTM:
    case MESI_PUTE: return dir_on_put_owner(d, x, r, m_type(m), m_ver(m));
    case MESI_DATA: return dir_on_data(d, x, m_ver(m));
    default:
        protocol_error(d, x, "directory", m_type(m), d->lines[x].st, mesi_dstate_name);
        return HANDLED;
    }
}

/* Retry stalled requests until none makes progress (FIFO per line kept). */
static void dir_drain(mesi_dir *d)
{
    if (d->draining)
        return;
    d->draining = 1;
    int progress = 1;
    while (progress && d->stalled.len) {
        progress = 0;
        for (size_t n = d->stalled.len; n; n--) {
            msg m = fifo_pop(&d->stalled);
            if (dir_msg(d, m) == STALL)
                fifo_push(&d->stalled, m); /* cannot grow: one slot was just freed */
            else {
                progress = 1;
                checkpoint(d, m_line(m));
            }
        }
    }
    d->draining = 0;
}

static void dir_handle(sim_comp *c, const sim_event *ev)
{
    mesi_dir *d = c->state;
    if (ev->kind != MESI_EV_MSG)
        return;
    msg m = {ev->a0, ev->a1};
    if (dir_msg(d, m) == STALL) {
        if (fifo_push(&d->stalled, m))
            protocol_error(d, m_line(m), "directory (out of memory)", m_type(m),
                           d->lines[m_line(m)].st, mesi_dstate_name);
        return;
    }
    checkpoint(d, m_line(m));
    if (m_type(m) == MESI_DATA)
        dir_drain(d);
}

/* ---- Cache controller (Table 8.3) ---------------------------------------- */

static void set_state(mesi_cache *c, uint64_t x, int st)
{
    cline *l = &c->lines[x];
    int was = is_resident(l->st), now = is_resident(st);
    if (was && !now) {
        uint32_t p = l->pos;
        uint64_t last = c->resident[--c->nres];
        c->resident[p] = last;
        c->lines[last].pos = p;
        l->pos = NOT_RESIDENT;
    } else if (!was && now) {
        l->pos = c->nres;
        c->resident[c->nres++] = x;
    }
    l->st = (uint8_t)st;
}

static void core_try(mesi_cache *c);

/* Make room for a new line: evict a random stable resident line. */
static void cache_replace(mesi_cache *c)
{
    if (c->nres < c->capacity)
        return;
    uint32_t start = (uint32_t)gsl_rng_uniform_int(c->comp->rng, c->nres);
    for (uint32_t k = 0; k < c->nres; k++) {
        uint64_t v = c->resident[(start + k) % c->nres];
        cline *l = &c->lines[v];
        mesi_dir *d = c->d;
        if (l->st == MESI_S) { /* send PutS to Dir / SI^A */
            send(d, c->comp, FROM_DIR, MESI_PUTS, v, c->idx, 0, 0, 0, c->idx);
            set_state(c, v, MESI_SI_A);
        } else if (l->st == MESI_E) { /* send PutE (no data) to Dir / EI^A */
            send(d, c->comp, FROM_DIR, MESI_PUTE, v, c->idx, 0, 0, 0, c->idx);
            set_state(c, v, MESI_EI_A);
        } else if (l->st == MESI_M) { /* send PutM + data to Dir / MI^A */
            send(d, c->comp, FROM_DIR, MESI_PUTM, v, c->idx, l->ver, 0, 0, c->idx);
            set_state(c, v, MESI_MI_A);
        } else {
            continue;
        }
        c->evictions++;
        d->evictions++;
        checkpoint(d, v);
        return;
    }
}

static void schedule_next(mesi_cache *c, int hit)
{
    if (c->pattern == PAT_NONE || (c->accesses && c->generated >= c->accesses))
        return;
    sim_time gap = (sim_time)(gsl_ran_exponential(c->comp->rng, (double)c->interval) + 0.5);
    sim_schedule(c->comp->sim, gap + (hit ? c->hit_latency : 0), c->comp->id, MESI_EV_GEN, 0, 0);
}

static void core_next(mesi_cache *c)
{
    while (!c->busy && c->script.len) {
        msg m = fifo_pop(&c->script);
        c->busy = 1;
        c->cur_line = m.a0;
        c->cur_write = (int)(m.a1 & 1);
        c->cur_migratory = (int)(m.a1 >> 1 & 1);
        c->cur_missed = 0;
        c->cur_start = sim_now(c->comp->sim);
        core_try(c);
    }
}

/* The core's access: perform it if the line allows, else issue the request
 * (from I or, for a store, S), else wait for the transient state to end. */
static void core_try(mesi_cache *c)
{
    mesi_dir *d = c->d;
    sim *s = c->comp->sim;
    for (;;) {
        uint64_t x = c->cur_line;
        cline *l = &c->lines[x];
        dline *e = &d->lines[x];
        int done = 0;
        if (!c->cur_write && can_read(l->st)) { /* Load hit */
            c->loads++;
            d->loads++;
            if (l->ver != e->latest && d->stale_loads++ == 0)
                fprintf(stderr, "mesi: %s: load of line %llu returned version %u, latest %u\n",
                        c->comp->name, (unsigned long long)x, l->ver, e->latest);
            done = 1;
        } else if (c->cur_write && can_write(l->st)) { /* Store hit; E -> M silently */
            if (l->st == MESI_E)
                set_state(c, x, MESI_M);
            l->ver = ++e->latest;
            c->stores++;
            d->stores++;
            done = 1;
            checkpoint(d, x);
        }
        if (done) {
            if (c->cur_missed) {
                double lat = (double)(sim_now(s) - c->cur_start);
                sim_samples_add(&c->miss_lat, lat);
                sim_samples_add(&d->miss_lat, lat);
            } else {
                c->hits++;
            }
            if (c->cur_migratory) { /* now the store of the read-modify-write */
                c->cur_migratory = 0;
                c->cur_write = 1;
                c->cur_missed = 0;
                c->cur_start = sim_now(s);
                continue;
            }
            int hit = !c->cur_missed;
            c->busy = 0;
            schedule_next(c, hit);
            return;
        }
        if (l->st == MESI_I) {
            cache_replace(c);
            c->cur_missed = 1;
            if (c->cur_write) { /* Store: send GetM to Dir / IM^AD */
                send(d, c->comp, FROM_DIR, MESI_GETM, x, c->idx, 0, 0, 0, c->idx);
                l->acks = 0;
                set_state(c, x, MESI_IM_AD);
                c->write_misses++;
                d->write_misses++;
            } else { /* Load: send GetS to Dir / IS^D */
                send(d, c->comp, FROM_DIR, MESI_GETS, x, c->idx, 0, 0, 0, c->idx);
                set_state(c, x, MESI_IS_D);
                c->read_misses++;
                d->read_misses++;
            }
            checkpoint(d, x);
        } else if (l->st == MESI_S && c->cur_write) { /* Store: send GetM to Dir / SM^AD */
            c->cur_missed = 1;
            send(d, c->comp, FROM_DIR, MESI_GETM, x, c->idx, 0, 0, 0, c->idx);
            l->acks = 0;
            set_state(c, x, MESI_SM_AD);
            c->upgrades++;
            d->upgrades++;
            checkpoint(d, x);
        } else {
            c->cur_missed = 1; /* transient: stall until it ends */
        }
        return;
    }
}

static int cache_on_data(mesi_cache *c, uint64_t x, msg m)
{
    cline *l = &c->lines[x];
    int from_owner = m_src(m) != FROM_DIR;
    if (from_owner) {
        c->c2c++;
        c->d->c2c++;
    }
    switch (l->st) {
    case MESI_IS_D: /* Exclusive Data / E; Data from Dir or Owner / S */
        l->ver = m_ver(m);
        set_state(c, x, m_excl(m) ? MESI_E : MESI_S);
        return HANDLED;
    case MESI_IM_AD:
    case MESI_SM_AD: /* Data (acks = 0 or from owner) / M; Data (acks > 0) / IM^A, SM^A */
        l->ver = m_ver(m);
        l->acks = (int16_t)(l->acks + (int)m_acks(m));
        if (l->acks == 0)
            set_state(c, x, MESI_M);
        else
            set_state(c, x, l->st == MESI_IM_AD ? MESI_IM_A : MESI_SM_A);
        return HANDLED;
    default:
        protocol_error(c->d, x, c->comp->name, MESI_DATA, l->st, mesi_cstate_name);
        return HANDLED;
    }
}

static int cache_on_inv_ack(mesi_cache *c, uint64_t x)
{
    cline *l = &c->lines[x];
    switch (l->st) {
    case MESI_IM_AD:
    case MESI_SM_AD: /* ack-- (before the Data said how many) */
        l->acks--;
        return HANDLED;
    case MESI_IM_A:
    case MESI_SM_A: /* Inv-Ack: ack--; Last-Inv-Ack / M */
        if (--l->acks == 0)
            set_state(c, x, MESI_M);
        return HANDLED;
    default:
        protocol_error(c->d, x, c->comp->name, MESI_INV_ACK, l->st, mesi_cstate_name);
        return HANDLED;
    }
}

static int cache_on_inv(mesi_cache *c, uint64_t x, unsigned req)
{
    cline *l = &c->lines[x];
    int next;
    switch (l->st) {
    case MESI_S: next = MESI_I; break;          /* send Inv-Ack to Req / I */
    case MESI_SM_AD: next = MESI_IM_AD; break;  /* send Inv-Ack to Req / IM^AD */
    case MESI_SI_A: next = MESI_II_A; break;    /* send Inv-Ack to Req / II^A */
    case MESI_IS_D: return STALL;
    default:
        protocol_error(c->d, x, c->comp->name, MESI_INV, l->st, mesi_cstate_name);
        return HANDLED;
    }
    c->invs++;
    send(c->d, c->comp, req, MESI_INV_ACK, x, c->idx, 0, 0, 0, req);
    set_state(c, x, next);
    return HANDLED;
}

static int stalls_fwd(int st)
{
    return st == MESI_IS_D || st == MESI_IM_AD || st == MESI_IM_A || st == MESI_SM_AD ||
           st == MESI_SM_A;
}

static int cache_on_fwd_gets(mesi_cache *c, uint64_t x, unsigned req)
{
    cline *l = &c->lines[x];
    int next;
    switch (l->st) {
    case MESI_E:
    case MESI_M: next = MESI_S; break;           /* Data to Req and Dir / S */
    case MESI_EI_A:
    case MESI_MI_A: next = MESI_SI_A; break;     /* Data to Req and Dir / SI^A */
    default:
        if (stalls_fwd(l->st))
            return STALL;
        protocol_error(c->d, x, c->comp->name, MESI_FWD_GETS, l->st, mesi_cstate_name);
        return HANDLED;
    }
    send(c->d, c->comp, req, MESI_DATA, x, c->idx, l->ver, 0, 0, req);
    send(c->d, c->comp, FROM_DIR, MESI_DATA, x, c->idx, l->ver, 0, 0, req);
    set_state(c, x, next);
    return HANDLED;
}

static int cache_on_fwd_getm(mesi_cache *c, uint64_t x, unsigned req)
{
    cline *l = &c->lines[x];
    int next;
    switch (l->st) {
    case MESI_E:
    case MESI_M: next = MESI_I; break;           /* Data to Req / I */
    case MESI_EI_A:
    case MESI_MI_A: next = MESI_II_A; break;     /* Data to Req / II^A */
    default:
        if (stalls_fwd(l->st))
            return STALL;
        protocol_error(c->d, x, c->comp->name, MESI_FWD_GETM, l->st, mesi_cstate_name);
        return HANDLED;
    }
    send(c->d, c->comp, req, MESI_DATA, x, c->idx, l->ver, 0, 0, req);
    set_state(c, x, next);
    return HANDLED;
}

static int cache_on_put_ack(mesi_cache *c, uint64_t x)
{
    cline *l = &c->lines[x];
    switch (l->st) {
    case MESI_MI_A:
    case MESI_EI_A:
    case MESI_SI_A:
    case MESI_II_A: set_state(c, x, MESI_I); return HANDLED; /* Put-Ack / I */
    default:
        protocol_error(c->d, x, c->comp->name, MESI_PUT_ACK, l->st, mesi_cstate_name);
        return HANDLED;
    }
}

static int cache_msg(mesi_cache *c, msg m)
{
    uint64_t x = m_line(m);
    int rc;
    switch (m_type(m)) {
    case MESI_DATA: rc = cache_on_data(c, x, m); break;
    case MESI_INV_ACK: rc = cache_on_inv_ack(c, x); break;
    case MESI_INV: rc = cache_on_inv(c, x, m_req(m)); break;
    case MESI_FWD_GETS: rc = cache_on_fwd_gets(c, x, m_req(m)); break;
    case MESI_FWD_GETM: rc = cache_on_fwd_getm(c, x, m_req(m)); break;
    case MESI_PUT_ACK: rc = cache_on_put_ack(c, x); break;
    default:
        protocol_error(c->d, x, c->comp->name, m_type(m), c->lines[x].st, mesi_cstate_name);
        rc = HANDLED;
    }
    if (rc == HANDLED) {
        checkpoint(c->d, x);
        /* the access waiting on this line goes first (IS^D: the load is
         * performed before the stalled Inv takes the line away) */
        if (c->busy && c->cur_line == x)
            core_try(c);
    }
    return rc;
}

/* Retry stalled forwarded messages until none makes progress. */
static void cache_drain(mesi_cache *c)
{
    if (c->draining)
        return;
    c->draining = 1;
    int progress = 1;
    while (progress && c->stalled.len) {
        progress = 0;
        for (size_t n = c->stalled.len; n; n--) {
            msg m = fifo_pop(&c->stalled);
            if (cache_msg(c, m) == STALL)
                fifo_push(&c->stalled, m); /* cannot grow: one slot was just freed */
            else
                progress = 1;
        }
    }
    c->draining = 0;
}

static uint64_t next_line(mesi_cache *c)
{
    if (c->pattern == PAT_PRODCONS)
        return c->lo + c->cursor++ % c->nfoot;
    return c->lo + gsl_rng_uniform_int(c->comp->rng, c->nfoot);
}

static void cache_handle(sim_comp *comp, const sim_event *ev)
{
    mesi_cache *c = comp->state;
    if (ev->kind == MESI_EV_MSG) {
        msg m = {ev->a0, ev->a1};
        if (cache_msg(c, m) == STALL) {
            if (fifo_push(&c->stalled, m))
                protocol_error(c->d, m_line(m), "cache (out of memory)", m_type(m),
                               c->lines[m_line(m)].st, mesi_cstate_name);
            return;
        }
        cache_drain(c);
        core_next(c);
        return;
    }
    msg a = {0, 0};
    if (ev->kind == MESI_EV_GEN) {
        c->generated++;
        a.a0 = next_line(c);
        if (c->pattern == PAT_MIGRATORY)
            a.a1 = 2; /* load, then store */
        else
            a.a1 = gsl_rng_uniform(comp->rng) < c->write_ratio;
    } else if (ev->kind == MESI_EV_SCRIPT) {
        a.a0 = ev->a0;
        a.a1 = ev->a1;
    } else {
        return;
    }
    if (fifo_push(&c->script, a))
        return;
    core_next(c);
    cache_drain(c);
}

/* ---- Parameters, life cycle, results ------------------------------------- */

static const sim_param dir_params[] = {
    {"size", SIM_P_SIZE, "1 MiB", "B", "home region (64 B lines, one directory entry each)",
     offsetof(mesi_dir, size), NULL},
    {"latency", SIM_P_TIME, "50 ns", "ps", "one protocol message, one hop",
     offsetof(mesi_dir, latency), NULL},
    {"memory_latency", SIM_P_TIME, "100 ns", "ps", "memory read added to Data from the directory",
     offsetof(mesi_dir, memory_latency), NULL},
    {"jitter", SIM_P_TIME, "0 ns", "ps",
     "max uniform extra delay of request and response messages (forwarded stay ordered)",
     offsetof(mesi_dir, jitter), NULL},
    {"control_bytes", SIM_P_SIZE, "16 B", "B", "bytes of a control message (counted)",
     offsetof(mesi_dir, control_bytes), NULL},
    {"data_header", SIM_P_SIZE, "16 B", "B", "header of a Data/PutM message, plus 64 B of data",
     offsetof(mesi_dir, data_header), NULL},
    {"verify", SIM_P_BOOL, "false", "", "check SWMR and data value on every line after every event",
     offsetof(mesi_dir, verify), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static const sim_param cache_params[] = {
    {"directory", SIM_P_STRING, NULL, "", "name of the home mesi_dir",
     offsetof(mesi_cache, directory), NULL},
    {"capacity", SIM_P_UINT, "512", "lines", "lines the cache holds (64 B each)",
     offsetof(mesi_cache, capacity), NULL},
    {"pattern", SIM_P_ENUM, "private", "",
     "sharing pattern: none (scripted only), private, shared, producer_consumer, migratory",
     offsetof(mesi_cache, pattern), pattern_names},
    {"write_ratio", SIM_P_DOUBLE, "0.3", "", "probability an access is a store (not migratory)",
     offsetof(mesi_cache, write_ratio), NULL},
    {"footprint", SIM_P_SIZE, "64 KiB", "B",
     "address range it touches (private: its own range of this size)",
     offsetof(mesi_cache, footprint), NULL},
    {"base", SIM_P_SIZE, "0 B", "B", "offset of the range in the directory's region",
     offsetof(mesi_cache, base), NULL},
    {"interval", SIM_P_TIME, "20 ns", "ps", "mean think time between accesses (exponential)",
     offsetof(mesi_cache, interval), NULL},
    {"accesses", SIM_P_UINT, "0", "", "accesses to generate (0 = until the run stops)",
     offsetof(mesi_cache, accesses), NULL},
    {"hit_latency", SIM_P_TIME, "1 ns", "ps", "time of a hit",
     offsetof(mesi_cache, hit_latency), NULL},
    {"start", SIM_P_TIME, "0 s", "ps", "time of the first access",
     offsetof(mesi_cache, start_at), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

/* configure: allocate the directory entries (all I, memory version 0);
 * freed by dir_destroy. */
static int dir_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    mesi_dir *d = c->state;
    d->comp = c;
    if (d->size < LINE_BYTES || d->size % LINE_BYTES)
        return scn_error(err, node ? scn_map_get(node, "size") : NULL,
                         "mesi_dir '%s': size must be a positive multiple of 64 B", c->name);
    if (d->size / LINE_BYTES > (1ULL << 40))
        return scn_error(err, node ? scn_map_get(node, "size") : NULL,
                         "mesi_dir '%s': size exceeds 2^40 lines", c->name);
    if (d->latency == 0)
        return scn_error(err, node ? scn_map_get(node, "latency") : NULL,
                         "mesi_dir '%s': latency must be positive", c->name);
    d->nlines = d->size / LINE_BYTES;
    d->lines = sim_calloc(d->nlines, sizeof *d->lines);
    if (!d->lines)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "mesi_dir '%s': out of memory", c->name);
    for (uint64_t x = 0; x < d->nlines; x++)
        d->lines[x].owner = NO_OWNER;
    return 0;
}

static int cache_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    mesi_cache *k = c->state;
    k->comp = c;
    if (k->capacity == 0)
        return scn_error(err, node ? scn_map_get(node, "capacity") : NULL,
                         "mesi_cache '%s': capacity must be at least 1 line", c->name);
    if (k->capacity > UINT32_MAX / 2)
        return scn_error(err, scn_map_get(node, "capacity"),
                         "mesi_cache '%s': capacity too large", c->name);
    if (!(k->write_ratio >= 0.0 && k->write_ratio <= 1.0))
        return scn_error(err, node ? scn_map_get(node, "write_ratio") : NULL,
                         "mesi_cache '%s': write_ratio must be in [0, 1]", c->name);
    if (k->pattern != PAT_NONE && (k->footprint < LINE_BYTES || k->footprint % LINE_BYTES))
        return scn_error(err, node ? scn_map_get(node, "footprint") : NULL,
                         "mesi_cache '%s': footprint must be a positive multiple of 64 B",
                         c->name);
    if (k->footprint / LINE_BYTES > UINT32_MAX)
        return scn_error(err, scn_map_get(node, "footprint"),
                         "mesi_cache '%s': footprint exceeds 2^32 lines", c->name);
    if (k->base % LINE_BYTES)
        return scn_error(err, scn_map_get(node, "base"),
                         "mesi_cache '%s': base must be a multiple of 64 B", c->name);
    if (k->pattern != PAT_NONE && k->interval == 0)
        return scn_error(err, node ? scn_map_get(node, "interval") : NULL,
                         "mesi_cache '%s': interval must be positive", c->name);
    return 0;
}

/* start: register with the directory, allocate the per-line view (freed by
 * cache_destroy), schedule the first access. */
static int cache_start(sim_comp *c, sim_err *err)
{
    mesi_cache *k = c->state;
    const scn_node *dn = c->node ? scn_map_get(c->node, "directory") : NULL;
    sim_comp *dc = sim_find(c->sim, k->directory);
    if (!dc || dc->model != &mesi_dir_model)
        return scn_error(err, dn ? dn : c->node, "mesi_cache '%s': '%s' is not a mesi_dir",
                         c->name, k->directory);
    mesi_dir *d = dc->state;
    if (d->ncaches >= MAX_CACHES)
        return scn_error(err, dn ? dn : c->node,
                         "mesi_cache '%s': directory '%s' already has %u caches (the limit)",
                         c->name, dc->name, MAX_CACHES);
    k->d = d;
    k->idx = d->ncaches;
    k->nfoot = k->footprint / LINE_BYTES;
    k->lo = k->base / LINE_BYTES + (k->pattern == PAT_PRIVATE ? k->idx * k->nfoot : 0);
    if (k->pattern != PAT_NONE && (k->lo + k->nfoot > d->nlines || k->lo + k->nfoot < k->lo))
        return scn_error(err, c->node ? scn_map_get(c->node, "footprint") : NULL,
                         "mesi_cache '%s': range [%llu, %llu) B exceeds directory '%s' (%llu B)",
                         c->name, (unsigned long long)(k->lo * LINE_BYTES),
                         (unsigned long long)((k->lo + k->nfoot) * LINE_BYTES), dc->name,
                         (unsigned long long)d->size);
    k->lines = sim_calloc(d->nlines, sizeof *k->lines);
    uint64_t nres = k->capacity < d->nlines ? k->capacity : d->nlines;
    k->resident = sim_alloc((size_t)(nres + 1) * sizeof *k->resident);
    if (!k->lines || !k->resident)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "mesi_cache '%s': out of memory", c->name);
    for (uint64_t x = 0; x < d->nlines; x++)
        k->lines[x].pos = NOT_RESIDENT;
    d->caches[d->ncaches++] = k;
    if (k->pattern != PAT_NONE)
        sim_schedule(c->sim, k->start_at, c->id, MESI_EV_GEN, 0, 0);
    return 0;
}

static void dir_destroy(sim_comp *c)
{
    mesi_dir *d = c->state;
    sim_free(d->lines);
    sim_free(d->stalled.v);
    sim_samples_free(&d->miss_lat);
}

static void cache_destroy(sim_comp *c)
{
    mesi_cache *k = c->state;
    sim_free(k->lines);
    sim_free(k->resident);
    sim_free(k->stalled.v);
    sim_free(k->script.v);
    sim_samples_free(&k->miss_lat);
}

static int dir_finish(sim_comp *c, sim_err *err)
{
    mesi_dir *d = c->state;
    sim *s = c->sim;
    int rc = 0;
    for (int t = 0; t < MESI_NMSG && !rc; t++)
        rc = sim_report_coherence(s, c->name, msg_names[t], d->count[t]);
    uint64_t msgs = 0;
    for (int t = 0; t < MESI_NMSG; t++)
        msgs += d->count[t];
    struct { const char *name; double v; const char *unit; } m[] = {
        {"messages", (double)msgs, "messages"},
        {"loads", (double)d->loads, "accesses"},
        {"stores", (double)d->stores, "accesses"},
        {"read_misses", (double)d->read_misses, "misses"},
        {"write_misses", (double)d->write_misses, "misses"},
        {"upgrade_misses", (double)d->upgrades, "misses"},
        {"cache_to_cache", (double)d->c2c, "transfers"},
        {"evictions", (double)d->evictions, "lines"},
        {"invalidations_per_write",
         d->stores ? (double)d->count[MESI_INV] / (double)d->stores : 0.0, "Inv/store"},
        {"messages_per_access",
         d->loads + d->stores ? (double)msgs / (double)(d->loads + d->stores) : 0.0,
         "messages"},
        {"bytes_control", (double)d->bytes_control, "B"},
        {"bytes_data", (double)d->bytes_data, "B"},
        {"protocol_errors", (double)d->protocol_errors, ""},
        {"invariant_violations", (double)d->violations, ""},
        {"stale_loads", (double)d->stale_loads, ""},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0] && !rc; i++)
        rc = sim_report_metric(s, c->name, m[i].name, m[i].v, m[i].unit);
    if (!rc)
        rc = sim_samples_report(s, c->name, "miss_latency", &d->miss_lat, 1e-12, "s");
    if (rc)
        return sim_err_set(err, rc, NULL, 0, 0, "mesi_dir '%s': reporting failed", c->name);
    return 0;
}

static int cache_finish(sim_comp *c, sim_err *err)
{
    mesi_cache *k = c->state;
    if (!k->d)
        return 0;
    struct { const char *name; double v; const char *unit; } m[] = {
        {"loads", (double)k->loads, "accesses"},
        {"stores", (double)k->stores, "accesses"},
        {"hits", (double)k->hits, "accesses"},
        {"read_misses", (double)k->read_misses, "misses"},
        {"write_misses", (double)k->write_misses, "misses"},
        {"upgrade_misses", (double)k->upgrades, "misses"},
        {"invalidations_received", (double)k->invs, "Inv"},
        {"cache_to_cache", (double)k->c2c, "transfers"},
        {"evictions", (double)k->evictions, "lines"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0] && !rc; i++)
        rc = sim_report_metric(c->sim, c->name, m[i].name, m[i].v, m[i].unit);
    if (!rc)
        rc = sim_samples_report(c->sim, c->name, "miss_latency", &k->miss_lat, 1e-12, "s");
    if (rc)
        return sim_err_set(err, rc, NULL, 0, 0, "mesi_cache '%s': reporting failed", c->name);
    return 0;
}

const sim_model mesi_dir_model = {
    .type = "mesi_dir",
    .summary = "MESI directory (home node) of a shared region: Primer Table 8.4, message counts",
    .params = dir_params,
    .state_size = sizeof(mesi_dir),
    .configure = dir_configure,
    .handle = dir_handle,
    .finish = dir_finish,
    .destroy = dir_destroy,
};

const sim_model mesi_cache_model = {
    .type = "mesi_cache",
    .summary = "private cache under a MESI directory (Primer Table 8.3) with an access generator",
    .params = cache_params,
    .state_size = sizeof(mesi_cache),
    .configure = cache_configure,
    .start = cache_start,
    .handle = cache_handle,
    .finish = cache_finish,
    .destroy = cache_destroy,
};

/* ---- Inspection and scripting -------------------------------------------- */

static mesi_cache *as_cache(const sim_comp *c)
{
    return c && c->model == &mesi_cache_model && ((mesi_cache *)c->state)->d ? c->state : NULL;
}
static mesi_dir *as_dir(const sim_comp *c)
{
    return c && c->model == &mesi_dir_model ? c->state : NULL;
}

int mesi_cache_access(sim_comp *cache, sim_time delay, uint64_t line, int write)
{
    mesi_cache *k = as_cache(cache);
    if (!k || line >= k->d->nlines)
        return SIM_EINVAL;
    sim_schedule(cache->sim, delay, cache->id, MESI_EV_SCRIPT, line, write ? 1 : 0);
    return 0;
}

int mesi_cache_state(const sim_comp *cache, uint64_t line)
{
    mesi_cache *k = as_cache(cache);
    return k && line < k->d->nlines ? k->lines[line].st : -1;
}

uint64_t mesi_cache_stat(const sim_comp *cache, const char *name)
{
    mesi_cache *k = as_cache(cache);
    if (!k)
        return 0;
    if (!strcmp(name, "loads")) return k->loads;
    if (!strcmp(name, "stores")) return k->stores;
    if (!strcmp(name, "hits")) return k->hits;
    if (!strcmp(name, "read_misses")) return k->read_misses;
    if (!strcmp(name, "write_misses")) return k->write_misses;
    if (!strcmp(name, "upgrade_misses")) return k->upgrades;
    if (!strcmp(name, "evictions")) return k->evictions;
    if (!strcmp(name, "invalidations")) return k->invs;
    if (!strcmp(name, "cache_to_cache")) return k->c2c;
    if (!strcmp(name, "generated")) return k->generated;
    if (!strcmp(name, "resident")) return k->nres;
    if (!strcmp(name, "stalled")) return k->stalled.len;
    return 0;
}

int mesi_dir_state(const sim_comp *dir, uint64_t line)
{
    mesi_dir *d = as_dir(dir);
    return d && line < d->nlines ? d->lines[line].st : -1;
}

uint64_t mesi_dir_sharers(const sim_comp *dir, uint64_t line)
{
    mesi_dir *d = as_dir(dir);
    return d && line < d->nlines ? d->lines[line].sharers : 0;
}

int mesi_dir_owner(const sim_comp *dir, uint64_t line)
{
    mesi_dir *d = as_dir(dir);
    if (!d || line >= d->nlines || d->lines[line].owner == NO_OWNER)
        return -1;
    return d->lines[line].owner;
}

uint64_t mesi_dir_count(const sim_comp *dir, mesi_msg m)
{
    mesi_dir *d = as_dir(dir);
    return d && (unsigned)m < MESI_NMSG ? d->count[m] : 0;
}

uint64_t mesi_dir_errors(const sim_comp *dir)
{
    mesi_dir *d = as_dir(dir);
    return d ? d->protocol_errors + d->violations + d->stale_loads : 0;
}

int mesi_dir_check(const sim_comp *dir)
{
    mesi_dir *d = as_dir(dir);
    return d && mesi_assert_state(d);
}

int mesi_dir_quiescent(const sim_comp *dir)
{
    mesi_dir *d = as_dir(dir);
    if (!d || d->stalled.len)
        return 0;
    for (uint64_t x = 0; x < d->nlines; x++)
        if (d->lines[x].st == MESI_DIR_S_D)
            return 0;
    for (unsigned i = 0; i < d->ncaches; i++) {
        const mesi_cache *k = d->caches[i];
        if (k->busy || k->stalled.len || k->script.len)
            return 0;
        for (uint64_t x = 0; x < d->nlines; x++)
            if (k->lines[x].st > MESI_M)
                return 0;
    }
    return 1;
}
