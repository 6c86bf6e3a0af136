/*
 * check_fuzz.c - replay the fuzz harnesses' inputs without libFuzzer.
 *
 * Every file of tests/fuzz/regress/HARNESS/ (the crash, hang and oracle
 * reproducers the fuzzers found, kept forever) and of
 * tests/fuzz/corpus/HARNESS/ (the seed corpus) is fed to the harness's
 * entry point, compiled into this program with the ordinary compiler
 * (tests/fuzz/fuzz.h: -DFUZZ_ENTRY renames LLVMFuzzerTestOneInput). One
 * loop iteration per file, so Check's fork isolates each input: a crash,
 * an abort from a harness oracle or a timeout fails that iteration, and
 * the file is named on stderr first. Under `make asan` the same replay
 * runs with the sanitizers. Needs MEMFAB_SRC (the repository root).
 */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define H(name) int fuzz_##name##_one(const uint8_t *data, size_t size);
#define HARNESSES                                                                      \
    H(scenario) H(trace_mooncake) H(trace_azure) H(trace_burstgpt) H(trace_qwen)        \
    H(trace_native) H(baseline) H(tolerances) H(sweep)
HARNESSES
#undef H

typedef struct harness {
    const char *name;
    int (*one)(const uint8_t *, size_t);
    char **files;              /* regress/ first, then corpus/ */
    size_t nfiles, nregress;
} harness;

#define H(name) {#name, fuzz_##name##_one, NULL, 0, 0},
static harness harnesses[] = {HARNESSES};
#undef H
#define NH (sizeof harnesses / sizeof *harnesses)

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the regular files of dir (sorted) to h->files. */
static void add_dir(harness *h, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t first = h->nfiles;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **nf = realloc(h->files, (h->nfiles + 1) * sizeof *nf);
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!nf || !p)
            abort();
        snprintf(p, len, "%s/%s", dir, e->d_name);
        h->files = nf;
        h->files[h->nfiles++] = p;
    }
    closedir(d);
    qsort(h->files + first, h->nfiles - first, sizeof *h->files, by_name);
}

static void feed(const harness *h, const char *path)
{
    fprintf(stderr, "fuzz replay: %s %s\n", h->name, path);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: cannot open", path);
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    /* libFuzzer hands over a buffer of exactly n bytes: so do we, so that
     * ASan sees a read past the end */
    uint8_t *exact = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, buf, n);
    free(buf);
    ck_assert_int_eq(h->one(exact, n), 0);
    free(exact);
}

/* _i runs over every file of every harness, in table order. */
START_TEST(test_replay)
{
    size_t i = (size_t)_i;
    for (size_t k = 0; k < NH; k++) {
        if (i < harnesses[k].nfiles) {
            feed(&harnesses[k], harnesses[k].files[i]);
            return;
        }
        i -= harnesses[k].nfiles;
    }
    ck_abort_msg("no input %d", _i);
}
END_TEST

/* Every harness has a seed corpus (an empty one would replay nothing). */
START_TEST(test_corpora)
{
    for (size_t k = 0; k < NH; k++)
        ck_assert_msg(harnesses[k].nfiles > harnesses[k].nregress,
                      "tests/fuzz/corpus/%s/ is empty or missing", harnesses[k].name);
}
END_TEST

int main(void)
{
    const char *src = getenv("MEMFAB_SRC");
    if (!src || !*src)
        src = ".";
    size_t total = 0, regress = 0;
    for (size_t k = 0; k < NH; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/regress/%s", src, harnesses[k].name);
        add_dir(&harnesses[k], dir);
        harnesses[k].nregress = harnesses[k].nfiles;
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src, harnesses[k].name);
        add_dir(&harnesses[k], dir);
        total += harnesses[k].nfiles;
        regress += harnesses[k].nregress;
    }
    printf("fuzz replay: %zu inputs (%zu regression reproducers) of %zu harnesses\n", total,
           regress, NH);
    Suite *s = suite_create("fuzz");
    TCase *tc = tcase_create("Replay");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_corpora);
    if (total)
        tcase_add_loop_test(tc, test_replay, 0, (int)total);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (size_t k = 0; k < NH; k++) {
        for (size_t i = 0; i < harnesses[k].nfiles; i++)
            free(harnesses[k].files[i]);
        free(harnesses[k].files);
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
