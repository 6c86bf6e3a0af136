/*
 * trace.h - LLM request streams: lazy readers for public serving traces and
 * for memfab's native trace format.
 *
 * A trace_reader yields one trace_req at a time, in arrival order. It reads
 * its file line by line and keeps only the current request (its line and
 * its block ids), so a trace of any length replays in constant memory. The
 * exceptions are the Qwen/Bailian reader, which keeps a chat_id -> root
 * map to give every turn of a conversation its session id, and the native
 * reader, which keeps the request ids it has seen (16-32 bytes per request
 * in both): a duplicate chat_id or request id is an error. Synthetic workloads (models/workload/synth.h) produce the same stream
 * through trace_open_source(), so the serving model consumes either.
 *
 * Invariants of the stream, checked by trace_next() for every source:
 *   - arrivals are non-decreasing (an error names the offending line);
 *   - block_ids[i] identifies the prefix up to and including block i of the
 *     prompt (equal ids mean equal prefixes), each block holding
 *     block_tokens tokens, the last one possibly partial;
 *   - block_tokens is 0 exactly when n_blocks is 0;
 *   - n_blocks <= ceil(input_tokens / block_tokens).
 *
 * Formats (trace_format; TRACE_AUTO detects from the first line):
 *   mooncake  JSONL {"timestamp": ms, "input_length", "output_length",
 *             "hash_ids": [...]} (Mooncake FAST'25). Block size 512 tokens.
 *             id = 0-based request index, session = 0 (not in the file).
 *   azure     CSV TIMESTAMP,ContextTokens,GeneratedTokens (Azure LLM
 *             inference trace 2023 `2023-11-16 18:17:03.9799600` and 2024
 *             `2024-05-10 00:00:00.009930+00:00`). Arrival is relative to
 *             the first row; no block ids; id = row index; session = 0.
 *   burstgpt  CSV Timestamp (s),Model,Request tokens,Response tokens,Total
 *             tokens,Log Type[,Session ID,...]. Columns are found by name.
 *             session = Session ID when numeric, else a 64-bit FNV-1a hash
 *             of it, else 0. No block ids; id = row index.
 *   qwen      JSONL {"chat_id", "parent_chat_id" (-1 = root), "timestamp":
 *             s, "input_length", "output_length", "hash_ids"} (Alibaba
 *             Qwen/Bailian). Block size 16 tokens. id = chat_id, session =
 *             the root chat id reached through parent links (the parent
 *             itself when it is not in the trace).
 *   native    memfab's own format, described below.
 *
 * The native format (text, one request per line, diff-friendly):
 *
 *     # memfab-trace v1 block_tokens=512
 *     # id arrival_ps session input_tokens output_tokens [block_id ...]
 *     0 0 0 6758 500 0 1 2 3 4 5 6 7 8 9 10 11 12 13
 *     1 0 0 7322 490 0 14 15 16
 *
 * The first line must be `# memfab-trace v1` followed by optional
 * `key=value` words; the only key is block_tokens (default 0; it must be
 * positive when any line has block ids) and classes (0 or 1, default 0).
 * Later lines starting with `#` and
 * blank lines are ignored. Every other line holds at least five unsigned
 * decimal integers separated by blanks: the request id, the arrival in
 * picoseconds (absolute: not rebased), the session id, the prompt and
 * output token counts, with `classes=1` the request's priority class (an
 * index into the scenario's workload.classes, checked by the workload),
 * then zero or more block ids. Without classes=1 the class is not given. The reader is lazy
 * like the others; trace_convert() (models/workload/trace_stats.h) writes the
 * format, and a convert/re-read round trip reproduces the stream exactly.
 *
 * Errors: trace_open() and trace_next() fill the sim_err with the file,
 * the 1-based line and column, and what is wrong (SIM_EFORMAT for
 * malformed data, SIM_EIO for I/O, SIM_ENOMEM); tools print it as
 * `FILE:LINE:COL: error: ...`.
 */
#ifndef MEMFAB_MODELS_TRACE_H
#define MEMFAB_MODELS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "sim/err.h"
#include "sim/simtime.h"

/* One request. block_ids points into the reader and stays valid until the
 * next trace_next() or trace_close() on that reader. */
typedef struct trace_req {
    uint64_t id;               /* request id (format-dependent, see above) */
    uint64_t session;          /* session/conversation id, 0 when unknown */
    sim_time arrival;          /* arrival time, picoseconds */
    uint32_t input_tokens;     /* prompt tokens */
    uint32_t output_tokens;    /* generated tokens */
    uint32_t n_blocks;         /* number of prefix block ids */
    const uint64_t *block_ids; /* n_blocks chained prefix ids, or NULL */
    uint32_t block_tokens;     /* tokens per block; 0 when no block ids */
    uint32_t klass;            /* priority class index (valid when has_class) */
    int has_class;             /* the source gave a class (native `classes=1`) */
    int class_col;             /* 1-based column of the class field (messages), 0: none */
} trace_req;

typedef enum {
    TRACE_AUTO,
    TRACE_MOONCAKE,
    TRACE_AZURE,
    TRACE_BURSTGPT,
    TRACE_QWEN,
    TRACE_NATIVE
} trace_format;

typedef struct trace_reader trace_reader;

/* Format names ("auto", "mooncake", "azure", "burstgpt", "qwen", "native").
 * trace_format_parse returns 0, or SIM_EINVAL for an unknown name. */
int trace_format_parse(const char *name, trace_format *out);
const char *trace_format_name(trace_format fmt);

/* Open a trace file and read its first line (the header, or the line used
 * to detect the format). Returns a reader that must be freed with
 * trace_close(), or NULL with err filled. */
trace_reader *trace_open(const char *path, trace_format fmt, sim_err *err);

/* Read the next request: 1 = got one, 0 = end of trace, <0 = SIM_E* error
 * with err filled (file:line for malformed data). After an error or the
 * end, further calls return the same result. */
int trace_next(trace_reader *r, trace_req *out, sim_err *err);

/* Close the reader and free everything it holds. trace_close(NULL) does
 * nothing. */
void trace_close(trace_reader *r);

/* Properties of an open reader: its format (TRACE_AUTO for a generic
 * source), the tokens per block its block ids use (0 when it has none), a
 * name for messages (the path), and the line of the last request read. */
trace_format trace_reader_format(const trace_reader *r);
uint32_t trace_reader_block_tokens(const trace_reader *r);
const char *trace_reader_name(const trace_reader *r);
long trace_reader_line(const trace_reader *r);

/* A generic request source behind the same reader interface (used by
 * synthetic workloads). next follows trace_next's contract; close frees
 * ctx and is called by trace_close(). The reader takes ownership of ctx
 * (also on failure, when it calls close at once). */
typedef struct trace_source_ops {
    int (*next)(void *ctx, trace_req *out, sim_err *err);
    void (*close)(void *ctx);
} trace_source_ops;
trace_reader *trace_open_source(const trace_source_ops *ops, void *ctx, const char *name,
                                uint32_t block_tokens, sim_err *err);

/* Find a trace file: an absolute path as is; a relative one first relative
 * to scenario_dir (the current directory when NULL or ""), then in each
 * directory of MEMFAB_TRACE_PATH (colon-separated), then in the trace
 * cache (trace_cache_dir, filled by `memfab trace fetch`). Writes the path found
 * to out and returns 0. Otherwise returns SIM_ENOTFOUND with a message
 * naming the file, every place looked at and where the public trace can be
 * downloaded; SIM_EINVAL when the result does not fit in outlen. */
int trace_resolve(const char *scenario_dir, const char *path, char *out, size_t outlen,
                  sim_err *err);

/* The trace cache: $XDG_CACHE_HOME/memfab/traces, or ~/.cache/memfab/traces
 * when XDG_CACHE_HOME is unset or relative (XDG Base Directory
 * Specification). 0, or -1 when neither is usable or it does not fit. */
int trace_cache_dir(char *out, size_t outlen);

/* A small open-addressing hash map from uint64 keys to uint64 values
 * (linear probing, power-of-two capacity, load <= 1/2; any key, 0
 * included). Used for the Qwen chat map and the unique-block count. */
typedef struct trace_u64map trace_u64map;
trace_u64map *trace_u64map_new(void);  /* free with trace_u64map_free */
void trace_u64map_free(trace_u64map *m);
/* Insert key -> val when key is absent: 1 = inserted, 0 = already there
 * (value unchanged), SIM_ENOMEM. */
int trace_u64map_put(trace_u64map *m, uint64_t key, uint64_t val);
/* 1 and *val set when present, else 0. val may be NULL. */
int trace_u64map_get(const trace_u64map *m, uint64_t key, uint64_t *val);
size_t trace_u64map_count(const trace_u64map *m);

#endif
