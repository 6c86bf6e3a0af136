#!/bin/sh
# regress.sh - run the regression suite and compare with the committed baselines.
#
#   sh scenarios/regress/regress.sh MEMFAB [--update] [--format md] [--max-bytes N]
#
# Every scenarios/regress/*.yaml runs once into a fresh database and is
# compared (memfab compare) with scenarios/regress/baselines/<name>.yaml
# using scenarios/regress/tolerances.yaml. A scenario whose first lines say
#   # requires-trace: FILE
# runs only when FILE is found on MEMFAB_TRACE_PATH (colon-separated
# directories); its workload path is then given as --set workload.trace=PATH.
# Every studies/*.yaml runs as `memfab study` (its runs compared like a
# scenario's, its table's cells against baselines/<name>.cells.tsv).
# --update rewrites the baselines from this run (review the diff, commit).
# --format md prints ONE markdown report for a pull request comment on
# stdout: the verdict first, the regressions worst first, every difference
# in a collapsed <details>, at most --max-bytes bytes (default
# $REGRESS_MAX_BYTES or 60000; 0 no limit); progress and the closing line
# go to stderr, so `make regress REGRESS_FORMAT=md >comment.md` is the
# comment. Failed runs, missing baselines and skipped scenarios are in it.
# Exit: 0 all within tolerance, 3 regression, 2 bad input, 1 runtime failure.
set -u
memfab=${1:?usage: regress.sh MEMFAB [--update] [--format md] [--max-bytes N]}
shift
update=0
format=text
max_bytes=${REGRESS_MAX_BYTES:-60000}
while [ $# -gt 0 ]; do
    case $1 in
    --update) update=1 ;;
    --format) shift; format=${1:-text} ;;
    --max-bytes) shift; max_bytes=${1:-60000} ;;
    *) echo "regress.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case $format in
md|markdown) format=md ;;
text|plain) format=text ;;
*) echo "regress.sh: --format: text or md, not '$format'" >&2; exit 2 ;;
esac
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memfab-regress.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
: >"$tmp/pairs" && : >"$tmp/notes" || exit 1

# say KIND TEXT: a message. In text mode it is printed; in md mode it goes
# to stderr and into the report (KIND failure counts against the verdict).
say() {
    if [ "$format" = md ]; then
        echo "regress: $2" >&2
        printf '%s %s\n' "$1" "$2" >>"$tmp/notes"
    else
        echo "regress: $2"
    fi
}
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
            say note "$name: skipped ($trace not on MEMFAB_TRACE_PATH)"
            continue
        fi
        set -- --set "workload.trace=$found"
    fi
    n=$((n + 1))
    if ! "$memfab" run "$scn" -q -o "$tmp/$name.db" "$@"; then
        say failure "$name: the run failed"
        [ $worst -lt 1 ] && worst=1
        continue
    fi
    base="$dir/baselines/$name.yaml"
    if [ $update = 1 ]; then
        "$memfab" baseline "$tmp/$name.db" -o "$base" || worst=1
        continue
    fi
    if [ ! -f "$base" ]; then
        say failure "$name: no baseline; create it with: make regress UPDATE=1"
        [ $worst = 3 ] || worst=2   # a regression found elsewhere stays exit 3
        continue
    fi
    if [ "$format" = md ]; then
        printf '%s\n' "$name" >>"$tmp/pairs"
        continue
    fi
    "$memfab" compare "$base" "$tmp/$name.db" --tolerances "$dir/tolerances.yaml"
    rc=$?
    [ $rc = 3 ] && rc_rank=3 || rc_rank=$rc
    if [ $rc != 0 ]; then
        echo "regress: $name: $( [ $rc = 3 ] && echo REGRESSION || echo "error (exit $rc)")"
        if [ $rc = 3 ] || [ $worst = 0 ]; then worst=$rc_rank; fi
    fi
done
# Studies (studies/*.yaml, memfab study): every run of the study is compared
# with baselines/<name>.yaml like a scenario, and the shape of its table
# (which cells exist and which are n/a: cells.tsv without the numbers) with
# baselines/<name>.cells.tsv exactly.
for st in "$dir"/studies/*.yaml; do
    [ -f "$st" ] || continue
    name=$(basename "$st" .yaml)
    n=$((n + 1))
    if ! "$memfab" study "$st" -q --no-figures -j 2 -o "$tmp/study-$name" >"$tmp/study-$name.log" 2>&1; then
        say failure "$name: the study failed: $(grep -m 1 error "$tmp/study-$name.log")"
        [ $worst -lt 1 ] && worst=1
        continue
    fi
    cp "$tmp/study-$name/study.db" "$tmp/$name.db"
    cut -f 1-5,9 "$tmp/study-$name/cells.tsv" >"$tmp/$name.cells.tsv"
    base="$dir/baselines/$name.yaml"
    if [ $update = 1 ]; then
        "$memfab" baseline "$tmp/$name.db" -o "$base" || worst=1
        cp "$tmp/$name.cells.tsv" "$dir/baselines/$name.cells.tsv" || worst=1
        continue
    fi
    if [ ! -f "$base" ] || [ ! -f "$dir/baselines/$name.cells.tsv" ]; then
        say failure "$name: no baseline; create it with: make regress UPDATE=1"
        [ $worst = 3 ] || worst=2
        continue
    fi
    if ! cmp -s "$dir/baselines/$name.cells.tsv" "$tmp/$name.cells.tsv"; then
        say failure "$name: the table's cells changed (present or n/a): diff $dir/baselines/$name.cells.tsv against cells.tsv of memfab study $st"
        [ "$format" = md ] || diff "$dir/baselines/$name.cells.tsv" "$tmp/$name.cells.tsv"
        worst=3
    fi
    if [ "$format" = md ]; then
        printf '%s\n' "$name" >>"$tmp/pairs"
        continue
    fi
    "$memfab" compare "$base" "$tmp/$name.db" --tolerances "$dir/tolerances.yaml"
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
if [ "$format" = md ]; then
    # One report over every scenario: each baseline with its run.
    set --
    while IFS= read -r name; do
        set -- "$@" "$dir/baselines/$name.yaml" "$tmp/$name.db"
    done <"$tmp/pairs"
    while IFS= read -r line; do
        set -- "$@" "--${line%% *}" "${line#* }"
    done <"$tmp/notes"
    if [ -s "$tmp/pairs" ]; then
        "$memfab" compare --tolerances "$dir/tolerances.yaml" --format md \
            --max-bytes "$max_bytes" --title "memfab regress ($n scenarios)" "$@"
        rc=$?
    else
        # nothing to compare: the verdict comes from the notes alone
        printf '### :x: memfab regress (%d scenarios): FAILED\n\n' "$n"
        sed 's/^[a-z]* /- /' "$tmp/notes"
        rc=0
    fi
    if [ $rc != 0 ]; then
        [ $rc = 3 ] && rc_rank=3 || rc_rank=$rc
        if [ $rc = 3 ] || [ $worst = 0 ]; then worst=$rc_rank; fi
    fi
    echo "regress: $n scenarios, $( [ $worst = 0 ] && echo "all within tolerance" || echo "FAILED (exit $worst)")" >&2
    exit $worst
fi
echo "regress: $n scenarios, $( [ $worst = 0 ] && echo "all within tolerance" || echo "FAILED (exit $worst)")"
exit $worst
