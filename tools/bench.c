/*
 * bench.c - memfab bench: benchmarks that print figures and assert nothing.
 */
#include <stdio.h>
#include <string.h>

#include "tools/bench_events.h"
#include "tools/bench_kv.h"
#include "tools/bench_replay.h"
#include "tools/bench_sweep.h"
#include "tools/commands.h"

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        printf("usage: memfab bench events|replay|kv|sweep [--help]\n\n"
               "  events   hold-model benchmark of the pending-event set against a binary heap\n"
               "  kv       bytes per cached KV block and CPU per operation of each eviction policy\n"
               "  replay   replay the Mooncake conversation trace through the serving model\n"
               "  sweep    memfab sweep's scaling with -j N and MPI ranks, and its merge's share\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "events") == 0)
        return bench_events(argc - 1, argv + 1);
    if (strcmp(argv[1], "kv") == 0)
        return bench_kv(argc - 1, argv + 1);
    if (strcmp(argv[1], "replay") == 0)
        return bench_replay(argc - 1, argv + 1);
    if (strcmp(argv[1], "sweep") == 0)
        return bench_sweep(argc - 1, argv + 1);
    fprintf(stderr, "memfab bench: unknown benchmark '%s'\n", argv[1]);
    return 2;
}
