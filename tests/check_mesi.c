/*
 * check_mesi.c - the directory MESI model against the Primer's tables.
 *
 * Reference: Nagarajan, Sorin, Hill, Wood, "A Primer on Memory Consistency
 * and Cache Coherence", 2nd ed., section 8.3: Table 8.3 (MESI cache
 * controller) and Table 8.4 (MESI directory controller); the rows they
 * share with MSI are those of Tables 8.1/8.2. Below, "8.3 S/Inv" means
 * Table 8.3, row (state) S, column (event) Inv.
 *
 * Scripted sequences: caches with `pattern: none` get accesses from the
 * test at chosen times; messages take exactly `latency` (10 ns) and Data
 * from the directory adds `memory_latency` (0 unless a test needs a slow
 * memory to make a race happen). Accesses are spaced 1 us apart unless a
 * test wants them to overlap, so each transaction has finished before the
 * next one starts. Expected counts are cumulative over the run, derived
 * by hand from the table rows cited next to them. Every run has
 * `verify: true`: the full SWMR + data-value check runs after every
 * protocol event (assert()ed: a violation aborts the test).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/coherence/mesi.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/model_fixture.h"

#define NS 1000ULL
#define US 1000000ULL

static sim_comp *D;
static sim_comp *C[8];
static unsigned coherence_rows;
static uint64_t coherence_total;

static int sink_coherence(void *ctx, const char *dir, const char *msg, uint64_t count)
{
    (void)ctx;
    (void)dir;
    (void)msg;
    coherence_rows++;
    coherence_total += count;
    return 0;
}

static int sink_metric(void *ctx, const char *scope, const char *name, double v, const char *u)
{
    (void)ctx; (void)scope; (void)name; (void)v; (void)u;
    return 0;
}

static void teardown(void)
{
    mfx_teardown();
    D = NULL;
    memset(C, 0, sizeof C);
}

/* Build a directory `d` (latency 10 ns, verify on, plus dir_opts) and n
 * scripted caches A, B, C, ... (capacity caps[i], default 64). */
static void build(int n, const char *dir_opts, const unsigned *caps)
{
    char text[4096];
    int off = snprintf(text, sizeof text,
                       "name: t\ncomponents:\n"
                       "  - {name: d, type: mesi_dir, size: 4 KiB, latency: 10 ns,"
                       " verify: true, %s}\n",
                       dir_opts ? dir_opts : "memory_latency: 0 ns");
    for (int i = 0; i < n; i++)
        off += snprintf(text + off, sizeof text - (size_t)off,
                        "  - {name: %c, type: mesi_cache, directory: d, pattern: none,"
                        " capacity: %u}\n",
                        'A' + i, caps ? caps[i] : 64);
    coherence_rows = 0;
    coherence_total = 0;
    sim_sink k = {NULL, sink_metric, NULL, NULL, NULL, NULL, sink_coherence, NULL, NULL, NULL};
    mfx_build_to("mesi.yaml", text, &k);
    D = sim_find(S, "d");
    for (int i = 0; i < n; i++) {
        char name[2] = {(char)('A' + i), 0};
        C[i] = sim_find(S, name);
    }
}

static void rd(int c, uint64_t at, uint64_t line)
{
    ck_assert_int_eq(mesi_cache_access(C[c], at, line, 0), 0);
}
static void wr(int c, uint64_t at, uint64_t line)
{
    ck_assert_int_eq(mesi_cache_access(C[c], at, line, 1), 0);
}

static void run_all(void)
{
    ck_assert_int_eq(sim_run(S, SIM_TIME_MAX), 0);
    ck_assert_msg(mesi_dir_errors(D) == 0, "protocol errors or invariant violations");
    ck_assert(mesi_dir_check(D));
    ck_assert_msg(mesi_dir_quiescent(D), "not quiescent at the end");
}

/* Expected counts, in mesi_msg order. */
typedef struct counts {
    uint64_t gets, getm, puts, putm, pute, fgets, fgetm, inv, invack, putack, data;
} counts;

static void expect(counts w)
{
    uint64_t want[MESI_NMSG] = {w.gets, w.getm, w.puts, w.putm, w.pute, w.fgets,
                                w.fgetm, w.inv, w.invack, w.putack, w.data};
    char buf[1024];
    int off = 0, bad = 0;
    for (int t = 0; t < MESI_NMSG; t++) {
        uint64_t got = mesi_dir_count(D, (mesi_msg)t);
        if (got != want[t])
            bad = 1;
        off += snprintf(buf + off, sizeof buf - (size_t)off, " %s=%llu%s", mesi_msg_name((mesi_msg)t),
                        (unsigned long long)got, got != want[t] ? "(!)" : "");
    }
    ck_assert_msg(!bad, "message counts:%s", buf);
}

#define CST(c, x, s) ck_assert_str_eq(mesi_cstate_name(mesi_cache_state(C[c], x)), s)
#define DST(x, s) ck_assert_str_eq(mesi_dstate_name(mesi_dir_state(D, x)), s)

/* ---- Core: one transaction at a time ------------------------------------- */

START_TEST(read_write_share_invalidate)
{
    build(3, NULL, NULL);
    /* A reads X: 8.3 I/Load -> GetS, IS^D; 8.4 I/GetS -> Exclusive Data,
     * Owner = A, E; 8.3 IS^D/Exclusive Data -> E.  GetS 1, Data 1. */
    rd(0, 0, 5);
    run_all();
    expect((counts){.gets = 1, .data = 1});
    CST(0, 5, "E");
    DST(5, "E");
    ck_assert_int_eq(mesi_dir_owner(D, 5), 0);

    /* A writes X: 8.3 E/Store -> hit / M (silent): 0 messages. */
    wr(0, 1 * US, 5);
    run_all();
    expect((counts){.gets = 1, .data = 1});
    CST(0, 5, "M");
    DST(5, "E");

    /* B reads X: 8.4 E/GetS -> Fwd-GetS to Owner, Sharers = {A, B}, S^D;
     * 8.3 M/Fwd-GetS -> Data to Req and Dir / S; 8.3 IS^D/Data from Owner
     * -> S; 8.4 S^D/Data -> copy to memory / S.
     * + GetS 1, Fwd-GetS 1, Data 2 (to B, to dir). */
    rd(1, 2 * US, 5);
    run_all();
    expect((counts){.gets = 2, .fgets = 1, .data = 3});
    CST(0, 5, "S");
    CST(1, 5, "S");
    DST(5, "S");
    ck_assert_uint_eq(mesi_dir_sharers(D, 5), 0x3);
    ck_assert_uint_eq(mesi_cache_stat(C[1], "cache_to_cache"), 1);

    /* C writes X with A and B sharing: 8.3 I/Store -> GetM, IM^AD; 8.4
     * S/GetM -> Data to Req with ack count 2, Inv to A and B, clear Sharers,
     * Owner = C, M; 8.3 S/Inv -> Inv-Ack to Req / I (A and B); 8.3
     * IM^AD/Data (ack > 0) -> IM^A, IM^A/Last-Inv-Ack -> M.
     * + GetM 1, Inv 2, Inv-Ack 2, Data 1. */
    wr(2, 3 * US, 5);
    run_all();
    expect((counts){.gets = 2, .getm = 1, .fgets = 1, .inv = 2, .invack = 2, .data = 4});
    CST(0, 5, "I");
    CST(1, 5, "I");
    CST(2, 5, "M");
    DST(5, "M");
    ck_assert_int_eq(mesi_dir_owner(D, 5), 2);
    ck_assert_uint_eq(mesi_cache_stat(C[0], "invalidations"), 1);

    /* A reads X again: 8.4 M/GetS -> Fwd-GetS to C, S^D; 8.3 M/Fwd-GetS.
     * + GetS 1, Fwd-GetS 1, Data 2. Then B reads: 8.4 S/GetS -> Data to
     * Req, add to Sharers: + GetS 1, Data 1 (from memory, no forward). */
    rd(0, 4 * US, 5);
    rd(1, 5 * US, 5);
    run_all();
    expect((counts){.gets = 4, .getm = 1, .fgets = 2, .inv = 2, .invack = 2, .data = 7});
    ck_assert_uint_eq(mesi_dir_sharers(D, 5), 0x7);
    ck_assert_uint_eq(coherence_rows, 0); /* reported at finish only */
    ck_assert_int_eq(sim_finish(S, &err), 0);
    ck_assert_uint_eq(coherence_rows, MESI_NMSG);
    ck_assert_uint_eq(coherence_total, 4 + 1 + 2 + 2 + 2 + 7);
}
END_TEST

START_TEST(upgrade_from_shared)
{
    build(3, NULL, NULL);
    rd(0, 0, 1);      /* GetS, Data(E) */
    rd(1, 1 * US, 1); /* GetS, Fwd-GetS, Data x2: A, B in S */
    rd(2, 2 * US, 1); /* 8.4 S/GetS: GetS, Data: A, B, C in S */
    /* A stores: 8.3 S/Store -> GetM, SM^AD; 8.4 S/GetM -> Data with ack
     * count = sharers other than A = 2, Inv to B and C; 8.3 SM^AD/Data
     * (ack > 0) -> SM^A; SM^A/Last-Inv-Ack -> M. + GetM 1, Inv 2,
     * Inv-Ack 2, Data 1. */
    wr(0, 3 * US, 1);
    run_all();
    expect((counts){.gets = 3, .getm = 1, .fgets = 1, .inv = 2, .invack = 2, .data = 5});
    CST(0, 1, "M");
    CST(1, 1, "I");
    CST(2, 1, "I");
    ck_assert_uint_eq(mesi_cache_stat(C[0], "upgrade_misses"), 1);
}
END_TEST

START_TEST(fwd_getm_between_owners)
{
    build(2, NULL, NULL);
    /* A writes X: 8.4 I/GetM -> Data to Req (ack 0), Owner = A, M; 8.3
     * IM^AD/Data (ack = 0) -> M. GetM 1, Data 1. */
    wr(0, 0, 7);
    /* B writes X: 8.4 M/GetM -> Fwd-GetM to Owner, Owner = B; 8.3
     * M/Fwd-GetM -> Data to Req / I; 8.3 IM^AD/Data from Owner -> M.
     * + GetM 1, Fwd-GetM 1, Data 1. */
    wr(1, 1 * US, 7);
    run_all();
    expect((counts){.getm = 2, .fgetm = 1, .data = 2});
    CST(0, 7, "I");
    CST(1, 7, "M");
    ck_assert_int_eq(mesi_dir_owner(D, 7), 1);
    /* A writes again while B holds M: the same rows again. */
    wr(0, 2 * US, 7);
    run_all();
    expect((counts){.getm = 3, .fgetm = 2, .data = 3});
}
END_TEST

START_TEST(evictions)
{
    static const unsigned caps[] = {1, 1};
    build(2, NULL, caps);
    /* PutE: A reads 0 (GetS, Data(E)); A reads 1 with capacity 1: 8.3
     * E/Replacement -> PutE to Dir / EI^A; 8.4 E/PutE from Owner -> Put-Ack,
     * clear Owner / I; 8.3 EI^A/Put-Ack -> I; then GetS, Data(E) for 1. */
    rd(0, 0, 0);
    rd(0, 1 * US, 1);
    run_all();
    expect((counts){.gets = 2, .pute = 1, .putack = 1, .data = 2});
    CST(0, 0, "I");
    DST(0, "I");
    CST(0, 1, "E");

    /* PutM: A writes 1 (silent E -> M, no message), then reads 2: 8.3
     * M/Replacement -> PutM + data / MI^A; 8.4 E/PutM from Owner -> copy
     * data to memory, Put-Ack / I (the directory still says E: the E -> M
     * upgrade was silent); 8.3 MI^A/Put-Ack -> I; + GetS, Data(E) for 2. */
    wr(0, 2 * US, 1);
    rd(0, 3 * US, 2);
    run_all();
    expect((counts){.gets = 3, .putm = 1, .pute = 1, .putack = 2, .data = 3});
    DST(1, "I"); /* and memory holds the store: mesi_dir_check passed */

    /* PutS: B reads 2 (8.4 E/GetS: GetS, Fwd-GetS, Data x2): A, B in S.
     * A reads 3: 8.3 S/Replacement -> PutS / SI^A; 8.4 S/PutS-NotLast ->
     * remove A, Put-Ack; 8.3 SI^A/Put-Ack -> I; + GetS, Data(E) for 3.
     * B reads 4: 8.4 S/PutS-Last -> remove B, Put-Ack / I; + GetS, Data(E). */
    rd(1, 4 * US, 2);
    rd(0, 5 * US, 3);
    run_all();
    DST(2, "S");
    ck_assert_uint_eq(mesi_dir_sharers(D, 2), 0x2);
    rd(1, 6 * US, 4);
    run_all();
    DST(2, "I");
    expect((counts){.gets = 6, .puts = 2, .putm = 1, .pute = 1, .fgets = 1, .putack = 4,
                    .data = 7});
    ck_assert_uint_eq(mesi_cache_stat(C[0], "evictions"), 3);
    ck_assert_uint_eq(mesi_cache_stat(C[0], "resident"), 1);
}
END_TEST

/* ---- Core: races, per the transient-state rows ---------------------------- */

START_TEST(race_fwd_getm_in_im_ad)
{
    build(3, NULL, NULL);
    wr(0, 0, 9); /* A: M. GetM 1, Data 1 */
    /* t = 1 us: B stores; t + 5 ns: C stores. B's GetM reaches the
     * directory at +10 ns (8.4 M/GetM: Fwd-GetM to A, Owner = B), C's at
     * +15 ns (8.4 M/GetM: Fwd-GetM to B, Owner = C), which reaches B at
     * +25 ns, while B is in IM^AD (A's Data arrives at +30 ns): 8.3
     * IM^AD/Fwd-GetM -> stall. B then gets its Data (8.3 IM^AD/Data from
     * Owner -> M), performs its store, and the stalled Fwd-GetM runs (8.3
     * M/Fwd-GetM -> Data to C / I). + GetM 2, Fwd-GetM 2, Data 2. */
    wr(1, 1 * US, 9);
    wr(2, 1 * US + 5 * NS, 9);
    ck_assert_int_eq(sim_run(S, 1 * US + 27 * NS), 0);
    CST(1, 9, "IM^AD");
    ck_assert_uint_eq(mesi_cache_stat(C[1], "stalled"), 1);
    run_all();
    expect((counts){.getm = 3, .fgetm = 2, .data = 3});
    ck_assert_uint_eq(mesi_cache_stat(C[1], "stores"), 1);
    CST(0, 9, "I");
    CST(1, 9, "I");
    CST(2, 9, "M");
    ck_assert_int_eq(mesi_dir_owner(D, 9), 2);
}
END_TEST

START_TEST(race_putm_vs_fwd_getm)
{
    static const unsigned caps[] = {1, 4};
    build(2, NULL, caps);
    wr(0, 0, 3); /* A: M on 3. GetM 1, Data 1 */
    /* At 1 us A reads 4 (capacity 1: PutM of 3, MI^A); B's store to 3 was
     * issued 2 ns earlier, so its GetM reaches the directory first: 8.4
     * M/GetM -> Fwd-GetM to A, Owner = B. A's PutM then comes from a
     * non-owner: 8.4 M/PutM+data from NonOwner -> Put-Ack (memory not
     * written). A: 8.3 MI^A/Fwd-GetM -> Data to Req / II^A, then
     * II^A/Put-Ack -> I (the forwarded network is ordered: Fwd-GetM first).
     * + GetM 1, PutM 1, Fwd-GetM 1, Put-Ack 1, Data 1; A's GetS of 4 and
     * its Data(E): + GetS 1, Data 1. */
    wr(1, 1 * US - 2 * NS, 3);
    rd(0, 1 * US, 4);
    ck_assert_int_eq(sim_run(S, 1 * US + 19 * NS), 0);
    CST(0, 3, "II^A");
    run_all();
    expect((counts){.gets = 1, .getm = 2, .putm = 1, .fgetm = 1, .putack = 1, .data = 3});
    CST(0, 3, "I");
    CST(1, 3, "M");
    DST(3, "M");
    ck_assert_int_eq(mesi_dir_owner(D, 3), 1);
}
END_TEST

START_TEST(race_putm_vs_fwd_gets)
{
    static const unsigned caps[] = {1, 4};
    build(2, NULL, caps);
    wr(0, 0, 3); /* A: M on 3. GetM 1, Data 1 */
    /* B's load of 3 reaches the directory first: 8.4 M/GetS -> Fwd-GetS to
     * A, Sharers = {A, B}, S^D. A's PutM arrives in S^D from a non-owner:
     * 8.4 S^D/PutM+data from NonOwner -> remove A from Sharers, Put-Ack.
     * A: 8.3 MI^A/Fwd-GetS -> Data to Req and Dir / SI^A, then
     * SI^A/Put-Ack -> I. 8.4 S^D/Data -> memory / S, Sharers = {B}.
     * + GetS 1 (B), PutM 1, Fwd-GetS 1, Put-Ack 1, Data 2; A's GetS of 4
     * and Data(E): + GetS 1, Data 1. */
    rd(1, 1 * US - 2 * NS, 3);
    rd(0, 1 * US, 4);
    ck_assert_int_eq(sim_run(S, 1 * US + 19 * NS), 0);
    CST(0, 3, "SI^A");
    DST(3, "S^D");
    run_all();
    expect((counts){.gets = 2, .getm = 1, .putm = 1, .fgets = 1, .putack = 1, .data = 4});
    DST(3, "S");
    ck_assert_uint_eq(mesi_dir_sharers(D, 3), 0x2);
    CST(1, 3, "S");
}
END_TEST

START_TEST(race_inv_in_is_d)
{
    build(4, "memory_latency: 50 ns", NULL);
    rd(0, 0, 2);      /* GetS, Data(E) */
    rd(1, 1 * US, 2); /* GetS, Fwd-GetS, Data x2: A, B in S */
    /* t = 2 us: C loads (8.4 S/GetS at +10 ns: Data from memory, arrives
     * +70 ns); t + 1 ns: D stores (8.4 S/GetM at +11 ns: Inv to A, B, C
     * arriving +21 ns, Data with ack count 3 arriving +71 ns). C is in IS^D
     * when its Inv arrives: 8.3 IS^D/Inv -> stall; its Data makes it S, the
     * load is performed, then the Inv runs (8.3 S/Inv -> Inv-Ack / I).
     * D: the Inv-Acks of A and B arrive before its Data (8.3 IM^AD/Inv-Ack:
     * ack--), Data with ack count 3 -> IM^A, C's Inv-Ack is the last -> M.
     * + GetS 1, Data 1 (C); GetM 1, Inv 3, Inv-Ack 3, Data 1 (D). */
    rd(2, 2 * US, 2);
    wr(3, 2 * US + 1 * NS, 2);
    ck_assert_int_eq(sim_run(S, 2 * US + 40 * NS), 0);
    CST(2, 2, "IS^D");
    ck_assert_uint_eq(mesi_cache_stat(C[2], "stalled"), 1);
    CST(3, 2, "IM^AD");
    run_all();
    expect((counts){.gets = 3, .getm = 1, .fgets = 1, .inv = 3, .invack = 3, .data = 5});
    ck_assert_uint_eq(mesi_cache_stat(C[2], "loads"), 1);
    CST(2, 2, "I");
    CST(3, 2, "M");
}
END_TEST

START_TEST(race_fwd_gets_in_is_d)
{
    build(2, "memory_latency: 50 ns", NULL);
    /* A loads at 0: 8.4 I/GetS at 10 ns -> Exclusive Data (arrives 70 ns),
     * Owner = A, E. B loads at 1 ns: 8.4 E/GetS at 11 ns -> Fwd-GetS to A,
     * arriving at 21 ns while A is in IS^D: stall (A may become E). A's
     * Data: E, load performed; then 8.3 E/Fwd-GetS -> Data to B and Dir /
     * S. GetS 2, Fwd-GetS 1, Data 3: the same counts as without the race. */
    rd(0, 0, 6);
    rd(1, 1 * NS, 6);
    ck_assert_int_eq(sim_run(S, 30 * NS), 0);
    CST(0, 6, "IS^D");
    ck_assert_uint_eq(mesi_cache_stat(C[0], "stalled"), 1);
    run_all();
    expect((counts){.gets = 2, .fgets = 1, .data = 3});
    CST(0, 6, "S");
    CST(1, 6, "S");
    DST(6, "S");
}
END_TEST

START_TEST(race_gets_stalls_in_s_d)
{
    build(3, NULL, NULL);
    wr(0, 0, 8); /* A: M. GetM 1, Data 1 */
    /* B loads at 1 us (8.4 M/GetS at +10 ns -> Fwd-GetS, S^D; A's Data
     * reaches the directory at +30 ns); C loads at +2 ns, its GetS arrives
     * at +12 ns in S^D: 8.4 S^D/GetS -> stall; after 8.4 S^D/Data -> S it
     * runs as 8.4 S/GetS -> Data from memory, add C.
     * + GetS 2, Fwd-GetS 1, Data 3. */
    rd(1, 1 * US, 8);
    rd(2, 1 * US + 2 * NS, 8);
    run_all();
    expect((counts){.gets = 2, .getm = 1, .fgets = 1, .data = 4});
    ck_assert_uint_eq(mesi_dir_sharers(D, 8), 0x7);
    CST(2, 8, "S");
}
END_TEST

/* ---- Core: randomized stress --------------------------------------------- */

static void stress(const char *dir_opts, const char *cache_opts, unsigned seed,
                   unsigned accesses)
{
    static const char *const pats[] = {"shared", "migratory", "producer_consumer", "private"};
    char text[8192];
    int off = snprintf(text, sizeof text,
                       "name: stress\nseed: %u\ncomponents:\n"
                       "  - {name: d, type: mesi_dir, size: 2 KiB, latency: 10 ns,"
                       " verify: true, %s}\n",
                       seed, dir_opts);
    for (int i = 0; i < 8; i++)
        off += snprintf(text + off, sizeof text - (size_t)off,
                        "  - {name: c%d, type: mesi_cache, directory: d, pattern: %s,"
                        " footprint: %s, accesses: %u, interval: 15 ns, %s}\n",
                        i, pats[i % 4], i % 4 == 3 ? "128 B" : "1 KiB", accesses, cache_opts);
    mfx_build_to("stress.yaml", text, NULL);
    D = sim_find(S, "d");
    run_all();
    uint64_t ops = 0, msgs = 0;
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        sim_comp *c = sim_find(S, name);
        ck_assert_uint_eq(mesi_cache_stat(c, "generated"), accesses);
        uint64_t done = mesi_cache_stat(c, "loads") + mesi_cache_stat(c, "stores");
        /* migratory: every access is a load and a store */
        ck_assert_uint_eq(done, i % 4 == 1 ? 2 * accesses : accesses);
        ops += done;
    }
    for (int t = 0; t < MESI_NMSG; t++)
        msgs += mesi_dir_count(D, (mesi_msg)t);
    ck_assert(ops > 0 && msgs > ops / 4);
    /* Conservation: every Inv is acked, every Put is acked, every
     * forward produces data. */
    ck_assert_uint_eq(mesi_dir_count(D, MESI_INV), mesi_dir_count(D, MESI_INV_ACK));
    ck_assert_uint_eq(mesi_dir_count(D, MESI_PUTS) + mesi_dir_count(D, MESI_PUTM) +
                          mesi_dir_count(D, MESI_PUTE),
                      mesi_dir_count(D, MESI_PUT_ACK));
    ck_assert_uint_eq(mesi_dir_count(D, MESI_GETS) + mesi_dir_count(D, MESI_GETM) +
                          mesi_dir_count(D, MESI_FWD_GETS),
                      mesi_dir_count(D, MESI_DATA));
}

START_TEST(stress_jitter)
{
    /* Unordered request/response networks (jitter), slow memory, small
     * caches (evictions racing forwards): the tables' races all occur. */
    stress("jitter: 40 ns, memory_latency: 30 ns", "capacity: 4, write_ratio: 0.4",
           (unsigned)(11 + _i), 1500);
}
END_TEST

START_TEST(stress_capacity_one)
{
    stress("jitter: 25 ns, memory_latency: 5 ns", "capacity: 1, write_ratio: 0.5", 5, 1500);
}
END_TEST

/* ---- Limits --------------------------------------------------------------- */

START_TEST(sixty_four_caches_one_line)
{
    /* 64 caches (the sharer-vector width) on a one-line directory: one
     * store invalidates 63 sharers: GetM 1, Inv 63, Inv-Ack 63, Data 1. */
    char *text = malloc(64 * 160 + 256);
    ck_assert_ptr_nonnull(text);
    int off = sprintf(text, "name: t\ncomponents:\n"
                            "  - {name: d, type: mesi_dir, size: 64 B, latency: 10 ns,"
                            " memory_latency: 0 ns, verify: true}\n");
    for (int i = 0; i < 64; i++)
        off += sprintf(text + off,
                       "  - {name: c%d, type: mesi_cache, directory: d, pattern: none}\n", i);
    mfx_build_to("t.yaml", text, NULL);
    free(text);
    D = sim_find(S, "d");
    for (int i = 0; i < 64; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        ck_assert_int_eq(mesi_cache_access(sim_find(S, name), (uint64_t)i * US, 0, 0), 0);
    }
    ck_assert_int_eq(mesi_cache_access(sim_find(S, "c0"), 100 * US, 0, 1), 0);
    run_all();
    /* reads: GetS 64; the first gets E, the second a Fwd-GetS (Data x2),
     * the other 62 Data from memory: Data 1 + 2 + 62. Store by c0 (a
     * sharer): Data with ack count 63 - 0 = 63 others. */
    expect((counts){.gets = 64, .getm = 1, .fgets = 1, .inv = 63, .invack = 63,
                    .data = 1 + 2 + 62 + 1});
    ck_assert_uint_eq(mesi_dir_sharers(D, 0), 0);
    ck_assert_int_eq(mesi_dir_owner(D, 0), 0);
}
END_TEST

START_TEST(line_range)
{
    build(1, NULL, NULL);
    ck_assert_int_eq(mesi_cache_access(C[0], 0, 63, 1), 0); /* 4 KiB = 64 lines */
    ck_assert_int_eq(mesi_cache_access(C[0], 0, 64, 1), SIM_EINVAL);
    ck_assert_int_eq(mesi_cache_access(D, 0, 0, 1), SIM_EINVAL);
    ck_assert_int_eq(mesi_cache_state(C[0], 64), -1);
    ck_assert_int_eq(mesi_dir_state(C[0], 0), -1);
    run_all();
    CST(0, 63, "M");
}
END_TEST

START_TEST(generator_default_run)
{
    /* The shipped defaults (private pattern, 64 KiB footprints, 512
     * lines) run and stop at a time, with no sharing. */
    mfx_build_to("g.yaml",
                 "name: g\nstop: 200 us\ncomponents:\n"
                 "  - {name: d, type: mesi_dir}\n"
                 "  - {name: a, type: mesi_cache, directory: d}\n"
                 "  - {name: b, type: mesi_cache, directory: d}\n",
                 NULL);
    D = sim_find(S, "d");
    ck_assert_int_eq(sim_run(S, sim_stop_time(S)), 0);
    ck_assert_uint_eq(mesi_dir_errors(D), 0);
    ck_assert(mesi_dir_check(D));
    sim_comp *a = sim_find(S, "a");
    ck_assert(mesi_cache_stat(a, "loads") + mesi_cache_stat(a, "stores") > 100);
    ck_assert_uint_eq(mesi_dir_count(D, MESI_INV), 0); /* private: no sharing */
    ck_assert_int_eq(sim_finish(S, &err), 0);
}
END_TEST

/* ---- Errors --------------------------------------------------------------- */

static const struct bad {
    const char *yaml;   /* components, after "components:\n" */
    const char *needle; /* in the message */
    int line;           /* expected line of the mark, 0 = any */
} bads[] = {
    {"  - {name: d, type: mesi_dir}\n"
     "  - {name: a, type: mesi_cache, directory: nodir}\n",
     "'nodir' is not a mesi_dir", 4},
    {"  - {name: d, type: mesi_dir}\n"
     "  - {name: a, type: mesi_cache, directory: b, pattern: none}\n"
     "  - {name: b, type: mesi_cache, directory: d, pattern: none}\n",
     "'b' is not a mesi_dir", 4},
    {"  - {name: d, type: mesi_dir, size: 100 B}\n", "multiple of 64 B", 3},
    {"  - {name: d, type: mesi_dir, latency: 0 ns}\n", "latency must be positive", 3},
    {"  - {name: d, type: mesi_dir}\n"
     "  - {name: a, type: mesi_cache, directory: d, write_ratio: 1.5}\n",
     "write_ratio", 4},
    {"  - {name: d, type: mesi_dir}\n"
     "  - {name: a, type: mesi_cache, directory: d, capacity: 0}\n",
     "capacity", 4},
    {"  - {name: d, type: mesi_dir, size: 1 MiB}\n"
     "  - {name: a, type: mesi_cache, directory: d, footprint: 512 KiB}\n"
     "  - {name: b, type: mesi_cache, directory: d, footprint: 512 KiB}\n"
     "  - {name: c, type: mesi_cache, directory: d, footprint: 512 KiB}\n",
     "exceeds directory 'd'", 6},
    {"  - {name: d, type: mesi_dir}\n"
     "  - {name: a, type: mesi_cache, directory: d, pattern: sharde}\n",
     "sharde", 4},
    {"  - {name: d, type: mesi_dir, verfy: true}\n", "verify", 3},
    {"  - {name: d, type: mesi_dir}\n"
     "  - {name: a, type: mesi_cache}\n",
     "directory", 0},
};

START_TEST(scenario_errors)
{
    const struct bad *b = &bads[_i];
    char text[2048];
    snprintf(text, sizeof text, "name: e\ncomponents:\n%s", b->yaml);
    ck_assert_msg(capture_build("e.yaml", text, 1, &err) != 0, "case %d accepted", _i);
    ck_assert_msg(strstr(err.msg, b->needle), "case %d: message '%s' lacks '%s'", _i, err.msg,
                  b->needle);
    if (b->line)
        ck_assert_msg(err.line == b->line, "case %d: mark at line %d, want %d (%s)", _i,
                      err.line, b->line, err.msg);
}
END_TEST

START_TEST(sixty_five_caches)
{
    char *text = malloc(65 * 120 + 128);
    ck_assert_ptr_nonnull(text);
    int off = sprintf(text, "name: t\ncomponents:\n  - {name: d, type: mesi_dir}\n");
    for (int i = 0; i < 65; i++)
        off += sprintf(text + off,
                       "  - {name: c%d, type: mesi_cache, directory: d, pattern: none}\n", i);
    sim_err_clear(&err);
    doc = scn_load_string("t.yaml", text, &err);
    free(text);
    ck_assert_msg(doc, "%s", err.msg);
    S = sim_create();
    ck_assert_int_eq(sim_build(S, doc, memfab_models, NULL, &err), 0);
    ck_assert_int_ne(sim_start(S, &err), 0);
    ck_assert_msg(strstr(err.msg, "64 caches"), "%s", err.msg);
}
END_TEST

static Suite *mesi_suite(void)
{
    Suite *s = suite_create("mesi");
    TCase *tc = tcase_create("Core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, read_write_share_invalidate);
    tcase_add_test(tc, upgrade_from_shared);
    tcase_add_test(tc, fwd_getm_between_owners);
    tcase_add_test(tc, evictions);
    tcase_add_test(tc, race_fwd_getm_in_im_ad);
    tcase_add_test(tc, race_putm_vs_fwd_getm);
    tcase_add_test(tc, race_putm_vs_fwd_gets);
    tcase_add_test(tc, race_inv_in_is_d);
    tcase_add_test(tc, race_fwd_gets_in_is_d);
    tcase_add_test(tc, race_gets_stalls_in_s_d);
    tcase_add_loop_test(tc, stress_jitter, 0, 3);
    tcase_add_test(tc, stress_capacity_one);
    suite_add_tcase(s, tc);

    tc = tcase_create("Limits");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sixty_four_caches_one_line);
    tcase_add_test(tc, line_range);
    tcase_add_test(tc, generator_default_run);
    suite_add_tcase(s, tc);

    tc = tcase_create("Errors");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_loop_test(tc, scenario_errors, 0, (int)(sizeof bads / sizeof bads[0]));
    tcase_add_test(tc, sixty_five_caches);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_main(mesi_suite());
}
