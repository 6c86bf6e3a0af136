#!/bin/sh
# run-fuzz.sh BUILD HARNESS... - run each libFuzzer harness BUILD/fuzz/fuzz_H
# for FUZZ_SECONDS seconds, one after the other in one process (one core), with
# -timeout=FUZZ_TIMEOUT s per input and -rss_limit_mb=FUZZ_RSS_MB, on the
# seed corpus tests/fuzz/corpus/H/ plus the inputs earlier runs kept in
# BUILD/corpus/H/ (new ones are added there), and print one line a harness:
# executions, executions per second, coverage (cov: edges, ft: features),
# corpus size, peak RSS and findings (crash/leak/timeout/oom files in
# BUILD/artifacts/H/). The log of each run is BUILD/logs/H.log. Exit 1 when
# any harness found something.
build=$1
shift
secs=${FUZZ_SECONDS:-60}
found=0
# Traces are found through MEMFAB_TRACE_PATH; fuzzed scenarios should not
# reach the large public ones.
unset MEMFAB_TRACE_PATH
# The harnesses write every input to a file: on a RAM file system when there
# is one (twenty to thirty times the executions per second of a disk).
if [ -z "$TMPDIR" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
printf '%-15s %10s %8s %7s %7s %6s %7s  %s\n' harness execs exec/s cov ft corpus rss findings
for h in "$@"; do
    bin=$build/fuzz/fuzz_$h
    mkdir -p "$build/corpus/$h" "$build/artifacts/$h" "$build/logs"
    log=$build/logs/$h.log
    "$bin" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-10}" \
        -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -malloc_limit_mb="${FUZZ_RSS_MB:-2048}" \
        -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$h/" \
        "$build/corpus/$h" "tests/fuzz/corpus/$h" >"$log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    arts=$(ls "$build/artifacts/$h" 2>/dev/null | tr '\n' ' ')
    if [ -n "$arts" ] || [ $rc -ne 0 ]; then
        found=1
        what="${arts:-exit $rc}(see $log)"
    else
        what=none
    fi
    printf '%-15s %10s %8s %7s %7s %6s %6sM  %s\n' "$h" "${execs:-?}" "${eps:-?}" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}" "${rss:-?}" "$what"
done
exit $found
