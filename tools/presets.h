/*
 * presets.h - memfab presets (presets.c): the preset tables a scenario can
 * name, printed with units and sources.
 */
#ifndef MEMFAB_TOOLS_PRESETS_H
#define MEMFAB_TOOLS_PRESETS_H

/* The source of a model or GPU preset's numbers, or NULL when none is
 * recorded (check_discover requires one for every preset). */
const char *presets_model_source(const char *name);
const char *presets_gpu_source(const char *name);

/* The step-time coefficient files of scenarios/presets/step-time/, compiled
 * in by the Makefile (gen/step_presets.c): path, text, path, text, ...,
 * NULL. */
extern const char *const memfab_step_presets[];
/* The step-time tables (*.csv) of the same directory: path, their leading
 * comment lines, ..., NULL. */
extern const char *const memfab_step_tables[];

#endif
