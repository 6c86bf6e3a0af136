/*
 * capture.h - a sim_sink that keeps metrics and link rows in memory, for
 * tests that run a simulation without a database. Header-only on purpose:
 * each test program includes it once.
 */
#ifndef MEMFAB_TESTS_CAPTURE_H
#define MEMFAB_TESTS_CAPTURE_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim.h"

#define CAPTURE_MAX 4096

typedef struct capture_row {
    char scope[96];
    char name[160];
    double value;
} capture_row;

typedef struct capture {
    capture_row rows[CAPTURE_MAX];
    int n;
    uint64_t link_bytes[64], link_busy[64];
    double link_util[64];
    char link_dir[64][96];
    int nlinks;
    uint64_t requests, timeseries;
    double ts_sum, ts_wsum;  /* sum of the series' values, and weighted by their time */
} capture;

static inline int capture_metric(void *ctx, const char *scope, const char *name, double value,
                          const char *unit)
{
    capture *c = ctx;
    (void)unit;
    if (c->n < CAPTURE_MAX) {
        snprintf(c->rows[c->n].scope, sizeof c->rows[c->n].scope, "%s", scope);
        snprintf(c->rows[c->n].name, sizeof c->rows[c->n].name, "%s", name);
        c->rows[c->n++].value = value;
    }
    return 0;
}

static inline int capture_link(void *ctx, const char *link, const char *dir, uint64_t bytes,
                        uint64_t packets, uint64_t busy, double util)
{
    capture *c = ctx;
    (void)link;
    (void)packets;
    if (c->nlinks < 64) {
        snprintf(c->link_dir[c->nlinks], sizeof c->link_dir[0], "%s", dir);
        c->link_bytes[c->nlinks] = bytes;
        c->link_busy[c->nlinks] = busy;
        c->link_util[c->nlinks++] = util;
    }
    return 0;
}

static inline int capture_ts(void *ctx, const char *scope, const char *name, sim_time t, double v)
{
    ((capture *)ctx)->ts_sum += v;
    ((capture *)ctx)->ts_wsum += v * (double)(t % 1000003);
    (void)scope; (void)name; (void)t; (void)v;
    ((capture *)ctx)->timeseries++;
    return 0;
}

static inline int capture_request(void *ctx, uint64_t id, const char *session, const char *instance,
                           sim_time arrival, sim_time first, sim_time finish, uint64_t in,
                           uint64_t out, uint64_t cached)
{
    (void)id; (void)session; (void)instance; (void)arrival; (void)first; (void)finish;
    (void)in; (void)out; (void)cached;
    ((capture *)ctx)->requests++;
    return 0;
}

static inline void capture_attach(capture *c, sim *s)
{
    memset(c, 0, sizeof *c);
    sim_sink k = {c, capture_metric, capture_link, capture_ts, capture_request, NULL, NULL, NULL, NULL, NULL};
    sim_set_sink(s, &k);
}

/* The value of metric scope/name, or NAN. */
static inline double capture_get(const capture *c, const char *scope, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->rows[i].scope, scope) == 0 && strcmp(c->rows[i].name, name) == 0)
            return c->rows[i].value;
    return NAN;
}

#endif
