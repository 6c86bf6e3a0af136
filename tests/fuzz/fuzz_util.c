/*
 * fuzz_util.c - the private directory the harnesses write their inputs to,
 * and the oracle failure (see fuzz.h).
 */
#include "fuzz.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_MAX_FILES 8

static char dir[256];
static char paths[FUZZ_MAX_FILES][320];
static size_t npaths;

static void cleanup(void)
{
    for (size_t i = 0; i < npaths; i++)
        unlink(paths[i]);
    if (dir[0])
        rmdir(dir);
}

const char *fuzz_file(const char *name, const void *data, size_t size)
{
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/memfab-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            dir[0] = '\0';
            return NULL;
        }
        atexit(cleanup);
    }
    size_t i = 0;
    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    while (i < npaths && strcmp(paths[i], path) != 0)
        i++;
    if (i == npaths) {
        if (npaths == FUZZ_MAX_FILES)
            return NULL;
        memcpy(paths[npaths++], path, sizeof path);
    }
    int fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    const char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w <= 0) {
            close(fd);
            return NULL;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd))
        return NULL;
    return paths[i];
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz oracle: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cleanup();   /* abort() skips atexit; libFuzzer keeps the input itself */
    abort();
}
