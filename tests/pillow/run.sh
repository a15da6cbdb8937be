#!/bin/sh
# run.sh — `make test-pillow`: the engine against Pillow 9.4 (python3-pil) on Pillow's own test
# images (../shared/fixtures/pillow-dev, or $DEIT_PILLOW_DEV): byte-identical timm 224 and
# 1-channel crops from the ASan/UBSan build, twice (no run-to-run difference), also with
# ImageOps.exif_transpose (the engine's ?exif_transpose=1), for every file
# Pillow opens and a refusal with a message for every file it refuses; the same, uncropped, on
# the corner cases in tests/fixtures/pillow-edge; then the logits of the timm
# 224 model, of the default 1-channel model and of a non-square timm model (160x256, crop_mode
# 'center' and 'squash': tests/pillow/make_wide_model.py) within 1e-4 of timm's (float64 torch
# reference);
# last, image/webp and image/tiff uploads and ?exif_transpose / --exif-transpose over HTTP.
set -u
dir=${DEIT_PILLOW_DEV:-../shared/fixtures/pillow-dev}
py=/usr/bin/python3
if [ ! -d "$dir" ]; then
    echo "pillow: $dir is missing (it comes with ../shared/fixtures)"
    echo "pillow: 0 passed, 1 failed"
    exit 1
fi
log=$(mktemp); out=$(mktemp); errs=$(mktemp); wide=$(mktemp -d)
trap 'rm -rf "$log" "$out" "$errs" "$wide"' EXIT
rc=0
# Runs one part, shows and keeps its output, remembers a failure (plain sh: no pipefail for tee).
# Python's stderr (Pillow's logger on broken TIFFs) is shown only when the part fails.
step() {
    "$@" >"$out" 2>"$errs"
    r=$?
    cat "$out"
    cat "$out" >>"$log"
    if [ "$r" -ne 0 ]; then rc=1; tail -n 20 "$errs"; fi
}
step $py tests/pillow/compare.py --dump build/asan/image-dump --modes timm,grey,timm+exif,grey+exif \
    --runs 2 "$dir"
# Small corner-case files (tests/fixtures/pillow-edge, one per fixed divergence), full size.
step $py tests/pillow/compare.py --dump build/asan/image-dump --modes rgb,l,rgb+exif,l+exif \
    --runs 2 tests/fixtures/pillow-edge
for mode in center squash; do
    step $py tests/pillow/make_wide_model.py --crop-mode $mode "$wide/timm-wide-$mode"
done
for m in tests/fixtures/models/timm-deit-reduced models/fashion-deit "$wide/timm-wide-center" \
         "$wide/timm-wide-squash"; do
    step $py tests/pillow/test_logits.py --predict build/deit-predict --model "$m" "$dir"
done
# WebP / TIFF uploads and ?exif_transpose over HTTP (Python http.client against a release server)
step $py tests/pillow/test_http.py --server build/deit-server --predict build/deit-predict "$dir"
# one closing line for run_all.sh: the sum of the parts' own
grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$log" \
    | awk '{p += $2; f += $4} END {printf "pillow-dev: %d passed, %d failed\n", p, f}'
exit $rc
