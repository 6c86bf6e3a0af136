/*
 * trace_fetch.c - `memfab trace fetch` (see trace_fetch.h).
 */
#include "tools/trace_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/workload/trace.h"
#include "models/workload/trace_catalog.h"
#include "sim/err.h"
#include "sim/scn.h"
#include "tools/digest.h"

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: memfab trace fetch NAME... [--mirror BASE] [--force] [--accept-unpinned]\n"
            "       memfab trace fetch --list\n"
            "\n"
            "Download a public LLM trace into the trace cache, which scenarios search\n"
            "after MEMFAB_TRACE_PATH, and check it against its pinned hash.\n"
            "\n"
            "  --list             the traces memfab knows, their license and whether cached\n"
            "  --mirror BASE      download BASE/<dir>/<file> instead of the published URL\n"
            "                     (https://... or file:///...; also MEMFAB_TRACE_MIRROR)\n"
            "  --force            download again even when a verified copy is cached\n"
            "  --accept-unpinned  allow a trace that no published hash pins (Azure 2024);\n"
            "                     its SHA-256 is printed so you can record it\n"
            "  -h, --help         this help\n"
            "\n"
            "cache: $XDG_CACHE_HOME/memfab/traces, or ~/.cache/memfab/traces\n"
            "exit status: 0 ok, 1 download failed or hash mismatch, 2 usage error\n");
}

/* mkdir -p for the directories of path (not its last component). */
static int make_parents(const char *path, sim_err *err)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "path too long: %s", path);
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return sim_err_set(err, SIM_EIO, NULL, 0, 0, "cannot create directory %s: %s", buf,
                               strerror(errno));
        *p = '/';
    }
    return 0;
}

typedef struct file_digest {
    uint64_t bytes;
    char sha256[65];
    char git_blob[41];
} file_digest;

/* Hash a file: its SHA-256 and its git blob id in one pass. */
static int digest_file(const char *path, file_digest *d, sim_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: not a regular file", path);
    }
    sha256_ctx s;
    sha1_ctx g;
    sha256_init(&s);
    sha1_init(&g);
    char head[64];
    int hl = snprintf(head, sizeof head, "blob %llu", (unsigned long long)st.st_size);
    sha1_update(&g, head, (size_t)hl + 1);   /* with its NUL */
    unsigned char buf[1 << 16];
    size_t n;
    uint64_t total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        sha256_update(&s, buf, n);
        sha1_update(&g, buf, n);
        total += n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || total != (uint64_t)st.st_size)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: read error", path);
    unsigned char out[32];
    sha256_final(&s, out);
    digest_hex(out, 32, d->sha256);
    sha1_final(&g, out);
    digest_hex(out, 20, d->git_blob);
    d->bytes = total;
    return 0;
}

/* 1 when the digest is what the catalog pins (size and the strongest hash
 * it has), 0 when not, writing why into why. Unpinned entries match. */
static int digest_matches(const trace_catalog_entry *e, const file_digest *d, char *why,
                          size_t whylen)
{
    if (e->bytes && d->bytes != e->bytes) {
        snprintf(why, whylen, "%llu bytes, expected %llu", (unsigned long long)d->bytes,
                 (unsigned long long)e->bytes);
        return 0;
    }
    if (e->sha256 && strcmp(d->sha256, e->sha256) != 0) {
        snprintf(why, whylen, "sha256 %s, expected %s", d->sha256, e->sha256);
        return 0;
    }
    if (!e->sha256 && e->git_blob && strcmp(d->git_blob, e->git_blob) != 0) {
        snprintf(why, whylen, "git blob id %s, expected %s", d->git_blob, e->git_blob);
        return 0;
    }
    return 1;
}

/* Copy a local file (a file:// mirror) with every write checked. */
static int copy_local(const char *src, int outfd, sim_err *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", src, strerror(errno));
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: not a regular file", src);
    }
    char buf[1 << 16];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", src, strerror(errno));
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(outfd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "write: %s", strerror(errno));
                break;
            }
            off += w;
        }
        if (rc)
            break;
    }
    close(in);
    return rc;
}

/* Run a downloader without a shell. 0 ok, 1 ran and failed, -1 not installed. */
static int run_downloader(const char *const argv[], sim_err *err)
{
    pid_t pid;
    /* posix_spawnp takes char *const[] for historical reasons and does not
     * write through it */
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)(uintptr_t)argv, environ);
    if (rc == ENOENT)
        return -1;
    if (rc != 0) {
        sim_err_set(err, SIM_EIO, NULL, 0, 0, "cannot run %s: %s", argv[0], strerror(rc));
        return 1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            sim_err_set(err, SIM_EIO, NULL, 0, 0, "waiting for %s: %s", argv[0], strerror(errno));
            return 1;
        }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return -1;   /* posix_spawnp of a missing program with an old libc */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s failed (%s %d)", argv[0],
                    WIFEXITED(st) ? "exit status" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        return 1;
    }
    return 0;
}

static int download(const char *url, const char *tmp, int tmpfd, sim_err *err)
{
    if (strncmp(url, "file://", 7) == 0)
        return copy_local(url + 7, tmpfd, err);
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "unsupported URL '%s' (https://, http:// or file://)", url);
    int tty = isatty(STDERR_FILENO);
    const char *curl[] = {"curl", "--fail", "--location", "--retry", "2",
                    tty ? "--progress-bar" : "--silent", "--show-error", "--output",
                    tmp, url, NULL};
    int r = run_downloader(curl, err);
    if (r >= 0)
        return r ? SIM_EIO : 0;
    const char *wget[] = {"wget", tty ? "--progress=bar" : "--quiet", "--output-document",
                    tmp, url, NULL};
    r = run_downloader(wget, err);
    if (r >= 0)
        return r ? SIM_EIO : 0;
    return sim_err_set(err, SIM_EIO, NULL, 0, 0,
                       "downloading %s needs curl or wget (apt-get install curl)", url);
}

static void print_entry_terms(const trace_catalog_entry *e)
{
    printf("  license: %s\n  cite:    %s\n", e->license, e->cite);
}

/* Fetch one entry into the cache. Exit status. */
static int fetch_one(const trace_catalog_entry *e, const char *cache, const char *mirror,
                     int force, int accept_unpinned)
{
    sim_err err;
    sim_err_clear(&err);
    int pinned = e->sha256 || e->git_blob;
    if (!pinned && !accept_unpinned) {
        fprintf(stderr,
                "memfab trace fetch: %s is published outside a versioned repository and no "
                "hash pins its content; rerun with --accept-unpinned to download it anyway "
                "(its sha256 will be printed)\n",
                e->name);
        return SIM_EXIT_USAGE;
    }
    char dest[4096], tmp[4200], url[4096];
    if (snprintf(dest, sizeof dest, "%s/%s/%s", cache, e->dir, e->file) >= (int)sizeof dest) {
        fprintf(stderr, "memfab trace fetch: cache path too long\n");
        return SIM_EXIT_USAGE;
    }
    file_digest d;
    char why[200];
    if (!force && access(dest, F_OK) == 0) {
        if (digest_file(dest, &d, &err) == 0 && digest_matches(e, &d, why, sizeof why) && pinned) {
            printf("%s: already cached and verified: %s\n", e->name, dest);
            print_entry_terms(e);
            return SIM_EXIT_OK;
        }
        if (pinned)
            fprintf(stderr, "%s: the cached copy does not verify (%s); downloading again\n",
                    e->name, err.msg[0] ? err.msg : why);
        sim_err_clear(&err);
    }
    if (mirror) {
        size_t ml = strlen(mirror);
        while (ml > 0 && mirror[ml - 1] == '/')
            ml--;
        snprintf(url, sizeof url, "%.*s/%s/%s", (int)ml, mirror, e->dir, e->file);
    } else {
        snprintf(url, sizeof url, "%s", e->url);
    }
    if (make_parents(dest, &err) < 0) {
        sim_err_print(&err);
        return SIM_EXIT_RUNTIME;
    }
    snprintf(tmp, sizeof tmp, "%s/%s/.%s.part-XXXXXX", cache, e->dir, e->file);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "memfab trace fetch: cannot create a file in %s/%s: %s\n", cache,
                e->dir, strerror(errno));
        return SIM_EXIT_RUNTIME;
    }
    /* mkstemp makes the file private; a cached trace is ordinary data */
    mode_t um = umask(0);
    umask(um);
    if (fchmod(fd, 0666 & ~um) != 0)
        fprintf(stderr, "%s: warning: cannot set the mode of %s: %s\n", e->name, tmp,
                strerror(errno));
    fprintf(stderr, "%s: downloading %s\n", e->name, url);
    int rc = download(url, tmp, fd, &err);
    if (rc == 0 && fsync(fd) != 0)
        rc = sim_err_set(&err, SIM_EIO, NULL, 0, 0, "%s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = sim_err_set(&err, SIM_EIO, NULL, 0, 0, "%s: %s", tmp, strerror(errno));
    if (rc == 0)
        rc = digest_file(tmp, &d, &err);
    if (rc == 0 && !digest_matches(e, &d, why, sizeof why))
        rc = sim_err_set(&err, SIM_EIO, NULL, 0, 0,
                         "%s: the download does not match its pinned hash (%s); nothing was "
                         "installed",
                         e->name, why);
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = sim_err_set(&err, SIM_EIO, NULL, 0, 0, "cannot rename %s to %s: %s", tmp, dest,
                         strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        sim_err_print(&err);
        return rc == SIM_EINVAL ? SIM_EXIT_USAGE : SIM_EXIT_RUNTIME;
    }
    printf("%s: %s (%llu bytes, sha256 %s%s)\n", e->name, dest, (unsigned long long)d.bytes,
           d.sha256,
           e->sha256 ? ", verified" : e->git_blob ? ", git blob id verified" : ", UNPINNED");
    print_entry_terms(e);
    return SIM_EXIT_OK;
}

static void list(const char *cache)
{
    size_t n;
    const trace_catalog_entry *c = trace_catalog(&n);
    printf("%-22s %-9s %-8s %s\n", "name", "format", "cached", "what");
    for (size_t i = 0; i < n; i++) {
        char dest[4200];
        int fits = snprintf(dest, sizeof dest, "%s/%s/%s", cache, c[i].dir, c[i].file) <
                   (int)sizeof dest;
        printf("%-22s %-9s %-8s %s\n", c[i].name, c[i].format,
               fits && access(dest, R_OK) == 0 ? "yes" : "no", c[i].about);
        printf("%-22s %s\n", "", c[i].license);
    }
    printf("\ncache: %s\n", cache);
}

int cmd_trace_fetch(int argc, char **argv)
{
    const char *mirror = getenv("MEMFAB_TRACE_MIRROR");
    int force = 0, accept_unpinned = 0, want_list = 0;
    const char *names[64];
    int nnames = 0;
    if (mirror && !*mirror)
        mirror = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return SIM_EXIT_OK;
        } else if (strcmp(a, "--list") == 0) {
            want_list = 1;
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
        } else if (strcmp(a, "--accept-unpinned") == 0) {
            accept_unpinned = 1;
        } else if (strcmp(a, "--mirror") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "memfab trace fetch: --mirror needs a value\n");
                return SIM_EXIT_USAGE;
            }
            mirror = argv[++i];
        } else if (strncmp(a, "--mirror=", 9) == 0) {
            mirror = a + 9;
        } else if (a[0] == '-') {
            fprintf(stderr, "memfab trace fetch: unknown option '%s'\n", a);
            usage(stderr);
            return SIM_EXIT_USAGE;
        } else if (nnames < (int)(sizeof names / sizeof names[0])) {
            names[nnames++] = a;
        } else {
            fprintf(stderr, "memfab trace fetch: too many names\n");
            return SIM_EXIT_USAGE;
        }
    }
    char cache[4096];
    if (trace_cache_dir(cache, sizeof cache) < 0) {
        fprintf(stderr, "memfab trace fetch: no cache directory: set HOME or XDG_CACHE_HOME "
                        "(an absolute path)\n");
        return SIM_EXIT_USAGE;
    }
    if (want_list) {
        list(cache);
        return fflush(stdout) == 0 ? SIM_EXIT_OK : SIM_EXIT_RUNTIME;
    }
    if (nnames == 0) {
        usage(stderr);
        return SIM_EXIT_USAGE;
    }
    /* every name is checked before anything is downloaded */
    size_t n;
    const trace_catalog_entry *c = trace_catalog(&n);
    const char *known[32];
    for (size_t i = 0; i < n && i < 31; i++)
        known[i] = c[i].name;
    known[n < 31 ? n : 31] = NULL;
    for (int i = 0; i < nnames; i++)
        if (!trace_catalog_find(names[i])) {
            const char *s = scn_suggest(names[i], known);
            fprintf(stderr, "memfab trace fetch: unknown trace '%s'%s%s%s (memfab trace fetch "
                            "--list names them)\n",
                    names[i], s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
            return SIM_EXIT_USAGE;
        }
    int status = SIM_EXIT_OK;
    for (int i = 0; i < nnames; i++) {
        int rc = fetch_one(trace_catalog_find(names[i]), cache, mirror, force, accept_unpinned);
        if (rc > status)
            status = rc;
    }
    if (fflush(stdout) != 0)
        status = SIM_EXIT_RUNTIME;
    return status;
}
