#!/bin/sh
# memory.sh — the server's RSS under DURATION seconds of CLIENTS concurrent clients (wrk, each POSTing
# a ~500x375 JPEG), sampled every INTERVAL s; compared with the f32 weights + 64 MB budget.
#
#   sh bench/memory.sh [MODEL_DIR]          (run from the repository root)
#
# Environment: CLIENTS (16), DURATION (300), INTERVAL (5), IMAGE, PORT (18099), SERVER_ARGS.
# "Flat": the mean RSS of the last minute against the mean of the first minute after the warm-up.
set -eu
cd "$(dirname "$0")/.."
MODEL=${1:-${DEIT_SHARED_FIXTURES:-../shared/fixtures}/models/timm-deit-tiny-distilled}
CLIENTS=${CLIENTS:-16}
DURATION=${DURATION:-300}
INTERVAL=${INTERVAL:-5}
PORT=${PORT:-18099}
export IMAGE=${IMAGE:-bench/cat_500x375.jpg}
command -v wrk >/dev/null || { echo "memory: needs wrk (apt-get install wrk)" >&2; exit 2; }
make -s -j2 build/deit-server >&2
OUT=${OUT:-build/bench}
mkdir -p "$OUT"

# shellcheck disable=SC2086
build/deit-server --model "$MODEL" --port "$PORT" --host 127.0.0.1 ${SERVER_ARGS:-} 2> "$OUT/memory-server.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
. tools/wait_ready.sh
wait_ready "http://127.0.0.1:$PORT/readyz" $pid || { echo "memory: server not ready" >&2; exit 1; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
# the engine's weights in float32 (every dtype is upcast once at load): the file's size, doubled for
# a 16-bit checkpoint (the safetensors header is a few KB of it)
dtype=$(curl -fs "http://127.0.0.1:$PORT/v1/models" | sed -n 's/.*"dtype":"\([A-Z0-9]*\)".*/\1/p')
file=$MODEL; [ -d "$MODEL" ] && file=$MODEL/model.safetensors
wbytes=$(stat -c %s "$file")
case $dtype in F16|BF16) wbytes=$((wbytes * 2)) ;; esac
idle=$(rss_kb)

wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --timeout 30s -s bench/post.lua "http://127.0.0.1:$PORT/v1/predict" \
    > "$OUT/memory-wrk.txt" &
wrk_pid=$!
: > "$OUT/memory-rss.tsv"
t=0
while kill -0 $wrk_pid 2>/dev/null; do
    sleep "$INTERVAL"; t=$((t + INTERVAL))
    r=$(rss_kb) || break
    printf '%d\t%d\n' "$t" "$r" >> "$OUT/memory-rss.tsv"
done
wait $wrk_pid
sleep 2
after=$(rss_kb)
grep '^WRK_RESULT' "$OUT/memory-wrk.txt"
awk -v idle="$idle" -v after="$after" -v wbytes="$wbytes" -v dur="$DURATION" -v c="$CLIENTS" '
{ t[NR] = $1; r[NR] = $2; if ($2 > peak) peak = $2 }
END {
    for (i = 1; i <= NR; i++) {
        if (t[i] > 30 && t[i] <= 90) { a += r[i]; na++ }
        if (t[i] > dur - 60) { b += r[i]; nb++ }
    }
    if (!na) for (i = 1; i <= NR / 2; i++) { a += r[i]; na++ }   # a short run: its first half
    if (!na || !nb) { print "memory: too few samples" > "/dev/stderr"; exit 1 }
    w = wbytes / 1048576
    printf "RSS (MB) every %d s:", t[1]; for (i = 1; i <= NR; i++) printf " %.1f", r[i] / 1024; printf "\n"
    printf "memory, %d clients, %d s: idle before %.1f MB; under load peak %.1f MB, first minute after warm-up %.1f MB, last minute %.1f MB (%+.1f%%); idle after %.1f MB\n",
        c, dur, idle / 1024, peak / 1024, a / na / 1024, b / nb / 1024, (b / nb - a / na) / (a / na) * 100, after / 1024
    printf "budget: f32 weights %.1f MB + 64 MB = %.1f MB; peak %s\n", w, w + 64, (peak / 1024 <= w + 64) ? "within" : "OVER"
}' "$OUT/memory-rss.tsv"
