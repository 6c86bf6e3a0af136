/*
 * check_pd.c - prefill/decode disaggregation (llm_instance role prefill |
 * decode, workload.disaggregation) held to closed forms.
 *
 * References (each test repeats the one it uses):
 *   - KV bytes per token of llama3-8b (llm_model.h, from config.json):
 *     2 x layers x kv_heads x head_dim x kv_bytes = 2 x 32 x 8 x 128 x 2
 *     = 131072 B. A prompt of n tokens moves n x 131072 B, less the blocks
 *     the decode side already holds (kv.block_tokens 16 by default).
 *   - Bandwidth model of a KV transfer (serving.c pd_send): latency +
 *     bytes / bandwidth, rounded to the ps; none with no bandwidth.
 *   - Layer-wise (serving.c pd_chunk; DistServe / Splitwise style): a chunk's
 *     first L-1 layers (floor(bytes (L-1) / L)) leave as its step starts,
 *     the rest as it ends; when the network is faster than the prefill only
 *     the last layer's share + latency is exposed.
 *   - Step times from the roofline llm_step_time (llm_model.h) of the
 *     instance's own llm_hw (inst_hw), computed in the test:
 *       prefill of c tokens from scratch: tokens c, pairs c(c+1)/2, ctx_read 0
 *       decode at context n (n = prompt + tokens generated so far):
 *                                          tokens 1, pairs n, ctx_read n-1
 *   - Fabric (RDMA over 400 GbE RoCE, GPUDirect): the same bytes moved by an
 *     `xfer` alone over the same topology (exact reference, 1%), and the
 *     links' model goodput (eth_model_bw / pcie_model_bw, 1%).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/fabric/engine.h"
#include "models/fabric/ethernet.h"
#include "models/fabric/fabric.h"
#include "models/fabric/pcie.h"
#include "models/registry.h"
#include "models/serving/instance.h"
#include "models/serving/llm_model.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/serving_fixture.h"

#define MAXREQ 1024
#define KVBPT 131072ull /* llama3-8b */

typedef struct row {
    uint64_t id, input, output, kv_bytes;
    sim_time arrival, first, finish, kv_wait, kv_transfer;
    char instance[32], prefill[32];
    int pd;
} row;

typedef struct inst_snap {
    char name[32];
    int role;
    uint64_t free_blocks, kv_blocks, reserve_waiting, load;
    inst_counters cnt;
    llm_hw hw;
    llm_model m;
    llm_gpu g;
} inst_snap;

typedef struct rec {
    capture cap; /* first: capture_metric casts ctx */
    uint64_t n;
    row rows[MAXREQ];
    inst_snap inst[8];
    int ninst;
    serving_totals tot;
    sim_time end;
} rec;

static rec *R;

static int rec_request(void *ctx, uint64_t id, const char *session, const char *instance,
                       sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                       uint64_t out, uint64_t cached)
{
    rec *r = ctx;
    (void)session;
    (void)cached;
    if (r->n < MAXREQ) {
        row *w = &r->rows[r->n];
        memset(w, 0, sizeof *w);
        w->id = id;
        w->arrival = arrival;
        w->first = first;
        w->finish = finish;
        w->input = in;
        w->output = out;
        snprintf(w->instance, sizeof w->instance, "%s", instance);
    }
    r->n++;
    return 0;
}

static int rec_request_pd(void *ctx, uint64_t id, const char *session, const char *instance,
                          sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                          uint64_t out, uint64_t cached, const char *prefill, uint64_t kv_bytes,
                          sim_time kv_wait, sim_time kv_transfer)
{
    rec *r = ctx;
    uint64_t k = r->n;
    rec_request(ctx, id, session, instance, arrival, first, finish, in, out, cached);
    if (k < MAXREQ) {
        row *w = &r->rows[k];
        w->pd = 1;
        w->kv_bytes = kv_bytes;
        w->kv_wait = kv_wait;
        w->kv_transfer = kv_transfer;
        snprintf(w->prefill, sizeof w->prefill, "%s", prefill);
    }
    return 0;
}


/* Build, start, run, (snapshot the instances,) finish. 0 or the error code. */
/* Each instance's state at the end of the run, before finish. */
static void snapshot(sim *s)
{
    R->end = sim_now(s);
    for (size_t i = 0; i < sim_ncomps(s) && R->ninst < 8; i++) {
        sim_comp *c = sim_comp_at(s, (uint32_t)i);
        if (c->model != &llm_instance_model)
            continue;
        inst_snap *p = &R->inst[R->ninst++];
        snprintf(p->name, sizeof p->name, "%s", c->name);
        p->role = inst_role(c);
        p->free_blocks = inst_free_blocks(c);
        p->kv_blocks = inst_kv_blocks(c);
        p->reserve_waiting = inst_reserve_waiting(c);
        p->load = inst_load(c);
        p->cnt = *inst_stats(c);
        p->hw = *inst_hw(c);
        p->m = *p->hw.m;
        p->g = *p->hw.g;
        p->hw.m = &p->m;
        p->hw.g = &p->g;
    }
}

static void keep_totals(sim *s)
{
    if (sim_find(s, "workload"))
        R->tot = *serving_get_totals(sim_find(s, "workload"));
}

static int run_text(const char *text, sim_err *err)
{
    memset(R, 0, sizeof *R);
    sim_sink k = {R, capture_metric, NULL, NULL, rec_request, NULL, NULL, rec_request_pd, NULL, NULL};
    return sfx_run("test.yaml", text, &k, snapshot, keep_totals, err);
}

static void run_ok(const char *text)
{
    sim_err err;
    int rc = run_text(text, &err);
    ck_assert_msg(rc == 0, "run failed (%d): %d:%d: %s", rc, err.line, err.col, err.msg);
}

static const inst_snap *snap(const char *name)
{
    for (int i = 0; i < R->ninst; i++)
        if (strcmp(R->inst[i].name, name) == 0)
            return &R->inst[i];
    ck_abort_msg("no instance %s", name);
    return NULL;
}

static double get(const char *scope, const char *name)
{
    return capture_must(&R->cap, scope, name);
}

static void setup(void) { R = calloc(1, sizeof *R); }
static void teardown(void) { free(R); }

/* Roofline step times of the instance (llm_model.h). */
static sim_time prefill_ps(const llm_hw *hw, uint64_t c)
{
    llm_step st = {c, (double)c * (double)(c + 1) / 2, 0, 0, 0, 0};
    return llm_step_time(hw, &st);
}

static sim_time decode_ps(const llm_hw *hw, uint64_t n)
{
    llm_step st = {1, (double)n, n - 1, 0, 0, 0};
    return llm_step_time(hw, &st);
}

/* Decode steps of one request alone after its first token: outputs 2..out
 * at contexts input+1 .. input+out-1. */
static sim_time decode_sum_ps(const llm_hw *hw, uint64_t input, uint64_t out)
{
    sim_time t = 0;
    for (uint64_t g = 1; g < out; g++)
        t += decode_ps(hw, input + g);
    return t;
}

/* A p0 (prefill) + d0 (decode) pair of llama3-8b on H100s, synthetic
 * requests of fixed sizes; `extra_dis` inside workload.disaggregation,
 * `d0opts` appended to d0's mapping. */
static void pd_text(char *buf, size_t sz, const char *rate, unsigned input, unsigned output,
                    unsigned requests, const char *dis, const char *d0opts)
{
    int n = snprintf(buf, sz,
                     "name: pd\nseed: 1\nstop: trace_end\n"
                     "workload:\n"
                     "  synthetic: {arrivals: poisson, rate: %s, input: {dist: fixed, mean: %u"
                     " tokens}, output: {dist: fixed, mean: %u tokens}, requests: %u}\n"
                     "  disaggregation: {%s}\n"
                     "components:\n"
                     "  - {name: p0, type: llm_instance, model: llama3-8b, gpu: h100, role:"
                     " prefill}\n"
                     "  - {name: d0, type: llm_instance, model: llama3-8b, gpu: h100, role:"
                     " decode%s}\n",
                     rate, input, output, requests, dis, d0opts);
    ck_assert((size_t)n < sz);
}

/* ==== Core ============================================================== */

/* 1a. KV bytes per request = kvbpt x prompt tokens, exactly: 2000 x 131072
 * = 262 144 000 B per request; the workload's kv_transfer_bytes = 20 x that.
 * Layer-wise splits each chunk as floor(b 31/32) + the rest: the same sum. */
static void kv_bytes_case(const char *mode)
{
    char text[2048], dis[128];
    snprintf(dis, sizeof dis, "transfer: %s, bandwidth: 25 GB/s, latency: 10 us", mode);
    pd_text(text, sizeof text, "2/s", 2000, 100, 20, dis, "");
    run_ok(text);
    ck_assert_uint_eq(R->n, 20);
    ck_assert_double_eq(get("p0", "kv_bytes_per_token"), (double)KVBPT);
    ck_assert_double_eq(get("d0", "kv_bytes_per_token"), (double)KVBPT);
    for (uint64_t i = 0; i < R->n; i++) {
        ck_assert(R->rows[i].pd);
        ck_assert_str_eq(R->rows[i].prefill, "p0");
        ck_assert_str_eq(R->rows[i].instance, "d0");
        ck_assert_uint_eq(R->rows[i].kv_bytes, 2000 * KVBPT);
    }
    ck_assert_double_eq(get("workload", "kv_transfer_bytes"), 20.0 * 2000 * KVBPT);
    ck_assert_double_eq(get("workload", "kv_transfer_errors"), 0);
}

START_TEST(kv_bytes_whole) { kv_bytes_case("whole"); }
END_TEST

START_TEST(kv_bytes_layerwise) { kv_bytes_case("layerwise"); }
END_TEST

/* 1b. One session of 3 turns (input 1024, output 32, think 5 s fixed: each
 * turn ends long before the next arrives; sessions at 0.01/s so that the
 * 3 requests are this session's turns - seed 1 puts session 2 at ~42 s),
 * one decode instance, 16-token
 * blocks, ample HBM (nothing evicted). Prompts (synth.h: turn k = turn k-1's
 * prompt + its output + a new 1024-token message):
 *   turn 1: 1024 tokens = 64 full blocks
 *   turn 2: 1024 + 32 + 1024 = 2080 = 130 full blocks
 *   turn 3: 2080 + 32 + 1024 = 3136
 * The decode instance holds, cached after turn k-1 finished, turn k-1's
 * prompt blocks (the KV that arrived; all full, so their ids recur in turn
 * k: synth.h chains ids of full blocks); its generated-token blocks carry
 * workload-salted ids, so they never match. Hits on the decode side:
 *   turn 2: 64 blocks,  kv_bytes = (2080 - 64 x 16) x 131072 = 1056 x 131072
 *   turn 3: 130 blocks, kv_bytes = (3136 - 130 x 16) x 131072 = 1056 x 131072
 * and turn 1 moves all 1024 x 131072. */
static void multiturn_case(const char *mode)
{
    char text[2048];
    snprintf(text, sizeof text,
             "name: pd-mt\nseed: 1\nstop: trace_end\n"
             "workload:\n"
             "  synthetic: {rate: 0.01/s, input: {dist: fixed, mean: 1024 tokens}, output: {dist:"
             " fixed, mean: 32 tokens}, turns: 3, think: 5 s, requests: 3}\n"
             "  disaggregation: {transfer: %s, bandwidth: 25 GB/s, latency: 10 us}\n"
             "kv: {block_tokens: 16}\n"
             "components:\n"
             "  - {name: p0, type: llm_instance, model: llama3-8b, role: prefill}\n"
             "  - {name: d0, type: llm_instance, model: llama3-8b, role: decode}\n",
             mode);
    run_ok(text);
    ck_assert_uint_eq(R->n, 3);
    int seen = 0;
    uint64_t total = 0;
    for (uint64_t i = 0; i < R->n; i++) {
        const row *w = &R->rows[i];
        total += w->kv_bytes;
        if (w->input == 1024) {
            ck_assert_uint_eq(w->kv_bytes, 1024 * KVBPT);
            seen |= 1;
        } else if (w->input == 2080) {
            ck_assert_uint_eq(w->kv_bytes, (2080 - 64 * 16) * KVBPT);
            seen |= 2;
        } else if (w->input == 3136) {
            ck_assert_uint_eq(w->kv_bytes, (3136 - 130 * 16) * KVBPT);
            seen |= 4;
        } else {
            ck_abort_msg("unexpected prompt of %llu tokens", (unsigned long long)w->input);
        }
    }
    ck_assert_int_eq(seen, 7);
    ck_assert_double_eq(get("workload", "kv_transfer_bytes"), (double)total);
    ck_assert_uint_eq(total, (1024 + 1056 + 1056) * KVBPT);
}

START_TEST(kv_bytes_multiturn_whole) { multiturn_case("whole"); }
END_TEST

START_TEST(kv_bytes_multiturn_layerwise) { multiturn_case("layerwise"); }
END_TEST

/* 2a. One request alone (2000 in, 10 out), bandwidth model 25 GB/s, 10 us.
 * Prefill time = llm_step_time of one 2000-token chunk on p0 (8192-token
 * budget: one chunk), computed here from p0's llm_hw; it must also equal the
 * run's ttft_prefill metric.
 *   whole:     TTFT = prefill + 10 us + 262144000 B / 25e9 B/s
 *                   = prefill + 10 495 760 000 ps (exact)
 *   layerwise: first 31/32 (253 952 000 B, 10.168 ms) leave at the step's
 *              start and arrive before its end (prefill ~ 55 ms); the last
 *              layer's 8 192 000 B leave at its end:
 *              TTFT = prefill + 10 us + 327.68 us = prefill + 337 680 000 ps */
static void one_request_bw(const char *mode, sim_time exposed)
{
    char text[2048], dis[128];
    snprintf(dis, sizeof dis, "transfer: %s, bandwidth: 25 GB/s, latency: 10 us", mode);
    pd_text(text, sizeof text, "1/s", 2000, 10, 1, dis, "");
    run_ok(text);
    ck_assert_uint_eq(R->n, 1);
    const row *w = &R->rows[0];
    sim_time pre = prefill_ps(&snap("p0")->hw, 2000);
    ck_assert_msg(pre > exposed, "prefill %llu ps not longer than the transfer",
                  (unsigned long long)pre);
    ck_assert_uint_eq(w->first - w->arrival, pre + exposed);
    ck_assert_uint_eq(w->kv_transfer, exposed);
    ck_assert_double_eq_tol(get("workload", "ttft_prefill_mean"), (double)pre * 1e-12, 1e-15);
    ck_assert_double_eq_tol(get("workload", "kv_transfer_exposed_mean"), (double)exposed * 1e-12,
                            1e-15);
    ck_assert_double_eq_tol(get("workload", "ttft_mean"), (double)(pre + exposed) * 1e-12,
                            1e-15);
}

START_TEST(ttft_whole_bandwidth) { one_request_bw("whole", 10495760000ull); }
END_TEST

START_TEST(ttft_layerwise_bandwidth) { one_request_bw("layerwise", 337680000ull); }
END_TEST

/* 2b. The same request over the fabric: two nodes (cpu + pcie_switch + gpu
 * + rnic, PCIe Gen5 x16), rnics on 400 Gb/s ethernet links to a net_switch;
 * p0 on g0, d0 on g1, path rdma (GPUDirect), tp 1: one flow of 262 144 000 B.
 * Exposed transfer (= TTFT - ttft_prefill, the request's kv_transfer_ps)
 * against (i) an xfer g0 -> g1 of the same bytes on path rdma in a separate
 * run (its latency_mean), within 1%; (ii) bytes / goodput with goodput =
 * min(eth_model_bw RoCE 4200 B MTU WRITE, pcie_model_bw READ, WRITE)
 * (check_netfabric rdma_write_goodput), within 1%. (A named `device:` is
 * the instance's GPU on the fabric even without fabric KV tiers.) */
static const char two_nodes[] =
    "  - {name: fab, type: fabric}\n"
    "  - {name: h0, type: cpu}\n  - {name: sw0, type: pcie_switch}\n"
    "  - {name: g0, type: gpu}\n  - {name: n0, type: rnic}\n"
    "  - {name: h1, type: cpu}\n  - {name: sw1, type: pcie_switch}\n"
    "  - {name: g1, type: gpu}\n  - {name: n1, type: rnic}\n"
    "  - {name: tor, type: net_switch}\n"
    "%s"
    "links:\n"
    "  - {name: p0a, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [h0, sw0]}\n"
    "  - {name: p0b, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw0, g0]}\n"
    "  - {name: p0c, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw0, n0]}\n"
    "  - {name: p1a, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [h1, sw1]}\n"
    "  - {name: p1b, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw1, g1]}\n"
    "  - {name: p1c, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [sw1, n1]}\n"
    "  - {name: e0, type: ethernet, speed: 400 Gb/s, ends: [n0, tor]}\n"
    "  - {name: e1, type: ethernet, speed: 400 Gb/s, ends: [tor, n1]}\n"
    "%s";

START_TEST(ttft_whole_fabric_rdma)
{
    const uint64_t B = 2000 * KVBPT;
    char comps[4096], text[8192];
    snprintf(comps, sizeof comps, two_nodes,
             "  - {name: p0, type: llm_instance, model: llama3-8b, role: prefill, device: g0}\n"
             "  - {name: d0, type: llm_instance, model: llama3-8b, role: decode, device: g1}\n",
             "");
    snprintf(text, sizeof text,
             "name: pd-fab\nseed: 1\nstop: trace_end\n"
             "workload:\n"
             "  synthetic: {rate: 1/s, input: {dist: fixed, mean: 2000 tokens}, output: {dist:"
             " fixed, mean: 10 tokens}, requests: 1}\n"
             "  disaggregation: {transfer: whole, path: rdma}\n"
             "components:\n%s",
             comps);
    run_ok(text);
    ck_assert_uint_eq(R->n, 1);
    const row *w = &R->rows[0];
    ck_assert_uint_eq(w->kv_bytes, B);
    ck_assert_double_eq(get("workload", "kv_transfer_errors"), 0);
    /* the fabric sees it as one kv_transfer-class transfer of exactly B bytes,
     * and nothing else of that class */
    ck_assert_double_eq(get("fab", "bytes:class:kv_transfer"), (double)B);
    ck_assert_double_eq(get("fab", "transfers:class:kv_transfer"), 1);
    sim_time pre = prefill_ps(&snap("p0")->hw, 2000);
    ck_assert_double_eq_tol(get("workload", "ttft_prefill_mean"), (double)pre * 1e-12, 1e-15);
    double exposed = (double)(w->first - w->arrival - pre) * 1e-12;
    ck_assert_double_eq_tol((double)w->kv_transfer * 1e-12, exposed, 1e-15);

    /* (i) the same bytes by an xfer alone */
    char x[256];
    snprintf(x, sizeof x,
             "  - {name: x, type: xfer, src: g0, dst: g1, size: %llu B, count: 1, path: rdma}\n",
             (unsigned long long)B);
    snprintf(comps, sizeof comps, two_nodes, x, "");
    snprintf(text, sizeof text, "name: xfer-ref\nseed: 1\ncomponents:\n%s", comps);
    run_ok(text);
    double ref = get("x", "latency_mean");
    ck_assert_msg(fabs(exposed - ref) <= 0.01 * ref, "exposed KV transfer %.9g s vs xfer %.9g s",
                  exposed, ref);

    /* (ii) the links' model goodput */
    eth_cfg e = {400e9, 4200, ETH_ROCE, 0, 0};
    pcie_cfg p = {5, 16, 256, 512, 64, 1, 0, 0, 1, PCIE_OVH_BENCH, 0, 0};
    double bw = eth_model_bw(&e, FAB_OP_WRITE, B);
    double pr = pcie_model_bw(&p, PCIE_OP_READ, B), pw = pcie_model_bw(&p, PCIE_OP_WRITE, B);
    bw = fmin(bw, fmin(pr, pw));
    double want = (double)B / bw;
    ck_assert_msg(fabs(exposed - want) <= 0.01 * want,
                  "exposed KV transfer %.9g s vs bytes/goodput %.9g s", exposed, want);
}
END_TEST

/* 3. Instant transfer (no bandwidth, no devices): one request (2000 in, 50
 * out). Its decode steps on d0 are batch-1 decodes at contexts 2001..2049:
 *   finish - first = sum_{g=1}^{49} llm_step_time(d0, {1, 2000+g, 1999+g})
 * exactly, TPOT = that / 49; TTFT = the prefill step alone. The same request
 * on one mixed instance: its prefill step yields token 1, then the same
 * batch-1 decode steps: the same finish - first, to the ps. */
START_TEST(tpot_instant_equals_colocated)
{
    char text[2048];
    pd_text(text, sizeof text, "1/s", 2000, 50, 1, "", "");
    run_ok(text);
    ck_assert_uint_eq(R->n, 1);
    row pd = R->rows[0];
    const llm_hw *dhw = &snap("d0")->hw;
    sim_time want = decode_sum_ps(dhw, 2000, 50);
    sim_time pre = prefill_ps(&snap("p0")->hw, 2000);
    ck_assert_uint_eq(pd.finish - pd.first, want);
    ck_assert_uint_eq(pd.first - pd.arrival, pre);
    ck_assert_uint_eq(pd.kv_transfer, 0);
    ck_assert_double_eq_tol(get("workload", "tpot_mean"), (double)want / 49 * 1e-12, 1e-15);

    snprintf(text, sizeof text,
             "name: mixed\nseed: 1\nstop: trace_end\n"
             "workload:\n"
             "  synthetic: {arrivals: poisson, rate: 1/s, input: {dist: fixed, mean: 2000"
             " tokens}, output: {dist: fixed, mean: 50 tokens}, requests: 1}\n"
             "components:\n"
             "  - {name: m0, type: llm_instance, model: llama3-8b, gpu: h100}\n");
    run_ok(text);
    ck_assert_uint_eq(R->n, 1);
    const row *m = &R->rows[0];
    ck_assert(!m->pd);
    ck_assert_uint_eq(m->finish - m->first, want);
    ck_assert_uint_eq(m->first - m->arrival, pre);
    ck_assert_uint_eq(m->finish - m->first, pd.finish - pd.first);
}
END_TEST

/* ==== Limits ============================================================= */

/* No leak on either side after a drained run: every instance's tier-0
 * blocks are free or evictable (inst_free_blocks == inst_kv_blocks, i.e. 0
 * pinned), no reservation waits or is held (inst_load = outstanding tokens +
 * queued + reserved = 0). */
static void assert_drained(void)
{
    for (int i = 0; i < R->ninst; i++) {
        const inst_snap *p = &R->inst[i];
        ck_assert_msg(p->free_blocks == p->kv_blocks, "%s: %llu of %llu blocks free/evictable",
                      p->name, (unsigned long long)p->free_blocks,
                      (unsigned long long)p->kv_blocks);
        ck_assert_uint_eq(p->reserve_waiting, 0);
        ck_assert_uint_eq(p->load, 0);
    }
    ck_assert_double_eq(get("d0", "kv_reservation_queue_at_end"), 0);
    ck_assert_double_eq(get("workload", "kv_reservation_waiting_at_end"), 0);
    ck_assert_double_eq(get("workload", "unfinished"), 0);
}

/* 4a. 50 requests (pd-basic): each finishes exactly once (50 distinct ids
 * among 50 rows, completed + rejected = 50), p0 hands 50 off, d0 reserves
 * 50 times, nothing pinned at the end. Whole and layer-wise. */
static void conservation_case(const char *mode)
{
    char text[2048], dis[128];
    snprintf(dis, sizeof dis, "transfer: %s, bandwidth: 25 GB/s, latency: 10 us", mode);
    pd_text(text, sizeof text, "2/s", 2000, 100, 50, dis, "");
    run_ok(text);
    ck_assert_uint_eq(R->n, 50);
    ck_assert_uint_eq(R->tot.arrived, 50);
    ck_assert_uint_eq(R->tot.completed + R->tot.rejected, 50);
    ck_assert_uint_eq(R->tot.completed, 50);
    static unsigned char seen[MAXREQ];
    memset(seen, 0, sizeof seen);
    for (uint64_t i = 0; i < R->n; i++) {
        ck_assert_uint_lt(R->rows[i].id, MAXREQ);
        ck_assert_int_eq(seen[R->rows[i].id]++, 0);
        ck_assert(R->rows[i].finish >= R->rows[i].first);
    }
    ck_assert_uint_eq(snap("p0")->cnt.handoffs, 50);
    ck_assert_uint_eq(snap("d0")->cnt.reserved, 50);
    assert_drained();
}

START_TEST(conservation_whole) { conservation_case("whole"); }
END_TEST

START_TEST(conservation_layerwise) { conservation_case("layerwise"); }
END_TEST

/* 4b. Overload: d0 gets gpu_mem_util 0.25 (KV for a few 2100-token
 * requests: (0.25 x 80 GB - 16 GB weights) / 2 MiB blocks), 40 requests at
 * 20/s (prefill ~55 ms each keeps up; d0 decodes 100 tokens per request):
 * reservations must wait; still every request finishes and nothing leaks. */
static void overload_case(const char *mode)
{
    char text[2048], dis[128];
    snprintf(dis, sizeof dis, "transfer: %s, bandwidth: 25 GB/s, latency: 10 us", mode);
    pd_text(text, sizeof text, "20/s", 2000, 100, 40, dis, ", gpu_mem_util: 0.25");
    run_ok(text);
    ck_assert_uint_eq(R->n, 40);
    ck_assert_uint_eq(R->tot.completed, 40);
    ck_assert_uint_eq(R->tot.rejected, 0);
    ck_assert_double_gt(get("d0", "kv_reservation_waits"), 0);
    ck_assert_double_gt(get("d0", "kv_reservation_queue_peak"), 0);
    ck_assert_double_gt(get("workload", "kv_wait_mean"), 0);
    sim_time maxw = 0;
    for (uint64_t i = 0; i < R->n; i++)
        if (R->rows[i].kv_wait > maxw)
            maxw = R->rows[i].kv_wait;
    ck_assert_uint_gt(maxw, 0);
    assert_drained();
}

START_TEST(overload_whole) { overload_case("whole"); }
END_TEST

START_TEST(overload_layerwise) { overload_case("layerwise"); }
END_TEST

/* ==== Errors ============================================================= */

static void expect_error(const char *text, const char *needle, int line, int col)
{
    sim_err err;
    int rc = run_text(text, &err);
    ck_assert_msg(rc != 0, "expected an error containing '%s'", needle);
    ck_assert_msg(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
    if (line) {
        ck_assert_msg(err.line == line && (!col || err.col == col), "error at %d:%d, want %d:%d (%s)",
                      err.line, err.col, line, col, err.msg);
    }
}

static const char wl_head[] =
    "name: e\nseed: 1\nstop: trace_end\n"
    "workload:\n"
    "  synthetic: {rate: 1/s, input: 100 tokens, output: 10 tokens, requests: 1}\n";

/* Prefill instances and no decode one: line 6 is the disaggregation map. */
START_TEST(error_no_decode)
{
    char text[2048];
    snprintf(text, sizeof text,
             "%s  disaggregation: {transfer: whole}\n"
             "components:\n"
             "  - {name: p0, type: llm_instance, role: prefill}\n"
             "  - {name: m0, type: llm_instance}\n",
             wl_head);
    expect_error(text, "no decode instance", 6, 19);
}
END_TEST

/* tp 3 cannot re-shard onto tp 2 (neither divides the other): points at
 * p0's tp (line 8, column 58). */
START_TEST(error_tp_reshard)
{
    char text[2048];
    snprintf(text, sizeof text,
             "%s  disaggregation: {transfer: whole}\n"
             "components:\n"
             "  - {name: p0, type: llm_instance, role: prefill, tp: 3}\n"
             "  - {name: d0, type: llm_instance, role: decode, tp: 2}\n",
             wl_head);
    expect_error(text, "re-shard", 8, 55);
}
END_TEST

START_TEST(error_unknown_key)
{
    char text[2048];
    snprintf(text, sizeof text,
             "%s  disaggregation: {transfer: whole, bandwith: 10 GB/s}\n"
             "components:\n"
             "  - {name: p0, type: llm_instance, role: prefill}\n"
             "  - {name: d0, type: llm_instance, role: decode}\n",
             wl_head);
    expect_error(text, "bandwith", 6, 0);
}
END_TEST

START_TEST(error_unknown_path)
{
    char text[2048];
    snprintf(text, sizeof text,
             "%s  disaggregation: {transfer: whole, path: carrier_pigeon}\n"
             "components:\n"
             "  - {name: p0, type: llm_instance, role: prefill}\n"
             "  - {name: d0, type: llm_instance, role: decode}\n",
             wl_head);
    expect_error(text, "unknown path 'carrier_pigeon'", 6, 43);
}
END_TEST

/* No route between the two devices for the KV path: g0 and g1 hang off
 * one host by PCIe but there is no rnic, so path rdma has no route (line 6,
 * the disaggregation map); and two gpus with no links at all (auto path). */
START_TEST(error_no_route)
{
    char text[2048];
    snprintf(text, sizeof text,
             "%s  disaggregation: {transfer: whole}\n"
             "components:\n"
             "  - {name: fab, type: fabric}\n"
             "  - {name: g0, type: gpu}\n"
             "  - {name: g1, type: gpu}\n"
             "  - {name: p0, type: llm_instance, role: prefill, device: g0}\n"
             "  - {name: d0, type: llm_instance, role: decode, device: g1}\n",
             wl_head);
    expect_error(text, "no auto route for KV from prefill 'p0'", 6, 19);
    snprintf(text, sizeof text,
             "%s  disaggregation: {transfer: whole, path: rdma}\n"
             "components:\n"
             "  - {name: fab, type: fabric}\n"
             "  - {name: h0, type: cpu}\n"
             "  - {name: g0, type: gpu}\n"
             "  - {name: g1, type: gpu}\n"
             "  - {name: p0, type: llm_instance, role: prefill, device: g0}\n"
             "  - {name: d0, type: llm_instance, role: decode, device: g1}\n"
             "links:\n"
             "  - {name: l0, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [h0, g0]}\n"
             "  - {name: l1, type: pcie, link_overhead: pcie-bench, gen: 5, lanes: 16, ends: [h0, g1]}\n",
             wl_head);
    expect_error(text, "no rdma route for KV from prefill 'p0'", 6, 19);
}
END_TEST

/* The CLI exits 2 on a build error (when the binary is at hand). */
START_TEST(error_cli_exit_2)
{
    const char *bin = getenv("MEMFAB_BIN");
    if (!bin)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/memfab-pd-XXXXXX", test_tmpdir());
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "%s  disaggregation: {transfer: whole}\ncomponents:\n"
               "  - {name: p0, type: llm_instance, role: prefill}\n",
            wl_head);
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' run '%s' -o /dev/null >/dev/null 2>&1", bin, path);
    int st = system(cmd);
    unlink(path);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 2);
}
END_TEST

static Suite *pd_suite(void)
{
    Suite *s = suite_create("pd");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_set_timeout(core, 120);
    tcase_add_test(core, kv_bytes_whole);
    tcase_add_test(core, kv_bytes_layerwise);
    tcase_add_test(core, kv_bytes_multiturn_whole);
    tcase_add_test(core, kv_bytes_multiturn_layerwise);
    tcase_add_test(core, ttft_whole_bandwidth);
    tcase_add_test(core, ttft_layerwise_bandwidth);
    tcase_add_test(core, ttft_whole_fabric_rdma);
    tcase_add_test(core, tpot_instant_equals_colocated);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_checked_fixture(lim, setup, teardown);
    tcase_set_timeout(lim, 120);
    tcase_add_test(lim, conservation_whole);
    tcase_add_test(lim, conservation_layerwise);
    tcase_add_test(lim, overload_whole);
    tcase_add_test(lim, overload_layerwise);
    suite_add_tcase(s, lim);
    TCase *errs = tcase_create("Errors");
    tcase_add_checked_fixture(errs, setup, teardown);
    tcase_add_test(errs, error_no_decode);
    tcase_add_test(errs, error_tp_reshard);
    tcase_add_test(errs, error_unknown_key);
    tcase_add_test(errs, error_unknown_path);
    tcase_add_test(errs, error_no_route);
    tcase_add_test(errs, error_cli_exit_2);
    suite_add_tcase(s, errs);
    return s;
}

int main(void)
{
    return check_main(pd_suite());
}
