#!/usr/bin/env bash
# tests/deploy/nginx.sh — deploy/nginx.conf in front of three real deit-server replicas, all on
# loopback: concurrent load succeeds; kill -9 of a replica fails only requests in flight on it;
# SIGTERM of a replica stops new work reaching it, loses nothing, and it exits 0; the errors nginx
# answers itself (413 over client_max_body_size, 502 with every replica down) are the API's JSON.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/deploy/lib.sh

CLIENTS=${CLIENTS:-6}    # concurrent curl loops through nginx
REQS=${REQS:-20}         # requests per client per phase
N=3                      # replicas (deploy/nginx.conf lists deit-1..deit-3)

command -v nginx >/dev/null || fail "nginx not installed (apt-get install nginx-light)"
[ -x "$SERVER_BIN" ] || fail "$SERVER_BIN missing (make build/deit-server)"

T=$(mktemp -d /tmp/deit-nginx.XXXXXX)
chmod 755 "$T" # nginx workers run as nobody when started by root and use the temp dirs below
cleanup() {
    cleanup_pids
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- replicas on kernel-chosen loopback ports -----------------------------------------------
declare -a RPID RPORT
for ((i = 1; i <= N; i++)); do
    "$SERVER_BIN" --model "$DEPLOY_MODEL" --host 127.0.0.1 --port 0 --workers 1 --threads 1 \
        --grace-s 10 --log-format text 2>"$T/replica$i.log" &
    RPID[$i]=$!
    track_pid "${RPID[$i]}"
done
for ((i = 1; i <= N; i++)); do
    RPORT[$i]=$(server_port "$T/replica$i.log" "${RPID[$i]}" 10) || { cat "$T/replica$i.log"; fail "replica $i did not report its port"; }
    wait_ready "http://127.0.0.1:${RPORT[$i]}/readyz" "${RPID[$i]}" 30 || fail "replica $i not ready"
done
say "replicas ready on ports ${RPORT[*]}"

# ---- nginx: deploy/nginx.conf with the upstreams and listener moved to loopback ----------------
start_nginx 512 "${RPORT[1]}" "${RPORT[2]}" "${RPORT[3]}"
URL="http://127.0.0.1:$LB"
say "nginx on port $LB"

# Phase counters come from the per-request status lines the load loops write.
count() { grep -c "$2" "$1" || true; }

# ---- 1. steady load: every request succeeds, every replica takes part -------------------------
load "$URL" "$CLIENTS" "$REQS" "$T/p1.codes"
total=$(wc -l <"$T/p1.codes"); good=$(count "$T/p1.codes" '^200$')
[ "$total" = $((CLIENTS * REQS)) ] && [ "$good" = "$total" ] ||
    fail "phase 1: $good/$total requests answered 200"
for ((i = 1; i <= N; i++)); do
    n=$(grep -c "upstream=127.0.0.1:${RPORT[$i]} " "$T/access.log" || true)
    [ "$n" -gt 0 ] || fail "phase 1: replica $i received no request"
done
ok "steady load: $good/$total answered 200 through nginx, spread over $N replicas"
sh tests/smoke.sh "$URL" >"$T/smoke.log" 2>&1 || { cat "$T/smoke.log"; fail "tests/smoke.sh through nginx"; }
ok "tests/smoke.sh through nginx: $(tail -1 "$T/smoke.log")"

# ---- 2. kill -9 one replica mid-run -------------------------------------------------------------
: >"$T/access.log" # nginx keeps the file open; truncating restarts the per-phase count
load "$URL" "$CLIENTS" "$REQS" "$T/p2.codes" &
LOAD=$!
track_pid $LOAD
wait_lines "$T/p2.codes" $((CLIENTS * REQS / 4)) 60 || fail "phase 2: load did not start"
kill -KILL "${RPID[2]}"
before=$(wc -l <"$T/p2.codes")
say "killed replica 2 (port ${RPORT[2]}) after $before requests"
wait "$LOAD"
total=$(wc -l <"$T/p2.codes"); good=$(count "$T/p2.codes" '^200$'); bad=$((total - good))
[ "$total" = $((CLIENTS * REQS)) ] || fail "phase 2: $total requests recorded"
[ "$total" -gt "$before" ] || fail "phase 2: the kill did not happen mid-run"
# A failed request must have been sent to the killed replica only (in flight on it, not retried),
# and there can be at most one in flight per client.
[ "$bad" -le "$CLIENTS" ] || fail "phase 2: $bad failed requests, more than $CLIENTS in flight"
nbad_log=$(awk '$6 != 200' "$T/access.log" | wc -l)
[ "$nbad_log" = "$bad" ] || fail "phase 2: nginx logged $nbad_log failures, clients saw $bad"
if awk '$6 != 200' "$T/access.log" | grep -v "upstream=127.0.0.1:${RPORT[2]} " | grep -q .; then
    awk '$6 != 200' "$T/access.log"
    fail "phase 2: a request failed that was not in flight on the killed replica"
fi
retried=$(grep -c "upstream=127.0.0.1:[0-9]*, " "$T/access.log" || true)
ok "kill -9 mid-run: $good/$total answered 200, $bad failed (all in flight on the killed replica), $retried refused connections retried on another replica"

# ---- 3. SIGTERM one replica mid-run: it drains, loses nothing, exits 0 ------------------------
: >"$T/access.log"
load "$URL" "$CLIENTS" "$REQS" "$T/p3.codes" &
LOAD=$!
track_pid $LOAD
wait_lines "$T/p3.codes" $((CLIENTS * REQS / 4)) 60 || fail "phase 3: load did not start"
kill -TERM "${RPID[3]}"
say "SIGTERM to replica 3 (port ${RPORT[3]})"
wait_exit "${RPID[3]}" 20 || fail "phase 3: replica 3 still running 20 s after SIGTERM"
rc=$EXIT_RC
say "replica 3 exited with status $rc"
wait "$LOAD"
total=$(wc -l <"$T/p3.codes"); good=$(count "$T/p3.codes" '^200$')
[ "$rc" = 0 ] || fail "phase 3: draining replica exited $rc"
if [ "$total" != $((CLIENTS * REQS)) ] || [ "$good" != "$total" ]; then
    awk '$6 != 200' "$T/access.log"
    grep -E 'reset|prematurely' "$T/error.log" || true
    fail "phase 3: $good/$total requests answered 200 across the drain (a 502 \"reset\" or
      \"prematurely closed\" here is a request the draining replica received but never answered)"
fi
grep -q "draining" "$T/replica3.log" || fail "phase 3: replica 3 did not log its drain"
# Work the replica accepted after SIGTERM: only what was already in flight, plus at most one
# request per kept-alive nginx connection (each answered with Connection: close).
after=$(sed -n '/draining/,$p' "$T/replica3.log" | grep -c ' POST /v1/predict ' || true)
[ "$after" -le "$CLIENTS" ] || fail "phase 3: draining replica took $after more requests"
late=$(sed -n '/draining/,$p' "$T/replica3.log" | grep -c ' POST /v1/predict [^2]' || true)
[ "$late" = 0 ] || fail "phase 3: draining replica answered $late non-2xx"
ok "SIGTERM mid-run: $good/$total answered 200; the replica finished $after request(s) after SIGTERM, then exited 0"

# ---- 4. errors nginx answers itself are the API's JSON, in the route's shape ------------------
# json_error STATUS SHAPE CURL-ARGS...: the request gets STATUS with Content-Type application/json
# and a body that parses as the server's error for that route (v1: {"error": {"code", "message"}},
# v2: {"error": "message"}, ts: TorchServe's {"code", "type", "message"}), no HTML. Sets HDRS (the
# response headers' file).
json_error() {
    local want=$1 shape=$2 code
    shift 2
    HDRS=$T/err.headers
    code=$(curl -s -m 20 -D "$HDRS" -o "$T/err.body" -w '%{http_code}' "$@") || code=000
    [ "$code" = "$want" ] || fail "$*: status $code, want $want: $(head -c 300 "$T/err.body")"
    grep -qi '^content-type: application/json' "$HDRS" ||
        fail "$*: $want is not JSON: $(grep -i '^content-type' "$HDRS") $(head -c 300 "$T/err.body")"
    python3 - "$T/err.body" "$want" "$shape" <<'PY' || fail "$*: $want body is not the API's $shape error: $(head -c 300 "$T/err.body")"
import json, sys
body, want, shape = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3]
d = json.loads(body)
if shape == "ts":
    assert sorted(d) == ["code", "message", "type"] and d["code"] == want, d
    assert d["type"].endswith("Exception") and isinstance(d["message"], str) and d["message"], d
elif shape == "v2":
    assert isinstance(d["error"], str) and d["error"], d
else:
    e = d["error"]
    assert e["code"] == want and isinstance(e["message"], str) and e["message"], e
assert "<html" not in body.lower()
PY
}
head -c $((33 * 1024 * 1024)) /dev/zero >"$T/big.bin" # over client_max_body_size 32m
json_error 413 v1 -H 'Content-Type: image/jpeg' --data-binary @"$T/big.bin" "$URL/v1/predict"
grep -q 'balancer' "$T/err.body" || fail "413 on /v1/predict did not come from nginx: $(cat "$T/err.body")"
json_error 413 v2 -H 'Content-Type: application/json' --data-binary @"$T/big.bin" "$URL/v2/models/m/infer"
json_error 413 v1 -H 'Content-Type: image/jpeg' -H 'Expect:' --data-binary @"$T/big.bin" "$URL/v1/predict"
json_error 413 ts -H 'Content-Type: image/jpeg' --data-binary @"$T/big.bin" "$URL/predictions/m"
grep -q '"type":"PayloadTooLargeException"' "$T/err.body" || fail "413 on /predictions: $(cat "$T/err.body")"
# errors found while nginx reads the request line (a named location cannot answer those: 500 HTML)
json_error 414 v1 "$URL/v1/$(head -c 9000 /dev/zero | tr '\0' a)"
json_error 400 v1 --request-target 'v1/predict' "$URL/"
json_error 400 v2 -H "X-Padding: $(head -c 9000 /dev/zero | tr '\0' a)" "$URL/v2/health/ready" # 494 inside nginx
json_error 501 v1 -H 'Content-Type: image/jpeg' -H 'Transfer-Encoding: gzip' --data-binary x "$URL/v1/predict"
json_error 405 v1 -X TRACE "$URL/v1/predict" # nginx answers TRACE itself
# an HTTP/2.0 request line on this HTTP/1 listener (no client library writes one; a raw socket does)
python3 - "$LB" >"$T/err.raw" <<'PY' || fail "raw HTTP/2.0 request line: no answer"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /v1/models HTTP/2.0\r\nHost: x\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("latin-1"))
PY
head -1 "$T/err.raw" | grep -q ' 505 ' || fail "HTTP/2.0 request line: $(head -c 300 "$T/err.raw")"
grep -qi '^content-type: application/json' "$T/err.raw" || fail "505 is not JSON: $(head -c 400 "$T/err.raw")"
grep -q "\"code\":505,\"message\":\"HTTP version not supported" "$T/err.raw" || fail "505 body: $(head -c 400 "$T/err.raw")"
# the replicas' own errors pass through untouched (proxy_intercept_errors is off), 400 included
json_error 404 v1 "$URL/no/such/path"
grep -q 'balancer' "$T/err.body" && fail "a replica's 404 was replaced by nginx's: $(cat "$T/err.body")"
json_error 404 ts -H 'Content-Type: image/jpeg' --data-binary @"$DEPLOY_IMAGE" "$URL/predictions/no-such-model"
grep -q '"type":"ModelNotFoundException"' "$T/err.body" || fail "a replica's TorchServe 404: $(cat "$T/err.body")"
json_error 400 v2 -H 'Content-Type: application/json' --data-binary '{' "$URL/v2/models/$(basename "$DEPLOY_MODEL")/infer"
grep -q 'invalid JSON' "$T/err.body" || fail "a replica's 400 was replaced by nginx's: $(cat "$T/err.body")"
ok "413 over client_max_body_size, 414, a bad request line, headers too large, 501, TRACE's 405 and 505: JSON; a replica's 404 and 400 pass through"

kill -TERM "${RPID[1]}"
wait_exit "${RPID[1]}" 20 || fail "phase 4: replica 1 still running 20 s after SIGTERM"
json_error 502 v1 "$URL/v1/models"
grep -qi '^retry-after: 1' "$HDRS" || fail "502 without Retry-After: $(cat "$HDRS")"
json_error 502 v2 "$URL/v2/health/ready"
json_error 502 v1 -H 'Content-Type: image/jpeg' --data-binary @"$DEPLOY_IMAGE" "$URL/v1/predict"
json_error 502 ts -H 'Content-Type: image/jpeg' --data-binary @"$DEPLOY_IMAGE" "$URL/predictions/m"
json_error 502 ts "$URL/ping"
ok "every replica down: 502 as JSON with Retry-After, in the v1, v2 and TorchServe shapes"

kill -TERM $NGINX
wait_exit $NGINX 10 || fail "nginx did not stop"
say "done"
