#!/bin/sh
# server_load.sh — the server end to end: wrk POSTs a ~500x375 JPEG at 1, 4, 8 and 16 concurrent
# clients and prints images/s, p50 and p99 per concurrency (one image per request).
#
#   sh bench/server_load.sh [MODEL_DIR]          (run from the repository root)
#
# Environment: CLIENTS ("1 4 8 16"), SECONDS_EACH (10), IMAGE (bench/cat_500x375.jpg), PORT (18097),
# SERVER_ARGS (extra deit-server flags; the defaults otherwise). Needs wrk (Debian package).
set -eu
cd "$(dirname "$0")/.."
MODEL=${1:-${DEIT_SHARED_FIXTURES:-../shared/fixtures}/models/timm-deit-tiny-distilled}
CLIENTS=${CLIENTS:-"1 4 8 16"}
SECONDS_EACH=${SECONDS_EACH:-10}
PORT=${PORT:-18097}
export IMAGE=${IMAGE:-bench/cat_500x375.jpg}
command -v wrk >/dev/null || { echo "server_load: needs wrk (apt-get install wrk)" >&2; exit 2; }
make -s -j2 build/deit-server >&2

# shellcheck disable=SC2086
build/deit-server --model "$MODEL" --port "$PORT" --host 127.0.0.1 ${SERVER_ARGS:-} 2> build/server_load.log &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
i=0
until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null; do
    i=$((i + 1)); [ $i -lt 600 ] || { echo "server_load: server not ready" >&2; exit 1; }
    sleep 0.1
done
# warm-up: arenas, page cache, the CPU's clocks
wrk -t1 -c2 -d2s -s bench/post.lua "http://127.0.0.1:$PORT/v1/predict" >/dev/null

echo "model $(basename "$MODEL"), image $IMAGE, server flags: ${SERVER_ARGS:-defaults}, $SECONDS_EACH s per row"
echo "| concurrent clients | images/s | p50 | p99 | errors |"
echo "|---:|---:|---:|---:|---:|"
for c in $CLIENTS; do
    t=1; [ "$c" -ge 2 ] && t=2
    line=$(wrk -t$t -c"$c" -d"${SECONDS_EACH}s" --timeout 30s -s bench/post.lua \
        "http://127.0.0.1:$PORT/v1/predict" | grep '^WRK_RESULT')
    echo "$line" | awk -v c="$c" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "| %d | %.1f | %.1f ms | %.1f ms | %d |\n", c, v["rps"], v["p50_ms"], v["p99_ms"], v["errors"] }'
done
