#!/bin/sh
# eval_models.sh — the DeiT paper's table for every shipped model, measured through the server:
# each models/*/ is served in turn on a loopback port and build/deit-eval sends the first N
# Fashion-MNIST test images over HTTP with ?explain=1, so the answers carry the two output tokens'
# cosine; the learned tokens' cosine and the heads' names come from GET /v1/models.
# Then each model's fused top-1 is compared with the baseline's image by image (paired difference
# of accuracy with a 95% confidence interval, and the discordant pairs McNemar's test counts), so a
# gain can be told from noise.
# Usage: tools/eval_models.sh [N] [MODEL_DIR ...]   (DEIT_PRECISION picks the server's precision;
#        EVAL_BASELINE names the model the others are compared with, default fashion-vit-nodist;
#        EVAL_Z adds a second interval at that z, e.g. 2.498 for 98.75%: Bonferroni over four
#        comparisons held against one bar, each at 95%; EVAL_PREDICTIONS=DIR keeps each model's
#        per-image "prediction label" lines in DIR/<model name>, for train/pooled_gain.py)
set -eu
. tools/wait_ready.sh
. tools/json_fields.sh
n=${1:-10000}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- models/*/
port=${DEIT_EVAL_PORT:-18090}
U="http://127.0.0.1:$port"

base=${EVAL_BASELINE:-fashion-vit-nodist}
zx=${EVAL_Z:-}
if [ -n "$zx" ] && ! awk -v z="$zx" 'BEGIN { exit !(z ~ /^[0-9]+(\.[0-9]+)?$/ && z + 0 > 0) }'; then
    echo "eval: EVAL_Z must be a positive number such as 2.498, not '$zx'" >&2
    exit 2
fi
if [ -n "${EVAL_PREDICTIONS:-}" ]; then
    preds=$EVAL_PREDICTIONS
    mkdir -p "$preds"
else
    preds=$(mktemp -d)
    trap 'rm -rf "$preds"' EXIT
fi
rows=""
for dir in "$@"; do
    dir=${dir%/}
    [ -f "$dir/model.safetensors" ] || continue
    ./build/deit-server --model "$dir" --host 127.0.0.1 --port "$port" 2>/tmp/deit-eval-server.log &
    pid=$!
    if ! wait_ready "$U/readyz" $pid 10; then
        echo "eval: $dir: server did not become ready; log:" >&2
        cat /tmp/deit-eval-server.log >&2
        kill -TERM $pid 2>/dev/null || true
        exit 1
    fi
    info=$(curl -fsS "$U/v1/models")
    res=$(./build/deit-eval --url "$U/v1/predict?top_k=1&explain=1" --limit "$n" --concurrency 8 --json \
        --predictions "$preds/$(basename "$dir")" 2>/dev/null)
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    second=$(echo "$info" | str second_token)
    lcos=$(echo "$info" | num learned_token_cosine)
    errors=$(echo "$res" | num errors)
    [ "$errors" = 0 ] || { echo "eval: $dir: $errors requests failed" >&2; exit 1; }
    cls=$(echo "$res" | num class_head)
    fused=$(echo "$res" | num fused)
    prec=$(echo "$res" | str precision)
    if [ -n "$second" ]; then
        snd=$(echo "$res" | num distill_head)
        ocos=$(echo "$res" | sed -n 's/.*"token_cosine":{[^}]*"mean":\([0-9.eE+-]*\).*/\1/p')
        role=$second
    else
        snd="–"; fused="$cls"; lcos="–"; ocos="–"; role="none"
    fi
    rows="$rows$(awk -v m="$(basename "$dir")" -v r="$role" -v c="$cls" -v s="$snd" -v f="$fused" -v l="$lcos" \
        -v o="$ocos" 'function p(x) { return x == "–" ? x : sprintf("%.2f%%", x) }
        function q(x) { return x == "–" ? x : sprintf("%.3f", x) }
        BEGIN { printf "| %s | %s | %s | %s | %s | %s | %s |", m, r, p(c), p(s), p(f), q(l), q(o) }')
"
done
echo "first $n Fashion-MNIST test images over HTTP, server precision ${prec:-f32}"
echo "| model | second token | class head | second head | fused | learned tokens cos | output tokens cos (mean) |"
echo "|---|---|---:|---:|---:|---:|---:|"
printf '%s' "$rows"

# paired comparison with the baseline: d_i = (model right) - (baseline right) over the same images
[ -f "$preds/$base" ] || exit 0
echo
echo "fused top-1 vs $base on the same $n images (paired; 95% CI = mean d +- 1.96 sd(d)/sqrt(n))"
echo "| model | difference | 95% CI |${zx:+ CI at z $zx |} only model right | only baseline right | McNemar z |"
echo "|---|---:|---:|${zx:+---:|}---:|---:|---:|"
# only this run's models: a kept EVAL_PREDICTIONS folder may hold other runs' files
for dir in "$@"; do
    m=$(basename "${dir%/}")
    f=$preds/$m
    [ "$m" = "$base" ] || [ ! -f "$f" ] && continue
    paste -d' ' "$f" "$preds/$base" | awk -v m="$m" -v zx="$zx" '
        { a = ($1 == $2); b = ($3 == $4); n++; if (a && !b) only_a++; if (b && !a) only_b++ }
        END {
            d = (only_a - only_b) / n
            var = ((only_a + only_b) / n - d * d) * n / (n - 1)
            se = sqrt(var / n)
            z = only_a + only_b > 0 ? (only_a - only_b) / sqrt(only_a + only_b) : 0
            extra = zx == "" ? "" : sprintf(" [%+.2f, %+.2f] |", 100 * (d - zx * se), 100 * (d + zx * se))
            printf "| %s | %+.2f | [%+.2f, %+.2f] |%s %d | %d | %.2f |\n", m, 100 * d, 100 * (d - 1.96 * se),
                100 * (d + 1.96 * se), extra, only_a, only_b, z
        }'
done
