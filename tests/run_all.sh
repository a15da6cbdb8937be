#!/usr/bin/env bash
# run_all.sh — runs every stage of `make test` (all of them, even after a failure, so one run shows
# everything that is broken) and closes with one line: "total: N passed, N failed".
set -uo pipefail
# MAKE: the make command and its options, e.g. "make -j2" (split on spaces)
read -r -a make_cmd <<< "${MAKE:-make}"
. "$(dirname "$0")/summary.sh"
broken=""
timings=""
log=$(mktemp)
failures=$(mktemp)
trap 'rm -f "$log" "$failures"' EXIT
for stage in "$@"; do
    echo "==> $stage"
    start=$SECONDS
    "${make_cmd[@]}" --no-print-directory "$stage" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # where the suite's minutes go (CI should stay under 20), one "stage seconds" pair per stage
    timings="$timings $stage $((SECONDS - start))s"
    # a stage's own closing line, e.g. "unit: 2661 passed, 0 failed"; deployment scripts print TAP-ish
    # "ok - ..." lines instead
    if ! summary_add "$rc" "$(cat "$log")" tap; then
        broken="$broken $stage"
        # the lines that name a failure, kept for the end: CI shows only the tail of a long run
        grep -E 'CHECK failed|FAIL|^not ok|ERROR: |Error [0-9]+$' "$log" | head -n 40 | sed "s/^/$stage: /" >> "$failures"
    fi
done
echo "stage times:$timings"
if [ -n "$broken" ]; then
    echo "failed stages:$broken"
    cat "$failures"
fi
echo "total: $passed passed, $failed failed"
[ -z "$broken" ]
