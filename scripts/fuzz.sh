#!/usr/bin/env bash
# Runs every libFuzzer target in fuzz/ (fuzz/README.md) for N seconds each, in the sanitizer build
# build-fuzz/ (clang-14: AddressSanitizer + UndefinedBehaviorSanitizer + libFuzzer; configured
# and built here when needed). Seeds come from the fixtures and data (fuzz/make_seeds.py) and the
# kept regressions; the corpus grows in build-fuzz/corpus/<target>/ across runs. A finding (crash,
# leak, sanitizer report, broken property, or a hang past 10 s) is saved as
# build-fuzz/findings/<target>-*, and the script exits 1 after the summary table.
# With --fresh the run starts from the seeds and regressions alone (a temporary corpus) and with
# libFuzzer's -seed=1, so it explores the same inputs in the same order each time: CI runs it so,
# and a longer --fresh run here has already tried every input a shorter one in CI can reach.
# Usage: scripts/fuzz.sh [--seconds N] [--fresh] [TARGET ...]   (N default 60; all targets)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=60
FRESH=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_EACH=${2:?--seconds needs a number}; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    *) break ;;
  esac
done
B=build-fuzz
bash scripts/build-sanitize.sh "$B"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do TARGETS+=("$(basename "$f" .cpp)"); done
fi
rm -rf "$B/seeds"
python3 fuzz/make_seeds.py "$B/seeds"
mkdir -p "$B/findings"
status=0
printf '%-26s %12s %10s %8s  %s\n' target executions exec/s corpus findings
for t in "${TARGETS[@]}"; do
  [ -x "$B/$t" ] || { echo "fuzz: no target $t in $B" >&2; exit 2; }
  corpus="$B/corpus/$t"
  seed_args=()
  if [ "$FRESH" = 1 ]; then corpus="$B/fresh-corpus/$t"; rm -rf "$corpus"; seed_args=(-seed=1); fi
  mkdir -p "$corpus"
  dirs=("$corpus" "$B/seeds/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  log="$B/findings/$t.log"
  rc=0
  "$B/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 "${seed_args[@]}" -artifact_prefix="$B/findings/$t-" "${dirs[@]}" > "$log" 2>&1 || rc=$?
  runs=$(grep -a '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -n 1)
  rate=$(grep -a '^stat::average_exec_per_sec:' "$log" | awk '{print $2}' | tail -n 1)
  found="none"
  if [ "$rc" != 0 ]; then
    found="FOUND (exit $rc): $(ls "$B/findings/$t-"* 2>/dev/null | head -n 1); see $log"
    status=1
  fi
  printf '%-26s %12s %10s %8s  %s\n' "$t" "${runs:-?}" "${rate:-?}" "$(ls "$corpus" | wc -l)" "$found"
done
exit $status
