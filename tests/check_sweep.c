/*
 * check_sweep.c - memfab sweep: grid and seeds, merged params and the
 * confidence-interval summary, resume, failed points, -j versus MPI
 * (when mpirun is installed), and sweep-file errors. Runs a tiny real
 * scenario through MEMFAB_BIN.
 */
#include "tests/tools_fixture.h"

static const char base_yaml[] =
    "name: tiny\n"
    "seed: 1\n"
    "stop: 5 ms\n"
    "components:\n"
    "  - {name: src, type: source, arrivals: poisson, interarrival: 20 us, size: 4 KiB,\n"
    "     link: l0}\n"
    "  - {name: dst, type: sink}\n"
    "links:\n"
    "  - {name: l0, type: link, ends: [src, dst], bandwidth: 10 GB/s, latency: 1 us}\n";

static const char sweep_yaml[] =
    "scenario: base.yaml\n"
    "name: bw\n"
    "grid:\n"
    "  links.l0.bandwidth: [1 GB/s, 4 GB/s]\n"
    "seeds: [1, 2]\n"
    "output: bw.db\n";

static void setup(void)
{
    fx_setup();
    fx_write("base.yaml", base_yaml);
    fx_write("sweep.yaml", sweep_yaml);
}

/* Metrics and params of every run, in run order: what must not depend on how the sweep ran. */
static const char dump_sql[] =
    "SELECT r.run_id, r.name, r.status, r.seed,"
    " (SELECT group_concat(key || '=' || value, ';') FROM (SELECT * FROM params p"
    "   WHERE p.run_id = r.run_id ORDER BY key)),"
    " (SELECT group_concat(scope || '/' || name || '=' || quote(value), ';') FROM (SELECT * FROM"
    "   metrics m WHERE m.run_id = r.run_id ORDER BY rowid))"
    " FROM runs r ORDER BY r.run_id; SELECT * FROM sweep_summary;";

/* ---- Core ---------------------------------------------------------------- */

START_TEST(grid_seeds_merge_summary)
{
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "4/4 points (100%), 0 failed, 0 running"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"SELECT COUNT(*) FROM runs WHERE status='complete'\""),
                     0);
    ck_assert_str_eq(fx_out, "4\n");
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"SELECT value FROM params WHERE"
                           " key='sweep.links.l0.bandwidth' ORDER BY run_id\""), 0);
    ck_assert_str_eq(fx_out, "1 GB/s\n1 GB/s\n4 GB/s\n4 GB/s\n");
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"SELECT DISTINCT value FROM params WHERE"
                           " key='sweep.seed' ORDER BY value\""), 0);
    ck_assert_str_eq(fx_out, "1\n2\n");
    /* two points x one metric at least, each over 2 seeds with a CI */
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"SELECT point, n, ci95 IS NOT NULL FROM sweep_summary"
                           " WHERE metric = 'dst/latency_mean'\""), 0);
    ck_assert_str_eq(fx_out, "links.l0.bandwidth=1 GB/s|2|1\nlinks.l0.bandwidth=4 GB/s|2|1\n");
    /* one column per swept key, holding the point's value */
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"SELECT \\\"links.l0.bandwidth\\\", n FROM sweep_summary"
                           " WHERE metric = 'dst/latency_mean'\""), 0);
    ck_assert_str_eq(fx_out, "1 GB/s|2\n4 GB/s|2\n");
    /* the merged database plots by the swept key */
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        ck_assert_msg(fx_sh("%s plot bw.db --kind param --metric dst/latency_mean -o bw.pdf",
                            fx_bin) == 0, "%s", fx_out);
        ck_assert(fx_exists("bw.pdf"));
    }
}
END_TEST

START_TEST(resume_skips_complete_points)
{
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2", fx_bin) == 0, "%s", fx_out);
    static char first[sizeof fx_out];
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"%s\"", dump_sql), 0);
    snprintf(first, sizeof first, "%s", fx_out);
    /* one point lost (as if interrupted): only it runs again */
    ck_assert_int_eq(fx_sh("ls bw.db.d/*.db | head -n 1 | xargs rm"), 0);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "(complete before this run: 3)"), "%s", fx_out);
    /* the output is rebuilt, not appended to: same rows */
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"%s\"", dump_sql), 0);
    ck_assert_str_eq(fx_out, first);
    /* extending the grid keeps the old points */
    fx_write("sweep.yaml", "scenario: base.yaml\nname: bw\ngrid:\n"
                           "  links.l0.bandwidth: [1 GB/s, 4 GB/s, 8 GB/s]\nseeds: [1, 2]\noutput: bw.db\n");
    ck_assert_msg(fx_sh("%s sweep sweep.yaml", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "(complete before this run: 4)"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s sweep sweep.yaml --list | grep -c complete", fx_bin), 0);
    ck_assert_str_eq(fx_out, "6\n");
}
END_TEST

START_TEST(mpi_matches_jobs)
{
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        fprintf(stderr, "check_sweep: mpirun not installed; MPI sweep not tested\n");
        return;
    }
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 3 -o j.db", fx_bin) == 0, "%s", fx_out);
    int rc = fx_sh("ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_rmaps_base_oversubscribe=1 mpirun"
                   " --oversubscribe --allow-run-as-root -n 2 %s sweep sweep.yaml -o m.db",
                   fx_bin);
    if (strstr(fx_out, "built without MPI")) {
        fprintf(stderr, "check_sweep: memfab built without MPI (no mpicc); skipped\n");
        return;
    }
    ck_assert_msg(rc == 0, "mpirun: %s", fx_out);
    ck_assert_msg(strstr(fx_out, "2 MPI ranks"), "%s", fx_out);
    static char j[sizeof fx_out];
    ck_assert_int_eq(fx_sh("sqlite3 j.db \"%s\"", dump_sql), 0);
    snprintf(j, sizeof j, "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 m.db \"%s\"", dump_sql), 0);
    ck_assert_str_eq(fx_out, j);
}
END_TEST

/* -q prints nothing but errors; --timing says where the time went. A
 * complete point's database holds the sweep params in its run (written
 * with the run's own params, not by a second open) and is closed cleanly
 * (no journal or WAL left beside it). */
START_TEST(quiet_timing_and_point_params)
{
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2 -q --timing", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "sweep bw: timing: 4 points run in") &&
                  strstr(fx_out, "sweep bw: timing: merge ") && strstr(fx_out, "% of"),
                  "%s", fx_out);
    ck_assert_msg(!strstr(fx_out, "points (100%)") && !strstr(fx_out, "merged"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("for f in bw.db.d/*.db; do sqlite3 $f \"SELECT group_concat(key, ' ')"
                           " FROM (SELECT key FROM params WHERE key LIKE 'sweep.%%' ORDER BY"
                           " key)\"; done | sort | uniq -c | sed 's/^ *//'"), 0);
    ck_assert_str_eq(fx_out,
                     "4 sweep.links.l0.bandwidth sweep.name sweep.point sweep.seed\n");
    ck_assert_int_eq(fx_sh("ls bw.db.d | grep -c -e '-wal$' -e '-journal$' -e '-shm$'"), 1);
    ck_assert_str_eq(fx_out, "0\n");
    /* a rerun runs nothing and merges again */
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -q --timing", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "timing: 0 points run"), "%s", fx_out);
}
END_TEST

/* A complete point leaves a record file (<id>.rec, results/res.c "record
 * files") beside its database, and the merge reads it instead of the
 * database. Records that are missing, damaged, stale (the database written
 * after them) or left from an earlier run of a point that a resumed sweep
 * ran again are not used: those points merge from their databases, and the
 * merged file is the same, byte for byte. */
START_TEST(records_merge_and_fallback)
{
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2 -q --timing", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "; 4 points from record files"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("ls bw.db.d/*.rec | wc -l"), 0);
    ck_assert_str_eq(fx_out, "4\n");
    ck_assert_int_eq(fx_sh("cp bw.db ref.db && mkdir old && cp bw.db.d/*.rec old/"), 0);
    /* one missing, one truncated, one flipped byte, one stale (its
     * database written after the record: same size, later mtime) */
    ck_assert_int_eq(fx_sh("set -e; cd bw.db.d; set -- $(ls *.rec); rm $1;"
                           " head -c 100 $2 > t && mv t $2;"
                           " printf 'Z' | dd of=$3 bs=1 seek=200 conv=notrunc 2>/dev/null;"
                           " sqlite3 ${4%%.rec}.db \"UPDATE runs SET name = name\";"
                           " touch -d '+1 min' ${4%%.rec}.db"), 0);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -q --timing", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "; 0 points from record files"), "%s", fx_out);
    ck_assert_msg(fx_sh("cmp bw.db ref.db") == 0, "%s", fx_out);

    /* resume: a point lost (as after an interruption before its rename)
     * runs again and writes a new record; its old record, put back,
     * belongs to the old file and is not used */
    ck_assert_int_eq(fx_sh("set -e; rm -rf bw.db.d bw.db; %s sweep sweep.yaml -j 2 -q;"
                           " cp bw.db ref.db; rm -f old/*; cp bw.db.d/*.rec old/;"
                           " f=$(ls bw.db.d/*.db | head -n 1); rm $f", fx_bin), 0);
    static char first[sizeof fx_out];
    ck_assert_int_eq(fx_sh("sqlite3 ref.db \"%s\"", dump_sql), 0);
    snprintf(first, sizeof first, "%s", fx_out);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2 -q --timing", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "timing: 1 points run") &&
                  strstr(fx_out, "; 4 points from record files"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"%s\"", dump_sql), 0);
    ck_assert_str_eq(fx_out, first);
    ck_assert_int_eq(fx_sh("cp bw.db new.db && cp old/*.rec bw.db.d/"), 0);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -q --timing", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "; 3 points from record files"), "%s", fx_out);
    ck_assert_msg(fx_sh("cmp bw.db new.db") == 0, "%s", fx_out);
}
END_TEST

static const char big_sweep_yaml[] =
    "scenario: base.yaml\n"
    "name: bw\n"
    "grid:\n"
    "  links.l0.bandwidth: [1 GB/s, 2 GB/s, 3 GB/s, 4 GB/s, 5 GB/s, 6 GB/s]\n"
    "seeds: [1, 2, 3, 4]\n"
    "output: bw.db\n";

/* The serial merge of the same points (no merge beside them, one
 * transaction per point: the merge as it was before either) must write
 * the very file in bw.db; leaves bw.db as it found it. */
static void assert_same_as_serial(const char *what)
{
    ck_assert_int_eq(fx_sh("cp bw.db got.db"), 0);
    ck_assert_msg(fx_sh("MEMFAB_MERGE_BESIDE=0 MEMFAB_MERGE_BATCH=1 %s sweep sweep.yaml -q"
                        " --timing", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "timing: 0 points run") &&
                  strstr(fx_out, "; 0 beside the running points"), "%s: %s", what, fx_out);
    ck_assert_msg(fx_sh("cmp bw.db got.db") == 0, "%s: %s", what, fx_out);
}

/* A local sweep merges the points that are final beside the running ones
 * (a thread of the sweep process, at idle priority, on the merged file's
 * only connection), several per transaction: the merged file is the one
 * the serial merge writes from the same points, byte for byte, at -j 1 and
 * -j 2, at every batch size, merge beside the points or not. Two sweeps of
 * the same grid hold the same rows at -j 1 and -j 2. */
START_TEST(merge_beside_same_file)
{
    fx_write("sweep.yaml", big_sweep_yaml);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2 -q --timing", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "timing: 24 points run") &&
                  strstr(fx_out, "; 24 points from record files; ") &&
                  strstr(fx_out, " beside the running points ("), "%s", fx_out);
    fprintf(stderr, "check_sweep: -j 2: %s", strstr(fx_out, "timing: merge"));
    assert_same_as_serial("-j 2");
    static char rows2[sizeof fx_out];
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"%s\"", dump_sql), 0);
    snprintf(rows2, sizeof rows2, "%s", fx_out);
    const char *const batches[] = {"1", "5", "64"};
    for (int b = 0; b < 3; b++) {
        ck_assert_msg(fx_sh("MEMFAB_MERGE_BATCH=%s %s sweep sweep.yaml -j 1 -q", batches[b],
                            fx_bin) == 0, "%s", fx_out);
        ck_assert_msg(fx_sh("cmp bw.db got.db") == 0, "batch %s: %s", batches[b], fx_out);
    }
    /* a fresh sweep at -j 1 (points run again, beside the merge) */
    ck_assert_int_eq(fx_sh("rm -rf bw.db bw.db.d"), 0);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 1 -q --timing", fx_bin) == 0, "%s", fx_out);
    fprintf(stderr, "check_sweep: -j 1: %s", strstr(fx_out, "timing: merge"));
    assert_same_as_serial("-j 1");
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"%s\"", dump_sql), 0);
    ck_assert_str_eq(fx_out, rows2);
}
END_TEST

/* The sweep killed (kill -9) while it merges beside the running points:
 * its scheduler and workers stop (the running points interrupted), the
 * scratch file OUT.merge is left half-written, and the same command
 * resumes, runs what is missing and merges from scratch into the file the
 * serial merge writes. The same for a stop signal to the sweep process
 * alone (passed on to its scheduler): interrupted, no OUT.merge left, and
 * a garbage OUT.merge is no obstacle either. */
START_TEST(resume_after_kill_mid_merge)
{
    /* points long enough (about 0.1 s) to be caught half-way */
    char yaml[sizeof big_sweep_yaml + 32];
    snprintf(yaml, sizeof yaml, "%sset: {stop: 200 ms}\n", big_sweep_yaml);
    fx_write("sweep.yaml", yaml);
    for (int sig = 0; sig < 2; sig++) {
        ck_assert_int_eq(fx_sh("rm -rf bw.db bw.db.d bw.db.merge"), 0);
        int rc = fx_sh("%s sweep sweep.yaml -j 2 -q > sw.log 2>&1 & p=$!; i=0;"
                       " while { [ ! -f bw.db.merge ] ||"
                       " [ $(ls bw.db.d 2>/dev/null | grep -c '[.]rec$') -lt 6 ]; } &&"
                       " [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done;"
                       " kill -%s $p; wait $p; echo rc=$?; ls bw.db.d | grep -c '[.]rec$'",
                       fx_bin, sig ? "TERM" : "KILL");
        ck_assert_msg(rc == 0, "%s", fx_out);
        ck_assert_msg(strstr(fx_out, sig ? "rc=1\n" : "rc=137\n"), "%s", fx_out);
        int done = atoi(strstr(strstr(fx_out, "rc="), "\n") + 1);   /* records written */
        ck_assert_msg(done >= 6 && done < 24, "%s", fx_out);
        /* its scheduler and workers end too (they hold the points' locks) */
        ck_assert_int_eq(fx_sh("i=0; while [ $i -lt 300 ]; do h=; for f in bw.db.d/*.lock; do"
                               " flock -n -x $f true || h=\"$h $f\"; done; [ -z \"$h\" ] && break;"
                               " sleep 0.1; i=$((i+1)); done; [ -z \"$h\" ] || echo held $h"), 0);
        ck_assert_str_eq(fx_out, "");
        if (sig) {
            ck_assert_int_eq(fx_sh("cat sw.log; ls bw.db.merge"), 2);
            ck_assert_msg(strstr(fx_out, "interrupted; complete points are kept"), "%s", fx_out);
            fx_write("bw.db.merge", "garbage, not a database\n");
        } else {
            ck_assert(fx_exists("bw.db.merge"));
        }
        ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2 -q --timing", fx_bin) == 0, "%s", fx_out);
        ck_assert(!fx_exists("bw.db.merge"));
        ck_assert_int_eq(fx_sh("sqlite3 bw.db 'SELECT count(*) FROM runs WHERE status ="
                               " \"complete\"'"), 0);
        ck_assert_str_eq(fx_out, "24\n");
        assert_same_as_serial(sig ? "after SIGTERM" : "after SIGKILL");
    }
}
END_TEST

/* A stop signal (SIGTERM, or Ctrl-C's SIGINT) during the final merge, when
 * every point is final and only the merge into OUT remains: the merge stops
 * at the next point, removes its scratch OUT.merge, leaves OUT absent and
 * the sweep exits 1, as the sweep's exit statuses promise for an
 * interruption (before: killed by the signal, status 143, OUT.merge left
 * behind); the same command then merges. A signal that lands after the
 * rename finds the merge done (exit 0, OUT whole). With and without the
 * merge beside the points (nothing is left to run either way). */
START_TEST(stop_during_final_merge)
{
    fx_write("sweep.yaml", big_sweep_yaml);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2 -q", fx_bin) == 0, "%s", fx_out);
    int stopped = 0;
    for (int k = 0; k < 12; k++) {
        const char *sig = k % 2 ? "INT" : "TERM";
        ck_assert_int_eq(fx_sh("rm -f bw.db"), 0);
        ck_assert_int_eq(fx_sh("MEMFAB_MERGE_BESIDE=%d MEMFAB_MERGE_BATCH=1 %s sweep sweep.yaml -q"
                               " 2> err.log & p=$!; i=0; while [ ! -e bw.db.merge ] &&"
                               " [ ! -e bw.db ] && [ $i -lt 2000000 ]; do i=$((i+1)); done;"
                               " kill -%s $p; wait $p; echo rc=$?; ls bw.db bw.db.merge"
                               " 2>/dev/null; cat err.log",
                               (k / 2) % 2, fx_bin, sig),
                         0);
        if (strstr(fx_out, "rc=1\n")) {
            stopped++;
            /* (beside the points, the signal may also find the sweep still
             * in its scheduler's phase: the interruption of the points) */
            ck_assert_msg(strstr(fx_out, "rc=1\nmemfab: error: interrupted while merging into"
                                         " ./bw.db, which is left as it was") ||
                          strstr(fx_out, "rc=1\nsweep bw: interrupted; complete points are"
                                         " kept"), "%s", fx_out);
        } else {
            ck_assert_msg(strstr(fx_out, "rc=0\nbw.db\n"), "%s", fx_out);
        }
    }
    ck_assert_msg(stopped > 0, "no signal reached the merge in 12 tries");
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -q", fx_bin) == 0, "%s", fx_out);
    ck_assert(!fx_exists("bw.db.merge"));
    assert_same_as_serial("after stops during the final merge");
}
END_TEST

/* One merge into OUT at a time: the sweep that merges holds a lock
 * (flock on WORK/merge.lock) from before it touches OUT.merge until the
 * rename. A second sweep with the same output (here: the lock held by
 * flock(1)) runs its points but neither removes nor writes OUT.merge, and
 * says why (exit 1), nor renames its merge over an OUT that another sweep
 * wrote meanwhile; two real sweeps at once leave a whole merge (never a
 * file another process is still writing) and the same command then merges
 * every point into the file the serial merge writes. (Before the lock, the
 * second sweep removed the first one's OUT.merge while the first merged
 * into it beside its points, and the first renamed the second's
 * half-written file to OUT and reported success.) */
START_TEST(one_merge_per_output)
{
    for (int beside = 0; beside < 2; beside++) {
        ck_assert_int_eq(fx_sh("rm -rf bw.db bw.db.d; mkdir bw.db.d; echo mine > bw.db.merge"), 0);
        ck_assert_int_eq(fx_sh("flock -x bw.db.d/merge.lock -c 'MEMFAB_MERGE_BESIDE=%d %s sweep"
                               " sweep.yaml -j 2 -q'; echo rc=$?; cat bw.db.merge; ls bw.db",
                               beside, fx_bin),
                         2);
        ck_assert_msg(strstr(fx_out, "another memfab sweep is merging into ./bw.db (it holds"
                                     " ./bw.db.d/merge.lock)"), "%s", fx_out);
        ck_assert_msg(strstr(fx_out, "rc=1\nmine\n"), "%s", fx_out);
        ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2 -q", fx_bin) == 0, "%s", fx_out);
        ck_assert(!fx_exists("bw.db.merge"));
        assert_same_as_serial(beside ? "beside, after the lock" : "after the lock");
    }
    /* two sweeps at once, the second started while the first merges beside
     * its points (points of about 0.1 s) */
    char yaml[sizeof big_sweep_yaml + 32];
    snprintf(yaml, sizeof yaml, "%sset: {stop: 200 ms}\n", big_sweep_yaml);
    fx_write("sweep.yaml", yaml);
    /* OUT written by another sweep (another name) while this one runs: the
     * check at the start saw no OUT, the one under the lock before the
     * rename refuses to replace it */
    fx_write("other.yaml", "scenario: base.yaml\nname: other\nseeds: [1]\noutput: o.db\n");
    ck_assert_msg(fx_sh("%s sweep other.yaml -q", fx_bin) == 0, "%s", fx_out);
    for (int beside = 0; beside < 2; beside++) {
        ck_assert_int_eq(fx_sh("rm -rf bw.db bw.db.d bw.db.merge"), 0);
        ck_assert_int_eq(fx_sh("MEMFAB_MERGE_BESIDE=%d %s sweep sweep.yaml -j 1 -q > a.log 2>&1"
                               " & a=$!; i=0; while [ $(ls bw.db.d 2>/dev/null | grep -c"
                               " '[.]rec$') -lt 1 ] && [ $i -lt 600 ]; do sleep 0.05;"
                               " i=$((i+1)); done; cp o.db bw.db; wait $a; echo rc=$?;"
                               " cat a.log; cmp o.db bw.db && ls bw.db.merge",
                               beside, fx_bin),
                         2);
        ck_assert_msg(strstr(fx_out, "rc=1\n") &&
                      strstr(fx_out, "./bw.db holds runs that are not from sweep 'bw'"),
                      "%s", fx_out);
    }
    ck_assert_int_eq(fx_sh("rm -rf bw.db bw.db.d bw.db.merge"), 0);
    ck_assert_int_eq(fx_sh("%s sweep sweep.yaml -j 1 -q > a.log 2>&1 & a=$!; i=0;"
                           " while { [ ! -f bw.db.merge ] ||"
                           " [ $(ls bw.db.d 2>/dev/null | grep -c '[.]rec$') -lt 2 ]; } &&"
                           " [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done;"
                           " %s sweep sweep.yaml -j 1 -q > b.log 2>&1 & b=$!;"
                           " wait $a; echo a=$?; wait $b; echo b=$?; cat a.log b.log",
                           fx_bin, fx_bin),
                     0);
    /* each exits 0 (it merged every point) or 1 (a point the other ran, or
     * the merge left to the other: the last to merge may have merged before
     * the other's last point was done); either way OUT is a whole merge */
    ck_assert_msg(!strstr(fx_out, "No such file") && !strstr(fx_out, "=2"), "%s", fx_out);
    ck_assert(!fx_exists("bw.db.merge"));
    ck_assert_int_eq(fx_sh("sqlite3 bw.db 'PRAGMA integrity_check; SELECT count(*) > 0 FROM"
                           " sweep_summary'"), 0);
    ck_assert_str_eq(fx_out, "ok\n1\n");
    /* and the same command again merges every point */
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2 -q", fx_bin) == 0, "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 bw.db 'SELECT count(*) FROM runs WHERE status = \"complete\"'"),
                     0);
    ck_assert_str_eq(fx_out, "24\n");
    assert_same_as_serial("two sweeps at once");
}
END_TEST

/* A stop signal sent to the sweep process (kill -TERM) while it relays
 * the scheduler's messages is never lost: it used to be passed on only when
 * it interrupted the wait for the next message, so one that came while
 * the main thread handled a message let every point run (and then the
 * merge was dropped as interrupted): 3 of 60 tries at random moments with
 * the binary before, 0 of 60 after. Now the signals are blocked but while
 * it waits (ppoll). This catches the old race only now and then (about 1
 * in 20 tries); it must never fail. */
START_TEST(stop_signal_never_lost)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml, "scenario: base.yaml\nname: bw\ngrid:\n  links.l0.bandwidth:"
             " [1 GB/s, 2 GB/s, 3 GB/s, 4 GB/s, 5 GB/s, 6 GB/s, 7 GB/s, 8 GB/s, 9 GB/s, 10 GB/s,"
             " 11 GB/s, 12 GB/s, 13 GB/s, 14 GB/s, 15 GB/s, 16 GB/s, 17 GB/s, 18 GB/s, 19 GB/s,"
             " 20 GB/s]\nseeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,"
             " 19, 20]\noutput: bw.db\n");
    fx_write("sweep.yaml", yaml);
    const char *const delays[] = {"0",   "0.02", "0.04", "0.06", "0.08", "0.1", "0.12",
                                  "0.15", "0.18", "0.21", "0.25", "0.3"};
    for (size_t k = 0; k < sizeof delays / sizeof delays[0]; k++) {
        ck_assert_int_eq(fx_sh("rm -rf bw.db bw.db.d bw.db.merge"), 0);
        /* OUT.merge exists once the handlers are in place */
        ck_assert_int_eq(fx_sh("%s sweep sweep.yaml -j 2 -q > sw.log 2>&1 & p=$!; i=0;"
                               " while [ ! -f bw.db.merge ] && [ $i -lt 600 ]; do sleep 0.01;"
                               " i=$((i+1)); done; sleep %s; kill -TERM $p; wait $p; echo rc=$?;"
                               " ls bw.db.d | grep -c '[.]rec$'; ls bw.db.merge",
                               fx_bin, delays[k]),
                         2);
        ck_assert_msg(strstr(fx_out, "rc=1\n"), "after %s s: %s", delays[k], fx_out);
        ck_assert_msg(atoi(strstr(fx_out, "rc=1\n") + 5) < 400, "after %s s: %s", delays[k],
                      fx_out);
    }
}
END_TEST

/* memfab bench sweep --quick: -j 1 and -j N (and mpirun -np N when MPI is
 * built in) merge the same database; the figures are printed, not checked. */
START_TEST(bench_sweep_quick)
{
    ck_assert_msg(fx_sh("ASAN_OPTIONS=detect_leaks=0 TMPDIR=$PWD %s bench sweep --quick --jobs 2",
                        fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "databases equal") && strstr(fx_out, "merge share: ") &&
                  strstr(fx_out, "speedup "), "%s", fx_out);
    ck_assert_msg(!strstr(fx_out, "sweep-mpi: the") || strstr(fx_out, "equal to -j's") ||
                  strstr(fx_out, "skipped"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("ls -d memfab-bench-sweep-* 2>/dev/null | wc -l"), 0);
    ck_assert_str_eq(fx_out, "0\n");
}
END_TEST

/* ---- Limits --------------------------------------------------------------- */

START_TEST(failed_point_recorded)
{
    fx_write("sweep.yaml", "scenario: base.yaml\nname: bw\ngrid:\n"
                           "  links.l0.bandwidth: [1 GB/s, fast, 4 GB/s]\noutput: bw.db\n");
    ck_assert_int_eq(fx_sh("%s sweep sweep.yaml -j 3", fx_bin), 1);
    ck_assert_msg(strstr(fx_out, "3/3 points (100%), 1 failed, 0 running"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 bw.db \"SELECT r.status, COALESCE(r.error, '') LIKE '%%fast%%' FROM runs r"
                           " JOIN params p ON p.run_id = r.run_id AND"
                           " p.key = 'sweep.links.l0.bandwidth' ORDER BY r.run_id\""), 0);
    ck_assert_msg(strcmp(fx_out, "complete|0\nfailed|1\ncomplete|0\n") == 0, "%s", fx_out);
    /* a rerun retries the failed point only */
    ck_assert_int_eq(fx_sh("%s sweep sweep.yaml", fx_bin), 1);
    ck_assert_msg(strstr(fx_out, "(complete before this run: 2)"), "%s", fx_out);
}
END_TEST

/* Issue 19, item 4: a point whose lock another process holds is left
 * alone (its files untouched) and reported; once free it runs. */
START_TEST(locked_point_left_alone)
{
    ck_assert_msg(fx_sh("%s sweep sweep.yaml -j 2", fx_bin) == 0, "%s", fx_out);
    ck_assert_int_eq(fx_sh("f=$(ls bw.db.d/*.db | head -n 1); rm $f; echo mine > ${f%%.db}.db.part;"
                           " flock ${f%%.db}.lock -c '%s sweep sweep.yaml -j 2'; echo rc=$?;"
                           " cat ${f%%.db}.db.part",
                           fx_bin),
                     0);
    ck_assert_msg(strstr(fx_out, "is being run by another process"), "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "rc=1\nmine\n"), "%s", fx_out);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "(complete before this run: 3)"), "%s", fx_out);
}
END_TEST

/* Issue 19, item 4: killing only the sweep parent (SIGKILL, no handler
 * runs) stops its workers too. Workers are found and checked through
 * /proc, so the test needs no procps. */
START_TEST(workers_die_with_parent)
{
    fx_write("slowbase.yaml", "name: slow\nseed: 1\nstop: 1000 s\ncomponents:\n"
                              "  - {name: src, type: source, arrivals: poisson, interarrival: 20 us,"
                              " size: 4 KiB, link: l0}\n"
                              "  - {name: dst, type: sink}\n"
                              "links:\n  - {name: l0, type: link, ends: [src, dst],"
                              " bandwidth: 10 GB/s, latency: 1 us}\n");
    fx_write("slow.yaml", "scenario: slowbase.yaml\nname: slow\ngrid:\n"
                          "  links.l0.bandwidth: [1 GB/s, 4 GB/s]\n");
    ck_assert_int_eq(
        fx_sh("kids() { for s in /proc/[0-9]*/stat; do read -r a b c d e < $s 2>/dev/null &&"
              " [ \"$d\" = \"$1\" ] && echo $a; done; };"
              " desc() { for k in $(kids $1); do echo $k; desc $k; done; };"
              " alive() { read -r a b c e < /proc/$1/stat 2>/dev/null && [ \"$c\" != Z ]; };"
              " %s sweep slow.yaml -j 2 > sw.log 2>&1 & p=$!;"
              " i=0; while [ $(ls results/slow.db.d 2>/dev/null | grep -c 'db[.]part$') -lt 2 ] &&"
              " [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; w=$(desc $p); kill -9 $p;"
              " i=0; while [ $i -lt 100 ]; do n=0; for x in $w; do alive $x && n=$((n+1)); done;"
              " [ $n = 0 ] && break; sleep 0.1; i=$((i+1)); done;"
              " echo workers=$(echo $w | wc -w) alive=$n; kill -9 $w 2>/dev/null; true",
              fx_bin),
        0);
    /* the two workers, and the scheduler process of a merge beside them */
    ck_assert_msg(strstr(fx_out, "workers=2 alive=0") || strstr(fx_out, "workers=3 alive=0"),
                  "%s", fx_out);
    /* their points are listed as interrupted, not failed, and hold runs
     * with status interrupted */
    ck_assert_msg(fx_sh("%s sweep slow.yaml --list | cut -c18-28", fx_bin) == 0, "%s", fx_out);
    ck_assert_str_eq(fx_out, "interrupted\ninterrupted\n");
    ck_assert_int_eq(fx_sh("for f in results/slow.db.d/*.interrupted.db; do sqlite3 $f"
                           " 'SELECT status FROM runs'; done"), 0);
    ck_assert_str_eq(fx_out, "interrupted\ninterrupted\n");
    /* record files are written for complete points only */
    ck_assert_int_eq(fx_sh("ls results/slow.db.d | grep -c '[.]rec$'"), 1);
    ck_assert_str_eq(fx_out, "0\n");
}
END_TEST

START_TEST(listed_points_and_fixed_sets)
{
    fx_write("sweep.yaml", "scenario: base.yaml\nset: {stop: 2 ms}\npoints:\n"
                           "  - {links.l0.bandwidth: 2 GB/s, links.l0.latency: 5 us}\n"
                           "  - {links.l0.bandwidth: 3 GB/s}\noutput: out/p.db\n");
    ck_assert_int_eq(fx_sh("mkdir out"), 0);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml --list", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "todo        links.l0.bandwidth=2 GB/s links.l0.latency=5 us"), "%s",
                  fx_out);
    ck_assert_msg(fx_sh("%s sweep sweep.yaml", fx_bin) == 0, "%s", fx_out);
    ck_assert_int_eq(fx_sh("sqlite3 out/p.db \"SELECT p.value FROM params p WHERE key = 'stop'"
                           " UNION ALL SELECT value FROM params WHERE key = 'sweep.name'\""), 0);
    ck_assert_str_eq(fx_out, "2 ms\n2 ms\nsweep\nsweep\n");
    /* a key one point does not set is NULL in its column */
    ck_assert_int_eq(fx_sh("sqlite3 out/p.db \"SELECT \\\"links.l0.bandwidth\\\","
                           " quote(\\\"links.l0.latency\\\") FROM sweep_summary WHERE"
                           " metric = 'dst/latency_mean'\""), 0);
    ck_assert_str_eq(fx_out, "2 GB/s|'5 us'\n3 GB/s|NULL\n");
}
END_TEST

/* Without output:, the merged database goes to results/<name>.db under the
 * current directory (where memfab run writes), not beside the sweep file. */
START_TEST(default_output_in_results)
{
    ck_assert_int_eq(fx_sh("mkdir study && cp base.yaml study/"), 0);
    fx_write("study/s.yaml", "scenario: base.yaml\nset: {stop: 1 ms}\n"
                             "grid: {links.l0.bandwidth: [1 GB/s]}\n");
    ck_assert_msg(fx_sh("%s sweep study/s.yaml -j 1", fx_bin) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "-> results/s.db"), "%s", fx_out);
    ck_assert(fx_exists("results/s.db"));
    ck_assert_int_eq(fx_sh("ls study"), 0);
    ck_assert_str_eq(fx_out, "base.yaml\ns.yaml\n");
}
END_TEST

/* Point ids are checked for repeats through a hash table: listing a grid
 * of 150,000 points on a tiny scenario needs well under 10 s of CPU (about
 * 0.8 s); comparing every id with every earlier one took 36 s (216,000
 * points took 77 s). The limit is a CPU-time rlimit (ulimit -t), so a
 * quadratic regression fails without timing anything. */
START_TEST(big_grid_lists_in_linear_time)
{
    fx_write("tiny.yaml", "name: tiny\nstop: 1 us\n");
    char text[16384] = "scenario: tiny.yaml\ngrid:\n  seed: [";
    for (int i = 1; i <= 150; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%d", i > 1 ? ", " : "", i);
    strcat(text, "]\n  stop: [");
    for (int i = 1; i <= 1000; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%d us", i > 1 ? ", " : "", i);
    strcat(text, "]\n");
    fx_write("g.yaml", text);
    ck_assert_int_eq(fx_sh("ulimit -t 10 && %s sweep g.yaml --list > list.txt; echo rc=$?;"
                           " wc -l < list.txt; tail -1 list.txt",
                           fx_bin),
                     0);
    ck_assert_msg(strncmp(fx_out, "rc=0\n150000\n", 12) == 0, "%s", fx_out);
    ck_assert_msg(strstr(fx_out, "todo        seed=150 stop=1000 us"), "%s", fx_out);
}
END_TEST

/* ---- Errors ---------------------------------------------------------------- */

/* Two points with the same overrides and seed are one run twice: refused,
 * naming both. */
START_TEST(repeated_point_refused)
{
    fx_write("rep.yaml", "scenario: base.yaml\npoints:\n  - {links.l0.bandwidth: 2 GB/s}\n"
                         "  - {links.l0.bandwidth: 3 GB/s}\n  - {links.l0.bandwidth: 2 GB/s}\n");
    ck_assert_int_eq(fx_sh("%s sweep rep.yaml --list", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "point 3 repeats point 1"), "%s", fx_out);
}
END_TEST

START_TEST(bad_sweep_files)
{
    fx_write("s1.yaml", "scenario: base.yaml\ngrdi: {a: [1]}\n");
    ck_assert_int_eq(fx_sh("%s sweep s1.yaml", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "s1.yaml:2:"), "position: %s", fx_out);
    fx_write("s2.yaml", "grid: {a: [1]}\n");
    ck_assert_int_eq(fx_sh("%s sweep s2.yaml", fx_bin), 2);
    fx_write("s3.yaml", "scenario: base.yaml\ngrid: {a: []}\n");
    ck_assert_int_eq(fx_sh("%s sweep s3.yaml", fx_bin), 2);
    fx_write("s4.yaml", "scenario: base.yaml\nseeds: [x]\n");
    ck_assert_int_eq(fx_sh("%s sweep s4.yaml", fx_bin), 2);
    fx_write("s5.yaml", "scenario: nosuch.yaml\n");
    ck_assert_int_eq(fx_sh("%s sweep s5.yaml", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s sweep nosuch.yaml", fx_bin), 2);
    ck_assert_int_eq(fx_sh("%s sweep sweep.yaml -j 0", fx_bin), 2);
    /* the output holds runs from elsewhere: refused, nothing lost */
    ck_assert_int_eq(fx_sh("%s run base.yaml -q -o bw.db", fx_bin), 0);
    ck_assert_int_eq(fx_sh("%s sweep sweep.yaml", fx_bin), 2);
    ck_assert_int_eq(fx_sh("sqlite3 bw.db 'SELECT COUNT(*) FROM runs'"), 0);
    ck_assert_str_eq(fx_out, "1\n");
}
END_TEST

/* A grid whose run count overflows 64 bits (64 keys x 2 values wrapped to 0
 * and ran the base scenario alone) or is merely huge is an error with the
 * count; nothing runs. */
START_TEST(huge_grid_is_an_error)
{
    char text[4096] = "scenario: base.yaml\ngrid:\n";
    for (int i = 0; i < 64; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "  k%d: [1, 2]\n", i);
    fx_write("big.yaml", text);
    ck_assert_int_eq(fx_sh("%s sweep big.yaml --list", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "big.yaml:3:") && strstr(fx_out, "18446744073709551616 runs"),
                  "%s", fx_out);
    ck_assert_int_eq(fx_sh("%s sweep big.yaml", fx_bin), 2);
    ck_assert(!fx_exists("big.db"));
    /* 1001 x 1000 points, and 1000 x 1000 points times 2 seeds */
    fx_write("wide.yaml", "scenario: base.yaml\nseeds: [1, 2]\ngrid:\n"
                          "  a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                          "  b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                          "  c: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                          "  d: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                          "  e: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                          "  f: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n");
    ck_assert_int_eq(fx_sh("%s sweep wide.yaml --list", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "2000000 runs") && strstr(fx_out, "at most 1000000"), "%s",
                  fx_out);
}
END_TEST

/* Seeds are decimal, unsigned and within 64 bits: in a sweep file and in
 * --seed (shared parser): no sign, no octal 010, no 0x, no overflow. */
START_TEST(seeds_are_decimal)
{
    static const char *const bad[] = {"-1", "010", "0x10", "+3", "18446744073709551616",
                                      "1e3", " 7", "", NULL};
    for (int i = 0; bad[i]; i++) {
        ck_assert_msg(fx_sh("%s check base.yaml --seed '%s'", fx_bin, bad[i]) == 2,
                      "--seed '%s' accepted: %s", bad[i], fx_out);
        ck_assert_msg(strstr(fx_out, "decimal integer"), "%s", fx_out);
        char text[256];
        snprintf(text, sizeof text, "scenario: base.yaml\nseeds: [1, '%s']\n", bad[i]);
        fx_write("seeds.yaml", text);
        ck_assert_msg(fx_sh("%s sweep seeds.yaml --list", fx_bin) == 2, "seeds: ['%s']: %s",
                      bad[i], fx_out);
        ck_assert_msg(strstr(fx_out, "seeds.yaml:2:"), "%s", fx_out);
    }
    ck_assert_int_eq(fx_sh("%s check base.yaml --seed 18446744073709551615", fx_bin), 0);
    ck_assert_int_eq(fx_sh("%s check base.yaml --seed 0", fx_bin), 0);
    fx_write("seeds.yaml", "scenario: base.yaml\nseeds: [0, 10, 18446744073709551615]\n");
    ck_assert_msg(fx_sh("%s sweep seeds.yaml --list", fx_bin) == 0, "%s", fx_out);
}
END_TEST

/* The base scenario is read as scenario files are: a device or a FIFO is an
 * error at the sweep file's `scenario:` (exit 2) instead of a read that
 * never ends (/dev/zero) or never starts (a FIFO without a writer). */
START_TEST(scenario_must_be_a_file)
{
    fx_write("z.yaml", "scenario: /dev/zero\n");
    ck_assert_int_eq(fx_sh("timeout 20 %s sweep z.yaml --list", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "z.yaml:1:11: error: scenario '/dev/zero': a character device,"
                                 " not a regular file"), "%s", fx_out);
    ck_assert_int_eq(fx_sh("mkfifo pipe.yaml"), 0);
    fx_write("p.yaml", "name: p\nscenario: pipe.yaml\n");
    ck_assert_int_eq(fx_sh("timeout 20 %s sweep p.yaml --list", fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "p.yaml:2:11: error: scenario '") &&
                  strstr(fx_out, "pipe.yaml': a FIFO, not a regular file"), "%s", fx_out);
}
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *core = tcase_create("Core"), *limits = tcase_create("Limits"),
          *errs = tcase_create("Errors");
    TCase *all[] = {core, limits, errs};
    for (int i = 0; i < 3; i++) {
        tcase_add_checked_fixture(all[i], setup, fx_teardown);
        tcase_set_timeout(all[i], 60);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(core, grid_seeds_merge_summary);
    tcase_add_test(core, resume_skips_complete_points);
    tcase_add_test(core, mpi_matches_jobs);
    tcase_add_test(core, default_output_in_results);
    tcase_add_test(core, quiet_timing_and_point_params);
    tcase_add_test(core, records_merge_and_fallback);
    tcase_add_test(core, bench_sweep_quick);
    tcase_add_test(core, merge_beside_same_file);
    tcase_add_test(limits, resume_after_kill_mid_merge);
    tcase_add_test(limits, one_merge_per_output);
    tcase_add_test(limits, stop_during_final_merge);
    tcase_add_test(limits, stop_signal_never_lost);
    tcase_add_test(limits, failed_point_recorded);
    tcase_add_test(limits, listed_points_and_fixed_sets);
    tcase_add_test(limits, locked_point_left_alone);
    tcase_add_test(limits, workers_die_with_parent);
    tcase_add_test(limits, big_grid_lists_in_linear_time);
    tcase_add_test(errs, repeated_point_refused);
    tcase_add_test(errs, bad_sweep_files);
    tcase_add_test(errs, huge_grid_is_an_error);
    tcase_add_test(errs, seeds_are_decimal);
    tcase_add_test(errs, scenario_must_be_a_file);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sweep_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
