#!/bin/sh
# regress.sh - run the regression suite and compare with the committed baselines.
#
#   sh scenarios/regress/regress.sh MEMFAB [--update] [--format md]
#
# Every scenarios/regress/*.yaml runs once into a fresh database and is
# compared (memfab compare) with scenarios/regress/baselines/<name>.yaml
# using scenarios/regress/tolerances.yaml. A scenario whose first lines say
#   # requires-trace: FILE
# runs only when FILE is found on MEMFAB_TRACE_PATH (colon-separated
# directories); its workload path is then given as --set workload.trace=PATH.
# --update rewrites the baselines from this run (review the diff, commit).
# Exit: 0 all within tolerance, 3 regression, 2 bad input, 1 runtime failure.
set -u
memfab=${1:?usage: regress.sh MEMFAB [--update] [--format md]}
shift
update=0
format=text
while [ $# -gt 0 ]; do
    case $1 in
    --update) update=1 ;;
    --format) shift; format=${1:-text} ;;
    *) echo "regress.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memfab-regress.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
worst=0
n=0
for scn in "$dir"/*.yaml; do
    name=$(basename "$scn" .yaml)
    [ "$name" = tolerances ] && continue
    set --
    trace=$(sed -n 's/^# requires-trace: *//p' "$scn" | head -n 1)
    if [ -n "$trace" ]; then
        found=""
        IFS=:
        for d in ${MEMFAB_TRACE_PATH:-}; do
            [ -n "$d" ] && [ -f "$d/$trace" ] && { found="$d/$trace"; break; }
        done
        unset IFS
        if [ -z "$found" ]; then
            echo "regress: $name: skipped ($trace not on MEMFAB_TRACE_PATH)"
            continue
        fi
        set -- --set "workload.trace=$found"
    fi
    n=$((n + 1))
    if ! "$memfab" run "$scn" -q -o "$tmp/$name.db" "$@"; then
        echo "regress: $name: the run failed"
        [ $worst -lt 1 ] && worst=1
        continue
    fi
    base="$dir/baselines/$name.yaml"
    if [ $update = 1 ]; then
        "$memfab" baseline "$tmp/$name.db" -o "$base" || worst=1
        continue
    fi
    if [ ! -f "$base" ]; then
        echo "regress: $name: no baseline; create it with: make regress UPDATE=1"
        worst=2
        continue
    fi
    [ "$format" = md ] && echo "#### $name"
    "$memfab" compare "$base" "$tmp/$name.db" --tolerances "$dir/tolerances.yaml" \
        --format "$format"
    rc=$?
    [ $rc = 3 ] && rc_rank=3 || rc_rank=$rc
    if [ $rc != 0 ]; then
        echo "regress: $name: $( [ $rc = 3 ] && echo REGRESSION || echo "error (exit $rc)")"
        if [ $rc = 3 ] || [ $worst = 0 ]; then worst=$rc_rank; fi
    fi
done
if [ $update = 1 ]; then
    echo "regress: $n baselines written to $dir/baselines; review with git diff and commit"
    exit $worst
fi
echo "regress: $n scenarios, $( [ $worst = 0 ] && echo "all within tolerance" || echo "FAILED (exit $worst)")"
exit $worst
