/*
 * bench_replay.c - `memfab bench replay` (see bench_replay.h).
 *
 * Loads a serving scenario (default: the Mooncake conversation replay
 * below, or --scenario FILE), runs it with results discarded (no database,
 * so the figure is the simulator's own cost: trace parsing, routing,
 * scheduling, KV store, event queue) and prints the wall time, the CPU
 * time of the process over the run (the figure issue 18's targets are
 * stated in: CPU on one core, which a loaded machine does not inflate as
 * much as wall time), the events
 * handled, events/s, requests and output tokens served, and tokens/s of
 * simulation; under it, the run's TTFT and TPOT percentiles (caught from
 * the metrics it reports at its end) and hit ratio, so that two models of
 * one scenario can be compared in cost and in results (issue 18, target
 * 1: fluid flows against chunks). The trace is found like a scenario's: MEMFAB_TRACE_PATH (which
 * `make bench` points at the directory `make test` uses), then the trace
 * cache that `memfab trace fetch` fills.
 */
#include "tools/bench_replay.h"
#include "tools/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/registry.h"
#include "models/serving/serving.h"
#include "sim/scn.h"
#include "sim/sim.h"

/* The cluster of scenarios/mooncake-conversation.yaml, without sampling
 * (used when that file is not in the current directory). */
static const char default_scenario[] =
    "name: bench-replay\n"
    "seed: 1\n"
    "stop: trace_end\n"
    "workload:\n"
    "  trace: mooncake-fast25/conversation_trace.jsonl\n"
    "  format: mooncake\n"
    "  slo: {ttft: 2 s, tpot: 100 ms}\n"
    "  instances: {count: 8, model: llama3-70b, gpu: h100, tp: 4, max_batched_tokens: 8192}\n"
    "kv: {block_tokens: 512, eviction: lru, tiers: [{name: hbm},\n"
    "     {name: dram, capacity: 512 GiB, bandwidth: 25 GB/s, latency: 10 us}]}\n"
    "router: {policy: prefix_affinity}\n";

static double clock_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The workload's percentiles, caught from the metrics a run reports at its
 * end (NAN when it reports none). */
typedef struct replay_pcts {
    double ttft_p50, ttft_p99, tpot_p50, tpot_p99;
} replay_pcts;

static int catch_metric(void *ctx, const char *scope, const char *name, double value,
                        const char *unit)
{
    replay_pcts *p = ctx;
    (void)unit;
    if (strcmp(scope, "workload") != 0)
        return 0;
    double *slot = !strcmp(name, "ttft_p50")   ? &p->ttft_p50
                   : !strcmp(name, "ttft_p99") ? &p->ttft_p99
                   : !strcmp(name, "tpot_p50") ? &p->tpot_p50
                   : !strcmp(name, "tpot_p99") ? &p->tpot_p99
                                               : NULL;
    if (slot)
        *slot = value;
    return 0;
}

int bench_replay(int argc, char **argv)
{
    const char *file = NULL, *label = "replay";
    const char *sets[16];
    int reps = 1, nsets = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < 16) {
            sets[nsets++] = argv[++i];
        } else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc) {
            label = argv[++i];
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            printf("usage: memfab bench replay [--scenario FILE] [--set KEY=VALUE]... [--label NAME]"
                   " [--repeat N]\n\n"
                   "Replay scenarios/mooncake-conversation.yaml (the Mooncake conversation trace,\n"
                   "12,031 requests, on 8 instances of Llama-3-70B, tp 4, H100) with token-level\n"
                   "decode; print wall and CPU time and events/s. Results are discarded. The trace is looked up in MEMFAB_TRACE_PATH,\n"
                   "then in the trace cache (memfab trace fetch mooncake-conversation).\n"
                   "--set overrides a scenario value as `memfab run --set` does (up to 16).\n");
            return strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    FILE *probe = file ? NULL : fopen("scenarios/mooncake-conversation.yaml", "r");
    if (probe) {
        fclose(probe);
        file = "scenarios/mooncake-conversation.yaml";
    }
    printf("%-16s %10s %8s %10s %12s %12s %10s %14s %12s\n", "benchmark", "wall_s", "cpu_s",
           "cpu_us/req", "events", "events/s", "requests", "output_tokens", "sim_s");
    for (int k = 0; k < (reps > 0 ? reps : 1); k++) {
        sim_err err;
        sim_err_clear(&err);
        scn_doc *doc = file ? scn_load(file, &err)
                            : scn_load_string("bench-replay.yaml", default_scenario, &err);
        if (!doc) {
            sim_err_print(&err);
            return 1;
        }
        for (int i = 0; i < nsets; i++)
            if (scn_set(doc, sets[i], &err)) {
                sim_err_print(&err);
                scn_free(doc);
                return 2;
            }
        sim *s = sim_create();
        replay_pcts pct = {NAN, NAN, NAN, NAN};
        sim_sink sink = {.ctx = &pct, .metric = catch_metric};
        if (s)
            sim_set_sink(s, &sink);
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        int rc = s ? run_build(s, doc, &err) : SIM_ENOMEM;
        if (rc && err.code == SIM_ESCENARIO && strstr(err.msg, "not found")) {
            printf("replay: skipped: %s\n", err.msg);
            sim_destroy(s);
            scn_free(doc);
            return 0;
        }
        if (!rc)
            rc = sim_start(s, &err);
        if (!rc)
            rc = sim_run(s, sim_stop_time(s));
        if (!rc)
            rc = sim_finish(s, &err);
        double wall = clock_s(CLOCK_MONOTONIC) - t0;
        double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (rc) {
            sim_err_print(&err);
            sim_destroy(s);
            scn_free(doc);
            return 1;
        }
        sim_comp *w = sim_find(s, "workload");
        const serving_totals *t = w ? serving_get_totals(w) : NULL;
        double done = t && t->completed ? (double)t->completed : 0;
        printf("%-16s %10.3f %8.3f %10.2f %12llu %12.3g %10llu %14llu %12.1f\n", label, wall, cpu,
               done > 0 ? cpu * 1e6 / done : 0, (unsigned long long)sim_events(s), wall > 0 ? (double)sim_events(s) / wall : 0,
               t ? (unsigned long long)t->completed : 0ULL,
               t ? (unsigned long long)t->output_tokens : 0ULL, sim_time_to_s(sim_now(s)));
        if (t && k == 0)
            printf("  ttft_mean %.3f s  e2e_mean %.3f s  prefix hit (blocks) %.3f  "
                   "preemptions %llu  rejected %llu\n"
                   "  ttft p50 / p99 %.4f / %.4f s  tpot p50 / p99 %.3f / %.3f ms\n",
                   t->ttft_mean, t->e2e_mean,
                   t->prompt_blocks ? (double)t->hit_blocks / t->prompt_blocks : 0,
                   (unsigned long long)t->preemptions, (unsigned long long)t->rejected,
                   pct.ttft_p50, pct.ttft_p99, 1e3 * pct.tpot_p50, 1e3 * pct.tpot_p99);
        sim_destroy(s);
        scn_free(doc);
    }
    return 0;
}
