/*
 * res.h - the results store: SQLite databases that follow the results
 * contract, version 1 (DESIGN.md), with the schema in results/schema.sql
 * compiled into the binary.
 *
 * A database is appended to, never truncated: each run adds one `runs` row
 * (status `running`, then `complete`, `interrupted` or `failed`) and rows
 * keyed by its run_id. The runs row is committed by res_run_begin. Rows
 * are staged in the connection's memory and moved into the file in short
 * write transactions: when RES_BATCH_ROWS rows are staged, when the first
 * of them is RES_BATCH_SECONDS old (checked as rows arrive and by res_tick
 * from the run loop), on res_flush and at the end of the run. So a crash or kill -9 leaves the database
 * consistent, the run marked `running` (which readers must treat as
 * incomplete) with its rows up to the last commit, and the write lock is
 * held only for those commits: several runs, plots and compares can use
 * one database at once (WAL journal, a busy timeout of
 * RES_BUSY_TIMEOUT_MS). A file that exists but is not a memfab database,
 * or that fails SQLite's quick check, is refused.
 *
 * The `meta` table records the contract version ("contract" = "1") and the
 * application ("application" = "memfab").
 */
#ifndef MEMFAB_RESULTS_RES_H
#define MEMFAB_RESULTS_RES_H

#include <stdint.h>

#include "sim/err.h"

typedef struct res_db res_db;

#define RES_CONTRACT_VERSION 1

/* Rows per batch transaction: a commit happens after this many rows ... */
#define RES_BATCH_ROWS 10000
/* ... or when the oldest uncommitted row is this many seconds old. */
#define RES_BATCH_SECONDS 2.0
/* How long a writer waits for another one's lock before it gives up with
 * a message that says so. */
#define RES_BUSY_TIMEOUT_MS 30000
#define RES_BUSY_TIMEOUT_TEXT "30 s"

/* A request time that never happened (no first token, not finished):
 * pass it to res_request and the column is stored as NULL. */
#define RES_NO_TIME UINT64_MAX

/* Open (creating if absent) a results database. An existing empty file or a
 * memfab database of a compatible contract is accepted; anything else is
 * refused with SIM_EFORMAT ("FILE is not a memfab results database").
 * Free with res_close(), which commits pending rows. */
res_db *res_open(const char *path, sim_err *err);
/* res_open for a scratch file that the caller makes durable itself (an
 * fsync of the file before it publishes it, e.g. by rename): SQLite never
 * syncs it (synchronous = OFF). The file's content is the same. A sweep's
 * point databases and its merge: a fresh database syncs its journal some
 * 13 times, each an I/O wait of up to milliseconds on a busy disk. */
res_db *res_open_nosync(const char *path, sim_err *err);
/* Open read-only (for tools); fails if the file does not exist. */
res_db *res_open_readonly(const char *path, sim_err *err);
void res_close(res_db *db);

/* The underlying handle, for tools that query (plot, compare). */
struct sqlite3 *res_handle(res_db *db);

/* Begin a run: inserts the `runs` row with status 'running' and started_at
 * = now (UTC ISO-8601) and commits it at once; the run's rows that follow
 * go into batch transactions (the first row opens one).
 * Returns the new run_id (> 0) or a negative SIM_E* code. */
int64_t res_run_begin(res_db *db, const char *name, const char *scenario_sha256,
                      uint64_t seed, const char *version, sim_err *err);

/* Finish the run: sets status ('complete', 'interrupted' or 'failed'),
 * wall_s, sim_time_ps and events, and commits everything. */
int res_run_end(res_db *db, const char *status, double wall_s, uint64_t sim_time_ps,
                uint64_t events, sim_err *err);
/* Set the run's error message (runs.error), e.g. for a failed run. */
int res_run_error(res_db *db, const char *message);

/* Rows of the current run. Each returns 0 or a negative code. */
int res_param(res_db *db, const char *key, const char *value);
/* A param with its origin (params.origin): RES_ORIGIN_SCENARIO for what the
 * scenario or a --set wrote, RES_ORIGIN_DEFAULT for a parameter left at its
 * default (never replaces a value already written for the key), NULL for
 * memfab's own keys. */
#define RES_ORIGIN_SCENARIO "scenario"
#define RES_ORIGIN_DEFAULT "default"
int res_param_from(res_db *db, const char *key, const char *value, const char *origin);
int res_metric(res_db *db, const char *scope, const char *name, double value, const char *unit);
int res_link(res_db *db, const char *link, const char *direction, uint64_t bytes,
             uint64_t packets, uint64_t busy_ps, double utilization);
/* The same with the network columns: packets dropped at the buffer the
 * direction leaves, time its sender was paused (PFC), packets ECN-marked. */
int res_link_net(res_db *db, const char *link, const char *direction, uint64_t bytes,
                 uint64_t packets, uint64_t busy_ps, double utilization, uint64_t drops,
                 uint64_t pause_ps, uint64_t ecn_marks);
int res_timeseries(res_db *db, const char *scope, const char *name, uint64_t t_ps, double value);
/* The same with the unit of value (timeseries.unit; NULL when unknown). */
int res_timeseries_unit(res_db *db, const char *scope, const char *name, uint64_t t_ps,
                        double value, const char *unit);
int res_request(res_db *db, uint64_t req_id, const char *session, const char *instance,
                uint64_t arrival_ps, uint64_t first_token_ps, uint64_t finish_ps,
                uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens);
/* The same for a disaggregated request: the prefill instance (instance is
 * the decode one), KV bytes moved, the wait for the decode side's
 * reservation and the transfer time exposed after the prefill; with
 * prefill_instance NULL those columns are NULL. */
int res_request_pd(res_db *db, uint64_t req_id, const char *session, const char *instance,
                   uint64_t arrival_ps, uint64_t first_token_ps, uint64_t finish_ps,
                   uint64_t input_tokens, uint64_t output_tokens, uint64_t cached_tokens,
                   const char *prefill_instance, uint64_t kv_bytes, uint64_t kv_wait_ps,
                   uint64_t kv_transfer_ps);
int res_kv(res_db *db, const char *instance, const char *tier, uint64_t hits, uint64_t misses,
           uint64_t evictions, uint64_t bytes_in, uint64_t bytes_out);
int res_coherence(res_db *db, const char *directory, const char *message, uint64_t count);

/* Commit the rows written so far (the run loop calls it after the params,
 * so that they are in the file before the simulation starts). */
int res_flush(res_db *db);
/* Commit after rows rows or seconds seconds instead (0: the default);
 * for tests. */
void res_set_batch(res_db *db, unsigned rows, double seconds);
/* Commit the staged rows if the first of them has waited the batch time:
 * the run loop calls this often (sim_sink.tick), so rows are committed on
 * time even when no further row arrives. 0 or a negative SIM_E* code. */
int res_tick(res_db *db);
/* Remove the database file path and its -wal, -shm and -journal companions
 * (a stale WAL must not be replayed into a new file of the same name).
 * Returns 0, or -1 with errno set when path itself could not be removed
 * (ENOENT included). */
int res_remove(const char *path);

/* The run_id of the run in progress, or 0. */
int64_t res_current_run(const res_db *db);

/* The message of the last failure of a row function (res_param ...
 * res_flush), or "" when there was none. Valid until the next call. */
const char *res_errmsg(const res_db *db);

/* Copy every run of the memfab database src_path into dst, with fresh
 * run_ids in dst, together with all their rows (params, metrics, links,
 * timeseries, requests, kv, coherence); status, times and errors are kept.
 * The copy is one transaction: all runs or none. src is opened read-only
 * and refused like res_open refuses a foreign file; it may not be dst's
 * own file, and dst may not have a run in progress. Returns the number of
 * runs copied (>= 0) or a negative SIM_E* code. */
int res_merge(res_db *dst, const char *src_path, sim_err *err);

/* Many sources into one dst (a sweep's points): res_merger_add is
 * res_merge of one source, with the same result and errors, but a source
 * whose schema equals the last one checked is checked by one query and
 * reuses its copy statements. dst must outlive the merger. */
typedef struct res_merger res_merger;
res_merger *res_merger_new(res_db *dst, sim_err *err);
int res_merger_add(res_merger *m, const char *src_path, sim_err *err);
void res_merger_free(res_merger *m);

/* Record files (res.c, "record files"): a database's runs and rows as a
 * flat file that the merger reads without opening the database (whose
 * ATTACH parses its schema). res_records_take reads them on db's own
 * connection (writable, no run in progress); res_records_save writes them
 * to rec_path, bound to db_path's file as it is now (device, inode, size,
 * mtime: a later rename keeps them, a later write does not).
 * res_merger_add_records merges the records when rec_path is a valid
 * record file bound to src_path and its columns are dst's, and otherwise
 * (missing, damaged, stale, other columns) src_path itself through
 * res_merger_add; either gives the same dst. *used (may be NULL) says
 * whether the records were used. */
typedef struct res_records res_records;
res_records *res_records_take(res_db *db, sim_err *err);
int res_records_save(const res_records *r, const char *db_path, const char *rec_path,
                     sim_err *err);
void res_records_free(res_records *r);
int res_merger_add_records(res_merger *m, const char *rec_path, const char *src_path,
                           int *used, sim_err *err);

/* Batches: the records of up to `points` sources (record files) go into
 * dst in one transaction instead of one each (1, the default: one each).
 * A source merged from its database first commits the batch (ATTACH needs
 * autocommit), a record that fails half-way is undone alone (savepoint),
 * and a failed commit is an error (the batch's points are not in dst).
 * The batch is committed when full, by res_merger_commit (SIM_OK or an
 * error) and by res_merger_free; meanwhile only the merger may use dst.
 * The rows, their order and dst's bytes are those of one transaction per
 * source (check_res merger_batches_same_file): a batch saves the commits'
 * WAL frames (each page once per batch instead of once per point). */
int res_merger_set_batch(res_merger *m, unsigned points);
int res_merger_commit(res_merger *m, sim_err *err);

#endif
