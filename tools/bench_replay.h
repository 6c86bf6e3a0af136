/*
 * bench_replay.h - `memfab bench replay`: wall time and events/s of
 * replaying the full Mooncake conversation trace through the serving model
 * with token-level decode (one event per batch step).
 */
#ifndef MEMFAB_TOOLS_BENCH_REPLAY_H
#define MEMFAB_TOOLS_BENCH_REPLAY_H

/* argv[0] is "replay". Prints figures on stdout; asserts nothing. Returns
 * 0 (also when the trace is absent: it says so and skips), 1 on a failed
 * run, 2 on a usage error. */
int bench_replay(int argc, char **argv);

#endif
