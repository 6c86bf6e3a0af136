/*
 * fuzz_tolerances.c - fuzz the --tolerances file reader of memfab compare
 * (default, metrics, directions, ignore), and the rule lookup compare does
 * with the globs it read (fnmatch on metric names of every shape memfab
 * writes: SCOPE/NAME, latency:rdma_count, names with spaces and UTF-8).
 * Oracles: the sanitizers, -timeout and -rss_limit_mb.
 */
#include "fuzz.h"

#include "tools/compare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const metrics[] = {
        "gpu0/latency_p99", "run/events", "router/ttft_count", "link:pcie_h2d/utilization",
        "latency:rdma_count", "kv/hit_rate", "a b/\xc3\xa9\xe2\x80\xa8", "", "*", "[", "\\"};
    const char *path = fuzz_file("tolerances.yaml", data, size);
    if (!path)
        return 0;
    sim_err err;
    sim_err_clear(&err);
    size_t matched = 0;
    cmp_check_tolerances(path, metrics, sizeof metrics / sizeof *metrics, &matched, &err);
    return 0;
}
