/*
 * cluster.c - clusters as data: a node template instantiated N times and a
 * network topology generated from a few parameters, expanded into ordinary
 * components and links when the scenario is built.
 *
 * SYNTAX (a top-level section; sim_build expands it after `components:` and
 * before `links:`, so top-level links and components may name what it makes)
 *
 *   cluster:
 *     nodes: 4                       # instances node0 .. node3 (>= 1)
 *     template:                      # one node, written as a small scenario
 *       components:                  #   entries exactly as under `components:`
 *         - {name: host, type: cpu}
 *         - {name: gpu0, type: gpu}
 *         - {name: nic0, type: pcie_switch}
 *       links:                       #   optional; ends name template components
 *         - {name: pcie0, type: pcie, ends: [host, gpu0]}
 *         - {name: pcie1, type: pcie, ends: [host, nic0]}
 *     network:                       # optional: without it the nodes stay apart
 *       topology: leaf_spine         # single_switch | leaf_spine | rail_optimized
 *       ports: [nic0]                # template components with one network link each
 *       switch: {type: pcie_switch, latency: 300 ns}  # type and params of every switch
 *       link: {type: pcie, gen: 5}                    # type and params of every network link
 *       nodes_per_leaf: 2            # leaf_spine only (>= 1)
 *       spines: 2                    # leaf_spine (>= 1) and rail_optimized (>= 0)
 *       oversubscription: 1          # leaf_spine only: downlinks : uplinks per leaf (> 0)
 *
 * The keys of `cluster:`, `template:` and `network:` are checked (an unknown
 * one is an error with a suggestion), and so is a network key that the
 * chosen topology does not use (`spines` under single_switch). `nodes`,
 * `template.components`, `topology`, `ports`, `switch`, `link` and, where the
 * topology uses them, `nodes_per_leaf` and `spines` are required.
 *
 * NAMES (every generated name is unique or the build fails at the entry
 * that made the second one: "duplicate component name")
 *   node k's template component or link X      nodeK.X        node3.gpu0, node3.pcie0
 *   the switch of single_switch                switch
 *   leaf and spine switches                    leafI, spineJ  (from 0)
 *   a node's port P to switch W                nodeK.P-W      node3.nic0-leaf1
 *   a leaf-to-spine link                       leafI-spineJ   leaf0-spine1
 *   the m-th parallel link (m >= 1) of a pair  ....m          leaf0-spine1.1
 * The first of parallel links carries no suffix, so its name does not change
 * with the oversubscription.
 *
 * WIRING (every network link has the node or leaf as end 0 and the switch
 * above it as end 1)
 *   single_switch   every port of every node to `switch`.
 *   leaf_spine      nodes in blocks of nodes_per_leaf under leaf0, leaf1, ...
 *                   (ceil(nodes / nodes_per_leaf) leaves; the last leaf holds
 *                   the remainder when nodes_per_leaf does not divide nodes);
 *                   every port of a node to its leaf. A leaf with D downlinks
 *                   has U = ceil(D / oversubscription) uplinks; uplink u goes
 *                   to spine (u mod spines), so every leaf reaches spine0 and
 *                   the fabric is connected, and U > spines makes parallel
 *                   links. A partial last leaf has fewer uplinks.
 *   rail_optimized  one leaf per port index: rail r is the r-th entry of
 *                   `ports`, and port r of every node goes to leaf r. Each
 *                   leaf goes to every spine once (cross-rail traffic);
 *                   spines: 0 leaves the rails isolated from each other
 *                   (traffic between rails then crosses a node, if its
 *                   template connects its ports).
 *
 * ORDER (component ids, hence routes' tie-breaks and result rows, are
 * deterministic): node0's template components then its template links, in
 * template order; node1's; ...; then the switches (switch, or leaves then
 * spines); then the node-to-switch links (node-major, then `ports` order);
 * then the leaf-to-spine links (leaf-major, then uplink order).
 *
 * PARAMETERS AND ERRORS: a generated component or link is created from the
 * YAML entry it comes from (a template entry, or the network's `switch:` or
 * `link:` mapping) by sim_add_entry, so its parameters, unknown keys and the
 * model's own checks report at that entry's file:line:col. `switch:` and
 * `link:` take `type` and the model's parameters, not `name` or `ends`. The
 * types are whatever the registry holds: PCIe today, Ethernet links and
 * network switches when they are registered.
 *
 * COST: the template is resolved once (names to template indices; the only
 * quadratic step is the duplicate check inside one template); the expansion
 * then creates each component with index arithmetic and the simulator's
 * hashed name lookup, linear in what it creates.
 *
 * LIMITS: one cluster per scenario; the node prefix is always "node"; at
 * most CLUSTER_MAX_NODES nodes and CLUSTER_MAX_UPLINKS uplinks per leaf;
 * template links join template components only (a top-level `links:` entry
 * may join a generated component to anything).
 */
#include "cluster.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "schema.h"

#define CLUSTER_MAX_NODES 65536
#define CLUSTER_MAX_UPLINKS 4096
#define NAME_CAP 512

enum { TOPO_SINGLE, TOPO_LEAF_SPINE, TOPO_RAIL, TOPO_N };

static const char *const topo_names[] = {"single_switch", "leaf_spine", "rail_optimized", NULL};

/* The network keys, and which topologies use each (bit per TOPO_*). The
 * keys themselves are declared in sim_cluster_schema below. */
#define ALL_TOPOS ((1u << TOPO_SINGLE) | (1u << TOPO_LEAF_SPINE) | (1u << TOPO_RAIL))
static const struct {
    const char *key;
    unsigned topos;
} net_keys[] = {
    {"topology", ALL_TOPOS},
    {"ports", ALL_TOPOS},
    {"switch", ALL_TOPOS},
    {"link", ALL_TOPOS},
    {"nodes_per_leaf", 1u << TOPO_LEAF_SPINE},
    {"spines", (1u << TOPO_LEAF_SPINE) | (1u << TOPO_RAIL)},
    {"oversubscription", 1u << TOPO_LEAF_SPINE},
};
#define N_NET_KEYS (sizeof net_keys / sizeof net_keys[0])

/* The keys of `cluster:` (sim/schema.h). */
static const sim_skey template_keys[] = {
    {"components", SIM_S_OPEN, "list", NULL, "", "one node's components, as under components:",
     NULL},
    {"links", SIM_S_OPEN, "list", NULL, "", "one node's links; ends name template components",
     NULL},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};
static const sim_schema template_schema = {"cluster.template", template_keys, NULL, NULL, NULL,
                                           NULL, NULL};
static const sim_skey network_keys[] = {
    {"topology", SIM_S_VALUE, "single_switch|leaf_spine|rail_optimized", NULL, "",
     "how the nodes are connected", NULL},
    {"ports", SIM_S_VALUE, "list", NULL, "", "template components with one network link each",
     NULL},
    {"switch", SIM_S_OPEN, "entry", NULL, "", "type and parameters of every switch", NULL},
    {"link", SIM_S_OPEN, "entry", NULL, "", "type and parameters of every network link", NULL},
    {"nodes_per_leaf", SIM_S_VALUE, "uint", NULL, "", "leaf_spine: nodes under each leaf", NULL},
    {"spines", SIM_S_VALUE, "uint", NULL, "", "leaf_spine, rail_optimized: spine switches", NULL},
    {"oversubscription", SIM_S_VALUE, "real", "1", "",
     "leaf_spine: downlinks : uplinks per leaf", NULL},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};
static const sim_schema network_schema = {"cluster.network", network_keys, NULL, NULL, NULL,
                                          NULL, NULL};
static const sim_skey cluster_keys[] = {
    {"nodes", SIM_S_VALUE, "uint", NULL, "", "template instances node0 .. nodeN-1", NULL},
    {"template", SIM_S_MAP, "section", NULL, "", "one node, written as a small scenario",
     &template_schema},
    {"network", SIM_S_MAP, "section", NULL, "", "a generated network (optional)",
     &network_schema},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};
const sim_schema sim_cluster_schema = {"cluster", cluster_keys, NULL, NULL, NULL, NULL, NULL};

/* One expansion: the parsed section and the ids it has created. */
typedef struct expand {
    /* configuration (parsed, fixed before anything is created) */
    sim *s;                            /* the simulator being built */
    const sim_model *const *registry;  /* model types by name */
    uint32_t nodes;                    /* template instances */
    const scn_node *tcomps;            /* template.components (a sequence) */
    const scn_node *tlinks;            /* template.links (a sequence) or NULL */
    size_t ncomp, nlink;               /* their lengths */
    const char **cname;                /* template component names, template order */
    const char **lname;                /* template link names */
    uint32_t (*lend)[2];               /* template link ends, as template component indices */
    const scn_node *net;               /* network mapping, or NULL */
    int topo;                          /* TOPO_* */
    size_t nports;                     /* entries of `ports` */
    uint32_t *port;                    /* template component index of each port */
    const scn_node *sw, *ln;           /* `switch:` and `link:` mappings */
    uint64_t per_leaf;                 /* leaf_spine: nodes under each leaf */
    uint64_t spines;                   /* spine switches */
    double ratio;                      /* leaf_spine: downlinks : uplinks */
    /* state */
    uint32_t *ids;                     /* nodes x ncomp generated component ids */
    uint32_t nleaves;                  /* leaves created (or 1: the single switch) */
    uint32_t leaf0, spine0;            /* id of the first leaf (or switch), first spine */
    char name[NAME_CAP];               /* the name being generated */
} expand;

static int fail_code(const sim_err *err)
{
    return err && err->code ? err->code : SIM_EINVAL;
}

/* An error about a key: at the key's value when present, else at the map. */
static const scn_node *at(const scn_node *map, const char *key)
{
    const scn_node *v = scn_map_get(map, key);
    return v ? v : map;
}

/* printf into x->name; an error at `where` when the name does not fit. */
static int make_name(expand *x, const scn_node *where, sim_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int make_name(expand *x, const scn_node *where, sim_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(x->name, sizeof x->name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof x->name)
        return scn_error(err, where, "cluster: generated name '%.40s...' is longer than %d"
                         " characters", x->name, NAME_CAP - 1);
    return 0;
}

/* The template index of component `nm`, or -1 with an error at `where`
 * suggesting the closest template component. */
static long template_index(const expand *x, const char *nm, const scn_node *where,
                           const char *what, sim_err *err)
{
    for (size_t i = 0; nm && i < x->ncomp; i++)
        if (strcmp(x->cname[i], nm) == 0)
            return (long)i;
    /* cname is not NULL-terminated; suggest from a terminated copy. */
    const char **cand = sim_calloc(x->ncomp + 1, sizeof *cand);
    const char *sug = NULL;
    if (cand && nm) {
        memcpy(cand, x->cname, x->ncomp * sizeof *cand);
        sug = scn_suggest(nm, cand);
    }
    scn_error(err, where, "%s: no template component named '%s'%s%s%s", what, nm ? nm : "?",
              sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
    sim_free(cand);
    return -1;
}

/* An integer key >= lo (and <= hi); `def` when absent, or an error at the
 * section when required (def < 0). */
static int get_count(const scn_node *map, const char *key, int64_t def, int64_t lo, int64_t hi,
                     const char *context, uint64_t *out, sim_err *err)
{
    const scn_node *v = scn_map_get(map, key);
    if (!v && def < 0)
        return scn_error(err, map, "%s needs '%s' (an integer >= %lld)", context, key,
                         (long long)lo);
    int64_t n = 0;
    int rc = scn_get_int(map, key, def, &n, err);
    if (rc)
        return rc;
    if (n < lo || n > hi)
        return scn_error(err, v, "key '%s': %lld is out of range (%lld to %lld)", key,
                         (long long)n, (long long)lo, (long long)hi);
    *out = (uint64_t)n;
    return 0;
}

/* ---- parsing ----------------------------------------------------------- */

static int parse_template(expand *x, const scn_node *cl, sim_err *err)
{
    const scn_node *t = scn_map_get(cl, "template");
    if (!t)
        return scn_error(err, cl, "cluster needs a 'template' (components: and links: of one"
                         " node)");
    int rc;
    x->tcomps = scn_map_get(t, "components");
    if (!x->tcomps || scn_node_kind(x->tcomps) != SCN_SEQ || scn_len(x->tcomps) == 0)
        return scn_error(err, at(t, "components"),
                         "cluster.template needs 'components', a non-empty list");
    x->tlinks = scn_map_get(t, "links");
    if (x->tlinks && scn_node_kind(x->tlinks) != SCN_SEQ)
        return scn_error(err, x->tlinks, "cluster.template 'links' must be a list");
    x->ncomp = scn_len(x->tcomps);
    x->nlink = x->tlinks ? scn_len(x->tlinks) : 0;
    x->cname = sim_calloc(x->ncomp, sizeof *x->cname);
    x->lname = sim_calloc(x->nlink ? x->nlink : 1, sizeof *x->lname);
    x->lend = sim_calloc(x->nlink ? x->nlink : 1, sizeof *x->lend);
    if (!x->cname || !x->lname || !x->lend)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");

    for (size_t i = 0; i < x->ncomp; i++) {
        const scn_node *e = scn_seq_at(x->tcomps, i);
        if (scn_node_kind(e) != SCN_MAP)
            return scn_error(err, e, "each template component must be a mapping with 'name'"
                             " and 'type'");
        if ((rc = scn_get_string(e, "name", NULL, &x->cname[i], err)))
            return rc;
        if (!x->cname[i] || !x->cname[i][0])
            return scn_error(err, e, "template component without 'name'");
        for (size_t j = 0; j < i; j++)
            if (strcmp(x->cname[j], x->cname[i]) == 0)
                return scn_error(err, scn_map_get(e, "name"),
                                 "duplicate template component name '%s'", x->cname[i]);
    }
    for (size_t i = 0; i < x->nlink; i++) {
        const scn_node *e = scn_seq_at(x->tlinks, i);
        if (scn_node_kind(e) != SCN_MAP)
            return scn_error(err, e, "each template link must be a mapping with 'name', 'type'"
                             " and 'ends'");
        if ((rc = scn_get_string(e, "name", NULL, &x->lname[i], err)))
            return rc;
        if (!x->lname[i] || !x->lname[i][0])
            return scn_error(err, e, "template link without 'name'");
        const scn_node *ends = scn_map_get(e, "ends");
        if (!ends || scn_node_kind(ends) != SCN_SEQ || scn_len(ends) != 2)
            return scn_error(err, ends ? ends : e,
                             "template link '%s' needs 'ends: [A, B]' naming two template"
                             " components", x->lname[i]);
        char what[300];
        snprintf(what, sizeof what, "template link '%s'", x->lname[i]);
        for (size_t k = 0; k < 2; k++) {
            const scn_node *en = scn_seq_at(ends, k);
            long idx = template_index(x, scn_scalar(en), en, what, err);
            if (idx < 0)
                return SIM_ESCENARIO;
            x->lend[i][k] = (uint32_t)idx;
        }
    }
    return 0;
}

/* A `switch:` or `link:` mapping: a type is required; the rest is checked
 * against the model when the first instance is created. */
static int parse_proto(const scn_node *net, const char *key, const char *example,
                       const scn_node **out, sim_err *err)
{
    const scn_node *m = scn_map_get(net, key);
    if (!m)
        return scn_error(err, net, "cluster.network needs '%s' (its type and parameters, e.g."
                         " {type: %s})", key, example);
    if (scn_node_kind(m) != SCN_MAP)
        return scn_error(err, m, "cluster.network '%s' must be a mapping, e.g. {type: %s}", key,
                         example);
    if (!scn_map_get(m, "type"))
        return scn_error(err, m, "cluster.network '%s' needs a 'type' (e.g. %s)", key, example);
    *out = m;
    return 0;
}

static int parse_network(expand *x, sim_err *err)
{
    const scn_node *net = x->net;
    int rc;
    if (!scn_map_get(net, "topology"))
        return scn_error(err, net, "cluster.network needs a 'topology' (single_switch,"
                         " leaf_spine, rail_optimized)");
    if ((rc = scn_get_enum(net, "topology", topo_names, 0, &x->topo, err)))
        return rc;
    /* A key the topology does not use is a mistake, not a no-op. */
    for (size_t i = 0; i < N_NET_KEYS; i++) {
        const char *k = net_keys[i].key;
        if (!(net_keys[i].topos & (1u << x->topo)) && scn_map_get(net, k)) {
            for (size_t j = 0; j < scn_len(net); j++)
                if (strcmp(scn_map_key(net, j), k) == 0)
                    return scn_error(err, scn_map_key_node(net, j),
                                     "key '%s' does not apply to topology %s", k,
                                     topo_names[x->topo]);
        }
    }

    const scn_node *ports = scn_map_get(net, "ports");
    if (!ports)
        return scn_error(err, net, "cluster.network needs 'ports' (the template components"
                         " with a network link, e.g. [nic0])");
    if (scn_node_kind(ports) != SCN_SEQ || scn_len(ports) == 0)
        return scn_error(err, ports, "cluster.network 'ports' must be a non-empty list of"
                         " template components");
    x->nports = scn_len(ports);
    x->port = sim_calloc(x->nports, sizeof *x->port);
    if (!x->port)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t r = 0; r < x->nports; r++) {
        const scn_node *p = scn_seq_at(ports, r);
        long idx = template_index(x, scn_scalar(p), p, "cluster.network port", err);
        if (idx < 0)
            return SIM_ESCENARIO;
        for (size_t q = 0; q < r; q++)
            if (x->port[q] == (uint32_t)idx)
                return scn_error(err, p, "cluster.network port '%s' is listed twice",
                                 x->cname[idx]);
        x->port[r] = (uint32_t)idx;
    }
    if ((rc = parse_proto(net, "switch", "pcie_switch", &x->sw, err)) ||
        (rc = parse_proto(net, "link", "pcie", &x->ln, err)))
        return rc;

    x->ratio = 1;
    if (x->topo == TOPO_LEAF_SPINE) {
        if ((rc = get_count(net, "nodes_per_leaf", -1, 1, CLUSTER_MAX_NODES,
                            "cluster.network (leaf_spine)", &x->per_leaf, err)) ||
            (rc = get_count(net, "spines", -1, 1, CLUSTER_MAX_NODES,
                            "cluster.network (leaf_spine)", &x->spines, err)) ||
            (rc = scn_get_double(net, "oversubscription", 1, &x->ratio, err)))
            return rc;
        if (!(x->ratio > 0) || !isfinite(x->ratio))
            return scn_error(err, at(net, "oversubscription"),
                             "key 'oversubscription': must be a positive number (downlinks :"
                             " uplinks of a leaf)");
        /* The largest leaf decides whether the uplinks stay within bounds. */
        double down = (double)(x->per_leaf < x->nodes ? x->per_leaf : x->nodes) *
                      (double)x->nports;
        if (ceil(down / x->ratio) > CLUSTER_MAX_UPLINKS)
            return scn_error(err, at(net, "oversubscription"),
                             "key 'oversubscription': %.0f downlinks per leaf would need more"
                             " than %d uplinks", down, CLUSTER_MAX_UPLINKS);
    } else if (x->topo == TOPO_RAIL) {
        if ((rc = get_count(net, "spines", -1, 0, CLUSTER_MAX_NODES,
                            "cluster.network (rail_optimized)", &x->spines, err)))
            return rc;
    }
    return 0;
}

/* ---- generation -------------------------------------------------------- */

static int make_nodes(expand *x, sim_err *err)
{
    for (uint32_t k = 0; k < x->nodes; k++) {
        uint32_t *ids = x->ids + (size_t)k * x->ncomp;
        for (size_t i = 0; i < x->ncomp; i++) {
            const scn_node *e = scn_seq_at(x->tcomps, i);
            if (make_name(x, e, err, "node%u.%s", k, x->cname[i]))
                return SIM_ESCENARIO;
            sim_comp *c = sim_add_entry(x->s, e, x->registry, x->name, NULL, SIM_ENTRY_NAME, err);
            if (!c)
                return fail_code(err);
            ids[i] = c->id;
        }
        for (size_t i = 0; i < x->nlink; i++) {
            const scn_node *e = scn_seq_at(x->tlinks, i);
            if (make_name(x, e, err, "node%u.%s", k, x->lname[i]))
                return SIM_ESCENARIO;
            uint32_t ends[2] = {ids[x->lend[i][0]], ids[x->lend[i][1]]};
            if (!sim_add_entry(x->s, e, x->registry, x->name, ends,
                               SIM_ENTRY_NAME | SIM_ENTRY_ENDS, err))
                return fail_code(err);
        }
    }
    return 0;
}

/* Switches: `switch`, or leaf0.. then spine0..; ids are consecutive. */
static int make_switches(expand *x, sim_err *err)
{
    uint64_t nspines = 0;
    if (x->topo == TOPO_SINGLE)
        x->nleaves = 1;
    else if (x->topo == TOPO_LEAF_SPINE)
        x->nleaves = (uint32_t)((x->nodes + x->per_leaf - 1) / x->per_leaf);
    else
        x->nleaves = (uint32_t)x->nports;
    if (x->topo != TOPO_SINGLE)
        nspines = x->spines;
    for (uint64_t i = 0; i < x->nleaves + nspines; i++) {
        int rc = x->topo == TOPO_SINGLE ? make_name(x, x->sw, err, "switch")
                 : i < x->nleaves ? make_name(x, x->sw, err, "leaf%llu", (unsigned long long)i)
                                  : make_name(x, x->sw, err, "spine%llu",
                                              (unsigned long long)(i - x->nleaves));
        if (rc)
            return rc;
        sim_comp *c = sim_add_entry(x->s, x->sw, x->registry, x->name, NULL, 0, err);
        if (!c)
            return fail_code(err);
        if (i == 0)
            x->leaf0 = c->id;
        if (i == x->nleaves)
            x->spine0 = c->id;
    }
    return 0;
}

static int add_net_link(expand *x, uint32_t a, uint32_t b, sim_err *err)
{
    uint32_t ends[2] = {a, b};
    return sim_add_entry(x->s, x->ln, x->registry, x->name, ends, 0, err) ? 0 : fail_code(err);
}

static int make_links(expand *x, sim_err *err)
{
    sim *s = x->s;
    /* Node ports to their switch. */
    for (uint32_t k = 0; k < x->nodes; k++)
        for (size_t r = 0; r < x->nports; r++) {
            uint32_t leaf = x->topo == TOPO_SINGLE       ? 0
                            : x->topo == TOPO_LEAF_SPINE ? (uint32_t)(k / x->per_leaf)
                                                         : (uint32_t)r;
            uint32_t w = x->leaf0 + leaf;
            if (make_name(x, x->ln, err, "node%u.%s-%s", k, x->cname[x->port[r]],
                          sim_comp_at(s, w)->name))
                return SIM_ESCENARIO;
            int rc = add_net_link(x, x->ids[(size_t)k * x->ncomp + x->port[r]], w, err);
            if (rc)
                return rc;
        }
    /* Leaves to spines. */
    for (uint32_t l = 0; x->topo != TOPO_SINGLE && l < x->nleaves; l++) {
        uint64_t up = x->spines;
        if (x->topo == TOPO_LEAF_SPINE) {
            uint64_t first = (uint64_t)l * x->per_leaf;
            uint64_t under = x->nodes - first < x->per_leaf ? x->nodes - first : x->per_leaf;
            double down = (double)(under * x->nports);
            /* ceil, forgiving the rounding of a ratio like 4/3 written as 1.3333333333 */
            up = (uint64_t)ceil(down / x->ratio - 1e-9);
            if (up < 1)
                up = 1;
        }
        for (uint64_t u = 0; u < up; u++) {
            uint64_t sp = u % x->spines, par = u / x->spines;
            uint32_t w = x->spine0 + (uint32_t)sp;
            int rc = par ? make_name(x, x->ln, err, "leaf%u-%s.%llu", l, sim_comp_at(s, w)->name,
                                     (unsigned long long)par)
                         : make_name(x, x->ln, err, "leaf%u-%s", l, sim_comp_at(s, w)->name);
            if (rc || (rc = add_net_link(x, x->leaf0 + l, w, err)))
                return rc;
        }
    }
    return 0;
}

int cluster_build(sim *s, const scn_node *node, const sim_model *const *registry, sim_err *err)
{
    /* Every key of the section, template and network (sim_cluster_schema). */
    int rc = sim_schema_check(&sim_cluster_schema, node, "cluster", NULL, NULL, err);
    if (rc)
        return rc;
    expand x = {.s = s, .registry = registry};
    uint64_t nodes = 0;
    if ((rc = get_count(node, "nodes", -1, 1, CLUSTER_MAX_NODES, "cluster", &nodes, err)))
        return rc;
    x.nodes = (uint32_t)nodes;
    if ((rc = parse_template(&x, node, err)))
        goto out;
    x.net = scn_map_get(node, "network");
    if (x.net && (rc = parse_network(&x, err)))
        goto out;
    x.ids = sim_calloc((size_t)x.nodes * x.ncomp, sizeof *x.ids);
    if (!x.ids) {
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory expanding the cluster");
        goto out;
    }
    if ((rc = make_nodes(&x, err)))
        goto out;
    if (x.net && ((rc = make_switches(&x, err)) || (rc = make_links(&x, err))))
        goto out;
out:
    sim_free(x.cname);
    sim_free(x.lname);
    sim_free(x.lend);
    sim_free(x.port);
    sim_free(x.ids);
    return rc;
}
