# tests/deploy/lib.sh — helpers shared by the deployment tests (sourced, bash).
# Everything here is loopback-only and bounded: every wait has a deadline, every process or
# container a test starts is registered for the EXIT trap.

DEPLOY_MODEL=${DEPLOY_MODEL:-tests/fixtures/models/timm-deit-reduced}
DEPLOY_IMAGE=${DEPLOY_IMAGE:-tests/fixtures/images/rocket.jpg}
SERVER_BIN=${SERVER_BIN:-build/deit-server}

# server_port (the port a replica started with --port 0 got), wait_ready (until a URL answers 2xx)
. tools/wait_ready.sh

_T0=${EPOCHREALTIME/./}
_PIDS=()

# say MSG: progress line stamped with seconds since the test started.
say() {
    local us=$((${EPOCHREALTIME/./} - _T0))
    printf '[%3d.%ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*"
}
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# Registers a background child to be stopped (TERM, then KILL) by cleanup_pids. Only PIDs still in
# this shell's job table are signalled, so a child already reaped (and its PID possibly reused by
# someone else's process) is never touched.
track_pid() { _PIDS+=("$1"); }
cleanup_pids() {
    local p live=() jobs_now
    jobs_now=" $(jobs -p | tr '\n' ' ') "
    for p in "${_PIDS[@]}"; do
        case "$jobs_now" in *" $p "*) live+=("$p") ;; esac
    done
    [ "${#live[@]}" -gt 0 ] || return 0
    kill -TERM "${live[@]}" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for p in "${live[@]}"; do
            [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null || echo Z)" != Z ] && alive=1
        done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    kill -KILL "${live[@]}" 2>/dev/null || true
    for p in "${live[@]}"; do wait "$p" 2>/dev/null || true; done
}

# A free TCP port on 127.0.0.1 (the kernel's pick; released before returning, so tiny race).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_nginx WORKER_CONNECTIONS PORT1 PORT2 PORT3: deploy/nginx.conf unchanged but for loopback
# addresses (upstream deit-i -> 127.0.0.1:PORTi, the listener on a free port, the access log in
# $T), run in the foreground of a tracked job. Sets LB (its port) and NGINX (its pid); fails unless
# nginx -t takes the config and /nginx-health answers. Needs $T.
start_nginx() {
    local conns=$1 i
    shift
    LB=$(free_port)
    local -a edits=()
    for i in 1 2 3; do edits+=(-e "s#server deit-$i:8080#server 127.0.0.1:${!i}#"); done
    sed "${edits[@]}" \
        -e "s#^\( *\)listen 8080;#\1listen 127.0.0.1:$LB;#" \
        -e "s#access_log /var/log/nginx/access.log#access_log $T/access.log#" \
        deploy/nginx.conf >"$T/deit.conf"
    # refuse to run unless every upstream and listener is on loopback
    [ "$(grep -c 'server 127\.0\.0\.1:' "$T/deit.conf")" = 3 ] || fail "upstream rewrite failed"
    ! grep -Eq 'server +deit-|listen +[0-9]+;' "$T/deit.conf" || fail "non-loopback address left in config"
    cat >"$T/nginx.conf" <<CONF
worker_processes 1;
pid $T/nginx.pid;
error_log $T/error.log notice;
events { worker_connections $conns; }
http {
    client_body_temp_path $T/body;
    proxy_temp_path $T/proxy;
    fastcgi_temp_path $T/fastcgi;
    uwsgi_temp_path $T/uwsgi;
    scgi_temp_path $T/scgi;
    include $T/deit.conf;
}
CONF
    nginx -t -q -p "$T" -c "$T/nginx.conf" || fail "nginx -t rejects deploy/nginx.conf"
    nginx -p "$T" -c "$T/nginx.conf" -g 'daemon off;' &
    NGINX=$!
    track_pid $NGINX
    wait_ready "http://127.0.0.1:$LB/nginx-health" "$NGINX" 10 || { cat "$T/error.log"; fail "nginx did not start"; }
}

# wait_lines FILE N SECONDS: until FILE has at least N lines; 1 on timeout.
wait_lines() {
    local f=$1 n=$2 secs=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        [ -f "$f" ] && [ "$(wc -l <"$f")" -ge "$n" ] && return 0
        sleep 0.1
    done
    return 1
}

# wait_exit PID SECONDS: waits (bounded) for a child of this shell to exit and sets EXIT_RC to its
# status; returns 1 on timeout. Call it directly, not in $(...): only this shell can reap its child.
wait_exit() {
    local pid=$1 secs=$2 i state
    EXIT_RC=
    for ((i = 0; i < secs * 10; i++)); do
        state=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) || state=gone
        if [ "$state" = Z ] || [ "$state" = gone ]; then
            EXIT_RC=0
            wait "$pid" 2>/dev/null || EXIT_RC=$?
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# load URL CLIENTS REQUESTS OUT: CLIENTS concurrent curl loops, each REQUESTS sequential raw-image
# predictions; one "<http_code>" line per request appended to OUT. Returns once all are done.
load() {
    local url=$1 clients=$2 reqs=$3 out=$4 c
    local pids=()
    for ((c = 0; c < clients; c++)); do
        (
            for ((r = 0; r < reqs; r++)); do
                code=$(curl -s -o /dev/null -m 20 -w '%{http_code}' -H 'Content-Type: image/jpeg' \
                    --data-binary @"$DEPLOY_IMAGE" "$url/v1/predict") || true
                echo "${code:-000}" >>"$out"
            done
        ) &
        pids+=($!)
    done
    for c in "${pids[@]}"; do wait "$c"; done
}
