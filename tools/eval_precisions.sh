#!/bin/sh
# eval_precisions.sh — one model served at f32, bf16 and int8 in turn, the first N Fashion-MNIST
# test images over HTTP each time, and the table the README quotes: each head's top-1 per precision,
# the fused top-1's change from f32, and how many images get the same fused top-1 as at f32
# (a reduced precision can keep the accuracy and still answer differently image by image).
# deit-eval reports percentages; a one-head model's second head is "–".
# A precision the engine refuses on this CPU is reported as such, not skipped in silence.
# Usage: tools/eval_precisions.sh [N] [MODEL_DIR]   (default 10000, models/fashion-deit;
#        EVAL_PRECISIONS overrides the list, f32 first)
set -eu
n=${1:-10000}
model=${2:-models/fashion-deit}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tools/json_fields.sh

echo "$model, first $n Fashion-MNIST test images over HTTP (tools/eval_precisions.sh)"
echo "| precision | class head | second head | fused | fused vs f32 (points) | fused top-1 agreement with f32 |"
echo "|---|---:|---:|---:|---:|---:|"
f32_fused=""
for p in ${EVAL_PRECISIONS:-f32 bf16 int8}; do
    if ! res=$(DEIT_MODEL=$model DEIT_PRECISION=$p sh tools/eval.sh "$n" --json --predictions "$tmp/$p" 2>"$tmp/err"); then
        echo "| $p | not served: $(tail -n 1 "$tmp/err") | | | | |"
        continue
    fi
    errors=$(echo "$res" | num errors)
    [ "$errors" = 0 ] || { echo "eval_precisions: $p: $errors requests failed" >&2; exit 1; }
    cls=$(echo "$res" | num class_head)
    snd=$(echo "$res" | num distill_head)
    fused=$(echo "$res" | num fused)
    [ -n "$f32_fused" ] || f32_fused=$fused
    agree="—"
    if [ "$p" != f32 ] && [ -f "$tmp/f32" ]; then
        agree=$(paste -d' ' "$tmp/$p" "$tmp/f32" | awk '{ n++; same += ($1 == $3) } END { printf "%.2f%% (%d of %d)", 100 * same / n, same, n }')
    fi
    awk -v p="$p" -v c="$cls" -v s="$snd" -v f="$fused" -v f0="$f32_fused" -v a="$agree" 'BEGIN {
        printf "| %s | %.2f%% | %s | %.2f%% | %s | %s |\n", p, c, s == "" ? "–" : sprintf("%.2f%%", s),
            f, p == "f32" ? "—" : sprintf("%+.2f", f - f0), a }'
done
