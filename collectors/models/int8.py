"""Int8 weight-only quantisation (gpt-fast's WeightOnlyInt8Linear), with a batch-1 GEMV kernel.

Weights are int8 with one 16-bit scale per output channel; activations stay 16-bit. The plain
form, `F.linear(x, w.to(x.dtype)) * scales`, is what gpt-fast and torchao's int8 weight-only
config run: it relies on the compiler to fuse the conversion into the matrix product. On an H100
that reached only 1.08x bf16 decode (DESIGN.md), because at batch 1 the fused product does not
stream the int8 weights at full memory bandwidth. So on CUDA, for one row of activations, a small
Triton matrix-vector kernel reads the int8 weights directly; every other case (CPU, MPS, batch > 1,
prefill) uses the plain form.
"""

from __future__ import annotations

import functools
import importlib.util

import torch
import torch.nn.functional as F
from torch import nn


def quantize_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8: w ~= q * scale (scale in the weight's dtype)."""
    w = weight.float()
    scale = w.abs().amax(dim=1).clamp(min=1e-8) / 127.0
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scale.to(weight.dtype)


@functools.cache
def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None and torch.cuda.is_available()


# (BLOCK_N, BLOCK_K, warps, stages). Few rows per program and long K blocks give the many
# independent wide loads a memory-bound GEMV needs. Chosen by Triton's autotuner out of ten
# configurations at Llama-3-8B's shapes on an H100 (benchmarks/tune_exp.py): int8 picked the first
# for every matrix but the 128256-row output layer, which picked the second. Fixed here rather than
# autotuned in every run, because autotuning compiles each candidate inside the suite's time budget.
CONFIGS = [(2, 2048, 4, 3), (4, 1024, 4, 3)]


def config_for(n: int, k: int) -> tuple[int, int, int, int]:
    return CONFIGS[1] if n > 65536 or k % CONFIGS[0][1] else CONFIGS[0]


@functools.cache
def _kernel():  # noqa: ANN202 - built lazily: importing triton needs a GPU-capable install
    import triton  # noqa: PLC0415
    import triton.language as tl  # noqa: PLC0415

    @triton.jit
    def gemv(x_ptr, w_ptr, s_ptr, y_ptr, N, K, HAS_SCALE: tl.constexpr, BLOCK_N: tl.constexpr,
             BLOCK_K: tl.constexpr):
        pid = tl.program_id(0)
        rows = pid * BLOCK_N + tl.arange(0, BLOCK_N)
        cols = tl.arange(0, BLOCK_K)
        acc = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
        w_ptrs = w_ptr + rows[:, None].to(tl.int64) * K + cols[None, :]
        for k0 in range(0, K, BLOCK_K):
            x = tl.load(x_ptr + k0 + cols).to(tl.float32)
            # weights are read exactly once: keep them out of L2 so x and the next layer stay there
            w = tl.load(w_ptrs + k0, eviction_policy="evict_first").to(tl.float32)
            acc += w * x[None, :]
        out = tl.sum(acc, axis=1)
        if HAS_SCALE:
            out = out * tl.load(s_ptr + rows).to(tl.float32)
        tl.store(y_ptr + rows, out.to(y_ptr.dtype.element_ty))

    return gemv


def _gemv_fits(n: int, k: int) -> bool:
    # the kernel has no masks: every configuration's blocks must tile the matrix exactly
    bn, bk, _, _ = config_for(n, k)
    return n % bn == 0 and k % bk == 0


@torch.library.custom_op("costperf::gemv", mutates_args=())
def gemv(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor | None) -> torch.Tensor:
    """y[1, N] = x[1, K] @ weight[N, K].T (* scales[N]); weight int8 or 16-bit."""
    n, k = weight.shape
    y = torch.empty((1, n), dtype=x.dtype, device=x.device)
    bn, bk, warps, stages = config_for(n, k)
    _kernel()[(n // bn,)](x, weight, scales if scales is not None else x, y, n, k, HAS_SCALE=scales is not None,
                          BLOCK_N=bn, BLOCK_K=bk, num_warps=warps, num_stages=stages)
    return y


@gemv.register_fake
def _(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor | None) -> torch.Tensor:
    return x.new_empty((1, weight.shape[0]))


class Int8Linear(nn.Module):
    """y = x @ dequant(w).T with w int8 [out, in] and per-row scales (16-bit)."""

    def __init__(self, weight_int8: torch.Tensor, scales: torch.Tensor, use_kernel: bool = True):
        super().__init__()
        self.register_buffer("weight", weight_int8)
        self.register_buffer("scales", scales)
        n, k = weight_int8.shape
        self.use_kernel = use_kernel and weight_int8.is_cuda and triton_available() and _gemv_fits(n, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_kernel and x.numel() == x.shape[-1]:
            return gemv(x.reshape(1, -1).contiguous(), self.weight, self.scales).view(*x.shape[:-1], -1)
        return F.linear(x, self.weight.to(x.dtype)) * self.scales


class GemvLinear(nn.Module):
    """A 16-bit linear layer that uses the same GEMV kernel at batch 1 (compared against cuBLAS)."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = weight
        n, k = weight.shape
        self.use_kernel = weight.is_cuda and triton_available() and _gemv_fits(n, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_kernel and x.numel() == x.shape[-1]:
            return gemv(x.reshape(1, -1).contiguous(), self.weight, None).view(*x.shape[:-1], -1)
        return F.linear(x, self.weight)


def _swap_linears(model: nn.Module, make: "callable") -> int:  # type: ignore[valid-type]
    count = 0
    for name, child in list(model.named_children()):
        if isinstance(child, (nn.Linear, GemvLinear)):
            setattr(model, name, make(child))
            count += 1
        else:
            count += _swap_linears(child, make)
    return count


def quantize_int8(model: nn.Module, use_kernel: bool = True, random: bool = True) -> int:
    """Replace every nn.Linear by an Int8Linear in place; returns how many were replaced.

    With `random`, int8 weights are drawn directly (the weights are random anyway) instead of
    quantising, which saves a float32 copy of the largest matrix."""

    def make(lin: nn.Linear) -> Int8Linear:
        w = lin.weight
        if random:
            q = torch.randint(-127, 128, w.shape, dtype=torch.int8, device=w.device)
            s = torch.full((w.shape[0],), 0.02 / 64, dtype=w.dtype, device=w.device)
        else:
            q, s = quantize_per_channel(w.detach())
        return Int8Linear(q, s, use_kernel=use_kernel)

    with torch.no_grad():
        return _swap_linears(model, make)


def use_gemv_kernel(model: nn.Module) -> int:
    """Route 16-bit linear layers through the Triton GEMV at batch 1 (CUDA only)."""
    count = 0
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            setattr(model, name, GemvLinear(child.weight))
            count += 1
        else:
            count += use_gemv_kernel(child)
    return count
