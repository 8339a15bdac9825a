#!/usr/bin/env bash
# One-command set-up on Debian 12: installs the packages popo builds against (apt-get), then
# configures and builds in Release into build/, and links /usr/local/bin/popo to the program.
# Usage: scripts/setup.sh            (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ccache
  libtorch-dev libopenblas0-pthread          # libtorch 1.13 (CPU); OpenBLAS or matmuls run ~40x slower
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libpcre2-dev libutf8proc-dev libginac-dev
  libgtest-dev libgmock-dev libbenchmark-dev libgloo-dev
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

if [ -w /usr/local/bin ]; then
  ln -sf "$PWD/build/popo" /usr/local/bin/popo
  echo "setup: done; run 'popo train' (linked /usr/local/bin/popo -> build/popo)"
else
  echo "setup: done; run './build/popo train'"
fi
