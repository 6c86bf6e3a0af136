/*
 * check_stats.c - sim_samples with bounded memory (sim_samples_spill): the
 * quantiles of a collector that spilled to its temporary file are
 * bit-for-bit those of one that kept every sample in memory and sorted
 * them (GSL's gsl_stats_quantile_from_sorted_data: linear interpolation
 * between the order statistics at (n-1) f), over samples with many
 * duplicates, all-equal samples, and a collector holding 1,000 of 300,000;
 * a spilled collector's quantile allocates its counters and read buffer
 * only (sim_mem_peak), collecting into the collector's own array; and the
 * in-memory samples' radix sort gives gsl_sort's array bit for bit.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "sim/mem.h"
#include "sim/stats.h"
#include "tests/check_main.h"

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static const double F[] = {0, 1e-6, 0.123, 0.5, 0.9, 0.99, 0.999999, 1};

/* kind 0: wide doubles; 1: integers with many ties; 2: all equal;
 * 3: picosecond-like latencies (exponential). */
static double sample(int kind, uint64_t *seed)
{
    double u = (double)(lcg(seed) >> 11) / 9007199254740992.0;
    switch (kind) {
    case 0: return u * 1e9;
    case 1: return (double)(lcg(seed) % 1000);
    case 2: return 42.5;
    default: return -log1p(-u) * 2.5e10;
    }
}

START_TEST(spilled_quantiles_equal_in_memory)
{
    int kind = _i;
    sim_samples mem, sp;
    memset(&mem, 0, sizeof mem);
    memset(&sp, 0, sizeof sp);
    sim_samples_spill(&sp, 1000);
    uint64_t seed = 99 + (uint64_t)kind;
    for (int i = 0; i < 300000; i++) {
        double x = sample(kind, &seed);
        ck_assert_int_eq(sim_samples_add(&mem, x), 0);
        ck_assert_int_eq(sim_samples_add(&sp, x), 0);
    }
    ck_assert_uint_gt(sp.spilled, 0);       /* it did spill */
    ck_assert_uint_le(sp.n, 1000);          /* and holds at most `keep` */
    ck_assert_uint_le(sp.cap, 2048);
    for (size_t j = 0; j < sizeof F / sizeof F[0]; j++) {
        double a = sim_samples_quantile(&mem, F[j]), b = sim_samples_quantile(&sp, F[j]);
        ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "kind %d f %g: %.17g vs %.17g", kind, F[j],
                      a, b);
    }
    /* more samples after a quantile: still exact */
    for (int i = 0; i < 5000; i++) {
        double x = sample(kind, &seed);
        sim_samples_add(&mem, x);
        sim_samples_add(&sp, x);
    }
    double a = sim_samples_quantile(&mem, 0.5), b = sim_samples_quantile(&sp, 0.5);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    sim_samples_free(&mem);
    sim_samples_free(&sp);
}
END_TEST

/* A spilled collector's quantile collects into its own array: the peak of
 * the bytes allocated while it runs exceeds those in use before by the
 * selection's counters and read buffer (2 x 512 KiB), not by another `keep`
 * samples (2 MiB here; 8 MiB at the serving workload's 2^20). */
START_TEST(spilled_quantile_allocates_no_second_array)
{
    enum { KEEP = 1 << 18 };
    sim_samples mem, sp;
    memset(&mem, 0, sizeof mem);
    memset(&sp, 0, sizeof sp);
    sim_samples_spill(&sp, KEEP);
    uint64_t seed = 5;
    for (int i = 0; i < 3 * KEEP + 777; i++) { /* some left in memory */
        double x = sample(0, &seed);
        ck_assert_int_eq(sim_samples_add(&mem, x), 0);
        ck_assert_int_eq(sim_samples_add(&sp, x), 0);
    }
    ck_assert_uint_gt(sp.n, 0);
    for (size_t j = 0; j < sizeof F / sizeof F[0]; j++) {
        size_t before = sim_mem_in_use();
        sim_mem_reset_peak();
        double b = sim_samples_quantile(&sp, F[j]);
        ck_assert_uint_le(sim_mem_peak() - before, 1100000);
        double a = sim_samples_quantile(&mem, F[j]);
        ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "f %g: %.17g vs %.17g", F[j], a, b);
    }
    ck_assert_uint_eq(sp.n, 0); /* every sample is in the file now */
    for (int i = 0; i < 1000; i++) { /* and more after: still exact */
        double x = sample(0, &seed);
        sim_samples_add(&mem, x);
        sim_samples_add(&sp, x);
    }
    double a = sim_samples_quantile(&mem, 0.99), b = sim_samples_quantile(&sp, 0.99);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    sim_samples_free(&mem);
    sim_samples_free(&sp);
}
END_TEST

/* Below `keep` nothing spills: the collector is the plain one. */
START_TEST(under_keep_nothing_spills)
{
    sim_samples sp;
    memset(&sp, 0, sizeof sp);
    sim_samples_spill(&sp, 4096);
    for (int i = 0; i < 4096; i++)
        sim_samples_add(&sp, (double)(i * 7919 % 4096));
    ck_assert_uint_eq(sp.spilled, 0);
    ck_assert_ptr_null(sp.spill);
    ck_assert_double_eq(sim_samples_quantile(&sp, 0.5), 2047.5);
    sim_samples_free(&sp);
}
END_TEST

/* The samples sorted for the quantiles (stats.c sort_samples, a radix
 * sort) are bit for bit the array gsl_sort makes: kinds 0-3 above, and 4:
 * both signs, infinities, subnormals, the largest doubles and ties; 5: the
 * same with 0.0 and -0.0 (left to gsl_sort: a heapsort places the two
 * zeros its own way). Sizes below, at and above the radix threshold. */
static double sample_wide(int kind, uint64_t *seed)
{
    uint64_t r = lcg(seed);
    switch (r % 8) {
    case 0: return (r & 256) ? INFINITY : -INFINITY;
    case 1: return (r & 256 ? 1 : -1) * 4.9e-324 * (double)(r % 1000); /* subnormal */
    case 2: return (r & 256 ? 1 : -1) * 1.7976931348623157e308;
    case 3: return kind == 5 ? ((r & 256) ? 0.0 : -0.0) : 1.0;
    case 4: return (double)(r % 7) - 3.0;
    default: return ((double)(lcg(seed) >> 11) / 9007199254740992.0 - 0.5) * 1e12;
    }
}

START_TEST(sorted_samples_equal_gsl_sort)
{
    static const size_t sizes[] = {100, 256, 1000, 100003};
    for (int kind = 0; kind < 6; kind++)
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            size_t n = sizes[z];
            uint64_t seed = 7 + 1000 * (uint64_t)kind + z;
            sim_samples smp;
            memset(&smp, 0, sizeof smp);
            double *ref = malloc(n * sizeof *ref);
            ck_assert_ptr_nonnull(ref);
            for (size_t i = 0; i < n; i++) {
                ref[i] = kind < 4 ? sample(kind, &seed) : sample_wide(kind, &seed);
                ck_assert_int_eq(sim_samples_add(&smp, ref[i]), 0);
            }
            gsl_sort(ref, 1, n);
            double q = sim_samples_quantile(&smp, 0.5);
            ck_assert_msg(memcmp(smp.v, ref, n * sizeof *ref) == 0,
                          "kind %d, %zu samples: not gsl_sort's array", kind, n);
            double want = gsl_stats_quantile_from_sorted_data(ref, 1, n, 0.5);
            ck_assert(memcmp(&q, &want, sizeof q) == 0);
            free(ref);
            sim_samples_free(&smp);
        }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, spilled_quantiles_equal_in_memory, 0, 4);
    tcase_add_test(tc, under_keep_nothing_spills);
    tcase_add_test(tc, spilled_quantile_allocates_no_second_array);
    tcase_add_test(tc, sorted_samples_equal_gsl_sort);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_main(suite());
}
