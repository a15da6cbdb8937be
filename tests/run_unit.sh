#!/bin/sh
# run_unit.sh — runs each unit-test binary given, echoes its output, and prints one total line.
# Exits non-zero if any binary failed (a crash or sanitizer report counts as a failure).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
. "$(dirname "$0")/summary.sh"
bad=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    summary_add "$rc" "$out" || { bad=$((bad + 1)); echo "FAILED: $t (exit $rc)"; }
done
echo "unit: $passed passed, $failed failed"
[ "$bad" -eq 0 ]
