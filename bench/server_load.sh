#!/bin/sh
# server_load.sh — the server end to end: wrk POSTs a ~500x375 JPEG at 1, 4, 8 and 16 concurrent
# clients and prints images/s, p50 and p99 per concurrency (one image per request).
#
#   sh bench/server_load.sh [MODEL_DIR]          (run from the repository root)
#
# Environment: CLIENTS ("1 4 8 16"), SECONDS_EACH (10), IMAGE (bench/cat_500x375.jpg), PORT (18097),
# SERVER_ARGS (extra deit-server flags; the defaults otherwise), OUT (build/bench). Needs wrk (Debian
# package). Writes OUT/server_load.tsv and, with gnuplot, OUT/server.png: images/s and p99 against
# concurrency, with the engines' best batch throughput from OUT/compare.tsv (bench/compare.sh) as
# reference lines when that file is there.
set -eu
cd "$(dirname "$0")/.."
MODEL=${1:-${DEIT_SHARED_FIXTURES:-../shared/fixtures}/models/timm-deit-tiny-distilled}
CLIENTS=${CLIENTS:-"1 4 8 16"}
SECONDS_EACH=${SECONDS_EACH:-10}
PORT=${PORT:-18097}
export IMAGE=${IMAGE:-bench/cat_500x375.jpg}
OUT=${OUT:-build/bench}
mkdir -p "$OUT"
tsv="$OUT/server_load.tsv"
printf 'clients\timages_s\tp50_ms\tp99_ms\terrors\n' > "$tsv"
command -v wrk >/dev/null || { echo "server_load: needs wrk (apt-get install wrk)" >&2; exit 2; }
make -s -j2 build/deit-server >&2

# shellcheck disable=SC2086
build/deit-server --model "$MODEL" --port "$PORT" --host 127.0.0.1 ${SERVER_ARGS:-} 2> build/server_load.log &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
. tools/wait_ready.sh
wait_ready "http://127.0.0.1:$PORT/readyz" $pid || { echo "server_load: server not ready" >&2; exit 1; }
# warm-up: arenas, page cache, the CPU's clocks
wrk -t1 -c2 -d2s -s bench/post.lua "http://127.0.0.1:$PORT/v1/predict" >/dev/null

echo "model $(basename "$MODEL"), image $IMAGE, server flags: ${SERVER_ARGS:-defaults}, $SECONDS_EACH s per row"
echo "| concurrent clients | images/s | p50 | p99 | errors |"
echo "|---:|---:|---:|---:|---:|"
for c in $CLIENTS; do
    t=1; [ "$c" -ge 2 ] && t=2
    line=$(wrk -t$t -c"$c" -d"${SECONDS_EACH}s" --timeout 30s -s bench/post.lua \
        "http://127.0.0.1:$PORT/v1/predict" | grep '^WRK_RESULT')
    echo "$line" | awk -v c="$c" -v tsv="$tsv" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "| %d | %.1f | %.1f ms | %.1f ms | %d |\n", c, v["rps"], v["p50_ms"], v["p99_ms"], v["errors"]
        printf "%d\t%.2f\t%.2f\t%.2f\t%d\n", c, v["rps"], v["p50_ms"], v["p99_ms"], v["errors"] >> tsv }'
done

if command -v gnuplot >/dev/null 2>&1; then
    name=$(basename "$MODEL")
    ours=0; ort=0
    if [ -f "$OUT/compare.tsv" ]; then
        ours=$(awk -F'\t' -v n="$name" '$1 == n && $4 > m { m = $4 } END { print m + 0 }' "$OUT/compare.tsv")
        ort=$(awk -F'\t' -v n="$name" '$1 == n && $6 > m { m = $6 } END { print m + 0 }' "$OUT/compare.tsv")
    fi
    gnuplot <<GP 2>/dev/null || echo "server_load: gnuplot failed; the table above is complete" >&2
set terminal pngcairo size 960,560 noenhanced
set output "$OUT/server.png"
set title "deit-server end to end: $name, 500x375 JPEG over HTTP\n(${SERVER_ARGS:-default flags})"
set xlabel "concurrent clients"
set ylabel "images/s"
set y2label "p99 latency (ms)"
set logscale x 2
set xtics (1, 2, 4, 8, 16, 32, 64)
set xrange [0.9:*]
set offsets 0, graph 0.05, 0, 0
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key below
set grid
plot "$tsv" using 1:2 with linespoints lw 2 title "server images/s", \
     "$tsv" using 1:4 axes x1y2 with linespoints lw 2 dt 2 title "server p99 (right axis)", \
     ($ours > 0 ? $ours : 1/0) with lines lw 1 title "engine best batch, no HTTP ($ours/s)", \
     ($ort > 0 ? $ort : 1/0) with lines lw 1 dt 3 title "ONNX Runtime best batch ($ort/s)"
GP
    [ -f "$OUT/server.png" ] && echo "server_load: plot in $OUT/server.png" >&2
fi
