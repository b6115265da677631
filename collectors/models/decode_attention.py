"""Batch-1 decode attention in one kernel (Triton, CUDA): RoPE, the KV-cache write and
grouped-query attention over the cache, split over slices of positions (flash-decoding).

What inductor makes of the same step at batch 1 is six or so small kernels per layer (rope, two
cache writes, two matrix products through cuBLAS, a softmax): on an H200, about 11 us per layer of
a 131 us layer, mostly launch and ramp time. Here one kernel, one program per (key/value head,
slice of 64 positions), reads only the positions written so far and leaves per-slice partial
results (running max, sum and weighted values); `combine_kernel` merges them (`combine` is the
same in torch ops).
"""

from __future__ import annotations

import functools
import os

import torch

SPLIT = 64  # positions per program
# Merge the partials with one Triton kernel (attn_combine) rather than inductor's two; measured on
# an H200, inductor's pair took 2.9 us a layer. COSTPERF_ATTN_COMBINE=torch selects the torch form.
COMBINE_KERNEL = os.environ.get("COSTPERF_ATTN_COMBINE", "triton").strip().lower() != "torch"


@functools.cache
def _kernel():  # noqa: ANN202 - imported lazily: triton is only installed where CUDA is
    from collectors.models.decode_attention_kernel import attn_decode  # noqa: PLC0415

    return attn_decode


@functools.cache
def _combine_kernel():  # noqa: ANN202
    from collectors.models.decode_attention_kernel import attn_combine  # noqa: PLC0415

    return attn_combine


def combine_kernel(acc: torch.Tensor, m: torch.Tensor, l_: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`combine` as one Triton kernel (inductor makes two of it): [1, n_heads * hd]."""
    n_kv, nsplit, rep, hd = acc.shape
    out = torch.empty((1, n_kv * rep * hd), dtype=dtype, device=acc.device)
    _combine_kernel()[(n_kv * rep,)](acc, m, l_, out, REP=rep, HD=hd, NSPLIT=nsplit,
                                     NSPLIT_P2=max(2, 1 << (nsplit - 1).bit_length()), num_warps=1)
    return out


@torch.library.custom_op("costperf::attn_combine", mutates_args=())
def attn_combine(acc: torch.Tensor, m: torch.Tensor, l_: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return combine_kernel(acc, m, l_, like.dtype)


@attn_combine.register_fake
def _(acc: torch.Tensor, m: torch.Tensor, l_: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return like.new_empty((1, acc.shape[0] * acc.shape[2] * acc.shape[3]))


def partials(qkv: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
             pos: torch.Tensor, n_heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """qkv [1, dim + 2 kv_dim] (before RoPE); caches [1, n_kv, max_seq, hd], updated at pos; cos/sin the
    model's [max_seq, hd/2] tables. Returns acc [n_kv, nsplit, rep, hd], m and l [n_kv, nsplit, rep]."""
    _, n_kv, max_seq, hd = k_cache.shape
    rep = n_heads // n_kv
    nsplit = triton_cdiv(max_seq, SPLIT)
    acc = torch.empty((n_kv, nsplit, rep, hd), dtype=torch.float32, device=qkv.device)
    m = torch.empty((n_kv, nsplit, rep), dtype=torch.float32, device=qkv.device)
    l_ = torch.empty_like(m)
    _kernel()[(n_kv, nsplit)](qkv, k_cache, v_cache, cos, sin, pos, acc, m, l_, hd ** -0.5, DIM=n_heads * hd,
                              KV_DIM=n_kv * hd, HD=hd, REP=rep, MAX_SEQ=max_seq, SPLIT=SPLIT, NSPLIT=nsplit,
                              BT=SPLIT, num_warps=4)
    return acc, m, l_


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


@torch.library.custom_op("costperf::attn_decode", mutates_args=("k_cache", "v_cache"))
def attn_decode(qkv: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, cos: torch.Tensor,
                sin: torch.Tensor, pos: torch.Tensor, n_heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return partials(qkv.reshape(1, -1).contiguous(), k_cache, v_cache, cos, sin, pos, n_heads)


@attn_decode.register_fake
def _(qkv: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
      pos: torch.Tensor, n_heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    _, n_kv, max_seq, hd = k_cache.shape
    nsplit = triton_cdiv(max_seq, SPLIT)
    acc = qkv.new_empty((n_kv, nsplit, n_heads // n_kv, hd), dtype=torch.float32)
    return acc, acc.new_empty(acc.shape[:3]), acc.new_empty(acc.shape[:3])


def combine(acc: torch.Tensor, m: torch.Tensor, l_: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Merge the slices' partial softmaxes: [1, n_heads * hd] in `dtype`."""
    top = m.amax(dim=1, keepdim=True)
    w = torch.exp(m - top)  # slices with no positions have m = -inf: weight 0
    total = (l_ * w).sum(dim=1)
    out = (acc * w[..., None]).sum(dim=1) / total[..., None]
    return out.reshape(1, -1).to(dtype)
