/*
 * registry.h - every model type memfab knows, as one explicit table.
 * To add a model: write models/foo.{c,h} and add one line to registry.c.
 */
#ifndef MEMFAB_MODELS_REGISTRY_H
#define MEMFAB_MODELS_REGISTRY_H

#include "sim/sim.h"

/* NULL-terminated, in the order `memfab models` lists them. */
extern const sim_model *const memfab_models[];

#endif
