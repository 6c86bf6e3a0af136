/*
 * pcie.c - PCIe protocol arithmetic and the `pcie` link model (see pcie.h).
 *
 * The link's state is a fab_hdr (two direction resources served by the
 * fabric engine, engine.h) followed by its configuration. Every cost the
 * engine charges on a pcie link comes from pcie_wire_bytes_at() through
 * the protocol table pcie_proto below.
 */
#include "models/fabric/pcie.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "models/fabric/engine.h"

/* ---- protocol arithmetic ---------------------------------------------- */

double pcie_gts(int gen)
{
    static const double g[] = {0, 2.5e9, 5e9, 8e9, 16e9, 32e9, 64e9};
    return gen >= 1 && gen <= 6 ? g[gen] : 0.0;
}

double pcie_encoding(int gen)
{
    if (gen <= 2)
        return 8.0 / 10.0;
    if (gen <= 5)
        return 128.0 / 130.0;
    return 1.0; /* FLIT mode: PAM4, no line code; flit overhead applied per byte */
}

double pcie_raw_rate(const pcie_cfg *cfg)
{
    return pcie_gts(cfg->gen) * pcie_encoding(cfg->gen) * (double)cfg->lanes / 8.0;
}

/* PCIe Base Spec r5.0 Tables 3-7..3-9 (Ack limits) and 2-46..2-48 (UpdateFC
 * intervals), as tabulated by pcie-bench: rows x1 x2 x4 x8 x16, columns
 * MPS 128 256 512 1024 2048 4096. Gen3..Gen5 share one table. */
static const int ack_g1[5][6] = {{237, 416, 559, 1071, 2095, 4143},
                                 {128, 217, 289, 545, 1057, 2081},
                                 {73, 118, 154, 282, 538, 1050},
                                 {67, 107, 86, 150, 278, 534},
                                 {48, 72, 86, 150, 278, 534}};
static const int ack_g2[5][6] = {{288, 467, 610, 1122, 2146, 4194},
                                 {179, 268, 340, 596, 1108, 2132},
                                 {124, 169, 205, 333, 589, 1101},
                                 {118, 158, 137, 201, 329, 585},
                                 {99, 123, 137, 201, 329, 585}};
static const int ack_g3[5][6] = {{333, 512, 655, 1167, 2191, 4239},
                                 {224, 313, 385, 641, 1153, 2177},
                                 {169, 214, 250, 378, 634, 1146},
                                 {163, 203, 182, 246, 374, 630},
                                 {144, 168, 182, 246, 374, 630}};

static int log2_index(uint32_t v, uint32_t base)
{
    int i = 0;
    while (base < v) {
        base <<= 1;
        i++;
    }
    return i;
}

int pcie_ack_limit(int gen, int lanes, uint32_t mps)
{
    int row = log2_index((uint32_t)lanes, 1), col = log2_index(mps, 128);
    if (row > 4)
        row = 4;
    if (col > 5)
        col = 5;
    const int(*t)[6] = gen == 1 ? ack_g1 : gen == 2 ? ack_g2 : ack_g3;
    return t[row][col];
}

double pcie_skp_fraction(int gen)
{
    /* one SKP ordered set per scheduling interval, at its longest: 4
     * symbols per 1538 symbol times (8b/10b), one 16-symbol block per 375
     * blocks (128b/130b and, assumed the same, FLIT mode) */
    return gen <= 2 ? 4.0 / (1538.0 + 4.0) : 1.0 / (375.0 + 1.0);
}

void pcie_coalesce_default(int gen, double *ack, double *fc)
{
    /* fitted to device-to-host copy-engine throughput (posted writes,
     * the cleanest wire-bound measurement) per generation; head comment */
    *ack = gen >= 5 ? 2.0 : 1.0;
    *fc = gen >= 5 ? 2.0 : 1.0;
}

double pcie_dllp_per_tlp(const pcie_cfg *cfg)
{
    if (!cfg->dllp || cfg->gen >= 6)
        return 0.0;
    double ack, fc;
    pcie_coalesce_default(cfg->gen, &ack, &fc);
    if (cfg->ack_coalesce > 0)
        ack = cfg->ack_coalesce;
    if (cfg->fc_coalesce > 0)
        fc = cfg->fc_coalesce;
    return 8.0 / ack + 8.0 / fc;
}

double pcie_dllp_fraction(const pcie_cfg *cfg)
{
    if (cfg->overhead == PCIE_OVH_CALIBRATED)
        return cfg->dllp ? pcie_skp_fraction(cfg->gen) : 0.0;
    if (!cfg->dllp || cfg->gen >= 6)
        return 0.0;
    double lim = (double)pcie_ack_limit(cfg->gen, cfg->lanes, cfg->mps);
    /* one 8 B ACK and one 8 B UpdateFC per limit interval, SKIP 4 B / 1538 B */
    return 8.0 / lim + 8.0 / lim + 4.0 / 1538.0;
}

uint32_t pcie_hdr_mwr(const pcie_cfg *cfg)
{
    uint32_t framing = cfg->gen >= 6 ? 0 : 8; /* STP+seq, LCRC: in the flit for Gen6 */
    return framing + 4 + (cfg->addr64 ? 12 : 8) + (cfg->ecrc ? 4 : 0);
}

uint32_t pcie_hdr_cpld(const pcie_cfg *cfg)
{
    uint32_t framing = cfg->gen >= 6 ? 0 : 8;
    return framing + 4 + 8 + (cfg->ecrc ? 4 : 0);
}

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* TLP granularity of op in direction dir (0: no TLPs). */
static uint64_t granule(const pcie_cfg *cfg, int op, int dir)
{
    if (op == PCIE_OP_WRITE)
        return dir == PCIE_DIR_DATA ? cfg->mps : 0;
    if (dir == PCIE_DIR_REQ)
        return cfg->mrrs;
    return cfg->rcb_chunks ? cfg->rcb : cfg->mps;
}

uint64_t pcie_tlps_at(const pcie_cfg *cfg, int op, uint64_t offset, uint64_t bytes, int dir)
{
    uint64_t g = granule(cfg, op, dir);
    if (!g || !bytes)
        return 0;
    /* TLPs starting in [offset, offset + bytes) of an aligned transfer */
    return ceil_div(offset + bytes, g) - ceil_div(offset, g);
}

uint64_t pcie_tlps(const pcie_cfg *cfg, int op, uint64_t bytes, int dir)
{
    return pcie_tlps_at(cfg, op, 0, bytes, dir);
}

static uint64_t tlp_bytes_at(const pcie_cfg *cfg, int op, uint64_t offset, uint64_t bytes,
                             int dir)
{
    uint64_t n = pcie_tlps_at(cfg, op, offset, bytes, dir);
    if (op == PCIE_OP_WRITE)
        return dir == PCIE_DIR_DATA ? bytes + n * pcie_hdr_mwr(cfg) : 0;
    if (dir == PCIE_DIR_REQ)
        return n * pcie_hdr_mwr(cfg); /* MRd: same header as MWr, no payload */
    return bytes + n * pcie_hdr_cpld(cfg);
}

uint64_t pcie_tlp_bytes(const pcie_cfg *cfg, int op, uint64_t bytes, int dir)
{
    return tlp_bytes_at(cfg, op, 0, bytes, dir);
}

double pcie_wire_bytes_at(const pcie_cfg *cfg, int op, uint64_t offset, uint64_t bytes, int dir)
{
    double t = (double)tlp_bytes_at(cfg, op, offset, bytes, dir);
    if (cfg->overhead == PCIE_OVH_CALIBRATED) {
        /* DLLPs per TLP, then the flit framing (Gen6), then SKP */
        t += (double)pcie_tlps_at(cfg, op, offset, bytes, dir) * pcie_dllp_per_tlp(cfg);
        if (cfg->gen >= 6)
            t = t * 256.0 / 236.0;
        return t / (1.0 - pcie_dllp_fraction(cfg));
    }
    if (cfg->gen >= 6)
        return t * 256.0 / 236.0;
    return t / (1.0 - pcie_dllp_fraction(cfg));
}

double pcie_wire_bytes(const pcie_cfg *cfg, int op, uint64_t bytes, int dir)
{
    return pcie_wire_bytes_at(cfg, op, 0, bytes, dir);
}

sim_time pcie_wire_time(const pcie_cfg *cfg, int op, uint64_t bytes, int dir)
{
    return sim_round_ps(pcie_wire_bytes(cfg, op, bytes, dir) * 1e12 / pcie_raw_rate(cfg));
}

double pcie_model_bw(const pcie_cfg *cfg, int op, uint64_t size)
{
    double raw = pcie_raw_rate(cfg);
    double data = pcie_wire_bytes(cfg, op, size, PCIE_DIR_DATA);
    double req = pcie_wire_bytes(cfg, op, size, PCIE_DIR_REQ);
    /* operations per second each direction allows; the smaller one binds */
    double ops = raw / data;
    if (req > 0 && raw / req < ops)
        ops = raw / req;
    return ops * (double)size;
}

int pcie_fc_class(int op, int dir)
{
    if (op == PCIE_OP_WRITE)
        return dir == PCIE_DIR_DATA ? PCIE_FC_P : -1;
    return dir == PCIE_DIR_REQ ? PCIE_FC_NP : PCIE_FC_CPL;
}

int pcie_fc_credits_at(const pcie_cfg *cfg, int op, uint64_t offset, uint64_t bytes, int dir,
                       uint64_t *hdr, uint64_t *data)
{
    int cls = pcie_fc_class(op, dir);
    *hdr = cls < 0 ? 0 : pcie_tlps_at(cfg, op, offset, bytes, dir);
    /* data credits: the 16 B units that start in the piece; TLP boundaries
     * are multiples of 16 B, so this is the sum of ceil(payload/16) over
     * the TLPs of the whole transfer. MRd carries no data (no NPD). */
    *data = cls == PCIE_FC_P || cls == PCIE_FC_CPL
                ? (bytes ? ceil_div(offset + bytes, 16) - ceil_div(offset, 16) : 0)
                : 0;
    return cls;
}

uint64_t pcie_fc_max_bytes(const pcie_cfg *cfg, int op, int dir, uint64_t hdr_limit,
                           uint64_t data_limit)
{
    int cls = pcie_fc_class(op, dir);
    uint64_t g = granule(cfg, op, dir);
    if (cls < 0 || !g)
        return 0;
    uint64_t n = hdr_limit ? hdr_limit : UINT64_MAX;
    if (cls != PCIE_FC_NP && data_limit && data_limit * 16 / g < n)
        n = data_limit * 16 / g;
    if (n == UINT64_MAX)
        return 0;
    return (n ? n : 1) * g;
}

int pcie_cfg_check(const pcie_cfg *cfg, const char **why)
{
    const char *w = NULL;
    if (cfg->gen < 1 || cfg->gen > 6)
        w = "gen must be 1..6";
    else if (cfg->lanes != 1 && cfg->lanes != 2 && cfg->lanes != 4 && cfg->lanes != 8 &&
             cfg->lanes != 16)
        w = "lanes must be 1, 2, 4, 8 or 16";
    else if (cfg->mps < 128 || cfg->mps > 4096 || (cfg->mps & (cfg->mps - 1)))
        w = "max_payload must be a power of two from 128 B to 4096 B";
    else if (cfg->mrrs < 128 || cfg->mrrs > 4096 || (cfg->mrrs & (cfg->mrrs - 1)))
        w = "max_read_request must be a power of two from 128 B to 4096 B";
    else if (cfg->rcb != 64 && cfg->rcb != 128)
        w = "rcb must be 64 B or 128 B";
    else if (!(cfg->ack_coalesce >= 0 && cfg->ack_coalesce <= 4096) ||
             !(cfg->fc_coalesce >= 0 && cfg->fc_coalesce <= 4096) ||
             (cfg->ack_coalesce > 0 && cfg->ack_coalesce < 0.125) ||
             (cfg->fc_coalesce > 0 && cfg->fc_coalesce < 0.125))
        w = "ack_coalesce and fc_coalesce must be 0 (the generation's) or 0.125..4096 TLPs";
    if (why)
        *why = w;
    return w ? SIM_EINVAL : 0;
}

/* ---- the protocol table the fabric engine prices pcie links with ------ */

_Static_assert((int)PCIE_OP_WRITE == (int)FAB_OP_WRITE && (int)PCIE_OP_READ == (int)FAB_OP_READ &&
                   (int)PCIE_DIR_DATA == (int)FAB_DIR_DATA &&
                   (int)PCIE_DIR_REQ == (int)FAB_DIR_REQ,
               "pcie and engine op/dir numbering");
_Static_assert((int)PCIE_FC_NCLASS <= (int)FAB_FC_NCLASS, "credit classes");

static double proto_wire_bytes_at(const void *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                                  uint64_t *units)
{
    *units = pcie_tlps_at(cfg, op, off, bytes, dir);
    return pcie_wire_bytes_at(cfg, op, off, bytes, dir);
}

static double proto_raw_rate(const void *cfg) { return pcie_raw_rate(cfg); }

/* The wire bytes and TLPs of a piece depend on its offset only through the
 * TLP boundaries it crosses (pcie_tlps_at), which repeat every granule. */
static uint64_t proto_offset_period(const void *cfg, int op, int dir)
{
    uint64_t g = granule(cfg, op, dir);
    return g ? g : 1;
}

static int proto_fc_credits_at(const void *cfg, int op, uint64_t off, uint64_t bytes, int dir,
                               uint64_t *hdr, uint64_t *data)
{
    return pcie_fc_credits_at(cfg, op, off, bytes, dir, hdr, data);
}

static uint64_t proto_fc_max_bytes(const void *cfg, int op, int dir, uint64_t hdr_limit,
                                   uint64_t data_limit)
{
    return pcie_fc_max_bytes(cfg, op, dir, hdr_limit, data_limit);
}

/* SerDes energy per line bit (both ends of a lane direction), pJ, by
 * generation (head comment of pcie.h); per wire bit it is divided by the
 * line code's efficiency, since 8b/10b and 128b/130b send more line bits
 * than the TLP bytes the engine counts. */
double pcie_energy_pj_bit(const pcie_cfg *cfg)
{
    double line = cfg->gen >= 5 ? 6.5 : 3.86;
    return line / pcie_encoding(cfg->gen);
}

static double proto_energy(const void *cfg) { return pcie_energy_pj_bit(cfg); }

static const fab_proto pcie_proto = {
    .name = "pcie",
    .wire_bytes_at = proto_wire_bytes_at,
    .offset_period = proto_offset_period,
    .raw_rate = proto_raw_rate,
    .packetized = 1,
    .write_response = 0, /* posted writes */
    .fc_class = pcie_fc_class,
    .fc_credits_at = proto_fc_credits_at,
    .fc_max_bytes = proto_fc_max_bytes,
    .energy_pj_bit = proto_energy,
};

static const fab_class pcie_class = {{fab_family}, &pcie_proto, NULL};

/* ---- the link model --------------------------------------------------- */

typedef struct pcie_state {
    fab_hdr hdr;          /* fabric engine state (must be first) */
    /* configuration */
    uint64_t gen, lanes;  /* as read */
    uint64_t mps, mrrs, rcb;
    int addr64, ecrc, rcb_chunks, dllp;
    int overhead;         /* PCIE_OVH_* (link_overhead) */
    double ack_co, fc_co; /* TLPs per ACK / per UpdateFC (0: the generation's) */
    int credits;          /* 1: credit-based flow control */
    uint64_t fc_lim[6];   /* PH, PD, NPH, NPD, CplH, CplD advertised (0: infinite) */
    sim_time fc_drain;    /* receiver: TLP arrival to UpdateFC sent */
    pcie_cfg cfg;         /* the validated configuration */
    /* state */
    fab_credit fc[2];     /* per direction: the far end's credits (credits: true) */
} pcie_state;

static const char *const fc_keys[6] = {"ph_credits",   "pd_credits",   "nph_credits",
                                       "npd_credits",  "cplh_credits", "cpld_credits"};

/* link_overhead values, in PCIE_OVH_* order */
static const char *const overhead_names[] = {"pcie-bench", "calibrated", NULL};

static const sim_param pcie_params[] = {
    {"gen", SIM_P_UINT, "4", "", "PCIe generation 1..6 (2.5, 5, 8, 16, 32, 64 GT/s)",
     offsetof(pcie_state, gen), NULL},
    {"lanes", SIM_P_UINT, "16", "", "link width: 1, 2, 4, 8, 16", offsetof(pcie_state, lanes),
     NULL},
    {"max_payload", SIM_P_SIZE, "256 B", "B", "Max Payload Size (MPS)",
     offsetof(pcie_state, mps), NULL},
    {"max_read_request", SIM_P_SIZE, "512 B", "B", "Max Read Request Size (MRRS)",
     offsetof(pcie_state, mrrs), NULL},
    {"rcb", SIM_P_SIZE, "64 B", "B", "Read Completion Boundary", offsetof(pcie_state, rcb),
     NULL},
    {"addr64", SIM_P_BOOL, "true", "", "64-bit addresses: 4-DW MWr/MRd headers (else 3 DW)",
     offsetof(pcie_state, addr64), NULL},
    {"ecrc", SIM_P_BOOL, "false", "", "end-to-end CRC: 4 B digest per TLP",
     offsetof(pcie_state, ecrc), NULL},
    {"rcb_chunks", SIM_P_BOOL, "false", "", "split completions at RCB instead of MPS",
     offsetof(pcie_state, rcb_chunks), NULL},
    {"dllp", SIM_P_BOOL, "true", "", "charge ACK/FC DLLPs and SKIP ordered sets",
     offsetof(pcie_state, dllp), NULL},
    {"link_overhead", SIM_P_ENUM, "calibrated", "",
     "ACK/UpdateFC/SKP model: calibrated (DLLPs per TLP with coalescing, fitted to measured "
     "copies) or pcie-bench (Neugebauer et al.'s upper bound)",
     offsetof(pcie_state, overhead), overhead_names},
    {"ack_coalesce", SIM_P_DOUBLE, "0", "TLPs",
     "calibrated: TLPs acknowledged per ACK DLLP (0: the generation's default)",
     offsetof(pcie_state, ack_co), NULL},
    {"fc_coalesce", SIM_P_DOUBLE, "0", "TLPs",
     "calibrated: TLPs whose credits one UpdateFC DLLP returns (0: the generation's default)",
     offsetof(pcie_state, fc_co), NULL},
    {"latency", SIM_P_TIME, "20 ns", "ps", "one-way PHY + data-link latency of the hop",
     offsetof(pcie_state, hdr.latency), NULL},
    {"credits", SIM_P_BOOL, "false", "",
     "credit-based flow control (PCIe r5.0 2.6.1): TLPs wait for the receiver's credits",
     offsetof(pcie_state, credits), NULL},
    {"ph_credits", SIM_P_UINT, "64", "credits", "posted header credits, 1 per MWr (0: infinite)",
     offsetof(pcie_state, fc_lim[0]), NULL},
    {"pd_credits", SIM_P_UINT, "1024", "credits", "posted data credits, 16 B each (0: infinite)",
     offsetof(pcie_state, fc_lim[1]), NULL},
    {"nph_credits", SIM_P_UINT, "64", "credits",
     "non-posted header credits, 1 per MRd (0: infinite)", offsetof(pcie_state, fc_lim[2]),
     NULL},
    {"npd_credits", SIM_P_UINT, "64", "credits",
     "non-posted data credits, 16 B each (MRd uses none; 0: infinite)",
     offsetof(pcie_state, fc_lim[3]), NULL},
    {"cplh_credits", SIM_P_UINT, "0", "credits",
     "completion header credits, 1 per CplD (0: infinite, as endpoints and root ports advertise)",
     offsetof(pcie_state, fc_lim[4]), NULL},
    {"cpld_credits", SIM_P_UINT, "0", "credits",
     "completion data credits, 16 B each (0: infinite)", offsetof(pcie_state, fc_lim[5]), NULL},
    {"fc_drain", SIM_P_TIME, "50 ns", "ps",
     "receiver: from a TLP's arrival to the UpdateFC that returns its credits",
     offsetof(pcie_state, fc_drain), NULL},
    FAB_LINK_ENERGY_PARAM(pcie_state),
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int pcie_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    pcie_state *p = c->state;
    p->cfg.gen = (int)p->gen;
    p->cfg.lanes = (int)p->lanes;
    p->cfg.mps = (uint32_t)p->mps;
    p->cfg.mrrs = (uint32_t)p->mrrs;
    p->cfg.rcb = (uint32_t)p->rcb;
    p->cfg.addr64 = p->addr64;
    p->cfg.ecrc = p->ecrc;
    p->cfg.rcb_chunks = p->rcb_chunks;
    p->cfg.dllp = p->dllp;
    p->cfg.overhead = p->overhead;
    p->cfg.ack_coalesce = p->ack_co;
    p->cfg.fc_coalesce = p->fc_co;
    const char *why;
    if (p->gen > 64 || p->lanes > 64 || p->mps > 65536 || p->mrrs > 65536 || p->rcb > 65536 ||
        pcie_cfg_check(&p->cfg, &why)) {
        if (p->gen > 64 || p->lanes > 64)
            why = "gen/lanes out of range";
        else if (p->mps > 65536 || p->mrrs > 65536 || p->rcb > 65536)
            why = "sizes out of range";
        return scn_error(err, node, "pcie link '%s': %s", c->name, why);
    }
    int rc = fab_link_init(c, &p->cfg, p->cfg.mps, err);
    if (rc)
        return rc;
    if (!p->credits)
        return 0;
    /* minimum initial advertisements (r5.0 2.6.1): one header credit, and
     * data credits for one max-size TLP (PD, CplD: MPS/16) */
    for (int k = 0; k < 6; k++) {
        uint64_t min = k == 1 || k == 5 ? p->cfg.mps / 16 : 1;
        if (p->fc_lim[k] && (p->fc_lim[k] < min || p->fc_lim[k] >= (1ull << 24)))
            return scn_error(err, node ? scn_map_get(node, fc_keys[k]) : NULL,
                             "pcie link '%s': %s must be 0 (infinite) or %llu..%llu (one"
                             " max-size TLP, PCIe r5.0 2.6.1)",
                             c->name, fc_keys[k], (unsigned long long)min,
                             (unsigned long long)(1ull << 24) - 1);
    }
    /* UpdateFC: an 8 B DLLP (in the flit's DLP bytes in Gen6) */
    sim_time dllp = p->cfg.gen >= 6 ? 0 : sim_round_ps(8e12 / pcie_raw_rate(&p->cfg));
    for (int d = 0; d < 2; d++) {
        fab_credit *fc = &p->fc[d];
        for (int k = 0; k < FAB_FC_NCLASS; k++) {
            fc->hdr_limit[k] = fc->hdr_avail[k] = p->fc_lim[2 * k];
            fc->data_limit[k] = fc->data_avail[k] = p->fc_lim[2 * k + 1];
        }
        fc->ret = p->hdr.latency + p->fc_drain + p->hdr.latency + dllp;
        p->hdr.res[d].fc = fc;
    }
    return 0;
}

const pcie_cfg *pcie_link_cfg(const sim_comp *c)
{
    if (!c || c->model != &pcie_model)
        return NULL;
    return &((const pcie_state *)c->state)->cfg;
}

static int pcie_finish(sim_comp *c, sim_err *err)
{
    pcie_state *p = c->state;
    fab_link_report(c);
    for (int op = 0; op < 2; op++) {
        char name[64];
        snprintf(name, sizeof name, "model_bandwidth:%s", op ? "read" : "write");
        sim_report_metric(c->sim, c->name, name, pcie_model_bw(&p->cfg, op, 1 << 20), "B/s");
    }
    sim_report_metric(c->sim, c->name, "raw_rate", pcie_raw_rate(&p->cfg), "B/s");
    for (int d = 0; p->credits && d < 2; d++) {
        const fab_res *r = &p->hdr.res[d];
        char name[460];
        snprintf(name, sizeof name, "credit_stall_time:%s", r->label);
        sim_report_metric(c->sim, c->name, name,
                          sim_time_to_s(fab_fc_stall(r, sim_now(c->sim))), "s");
        snprintf(name, sizeof name, "credit_stalls:%s", r->label);
        sim_report_metric(c->sim, c->name, name, (double)p->fc[d].stalls, "stalls");
        snprintf(name, sizeof name, "update_fc:%s", r->label);
        sim_report_metric(c->sim, c->name, name, (double)p->fc[d].updates, "DLLPs");
    }
    return 0;
}

static void pcie_destroy(sim_comp *c)
{
    pcie_state *p = c->state;
    fab_hdr_destroy(&p->hdr);
}

const sim_model pcie_model = {
    .type = "pcie",
    .summary = "PCIe Gen1-6 link: TLP/DLLP overheads, MPS/MRRS/RCB, reads and writes, full duplex",
    .params = pcie_params,
    .state_size = sizeof(pcie_state),
    .is_link = 1,
    .configure = pcie_configure,
    .handle = fab_handle,
    .sample = fab_link_sample,
    .series = fab_link_series,
    .finish = pcie_finish,
    .destroy = pcie_destroy,
    .send = fab_link_send,
    .ext = &pcie_class.ext,
};
