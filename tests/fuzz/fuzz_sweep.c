/*
 * fuzz_sweep.c - fuzz the sweep file reader (tools/sweep.c): the keys,
 * set/grid/points/seeds/replications, the run count limit, point ids and
 * the check of every point's overrides against the base scenario - all
 * that `memfab sweep` does before it runs anything (sweep_load_check).
 *
 * The base scenario is a small valid scenario written beside the input as
 * base.yaml (the seed corpus names it); an input may name any other file.
 * The run count is capped at 64 per input (the real limit is a million):
 * the cost of checking every point is linear in the points and is not
 * what this harness looks for. Oracles: the sanitizers, -timeout,
 * -rss_limit_mb.
 */
#include "fuzz.h"

#include <string.h>

#include "tools/sweep.h"

static const char base[] =
    "name: fuzz-base\n"
    "stop: 1 us\n"
    "seed: 1\n"
    "components:\n"
    "  - {name: a, type: source, interarrival: 100 ns, size: 64 B}\n"
    "  - {name: b, type: sink}\n"
    "links:\n"
    "  - {name: ab, type: link, ends: [a, b], bandwidth: 16 GB/s, latency: 100 ns}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_file("base.yaml", base, sizeof base - 1))
        return 0;
    const char *path = fuzz_file("sweep.yaml", data, size);
    if (!path)
        return 0;
    sim_err err;
    sim_err_clear(&err);
    size_t n = 0;
    sweep_load_check(path, 64, &n, &err);
    return 0;
}
