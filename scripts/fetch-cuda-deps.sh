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
# The GPU machine gets the repository only, not ../shared: copy the HF reference fixtures
# (2.7 MB) that the CUDA parity tests read; bench/gpu.sh points POPO_FIXTURES_DIR at them.
if [ -d ../shared/fixtures/hf-reference ]; then
  mkdir -p .deps/fixtures
  rm -rf .deps/fixtures/hf-reference
  cp -r ../shared/fixtures/hf-reference .deps/fixtures/
fi
PKGS=(nlohmann-json3-dev libyaml-cpp-dev libyaml-cpp0.7 libcli11-dev libpcre2-dev libpcre2-8-0
      libutf8proc-dev libutf8proc2 libginac-dev libginac11 libcln-dev libcln6 libgmp-dev libgmp10
      libgtest-dev
      # pkg-config for CMake's FindPkgConfig, in case the CUDA image has none
      pkgconf-bin libpkgconf3)
cd .deps/debs
apt-get download "${PKGS[@]}"
ls -1
echo "fetch-cuda-deps: carry .deps/debs and .deps/fixtures to the GPU machine (about 10 MB)"
