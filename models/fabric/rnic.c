/*
 * rnic.c - the `rnic` RDMA NIC node (see rnic.h); its data paths are in
 * paths.c.
 */
#include "models/fabric/rnic.h"

#include <stddef.h>
#include <stdio.h>

#include "models/fabric/devices_int.h"
#include "sim/mem.h"

static const char *const rnic_ports[] = {"ethernet", "infiniband", NULL};

const fab_node_kind fab_kind_rnic = {
    .name = "rnic",
    .entry_latency = 1,
    .ports = rnic_ports,
};

static const fab_class rnic_class = {{fab_family}, NULL, &fab_kind_rnic};

static uint32_t slot_of(uint32_t id, uint32_t cap)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & (cap - 1);
}

fab_qp *fab_rnic_qp(fab_rnic *nic, uint32_t remote)
{
    uint32_t mask = nic->capqps - 1;
    if (nic->capqps)
        for (uint32_t i = slot_of(remote, nic->capqps); nic->qps[i]; i = (i + 1) & mask)
            if (nic->qps[i]->remote == remote)
                return nic->qps[i];
    if (2 * (nic->nqps + 1) > nic->capqps) { /* grow (only when a new pair appears) */
        uint32_t cap = nic->capqps ? 2 * nic->capqps : 16;
        fab_qp **q = sim_calloc(cap, sizeof *q);
        if (!q)
            return NULL;
        for (uint32_t i = 0; i < nic->capqps; i++) {
            if (!nic->qps[i])
                continue;
            uint32_t j = slot_of(nic->qps[i]->remote, cap);
            while (q[j])
                j = (j + 1) & (cap - 1);
            q[j] = nic->qps[i];
        }
        sim_free(nic->qps);
        nic->qps = q;
        nic->capqps = cap;
        mask = cap - 1;
    }
    fab_qp *qp = sim_calloc(1, sizeof *qp);
    if (!qp)
        return NULL;
    qp->remote = remote;
    qp->window.capacity = nic->qp_window;
    uint32_t i = slot_of(remote, nic->capqps);
    while (nic->qps[i])
        i = (i + 1) & mask;
    nic->qps[i] = qp;
    nic->nqps++;
    return qp;
}

/* ---- semantic routing: the match-action table, an LRU over sessions ---- */

#define NIL UINT32_MAX

static void lru_unlink(fab_rnic *n, uint32_t i)
{
    uint32_t p = n->t_prev[i], x = n->t_next[i];
    if (p != NIL)
        n->t_next[p] = x;
    else
        n->t_head = x;
    if (x != NIL)
        n->t_prev[x] = p;
    else
        n->t_tail = p;
}

static void lru_front(fab_rnic *n, uint32_t i)
{
    n->t_prev[i] = NIL;
    n->t_next[i] = n->t_head;
    if (n->t_head != NIL)
        n->t_prev[n->t_head] = i;
    n->t_head = i;
    if (n->t_tail == NIL)
        n->t_tail = i;
}

int fab_rnic_lookup(fab_rnic *n, uint64_t session)
{
    n->lookups++;
    uint32_t i = sim_idmap_get(&n->table, session);
    if (i == SIM_IDMAP_NONE) {
        n->misses++;
        return 0;
    }
    n->hits++;
    lru_unlink(n, i);
    lru_front(n, i);
    return 1;
}

void fab_rnic_install(fab_rnic *n, uint64_t session)
{
    n->t_updates++;
    uint32_t i = sim_idmap_get(&n->table, session);
    if (i != SIM_IDMAP_NONE) { /* already there: refreshed */
        lru_unlink(n, i);
        lru_front(n, i);
        return;
    }
    if (n->t_used < n->table_entries) {
        i = n->t_used++;
    } else { /* full: the least recently used entry goes */
        i = n->t_tail;
        lru_unlink(n, i);
        sim_idmap_del(&n->table, n->t_key[i]);
        n->t_evictions++;
    }
    n->t_key[i] = session;
    (void)sim_idmap_put(&n->table, session, i); /* room: one entry out per entry in */
    lru_front(n, i);
}

static const char *const miss_names[] = {"arm", "host", NULL};

static const sim_param rnic_params[] = {
    {"latency", SIM_P_TIME, "0 ns", "ps", "PCIe port to the pipelines",
     offsetof(fab_rnic, hdr.latency), NULL},
    {"packet_rate", SIM_P_DOUBLE, "215e6", "packets/s",
     "packets per second of each pipeline (ConnectX-7 class: about 215 Mpps)",
     offsetof(fab_rnic, packet_rate), NULL},
    {"message_rate", SIM_P_DOUBLE, "100e6", "messages/s",
     "work requests per second of each pipeline", offsetof(fab_rnic, message_rate), NULL},
    {"mtu", SIM_P_SIZE, "4 KiB", "B", "RDMA payload per packet (path MTU, 256 B .. 4 KiB)",
     offsetof(fab_rnic, mtu), NULL},
    {"qp_window", SIM_P_UINT, "16", "messages", "outstanding messages per queue pair",
     offsetof(fab_rnic, qp_window), NULL},
    {"doorbell", SIM_P_SIZE, "64 B", "B", "doorbell + inline WQE, an MMIO write host -> NIC",
     offsetof(fab_rnic, doorbell), NULL},
    {"cqe", SIM_P_SIZE, "64 B", "B", "completion queue entry written NIC -> host",
     offsetof(fab_rnic, cqe), NULL},
    {"post_cpu", SIM_P_TIME, "300 ns", "ps", "CPU time to post one work request",
     offsetof(fab_rnic, post_cpu), NULL},
    {"gpudirect", SIM_P_BOOL, "true", "",
     "GPUDirect RDMA: reads/writes GPU memory peer to peer", offsetof(fab_rnic, gpudirect),
     NULL},
    {"semantic_routing", SIM_P_BOOL, "false", "",
     "route received KV chunks by their session id in a match-action table straight to the "
     "GPU (path rdma; misses take miss_path)",
     offsetof(fab_rnic, semantic), NULL},
    {"table_entries", SIM_P_UINT, "4096", "sessions", "match-action table capacity (LRU)",
     offsetof(fab_rnic, table_entries), NULL},
    {"miss_path", SIM_P_ENUM, "arm", "",
     "a table miss goes to the NIC's Arm cores (arm) or to the host network stack (host)",
     offsetof(fab_rnic, miss_path), miss_names},
    {"arm_cores", SIM_P_UINT, "16", "cores", "Arm cores of the slow path (BlueField-3: 16 A78)",
     offsetof(fab_rnic, arm_cores), NULL},
    {"arm_packet_time", SIM_P_TIME, "500 ns", "ps",
     "Arm core time per packet on the slow path (parse, look up, install, post DMA)",
     offsetof(fab_rnic, arm_packet), NULL},
    {"table_update", SIM_P_SIZE, "64 B", "B",
     "one table update: a PCIe write host -> NIC per session placement",
     offsetof(fab_rnic, table_update), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int rnic_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    fab_rnic *n = c->state;
    if (!(n->packet_rate > 0) || !(n->message_rate > 0))
        return scn_error(err, node, "rnic '%s': packet_rate and message_rate must be positive",
                         c->name);
    if (n->mtu < 256 || n->mtu > 4096 || (n->mtu & (n->mtu - 1)))
        return scn_error(err, node ? scn_map_get(node, "mtu") : NULL,
                         "rnic '%s': mtu must be 256, 512, 1024, 2048 or 4096 B (the RDMA path"
                         " MTUs, IBA vol. 1 9.7.2)",
                         c->name);
    if (n->qp_window < 1 || n->doorbell < 1 || n->cqe < 1)
        return scn_error(err, node, "rnic '%s': qp_window, doorbell and cqe must be positive",
                         c->name);
    if (n->semantic && (n->table_entries < 1 || n->table_entries > (1u << 26)))
        return scn_error(err, node ? scn_map_get(node, "table_entries") : NULL,
                         "rnic '%s': table_entries must be 1 .. 67108864 with semantic_routing",
                         c->name);
    if (n->arm_cores < 1 || n->arm_cores > 4096)
        return scn_error(err, node ? scn_map_get(node, "arm_cores") : NULL,
                         "rnic '%s': arm_cores must be 1 .. 4096", c->name);
    static const char *const labels[] = {"tx", "rx", "arm"};
    fab_node_init(c, 3, labels);
    n->hdr.res[2].servers = (uint32_t)n->arm_cores;
    n->t_head = n->t_tail = NIL;
    if (n->semantic) {
        uint32_t cap = (uint32_t)n->table_entries;
        n->t_key = sim_calloc(cap, sizeof *n->t_key);
        n->t_prev = sim_calloc(cap, sizeof *n->t_prev);
        n->t_next = sim_calloc(cap, sizeof *n->t_next);
        if (!n->t_key || !n->t_prev || !n->t_next || sim_idmap_init(&n->table, cap))
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "rnic '%s': out of memory",
                               c->name);
    }
    return 0;
}

static int rnic_finish(sim_comp *c, sim_err *err)
{
    fab_rnic *n = c->state;
    fab_hdr_settle(c->sim, c->state, 0); /* lone flows: counters up to now */
    sim_time now = sim_now(c->sim);
    for (int i = 0; i < 2; i++) {
        char name[64];
        const fab_res *r = &n->hdr.res[i];
        snprintf(name, sizeof name, "%s_packets", i ? "rx" : "tx");
        sim_report_metric(c->sim, c->name, name, (double)r->units, "packets");
        snprintf(name, sizeof name, "%s_utilization", i ? "rx" : "tx");
        sim_report_metric(c->sim, c->name, name,
                          now ? (double)fab_res_busy(r, now) / (double)now : 0.0, "");
    }
    uint64_t waits = 0;
    for (uint32_t i = 0; i < n->capqps; i++)
        if (n->qps[i])
            waits += n->qps[i]->window.waits;
    sim_report_metric(c->sim, c->name, "queue_pairs", (double)n->nqps, "");
    if (n->semantic) {
        sim_report_metric(c->sim, c->name, "table_lookups", (double)n->lookups, "lookups");
        sim_report_metric(c->sim, c->name, "table_hits", (double)n->hits, "lookups");
        sim_report_metric(c->sim, c->name, "table_misses", (double)n->misses, "lookups");
        sim_report_metric(c->sim, c->name, "table_miss_ratio",
                          n->lookups ? (double)n->misses / (double)n->lookups : 0.0, "");
        sim_report_metric(c->sim, c->name, "table_evictions", (double)n->t_evictions,
                          "entries");
        sim_report_metric(c->sim, c->name, "table_updates", (double)n->t_updates, "writes");
        sim_report_metric(c->sim, c->name, "arm_packets", (double)n->hdr.res[2].units,
                          "packets");
        sim_report_metric(c->sim, c->name, "arm_core_seconds",
                          sim_time_to_s(n->hdr.res[2].busy_ps), "s");
    }
    sim_report_metric(c->sim, c->name, "qp_window_waits", (double)waits, "messages");
    return 0;
}

static void rnic_destroy(sim_comp *c)
{
    fab_rnic *n = c->state;
    for (uint32_t i = 0; i < n->capqps; i++)
        sim_free(n->qps[i]);
    sim_free(n->qps);
    sim_free(n->t_key);
    sim_free(n->t_prev);
    sim_free(n->t_next);
    sim_idmap_fini(&n->table);
    fab_hdr_destroy(&n->hdr);
}

const sim_model rnic_model = {
    .type = "rnic",
    .summary = "RDMA NIC: RC queue pairs, doorbells/CQEs on PCIe, packet and message rates, "
               "GPUDirect RDMA",
    .params = rnic_params,
    .state_size = sizeof(fab_rnic),
    .configure = rnic_configure,
    .handle = fab_handle,
    .finish = rnic_finish,
    .destroy = rnic_destroy,
    .ext = &rnic_class.ext,
};
