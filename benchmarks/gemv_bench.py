"""Batch-1 matrix-vector products at Llama-3-8B shapes: cuBLAS (F.linear) against the Triton GEMV,
bf16 and int8 weights, plus the plain dequantise-then-linear form under torch.compile.

Prints effective read bandwidth (weight bytes / time) per shape; run on a CUDA machine:
    python benchmarks/gemv_bench.py
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from triton.testing import do_bench

from collectors.models.int8 import gemv, quantize_per_channel

SHAPES = {"wqkv": (6144, 4096), "wo": (4096, 4096), "w13": (28672, 4096), "w2": (4096, 14336),
          "output": (128256, 4096)}


def main() -> None:
    dev = "cuda"
    x = torch.randn(1, 4096, device=dev, dtype=torch.bfloat16)
    plain = torch.compile(lambda x, w, s: F.linear(x, w.to(x.dtype)) * s)
    print(f"{'shape':8s} {'cuBLAS bf16':>12s} {'triton bf16':>12s} {'triton int8':>12s} {'compiled deq':>12s}  GB/s")
    for name, (n, k) in SHAPES.items():
        xs = torch.randn(1, k, device=dev, dtype=torch.bfloat16)
        ws = [torch.randn(n, k, device=dev, dtype=torch.bfloat16) for _ in range(3)]  # rotate: beat the L2
        qs = [quantize_per_channel(w) for w in ws]
        ref = F.linear(xs.float(), ws[0].float())
        got = gemv(xs, ws[0], None).float()
        err16 = float((got - ref).norm() / ref.norm())
        deq = F.linear(xs.float(), qs[0][0].float() * qs[0][1].float()[:, None])
        err8 = float((gemv(xs, qs[0][0], qs[0][1]).float() - deq).norm() / deq.norm())
        i = [0]

        def rot() -> int:
            i[0] = (i[0] + 1) % 3
            return i[0]

        t_cublas = do_bench(lambda: F.linear(xs, ws[rot()]), return_mode="median")
        t_tri16 = do_bench(lambda: gemv(xs, ws[rot()], None), return_mode="median")
        t_tri8 = do_bench(lambda: (lambda q: gemv(xs, q[0], q[1]))(qs[rot()]), return_mode="median")
        t_plain = do_bench(lambda: (lambda q: plain(xs, q[0], q[1]))(qs[rot()]), return_mode="median")
        b16, b8 = n * k * 2, n * k
        print(f"{name:8s} {b16 / t_cublas / 1e6:12.0f} {b16 / t_tri16 / 1e6:12.0f} {b8 / t_tri8 / 1e6:12.0f} "
              f"{b8 / t_plain / 1e6:12.0f}  (us: {1e3 * t_cublas:.1f} {1e3 * t_tri16:.1f} {1e3 * t_tri8:.1f} "
              f"{1e3 * t_plain:.1f}; rel err bf16 {err16:.1e} int8 {err8:.1e})")
    del x


if __name__ == "__main__":
    main()
