/*
 * check_main.h - the end of every suite's main: run the suite under Check
 * (CK_RUN_SUITE / CK_RUN_CASE pick a subset, CK_FORK and the other Check
 * variables apply) and turn the failures into the exit status, as
 * libcheck's own example does (doc/example/tests/check_money.c); and
 * UNDER_ASAN, defined when the suite is built with AddressSanitizer (gcc
 * or clang), for suites that replay less there: ASan looks for memory
 * errors, which a shorter replay of the same code finds as well; and
 * test_tmpdir, where suites put their temporary files.
 * Header-only: each test program includes it once.
 */
#ifndef MEMFAB_TESTS_CHECK_MAIN_H
#define MEMFAB_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* The directory for a suite's temporary files: $TMPDIR when it is set,
 * else /tmp. */
static inline const char *test_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Run s (the runner frees it): EXIT_SUCCESS when no test failed. */
static inline int check_main(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
