#!/usr/bin/env bash
# run_unit.sh — runs each unit-test binary given, echoes its output, and prints one total line.
# Exits non-zero if any binary failed (a crash or sanitizer report counts as a failure). The binaries
# run UNIT_JOBS at a time (default: one per core; they share no files or ports); their outputs come
# in the order given.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
here=$(dirname "$0")
# shellcheck source=summary.sh
. "$here/summary.sh"
# shellcheck source=parallel.sh
. "$here/parallel.sh"
outs=$(mktemp -d)
trap 'rm -rf "$outs"' EXIT
# test_parity runs twice: on this CPU's own kernels, and again on the OpenBLAS backend that CPUs
# without AVX2 and arm64 use ("blas:" before a binary runs it with DEIT_ISA=blas). Both runs count
# in the one closing line.
runs=()
for t in "$@"; do
    runs+=("$t")
    case $t in */test_parity) runs+=("blas:$t") ;; esac
done
run_test() { case $1 in blas:*) DEIT_ISA=blas "${1#blas:}" ;; *) "$1" ;; esac; }
each_parallel "${UNIT_JOBS:-$(nproc 2>/dev/null || echo 1)}" "$outs" run_test "${runs[@]}"
bad=0
n=0
for t in "${runs[@]}"; do
    n=$((n + 1))
    out=$(cat "$outs/$n.out"); rc=$(cat "$outs/$n.rc" 2>/dev/null || echo 1)
    printf '%s\n' "$out"
    summary_add "$rc" "$out" || { bad=$((bad + 1)); echo "FAILED: $t (exit $rc)"; }
done
echo "unit: $passed passed, $failed failed"
[ "$bad" -eq 0 ]
