"""All-reduce bandwidth through torch.distributed, reported the way nccl-tests reports it.

For a buffer of S bytes reduced in t seconds (the ranks' times averaged, as nccl-tests does by
default), algorithm bandwidth = S / t and bus bandwidth = algbw x 2(n-1)/n (scaling.busbw_gbps):
the bus figure is the one to hold against the link's published bandwidth. Each sample times
`iters` back-to-back all-reduces (nccl-tests' default 20) after warm-up; the sum is checked first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from collectors.distributed import assemble, runtime, scaling
from collectors.distributed.runtime import DistContext
from collectors.records import Result, WorkloadParams

WORKLOAD = "allreduce"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class AllReduceSpec:
    size_bytes: int
    dtype: str = "fp32"  # nccl-tests' default type is float
    iters: int = 20

    def params(self, staged: bool) -> WorkloadParams:
        return WorkloadParams(
            dtype=self.dtype, engine="torch.distributed",
            extra={"size_bytes": self.size_bytes, "op": "sum", "iters_per_sample": self.iters,
                   "definition": "nccl-tests: algbw = S/t, busbw = algbw x 2(n-1)/n, t = mean over ranks",
                   "buffer": "CPU copy of the device tensor (gloo)" if staged else "device tensor, in place"},
        )


def run(spec: AllReduceSpec, dctx: DistContext, size: int) -> Result | None:
    started = assemble._now()
    params = spec.params(dctx.staged_through_cpu)
    dtype = DTYPES[spec.dtype]
    numel = spec.size_bytes // torch.tensor([], dtype=dtype).element_size()
    pl = None
    if dctx.member(size):
        # gloo reduces CPU tensors only: on a Mac the buffer lives on the CPU (staged_through_cpu)
        where = dctx.device if dctx.backend == "nccl" else torch.device("cpu")
        group = dctx.group(size)
        check = torch.full((1024,), float(dctx.rank + 1), dtype=dtype, device=where)
        dist.all_reduce(check, group=group)
        want = size * (size + 1) / 2
        if not bool((check == want).all()):
            raise RuntimeError(f"all-reduce gave {check[0].item()} instead of the sum {want}")
        buf = torch.zeros(numel, dtype=dtype, device=where)

        def step() -> None:
            for _ in range(spec.iters):
                dist.all_reduce(buf, group=group)

        timing = runtime.timed_steps(dctx, size, WORKLOAD, step, warmup_reps=1, max_reps=200)
        per_op = [s / spec.iters for s in timing.seconds]
        pl = runtime.payload(dctx, timing, seconds=per_op)
        del buf
    members = runtime.gather(dctx, pl)
    if members is None:
        return None
    factor = scaling.allreduce_bus_factor(size)
    times = [sum(p["seconds"][i] for p in members) / len(members) for i in range(len(members[0]["seconds"]))]
    # one figure, three views: the median bus bandwidth, its algorithm bandwidth and its time
    busbw = runtime.median([scaling.busbw_gbps(spec.size_bytes, t, size) for t in times])
    algbw = busbw / factor
    return assemble.ok_result(
        WORKLOAD, params, "GB/s", members, runtime.scale_of(dctx, size), started,
        work_per_step=spec.size_bytes * factor / 1e9, how="mean",
        rank_value=lambda p: runtime.median([scaling.busbw_gbps(spec.size_bytes, s, size) for s in p["seconds"]]),
        outputs={"size_bytes": spec.size_bytes, "busbw_gbps": busbw, "algbw_gbps": algbw,
                 "time_us": spec.size_bytes / (algbw * 1e9) * 1e6,
                 "bus_factor": factor, "sum_check": "ok"},
    )
