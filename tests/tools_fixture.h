/*
 * tools_fixture.h - helpers shared by the tests of the researcher's tools
 * (check_compare, check_plot, check_sweep): a temporary directory, running
 * the memfab binary through the shell, and writing small results databases
 * through results/res.h. Header-only: each test program includes it once.
 */
#ifndef MEMFAB_TESTS_TOOLS_FIXTURE_H
#define MEMFAB_TESTS_TOOLS_FIXTURE_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results/res.h"
#include "tests/check_main.h"

static char fx_dir[256];
static const char *fx_bin, *fx_src;
static char fx_out[1 << 16];   /* output of the last fx_sh */

static void fx_setup(void)
{
    fx_bin = getenv("MEMFAB_BIN");
    fx_src = getenv("MEMFAB_SRC");
    ck_assert_msg(fx_bin && fx_src, "MEMFAB_BIN and MEMFAB_SRC must be set (run through make test)");
    snprintf(fx_dir, sizeof fx_dir, "%s/memfab-tools-XXXXXX", test_tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(fx_dir));
}

static void fx_teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Run a shell command (stderr joined to stdout, kept in fx_out); return its exit status. */
static int fx_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fx_sh(const char *fmt, ...)
{
    char cmd[8192], full[8600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd '%s' && { %s ; } 2>&1", fx_dir, cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(fx_out, 1, sizeof fx_out - 1, p);
    fx_out[n] = '\0';
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0)
        ;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static __attribute__((unused)) void fx_write(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static __attribute__((unused)) int fx_exists(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", fx_dir, name);
    return stat(path, &st) == 0 && st.st_size > 0;
}

typedef struct fx_metric {
    const char *scope, *name;
    double value;
    const char *unit;
} fx_metric;

/* Append one complete run to database `name` (in fx_dir) with params
 * ("k=v", NULL-terminated) and metrics. With requests > 0, also that many
 * requests with latencies growing with the request index, times `scale`,
 * plus timeseries, kv and coherence rows. Returns the run id. */
static __attribute__((unused)) int64_t fx_run(const char *name, const char *scenario, uint64_t seed,
                      const char *const *params, const fx_metric *m, size_t nm, int requests,
                      double scale)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, name);
    sim_err err;
    sim_err_clear(&err);
    res_db *db = res_open(path, &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    int64_t id = res_run_begin(db, scenario, "0123abcd", seed, "test", &err);
    ck_assert_int_gt(id, 0);
    char sb[32];
    snprintf(sb, sizeof sb, "%llu", (unsigned long long)seed);
    ck_assert_int_eq(res_param(db, "seed", sb), 0);
    for (size_t i = 0; params && params[i]; i++) {
        char k[256];
        const char *eq = strchr(params[i], '=');
        snprintf(k, sizeof k, "%.*s", (int)(eq - params[i]), params[i]);
        ck_assert_int_eq(res_param(db, k, eq + 1), 0);
    }
    for (size_t i = 0; i < nm; i++)
        ck_assert_int_eq(res_metric(db, m[i].scope, m[i].name, m[i].value, m[i].unit), 0);
    for (int i = 0; i < requests; i++) {
        uint64_t a = (uint64_t)i * 1000000000ULL;
        uint64_t ttft = (uint64_t)((double)(1000000000ULL + (uint64_t)i * 10000000ULL) * scale);
        ck_assert_int_eq(res_request(db, (uint64_t)i, "s", "gpu0", a, a + ttft,
                                     a + ttft * 5, 100, 20, 50), 0);
    }
    if (requests) {
        for (int t = 0; t < 20; t++) {
            ck_assert_int_eq(res_timeseries(db, "pcie0", "throughput:host->gpu0",
                                            (uint64_t)t * 10000000000ULL,
                                            1e9 * scale * (1 + t % 5)), 0);
            ck_assert_int_eq(res_timeseries(db, "kv", "occupancy:gpu0/hbm",
                                            (uint64_t)t * 10000000000ULL, 0.05 * t), 0);
        }
        ck_assert_int_eq(res_kv(db, "gpu0", "hbm", 80, 20, 3, 1000, 2000), 0);
        ck_assert_int_eq(res_kv(db, "gpu0", "dram", (uint64_t)(40 * scale), 60, 1, 10, 20), 0);
        ck_assert_int_eq(res_coherence(db, "dir0", "GetS", 120), 0);
        ck_assert_int_eq(res_coherence(db, "dir0", "Inv", (uint64_t)(30 * scale)), 0);
    }
    ck_assert_int_eq(res_run_end(db, "complete", 0.1, 1000000000000ULL, 1000, &err), 0);
    res_close(db);
    return id;
}

#endif
