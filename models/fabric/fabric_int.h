/*
 * fabric_int.h - the fabric engine shared by the fabric's own models
 * (pcie.c, cxl.c, fabdev.c, fabric.c). Not for other models: they use
 * fabric.h.
 *
 * Every component the fabric moves bytes through (links, switches, hosts,
 * GPUs, SSDs, memories) starts its state with a fab_hdr. A header holds up
 * to FAB_MAX_RES resources: servers that hold a chunk for a service time
 * (a link direction serializing it, a DRAM moving it, an SSD reading it, a
 * CPU copying it). A resource serves one chunk at a time and picks the next
 * chunk round-robin between the flows waiting at it (fab_fstep rings), so
 * concurrent transfers share a link direction fairly, chunk by chunk.
 *
 * A transfer (fab_flow) is an itinerary of steps, each a resource with a
 * cost rule and a latency paid after service (propagation + the latency of
 * the node entered). Chunks walk the itinerary; at most `window` bytes of a
 * flow are in flight. Forwarding is virtual cut-through at the granularity
 * of a forwarding unit (one TLP, one flit, 4 KiB elsewhere): a chunk that
 * starts service at t0 for s ps is ready at the next step at
 *     t0 + lat + max(u, s - s_next)
 * where u is the time of its first unit here and s_next its service time
 * there: the next hop starts once the first unit has arrived, but never so
 * early that it would outrun the tail. A chunk of one unit (a single TLP)
 * is therefore store-and-forward: t0 + s + lat.
 *
 * Events (all kinds below SIM_EV_USER+32 of a fabric component):
 *   FAB_EV_ARRIVE  a chunk reaches the resource a0 of the target (a1 = chunk)
 *   FAB_EV_DONE    resource a0 of the target finishes its chunk
 *   FAB_EV_END     (fabric component) a chunk finished its last step (a1 = chunk)
 *   FAB_EV_CREDIT  (pcie link) an UpdateFC returns credits to direction
 *                  a0 & 1 of class a0 >> 1; a1 = header << 40 | data credits
 *
 * Flow-control credits (pcie.h): a link direction with a fab_credit serves
 * a chunk only when the receiver's credits of its class cover the TLPs in
 * it; otherwise it serves the next flow in its ring whose head chunk fits,
 * and idles (a credit stall) when none does, until an UpdateFC arrives.
 */
#ifndef MEMFAB_MODELS_FABRIC_INT_H
#define MEMFAB_MODELS_FABRIC_INT_H

#include <stdint.h>

#include "sim/sim.h"

#define FAB_MAX_RES 3
#define FAB_MAX_STEPS 48

enum { FAB_EV_ARRIVE = SIM_EV_USER, FAB_EV_DONE, FAB_EV_END, FAB_EV_NOTIFY, FAB_EV_CREDIT };

/* Kinds of fabric components. */
enum {
    FAB_K_NONE = 0,
    FAB_K_PCIE, FAB_K_CXL, FAB_K_UPI,           /* links */
    FAB_K_CPU, FAB_K_GPU, FAB_K_NVME, FAB_K_MEM, FAB_K_ENDPOINT, /* end points */
    FAB_K_PSWITCH, FAB_K_CSWITCH                 /* switches */
};

/* Cost rules of a step. */
enum {
    FAB_C_RATE,       /* bytes / rate (0 rate: free) */
    FAB_C_PCIE,       /* pcie_wire_time(cfg, op, bytes, dir) */
    FAB_C_CXL         /* cxl_wire_time(cfg, op, bytes, dir) */
};

typedef struct fab_chunk fab_chunk;
typedef struct fab_fstep fab_fstep;
typedef struct fab_flow fab_flow;

/* A pool of chunks, allocated in blocks that never move. */
typedef struct fab_pool {
    fab_chunk *free;    /* free list */
    void **blocks;      /* allocated blocks */
    size_t nblocks, capblocks;
} fab_pool;

/* Flow-control credits of the receiver of one PCIe link direction. */
#define FAB_FC_NCLASS 3   /* posted, non-posted, completion (PCIE_FC_*) */
typedef struct fab_credit {
    /* configuration */
    uint64_t hdr_limit[FAB_FC_NCLASS];  /* header credits advertised (0: infinite) */
    uint64_t data_limit[FAB_FC_NCLASS]; /* data credits, 16 B each (0: infinite) */
    sim_time ret;         /* after a TLP's service: latency + drain + latency + UpdateFC */
    /* state */
    uint64_t hdr_avail[FAB_FC_NCLASS];  /* header credits the transmitter may use */
    uint64_t data_avail[FAB_FC_NCLASS]; /* data credits likewise */
    uint64_t updates;     /* UpdateFC DLLPs received */
    uint64_t stalls;      /* times the direction idled with chunks waiting for credits */
    sim_time stall_ps;    /* time it idled so (closed stalls) */
    sim_time stall_since; /* start of the stall in progress */
    int stalled;          /* a stall is in progress */
} fab_credit;

/* A server: one link direction, one memory, one SSD, one CPU copy engine. */
typedef struct fab_res {
    /* configuration */
    uint32_t owner;       /* component id that handles its events */
    uint32_t index;       /* index in the owner's header */
    const char *label;    /* "a->b", "dram", ... (owned by the model) */
    fab_credit *fc;       /* PCIe links with credits: the receiver's (NULL: none) */
    /* state */
    fab_fstep *ring;      /* flow steps with waiting chunks; next to serve */
    int busy;             /* a chunk is in service */
    fab_chunk *cur;       /* the chunk in service */
    sim_time cur_start;   /* when its service began */
    sim_time cur_svc;     /* its service time */
    uint64_t bytes;       /* payload bytes served */
    uint64_t units;       /* TLPs / flits / chunks served */
    double wire_bytes;    /* bytes of wire time (links), incl. overhead */
    sim_time busy_ps;     /* time spent serving (completed services) */
    uint64_t sample_bytes;/* payload bytes since the last sample */
} fab_res;

/* One step of an itinerary, and the queue of a flow's chunks waiting at it. */
struct fab_fstep {
    /* configuration */
    fab_res *res;         /* the server */
    int cost;             /* FAB_C_* */
    int op, dir;          /* PCIe/CXL op and direction */
    const void *cfg;      /* pcie_cfg / cxl_cfg for link costs */
    double rate;          /* FAB_C_RATE: bytes/s (0: free) */
    sim_time lat;         /* paid after service */
    uint64_t unit;        /* forwarding unit, bytes */
    int payload;          /* 1: count the bytes as payload at this resource */
    /* state */
    fab_chunk *qh, *qt;   /* waiting chunks of this flow */
    fab_fstep *rr_next, *rr_prev; /* ring at res */
    int in_ring;          /* linked in res->ring */
    fab_flow *flow;       /* owning flow (NULL: raw packets of a link) */
    uint32_t pos;         /* index in the flow */
};

struct fab_chunk {
    fab_flow *flow;       /* NULL: a raw packet */
    fab_fstep *raw;       /* raw packets: their step */
    uint32_t step;        /* step index it is at */
    uint64_t bytes;       /* payload */
    uint64_t tag;         /* raw packets: sender's tag */
    fab_chunk *next;      /* queue / free list */
    fab_pool *pool;       /* where it returns */
};

/* The common head of every fabric component's state. */
typedef struct fab_hdr {
    int kind;             /* FAB_K_* */
    sim_time latency;     /* nodes: traversal latency; links: propagation */
    uint32_t nres;        /* resources used */
    fab_res res[FAB_MAX_RES];
    fab_fstep raw[2];     /* links: sim_send packets per direction */
    fab_pool pool;        /* links: raw packet chunks */
    const void *cfg;      /* links: pcie_cfg / cxl_cfg */
    int cost;             /* links: FAB_C_PCIE / FAB_C_CXL / FAB_C_RATE */
    double rate;          /* FAB_C_RATE links: bytes/s */
    uint64_t unit;        /* links: forwarding unit, bytes */
} fab_hdr;


/* ---- device states (fabdev.c), read by the engine (fabric.c) ---------- */

enum { FAB_MEM_DDR, FAB_MEM_HBM, FAB_MEM_CXL };
#define FAB_MAX_HOSTS 32

/* `cpu`: a socket with its root complex, DRAM and cores. */
typedef struct fab_cpu {
    fab_hdr hdr;            /* res[0] DRAM, res[1] CPU memcpy; latency = root complex */
    /* configuration */
    double dram_bw;         /* DRAM bandwidth, bytes/s */
    double dram_ch_bw;      /* per-channel bandwidth (0: use dram_bw) */
    uint64_t dram_channels; /* channels */
    sim_time dram_lat;      /* DMA access latency to DRAM */
    uint64_t dram_cap;      /* capacity */
    double memcpy_bw;       /* one core's memcpy bandwidth */
    uint64_t socket;        /* socket number */
    sim_time launch_cpu;    /* CPU time to launch one DMA copy */
    sim_time io_cpu;        /* CPU time per I/O through the kernel (bounce path) */
    sim_time gds_cpu;       /* CPU time per GDS request (cuFile submit) */
    /* state */
    double cpu_ps;          /* CPU time charged to this host */
} fab_cpu;

/* `gpu`: HBM and copy engines. */
typedef struct fab_gpu {
    fab_hdr hdr;            /* res[0] HBM; latency = device port */
    /* configuration */
    uint64_t hbm_cap;       /* HBM capacity */
    double hbm_bw;          /* HBM bandwidth */
    sim_time hbm_lat;       /* HBM access latency */
    uint64_t copy_engines;  /* DMA copy engines (cudaMemcpy) */
    /* state */
    uint64_t ce_busy;       /* engines in use */
    fab_flow *ce_h, *ce_t;  /* flows waiting for an engine */
    uint64_t ce_waits;      /* flows that had to wait */
} fab_gpu;

/* `nvme`: an SSD. */
typedef struct fab_nvme {
    fab_hdr hdr;            /* res[0] flash back end; latency = controller */
    /* configuration */
    double read_bw, write_bw;     /* sequential */
    double rread_bw, rwrite_bw;   /* random, at full queue depth */
    sim_time read_lat, write_lat; /* 4 KiB at queue depth 1 */
    uint64_t qd;            /* queue depth used */
    uint64_t par;           /* internal parallelism (dies/planes busy at once) */
    uint64_t cap;           /* capacity */
    uint64_t io_size;       /* I/O size of random transfers */
} fab_nvme;

/* `memory`: DDR, HBM or CXL memory. */
typedef struct fab_mem {
    fab_hdr hdr;            /* res[0] the memory */
    /* configuration */
    int mkind;              /* FAB_MEM_* */
    uint64_t cap;           /* capacity */
    double bw;              /* bandwidth (or channels x channel_bandwidth) */
    double ch_bw;           /* per channel (0: use bw) */
    uint64_t channels;      /* channels */
    sim_time lat;           /* load latency at the device */
    const char *attach;     /* component it hangs off (cpu/gpu), or NULL: via links */
    uint64_t per_host;      /* CXL pools: capacity one host may take (0: no limit) */
    uint32_t attach_id;     /* resolved attach (UINT32_MAX: none) */
    /* state */
    uint64_t used;          /* allocated */
    uint32_t nhosts;        /* hosts with allocations */
    uint32_t host_id[FAB_MAX_HOSTS];    /* their component ids */
    uint64_t host_used[FAB_MAX_HOSTS];  /* their allocations */
} fab_mem;

/* `endpoint`, `pcie_switch`, `cxl_switch`, `upi` link. */
typedef struct fab_node {
    fab_hdr hdr;            /* endpoint: res[0] local memory; latency = traversal */
    double bw;              /* endpoint: local memory bandwidth (0: free); upi: link bandwidth */
} fab_node;

/* Is c one of the fabric's models? Its header then. */
fab_hdr *fab_hdr_of(const sim_comp *c);

/* Initialise resource i of c's header (configure time). */
void fab_res_init(sim_comp *c, uint32_t i, const char *label);
/* A link: set up both direction resources and raw steps. */
void fab_link_init(sim_comp *c, int cost, const void *cfg, double rate, uint64_t unit);

/* Handle FAB_EV_ARRIVE / FAB_EV_DONE for c (every fabric model's handle). */
void fab_handle(sim_comp *c, const sim_event *e);
/* sim_send for fabric links: one posted packet of `bytes`. */
int fab_link_send(sim_comp *link, int side, uint64_t bytes, uint64_t tag);
/* Service time of `bytes` at a step; *units and *wire receive the count of
 * TLPs/flits and the wire bytes (may be NULL). */
sim_time fab_step_service(const fab_fstep *st, uint64_t bytes, uint64_t *units, double *wire);
/* Links: report the `links` rows and per-direction metrics; sample throughput. */
void fab_link_report(sim_comp *c);
void fab_link_sample(sim_comp *c, sim_time now);
/* Credit stall time of a link direction up to now (0 without credits). */
sim_time fab_fc_stall(const fab_res *r, sim_time now);
/* Busy time of a resource up to now (a service in progress counts partly). */
sim_time fab_res_busy(const fab_res *r, sim_time now);
/* Free what the header allocated. */
void fab_hdr_destroy(fab_hdr *h);

#endif
