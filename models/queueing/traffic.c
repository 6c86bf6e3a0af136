/*
 * traffic.c - packet sources and sinks (see traffic.h).
 */
#include "models/queueing/traffic.h"

#include <math.h>
#include <stdio.h>

#include <gsl/gsl_randist.h>

#include "sim/stats.h"

enum { SRC_EV_ARRIVAL = SIM_EV_USER, SRC_EV_TOGGLE };

enum { ARR_POISSON, ARR_DETERMINISTIC, ARR_ONOFF };
static const char *const arrival_names[] = {"poisson", "deterministic", "onoff", NULL};
enum { SZ_FIXED, SZ_EXPONENTIAL, SZ_UNIFORM, SZ_LOGNORMAL, SZ_PARETO };
static const char *const size_names[] = {"fixed", "exponential", "uniform", "lognormal",
                                         "pareto", NULL};

typedef struct source_state {
    /* configuration */
    int arrivals;           /* ARR_* */
    sim_time interarrival;  /* mean gap between packets */
    sim_time on_time;       /* on/off: mean on period */
    sim_time off_time;      /* on/off: mean off period */
    int size_dist;          /* SZ_* */
    uint64_t size;          /* mean (or fixed) size */
    uint64_t size_min;      /* uniform: lower bound */
    uint64_t size_max;      /* uniform: upper bound */
    double size_sigma;      /* lognormal shape */
    double size_alpha;      /* Pareto shape */
    uint64_t count;         /* packets to send, 0 = until the run stops */
    sim_time start_at;      /* time of the first arrival process start */
    const char *link;       /* link to send on, NULL = the only one */
    /* state */
    sim_comp *out;          /* the link */
    int side;               /* our end of it */
    int on;                 /* on/off: currently on */
    uint64_t sent;          /* packets offered */
    uint64_t bytes;         /* bytes offered */
    uint64_t refused;       /* packets the link refused */
} source_state;

static const sim_param source_params[] = {
    {"arrivals", SIM_P_ENUM, "poisson", "", "arrival process: poisson, deterministic, onoff",
     offsetof(source_state, arrivals), arrival_names},
    {"interarrival", SIM_P_TIME, "1 us", "ps", "mean time between packets",
     offsetof(source_state, interarrival), NULL},
    {"on_time", SIM_P_TIME, "1 ms", "ps", "onoff: mean on period (exponential)",
     offsetof(source_state, on_time), NULL},
    {"off_time", SIM_P_TIME, "1 ms", "ps", "onoff: mean off period (exponential)",
     offsetof(source_state, off_time), NULL},
    {"size_dist", SIM_P_ENUM, "fixed", "",
     "packet sizes: fixed, exponential, uniform, lognormal, pareto",
     offsetof(source_state, size_dist), size_names},
    {"size", SIM_P_SIZE, "1500 B", "B", "fixed or mean packet size", offsetof(source_state, size),
     NULL},
    {"size_min", SIM_P_SIZE, "64 B", "B", "uniform: smallest size",
     offsetof(source_state, size_min), NULL},
    {"size_max", SIM_P_SIZE, "9000 B", "B", "uniform: largest size",
     offsetof(source_state, size_max), NULL},
    {"size_sigma", SIM_P_DOUBLE, "1.0", "", "lognormal: sigma of the underlying normal",
     offsetof(source_state, size_sigma), NULL},
    {"size_alpha", SIM_P_DOUBLE, "2.5", "", "pareto: shape (> 1)",
     offsetof(source_state, size_alpha), NULL},
    {"count", SIM_P_UINT, "0", "packets", "packets to send (0 = until the run stops)",
     offsetof(source_state, count), NULL},
    {"start", SIM_P_TIME, "0 s", "ps", "when the source starts",
     offsetof(source_state, start_at), NULL},
    {"link", SIM_P_STRING, "", "", "link to send on (\"\" = the only attached link)",
     offsetof(source_state, link), NULL},
    {NULL, 0, NULL, NULL, NULL, 0, NULL}};

static int source_configure(sim_comp *c, const scn_node *node, sim_err *err)
{
    source_state *s = c->state;
    if (s->interarrival == 0)
        return scn_error(err, scn_map_get(node, "interarrival"),
                         "source '%s': interarrival must be positive", c->name);
    if (s->size == 0 && s->size_dist != SZ_UNIFORM)
        return scn_error(err, scn_map_get(node, "size"), "source '%s': size must be positive",
                         c->name);
    if (s->size_dist == SZ_UNIFORM && s->size_min > s->size_max)
        return scn_error(err, node, "source '%s': size_min exceeds size_max", c->name);
    if (s->size_dist == SZ_PARETO && !(s->size_alpha > 1.0))
        return scn_error(err, scn_map_get(node, "size_alpha"),
                         "source '%s': size_alpha must exceed 1 for a finite mean", c->name);
    return 0;
}

static sim_time next_gap(sim_comp *c)
{
    source_state *s = c->state;
    if (s->arrivals == ARR_DETERMINISTIC)
        return s->interarrival;
    return (sim_time)llround(gsl_ran_exponential(c->rng, (double)s->interarrival));
}

/* A packet of the configured distribution, at least 1 B (exponential and
 * lognormal draws can round to 0). */
static uint64_t draw_size(sim_comp *c);

static uint64_t next_size(sim_comp *c)
{
    uint64_t b = draw_size(c);
    return b ? b : 1;
}

static uint64_t draw_size(sim_comp *c)
{
    source_state *s = c->state;
    double mean = (double)s->size;
    switch (s->size_dist) {
    case SZ_EXPONENTIAL: return (uint64_t)llround(gsl_ran_exponential(c->rng, mean));
    case SZ_UNIFORM:
        return s->size_min + gsl_rng_uniform_int(c->rng, s->size_max - s->size_min + 1);
    case SZ_LOGNORMAL: {
        /* E[X] = exp(mu + sigma^2/2) = mean */
        double sg = s->size_sigma;
        return (uint64_t)llround(gsl_ran_lognormal(c->rng, log(mean) - sg * sg / 2, sg));
    }
    case SZ_PARETO: {
        /* E[X] = alpha * xm / (alpha - 1) = mean */
        double a = s->size_alpha;
        return (uint64_t)llround(gsl_ran_pareto(c->rng, a, mean * (a - 1) / a));
    }
    default: return s->size;
    }
}

static int source_start(sim_comp *c, sim_err *err)
{
    source_state *s = c->state;
    if (s->link && !*s->link)
        s->link = NULL;
    s->out = sim_port(c->sim, c, s->link, &s->side);
    if (!s->out)
        return scn_error(err, c->node, "source '%s': %s", c->name,
                         s->link ? "no link of that name ends at this source"
                                 : "needs exactly one attached link (or set 'link:')");
    if (s->arrivals == ARR_ONOFF) {
        s->on = 1;
        sim_schedule(c->sim, s->start_at + (sim_time)llround(gsl_ran_exponential(
                                               c->rng, (double)s->on_time)),
                     c->id, SRC_EV_TOGGLE, 0, 0);
    }
    sim_schedule(c->sim, s->start_at + next_gap(c), c->id, SRC_EV_ARRIVAL, 0, 0);
    return 0;
}

static void source_handle(sim_comp *c, const sim_event *e)
{
    source_state *s = c->state;
    if (e->kind == SRC_EV_TOGGLE) {
        if (s->count && s->sent >= s->count)
            return; /* done: the on/off clock must not keep the run alive */
        s->on = !s->on;
        double mean = (double)(s->on ? s->on_time : s->off_time);
        sim_schedule(c->sim, (sim_time)llround(gsl_ran_exponential(c->rng, mean)), c->id,
                     SRC_EV_TOGGLE, 0, 0);
        return;
    }
    if (e->kind != SRC_EV_ARRIVAL)
        return;
    if (s->arrivals != ARR_ONOFF || s->on) {
        uint64_t b = next_size(c);
        s->sent++;
        s->bytes += b;
        if (sim_send(s->out, s->side, b, sim_now(c->sim)) != 0)
            s->refused++;
    }
    if (!s->count || s->sent < s->count)
        sim_schedule(c->sim, next_gap(c), c->id, SRC_EV_ARRIVAL, 0, 0);
}

static int source_finish(sim_comp *c, sim_err *err)
{
    source_state *s = c->state;
    sim_report_metric(c->sim, c->name, "sent_packets", (double)s->sent, "packets");
    sim_report_metric(c->sim, c->name, "sent_bytes", (double)s->bytes, "B");
    sim_report_metric(c->sim, c->name, "refused_packets", (double)s->refused, "packets");
    return 0;
}

const sim_model source_model = {
    .type = "source",
    .summary = "packet source: Poisson, deterministic or on/off arrivals; size distributions",
    .params = source_params,
    .state_size = sizeof(source_state),
    .configure = source_configure,
    .start = source_start,
    .handle = source_handle,
    .finish = source_finish,
};

/* ---- sink ------------------------------------------------------------- */

typedef struct sink_state {
    uint64_t packets;       /* received */
    uint64_t bytes;         /* received */
    sim_samples latency;    /* creation -> delivery, ps */
} sink_state;

static void sink_handle(sim_comp *c, const sim_event *e)
{
    sink_state *k = c->state;
    if (e->kind != SIM_EV_DELIVER)
        return;
    k->packets++;
    k->bytes += e->a0;
    sim_samples_add(&k->latency, (double)(sim_now(c->sim) - e->a1));
}

static int sink_finish(sim_comp *c, sim_err *err)
{
    sink_state *k = c->state;
    double t = sim_time_to_s(sim_now(c->sim));
    sim_report_metric(c->sim, c->name, "received_packets", (double)k->packets, "packets");
    sim_report_metric(c->sim, c->name, "received_bytes", (double)k->bytes, "B");
    sim_report_metric(c->sim, c->name, "throughput", t > 0 ? (double)k->bytes / t : 0.0, "B/s");
    sim_samples_report(c->sim, c->name, "latency", &k->latency, 1e-12, "s");
    return 0;
}

static void sink_destroy(sim_comp *c)
{
    sink_state *k = c->state;
    sim_samples_free(&k->latency);
}

static const sim_param sink_params[] = {{NULL, 0, NULL, NULL, NULL, 0, NULL}};

/* Headline metrics of the run summary (sim_model.headline). */
static const char *const sink_headline[] = {"throughput", "latency_mean", "latency_p99", NULL};

const sim_model sink_model = {
    .type = "sink",
    .summary = "packet sink: counts packets and bytes, measures latency",
    .params = sink_params,
    .state_size = sizeof(sink_state),
    .handle = sink_handle,
    .finish = sink_finish,
    .destroy = sink_destroy,
    .headline = sink_headline,
};
