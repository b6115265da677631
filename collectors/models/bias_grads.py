"""Two GPT-2 layers whose bias gradient is made in the pass that makes the gradient of their output
(the gradient their backward takes in).

Autograd makes a linear layer's bias gradient as a column sum of the gradient of its output, a
second pass over a tensor the step has just written. In GPT-2-124M at batch 64 x 1024 two of these
are large (an H200, per 116 ms step):

- the MLP's first layer: its output gradient is GELU's backward, 4.0 ms, then read again for the
  bias, 1.2 ms;
- the attention's q/k/v projection: the attention's dq, dk, dv are copied into one [B T, 3C]
  tensor, 1.7 ms, then read again for the bias, 0.9 ms.

Here each is one Triton kernel that writes the gradient and the bias gradient's per-block column
sums (bias_grads_kernel.py):

  linear_gelu(x, W, b)        = gelu(x @ W.T + b), the GELU by a kernel of its own; backward:
                                dh = dy gelu'(h) for h = x @ W.T + b, db, then dx and dW by two
                                matrix products
  qkv_heads(x, W, b, heads)   = q, k, v [B, H, T, D] of x @ W.T + b, views of one product as
                                nanoGPT's split; backward: dh from dq, dk, dv, db, then dx and dW

The forward's matrix products are plain torch (the bias in the product's epilogue, as nn.Linear);
the GELU after the first is a kernel of its own: inductor's GELU is bound by the instructions of
libdevice's tanh, where the same function as a sigmoid takes one exp and one reciprocal. The
kernels are custom ops that torch.compile keeps whole. Without Triton (a CPU) the same math runs in
torch ops, so both paths are tested everywhere.
Bias gradients are summed in float32 (autograd sums the 16-bit gradient, then rounds the sum to 16
bits).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from collectors.models.linear_cross_entropy import TRITON, compute_dtype_for, sum_dtype

# Rows a program sums into one partial row, read BLOCK_R at a time, and the columns it takes (GELU;
# the q/k/v kernel takes one head). A thread's column sums stay in registers until its last row (a
# [BLOCK_R, columns] float32 tile), not summed across threads at every step. On H200s, alone at
# GPT-2-124M's b64 shapes (benchmarks/bias_grads_check.py): GELU, 1024 rows a program in 8 x 256
# blocks, 330 us (3.7 TB/s of its 1.2 GB; the gate as a sigmoid), where 256 rows in 4 x 512 blocks
# took 345-347 us and 342-365 us on three earlier hosts (as a tanh), eight other shapes 333-363 us,
# torch.compile's kernels 389-416 us; q/k/v 64 rows a step 205-213 us (2.9 TB/s), six other shapes
# 200-233 us, torch.compile's 220-225 us.
GELU_ROWS, GELU_BLOCK_R, GELU_BLOCK_C, GELU_WARPS = 1024, 8, 256, 4
# The forward GELU's elements a program, and its warps: 2048 and 4 took 197 us on an H200 (4.1 TB/s
# of its 0.81 GB, 98% of a copy of those bytes; inductor's kernel 243 us), seven other shapes 198-203 us.
GELU_FWD_BLOCK, GELU_FWD_WARPS = 2048, 4
# The forward's GELU by gelu_forward's kernel wherever the backward's kernels run; False leaves it to
# torch (inductor's kernel under torch.compile), for measuring one against the other.
GELU_KERNEL = True
HEADS_ROWS, HEADS_BLOCK_R, HEADS_WARPS = 256, 64, 4


@functools.cache
def _kernels():  # noqa: ANN202 - imported lazily: triton is only installed where CUDA is
    from collectors.models import bias_grads_kernel  # noqa: PLC0415

    return bias_grads_kernel


def _gelu_tanh_grad(u: torch.Tensor) -> torch.Tensor:
    k0, k1 = 0.7978845608028654, 0.044715
    t = torch.tanh(k0 * u * (1.0 + k1 * u * u))
    return 0.5 * (1.0 + t) + 0.5 * u * (1.0 - t * t) * k0 * (1.0 + 3.0 * k1 * u * u)


@torch.library.custom_op("costperf::gelu_tanh", mutates_args=())
def _gelu_forward(h: torch.Tensor, kernel: bool) -> torch.Tensor:
    """GELU (tanh form) of h, elementwise, in h's dtype (float32 math in the kernel)."""
    if not kernel:
        return F.gelu(h, approximate="tanh")
    h = h.contiguous()  # the kernel reads and writes n elements in a row
    y = torch.empty_like(h)
    n = h.numel()
    _kernels().gelu_forward[(-(-n // GELU_FWD_BLOCK),)](h, y, n, BLOCK=GELU_FWD_BLOCK, num_warps=GELU_FWD_WARPS)
    return y


@_gelu_forward.register_fake
def _(h: torch.Tensor, kernel: bool) -> torch.Tensor:
    return torch.empty_like(h)


@torch.library.custom_op("costperf::gelu_backward_bias_grad", mutates_args=())
def _gelu_backward(dy: torch.Tensor, h: torch.Tensor, kernel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(dy * gelu'(h), its column sums in float32 or wider) for dy, h [N, F]."""
    n, f = h.shape
    if not kernel:
        g = dy.to(sum_dtype(dy.dtype)) * _gelu_tanh_grad(h.to(sum_dtype(h.dtype)))
        return g.to(dy.dtype), g.sum(0)
    dh = torch.empty_like(dy)
    blocks = (-(-n // GELU_ROWS), -(-f // GELU_BLOCK_C))
    part = torch.empty((blocks[0], f), dtype=torch.float32, device=dy.device)
    _kernels().gelu_backward[blocks](dy, h, dh, part, n, f, ROWS=GELU_ROWS, BLOCK_R=GELU_BLOCK_R,
                                     BLOCK_C=GELU_BLOCK_C, num_warps=GELU_WARPS)
    return dh, part.sum(0)


@_gelu_backward.register_fake
def _(dy: torch.Tensor, h: torch.Tensor, kernel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty_like(dy), dy.new_empty(h.shape[1], dtype=sum_dtype(dy.dtype))


@torch.library.custom_op("costperf::heads_grad_pack", mutates_args=())
def _heads_grad_pack(dq: torch.Tensor, dk: torch.Tensor, dv: torch.Tensor,
                     kernel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(dq, dk, dv [B, H, T, D] side by side as [B T, 3 H D], its column sums in float32 or wider)."""
    bsz, heads, seq, dim = dq.shape
    if not kernel:
        packed = torch.cat([z.transpose(1, 2).reshape(bsz * seq, heads * dim) for z in (dq, dk, dv)], dim=1)
        return packed, packed.to(sum_dtype(packed.dtype)).sum(0)
    n, cols = bsz * seq, 3 * heads * dim
    out = torch.empty((n, cols), dtype=dq.dtype, device=dq.device)
    part = torch.empty((-(-n // HEADS_ROWS), cols), dtype=torch.float32, device=dq.device)
    for i, z in enumerate((dq, dk, dv)):
        z = z if z.stride(3) == 1 else z.contiguous()
        _kernels().heads_into_columns[(part.shape[0], heads)](
            z, out, part, n, seq, z.stride(0), z.stride(1), z.stride(2), cols, i * heads * dim, D=dim,
            BLOCK_D=next_pow2(dim), ROWS=HEADS_ROWS, BLOCK_R=HEADS_BLOCK_R, num_warps=HEADS_WARPS)
    return out, part.sum(0)


@_heads_grad_pack.register_fake
def _(dq: torch.Tensor, dk: torch.Tensor, dv: torch.Tensor, kernel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    bsz, heads, seq, dim = dq.shape
    return dq.new_empty((bsz * seq, 3 * heads * dim)), dq.new_empty(3 * heads * dim, dtype=sum_dtype(dq.dtype))


def next_pow2(n: int) -> int:
    """The smallest power of two >= n (a Triton block's length over n columns)."""
    return 1 << max(0, n - 1).bit_length()


class _LinearGelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,  # noqa: ANN001
                kernel: bool) -> torch.Tensor:
        bsz, seq, c = x.shape
        x2 = x.view(bsz * seq, c)
        h = torch.addmm(bias.to(x.dtype), x2, weight.t())
        ctx.save_for_backward(x2, weight, h)
        ctx.kernel, ctx.bias_dtype, ctx.shape = kernel, bias.dtype, (bsz, seq, c)
        y = _gelu_forward(h, kernel) if GELU_KERNEL else F.gelu(h, approximate="tanh")
        return y.view(bsz, seq, -1)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):  # noqa: ANN001, ANN205
        x2, weight, h = ctx.saved_tensors
        dh, db = _gelu_backward(dy.contiguous().view(h.shape), h, ctx.kernel)
        return dh.mm(weight).view(ctx.shape), dh.t().mm(x2), db.to(ctx.bias_dtype), None


class _QKVHeads(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, heads: int,  # noqa: ANN001
                kernel: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        bsz, seq, c = x.shape
        x2 = x.view(bsz * seq, c)
        qkv = torch.addmm(bias.to(x.dtype), x2, weight.t())
        ctx.save_for_backward(x2, weight)
        ctx.kernel, ctx.bias_dtype, ctx.shape = kernel, bias.dtype, (bsz, seq, c)
        split = qkv.view(bsz, seq, 3, heads, weight.shape[0] // (3 * heads))
        return tuple(split[:, :, i].transpose(1, 2) for i in range(3))

    @staticmethod
    def backward(ctx, dq: torch.Tensor, dk: torch.Tensor, dv: torch.Tensor):  # noqa: ANN001, ANN205
        x2, weight = ctx.saved_tensors
        dqkv, db = _heads_grad_pack(dq, dk, dv, ctx.kernel)
        return (dqkv.mm(weight).view(ctx.shape), dqkv.t().mm(x2), db.to(ctx.bias_dtype), None, None)


def _kernel_here(t: torch.Tensor, kernel: bool | None) -> bool:
    return (t.is_cuda and TRITON) if kernel is None else kernel


def linear_gelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, kernel: bool | None = None) -> torch.Tensor:
    """GELU (tanh form) of x @ weight.T + bias (x [B, T, C], weight [F, C], bias [F]), in the dtype
    nn.Linear would use (autocast's where it is on); the GELU is one kernel of its own, and the
    backward makes the product's gradient and the bias gradient in one pass. kernel: the Triton
    kernels (default: where x is on CUDA and Triton is installed), else the same math in torch ops."""
    if x.dim() != 3 or weight.dim() != 2 or weight.shape[1] != x.shape[2] or bias.shape != (weight.shape[0],):
        raise ValueError(f"linear_gelu: expected x [B, T, C], weight [F, C] and bias [F]; got x {list(x.shape)}, "
                         f"weight {list(weight.shape)}, bias {list(bias.shape)}")
    dtype = compute_dtype_for(x, weight)
    return _LinearGelu.apply(x.to(dtype).contiguous(), weight.to(dtype), bias, _kernel_here(x, kernel))


def qkv_heads(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, heads: int,
              kernel: bool | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q, k, v [B, heads, T, D] of x @ weight.T + bias (x [B, T, C], weight [3 heads D, C], bias
    [3 heads D]), in the dtype nn.Linear would use (autocast's where it is on); the backward makes
    the packed gradient and the bias gradient in one pass."""
    if x.dim() != 3 or weight.dim() != 2 or weight.shape[1] != x.shape[2] or weight.shape[0] % (3 * heads) \
            or bias.shape != (weight.shape[0],):
        raise ValueError(f"qkv_heads: expected x [B, T, C], weight [3 heads D, C] and bias [3 heads D] with "
                         f"{heads} heads; got x {list(x.shape)}, weight {list(weight.shape)}, bias {list(bias.shape)}")
    dtype = compute_dtype_for(x, weight)
    return _QKVHeads.apply(x.to(dtype).contiguous(), weight.to(dtype), bias, heads, _kernel_here(x, kernel))
