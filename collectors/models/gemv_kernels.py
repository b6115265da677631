"""Triton kernels of gemv_fused.py (imported only where Triton is installed)."""

import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

@triton.jit
def _f32(w, I8_MODE: tl.constexpr):
    if I8_MODE == 1:
        # int8 -> float32 without the integer-to-float unit, in integer ops: put the byte, offset by
        # 128, into the mantissa of 2^23, and subtract 2^23 + 128 (exact).
        b = w.to(tl.uint8, bitcast=True).to(tl.uint32)
        return ((b ^ 0x80) | 0x4B000000).to(tl.float32, bitcast=True) - 8388736.0
    elif I8_MODE == 2:
        # The same float, built by one byte permute per element: from four packed bytes (offset by 128
        # with one xor per four), prmt places byte i under the exponent bits 0x4B. The integer-to-float
        # unit converts 16 values per clock per SM, about the rate int8 weights arrive at from HBM3e.
        bits = tl.inline_asm_elementwise(
            "{ .reg .b32 t, m; xor.b32 t, $4, 0x80808080; mov.b32 m, 0x4B000000;"
            " prmt.b32 $0, t, m, 0x7440; prmt.b32 $1, t, m, 0x7441;"
            " prmt.b32 $2, t, m, 0x7442; prmt.b32 $3, t, m, 0x7443; }",
            "=r,=r,=r,=r,r", [w], dtype=tl.int32, is_pure=True, pack=4)
        return bits.to(tl.float32, bitcast=True) - 8388736.0
    else:
        return w.to(tl.float32)

@triton.jit
def _grouped(t, ROWS: tl.constexpr, COLS: tl.constexpr, GROUP: tl.constexpr):
    """t [ROWS, COLS] with each run of GROUP neighbouring columns summed: [ROWS, COLS // GROUP]. A
    thread holds runs of 8 columns, so for GROUP <= 8 the sums stay in its registers (no shuffles)."""
    if GROUP == 1:
        return t
    return tl.sum(tl.reshape(t, (ROWS, COLS // GROUP, GROUP)), axis=2)


@triton.jit
def _grouped_1d(t, COLS: tl.constexpr, GROUP: tl.constexpr):
    """The same for a vector (its layout unchanged for GROUP 1)."""
    if GROUP == 1:
        return t
    return tl.sum(tl.reshape(t, (COLS // GROUP, GROUP)), axis=1)


@triton.jit
def gemv_fused(x_ptr, w_ptr, s_ptr, g_ptr, r_ptr, y_ptr, eps, N: tl.constexpr, K: tl.constexpr,
               HAS_SCALE: tl.constexpr, HAS_NORM: tl.constexpr, HAS_RES: tl.constexpr,
               SWIGLU: tl.constexpr, PDL: tl.constexpr, I8_MODE: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_K: tl.constexpr, ACC: tl.constexpr):
    # ACC: products each thread sums before its accumulator takes them. The accumulators are then
    # [BLOCK_N, BLOCK_K // ACC] floats: fewer registers a program, so more programs (and weight bytes in
    # flight) per multiprocessor. The extra additions fold into the multiply-adds (compiled for
    # sm_90, int8 gate+up 4 x 2048: 1,199 PTX instructions with ACC 8 against 1,291).
    pid = tl.program_id(0)
    rows = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.arange(0, BLOCK_K)
    # Weights are read in runs of 8 elements per thread (16 bytes at 16 bits, 8 at int8), the layout x
    # gets from its own 16-byte loads: with 16-byte int8 runs the layouts differ and x is reshuffled
    # through shared memory on every step.
    w_cols = tl.max_contiguous(tl.multiple_of(cols, 8), 8)
    w_ptrs = w_ptr + rows[:, None].to(tl.int64) * K + w_cols[None, :]
    u_ptrs = w_ptrs + N * K  # SwiGLU: the up rows follow the N gate rows
    # The first weight block does not depend on the previous kernel: read it before waiting.
    w = tl.load(w_ptrs, eviction_policy="evict_first")
    if SWIGLU:
        u = tl.load(u_ptrs, eviction_policy="evict_first")
    if PDL:
        gdc_wait()
        gdc_launch_dependents()
    acc = tl.zeros((BLOCK_N, BLOCK_K // ACC), dtype=tl.float32)
    acc_u = tl.zeros((BLOCK_N, BLOCK_K // ACC), dtype=tl.float32)
    ss = tl.zeros((BLOCK_K // ACC,), dtype=tl.float32)
    x = tl.load(x_ptr + cols).to(tl.float32)
    if HAS_NORM:
        ss += _grouped_1d(x * x, BLOCK_K, ACC)
        x = x * tl.load(g_ptr + cols).to(tl.float32)
    acc += _grouped(_f32(w, I8_MODE) * x[None, :], BLOCK_N, BLOCK_K, ACC)
    if SWIGLU:
        acc_u += _grouped(_f32(u, I8_MODE) * x[None, :], BLOCK_N, BLOCK_K, ACC)
    for k0 in range(BLOCK_K, K, BLOCK_K):
        x = tl.load(x_ptr + k0 + cols).to(tl.float32)
        if HAS_NORM:
            ss += _grouped_1d(x * x, BLOCK_K, ACC)
            x = x * tl.load(g_ptr + k0 + cols).to(tl.float32)
        w = tl.load(w_ptrs + k0, eviction_policy="evict_first")
        acc += _grouped(_f32(w, I8_MODE) * x[None, :], BLOCK_N, BLOCK_K, ACC)
        if SWIGLU:
            u = tl.load(u_ptrs + k0, eviction_policy="evict_first")
            acc_u += _grouped(_f32(u, I8_MODE) * x[None, :], BLOCK_N, BLOCK_K, ACC)
    out = tl.sum(acc, axis=1)
    if HAS_SCALE:
        out = out * tl.load(s_ptr + rows).to(tl.float32)
    if HAS_NORM:
        rstd = 1.0 / tl.sqrt(tl.sum(ss, axis=0) / K + eps)
        out = out * rstd
    if SWIGLU:
        up = tl.sum(acc_u, axis=1)
        if HAS_SCALE:
            up = up * tl.load(s_ptr + N + rows).to(tl.float32)
        if HAS_NORM:
            up = up * rstd
        out = out / (1.0 + tl.exp(-out)) * up
    if HAS_RES:
        out = out + tl.load(r_ptr + rows).to(tl.float32)
    tl.store(y_ptr + rows, out.to(y_ptr.dtype.element_ty))
