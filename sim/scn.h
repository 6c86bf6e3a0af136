/*
 * scn.h - scenarios: YAML files parsed into a node tree that remembers where
 * every node came from, plus typed getters with units.
 *
 * A scenario is loaded with libyaml into a tree of maps, sequences and
 * scalars. Every node keeps its mark (file, 1-based line and column), so any
 * later semantic error can point at the exact place. Supported on top of
 * plain YAML:
 *   - anchors and aliases (&a / *a) and the merge key (<<: *a or
 *     <<: [*a, *b]); an alias is expanded to a copy of the anchored node,
 *     which keeps the anchor's marks. Keys written in the mapping win over
 *     merged ones; among several merged mappings the earlier one wins;
 *   - `include: FILE` or `include: [FILE, ...]` in any mapping: the included
 *     file (a mapping, path relative to the including file) is merged into
 *     the mapping (shallow: its top-level keys), and the `include` key itself
 *     disappears; keys written in the including mapping win, and a later file
 *     of the list wins over an earlier one. Include cycles, missing files and
 *     files that are not mappings are errors at the include's mark. Like
 *     `<<`, only a plain (unquoted) `include` key does this: "include": x is
 *     an ordinary key, so data written quoted (a baseline's metric names)
 *     reads back as written;
 *   - overrides `a.b.c=value` (scn_set), where a numeric path element
 *     indexes a sequence and a `name` element selects the sequence item
 *     whose `name:` equals it (components.gpu0.hbm=80GiB). An override
 *     creates missing mapping keys. Its mark is "<command line>".
 *   Duplicate keys in one mapping are errors. Anchors are local to a file.
 *
 * Units (DESIGN.md decision 1): SI prefixes are powers of ten, IEC prefixes
 * (KiB, MiB, ...) powers of two. A value where a unit is required but none
 * is given is an error.
 *   time:  ps ns us ms s (also "min", "h")         -> picoseconds (uint64)
 *   size:  B kB KB MB GB TB PB KiB MiB GiB TiB PiB -> bytes (uint64)
 *   rate:  B/s kB/s MB/s GB/s TB/s KiB/s ... GiB/s, bit/s kbit/s Mbit/s
 *          Gbit/s b/s kb/s Mb/s Gb/s Tb/s (bits: divided by 8)  -> bytes/s (double)
 *   transfer rate: GT/s MT/s               -> transfers/s (double)
 *   flops: FLOP/s kFLOP/s MFLOP/s GFLOP/s TFLOP/s PFLOP/s (also FLOPS) -> FLOP/s (double)
 *   energy per bit: fJ/bit pJ/bit nJ/bit (also fJ/b pJ/b nJ/b), pJ/B nJ/B (per byte:
 *          divided by 8)                   -> pJ/bit (double)
 *   power: mW W kW                         -> W (double)
 *   An energy per bit or a power may also be `auto`: the model's own default
 *   (SCN_AUTO, a negative value no unit parses to).
 *   numbers accept decimal fractions and exponents: "1.5 ms", "2e3 ns";
 *   a space between number and unit is optional. Units are case-sensitive.
 *   Negative values and overflow are errors; a time or size that is not a
 *   whole number of ps or bytes is rounded to the nearest ("0.5 ps" -> 1).
 */
#ifndef MEMFAB_SIM_SCN_H
#define MEMFAB_SIM_SCN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "simtime.h"

typedef struct scn_doc scn_doc;
typedef struct scn_node scn_node;

typedef enum { SCN_SCALAR, SCN_MAP, SCN_SEQ } scn_kind;

/* Load and free a scenario. scn_load returns NULL and fills err (file,
 * line, col of the problem) on a YAML syntax error, a missing or cyclic
 * include, or an I/O error. The document owns every node. */
scn_doc *scn_load(const char *path, sim_err *err);
/* Parse YAML from memory; `name` is the file name used in marks. */
scn_doc *scn_load_string(const char *name, const char *text, sim_err *err);
void scn_free(scn_doc *d);
/* Read a whole file the way scenario files are read: only a regular file of
 * at most 16 MiB, refused after stat() and opened O_NONBLOCK (a device such
 * as /dev/zero or a FIFO never blocks or grows the reader). 0 with *text
 * (sim_free it; not NUL-terminated) and *len; -1 with errno set; -2 with
 * the reason (a file of the wrong kind or size) in why. */
int scn_read_file(const char *path, char **text, size_t *len, char *why, size_t whylen);

/* What kind of file st describes ("a directory", "a FIFO", ...), for
 * messages refusing a file that is not regular. */
struct stat;
const char *scn_file_kind(const struct stat *st);

/* Apply an override "a.b.c=value". SIM_EINVAL with a message (file
 * "<command line>", no line) when the assignment is malformed or the path
 * cannot be applied: an unknown sequence index or name, a path through a
 * scalar, or a scalar assigned over a whole mapping or sequence. The value
 * is a string (surrounding quotes removed), or a YAML flow collection when it
 * starts with '[' or '{'. A sequence index equal to its length appends. An
 * empty or null scalar on the path becomes a mapping. */
int scn_set(scn_doc *d, const char *assignment, sim_err *err);

/* The root node (a mapping for a valid scenario). */
const scn_node *scn_root(const scn_doc *d);
/* The path of the top-level scenario file. */
const char *scn_path(const scn_doc *d);

/* Node inspection. */
scn_kind scn_node_kind(const scn_node *n);
const char *scn_node_file(const scn_node *n);
/* `rel` relative to the directory of the file `including` (as include:
 * resolves it; absolute, or no directory: rel itself), as a new string
 * (sim_free), or NULL when out of memory. */
char *scn_resolve_path(const char *including, const char *rel);
int scn_node_line(const scn_node *n);   /* 1-based */
int scn_node_col(const scn_node *n);    /* 1-based */
const char *scn_scalar(const scn_node *n);   /* NULL if not a scalar */
size_t scn_len(const scn_node *n);           /* entries of a map or seq */
const scn_node *scn_seq_at(const scn_node *n, size_t i);
const char *scn_map_key(const scn_node *n, size_t i);      /* i-th key, in file order */
const scn_node *scn_map_key_node(const scn_node *n, size_t i); /* the key scalar (for its mark) */
const scn_node *scn_map_value(const scn_node *n, size_t i);
const scn_node *scn_map_get(const scn_node *n, const char *key); /* NULL if absent */

/* Fill err with code SIM_ESCENARIO at n's mark; returns SIM_ESCENARIO. */
int scn_error(sim_err *err, const scn_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Check that every key of map n is in `allowed` (NULL-terminated). On an
 * unknown key: error at the key's mark, "unknown key 'hbm_bw' in <context>;
 * did you mean 'hbm_bandwidth'?" (suggestion by edit distance, when one is
 * close). Also rejects a non-map n. */
int scn_check_keys(const scn_node *n, const char *const *allowed, const char *context,
                   sim_err *err);

/* Parse a scalar string with units (no node, no mark); used by the getters
 * and by command-line options. 0 or SIM_EINVAL with err->msg explaining. */
int scn_parse_time(const char *s, sim_time *out, sim_err *err);
int scn_parse_size(const char *s, uint64_t *out, sim_err *err);
int scn_parse_rate(const char *s, double *out, sim_err *err);      /* bytes/s */
int scn_parse_gts(const char *s, double *out, sim_err *err);       /* transfers/s */
int scn_parse_flops(const char *s, double *out, sim_err *err);     /* FLOP/s */
int scn_parse_energy_bit(const char *s, double *out, sim_err *err); /* pJ/bit, or SCN_AUTO */
int scn_parse_power(const char *s, double *out, sim_err *err);      /* W, or SCN_AUTO */
#define SCN_AUTO (-1.0)

/* Typed getters on the value of `key` in map n. When the key is absent (or n
 * is NULL or not a map) the default is stored and 0 returned; integers are
 * decimal or 0x hexadecimal; booleans are true/false, yes/no, on/off, 1/0
 * (any case); a present but invalid value is an
 * error at the value's mark naming the key, e.g.
 *   scenario.yaml:12:18: error: key 'latency': '250 nz' is not a time (units: ps ns us ms s)
 */
int scn_get_time(const scn_node *n, const char *key, sim_time def, sim_time *out, sim_err *err);
int scn_get_size(const scn_node *n, const char *key, uint64_t def, uint64_t *out, sim_err *err);
int scn_get_rate(const scn_node *n, const char *key, double def, double *out, sim_err *err);
int scn_get_flops(const scn_node *n, const char *key, double def, double *out, sim_err *err);
int scn_get_energy_bit(const scn_node *n, const char *key, double def, double *out,
                       sim_err *err);
int scn_get_power(const scn_node *n, const char *key, double def, double *out, sim_err *err);
int scn_get_int(const scn_node *n, const char *key, int64_t def, int64_t *out, sim_err *err);
int scn_get_uint(const scn_node *n, const char *key, uint64_t def, uint64_t *out, sim_err *err);
int scn_get_double(const scn_node *n, const char *key, double def, double *out, sim_err *err);
int scn_get_bool(const scn_node *n, const char *key, int def, int *out, sim_err *err);
/* The string is owned by the document. */
int scn_get_string(const scn_node *n, const char *key, const char *def, const char **out,
                   sim_err *err);
/* Value must be one of `choices` (NULL-terminated); *out is its index. */
int scn_get_enum(const scn_node *n, const char *key, const char *const *choices, int def,
                 int *out, sim_err *err);

/* Flatten the tree into "a.b.c" = "value" pairs in document order;
 * sequence items are indexed (components.0.name), except that items with a
 * `name:` use it (components.gpu0.hbm). Calls fn for each scalar leaf. */
typedef void (*scn_leaf_fn)(void *ctx, const char *key, const char *value);
void scn_flatten(const scn_doc *d, scn_leaf_fn fn, void *ctx);
/* The flattened path of node n of d, as scn_flatten names its leaves
 * ("components.gpu0", "" for the root), into buf. 0, SIM_ENOTFOUND when n
 * is not in d, SIM_EINVAL when buf is too small, SIM_ENOMEM. */
int scn_node_path(const scn_doc *d, const scn_node *n, char *buf, size_t len);

/* A SHA-256 of the effective (merged, overridden) tree in canonical form, as
 * 64 hex characters plus NUL, for runs.scenario_sha256. The canonical form
 * covers kinds, keys and values in document order, not marks or quoting. */
void scn_sha256(const scn_doc *d, char out[65]);
/* SHA-256 (FIPS 180-4) of a byte string, as 64 lowercase hex digits plus NUL. */
void scn_sha256_bytes(const void *data, size_t len, char out[65]);

/* Edit distance, exported for other modules' did-you-mean suggestions. */
size_t scn_edit_distance(const char *a, const char *b);
/* The closest of candidates (NULL-terminated) to word, or NULL if none is
 * within max(2, strlen(word)/3) edits (transpositions count as one). Failing
 * that, the closest candidate that word abbreviates (3+ characters, same
 * first letter, its letters in order: hbm_bw -> hbm_bandwidth), if any. */
const char *scn_suggest(const char *word, const char *const *candidates);

#endif
