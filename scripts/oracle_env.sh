#!/usr/bin/env bash
# Makes (or reuses) the Python virtual environment of the test oracles and of the torch 2.x build:
# the pinned packages of tests/oracle/requirements.txt (torch 2.11 for its libtorch, transformers,
# tokenizers, Math-Verify, safetensors, peft, tensorboard, pytest). popo itself never needs Python.
#
# The environment lives outside the checkout, keyed by the requirements file's hash, so a second
# clone or CI run on the same machine reuses it; pip's downloads are cached beside it.
#   POPO_CACHE_DIR  where environments and pip downloads are kept (default /var/cache/popo,
#                   or ~/.cache/popo when that is not writable)
#   POPO_VENV       use this environment instead (made there if missing)
# Prints the environment's folder on the last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=tests/oracle/requirements.txt
CACHE="${POPO_CACHE_DIR:-/var/cache/popo}"
if ! mkdir -p "$CACHE" 2>/dev/null || [ ! -w "$CACHE" ]; then CACHE="$HOME/.cache/popo"; mkdir -p "$CACHE"; fi
KEY=$(sha256sum "$REQ" | cut -c1-12)
VENV="${POPO_VENV:-$CACHE/venv-$KEY}"

if [ ! -f "$VENV/.popo-complete" ]; then
  start=$(date +%s)
  rm -rf "$VENV"
  PY=python3
  if ! "$PY" -m venv --help >/dev/null 2>&1 || ! "$PY" -c 'import ensurepip' 2>/dev/null; then
    echo "oracle_env: installing python3-venv (apt-get)" >&2
    SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >&2
    PY=/usr/bin/python3
  fi
  "$PY" -m venv "$VENV" >&2
  echo "oracle_env: installing $REQ into $VENV (first time on this machine: ~3 GB, a few minutes)" >&2
  PIP_CACHE_DIR="$CACHE/pip" "$VENV/bin/pip" install --disable-pip-version-check -q -r "$REQ" >&2
  touch "$VENV/.popo-complete"
  echo "oracle_env: ready in $(( $(date +%s) - start )) s" >&2
fi
echo "$VENV"
