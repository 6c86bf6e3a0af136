/*
 * sim.c - the run loop, components, parameter tables and the builder.
 *
 * NOTES ON THE DESIGN
 * Components live in an array indexed by id (scenario order), so an
 * event's target is a 32-bit index and dispatch is one load. The sampler
 * (output.sample_interval) is a core event with a reserved target; it only
 * re-arms itself while other events are pending, so it never keeps an
 * otherwise finished simulation alive. The interrupt flag is a
 * sig_atomic_t that a signal handler may set; the loop reads it every
 * 4096 events, with the progress clock.
 */
#include "sim.h"

#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "hash.h"
#include "mem.h"
#include "schema.h"

#define SAMPLER_TARGET UINT32_MAX

static volatile sig_atomic_t interrupted;

struct sim {
    /* configuration */
    const char *name;          /* scenario name */
    int name_owned;            /* name was allocated by sim_build */
    uint64_t seed;             /* scenario seed */
    sim_time stop_time;        /* SIM_TIME_MAX: run until empty */
    sim_time sample_interval;  /* 0: no sampling */
    sim_sink sink;             /* result callbacks (zeroed: discard) */
    int progress;              /* SIM_PROGRESS_* */
    double progress_every;     /* seconds between lines (LINES, LONG) */
    sim_progress_fn progress_fn; /* work done / total, or NULL */
    void *progress_ctx;
    const char *progress_unit;
    int progress_lines;        /* lines printed by this sim_run */
    /* state */
    evq *q;                    /* pending events */
    sim_comp **comps;          /* components by id */
    size_t ncomps, capcomps;
    uint32_t *byname;          /* name index: open addressing, ids, UINT32_MAX = empty */
    size_t capbyname;          /* slots in byname: 0 or a power of two > 2 x ncomps */
    uint32_t *port;            /* per component: its only link, PORT_NONE or PORT_MANY */
    size_t nport;              /* components `port` covers (rebuilt when ncomps grows) */
    uint32_t replica;          /* the replica index add_comp gives the next component */
    sim_time now;              /* time of the event being handled */
    uint64_t events;           /* events handled */
    int stopping;              /* a component called sim_stop or sim_fail */
    int fail_code;             /* sim_fail: its code, 0 = no failure */
    char fail_msg[1024];       /* sim_fail: its message */
    int started;               /* sim_start done */
    double progress_last;      /* wall time of the last progress line */
    double progress_start;     /* wall time at sim_run start */
    /* the energy ledger (sim_report_energy), summed in report order */
    uint64_t energy_n;         /* components that reported energy */
    double energy_total;       /* sum of their energy_j */
    double energy_data;        /* of which data movement */
    double energy_compute;     /* of which compute */
    const char *work_scope;    /* sim_energy_work: scope of the totals (NULL: "run") */
    double work_requests;      /* requests the energy served */
    double work_tokens;        /* output tokens it generated */
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sim *sim_create(void)
{
    sim *s = sim_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->q = evq_new();
    if (!s->q) {
        sim_free(s);
        return NULL;
    }
    s->seed = 1;
    s->stop_time = SIM_TIME_MAX;
    s->progress_every = 10.0;
    interrupted = 0; /* a new simulation starts without a pending interrupt */
    s->name = "memfab";
    return s;
}

void sim_destroy(sim *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncomps; i++) {
        sim_comp *c = s->comps[i];
        if (c->model->destroy)
            c->model->destroy(c);
        gsl_rng_free(c->rng);
        sim_free((void *)c->name);
        sim_free(c->state);
        sim_free(c);
    }
    sim_free(s->comps);
    sim_free(s->byname);
    sim_free(s->port);
    evq_free(s->q);
    if (s->name_owned)
        sim_free((void *)s->name);
    sim_free(s);
}


uint64_t sim_stream_seed(uint64_t seed, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the name */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return sim_splitmix64(h ^ sim_splitmix64(seed));
}

const sim_model *sim_model_find(const sim_model *const *registry, const char *type)
{
    for (size_t i = 0; registry && registry[i]; i++)
        if (strcmp(registry[i]->type, type) == 0)
            return registry[i];
    return NULL;
}

/* ---- parameters ------------------------------------------------------- */

static int parse_default(const sim_param *p, void *field, sim_err *err)
{
    const char *d = p->def;
    int rc = 0;
    switch (p->type) {
    case SIM_P_TIME: rc = scn_parse_time(d, field, err); break;
    case SIM_P_SIZE: rc = scn_parse_size(d, field, err); break;
    case SIM_P_RATE: rc = scn_parse_rate(d, field, err); break;
    case SIM_P_GTS: rc = scn_parse_gts(d, field, err); break;
    case SIM_P_FLOPS: rc = scn_parse_flops(d, field, err); break;
    case SIM_P_ENERGY_BIT: rc = scn_parse_energy_bit(d, field, err); break;
    case SIM_P_POWER: rc = scn_parse_power(d, field, err); break;
    case SIM_P_INT: *(int64_t *)field = strtoll(d, NULL, 0); break;
    case SIM_P_UINT: *(uint64_t *)field = strtoull(d, NULL, 0); break;
    case SIM_P_DOUBLE: *(double *)field = strtod(d, NULL); break;
    case SIM_P_BOOL: *(int *)field = strcmp(d, "true") == 0 || strcmp(d, "1") == 0; break;
    case SIM_P_STRING: *(const char **)field = d; break;
    case SIM_P_ENUM:
        *(int *)field = 0;
        for (int i = 0; p->choices && p->choices[i]; i++)
            if (strcmp(p->choices[i], d) == 0)
                *(int *)field = i;
        break;
    }
    if (rc)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "internal: bad default '%s' for '%s'",
                           d, p->name);
    return 0;
}

int sim_params_fill(const sim_param *params, void *state, const scn_node *node, sim_err *err)
{
    for (const sim_param *p = params; p && p->name; p++) {
        void *field = (char *)state + p->offset;
        const scn_node *v = node ? scn_map_get(node, p->name) : NULL;
        if (!v) {
            if (!p->def) {
                if (node)
                    return scn_error(err, node, "missing required key '%s' (%s)", p->name, p->desc);
                return sim_err_set(err, SIM_ESCENARIO, NULL, 0, 0, "missing required key '%s'",
                                   p->name);
            }
            int rc = parse_default(p, field, err);
            if (rc)
                return rc;
            continue;
        }
        int rc = 0;
        switch (p->type) {
        case SIM_P_TIME: rc = scn_get_time(node, p->name, 0, field, err); break;
        case SIM_P_SIZE: rc = scn_get_size(node, p->name, 0, field, err); break;
        case SIM_P_RATE: rc = scn_get_rate(node, p->name, 0, field, err); break;
        case SIM_P_GTS: {
            const char *txt = scn_scalar(v);
            if (!txt || scn_parse_gts(txt, field, err))
                rc = scn_error(err, v, "key '%s': '%s' is not a transfer rate (units: GT/s MT/s)",
                               p->name, txt ? txt : "");
            break;
        }
        case SIM_P_FLOPS: rc = scn_get_flops(node, p->name, 0, field, err); break;
        case SIM_P_ENERGY_BIT: rc = scn_get_energy_bit(node, p->name, 0, field, err); break;
        case SIM_P_POWER: rc = scn_get_power(node, p->name, 0, field, err); break;
        case SIM_P_INT: rc = scn_get_int(node, p->name, 0, field, err); break;
        case SIM_P_UINT: rc = scn_get_uint(node, p->name, 0, field, err); break;
        case SIM_P_DOUBLE: rc = scn_get_double(node, p->name, 0, field, err); break;
        case SIM_P_BOOL: rc = scn_get_bool(node, p->name, 0, field, err); break;
        case SIM_P_STRING: rc = scn_get_string(node, p->name, NULL, field, err); break;
        case SIM_P_ENUM: rc = scn_get_enum(node, p->name, p->choices, 0, field, err); break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

const sim_preset *sim_preset_find(const sim_preset *presets, const char *name)
{
    for (const sim_preset *p = presets; p && p->name; p++)
        if (name && strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

int sim_params_preset(const sim_param *params, void *state, const scn_node *node,
                      const char *key, const sim_preset *presets, const sim_preset **chosen,
                      sim_err *err)
{
    if (chosen)
        *chosen = NULL;
    const scn_node *v = node ? scn_map_get(node, key) : NULL;
    const char *name = v ? scn_scalar(v) : NULL;
    if (!name || !*name)
        return 0;
    const sim_preset *pr = sim_preset_find(presets, name);
    if (!pr) {
        const char *cand[64];
        size_t n = 0;
        for (const sim_preset *p = presets; p && p->name && n + 1 < 64; p++)
            cand[n++] = p->name;
        cand[n] = NULL;
        const char *sug = scn_suggest(name, cand);
        char list[512] = "";
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", cand[i]);
        }
        return scn_error(err, v, "unknown %s '%s'%s%s%s (presets: %s)", key, name,
                         sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "", list);
    }
    for (const char *const *kv = pr->values; kv && kv[0] && kv[1]; kv += 2) {
        if (scn_map_get(node, kv[0]))
            continue; /* the entry's own value wins */
        const sim_param *p = params;
        while (p && p->name && strcmp(p->name, kv[0]) != 0)
            p++;
        if (!p || !p->name)
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "internal: preset '%s' sets unknown parameter '%s'", pr->name,
                               kv[0]);
        sim_param one[2] = {*p, {NULL, 0, NULL, NULL, NULL, 0, NULL}};
        one[0].def = kv[1];
        int rc = sim_params_fill(one, state, NULL, err);
        if (rc)
            return rc;
    }
    if (chosen)
        *chosen = pr;
    return 0;
}

/* ---- components ------------------------------------------------------- */

/* The name index makes sim_find O(1), so that building a scenario with
 * thousands of components (a generated cluster) is linear: every added
 * component is first looked up for a duplicate. Lookup only; nothing
 * iterates over the table, so its layout never shows in results. */
static uint64_t name_hash(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return sim_mix64(h);
}

static void index_put(uint32_t *tab, size_t cap, const sim_comp *c)
{
    size_t i = (size_t)name_hash(c->name) & (cap - 1);
    while (tab[i] != UINT32_MAX)
        i = (i + 1) & (cap - 1);
    tab[i] = c->id;
}

/* Make room for one more name (load kept at or below one half). */
static int index_reserve(sim *s)
{
    if (2 * (s->ncomps + 1) <= s->capbyname)
        return 0;
    size_t cap = s->capbyname ? 2 * s->capbyname : 64;
    uint32_t *tab = sim_alloc(cap * sizeof *tab);
    if (!tab)
        return SIM_ENOMEM;
    memset(tab, 0xff, cap * sizeof *tab);
    for (size_t i = 0; i < s->ncomps; i++)
        index_put(tab, cap, s->comps[i]);
    sim_free(s->byname);
    s->byname = tab;
    s->capbyname = cap;
    return 0;
}

static sim_comp *add_comp(sim *s, const sim_model *m, const char *name, const scn_node *node,
                          const uint32_t ends[2], sim_err *err)
{
    if (sim_find(s, name)) {
        if (node)
            scn_error(err, node, "duplicate component name '%s'", name);
        else
            sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "duplicate component name '%s'", name);
        return NULL;
    }
    if (s->ncomps == s->capcomps) {
        size_t cap = s->capcomps ? 2 * s->capcomps : 16;
        sim_comp **nc = sim_realloc(s->comps, cap * sizeof *nc);
        if (!nc)
            goto oom;
        s->comps = nc;
        s->capcomps = cap;
    }
    if (index_reserve(s))
        goto oom;
    sim_comp *c = sim_calloc(1, sizeof *c);
    if (!c)
        goto oom;
    c->model = m;
    c->sim = s;
    c->node = node;
    c->id = (uint32_t)s->ncomps;
    c->replica = s->replica;
    c->name = sim_strdup(name);
    c->state = sim_calloc(1, m->state_size ? m->state_size : 1);
    c->rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!c->name || !c->state || !c->rng) {
        gsl_rng_free(c->rng);
        sim_free((void *)c->name);
        sim_free(c->state);
        sim_free(c);
        goto oom;
    }
    gsl_rng_set(c->rng, (unsigned long)sim_stream_seed(s->seed, name));
    if (ends) {
        c->ends[0] = ends[0];
        c->ends[1] = ends[1];
    }
    s->comps[s->ncomps++] = c;
    index_put(s->byname, s->capbyname, c);
    int rc = sim_params_fill(m->params, c->state, node, err);
    if (!rc && m->presets)
        rc = sim_params_preset(m->params, c->state, node, "preset", m->presets, NULL, err);
    if (!rc && m->configure)
        rc = m->configure(c, node, err);
    return rc ? NULL : c;
oom:
    sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory creating '%s'", name);
    return NULL;
}

sim_comp *sim_add(sim *s, const sim_model *m, const char *name, const scn_node *node,
                  sim_err *err)
{
    return add_comp(s, m, name, node, NULL, err);
}

sim_comp *sim_add_link(sim *s, const sim_model *m, const char *name, const scn_node *node,
                       const uint32_t ends[2], sim_err *err)
{
    for (int k = 0; k < 2; k++)
        if (ends[k] >= s->ncomps) {
            sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "link '%s': bad end id", name);
            return NULL;
        }
    return add_comp(s, m, name, node, ends, err);
}

/* Allowed keys of an entry: type, (name), (ends), params, extra keys. */
static int check_comp_keys(const sim_model *m, const scn_node *node, const char *name,
                           unsigned keys, sim_err *err)
{
    const char *allowed[256];
    size_t n = 0;
    if (keys & SIM_ENTRY_NAME)
        allowed[n++] = "name";
    allowed[n++] = "type";
    if (m->is_link && (keys & SIM_ENTRY_ENDS))
        allowed[n++] = "ends";
    if (!m->is_link && (keys & SIM_ENTRY_ENDS)) /* top-level `components:` entries */
        allowed[n++] = "replicas";
    for (const sim_param *p = m->params; p && p->name && n < 250; p++)
        allowed[n++] = p->name;
    for (size_t i = 0; m->keys && m->keys[i] && n < 254; i++)
        allowed[n++] = m->keys[i];
    allowed[n] = NULL;
    char ctx[300];
    snprintf(ctx, sizeof ctx, "%s '%s' (type %s)", m->is_link ? "link" : "component", name,
             m->type);
    return scn_check_keys(node, allowed, ctx, err);
}

sim_comp *sim_add_section(sim *s, const sim_model *m, const char *name, const scn_node *node,
                          sim_err *err)
{
    const char *allowed[256];
    size_t n = 0;
    for (const sim_param *p = m->params; p && p->name && n < 250; p++)
        allowed[n++] = p->name;
    for (size_t i = 0; m->keys && m->keys[i] && n < 254; i++)
        allowed[n++] = m->keys[i];
    allowed[n] = NULL;
    char ctx[300];
    snprintf(ctx, sizeof ctx, "section '%s'", name);
    if (scn_check_keys(node, allowed, ctx, err))
        return NULL;
    return sim_add(s, m, name, node, err);
}

static const char *const *registry_types(const sim_model *const *registry)
{
    static const char *names[128];
    size_t n = 0;
    for (size_t i = 0; registry && registry[i] && n < 127; i++)
        names[n++] = registry[i]->type;
    names[n] = NULL;
    return names;
}

/* The model an entry's `type:` names, checked to be a link (links = 1) or
 * not; NULL with err filled otherwise. */
static const sim_model *entry_model(const scn_node *item, const sim_model *const *registry,
                                    const char *name, int links, sim_err *err)
{
    const char *type = NULL;
    if (scn_get_string(item, "type", NULL, &type, err))
        return NULL;
    if (!type) {
        scn_error(err, item, "'%s' has no 'type'", name);
        return NULL;
    }
    const sim_model *m = sim_model_find(registry, type);
    if (!m) {
        const char *sug = scn_suggest(type, registry_types(registry));
        scn_error(err, scn_map_get(item, "type"),
                  "unknown type '%s'%s%s%s (memfab models lists them)", type,
                  sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
        return NULL;
    }
    if (m->is_link != links) {
        scn_error(err, scn_map_get(item, "type"), "type '%s' is %s; put it under '%s:'", type,
                  m->is_link ? "a link" : "not a link", m->is_link ? "links" : "components");
        return NULL;
    }
    return m;
}

sim_comp *sim_add_entry(sim *s, const scn_node *entry, const sim_model *const *registry,
                        const char *name, const uint32_t *ends, unsigned keys, sim_err *err)
{
    if (scn_node_kind(entry) != SCN_MAP) {
        scn_error(err, entry, "'%s' must be a mapping with a 'type'", name);
        return NULL;
    }
    const sim_model *m = entry_model(entry, registry, name, ends != NULL, err);
    if (!m || check_comp_keys(m, entry, name, keys, err))
        return NULL;
    return ends ? sim_add_link(s, m, name, entry, ends, err) : sim_add(s, m, name, entry, err);
}

static int build_entry(sim *s, const scn_node *item, const sim_model *const *registry,
                       int links, sim_err *err)
{
    if (scn_node_kind(item) != SCN_MAP)
        return scn_error(err, item, "each %s must be a mapping with 'name' and 'type'",
                         links ? "link" : "component");
    const char *name = NULL;
    int rc = scn_get_string(item, "name", NULL, &name, err);
    if (rc)
        return rc;
    if (!name)
        return scn_error(err, item, "%s without 'name'", links ? "link" : "component");
    /* The type first, so that a misplaced or unknown type is named before
     * anything about ends. */
    const sim_model *m = entry_model(item, registry, name, links, err);
    if (!m)
        return err && err->code ? err->code : SIM_EINVAL;
    if ((rc = check_comp_keys(m, item, name, SIM_ENTRY_NAME | SIM_ENTRY_ENDS, err)))
        return rc;
    sim_comp *c = NULL;
    if (links) {
        /* Resolve ends before configure so the model can use them. */
        const scn_node *ends = scn_map_get(item, "ends");
        if (!ends || scn_node_kind(ends) != SCN_SEQ || scn_len(ends) != 2)
            return scn_error(err, ends ? ends : item,
                             "link '%s' needs 'ends: [A, B]' naming two components", name);
        uint32_t ids[2];
        for (size_t k = 0; k < 2; k++) {
            const char *en = scn_scalar(scn_seq_at(ends, k));
            sim_comp *e = en ? sim_find(s, en) : NULL;
            if (!e) {
                const char *cand[256];
                size_t n = 0;
                for (size_t i = 0; i < s->ncomps && n < 255; i++)
                    cand[n++] = s->comps[i]->name;
                cand[n] = NULL;
                const char *sug = en ? scn_suggest(en, cand) : NULL;
                return scn_error(err, scn_seq_at(ends, k), "link '%s': no component named '%s'%s%s%s",
                                 name, en ? en : "?", sug ? "; did you mean '" : "",
                                 sug ? sug : "", sug ? "'?" : "");
            }
            ids[k] = e->id;
        }
        c = sim_add_link(s, m, name, item, ids, err);
    } else if (scn_map_get(item, "replicas")) {
        uint64_t n = 0;
        if ((rc = scn_get_uint(item, "replicas", 1, &n, err)))
            return rc;
        if (n < 1 || n > SIM_MAX_REPLICAS)
            return scn_error(err, scn_map_get(item, "replicas"),
                             "component '%s': replicas must be 1..%d", name, SIM_MAX_REPLICAS);
        for (uint64_t i = 0; i < n; i++) {
            char nm[512];
            snprintf(nm, sizeof nm, "%s%llu", name, (unsigned long long)i);
            s->replica = (uint32_t)i;
            c = sim_add(s, m, nm, item, err);
            s->replica = 0;
            if (!c)
                break;
        }
    } else {
        c = sim_add(s, m, name, item, err);
    }
    return c ? 0 : (err && err->code ? err->code : SIM_EINVAL);
}

static int build_list(sim *s, const scn_node *root, const char *key,
                      const sim_model *const *registry, sim_err *err)
{
    const scn_node *list = scn_map_get(root, key);
    if (!list)
        return 0;
    if (scn_node_kind(list) != SCN_SEQ)
        return scn_error(err, list, "'%s' must be a list", key);
    for (size_t i = 0; i < scn_len(list); i++) {
        int rc = build_entry(s, scn_seq_at(list, i), registry, strcmp(key, "links") == 0, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Time series are bounded: an interval below SIM_SAMPLE_FLOOR, or one that
 * would take more than SIM_MAX_SAMPLES samples to reach a known stop time,
 * is an error at output.sample_interval saying how many it would write. */
#define SIM_SAMPLE_FLOOR SIM_US
#define SIM_MAX_SAMPLES 10000000ull

static int check_sample_interval(const sim *s, const scn_node *out, sim_err *err)
{
    const scn_node *n = scn_map_get(out, "sample_interval");
    sim_time iv = s->sample_interval;
    if (s->stop_time != SIM_TIME_MAX) {
        uint64_t samples = s->stop_time / iv;
        if (samples > SIM_MAX_SAMPLES)
            return scn_error(err, n,
                             "output.sample_interval: %.6g s to stop at %.6g s would write "
                             "%llu samples (a row per metric each), more than %llu; "
                             "use an interval of at least %.6g s",
                             sim_time_to_s(iv), sim_time_to_s(s->stop_time),
                             (unsigned long long)samples, (unsigned long long)SIM_MAX_SAMPLES,
                             sim_time_to_s(s->stop_time / SIM_MAX_SAMPLES + 1));
    }
    if (iv < SIM_SAMPLE_FLOOR)
        return scn_error(err, n,
                         "output.sample_interval: %.6g s is below the 1 us floor (it would "
                         "write %.6g samples per simulated second, a row per metric each)",
                         sim_time_to_s(iv), 1e12 / (double)iv);
    return 0;
}

int sim_build(sim *s, const scn_doc *doc, const sim_model *const *registry,
              const char *const *extra_keys, sim_err *err)
{
    const scn_node *root = scn_root(doc);
    if (!root || scn_node_kind(root) != SCN_MAP)
        return sim_err_set(err, SIM_ESCENARIO, scn_path(doc), 1, 1,
                           "a scenario must be a mapping (name:, components:, ...)");
    /* The core's keys (sim_scenario_schema), the sections the caller reads,
     * and then `output:` and `cluster:` against their own schemas. */
    const char *allowed[64];
    size_t n = 0;
    for (const sim_skey *k = sim_scenario_schema.keys; k->name && n < 32; k++)
        allowed[n++] = k->name;
    for (size_t i = 0; extra_keys && extra_keys[i] && n < 63; i++)
        allowed[n++] = extra_keys[i];
    allowed[n] = NULL;
    int rc = scn_check_keys(root, allowed, "the scenario", err);
    if (rc)
        return rc;
    if ((rc = sim_schema_check(&sim_output_schema, scn_map_get(root, "output"), "output", NULL,
                               NULL, err)))
        return rc;

    const char *name = NULL;
    if ((rc = scn_get_string(root, "name", NULL, &name, err)))
        return rc;
    if (!name)
        return scn_error(err, root, "the scenario needs a 'name'");
    s->name = sim_strdup(name);
    if (!s->name)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    s->name_owned = 1;
    if ((rc = scn_get_uint(root, "seed", 1, &s->seed, err)))
        return rc;

    const scn_node *stop = scn_map_get(root, "stop");
    s->stop_time = SIM_TIME_MAX;
    if (stop) {
        const char *txt = scn_scalar(stop);
        if (!txt)
            return scn_error(err, stop, "key 'stop': a time (e.g. 10 s) or 'empty'");
        if (strcmp(txt, "empty") != 0 && strcmp(txt, "trace_end") != 0 &&
            (rc = scn_get_time(root, "stop", 0, &s->stop_time, err)))
            return rc;
    }

    const scn_node *out = scn_map_get(root, "output");
    s->sample_interval = 0;
    if (out) {
        if ((rc = scn_get_time(out, "sample_interval", 0, &s->sample_interval, err)))
            return rc;
        if (s->sample_interval && (rc = check_sample_interval(s, out, err)))
            return rc;
    }
    if ((rc = build_list(s, root, "components", registry, err)))
        return rc;
    const scn_node *cl = scn_map_get(root, "cluster");
    if (cl && (rc = cluster_build(s, cl, registry, err)))
        return rc;
    return build_list(s, root, "links", registry, err);
}

/* ---- run loop --------------------------------------------------------- */

int sim_start(sim *s, sim_err *err)
{
    for (size_t i = 0; i < s->ncomps; i++) {
        sim_comp *c = s->comps[i];
        if (c->model->start) {
            int rc = c->model->start(c, err);
            if (rc)
                return rc;
        }
    }
    if (s->sample_interval && evq_size(s->q))
        sim_schedule(s, s->sample_interval, SAMPLER_TARGET, 0, 0, 0);
    s->started = 1;
    return 0;
}

static void run_sampler(sim *s)
{
    for (size_t i = 0; i < s->ncomps; i++)
        if (s->comps[i]->model->sample)
            s->comps[i]->model->sample(s->comps[i], s->now);
    /* Re-arm only while real work is pending. */
    if (evq_size(s->q) && s->now + s->sample_interval <= s->stop_time)
        sim_schedule(s, s->sample_interval, SAMPLER_TARGET, 0, 0, 0);
}

/* "1 min 05 s" */
static void eta_text(char *buf, size_t n, double s)
{
    long long t = s < 0 ? 0 : s > 1e9 ? 1000000000LL : (long long)(s + 0.5);
    if (t < 60)
        snprintf(buf, n, "%lld s", t);
    else if (t < 3600)
        snprintf(buf, n, "%lld min %02lld s", t / 60, t % 60);
    else
        snprintf(buf, n, "%lld h %02lld min", t / 3600, (t % 3600) / 60);
}

static void print_progress(sim *s, int final)
{
    double w = wall_now();
    double el = w - s->progress_start;
    double rate = el > 0 ? (double)s->events / el : 0;
    double frac = -1, done = 0, total = 0;
    int have_work = s->progress_fn && s->progress_fn(s->progress_ctx, &done, &total) &&
                    total > 0;
    if (s->stop_time != SIM_TIME_MAX && s->stop_time > 0)
        frac = (double)s->now / (double)s->stop_time;
    if (have_work && done / total > frac)
        frac = done / total;
    if (frac > 1)
        frac = 1;
    char pct[32] = "", work[96] = "", eta[48] = "", stop[48] = "";
    if (frac >= 0)
        snprintf(pct, sizeof pct, " %5.1f%%", 100.0 * frac);
    if (s->stop_time != SIM_TIME_MAX)
        snprintf(stop, sizeof stop, " of %.4g s", sim_time_to_s(s->stop_time));
    if (have_work)
        snprintf(work, sizeof work, ", %.0f/%.0f %s", done, total,
                 s->progress_unit ? s->progress_unit : "");
    if (final) {
        char t[32];
        eta_text(t, sizeof t, el);
        snprintf(eta, sizeof eta, ", took %s", t);
    } else if (frac > 0 && frac < 1) {
        char t[32];
        eta_text(t, sizeof t, el * (1 - frac) / frac);
        snprintf(eta, sizeof eta, ", ETA %s", t);
    }
    fprintf(stderr, "%s  %s:%s t = %.4g s%s%s, %.3g M events (%.3g M/s)%s%s",
            s->progress == SIM_PROGRESS_TTY ? "\r\033[K" : "", s->name, pct,
            sim_time_to_s(s->now), stop, work, (double)s->events / 1e6, rate / 1e6, eta,
            s->progress == SIM_PROGRESS_TTY && !final ? "" : "\n");
    fflush(stderr);
    s->progress_last = w;
    s->progress_lines++;
}

/* Is a progress line due (called every 4096 events)? */
static int progress_due(sim *s)
{
    if (!s->progress)
        return 0;
    double every = s->progress == SIM_PROGRESS_TTY ? 0.5 : s->progress_every;
    return wall_now() - s->progress_last >= every;
}

int sim_run(sim *s, sim_time until)
{
    sim_event e;
    s->stopping = 0;
    s->progress_start = s->progress_last = wall_now();
    s->progress_lines = 0;
    int rc = 0;
    for (;;) {
        int got = evq_pop_until(s->q, until, &e);
        if (got == 0)
            break;
        if (got < 0) {
            /* Out of memory reordering the pending events: the queue is
             * unchanged, but the run cannot go on. */
            sim_fail(s, got, "cannot take the next event (at %llu ps): %s",
                     (unsigned long long)evq_peek_time(s->q), sim_strerror(got));
            break;
        }
        if (e.target == SAMPLER_TARGET) {
            /* The sampler alone does not keep the simulation going. */
            if (evq_size(s->q) == 0)
                break;
            s->now = e.time;
            run_sampler(s);
            continue;
        }
        s->now = e.time;
        s->events++;
        sim_comp *c = s->comps[e.target];
        c->model->handle(c, &e);
        if (s->stopping)
            break;
        if ((s->events & 4095) == 0) {
            if (interrupted) {
                rc = SIM_EINTR;
                break;
            }
            if (progress_due(s))
                print_progress(s, 0);
            if (s->sink.tick) {
                int trc = s->sink.tick(s->sink.ctx);
                if (trc < 0) {
                    sim_fail(s, trc, "results store: %s", sim_strerror(trc));
                    break;
                }
            }
        }
    }
    if (interrupted)
        rc = SIM_EINTR;
    /* A run that stops at a time ends at that time, not at the last event. */
    if (!rc && !s->stopping && until != SIM_TIME_MAX && evq_size(s->q))
        s->now = until;
    if (s->progress == SIM_PROGRESS_TTY || s->progress == SIM_PROGRESS_LINES ||
        (s->progress == SIM_PROGRESS_LONG && s->progress_lines))
        print_progress(s, 1);
    return rc;
}

int sim_finish(sim *s, sim_err *err)
{
    for (size_t i = 0; i < s->ncomps; i++) {
        sim_comp *c = s->comps[i];
        if (c->model->finish) {
            int rc = c->model->finish(c, err);
            if (rc)
                return rc;
        }
    }
    if (!s->energy_n)
        return 0;
    /* the run's energy: in the workload's scope when one declared its work */
    const char *sc = s->work_scope ? s->work_scope : "run";
    sim_report_metric(s, sc, "energy_total_j", s->energy_total, "J");
    sim_report_metric(s, sc, "energy_data_movement_j", s->energy_data, "J");
    sim_report_metric(s, sc, "energy_compute_j", s->energy_compute, "J");
    if (s->work_requests > 0)
        sim_report_metric(s, sc, "energy_per_request_j", s->energy_total / s->work_requests,
                          "J");
    if (s->work_tokens > 0)
        sim_report_metric(s, sc, "energy_per_output_token_j", s->energy_total / s->work_tokens,
                          "J");
    return 0;
}

int sim_report_energy(sim *s, const char *scope, double data_j, double compute_j)
{
    double e = data_j + compute_j;
    s->energy_n++;
    s->energy_total += e;
    s->energy_data += data_j;
    s->energy_compute += compute_j;
    return sim_report_metric(s, scope, "energy_j", e, "J");
}

void sim_energy_work(sim *s, const char *scope, double requests, double output_tokens)
{
    s->work_scope = scope;
    s->work_requests = requests;
    s->work_tokens = output_tokens;
}

void sim_schedule(sim *s, sim_time delay, uint32_t target, uint32_t kind, uint64_t a0, uint64_t a1)
{
    sim_schedule_at(s, s->now + delay, target, kind, a0, a1);
}

void sim_schedule_at(sim *s, sim_time t, uint32_t target, uint32_t kind, uint64_t a0, uint64_t a1)
{
    sim_event e = {.time = t, .target = target, .kind = kind, .a0 = a0, .a1 = a1};
    int rc = evq_push(s->q, &e);
    if (rc != 0)
        /* Out of memory or time going backwards: a bug or exhaustion that
         * the run cannot survive. Stop rather than lose an event silently. */
        sim_fail(s, rc, "cannot schedule an event for component %u at %llu ps (now %llu ps): %s",
                 target, (unsigned long long)t, (unsigned long long)s->now, sim_strerror(rc));
}

void sim_stop(sim *s) { s->stopping = 1; }

void sim_fail(sim *s, int code, const char *fmt, ...)
{
    s->stopping = 1;
    if (s->fail_code)
        return;
    s->fail_code = code ? code : SIM_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fail_msg, sizeof s->fail_msg, fmt, ap);
    va_end(ap);
}

const char *sim_failure(const sim *s, int *code)
{
    if (code)
        *code = s->fail_code;
    return s->fail_code ? s->fail_msg : NULL;
}
void sim_interrupt(void) { interrupted = 1; }

sim_time sim_now(const sim *s) { return s->now; }
uint64_t sim_events(const sim *s) { return s->events; }
uint64_t sim_seed(const sim *s) { return s->seed; }
void sim_set_seed(sim *s, uint64_t seed) { s->seed = seed; }
sim_time sim_stop_time(const sim *s) { return s->stop_time; }
void sim_set_stop_time(sim *s, sim_time t) { s->stop_time = t; }
sim_time sim_sample_interval(const sim *s) { return s->sample_interval; }
void sim_set_sample_interval(sim *s, sim_time t) { s->sample_interval = t; }
size_t sim_ncomps(const sim *s) { return s->ncomps; }
sim_comp *sim_comp_at(sim *s, uint32_t id) { return id < s->ncomps ? s->comps[id] : NULL; }
const char *sim_name(const sim *s) { return s->name; }
evq *sim_queue(sim *s) { return s->q; }
void sim_set_progress(sim *s, int mode) { s->progress = mode; }

void sim_set_progress_interval(sim *s, double seconds)
{
    s->progress_every = seconds >= 0 ? seconds : 0;
}

void sim_set_progress_source(sim *s, sim_progress_fn fn, void *ctx, const char *unit)
{
    s->progress_fn = fn;
    s->progress_ctx = ctx;
    s->progress_unit = unit;
}

sim_comp *sim_find(sim *s, const char *name)
{
    if (!s->capbyname)
        return NULL;
    size_t i = (size_t)name_hash(name) & (s->capbyname - 1);
    for (; s->byname[i] != UINT32_MAX; i = (i + 1) & (s->capbyname - 1))
        if (strcmp(s->comps[s->byname[i]]->name, name) == 0)
            return s->comps[s->byname[i]];
    return NULL;
}

#define PORT_NONE UINT32_MAX
#define PORT_MANY (UINT32_MAX - 1)

/* The port table: for every component the one link it is an end of, or
 * none, or several; built in one pass over the links (O(components)) the
 * first time it is needed after components were added, so resolving every
 * component's port is linear in the scenario, not quadratic. */
static int port_build(sim *s)
{
    if (s->port && s->nport == s->ncomps)
        return 0;
    uint32_t *p = sim_realloc(s->port, (s->ncomps ? s->ncomps : 1) * sizeof *p);
    if (!p)
        return SIM_ENOMEM;
    s->port = p;
    s->nport = s->ncomps;
    memset(p, 0xff, s->ncomps * sizeof *p);
    for (size_t i = 0; i < s->ncomps; i++) {
        const sim_comp *l = s->comps[i];
        if (!l->model->is_link)
            continue;
        for (int e = 0; e < 2; e++) {
            uint32_t c = l->ends[e];
            if (c >= s->ncomps || (e == 1 && c == l->ends[0]))
                continue;
            p[c] = p[c] == PORT_NONE ? l->id : PORT_MANY;
        }
    }
    return 0;
}

sim_comp *sim_port(sim *s, const sim_comp *c, const char *link, int *side)
{
    sim_comp *l;
    if (link) {
        l = sim_find(s, link);
    } else {
        if (port_build(s))
            return NULL;
        uint32_t id = c->id < s->nport ? s->port[c->id] : PORT_NONE;
        l = id == PORT_NONE || id == PORT_MANY ? NULL : s->comps[id];
    }
    if (!l || !l->model->is_link)
        return NULL;
    int sd = l->ends[0] == c->id ? 0 : l->ends[1] == c->id ? 1 : -1;
    if (sd < 0)
        return NULL;
    if (side)
        *side = sd;
    return l;
}

int sim_send(sim_comp *link, int side, uint64_t bytes, uint64_t tag)
{
    if (!link->model->send)
        return SIM_EINVAL;
    return link->model->send(link, side, bytes, tag);
}

/* ---- results ---------------------------------------------------------- */

void sim_set_sink(sim *s, const sim_sink *sink)
{
    if (sink)
        s->sink = *sink;
    else
        memset(&s->sink, 0, sizeof s->sink);
}

int sim_report_metric(sim *s, const char *scope, const char *name, double value, const char *unit)
{
    return s->sink.metric ? s->sink.metric(s->sink.ctx, scope, name, value, unit) : 0;
}

int sim_report_link(sim *s, const char *link, const char *direction, uint64_t bytes,
                    uint64_t packets, uint64_t busy_ps, double utilization)
{
    return s->sink.link ? s->sink.link(s->sink.ctx, link, direction, bytes, packets, busy_ps,
                                       utilization)
                        : 0;
}

int sim_report_request_pd(sim *s, uint64_t req_id, const char *session, const char *instance,
                          sim_time arrival, sim_time first_token, sim_time finish,
                          uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens,
                          const char *prefill_instance, uint64_t kv_bytes, sim_time kv_wait,
                          sim_time kv_transfer)
{
    if (s->sink.request_pd)
        return s->sink.request_pd(s->sink.ctx, req_id, session, instance, arrival, first_token,
                                  finish, input_tokens, output_tokens, cached_tokens,
                                  prefill_instance, kv_bytes, kv_wait, kv_transfer);
    return sim_report_request(s, req_id, session, instance, arrival, first_token, finish,
                              input_tokens, output_tokens, cached_tokens);
}

int sim_report_link_net(sim *s, const char *link, const char *direction, uint64_t bytes,
                        uint64_t packets, uint64_t busy_ps, double utilization, uint64_t drops,
                        uint64_t pause_ps, uint64_t ecn_marks)
{
    if (s->sink.link_net)
        return s->sink.link_net(s->sink.ctx, link, direction, bytes, packets, busy_ps,
                                utilization, drops, pause_ps, ecn_marks);
    return sim_report_link(s, link, direction, bytes, packets, busy_ps, utilization);
}

const char *sim_series_unit(const sim_model *m, const char *name)
{
    for (const sim_series *se = m ? m->series : NULL; se && se->pattern; se++)
        if (fnmatch(se->pattern, name, 0) == 0)
            return se->unit;
    return NULL;
}

void sim_params_defaults(sim *s, const scn_doc *doc, scn_leaf_fn fn, void *ctx)
{
    size_t n = sim_ncomps(s);
    const scn_node **seen = sim_calloc(n + 1, sizeof *seen);
    size_t nseen = 0;
    if (!seen)
        return;
    for (uint32_t i = 0; i < n; i++) {
        const sim_comp *c = sim_comp_at(s, i);
        if (!c->node || scn_node_kind(c->node) != SCN_MAP || !c->model->params)
            continue;
        size_t k = 0;
        while (k < nseen && seen[k] != c->node)
            k++;
        if (k < nseen)
            continue;
        seen[nseen++] = c->node;
        char path[1024], key[1200];
        if (scn_node_path(doc, c->node, path, sizeof path))
            continue;
        const scn_node *pn = c->model->presets ? scn_map_get(c->node, "preset") : NULL;
        const sim_preset *pr = pn ? sim_preset_find(c->model->presets, scn_scalar(pn)) : NULL;
        for (const sim_param *p = c->model->params; p->name; p++) {
            if (!p->def || scn_map_get(c->node, p->name))
                continue;
            const char *v = p->def;
            for (const char *const *kv = pr ? pr->values : NULL; kv && kv[0] && kv[1]; kv += 2)
                if (strcmp(kv[0], p->name) == 0)
                    v = kv[1]; /* the preset's value is what ran */
            snprintf(key, sizeof key, "%s%s%s", path, path[0] ? "." : "", p->name);
            fn(ctx, key, v);
        }
    }
    sim_free(seen);
}

int sim_report_timeseries(sim *s, const char *scope, const char *name, sim_time t, double value)
{
    return s->sink.timeseries ? s->sink.timeseries(s->sink.ctx, scope, name, t, value) : 0;
}

int sim_report_request(sim *s, uint64_t req_id, const char *session, const char *instance,
                       sim_time arrival, sim_time first_token, sim_time finish,
                       uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens)
{
    return s->sink.request ? s->sink.request(s->sink.ctx, req_id, session, instance, arrival,
                                             first_token, finish, input_tokens, output_tokens,
                                             cached_tokens)
                           : 0;
}

int sim_report_kv(sim *s, const char *instance, const char *tier, uint64_t hits,
                  uint64_t misses, uint64_t evictions, uint64_t bytes_in, uint64_t bytes_out)
{
    return s->sink.kv ? s->sink.kv(s->sink.ctx, instance, tier, hits, misses, evictions,
                                   bytes_in, bytes_out)
                      : 0;
}

int sim_report_coherence(sim *s, const char *directory, const char *message, uint64_t count)
{
    return s->sink.coherence ? s->sink.coherence(s->sink.ctx, directory, message, count) : 0;
}
