/*
 * models_cmd.c - memfab models: every model type with its parameter table.
 */
#include <stdio.h>
#include <string.h>

#include "models/kv/kvstore.h"
#include "models/registry.h"
#include "tools/commands.h"

/* A policy family's parameters, one policy a line group. */
static void print_policies(const char *title, const char *section, const char *const *names,
                           const sim_param *(*params)(const char *))
{
    printf("  %s (parameters are %s: keys):\n", title, section);
    for (size_t i = 0; names[i]; i++) {
        const sim_param *p = params(names[i]);
        printf("    %s%s\n", names[i], p && p->name ? ":" : " (no parameters)");
        sim_params_print(stdout, p, "", 6);
    }
}

/* The scenario section whose keys include model m's (workload for
 * llm_workload), or NULL. */
static const char *section_of(const sim_model *m)
{
    for (const sim_skey *k = memfab_scenario_schema.keys; k && k->name; k++)
        for (const sim_schema *sc = k->sub; sc; sc = sc->base)
            if (sc->model == m || (m->params && sc->params == m->params))
                return k->name;
    return NULL;
}

/* The scenario's sections: `memfab models SECTION` or all of them. */
static int print_sections(const char *only)
{
    int found = 0;
    for (const sim_skey *k = memfab_scenario_schema.keys; k && k->name; k++) {
        if (only && strcmp(only, k->name) != 0)
            continue;
        found = 1;
        printf("%s: (section) — %s\n", k->name, k->desc);
        sim_schema_print(stdout, k->sub, "", 2);
        if (strcmp(k->name, "router") == 0) {
            const char *names[40];
            size_t n = 0;
            for (size_t i = 0; kv_router_policies[i] && n < 30; i++)
                names[n++] = kv_router_policies[i]->name;
            for (size_t i = 0; kv_pair_router_policies[i] && n < 39; i++)
                names[n++] = kv_pair_router_policies[i]->name;
            names[n] = NULL;
            print_policies("router policies", "router", names, kv_router_params);
        } else if (strcmp(k->name, "kv") == 0) {
            const char *names[40];
            size_t n = 0;
            for (size_t i = 0; kv_evict_policies[i] && n < 39; i++)
                names[n++] = kv_evict_policies[i]->name;
            names[n] = NULL;
            print_policies("eviction policies", "kv", names, kv_evict_params);
        }
        printf("\n");
    }
    for (const sim_skey *k = sim_scenario_schema.keys; k && k->name; k++) {
        if (!only || strcmp(only, k->name) != 0 || !k->sub)
            continue;
        found = 1;
        printf("%s: (section) — %s\n", k->name, k->desc);
        sim_schema_print(stdout, k->sub, "", 2);
        printf("\n");
    }
    return found;
}

int cmd_models(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: memfab models [TYPE|SECTION]\n\nList the scenario's keys, every"
                   " model type (or one) with its parameters, and the sections\nworkload,"
                   " kv, router, fabric, output, cluster with their keys and the router and\n"
                   "eviction policies' parameters: KEY, TYPE, DEFAULT, UNIT (what the value is"
                   " measured\nin; write any prefix: 150 ns, 2 MiB, 64 GB/s) and DESCRIPTION."
                   " Components go under\n'components:', links under 'links:' with 'ends:"
                   " [A, B]'. memfab presets lists what\nthe model, gpu and step-time presets"
                   " stand for.\n");
            return 0;
        }
        only = argv[i];
    }
    int found = 0;
    if (!only) {
        printf("Every key with its type, default, unit and description. Values of time,"
               " size, rate,\nenergy and power carry their unit with any prefix (150 ns,"
               " 2 MiB, 64 GB/s, 20 pJ/bit,\n700 W); the UNIT column names the unit they"
               " are measured in. memfab presets lists the\nmodel, GPU, step-time and link"
               " presets.\n\n");
        sim_models_header(stdout, 2);
        printf("\nScenario keys (memfab check and memfab run refuse any other; the sections"
               " workload, kv, router\nand fabric follow the model types):\n");
        sim_schema_print(stdout, &sim_scenario_schema, "", 2);
        printf("\n");
    }
    /* A section name (router, kv, ...) shows the section; `fabric` is also a
     * model type and shows both. */
    if (only && print_sections(only))
        found = 1;
    for (size_t i = 0; memfab_models[i]; i++) {
        const sim_model *m = memfab_models[i];
        if (only && strcmp(only, m->type) != 0)
            continue;
        found = 1;
        printf("%s%s — %s\n", m->type, m->is_link ? " (link)" : "", m->summary);
        sim_params_print(stdout, m->params, "", 2);
        const char *sec = section_of(m);
        char why[160];
        snprintf(why, sizeof why, "a nested mapping%s%s%s", sec ? " (memfab models " : "",
                 sec ? sec : "", sec ? " lists its keys)" : "");
        for (size_t k = 0; m->keys && m->keys[k]; k++)
            sim_models_row(stdout, 2, m->keys[k], "section", "-", "", why);
        printf("\n");
    }
    if (!only)
        print_sections(NULL);
    if (only && !found) {
        fprintf(stderr, "memfab models: no model type or scenario section '%s'\n", only);
        return 2;
    }
    return 0;
}
