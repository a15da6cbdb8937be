# summary.sh — sourced by the test runners (run_unit.sh, run_integration.sh, run_all.sh): adds up the
# closing "<name>: N passed, N failed" line of each thing they run into $passed and $failed.
passed=0; failed=0

# summary_add RC OUTPUT [tap]: adds OUTPUT's last summary line. A run that exited non-zero, or printed
# no such line, counts as one more failure unless its line already names one; returns 1 for a failed
# run. With "tap", OUTPUT without a summary line counts its "ok - " lines as passed instead (the
# deployment scripts), and only a non-zero RC is a failure.
summary_add() {
    s_rc=$1; s_out=$2
    s_line=$(printf '%s\n' "$s_out" | grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -n "$s_line" ]; then
        s_p=$(printf '%s' "$s_line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
        s_f=$(printf '%s' "$s_line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    elif [ "${3:-}" = tap ]; then
        s_p=$(printf '%s\n' "$s_out" | grep -c '^ok - '); s_f=0
    else
        s_p=0; s_f=0
    fi
    passed=$((passed + s_p)); failed=$((failed + s_f))
    if [ "$s_rc" -ne 0 ] || { [ -z "$s_line" ] && [ "${3:-}" != tap ]; }; then
        [ "$s_f" -eq 0 ] && failed=$((failed + 1))
        return 1
    fi
    return 0
}
