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
 * Network: `network: ideal` (a latency per message, as above) or `fabric`
 * (every message a packet on the links of its route, queued with the
 * links' other traffic; see send_b). Not modelled: silent S evictions
 * (every eviction sends a Put).
 *
 * Device-managed coherence across hosts (type hdm_dir; CXL Specification
 * 3.0, August 2022: section 3.3.3, Back-Invalidation Snoop, the device's
 * inclusive snoop filter tracking host caching with the S2M BISnp and M2S
 * BIRsp channels; the CXL.mem message classes of section 3.3: M2S Req
 * MemRd / MemInv with MetaValue S or A, M2S RwD MemWr, S2M NDR Cmp / Cmp-S
 * / Cmp-E, S2M DRS MemData; section 3.5.1, flows for back-invalidation
 * snoops). A shared CXL memory holds an hdm_dir (the device's directory,
 * one entry per line tracking *hosts*); each host has its own mesi_dir
 * with `home:` naming it (the host's directory over its CPU and CXL.cache
 * devices, the Primer's protocol above). Hierarchical: a host directory
 * may grant its caches only what the device granted the host (hperm), asks
 * the device for more and stalls the request meanwhile, and answers the
 * device's snoops by invalidating or downgrading its caches first. The
 * flows and their functions are described where they are defined
 * ("Device-managed coherence" below). Messages between a host and the
 * device are the hdm_dir's: it counts them, by type, and carries them on
 * the links between the host's node and its own (the memory). One golden
 * version per line (the hdm_dir's) serves the data-value check of every
 * host; dev_line_ok checks SWMR over the caches of all hosts and that the
 * hosts' permissions agree with the device's tracking. Simplifications: a
 * host keeps its permission until snooped (no clean-eviction message to
 * the device); the BIConflict/BIConflictAck handshake (section 3.5.1.3) is
 * replaced by in-order delivery of the device's messages to a host (a
 * snoop that finds the host's own grant half-arrived waits for it).
 */
#include "models/coherence/mesi.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "models/fabric/cxl.h"
#include "models/fabric/engine.h"
#include "models/fabric/fabric.h"
#include "sim/mem.h"
#include "sim/stats.h"

enum { MESI_EV_MSG = SIM_EV_USER + 48, MESI_EV_GEN, MESI_EV_SCRIPT, MESI_EV_HOP, MESI_EV_FWD,
       MESI_EV_SERVED, MESI_EV_RETRY, MESI_EV_ROUND };

/* Message types beyond the Primer's eleven (mesi_msg): a directory's
 * negative acknowledgement when its queue is full, and the messages of the
 * software-synchronisation baselines (`sync:` other than hardware). */
enum { MESI_NACK = MESI_NMSG, SW_NOTIFY, SW_ACK, SW_ROUND, SW_UPDATE, SW_INV, SW_FETCH, SW_DATA,
       /* device-managed coherence (hdm_dir, CXL 3.0 HDM-DB): M2S requests, M2S RwD, S2M DRS,
        * S2M NDR, S2M BISnp, M2S BIRsp */
       HDM_MEMRD_S, HDM_MEMRD_A, HDM_MEMINV_A, HDM_MEMWR, HDM_MEMDATA, HDM_CMP, HDM_CMP_S,
       HDM_CMP_E, HDM_BISNP_DATA, HDM_BISNP_INV, HDM_BIRSP_S, HDM_BIRSP_I, NTYPES };
#define HDM_FIRST HDM_MEMRD_S
enum { ROLE_FLAT, ROLE_HOST, ROLE_DEVICE }; /* mesi_dir alone, under an hdm_dir, the hdm_dir */
enum { SYNC_HW, SYNC_NOTIFY, SYNC_ALL, SYNC_SERVER };
static const char *const sync_names[] = {"hardware", "notify", "all_to_all", "server", NULL};
enum { NET_IDEAL, NET_FABRIC };
static const char *const net_names[] = {"ideal", "fabric", NULL};
#define NEP (MAX_CACHES + 1) /* network endpoints: caches (an hdm_dir: hosts), the directory */
#define MAX_HOPS 12

#define LINE_BYTES 64u
#define MAX_CACHES 64u
#define FROM_DIR 0xFFFFu    /* source/destination index of the directory */
#define NO_OWNER 0xFFu
#define NOT_RESIDENT UINT32_MAX

enum { PAT_NONE, PAT_PRIVATE, PAT_SHARED, PAT_PRODCONS, PAT_MIGRATORY };
static const char *const pattern_names[] = {"none", "private", "shared", "producer_consumer",
                                            "migratory", NULL};

static const char *const msg_names[NTYPES] = {
    "GetS", "GetM", "PutS", "PutM", "PutE", "Fwd-GetS", "Fwd-GetM",
    "Inv", "Inv-Ack", "Put-Ack", "Data", "Nack", "SW-Notify", "SW-Ack", "SW-Round",
    "SW-Update", "SW-Inv", "SW-Fetch", "SW-Data", "MemRd,S", "MemRd,A", "MemInv,A", "MemWr",
    "MemData", "Cmp", "Cmp-S", "Cmp-E", "BISnpData", "BISnpInv", "BIRspS", "BIRspI"};
static const char *const cstate_names[MESI_NCSTATE] = {
    "I", "S", "E", "M", "IS^D", "IM^AD", "IM^A", "SM^AD", "SM^A",
    "MI^A", "EI^A", "SI^A", "II^A"};
static const char *const dstate_names[MESI_NDSTATE] = {"I", "S", "E", "M", "S^D", "B"};

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
    uint16_t pend;      /* B: acks/data still expected; software server: SW-Acks */
    uint16_t hflags;    /* host directory: HF_* */
    uint8_t st;         /* mesi_dstate */
    uint8_t owner;      /* cache index of the owner (software server: the writer), NO_OWNER */
    uint8_t hperm;      /* host directory: what its hdm_dir granted the host (HP_*) */
} dline;

/* A host's permission on a line of the shared memory (host directory):
 * none, shared, exclusive (possibly modified in the host). */
enum { HP_I, HP_S, HP_E };
/* Host directory flags: a request to the device is outstanding; its Data
 * (MemData) arrived; its completion (Cmp-S/E) arrived; the host copy is
 * newer than the device's; a back-invalidation is in progress (INV: to I,
 * DATA: to S); its write-back waits for the device's Cmp. */
enum { HF_WAIT = 1, HF_DATA = 2, HF_CMP = 4, HF_DIRTY = 8, HF_BI_INV = 16, HF_BI_DATA = 32,
       HF_WB = 64, HF_WANT_DATA = 128, HF_GRANT_E = 256 };

/* A message in flight on the fabric (network: fabric). */
typedef struct flight {
    msg m;              /* the message */
    uint32_t to;        /* component it is for */
    uint16_t route;     /* index of its route in mesi_dir.routes */
    uint8_t hop;        /* next link of the route to cross */
    uint64_t bytes;     /* its size */
    uint32_t next;      /* free list */
} flight;

/* A route between two network endpoints (a cache's node, the home node). */
typedef struct route {
    int8_t known;       /* 0: not looked up; 1: found; -1: none */
    uint8_t n;          /* links */
    uint32_t link[MAX_HOPS]; /* link ids */
    uint8_t side[MAX_HOPS];  /* end the message leaves each link from */
    uint32_t node[MAX_HOPS]; /* node entered after each link */
} route;

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
    int network;            /* NET_IDEAL: a latency per message; NET_FABRIC: the links */
    const char *node;       /* fabric: the home node (host CPU, CXL device) */
    sim_time occupancy;     /* service time per message handled (0: none) */
    uint64_t queue;         /* requests that may wait for service (0: unbounded) */
    sim_time retry;         /* a Nacked request is sent again after this */
    uint64_t snoop_filter;  /* entries tracking cached lines (0: one per line) */
    int sync;               /* SYNC_*: hardware coherence or a software baseline */
    sim_time sync_period;   /* all_to_all: time between synchronisation rounds */
    const char *home;       /* host directory: the hdm_dir of the shared memory ("": none) */
    /* state */
    int role;               /* ROLE_*: flat, a host directory under an hdm_dir, the hdm_dir */
    struct mesi_dir *up;    /* host directory: its hdm_dir */
    unsigned hidx;          /* host directory: its index at the hdm_dir */
    struct mesi_dir *hosts[MAX_CACHES]; /* hdm_dir: host directories, by index */
    unsigned nhosts;        /* hdm_dir: registered */
    sim_time *dev_t0;       /* host directory: when the line's request to the device left */
    sim_samples dev_lat;    /* host directory: device request to completion, ps */
    uint64_t sf_line;       /* the snoop filter's victim line (while sf_busy) */
    uint64_t bi_conflict;   /* hdm_dir: BISnps sent for conflicting requests */
    uint64_t writebacks;    /* host directory: dirty lines written back (MemWr) */
    uint32_t host_id;       /* fabric, flat: the host its caches are behind */
    int host_set;           /* host_id is known */
    sim_comp *comp;         /* this component */
    uint32_t node_id;       /* fabric: component id of the home node */
    route *routes;          /* fabric: NEP x NEP, looked up lazily */
    flight *fl;             /* fabric: messages in flight */
    uint32_t nfl, capfl, flfree; /* used slots, capacity, free list head */
    fifo inq;               /* occupancy: messages waiting for service */
    int serving;            /* occupancy: a message is in service */
    uint64_t tracked;       /* entries not in I (held by the snoop filter) */
    uint64_t sf_cursor;     /* next line to consider as a snoop-filter victim */
    int sf_busy;            /* a snoop-filter eviction is in progress */
    uint64_t sf_evictions;  /* entries evicted by the snoop filter */
    uint64_t back_invs;     /* back-invalidations (Inv or recall) they sent */
    uint64_t nacks;         /* requests refused (queue full) */
    uint64_t max_inq;       /* longest input queue */
    uint64_t rounds;        /* all_to_all: rounds run */
    uint64_t msgs_total;    /* messages of every type */
    sim_samples acc_lat;    /* every access (hits too), ps */
    uint64_t nlines;        /* size / 64 */
    dline *lines;           /* one entry per line */
    mesi_cache *caches[MAX_CACHES]; /* registered caches, by index */
    unsigned ncaches;       /* registered */
    fifo stalled;           /* GetS/GetM stalled in S^D */
    int draining;           /* dir_drain is running */
    uint64_t count[NTYPES]; /* messages sent, by type */
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
    const char *node;       /* fabric: the node it sits on (GPU, NIC, CPU, accelerator) */
    const char *nodes;      /* fabric, replicas: nodes taken in turn ("" : none) */
    char node_buf[128];     /* the one picked from `nodes` */
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
    uint32_t node_id;       /* fabric: its node */
    uint32_t pend;          /* software notify: SW-Acks still expected */
    uint64_t dirty;         /* software all_to_all: lines stored since the last round */
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

/* The entry holding the golden version of a line: the directory's own, or
 * for a host directory its hdm_dir's (one version across all hosts). */
static dline *gold(mesi_dir *d, uint64_t x) { return d->up ? &d->up->lines[x] : &d->lines[x]; }
static uint32_t latest_of(const mesi_dir *d, uint64_t x)
{
    return d->up ? d->up->lines[x].latest : d->lines[x].latest;
}

static int dev_line_ok(const mesi_dir *d, uint64_t line, const char **why);

/* SWMR and the data-value invariant for one line (see the head comment). */
static int line_ok(const mesi_dir *d, uint64_t line, const char **why)
{
    if (d->role == ROLE_DEVICE)
        return dev_line_ok(d, line, why);
    const dline *e = &d->lines[line];
    uint32_t latest = latest_of(d, line);
    unsigned writers = 0, readers = 0;
    for (unsigned i = 0; i < d->ncaches; i++) {
        const cline *l = &d->caches[i]->lines[line];
        if (can_write(l->st))
            writers++;
        else if (can_read(l->st))
            readers++;
        if (can_read(l->st) && l->ver != latest) {
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
    if (d->role == ROLE_HOST) {
        if (e->hperm == HP_I && (writers || readers)) {
            *why = "the host holds no permission from the device but a cache can read";
            return 0;
        }
        if (e->hperm == HP_S && writers) {
            *why = "the host holds S from the device but a cache can write";
            return 0;
        }
        if ((e->st == MESI_DIR_I || e->st == MESI_DIR_S) && e->hperm != HP_I &&
            e->mem != latest) {
            *why = "data value: the host's copy is stale in I or S";
            return 0;
        }
        return dev_line_ok(d->up, line, why);
    }
    if ((e->st == MESI_DIR_I || e->st == MESI_DIR_S) && e->mem != latest) {
        *why = "data value: memory is stale in I or S";
        return 0;
    }
    return 1;
}

/* hdm_dir: one line across all hosts: at most one host holds E and then no
 * other host holds S; the device tracks every host holding the line (a
 * host's permission is granted after the device records it and given up
 * before the device forgets it); SWMR and the data value over the caches
 * of every host; memory is the latest version when the device entry is I
 * or S. */
static int dev_line_ok(const mesi_dir *d, uint64_t line, const char **why)
{
    const dline *e = &d->lines[line];
    unsigned writers = 0, readers = 0, hw = 0, hs = 0;
    for (unsigned h = 0; h < d->nhosts; h++) {
        const mesi_dir *hd = d->hosts[h];
        const dline *he = &hd->lines[line];
        if (he->hperm == HP_E)
            hw++;
        else if (he->hperm == HP_S)
            hs++;
        if (he->hperm != HP_I && e->owner != h && !(e->sharers >> h & 1)) {
            *why = "a host holds a line its device does not track";
            return 0;
        }
        if (he->hperm == HP_E && e->owner != h) {
            *why = "a host holds E but the device records another owner";
            return 0;
        }
        for (unsigned i = 0; i < hd->ncaches; i++) {
            const cline *l = &hd->caches[i]->lines[line];
            if (can_write(l->st))
                writers++;
            else if (can_read(l->st))
                readers++;
            if (can_read(l->st) && l->ver != e->latest) {
                *why = "data value: a readable copy on some host is not the latest write";
                return 0;
            }
        }
    }
    if (writers > 1 || (writers == 1 && readers > 0)) {
        *why = "SWMR across hosts: a writer coexists with another reader or writer";
        return 0;
    }
    if (hw > 1 || (hw == 1 && hs > 0)) {
        *why = "a host holds E while another host holds the line";
        return 0;
    }
    if ((e->st == MESI_DIR_I || e->st == MESI_DIR_S) && e->mem != e->latest) {
        *why = "data value: device memory is stale in I or S";
        return 0;
    }
    if (e->st == MESI_DIR_I && (hw || hs)) {
        *why = "device entry I but a host holds the line";
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
    if (d->sync != SYNC_HW)
        return; /* software baselines keep no coherence invariant between syncs */
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
                d->comp->name, (unsigned long long)line, type < NTYPES ? msg_names[type] : "?",
                name(st), who);
}

/* ---- Messages ------------------------------------------------------------ */

/* Set a directory entry's state, keeping the snoop filter's count. */
static void dset(mesi_dir *d, dline *e, int st)
{
    if (e->st == MESI_DIR_I && st != MESI_DIR_I)
        d->tracked++;
    else if (e->st != MESI_DIR_I && st == MESI_DIR_I)
        d->tracked--;
    e->st = (uint8_t)st;
}

static int is_data(unsigned type)
{
    return type == MESI_DATA || type == MESI_PUTM || type == SW_NOTIFY || type == SW_UPDATE ||
           type == SW_DATA || type == HDM_MEMWR || type == HDM_MEMDATA;
}

/* The route between endpoints a and b (cache index or FROM_DIR), looked up
 * once; NULL when the fabric has none. */
/* Endpoint i of directory d: a cache (of an hdm_dir: a host directory)
 * or the directory itself (FROM_DIR). Messages between a host directory
 * and its hdm_dir are the hdm_dir's: counted and carried by it. */
static unsigned ep_slot(unsigned i) { return i == FROM_DIR ? MAX_CACHES : i; }
static uint32_t ep_node(const mesi_dir *d, unsigned i)
{
    if (i == FROM_DIR)
        return d->node_id;
    return d->role == ROLE_DEVICE ? d->hosts[i]->node_id : d->caches[i]->node_id;
}
static uint32_t ep_comp(const mesi_dir *d, unsigned i)
{
    if (i == FROM_DIR)
        return d->comp->id;
    return d->role == ROLE_DEVICE ? d->hosts[i]->comp->id : d->caches[i]->comp->id;
}

static route *route_of(mesi_dir *d, unsigned a, unsigned b)
{
    route *r = &d->routes[ep_slot(a) * NEP + ep_slot(b)];
    if (r->known)
        return r->known > 0 ? r : NULL;
    sim *s = d->comp->sim;
    uint32_t na = ep_node(d, a), nb = ep_node(d, b);
    uint32_t links[MAX_HOPS], n = 0;
    r->known = -1;
    if (na != nb && fabric_route(s, na, nb, links, MAX_HOPS, &n))
        return NULL;
    uint32_t cur = na;
    for (uint32_t i = 0; i < n; i++) {
        sim_comp *l = sim_comp_at(s, links[i]);
        r->link[i] = links[i];
        r->side[i] = l->ends[0] == cur ? 0 : 1;
        cur = l->ends[1 - r->side[i]];
        r->node[i] = cur;
    }
    r->n = (uint8_t)n;
    r->known = 1;
    return r;
}

/* Put flight f on its next link (or deliver it when none is left). */
static void hop_out(mesi_dir *d, uint32_t f)
{
    flight *F = &d->fl[f];
    route *r = &d->routes[F->route];
    sim *s = d->comp->sim;
    if (F->hop >= r->n) { /* arrived: hand the message to its component */
        sim_schedule(s, 0, F->to, MESI_EV_MSG, F->m.a0, F->m.a1);
        F->next = d->flfree;
        d->flfree = f;
        return;
    }
    fab_link_send_to(sim_comp_at(s, r->link[F->hop]), r->side[F->hop], F->bytes, f,
                     d->comp->id, MESI_EV_HOP);
}

/* A flight crossed a link: deliver it, or forward it after the latency of
 * the (switch, root complex) node it entered. */
static void hop_in(mesi_dir *d, uint32_t f)
{
    flight *F = &d->fl[f];
    route *r = &d->routes[F->route];
    uint32_t node = r->node[F->hop];
    F->hop++;
    sim_time lat = 0;
    if (F->hop < r->n) {
        const fab_node_kind *k = fab_kind_of(d->comp->sim, node);
        fab_hdr *h = fab_hdr_of(sim_comp_at(d->comp->sim, node));
        if (k && k->entry_latency && h)
            lat = h->latency;
    }
    if (lat)
        sim_schedule(d->comp->sim, lat, d->comp->id, MESI_EV_FWD, 0, f);
    else
        hop_out(d, f);
}

/* Send a message of `bytes` for a line of directory d from component
 * `from` to cache index dst (or FROM_DIR); counts it. Ideal network: it
 * arrives `latency` later (+ memory_latency for Data from the directory,
 * + jitter off the forwarded network). Fabric: it crosses the links of the
 * route between the two nodes as one packet each (queued with the links'
 * other traffic), after memory_latency for Data from the directory;
 * endpoints on the same node exchange messages in `latency`. */
static void send_b(mesi_dir *d, sim_comp *from, unsigned dst, unsigned type, uint64_t line,
                   unsigned src, uint32_t ver, unsigned acks, int excl, unsigned req,
                   uint64_t bytes)
{
    sim_time delay = d->latency;
    sim_time mem = (type == MESI_DATA || type == HDM_MEMDATA) && src == FROM_DIR
                       ? d->memory_latency : 0;
    d->count[type]++;
    d->msgs_total++;
    if (is_data(type) || (type == SW_ROUND && bytes > d->control_bytes))
        d->bytes_data += bytes;
    else
        d->bytes_control += bytes;
    uint32_t target = ep_comp(d, dst);
    msg m = msg_pack(line, type, src, ver, acks, excl, req);
    if (d->network == NET_FABRIC) {
        route *r = route_of(d, src, dst);
        if (r && r->n) {
            if (!d->flfree && d->nfl == d->capfl) {
                uint32_t cap = d->capfl ? 2 * d->capfl : 64;
                flight *v = sim_realloc(d->fl, cap * sizeof *v);
                if (!v) {
                    protocol_error(d, line, "network (out of memory)", type, 0,
                                   mesi_dstate_name);
                    return;
                }
                d->fl = v;
                d->capfl = cap;
            }
            uint32_t f;
            if (d->flfree) {
                f = d->flfree;
                d->flfree = d->fl[f].next;
            } else {
                f = d->nfl++;
                if (f == 0) /* slot 0 is never used: 0 ends the free list */
                    f = d->nfl++;
            }
            flight *F = &d->fl[f];
            F->m = m;
            F->to = target;
            F->route = (uint16_t)(r - d->routes);
            F->hop = 0;
            F->bytes = bytes;
            F->next = 0;
            if (mem)
                sim_schedule(from->sim, mem, d->comp->id, MESI_EV_FWD, 0, f);
            else
                hop_out(d, f);
            return;
        }
        delay += mem; /* same node */
    } else {
        delay += mem;
        if (d->jitter && !is_forwarded(type) && type < MESI_NMSG)
            delay += (sim_time)(gsl_rng_uniform(from->rng) * (double)d->jitter);
    }
    sim_schedule(from->sim, delay, target, MESI_EV_MSG, m.a0, m.a1);
}

static void send(mesi_dir *d, sim_comp *from, unsigned dst, unsigned type, uint64_t line,
                 unsigned src, uint32_t ver, unsigned acks, int excl, unsigned req)
{
    send_b(d, from, dst, type, line, src, ver, acks, excl, req,
           is_data(type) ? LINE_BYTES + d->data_header : d->control_bytes);
}

/* ---- Directory controller (Table 8.4) ------------------------------------ */

static int sw_dir_msg(mesi_dir *d, msg m);
static void sw_round(mesi_dir *d);

enum { HANDLED = 0, STALL = 1 };

/* Retry the messages stalled in q with `retry` until none makes progress
 * (the FIFO order kept); *draining keeps a retry from starting a drain of
 * its own [dir_drain, cache_drain]. */
static void fifo_drain(fifo *q, int *draining, int (*retry)(void *owner, msg m), void *owner)
{
    if (*draining)
        return;
    *draining = 1;
    int progress = 1;
    while (progress && q->len) {
        progress = 0;
        for (size_t n = q->len; n; n--) {
            msg m = fifo_pop(q);
            if (retry(owner, m) == STALL)
                fifo_push(q, m); /* cannot grow: one slot was just freed */
            else
                progress = 1;
        }
    }
    *draining = 0;
}

static int popcount64(uint64_t x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

/* Snoop filter: the directory tracks at most `snoop_filter` lines (entries
 * not in I). A request that needs a new entry while all are taken waits
 * (STALL) while one entry is evicted: a stable entry, from a rotating
 * cursor, goes to B and is back-invalidated: Inv to each sharer (S) or a
 * recall (Fwd-GetM with the directory as requester) to the owner (E, M);
 * the Inv-Acks, or the owner's Data (written to memory), return it to I
 * [sf_evict, dir_on_back]. One eviction at a time. */
static int sf_full(const mesi_dir *d) { return d->snoop_filter && d->tracked >= d->snoop_filter; }

/* The snoop filter's next victim: the first line from the rotating cursor
 * in S or E (or M, with `m`), which the eviction now under way takes; NULL
 * while an eviction is under way or when no line qualifies. */
static dline *sf_victim(mesi_dir *d, int m, uint64_t *line)
{
    if (d->sf_busy)
        return NULL;
    for (uint64_t k = 0; k < d->nlines; k++) {
        uint64_t v = (d->sf_cursor + k) % d->nlines;
        dline *e = &d->lines[v];
        if (e->st != MESI_DIR_S && e->st != MESI_DIR_E && !(m && e->st == MESI_DIR_M))
            continue;
        d->sf_cursor = (v + 1) % d->nlines;
        d->sf_busy = 1;
        d->sf_evictions++;
        *line = v;
        return e;
    }
    return NULL;
}

/* A line in I about to be tracked needs a free snoop-filter entry: when
 * the filter is full, start an eviction (`evict`); 0 while it stays full
 * (the request stalls). */
static int sf_room(mesi_dir *d, const dline *e, void (*evict)(mesi_dir *d))
{
    if (e->st != MESI_DIR_I || !sf_full(d))
        return 1;
    evict(d);
    return !sf_full(d);
}

static void sf_evict(mesi_dir *d)
{
    uint64_t v;
    dline *e = sf_victim(d, 1, &v);
    if (!e)
        return;
    if (e->st == MESI_DIR_S) {
        e->pend = 0;
        for (unsigned i = 0; i < d->ncaches; i++)
            if (e->sharers >> i & 1) {
                send(d, d->comp, i, MESI_INV, v, FROM_DIR, 0, 0, 0, FROM_DIR);
                e->pend++;
                d->back_invs++;
            }
    } else {
        send(d, d->comp, e->owner, MESI_FWD_GETM, v, FROM_DIR, 0, 0, 0, FROM_DIR);
        e->pend = 1;
        d->back_invs++;
    }
    dset(d, e, MESI_DIR_B);
    if (!e->pend) { /* no sharer left to ask */
        e->sharers = 0;
        dset(d, e, MESI_DIR_I);
        d->sf_busy = 0;
    }
}

/* B: an Inv-Ack or the recalled owner's Data; the last one frees the entry. */
/* Memory (a host directory: the host's copy) takes version ver; a host's
 * copy newer than the device's is dirty. */
static void mem_set(mesi_dir *d, dline *e, uint32_t ver)
{
    if (d->role == ROLE_HOST && ver != e->mem)
        e->hflags |= HF_DIRTY;
    e->mem = ver;
}

static void host_bi_done(mesi_dir *d, uint64_t x);

/* B: an Inv-Ack or the recalled owner's Data; the last one frees the entry
 * (a host directory's downgrade for a BISnpData leaves the old owner a
 * sharer), and ends the snoop-filter eviction or the back-invalidation. */
static int dir_on_back(mesi_dir *d, uint64_t x, unsigned type, uint32_t ver)
{
    dline *e = &d->lines[x];
    if (e->st != MESI_DIR_B || !e->pend) {
        protocol_error(d, x, "directory", type, e->st, mesi_dstate_name);
        return HANDLED;
    }
    if (type == MESI_DATA)
        mem_set(d, e, ver); /* the owner's data to memory */
    if (--e->pend == 0) {
        if (e->hflags & HF_BI_DATA && e->owner != NO_OWNER) {
            e->sharers = 1ULL << e->owner;
            e->owner = NO_OWNER;
            dset(d, e, MESI_DIR_S);
        } else {
            e->sharers = 0;
            e->owner = NO_OWNER;
            dset(d, e, MESI_DIR_I);
        }
        if (e->hflags & (HF_BI_INV | HF_BI_DATA))
            host_bi_done(d, x);
        else
            d->sf_busy = 0;
    }
    return HANDLED;
}

static void host_request(mesi_dir *d, uint64_t x, unsigned type);

static int dir_on_gets(mesi_dir *d, uint64_t x, unsigned r)
{
    dline *e = &d->lines[x];
    if (d->role == ROLE_HOST) { /* the host needs S from the device first */
        if (e->hflags & (HF_WAIT | HF_WB))
            return STALL;
        if (e->hperm == HP_I) {
            host_request(d, x, HDM_MEMRD_S);
            return STALL;
        }
    }
    if (!sf_room(d, e, sf_evict))
        return STALL;
    switch (e->st) {
    case MESI_DIR_I: /* send Exclusive Data to Req, set Owner to Req / E */
        if (d->role == ROLE_HOST && e->hperm != HP_E) {
            /* the host holds S: it can grant S only (Data, sharers = {Req}) / S */
            send(d, d->comp, r, MESI_DATA, x, FROM_DIR, e->mem, 0, 0, r);
            e->sharers = 1ULL << r;
            dset(d, e, MESI_DIR_S);
            return HANDLED;
        }
        send(d, d->comp, r, MESI_DATA, x, FROM_DIR, e->mem, 0, 1, r);
        e->owner = (uint8_t)r;
        dset(d, e, MESI_DIR_E);
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
        dset(d, e, MESI_DIR_S_D);
        return HANDLED;
    default: return STALL; /* S^D, B */
    }
}

static int dir_on_getm(mesi_dir *d, uint64_t x, unsigned r)
{
    dline *e = &d->lines[x];
    if (d->role == ROLE_HOST) { /* the host needs E from the device first */
        if (e->hflags & (HF_WAIT | HF_WB))
            return STALL;
        if (e->hperm != HP_E) {
            if (e->st == MESI_DIR_S_D || e->st == MESI_DIR_B)
                return STALL;
            host_request(d, x, e->hperm == HP_S ? HDM_MEMINV_A : HDM_MEMRD_A);
            return STALL;
        }
    }
    if (!sf_room(d, e, sf_evict))
        return STALL;
    switch (e->st) {
    case MESI_DIR_I: /* send Data to Req, set Owner to Req / M */
        send(d, d->comp, r, MESI_DATA, x, FROM_DIR, e->mem, 0, 0, r);
        e->owner = (uint8_t)r;
        dset(d, e, MESI_DIR_M);
        return HANDLED;
    case MESI_DIR_S: { /* send Data (ack count) to Req, Inv to Sharers, clear Sharers, Owner = Req / M */
        uint64_t others = e->sharers & ~(1ULL << r);
        send(d, d->comp, r, MESI_DATA, x, FROM_DIR, e->mem, (unsigned)popcount64(others), 0, r);
        for (unsigned i = 0; i < d->ncaches; i++)
            if (others >> i & 1)
                send(d, d->comp, i, MESI_INV, x, FROM_DIR, 0, 0, 0, r);
        e->sharers = 0;
        e->owner = (uint8_t)r;
        dset(d, e, MESI_DIR_M);
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
        dset(d, e, MESI_DIR_M);
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
            dset(d, e, MESI_DIR_I);
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
            mem_set(d, e, ver); /* copy data to memory */
        e->owner = NO_OWNER;
        dset(d, e, MESI_DIR_I);
    } else if (e->st == MESI_DIR_B && e->hflags & HF_BI_DATA && e->owner == r) {
        /* a host directory downgrading its owner for a BISnpData: the owner
         * was evicting (its Fwd-GetS finds it in EI^A/MI^A and its Data
         * still comes): it will not be the sharer the downgrade leaves */
        if (type == MESI_PUTM)
            mem_set(d, e, ver);
        e->owner = NO_OWNER;
    } else if (e->st == MESI_DIR_S || e->st == MESI_DIR_S_D) {
        /* non-owner (lost ownership to a Fwd-GetS): remove Req from Sharers */
        e->sharers &= ~(1ULL << r);
        if (e->st == MESI_DIR_S && !e->sharers)
            dset(d, e, MESI_DIR_I);
    }
    send(d, d->comp, r, MESI_PUT_ACK, x, FROM_DIR, 0, 0, 0, r);
    return HANDLED;
}

static int dir_on_data(mesi_dir *d, uint64_t x, uint32_t ver)
{
    dline *e = &d->lines[x];
    if (e->st == MESI_DIR_B)
        return dir_on_back(d, x, MESI_DATA, ver);
    if (e->st != MESI_DIR_S_D) {
        protocol_error(d, x, "directory", MESI_DATA, e->st, mesi_dstate_name);
        return HANDLED;
    }
    mem_set(d, e, ver); /* copy data to memory / S */
    dset(d, e, e->sharers ? MESI_DIR_S : MESI_DIR_I);
    return HANDLED;
}

static int dev_msg(mesi_dir *d, msg m);
static int host_dev_msg(mesi_dir *d, msg m);

/* ---- Device-managed coherence (hdm_dir, CXL 3.0 HDM-DB) ------------------
 *
 * Host side (a mesi_dir with `home:`). Its caches see the Primer's MESI;
 * towards the device the host is one requester holding a permission per
 * line (hperm: I, S or E) that bounds what it may grant: a GetS needs S
 * (MemRd,S), a GetM E (MemRd,A from I, MemInv,A from S), and with S only
 * a GetS from I is granted S, not E. The request waits (STALL) until the
 * device completes it: Cmp-S / Cmp-E (S2M NDR), with MemData (S2M DRS)
 * unless it was a data-less upgrade; both may arrive in either order. */
static void host_request(mesi_dir *d, uint64_t x, unsigned type)
{
    dline *e = &d->lines[x];
    e->hflags = (uint16_t)((e->hflags & ~(HF_DATA | HF_CMP | HF_WANT_DATA | HF_GRANT_E)) |
                           HF_WAIT);
    d->dev_t0[x] = sim_now(d->comp->sim);
    send(d->up, d->comp, FROM_DIR, type, x, d->hidx, 0, 0, 0, d->hidx);
}

/* The device's grant is complete when its Cmp and (if any) its MemData
 * arrived: the host takes the permission; the waiting requests retry. */
static void host_grant_check(mesi_dir *d, uint64_t x)
{
    dline *e = &d->lines[x];
    if (!(e->hflags & HF_CMP) || (e->hflags & HF_WANT_DATA && !(e->hflags & HF_DATA)))
        return;
    e->hperm = e->hflags & HF_GRANT_E ? HP_E : HP_S;
    e->hflags &= (uint16_t)~(HF_WAIT | HF_DATA | HF_CMP | HF_WANT_DATA | HF_GRANT_E);
    sim_samples_add(&d->dev_lat, (double)(sim_now(d->comp->sim) - d->dev_t0[x]));
}

/* Answer the device's back-invalidation snoop: the host's copy goes to the
 * device first when dirty (MemWr; the BIRsp waits for its Cmp, since the
 * CXL.mem channels are not ordered with each other), then BIRspI / BIRspS;
 * the host's permission drops with the BIRsp. */
static void host_bi_respond(mesi_dir *d, uint64_t x)
{
    dline *e = &d->lines[x];
    int inv = (e->hflags & HF_BI_INV) != 0;
    e->hflags &= (uint16_t)~(HF_BI_INV | HF_BI_DATA | HF_WB);
    e->hperm = inv ? HP_I : HP_S;
    send(d->up, d->comp, FROM_DIR, inv ? HDM_BIRSP_I : HDM_BIRSP_S, x, d->hidx, 0, 0, 0,
         d->hidx);
}

static void host_bi_done(mesi_dir *d, uint64_t x)
{
    dline *e = &d->lines[x];
    if (e->hflags & HF_DIRTY) {
        e->hflags = (uint16_t)((e->hflags & ~HF_DIRTY) | HF_WB);
        d->writebacks++;
        send(d->up, d->comp, FROM_DIR, HDM_MEMWR, x, d->hidx, e->mem, 0, 0, d->hidx);
        return;
    }
    host_bi_respond(d, x);
}

/* BISnpInv: the host's caches give the line up (Inv to its sharers, or a
 * recall of its owner: Fwd-GetM with the directory as requester), then the
 * host answers BIRspI. BISnpData: an owner is downgraded (Fwd-GetS, the
 * directory as requester: its Data comes back once), sharers keep S, then
 * BIRspS. A line in a transient state first finishes (STALL). */
static int host_on_bisnp(mesi_dir *d, uint64_t x, unsigned type)
{
    dline *e = &d->lines[x];
    /* The device's completion for this host's own request (Cmp-S/E) left
     * before this snoop on the same path, so it arrived first: with it in,
     * the snoop is for the copy being granted and waits for the grant's
     * MemData; without it, it is for the copy the host holds now (its
     * request, if any, waits at the device behind this snoop's request). */
    if (e->st == MESI_DIR_S_D || e->st == MESI_DIR_B ||
        e->hflags & (HF_BI_INV | HF_BI_DATA | HF_CMP))
        return STALL;
    if (e->hperm == HP_I) {
        protocol_error(d, x, "host directory (holds nothing)", type, e->st, mesi_dstate_name);
        return HANDLED;
    }
    int inv = type == HDM_BISNP_INV;
    e->hflags |= inv ? HF_BI_INV : HF_BI_DATA;
    e->pend = 0;
    if (e->st == MESI_DIR_E || e->st == MESI_DIR_M) {
        send(d, d->comp, e->owner, inv ? MESI_FWD_GETM : MESI_FWD_GETS, x, FROM_DIR, 0, 0, 0,
             FROM_DIR);
        e->pend = 1;
    } else if (e->st == MESI_DIR_S && inv) {
        for (unsigned i = 0; i < d->ncaches; i++)
            if (e->sharers >> i & 1) {
                send(d, d->comp, i, MESI_INV, x, FROM_DIR, 0, 0, 0, FROM_DIR);
                e->pend++;
            }
    }
    if (e->pend)
        dset(d, e, MESI_DIR_B);
    else
        host_bi_done(d, x);
    return HANDLED;
}

static int host_dev_msg(mesi_dir *d, msg m)
{
    uint64_t x = m_line(m);
    dline *e = &d->lines[x];
    unsigned t = m_type(m);
    switch (t) {
    case HDM_MEMDATA:
        if (!(e->hflags & HF_WAIT) || e->hflags & HF_DATA)
            break;
        e->mem = m_ver(m);
        e->hflags = (uint16_t)((e->hflags & ~HF_DIRTY) | HF_DATA);
        host_grant_check(d, x);
        return HANDLED;
    case HDM_CMP_S:
    case HDM_CMP_E:
        if (!(e->hflags & HF_WAIT) || e->hflags & HF_CMP)
            break;
        e->hflags |= HF_CMP | (t == HDM_CMP_E ? HF_GRANT_E : 0) |
                     (m_acks(m) ? HF_WANT_DATA : 0);
        host_grant_check(d, x);
        return HANDLED;
    case HDM_CMP: /* the write-back is done: answer the snoop */
        if (!(e->hflags & HF_WB))
            break;
        host_bi_respond(d, x);
        return HANDLED;
    case HDM_BISNP_DATA:
    case HDM_BISNP_INV: return host_on_bisnp(d, x, t);
    default: break;
    }
    protocol_error(d, x, "host directory", t, e->st, mesi_dstate_name);
    return HANDLED;
}

/* Device side (hdm_dir on the shared CXL memory): one entry per line
 * tracking hosts, not caches: I; S with a sharer set of hosts; E with one
 * owning host (its copy may be modified); B while back-invalidation snoops
 * are answered. A request that conflicts with another host's copy sends
 * BISnpData (a read: the owner keeps S) or BISnpInv (ownership: every
 * other holder) and waits (STALL) until every BIRsp is in; then it is
 * retried and granted: MemData + Cmp-E from I (the Primer's E on a read
 * with no other holder, applied to hosts), MemData + Cmp-S from S, Cmp-E
 * alone for an upgrade from S (MemInv,A by a sharer; a host that lost its
 * S to a snoop while its MemInv waited gets the data too: this stands for
 * the BIConflict handshake of the specification, not modelled). Requests
 * for a line in B wait in FIFO order. MemWr (a host's write-back) updates
 * memory and is answered Cmp. The snoop filter (`snoop_filter` entries)
 * evicts like the host's: BISnpInv to every holder of a victim entry. */
static void dev_sf_evict(mesi_dir *d)
{
    uint64_t v;
    dline *e = sf_victim(d, 0, &v);
    if (!e)
        return;
    d->sf_line = v;
    e->pend = 0;
    for (unsigned h = 0; h < d->nhosts; h++)
        if (e->owner == h || e->sharers >> h & 1) {
            send(d, d->comp, h, HDM_BISNP_INV, v, FROM_DIR, 0, 0, 0, h);
            e->pend++;
            d->back_invs++;
        }
    dset(d, e, MESI_DIR_B);
}

static int dev_on_req(mesi_dir *d, uint64_t x, unsigned h, unsigned type)
{
    dline *e = &d->lines[x];
    if (e->st == MESI_DIR_B)
        return STALL;
    if (!sf_room(d, e, dev_sf_evict))
        return STALL;
    if (e->owner == h || (type != HDM_MEMINV_A && e->sharers >> h & 1)) {
        protocol_error(d, x, "hdm_dir (request from a holder)", type, e->st, mesi_dstate_name);
        return HANDLED;
    }
    uint64_t others = e->sharers & ~(1ULL << h);
    int snoop_owner = e->owner != NO_OWNER;
    if (snoop_owner || (type != HDM_MEMRD_S && others)) { /* back-invalidate, then retry */
        e->pend = 0;
        if (snoop_owner) {
            send(d, d->comp, e->owner, type == HDM_MEMRD_S ? HDM_BISNP_DATA : HDM_BISNP_INV, x,
                 FROM_DIR, 0, 0, 0, h);
            e->pend++;
        }
        for (unsigned i = 0; i < d->nhosts && type != HDM_MEMRD_S; i++)
            if (others >> i & 1) {
                send(d, d->comp, i, HDM_BISNP_INV, x, FROM_DIR, 0, 0, 0, h);
                e->pend++;
            }
        d->bi_conflict += e->pend;
        dset(d, e, MESI_DIR_B);
        return STALL;
    }
    if (type == HDM_MEMRD_S && e->st == MESI_DIR_S) { /* MemData + Cmp-S, add the host */
        e->sharers |= 1ULL << h;
        send(d, d->comp, h, HDM_CMP_S, x, FROM_DIR, 0, 1, 0, h);
        send(d, d->comp, h, HDM_MEMDATA, x, FROM_DIR, e->mem, 0, 0, h);
        return HANDLED;
    }
    /* I, or S held by the requester alone: exclusive to the host / E */
    int upgrade = type == HDM_MEMINV_A && e->sharers >> h & 1;
    e->sharers = 0;
    e->owner = (uint8_t)h;
    dset(d, e, MESI_DIR_E);
    send(d, d->comp, h, HDM_CMP_E, x, FROM_DIR, 0, upgrade ? 0 : 1, 0, h);
    if (!upgrade)
        send(d, d->comp, h, HDM_MEMDATA, x, FROM_DIR, e->mem, 0, 0, h);
    return HANDLED;
}

static int dev_msg(mesi_dir *d, msg m)
{
    uint64_t x = m_line(m);
    unsigned h = m_src(m), t = m_type(m);
    dline *e = &d->lines[x];
    switch (t) {
    case HDM_MEMRD_S:
    case HDM_MEMRD_A:
    case HDM_MEMINV_A: return dev_on_req(d, x, h, t);
    case HDM_MEMWR: /* a host's dirty copy: to memory, Cmp */
        if (e->owner != h) {
            protocol_error(d, x, "hdm_dir (MemWr from a non-owner)", t, e->st, mesi_dstate_name);
            return HANDLED;
        }
        e->mem = m_ver(m);
        send(d, d->comp, h, HDM_CMP, x, FROM_DIR, 0, 0, 0, h);
        return HANDLED;
    case HDM_BIRSP_S:
    case HDM_BIRSP_I:
        if (e->st != MESI_DIR_B || !e->pend)
            break;
        if (t == HDM_BIRSP_I) {
            e->sharers &= ~(1ULL << h);
            if (e->owner == h)
                e->owner = NO_OWNER;
        } else if (e->owner == h) {
            e->owner = NO_OWNER;
            e->sharers |= 1ULL << h;
        }
        if (--e->pend == 0) {
            dset(d, e, e->owner != NO_OWNER ? MESI_DIR_E : e->sharers ? MESI_DIR_S : MESI_DIR_I);
            if (d->sf_busy && d->sf_line == x)
                d->sf_busy = 0;
        }
        return HANDLED;
    default: break;
    }
    protocol_error(d, x, "hdm_dir", t, e->st, mesi_dstate_name);
    return HANDLED;
}


static int dir_msg(mesi_dir *d, msg m)
{
    uint64_t x = m_line(m);
    unsigned r = m_src(m);
    if (d->role == ROLE_DEVICE)
        return dev_msg(d, m);
    switch (m_type(m)) {
    case HDM_MEMDATA:
    case HDM_CMP:
    case HDM_CMP_S:
    case HDM_CMP_E:
    case HDM_BISNP_DATA:
    case HDM_BISNP_INV:
        if (d->role == ROLE_HOST)
            return host_dev_msg(d, m);
        protocol_error(d, x, "directory", m_type(m), d->lines[x].st, mesi_dstate_name);
        return HANDLED;
    case MESI_GETS: return dir_on_gets(d, x, r);
    case MESI_GETM: return dir_on_getm(d, x, r);
    case MESI_PUTS: return dir_on_puts(d, x, r);
    case MESI_PUTM:
    case MESI_PUTE: return dir_on_put_owner(d, x, r, m_type(m), m_ver(m));
    case MESI_DATA: return dir_on_data(d, x, m_ver(m));
    case MESI_INV_ACK: return dir_on_back(d, x, MESI_INV_ACK, 0);
    case SW_UPDATE:
    case SW_FETCH:
    case SW_ACK: return sw_dir_msg(d, m);
    default:
        protocol_error(d, x, "directory", m_type(m), d->lines[x].st, mesi_dstate_name);
        return HANDLED;
    }
}

/* A stalled request tried again; checked when served. */
static int dir_retry(void *owner, msg m)
{
    mesi_dir *d = owner;
    int rc = dir_msg(d, m);
    if (rc != STALL)
        checkpoint(d, m_line(m));
    return rc;
}

/* Retry stalled requests until none makes progress (FIFO per line kept). */
static void dir_drain(mesi_dir *d) { fifo_drain(&d->stalled, &d->draining, dir_retry, d); }

/* A message the directory has finished serving. */
static void dir_process(mesi_dir *d, msg m)
{
    if (dir_msg(d, m) == STALL) {
        if (fifo_push(&d->stalled, m))
            protocol_error(d, m_line(m), "directory (out of memory)", m_type(m),
                           d->lines[m_line(m)].st, mesi_dstate_name);
        return;
    }
    checkpoint(d, m_line(m));
    unsigned t = m_type(m);
    if (t == MESI_DATA || t == MESI_INV_ACK || t == SW_ACK || t >= HDM_FIRST)
        dir_drain(d);
}

static void dir_serve_next(mesi_dir *d)
{
    if (d->serving || !d->inq.len)
        return;
    d->serving = 1;
    sim_schedule(d->comp->sim, d->occupancy, d->comp->id, MESI_EV_SERVED, 0, 0);
}

static int is_request(unsigned t)
{
    return t == MESI_GETS || t == MESI_GETM || t == MESI_PUTS || t == MESI_PUTM ||
           t == MESI_PUTE || t == SW_UPDATE || t == SW_FETCH;
}

/* Occupancy: messages are served one at a time, `occupancy` each, FIFO.
 * With a finite `queue`, a request that finds `queue` messages waiting is
 * refused with a Nack (the requester sends it again `retry` later);
 * responses (Data, Inv-Ack, SW-Ack) are always accepted, so the protocol
 * cannot deadlock on a full queue. */
static void dir_handle(sim_comp *c, const sim_event *ev)
{
    mesi_dir *d = c->state;
    if (ev->kind == MESI_EV_HOP) {
        hop_in(d, (uint32_t)ev->a1);
        return;
    }
    if (ev->kind == MESI_EV_FWD) {
        hop_out(d, (uint32_t)ev->a1);
        return;
    }
    if (ev->kind == MESI_EV_ROUND) {
        sw_round(d);
        return;
    }
    if (ev->kind == MESI_EV_SERVED) {
        msg m = fifo_pop(&d->inq);
        d->serving = 0;
        dir_process(d, m);
        dir_serve_next(d);
        return;
    }
    if (ev->kind != MESI_EV_MSG)
        return;
    msg m = {ev->a0, ev->a1};
    if (!d->occupancy && !d->queue) {
        dir_process(d, m);
        return;
    }
    if (d->queue && is_request(m_type(m)) && d->inq.len >= d->queue) {
        d->nacks++;
        send(d, d->comp, m_src(m), MESI_NACK, m_line(m), FROM_DIR, m_ver(m), m_type(m), 0,
             m_src(m));
        return;
    }
    if (fifo_push(&d->inq, m))
        return;
    if (d->inq.len > d->max_inq)
        d->max_inq = d->inq.len;
    if (!d->occupancy) { /* a finite queue without service time: serve at once */
        dir_process(d, fifo_pop(&d->inq));
        return;
    }
    dir_serve_next(d);
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

/* The core's access is performed: latency samples, then the next access.
 * Returns 1 when the store of a migratory read-modify-write follows. */
static int access_done(mesi_cache *c)
{
    sim *s = c->comp->sim;
    mesi_dir *d = c->d;
    double lat = c->cur_missed ? (double)(sim_now(s) - c->cur_start) : (double)c->hit_latency;
    sim_samples_add(&d->acc_lat, lat);
    if (c->cur_missed) {
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
        return 1;
    }
    int hit = !c->cur_missed;
    c->busy = 0;
    schedule_next(c, hit);
    return 0;
}

static void sw_core_try(mesi_cache *c);
static int sw_cache_msg(mesi_cache *c, msg m);

/* The core's access: perform it if the line allows, else issue the request
 * (from I or, for a store, S), else wait for the transient state to end. */
static void core_try(mesi_cache *c)
{
    mesi_dir *d = c->d;
    if (d->sync != SYNC_HW) {
        sw_core_try(c);
        return;
    }
    for (;;) {
        uint64_t x = c->cur_line;
        cline *l = &c->lines[x];
        dline *e = gold(d, x);
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
            if (access_done(c))
                continue;
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
    if (req != FROM_DIR) /* a host directory's own downgrade (BISnpData) wants one copy */
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

/* ---- Software synchronisation (sync: notify, all_to_all, server) --------
 *
 * No hardware coherence: each actor (a mesi_cache) keeps a private copy of
 * every line and synchronises explicitly; every message crosses the same
 * network (ideal or fabric) as the protocol's would.
 *   notify      a store updates the writer's copy and sends SW-Notify (the
 *               line: header + 64 B) to each of the n-1 other actors, which
 *               apply it and answer SW-Ack; the store completes with the
 *               last ack: exactly 2(n-1) messages. Loads hit the copy.
 *   all_to_all  stores update the local copy only; every `sync_period` a
 *               round sends SW-Round from every actor to every other (the
 *               lines it stored since the last round: header + 64 B each,
 *               a control message when none): n(n-1) messages per round.
 *   server      a software directory service on the home node (service
 *               time: `occupancy`) tracks the holders of each line: a load
 *               without a valid copy sends SW-Fetch and gets SW-Data; a
 *               store sends SW-Update (data); the server sends SW-Inv to the
 *               other holders, collects their SW-Acks, then SW-Acks the
 *               writer: 2 + 2k messages with k other holders. One update
 *               per line at a time (the line is B meanwhile).
 */
static int sw_dir_msg(mesi_dir *d, msg m)
{
    uint64_t x = m_line(m);
    unsigned r = m_src(m);
    dline *e = &d->lines[x];
    switch (m_type(m)) {
    case SW_FETCH:
        e->sharers |= 1ULL << r;
        send(d, d->comp, r, SW_DATA, x, FROM_DIR, e->mem, 0, 0, r);
        return HANDLED;
    case SW_UPDATE: {
        if (e->st == MESI_DIR_B)
            return STALL;
        e->mem = ++e->latest;
        uint64_t others = e->sharers & ~(1ULL << r);
        e->pend = 0;
        for (unsigned i = 0; i < d->ncaches; i++)
            if (others >> i & 1) {
                send(d, d->comp, i, SW_INV, x, FROM_DIR, 0, 0, 0, r);
                e->pend++;
            }
        e->sharers = 1ULL << r;
        e->owner = (uint8_t)r;
        if (!e->pend) {
            send(d, d->comp, r, SW_ACK, x, FROM_DIR, e->mem, 0, 0, r);
            e->owner = NO_OWNER;
            dset(d, e, MESI_DIR_S);
        } else {
            dset(d, e, MESI_DIR_B);
        }
        return HANDLED;
    }
    case SW_ACK:
        if (e->st != MESI_DIR_B || !e->pend) {
            protocol_error(d, x, "software directory", SW_ACK, e->st, mesi_dstate_name);
            return HANDLED;
        }
        if (--e->pend == 0) {
            send(d, d->comp, e->owner, SW_ACK, x, FROM_DIR, e->mem, 0, 0, e->owner);
            e->owner = NO_OWNER;
            dset(d, e, MESI_DIR_S);
        }
        return HANDLED;
    default:
        protocol_error(d, x, "software directory", m_type(m), e->st, mesi_dstate_name);
        return HANDLED;
    }
}

/* all_to_all: one round, then the next while any actor still works. */
static void sw_round(mesi_dir *d)
{
    d->rounds++;
    for (unsigned i = 0; i < d->ncaches; i++) {
        mesi_cache *a = d->caches[i];
        uint64_t bytes = a->dirty ? d->data_header + LINE_BYTES * a->dirty : d->control_bytes;
        for (unsigned j = 0; j < d->ncaches; j++)
            if (j != i)
                send_b(d, a->comp, j, SW_ROUND, 0, i, 0, 0, 0, j, bytes);
        a->dirty = 0;
    }
    int more = 0;
    for (unsigned i = 0; i < d->ncaches && !more; i++) {
        mesi_cache *a = d->caches[i];
        more = a->busy || a->script.len ||
               (a->pattern != PAT_NONE && (!a->accesses || a->generated < a->accesses));
    }
    if (more)
        sim_schedule(d->comp->sim, d->sync_period, d->comp->id, MESI_EV_ROUND, 0, 0);
}

/* A software access completed by a message: count it, go on. */
static void sw_complete(mesi_cache *c)
{
    if (c->cur_write) {
        c->stores++;
        c->d->stores++;
    } else {
        c->loads++;
        c->d->loads++;
    }
    if (access_done(c))
        sw_core_try(c);
}

static int sw_cache_msg(mesi_cache *c, msg m)
{
    mesi_dir *d = c->d;
    uint64_t x = m_line(m);
    cline *l = &c->lines[x];
    switch (m_type(m)) {
    case SW_NOTIFY: /* apply the update, acknowledge it */
        if (m_ver(m) > l->ver)
            l->ver = m_ver(m);
        send(d, c->comp, m_src(m), SW_ACK, x, c->idx, 0, 0, 0, m_src(m));
        break;
    case SW_INV: /* drop the copy, acknowledge to the server */
        l->st = MESI_I;
        send(d, c->comp, FROM_DIR, SW_ACK, x, c->idx, 0, 0, 0, c->idx);
        break;
    case SW_ACK:
        if (d->sync == SYNC_NOTIFY) {
            if (c->busy && c->pend && --c->pend == 0)
                sw_complete(c);
        } else if (c->busy && c->cur_write && c->cur_line == x) { /* server: update done */
            l->st = MESI_S;
            l->ver = m_ver(m);
            sw_complete(c);
        }
        break;
    case SW_DATA:
        l->st = MESI_S;
        l->ver = m_ver(m);
        if (c->busy && !c->cur_write && c->cur_line == x)
            sw_complete(c);
        break;
    default: break; /* SW_ROUND: its bytes were the point */
    }
    return HANDLED;
}

/* A software access: local unless it must synchronise (see above). */
static void sw_core_try(mesi_cache *c)
{
    mesi_dir *d = c->d;
    for (;;) {
        uint64_t x = c->cur_line;
        cline *l = &c->lines[x];
        dline *e = &d->lines[x];
        int local = !c->cur_write ? d->sync != SYNC_SERVER || l->st == MESI_S
                                  : d->sync == SYNC_ALL || (d->sync == SYNC_NOTIFY &&
                                                            d->ncaches == 1);
        if (local) {
            if (c->cur_write) {
                l->ver = ++e->latest;
                c->dirty++;
            }
            c->cur_missed = 0;
            c->pend = 0;
            if (c->cur_write) {
                c->stores++;
                d->stores++;
            } else {
                c->loads++;
                d->loads++;
            }
            if (access_done(c))
                continue;
            return;
        }
        c->cur_missed = 1;
        if (!c->cur_write) {
            c->read_misses++;
            d->read_misses++;
            send(d, c->comp, FROM_DIR, SW_FETCH, x, c->idx, 0, 0, 0, c->idx);
        } else if (d->sync == SYNC_NOTIFY) {
            c->write_misses++;
            d->write_misses++;
            l->ver = ++e->latest;
            c->pend = d->ncaches - 1;
            for (unsigned j = 0; j < d->ncaches; j++)
                if (j != c->idx)
                    send(d, c->comp, j, SW_NOTIFY, x, c->idx, l->ver, 0, 0, c->idx);
        } else {
            c->write_misses++;
            d->write_misses++;
            send(d, c->comp, FROM_DIR, SW_UPDATE, x, c->idx, 0, 0, 0, c->idx);
        }
        return;
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
    case MESI_NACK: { /* the directory's queue was full: send the request again later */
        msg r = msg_pack(x, m_acks(m), c->idx, m_ver(m), 0, 0, c->idx);
        sim_schedule(c->comp->sim, c->d->retry, c->comp->id, MESI_EV_RETRY, r.a0, r.a1);
        return HANDLED;
    }
    case SW_NOTIFY:
    case SW_ACK:
    case SW_INV:
    case SW_DATA:
    case SW_ROUND: return sw_cache_msg(c, m);
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

static int cache_retry(void *owner, msg m) { return cache_msg(owner, m); }

/* Retry stalled forwarded messages until none makes progress. */
static void cache_drain(mesi_cache *c) { fifo_drain(&c->stalled, &c->draining, cache_retry, c); }

static uint64_t next_line(mesi_cache *c)
{
    if (c->pattern == PAT_PRODCONS)
        return c->lo + c->cursor++ % c->nfoot;
    return c->lo + gsl_rng_uniform_int(c->comp->rng, c->nfoot);
}

static void cache_handle(sim_comp *comp, const sim_event *ev)
{
    mesi_cache *c = comp->state;
    if (ev->kind == MESI_EV_RETRY) {
        msg r = {ev->a0, ev->a1};
        send(c->d, comp, FROM_DIR, m_type(r), m_line(r), c->idx, m_ver(r), 0, 0, c->idx);
        return;
    }
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
    {"network", SIM_P_ENUM, "ideal", "",
     "ideal: each message takes `latency`; fabric: messages cross the links between the nodes"
     " (queued with other traffic)", offsetof(mesi_dir, network), net_names},
    {"node", SIM_P_STRING, "", "", "fabric: home node (host CPU, CXL memory's host)",
     offsetof(mesi_dir, node), NULL},
    {"occupancy", SIM_P_TIME, "0 ns", "ps", "service time per message at the directory (FIFO)",
     offsetof(mesi_dir, occupancy), NULL},
    {"queue", SIM_P_UINT, "0", "messages",
     "requests that may wait at the directory; more are Nacked and retried (0: unbounded)",
     offsetof(mesi_dir, queue), NULL},
    {"retry", SIM_P_TIME, "100 ns", "ps", "a Nacked request is sent again after this",
     offsetof(mesi_dir, retry), NULL},
    {"snoop_filter", SIM_P_UINT, "0", "lines",
     "entries tracking cached lines; evictions back-invalidate (absent: one per line)",
     offsetof(mesi_dir, snoop_filter), NULL},
    {"sync", SIM_P_ENUM, "hardware", "",
     "hardware (MESI) or a software baseline: notify, all_to_all, server",
     offsetof(mesi_dir, sync), sync_names},
    {"sync_period", SIM_P_TIME, "1 us", "ps", "all_to_all: time between rounds",
     offsetof(mesi_dir, sync_period), NULL},
    {"home", SIM_P_STRING, "", "",
     "hdm_dir of the shared CXL memory: this directory is one host's, under the device's"
     " (\"\": the directory is the home)", offsetof(mesi_dir, home), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

/* hdm_dir: the device-level directory on a shared CXL memory. */
static const sim_param hdm_params[] = {
    {"size", SIM_P_SIZE, "1 MiB", "B", "shared region (64 B lines, one entry each)",
     offsetof(mesi_dir, size), NULL},
    {"latency", SIM_P_TIME, "50 ns", "ps", "network: ideal: one message, one hop",
     offsetof(mesi_dir, latency), NULL},
    {"memory_latency", SIM_P_TIME, "100 ns", "ps",
     "media read added to MemData (absent: the `node` memory's latency)",
     offsetof(mesi_dir, memory_latency), NULL},
    {"control_bytes", SIM_P_SIZE, "16 B", "B", "bytes of a request, NDR, BISnp or BIRsp",
     offsetof(mesi_dir, control_bytes), NULL},
    {"data_header", SIM_P_SIZE, "16 B", "B", "header of a MemData/MemWr message, plus 64 B",
     offsetof(mesi_dir, data_header), NULL},
    {"verify", SIM_P_BOOL, "false", "",
     "check SWMR across hosts and the data value on every line after every event",
     offsetof(mesi_dir, verify), NULL},
    {"network", SIM_P_ENUM, "fabric", "",
     "fabric: messages cross the CXL links between the hosts and `node`; ideal: `latency`",
     offsetof(mesi_dir, network), net_names},
    {"node", SIM_P_STRING, "", "", "fabric: the shared CXL memory (type: memory, kind: cxl)",
     offsetof(mesi_dir, node), NULL},
    {"occupancy", SIM_P_TIME, "0 ns", "ps", "service time per message at the device (FIFO)",
     offsetof(mesi_dir, occupancy), NULL},
    {"snoop_filter", SIM_P_UINT, "0", "lines",
     "entries tracking lines hosts hold; evictions send BISnpInv (absent: one per line)",
     offsetof(mesi_dir, snoop_filter), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static const sim_param cache_params[] = {
    {"directory", SIM_P_STRING, NULL, "", "name of the home mesi_dir",
     offsetof(mesi_cache, directory), NULL},
    {"node", SIM_P_STRING, "", "", "fabric: the node it sits on (GPU, NIC, CPU, accelerator)",
     offsetof(mesi_cache, node), NULL},
    {"nodes", SIM_P_STRING, "", "",
     "fabric, with replicas: N: node names (space or comma separated) the copies sit on in"
     " turn, copy i on the (i mod count)-th", offsetof(mesi_cache, nodes), NULL},
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
                         "%s '%s': size must be a positive multiple of 64 B", c->model->type,
                         c->name);
    if (d->size / LINE_BYTES > (1ULL << 40))
        return scn_error(err, node ? scn_map_get(node, "size") : NULL,
                         "%s '%s': size exceeds 2^40 lines", c->model->type, c->name);
    if (d->latency == 0)
        return scn_error(err, node ? scn_map_get(node, "latency") : NULL,
                         "%s '%s': latency must be positive", c->model->type, c->name);
    const scn_node *sf = node ? scn_map_get(node, "snoop_filter") : NULL;
    if (sf && d->snoop_filter == 0)
        return scn_error(err, sf, "%s '%s': a snoop filter needs at least 1 line",
                         c->model->type, c->name);
    if (d->sync == SYNC_ALL && d->sync_period == 0)
        return scn_error(err, node ? scn_map_get(node, "sync_period") : NULL,
                         "%s '%s': sync_period must be positive", c->model->type, c->name);
    if (d->queue && d->retry == 0)
        return scn_error(err, node ? scn_map_get(node, "retry") : NULL,
                         "%s '%s': retry must be positive with a finite queue", c->model->type,
                         c->name);
    d->nlines = d->size / LINE_BYTES;
    d->lines = sim_calloc(d->nlines, sizeof *d->lines);
    if (!d->lines)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "%s '%s': out of memory",
                           c->model->type, c->name);
    for (uint64_t x = 0; x < d->nlines; x++)
        d->lines[x].owner = NO_OWNER;
    if (d->home && *d->home) {
        if (d->sync != SYNC_HW)
            return scn_error(err, scn_map_get(node, "sync"),
                             "%s '%s': a host directory under an hdm_dir (`home:`) keeps"
                             " hardware coherence: sync must be hardware", c->model->type,
                             c->name);
        d->role = ROLE_HOST;
        d->dev_t0 = sim_calloc(d->nlines, sizeof *d->dev_t0);
        if (!d->dev_t0)
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "%s '%s': out of memory",
                               c->model->type, c->name);
    }
    return 0;
}

static int hdm_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    mesi_dir *d = c->state;
    int rc = dir_configure(c, node, err);
    d->role = ROLE_DEVICE;
    return rc;
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

/* The fabric node (not a link) called `name`; NULL when there is none
 * (or no name). */
static sim_comp *fabric_node(sim *s, const char *name)
{
    sim_comp *h = name && *name ? sim_find(s, name) : NULL;
    return h && fab_hdr_of(h) && !fab_is_link(fab_hdr_of(h)) ? h : NULL;
}

/* Is every link of route r a CXL link? Names the first that is not. */
static int route_cxl(sim *s, const route *r, const char **bad)
{
    for (unsigned i = 0; i < r->n; i++)
        if (!cxl_link_cfg(sim_comp_at(s, r->link[i]))) {
            *bad = sim_comp_at(s, r->link[i])->name;
            return 0;
        }
    return 1;
}

static int is_cpu(sim *s, uint32_t id)
{
    const fab_node_kind *k = fab_kind_of(s, id);
    return k && !strcmp(k->name, "cpu");
}

/* The host of cache i of d: its node if a cpu, else the first cpu on its
 * route to the home; UINT32_MAX when the route passes none. */
static uint32_t host_of(mesi_dir *d, unsigned i, const route *r)
{
    sim *s = d->comp->sim;
    if (is_cpu(s, d->caches[i]->node_id))
        return d->caches[i]->node_id;
    for (unsigned k = 0; k < r->n; k++)
        if (is_cpu(s, r->node[k]))
            return r->node[k];
    return UINT32_MAX;
}

/* The device end of an hdm_dir on the fabric (it may start after the
 * directories and caches that need it): its node, a CXL memory. */
static int hdm_resolve(mesi_dir *v, sim_err *err)
{
    sim_comp *c = v->comp;
    if (v->network != NET_FABRIC || v->routes)
        return 0;
    const scn_node *nn = c->node ? scn_map_get(c->node, "node") : NULL;
    sim_comp *h = v->node && *v->node ? sim_find(c->sim, v->node) : NULL;
    sim_time lat;
    if (!h || !fabric_cxl_memory(c->sim, h->id, &lat))
        return scn_error(err, nn ? nn : c->node,
                         "hdm_dir '%s': `node:` must name the shared CXL memory (type: memory,"
                         " kind: cxl) that keeps the hosts coherent", c->name);
    v->node_id = h->id;
    if (!(c->node && scn_map_get(c->node, "memory_latency")))
        v->memory_latency = lat;
    if (!(v->routes = sim_calloc((size_t)NEP * NEP, sizeof *v->routes)))
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "hdm_dir '%s': out of memory", c->name);
    return 0;
}

/* A host directory (`home:`) joins its hdm_dir: once, from its own start
 * or its first cache's, whichever comes first. Its link to the device
 * must be CXL end to end. */
static int host_attach(mesi_dir *d, sim_err *err)
{
    sim_comp *c = d->comp;
    if (d->role != ROLE_HOST || d->up)
        return 0;
    const scn_node *hn = c->node ? scn_map_get(c->node, "home") : NULL;
    sim_comp *vc = sim_find(c->sim, d->home);
    if (!vc || vc->model != &hdm_dir_model)
        return scn_error(err, hn ? hn : c->node, "mesi_dir '%s': home '%s' is not an hdm_dir",
                         c->name, d->home);
    mesi_dir *v = vc->state;
    if (v->size != d->size)
        return scn_error(err, hn ? hn : c->node,
                         "mesi_dir '%s': size %llu B differs from its hdm_dir '%s' (%llu B)",
                         c->name, (unsigned long long)d->size, vc->name,
                         (unsigned long long)v->size);
    if (v->network != d->network)
        return scn_error(err, hn ? hn : c->node,
                         "mesi_dir '%s': network differs from its hdm_dir '%s'", c->name,
                         vc->name);
    if (v->nhosts >= MAX_CACHES)
        return scn_error(err, hn ? hn : c->node, "mesi_dir '%s': hdm_dir '%s' has %u hosts"
                         " (the limit)", c->name, vc->name, MAX_CACHES);
    int rc = hdm_resolve(v, err);
    if (rc)
        return rc;
    d->up = v;
    d->hidx = v->nhosts;
    v->hosts[v->nhosts++] = d;
    if (d->network != NET_FABRIC)
        return 0;
    const scn_node *nn = c->node ? scn_map_get(c->node, "node") : NULL;
    sim_comp *h = fabric_node(c->sim, d->node);
    if (!h)
        return scn_error(err, nn ? nn : c->node,
                         "mesi_dir '%s': network: fabric needs `node:` naming a fabric node"
                         " (the host CPU)", c->name);
    d->node_id = h->id;
    const route *up = route_of(v, d->hidx, FROM_DIR), *dn = route_of(v, FROM_DIR, d->hidx);
    const char *bad = NULL;
    if (!up || !dn)
        return scn_error(err, nn ? nn : c->node,
                         "mesi_dir '%s': host '%s' has no fabric route to the shared CXL memory"
                         " '%s' of hdm_dir '%s'", c->name, d->node, v->node, vc->name);
    if (!route_cxl(c->sim, up, &bad) || !route_cxl(c->sim, dn, &bad))
        return scn_error(err, nn ? nn : c->node,
                         "mesi_dir '%s': host '%s' has no CXL path to the shared memory '%s' of"
                         " hdm_dir '%s' (link '%s' on its route is not cxl)", c->name, d->node,
                         v->node, vc->name, bad);
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
    if (k->nodes && *k->nodes) { /* pick this copy's node: token (replica mod count) */
        const scn_node *at = scn_map_get(c->node, "nodes");
        if (k->node && *k->node)
            return scn_error(err, at, "mesi_cache '%s': give `node:` or `nodes:`, not both",
                             c->name);
        size_t cnt = 0;
        for (const char *p = k->nodes; *p;) {
            p += strspn(p, " ,");
            if (!*p)
                break;
            cnt++;
            p += strcspn(p, " ,");
        }
        if (!cnt)
            return scn_error(err, at, "mesi_cache '%s': `nodes:` names no node", c->name);
        size_t want = c->replica % cnt, i = 0;
        for (const char *p = k->nodes; *p; i++) {
            p += strspn(p, " ,");
            size_t len = strcspn(p, " ,");
            if (i == want) {
                if (len >= sizeof k->node_buf)
                    return scn_error(err, at, "mesi_cache '%s': node name too long", c->name);
                memcpy(k->node_buf, p, len);
                k->node_buf[len] = 0;
                break;
            }
            p += len;
        }
        k->node = k->node_buf;
    }
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
    if (d->network == NET_FABRIC) {
        const scn_node *nn = c->node ? scn_map_get(c->node, "node") : NULL;
        sim_comp *h = fabric_node(c->sim, k->node);
        if (!h)
            return scn_error(err, nn ? nn : c->node,
                             "mesi_cache '%s': directory '%s' uses the fabric: `node:` must name"
                             " the fabric node the cache sits on",
                             c->name, dc->name);
        k->node_id = h->id;
        if (!d->routes && !(d->routes = sim_calloc((size_t)NEP * NEP, sizeof *d->routes)))
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        sim_comp *hn = d->node && *d->node ? sim_find(c->sim, d->node) : NULL;
        if (!hn) /* dir_start reports it */
            return scn_error(err, dc->node ? dc->node : c->node,
                             "mesi_dir '%s': network: fabric needs `node:` naming a fabric node",
                             dc->name);
        d->node_id = hn->id; /* the directory may start after its caches */
        if (!route_of(d, k->idx, FROM_DIR) || !route_of(d, FROM_DIR, k->idx))
            return scn_error(err, nn ? nn : c->node,
                             "mesi_cache '%s': no fabric route between its node '%s' and the"
                             " home '%s' of directory '%s' (a coherence domain spanning hosts"
                             " needs a shared CXL memory reachable from every member)",
                             c->name, k->node, d->node ? d->node : "?", dc->name);
        const route *r = route_of(d, k->idx, FROM_DIR);
        uint32_t host = host_of(d, k->idx, r);
        if (d->role == ROLE_HOST) {
            const char *bad = NULL;
            int rc = host_attach(d, err);
            if (rc)
                return rc;
            if (host != d->node_id)
                return scn_error(err, nn ? nn : c->node,
                                 "mesi_cache '%s': node '%s' is not behind host '%s' of its"
                                 " host directory '%s' (each host has its own mesi_dir under"
                                 " hdm_dir '%s')", c->name, k->node, d->node, dc->name,
                                 d->home);
            if (!route_cxl(c->sim, r, &bad) || !route_cxl(c->sim, route_of(d, FROM_DIR, k->idx),
                                                           &bad))
                return scn_error(err, nn ? nn : c->node,
                                 "mesi_cache '%s': device '%s' has no CXL path to the shared"
                                 " memory of hdm_dir '%s' (link '%s' to its host '%s' is not"
                                 " cxl)", c->name, k->node, d->home, bad, d->node);
        } else if (host != UINT32_MAX) { /* a flat domain stays within one host */
            if (!d->host_set) {
                d->host_id = host;
                d->host_set = 1;
            } else if (host != d->host_id)
                return scn_error(err, nn ? nn : c->node,
                                 "mesi_cache '%s': its node '%s' is on host '%s', directory '%s'"
                                 " has caches on host '%s': a coherence domain spanning hosts"
                                 " needs a shared CXL memory kept coherent by the device (an"
                                 " hdm_dir on it, one mesi_dir per host with `home:`)",
                                 c->name, k->node, sim_comp_at(c->sim, host)->name, dc->name,
                                 sim_comp_at(c->sim, d->host_id)->name);
        }
    } else if (d->role == ROLE_HOST) {
        int rc = host_attach(d, err);
        if (rc)
            return rc;
    }
    if (k->pattern != PAT_NONE)
        sim_schedule(c->sim, k->start_at, c->id, MESI_EV_GEN, 0, 0);
    return 0;
}

/* start: resolve the home node and the route table (freed by dir_destroy);
 * caches register in their own start, routes are looked up at first use
 * and checked in cache_start. */
static int dir_start(sim_comp *c, sim_err *err)
{
    mesi_dir *d = c->state;
    if (d->role == ROLE_DEVICE)
        return hdm_resolve(d, err);
    if (d->network == NET_FABRIC) {
        const scn_node *nn = c->node ? scn_map_get(c->node, "node") : NULL;
        sim_comp *h = fabric_node(c->sim, d->node);
        if (!h)
            return scn_error(err, nn ? nn : c->node,
                             "mesi_dir '%s': network: fabric needs `node:` naming a fabric node"
                             " (the home: a host CPU or the CXL memory's host)", c->name);
        d->node_id = h->id;
        if (!d->routes && !(d->routes = sim_calloc((size_t)NEP * NEP, sizeof *d->routes)))
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "mesi_dir '%s': out of memory",
                               c->name);
    }
    int rc = host_attach(d, err);
    if (rc)
        return rc;
    if (d->sync == SYNC_ALL)
        sim_schedule(c->sim, d->sync_period, c->id, MESI_EV_ROUND, 0, 0);
    return 0;
}

static void dir_destroy(sim_comp *c)
{
    mesi_dir *d = c->state;
    sim_free(d->dev_t0);
    sim_samples_free(&d->dev_lat);
    sim_free(d->routes);
    sim_free(d->fl);
    sim_free(d->inq.v);
    sim_samples_free(&d->acc_lat);
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

/* A metric row of a finish. */
typedef struct metric {
    const char *name;
    double v;
    const char *unit;
} metric;

/* Report the n rows m under scope: 0 or the first failure's code. */
static int report_metrics(sim *s, const char *scope, const metric *m, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = sim_report_metric(s, scope, m[i].name, m[i].v, m[i].unit);
    return rc;
}

/* hdm_dir: one `coherence` row per device-level message type (zeros
 * included) and the device's metrics; messages per access count the
 * accesses of the caches of every host. */
static int hdm_finish(sim_comp *c, sim_err *err)
{
    mesi_dir *d = c->state;
    sim *s = c->sim;
    int rc = 0;
    uint64_t msgs = 0, acc = 0, bisnp = d->count[HDM_BISNP_DATA] + d->count[HDM_BISNP_INV];
    for (int t = HDM_FIRST; t < NTYPES && !rc; t++) {
        rc = sim_report_coherence(s, c->name, msg_names[t], d->count[t]);
        msgs += d->count[t];
    }
    for (unsigned h = 0; h < d->nhosts; h++)
        acc += d->hosts[h]->loads + d->hosts[h]->stores;
    metric m[] = {
        {"messages", (double)msgs, "messages"},
        {"bytes_control", (double)d->bytes_control, "B"},
        {"bytes_data", (double)d->bytes_data, "B"},
        {"accesses", (double)acc, "accesses"},
        {"messages_per_access", acc ? (double)msgs / (double)acc : 0.0, "messages"},
        {"bisnp", (double)bisnp, "messages"},
        {"bisnp_per_access", acc ? (double)bisnp / (double)acc : 0.0, "messages"},
        {"conflict_snoops", (double)d->bi_conflict, "messages"},
        {"snoop_filter_evictions", (double)d->sf_evictions, "entries"},
        {"back_invalidations", (double)d->back_invs, "messages"},
        {"hosts", (double)d->nhosts, "hosts"},
        {"max_queue", (double)d->max_inq, "messages"},
        {"protocol_errors", (double)d->protocol_errors, ""},
        {"invariant_violations", (double)d->violations, ""},
    };
    if (!rc)
        rc = report_metrics(s, c->name, m, sizeof m / sizeof m[0]);
    if (rc)
        return sim_err_set(err, rc, NULL, 0, 0, "hdm_dir '%s': reporting failed", c->name);
    return 0;
}

static int dir_finish(sim_comp *c, sim_err *err)
{
    mesi_dir *d = c->state;
    sim *s = c->sim;
    int rc = 0;
    int t0 = d->sync == SYNC_HW ? 0 : SW_NOTIFY, t1 = d->sync == SYNC_HW ? MESI_NMSG : NTYPES;
    for (int t = t0; t < t1 && !rc; t++)
        rc = sim_report_coherence(s, c->name, msg_names[t], d->count[t]);
    uint64_t msgs = 0;
    for (int t = 0; t < MESI_NMSG; t++)
        msgs += d->count[t];
    double acc = (double)(d->loads + d->stores), all = (double)d->msgs_total;
    double bytes = (double)(d->bytes_control + d->bytes_data);
    metric m2[] = {
        {"sync_messages", all, "messages"},
        {"sync_bytes", bytes, "B"},
        {"sync_messages_per_access", acc ? all / acc : 0.0, "messages"},
        {"sync_bytes_per_access", acc ? bytes / acc : 0.0, "B"},
        {"messages_per_update", d->stores ? all / (double)d->stores : 0.0, "messages"},
        {"nacks", (double)d->nacks, "messages"},
        {"max_queue", (double)d->max_inq, "messages"},
        {"snoop_filter_evictions", (double)d->sf_evictions, "entries"},
        {"back_invalidations", (double)d->back_invs, "messages"},
        {"rounds", (double)d->rounds, "rounds"},
    };
    if (!rc)
        rc = report_metrics(s, c->name, m2, sizeof m2 / sizeof m2[0]);
    if (!rc)
        rc = sim_samples_report(s, c->name, "access_latency", &d->acc_lat, 1e-12, "s");
    metric m[] = {
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
    if (!rc)
        rc = report_metrics(s, c->name, m, sizeof m / sizeof m[0]);
    if (!rc)
        rc = sim_samples_report(s, c->name, "miss_latency", &d->miss_lat, 1e-12, "s");
    if (!rc && d->role == ROLE_HOST) {
        rc = sim_samples_report(s, c->name, "device_latency", &d->dev_lat, 1e-12, "s");
        if (!rc)
            rc = sim_report_metric(s, c->name, "writebacks", (double)d->writebacks, "lines");
    }
    if (rc)
        return sim_err_set(err, rc, NULL, 0, 0, "mesi_dir '%s': reporting failed", c->name);
    return 0;
}

static int cache_finish(sim_comp *c, sim_err *err)
{
    mesi_cache *k = c->state;
    if (!k->d)
        return 0;
    metric m[] = {
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
    int rc = report_metrics(c->sim, c->name, m, sizeof m / sizeof m[0]);
    if (!rc)
        rc = sim_samples_report(c->sim, c->name, "miss_latency", &k->miss_lat, 1e-12, "s");
    if (rc)
        return sim_err_set(err, rc, NULL, 0, 0, "mesi_cache '%s': reporting failed", c->name);
    return 0;
}

/* Headline metrics of the run summary (sim_model.headline). */
static const char *const mesi_dir_headline[] = {"messages", "messages_per_access", "access_latency_mean", "miss_latency_p99", NULL};

const sim_model mesi_dir_model = {
    .type = "mesi_dir",
    .summary = "MESI directory (home node) of a shared region: Primer Table 8.4, message counts",
    .params = dir_params,
    .state_size = sizeof(mesi_dir),
    .configure = dir_configure,
    .start = dir_start,
    .handle = dir_handle,
    .finish = dir_finish,
    .destroy = dir_destroy,
    .headline = mesi_dir_headline,
};

/* Headline metrics of the run summary (sim_model.headline). */
static const char *const hdm_dir_headline[] = {"messages_per_access", "bisnp_per_access",
                                               "snoop_filter_evictions", NULL};

const sim_model hdm_dir_model = {
    .type = "hdm_dir",
    .summary = "device-managed coherence of a shared CXL memory (CXL 3.0 HDM-DB): per-host"
               " tracking, BISnp/BIRsp, under one mesi_dir per host",
    .params = hdm_params,
    .state_size = sizeof(mesi_dir),
    .configure = hdm_configure,
    .start = dir_start,
    .handle = dir_handle,
    .finish = hdm_finish,
    .destroy = dir_destroy,
    .headline = hdm_dir_headline,
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
    return c && (c->model == &mesi_dir_model || c->model == &hdm_dir_model) ? c->state : NULL;
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

uint64_t mesi_dir_count_name(const sim_comp *dir, const char *name)
{
    mesi_dir *d = as_dir(dir);
    for (int t = 0; d && t < NTYPES; t++)
        if (!strcmp(msg_names[t], name))
            return d->count[t];
    return 0;
}

uint64_t mesi_dir_stat(const sim_comp *dir, const char *name)
{
    mesi_dir *d = as_dir(dir);
    if (!d)
        return 0;
    if (!strcmp(name, "messages")) return d->msgs_total;
    if (!strcmp(name, "bytes")) return d->bytes_control + d->bytes_data;
    if (!strcmp(name, "nacks")) return d->nacks;
    if (!strcmp(name, "max_queue")) return d->max_inq;
    if (!strcmp(name, "snoop_filter_evictions")) return d->sf_evictions;
    if (!strcmp(name, "back_invalidations")) return d->back_invs;
    if (!strcmp(name, "tracked")) return d->tracked;
    if (!strcmp(name, "rounds")) return d->rounds;
    if (!strcmp(name, "loads")) return d->loads;
    if (!strcmp(name, "stores")) return d->stores;
    if (!strcmp(name, "writebacks")) return d->writebacks;
    if (!strcmp(name, "conflict_snoops")) return d->bi_conflict;
    if (!strcmp(name, "hosts")) return d->nhosts;
    return 0;
}

uint64_t mesi_dir_errors(const sim_comp *dir)
{
    mesi_dir *d = as_dir(dir);
    if (!d)
        return 0;
    uint64_t n = d->protocol_errors + d->violations + d->stale_loads;
    for (unsigned h = 0; d->role == ROLE_DEVICE && h < d->nhosts; h++)
        n += mesi_dir_errors(d->hosts[h]->comp);
    return n;
}

int mesi_dir_host_perm(const sim_comp *dir, uint64_t line)
{
    mesi_dir *d = as_dir(dir);
    if (!d || d->role != ROLE_HOST || line >= d->nlines)
        return -1;
    return d->lines[line].hperm;
}

int mesi_dir_check(const sim_comp *dir)
{
    mesi_dir *d = as_dir(dir);
    return d && mesi_assert_state(d);
}

int mesi_dir_quiescent(const sim_comp *dir)
{
    mesi_dir *d = as_dir(dir);
    if (!d || d->stalled.len || d->inq.len)
        return 0;
    if (d->role == ROLE_DEVICE) {
        for (unsigned h = 0; h < d->nhosts; h++)
            if (!mesi_dir_quiescent(d->hosts[h]->comp))
                return 0;
        for (uint64_t x = 0; x < d->nlines; x++)
            if (d->lines[x].st == MESI_DIR_B)
                return 0;
        return 1;
    }
    for (uint64_t x = 0; x < d->nlines; x++)
        if (d->lines[x].st == MESI_DIR_S_D || d->lines[x].st == MESI_DIR_B ||
            d->lines[x].hflags & ~HF_DIRTY)
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
