# wait_ready.sh — sourced by the bench and tools scripts (POSIX sh) that start a deit-server.
#
#   wait_ready URL [PID] [SECONDS]
#
# Polls URL (normally .../readyz) every 0.1 s until it answers 2xx: returns 0 then, 1 when PID (if
# given) has exited or SECONDS (default 60) have passed, so a server that died on start is reported
# at once instead of after the whole wait.
wait_ready() {
    _wr_tries=$(( ${3:-60} * 10 ))
    while ! curl -fsS "$1" >/dev/null 2>&1; do
        _wr_tries=$((_wr_tries - 1))
        [ "$_wr_tries" -gt 0 ] || return 1
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then return 1; fi
        sleep 0.1
    done
}
