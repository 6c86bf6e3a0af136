/*
 * bench_events.h - `memfab bench events`: hold-model benchmark of the
 * pending-event set (sim/evq.h) against a plain binary heap.
 */
#ifndef MEMFAB_TOOLS_BENCH_EVENTS_H
#define MEMFAB_TOOLS_BENCH_EVENTS_H

/* Run the benchmark; argv[0] is "events". Prints a table on stdout.
 * Returns 0, 1 when the two structures disagree, 2 on a usage error. */
int bench_events(int argc, char **argv);

#endif
