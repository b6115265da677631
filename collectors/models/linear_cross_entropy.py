"""The output layer and the cross-entropy loss in one pass over the logits (after Liger-Kernel's
fused linear cross entropy).

Unfused, GPT-2's loss reads its [tokens, vocab] logits twice and writes their gradient once (6.6 GB
of bf16 at batch 64 x 1024 tokens, a vocabulary of 50304): 8.7 ms of a 121 ms step on an H200.
Here, per chunk of rows (logits of at most CHUNK_BYTES, so the full matrix never exists):

  logits = h @ W.T                       cuBLAS, in the compute dtype (bf16 under CUDA autocast)
  loss, logits := softmax - onehot       one Triton kernel per chunk, the gradient written in place
  grad_h = g @ W;  grad_W += g.T @ h     cuBLAS, accumulated in float32

All gradients are made in the forward; the backward only scales them by the incoming gradient (a
scalar). The softmax and loss math is float32, as autocast runs cross_entropy. Without Triton (a
CPU) the same per-row math runs in torch ops, chunk by chunk, so it is tested everywhere.

ignore_index is not supported: every target must be in [0, V). On a CPU a target outside raises;
in the Triton kernel it makes the loss NaN (a host-side check would synchronise every step).
"""

from __future__ import annotations

import functools
import importlib.util
import os

import torch

CHUNK_BYTES = 1 << 30
# The kernel's column block and warps a row. On an H200, one 10672 x 50304 bf16 chunk (1.07 GB):
# 2048/4 0.80 ms, 8192/16 0.81, 4096/8 0.90; a whole row in one block (65536, one read) 0.88 with
# 16 warps and 0.91 with 32 (a row is more than a program's registers hold), so rows are read twice
# (benchmarks/loss_check.py).
BLOCK, WARPS = 2048, 4
# Programs per multiprocessor, each taking rows in turn (0: one program a row). Fewer rows in flight
# should let the second read hit L2, but on an H200 every such grid was slower: 1.0-1.4 ms a chunk
# (8192-16384 columns, 4-16 warps, 1-4 programs per SM) against 0.80-0.84 with one program a row.
PER_SM = 0
BLOCK_ENV = "COSTPERF_LCE_BLOCK"  # "BLOCK,WARPS[,PER_SM]" over the three above, to try shapes on a GPU
TRITON = importlib.util.find_spec("triton") is not None


@functools.cache
def _parse_block(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) not in (2, 3) or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"{BLOCK_ENV}={text!r}: expected BLOCK,WARPS[,PER_SM] (BLOCK and WARPS powers of "
                         "two, PER_SM programs per multiprocessor or 0), e.g. 4096,8 or 8192,4,3")
    block, warps, per_sm = (*(int(p) for p in parts), 0)[:3]
    if block & (block - 1) or warps & (warps - 1) or not block or not warps:
        raise ValueError(f"{BLOCK_ENV}={text!r}: BLOCK and WARPS must be powers of two")
    return block, warps, per_sm


def block_config() -> tuple[int, int, int]:
    """(BLOCK, WARPS, PER_SM) of the kernel: COSTPERF_LCE_BLOCK where set, else the module's."""
    given = os.environ.get(BLOCK_ENV, "").strip()
    return _parse_block(given) if given else (BLOCK, WARPS, PER_SM)


def default_chunk_rows(n_rows: int, vocab: int, dtype: torch.dtype) -> int:
    return max(1, min(n_rows, CHUNK_BYTES // (vocab * dtype.itemsize)))


@functools.cache
def _kernel():  # noqa: ANN202 - imported lazily: triton is only installed where CUDA is
    from collectors.models.linear_cross_entropy_kernel import lce_rows  # noqa: PLC0415

    return lce_rows


def _rows_kernel(logits: torch.Tensor, targets: torch.Tensor, loss: torch.Tensor, scale: float) -> None:
    """Triton: loss[r] and logits[r] := (softmax - onehot) * scale, in place."""
    rows, vocab = logits.shape
    block, warps, per_sm = block_config()
    grid = rows
    if per_sm:  # (one multiprocessor off CUDA: Triton's interpreter)
        sms = torch.cuda.get_device_properties(logits.device).multi_processor_count if logits.is_cuda else 1
        grid = max(1, min(rows, per_sm * sms))
    _kernel()[(grid,)](logits, targets, loss, scale, rows, V=vocab, BLOCK=block, STEPS=-(-rows // grid),
                       num_warps=warps)


def _rows_torch(logits: torch.Tensor, targets: torch.Tensor, loss: torch.Tensor, scale: float) -> None:
    """The kernel's math in torch ops (float32 at least, as the kernel)."""
    x = logits.to(torch.promote_types(logits.dtype, torch.float32))
    lse = torch.logsumexp(x, dim=1)
    loss.copy_(lse - x.gather(1, targets[:, None]).squeeze(1))
    g = torch.exp(x - lse[:, None])
    g[torch.arange(len(targets), device=g.device), targets] -= 1.0
    logits.copy_(g * scale)


@functools.cache
def _out_dtype_works(device: torch.device) -> bool:
    """torch.mm(..., out_dtype=float32) for 16-bit inputs exists on CUDA in recent torch only."""
    a = torch.zeros(16, 16, dtype=torch.bfloat16, device=device)
    out = torch.zeros(16, 16, device=device)
    try:
        torch.addmm(out, a, a, out_dtype=torch.float32, out=out)
        torch.mm(a, a, out_dtype=torch.float32, out=out)
    except (RuntimeError, TypeError, NotImplementedError):
        return False
    return True


def _mm_into(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, accumulate: bool) -> None:
    """out (+)= a @ b with out's dtype as the accumulator: float32 grads from 16-bit products."""
    if a.dtype == out.dtype:
        if accumulate:
            out.addmm_(a, b)
        else:
            torch.mm(a, b, out=out)
    elif out.is_cuda and _out_dtype_works(out.device):
        if accumulate:
            torch.addmm(out, a, b, out_dtype=out.dtype, out=out)
        else:
            torch.mm(a, b, out_dtype=out.dtype, out=out)
    else:  # the product rounded to a's dtype first, as autocast's own linear backward does
        p = torch.mm(a, b)
        if accumulate:
            out.add_(p)
        else:
            out.copy_(p)


def _check_targets(targets: torch.Tensor, vocab: int) -> None:
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= vocab):
        raise ValueError(f"linear_cross_entropy: targets must be in [0, {vocab}) (ignore_index is not "
                         f"supported); got values from {int(targets.min())} to {int(targets.max())}")


def sum_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype sums of `dtype` values are made in: float32, or float64 for float64 checks."""
    return torch.promote_types(dtype, torch.float32)


@torch.library.custom_op("costperf::linear_cross_entropy", mutates_args=())
def _lce(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, compute_dtype: torch.dtype,
         chunk_rows: int, kernel: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean loss in float32 or wider, grad of h, grad of weight) of cross_entropy(h @ weight.T, targets)."""
    n, _ = h.shape
    vocab = weight.shape[0]
    if not kernel:
        _check_targets(targets, vocab)
    # autocast may still be on here; every product's dtype is chosen below instead
    with torch.autocast(h.device.type, enabled=False):
        hc = h.to(compute_dtype)
        wc = weight.to(compute_dtype)
        grad_h = torch.empty_like(h)
        grad_w = torch.zeros_like(weight) if n == 0 else torch.empty_like(weight)
        row_loss = torch.empty(n, dtype=sum_dtype(compute_dtype), device=h.device)
        buf = torch.empty((min(chunk_rows, n), vocab), dtype=compute_dtype, device=h.device)
        rows_fn = _rows_kernel if kernel else _rows_torch
        for i, start in enumerate(range(0, n, chunk_rows)):
            stop = min(start + chunk_rows, n)
            g = buf[: stop - start]
            torch.mm(hc[start:stop], wc.T, out=g)
            rows_fn(g, targets[start:stop], row_loss[start:stop], 1.0 / n)
            _mm_into(grad_h[start:stop], g, wc, accumulate=False)
            _mm_into(grad_w, g.T, hc[start:stop], accumulate=i > 0)
        loss = row_loss.sum() / n if n else row_loss.sum() * float("nan")
    return loss, grad_h, grad_w


@_lce.register_fake
def _(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, compute_dtype: torch.dtype,
      chunk_rows: int, kernel: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return h.new_empty((), dtype=sum_dtype(compute_dtype)), torch.empty_like(h), torch.empty_like(weight)


def _setup_context(ctx, inputs, output) -> None:  # noqa: ANN001 - torch.library's signature
    ctx.save_for_backward(output[1], output[2])


def _backward(ctx, grad_loss: torch.Tensor, _grad_h: torch.Tensor, _grad_w: torch.Tensor):  # noqa: ANN001, ANN202
    grad_h, grad_w = ctx.saved_tensors
    return grad_h * grad_loss.to(grad_h.dtype), grad_w * grad_loss.to(grad_w.dtype), None, None, None, None


_lce.register_autograd(_backward, setup_context=_setup_context)


def compute_dtype_for(h: torch.Tensor, weight: torch.Tensor) -> torch.dtype:
    """The products' dtype a plain nn.Linear would use here: autocast's, else the inputs' own."""
    device = h.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return torch.promote_types(h.dtype, weight.dtype)


def linear_cross_entropy(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, *,
                         compute_dtype: torch.dtype | None = None, chunk_rows: int | None = None,
                         kernel: bool | None = None) -> torch.Tensor:
    """Mean over rows of cross_entropy(h @ weight.T, targets), without the full logits.

    h [N, C] (any float dtype), weight [V, C], targets [N] int64 in [0, V): ignore_index is not
    supported. compute_dtype: the products' dtype (default: autocast's where it is on, as nn.Linear).
    chunk_rows: rows per chunk (default: logits of at most CHUNK_BYTES). kernel: the Triton kernel
    (default: where h is on CUDA and Triton is installed), else the same math in torch ops.
    Differentiable with respect to h and weight; torch.compile keeps it whole (a custom op).
    """
    if h.dim() != 2 or weight.dim() != 2 or h.shape[1] != weight.shape[1]:
        raise ValueError(f"linear_cross_entropy: expected h [N, C] and weight [V, C]; got h {list(h.shape)} "
                         f"and weight {list(weight.shape)}")
    if targets.dtype != torch.int64 or targets.dim() != 1 or targets.shape[0] != h.shape[0]:
        raise ValueError(f"linear_cross_entropy: expected targets [N={h.shape[0]}] of int64; got "
                         f"{list(targets.shape)} of {targets.dtype}")
    if not h.dtype.is_floating_point or not weight.dtype.is_floating_point:
        raise ValueError(f"linear_cross_entropy: h and weight must be floating point; got {h.dtype}, {weight.dtype}")
    dtype = compute_dtype or compute_dtype_for(h, weight)
    rows = chunk_rows or default_chunk_rows(h.shape[0], weight.shape[0], dtype)
    if rows < 1:
        raise ValueError(f"linear_cross_entropy: chunk_rows must be at least 1; got {rows}")
    use_kernel = (h.is_cuda and TRITON) if kernel is None else kernel
    loss, _, _ = _lce(h.contiguous(), weight.contiguous(), targets.contiguous(), dtype, rows, use_kernel)
    return loss
