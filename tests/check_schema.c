/*
 * check_schema.c - the scenario schema (sim/schema.h): every section
 * rejects an unknown key at its mark with a suggestion, policies' declared
 * parameters are accepted and others refused, --set keys are marked at
 * their column, a plug-in policy's keys are noted, and the command line
 * (memfab check --set, memfab models) behaves accordingly.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/kv/kvstore.h"
#include "models/registry.h"
#include "sim/schema.h"
#include "tests/check_main.h"

#define BOGUS "zq_bogus"

static sim_err err;

/* Check a YAML text against the scenario schema. */
static int check_text(const char *text, sim_schema_note_fn note, void *ctx)
{
    sim_err_clear(&err);
    scn_doc *d = scn_load_string("t.yaml", text, &err);
    ck_assert_msg(d, "%s", err.msg);
    int rc = sim_schema_check(&memfab_scenario_schema, scn_root(d), "", note, ctx, &err);
    scn_free(d);
    return rc;
}

/* ---- every section, generated from the schema itself ------------------ */

typedef struct elem {
    const char *name;
    int list;
} elem;

static int nsections;

/* A scenario with BOGUS inside the mapping at path[0..depth), block style, so
 * the bogus key's line and column are known. */
static void expect_rejected(const elem *path, int depth)
{
    char text[4096] = "", dotted[512] = "";
    size_t n = 0;
    int indent = 0, dash = 0, line = 0;
    for (int i = 0; i < depth; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "%*s%s%s:\n", indent, "",
                              dash ? "- " : "", path[i].name);
        indent += dash ? 2 : 0;
        dash = path[i].list;
        indent += 2;
        line++;
        size_t dl = strlen(dotted);
        snprintf(dotted + dl, sizeof dotted - dl, "%s%s", i ? "." : "", path[i].name);
    }
    snprintf(text + n, sizeof text - n, "%*s%s" BOGUS ": 1\n", indent, "", dash ? "- " : "");
    line++;
    int col = indent + (dash ? 2 : 0) + 1;
    ck_assert_msg(check_text(text, NULL, NULL) == SIM_ESCENARIO, "section '%s' accepted an"
                  " unknown key:\n%s", dotted, text);
    ck_assert_msg(strstr(err.msg, "unknown key '" BOGUS "'"), "%s: %s", dotted, err.msg);
    ck_assert_str_eq(err.file, "t.yaml");
    ck_assert_msg(err.line == line && err.col == col, "section '%s': error at %d:%d, want"
                  " %d:%d (%s)\n%s", dotted, err.line, err.col, line, col, err.msg, text);
    nsections++;
}

static void walk(const sim_schema *sc, elem *path, int depth)
{
    expect_rejected(path, depth);
    for (const sim_schema *b = sc; b; b = b->base)
        for (const sim_skey *k = b->keys; k && k->name; k++) {
            if (!k->sub || k->kind == SIM_S_VALUE || k->kind == SIM_S_OPEN)
                continue;
            ck_assert_int_lt(depth, 8);
            path[depth].name = k->name;
            path[depth].list = k->kind == SIM_S_LIST;
            walk(k->sub, path, depth + 1);
        }
}

START_TEST(every_section_rejects_unknown_key)
{
    elem path[8];
    nsections = 0;
    walk(&memfab_scenario_schema, path, 0);
    /* the scenario, output, cluster (+template, network), workload (+synthetic,
     * its four distributions, slo, instances, disaggregation), kv (+tiers),
     * router, fabric */
    ck_assert_int_ge(nsections, 18);
}
END_TEST

/* ---- one typo per section: mark and suggestion ------------------------------ */

static const struct {
    const char *yaml;
    int line, col;
    const char *msg;
} typos[] = {
    {"nmae: x\n", 1, 1, "unknown key 'nmae' in the scenario; did you mean 'name'?"},
    {"output: {sample_intervl: 1 ms}\n", 1, 10, "in output; did you mean 'sample_interval'?"},
    {"cluster:\n  nodez: 2\n", 2, 3, "in cluster; did you mean 'nodes'?"},
    {"cluster:\n  network: {topolgy: leaf_spine}\n", 2, 13, "did you mean 'topology'?"},
    {"cluster:\n  template: {component: []}\n", 2, 14, "did you mean 'components'?"},
    {"workload:\n  trac: a.jsonl\n", 2, 3, "in workload; did you mean 'trace'?"},
    {"workload:\n  synthetic:\n    arival: poisson\n", 3, 5,
     "in workload.synthetic; did you mean 'arrivals'?"},
    {"workload:\n  synthetic:\n    input: {dist: uniform, mni: 1}\n", 3, 28,
     "in workload.synthetic.input; did you mean 'min'?"},
    {"workload:\n  slo: {ttf: 1 s}\n", 2, 9, "in workload.slo; did you mean 'ttft'?"},
    {"workload:\n  instances: {cout: 2}\n", 2, 15, "in workload.instances; did you mean 'count'?"},
    {"workload:\n  instances: {max_seq: 2}\n", 2, 15, "did you mean 'max_seqs'?"},
    {"workload:\n  disaggregation: {transfr: whole}\n", 2, 20,
     "in workload.disaggregation; did you mean 'transfer'?"},
    {"kv:\n  evicton: lfu\n", 2, 3, "unknown key 'evicton' in kv; did you mean 'eviction'?"},
    {"kv:\n  tiers:\n    - {name: hbm}\n    - {name: dram, capacty: 1 GiB}\n", 4, 20,
     "in kv.tiers.dram; did you mean 'capacity'?"},
    {"kv:\n  eviction: s3fifo\n  small_size_ration: 0.2\n", 3, 3,
     "did you mean 'small_size_ratio'?"},
    {"kv:\n  small_size_ratio: 0.2\n", 2, 3,
     "a parameter of eviction policy 's3fifo', not of eviction policy 'lru'"},
    {"kv:\n  eviction: lur\n", 2, 13, "unknown eviction policy 'lur'"},
    {"router:\n  polcy: dynamo\n", 2, 3, "unknown key 'polcy' in router; did you mean 'policy'?"},
    {"router:\n  policy: dynamo\n  overlap_weigth: 2\n", 3, 3,
     "did you mean 'overlap_weight'?"},
    {"router:\n  policy: dynamo\n  overlap_weight: heavy\n", 3, 19, "is not a number"},
    {"router:\n  policy: sglang\n  overlap_weight: 2\n", 3, 3,
     "a parameter of router policy 'dynamo', not of router policy 'sglang'"},
    {"router:\n  policy: dynmo\n", 2, 11, "did you mean 'dynamo'?"},
    {"fabric:\n  chnk: 1 MiB\n", 2, 3, "in fabric; did you mean 'chunk'?"},
};

START_TEST(typo_in_each_section)
{
    int i = _i;
    ck_assert_msg(check_text(typos[i].yaml, NULL, NULL) == SIM_ESCENARIO, "accepted:\n%s",
                  typos[i].yaml);
    ck_assert_msg(strstr(err.msg, typos[i].msg), "%s\ngot: %s", typos[i].yaml, err.msg);
    ck_assert_msg(err.line == typos[i].line && err.col == typos[i].col,
                  "%s\nat %d:%d, want %d:%d (%s)", typos[i].yaml, err.line, err.col,
                  typos[i].line, typos[i].col, err.msg);
}
END_TEST

START_TEST(valid_sections_pass)
{
    ck_assert_msg(check_text("name: x\nseed: 3\noutput: {sample_interval: 1 ms}\n"
                             "workload:\n  synthetic: {rate: 2/s, input: {dist: uniform, min: 1,"
                             " max: 9}, output: 20 tokens}\n  slo: {ttft: 1 s}\n"
                             "  instances: {count: 2, model: llama3-8b}\n"
                             "kv:\n  eviction: s3fifo\n  small_size_ratio: 0.2\n"
                             "  tiers: [{name: hbm}, {name: dram, capacity: 1 GiB}]\n"
                             "router: {policy: conductor, load_weight: 1, reject_waiting: 4,"
                             " tier_weights: [1, 0.5]}\n"
                             "fabric: {chunk: 1 MiB}\n",
                             NULL, NULL) == 0,
                  "%s", err.msg);
}
END_TEST

/* Every built-in policy declares its parameters; each is accepted. */
START_TEST(builtin_policies_declare)
{
    char text[512];
    const memfab_router_ops *const *r = kv_router_policies;
    for (size_t i = 0; r[i]; i++) {
        const sim_param *p = kv_router_params(r[i]->name);
        ck_assert_msg(p, "router policy '%s' declares no parameter table", r[i]->name);
        for (; p->name; p++) {
            snprintf(text, sizeof text, "router: {policy: %s, %s: %s}\n", r[i]->name, p->name,
                     p->def);
            ck_assert_msg(check_text(text, NULL, NULL) == 0, "%s: %s", text, err.msg);
        }
    }
    for (size_t i = 0; kv_pair_router_policies[i]; i++)
        ck_assert_ptr_nonnull(kv_router_params(kv_pair_router_policies[i]->name));
    for (size_t i = 0; kv_evict_policies[i]; i++) {
        const sim_param *p = kv_evict_params(kv_evict_policies[i]->name);
        ck_assert_msg(p, "eviction policy '%s' declares no parameter table",
                      kv_evict_policies[i]->name);
        for (; p->name; p++) {
            snprintf(text, sizeof text, "kv: {eviction: %s, %s: %s}\n",
                     kv_evict_policies[i]->name, p->name, p->def);
            ck_assert_msg(check_text(text, NULL, NULL) == 0, "%s: %s", text, err.msg);
        }
    }
    /* the declared default is the one the policy reads */
    ck_assert(kv_param(NULL, kv_router_params("dynamo"), "overlap_weight") == 1.0);
    ck_assert(kv_param(NULL, kv_router_params("sglang"), "balance_rel_threshold") == 1.1);
    ck_assert(kv_param(NULL, kv_evict_params("s3fifo"), "ghost_size_ratio") == 0.9);
}
END_TEST

/* ---- --set ------------------------------------------------------------------ */

START_TEST(set_key_marked_at_its_column)
{
    sim_err_clear(&err);
    scn_doc *d = scn_load_string("t.yaml", "name: x\nrouter: {policy: dynamo}\n", &err);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(scn_set(d, "router.polcy=sglang", &err), 0);
    ck_assert_int_eq(sim_schema_check(&memfab_scenario_schema, scn_root(d), "", NULL, NULL, &err),
                     SIM_ESCENARIO);
    ck_assert_str_eq(err.file, "<command line>");
    ck_assert_int_eq(err.line, 1);
    ck_assert_int_eq(err.col, 8);
    ck_assert_str_eq(err.msg, "unknown key 'polcy' in router; did you mean 'policy'?");
    scn_free(d);
    /* a whole unknown section from the command line */
    d = scn_load_string("t.yaml", "name: x\n", &err);
    ck_assert_int_eq(scn_set(d, "routr.policy=dynamo", &err), 0);
    ck_assert_int_eq(sim_schema_check(&memfab_scenario_schema, scn_root(d), "", NULL, NULL, &err),
                     SIM_ESCENARIO);
    ck_assert_int_eq(err.col, 1);
    ck_assert_ptr_nonnull(strstr(err.msg, "did you mean 'router'?"));
    scn_free(d);
}
END_TEST

/* ---- plug-in policies: accepted, noted ------------------------------------------ */

static void *p_create(uint32_t n, const memfab_params *p) { return malloc(1); }
static void p_destroy(void *st) { free(st); }
static uint32_t p_route(void *st, const memfab_request_view *r, const memfab_instance_view *v,
                        uint32_t n, double (*uniform)(void *), void *rng)
{
    return 0;
}
static const memfab_router_ops plug_router = {"zz_plug_router", p_create, p_destroy, p_route};
static const memfab_router_ops *const plug_routers[] = {&plug_router, NULL};
static const memfab_plugin plug = {MEMFAB_PLUGIN_ABI, "zz", NULL, plug_routers, NULL, NULL};

static char noted[256];
static void note(void *ctx, const scn_node *key, const char *path, const char *owner)
{
    size_t n = strlen(noted);
    snprintf(noted + n, sizeof noted - n, "%s%s<%s>", n ? " " : "", path, owner);
}

START_TEST(plugin_keys_noted)
{
    sim_err_clear(&err);
    ck_assert_int_eq(kv_register_plugin(&plug, &err), 0);
    noted[0] = '\0';
    ck_assert_msg(check_text("router: {policy: zz_plug_router, lookahead: 3, sticky: true}\n",
                             note, NULL) == 0,
                  "%s", err.msg);
    ck_assert_str_eq(noted, "router.lookahead<plug-in router policy 'zz_plug_router'>");
    /* a near miss of the router's own keys is still a typo */
    ck_assert_int_eq(check_text("router: {policy: zz_plug_router, stiky: true}\n", note, NULL),
                     SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "did you mean 'sticky'?"));
}
END_TEST

/* ---- the command line --------------------------------------------------------- */

static char out[1 << 16];

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char scenario[] =
    "name: tiny\nstop: 5 s\n"
    "components:\n"
    "  - {name: inst0, type: llm_instance, model: llama3-8b}\n"
    "workload:\n"
    "  synthetic: {rate: 2/s, input: 100 tokens, output: 10 tokens, requests: 5}\n"
    "router:\n"
    "  policy: round_robin\n";

START_TEST(cli_rejects_typos)
{
    const char *bin = getenv("MEMFAB_BIN");
    ck_assert_msg(bin, "MEMFAB_BIN must be set (run through make test)");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/memfab-schema-XXXXXX", test_tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/t.yaml", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(scenario, f);
    fclose(f);
    ck_assert_msg(sh("%s check %s", bin, path) == 0, "%s", out);
    ck_assert_int_eq(sh("%s check %s --set router.polcy=dynamo", bin, path), 2);
    ck_assert_msg(strstr(out, "<command line>:1:8: error: unknown key 'polcy' in router; did you"
                              " mean 'policy'?"), "%s", out);
    ck_assert_int_eq(sh("%s run -q -o %s/r.db %s --set kv.evicton=lfu", bin, dir, path), 2);
    ck_assert_msg(strstr(out, "<command line>:1:4: error: unknown key 'evicton' in kv"), "%s", out);
    /* in the file: file:line:column */
    f = fopen(path, "a");
    fputs("  polcy: dynamo\n", f);
    fclose(f);
    ck_assert_int_eq(sh("%s check %s", bin, path), 2);
    ck_assert_msg(strstr(out, "t.yaml:9:3: error: unknown key 'polcy' in router"), "%s", out);
    /* memfab models lists the sections' keys and the policies' parameters */
    ck_assert_int_eq(sh("%s models router", bin), 0);
    ck_assert_msg(strstr(out, "overlap_weight") && strstr(out, "sticky"), "%s", out);
    ck_assert_int_eq(sh("%s models kv", bin), 0);
    ck_assert_msg(strstr(out, "tiers[].capacity") && strstr(out, "small_size_ratio"), "%s", out);
    ck_assert_int_eq(sh("%s models workload", bin), 0);
    ck_assert_msg(strstr(out, "synthetic.arrivals"), "%s", out);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("schema");
    TCase *t = tcase_create("schema");
    tcase_add_test(t, every_section_rejects_unknown_key);
    tcase_add_loop_test(t, typo_in_each_section, 0, (int)(sizeof typos / sizeof typos[0]));
    tcase_add_test(t, valid_sections_pass);
    tcase_add_test(t, builtin_policies_declare);
    tcase_add_test(t, set_key_marked_at_its_column);
    tcase_add_test(t, plugin_keys_noted);
    suite_add_tcase(s, t);
    TCase *c = tcase_create("cli");
    tcase_set_timeout(c, 60);
    tcase_add_test(c, cli_rejects_typos);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return check_main(suite());
}
