/*
 * fabric.h - moving bytes through the memory fabric: the transfer interface
 * other models call (the KV cache, the GPU serving instances), the `fabric`
 * component that holds its settings and results, and the `xfer` load
 * generator that drives it from a scenario.
 *
 * One call moves N bytes from component A to component B:
 *
 *   fabric_transfer(s, src, dst, bytes, FABRIC_PATH_AUTO, me, MY_EV_DONE, cookie);
 *
 * The route is found in the topology: a breadth-first search over the
 * fabric's links (pcie, cxl, upi), passing only through switches and hosts
 * (root complexes), neighbours in scenario order, so the shortest route
 * with the earliest links wins. A `memory` component with `attach:` is
 * reached through the component it hangs off. The path decides the steps
 * the bytes take:
 *
 *   DMA       a DMA engine moves the data: a GPU copy engine (pinned
 *             cudaMemcpy; GPUs have few, later copies wait), the SSD's or
 *             the endpoint's own DMA otherwise. Reads when the data leaves
 *             memory (requests one way, completions back), posted writes
 *             when a device pushes it. Host memory crossed once.
 *   PAGEABLE  cudaMemcpy from/to pageable memory: a CPU memcpy stages the
 *             data through a pinned buffer (DRAM read + write at the CPU's
 *             memcpy bandwidth), then DMA: host memory crossed three times;
 *             CPU time = bytes / memcpy_bandwidth + launch.
 *   GDS       GPUDirect Storage: the SSD DMAs straight to/from GPU memory
 *             through the switch (or the root complex); host memory zero.
 *   BOUNCE    GDS compatibility mode: SSD -> host bounce buffer -> GPU
 *             (GPU -> buffer -> SSD for writes), store-and-forward per
 *             buffer through a pool: the transfer moves in buffers of
 *             `bounce_io` bytes (default 1 MiB: cufile.json
 *             per_buffer_cache_size_kb 1024, and the 1024 KiB slab of
 *             posix_pool_slab_size_kb), at most `bounce_buffers` of them
 *             filled at once (default 64: posix_pool_slab_count of that
 *             slab; NVIDIA GPUDirect Storage Configuration Guide, cufile.json
 *             parameters, as gdscheck -p prints them). A buffer's next leg
 *             starts when its previous leg has finished, and the buffer is
 *             filled again only after its last leg. `bounce_mode` says how
 *             the SSD is read: o_direct (the SSD DMAs into the pinned
 *             buffer; host memory crossed twice), page_cache (the SSD
 *             fills the page cache, a copy thread copies it to the pinned
 *             buffer: four crossings), pageable (a plain read() into
 *             pageable memory, then cudaMemcpy's staging copy into a
 *             pinned buffer: two copies, six crossings). The copies run on
 *             the host's copy threads (cpu `copy_threads` x
 *             `memcpy_bandwidth`), a resource on the data path. CPU time:
 *             ceil(bytes / bounce_io) x (io_cpu + launch_cpu) + copies x
 *             bytes / memcpy_bandwidth. The GPU's copy engine is taken
 *             per buffer (a cudaMemcpyAsync each), so `copy_engines` does
 *             not gate bounce transfers. The pool is per transfer:
 *             concurrent transfers each fill their own buffers (cuFile
 *             shares one pool per process; not modelled).
 *   CXL       CPU loads/stores to CXL memory: flits on the CXL links, the
 *             device's memory, a CPU copy into (out of) local DRAM.
 *   RDMA      between components of different nodes (no route without a
 *             network): the NIC nearest to each end (type rnic) moves the
 *             bytes as RDMA WRITE messages over the network; GPU ends are
 *             read/written peer to peer (GPUDirect RDMA): host memory zero.
 *   RDMA_READ the same as RDMA READ: the destination's NIC pulls.
 *   RDMA_STAGED  GPU ends staged through their host's DRAM (copy engine to
 *             host, NIC from host; the reverse on receive): each byte
 *             crosses each host's DRAM twice; CPU time per copy launch.
 *   RDMA_HOST the receive side through the host: the NIC writes host DRAM,
 *             the host network stack (per packet, per byte, a routing
 *             decision per message, on net_cores) decides the GPU and a copy
 *             engine moves the data there. With a semantic-routing NIC
 *             (rnic.h), path RDMA looks the session up in the NIC's table:
 *             a hit is delivered to the GPU directly, a miss by the NIC's
 *             Arm cores or by the host, as the NIC's miss_path says.
 *   RDMA_SEND two-sided: as RDMA, plus the receiver's side of a SEND - its
 *             host posted a receive (post_cpu of the far host) and the far
 *             NIC writes a receive completion (cqe bytes) to that host.
 *             (The wire is priced as a WRITE: its 16 B RETH on the first
 *             packet, which a SEND does not carry, stays counted.)
 *   MMIO      the CPU's posted writes from a host to a device (doorbells,
 *             NIC table updates): no DMA engine, no memory on either end.
 *   LOAD      a GPU's SMs read (load) a memory (host DRAM, a CXL memory)
 *             or write it (store) in place: zero-copy, no copy engine, no
 *             CPU, no staging; reads when the memory is the source
 *             (requests from the GPU, data back), posted writes otherwise.
 *             One end must be a GPU, the other a cpu or memory component.
 *   MSG       protocol messages (coherence snoops and their responses, e.g.
 *             CXL back-invalidations) that the source posts to the
 *             destination: posted writes priced by each link's protocol
 *             (on CXL: 16 B slots packed into flits), no memory at either
 *             end, no engine, no CPU.
 *   AUTO      NVMe<->GPU: GDS (or BOUNCE with `gds: false`); CXL memory <->
 *             host: CXL; ends with no route but a NIC each: RDMA
 *             (RDMA_STAGED when a GPU end's NIC lacks GPUDirect); everything
 *             else: DMA.
 *
 * Reads or writes: the DMA initiator decides. Pulling data from the other
 * end is a read (requests toward the source, completions with the data
 * back); pushing it is a posted write (a CXL.mem write also returns an NDR
 * slot per line). Per path:
 *   DMA       host -> GPU: GPU copy engine reads;  GPU -> host, GPU -> GPU:
 *             the source GPU's copy engine writes; host -> SSD: the SSD
 *             reads; SSD -> host: the SSD writes; GPU -> SSD / SSD -> GPU:
 *             the SSD reads / writes; host <-> endpoint: the endpoint reads
 *             / writes.
 *   PAGEABLE  the staged legs are the GPU copy engine's: reads H2D, writes D2H.
 *   GDS       the SSD's DMA: SSD -> GPU writes into GPU memory (cuFileRead),
 *             GPU -> SSD the SSD reads GPU memory (cuFileWrite).
 *   BOUNCE    SSD leg: the SSD writes (reads) the bounce buffer; GPU leg:
 *             the GPU copy engine reads (writes) it; copies: a host core.
 *   CXL       the CPU: loads are CXL.mem reads, stores CXL.mem writes.
 *
 * Transfers move in chunks (`chunk`, default 256 KiB; `mode: packet` makes
 * every chunk one TLP; the BOUNCE path's chunks are its buffers) pipelined
 * hop by hop, at most `window` bytes in flight per transfer (BOUNCE: the
 * buffers); concurrent transfers share every link direction and
 * memory round-robin per chunk. Each chunk's time on a link carries exactly
 * the protocol overhead of the bytes in it (pcie.h, cxl.h), so bandwidth
 * comes out of the simulated stream. A 1 GB transfer costs O(chunks x hops)
 * events. With free transfers (`free_transfers: true` or
 * fabric_set_free_transfers) a transfer completes at once; its bytes are
 * still counted.
 *
 * Results (scope: the fabric component): per path, transfers:P, bytes:P,
 * latency:P_{mean,p50,p90,p99,max,count} (s), cpu_time:P (s),
 * host_memory_bytes:P; timeseries throughput:P; per transfer class C that
 * occurred (fabric_req.xclass), transfers:class:C, bytes:class:C and
 * latency:class:C_*. Links report `links` rows
 * per direction and their throughput over time; devices their memory bytes
 * and utilization.
 */
#ifndef MEMFAB_MODELS_FABRIC_H
#define MEMFAB_MODELS_FABRIC_H

#include <stdint.h>

#include "sim/sim.h"

/* Data paths. */
enum {
    FABRIC_PATH_AUTO = 0,
    FABRIC_PATH_DMA,       /* pinned DMA (cudaMemcpy with pinned memory, device DMA) */
    FABRIC_PATH_PAGEABLE,  /* staged through a pinned buffer by a CPU memcpy */
    FABRIC_PATH_GDS,       /* GPUDirect Storage: SSD <-> GPU peer to peer */
    FABRIC_PATH_BOUNCE,    /* SSD <-> host bounce buffer <-> GPU */
    FABRIC_PATH_CXL,       /* CPU load/store to CXL memory */
    FABRIC_PATH_RDMA,      /* RDMA WRITE between nodes (GPUDirect RDMA at GPU ends): rnic.h */
    FABRIC_PATH_RDMA_READ, /* RDMA READ: the destination's NIC pulls */
    FABRIC_PATH_RDMA_STAGED, /* RDMA WRITE with GPU ends staged through host DRAM */
    FABRIC_PATH_RDMA_HOST, /* RDMA WRITE received by the host network stack (rnic.h) */
    FABRIC_PATH_MMIO,      /* a CPU's posted writes to a device (doorbells, table updates) */
    FABRIC_PATH_RDMA_SEND, /* RDMA SEND: as WRITE, into a receive the far host posted */
    FABRIC_PATH_LOAD,      /* a GPU's own loads from / stores to a memory (zero-copy) */
    FABRIC_PATH_MSG,       /* protocol messages a component posts (coherence snoops) */
    FABRIC_NPATHS
};

/* Transfer classes: what a transfer is for, so results give bytes, counts
 * and latency per class (what a technology removes is measured by class:
 * KV loads, write-backs, prefill -> decode KV, migrations, ...). */
enum {
    FABRIC_CLASS_OTHER = 0,  /* unclassified (load generators, tests) */
    FABRIC_CLASS_KV_LOAD,    /* a KV tier promotion into HBM */
    FABRIC_CLASS_KV_WRITEBACK, /* a KV tier demotion or write-through */
    FABRIC_CLASS_KV_TRANSFER,  /* prefill -> decode KV (disaggregation) */
    FABRIC_CLASS_UVM,        /* unified-memory migration, write-back, remote access */
    FABRIC_CLASS_NETWORK,    /* packets a NIC delivers */
    FABRIC_CLASS_CONTROL,    /* doorbells, table updates */
    FABRIC_CLASS_KV_DIRECT,  /* KV read in place from a lower tier (copy-free access) */
    FABRIC_CLASS_COHERENCE,  /* coherence messages (invalidations of KV read in place) */
    FABRIC_CLASS_SWAP,       /* a preempted request's KV swapped out of HBM or back in */
    FABRIC_CLASS_ACTIVATIONS, /* pipeline parallelism: activations between stages */
    FABRIC_CLASS_ALL_TO_ALL, /* expert parallelism: MoE dispatch and combine */
    FABRIC_NCLASSES
};
const char *fabric_class_name(int cls);

/* Who moves the bytes of a DMA-path copy with a GPU end (fabric_req.copy):
 * one of the GPU's DMA copy engines (cudaMemcpyAsync: the engine's
 * descriptor costs, one engine held for the whole copy), or the GPU's SMs
 * running a copy kernel (a kernel launch instead of descriptors, no copy
 * engine held, reads of remote memory limited by the SMs' outstanding
 * loads, SM time spent). See paths.c (sm_copy) and devices_int.h. */
enum { FABRIC_COPY_CE = 0, FABRIC_COPY_SM };

/* A transfer request, for the options fabric_transfer() leaves out. */
typedef struct fabric_req {
    uint32_t src, dst;       /* component ids (see above for what may be an end) */
    uint64_t bytes;          /* bytes to move (0 completes at once) */
    int path;                /* FABRIC_PATH_* */
    uint32_t notify;         /* component to tell when done */
    uint32_t notify_kind;    /* event kind it receives: a0 = cookie, a1 = elapsed ps */
    uint64_t cookie;         /* caller's tag */
    int random;              /* NVMe ends: random I/O of the SSD's io_size (0: sequential) */
    const uint32_t *route;   /* link ids from src to dst, or NULL to search the topology */
    uint32_t nroute;         /* entries in route */
    uint64_t flow_label;     /* ECMP: routes through network switches are chosen by a hash
                              * of (src, dst, flow_label); a transfer keeps its route */
    uint64_t session;        /* RDMA KV transfers: the session id in each chunk's header,
                              * which a semantic-routing NIC looks up (0: none) */
    int xclass;              /* FABRIC_CLASS_* (0: other) */
    int copy;                /* FABRIC_COPY_* (0: copy engine) */
    uint32_t pieces;         /* contiguous pieces the bytes lie in (a strided or gathered
                              * copy; 0 or 1: one): a copy engine processes one
                              * descriptor per piece, a copy kernel takes them all */
} fabric_req;

/* Start moving `bytes` from src to dst along `path`. When the last byte has
 * arrived, component `notify` receives an event of kind `notify_kind` with
 * a0 = cookie and a1 = the transfer's latency in ps. Returns 0, or
 * SIM_EINVAL (bad ids or a path that does not fit the ends, e.g. GDS
 * without an SSD and a GPU), SIM_ENOTFOUND (no route), SIM_ENOMEM. The
 * fabric component is created with defaults when the scenario has none. */
int fabric_transfer(sim *s, uint32_t src, uint32_t dst, uint64_t bytes, int path,
                    uint32_t notify, uint32_t notify_kind, uint64_t cookie);
/* The same for a transfer of class cls (FABRIC_CLASS_*). */
int fabric_transfer_class(sim *s, int cls, uint32_t src, uint32_t dst, uint64_t bytes, int path,
                          uint32_t notify, uint32_t notify_kind, uint64_t cookie);
/* The same with every option. */
int fabric_transfer_req(sim *s, const fabric_req *r);

/* Estimated seconds a transfer of r (ends, path, bytes) would take if it
 * started now, at the current load, without starting it: every step of
 * its itinerary (link directions, memories, CPU copies) serves the whole
 * transfer in service(bytes) alone (the protocol's wire bytes over the raw
 * rate on a link, bytes over the rate elsewhere); shared round-robin with
 * the n flows already crossing that resource (engine.h: chunk by chunk,
 * fair), the new transfer gets 1 / (n + 1) of it, so
 *     estimate = max over steps of service(bytes) x (n + 1) / servers
 *              + sum over steps of their latencies
 * (the bottleneck step sets the pipelined rate; the others overlap with
 * it). It assumes the present flows stay for the whole transfer and
 * ignores copy engines already taken (a gate) and credit stalls. 0 with
 * *seconds set, or the codes of fabric_check_transfer. */
int fabric_estimate(sim *s, const fabric_req *r, double *seconds);

/* Could a transfer of r's ends and path be planned now (a route, NICs for
 * RDMA, a path that fits the ends)? 0, SIM_EINVAL, SIM_ENOTFOUND or
 * SIM_ENOMEM. Nothing moves. */
int fabric_check_transfer(sim *s, const fabric_req *r);

/* KV placement for semantic routing: session `session` now lives on GPU
 * `gpu`; the NIC that serves the GPU (its `nic:` or the nearest rnic), when
 * it routes semantically, installs the entry (LRU eviction when full) and
 * the host writes it over PCIe (a `table_update`-byte MMIO transfer,
 * counted). 0, or SIM_EINVAL / SIM_ENOTFOUND (no such GPU or NIC). */
int fabric_kv_place(sim *s, uint32_t gpu, uint64_t session);

/* Free transfers: timing taken out, bytes still counted. */
void fabric_set_free_transfers(sim *s, int on);
int fabric_free_transfers(sim *s);

/* Pooled CXL memory: reserve (or give back) bytes of memory device `mem`
 * for host `host`. SIM_ESTATE when the device or the host's share
 * (per_host_capacity) would overflow, SIM_EINVAL for bad ids. */
int fabric_mem_alloc(sim *s, uint32_t host, uint32_t mem, uint64_t bytes);
/* Is component id a CXL memory device (type memory, kind cxl)? 1 (and its
 * access latency in *latency when not NULL) or 0. */
int fabric_cxl_memory(sim *s, uint32_t id, sim_time *latency);
int fabric_mem_release(sim *s, uint32_t host, uint32_t mem, uint64_t bytes);

/* The route fabric_transfer would take between two components: up to max
 * link ids into links[]; *n receives the hop count. 0 or SIM_ENOTFOUND. */
int fabric_route(sim *s, uint32_t src, uint32_t dst, uint32_t *links, uint32_t max,
                 uint32_t *n);

/* Path names ("auto", "dma", "pageable", "gds", "bounce", "cxl", "rdma",
 * "rdma_read", "rdma_staged", "rdma_host", "mmio", "rdma_send", "load", "msg"). */
const char *fabric_path_name(int path);
int fabric_path_find(const char *name);   /* -1 if unknown */

/* Totals per path so far, for tests and other models. */
typedef struct fabric_totals {
    uint64_t transfers;      /* completed */
    uint64_t bytes;          /* moved by completed transfers */
    uint64_t host_mem_bytes; /* host DRAM bytes crossed */
    double cpu_s;            /* CPU time charged */
    double latency_mean_s;   /* mean transfer latency */
} fabric_totals;
void fabric_get_totals(sim *s, int path, fabric_totals *t);

/* The fabric component (created with defaults when absent; NULL on OOM). */
sim_comp *fabric_get(sim *s);

extern const sim_model fabric_model;   /* type: fabric (settings and results) */
extern const sim_model xfer_model;     /* type: xfer (transfer load generator) */
extern const sim_model alltoall_model; /* type: alltoall (every member to every other) */

#endif
