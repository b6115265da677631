"""Device experiment: compile time and throughput of the compiled 8B decode and GPT-2 training
under the tuning knobs (see collectors/workloads/llm.py knobs()). Prints one line per case."""

from __future__ import annotations

import os
import sys

import torch

from collectors.models.int8 import CONFIGS as chosen_configs
from collectors.workloads import llm, train
from collectors.workloads.common import Context
from collectors.workloads.suites import POLICIES


def show(tag: str, r) -> None:  # noqa: ANN001
    fig = f"{r.throughput.median:,.1f} {r.throughput.unit} cv {100 * r.throughput.cv:.2f}%" if r.throughput else r.message
    extra = ""
    if r.workload == "decode" and r.throughput:
        extra = f" {r.bytes_per_token * r.throughput.median / 1e9:,.0f} GB/s"
    if r.workload == "train-gpt2" and r.throughput:
        extra = f" MFU {100 * r.flops_per_token * r.throughput.median / 989e12:.1f}%"
    print(f"{tag:40s} {fig}{extra} warmup {r.compile_s} s total {r.duration_s:.0f} s peak {r.peak_memory_gb}", flush=True)


def main() -> None:
    ctx = Context(device=torch.device("cuda"), policy=POLICIES["standard"], usable_memory_gb=79.0)
    which = sys.argv[1:]
    if "decode" in which:
        for gemv in ("1", "0"):
            os.environ["COSTPERF_TRITON_GEMV"] = gemv
            ctx.cache.clear()
            r = llm.run(llm.LlmSpec("decode", "llama-3-8b", "bf16", True), ctx)
            show(f"bf16 b1 cd=1 triton_gemv={gemv}", r)
        r = llm.run(llm.LlmSpec("decode", "llama-3-8b", "int8", True), ctx)
        show("int8 b1 cd=1", r)
        print(chosen_configs, flush=True)
        ctx.cache.clear()
    if "train" in which:
        for b, mode in ((32, "reduce-overhead"), (32, "max-autotune-no-cudagraphs")):
            r = train.run(train.TrainSpec("gpt2-124m", batch=b, compiled=True, mode=mode), ctx)
            show(f"train b{b} {mode}", r)


if __name__ == "__main__":
    main()
