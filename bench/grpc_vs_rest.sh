#!/bin/sh
# grpc_vs_rest.sh — KServe v2 over gRPC against KServe v2 over REST on one server: images/s, p50 and
# p99 at 1 and 8 closed-loop clients, one ~500x375 JPEG per request, the protocols interleaved
# (bench/grpc_vs_rest.js). Two models: a real DeiT-tiny (inference dominates) and the reduced test
# model (a 3-layer, 64-wide DeiT: the request path dominates, so protocol overhead shows).
#
#   sh bench/grpc_vs_rest.sh            (run from the repository root; ~4 min)
#
# Environment: MODELS (model directories), CLIENTS ("1 8"), SECONDS_EACH (10), ROUNDS (3), IMAGE
# (bench/cat_500x375.jpg), SERVER_ARGS (extra deit-server flags). The client (Node, @grpc/grpc-js from
# tests/grpc/node_modules, installed here if missing) shares the machine with the server.
set -eu
cd "$(dirname "$0")/.."
. tools/wait_ready.sh
SHARED=${DEIT_SHARED_FIXTURES:-../shared/fixtures}
MODELS=${MODELS:-"$SHARED/models/timm-deit-tiny-distilled tests/fixtures/models/timm-deit-reduced"}
IMAGE=${IMAGE:-bench/cat_500x375.jpg}
make -s -j2 build/deit-server >&2
if [ ! -d tests/grpc/node_modules/@grpc/grpc-js ]; then
    (cd tests/grpc && npm install --no-save --ignore-scripts --no-audit --no-fund >/dev/null)
fi
for model in $MODELS; do
    log=build/grpc_vs_rest.log
    # shellcheck disable=SC2086
    build/deit-server --model "$model" --host 127.0.0.1 --port 0 --grpc-port 0 ${SERVER_ARGS:-} 2> "$log" &
    pid=$!
    hp=$(server_port "$log" "$pid" 60) && gp=$(server_port "$log" "$pid" 60 grpc) &&
        wait_ready "http://127.0.0.1:$hp/readyz" "$pid" 60 || { cat "$log" >&2; exit 1; }
    # the server logs "ready: model NAME" just after /readyz turns 200
    for _ in $(seq 1 50); do grep -q "ready: model" "$log" && break; sleep 0.1; done
    name=$(sed -n 's/.*ready: model \([^ ]*\) .*/\1/p' "$log" | head -n 1)
    echo "model $(basename "$model"), image $IMAGE, server flags: ${SERVER_ARGS:-defaults}, ${SECONDS_EACH:-10} s per cell, ${ROUNDS:-3} rounds"
    DEIT_SERVER_PID=$pid node bench/grpc_vs_rest.js "$hp" "$gp" "$name" "$IMAGE" "${CLIENTS:-1 8}" "${SECONDS_EACH:-10}" "${ROUNDS:-3}"
    kill -TERM "$pid"; wait "$pid" || true
    echo
done
