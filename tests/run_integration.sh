#!/bin/sh
# run_integration.sh TEST... — runs each integration-test binary (they start the servers they need)
# against the release server, the ASan/UBSan server (leaks checked at exit) and, when built, the
# ThreadSanitizer server (a shorter concurrent run, OpenBLAS single-threaded so only our threads are
# checked); then the soak (build/soak, release server) and tests/smoke.sh against a release server
# started here (DEIT_TEST_ONLY=1: the binaries only, as `make test-integration T=...`). Server logs:
# build/test-logs/.
# Prints one total line "integration: N passed, N failed"; exits non-zero on any failure.
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
mkdir -p "$B/test-logs"
. tests/summary.sh

# run LABEL CMD... : echoes the output and how long it took (where CI's minutes go), adds up its
# "<name>: N passed, N failed" line
run() {
    label=$1; shift
    echo "== $label"
    t0=$(date +%s)
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out"
    echo "== $label: $(($(date +%s) - t0)) s"
    summary_add "$rc" "$out" || echo "FAILED: $label (exit $rc)"
}

for t in "$@"; do
    name=$(basename "$t")
    run "$name (release server)" env DEIT_SERVER_BIN="$B/deit-server" timeout 900 "$t"
    if [ -x "$B/asan/deit-server" ]; then
        run "$name (ASan/UBSan server)" env DEIT_SERVER_BIN="$B/asan/deit-server" \
            ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}" \
            UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" timeout 1800 "$t"
    fi
    if [ -x "$B/tsan/deit-server" ]; then
        run "$name (TSan server)" env DEIT_SERVER_BIN="$B/tsan/deit-server" DEIT_TEST_QUICK=1 \
            OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=0 exitcode=66 ${TSAN_OPTIONS:-}" timeout 1800 "$t"
    fi
done

if [ -n "${DEIT_TEST_ONLY:-}" ]; then
    echo "integration: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

# soak: 5 minutes at ~80% of the measured maximum throughput (issue 7), release server only (RSS
# under a sanitizer means nothing); DEIT_SOAK_SECONDS=60 shortens it for a quick local run
if [ -x "$B/soak" ]; then
    run "soak (release server, ${DEIT_SOAK_SECONDS:-300} s)" env DEIT_SERVER_BIN="$B/deit-server" \
        DEIT_SOAK_SECONDS="${DEIT_SOAK_SECONDS:-300}" timeout 1800 "$B/soak"
else
    echo "FAILED: $B/soak not built"; failed=$((failed + 1))
fi

# smoke.sh against a server on a free port (--port 0: the server prints the port it got)
log="$B/test-logs/smoke-server.log"
"$B/deit-server" --model tests/fixtures/models/timm-deit-reduced --host 127.0.0.1 --port 0 2>"$log" &
pid=$!
. tools/wait_ready.sh
if port=$(server_port "$log" "$pid" 20) && wait_ready "http://127.0.0.1:$port/readyz" "$pid" 20; then
    run "smoke.sh" sh tests/smoke.sh "http://127.0.0.1:$port"
else
    echo "FAILED: smoke server did not start (see $log)"; failed=$((failed + 1))
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid" || { echo "FAILED: smoke server exit status $?"; failed=$((failed + 1)); }

echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
