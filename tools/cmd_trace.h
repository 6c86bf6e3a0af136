/*
 * cmd_trace.h - `memfab trace`: statistics and conversion of LLM request
 * traces (models/workload/trace.h, models/workload/trace_stats.h).
 *
 *   memfab trace stats FILE [--format F]
 *   memfab trace convert FILE -o OUT [--format F]
 *
 * FILE is found as trace_resolve() finds it (the current directory, then
 * MEMFAB_TRACE_PATH). Exit status: 0 ok, 1 runtime failure (I/O, memory),
 * 2 usage error or bad input (missing file, malformed trace).
 */
#ifndef MEMFAB_TOOLS_CMD_TRACE_H
#define MEMFAB_TOOLS_CMD_TRACE_H

/* argv[0] is "trace"; returns an exit status (SIM_EXIT_*). */
int cmd_trace(int argc, char **argv);

#endif
