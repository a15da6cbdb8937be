#!/bin/sh
# compare.sh — our engine vs ONNX Runtime on the same weights and machine, one table with ratios.
#
#   sh bench/compare.sh [MODEL_DIR ...]        (run from the repository root)
#
# Each MODEL_DIR needs model.safetensors + config.json (ours) and model.onnx (the peer). Default:
# the full-size DeiT-tiny fixture plus random-weight DeiT-small and DeiT-base, generated into
# build/models/ by tools/make_random_deit.py (Debian's /usr/bin/python3 with torch) when missing.
# Environment: THREADS (2), BATCHES ("1 4 8 16"), ITERS (10) and MIN_SECONDS (3) per run,
# REPEAT (2), OUT (build/bench). For every (model, batch) the two engines run back to back, REPEAT
# times interleaved, so both see the same machine load; each run reports the median batch latency
# of >= ITERS passes and >= MIN_SECONDS, and the table keeps each engine's best (lowest) median:
# on a shared machine, other processes only ever add time, so the best run is the least disturbed. Writes OUT/compare.md,
# OUT/compare.tsv and, when gnuplot is installed, OUT/throughput.png.
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
BATCHES=${BATCHES:-"1 4 8 16"}
MIN_SECONDS=${MIN_SECONDS:-3}
ITERS=${ITERS:-10}
REPEAT=${REPEAT:-2}
OUT=${OUT:-build/bench}
SHARED=${DEIT_SHARED_FIXTURES:-../shared/fixtures}
PY=/usr/bin/python3   # Debian's python3-torch; the python3 on PATH may lack torch

mkdir -p "$OUT"
make -s -j2 build/deit-bench >&2
[ -d bench/node_modules/onnxruntime-node ] ||
    (cd bench && npm install --ignore-scripts --no-audit --no-fund >&2)

if [ $# -eq 0 ]; then
    set -- "$SHARED/models/timm-deit-tiny-distilled" build/models/deit-small-random build/models/deit-base-random
fi
for m in "$@"; do
    case "$m" in
    build/models/deit-*-random)
        arch=$(basename "$m" | sed 's/deit-\(.*\)-random/\1/')
        if [ ! -f "$m/model.onnx" ] || [ ! -f "$m/model.safetensors" ]; then
            echo "compare: generating $m" >&2
            $PY tools/make_random_deit.py --arch "$arch" --out "$m" >&2
        fi ;;
    esac
    [ -f "$m/model.onnx" ] || { echo "compare: $m has no model.onnx" >&2; exit 2; }
done

# field NAME < json-line: the number after "NAME":
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

tsv="$OUT/compare.tsv"
printf 'model\tbatch\tours_ms_img\tours_img_s\tort_ms_img\tort_img_s\n' > "$tsv"
ortv=$(node -e "console.log(require('./bench/node_modules/onnxruntime-node/package.json').version)")
for m in "$@"; do
    name=$(basename "$m")
    for b in $BATCHES; do
        best_o=; best_p=
        i=0
        while [ $i -lt "$REPEAT" ]; do
            o=$(build/deit-bench --model "$m" --batch "$b" --threads "$THREADS" --iters "$ITERS" --min-seconds "$MIN_SECONDS" --json | field ms_per_image)
            p=$(node bench/ort_bench.js "$m/model.onnx" --batch "$b" --threads "$THREADS" --iters "$ITERS" --min-seconds "$MIN_SECONDS" --json | field ms_per_image)
            best_o=$(awk -v a="$o" -v b="${best_o:-1e30}" 'BEGIN { print (a < b) ? a : b }')
            best_p=$(awk -v a="$p" -v b="${best_p:-1e30}" 'BEGIN { print (a < b) ? a : b }')
            i=$((i + 1))
        done
        awk -v n="$name" -v b="$b" -v o="$best_o" -v p="$best_p" \
            'BEGIN { printf "%s\t%s\t%.3f\t%.2f\t%.3f\t%.2f\n", n, b, o, 1e3 / o, p, 1e3 / p }' >> "$tsv"
        echo "compare: $name batch $b done" >&2
    done
done

md="$OUT/compare.md"
awk -F'\t' -v threads="$THREADS" -v ortv="$ortv" -v repeat="$REPEAT" '
NR == 1 { next }
{
    r = $3 / $5; t = $4 / $6
    rows[NR] = sprintf("| %s | %d | %.2f | %.1f | %.2f | %.1f | %.2f | %.2f |", $1, $2, $3, $4, $5, $6, r, t)
    if ($2 == 1) lat[$1] = r
    if ($4 > best_us[$1]) best_us[$1] = $4
    if ($6 > best_ort[$1]) best_ort[$1] = $6
    if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
}
END {
    printf "%d threads each; ONNX Runtime %s (onnxruntime-node, all graph optimisations); best of %d interleaved runs each. Ratios: ours / ORT.\n\n", threads, ortv, repeat
    print "| model | batch | ours ms/image | ours images/s | ORT ms/image | ORT images/s | latency ratio | throughput ratio |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 2; i <= NR; i++) if (i in rows) print rows[i]
    print ""
    print "| model | batch-1 latency ratio (target <= 0.75 tiny) | best throughput ours / ORT (images/s) | ratio (target >= 1.3 tiny, 1.2 small/base) |"
    print "|---|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
        k = order[i]
        printf "| %s | %s | %.1f / %.1f | %.2f |\n", k, (k in lat) ? sprintf("%.2f", lat[k]) : "-", best_us[k], best_ort[k], best_us[k] / best_ort[k]
    }
}' "$tsv" > "$md"
cat "$md"

if command -v gnuplot >/dev/null 2>&1; then
    gnuplot <<GP 2>/dev/null || echo "compare: gnuplot failed; table above is complete" >&2
set terminal pngcairo size 960,560 noenhanced
set output "$OUT/throughput.png"
set title "throughput vs batch, $THREADS threads: ours (solid) vs ONNX Runtime $ortv (dashed)"
set xlabel "batch"
set ylabel "images/s"
set logscale x 2
set key outside right top
set logscale y
set yrange [*:*]
set grid
models = system("cut -f1 $tsv | tail -n +2 | uniq | tr '\\\\n' ' '")
plot for [i=1:words(models)] "< awk -F'\t' '\$1 == \"".word(models,i)."\"' $tsv" using 2:4 with linespoints lw 2 lc i dt 1 title word(models,i)." ours", \
     for [i=1:words(models)] "< awk -F'\t' '\$1 == \"".word(models,i)."\"' $tsv" using 2:6 with linespoints lw 2 lc i dt 2 title word(models,i)." ORT"
GP
    [ -f "$OUT/throughput.png" ] && echo "compare: plot in $OUT/throughput.png" >&2
fi
