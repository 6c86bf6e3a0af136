/*
 * fuzz.h - what the fuzz harnesses of tests/fuzz/ share.
 *
 * Each harness fuzz_NAME.c defines LLVMFuzzerTestOneInput, the libFuzzer
 * entry point: one input in, every resource it took freed, nothing printed
 * that matters, no exit(). The same source builds two ways:
 *   - `make fuzz`: with clang -fsanitize=fuzzer,address,undefined, as a
 *     libFuzzer program (build/fuzz/fuzz/fuzz_NAME);
 *   - `make test`: with the ordinary compiler and -DFUZZ_ENTRY=name, which
 *     renames the entry point so that tests/check_fuzz.c can link every
 *     harness into one Check suite and replay tests/fuzz/regress/NAME/ and
 *     tests/fuzz/corpus/NAME/ through it (no clang needed).
 *
 * The readers under test take paths, so an input is written to a file of a
 * private directory (fuzz_file); the directory is made once per process
 * and removed at exit. An oracle failure calls fuzz_fail, which aborts:
 * libFuzzer then keeps the input as a crash, and a Check replay fails.
 */
#ifndef MEMFAB_TESTS_FUZZ_H
#define MEMFAB_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#ifdef FUZZ_ENTRY
#define LLVMFuzzerTestOneInput FUZZ_ENTRY
#endif
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write data to NAME in the process's fuzz directory (replacing it) and
 * return the file's path (static storage: valid until the next call with
 * the same name), or NULL when the file cannot be written. */
const char *fuzz_file(const char *name, const void *data, size_t size);

/* Report an oracle failure (printf format) on stderr and abort. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
