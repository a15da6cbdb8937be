#!/bin/sh
# explain_cost.sh — what ?explain=1 costs per image, and that without it nothing changed: deit-bench
# plain and with --explain, interleaved ROUNDS times per model (the machine is shared, so peers run
# side by side and medians are compared). BASE_BENCH=path adds a third peer, a deit-bench built
# without the attention-capture hook (the plain path before issue 15).
#   sh bench/explain_cost.sh [MODEL...]     (default: models/fashion-deit and the full-size DeiT-tiny)
set -eu
BENCH=${BENCH:-build/deit-bench}
ROUNDS=${ROUNDS:-5}
BATCH=${BATCH:-1}
THREADS=${THREADS:-1}
SECS=${SECS:-1}
[ $# -gt 0 ] || set -- models/fashion-deit ${DEIT_SHARED_FIXTURES:-../shared/fixtures}/models/timm-deit-tiny-distilled
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
ms() { "$@" --batch "$BATCH" --threads "$THREADS" --min-seconds "$SECS" --json | sed 's/.*"ms_per_image":\([0-9.]*\).*/\1/'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '| model | batch | plain ms/image | explain ms/image | explain cost |%s\n' "${BASE_BENCH:+ before issue 15 | plain / before |}"
printf '|---|---|---|---|---|%s\n' "${BASE_BENCH:+---|---|}"
for model in "$@"; do
    : >"$tmp"
    for _ in $(seq "$ROUNDS"); do
        [ -n "${BASE_BENCH:-}" ] && echo "base $(ms "$BASE_BENCH" --model "$model")" >>"$tmp"
        echo "plain $(ms "$BENCH" --model "$model")" >>"$tmp"
        echo "explain $(ms "$BENCH" --model "$model" --explain)" >>"$tmp"
    done
    p=$(grep '^plain' "$tmp" | cut -d' ' -f2 | median)
    e=$(grep '^explain' "$tmp" | cut -d' ' -f2 | median)
    line=$(awk -v p="$p" -v e="$e" 'BEGIN {printf "%.3f | %.3f | +%.3f ms (%+.1f%%)", p, e, e - p, 100 * (e - p) / p}')
    if [ -n "${BASE_BENCH:-}" ]; then
        b=$(grep '^base' "$tmp" | cut -d' ' -f2 | median)
        line="$line | $(awk -v p="$p" -v b="$b" 'BEGIN {printf "%.3f | %.3fx", b, p / b}')"
    fi
    echo "| $(basename "$model") | $BATCH | $line |"
done
