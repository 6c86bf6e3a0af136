#!/bin/sh
# bench-instr.sh MEMFAB N VARIANT STRUCT [HOLDS]: instructions per hold of the
# `memfab bench events` hold loop, counted by callgrind: a run with HOLDS
# holds (default 2e5) minus a run with none (same fill), divided by HOLDS.
# VARIANT is hold or ties, STRUCT evq or heap. Needs valgrind.
set -e
[ $# -ge 4 ] || { echo "usage: $0 MEMFAB N hold|ties evq|heap [HOLDS]" >&2; exit 2; }
bin=$1 n=$2 variant=$3 st=$4 holds=${5:-2e5}
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" bench events \
        -n "$n" --holds "$1" --only "$st" --variant "$variant" 2>&1 >/dev/null |
        awk '/Collected/ {print $4}'
}
a=$(ir 0)
b=$(ir "$holds")
awk -v a="$a" -v b="$b" -v h="$holds" -v n="$n" -v v="$variant" -v s="$st" \
    'BEGIN {printf "%s N=%s %s: %.0f instructions per hold\n", v, n, s, (b - a) / h}'
