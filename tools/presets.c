/*
 * presets.c - memfab presets: the numbers a scenario gets by naming a
 * preset, with their units and where each comes from.
 *
 * Tables, each printed from the code that the simulation itself uses, so
 * the listing cannot drift from what runs:
 *   models     llm_models[] (models/serving/llm_model.c): architecture,
 *              parameters, and what follows from them (KV bytes per token,
 *              weight bytes: llm_kv_bytes_per_token, llm_weight_bytes);
 *   gpus       llm_gpus[]: HBM, bandwidth, dense BF16 FLOP/s, GPU-GPU link,
 *              efficiency factors, idle and peak board power;
 *   step-time  the coefficient files of scenarios/presets/step-time/,
 *              compiled into the binary (the Makefile's gen/step_presets.c)
 *              with their source comments;
 *   links      per generation or rate: PCIe (pcie_gts, pcie_encoding,
 *              pcie_raw_rate, pcie_model_bw, pcie_energy_pj_bit), NVLink
 *              (nvlink_link_rate), CXL flits (cxl_flit_*), Ethernet speeds
 *              (eth_speed_ok, eth_coding_efficiency) and InfiniBand rates
 *              (ib_lane_rate, ib_lane_signal).
 * The sources are the ones the models' head comments cite; a model or GPU
 * preset without an entry in the source tables below is listed as
 * "(no source given)" and check_discover fails on it, so a new preset
 * comes with its source.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/fabric/cxl.h"
#include "models/fabric/devices.h"
#include "models/fabric/ethernet.h"
#include "models/fabric/infiniband.h"
#include "models/fabric/nvlink.h"
#include "models/fabric/pcie.h"
#include "models/fabric/upi.h"
#include "models/serving/llm_model.h"
#include "tools/commands.h"
#include "tools/presets.h"

typedef struct source {
    const char *name;   /* preset name */
    const char *text;   /* where its numbers come from */
} source;

static const source model_sources[] = {
    {"llama2-7b", "meta-llama/Llama-2-7b-hf config.json (Touvron et al., Llama 2, 2023)"},
    {"llama2-13b", "meta-llama/Llama-2-13b-hf config.json (Touvron et al., Llama 2, 2023)"},
    {"llama2-70b", "meta-llama/Llama-2-70b-hf config.json (Touvron et al., Llama 2, 2023)"},
    {"llama3-8b", "meta-llama/Meta-Llama-3-8B config.json"},
    {"llama3-70b", "meta-llama/Meta-Llama-3-70B config.json"},
    {"qwen2-7b", "Qwen/Qwen2-7B config.json"},
    {"llama3.2-1b", "meta-llama/Llama-3.2-1B config.json (16 layers, hidden 2048, 32 heads, 8 KV heads, head_dim 64, 1.24 B parameters)"},
    {"deepseek-v3", "deepseek-ai/DeepSeek-V3 config.json and the DeepSeek-V3 technical report: "
                    "MLA (kv_lora_rank 512, rope 64), 671B total / 37B active, FP8 weights; "
                    "attention FLOPs use the unabsorbed head widths qk 192, v 128; MoE: 256 "
                    "routed experts, top-8, 58 MoE layers (first 3 dense), moe_intermediate "
                    "2048"},
    {"mixtral-8x7b", "mistralai/Mixtral-8x7B-v0.1 config.json (32 layers, hidden 4096, 32 heads, "
                     "8 KV heads, intermediate 14336, 8 experts, top-2) and Jiang et al., "
                     "Mixtral of Experts, arXiv:2401.04088 (46.7 B total / 12.9 B active)"},
    {NULL, NULL}};

static const source gpu_sources[] = {
    {"h100", "NVIDIA H100 SXM5 datasheet: 80 GB HBM3, 3.35 TB/s, 989 TFLOP/s dense BF16, "
             "NVLink 4 900 GB/s (450 GB/s per direction), TDP 700 W"},
    {"h200", "NVIDIA H200 SXM datasheet: 141 GB HBM3e, 4.8 TB/s; compute and NVLink as H100, "
             "TDP 700 W"},
    {"a100", "NVIDIA A100 SXM4 80 GB datasheet: 2.039 TB/s, 312 TFLOP/s dense BF16, NVLink 3 "
             "600 GB/s (300 GB/s per direction), TDP 400 W"},
    {"a100-40gb", "NVIDIA A100 SXM4 40 GB datasheet: 1.555 TB/s, otherwise as a100, TDP 400 W"},
    {"l40s", "NVIDIA L40S datasheet: 48 GB GDDR6, 864 GB/s, 362 TFLOP/s BF16, PCIe Gen4 x16 "
             "32 GB/s, TDP 350 W"},
    {"b200", "NVIDIA Blackwell technical brief (B200): 180 GB, 8 TB/s, 2.25 PFLOP/s dense BF16, "
             "NVLink 5 1.8 TB/s (900 GB/s per direction), TDP 1000 W"},
    {"mi300x", "AMD Instinct MI300X datasheet: 192 GB HBM3, 5.3 TB/s, 1307 TFLOP/s BF16, "
               "Infinity Fabric 448 GB/s, TBP 750 W"},
    {NULL, NULL}};

const char *presets_model_source(const char *name)
{
    for (const source *s = model_sources; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s->text;
    return NULL;
}

const char *presets_gpu_source(const char *name)
{
    for (const source *s = gpu_sources; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s->text;
    return NULL;
}

/* ---- the tables ---------------------------------------------------------- */

static void models_table(void)
{
    printf("Model presets (llm_instance `model: NAME`; any field can be overridden per instance,"
           "\nmemfab models llm_instance):\n");
    printf("  %-12s %6s %6s %5s %8s %8s %8s %9s %9s %7s %6s %10s %9s\n", "NAME", "layers",
           "hidden", "heads", "kv_heads", "head_dim", "mla", "params", "active", "weight",
           "kv", "KV/token", "weights");
    printf("  %-12s %6s %6s %5s %8s %8s %8s %9s %9s %7s %6s %10s %9s\n", "", "", "", "", "",
           "", "rank+rope", "[1e9]", "[1e9]", "[B]", "[B]", "[KiB]", "[GB]");
    for (const llm_model *m = llm_models; m->name; m++) {
        char mla[24];
        if (m->kv_lora_rank)
            snprintf(mla, sizeof mla, "%u+%u", m->kv_lora_rank, m->rope_dim);
        else
            snprintf(mla, sizeof mla, "-");
        printf("  %-12s %6u %6u %5u %8u %8u %8s %9.3f %9.3f %7u %6u %10.1f %9.1f\n", m->name,
               m->layers, m->hidden, m->heads, m->kv_heads, m->head_dim, mla, m->params / 1e9,
               m->active_params / 1e9, m->weight_bytes, m->kv_bytes,
               (double)llm_kv_bytes_per_token(m) / 1024.0, llm_weight_bytes(m) / 1e9);
    }
    printf("  KV/token = 2 x layers x kv_heads x head_dim x kv bytes (MLA: (rank + rope) x layers"
           " x kv bytes),\n  all layers and TP ranks; weights = params x weight bytes.\n");
    printf("  Sources:\n");
    for (const llm_model *m = llm_models; m->name; m++) {
        const char *s = presets_model_source(m->name);
        printf("    %-12s %s\n", m->name, s ? s : "(no source given)");
    }
    printf("    Parameter counts are those the model cards report.\n\n");
}

static void gpus_table(void)
{
    printf("GPU presets (llm_instance `gpu: NAME`; override hbm, hbm_bandwidth, flops,"
           " link_bandwidth,\ncompute_eff, mem_eff, gpu_idle_power, gpu_peak_power):\n");
    printf("  %-10s %6s %9s %9s %10s %11s %8s %7s %7s\n", "NAME", "hbm", "hbm_bw", "flops",
           "link_bw", "compute_eff", "mem_eff", "idle", "peak");
    printf("  %-10s %6s %9s %9s %10s %11s %8s %7s %7s\n", "", "[GB]", "[TB/s]", "[TFLOP/s]",
           "[GB/s/dir]", "[fraction]", "[frac.]", "[W]", "[W]");
    for (const llm_gpu *g = llm_gpus; g->name; g++)
        printf("  %-10s %6.0f %9.3f %9.0f %10.0f %11.2f %8.2f %7.1f %7.0f\n", g->name,
               (double)g->hbm / 1e9, g->hbm_bandwidth / 1e12, g->flops / 1e12,
               g->link_bandwidth / 1e9, g->compute_eff, g->mem_eff, g->idle_w, g->peak_w);
    printf("  flops: dense BF16 per GPU; link_bw: GPU-GPU per direction, used by the tp"
           " all-reduce.\n");
    printf("  Sources:\n");
    for (const llm_gpu *g = llm_gpus; g->name; g++) {
        const char *s = presets_gpu_source(g->name);
        printf("    %-10s %s\n", g->name, s ? s : "(no source given)");
    }
    printf("    compute_eff 0.6 and mem_eff 0.8 are typical achieved fractions of peak, not\n"
           "    measurements: calibrate them per deployment. Idle power is 15%% of TDP for"
           " every\n    preset, an assumption (vendors publish no idle figure); measure with"
           " nvidia-smi.\n\n");
}

/* The value of `key: value` in a preset file's text, into out. */
static const char *yaml_value(const char *text, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) == 0 && l[kl] == ':') {
            const char *v = l + kl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\n");
            snprintf(out, len, "%.*s", (int)n, v);
            return out;
        }
    }
    snprintf(out, len, "-");
    return out;
}

/* Print the comment lines of text from the one starting "# Source:" up to
 * (not including) the one starting "# Use:", indented. */
static void print_source_lines(const char *text, const char *indent)
{
    int on = 0;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (l[0] != '#')
            break;
        const char *c = l + 1 + (l[1] == ' ');
        if (strncmp(c, "Source:", 7) == 0)
            on = 1;
        else if (strncmp(c, "Use:", 4) == 0)
            on = 0;
        if (on)
            printf("%s%.*s\n", indent, (int)strcspn(c, "\n"), c);
    }
}

static void step_time_table(void)
{
    printf("Step-time coefficient presets (llm_instance `step_time: linear`; put\n"
           "`include: presets/step-time/FILE` in the instance entry, the path relative to the\n"
           "scenario, as scenarios/calibrated-step-time.yaml does; memfab calibrate writes"
           " your own):\n");
    printf("  step = step_fixed + per_prefill x uncached prompt tokens + per_decode x decode"
           " tokens\n         + per_context x KV context tokens read\n");
    printf("  %-26s %12s %13s %13s %13s\n", "FILE", "step_fixed", "per_prefill",
           "per_decode", "per_context");
    printf("  %-26s %12s %13s %13s %13s\n", "", "[s]", "[s/token]", "[s/token]", "[s/token]");
    char a[64], b[64], c[64], d[64];
    for (size_t i = 0; memfab_step_presets[i]; i += 2) {
        const char *path = memfab_step_presets[i], *text = memfab_step_presets[i + 1];
        const char *base = strrchr(path, '/');
        printf("  %-26s %12s %13s %13s %13s\n", base ? base + 1 : path,
               yaml_value(text, "step_fixed", a, sizeof a),
               yaml_value(text, "step_per_prefill_token", b, sizeof b),
               yaml_value(text, "step_per_decode_token", c, sizeof c),
               yaml_value(text, "step_per_context_token", d, sizeof d));
    }
    printf("  Sources (the files' own comments, in %s):\n",
           memfab_step_presets[0] ? "scenarios/presets/step-time/" : "(none)");
    for (size_t i = 0; memfab_step_presets[i]; i += 2) {
        const char *base = strrchr(memfab_step_presets[i], '/');
        const char *t = memfab_step_presets[i + 1], *title = t;
        if (strncmp(t, "# ", 2) == 0) { /* the first line says what was measured */
            title = t + 2;
            const char *colon = strstr(title, "coefficients: ");
            if (colon && colon < title + strcspn(title, "\n"))
                title = colon + 14;
        }
        printf("    %s: %.*s\n", base ? base + 1 : memfab_step_presets[i],
               title == t ? 0 : (int)strcspn(title, "\n"), title);
        print_source_lines(memfab_step_presets[i + 1], "      ");
    }
    printf("\nStep-time tables (llm_instance `step_time: table` with `step_table: "
           "presets/step-time/FILE.csv`):\nmeasured step times over prefill tokens, decode "
           "tokens and context tokens, interpolated\nmultilinearly (models/serving/"
           "step_table.h):\n");
    for (size_t i = 0; memfab_step_tables[i]; i += 2) {
        const char *base = strrchr(memfab_step_tables[i], '/');
        printf("    %s:\n", base ? base + 1 : memfab_step_tables[i]);
        for (const char *l = memfab_step_tables[i + 1]; l && *l;
             l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            const char *cl = l + 1 + (l[1] == ' ');
            if (strncmp(cl, "Use:", 4) == 0)
                break;
            printf("      %.*s\n", (int)strcspn(cl, "\n"), cl);
        }
    }
    printf("\n");
}

/* The choices of parameter `name` of model m (an enum), or NULL. */
static const char *const *choices_of(const sim_model *m, const char *name)
{
    for (const sim_param *p = m->params; p && p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p->choices;
    return NULL;
}

static void links_table(void)
{
    printf("Link generations and rates (type: pcie gen:, nvlink gen:, cxl flit:, ethernet"
           " speed:,\ninfiniband rate:), computed by the link models:\n");
    printf("  PCIe (PCIe Base Spec r5.0/r6.0; goodput with MPS 256 B, MRRS 512 B, 64-bit"
           " addresses,\n  DLLPs, 1 MiB transfers: link_overhead calibrated, the default, and"
           " pcie-bench, the\n  Neugebauer et al. SIGCOMM 2018 model):\n");
    printf("    %-4s %8s %9s %11s %12s %12s %12s %12s %10s\n", "gen", "rate", "encoding",
           "x16 raw", "x16 write", "x16 read", "bench write", "bench read", "energy");
    printf("    %-4s %8s %9s %11s %12s %12s %12s %12s %10s\n", "", "[GT/s]", "", "[GB/s/dir]",
           "[GB/s]", "[GB/s]", "[GB/s]", "[GB/s]", "[pJ/bit]");
    for (int gen = 1; gen <= 6; gen++) {
        pcie_cfg c = {gen, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_CALIBRATED, 0, 0};
        pcie_cfg b = c;
        b.overhead = PCIE_OVH_BENCH;
        printf("    %-4d %8.1f %9.4f %11.2f %12.2f %12.2f %12.2f %12.2f %10.2f\n", gen,
               pcie_gts(gen) / 1e9, pcie_encoding(gen), pcie_raw_rate(&c) / 1e9,
               pcie_model_bw(&c, PCIE_OP_WRITE, 1 << 20) / 1e9,
               pcie_model_bw(&c, PCIE_OP_READ, 1 << 20) / 1e9,
               pcie_model_bw(&b, PCIE_OP_WRITE, 1 << 20) / 1e9,
               pcie_model_bw(&b, PCIE_OP_READ, 1 << 20) / 1e9, pcie_energy_pj_bit(&c));
    }
    printf("    energy (SerDes, per wire bit): Gen1-4 twice a 1.93 pJ/bit Gen4 transmitter (Bae,"
           " Cho et al.);\n    Gen5 6.5 from NVIDIA's NVLink comparison, Gen6 assumed equal;"
           " each over the line code.\n");
    printf("  NVLink (NVIDIA A100, H100, Blackwell architecture whitepapers):\n");
    printf("    %-4s %7s %10s %12s %14s\n", "gen", "pairs", "pair rate", "per link",
           "18 links");
    printf("    %-4s %7s %10s %12s %14s\n", "", "[/dir]", "[Gb/s]", "[GB/s/dir]", "[GB/s/dir]");
    for (int gen = 3; gen <= 5; gen++) {
        nvlink_cfg c = {gen, 18};
        printf("    %-4d %7d %10.0f %12.1f %14.1f\n", gen, nvlink_pairs(gen),
               nvlink_pair_rate(gen) / 1e9, nvlink_link_rate(gen) / 1e9,
               nvlink_raw_rate(&c) / 1e9);
    }
    printf("  CXL flits (CXL 2.0 ch. 4, CXL 3.0 ch. 6):\n");
    printf("    %-9s %8s %9s %11s\n", "flit", "bytes", "payload", "efficiency");
    printf("    %-9s %8s %9s %11s\n", "", "[B]", "[B]", "[fraction]");
    const char *const *flits = choices_of(&cxl_model, "flit");
    for (int i = 0; flits && flits[i]; i++)
        printf("    %-9s %8u %9u %11.4f\n", flits[i], cxl_flit_bytes(i), cxl_flit_payload(i),
               cxl_flit_efficiency(i));
    printf("  Ethernet speeds (IEEE 802.3-2022 PHY coding):\n");
    printf("    %-8s %11s %10s\n", "speed", "line rate", "coding");
    printf("    %-8s %11s %10s\n", "[Gb/s]", "[Gb/s]", "[fraction]");
    for (int g = 1; g <= 1600; g++) /* the speeds the model accepts */
        if (eth_speed_ok(g * 1e9))
            printf("    %-8d %11.4f %10.4f\n", g, g / eth_coding_efficiency(g * 1e9),
                   eth_coding_efficiency(g * 1e9));
    printf("  InfiniBand rates (IBA vol. 2 rel. 1.4/1.5; PAM4 coding as the Ethernet PHYs of"
           " the\n  same lane rate, an assumption):\n");
    printf("    %-5s %12s %12s %10s %12s\n", "rate", "lane signal", "lane data", "coding",
           "4x");
    printf("    %-5s %12s %12s %10s %12s\n", "", "[Gb/s]", "[Gb/s]", "[fraction]",
           "[GB/s/dir]");
    const char *const *rates = choices_of(&ib_model, "rate");
    for (int i = 0; rates && rates[i]; i++)
        printf("    %-5s %12.5f %12.0f %10.4f %12.1f\n", rates[i], ib_lane_signal(i) / 1e9,
               ib_lane_rate(i) / 1e9, ib_coding_efficiency(i), 4 * ib_lane_rate(i) / 8e9);
    printf("\n");
}

/* Device presets (devices.c, upi.c): where their numbers come from. The
 * head comments of devices.h and upi.h say the same at length. */
static const source device_sources[] = {
    {"gen4-x4-990pro", "Samsung 990 PRO 1 TB specifications (7,450 / 6,900 MB/s, 1.2 M / 1.55 M "
                       "IOPS); read_latency fitted to The FPS Review's CrystalDiskMark RND4K "
                       "Q1T1 82 MB/s (2024); write latency: the model's default"},
    {"gen4-x4-pm9a3", "Samsung PM9A3 U.2 announcement (2020): 6,500 / 3,500 MB/s, 900 K / 200 K "
                      "IOPS; latencies: the model's defaults (none published)"},
    {"gen5-x4-cm7r", "KIOXIA CM7-R 1.92 TB specifications: 14,000 / 3,500 MB/s, 2.0 M / 155 K "
                     "IOPS; latencies: the model's defaults (none published)"},
    {"gen5-x4-9550max", "Micron 9550 MAX 6.4 TB specifications (as StorageReview tabulates "
                        "them, 2025): 14,000 / 10,000 MB/s, 3.3 M / 640 K IOPS, typical "
                        "latency 60 / 15 us"},
    {"spr-8ch-ddr5-4800", "Intel Xeon 4th gen: 8 DDR5-4800 channels (38.4 GB/s each, JEDEC "
                          "JESD79-5); core power: Xeon Platinum 8480+ 350 W / 56 cores"},
    {"genoa-12ch-ddr5-4800", "AMD EPYC 9004: 12 DDR5-4800 channels; dram_latency: Intel MLC "
                             "idle latency, local, 2x EPYC 9224 (106.8 ns); core power: EPYC "
                             "9654 360 W / 96 cores"},
    {"spr-upi-4x16gt", "4 UPI 2.0 links at 16 GT/s x 20 lanes, x 64/80 (upi.h): 128 GB/s; "
                       "latency: the model's default (no published measurement found)"},
    {"genoa-xgmi-4x32g", "4 xGMI3 x16 links at 32 Gb/s: 256 GB/s raw; latency fitted to an "
                         "Intel MLC matrix of 2x EPYC 9224 (remote - local = 93.1 ns)"},
    {NULL, NULL}};

static void device_rows(const char *type, const sim_preset *p)
{
    for (; p->name; p++) {
        printf("  %-8s %s\n", type, p->name);
        printf("          ");
        int col = 10;
        for (const char *const *kv = p->values; kv[0] && kv[1]; kv += 2) {
            int w = (int)(strlen(kv[0]) + strlen(kv[1]) + 4);
            if (col > 10 && col + w > 96) {
                printf(",\n          ");
                col = 10;
            } else if (col > 10)
                printf(", ");
            printf("%s: %s", kv[0], kv[1]);
            col += w;
        }
        const char *src = NULL;
        for (const source *s = device_sources; s->name; s++)
            if (strcmp(s->name, p->name) == 0)
                src = s->text;
        printf("\n          source: %s\n", src ? src : "(no source given)");
    }
}

static void devices_table(void)
{
    printf("Device presets (an entry's `preset:`; its own keys override the values):\n");
    device_rows("nvme", fab_nvme_presets);
    device_rows("cpu", fab_cpu_presets);
    device_rows("upi", upi_presets);
    printf("\n");
}

static const struct {
    const char *name;
    void (*print)(void);
} tables[] = {{"models", models_table},
              {"gpus", gpus_table},
              {"step-time", step_time_table},
              {"links", links_table},
              {"devices", devices_table}};
#define NTABLES (sizeof tables / sizeof tables[0])

int cmd_presets(int argc, char **argv)
{
    int want[NTABLES] = {0}, any = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: memfab presets [models|gpus|step-time|links|devices ...]\n\n"
                   "Print the presets a scenario can name, with their numbers, units and"
                   " sources:\n"
                   "  models     LLM architectures (llm_instance model:)\n"
                   "  gpus       GPUs: HBM, bandwidth, FLOP/s, link, power (llm_instance gpu:)\n"
                   "  step-time  fitted step-time coefficients (scenarios/presets/step-time/,\n"
                   "             llm_instance include:)\n"
                   "  links      PCIe generations, NVLink generations, CXL flits, Ethernet"
                   " speeds,\n"
                   "             InfiniBand rates\n"
                   "  devices    NVMe drives, host sockets and socket links (nvme, cpu and"
                   " upi\n             preset:)\n"
                   "Without an argument, all of them. memfab models lists every parameter.\n");
            return 0;
        }
        size_t t;
        for (t = 0; t < NTABLES && strcmp(argv[i], tables[t].name) != 0; t++)
            ;
        if (t == NTABLES) {
            fprintf(stderr, "memfab presets: no table '%s' (models, gpus, step-time, links, devices)\n",
                    argv[i]);
            return 2;
        }
        want[t] = any = 1;
    }
    for (size_t t = 0; t < NTABLES; t++)
        if (!any || want[t])
            tables[t].print();
    return 0;
}
