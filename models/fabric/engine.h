/*
 * engine.h - the fabric engine: servers, flows of chunks, routes. It names
 * no link protocol and no device: protocols (pcie.c, cxl.c, upi.c, ...) and
 * node kinds (devices.c) describe themselves to it through the two tables
 * below, and the data paths (paths.c) build itineraries from them. Other
 * models use fabric.h, not this header.
 *
 * Layers, each using only those below it:
 *
 *   engine (this file)        servers, chunks, flows, routes, credits, gates
 *   protocols / node kinds    fab_proto tables (wire arithmetic of a link),
 *                             fab_node_kind tables (what a node does to a
 *                             route and what memory it serves)
 *   data paths (paths.c)      DMA, pageable, GDS, bounce, CXL load/store
 *   fabric (fabric.c)         the transfer API, per-path results, `xfer`
 *
 * A component belongs to the fabric when its model's `ext` points to a
 * fab_class (sim.h: sim_ext, family "fabric"); its state then starts with
 * a fab_hdr. Adding a protocol is one file pair with a fab_proto and a link
 * model whose ext names it, plus one line in models/registry.c.
 *
 * Every component the fabric moves bytes through (links, switches, hosts,
 * GPUs, SSDs, memories) holds up to FAB_MAX_RES resources: servers that
 * hold a chunk for a service time (a link direction serializing it, a DRAM
 * moving it, an SSD reading it, a CPU copying it). A resource serves one
 * chunk at a time and picks the next chunk round-robin between the flows
 * waiting at it (fab_fstep rings), so concurrent transfers share a link
 * direction fairly, chunk by chunk.
 *
 * A transfer (fab_flow) is an itinerary of steps, each a resource with a
 * cost rule and a latency paid after service (propagation + the latency of
 * the node entered). The cost of a step on a link is its protocol's wire
 * bytes of the chunk over the protocol's raw rate; on any other resource,
 * bytes over the step's rate. Chunks walk the itinerary; at most `window`
 * chunks of a flow are in flight. Forwarding is virtual cut-through at the
 * granularity of a forwarding unit (one TLP, one flit, 4 KiB elsewhere): a
 * chunk that starts service at t0 for s ps is ready at the next step at
 *     t0 + lat + max(u, s - s_next)
 * where u is the time of its first unit here and s_next its service time
 * there: the next hop starts once the first unit has arrived, but never so
 * early that it would outrun the tail. A chunk of one unit (a single TLP)
 * is therefore store-and-forward: t0 + s + lat.
 *
 * Events (all kinds below SIM_EV_USER+32 of a fabric component):
 *   FAB_EV_ARRIVE  a chunk reaches the resource a0 of the target (a1 = chunk)
 *   FAB_EV_DONE    resource a0 & 0xff of the target finishes its chunk (a
 *                  pool of servers: a0 >> 8 = its service time, a1 = chunk)
 *   FAB_EV_END     (fabric component) a chunk finished its last step (a1 = chunk)
 *   FAB_EV_CREDIT  (link) credits return to direction a0 & 1 of class
 *                  a0 >> 1; a1 = header << 40 | data credits
 *   FAB_EV_PAUSE   (link) a PFC frame reaches the sender of direction a0:
 *                  a1 = 1 pause (XOFF), 0 resume (XON)
 *   FAB_EV_FLUID   (fabric component) the next fluid flow drains (fluid.h;
 *                  a1 = the timer's generation, stale when it differs)
 *
 * Flow-control credits (a protocol with fc hooks, e.g. pcie.h): a link
 * direction with a fab_credit serves a chunk only when the receiver's
 * credits of its class cover the units in it; otherwise it serves the next
 * flow in its ring whose head chunk fits, and idles (a credit stall) when
 * none does, until credits return.
 *
 * Gates: a flow may need one of a few engines before it starts (a GPU's
 * copy engines); a fab_gate counts them and queues flows FIFO.
 *
 * Server pools: a resource with servers = c > 1 (a host's network-stack
 * cores, a NIC's Arm cores) serves up to c chunks at once, each for its
 * own service time (an M/D/c-style station); its busy time is the sum of
 * completed services (core-seconds), so utilization = busy / (c x time).
 *
 * Finite buffers (a network switch's egress ports, fab_buffer): the chunks
 * waiting at a resource hold `queued` bytes of its buffer from their
 * arrival until their service starts. A chunk that does not fit is
 * dropped (drop-tail) and its flow sends it again from its first step
 * `rto` later (the time to notice the loss: a NAK or a timeout), so the
 * drop costs the bandwidth it used upstream and the wait. A chunk
 * arriving while `ecn_k` bytes or more wait is ECN-marked (counted per
 * unit; senders do not react: no DCQCN). Lossless buffers (PFC, IEEE
 * 802.1Qbb) account the bytes each ingress link direction has waiting in
 * the node (fab_pause.held); above xoff the node sends a PAUSE that stops
 * that direction after `delay` (the frame's flight), below xon a resume:
 * a paused direction starts no chunk, whatever its destination (head-of-
 * line blocking, as real PFC). Drop granularity is the chunk: scenarios
 * that study loss use `mode: packet` or a chunk of a few packets.
 *
 * Control steps (ctl != 0): a step that carries a fixed message of
 * ctl_bytes once per flow, with the first chunk (a doorbell) or the last
 * (a completion), instead of the chunk's bytes; other chunks skip it (no
 * event, no latency: they never travel that way). Per-unit and per-message costs on rate steps price a
 * processing engine (a NIC's packet pipeline): bytes / rate + packets x
 * per_unit (+ per_msg with the first chunk), packets of unit_payload
 * counted by their first byte so pieces add up.
 *
 * Lone flows (fab_flow.fast): a flow that finds every resource of its
 * itinerary idle and plain (one server, no credits, finite buffer or PFC,
 * no other lone flow, each resource once) computes at launch the whole
 * schedule its chunks would follow - the recurrence the events would
 * evaluate, with the same arithmetic: a chunk starts at a step at
 * max(arrival, the step's previous chunk's end), is ready at the next at
 * start + lat + max(u, s - s_next), chunk c >= window is launched at the
 * END of chunk c - window - and schedules one event, the END of its last
 * chunk (a "ticket"). Its resources point to it (fab_res.lone). Nothing is
 * an event while it stays alone; its counters are settled (fab_hdr_settle)
 * when someone reads them (samples, reports) and at its end: per resource
 * in chunk order, so wire bytes sum in the order the chunks would add them.
 * When another chunk or packet enqueues at one of its resources at time t,
 * the flow is materialized: its chunks in flight become chunk objects at
 * the steps, queues and pending DONE/ARRIVE/END events they would have at
 * t (the flow's own events at times <= t counted as done), and it
 * continues as chunks (its ticket is left stale, recognised by its
 * generation); if the flow is already done with that resource, only the
 * resource is released. Results equal the chunked run's exactly, except
 * that events of equal time belonging to different components may leave
 * in another FIFO order (the chunked run pushed them at other moments).
 */
#ifndef MEMFAB_MODELS_FABRIC_ENGINE_H
#define MEMFAB_MODELS_FABRIC_ENGINE_H

#include <stdint.h>

#include "sim/sim.h"

#define FAB_MAX_RES 4
#define FAB_MAX_STEPS 48

enum { FAB_EV_ARRIVE = SIM_EV_USER, FAB_EV_DONE, FAB_EV_END, FAB_EV_NOTIFY, FAB_EV_CREDIT,
       FAB_EV_PAUSE, FAB_EV_FLUID };

/* Operations and directions of a transfer on a link. The DMA initiator
 * decides the operation (fabric.h): pulling data is a read (requests one
 * way, data back), pushing it a write. DATA is the direction the payload
 * moves in; REQ the other (read requests, write responses). */
enum { FAB_OP_WRITE = 0, FAB_OP_READ = 1 };
enum { FAB_DIR_DATA = 0, FAB_DIR_REQ = 1 };

enum { FAB_CTL_NONE = 0, FAB_CTL_FIRST, FAB_CTL_LAST };

typedef struct fab_chunk fab_chunk;
typedef struct fab_fstep fab_fstep;
typedef struct fab_flow fab_flow;
typedef struct fab_hdr fab_hdr;
typedef struct fab_lone fab_lone;   /* a lone flow's schedule (engine.c) */
typedef struct fab_fluid fab_fluid; /* the fluid flows of a fabric (fluid.h) */

/* ---- protocol and node-kind tables ------------------------------------ */

#define FAB_FC_NCLASS 3   /* credit classes a protocol may use */

/* A link protocol: the engine's only knowledge of what a link is. `cfg` is
 * the protocol's own configuration (the link state keeps it). */
typedef struct fab_proto {
    const char *name;        /* "pcie", "cxl", ... */
    /* Wire bytes of the piece [off, off + bytes) of an aligned transfer of
     * op in direction dir (payload, headers, framing, link-layer share),
     * and in *units the protocol units that start in it (TLPs, flits,
     * frames): pieces of any size must add up to the whole transfer. */
    double (*wire_bytes_at)(const void *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                            uint64_t *units);
    /* A power of two P such that wire_bytes_at (both results) depends on
     * off only through off mod P (its packet or line granule), so the
     * engine may reuse the price of an earlier chunk of the same size and
     * alignment (NULL or 0: no such promise; the price is then reused
     * only for the same offset). */
    uint64_t (*offset_period)(const void *cfg, int op, int dir);
    /* Raw bytes/s per direction after line coding. */
    double (*raw_rate)(const void *cfg);
    int packetized;          /* 1: `mode: packet` cuts transfers at its forwarding unit */
    int write_response;      /* 1: writes send a response per unit back (CXL.mem NDR) */
    int needs_port;          /* 1: both ends' node kinds must list it in `ports` (network
                              * links); 0: any node may end such a link */
    /* Flow-control credits (all NULL: none). fc_credits_at: the class and
     * the header/data credits of a piece (-1: op/dir carries none);
     * fc_max_bytes: the largest piece whose credits fit the limits (0: no
     * limit), so a chunk is capped at one pool of credits. */
    int (*fc_class)(int op, int dir);
    int (*fc_credits_at)(const void *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                         uint64_t *hdr, uint64_t *data);
    uint64_t (*fc_max_bytes)(const void *cfg, int op, int dir, uint64_t hdr_limit,
                             uint64_t data_limit);
    /* Energy of one wire bit (pJ) crossing a link direction, the
     * transmitter's and the receiver's SerDes together: the protocol's
     * default, cited in its head comment (NULL: 0). A link's `energy:`
     * parameter overrides it (FAB_LINK_ENERGY_PARAM). */
    double (*energy_pj_bit)(const void *cfg);
} fab_proto;

/* The memory service of a node that is a transfer's end. */
typedef struct fab_mem_service {
    uint32_t res;            /* resource index in the node's header */
    double rate;             /* bytes/s (0: free) */
    sim_time lat;            /* paid after service */
    uint64_t unit;           /* forwarding unit, bytes */
    int host_memory;         /* 1: host DRAM (counted as host memory crossed) */
    /* An optional per-command stage before the data leaves (after it
     * arrives, for writes): a pool of servers (a device's internal
     * parallelism, e.g. an SSD's flash dies), each holding a command for
     * bytes / cmd_rate. cmd_rate 0: none. */
    uint32_t cmd_res;        /* its resource index (a pool: servers > 1) */
    double cmd_rate;         /* bytes/s of one server */
    double cmd_spread;       /* its service varies uniformly within +-this (0: fixed) */
} fab_mem_service;

/* A node kind: what a node does to the routes through it and the memory
 * it serves as a transfer's end. */
typedef struct fab_node_kind {
    const char *name;        /* "cpu", "gpu", "nvme", ... */
    int forwards;            /* routes pass through it (root complexes, switches) */
    int entry_latency;       /* entering it costs its header latency (memories: 0,
                              * their latency is their service's) */
    /* With entry_latency: 1 when entering it over `link` costs nothing
     * (NULL: always costs). */
    int (*entry_waived)(sim *s, const fab_hdr *h, uint32_t link);
    /* The memory step of a transfer leaving (out) or entering it: 0 and
     * *svc, or -1 when it has no memory. */
    int (*memory)(sim *s, const fab_hdr *h, int out, int random, fab_mem_service *svc);
    /* The component routes to it start from (a memory hangs off its host),
     * or UINT32_MAX for itself. */
    uint32_t (*attached_to)(const fab_hdr *h);
    const char *const *ports; /* protocols of the needs_port kind it has ports for (NULL: none) */
    int ecmp;                 /* 1: equal-cost routes through it are spread by flow hash */
    /* Forwarding unit of a hop that enters it, given the link's (NULL: the
     * link's): a cut-through switch forwards after the header. */
    uint64_t (*forward_unit)(const fab_hdr *h, uint64_t link_unit);
} fab_node_kind;

/* What a fabric model's sim_model.ext points to. */
typedef struct fab_class {
    sim_ext ext;                 /* family = fab_family */
    const fab_proto *proto;      /* links: their protocol (NULL for nodes) */
    const fab_node_kind *node;   /* nodes: their kind (NULL for links) */
} fab_class;
extern const char fab_family[];  /* "fabric" */

/* ---- resources, steps, chunks ----------------------------------------- */

/* A pool of chunks, allocated in blocks that never move. */
typedef struct fab_pool {
    fab_chunk *free;    /* free list */
    void **blocks;      /* allocated blocks */
    size_t nblocks, capblocks;
    fab_lone *lone_free;/* lone-flow schedules for reuse */
    fab_lone *lone_all; /* every schedule allocated (freed by fab_pool_free) */
    uint64_t lone_gen;  /* generation of the last lone run started */
} fab_pool;

/* Flow-control credits of the receiver of one link direction. */
typedef struct fab_credit {
    /* configuration */
    uint64_t hdr_limit[FAB_FC_NCLASS];  /* header credits advertised (0: infinite) */
    uint64_t data_limit[FAB_FC_NCLASS]; /* data credits (0: infinite) */
    sim_time ret;         /* after a unit's service: latency + drain + latency + update */
    /* state */
    uint64_t hdr_avail[FAB_FC_NCLASS];  /* header credits the transmitter may use */
    uint64_t data_avail[FAB_FC_NCLASS]; /* data credits likewise */
    uint64_t updates;     /* credit updates received */
    uint64_t stalls;      /* times the direction idled with chunks waiting for credits */
    sim_time stall_ps;    /* time it idled so (closed stalls) */
    sim_time stall_since; /* start of the stall in progress */
    int stalled;          /* a stall is in progress */
} fab_credit;

/* A finite buffer at a resource's queue (a network switch's egress port). */
typedef struct fab_buffer {
    /* configuration */
    uint64_t limit;       /* bytes that may wait (0: unbounded) */
    uint64_t ecn_k;       /* mark arrivals when at least this many bytes wait (0: never) */
    int lossless;         /* 1: PFC on the ingress directions (fab_pause); 0: drop-tail */
    /* state */
    uint64_t queued;      /* bytes waiting */
    uint64_t max_queued;  /* the most that waited */
    uint64_t drops;       /* chunks dropped */
    uint64_t drop_units;  /* their packets */
    uint64_t drop_bytes;  /* their payload */
    uint64_t ecn_marks;   /* packets marked */
} fab_buffer;

/* PFC on one link direction into a node with lossless buffers. */
typedef struct fab_pause {
    /* configuration */
    uint64_t xoff, xon;   /* pause above, resume below, bytes held */
    sim_time delay;       /* a PAUSE/resume frame reaches the sender after this */
    /* state */
    uint64_t held;        /* bytes it delivered that wait in the node's buffers */
    int asked;            /* the last frame sent was a PAUSE */
    int paused;           /* the sender is paused now */
    uint64_t pauses;      /* PAUSE frames sent */
    sim_time pause_ps;    /* time paused (closed pauses) */
    sim_time pause_since; /* start of the pause in progress */
} fab_pause;

/* A server: one link direction, one memory, one SSD, one CPU copy engine. */
typedef struct fab_res {
    /* configuration */
    uint32_t owner;       /* component id that handles its events */
    uint32_t index;       /* index in the owner's header */
    const char *label;    /* "a->b", "dram", ... (owned by the header) */
    fab_credit *fc;       /* links with credits: the receiver's (NULL: none) */
    fab_buffer *buf;      /* finite buffer of its queue (NULL: unbounded) */
    fab_pause *pause;     /* PFC of this (ingress) direction (NULL: none) */
    uint32_t servers;     /* chunks served at once (0, 1: one; a pool of cores: c) */
    /* state */
    fab_fstep *ring;      /* flow steps with waiting chunks; next to serve */
    int busy;             /* every server is busy */
    uint32_t nbusy;       /* servers busy */
    fab_chunk *cur;       /* the chunk in service */
    sim_time cur_start;   /* when its service began */
    sim_time cur_svc;     /* its service time */
    uint64_t bytes;       /* payload bytes served */
    uint64_t read_bytes;  /* of which by steps of op FAB_OP_READ (a memory: bytes read
                           * out of it; the rest were written) */
    uint64_t units;       /* TLPs / flits / chunks served */
    double wire_bytes;    /* bytes of wire time (links), incl. overhead */
    sim_time busy_ps;     /* time spent serving (completed services) */
    uint64_t sample_bytes;/* payload bytes since the last sample */
    uint32_t flows;       /* transfers in progress with a step here (fabric_estimate) */
    fab_flow *lone;       /* the lone flow holding it (NULL: none); the counters above
                           * lag until fab_hdr_settle */
    fab_fstep *fluid;     /* steps of the fluid flows draining through it (fluid.h) */
    uint32_t nfluid;      /* how many */
    uint32_t pf_epoch;    /* fluid rate computation that last touched it */
    uint32_t pf_nact;     /* its unfrozen fluid flows (progressive filling) */
    double pf_load;       /* fraction of its time the rates so far use */
    double pf_act;        /* sum of the unfrozen flows' costs, ps per byte */
    int pf_quiet;         /* a DONE is serving its next chunk: the fluid flows' share
                           * of it does not change in between (fluid.h) */
} fab_res;

/* One step of an itinerary, and the queue of a flow's chunks waiting at it. */
struct fab_fstep {
    /* configuration */
    fab_res *res;         /* the server */
    const fab_proto *proto; /* links: the protocol that prices a chunk (NULL: rate) */
    const void *cfg;      /* its configuration */
    int op, dir;          /* FAB_OP_*, FAB_DIR_* */
    double rate;          /* bytes/s: the protocol's raw rate, or the server's (0: free) */
    sim_time lat;         /* paid after service */
    uint64_t unit;        /* forwarding unit, bytes (a cut-through node entered may make
                           * it smaller than a packet) */
    uint64_t packet;      /* links: the protocol's payload per packet (packet mode) */
    int payload;          /* 1: count the bytes as payload at this resource */
    double spread;        /* > 0: each chunk's service drawn uniformly within
                           * +-spread of its mean (engine.c spread) */
    int ctl;              /* FAB_CTL_*: a fixed message once per flow (0: the chunk's bytes) */
    uint64_t ctl_bytes;   /* its size */
    sim_time per_unit;    /* rate steps: processing time per packet */
    uint64_t unit_payload;/* rate steps: payload bytes per packet (0: one per chunk) */
    sim_time per_msg;     /* rate steps: processing time per flow (with the first chunk) */
    /* state */
    fab_chunk *qh, *qt;   /* waiting chunks of this flow */
    fab_fstep *rr_next, *rr_prev; /* ring at res */
    int in_ring;          /* linked in res->ring */
    fab_flow *flow;       /* owning flow (NULL: raw packets of a link) */
    uint32_t pos;         /* index in the flow */
    /* fluid flows (fluid.h): the step's totals over the flow's chunks */
    sim_time fl_svc;      /* service time of all the chunks crossing it */
    uint64_t fl_units;    /* their protocol units */
    double fl_wire;       /* their wire bytes */
    double fl_cost;       /* fl_svc / flow bytes: ps of this resource per payload byte */
    uint64_t fl_credited; /* payload bytes already counted at the resource */
    fab_fstep *fl_rnext, *fl_rprev; /* list of fluid steps at res */
    /* pricing memo (engine.c price): the last chunk priced here, as
     * fab_step_service_at returned it before any spread */
    int pm_mode;          /* 0: not set up; 1: memo on; -1: off (control steps) */
    uint64_t pm_mask;     /* offset bits the price depends on */
    uint64_t pm_key;      /* off & pm_mask, or UINT64_MAX for offset 0 */
    uint64_t pm_bytes;    /* its payload (0: empty) */
    sim_time pm_svc;      /* its service time */
    uint64_t pm_units;    /* its protocol units */
    double pm_wire;       /* its wire bytes */
    sim_time fw_svc;      /* forward-wait memo (engine.c forward_wait): service time, */
    uint64_t fw_bytes;    /* payload (0: empty) */
    sim_time fw_u;        /* and the time of its first unit */
};

struct fab_chunk {
    fab_flow *flow;       /* NULL: a raw packet */
    fab_fstep *raw;       /* raw packets: their step */
    uint32_t step;        /* step index it is at */
    uint64_t bytes;       /* payload */
    uint64_t tag;         /* flows: offset in the transfer; raw packets: sender's tag */
    uint32_t to;          /* raw packets with kind != 0: component told of the arrival */
    uint32_t kind;        /* raw packets: event kind of the arrival (0: SIM_EV_DELIVER to
                           * the far end) */
    double wire;          /* raw packets: wire bytes priced by the sender (0: by the
                           * link's protocol from `bytes`) */
    uint64_t units;       /* raw packets priced by the sender: protocol units (flits) */
    uint32_t nstep;       /* flows: step whose cost is cached below (UINT32_MAX: none) */
    sim_time nsvc;        /* its service time, priced when the chunk left the step before */
    uint64_t nunits;      /* its protocol units */
    double nwire;         /* its wire bytes */
    fab_chunk *next;      /* queue / free list */
    fab_pool *pool;       /* where it returns */
};

/* A counting semaphore over a few engines (a GPU's copy engines): flows
 * that find every engine busy wait FIFO. */
typedef struct fab_gate {
    uint64_t capacity;    /* engines (configuration) */
    uint64_t busy;        /* in use */
    fab_flow *head, *tail;/* waiting flows */
    uint64_t waits;       /* flows that had to wait */
} fab_gate;

/* A transfer: its itinerary, window and completion. Built by the data
 * paths, run by the engine, completed by the fabric component. */
struct fab_flow {
    uint32_t fab_id;            /* the fabric component (receives FAB_EV_END) */
    uint32_t nsteps;            /* steps used */
    fab_fstep st[FAB_MAX_STEPS];/* the itinerary */
    uint64_t bytes;             /* to move */
    uint64_t launched;          /* bytes put into step 0 */
    uint64_t done;              /* bytes through the last step */
    uint32_t inflight;          /* chunks launched, not done */
    uint32_t window;            /* max chunks in flight */
    uint64_t chunk;             /* chunk size */
    uint64_t inflight_cap;      /* bytes the initiator may have outstanding (a device's read
                                 * tags x request size; 0: only the window limits) */
    fab_pool *pool;             /* chunks come from here */
    int path;                   /* data path (fabric.h FABRIC_PATH_*) */
    int xclass;                 /* transfer class (fabric.h FABRIC_CLASS_*) */
    uint32_t notify, kind;      /* completion event */
    uint64_t cookie;            /* caller's tag */
    sim_time t0;                /* request time */
    double cpu_ps;              /* CPU time charged */
    double *cpu_account;        /* where the CPU time is charged at the end (or NULL) */
    double cpu_far_ps;          /* CPU time of the far end's host (RDMA: the receiver's) */
    double *cpu_far_account;    /* where that is charged (or NULL) */
    uint64_t host_mem;          /* host DRAM bytes crossed */
    double sm_count;            /* SMs a copy kernel occupies while the flow runs */
    double *sm_account;         /* where SMs x duration (ps) is charged at the end (or NULL) */
    fab_gate *gate;             /* engine it holds while it runs (or NULL) */
    uint64_t hash;              /* ECMP flow hash */
    sim_time rto;               /* a dropped chunk is sent again after this */
    uint64_t retransmits;       /* chunks sent again */
    int counted;                /* its steps count in their resources' `flows` */
    int fast;                   /* 1: may run as a lone flow (see above) */
    fab_lone *lone;             /* its schedule while it runs lone (NULL: as chunks) */
    uint64_t gen;               /* generation of its lone run (its ticket's tag) */
    fab_fluid *fluid;           /* run as a fluid flow there when its path allows (fluid.h;
                                 * NULL: as chunks) */
    fab_flow *fl_next, *fl_prev;/* fluid flows draining */
    int fl_state;               /* 0: chunks; 1: draining as a fluid; 2: drained, END pending */
    int fl_frozen;              /* progressive filling: its rate is fixed */
    double fl_rate;             /* max-min fair rate, payload bytes per ps */
    double fl_speed;            /* that rate over its rate alone (1: as fast as alone) */
    double fl_work;             /* ps of service left at its bottleneck, at the speed alone */
    sim_time fl_total;          /* its bottleneck's service of the whole flow, alone */
    sim_time fl_tail;           /* the rest of its time alone: pipeline fill, latencies */
    fab_flow *next;             /* free list / gate wait list */
};

/* The common head of every fabric component's state. */
struct fab_hdr {
    const fab_class *cls; /* what it is (set by fab_hdr_init) */
    sim_time latency;     /* nodes: traversal latency; links: propagation */
    uint32_t nres;        /* resources used */
    fab_res res[FAB_MAX_RES];
    fab_fstep raw[2];     /* links: sim_send packets per direction */
    fab_pool pool;        /* links: raw packet chunks */
    const void *cfg;      /* links: the protocol's configuration */
    double rate;          /* links: raw bytes/s per direction */
    uint64_t unit;        /* links: forwarding unit, bytes */
    double energy;        /* links: pJ per wire bit (param `energy`; SCN_AUTO until
                           * fab_link_init takes the protocol's default) */
};

/* The `energy` parameter of a link model whose state type T starts with
 * its fab_hdr `hdr` (every protocol's parameter table has it). */
#define FAB_LINK_ENERGY_PARAM(T)                                                             \
    {"energy", SIM_P_ENERGY_BIT, "auto", "pJ/bit",                                         \
     "energy per wire bit of a direction, both SerDes (auto: the protocol's default, see "  \
     "its head comment)",                                                                   \
     offsetof(T, hdr.energy), NULL}

/* ---- the engine ------------------------------------------------------- */

/* Is c one of the fabric's components? Its header then (else NULL). */
fab_hdr *fab_hdr_of(const sim_comp *c);
/* Is it a link (a component whose class has a protocol)? */
int fab_is_link(const fab_hdr *h);
/* The node kind of component id (NULL: not a fabric node). */
const fab_node_kind *fab_kind_of(sim *s, uint32_t id);

/* Configure time: a node with nres resources labelled labels[i]. */
void fab_node_init(sim_comp *c, uint32_t nres, const char *const *labels);
/* A link: both direction resources ("a->b") and raw steps, priced by the
 * protocol of c's class over cfg, with forwarding unit `unit`. Fails
 * (SIM_ESCENARIO at the link's node) when an end has no port for a
 * protocol that needs one. */
int fab_link_init(sim_comp *c, const void *cfg, uint64_t unit, sim_err *err);

/* Handle FAB_EV_ARRIVE / FAB_EV_DONE / FAB_EV_CREDIT (every fabric model's handle). */
void fab_handle(sim_comp *c, const sim_event *e);
/* sim_send for fabric links: one posted packet of `bytes`. */
int fab_link_send(sim_comp *link, int side, uint64_t bytes, uint64_t tag);
/* The same packet, whose arrival at the far end (after its queueing,
 * service and the link's latency) is told to component `to` as an event
 * of kind `kind` (a0 = bytes, a1 = tag) instead of SIM_EV_DELIVER to the
 * far end: a model that routes its own messages hop by hop (coherence
 * protocols) learns where they are. kind must not be 0. */
int fab_link_send_to(sim_comp *link, int side, uint64_t bytes, uint64_t tag, uint32_t to,
                     uint32_t kind);
/* The same, for a sender that frames its messages itself (CXL.cache slots
 * packed into flits): the packet occupies the link for `wire` bytes at its
 * raw rate and counts `units` protocol units; `bytes` is the payload the
 * link's rows count (0 for control messages). wire must be > 0. */
int fab_link_send_wire(sim_comp *link, int side, uint64_t bytes, double wire, uint64_t units,
                       uint64_t tag, uint32_t to, uint32_t kind);
/* Service time of `bytes` at a step; *units and *wire receive the count of
 * protocol units and the wire bytes (may be NULL). */
sim_time fab_step_service(const fab_fstep *st, uint64_t bytes, uint64_t *units, double *wire);
/* The same for the piece [off, off + bytes) of the step's flow (what a
 * chunk at that offset costs there). */
sim_time fab_step_service_at(const fab_fstep *st, uint64_t off, uint64_t bytes, uint64_t *units,
                             double *wire);
/* How long after a chunk of `bytes` starts its service `svc` at st (unit:
 * its forwarding unit) the next step, which serves it in `snext`, may
 * start: the first forwarding unit here (cut-through), but never so early
 * that the next step would outrun the tail still arriving. */
sim_time fab_step_forward_wait(const fab_fstep *st, sim_time svc, sim_time snext,
                               uint64_t bytes);
/* The first step at or after k that the chunk [off, off + bytes) of f
 * crosses (control steps carry one chunk's message); f->nsteps: none. */
uint32_t fab_flow_next_step(const fab_flow *f, uint64_t off, uint64_t bytes, uint32_t k);
/* Links: report the `links` rows and per-direction metrics, and the
 * energy (sim_report_energy): per direction, wire bytes x 8 x `energy`
 * pJ (metric energy_j:DIRECTION), their sum as the link's energy_j, and
 * the energy per bit used (energy_pj_bit); sample throughput. */
void fab_link_report(sim_comp *c);
void fab_link_sample(sim_comp *c, sim_time now);
/* The series fab_link_sample reports (sim_model.series of link protocols). */
extern const sim_series fab_link_series[];
/* Credit stall time of a link direction up to now (0 without credits). */
sim_time fab_fc_stall(const fab_res *r, sim_time now);
/* Busy time of a resource up to now (a service in progress counts partly). */
sim_time fab_res_busy(const fab_res *r, sim_time now);
/* Bring the counters of h's resources held by lone flows up to now: the
 * services started before now (strict) or at or before now (0). Every
 * reader of fab_res counters calls it first (samples: strict, reports: 0). */
void fab_hdr_settle(sim *s, fab_hdr *h, int strict);
/* Free what the header allocated. */
void fab_hdr_destroy(fab_hdr *h);

/* Chunk pools. */
fab_chunk *fab_pool_get(fab_pool *p);
void fab_pool_put(fab_chunk *c);
void fab_pool_free(fab_pool *p);

/* Itineraries: append a step (NULL when the flow has FAB_MAX_STEPS). */
fab_fstep *fab_flow_add_step(fab_flow *fl, fab_res *r, const fab_proto *proto,
                             const void *cfg, int op, int dir, double rate, sim_time lat,
                             uint64_t unit, int payload);
/* Append the step that crosses link `link` leaving end `side`, with op/dir;
 * its latency is the link's plus that of the node entered, its forwarding
 * unit the link's or the node's (cut-through). */
fab_fstep *fab_flow_add_hop(sim *s, fab_flow *fl, uint32_t link, int side, int op, int dir,
                            int payload);
/* Put chunks into the first step up to the window (from the flow's pool);
 * a flow with `fast` that finds its path alone runs as a lone flow. */
void fab_flow_launch(sim *s, fab_flow *fl);
/* A chunk finished its last step (the fabric's FAB_EV_END): count it and
 * launch the next; returns 1 when the flow is complete. */
int fab_flow_chunk_done(sim *s, fab_chunk *ch);

/* Gates: take an engine for fl (0), or queue it (1: it waits). Release
 * returns the flow that now holds the engine (to launch), or NULL. */
int fab_gate_enter(fab_gate *g, fab_flow *fl);
fab_flow *fab_gate_leave(fab_gate *g);

/* ---- routes ----------------------------------------------------------- */

/* The topology as adjacency lists over fabric links, built once. */
typedef struct fab_topo {
    int built;               /* adjacency built */
    uint32_t ncomps;         /* components when built */
    uint32_t *adj_off;       /* per component: start in adj (ncomps + 1 entries) */
    uint32_t *adj;           /* link ids attached, in scenario order */
    uint32_t *bfs_prev;      /* BFS scratch: link used to reach a node */
    uint32_t *bfs_q;         /* BFS scratch: queue */
    uint32_t *dist;          /* ECMP scratch: hops to the destination */
} fab_topo;

/* (Re)build when components were added. 0 or SIM_ENOMEM. */
int fab_topo_build(sim *s, fab_topo *t);
void fab_topo_free(fab_topo *t);
/* The component a transfer end is routed from (memories hang off their host). */
uint32_t fab_route_node(sim *s, uint32_t id);
/* Shortest route from a to b through forwarding nodes (breadth-first,
 * neighbours in scenario order): up to max link ids into links[], the hop
 * count in *n. 0 or SIM_ENOTFOUND. */
int fab_route_find(sim *s, fab_topo *t, uint32_t a, uint32_t b, uint32_t *links, uint32_t max,
                   uint32_t *n);
/* The same, choosing among all shortest routes hop by hop by `hash` (ECMP):
 * one hash, one route; many hashes spread over the equal-cost next hops. */
int fab_route_find_ecmp(sim *s, fab_topo *t, uint32_t a, uint32_t b, uint64_t hash,
                        uint32_t *links, uint32_t max, uint32_t *n);
/* Hops from a to every component (t->dist; UINT32_MAX: unreachable),
 * through forwarding nodes only, as fab_route_find counts them. */
void fab_route_dist(sim *s, fab_topo *t, uint32_t a);
/* Does the route links[0..n) from a pass through a node whose kind spreads
 * equal-cost routes (fab_node_kind.ecmp)? */
int fab_route_has_ecmp(sim *s, uint32_t a, const uint32_t *links, uint32_t n);

#endif
