/*
 * schema.c - checking scenario mappings against declared keys (schema.h),
 * and printing the declarations.
 */
#include "sim/schema.h"

#include <stdarg.h>
#include <string.h>

/* ---- the core's own sections ------------------------------------------ */

static const sim_skey output_keys[] = {
    {"sample_interval", SIM_S_VALUE, "time", "0 s", "",
     "sample time series every this much simulated time (0: never)", NULL},
    {"requests", SIM_S_VALUE, "bool", "true", "", "write one row per request", NULL},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};

const sim_schema sim_output_schema = {"output", output_keys, NULL, NULL, NULL, NULL, NULL};

static const sim_skey scenario_keys[] = {
    {"name", SIM_S_VALUE, "string", NULL, "", "the scenario's name (results/<name>.db)", NULL},
    {"description", SIM_S_VALUE, "string", "", "", "free text", NULL},
    {"seed", SIM_S_VALUE, "uint", "1", "", "seed of every random stream", NULL},
    {"stop", SIM_S_VALUE, "time|empty|trace_end", "empty", "",
     "stop time, or run until no event is pending", NULL},
    {"output", SIM_S_MAP, "section", NULL, "", "what the run records", &sim_output_schema},
    {"components", SIM_S_OPEN, "list", NULL, "",
     "components: {name, type, <the type's parameters>} (memfab models TYPE)", NULL},
    {"cluster", SIM_S_MAP, "section", NULL, "", "nodes generated from a template, and a network",
     &sim_cluster_schema},
    {"links", SIM_S_OPEN, "list", NULL, "",
     "links: {name, type, ends: [A, B], <the type's parameters>}", NULL},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};

const sim_schema sim_scenario_schema = {"scenario", scenario_keys, NULL, NULL, NULL, NULL, NULL};

/* ---- lookup ------------------------------------------------------------- */

static const sim_skey *find_key(const sim_skey *k, const char *key)
{
    for (; k && k->name; k++)
        if (strcmp(k->name, key) == 0)
            return k;
    return NULL;
}

static int in_params(const sim_param *p, const char *key)
{
    for (; p && p->name; p++)
        if (strcmp(p->name, key) == 0)
            return 1;
    return 0;
}

/* A key declared as a value by a parameter table or a model's extra keys. */
static const sim_skey param_key = {"", SIM_S_VALUE, NULL, NULL, NULL, NULL, NULL};
static const sim_skey model_extra_key = {"", SIM_S_OPEN, NULL, NULL, NULL, NULL, NULL};

const sim_skey *sim_schema_key(const sim_schema *sc, const char *key)
{
    for (; sc; sc = sc->base) {
        const sim_skey *k = find_key(sc->keys, key);
        if (k)
            return k;
        if (in_params(sc->params, key))
            return &param_key;
        if (sc->model) {
            if (in_params(sc->model->params, key))
                return &param_key;
            for (size_t i = 0; sc->model->keys && sc->model->keys[i]; i++)
                if (strcmp(sc->model->keys[i], key) == 0)
                    return &model_extra_key;
        }
    }
    return NULL;
}

/* Every accepted name, for suggestions. */
typedef struct names {
    const char *v[512];
    size_t n;
} names;

static void add_name(names *a, const char *s)
{
    if (a->n < sizeof a->v / sizeof a->v[0] - 1)
        a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void collect(const sim_schema *sc, const sim_param *more, names *a)
{
    a->n = 0;
    a->v[0] = NULL;
    for (; sc; sc = sc->base) {
        for (const sim_skey *k = sc->keys; k && k->name; k++)
            add_name(a, k->name);
        for (const sim_param *p = sc->params; p && p->name; p++)
            add_name(a, p->name);
        if (sc->model) {
            for (const sim_param *p = sc->model->params; p && p->name; p++)
                add_name(a, p->name);
            for (size_t i = 0; sc->model->keys && sc->model->keys[i]; i++)
                add_name(a, sc->model->keys[i]);
        }
    }
    for (const sim_param *p = more; p && p->name; p++)
        add_name(a, p->name);
}

/* ---- checking ----------------------------------------------------------- */

static const char *kind_word(const scn_node *n)
{
    switch (scn_node_kind(n)) {
    case SCN_MAP: return "a mapping";
    case SCN_SEQ: return "a list";
    default: return "a scalar";
    }
}

static void join(char *out, size_t len, const char *path, const char *key)
{
    snprintf(out, len, "%s%s%s", path, *path ? "." : "", key);
}

static const char *where(const char *path) { return *path ? path : "the scenario"; }

/* A policy parameter's value is a number: refuse what the policy would
 * silently read as its default. */
static int check_param_value(const sim_param *p, const scn_node *map, sim_err *err)
{
    double x;
    if (p->type != SIM_P_DOUBLE)
        return 0;
    int rc = scn_get_double(map, p->name, 0, &x, err);
    return rc;
}

int sim_schema_check(const sim_schema *sc, const scn_node *n, const char *path,
                     sim_schema_note_fn note, void *ctx, sim_err *err)
{
    if (!n || !sc)
        return 0;
    if (!path)
        path = "";
    if (scn_node_kind(n) != SCN_MAP)
        return scn_error(err, n, "%s must be a mapping, not %s", where(path), kind_word(n));
    sim_schema_more more;
    memset(&more, 0, sizeof more);
    int rc = 0;
    for (const sim_schema *b = sc; b && !rc; b = b->base)
        if (b->more) {
            rc = b->more(n, path, &more, err);
            break;
        }
    if (rc)
        return rc;
    for (size_t i = 0; i < scn_len(n); i++) {
        const char *key = scn_map_key(n, i);
        const scn_node *kn = scn_map_key_node(n, i);
        const scn_node *v = scn_map_value(n, i);
        char sub[512];
        join(sub, sizeof sub, path, key);
        const sim_skey *k = sim_schema_key(sc, key);
        if (!k) {
            const sim_param *p = NULL;
            for (p = more.params; p && p->name && strcmp(p->name, key) != 0; p++)
                ;
            if (p && p->name) {
                if ((rc = check_param_value(p, n, err)))
                    return rc;
                continue;
            }
            names a;
            collect(sc, more.params, &a);
            const char *s = scn_suggest(key, a.v);
            /* Open: any key may be the plug-in's, except a near miss of a
             * declared one (stiky for sticky), which is a typo. */
            if (more.open && !s) {
                if (note)
                    note(ctx, kn, sub, more.owner);
                continue;
            }
            char why[200] = "", kx[4 * SIM_EXCERPT_MAX + 8];
            sim_excerpt(key, kx, sizeof kx); /* the key may be any text */
            for (const sim_schema *b = sc; b && !why[0]; b = b->base)
                if (b->elsewhere && b->elsewhere(key, why, sizeof why))
                    break;
            if (why[0])
                return scn_error(err, kn, "key '%s' in %s: %s%s%s%s%s%s", kx, where(path), why,
                                 more.owner[0] ? ", not of " : "", more.owner,
                                 s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
            if (s)
                return scn_error(err, kn, "unknown key '%s' in %s; did you mean '%s'?", kx,
                                 where(path), s);
            if (more.owner[0])
                return scn_error(err, kn, "unknown key '%s' in %s (neither a %s key nor a"
                                 " parameter of %s; see memfab models)", kx, where(path),
                                 where(path), more.owner);
            return scn_error(err, kn, "unknown key '%s' in %s (see memfab models)", kx,
                             where(path));
        }
        switch (k->kind) {
        case SIM_S_VALUE:
        case SIM_S_OPEN:
            break;
        case SIM_S_MAP_OR_VALUE:
            if (scn_node_kind(v) != SCN_MAP)
                break;
            /* fall through */
        case SIM_S_MAP:
            if (scn_node_kind(v) == SCN_SCALAR && !scn_scalar(v)[0])
                break; /* an empty section: key: (null) */
            if ((rc = sim_schema_check(k->sub, v, sub, note, ctx, err)))
                return rc;
            break;
        case SIM_S_LIST:
            if (scn_node_kind(v) != SCN_SEQ)
                return scn_error(err, v, "%s must be a list, not %s", sub, kind_word(v));
            for (size_t j = 0; j < scn_len(v); j++) {
                const scn_node *it = scn_seq_at(v, j);
                const char *nm = scn_scalar(scn_map_get(it, "name"));
                char item[600];
                if (nm)
                    snprintf(item, sizeof item, "%s.%s", sub, nm);
                else
                    snprintf(item, sizeof item, "%s.%zu", sub, j);
                if ((rc = sim_schema_check(k->sub, it, item, note, ctx, err)))
                    return rc;
            }
            break;
        }
    }
    return 0;
}

/* ---- defaults ----------------------------------------------------------- */

/* A default that states a value, not one that describes it. */
static int literal_default(const char *d)
{
    if (!d || !*d || strpbrk(d, "()[]<>"))
        return 0;
    const char *dot = strchr(d, '.');   /* another key: kv.block_tokens */
    return !(dot && dot > d && !strpbrk(d, " 0123456789"));
}

static void param_defaults(const sim_param *p, const scn_node *n, const char *path,
                           scn_leaf_fn fn, void *ctx)
{
    for (; p && p->name; p++) {
        char k[600];
        if (!p->def || scn_map_get(n, p->name))
            continue;
        join(k, sizeof k, path, p->name);
        fn(ctx, k, p->def);
    }
}

void sim_schema_defaults(const sim_schema *sc, const scn_node *n, const char *path,
                         scn_leaf_fn fn, void *ctx)
{
    if (!sc || (n && scn_node_kind(n) != SCN_MAP))
        return;
    if (!path)
        path = "";
    sim_schema_more more;
    memset(&more, 0, sizeof more);
    for (const sim_schema *b = sc; b; b = b->base)
        if (b->more) {
            sim_err e;
            sim_err_clear(&e);
            if (b->more(n, path, &more, &e))
                memset(&more, 0, sizeof more);
            break;
        }
    for (const sim_schema *b = sc; b; b = b->base) {
        for (const sim_skey *k = b->keys; k && k->name; k++) {
            char sub[600];
            join(sub, sizeof sub, path, k->name);
            const scn_node *v = scn_map_get(n, k->name);
            if (!v) {
                if ((k->kind == SIM_S_VALUE || k->kind == SIM_S_MAP_OR_VALUE) &&
                    literal_default(k->def))
                    fn(ctx, sub, k->def);
                continue;
            }
            if ((k->kind == SIM_S_MAP || k->kind == SIM_S_MAP_OR_VALUE) &&
                scn_node_kind(v) == SCN_MAP)
                sim_schema_defaults(k->sub, v, sub, fn, ctx);
            else if (k->kind == SIM_S_LIST && scn_node_kind(v) == SCN_SEQ)
                for (size_t j = 0; j < scn_len(v); j++) {
                    const scn_node *it = scn_seq_at(v, j);
                    const char *nm = scn_scalar(scn_map_get(it, "name"));
                    char item[700];
                    if (nm)
                        snprintf(item, sizeof item, "%s.%s", sub, nm);
                    else
                        snprintf(item, sizeof item, "%s.%zu", sub, j);
                    sim_schema_defaults(k->sub, it, item, fn, ctx);
                }
        }
        param_defaults(b->params, n, path, fn, ctx);
        if (b->model)
            param_defaults(b->model->params, n, path, fn, ctx);
    }
    param_defaults(more.params, n, path, fn, ctx);
}

/* ---- printing ------------------------------------------------------------ */

const char *sim_param_type_name(const sim_param *p, char *buf, size_t len)
{
    const char *t = "?";
    switch (p->type) {
    case SIM_P_TIME: t = "time"; break;
    case SIM_P_SIZE: t = "size"; break;
    case SIM_P_RATE: t = "rate"; break;
    case SIM_P_GTS: t = "GT/s"; break;
    case SIM_P_FLOPS: t = "FLOP/s"; break;
    case SIM_P_ENERGY_BIT: t = "energy/bit"; break;
    case SIM_P_POWER: t = "power"; break;
    case SIM_P_INT: t = "int"; break;
    case SIM_P_UINT: t = "uint"; break;
    case SIM_P_DOUBLE: t = "real"; break;
    case SIM_P_BOOL: t = "bool"; break;
    case SIM_P_STRING: t = "string"; break;
    case SIM_P_ENUM:
        if (p->choices) {
            size_t n = 0;
            buf[0] = '\0';
            for (size_t k = 0; p->choices[k]; k++)
                n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", k ? "|" : "",
                                      p->choices[k]);
            return buf;
        }
        t = "enum";
        break;
    }
    snprintf(buf, len, "%s", t);
    return buf;
}

const char *sim_param_unit(const sim_param *p)
{
    switch (p->type) {
    case SIM_P_TIME: return "s";
    case SIM_P_SIZE: return "B";
    case SIM_P_RATE: return "B/s";
    case SIM_P_GTS: return "T/s";
    case SIM_P_FLOPS: return "FLOP/s";
    case SIM_P_ENERGY_BIT: return "J/bit";
    case SIM_P_POWER: return "W";
    default: return p->unit ? p->unit : "";
    }
}

/* A section key's unit: the declared one, else those of its type's
 * alternatives ("time|dist" is written in seconds, "tokens|time" in tokens
 * or seconds). */
static const char *skey_unit(const sim_skey *k, char *buf, size_t len)
{
    if (k->unit && k->unit[0])
        return k->unit;
    static const struct { const char *type, *unit; } u[] = {
        {"time", "s"}, {"size", "B"}, {"rate", "B/s"}, {"tokens", "tokens"}};
    size_t used = 0;
    buf[0] = '\0';
    for (const char *t = k->type ? k->type : ""; *t;) {
        size_t n = strcspn(t, "|");
        for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
            if (strlen(u[i].type) == n && strncmp(t, u[i].type, n) == 0 && used < len)
                used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "|" : "",
                                         u[i].unit);
        t += n + (t[n] == '|');
    }
    return buf;
}

enum { NAME_W = 33, TYPE_W = 14, DEF_W = 12, UNIT_W = 8 };

void sim_models_row(FILE *f, int indent, const char *name, const char *type, const char *def,
                    const char *unit, const char *desc)
{
    /* A list of choices too long for the column goes before the description. */
    /* ... and so does a default that describes a value ("(HBM: what the
     * weights leave)"). */
    int wide = type && strlen(type) > TYPE_W;
    int wdef = def && strlen(def) > DEF_W;
    int w = NAME_W - indent;
    fprintf(f, "%*s%-*s %-*s %-*s %-*s %s%s%s%s%s%s\n", indent, "", w < 1 ? 1 : w, name, TYPE_W,
            wide ? "choice" : type ? type : "", DEF_W, wdef ? "see right" : def ? def : "",
            UNIT_W, unit && unit[0] ? unit : "-", wide ? type : "", wide ? ": " : "",
            wdef ? "default " : "", wdef ? def : "", wdef ? ": " : "", desc ? desc : "");
}

void sim_models_header(FILE *f, int indent)
{
    sim_models_row(f, indent, "KEY", "TYPE", "DEFAULT", "UNIT", "DESCRIPTION");
}

void sim_params_print(FILE *f, const sim_param *p, const char *prefix, int indent)
{
    for (; p && p->name; p++) {
        char type[512], name[160];
        snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", p->name);
        sim_models_row(f, indent, name, sim_param_type_name(p, type, sizeof type),
                       p->def ? p->def : "(required)", sim_param_unit(p), p->desc);
    }
}

void sim_schema_print(FILE *f, const sim_schema *sc, const char *prefix, int indent)
{
    if (!prefix)
        prefix = "";
    for (; sc; sc = sc->base) {
        for (const sim_skey *k = sc->keys; k && k->name; k++) {
            char name[160], unit[64];
            snprintf(name, sizeof name, "%s%s", prefix, k->name);
            sim_models_row(f, indent, name, k->type ? k->type : "", k->def ? k->def : "-",
                           skey_unit(k, unit, sizeof unit), k->desc);
            if (k->sub && (k->kind == SIM_S_MAP || k->kind == SIM_S_MAP_OR_VALUE ||
                           k->kind == SIM_S_LIST)) {
                char sub[200];
                snprintf(sub, sizeof sub, "%s%s%s.", prefix, k->name,
                         k->kind == SIM_S_LIST ? "[]" : "");
                sim_schema_print(f, k->sub, sub, indent);
            }
        }
        sim_params_print(f, sc->params, prefix, indent);
        if (sc->model) /* the model's parameters are keys here too: list them */
            sim_params_print(f, sc->model->params, prefix, indent);
    }
}
