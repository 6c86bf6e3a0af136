/*
 * bench_sweep.c - `memfab bench sweep` (see bench_sweep.h).
 *
 * Three measurements, in a fresh directory under TMPDIR (removed after):
 *
 * 1. Scaling. A CPU-bound sweep of identical points (a deterministic
 *    source of 64 B packets on one link: every seed runs the same 6 M
 *    events, 0.15-0.4 s of CPU each), 4 points per worker, run with -j 1 and
 *    -j N (N = the CPUs online), alternately, twice each. Printed: wall,
 *    the workers' CPU, CPU per point, the scheduler's CPU and the
 *    concurrency reached (CPU / wall). The speedup (best -j 1 wall over
 *    best -j N wall) and parallel efficiency (speedup / N) are what a user
 *    sees, but on a shared machine they measure the other users too; the
 *    CPU per point at -j N against -j 1 does not: if it does not grow with
 *    N, nothing in the sweep serializes or duplicates work per worker
 *    (what is left is the cores other processes take). Both merged
 *    databases must be equal (digest below).
 *
 * 2. Merge share. A 1,000-point sweep of a tiny scenario (1 ms of a
 *    Poisson source on one link: about 6.5 ms of CPU a point, nearly all of
 *    it creating the point's database), -j N, with the merge's wall and
 *    CPU as a share of the sweep's wall and CPU (workers + scheduler +
 *    merge), how many points were merged from their record files (res.h)
 *    rather than their databases, and how many beside the running points
 *    (sweep.c, side_merge) with that thread's CPU. The merge's wall is what
 *    it adds after the points; its CPU is all of it, beside them included.
 *    CPU shares stay meaningful under load; wall shares do not.
 *
 * 3. MPI. When this memfab was built with MPI and mpirun is on PATH, the
 *    scaling sweep again under `mpirun -np N` (one worker per rank), its
 *    wall against -j 1, and its database against the -j runs'.
 *
 * The digest of a database is SHA-256 over every row of every table, in
 * rowid order, except the wall-clock columns runs.started_at and
 * runs.wall_s: two runs of one sweep must give the same digest however
 * they were scheduled.
 */
#include "tools/bench_sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tools/commands.h"
#include "tools/digest.h"
#include "tools/sweep.h"

#pragma weak swp_mpi_init

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0) {
        if (f)
            fclose(f);
        fprintf(stderr, "memfab bench sweep: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* SHA-256 of every row of every table (rowid order), without the
 * wall-clock columns; hex (first 16 digits) into out. */
static int db_digest(const char *path, char out[17])
{
    sqlite3 *h = NULL;
    sqlite3_stmt *tabs = NULL;
    int rc = -1;
    sha256_ctx c;
    sha256_init(&c);
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                           -1, &tabs, NULL) != SQLITE_OK)
        goto out;
    while (sqlite3_step(tabs) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(tabs, 0);
        char *q = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY rowid", t);
        sqlite3_stmt *st = NULL;
        int ok = q && sqlite3_prepare_v2(h, q, -1, &st, NULL) == SQLITE_OK;
        sqlite3_free(q);
        if (!ok)
            goto out;
        sha256_update(&c, t, strlen(t) + 1);
        int is_runs = strcmp(t, "runs") == 0;
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const char *col = sqlite3_column_name(st, i);
                if (is_runs && (strcmp(col, "started_at") == 0 || strcmp(col, "wall_s") == 0))
                    continue;
                unsigned char type = (unsigned char)sqlite3_column_type(st, i);
                const unsigned char *v = sqlite3_column_text(st, i);
                int n = sqlite3_column_bytes(st, i);
                sha256_update(&c, &type, 1);
                sha256_update(&c, &n, sizeof n);
                if (v)
                    sha256_update(&c, v, (size_t)n);
            }
        sqlite3_finalize(st);
    }
    rc = 0;
out:
    sqlite3_finalize(tabs);
    sqlite3_close(h);
    unsigned char d[32];
    sha256_final(&c, d);
    digest_hex(d, 8, out);
    out[16] = '\0';
    return rc;
}

typedef struct result {
    double wall;       /* the whole sweep command */
    swp_timing t;
    char digest[17];
} result;

/* memfab sweep FILE -j JOBS -o OUT -q, in this process; 0 or -1. */
static int run_sweep(const char *dir, const char *file, int jobs, const char *out, result *r)
{
    char path[4096], opath[4096], j[16], a0[] = "sweep", a2[] = "-j", a4[] = "-o", a6[] = "-q";
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path ||
        snprintf(opath, sizeof opath, "%s/%s", dir, out) >= (int)sizeof opath)
        return -1;
    snprintf(j, sizeof j, "%d", jobs);
    char *argv[] = {a0, path, a2, j, a4, opath, a6, NULL};
    fflush(stdout);
    double t0 = now_s();
    int rc = cmd_sweep(7, argv);
    r->wall = now_s() - t0;
    swp_last_timing(&r->t);
    if (rc != 0) {
        fprintf(stderr, "memfab bench sweep: the sweep %s -j %d failed (exit %d)\n", path, jobs,
                rc);
        return -1;
    }
    return db_digest(opath, r->digest);
}

static void print_run(const char *label, const result *r)
{
    const swp_timing *t = &r->t;
    double cpu = t->workers_cpu + t->run_cpu;
    printf("  %-6s wall %7.3f s  workers %7.3f s CPU (%6.2f ms/point)  scheduler %.3f s"
           "  concurrency %.2f  merge %.3f s  db %s\n",
           label, r->wall, t->workers_cpu,
           t->points_run ? 1e3 * t->workers_cpu / (double)t->points_run : 0.0, t->run_cpu,
           t->run_wall > 0 ? cpu / t->run_wall : 0.0, t->merge_wall, r->digest);
}

static double min2(double a, double b) { return a < b ? a : b; }

/* Under mpirun: wall and the CPU of the whole launch (mpirun, its daemons
 * and ranks, all waited for). 0, 1 when mpirun failed, -1 when absent. */
static int run_mpi(const char *dir, int ranks, const char *file, const char *out, double *wall,
                   double *cpu)
{
    char self[4096], path[4096], opath[4096], log[4096], np[16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path ||
        snprintf(opath, sizeof opath, "%s/%s", dir, out) >= (int)sizeof opath ||
        snprintf(log, sizeof log, "%s/mpirun.log", dir) >= (int)sizeof log)
        return -1;
    snprintf(np, sizeof np, "%d", ranks);
    fflush(stdout);
    fflush(stderr);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        const char *argv[16];
        int a = 0;
        argv[a++] = "mpirun";
        argv[a++] = "-np";
        argv[a++] = np;
        argv[a++] = "--oversubscribe";
        if (geteuid() == 0)
            argv[a++] = "--allow-run-as-root";
        argv[a++] = self;
        argv[a++] = "sweep";
        argv[a++] = path;
        argv[a++] = "-j";
        argv[a++] = "1";
        argv[a++] = "-o";
        argv[a++] = opath;
        argv[a++] = "-q";
        argv[a] = NULL;
        execvp("mpirun", (char *const *)argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid)
        return -1;
    *wall = now_s() - t0;
    *cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "memfab bench sweep: mpirun failed; its output is in %s\n", log);
        return 1;
    }
    return 0;
}

static int remove_tree(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
        _exit(127);
    }
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0
                                                                                           : -1;
}

static const char cpu_scenario[] =
    "# identical cost for every seed: deterministic arrivals, fixed sizes\n"
    "name: bench-sweep-cpu\n"
    "seed: 1\n"
    "stop: %s\n"
    "components:\n"
    "  - {name: src, type: source, arrivals: deterministic, interarrival: 20 ns, size: 64 B}\n"
    "  - {name: dst, type: sink}\n"
    "links:\n"
    "  - {name: l0, type: link, ends: [src, dst], bandwidth: 25 GB/s, latency: 500 ns}\n";

static const char tiny_scenario[] =
    "name: bench-sweep-tiny\n"
    "seed: 1\n"
    "stop: 1 ms\n"
    "components:\n"
    "  - {name: src, type: source, arrivals: poisson, interarrival: 10 us, size: 4 KiB}\n"
    "  - {name: dst, type: sink}\n"
    "links:\n"
    "  - {name: l0, type: link, ends: [src, dst], bandwidth: 25 GB/s, latency: 500 ns}\n";

int bench_sweep(int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int jobs = ncpu > 0 ? (int)ncpu : 1, tiny = -1, mpi = 1, keep = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
            jobs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--points") == 0 && i + 1 < argc)
            tiny = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-mpi") == 0)
            mpi = 0;
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else {
            printf("usage: memfab bench sweep [--jobs N] [--points N] [--no-mpi] [--keep]"
                   " [--quick]\n\n"
                   "Scaling of memfab sweep: a CPU-bound sweep of identical points at -j 1 and\n"
                   "-j N (default: the CPUs online), speedup, efficiency and CPU per point; a\n"
                   "sweep of --points (1000) tiny points and its merge's share of wall and CPU;\n"
                   "and, with MPI built in and mpirun on PATH, the first sweep on N ranks.\n"
                   "--keep leaves the work directory (under TMPDIR) in place; --quick runs the\n"
                   "same steps on small inputs (2 short points per worker, 20 tiny points).\n");
            return strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    /* --quick (the tests): the same steps on small inputs, in a second */
    int per_worker = quick ? 2 : 4;
    if (tiny < 0)
        tiny = quick ? 20 : 1000;
    char cpu_text[sizeof cpu_scenario + 16];
    snprintf(cpu_text, sizeof cpu_text, cpu_scenario, quick ? "1 ms" : "40 ms");
    if (jobs < 1 || tiny < 1) {
        fprintf(stderr, "memfab bench sweep: --jobs and --points want positive numbers\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/memfab-bench-sweep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "memfab bench sweep: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char sweep_cpu[256], sweep_tiny[256];
    snprintf(sweep_cpu, sizeof sweep_cpu,
             "scenario: cpu.yaml\nname: bench-sweep-cpu\nreplications: %d\n", per_worker * jobs);
    snprintf(sweep_tiny, sizeof sweep_tiny,
             "scenario: tiny.yaml\nname: bench-sweep-tiny\nreplications: %d\n", tiny);
    int status = 0;
    if (write_file(dir, "cpu.yaml", cpu_text) || write_file(dir, "tiny.yaml", tiny_scenario) ||
        write_file(dir, "cpu-sweep.yaml", sweep_cpu) ||
        write_file(dir, "tiny-sweep.yaml", sweep_tiny)) {
        status = 1;
        goto out;
    }
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("sweep-scaling: %d identical CPU-bound points, -j 1 against -j %d (%ld CPUs online),"
           " load average %.2f before\n",
           per_worker * jobs, jobs, ncpu, load[0]);

    result r1[2], rn[2];
    memset(r1, 0, sizeof r1);
    memset(rn, 0, sizeof rn);
    for (int k = 0; k < 2; k++) {
        char o1[64], on[64];
        snprintf(o1, sizeof o1, "j1-%d.db", k);
        snprintf(on, sizeof on, "jn-%d.db", k);
        if (run_sweep(dir, "cpu-sweep.yaml", 1, o1, &r1[k]) ||
            run_sweep(dir, "cpu-sweep.yaml", jobs, on, &rn[k])) {
            status = 1;
            goto out;
        }
        print_run("-j 1", &r1[k]);
        char lab[16];
        snprintf(lab, sizeof lab, "-j %d", jobs);
        print_run(lab, &rn[k]);
    }
    double w1 = min2(r1[0].wall, r1[1].wall), wn = min2(rn[0].wall, rn[1].wall);
    double c1 = min2(r1[0].t.workers_cpu, r1[1].t.workers_cpu);
    double cn = min2(rn[0].t.workers_cpu, rn[1].t.workers_cpu);
    int same = strcmp(r1[0].digest, rn[0].digest) == 0 && strcmp(r1[0].digest, r1[1].digest) == 0 &&
               strcmp(r1[0].digest, rn[1].digest) == 0;
    printf("  speedup %.2fx, parallel efficiency %.0f%% (best walls); worker CPU per point at"
           " -j %d / -j 1: %.3f (1.000: no work added per worker); databases %s\n",
           wn > 0 ? w1 / wn : 0.0, wn > 0 ? 100.0 * w1 / wn / jobs : 0.0, jobs,
           c1 > 0 ? cn / c1 : 0.0, same ? "equal" : "DIFFER");
    if (!same)
        status = 1;

    result t;
    memset(&t, 0, sizeof t);
    printf("sweep-merge: %d points of a tiny scenario, -j %d\n", tiny, jobs);
    if (run_sweep(dir, "tiny-sweep.yaml", jobs, "tiny.db", &t)) {
        status = 1;
        goto out;
    }
    {
        double wall = t.t.run_wall + t.t.merge_wall;
        double cpu = t.t.workers_cpu + t.t.run_cpu + t.t.merge_cpu;
        printf("  points %.3f s wall, %.3f s CPU (workers %.2f ms/point, scheduler %.3f s);"
               " merge %.3f s wall, %.3f s CPU (%.2f ms/point)\n",
               t.t.run_wall, t.t.workers_cpu + t.t.run_cpu,
               1e3 * t.t.workers_cpu / (double)tiny, t.t.run_cpu, t.t.merge_wall, t.t.merge_cpu,
               1e3 * t.t.merge_cpu / (double)tiny);
        printf("  merge share: %.1f%% of the wall, %.1f%% of the CPU (%zu of %d points from"
               " record files, %zu beside the running points: %.3f s CPU)\n",
               wall > 0 ? 100.0 * t.t.merge_wall / wall : 0.0,
               cpu > 0 ? 100.0 * t.t.merge_cpu / cpu : 0.0, t.t.merged_records, tiny,
               t.t.merged_beside, t.t.merge_beside_cpu);
    }

    if (mpi && swp_mpi_init) {
        double mw = 0, mc = 0;
        printf("sweep-mpi: the scaling sweep under mpirun -np %d (-j 1 per rank)\n", jobs);
        int m = run_mpi(dir, jobs, "cpu-sweep.yaml", "mpi.db", &mw, &mc);
        if (m < 0) {
            printf("  skipped: mpirun not found\n");
        } else if (m > 0) {
            status = 1;
        } else {
            char dg[17], mdb[4096];
            int ok = snprintf(mdb, sizeof mdb, "%s/mpi.db", dir) < (int)sizeof mdb &&
                     db_digest(mdb, dg) == 0;
            int eq = ok && strcmp(dg, r1[0].digest) == 0;
            printf("  wall %.3f s (mpirun's start and end included), CPU %.3f s (mpirun and"
                   " ranks); speedup over -j 1 %.2fx; database %s %s\n",
                   mw, mc, mw > 0 ? w1 / mw : 0.0, dg, eq ? "equal to -j's" : "DIFFERS");
            if (!eq)
                status = 1;
        }
    } else if (mpi) {
        printf("sweep-mpi: skipped: this memfab was built without MPI (no mpicc)\n");
    }
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("load average %.2f after\n", load[0]);
out:
    if (keep)
        printf("work directory: %s\n", dir);
    else
        remove_tree(dir);
    return status;
}
