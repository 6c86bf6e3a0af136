/*
 * models_cmd.c - memfab models: every model type with its parameter table.
 */
#include <stdio.h>
#include <string.h>

#include "models/registry.h"
#include "tools/commands.h"

static const char *type_name(sim_param_type t)
{
    switch (t) {
    case SIM_P_TIME: return "time";
    case SIM_P_SIZE: return "size";
    case SIM_P_RATE: return "rate";
    case SIM_P_GTS: return "GT/s";
    case SIM_P_FLOPS: return "FLOP/s";
    case SIM_P_INT: return "int";
    case SIM_P_UINT: return "uint";
    case SIM_P_DOUBLE: return "real";
    case SIM_P_BOOL: return "bool";
    case SIM_P_STRING: return "string";
    case SIM_P_ENUM: return "enum";
    }
    return "?";
}

int cmd_models(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: memfab models [TYPE]\n\nList every model type (or one) with its"
                   " parameters: name, type, default, unit, description.\nComponents go under"
                   " 'components:', links under 'links:' with 'ends: [A, B]'.\n");
            return 0;
        }
        only = argv[i];
    }
    int found = 0;
    for (size_t i = 0; memfab_models[i]; i++) {
        const sim_model *m = memfab_models[i];
        if (only && strcmp(only, m->type) != 0)
            continue;
        found = 1;
        printf("%s%s — %s\n", m->type, m->is_link ? " (link)" : "", m->summary);
        for (const sim_param *p = m->params; p && p->name; p++) {
            char type[128];
            if (p->type == SIM_P_ENUM && p->choices) {
                size_t n = 0;
                type[0] = '\0';
                for (size_t k = 0; p->choices[k]; k++)
                    n += (size_t)snprintf(type + n, n < sizeof type ? sizeof type - n : 0, "%s%s",
                                          k ? "|" : "", p->choices[k]);
            } else {
                snprintf(type, sizeof type, "%s", type_name(p->type));
            }
            printf("  %-18s %-22s default %-12s %s\n", p->name, type,
                   p->def ? p->def : "(required)", p->desc);
        }
        for (size_t k = 0; m->keys && m->keys[k]; k++)
            printf("  %-18s %-22s (see the model's documentation)\n", m->keys[k], "section");
        printf("\n");
    }
    if (only && !found) {
        fprintf(stderr, "memfab models: no model type '%s'\n", only);
        return 2;
    }
    return 0;
}
