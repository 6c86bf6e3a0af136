/*
 * registry.c - the table of model types (grep here to find them all).
 */
#include "registry.h"

#include "models/fabric/cxl.h"
#include "models/coherence/cxlcache.h"
#include "models/fabric/devices.h"
#include "models/fabric/ethernet.h"
#include "models/fabric/infiniband.h"
#include "models/fabric/nvlink.h"
#include "models/fabric/upi.h"
#include "models/fabric/fabric.h"
#include "models/fabric/netswitch.h"
#include "models/fabric/rnic.h"
#include "models/serving/instance.h"
#include "models/queueing/link.h"
#include "models/coherence/mesi.h"
#include "models/nic/nic.h"
#include "models/fabric/pcie.h"
#include "models/serving/serving.h"
#include "models/queueing/traffic.h"
#include "models/uvm/um.h"

const sim_model *const memfab_models[] = {
    &link_model,
    &source_model,
    &sink_model,
    &llm_instance_model,
    &llm_workload_model,
    &pcie_model,
    &cxl_model,
    &upi_model,
    &eth_model,
    &ib_model,
    &nvlink_model,
    &fab_cpu_model,
    &fab_gpu_model,
    &fab_nvme_model,
    &fab_memory_model,
    &fab_endpoint_model,
    &fab_pswitch_model,
    &fab_cswitch_model,
    &net_switch_model,
    &rnic_model,
    &fabric_model,
    &xfer_model,
    &alltoall_model,
    &um_model,
    &mesi_dir_model,
    &mesi_cache_model,
    &hdm_dir_model,
    &nic_model,
    &cxl_accel_model,
    NULL,
};

/* ---- the scenario's keys ------------------------------------------------- */

static const sim_schema fabric_schema = {"fabric", NULL, NULL, &fabric_model, NULL, NULL, NULL};

static const sim_skey section_keys[] = {
    {"workload", SIM_S_MAP, "section", NULL, "",
     "LLM requests: a trace or synthetic:, and the instances they go to",
     &serving_workload_schema},
    {"kv", SIM_S_MAP, "section", NULL, "", "KV cache: block size, tiers, eviction policy",
     &serving_kv_schema},
    {"router", SIM_S_MAP, "section", NULL, "", "request routing policy and its parameters",
     &serving_router_schema},
    {"fabric", SIM_S_MAP, "section", NULL, "", "fabric engine settings (memfab models fabric)",
     &fabric_schema},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};

const sim_schema memfab_scenario_schema = {"scenario", section_keys, NULL, NULL,
                                           &sim_scenario_schema, NULL, NULL};

const char *const memfab_section_keys[] = {"workload", "kv", "router", "fabric", NULL};
