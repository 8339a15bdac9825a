#!/usr/bin/env bash
# Builds popo on a CUDA machine against the libtorch inside the installed PyTorch wheel
# (torch 2.11 + CUDA 13 there), with the Debian packages carried in .deps/debs
# (scripts/fetch-cuda-deps.sh) unpacked into .deps/root. CPU machines use scripts/setup.sh.
#
# Usage: scripts/build-cuda.sh [build-dir [target...]]     (default build-cuda, all targets)
# Env:   PYTHON             the Python whose torch gives libtorch (default: first of python3,
#                           /usr/bin/python3 that imports torch)
#        POPO_TORCH_PREFIX  CMake prefix of libtorch instead of torch.utils.cmake_prefix_path
#                           (e.g. /usr/lib/x86_64-linux-gnu/cmake for Debian's CPU libtorch)
#        POPO_CONFIGURE_ONLY=1  stop after cmake configure (tests the prefix plumbing on CPU)
#        POPO_CMAKE_ARGS    extra cmake arguments
# Writes .deps/env.sh: `source` it before running the binaries (LD_LIBRARY_PATH for the
# carried shared libraries; the binaries also carry an RPATH to them).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-cuda}"
shift || true
TARGETS=("$@")

if [ -z "${PYTHON:-}" ]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import torch' 2>/dev/null; then PYTHON="$p"; break; fi
  done
fi
: "${PYTHON:?build-cuda: no Python with torch found; set PYTHON}"
read -r TORCH_VER TORCH_CUDA TORCH_ABI < <("$PYTHON" -c \
  'import torch; print(torch.__version__, torch.version.cuda, int(torch._C._GLIBCXX_USE_CXX11_ABI))')
PREFIX="${POPO_TORCH_PREFIX-$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')}"
# torch's CMake config looks its libraries up with find_library(... PATHS <wheel>/lib), which
# searches the system folders first: on a machine that also has Debian's libtorch-dev it would
# pick /usr/lib's libtorch 1.13 under the wheel's headers. CMAKE_LIBRARY_PATH is searched before
# the system folders.
TORCH_LIBDIR=""
if [ -z "${POPO_TORCH_PREFIX+x}" ]; then
  TORCH_LIBDIR=$("$PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
fi
echo "build-cuda: torch $TORCH_VER (CUDA $TORCH_CUDA, C++11 ABI $TORCH_ABI), prefix '$PREFIX'"
# The Debian C++ libraries (yaml-cpp, GiNaC, GoogleTest) use the C++11 std::string ABI. A wheel
# built with the old ABI cannot link against them, so say so now instead of at link time.
if [ "$TORCH_ABI" != 1 ]; then
  echo "build-cuda: this torch uses _GLIBCXX_USE_CXX11_ABI=0; the carried Debian libraries use 1." >&2
  echo "build-cuda: use a torch >= 2.7 wheel (C++11 ABI) or build the dependencies from source." >&2
  exit 1
fi

GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_LIBRARY_PATH=$TORCH_LIBDIR"
            # Every target, also the torch-free popo_core, gets the ABI flag torch needs.
            "-DCMAKE_CXX_FLAGS=-D_GLIBCXX_USE_CXX11_ABI=$TORCH_ABI")
source scripts/ccache_env.sh
[ -n "$POPO_LAUNCHER" ] && CMAKE_ARGS+=("$POPO_LAUNCHER")
EXTRA_PREFIX=""
ENV_FILE=.deps/env.sh
mkdir -p .deps
: > "$ENV_FILE"
TESTS=ON
if ls .deps/debs/*.deb >/dev/null 2>&1; then
  ROOT="$PWD/.deps/root"
  LIBDIR="$ROOT/usr/lib/x86_64-linux-gnu"
  mkdir -p "$ROOT"
  for f in .deps/debs/*.deb; do dpkg -x "$f" "$ROOT"; done   # overwrites: rewriting is idempotent
  # pkg-config files name /usr in prefix= and, in some (gmp.pc, gtest.pc), in libdir= and
  # includedir= too: point every such variable at the unpacked tree.
  find "$ROOT" -name '*.pc' -exec sed -i -E "s#^([A-Za-z_]+)=/usr(/|\$)#\\1=$ROOT/usr\\2#" {} +
  if grep -rEl '^[A-Za-z_]+=/usr(/|$)' "$ROOT" --include='*.pc' >/dev/null; then
    echo "build-cuda: a .pc file still points at /usr after rewriting" >&2; exit 1
  fi
  # Only the carried .pc files: the build sees the same versions on every machine.
  export PKG_CONFIG_LIBDIR="$LIBDIR/pkgconfig:$ROOT/usr/share/pkgconfig"
  export PKG_CONFIG_PATH=""
  export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "export LD_LIBRARY_PATH=\"$LIBDIR\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\"" >> "$ENV_FILE"
  # A bare CUDA image may have no pkg-config: use the carried pkgconf.
  if ! command -v pkg-config >/dev/null || [ "${POPO_CARRIED_PKGCONF:-0}" = 1 ]; then
    [ -x "$ROOT/usr/bin/pkgconf" ] || { echo "build-cuda: no pkg-config and no carried pkgconf" >&2; exit 1; }
    CMAKE_ARGS+=("-DPKG_CONFIG_EXECUTABLE=$ROOT/usr/bin/pkgconf")
  fi
  EXTRA_PREFIX=";$ROOT/usr"
  # RPATH, not RUNPATH: also covers libraries loaded indirectly (libginac needs libcln, libgmp),
  # which the binaries' RUNPATH would not.
  CMAKE_ARGS+=("-DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags")
  [ -d "$LIBDIR/cmake/GTest" ] || TESTS=OFF
elif [ ! -d /usr/lib/x86_64-linux-gnu/cmake/GTest ] && [ ! -d /usr/lib/cmake/GTest ]; then
  TESTS=OFF
fi
[ "$TESTS" = OFF ] && echo "build-cuda: GoogleTest not found, building without tests"
# torch's CMake config looks for the CUDA toolkit (nvcc) and the CUDA architectures; the
# H100/H200 are 9.0.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH" CUDAToolkit_ROOT="${CUDAToolkit_ROOT:-/usr/local/cuda}"
fi
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"

cmake -S . -B "$BUILD" "${GEN[@]}" "${CMAKE_ARGS[@]}" -DCMAKE_PREFIX_PATH="$PREFIX$EXTRA_PREFIX" \
  -DPOPO_BUILD_TESTS=$TESTS ${POPO_CMAKE_ARGS:-}
if [ "${POPO_CONFIGURE_ONLY:-0}" = 1 ]; then
  echo "build-cuda: configured $BUILD (POPO_CONFIGURE_ONLY)"
  exit 0
fi
if [ ${#TARGETS[@]} -gt 0 ]; then
  cmake --build "$BUILD" -j "${POPO_JOBS:-$(nproc)}" --target "${TARGETS[@]}"
else
  cmake --build "$BUILD" -j "${POPO_JOBS:-$(nproc)}"
fi
echo "build-cuda: done: $BUILD (run with: source $ENV_FILE)"
