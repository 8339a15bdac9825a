#!/usr/bin/env bash
# Issue #15's comparison grid on a 2-core machine: the seven methods and POPO's six ablations,
# 3 seeds each, after a learning-rate sweep, as two `popo compare` halves side by side into one
# folder. Each process runs with OPENBLAS_NUM_THREADS=1, so a run has one core to itself (two such
# runs side by side are as fast as one alone; docs/PERFORMANCE.md). Ends with the combined
# tables and plots (--report). Interrupted, the same command continues where it stopped.
# Usage: [RUNDIR=DIR] scripts/compare_grid.sh OUT [POPO]   (RUNDIR default OUT/runs)
set -euo pipefail
OUT=${1:?usage: scripts/compare_grid.sh OUT [POPO]}
POPO=${2:-popo}
RUNDIR=${RUNDIR:-$OUT/runs}
export OPENBLAS_NUM_THREADS=1
ARGS=(--seeds 3 --lr-sweep 1e-4,3e-4,1e-3 --sweep-steps 125 --out "$OUT" "run.dir=$RUNDIR")
mkdir -p "$OUT"
# Build the warm-started base model once, before two processes would race for its cache.
"$POPO" train trainer.steps=1 trainer.eval_every=0 data.heldout_size=8 "run.dir=$RUNDIR" \
  "run.name=base-cache-$$" > "$OUT/base-cache.log" 2>&1
rm -rf "$RUNDIR/base-cache-$$"
pair() {  # runs two method lists side by side with the extra arguments $3...
  local a=$1 b=$2
  shift 2
  "$POPO" compare --methods "$a" "${ARGS[@]}" "$@" >> "$OUT/half-1.log" 2>&1 &
  local p1=$!
  "$POPO" compare --methods "$b" "${ARGS[@]}" "$@" >> "$OUT/half-2.log" 2>&1 &
  local p2=$!
  wait "$p1" && wait "$p2"
}
pair grpo,psr,nsr popo,raft,w_reinforce,rloo --sweep-only
pair popo,grpo,psr,raft nsr,w_reinforce,rloo
pair popo-no-sim,popo-no-entropy,popo-uniform popo-frozen,popo-tau0,popo-no-noise
"$POPO" compare --methods baselines,popo-no-sim,popo-no-entropy,popo-uniform,popo-frozen,popo-tau0,popo-no-noise \
  "${ARGS[@]}" --report
