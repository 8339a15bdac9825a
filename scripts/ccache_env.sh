# Sourced by the build scripts: compile through ccache when it is installed (scripts/setup.sh
# installs it), so a second clone or CI run on the same machine recompiles only what changed.
# The settings make it safe with the precompiled <torch/torch.h> header (ccache hashes the .gch
# it includes) and across checkouts in different folders (paths are hashed relative to the
# checkout's parent). POPO_CCACHE=0 turns it off. Sets POPO_LAUNCHER for cmake's command line.
POPO_LAUNCHER=""
if [ "${POPO_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null; then
  export CCACHE_DIR="${CCACHE_DIR:-${POPO_CACHE_DIR:-/var/cache/popo}/ccache}"
  mkdir -p "$CCACHE_DIR" 2>/dev/null || export CCACHE_DIR="$HOME/.cache/popo/ccache"
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(cd .. && pwd)}"
  export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"
  export CCACHE_NOHASHDIR=1
  POPO_LAUNCHER="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
fi
