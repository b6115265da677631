"""GPU experiment: the batch-1 GEMV's block shapes (int8 or bf16 weights) chosen inside the decode
step itself.

Timed alone, the GEMVs of one token add up to more than the whole captured decode step (launch and
ramp costs that the CUDA graph overlaps), so isolated timings rank the small matrices' shapes
poorly. Here Llama-3-8B (random weights, as the suite) runs through llama_fast's captured step
after a 512-token position, and each candidate block shape is judged by the step time: 128 steps
per sample, CUDA events, median of 5. Coordinate descent: one matrix at a time, the others fixed,
starting from $GEMV_START (COSTPERF_GEMV_CONFIGS' form); then the winner against the start again
(alternating, 3 rounds); a per-kernel profile of the winning step; for int8, the bf16 step for the
ratio. Programmatic dependent launch as the suite's knob sets it for the weights (COSTPERF_PDL).

Writes $OUT/<dtype>_tuned.json (the winner in COSTPERF_GEMV_CONFIGS' form) and prints a table last.

    GEMV_START='{...}' python benchmarks/int8_decode_tune.py [--dtype int8|bf16] [--budget-s 240]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import time
from pathlib import Path

import torch

from collectors.models import decode_attention, gemv_fused, llama, llama_fast
from collectors.models.int8 import quantize_int8
from collectors.workloads import llm

OUT = Path(os.environ.get("OUT", "out"))
Cfg = list[int]
# key in COSTPERF_GEMV_CONFIGS' form -> candidates, most likely first (from the isolated sweep's top
# shapes with the byte-permute conversion, and neighbours)
KEYS = {"w13": "14336,4096,1,1", "w2": "4096,14336,1,0", "wqkv": "6144,4096,1,0", "wo": "4096,4096,1,0",
        "output": "128256,4096,1,0"}
KEYS_BF16 = {name: key.replace(",1,", ",2,") for name, key in KEYS.items()}
# Every shape here sums 8 (or 4) neighbouring products before accumulating (ACC, the fifth entry):
# the committed shapes with ACC 1 were chosen the same way before the kernel had it. The larger
# tiles are those whose accumulators did not fit before (registers per thread compiled for sm_90:
# int8 gate+up 4 x 2048 128 -> 96, five programs per multiprocessor instead of four).
_SMALL_BF16 = [[2, 2048, 4, 3, 8], [4, 1024, 4, 3, 8], [4, 2048, 4, 3, 8], [2, 1024, 4, 3, 8], [1, 4096, 4, 3, 8]]
CANDIDATES_BF16: dict[str, list[Cfg]] = {
    "w13": [[2, 1024, 4, 3, 8], [4, 1024, 4, 3, 8], [2, 2048, 4, 3, 8], [4, 1024, 8, 3, 8], [2, 1024, 4, 2, 8]],
    "w2": [[1, 2048, 4, 3, 8], [2, 2048, 4, 3, 8], [2, 1024, 4, 3, 8], [4, 1024, 4, 3, 8]],
    "wqkv": _SMALL_BF16, "wo": _SMALL_BF16,
    "output": [[2, 2048, 4, 1, 8], [4, 2048, 4, 1, 8], [4, 1024, 4, 3, 8]],
}
CANDIDATES: dict[str, list[Cfg]] = {
    "w13": [[4, 2048, 4, 1, 8], [2, 2048, 4, 1, 8], [8, 1024, 4, 1, 8], [4, 1024, 4, 1, 8], [4, 4096, 8, 1, 8],
            [4, 2048, 4, 1, 4], [8, 2048, 8, 1, 8]],
    "w2": [[4, 1024, 4, 1, 8], [4, 2048, 4, 1, 8], [8, 1024, 4, 1, 8], [2, 2048, 4, 1, 8], [8, 2048, 8, 1, 8],
           [4, 1024, 4, 1, 4]],
    "wqkv": [[8, 512, 4, 1, 8], [8, 1024, 4, 1, 8], [8, 512, 2, 1, 8], [4, 1024, 4, 1, 8], [4, 2048, 4, 1, 8],
             [16, 512, 4, 1, 8]],
    "wo": [[2, 1024, 4, 1, 8], [4, 1024, 4, 1, 8], [8, 512, 2, 1, 8], [2, 2048, 4, 1, 8], [8, 512, 4, 1, 8]],
    "output": [[4, 512, 2, 1, 8], [8, 512, 2, 1, 8], [4, 1024, 4, 1, 8], [8, 512, 4, 1, 8]],
}
PROMPT, GEN = 512, 128


def step_us(fast: llama_fast.FastLlama, first: torch.Tensor, configs: dict[str, Cfg], reps: int = 5) -> float:
    """Median microseconds per decode step with these block shapes (graph captured again)."""
    os.environ[gemv_fused.CONFIGS_ENV] = json.dumps(configs)
    fast._graph = None  # noqa: SLF001 - the next capture uses the new shapes
    fast.capture(first, PROMPT)
    fast.decode(first, PROMPT, 16)
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fast.decode(first, PROMPT, GEN)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3 / GEN)
    return sorted(times)[len(times) // 2]


def build(dtype: str, pdl: bool) -> tuple[llama.Llama, llama_fast.FastLlama, torch.Tensor]:
    model = llama.build("llama-3-8b", torch.bfloat16, "cuda")
    if dtype == "int8":
        quantize_int8(model, random=True)
    fast = llama_fast.FastLlama(model, 1, PROMPT + GEN, pdl=pdl, pdl_attn=pdl)  # as the suite's knobs
    first = torch.randint(0, model.cfg.vocab_size, (1, 1), device="cuda")
    return model, fast, first


def profile(fast: llama_fast.FastLlama, first: torch.Tensor, dtype: str, steps: int = 4) -> list[str]:
    from torch.profiler import ProfilerActivity  # noqa: PLC0415
    from torch.profiler import profile as prof_ctx  # noqa: PLC0415

    fast.decode(first, PROMPT, 8)
    torch.cuda.synchronize()
    with prof_ctx(activities=[ProfilerActivity.CUDA]) as prof:
        fast.decode(first, PROMPT, steps)
        torch.cuda.synchronize()
    trace = OUT / f"{dtype}_trace.json"
    prof.export_chrome_trace(str(trace))
    events = [e for e in json.loads(trace.read_text())["traceEvents"] if e.get("cat") == "kernel"]
    trace.unlink()
    groups: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for e in events:
        groups[(e["name"][:50], str(e.get("args", {}).get("grid")))].append(e["dur"])
    busy = sum(e["dur"] for e in events) / steps
    span = (max(e["ts"] + e["dur"] for e in events) - min(e["ts"] for e in events)) / steps
    lines = [f"profile {dtype}: span {span:,.0f} us/step, kernels {busy:,.0f} us, gaps {span - busy:,.0f} us "
             f"({len(events) / steps:.0f} kernels/step)"]
    for (name, grid), durs in sorted(groups.items(), key=lambda kv: -sum(kv[1]))[:12]:
        lines.append(f"  {sum(durs) / steps:8.1f} us/step {len(durs) / steps:4.0f}x {sum(durs) / len(durs):7.2f} us "
                     f"{name} grid {grid}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--budget-s", type=float, default=240.0)
    p.add_argument("--dtype", choices=["int8", "bf16"], default="int8")
    a = p.parse_args()
    dtype = a.dtype
    keys, candidates = (KEYS, CANDIDATES) if dtype == "int8" else (KEYS_BF16, CANDIDATES_BF16)
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    start: dict[str, Cfg] = {key: list(gemv_fused.full(tuple(cfg))) for key, cfg in
                             json.loads(os.environ.get("GEMV_START", "{}") or "{}").items()}
    for name, key in keys.items():
        start.setdefault(key, list(gemv_fused.config_for(*(int(v) for v in key.split(",")[:3]),
                                                          key.endswith(",1"))))
    print(f"{torch.cuda.get_device_name()} torch {torch.__version__} {dtype}, int8 convert "
          f"{gemv_fused.i8_convert()}; start {json.dumps(start)}", flush=True)
    summary: list[str] = []
    with torch.no_grad():
        pdl = llm.knobs(llm.LlmSpec("decode", "llama-3-8b", dtype, True))["pdl"]
        print(f"PDL {pdl}, attention merge {decode_attention.COMBINE}", flush=True)
        model, fast, first = build(dtype, pdl=bool(pdl))
        base = step_us(fast, first, start)
        print(f"start: {base:,.1f} us/step ({1e6 / base:,.1f} tok/s); built in {time.perf_counter() - t0:.0f} s",
              flush=True)
        best, best_us = dict(start), base
        for name, key in keys.items():
            for cand in candidates[name]:
                if time.perf_counter() - t0 > a.budget_s:
                    break
                if cand == best[key]:
                    continue
                n, k = (int(v) for v in key.split(",")[:2])
                if not gemv_fused.fits(n, k, tuple(cand)):
                    continue
                trial = {**best, key: cand}
                try:
                    us = step_us(fast, first, trial)
                except Exception as exc:  # noqa: BLE001 - a shape that fails to compile is left out
                    print(f"{name} {cand}: failed {type(exc).__name__}: {str(exc)[:120]}", flush=True)
                    continue
                mark = ""
                if us < best_us * 0.997:
                    best, best_us, mark = trial, us, "  <- best"
                print(f"{name:6s} {str(cand):18s} {us:8.1f} us/step ({1e6 / us:6.1f} tok/s){mark}", flush=True)
        # the winner against the start, alternating, so drift between samples cancels
        pairs = [(step_us(fast, first, start), step_us(fast, first, best)) for _ in range(3)]
        s_us = sorted(p[0] for p in pairs)[1]
        b_us = sorted(p[1] for p in pairs)[1]
        summary.append(f"{dtype} start  {s_us:8.1f} us/step {1e6 / s_us:6.1f} tok/s")
        summary.append(f"{dtype} tuned  {b_us:8.1f} us/step {1e6 / b_us:6.1f} tok/s  {json.dumps(best)}")
        (OUT / f"{dtype}_tuned.json").write_text(json.dumps(best))
        prof_lines = profile(fast, first, dtype)
        if dtype == "int8":
            os.environ[gemv_fused.CONFIGS_ENV] = json.dumps(best)
            del fast, model
            torch.cuda.empty_cache()
            bf_pdl = bool(llm.knobs(llm.LlmSpec("decode", "llama-3-8b", "bf16", True))["pdl"])
            model, fast, first = build("bf16", pdl=bf_pdl)
            bf_us = step_us(fast, first, {})
            summary.append(f"bf16        {bf_us:8.1f} us/step {1e6 / bf_us:6.1f} tok/s; int8 tuned / bf16 = "
                           f"{bf_us / b_us:.3f}x")
    print("\n".join(prof_lines + [""] + summary) + f"\n(total {time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
