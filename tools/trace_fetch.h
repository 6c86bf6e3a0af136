/*
 * trace_fetch.h - `memfab trace fetch`: download a public LLM trace by name
 * into the trace cache, verified against its pinned hash.
 *
 *   memfab trace fetch NAME... [--mirror BASE] [--force] [--accept-unpinned]
 *   memfab trace fetch --list
 *
 * NAME is an entry of the catalog (models/workload/trace_catalog.h). The
 * file goes to <cache>/<dir>/<file>, the cache being trace_cache_dir()
 * ($XDG_CACHE_HOME/memfab/traces or ~/.cache/memfab/traces), which the
 * trace search path always includes, so scenarios naming
 * mooncake-fast25/conversation_trace.jsonl find it.
 *
 * The download is written to a temporary file beside the destination,
 * checked (size when known; SHA-256, else the git blob id) and only then
 * renamed into place: a failed or interrupted download or a hash mismatch
 * leaves no file under the trace's name. A cached file that verifies is
 * not downloaded again (--force does). https:// URLs are downloaded by
 * curl (or wget when curl is missing), run without a shell; file:// URLs
 * (a local mirror, --mirror or MEMFAB_TRACE_MIRROR: BASE/<dir>/<file>)
 * are copied by memfab itself. On success it prints the path, the
 * license and the paper to cite.
 *
 * Exit status: 0 done, 1 download failed or content does not match its
 * hash, 2 usage error (unknown name, unpinned trace without
 * --accept-unpinned).
 */
#ifndef MEMFAB_TOOLS_TRACE_FETCH_H
#define MEMFAB_TOOLS_TRACE_FETCH_H

/* argv[0] is "fetch". */
int cmd_trace_fetch(int argc, char **argv);

#endif
