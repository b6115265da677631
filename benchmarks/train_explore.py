"""GPU experiment: GPT-2-124M training (bf16 autocast, fused AdamW, compiled) by SDPA backend,
batch and compile mode; prints MFU against 989 TFLOP/s (dense bf16) and a short table last.

    python benchmarks/train_explore.py            (CUDA)
"""

from __future__ import annotations

import os
import sys
import time

import torch

from collectors.workloads import train
from collectors.workloads.common import Context, TimingPolicy

PEAK = 989e12
VARIANTS = [("b32 cudnn", 32, "cudnn", "default"), ("b32 flash", 32, "flash", "default"),
            ("b64 cudnn", 64, "cudnn", "default"), ("b16 cudnn", 16, "cudnn", "default"),
            ("b128 cudnn", 128, "cudnn", "default"), ("b64 flash", 64, "flash", "default")]


def main() -> None:
    ctx = Context(device=torch.device("cuda"), policy=TimingPolicy(min_reps=5, min_time_s=2.0, warmup_reps=2))
    wanted = set(sys.argv[1:])
    rows = []
    for tag, batch, sdpa, mode in VARIANTS:
        if wanted and tag not in wanted:
            continue
        t0 = time.perf_counter()
        r = train.run(train.TrainSpec("gpt2-124m", batch=batch, seq_len=1024, compiled=True, mode=mode,
                                      steps_per_rep=3, attention=sdpa), ctx)
        if r.throughput is None:
            rows.append(f"{tag:12s} {r.status}: {(r.message or '')[:200]}")
        else:
            tps = r.throughput.median
            mfu = 100 * r.flops_per_token * tps / PEAK
            w = f"{r.energy.avg_w:.0f} W" if r.energy else ""
            rows.append(f"{tag:12s} {tps:10,.0f} tok/s MFU {mfu:5.1f}% cv {100 * r.throughput.cv:.1f}% "
                        f"warm-up {r.compile_s:.0f} s task {time.perf_counter() - t0:.0f} s {w}")
        print(rows[-1], flush=True)
    print("\n" + "\n".join(rows), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
