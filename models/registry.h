/*
 * registry.h - every model type memfab knows, as one explicit table.
 * To add a model: write models/foo.{c,h} and add one line to registry.c.
 */
#ifndef MEMFAB_MODELS_REGISTRY_H
#define MEMFAB_MODELS_REGISTRY_H

#include "sim/schema.h"
#include "sim/sim.h"

/* NULL-terminated, in the order `memfab models` lists them. */
extern const sim_model *const memfab_models[];

/* Every key a scenario of `memfab run` may have: the core's
 * (sim_scenario_schema) plus the sections read by models (workload, kv,
 * router, fabric), each with its nested keys. run_build checks a scenario
 * against it before building; `memfab models` prints it. */
extern const sim_schema memfab_scenario_schema;
/* The names of those model-read sections, for sim_build's extra_keys. */
extern const char *const memfab_section_keys[];

#endif
