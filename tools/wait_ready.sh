# wait_ready.sh — sourced by the scripts (POSIX sh) that start a deit-server: bench/, tools/, tests/
#
#   wait_ready URL [PID] [SECONDS]
#
# Polls URL (normally .../readyz) every 0.1 s until it answers 2xx: returns 0 then, 1 when PID (if
# given) has exited or SECONDS (default 60) have passed, so a server that died on start is reported
# at once instead of after the whole wait. The deadline is wall-clock time and each poll gives up
# after 2 s (curl -m 2), so a listener that accepts and never answers overruns it by 2 s at most.
wait_ready() {
    _wr_end=$(( $(date +%s) + ${3:-60} ))
    while ! curl -fsS -m 2 "$1" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$_wr_end" ] || return 1
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then return 1; fi
        sleep 0.1
    done
}

#   server_port LOG [PID] [SECONDS] [http|grpc]
#
# Prints the port a deit-server started with --port 0 (or --grpc-port 0, with "grpc") wrote to its
# log LOG ("listening on HOST:PORT", "gRPC listening on HOST:PORT"), once it is there: returns 1 when
# PID (if given) has exited first or SECONDS (default 60) have passed. Give each server a log of its
# own: a log an earlier server wrote still names that server's port, and a wait that reads it before
# the new server truncates it takes a dead port.
server_port() {
    case ${4:-http} in
        http) _sp_sed='/gRPC listening on/!s/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' ;;
        grpc) _sp_sed='s/.*gRPC listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' ;;
        *) echo "server_port: ${4}: want http or grpc" >&2; return 2 ;;
    esac
    _sp_tries=$(( ${3:-60} * 10 ))
    while :; do
        _sp_port=$(sed -n "$_sp_sed" "$1" 2>/dev/null | head -n 1)
        if [ -n "$_sp_port" ]; then echo "$_sp_port"; return 0; fi
        _sp_tries=$((_sp_tries - 1))
        [ "$_sp_tries" -gt 0 ] || return 1
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then return 1; fi
        sleep 0.1
    done
}
