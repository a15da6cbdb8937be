#!/bin/sh
# tests/grpc/run.sh — the gRPC end-to-end test (test_grpc.js) against the release server and, when
# built, the ASan/UBSan server. Installs the client (@grpc/grpc-js, @grpc/proto-loader; every version,
# theirs and their dependencies', pinned in package-lock.json) from the npm registry into
# tests/grpc/node_modules (git-ignored) on first use.
# Prints "grpc: N passed, N failed" over both runs; exits non-zero on any failure.
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
here=tests/grpc
if [ ! -d "$here/node_modules/@grpc/grpc-js" ] || [ ! -d "$here/node_modules/@grpc/proto-loader" ]; then
    command -v npm >/dev/null 2>&1 || { echo "tests/grpc: npm not found (tools/install-deps.sh installs it)"; echo "grpc: 0 passed, 1 failed"; exit 1; }
    (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null) ||
        { echo "tests/grpc: npm ci failed"; echo "grpc: 0 passed, 1 failed"; exit 1; }
fi
passed=0; failed=0
run() {
    label=$1; shift
    echo "== test_grpc ($label)"
    out=$(env "$@" node "$here/test_grpc.js" 2>&1); rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^test_grpc: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
}
run "release server" DEIT_SERVER_BIN="$B/deit-server"
if [ -x "$B/asan/deit-server" ]; then
    run "ASan/UBSan server" DEIT_SERVER_BIN="$B/asan/deit-server" \
        ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
echo "grpc: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
