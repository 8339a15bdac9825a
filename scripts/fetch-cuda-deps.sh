#!/usr/bin/env bash
# Downloads (here, where Debian's archive is reachable) the Debian packages that popo builds
# against but a bare CUDA machine lacks, into .deps/debs/. scripts/build-cuda.sh unpacks them into
# .deps/root there (dpkg -x, no installation) and points CMake at that prefix. libtorch itself
# comes from the CUDA machine's PyTorch wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/debs
grep -qxF '/.deps/' .git/info/exclude 2>/dev/null || echo '/.deps/' >> .git/info/exclude
PKGS=(nlohmann-json3-dev libyaml-cpp-dev libyaml-cpp0.7 libcli11-dev libpcre2-dev libpcre2-8-0
      libutf8proc-dev libutf8proc2 libginac-dev libginac11 libcln-dev libcln6 libgmp-dev libgmp10
      libgtest-dev)
cd .deps/debs
apt-get download "${PKGS[@]}"
ls -1
