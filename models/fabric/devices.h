/*
 * devices.h - the devices of the fabric: hosts (root complex, DRAM, CPU
 * cores), GPUs (HBM, copy engines), NVMe SSDs, memory devices (DDR, HBM,
 * CXL Type 3 expanders and pools), generic PCIe endpoints (NICs, FPGAs),
 * PCIe and CXL switches. (The socket interconnect is a link: upi.h.)
 *
 * Each is a component whose state starts with the fabric engine's header
 * (engine.h); their resources (DRAM, HBM, flash, CPU copy) are servers
 * the fabric's transfers pass through. Assumptions, per device:
 *   cpu         the root complex adds `latency` to every TLP that crosses it
 *               (also peer-to-peer between its ports); DMA to DRAM costs
 *               bytes / dram_bandwidth of DRAM time and dram_latency;
 *               memcpy by a core (pageable staging, CXL loads) runs at
 *               memcpy_bandwidth. CPU time is charged per path (fabric.c).
 *   gpu         HBM at hbm_bandwidth; cudaMemcpy-style copies need one of
 *               `copy_engines`, later copies wait for a free one (FIFO).
 *   nvme        sequential transfers stream at read/write_bandwidth;
 *               random ones of io_size at
 *                 min(random_bandwidth, min(queue_depth, parallelism) x io_size / latency)
 *               (Little's law); each chunk pays read/write_latency once
 *               (pipelined behind the previous chunks).
 *   memory      bandwidth = channels x channel_bandwidth when the latter is
 *               set; CXL pools enforce per_host_capacity on allocations
 *               (fabric_cxl_alloc).
 *   pcie_switch / cxl_switch: cut-through, `latency` port to port; the
 *               ports are the links attached to it, so devices below one
 *               switch share its upstream link.
 */
#ifndef MEMFAB_MODELS_FABRIC_DEVICES_H
#define MEMFAB_MODELS_FABRIC_DEVICES_H

#include "sim/sim.h"

extern const sim_model fab_cpu_model;       /* type: cpu */
extern const sim_model fab_gpu_model;       /* type: gpu */
extern const sim_model fab_nvme_model;      /* type: nvme */
extern const sim_model fab_memory_model;    /* type: memory */
extern const sim_model fab_endpoint_model;  /* type: endpoint */
extern const sim_model fab_pswitch_model;   /* type: pcie_switch */
extern const sim_model fab_cswitch_model;   /* type: cxl_switch */

/* A `memory` component's bandwidth in bytes/s (channels x channel_bandwidth
 * when set), and whether it is a CXL memory (kind: cxl); 0 for anything
 * that is not a memory component. */
double fab_memory_bandwidth(const sim_comp *m);
int fab_memory_is_cxl(const sim_comp *m);

#endif
