/*
 * stats.c - Welford accumulators and exact sample quantiles (via GSL).
 */
#include "stats.h"

#include <math.h>
#include <stdio.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "mem.h"

void sim_acc_add(sim_acc *a, double x)
{
    if (a->n == 0 || x < a->min)
        a->min = x;
    if (a->n == 0 || x > a->max)
        a->max = x;
    a->n++;
    double d = x - a->mean;
    a->mean += d / (double)a->n;
    a->m2 += d * (x - a->mean);
}

double sim_acc_var(const sim_acc *a)
{
    return a->n > 1 ? a->m2 / (double)(a->n - 1) : 0.0;
}

int sim_samples_add(sim_samples *s, double x)
{
    sim_acc_add(&s->acc, x);
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        double *v = sim_realloc(s->v, cap * sizeof *v);
        if (!v)
            return SIM_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    s->sorted = 0;
    return 0;
}

double sim_samples_quantile(sim_samples *s, double f)
{
    if (s->n == 0)
        return NAN;
    if (!s->sorted) {
        gsl_sort(s->v, 1, s->n);
        s->sorted = 1;
    }
    return gsl_stats_quantile_from_sorted_data(s->v, 1, s->n, f);
}

void sim_samples_free(sim_samples *s)
{
    sim_free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

int sim_samples_report(sim *s, const char *scope, const char *name, sim_samples *smp,
                       double scale, const char *unit)
{
    char key[256];
    int rc = 0;
    snprintf(key, sizeof key, "%s_count", name);
    rc |= sim_report_metric(s, scope, key, (double)smp->acc.n, "");
    if (smp->acc.n == 0)
        return rc;
    static const struct { const char *suffix; double f; } q[] = {
        {"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}};
    snprintf(key, sizeof key, "%s_mean", name);
    rc |= sim_report_metric(s, scope, key, smp->acc.mean * scale, unit);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        snprintf(key, sizeof key, "%s_%s", name, q[i].suffix);
        rc |= sim_report_metric(s, scope, key, sim_samples_quantile(smp, q[i].f) * scale, unit);
    }
    snprintf(key, sizeof key, "%s_max", name);
    rc |= sim_report_metric(s, scope, key, smp->acc.max * scale, unit);
    return rc;
}
