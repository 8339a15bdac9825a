#!/usr/bin/env bash
# Runs the whole test suite (both GoogleTest binaries under ctest). Builds first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d build ] || bash scripts/setup.sh
cmake --build build -j "${POPO_JOBS:-$(nproc)}"
ctest --test-dir build --output-on-failure -j "${POPO_TEST_JOBS:-2}" "$@"
