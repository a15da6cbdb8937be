#!/usr/bin/env bash
# run_fuzz.sh — runs each libFuzzer target for a set time, then replays its regression inputs.
# usage: run_fuzz.sh [--smoke] SECONDS build/fuzz/fuzz_<target>...
# Seeds come from tests/fuzz/corpus/<target>/ (read only). A full run grows build/fuzz/corpus/<target>/
# across runs; a smoke run starts from the seeds alone in a temporary directory, so `make test` does
# the same work every time. Any crash, leak, timeout, out-of-memory or sanitizer report fails the run;
# the input is left in build/fuzz/crashes/<target>/ and the log's tail is printed.
# Targets run FUZZ_JOBS at a time (default: one per core; each fuzzer is single-threaded), each
# for SECONDS of wall time; reports come in the order the targets were given.
set -u
smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
secs=$1; shift
here=$(dirname "$0")
# shellcheck source=../parallel.sh
. "$here/../parallel.sh"
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

# Largest input per target: big enough for every seed, small enough that each run stays fast.
max_len() {
    case "$1" in
        safetensors) echo 65536 ;;
        config) echo 16384 ;;
        image) echo 131072 ;;
        multipart) echo 65536 ;;
        v2) echo 65536 ;;
        webp|tiff|gif|bmp|ico) echo 65536 ;;
        endpoint) echo 65536 ;;
        *) echo 8192 ;;
    esac
}

# fuzz_one BIN: fuzzes one target, replays its regressions; prints its report, exits 1 on a failure.
fuzz_one() {
    local bin=$1 t seeds regs logs crashes work dict common log rc execs units nreg
    t=$(basename "$bin"); t=${t#fuzz_}
    seeds="$here/corpus/$t"; regs="$here/regressions/$t"
    logs=build/fuzz/logs; crashes=build/fuzz/crashes/$t
    mkdir -p "$logs" "$crashes"
    if [ "$smoke" -eq 1 ]; then work=$(mktemp -d); else work=build/fuzz/corpus/$t; mkdir -p "$work"; fi
    dict=""; [ -f "$here/dict/$t.dict" ] && dict="-dict=$here/dict/$t.dict"
    common="-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -max_len=$(max_len "$t")"
    log="$logs/$t.log"
    # shellcheck disable=SC2086  # $common and $dict are option lists
    "$bin" $common $dict -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    units=$(find "$work" -type f | wc -l)
    [ "$smoke" -eq 1 ] && rm -rf "$work"
    if [ "$rc" -ne 0 ] || grep -q 'runtime error:\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer' "$log"; then
        echo "fuzz $t: FAILED (exit $rc); log $log, inputs in $crashes/"
        tail -n 40 "$log"
        return 1
    fi
    nreg=0
    if [ -d "$regs" ] && [ -n "$(ls -A "$regs" 2>/dev/null)" ]; then
        nreg=$(find "$regs" -type f | wc -l)
        # shellcheck disable=SC2086
        if ! "$bin" $common "$regs"/* >"$logs/$t.regressions.log" 2>&1; then
            echo "fuzz $t: regression replay FAILED; log $logs/$t.regressions.log"
            tail -n 40 "$logs/$t.regressions.log"
            return 1
        fi
    fi
    echo "fuzz $t: ok, ${execs:-?} executions in ${secs}s, corpus $units new units, $nreg regressions replayed"
}

reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
each_parallel "$jobs" "$reports" fuzz_one "$@"
bad=0
for n in $(seq 1 $#); do
    cat "$reports/$n.out"
    ran_ok "$reports" "$n" || bad=$((bad + 1))
done
echo "fuzz: $(( $# - bad )) passed, $bad failed"
[ "$bad" -eq 0 ]
