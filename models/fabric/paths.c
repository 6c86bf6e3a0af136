/*
 * paths.c - the data paths of fabric.h as itineraries (paths.h).
 *
 * A path is made of segments: a segment is a route between two components
 * (found by the engine, or given by the caller) walked in one operation,
 * optionally with the memory steps of its ends. The DMA initiator decides
 * the operation (fabric.h): pulling from the source is a read (request
 * steps on every link from the initiator back to the source, then the data
 * steps), pushing a write (data steps, then a response step on every link
 * whose protocol answers writes, e.g. a CXL.mem NDR per line). Node kinds
 * (devices_int.h) tell which end is a host, a GPU, an SSD or a memory.
 *
 * The bounce path is store-and-forward: the memory step that ends each of
 * its legs (the DRAM write of a buffer) gets the buffer as its forwarding
 * unit, so by the engine's cut-through rule (engine.h) the next step
 * starts only after the whole buffer is there; its chunks are the buffers
 * and its window their count, so the engine's window is the buffer pool.
 * Validated in tests/check_bounce.c.
 *
 * A DMA copy with a GPU end is moved by one of its copy engines (the
 * engine's descriptor costs, one descriptor per contiguous piece, the
 * engine held: dma_start/dma_end) or, when the request asks for it
 * (fabric_req.copy), by a copy kernel on its SMs (a launch, the SMs' load
 * cap, SM time: sm_copy).
 */
#include "models/fabric/paths.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/fabric/devices_int.h"

const char *const fab_path_names[] = {"auto",        "dma",       "pageable", "gds",
                                      "bounce",      "cxl",       "rdma",     "rdma_read",
                                      "rdma_staged", "rdma_host", "mmio",     "rdma_send",
                                      "load",        "msg",       NULL};

static const fab_node_kind *kind(sim *s, uint32_t id) { return fab_kind_of(s, id); }

static int is(sim *s, uint32_t id, const fab_node_kind *k) { return kind(s, id) == k; }

/* Hosts and memory devices: the ends whose bytes sit in memory a CPU addresses. */
static int memlike(sim *s, uint32_t id)
{
    return is(s, id, &fab_kind_cpu) || is(s, id, &fab_kind_memory);
}

static int is_cxl_mem(sim *s, uint32_t id)
{
    return is(s, id, &fab_kind_memory) &&
           ((fab_mem *)sim_comp_at(s, id)->state)->mkind == FAB_MEM_CXL;
}

/* The memory step of end `id` (data leaving it when `out`); none for a
 * node without memory. */
static int mem_step(sim *s, fab_flow *fl, uint32_t id, int out, int random)
{
    fab_hdr *h = fab_hdr_of(sim_comp_at(s, id));
    fab_mem_service m;
    if (!h || fab_is_link(h) || !h->cls->node->memory ||
        h->cls->node->memory(s, h, out, random, &m))
        return 0;
    if (m.host_memory)
        fl->host_mem += fl->bytes;
    /* op READ when the data leaves the memory, so the engine counts reads
     * apart from writes (fab_res.read_bytes: an SSD's energy differs); a
     * per-command stage (cmd_rate) comes first on the way out, last on
     * the way in, and counts no payload (the bytes are the data step's) */
    int op = out ? FAB_OP_READ : FAB_OP_WRITE;
    fab_fstep *st;
    if (out && m.cmd_rate > 0) {
        if (!(st = fab_flow_add_step(fl, &h->res[m.cmd_res], NULL, NULL, op, FAB_DIR_DATA,
                                     m.cmd_rate, 0, m.unit, 0)))
            return SIM_EINVAL;
        st->spread = m.cmd_spread;
    }
    if (!fab_flow_add_step(fl, &h->res[m.res], NULL, NULL, op, FAB_DIR_DATA, m.rate, m.lat,
                           m.unit, 1))
        return SIM_EINVAL;
    if (!out && m.cmd_rate > 0) {
        if (!(st = fab_flow_add_step(fl, &h->res[m.cmd_res], NULL, NULL, op, FAB_DIR_DATA,
                                     m.cmd_rate, 0, m.unit, 0)))
            return SIM_EINVAL;
        st->spread = m.cmd_spread;
    }
    return 0;
}

/* The CPU's memcpy (a core copying between memories, at memcpy_bandwidth). */
static int memcpy_step(fab_flow *fl, fab_cpu *c, uint64_t unit)
{
    return fab_flow_add_step(fl, &c->hdr.res[1], NULL, NULL, 0, FAB_DIR_DATA, c->memcpy_bw, 0,
                             unit, 1)
               ? 0
               : SIM_EINVAL;
}

/* A segment from src to dst (ends' memory steps when src_mem/dst_mem). */
static int segment(sim *s, fab_topo *t, fab_flow *fl, uint32_t src, uint32_t dst, int src_mem,
                   int dst_mem, int random, const uint32_t *route, uint32_t nroute,
                   uint32_t initiator)
{
    uint32_t links[FAB_MAX_STEPS], n = 0;
    uint32_t a = fab_route_node(s, src), b = fab_route_node(s, dst);
    int rc;
    if (route) {
        if (nroute > FAB_MAX_STEPS)
            return SIM_EINVAL;
        memcpy(links, route, nroute * sizeof *links);
        n = nroute;
    } else if ((rc = fab_route_find(s, t, a, b, links, FAB_MAX_STEPS / 3, &n))) {
        return rc;
    } else if (fab_route_has_ecmp(s, a, links, n) &&
               (rc = fab_route_find_ecmp(s, t, a, b, fl->hash, links, FAB_MAX_STEPS / 3, &n))) {
        return rc;
    }
    /* sides[i] = end of link i the data leaves from */
    int sides[FAB_MAX_STEPS];
    uint32_t at = a;
    for (uint32_t i = 0; i < n; i++) {
        sim_comp *l = sim_comp_at(s, links[i]);
        if (!fab_is_link(fab_hdr_of(l)) || (l->ends[0] != at && l->ends[1] != at))
            return SIM_EINVAL;
        sides[i] = l->ends[0] == at ? 0 : 1;
        at = l->ends[1 - sides[i]];
    }
    if (at != b)
        return SIM_EINVAL;
    int op = initiator == dst ? FAB_OP_READ : FAB_OP_WRITE;
    if (op == FAB_OP_READ) /* requests from the requester (dst side) back to src */
        for (uint32_t i = n; i-- > 0;)
            if (!fab_flow_add_hop(s, fl, links[i], 1 - sides[i], op, FAB_DIR_REQ, 0))
                return SIM_EINVAL;
    if (src_mem && (rc = mem_step(s, fl, src, 1, random)))
        return rc;
    for (uint32_t i = 0; i < n; i++)
        if (!fab_flow_add_hop(s, fl, links[i], sides[i], op, FAB_DIR_DATA, 1))
            return SIM_EINVAL;
    if (dst_mem && (rc = mem_step(s, fl, dst, 0, random)))
        return rc;
    if (op == FAB_OP_WRITE) /* responses to writes, where the protocol has them */
        for (uint32_t i = n; i-- > 0;) {
            fab_hdr *lh = sim_comp_at(s, links[i])->state;
            if (lh->cls->proto->write_response &&
                !fab_flow_add_hop(s, fl, links[i], 1 - sides[i], op, FAB_DIR_REQ, 0))
                return SIM_EINVAL;
        }
    return 0;
}

/* The component whose DMA engine (or, for CXL, whose CPU) moves the data
 * of a DMA-path segment: a GPU copy engine when one is used, else the
 * device end (the SSD, an endpoint), else src. */
static uint32_t dma_initiator(sim *s, uint32_t src, uint32_t dst, uint32_t ce_gpu)
{
    if (ce_gpu != UINT32_MAX)
        return ce_gpu;
    if (is(s, src, &fab_kind_nvme) || is(s, dst, &fab_kind_nvme))
        return is(s, dst, &fab_kind_nvme) ? dst : src;
    if (memlike(s, src) && !memlike(s, dst))
        return dst;
    if (memlike(s, src) && memlike(s, dst))
        return dst; /* host memory to memory: the reading side pulls */
    return src;
}

/* The component of kind k nearest to component id (fewest hops through
 * forwarding nodes; the first in scenario order on a tie), or UINT32_MAX. */
static uint32_t nearest(sim *s, fab_topo *t, uint32_t id, const fab_node_kind *k)
{
    uint32_t a = fab_route_node(s, id);
    if (is(s, a, k))
        return a;
    uint32_t best = UINT32_MAX, bestn = UINT32_MAX;
    fab_route_dist(s, t, a); /* one search: the fewest hops, then scenario order */
    for (uint32_t i = 0; i < t->ncomps; i++)
        if (t->dist[i] < bestn && t->dist[i] <= FAB_MAX_STEPS && is(s, i, k)) {
            best = i;
            bestn = t->dist[i];
        }
    return best;
}

static uint32_t nearest_cpu(sim *s, fab_topo *t, uint32_t id)
{
    return nearest(s, t, id, &fab_kind_cpu);
}

uint32_t fab_path_host_of(sim *s, fab_topo *t, uint32_t id) { return nearest_cpu(s, t, id); }

static fab_cpu *cpu_at(sim *s, uint32_t id) { return sim_comp_at(s, id)->state; }

/* ---- RDMA (rnic.h) ------------------------------------------------------ */

/* A fixed control message (doorbell, CQE) from `from` to `to` over PCIe,
 * once per flow, with its first (or last) chunk. */
static int control(sim *s, fab_topo *t, fab_flow *fl, uint32_t from, uint32_t to,
                   uint64_t bytes, int when)
{
    uint32_t links[FAB_MAX_STEPS], n;
    int rc = fab_route_find(s, t, from, to, links, FAB_MAX_STEPS / 3, &n);
    if (rc)
        return rc;
    uint32_t at = from;
    for (uint32_t i = 0; i < n; i++) {
        sim_comp *l = sim_comp_at(s, links[i]);
        int side = l->ends[0] == at ? 0 : 1;
        fab_fstep *st = fab_flow_add_hop(s, fl, links[i], side, FAB_OP_WRITE, FAB_DIR_DATA, 0);
        if (!st)
            return SIM_EINVAL;
        st->ctl = when;
        st->ctl_bytes = bytes;
        at = l->ends[1 - side];
    }
    return 0;
}

/* A device's DMA engine costs before the data (fab_dma, devices_int.h):
 * the host's doorbell, the descriptor fetch (a read of host memory: the
 * request up, the host's DRAM, the completion down) and the engine's
 * processing, each once per transfer with its first chunk. */
static int dma_start(sim *s, fab_topo *t, fab_flow *fl, uint32_t dev, uint32_t host,
                     uint32_t pieces)
{
    const fab_dma *d = fab_dma_of(s, dev);
    int rc;
    if (d->doorbell && (rc = control(s, t, fl, host, dev, d->doorbell, FAB_CTL_FIRST)))
        return rc;
    if (d->fetch) {
        uint32_t links[FAB_MAX_STEPS], n;
        if ((rc = fab_route_find(s, t, fab_route_node(s, dev), host, links, FAB_MAX_STEPS / 3,
                                 &n)))
            return rc;
        int sides[FAB_MAX_STEPS];
        uint32_t at = fab_route_node(s, dev);
        for (uint32_t i = 0; i < n; i++) { /* MRd toward the host */
            sim_comp *l = sim_comp_at(s, links[i]);
            sides[i] = l->ends[0] == at ? 0 : 1;
            fab_fstep *st = fab_flow_add_hop(s, fl, links[i], sides[i], FAB_OP_READ,
                                             FAB_DIR_REQ, 0);
            if (!st)
                return SIM_EINVAL;
            st->ctl = FAB_CTL_FIRST;
            st->ctl_bytes = d->fetch;
            at = l->ends[1 - sides[i]];
        }
        fab_cpu *c = cpu_at(s, host);
        fab_fstep *m = fab_flow_add_step(fl, &c->hdr.res[0], NULL, NULL, FAB_OP_READ,
                                         FAB_DIR_DATA, c->dram_bw, c->dram_lat, 64, 0);
        if (!m)
            return SIM_EINVAL;
        m->ctl = FAB_CTL_FIRST;
        m->ctl_bytes = d->fetch;
        for (uint32_t i = n; i-- > 0;) { /* CplD back to the device */
            fab_fstep *st = fab_flow_add_hop(s, fl, links[i], 1 - sides[i], FAB_OP_READ,
                                             FAB_DIR_DATA, 0);
            if (!st)
                return SIM_EINVAL;
            st->ctl = FAB_CTL_FIRST;
            st->ctl_bytes = d->fetch;
        }
    }
    if (d->descriptor) {
        fab_hdr *h = fab_hdr_of(sim_comp_at(s, dev));
        fab_fstep *st = fab_flow_add_step(fl, &h->res[1], NULL, NULL, 0, FAB_DIR_DATA, 0.0, 0,
                                          64, 0);
        if (!st)
            return SIM_EINVAL;
        st->ctl = FAB_CTL_FIRST;
        st->ctl_bytes = 1;
        st->per_msg = d->descriptor * (sim_time)(pieces ? pieces : 1); /* one per piece */
    }
    return 0;
}

/* A copy kernel on GPU `gpu`'s SMs moves the segment instead of a copy
 * engine (fabric.h FABRIC_COPY_SM; devices_int.h fab_gpu): its launch on
 * the GPU's front end (per transfer, with the first chunk; launches
 * queue), the segment with the GPU as initiator (its loads pull, its
 * stores push), at most sm_read_tags loads of sm_read_request bytes
 * outstanding when it pulls, and its SMs held for the copy's duration
 * (charged at completion). No descriptor, fetch, completion or MSI-X: the
 * kernel's loads and stores are the transfer. */
static int sm_copy(sim *s, fab_topo *t, fab_flow *fl, const fabric_req *r, uint32_t gpu)
{
    fab_gpu *g = sim_comp_at(s, gpu)->state;
    int rc;
    if (g->sm_launch) {
        fab_fstep *st = fab_flow_add_step(fl, &g->hdr.res[2], NULL, NULL, 0, FAB_DIR_DATA, 0.0,
                                          0, 64, 0);
        if (!st)
            return SIM_EINVAL;
        st->ctl = FAB_CTL_FIRST;
        st->ctl_bytes = 1;
        st->per_msg = g->sm_launch;
    }
    if ((rc = segment(s, t, fl, r->src, r->dst, 1, 1, r->random, r->route, r->nroute, gpu)))
        return rc;
    if (gpu == r->dst && g->sm_read_tags)
        fl->inflight_cap = g->sm_read_tags * g->sm_read_request;
    fl->sm_count = (double)g->sm_sms;
    fl->sm_account = &g->sm_ps;
    return 0;
}

/* After the data: the completion write-back and the MSI-X interrupt, with
 * the last chunk; and the read tags of a device that pulls the data. */
static int dma_end(sim *s, fab_topo *t, fab_flow *fl, uint32_t dev, uint32_t host, int pulls)
{
    const fab_dma *d = fab_dma_of(s, dev);
    int rc;
    if (d->completion && (rc = control(s, t, fl, dev, host, d->completion, FAB_CTL_LAST)))
        return rc;
    if (d->msix && (rc = control(s, t, fl, dev, host, 4, FAB_CTL_LAST)))
        return rc;
    if (pulls && d->read_tags)
        fl->inflight_cap = d->read_tags * d->read_request;
    return 0;
}

/* A NIC pipeline step: per message and per packet costs. */
static int pipeline(fab_flow *fl, fab_rnic *nic, int which)
{
    fab_fstep *st = fab_flow_add_step(fl, &nic->hdr.res[which], NULL, NULL, 0, FAB_DIR_DATA, 0.0,
                                      0, nic->mtu, 1);
    if (!st)
        return SIM_EINVAL;
    st->per_unit = (sim_time)llround(1e12 / nic->packet_rate);
    st->per_msg = (sim_time)llround(1e12 / nic->message_rate);
    st->unit_payload = nic->mtu;
    return 0;
}

/* The network route between two NICs (ECMP through switches that spread). */
static int net_route(sim *s, fab_topo *t, fab_flow *fl, uint32_t a, uint32_t b, uint32_t *links,
                     uint32_t *n, int *sides)
{
    int rc = fab_route_find(s, t, a, b, links, FAB_MAX_STEPS / 3, n);
    if (!rc && fab_route_has_ecmp(s, a, links, *n))
        rc = fab_route_find_ecmp(s, t, a, b, fl->hash, links, FAB_MAX_STEPS / 3, n);
    if (rc)
        return rc;
    uint32_t at = a;
    for (uint32_t i = 0; i < *n; i++) {
        sim_comp *l = sim_comp_at(s, links[i]);
        sides[i] = l->ends[0] == at ? 0 : 1;
        at = l->ends[1 - sides[i]];
    }
    return 0;
}

/* The RDMA NIC of end id: a GPU's `nic` (its own node's, "nodeK.NAME",
 * first), else the nearest rnic. */
static uint32_t nic_of(sim *s, fab_topo *t, uint32_t id)
{
    if (is(s, id, &fab_kind_gpu)) {
        sim_comp *c = sim_comp_at(s, id);
        fab_gpu *g = c->state;
        if (!g->nic_id && g->nic && *g->nic) {
            char name[512];
            const char *dot = strrchr(c->name, '.');
            sim_comp *n = NULL;
            if (dot && (size_t)(dot - c->name) + strlen(g->nic) + 2 < sizeof name) {
                snprintf(name, sizeof name, "%.*s.%s", (int)(dot - c->name), c->name, g->nic);
                n = sim_find(s, name);
            }
            if (!n)
                n = sim_find(s, g->nic);
            g->nic_id = n && is(s, n->id, &fab_kind_rnic) ? n->id + 1 : UINT32_MAX;
        }
        if (g->nic_id && g->nic_id != UINT32_MAX)
            return g->nic_id - 1;
    }
    return nearest(s, t, id, &fab_kind_rnic);
}

uint32_t fab_path_nic_of(sim *s, fab_topo *t, uint32_t id) { return nic_of(s, t, id); }

/* An RDMA message from src to dst: WRITE (pushed by src's NIC) or READ
 * (pulled by dst's NIC), with GPU ends peer to peer or staged via DRAM. */
/* How the receiving NIC delivers: straight to the destination (a table
 * hit, or no semantic routing), through its Arm cores, or through the host. */
enum { RECV_DIRECT, RECV_ARM, RECV_HOST };

/* The receive side through the host: the NIC writes host DRAM, the network
 * stack processes every packet on the host's cores and decides where the
 * message goes, a copy engine moves it on (fabric.h RDMA_HOST). */
static int host_receive(sim *s, fab_topo *t, fab_flow *fl, const fabric_req *r, uint32_t nb,
                        fab_rnic *B, uint32_t hb)
{
    int rc;
    if (hb == UINT32_MAX)
        return SIM_ENOTFOUND;
    fab_cpu *h = cpu_at(s, hb);
    if ((rc = segment(s, t, fl, nb, hb, 0, 1, 0, NULL, 0, nb)))
        return rc;
    fab_fstep *st = fab_flow_add_step(fl, &h->hdr.res[2], NULL, NULL, 0, FAB_DIR_DATA,
                                      h->net_cpb > 0 ? h->cpu_hz / h->net_cpb : 0.0, 0, B->mtu,
                                      1);
    if (!st)
        return SIM_EINVAL;
    st->unit_payload = B->mtu;
    st->per_unit = (sim_time)llround(h->net_cpp / h->cpu_hz * 1e12);
    st->per_msg = (sim_time)llround(h->route_cycles / h->cpu_hz * 1e12);
    if ((rc = segment(s, t, fl, hb, r->dst, 1, 1, 0, NULL, 0,
                      is(s, r->dst, &fab_kind_gpu) ? r->dst : hb)))
        return rc;
    /* the cost model's CPU time, exactly: packets, bytes, one decision, the copy's launch */
    uint64_t packets = (r->bytes + B->mtu - 1) / B->mtu;
    fl->cpu_far_ps += ((double)packets * h->net_cpp + (double)r->bytes * h->net_cpb +
                       h->route_cycles) /
                          h->cpu_hz * 1e12 +
                      (is(s, r->dst, &fab_kind_gpu) ? (double)h->launch_cpu : 0.0);
    fl->cpu_far_account = &h->cpu_ps;
    return 0;
}

static int rdma(sim *s, fab_topo *t, fab_flow *fl, const fabric_req *r, int read, int staged,
                int host, int send, uint32_t *cpu, fab_gate **gate)
{
    uint32_t na = nic_of(s, t, r->src);
    uint32_t nb = nic_of(s, t, r->dst);
    if (na == UINT32_MAX || nb == UINT32_MAX || na == nb)
        return SIM_ENOTFOUND;
    fab_rnic *A = sim_comp_at(s, na)->state, *B = sim_comp_at(s, nb)->state;
    int gpu_src = is(s, r->src, &fab_kind_gpu), gpu_dst = is(s, r->dst, &fab_kind_gpu);
    if (!staged && ((gpu_src && !A->gpudirect) || (gpu_dst && !B->gpudirect && !host)))
        return SIM_EINVAL; /* GPUDirect RDMA needs the NIC's support */
    uint32_t ha = nearest_cpu(s, t, na), hb = nearest_cpu(s, t, nb);
    uint32_t requester = read ? nb : na, rhost = read ? hb : ha;
    fab_rnic *R = read ? B : A;
    if (rhost == UINT32_MAX)
        return SIM_ENOTFOUND;
    uint32_t links[FAB_MAX_STEPS], n;
    int sides[FAB_MAX_STEPS], rc;
    if ((rc = net_route(s, t, fl, na, nb, links, &n, sides)))
        return rc;
    /* post: doorbell + WQE to the requester's NIC */
    if ((rc = control(s, t, fl, rhost, requester, R->doorbell, FAB_CTL_FIRST)))
        return rc;
    fl->cpu_ps += (double)R->post_cpu;
    if (read) /* the read request crosses the network to the responder */
        for (uint32_t i = n; i-- > 0;)
            if (!fab_flow_add_hop(s, fl, links[i], 1 - sides[i], FAB_OP_READ, FAB_DIR_REQ, 0))
                return SIM_EINVAL;
    /* source side: the NIC reads the payload (staged GPU: copy to DRAM first) */
    if (staged && gpu_src) {
        if (ha == UINT32_MAX)
            return SIM_ENOTFOUND;
        if ((rc = segment(s, t, fl, r->src, ha, 1, 1, 0, NULL, 0, r->src)) ||
            (rc = segment(s, t, fl, ha, na, 1, 0, 0, NULL, 0, na)))
            return rc;
        fl->cpu_ps += (double)cpu_at(s, ha)->launch_cpu;
    } else if ((rc = segment(s, t, fl, r->src, na, 1, 0, 0, NULL, 0, na))) {
        return rc;
    }
    int op = read ? FAB_OP_READ : FAB_OP_WRITE;
    if ((rc = pipeline(fl, A, 0)))
        return rc;
    for (uint32_t i = 0; i < n; i++)
        if (!fab_flow_add_hop(s, fl, links[i], sides[i], op, FAB_DIR_DATA, 1))
            return SIM_EINVAL;
    if ((rc = pipeline(fl, B, 1)))
        return rc;
    /* receive: a semantic-routing NIC looks the session up (a miss installs
     * it through the slow path); the host path is the baseline it removes */
    int recv = host ? RECV_HOST : RECV_DIRECT;
    if (!host && !read && !staged && B->semantic && r->session &&
        !fab_rnic_lookup(B, r->session)) {
        fab_rnic_install(B, r->session);
        recv = B->miss_path == FAB_MISS_ARM ? RECV_ARM : RECV_HOST;
    }
    if (recv == RECV_ARM) {
        fab_fstep *st = fab_flow_add_step(fl, &B->hdr.res[2], NULL, NULL, 0, FAB_DIR_DATA, 0.0,
                                          0, B->mtu, 1);
        if (!st)
            return SIM_EINVAL;
        st->unit_payload = B->mtu;
        st->per_unit = B->arm_packet;
    }
    /* destination side: the NIC writes (staged GPU: DRAM, then the GPU pulls) */
    if (recv == RECV_HOST) {
        if ((rc = host_receive(s, t, fl, r, nb, B, hb)))
            return rc;
    } else if (staged && gpu_dst) {
        if (hb == UINT32_MAX)
            return SIM_ENOTFOUND;
        if ((rc = segment(s, t, fl, nb, hb, 0, 1, 0, NULL, 0, nb)) ||
            (rc = segment(s, t, fl, hb, r->dst, 1, 1, 0, NULL, 0, r->dst)))
            return rc;
        /* the receiver's host launches its copy */
        fl->cpu_far_ps += (double)cpu_at(s, hb)->launch_cpu;
        fl->cpu_far_account = &cpu_at(s, hb)->cpu_ps;
    } else if ((rc = segment(s, t, fl, nb, r->dst, 0, 1, 0, NULL, 0, nb))) {
        return rc;
    }
    if (send) { /* two-sided: the receive the far host posted completes there */
        if (hb == UINT32_MAX)
            return SIM_ENOTFOUND;
        if ((rc = control(s, t, fl, nb, hb, B->cqe, FAB_CTL_LAST)))
            return rc;
        fl->cpu_far_ps += (double)B->post_cpu;
        fl->cpu_far_account = &cpu_at(s, hb)->cpu_ps;
    }
    if (!read) /* RC acknowledgements back to the requester, where the protocol has them */
        for (uint32_t i = n; i-- > 0;) {
            fab_hdr *lh = sim_comp_at(s, links[i])->state;
            if (lh->cls->proto->write_response &&
                !fab_flow_add_hop(s, fl, links[i], 1 - sides[i], op, FAB_DIR_REQ, 0))
                return SIM_EINVAL;
        }
    /* complete: the CQE lands in the requester's host memory */
    if ((rc = control(s, t, fl, requester, rhost, R->cqe, FAB_CTL_LAST)))
        return rc;
    fab_qp *qp = fab_rnic_qp(R, read ? na : nb);
    if (!qp)
        return SIM_ENOMEM;
    *gate = &qp->window;
    *cpu = rhost;
    return 0;
}

/* ---- the bounce path (fabric.h BOUNCE) --------------------------------- */

/* The step just added ends a leg of the bounce path: it serves a whole
 * buffer before the next step may start (store-and-forward; engine.h: a
 * step whose forwarding unit is the chunk passes nothing on early). */
static void hold_buffer(fab_flow *fl, const fab_res *dram, uint64_t buf)
{
    for (uint32_t i = fl->nsteps; i-- > 0;)
        if (fl->st[i].res == dram) {
            fl->st[i].unit = buf;
            return;
        }
}

/* A copy by one of the host's copy threads from one buffer in its DRAM to
 * another: the DRAM read, the core's memcpy, the DRAM write. */
static int host_copy(sim *s, fab_flow *fl, fab_cpu *c, uint32_t cpu, uint64_t buf)
{
    int rc;
    if ((rc = mem_step(s, fl, cpu, 1, 0)) || (rc = memcpy_step(fl, c, 4096)) ||
        (rc = mem_step(s, fl, cpu, 0, 0)))
        return rc;
    hold_buffer(fl, &c->hdr.res[0], buf);
    return 0;
}

/* SSD <-> host <-> GPU (or another device) through host bounce buffers.
 * A read (ssd_src): the SSD's DMA fills a buffer in host DRAM (the page
 * cache unless O_DIRECT), the host's copy threads copy it on (page cache
 * -> pinned buffer; pageable: page cache -> user buffer -> the CUDA
 * driver's pinned staging buffer), then the device's copy engine reads
 * it out. A write is the mirror: the copy engine writes the buffer, the
 * copies run, the SSD reads it. Every leg holds the whole buffer before
 * the next starts; the flow's chunks are the buffers (o->bounce_io bytes)
 * and its window their count (o->bounce_buffers), so a buffer is filled
 * again only after its last leg has finished. */
static int bounce(sim *s, fab_topo *t, const fab_path_opts *o, fab_flow *fl,
                  const fabric_req *r, int read, fab_cpu *c, uint32_t cpu)
{
    uint64_t buf = o->bounce_io ? o->bounce_io : 1u << 20;
    uint32_t copies = o->bounce_mode == FAB_BOUNCE_PAGEABLE     ? 2
                      : o->bounce_mode == FAB_BOUNCE_PAGE_CACHE ? 1
                                                                : 0;
    int rc;
    /* first leg: the SSD writes host DRAM (read), or the device's copy
     * engine does (write) */
    if ((rc = segment(s, t, fl, r->src, cpu, 1, 1, read ? r->random : 0, NULL, 0, r->src)))
        return rc;
    hold_buffer(fl, &c->hdr.res[0], buf);
    for (uint32_t i = 0; i < copies; i++)
        if ((rc = host_copy(s, fl, c, cpu, buf)))
            return rc;
    /* last leg: the device's copy engine reads host DRAM (read), or the SSD does (write) */
    if ((rc = segment(s, t, fl, cpu, r->dst, 1, 1, read ? 0 : r->random, NULL, 0, r->dst)))
        return rc;
    fl->chunk = buf;
    fl->window = o->bounce_buffers ? (uint32_t)o->bounce_buffers : 1;
    /* CPU time: per buffer, the kernel I/O and the copy's launch; per byte
     * copied, the copy threads' memcpy */
    uint64_t ios = (r->bytes + buf - 1) / buf;
    fl->cpu_ps += (double)ios * (double)(c->io_cpu + c->launch_cpu) +
                  (double)copies * (double)r->bytes * 1e12 / c->memcpy_bw;
    return 0;
}

/* Can src reach dst without a network (a route through forwarding nodes)? */
static int local_route(sim *s, fab_topo *t, uint32_t src, uint32_t dst)
{
    uint32_t links[FAB_MAX_STEPS], n;
    return fab_route_find(s, t, fab_route_node(s, src), fab_route_node(s, dst), links,
                          FAB_MAX_STEPS / 3, &n) == 0;
}

int fab_path_plan(sim *s, fab_topo *t, const fab_path_opts *o, fab_flow *fl,
                  const fabric_req *r, fab_gate **gate)
{
    int ssd_src = is(s, r->src, &fab_kind_nvme), ssd_dst = is(s, r->dst, &fab_kind_nvme);
    int gpu_src = is(s, r->src, &fab_kind_gpu), gpu_dst = is(s, r->dst, &fab_kind_gpu);
    int path = r->path;
    if (path == FABRIC_PATH_AUTO) {
        if ((ssd_src && gpu_dst) || (gpu_src && ssd_dst))
            path = o->gds ? FABRIC_PATH_GDS : FABRIC_PATH_BOUNCE;
        else if ((is_cxl_mem(s, r->src) && memlike(s, r->dst) && !is_cxl_mem(s, r->dst)) ||
                 (is_cxl_mem(s, r->dst) && memlike(s, r->src) && !is_cxl_mem(s, r->src)))
            path = FABRIC_PATH_CXL;
        else if (!local_route(s, t, r->src, r->dst) &&
                 nic_of(s, t, r->src) != UINT32_MAX && nic_of(s, t, r->dst) != UINT32_MAX) {
            uint32_t na = nic_of(s, t, r->src);
            uint32_t nb = nic_of(s, t, r->dst);
            int direct = (!gpu_src || ((fab_rnic *)sim_comp_at(s, na)->state)->gpudirect) &&
                         (!gpu_dst || ((fab_rnic *)sim_comp_at(s, nb)->state)->gpudirect);
            path = direct ? FABRIC_PATH_RDMA : FABRIC_PATH_RDMA_STAGED;
        } else
            path = FABRIC_PATH_DMA;
    }
    fl->path = path;
    uint32_t cpu = UINT32_MAX, ce_gpu = UINT32_MAX;
    int rc = 0;
    if (r->copy == FABRIC_COPY_SM && path != FABRIC_PATH_DMA)
        return SIM_EINVAL; /* a copy kernel: a DMA-path copy with a GPU end only */
    switch (path) {
    case FABRIC_PATH_DMA:
        if (gpu_src && !ssd_dst)
            ce_gpu = r->src; /* the GPU pushes */
        else if (gpu_dst && !ssd_src)
            ce_gpu = r->dst; /* the GPU pulls */
        if (r->copy == FABRIC_COPY_SM) {
            if (ce_gpu == UINT32_MAX)
                return SIM_EINVAL;
            if ((rc = sm_copy(s, t, fl, r, ce_gpu)))
                return rc;
            cpu = nearest_cpu(s, t, memlike(s, r->src) ? r->src : r->dst);
            if (cpu != UINT32_MAX) /* the host launches the kernel as it would the copy */
                fl->cpu_ps += (double)cpu_at(s, cpu)->launch_cpu;
            fl->cpu_account = cpu != UINT32_MAX ? &cpu_at(s, cpu)->cpu_ps : NULL;
            *gate = NULL; /* no copy engine held */
            return 0;
        }
    {
        uint32_t ini = dma_initiator(s, r->src, r->dst, ce_gpu);
        /* the initiator's DMA engine costs; its host rings and hears it */
        uint32_t ih = fab_dma_of(s, ini) ? nearest_cpu(s, t, ini) : UINT32_MAX;
        if (ih != UINT32_MAX && (rc = dma_start(s, t, fl, ini, ih, r->pieces)))
            return rc;
        if ((rc = segment(s, t, fl, r->src, r->dst, 1, 1, r->random, r->route, r->nroute, ini)))
            return rc;
        if (ih != UINT32_MAX && (rc = dma_end(s, t, fl, ini, ih, ini == r->dst)))
            return rc;
        cpu = nearest_cpu(s, t, memlike(s, r->src) ? r->src : r->dst);
        if (cpu != UINT32_MAX && ce_gpu != UINT32_MAX)
            fl->cpu_ps += (double)cpu_at(s, cpu)->launch_cpu;
        break;
    }
    case FABRIC_PATH_PAGEABLE: {
        int h2d = memlike(s, r->src);
        uint32_t host = h2d ? r->src : r->dst, dev = h2d ? r->dst : r->src;
        if (!memlike(s, host) || !is(s, dev, &fab_kind_gpu))
            return SIM_EINVAL;
        cpu = nearest_cpu(s, t, host);
        if (cpu == UINT32_MAX)
            return SIM_ENOTFOUND;
        fab_cpu *c = cpu_at(s, cpu);
        ce_gpu = dev;
        if (h2d) { /* pageable read + memcpy + pinned write, then DMA from pinned */
            if ((rc = mem_step(s, fl, host, 1, 0)) || (rc = memcpy_step(fl, c, 4096)) ||
                (rc = mem_step(s, fl, cpu, 0, 0)))
                return rc;
            rc = segment(s, t, fl, cpu, dev, 1, 1, 0, NULL, 0, dev);
        } else {
            if ((rc = segment(s, t, fl, dev, cpu, 1, 1, 0, NULL, 0, dev)) ||
                (rc = mem_step(s, fl, cpu, 1, 0)) || (rc = memcpy_step(fl, c, 4096)))
                return rc;
            rc = mem_step(s, fl, host, 0, 0);
        }
        fl->cpu_ps += (double)c->launch_cpu + (double)r->bytes * 1e12 / c->memcpy_bw;
        break;
    }
    case FABRIC_PATH_GDS: {
        if (!((ssd_src && gpu_dst) || (gpu_src && ssd_dst)))
            return SIM_EINVAL;
        uint32_t ssd = ssd_src ? r->src : r->dst;
        cpu = nearest_cpu(s, t, ssd);
        if (cpu != UINT32_MAX && (rc = dma_start(s, t, fl, ssd, cpu, r->pieces)))
            return rc;
        rc = segment(s, t, fl, r->src, r->dst, 1, 1, r->random, r->route, r->nroute,
                     ssd); /* the SSD's DMA */
        if (!rc && cpu != UINT32_MAX)
            rc = dma_end(s, t, fl, ssd, cpu, ssd == r->dst);
        if (cpu != UINT32_MAX)
            fl->cpu_ps += (double)cpu_at(s, cpu)->gds_cpu;
        break;
    }
    case FABRIC_PATH_BOUNCE: {
        if (!((ssd_src && !ssd_dst && !memlike(s, r->dst)) ||
              (ssd_dst && !ssd_src && !memlike(s, r->src))))
            return SIM_EINVAL;
        uint32_t ssd = ssd_src ? r->src : r->dst;
        cpu = nearest_cpu(s, t, ssd);
        if (cpu == UINT32_MAX)
            return SIM_ENOTFOUND;
        /* the device's copy engine is taken per buffer (a cudaMemcpyAsync
         * each), not for the whole transfer as a gate would: the copies of
         * concurrent transfers share the links buffer by buffer */
        if ((rc = bounce(s, t, o, fl, r, ssd_src, cpu_at(s, cpu), cpu)))
            return rc;
        break;
    }
    case FABRIC_PATH_CXL: {
        int load = is_cxl_mem(s, r->src);
        uint32_t mem = load ? r->src : r->dst, other = load ? r->dst : r->src;
        if (!is_cxl_mem(s, mem) || !memlike(s, other))
            return SIM_EINVAL;
        cpu = nearest_cpu(s, t, other);
        if (cpu == UINT32_MAX)
            return SIM_ENOTFOUND;
        fab_cpu *c = cpu_at(s, cpu);
        if (load) { /* loads: CXL.mem reads, then stores into local memory */
            if ((rc = segment(s, t, fl, mem, cpu, 1, 0, 0, r->route, r->nroute, cpu)) ||
                (rc = memcpy_step(fl, c, 64)))
                return rc;
            rc = mem_step(s, fl, other, 0, 0);
        } else {
            if ((rc = mem_step(s, fl, other, 1, 0)) || (rc = memcpy_step(fl, c, 64)))
                return rc;
            rc = segment(s, t, fl, cpu, mem, 0, 1, 0, r->route, r->nroute, cpu);
        }
        fl->cpu_ps += (double)r->bytes * 1e12 / c->memcpy_bw;
        break;
    }
    case FABRIC_PATH_RDMA:
    case FABRIC_PATH_RDMA_READ:
    case FABRIC_PATH_RDMA_STAGED:
    case FABRIC_PATH_RDMA_HOST:
    case FABRIC_PATH_RDMA_SEND:
        if ((rc = rdma(s, t, fl, r, path == FABRIC_PATH_RDMA_READ,
                       path == FABRIC_PATH_RDMA_STAGED, path == FABRIC_PATH_RDMA_HOST,
                       path == FABRIC_PATH_RDMA_SEND, &cpu, gate)))
            return rc;
        fl->cpu_account = cpu != UINT32_MAX ? &cpu_at(s, cpu)->cpu_ps : NULL;
        return 0;
    case FABRIC_PATH_LOAD: /* the GPU's SMs load from / store to the memory in place */
        if (!(gpu_dst && memlike(s, r->src)) && !(gpu_src && memlike(s, r->dst)))
            return SIM_EINVAL;
        /* the memory end serves the bytes; the GPU end takes them into its
         * SMs, not into HBM (no memory step there) */
        rc = segment(s, t, fl, r->src, r->dst, gpu_dst, gpu_src, 0, r->route, r->nroute,
                     gpu_dst ? r->dst : r->src);
        break;
    case FABRIC_PATH_MSG: /* messages the source posts: links only */
        rc = segment(s, t, fl, r->src, r->dst, 0, 0, 0, r->route, r->nroute, r->src);
        break;
    case FABRIC_PATH_MMIO: /* posted writes down from the host */
        if (!is(s, r->src, &fab_kind_cpu))
            return SIM_EINVAL;
        rc = segment(s, t, fl, r->src, r->dst, 0, 0, 0, r->route, r->nroute, r->src);
        break;
    default: return SIM_EINVAL;
    }
    fl->cpu_account = cpu != UINT32_MAX ? &cpu_at(s, cpu)->cpu_ps : NULL;
    *gate = ce_gpu != UINT32_MAX && is(s, ce_gpu, &fab_kind_gpu)
                ? &((fab_gpu *)sim_comp_at(s, ce_gpu)->state)->ce
                : NULL;
    return rc;
}
