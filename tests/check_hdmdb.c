/*
 * check_hdmdb.c - device-managed coherence of a shared CXL memory across
 * hosts (hdm_dir: CXL 3.0 HDM-DB with back-invalidation), the
 * hierarchical protocol under it (one mesi_dir per host, `home:`), exact
 * message counts of scripted cross-host sequences, latencies by hand,
 * the single-host case against today's flat directory, randomized
 * multi-host stress with the invariants, and bad input.
 *
 * References: Compute Express Link Specification 3.0 (August 2022),
 * section 3.3.3 (Back-Invalidation Snoop: the device's inclusive snoop
 * filter tracks host caching; S2M BISnp / M2S BIRsp channels), the M2S
 * Req (MemRd, MemInv with MetaValue S / A), M2S RwD (MemWr), S2M NDR
 * (Cmp, Cmp-S, Cmp-E) and S2M DRS (MemData) message classes of section
 * 3.3, and section 3.5.1 (flows for back-invalidation snoops); the
 * host-level flows are the Primer's (Nagarajan et al., 2nd ed., Tables 8.3
 * and 8.4); flit arithmetic as in check_cohfab.c (cxl.h, 68 B flits).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/coherence/mesi.h"
#include "models/fabric/cxl.h"
#include "models/fabric/engine.h"
#include "models/registry.h"
#include "sim/scn.h"
#include "sim/sim.h"
#include "tests/capture.h"
#include "tests/check_main.h"
#include "tests/model_fixture.h"

#define NS 1000ULL

static void build(const char *text) { mfx_build("hdm.yaml", text); }
static void teardown(void) { mfx_teardown(); }
static void finish(void) { mfx_finish_at(SIM_TIME_MAX); }
static __attribute__((unused)) void finish_at(sim_time until) { mfx_finish_at(until); }
static sim_comp *C(const char *n) { return mfx_comp(n); }

/* 68 B flits, 32 GT/s x16: the time of one message of `bytes` (16: a
 * control message in one flit, 80: 64 B of data + header in two). */
static double w(uint64_t bytes)
{
    cxl_cfg cfg = {CXL_FLIT_68, 32e9, 16};
    return cxl_wire_bytes(&cfg, FAB_OP_WRITE, bytes, FAB_DIR_DATA) * 1e12 / cxl_raw_rate(&cfg);
}

static uint64_t n(const char *dir, const char *type) { return mesi_dir_count_name(C(dir), type); }

/* Two hosts behind a CXL switch (100 ns) with a shared CXL memory (200 ns
 * media latency, the device's MemData delay); a GPU (g0, g1) under each
 * host on its own CXL link; every link x16 32 GT/s, 68 B flits, 25 ns.
 * Host directories d0, d1 (home: dev, 20 ns to answer from the host's
 * copy), caches A on g0 and B on g1. */
static const char *two_hosts =
    "name: t\ncomponents:\n"
    "  - {name: h0, type: cpu, latency: 150 ns}\n"
    "  - {name: h1, type: cpu, latency: 150 ns}\n"
    "  - {name: g0, type: endpoint}\n"
    "  - {name: g1, type: endpoint}\n"
    "  - {name: csw, type: cxl_switch, latency: 100 ns}\n"
    "  - {name: pool, type: memory, kind: cxl, capacity: 1 GiB, latency: 200 ns}\n"
    "  - {name: dev, type: hdm_dir, size: 4 KiB, node: pool, verify: true}\n"
    "  - {name: d0, type: mesi_dir, size: 4 KiB, network: fabric, node: h0, home: dev,"
    " memory_latency: 20 ns, verify: true}\n"
    "  - {name: d1, type: mesi_dir, size: 4 KiB, network: fabric, node: h1, home: dev,"
    " memory_latency: 20 ns, verify: true}\n"
    "  - {name: A, type: mesi_cache, directory: d0, node: g0, pattern: none}\n"
    "  - {name: B, type: mesi_cache, directory: d1, node: g1, pattern: none}\n"
    "links:\n"
    "  - &l {name: l0, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, latency: 25 ns,"
    " ends: [g0, h0]}\n"
    "  - {<<: *l, name: l1, ends: [g1, h1]}\n"
    "  - {<<: *l, name: u0, ends: [h0, csw]}\n"
    "  - {<<: *l, name: u1, ends: [h1, csw]}\n"
    "  - {<<: *l, name: up, ends: [csw, pool]}\n";

/* A cold read: GetS g0->h0; the host holds nothing, so MemRd,S h0->csw->pool;
 * the device grants E (no other host): Cmp-E at once and MemData after the
 * 200 ns media read, pool->csw->h0; then the host's Data (exclusive, +20 ns)
 * h0->g0:
 *   (w16 + 25) + (w16 + 25 + 100 + w16 + 25) + 200 + (w80 + 25 + 100 + w80 + 25)
 *   + 20 + (w80 + 25)  [ns]
 * The Cmp-E (one flit per hop) is long gone when MemData leaves. */
START_TEST(cold_read_latency)
{
    build(two_hosts);
    mesi_cache_access(C("A"), 0, 0, 0);
    finish();
    double w16 = w(16), w80 = w(80);
    double dev = (w16 + 25e3 + 100e3 + w16 + 25e3) + 200e3 + (w80 + 25e3 + 100e3 + w80 + 25e3);
    double want = (w16 + 25e3) + dev + 20e3 + (w80 + 25e3);
    double got = capture_get(&cap, "A", "miss_latency_mean") * 1e12;
    ck_assert_msg(fabs(got - want) <= 2.0, "cold miss %.1f ps, by hand %.1f ps", got, want);
    double gd = capture_get(&cap, "d0", "device_latency_mean") * 1e12;
    ck_assert_msg(fabs(gd - dev) <= 2.0, "device latency %.1f ps, by hand %.1f ps", gd, dev);
    ck_assert_int_eq(mesi_cache_state(C("A"), 0), MESI_E);
    ck_assert_int_eq(mesi_dir_host_perm(C("d0"), 0), 2);
    ck_assert_int_eq(mesi_dir_state(C("dev"), 0), MESI_DIR_E);
    ck_assert_int_eq(mesi_dir_owner(C("dev"), 0), 0);
    /* per direction: u0 carried MemRd up (16 B, 1 flit), Cmp-E + MemData down */
    fab_hdr *h = fab_hdr_of(C("u0"));
    ck_assert_uint_eq(h->res[0].bytes, 16);
    ck_assert_uint_eq(h->res[0].units, 1);
    ck_assert_uint_eq(h->res[1].bytes, 16 + 80);
    ck_assert_uint_eq(h->res[1].units, 3);
}
END_TEST

/* Host 0 reads, host 1 writes (CXL 3.0 3.5.1: a conflicting request makes
 * the device back-invalidate the holder before granting):
 *   A: GetS (d0); MemRd,S; Cmp-E + MemData; Data to A (E)
 *   B: GetM (d1); MemRd,A; the device sees h0 own the line: BISnpInv to h0;
 *      d0 recalls A's E copy (Fwd-GetM, A's Data to d0, clean: no MemWr);
 *      BIRspI; the device grants h1: Cmp-E + MemData; Data to B (M).
 * Device: MemRd,S 1, MemRd,A 1, BISnpInv 1, BIRspI 1, Cmp-E 2, MemData 2,
 * nothing else. Host 0: GetS 1, Fwd-GetM 1, Data 2. Host 1: GetM 1, Data 1.
 * B's write miss by hand: 8 control messages (GetM, MemRd,A x2 hops, BISnpInv
 * x2, Fwd-GetM, BIRspI x2), 4 data (A's Data, MemData x2 hops, Data to B),
 * 12 link latencies, 4 switch crossings, the 200 ns media read, 20 ns at h1. */
START_TEST(read_then_remote_write)
{
    build(two_hosts);
    mesi_cache_access(C("A"), 0, 0, 0);
    mesi_cache_access(C("B"), 5000 * NS, 0, 1);
    finish();
    static const char *const zero[] = {"MemInv,A", "MemWr", "Cmp", "Cmp-S", "BISnpData",
                                       "BIRspS"};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        ck_assert_msg(n("dev", zero[i]) == 0, "%s %llu", zero[i],
                      (unsigned long long)n("dev", zero[i]));
    ck_assert_uint_eq(n("dev", "MemRd,S"), 1);
    ck_assert_uint_eq(n("dev", "MemRd,A"), 1);
    ck_assert_uint_eq(n("dev", "BISnpInv"), 1);
    ck_assert_uint_eq(n("dev", "BIRspI"), 1);
    ck_assert_uint_eq(n("dev", "Cmp-E"), 2);
    ck_assert_uint_eq(n("dev", "MemData"), 2);
    ck_assert_uint_eq(mesi_dir_stat(C("dev"), "messages"), 8);
    ck_assert_uint_eq(mesi_dir_count(C("d0"), MESI_GETS), 1);
    ck_assert_uint_eq(mesi_dir_count(C("d0"), MESI_FWD_GETM), 1);
    ck_assert_uint_eq(mesi_dir_count(C("d0"), MESI_DATA), 2);
    ck_assert_uint_eq(mesi_dir_stat(C("d0"), "messages"), 4);
    ck_assert_uint_eq(mesi_dir_count(C("d1"), MESI_GETM), 1);
    ck_assert_uint_eq(mesi_dir_count(C("d1"), MESI_DATA), 1);
    ck_assert_uint_eq(mesi_dir_stat(C("d1"), "messages"), 2);
    ck_assert_int_eq(mesi_cache_state(C("A"), 0), MESI_I);
    ck_assert_int_eq(mesi_cache_state(C("B"), 0), MESI_M);
    ck_assert_int_eq(mesi_dir_host_perm(C("d0"), 0), 0);
    ck_assert_int_eq(mesi_dir_host_perm(C("d1"), 0), 2);
    ck_assert_int_eq(mesi_dir_owner(C("dev"), 0), 1);
    ck_assert_uint_eq(mesi_dir_errors(C("dev")), 0);
    ck_assert(mesi_dir_check(C("dev")));
    ck_assert(mesi_dir_quiescent(C("dev")));
    double w16 = w(16), w80 = w(80);
    double want = 8 * w16 + 4 * w80 + 12 * 25e3 + 4 * 100e3 + 200e3 + 20e3;
    double got = capture_get(&cap, "B", "miss_latency_mean") * 1e12;
    ck_assert_msg(fabs(got - want) <= 2.0, "cross-host write miss %.1f ps, by hand %.1f ps",
                  got, want);
}
END_TEST

/* Host 0 writes, host 1 reads, host 0 writes again:
 *   A: GetM; MemRd,A; Cmp-E + MemData; A in M (version 1).
 *   B: GetS (d1); MemRd,S; BISnpData to h0; d0 downgrades A (Fwd-GetS with
 *      d0 as requester: A's one Data to d0, A in S); the host copy is newer
 *      than the device's: MemWr (data), Cmp, then BIRspS; the device now has
 *      S {h0}: MemData + Cmp-S to h1; d1 holds S so B gets S (not E).
 *   A: store hits S: GetM (d0); d0 holds S: MemInv,A; BISnpInv to h1; d1
 *      invalidates B (Inv, Inv-Ack), BIRspI; the device grants E without
 *      data (Cmp-E alone); d0's Data (ack count 0) makes A M.
 * Device: MemRd,A 1, MemRd,S 1, MemInv,A 1, MemWr 1, Cmp 1, BISnpData 1,
 * BIRspS 1, BISnpInv 1, BIRspI 1, Cmp-E 2, Cmp-S 1, MemData 2 = 14. */
START_TEST(write_read_upgrade)
{
    build(two_hosts);
    mesi_cache_access(C("A"), 0, 0, 1);
    mesi_cache_access(C("B"), 5000 * NS, 0, 0);
    mesi_cache_access(C("A"), 10000 * NS, 0, 1);
    finish();
    struct { const char *t; uint64_t v; } want[] = {
        {"MemRd,S", 1}, {"MemRd,A", 1}, {"MemInv,A", 1}, {"MemWr", 1}, {"MemData", 2},
        {"Cmp", 1},     {"Cmp-S", 1},   {"Cmp-E", 2},    {"BISnpData", 1}, {"BISnpInv", 1},
        {"BIRspS", 1},  {"BIRspI", 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(n("dev", want[i].t) == want[i].v, "%s: %llu, want %llu", want[i].t,
                      (unsigned long long)n("dev", want[i].t), (unsigned long long)want[i].v);
    ck_assert_uint_eq(mesi_dir_stat(C("dev"), "messages"), 14);
    ck_assert_uint_eq(mesi_dir_stat(C("d0"), "writebacks"), 1);
    /* host 0: GetM x2, Fwd-GetS 1, Data: grant, A's downgrade, the upgrade's = 3 */
    ck_assert_uint_eq(mesi_dir_count(C("d0"), MESI_GETM), 2);
    ck_assert_uint_eq(mesi_dir_count(C("d0"), MESI_FWD_GETS), 1);
    ck_assert_uint_eq(mesi_dir_count(C("d0"), MESI_DATA), 3);
    ck_assert_uint_eq(mesi_dir_stat(C("d0"), "messages"), 6);
    /* host 1: GetS, Data (shared), Inv, Inv-Ack */
    ck_assert_uint_eq(mesi_dir_count(C("d1"), MESI_GETS), 1);
    ck_assert_uint_eq(mesi_dir_count(C("d1"), MESI_DATA), 1);
    ck_assert_uint_eq(mesi_dir_count(C("d1"), MESI_INV), 1);
    ck_assert_uint_eq(mesi_dir_count(C("d1"), MESI_INV_ACK), 1);
    ck_assert_uint_eq(mesi_dir_stat(C("d1"), "messages"), 4);
    ck_assert_int_eq(mesi_cache_state(C("A"), 0), MESI_M);
    ck_assert_int_eq(mesi_cache_state(C("B"), 0), MESI_I);
    ck_assert_uint_eq(mesi_cache_stat(C("B"), "loads"), 1);
    ck_assert_uint_eq(mesi_dir_errors(C("dev")), 0); /* B's load saw version 1 */
    ck_assert(mesi_dir_quiescent(C("dev")));
}
END_TEST

/* One host: the host directory under an hdm_dir gives exactly the MESI
 * message counts of today's flat directory on the host for the same
 * script (accesses spaced so none overlaps); the device adds one request
 * per line the host first touches (line 0 read: MemRd,S; line 1 written:
 * MemRd,A; line 2 read then written by the other cache: MemRd,S), each
 * answered Cmp-E + MemData, and no snoop. */
static const char *one_host_fmt =
    "name: t\ncomponents:\n"
    "  - {name: h0, type: cpu, latency: 150 ns}\n"
    "  - {name: g0, type: endpoint}\n"
    "  - {name: g1, type: endpoint}\n"
    "  - {name: csw, type: cxl_switch, latency: 100 ns}\n"
    "  - {name: pool, type: memory, kind: cxl, capacity: 1 GiB, latency: 200 ns}\n"
    "%s"
    "  - {name: A, type: mesi_cache, directory: d0, node: g0, pattern: none, capacity: 2}\n"
    "  - {name: B, type: mesi_cache, directory: d0, node: g1, pattern: none, capacity: 2}\n"
    "links:\n"
    "  - &l {name: l0, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 16, latency: 25 ns,"
    " ends: [g0, h0]}\n"
    "  - {<<: *l, name: l1, ends: [g1, h0]}\n"
    "  - {<<: *l, name: u0, ends: [h0, csw]}\n"
    "  - {<<: *l, name: up, ends: [csw, pool]}\n";

static void one_host_script(void)
{
    static const struct { const char *c; uint64_t line; int write; } ops[] = {
        {"A", 0, 0}, {"B", 0, 0}, {"A", 1, 1}, {"B", 1, 0}, {"A", 0, 1}, {"B", 2, 0},
        {"A", 2, 1}, {"B", 0, 0}, {"B", 1, 1}, {"A", 1, 0}, {"A", 2, 0}, {"B", 2, 1}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        mesi_cache_access(C(ops[i].c), (sim_time)i * 5000 * NS, ops[i].line, ops[i].write);
}

START_TEST(single_host_equals_flat)
{
    char text[4096];
    uint64_t flat[MESI_NMSG];
    snprintf(text, sizeof text, one_host_fmt,
             "  - {name: d0, type: mesi_dir, size: 4 KiB, network: fabric, node: h0,"
             " verify: true}\n");
    build(text);
    one_host_script();
    finish();
    ck_assert_uint_eq(mesi_dir_errors(C("d0")), 0);
    for (int t = 0; t < MESI_NMSG; t++)
        flat[t] = mesi_dir_count(C("d0"), (mesi_msg)t);
    ck_assert_uint_gt(flat[MESI_PUTE] + flat[MESI_PUTM] + flat[MESI_PUTS], 0); /* evictions */
    snprintf(text, sizeof text, one_host_fmt,
             "  - {name: dev, type: hdm_dir, size: 4 KiB, node: pool, verify: true}\n"
             "  - {name: d0, type: mesi_dir, size: 4 KiB, network: fabric, node: h0,"
             " home: dev, verify: true}\n");
    build(text);
    one_host_script();
    finish();
    for (int t = 0; t < MESI_NMSG; t++)
        ck_assert_msg(mesi_dir_count(C("d0"), (mesi_msg)t) == flat[t], "%s: %llu vs flat %llu",
                      mesi_msg_name((mesi_msg)t),
                      (unsigned long long)mesi_dir_count(C("d0"), (mesi_msg)t),
                      (unsigned long long)flat[t]);
    ck_assert_uint_eq(n("dev", "MemRd,S"), 2);
    ck_assert_uint_eq(n("dev", "MemRd,A"), 1);
    ck_assert_uint_eq(n("dev", "Cmp-E"), 3);
    ck_assert_uint_eq(n("dev", "MemData"), 3);
    ck_assert_uint_eq(mesi_dir_stat(C("dev"), "messages"), 9);
    ck_assert_uint_eq(mesi_dir_errors(C("dev")), 0);
}
END_TEST

/* Randomized stress: `hosts` hosts behind one CXL switch, on each a cache
 * on the host CPU and on two GPUs (two caches on the second), a small
 * shared footprint, small caches, a small snoop filter in each host and at
 * the device, directory occupancy: SWMR across hosts and the data value
 * hold after every event (verify), the run ends quiescent, every access is
 * performed, and back-invalidations happened (conflicts and evictions). */
START_TEST(stress_multi_host)
{
    static const int hosts_of[] = {2, 3, 4, 3};
    int hosts = hosts_of[_i];
    char text[16384];
    int off = snprintf(text, sizeof text,
                       "name: s\nseed: %d\ncomponents:\n"
                       "  - {name: csw, type: cxl_switch, latency: 80 ns}\n"
                       "  - {name: pool, type: memory, kind: cxl, latency: 150 ns}\n"
                       "  - {name: dev, type: hdm_dir, size: 2 KiB, node: pool, snoop_filter: %d,"
                       " occupancy: 4 ns, verify: true}\n",
                       _i + 11, 6 + _i);
    for (int h = 0; h < hosts; h++)
        off += snprintf(text + off, sizeof text - (size_t)off,
                        "  - {name: h%d, type: cpu}\n"
                        "  - {name: h%dg0, type: endpoint}\n"
                        "  - {name: h%dg1, type: endpoint}\n"
                        "  - {name: d%d, type: mesi_dir, size: 2 KiB, network: fabric, node: h%d,"
                        " home: dev, snoop_filter: 5, occupancy: 3 ns, memory_latency: 10 ns,"
                        " verify: true}\n"
                        "  - {name: c%dh, type: mesi_cache, directory: d%d, node: h%d,"
                        " pattern: shared, footprint: 2 KiB, capacity: 4, write_ratio: 0.3,"
                        " interval: 40 ns, accesses: 300}\n"
                        "  - {name: c%da, type: mesi_cache, directory: d%d, node: h%dg0,"
                        " pattern: migratory, footprint: 1 KiB, capacity: 3, interval: 40 ns,"
                        " accesses: 300}\n"
                        "  - {name: c%db, type: mesi_cache, directory: d%d, node: h%dg1,"
                        " pattern: shared, footprint: 2 KiB, capacity: 2, write_ratio: 0.5,"
                        " interval: 30 ns, accesses: 300}\n"
                        "  - {name: c%dc, type: mesi_cache, directory: d%d, node: h%dg1,"
                        " pattern: producer_consumer, footprint: 512 B, capacity: 4,"
                        " write_ratio: 0.4, interval: 50 ns, accesses: 300}\n",
                        h, h, h, h, h, h, h, h, h, h, h, h, h, h, h, h, h);
    off += snprintf(text + off, sizeof text - (size_t)off, "links:\n");
    for (int h = 0; h < hosts; h++)
        off += snprintf(text + off, sizeof text - (size_t)off,
                        "  - {name: u%d, type: cxl, flit: 256B, rate: 64 GT/s, lanes: 8,"
                        " latency: 20 ns, ends: [h%d, csw]}\n"
                        "  - {name: a%d, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 4,"
                        " latency: 15 ns, ends: [h%dg0, h%d]}\n"
                        "  - {name: b%d, type: cxl, flit: 68B, rate: 32 GT/s, lanes: 4,"
                        " latency: 15 ns, ends: [h%dg1, h%d]}\n",
                        h, h, h, h, h, h, h, h);
    snprintf(text + off, sizeof text - (size_t)off,
             "  - {name: up, type: cxl, flit: 256B, rate: 64 GT/s, lanes: 16, latency: 20 ns,"
             " ends: [csw, pool]}\n");
    build(text);
    finish();
    sim_comp *D = C("dev");
    ck_assert_uint_eq(mesi_dir_errors(D), 0);
    ck_assert(mesi_dir_check(D));
    ck_assert_msg(mesi_dir_quiescent(D), "not quiescent");
    uint64_t acc = 0;
    for (int h = 0; h < hosts; h++) {
        char nm[16];
        snprintf(nm, sizeof nm, "d%d", h);
        acc += mesi_dir_stat(C(nm), "loads") + mesi_dir_stat(C(nm), "stores");
    }
    ck_assert_uint_eq(acc, (uint64_t)hosts * (300 * 3 + 600)); /* migratory: load + store */
    ck_assert_uint_gt(mesi_dir_stat(D, "conflict_snoops"), 0);
    ck_assert_uint_gt(mesi_dir_stat(D, "back_invalidations"), 0);
    ck_assert_uint_gt(n("dev", "BISnpData"), 0);
    ck_assert_uint_gt(n("dev", "MemWr"), 0);
    ck_assert_uint_eq(n("dev", "BISnpData") + n("dev", "BISnpInv"),
                      n("dev", "BIRspS") + n("dev", "BIRspI"));
    ck_assert_uint_eq(n("dev", "MemWr"), n("dev", "Cmp"));
}
END_TEST

/* The same over the ideal network (each message `latency`, the host's Data
 * `memory_latency` later, so Puts overtake Data and snoops overtake
 * grants): three hosts, two caches each; invariants and quiescence. */
START_TEST(stress_ideal_network)
{
    char text[4096];
    int off = snprintf(text, sizeof text,
                       "name: i\nseed: %d\ncomponents:\n"
                       "  - {name: dev, type: hdm_dir, size: 4 KiB, network: ideal, latency: 30 ns,"
                       " verify: true}\n", _i + 1);
    for (int h = 0; h < 3; h++)
        off += snprintf(text + off, sizeof text - (size_t)off,
                        "  - {name: d%d, type: mesi_dir, size: 4 KiB, home: dev, verify: true}\n"
                        "  - {name: a%d, type: mesi_cache, directory: d%d, pattern: shared,"
                        " footprint: 1 KiB, capacity: 4, accesses: 1500, write_ratio: 0.3}\n"
                        "  - {name: b%d, type: mesi_cache, directory: d%d, pattern: migratory,"
                        " footprint: 512 B, capacity: 2, accesses: 1500}\n",
                        h, h, h, h, h);
    build(text);
    finish();
    ck_assert_uint_eq(mesi_dir_errors(C("dev")), 0);
    ck_assert(mesi_dir_check(C("dev")));
    ck_assert_msg(mesi_dir_quiescent(C("dev")), "not quiescent");
    ck_assert_uint_gt(n("dev", "BISnpData"), 0);
}
END_TEST

/* The example scenario runs clean: four hosts, back-invalidations, every
 * snoop answered (bar those in flight at the stop), no error. */
START_TEST(example_scenario_runs)
{
    const char *src = getenv("MEMFAB_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/scenarios/cxl-shared-hosts.yaml", src ? src : ".");
    mfx_build(path, NULL);
    mfx_finish_at(sim_stop_time(S));
    ck_assert_uint_eq(mesi_dir_errors(C("dev")), 0);
    ck_assert_uint_eq(mesi_dir_stat(C("dev"), "hosts"), 4);
    uint64_t snp = n("dev", "BISnpData") + n("dev", "BISnpInv");
    uint64_t rsp = n("dev", "BIRspS") + n("dev", "BIRspI");
    ck_assert_uint_gt(snp, 0);
    ck_assert(rsp <= snp && snp - rsp <= 4);
}
END_TEST

/* Bad input: build or start fails with the node's line and column. */
static void bad(const char *text, const char *needle, int line) { mfx_bad(text, needle, line); }

#define HOSTS                                                                              \
    "name: b\ncomponents:\n"                                                               \
    "  - {name: h0, type: cpu}\n  - {name: h1, type: cpu}\n"                               \
    "  - {name: g0, type: endpoint}\n  - {name: g1, type: endpoint}\n"                     \
    "  - {name: csw, type: cxl_switch}\n"                                                  \
    "  - {name: pool, type: memory, kind: cxl}\n"
#define LINKS(g0link)                                                                      \
    "links:\n"                                                                             \
    "  - {name: l0, type: " g0link ", ends: [g0, h0]}\n"                                   \
    "  - {name: l1, type: cxl, ends: [g1, h1]}\n"                                          \
    "  - {name: u0, type: cxl, ends: [h0, csw]}\n"                                         \
    "  - {name: u1, type: cxl, ends: [h1, csw]}\n"                                         \
    "  - {name: up, type: cxl, ends: [csw, pool]}\n"

START_TEST(errors)
{
    /* a flat domain spanning two hosts (a route exists, through the switch) */
    bad(HOSTS "  - {name: d, type: mesi_dir, network: fabric, node: h0}\n"
              "  - {name: A, type: mesi_cache, directory: d, pattern: none, node: g0}\n"
              "  - {name: B, type: mesi_cache, directory: d, pattern: none,\n"
              "     node: g1}\n" LINKS("cxl"),
        "a coherence domain spanning hosts needs a shared CXL memory", 12);
    /* a snoop filter of zero lines at the device */
    bad(HOSTS "  - {name: dev, type: hdm_dir, node: pool,\n     snoop_filter: 0}\n" LINKS("cxl"),
        "hdm_dir 'dev': a snoop filter needs at least 1 line", 10);
    /* a device whose only path to its host is PCIe */
    bad(HOSTS "  - {name: dev, type: hdm_dir, node: pool}\n"
              "  - {name: d0, type: mesi_dir, network: fabric, node: h0, home: dev}\n"
              "  - {name: A, type: mesi_cache, directory: d0, pattern: none,\n"
              "     node: g0}\n" LINKS("pcie"),
        "device 'g0' has no CXL path to the shared memory", 12);
    /* the device-level directory must sit on a CXL memory */
    bad(HOSTS "  - {name: dev, type: hdm_dir,\n     node: h1}\n"
              "  - {name: d0, type: mesi_dir, network: fabric, node: h0, home: dev}\n" LINKS("cxl"),
        "must name the shared CXL memory", 10);
    /* home: names something else */
    bad(HOSTS "  - {name: d0, type: mesi_dir, network: fabric, node: h0,\n     home: pool}\n"
        LINKS("cxl"),
        "home 'pool' is not an hdm_dir", 10);
    /* a host directory's size must be its device's */
    bad(HOSTS "  - {name: dev, type: hdm_dir, node: pool, size: 8 KiB}\n"
              "  - {name: d0, type: mesi_dir, network: fabric, node: h0,\n     home: dev}\n"
              LINKS("cxl"),
        "differs from its hdm_dir", 11);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hdmdb");
    TCase *core = tcase_create("Core");
    tcase_add_checked_fixture(core, NULL, teardown);
    tcase_set_timeout(core, 300);
    tcase_add_test(core, cold_read_latency);
    tcase_add_test(core, read_then_remote_write);
    tcase_add_test(core, write_read_upgrade);
    tcase_add_test(core, single_host_equals_flat);
    tcase_add_loop_test(core, stress_multi_host, 0, 4);
    tcase_add_loop_test(core, stress_ideal_network, 0, 8);
    tcase_add_test(core, example_scenario_runs);
    suite_add_tcase(s, core);
    TCase *er = tcase_create("Errors");
    tcase_add_checked_fixture(er, NULL, teardown);
    tcase_add_test(er, errors);
    suite_add_tcase(s, er);
    return check_main(s);
}
