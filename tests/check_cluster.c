/*
 * check_cluster.c - clusters as data (sim/cluster.c): names, counts and
 * wiring of each generated topology, routes across them, scale, overrides,
 * and every scenario error at its file:line:col.
 *
 * Expected lists are written out by hand from the rules in cluster.c's head
 * comment (node-major, template order; switches; node links; leaf links),
 * so a change in naming or order shows up here as a diff of two strings.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "models/fabric/fabric.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"

static scn_doc *doc;
static sim *s;
static sim_err err;
static capture cap;

static void setup(void)
{
    doc = NULL;
    s = NULL;
    sim_err_clear(&err);
}

static void teardown(void)
{
    sim_destroy(s);
    scn_free(doc);
    s = NULL;
    doc = NULL;
}

/* Load text (plus overrides, NULL-terminated) and build it; the build's code. */
static int build_set(const char *text, const char *const *sets)
{
    doc = capture_load("t.yaml", text, sets, &err);
    s = sim_create();
    ck_assert_ptr_nonnull(s);
    capture_attach(&cap, s);
    return sim_build(s, doc, memfab_models, NULL, &err);
}

static void build_ok(const char *text)
{
    int rc = build_set(text, NULL);
    ck_assert_msg(rc == 0, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
}

/* Every component name in id order, links as name(a,b), space-separated.
 * The caller frees the string. */
static char *listing(sim *sm)
{
    size_t cap_ = 1024, len = 0;
    char *out = malloc(cap_);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    for (uint32_t i = 0; i < sim_ncomps(sm); i++) {
        sim_comp *c = sim_comp_at(sm, i);
        char item[600];
        if (c->model->is_link)
            snprintf(item, sizeof item, "%s%s(%s,%s)", len ? " " : "", c->name,
                     sim_comp_at(sm, c->ends[0])->name, sim_comp_at(sm, c->ends[1])->name);
        else
            snprintf(item, sizeof item, "%s%s", len ? " " : "", c->name);
        size_t n = strlen(item);
        if (len + n + 1 > cap_) {
            cap_ = 2 * (len + n + 1);
            out = realloc(out, cap_);
            ck_assert_ptr_nonnull(out);
        }
        memcpy(out + len, item, n + 1);
        len += n;
    }
    return out;
}

static void assert_listing(const char *want)
{
    char *got = listing(s);
    ck_assert_msg(strcmp(got, want) == 0, "\n got: %s\nwant: %s", got, want);
    free(got);
}

/* Links of the route between two named components (after sim_start). */
static uint32_t route_len(const char *a, const char *b)
{
    uint32_t links[64], n = 0;
    sim_comp *ca = sim_find(s, a), *cb = sim_find(s, b);
    ck_assert_msg(ca && cb, "no %s or %s", a, b);
    ck_assert_msg(fabric_route(s, ca->id, cb->id, links, 64, &n) == 0, "no route %s -> %s", a, b);
    return n;
}

static void start_ok(void)
{
    ck_assert_msg(sim_start(s, &err) == 0, "%s:%d:%d: %s", err.file, err.line, err.col,
                  err.msg);
}

/* ---- Core ---------------------------------------------------------------- */

START_TEST(single_switch_names)
{
    build_ok("name: t\n"
             "cluster:\n"
             "  nodes: 3\n"
             "  template:\n"
             "    components:\n"
             "      - {name: host, type: cpu}\n"
             "      - {name: gpu0, type: gpu}\n"
             "    links:\n"
             "      - {name: pcie0, type: pcie, ends: [host, gpu0]}\n"
             "  network:\n"
             "    topology: single_switch\n"
             "    ports: [host]\n"
             "    switch: {type: pcie_switch}\n"
             "    link: {type: pcie, gen: 5}\n");
    assert_listing("node0.host node0.gpu0 node0.pcie0(node0.host,node0.gpu0) "
                   "node1.host node1.gpu0 node1.pcie0(node1.host,node1.gpu0) "
                   "node2.host node2.gpu0 node2.pcie0(node2.host,node2.gpu0) "
                   "switch "
                   "node0.host-switch(node0.host,switch) node1.host-switch(node1.host,switch) "
                   "node2.host-switch(node2.host,switch)");
}
END_TEST

/* Four nodes, two ports each, two nodes per leaf, two spines, 2:1: each
 * leaf has 4 downlinks and ceil(4 / 2) = 2 uplinks, one to each spine. */
static const char leaf_spine_text[] =
    "name: t\n"
    "cluster:\n"
    "  nodes: 4\n"
    "  template:\n"
    "    components:\n"
    "      - {name: host, type: cpu}\n"
    "      - {name: nic0, type: pcie_switch}\n"
    "      - {name: nic1, type: pcie_switch}\n"
    "    links:\n"
    "      - {name: p0, type: pcie, ends: [host, nic0]}\n"
    "      - {name: p1, type: pcie, ends: [host, nic1]}\n"
    "  network:\n"
    "    topology: leaf_spine\n"
    "    ports: [nic0, nic1]\n"
    "    switch: {type: pcie_switch, latency: 300 ns}\n"
    "    link: {type: pcie, gen: 5}\n"
    "    nodes_per_leaf: 2\n"
    "    spines: 2\n"
    "    oversubscription: 2\n";

START_TEST(leaf_spine_exact)
{
    build_ok(leaf_spine_text);
    assert_listing(
        "node0.host node0.nic0 node0.nic1 node0.p0(node0.host,node0.nic0) "
        "node0.p1(node0.host,node0.nic1) "
        "node1.host node1.nic0 node1.nic1 node1.p0(node1.host,node1.nic0) "
        "node1.p1(node1.host,node1.nic1) "
        "node2.host node2.nic0 node2.nic1 node2.p0(node2.host,node2.nic0) "
        "node2.p1(node2.host,node2.nic1) "
        "node3.host node3.nic0 node3.nic1 node3.p0(node3.host,node3.nic0) "
        "node3.p1(node3.host,node3.nic1) "
        "leaf0 leaf1 spine0 spine1 "
        "node0.nic0-leaf0(node0.nic0,leaf0) node0.nic1-leaf0(node0.nic1,leaf0) "
        "node1.nic0-leaf0(node1.nic0,leaf0) node1.nic1-leaf0(node1.nic1,leaf0) "
        "node2.nic0-leaf1(node2.nic0,leaf1) node2.nic1-leaf1(node2.nic1,leaf1) "
        "node3.nic0-leaf1(node3.nic0,leaf1) node3.nic1-leaf1(node3.nic1,leaf1) "
        "leaf0-spine0(leaf0,spine0) leaf0-spine1(leaf0,spine1) "
        "leaf1-spine0(leaf1,spine0) leaf1-spine1(leaf1,spine1)");
}
END_TEST

/* 1:1 makes 4 uplinks over 2 spines: parallel pairs, the second `.1`. */
START_TEST(leaf_spine_parallel_uplinks)
{
    static const char *const sets[] = {"cluster.network.oversubscription=1", NULL};
    ck_assert_int_eq(build_set(leaf_spine_text, sets), 0);
    char *got = listing(s);
    const char *tail = "leaf0-spine0(leaf0,spine0) leaf0-spine1(leaf0,spine1) "
                       "leaf0-spine0.1(leaf0,spine0) leaf0-spine1.1(leaf0,spine1) "
                       "leaf1-spine0(leaf1,spine0) leaf1-spine1(leaf1,spine1) "
                       "leaf1-spine0.1(leaf1,spine0) leaf1-spine1.1(leaf1,spine1)";
    size_t lg = strlen(got), lt = strlen(tail);
    ck_assert_msg(lg > lt && strcmp(got + lg - lt, tail) == 0, "got: %s", got);
    free(got);
    ck_assert_uint_eq(sim_ncomps(s), 20 + 4 + 8 + 8);
}
END_TEST

START_TEST(rail_optimized_names)
{
    static const char *const sets[] = {"cluster.network.topology=rail_optimized",
                                       "cluster.network.spines=1", NULL};
    /* rail_optimized takes no nodes_per_leaf or oversubscription: drop them */
    char text[2048];
    snprintf(text, sizeof text, "%.*s", (int)(strstr(leaf_spine_text, "    nodes_per_leaf") -
                                              leaf_spine_text),
             leaf_spine_text);
    strcat(text, "    spines: 0\n");
    ck_assert_msg(build_set(text, sets) == 0, "%s", err.msg);
    char *got = listing(s);
    const char *tail =
        "leaf0 leaf1 spine0 "
        "node0.nic0-leaf0(node0.nic0,leaf0) node0.nic1-leaf1(node0.nic1,leaf1) "
        "node1.nic0-leaf0(node1.nic0,leaf0) node1.nic1-leaf1(node1.nic1,leaf1) "
        "node2.nic0-leaf0(node2.nic0,leaf0) node2.nic1-leaf1(node2.nic1,leaf1) "
        "node3.nic0-leaf0(node3.nic0,leaf0) node3.nic1-leaf1(node3.nic1,leaf1) "
        "leaf0-spine0(leaf0,spine0) leaf1-spine0(leaf1,spine0)";
    size_t lg = strlen(got), lt = strlen(tail);
    ck_assert_msg(lg > lt && strcmp(got + lg - lt, tail) == 0, "got: %s", got);
    free(got);
}
END_TEST

/* A template whose port is the host (a cpu forwards): gpu0-host-net-host-gpu0. */
static const char route_text[] =
    "name: t\n"
    "cluster:\n"
    "  nodes: 4\n"
    "  template:\n"
    "    components:\n"
    "      - {name: host, type: cpu}\n"
    "      - {name: gpu0, type: gpu}\n"
    "    links:\n"
    "      - {name: pcie0, type: pcie, ends: [host, gpu0]}\n"
    "  network:\n"
    "    topology: single_switch\n"
    "    ports: [host]\n"
    "    switch: {type: pcie_switch}\n"
    "    link: {type: pcie}\n";

START_TEST(routes_single_switch)
{
    build_ok(route_text);
    start_ok();
    /* pcie0, host-switch, switch-host, pcie0 */
    ck_assert_uint_eq(route_len("node0.gpu0", "node3.gpu0"), 4);
    ck_assert_uint_eq(route_len("node0.gpu0", "node0.host"), 1);
}
END_TEST

START_TEST(routes_leaf_spine)
{
    static const char *const sets[] = {
        "cluster.network={topology: leaf_spine, ports: [host], switch: {type: pcie_switch},"
        " link: {type: pcie}, nodes_per_leaf: 2, spines: 2}",
        NULL};
    ck_assert_msg(build_set(route_text, sets) == 0, "%s", err.msg);
    start_ok();
    /* same leaf: gpu-host-leaf-host-gpu; across: up to a spine and down */
    ck_assert_uint_eq(route_len("node0.gpu0", "node1.gpu0"), 4);
    ck_assert_uint_eq(route_len("node0.gpu0", "node3.gpu0"), 6);
    uint32_t links[8], n = 0;
    fabric_route(s, sim_find(s, "node0.gpu0")->id, sim_find(s, "node3.gpu0")->id, links, 8, &n);
    /* the earliest spine wins the tie */
    ck_assert_str_eq(sim_comp_at(s, links[2])->name, "leaf0-spine0");
    ck_assert_str_eq(sim_comp_at(s, links[3])->name, "leaf1-spine0");
}
END_TEST

/* Rails: gpuR hangs off nicR; same rail: 4 links through the rail's leaf;
 * across rails with spines: 6; with spines: 0 still 6, through a host. */
static const char rail_text[] =
    "name: t\n"
    "cluster:\n"
    "  nodes: 4\n"
    "  template:\n"
    "    components:\n"
    "      - {name: host, type: cpu}\n"
    "      - {name: nic0, type: pcie_switch}\n"
    "      - {name: nic1, type: pcie_switch}\n"
    "      - {name: gpu0, type: gpu}\n"
    "      - {name: gpu1, type: gpu}\n"
    "    links:\n"
    "      - {name: h0, type: pcie, ends: [host, nic0]}\n"
    "      - {name: h1, type: pcie, ends: [host, nic1]}\n"
    "      - {name: g0, type: pcie, ends: [nic0, gpu0]}\n"
    "      - {name: g1, type: pcie, ends: [nic1, gpu1]}\n"
    "  network:\n"
    "    topology: rail_optimized\n"
    "    ports: [nic0, nic1]\n"
    "    switch: {type: pcie_switch}\n"
    "    link: {type: pcie}\n"
    "    spines: 1\n";

START_TEST(routes_rail_optimized)
{
    build_ok(rail_text);
    start_ok();
    ck_assert_uint_eq(route_len("node0.gpu0", "node3.gpu0"), 4);
    ck_assert_uint_eq(route_len("node0.gpu1", "node3.gpu1"), 4);
    ck_assert_uint_eq(route_len("node0.gpu0", "node3.gpu1"), 6);
    uint32_t links[8], n = 0;
    fabric_route(s, sim_find(s, "node0.gpu0")->id, sim_find(s, "node3.gpu0")->id, links, 8, &n);
    ck_assert_str_eq(sim_comp_at(s, links[1])->name, "node0.nic0-leaf0");
    ck_assert_str_eq(sim_comp_at(s, links[2])->name, "node3.nic0-leaf0");
}
END_TEST

START_TEST(rails_isolated_without_spines)
{
    static const char *const sets[] = {"cluster.network.spines=0", NULL};
    ck_assert_msg(build_set(rail_text, sets) == 0, "%s", err.msg);
    ck_assert_ptr_null(sim_find(s, "spine0"));
    ck_assert_ptr_null(sim_find(s, "leaf0-spine0"));
    start_ok();
    /* no spine: the only way between rails is through a node's host */
    uint32_t links[8], n = 0;
    ck_assert_int_eq(fabric_route(s, sim_find(s, "node0.gpu0")->id,
                                  sim_find(s, "node3.gpu1")->id, links, 8, &n), 0);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(sim_comp_at(s, links[1])->name, "node0.h0");
}
END_TEST

/* Generated components take their parameters from the template entry,
 * keep it as their node (errors point there), and top-level links may name
 * them; top-level components come first. */
START_TEST(params_marks_and_top_level_links)
{
    build_ok("name: t\n"
             "components:\n"
             "  - {name: store, type: nvme}\n"
             "cluster:\n"
             "  nodes: 2\n"
             "  template:\n"
             "    components:\n"
             "      - {name: host, type: cpu}\n"
             "      - {name: gpu0, type: gpu, copy_engines: 3}\n"
             "  network:\n"
             "    topology: single_switch\n"
             "    ports: [host]\n"
             "    switch: {type: pcie_switch}\n"
             "    link: {type: pcie}\n"
             "links:\n"
             "  - {name: g, type: pcie, ends: [node1.host, node1.gpu0]}\n"
             "  - {name: st, type: pcie, ends: [switch, store]}\n");
    ck_assert_uint_eq(sim_find(s, "store")->id, 0);
    sim_comp *g = sim_find(s, "node1.gpu0");
    ck_assert_int_eq(scn_node_line(g->node), 9);
    ck_assert_int_eq(scn_node_line(sim_find(s, "switch")->node), 13);
    ck_assert_int_eq(scn_node_line(sim_find(s, "node0.host-switch")->node), 14);
    start_ok();
    ck_assert_uint_eq(route_len("node0.host", "node1.gpu0"), 3);
    ck_assert_uint_eq(route_len("node0.host", "store"), 2);
}
END_TEST

START_TEST(overrides_reach_the_cluster)
{
    static const char *const sets[] = {"cluster.nodes=8", NULL};
    ck_assert_int_eq(build_set(route_text, sets), 0);
    /* 8 x (host, gpu0, pcie0) + switch + 8 network links */
    ck_assert_uint_eq(sim_ncomps(s), 8 * 3 + 1 + 8);
    ck_assert_ptr_nonnull(sim_find(s, "node7.host-switch"));
    sim_destroy(s);
    scn_free(doc);
    static const char *const bad[] = {"cluster.template.components.gpu0.hbm=lots", NULL};
    ck_assert_int_eq(build_set(route_text, bad), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "hbm"));
}
END_TEST

START_TEST(deterministic)
{
    build_ok(rail_text);
    char *a = listing(s);
    sim_destroy(s);
    scn_free(doc);
    build_ok(rail_text);
    char *b = listing(s);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
}
END_TEST

/* The example scenario: check and run, bytes cross the generated network. */
START_TEST(example_scenario_runs)
{
    const char *src = getenv("MEMFAB_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/scenarios/cluster-template.yaml", src ? src : ".");
    capture_opts o = {.file = path, .to_stop = 1};
    ck_assert_msg(capture_run(&cap, NULL, &o, &err) == 0, "%s:%d:%d: %s", err.file, err.line,
                  err.col, err.msg);
    ck_assert(capture_get(&cap, "xfer01", "transfers") > 0);
    ck_assert(capture_get(&cap, "xfer01", "bytes") > 0);
}
END_TEST

/* ---- Limits ------------------------------------------------------------- */

START_TEST(one_node_no_network)
{
    build_ok("name: t\ncluster:\n  nodes: 1\n  template:\n    components:\n"
             "      - {name: host, type: cpu}\n");
    assert_listing("node0.host");
}
END_TEST

/* 5 nodes, 2 per leaf: leaf2 holds node4 alone, 2 downlinks -> 1 uplink. */
START_TEST(partial_last_leaf)
{
    static const char *const sets[] = {"cluster.nodes=5", NULL};
    ck_assert_int_eq(build_set(leaf_spine_text, sets), 0);
    ck_assert_ptr_nonnull(sim_find(s, "leaf2"));
    ck_assert_ptr_null(sim_find(s, "leaf3"));
    ck_assert_ptr_nonnull(sim_find(s, "node4.nic1-leaf2"));
    ck_assert_ptr_nonnull(sim_find(s, "leaf2-spine0"));
    ck_assert_ptr_null(sim_find(s, "leaf2-spine1"));
    ck_assert_ptr_nonnull(sim_find(s, "leaf1-spine1"));
}
END_TEST

/* Fractional ratio: 0.5 doubles the uplinks (4 downlinks -> 8 uplinks). */
START_TEST(fractional_oversubscription)
{
    static const char *const sets[] = {"cluster.network.oversubscription=0.5", NULL};
    ck_assert_int_eq(build_set(leaf_spine_text, sets), 0);
    ck_assert_ptr_nonnull(sim_find(s, "leaf0-spine1.3"));
    ck_assert_ptr_null(sim_find(s, "leaf0-spine0.4"));
    /* 3:1 on 4 downlinks: ceil(4/3) = 2 */
    sim_destroy(s);
    scn_free(doc);
    static const char *const sets3[] = {"cluster.network.oversubscription=3", NULL};
    ck_assert_int_eq(build_set(leaf_spine_text, sets3), 0);
    ck_assert_ptr_nonnull(sim_find(s, "leaf0-spine1"));
    ck_assert_ptr_null(sim_find(s, "leaf0-spine0.1"));
}
END_TEST

/* 64 nodes x (host, 8 NIC switches, 8 GPUs, 16 links), 8 per leaf, 4
 * spines: 64 x 33 + 8 leaves + 4 spines + 512 downlinks + 8 x 64 uplinks. */
START_TEST(sixty_four_nodes)
{
    char text[8192];
    size_t off = (size_t)snprintf(text, sizeof text,
                                  "name: big\ncluster:\n  nodes: 64\n  template:\n"
                                  "    components:\n      - {name: host, type: cpu}\n");
    for (int g = 0; g < 8; g++)
        off += (size_t)snprintf(text + off, sizeof text - off,
                                "      - {name: nic%d, type: pcie_switch}\n"
                                "      - {name: gpu%d, type: gpu}\n", g, g);
    off += (size_t)snprintf(text + off, sizeof text - off, "    links:\n");
    for (int g = 0; g < 8; g++)
        off += (size_t)snprintf(text + off, sizeof text - off,
                                "      - {name: h%d, type: pcie, ends: [host, nic%d]}\n"
                                "      - {name: g%d, type: pcie, ends: [nic%d, gpu%d]}\n",
                                g, g, g, g, g);
    snprintf(text + off, sizeof text - off,
             "  network:\n    topology: leaf_spine\n"
             "    ports: [nic0, nic1, nic2, nic3, nic4, nic5, nic6, nic7]\n"
             "    switch: {type: pcie_switch}\n    link: {type: pcie, gen: 5}\n"
             "    nodes_per_leaf: 8\n    spines: 4\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    build_ok(text);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    ck_assert_uint_eq(sim_ncomps(s), 64 * 33 + 8 + 4 + 512 + 8 * 64);
    ck_assert_ptr_nonnull(sim_find(s, "node63.gpu7"));
    ck_assert_ptr_nonnull(sim_find(s, "node63.nic7-leaf7"));
    ck_assert_ptr_nonnull(sim_find(s, "leaf7-spine3.15"));
    ck_assert_msg(secs < 2.0, "64-node build took %.3f s", secs);
    start_ok();
    ck_assert_uint_eq(route_len("node0.gpu0", "node63.gpu0"), 6);
}
END_TEST

/* ---- Errors ------------------------------------------------------------ */

typedef struct bad_case {
    const char *text;   /* the scenario */
    int line, col;      /* where the error must point */
    const char *needle; /* part of the message */
} bad_case;

#define HEAD "name: t\ncluster:\n"
#define TEMPLATE                                                                     \
    "  template:\n    components:\n      - {name: host, type: cpu}\n"                \
    "      - {name: nic0, type: pcie_switch}\n    links:\n"                           \
    "      - {name: p, type: pcie, ends: [host, nic0]}\n"
/* lines: 1 name, 2 cluster, 3 nodes, 4 template, 5 components, 6 host, 7 nic0,
 * 8 links, 9 p, 10 network, 11.. network keys */
#define NET "  network:\n    topology: leaf_spine\n    ports: [nic0]\n"              \
            "    switch: {type: pcie_switch}\n    link: {type: pcie}\n"
/* 11 topology, 12 ports, 13 switch, 14 link, 15.. more */

static const bad_case bad[] = {
    /* 0: nodes < 1 */
    {HEAD "  nodes: 0\n" TEMPLATE, 3, 10, "out of range"},
    /* 1: nodes missing: at the cluster mapping (its first key) */
    {HEAD TEMPLATE, 3, 3, "needs 'nodes'"},
    /* 2: unknown key in cluster */
    {HEAD "  nodes: 2\n  nodez: 3\n" TEMPLATE, 4, 3, "did you mean 'nodes'"},
    /* 3: unknown key in network */
    {HEAD "  nodes: 2\n" TEMPLATE NET "    nodes_per_leaf: 1\n    spine: 2\n", 16, 5,
     "did you mean 'spines'"},
    /* 4: a port not in the template */
    {HEAD "  nodes: 2\n" TEMPLATE "  network:\n    topology: single_switch\n"
          "    ports: [nic1]\n    switch: {type: pcie_switch}\n    link: {type: pcie}\n",
     12, 13, "did you mean 'nic0'"},
    /* 5: unknown topology, choices listed */
    {HEAD "  nodes: 2\n" TEMPLATE "  network:\n    topology: fat_tree\n    ports: [nic0]\n"
          "    switch: {type: pcie_switch}\n    link: {type: pcie}\n",
     11, 15, "single_switch, leaf_spine, rail_optimized"},
    /* 6: a template link end that names no template component */
    {HEAD "  nodes: 2\n  template:\n    components:\n      - {name: host, type: cpu}\n"
          "      - {name: nic0, type: pcie_switch}\n    links:\n"
          "      - {name: p, type: pcie, ends: [host, nic9]}\n",
     9, 44, "no template component named 'nic9'; did you mean 'nic0'"},
    /* 7: a key the topology does not use */
    {HEAD "  nodes: 2\n" TEMPLATE "  network:\n    topology: single_switch\n"
          "    ports: [nic0]\n    switch: {type: pcie_switch}\n    link: {type: pcie}\n"
          "    spines: 2\n",
     15, 5, "does not apply to topology single_switch"},
    /* 8: leaf_spine without nodes_per_leaf */
    {HEAD "  nodes: 2\n" TEMPLATE NET "    spines: 1\n", 11, 5, "needs 'nodes_per_leaf'"},
    /* 9: a switch parameter misspelt: the model's check, at the switch mapping */
    {HEAD "  nodes: 2\n" TEMPLATE "  network:\n    topology: single_switch\n"
          "    ports: [nic0]\n    switch: {type: pcie_switch, latncy: 3 ns}\n"
          "    link: {type: pcie}\n",
     13, 33, "did you mean 'latency'"},
    /* 10: the network link takes no ends */
    {HEAD "  nodes: 2\n" TEMPLATE "  network:\n    topology: single_switch\n"
          "    ports: [nic0]\n    switch: {type: pcie_switch}\n"
          "    link: {type: pcie, ends: [a, b]}\n",
     14, 24, "unknown key 'ends'"},
    /* 11: a template parameter error points into the template */
    {HEAD "  nodes: 2\n  template:\n    components:\n      - {name: host, type: cpu,"
          " latency: 5 nz}\n",
     6, 42, "latency"},
    /* 12: the switch without a type */
    {HEAD "  nodes: 2\n" TEMPLATE "  network:\n    topology: single_switch\n"
          "    ports: [nic0]\n    switch: {latency: 3 ns}\n    link: {type: pcie}\n",
     13, 13, "needs a 'type'"},
    /* 13: a generated name already taken by a top-level component */
    {"name: t\ncomponents:\n  - {name: switch, type: pcie_switch}\ncluster:\n  nodes: 1\n"
     "  template:\n    components:\n      - {name: host, type: cpu}\n"
     "  network:\n    topology: single_switch\n    ports: [host]\n"
     "    switch: {type: pcie_switch}\n    link: {type: pcie}\n",
     12, 13, "duplicate component name 'switch'"},
    /* 14: a port listed twice */
    {HEAD "  nodes: 2\n" TEMPLATE "  network:\n    topology: single_switch\n"
          "    ports: [nic0, nic0]\n    switch: {type: pcie_switch}\n    link: {type: pcie}\n",
     12, 19, "listed twice"},
    /* 15: a link type among template components */
    {HEAD "  nodes: 2\n  template:\n    components:\n      - {name: host, type: pcie}\n",
     6, 28, "is a link"},
    /* 16: duplicate template component */
    {HEAD "  nodes: 2\n  template:\n    components:\n      - {name: host, type: cpu}\n"
          "      - {name: host, type: gpu}\n",
     7, 16, "duplicate template component name 'host'"},
    /* 17: spines: 0 under leaf_spine */
    {HEAD "  nodes: 2\n" TEMPLATE NET "    nodes_per_leaf: 1\n    spines: 0\n", 16, 13,
     "out of range"},
    /* 18: unknown key in the template */
    {HEAD "  nodes: 2\n  template:\n    component:\n      - {name: host, type: cpu}\n", 5, 5,
     "did you mean 'components'"},
};
#define N_BAD (sizeof bad / sizeof bad[0])

START_TEST(errors_at_their_mark)
{
    const bad_case *b = &bad[_i];
    int rc = build_set(b->text, NULL);
    ck_assert_msg(rc == SIM_ESCENARIO, "case %d: rc %d (%s)", _i, rc, err.msg);
    ck_assert_msg(strstr(err.msg, b->needle), "case %d: message '%s' lacks '%s'", _i, err.msg,
                  b->needle);
    ck_assert_msg(err.line == b->line && err.col == b->col,
                  "case %d: at %d:%d, expected %d:%d (%s)", _i, err.line, err.col, b->line,
                  b->col, err.msg);
    ck_assert_str_eq(err.file, "t.yaml");
}
END_TEST

/* The command line turns these into exit status 2 with file:line:col. */
START_TEST(cli_exit_status)
{
    const char *bin = getenv("MEMFAB_BIN");
    if (!bin)
        return; /* run outside make test */
    char path[256], out[2048];
    ck_assert_int_eq(capture_cli_check(bin, bad[5].text, path, out, sizeof out), 2);
    char want[600];
    snprintf(want, sizeof want, "%s:11:15: error:", path);
    ck_assert_msg(strstr(out, want), "output: %s", out);
}
END_TEST

static Suite *cluster_suite(void)
{
    Suite *su = suite_create("cluster");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_test(core, single_switch_names);
    tcase_add_test(core, leaf_spine_exact);
    tcase_add_test(core, leaf_spine_parallel_uplinks);
    tcase_add_test(core, rail_optimized_names);
    tcase_add_test(core, routes_single_switch);
    tcase_add_test(core, routes_leaf_spine);
    tcase_add_test(core, routes_rail_optimized);
    tcase_add_test(core, rails_isolated_without_spines);
    tcase_add_test(core, params_marks_and_top_level_links);
    tcase_add_test(core, overrides_reach_the_cluster);
    tcase_add_test(core, deterministic);
    tcase_add_test(core, example_scenario_runs);
    suite_add_tcase(su, core);

    TCase *lim = tcase_create("Limits");
    tcase_add_checked_fixture(lim, setup, teardown);
    tcase_set_timeout(lim, 30);
    tcase_add_test(lim, one_node_no_network);
    tcase_add_test(lim, partial_last_leaf);
    tcase_add_test(lim, fractional_oversubscription);
    tcase_add_test(lim, sixty_four_nodes);
    suite_add_tcase(su, lim);

    TCase *errs = tcase_create("Errors");
    tcase_add_checked_fixture(errs, setup, teardown);
    tcase_add_loop_test(errs, errors_at_their_mark, 0, (int)N_BAD);
    tcase_add_test(errs, cli_exit_status);
    suite_add_tcase(su, errs);
    return su;
}

int main(void)
{
    return check_main(cluster_suite());
}
