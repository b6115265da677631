"""GPU experiment: the int8 batch-1 fused GEMV's block shapes (BLOCK_N, BLOCK_K, warps, stages) at
every Llama-3-8B matrix, after weights came to be read in 8-element runs. Each candidate is first
checked against a float64 reference on fresh random inputs (output poisoned with NaN first), then
timed with do_bench (median) over three rotating weight sets (far above the L2). Prints one line per
candidate and a table last: the committed configuration against the best, per matrix, and the GEMV
time of one decode token with each.

Writes $OUT/gemv8_configs_<convert>.json: the matrices whose best beats the committed configuration by more
than --margin, in COSTPERF_GEMV_CONFIGS' form (gemv_fused.parse_configs), '{}' if none.

    python benchmarks/gemv8_sweep.py [--budget-s 75] [--margin 0.02] [--tiny]

--tiny: small shapes through Triton's interpreter (TRITON_INTERPRET=1, no GPU), to check the logic.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from collectors.models import gemv_fused

OUT = Path(os.environ.get("OUT", "out"))
DIM, FFN, KV, VOCAB, LAYERS = 4096, 14336, 1024, 128256, 32
Cfg = tuple[int, int, int, int]
# name: (rows of the weight, K, swiglu, norm, residual, calls per token)
SHAPES = {"wqkv": (DIM + 2 * KV, DIM, False, True, False, LAYERS), "wo": (DIM, DIM, False, False, True, LAYERS),
          "w13": (2 * FFN, DIM, True, True, False, LAYERS), "w2": (DIM, FFN, False, False, True, LAYERS),
          "output": (VOCAB, DIM, False, True, False, 1)}
# Most likely first (the sweep stops at its time budget). More rows per program read x and the
# norm weights (bf16, as many bytes as 2 int8 rows) once for more weight bytes.
CANDIDATES: list[Cfg] = [
    (4, 2048, 4, 1), (8, 1024, 4, 1), (4, 1024, 4, 1), (8, 512, 4, 1), (8, 1024, 8, 1), (4, 2048, 8, 1), (16, 512, 8, 1), (16, 256, 4, 1),
    (8, 512, 8, 1), (4, 1024, 4, 3), (8, 512, 4, 3), (4, 512, 2, 1), (2, 2048, 4, 1), (2, 1024, 4, 1),
    (32, 256, 8, 1), (8, 2048, 8, 1), (16, 1024, 8, 1), (1, 2048, 4, 3), (4, 4096, 8, 1)]
TINY_SHAPES = {"wqkv": (24, 64, False, True, False, 2), "wo": (16, 64, False, False, True, 2),
               "w13": (32, 64, True, True, False, 2), "w2": (16, 96, False, False, True, 2),
               "output": (64, 64, False, True, False, 1)}
TINY_CANDIDATES: list[Cfg] = [(2, 32, 1, 1), (4, 16, 1, 1), (8, 32, 2, 1), (4, 64, 1, 1), (3, 16, 1, 1)]
TINY_COMMITTED: Cfg = (1, 16, 1, 1)


def draw(rows: int, k: int, n: int, norm: bool, res: bool, dev: str) -> tuple[torch.Tensor, ...]:
    x = torch.randn(1, k, device=dev, dtype=torch.bfloat16)
    w = torch.randint(-127, 128, (rows, k), dtype=torch.int8, device=dev)
    s = (torch.rand(rows, device=dev) * 1e-3 + 1e-4).to(torch.bfloat16)
    g = (torch.rand(k, device=dev) + 0.5).to(torch.bfloat16) if norm else None
    r = torch.randn(1, n, device=dev, dtype=torch.bfloat16) if res else None
    return x, w, s, g, r


def check(cfg: Cfg, rows: int, k: int, swiglu: bool, norm: bool, res: bool, dev: str) -> float:
    """Relative error against float64 on fresh inputs; NaN if the output was not fully written."""
    n = rows // 2 if swiglu else rows
    x, w, s, g, r = draw(rows, k, n, norm, res, dev)
    out = torch.full((1, n), float("nan"), device=dev, dtype=torch.bfloat16)
    gemv_fused.launch(x, w, s, g, r, 1e-5, swiglu, False, config=cfg, out=out)
    ref = gemv_fused.reference(x, w, s, g, r, 1e-5, swiglu)
    if out.isnan().any():
        return float("nan")
    return float((out.double() - ref).norm() / ref.norm())


def bench(fn: Callable[[], object], gpu: bool) -> float:
    """Median milliseconds of fn."""
    if gpu:
        from triton.testing import do_bench  # noqa: PLC0415

        return float(do_bench(fn, warmup=10, rep=80, return_mode="median"))
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return sorted(times)[1]


def sweep(shapes: dict, candidates: list[Cfg], committed_of: Callable[[int, int, bool], Cfg], budget_s: float,
          gpu: bool) -> dict[str, dict]:
    dev = "cuda" if gpu else "cpu"
    t_start = time.perf_counter()
    found: dict[str, dict] = {}
    for i, (name, (rows, k, swiglu, norm, res, calls)) in enumerate(shapes.items()):
        deadline = t_start + budget_s * (i + 1) / len(shapes)  # each matrix its share, unused time passed on
        n = rows // 2 if swiglu else rows
        nbytes = rows * k
        sets = [draw(rows, k, n, norm, res, dev) for _ in range(3)]
        committed = committed_of(n, k, swiglu)
        tried: list[Cfg] = [committed] + [c for c in candidates if c != committed]
        rows_out: list[tuple[float, Cfg, float]] = []
        skipped = 0
        for cfg in tried:
            if cfg != committed and time.perf_counter() > deadline:
                skipped += 1
                continue
            if not gemv_fused.fits(n, k, cfg):
                continue
            try:
                err = check(cfg, rows, k, swiglu, norm, res, dev)
            except Exception as exc:  # noqa: BLE001 - a configuration that does not compile is left out
                print(f"{name:7s} {cfg}: failed {type(exc).__name__}: {str(exc)[:160]}", flush=True)
                continue
            if not err < 2e-2:  # NaN included
                print(f"{name:7s} {cfg}: WRONG rel err {err:.1e}: left out", flush=True)
                continue
            j = [0]

            def call(cfg: Cfg = cfg) -> None:
                j[0] = (j[0] + 1) % 3
                x, w, s, g, r = sets[j[0]]
                gemv_fused.launch(x, w, s, g, r, 1e-5, swiglu, False, config=cfg)

            ms = bench(call, gpu)
            rows_out.append((ms, cfg, err))
            print(f"{name:7s} {cfg}: {ms * 1e3:8.2f} us {nbytes / ms / 1e6:8,.0f} GB/s rel err {err:.1e}"
                  f"{'  (committed)' if cfg == committed else ''}", flush=True)
        if skipped:
            print(f"{name:7s} time budget reached: {skipped} candidate(s) not tried", flush=True)
        base = next((r for r in rows_out if r[1] == committed), None)
        best = min(rows_out) if rows_out else None
        found[name] = {"n": n, "k": k, "swiglu": swiglu, "calls": calls, "bytes": nbytes, "committed": committed,
                       "committed_ms": base[0] if base else None, "best": best[1] if best else None,
                       "best_ms": best[0] if best else None, "tried": len(rows_out)}
    return found


def choose(found: dict[str, dict], margin: float) -> dict[str, list[int]]:
    """COSTPERF_GEMV_CONFIGS entries: matrices whose best is faster than committed by more than margin."""
    out: dict[str, list[int]] = {}
    for f in found.values():
        if f["best"] is None or f["best"] == f["committed"]:
            continue
        if f["committed_ms"] is None or f["best_ms"] < f["committed_ms"] * (1 - margin):
            out[f"{f['n']},{f['k']},1,{int(f['swiglu'])}"] = list(f["best"])
    return out


def table(found: dict[str, dict], chosen: dict[str, list[int]]) -> str:
    lines = [f"{'matrix':7s} {'N x K':>13s} {'committed':>18s} {'GB/s':>7s} {'best':>18s} {'GB/s':>7s} "
             f"{'gain':>6s} {'tried':>5s} used"]
    tok_c = tok_b = 0.0
    for name, f in found.items():
        gb = (lambda ms: f"{f['bytes'] / ms / 1e6:7,.0f}" if ms else "      -")  # noqa: E731
        gain = f"{100 * (f['committed_ms'] / f['best_ms'] - 1):+5.1f}%" if f["committed_ms"] and f["best_ms"] else "     -"
        key = f"{f['n']},{f['k']},1,{int(f['swiglu'])}"
        lines.append(f"{name:7s} {f['n']:>6d}x{f['k']:<6d} {str(f['committed']):>18s} {gb(f['committed_ms'])} "
                     f"{str(f['best']):>18s} {gb(f['best_ms'])} {gain} {f['tried']:5d} "
                     f"{'best' if key in chosen else 'committed'}")
        if f["committed_ms"] and f["best_ms"]:
            tok_c += f["calls"] * f["committed_ms"]
            used = f["best_ms"] if key in chosen else f["committed_ms"]
            tok_b += f["calls"] * used
    if tok_c and tok_b:
        total = sum(f["calls"] * f["bytes"] for f in found.values())
        lines.append(f"GEMVs of one token: committed {tok_c * 1e3:,.0f} us ({total / tok_c / 1e6:,.0f} GB/s), "
                     f"with the choice {tok_b * 1e3:,.0f} us ({total / tok_b / 1e6:,.0f} GB/s): GEMV-only bound "
                     f"{1e3 / tok_c:,.0f} -> {1e3 / tok_b:,.0f} tok/s")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--budget-s", type=float, default=75.0)
    p.add_argument("--margin", type=float, default=0.02)
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--convert", choices=sorted(gemv_fused.I8_MODES), default=None,
                   help="how the kernel turns int8 into floats (default: the committed gemv_fused.I8_CONVERT)")
    a = p.parse_args()
    if a.convert:
        os.environ[gemv_fused.I8_ENV] = a.convert
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.pop(gemv_fused.CONFIGS_ENV, None)  # the committed table is the baseline
    torch.manual_seed(0)
    if a.tiny:
        found = sweep(TINY_SHAPES, TINY_CANDIDATES, lambda n, k, sw: TINY_COMMITTED, a.budget_s, gpu=False)
    else:
        print(f"{torch.cuda.get_device_name()} torch {torch.__version__} int8 convert {gemv_fused.i8_convert()}",
              flush=True)
        found = sweep(SHAPES, CANDIDATES, lambda n, k, sw: gemv_fused.config_for(n, k, 1, sw), a.budget_s, gpu=True)
    chosen = choose(found, a.margin)
    (OUT / f"gemv8_configs_{gemv_fused.i8_convert()}.json").write_text(json.dumps(chosen))
    print("\n" + table(found, chosen))
    print(f"COSTPERF_GEMV_CONFIGS={json.dumps(chosen)}", flush=True)


if __name__ == "__main__":
    main()
