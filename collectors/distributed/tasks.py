"""What one distributed launch runs: the tasks of each workload at each scale (world sizes 1, 2, 4 ...
up to the launch's), in the order that keeps the most results if one fails."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass

from collectors.distributed import WORKLOADS, allreduce, assemble, ddp_train
from collectors.distributed.runtime import DistContext
from collectors.records import Result, WorkloadParams


@dataclass
class Task:
    id: str
    workload: str
    size: int
    params: WorkloadParams
    fn: Callable[[DistContext], Result | None]


def default_scales(world: int) -> list[int]:
    """1, 2, 4, ... below the world size, and the world size itself."""
    out, k = [], 1
    while k < world:
        out.append(k)
        k *= 2
    return out + [world]


def tasks_for(args: argparse.Namespace, dctx: DistContext) -> list[Task]:
    """All-reduce, DDP, tensor-parallel decode, then FSDP (the heaviest last: a failure ends the
    launch, and the results before it are kept)."""
    world = dctx.world_size
    scales = sorted({s for s in args.scales if s <= world}) or [world]
    gpu = dctx.device.type == "cuda"
    quick = args.suite == "quick"
    wanted = set(args.workloads or WORKLOADS)
    tasks: list[Task] = []
    if "allreduce" in wanted and not any(s >= 2 for s in scales):
        tasks.append(Task("allreduce-one-rank", "allreduce", 1, WorkloadParams(engine="torch.distributed"),
                          lambda c: _unsupported(c, "allreduce", "an all-reduce needs at least 2 ranks")))
    if "allreduce" in wanted:
        if quick:
            sizes = [1 << 16, 1 << 20] if not gpu else [1 << 20, 1 << 26]
        else:
            sizes = [1 << 20, 1 << 24, 1 << 28, 1 << 30] if gpu else [1 << 20, 1 << 24]
        for n in [s for s in scales if s >= 2]:
            for b in sizes:
                spec = allreduce.AllReduceSpec(b, iters=20 if gpu else 5)
                tasks.append(Task(f"allreduce-{b}B-n{n}", "allreduce", n, spec.params(dctx.staged_through_cpu),
                                  lambda c, s=spec, n=n: allreduce.run(s, c, n)))
    if "train-gpt2-ddp" in wanted:
        if quick:
            spec_d = ddp_train.DdpSpec("gpt2-tiny", batch=4, seq_len=64)
        elif gpu:
            spec_d = ddp_train.DdpSpec("gpt2-124m", batch=16, seq_len=1024, compiled=args.compile)
        else:
            spec_d = ddp_train.DdpSpec("gpt2-124m", batch=2, seq_len=256)
        for n in scales:
            tasks.append(Task(f"train-gpt2-ddp-{spec_d.model}-n{n}", "train-gpt2-ddp", n,
                              spec_d.params(dctx.device.type, dctx.staged_through_cpu),
                              lambda c, s=spec_d, n=n: ddp_train.run(s, c, n)))
    if dctx.device.type == "mps":
        # FSDP's and tensor parallelism's collectives run on device tensors, which gloo cannot take
        for name in ("train-llama-fsdp", "decode-tp"):
            if name in wanted:
                wanted.discard(name)
                tasks.append(Task(f"{name}-mps", name, world, WorkloadParams(engine="torch.distributed"),
                                  lambda c, name=name: _unsupported(c, name, MPS_UNSUPPORTED)))
    if "decode-tp" in wanted:
        from collectors.distributed import tp_decode  # noqa: PLC0415

        tp_model = tp_model_override()
        if quick or not gpu:
            spec_t = tp_decode.TpSpec(tp_model or "llama-tiny", dtype="fp32", prompt=32, gen=16, compiled=False)
        else:
            spec_t = tp_decode.TpSpec(tp_model or "llama-3-8b", compiled=not args.eager_decode)
        for n in scales:
            tid = f"decode-tp-{spec_t.model}-n{n}"
            if spec_t.shardable(n):
                tasks.append(Task(tid, "decode-tp", n, spec_t.params(dctx.device.type, n),
                                  lambda c, s=spec_t, n=n: tp_decode.run(s, c, n)))
            else:
                why = f"{spec_t.model}'s heads and feed-forward width do not split into {n} equal parts"
                tasks.append(Task(tid, "decode-tp", n, spec_t.params(dctx.device.type, n),
                                  lambda c, why=why: _unsupported(c, "decode-tp", why)))
    if "train-llama-fsdp" in wanted:
        from collectors.distributed import fsdp_train  # noqa: PLC0415

        if quick or not gpu:
            spec_f = fsdp_train.FsdpSpec("llama-tiny", batch=2, seq_len=64)
        else:
            spec_f = fsdp_train.FsdpSpec("llama-3-1b", batch=2, seq_len=2048)
        for n in scales:
            tasks.append(Task(f"train-llama-fsdp-{spec_f.model}-n{n}", "train-llama-fsdp", n,
                              spec_f.params(dctx.device.type),
                              lambda c, s=spec_f, n=n: fsdp_train.run(s, c, n)))
    return tasks


TP_MODEL_ENV = "COSTPERF_TP_MODEL"


def tp_model_override() -> str | None:
    """COSTPERF_TP_MODEL: another model shape for the tensor-parallel decode (the task id names it),
    e.g. llama-tiny to check the compiled path, CUDA graphs and collectives included, in seconds."""
    from collectors.models import llama  # noqa: PLC0415

    name = os.environ.get(TP_MODEL_ENV, "").strip()
    if name and name not in llama.CONFIGS:
        raise ValueError(f"{TP_MODEL_ENV}={name!r}: expected one of {', '.join(llama.CONFIGS)}")
    return name or None


MPS_UNSUPPORTED = "needs collectives on device tensors; gloo, the only backend for MPS, takes CPU tensors"


def _unsupported(dctx: DistContext, workload: str, why: str) -> Result | None:
    if dctx.rank != 0:
        return None
    return Result(workload=workload, params=WorkloadParams(engine="torch.distributed"), status="unsupported",
                  message=why, started_at=assemble._now())
