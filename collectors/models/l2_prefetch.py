"""Asking the copy engine for weights in L2 before the kernel that reads them starts (Hopper's bulk
prefetch, l2_prefetch_kernel.py).

At batch 1 a decode step streams weights kernel after kernel, and each kernel boundary leaves the
memory part-idle: the previous kernel's last programs drain, the next one's ramp up; during the
attention the memory reads only a few MB of cache. A kernel can ask for the next kernel's first
weights in L2 meanwhile, so that kernel starts on L2 hits. The weights' own loads are marked
evict-first, so the prefetched lines outlive the stream they arrive beside.

Two knobs, read when a kernel is launched (outside any compiled graph): COSTPERF_L2_PREFETCH, the
part (0 to 1) of the output projection's weights the attention kernel asks for; and
COSTPERF_GEMV_PREFETCH_MB, the megabytes of the next weights each matrix-vector kernel's last wave
of programs asks for. Triton's interpreter runs no PTX: nothing is asked there.
"""

from __future__ import annotations

import os

import torch

ATTN_ENV = "COSTPERF_L2_PREFETCH"
ATTN_DEFAULT = 0.0
GEMV_ENV = "COSTPERF_GEMV_PREFETCH_MB"
GEMV_DEFAULT = 0.0


def _number(name: str, default: float, high: float, what: str) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= high:
        raise ValueError(f"{name}={text!r}: expected {what}")
    return value


def attention_part() -> float:
    """COSTPERF_L2_PREFETCH (unset: ATTN_DEFAULT), checked."""
    return _number(ATTN_ENV, ATTN_DEFAULT, 1.0, "a fraction from 0 to 1 of the next weights")


def gemv_megabytes() -> float:
    """COSTPERF_GEMV_PREFETCH_MB (unset: GEMV_DEFAULT), checked."""
    return _number(GEMV_ENV, GEMV_DEFAULT, 1024.0, "megabytes from 0 to 1024")


def interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def per_thread(total: int, threads: int) -> int:
    """Bytes each of `threads` threads asks for, a multiple of 16 (the bulk prefetch's unit), so that
    the shares, clamped at `total` as the kernel does, cover exactly [0, total)."""
    return -(-(-(-total // threads)) // 16) * 16 if total > 0 else 0


def attention_plan(weights: torch.Tensor | None, threads: int) -> tuple[int, int]:
    """(bytes of `weights` the attention kernel asks for, bytes per thread); (0, 0) for none."""
    if weights is None or interpreted():
        return 0, 0
    total = int(weights.numel() * weights.element_size() * attention_part()) // 16 * 16
    return (total, per_thread(total, threads)) if total else (0, 0)


def gemv_plan(weights: torch.Tensor | None, halves: bool, threads: int) -> tuple[int, int, int]:
    """(bytes asked from the start of `weights`, or of each half with `halves`, the byte offset of the
    second half (0 without), bytes per thread) for a matrix-vector kernel's last wave; zeros for none."""
    if weights is None or interpreted():
        return 0, 0, 0
    size = weights.numel() * weights.element_size()
    parts = 2 if halves else 1
    total = min(int(gemv_megabytes() * 1e6) // parts, size // parts) // 16 * 16
    if total == 0:
        return 0, 0, 0
    return total, (size // 2 if halves else 0), per_thread(total, threads)
