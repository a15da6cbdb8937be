#!/bin/sh
# Whole recipe, resumable (re-run after an interruption: each stage continues from its last
# per-epoch checkpoint in train/runs/, finished stages are skipped).
# The no-distillation baseline needs no teacher, so it runs concurrently with teacher -> student.
# Threads: measured on the 2-core CPU box, the ViT trains faster with 1 thread per process than
# with 2; the convnet teacher profits from 2.
set -e
cd "$(dirname "$0")"
PY=${PY:-/usr/bin/python3}
EPOCHS_T=${EPOCHS_T:-6}
EPOCHS_S=${EPOCHS_S:-6}
STUDENT_ARGS=${STUDENT_ARGS:-}   # e.g. "--depth 6": same architecture flags for student and baseline
mkdir -p runs
export PYTHONUNBUFFERED=1
(
  [ -f runs/baseline/final.pt ] || nice -n 19 $PY train_student.py --no-distill --epochs $EPOCHS_S --threads 1 $STUDENT_ARGS >> runs/baseline.log 2>&1
) &
BASE=$!
[ -f runs/teacher_labels.pt ] || nice -n 19 $PY train_teacher.py --epochs $EPOCHS_T --threads 2 >> runs/teacher.log 2>&1
[ -f runs/student/final.pt ] || nice -n 19 $PY train_student.py --distill --epochs $EPOCHS_S --threads 1 $STUDENT_ARGS >> runs/student.log 2>&1
wait $BASE
$PY export.py
