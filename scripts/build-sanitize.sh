#!/usr/bin/env bash
# Configures and builds the hardening build: the torch-free core, its tests (popo_core_tests) and
# the libFuzzer targets of fuzz/, all compiled by clang-14 with AddressSanitizer +
# UndefinedBehaviorSanitizer (-O1 -g; any report aborts) and libFuzzer's coverage
# instrumentation. No libtorch. Used by scripts/fuzz.sh and scripts/test.sh.
# Usage: scripts/build-sanitize.sh [DIR]     (DIR default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-fuzz}
source scripts/ccache_env.sh
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S . -B "$B" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DPOPO_FUZZ=ON -DPOPO_SANITIZE=ON $POPO_LAUNCHER > "$B.configure.log" 2>&1 ||
    { cat "$B.configure.log"; exit 1; }
fi
cmake --build "$B" -j "${POPO_JOBS:-$(nproc)}"
