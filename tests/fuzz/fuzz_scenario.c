/*
 * fuzz_scenario.c - fuzz the scenario loader: libyaml, the node tree
 * (includes, anchors, merge keys), the schema checks and every model's
 * parameter parsing (run_build, as `memfab check` does), then a short run
 * of what was built: at most 1 us of simulated time, reporting into a sink
 * that touches every string it is given, and the finish. Bounding the run
 * keeps an input's cost to the loader and the first events; the full runs
 * are the Check suites' business.
 *
 * Oracles: the sanitizers (memory errors, undefined behaviour, leaks) and
 * libFuzzer's -timeout and -rss_limit_mb (hangs, memory blow-ups). A loaded
 * document's flattened params and SHA-256 are computed too (memfab run
 * records both).
 */
#include "fuzz.h"

#include <string.h>

#include "sim/scn.h"
#include "sim/sim.h"
#include "tools/run.h"

#define RUN_BOUND_PS 1000000ULL   /* 1 us of simulated time */

static volatile size_t fuzz_keep;   /* what the sink saw: keeps the reads alive */

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static int sink_metric(void *ctx, const char *scope, const char *name, double value,
                       const char *unit)
{
    *(size_t *)ctx += touch(scope) + touch(name) + touch(unit) + (value == value);
    return 0;
}

static int sink_ts(void *ctx, const char *scope, const char *name, sim_time t, double value)
{
    *(size_t *)ctx += touch(scope) + touch(name) + (size_t)(t & 1) + (value == value);
    return 0;
}

static int sink_link(void *ctx, const char *link, const char *direction, uint64_t bytes,
                     uint64_t packets, uint64_t busy_ps, double utilization)
{
    *(size_t *)ctx += touch(link) + touch(direction) + (size_t)((bytes + packets + busy_ps) & 1);
    return 0;
}

static int sink_request(void *ctx, uint64_t req_id, const char *session, const char *instance,
                        sim_time arrival, sim_time first_token, sim_time finish,
                        uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens)
{
    *(size_t *)ctx += touch(session) + touch(instance) + (size_t)(req_id & 1);
    return 0;
}

static void leaf(void *ctx, const char *key, const char *value)
{
    *(size_t *)ctx += touch(key) + touch(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("scenario.yaml", data, size);
    if (!path)
        return 0;
    sim_err err;
    sim_err_clear(&err);
    scn_doc *doc = scn_load(path, &err);
    if (!doc)
        return 0;
    size_t touched = 0;
    char sha[65];
    scn_flatten(doc, leaf, &touched);
    scn_sha256(doc, sha);
    sim *s = sim_create();
    if (s && !run_build(s, doc, &err)) {
        sim_sink sink;
        memset(&sink, 0, sizeof sink);
        sink.ctx = &touched;
        sink.metric = sink_metric;
        sink.timeseries = sink_ts;
        sink.link = sink_link;
        sink.request = sink_request;
        sim_set_sink(s, &sink);
        sim_set_progress(s, 0);
        if (!sim_start(s, &err)) {
            sim_time until = sim_stop_time(s);
            if (until > RUN_BOUND_PS)
                until = RUN_BOUND_PS;
            sim_run(s, until);
            sim_finish(s, &err);
        }
    }
    sim_destroy(s);
    scn_free(doc);
    fuzz_keep = touched;
    return 0;
}
