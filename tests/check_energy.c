/*
 * check_energy.c - the energy account: links, memories, CPU cores, GPUs,
 * and the run's totals.
 *
 * What is held to arithmetic (the models' head comments: engine.h,
 * devices.h, llm_model.h, sim.h):
 *   - a link direction spends wire bytes x 8 x e pJ: on a UPI link, whose
 *     wire bytes are the payload, B bytes cost exactly 8 x B x e; a
 *     transfer crossing k links pays on each of them (each hop drives its
 *     own SerDes); on PCIe the wire bytes are the TLP bytes (check_pcie.c
 *     holds them to the spec) and the default e is the generation's line
 *     figure over its line code (3.86 / 0.8 for Gen2, 6.5 / (128/130) for
 *     Gen5);
 *   - a memory spends bytes x 8 x e for what DMA reads and writes (DRAM,
 *     HBM), an SSD its read and write energies apart;
 *   - a host's cores spend CPU time x core_power (the bounce path charges
 *     ceil(B / bounce_io) x (io_cpu + launch_cpu), check_fabric.c);
 *   - an instance's GPUs spend tp x (idle x T + (peak - idle) x busy),
 *     busy written out from the roofline step times (the formulas for
 *     Llama-2-7B on H100 in tests/serving_fixture.h, shared with
 *     check_serving.c);
 *   - the run's energy_total_j is the sum of every energy_j row (to the
 *     bit: the same additions in the same order), data + compute make the
 *     total, and per request / per output token are total / count.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/registry.h"
#include "models/serving/llm_model.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/serving_fixture.h"
#include "tests/check_main.h"

static capture *cap;
static sim_time run_end;            /* sim_now after the run */
static uint64_t nreq;
static sim_time req_arrival, req_first, req_finish;

static int rec_request(void *ctx, uint64_t id, const char *session, const char *instance,
                       sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                       uint64_t out, uint64_t cached)
{
    (void)ctx; (void)id; (void)session; (void)instance; (void)in; (void)out; (void)cached;
    if (nreq++ == 0) {
        req_arrival = arrival;
        req_first = first;
        req_finish = finish;
    }
    return 0;
}


/* Build (with the serving sections when the text has them), run, finish. */
static void keep_end(sim *s) { run_end = sim_now(s); }

static void run_text(const char *text)
{
    sim_err err;
    sim_sink k = {cap, capture_metric, capture_link, capture_ts, rec_request,
                  NULL, NULL, NULL, NULL, NULL};
    capture_opts o = {.sink = &k, .sections = sfx_sections, .serving = 1, .to_stop = 1,
                      .ran = keep_end};
    nreq = 0;
    ck_assert_msg(capture_run(cap, text, &o, &err) == 0, "%s", err.msg);
}

static double get(const char *scope, const char *name) { return capture_must(cap, scope, name); }

static void setup(void) { cap = calloc(1, sizeof *cap); }
static void teardown(void) { free(cap); }

/* ---- links ---------------------------------------------------------------- */

#define B_UPI (48ull << 20)

/* host0 -> host1 over one UPI link (DRAM to DRAM, the reader pulls: read
 * requests cost UPI nothing), at the default energy or an override. */
static const char *const upi_energy[] = {"", ", energy: 2.5 pJ/bit", ", energy: 0.8 nJ/bit"};
static const double upi_e[] = {3.86, 2.5, 800};

START_TEST(upi_transfer_costs_8_b_e)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: upi\ncomponents:\n"
             "  - {name: host0, type: cpu, dram_energy: 15 pJ/bit}\n"
             "  - {name: host1, type: cpu}\n"
             "  - {name: x, type: xfer, src: host0, dst: host1, size: %llu B, path: dma}\n"
             "links:\n  - {name: u, type: upi, ends: [host0, host1]%s}\n",
             (unsigned long long)B_UPI, upi_energy[_i]);
    run_text(text);
    double e = upi_e[_i];
    ck_assert_double_eq(get("u", "energy_pj_bit"), e);
    /* exactly 8 x B x e pJ in the data direction, nothing the other way */
    ck_assert_double_eq(get("u", "energy_j:host0->host1"), (double)B_UPI * 8.0 * e * 1e-12);
    ck_assert_double_eq(get("u", "energy_j:host1->host0"), 0.0);
    ck_assert_double_eq(get("u", "energy_j"), (double)B_UPI * 8.0 * e * 1e-12);
    /* memories: B read out of host0's DRAM at 15 pJ/bit, B written into host1's at 20 */
    ck_assert_double_eq(get("host0", "energy_dram_j"), (double)B_UPI * 8.0 * 15.0 * 1e-12);
    ck_assert_double_eq(get("host1", "energy_dram_j"), (double)B_UPI * 8.0 * 20.0 * 1e-12);
    /* no CPU time on this path (no copy engine to launch): no core energy */
    ck_assert_double_eq(get("host0", "energy_cores_j"), 0.0);
    ck_assert_double_eq(get("host1", "energy_cores_j"), 0.0);
}
END_TEST

START_TEST(multi_hop_pays_every_link)
{
    /* host0 - u0 - host1 - u1 - host2: the transfer crosses two links, and
     * each spends 8 x B x e on its own SerDes; the forwarding host's DRAM
     * sees nothing. */
    char text[1024];
    snprintf(text, sizeof text,
             "name: hops\ncomponents:\n"
             "  - {name: host0, type: cpu}\n  - {name: host1, type: cpu}\n"
             "  - {name: host2, type: cpu}\n"
             "  - {name: x, type: xfer, src: host0, dst: host2, size: %llu B, path: dma}\n"
             "links:\n"
             "  - {name: u0, type: upi, ends: [host0, host1], energy: 3 pJ/bit}\n"
             "  - {name: u1, type: upi, ends: [host1, host2], energy: 5 pJ/bit}\n",
             (unsigned long long)B_UPI);
    run_text(text);
    ck_assert_double_eq(get("u0", "energy_j"), (double)B_UPI * 8.0 * 3.0 * 1e-12);
    ck_assert_double_eq(get("u1", "energy_j"), (double)B_UPI * 8.0 * 5.0 * 1e-12);
    ck_assert_double_eq(get("host1", "energy_dram_j"), 0.0);
    ck_assert_double_eq(get("host0", "energy_dram_j"), get("host2", "energy_dram_j"));
}
END_TEST

/* PCIe: wire (TLP) bytes x 8 x the generation's default per wire bit. */
static const int pcie_gen[] = {2, 4, 5, 6};
static const double pcie_e[] = {3.86 / 0.8, 3.86 / (128.0 / 130.0), 6.5 / (128.0 / 130.0), 6.5};

START_TEST(pcie_wire_bits_and_generation_defaults)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name: pcie\ncomponents:\n"
             "  - {name: host, type: cpu}\n  - {name: gpu0, type: gpu, hbm_energy: 4 pJ/bit}\n"
             "  - {name: x, type: xfer, src: host, dst: gpu0, size: 32 MiB, path: dma}\n"
             "links:\n  - {name: p, type: pcie, gen: %d, lanes: 16, ends: [host, gpu0]}\n",
             pcie_gen[_i]);
    run_text(text);
    double e = pcie_e[_i];
    ck_assert_msg(fabs(get("p", "energy_pj_bit") - e) <= 1e-12 * e, "gen %d: %.17g vs %.17g",
                  pcie_gen[_i], get("p", "energy_pj_bit"), e);
    const char *dirs[2] = {"host->gpu0", "gpu0->host"};
    double sum = 0;
    for (int d = 0; d < 2; d++) {
        char wn[64], en[64];
        snprintf(wn, sizeof wn, "wire_bytes:%s", dirs[d]);
        snprintf(en, sizeof en, "energy_j:%s", dirs[d]);
        double want = get("p", wn) * 8.0 * get("p", "energy_pj_bit") * 1e-12;
        ck_assert_double_eq(get("p", en), want);
        ck_assert(get("p", wn) > 0); /* completions one way, read requests the other */
        sum += want;
    }
    ck_assert_double_eq(get("p", "energy_j"), sum);
    /* the payload went once through the GPU's HBM */
    ck_assert_double_eq(get("gpu0", "energy_j"), (double)(32u << 20) * 8.0 * 4.0 * 1e-12);
}
END_TEST

/* ---- memories ------------------------------------------------------------- */

START_TEST(nvme_reads_and_writes_apart)
{
    /* 24 MiB read from the SSD into the GPU (GDS), 8 MiB written back. */
    const char *text =
        "name: ssd\ncomponents:\n"
        "  - {name: host, type: cpu}\n  - {name: sw, type: pcie_switch}\n"
        "  - {name: gpu0, type: gpu}\n"
        "  - {name: ssd0, type: nvme, read_energy: 1 nJ/bit, write_energy: 2000 pJ/bit}\n"
        "  - {name: r, type: xfer, src: ssd0, dst: gpu0, size: 24 MiB, path: gds}\n"
        "  - {name: w, type: xfer, src: gpu0, dst: ssd0, size: 8 MiB, path: gds}\n"
        "  - {name: m, type: memory, kind: cxl, attach: host}\n"
        "  - {name: y, type: xfer, src: m, dst: host, size: 4 MiB, path: dma}\n"
        "links:\n"
        "  - {name: up, type: pcie, gen: 5, ends: [host, sw]}\n"
        "  - {name: g, type: pcie, gen: 5, ends: [sw, gpu0]}\n"
        "  - {name: s, type: pcie, gen: 4, lanes: 4, ends: [sw, ssd0]}\n";
    run_text(text);
    ck_assert_double_eq(get("ssd0", "flash_read_bytes"), (double)(24u << 20));
    ck_assert_double_eq(get("ssd0", "energy_read_j"), (double)(24u << 20) * 8.0 * 1000.0 * 1e-12);
    ck_assert_double_eq(get("ssd0", "energy_write_j"), (double)(8u << 20) * 8.0 * 2000.0 * 1e-12);
    ck_assert_double_eq(get("ssd0", "energy_j"),
                        get("ssd0", "energy_read_j") + get("ssd0", "energy_write_j"));
    /* a memory of kind cxl defaults to the DDR behind its controller, 20 pJ/bit */
    ck_assert_double_eq(get("m", "energy_j"), (double)(4u << 20) * 8.0 * 20.0 * 1e-12);
}
END_TEST

/* ---- CPU cores ------------------------------------------------------------ */

START_TEST(cpu_time_times_core_power)
{
    /* The bounce path: ceil(B / bounce_io) I/Os of io_cpu + launch_cpu each
     * (check_fabric.c): 40 MiB in 1 MiB I/Os, 5 + 2 us each = 280 us. */
    const char *text =
        "name: cores\ncomponents:\n"
        "  - {name: fabric, type: fabric, bounce_io: 1 MiB}\n"
        "  - {name: host, type: cpu, io_cpu: 5 us, launch_cpu: 2 us, core_power: 10 W}\n"
        "  - {name: sw, type: pcie_switch}\n  - {name: gpu0, type: gpu}\n"
        "  - {name: ssd0, type: nvme}\n"
        "  - {name: x, type: xfer, src: ssd0, dst: gpu0, size: 40 MiB, path: bounce}\n"
        "links:\n"
        "  - {name: up, type: pcie, gen: 5, ends: [host, sw]}\n"
        "  - {name: g, type: pcie, gen: 5, ends: [sw, gpu0]}\n"
        "  - {name: s, type: pcie, gen: 4, lanes: 4, ends: [sw, ssd0]}\n";
    run_text(text);
    double cpu_s = get("host", "cpu_time");
    ck_assert_msg(fabs(cpu_s - 40 * 7e-6) <= 1e-15, "cpu_time %.17g", cpu_s);
    ck_assert_double_eq(get("host", "energy_cores_j"), cpu_s * 10.0);
    ck_assert_msg(fabs(get("host", "energy_cores_j") - 2.8e-3) <= 1e-15, "2.8 mJ");
    /* the bounce buffer: written once and read once, at 20 pJ/bit */
    ck_assert_double_eq(get("host", "energy_dram_j"), 2.0 * (40u << 20) * 8.0 * 20.0 * 1e-12);
    ck_assert_double_eq(get("host", "energy_j"),
                        get("host", "energy_dram_j") + get("host", "energy_cores_j"));
}
END_TEST

/* ---- GPUs ----------------------------------------------------------------- */

START_TEST(gpu_energy_formula)
{
    const llm_gpu *h = llm_gpu_find("h100");
    ck_assert_ptr_nonnull(h);
    ck_assert_double_eq(h->peak_w, 700.0);
    ck_assert_double_eq(h->idle_w, 105.0);
    /* busy 3 s of 10 s: 105 x 10 + 595 x 3 = 2835 J */
    ck_assert_double_eq(llm_gpu_energy_j(h, 3.0, 10.0), 2835.0);
    ck_assert_double_eq(llm_gpu_energy_j(h, 0.0, 10.0), 1050.0);
    ck_assert_double_eq(llm_gpu_energy_j(h, 10.0, 10.0), 7000.0);
    for (const llm_gpu *g = llm_gpus; g->name; g++)
        ck_assert_msg(g->peak_w > g->idle_w && g->idle_w > 0, "%s: idle and peak", g->name);
}
END_TEST

/* Llama-2-7B on one H100: the busy time is written out by hand from the
 * roofline of a chunk and a decode step (sfx_chunk_ps, sfx_decode_ps). */

static const char *const power_over[] = {"", ", gpu_idle_power: 50 W, gpu_peak_power: 0.5 kW"};
static const double idle_w[] = {105, 50}, peak_w[] = {700, 500};

START_TEST(gpu_power_from_scripted_utilization)
{
    /* One request, 1000 prompt tokens, 100 output: one prefill step and 99
     * decode steps, nothing else; the run ends at its finish. */
    char text[1024];
    snprintf(text, sizeof text,
             "name: gpu\nstop: trace_end\n"
             "workload:\n"
             "  synthetic: {rate: 1/s, input: 1000 tokens, output: 100 tokens, requests: 1}\n"
             "  instances: {count: 1, model: llama2-7b, gpu: h100%s}\n"
             "kv: {block_tokens: 16}\n",
             power_over[_i]);
    run_text(text);
    ck_assert_uint_eq(nreq, 1);
    sim_time busy = sfx_chunk_ps(1000, 0);
    for (unsigned k = 1; k < 100; k++)
        busy += sfx_decode_ps(1000 + k);
    ck_assert_uint_eq(req_finish - req_arrival, busy); /* the schedule is the script */
    double T = sim_time_to_s(run_end), u = sim_time_to_s(busy);
    double want = idle_w[_i] * T + (peak_w[_i] - idle_w[_i]) * u;
    ck_assert_double_eq(get("inst0", "energy_j"), 1.0 * want);
    ck_assert_msg(fabs(get("inst0", "gpu_power_mean") - want / T) <= 1e-12 * want / T, "mean W");
    /* the only energy of the run: totals, per request and per token */
    ck_assert_double_eq(get("workload", "energy_total_j"), get("inst0", "energy_j"));
    ck_assert_double_eq(get("workload", "energy_compute_j"), get("inst0", "energy_j"));
    ck_assert_double_eq(get("workload", "energy_data_movement_j"), 0.0);
    ck_assert_double_eq(get("workload", "energy_per_request_j"), want / 1.0);
    ck_assert_double_eq(get("workload", "energy_per_output_token_j"), want / 100.0);
    ck_assert(isnan(capture_get(cap, "run", "energy_total_j"))); /* in the workload's scope */
}
END_TEST

/* ---- totals --------------------------------------------------------------- */

/* Every energy_j row, summed in report order, and how many there are. */
static double sum_components(int *n)
{
    double sum = 0;
    *n = 0;
    for (int i = 0; i < cap->n; i++)
        if (strcmp(cap->rows[i].name, "energy_j") == 0) {
            sum += cap->rows[i].value;
            (*n)++;
        }
    return sum;
}

START_TEST(totals_add_up_without_workload)
{
    const char *text =
        "name: tot\ncomponents:\n"
        "  - {name: fabric, type: fabric, chunk: 1 MiB}\n"
        "  - {name: host, type: cpu}\n  - {name: sw, type: pcie_switch}\n"
        "  - {name: gpu0, type: gpu}\n  - {name: ssd0, type: nvme}\n"
        "  - {name: c0, type: memory, kind: cxl}\n"
        "  - {name: a, type: xfer, src: ssd0, dst: gpu0, size: 16 MiB, path: bounce, count: 3}\n"
        "  - {name: b, type: xfer, src: host, dst: gpu0, size: 8 MiB, path: pageable}\n"
        "  - {name: c, type: xfer, src: c0, dst: host, size: 8 MiB, path: cxl}\n"
        "links:\n"
        "  - {name: up, type: pcie, gen: 5, ends: [host, sw]}\n"
        "  - {name: g, type: pcie, gen: 5, ends: [sw, gpu0]}\n"
        "  - {name: s, type: pcie, gen: 4, lanes: 4, ends: [sw, ssd0]}\n"
        "  - {name: cx, type: cxl, ends: [host, c0]}\n";
    run_text(text);
    int n;
    double sum = sum_components(&n);
    ck_assert_int_eq(n, 8); /* host, gpu0, ssd0, c0 and the four links */
    ck_assert_double_eq(get("run", "energy_total_j"), sum);
    double d = get("run", "energy_data_movement_j"), c = get("run", "energy_compute_j");
    ck_assert_msg(fabs(d + c - sum) <= 1e-12 * sum, "data + compute = total");
    ck_assert_double_eq(c, get("host", "energy_cores_j"));
    ck_assert(c > 0 && d > 0);
    ck_assert(isnan(capture_get(cap, "run", "energy_per_request_j")));
}
END_TEST

START_TEST(totals_add_up_with_workload)
{
    /* KV tiers over the fabric (DRAM, CXL, SSD) under a small workload. */
    const char *text =
        "name: tot-wl\nseed: 3\nstop: trace_end\ncomponents:\n"
        "  - {name: fabric, type: fabric, chunk: 2 MiB, window: 8 MiB}\n"
        "  - {name: host, type: cpu}\n  - {name: sw0, type: pcie_switch}\n"
        "  - {name: gpu0, type: gpu}\n  - {name: ssd0, type: nvme}\n"
        "  - {name: cxl0, type: memory, kind: cxl, capacity: 64 GiB}\n"
        "  - {name: inst0, type: llm_instance, model: llama3-8b, gpu: h100, device: gpu0}\n"
        "links:\n"
        "  - {name: up0, type: pcie, gen: 5, ends: [host, sw0]}\n"
        "  - {name: gp, type: pcie, gen: 5, ends: [sw0, gpu0]}\n"
        "  - {name: sp, type: pcie, gen: 4, lanes: 4, ends: [sw0, ssd0]}\n"
        "  - {name: cl, type: cxl, ends: [host, cxl0]}\n"
        "workload:\n"
        "  synthetic: {rate: 4/s, groups: 4, prefix: 2000 tokens, input: 500 tokens,\n"
        "              output: 20 tokens, turns: 2, think: 1 s, requests: 24}\n"
        "kv:\n"
        "  block_tokens: 16\n  write: back\n"
        "  tiers:\n"
        "    - {name: hbm, capacity: 1 GiB}\n"
        "    - {name: dram, capacity: 1 GiB, component: host, path: dma}\n"
        "    - {name: cxl, capacity: 1 GiB, component: cxl0, path: cxl}\n"
        "    - {name: ssd, capacity: 4 GiB, component: ssd0, path: gds}\n";
    run_text(text);
    int n;
    double sum = sum_components(&n);
    ck_assert_int_eq(n, 9); /* host, gpu0, ssd0, cxl0, inst0, four links */
    double total = get("workload", "energy_total_j");
    ck_assert_double_eq(total, sum);
    double d = get("workload", "energy_data_movement_j");
    double c = get("workload", "energy_compute_j");
    ck_assert_msg(fabs(d + c - total) <= 1e-12 * total, "data + compute = total");
    ck_assert_double_eq(c, get("inst0", "energy_j") + get("host", "energy_cores_j"));
    ck_assert_msg(get("ssd0", "energy_j") > 0 && get("cxl0", "energy_j") > 0,
                  "KV moved through the SSD (written back) and the CXL memory");
    double done = get("workload", "completed");
    ck_assert_double_eq(done, 24.0);
    ck_assert_double_eq(get("workload", "energy_per_request_j"), total / done);
    ck_assert_double_eq(get("workload", "energy_per_output_token_j"), total / (24.0 * 20.0));
}
END_TEST

/* ---- units and parameters ------------------------------------------------- */

START_TEST(units_and_errors)
{
    sim_err err;
    double v;
    ck_assert_int_eq(scn_parse_energy_bit("6.5 pJ/bit", &v, &err), 0);
    ck_assert_double_eq(v, 6.5);
    ck_assert_int_eq(scn_parse_energy_bit("1.2 nJ/bit", &v, &err), 0);
    ck_assert_double_eq(v, 1200.0);
    ck_assert_int_eq(scn_parse_energy_bit("500 fJ/b", &v, &err), 0);
    ck_assert_double_eq(v, 0.5);
    ck_assert_int_eq(scn_parse_energy_bit("16 pJ/B", &v, &err), 0);
    ck_assert_double_eq(v, 2.0);
    ck_assert_int_eq(scn_parse_energy_bit(" auto ", &v, &err), 0);
    ck_assert_double_eq(v, SCN_AUTO);
    ck_assert_int_ne(scn_parse_energy_bit("6.5", &v, &err), 0);
    ck_assert_int_ne(scn_parse_energy_bit("6.5 pJ", &v, &err), 0);
    ck_assert_int_ne(scn_parse_energy_bit("-1 pJ/bit", &v, &err), 0);
    ck_assert_int_eq(scn_parse_power("350 W", &v, &err), 0);
    ck_assert_double_eq(v, 350.0);
    ck_assert_int_eq(scn_parse_power("1.5 kW", &v, &err), 0);
    ck_assert_double_eq(v, 1500.0);
    ck_assert_int_ne(scn_parse_power("350 J", &v, &err), 0);
    /* a scenario value without a unit is an error naming file:line:column */
    ck_assert_int_ne(capture_build("e.yaml",
                                   "name: e\ncomponents:\n  - {name: h0, type: cpu}\n"
                                   "  - {name: h1, type: cpu}\n"
                                   "links:\n  - {name: u, type: upi, ends: [h0, h1], energy: 3}\n",
                                   0, &err),
                     0);
    ck_assert_msg(strstr(err.msg, "energy") && strstr(err.msg, "pJ/bit"), "%s", err.msg);
    ck_assert_int_eq(err.line, 6);
}
END_TEST

static Suite *energy_suite(void)
{
    Suite *s = suite_create("energy");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_set_timeout(core, 120);
    tcase_add_loop_test(core, upi_transfer_costs_8_b_e, 0, 3);
    tcase_add_test(core, multi_hop_pays_every_link);
    tcase_add_loop_test(core, pcie_wire_bits_and_generation_defaults, 0, 4);
    tcase_add_test(core, nvme_reads_and_writes_apart);
    tcase_add_test(core, cpu_time_times_core_power);
    tcase_add_test(core, gpu_energy_formula);
    tcase_add_loop_test(core, gpu_power_from_scripted_utilization, 0, 2);
    tcase_add_test(core, totals_add_up_without_workload);
    tcase_add_test(core, totals_add_up_with_workload);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("Errors");
    tcase_add_test(errors, units_and_errors);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return check_main(energy_suite());
}
