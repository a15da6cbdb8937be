#!/bin/sh
# Whole recipe, resumable (re-run after an interruption: each stage continues from its last
# per-epoch checkpoint in train/runs/, finished stages are skipped).
# The no-distillation baseline needs no teacher, so it runs concurrently with teacher -> student,
# one thread each: measured on the 2-core CPU box, these small models train faster with 1 thread
# per process than with 2 (PyTorch's intra-op threading costs more than it gains at this size).
set -e
cd "$(dirname "$0")"
PY=${PY:-/usr/bin/python3}
EPOCHS_T=${EPOCHS_T:-20}
EPOCHS_S=${EPOCHS_S:-60}
WARMUP_S=${WARMUP_S:-3}
# bf16 autocast only where the CPU multiplies bf16 natively; elsewhere it would be emulated (slower).
if [ -z "$PRECISION" ]; then
  if grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then PRECISION=bf16; else PRECISION=f32; fi
fi
STUDENT_ARGS=${STUDENT_ARGS:-}   # e.g. "--depth 6": same architecture flags for student and baseline
mkdir -p runs
export PYTHONUNBUFFERED=1
echo "run_all: teacher $EPOCHS_T epochs, student/baseline $EPOCHS_S epochs, precision $PRECISION" >> runs/run_all.log
(
  [ -f runs/baseline/final.pt ] || nice -n 10 $PY train_student.py --no-distill --epochs $EPOCHS_S --warmup-epochs $WARMUP_S \
    --threads 1 --precision $PRECISION $STUDENT_ARGS >> runs/baseline.log 2>&1
) &
BASE=$!
[ -f runs/teacher_labels.pt ] || nice -n 10 $PY train_teacher.py --epochs $EPOCHS_T --threads 1 --precision $PRECISION >> runs/teacher.log 2>&1
[ -f runs/student/final.pt ] || nice -n 10 $PY train_student.py --distill --epochs $EPOCHS_S --warmup-epochs $WARMUP_S \
  --threads 1 --precision $PRECISION $STUDENT_ARGS >> runs/student.log 2>&1
wait $BASE
$PY export.py
