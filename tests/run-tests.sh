#!/bin/sh
# run-tests.sh - run every test binary given as an argument, print each
# Check summary line, and fail if any binary fails. Check forks each test;
# CK_RUN_SUITE / CK_RUN_CASE select a subset.
failed=""
for t in "$@"; do
    name=$(basename "$t")
    out=$("$t" 2>&1)
    rc=$?
    summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks:' | tail -n 1)
    printf '%-22s %s\n' "$name" "${summary:-(no summary)}"
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
echo "all tests passed"
