"""GPU experiment: copy bandwidth, the fused GEMV's block shapes at Llama-3-8B's matrices, 8B
decode variants of the layers runner, and a profile of one decode step (per-kernel times, and
bytes for the weight-streaming kernels). Writes logs under $OUT (or ./out); prints a short table last.

    python benchmarks/decode_explore.py [gemv] [decode] [profile]
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from triton.testing import do_bench

from collectors.models import gemv_fused
from collectors.workloads import llm
from collectors.workloads.common import Context, TimingPolicy

OUT = Path(os.environ.get("OUT", "out"))
DIM, FFN, KV, VOCAB = 4096, 14336, 1024, 128256
# name: (rows of the weight, K, swiglu, norm, residual)
SHAPES = {"wqkv": (DIM + 2 * KV, DIM, False, True, False), "wo": (DIM, DIM, False, False, True),
          "w13": (2 * FFN, DIM, True, True, False), "w2": (DIM, FFN, False, False, True),
          "output": (VOCAB, DIM, False, True, False)}
CONFIGS = [(1, 2048, 4, 3), (2, 2048, 4, 3), (2, 1024, 4, 3), (4, 1024, 4, 3), (4, 2048, 8, 3), (8, 1024, 8, 3),
           (1, 4096, 4, 3), (2, 2048, 4, 1), (2, 4096, 4, 3), (4, 2048, 4, 3)]
summary: list[str] = []


def log(line: str) -> None:
    print(line, flush=True)
    with open(OUT / "decode_explore.log", "a") as f:
        f.write(line + "\n")


def copy_bandwidth() -> float:
    n = 1 << 30
    a = torch.empty(n, dtype=torch.uint8, device="cuda").random_()
    b = torch.empty_like(a)
    ms = do_bench(lambda: b.copy_(a), warmup=50, rep=500, return_mode="median")
    gbs = 2 * n / ms / 1e6
    log(f"copy 1 GiB: {ms * 1e3:.1f} us, {gbs:,.0f} GB/s (read + write)")
    summary.append(f"copy bandwidth (read+write)      {gbs:8,.0f} GB/s")
    return gbs


def _case(name: str, dtype: torch.dtype) -> tuple[list, dict]:
    rows, k, swiglu, norm, res = SHAPES[name]
    n = rows // 2 if swiglu else rows
    sets = []
    for _ in range(3):  # rotate weight sets: 3 x the matrix is far above the 60 MB L2
        if dtype == torch.int8:
            w = torch.randint(-127, 128, (rows, k), dtype=torch.int8, device="cuda")
            s = (torch.rand(rows, device="cuda") * 1e-3 + 1e-4).to(torch.bfloat16)
        else:
            w, s = torch.randn(rows, k, device="cuda", dtype=torch.bfloat16), None
        sets.append((w, s))
    kw = {"norm_weight": (torch.rand(k, device="cuda") + 0.5).to(torch.bfloat16) if norm else None,
          "residual": torch.randn(1, n, device="cuda", dtype=torch.bfloat16) if res else None, "swiglu": swiglu}
    return sets, kw


def gemv_sweep(copy_gbs: float, dtypes: tuple[torch.dtype, ...] = (torch.bfloat16, torch.int8)) -> None:
    log("\n# fused GEMV: GB/s of weight bytes read; best config per matrix; cuBLAS bf16 F.linear beside")
    x = torch.randn(1, DIM, device="cuda", dtype=torch.bfloat16)
    xf = torch.randn(1, FFN, device="cuda", dtype=torch.bfloat16)
    chosen = {}
    for dtype in dtypes:
        for name, (rows, k, swiglu, norm, res) in SHAPES.items():
            sets, kw = _case(name, dtype)
            xin = xf if k == FFN else x
            n = rows // 2 if swiglu else rows
            nbytes = rows * k * sets[0][0].element_size()
            i = [0]

            def pick():  # noqa: ANN202
                i[0] = (i[0] + 1) % 3
                return sets[i[0]]

            cfgs = [c for c in CONFIGS if gemv_fused.fits(n, k, c)]
            w0, s0 = sets[0]
            ref = gemv_fused.reference(xin, w0, s0, **kw)
            res_t = []
            for c in cfgs:
                out = torch.full((1, n), float("nan"), device="cuda", dtype=torch.bfloat16)
                gemv_fused.launch(xin, w0, s0, config=c, out=out, **kw)
                err = float((out.double() - ref).norm() / ref.norm())
                ms = do_bench(lambda c=c: (lambda ws: gemv_fused.launch(xin, ws[0], ws[1], config=c, **kw))(pick()),
                              warmup=20, rep=200, return_mode="median")
                res_t.append((ms, c, err))
            res_t.sort()
            ms, best, err = res_t[0]
            cub = ""
            if dtype == torch.bfloat16:
                msc = do_bench(lambda: F.linear(xin, pick()[0]), warmup=20, rep=200, return_mode="median")
                cub = f" cuBLAS {nbytes / msc / 1e6:,.0f} GB/s ({msc * 1e3:.1f} us)"
            key = (n, k, sets[0][0].element_size(), swiglu)
            chosen[str(key)] = best
            log(f"{str(dtype):15s} {name:7s} best {best} {nbytes / ms / 1e6:,.0f} GB/s ({ms * 1e3:.1f} us, "
                f"{100 * nbytes / ms / 1e6 / copy_gbs:.0f}% of copy) err {err:.1e}{cub}; others: "
                + ", ".join(f"{c[0]}x{c[1]}w{c[2]}s{c[3]}={nbytes / m / 1e6:,.0f}" for m, c, _ in res_t[1:]))
            assert err < 2e-2, f"{name} {dtype}: relative error {err}"
            summary.append(f"gemv {str(dtype)[6:]:9s} {name:7s} {str(best):18s} {nbytes / ms / 1e6:8,.0f} GB/s{cub[:20]}")
    (OUT / "gemv_tuned.json").write_text(json.dumps(chosen, indent=1))
    for key, cfg in chosen.items():
        gemv_fused.TUNED[tuple(eval(key))] = tuple(cfg)  # noqa: S307 - our own repr of a tuple


def decode_variants(copy_gbs: float) -> None:
    log("\n# 8B decode b1 (layers runner), 2 s windows")
    ctx = Context(device=torch.device("cuda"), policy=TimingPolicy(min_reps=3, min_time_s=1.5, warmup_reps=1),
                  usable_memory_gb=139.0)
    base = {"COSTPERF_FUSED_GEMV": "1", "COSTPERF_PDL": "0", "COSTPERF_FUSED_ATTN": "1"}
    variants = [("bf16 fused gemv+attn", "bf16", base),
                ("bf16 fused gemv", "bf16", {**base, "COSTPERF_FUSED_ATTN": "0"}),
                ("bf16 fused gemv+attn pdl", "bf16", {**base, "COSTPERF_PDL": "1"}),
                ("int8 fused gemv+attn", "int8", base)]
    for tag, dtype, env in variants:
        os.environ.update(env)
        t0 = time.perf_counter()
        r = llm.run(llm.LlmSpec("decode", "llama-3-8b", dtype, True, coord_descent=True), ctx)
        if r.throughput is None:
            log(f"{tag}: {r.status} {r.message}")
            summary.append(f"decode {tag:22s} {r.status}")
            continue
        tps = r.throughput.median
        gbs = r.bytes_per_token * tps / 1e9
        log(f"{tag}: {tps:,.1f} tok/s = {gbs:,.0f} GB/s = {100 * gbs / copy_gbs:.1f}% of copy; cv "
            f"{100 * r.throughput.cv:.2f}%; warm-up {r.compile_s:.1f} s; task {time.perf_counter() - t0:.0f} s")
        summary.append(f"decode {tag:22s} {tps:8,.1f} tok/s {100 * gbs / copy_gbs:5.1f}% copy  warm-up {r.compile_s:5.1f} s")
    os.environ.update(base)


def profile_step(copy_gbs: float) -> None:
    """Per-kernel times of 4 replayed decode steps (CUDA graph), grouped by kernel and grid."""
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

    from collectors.models import llama, llama_fast  # noqa: PLC0415

    log("\n# profile: one 8B bf16 b1 decode step (layers runner, defaults), kernels grouped by name and grid")
    model = llama.build("llama-3-8b", torch.bfloat16, "cuda")
    fast = llama_fast.FastLlama(model, 1, 640, pdl=os.environ.get("COSTPERF_PDL", "0") == "1")
    prompt = torch.randint(0, VOCAB, (1, 512), device="cuda")
    with torch.no_grad():
        first = model(prompt, torch.arange(512, device="cuda"))[:, -1].argmax(-1, keepdim=True)
        fast.capture(first, 512)
        fast.decode(first, 512, 8)
        torch.cuda.synchronize()
        steps = 4
        with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
            t0 = time.perf_counter()
            fast.decode(first, 512, steps)
            torch.cuda.synchronize()
            wall = (time.perf_counter() - t0) / steps
    trace = OUT / "decode_trace.json"
    prof.export_chrome_trace(str(trace))
    events = [e for e in json.loads(trace.read_text())["traceEvents"] if e.get("cat") == "kernel"]
    groups: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for e in events:
        groups[(e["name"][:60], str(e.get("args", {}).get("grid")))].append(e["dur"])
    busy = sum(e["dur"] for e in events) / steps
    first_ts = min(e["ts"] for e in events)
    last_end = max(e["ts"] + e["dur"] for e in events)
    span = (last_end - first_ts) / steps
    log(f"kernels per step {len(events) / steps:.0f}; kernel busy {busy:,.0f} us; span {span:,.0f} us per step; "
        f"wall {wall * 1e6:,.0f} us per step; gaps {span - busy:,.0f} us ({100 * (span - busy) / span:.1f}%)")
    gemv_us = 0.0
    for (name, grid), durs in sorted(groups.items(), key=lambda kv: -sum(kv[1])):
        per_step = sum(durs) / steps
        if "gemv" in name:
            gemv_us += per_step
        log(f"{per_step:9.1f} us/step {len(durs) / steps:5.0f}x {sum(durs) / len(durs):8.2f} us  {name} grid {grid}")
    weights = llm.bytes_per_token("llama-3-8b", "bf16")
    log(f"GEMV kernels {gemv_us:,.0f} us/step = {weights / gemv_us / 1e3:,.0f} GB/s over their own time; "
        f"other kernels {busy - gemv_us:,.0f} us; gaps {span - busy:,.0f} us")
    summary.append(f"profile: step {span:,.0f} us = gemv {gemv_us:,.0f} + other {busy - gemv_us:,.0f} "
                   f"+ gaps {span - busy:,.0f}; gemv {weights / gemv_us / 1e3:,.0f} GB/s")
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=25)
    (OUT / "decode_profile.txt").write_text(table)
    trace.unlink()  # large; the grouped table above is what is kept


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    which = set(sys.argv[1:]) or {"gemv", "decode", "profile"}
    log(f"{torch.cuda.get_device_name()} torch {torch.__version__}")
    copy_gbs = copy_bandwidth()
    stages = (("gemv", gemv_sweep), ("gemv8", lambda c: gemv_sweep(c, (torch.int8,))),
              ("decode", decode_variants), ("profile", profile_step))
    for stage, fn in stages:
        if stage in which:
            try:
                fn(copy_gbs)
            except Exception as exc:  # noqa: BLE001 - keep the other stages' figures
                log(f"{stage} failed: {type(exc).__name__}: {exc}")
                summary.append(f"{stage} FAILED: {type(exc).__name__}: {str(exc)[:150]}")
    print("\n" + "\n".join(summary), flush=True)


if __name__ == "__main__":
    main()
