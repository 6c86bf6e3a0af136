/*
 * nic.c - SmartNIC receive pipeline (see nic.h for what it models).
 *
 * The pipeline. Every box is a stage: a bounded queue in front of `servers`
 * identical servers. A packet that finds its stage's queue full is dropped
 * there (tail drop), except that strict_priority pushes out the newest
 * packet of a lower class instead when there is one; either way a drop
 * happens only at a full queue. A stage with 0 servers (line_rate 0,
 * parser_rate 0, arm_cores 0, dpa_threads 0) is bypassed.
 *
 *   link ──► wire queue ──► [ WIRE ] ──► rx_buffer ──► [ PARSER ] ──► pipeline
 *   (DELIVER)  (FIFO)       1 server      (sched)      1 server,      latency
 *                           (max(frame,               1/parser_rate  (parser_latency)
 *                            min_frame)+20 B)                           │
 *                           / line_rate          ┌──────────────────────┼───────────────────┐
 *                                                │ slow_path_fraction   │ accel_fraction    │ rest
 *                                                ▼                      ▼                   │ (fast path)
 *                                   arm_queue ─► [ ARM x arm_cores ]   dpa_queue ─► [ DPA x dpa_threads ]
 *                                    (sched)     service: fixed|exp|   (sched)      service dist
 *                                                lognormal + bytes/arm_bandwidth         │
 *                                                │                      │                   │
 *                                                └──────────────► rx_ring (sched) ◄─────────┘
 *                                                                       │ up to dma_batch packets,
 *                                                                       ▼ or fewer after dma_batch_timeout
 *                                                 [ DMA: dma_outstanding batches in flight ]
 *                                                   fabric_transfer(device -> deliver_to, DMA,
 *                                                   payload - strip + completion_size per batch)
 *                                                                       │ completion event
 *                                                                       ▼
 *                                                                   DELIVERED (latency sample)
 *
 * A packet's flow is drawn at arrival (Zipf of exponent flow_skew over
 * `flows`; 0 = uniform), its priority class is flow % priorities (0 is the
 * highest), and its route (arm / dpa / fast path) by the slow_path and
 * accel fractions; all from the component's own random stream.
 *
 * Packet state machine (nic_pkt.state):
 *
 *             +----------------- drop (queue full) ------------------+
 *             |                                                      v
 *   FREE --> QUEUED --> SERVICE --> PIPE --> QUEUED (next stage) ... FREE
 *     ^         |  ^       |                    |
 *     |         |  +-------+ (next stage)       v
 *     |         +------------------------------> DMA --> FREE (delivered)
 *     +---------------------------------------------------------------+
 *
 *   FREE -> QUEUED       [nic_rx -> stage_offer]   slot from the pool
 *   FREE -> FREE         [stage_offer]            dropped: queue full
 *   QUEUED -> FREE       [stage_offer]            pushed out (strict_priority, queue full)
 *   QUEUED -> SERVICE    [stage_start]            a server is free
 *   SERVICE -> PIPE      [stage_done]             parser with parser_latency
 *   SERVICE|PIPE -> next [stage_done, pipe_done -> route -> stage_offer]
 *   QUEUED -> DMA        [dma_kick -> dma_issue]  packet joins a batch
 *   DMA -> FREE          [dma_done]               delivered
 * (a bypassed stage passes the packet straight to the next one.)
 *
 * Invariant (nic_assert_state, checked after every event in debug builds):
 * each queue holds at most its capacity and each stage has at most
 * `servers` busy; arrived = delivered + dropped + in flight, where in
 * flight = queued + in service + in the parser pipeline + in DMA batches =
 * pool slots in use; periodically the pool is scanned and the count of
 * slots in each state matches those counters.
 *
 * Memory: packet descriptors live in a pool (indices, linked through
 * `next`) sized at start from the queue bounds; it only grows (doubling)
 * when those bounds exceed its initial size, so steady state allocates
 * nothing per packet (statistics samples grow geometrically).
 *
 * Simplifications: the parser is a pipelined server (one packet per
 * 1/parser_rate, then parser_latency in flight, no limit on packets in the
 * pipeline); round-robin is per packet, not byte-fair (not DRR); buffers
 * are counted in packets, not bytes; one completion entry per DMA batch
 * (compressed completions); a transfer the fabric refuses at run time
 * completes at once and is counted in dma_failures; the default
 * parser_rate and service times are assumptions, not vendor figures.
 */
#include "models/nic/nic.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "models/fabric/fabric.h"
#include "sim/mem.h"
#include "sim/stats.h"

#define NIL UINT32_MAX
#define NIC_MAX_PRIO 8
#define NIC_MAX_FLOWS 65536
#define NIC_MAX_QUEUE (1u << 24)

enum {
    NIC_EV_DONE = SIM_EV_USER, /* a server finished: a0 = stage, a1 = packet */
    NIC_EV_PIPE,               /* a packet left the parser pipeline: a1 = packet */
    NIC_EV_DMA_DONE,           /* a DMA batch completed: a0 = batch slot */
    NIC_EV_DMA_TIMER           /* a partial batch's timeout: a0 = generation */
};

enum { PKT_FREE = 0, PKT_QUEUED, PKT_SERVICE, PKT_PIPE, PKT_DMA };
enum { ROUTE_FAST = 0, ROUTE_ARM, ROUTE_DPA };
enum { DIST_FIXED, DIST_EXPONENTIAL, DIST_LOGNORMAL };
static const char *const dist_names[] = {"fixed", "exponential", "lognormal", NULL};
static const char *const stage_names[NIC_NSTAGES] = {"wire", "parser", "arm", "dpa", "dma"};

/* A packet descriptor (pool slot). */
typedef struct nic_pkt {
    sim_time arrived;   /* at the port (DELIVER from the link) */
    sim_time t;         /* entered its queue, or started service */
    uint64_t bytes;     /* frame bytes */
    uint32_t next;      /* next packet in its FIFO, batch or the free list */
    uint32_t prev;      /* previous packet in its FIFO (push-out takes the tail) */
    uint32_t flow;      /* flow id */
    uint8_t prio;       /* priority class, 0 highest */
    uint8_t route;      /* ROUTE_* */
    uint8_t state;      /* PKT_* */
    uint8_t stage;      /* stage it is queued in or served by */
} nic_pkt;

/* One FIFO of packet indices, linked through nic_pkt.next. */
typedef struct nic_fifo {
    uint32_t head, tail; /* NIL when empty */
    uint32_t len;        /* packets */
} nic_fifo;

/* A stage's queue: `ncls` FIFOs (classes); the policy maps packets to
 * classes and picks the class to serve. */
typedef struct nic_queue {
    const struct nic_sched_ops *ops; /* policy (configuration) */
    uint32_t cap;        /* bound, packets (configuration) */
    uint32_t ncls;       /* classes (configuration) */
    nic_fifo *cls;       /* [ncls] */
    uint32_t *ring;      /* round robin: nonempty classes, [ncls] */
    uint32_t rhead;      /* round robin: first of ring */
    uint32_t rlen;       /* round robin: entries in ring */
    uint32_t len;        /* packets queued, all classes */
} nic_queue;

/* ---- scheduler policies ------------------------------------------------- */

/* A policy is a small table: how many classes a queue has, which class a
 * packet goes to, what to note when a class becomes nonempty, and which
 * class to serve next. The queue mechanics (FIFOs per class) are shared. */
typedef struct nic_sched_ops {
    const char *name;    /* `scheduler:` value */
    const char *summary; /* one line */
    uint32_t (*classes)(uint32_t flows, uint32_t prios);
    uint32_t (*classify)(const nic_queue *q, const nic_pkt *p);
    void (*became_nonempty)(nic_queue *q, uint32_t cls);
    uint32_t (*pick)(nic_queue *q); /* q->len > 0; class whose head goes next */
    /* The queue is full and a packet of class cls arrives: the class whose
     * newest packet is pushed out to make room, or NIL to drop the arrival. */
    uint32_t (*push_out)(const nic_queue *q, uint32_t cls);
} nic_sched_ops;

static uint32_t one_class(uint32_t flows, uint32_t prios) { return 1; }
static uint32_t class0(const nic_queue *q, const nic_pkt *p) { return 0; }
static void note_nothing(nic_queue *q, uint32_t cls) {}
static uint32_t pick0(nic_queue *q) { return 0; }
static uint32_t tail_drop(const nic_queue *q, uint32_t cls) { return NIL; }

static const nic_sched_ops sched_fifo = {"fifo", "one FIFO in arrival order", one_class, class0,
                                         note_nothing, pick0, tail_drop};

static uint32_t flow_classes(uint32_t flows, uint32_t prios) { return flows; }
static uint32_t by_flow(const nic_queue *q, const nic_pkt *p) { return p->flow % q->ncls; }
static void rr_join(nic_queue *q, uint32_t cls)
{
    q->ring[(q->rhead + q->rlen) % q->ncls] = cls;
    q->rlen++;
}
/* The flow at the ring's head sends one packet, then goes to the back of
 * the ring if it has more. */
static uint32_t rr_pick(nic_queue *q)
{
    uint32_t cls = q->ring[q->rhead];
    q->rhead = (q->rhead + 1) % q->ncls;
    q->rlen--;
    if (q->cls[cls].len > 1)
        rr_join(q, cls);
    return cls;
}

static const nic_sched_ops sched_rr = {"round_robin",
                                       "one FIFO per flow, served one packet each in turn",
                                       flow_classes, by_flow, rr_join, rr_pick, tail_drop};

static uint32_t prio_classes(uint32_t flows, uint32_t prios) { return prios; }
static uint32_t by_prio(const nic_queue *q, const nic_pkt *p) { return p->prio; }
static uint32_t prio_pick(nic_queue *q)
{
    uint32_t c = 0;
    while (q->cls[c].len == 0)
        c++;
    return c;
}
/* A full queue makes room for a packet by pushing out the newest packet of
 * the lowest class below it (push-out buffer sharing). */
static uint32_t prio_push_out(const nic_queue *q, uint32_t cls)
{
    for (uint32_t c = q->ncls; c-- > cls + 1;)
        if (q->cls[c].len)
            return c;
    return NIL;
}

static const nic_sched_ops sched_prio = {"strict_priority",
                                         "one FIFO per class; the lowest class number first",
                                         prio_classes, by_prio, note_nothing, prio_pick,
                                         prio_push_out};

/* The registry of policies (grep here). */
static const nic_sched_ops *const nic_scheds[] = {&sched_fifo, &sched_rr, &sched_prio};
#define NSCHED (sizeof nic_scheds / sizeof nic_scheds[0])

size_t nic_sched_count(void) { return NSCHED; }

const char *nic_sched_name(size_t i) { return i < NSCHED ? nic_scheds[i]->name : NULL; }

/* ---- state ---------------------------------------------------------------- */

typedef struct nic_stage {
    /* configuration */
    uint32_t servers;    /* parallel servers, 0 = bypassed */
    /* state */
    nic_queue q;         /* waiting packets */
    uint32_t busy;       /* servers busy */
    uint64_t served;     /* services completed */
    uint64_t bytes;      /* frame bytes of those */
    uint64_t drops;      /* refused: queue full */
    uint64_t max_len;    /* highest occupancy */
    uint64_t min_len_at_drop; /* smallest occupancy seen at a drop */
    sim_time busy_ps;    /* server time of completed services */
    sim_samples wait;    /* queue -> service start, ps */
} nic_stage;

typedef struct nic_batch {
    uint32_t head;       /* packets of the batch, linked; NIL = slot free */
    uint32_t n;          /* packets */
    sim_time issued;     /* when the transfer started */
    uint32_t next_free;  /* free-slot stack */
} nic_batch;

typedef struct nic_state {
    /* configuration (YAML) */
    const char *device_name;   /* endpoint component for DMA, "" = ideal DMA */
    const char *dst_name;      /* cpu/gpu/memory the packets go to */
    double line_rate;          /* B/s, 0 = the link is the wire */
    uint64_t wire_overhead;    /* preamble + SFD + IFG, B */
    uint64_t min_frame;        /* frames are padded to this, B */
    uint64_t wire_queue;       /* packets offered beyond line rate that may wait */
    uint64_t flows;            /* flow ids */
    double flow_skew;          /* Zipf exponent of flow popularity, 0 = uniform */
    uint64_t priorities;       /* priority classes */
    const char *sched_name;    /* scheduler policy */
    double parser_rate;        /* packets/s, 0 = bypassed */
    sim_time parser_latency;   /* pipeline depth of the parser */
    uint64_t rx_buffer;        /* parser queue, packets */
    double slow_fraction;      /* to the Arm cores */
    uint64_t arm_cores;        /* 0 = none */
    sim_time arm_service;      /* mean per-packet time */
    int arm_dist;              /* DIST_* */
    double arm_sigma;          /* lognormal shape */
    double arm_bandwidth;      /* B/s of per-byte work, 0 = none */
    uint64_t arm_queue;        /* packets */
    double accel_fraction;     /* to the DPA */
    uint64_t dpa_threads;      /* 0 = no DPA */
    sim_time dpa_service;      /* mean per-packet time */
    int dpa_dist;              /* DIST_* */
    double dpa_sigma;          /* lognormal shape */
    uint64_t dpa_queue;        /* packets */
    uint64_t rx_ring;          /* DMA queue, packets */
    uint64_t dma_batch;        /* packets per DMA transfer */
    sim_time dma_timeout;      /* partial batch wait */
    uint64_t dma_outstanding;  /* transfers in flight */
    uint64_t completion_size;  /* completion entry per batch, B */
    uint64_t strip;            /* header bytes not written to memory */
    /* derived at configure/start */
    const nic_sched_ops *sched; /* the policy */
    double *flow_cdf;          /* [flows] cumulative popularity */
    uint32_t device, dst;      /* component ids when device_name is set */
    int has_device;            /* fabric DMA, else ideal */
    /* state */
    nic_stage st[NIC_NSTAGES]; /* the stages */
    nic_pkt *pool;             /* packet descriptors */
    uint32_t pool_cap;         /* slots */
    uint32_t free_head;        /* free list */
    uint64_t used;             /* slots in use (= in flight) */
    uint64_t in_pipe;          /* in the parser pipeline */
    uint64_t in_dma;           /* in DMA batches */
    nic_batch *batch;          /* [dma_outstanding] */
    uint32_t batch_free;       /* free-slot stack head */
    uint32_t dma_timer_gen;    /* invalidates stale timers */
    int dma_timer_armed;       /* a timer is pending */
    int dma_expired;           /* a partial batch may go */
    uint64_t arrived, delivered, dropped, delivered_bytes;
    uint64_t dma_transfers, dma_bytes, dma_failures;
    uint64_t oom_drops;        /* arrivals refused for lack of descriptor memory */
    uint64_t sample_delivered; /* delivered since the last sample */
    uint64_t events;           /* handled, for the periodic scan */
    uint64_t prio_delivered[NIC_MAX_PRIO], prio_drops[NIC_MAX_PRIO];
    sim_acc prio_latency[NIC_MAX_PRIO];
    sim_samples latency;       /* port arrival -> memory, ps */
} nic_state;

static const sim_param nic_params[] = {
    {"device", SIM_P_STRING, "", "",
     "endpoint component (the NIC's PCIe function) that DMAs; \"\" = ideal DMA",
     offsetof(nic_state, device_name), NULL},
    {"deliver_to", SIM_P_STRING, "", "", "cpu, gpu or memory component packets are written to",
     offsetof(nic_state, dst_name), NULL},
    {"line_rate", SIM_P_RATE, "400 Gb/s", "B/s", "port line rate (0 B/s: the link is the wire)",
     offsetof(nic_state, line_rate), NULL},
    {"wire_overhead", SIM_P_SIZE, "20 B", "B", "per frame on the wire: preamble 7 + SFD 1 + IFG 12",
     offsetof(nic_state, wire_overhead), NULL},
    {"min_frame", SIM_P_SIZE, "64 B", "B", "shortest frame (FCS included); shorter ones are padded",
     offsetof(nic_state, min_frame), NULL},
    {"wire_queue", SIM_P_UINT, "4096", "packets", "frames offered faster than line rate that may wait",
     offsetof(nic_state, wire_queue), NULL},
    {"flows", SIM_P_UINT, "16", "", "flow ids packets are spread over",
     offsetof(nic_state, flows), NULL},
    {"flow_skew", SIM_P_DOUBLE, "0", "", "Zipf exponent of flow popularity (0: uniform)",
     offsetof(nic_state, flow_skew), NULL},
    {"priorities", SIM_P_UINT, "2", "", "priority classes (flow % priorities; 0 highest), 1..8",
     offsetof(nic_state, priorities), NULL},
    {"scheduler", SIM_P_STRING, "fifo", "", "queue policy: fifo, round_robin, strict_priority",
     offsetof(nic_state, sched_name), NULL},
    {"parser_rate", SIM_P_DOUBLE, "600e6", "packets/s",
     "parser/match-action rate (0: bypassed); default an assumption",
     offsetof(nic_state, parser_rate), NULL},
    {"parser_latency", SIM_P_TIME, "200 ns", "ps", "parser pipeline latency",
     offsetof(nic_state, parser_latency), NULL},
    {"rx_buffer", SIM_P_UINT, "8192", "packets", "queue in front of the parser",
     offsetof(nic_state, rx_buffer), NULL},
    {"slow_path_fraction", SIM_P_DOUBLE, "0", "", "fraction of packets to the Arm cores",
     offsetof(nic_state, slow_fraction), NULL},
    {"arm_cores", SIM_P_UINT, "16", "", "Arm cores (BlueField-3: 16 A78)",
     offsetof(nic_state, arm_cores), NULL},
    {"arm_service", SIM_P_TIME, "2 us", "ps", "mean Arm time per packet",
     offsetof(nic_state, arm_service), NULL},
    {"arm_service_dist", SIM_P_ENUM, "exponential", "", "fixed, exponential, lognormal",
     offsetof(nic_state, arm_dist), dist_names},
    {"arm_service_sigma", SIM_P_DOUBLE, "0.5", "", "lognormal: sigma of the underlying normal",
     offsetof(nic_state, arm_sigma), NULL},
    {"arm_bandwidth", SIM_P_RATE, "0 B/s", "B/s", "per-byte Arm work (0: none)",
     offsetof(nic_state, arm_bandwidth), NULL},
    {"arm_queue", SIM_P_UINT, "4096", "packets", "queue in front of the Arm cores",
     offsetof(nic_state, arm_queue), NULL},
    {"accel_fraction", SIM_P_DOUBLE, "0", "", "fraction of packets to the DPA",
     offsetof(nic_state, accel_fraction), NULL},
    {"dpa_threads", SIM_P_UINT, "0", "", "DPA hardware threads (0: no DPA)",
     offsetof(nic_state, dpa_threads), NULL},
    {"dpa_service", SIM_P_TIME, "500 ns", "ps", "mean DPA time per packet",
     offsetof(nic_state, dpa_service), NULL},
    {"dpa_service_dist", SIM_P_ENUM, "fixed", "", "fixed, exponential, lognormal",
     offsetof(nic_state, dpa_dist), dist_names},
    {"dpa_service_sigma", SIM_P_DOUBLE, "0.5", "", "lognormal: sigma of the underlying normal",
     offsetof(nic_state, dpa_sigma), NULL},
    {"dpa_queue", SIM_P_UINT, "4096", "packets", "queue in front of the DPA",
     offsetof(nic_state, dpa_queue), NULL},
    {"rx_ring", SIM_P_UINT, "1024", "packets", "receive descriptors: queue in front of the DMA",
     offsetof(nic_state, rx_ring), NULL},
    {"dma_batch", SIM_P_UINT, "16", "packets", "packets per DMA transfer and completion",
     offsetof(nic_state, dma_batch), NULL},
    {"dma_batch_timeout", SIM_P_TIME, "1 us", "ps", "longest wait for a batch to fill",
     offsetof(nic_state, dma_timeout), NULL},
    {"dma_outstanding", SIM_P_UINT, "16", "", "DMA transfers in flight",
     offsetof(nic_state, dma_outstanding), NULL},
    {"completion_size", SIM_P_SIZE, "64 B", "B", "completion entry written per batch",
     offsetof(nic_state, completion_size), NULL},
    {"strip", SIM_P_SIZE, "0 B", "B", "header bytes of each frame not written to memory",
     offsetof(nic_state, strip), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

/* ---- wire arithmetic ------------------------------------------------------ */

sim_time nic_wire_time(double line_rate, uint64_t frame, uint64_t min_frame, uint64_t overhead)
{
    uint64_t f = frame < min_frame ? min_frame : frame;
    return (sim_time)llround((double)(f + overhead) * 1e12 / line_rate);
}

double nic_max_pps(double line_rate, uint64_t frame, uint64_t min_frame, uint64_t overhead)
{
    uint64_t f = frame < min_frame ? min_frame : frame;
    return line_rate / (double)(f + overhead);
}

/* ---- invariant -------------------------------------------------------------- */

#ifndef NDEBUG
static int nic_assert_state(const nic_state *n)
{
    uint64_t queued = 0, busy = 0;
    for (int i = 0; i < NIC_NSTAGES; i++) {
        const nic_stage *s = &n->st[i];
        assert(s->q.len <= s->q.cap);
        assert(s->busy <= s->servers);
        assert(s->servers > 0 || (s->q.len == 0 && s->busy == 0));
        queued += s->q.len;
        if (i != NIC_STAGE_DMA) /* the DMA's servers are batches: see in_dma */
            busy += s->busy;
    }
    assert(n->in_dma <= n->dma_outstanding * n->dma_batch);
    assert(n->used == queued + busy + n->in_pipe + n->in_dma);
    assert(n->arrived == n->delivered + n->dropped + n->used);
    assert(n->used <= n->pool_cap);
    if ((n->events & 0xffff) == 0) {
        /* The pool agrees with the counters. */
        uint64_t cnt[5] = {0};
        for (uint32_t i = 0; i < n->pool_cap; i++)
            cnt[n->pool[i].state]++;
        assert(cnt[PKT_QUEUED] == queued);
        assert(cnt[PKT_SERVICE] == busy);
        assert(cnt[PKT_PIPE] == n->in_pipe);
        assert(cnt[PKT_DMA] == n->in_dma);
        assert(cnt[PKT_FREE] == n->pool_cap - n->used);
    }
    return 1;
}
#endif

/* ---- pool -------------------------------------------------------------------- */

static int pool_grow(nic_state *n, uint32_t cap)
{
    nic_pkt *p = sim_realloc(n->pool, (size_t)cap * sizeof *p);
    if (!p)
        return SIM_ENOMEM;
    for (uint32_t i = n->pool_cap; i < cap; i++) {
        memset(&p[i], 0, sizeof p[i]);
        p[i].state = PKT_FREE;
        p[i].next = i + 1 < cap ? i + 1 : n->free_head;
    }
    n->free_head = n->pool_cap;
    n->pool = p;
    n->pool_cap = cap;
    return 0;
}

static uint32_t pkt_get(nic_state *n)
{
    if (n->free_head == NIL) {
        uint64_t cap = n->pool_cap ? 2 * (uint64_t)n->pool_cap : 1024;
        if (cap >= NIL || pool_grow(n, (uint32_t)cap))
            return NIL;
    }
    uint32_t i = n->free_head;
    n->free_head = n->pool[i].next;
    n->pool[i].next = NIL;
    n->used++;
    return i;
}

static void pkt_put(nic_state *n, uint32_t i)
{
    n->pool[i].state = PKT_FREE;
    n->pool[i].next = n->free_head;
    n->free_head = i;
    n->used--;
}

/* ---- queues --------------------------------------------------------------------- */

static void fifo_push(nic_state *n, nic_fifo *f, uint32_t i)
{
    n->pool[i].next = NIL;
    n->pool[i].prev = f->tail;
    if (f->tail == NIL)
        f->head = i;
    else
        n->pool[f->tail].next = i;
    f->tail = i;
    f->len++;
}

static uint32_t fifo_pop(nic_state *n, nic_fifo *f)
{
    uint32_t i = f->head;
    f->head = n->pool[i].next;
    if (f->head == NIL)
        f->tail = NIL;
    else
        n->pool[f->head].prev = NIL;
    f->len--;
    n->pool[i].next = NIL;
    return i;
}

static uint32_t fifo_pop_tail(nic_state *n, nic_fifo *f)
{
    uint32_t i = f->tail;
    f->tail = n->pool[i].prev;
    if (f->tail == NIL)
        f->head = NIL;
    else
        n->pool[f->tail].next = NIL;
    f->len--;
    n->pool[i].prev = NIL;
    return i;
}

static void queue_push(nic_state *n, nic_queue *q, uint32_t i)
{
    uint32_t c = q->ops->classify(q, &n->pool[i]);
    fifo_push(n, &q->cls[c], i);
    if (q->cls[c].len == 1)
        q->ops->became_nonempty(q, c);
    q->len++;
}

static uint32_t queue_pop(nic_state *n, nic_queue *q)
{
    uint32_t c = q->ops->pick(q);
    assert(c < q->ncls && q->cls[c].len > 0);
    q->len--;
    return fifo_pop(n, &q->cls[c]);
}

static int queue_init(nic_queue *q, const nic_sched_ops *ops, uint64_t cap, uint32_t flows,
                      uint32_t prios)
{
    q->ops = ops;
    q->cap = (uint32_t)cap;
    q->ncls = ops->classes(flows, prios);
    q->cls = sim_calloc(q->ncls, sizeof *q->cls);
    q->ring = sim_calloc(q->ncls, sizeof *q->ring);
    if (!q->cls || !q->ring)
        return SIM_ENOMEM;
    for (uint32_t c = 0; c < q->ncls; c++)
        q->cls[c].head = q->cls[c].tail = NIL;
    return 0;
}

/* ---- stages ---------------------------------------------------------------------- */

static void stage_offer(sim_comp *c, int s, uint32_t i);
static void dma_kick(sim_comp *c);

static sim_time draw(sim_comp *c, int dist, sim_time mean, double sigma)
{
    switch (dist) {
    case DIST_EXPONENTIAL:
        return (sim_time)llround(gsl_ran_exponential(c->rng, (double)mean));
    case DIST_LOGNORMAL:
        return (sim_time)llround(
            gsl_ran_lognormal(c->rng, log((double)mean) - sigma * sigma / 2, sigma));
    default: return mean;
    }
}

static sim_time service_time(sim_comp *c, int s, const nic_pkt *p)
{
    nic_state *n = c->state;
    switch (s) {
    case NIC_STAGE_WIRE:
        return nic_wire_time(n->line_rate, p->bytes, n->min_frame, n->wire_overhead);
    case NIC_STAGE_PARSER: return (sim_time)llround(1e12 / n->parser_rate);
    case NIC_STAGE_ARM: {
        sim_time t = draw(c, n->arm_dist, n->arm_service, n->arm_sigma);
        if (n->arm_bandwidth > 0)
            t += (sim_time)llround((double)p->bytes * 1e12 / n->arm_bandwidth);
        return t;
    }
    case NIC_STAGE_DPA: return draw(c, n->dpa_dist, n->dpa_service, n->dpa_sigma);
    default: return 0;
    }
}

/* QUEUED (or arriving) -> SERVICE. */
static void stage_start(sim_comp *c, int s, uint32_t i)
{
    nic_state *n = c->state;
    nic_stage *st = &n->st[s];
    nic_pkt *p = &n->pool[i];
    sim_time now = sim_now(c->sim);
    sim_samples_add(&st->wait, (double)(now - p->t));
    p->state = PKT_SERVICE;
    p->stage = (uint8_t)s;
    p->t = now;
    st->busy++;
    sim_schedule(c->sim, service_time(c, s, p), c->id, NIC_EV_DONE, (uint64_t)s, i);
}

static void drop(nic_state *n, nic_stage *st, uint32_t i)
{
    if (st->q.len < st->min_len_at_drop)
        st->min_len_at_drop = st->q.len;
    st->drops++;
    n->dropped++;
    n->prio_drops[n->pool[i].prio]++;
    pkt_put(n, i);
}

/* The stage after the parser, by the packet's route. */
static void route(sim_comp *c, uint32_t i)
{
    nic_state *n = c->state;
    int r = n->pool[i].route;
    stage_offer(c, r == ROUTE_ARM ? NIC_STAGE_ARM : r == ROUTE_DPA ? NIC_STAGE_DPA : NIC_STAGE_DMA,
                i);
}

/* A packet enters stage s: served at once, queued, or dropped. */
static void stage_offer(sim_comp *c, int s, uint32_t i)
{
    nic_state *n = c->state;
    nic_stage *st = &n->st[s];
    nic_pkt *p = &n->pool[i];
    if (st->servers == 0) { /* bypassed */
        if (s == NIC_STAGE_PARSER)
            route(c, i);
        else if (s == NIC_STAGE_WIRE)
            stage_offer(c, NIC_STAGE_PARSER, i);
        else
            stage_offer(c, NIC_STAGE_DMA, i);
        return;
    }
    p->t = sim_now(c->sim);
    p->stage = (uint8_t)s;
    if (s != NIC_STAGE_DMA && st->busy < st->servers && st->q.len == 0) {
        stage_start(c, s, i);
        return;
    }
    if (st->q.len >= st->q.cap) {
        /* Full: the policy may push a queued packet out for it. */
        nic_queue *q = &st->q;
        uint32_t v = q->ops->push_out(q, q->ops->classify(q, p));
        if (v == NIL) {
            drop(n, st, i);
            return;
        }
        drop(n, st, fifo_pop_tail(n, &q->cls[v]));
        q->len--;
    }
    p->state = PKT_QUEUED;
    queue_push(n, &st->q, i);
    if (st->q.len > st->max_len)
        st->max_len = st->q.len;
    if (s == NIC_STAGE_DMA)
        dma_kick(c);
}

/* SERVICE -> PIPE or the next stage; the freed server takes the next packet. */
static void stage_done(sim_comp *c, int s, uint32_t i)
{
    nic_state *n = c->state;
    nic_stage *st = &n->st[s];
    nic_pkt *p = &n->pool[i];
    sim_time now = sim_now(c->sim);
    st->busy--;
    st->served++;
    st->bytes += p->bytes;
    st->busy_ps += now - p->t;
    if (st->q.len)
        stage_start(c, s, queue_pop(n, &st->q));
    switch (s) {
    case NIC_STAGE_WIRE: stage_offer(c, NIC_STAGE_PARSER, i); break;
    case NIC_STAGE_PARSER:
        if (n->parser_latency) {
            p->state = PKT_PIPE;
            n->in_pipe++;
            sim_schedule(c->sim, n->parser_latency, c->id, NIC_EV_PIPE, 0, i);
        } else {
            route(c, i);
        }
        break;
    default: stage_offer(c, NIC_STAGE_DMA, i); break;
    }
}

/* ---- DMA --------------------------------------------------------------------------- */

static void dma_issue(sim_comp *c, uint32_t npk)
{
    nic_state *n = c->state;
    nic_stage *st = &n->st[NIC_STAGE_DMA];
    sim_time now = sim_now(c->sim);
    uint32_t b = n->batch_free;
    nic_batch *bt = &n->batch[b];
    n->batch_free = bt->next_free;
    bt->head = NIL;
    bt->n = 0;
    bt->issued = now;
    uint64_t bytes = n->completion_size;
    uint32_t tail = NIL;
    for (uint32_t k = 0; k < npk; k++) {
        uint32_t i = queue_pop(n, &st->q);
        nic_pkt *p = &n->pool[i];
        sim_samples_add(&st->wait, (double)(now - p->t));
        p->state = PKT_DMA;
        p->t = now;
        if (tail == NIL)
            bt->head = i;
        else
            n->pool[tail].next = i;
        tail = i;
        bt->n++;
        bytes += p->bytes > n->strip ? p->bytes - n->strip : 0;
    }
    st->busy++;
    n->in_dma += npk;
    n->dma_bytes += bytes;
    int rc = -1;
    if (n->has_device)
        rc = fabric_transfer_class(c->sim, FABRIC_CLASS_NETWORK, n->device, n->dst, bytes,
                                   FABRIC_PATH_DMA, c->id,
                             NIC_EV_DMA_DONE, b);
    if (rc) {
        if (n->has_device)
            n->dma_failures++;
        sim_schedule(c->sim, 0, c->id, NIC_EV_DMA_DONE, b, 0);
    }
}

/* Issue every batch that may go: full ones, and a partial one once the
 * timeout has expired; arm the timer for a partial batch. */
static void dma_kick(sim_comp *c)
{
    nic_state *n = c->state;
    nic_stage *st = &n->st[NIC_STAGE_DMA];
    while (st->busy < st->servers && st->q.len > 0 &&
           (st->q.len >= n->dma_batch || n->dma_expired)) {
        uint32_t k = st->q.len < n->dma_batch ? st->q.len : (uint32_t)n->dma_batch;
        dma_issue(c, k);
        n->dma_expired = 0;
        n->dma_timer_armed = 0;
        n->dma_timer_gen++;
    }
    if (st->q.len > 0 && st->q.len < n->dma_batch && !n->dma_timer_armed && !n->dma_expired) {
        n->dma_timer_armed = 1;
        sim_schedule(c->sim, n->dma_timeout, c->id, NIC_EV_DMA_TIMER, n->dma_timer_gen, 0);
    }
}

/* DMA -> FREE: the batch is in memory. */
static void dma_done(sim_comp *c, uint32_t b)
{
    nic_state *n = c->state;
    nic_stage *st = &n->st[NIC_STAGE_DMA];
    nic_batch *bt = &n->batch[b];
    sim_time now = sim_now(c->sim);
    uint32_t i = bt->head;
    while (i != NIL) {
        nic_pkt *p = &n->pool[i];
        uint32_t next = p->next;
        double lat = (double)(now - p->arrived);
        sim_samples_add(&n->latency, lat);
        sim_acc_add(&n->prio_latency[p->prio], lat);
        n->prio_delivered[p->prio]++;
        n->delivered++;
        n->delivered_bytes += p->bytes;
        n->sample_delivered++;
        st->bytes += p->bytes;
        n->in_dma--;
        pkt_put(n, i);
        i = next;
    }
    st->served += bt->n;
    st->busy--;
    st->busy_ps += now - bt->issued;
    n->dma_transfers++;
    bt->head = NIL;
    bt->n = 0;
    bt->next_free = n->batch_free;
    n->batch_free = b;
    dma_kick(c);
}

/* ---- arrival -------------------------------------------------------------------------- */

static uint32_t draw_flow(sim_comp *c)
{
    nic_state *n = c->state;
    if (n->flows == 1)
        return 0;
    double u = gsl_rng_uniform(c->rng);
    if (!n->flow_cdf)
        return (uint32_t)(u * (double)n->flows);
    uint32_t lo = 0, hi = (uint32_t)n->flows - 1;
    while (lo < hi) { /* first flow whose cdf exceeds u */
        uint32_t mid = lo + (hi - lo) / 2;
        if (n->flow_cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* FREE -> a stage: a frame arrives from the link. */
static void nic_rx(sim_comp *c, uint64_t bytes)
{
    nic_state *n = c->state;
    uint32_t i = pkt_get(n);
    n->arrived++;
    if (i == NIL) {
        /* Out of memory for descriptors is not a modelled drop (the queue
         * limits are): counted apart, and the run fails with the reason
         * rather than ending 'complete' with packets lost (issue 19). */
        n->dropped++;
        n->oom_drops++;
        sim_fail(c->sim, SIM_ENOMEM, "%s: out of memory for packet descriptors (%llu in use)",
                 c->name, (unsigned long long)n->used);
        return;
    }
    nic_pkt *p = &n->pool[i];
    p->arrived = sim_now(c->sim);
    p->bytes = bytes;
    p->flow = draw_flow(c);
    p->prio = (uint8_t)(p->flow % n->priorities);
    double u = (n->slow_fraction > 0 || n->accel_fraction > 0) ? gsl_rng_uniform(c->rng) : 1.0;
    p->route = u < n->slow_fraction                       ? ROUTE_ARM
               : u < n->slow_fraction + n->accel_fraction ? ROUTE_DPA
                                                          : ROUTE_FAST;
    stage_offer(c, NIC_STAGE_WIRE, i);
}

static void nic_handle(sim_comp *c, const sim_event *e)
{
    nic_state *n = c->state;
    n->events++;
    switch (e->kind) {
    case SIM_EV_DELIVER: nic_rx(c, e->a0); break;
    case NIC_EV_DONE: stage_done(c, (int)e->a0, (uint32_t)e->a1); break;
    case NIC_EV_PIPE:
        n->in_pipe--;
        route(c, (uint32_t)e->a1);
        break;
    case NIC_EV_DMA_DONE: dma_done(c, (uint32_t)e->a0); break;
    case NIC_EV_DMA_TIMER:
        if ((uint32_t)e->a0 == n->dma_timer_gen && n->dma_timer_armed) {
            n->dma_timer_armed = 0;
            n->dma_expired = 1;
            dma_kick(c);
        }
        break;
    default: break;
    }
    assert(nic_assert_state(n));
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int nic_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    nic_state *n = c->state;
#define BAD(key, ...) return scn_error(err, node && scn_map_get(node, key) ? scn_map_get(node, key) : node, __VA_ARGS__)
    n->sched = NULL;
    for (size_t i = 0; i < NSCHED; i++)
        if (strcmp(n->sched_name, nic_scheds[i]->name) == 0)
            n->sched = nic_scheds[i];
    if (!n->sched) {
        const char *names[NSCHED + 1];
        for (size_t i = 0; i < NSCHED; i++)
            names[i] = nic_scheds[i]->name;
        names[NSCHED] = NULL;
        const char *s = scn_suggest(n->sched_name, names);
        BAD("scheduler", "nic '%s': unknown scheduler '%s'%s%s%s (fifo, round_robin, strict_priority)",
            c->name, n->sched_name, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
    }
    if (!(n->line_rate >= 0) || isinf(n->line_rate))
        BAD("line_rate", "nic '%s': line_rate must be a finite rate >= 0", c->name);
    if (n->flows < 1 || n->flows > NIC_MAX_FLOWS)
        BAD("flows", "nic '%s': flows must be in 1..%d", c->name, NIC_MAX_FLOWS);
    if (!(n->flow_skew >= 0) || isinf(n->flow_skew))
        BAD("flow_skew", "nic '%s': flow_skew must be >= 0", c->name);
    if (n->priorities < 1 || n->priorities > NIC_MAX_PRIO)
        BAD("priorities", "nic '%s': priorities must be in 1..%d", c->name, NIC_MAX_PRIO);
    if (!(n->parser_rate >= 0) || isinf(n->parser_rate))
        BAD("parser_rate", "nic '%s': parser_rate must be a finite rate >= 0 (packets/s)",
            c->name);
    if (n->parser_rate > 0 && n->parser_rate > 1e12)
        BAD("parser_rate", "nic '%s': parser_rate above 1e12 packets/s (1 ps per packet)",
            c->name);
    if (!(n->slow_fraction >= 0 && n->slow_fraction <= 1))
        BAD("slow_path_fraction", "nic '%s': slow_path_fraction must be in [0, 1]", c->name);
    if (!(n->accel_fraction >= 0 && n->accel_fraction <= 1))
        BAD("accel_fraction", "nic '%s': accel_fraction must be in [0, 1]", c->name);
    if (n->slow_fraction + n->accel_fraction > 1 + 1e-12)
        BAD("accel_fraction", "nic '%s': slow_path_fraction + accel_fraction exceeds 1", c->name);
    if (n->slow_fraction > 0 && n->arm_cores == 0)
        BAD("arm_cores", "nic '%s': slow_path_fraction > 0 needs arm_cores > 0", c->name);
    if (n->accel_fraction > 0 && n->dpa_threads == 0)
        BAD("dpa_threads", "nic '%s': accel_fraction > 0 needs dpa_threads > 0", c->name);
    if (n->arm_cores > 4096 || n->dpa_threads > 4096)
        BAD(n->arm_cores > 4096 ? "arm_cores" : "dpa_threads",
            "nic '%s': at most 4096 Arm cores or DPA threads", c->name);
    if (n->arm_dist == DIST_LOGNORMAL && !(n->arm_sigma > 0))
        BAD("arm_service_sigma", "nic '%s': arm_service_sigma must be positive", c->name);
    if (n->dpa_dist == DIST_LOGNORMAL && !(n->dpa_sigma > 0))
        BAD("dpa_service_sigma", "nic '%s': dpa_service_sigma must be positive", c->name);
    if (n->arm_cores && n->arm_service == 0 && n->arm_bandwidth <= 0 &&
        n->arm_dist == DIST_LOGNORMAL)
        BAD("arm_service", "nic '%s': lognormal arm_service must be positive", c->name);
    if (n->dpa_threads && n->dpa_service == 0 && n->dpa_dist == DIST_LOGNORMAL)
        BAD("dpa_service", "nic '%s': lognormal dpa_service must be positive", c->name);
    static const struct { const char *key; size_t off; } qs[] = {
        {"wire_queue", offsetof(nic_state, wire_queue)},
        {"rx_buffer", offsetof(nic_state, rx_buffer)},
        {"arm_queue", offsetof(nic_state, arm_queue)},
        {"dpa_queue", offsetof(nic_state, dpa_queue)},
        {"rx_ring", offsetof(nic_state, rx_ring)}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        uint64_t v = *(const uint64_t *)((const char *)n + qs[i].off);
        if (v < 1 || v > NIC_MAX_QUEUE)
            BAD(qs[i].key, "nic '%s': %s must be in 1..%u packets", c->name, qs[i].key,
                NIC_MAX_QUEUE);
    }
    if (n->dma_batch < 1 || n->dma_batch > 65536)
        BAD("dma_batch", "nic '%s': dma_batch must be in 1..65536", c->name);
    if (n->dma_outstanding < 1 || n->dma_outstanding > 65536)
        BAD("dma_outstanding", "nic '%s': dma_outstanding must be in 1..65536", c->name);
    if (*n->device_name && !*n->dst_name)
        BAD("deliver_to", "nic '%s': 'device' needs 'deliver_to' (a cpu, gpu or memory)",
            c->name);
    if (!*n->device_name && *n->dst_name)
        BAD("device", "nic '%s': 'deliver_to' needs 'device' (the NIC's endpoint component)",
            c->name);
#undef BAD
    if (n->flow_skew > 0 && n->flows > 1) {
        n->flow_cdf = sim_alloc(n->flows * sizeof *n->flow_cdf);
        if (!n->flow_cdf)
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "nic '%s': out of memory", c->name);
        double sum = 0;
        for (uint64_t f = 0; f < n->flows; f++)
            n->flow_cdf[f] = (sum += pow((double)(f + 1), -n->flow_skew));
        for (uint64_t f = 0; f < n->flows; f++)
            n->flow_cdf[f] /= sum;
        n->flow_cdf[n->flows - 1] = 1.0;
    }
    return 0;
}

static int nic_start(sim_comp *c, sim_err *err)
{
    nic_state *n = c->state;
    const scn_node *node = c->node;
    if (*n->device_name) {
        sim_comp *d = sim_find(c->sim, n->device_name), *m = sim_find(c->sim, n->dst_name);
        if (!d || strcmp(d->model->type, "endpoint"))
            return scn_error(err, node ? scn_map_get(node, "device") : NULL,
                             "nic '%s': device '%s' is not an endpoint component", c->name,
                             n->device_name);
        if (!m || (strcmp(m->model->type, "cpu") && strcmp(m->model->type, "gpu") &&
                   strcmp(m->model->type, "memory")))
            return scn_error(err, node ? scn_map_get(node, "deliver_to") : NULL,
                             "nic '%s': deliver_to '%s' is not a cpu, gpu or memory component",
                             c->name, n->dst_name);
        uint32_t links[16], nl;
        if (fabric_route(c->sim, d->id, m->id, links, 16, &nl))
            return scn_error(err, node ? scn_map_get(node, "deliver_to") : NULL,
                             "nic '%s': no fabric route from '%s' to '%s'", c->name,
                             n->device_name, n->dst_name);
        n->device = d->id;
        n->dst = m->id;
        n->has_device = 1;
    }
    uint32_t flows = (uint32_t)n->flows, prios = (uint32_t)n->priorities;
    const uint64_t caps[NIC_NSTAGES] = {n->wire_queue, n->rx_buffer, n->arm_queue, n->dpa_queue,
                                        n->rx_ring};
    n->st[NIC_STAGE_WIRE].servers = n->line_rate > 0;
    n->st[NIC_STAGE_PARSER].servers = n->parser_rate > 0;
    n->st[NIC_STAGE_ARM].servers = (uint32_t)n->arm_cores;
    n->st[NIC_STAGE_DPA].servers = (uint32_t)n->dpa_threads;
    n->st[NIC_STAGE_DMA].servers = (uint32_t)n->dma_outstanding;
    uint64_t bound = n->dma_outstanding * n->dma_batch;
    for (int s = 0; s < NIC_NSTAGES; s++) {
        /* The wire is one FIFO whatever the policy: frames leave it in order. */
        const nic_sched_ops *ops = s == NIC_STAGE_WIRE ? &sched_fifo : n->sched;
        if (queue_init(&n->st[s].q, ops, caps[s], flows, prios))
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "nic '%s': out of memory", c->name);
        n->st[s].min_len_at_drop = UINT64_MAX;
        if (n->st[s].servers)
            bound += caps[s] + n->st[s].servers;
    }
    if (n->st[NIC_STAGE_PARSER].servers)
        bound += (uint64_t)ceil(sim_time_to_s(n->parser_latency) * n->parser_rate) + 2;
    n->batch = sim_calloc(n->dma_outstanding, sizeof *n->batch);
    if (!n->batch)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "nic '%s': out of memory", c->name);
    for (uint32_t b = 0; b < n->dma_outstanding; b++) {
        n->batch[b].head = NIL;
        n->batch[b].next_free = b + 1 < n->dma_outstanding ? b + 1 : NIL;
    }
    n->batch_free = 0;
    n->free_head = NIL;
    if (pool_grow(n, (uint32_t)(bound < 65536 ? bound : 65536)))
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "nic '%s': out of memory", c->name);
    return 0;
}

static void nic_sample(sim_comp *c, sim_time now)
{
    nic_state *n = c->state;
    char name[64];
    for (int s = 0; s < NIC_NSTAGES; s++) {
        if (!n->st[s].servers)
            continue;
        snprintf(name, sizeof name, "queue:%s", stage_names[s]);
        sim_report_timeseries(c->sim, c->name, name, now, (double)n->st[s].q.len);
    }
    double iv = sim_time_to_s(sim_sample_interval(c->sim));
    sim_report_timeseries(c->sim, c->name, "packet_rate", now,
                          iv > 0 ? (double)n->sample_delivered / iv : 0.0);
    n->sample_delivered = 0;
}

int nic_get_stats(const sim_comp *c, nic_stats *out)
{
    if (!c || c->model != &nic_model || !out)
        return SIM_EINVAL;
    const nic_state *n = c->state;
    memset(out, 0, sizeof *out);
    out->arrived = n->arrived;
    out->delivered = n->delivered;
    out->dropped = n->dropped;
    out->in_flight = n->used;
    out->dma_transfers = n->dma_transfers;
    out->dma_bytes = n->dma_bytes;
    out->latency_mean_s = n->latency.acc.mean * 1e-12;
    for (int s = 0; s < NIC_NSTAGES; s++) {
        const nic_stage *st = &n->st[s];
        nic_stage_stats *o = &out->stage[s];
        o->name = stage_names[s];
        o->servers = st->servers;
        o->capacity = st->q.cap;
        o->served = st->served;
        o->drops = st->drops;
        o->queued = st->q.len;
        o->busy = st->busy;
        o->max_queued = st->max_len;
        o->min_len_at_drop = st->min_len_at_drop;
        o->wait_mean_s = st->wait.acc.mean * 1e-12;
    }
    return 0;
}

static int nic_finish(sim_comp *c, sim_err *err)
{
    nic_state *n = c->state;
    sim *s = c->sim;
    sim_time now = sim_now(s);
    double el = sim_time_to_s(now);
    char name[96];
    /* Server time of services still running counts up to now. */
    sim_time open[NIC_NSTAGES] = {0};
    for (uint32_t i = 0; i < n->pool_cap; i++)
        if (n->pool[i].state == PKT_SERVICE)
            open[n->pool[i].stage] += now - n->pool[i].t;
    for (uint32_t b = 0; b < n->dma_outstanding; b++)
        if (n->batch[b].head != NIL)
            open[NIC_STAGE_DMA] += now - n->batch[b].issued;
    for (int k = 0; k < NIC_NSTAGES; k++) {
        nic_stage *st = &n->st[k];
        const char *sn = stage_names[k];
        if (!st->servers)
            continue;
#define M(suffix, v, unit)                                   \
    do {                                                     \
        snprintf(name, sizeof name, "%s:%s", sn, suffix);    \
        sim_report_metric(s, c->name, name, (v), unit);      \
    } while (0)
        M("served", (double)st->served, "packets");
        M("drops", (double)st->drops, "packets");
        M("throughput", el > 0 ? (double)st->served / el : 0.0, "packets/s");
        M("throughput_bytes", el > 0 ? (double)st->bytes / el : 0.0, "B/s");
        M("utilization",
          el > 0 ? (double)(st->busy_ps + open[k]) / ((double)st->servers * (double)now) : 0.0,
          "");
        M("queued_at_end", (double)st->q.len, "packets");
        M("max_queued", (double)st->max_len, "packets");
#undef M
        snprintf(name, sizeof name, "%s:wait", sn);
        sim_samples_report(s, c->name, name, &st->wait, 1e-12, "s");
    }
    sim_report_metric(s, c->name, "arrived", (double)n->arrived, "packets");
    sim_report_metric(s, c->name, "delivered", (double)n->delivered, "packets");
    sim_report_metric(s, c->name, "dropped", (double)n->dropped, "packets");
    sim_report_metric(s, c->name, "in_flight", (double)n->used, "packets");
    sim_report_metric(s, c->name, "arrival_rate", el > 0 ? (double)n->arrived / el : 0.0,
                      "packets/s");
    sim_report_metric(s, c->name, "packet_rate", el > 0 ? (double)n->delivered / el : 0.0,
                      "packets/s");
    sim_report_metric(s, c->name, "throughput",
                      el > 0 ? (double)n->delivered_bytes / el : 0.0, "B/s");
    sim_report_metric(s, c->name, "dma_transfers", (double)n->dma_transfers, "");
    sim_report_metric(s, c->name, "dma_bytes", (double)n->dma_bytes, "B");
    sim_report_metric(s, c->name, "dma_failures", (double)n->dma_failures, "");
    sim_report_metric(s, c->name, "oom_drops", (double)n->oom_drops, "packets");
    sim_samples_report(s, c->name, "latency", &n->latency, 1e-12, "s");
    for (uint64_t p = 0; p < n->priorities; p++) {
        snprintf(name, sizeof name, "prio%llu:delivered", (unsigned long long)p);
        sim_report_metric(s, c->name, name, (double)n->prio_delivered[p], "packets");
        snprintf(name, sizeof name, "prio%llu:drops", (unsigned long long)p);
        sim_report_metric(s, c->name, name, (double)n->prio_drops[p], "packets");
        if (n->prio_latency[p].n) {
            snprintf(name, sizeof name, "prio%llu:latency_mean", (unsigned long long)p);
            sim_report_metric(s, c->name, name, n->prio_latency[p].mean * 1e-12, "s");
        }
    }
    return 0;
}

static void nic_destroy(sim_comp *c)
{
    nic_state *n = c->state;
    for (int s = 0; s < NIC_NSTAGES; s++) {
        sim_free(n->st[s].q.cls);
        sim_free(n->st[s].q.ring);
        sim_samples_free(&n->st[s].wait);
    }
    sim_free(n->pool);
    sim_free(n->batch);
    sim_free(n->flow_cdf);
    sim_samples_free(&n->latency);
}

/* Time series of sim_model.series. */
static const sim_series nic_series[] = {
    {"queue:*", "packets", "packets waiting at a pipeline stage"},
    {"packet_rate", "packets/s", "packets delivered in the interval, per second"},
    {NULL, NULL, NULL}};

const sim_model nic_model = {
    .type = "nic",
    .summary = "SmartNIC receive pipeline: port, parser, Arm cores, DPA, DMA to memory over the fabric",
    .params = nic_params,
    .state_size = sizeof(nic_state),
    .configure = nic_configure,
    .start = nic_start,
    .handle = nic_handle,
    .sample = nic_sample,
    .series = nic_series,
    .finish = nic_finish,
    .destroy = nic_destroy,
};
