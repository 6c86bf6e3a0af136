/*
 * devices.c - fabric devices (see devices.h): parameter tables, validation,
 * reports, and each device's node kind (devices_int.h): whether routes
 * pass through it, what entering it costs, and the memory it serves as a
 * transfer's end. The moving of bytes is the engine's (engine.c).
 */
#include "models/fabric/devices.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "models/fabric/devices_int.h"

#define END_PARAMS {NULL, 0, NULL, NULL, NULL, 0, NULL}

/* A copy kernel's outstanding remote loads (gpu sm_read_tags). nvbandwidth
 * measures an H100 (PCIe Gen5 x16) copying host to device at 35.25 GB/s
 * with its SM kernel against 55.36 GB/s with a copy engine and 52.77 GB/s
 * device to host with the kernel (NVIDIA/nvbandwidth issue #24; the CE
 * figures in tests/check_hw_fidelity.c): the kernel's loads of host
 * memory, not the link, limit it, and by Little's law the bytes in flight
 * are rate x round trip. memfab's unloaded Gen5 round trip (MRd, root
 * complex 150 ns, DRAM 90 ns, CplD; ~470 ns with the chunk's
 * serialization) needs 16 KiB in flight: 128 loads of one 128 B L2 line
 * (34.63 GB/s, -1.8%). The stores of a device-to-host kernel are posted
 * and not capped. */
#define SM_READ_TAGS "128"

static void report_res(sim_comp *c, fab_res *r, const char *what)
{
    char name[128];
    sim_time now = sim_now(c->sim);
    snprintf(name, sizeof name, "%s_bytes", what);
    sim_report_metric(c->sim, c->name, name, (double)r->bytes, "B");
    snprintf(name, sizeof name, "%s_utilization", what);
    /* a pool of servers (copy threads): the fraction of their time busy */
    double servers = r->servers > 1 ? (double)r->servers : 1.0;
    sim_report_metric(c->sim, c->name, name,
                      now ? (double)fab_res_busy(r, now) / (servers * (double)now) : 0.0, "");
}

static void dev_destroy(sim_comp *c) { fab_hdr_destroy(c->state); }

/* Energy of `bytes` moved at `pj` per bit, J. */
static double bits_energy(uint64_t bytes, double pj) { return (double)bytes * 8.0 * pj * 1e-12; }

/* The DMA engine parameters of device state type T (devices_int.h fab_dma). */
#define DMA_PARAMS(T)                                                                        \
    {"dma_descriptor", SIM_P_TIME, "0 ns", "ps",                                             \
     "DMA engine time per transfer's descriptor (queues across transfers; 0: none)",       \
     offsetof(T, dma.descriptor), NULL},                                                    \
    {"doorbell", SIM_P_SIZE, "0 B", "B",                                                     \
     "host's doorbell MMIO write that starts a transfer (0: none)", offsetof(T, dma.doorbell), \
     NULL},                                                                                 \
    {"descriptor_fetch", SIM_P_SIZE, "0 B", "B",                                             \
     "descriptor/command the device reads from host memory first (0: none)",                \
     offsetof(T, dma.fetch), NULL},                                                         \
    {"completion", SIM_P_SIZE, "0 B", "B",                                                   \
     "completion write-back to host memory at the end (0: none)",                           \
     offsetof(T, dma.completion), NULL},                                                    \
    {"msix", SIM_P_BOOL, "false", "", "an MSI-X interrupt (4 B write to the host) at the end", \
     offsetof(T, dma.msix), NULL},                                                          \
    {"read_tags", SIM_P_UINT, "0", "requests",                                               \
     "outstanding read requests when the device pulls data (0: unlimited)",                 \
     offsetof(T, dma.read_tags), NULL},                                                     \
    {"read_request", SIM_P_SIZE, "512 B", "B", "bytes per read request (with read_tags)",    \
     offsetof(T, dma.read_request), NULL}

static int dma_check(sim_comp *c, const scn_node *node, const fab_dma *d, sim_err *err)
{
    if (d->read_tags && (d->read_request < 64 || d->read_request > 4096))
        return scn_error(err, node ? scn_map_get(node, "read_request") : NULL,
                         "%s '%s': read_request must be 64 B..4096 B", c->model->type, c->name);
    if (d->read_tags > 65536)
        return scn_error(err, node ? scn_map_get(node, "read_tags") : NULL,
                         "%s '%s': read_tags must be 0..65536 (PCIe 14-bit tags: 16384)",
                         c->model->type, c->name);
    if (d->doorbell > 4096 || d->fetch > 4096 || d->completion > 4096)
        return scn_error(err, node, "%s '%s': doorbell, descriptor_fetch and completion are at "
                         "most 4096 B", c->model->type, c->name);
    return 0;
}

/* ---- node kinds -------------------------------------------------------- */

static int svc(fab_mem_service *o, double rate, sim_time lat, uint64_t unit, int host_memory)
{
    o->res = 0;
    o->rate = rate;
    o->lat = lat;
    o->unit = unit;
    o->host_memory = host_memory;
    o->cmd_res = 0;
    o->cmd_rate = 0;
    o->cmd_spread = 0;
    return 0;
}

static int cpu_memory(sim *s, const fab_hdr *h, int out, int random, fab_mem_service *o)
{
    const fab_cpu *c = (const fab_cpu *)h;
    return svc(o, c->dram_bw, c->dram_lat, 4096, 1);
}

static int gpu_memory(sim *s, const fab_hdr *h, int out, int random, fab_mem_service *o)
{
    const fab_gpu *g = (const fab_gpu *)h;
    return svc(o, g->hbm_bw, g->hbm_lat, 4096, 0);
}

/* Sequential transfers stream at the sequential bandwidth and pay the
 * 4 KiB latency once. A random I/O of io_size holds one of the drive's
 * flash units of its direction (a pool of units_r / units_w servers) for
 * svc_r / svc_w (nvme_configure: about its latency), and passes the flash
 * resource at no cost (counted there for energy). With N I/Os in flight
 * and nothing else in the way, Little's law gives
 *     IOPS(N) = min(N, units) / (svc + path)     (path: PCIe and command costs)
 * latency-bound at queue depth 1, saturating at units / svc = the random
 * IOPS (check_hw_fidelity nvme_qd_curve). */
static int nvme_memory(sim *s, const fab_hdr *h, int out, int random, fab_mem_service *o)
{
    const fab_nvme *d = (const fab_nvme *)h;
    if (!random)
        return svc(o, out ? d->read_bw : d->write_bw, out ? d->read_lat : d->write_lat, 4096,
                   0);
    svc(o, 0, 0, d->io_size, 0);
    o->cmd_res = out ? 2 : 3;
    o->cmd_rate = (double)d->io_size * 1e12 / (double)(out ? d->svc_r : d->svc_w);
    o->cmd_spread = d->spread;
    return 0;
}

/* DDR hanging off a host is host memory. */
static int mem_memory(sim *s, const fab_hdr *h, int out, int random, fab_mem_service *o)
{
    const fab_mem *m = (const fab_mem *)h;
    int host = m->mkind == FAB_MEM_DDR && m->attach_id != UINT32_MAX &&
               fab_kind_of(s, m->attach_id) == &fab_kind_cpu;
    return svc(o, m->bw, m->lat, 4096, host);
}

static uint32_t mem_attached_to(const fab_hdr *h) { return ((const fab_mem *)h)->attach_id; }

static int endpoint_memory(sim *s, const fab_hdr *h, int out, int random, fab_mem_service *o)
{
    return svc(o, ((const fab_node *)h)->bw, 0, 4096, 0);
}

/* a host may end a network link itself (an on-board NIC, NVLink-C2C) */
static const char *const cpu_ports[] = {"ethernet", "infiniband", "nvlink", NULL};
/* A host entered from another host over a socket link (type upi: UPI,
 * xGMI) is not entered through its PCIe root complex: the request goes
 * from the socket link to the home agent and memory controller, so the
 * link's own latency is the whole NUMA penalty (devices.h: cpu). */
static int cpu_entry_waived(sim *s, const fab_hdr *h, uint32_t link)
{
    const sim_comp *l = sim_comp_at(s, link);
    const fab_hdr *lh = fab_hdr_of(l);
    return lh && lh->cls && lh->cls->proto && strcmp(lh->cls->proto->name, "upi") == 0 &&
           fab_kind_of(s, l->ends[0]) == &fab_kind_cpu &&
           fab_kind_of(s, l->ends[1]) == &fab_kind_cpu;
}
const fab_node_kind fab_kind_cpu = {.name = "cpu", .forwards = 1, .entry_latency = 1,
                                    .entry_waived = cpu_entry_waived, .memory = cpu_memory,
                                    .ports = cpu_ports};
static const char *const gpu_ports[] = {"nvlink", NULL};
const fab_node_kind fab_kind_gpu = {.name = "gpu", .entry_latency = 1, .memory = gpu_memory,
                                    .ports = gpu_ports};
const fab_node_kind fab_kind_nvme = {.name = "nvme", .entry_latency = 1, .memory = nvme_memory};
const fab_node_kind fab_kind_memory = {.name = "memory", .memory = mem_memory,
                                       .attached_to = mem_attached_to};
static const char *const endpoint_ports[] = {"ethernet", "infiniband", "nvlink", NULL};
const fab_node_kind fab_kind_endpoint = {.name = "endpoint", .entry_latency = 1,
                                         .memory = endpoint_memory, .ports = endpoint_ports};
const fab_node_kind fab_kind_pcie_switch = {.name = "pcie_switch", .forwards = 1,
                                            .entry_latency = 1};
const fab_node_kind fab_kind_cxl_switch = {.name = "cxl_switch", .forwards = 1,
                                           .entry_latency = 1};

static const fab_class cpu_class = {{fab_family}, NULL, &fab_kind_cpu};
static const fab_class gpu_class = {{fab_family}, NULL, &fab_kind_gpu};
static const fab_class nvme_class = {{fab_family}, NULL, &fab_kind_nvme};
static const fab_class memory_class = {{fab_family}, NULL, &fab_kind_memory};
static const fab_class endpoint_class = {{fab_family}, NULL, &fab_kind_endpoint};
static const fab_class pswitch_class = {{fab_family}, NULL, &fab_kind_pcie_switch};
static const fab_class cswitch_class = {{fab_family}, NULL, &fab_kind_cxl_switch};

const fab_dma *fab_dma_of(sim *s, uint32_t id)
{
    const fab_node_kind *k = fab_kind_of(s, id);
    void *st = k ? sim_comp_at(s, id)->state : NULL;
    if (k == &fab_kind_gpu)
        return &((fab_gpu *)st)->dma;
    if (k == &fab_kind_nvme)
        return &((fab_nvme *)st)->dma;
    if (k == &fab_kind_endpoint)
        return &((fab_node *)st)->dma;
    return NULL;
}

/* ---- cpu -------------------------------------------------------------- */

/* Host socket presets (devices.h head comment: sources). DDR5-4800:
 * 4800 MT/s x 8 B = 38.4 GB/s per channel (JEDEC JESD79-5). */
static const char *const p_spr[] = {
    "dram_channels", "8", "dram_channel_bandwidth", "38.4 GB/s", "core_power", "6.25 W", NULL};
static const char *const p_genoa[] = {
    "dram_channels", "12", "dram_channel_bandwidth", "38.4 GB/s", "dram_latency", "107 ns",
    "core_power", "3.75 W", NULL};

const sim_preset fab_cpu_presets[] = {
    {"spr-8ch-ddr5-4800", p_spr},
    {"genoa-12ch-ddr5-4800", p_genoa},
    {NULL, NULL}};

static const sim_param cpu_params[] = {
    {"latency", SIM_P_TIME, "150 ns", "ps", "root complex traversal per TLP",
     offsetof(fab_cpu, hdr.latency), NULL},
    {"dram_bandwidth", SIM_P_RATE, "200 GB/s", "B/s", "DRAM bandwidth (all channels)",
     offsetof(fab_cpu, dram_bw), NULL},
    {"dram_channels", SIM_P_UINT, "8", "", "DRAM channels", offsetof(fab_cpu, dram_channels),
     NULL},
    {"dram_channel_bandwidth", SIM_P_RATE, "0 B/s", "B/s",
     "per-channel bandwidth; when set, DRAM bandwidth = channels x this",
     offsetof(fab_cpu, dram_ch_bw), NULL},
    {"dram_latency", SIM_P_TIME, "90 ns", "ps", "DRAM access latency",
     offsetof(fab_cpu, dram_lat), NULL},
    {"dram_capacity", SIM_P_SIZE, "512 GiB", "B", "DRAM capacity",
     offsetof(fab_cpu, dram_cap), NULL},
    {"memcpy_bandwidth", SIM_P_RATE, "10 GB/s", "B/s", "memcpy bandwidth of one core",
     offsetof(fab_cpu, memcpy_bw), NULL},
    {"copy_threads", SIM_P_UINT, "1", "threads",
     "threads copying between host buffers at memcpy_bandwidth each (page-cache and "
     "pageable bounce copies, pageable staging, CXL loads/stores)",
     offsetof(fab_cpu, copy_threads), NULL},
    {"socket", SIM_P_UINT, "0", "", "socket number", offsetof(fab_cpu, socket), NULL},
    {"launch_cpu", SIM_P_TIME, "2 us", "ps", "CPU time to launch one DMA copy",
     offsetof(fab_cpu, launch_cpu), NULL},
    {"io_cpu", SIM_P_TIME, "5 us", "ps", "CPU time per I/O through the kernel (bounce path)",
     offsetof(fab_cpu, io_cpu), NULL},
    {"gds_cpu", SIM_P_TIME, "1 us", "ps", "CPU time per GPUDirect Storage request",
     offsetof(fab_cpu, gds_cpu), NULL},
    {"net_cores", SIM_P_UINT, "8", "cores", "cores running the network stack (host path)",
     offsetof(fab_cpu, net_cores), NULL},
    {"cpu_frequency", SIM_P_DOUBLE, "3e9", "Hz", "core clock", offsetof(fab_cpu, cpu_hz), NULL},
    {"net_cycles_per_packet", SIM_P_DOUBLE, "1000", "cycles",
     "network stack cycles per received packet (protocol, interrupt, completion handling)",
     offsetof(fab_cpu, net_cpp), NULL},
    {"net_cycles_per_byte", SIM_P_DOUBLE, "0.5", "cycles",
     "cycles per received byte (the kernel -> application copy; Cai et al. SIGCOMM 2021)",
     offsetof(fab_cpu, net_cpb), NULL},
    {"route_cycles", SIM_P_DOUBLE, "2000", "cycles",
     "cycles per routing decision (which GPU a received message goes to)",
     offsetof(fab_cpu, route_cycles), NULL},
    {"dram_energy", SIM_P_ENERGY_BIT, "20 pJ/bit", "pJ/bit",
     "DRAM energy per bit read or written (DDR4/DDR5 with I/O; head comment)",
     offsetof(fab_cpu, dram_energy), NULL},
    {"core_power", SIM_P_POWER, "6.25 W", "W",
     "power of one busy core: the energy of the CPU time charged here (TDP / cores)",
     offsetof(fab_cpu, core_power), NULL},
    {"preset", SIM_P_STRING, "", "",
     "host socket preset (spr-8ch-ddr5-4800, genoa-12ch-ddr5-4800); the entry's own keys "
     "override its values",
     offsetof(fab_cpu, preset), NULL},
    END_PARAMS};

static int cpu_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    fab_cpu *h = c->state;
    /* an entry's own dram_bandwidth wins over a preset's channels */
    int own_bw = node && scn_map_get(node, "dram_bandwidth") &&
                 !scn_map_get(node, "dram_channel_bandwidth");
    if (h->dram_ch_bw > 0 && !own_bw)
        h->dram_bw = h->dram_ch_bw * (double)h->dram_channels;
    if (!(h->dram_bw > 0) || !(h->memcpy_bw > 0))
        return scn_error(err, node, "cpu '%s': dram and memcpy bandwidths must be positive",
                         c->name);
    if (h->dram_energy < 0)
        h->dram_energy = 20.0;
    if (h->core_power < 0)
        h->core_power = 6.25;
    if (h->net_cores < 1 || !(h->cpu_hz > 0) || h->net_cpp < 0 || h->net_cpb < 0 ||
        h->route_cycles < 0)
        return scn_error(err, node, "cpu '%s': net_cores >= 1, cpu_frequency > 0 and cycle "
                         "costs >= 0", c->name);
    static const char *const labels[] = {"dram", "memcpy", "netstack"};
    fab_node_init(c, 3, labels);
    h->hdr.res[2].servers = (uint32_t)(h->net_cores > 4096 ? 4096 : h->net_cores);
    if (h->copy_threads < 1 || h->copy_threads > 4096)
        return scn_error(err, node ? scn_map_get(node, "copy_threads") : NULL,
                         "cpu '%s': copy_threads must be 1 to 4096", c->name);
    h->hdr.res[1].servers = (uint32_t)h->copy_threads;
    return 0;
}

static int cpu_finish(sim_comp *c, sim_err *err)
{
    fab_cpu *h = c->state;
    fab_hdr_settle(c->sim, c->state, 0); /* lone flows: counters up to now */
    report_res(c, &h->hdr.res[0], "dram");
    report_res(c, &h->hdr.res[1], "memcpy");
    int nics = 0; /* a scenario with RDMA NICs: the host stack's load, 0 included */
    for (uint32_t i = 0; i < sim_ncomps(c->sim) && !nics; i++)
        nics = fab_kind_of(c->sim, i) == &fab_kind_rnic;
    if (h->hdr.res[2].units || nics) {
        sim_time busy = h->hdr.res[2].busy_ps, now = sim_now(c->sim);
        sim_report_metric(c->sim, c->name, "netstack_bytes", (double)h->hdr.res[2].bytes, "B");
        sim_report_metric(c->sim, c->name, "netstack_packets", (double)h->hdr.res[2].units,
                          "packets");
        sim_report_metric(c->sim, c->name, "netstack_core_seconds", sim_time_to_s(busy), "s");
        sim_report_metric(c->sim, c->name, "netstack_cores_busy",
                          now ? (double)busy / (double)now : 0.0, "cores");
    }
    sim_report_metric(c->sim, c->name, "cpu_time", h->cpu_ps * 1e-12, "s");
    double dram = bits_energy(h->hdr.res[0].bytes, h->dram_energy);
    double cores = h->cpu_ps * 1e-12 * h->core_power;
    sim_report_metric(c->sim, c->name, "energy_dram_j", dram, "J");
    sim_report_metric(c->sim, c->name, "energy_cores_j", cores, "J");
    sim_report_energy(c->sim, c->name, dram, cores);
    return 0;
}

/* Headline metrics of the run summary: the run's energy (sim_finish) when
 * no workload takes it. */
static const char *const cpu_headline[] = {"run/energy_*", NULL};

const sim_model fab_cpu_model = {
    .type = "cpu",
    .summary = "host socket: root complex latency, DRAM bandwidth/latency, memcpy, CPU costs",
    .params = cpu_params,
    .state_size = sizeof(fab_cpu),
    .configure = cpu_configure,
    .handle = fab_handle,
    .finish = cpu_finish,
    .destroy = dev_destroy,
    .ext = &cpu_class.ext,
    .presets = fab_cpu_presets,
    .headline = cpu_headline,
};

/* ---- gpu -------------------------------------------------------------- */

static const sim_param gpu_params[] = {
    {"latency", SIM_P_TIME, "0 ns", "ps", "PCIe port to memory controller",
     offsetof(fab_gpu, hdr.latency), NULL},
    {"hbm", SIM_P_SIZE, "80 GiB", "B", "HBM capacity", offsetof(fab_gpu, hbm_cap), NULL},
    {"hbm_bandwidth", SIM_P_RATE, "3.35 TB/s", "B/s", "HBM bandwidth",
     offsetof(fab_gpu, hbm_bw), NULL},
    {"hbm_latency", SIM_P_TIME, "100 ns", "ps", "HBM write/read latency of a DMA",
     offsetof(fab_gpu, hbm_lat), NULL},
    {"copy_engines", SIM_P_UINT, "2", "", "DMA copy engines for cudaMemcpy-style copies",
     offsetof(fab_gpu, copy_engines), NULL},
    {"nic", SIM_P_STRING, "", "",
     "its RDMA NIC (rnic) for network transfers; in a cluster template, the node's own "
     "(unset: the nearest rnic)",
     offsetof(fab_gpu, nic), NULL},
    {"hbm_energy", SIM_P_ENERGY_BIT, "3.9 pJ/bit", "pJ/bit",
     "HBM energy per bit DMA reads or writes (HBM2, O'Connor et al. MICRO'17)",
     offsetof(fab_gpu, hbm_energy), NULL},
    DMA_PARAMS(fab_gpu),
    {"sm_copy_sms", SIM_P_UINT, "132", "SMs",
     "SMs a copy kernel (copy_engine: sm) runs on: its SM time is SMs x duration (H100 SXM5: "
     "132 SMs, and nvbandwidth's SM copies launch one block per SM)",
     offsetof(fab_gpu, sm_sms), NULL},
    {"sm_launch", SIM_P_TIME, "0 ns", "ps",
     "a copy kernel's launch on the GPU, doorbell to its first load (launches queue; 0: none)",
     offsetof(fab_gpu, sm_launch), NULL},
    {"sm_read_tags", SIM_P_UINT, SM_READ_TAGS, "requests",
     "remote loads a copy kernel keeps outstanding when it reads host or peer memory "
     "(0: unlimited; default from nvbandwidth's H100 host_to_device_memcpy_sm, head comment)",
     offsetof(fab_gpu, sm_read_tags), NULL},
    {"sm_read_request", SIM_P_SIZE, "128 B", "B",
     "bytes per remote load request of a copy kernel (one 128 B L2 line)",
     offsetof(fab_gpu, sm_read_request), NULL},
    END_PARAMS};

static int gpu_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    fab_gpu *g = c->state;
    if (g->copy_engines < 1)
        return scn_error(err, node ? scn_map_get(node, "copy_engines") : NULL,
                         "gpu '%s': needs at least one copy engine", c->name);
    g->ce.capacity = g->copy_engines;
    if (g->hbm_energy < 0)
        g->hbm_energy = 3.9;
    int rc = dma_check(c, node, &g->dma, err);
    if (rc)
        return rc;
    if (g->sm_sms < 1 || g->sm_sms > 1024)
        return scn_error(err, node ? scn_map_get(node, "sm_copy_sms") : NULL,
                         "gpu '%s': sm_copy_sms must be 1..1024", c->name);
    if (g->sm_read_tags > 65536)
        return scn_error(err, node ? scn_map_get(node, "sm_read_tags") : NULL,
                         "gpu '%s': sm_read_tags must be 0..65536", c->name);
    if (g->sm_read_request < 32 || g->sm_read_request > 4096)
        return scn_error(err, node ? scn_map_get(node, "sm_read_request") : NULL,
                         "gpu '%s': sm_read_request must be 32 B..4096 B", c->name);
    static const char *const labels[] = {"hbm", "dma", "launch"};
    fab_node_init(c, 3, labels);
    return 0;
}

static int gpu_finish(sim_comp *c, sim_err *err)
{
    fab_gpu *g = c->state;
    fab_hdr_settle(c->sim, c->state, 0); /* lone flows: counters up to now */
    report_res(c, &g->hdr.res[0], "hbm");
    sim_report_metric(c->sim, c->name, "copy_engine_waits", (double)g->ce.waits, "transfers");
    if (g->sm_ps > 0) /* copy kernels ran: the SM time they took from compute */
        sim_report_metric(c->sim, c->name, "sm_copy_sm_seconds", g->sm_ps * 1e-12, "SM s");
    sim_report_energy(c->sim, c->name, bits_energy(g->hdr.res[0].bytes, g->hbm_energy), 0.0);
    return 0;
}

const sim_model fab_gpu_model = {
    .type = "gpu",
    .summary = "GPU on the fabric: HBM bandwidth/latency/capacity, copy engines",
    .params = gpu_params,
    .state_size = sizeof(fab_gpu),
    .configure = gpu_configure,
    .handle = fab_handle,
    .finish = gpu_finish,
    .destroy = dev_destroy,
    .ext = &gpu_class.ext,
};

/* ---- nvme ------------------------------------------------------------- */

/* Drive presets (devices.h head comment: sources). Each value as a
 * scenario would write it; an entry's own keys override them. NVMe
 * command costs of every preset: SQ doorbell 4 B, SQE 64 B, CQE 16 B,
 * MSI-X (NVM Express Base Specification 2.0); queue_depth 1024: the Linux
 * nvme driver's io_queue_depth default (drivers/nvme/host/pci.c). */
#define NVME_CMD "doorbell", "4 B", "descriptor_fetch", "64 B", "completion", "16 B", \
                 "msix", "true", "queue_depth", "1024"
static const char *const p_990pro[] = {
    "read_bandwidth", "7450 MB/s", "write_bandwidth", "6900 MB/s",
    "random_read_iops", "1200000", "random_write_iops", "1550000",
    "read_latency", "48 us",
    "capacity", "1 TB", NVME_CMD, NULL};
static const char *const p_pm9a3[] = {
    "read_bandwidth", "6500 MB/s", "write_bandwidth", "3500 MB/s",
    "random_read_iops", "900000", "random_write_iops", "200000",
    "capacity", "7680 GB", NVME_CMD, NULL};
static const char *const p_cm7r[] = {
    "read_bandwidth", "14000 MB/s", "write_bandwidth", "3500 MB/s",
    "random_read_iops", "2000000", "random_write_iops", "155000",
    "capacity", "1920 GB", NVME_CMD, NULL};
static const char *const p_9550max[] = {
    "read_bandwidth", "14000 MB/s", "write_bandwidth", "10000 MB/s",
    "random_read_iops", "3300000", "random_write_iops", "640000",
    "read_latency", "60 us", "write_latency", "15 us",
    "capacity", "6400 GB", NVME_CMD, NULL};
#undef NVME_CMD

const sim_preset fab_nvme_presets[] = {
    {"gen4-x4-990pro", p_990pro},
    {"gen4-x4-pm9a3", p_pm9a3},
    {"gen5-x4-cm7r", p_cm7r},
    {"gen5-x4-9550max", p_9550max},
    {NULL, NULL}};

static const sim_param nvme_params[] = {
    {"latency", SIM_P_TIME, "0 ns", "ps", "controller port latency",
     offsetof(fab_nvme, hdr.latency), NULL},
    {"read_bandwidth", SIM_P_RATE, "7 GB/s", "B/s", "sequential read bandwidth",
     offsetof(fab_nvme, read_bw), NULL},
    {"write_bandwidth", SIM_P_RATE, "5 GB/s", "B/s", "sequential write bandwidth",
     offsetof(fab_nvme, write_bw), NULL},
    {"random_read_bandwidth", SIM_P_RATE, "6 GB/s", "B/s",
     "random read bandwidth at full queue depth", offsetof(fab_nvme, rread_bw), NULL},
    {"random_write_bandwidth", SIM_P_RATE, "1.5 GB/s", "B/s",
     "random write bandwidth at full queue depth", offsetof(fab_nvme, rwrite_bw), NULL},
    {"read_latency", SIM_P_TIME, "80 us", "ps", "4 KiB read latency at queue depth 1",
     offsetof(fab_nvme, read_lat), NULL},
    {"write_latency", SIM_P_TIME, "20 us", "ps", "4 KiB write latency at queue depth 1",
     offsetof(fab_nvme, write_lat), NULL},
    {"queue_depth", SIM_P_UINT, "128", "", "outstanding commands the host keeps",
     offsetof(fab_nvme, qd), NULL},
    {"parallelism", SIM_P_UINT, "0", "",
     "flash operations in progress at once (0: as many as the random IOPS need at the "
     "latency, Little's law)",
     offsetof(fab_nvme, par), NULL},
    {"capacity", SIM_P_SIZE, "7680 GB", "B", "capacity", offsetof(fab_nvme, cap), NULL},
    {"io_size", SIM_P_SIZE, "4 KiB", "B", "I/O size of random transfers",
     offsetof(fab_nvme, io_size), NULL},
    {"latency_spread", SIM_P_DOUBLE, "0", "",
     "random I/O: each I/O's flash time drawn uniformly within +-this fraction of its mean "
     "(0..0.9; 0: every I/O alike)",
     offsetof(fab_nvme, spread), NULL},
    {"random_read_iops", SIM_P_DOUBLE, "0", "IOPS",
     "random reads/s of io_size at full queue depth, as datasheets give it (0: use "
     "random_read_bandwidth; else that = this x io_size)",
     offsetof(fab_nvme, rread_iops), NULL},
    {"random_write_iops", SIM_P_DOUBLE, "0", "IOPS",
     "random writes/s at full queue depth (0: use random_write_bandwidth)",
     offsetof(fab_nvme, rwrite_iops), NULL},
    {"preset", SIM_P_STRING, "", "",
     "drive preset (gen4-x4-990pro, gen4-x4-pm9a3, gen5-x4-cm7r, gen5-x4-9550max); the "
     "entry's own keys override its values",
     offsetof(fab_nvme, preset), NULL},
    {"read_energy", SIM_P_ENERGY_BIT, "1.2 nJ/bit", "pJ/bit",
     "drive energy per bit read (active power / sequential read bandwidth; head comment)",
     offsetof(fab_nvme, read_energy), NULL},
    {"write_energy", SIM_P_ENERGY_BIT, "1.84 nJ/bit", "pJ/bit",
     "drive energy per bit written (active power / sequential write bandwidth)",
     offsetof(fab_nvme, write_energy), NULL},
    DMA_PARAMS(fab_nvme),
    END_PARAMS};

/* The flash units of one direction and how long each holds an I/O: with
 * X = the random IOPS (random bandwidth / io_size) and L the latency,
 *     units = min(queue_depth, parallelism (0: no limit), ceil(X L))
 *     svc   = max(L, units / X)
 * so units / svc = min(units / L, X): the random IOPS unless the queue
 * depth or the parallelism hold it lower, and svc stays within 1 / X of
 * the latency (ceil). */
void nvme_units(const fab_nvme *d, int rd, uint32_t *units, sim_time *svc_ps)
{
    double x = (rd ? d->rread_bw : d->rwrite_bw) / (double)d->io_size;
    double l = (double)(rd ? d->read_lat : d->write_lat); /* ps */
    double need = ceil(x * l * 1e-12 - 1e-9);
    double n = (double)d->qd;
    if (d->par && (double)d->par < n)
        n = (double)d->par;
    if (need < n)
        n = need;
    if (n < 1)
        n = 1;
    double s = n * 1e12 / x;
    *units = (uint32_t)n;
    *svc_ps = s > l ? (sim_time)llround(s) : (sim_time)l;
}

static int nvme_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    fab_nvme *d = c->state;
    if (d->rread_iops < 0 || d->rwrite_iops < 0)
        return scn_error(err, node, "nvme '%s': random IOPS must be >= 0", c->name);
    if (!(d->spread >= 0 && d->spread <= 0.9))
        return scn_error(err, node ? scn_map_get(node, "latency_spread") : NULL,
                         "nvme '%s': latency_spread must be 0..0.9", c->name);
    if (d->rread_iops > 0)
        d->rread_bw = d->rread_iops * (double)d->io_size;
    if (d->rwrite_iops > 0)
        d->rwrite_bw = d->rwrite_iops * (double)d->io_size;
    if (!(d->read_bw > 0) || !(d->write_bw > 0) || !(d->rread_bw > 0) || !(d->rwrite_bw > 0))
        return scn_error(err, node, "nvme '%s': bandwidths must be positive", c->name);
    if (d->qd < 1 || d->io_size < 512 || !d->read_lat || !d->write_lat)
        return scn_error(err, node,
                         "nvme '%s': queue_depth >= 1, io_size >= 512 B, latencies > 0",
                         c->name);
    if (d->read_energy < 0)
        d->read_energy = 1200.0;
    if (d->write_energy < 0)
        d->write_energy = 1840.0;
    int rc = dma_check(c, node, &d->dma, err);
    if (rc)
        return rc;
    if (d->qd > 65536 || d->par > 65536)
        return scn_error(err, node, "nvme '%s': queue_depth and parallelism are at most 65536",
                         c->name);
    nvme_units(d, 1, &d->units_r, &d->svc_r);
    nvme_units(d, 0, &d->units_w, &d->svc_w);
    static const char *const labels[] = {"flash", "dma", "read_units", "write_units"};
    fab_node_init(c, 4, labels);
    d->hdr.res[2].servers = d->units_r;
    d->hdr.res[3].servers = d->units_w;
    return 0;
}

static int nvme_finish(sim_comp *c, sim_err *err)
{
    fab_nvme *d = c->state;
    fab_hdr_settle(c->sim, c->state, 0); /* lone flows: counters up to now */
    report_res(c, &d->hdr.res[0], "flash");
    const fab_res *r = &d->hdr.res[0];
    double rd = bits_energy(r->read_bytes, d->read_energy);
    double wr = bits_energy(r->bytes - r->read_bytes, d->write_energy);
    sim_report_metric(c->sim, c->name, "flash_read_bytes", (double)r->read_bytes, "B");
    sim_report_metric(c->sim, c->name, "energy_read_j", rd, "J");
    sim_report_metric(c->sim, c->name, "energy_write_j", wr, "J");
    sim_report_energy(c->sim, c->name, rd + wr, 0.0);
    const fab_res *ur = &d->hdr.res[2], *uw = &d->hdr.res[3];
    if (ur->units || uw->units) { /* random I/O ran: commands and the flash units' load */
        sim_time now = sim_now(c->sim);
        sim_report_metric(c->sim, c->name, "random_reads", (double)ur->units, "commands");
        sim_report_metric(c->sim, c->name, "random_writes", (double)uw->units, "commands");
        sim_report_metric(c->sim, c->name, "read_units_busy",
                          now ? (double)ur->busy_ps / (double)now : 0.0, "units");
        sim_report_metric(c->sim, c->name, "write_units_busy",
                          now ? (double)uw->busy_ps / (double)now : 0.0, "units");
    }
    return 0;
}

const sim_model fab_nvme_model = {
    .type = "nvme",
    .summary = "NVMe SSD: seq/random read/write bandwidth, 4 KiB latency, queue depth, parallelism",
    .params = nvme_params,
    .state_size = sizeof(fab_nvme),
    .configure = nvme_configure,
    .handle = fab_handle,
    .finish = nvme_finish,
    .destroy = dev_destroy,
    .ext = &nvme_class.ext,
    .presets = fab_nvme_presets,
};

/* ---- memory ----------------------------------------------------------- */

static const char *const mem_kinds[] = {"ddr", "hbm", "cxl", NULL};

static const sim_param mem_params[] = {
    {"kind", SIM_P_ENUM, "ddr", "", "ddr, hbm or cxl", offsetof(fab_mem, mkind), mem_kinds},
    {"capacity", SIM_P_SIZE, "256 GiB", "B", "capacity", offsetof(fab_mem, cap), NULL},
    {"bandwidth", SIM_P_RATE, "64 GB/s", "B/s", "bandwidth", offsetof(fab_mem, bw), NULL},
    {"channels", SIM_P_UINT, "1", "", "channels", offsetof(fab_mem, channels), NULL},
    {"channel_bandwidth", SIM_P_RATE, "0 B/s", "B/s",
     "per-channel bandwidth; when set, bandwidth = channels x this",
     offsetof(fab_mem, ch_bw), NULL},
    {"latency", SIM_P_TIME, "100 ns", "ps", "access latency at the device",
     offsetof(fab_mem, lat), NULL},
    {"attach", SIM_P_STRING, "", "",
     "component it hangs off (cpu or gpu); unset: reached through its links",
     offsetof(fab_mem, attach), NULL},
    {"per_host_capacity", SIM_P_SIZE, "0 B", "B",
     "pooled memory: what one host may allocate (0: no limit)", offsetof(fab_mem, per_host),
     NULL},
    {"energy", SIM_P_ENERGY_BIT, "auto", "pJ/bit",
     "energy per bit read or written (auto: ddr 20, hbm 3.9, cxl 20; head comment)",
     offsetof(fab_mem, energy), NULL},
    END_PARAMS};

static int mem_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    fab_mem *m = c->state;
    if (m->ch_bw > 0)
        m->bw = m->ch_bw * (double)m->channels;
    if (!(m->bw > 0))
        return scn_error(err, node, "memory '%s': bandwidth must be positive", c->name);
    if (m->energy < 0) /* auto: by kind (head comment) */
        m->energy = m->mkind == FAB_MEM_HBM ? 3.9 : 20.0;
    m->attach_id = UINT32_MAX;
    if (m->attach && *m->attach) {
        sim_comp *a = sim_find(c->sim, m->attach);
        if (!a || !fab_hdr_of(a))
            return scn_error(err, node ? scn_map_get(node, "attach") : NULL,
                             "memory '%s': attach: no fabric component named '%s' (declare it"
                             " first)",
                             c->name, m->attach);
        m->attach_id = a->id;
    }
    static const char *const labels[] = {"mem"};
    fab_node_init(c, 1, labels);
    return 0;
}

static int mem_finish(sim_comp *c, sim_err *err)
{
    fab_mem *m = c->state;
    fab_hdr_settle(c->sim, c->state, 0); /* lone flows: counters up to now */
    report_res(c, &m->hdr.res[0], "mem");
    sim_report_metric(c->sim, c->name, "allocated", (double)m->used, "B");
    sim_report_energy(c->sim, c->name, bits_energy(m->hdr.res[0].bytes, m->energy), 0.0);
    for (uint32_t i = 0; i < m->nhosts; i++) {
        char name[300];
        snprintf(name, sizeof name, "allocated:%s", sim_comp_at(c->sim, m->host_id[i])->name);
        sim_report_metric(c->sim, c->name, name, (double)m->host_used[i], "B");
    }
    return 0;
}

const sim_model fab_memory_model = {
    .type = "memory",
    .summary = "memory device: DDR, HBM or CXL (Type 3 expander / pool with per-host capacity)",
    .params = mem_params,
    .state_size = sizeof(fab_mem),
    .configure = mem_configure,
    .handle = fab_handle,
    .finish = mem_finish,
    .destroy = dev_destroy,
    .ext = &memory_class.ext,
};

/* ---- endpoint, switches ------------------------------------------ */

static const sim_param ep_params[] = {
    {"latency", SIM_P_TIME, "0 ns", "ps", "port to local memory", offsetof(fab_node, hdr.latency),
     NULL},
    {"bandwidth", SIM_P_RATE, "0 B/s", "B/s", "local memory bandwidth (0: not a limit)",
     offsetof(fab_node, bw), NULL},
    DMA_PARAMS(fab_node),
    END_PARAMS};

static int ep_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    int rc = dma_check(c, node, &((fab_node *)c->state)->dma, err);
    if (rc)
        return rc;
    static const char *const labels[] = {"local", "dma"};
    fab_node_init(c, 2, labels);
    return 0;
}

const sim_model fab_endpoint_model = {
    .type = "endpoint",
    .summary = "generic PCIe/CXL device (NIC, FPGA, accelerator) with optional local memory",
    .params = ep_params,
    .state_size = sizeof(fab_node),
    .configure = ep_configure,
    .handle = fab_handle,
    .destroy = dev_destroy,
    .ext = &endpoint_class.ext,
};

static const sim_param psw_params[] = {
    {"latency", SIM_P_TIME, "150 ns", "ps", "cut-through latency port to port",
     offsetof(fab_node, hdr.latency), NULL},
    END_PARAMS};
static const sim_param csw_params[] = {
    {"latency", SIM_P_TIME, "250 ns", "ps", "latency port to port",
     offsetof(fab_node, hdr.latency), NULL},
    END_PARAMS};

static int switch_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    fab_node_init(c, 0, NULL);
    return 0;
}

const sim_model fab_pswitch_model = {
    .type = "pcie_switch",
    .summary = "PCIe switch: ports are its links, cut-through latency per hop",
    .params = psw_params,
    .state_size = sizeof(fab_node),
    .configure = switch_configure,
    .handle = fab_handle,
    .destroy = dev_destroy,
    .ext = &pswitch_class.ext,
};

const sim_model fab_cswitch_model = {
    .type = "cxl_switch",
    .summary = "CXL switch: ports are its links, latency per hop",
    .params = csw_params,
    .state_size = sizeof(fab_node),
    .configure = switch_configure,
    .handle = fab_handle,
    .destroy = dev_destroy,
    .ext = &cswitch_class.ext,
};

double fab_memory_bandwidth(const sim_comp *m)
{
    return m && m->model == &fab_memory_model ? ((const fab_mem *)m->state)->bw : 0;
}

int fab_memory_is_cxl(const sim_comp *m)
{
    return m && m->model == &fab_memory_model &&
           ((const fab_mem *)m->state)->mkind == FAB_MEM_CXL;
}
