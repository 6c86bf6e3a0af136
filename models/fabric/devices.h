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
 *               (also peer-to-peer between its ports), but not to traffic
 *               entering it from another cpu over a socket link (type
 *               upi: UPI, xGMI; the link's latency is the NUMA penalty,
 *               upi.h); DMA to DRAM costs
 *               bytes / dram_bandwidth of DRAM time and dram_latency;
 *               memcpy by a core (pageable staging, CXL loads, the bounce
 *               path's page-cache copies) runs at memcpy_bandwidth, on one
 *               of `copy_threads` (a pool of servers: c copies at once).
 *               CPU time is charged per path (fabric.c).
 *   gpu         HBM at hbm_bandwidth; cudaMemcpy-style copies need one of
 *               `copy_engines`, later copies wait for a free one (FIFO).
 *   nvme        sequential transfers stream at read/write_bandwidth; each
 *               chunk pays read/write_latency once (pipelined behind the
 *               previous chunks). A random I/O of io_size holds one flash
 *               unit of its direction: with X the random IOPS (random_*_iops,
 *               or random bandwidth / io_size) and L the latency,
 *                 units = min(queue_depth, parallelism, ceil(X L))
 *                 svc   = max(L, units / X)        (within 1 / X of L)
 *               so by Little's law IOPS(QD) = min(QD, units) / (svc + path):
 *               latency-bound at QD 1, saturating at X (or at the queue
 *               depth's or parallelism's share). Reads and writes have
 *               their own units (a drive's write IOPS is set by its write
 *               buffer's drain, not its read parallelism); random and
 *               sequential I/O do not slow each other down (not modelled).
 *               latency_spread draws each random I/O's unit time uniformly
 *               within +-spread of svc (the drive's stream): I/Os that start
 *               together otherwise stay in lockstep, and their completions
 *               queue behind the batch's data on the link (QD 32 of the 990
 *               PRO preset: 469 K IOPS in lockstep, 632 K with 0.2 = Little's
 *               law). 0 by default (exact arithmetic); no preset sets it.
 *               The path adds the links and the NVMe command costs, so a
 *               preset's latency is the device's when the measurement it
 *               reproduces was taken at the host (check_hw_fidelity).
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
 *
 * Presets (`preset:` on an nvme or cpu entry, devices.c; the entry's own
 * keys override them; `memfab presets devices` lists them):
 *   gen4-x4-990pro   Samsung 990 PRO 1 TB (PCIe 4.0 x4): 7,450 / 6,900 MB/s
 *                    sequential, 1.2 M / 1.55 M random 4 KiB IOPS (Samsung
 *                    specifications); read_latency 48 us fitted so that QD 1
 *                    random reads give The FPS Review's CrystalDiskMark RND4K
 *                    Q1T1 82 MB/s ("Samsung 990 PRO with Heatsink 1TB"
 *                    review, 2024-05-27); write latency: the default.
 *   gen4-x4-pm9a3    Samsung PM9A3 U.2 7.68 TB (PCIe 4.0 x4): 6,500 / 3,500
 *                    MB/s, 900 K / 200 K IOPS (Samsung's announcement, May
 *                    2020, as heise and ComputerBase report it); latencies:
 *                    the defaults (Samsung publishes none).
 *   gen5-x4-cm7r     KIOXIA CM7-R 1.92 TB (PCIe 5.0 x4): 14,000 / 3,500 MB/s,
 *                    2.0 M / 155 K IOPS (KIOXIA specifications); latencies:
 *                    the defaults.
 *   gen5-x4-9550max  Micron 9550 MAX 6.4 TB (PCIe 5.0 x4): 14,000 / 10,000
 *                    MB/s, 3.3 M / 640 K IOPS, typical latency 60 / 15 us
 *                    (Micron specifications as StorageReview's "Micron 9550
 *                    MAX Review" tabulates them, 2025).
 *   every nvme preset: NVMe command costs (SQ doorbell 4 B, SQE 64 B, CQE
 *                    16 B, MSI-X; above) and queue_depth 1024 (the Linux
 *                    nvme driver's io_queue_depth default).
 *   spr-8ch-ddr5-4800     Intel Xeon 4th gen (Sapphire Rapids) socket: 8
 *                    DDR5-4800 channels of 38.4 GB/s (4800 MT/s x 8 B, JEDEC
 *                    JESD79-5): 307.2 GB/s; core_power 6.25 W (below). DRAM
 *                    latency: the default (no measurement found).
 *   genoa-12ch-ddr5-4800  AMD EPYC 9004 (Genoa) socket: 12 DDR5-4800 channels:
 *                    460.8 GB/s; dram_latency 107 ns: the local idle latency
 *                    Intel MLC measured on a 2-socket EPYC 9224 (upi.h: the
 *                    same matrix; a core's load, taken for a DMA's access);
 *                    core_power 3.75 W: EPYC 9654, 360 W over 96 cores (AMD
 *                    specifications). Peak DRAM bandwidth is the channels'
 *                    sum: sustained efficiency is not modelled.
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

/* Presets (`preset:` of an entry; head comment for their sources): NVMe
 * drives and host sockets. Each ends with {NULL}. */
extern const sim_preset fab_nvme_presets[];
extern const sim_preset fab_cpu_presets[];
int fab_memory_is_cxl(const sim_comp *m);

#endif
