"""Batch-1 decode attention in one kernel (Triton, CUDA): RoPE, the KV-cache write and
grouped-query attention over the cache, split over slices of positions (flash-decoding).

What inductor makes of the same step at batch 1 is six or so small kernels per layer (rope, two
cache writes, two matrix products through cuBLAS, a softmax): on an H200, about 11 us per layer of
a 131 us layer, mostly launch and ramp time. Here one kernel, one program per (key/value head,
slice of 64 positions), reads only the positions written so far and leaves per-slice partial
results (running max, sum and weighted values); `combine_kernel` merges them (`combine` is the
same in torch ops), or, with `attn_decode_merged`, the last slice of each head to finish does.
"""

from __future__ import annotations

import functools
import os

import torch

from collectors.models.gemv_fused import pdl_launch

SPLIT = 64  # positions per program
# Where the slices' partials are merged. "triton": one more Triton kernel (attn_combine), 1.4 us a
# layer on an H200 (inductor's pair of kernels for the same took 2.9 us); "fused": in the attention
# kernel, by each head's last slice, which saves that launch but leaves one program per head merging
# while the next kernel waits: measured slower on the same H200 (8B decode bf16 248.0 against 252.2
# tok/s, int8 389.7 against 396.9); "torch": the torch ops of `combine`. COSTPERF_ATTN_COMBINE chooses.
COMBINE = os.environ.get("COSTPERF_ATTN_COMBINE", "triton").strip().lower()
COMBINE_KERNEL = COMBINE != "torch"


def combine_mode() -> str:
    """COMBINE, checked (the run's knobs call this before any decode runs)."""
    if COMBINE not in ("fused", "triton", "torch"):
        raise ValueError(f"COSTPERF_ATTN_COMBINE={COMBINE!r}: expected fused, triton or torch")
    return COMBINE


_counters: dict[tuple[str, int], torch.Tensor] = {}


def _counter(device: torch.device, n_kv: int) -> torch.Tensor:
    # One count per key/value head, shared by every layer (their kernels run one after another); each
    # merge leaves it at 0. Made once, before any CUDA graph capture (the first step runs uncaptured).
    key = (str(device), n_kv)
    if key not in _counters:
        _counters[key] = torch.zeros(n_kv, dtype=torch.int32, device=device)
    return _counters[key]


@functools.cache
def _kernel():  # noqa: ANN202 - imported lazily: triton is only installed where CUDA is
    from collectors.models.decode_attention_kernel import attn_decode  # noqa: PLC0415

    return attn_decode


@functools.cache
def _combine_kernel():  # noqa: ANN202
    from collectors.models.decode_attention_kernel import attn_combine  # noqa: PLC0415

    return attn_combine


def combine_kernel(acc: torch.Tensor, m: torch.Tensor, l_: torch.Tensor, dtype: torch.dtype,
                   pdl: bool = False) -> torch.Tensor:
    """`combine` as one Triton kernel (inductor makes two of it): [1, n_heads * hd]."""
    n_kv, nsplit, rep, hd = acc.shape
    out = torch.empty((1, n_kv * rep * hd), dtype=dtype, device=acc.device)
    _combine_kernel()[(n_kv * rep,)](acc, m, l_, out, REP=rep, HD=hd, NSPLIT=nsplit,
                                     NSPLIT_P2=max(2, 1 << (nsplit - 1).bit_length()), PDL=pdl, num_warps=1,
                                     **pdl_launch(pdl))
    return out


@torch.library.custom_op("costperf::attn_combine", mutates_args=())
def attn_combine(acc: torch.Tensor, m: torch.Tensor, l_: torch.Tensor, like: torch.Tensor, pdl: bool) -> torch.Tensor:
    return combine_kernel(acc, m, l_, like.dtype, pdl)


@attn_combine.register_fake
def _(acc: torch.Tensor, m: torch.Tensor, l_: torch.Tensor, like: torch.Tensor, pdl: bool) -> torch.Tensor:
    return like.new_empty((1, acc.shape[0] * acc.shape[2] * acc.shape[3]))


def partials(qkv: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
             pos: torch.Tensor, n_heads: int, merge_into: torch.Tensor | None = None, pdl: bool = False,
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """qkv [1, dim + 2 kv_dim] (before RoPE); caches [1, n_kv, max_seq, hd], updated at pos; cos/sin the
    model's [max_seq, hd/2] tables. Returns acc [n_kv, nsplit, rep, hd], m and l [n_kv, nsplit, rep];
    with `merge_into` ([1, n_heads * hd]) the kernel also writes the merged attention output there.
    `pdl`: launched while the kernel before it ends (programmatic dependent launch, Hopper on)."""
    _, n_kv, max_seq, hd = k_cache.shape
    rep = n_heads // n_kv
    nsplit = triton_cdiv(max_seq, SPLIT)
    acc = torch.empty((n_kv, nsplit, rep, hd), dtype=torch.float32, device=qkv.device)
    m = torch.empty((n_kv, nsplit, rep), dtype=torch.float32, device=qkv.device)
    l_ = torch.empty_like(m)
    merge = merge_into is not None
    _kernel()[(n_kv, nsplit)](qkv, k_cache, v_cache, cos, sin, pos, acc, m, l_, merge_into if merge else acc,
                              _counter(qkv.device, n_kv) if merge else m, hd ** -0.5, DIM=n_heads * hd,
                              KV_DIM=n_kv * hd, HD=hd, REP=rep, MAX_SEQ=max_seq, SPLIT=SPLIT, NSPLIT=nsplit,
                              MERGE=merge, PDL=pdl, num_warps=4, **pdl_launch(pdl))
    return acc, m, l_


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


@torch.library.custom_op("costperf::attn_decode", mutates_args=("k_cache", "v_cache"))
def attn_decode(qkv: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, cos: torch.Tensor,
                sin: torch.Tensor, pos: torch.Tensor, n_heads: int, pdl: bool,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return partials(qkv.reshape(1, -1).contiguous(), k_cache, v_cache, cos, sin, pos, n_heads, pdl=pdl)


@attn_decode.register_fake
def _(qkv: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
      pos: torch.Tensor, n_heads: int, pdl: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    _, n_kv, max_seq, hd = k_cache.shape
    nsplit = triton_cdiv(max_seq, SPLIT)
    acc = qkv.new_empty((n_kv, nsplit, n_heads // n_kv, hd), dtype=torch.float32)
    return acc, acc.new_empty(acc.shape[:3]), acc.new_empty(acc.shape[:3])


@torch.library.custom_op("costperf::attn_decode_merged", mutates_args=("k_cache", "v_cache"))
def attn_decode_merged(qkv: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, cos: torch.Tensor,
                       sin: torch.Tensor, pos: torch.Tensor, n_heads: int, like: torch.Tensor, pdl: bool,
                       ) -> torch.Tensor:
    """Attention output [1, n_heads * hd] in like's dtype: partials and their merge in one kernel."""
    y = torch.empty((1, n_heads * k_cache.shape[-1]), dtype=like.dtype, device=qkv.device)
    partials(qkv.reshape(1, -1).contiguous(), k_cache, v_cache, cos, sin, pos, n_heads, merge_into=y, pdl=pdl)
    return y


@attn_decode_merged.register_fake
def _(qkv: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
      pos: torch.Tensor, n_heads: int, like: torch.Tensor, pdl: bool) -> torch.Tensor:
    return like.new_empty((1, n_heads * k_cache.shape[-1]))


def combine(acc: torch.Tensor, m: torch.Tensor, l_: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Merge the slices' partial softmaxes: [1, n_heads * hd] in `dtype`."""
    top = m.amax(dim=1, keepdim=True)
    w = torch.exp(m - top)  # slices with no positions have m = -inf: weight 0
    total = (l_ * w).sum(dim=1)
    out = (acc * w[..., None]).sum(dim=1) / total[..., None]
    return out.reshape(1, -1).to(dtype)
