#!/bin/sh
# image_bench.sh — decode + timm 224 preprocessing per image for the common formats at the same
# size: bench/cat_500x375.jpg, and the same pixels as PNG and as lossy/lossless WebP (written by
# Pillow with its defaults into build/bench/). Usage: sh bench/image_bench.sh [ITERS] [BIN]
# (BIN: an image-bench binary, e.g. one built from another commit, to compare interleaved runs).
set -eu
iters=${1:-200}
bin=${2:-build/image-bench}
mkdir -p build/bench
/usr/bin/python3 - <<'PY'
from PIL import Image
im = Image.open("bench/cat_500x375.jpg").convert("RGB")
im.save("build/bench/cat_500x375.png")
im.save("build/bench/cat_500x375.webp")
im.save("build/bench/cat_500x375_lossless.webp", lossless=True)
PY
echo "file median_ms min_ms ($iters rounds, files interleaved)"
"$bin" "$iters" bench/cat_500x375.jpg build/bench/cat_500x375.png build/bench/cat_500x375.webp \
    build/bench/cat_500x375_lossless.webp
