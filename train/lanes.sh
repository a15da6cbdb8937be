# shellcheck shell=sh
# Shared by run_all.sh (experiment 1) and run_mix.sh (experiments 2 and 3); sourced from train/
# after `set -e`. Picks the interpreter, the training precision and the niceness, checks that torch
# and the data set are installed, refuses the reference BLAS, restores state/ into runs/, and defines
# run/student, which start a stage once and log it, and reaches, which compares a run's accuracy.
# LOG names the run log of the calling script (runs/$LOG).
PY=${PY:-/usr/bin/python3}
NICE=${NICE:-10}
# bf16 autocast only where the CPU multiplies bf16 natively; elsewhere it would be emulated (slower).
if [ -z "${PRECISION:-}" ]; then
  if grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then PRECISION=bf16; else PRECISION=f32; fi
fi
# Debian's torch multiplies float32 matrices through libblas.so.3; with only the reference BLAS
# (all that python3-torch pulls in) a student's per-epoch test pass takes ~4 min instead of ~15 s
blas=$(/sbin/ldconfig -p | awk '/libblas\.so\.3 /{print $NF; exit}')
if [ -n "$blas" ] && readlink -f "$blas" | grep -q '/blas/libblas'; then
  echo "$0: libblas.so.3 is the reference BLAS; install libopenblas0 (apt-get install libopenblas0)" >&2
  exit 1
fi
# a new machine may lack the interpreter's torch or the data set: say so before two lanes fail on it
"$PY" -c 'import torch, numpy, PIL' 2>/dev/null ||
  { echo "$0: $PY cannot import torch, numpy and PIL (apt-get install python3-torch python3-numpy python3-pil)" >&2; exit 1; }
"$PY" -c 'import sys, data; m = data.missing(); sys.exit("%s: Fashion-MNIST %s not in %s (apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)" % (sys.argv[1], ", ".join(m), data.DATA_DIR) if m else 0)' "$0" ||
  exit 1
mkdir -p runs
# a fresh checkout has no runs/: continue from what the last session committed in state/
"$PY" state.py restore >> "runs/$LOG"
export PYTHONUNBUFFERED=1
run() { # run NAME SCRIPT ARGS...: once, logging to runs/NAME.log
  name=$1; shift
  [ -f "runs/$name/summary.json" ] && return 0
  echo "$(date -u +%FT%TZ) start $name" >> "runs/$LOG"
  nice -n "$NICE" "$PY" "$@" --threads "$THREADS" --precision "$PRECISION" >> "runs/$name.log" 2>&1
  echo "$(date -u +%FT%TZ) done $name" >> "runs/$LOG"
}
reaches() { # reaches RUN ACC: does the run's recorded test accuracy reach ACC?
  "$PY" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["test_acc"] < float(sys.argv[2]))' \
    "runs/$1/summary.json" "$2"
}
student() { # student NAME MODE ARGS...
  name=$1; mode=$2; shift 2
  run "$name" train_student.py --mode "$mode" --name "$name" "$@"
}
