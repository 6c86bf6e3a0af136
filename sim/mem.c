/*
 * mem.c - counted allocation. Each block carries a 16-byte header holding its
 * size (16 keeps the user pointer aligned for any scalar type).
 */
#include "mem.h"

#include <stdlib.h>
#include <string.h>

#define HDR 16

static size_t in_use, peak, limit;

void sim_mem_set_limit(size_t bytes) { limit = bytes; }

/* Would `extra` more bytes exceed the limit? */
static int over_limit(size_t extra)
{
    return limit && (in_use >= limit || extra > limit - in_use);
}

static void account(ptrdiff_t delta)
{
    in_use = (size_t)((ptrdiff_t)in_use + delta);
    if (in_use > peak)
        peak = in_use;
}

void *sim_alloc(size_t size)
{
    if (over_limit(size))
        return NULL;
    unsigned char *p = malloc(HDR + size);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    account((ptrdiff_t)size);
    return p + HDR;
}

void *sim_calloc(size_t n, size_t size)
{
    if (size && n > ((size_t)-1 - HDR) / size)
        return NULL;
    if (over_limit(n * size))
        return NULL;
    unsigned char *p = calloc(1, HDR + n * size);
    if (!p)
        return NULL;
    size_t total = n * size;
    memcpy(p, &total, sizeof total);
    account((ptrdiff_t)total);
    return p + HDR;
}

void *sim_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return sim_alloc(size);
    unsigned char *base = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    if (size > old && over_limit(size - old))
        return NULL;
    unsigned char *p = realloc(base, HDR + size);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    account((ptrdiff_t)size - (ptrdiff_t)old);
    return p + HDR;
}

void sim_free(void *ptr)
{
    if (!ptr)
        return;
    unsigned char *base = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    account(-(ptrdiff_t)old);
    free(base);
}

char *sim_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sim_alloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

size_t sim_mem_in_use(void) { return in_use; }
size_t sim_mem_peak(void) { return peak; }
void sim_mem_reset_peak(void) { peak = in_use; }

int sim_grow_array(void *pp, size_t size, size_t old, size_t n, int fill)
{
    void **p = pp;
    void *q = sim_realloc(*p, n * size);
    if (!q)
        return -1;
    if (fill >= 0)
        memset((char *)q + old * size, fill, (n - old) * size);
    *p = q;
    return 0;
}
