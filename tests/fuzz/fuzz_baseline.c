/*
 * fuzz_baseline.c - fuzz the baseline reader of memfab compare
 * (cmp_load_baseline), with a write/read round trip as the oracle.
 *
 * Every set the reader accepts is written back with the baseline writer
 * (cmp_baseline_write_run, the code of `memfab baseline`) and read again:
 * the writer must accept it (a string libyaml handed over is UTF-8, so it
 * can be written), and the second read must give the same runs: names,
 * sha256, versions, seeds, every param, every metric's name, unit and
 * value (bit for bit; null stays null). This covers the YAML scalar
 * emitter (sim/yamlout.h) on whatever strings the fuzzer can put through
 * libyaml's escapes.
 */
#include "fuzz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/compare.h"

static void same_set(const rdb_set *a, const rdb_set *b)
{
    if (a->n != b->n)
        fuzz_fail("round trip: %zu runs, then %zu", a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const rdb_run *x = &a->runs[i], *y = &b->runs[i];
        if (strcmp(x->name, y->name) || strcmp(x->sha, y->sha) ||
            strcmp(x->version, y->version) || x->seed != y->seed)
            fuzz_fail("round trip: run %zu: name, sha, version or seed changed", i);
        if (x->nparams != y->nparams || x->nmetrics != y->nmetrics)
            fuzz_fail("round trip: run %zu: %zu/%zu params, %zu/%zu metrics", i, x->nparams,
                      y->nparams, x->nmetrics, y->nmetrics);
        for (size_t p = 0; p < x->nparams; p++)
            if (strcmp(x->params[p].key, y->params[p].key) ||
                strcmp(x->params[p].value, y->params[p].value))
                fuzz_fail("round trip: run %zu: param %zu changed", i, p);
        for (size_t m = 0; m < x->nmetrics; m++) {
            double u = x->metrics[m].value, v = y->metrics[m].value;
            int same = isnan(u) ? isnan(v) : memcmp(&u, &v, sizeof u) == 0;
            if (strcmp(x->metrics[m].name, y->metrics[m].name) ||
                strcmp(x->metrics[m].unit, y->metrics[m].unit) || !same)
                fuzz_fail("round trip: run %zu: metric %zu changed (%.17g -> %.17g)", i, m, u,
                          v);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("baseline.yaml", data, size);
    if (!path)
        return 0;
    sim_err err;
    sim_err_clear(&err);
    rdb_set a = {NULL, 0};
    if (cmp_load_baseline(path, &a, &err))
        return 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    fputs("memfab_baseline: 1\nruns:\n", f);
    if (a.n == 0)
        fputs("  []\n", f);
    for (size_t i = 0; i < a.n; i++)
        if (cmp_baseline_write_run(f, &a.runs[i], NULL, &err))
            fuzz_fail("the writer refused a run the reader accepted: %s", err.msg);
    if (fclose(f))
        abort();
    const char *path2 = fuzz_file("rewritten.yaml", text, len);
    if (!path2)
        abort();
    rdb_set b = {NULL, 0};
    if (cmp_load_baseline(path2, &b, &err))
        fuzz_fail("the rewritten baseline does not read back: %s:%d:%d: %s", err.file,
                  err.line, err.col, err.msg);
    same_set(&a, &b);
    rdb_set_free(&a);
    rdb_set_free(&b);
    free(text);
    return 0;
}
