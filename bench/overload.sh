#!/bin/sh
# overload.sh — goodput under overload (issue 21): images/s answered 200 with 1,000 closed-loop clients
# POSTing a 500x375 JPEG, against the images/s at 8 clients, on the default flags; every answer must be
# 200 or 503 with Retry-After; the server's peak RSS (VmHWM) is reported beside, and the share of the
# server's CPU time that went to the inference workers (threads named deit-worker) during each run:
# the quantity a refusal path that costs too much eats into, and one that depends little on what else
# the machine runs.
#
#   sh bench/overload.sh [MODEL_DIR]          (run from the repository root)
#
# Environment: SECONDS_EACH (15), ROUNDS (2: 8 and 1000 clients alternate, medians reported), CLIENTS
# (1000), IMAGE (bench/cat_500x375.jpg), PORT (18098), SERVER_ARGS (extra deit-server flags), SERVER_BIN
# (build/deit-server). Needs wrk and `ulimit -n` above CLIENTS + 64.
set -eu
cd "$(dirname "$0")/.."
MODEL=${1:-${DEIT_SHARED_FIXTURES:-../shared/fixtures}/models/timm-deit-tiny-distilled}
SECONDS_EACH=${SECONDS_EACH:-15}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-1000}
PORT=${PORT:-18098}
SERVER_BIN=${SERVER_BIN:-build/deit-server}
export IMAGE=${IMAGE:-bench/cat_500x375.jpg}
command -v wrk >/dev/null || { echo "overload: needs wrk (apt-get install wrk)" >&2; exit 2; }
ulimit -n $((CLIENTS + 256)) 2>/dev/null || true
[ "$SERVER_BIN" != build/deit-server ] || make -s -j2 build/deit-server >&2

# shellcheck disable=SC2086
"$SERVER_BIN" --model "$MODEL" --port "$PORT" --host 127.0.0.1 ${SERVER_ARGS:-} 2> build/overload.log &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
. tools/wait_ready.sh
wait_ready "http://127.0.0.1:$PORT/readyz" $pid || { echo "overload: server not ready" >&2; exit 1; }
wrk -t1 -c2 -d2s -s bench/overload.lua "http://127.0.0.1:$PORT/v1/predict" >/dev/null # warm-up

run() { # clients -> the WRK_OVERLOAD line
    wrk -t2 -c"$1" -d"${SECONDS_EACH}s" --timeout 10s -s bench/overload.lua "http://127.0.0.1:$PORT/v1/predict" |
        grep '^WRK_OVERLOAD'
}
# CPU ticks of the server: "<workers> <all threads>" (workers are the threads named deit-worker)
cpu() { cat /proc/"$pid"/task/*/stat 2>/dev/null | awk '{ c = $0; sub(/^[^(]*\(/, "", c); n = c; sub(/\).*/, "", n);
    sub(/^[^)]*\) /, "", c); split(c, f, " "); t = f[12] + f[13]; all += t; if (n == "deit-worker") w += t }
    END { print w + 0, all + 0 }'; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "model $(basename "$MODEL"), image $IMAGE, flags: ${SERVER_ARGS:-defaults}, $SECONDS_EACH s x $ROUNDS rounds"
echo "| clients | 200/s | 503/s (Retry-After) | 503 without Retry-After | other | socket errors | timeouts | p50 | p99 | workers' share of server CPU |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
few=""; many=""; bad=0; share8=""; shareN=""
r=0
while [ $r -lt "$ROUNDS" ]; do
    for c in 8 "$CLIENTS"; do
        c0=$(cpu)
        l=$(run "$c")
        c1=$(cpu)
        share=$(echo "$c0 $c1" | awk '{ d = $4 - $2; printf "%.0f", (d > 0 ? 100 * ($3 - $1) / d : 0) }')
        if [ "$c" = 8 ]; then share8="$share8 $share"; else shareN="$shareN $share"; fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s ms | %s ms | %s%% |\n' "$c" "$(field "$l" ok_s)" \
            "$(field "$l" busy_s)" "$(field "$l" busy_bare)" "$(field "$l" other)" "$(field "$l" socket_errors)" \
            "$(field "$l" timeouts)" "$(field "$l" p50_ms)" "$(field "$l" p99_ms)" "$share"
        if [ "$c" = 8 ]; then few="$few $(field "$l" ok_s)"; else many="$many $(field "$l" ok_s)"; fi
        bad=$((bad + $(field "$l" busy_bare) + $(field "$l" other)))
    done
    r=$((r + 1))
done
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
m8=$(echo "$few" | tr ' ' '\n' | grep . | median)
mN=$(echo "$many" | tr ' ' '\n' | grep . | median)
echo
echo "goodput: $CLIENTS clients $mN images/s vs 8 clients $m8 images/s = $(awk -v a="$mN" -v b="$m8" 'BEGIN { printf "%.2f", a / b }')x" \
     "(target >= 0.8x); answers other than 200 or 503+Retry-After: $bad; server peak RSS $((hwm / 1024)) MB;" \
     "workers' share of the server's CPU: 8 clients $(echo "$share8" | tr ' ' '\n' | grep . | median)%," \
     "$CLIENTS clients $(echo "$shareN" | tr ' ' '\n' | grep . | median)%"
