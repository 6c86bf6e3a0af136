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
 *               memcpy by a core (pageable staging, CXL loads, the bounce
 *               path's page-cache copies) runs at memcpy_bandwidth, on one
 *               of `copy_threads` (a pool of servers: c copies at once).
 *               CPU time is charged per path (fabric.c).
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
 *   DMA engine  (gpu, nvme, endpoint; devices_int.h fab_dma) per transfer
 *               the device starts (the DMA and GDS paths): the host's
 *               doorbell, a descriptor fetch from host memory, the
 *               engine's processing time (a server: descriptors of
 *               concurrent transfers queue), then after the data a
 *               completion write-back and an MSI-X write, all as TLPs on
 *               the links (pcie.h prices them); a device that pulls data
 *               keeps at most read_tags x read_request bytes outstanding.
 *               All 0 by default (an ideal engine). NVMe's protocol
 *               sizes: SQ doorbell 4 B, SQE 64 B, CQE 16 B (NVM Express
 *               Base Specification 2.0, 3.3 and 4.6); MSI-X messages are
 *               DWORD writes (PCIe Base Spec r5.0 6.1.4). Validated in
 *               tests/check_hw_fidelity.c.
 *   pcie_switch / cxl_switch: cut-through, `latency` port to port; the
 *               ports are the links attached to it, so devices below one
 *               switch share its upstream link.
 *
 * Energy (energy-proportional; idle and background power not modelled).
 * Every memory reports energy_j = bytes its memory step served (DMA
 * reads and writes, engine.h) x 8 x its pJ/bit:
 *   cpu dram_energy  20 pJ/bit: the lower end of Horowitz's 1.3-2.6 nJ per
 *                    64-bit DRAM access ("Computing's energy problem (and
 *                    what we can do about it)", ISSCC 2014), i.e. DDR with
 *                    its off-chip I/O;
 *   gpu hbm_energy   3.9 pJ/bit: HBM2 (O'Connor et al., "Fine-Grained DRAM:
 *                    Energy-Efficient DRAM for Extreme Bandwidth Systems",
 *                    MICRO 2017; their FGDRAM reaches half of it);
 *   memory energy    auto: kind ddr 20 and cxl 20 (the DDR behind the CXL
 *                    controller; the SerDes is the `cxl` link's energy, the
 *                    controller's logic is not modelled), hbm 3.9;
 *   nvme read_energy / write_energy  1.2 / 1.84 nJ/bit: a whole drive's
 *                    active power over its sequential bandwidth (Intel SSD
 *                    DC P3600 product specification: up to 25 W active,
 *                    2600 / 1700 MB/s), an upper bound for NAND, controller
 *                    and DRAM together; reads and writes are told apart by
 *                    the direction of the memory step.
 * The cpu's cores: energy = the CPU time charged to it (cpu_time: DMA
 * launches, kernel I/O of the bounce path, cuFile submits, memcpy of
 * pageable and CXL copies, RDMA posts, the host network stack) x
 * core_power, 6.25 W: an Intel Xeon Platinum 8480+ (the host CPU of DGX
 * H100), 350 W TDP over 56 cores (Intel product specifications). The cpu
 * reports energy_dram_j and energy_cores_j and their sum as energy_j.
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
