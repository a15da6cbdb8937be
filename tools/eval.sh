#!/bin/sh
# eval.sh — serves the default model on a loopback port, runs build/deit-eval over the first N
# Fashion-MNIST test images through HTTP, stops the server. Usage: tools/eval.sh [N] [extra eval args]
# The server reads DEIT_PRECISION (f32, bf16, int8) from the environment; the report names it.
set -eu
n=${1:-10000}
[ $# -gt 0 ] && shift
port=${DEIT_EVAL_PORT:-18090}
model=${DEIT_MODEL:-models/fashion-deit}
./build/deit-server --model "$model" --host 127.0.0.1 --port "$port" 2>/tmp/deit-eval-server.log &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT INT TERM
. tools/wait_ready.sh
if ! wait_ready "http://127.0.0.1:$port/readyz" $pid 10; then
    echo "eval: server did not become ready; log:" >&2
    cat /tmp/deit-eval-server.log >&2
    exit 1
fi
./build/deit-eval --url "http://127.0.0.1:$port/v1/predict?top_k=1" --limit "$n" --concurrency 8 "$@"
