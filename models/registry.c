/*
 * registry.c - the table of model types (grep here to find them all).
 */
#include "registry.h"

#include "instance.h"
#include "link.h"
#include "serving.h"
#include "traffic.h"

const sim_model *const memfab_models[] = {
    &link_model,
    &source_model,
    &sink_model,
    &llm_instance_model,
    &llm_workload_model,
    NULL,
};
