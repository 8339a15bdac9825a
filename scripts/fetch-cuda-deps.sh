#!/usr/bin/env bash
# Downloads (here, where Debian's archive is reachable) the Debian packages that popo builds
# against but a bare CUDA machine lacks, into .deps/debs/. scripts/build-cuda.sh unpacks them into
# .deps/root there (dpkg -x, no installation) and points CMake at that prefix. libtorch itself
# comes from the CUDA machine's PyTorch wheel. Bookworm's packages (glibc 2.36, libstdc++ of
# g++ 12, C++11 string ABI) run on the newer Ubuntu of the CUDA image.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/debs
# .git is a file in a worktree: ask git where the shared exclude file is.
EXCLUDE="$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$EXCLUDE")"
grep -qxF '/.deps/' "$EXCLUDE" 2>/dev/null || echo '/.deps/' >> "$EXCLUDE"
PKGS=(nlohmann-json3-dev libyaml-cpp-dev libyaml-cpp0.7 libcli11-dev libpcre2-dev libpcre2-8-0
      libutf8proc-dev libutf8proc2 libginac-dev libginac11 libcln-dev libcln6 libgmp-dev libgmp10
      libgtest-dev
      # protobuf 3.21 for the TensorBoard events files: the library and protoc (with its own
      # library; build-cuda.sh's LD_LIBRARY_PATH lets it run from the unpacked tree)
      libprotobuf-dev libprotobuf32 libprotobuf-lite32 protobuf-compiler libprotoc32
      # pkg-config for CMake's FindPkgConfig, in case the CUDA image has none
      pkgconf-bin libpkgconf3)
cd .deps/debs
apt-get download "${PKGS[@]}"
ls -1
echo "fetch-cuda-deps: carry .deps/debs to the GPU machine (the fixtures are in tests/fixtures)"
