/*
 * sweep.c - memfab sweep (see sweep.h).
 *
 * A sweep file:
 *
 *   name: pcie-bw                  # default: the file name without .yaml
 *   scenario: ../default.yaml      # relative to the sweep file
 *   set: {stop: 100 ms}            # fixed overrides (mapping, or list of "k=v")
 *   grid:                          # cartesian product, last key fastest
 *     links.pcie_h2d.bandwidth: [8 GB/s, 16 GB/s, 25 GB/s]
 *     components.host_dma.interarrival: [2 us, 4 us]
 *   points:                        # and/or listed points
 *     - {links.pcie_h2d.bandwidth: 4 GB/s, components.host_dma.interarrival: 8 us}
 *   seeds: [1, 2, 3]               # replications (or `replications: 3` = seeds 1..3)
 *   output: pcie-bw.db             # relative to the sweep file; default: results/NAME.db
 *                                  # under the current directory, as memfab run's output
 *
 * Each (point, seed) runs in a worker process into its own database
 * WORK/<id>.db, where WORK defaults to OUTPUT.d and <id> is a hash of the
 * scenario file's bytes, the fixed overrides, the point's overrides and the
 * seed: editing the grid keeps the points that did not change. A worker
 * writes <id>.db.part (without SQLite's syncs, with the sweep params among
 * the run's own), fdatasyncs it once and renames it to <id>.db when the
 * run is complete,
 * to <id>.interrupted.db when the run was stopped (Ctrl-C, SIGTERM, the
 * sweep killed: status interrupted, what it measured kept), or to
 * <id>.failed.db after recording the failure (a `runs` row with status
 * failed and the error) - so a sweep that is interrupted or rerun skips
 * the complete points and retries the others; --list tells the three apart.
 * A complete point also leaves <id>.rec, its rows as a record file (res.h)
 * read on the worker's own connection before it closes and bound to the
 * synced <id>.db.part (the rename keeps the binding); a worker removes it
 * before it runs the point. <id>.db stays the point's result: the record
 * is a cache for the merge, which uses it only when it is intact and still
 * belongs to <id>.db, and reads the database otherwise.
 *
 * Every run gets params sweep.name, sweep.point (the id), sweep.seed (with
 * seeds) and sweep.<key> for every swept key, so plots and comparisons can
 * group by any swept key. When all points are done, the point databases are
 * merged (res_merge) in point order into OUTPUT, rebuilt each time (the
 * same sweep gives the same merged rows whether it ran under -j or MPI),
 * and, over the seeds of each point, every metric (rdb.h names) is
 * summarized in the table sweep_summary: n, mean, sample standard
 * deviation and the half-width of the 95% confidence interval of the mean
 * (Student t, GSL).
 *
 * The scheduler forks up to -j workers and sleeps until one ends
 * (SIGCHLD; a self-pipe, so that a signal taken by another thread wakes
 * it too) or 200 ms pass (the progress line). The merge goes through one
 * res_merger: a complete point from its record file when that is valid
 * (no database opened, statements compiled once), otherwise from its
 * database, checked by one query when its schema equals the previous
 * one's; MEMFAB_MERGE_BATCH points (64) to a transaction. A local sweep
 * merges the points that are final while the others run, in a thread at
 * idle priority, with the scheduler in a child process (side_merge below;
 * MEMFAB_MERGE_BESIDE=0: after the points, in this process); the merged
 * file is the same either way, byte for byte. One process at a time
 * merges into OUTPUT: it holds an flock on WORK/merge.lock from before it
 * creates OUTPUT.merge until the rename (merge_lock); a second sweep on the
 * same output runs its points and leaves the merge to the first (exit 1).
 * --timing prints the wall and
 * CPU of both phases, how many points came from record files and how many
 * were merged beside the running points (swp_last_timing; memfab bench
 * sweep).
 *
 * Under MPI (mpirun -n N memfab sweep FILE), rank r runs the points whose
 * index modulo N is r (each rank may use -j workers too), all ranks meet
 * at a barrier, and rank 0 merges. WORK must be on a file system that
 * every rank sees.
 */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "results/res.h"
#include "sim/mem.h"
#include "sim/scn.h"
#include "models/registry.h"
#include "sim/schema.h"
#include "tools/commands.h"
#include "tools/human.h"
#include "tools/rdb.h"
#include "tools/run.h"

#pragma weak swp_mpi_init
#pragma weak swp_mpi_barrier
#pragma weak swp_mpi_max
#pragma weak swp_mpi_finalize

typedef struct point {
    char *scenario;            /* this point's scenario (NULL: the sweep's) */
    char *scen_name;           /* its `name:`, for failure records (NULL: the sweep's) */
    char **keys;               /* swept keys, in sweep-file order */
    char **vals;               /* their values */
    size_t n;
    int have_seed;             /* a seed override */
    uint64_t seed;
    char id[17];               /* hex hash: the point's file name */
} point;

struct swp_sweep {
    char *file;                /* the sweep file */
    char *name;                /* sweep name */
    char *scenario;            /* base scenario path (resolved) */
    char *scen_name;           /* the scenario's `name:`, for failure records */
    char **sets;               /* fixed overrides "k=v" */
    size_t nsets;
    point *pts;
    size_t npts, cappts;
    char *out;                 /* merged database */
    char *work;                /* work directory */
};
typedef struct swp_sweep sweep;

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = sim_alloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void point_free(point *p)
{
    for (size_t i = 0; i < p->n; i++) {
        sim_free(p->keys[i]);
        sim_free(p->vals[i]);
    }
    sim_free(p->keys);
    sim_free(p->vals);
    sim_free(p->scenario);
    sim_free(p->scen_name);
}

static void sweep_free(sweep *s)
{
    for (size_t i = 0; i < s->npts; i++)
        point_free(&s->pts[i]);
    for (size_t i = 0; i < s->nsets; i++)
        sim_free(s->sets[i]);
    sim_free(s->pts);
    sim_free(s->sets);
    sim_free(s->file);
    sim_free(s->name);
    sim_free(s->scenario);
    sim_free(s->scen_name);
    sim_free(s->out);
    sim_free(s->work);
    memset(s, 0, sizeof *s);
}

/* Path relative to the directory of `base` (unless absolute). */
static char *relative_to(const char *base, const char *path)
{
    if (path[0] == '/')
        return sim_strdup(path);
    char *b = sim_strdup(base);
    if (!b)
        return NULL;
    char *r = str_printf("%s/%s", dirname(b), path);
    sim_free(b);
    return r;
}

/* The most runs (points times seeds) one sweep may have. */
#define SWEEP_MAX_RUNS 1000000

static int add_point(sweep *s, char *const *keys, char *const *vals, size_t n, int have_seed,
                     uint64_t seed)
{
    if (s->npts == s->cappts) { /* geometric: a grid of 10^5 points is built in linear time */
        size_t cap = s->cappts ? 2 * s->cappts : 16;
        point *np = sim_realloc(s->pts, cap * sizeof *np);
        if (!np)
            return SIM_ENOMEM;
        s->pts = np;
        s->cappts = cap;
    }
    point *p = &s->pts[s->npts];
    memset(p, 0, sizeof *p);
    p->keys = sim_calloc(n + 1, sizeof *p->keys);
    p->vals = sim_calloc(n + 1, sizeof *p->vals);
    if (!p->keys || !p->vals) {
        point_free(p);
        return SIM_ENOMEM;
    }
    s->npts++;
    for (size_t i = 0; i < n; i++) {
        p->keys[i] = sim_strdup(keys[i]);
        p->vals[i] = sim_strdup(vals[i]);
        p->n++;
        if (!p->keys[i] || !p->vals[i])
            return SIM_ENOMEM;
    }
    p->have_seed = have_seed;
    p->seed = seed;
    return 0;
}

/* FNV-1a, 64 bits. */
static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- string -> index tables ------------------------------------------------
 * Open addressing with linear probing, load at most 1/2, for the lookups a
 * large sweep makes once per point or run (point ids, groups of runs): so
 * listing or merging N points costs O(N), not O(N^2). */

typedef struct strtab {
    size_t *cell;      /* index + 1 into the caller's strings, 0 empty */
    size_t mask;
} strtab;

static int strtab_init(strtab *t, size_t n)
{
    size_t cells = 16;
    while (cells < 2 * n + 2)
        cells *= 2;
    t->cell = sim_calloc(cells, sizeof *t->cell);
    t->mask = cells - 1;
    return t->cell ? 0 : SIM_ENOMEM;
}

static void strtab_fini(strtab *t) { sim_free(t->cell); }

/* The index of str among strs (as added), or add it as index i (when i is
 * not SIZE_MAX) and return i; SIZE_MAX when absent and not added. At most
 * the n strings strtab_init was sized for may be added. */
static size_t strtab_find(strtab *t, const char *const *strs, const char *str, size_t i)
{
    size_t c = (size_t)fnv(0xcbf29ce484222325ULL, str, strlen(str)) & t->mask;
    for (; t->cell[c]; c = (c + 1) & t->mask)
        if (strcmp(strs[t->cell[c] - 1], str) == 0)
            return t->cell[c] - 1;
    if (i != SIZE_MAX)
        t->cell[c] = i + 1;
    return i;
}

/* Point ids as a string array for strtab_find. */
static const char **point_id_list(const sweep *s)
{
    const char **ids = sim_alloc((s->npts ? s->npts : 1) * sizeof *ids);
    for (size_t i = 0; ids && i < s->npts; i++)
        ids[i] = s->pts[i].id;
    return ids;
}

/* FNV-1a of a scenario file's bytes, from h. The bytes are read as
 * scenario files are (scn_read_file): a device, a FIFO or a file over
 * 16 MiB is an error at `mark` (the sweep file's `scenario:`) when given
 * (reading `scenario: /dev/zero` to its end never finished). */
static int hash_file(const char *path, const scn_node *mark, uint64_t *h, sim_err *err)
{
    char *text = NULL, why[160] = "";
    size_t len = 0;
    int rf = scn_read_file(path, &text, &len, why, sizeof why);
    if (rf == -2)
        return mark ? scn_error(err, mark, "scenario '%s': %s", path, why)
                    : sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "scenario '%s': %s", path, why);
    if (rf)
        return sim_err_set(err, errno == ENOMEM ? SIM_ENOMEM : SIM_EIO, NULL, 0, 0, "%s: %s",
                           path, strerror(errno));
    *h = fnv(*h, text, len);
    sim_free(text);
    return 0;
}

static int point_ids(sweep *s, const scn_node *root, sim_err *err)
{
    uint64_t base = 0xcbf29ce484222325ULL;
    /* a sweep built in memory has no base scenario: its points name theirs */
    int rc = s->scenario ? hash_file(s->scenario, root ? scn_map_get(root, "scenario") : NULL,
                                     &base, err)
                         : 0;
    if (rc)
        return rc;
    for (size_t i = 0; i < s->nsets; i++)
        base = fnv(base, s->sets[i], strlen(s->sets[i]) + 1);
    for (size_t i = 0; i < s->npts; i++) {
        point *p = &s->pts[i];
        uint64_t h = fnv(base, "\001", 1);
        if (p->scenario) { /* a point with its own scenario: its path and bytes count */
            h = fnv(h, p->scenario, strlen(p->scenario) + 1);
            if ((rc = hash_file(p->scenario, NULL, &h, err)))
                return rc;
        }
        for (size_t k = 0; k < p->n; k++) {
            h = fnv(h, p->keys[k], strlen(p->keys[k]) + 1);
            h = fnv(h, p->vals[k], strlen(p->vals[k]) + 1);
        }
        if (p->have_seed)
            h = fnv(h, &p->seed, sizeof p->seed);
        snprintf(p->id, sizeof p->id, "%016llx", (unsigned long long)h);
    }
    /* a repeated point: the same id (hash) as an earlier one */
    const char **ids = point_id_list(s);
    strtab t;
    if (!ids || strtab_init(&t, s->npts)) {
        sim_free(ids);
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    }
    for (size_t i = 0; i < s->npts && !rc; i++) {
        size_t j = strtab_find(&t, ids, ids[i], i);
        if (j != i)
            rc = sim_err_set(err, SIM_EINVAL, s->file, 0, 0,
                             "point %zu repeats point %zu (same overrides and seed)", i + 1, j + 1);
    }
    strtab_fini(&t);
    sim_free(ids);
    return rc;
}

/* ---- the sweep file ------------------------------------------------------- */

static const sim_skey sweep_keys[] = {
    {"name", SIM_S_VALUE, "string", "(file name)", "", "the sweep's name", NULL},
    {"scenario", SIM_S_VALUE, "string", NULL, "", "the base scenario (relative to this file)",
     NULL},
    {"set", SIM_S_OPEN, "map|list", NULL, "", "overrides of every point: KEY: VALUE or KEY=VALUE",
     NULL},
    {"grid", SIM_S_OPEN, "map", NULL, "", "KEY: [VALUE, ...]: every combination is a point", NULL},
    {"points", SIM_S_OPEN, "list", NULL, "", "listed points: [{KEY: VALUE, ...}, ...]", NULL},
    {"seeds", SIM_S_VALUE, "list of uint", NULL, "", "run every point with each seed", NULL},
    {"replications", SIM_S_VALUE, "uint", "1", "", "seeds 1..N (without seeds:)", NULL},
    {"output", SIM_S_VALUE, "string", "results/<name>.db", "",
     "the merged results database (relative to this file; default under the current directory)",
     NULL},
    {"workdir", SIM_S_VALUE, "string", "<output>.d", "", "per-point databases and logs", NULL},
    {NULL, 0, NULL, NULL, NULL, NULL, NULL}};
static const sim_schema sweep_schema = {"sweep file", sweep_keys, NULL, NULL, NULL, NULL, NULL};

/* The node in the sweep file that wrote override `key` (for error marks). */
static const scn_node *override_node(const scn_node *root, const char *key)
{
    const scn_node *g = scn_map_get(root, "grid");
    for (size_t i = 0; g && scn_node_kind(g) == SCN_MAP && i < scn_len(g); i++)
        if (strcmp(scn_map_key(g, i), key) == 0)
            return scn_map_key_node(g, i);
    const scn_node *st = scn_map_get(root, "set");
    for (size_t i = 0; st && i < scn_len(st); i++) {
        if (scn_node_kind(st) == SCN_MAP && strcmp(scn_map_key(st, i), key) == 0)
            return scn_map_key_node(st, i);
        const char *v = scn_node_kind(st) == SCN_SEQ ? scn_scalar(scn_seq_at(st, i)) : NULL;
        size_t kl = strlen(key);
        if (v && strncmp(v, key, kl) == 0 && v[kl] == '=')
            return scn_seq_at(st, i);
    }
    const scn_node *pl = scn_map_get(root, "points");
    for (size_t i = 0; pl && scn_node_kind(pl) == SCN_SEQ && i < scn_len(pl); i++) {
        const scn_node *m = scn_seq_at(pl, i);
        for (size_t j = 0; scn_node_kind(m) == SCN_MAP && j < scn_len(m); j++)
            if (strcmp(scn_map_key(m, j), key) == 0)
                return scn_map_key_node(m, j);
    }
    return root;
}

/* Every point's overrides against the scenario schema, before anything
 * runs: a key that does not exist (router.polcy) is an error at its place in
 * the sweep file, not a failed run per point. Each override is checked as it
 * is applied, so the error names the one that broke the scenario. Points that
 * differ only in their seed are checked once. */
static int check_points(const sweep *s, const scn_node *root, sim_err *err)
{
    for (size_t i = 0; i < s->npts; i++) {
        const point *p = &s->pts[i];
        if (i > 0 && p->n == s->pts[i - 1].n) {
            size_t k = 0;
            while (k < p->n && strcmp(p->keys[k], s->pts[i - 1].keys[k]) == 0 &&
                   strcmp(p->vals[k], s->pts[i - 1].vals[k]) == 0)
                k++;
            if (k == p->n && p->scenario == s->pts[i - 1].scenario)
                continue; /* another seed of the same point */
        }
        sim_err e;
        sim_err_clear(&e);
        scn_doc *d = scn_load(p->scenario ? p->scenario : s->scenario, &e);
        if (!d)
            return 0; /* every point fails, and records why */
        int rc = sim_schema_check(&memfab_scenario_schema, scn_root(d), "", NULL, NULL, &e);
        if (rc) {
            scn_free(d);
            return sim_err_set(err, rc, e.file, e.line, e.col, "%s", e.msg);
        }
        size_t n = s->nsets + p->n;
        for (size_t j = 0; j < n && !rc; j++) {
            char *a = j < s->nsets ? NULL : str_printf("%s=%s", p->keys[j - s->nsets],
                                                       p->vals[j - s->nsets]);
            const char *asg = j < s->nsets ? s->sets[j] : a;
            if (!asg) {
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                break;
            }
            if (!(rc = scn_set(d, asg, &e)))
                rc = sim_schema_check(&memfab_scenario_schema, scn_root(d), "", NULL, NULL, &e);
            if (rc && !root) /* a sweep built in memory (memfab study) */
                rc = sim_err_set(err, rc, s->file, 0, 0, "override '%s' of %s: %s", asg,
                                 p->scenario ? p->scenario : s->scenario, e.msg);
            else if (rc) {
                size_t kl = strcspn(asg, "=");
                char key[512];
                snprintf(key, sizeof key, "%.*s", (int)(kl < 511 ? kl : 511), asg);
                rc = scn_error(err, override_node(root, key), "override '%s' (point %zu): %s",
                               asg, i + 1, e.msg);
            }
            sim_free(a);
        }
        scn_free(d);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_sweep(const char *path, sweep *s, const char *out_opt, const char *work_opt,
                      size_t max_runs, sim_err *err)
{
    memset(s, 0, sizeof *s);
    scn_doc *d = scn_load(path, err);
    if (!d)
        return err->code ? err->code : SIM_ESCENARIO;
    const scn_node *root = scn_root(d), *n;
    int rc = sim_schema_check(&sweep_schema, root, "sweep file", NULL, NULL, err);
    const char *name = NULL, *scen = NULL, *outp = NULL, *work = NULL;
    char **gk = NULL, ***gv = NULL;
    size_t *gn = NULL, ng = 0;
    uint64_t *seeds = NULL;
    size_t nseeds = 0;
    if (rc)
        goto out;
    s->file = sim_strdup(path);
    if ((rc = scn_get_string(root, "name", NULL, &name, err)) ||
        (rc = scn_get_string(root, "scenario", NULL, &scen, err)) ||
        (rc = scn_get_string(root, "output", NULL, &outp, err)) ||
        (rc = scn_get_string(root, "workdir", NULL, &work, err)))
        goto out;
    if (!scen) {
        rc = scn_error(err, root, "a sweep needs `scenario: FILE` (the base scenario)");
        goto out;
    }
    if (name) {
        s->name = sim_strdup(name);
    } else {
        char *b = sim_strdup(path);
        char *base = b ? basename(b) : NULL;
        char *dot = base ? strrchr(base, '.') : NULL;
        if (dot && dot != base)
            *dot = '\0';
        s->name = base ? sim_strdup(base) : NULL;
        sim_free(b);
    }
    s->scenario = relative_to(path, scen);
    if (out_opt)
        s->out = sim_strdup(out_opt);
    else if (outp)
        s->out = relative_to(path, outp);
    else {
        /* beside the runs' own outputs (memfab run writes results/<name>.db),
         * not into the directory of the sweep file (often scenarios/) */
        s->out = str_printf("results/%s.db", s->name ? s->name : "sweep");
    }
    if (work_opt)
        s->work = sim_strdup(work_opt);
    else if (work)
        s->work = relative_to(path, work);
    else
        s->work = s->out ? str_printf("%s.d", s->out) : NULL;
    if (!s->file || !s->name || !s->scenario || !s->out || !s->work) {
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        goto out;
    }
    /* fixed overrides */
    if ((n = scn_map_get(root, "set"))) {
        size_t len = scn_len(n);
        s->sets = sim_calloc(len + 1, sizeof *s->sets);
        for (size_t i = 0; s->sets && i < len; i++) {
            const scn_node *v = scn_node_kind(n) == SCN_MAP ? scn_map_value(n, i)
                                                            : scn_seq_at(n, i);
            if (!scn_scalar(v)) {
                rc = scn_error(err, v, "set: expected KEY: VALUE pairs (or a list of KEY=VALUE)");
                goto out;
            }
            if (scn_node_kind(n) == SCN_MAP)
                s->sets[s->nsets++] = str_printf("%s=%s", scn_map_key(n, i), scn_scalar(v));
            else if (!strchr(scn_scalar(v), '=')) {
                rc = scn_error(err, v, "set: expected KEY=VALUE");
                goto out;
            } else
                s->sets[s->nsets++] = sim_strdup(scn_scalar(v));
        }
        if (scn_node_kind(n) == SCN_SCALAR) {
            rc = scn_error(err, n, "set: expected a mapping or a list");
            goto out;
        }
    }
    /* seeds */
    if ((n = scn_map_get(root, "seeds"))) {
        if (scn_node_kind(n) != SCN_SEQ || scn_len(n) == 0) {
            rc = scn_error(err, n, "seeds: expected a list of integers");
            goto out;
        }
        seeds = sim_calloc(scn_len(n), sizeof *seeds);
        for (size_t i = 0; seeds && i < scn_len(n); i++) {
            const scn_node *v = scn_seq_at(n, i);
            const char *t = scn_scalar(v);
            if (!t || run_parse_seed(t, &seeds[nseeds++])) {
                rc = scn_error(err, v, "seeds: '%s' is not a seed (a decimal integer from 0"
                                       " to 18446744073709551615)", t ? t : "");
                goto out;
            }
        }
    } else if ((n = scn_map_get(root, "replications"))) {
        uint64_t reps = 0;
        if ((rc = scn_get_uint(root, "replications", 1, &reps, err)))
            goto out;
        if (reps == 0 || reps > 100000) {
            rc = scn_error(err, n, "replications: between 1 and 100000");
            goto out;
        }
        seeds = sim_calloc(reps, sizeof *seeds);
        for (uint64_t i = 0; seeds && i < reps; i++)
            seeds[nseeds++] = i + 1;
    }
    /* grid */
    if ((n = scn_map_get(root, "grid"))) {
        if (scn_node_kind(n) != SCN_MAP) {
            rc = scn_error(err, n, "grid: expected a mapping KEY: [VALUE, ...]");
            goto out;
        }
        ng = scn_len(n);
        gk = sim_calloc(ng + 1, sizeof *gk);
        gv = sim_calloc(ng + 1, sizeof *gv);
        gn = sim_calloc(ng + 1, sizeof *gn);
        if (!gk || !gv || !gn) {
            rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < ng; i++) {
            const scn_node *v = scn_map_value(n, i);
            gk[i] = (char *)scn_map_key(n, i);
            if (scn_node_kind(v) == SCN_SCALAR) {
                gv[i] = sim_calloc(1, sizeof **gv);
                if (gv[i])
                    gv[i][gn[i]++] = (char *)scn_scalar(v);
                continue;
            }
            if (scn_node_kind(v) != SCN_SEQ || scn_len(v) == 0) {
                rc = scn_error(err, v, "grid: '%s': expected a non-empty list of values", gk[i]);
                goto out;
            }
            gv[i] = sim_calloc(scn_len(v), sizeof **gv);
            for (size_t j = 0; gv[i] && j < scn_len(v); j++) {
                const scn_node *e = scn_seq_at(v, j);
                if (!scn_scalar(e)) {
                    rc = scn_error(err, e, "grid: '%s': values are scalars", gk[i]);
                    goto out;
                }
                gv[i][gn[i]++] = (char *)scn_scalar(e);
            }
        }
    }
    const scn_node *pl = scn_map_get(root, "points");
    if (pl && scn_node_kind(pl) != SCN_SEQ) {
        rc = scn_error(err, pl, "points: expected a list of mappings KEY: VALUE");
        goto out;
    }
    /* Enumerate: grid (last key fastest), then listed points; seeds innermost. */
    /* The number of runs is checked before anything is enumerated: the
     * product of the grid's value counts, times the listed points, times the
     * seeds, must stay within SWEEP_MAX_RUNS (it once wrapped to 0 at 2^64). */
    size_t total = ng ? 1 : 0;
    size_t ns = nseeds ? nseeds : 1;
    long double count = ng ? 1 : 0;   /* exact up to 2^64; a count, not arithmetic */
    for (size_t i = 0; i < ng; i++)
        count *= (long double)gn[i];
    count = (count + (long double)(pl ? scn_len(pl) : 0)) * (long double)ns;
    if (count > (long double)max_runs) {
        char dims[96] = "";
        size_t dl = 0;
        for (size_t i = 0; i < ng && dl + 24 < sizeof dims; i++)
            dl += (size_t)snprintf(dims + dl, sizeof dims - dl, "%s%zu", i ? " x " : "", gn[i]);
        if (ng && dl + 24 >= sizeof dims)
            snprintf(dims + dl, sizeof dims - dl, " x ...");
        const scn_node *at = scn_map_get(root, "grid") ? scn_map_get(root, "grid") : root;
        rc = scn_error(err, at, "the sweep has %.0Lf runs (grid of %zu key%s: %s%s,"
                       " %zu listed point%s, %zu seed%s); at most %zu", count, ng,
                       ng == 1 ? "" : "s", ng ? dims : "none", ng ? " values" : "", pl ? scn_len(pl) : (size_t)0,
                       pl && scn_len(pl) == 1 ? "" : "s", ns, ns == 1 ? "" : "s",
                       max_runs);
        goto out;
    }
    for (size_t i = 0; i < ng; i++)
        total *= gn[i];
    char *vals[256];
    if (ng > 256) {
        rc = scn_error(err, n, "grid: at most 256 keys");
        goto out;
    }
    for (size_t k = 0; k < total; k++) {
        size_t r = k;
        for (size_t i = ng; i-- > 0;) {
            vals[i] = gv[i][r % gn[i]];
            r /= gn[i];
        }
        for (size_t j = 0; j < ns; j++)
            if (add_point(s, gk, vals, ng, nseeds > 0, nseeds ? seeds[j] : 0)) {
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                goto out;
            }
    }
    for (size_t i = 0; pl && i < scn_len(pl); i++) {
        const scn_node *m = scn_seq_at(pl, i);
        if (scn_node_kind(m) != SCN_MAP || scn_len(m) > 256) {
            rc = scn_error(err, m, "points: each point is a mapping KEY: VALUE");
            goto out;
        }
        char *pk[256];
        for (size_t j = 0; j < scn_len(m); j++) {
            pk[j] = (char *)scn_map_key(m, j);
            vals[j] = (char *)scn_scalar(scn_map_value(m, j));
            if (!vals[j]) {
                rc = scn_error(err, scn_map_value(m, j), "points: values are scalars");
                goto out;
            }
        }
        for (size_t j = 0; j < ns; j++)
            if (add_point(s, pk, vals, scn_len(m), nseeds > 0, nseeds ? seeds[j] : 0)) {
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                goto out;
            }
    }
    if (s->npts == 0) {   /* no grid, no points: the scenario itself, per seed */
        for (size_t j = 0; j < ns; j++)
            if (add_point(s, NULL, NULL, 0, nseeds > 0, nseeds ? seeds[j] : 0)) {
                rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
                goto out;
            }
    }
    rc = point_ids(s, root, err);
    if (!rc)
        rc = check_points(s, root, err);
    if (!rc) {   /* the scenario's name, for records of points that fail early */
        sim_err e2;
        scn_doc *sd = scn_load(s->scenario, &e2);
        const char *sn = NULL;
        if (sd)
            scn_get_string(scn_root(sd), "name", NULL, &sn, &e2);
        s->scen_name = sim_strdup(sn ? sn : s->name);
        scn_free(sd);
        if (!s->scen_name)
            rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    }
out:
    for (size_t i = 0; gv && i < ng; i++)
        sim_free(gv[i]);
    sim_free(gk);
    sim_free(gv);
    sim_free(gn);
    sim_free(seeds);
    scn_free(d);
    if (rc)
        sweep_free(s);
    return rc;
}

int sweep_load_check(const char *path, size_t max_runs, size_t *npoints, sim_err *err)
{
    sweep s;
    int rc = load_sweep(path, &s, NULL, NULL, max_runs ? max_runs : SWEEP_MAX_RUNS, err);
    if (rc)
        return rc;
    *npoints = s.npts;
    sweep_free(&s);
    return 0;
}

/* ---- one point ------------------------------------------------------------- */

static char *point_path(const sweep *s, const point *p, const char *suffix)
{
    return str_printf("%s/%s%s", s->work, p->id, suffix);
}

static int file_exists(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0;
}

/* Make a database written with res_open_nosync durable before it is
 * renamed into place: one fdatasync instead of SQLite's dozen per file. */
static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fdatasync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* The most telling line of a worker's log: the first with "error", else the last. */
static void log_message(const char *log, char *out, size_t n)
{
    snprintf(out, n, "the worker failed without a message");
    FILE *f = log ? fopen(log, "r") : NULL;
    if (!f)
        return;
    char line[2048];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        if (!found) {
            size_t len = strlen(line) < n - 1 ? strlen(line) : n - 1;
            memcpy(out, line, len);
            out[len] = '\0';
        }
        if (strstr(line, "error"))
            found = 1;
    }
    fclose(f);
}

static void free_params(char **keys, char **vals, int n)
{
    for (int i = 0; i < n; i++) {
        sim_free(keys[i]);
        sim_free(vals[i]);
    }
    sim_free(keys);
    sim_free(vals);
}

/* The params a sweep gives a point's run: sweep.<key> for each swept key,
 * sweep.name, sweep.point (the id) and sweep.seed (with seeds), in this
 * order. Returns how many, or -1 when out of memory; free_params frees them. */
static int point_params(const sweep *s, const point *p, char ***keys_out, char ***vals_out)
{
    char **keys = sim_calloc(p->n + 3, sizeof *keys), **vals = sim_calloc(p->n + 3, sizeof *vals);
    int n = 0, bad = !keys || !vals;
    for (size_t i = 0; !bad && i < p->n; i++, n++)
        bad = !(keys[n] = str_printf("sweep.%s", p->keys[i])) ||
              !(vals[n] = sim_strdup(p->vals[i]));
    if (!bad) {
        bad = !(keys[n] = sim_strdup("sweep.name")) || !(vals[n] = sim_strdup(s->name));
        n++;
    }
    if (!bad) {
        bad = !(keys[n] = sim_strdup("sweep.point")) || !(vals[n] = sim_strdup(p->id));
        n++;
    }
    if (!bad && p->have_seed) {
        bad = !(keys[n] = sim_strdup("sweep.seed")) ||
              !(vals[n] = str_printf("%llu", (unsigned long long)p->seed));
        n++;
    }
    if (bad) {
        if (keys && vals)
            free_params(keys, vals, n);
        else {
            sim_free(keys);
            sim_free(vals);
        }
        return -1;
    }
    *keys_out = keys;
    *vals_out = vals;
    return n;
}

/* Add the sweep params to the (single) run of a point database; when it has
 * no run (the scenario failed before its run began), record a failed run
 * with `message`. Returns 1 when the run is complete, 2 when it was
 * interrupted, 0 when it failed, <0 on error. */
static int finish_point_db(const sweep *s, const point *p, const char *path, const char *message)
{
    sim_err err;
    sim_err_clear(&err);
    res_db *db = res_open_nosync(path, &err);   /* the caller syncs it before the rename */
    if (!db)
        return -1;
    sqlite3 *h = res_handle(db);
    sqlite3_stmt *st;
    int64_t run_id = 0;
    char status[32] = "";
    int has_error = 0;
    if (sqlite3_prepare_v2(h, "SELECT run_id, status, error FROM runs ORDER BY run_id DESC"
                              " LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            run_id = sqlite3_column_int64(st, 0);
            snprintf(status, sizeof status, "%s", sqlite3_column_text(st, 1));
            has_error = sqlite3_column_type(st, 2) != SQLITE_NULL;
        }
        sqlite3_finalize(st);
    }
    if (!run_id) {
        run_id = res_run_begin(db, p->scen_name ? p->scen_name : s->scen_name, "", p->seed,
                               MEMFAB_VERSION, &err);
        if (run_id < 0) {
            res_close(db);
            return -1;
        }
        res_run_error(db, message);
        res_run_end(db, "failed", 0, 0, 0, &err);
        snprintf(status, sizeof status, "failed");
        has_error = 1;
    }
    if (strcmp(status, "complete") != 0 && !has_error &&
        sqlite3_prepare_v2(h, "UPDATE runs SET error = ? WHERE run_id = ?", -1, &st, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_text(st, 1, message, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, run_id);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    int rc = 0;
    if (sqlite3_prepare_v2(h, "INSERT OR REPLACE INTO params (run_id, key, value)"
                              " VALUES (?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
        res_close(db);
        return -1;
    }
    char **keys = NULL, **vals = NULL;
    int np = point_params(s, p, &keys, &vals);
    if (np < 0)
        rc = -1;
    sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
    for (int i = 0; i < np; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, keys[i], -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, vals[i], -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = -1;
    }
    free_params(keys, vals, np);
    sqlite3_exec(h, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(st);
    res_close(db);
    return rc                                   ? rc
           : strcmp(status, "complete") == 0    ? 1
           : strcmp(status, "interrupted") == 0 ? 2
                                                : 0;
}

/* Exit status of a worker that found its point locked by another worker
 * (EX_TEMPFAIL): the scheduler leaves that point's files alone. */
#define WORKER_EXIT_LOCKED 75

/* In a worker process: lock the point (<id>.lock, held until the worker
 * exits, however it exits), run it into <id>.db.part, then rename it. The
 * lock keeps a second sweep on the same directory (a resume started while
 * an old worker still runs) from running the point into the same files. */
static int worker(const sweep *s, const point *p)
{
    char *part = point_path(s, p, ".db.part"), *log = point_path(s, p, ".log");
    char *done = point_path(s, p, ".db"), *failed = point_path(s, p, ".failed.db");
    char *lock = point_path(s, p, ".lock"), *intr = point_path(s, p, ".interrupted.db");
    char *rec = point_path(s, p, ".rec");
    if (!part || !log || !done || !failed || !lock || !intr || !rec)
        return SIM_EXIT_RUNTIME;
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? WORKER_EXIT_LOCKED : SIM_EXIT_RUNTIME;
    if (file_exists(done)) /* another sweep finished it meanwhile */
        return 0;
    res_remove(part);
    unlink(failed);
    unlink(intr);
    unlink(rec);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    const char **sets = sim_calloc(s->nsets + p->n + 1, sizeof *sets);
    char **own = sim_calloc(p->n + 1, sizeof *own);
    if (!sets || !own)
        return SIM_EXIT_RUNTIME;
    int n = 0;
    for (size_t i = 0; i < s->nsets; i++)
        sets[n++] = s->sets[i];
    for (size_t i = 0; i < p->n; i++)
        sets[n++] = own[i] = str_printf("%s=%s", p->keys[i], p->vals[i]);
    run_opts o;
    memset(&o, 0, sizeof o);
    o.scenario = p->scenario ? p->scenario : s->scenario;
    o.out = part;
    o.sets = sets;
    o.nsets = n;
    o.have_seed = p->have_seed;
    o.seed = p->seed;
    o.quiet = 1;
    o.progress = 0;
    /* the sweep params go in with the run's own, and the database is synced
     * once before its rename: a complete run needs no second open */
    char **pkeys = NULL, **pvals = NULL;
    int np = point_params(s, p, &pkeys, &pvals);
    if (np < 0)
        return SIM_EXIT_RUNTIME;
    o.param_keys = (const char *const *)pkeys;
    o.param_vals = (const char *const *)pvals;
    o.nparams = np;
    o.nosync = 1;
    res_records *records = NULL;   /* the merge's copy of the rows (res.h) */
    o.records = &records;
    fprintf(stderr, "memfab sweep %s: point %s:", s->name, p->id);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " --set '%s'", sets[i]);
    if (p->have_seed)
        fprintf(stderr, " --seed %llu", (unsigned long long)p->seed);
    fputc('\n', stderr);
    fflush(stderr);
    int rc = run_scenario(&o);
    free_params(pkeys, pvals, np);
    fflush(stdout);
    fflush(stderr);
    /* run_scenario returns 0 only for a complete run with its params */
    int complete = 1;
    if (rc != 0) {
        char msg[1024];
        log_message(log, msg, sizeof msg);
        complete = finish_point_db(s, p, part, msg);
    }
    if (complete >= 0 && sync_file(part) != 0)
        complete = -1;
    if (complete == 1 && rc == 0 && records) {
        /* bound to the synced file, which the rename keeps; a record that
         * cannot be written leaves the merge to read the database */
        sim_err rerr;
        sim_err_clear(&rerr);
        if (res_records_save(records, part, rec, &rerr) != SIM_OK)
            fprintf(stderr, "memfab sweep: %s (the merge reads the database)\n", rerr.msg);
    }
    res_records_free(records);
    if (complete == 1 && rc == 0)
        rc = rename(part, done) == 0 ? 0 : SIM_EXIT_RUNTIME;
    else if (complete == 2)
        rename(part, intr), rc = rc ? rc : SIM_EXIT_RUNTIME;
    else if (complete >= 0)
        rename(part, failed), rc = rc ? rc : SIM_EXIT_RUNTIME;
    else
        rc = SIM_EXIT_RUNTIME;
    for (size_t i = 0; i < p->n; i++)
        sim_free(own[i]);
    sim_free(own);
    sim_free(sets);
    sim_free(rec);
    sim_free(part);
    sim_free(log);
    sim_free(done);
    sim_free(failed);
    sim_free(lock);
    sim_free(intr);
    return rc; /* the lock goes with the process */
}

/* ---- the merge beside the points ------------------------------------------------ */

static double wall_now(void);
static double self_cpu(void);

/* Points per merge transaction: MEMFAB_MERGE_BATCH (1 to 1000000), 64 by
 * default. 1 is one transaction per point; the merged file is the same. */
static unsigned merge_batch(void)
{
    const char *e = getenv("MEMFAB_MERGE_BATCH");
    if (e && *e) {
        char *end;
        unsigned long v = strtoul(e, &end, 10);
        if (!*end && v >= 1 && v <= 1000000)
            return (unsigned)v;
    }
    return 64;
}

/* Merge point i of s into m: from its record file when that is valid, its
 * database otherwise, its .failed.db when it failed, nothing when it has
 * neither. 0 or an error code; *records counts the record files used. */
static int merge_point(const sweep *s, size_t i, res_merger *m, size_t *records, sim_err *err)
{
    char *done = point_path(s, &s->pts[i], ".db");
    char *failed = point_path(s, &s->pts[i], ".failed.db");
    char *rec = point_path(s, &s->pts[i], ".rec");
    int used = 0, rc = 0;
    if (!done || !failed || !rec)
        rc = sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    else if (file_exists(done) ? res_merger_add_records(m, rec, done, &used, err) < 0
             : file_exists(failed) ? res_merger_add(m, failed, err) < 0
                                   : 0)
        rc = err->code ? err->code : SIM_EIO;
    *records += (size_t)used;
    sim_free(done);
    sim_free(failed);
    sim_free(rec);
    return rc;
}

/* One merge into OUT at a time: the process that merges holds an flock on
 * WORK/merge.lock from before it touches OUT.merge until the rename (a
 * second sweep with the same output would remove or rename a file the
 * first is writing). A file opened for writing, like the points' locks, so
 * that the lock holds where flock is emulated by fcntl locks (NFS). The
 * descriptor, or -1 with errno (EWOULDBLOCK: another sweep holds it).
 * Taken after the last fork, so that no worker inherits it. */
static int merge_lock(const sweep *s)
{
    char *path = str_printf("%s/merge.lock", s->work);
    if (!path) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    sim_free(path);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/*
 * A local sweep merges the points that are final while the others run.
 * The process that merges must own the merged file's only connection from
 * its creation to its close: SQLite writes the file change counter in
 * the header from what a connection last read of page 1, so a second
 * connection that writes after the first gives another file (counter + 1).
 * And the merging must take only the time the workers leave of the cores,
 * yet run at full priority once the points are done; a thread may lower
 * its own priority but not raise it again. So this process keeps the
 * connection, merges in a thread of its own at SCHED_IDLE (nice 19 where
 * refused) and, when the points are done, stops the thread at a point
 * boundary and goes on with the same connection and merger in the main
 * thread. The scheduler (run_points) runs in a child process forked
 * before the thread starts, so that no process ever forks while a thread
 * may hold a lock (SQLite's, malloc's) that the fork would copy held. The
 * child sends "frontiers" over a SOCK_SEQPACKET pair (every point below one
 * is final: complete, failed or not run here; the points at and after it
 * may still run), then its counters and CPU times.
 */
typedef struct side_merge {
    int on;                /* the thread was started */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t frontier;       /* under mu: points below it are final */
    int stop;              /* under mu: hand over at the next point boundary */
    const sweep *s;
    char *tmp;             /* OUT.merge */
    int lockfd;            /* WORK/merge.lock, locked (merge_lock), or -1 */
    res_db *db;            /* the merged file's only connection */
    res_merger *m;
    /* the thread's, read after the join */
    size_t next;           /* points merged: 0 .. next-1 */
    size_t records;        /* of them, from their record files */
    int failed;            /* the main thread starts over and reports the error */
    double cpu;            /* the thread's CPU time */
} side_merge;

/* The thread wakes for this many final points at once (or the last ones):
 * a burst of merging amortizes its cache misses (the workers evict its
 * pages in between) and the wake-up. */
#define SIDE_BURST 16

/* Whether the thread has work: under sm->mu. */
static int side_due(const side_merge *sm)
{
    return sm->frontier > sm->next &&
           (sm->frontier - sm->next >= SIDE_BURST || sm->frontier >= sm->s->npts);
}

static void *side_thread(void *arg)
{
    side_merge *sm = arg;
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    sim_err err;
    sim_err_clear(&err);
    pthread_mutex_lock(&sm->mu);
    for (;;) {
        while (!sm->stop && !side_due(sm))
            pthread_cond_wait(&sm->cv, &sm->mu);
        /* a burst: every final point, then wait again */
        while (!sm->stop && sm->next < sm->frontier) {
            pthread_mutex_unlock(&sm->mu);
            int rc = merge_point(sm->s, sm->next, sm->m, &sm->records, &err);
            pthread_mutex_lock(&sm->mu);
            if (rc) {
                sm->failed = 1;
                break;
            }
            sm->next++;
        }
        if (sm->stop || sm->failed)
            break;
    }
    pthread_mutex_unlock(&sm->mu);
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    sm->cpu = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return NULL;
}

/* The scheduler's message when it is done. */
typedef struct side_result {
    int32_t rc;            /* run_points' */
    uint32_t pad;
    uint64_t done, failed, skipped, interrupted;
    double sched_cpu, workers_cpu;
} side_result;

/* Send the frontier to the merging process when it moved (a failed send
 * only delays the merge: the next one, or the end, says more). */
static void side_send(int fd, size_t *sent, size_t frontier)
{
    if (fd < 0 || frontier <= *sent)
        return;
    uint64_t v = frontier;
    if (send(fd, &v, sizeof v, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof v)
        *sent = frontier;
}

/* ---- the scheduler ------------------------------------------------------------ */

static volatile sig_atomic_t stop_requested;

/* The scheduler's wake-up pipe: the handlers write a byte to it, so the
 * wait ends whichever thread the signal was delivered to (an MPI library
 * may run threads that do not block it). -1 outside run_points. */
static volatile sig_atomic_t wake_fd = -1;

static void wake(void)
{
    int e = errno;
    if (wake_fd >= 0 && write(wake_fd, "", 1) < 0) {
        /* full: a wake-up is pending anyway */
    }
    errno = e;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    wake();
}

/* SIGCHLD only has to end the scheduler's wait. */
static void on_child(int sig)
{
    (void)sig;
    wake();
}

typedef struct progress {
    size_t total, done, running, failed, skipped;
    size_t interrupted;        /* points whose run was stopped (<id>.interrupted.db) */
    int tty;                   /* redraw a status line */
    const char *name;
    int lines;                 /* not a terminal: a line every `every` seconds */
    int quiet;                 /* this rank prints no progress (MPI ranks other than 0) */
    const sweep *sw;           /* with `global`: count every rank's points from the files */
    int global;
    double start, last, every; /* wall clock */
    size_t done0;              /* points complete before this run started */
} progress;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds (user + system) of this process, and of its reaped children. */
static double self_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static swp_timing last_timing;

void swp_last_timing(swp_timing *t)
{
    *t = last_timing;
}

/* Under MPI, rank 0 reports the whole sweep: points complete or failed
 * are files in the shared work directory. */
static void count_files(const progress *pg, size_t *done, size_t *failed)
{
    *done = *failed = 0;
    for (size_t i = 0; i < pg->sw->npts; i++) {
        char *d = point_path(pg->sw, &pg->sw->pts[i], ".db");
        char *f = point_path(pg->sw, &pg->sw->pts[i], ".failed.db");
        if (d && file_exists(d))
            (*done)++;
        else if (f && file_exists(f))
            (*failed)++;
        sim_free(d);
        sim_free(f);
    }
}

/* The status: points done of all, percent, ETA from the points finished
 * in this run. A terminal gets a redrawn line, anything else a line every
 * interval (and at the end). */
static void show(progress *pg, int final)
{
    if (pg->quiet)
        return;
    double now = wall_now();
    if (!final && (pg->tty ? now - pg->last < 0.2 : !pg->lines || now - pg->last < pg->every))
        return;
    size_t total = pg->total, done = pg->done, failed = pg->failed, done0 = pg->skipped;
    if (pg->global) {
        total = pg->sw->npts;
        count_files(pg, &done, &failed);
        done0 = pg->done0;
    }
    size_t finished = done + failed;
    double pct = total ? 100.0 * (double)finished / (double)total : 100.0;
    char eta[64] = "";
    double el = now - pg->start;
    size_t new_ = finished > done0 ? finished - done0 : 0;
    if (final) {
        char t[32];
        snprintf(eta, sizeof eta, ", took %s", human_duration(t, sizeof t, el));
    } else if (new_ > 0 && finished < total) {
        char t[32];
        snprintf(eta, sizeof eta, ", ETA %s",
                 human_duration(t, sizeof t, el / (double)new_ * (double)(total - finished)));
    }
    fprintf(stderr, "%ssweep %s: %zu/%zu points (%.0f%%), %zu failed", pg->tty ? "\r\033[K" : "",
            pg->name, finished, total, pct, failed);
    if (pg->interrupted)
        fprintf(stderr, ", %zu interrupted", pg->interrupted);
    if (!pg->global)
        fprintf(stderr, ", %zu running", pg->running);
    if (done0)
        fprintf(stderr, " (complete before this run: %zu)", done0);
    fprintf(stderr, "%s%s", eta, final || !pg->tty ? "\n" : "");
    fflush(stderr);
    pg->last = now;
}

/* After a worker ends: done, failed (recorded) or interrupted. */
static void reap(const sweep *s, const point *p, int wstatus, progress *pg)
{
    char *done = point_path(s, p, ".db"), *failed = point_path(s, p, ".failed.db");
    char *part = point_path(s, p, ".db.part"), *log = point_path(s, p, ".log");
    char *intr = point_path(s, p, ".interrupted.db");
    pg->running--;
    if (file_exists(done)) {
        pg->done++;
    } else if (file_exists(intr)) {
        /* stopped by a signal (ours, forwarded, or someone else's): kept
         * as interrupted, run again by the next sweep */
        pg->interrupted++;
        if (!stop_requested) {
            if (pg->tty)
                fputs("\r\033[K", stderr);
            fprintf(stderr, "sweep %s: point %s was interrupted (kept in %s; rerun to run it"
                            " again)\n", s->name, p->id, intr);
        }
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == WORKER_EXIT_LOCKED) {
        /* another process runs this point: its files are not ours to touch */
        pg->failed++;
        if (pg->tty)
            fputs("\r\033[K", stderr);
        fprintf(stderr,
                "sweep %s: point %s is being run by another process (its lock %s/%s.lock is "
                "held); not run here\n",
                s->name, p->id, s->work, p->id);
    } else if (stop_requested) {
        res_remove(part);   /* interrupted: rerun it next time */
    } else {
        pg->failed++;
        char msg[1200];
        if (!file_exists(failed)) {
            /* the worker died before recording anything */
            char tail[1024];
            log_message(log, tail, sizeof tail);
            if (WIFSIGNALED(wstatus))
                snprintf(msg, sizeof msg, "worker killed by signal %d: %s", WTERMSIG(wstatus),
                         tail);
            else
                snprintf(msg, sizeof msg, "worker exited with status %d: %s",
                         WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, tail);
            res_remove(part);
            if (finish_point_db(s, p, part, msg) >= 0 && sync_file(part) == 0)
                rename(part, failed);
        } else {
            log_message(log, msg, sizeof msg);
        }
        if (pg->tty)
            fputs("\r\033[K", stderr);
        fprintf(stderr, "sweep %s: point %s failed: %s (log: %s)\n", s->name, p->id, msg, log);
    }
    sim_free(done);
    sim_free(failed);
    sim_free(part);
    sim_free(log);
    sim_free(intr);
}

/* The first point that may still run or be running: every point before it
 * is final (the frontier of the merge beside the points). */
static size_t frontier_of(size_t next, const pid_t *pids, const size_t *which, int jobs)
{
    size_t f = next;
    for (int k = 0; k < jobs; k++)
        if (pids[k] && which[k] < f)
            f = which[k];
    return f;
}

/* Run the points with index % size == rank that are not complete, with up
 * to `jobs` workers, sending the frontier to side_fd (-1: none; see
 * side_merge). Returns 0, or 1 when interrupted. */
static int run_points(const sweep *s, int jobs, int rank, int size, progress *pg, int side_fd)
{
    size_t sent = 0;
    pid_t *pids = sim_calloc((size_t)jobs, sizeof *pids);
    size_t *which = sim_calloc((size_t)jobs, sizeof *which);
    if (!pids || !which) {
        sim_free(pids);
        sim_free(which);
        return -1;
    }
    int wake_pipe[2];
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        sim_free(pids);
        sim_free(which);
        return -1;
    }
    wake_fd = wake_pipe[1];
    struct sigaction sa, chld, old_int, old_term, old_chld;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    memset(&chld, 0, sizeof chld);
    chld.sa_handler = on_child;
    sigaction(SIGCHLD, &chld, &old_chld);
    /* SIGCHLD, SIGINT and SIGTERM stay blocked in this thread except while
     * the scheduler waits (ppoll below), so one that comes between the
     * check and the wait is not lost: the wait returns as soon as a worker
     * ends (the handler's byte in the wake-up pipe covers a signal taken
     * by another thread). */
    sigset_t blocked, old_mask, wait_mask;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGCHLD);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigprocmask(SIG_BLOCK, &blocked, &old_mask);
    wait_mask = old_mask;
    sigdelset(&wait_mask, SIGCHLD);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    size_t next = 0;
    int forwarded = 0;
    pid_t parent = getpid();
    for (;;) {
        while (pg->running < (size_t)jobs && !stop_requested) {
            while (next < s->npts) {
                const point *p = &s->pts[next];
                char *done = point_path(s, p, ".db");
                int skip = (int)(next % (size_t)size) != rank || file_exists(done);
                if (skip && (int)(next % (size_t)size) == rank) {
                    pg->done++;
                    pg->skipped++;
                }
                sim_free(done);
                if (!skip)
                    break;
                next++;
            }
            if (next >= s->npts)
                break;
            int slot = 0;
            while (pids[slot])
                slot++;
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                perror("memfab sweep: fork");
                break;
            }
            if (pid == 0) {
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                sigaction(SIGCHLD, &old_chld, NULL);
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                close(wake_pipe[0]);
                close(wake_pipe[1]);
                wake_fd = -1;
                if (side_fd >= 0)
                    close(side_fd);
                /* A worker dies with its parent (SIGTERM: the run is marked
                 * interrupted), so killing only the sweep stops its points. */
                if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
                    _exit(SIM_EXIT_RUNTIME);
                _exit(worker(s, &s->pts[next]));
            }
            pids[slot] = pid;
            which[slot] = next++;
            pg->running++;
            show(pg, 0);
        }
        side_send(side_fd, &sent, frontier_of(next, pids, which, jobs));
        if (pg->running == 0)
            break;
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid == 0 || (pid < 0 && errno == EINTR)) {
            if (stop_requested && !forwarded) {
                /* forward the stop to the workers (they keep what they measured) */
                for (int k = 0; k < jobs; k++)
                    if (pids[k])
                        kill(pids[k], SIGTERM);
                forwarded = 1;
            }
            show(pg, 0);
            /* Until a worker ends or a stop signal comes; at most 200 ms,
             * for the progress line. (A fixed 50 ms nap here held every
             * worker slot idle for 25 ms on average after its point ended:
             * 1,000 points of 10 ms took 51 s at -j 2 instead of 9 s.) */
            struct timespec nap = {0, 200 * 1000 * 1000};
            struct pollfd pfd = {wake_pipe[0], POLLIN, 0};
            if (ppoll(&pfd, 1, &nap, &wait_mask) > 0) {
                char drain[64];
                while (read(wake_pipe[0], drain, sizeof drain) > 0) {
                }
            }
            continue;
        }
        if (pid < 0)
            break;
        for (int k = 0; k < jobs; k++)
            if (pids[k] == pid) {
                pids[k] = 0;
                reap(s, &s->pts[which[k]], st, pg);
            }
        side_send(side_fd, &sent, frontier_of(next, pids, which, jobs));
        show(pg, 0);
    }
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    wake_fd = -1;
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    sim_free(pids);
    sim_free(which);
    return stop_requested ? 1 : 0;
}

static volatile sig_atomic_t side_stop_asked;

static void on_side_signal(int sig)
{
    (void)sig;
    side_stop_asked = 1;
}

/* End the merging thread (at a point boundary) and take its results. */
static void side_join(side_merge *sm)
{
    if (!sm->on)
        return;
    pthread_mutex_lock(&sm->mu);
    sm->stop = 1;
    pthread_cond_signal(&sm->cv);
    pthread_mutex_unlock(&sm->mu);
    pthread_join(sm->th, NULL);
    pthread_mutex_destroy(&sm->mu);
    pthread_cond_destroy(&sm->cv);
    sm->on = 0;
}

/* An interrupted sweep: no merge; the scratch file goes. */
static void side_abort(side_merge *sm)
{
    side_join(sm);
    res_merger_free(sm->m);
    res_close(sm->db);
    if (sm->tmp)
        res_remove(sm->tmp);
    sim_free(sm->tmp);
    if (sm->lockfd >= 0)
        close(sm->lockfd);
    memset(sm, 0, sizeof *sm);
    sm->lockfd = -1;
}

/* run_points in a child process while this one merges beside it (see
 * side_merge): the same return value, pg's counters and the timing of the
 * points as run_points in this process would give. The thread is left
 * running: merge_all takes it over (side_abort when interrupted). */
static int run_beside(const sweep *s, int jobs, progress *pg, side_merge *sm)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return -2;
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -2;
    }
    if (pid == 0) {
        close(sv[0]);
        /* the sweep killed: stop the points as run_points does on SIGTERM */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(SIM_EXIT_RUNTIME);
        double c0 = self_cpu(), k0 = children_cpu();
        side_result r;
        memset(&r, 0, sizeof r);
        r.rc = run_points(s, jobs, 0, 1, pg, sv[1]);
        r.done = pg->done;
        r.failed = pg->failed;
        r.skipped = pg->skipped;
        r.interrupted = pg->interrupted;
        r.sched_cpu = self_cpu() - c0;
        r.workers_cpu = children_cpu() - k0;
        fflush(stderr);
        _exit(send(sv[1], &r, sizeof r, MSG_NOSIGNAL) == (ssize_t)sizeof r ? 0 : 1);
    }
    close(sv[1]);
    /* the stop signals stay blocked in this thread but while it waits for
     * the scheduler (ppoll below), so that one that comes at any other
     * moment is not lost but passed on at the next wait (the merging thread
     * inherits the mask: they reach this thread only) */
    sigset_t stop_sigs, old_mask, wait_mask;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, &old_mask);
    wait_mask = old_mask;
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_side_signal;
    side_stop_asked = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* this process: the merged file, created after the fork (the scheduler
     * and its workers inherit no SQLite state of it), and the thread */
    sim_err err;
    sim_err_clear(&err);
    sm->s = s;
    /* another sweep merging into OUT: no merge here (merge_all says so) */
    if ((sm->lockfd = merge_lock(s)) >= 0 && (sm->tmp = str_printf("%s.merge", s->out))) {
        res_remove(sm->tmp);
        sm->db = res_open_nosync(sm->tmp, &err);
    }
    if (sm->db && (sm->m = res_merger_new(sm->db, &err))) {
        res_merger_set_batch(sm->m, merge_batch());
        pthread_mutex_init(&sm->mu, NULL);
        pthread_cond_init(&sm->cv, NULL);
        /* the thread blocks the stop signals (it inherits the mask), so
         * that they reach the main thread, which passes them on */
        sm->on = pthread_create(&sm->th, NULL, side_thread, sm) == 0;
        if (!sm->on) {
            pthread_mutex_destroy(&sm->mu);
            pthread_cond_destroy(&sm->cv);
        }
    }
    /* relay the frontiers until the scheduler's result; a stop signal is
     * passed on to it (Ctrl-C reaches it anyway, `kill` of this process
     * does not) */
    side_result r;
    memset(&r, 0, sizeof r);
    int got = 0, forwarded = 0;
    for (;;) {
        union {
            uint64_t frontier;
            side_result r;
        } msg;
        if (side_stop_asked && !forwarded) {
            kill(pid, SIGTERM);
            forwarded = 1;
        }
        struct pollfd pfd = {sv[0], POLLIN, 0};
        if (ppoll(&pfd, 1, NULL, &wait_mask) < 0 && errno == EINTR)
            continue;
        ssize_t n = recv(sv[0], &msg, sizeof msg, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n == (ssize_t)sizeof msg.frontier) {
            if (sm->on) {
                pthread_mutex_lock(&sm->mu);
                if (msg.frontier > sm->frontier && msg.frontier <= s->npts)
                    sm->frontier = (size_t)msg.frontier;
                if (side_due(sm))
                    pthread_cond_signal(&sm->cv);
                pthread_mutex_unlock(&sm->mu);
            }
            continue;
        }
        if (n == (ssize_t)sizeof r) {
            memcpy(&r, &msg.r, sizeof r);
            got = 1;
        }
        break;   /* the result, or the scheduler is gone */
    }
    close(sv[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);   /* a stop signal pending: taken here */
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!got)
        return -1;
    pg->done = (size_t)r.done;
    pg->failed = (size_t)r.failed;
    pg->skipped = (size_t)r.skipped;
    pg->interrupted = (size_t)r.interrupted;
    pg->running = 0;
    last_timing.run_cpu = r.sched_cpu;
    last_timing.workers_cpu = r.workers_cpu;
    return r.rc ? r.rc : side_stop_asked ? 1 : 0;
}

/* ---- merge and summary ------------------------------------------------------- */

static const char summary_sql[] =
    "CREATE TABLE IF NOT EXISTS sweep_summary (\n"
    "    sweep    TEXT NOT NULL,     -- sweep name\n"
    "    point    TEXT NOT NULL,     -- the swept keys, 'k1=v1, k2=v2' (seed excluded)\n"
    "    metric   TEXT NOT NULL,     -- SCOPE/NAME, as memfab compare names it\n"
    "    unit     TEXT,\n"
    "    n        INTEGER NOT NULL,  -- replications (seeds) with this metric\n"
    "    mean     REAL,\n"
    "    stddev   REAL,              -- sample standard deviation (0 when n = 1)\n"
    "    ci95     REAL,              -- half-width of the 95% CI of the mean, Student t\n"
    "    ci_low   REAL,\n"
    "    ci_high  REAL\n"
    ");\n";
#define SUMMARY_FIXED_COLS 10

/* After the fixed columns, sweep_summary has one TEXT column per swept key
 * (in the order the sweep file first names them) holding the point's value
 * as written, NULL for a point that does not set the key: SELECT
 * "router.policy", mean FROM sweep_summary WHERE metric = ... A key that
 * names a fixed column (case-insensitively) is called sweep.KEY. */
static int summary_key_columns(sqlite3 *h, const sweep *s, char ***keys, size_t *nkeys)
{
    static const char *const fixed[] = {"sweep", "point", "metric", "unit", "n", "mean",
                                        "stddev", "ci95", "ci_low", "ci_high"};
    *keys = NULL;
    *nkeys = 0;
    for (size_t i = 0; i < s->npts; i++)
        for (size_t k = 0; k < s->pts[i].n; k++) {
            size_t j = 0;
            while (j < *nkeys && strcmp((*keys)[j], s->pts[i].keys[k]) != 0)
                j++;
            if (j < *nkeys)
                continue;
            char **nk = sim_realloc(*keys, (*nkeys + 1) * sizeof *nk);
            if (!nk)
                return SIM_ENOMEM;
            *keys = nk;
            nk[(*nkeys)++] = s->pts[i].keys[k];   /* borrowed from the point */
        }
    for (size_t j = 0; j < *nkeys; j++) {
        int clash = 0;
        for (size_t f = 0; f < sizeof fixed / sizeof fixed[0]; f++)
            clash |= strcasecmp((*keys)[j], fixed[f]) == 0;
        char *col = clash ? str_printf("sweep.%s", (*keys)[j]) : NULL;
        char *q = sqlite3_mprintf("ALTER TABLE sweep_summary ADD COLUMN \"%w\" TEXT",
                                  col ? col : (*keys)[j]);
        int rc = q ? sqlite3_exec(h, q, NULL, NULL, NULL) : SQLITE_NOMEM;
        sqlite3_free(q);
        sim_free(col);
        if (rc != SQLITE_OK)
            return rc == SQLITE_NOMEM ? SIM_ENOMEM : SIM_EIO;
    }
    return 0;
}

static int summarize(res_db *db, const sweep *s, sim_err *err)
{
    sqlite3 *h = res_handle(db);
    rdb_set set;
    int rc = rdb_load_runs(h, &set, err);
    if (rc)
        return rc;
    rdb_filter(&set, NULL, 0, NULL, 0, 1, err);
    char **keys = sim_calloc(set.n + 1, sizeof *keys);
    sqlite3_stmt *ins = NULL;
    char **kcols = NULL, *insert_sql = NULL;
    size_t nkc = 0;
    const point **pt = sim_calloc(set.n + 1, sizeof *pt);
    double *vals = sim_calloc(set.n + 1, sizeof *vals);
    /* hash lookups, so that summarizing N runs is O(N): point of a run by
     * id, group (first run with the same overrides) of a run, and the next
     * run of each group */
    const char **ids = point_id_list(s);
    size_t *grp = sim_calloc(set.n + 1, sizeof *grp);
    size_t *nextrun = sim_calloc(set.n + 1, sizeof *nextrun);
    size_t *tail = sim_calloc(set.n + 1, sizeof *tail);
    strtab ptab = {NULL, 0}, gt = {NULL, 0};
    rdb_loader *loader = NULL;
    if (!keys || !vals || !pt || !ids || !grp || !nextrun || !tail || strtab_init(&ptab, s->npts) ||
        strtab_init(&gt, set.n)) {
        rc = SIM_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < s->npts; k++)
        (void)strtab_find(&ptab, ids, ids[k], k);
    if (!(loader = rdb_loader_new(h))) {
        rc = SIM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < set.n; i++) {
        rdb_run *r = &set.runs[i];
        if ((rc = rdb_loader_metrics(loader, r, err)))
            goto out;
        size_t cap = 64, len = 0;
        keys[i] = sim_alloc(cap);
        if (!keys[i]) {
            rc = SIM_ENOMEM;
            goto out;
        }
        keys[i][0] = '\0';
        const point *p = NULL;
        const char *pid = rdb_param_get(r, "sweep.point");
        size_t pk = pid ? strtab_find(&ptab, ids, pid, SIZE_MAX) : SIZE_MAX;
        if (pk != SIZE_MAX)
            p = &s->pts[pk];
        pt[i] = p;
        for (size_t k = 0; p && k < p->n; k++) {
            size_t need = len + strlen(p->keys[k]) + strlen(p->vals[k]) + 4;
            if (need > cap) {
                char *nk = sim_realloc(keys[i], cap = 2 * need);
                if (!nk) {
                    rc = SIM_ENOMEM;
                    goto out;
                }
                keys[i] = nk;
            }
            len += (size_t)snprintf(keys[i] + len, cap - len, "%s%s=%s", k ? ", " : "",
                                    p->keys[k], p->vals[k]);
        }
    }
    if (sqlite3_exec(h, summary_sql, NULL, NULL, NULL) != SQLITE_OK ||
        (rc = summary_key_columns(h, s, &kcols, &nkc)) == SIM_EIO) {
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "sweep_summary: %s", sqlite3_errmsg(h));
        goto out;
    }
    if (rc || !(insert_sql = sim_alloc(64 + 2 * (SUMMARY_FIXED_COLS + nkc)))) {
        rc = SIM_ENOMEM;
        goto out;
    }
    if (sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "sweep_summary: %s", sqlite3_errmsg(h));
        goto out;
    }
    {
        size_t len = (size_t)sprintf(insert_sql, "INSERT INTO sweep_summary VALUES (?");
        for (size_t c = 1; c < SUMMARY_FIXED_COLS + nkc; c++)
            len += (size_t)sprintf(insert_sql + len, ",?");
        sprintf(insert_sql + len, ")");
    }
    if (sqlite3_prepare_v2(h, insert_sql, -1, &ins, NULL) != SQLITE_OK) {
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "sweep_summary: %s", sqlite3_errmsg(h));
        goto out;
    }
    /* groups in order of first run; metrics in the order of the group's first run */
    for (size_t i = 0; i < set.n; i++) {
        grp[i] = strtab_find(&gt, (const char *const *)keys, keys[i], i);
        nextrun[i] = SIZE_MAX;
        if (grp[i] != i)
            nextrun[tail[grp[i]]] = i;
        tail[grp[i]] = i;
    }
    for (size_t i = 0; i < set.n; i++) {
        if (grp[i] != i)
            continue;
        for (size_t m = 0; m < set.runs[i].nmetrics; m++) {
            const rdb_metric *mt = &set.runs[i].metrics[m];
            size_t n = 0;
            for (size_t j = i; j != SIZE_MAX; j = nextrun[j]) {
                const rdb_metric *x = rdb_metric_get(&set.runs[j], mt->name);
                if (x && !isnan(x->value))
                    vals[n++] = x->value;
            }
            double mean, sd, half;
            rdb_ci95(vals, n, &mean, &sd, &half);
            sqlite3_reset(ins);
            sqlite3_bind_text(ins, 1, s->name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 2, keys[i], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 3, mt->name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 4, mt->unit, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ins, 5, (sqlite3_int64)n);
            double v[5] = {mean, sd, half, mean - half, mean + half};
            for (int k = 0; k < 5; k++) {
                if (isnan(v[k]))
                    sqlite3_bind_null(ins, 6 + k);
                else
                    sqlite3_bind_double(ins, 6 + k, v[k]);
            }
            for (size_t c = 0; c < nkc; c++) {
                const char *kv = NULL;
                for (size_t k = 0; pt[i] && k < pt[i]->n && !kv; k++)
                    if (strcmp(pt[i]->keys[k], kcols[c]) == 0)
                        kv = pt[i]->vals[k];
                if (kv)
                    sqlite3_bind_text(ins, SUMMARY_FIXED_COLS + 1 + (int)c, kv, -1,
                                      SQLITE_TRANSIENT);
                else
                    sqlite3_bind_null(ins, SUMMARY_FIXED_COLS + 1 + (int)c);
            }
            if (sqlite3_step(ins) != SQLITE_DONE) {
                rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "sweep_summary: %s",
                                 sqlite3_errmsg(h));
                goto out;
            }
        }
    }
    if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "sweep_summary: %s", sqlite3_errmsg(h));
out:
    if (rc == SIM_ENOMEM)
        sim_err_set(err, rc, NULL, 0, 0, "out of memory");
    if (rc && ins)
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(ins);
    for (size_t i = 0; keys && i < set.n; i++)
        sim_free(keys[i]);
    sim_free(keys);
    sim_free(vals);
    sim_free(kcols);
    sim_free(insert_sql);
    sim_free(pt);
    sim_free(ids);
    sim_free(grp);
    sim_free(nextrun);
    sim_free(tail);
    strtab_fini(&ptab);
    strtab_fini(&gt);
    rdb_loader_free(loader);
    rdb_set_free(&set);
    return rc;
}

/* OUT may be replaced only if it is absent or a merge of this sweep. */
static int check_output(const sweep *s, sim_err *err)
{
    if (!file_exists(s->out))
        return 0;
    res_db *db = res_open_readonly(s->out, err);
    if (!db)
        return err->code ? err->code : SIM_EFORMAT;
    sqlite3_stmt *st;
    int foreign = 0;
    if (sqlite3_prepare_v2(res_handle(db),
                           "SELECT COUNT(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM params p"
                           " WHERE p.run_id = r.run_id AND p.key = 'sweep.name' AND p.value = ?)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, s->name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            foreign = sqlite3_column_int(st, 0) > 0;
        sqlite3_finalize(st);
    }
    res_close(db);
    if (foreign)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "%s holds runs that are not from sweep '%s'; the sweep rebuilds its"
                           " output, so give another -o", s->out, s->name);
    return 0;
}

/* SIGINT or SIGTERM while merge_all runs (merge_signals): the merge stops
 * at the next point and leaves OUT as it was (exit 1, as for an
 * interrupted run; the points stay final, so a rerun only merges). */
static volatile sig_atomic_t merge_stop_asked;

static void on_merge_signal(int sig)
{
    (void)sig;
    merge_stop_asked = 1;
}

/* Catch (on) or restore (off) the stop signals around the final merge. */
static void merge_signals(int on)
{
    static struct sigaction old_int, old_term;
    if (on) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_merge_signal;
        merge_stop_asked = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    } else {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
}

/* Merge every point into OUT.merge, in point order, then the summary, one
 * sync and the rename to OUT. With a merge beside the points (sm->on),
 * its thread is stopped and this one goes on from where it was, on the
 * same connection; a thread that failed leaves it all to this one, from an
 * empty file, as without it. */
static int merge_all(const sweep *s, side_merge *sm, sim_err *err)
{
    int lockfd = sm ? sm->lockfd : -1;
    if (sm)
        sm->lockfd = -1;
    if (lockfd < 0 && (lockfd = merge_lock(s)) < 0) {
        /* not locked, so there is no side merge (run_beside) to undo */
        if (errno == EWOULDBLOCK)
            return sim_err_set(err, SIM_EIO, NULL, 0, 0,
                               "another memfab sweep is merging into %s (it holds"
                               " %s/merge.lock); not merged here: run the same command again"
                               " when it is done", s->out, s->work);
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s/merge.lock: %s", s->work,
                           strerror(errno));
    }
    char *tmp = sm && sm->tmp ? sm->tmp : str_printf("%s.merge", s->out);
    if (!tmp) {
        close(lockfd);
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    }
    size_t start = 0;
    res_db *db = NULL;
    res_merger *m = NULL;
    if (sm && sm->m) {
        int was_on = sm->on;
        side_join(sm);
        db = sm->db;
        m = sm->m;
        if (was_on && !sm->failed) {
            start = sm->next;
            last_timing.merged_beside = start;
            last_timing.merged_records += sm->records;
            last_timing.merge_beside_cpu = sm->cpu;
        } else {
            res_merger_free(m);
            res_close(db);
            m = NULL;
            db = NULL;
        }
    }
    if (sm) {
        sm->tmp = NULL;
        sm->db = NULL;
        sm->m = NULL;
    }
    if (!db) {
        res_remove(tmp);
        /* OUT.merge is a scratch file until the rename: synced once, before it */
        db = res_open_nosync(tmp, err);
        m = db ? res_merger_new(db, err) : NULL;
        if (m)
            res_merger_set_batch(m, merge_batch());
    }
    int rc = m ? 0 : (err->code ? err->code : SIM_EIO);
    for (size_t i = start; !rc && i < s->npts && !merge_stop_asked; i++)
        rc = merge_point(s, i, m, &last_timing.merged_records, err);
    if (!rc && m && !merge_stop_asked)
        rc = res_merger_commit(m, err);
    res_merger_free(m);
    if (!rc && !merge_stop_asked)
        rc = summarize(db, s, err);
    res_close(db);
    if (!rc && merge_stop_asked) /* last look before anything lasting */
        rc = sim_err_set(err, SIM_EINTR, NULL, 0, 0,
                         "interrupted while merging into %s, which is left as it was; the"
                         " points are kept in %s: run the same command again to merge them",
                         s->out, s->work);
    if (!rc && sync_file(tmp) != 0)
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", tmp, strerror(errno));
    /* OUT again, under the lock: another sweep may have written it since
     * the check at the start (check_output) */
    if (!rc)
        rc = check_output(s, err);
    if (!rc && rename(tmp, s->out) != 0)
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", s->out, strerror(errno));
    if (rc)
        res_remove(tmp);
    sim_free(tmp);
    close(lockfd);
    return rc;
}

/* MPI, once per process: whether it is in use, this rank and the size. */
static int mpi_start(int *rank, int *size)
{
    static int done, mpi, r, n = 1;
    if (!done) {
        done = 1;
        if (swp_mpi_init)
            mpi = swp_mpi_init(&r, &n);
    }
    *rank = r;
    *size = n;
    return mpi;
}

/* Under a launcher but without MPI in the binary: say so (exit 2). */
static int mpi_missing(const char *cmd)
{
    const char *ws = getenv("OMPI_COMM_WORLD_SIZE");
    if (!ws)
        ws = getenv("PMI_SIZE");
    if (ws && atoi(ws) > 1) {
        fprintf(stderr, "memfab %s: started by an MPI launcher with %s ranks, but this"
                        " memfab was built without MPI (install libopenmpi-dev and"
                        " rebuild)\n", cmd, ws);
        return 1;
    }
    return 0;
}

/* Run the points of a loaded sweep and merge them (the body of memfab sweep
 * after the sweep file is read). Returns an exit status. */
static int execute(sweep *s, int jobs, int force_progress, int mpi, int rank, int size)
{
    int status = SIM_EXIT_OK;
    sim_err err;
    sim_err_clear(&err);
    if (!jobs) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = mpi ? 1 : (n > 0 ? (int)n : 1);
    }
    int bad = 0;
    if (rank == 0) {
        char *od = sim_strdup(s->out);   /* results/ of the default output */
        if (od)
            mkdir(dirname(od), 0777);
        sim_free(od);
        bad = check_output(s, &err) != 0;
        if (bad)
            sim_err_print(&err);
        else if (mkdir(s->work, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "memfab sweep: %s: %s\n", s->work, strerror(errno));
            bad = 1;
        }
    }
    if (mpi)
        bad = swp_mpi_max(bad);
    if (bad)
        return SIM_EXIT_USAGE;
    progress pg;
    memset(&pg, 0, sizeof pg);
    pg.tty = isatty(2);
    pg.lines = !pg.tty;   /* CI logs and batch jobs: a line every interval */
    pg.every = force_progress ? 2.0 : 10.0;
    const char *env = getenv("MEMFAB_PROGRESS_INTERVAL");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        if (!*end && v >= 0)
            pg.every = v;
    }
    pg.name = s->name;
    pg.sw = s;
    pg.quiet = rank != 0 || force_progress < 0;  /* MPI: one progress line, from rank 0 */
    pg.global = mpi && size > 1;
    pg.start = pg.last = wall_now();
    for (size_t i = 0; i < s->npts; i++)
        pg.total += (int)(i % (size_t)size) == rank;
    if (pg.global) {
        size_t f;
        count_files(&pg, &pg.done0, &f);
    }
    if (rank == 0 && force_progress >= 0)
        fprintf(stderr, "sweep %s: %zu points%s, %d worker%s%s -> %s\n", s->name, s->npts,
                s->pts[0].have_seed ? " (with seeds)" : "", jobs, jobs == 1 ? "" : "s",
                mpi ? " on each MPI rank" : "", s->out);
    if (mpi && rank == 0)
        fprintf(stderr, "sweep %s: %d MPI ranks; rank 0 merges\n", s->name, size);
    memset(&last_timing, 0, sizeof last_timing);
    /* a local sweep merges the points that are final beside the others
     * (side_merge; MEMFAB_MERGE_BESIDE=0: after them, in this process) */
    side_merge sm;
    memset(&sm, 0, sizeof sm);
    sm.lockfd = -1;
    const char *be = getenv("MEMFAB_MERGE_BESIDE");
    int beside = !mpi && size == 1 && !(be && strcmp(be, "0") == 0);
    double w0 = wall_now(), c0 = self_cpu(), k0 = children_cpu();
    int interrupted = beside ? run_beside(s, jobs, &pg, &sm) : -2;
    if (interrupted == -2) {   /* not beside, or it could not start */
        beside = 0;
        interrupted = run_points(s, jobs, rank, size, &pg, -1);
        last_timing.run_cpu = self_cpu() - c0;
        last_timing.workers_cpu = children_cpu() - k0;
    } else if (interrupted == -1) {   /* the scheduler died without a word */
        last_timing.workers_cpu = children_cpu() - k0;
    }
    last_timing.run_wall = wall_now() - w0;
    last_timing.points_run = pg.done + pg.failed - pg.skipped;
    last_timing.jobs = jobs;
    if (interrupted < 0) {
        status = SIM_EXIT_RUNTIME;
        interrupted = 1;
    }
    int failed = (int)pg.failed;
    if (pg.interrupted && !interrupted) {
        fprintf(stderr, "sweep %s: %zu point%s interrupted; run the same command again to"
                        " resume\n", s->name, pg.interrupted, pg.interrupted == 1 ? " was" : "s were");
        interrupted = 1;
    }
    if (mpi) {
        swp_mpi_barrier();
        interrupted = swp_mpi_max(interrupted);
        failed = swp_mpi_max(failed);
    }
    show(&pg, 1);   /* after the barrier: rank 0 sees every rank's points */
    if (interrupted)
        side_abort(&sm);
    if (interrupted) {
        if (rank == 0)
            fprintf(stderr, "sweep %s: interrupted; complete points are kept in %s, run the same"
                            " command again to resume\n", s->name, s->work);
        return SIM_EXIT_RUNTIME;
    }
    int merge_rc = 0;
    if (rank == 0) {
        /* beside: this process's CPU since the start is the merge's (its
         * thread, the relay; the scheduler's is its child's); the wall the
         * merge adds is what comes after the points (its setup overlaps
         * the scheduler's start) */
        double mw = wall_now(), mc = beside ? c0 : self_cpu();
        merge_signals(1);
        merge_rc = merge_all(s, &sm, &err);
        merge_signals(0);
        last_timing.merge_wall = wall_now() - mw;
        last_timing.merge_cpu = self_cpu() - mc;
        last_timing.merged = !merge_rc;
        if (merge_rc)
            sim_err_print(&err);
        else if (force_progress >= 0)
            fprintf(stderr, "sweep %s: merged %zu points into %s (summary: sweep_summary)\n",
                    s->name, s->npts, s->out);
    }
    if (mpi)
        merge_rc = swp_mpi_max(merge_rc != 0);
    if (merge_rc)
        status = SIM_EXIT_RUNTIME;
    else if (failed) {
        if (rank == 0)
            fprintf(stderr, "sweep %s: some points failed (their runs are recorded with status"
                            " 'failed' and the error); fix and rerun to retry them\n", s->name);
        status = SIM_EXIT_RUNTIME;
    }
    return status;
}

/* ---- sweeps built in memory (memfab study) ------------------------------------- */

swp_sweep *swp_new(const char *name, const char *file, const char *out, const char *work)
{
    sweep *s = sim_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->name = sim_strdup(name);
    s->file = sim_strdup(file);
    s->scen_name = sim_strdup(name);
    s->out = sim_strdup(out);
    s->work = work ? sim_strdup(work) : str_printf("%s.d", out);
    if (!s->name || !s->file || !s->scen_name || !s->out || !s->work) {
        swp_free(s);
        return NULL;
    }
    return s;
}

void swp_free(swp_sweep *s)
{
    if (!s)
        return;
    sweep_free(s);
    sim_free(s);
}

int swp_add(swp_sweep *s, const char *scenario, char *const *keys, char *const *vals, size_t n,
            sim_err *err)
{
    if (add_point(s, keys, vals, n, 0, 0))
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    point *p = &s->pts[s->npts - 1];
    p->scenario = sim_strdup(scenario);
    sim_err e;
    sim_err_clear(&e);
    scn_doc *d = p->scenario ? scn_load(p->scenario, &e) : NULL;
    const char *sn = NULL;
    if (d)
        scn_get_string(scn_root(d), "name", NULL, &sn, &e);
    p->scen_name = sim_strdup(sn ? sn : scenario);
    scn_free(d);
    if (!p->scenario || !p->scen_name)
        return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    return (int)(s->npts - 1);
}

int swp_prepare(swp_sweep *s, sim_err *err)
{
    int rc = point_ids(s, NULL, err);
    return rc ? rc : check_points(s, NULL, err);
}

size_t swp_npoints(const swp_sweep *s)
{
    return s->npts;
}

const char *swp_point_id(const swp_sweep *s, size_t i)
{
    return i < s->npts ? s->pts[i].id : NULL;
}

const char *swp_output(const swp_sweep *s)
{
    return s->out;
}

int swp_run(swp_sweep *s, int jobs, int progress_mode, int *is_rank0)
{
    int rank = 0, size = 1;
    int mpi = mpi_start(&rank, &size);
    *is_rank0 = rank == 0;
    if (!mpi && mpi_missing("study"))
        return SIM_EXIT_USAGE;
    return execute(s, jobs, progress_mode, mpi, rank, size);
}

void swp_end(void)
{
    int rank, size;
    if (mpi_start(&rank, &size))
        swp_mpi_finalize();
}

/* ---- the command ------------------------------------------------------------ */

/* --timing: where this process's time went (rank 0's own points under MPI). */
static void print_timing(const char *name)
{
    const swp_timing *t = &last_timing;
    double wall = t->run_wall + t->merge_wall;
    double cpu = t->workers_cpu + t->run_cpu + t->merge_cpu;
    fprintf(stderr,
            "sweep %s: timing: %zu points run in %.3f s wall by %d worker%s (workers %.3f s CPU,"
            " %.2f ms a point; scheduler %.3f s CPU)\n",
            name, t->points_run, t->run_wall, t->jobs, t->jobs == 1 ? "" : "s", t->workers_cpu,
            t->points_run ? 1e3 * t->workers_cpu / (double)t->points_run : 0.0, t->run_cpu);
    if (t->merged)
        fprintf(stderr,
                "sweep %s: timing: merge %.3f s wall (%.1f%% of %.3f s), %.3f s CPU (%.1f%% of"
                " %.3f s); %zu points from record files; %zu beside the running points"
                " (%.3f s CPU)\n",
                name, t->merge_wall, wall > 0 ? 100.0 * t->merge_wall / wall : 0.0, wall,
                t->merge_cpu, cpu > 0 ? 100.0 * t->merge_cpu / cpu : 0.0, cpu,
                t->merged_records, t->merged_beside, t->merge_beside_cpu);
}


static void sweep_usage(FILE *f)
{
    fputs("usage: memfab sweep SWEEP.yaml [options]\n"
          "       mpirun -n N memfab sweep SWEEP.yaml [options]\n"
          "\n"
          "Run every point of a sweep (a grid or list of --set overrides of a base\n"
          "scenario, times seeds), each in its own worker process and database, then\n"
          "merge them into one results database with sweep.<key> params and a\n"
          "sweep_summary table (mean and 95% confidence interval over seeds). A rerun\n"
          "skips complete points and retries failed ones.\n"
          "\n"
          "sweep file:\n"
          "  scenario: base.yaml           (relative to the sweep file)\n"
          "  name: NAME                    (default: the file name)\n"
          "  set: {stop: 100 ms}           fixed overrides\n"
          "  grid: {KEY: [V1, V2], ...}    cartesian product\n"
          "  points: [{KEY: V, ...}, ...]  listed points\n"
          "  seeds: [1, 2, 3]              or replications: N (seeds 1..N)\n"
          "  output: OUT.db                (relative to the sweep file; default\n"
          "                                results/NAME.db in the current directory)\n"
          "\n"
          "options:\n"
          "  -j, --jobs N        worker processes (default: 1 under MPI, else the CPUs)\n"
          "  -o, --output FILE   the merged database (replaces the sweep file's output)\n"
          "  --workdir DIR       point databases and logs (default OUTPUT.d)\n"
          "  --list              list the points and their state; run nothing\n"
          "  --progress          progress lines every 2 s when stderr is not a terminal\n"
          "                      (default every 10 s; MEMFAB_PROGRESS_INTERVAL=SECONDS);\n"
          "                      under MPI rank 0 prints the one line for all ranks\n"
          "  -q, --quiet         no progress or summary lines (errors and failed points only)\n"
          "  --timing            print wall and CPU time of running the points (workers,\n"
          "                      scheduler) and of the merge\n"
          "  -h, --help          this help\n"
          "\n"
          "A local sweep merges the points that are done while the others run, at idle\n"
          "priority (MEMFAB_MERGE_BESIDE=0: after them), MEMFAB_MERGE_BATCH points (64)\n"
          "to a transaction; the merged file is the same either way.\n"
          "\n"
          "Exit status: 0 all points complete, 1 some point failed or interrupted\n"
          "(rerun to resume), 2 bad sweep file.\n",
          f);
}

int cmd_sweep(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},  {"output", required_argument, NULL, 'o'},
        {"workdir", required_argument, NULL, 'W'}, {"list", no_argument, NULL, 'l'},
        {"progress", no_argument, NULL, 'p'},    {"help", no_argument, NULL, 'h'},
        {"quiet", no_argument, NULL, 'q'},       {"timing", no_argument, NULL, 'T'},
        {NULL, 0, NULL, 0}};
    int jobs = 0, list = 0, force_progress = 0, timing = 0, c, status = SIM_EXIT_OK;
    const char *out = NULL, *work = NULL;
    int rank = 0, size = 1, mpi = 0;
    sweep s;
    memset(&s, 0, sizeof s);
    sim_err err;
    sim_err_clear(&err);
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            jobs = atoi(optarg);
            if (jobs < 1 || jobs > 4096) {
                fprintf(stderr, "memfab sweep: -j wants a number of workers (1-4096)\n");
                return SIM_EXIT_USAGE;
            }
            break;
        case 'o': out = optarg; break;
        case 'W': work = optarg; break;
        case 'l': list = 1; break;
        case 'p': force_progress = 1; break;
        case 'q': force_progress = -1; break;
        case 'T': timing = 1; break;
        case 'h': sweep_usage(stdout); return 0;
        default: sweep_usage(stderr); return SIM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "memfab sweep: expected one sweep file\n");
        sweep_usage(stderr);
        return SIM_EXIT_USAGE;
    }
    mpi = mpi_start(&rank, &size);
    if (!mpi && mpi_missing("sweep"))
        return SIM_EXIT_USAGE;
    if (load_sweep(argv[optind], &s, out, work, SWEEP_MAX_RUNS, &err)) {
        if (rank == 0)
            sim_err_print(&err);
        status = err.code == SIM_ENOMEM ? SIM_EXIT_RUNTIME : SIM_EXIT_USAGE;
        goto out;
    }
    if (list) {
        if (rank == 0)
            for (size_t i = 0; i < s.npts; i++) {
                char *done = point_path(&s, &s.pts[i], ".db");
                char *failed = point_path(&s, &s.pts[i], ".failed.db");
                char *intr = point_path(&s, &s.pts[i], ".interrupted.db");
                printf("%s %-11s", s.pts[i].id, file_exists(done)     ? "complete"
                                                : file_exists(failed) ? "failed"
                                                : file_exists(intr)   ? "interrupted"
                                                                      : "todo");
                for (size_t k = 0; k < s.pts[i].n; k++)
                    printf(" %s=%s", s.pts[i].keys[k], s.pts[i].vals[k]);
                if (s.pts[i].have_seed)
                    printf(" seed=%llu", (unsigned long long)s.pts[i].seed);
                putchar('\n');
                sim_free(done);
                sim_free(failed);
                sim_free(intr);
            }
        goto out;
    }
    status = execute(&s, jobs, force_progress, mpi, rank, size);
    if (timing && rank == 0)
        print_timing(s.name);
out:
    sweep_free(&s);
    if (mpi)
        swp_mpi_finalize();
    return status;
}
