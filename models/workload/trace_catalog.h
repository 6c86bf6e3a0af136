/*
 * trace_catalog.h - the public LLM serving traces memfab knows by name:
 * where each is published, at which pinned revision, the hash that
 * identifies its content, its license and the paper to cite.
 *
 * A trace is cached as <cache>/<dir>/<file> (trace_cache_dir() in
 * trace.h), the same relative path scenarios name in `trace:` (for
 * instance mooncake-fast25/conversation_trace.jsonl), so a scenario finds
 * a fetched trace with no setting at all.
 *
 * Content is pinned by SHA-256 where the published file's SHA-256 is
 * known, otherwise by its git blob id at the pinned commit (SHA-1 of
 * "blob <size>\0" + content, which is what the repository itself names).
 * A trace published outside a versioned repository, whose content no hash
 * pins, has neither; `memfab trace fetch` downloads it only when asked to
 * accept an unpinned file, and prints the SHA-256 it got.
 *
 * Sources of the hashes: the files as copied byte for byte from the
 * repositories at the commits named in the URLs (sizes and git blob ids
 * from `git ls-tree -l` at those commits; SHA-256 of the same bytes).
 */
#ifndef MEMFAB_MODELS_TRACE_CATALOG_H
#define MEMFAB_MODELS_TRACE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct trace_catalog_entry {
    const char *name;       /* what the user types: mooncake-conversation, ... */
    const char *dir;        /* cache subdirectory: mooncake-fast25, ... */
    const char *file;       /* file name as published */
    const char *url;        /* pinned download URL */
    uint64_t bytes;         /* size, 0 when unknown */
    const char *sha256;     /* lowercase hex, or NULL */
    const char *git_blob;   /* git blob id (SHA-1 hex) at the pinned commit, or NULL */
    const char *format;     /* memfab trace format: mooncake, azure, burstgpt */
    const char *license;    /* SPDX id and where the license text is */
    const char *cite;       /* the paper to cite */
    const char *about;      /* one line */
} trace_catalog_entry;

/* The catalog, in listing order. */
const trace_catalog_entry *trace_catalog(size_t *n);

/* The entry of that name, or NULL. */
const trace_catalog_entry *trace_catalog_find(const char *name);

/* The entry a scenario's relative trace path names (dir/file, or the bare
 * file name), or NULL. */
const trace_catalog_entry *trace_catalog_by_path(const char *path);

#endif
