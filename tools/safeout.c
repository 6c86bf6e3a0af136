/*
 * safeout.c - output files that never destroy an input (safeout.h).
 */
#include "tools/safeout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/mem.h"

static int is_stdout_path(const char *p) { return strcmp(p, "-") == 0; }

int safe_out_check(const char *path, const char *const *inputs, size_t ninputs,
                   safe_out_kind_fn same_kind, const char *kind_name, sim_err *err)
{
    if (is_stdout_path(path))
        return 0;
    if (!*path)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "the output file name is empty");
    struct stat so;
    if (stat(path, &so) != 0) {
        if (errno == ENOENT)
            return 0;   /* a new file; opening it reports any other trouble */
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", path, strerror(errno));
    }
    for (size_t i = 0; i < ninputs; i++) {
        struct stat si;
        if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino)
            return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                               "%s: the output is the input file %s; refusing to overwrite"
                               " it (give another output file)", path, inputs[i]);
    }
    if (S_ISDIR(so.st_mode))
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0, "%s: is a directory, not a file",
                           path);
    if (!S_ISREG(so.st_mode) || so.st_size == 0)
        return 0;   /* devices and FIFOs are written in place; empty files hold nothing */
    unsigned char head[4096];
    FILE *f = fopen(path, "rb");
    if (!f)
        return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot read the existing file: %s",
                           path, strerror(errno));
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 16 && memcmp(head, "SQLite format 3", 16) == 0)
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "%s: is a results database, not %s; refusing to overwrite it"
                           " (remove it first or give another output file)", path, kind_name);
    if (same_kind && !same_kind(head, n))
        return sim_err_set(err, SIM_EINVAL, NULL, 0, 0,
                           "%s: exists and is not %s; refusing to overwrite it (remove it"
                           " first or give another output file)", path, kind_name);
    return 0;
}

char *safe_out_tmpname(const char *path, sim_err *err)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        dot = base + strlen(base);
    size_t dlen = (size_t)(base - path), blen = (size_t)(dot - base), elen = strlen(dot);
    /* DIR/.BASE.XXXXXX.EXT */
    char *t = sim_alloc(dlen + blen + elen + 16);
    if (!t) {
        sim_err_set(err, SIM_ENOMEM, NULL, 0, 0, "out of memory");
        return NULL;
    }
    memcpy(t, path, dlen);
    t[dlen] = '.';
    memcpy(t + dlen + 1, base, blen);
    strcpy(t + dlen + 1 + blen, ".XXXXXX");
    strcat(t, dot);
    int fd = mkstemps(t, (int)elen);
    if (fd < 0) {
        sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot create a temporary file beside it:"
                    " %s", path, strerror(errno));
        sim_free(t);
        return NULL;
    }
    /* mkstemps creates 0600; a finished output gets the usual mode */
    mode_t um = umask(0);
    umask(um);
    if (fchmod(fd, 0666 & ~um) != 0 || close(fd) != 0) {
        sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", t, strerror(errno));
        unlink(t);
        sim_free(t);
        return NULL;
    }
    return t;
}

int safe_out_open(safe_out *o, const char *path, sim_err *err)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    if (is_stdout_path(path)) {
        o->is_stdout = 1;
        o->f = stdout;
        return 0;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {   /* a device or FIFO */
        o->f = fopen(path, "w");
        if (!o->f)
            return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot open: %s", path,
                               strerror(errno));
        return 0;
    }
    /* through a symbolic link, the file it names is replaced, not the link */
    struct stat ls;
    if (lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode)) {
        o->real = realpath(path, NULL);
        if (!o->real)
            return sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: %s", path, strerror(errno));
    }
    o->tmp = safe_out_tmpname(o->real ? o->real : path, err);
    if (!o->tmp)
        return err->code;
    o->f = fopen(o->tmp, "w");
    if (!o->f) {
        int rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot create: %s", o->tmp,
                             strerror(errno));
        unlink(o->tmp);
        sim_free(o->tmp);
        o->tmp = NULL;
        return rc;
    }
    return 0;
}

int safe_out_commit(safe_out *o, sim_err *err)
{
    errno = 0;
    int bad = fflush(o->f) != 0 || ferror(o->f) != 0;
    int e = bad ? (errno ? errno : EIO) : 0;
    if (!bad && o->tmp && fsync(fileno(o->f)) != 0)
        bad = 1, e = errno;
    if (!o->is_stdout) {
        if (fclose(o->f) != 0 && !bad)
            bad = 1, e = errno;
    }
    o->f = NULL;
    if (bad) {
        int rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: write failed: %s", o->path,
                             strerror(e));
        safe_out_abort(o);
        return rc;
    }
    if (o->tmp && rename(o->tmp, o->real ? o->real : o->path) != 0) {
        int rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot rename %s to it: %s",
                             o->path, o->tmp, strerror(errno));
        safe_out_abort(o);
        return rc;
    }
    sim_free(o->tmp);
    o->tmp = NULL;
    free(o->real);
    o->real = NULL;
    return 0;
}

void safe_out_abort(safe_out *o)
{
    if (o->f && !o->is_stdout)
        fclose(o->f);
    else if (o->f)
        fflush(o->f);
    o->f = NULL;
    if (o->tmp) {
        unlink(o->tmp);
        sim_free(o->tmp);
        o->tmp = NULL;
    }
    free(o->real);
    o->real = NULL;
}

int safe_out_install(const char *tmp, const char *path, sim_err *err)
{
    struct stat st, ls;
    int rc = 0;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) {
        char *real = lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode) ? realpath(path, NULL) : NULL;
        int moved = rename(tmp, real ? real : path);
        free(real);
        if (moved != 0) {
            rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot rename %s to it: %s", path,
                             tmp, strerror(errno));
            unlink(tmp);
        }
        return rc;
    }
    FILE *in = fopen(tmp, "rb"), *out = in ? fopen(path, "w") : NULL;
    if (!in || !out) {
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: cannot open: %s", in ? path : tmp,
                         strerror(errno));
    } else {
        char buf[65536];
        size_t n;
        while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
            if (fwrite(buf, 1, n, out) != n)
                rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: write failed: %s", path,
                                 strerror(errno));
        if (!rc && ferror(in))
            rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: read failed", tmp);
    }
    if (out && fclose(out) != 0 && !rc)
        rc = sim_err_set(err, SIM_EIO, NULL, 0, 0, "%s: write failed: %s", path,
                         strerror(errno));
    if (in)
        fclose(in);
    unlink(tmp);
    return rc;
}
