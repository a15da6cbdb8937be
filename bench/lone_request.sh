#!/bin/sh
# lone_request.sh — does an idle server lend every core to a lone request without losing throughput
# under load? Two servers at once (--lend-idle 1 and 0, the defaults otherwise), wrk at 1 client and
# at 8 clients against each in turn, ROUNDS times interleaved; plus the engine's own batch-1 time on
# 2 threads (deit-bench), the issue's yardstick: 1-client p50 <= 1.3 x engine + 2 ms.
#
#   sh bench/lone_request.sh [MODEL_DIR]         (run from the repository root; needs wrk)
#
# Environment: ROUNDS (3), SECONDS_EACH (8), IMAGE (bench/cat_500x375.jpg), PORT (18101, and +1).
set -eu
cd "$(dirname "$0")/.."
. tools/wait_ready.sh
MODEL=${1:-${DEIT_SHARED_FIXTURES:-../shared/fixtures}/models/timm-deit-tiny-distilled}
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS_EACH:-8}
PORT=${PORT:-18101}
export IMAGE=${IMAGE:-bench/cat_500x375.jpg}
command -v wrk >/dev/null || { echo "lone_request: needs wrk (apt-get install wrk)" >&2; exit 2; }
make -s -j2 build/deit-server build/deit-bench >&2

pids=""
trap 'for p in $pids; do kill -TERM $p 2>/dev/null; done; wait 2>/dev/null || true' EXIT
for lend in 1 0; do
    port=$((PORT + 1 - lend))
    build/deit-server --model "$MODEL" --port "$port" --host 127.0.0.1 --lend-idle "$lend" \
        2> "build/lone_request_$lend.log" &
    pids="$pids $!"
done
for lend in 1 0; do
    port=$((PORT + 1 - lend))
    wait_ready "http://127.0.0.1:$port/readyz" || { echo "lone_request: server not ready" >&2; exit 1; }
    wrk -t1 -c2 -d2s -s bench/post.lua "http://127.0.0.1:$port/v1/predict" >/dev/null
done

run() { # lend clients -> "rps p50 p99"
    port=$((PORT + 1 - $1)); t=1; [ "$2" -ge 2 ] && t=2
    wrk -t$t -c"$2" -d"${SECONDS_EACH}s" --timeout 30s -s bench/post.lua "http://127.0.0.1:$port/v1/predict" |
        grep '^WRK_RESULT' | awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                                    printf "%.1f %.2f %.2f\n", v["rps"], v["p50_ms"], v["p99_ms"] }'
}
tmp=$(mktemp)
for r in $(seq 1 "$ROUNDS"); do
    for c in 1 8; do
        for lend in 1 0; do echo "$lend $c $(run "$lend" "$c")" >> "$tmp"; done
    done
    eng=$(build/deit-bench --model "$MODEL" --batch 1 --threads 2 --iters 30 --json |
          sed -n 's/.*"batch_ms_median":\([0-9.]*\).*/\1/p')
    echo "E 0 $eng 0 0" >> "$tmp"
done
echo "model $(basename "$MODEL"), image $IMAGE, $ROUNDS interleaved rounds of $SECONDS_EACH s; medians"
awk '
function med(key,   n, i, j, t, a) { n = split(vals[key], a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j] < a[j-1]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
{ vals[$1 " " $2 " rps"] = vals[$1 " " $2 " rps"] " " $3; vals[$1 " " $2 " p50"] = vals[$1 " " $2 " p50"] " " $4
  vals[$1 " " $2 " p99"] = vals[$1 " " $2 " p99"] " " $5 }
END {
    e = med("E 0 rps")
    printf "engine batch 1, 2 threads: %.2f ms -> target 1-client p50 <= %.2f ms\n", e, 1.3 * e + 2
    print "| --lend-idle | 1 client p50 | 1 client p99 | 1 client images/s | 8 clients images/s | 8 clients p99 |"
    print "|---|---:|---:|---:|---:|---:|"
    for (l = 1; l >= 0; l--)
        printf "| %d | %.2f ms | %.2f ms | %.1f | %.1f | %.1f ms |\n", l, med(l " 1 p50"), med(l " 1 p99"),
               med(l " 1 rps"), med(l " 8 rps"), med(l " 8 p99")
}' "$tmp"
rm -f "$tmp"
