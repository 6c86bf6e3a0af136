/*
 * check_scn.c - Check suite for scenarios (sim/scn.c).
 *
 * Core: every unit family (SI vs IEC, bits, GT/s, FLOP/s, fractions and
 * exponents), typed getters, marks, anchors/aliases/merge keys, includes
 * relative to the including file, overrides, flatten order, SHA-256 test
 * vectors and the scenario hash. Limits: integer and unit overflow, rounding,
 * alias bombs, deep nesting, empty input. Errors: bad and missing units,
 * syntax errors with their line/column, unknown keys with suggestions,
 * include cycles and missing includes, bad overrides.
 *
 * Every test checks in teardown that sim_mem_in_use() is back where it
 * started, so the scenario code leaks nothing through sim_alloc.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/err.h"
#include "sim/mem.h"
#include "sim/scn.h"
#include "tests/check_main.h"
#include "tests/cpulimit.h"

static scn_doc *doc;
static sim_err err;
static size_t mem_before;
static char tmpdir[256];
static char made[16][256]; /* files and directories to remove, in creation order */
static int nmade;

static void setup(void)
{
    mem_before = sim_mem_in_use();
    doc = NULL;
    sim_err_clear(&err);
    tmpdir[0] = '\0';
    nmade = 0;
}

static void teardown(void)
{
    scn_free(doc);
    doc = NULL;
    for (int i = nmade - 1; i >= 0; i--)
        remove(made[i]);
    if (tmpdir[0])
        rmdir(tmpdir);
    ck_assert_uint_eq(sim_mem_in_use(), mem_before);
}

/* ---- helpers ------------------------------------------------------------- */

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/check_scn.XXXXXX", test_tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* tmpdir/rel, as a static buffer rotated among four. */
static const char *tpath(const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, rel);
    return buf[k];
}

static void make_dir(const char *rel)
{
    ck_assert_int_lt(nmade, 16);
    snprintf(made[nmade], sizeof made[nmade], "%s", tpath(rel));
    ck_assert_int_eq(mkdir(made[nmade], 0700), 0);
    nmade++;
}

static void write_file(const char *rel, const char *text)
{
    ck_assert_int_lt(nmade, 16);
    snprintf(made[nmade], sizeof made[nmade], "%s", tpath(rel));
    FILE *f = fopen(made[nmade], "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    nmade++;
}

static const scn_node *load(const char *text)
{
    scn_free(doc);
    doc = scn_load_string("test.yaml", text, &err);
    ck_assert_msg(doc != NULL, "load failed: %s:%d:%d: %s", err.file, err.line, err.col,
                  err.msg);
    return scn_root(doc);
}

/* Load must fail; returns its error code. */
static int load_fails(const char *text)
{
    sim_err_clear(&err);
    scn_doc *d = scn_load_string("test.yaml", text, &err);
    ck_assert_msg(d == NULL, "load of bad YAML succeeded");
    ck_assert_int_ne(err.code, 0);
    return err.code;
}

static sim_time t_of(const char *s)
{
    sim_time t = 0;
    sim_err_clear(&err);
    ck_assert_msg(scn_parse_time(s, &t, &err) == 0, "'%s': %s", s, err.msg);
    return t;
}

static uint64_t sz_of(const char *s)
{
    uint64_t v = 0;
    sim_err_clear(&err);
    ck_assert_msg(scn_parse_size(s, &v, &err) == 0, "'%s': %s", s, err.msg);
    return v;
}

static double rate_of(const char *s)
{
    double v = -1;
    sim_err_clear(&err);
    ck_assert_msg(scn_parse_rate(s, &v, &err) == 0, "'%s': %s", s, err.msg);
    return v;
}

#define ASSERT_REL(a, b) ck_assert_msg(fabs((a) - (b)) <= 1e-12 * fabs(b), "%.17g != %.17g", \
                                       (double)(a), (double)(b))

/* ---- Core: units ----------------------------------------------------------- */

START_TEST(test_units_time)
{
    ck_assert_uint_eq(t_of("3 ps"), 3);
    ck_assert_uint_eq(t_of("250 ns"), 250 * SIM_NS);
    ck_assert_uint_eq(t_of("250ns"), 250 * SIM_NS);
    ck_assert_uint_eq(t_of("80 us"), 80 * SIM_US);
    ck_assert_uint_eq(t_of("1.5 ms"), 1500 * SIM_US);
    ck_assert_uint_eq(t_of("10 s"), 10 * SIM_S);
    ck_assert_uint_eq(t_of("2 min"), 120 * SIM_S);
    ck_assert_uint_eq(t_of("1 h"), 3600 * SIM_S);
    ck_assert_uint_eq(t_of("2e3 ns"), 2 * SIM_US);
    ck_assert_uint_eq(t_of("1.5e-3 s"), 1500 * SIM_US);
    ck_assert_uint_eq(t_of("2E+1 us"), 20 * SIM_US);
    ck_assert_uint_eq(t_of(".5 us"), 500 * SIM_NS);
    ck_assert_uint_eq(t_of("5. ns"), 5 * SIM_NS);
    ck_assert_uint_eq(t_of("  7 us  "), 7 * SIM_US);
    ck_assert_uint_eq(t_of("0 s"), 0);
    ck_assert_uint_eq(t_of("0.001 ns"), 1);
    ck_assert_uint_eq(t_of("+4 ps"), 4);
}
END_TEST

START_TEST(test_units_size)
{
    ck_assert_uint_eq(sz_of("1 B"), 1);
    ck_assert_uint_eq(sz_of("1 KiB"), 1024);
    ck_assert_uint_eq(sz_of("1 kB"), 1000);
    ck_assert_uint_eq(sz_of("1 KB"), 1000);
    ck_assert_uint_eq(sz_of("256 B"), 256);
    ck_assert_uint_eq(sz_of("1.5 MiB"), 1572864);
    ck_assert_uint_eq(sz_of("1.5 MB"), 1500000);
    ck_assert_uint_eq(sz_of("80GiB"), 80ULL << 30);
    ck_assert_uint_eq(sz_of("80 GB"), 80000000000ULL);
    ck_assert_uint_eq(sz_of("2 TiB"), 2ULL << 40);
    ck_assert_uint_eq(sz_of("2 TB"), 2000000000000ULL);
    ck_assert_uint_eq(sz_of("1 PiB"), 1ULL << 50);
    ck_assert_uint_eq(sz_of("1 PB"), 1000000000000000ULL);
    ck_assert_uint_eq(sz_of("0.5 KiB"), 512);
    ck_assert_uint_eq(sz_of("4e3 B"), 4000);
    ck_assert_uint_eq(sz_of("1 EiB"), 1ULL << 60);
}
END_TEST

START_TEST(test_units_rate)
{
    ASSERT_REL(rate_of("1 Gb/s"), 1.25e8);
    ASSERT_REL(rate_of("1 Gbit/s"), 1.25e8);
    ASSERT_REL(rate_of("100 Mbit/s"), 1.25e7);
    ASSERT_REL(rate_of("8 bit/s"), 1.0);
    ASSERT_REL(rate_of("8 b/s"), 1.0);
    ASSERT_REL(rate_of("400 Gb/s"), 5e10);
    ASSERT_REL(rate_of("64 GB/s"), 6.4e10);
    ASSERT_REL(rate_of("4.8 TB/s"), 4.8e12);
    ASSERT_REL(rate_of("1 kB/s"), 1e3);
    ASSERT_REL(rate_of("1 KiB/s"), 1024.0);
    ASSERT_REL(rate_of("1 GiB/s"), 1073741824.0);
    ASSERT_REL(rate_of("2.5e1 MB/s"), 2.5e7);
    ASSERT_REL(rate_of("3 B/s"), 3.0);
    ASSERT_REL(rate_of("0 B/s"), 0.0);
}
END_TEST

START_TEST(test_units_gts_flops)
{
    double v = 0;
    ck_assert_int_eq(scn_parse_gts("32 GT/s", &v, &err), 0);
    ASSERT_REL(v, 3.2e10);
    ck_assert_int_eq(scn_parse_gts("2.5GT/s", &v, &err), 0);
    ASSERT_REL(v, 2.5e9);
    ck_assert_int_eq(scn_parse_gts("6400 MT/s", &v, &err), 0);
    ASSERT_REL(v, 6.4e9);
    ck_assert_int_eq(scn_parse_flops("989 TFLOP/s", &v, &err), 0);
    ASSERT_REL(v, 9.89e14);
    ck_assert_int_eq(scn_parse_flops("1.5 PFLOPS", &v, &err), 0);
    ASSERT_REL(v, 1.5e15);
    ck_assert_int_eq(scn_parse_flops("2e2 GFLOP/s", &v, &err), 0);
    ASSERT_REL(v, 2e11);
    ck_assert_int_eq(scn_parse_flops("10 FLOP/s", &v, &err), 0);
    ASSERT_REL(v, 10.0);
}
END_TEST

/* ---- Core: getters and marks -------------------------------------------------- */

START_TEST(test_getters)
{
    const scn_node *r = load("lat: 90 ns\n"
                             "cap: 512 GiB\n"
                             "bw: 200 GB/s\n"
                             "fl: 989 TFLOP/s\n"
                             "n: -42\n"
                             "u: 0x10\n"
                             "x: 2.5e-1\n"
                             "on: yes\n"
                             "off: FALSE\n"
                             "s: 'hello world'\n"
                             "e: lfu\n");
    sim_time t;
    uint64_t u;
    double d;
    int64_t i;
    int b, k;
    const char *s;
    ck_assert_int_eq(scn_get_time(r, "lat", 0, &t, &err), 0);
    ck_assert_uint_eq(t, 90 * SIM_NS);
    ck_assert_int_eq(scn_get_time(r, "absent", 7, &t, &err), 0);
    ck_assert_uint_eq(t, 7);
    ck_assert_int_eq(scn_get_size(r, "cap", 0, &u, &err), 0);
    ck_assert_uint_eq(u, 512ULL << 30);
    ck_assert_int_eq(scn_get_rate(r, "bw", 0, &d, &err), 0);
    ASSERT_REL(d, 2e11);
    ck_assert_int_eq(scn_get_flops(r, "fl", 0, &d, &err), 0);
    ASSERT_REL(d, 9.89e14);
    ck_assert_int_eq(scn_get_int(r, "n", 0, &i, &err), 0);
    ck_assert_int_eq(i, -42);
    ck_assert_int_eq(scn_get_uint(r, "u", 0, &u, &err), 0);
    ck_assert_uint_eq(u, 16);
    ck_assert_int_eq(scn_get_double(r, "x", 0, &d, &err), 0);
    ASSERT_REL(d, 0.25);
    ck_assert_int_eq(scn_get_double(r, "absent", 1.5, &d, &err), 0);
    ASSERT_REL(d, 1.5);
    ck_assert_int_eq(scn_get_bool(r, "on", 0, &b, &err), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(scn_get_bool(r, "off", 1, &b, &err), 0);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(scn_get_string(r, "s", NULL, &s, &err), 0);
    ck_assert_str_eq(s, "hello world");
    ck_assert_int_eq(scn_get_string(r, "absent", "dflt", &s, &err), 0);
    ck_assert_str_eq(s, "dflt");
    static const char *const ev[] = {"lru", "lfu", "fifo", NULL};
    ck_assert_int_eq(scn_get_enum(r, "e", ev, 0, &k, &err), 0);
    ck_assert_int_eq(k, 1);
    ck_assert_int_eq(scn_get_enum(r, "absent", ev, 2, &k, &err), 0);
    ck_assert_int_eq(k, 2);
    /* NULL node: everything is absent. */
    ck_assert_int_eq(scn_get_time(NULL, "lat", 5, &t, &err), 0);
    ck_assert_uint_eq(t, 5);
}
END_TEST

START_TEST(test_marks_and_inspection)
{
    const scn_node *r = load("name: demo\n"
                             "components:\n"
                             "  - {name: gpu0, hbm: 80 GiB}\n"
                             "  - name: dram\n"
                             "    latency: 90 ns\n");
    ck_assert_str_eq(scn_path(doc), "test.yaml");
    ck_assert_int_eq(scn_node_kind(r), SCN_MAP);
    ck_assert_uint_eq(scn_len(r), 2);
    ck_assert_str_eq(scn_map_key(r, 0), "name");
    ck_assert_str_eq(scn_map_key(r, 1), "components");
    ck_assert_ptr_null(scn_map_key(r, 2));
    const scn_node *k1 = scn_map_key_node(r, 1);
    ck_assert_int_eq(scn_node_line(k1), 2);
    ck_assert_int_eq(scn_node_col(k1), 1);
    const scn_node *comps = scn_map_value(r, 1);
    ck_assert_int_eq(scn_node_kind(comps), SCN_SEQ);
    ck_assert_uint_eq(scn_len(comps), 2);
    const scn_node *hbm = scn_map_get(scn_seq_at(comps, 0), "hbm");
    ck_assert_str_eq(scn_scalar(hbm), "80 GiB");
    ck_assert_str_eq(scn_node_file(hbm), "test.yaml");
    ck_assert_int_eq(scn_node_line(hbm), 3);
    ck_assert_int_eq(scn_node_col(hbm), 23);
    const scn_node *lat = scn_map_get(scn_seq_at(comps, 1), "latency");
    ck_assert_int_eq(scn_node_line(lat), 5);
    ck_assert_int_eq(scn_node_col(lat), 14);
    ck_assert_ptr_null(scn_seq_at(comps, 2));
    ck_assert_ptr_null(scn_scalar(comps));
    ck_assert_ptr_null(scn_map_get(comps, "name"));
}
END_TEST

/* ---- Core: anchors, merge, includes ---------------------------------------- */

START_TEST(test_anchors_merge)
{
    const scn_node *r = load("defaults: &d\n"
                             "  latency: 90 ns\n"
                             "  bandwidth: 200 GB/s\n"
                             "other: &o {latency: 1 ns, extra: 5}\n"
                             "mem:\n"
                             "  bandwidth: 100 GB/s\n"
                             "  <<: *d\n"
                             "both:\n"
                             "  <<: [*d, *o]\n"
                             "list: &l [a, b]\n"
                             "copy: *l\n"
                             "word: &w hello\n"
                             "again: *w\n");
    const scn_node *mem = scn_map_get(r, "mem");
    ck_assert_uint_eq(scn_len(mem), 2);
    ck_assert_str_eq(scn_scalar(scn_map_get(mem, "bandwidth")), "100 GB/s"); /* local wins */
    ck_assert_str_eq(scn_scalar(scn_map_get(mem, "latency")), "90 ns");
    ck_assert_int_eq(scn_node_line(scn_map_get(mem, "latency")), 2);  /* anchor's mark */
    const scn_node *both = scn_map_get(r, "both");
    ck_assert_uint_eq(scn_len(both), 3);
    ck_assert_str_eq(scn_scalar(scn_map_get(both, "latency")), "90 ns"); /* earlier wins */
    ck_assert_str_eq(scn_scalar(scn_map_get(both, "extra")), "5");
    ck_assert_ptr_null(scn_map_get(both, "<<"));
    const scn_node *copy = scn_map_get(r, "copy");
    ck_assert_int_eq(scn_node_kind(copy), SCN_SEQ);
    ck_assert_str_eq(scn_scalar(scn_seq_at(copy, 1)), "b");
    ck_assert_str_eq(scn_scalar(scn_map_get(r, "again")), "hello");
    /* An alias is a copy: overriding it leaves the anchored node alone. */
    ck_assert_int_eq(scn_set(doc, "copy.0=z", &err), 0);
    ck_assert_str_eq(scn_scalar(scn_seq_at(scn_map_get(r, "copy"), 0)), "z");
    ck_assert_str_eq(scn_scalar(scn_seq_at(scn_map_get(r, "list"), 0)), "a");
    /* A quoted "<<" is an ordinary key. */
    r = load("m: {'<<': x}\n");
    ck_assert_str_eq(scn_scalar(scn_map_get(scn_map_get(r, "m"), "<<")), "x");
}
END_TEST

START_TEST(test_include_relative)
{
    make_tmpdir();
    make_dir("sub");
    write_file("sub/b.yaml", "deep: from-b\nshared: from-b\n");
    write_file("sub/a.yaml", "include: b.yaml\n" /* relative to sub/ */
                             "shared: from-a\n"
                             "a_only: 1\n"
                             "nested:\n"
                             "  k: 1\n");
    write_file("sub/c.yaml", "a_only: from-c\nc_only: 3\n");
    write_file("main.yaml", "name: top\n"
                            "include: [sub/a.yaml, sub/c.yaml]\n"
                            "a_only: local\n"
                            "dev:\n"
                            "  include: sub/b.yaml\n"
                            "  deep: dev-local\n");
    doc = scn_load(tpath("main.yaml"), &err);
    ck_assert_msg(doc != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    const scn_node *r = scn_root(doc);
    ck_assert_ptr_null(scn_map_get(r, "include"));
    ck_assert_str_eq(scn_scalar(scn_map_get(r, "name")), "top");
    ck_assert_str_eq(scn_scalar(scn_map_get(r, "a_only")), "local");  /* local wins */
    ck_assert_str_eq(scn_scalar(scn_map_get(r, "shared")), "from-a"); /* includer wins */
    ck_assert_str_eq(scn_scalar(scn_map_get(r, "deep")), "from-b");
    ck_assert_str_eq(scn_scalar(scn_map_get(r, "c_only")), "3");
    const scn_node *deep = scn_map_get(r, "deep");
    ck_assert_str_eq(scn_node_file(deep), tpath("sub/b.yaml"));
    ck_assert_int_eq(scn_node_line(deep), 1);
    ck_assert_int_eq(scn_node_col(deep), 7);
    const scn_node *dev = scn_map_get(r, "dev");
    ck_assert_str_eq(scn_scalar(scn_map_get(dev, "deep")), "dev-local");
    ck_assert_str_eq(scn_scalar(scn_map_get(dev, "shared")), "from-b");
    ck_assert_str_eq(scn_scalar(scn_map_get(scn_map_get(r, "nested"), "k")), "1");
    /* A later include of a list wins over an earlier one (c over a). */
    scn_free(doc);
    write_file("two.yaml", "include: [sub/a.yaml, sub/c.yaml]\n");
    doc = scn_load(tpath("two.yaml"), &err);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(scn_scalar(scn_map_get(scn_root(doc), "a_only")), "from-c");
}
END_TEST

/* ---- Core: overrides --------------------------------------------------------- */

static const char *const SCN_TEXT = "name: demo\n"
                                    "seed: 1\n"
                                    "components:\n"
                                    "  - {name: gpu0, hbm: 80 GiB}\n"
                                    "  - {name: gpu1, hbm: 80 GiB}\n"
                                    "  - [x, y]\n"
                                    "kv: {tiers: [gpu, dram]}\n"
                                    "output:\n";

START_TEST(test_set)
{
    const scn_node *r = load(SCN_TEXT);
    ck_assert_int_eq(scn_set(doc, "seed=42", &err), 0);
    ck_assert_str_eq(scn_scalar(scn_map_get(r, "seed")), "42");
    ck_assert_str_eq(scn_node_file(scn_map_get(r, "seed")), "<command line>");
    ck_assert_str_eq(scn_map_key(r, 1), "seed"); /* replaced in place */
    ck_assert_int_eq(scn_set(doc, "components.gpu1.hbm=141GiB", &err), 0);
    const scn_node *comps = scn_map_get(r, "components");
    ck_assert_str_eq(scn_scalar(scn_map_get(scn_seq_at(comps, 1), "hbm")), "141GiB");
    ck_assert_str_eq(scn_scalar(scn_map_get(scn_seq_at(comps, 0), "hbm")), "80 GiB");
    ck_assert_int_eq(scn_set(doc, "components.0.hbm=40 GiB", &err), 0);
    ck_assert_str_eq(scn_scalar(scn_map_get(scn_seq_at(comps, 0), "hbm")), "40 GiB");
    ck_assert_int_eq(scn_set(doc, "components.2.1=z", &err), 0);
    ck_assert_str_eq(scn_scalar(scn_seq_at(scn_seq_at(comps, 2), 1)), "z");
    ck_assert_int_eq(scn_set(doc, "kv.tiers.0=hbm", &err), 0);
    ck_assert_int_eq(scn_set(doc, "kv.tiers.2=ssd0", &err), 0); /* append */
    const scn_node *tiers = scn_map_get(scn_map_get(r, "kv"), "tiers");
    ck_assert_uint_eq(scn_len(tiers), 3);
    ck_assert_str_eq(scn_scalar(scn_seq_at(tiers, 0)), "hbm");
    ck_assert_str_eq(scn_scalar(scn_seq_at(tiers, 2)), "ssd0");
    /* Creation of missing keys, also under a null value. */
    ck_assert_int_eq(scn_set(doc, "router.policy.name=prefix", &err), 0);
    ck_assert_str_eq(
        scn_scalar(scn_map_get(scn_map_get(scn_map_get(r, "router"), "policy"), "name")),
        "prefix");
    ck_assert_int_eq(scn_set(doc, "output.sample_interval=10 ms", &err), 0);
    sim_time t;
    ck_assert_int_eq(scn_get_time(scn_map_get(r, "output"), "sample_interval", 0, &t, &err), 0);
    ck_assert_uint_eq(t, 10 * SIM_MS);
    /* Quotes are removed; flow collections are parsed; '=' may be in the value. */
    ck_assert_int_eq(scn_set(doc, "name=\"a b\"", &err), 0);
    ck_assert_str_eq(scn_scalar(scn_map_get(r, "name")), "a b");
    ck_assert_int_eq(scn_set(doc, "kv.tiers=[gpu, ssd0]", &err), 0);
    tiers = scn_map_get(scn_map_get(r, "kv"), "tiers");
    ck_assert_uint_eq(scn_len(tiers), 2);
    ck_assert_str_eq(scn_scalar(scn_seq_at(tiers, 1)), "ssd0");
    ck_assert_int_eq(scn_set(doc, "desc=x=y", &err), 0);
    ck_assert_str_eq(scn_scalar(scn_map_get(r, "desc")), "x=y");
}
END_TEST

/* ---- Core: flatten and hashes ------------------------------------------------------- */

typedef struct leaves {
    char buf[1024];
    size_t off;
} leaves;

static void collect(void *ctx, const char *key, const char *value)
{
    leaves *l = ctx;
    l->off += (size_t)snprintf(l->buf + l->off, sizeof l->buf - l->off, "%s=%s;", key, value);
}

START_TEST(test_flatten_order)
{
    load(SCN_TEXT);
    ck_assert_int_eq(scn_set(doc, "components.gpu0.extra=1", &err), 0);
    leaves l = {{0}, 0};
    scn_flatten(doc, collect, &l);
    ck_assert_str_eq(l.buf, "name=demo;seed=1;"
                            "components.gpu0.name=gpu0;components.gpu0.hbm=80 GiB;"
                            "components.gpu0.extra=1;"
                            "components.gpu1.name=gpu1;components.gpu1.hbm=80 GiB;"
                            "components.2.0=x;components.2.1=y;"
                            "kv.tiers.0=gpu;kv.tiers.1=dram;output=;");
    /* Deterministic: a second walk gives the same. */
    leaves l2 = {{0}, 0};
    scn_flatten(doc, collect, &l2);
    ck_assert_str_eq(l.buf, l2.buf);
}
END_TEST

START_TEST(test_sha256_vectors)
{
    char out[65];
    scn_sha256_bytes("abc", 3, out);
    ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    scn_sha256_bytes("", 0, out);
    ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    scn_sha256_bytes(m448, strlen(m448), out);
    ck_assert_str_eq(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    scn_sha256_bytes(m896, strlen(m896), out);
    ck_assert_str_eq(out, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    char *million = malloc(1000000);
    ck_assert_ptr_nonnull(million);
    memset(million, 'a', 1000000);
    scn_sha256_bytes(million, 1000000, out);
    free(million);
    ck_assert_str_eq(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_scenario_hash)
{
    char h1[65], h2[65], h3[65], h4[65];
    load("a: {x: 1, y: [p, q]}\nb: 2\n");
    scn_sha256(doc, h1);
    ck_assert_uint_eq(strlen(h1), 64);
    /* Layout, quoting and comments do not matter; content does. */
    load("# comment\na:\n  x: '1'\n  y:\n    - p\n    - \"q\"\nb: 2\n");
    scn_sha256(doc, h2);
    ck_assert_str_eq(h1, h2);
    ck_assert_int_eq(scn_set(doc, "b=3", &err), 0);
    scn_sha256(doc, h3);
    ck_assert_str_ne(h1, h3);
    ck_assert_int_eq(scn_set(doc, "b=2", &err), 0);
    scn_sha256(doc, h4);
    ck_assert_str_eq(h1, h4);
    /* Key order is part of the tree. */
    load("b: 2\na: {x: 1, y: [p, q]}\n");
    scn_sha256(doc, h4);
    ck_assert_str_ne(h1, h4);
    /* A string that looks like structure does not collide with structure. */
    load("a: '[p, q]'\n");
    scn_sha256(doc, h3);
    load("a: [p, q]\n");
    scn_sha256(doc, h4);
    ck_assert_str_ne(h3, h4);
}
END_TEST

START_TEST(test_suggest)
{
    ck_assert_uint_eq(scn_edit_distance("kitten", "sitting"), 3);
    ck_assert_uint_eq(scn_edit_distance("", "abc"), 3);
    ck_assert_uint_eq(scn_edit_distance("abc", "abc"), 0);
    ck_assert_uint_eq(scn_edit_distance("latnecy", "latency"), 1); /* transposition */
    static const char *const keys[] = {"latency", "bandwidth", "hbm", "hbm_bandwidth", NULL};
    ck_assert_str_eq(scn_suggest("latncy", keys), "latency");
    ck_assert_str_eq(scn_suggest("hbm_bw", keys), "hbm_bandwidth");
    ck_assert_str_eq(scn_suggest("bandwith", keys), "bandwidth");
    ck_assert_ptr_null(scn_suggest("zzzzzz", keys));
}
END_TEST

/* ---- Limits ----------------------------------------------------------------------- */

START_TEST(test_unit_limits)
{
    sim_time t;
    uint64_t u;
    double d;
    /* times up to 2^62 ps (a time plus a delay cannot wrap the clock) */
    ck_assert_uint_eq(t_of("4611686018427387904 ps"), 1ULL << 62);
    ck_assert_int_eq(scn_parse_time("4611686018427387905 ps", &t, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_time("18446744073709551615 ps", &t, &err), SIM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    ck_assert_int_eq(scn_parse_time("18446744073709551616 ps", &t, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_time("1e30 s", &t, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_time("214 d", &t, &err), SIM_EINVAL);
    ck_assert_uint_eq(t_of("1281 h"), 1281ULL * 3600 * SIM_S);
    ck_assert_int_eq(scn_parse_time("1282 h", &t, &err), SIM_EINVAL);
    /* sizes up to 1 EiB; rates 0 or at least 1 bit/s */
    ck_assert_int_eq(scn_parse_size("15 EiB", &u, &err), SIM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "at most 1 EiB"));
    ck_assert_int_eq(scn_parse_size("1025 PiB", &u, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_rate("1e-20 B/s", &d, &err), SIM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "at least 1 bit/s"));
    ck_assert_int_eq(scn_parse_rate("0.1 B/s", &d, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_rate("1 bit/s", &d, &err), 0);
    ck_assert_int_eq(scn_parse_rate("0 B/s", &d, &err), 0);
    ck_assert_int_eq(scn_parse_gts("1e-10 GT/s", &d, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_flops("1e-3 FLOP/s", &d, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_size("16 EiB", &u, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_size("1e99999999999 B", &u, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_rate("1e400 GB/s", &d, &err), SIM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    /* Rounding to whole picoseconds / bytes; tiny values round to 0. */
    ck_assert_uint_eq(t_of("0.4 ps"), 0);
    ck_assert_uint_eq(t_of("0.5 ps"), 1);
    ck_assert_uint_eq(t_of("1e-30 s"), 0);
    ck_assert_uint_eq(sz_of("1.1 KiB"), 1126);
    ck_assert_uint_eq(t_of("-0 ns"), 0);
    /* More digits than a uint64 holds. */
    ck_assert_uint_eq(t_of("0.0000000000000000000000001000 s"), 0);
    ck_assert_uint_eq(t_of("1.00000000000000000000000001 us"), SIM_US);
    ck_assert_uint_eq(sz_of("000000000000000000000000001 KiB"), 1024);
}
END_TEST

/* Out-of-range unit values are errors at load, at their file:line:column. */
START_TEST(test_unit_range_position)
{
    const scn_node *r = load("name: x\n"
                             "latency: 18446744073709551615 ps\n"
                             "capacity: 15 EiB\n"
                             "bandwidth:   1e-20 B/s\n");
    sim_time t;
    uint64_t u;
    double d;
    ck_assert_int_eq(scn_get_time(r, "latency", 0, &t, &err), SIM_ESCENARIO);
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.col, 10);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    ck_assert_int_eq(scn_get_size(r, "capacity", 0, &u, &err), SIM_ESCENARIO);
    ck_assert_int_eq(err.line, 3);
    ck_assert_int_eq(err.col, 11);
    ck_assert_int_eq(scn_get_rate(r, "bandwidth", 0, &d, &err), SIM_ESCENARIO);
    ck_assert_int_eq(err.line, 4);
    ck_assert_int_eq(err.col, 14);
}
END_TEST

START_TEST(test_int_limits)
{
    const scn_node *r = load("max: 9223372036854775807\n"
                             "min: -9223372036854775808\n"
                             "over: 9223372036854775808\n"
                             "umax: 18446744073709551615\n"
                             "uover: 18446744073709551616\n"
                             "hex: 0xFFFFFFFFFFFFFFFF\n");
    int64_t i;
    uint64_t u;
    ck_assert_int_eq(scn_get_int(r, "max", 0, &i, &err), 0);
    ck_assert_int_eq(i, INT64_MAX);
    ck_assert_int_eq(scn_get_int(r, "min", 0, &i, &err), 0);
    ck_assert_int_eq(i, INT64_MIN);
    ck_assert_int_eq(scn_get_int(r, "over", 0, &i, &err), SIM_ESCENARIO);
    ck_assert_int_eq(scn_get_uint(r, "umax", 0, &u, &err), 0);
    ck_assert_uint_eq(u, UINT64_MAX);
    ck_assert_int_eq(scn_get_uint(r, "hex", 0, &u, &err), 0);
    ck_assert_uint_eq(u, UINT64_MAX);
    ck_assert_int_eq(scn_get_uint(r, "uover", 0, &u, &err), SIM_ESCENARIO);
    ck_assert_int_eq(err.line, 5);
}
END_TEST

START_TEST(test_alias_bomb)
{
    /* Each level holds nine copies of the one before: 9^8 leaves. */
    load_fails("a: &a [x, x, x, x, x, x, x, x, x]\n"
               "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
               "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
               "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
               "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
               "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
               "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
               "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n");
    ck_assert_int_eq(err.code, SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "too large"));
    /* A recursive alias. */
    load_fails("a: &a [1, *a]\n");
    ck_assert_ptr_nonnull(strstr(err.msg, "inside the node"));
}
END_TEST

START_TEST(test_deep_nesting)
{
    char text[2048];
    size_t n = 0;
    text[n++] = 'a';
    text[n++] = ':';
    text[n++] = ' ';
    for (int i = 0; i < 600; i++)
        text[n++] = '[';
    for (int i = 0; i < 600; i++)
        text[n++] = ']';
    text[n++] = '\n';
    text[n] = '\0';
    load_fails(text);
    ck_assert_ptr_nonnull(strstr(err.msg, "nesting"));
    /* 100 levels is fine. */
    n = 3;
    for (int i = 0; i < 100; i++)
        text[n++] = '[';
    for (int i = 0; i < 100; i++)
        text[n++] = ']';
    text[n] = '\0';
    load(text);
}
END_TEST

START_TEST(test_empty)
{
    const scn_node *r = load("");
    ck_assert_int_eq(scn_node_kind(r), SCN_MAP);
    ck_assert_uint_eq(scn_len(r), 0);
    r = load("# only a comment\n");
    ck_assert_uint_eq(scn_len(r), 0);
    /* An override on an empty scenario creates the path. */
    ck_assert_int_eq(scn_set(doc, "a.b=1", &err), 0);
    ck_assert_str_eq(scn_scalar(scn_map_get(scn_map_get(scn_root(doc), "a"), "b")), "1");
    leaves l = {{0}, 0};
    scn_flatten(doc, collect, &l);
    ck_assert_str_eq(l.buf, "a.b=1;");
    scn_free(NULL);
}
END_TEST

/* ---- Errors ---------------------------------------------------------------------- */

START_TEST(test_bad_units)
{
    const scn_node *r = load("mem:\n"
                             "  latency: 250 nz\n"
                             "  cap: 80\n"
                             "  neg: -5 ns\n"
                             "  map: {a: 1}\n");
    const scn_node *m = scn_map_get(r, "mem");
    sim_time t;
    uint64_t u;
    ck_assert_int_eq(scn_get_time(m, "latency", 0, &t, &err), SIM_ESCENARIO);
    ck_assert_str_eq(err.msg, "key 'latency': '250 nz' is not a time (units: ps ns us ms s)");
    ck_assert_str_eq(err.file, "test.yaml");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.col, 12);
    ck_assert_int_eq(scn_get_size(m, "cap", 0, &u, &err), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "key 'cap': '80' needs a unit"));
    ck_assert_int_eq(err.line, 3);
    ck_assert_int_eq(scn_get_time(m, "neg", 0, &t, &err), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "negative"));
    ck_assert_int_eq(scn_get_time(m, "map", 0, &t, &err), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "key 'map': expected a time"));

    double d;
    static const char *const bare[] = {"250", "0", "1.5e3", NULL};
    for (int i = 0; bare[i]; i++) {
        ck_assert_int_eq(scn_parse_time(bare[i], &t, &err), SIM_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "needs a unit"));
        ck_assert_int_eq(scn_parse_size(bare[i], &u, &err), SIM_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "needs a unit"));
        ck_assert_int_eq(scn_parse_rate(bare[i], &d, &err), SIM_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "needs a unit"));
        ck_assert_int_eq(scn_parse_gts(bare[i], &d, &err), SIM_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "needs a unit"));
        ck_assert_int_eq(scn_parse_flops(bare[i], &d, &err), SIM_EINVAL);
        ck_assert_ptr_nonnull(strstr(err.msg, "needs a unit"));
    }
    static const char *const badt[] = {"", "ns", "abc", "1.2.3 ns", "5 NS", "5 n s", "e5 ns",
                                       "1e ns", "--1 ns", "0x10 ns", "inf s", "nan s", "5 ns x",
                                       NULL};
    for (int i = 0; badt[i]; i++) {
        ck_assert_msg(scn_parse_time(badt[i], &t, &err) == SIM_EINVAL, "'%s' accepted", badt[i]);
        ck_assert_int_eq(err.code, SIM_EINVAL);
    }
    ck_assert_int_eq(scn_parse_time("1e ns", &t, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_size("1 kiB", &u, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_size("1 GB/s", &u, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_size("-1 B", &u, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_rate("1 GB", &d, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_rate("-1 GB/s", &d, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_gts("8 GB/s", &d, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_flops("1 TFLOP", &d, &err), SIM_EINVAL);
    ck_assert_int_eq(scn_parse_time(NULL, &t, &err), SIM_EINVAL);
}
END_TEST

START_TEST(test_bad_scalars)
{
    const scn_node *r = load("i: 12abc\nu: -3\nd: 1.5x\nb: maybe\ne: lur\ns: [1]\n");
    int64_t i;
    uint64_t u;
    double d;
    int b, k;
    const char *s;
    ck_assert_int_eq(scn_get_int(r, "i", 0, &i, &err), SIM_ESCENARIO);
    ck_assert_str_eq(err.msg, "key 'i': '12abc' is not an integer");
    ck_assert_int_eq(scn_get_uint(r, "u", 0, &u, &err), SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "negative"));
    ck_assert_int_eq(scn_get_double(r, "d", 0, &d, &err), SIM_ESCENARIO);
    ck_assert_int_eq(scn_get_bool(r, "b", 0, &b, &err), SIM_ESCENARIO);
    ck_assert_int_eq(err.line, 4);
    static const char *const ev[] = {"lru", "lfu", "fifo", NULL};
    ck_assert_int_eq(scn_get_enum(r, "e", ev, 0, &k, &err), SIM_ESCENARIO);
    ck_assert_str_eq(err.msg, "key 'e': 'lur' is not one of lru, lfu, fifo; did you mean 'lru'?");
    ck_assert_int_eq(scn_get_string(r, "s", NULL, &s, &err), SIM_ESCENARIO);
    ck_assert_int_eq(err.line, 6);
    ck_assert_int_eq(err.col, 4);
}
END_TEST

START_TEST(test_syntax_error)
{
    load_fails("a: 1\nb: 2\n  c: 3\n");
    ck_assert_int_eq(err.code, SIM_ESCENARIO);
    ck_assert_str_eq(err.file, "test.yaml");
    ck_assert_int_eq(err.line, 3);
    ck_assert_int_eq(err.col, 4);
    ck_assert_ptr_nonnull(strstr(err.msg, "mapping values are not allowed"));
    load_fails("list: [1, 2\nnext: 3\n");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.col, 5);
    ck_assert_ptr_nonnull(strstr(err.msg, "started at line 1"));
    load_fails("a: \"unterminated\n");
    ck_assert_int_eq(err.line, 2);
    load_fails("a: 1\n---\nb: 2\n");
    ck_assert_ptr_nonnull(strstr(err.msg, "more than one"));
    ck_assert_int_eq(err.line, 2);
    load_fails("a: 1\na: 2\n");
    ck_assert_str_eq(err.msg, "duplicate key 'a' (first at line 1)");
    ck_assert_int_eq(err.line, 2);
    load_fails("a: *nope\n");
    ck_assert_str_eq(err.msg, "undefined alias '*nope'");
    ck_assert_int_eq(err.col, 4);
    load_fails("? [a, b]\n: 1\n");
    ck_assert_ptr_nonnull(strstr(err.msg, "keys must be scalars"));
    load_fails("m:\n  <<: 5\n");
    ck_assert_ptr_nonnull(strstr(err.msg, "merge key"));
    load_fails("a: \"\\xff\"\nb: \xff\n");
    ck_assert_int_eq(err.line, 2);
    /* YAML tags, on a scalar, a mapping and a sequence, are refused at
     * the tagged node (issue 19). */
    load_fails("a: 1\nb: !!str 5\n");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.col, 4);
    ck_assert_ptr_nonnull(strstr(err.msg, "YAML tags are not supported"));
    ck_assert_ptr_nonnull(strstr(err.msg, "tag:yaml.org,2002:str"));
    load_fails("m: !thing\n  x: 1\n");
    ck_assert_ptr_nonnull(strstr(err.msg, "'!thing'"));
    load_fails("l: !!seq [1]\n");
    ck_assert_ptr_nonnull(strstr(err.msg, "YAML tags"));
}
END_TEST

/* Issue 19, item 6: text from a file goes into messages as a short,
 * escaped excerpt. */
START_TEST(test_excerpt)
{
    char b[4 * SIM_EXCERPT_MAX + 8];
    ck_assert_str_eq(sim_excerpt("plain", b, sizeof b), "plain");
    ck_assert_str_eq(sim_excerpt("a\tb\x01\xff\n", b, sizeof b), "a\\x09b\\x01\\xff\\x0a");
    ck_assert_str_eq(sim_excerpt("0123456789abcdefghijklmnopqrstuvwxyz", b, sizeof b),
                     "0123456789abcdefghijklmnopqrstuv...");
    char tiny[8];
    ck_assert_str_eq(sim_excerpt("\x01\x02\x03", tiny, sizeof tiny), "\\x01...");
    /* an unknown key of any length is quoted cut */
    const scn_node *r = load("root:$6$saltsaltsalt$hashhashhashhashhash:19000:0:99999:7:::: 1\n");
    static const char *const allowed[] = {"name", NULL};
    ck_assert_int_eq(scn_check_keys(r, allowed, "the scenario", &err), SIM_ESCENARIO);
    ck_assert_str_eq(err.msg, "unknown key 'root:$6$saltsaltsalt$hashhashhas...' in the scenario");
}
END_TEST

START_TEST(test_unknown_key)
{
    const scn_node *r = load("components:\n"
                             "  - name: gpu0\n"
                             "    hbm: 80 GiB\n"
                             "    hbm_bw: 4.8 TB/s\n");
    const scn_node *gpu = scn_seq_at(scn_map_get(r, "components"), 0);
    static const char *const allowed[] = {"name", "type", "hbm", "hbm_bandwidth", "flops",
                                          NULL};
    ck_assert_int_eq(scn_check_keys(gpu, allowed, "component 'gpu0'", &err), SIM_ESCENARIO);
    ck_assert_str_eq(err.msg,
                     "unknown key 'hbm_bw' in component 'gpu0'; did you mean 'hbm_bandwidth'?");
    ck_assert_int_eq(err.line, 4);
    ck_assert_int_eq(err.col, 5);
    static const char *const few[] = {"name", "hbm", "hbm_bw", NULL};
    ck_assert_int_eq(scn_check_keys(gpu, few, "component 'gpu0'", &err), 0);
    static const char *const other[] = {"name", "hbm", "zzz", NULL};
    ck_assert_int_eq(scn_check_keys(gpu, other, "x", &err), SIM_ESCENARIO);
    ck_assert_str_eq(err.msg, "unknown key 'hbm_bw' in x");
    ck_assert_int_eq(scn_check_keys(scn_map_get(r, "components"), allowed, "x", &err),
                     SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "must be a mapping"));
}
END_TEST

START_TEST(test_include_errors)
{
    make_tmpdir();
    write_file("a.yaml", "x: 1\ninclude: b.yaml\n");
    write_file("b.yaml", "y: 2\ninclude: a.yaml\n");
    write_file("self.yaml", "include: [self.yaml]\n");
    write_file("missing.yaml", "z: 1\ninclude:\n  - nothere.yaml\n");
    write_file("list.yaml", "- 1\n- 2\n");
    write_file("notmap.yaml", "include: list.yaml\n");
    write_file("bad.yaml", "ok: 1\nbad: [\n");
    write_file("inbad.yaml", "include: bad.yaml\n");

    ck_assert_ptr_null(scn_load(tpath("a.yaml"), &err));
    ck_assert_int_eq(err.code, SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "include cycle"));
    ck_assert_ptr_nonnull(strstr(err.file, "b.yaml"));
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.col, 10);

    ck_assert_ptr_null(scn_load(tpath("self.yaml"), &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "include cycle"));

    ck_assert_ptr_null(scn_load(tpath("missing.yaml"), &err));
    ck_assert_int_eq(err.code, SIM_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "nothere.yaml"));
    ck_assert_str_eq(err.file, tpath("missing.yaml"));
    ck_assert_int_eq(err.line, 3);
    ck_assert_int_eq(err.col, 5);

    ck_assert_ptr_null(scn_load(tpath("notmap.yaml"), &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "must hold a mapping"));

    /* A syntax error inside an included file points into that file. */
    ck_assert_ptr_null(scn_load(tpath("inbad.yaml"), &err));
    ck_assert_ptr_nonnull(strstr(err.file, "bad.yaml"));
    ck_assert_int_eq(err.line, 3);

    ck_assert_ptr_null(scn_load(tpath("no-such-scenario.yaml"), &err));
    ck_assert_int_eq(err.code, SIM_EIO);

    load_fails("include: {a: 1}\n");
    ck_assert_ptr_nonnull(strstr(err.msg, "include"));
}
END_TEST

/* Includes and scenario files are regular files of bounded size: a device,
 * a FIFO (never blocked on), a directory or a huge file is an error at the
 * include's file:line:column, before anything is read. */
START_TEST(test_include_not_regular)
{
    make_tmpdir();
    ck_assert_int_lt(nmade, 16);
    snprintf(made[nmade], sizeof made[nmade], "%s", tpath("fifo"));
    ck_assert_int_eq(mkfifo(made[nmade], 0600), 0);
    nmade++;
    make_dir("dir");
    write_file("big.yaml", "");
    ck_assert_int_eq(truncate(tpath("big.yaml"), 17 << 20), 0);
    write_file("z.yaml", "a: 1\ninclude: /dev/zero\n");
    write_file("f.yaml", "a: 1\nb:\n  include: [fifo]\n");
    write_file("d.yaml", "include: dir\n");
    write_file("g.yaml", "x: 0\ninclude: big.yaml\n");
    static const struct {
        const char *file, *what;
        int line, col;
    } cases[] = {{"z.yaml", "character device", 2, 10},
                 {"f.yaml", "FIFO", 3, 13},
                 {"d.yaml", "directory", 1, 10},
                 {"g.yaml", "MiB", 2, 10}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_err_clear(&err);
        ck_assert_ptr_null(scn_load(tpath(cases[i].file), &err));
        ck_assert_int_eq(err.code, SIM_ESCENARIO);
        ck_assert_str_eq(err.file, tpath(cases[i].file));
        ck_assert_msg(strstr(err.msg, cases[i].what), "%s: %s", cases[i].file, err.msg);
        ck_assert_int_eq(err.line, cases[i].line);
        ck_assert_int_eq(err.col, cases[i].col);
    }
    /* the same for the scenario file itself */
    static const char *const top[] = {"/dev/zero", "fifo", "dir", "big.yaml"};
    for (size_t i = 0; i < 4; i++) {
        sim_err_clear(&err);
        const char *p = top[i][0] == '/' ? top[i] : tpath(top[i]);
        ck_assert_ptr_null(scn_load(p, &err));
        ck_assert_int_eq(err.code, SIM_ESCENARIO);
        ck_assert_msg(strstr(err.msg, "regular file") || strstr(err.msg, "MiB"), "%s: %s", p,
                      err.msg);
    }
}
END_TEST

/* `memfab check` on tmpdir/rel: its exit status, with its output (stdout
 * and stderr) in out (at most outlen bytes). */
static int memfab_check(const char *rel, char *out, size_t outlen)
{
    const char *bin = getenv("MEMFAB_BIN");
    ck_assert_msg(bin != NULL, "MEMFAB_BIN must be set (run through make test)");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' check '%s' 2>&1", bin, tpath(rel));
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A sample interval that would write an unbounded time series is an error
 * at its file:line:column with the number of samples it would write. */
START_TEST(test_sample_interval_bounds)
{
    make_tmpdir();
    write_file("ps.yaml", "name: x\nstop: 10 s\noutput:\n  sample_interval: 1 ps\n");
    write_file("floor.yaml", "name: x\noutput: {sample_interval: 100 ns}\n");
    write_file("long.yaml", "name: x\nstop: 1000 s\noutput: {sample_interval: 10 us}\n");
    write_file("ok.yaml", "name: x\nstop: 10 s\noutput: {sample_interval: 1 us}\n");
    char out[4096];
    ck_assert_int_eq(memfab_check("ps.yaml", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "ps.yaml:4:20:") && strstr(out, "10000000000000 samples"), "%s",
                  out);
    ck_assert_int_eq(memfab_check("floor.yaml", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "floor.yaml:2:27:") && strstr(out, "1 us floor"), "%s", out);
    ck_assert_int_eq(memfab_check("long.yaml", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "long.yaml:3:27:") && strstr(out, "100000000 samples"), "%s", out);
    ck_assert_msg(memfab_check("ok.yaml", out, sizeof out) == 0, "%s", out);
}
END_TEST

START_TEST(test_set_errors)
{
    load(SCN_TEXT);
    static const char *const bad[] = {"noequals", "=5", "a..b=1", ".a=1", "a.=1",
                                      "components.9.hbm=1", "components.gpu7.hbm=1",
                                      "name.x=1", "components=1", "kv=scalar",
                                      "kv.tiers=[unclosed", NULL};
    for (int i = 0; bad[i]; i++) {
        sim_err_clear(&err);
        ck_assert_msg(scn_set(doc, bad[i], &err) == SIM_EINVAL, "'%s' accepted", bad[i]);
        ck_assert_str_eq(err.file, "<command line>");
        ck_assert_msg(strstr(err.msg, bad[i]) != NULL, "'%s' not named in: %s", bad[i], err.msg);
    }
    scn_set(doc, "components.gpu7.hbm=1", &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "no item with name 'gpu7'"));
    scn_set(doc, "components.9.hbm=1", &err);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    /* Nothing was changed by the failed overrides. */
    char h1[65], h2[65];
    scn_sha256(doc, h1);
    scn_doc *fresh = scn_load_string("test.yaml", SCN_TEXT, &err);
    ck_assert_ptr_nonnull(fresh);
    scn_sha256(fresh, h2);
    scn_free(fresh);
    ck_assert_str_eq(h1, h2);
}
END_TEST

/* Only a plain `include` key includes (like `<<`): a quoted one is data, so
 * a baseline whose metric or param is named "include" reads back as
 * written and reads no file. */
START_TEST(test_quoted_include_is_a_key)
{
    sim_err_clear(&err);
    scn_doc *d = scn_load_string("test.yaml", "m: {\"include\": /no/such/file, '<<': x}\n", &err);
    ck_assert_msg(d != NULL, "%s", err.msg);
    const scn_node *m = scn_map_get(scn_root(d), "m");
    ck_assert_str_eq(scn_scalar(scn_map_get(m, "include")), "/no/such/file");
    ck_assert_str_eq(scn_scalar(scn_map_get(m, "<<")), "x");
    scn_free(d);
    /* unquoted, it still includes (and the missing file is an error) */
    ck_assert_ptr_null(scn_load_string("test.yaml", "m: {include: /no/such/file}\n", &err));
    ck_assert_msg(strstr(err.msg, "/no/such/file"), "%s", err.msg);
}
END_TEST

/* Mappings are hash-indexed: a mapping of 200,000 keys (and lookups of each)
 * must load within a CPU limit of 10 s. The linear scan per key took 76 s
 * for 100,000 keys (quadratic: about 300 s for 200,000); the index takes
 * about 0.2 s. */
enum { BIG_KEYS = 200000 };

static int big_mapping(void *arg)
{
    (void)arg;
    size_t cap = (size_t)BIG_KEYS * 24 + 64, n = 0;
    char *text = malloc(cap);
    if (!text)
        return 1;
    n += (size_t)sprintf(text + n, "big:\n");
    for (int i = 0; i < BIG_KEYS; i++)
        n += (size_t)sprintf(text + n, "  key%d: %d\n", i, i);
    sim_err e;
    scn_doc *d = scn_load_string("big.yaml", text, &e);
    free(text);
    if (!d)
        return 1;
    const scn_node *big = scn_map_get(scn_root(d), "big");
    int bad = scn_len(big) != BIG_KEYS;
    for (int i = 0; i < BIG_KEYS && !bad; i += 1) {
        char k[32];
        snprintf(k, sizeof k, "key%d", i);
        const char *v = scn_scalar(scn_map_get(big, k));
        bad = !v || atoi(v) != i || strcmp(scn_map_key(big, (size_t)i), k) != 0;
    }
    bad |= scn_map_get(big, "key200000") != NULL;
    scn_free(d);
    return bad;
}

START_TEST(test_big_mapping_linear)
{
    if (cpulimit_under_valgrind()) {
        fprintf(stderr, "check_scn: under valgrind: the CPU-limited big-mapping test is skipped\n");
        return;
    }
    char why[128];
    ck_assert_msg(cpulimit_run(big_mapping, NULL, 10, why, sizeof why) == 0,
                  "a mapping of %d keys: %s", BIG_KEYS, why);
}
END_TEST

/* The index keeps the mapping semantics: merged (weak) keys replaced by
 * explicit ones move to the end as before, a duplicate explicit key is an
 * error naming the first, in mappings above and below the index size. */
START_TEST(test_big_mapping_semantics)
{
    for (int nk = 4; nk <= 200; nk *= 7) {
        char text[16384];
        size_t n = (size_t)sprintf(text, "base: &b {");
        for (int i = 0; i < nk; i++)
            n += (size_t)sprintf(text + n, "%sk%d: %d", i ? ", " : "", i, i);
        n += (size_t)sprintf(text + n, "}\nm:\n  <<: *b\n  k1: new1\n  k3: new3\n  x: 9\n");
        const scn_node *m = scn_map_get(load(text), "m");
        ck_assert_uint_eq(scn_len(m), (size_t)nk + 1);
        ck_assert_str_eq(scn_scalar(scn_map_get(m, "k1")), "new1");
        ck_assert_str_eq(scn_scalar(scn_map_get(m, "k3")), "new3");
        ck_assert_str_eq(scn_scalar(scn_map_get(m, "k2")), "2");
        /* order: the merged keys but k1 and k3, then k1, k3, x */
        size_t j = 0;
        for (int i = 0; i < nk; i++)
            if (i != 1 && i != 3) {
                char k[16];
                snprintf(k, sizeof k, "k%d", i);
                ck_assert_str_eq(scn_map_key(m, j++), k);
            }
        ck_assert_str_eq(scn_map_key(m, j++), "k1");
        ck_assert_str_eq(scn_map_key(m, j++), "k3");
        ck_assert_str_eq(scn_map_key(m, j++), "x");
        n = 0;
        n += (size_t)sprintf(text, "m:\n");
        for (int i = 0; i < nk; i++)
            n += (size_t)sprintf(text + n, "  k%d: %d\n", i, i);
        sprintf(text + n, "  k%d: again\n", nk / 2);
        ck_assert_int_eq(load_fails(text), SIM_ESCENARIO);
        ck_assert_msg(strstr(err.msg, "duplicate key") && strstr(err.msg, "first at line"), "%s",
                      err.msg);
        ck_assert_int_eq(err.line, nk + 2);
    }
}
END_TEST

static Suite *scn_suite(void)
{
    Suite *s = suite_create("scn");
    TCase *tc = tcase_create("Core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_quoted_include_is_a_key);
    tcase_add_test(tc, test_units_time);
    tcase_add_test(tc, test_units_size);
    tcase_add_test(tc, test_units_rate);
    tcase_add_test(tc, test_units_gts_flops);
    tcase_add_test(tc, test_getters);
    tcase_add_test(tc, test_marks_and_inspection);
    tcase_add_test(tc, test_anchors_merge);
    tcase_add_test(tc, test_include_relative);
    tcase_add_test(tc, test_set);
    tcase_add_test(tc, test_flatten_order);
    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_scenario_hash);
    tcase_add_test(tc, test_suggest);
    suite_add_tcase(s, tc);

    tc = tcase_create("Limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_unit_limits);
    tcase_add_test(tc, test_int_limits);
    tcase_add_test(tc, test_unit_range_position);
    tcase_add_test(tc, test_alias_bomb);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_big_mapping_linear);
    tcase_add_test(tc, test_big_mapping_semantics);
    suite_add_tcase(s, tc);

    tc = tcase_create("Errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_bad_units);
    tcase_add_test(tc, test_bad_scalars);
    tcase_add_test(tc, test_syntax_error);
    tcase_add_test(tc, test_excerpt);
    tcase_add_test(tc, test_unknown_key);
    tcase_add_test(tc, test_include_errors);
    tcase_add_test(tc, test_include_not_regular);
    tcase_add_test(tc, test_sample_interval_bounds);
    tcase_add_test(tc, test_set_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_main(scn_suite());
}
