/*
 * scn.c - scenarios: YAML parsed with libyaml into a node tree with marks,
 * includes, anchors and merge keys, --set overrides, unit parsing, typed
 * getters, flattening and a SHA-256 of the effective tree.
 *
 * The tree is built from libyaml's event stream (not its document API) so
 * that includes and merge keys can be applied while a mapping is built.
 * Invariants:
 *   - every node is on the document's `all` list and is freed only by
 *     scn_free, never by its parent: nodes replaced by an override, or the
 *     shells left behind when a merge moves entries, just stay on the list;
 *   - an alias is a deep copy of the anchored node (keeping the anchor's
 *     marks), so an override through one path never changes another;
 *   - after a mapping is complete its keys are unique. While it is being
 *     built, entries that came from `<<` or `include:` are "weak": a key
 *     written in the mapping itself replaces a weak entry, a second
 *     explicit key is an error, and weak entries never replace explicit
 *     ones (a later include replaces an earlier include's key; an earlier
 *     `<<` source wins over a later one, as the YAML merge spec says);
 *   - a mapping of MAP_INDEX_MIN keys or more has a hash index of its keys
 *     (open addressing, cells hold entry numbers, load at most 1/2), so
 *     building and searching it costs O(1) per key, not O(keys): a
 *     mapping of 100k keys loads in milliseconds, not minutes. A weak
 *     entry replaced by an explicit key is left as a tombstone (key NULL,
 *     skipped by every search) and the mapping is compacted once, when it
 *     is complete, so the replacement keeps YAML order without shifting
 *     the entries each time;
 *   - the node count (alias expansion included) is capped at SCN_MAX_NODES
 *     and nesting at SCN_MAX_DEPTH, so hostile input ("billion laughs",
 *     deep brackets) fails with an error instead of eating memory or stack.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _XOPEN_SOURCE 700
#endif

#include "scn.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "mem.h"

#define SCN_MAX_NODES (1u << 20)  /* nodes per document, alias copies included */
#define SCN_MAX_DEPTH 256         /* nesting of maps and sequences */
#define SCN_MAX_INCLUDES 32       /* include nesting */
#define SCN_MAX_FILE (16 << 20)   /* bytes in a scenario or included file */
#define CMDLINE "<command line>"
#define MAP_INDEX_MIN 16          /* mappings with fewer keys are searched linearly */

__extension__ typedef unsigned __int128 u128;

typedef struct scn_entry {
    scn_node *key;  /* the key scalar */
    scn_node *val;  /* its value */
    int weak;       /* 1 while building: came from `<<` or include */
} scn_entry;

struct scn_node {
    scn_kind kind;
    const char *file;     /* mark: file name, interned in the document */
    int line, col;        /* mark: 1-based */
    int plain;            /* scalar written without quotes */
    char *str;            /* SCN_SCALAR: the text */
    size_t n, cap;        /* SCN_MAP entries / SCN_SEQ items in use, allocated */
    scn_entry *ents;      /* SCN_MAP */
    uint32_t *hidx;       /* SCN_MAP, MAP_INDEX_MIN keys or more: entry numbers, UINT32_MAX empty */
    uint32_t hmask;       /* cells of hidx - 1 */
    scn_node **items;     /* SCN_SEQ */
    scn_node *all_next;   /* the document's list of every node */
};

struct scn_doc {
    char *path;           /* top-level file name */
    scn_node *root;       /* NULL only transiently */
    scn_node *all;        /* every node ever allocated, for scn_free */
    size_t nnodes;        /* length of `all` */
    char **files;         /* interned file names used in marks */
    size_t nfiles, capfiles;
};

/* ---- errors --------------------------------------------------------------- */

/* Format first, then store: an argument may point into err itself. */
static int set_err(sim_err *err, int code, const char *file, int line, int col,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int set_err(sim_err *err, int code, const char *file, int line, int col,
                   const char *fmt, ...)
{
    char buf[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return sim_err_set(err, code, file, line, col, "%s", buf);
}

int scn_error(sim_err *err, const scn_node *n, const char *fmt, ...)
{
    char buf[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return sim_err_set(err, SIM_ESCENARIO, n ? n->file : NULL, n ? n->line : 0,
                       n ? n->col : 0, "%s", buf);
}

static const char *kind_name(const scn_node *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case SCN_MAP: return "a mapping";
    case SCN_SEQ: return "a sequence";
    default: return "a scalar";
    }
}

/* ---- documents and nodes ---------------------------------------------------- */

static const char *intern(scn_doc *d, const char *name)
{
    for (size_t i = 0; i < d->nfiles; i++)
        if (strcmp(d->files[i], name) == 0)
            return d->files[i];
    if (d->nfiles == d->capfiles) {
        size_t cap = d->capfiles ? 2 * d->capfiles : 4;
        char **f = sim_realloc(d->files, cap * sizeof *f);
        if (!f)
            return NULL;
        d->files = f;
        d->capfiles = cap;
    }
    char *s = sim_strdup(name);
    if (!s)
        return NULL;
    d->files[d->nfiles++] = s;
    return s;
}

static scn_doc *doc_new(const char *path)
{
    scn_doc *d = sim_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->path = sim_strdup(path);
    if (!d->path) {
        sim_free(d);
        return NULL;
    }
    return d;
}

void scn_free(scn_doc *d)
{
    if (!d)
        return;
    for (scn_node *n = d->all, *next; n; n = next) {
        next = n->all_next;
        sim_free(n->str);
        sim_free(n->ents);
        sim_free(n->hidx);
        sim_free(n->items);
        sim_free(n);
    }
    for (size_t i = 0; i < d->nfiles; i++)
        sim_free(d->files[i]);
    sim_free(d->files);
    sim_free(d->path);
    sim_free(d);
}

/* A new empty node; NULL when out of memory or over SCN_MAX_NODES. */
static scn_node *node_new(scn_doc *d, scn_kind kind, const char *file, int line, int col)
{
    if (d->nnodes >= SCN_MAX_NODES)
        return NULL;
    scn_node *n = sim_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    n->all_next = d->all;
    d->all = n;
    d->nnodes++;
    return n;
}

static scn_node *scalar_new(scn_doc *d, const char *text, size_t len, int plain,
                            const char *file, int line, int col)
{
    scn_node *n = node_new(d, SCN_SCALAR, file, line, col);
    if (!n)
        return NULL;
    n->str = sim_alloc(len + 1);
    if (!n->str)
        return NULL; /* n stays on the list and is freed with the document */
    memcpy(n->str, text, len);
    n->str[len] = '\0';
    n->plain = plain;
    return n;
}

/* The error for a failed node_new/scalar_new. */
static int alloc_err(const scn_doc *d, sim_err *err, const char *file, int line, int col)
{
    if (d->nnodes >= SCN_MAX_NODES)
        return set_err(err, SIM_ESCENARIO, file, line, col,
                       "scenario too large (more than %u nodes; recursive aliases?)",
                       SCN_MAX_NODES);
    return set_err(err, SIM_ENOMEM, file, line, col, "out of memory");
}

/* FNV-1a (Fowler, Noll, Vo) over a key. */
static uint32_t key_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (uint32_t)(h ^ (h >> 32));
}

static void map_index_add(scn_node *m, size_t i)
{
    uint32_t c = key_hash(m->ents[i].key->str) & m->hmask;
    while (m->hidx[c] != UINT32_MAX)
        c = (c + 1) & m->hmask;
    m->hidx[c] = (uint32_t)i;
}

/* (Re)build m's index with at least twice as many cells as entries. If
 * that cannot be allocated the mapping goes without (searched linearly):
 * slower, never wrong. */
static void map_index_build(scn_node *m)
{
    size_t cells = 4 * MAP_INDEX_MIN;
    while (cells < 4 * m->n)
        cells *= 2;
    sim_free(m->hidx);
    m->hidx = sim_alloc(cells * sizeof *m->hidx);
    m->hmask = 0;
    if (!m->hidx)
        return;
    memset(m->hidx, 0xff, cells * sizeof *m->hidx);
    m->hmask = (uint32_t)(cells - 1);
    for (size_t i = 0; i < m->n; i++)
        if (m->ents[i].key)
            map_index_add(m, i);
}

static int map_push(scn_node *m, scn_node *key, scn_node *val, int weak)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 4;
        scn_entry *e = sim_realloc(m->ents, cap * sizeof *e);
        if (!e)
            return SIM_ENOMEM;
        m->ents = e;
        m->cap = cap;
    }
    m->ents[m->n++] = (scn_entry){key, val, weak};
    if (m->hidx && 2 * m->n <= (size_t)m->hmask + 1)
        map_index_add(m, m->n - 1);
    else if (m->n >= MAP_INDEX_MIN)
        map_index_build(m); /* at least doubles: amortised O(1) per key */
    return 0;
}

static int seq_push(scn_node *s, scn_node *item)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        scn_node **it = sim_realloc(s->items, cap * sizeof *it);
        if (!it)
            return SIM_ENOMEM;
        s->items = it;
        s->cap = cap;
    }
    s->items[s->n++] = item;
    return 0;
}

static size_t map_find(const scn_node *m, const char *key)
{
    if (m->hidx) {
        for (uint32_t c = key_hash(key) & m->hmask; m->hidx[c] != UINT32_MAX;
             c = (c + 1) & m->hmask) {
            const scn_entry *e = &m->ents[m->hidx[c]];
            if (e->key && strcmp(e->key->str, key) == 0)
                return m->hidx[c];
        }
        return (size_t)-1;
    }
    for (size_t i = 0; i < m->n; i++)
        if (m->ents[i].key && strcmp(m->ents[i].key->str, key) == 0)
            return i;
    return (size_t)-1;
}

/* Drop the tombstones add_explicit left (keeping the order of the rest). */
static void map_compact(scn_node *m)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->ents[i].key)
            m->ents[k++] = m->ents[i];
    if (k == m->n)
        return;
    m->n = k;
    if (m->hidx)
        map_index_build(m);
}

/* Deep copy of src (an alias expansion). */
static int node_copy(scn_doc *d, const scn_node *src, int depth, scn_node **out, sim_err *err)
{
    if (depth > SCN_MAX_DEPTH)
        return set_err(err, SIM_ESCENARIO, src->file, src->line, src->col,
                       "nesting deeper than %d levels (through aliases)", SCN_MAX_DEPTH);
    scn_node *n;
    if (src->kind == SCN_SCALAR)
        n = scalar_new(d, src->str, strlen(src->str), src->plain, src->file, src->line, src->col);
    else
        n = node_new(d, src->kind, src->file, src->line, src->col);
    if (!n || (src->kind == SCN_SCALAR && !n->str))
        return alloc_err(d, err, src->file, src->line, src->col);
    for (size_t i = 0; i < src->n; i++) {
        int rc;
        if (src->kind == SCN_MAP) {
            scn_node *k, *v;
            if (!src->ents[i].key) /* a tombstone (a mapping still being built) */
                continue;
            if ((rc = node_copy(d, src->ents[i].key, depth + 1, &k, err)) ||
                (rc = node_copy(d, src->ents[i].val, depth + 1, &v, err)))
                return rc;
            if (map_push(n, k, v, 0))
                return alloc_err(d, err, src->file, src->line, src->col);
        } else {
            scn_node *it;
            if ((rc = node_copy(d, src->items[i], depth + 1, &it, err)))
                return rc;
            if (seq_push(n, it))
                return alloc_err(d, err, src->file, src->line, src->col);
        }
    }
    *out = n;
    return 0;
}

/* ---- building the tree from libyaml events --------------------------------- */

typedef struct anchor {
    char *name;      /* without the '&' */
    scn_node *node;  /* the anchored node */
    int open;        /* the node is still being built (an alias would recurse) */
} anchor;

/* The chain of files being loaded, innermost first, for include cycles. */
typedef struct incl {
    const char *canon;        /* realpath, or NULL for text given in memory */
    const char *shown;        /* the name used in marks */
    const struct incl *up;    /* the including file */
    int depth;                /* 0 for the top-level file */
} incl;

typedef struct bld {
    scn_doc *d;
    yaml_parser_t yp;
    const char *file;         /* interned name for marks */
    const char *text;         /* the input, for reader-error offsets */
    size_t len;
    anchor *anchors;          /* in definition order; lookups go backwards */
    size_t nanch, capanch;
    const incl *stack;        /* this file and its includers */
    sim_err *err;
} bld;

static int build_node(bld *b, yaml_event_t *ev, int depth, scn_node **out);
static int load_text(scn_doc *d, const char *file, const char *text, size_t len,
                     const incl *stack, scn_node **root, sim_err *err);

static int syntax_error(bld *b)
{
    yaml_parser_t *p = &b->yp;
    if (p->error == YAML_MEMORY_ERROR)
        return set_err(b->err, SIM_ENOMEM, b->file, 0, 0, "out of memory while parsing YAML");
    int line = 1, col = 1;
    if (p->error == YAML_READER_ERROR) {
        for (size_t i = 0; i < p->problem_offset && i < b->len; i++) {
            if (b->text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
    } else {
        line = (int)p->problem_mark.line + 1;
        col = (int)p->problem_mark.column + 1;
    }
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->context)
        return set_err(b->err, SIM_ESCENARIO, b->file, line, col,
                       "YAML syntax error: %s %s (started at line %d)", problem, p->context,
                       (int)p->context_mark.line + 1);
    return set_err(b->err, SIM_ESCENARIO, b->file, line, col, "YAML syntax error: %s", problem);
}

static int next_event(bld *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->yp, ev))
        return syntax_error(b);
    return 0;
}

static int anchor_add(bld *b, const yaml_char_t *name, scn_node *n, int open, size_t *idx)
{
    if (b->nanch == b->capanch) {
        size_t cap = b->capanch ? 2 * b->capanch : 8;
        anchor *a = sim_realloc(b->anchors, cap * sizeof *a);
        if (!a)
            return set_err(b->err, SIM_ENOMEM, b->file, n->line, n->col, "out of memory");
        b->anchors = a;
        b->capanch = cap;
    }
    char *s = sim_strdup((const char *)name);
    if (!s)
        return set_err(b->err, SIM_ENOMEM, b->file, n->line, n->col, "out of memory");
    b->anchors[b->nanch] = (anchor){s, n, open};
    if (idx)
        *idx = b->nanch;
    b->nanch++;
    return 0;
}

/* Add an entry written in the mapping itself. */
static int add_explicit(bld *b, scn_node *m, scn_node *key, scn_node *val)
{
    size_t i = map_find(m, key->str);
    if (i != (size_t)-1) {
        if (!m->ents[i].weak)
            return scn_error(b->err, key, "duplicate key '%s' (first at line %d)", key->str,
                             m->ents[i].key->line);
        m->ents[i].key = NULL; /* a tombstone until the mapping is complete */
    }
    if (map_push(m, key, val, 0))
        return set_err(b->err, SIM_ENOMEM, key->file, key->line, key->col, "out of memory");
    return 0;
}

/* Add an entry from `<<` or include: never replaces an explicit key; replaces
 * an earlier weak one only when `override` (later includes win). */
static int add_weak(bld *b, scn_node *m, scn_node *key, scn_node *val, int override)
{
    size_t i = map_find(m, key->str);
    if (i != (size_t)-1) {
        if (m->ents[i].weak && override) {
            m->ents[i].key = key;
            m->ents[i].val = val;
        }
        return 0;
    }
    if (map_push(m, key, val, 1))
        return set_err(b->err, SIM_ENOMEM, key->file, key->line, key->col, "out of memory");
    return 0;
}

static int merge_key(bld *b, scn_node *m, scn_node *val)
{
    if (val->kind == SCN_MAP) {
        for (size_t i = 0; i < val->n; i++) {
            int rc = add_weak(b, m, val->ents[i].key, val->ents[i].val, 0);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (val->kind == SCN_SEQ) {
        for (size_t j = 0; j < val->n; j++) {
            const scn_node *src = val->items[j];
            if (src->kind != SCN_MAP)
                return scn_error(b->err, src,
                                 "merge key '<<' needs mappings, got %s in its list",
                                 kind_name(src));
            for (size_t i = 0; i < src->n; i++) {
                int rc = add_weak(b, m, src->ents[i].key, src->ents[i].val, 0);
                if (rc)
                    return rc;
            }
        }
        return 0;
    }
    return scn_error(b->err, val,
                     "merge key '<<' needs a mapping or a list of mappings (<<: *anchor)");
}

const char *scn_file_kind(const struct stat *st)
{
    if (S_ISDIR(st->st_mode))
        return "a directory";
    if (S_ISFIFO(st->st_mode))
        return "a FIFO";
    if (S_ISCHR(st->st_mode))
        return "a character device";
    if (S_ISBLK(st->st_mode))
        return "a block device";
    if (S_ISSOCK(st->st_mode))
        return "a socket";
    return "a special file";
}

/* Read a scenario or included file whole. Only a regular file of at most
 * SCN_MAX_FILE bytes is read: a device (/dev/zero), a FIFO or a directory
 * is refused after stat(), before any open that could block, and the file
 * is opened O_NONBLOCK in case it was replaced in between. 0 on success;
 * -1 with errno set (an open or read error), or -2 with the reason in
 * why (a file of the wrong kind or size). */
int scn_read_file(const char *path, char **text, size_t *len, char *why, size_t whylen)
{
    struct stat st;
    if (stat(path, &st))
        return -1;
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "%s, not a regular file", scn_file_kind(&st));
        return -2;
    }
    if (st.st_size > SCN_MAX_FILE) {
        snprintf(why, whylen, "%lld bytes, more than the %d MiB a scenario file may hold",
                 (long long)st.st_size, SCN_MAX_FILE >> 20);
        return -2;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > SCN_MAX_FILE) {
        close(fd);
        if (!S_ISREG(st.st_mode))
            snprintf(why, whylen, "%s, not a regular file", scn_file_kind(&st));
        else
            snprintf(why, whylen, "more than the %d MiB a scenario file may hold",
                     SCN_MAX_FILE >> 20);
        return -2;
    }
    /* Read at most one byte past the limit, to notice a file that grew. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = sim_alloc(cap);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (n > SCN_MAX_FILE) {
                sim_free(buf);
                close(fd);
                snprintf(why, whylen, "more than the %d MiB a scenario file may hold",
                         SCN_MAX_FILE >> 20);
                return -2;
            }
            size_t ncap = cap * 2 > (size_t)SCN_MAX_FILE + 1 ? (size_t)SCN_MAX_FILE + 1 : cap * 2;
            char *nb = sim_realloc(buf, ncap);
            if (!nb) {
                sim_free(buf);
                close(fd);
                errno = ENOMEM;
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            sim_free(buf);
            close(fd);
            errno = e;
            return -1;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (n > SCN_MAX_FILE) {
        sim_free(buf);
        snprintf(why, whylen, "more than the %d MiB a scenario file may hold", SCN_MAX_FILE >> 20);
        return -2;
    }
    *text = buf;
    *len = n;
    return 0;
}

char *scn_resolve_path(const char *including, const char *rel)
{
    const char *slash = including ? strrchr(including, '/') : NULL;
    if (rel[0] == '/' || !slash)
        return sim_strdup(rel);
    size_t dl = (size_t)(slash - including) + 1, rl = strlen(rel);
    char *p = sim_alloc(dl + rl + 1);
    if (!p)
        return NULL;
    memcpy(p, including, dl);
    memcpy(p + dl, rel, rl + 1);
    return p;
}

static int include_one(bld *b, scn_node *m, const scn_node *pathnode)
{
    sim_err *err = b->err;
    const char *rel = pathnode->str;
    if (!rel[0])
        return scn_error(err, pathnode, "include: empty file name");
    if (b->stack->depth >= SCN_MAX_INCLUDES)
        return scn_error(err, pathnode, "include '%s': includes nested deeper than %d", rel,
                         SCN_MAX_INCLUDES);
    char *path = scn_resolve_path(b->file, rel);
    if (!path)
        return set_err(err, SIM_ENOMEM, pathnode->file, pathnode->line, pathnode->col,
                       "out of memory");
    int rc = 0;
    char *canon = realpath(path, NULL);
    char *text = NULL;
    size_t len = 0;
    if (!canon) {
        rc = scn_error(err, pathnode, "cannot include '%s' (%s): %s", rel, path, strerror(errno));
        goto out;
    }
    for (const incl *s = b->stack; s; s = s->up) {
        if (s->canon && strcmp(s->canon, canon) == 0) {
            /* Print the chain outermost first: a.yaml -> b.yaml -> a.yaml. */
            const incl *chain[SCN_MAX_INCLUDES + 2];
            int k = 0;
            for (const incl *t = b->stack; t && k < SCN_MAX_INCLUDES + 1; t = t->up)
                chain[k++] = t;
            char buf[768];
            size_t off = 0;
            buf[0] = '\0';
            while (k-- > 0 && off < sizeof buf)
                off += (size_t)snprintf(buf + off, sizeof buf - off, "%s -> ", chain[k]->shown);
            rc = scn_error(err, pathnode, "include cycle: %s%s", buf, path);
            goto out;
        }
    }
    char why[128];
    int rf = scn_read_file(path, &text, &len, why, sizeof why);
    if (rf) {
        rc = scn_error(err, pathnode, "cannot include '%s' (%s): %s", rel, path,
                       rf == -2 ? why : strerror(errno));
        goto out;
    }
    const char *shown = intern(b->d, path);
    if (!shown) {
        rc = set_err(err, SIM_ENOMEM, pathnode->file, pathnode->line, pathnode->col,
                     "out of memory");
        goto out;
    }
    incl me = {canon, shown, b->stack, b->stack->depth + 1};
    scn_node *root = NULL;
    if ((rc = load_text(b->d, shown, text, len, &me, &root, err)))
        goto out;
    if (root && root->kind != SCN_MAP) {
        rc = scn_error(err, pathnode, "include '%s': the file must hold a mapping, not %s", rel,
                       kind_name(root));
        goto out;
    }
    for (size_t i = 0; root && i < root->n && !rc; i++)
        rc = add_weak(b, m, root->ents[i].key, root->ents[i].val, 1);
out:
    free(canon); /* from realpath: libc malloc */
    sim_free(text);
    sim_free(path);
    return rc;
}

static int include_key(bld *b, scn_node *m, const scn_node *val)
{
    if (val->kind == SCN_SCALAR)
        return include_one(b, m, val);
    if (val->kind == SCN_SEQ) {
        for (size_t i = 0; i < val->n; i++) {
            if (val->items[i]->kind != SCN_SCALAR)
                return scn_error(b->err, val->items[i], "include: expected a file name, got %s",
                                 kind_name(val->items[i]));
            int rc = include_one(b, m, val->items[i]);
            if (rc)
                return rc;
        }
        return 0;
    }
    return scn_error(b->err, val, "include: expected a file name or a list of file names");
}

static int build_collection(bld *b, scn_node *n, int depth)
{
    int is_map = n->kind == SCN_MAP;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(b, &ev);
        if (rc)
            return rc;
        if (ev.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
            yaml_event_delete(&ev);
            break;
        }
        scn_node *item;
        if ((rc = build_node(b, &ev, depth + 1, &item)))
            return rc;
        if (!is_map) {
            if (seq_push(n, item))
                return set_err(b->err, SIM_ENOMEM, n->file, n->line, n->col, "out of memory");
            continue;
        }
        if (item->kind != SCN_SCALAR)
            return scn_error(b->err, item, "mapping keys must be scalars, not %s",
                             kind_name(item));
        scn_node *val;
        if ((rc = next_event(b, &ev)) || (rc = build_node(b, &ev, depth + 1, &val)))
            return rc;
        if (item->plain && strcmp(item->str, "<<") == 0)
            rc = merge_key(b, n, val);
        else if (item->plain && strcmp(item->str, "include") == 0)
            rc = include_key(b, n, val);   /* a quoted "include" is an ordinary key */
        else
            rc = add_explicit(b, n, item, val);
        if (rc)
            return rc;
    }
    if (is_map)
        map_compact(n);
    for (size_t i = 0; is_map && i < n->n; i++)
        n->ents[i].weak = 0;
    return 0;
}

/* Build the node that starts with *ev (consumed). */
static int build_node(bld *b, yaml_event_t *ev, int depth, scn_node **out)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    int rc = 0;
    scn_node *n = NULL;
    if (depth > SCN_MAX_DEPTH) {
        yaml_event_delete(ev);
        return set_err(b->err, SIM_ESCENARIO, b->file, line, col,
                       "nesting deeper than %d levels", SCN_MAX_DEPTH);
    }
    const yaml_char_t *tag = ev->type == YAML_SCALAR_EVENT           ? ev->data.scalar.tag
                             : ev->type == YAML_MAPPING_START_EVENT  ? ev->data.mapping_start.tag
                             : ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.tag
                                                                     : NULL;
    if (tag) {
        /* memfab gives every key its own type (the schema), so a tag could
         * only be ignored or contradict it: refuse it rather than read
         * '!!str 5' and '5' alike (issue 19). */
        rc = set_err(b->err, SIM_ESCENARIO, b->file, line, col,
                     "YAML tags are not supported (found '%.40s'); remove the tag, and quote "
                     "the value if it must stay a string",
                     (const char *)tag);
        yaml_event_delete(ev);
        return rc;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = scalar_new(b->d, (const char *)ev->data.scalar.value, ev->data.scalar.length,
                       ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, b->file, line, col);
        if (!n || !n->str)
            rc = alloc_err(b->d, b->err, b->file, line, col);
        else if (ev->data.scalar.anchor)
            rc = anchor_add(b, ev->data.scalar.anchor, n, 0, NULL);
        yaml_event_delete(ev);
        break;
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        size_t i = b->nanch;
        while (i > 0 && strcmp(b->anchors[i - 1].name, name) != 0)
            i--;
        if (i == 0)
            rc = set_err(b->err, SIM_ESCENARIO, b->file, line, col, "undefined alias '*%s'", name);
        else if (b->anchors[i - 1].open)
            rc = set_err(b->err, SIM_ESCENARIO, b->file, line, col,
                         "alias '*%s' is inside the node it refers to", name);
        else
            rc = node_copy(b->d, b->anchors[i - 1].node, depth, &n, b->err);
        yaml_event_delete(ev);
        break;
    }
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        scn_kind k = ev->type == YAML_MAPPING_START_EVENT ? SCN_MAP : SCN_SEQ;
        const yaml_char_t *aname = k == SCN_MAP ? ev->data.mapping_start.anchor
                                                : ev->data.sequence_start.anchor;
        size_t ai = (size_t)-1;
        n = node_new(b->d, k, b->file, line, col);
        if (!n)
            rc = alloc_err(b->d, b->err, b->file, line, col);
        else if (aname)
            rc = anchor_add(b, aname, n, 1, &ai);
        yaml_event_delete(ev);
        if (!rc)
            rc = build_collection(b, n, depth);
        if (!rc && ai != (size_t)-1)
            b->anchors[ai].open = 0;
        break;
    }
    default:
        rc = set_err(b->err, SIM_ESCENARIO, b->file, line, col, "unexpected YAML event");
        yaml_event_delete(ev);
        break;
    }
    if (!rc)
        *out = n;
    return rc;
}

/* Expect an event of type t. */
static int expect(bld *b, yaml_event_type_t t, const char *what)
{
    yaml_event_t ev;
    int rc = next_event(b, &ev);
    if (rc)
        return rc;
    if (ev.type != t)
        rc = set_err(b->err, SIM_ESCENARIO, b->file, (int)ev.start_mark.line + 1,
                     (int)ev.start_mark.column + 1, "%s", what);
    yaml_event_delete(&ev);
    return rc;
}

/* Parse one YAML stream into *root (NULL for an empty stream). */
static int load_text(scn_doc *d, const char *file, const char *text, size_t len,
                     const incl *stack, scn_node **root, sim_err *err)
{
    bld b;
    memset(&b, 0, sizeof b);
    b.d = d;
    b.file = file;
    b.text = text;
    b.len = len;
    b.stack = stack;
    b.err = err;
    if (!yaml_parser_initialize(&b.yp))
        return set_err(err, SIM_ENOMEM, file, 0, 0, "out of memory");
    yaml_parser_set_input_string(&b.yp, (const unsigned char *)text, len);
    *root = NULL;
    yaml_event_t ev;
    int rc = expect(&b, YAML_STREAM_START_EVENT, "expected the start of a YAML stream");
    if (!rc)
        rc = next_event(&b, &ev);
    if (!rc) {
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
        } else {
            yaml_event_delete(&ev); /* DOCUMENT_START */
            if (!(rc = next_event(&b, &ev)) && !(rc = build_node(&b, &ev, 0, root)) &&
                !(rc = expect(&b, YAML_DOCUMENT_END_EVENT, "expected the end of the document")))
                rc = expect(&b, YAML_STREAM_END_EVENT,
                            "more than one YAML document in a scenario file");
        }
    }
    yaml_parser_delete(&b.yp);
    for (size_t i = 0; i < b.nanch; i++)
        sim_free(b.anchors[i].name);
    sim_free(b.anchors);
    return rc;
}

static scn_doc *load_doc(const char *name, const char *canon, const char *text, size_t len,
                         sim_err *err)
{
    scn_doc *d = doc_new(name);
    const char *file = d ? intern(d, name) : NULL;
    if (!file) {
        set_err(err, SIM_ENOMEM, name, 0, 0, "out of memory");
        scn_free(d);
        return NULL;
    }
    incl top = {canon, file, NULL, 0};
    if (load_text(d, file, text, len, &top, &d->root, err)) {
        scn_free(d);
        return NULL;
    }
    if (!d->root && !(d->root = node_new(d, SCN_MAP, file, 1, 1))) {
        alloc_err(d, err, file, 1, 1);
        scn_free(d);
        return NULL;
    }
    return d;
}

scn_doc *scn_load(const char *path, sim_err *err)
{
    if (!path) {
        set_err(err, SIM_EINVAL, NULL, 0, 0, "no scenario file given");
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    char why[128];
    int rf = scn_read_file(path, &text, &len, why, sizeof why);
    if (rf == -2) {
        set_err(err, SIM_ESCENARIO, path, 0, 0, "cannot read scenario: %s", why);
        return NULL;
    }
    if (rf) {
        set_err(err, SIM_EIO, path, 0, 0, "cannot read scenario: %s", strerror(errno));
        return NULL;
    }
    char *canon = realpath(path, NULL);
    scn_doc *d = load_doc(path, canon, text, len, err);
    free(canon);
    sim_free(text);
    return d;
}

scn_doc *scn_load_string(const char *name, const char *text, sim_err *err)
{
    if (!text) {
        set_err(err, SIM_EINVAL, NULL, 0, 0, "no scenario text given");
        return NULL;
    }
    return load_doc(name ? name : "<string>", NULL, text, strlen(text), err);
}

/* ---- inspection --------------------------------------------------------------- */

const scn_node *scn_root(const scn_doc *d) { return d ? d->root : NULL; }
const char *scn_path(const scn_doc *d) { return d ? d->path : NULL; }
scn_kind scn_node_kind(const scn_node *n) { return n ? n->kind : SCN_SCALAR; }
const char *scn_node_file(const scn_node *n) { return n ? n->file : NULL; }
int scn_node_line(const scn_node *n) { return n ? n->line : 0; }
int scn_node_col(const scn_node *n) { return n ? n->col : 0; }

const char *scn_scalar(const scn_node *n)
{
    return n && n->kind == SCN_SCALAR ? n->str : NULL;
}

size_t scn_len(const scn_node *n)
{
    return n && n->kind != SCN_SCALAR ? n->n : 0;
}

const scn_node *scn_seq_at(const scn_node *n, size_t i)
{
    return n && n->kind == SCN_SEQ && i < n->n ? n->items[i] : NULL;
}

const char *scn_map_key(const scn_node *n, size_t i)
{
    return n && n->kind == SCN_MAP && i < n->n ? n->ents[i].key->str : NULL;
}

const scn_node *scn_map_key_node(const scn_node *n, size_t i)
{
    return n && n->kind == SCN_MAP && i < n->n ? n->ents[i].key : NULL;
}

const scn_node *scn_map_value(const scn_node *n, size_t i)
{
    return n && n->kind == SCN_MAP && i < n->n ? n->ents[i].val : NULL;
}

const scn_node *scn_map_get(const scn_node *n, const char *key)
{
    if (!n || n->kind != SCN_MAP || !key)
        return NULL;
    size_t i = map_find(n, key);
    return i == (size_t)-1 ? NULL : n->ents[i].val;
}

/* ---- keys and suggestions -------------------------------------------------- */

size_t scn_edit_distance(const char *a, const char *b)
{
    /* Optimal string alignment: insertions, deletions, substitutions and
     * transpositions of neighbours all cost 1. Three rolling rows. */
    size_t la = strlen(a), lb = strlen(b);
    size_t *buf = sim_alloc(3 * (lb + 1) * sizeof *buf);
    if (!buf)
        return (size_t)-1;
    size_t *pp = buf, *p = buf + lb + 1, *c = buf + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = p[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (p[j - 1] + cost < v)
                v = p[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    size_t d = p[lb];
    sim_free(buf);
    return d;
}

/* word is an abbreviation of cand: same first letter, and its letters appear
 * in cand in order (hbm_bw for hbm_bandwidth). */
static int abbreviates(const char *word, const char *cand)
{
    if (strlen(word) < 3 || word[0] != cand[0])
        return 0;
    for (; *word; word++) {
        cand = strchr(cand, *word);
        if (!cand)
            return 0;
        cand++;
    }
    return 1;
}

const char *scn_suggest(const char *word, const char *const *candidates)
{
    if (!word || !candidates)
        return NULL;
    size_t limit = strlen(word) / 3 > 2 ? strlen(word) / 3 : 2;
    const char *best = NULL, *best_abbr = NULL;
    size_t bd = (size_t)-1, ad = (size_t)-1;
    for (size_t i = 0; candidates[i]; i++) {
        size_t dist = scn_edit_distance(word, candidates[i]);
        if (dist <= limit && dist < bd) {
            bd = dist;
            best = candidates[i];
        }
        if (abbreviates(word, candidates[i]) && dist < ad) {
            ad = dist;
            best_abbr = candidates[i];
        }
    }
    return best ? best : best_abbr;
}

int scn_check_keys(const scn_node *n, const char *const *allowed, const char *context,
                   sim_err *err)
{
    if (!context)
        context = "this mapping";
    if (!n || n->kind != SCN_MAP)
        return scn_error(err, n, "%s must be a mapping, not %s", context, kind_name(n));
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->ents[i].key->str;
        int ok = 0;
        for (size_t j = 0; allowed && allowed[j] && !ok; j++)
            ok = strcmp(allowed[j], k) == 0;
        if (ok)
            continue;
        const char *s = scn_suggest(k, allowed);
        char kx[4 * SIM_EXCERPT_MAX + 8]; /* the key may be any text */
        sim_excerpt(k, kx, sizeof kx);
        if (s)
            return scn_error(err, n->ents[i].key, "unknown key '%s' in %s; did you mean '%s'?",
                             kx, context, s);
        return scn_error(err, n->ents[i].key, "unknown key '%s' in %s", kx, context);
    }
    return 0;
}

/* ---- numbers and units ------------------------------------------------------- */

/* A decimal number: value = mant * 10^exp10, keeping 20 significant digits
 * (enough for any uint64; later ones are dropped). [start, end) is its text. */
typedef struct num {
    int neg;
    u128 mant;   /* < 10^20 */
    long exp10;
    size_t start, end;
} num;

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* Parse the number at s[i]; 0 when there is none. */
static int parse_num(const char *s, size_t i, num *out)
{
    num x = {0, 0, 0, i, i};
    int digits = 0, sig = 0;
    if (s[i] == '+' || s[i] == '-')
        x.neg = s[i++] == '-';
    while (isdigit((unsigned char)s[i])) {
        int d = s[i++] - '0';
        digits++;
        if (sig < 20) {
            x.mant = x.mant * 10 + (unsigned)d;
            sig += x.mant != 0;
        } else {
            x.exp10++;
        }
    }
    if (s[i] == '.') {
        i++;
        while (isdigit((unsigned char)s[i])) {
            int d = s[i++] - '0';
            digits++;
            if (sig < 20) {
                x.mant = x.mant * 10 + (unsigned)d;
                sig += x.mant != 0;
                x.exp10--;
            }
        }
    }
    if (!digits)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1;
        int eneg = 0;
        if (s[j] == '+' || s[j] == '-')
            eneg = s[j++] == '-';
        if (isdigit((unsigned char)s[j])) {
            long e = 0;
            while (isdigit((unsigned char)s[j])) {
                if (e < 100000)
                    e = e * 10 + (s[j] - '0');
                j++;
            }
            x.exp10 += eneg ? -e : e;
            i = j;
        }
    }
    x.end = i;
    *out = x;
    return 1;
}

typedef struct unit {
    const char *name;
    uint64_t imult;   /* integer multiplier (time, size) */
    double fmult;     /* multiplier for doubles (rates) */
} unit;

typedef struct family {
    const char *what;     /* "a time" */
    const char *list;     /* units shown in errors */
    int integer;          /* result is a uint64 */
    const unit *units;    /* NULL-terminated */
    uint64_t imax;        /* integer families: the largest value */
    double dmin;          /* rate families: the smallest value above 0 */
    const char *max_text, *min_text;   /* those bounds, for errors */
} family;

/* Range of unit values, checked where they are read so that the models'
 * arithmetic stays within the 64-bit picosecond clock: a time is at most
 * 2^62 ps (53 days), so a time plus a delay cannot wrap; a size is at most
 * 2^60 B (1 EiB); a rate above 0 is at least one unit per second (1 bit/s for
 * data), so one byte or item takes at most 8 s. */
#define SCN_TIME_MAX (1ULL << 62)
#define SCN_SIZE_MAX (1ULL << 60)

#define K 1000ULL
static const unit time_units[] = {
    {"ps", 1, 1}, {"ns", K, 1e3}, {"us", K * K, 1e6}, {"\xc2\xb5s", K * K, 1e6},
    {"ms", K * K * K, 1e9}, {"s", K * K * K * K, 1e12},
    {"min", 60 * K * K * K * K, 6e13}, {"h", 3600 * K * K * K * K, 3.6e15}, {NULL, 0, 0}};
static const unit size_units[] = {
    {"B", 1, 1}, {"kB", K, 1e3}, {"KB", K, 1e3}, {"MB", K * K, 1e6}, {"GB", K * K * K, 1e9},
    {"TB", K * K * K * K, 1e12}, {"PB", K * K * K * K * K, 1e15},
    {"EB", K * K * K * K * K * K, 1e18},
    {"KiB", 1ULL << 10, 0}, {"MiB", 1ULL << 20, 0}, {"GiB", 1ULL << 30, 0},
    {"TiB", 1ULL << 40, 0}, {"PiB", 1ULL << 50, 0}, {"EiB", 1ULL << 60, 0}, {NULL, 0, 0}};
static const unit rate_units[] = {
    {"B/s", 0, 1}, {"kB/s", 0, 1e3}, {"KB/s", 0, 1e3}, {"MB/s", 0, 1e6}, {"GB/s", 0, 1e9},
    {"TB/s", 0, 1e12}, {"PB/s", 0, 1e15},
    {"KiB/s", 0, 1024.0}, {"MiB/s", 0, 1048576.0}, {"GiB/s", 0, 1073741824.0},
    {"TiB/s", 0, 1099511627776.0}, {"PiB/s", 0, 1125899906842624.0},
    {"bit/s", 0, 1 / 8.0}, {"kbit/s", 0, 1e3 / 8}, {"Mbit/s", 0, 1e6 / 8},
    {"Gbit/s", 0, 1e9 / 8}, {"Tbit/s", 0, 1e12 / 8}, {"Pbit/s", 0, 1e15 / 8},
    {"b/s", 0, 1 / 8.0}, {"kb/s", 0, 1e3 / 8}, {"Mb/s", 0, 1e6 / 8}, {"Gb/s", 0, 1e9 / 8},
    {"Tb/s", 0, 1e12 / 8}, {"Pb/s", 0, 1e15 / 8}, {NULL, 0, 0}};
static const unit gts_units[] = {
    {"T/s", 0, 1}, {"kT/s", 0, 1e3}, {"MT/s", 0, 1e6}, {"GT/s", 0, 1e9}, {NULL, 0, 0}};
static const unit flops_units[] = {
    {"FLOP/s", 0, 1}, {"kFLOP/s", 0, 1e3}, {"MFLOP/s", 0, 1e6}, {"GFLOP/s", 0, 1e9},
    {"TFLOP/s", 0, 1e12}, {"PFLOP/s", 0, 1e15}, {"EFLOP/s", 0, 1e18},
    {"FLOPS", 0, 1}, {"kFLOPS", 0, 1e3}, {"MFLOPS", 0, 1e6}, {"GFLOPS", 0, 1e9},
    {"TFLOPS", 0, 1e12}, {"PFLOPS", 0, 1e15}, {"EFLOPS", 0, 1e18}, {NULL, 0, 0}};
/* energy per bit, in pJ/bit */
static const unit epb_units[] = {
    {"fJ/bit", 0, 1e-3}, {"pJ/bit", 0, 1}, {"nJ/bit", 0, 1e3}, {"fJ/b", 0, 1e-3},
    {"pJ/b", 0, 1}, {"nJ/b", 0, 1e3}, {"pJ/B", 0, 1 / 8.0}, {"nJ/B", 0, 1e3 / 8}, {NULL, 0, 0}};
/* power, in watts */
static const unit power_units[] = {
    {"mW", 0, 1e-3}, {"W", 0, 1}, {"kW", 0, 1e3}, {NULL, 0, 0}};
#undef K

static const family fam_time = {"time", "ps ns us ms s", 1, time_units, SCN_TIME_MAX, 0,
                                "4611686018427387904 ps, about 53 days", NULL};
static const family fam_size = {"size", "B kB MB GB TB KiB MiB GiB TiB", 1, size_units,
                                SCN_SIZE_MAX, 0, "1 EiB", NULL};
static const family fam_rate = {"data rate",
                                "B/s kB/s MB/s GB/s TB/s KiB/s MiB/s GiB/s bit/s Mbit/s Gbit/s "
                                "Gb/s",
                                0, rate_units, 0, 1 / 8.0, NULL, "1 bit/s"};
static const family fam_gts = {"transfer rate", "GT/s MT/s", 0, gts_units, 0, 1, NULL, "1 T/s"};
static const family fam_flops = {"FLOP rate", "FLOP/s GFLOP/s TFLOP/s PFLOP/s", 0,
                                 flops_units, 0, 1, NULL, "1 FLOP/s"};
static const family fam_epb = {"energy per bit", "fJ/bit pJ/bit nJ/bit pJ/B", 0, epb_units, 0,
                               0, NULL, NULL};
static const family fam_power = {"power", "mW W kW", 0, power_units, 0, 0, NULL, NULL};

/* mant * mult * 10^exp10, rounded to nearest; -1 on overflow. */
static int to_u64(u128 mant, uint64_t mult, long exp10, uint64_t *out)
{
    u128 v = mant * mult; /* < 10^20 * 2^60 < 2^127 */
    if (v == 0) {
        *out = 0;
        return 0;
    }
    if (exp10 >= 0) {
        for (long i = 0; i < exp10 && v <= UINT64_MAX; i++)
            v *= 10;
        if (v > UINT64_MAX)
            return -1;
    } else if (exp10 < -38) {
        v = 0;
    } else {
        u128 p = 1;
        for (long i = 0; i < -exp10; i++)
            p *= 10;
        u128 q = v / p, r = v % p;
        if (2 * r >= p)
            q++;
        if (q > UINT64_MAX)
            return -1;
        v = q;
    }
    *out = (uint64_t)v;
    return 0;
}

static int parse_units(const char *s, const family *f, uint64_t *iout, double *dout,
                       sim_err *err)
{
    if (!s)
        return set_err(err, SIM_EINVAL, NULL, 0, 0, "no %s given", f->what);
    num x;
    size_t i = 0;
    while (is_space(s[i]))
        i++;
    if (!parse_num(s, i, &x))
        return set_err(err, SIM_EINVAL, NULL, 0, 0, "'%s' is not a %s (units: %s)", s, f->what,
                       f->list);
    i = x.end;
    while (is_space(s[i]))
        i++;
    size_t ue = strlen(s);
    while (ue > i && is_space(s[ue - 1]))
        ue--;
    if (ue == i)
        return set_err(err, SIM_EINVAL, NULL, 0, 0, "'%s' needs a unit (%s)", s, f->list);
    const unit *u = NULL;
    for (const unit *t = f->units; t->name && !u; t++)
        if (strlen(t->name) == ue - i && memcmp(t->name, s + i, ue - i) == 0)
            u = t;
    if (!u)
        return set_err(err, SIM_EINVAL, NULL, 0, 0, "'%s' is not a %s (units: %s)", s, f->what,
                       f->list);
    if (x.neg && x.mant != 0)
        return set_err(err, SIM_EINVAL, NULL, 0, 0, "'%s': a %s cannot be negative", s,
                       f->what);
    if (f->integer) {
        uint64_t v;
        if (to_u64(x.mant, u->imult, x.exp10, &v) || v > f->imax)
            return set_err(err, SIM_EINVAL, NULL, 0, 0, "'%s' is out of range for a %s"
                           " (at most %s)", s, f->what, f->max_text);
        *iout = v;
        return 0;
    }
    char buf[128];
    size_t nl = x.end - x.start;
    char *copy = nl < sizeof buf ? buf : sim_alloc(nl + 1);
    if (!copy)
        return set_err(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
    memcpy(copy, s + x.start, nl);
    copy[nl] = '\0';
    double v = strtod(copy, NULL) * u->fmult;
    if (copy != buf)
        sim_free(copy);
    if (!isfinite(v))
        return set_err(err, SIM_EINVAL, NULL, 0, 0, "'%s' is out of range for a %s", s, f->what);
    if (v != 0 && v < f->dmin)   /* one byte would take longer than the clock runs */
        return set_err(err, SIM_EINVAL, NULL, 0, 0, "'%s' is out of range for a %s (0 or at"
                       " least %s)", s, f->what, f->min_text);
    *dout = v == 0 ? 0.0 : v; /* no -0 */
    return 0;
}

int scn_parse_time(const char *s, sim_time *out, sim_err *err)
{
    uint64_t v;
    int rc = parse_units(s, &fam_time, &v, NULL, err);
    if (!rc)
        *out = v;
    return rc;
}

int scn_parse_size(const char *s, uint64_t *out, sim_err *err)
{
    return parse_units(s, &fam_size, out, NULL, err);
}

int scn_parse_rate(const char *s, double *out, sim_err *err)
{
    return parse_units(s, &fam_rate, NULL, out, err);
}

int scn_parse_gts(const char *s, double *out, sim_err *err)
{
    return parse_units(s, &fam_gts, NULL, out, err);
}

int scn_parse_flops(const char *s, double *out, sim_err *err)
{
    return parse_units(s, &fam_flops, NULL, out, err);
}

/* "auto" (the model's own default: SCN_AUTO), or a value with units. */
static int parse_auto(const char *s, const family *f, double *out, sim_err *err)
{
    size_t i = 0, e = s ? strlen(s) : 0;
    while (s && is_space(s[i]))
        i++;
    while (e > i && is_space(s[e - 1]))
        e--;
    if (s && e - i == 4 && memcmp(s + i, "auto", 4) == 0) {
        *out = SCN_AUTO;
        return 0;
    }
    return parse_units(s, f, NULL, out, err);
}

int scn_parse_energy_bit(const char *s, double *out, sim_err *err)
{
    return parse_auto(s, &fam_epb, out, err);
}

int scn_parse_power(const char *s, double *out, sim_err *err)
{
    return parse_auto(s, &fam_power, out, err);
}

/* ---- typed getters ---------------------------------------------------------- */

/* The value of key as a scalar: 1 found (in *txt, *v), 0 absent, <0 error. */
static int get_scalar(const scn_node *n, const char *key, const char *what,
                      const scn_node **v, const char **txt, sim_err *err)
{
    *v = scn_map_get(n, key);
    if (!*v)
        return 0;
    if ((*v)->kind != SCN_SCALAR)
        return scn_error(err, *v, "key '%s': expected %s, not %s", key, what, kind_name(*v));
    *txt = (*v)->str;
    return 1;
}

/* The getter error: "key 'k': <what the parser said>" at v. */
static int key_err(sim_err *err, const scn_node *v, const char *key, const sim_err *why)
{
    return scn_error(err, v, "key '%s': %s", key, why->msg);
}

#define UNIT_GETTER(fn, type, parse, what)                                                   \
    int fn(const scn_node *n, const char *key, type def, type *out, sim_err *err)            \
    {                                                                                        \
        const scn_node *v;                                                                   \
        const char *txt;                                                                     \
        int rc = get_scalar(n, key, what, &v, &txt, err);                                    \
        if (rc <= 0) {                                                                       \
            if (rc == 0)                                                                     \
                *out = def;                                                                  \
            return rc;                                                                       \
        }                                                                                    \
        sim_err why;                                                                         \
        sim_err_clear(&why);                                                                 \
        type val;                                                                            \
        if (parse(txt, &val, &why))                                                          \
            return key_err(err, v, key, &why);                                               \
        *out = val;                                                                          \
        return 0;                                                                            \
    }

UNIT_GETTER(scn_get_time, sim_time, scn_parse_time, "a time")
UNIT_GETTER(scn_get_size, uint64_t, scn_parse_size, "a size")
UNIT_GETTER(scn_get_rate, double, scn_parse_rate, "a data rate")
UNIT_GETTER(scn_get_flops, double, scn_parse_flops, "a FLOP rate")
UNIT_GETTER(scn_get_energy_bit, double, scn_parse_energy_bit, "an energy per bit")
UNIT_GETTER(scn_get_power, double, scn_parse_power, "a power")

/* Decimal (or 0x hexadecimal) integer, whole string, blanks around allowed. */
static int parse_int(const char *s, int *neg, uint64_t *mag)
{
    size_t i = 0;
    while (is_space(s[i]))
        i++;
    *neg = 0;
    if (s[i] == '+' || s[i] == '-')
        *neg = s[i++] == '-';
    unsigned base = 10;
    if (s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X') && isxdigit((unsigned char)s[i + 2])) {
        base = 16;
        i += 2;
    }
    if (!isxdigit((unsigned char)s[i]))
        return -1;
    uint64_t v = 0;
    for (; s[i]; i++) {
        unsigned d;
        if (isdigit((unsigned char)s[i]))
            d = (unsigned)(s[i] - '0');
        else if (base == 16 && isxdigit((unsigned char)s[i]))
            d = (unsigned)(tolower((unsigned char)s[i]) - 'a' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            return -2;
        v = v * base + d;
    }
    while (is_space(s[i]))
        i++;
    if (s[i])
        return -1;
    *mag = v;
    return 0;
}

/* The value of key as an integer's sign and magnitude (parse_int): 1
 * found (in *neg, *mag; the text in *txt, its node in *v), 0 absent, <0
 * error (not an integer, or beyond 64 bits). */
static int get_integer(const scn_node *n, const char *key, const scn_node **v, const char **txt,
                       int *neg, uint64_t *mag, sim_err *err)
{
    int rc = get_scalar(n, key, "an integer", v, txt, err);
    if (rc <= 0)
        return rc;
    int p = parse_int(*txt, neg, mag);
    if (p == -1)
        return scn_error(err, *v, "key '%s': '%s' is not an integer", key, *txt);
    if (p == -2)
        return scn_error(err, *v, "key '%s': '%s' is out of range", key, *txt);
    return 1;
}

int scn_get_int(const scn_node *n, const char *key, int64_t def, int64_t *out, sim_err *err)
{
    const scn_node *v = NULL;
    const char *txt = NULL;
    int neg;
    uint64_t mag;
    int rc = get_integer(n, key, &v, &txt, &neg, &mag, err);
    if (rc <= 0) {
        if (rc == 0)
            *out = def;
        return rc;
    }
    if (mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return scn_error(err, v, "key '%s': '%s' is out of range", key, txt);
    *out = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    return 0;
}

int scn_get_uint(const scn_node *n, const char *key, uint64_t def, uint64_t *out, sim_err *err)
{
    const scn_node *v = NULL;
    const char *txt = NULL;
    int neg;
    uint64_t mag;
    int rc = get_integer(n, key, &v, &txt, &neg, &mag, err);
    if (rc <= 0) {
        if (rc == 0)
            *out = def;
        return rc;
    }
    if (neg && mag)
        return scn_error(err, v, "key '%s': '%s' must not be negative", key, txt);
    *out = mag;
    return 0;
}

int scn_get_double(const scn_node *n, const char *key, double def, double *out, sim_err *err)
{
    const scn_node *v = NULL;
    const char *txt = NULL;
    int rc = get_scalar(n, key, "a number", &v, &txt, err);
    if (rc <= 0) {
        if (rc == 0)
            *out = def;
        return rc;
    }
    num x;
    size_t i = 0;
    while (is_space(txt[i]))
        i++;
    int ok = parse_num(txt, i, &x);
    if (ok) {
        i = x.end;
        while (is_space(txt[i]))
            i++;
        ok = txt[i] == '\0';
    }
    if (!ok)
        return scn_error(err, v, "key '%s': '%s' is not a number", key, txt);
    double d = strtod(txt, NULL); /* the whole text is a plain decimal number */
    if (!isfinite(d))
        return scn_error(err, v, "key '%s': '%s' is out of range", key, txt);
    *out = d;
    return 0;
}

int scn_get_bool(const scn_node *n, const char *key, int def, int *out, sim_err *err)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    const scn_node *v = NULL;
    const char *txt = NULL;
    int rc = get_scalar(n, key, "a boolean", &v, &txt, err);
    if (rc <= 0) {
        if (rc == 0)
            *out = def;
        return rc;
    }
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(txt, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(txt, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return scn_error(err, v, "key '%s': '%s' is not a boolean (true or false)", key, txt);
}

int scn_get_string(const scn_node *n, const char *key, const char *def, const char **out,
                   sim_err *err)
{
    const scn_node *v = NULL;
    const char *txt = NULL;
    int rc = get_scalar(n, key, "a string", &v, &txt, err);
    if (rc <= 0) {
        if (rc == 0)
            *out = def;
        return rc;
    }
    *out = txt;
    return 0;
}

int scn_get_enum(const scn_node *n, const char *key, const char *const *choices, int def,
                 int *out, sim_err *err)
{
    const scn_node *v = NULL;
    const char *txt = NULL;
    int rc = get_scalar(n, key, "a string", &v, &txt, err);
    if (rc <= 0) {
        if (rc == 0)
            *out = def;
        return rc;
    }
    char list[512];
    size_t off = 0;
    list[0] = '\0';
    for (int i = 0; choices && choices[i]; i++) {
        if (strcmp(choices[i], txt) == 0) {
            *out = i;
            return 0;
        }
        if (off < sizeof list)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                    choices[i]);
    }
    const char *s = scn_suggest(txt, choices);
    if (s)
        return scn_error(err, v, "key '%s': '%s' is not one of %s; did you mean '%s'?", key, txt,
                         list, s);
    return scn_error(err, v, "key '%s': '%s' is not one of %s", key, txt, list);
}

/* ---- overrides ------------------------------------------------------------------ */

static int is_null_scalar(const scn_node *n)
{
    return n->kind == SCN_SCALAR && n->plain &&
           (!n->str[0] || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0);
}

/* The node an override assigns: a flow collection when the value starts
 * with '[' or '{', otherwise a scalar (surrounding quotes removed). */
static int set_value(scn_doc *d, const char *file, const char *assignment, const char *value,
                     scn_node **out, sim_err *err)
{
    int col = (int)(value - assignment) + 1;
    size_t len = strlen(value);
    if (value[0] == '[' || value[0] == '{') {
        sim_err e2;
        sim_err_clear(&e2);
        incl top = {NULL, file, NULL, 0};
        scn_node *root = NULL;
        if (load_text(d, file, value, len, &top, &root, &e2))
            return set_err(err, SIM_EINVAL, file, 0, 0, "--set '%s': %s", assignment, e2.msg);
        *out = root;
        return 0;
    }
    int plain = 1;
    if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
        value++;
        len -= 2;
        plain = 0;
    }
    *out = scalar_new(d, value, len, plain, file, 1, col);
    if (!*out || !(*out)->str)
        return alloc_err(d, err, file, 0, 0);
    return 0;
}

static int is_index(const char *s, size_t *idx)
{
    if (!*s)
        return 0;
    size_t v = 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s) || v > ((size_t)-1 - 9) / 10)
            return 0;
        v = v * 10 + (size_t)(*s - '0');
    }
    *idx = v;
    return 1;
}

/* The name: of a sequence item, or NULL. */
static const char *item_name(const scn_node *item)
{
    return scn_scalar(scn_map_get(item, "name"));
}

int scn_set(scn_doc *d, const char *assignment, sim_err *err)
{
    if (!d || !assignment)
        return set_err(err, SIM_EINVAL, CMDLINE, 0, 0, "--set: no assignment");
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return set_err(err, SIM_EINVAL, CMDLINE, 0, 0,
                       "--set '%s': expected path.to.key=value", assignment);
    const char *file = intern(d, CMDLINE);
    size_t plen = (size_t)(eq - assignment);
    char *path = sim_alloc(plen + 1);
    if (!file || !path) {
        sim_free(path);
        return set_err(err, SIM_ENOMEM, CMDLINE, 0, 0, "out of memory");
    }
    memcpy(path, assignment, plen);
    path[plen] = '\0';
    int rc = 0;
    scn_node *val = NULL;
    /* Check the path's shape before building anything. */
    for (const char *p = path;; p++) {
        if (*p == '.' || *p == '\0') {
            if (p == path || p[-1] == '.' || (*p == '.' && p[1] == '\0')) {
                rc = set_err(err, SIM_EINVAL, CMDLINE, 0, 0,
                             "--set '%s': empty element in path '%s'", assignment, path);
                goto out;
            }
            if (!*p)
                break;
        }
    }
    if ((rc = set_value(d, file, assignment, eq + 1, &val, err)))
        goto out;
    if (!d->root && !(d->root = node_new(d, SCN_MAP, file, 1, 1))) {
        rc = alloc_err(d, err, CMDLINE, 0, 0);
        goto out;
    }
    scn_node *cur = d->root;
    char *elem = path;
    for (;;) {
        char *dot = strchr(elem, '.');
        int last = dot == NULL;
        if (dot)
            *dot = '\0';
        /* `path` now reads as the prefix up to and including elem. */
        if (is_null_scalar(cur)) {
            sim_free(cur->str);
            cur->str = NULL;
            cur->kind = SCN_MAP;
        }
        scn_node **slot = NULL;
        if (cur->kind == SCN_SCALAR) {
            rc = set_err(err, SIM_EINVAL, CMDLINE, 0, 0,
                         "--set '%s': cannot set '%s' inside the scalar '%s' (%s:%d:%d)",
                         assignment, elem, cur->str, cur->file, cur->line, cur->col);
            goto out;
        } else if (cur->kind == SCN_MAP) {
            size_t i = map_find(cur, elem);
            if (i == (size_t)-1) {
                /* Marks of what an override creates: line 1, the column of the
                 * key in the assignment, so a schema error points at it. */
                int col = (int)(elem - path) + 1;
                scn_node *k = scalar_new(d, elem, strlen(elem), 1, file, 1, col);
                scn_node *v = last ? val : node_new(d, SCN_MAP, file, 1, col);
                if (!k || !k->str || !v || map_push(cur, k, v, 0)) {
                    rc = alloc_err(d, err, CMDLINE, 0, 0);
                    goto out;
                }
                i = cur->n - 1;
                if (last)
                    break;
            }
            slot = &cur->ents[i].val;
        } else {
            size_t idx;
            if (is_index(elem, &idx)) {
                if (idx == cur->n && last) {
                    if (seq_push(cur, val))
                        rc = alloc_err(d, err, CMDLINE, 0, 0);
                    goto out;
                }
                if (idx >= cur->n) {
                    rc = set_err(err, SIM_EINVAL, CMDLINE, 0, 0,
                                 "--set '%s': index %zu is out of range (the sequence at "
                                 "%s:%d:%d has %zu items)",
                                 assignment, idx, cur->file, cur->line, cur->col, cur->n);
                    goto out;
                }
                slot = &cur->items[idx];
            } else {
                for (size_t j = 0; j < cur->n && !slot; j++) {
                    const char *nm = item_name(cur->items[j]);
                    if (nm && strcmp(nm, elem) == 0)
                        slot = &cur->items[j];
                }
                if (!slot) {
                    rc = set_err(err, SIM_EINVAL, CMDLINE, 0, 0,
                                 "--set '%s': no item with name '%s' in the sequence at "
                                 "%s:%d:%d",
                                 assignment, elem, cur->file, cur->line, cur->col);
                    goto out;
                }
            }
        }
        if (last) {
            if ((*slot)->kind != SCN_SCALAR && val->kind == SCN_SCALAR) {
                rc = set_err(err, SIM_EINVAL, CMDLINE, 0, 0,
                             "--set '%s': '%s' is %s (%s:%d:%d); set one of its entries",
                             assignment, path, kind_name(*slot), (*slot)->file, (*slot)->line,
                             (*slot)->col);
                goto out;
            }
            *slot = val;
            break;
        }
        cur = *slot;
        *dot = '.';
        elem = dot + 1;
    }
out:
    sim_free(path);
    return rc;
}

/* The i-th child of a map or sequence and its label in a flattened path:
 * the key, a sequence item's name (item_name), else its index written
 * into idx. */
static const char *child_at(const scn_node *n, size_t i, char idx[32], const scn_node **child)
{
    if (n->kind == SCN_MAP) {
        *child = n->ents[i].val;
        return n->ents[i].key->str;
    }
    *child = n->items[i];
    const char *label = item_name(*child);
    if (!label) {
        snprintf(idx, 32, "%zu", i);
        label = idx;
    }
    return label;
}

/* ---- flattening ---------------------------------------------------------------- */

typedef struct strbuf {
    char *s;
    size_t len, cap;
    int failed;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = sim_realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* Append the element `label` to the path in k, `at` bytes long. */
static void path_push(strbuf *k, size_t at, const char *label)
{
    if (at)
        sb_put(k, ".", 1);
    sb_put(k, label, strlen(label));
}

/* Cut the path in k back to `at` bytes. */
static void path_pop(strbuf *k, size_t at)
{
    k->len = at;
    if (k->s)
        k->s[at] = '\0';
}

static void flatten(const scn_node *n, strbuf *k, scn_leaf_fn fn, void *ctx)
{
    if (k->failed)
        return;
    size_t save = k->len;
    if (n->kind == SCN_SCALAR) {
        fn(ctx, k->s ? k->s : "", n->str);
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        char idx[32];
        const scn_node *child;
        const char *label = child_at(n, i, idx, &child);
        path_push(k, save, label);
        flatten(child, k, fn, ctx);
        path_pop(k, save);
    }
}

/* Depth-first search for `target`, building its flattened path in k. */
static int path_of(const scn_node *n, const scn_node *target, strbuf *k)
{
    if (n == target)
        return 1;
    if (n->kind == SCN_SCALAR || k->failed)
        return 0;
    size_t save = k->len;
    for (size_t i = 0; i < n->n; i++) {
        char idx[32];
        const scn_node *child;
        const char *label = child_at(n, i, idx, &child);
        path_push(k, save, label);
        if (path_of(child, target, k))
            return 1;
        path_pop(k, save);
    }
    return 0;
}

int scn_node_path(const scn_doc *d, const scn_node *n, char *buf, size_t len)
{
    if (!d || !d->root || !n || !len)
        return SIM_ENOTFOUND;
    strbuf k = {NULL, 0, 0, 0};
    sb_put(&k, "", 0);
    int found = path_of(d->root, n, &k);
    int rc = k.failed ? SIM_ENOMEM : !found ? SIM_ENOTFOUND
             : strlen(k.s) >= len ? SIM_EINVAL : 0;
    if (!rc)
        memcpy(buf, k.s, strlen(k.s) + 1);
    sim_free(k.s);
    return rc;
}

void scn_flatten(const scn_doc *d, scn_leaf_fn fn, void *ctx)
{
    if (!d || !d->root || !fn)
        return;
    strbuf k = {NULL, 0, 0, 0};
    sb_put(&k, "", 0);
    flatten(d->root, &k, fn, ctx);
    sim_free(k.s);
}

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------------------------- */

typedef struct sha256 {
    uint32_t h[8];        /* chaining state */
    uint64_t bytes;       /* message length so far */
    unsigned char blk[64];/* pending partial block */
    size_t fill;          /* bytes in blk */
} sha256;

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void sha_block(sha256 *c, const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
    uint32_t e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha_k[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
    c->h[5] += f;
    c->h[6] += g;
    c->h[7] += h;
}

static void sha_init(sha256 *c)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof h0);
    c->bytes = 0;
    c->fill = 0;
}

static void sha_update(sha256 *c, const void *data, size_t n)
{
    const unsigned char *p = data;
    c->bytes += n;
    while (n) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->blk + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill == 64) {
            sha_block(c, c->blk);
            c->fill = 0;
        }
    }
}

static void sha_final(sha256 *c, char out[65])
{
    uint64_t bits = c->bytes * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    sha_update(c, &pad, 1);
    while (c->fill != 56)
        sha_update(c, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha_update(c, len, 8);
    for (int i = 0; i < 8; i++)
        snprintf(out + 8 * i, 9, "%08x", (unsigned)c->h[i]);
    out[64] = '\0';
}

void scn_sha256_bytes(const void *data, size_t len, char out[65])
{
    sha256 c;
    sha_init(&c);
    sha_update(&c, data, len);
    sha_final(&c, out);
}

/* Canonical form: scalar S<len>:<bytes>, mapping M<n>{key value ...},
 * sequence L<n>[item ...]; document order; marks are not included. */
static void sha_node(sha256 *c, const scn_node *n)
{
    char hdr[48];
    int l;
    if (n->kind == SCN_SCALAR) {
        size_t sl = strlen(n->str);
        l = snprintf(hdr, sizeof hdr, "S%zu:", sl);
        sha_update(c, hdr, (size_t)l);
        sha_update(c, n->str, sl);
        return;
    }
    int map = n->kind == SCN_MAP;
    l = snprintf(hdr, sizeof hdr, "%c%zu%c", map ? 'M' : 'L', n->n, map ? '{' : '[');
    sha_update(c, hdr, (size_t)l);
    for (size_t i = 0; i < n->n; i++) {
        if (map) {
            sha_node(c, n->ents[i].key);
            sha_node(c, n->ents[i].val);
        } else {
            sha_node(c, n->items[i]);
        }
    }
    sha_update(c, map ? "}" : "]", 1);
}

void scn_sha256(const scn_doc *d, char out[65])
{
    sha256 c;
    sha_init(&c);
    sha_update(&c, "memfab-scenario-v1\n", 19);
    if (d && d->root)
        sha_node(&c, d->root);
    sha_final(&c, out);
}
