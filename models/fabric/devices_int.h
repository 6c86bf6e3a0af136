/*
 * devices_int.h - the state of the fabric's devices (devices.c) and their
 * node kinds, for the data paths (paths.c) that ask things of them: a
 * host's DRAM, memcpy and CPU costs, a GPU's copy engines, an SSD's
 * flash, a memory device's kind. Other models use devices.h.
 */
#ifndef MEMFAB_MODELS_FABRIC_DEVICES_INT_H
#define MEMFAB_MODELS_FABRIC_DEVICES_INT_H

#include <stdint.h>

#include "models/fabric/engine.h"
#include "sim/idmap.h"

/* Node kinds (devices.c). Data paths compare against these tables. */
extern const fab_node_kind fab_kind_cpu, fab_kind_gpu, fab_kind_nvme, fab_kind_memory,
    fab_kind_endpoint, fab_kind_pcie_switch, fab_kind_cxl_switch, fab_kind_rnic;

enum { FAB_MEM_DDR, FAB_MEM_HBM, FAB_MEM_CXL };
#define FAB_MAX_HOSTS 32

/* A device's DMA engine (gpu, nvme, endpoint; all 0: an ideal engine, the
 * behaviour before these costs existed). Per transfer the device starts,
 * the data path (paths.c) adds, in order: the host's doorbell (an MMIO
 * write of `doorbell` bytes host -> device), the fetch of the descriptor
 * or command (a read of `fetch` bytes of host memory by the device), the
 * engine's processing of it (`descriptor`, on the engine: descriptors of
 * concurrent transfers queue), the data, then the completion write-back
 * (`completion` bytes device -> host) and an MSI-X interrupt (a 4 B write
 * device -> host). A device reading (pulling) keeps at most `read_tags`
 * requests of `read_request` bytes outstanding: the transfer's bytes in
 * flight are capped at their product (Little's law: throughput <= tags x
 * request / round trip). */
typedef struct fab_dma {
    sim_time descriptor;    /* engine time per transfer's descriptor (0: none) */
    uint64_t doorbell;      /* bytes of the host's doorbell write (0: none) */
    uint64_t fetch;         /* bytes of descriptor/command the device reads (0: none) */
    uint64_t completion;    /* bytes of the completion write-back (0: none) */
    int msix;               /* 1: an MSI-X interrupt (4 B write) at the end */
    uint64_t read_tags;     /* outstanding read requests (0: unlimited) */
    uint64_t read_request;  /* bytes per read request */
} fab_dma;

/* The DMA engine of a device node (NULL: not a device with one). */
const fab_dma *fab_dma_of(sim *s, uint32_t id);

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
    uint64_t copy_threads;  /* threads copying at memcpy_bw each (res[1]'s servers) */
    uint64_t socket;        /* socket number */
    sim_time launch_cpu;    /* CPU time to launch one DMA copy */
    sim_time io_cpu;        /* CPU time per I/O through the kernel (bounce path) */
    sim_time gds_cpu;       /* CPU time per GDS request (cuFile submit) */
    uint64_t net_cores;     /* cores running the network stack (host receive path) */
    double cpu_hz;          /* core clock, cycles/s */
    double net_cpp;         /* network stack cycles per received packet */
    double net_cpb;         /* cycles per received byte (the kernel -> user copy) */
    double route_cycles;    /* cycles per routing decision (one per message) */
    double dram_energy;     /* DRAM energy per bit moved, pJ */
    double core_power;      /* power of one busy core, W (energy = CPU time x this) */
    const char *preset;     /* host preset (devices.c fab_cpu_presets) or "" */
    /* state */
    double cpu_ps;          /* CPU time charged to this host */
} fab_cpu;

/* `gpu`: HBM, copy engines and SM copies. A copy with a GPU end runs on
 * one of its `copy_engines` (held for the whole copy, with the fab_dma
 * costs: one descriptor per contiguous piece) or, per transfer
 * (fabric_req.copy), as a copy kernel on `sm_copy_sms` SMs: a launch
 * (`sm_launch`, on the GPU's front end: launches queue) instead of the
 * descriptors, no copy engine, and when the SMs read remote memory (host
 * to device) at most `sm_read_tags` loads of `sm_read_request` bytes
 * outstanding (Little's law caps the rate at tags x request / round
 * trip). The kernel's SM time (SMs x its duration) is reported. */
typedef struct fab_gpu {
    fab_hdr hdr;            /* res[0] HBM, res[1] DMA engine, res[2] kernel launches;
                             * latency = device port */
    /* configuration */
    uint64_t hbm_cap;       /* HBM capacity */
    double hbm_bw;          /* HBM bandwidth */
    sim_time hbm_lat;       /* HBM access latency */
    uint64_t copy_engines;  /* DMA copy engines (cudaMemcpy) */
    double hbm_energy;      /* HBM energy per bit moved by DMA, pJ */
    fab_dma dma;            /* its copy engines' per-transfer costs */
    uint64_t sm_sms;        /* SMs a copy kernel runs on */
    sim_time sm_launch;     /* a copy kernel's launch, doorbell to first load */
    uint64_t sm_read_tags;  /* remote loads the copy kernel keeps outstanding (0: unlimited) */
    uint64_t sm_read_request; /* bytes per remote load request */
    const char *nic;        /* its RDMA NIC (name, looked up in its own node first) or "" */
    /* state */
    uint32_t nic_id;        /* resolved nic (0: not yet, UINT32_MAX: none) + 1 */
    fab_gate ce;            /* the copy engines: flows hold one while they run */
    double sm_ps;           /* SM time of copy kernels, SMs x ps */
} fab_gpu;

/* `nvme`: an SSD. */
typedef struct fab_nvme {
    fab_hdr hdr;            /* res[0] flash back end, res[1] DMA engine; latency = controller */
    /* configuration */
    double read_bw, write_bw;     /* sequential */
    double rread_bw, rwrite_bw;   /* random, at full queue depth */
    sim_time read_lat, write_lat; /* 4 KiB at queue depth 1 */
    uint64_t qd;            /* queue depth used */
    uint64_t par;           /* internal parallelism (dies/planes busy at once) */
    uint64_t cap;           /* capacity */
    uint64_t io_size;       /* I/O size of random transfers */
    double rread_iops, rwrite_iops; /* random IOPS at full queue depth (0: use the bandwidths) */
    double spread;          /* random I/O flash time: uniform within +-spread of its mean */
    const char *preset;     /* drive preset (devices.c fab_nvme_presets) or "" */
    uint32_t units_r, units_w; /* flash units per direction (nvme_units) */
    sim_time svc_r, svc_w;  /* time a unit holds a random I/O */
    double read_energy;     /* energy per bit read from flash, pJ (the whole drive's) */
    double write_energy;    /* energy per bit written, pJ */
    fab_dma dma;            /* NVMe command costs (doorbell, SQE fetch, CQE, MSI-X) */
} fab_nvme;
/* res[2] "read_units", res[3] "write_units": pools of flash units that
 * hold each random I/O (devices.c nvme_memory, nvme_units). */
/* The flash units of direction rd (1 read, 0 write) of a configured drive
 * and the time each holds a random I/O (devices.c; exact arithmetic in
 * check_hw_fidelity). */
void nvme_units(const fab_nvme *d, int rd, uint32_t *units, sim_time *svc_ps);

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
    double energy;          /* energy per bit moved, pJ (SCN_AUTO until configure: by kind) */
    uint32_t attach_id;     /* resolved attach (UINT32_MAX: none) */
    /* state */
    uint64_t used;          /* allocated */
    uint32_t nhosts;        /* hosts with allocations */
    uint32_t host_id[FAB_MAX_HOSTS];    /* their component ids */
    uint64_t host_used[FAB_MAX_HOSTS];  /* their allocations */
} fab_mem;

/* `endpoint`, `pcie_switch`, `cxl_switch`. */
typedef struct fab_node {
    fab_hdr hdr;            /* endpoint: res[0] local memory, res[1] DMA engine;
                             * latency = traversal */
    double bw;              /* endpoint: local memory bandwidth (0: free) */
    fab_dma dma;            /* endpoint: its DMA engine's costs */
} fab_node;

/* `rnic`: an RDMA NIC (rnic.h). */
typedef struct fab_qp {
    uint32_t remote;        /* the remote NIC's component id */
    fab_gate window;        /* outstanding messages */
} fab_qp;

typedef struct fab_rnic {
    fab_hdr hdr;            /* res[0] transmit pipeline, res[1] receive pipeline */
    /* configuration */
    double packet_rate;     /* packets/s of each pipeline */
    double message_rate;    /* messages/s of each pipeline */
    uint64_t mtu;           /* RDMA payload per packet */
    uint64_t qp_window;     /* outstanding messages per queue pair */
    uint64_t doorbell;      /* bytes of a doorbell (+ inline WQE), host -> NIC */
    uint64_t cqe;           /* bytes of a completion entry, NIC -> host */
    sim_time post_cpu;      /* CPU time to post one work request */
    int gpudirect;          /* 1: may read/write GPU memory peer to peer */
    int semantic;           /* semantic routing of KV chunks (match-action table) */
    uint64_t table_entries; /* table capacity, sessions */
    int miss_path;          /* FAB_MISS_ARM or FAB_MISS_HOST */
    uint64_t arm_cores;     /* Arm cores of the slow path */
    sim_time arm_packet;    /* Arm core time per packet on the slow path */
    uint64_t table_update;  /* bytes of one table update (a PCIe write host -> NIC) */
    /* state: the table, an LRU over sessions */
    sim_idmap table;        /* session -> slot */
    uint64_t *t_key;        /* per slot: its session */
    uint32_t *t_prev, *t_next; /* per slot: LRU links (head = most recent) */
    uint32_t t_head, t_tail, t_used; /* LRU ends, slots used */
    uint64_t lookups, hits, misses, t_evictions, t_updates; /* counters */
    fab_qp **qps;           /* open-addressed by remote id; each QP allocated once, so
                             * flows may point at its window */
    uint32_t nqps, capqps;  /* used, slots (a power of two) */
} fab_rnic;

/* The queue pair of nic toward remote (created on first use); NULL on OOM. */
fab_qp *fab_rnic_qp(fab_rnic *nic, uint32_t remote);

enum { FAB_MISS_ARM, FAB_MISS_HOST };
/* Semantic routing: look a session up in the match-action table (1 hit,
 * the entry becomes the most recent; 0 miss), and install an entry (the
 * least recent is evicted when the table is full; counted). */
int fab_rnic_lookup(fab_rnic *nic, uint64_t session);
void fab_rnic_install(fab_rnic *nic, uint64_t session);

#endif
