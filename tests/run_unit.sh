#!/bin/sh
# run_unit.sh — runs each unit-test binary given, echoes its output, and prints one total line.
# Exits non-zero if any binary failed (a crash or sanitizer report counts as a failure).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
passed=0; failed=0; bad=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
        bad=$((bad + 1)); echo "FAILED: $t (exit $rc)"
        [ "${f:-0}" -eq 0 ] && failed=$((failed + 1))
    fi
done
echo "unit: $passed passed, $failed failed"
[ "$bad" -eq 0 ]
