/*
 * main.c - the memfab command: dispatches to subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "models/registry.h"
#include "sim/err.h"
#include "tools/commands.h"

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"run", cmd_run, "run a scenario, append results to a SQLite database"},
    {"check", cmd_check, "validate a scenario without running it"},
    {"models", cmd_models, "list model types and their parameters"},
    {"presets", cmd_presets, "model, GPU, step-time and link presets: numbers, units, sources"},
    {"trace", cmd_trace, "statistics and conversion of LLM request traces"},
    {"bench", cmd_bench, "benchmarks (event core, trace replay)"},
    {"show", cmd_show, "print a table of a results database, filtered, with units"},
    {"export", cmd_export, "write a results database's tables as CSV or JSON files"},
    {"plot", cmd_plot, "figures from a results database (gnuplot: PDF, PNG, SVG)"},
    {"compare", cmd_compare, "compare results with a baseline; exit 3 on regression"},
    {"baseline", cmd_baseline, "write a baseline file (YAML) of a run's metrics"},
    {"sweep", cmd_sweep, "run a parameter grid in parallel (-j N or mpirun), merge results"},
    {"calibrate", cmd_calibrate, "fit linear step-time coefficients to measured steps/requests"},
    {"study", cmd_study, "with/without pairs of technologies: runs, checks, table and figures"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: memfab COMMAND [options]   (memfab COMMAND --help for details)\n\n"
               "memfab simulates the AI memory fabric: PCIe/CXL links, memory, storage and\n"
               "LLM serving with KV caches, driven by YAML scenarios; results go to SQLite.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n  --version  print the version\n"
               "\nexit status: 0 ok, 1 runtime failure, 2 usage or scenario error,"
               " 3 regression found\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SIM_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("memfab %s (results contract 1)\n", MEMFAB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "memfab: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return SIM_EXIT_USAGE;
}
