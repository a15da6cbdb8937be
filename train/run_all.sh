#!/bin/sh
# The paper's control experiment at Fashion-MNIST scale, resumable: re-run after an interruption and
# each stage continues from its last per-epoch checkpoint in train/runs/<stage>/; finished stages
# (final.pt present) are skipped. Two lanes run side by side, one thread each (these small models
# train faster as two 1-thread processes than as one 2-thread process on the 2-core box):
#   lane A: teacher (28x28) -> hard (DeiT, hard distillation) -> [soft] -> teacher56 -> hard56
#   lane B: baseline (one class token) -> twocls (two class tokens) -> true56
# Every student sees the same augmentation (crop, flip, random erasing 0.25); hard and soft students
# run the teacher on each augmented batch (online labels, as in the paper), ~45% more time per step.
# hard56/true56 fine-tune `hard` at 56x56: with the 56x56 teacher's labels / with true labels only.
# Then export.py writes models/, reference.json, examples/ and results.json.
# Environment: EPOCHS_T (teacher), EPOCHS_S (students), EPOCHS_T56, EPOCHS_HI, SOFT=1 (also soft),
# PRECISION (bf16 where the CPU multiplies it natively, else f32), NICE (10).
set -e
cd "$(dirname "$0")"
PY=${PY:-/usr/bin/python3}
EPOCHS_T=${EPOCHS_T:-30}
EPOCHS_S=${EPOCHS_S:-60}
EPOCHS_T56=${EPOCHS_T56:-4}
EPOCHS_HI=${EPOCHS_HI:-6}
WARMUP_S=${WARMUP_S:-3}
NICE=${NICE:-10}
TEACHER_ARGS=${TEACHER_ARGS:-"--widths 48,96,192 --blocks 1 --erase 0.5 --tta --eval-every 0"}
# bf16 autocast only where the CPU multiplies bf16 natively; elsewhere it would be emulated (slower).
if [ -z "${PRECISION:-}" ]; then
  if grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then PRECISION=bf16; else PRECISION=f32; fi
fi
mkdir -p runs
export PYTHONUNBUFFERED=1
echo "run_all $(date -u +%FT%TZ): teacher $EPOCHS_T, students $EPOCHS_S, hi-res $EPOCHS_T56/$EPOCHS_HI epochs, $PRECISION" >> runs/run_all.log
run() { # run NAME SCRIPT ARGS...: once, logging to runs/NAME.log
  name=$1; shift
  [ -f "runs/$name/final.pt" ] && return 0
  echo "$(date -u +%FT%TZ) start $name" >> runs/run_all.log
  nice -n "$NICE" $PY "$@" --threads 1 --precision "$PRECISION" >> "runs/$name.log" 2>&1
  echo "$(date -u +%FT%TZ) done $name" >> runs/run_all.log
}
student() { # student NAME MODE ARGS...
  name=$1; mode=$2; shift 2
  run "$name" train_student.py --mode "$mode" --name "$name" "$@"
}
(
  student baseline baseline --epochs "$EPOCHS_S" --warmup-epochs "$WARMUP_S"
  student twocls twocls --epochs "$EPOCHS_S" --warmup-epochs "$WARMUP_S"
  # waits for lane A's hard student, which it fine-tunes
  while [ ! -f runs/hard/final.pt ]; do sleep 60; done
  student true56 twocls --init runs/hard/final.pt --res 56 --epochs "$EPOCHS_HI" --lr 1e-4 --min-lr 1e-6 --warmup-epochs 0.5
) &
LANE_B=$!
# shellcheck disable=SC2086
run teacher train_teacher.py --name teacher --epochs "$EPOCHS_T" $TEACHER_ARGS
student hard hard --teacher teacher --epochs "$EPOCHS_S" --warmup-epochs "$WARMUP_S"
[ "${SOFT:-0}" = 1 ] && student soft soft --teacher teacher --epochs "$EPOCHS_S" --warmup-epochs "$WARMUP_S"
# shellcheck disable=SC2086
run teacher56 train_teacher.py --name teacher56 --res 56 --init runs/teacher/final.pt --epochs "$EPOCHS_T56" \
  --lr 0.01 --warmup-epochs 0.1 $TEACHER_ARGS
student hard56 hard --teacher teacher56 --init runs/hard/final.pt --res 56 --epochs "$EPOCHS_HI" --lr 1e-4 \
  --min-lr 1e-6 --warmup-epochs 0.5
wait $LANE_B
$PY export.py
