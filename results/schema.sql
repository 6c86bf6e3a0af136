-- schema.sql - the memfab results database, results contract version 1
-- (DESIGN.md, "Results contract, version 1").
--
-- This file is compiled into memfab (build/<variant>/gen/schema_sql.c) and
-- applied to every database memfab opens for writing, new or existing, so
-- every statement is idempotent: CREATE ... IF NOT EXISTS, INSERT OR IGNORE.
-- Nothing here drops, truncates or rewrites existing rows.
--
-- Units: every *_ps column is integer picoseconds, every bytes* column is
-- integer bytes. Integers are SQLite's signed 64 bits: a uint64 value of
-- 2^63 or more (only plausible for seed) is stored modulo 2^64, i.e. as
-- a negative number that casts back to the same uint64.
--
-- Every run appends one `runs` row; all other tables are keyed by its
-- run_id. A run whose status is still 'running' did not finish (crashed,
-- killed, or still going): readers must treat it as incomplete.

-- What this file is: contract version and application.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('application', 'memfab');
INSERT OR IGNORE INTO meta (key, value) VALUES ('contract', '1');

-- One row per run. AUTOINCREMENT: a run_id is never reused.
CREATE TABLE IF NOT EXISTS runs (
    run_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL,     -- scenario name
    scenario_sha256 TEXT,              -- hex digest of the scenario file
    seed            INTEGER NOT NULL,  -- scenario seed (after --seed)
    version         TEXT,              -- memfab version (git describe)
    started_at      TEXT NOT NULL,     -- UTC ISO-8601, e.g. 2026-01-31T12:00:00.000Z
    wall_s          REAL,              -- wall-clock seconds; NULL while running
    sim_time_ps     INTEGER,           -- simulated time reached; NULL while running
    events          INTEGER,           -- events processed; NULL while running
    status          TEXT NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
    error           TEXT               -- message of a failed run, else NULL
);

-- The effective scenario, flattened (dotted keys), after overrides, and
-- every parameter the scenario left at its default (as config.ini lists
-- every parameter of a gem5 run): origin says which. memfab's own keys
-- (sweep.*, memfab.*) have origin NULL.
CREATE TABLE IF NOT EXISTS params (
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    key    TEXT NOT NULL,
    value  TEXT,
    origin TEXT,                       -- 'scenario' (written, or --set), 'default', or NULL
    PRIMARY KEY (run_id, key)
);

-- Scalar results; scope is a component name or 'run'.
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    scope  TEXT NOT NULL,
    name   TEXT NOT NULL,
    value  REAL,
    unit   TEXT
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics (run_id, scope, name);

-- Traffic per link and direction.
CREATE TABLE IF NOT EXISTS links (
    run_id      INTEGER NOT NULL REFERENCES runs (run_id),
    link        TEXT NOT NULL,
    direction   TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    packets     INTEGER NOT NULL,
    busy_ps     INTEGER NOT NULL,
    utilization REAL,                  -- busy_ps / sim_time_ps, 0..1
    drops       INTEGER NOT NULL DEFAULT 0,  -- packets dropped at the buffer this direction leaves
    pause_ps    INTEGER NOT NULL DEFAULT 0,  -- time this direction's sender was paused (PFC)
    ecn_marks   INTEGER NOT NULL DEFAULT 0   -- packets ECN-marked at that buffer
);
CREATE INDEX IF NOT EXISTS links_run ON links (run_id, link);

-- Sampled time series.
CREATE TABLE IF NOT EXISTS timeseries (
    run_id INTEGER NOT NULL REFERENCES runs (run_id),
    scope  TEXT NOT NULL,
    name   TEXT NOT NULL,
    t_ps   INTEGER NOT NULL,
    value  REAL,
    unit   TEXT                        -- of value: B/s, B, requests, ... (the model declares it)
);
CREATE INDEX IF NOT EXISTS timeseries_run ON timeseries (run_id, scope, name, t_ps);

-- One row per request of the workload. first_token_ps and finish_ps are
-- NULL for a request that never produced a token or never finished.
CREATE TABLE IF NOT EXISTS requests (
    run_id         INTEGER NOT NULL REFERENCES runs (run_id),
    req_id         INTEGER NOT NULL,
    session        TEXT,
    instance       TEXT,               -- serving instance chosen by the router
    arrival_ps     INTEGER,
    first_token_ps INTEGER,
    finish_ps      INTEGER,
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    cached_tokens  INTEGER NOT NULL,   -- input tokens served from the KV cache
    -- prefill/decode disaggregation (NULL for colocated requests); `instance`
    -- is then the decode instance
    prefill_instance TEXT,             -- instance that computed the prompt
    kv_bytes       INTEGER,            -- KV bytes moved to the decode instance
    kv_wait_ps     INTEGER,            -- waiting for the decode side's KV reservation
    kv_transfer_ps INTEGER             -- KV transfer exposed after the prefill ended
);
CREATE INDEX IF NOT EXISTS requests_run ON requests (run_id, req_id);

-- KV cache counters per instance and tier.
CREATE TABLE IF NOT EXISTS kv (
    run_id    INTEGER NOT NULL REFERENCES runs (run_id),
    instance  TEXT NOT NULL,
    tier      TEXT NOT NULL,
    hits      INTEGER NOT NULL,
    misses    INTEGER NOT NULL,
    evictions INTEGER NOT NULL,
    bytes_in  INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_run ON kv (run_id, instance, tier);

-- Coherence messages per directory and message type.
CREATE TABLE IF NOT EXISTS coherence (
    run_id    INTEGER NOT NULL REFERENCES runs (run_id),
    directory TEXT NOT NULL,
    message   TEXT NOT NULL,
    count     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS coherence_run ON coherence (run_id, directory);

-- Standard views. They compute, never store; integer division keeps
-- derived times in integer picoseconds.

-- Per-request latencies: time to first token, end to end, time per output
-- token after the first. NULL where undefined (no first token, not finished,
-- fewer than two output tokens).
CREATE VIEW IF NOT EXISTS request_latency AS
SELECT run_id, req_id, session, instance, arrival_ps,
       input_tokens, output_tokens, cached_tokens,
       first_token_ps - arrival_ps AS ttft_ps,
       finish_ps - arrival_ps AS e2e_ps,
       CASE WHEN output_tokens > 1
            THEN (finish_ps - first_token_ps) / (output_tokens - 1)
       END AS tpot_ps
FROM requests;

-- One line per run: the runs row, request counts, mean latencies, token
-- throughput and the prefix-cache share of input tokens.
CREATE VIEW IF NOT EXISTS run_summary AS
SELECT r.run_id, r.name, r.status, r.started_at, r.seed, r.version,
       r.wall_s, r.sim_time_ps, r.events,
       CASE WHEN r.wall_s > 0 THEN r.events / r.wall_s END AS events_per_s,
       COALESCE(q.requests, 0) AS requests,
       COALESCE(q.finished, 0) AS finished,
       q.mean_ttft_ps, q.max_ttft_ps, q.mean_e2e_ps, q.max_e2e_ps, q.mean_tpot_ps,
       q.input_tokens, q.output_tokens, q.cached_tokens,
       CASE WHEN q.input_tokens > 0
            THEN CAST(q.cached_tokens AS REAL) / q.input_tokens END AS cached_share,
       CASE WHEN r.sim_time_ps > 0
            THEN q.output_tokens * 1e12 / r.sim_time_ps END AS output_tokens_per_s
FROM runs AS r
LEFT JOIN (
    SELECT run_id, COUNT(*) AS requests, COUNT(e2e_ps) AS finished,
           CAST(AVG(ttft_ps) AS INTEGER) AS mean_ttft_ps, MAX(ttft_ps) AS max_ttft_ps,
           CAST(AVG(e2e_ps) AS INTEGER) AS mean_e2e_ps, MAX(e2e_ps) AS max_e2e_ps,
           CAST(AVG(tpot_ps) AS INTEGER) AS mean_tpot_ps,
           SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
           SUM(cached_tokens) AS cached_tokens
    FROM request_latency GROUP BY run_id
) AS q ON q.run_id = r.run_id;

-- KV cache hit ratio per run, instance and tier.
CREATE VIEW IF NOT EXISTS kv_hit_ratio AS
SELECT run_id, instance, tier, hits, misses, evictions, bytes_in, bytes_out,
       CASE WHEN hits + misses > 0
            THEN CAST(hits AS REAL) / (hits + misses) END AS hit_ratio
FROM kv;

-- Metrics with the run they belong to, for comparisons across runs.
CREATE VIEW IF NOT EXISTS run_metrics AS
SELECT m.run_id, r.name AS run_name, r.status, r.seed, m.scope, m.name, m.value, m.unit
FROM metrics AS m JOIN runs AS r ON r.run_id = m.run_id;

-- The same rows with times in seconds and rates in bytes per second next to
-- the integer picosecond columns, for people and tools that do not want to
-- divide by 10^12. Additions to contract 1: nothing above changes.

-- runs with sim_time_s, and events per wall-clock second.
CREATE VIEW IF NOT EXISTS runs_si AS
SELECT run_id, name, scenario_sha256, seed, version, started_at, wall_s, sim_time_ps,
       sim_time_ps / 1e12 AS sim_time_s, events,
       CASE WHEN wall_s > 0 THEN events / wall_s END AS events_per_s, status, error
FROM runs;

-- links with busy_s, pause_s and the mean rate over the run
-- (bytes_per_s = bytes / sim_time_s; utilization is busy_ps / sim_time_ps).
CREATE VIEW IF NOT EXISTS links_si AS
SELECT l.run_id, l.link, l.direction, l.bytes, l.packets, l.busy_ps, l.busy_ps / 1e12 AS busy_s,
       l.utilization,
       CASE WHEN r.sim_time_ps > 0 THEN l.bytes * 1e12 / r.sim_time_ps END AS bytes_per_s,
       l.drops, l.pause_ps, l.pause_ps / 1e12 AS pause_s, l.ecn_marks
FROM links AS l JOIN runs AS r ON r.run_id = l.run_id;

-- request_latency with every time also in seconds.
CREATE VIEW IF NOT EXISTS requests_si AS
SELECT q.run_id, q.req_id, q.session, q.instance, q.prefill_instance,
       q.input_tokens, q.output_tokens, q.cached_tokens, q.kv_bytes,
       q.arrival_ps, q.arrival_ps / 1e12 AS arrival_s,
       q.first_token_ps, q.first_token_ps / 1e12 AS first_token_s,
       q.finish_ps, q.finish_ps / 1e12 AS finish_s,
       q.first_token_ps - q.arrival_ps AS ttft_ps,
       (q.first_token_ps - q.arrival_ps) / 1e12 AS ttft_s,
       q.finish_ps - q.arrival_ps AS e2e_ps, (q.finish_ps - q.arrival_ps) / 1e12 AS e2e_s,
       CASE WHEN q.output_tokens > 1
            THEN (q.finish_ps - q.first_token_ps) / (q.output_tokens - 1) END AS tpot_ps,
       CASE WHEN q.output_tokens > 1
            THEN (q.finish_ps - q.first_token_ps) / 1e12 / (q.output_tokens - 1) END AS tpot_s,
       q.kv_wait_ps, q.kv_wait_ps / 1e12 AS kv_wait_s,
       q.kv_transfer_ps, q.kv_transfer_ps / 1e12 AS kv_transfer_s
FROM requests AS q;

-- timeseries with t_s.
CREATE VIEW IF NOT EXISTS timeseries_si AS
SELECT run_id, scope, name, t_ps, t_ps / 1e12 AS t_s, value, unit
FROM timeseries;
