#!/usr/bin/env bash
# One-command set-up on Debian 12: installs the packages popo builds against (apt-get),
# configures and builds in Release into build/, then installs popo into PREFIX (cmake --install:
# PREFIX/bin/popo, PREFIX/share/popo/{data,configs}, PREFIX/share/doc/popo).
# Usage: scripts/setup.sh [PREFIX]    PREFIX defaults to /usr/local; as root, or with sudo
#                                     available (a PREFIX you can write needs neither)
# Uninstall: xargs rm -f < build/installed-files.txt
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX="${1:-/usr/local}"

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ccache
  libtorch-dev libopenblas0-pthread          # libtorch 1.13 (CPU); OpenBLAS or matmuls run ~40x slower
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libpcre2-dev libutf8proc-dev libginac-dev
  libprotobuf-dev protobuf-compiler            # TensorBoard events files (src/core/tensorboard_event.proto)
  libgtest-dev libgmock-dev libbenchmark-dev libgloo-dev
  clang-14 libclang-rt-14-dev libfuzzer-14-dev  # the sanitizer + fuzzing build (scripts/build-sanitize.sh)
  python3-torch                               # only for the Python baselines in bench/
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

source scripts/ccache_env.sh
BUILD_TYPE="${POPO_BUILD_TYPE:-Release}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" $POPO_LAUNCHER ${POPO_CMAKE_ARGS:-}
cmake --build build -j "${POPO_JOBS:-$(nproc)}"

# Earlier set-ups linked PREFIX/bin/popo to build/popo: installing through that link would leave
# it in place, so it goes first.
INSTALL_SUDO=""
mkdir -p "$PREFIX" 2>/dev/null || true
if [ ! -w "$PREFIX" ]; then INSTALL_SUDO="$SUDO"; fi
if [ -L "$PREFIX/bin/popo" ]; then $INSTALL_SUDO rm -f "$PREFIX/bin/popo"; fi
$INSTALL_SUDO cmake --install build --prefix "$PREFIX" > build/install.log
# cmake --install rewrites build/install_manifest.txt each time (the tests install too): keep
# this one's list.
cp build/install_manifest.txt build/installed-files.txt
echo "setup: installed $PREFIX/bin/popo and $PREFIX/share/popo (list: build/installed-files.txt)"
if [ "$(command -v popo)" = "$PREFIX/bin/popo" ]; then
  echo "setup: done; run 'popo train'"
else
  echo "setup: done; $PREFIX/bin is not first on PATH: run '$PREFIX/bin/popo train'"
fi
