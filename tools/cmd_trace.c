/*
 * cmd_trace.c - `memfab trace stats|convert` (usage in cmd_trace.h).
 */
#include "tools/cmd_trace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "models/workload/trace.h"
#include "models/workload/trace_stats.h"
#include "sim/err.h"
#include "tools/safeout.h"
#include "tools/trace_fetch.h"

/* An existing output of convert may be replaced only when it is a native trace. */
static int is_native_trace(const unsigned char *head, size_t n)
{
    return n >= 14 && memcmp(head, "# memfab-trace", 14) == 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: memfab trace stats FILE [--format F]\n"
            "       memfab trace convert FILE -o OUT [--format F]\n"
            "       memfab trace fetch NAME... | --list   (see memfab trace fetch --help)\n"
            "\n"
            "  stats     request count, time span, arrival rate, prompt/output token mean\n"
            "            and nearest-rank p50/p90/p99, and for traces with prefix block\n"
            "            ids: total and unique blocks and the infinite-cache prefix\n"
            "            reuse ratio (block- and token-weighted)\n"
            "  convert   write the trace in memfab's native format (OUT '-' = stdout)\n"
            "  fetch     download a public trace by name into the trace cache, verified\n"
            "            against its pinned hash\n"
            "\n"
            "  -f, --format F   auto (default), mooncake, azure, burstgpt, qwen, native\n"
            "  -o, --output OUT output file of convert\n"
            "  -h, --help       this help\n"
            "\n"
            "FILE is looked up relative to the current directory, then in each\n"
            "directory of MEMFAB_TRACE_PATH (colon-separated), then in the trace cache.\n"
            "exit status: 0 ok, 1 runtime failure, 2 usage error or bad input\n");
}

/* Exit status for a SIM_E* code. */
static int status_of(int code)
{
    return code == SIM_ENOMEM || code == SIM_EIO || code == SIM_EINTR ? SIM_EXIT_RUNTIME
                                                                       : SIM_EXIT_USAGE;
}

static int fail(const sim_err *e)
{
    sim_err_print(e);
    return status_of(e->code);
}

int cmd_trace(int argc, char **argv)
{
    const char *sub = NULL, *file = NULL, *out = NULL, *fmtname = "auto";
    sim_err e;
    sim_err_clear(&e);
    if (argc > 1 && strcmp(argv[1], "fetch") == 0)
        return cmd_trace_fetch(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return SIM_EXIT_OK;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0 ||
                   strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "memfab trace: %s needs a value\n", a);
                return SIM_EXIT_USAGE;
            }
            if (a[1] == 'f' || a[2] == 'f')
                fmtname = argv[++i];
            else
                out = argv[++i];
        } else if (strncmp(a, "--format=", 9) == 0) {
            fmtname = a + 9;
        } else if (strncmp(a, "--output=", 9) == 0) {
            out = a + 9;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "memfab trace: unknown option '%s'\n", a);
            usage(stderr);
            return SIM_EXIT_USAGE;
        } else if (!sub) {
            sub = a; /* checked at once, so `memfab trace frob --help` is an error too */
            if (strcmp(sub, "stats") != 0 && strcmp(sub, "convert") != 0) {
                fprintf(stderr, "memfab trace: unknown subcommand '%s' (stats, convert or"
                                " fetch)\n", sub);
                return SIM_EXIT_USAGE;
            }
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "memfab trace: unexpected argument '%s'\n", a);
            return SIM_EXIT_USAGE;
        }
    }
    if (!sub) {
        usage(stderr);
        return SIM_EXIT_USAGE;
    }
    int is_stats = strcmp(sub, "stats") == 0, is_convert = strcmp(sub, "convert") == 0;
    if (!is_stats && !is_convert) {
        fprintf(stderr, "memfab trace: unknown subcommand '%s' (stats, convert or fetch)\n", sub);
        return SIM_EXIT_USAGE;
    }
    if (!file) {
        fprintf(stderr, "memfab trace %s: missing FILE\n", sub);
        return SIM_EXIT_USAGE;
    }
    if (is_convert && !out) {
        fprintf(stderr, "memfab trace convert: missing -o OUT\n");
        return SIM_EXIT_USAGE;
    }
    if (is_stats && out) {
        fprintf(stderr, "memfab trace stats: -o is only for convert\n");
        return SIM_EXIT_USAGE;
    }
    trace_format fmt;
    if (trace_format_parse(fmtname, &fmt) < 0) {
        fprintf(stderr, "memfab trace: unknown format '%s' (auto, mooncake, azure, burstgpt, "
                        "qwen, native)\n", fmtname);
        return SIM_EXIT_USAGE;
    }
    char path[4096];
    if (trace_resolve(NULL, file, path, sizeof path, &e) < 0)
        return fail(&e);
    trace_reader *r = trace_open(path, fmt, &e);
    if (!r)
        return fail(&e);
    int status = SIM_EXIT_OK;
    if (is_stats) {
        trace_stats st;
        if (trace_stats_compute(r, &st, &e) < 0) {
            status = fail(&e);
        } else {
            printf("file: %s\nformat: %s\n", path, trace_format_name(trace_reader_format(r)));
            trace_stats_print(&st, stdout);
            if (fflush(stdout) != 0)
                status = SIM_EXIT_RUNTIME;
        }
    } else {
        /* the input and any file that is not a native trace stay untouched; the
         * trace is written beside OUT and renamed over it once complete */
        const char *inputs[] = {path};
        safe_out so;
        if (safe_out_check(out, inputs, 1, is_native_trace, "a memfab native trace", &e) ||
            safe_out_open(&so, out, &e)) {
            status = fail(&e);
        } else {
            int64_t n = trace_convert(r, so.f, &e);
            if (n < 0)
                safe_out_abort(&so);
            else if (safe_out_commit(&so, &e) != 0)
                n = e.code;
            if (n < 0)
                status = fail(&e);
            else
                fprintf(stderr, "memfab trace convert: %lld requests from %s (%s) to %s\n",
                        (long long)n, path, trace_format_name(trace_reader_format(r)), out);
        }
    }
    trace_close(r);
    return status;
}
