#!/usr/bin/env bash
# The GPU session's one script (docs/GPU.md): builds with scripts/build-cuda.sh, runs the CUDA
# instances of the parity tests, then measures popo against Hugging Face transformers + PyTorch
# on the same card in the same run and prints one markdown table:
#   generation tok/s at batch 64 and 256 (prompt 128, 256 new tokens, sampling) on a
#   Qwen2.5-0.5B-shaped model; one POPO and one GRPO update at 16 x 1024 tokens against a plain
#   PyTorch GRPO step (tok/s, MFU against the measured matmul rate, peak memory; POPO again with
#   gradient checkpointing for its peak memory); a POPO step on
#   a Qwen2.5-Math-1.5B shape (8 prompts x G 8, 512 + 1024 tokens, gradient checkpointing):
#   fits?, time per phase; its generation phase last, if time is left.
# Every step has a time limit inside a 9-minute budget (POPO_GPU_BUDGET_S); what ran is reported.
# Writes under $OUT (the device tool returns it) or build-gpu-out/: report.md, results.jsonl,
# gpu.log, tests.log.
# Usage: bench/gpu.sh            on a CUDA machine (carry .deps/debs)
#        bench/gpu.sh --smoke    CPU plumbing check: tiny shapes, an existing CPU build dir
#                                ($BUILD, default build), HF columns skipped without transformers
set -uo pipefail
cd "$(dirname "$0")/.."
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
OUTDIR="${OUT:-$PWD/build-gpu-out}"
mkdir -p "$OUTDIR"
RES="$OUTDIR/results.jsonl"
LOG="$OUTDIR/gpu.log"
: > "$RES"
: > "$LOG"
BUDGET=${POPO_GPU_BUDGET_S:-540}
START=$SECONDS
export PYTHONUNBUFFERED=1

log() { echo "[gpu.sh +$((SECONDS - START))s] $*" | tee -a "$LOG"; }
# run_step NAME LIMIT_S CMD...: runs CMD with the smaller of LIMIT_S and the budget left
# (keeping 20 s for the report); output to $STEP_LOG if set, and to the log; a failure is
# recorded in results.jsonl, not fatal.
run_step() {
  local name=$1 limit=$2; shift 2
  local left=$((BUDGET - (SECONDS - START) - 20))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 10 ]; then
    log "SKIP $name: budget spent"
    echo "{\"program\":\"popo\",\"error_step\":\"$name\",\"error\":\"not run: time budget spent\"}" >> "$RES"
    return 1
  fi
  log "RUN  $name (limit ${limit}s): $*"
  local out=${STEP_LOG:-$LOG}
  timeout --kill-after=5 "$limit" "$@" >> "$out" 2>&1
  local rc=$?
  [ "$out" != "$LOG" ] && cat "$out" >> "$LOG"
  if [ $rc -ne 0 ]; then
    local why="exit $rc"
    [ $rc -eq 124 ] && why="timed out after ${limit}s"
    log "FAIL $name: $why"
    echo "{\"program\":\"popo\",\"error_step\":\"$name\",\"error\":\"$why\"}" >> "$RES"
  else
    log "done $name"
  fi
  return $rc
}

{ nvidia-smi -L; nvcc --version | tail -1; cmake --version | head -1; g++ --version | head -1
  echo "pkg-config: $(command -v pkg-config || echo none)"; nproc; } >> "$LOG" 2>&1
PYTHON=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import torch' 2>/dev/null; then PYTHON=$p; break; fi
done
[ -n "$PYTHON" ] || { log "no Python with torch"; exit 1; }
"$PYTHON" - >> "$RES" <<'EOF'
import datetime, json, torch
try:
    import transformers; tv = transformers.__version__
except ImportError:
    tv = "not installed"
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU smoke run)"
print(json.dumps(dict(program="card", gpu=gpu, torch=torch.__version__, transformers=tv,
                      date=datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"))))
EOF

# ---- build ------------------------------------------------------------------------------------
TARGETS=(popo_tests bench_update bench_rollout)
if [ $SMOKE = 1 ]; then
  BUILD="${BUILD:-build}"
  run_step build 600 cmake --build "$BUILD" -j 2 --target "${TARGETS[@]}" || exit 1
else
  BUILD=build-cuda
  run_step build 300 scripts/build-cuda.sh "$BUILD" "${TARGETS[@]}" || { tail -40 "$LOG"; exit 1; }
  # shellcheck disable=SC1091
  [ -f .deps/env.sh ] && source .deps/env.sh
fi
# The fixtures travel with the repository (tests/fixtures), found from the test program.

# ---- parity tests (the CUDA instances skip on CPU) -------------------------------------------
FILTER='*DeviceParity.*:*CheckpointedModel.*:GradCheckpoint.*:MemoryStats.*:*HfReference.*'
: > "$OUTDIR/tests.log"
STEP_LOG="$OUTDIR/tests.log" run_step tests 120 "$BUILD/popo_tests" --gtest_filter="$FILTER"
grep -E '^\[  (PASSED|FAILED|SKIPPED) |tests? ran|^\[  FAILED  \]' "$OUTDIR/tests.log" | tail -30

# ---- benchmarks -------------------------------------------------------------------------------
if [ $SMOKE = 1 ]; then
  DEV=(--device cpu --dtype float32); S05=tiny; S15=tiny
  GEN=(--prompt-len 8 --new-tokens 8); GB1=4; GB2=8
  UPD=(--prompts 2 --group 4 --prompt-len 8 --response-len 24 --micro-batch 4 --iters 1)
  BIG=(--prompts 2 --group 4 --prompt-len 16 --response-len 32 --micro-batch 4 --iters 1 --grad-ckpt)
  BIGGEN=(--batch 8 --group 4 --prompt-len 16 --new-tokens 32)
  HF=(--device cpu --dtype float32 --shape tiny --gen-batches 4,8 --prompt-len 8 --new-tokens 8
      --update-rollouts 8 --update-prompt-len 8 --update-response-len 24 --iters 1)
else
  DEV=(--device cuda --dtype bfloat16); S05=qwen2.5-0.5b; S15=qwen2.5-math-1.5b
  GEN=(--prompt-len 128 --new-tokens 256); GB1=64; GB2=256
  UPD=(--prompts 2 --group 8 --prompt-len 128 --response-len 896 --micro-batch 4 --iters 2)
  BIG=(--prompts 8 --group 8 --prompt-len 512 --response-len 1024 --micro-batch 8 --iters 1
       --grad-ckpt --predictor-hidden 4096)
  BIGGEN=(--batch 64 --group 8 --prompt-len 512 --new-tokens 1024)
  HF=(--device cuda --dtype bfloat16 --shape qwen2.5-0.5b --gen-batches 64,256 --prompt-len 128
      --new-tokens 256 --update-rollouts 16 --update-prompt-len 128 --update-response-len 896
      --micro-batch 4 --iters 2)
fi
run_step hf-baseline 180 "$PYTHON" bench/python/hf_gpu_baseline.py "${HF[@]}" --json "$RES"
for b in $GB1 $GB2; do
  run_step "popo-generate-b$b" 60 "$BUILD/bench_rollout" "${DEV[@]}" --shape $S05 --batch "$b" "${GEN[@]}" --json "$RES"
done
for a in popo grpo; do
  run_step "popo-update-$a" 60 "$BUILD/bench_update" "${DEV[@]}" --shape $S05 --algo $a "${UPD[@]}" --json "$RES"
done
# The same POPO step with gradient checkpointing: its peak memory against the row above.
run_step popo-update-popo-ckpt 60 "$BUILD/bench_update" "${DEV[@]}" --shape $S05 --algo popo "${UPD[@]}" --grad-ckpt --json "$RES"
run_step popo-1.5b-update 90 "$BUILD/bench_update" "${DEV[@]}" --shape $S15 --algo popo "${BIG[@]}" --json "$RES"
run_step popo-1.5b-generate 90 "$BUILD/bench_rollout" "${DEV[@]}" --shape $S15 "${BIGGEN[@]}" --json "$RES"

# ---- report -------------------------------------------------------------------------------------
python3 bench/python/gpu_report.py "$RES" > "$OUTDIR/report.md" 2>> "$LOG" ||
  /usr/bin/python3 bench/python/gpu_report.py "$RES" > "$OUTDIR/report.md"
log "total $((SECONDS - START)) s; files in $OUTDIR"
cat "$OUTDIR/report.md"
