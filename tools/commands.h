/*
 * commands.h - the memfab subcommands. Each takes argv with argv[0] = the
 * command name and returns an exit status (SIM_EXIT_*).
 */
#ifndef MEMFAB_TOOLS_COMMANDS_H
#define MEMFAB_TOOLS_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_study(int argc, char **argv);
int cmd_presets(int argc, char **argv);

#endif
