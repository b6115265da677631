"""Micro-benchmarks: device memory copy, host<->device transfers, matrix-multiply TFLOP/s.

Copy bandwidth counts bytes read plus bytes written (DESIGN.md's anchor convention). Transfers
are timed pinned and pageable; on unified memory (MPS) there is no host link to cross, so they are
recorded as unsupported with that reason. Matmul fp32 runs true fp32 (TF32 off, recorded).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from collectors.records import Result, WorkloadParams
from collectors.workloads.common import Context, failed_result, free_memory, measure, now, ok_result, warmup

MATMUL_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass(frozen=True)
class CopySpec:
    workload: str  # memcpy | h2d | d2h
    size_mb: int
    pinned: bool | None = None
    inner: int = 1  # copies per timed repeat, so a repeat is long enough to time

    def params(self) -> WorkloadParams:
        extra: dict[str, str | int | float | bool | None] = {"size_mb": self.size_mb, "copies_per_repeat": self.inner}
        if self.workload == "memcpy":
            extra["bytes_counted"] = "read+write"
        else:
            extra["host_memory"] = "pinned" if self.pinned else "pageable"
        return WorkloadParams(engine="torch", extra=extra)


@dataclass(frozen=True)
class MatmulSpec:
    dtype: str
    n: int
    inner: int = 1

    def params(self) -> WorkloadParams:
        return WorkloadParams(dtype=self.dtype, engine="torch",
                              extra={"m": self.n, "n": self.n, "k": self.n, "matmuls_per_repeat": self.inner,
                                     "allow_tf32": False, "inputs": "random normal"})


def run_copy(spec: CopySpec, ctx: Context) -> Result:
    started = now()
    params = spec.params()
    if spec.workload != "memcpy":
        if ctx.kind == "mps":
            return Result(workload=spec.workload, params=params, status="unsupported", started_at=started,
                          message="not applicable: unified memory, the GPU reads host memory in place (no host link)")
        if ctx.kind == "cpu":
            return Result(workload=spec.workload, params=params, status="unsupported", started_at=started,
                          message="not applicable: no accelerator, the suite ran on the CPU")
    n = spec.size_mb * 1_000_000 // 4
    try:
        if spec.workload == "memcpy":
            src = torch.randn(n, device=ctx.device)
            dst = torch.empty_like(src)
            work = 2 * n * 4 / 1e9 * spec.inner  # read + write

            def call() -> None:
                for _ in range(spec.inner):
                    dst.copy_(src)
        else:
            host = torch.randn(n, pin_memory=bool(spec.pinned))
            dev = torch.empty(n, device=ctx.device)
            src, dst = (host, dev) if spec.workload == "h2d" else (dev, host)
            work = n * 4 / 1e9 * spec.inner

            def call() -> None:
                for _ in range(spec.inner):
                    dst.copy_(src, non_blocking=bool(spec.pinned))

        compile_s = warmup(call, ctx)
        timed = measure(call, work, "GB/s", ctx)
        return ok_result(spec.workload, params, timed, started, ctx, compile_s=compile_s)
    except Exception as exc:  # noqa: BLE001
        return failed_result(spec.workload, params, exc, started)
    finally:
        src = dst = None  # noqa: F841
        free_memory(ctx.device)


def run_matmul(spec: MatmulSpec, ctx: Context) -> Result:
    started = now()
    params = spec.params()
    dtype = MATMUL_DTYPES[spec.dtype]
    saved = torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        gen = torch.Generator(device="cpu").manual_seed(0)
        a = torch.randn(spec.n, spec.n, generator=gen).to(ctx.device, dtype)
        b = torch.randn(spec.n, spec.n, generator=gen).to(ctx.device, dtype)
        out = torch.empty(spec.n, spec.n, device=ctx.device, dtype=dtype)

        def call() -> None:
            for _ in range(spec.inner):
                torch.mm(a, b, out=out)

        compile_s = warmup(call, ctx)
        timed = measure(call, 2 * spec.n**3 * spec.inner / 1e12, "TFLOP/s", ctx)
        return ok_result("matmul", params, timed, started, ctx, compile_s=compile_s)
    except Exception as exc:  # noqa: BLE001
        return failed_result("matmul", params, exc, started)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved
        free_memory(ctx.device)
