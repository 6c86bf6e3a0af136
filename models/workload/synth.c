/*
 * synth.c - synthetic LLM workloads (the model is described in synth.h).
 *
 * State: the arrival time of the next new session, and a binary min-heap
 * of the live sessions keyed by (next turn arrival, sequence number); the
 * next request is the earlier of the two, so the stream is in arrival
 * order and ties break by creation order (reproducible). Memory is
 * bounded by the number of sessions alive at once, plus one block-id
 * array for the current request.
 */
#include "models/workload/synth.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "sim/hash.h"
#include "sim/mem.h"

typedef struct sess {
    sim_time next;       /* arrival of the session's next turn */
    uint64_t seq;        /* tie-break: order of scheduling */
    uint64_t id;         /* session id, from 1 */
    uint32_t group;      /* prefix group */
    uint32_t turns_left; /* turns still to come, including the next */
    uint64_t context;    /* tokens of the previous turn's prompt + output, 0 before the first */
} sess;

struct synth {
    synth_config cfg;    /* configuration (a copy) */
    gsl_rng *rng;        /* the one random stream */
    sim_time next_new;   /* arrival of the next new session */
    uint64_t sessions;   /* sessions created */
    uint64_t seq;        /* scheduling counter */
    uint64_t emitted;    /* requests produced */
    sess *heap;          /* live sessions, min-heap on (next, seq) */
    size_t n, cap;       /* heap size and capacity */
    uint64_t *blocks;    /* block ids of the current request */
    size_t bcap;         /* capacity of blocks */
    int done;            /* the stream has ended */
};

synth_config synth_config_default(void)
{
    synth_config c;
    memset(&c, 0, sizeof c);
    c.seed = 1;
    c.arrivals = SYNTH_POISSON;
    c.rate = 1.0;
    c.cv = 1.0;
    c.input = (synth_dist){SYNTH_LOGNORMAL, 512, 1.0};
    c.output = (synth_dist){SYNTH_LOGNORMAL, 256, 1.0};
    c.turns = (synth_dist){SYNTH_FIXED, 1, 0};
    c.think_s = (synth_dist){SYNTH_EXPONENTIAL, 30, 0};
    c.groups = 0;
    c.prefix_tokens = 0;
    c.block_tokens = 512;
    c.max_context = 131072;
    c.max_requests = 1000;
    c.horizon = 0;
    return c;
}

static int check_dist(const synth_dist *d, const char *name, sim_err *err)
{
    int ok;
    switch (d->kind) {
    case SYNTH_FIXED: ok = isfinite(d->a) && d->a >= 0; break;
    case SYNTH_UNIFORM: ok = isfinite(d->a) && isfinite(d->b) && d->a >= 0 && d->b >= d->a &&
                             d->b - d->a < 4e9; break;
    case SYNTH_EXPONENTIAL: ok = isfinite(d->a) && d->a > 0; break;
    case SYNTH_LOGNORMAL: ok = isfinite(d->a) && d->a > 0 && isfinite(d->b) && d->b >= 0; break;
    default: ok = 0;
    }
    if (!ok)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "synthetic workload: bad %s distribution (kind %d, a=%g, b=%g)", name,
                           (int)d->kind, d->a, d->b);
    return 0;
}

int synth_config_check(const synth_config *c, sim_err *err)
{
    int rc;
    if (!(c->rate > 0) || !isfinite(c->rate))
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "synthetic workload: rate must be > 0");
    if (c->arrivals != SYNTH_POISSON && c->arrivals != SYNTH_GAMMA)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "synthetic workload: bad arrival process");
    if (c->arrivals == SYNTH_GAMMA && (!(c->cv > 0) || !isfinite(c->cv)))
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "synthetic workload: cv must be > 0");
    if ((rc = check_dist(&c->input, "input", err)) < 0 ||
        (rc = check_dist(&c->output, "output", err)) < 0 ||
        (rc = check_dist(&c->turns, "turns", err)) < 0 ||
        (rc = check_dist(&c->think_s, "think time", err)) < 0)
        return rc;
    if (c->block_tokens == 0)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "synthetic workload: block_tokens must be > 0");
    if (c->max_context <= (c->groups ? c->prefix_tokens : 0))
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "synthetic workload: max_context (%u) must exceed the shared "
                           "prefix (%u)",
                           c->max_context, c->groups ? c->prefix_tokens : 0);
    if (c->max_requests == 0 && c->horizon == 0)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "synthetic workload: set max_requests or a horizon");
    return 0;
}

/* ---- Sampling ----------------------------------------------------------- */

static double draw(gsl_rng *r, const synth_dist *d, int integer)
{
    switch (d->kind) {
    case SYNTH_UNIFORM:
        if (integer) {
            double lo = ceil(d->a), hi = floor(d->b);
            if (hi <= lo)
                return lo;
            return lo + (double)gsl_rng_uniform_int(r, (unsigned long)(hi - lo) + 1);
        }
        return d->a + (d->b - d->a) * gsl_rng_uniform(r);
    case SYNTH_EXPONENTIAL: return gsl_ran_exponential(r, d->a);
    case SYNTH_LOGNORMAL: return gsl_ran_lognormal(r, log(d->a) - d->b * d->b / 2, d->b);
    default: return d->a;
    }
}

/* A count >= 1 (tokens, turns), rounded to nearest. */
static uint32_t draw_count(gsl_rng *r, const synth_dist *d)
{
    double x = draw(r, d, 1);
    if (!(x >= 1))
        return 1;
    if (x > 1073741824.0)
        return 1073741824u;
    return (uint32_t)(x + 0.5);
}

static sim_time seconds_to_ps(double s)
{
    if (!(s > 0))
        return 0;
    if (s > 1.8e7)
        s = 1.8e7;
    return (sim_time)(s * 1e12 + 0.5);
}

static sim_time draw_gap(synth *s)
{
    const synth_config *c = &s->cfg;
    if (c->arrivals == SYNTH_GAMMA) {
        double k = 1.0 / (c->cv * c->cv);
        return seconds_to_ps(gsl_ran_gamma(s->rng, k, 1.0 / (c->rate * k)));
    }
    return seconds_to_ps(gsl_ran_exponential(s->rng, 1.0 / c->rate));
}

/* ---- Block ids ---------------------------------------------------------- */

static uint64_t hash2(uint64_t a, uint64_t b)
{
    return sim_mix64(sim_mix64(a) ^ (b + 0x9e3779b97f4a7c15ULL));
}

#define TAG_GROUP 0x67726f7570ULL   /* "group" */
#define TAG_SESSION 0x73657373ULL   /* "sess" */
#define CHAIN_ROOT 0x6d656d666162ULL /* "memfab" */

static int make_blocks(synth *s, const sess *x, uint64_t prompt, uint32_t *n_out, sim_err *err)
{
    uint64_t bt = s->cfg.block_tokens, n = (prompt + bt - 1) / bt;
    uint64_t shared = s->cfg.groups ? s->cfg.prefix_tokens / bt : 0;
    if (n > s->bcap) {
        size_t ncap = s->bcap ? s->bcap : 64;
        while (ncap < n)
            ncap *= 2;
        uint64_t *nb = sim_realloc(s->blocks, ncap * sizeof *nb);
        if (!nb)
            return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        s->blocks = nb;
        s->bcap = ncap;
    }
    uint64_t prev = CHAIN_ROOT;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t fill = prompt - i * bt < bt ? prompt - i * bt : bt, content;
        if (i < shared)
            content = hash2(hash2(TAG_GROUP, x->group), i);
        else
            content = hash2(hash2(hash2(TAG_SESSION, x->id), i), fill);
        prev = s->blocks[i] = hash2(prev, content);
    }
    *n_out = (uint32_t)n;
    return 0;
}

/* ---- The session heap --------------------------------------------------- */

static int sess_less(const sess *a, const sess *b)
{
    return a->next < b->next || (a->next == b->next && a->seq < b->seq);
}

static int heap_push(synth *s, sess x)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        sess *nh = sim_realloc(s->heap, ncap * sizeof *nh);
        if (!nh)
            return SIM_ENOMEM;
        s->heap = nh;
        s->cap = ncap;
    }
    size_t i = s->n++;
    while (i > 0 && sess_less(&x, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = x;
    return 0;
}

static sess heap_pop(synth *s)
{
    sess top = s->heap[0], x = s->heap[--s->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n)
            break;
        if (c + 1 < s->n && sess_less(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!sess_less(&s->heap[c], &x))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n)
        s->heap[i] = x;
    return top;
}

/* ---- Life cycle --------------------------------------------------------- */

synth *synth_new(const synth_config *cfg, sim_err *err)
{
    if (synth_config_check(cfg, err) < 0)
        return NULL;
    synth *s = sim_calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->cfg = *cfg;
    s->rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!s->rng)
        goto nomem;
    /* mt19937 takes a 32-bit seed; fold all 64 bits of ours into it. */
    uint64_t m = sim_mix64(cfg->seed);
    gsl_rng_set(s->rng, (unsigned long)((m ^ (m >> 32)) & 0xffffffffUL));
    s->next_new = 0; /* the first session arrives at time 0 */
    return s;
nomem:
    synth_free(s);
    sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    return NULL;
}

void synth_free(synth *s)
{
    if (!s)
        return;
    if (s->rng)
        gsl_rng_free(s->rng);
    sim_free(s->heap);
    sim_free(s->blocks);
    sim_free(s);
}

int synth_next(synth *s, trace_req *out, sim_err *err)
{
    const synth_config *c = &s->cfg;
    memset(out, 0, sizeof *out);
    for (;;) {
        if (s->done || (c->max_requests && s->emitted >= c->max_requests)) {
            s->done = 1;
            return 0;
        }
        sess x;
        int from_heap = s->n > 0 && s->heap[0].next <= s->next_new;
        sim_time t = from_heap ? s->heap[0].next : s->next_new;
        if (c->horizon && t > c->horizon) {
            s->done = 1;
            return 0;
        }
        if (from_heap) {
            x = heap_pop(s);
        } else {
            x.next = s->next_new;
            x.seq = s->seq++;
            x.id = ++s->sessions;
            x.group = c->groups ? (uint32_t)gsl_rng_uniform_int(s->rng, c->groups) : 0;
            x.turns_left = draw_count(s->rng, &c->turns);
            x.context = 0;
            sim_time gap = draw_gap(s);
            s->next_new = gap > SIM_TIME_MAX - s->next_new ? SIM_TIME_MAX : s->next_new + gap;
        }
        uint64_t msg = draw_count(s->rng, &c->input);
        uint64_t base = x.context ? x.context : (c->groups ? c->prefix_tokens : 0);
        uint64_t prompt = base + msg;
        if (prompt > c->max_context) {
            if (x.context)
                continue; /* the conversation outgrew the context: it ends */
            prompt = c->max_context; /* first turn: truncate the message */
        }
        uint32_t output = draw_count(s->rng, &c->output);
        uint32_t nb = 0;
        int rc = make_blocks(s, &x, prompt, &nb, err);
        if (rc < 0)
            return rc;
        out->id = s->emitted++;
        out->session = x.id;
        out->arrival = x.next;
        out->input_tokens = (uint32_t)prompt;
        out->output_tokens = output;
        out->n_blocks = nb;
        out->block_ids = s->blocks;
        out->block_tokens = c->block_tokens;
        if (--x.turns_left > 0) {
            sim_time think = seconds_to_ps(draw(s->rng, &c->think_s, 0));
            x.context = prompt + output;
            x.next = think > SIM_TIME_MAX - x.next ? SIM_TIME_MAX : x.next + think;
            x.seq = s->seq++;
            if (heap_push(s, x) < 0)
                return sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        }
        return 1;
    }
}

/* ---- As a trace_reader -------------------------------------------------- */

static int source_next(void *ctx, trace_req *out, sim_err *err)
{
    return synth_next(ctx, out, err);
}
static void source_close(void *ctx) { synth_free(ctx); }
static const trace_source_ops synth_ops = {source_next, source_close};

trace_reader *synth_open(const synth_config *cfg, sim_err *err)
{
    synth *s = synth_new(cfg, err);
    if (!s)
        return NULL;
    return trace_open_source(&synth_ops, s, "synth", cfg->block_tokens, err);
}
