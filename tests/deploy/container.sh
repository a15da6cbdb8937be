#!/usr/bin/env bash
# tests/deploy/container.sh — builds the Dockerfile with podman (recipe: ../shared/docs/containers.md)
# and checks the image as a user would: two containers on different loopback ports, /readyz, the
# HEALTHCHECK command, a prediction each, a model mounted over the default, non-root PID 1, no
# compiler in the runtime stage, and `podman stop` (SIGTERM) during an upload: that request still
# completes with 200 and the container exits 0. Needs root (or sudo) for apt-get and podman.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/deploy/lib.sh

IMAGE=${IMAGE:-localhost/deit-server:test}
BASE=docker.io/library/debian:bookworm-slim
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# runc + cgroupfs and explicit ulimits: what works on these machines (containers.md).
PODMAN="$SUDO podman --runtime runc --cgroup-manager cgroupfs"
RUN_FLAGS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network host --health-interval=disable)

T=$(mktemp -d /tmp/deit-container.XXXXXX)
C1=deit-test-$$-1
C2=deit-test-$$-2
C3=deit-test-$$-3
cleanup() {
    cleanup_pids
    $PODMAN rm -f -t 0 "$C1" "$C2" "$C3" >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. tools and the base image (both once per machine) ------------------------------------
missing=""
for p in podman runc debootstrap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing$missing"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
if ! $PODMAN image exists "$BASE"; then
    say "debootstrap $BASE (once per machine)"
    $SUDO debootstrap --variant=minbase bookworm "$T/rootfs" "$MIRROR" >"$T/debootstrap.log" 2>&1 ||
        { tail -20 "$T/debootstrap.log"; fail "debootstrap failed"; }
    $SUDO tar -C "$T/rootfs" -c . | $PODMAN import - "$BASE" >"$T/import.log" 2>&1 ||
        { cat "$T/import.log"; fail "podman import of the base image failed"; }
    $SUDO rm -rf "$T/rootfs"
fi
say "base image $BASE present"

# ---- 2. build (chroot isolation, host network for apt inside RUN) -----------------------------
# --format docker keeps HEALTHCHECK, which the OCI image format has no field for. The build stage
# is tagged too, so that the images a previous run left (both stages) can be removed once replaced
# instead of piling up as untagged layers; unchanged layers are reused from the cache.
old_ids=$($PODMAN image inspect "$IMAGE" "$IMAGE-build" --format '{{.Id}}' 2>/dev/null || true)
for target in build ""; do
    if ! $PODMAN build --pull=never --isolation chroot --network host --format docker \
        ${target:+--target "$target"} \
        -t "$IMAGE${target:+-$target}" . >>"$T/build.log" 2>&1; then
        tail -30 "$T/build.log"
        fail "podman build failed"
    fi
done
new_ids=$($PODMAN image inspect "$IMAGE" "$IMAGE-build" --format '{{.Id}}' | tr '\n' ' ')
for id in $old_ids; do
    case " $new_ids " in *" $id "*) ;; *) $PODMAN rmi "$id" >/dev/null 2>&1 || true ;; esac
done
size=$($PODMAN image inspect "$IMAGE" --format '{{.Size}}')
say "built $IMAGE ($((size / 1000000)) MB, built-in model)"
# command -v exits 1 when none is found (the wanted case); the marker tells that apart from a run
# that failed to start, which would print nothing either
tools=$($PODMAN run --rm "${RUN_FLAGS[@]}" --entrypoint /bin/sh "$IMAGE" \
    -c 'command -v cc gcc make; echo "shell ran"' 2>/dev/null || true)
case $tools in *"shell ran"*) ;; *) fail "could not run a shell in $IMAGE to look for build tools" ;; esac
tools=${tools%shell ran}
[ -z "${tools//[[:space:]]/}" ] || fail "runtime image contains build tools: $tools"
ok "runtime stage has no compiler"

# ---- 3. two containers on two loopback ports; the second serves a mounted model ---------------
P1=$(free_port)
P2=$(free_port)
[ "$P1" != "$P2" ] || P2=$(free_port)
# the image serves gRPC on 8081 (DEIT_GRPC_PORT); on the host network each container needs its own
G1=$(free_port)
G2=$(free_port)
while [ "$G1" = "$P1" ] || [ "$G1" = "$P2" ]; do G1=$(free_port); done
while [ "$G2" = "$P1" ] || [ "$G2" = "$P2" ] || [ "$G2" = "$G1" ]; do G2=$(free_port); done
$PODMAN run -d --name "$C1" "${RUN_FLAGS[@]}" -e DEIT_PORT="$P1" -e DEIT_GRPC_PORT="$G1" -e DEIT_HOST=127.0.0.1 \
    -e DEIT_GRACE_S=8 "$IMAGE" >"$T/run1.log" 2>&1 || { cat "$T/run1.log"; fail "run $C1"; }
$PODMAN run -d --name "$C2" "${RUN_FLAGS[@]}" -e DEIT_PORT="$P2" -e DEIT_GRPC_PORT="$G2" -e DEIT_HOST=127.0.0.1 \
    -v "$PWD/tests/fixtures/models/timm-deit-nodist-reduced:/models/default:ro" -e DEIT_MODEL=/models/default \
    "$IMAGE" >"$T/run2.log" 2>&1 || { cat "$T/run2.log"; fail "run $C2"; }
for pc in "$P1:$C1" "$P2:$C2"; do
    p=${pc%%:*} c=${pc#*:}
    wait_ready "http://127.0.0.1:$p/readyz" "" 60 ||
        { $PODMAN logs "$c" 2>&1 | tail; fail "container $c on port $p not ready within 60 s"; }
done
say "both containers ready (ports $P1, $P2)"
# A real gRPC call (ServerLive with an empty message over HTTP/2), not the log line: podman's log
# copy may lag behind the process, which once failed CI with the server listening. The answer is
# the 5-byte frame header then ServerLiveResponse{live: true} = 08 01.
printf '\0\0\0\0\0' >"$T/empty.grpc"
grpc_live() {
    curl -sS -m 5 --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' \
        --data-binary @"$T/empty.grpc" "http://127.0.0.1:$1/inference.GRPCInferenceService/ServerLive" |
        od -An -tx1 | tr -d ' \n'
}
live=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    live=$(grpc_live "$G1" 2>"$T/grpc.err") && [ "$live" = 00000000020801 ] && break
    sleep 0.5
done
[ "$live" = 00000000020801 ] ||
    { cat "$T/grpc.err"; $PODMAN logs "$C1" 2>&1 | tail; fail "$C1 does not serve gRPC on $G1 (ServerLive gave '$live')"; }
ok "the image serves KServe v2 gRPC too (DEIT_GRPC_PORT, here $G1): ServerLive says live"

$PODMAN healthcheck run "$C1" >/dev/null 2>&1 || fail "HEALTHCHECK command fails in $C1"
top=$($PODMAN top "$C1" pid user args 2>/dev/null | awk 'NR == 2 { print $1, $2, $3 }')
[ "$top" = "1 deit /usr/local/bin/deit-server" ] || fail "expected deit-server as PID 1 user deit, got: $top"
ok "HEALTHCHECK passes; deit-server runs as PID 1, user deit"

# With DEIT_TLS_CERT/DEIT_TLS_KEY the port speaks HTTPS only: the HEALTHCHECK must follow (it asked
# http:// and called a ready TLS container unhealthy for good).
command -v openssl >/dev/null || fail "openssl not installed (apt-get install openssl)"
mkdir -m 755 "$T/tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" -days 1 \
    -subj /CN=deit.example >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log"; fail "openssl req"; }
chmod 644 "$T/tls/key.pem" "$T/tls/cert.pem"
P3=$(free_port)
G3=$(free_port)
while [ "$G3" = "$P3" ]; do G3=$(free_port); done
$PODMAN run -d --name "$C3" "${RUN_FLAGS[@]}" -v "$T/tls:/tls:ro" -e DEIT_PORT="$P3" -e DEIT_GRPC_PORT="$G3" \
    -e DEIT_HOST=127.0.0.1 -e DEIT_TLS_CERT=/tls/cert.pem -e DEIT_TLS_KEY=/tls/key.pem "$IMAGE" >"$T/run3.log" 2>&1 ||
    { cat "$T/run3.log"; fail "run $C3"; }
code=000
for _ in $(seq 100); do
    code=$(curl -sk -o /dev/null -m 2 -w '%{http_code}' "https://127.0.0.1:$P3/readyz" 2>/dev/null) || code=000
    [ "$code" = 200 ] && break
    sleep 0.2
done
[ "$code" = 200 ] || { $PODMAN logs "$C3" 2>&1 | tail; fail "TLS container: https /readyz gave $code"; }
$PODMAN healthcheck run "$C3" >"$T/health3.log" 2>&1 ||
    { cat "$T/health3.log"; fail "HEALTHCHECK calls a ready TLS container unhealthy"; }
$PODMAN rm -f -t 0 "$C3" >/dev/null 2>&1
ok "HEALTHCHECK follows DEIT_TLS_CERT: a ready TLS container is healthy"

for p in "$P1" "$P2"; do
    curl -fsS -H 'Content-Type: image/jpeg' --data-binary @"$DEPLOY_IMAGE" \
        "http://127.0.0.1:$p/v1/predict" >"$T/pred$p.json" || fail "prediction on port $p"
    grep -q '"predictions"' "$T/pred$p.json" || fail "no predictions on port $p: $(head -c 300 "$T/pred$p.json")"
done
curl -fsS "http://127.0.0.1:$P2/v1/models" | grep -q '"distilled":false' ||
    fail "model mounted over /models/default is not the one served"
ok "predictions from both containers; the mounted model replaced the default"
sh tests/smoke.sh "http://127.0.0.1:$P1" >"$T/smoke.log" 2>&1 || { cat "$T/smoke.log"; fail "tests/smoke.sh on $C1"; }
ok "tests/smoke.sh against the container: $(tail -1 "$T/smoke.log")"

# ---- 4. podman stop (SIGTERM) during an upload: the request completes, exit 0 -----------------
# ~110 KB at 60 KB/s: the upload is still running when SIGTERM arrives.
curl -sS -o "$T/slow.json" -w '%{http_code}' --limit-rate 60k -m 30 -H 'Content-Type: image/jpeg' \
    --data-binary @"$DEPLOY_IMAGE" "http://127.0.0.1:$P1/v1/predict" >"$T/slow.code" 2>"$T/slow.err" &
SLOW=$!
track_pid $SLOW
sleep 0.5
kill -0 $SLOW 2>/dev/null || fail "the slow request finished before the stop (too fast to test)"
t0=${EPOCHREALTIME/./}
$PODMAN stop -t 10 "$C1" >/dev/null 2>&1
stop_ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
wait_exit $SLOW 30 || fail "slow request still running"
code=$(cat "$T/slow.code")
rc=$($PODMAN inspect "$C1" --format '{{.State.ExitCode}}')
$PODMAN logs "$C1" >"$T/c1.log" 2>&1 || true
[ "$code" = 200 ] && grep -q '"predictions"' "$T/slow.json" ||
    { cat "$T/slow.err" "$T/c1.log"; fail "request in flight during podman stop got $code"; }
[ "$rc" = 0 ] || { tail "$T/c1.log"; fail "container exited $rc after SIGTERM (137 = killed)"; }
grep -q draining "$T/c1.log" || fail "no drain in the container log"
ok "podman stop during an upload: request answered 200, container exited 0 after ${stop_ms} ms"

# The other replica is unaffected and stops cleanly as well.
curl -fsS -o /dev/null "http://127.0.0.1:$P2/readyz" || fail "second container not ready after the first stopped"
$PODMAN stop -t 10 "$C2" >/dev/null 2>&1
rc=$($PODMAN inspect "$C2" --format '{{.State.ExitCode}}')
[ "$rc" = 0 ] || fail "second container exited $rc"
ok "second container stayed ready, then stopped with exit 0"
say "done"
