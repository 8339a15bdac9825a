#!/usr/bin/env bash
# Builds popo on a CUDA machine against the libtorch inside the installed PyTorch wheel
# (seen: torch 2.11 + CUDA 13, g++ 13, cmake 4). CPU machines use scripts/setup.sh instead.
# Usage: scripts/build-cuda.sh [build-dir]      (default build-cuda)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-cuda}"
PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
TORCH_VER=$(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)')
echo "build-cuda: torch $TORCH_VER, prefix $PREFIX"
# The wheel's libtorch is built with the pre-C++11 or C++11 ABI; TorchConfig.cmake sets the flag.
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
# Debian packages carried in .deps/debs (scripts/fetch-cuda-deps.sh) are unpacked into a prefix.
EXTRA_PREFIX=""
if ls .deps/debs/*.deb >/dev/null 2>&1; then
  mkdir -p .deps/root
  for f in .deps/debs/*.deb; do dpkg -x "$f" .deps/root; done
  ROOT="$PWD/.deps/root"
  # pkg-config files carry prefix=/usr; point them at the unpacked tree.
  find "$ROOT" -name '*.pc' -exec sed -i "s|^prefix=/usr|prefix=$ROOT/usr|" {} +
  export PKG_CONFIG_PATH="$ROOT/usr/lib/x86_64-linux-gnu/pkgconfig:$ROOT/usr/share/pkgconfig:${PKG_CONFIG_PATH:-}"
  export LD_LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  export CPATH="$ROOT/usr/include:${CPATH:-}"
  export LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu:${LIBRARY_PATH:-}"
  EXTRA_PREFIX=";$ROOT/usr"
  # Shared-library symlinks (libfoo.so -> libfoo.so.N) come with the -dev packages.
  GTEST_DIR="$ROOT/usr/lib/x86_64-linux-gnu/cmake/GTest"
fi
# Tests need GoogleTest; on a bare GPU machine without it, build the program and benches only.
TESTS=ON
if [ -z "${GTEST_DIR:-}" ] && ! ls /usr/lib/x86_64-linux-gnu/cmake/GTest >/dev/null 2>&1 && ! ls /usr/lib/cmake/GTest >/dev/null 2>&1; then
  TESTS=OFF
  echo "build-cuda: GoogleTest not found, building without tests"
fi
cmake -S . -B "$BUILD" $GEN -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX$EXTRA_PREFIX" \
  -DPOPO_BUILD_TESTS=$TESTS ${POPO_CMAKE_ARGS:-}
cmake --build "$BUILD" -j "$(nproc)"
echo "build-cuda: done: $BUILD/popo"
