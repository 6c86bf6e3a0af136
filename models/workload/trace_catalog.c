/*
 * trace_catalog.c - the named public traces (see trace_catalog.h).
 */
#include "models/workload/trace_catalog.h"

#include <string.h>

#define MOONCAKE_RAW "https://raw.githubusercontent.com/kvcache-ai/Mooncake/"
#define MOONCAKE_LICENSE "Apache-2.0 (LICENSE-APACHE in github.com/kvcache-ai/Mooncake)"
#define MOONCAKE_CITE                                                                           \
    "Qin et al., \"Mooncake: Trading More Storage for Less Computation - A KVCache-centric "   \
    "Architecture for Serving LLM Chatbot\", USENIX FAST 2025"
#define AZURE_RAW "https://raw.githubusercontent.com/Azure/AzurePublicDataset/"
#define AZURE_LICENSE "CC-BY-4.0 (LICENSE in github.com/Azure/AzurePublicDataset)"
#define AZURE24_BLOB "https://azurepublicdatasettraces.blob.core.windows.net/azurellminfererencetrace/"

static const trace_catalog_entry catalog[] = {
    {"mooncake-conversation", "mooncake-fast25", "conversation_trace.jsonl",
     MOONCAKE_RAW "3cca71daccf2a7afb8fe3f0295358f70e3a69fdb/FAST25-release/traces/"
                  "conversation_trace.jsonl",
     3029533, "b8cbb061a85206d729d91cdc2981f43c9e0d99209dce588d3af5f7934408b9df",
     "5a371794b81d7fc7487ec8a02a2c631bcc7fbdf8", "mooncake", MOONCAKE_LICENSE, MOONCAKE_CITE,
     "one hour of Kimi conversation requests, 12,031 rows, 512-token prefix block hashes"},
    {"mooncake-synthetic", "mooncake-fast25", "synthetic_trace.jsonl",
     MOONCAKE_RAW "3cca71daccf2a7afb8fe3f0295358f70e3a69fdb/FAST25-release/traces/"
                  "synthetic_trace.jsonl",
     1136313, "bd070915a98fc0ed264d7cfef2ce746002eb3076a695ec31ba2674c0111ec131",
     "e4838049c0dcfc358a5f24ab08251279475cba94", "mooncake", MOONCAKE_LICENSE, MOONCAKE_CITE,
     "ShareGPT, L-Eval and LooGLE mix with Poisson arrivals, 3,993 rows"},
    {"mooncake-toolagent", "mooncake-fast25", "toolagent_trace.jsonl",
     MOONCAKE_RAW "3cca71daccf2a7afb8fe3f0295358f70e3a69fdb/FAST25-release/traces/"
                  "toolagent_trace.jsonl",
     0, NULL, "b765599d1e0828b37f68d481563c385d3c11de54", "mooncake", MOONCAKE_LICENSE,
     MOONCAKE_CITE, "Kimi tool and agent requests, 23,608 rows"},
    {"mooncake-arxiv", "mooncake-arxiv", "mooncake_trace.jsonl",
     MOONCAKE_RAW "3b5a594133958449a1feaf1c9e0fc1b553e34a28/FAST25-release/arxiv-trace/"
                  "mooncake_trace.jsonl",
     0, NULL, "d68d1c6ce27b35a168edc235d36d0202d233f0f2", "mooncake", MOONCAKE_LICENSE,
     "Qin et al., \"Mooncake: A KVCache-centric Disaggregated Architecture for LLM Serving\", "
     "arXiv:2407.00079, 2024",
     "the trace of the Mooncake arXiv report, 23,608 rows"},
    {"azure-2023-code", "azure-llm-2023", "AzureLLMInferenceTrace_code.csv",
     AZURE_RAW "790921015d50dd6aae7f7e47f39ba0e235ad6b08/data/AzureLLMInferenceTrace_code.csv",
     320117, "54e9a6d2a4bd06ba1e060304b900abbc74cbea53de96506e60fe5bb4f2277fb6",
     "62bd8109d0f2b1bc48206d397ecca48d8de03aab", "azure", AZURE_LICENSE,
     "Patel et al., \"Splitwise: Efficient generative LLM inference using phase splitting\", "
     "ISCA 2024",
     "Azure code-completion service, one hour of 2023-11-16, 8,819 rows, lengths only"},
    {"azure-2023-conv", "azure-llm-2023", "AzureLLMInferenceTrace_conv.csv",
     AZURE_RAW "790921015d50dd6aae7f7e47f39ba0e235ad6b08/data/AzureLLMInferenceTrace_conv.csv",
     719188, "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8",
     "5b9219f2caf93bbbf95ec29894e206115658e235", "azure", AZURE_LICENSE,
     "Patel et al., \"Splitwise: Efficient generative LLM inference using phase splitting\", "
     "ISCA 2024",
     "Azure conversation service, one hour of 2023-11-16, 19,366 rows, lengths only"},
    {"azure-2024-code", "azure-llm-2024", "AzureLLMInferenceTrace_code_1week.csv",
     AZURE24_BLOB "AzureLLMInferenceTrace_code_1week.csv", 0, NULL, NULL, "azure", AZURE_LICENSE,
     "Stojkovic et al., \"DynamoLLM: Designing LLM Inference Clusters for Performance and "
     "Energy Efficiency\", HPCA 2025",
     "Azure code service, one week of May 2024, lengths only (published outside git: unpinned)"},
    {"azure-2024-conv", "azure-llm-2024", "AzureLLMInferenceTrace_conv_1week.csv",
     AZURE24_BLOB "AzureLLMInferenceTrace_conv_1week.csv", 0, NULL, NULL, "azure", AZURE_LICENSE,
     "Stojkovic et al., \"DynamoLLM: Designing LLM Inference Clusters for Performance and "
     "Energy Efficiency\", HPCA 2025",
     "Azure conversation service, one week of May 2024, lengths only (published outside git: "
     "unpinned)"},
    {"burstgpt", "burstgpt", "BurstGPT_1.csv",
     "https://raw.githubusercontent.com/HPMLL/BurstGPT/e92f533b6c85ea7f4164fb3d97d1aa2c3edacbc8/"
     "data/BurstGPT_1.csv",
     0, NULL, "f95dd2c84454b067fdd0973858c55ecfe31bdad7", "burstgpt",
     "CC-BY-4.0 (LICENSE in github.com/HPMLL/BurstGPT)",
     "Wang et al., \"BurstGPT: A Real-world Workload Dataset to Optimize LLM Serving Systems\", "
     "arXiv:2401.17644",
     "ChatGPT (GPT-3.5) and GPT-4 requests served on Azure, first 2 months, 1.43 M rows"},
};

const trace_catalog_entry *trace_catalog(size_t *n)
{
    *n = sizeof catalog / sizeof catalog[0];
    return catalog;
}

const trace_catalog_entry *trace_catalog_find(const char *name)
{
    for (size_t i = 0; i < sizeof catalog / sizeof catalog[0]; i++)
        if (strcmp(catalog[i].name, name) == 0)
            return &catalog[i];
    return NULL;
}

const trace_catalog_entry *trace_catalog_by_path(const char *path)
{
    const char *base = strrchr(path, '/');
    for (size_t i = 0; i < sizeof catalog / sizeof catalog[0]; i++) {
        const trace_catalog_entry *e = &catalog[i];
        size_t dl = strlen(e->dir);
        if (base) {
            if (strncmp(path, e->dir, dl) == 0 && path[dl] == '/' && strcmp(path + dl + 1, e->file) == 0)
                return e;
            if (strcmp(base + 1, e->file) == 0)
                return e;
        } else if (strcmp(path, e->file) == 0) {
            return e;
        }
    }
    return NULL;
}
