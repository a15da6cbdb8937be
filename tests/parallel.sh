# shellcheck shell=bash
# parallel.sh — sourced by the bash test runners (run_unit.sh, fuzz/run_fuzz.sh).
# each_parallel JOBS DIR FUNC ARG...: runs FUNC ARG for every ARG, at most JOBS at once. The n-th
# run's output (stdout and stderr) goes to DIR/n.out and its exit status to DIR/n.rc, so the caller
# reports them in the order given, as if they had run one after another.
each_parallel() {
    local jobs=$1 dir=$2 fn=$3 n=0 arg
    shift 3
    for arg in "$@"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        n=$((n + 1))
        { "$fn" "$arg"; echo $? >"$dir/$n.rc"; } >"$dir/$n.out" 2>&1 &
    done
    wait
}

# ran_ok DIR N: whether the N-th run exited 0
ran_ok() { [ "$(cat "$1/$2.rc" 2>/dev/null)" = 0 ]; }
