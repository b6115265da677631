"""Triton part of l2_prefetch.py (imported only where Triton is installed)."""

import triton
import triton.language as tl


@triton.jit
def prefetch_l2(ptr, start, end, first_thread, THREADS: tl.constexpr, PER_THREAD: tl.constexpr):
    """Asks the copy engine to bring bytes [start, end) of ptr into L2, PER_THREAD bytes (a multiple of
    16) by each of this program's THREADS threads, the program's first being number first_thread of
    all the threads asking: one instruction a thread, nothing waited for. sm_90 and later."""
    i = first_thread + tl.arange(0, THREADS)
    off = start + i.to(tl.int64) * PER_THREAD
    size = tl.minimum(tl.maximum(end - off, 0), PER_THREAD).to(tl.int32)
    addr = (ptr.to(tl.pointer_type(tl.int8)) + off).to(tl.int64, bitcast=True)
    tl.inline_asm_elementwise(
        "{ .reg .pred p; setp.ne.s32 p, $2, 0; @p cp.async.bulk.prefetch.L2.global [$1], $2; mov.b32 $0, 0; }",
        "=r,l,r", [addr, size], dtype=tl.int32, is_pure=False, pack=1)
