"""GPU check of the fused output layer + cross-entropy at GPT-2-124M's shape (C 768, V 50304), under
bf16 autocast as training runs it: loss and gradients against nn.Linear + F.cross_entropy, both
compiled with fullgraph=True; then the time of each one's forward + backward, and the Triton
kernel's alone (GB/s of logits read and written, counting its second pass as a read).

    python benchmarks/loss_check.py [tokens ...]      (CUDA; default 8192 65536)
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from collectors.models import linear_cross_entropy as lce

C, V = 768, 50304


def torch_loss(h: torch.Tensor, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(F.linear(h, w), t)


def fused_loss(h: torch.Tensor, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return lce.linear_cross_entropy(h, w, t)


def step(fn, h: torch.Tensor, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    h.grad = w.grad = None
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = fn(h, w, t)
    loss.backward()
    return loss


def ms(fn, reps: int = 20) -> float:  # noqa: ANN001
    for _ in range(3):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


# (column block, warps, programs per SM: 0 = one a row), tried after the default. Fewer programs in
# flight keep fewer rows (100 KB each) in flight, so the second read may find them in L2 (60 MB)
SWEEP = [(8192, 16, 0), (8192, 4, 2), (8192, 4, 3), (8192, 8, 2), (16384, 8, 2), (4096, 4, 4),
         (8192, 16, 1), (16384, 16, 1)]


def profile(fn, h: torch.Tensor, w: torch.Tensor, t: torch.Tensor) -> None:  # noqa: ANN001
    from torch.profiler import ProfilerActivity, profile as prof_ctx  # noqa: PLC0415

    with prof_ctx(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(3):
            step(fn, h, w, t)
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=15, max_name_column_width=70))


def main() -> None:
    default = (lce.BLOCK, lce.WARPS, lce.PER_SM)
    print(f"torch {torch.__version__}, mm out_dtype float32: {lce._out_dtype_works(torch.device('cuda'))}")  # noqa: SLF001
    compiled = {name: torch.compile(fn, fullgraph=True) for name, fn in (("torch", torch_loss), ("fused", fused_loss))}
    for n in [int(a) for a in sys.argv[1:]] or [8192, 65536]:
        torch.manual_seed(0)
        h = torch.randn(n, C, device="cuda", requires_grad=True)
        w = (torch.randn(V, C, device="cuda") * 0.02).requires_grad_(True)
        t = torch.randint(0, V, (n,), device="cuda")
        out = {}
        for name, fn in compiled.items():
            loss = step(fn, h, w, t)
            out[name] = (loss.detach(), h.grad.clone(), w.grad.clone())
        (l0, gh0, gw0), (l1, gh1, gw1) = out["torch"], out["fused"]
        rel = [float((a - b).norm() / b.norm()) for a, b in ((gh1, gh0), (gw1, gw0))]
        print(f"N {n}: loss torch {float(l0):.6f} fused {float(l1):.6f}; grad rel diff h {rel[0]:.2e} "
              f"W {rel[1]:.2e}; dtypes {l1.dtype} {gh1.dtype} {gw1.dtype}")
        times = {name: ms(lambda f=fn: step(f, h, w, t)) for name, fn in compiled.items()}
        rows = lce.default_chunk_rows(n, V, torch.bfloat16)
        buf = torch.randn(rows, V, device="cuda").to(torch.bfloat16)
        loss_rows = torch.empty(rows, device="cuda")
        k = ms(lambda: lce._rows_kernel(buf, t[:rows], loss_rows, 1.0 / n))  # noqa: SLF001
        gbs = 3 * buf.numel() * 2 / k / 1e6
        print(f"N {n}: fwd+bwd torch {times['torch']:.2f} ms, fused {times['fused']:.2f} ms; kernel on "
              f"{rows} rows {k:.3f} ms ({gbs:,.0f} GB/s as 2 reads + 1 write)", flush=True)
        best = (k, default)
        for cfg in SWEEP:
            lce.BLOCK, lce.WARPS, lce.PER_SM = cfg
            k = ms(lambda: lce._rows_kernel(buf, t[:rows], loss_rows, 1.0 / n))  # noqa: SLF001
            print(f"  kernel BLOCK {cfg[0]} warps {cfg[1]} programs/SM {cfg[2]}: {k:.3f} ms", flush=True)
            best = min(best, (k, cfg))
        lce.BLOCK, lce.WARPS, lce.PER_SM = default
        print(f"BEST {','.join(map(str, best[1]))}")
        if n == max(int(a) for a in sys.argv[1:] or ["65536"]):
            profile(compiled["fused"], h, w, t)


if __name__ == "__main__":
    main()
