#!/bin/sh
# run-tests.sh - run every test binary given as an argument, MEMFAB_TEST_JOBS
# at a time (default: the number of cores), print each suite's Check summary
# line as it finishes, and fail if any binary fails. Check forks each test;
# CK_RUN_SUITE / CK_RUN_CASE select a subset. Each line ends with the
# suite's wall time, so a slow suite shows in CI logs. The suites known to
# be long start first, so that two cores finish together.
#
# The suites are independent processes: each writes only under its own
# temporary directories (mkdtemp) and reads the repository.
jobs=${MEMFAB_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
case $jobs in '' | *[!0-9]* | 0) echo "run-tests.sh: MEMFAB_TEST_JOBS must be a positive integer" >&2; exit 2 ;; esac
slow="check_fluid check_rindex check_serving check_e2e check_stats check_sweep check_plot"

out=$(mktemp -d "${TMPDIR:-/tmp}/memfab-tests-XXXXXX") || exit 2
trap 'rm -rf "$out"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# the order to start them in: the long suites (when given), then the rest
for s in $slow; do
    for t in "$@"; do [ "$(basename "$t")" = "$s" ] && printf '%s\n' "$t"; done
done > "$out/order"
for t in "$@"; do
    case " $slow " in *" $(basename "$t") "*) ;; *) printf '%s\n' "$t" ;; esac
done >> "$out/order"

# one suite: its output to $out/NAME.log, its status to $out/NAME.rc, and
# its summary line (with the tests it skipped) to stdout in one write
cat > "$out/one.sh" <<'EOF'
out=$1; t=$2
name=$(basename "$t")
t0=$(date +%s.%N)
"$t" > "$out/$name.log" 2>&1
rc=$?
echo $rc > "$out/$name.rc"
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
summary=$(grep -E '^[0-9]+%: Checks:' "$out/$name.log" | tail -n 1)
line=$(printf '%-22s %s  (%s s)' "$name" "${summary:-(no summary)}" "$secs")
# tests that could not run here say so (a trace or plug-in not found)
skipped=$(grep -i 'skipped' "$out/$name.log" | sed 's/^/    /')
printf '%s\n%s' "$line" "${skipped:+$skipped
}"
EOF

start_all=$(date +%s.%N)
xargs -P "$jobs" -n 1 sh "$out/one.sh" "$out" < "$out/order"

failed=""
while read -r t; do
    name=$(basename "$t")
    rc=$(cat "$out/$name.rc" 2>/dev/null || echo 1)
    if [ "$rc" -ne 0 ]; then
        echo "== $name failed (status $rc):"
        grep -vE '^(Running suite|[0-9]+%: Checks:)' "$out/$name.log" | head -n 40
        failed="$failed $name"
    fi
done < "$out/order"
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all tests passed ($(awk -v a="$start_all" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}') s, $jobs at a time)"
