#!/usr/bin/env bash
# The before-release check (ctest install.check, so scripts/test.sh and CI run it): installs a
# finished build into a temporary prefix, moves the installed tree somewhere else, and runs popo
# from a folder outside the checkout with no POPO_* variables set: the shipped data against its
# checksums, a shipped config found by name (and its base: resolved where it is installed), the
# demo trained for 2 steps, and the checkpoint evaluated on every shipped benchmark. An
# installed popo that still needed anything of the checkout or of the build folder fails here.
# Usage: scripts/install_check.sh [BUILD_DIR]     (default build/; leaves nothing behind)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/popo-install-check.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
start=$(date +%s)
say() { echo "install-check: $* ($(( $(date +%s) - start )) s)"; }
fail() { echo "install-check: FAILED: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$TMP/staged" > "$TMP/install.log"
mv "$TMP/staged" "$TMP/prefix"  # an installed tree keeps working when moved whole
P="$TMP/prefix"
mkdir "$TMP/work"
cd "$TMP/work"
unset POPO_DATA_DIR POPO_FIXTURES_DIR
export PATH="$P/bin:$PATH"
[ "$(command -v popo)" = "$P/bin/popo" ] || fail "popo on PATH is $(command -v popo), not $P/bin/popo"
say "installed $(grep -c '^-- Installing' "$TMP/install.log") files, moved to $P"

(cd "$P/share/popo/data" && sha256sum --check --strict --quiet SHA256SUMS) ||
  fail "installed data does not match its SHA256SUMS"
popo --help > /dev/null

# A shipped config by name. grpo.yaml has base: default.yaml, which must be found beside it
# (a base that is not found is an error).
popo train --config grpo --print-config > grpo.yaml
grep -qE '^  name: "?grpo"?( |$)' grpo.yaml || fail "popo train --config grpo did not load grpo.yaml"
if popo train --config no-such-config --print-config > /dev/null 2> err.txt; then
  fail "an unknown config name was accepted"
fi
grep -q "shipped: .*grpo" err.txt || fail "unknown config: the error does not list the shipped ones: $(cat err.txt)"
say "configs by name"

popo train trainer.steps=2 run.dir="$TMP/work/runs" run.name=check run.cache_dir="$TMP/cache" \
  > train.log 2>&1 || { tail -20 train.log; fail "popo train trainer.steps=2"; }
ckpt=$(find runs/check/checkpoints -path '*/policy/tokenizer.json' -printf '%h\n' | sort | tail -n 1)
[ -n "$ckpt" ] || fail "popo train wrote no policy checkpoint under runs/check/checkpoints"
say "popo train trainer.steps=2 (checkpoint $ckpt)"

popo eval --model "$ckpt" --bench amc23 --limit 2 --max-tokens 16 --out eval-amc23 \
  > eval.log 2>&1 || { tail -20 eval.log; fail "popo eval --bench amc23 --limit 2"; }
grep -q "\"data\": \"$P/share/popo/data/amc23.jsonl\"" eval-amc23/summary.json ||
  fail "popo eval did not read the installed amc23.jsonl: $(grep '"data"' eval-amc23/summary.json)"
all=aime2024,aime2025,amc23,math500,minerva,olympiadbench,gsm8k
popo eval --model "$ckpt" --bench "$all" --limit 1 --max-tokens 4 --out eval-all \
  > eval-all.log 2>&1 || { tail -20 eval-all.log; fail "popo eval --bench $all --limit 1"; }
[ "$(grep -c "\"data\": \"$P/share/popo/data/" eval-all/summary.json)" = 7 ] ||
  fail "popo eval did not read all 7 benchmarks from $P/share/popo/data"
say "popo eval --bench amc23 --limit 2, and every shipped benchmark"
say "passed"
