/*
 * study.c - memfab study (see study.h): the study file, its runs as a
 * sweep, and the command. Rendering (table, cells, figures) is in
 * study_table.c.
 *
 * The study file:
 *
 *   name: convergence
 *   output: ../../results/study       # results directory (relative to this file)
 *   scenarios: {agents: agents.yaml, coherence: coherence.yaml}
 *   effect: [workload/ttft_p50, ...]  # end-to-end metrics of every pair
 *   energy: [workload/energy_total_j] # energy metrics of every pair
 *   pairs:
 *     - id: gds
 *       technology: GPUDirect Storage
 *       problem: the SSD tier's data crosses host DRAM twice
 *       removes: the second copy when loading from SSD
 *       scenarios: [agents]
 *       key: kv.tiers.ssd.path         # one --set path
 *       on: gds
 *       off: bounce
 *       # or a technology that needs several keys, each with its values:
 *       # key: [kv.tiers.pool.component, kv.cxl_access]
 *       # on: [cxlpool, auto]
 *       # off: [host, copy]
 *       removal: [{label: host DRAM bytes, metric: "fabric/host_memory_bytes:bounce"}]
 *       figure: {kind: cdf, metric: ttft}   # memfab plot arguments (optional)
 *     - {id: all, technology: all on vs all off, all: true, scenarios: [agents], ...}
 *
 * Paths are relative to the study file. A point of the sweep is (scenario
 * file, overrides); the study adds each distinct point once.
 */
#include "tools/study.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "results/res.h"
#include "sim/mem.h"
#include "sim/scn.h"
#include "sim/schema.h"
#include "tools/commands.h"
#include "tools/study_int.h"
#include "tools/sweep.h"

/* MPI: a barrier between the rounds of a bisection (sweep_mpi.c; NULL without MPI) */
#pragma weak swp_mpi_barrier

/* ---- the study file --------------------------------------------------------- */

static const sim_skey metric_keys[] = {
    {"metric", SIM_S_VALUE, "string", NULL, "", "SCOPE/NAME, shell globs: the sum of the matches",
     NULL},
    {"label", SIM_S_VALUE, "string", "(the metric's name)", "", "what the table calls it", NULL},
    {"absent", SIM_S_VALUE, "0", NULL, "", "0: a run that does not report it had none (models"
     " that report a path's metrics once the path is used)", NULL},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};
static const sim_schema metric_schema = {"study metric", metric_keys, NULL, NULL, NULL, NULL,
                                         NULL};

static const sim_skey pair_keys[] = {
    {"id", SIM_S_VALUE, "string", NULL, "", "short name (figure files, cells)", NULL},
    {"technology", SIM_S_VALUE, "string", NULL, "", "the row's technology", NULL},
    {"problem", SIM_S_VALUE, "string", "", "", "the core problem it solves", NULL},
    {"removes", SIM_S_VALUE, "string", "", "", "what it claims to remove", NULL},
    {"note", SIM_S_VALUE, "string", "", "", "a footnote for the row", NULL},
    {"scenarios", SIM_S_VALUE, "list of labels", NULL, "", "where the pair is measured", NULL},
    {"key", SIM_S_VALUE, "string|list", NULL, "",
     "the switch: one --set path, or a list of them (a technology that needs several)", NULL},
    {"on", SIM_S_VALUE, "string|list", NULL, "", "its value(s) with the technology", NULL},
    {"off", SIM_S_VALUE, "string|list", NULL, "", "its value(s) without", NULL},
    {"all", SIM_S_VALUE, "bool", "false", "", "every other pair's switch at once", NULL},
    {"removal", SIM_S_OPEN, "list of metrics", NULL, "", "what measures the removal", NULL},
    {"effect", SIM_S_OPEN, "list of metrics", "(the study's)", "", "end-to-end effect", NULL},
    {"energy", SIM_S_OPEN, "list of metrics", "(the study's)", "", "energy effect", NULL},
    {"figure", SIM_S_OPEN, "map", "{kind: cdf, metric: ttft}", "",
     "memfab plot arguments for the pair's figure (kind, metric)", NULL},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};
static const sim_schema pair_schema = {"study pair", pair_keys, NULL, NULL, NULL, NULL, NULL};

static const sim_skey study_keys[] = {
    {"name", SIM_S_VALUE, "string", "(file name)", "", "the study's name", NULL},
    {"title", SIM_S_VALUE, "string", "", "", "the table's caption", NULL},
    {"output", SIM_S_VALUE, "string", "<name>", "", "results directory (relative to the file)",
     NULL},
    {"scenarios", SIM_S_OPEN, "map", NULL, "", "LABEL: scenario file", NULL},
    {"effect", SIM_S_OPEN, "list of metrics", "[]", "", "end-to-end metrics of every pair", NULL},
    {"energy", SIM_S_OPEN, "list of metrics", "[]", "", "energy metrics of every pair", NULL},
    {"notes", SIM_S_VALUE, "list of strings", "[]", "", "notes printed under the table", NULL},
    {"pairs", SIM_S_LIST, "list", NULL, "", "the with/without pairs", &pair_schema},
    {"capacity", SIM_S_OPEN, "map|list", "(none)", "",
     "the capacity searches, one per scenario: GPUs needed for a target load (scenario, key, "
     "rates or search: gpus with range, target, load, gpus)",
     NULL},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};
static const sim_schema study_schema = {"study file", study_keys, NULL, NULL, NULL, NULL, NULL};

static char *path_rel(const char *base, const char *path)
{
    if (path[0] == '/')
        return sim_strdup(path);
    char *b = sim_strdup(base);
    if (!b)
        return NULL;
    const char *d = dirname(b);
    size_t n = strlen(d) + strlen(path) + 2;
    char *r = sim_alloc(n);
    if (r)
        snprintf(r, n, "%s/%s", d, path);
    sim_free(b);
    return r;
}

/* A list of metrics: scalars "SCOPE/NAME" or {metric, label}. */
static int load_metrics(const scn_node *n, const char *what, st_metric **out, size_t *nout,
                        sim_err *err)
{
    *out = NULL;
    *nout = 0;
    if (!n)
        return 0;
    if (scn_node_kind(n) != SCN_SEQ)
        return scn_error(err, n, "%s: expected a list of metrics (SCOPE/NAME or {metric, label})",
                         what);
    *out = sim_calloc(scn_len(n) + 1, sizeof **out);
    if (!*out)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < scn_len(n); i++) {
        const scn_node *m = scn_seq_at(n, i);
        st_metric *x = &(*out)[(*nout)++];
        if (scn_scalar(m)) {
            x->glob = scn_scalar(m);
        } else {
            int rc = sim_schema_check(&metric_schema, m, what, NULL, NULL, err);
            if (rc || (rc = scn_get_string(m, "metric", NULL, &x->glob, err)) ||
                (rc = scn_get_string(m, "label", NULL, &x->label, err)))
                return rc;
            const scn_node *ab = scn_map_get(m, "absent");
            if (ab) {
                const char *v = scn_scalar(ab);
                if (!v || strcmp(v, "0") != 0)
                    return scn_error(err, ab, "%s: absent: 0 is the only choice (a run that does"
                                     " not report the metric had none)", what);
                x->absent_zero = 1;
            }
        }
        if (!x->glob || !strchr(x->glob, '/'))
            return scn_error(err, m, "%s: a metric is SCOPE/NAME (e.g. workload/ttft_p99)", what);
        if (!x->label) {
            const char *sl = strrchr(x->glob, '/');
            x->label = sl + 1;
        }
    }
    return 0;
}

/* A scalar or a list of scalars into a NULL-terminated array; its length,
 * -1 when it is neither, -2 out of memory. */
static long scalars(const scn_node *n, const char ***out)
{
    *out = NULL;
    size_t len = scn_scalar(n) ? 1 : scn_node_kind(n) == SCN_SEQ ? scn_len(n) : 0;
    if (!len)
        return -1;
    *out = sim_calloc(len + 1, sizeof **out);
    if (!*out)
        return -2;
    for (size_t i = 0; i < len; i++)
        if (!((*out)[i] = scn_scalar(scn_scalar(n) ? n : scn_seq_at(n, i))))
            return -1;
    return (long)len;
}

/* A pair's switch: `key:` one --set path or a list of them, `on:` and
 * `off:` a value or a list of as many values. Each key must change (on
 * differs from off), and no key may be listed twice. */
static int load_switch(st_pair *p, const scn_node *kn, const scn_node *onn, const scn_node *offn,
                       sim_err *err)
{
    long nk = scalars(kn, &p->keys), non = scalars(onn, &p->on), noff = scalars(offn, &p->off);
    if (nk == -2 || non == -2 || noff == -2)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    if (nk < 0)
        return scn_error(err, kn, "pair '%s': `key:` is one --set path or a list of them", p->id);
    if (non != nk || noff != nk)
        return scn_error(err, non != nk ? onn : offn, "pair '%s': `key:` names %ld key%s, so "
                         "`on:` and `off:` give %ld value%s each (a list in the keys' order)",
                         p->id, nk, nk > 1 ? "s" : "", nk, nk > 1 ? "s" : "");
    p->nkeys = (size_t)nk;
    for (size_t k = 0; k < p->nkeys; k++) {
        if (strcmp(p->on[k], p->off[k]) == 0)
            return scn_error(err, offn, "pair '%s': on and off of '%s' are both '%s' (every key"
                             " of a switch changes)", p->id, p->keys[k], p->on[k]);
        for (size_t j = 0; j < k; j++)
            if (strcmp(p->keys[j], p->keys[k]) == 0)
                return scn_error(err, kn, "pair '%s': key '%s' is listed twice", p->id,
                                 p->keys[k]);
    }
    return 0;
}

static int find_scen(const study *st, const char *label)
{
    for (size_t i = 0; i < st->nscen; i++)
        if (strcmp(st->scen[i].label, label) == 0)
            return (int)i;
    return -1;
}

void study_free(study *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->npairs; i++) {
        st_pair *p = &st->pairs[i];
        sim_free(p->keys);
        sim_free(p->on);
        sim_free(p->off);
        sim_free(p->removal);
        sim_free(p->effect);
        sim_free(p->energy);
        sim_free(p->scen);
    }
    for (size_t i = 0; i < st->nscen; i++)
        sim_free(st->scen[i].path);
    for (size_t i = 0; i < st->nrows; i++) {
        sim_free(st->rows[i].keys);
        sim_free(st->rows[i].on);
        sim_free(st->rows[i].off);
    }
    sim_free(st->rows);
    for (size_t i = 0; i < st->ncap; i++) {
        st_capacity *c = &st->caps[i];
        sim_free(c->rates);
        sim_free(c->rate_v);
        sim_free(c->set_keys);
        sim_free(c->set_vals);
        sim_free(c->na_scen);
        sim_free(c->na_why);
    }
    sim_free(st->caps);
    sim_free(st->pairs);
    sim_free(st->scen);
    sim_free(st->effect);
    sim_free(st->energy);
    sim_free(st->notes);
    sim_free(st->out);
    sim_free(st->name);
    sim_free(st->file);
    scn_free(st->doc);
    sim_free(st);
}

const char *study_name(const study *st)
{
    return st->name;
}

const char *study_output(const study *st)
{
    return st->out;
}

/* The rows: every pair on each of its scenarios, with its switch keys. */
static int make_rows(study *st, sim_err *err)
{
    size_t n = 0;
    for (size_t i = 0; i < st->npairs; i++)
        n += st->pairs[i].nscen;
    st->rows = sim_calloc(n + 1, sizeof *st->rows);
    if (!st->rows)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < st->npairs; i++) {
        st_pair *p = &st->pairs[i];
        for (size_t k = 0; k < p->nscen; k++) {
            st_row *r = &st->rows[st->nrows++];
            r->pair = p;
            r->scen = p->scen[k];
            size_t cap = p->all ? st->nswitch : p->nkeys;
            r->keys = sim_calloc(cap + 1, sizeof *r->keys);
            r->on = sim_calloc(cap + 1, sizeof *r->on);
            r->off = sim_calloc(cap + 1, sizeof *r->off);
            if (!r->keys || !r->on || !r->off)
                return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
            for (size_t j = 0; j < st->npairs; j++) {
                const st_pair *q = &st->pairs[j];
                int here = 0;
                for (size_t m = 0; m < q->nscen; m++)
                    here |= q->scen[m] == r->scen;
                if (q->all || !here || (!p->all && q != p))
                    continue;
                for (size_t x = 0; x < q->nkeys; x++) {
                    r->keys[r->nkeys] = q->keys[x];
                    r->on[r->nkeys] = q->on[x];
                    r->off[r->nkeys++] = q->off[x];
                }
            }
            if (!r->nkeys)
                return scn_error(err, p->node, "pair '%s': no pair with a switch is measured on "
                                 "scenario '%s'", p->id, st->scen[r->scen].label);
        }
    }
    return 0;
}

/* A rate of the study file: a positive number with /s, /min or /h; 1/s. */
static int parse_per_second(const char *t, double *out)
{
    char *end;
    double x = t ? strtod(t, &end) : -1;
    if (!t || end == t || !(x > 0) || !isfinite(x))
        return -1;
    while (*end == ' ')
        end++;
    if (strcmp(end, "/s") == 0)
        *out = x;
    else if (strcmp(end, "/min") == 0)
        *out = x / 60;
    else if (strcmp(end, "/h") == 0)
        *out = x / 3600;
    else
        return -1;
    return 0;
}

/* A grid search's `rates:`: ascending rates. */
static int load_grid(st_capacity *c, const scn_node *n, sim_err *err)
{
    long nr = scalars(scn_map_get(n, "rates"), &c->rates);
    if (nr == -2)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    if (nr < 1 || scn_node_kind(scn_map_get(n, "rates")) != SCN_SEQ)
        return scn_error(err, scn_map_get(n, "rates"), "capacity: `rates:` is a list of rates "
                         "(e.g. [1/s, 2/s, 4/s])");
    c->nrates = (size_t)nr;
    if (!(c->rate_v = sim_calloc(c->nrates + 1, sizeof *c->rate_v)))
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < c->nrates; i++) {
        const scn_node *rn = scn_seq_at(scn_map_get(n, "rates"), i);
        if (parse_per_second(c->rates[i], &c->rate_v[i]))
            return scn_error(err, rn, "capacity: rate '%s' is not a positive rate (e.g. 2/s)",
                             c->rates[i]);
        if (i && !(c->rate_v[i] > c->rate_v[i - 1]))
            return scn_error(err, rn, "capacity: `rates:` must ascend ('%s' after '%s')",
                             c->rates[i], c->rates[i - 1]);
    }
    return 0;
}

/* One search of the capacity: section (study_int.h, st_capacity):
 *   capacity:                           # one search, or a list of them
 *     scenario: agents                  # a scenario with a serving workload
 *     key: workload.synthetic.rate      # the load key (a rate: N/s, N/min, N/h)
 *     rates: [0.25/s, 0.5/s, 1/s, 2/s]  # the grid, ascending
 *     set: {workload.synthetic.requests: 480}  # fixed keys of every capacity point
 *     metric: workload/slo_attainment   # (default)
 *     target: 90%                       # attainment target (or 0.9)
 *     load: 100/s                       # the target load, in the key's unit
 *     unit: sessions                    # what the key counts (for the table)
 *     gpus: "*\/hbm_utilization"       # a metric every GPU reports: the count
 *     na: {coherence: "no serving workload"}  # rows of other scenarios: why n/a
 * or, bisection over the GPU count with a time-scale load key:
 *     scenario: mooncake
 *     key: workload.time_scale          # its last component is time_scale
 *     search: gpus
 *     range: [16, 2048]                 # the GPU counts searched
 *     load: 100/s  ...                  # the rest as above, without rates: */
static int load_capacity(study *st, st_capacity *c, const scn_node *n, sim_err *err)
{
    static const char *const ck[] = {"scenario", "key", "rates", "set", "metric", "target",
                                     "load", "unit", "gpus", "na", "search", "range", NULL};
    c->node = n;
    const char *scen = NULL, *target = NULL, *search = NULL;
    int rc;
    if (scn_node_kind(n) != SCN_MAP)
        return scn_error(err, n, "capacity: a search is a map (scenario, key, rates or search: "
                         "gpus, target, load, gpus)");
    if ((rc = scn_check_keys(n, ck, "capacity", err)) ||
        (rc = scn_get_string(n, "search", "rates", &search, err)) ||
        (rc = scn_get_string(n, "scenario", NULL, &scen, err)) ||
        (rc = scn_get_string(n, "key", NULL, &c->key, err)) ||
        (rc = scn_get_string(n, "metric", "workload/slo_attainment", &c->metric, err)) ||
        (rc = scn_get_string(n, "target", "90%", &target, err)) ||
        (rc = scn_get_string(n, "load", NULL, &c->load_text, err)) ||
        (rc = scn_get_string(n, "unit", "requests", &c->unit, err)) ||
        (rc = scn_get_string(n, "gpus", NULL, &c->gpus, err)))
        return rc;
    if (strcmp(search, "gpus") && strcmp(search, "rates"))
        return scn_error(err, scn_map_get(n, "search"), "capacity: key 'search': '%s' is "
                         "neither rates (a grid of load rates) nor gpus (bisection over the GPU "
                         "count)", search);
    c->bisect = strcmp(search, "gpus") == 0;
    if (!scen || !c->key || !c->load_text || !c->gpus ||
        !scn_map_get(n, c->bisect ? "range" : "rates"))
        return scn_error(err, n, "capacity: needs `scenario:`, `key:`, %s, `load:` and `gpus:`",
                         c->bisect ? "`range:`" : "`rates:`");
    if (scn_map_get(n, c->bisect ? "rates" : "range"))
        return scn_error(err, scn_map_get(n, c->bisect ? "rates" : "range"),
                         c->bisect ? "capacity: search: gpus takes `range:`, not `rates:`"
                                   : "capacity: `range:` is for search: gpus");
    int si = find_scen(st, scen);
    if (si < 0)
        return scn_error(err, scn_map_get(n, "scenario"), "capacity: no scenario labelled '%s' "
                         "under scenarios:", scen);
    c->scen = (size_t)si;
    for (size_t i = 0; i < st->ncap; i++)
        if (st->caps[i].scen == c->scen)
            return scn_error(err, scn_map_get(n, "scenario"), "capacity: scenario '%s' has two "
                             "searches", scen);
    if (!strchr(c->metric, '/') || !strchr(c->gpus, '/'))
        return scn_error(err, scn_map_get(n, strchr(c->metric, '/') ? "gpus" : "metric"),
                         "capacity: a metric is SCOPE/NAME (e.g. workload/slo_attainment)");
    /* the target: 90% or 0.9, in (0, 1] */
    char *end;
    double t = strtod(target, &end);
    if (end != target && *end == '%' && end[1] == '\0')
        t /= 100;
    else if (end == target || *end)
        t = -1;
    if (!(t > 0 && t <= 1))
        return scn_error(err, scn_map_get(n, "target"), "capacity: key 'target': '%s' is not an "
                         "attainment in (0, 1] (90%% or 0.9)", target);
    c->target = t;
    c->target_text = target;
    if (parse_per_second(c->load_text, &c->load))
        return scn_error(err, scn_map_get(n, "load"), "capacity: key 'load': '%s' is not a "
                         "positive rate (e.g. 100/s)", c->load_text);
    if (c->bisect) {
        const char *dot = strrchr(c->key, '.');
        if (strcmp(dot ? dot + 1 : c->key, "time_scale") != 0)
            return scn_error(err, scn_map_get(n, "key"), "capacity: search: gpus loads the "
                             "scenario through a time scale of its arrivals (key "
                             "workload.time_scale), not '%s'", c->key);
        const scn_node *rn = scn_map_get(n, "range");
        const char *lo = scn_node_kind(rn) == SCN_SEQ && scn_len(rn) == 2
                             ? scn_scalar(scn_seq_at(rn, 0)) : NULL;
        const char *hi = lo ? scn_scalar(scn_seq_at(rn, 1)) : NULL;
        char *e1 = NULL, *e2 = NULL;
        if (lo && hi) {
            c->gmin = strtol(lo, &e1, 10);
            c->gmax = strtol(hi, &e2, 10);
        }
        if (!lo || !hi || *e1 || *e2 || c->gmin < 1 || c->gmax <= c->gmin ||
            c->gmax > 1000000000L)
            return scn_error(err, rn, "capacity: `range:` is [LO, HI], GPU counts with "
                             "1 <= LO < HI");
    } else if ((rc = load_grid(c, n, err))) {
        return rc;
    }
    const scn_node *sn = scn_map_get(n, "set");
    if (sn) {
        if (scn_node_kind(sn) != SCN_MAP)
            return scn_error(err, sn, "capacity: `set:` is a map of --set keys to values");
        c->set_keys = sim_calloc(scn_len(sn) + 1, sizeof *c->set_keys);
        c->set_vals = sim_calloc(scn_len(sn) + 1, sizeof *c->set_vals);
        if (!c->set_keys || !c->set_vals)
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        for (size_t i = 0; i < scn_len(sn); i++) {
            c->set_keys[i] = scn_map_key(sn, i);
            if (!(c->set_vals[i] = scn_scalar(scn_map_value(sn, i))))
                return scn_error(err, scn_map_value(sn, i), "capacity: `set:` values are "
                                 "scalars");
            c->nset++;
        }
    }
    const scn_node *nn = scn_map_get(n, "na");
    if (nn) {
        if (scn_node_kind(nn) != SCN_MAP)
            return scn_error(err, nn, "capacity: `na:` maps a scenario label to the reason its "
                             "rows have no capacity");
        c->na_scen = sim_calloc(scn_len(nn) + 1, sizeof *c->na_scen);
        c->na_why = sim_calloc(scn_len(nn) + 1, sizeof *c->na_why);
        if (!c->na_scen || !c->na_why)
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        for (size_t i = 0; i < scn_len(nn); i++) {
            c->na_scen[i] = scn_map_key(nn, i);
            if (find_scen(st, c->na_scen[i]) < 0)
                return scn_error(err, scn_map_value(nn, i), "capacity: na: no scenario "
                                 "labelled '%s' under scenarios:", c->na_scen[i]);
            if (!(c->na_why[i] = scn_scalar(scn_map_value(nn, i))))
                return scn_error(err, scn_map_value(nn, i), "capacity: na: a reason (text)");
            c->nna++;
        }
    }
    /* the load key and the fixed keys are not switches (a point would be ambiguous) */
    for (size_t i = 0; i < st->npairs; i++)
        for (size_t k = 0; k < st->pairs[i].nkeys; k++)
            for (size_t j = 0; j <= c->nset; j++) {
                const char *x = j < c->nset ? c->set_keys[j] : c->key;
                if (strcmp(x, st->pairs[i].keys[k]) == 0)
                    return scn_error(err, n, "capacity: key '%s' is pair '%s''s switch", x,
                                     st->pairs[i].id);
            }
    for (size_t j = 0; j < c->nset; j++)
        if (strcmp(c->set_keys[j], c->key) == 0)
            return scn_error(err, sn, "capacity: `set:` names the load key '%s'", c->key);
    return 0;
}

/* capacity: one search (a map) or a list of them. */
static int load_capacities(study *st, const scn_node *n, sim_err *err)
{
    size_t len = scn_node_kind(n) == SCN_SEQ ? scn_len(n) : 1;
    if (!(st->caps = sim_calloc(len + 1, sizeof *st->caps)))
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < len; i++) {
        int rc = load_capacity(st, &st->caps[st->ncap],
                               scn_node_kind(n) == SCN_SEQ ? scn_seq_at(n, i) : n, err);
        st->ncap++; /* freed with the study, loaded or not */
        if (rc)
            return rc;
    }
    return 0;
}

const st_capacity *study_cap_of(const study *st, size_t si)
{
    for (size_t i = 0; i < st->ncap; i++)
        if (st->caps[i].scen == si)
            return &st->caps[i];
    return NULL;
}

int study_bisect(long lo, long hi, int (*probe)(void *ctx, long n), void *ctx, long *n)
{
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        int p = probe(ctx, mid);
        if (p < 0) {
            *n = mid;
            return 0;
        }
        if (p)
            hi = mid;
        else
            lo = mid + 1;
    }
    /* lo == hi: a midpoint that held, or the top of the range, untested
     * when every midpoint failed */
    int p = probe(ctx, hi);
    *n = hi;
    return p < 0 ? 0 : p ? 1 : -1;
}

study *study_load(const char *path, sim_err *err)
{
    study *st = sim_calloc(1, sizeof *st);
    if (!st) {
        sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        return NULL;
    }
    st->file = sim_strdup(path);
    st->doc = scn_load(path, err);
    if (!st->doc || !st->file)
        goto fail;
    const scn_node *root = scn_root(st->doc), *n;
    const char *name = NULL, *out = NULL;
    if (sim_schema_check(&study_schema, root, "study file", NULL, NULL, err) ||
        scn_get_string(root, "name", NULL, &name, err) ||
        scn_get_string(root, "title", "", &st->title, err) ||
        scn_get_string(root, "output", NULL, &out, err))
        goto fail;
    if (name) {
        st->name = sim_strdup(name);
    } else {
        char *b = sim_strdup(path);
        char *base = b ? basename(b) : NULL;
        char *dot = base ? strrchr(base, '.') : NULL;
        if (dot && dot != base)
            *dot = '\0';
        st->name = base ? sim_strdup(base) : NULL;
        sim_free(b);
    }
    if (!st->name || (out && !(st->out = path_rel(path, out)))) {
        sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    n = scn_map_get(root, "scenarios");
    if (!n || scn_node_kind(n) != SCN_MAP || scn_len(n) == 0) {
        scn_error(err, n ? n : root, "a study needs `scenarios: {LABEL: FILE, ...}`");
        goto fail;
    }
    st->scen = sim_calloc(scn_len(n) + 1, sizeof *st->scen);
    if (!st->scen)
        goto nomem;
    for (size_t i = 0; i < scn_len(n); i++) {
        const char *f = scn_scalar(scn_map_value(n, i));
        if (!f) {
            scn_error(err, scn_map_value(n, i), "scenarios: LABEL: FILE");
            goto fail;
        }
        st_scen *s = &st->scen[st->nscen++];
        s->label = scn_map_key(n, i);
        s->node = scn_map_value(n, i);
        if (!(s->path = path_rel(path, f)))
            goto nomem;
        sim_err e;
        scn_doc *d = scn_load(s->path, &e);
        if (!d) {
            scn_error(err, s->node, "scenario '%s': %s", s->label, e.msg);
            goto fail;
        }
        const char *sn = NULL;
        scn_get_string(scn_root(d), "name", NULL, &sn, &e);
        snprintf(s->name, sizeof s->name, "%s", sn ? sn : "");
        scn_free(d);
    }
    if (load_metrics(scn_map_get(root, "effect"), "effect", &st->effect, &st->neffect, err) ||
        load_metrics(scn_map_get(root, "energy"), "energy", &st->energy, &st->nenergy, err))
        goto fail;
    n = scn_map_get(root, "notes");
    if (n) {
        if (scn_node_kind(n) != SCN_SEQ) {
            scn_error(err, n, "notes: a list of strings");
            goto fail;
        }
        st->notes = sim_calloc(scn_len(n) + 1, sizeof *st->notes);
        if (!st->notes)
            goto nomem;
        for (size_t i = 0; i < scn_len(n); i++)
            if (!(st->notes[st->nnotes++] = scn_scalar(scn_seq_at(n, i)))) {
                scn_error(err, scn_seq_at(n, i), "notes: a list of strings");
                goto fail;
            }
    }
    n = scn_map_get(root, "pairs");
    if (!n || scn_node_kind(n) != SCN_SEQ || scn_len(n) == 0) {
        scn_error(err, n ? n : root, "a study needs `pairs:` (a list)");
        goto fail;
    }
    st->pairs = sim_calloc(scn_len(n) + 1, sizeof *st->pairs);
    if (!st->pairs)
        goto nomem;
    for (size_t i = 0; i < scn_len(n); i++) {
        const scn_node *pn = scn_seq_at(n, i);
        st_pair *p = &st->pairs[st->npairs++];
        p->node = pn;
        if (scn_get_string(pn, "id", NULL, &p->id, err) ||
            scn_get_string(pn, "technology", NULL, &p->technology, err) ||
            scn_get_string(pn, "problem", "", &p->problem, err) ||
            scn_get_string(pn, "removes", "", &p->removes, err) ||
            scn_get_string(pn, "note", "", &p->note, err) ||
            scn_get_bool(pn, "all", 0, &p->all, err))
            goto fail;
        if (!p->id || !p->technology) {
            scn_error(err, pn, "a pair needs `id:` and `technology:`");
            goto fail;
        }
        for (const char *c = p->id; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                  *c == '_')) {
                scn_error(err, scn_map_get(pn, "id"), "pair id '%s': lowercase letters, digits,"
                          " '-' and '_' (it names files)", p->id);
                goto fail;
            }
        for (size_t j = 0; j + 1 < st->npairs; j++)
            if (strcmp(st->pairs[j].id, p->id) == 0) {
                scn_error(err, scn_map_get(pn, "id"), "pair id '%s' is used twice", p->id);
                goto fail;
            }
        const scn_node *kn = scn_map_get(pn, "key"), *onn = scn_map_get(pn, "on"),
                       *offn = scn_map_get(pn, "off");
        if (p->all && (kn || onn || offn)) {
            scn_error(err, kn ? kn : onn ? onn : offn,
                      "pair '%s': `all: true` takes the other pairs' switches, not its own key",
                      p->id);
            goto fail;
        }
        if (!p->all && (!kn || !onn || !offn)) {
            scn_error(err, pn, "pair '%s' needs its switch: `key:` (one --set path, or a list),"
                      " `on:` and `off:`", p->id);
            goto fail;
        }
        if (!p->all && load_switch(p, kn, onn, offn, err))
            goto fail;
        st->nswitch += p->nkeys;
        const scn_node *sc = scn_map_get(pn, "scenarios");
        if (!sc || scn_node_kind(sc) != SCN_SEQ || scn_len(sc) == 0) {
            scn_error(err, sc ? sc : pn, "pair '%s' needs `scenarios: [LABEL, ...]`", p->id);
            goto fail;
        }
        p->scen = sim_calloc(scn_len(sc) + 1, sizeof *p->scen);
        if (!p->scen)
            goto nomem;
        for (size_t k = 0; k < scn_len(sc); k++) {
            const char *l = scn_scalar(scn_seq_at(sc, k));
            int si = l ? find_scen(st, l) : -1;
            if (si < 0) {
                scn_error(err, scn_seq_at(sc, k), "pair '%s': no scenario labelled '%s' under "
                          "scenarios:", p->id, l ? l : "");
                goto fail;
            }
            p->scen[p->nscen++] = (size_t)si;
        }
        if (load_metrics(scn_map_get(pn, "removal"), "removal", &p->removal, &p->nremoval, err) ||
            load_metrics(scn_map_get(pn, "effect"), "effect", &p->effect, &p->neffect, err) ||
            load_metrics(scn_map_get(pn, "energy"), "energy", &p->energy, &p->nenergy, err))
            goto fail;
        p->has_effect = scn_map_get(pn, "effect") != NULL;
        p->has_energy = scn_map_get(pn, "energy") != NULL;
        const scn_node *fg = scn_map_get(pn, "figure");
        if (fg) {
            static const char *const fk[] = {"kind", "metric", NULL};
            if (scn_check_keys(fg, fk, "figure", err) ||
                scn_get_string(fg, "kind", NULL, &p->fig_kind, err) ||
                scn_get_string(fg, "metric", NULL, &p->fig_metric, err))
                goto fail;
        }
    }
    /* the same switch key twice on one scenario would make its points ambiguous */
    for (size_t i = 0; i < st->npairs; i++)
        for (size_t j = 0; j < i; j++) {
            const st_pair *a = &st->pairs[i], *b = &st->pairs[j];
            if (a->all || b->all)
                continue;
            for (size_t ka = 0; ka < a->nkeys; ka++)
                for (size_t kb = 0; kb < b->nkeys; kb++) {
                    if (strcmp(a->keys[ka], b->keys[kb]))
                        continue;
                    for (size_t x = 0; x < a->nscen; x++)
                        for (size_t y = 0; y < b->nscen; y++)
                            if (a->scen[x] == b->scen[y]) {
                                scn_error(err, scn_map_get(a->node, "key"), "pairs '%s' and '%s' "
                                          "switch the same key '%s' on scenario '%s'", b->id,
                                          a->id, a->keys[ka], st->scen[a->scen[x]].label);
                                goto fail;
                            }
                }
        }
    if (make_rows(st, err))
        goto fail;
    if (scn_map_get(root, "capacity") && load_capacities(st, scn_map_get(root, "capacity"), err))
        goto fail;
    return st;
nomem:
    sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
fail:
    study_free(st);
    return NULL;
}

/* ---- the runs ------------------------------------------------------------------ */

size_t study_scen_keys(const study *st, size_t si, const char **keys, const char **on,
                       const char **off, size_t max)
{
    size_t n = 0;
    for (size_t j = 0; j < st->npairs && n < max; j++) {
        const st_pair *q = &st->pairs[j];
        int here = 0;
        for (size_t m = 0; m < q->nscen; m++)
            here |= q->scen[m] == si;
        if (q->all || !here)
            continue;
        for (size_t k = 0; k < q->nkeys && n < max; k++) {
            keys[n] = q->keys[k];
            on[n] = q->on[k];
            off[n++] = q->off[k];
        }
    }
    return n;
}

/* Add one point: scenario si with keys[i] = vals[i]. */
static int add_point(const study *st, swp_sweep *sw, size_t si, const char **keys,
                     const char **vals, size_t n, sim_err *err)
{
    int rc = swp_add(sw, st->scen[si].path, (char *const *)keys, (char *const *)vals, n, err);
    return rc < 0 ? rc : 0;
}

/* One round's points: on every scenario, the reference point (every
 * switch on), then each row's off point (equal points once); a grid
 * search's points at each rate; a bisection search's probe (every switch
 * on, the time scale 1) and, given the database (h, set), the next count of
 * every switch point whose search is not decided (counted in *nbis). */
static int add_points(const study *st, swp_sweep *sw, sqlite3 *h, rdb_set *set, size_t *nbis,
                      sim_err *err)
{
    size_t max = st->nswitch + 2;
    for (size_t i = 0; i < st->ncap; i++)
        max += st->caps[i].nset;
    const char **keys = sim_calloc(max, sizeof *keys), **vals = sim_calloc(max, sizeof *vals);
    const char **ukeys = sim_calloc(st->nswitch + 1, sizeof *ukeys);
    const char **uon = sim_calloc(st->nswitch + 1, sizeof *uon);
    const char **uoff = sim_calloc(st->nswitch + 1, sizeof *uoff);
    const char **seen[64];
    size_t npts = 0;
    int rc = 0;
    *nbis = 0;
    if (!keys || !vals || !ukeys || !uon || !uoff)
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t si = 0; si < st->nscen && !rc; si++) {
        size_t nk = study_scen_keys(st, si, ukeys, uon, uoff, st->nswitch);
        if (!nk)
            continue;
        npts = 0;
        for (size_t r = 0; r <= st->nrows && !rc; r++) {
            const st_row *row = r == 0 ? NULL : &st->rows[r - 1];
            if (row && row->scen != si)
                continue;
            for (int side = 0; side < (row ? 2 : 1) && !rc; side++) {
                const char **v = sim_calloc(nk + 1, sizeof *v);
                if (!v) {
                    rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                    break;
                }
                for (size_t k = 0; k < nk; k++) {
                    v[k] = uon[k];
                    for (size_t j = 0; row && side == 1 && j < row->nkeys; j++)
                        if (strcmp(row->keys[j], ukeys[k]) == 0)
                            v[k] = row->off[j];
                }
                int dup = 0;
                for (size_t q = 0; q < npts && !dup; q++) {
                    size_t k = 0;
                    while (k < nk && strcmp(seen[q][k], v[k]) == 0)
                        k++;
                    dup = k == nk;
                }
                if (dup) {
                    sim_free(v);
                    continue;
                }
                if (npts == 64) {
                    sim_free(v);
                    rc = sim_err_set(err, SIM_EINVAL, st->file, 0, 0, "more than 64 points on "
                                     "scenario '%s'", st->scen[si].label);
                    break;
                }
                seen[npts++] = v;
                rc = add_point(st, sw, si, ukeys, v, nk, err);
            }
        }
        /* the capacity search: every distinct switch point again at each
         * rate of the grid, or at the next count of its bisection, with the
         * search's fixed keys */
        const st_capacity *c = study_cap_of(st, si);
        for (size_t q = 0; c && q < npts && !rc; q++) {
            size_t n = 0;
            for (size_t k = 0; k < nk; k++, n++) {
                keys[n] = ukeys[k];
                vals[n] = seen[q][k];
            }
            keys[n++] = c->key;
            for (size_t k = 0; k < c->nset; k++, n++) {
                keys[n] = c->set_keys[k];
                vals[n] = c->set_vals[k];
            }
            for (size_t ri = 0; !c->bisect && ri < c->nrates && !rc; ri++) {
                vals[nk] = c->rates[ri];
                rc = add_point(st, sw, si, keys, vals, n, err);
            }
            if (!c->bisect)
                continue;
            if (q == 0) { /* the probe: every switch on (the reference point) */
                vals[nk] = "1";
                rc = add_point(st, sw, si, keys, vals, n, err);
            }
            char value[64], done[ST_BIS_MAX][64];
            size_t ndone = 0;
            int need = 0;
            if (!rc && h)
                rc = study_bisect_next(st, c, h, set, ukeys, seen[q], nk, &need, value,
                                       sizeof value, done, &ndone, err);
            /* the counts run before (the sweep's database holds its points), then the next */
            for (size_t i = 0; i < ndone && !rc; i++) {
                if (q == 0 && strcmp(done[i], "1") == 0)
                    continue; /* the probe's point, listed above */
                vals[nk] = done[i];
                rc = add_point(st, sw, si, keys, vals, n, err);
            }
            if (!rc && need == 1) {
                vals[nk] = value;
                rc = add_point(st, sw, si, keys, vals, n, err);
            }
            *nbis += need != 0; /* need 2: the probe, listed above */
        }
        for (size_t q = 0; q < npts; q++)
            sim_free(seen[q]);
        npts = 0;
    }
    sim_free(ukeys);
    sim_free(uon);
    sim_free(uoff);
    sim_free(keys);
    sim_free(vals);
    return rc;
}

int study_run(study *st, const char *dir, int jobs, int progress_mode, int *rank0)
{
    sim_err err;
    sim_err_clear(&err);
    *rank0 = 1;
    size_t plen = strlen(dir) + 16;
    char *db = sim_alloc(plen);
    if (!db)
        return SIM_EXIT_RUNTIME;
    snprintf(db, plen, "%s/study.db", dir);
    int bisect = 0;
    for (size_t i = 0; i < st->ncap; i++)
        bisect |= st->caps[i].bisect;
    int status = SIM_EXIT_OK;
    /* rounds: the first runs the table, the grids and the probes; each
     * further one the next count of every undecided bisection (read from
     * the database, so a rerun resumes where it stopped), until none is
     * left */
    for (int round = 0; status == SIM_EXIT_OK; round++) {
        res_db *rdb = NULL;
        rdb_set set;
        memset(&set, 0, sizeof set);
        if (bisect && round > 0 && swp_mpi_barrier)
            swp_mpi_barrier(); /* rank 0 has merged the last round */
        struct stat sb;
        if (bisect && stat(db, &sb) == 0) {
            sim_err e;
            sim_err_clear(&e);
            rdb = res_open_readonly(db, &e);
            if (!rdb || rdb_load_runs(res_handle(rdb), &set, &e)) {
                sim_err_print(&e);
                status = SIM_EXIT_RUNTIME;
                res_close(rdb);
                break;
            }
        }
        swp_sweep *sw = swp_new(st->name, st->file, db, NULL);
        size_t nbis = 0;
        if (!sw) {
            status = SIM_EXIT_RUNTIME;
        } else if (add_points(st, sw, rdb ? res_handle(rdb) : NULL, rdb ? &set : NULL, &nbis,
                              &err)) {
            sim_err_print(&err);
            status = err.code == SIM_ENOMEM ? SIM_EXIT_RUNTIME : SIM_EXIT_USAGE;
        }
        rdb_set_free(&set);
        res_close(rdb);
        if (status == SIM_EXIT_OK && (round == 0 || nbis)) {
            if (round > 0 && progress_mode >= 0 && *rank0)
                fprintf(stderr, "study %s: capacity bisection, round %d: %zu run%s\n", st->name,
                        round, nbis, nbis == 1 ? "" : "s");
            if (swp_prepare(sw, &err)) {
                sim_err_print(&err);
                status = SIM_EXIT_USAGE;
            } else {
                status = swp_run(sw, jobs, progress_mode, rank0);
            }
        }
        swp_free(sw);
        if (!bisect || (round > 0 && !nbis))
            break;
    }
    sim_free(db);
    return status;
}

/* ---- the command ---------------------------------------------------------------- */

static void study_usage(FILE *f)
{
    fputs("usage: memfab study STUDY.yaml [-j N] [-o DIR] [--progress] [-q]\n"
          "       mpirun -n N memfab study STUDY.yaml [-o DIR]\n"
          "\n"
          "Run every with/without pair of a study (each pair flips its switch, one\n"
          "--set key of a reference scenario or a declared list of them; `all: true`\n"
          "flips every switch of a scenario at once) as the points of one sweep\n"
          "(workers, MPI ranks, resume as memfab sweep), check that the two runs of\n"
          "every row differ in nothing but the row's switch keys, and\n"
          "write into DIR: study.db (every run), table.md and table.tex (rows = pairs;\n"
          "columns = core problem, what it removes, measured removal, end-to-end effect,\n"
          "energy), cells.tsv (every cell's numbers), pair-ID.png and summary.png.\n"
          "A metric a run does not report prints as n/a (metric X not reported).\n"
          "A capacity: section adds the GPUs each row needs for a target load: from a\n"
          "grid of load rates, or by bisection over the GPU count with a time-scaled\n"
          "workload (search: gpus), one round of runs per step.\n"
          "\n"
          "options:\n"
          "  -j, --jobs N        worker processes (default: the CPUs; 1 per MPI rank)\n"
          "  -o, --output DIR    results directory (default: the study file's output:)\n"
          "  --no-figures        skip the figures\n"
          "  --progress          progress lines every 2 s when stderr is not a terminal\n"
          "  -q, --quiet         no progress\n"
          "  -h, --help          this help\n"
          "\n"
          "Exit status: 0 done, 1 a run failed or was interrupted (rerun to resume),\n"
          "2 bad study file, or a pair whose runs differ in more than its switch.\n",
          f);
}

static int mkdir_p(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int cmd_study(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'}, {"output", required_argument, NULL, 'o'},
        {"no-figures", no_argument, NULL, 'F'}, {"progress", no_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int jobs = 0, c, figures = 1, mode = 0;
    const char *out = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            jobs = atoi(optarg);
            if (jobs < 1 || jobs > 4096) {
                fprintf(stderr, "memfab study: -j wants a number of workers (1-4096)\n");
                return SIM_EXIT_USAGE;
            }
            break;
        case 'o': out = optarg; break;
        case 'F': figures = 0; break;
        case 'p': mode = 1; break;
        case 'q': mode = -1; break;
        case 'h': study_usage(stdout); return 0;
        default: study_usage(stderr); return SIM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "memfab study: expected one study file\n");
        study_usage(stderr);
        return SIM_EXIT_USAGE;
    }
    sim_err err;
    sim_err_clear(&err);
    study *st = study_load(argv[optind], &err);
    if (!st) {
        sim_err_print(&err);
        return err.code == SIM_ENOMEM ? SIM_EXIT_RUNTIME : SIM_EXIT_USAGE;
    }
    const char *dir = out ? out : study_output(st) ? study_output(st) : study_name(st);
    if (mkdir_p(dir) != 0) {
        fprintf(stderr, "memfab study: %s: %s\n", dir, strerror(errno));
        study_free(st);
        return SIM_EXIT_RUNTIME;
    }
    int rank0 = 1;
    int status = study_run(st, dir, jobs, mode, &rank0);
    if (status == SIM_EXIT_OK && rank0) {
        char db[4096];
        snprintf(db, sizeof db, "%s/study.db", dir);
        if (study_render(st, db, dir, &err)) {
            sim_err_print(&err);
            status = err.code == SIM_EINVAL ? SIM_EXIT_USAGE : SIM_EXIT_RUNTIME;
        } else {
            if (figures && study_figures(st, db, dir, &err)) {
                sim_err_print(&err);
                status = SIM_EXIT_RUNTIME;
            }
            if (mode >= 0)
                fprintf(stderr, "study %s: %s/table.md, table.tex, cells.tsv%s\n",
                        study_name(st), dir, figures ? ", pair-*.png, summary.png" : "");
        }
    }
    swp_end();
    study_free(st);
    return status;
}
