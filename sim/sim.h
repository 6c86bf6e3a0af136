/*
 * sim.h - the simulator: components, the run loop and the report sink.
 *
 * A simulation is a set of components (instances of registered model types)
 * exchanging fixed-size events through one pending-event set (evq.h). The
 * run loop pops the earliest event and hands it to its target component's
 * `handle`. Time is uint64 picoseconds and only moves forward.
 *
 * Life cycle of a run:
 *   sim_create -> sim_build (components from the scenario, params filled from
 *   each model's parameter table, `configure` called) -> sim_start (each
 *   component's `start`, in scenario order) -> sim_run (until the stop time,
 *   until the queue is empty, or until a component calls sim_stop or a
 *   signal sets the interrupt flag) -> sim_finish (each component's
 *   `finish` reports to the sink) -> sim_destroy.
 *
 * Determinism: components are numbered in scenario order; each owns a GSL
 * random stream seeded from (scenario seed, component name); equal-time
 * events run in insertion order. Nothing depends on pointer values.
 *
 * Results leave through a sim_sink (a table of callbacks) so that sim/ and
 * models/ never depend on the results store; tools/ connects the sink to
 * SQLite, and tests can capture rows in memory.
 */
#ifndef MEMFAB_SIM_SIM_H
#define MEMFAB_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "err.h"
#include "evq.h"
#include "scn.h"
#include "simtime.h"

typedef struct sim sim;
typedef struct sim_comp sim_comp;
typedef struct sim_model sim_model;

/* ---- Parameters, declared as data ------------------------------------ */

typedef enum {
    SIM_P_TIME,   /* sim_time, ps; YAML "250 ns" */
    SIM_P_SIZE,   /* uint64_t bytes; "80 GiB" */
    SIM_P_RATE,   /* double bytes/s; "64 GB/s", "100 Gb/s" */
    SIM_P_GTS,    /* double transfers/s; "32 GT/s" */
    SIM_P_FLOPS,  /* double FLOP/s; "989 TFLOP/s" */
    SIM_P_INT,    /* int64_t */
    SIM_P_UINT,   /* uint64_t */
    SIM_P_DOUBLE, /* double */
    SIM_P_BOOL,   /* int 0/1 */
    SIM_P_STRING, /* const char * owned by the scenario document */
    SIM_P_ENUM,   /* int index into choices */
    SIM_P_ENERGY_BIT, /* double pJ/bit; "6.5 pJ/bit", or "auto" (SCN_AUTO: the model's default) */
    SIM_P_POWER   /* double W; "350 W", or "auto" (SCN_AUTO) */
} sim_param_type;

/* One parameter of a model: filled into the component's state struct at
 * `offset`. def is the default as the user would write it ("250 ns"), or
 * NULL when the parameter is required. */
typedef struct sim_param {
    const char *name;            /* YAML key */
    sim_param_type type;         /* how to parse it */
    const char *def;             /* default, or NULL = required */
    const char *unit;            /* unit shown by `memfab models` ("" if none) */
    const char *desc;            /* one line for `memfab models` */
    size_t offset;               /* offsetof(state struct, field) */
    const char *const *choices;  /* SIM_P_ENUM: NULL-terminated names */
} sim_param;

/* Presets: named sets of parameter values, written as the user would
 * write them ("7450 MB/s"). values is "key", "value", ..., NULL. */
typedef struct sim_preset {
    const char *name;            /* "gen4-x4-990pro" */
    const char *const *values;   /* key/value pairs, NULL-terminated */
} sim_preset;

/* ---- Models ----------------------------------------------------------- */

/* A time series a model samples: the fnmatch pattern of its names (as
 * passed to sim_report_timeseries), the unit of its values and one line
 * for `memfab models`. The unit goes into timeseries.unit. */
typedef struct sim_series {
    const char *pattern;     /* "throughput:*", "waiting"; NULL ends a table */
    const char *unit;        /* "B/s", "B", "requests", ... */
    const char *desc;        /* one line */
} sim_series;

/* A layer's description of its own models, which sim/ does not interpret:
 * a layer's table starts with this header, so the layer recognises its
 * members by `family` (the fabric engine its links and nodes: the pointer
 * compares equal to the layer's own family string). */
typedef struct sim_ext {
    const char *family;      /* the layer's name, e.g. "fabric" */
} sim_ext;

/* A model type: a table of functions, registered by name (models/registry.c). */
struct sim_model {
    const char *type;        /* YAML `type:` value */
    const char *summary;     /* one line for `memfab models` */
    const sim_param *params; /* terminated by an entry with name == NULL */
    const char *const *keys; /* extra YAML keys the model reads itself (NULL-terminated) or NULL */
    size_t state_size;       /* bytes of state, zeroed, then params filled */
    int is_link;             /* 1: a link; its YAML entry has `ends: [a, b]` */
    /* After params are filled: validate, read extra keys from node. */
    int (*configure)(sim_comp *c, const scn_node *node, sim_err *err);
    /* After every component is configured: look up peers, schedule first events. */
    int (*start)(sim_comp *c, sim_err *err);
    /* Handle one event addressed to this component. */
    void (*handle)(sim_comp *c, const sim_event *e);
    /* Called every output.sample_interval of simulated time (may be NULL). */
    void (*sample)(sim_comp *c, sim_time now);
    /* After the run: report results through sim_report_* (may be NULL). */
    int (*finish)(sim_comp *c, sim_err *err);
    /* Release what configure/start allocated (may be NULL). */
    void (*destroy)(sim_comp *c);
    /* Links only: accept a packet of `bytes` entering at end `from_side`;
     * the far end later receives a SIM_EV_DELIVER event with a0 = bytes,
     * a1 = tag. Returns 0, or SIM_ESTATE when the link refuses it (a
     * bounded queue is full: the caller counts a drop or retries). */
    int (*send)(sim_comp *link, int from_side, uint64_t bytes, uint64_t tag);
    /* The layer's table for this model (NULL: none). */
    const sim_ext *ext;
    /* Headline metrics, printed first in the run summary (NULL-terminated
     * fnmatch patterns, or NULL for none). A pattern without '/' matches
     * the metric names this model's components report (e.g. "ttft_p99",
     * "latency:*_mean"); one with '/' matches the flat SCOPE/NAME of any
     * run metric as memfab compare names it (e.g. "requests/ttft_p99"). */
    const char *const *headline;
    /* The time series `sample` reports, with their units (NULL-pattern
     * terminated, or NULL for none). */
    const sim_series *series;
    /* Named parameter sets an entry selects with `preset: NAME` (its params
     * must include a string "preset"); applied after the defaults, before
     * configure; the entry's own keys win ({NULL}-terminated, or NULL). */
    const sim_preset *presets;
};

/* Event kinds with a meaning shared by every model. Models number their
 * own kinds from SIM_EV_USER up. */
enum {
    SIM_EV_DELIVER = 1,  /* a packet arrived over a link: a0 = bytes, a1 = tag */
    SIM_EV_USER = 16
};

/* ---- Components ------------------------------------------------------- */

struct sim_comp {
    const sim_model *model;  /* its type */
    sim *sim;                /* owning simulator */
    const char *name;        /* unique name, owned by the simulator */
    uint32_t id;             /* index in scenario order */
    gsl_rng *rng;            /* own random stream */
    const scn_node *node;    /* its scenario node (for error marks) */
    uint32_t ends[2];        /* links: component ids of the two ends */
    void *state;             /* model state, model->state_size bytes */
    uint32_t replica;        /* index among the copies of a `replicas: N` entry (else 0) */
};

/* ---- Report sink ------------------------------------------------------ */

/* Where results go. Every callback returns 0 or a negative SIM_E* code. */
typedef struct sim_sink {
    void *ctx;
    int (*metric)(void *ctx, const char *scope, const char *name, double value, const char *unit);
    int (*link)(void *ctx, const char *link, const char *direction, uint64_t bytes,
                uint64_t packets, uint64_t busy_ps, double utilization);
    int (*timeseries)(void *ctx, const char *scope, const char *name, sim_time t, double value);
    /* first_token / finish are SIM_TIME_MAX when they never happened
     * (a rejected request, a run that ended first). */
    int (*request)(void *ctx, uint64_t req_id, const char *session, const char *instance,
                   sim_time arrival, sim_time first_token, sim_time finish, uint64_t input_tokens,
                   uint64_t output_tokens, uint64_t cached_tokens);
    int (*kv)(void *ctx, const char *instance, const char *tier, uint64_t hits, uint64_t misses,
              uint64_t evictions, uint64_t bytes_in, uint64_t bytes_out);
    int (*coherence)(void *ctx, const char *directory, const char *message, uint64_t count);
    /* A disaggregated request row (NULL: `request` gets it without the phase columns). */
    int (*request_pd)(void *ctx, uint64_t req_id, const char *session, const char *instance,
                      sim_time arrival, sim_time first_token, sim_time finish,
                      uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens,
                      const char *prefill_instance, uint64_t kv_bytes, sim_time kv_wait,
                      sim_time kv_transfer);
    /* A link row with the network columns (NULL: `link` gets the row without them). */
    int (*link_net)(void *ctx, const char *link, const char *direction, uint64_t bytes,
                    uint64_t packets, uint64_t busy_ps, double utilization, uint64_t drops,
                    uint64_t pause_ps, uint64_t ecn_marks);
    /* Called from the run loop every 4096 events (NULL: never), so that the
     * store can commit rows that have waited long enough even when no new
     * row arrives to trigger it. A negative SIM_E* code fails the run. */
    int (*tick)(void *ctx);
} sim_sink;

/* ---- The simulator ---------------------------------------------------- */

/* Create an empty simulator; free with sim_destroy(). NULL when out of memory. */
sim *sim_create(void);
void sim_destroy(sim *s);

/* Build components from the scenario document using the model registry
 * (NULL-terminated). Reads `seed`, `stop`, `output`, `components`, then
 * `cluster` (generated nodes and network, sim/cluster.h), then `links` (which
 * may name generated components). Top-level keys other than those and
 * `extra_keys` are errors. The document must outlive the simulator. */
int sim_build(sim *s, const scn_doc *doc, const sim_model *const *registry,
              const char *const *extra_keys, sim_err *err);

/* A component entry with `replicas: N` (1..4096) builds N components from
 * the same parameters, named NAME0 .. NAME<N-1>, each with its own random
 * stream and c->replica = its index (a model may use it, e.g. to pick its
 * node from a list). */
#define SIM_MAX_REPLICAS 4096

/* Add one component by hand (tests, or sections that create components).
 * node may be NULL (parameters then take their defaults). */
sim_comp *sim_add(sim *s, const sim_model *m, const char *name, const scn_node *node,
                  sim_err *err);

/* Add a component from a scenario section (e.g. the top-level `fabric:`
 * mapping): its keys are checked against the model's parameters first, so
 * an unknown key is an error with a suggestion. */
sim_comp *sim_add_section(sim *s, const sim_model *m, const char *name, const scn_node *node,
                          sim_err *err);

/* Add a link between components ends[0] and ends[1] (ids). */
sim_comp *sim_add_link(sim *s, const sim_model *m, const char *name, const scn_node *node,
                       const uint32_t ends[2], sim_err *err);

/* Add a component (ends NULL) or a link (ends: the two end ids) described
 * by a scenario entry, under a name the caller chooses (sections that
 * generate components, e.g. `cluster:`). The entry's `type:` picks the model
 * from the registry: an unknown type, or a link type where a component is
 * wanted (or the reverse), is an error at its mark with a suggestion. The
 * entry's keys must be `type`, the model's parameters and extra keys, plus
 * `name` when `keys` has SIM_ENTRY_NAME and `ends` when it has
 * SIM_ENTRY_ENDS; another key is an error at its mark with a suggestion.
 * Parameters come from the entry, so later errors point into it too. */
enum { SIM_ENTRY_NAME = 1, SIM_ENTRY_ENDS = 2 };
sim_comp *sim_add_entry(sim *s, const scn_node *entry, const sim_model *const *registry,
                        const char *name, const uint32_t *ends, unsigned keys, sim_err *err);

/* Start every component, run, finish. */
int sim_start(sim *s, sim_err *err);
/* Run until `until` (inclusive), the queue empties, sim_stop, or interrupt.
 * Returns 0, or SIM_EINTR when interrupted. */
int sim_run(sim *s, sim_time until);
int sim_finish(sim *s, sim_err *err);

/* Scheduling. `delay` is relative to now; sim_schedule_at takes an absolute
 * time >= now. Allocation-free on the hot path. */
void sim_schedule(sim *s, sim_time delay, uint32_t target, uint32_t kind, uint64_t a0, uint64_t a1);
void sim_schedule_at(sim *s, sim_time t, uint32_t target, uint32_t kind, uint64_t a0, uint64_t a1);

/* Stop the run after the current event (a component decided it is over). */
void sim_stop(sim *s);
/* Stop the run because something went wrong (malformed trace line, out of
 * memory, an event scheduled in the past): the run ends as 'failed' with
 * this message, not 'complete'. The first failure wins. */
void sim_fail(sim *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The failure recorded by sim_fail, or NULL (with its SIM_E* code in *code). */
const char *sim_failure(const sim *s, int *code);
/* Ask the run to stop at the next check (async-signal-safe). */
void sim_interrupt(void);

/* Accessors. */
sim_time sim_now(const sim *s);
uint64_t sim_events(const sim *s);       /* events handled so far */
uint64_t sim_seed(const sim *s);
void sim_set_seed(sim *s, uint64_t seed);
sim_time sim_stop_time(const sim *s);    /* SIM_TIME_MAX when running to empty */
void sim_set_stop_time(sim *s, sim_time t);
sim_time sim_sample_interval(const sim *s);
void sim_set_sample_interval(sim *s, sim_time t);
size_t sim_ncomps(const sim *s);
sim_comp *sim_comp_at(sim *s, uint32_t id);
sim_comp *sim_find(sim *s, const char *name); /* NULL if absent; hashed, O(1) */
const char *sim_name(const sim *s);
evq *sim_queue(sim *s);

/* Ports: the link attached to component c. With `link` NULL, the only link
 * c is an end of (NULL if none or several); otherwise the link of that
 * name, which must have c as an end. *side receives 0 or 1: c's end. */
sim_comp *sim_port(sim *s, const sim_comp *c, const char *link, int *side);

/* Send a packet over link `link` from end `side` (see sim_model.send). */
int sim_send(sim_comp *link, int side, uint64_t bytes, uint64_t tag);

/* Progress on stderr: percent done, ETA, simulated time, events. The
 * fraction done is the larger of simulated time over the stop time and
 * the progress source's done over total (e.g. requests of a trace). */
enum {
    SIM_PROGRESS_OFF = 0,
    SIM_PROGRESS_TTY = 1,    /* one status line redrawn (\r) twice a second */
    SIM_PROGRESS_LINES = 2,  /* a full line every interval, and a final line */
    SIM_PROGRESS_LONG = 3    /* lines, only once a run has lasted an interval
                              * (CI logs and batch jobs: short runs stay quiet) */
};
void sim_set_progress(sim *s, int mode);
/* Wall-clock seconds between progress lines (modes LINES and LONG). */
void sim_set_progress_interval(sim *s, double seconds);
/* Work done so far and in all, in `unit` (e.g. "requests"); return 0 when
 * unknown. Called only when a progress line is due. */
typedef int (*sim_progress_fn)(void *ctx, double *done, double *total);
void sim_set_progress_source(sim *s, sim_progress_fn fn, void *ctx, const char *unit);

/* Results. */
void sim_set_sink(sim *s, const sim_sink *sink);
int sim_report_metric(sim *s, const char *scope, const char *name, double value, const char *unit);
int sim_report_link(sim *s, const char *link, const char *direction, uint64_t bytes,
                    uint64_t packets, uint64_t busy_ps, double utilization);
/* A link row of a network link direction: drops at the buffer it leaves,
 * time its sender was paused (PFC), ECN marks. */
int sim_report_link_net(sim *s, const char *link, const char *direction, uint64_t bytes,
                        uint64_t packets, uint64_t busy_ps, double utilization, uint64_t drops,
                        uint64_t pause_ps, uint64_t ecn_marks);
/* A sample of a time series; the unit of value is what the model of the
 * component named scope declares for it (sim_series_unit). */
int sim_report_timeseries(sim *s, const char *scope, const char *name, sim_time t, double value);
/* The unit a component's model declares for series `name`, or NULL. */
const char *sim_series_unit(const sim_model *m, const char *name);
int sim_report_request(sim *s, uint64_t req_id, const char *session, const char *instance,
                       sim_time arrival, sim_time first_token, sim_time finish,
                       uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens);
/* A request served by a prefill and a decode instance (instance = decode). */
int sim_report_request_pd(sim *s, uint64_t req_id, const char *session, const char *instance,
                          sim_time arrival, sim_time first_token, sim_time finish,
                          uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens,
                          const char *prefill_instance, uint64_t kv_bytes, sim_time kv_wait,
                          sim_time kv_transfer);
int sim_report_kv(sim *s, const char *instance, const char *tier, uint64_t hits,
                  uint64_t misses, uint64_t evictions, uint64_t bytes_in, uint64_t bytes_out);
int sim_report_coherence(sim *s, const char *directory, const char *message, uint64_t count);

/* Energy. A component that spends energy reports it once, from its
 * `finish`, split into data movement (link SerDes, memories, storage) and
 * compute (CPU cores, GPUs): the metric `energy_j` (unit J) in `scope`,
 * and both parts go into the run's ledger. After every component finished,
 * sim_finish reports the ledger (when any component reported energy):
 * energy_total_j (the sum of the energy_j rows, in report order, so the
 * two agree to the last bit), energy_data_movement_j and energy_compute_j,
 * in the scope a workload named with sim_energy_work (else "run"), plus
 * energy_per_request_j and energy_per_output_token_j (total / count) when
 * that workload declared requests or tokens. */
int sim_report_energy(sim *s, const char *scope, double data_j, double compute_j);
/* The work the run's energy served: completed requests and output tokens
 * (a workload's finish calls it; scope must outlive sim_finish). */
void sim_energy_work(sim *s, const char *scope, double requests, double output_tokens);

/* Parameters: fill a state struct from a node using a parameter table
 * (defaults first). Used by sim_build; exported for sections and tests. */
int sim_params_fill(const sim_param *params, void *state, const scn_node *node, sim_err *err);
/* After sim_params_fill (sim_build does it for a model with presets):
 * when node names a preset under `key` (a string
 * parameter of the model), set every parameter of the preset that node
 * does not give itself (the entry's own keys override the preset). An
 * unknown preset is an error at the key's value with a suggestion; names
 * the preset's name in *chosen (NULL: none). presets ends with {NULL}. */
int sim_params_preset(const sim_param *params, void *state, const scn_node *node,
                      const char *key, const sim_preset *presets, const sim_preset **chosen,
                      sim_err *err);
/* The preset of that name, or NULL. */
const sim_preset *sim_preset_find(const sim_preset *presets, const char *name);
/* Every parameter a component's scenario entry leaves at its default (or
 * at its preset's value, which is then what fn gets):
 * fn(ctx, "PATH.PARAM", default) where PATH is the entry's flattened path
 * in doc (components.gpu0, cluster.template.components.gpu0, fabric, ...),
 * once per entry however many components it built (replicas, cluster
 * nodes). Components without an entry in doc are skipped. */
void sim_params_defaults(sim *s, const scn_doc *doc, scn_leaf_fn fn, void *ctx);
/* Look up a registered model by type name in a registry; NULL if absent. */
const sim_model *sim_model_find(const sim_model *const *registry, const char *type);
/* Seed for a named stream: a 64-bit hash of (seed, name). */
uint64_t sim_stream_seed(uint64_t seed, const char *name);

#endif
