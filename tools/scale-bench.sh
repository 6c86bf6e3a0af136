#!/bin/sh
# scale-bench.sh - CPU time and peak memory of scenarios/scale.yaml over a
# grid of instance counts and request counts (issue 18, target 4).
#
#   sh tools/scale-bench.sh [memfab-binary] ["N list"] ["requests list"] [router policy]
#   sh tools/scale-bench.sh build/release/memfab "16 64 256 1000" "100000 1000000"
#   sh tools/scale-bench.sh build/release/memfab "16 256 1000" 100000 dynamo
#
# Sessions arrive at 2/s per instance, so the load (and the in-flight state)
# per instance is the same at every N. Prints one row per point:
# instances, requests, CPU seconds (user + system), peak RSS in MB, and
# microseconds of CPU per request (the scenario's router, prefix_affinity,
# or the policy given). Needs GNU time (/usr/bin/time -v).
BIN=${1:-build/release/memfab}
NS=${2:-"16 64 256 1000"}
RS=${3:-"100000 1000000"}
POLICY=${4:-prefix_affinity}
SCN=$(dirname "$0")/../scenarios/scale.yaml
TMP=${TMPDIR:-/tmp}/memfab-scale.$$
mkdir -p "$TMP" || exit 1
printf '%10s %10s %9s %8s %9s\n' instances requests cpu_s rss_mb us_per_req
for n in $NS; do
    for r in $RS; do
        /usr/bin/time -v "$BIN" run "$SCN" -o "$TMP/run.db" -q \
            --set workload.instances.count="$n" --set workload.synthetic.rate="$((2 * n))/s" \
            --set workload.synthetic.requests="$r" --set router.policy="$POLICY" >/dev/null 2>"$TMP/time.txt" ||
            { echo "run failed: n=$n r=$r"; cat "$TMP/time.txt"; exit 1; }
        awk -v n="$n" -v r="$r" '
            /User time/ {u = $NF} /System time/ {s = $NF}
            /Maximum resident set size/ {m = $NF}
            END {printf "%10d %10d %9.2f %8.1f %9.2f\n", n, r, u + s, m / 1024, (u + s) * 1e6 / r}' \
            "$TMP/time.txt"
        rm -f "$TMP/run.db"
    done
done
rm -rf "$TMP"
