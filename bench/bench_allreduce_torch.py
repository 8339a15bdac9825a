"""Baseline for bench_allreduce.cpp: the same all-reduce timing loop through Python's
torch.distributed (Gloo). Started by bench_allreduce as N ranks with the torchrun variables set;
rank 0 appends "<MB> <seconds per all-reduce>" lines to $POPO_BENCH_OUT."""
import os
import time

import torch
import torch.distributed as dist


def time_it(fn):
    fn()
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    n = torch.tensor([float(min(20.0, max(2.0, 0.5 / max(one, 1e-6))))], dtype=torch.float64)
    dist.broadcast(n, src=0)  # every rank runs the same number of iterations
    iters = int(n.item())
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def main():
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="env://")
    max_mb = int(os.environ.get("POPO_BENCH_MAX_MB", "256"))
    rows = []
    mb = 1
    while mb <= max_mb:
        t = torch.ones(mb * 1024 * 1024 // 4, dtype=torch.float32)
        rows.append((mb, time_it(lambda: dist.all_reduce(t))))
        mb *= 4
    dist.barrier()
    if dist.get_rank() == 0:
        with open(os.environ["POPO_BENCH_OUT"], "w") as f:
            for mb, s in rows:
                f.write(f"{mb} {s}\n")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
