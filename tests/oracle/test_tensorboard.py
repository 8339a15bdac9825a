"""Oracle: popo's TensorBoard events files read by TensorBoard itself.

A short `popo train` (the built-in task, two steps, then one more after a resume) writes
runs/<name>/tb/events.out.tfevents.*; TensorBoard's own EventAccumulator (the loader behind
`tensorboard --logdir`) must read every scalar of metrics.jsonl at its step with its value, from
both files of the resumed run. TensorBoard checks each record's CRCs as it reads
(tensorboard.compat.tensorflow_stub's record reader), so a bad frame fails here too.
"""
import json
import math
import os
import subprocess
import tempfile
from pathlib import Path

from tensorboard.backend.event_processing import event_accumulator

ARGS = ["data.heldout_size=8", "trainer.prompts_per_step=4", "trainer.group_size=2",
        "trainer.micro_batch_size=8", "trainer.eval_every=0", "trainer.save_every=1",
        "warm_start.steps=0", "sampling.max_new_tokens=8", "trainer.threads=1"]


def popo(*args, cwd):
    r = subprocess.run([os.environ["POPO_BINARY"], *args], cwd=cwd, capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]


def test_tensorboard_reads_every_metrics_scalar():
    with tempfile.TemporaryDirectory() as tmp:
        popo("train", "run.dir=runs", "run.name=tb", "trainer.steps=2", *ARGS, cwd=tmp)
        run = Path(tmp) / "runs" / "tb"
        popo("train", "--resume", str(run), "trainer.steps=3", cwd=tmp)
        files = sorted((run / "tb").glob("events.out.tfevents.*"))
        assert len(files) == 2, files  # a resumed run writes a new file
        acc = event_accumulator.EventAccumulator(str(run / "tb"), size_guidance={event_accumulator.SCALARS: 0})
        acc.Reload()
        tags = set(acc.Tags()["scalars"])
        compared = 0
        with open(run / "metrics.jsonl", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        assert [r["step"] for r in rows] == [0, 1, 2, 3]
        for row in rows:
            for key, value in row.items():
                if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                if not math.isfinite(value):
                    continue
                assert key in tags, f"{key} not in TensorBoard's tags"
                points = {e.step: e.value for e in acc.Scalars(key)}
                assert row["step"] in points, f"{key} has no point at step {row['step']}"
                got = points[row["step"]]
                assert math.isclose(got, value, rel_tol=1e-6, abs_tol=1e-6 * max(1.0, abs(value))), (key, got, value)
                compared += 1
        assert compared > 50
