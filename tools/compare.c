/*
 * compare.c - memfab compare and memfab baseline.
 *
 * compare loads the complete runs of BASE (a results database or a
 * baseline file) and of CAND (a results database), matches every base run
 * to the latest candidate run of the same scenario name and parameters,
 * and compares their metrics (rdb.h lists them) one by one:
 *
 *   same      the values are identical
 *   ok        they differ within the metric's tolerance
 *   better    beyond tolerance, in the good direction        (passes)
 *   worse     beyond tolerance, in the bad direction         (regression)
 *   changed   beyond tolerance, metric without a direction   (regression)
 *   missing   in BASE, not in CAND                           (regression)
 *   new       in CAND only                                   (reported)
 *
 * A base run without a matching candidate run is a regression too; a
 * candidate run without a base run is reported. Exit status: 0 all within
 * tolerance, 3 regression, 2 bad input (unreadable files, bad options, no
 * complete run, no run matched at all).
 *
 * Matching: names equal and, for two databases, every parameter equal
 * (except those given to --ignore-param); for a baseline file, which keeps
 * only key parameters, every parameter the baseline lists must be equal.
 */
#include "compare.h"

#include <ctype.h>
#include <fnmatch.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "results/res.h"
#include "sim/mem.h"
#include "sim/scn.h"
#include "sim/yamlout.h"
#include "tools/commands.h"
#include "tools/safeout.h"

/* ---- tolerances and directions ---------------------------------------- */

int cmp_parse_tol(const char *s, cmp_tol *out)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        return SIM_EINVAL;
    while (isspace((unsigned char)*end))
        end++;
    int rel = 0;
    if (*end == '%') {
        rel = 1;
        end++;
        while (isspace((unsigned char)*end))
            end++;
    }
    if (*end)
        return SIM_EINVAL;
    out->relative = rel;
    out->value = rel ? v / 100.0 : v;
    return 0;
}

static int contains_any(const char *s, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (strstr(s, words[i]))
            return 1;
    return 0;
}

cmp_dir cmp_direction(const char *name, const char *unit)
{
    /* Keep these lists, compare.h, compare_usage and the README in step. */
    static const char *const higher[] = {"hit", "throughput", "bandwidth", "goodput",
                                         "tokens_per_s", "per_s", "cached_share", "attainment",
                                         "completed", NULL};
    static const char *const lower[] = {"latency", "ttft", "tpot", "e2e", "wait", "delay",
                                        "stall", "miss", "evict", "drop", "refused", "queue",
                                        "reject", "preempt", "unfinished", "error",
                                        "retransmit", "pause", "energy", NULL};
    static const char *const time_units[] = {"ps", "ns", "us", "ms", "s", NULL};
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char low[256];
    size_t i = 0;
    for (; base[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)base[i]);
    low[i] = '\0';
    /* ttft_count, latency:rdma_count: how many samples a distribution has,
     * which is neither good nor bad (retransmits, errors: not "_count"). */
    if (i >= 6 && strcmp(low + i - 6, "_count") == 0)
        return CMP_NEUTRAL;
    if (contains_any(low, higher))
        return CMP_HIGHER;
    if (contains_any(low, lower))
        return CMP_LOWER;
    unit = unit ? unit : "";
    for (i = 0; time_units[i]; i++)
        if (strcmp(unit, time_units[i]) == 0)
            return CMP_LOWER;
    size_t ul = strlen(unit);
    if (ul > 2 && strcmp(unit + ul - 2, "/s") == 0)
        return CMP_HIGHER;
    return CMP_NEUTRAL;
}

enum { RULE_TOL, RULE_DIR, RULE_IGNORE };

typedef struct rule {
    int kind;                  /* RULE_* */
    char *glob;                /* metric name pattern (fnmatch) */
    cmp_tol tol;               /* RULE_TOL */
    cmp_dir dir;               /* RULE_DIR */
    char *origin;              /* where it was given: "--tol" or "FILE:LINE:COL" */
} rule;

typedef struct rules {
    rule *r;
    size_t n;
    cmp_tol deflt;             /* --tolerance, default 2% */
} rules;

static int rule_add(rules *rs, int kind, const char *glob, size_t glen, cmp_tol tol, cmp_dir dir,
                    const char *origin)
{
    rule *r = sim_realloc(rs->r, (rs->n + 1) * sizeof *r);
    if (!r)
        return SIM_ENOMEM;
    rs->r = r;
    char *g = sim_alloc(glen + 1), *o = sim_strdup(origin);
    if (!g || !o) {
        sim_free(g);
        sim_free(o);
        return SIM_ENOMEM;
    }
    memcpy(g, glob, glen);
    g[glen] = '\0';
    r[rs->n++] = (rule){kind, g, tol, dir, o};
    return 0;
}

/* "FILE:LINE:COL" of a node of the tolerance file. */
static const char *node_origin(const scn_node *n)
{
    static char buf[640];
    snprintf(buf, sizeof buf, "%s:%d:%d", scn_node_file(n) ? scn_node_file(n) : "?",
             scn_node_line(n), scn_node_col(n));
    return buf;
}

static void rules_free(rules *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        sim_free(rs->r[i].glob);
        sim_free(rs->r[i].origin);
    }
    sim_free(rs->r);
}

/* Report (on stderr) every rule whose glob matches no metric of either side:
 * a misspelt or mis-scoped glob would otherwise leave its metric on the
 * default tolerance or direction without a word. Returns how many. */
static int report_unmatched(const rules *rs, const rdb_set *const *sets, int nsets)
{
    static const char *const what[] = {"tolerance", "direction", "ignore"};
    int n = 0;
    for (size_t i = 0; i < rs->n; i++) {
        int hit = 0;
        for (int k = 0; k < nsets && !hit; k++)
            for (size_t r = 0; r < sets[k]->n && !hit; r++)
                for (size_t m = 0; m < sets[k]->runs[r].nmetrics && !hit; m++)
                    hit = fnmatch(rs->r[i].glob, sets[k]->runs[r].metrics[m].name, 0) == 0;
        if (!hit) {
            fprintf(stderr, "memfab compare: warning: %s: %s glob '%s' matches no metric"
                            " (metrics are SCOPE/NAME, e.g. gpu0/latency_p99; --all lists"
                            " them)\n", rs->r[i].origin, what[rs->r[i].kind], rs->r[i].glob);
            n++;
        }
    }
    return n;
}

static int parse_dir(const char *s, cmp_dir *d)
{
    if (strcmp(s, "higher") == 0)
        *d = CMP_HIGHER;
    else if (strcmp(s, "lower") == 0)
        *d = CMP_LOWER;
    else if (strcmp(s, "none") == 0 || strcmp(s, "neutral") == 0)
        *d = CMP_NEUTRAL;
    else
        return SIM_EINVAL;
    return 0;
}

/* "GLOB=VALUE" on the command line. */
static int rule_arg(rules *rs, int kind, const char *arg, const char *opt)
{
    const char *eq = strrchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "memfab compare: %s '%s': expected METRIC=VALUE\n", opt, arg);
        return SIM_EXIT_USAGE;
    }
    cmp_tol t = {0, 0};
    cmp_dir d = CMP_NEUTRAL;
    if (kind == RULE_TOL && cmp_parse_tol(eq + 1, &t)) {
        fprintf(stderr, "memfab compare: %s '%s': '%s' is not a tolerance (5%% relative, 0.1"
                        " absolute)\n", opt, arg, eq + 1);
        return SIM_EXIT_USAGE;
    }
    if (kind == RULE_DIR && parse_dir(eq + 1, &d)) {
        fprintf(stderr, "memfab compare: %s '%s': expected higher, lower or none\n", opt, arg);
        return SIM_EXIT_USAGE;
    }
    return rule_add(rs, kind, arg, (size_t)(eq - arg), t, d, opt) ? SIM_EXIT_RUNTIME : 0;
}

/* The tolerance file:
 *   default: 2%
 *   metrics:    {"GLOB": 5%, ...}
 *   directions: {"GLOB": higher|lower|none, ...}
 *   ignore:     ["GLOB", ...]                                  */
static int load_tolerances(const char *path, rules *rs, int *have_default, sim_err *err)
{
    scn_doc *d = scn_load(path, err);
    if (!d)
        return SIM_ESCENARIO;
    const scn_node *root = scn_root(d);
    static const char *const keys[] = {"default", "metrics", "directions", "ignore", NULL};
    int rc = scn_check_keys(root, keys, "tolerance file", err);
    const scn_node *n;
    if (!rc && (n = scn_map_get(root, "default"))) {
        if (!scn_scalar(n) || cmp_parse_tol(scn_scalar(n), &rs->deflt))
            rc = scn_error(err, n, "default: expected a tolerance such as 2%% or 0.1");
        *have_default = 1;
    }
    if (!rc && (n = scn_map_get(root, "metrics"))) {
        if (scn_node_kind(n) != SCN_MAP)
            rc = scn_error(err, n, "metrics: expected a mapping of METRIC-GLOB: TOLERANCE");
        for (size_t i = 0; !rc && i < scn_len(n); i++) {
            const scn_node *v = scn_map_value(n, i);
            cmp_tol t;
            if (!scn_scalar(v) || cmp_parse_tol(scn_scalar(v), &t))
                rc = scn_error(err, v, "'%s': expected a tolerance such as 5%% or 0.1",
                               scn_map_key(n, i));
            else if (rule_add(rs, RULE_TOL, scn_map_key(n, i), strlen(scn_map_key(n, i)), t,
                              CMP_NEUTRAL, node_origin(scn_map_key_node(n, i))))
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        }
    }
    if (!rc && (n = scn_map_get(root, "directions"))) {
        if (scn_node_kind(n) != SCN_MAP)
            rc = scn_error(err, n, "directions: expected a mapping of METRIC-GLOB: DIRECTION");
        for (size_t i = 0; !rc && i < scn_len(n); i++) {
            const scn_node *v = scn_map_value(n, i);
            cmp_dir dd;
            cmp_tol t = {0, 0};
            if (!scn_scalar(v) || parse_dir(scn_scalar(v), &dd))
                rc = scn_error(err, v, "'%s': expected higher, lower or none", scn_map_key(n, i));
            else if (rule_add(rs, RULE_DIR, scn_map_key(n, i), strlen(scn_map_key(n, i)), t, dd,
                              node_origin(scn_map_key_node(n, i))))
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        }
    }
    if (!rc && (n = scn_map_get(root, "ignore"))) {
        if (scn_node_kind(n) != SCN_SEQ)
            rc = scn_error(err, n, "ignore: expected a list of metric globs");
        for (size_t i = 0; !rc && i < scn_len(n); i++) {
            const scn_node *v = scn_seq_at(n, i);
            cmp_tol t = {0, 0};
            if (!scn_scalar(v))
                rc = scn_error(err, v, "ignore: expected a metric glob");
            else if (rule_add(rs, RULE_IGNORE, scn_scalar(v), strlen(scn_scalar(v)), t,
                              CMP_NEUTRAL, node_origin(v)))
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        }
    }
    scn_free(d);
    return rc;
}

/* The last rule of that kind whose glob matches, or NULL. */
static const rule *rule_find(const rules *rs, int kind, const char *name)
{
    for (size_t i = rs->n; i-- > 0;)
        if (rs->r[i].kind == kind && fnmatch(rs->r[i].glob, name, 0) == 0)
            return &rs->r[i];
    return NULL;
}

int cmp_check_tolerances(const char *path, const char *const *metrics, size_t nmetrics,
                         size_t *matched, sim_err *err)
{
    rules rs;
    memset(&rs, 0, sizeof rs);
    int hd = 0, rc = load_tolerances(path, &rs, &hd, err);
    size_t hits = 0;
    for (size_t m = 0; !rc && m < nmetrics; m++)
        for (int kind = RULE_TOL; kind <= RULE_IGNORE; kind++)
            hits += rule_find(&rs, kind, metrics[m]) != NULL;
    rules_free(&rs);
    if (!rc && matched)
        *matched = hits;
    return rc;
}

/* ---- baseline files ---------------------------------------------------- */

/* A baseline value: a finite number, or null (~) for a metric the run had
 * no value for (written for NaN, it matches only a candidate without one).
 * *ok: 1 a value, 0 not a number, -1 not finite (.inf, -.inf, .nan, 1e999,
 * which a tolerance cannot bound: every candidate would pass). */
static double parse_yaml_number(const char *s, int *ok)
{
    *ok = 1;
    if (!strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL") || !strcmp(s, "~"))
        return NAN;
    static const char *const nonfinite[] = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
                                            "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
                                            "-.INF", NULL};
    for (size_t i = 0; nonfinite[i]; i++)
        if (!strcmp(s, nonfinite[i])) {
            *ok = -1;
            return NAN;
        }
    char *end;
    double v = strtod(s, &end);
    *ok = end != s && *end == '\0';
    if (*ok && !isfinite(v))   /* inf, nan, 1e999 as strtod reads them */
        *ok = -1;
    return v;
}

int cmp_load_baseline(const char *path, rdb_set *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    scn_doc *d = scn_load(path, err);
    if (!d)
        return err->code ? err->code : SIM_ESCENARIO;
    const scn_node *root = scn_root(d), *runs, *n;
    int rc = 0;
    static const char *const top[] = {"memfab_baseline", "runs", NULL};
    static const char *const run_keys[] = {"scenario", "run_id", "scenario_sha256", "seed",
                                           "version", "params", "metrics", NULL};
    if ((rc = scn_check_keys(root, top, "baseline file", err)))
        goto out;
    n = scn_map_get(root, "memfab_baseline");
    if (!n || !scn_scalar(n) || strcmp(scn_scalar(n), "1") != 0) {
        rc = scn_error(err, n ? n : root, "not a memfab baseline file (expected"
                                          " 'memfab_baseline: 1')");
        goto out;
    }
    runs = scn_map_get(root, "runs");
    if (!runs || scn_node_kind(runs) != SCN_SEQ) {
        rc = scn_error(err, runs ? runs : root, "runs: expected a list of runs");
        goto out;
    }
    out->runs = sim_calloc(scn_len(runs) + 1, sizeof *out->runs);
    if (!out->runs) {
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < scn_len(runs); i++) {
        const scn_node *rn = scn_seq_at(runs, i);
        if ((rc = scn_check_keys(rn, run_keys, "baseline run", err)))
            goto out;
        rdb_run *r = &out->runs[out->n++];
        const char *name = NULL, *sha = "", *ver = "";
        uint64_t seed = 0;
        if ((rc = scn_get_string(rn, "scenario", NULL, &name, err)) ||
            (rc = scn_get_string(rn, "scenario_sha256", "", &sha, err)) ||
            (rc = scn_get_string(rn, "version", "", &ver, err)) ||
            (rc = scn_get_uint(rn, "seed", 0, &seed, err)))
            goto out;
        if (!name) {
            rc = scn_error(err, rn, "baseline run without 'scenario'");
            goto out;
        }
        r->name = sim_strdup(name);
        r->sha = sim_strdup(sha);
        r->version = sim_strdup(ver);
        r->status = sim_strdup("complete");
        r->error = sim_strdup("");
        r->seed = seed;
        if (!r->name || !r->sha || !r->version || !r->status || !r->error) {
            rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
            goto out;
        }
        const scn_node *ps = scn_map_get(rn, "params");
        if (ps && scn_node_kind(ps) != SCN_MAP) {
            rc = scn_error(err, ps, "params: expected a mapping KEY: VALUE");
            goto out;
        }
        for (size_t j = 0; ps && j < scn_len(ps); j++) {
            const scn_node *v = scn_map_value(ps, j);
            if (!scn_scalar(v)) {
                rc = scn_error(err, v, "param '%s': expected a scalar", scn_map_key(ps, j));
                goto out;
            }
            if (rdb_param_put(r, scn_map_key(ps, j), scn_scalar(v))) {
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                goto out;
            }
        }
        const scn_node *ms = scn_map_get(rn, "metrics");
        if (ms && scn_node_kind(ms) != SCN_MAP) {
            rc = scn_error(err, ms, "metrics: expected a mapping NAME: {value: V, unit: U}");
            goto out;
        }
        for (size_t j = 0; ms && j < scn_len(ms); j++) {
            const scn_node *v = scn_map_value(ms, j), *vv = v;
            const char *unit = "";
            if (scn_node_kind(v) == SCN_MAP) {
                static const char *const mk[] = {"value", "unit", NULL};
                if ((rc = scn_check_keys(v, mk, "baseline metric", err)))
                    goto out;
                vv = scn_map_get(v, "value");
                if ((rc = scn_get_string(v, "unit", "", &unit, err)))
                    goto out;
            }
            int ok = 0;
            double x = vv && scn_scalar(vv) ? parse_yaml_number(scn_scalar(vv), &ok) : 0;
            if (ok < 0) {
                rc = scn_error(err, vv, "metric '%s': '%s' is not a finite number; a baseline"
                               " value must be finite (null for a metric without a value)",
                               scn_map_key(ms, j), scn_scalar(vv));
                goto out;
            }
            if (!ok) {
                rc = scn_error(err, vv ? vv : v, "metric '%s': expected a number",
                               scn_map_key(ms, j));
                goto out;
            }
            if (rdb_metric_add(r, scn_map_key(ms, j), x, unit)) {
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                goto out;
            }
        }
    }
out:
    scn_free(d);
    if (rc)
        rdb_set_free(out);
    return rc;
}

/* A finite number, or null for NaN (no value); the caller refuses infinities. */
static void yaml_number(FILE *f, double v)
{
    if (isnan(v))
        fputs("null", f);
    else
        fprintf(f, "%.17g", v);
}

/* A string a baseline writes must be UTF-8: YAML text cannot hold other
 * bytes (sim/yamlout.h). SIM_EINVAL naming the field (what, and the param
 * or metric it belongs to) and the first bad byte. */
static int utf8_field(const rdb_run *r, const char *what, const char *key, const char *s,
                      sim_err *err)
{
    size_t bad = 0;
    if (!yaml_utf8_check(s, &bad))
        return 0;
    char ex[SIM_EXCERPT_MAX * 4 + 8], kx[SIM_EXCERPT_MAX * 4 + 8] = "";
    sim_excerpt(s, ex, sizeof ex);
    if (key)
        sim_excerpt(key, kx, sizeof kx);
    return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                       "run %lld: %s%s%s%s is not UTF-8 (byte 0x%02x at offset %zu of '%s');"
                       " YAML text holds only Unicode characters, so a baseline cannot keep"
                       " it: leave the run out (--run, --where) or rename it",
                       (long long)r->id, what, key ? " '" : "", kx, key ? "'" : "",
                       (unsigned)(unsigned char)s[bad], bad, ex);
}

/* Every string of run r that a baseline writes (params only where keep[p],
 * or all when keep is NULL). */
static int baseline_check_utf8(const rdb_run *r, const unsigned char *keep, sim_err *err)
{
    int rc = 0;
    if ((rc = utf8_field(r, "scenario name", NULL, r->name, err)) ||
        (rc = utf8_field(r, "scenario_sha256", NULL, r->sha, err)) ||
        (rc = utf8_field(r, "version", NULL, r->version, err)))
        return rc;
    for (size_t p = 0; p < r->nparams && !rc; p++)
        if (!keep || keep[p])
            if (!(rc = utf8_field(r, "param name", NULL, r->params[p].key, err)))
                rc = utf8_field(r, "value of param", r->params[p].key, r->params[p].value, err);
    for (size_t m = 0; m < r->nmetrics && !rc; m++)
        if (!(rc = utf8_field(r, "metric name", NULL, r->metrics[m].name, err)))
            rc = utf8_field(r, "unit of metric", r->metrics[m].name, r->metrics[m].unit, err);
    return rc;
}

/* A mapping key at `indent` spaces, up to its value. A quoted key of more
 * than 1000 bytes is written as an explicit key (`? KEY` then `: `): YAML
 * limits an implicit key to one line of at most 1024 characters (YAML
 * 1.2.2 section 7.4; libyaml: "could not find expected ':'"). */
static int yaml_key(FILE *f, int indent, const char *key)
{
    size_t bad;
    char *q = yaml_quote(key, &bad);
    if (!q)
        return bad == (size_t)-1 ? SIM_ENOMEM : SIM_EINVAL;
    if (strlen(q) > 1000)
        fprintf(f, "%*s? %s\n%*s: ", indent, "", q, indent, "");
    else
        fprintf(f, "%*s%s: ", indent, "", q);
    sim_free(q);
    return 0;
}

int cmp_baseline_write_run(FILE *f, const rdb_run *r, const unsigned char *keep, sim_err *err)
{
    int rc = baseline_check_utf8(r, keep, err);
    if (rc)
        return rc;
    size_t nkey = 0;
    for (size_t p = 0; p < r->nparams; p++)
        nkey += !keep || keep[p];
    /* Every string is valid UTF-8 now: yaml_write_quoted fails only for
     * memory, which the first failure reports. */
    fputs("  - scenario: ", f);
    rc = yaml_write_quoted(f, r->name, NULL);
    fprintf(f, "\n    run_id: %lld\n    scenario_sha256: ", (long long)r->id);
    rc = rc ? rc : yaml_write_quoted(f, r->sha, NULL);
    fprintf(f, "\n    seed: %llu\n    version: ", (unsigned long long)r->seed);
    rc = rc ? rc : yaml_write_quoted(f, r->version, NULL);
    fputs(nkey ? "\n    params:\n" : "\n    params: {}\n", f);
    for (size_t p = 0; p < r->nparams && !rc; p++)
        if (!keep || keep[p]) {
            rc = yaml_key(f, 6, r->params[p].key);
            rc = rc ? rc : yaml_write_quoted(f, r->params[p].value, NULL);
            fputc('\n', f);
        }
    fputs(r->nmetrics ? "    metrics:\n" : "    metrics: {}\n", f);
    for (size_t m = 0; m < r->nmetrics && !rc; m++) {
        rc = yaml_key(f, 6, r->metrics[m].name);
        fputs("{value: ", f);
        yaml_number(f, r->metrics[m].value);
        fputs(", unit: ", f);
        rc = rc ? rc : yaml_write_quoted(f, r->metrics[m].unit, NULL);
        fputs("}\n", f);
    }
    return rc ? sim_err_set(err, rc, NULL, 0, 0, "out of memory") : 0;
}

/* ---- loading both sides -------------------------------------------------- */

typedef struct side {
    const char *path;          /* as given */
    int is_baseline;           /* a baseline file, not a database */
    res_db *db;                /* open database, or NULL */
    rdb_set set;               /* complete runs, with metrics */
} side;

/* Do two runs match? subset: only the base's params are checked. */
static int params_differ(const rdb_run *b, const rdb_run *c, int subset, char *const *ign,
                         size_t nign, const char **which)
{
    for (int pass = 0; pass < (subset ? 1 : 2); pass++) {
        const rdb_run *x = pass ? c : b, *y = pass ? b : c;
        for (size_t i = 0; i < x->nparams; i++) {
            int ignored = 0;
            for (size_t k = 0; k < nign && !ignored; k++)
                ignored = fnmatch(ign[k], x->params[i].key, 0) == 0;
            if (ignored)
                continue;
            const char *v = rdb_param_get(y, x->params[i].key);
            if (!v || strcmp(v, x->params[i].value) != 0) {
                if (which)
                    *which = x->params[i].key;
                return 1;
            }
        }
    }
    return 0;
}

static int count_differences(const rdb_run *b, const rdb_run *c, int subset, char *const *ign,
                             size_t nign)
{
    int n = 0;
    for (size_t i = 0; i < b->nparams; i++) {
        const char *v = rdb_param_get(c, b->params[i].key);
        int ignored = 0;
        for (size_t k = 0; k < nign && !ignored; k++)
            ignored = fnmatch(ign[k], b->params[i].key, 0) == 0;
        n += !ignored && (!v || strcmp(v, b->params[i].value) != 0);
    }
    (void)subset;
    return n;
}

static int load_side(side *s, int allow_baseline, int64_t run_id, sim_err *err)
{
    int kind = rdb_is_sqlite(s->path);
    if (kind < 0)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot read the file", s->path);
    if (!kind) {
        if (!allow_baseline)
            return sim_err_set(err, SIM_EFORMAT, NULL, 0, 0,
                               "%s: not a results database (a baseline file can only be BASE)",
                               s->path);
        s->is_baseline = 1;
        return cmp_load_baseline(s->path, &s->set, err);
    }
    s->db = res_open_readonly(s->path, err);
    if (!s->db)
        return err->code ? err->code : SIM_EFORMAT;
    sqlite3 *h = res_handle(s->db);
    int rc = rdb_load_runs(h, &s->set, err);
    if (rc)
        return rc;
    rdb_filter(&s->set, run_id ? &run_id : NULL, run_id ? 1 : 0, NULL, 0, 1, err);
    for (size_t i = 0; i < s->set.n; i++)
        if ((rc = rdb_load_metrics(h, &s->set.runs[i], err)))
            return rc;
    return 0;
}

/* ---- output ------------------------------------------------------------- */

enum { ST_SAME, ST_OK, ST_BETTER, ST_WORSE, ST_CHANGED, ST_MISSING, ST_NEW, ST_N };
static const char *const st_name[ST_N] = {"same", "ok", "better", "WORSE", "CHANGED", "MISSING",
                                          "new"};
#define IS_REGRESSION(st) ((st) >= ST_WORSE && (st) <= ST_MISSING)

/* A growing string; on allocation failure it stops growing and sets oom. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *p = sim_realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        sb_put(b, small, (size_t)n);
        return;
    }
    char *big = sim_alloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(b, big, (size_t)n);
    sim_free(big);
}

/* Markdown text: table pipes, emphasis and HTML are escaped. */
static void sb_md(sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("\\`*_{}[]|#", *s))
            sb_printf(b, "\\%c", *s);
        else if (*s == '<')
            sb_put(b, "&lt;", 4);
        else if (*s == '>')
            sb_put(b, "&gt;", 4);
        else if (*s == '&')
            sb_put(b, "&amp;", 5);
        else if (*s == '\n' || *s == '\r')
            sb_put(b, " ", 1);
        else
            sb_put(b, s, 1);
    }
}

/* One markdown table row, kept until the report is assembled. */
typedef struct md_row {
    char *line;                /* "| run | metric | ... |\n" */
    int st;
    int cls;                   /* 0 missing, 1 no finite difference, 2 a number */
    double over;               /* |change| / tolerance (inf for tolerance 0) */
    double rel;                /* |change| / |base| */
    size_t order;
} md_row;

typedef struct md_note {
    char *text;                /* markdown */
    int fail;                  /* counts against the verdict */
} md_note;

typedef struct out_ctx {
    FILE *f;
    int md;                    /* markdown */
    int all;                   /* print identical rows too */
    int counts[ST_N];
    int header_done;
    md_row *rows;              /* md: every row printed, in order */
    size_t nrows;
    md_note *notes;            /* md: notes, in order */
    size_t nnotes;
    int oom;
} out_ctx;

static void out_free(out_ctx *o)
{
    for (size_t i = 0; i < o->nrows; i++)
        sim_free(o->rows[i].line);
    for (size_t i = 0; i < o->nnotes; i++)
        sim_free(o->notes[i].text);
    sim_free(o->rows);
    sim_free(o->notes);
}

static void md_add_note(out_ctx *o, sbuf *b, int fail)
{
    md_note *n = b->oom ? NULL : sim_realloc(o->notes, (o->nnotes + 1) * sizeof *n);
    if (!n) {
        o->oom = 1;
        sim_free(b->s);
        return;
    }
    o->notes = n;
    n[o->nnotes++] = (md_note){b->s, fail};
}

static void fmt_value(char *buf, size_t n, const rdb_metric *m)
{
    if (!m)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.6g%s%s", m->value, m->unit[0] ? " " : "", m->unit);
}

static void fmt_tol(char *buf, size_t n, cmp_tol t)
{
    if (t.relative)
        snprintf(buf, n, "%g%%", t.value * 100);
    else
        snprintf(buf, n, "±%g", t.value);
}

static const char md_table_head[] = "| run | metric | base | cand | change | tolerance | status |\n"
                                    "|---|---|---:|---:|---:|---:|---|\n";

static void print_row(out_ctx *o, const char *run, const char *metric, const rdb_metric *b,
                      const rdb_metric *c, cmp_tol tol, int st)
{
    o->counts[st]++;
    if (!o->all && (st == ST_SAME))
        return;
    char bv[64], cv[64], ch[48] = "", tv[32];
    fmt_value(bv, sizeof bv, b);
    fmt_value(cv, sizeof cv, c);
    fmt_tol(tv, sizeof tv, tol);
    double d = NAN;
    if (b && c && !isnan(b->value) && !isnan(c->value)) {
        d = c->value - b->value;
        if (b->value != 0 && isfinite(b->value))
            snprintf(ch, sizeof ch, "%+.3g%%", 100.0 * d / fabs(b->value));
        else
            snprintf(ch, sizeof ch, "%+.4g", d);
    }
    if (o->md) {
        sbuf l = {0};
        sb_put(&l, "| ", 2);
        sb_md(&l, run);
        sb_put(&l, " | ", 3);
        sb_md(&l, metric);
        sb_printf(&l, " | %s | %s | %s | %s | %s%s%s |\n", bv, cv, ch, tv,
                  IS_REGRESSION(st) ? "**" : "", st_name[st], IS_REGRESSION(st) ? "**" : "");
        md_row *r = l.oom ? NULL : sim_realloc(o->rows, (o->nrows + 1) * sizeof *r);
        if (!r) {
            o->oom = 1;
            sim_free(l.s);
            return;
        }
        o->rows = r;
        md_row *x = &r[o->nrows];
        *x = (md_row){l.s, st, 2, 0, 0, o->nrows};
        o->nrows++;
        if (st == ST_MISSING || !b || !c) {
            x->cls = 0;
        } else if (!isfinite(d)) {
            x->cls = 1;
        } else {
            double lim = tol.relative ? tol.value * fabs(b->value) : tol.value;
            x->over = lim > 0 ? fabs(d) / lim : INFINITY;
            x->rel = b->value != 0 ? fabs(d) / fabs(b->value) : INFINITY;
        }
        return;
    }
    if (!o->header_done)
        fprintf(o->f, "  %-44s %16s %16s %10s %8s  %s\n", "metric", "base", "cand", "change",
                "tol", "status");
    o->header_done = 1;
    fprintf(o->f, "  %-44s %16s %16s %10s %8s  %s\n", metric, bv, cv, ch, tv, st_name[st]);
}

static void print_run_header(out_ctx *o, const char *label, const rdb_run *b, const rdb_run *c,
                             const side *bs)
{
    if (o->md) {
        if (b->sha[0] && c->sha[0] && strcmp(b->sha, c->sha) != 0) {
            sbuf n = {0};
            sb_md(&n, label);
            sb_printf(&n, ": the effective scenario changed (sha256 %.12s -> %.12s)", b->sha,
                      c->sha);
            md_add_note(o, &n, 0);
        }
        return;
    }
    char bid[32];
    if (bs->is_baseline)
        snprintf(bid, sizeof bid, "baseline");
    else
        snprintf(bid, sizeof bid, "run %lld", (long long)b->id);
    fprintf(o->f, "%s: %s vs run %lld\n", label, bid, (long long)c->id);
    if (b->sha[0] && c->sha[0] && strcmp(b->sha, c->sha) != 0)
        fprintf(o->f, "  note: the effective scenario changed (sha256 %.12s -> %.12s)\n", b->sha,
                c->sha);
    o->header_done = 0;
}

/* A note (fail: it is a regression or failure, listed first in markdown). */
static void print_note(out_ctx *o, int fail, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void print_note(out_ctx *o, int fail, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (o->md) {
        sbuf n = {0};
        sb_md(&n, buf);
        md_add_note(o, &n, fail);
    } else {
        fprintf(o->f, "%s\n", buf);
    }
}

/* Compare the metrics of one pair of runs. */
static void compare_pair(out_ctx *o, const rules *rs, const rdb_run *b, const rdb_run *c)
{
    const char *label = b->label ? b->label : b->name;
    for (int pass = 0; pass < 2; pass++) {
        const rdb_run *x = pass ? c : b;
        for (size_t i = 0; i < x->nmetrics; i++) {
            const rdb_metric *m = &x->metrics[i];
            if (rule_find(rs, RULE_IGNORE, m->name))
                continue;
            const rule *tr = rule_find(rs, RULE_TOL, m->name);
            cmp_tol tol = tr ? tr->tol : rs->deflt;
            if (pass == 1) {
                if (!rdb_metric_get(b, m->name))
                    print_row(o, label, m->name, NULL, m, tol, ST_NEW);
                continue;
            }
            const rdb_metric *cm = rdb_metric_get(c, m->name);
            if (!cm) {
                print_row(o, label, m->name, m, NULL, tol, ST_MISSING);
                continue;
            }
            double bv = m->value, cv = cm->value;
            int st;
            if ((isnan(bv) && isnan(cv)) || bv == cv) {
                st = ST_SAME;
            } else if (isnan(bv) || isnan(cv) || isinf(bv) || isinf(cv)) {
                st = ST_CHANGED;   /* no tolerance bounds an infinite difference */
            } else {
                double lim = tol.relative ? tol.value * fabs(bv) : tol.value;
                if (fabs(cv - bv) <= lim) {
                    st = ST_OK;
                } else {
                    const rule *dr = rule_find(rs, RULE_DIR, m->name);
                    cmp_dir d = dr ? dr->dir : cmp_direction(m->name, m->unit);
                    if (d == CMP_NEUTRAL)
                        st = ST_CHANGED;
                    else
                        st = ((cv > bv) == (d == CMP_HIGHER)) ? ST_BETTER : ST_WORSE;
                }
            }
            print_row(o, label, m->name, m, cm, tol, st);
        }
    }
}

/* Worst first: missing metrics, differences no tolerance bounds, then by
 * how many tolerances the change spans, then by relative change. */
static int row_worse_first(const void *pa, const void *pb)
{
    const md_row *a = *(md_row *const *)pa, *b = *(md_row *const *)pb;
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    if (a->over != b->over)
        return a->over > b->over ? -1 : 1;
    if (a->rel != b->rel)
        return a->rel > b->rel ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Room kept for the short lines around the tables ("... more", the
 * <details> tags, the closing line): each is under 200 bytes. */
enum { MD_SLACK = 1024 };

/* The markdown report: a verdict, the regressions worst first (at most
 * top of them), then every row in a collapsed <details>, all within
 * max_bytes (0: no limit). Returns 0 or SIM_ENOMEM. */
static int md_report(out_ctx *o, const char *title, int matched, int missing_runs, int total,
                     int top, size_t max_bytes)
{
    int regress = o->counts[ST_WORSE] + o->counts[ST_CHANGED] + o->counts[ST_MISSING] +
                  missing_runs;
    size_t nfail = 0, nreg = 0;
    for (size_t i = 0; i < o->nnotes; i++)
        nfail += o->notes[i].fail != 0;
    size_t limit = max_bytes ? max_bytes : (size_t)-1;
    md_row **reg = sim_calloc(o->nrows + 1, sizeof *reg);
    if (!reg)
        return SIM_ENOMEM;
    for (size_t i = 0; i < o->nrows; i++)
        if (IS_REGRESSION(o->rows[i].st))
            reg[nreg++] = &o->rows[i];
    qsort(reg, nreg, sizeof *reg, row_worse_first);

    sbuf h = {0};
    int other_fail = (int)nfail - missing_runs;
    if (regress)
        sb_printf(&h, "### :x: %s: REGRESSION\n\n", title);
    else if (other_fail > 0)
        sb_printf(&h, "### :x: %s: FAILED\n\n", title);
    else
        sb_printf(&h, "### :white_check_mark: %s: all within tolerance\n\n", title);
    sb_printf(&h, "%d run%s matched, %d metrics: %d same, %d ok, %d better, **%d worse**,"
                  " **%d changed**, **%d missing**, %d new; %d run%s missing.\n\n",
              matched, matched == 1 ? "" : "s", total, o->counts[ST_SAME], o->counts[ST_OK],
              o->counts[ST_BETTER], o->counts[ST_WORSE], o->counts[ST_CHANGED],
              o->counts[ST_MISSING], o->counts[ST_NEW], missing_runs,
              missing_runs == 1 ? "" : "s");
    /* Notes, failures first, within half the budget. */
    size_t shown_notes = 0;
    for (int fail = 1; fail >= 0; fail--)
        for (size_t i = 0; i < o->nnotes; i++) {
            if ((o->notes[i].fail != 0) != fail)
                continue;
            size_t len = strlen(o->notes[i].text) + 16;
            if (h.n + len + MD_SLACK > limit / 2)
                continue;
            sb_printf(&h, "- %s%s\n", fail ? ":x: " : "", o->notes[i].text);
            shown_notes++;
        }
    if (shown_notes < o->nnotes)
        sb_printf(&h, "- ... %zu more note%s left out (size limit)\n", o->nnotes - shown_notes,
                  o->nnotes - shown_notes == 1 ? "" : "s");
    if (o->nnotes)
        sb_put(&h, "\n", 1);

    /* How many regressions and detail rows fit. */
    size_t used = h.n + sizeof md_table_head + 2 * MD_SLACK, nshow = 0, ndetail = 0;
    for (; nshow < nreg && nshow < (size_t)top; nshow++) {
        size_t len = strlen(reg[nshow]->line);
        if (used + len > limit)
            break;
        used += len;
    }
    used += sizeof md_table_head;
    for (; ndetail < o->nrows; ndetail++) {
        size_t len = strlen(o->rows[ndetail].line);
        if (used + len > limit)
            break;
        used += len;
    }

    if (nreg) {
        sb_printf(&h, "#### Regressions, worst first (%zu of %zu)\n\n", nshow, nreg);
        if (nshow)
            sb_put(&h, md_table_head, sizeof md_table_head - 1);
        for (size_t i = 0; i < nshow; i++)
            sb_put(&h, reg[i]->line, strlen(reg[i]->line));
        if (nshow < nreg)
            sb_printf(&h, "\n... and %zu more regression%s, in the table below%s.\n",
                      nreg - nshow, nreg - nshow == 1 ? "" : "s",
                      nshow < (size_t)top ? " (size limit)" : "");
        sb_put(&h, "\n", 1);
    }
    if (o->nrows) {
        int better = o->counts[ST_BETTER], okn = o->counts[ST_OK], newn = o->counts[ST_NEW];
        sb_printf(&h, "<details><summary>Every %s metric (%zu row%s: %zu regression%s, %d"
                      " better, %d ok, %d new%s)</summary>\n\n",
                  o->all ? "compared" : "differing", o->nrows, o->nrows == 1 ? "" : "s", nreg,
                  nreg == 1 ? "" : "s", better, okn, newn,
                  o->all ? ", identical included" : "");
        if (ndetail)
            sb_put(&h, md_table_head, sizeof md_table_head - 1);
        for (size_t i = 0; i < ndetail; i++)
            sb_put(&h, o->rows[i].line, strlen(o->rows[i].line));
        if (ndetail < o->nrows)
            sb_printf(&h, "\n... %zu more row%s left out to stay within %zu bytes; `memfab"
                          " compare` without `--format md` lists them all.\n",
                      o->nrows - ndetail, o->nrows - ndetail == 1 ? "" : "s", max_bytes);
        sb_put(&h, "\n</details>\n", 12);
    } else if (total) {
        sb_printf(&h, "All %d metrics identical.\n", total);
    }
    sim_free(reg);
    if (h.oom) {
        sim_free(h.s);
        return SIM_ENOMEM;
    }
    fputs(h.s ? h.s : "", o->f);
    sim_free(h.s);
    return 0;
}

static void compare_usage(FILE *f)
{
    fputs("usage: memfab compare BASE CAND [BASE2 CAND2 ...] [options]\n"
          "\n"
          "Compare the metrics of CAND (a results database) with BASE (a results database\n"
          "or a baseline file written by `memfab baseline`). Runs are matched by scenario\n"
          "name and parameters; every metric is checked against its tolerance and marked\n"
          "same, ok, better, WORSE, CHANGED (no direction), MISSING (not in CAND) or new.\n"
          "More pairs give one report over all of them.\n"
          "Exit status: 0 within tolerance, 3 regression (WORSE, CHANGED, MISSING, or a\n"
          "base run without a matching candidate run), 2 bad input.\n"
          "\n"
          "options:\n"
          "  --tolerance T          default tolerance: 2% (relative) or 0.1 (absolute);\n"
          "                         default 2%\n"
          "  --tol GLOB=T           tolerance for matching metrics (repeatable; the last\n"
          "                         matching rule wins), e.g. --tol '*/latency_p99=5%'\n"
          "  --tolerances FILE      YAML: default: T, metrics: {GLOB: T}, directions:\n"
          "                         {GLOB: higher|lower|none}, ignore: [GLOB]\n"
          "  --direction GLOB=D     which way is better: higher, lower or none\n"
          "  --ignore GLOB          skip matching metrics (repeatable)\n"
          "  --ignore-param GLOB    do not use matching params to match runs (repeatable)\n"
          "  --base-run ID          compare only this run of BASE (a database) ...\n"
          "  --cand-run ID          ... with this run of CAND, whatever their params\n"
          "  --format text|md       plain table (default) or markdown for a pull request:\n"
          "                         a verdict, the regressions worst first, then every\n"
          "                         differing metric in a collapsed <details>\n"
          "  --max-bytes N          md: keep the report under N bytes (default 60000,\n"
          "                         GitHub comments take 65536; 0: no limit)\n"
          "  --top N                md: list at most N regressions up front (default 20)\n"
          "  --title TEXT           md: the report's heading (default: memfab compare)\n"
          "  --note TEXT            md/text: add a note to the report (repeatable)\n"
          "  --failure TEXT         a note that is a failure: the verdict is FAILED\n"
          "                         (repeatable; the exit status is not changed)\n"
          "  --all                  list identical metrics too\n"
          "  -h, --help             this help\n"
          "\n"
          "Metrics are named SCOPE/NAME (e.g. gpu0/latency_p99, links/pcie0/a->b/bytes,\n"
          "requests/ttft_p99). Direction: names ending in _count (sample counts) have\n"
          "none; names with hit, throughput, bandwidth, goodput, per_s, cached_share,\n"
          "attainment or completed are better higher; names with latency, ttft, tpot,\n"
          "e2e, wait, delay, stall, miss, evict, drop, refused, queue, reject, preempt,\n"
          "unfinished, error, retransmit, pause or energy, and time units, are better lower;\n"
          "rates (unit */s) are better higher; anything else must stay within tolerance.\n",
          f);
}

/* The version of a run built from a tree with uncommitted changes. */
static int dirty_version(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    return n >= 6 && strcmp(v + n - 6, "-dirty") == 0;
}

/* Compare one pair of sides into o. Adds to *matched and *missing_runs. */
static void compare_sides(out_ctx *o, const rules *rs, side *sides, int64_t base_run,
                          int64_t cand_run, char *const *ign_params, size_t nign, int *matched,
                          int *missing_runs, int *oom)
{
    int subset = sides[0].is_baseline;
    rdb_set *bset = &sides[0].set, *cset = &sides[1].set;
    for (size_t i = 0; i < bset->n; i++)
        if (dirty_version(bset->runs[i].version)) {
            print_note(o, 0, "%s%s was written by memfab %s, built from a dirty tree"
                             " (uncommitted changes): its numbers may not come from any commit",
                       o->md ? "" : "note: ", sides[0].path, bset->runs[i].version);
            break;
        }
    char *cand_used = sim_calloc(cset->n + 1, 1);
    if (!cand_used) {
        *oom = 1;
        return;
    }
    for (size_t i = 0; i < bset->n; i++) {
        const rdb_run *b = &bset->runs[i];
        /* A later base run with the same name and params replaces this one. */
        int superseded = 0;
        for (size_t j = i + 1; j < bset->n && !base_run && !superseded; j++)
            superseded = strcmp(bset->runs[j].name, b->name) == 0 &&
                         !params_differ(b, &bset->runs[j], 0, ign_params, nign, NULL);
        if (superseded)
            continue;
        const rdb_run *best = NULL;
        for (size_t j = cset->n; j-- > 0 && !best;) {
            const rdb_run *cr = &cset->runs[j];
            if (cand_run || (strcmp(cr->name, b->name) == 0 &&
                             !params_differ(b, cr, subset, ign_params, nign, NULL))) {
                best = cr;
                cand_used[j] = 1;
            }
        }
        if (!best) {
            (*missing_runs)++;
            /* the closest candidate of the same name says why */
            const rdb_run *near = NULL;
            int nd = 1 << 30;
            for (size_t j = 0; j < cset->n; j++)
                if (strcmp(cset->runs[j].name, b->name) == 0) {
                    int d = count_differences(b, &cset->runs[j], subset, ign_params, nign) +
                            count_differences(&cset->runs[j], b, subset, ign_params, nign);
                    if (d < nd)
                        nd = d, near = &cset->runs[j];
                }
            char why[1600] = "";
            const char *key = NULL;
            if (near && params_differ(b, near, subset, ign_params, nign, &key) && key) {
                const char *bv = rdb_param_get(b, key), *cv = rdb_param_get(near, key);
                snprintf(why, sizeof why, "; the closest, run %lld, differs in '%s': base '%s',"
                         " cand '%s'", (long long)near->id, key, bv ? bv : "(absent)",
                         cv ? cv : "(absent)");
            } else if (!near) {
                snprintf(why, sizeof why, " (no run of that name)");
            }
            print_note(o, 1, "%s: MISSING: no run of CAND has this scenario name and these"
                             " parameters%s", b->label, why);
            continue;
        }
        (*matched)++;
        print_run_header(o, b->label, b, best, &sides[0]);
        compare_pair(o, rs, b, best);
    }
    for (size_t j = 0; j < cset->n; j++)
        if (!cand_used[j] && !cand_run)
            print_note(o, 0, "%s: new run in CAND (run %lld), not in BASE", cset->runs[j].label,
                       (long long)cset->runs[j].id);
    sim_free(cand_used);
}

/* A non-negative count option. */
static int parse_count(const char *s, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > max)
        return SIM_EINVAL;
    *out = v;
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"tolerance", required_argument, NULL, 'T'}, {"tol", required_argument, NULL, 't'},
        {"tolerances", required_argument, NULL, 'F'}, {"direction", required_argument, NULL, 'D'},
        {"ignore", required_argument, NULL, 'I'},    {"ignore-param", required_argument, NULL, 'P'},
        {"base-run", required_argument, NULL, 'b'},  {"cand-run", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},    {"all", no_argument, NULL, 'a'},
        {"max-bytes", required_argument, NULL, 'M'}, {"top", required_argument, NULL, 'N'},
        {"title", required_argument, NULL, 'L'},     {"note", required_argument, NULL, 'n'},
        {"failure", required_argument, NULL, 'x'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    rules rs = {NULL, 0, {1, 0.02}};
    rules cli = {NULL, 0, {1, 0.02}};
    char **ign_params = sim_calloc((size_t)argc + 1, sizeof *ign_params);
    char **notes = sim_calloc((size_t)argc + 1, sizeof *notes);
    int *note_fail = sim_calloc((size_t)argc + 1, sizeof *note_fail);
    size_t nign = 0, nnotes = 0, npairs = 0;
    const char *tolfile = NULL, *title = "memfab compare";
    int md = 0, all = 0, have_default = 0, status = SIM_EXIT_OK;
    long max_bytes = 60000, top = 20;
    int64_t base_run = 0, cand_run = 0;
    side *sides = NULL;
    out_ctx o = {stdout, 0, 0, {0}, 0, NULL, 0, NULL, 0, 0};
    sim_err err;
    sim_err_clear(&err);
    int c;
    optind = 1;
    if (!ign_params || !notes || !note_fail) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'T':
            if (cmp_parse_tol(optarg, &cli.deflt)) {
                fprintf(stderr, "memfab compare: --tolerance '%s': expected e.g. 2%% or 0.1\n",
                        optarg);
                rc = SIM_EXIT_USAGE;
            }
            have_default = 1;
            break;
        case 't': rc = rule_arg(&cli, RULE_TOL, optarg, "--tol"); break;
        case 'D': rc = rule_arg(&cli, RULE_DIR, optarg, "--direction"); break;
        case 'I': {
            cmp_tol z = {0, 0};
            rc = rule_add(&cli, RULE_IGNORE, optarg, strlen(optarg), z, CMP_NEUTRAL, "--ignore")
                     ? SIM_EXIT_RUNTIME : 0;
            break;
        }
        case 'F': tolfile = optarg; break;
        case 'P': ign_params[nign++] = optarg; break;
        case 'b':
        case 'c':
            if (rdb_parse_id(optarg, c == 'b' ? &base_run : &cand_run)) {
                fprintf(stderr, "memfab compare: bad run id '%s'\n", optarg);
                rc = SIM_EXIT_USAGE;
            }
            break;
        case 'f':
            if (strcmp(optarg, "md") == 0 || strcmp(optarg, "markdown") == 0)
                md = 1;
            else if (strcmp(optarg, "text") == 0 || strcmp(optarg, "plain") == 0)
                md = 0;
            else {
                fprintf(stderr, "memfab compare: --format: text or md, not '%s'\n", optarg);
                rc = SIM_EXIT_USAGE;
            }
            break;
        case 'M':
            if (parse_count(optarg, 1L << 30, &max_bytes) || (max_bytes && max_bytes < 4096)) {
                fprintf(stderr, "memfab compare: --max-bytes '%s': expected 0 (no limit) or a"
                                " number of bytes from 4096\n", optarg);
                rc = SIM_EXIT_USAGE;
            }
            break;
        case 'N':
            if (parse_count(optarg, 1L << 30, &top)) {
                fprintf(stderr, "memfab compare: --top '%s': expected a count\n", optarg);
                rc = SIM_EXIT_USAGE;
            }
            break;
        case 'L': title = optarg; break;
        case 'n':
        case 'x':
            note_fail[nnotes] = c == 'x';
            notes[nnotes++] = optarg;
            break;
        case 'a': all = 1; break;
        case 'h': compare_usage(stdout); status = -1; break;
        default: compare_usage(stderr); rc = SIM_EXIT_USAGE; break;
        }
        if (rc) {
            status = rc;
            goto out;
        }
        if (status < 0)
            goto out;
    }
    if (optind >= argc || (argc - optind) % 2) {
        fprintf(stderr, "memfab compare: expected BASE and CAND (or pairs of them)\n");
        compare_usage(stderr);
        status = SIM_EXIT_USAGE;
        goto out;
    }
    npairs = (size_t)(argc - optind) / 2;
    if ((base_run != 0) != (cand_run != 0)) {
        fprintf(stderr, "memfab compare: --base-run and --cand-run go together\n");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    if (base_run && npairs > 1) {
        fprintf(stderr, "memfab compare: --base-run/--cand-run take one BASE and one CAND\n");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    /* File rules first, command-line rules after them: the last match wins. */
    if (tolfile) {
        int hd = 0;
        if (load_tolerances(tolfile, &rs, &hd, &err)) {
            sim_err_print(&err);
            status = SIM_EXIT_USAGE;
            goto out;
        }
    }
    if (have_default)   /* --tolerance beats the file's default */
        rs.deflt = cli.deflt;
    for (size_t i = 0; i < cli.n; i++) {
        rule *r = sim_realloc(rs.r, (rs.n + 1) * sizeof *r);
        if (!r) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        rs.r = r;
        rs.r[rs.n++] = cli.r[i];
    }
    sim_free(cli.r);
    cli.r = NULL;
    cli.n = 0;

    sides = sim_calloc(2 * npairs, sizeof *sides);
    const rdb_set **sets = sim_calloc(2 * npairs, sizeof *sets);
    if (!sides || !sets) {
        sim_free(sets);
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    for (size_t i = 0; i < 2 * npairs; i++) {
        side *s = &sides[i];
        int is_cand = (int)(i % 2);
        s->path = argv[optind + (int)i];
        if (load_side(s, !is_cand, is_cand ? cand_run : base_run, &err)) {
            sim_err_print(&err);
            status = err.code == SIM_ENOMEM ? SIM_EXIT_RUNTIME : SIM_EXIT_USAGE;
            sim_free(sets);
            goto out;
        }
        if (s->set.n == 0) {
            fprintf(stderr, "memfab compare: %s: no complete run%s\n", s->path,
                    (is_cand ? cand_run : base_run) ? " with that id" : "");
            status = SIM_EXIT_USAGE;
            sim_free(sets);
            goto out;
        }
        rdb_label(&s->set);
        sets[i] = &s->set;
        if (!is_cand && s->is_baseline && base_run) {
            fprintf(stderr, "memfab compare: --base-run needs a database as BASE\n");
            status = SIM_EXIT_USAGE;
            sim_free(sets);
            goto out;
        }
    }
    /* A glob is unmatched only when no pair has such a metric. */
    report_unmatched(&rs, sets, (int)(2 * npairs));
    sim_free(sets);

    o.md = md;
    o.all = all;
    if (!md) {
        for (size_t i = 0; i < nnotes; i++)
            print_note(&o, note_fail[i], "%s%s", note_fail[i] ? "FAILED: " : "", notes[i]);
    } else {
        for (size_t i = 0; i < nnotes; i++)
            print_note(&o, note_fail[i], "%s", notes[i]);
    }
    int matched = 0, missing_runs = 0, oom = 0;
    for (size_t p = 0; p < npairs; p++) {
        int before = matched;
        compare_sides(&o, &rs, &sides[2 * p], base_run, cand_run, ign_params, nign, &matched,
                      &missing_runs, &oom);
        if (oom || o.oom) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        if (matched == before) {
            fprintf(stderr, "memfab compare: no run of %s matches a run of %s (same scenario"
                            " name and parameters); see --ignore-param, --base-run/--cand-run\n",
                    sides[2 * p + 1].path, sides[2 * p].path);
            status = SIM_EXIT_USAGE;
            goto out;
        }
    }

    int regress = o.counts[ST_WORSE] + o.counts[ST_CHANGED] + o.counts[ST_MISSING] + missing_runs;
    int total = 0;
    for (int i = 0; i < ST_N; i++)
        total += o.counts[i];
    if (md) {
        char head[1024];
        if (npairs == 1 && strcmp(title, "memfab compare") == 0) {
            sbuf t = {0};
            sb_md(&t, sides[0].path);
            sb_put(&t, " vs ", 4);
            sb_md(&t, sides[1].path);
            snprintf(head, sizeof head, "memfab compare: %s", t.s ? t.s : "");
            sim_free(t.s);
        } else {
            sbuf t = {0};
            sb_md(&t, title);
            snprintf(head, sizeof head, "%s", t.s ? t.s : "");
            sim_free(t.s);
        }
        if (md_report(&o, head, matched, missing_runs, total, (int)top, (size_t)max_bytes)) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
    } else {
        if (!all && o.counts[ST_SAME] == total)
            fprintf(o.f, "  all %d metrics identical\n", total);
        fprintf(o.f, "%d run%s matched, %d metrics: %d same, %d ok, %d better, %d worse,"
                     " %d changed, %d missing, %d new; %d run%s missing: %s\n",
                matched, matched == 1 ? "" : "s", total, o.counts[ST_SAME], o.counts[ST_OK],
                o.counts[ST_BETTER], o.counts[ST_WORSE], o.counts[ST_CHANGED],
                o.counts[ST_MISSING], o.counts[ST_NEW], missing_runs,
                missing_runs == 1 ? "" : "s", regress ? "REGRESSION" : "ok");
    }
    status = regress ? SIM_EXIT_REGRESSION : SIM_EXIT_OK;
out:
    for (size_t i = 0; sides && i < 2 * npairs; i++) {
        rdb_set_free(&sides[i].set);
        res_close(sides[i].db);
    }
    sim_free(sides);
    out_free(&o);
    rules_free(&rs);
    rules_free(&cli);
    sim_free(ign_params);
    sim_free(notes);
    sim_free(note_fail);
    return status < 0 ? 0 : status;
}

/* ---- memfab baseline ----------------------------------------------------- */

static void baseline_usage(FILE *f)
{
    fputs("usage: memfab baseline DB [options]\n"
          "\n"
          "Write a baseline file (YAML) of complete runs of DB: scenario name, sha256,\n"
          "seed, key parameters and every metric with its unit, to commit next to the\n"
          "scenario and compare against with `memfab compare BASELINE.yaml NEW.db`.\n"
          "\n"
          "options:\n"
          "  -o, --output FILE   write here (default: standard output)\n"
          "  --run ID            this run (repeatable; default: every complete run, the\n"
          "                      latest of runs with identical parameters)\n"
          "  --where KEY=GLOB    only runs whose param (or name, seed, status) matches\n"
          "  --param GLOB        also keep these params (default: seed, stop, sweep.*\n"
          "                      and those that differ among the runs written); they\n"
          "                      must match when comparing\n"
          "  --all-params        keep every param\n"
          "  -h, --help          this help\n",
          f);
}

/* An existing output of baseline may be replaced only when it is a baseline. */
static int is_baseline_text(const unsigned char *head, size_t n)
{
    static const char tag[] = "memfab_baseline:";
    for (size_t i = 0; i + sizeof tag - 1 <= n; i++)
        if ((i == 0 || head[i - 1] == '\n') && memcmp(head + i, tag, sizeof tag - 1) == 0)
            return 1;
    return 0;
}

static int key_param(const rdb_set *set, const rdb_run *r, const char *key, char *const *globs,
                     size_t n, int all)
{
    for (size_t i = 0; i < set->n; i++) {   /* what tells runs of this name apart */
        const rdb_run *o = &set->runs[i];
        if (o == r || strcmp(o->name, r->name) != 0)
            continue;
        const char *a = rdb_param_get(r, key), *b = rdb_param_get(o, key);
        if (!a || !b || strcmp(a, b) != 0)
            return strcmp(key, "sweep.point") != 0;
    }
    if (all || strcmp(key, "seed") == 0 || strcmp(key, "stop") == 0 ||
        (strncmp(key, "sweep.", 6) == 0 && strcmp(key, "sweep.point") != 0))
        return 1;
    for (size_t i = 0; i < n; i++)
        if (fnmatch(globs[i], key, 0) == 0)
            return 1;
    return 0;
}

int cmd_baseline(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"run", required_argument, NULL, 'r'},
        {"where", required_argument, NULL, 'w'},  {"param", required_argument, NULL, 'p'},
        {"all-params", no_argument, NULL, 'A'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *outpath = NULL;
    int64_t *ids = sim_calloc((size_t)argc + 1, sizeof *ids);
    char **where = sim_calloc((size_t)argc + 1, sizeof *where);
    char **globs = sim_calloc((size_t)argc + 1, sizeof *globs);
    size_t nids = 0, nwhere = 0, nglobs = 0;
    int allp = 0, status = SIM_EXIT_OK, c;
    res_db *db = NULL;
    rdb_set set = {NULL, 0};
    FILE *f = NULL;
    safe_out so;
    memset(&so, 0, sizeof so);
    sim_err err;
    sim_err_clear(&err);
    if (!ids || !where || !globs) {
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': outpath = optarg; break;
        case 'r':
            if (rdb_parse_id(optarg, &ids[nids++])) {
                fprintf(stderr, "memfab baseline: bad run id '%s'\n", optarg);
                status = SIM_EXIT_USAGE;
                goto out;
            }
            break;
        case 'w': where[nwhere++] = optarg; break;
        case 'p': globs[nglobs++] = optarg; break;
        case 'A': allp = 1; break;
        case 'h': baseline_usage(stdout); goto out;
        default: baseline_usage(stderr); status = SIM_EXIT_USAGE; goto out;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "memfab baseline: expected one results database\n");
        baseline_usage(stderr);
        status = SIM_EXIT_USAGE;
        goto out;
    }
    db = res_open_readonly(argv[optind], &err);
    if (!db || rdb_load_runs(res_handle(db), &set, &err) ||
        rdb_filter(&set, ids, nids, where, nwhere, 1, &err)) {
        sim_err_print(&err);
        status = err.code == SIM_ENOMEM ? SIM_EXIT_RUNTIME : SIM_EXIT_USAGE;
        goto out;
    }
    if (set.n == 0) {
        fprintf(stderr, "memfab baseline: %s: no complete run%s\n", argv[optind],
                nids || nwhere ? " matches" : "");
        status = SIM_EXIT_USAGE;
        goto out;
    }
    /* Never over the database itself or another kind of file; written beside
     * the output and renamed once complete. */
    const char *inputs[] = {argv[optind]};
    if (safe_out_check(outpath ? outpath : "-", inputs, 1, is_baseline_text, "a baseline file",
                       &err)) {
        sim_err_print(&err);
        status = err.code == SIM_EINVAL ? SIM_EXIT_USAGE : SIM_EXIT_RUNTIME;
        goto out;
    }
    if (safe_out_open(&so, outpath ? outpath : "-", &err)) {
        sim_err_print(&err);
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    f = so.f;
    fprintf(f, "# memfab baseline: metrics of complete runs, to commit and review.\n"
               "# Check against it:  memfab compare THIS.yaml NEW.db\n"
               "# Runs match by scenario name and the params listed here.\n");
    /* A build from a tree with uncommitted changes may not be reproducible
     * from any commit: say so in the file (compare repeats it) and here. */
    size_t ndirty = 0, first_dirty = 0;
    for (size_t i = set.n; i-- > 0;)
        if (dirty_version(set.runs[i].version))
            ndirty++, first_dirty = i;
    if (ndirty) {
        const rdb_run *d = &set.runs[first_dirty];
        /* the version comes from the database: escaped, so that a line
         * break in it cannot end the comment and become YAML */
        char ver[SIM_EXCERPT_MAX * 4 + 8];
        sim_excerpt(d->version, ver, sizeof ver);
        fprintf(f, "# WARNING: written from a dirty tree: %zu run%s (run %lld: memfab %s) came\n"
                   "# from a build with uncommitted changes; the numbers may not come from\n"
                   "# any commit. Regenerate the baseline from a clean checkout.\n",
                ndirty, ndirty == 1 ? "" : "s", (long long)d->id, ver);
        fprintf(stderr, "memfab baseline: warning: %zu run%s of %s came from a build with"
                        " uncommitted changes (memfab %s); the baseline says so\n",
                ndirty, ndirty == 1 ? "" : "s", argv[optind], ver);
    }
    fputs("memfab_baseline: 1\nruns:\n", f);
    int written = 0;
    for (size_t i = 0; i < set.n; i++) {
        rdb_run *r = &set.runs[i];
        int superseded = 0;
        for (size_t j = i + 1; j < set.n && !nids && !superseded; j++)
            superseded = strcmp(set.runs[j].name, r->name) == 0 &&
                         !params_differ(r, &set.runs[j], 0, NULL, 0, NULL);
        if (superseded)
            continue;
        if (rdb_load_metrics(res_handle(db), r, &err)) {
            sim_err_print(&err);
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        for (size_t m = 0; m < r->nmetrics; m++)
            if (isinf(r->metrics[m].value)) {
                fprintf(stderr, "memfab baseline: %s: run %lld: metric '%s' is infinite;"
                                " a baseline holds finite values only (see --run, --where)\n",
                        argv[optind], (long long)r->id, r->metrics[m].name);
                status = SIM_EXIT_USAGE;
                goto out;
            }
        unsigned char *keep = sim_calloc(r->nparams + 1, 1);
        if (!keep) {
            status = SIM_EXIT_RUNTIME;
            goto out;
        }
        for (size_t p = 0; p < r->nparams; p++)
            keep[p] = key_param(&set, r, r->params[p].key, globs, nglobs, allp) != 0;
        int wrc = cmp_baseline_write_run(f, r, keep, &err);
        sim_free(keep);
        if (wrc) {
            fprintf(stderr, "memfab baseline: %s: %s\n", argv[optind], err.msg);
            status = wrc == SIM_EINVAL ? SIM_EXIT_USAGE : SIM_EXIT_RUNTIME;
            goto out;
        }
        written++;
    }
    f = NULL;
    if (safe_out_commit(&so, &err)) {
        sim_err_print(&err);
        status = SIM_EXIT_RUNTIME;
        goto out;
    }
    if (outpath && strcmp(outpath, "-") != 0)
        fprintf(stderr, "memfab baseline: %d run%s -> %s\n", written, written == 1 ? "" : "s",
                outpath);
out:
    if (f)
        safe_out_abort(&so);
    rdb_set_free(&set);
    res_close(db);
    sim_free(ids);
    sim_free(where);
    sim_free(globs);
    return status;
}
