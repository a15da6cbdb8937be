#!/bin/sh
# install-deps.sh — installs the Debian 12 packages the build and tests need, only those missing.
# Runs apt-get (through sudo when not root). Set DEIT_SKIP_DEPS=1 to skip entirely.
set -eu
[ "${DEIT_SKIP_DEPS:-0}" = 1 ] && exit 0

# Build and runtime: compiler, BLAS, HTTP, JSON, JPEG, TIFF, WebP, LittleCMS (the libraries Pillow decodes
# with), stb_image; tests: libcurl, curl, nginx, python3-pil + python3-torch (Pillow parity, logits),
# yamllint, clang (libFuzzer), python3 (tools), chromium + nodejs (+ npm, below) for the web page's
# browser test and the gRPC tests' client; gRPC: grpc++, protobuf-c (+ its compiler), openssl (test
# certificates).
PKGS="build-essential pkg-config libopenblas-dev libmicrohttpd-dev libjansson-dev
libjpeg62-turbo-dev libtiff-dev libwebp-dev liblcms2-dev libstb-dev libcurl4-openssl-dev libssl-dev curl ca-certificates
nginx-light yamllint
clang libclang-rt-14-dev python3 python3-pil python3-numpy python3-torch zlib1g-dev dataset-fashion-mnist
chromium nodejs libgrpc++-dev libprotobuf-c-dev protobuf-c-compiler openssl"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# npm: Debian's package only when no npm command exists (NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package)
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
