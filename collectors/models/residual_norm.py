"""A residual add, an output projection's bias and the LayerNorm after them as one function, whose
backward makes the residual gradient, its 16-bit copy and three column sums in one pass.

In GPT-2 each block's output projections (the attention's and the MLP's) are added to the residual
stream, and the next LayerNorm reads the sum. Autograd's backward of those three steps, at
GPT-2-124M batch 64 x 1024 on an H200, per 116 ms step, is three passes over [65536, 768] tensors
for each of the 24 sums:

- LayerNorm's backward, plus the residual gradient from above: 190 us a call (inductor's kernel,
  which also sums the norm's weight and bias gradients);
- that float32 gradient copied to bf16 for the projection's products: 68 us;
- the projection's bias gradient, a column sum of that copy: 31 us.

Here one Triton kernel (residual_norm_kernel.py) reads the norm's input, its output gradient and the
residual gradient once, and writes the float32 gradient, its copy and per-block column sums of the
bias, weight and norm-bias gradients (in the step on H200s: 204-207 us a call, where the three
passes took 289 us):

  residual_layer_norm(x, a, bias, norm)  = s, norm(s) for s = x + a + bias, norm(s) in a's dtype
                                           (the products' dtype that reads it)

The forward is plain torch, which torch.compile fuses with the LayerNorm (the bias moves from the
projection's epilogue into the sum; in GPT-2-124M inductor stores 8 of the 24 sums by kernels of their
own, benchmarks/RESULTS.md); the backward is a custom op that it keeps whole. Without Triton (a CPU) the
same math runs in torch ops. Sums are float32 (or float64 for float64 inputs).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from collectors.models.bias_grads import next_pow2
from collectors.models.linear_cross_entropy import TRITON, sum_dtype

# Rows a program takes, BLOCK_R whole rows at a time (columns padded to a power of two), its warps, and
# the rows' loads in flight (STAGES - 1 ahead). On two H200s, alone at GPT-2-124M's b64 shapes
# (benchmarks/residual_norm_check.py, 0.81 GB): 224-232 us (3.5-3.6 TB/s) against 315-318 us for
# torch.compile's kernels of the same math and 301-310 us without loading ahead; with 2 or 8 warps
# 222-226 us; 24 other shapes 230-396 us.
ROWS, BLOCK_R, WARPS, STAGES = 128, 1, 4, 3


@functools.cache
def _kernel():  # noqa: ANN202 - imported lazily: triton is only installed where CUDA is
    from collectors.models.residual_norm_kernel import add_layer_norm_backward  # noqa: PLC0415

    return add_layer_norm_backward


def backward_math(gs: torch.Tensor | None, gh: torch.Tensor, s: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor,
                  weight: torch.Tensor, copy_dtype: torch.dtype,
                  copy: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The backward op's math in torch ops (its path without Triton)."""
    acc = sum_dtype(s.dtype)
    xhat = (s.to(acc) - mean.to(acc)[:, None]) * rstd.to(acc)[:, None]
    ghw = gh.to(acc)
    wdy = ghw * weight.to(acc)
    g = (wdy - xhat * (xhat * wdy).mean(1, keepdim=True) - wdy.mean(1, keepdim=True)) * rstd.to(acc)[:, None]
    if gs is not None:
        g = g + gs.to(acc)
    sums = torch.stack([g.sum(0), (ghw * xhat).sum(0), ghw.sum(0)])
    out = g.to(s.dtype)
    return out, (g.to(copy_dtype) if copy else out.new_empty(0)), sums


@torch.library.custom_op("costperf::add_layer_norm_backward", mutates_args=())
def _backward(gs: torch.Tensor | None, gh: torch.Tensor, s: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor,
              weight: torch.Tensor, copy_dtype: torch.dtype, copy: bool,
              kernel: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(g, g in copy_dtype or an empty tensor if not `copy`, [3, C] sums of g, gh xhat and gh) for
    s [N, C], gh [N, C] the gradient of LayerNorm(s) (weight; mean and rstd [N]), gs [N, C] or None
    the gradient of s's other uses."""
    n, c = s.shape
    if not kernel:
        return backward_math(gs, gh, s, mean, rstd, weight, copy_dtype, copy)
    g = torch.empty_like(s)
    copied = torch.empty(s.shape if copy else (0,), dtype=copy_dtype, device=s.device)
    part = torch.empty((-(-n // ROWS), 3, c), dtype=torch.float32, device=s.device)
    _kernel()[(part.shape[0],)](gs if gs is not None else s, gh, s, mean, rstd, weight, g, copied if copy else g,
                                part, n, c, HAS_GS=gs is not None, COPY=copy, ROWS=ROWS, BLOCK_R=BLOCK_R,
                                BLOCK_C=next_pow2(c), STAGES=STAGES, num_warps=WARPS)
    return g, copied, part.sum(0)


@_backward.register_fake
def _(gs: torch.Tensor | None, gh: torch.Tensor, s: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor,
      weight: torch.Tensor, copy_dtype: torch.dtype, copy: bool,
      kernel: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.empty_like(s), s.new_empty(s.shape if copy else (0,), dtype=copy_dtype),
            s.new_empty((3, s.shape[1]), dtype=sum_dtype(s.dtype)))


class _ResidualLayerNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, a: torch.Tensor, bias: torch.Tensor, weight: torch.Tensor,  # noqa: ANN001
                norm_bias: torch.Tensor, eps: float, keep_sum: bool, kernel: bool):  # noqa: ANN205
        s = x + a + bias
        h, mean, rstd = torch.native_layer_norm(s, (s.shape[-1],), weight, norm_bias, eps)
        ctx.save_for_backward(s, mean, rstd, weight)
        ctx.kernel, ctx.a_dtype, ctx.x_dtype, ctx.keep_sum = kernel, a.dtype, x.dtype, keep_sum
        ctx.dtypes = (bias.dtype, weight.dtype, norm_bias.dtype)
        h = h.to(a.dtype)
        return (s, h) if keep_sum else h

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):  # noqa: ANN001, ANN205
        s, mean, rstd, weight = ctx.saved_tensors
        gs, gh = grads if ctx.keep_sum else (None, grads[0])
        c = s.shape[-1]
        copy = ctx.a_dtype != s.dtype
        g, g_a, sums = _backward(None if gs is None else gs.contiguous().view(-1, c), gh.contiguous().view(-1, c),
                                 s.view(-1, c), mean.view(-1), rstd.view(-1), weight, ctx.a_dtype, copy, ctx.kernel)
        g = g.view(s.shape)
        g_a = g_a.view(s.shape) if copy else g
        db, dw, dnb = (t.to(dt) for t, dt in zip(sums, ctx.dtypes, strict=True))
        return g.to(ctx.x_dtype), g_a, db, dw, dnb, None, None, None


def residual_layer_norm(x: torch.Tensor, a: torch.Tensor, bias: torch.Tensor, norm: nn.LayerNorm,
                        keep_sum: bool = True, kernel: bool | None = None):  # noqa: ANN201
    """(s, norm(s)) for s = x + a + bias (x the residual stream, a a projection's output without its
    bias, bias [C]), norm(s) in a's dtype; only norm(s) where `keep_sum` is False (nothing else reads
    s). Its backward makes s's gradient, a's in a's dtype, and the bias's, the norm's weight's and
    bias's gradients in one pass. kernel: the Triton kernel (default: where x is on CUDA and Triton
    is installed), else the same math in torch ops."""
    c = x.shape[-1]
    if a.shape != x.shape or bias.shape != (c,) or tuple(norm.normalized_shape) != (c,) \
            or norm.weight is None or norm.bias is None:
        raise ValueError(f"residual_layer_norm: expected x and a [..., C], bias [C] and a LayerNorm over C "
                         f"with weight and bias; got x {list(x.shape)}, a {list(a.shape)}, bias {list(bias.shape)}, "
                         f"norm over {list(norm.normalized_shape)}"
                         f"{'' if norm.weight is not None and norm.bias is not None else ' without weight or bias'}")
    kernel = (x.is_cuda and TRITON) if kernel is None else kernel
    return _ResidualLayerNorm.apply(x, a, bias, norm.weight, norm.bias, norm.eps, keep_sum, kernel)
