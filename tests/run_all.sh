#!/usr/bin/env bash
# run_all.sh — runs every stage of `make test` (all of them, even after a failure, so one run shows
# everything that is broken) and closes with one line: "total: N passed, N failed".
set -uo pipefail
make_cmd=${MAKE:-make}
passed=0; failed=0; broken=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for stage in "$@"; do
    echo "==> $stage"
    "$make_cmd" --no-print-directory "$stage" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # a stage's own closing line, e.g. "unit: 2661 passed, 0 failed"; deployment scripts print TAP-ish
    # "ok - ..." lines instead
    line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
        f=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    else
        p=$(grep -c '^ok - ' "$log"); f=0
    fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ]; then
        broken="$broken $stage"
        [ "$f" -eq 0 ] && failed=$((failed + 1))
    fi
done
[ -n "$broken" ] && echo "failed stages:$broken"
echo "total: $passed passed, $failed failed"
[ -z "$broken" ]
