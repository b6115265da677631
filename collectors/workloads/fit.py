"""Fit: for each model shape and precision, do weights plus KV cache fit in usable memory?

Nothing is run: the check compares `memory_needed_gb` (weights, embedding table included, plus a
16-bit KV cache for the context at batch 1) with the machine's usable memory. Shapes that fit are
status ok; the others does_not_fit, with both figures in the message.
"""

from __future__ import annotations

from collectors.records import Result, WorkloadParams
from collectors.workloads.common import Context, now
from collectors.workloads.llm import DTYPE_LABEL, memory_needed_gb

FIT_MODELS = ["llama-3-1b", "llama-3-3b", "llama-3-8b", "llama-3-70b"]
FIT_DTYPES = ["bf16", "fp16", "int8"]


def run_all(ctx: Context, models: list[str] | None = None, context: int = 640) -> list[Result]:
    results = []
    for model in models or FIT_MODELS:
        for dtype in FIT_DTYPES:
            results.append(check(model, dtype, ctx.usable_memory_gb, context))
    return results


def check(model: str, dtype: str, usable_gb: float | None, context: int = 640, batch: int = 1) -> Result:
    need = memory_needed_gb(model, dtype, batch, context)
    params = WorkloadParams(model=model, dtype=DTYPE_LABEL[dtype], batch=batch, extra={"context": context})
    if usable_gb is None:
        return Result(workload="fit", params=params, status="unsupported", memory_needed_gb=need, started_at=now(),
                      message="usable memory unknown (no machine file and no device figure)")
    if need <= usable_gb:
        return Result(workload="fit", params=params, status="ok", memory_needed_gb=need, started_at=now(),
                      outputs={"usable_memory_gb": usable_gb, "headroom_gb": usable_gb - need})
    return Result(workload="fit", params=params, status="does_not_fit", memory_needed_gb=need, started_at=now(),
                  message=f"needs {need:.1f} GB, usable {usable_gb:.1f} GB",
                  outputs={"usable_memory_gb": usable_gb})
