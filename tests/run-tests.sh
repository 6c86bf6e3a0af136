#!/bin/sh
# run-tests.sh - run every test binary given as an argument, print each
# Check summary line, and fail if any binary fails. Check forks each test;
# CK_RUN_SUITE / CK_RUN_CASE select a subset. Each line ends with the
# suite's wall time, so a slow suite shows in CI logs.
failed=""
start_all=$(date +%s.%N)
for t in "$@"; do
    name=$(basename "$t")
    t0=$(date +%s.%N)
    out=$("$t" 2>&1)
    rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks:' | tail -n 1)
    printf '%-22s %s  (%s s)\n' "$name" "${summary:-(no summary)}" "$secs"
    # tests that could not run here say so (a trace or plug-in not found)
    printf '%s\n' "$out" | grep -i 'skipped' | sed 's/^/    /'
    if [ $rc -ne 0 ]; then
        printf '%s\n' "$out" | grep -vE '^(Running suite|[0-9]+%: Checks:)' | head -n 40
        failed="$failed $name"
    fi
done
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all tests passed ($(awk -v a="$start_all" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}') s)"
