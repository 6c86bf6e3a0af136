/*
 * synth.h - synthetic LLM workloads, produced as the same trace_req stream
 * the trace importers give (models/workload/trace.h), so the serving model consumes
 * either.
 *
 * The model:
 *   - Sessions arrive by a Poisson process (exponential gaps) or a gamma
 *     renewal process (bursty: gaps with mean 1/rate and coefficient of
 *     variation cv; cv = 1 is Poisson, cv > 1 burstier) at `rate` sessions
 *     per second.
 *   - A session has `turns` turns (a distribution, rounded, >= 1). Turn 1's
 *     prompt is the group's shared prefix (prefix_tokens, when groups > 0)
 *     followed by a user message of `input` tokens; turn k's prompt is the
 *     whole previous context (turn k-1's prompt and its output) followed by
 *     a new user message. Turn k arrives `think_s` seconds (a distribution)
 *     after turn k-1's arrival: think time here includes the time to
 *     generate the previous answer, since the workload does not see the
 *     server. A session ends early when the next prompt would exceed
 *     max_context tokens.
 *   - Each session belongs to one of `groups` prefix groups, drawn
 *     uniformly; sessions of a group share the first prefix_tokens tokens
 *     (a system prompt, a shared codebase).
 *   - Block ids are chained: id[i] = H(id[i-1], content[i]), where content
 *     identifies the tokens of block i. A block lying wholly in the group
 *     prefix has content (group, i); any other block has content (session,
 *     i, tokens filled), so the first prefix_tokens / block_tokens ids
 *     (integer division) are equal across a group and the rest differ; a
 *     session's later turns repeat the ids of its earlier full blocks.
 *     H is a 64-bit mixer: equal ids mean equal prefixes except with
 *     negligible collision probability.
 *   - Requests come out in arrival order (ties: earlier-created first);
 *     ids count from 0 in that order, sessions from 1.
 *   - Deterministic: one GSL rng (mt19937) seeded with `seed`; the same
 *     config gives the same stream on every platform.
 * Stop after max_requests requests or at the first arrival past horizon
 * (0 = no limit for either; at least one must be set).
 */
#ifndef MEMFAB_MODELS_SYNTH_H
#define MEMFAB_MODELS_SYNTH_H

#include <stdint.h>

#include "models/workload/trace.h"

/* A distribution of a non-negative quantity. */
typedef enum {
    SYNTH_FIXED,       /* always a */
    SYNTH_UNIFORM,     /* uniform on [a, b] (integers for token counts) */
    SYNTH_EXPONENTIAL, /* exponential with mean a */
    SYNTH_LOGNORMAL    /* lognormal with mean a; b = sigma of the underlying normal */
} synth_dist_kind;

typedef struct synth_dist {
    synth_dist_kind kind; /* the family */
    double a, b;          /* parameters, see synth_dist_kind */
} synth_dist;

typedef enum { SYNTH_POISSON, SYNTH_GAMMA } synth_arrivals;

/* Configuration, filled by the caller (start from synth_config_default). */
typedef struct synth_config {
    uint64_t seed;           /* rng seed */
    synth_arrivals arrivals; /* session arrival process */
    double rate;             /* sessions per second (> 0) */
    double cv;               /* gamma: coefficient of variation of the gaps (> 0) */
    synth_dist input;        /* tokens of each new user message (rounded, >= 1) */
    synth_dist output;       /* tokens generated per turn (rounded, >= 1) */
    synth_dist turns;        /* turns per session (rounded, >= 1) */
    synth_dist think_s;      /* seconds between a session's turn arrivals */
    uint32_t groups;         /* prefix groups; 0 = no shared prefix */
    uint32_t prefix_tokens;  /* shared prefix length P of each group */
    uint32_t block_tokens;   /* tokens per block id (> 0) */
    uint32_t max_context;    /* longest prompt; a session ends before exceeding it */
    uint64_t max_requests;   /* stop after this many requests (0 = no limit) */
    sim_time horizon;        /* stop at the first arrival after this (0 = none) */
} synth_config;

typedef struct synth synth;

/* Defaults: Poisson at 1 session/s, cv 1, lognormal input (mean 512,
 * sigma 1) and output (mean 256, sigma 1), one turn, think time
 * exponential mean 30 s, no prefix groups, 512-token blocks, 131072-token
 * context, 1000 requests, no horizon, seed 1. */
synth_config synth_config_default(void);

/* Check a configuration: 0, or SIM_EINVAL with err naming the field. */
int synth_config_check(const synth_config *cfg, sim_err *err);

/* Create a generator (copies cfg). Free with synth_free(). NULL with err
 * filled on a bad config or no memory. */
synth *synth_new(const synth_config *cfg, sim_err *err);
void synth_free(synth *s);

/* The next request: 1, 0 at the end, <0 on error (trace_next contract;
 * block_ids valid until the next call). */
int synth_next(synth *s, trace_req *out, sim_err *err);

/* A generator behind the trace_reader interface (name "synth"); close it
 * with trace_close(). */
trace_reader *synth_open(const synth_config *cfg, sim_err *err);

#endif
