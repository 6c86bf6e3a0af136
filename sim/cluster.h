/*
 * cluster.h - clusters as data: the top-level `cluster:` section, a node
 * template instantiated N times and a network generated from a few
 * parameters. The syntax, the names it generates and the wiring are
 * described at the head of cluster.c.
 */
#ifndef MEMFAB_SIM_CLUSTER_H
#define MEMFAB_SIM_CLUSTER_H

#include "scn.h"
#include "sim.h"

/* Expand the `cluster:` mapping `node` into components and links of s,
 * creating each from the registry by the `type:` its entry names. Called by
 * sim_build after `components:` and before `links:`. Returns 0, or a
 * negative SIM_E* code with err at the offending key's file:line:col
 * (SIM_ESCENARIO for scenario errors). What was created before an error
 * stays in s; the caller destroys s. */
int cluster_build(sim *s, const scn_node *node, const sim_model *const *registry, sim_err *err);

#endif
