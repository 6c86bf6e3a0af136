/*
 * study_int.h - the parsed study shared by study.c (file, runs, command)
 * and study_table.c (table, cells, figures). Not for other tools.
 */
#ifndef MEMFAB_TOOLS_STUDY_INT_H
#define MEMFAB_TOOLS_STUDY_INT_H

#include <stddef.h>

#include "sim/scn.h"
#include "tools/rdb.h"
#include "tools/study.h"

typedef struct st_metric {
    const char *glob;          /* SCOPE/NAME with shell wildcards */
    const char *label;         /* the table's name for it */
    int absent_zero;           /* `absent: 0`: a run without it had none (a model that
                                  reports it only once it happens); needs it in one run */
} st_metric;

typedef struct st_scen {
    const char *label;         /* the study's label (agents) */
    char *path;                /* scenario file, resolved */
    char name[128];            /* its `name:` (runs.name) */
    const scn_node *node;      /* for error marks */
} st_scen;

typedef struct st_pair {
    const char *id, *technology, *problem, *removes, *note;
    const char **keys, **on, **off; /* the switch: its --set keys with their on and off
                                  values (one key, or a list; none for all) */
    size_t nkeys;
    int all;                   /* every other pair's switch of a scenario */
    size_t *scen, nscen;       /* scenario indices */
    st_metric *removal, *effect, *energy;
    size_t nremoval, neffect, nenergy;
    int has_effect, has_energy;/* own lists (else the study's) */
    const char *fig_kind, *fig_metric;
    const scn_node *node;
} st_pair;

typedef struct st_row {        /* a pair on one scenario */
    const st_pair *pair;
    size_t scen;
    const char **keys, **on, **off;  /* its switch keys and their values */
    size_t nkeys;
} st_row;

/* A capacity search (`capacity:`, one or a list, at most one per
 * scenario): GPUs needed for a target load on one scenario with a serving
 * workload, for every switch point of the table (plus the search's fixed
 * `set:` keys).
 *   grid (`rates:`): every point is run at each rate of a grid of its load
 *     key (a rate); a side's sustained rate is the highest grid rate below
 *     the first that misses the attainment target, and the GPUs it needs
 *     are ceil(load / (rate / GPUs of the run)).
 *   bisection over the GPU count (`search: gpus`, `range: [LO, HI]`): the
 *     load key is a time scale (arrival times are multiplied by it); n GPUs
 *     carry the target load if the run's G GPUs meet the target at the
 *     share load x G / n, i.e. at time scale n x r0 / (load x G), r0 the
 *     offered rate at time scale 1 (measured by a probe run: requests - 1
 *     over its arrival span). The smallest such n in [LO, HI] is found by
 *     bisection (study_bisect), one round of runs per step. */
typedef struct st_capacity {
    int bisect;                /* search: gpus */
    size_t scen;               /* the scenario it runs on */
    const char *key;           /* the load key (workload.synthetic.rate; workload.time_scale) */
    const char **rates;        /* grid: the rates as written (ascending) */
    double *rate_v;            /* ... in 1/s */
    size_t nrates;
    long gmin, gmax;           /* bisection: the GPU counts searched */
    const char **set_keys, **set_vals; /* fixed keys of every capacity point */
    size_t nset;
    const char *metric;        /* the attainment metric (workload/slo_attainment) */
    double target;             /* the attainment target, a fraction */
    const char *target_text;   /* as written (90%) */
    double load;               /* the target load, in 1/s */
    const char *load_text;     /* as written (100/s) */
    const char *unit;          /* what the load counts (sessions, requests) */
    const char *gpus;          /* glob: the run's matches are its GPUs */
    const char **na_scen, **na_why; /* scenario label: why it has no capacity */
    size_t nna;
    double r0, g;              /* bisection: the probe's offered rate and GPUs (render) */
    const scn_node *node;
} st_capacity;

struct study {
    char *file;                /* the study file */
    scn_doc *doc;              /* owns the strings */
    char *name;
    const char *title;
    char *out;                 /* results directory, or NULL */
    st_scen *scen;
    size_t nscen;
    st_pair *pairs;
    size_t npairs;
    st_metric *effect, *energy;
    size_t neffect, nenergy;
    const char **notes;
    size_t nnotes;
    st_row *rows;
    size_t nrows;
    size_t nswitch;            /* switch keys of every pair (bounds study_scen_keys) */
    st_capacity *caps;         /* the capacity searches */
    size_t ncap;
};

/* The switch keys of scenario si (every key of every non-all pair measured
 * on it), in pair order, with their on and off values; returns the count
 * (at most st->nswitch). */
size_t study_scen_keys(const study *st, size_t si, const char **keys, const char **on,
                       const char **off, size_t max);

/* The capacity search on scenario si, or NULL. */
const st_capacity *study_cap_of(const study *st, size_t si);

/* The value of a bisection search's time-scale key for n GPUs:
 * n x r0 / (load x g), as text (%.10g). */
void study_bisect_value(const st_capacity *c, long n, double r0, double g, char *buf,
                        size_t len);

/* A bisection search's next run for one switch point of its scenario (the
 * switch keys[k] = v[k]): *need 0 when the search is decided (or n/a),
 * else 1 with the load key's value in value, or 2 when the probe is not
 * run yet (value "1", with every switch on, whatever v is); the
 * values of the runs it has already made in seen[0..*nseen) (every round's
 * sweep lists them: a sweep's database holds the points it lists). h and
 * set are the study database and its runs. */
#define ST_BIS_MAX 40
int study_bisect_next(const study *st, const st_capacity *c, struct sqlite3 *h, rdb_set *set,
                      const char **keys, const char **v, size_t nk, int *need, char *value,
                      size_t len, char (*seen)[64], size_t *nseen, sim_err *err);

#endif
