/*
 * schema.h - the keys a scenario may contain, declared as data.
 *
 * Every mapping of a scenario that memfab reads has a schema: the keys it
 * accepts, each with a kind (a value, a nested mapping, a list of
 * mappings, or a part checked elsewhere), the type and default shown to
 * the user, a unit and one line of description. A schema may also accept
 * the parameters of a model (its sim_param table: the `fabric:` section
 * takes the fabric model's, `workload.instances` the instance model's),
 * inherit the keys of a base schema (the top level of `memfab run` adds
 * the serving and fabric sections to the core's), and ask a hook for keys
 * that depend on the mapping's contents (`router:` accepts the parameters
 * of the policy it names).
 *
 * sim_schema_check walks a scenario node against a schema: an unknown key
 * is an error at the key's mark (file:line:column, or the column of the
 * key in a --set assignment) with a did-you-mean suggestion. The same
 * tables print the keys for `memfab models` (sim_schema_print).
 *
 * Keys under a hook that cannot declare its parameters (a plug-in policy:
 * sim/plugin.h has no parameter list) are accepted; the checker reports
 * each to a note callback so the caller can record that it did not check
 * them.
 */
#ifndef MEMFAB_SIM_SCHEMA_H
#define MEMFAB_SIM_SCHEMA_H

#include <stdio.h>

#include "sim/sim.h"

typedef struct sim_schema sim_schema;

typedef enum {
    SIM_S_VALUE,     /* a scalar or a list of scalars: not descended */
    SIM_S_MAP,       /* a mapping whose keys `sub` declares */
    SIM_S_MAP_OR_VALUE, /* a scalar, or a mapping whose keys `sub` declares */
    SIM_S_LIST,      /* a sequence; every item is a mapping whose keys `sub` declares */
    SIM_S_OPEN       /* checked where it is read (e.g. components: by their type's table) */
} sim_skind;

/* One key of a mapping. */
typedef struct sim_skey {
    const char *name;        /* the YAML key; NULL ends a table */
    sim_skind kind;
    const char *type;        /* shown by `memfab models`: "time", "bool", "a|b|c", ... */
    const char *def;         /* default as written, or NULL (none / required) */
    const char *unit;        /* "" when none */
    const char *desc;        /* one line */
    const sim_schema *sub;   /* MAP, MAP_OR_VALUE, LIST: the nested keys */
} sim_skey;

/* Keys a hook adds for one mapping, from its contents. */
typedef struct sim_schema_more {
    const sim_param *params; /* accepted keys (a parameter table), or NULL */
    int open;                /* 1: the keys cannot be declared; accept any and note it */
    char owner[96];          /* who declares them, for messages: "router policy 'dynamo'" */
} sim_schema_more;

struct sim_schema {
    const char *name;              /* e.g. "router", "kv tier"; for listings */
    const sim_skey *keys;          /* NULL-name terminated, or NULL */
    const sim_param *params;       /* further accepted keys (a parameter table), or NULL */
    const sim_model *model;        /* its params and extra keys are accepted too, or NULL */
    const sim_schema *base;        /* its keys are accepted too, or NULL */
    /* Extra keys that depend on the mapping (may be NULL). 0, or an error
     * (e.g. an unknown policy name) filled into err. `path` names the
     * mapping ("router"). */
    int (*more)(const scn_node *map, const char *path, sim_schema_more *out, sim_err *err);
    /* Keys of other variants (e.g. every policy's parameters), offered as
     * hints when a key is unknown here: fills why[] and returns 1 when
     * `key` belongs to another variant (may be NULL). */
    int (*elsewhere)(const char *key, char *why, size_t len);
};

/* A key accepted without being checked (see `open`): its node, its full
 * path ("router.lookahead") and who should have declared it. */
typedef void (*sim_schema_note_fn)(void *ctx, const scn_node *key, const char *path,
                                   const char *owner);

/* Check mapping n (NULL: nothing to check) against sc. path is n's dotted
 * path ("" for the root, named "the scenario" in messages). 0, or
 * SIM_ESCENARIO with err at the offending node. note may be NULL. */
int sim_schema_check(const sim_schema *sc, const scn_node *n, const char *path,
                     sim_schema_note_fn note, void *ctx, sim_err *err);

/* Whether `key` is declared by sc (its keys, params, model, base; not the
 * hook's). */
const sim_skey *sim_schema_key(const sim_schema *sc, const char *key);

/* The keys mapping n (NULL: an absent section, every key at its default)
 * leaves at their defaults: fn(ctx, "PATH.KEY", default) for sc's keys,
 * parameter tables, model parameters and the hook's parameters (a router
 * policy's), descending into the nested mappings and list items n has.
 * Only literal defaults are reported: one that describes a value ("(run
 * seed)", "kv.block_tokens", "[hbm]") is not one. */
void sim_schema_defaults(const sim_schema *sc, const scn_node *n, const char *path,
                         scn_leaf_fn fn, void *ctx);

/* Print sc's keys (and nested schemas, and the parameters of a model whose
 * keys it accepts, indented) in the style of `memfab models`: name, type,
 * default, unit and description. prefix is prepended to key names ("kv."). */
void sim_schema_print(FILE *f, const sim_schema *sc, const char *prefix, int indent);
/* The same for a parameter table. */
void sim_params_print(FILE *f, const sim_param *p, const char *prefix, int indent);
/* One row of those listings (KEY TYPE DEFAULT UNIT DESCRIPTION), and the
 * header row naming the columns. */
void sim_models_row(FILE *f, int indent, const char *name, const char *type, const char *def,
                    const char *unit, const char *desc);
void sim_models_header(FILE *f, int indent);

/* A parameter's type as `memfab models` shows it ("time", "a|b|c"). */
const char *sim_param_type_name(const sim_param *p, char *buf, size_t len);
/* The unit its value is measured in ("s", "B", "B/s", "W", or the table's
 * unit: "packets"); time, size, rate, energy and power values are written
 * with any prefix (150 ns, 2 MiB, 64 GB/s, 20 pJ/bit). "" when none. */
const char *sim_param_unit(const sim_param *p);

/* The top-level keys every scenario may have (name, description, seed,
 * stop, output, components, cluster, links) and the `output:` section. */
extern const sim_schema sim_scenario_schema;
extern const sim_schema sim_output_schema;
extern const sim_schema sim_cluster_schema;

#endif
