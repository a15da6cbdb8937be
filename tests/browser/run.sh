#!/usr/bin/env bash
# tests/browser/run.sh — the web page at / in headless Debian chromium (page.test.js, playwright-core
# from npm into tests/browser/node_modules): two deit-server instances (open, and with --api-key and --cors-origin)
# serving the default model, deploy/nginx.conf in front of the open one, and one server for each model
# the page must draw differently (tests/browser/models.js: 1000-character labels, two class tokens, a
# 224x160 input, two classes, no resize; the one-head fixture), all on loopback.
# Skipped, and says so, when chromium is not installed. SCREENSHOT=path keeps a PNG of the page.
# playwright-core is pinned (package-lock.json) at 1.61.1, the last release that runs on Debian 12's
# own Node 18 (1.62 on exits at load, "Playwright requires Node.js 20"); checked on Node 18 and 20.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/deploy/lib.sh

MODEL=${BROWSER_MODEL:-models/fashion-deit}
if ! command -v chromium >/dev/null; then
    echo "browser: 0 passed, 0 failed (chromium not installed: skipped)"
    exit 0
fi
command -v node >/dev/null || fail "node not installed"
command -v nginx >/dev/null || fail "nginx not installed (apt-get install nginx-light)"
[ -x "$SERVER_BIN" ] || fail "$SERVER_BIN missing (make build/deit-server)"
# (again when the installed version is not the one package.json pins, as after a change of the pin)
pinned=$(node -p 'require("./tests/browser/package.json").dependencies["playwright-core"]')
installed=$(node -p 'require("./tests/browser/node_modules/playwright-core/package.json").version' 2>/dev/null || true)
if [ "$installed" != "$pinned" ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --silent) || fail "npm ci playwright-core failed"
fi

T=$(mktemp -d /tmp/deit-browser.XXXXXX)
chmod 755 "$T"
cleanup() {
    cleanup_pids
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME MODEL ARGS...: a server on a kernel-chosen loopback port; sets PORT_<NAME>
start_server() {
    local name=$1 model=$2 port=""
    shift 2
    "$SERVER_BIN" --model "$model" --host 127.0.0.1 --port 0 --workers 1 --threads 1 \
        --log-format text "$@" 2>"$T/$name.log" &
    local pid=$!
    track_pid "$pid"
    port=$(server_port "$T/$name.log" "$pid" 10) || { cat "$T/$name.log"; fail "$name did not report its port"; }
    wait_ready "http://127.0.0.1:$port/readyz" "$pid" 30 || fail "$name not ready"
    printf -v "PORT_$name" '%s' "$port"
}
API_KEY=browser-test-key-$$
start_server open "$MODEL" --max-body-mb 1
start_server keyed "$MODEL" --api-key "$API_KEY" --cors-origin '*'
node tests/browser/models.js "$T/models" || fail "tests/browser/models.js could not derive the test models"
start_server labels "$T/models/labels"
start_server twocls "$T/models/twocls"
start_server nonsq "$T/models/nonsq"
start_server nodist tests/fixtures/models/timm-deit-nodist-reduced
start_server few "$T/models/few"
start_server noresize "$T/models/noresize"

# deploy/nginx.conf unchanged but for loopback addresses (start_nginx, tests/deploy/lib.sh); its three
# upstreams all point at the open server
start_nginx 64 "$PORT_open" "$PORT_open" "$PORT_open"

rc=0
DIRECT="http://127.0.0.1:$PORT_open" KEYED="http://127.0.0.1:$PORT_keyed" PROXY="http://127.0.0.1:$LB" \
    LABELS="http://127.0.0.1:$PORT_labels" TWOCLS="http://127.0.0.1:$PORT_twocls" \
    NONSQ="http://127.0.0.1:$PORT_nonsq" NODIST="http://127.0.0.1:$PORT_nodist" \
    FEW="http://127.0.0.1:$PORT_few" NORESIZE="http://127.0.0.1:$PORT_noresize" \
    API_KEY="$API_KEY" TMPDIR_TEST="$T" SCREENSHOT="${SCREENSHOT:-}" \
    timeout 300 node tests/browser/page.test.js || rc=$?
[ "$rc" -eq 0 ] || { echo "--- server logs"; tail -n 20 "$T"/*.log; }
exit "$rc"
