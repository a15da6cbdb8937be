#!/bin/bash
# cold_start.sh — exec of build/deit-server to the first 200 from /readyz, RUNS times; prints each
# run and the median. The model files are in the page cache after the first run (the usual case for
# a restart or a new replica on a node that has the image); run 1 shows the cache-cold cost when the
# files were not read before.
#
#   bash bench/cold_start.sh [MODEL_DIR]          (run from the repository root)
#
# Polls /readyz over bash's /dev/tcp (no process per poll), so the resolution is ~0.1 ms plus the
# 1 ms pause between polls.
set -eu
cd "$(dirname "$0")/.."
MODEL=${1:-${DEIT_SHARED_FIXTURES:-../shared/fixtures}/models/timm-deit-tiny-distilled}
RUNS=${RUNS:-11}
PORT=${PORT:-18098}
make -s -j2 build/deit-server >&2

ready() {
    { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
    printf 'GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
    local line=
    read -r -t 2 line <&3 || true
    exec 3<&-
    [[ $line == "HTTP/1.1 200"* ]]
}

times=()
for ((r = 1; r <= RUNS; r++)); do
    t0=$EPOCHREALTIME
    build/deit-server --model "$MODEL" --port "$PORT" --host 127.0.0.1 2> build/cold_start.log &
    pid=$!
    until ready; do
        sleep 0.001
        if ! kill -0 $pid 2>/dev/null; then echo "cold_start: server exited:" >&2; cat build/cold_start.log >&2; exit 1; fi
    done
    t1=$EPOCHREALTIME
    kill -TERM $pid; wait $pid || true
    ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1e3 }')
    times+=("$ms")
    echo "run $r: ${ms} ms"
done
printf '%s\n' "${times[@]}" | sort -n | awk -v m="$(basename "$MODEL")" '{ v[NR] = $1 }
    END { printf "cold start (exec -> /readyz 200), %s: median %.1f ms over %d runs (min %.1f, max %.1f)\n",
          m, v[int((NR + 1) / 2)], NR, v[1], v[NR] }'
