"""Triton kernels of bias_grads.py (imported only where Triton is installed).

Each writes the gradient of a layer's output and, from the same registers, per-block column sums of it:
the bias gradient's partial sums, [row blocks, columns] in float32, summed by the caller. Without
them the bias gradient is a second pass that reads the whole gradient again.
"""

import triton
import triton.language as tl


@triton.jit
def _gelu_gate(u):
    """GELU's tanh form as a gate, float32: 0.5 (1 + tanh(k0 (u + k1 u^3))) = sigmoid(2 k0 (u + k1 u^3)),
    one exp and one reciprocal (libdevice's tanh takes about twice the instructions, and inductor's
    GELU kernel is bound by them on an H200). Saturates to 0 or 1 for large |u| (exp overflows to
    inf, or underflows to 0)."""
    return 1.0 / (1.0 + tl.exp(-1.5957691216057308 * u * (1.0 + 0.044715 * u * u)))


@triton.jit
def _gelu_tanh_grad(u):
    """d/du of GELU's tanh form u s(u), s the gate above: s + u s (1 - s) 2 k0 (1 + 3 k1 u^2)."""
    s = _gelu_gate(u)
    return s + u * s * (1.0 - s) * (1.5957691216057308 + 0.21406444881780076 * u * u)


@triton.jit
def gelu_forward(h_ptr, y_ptr, n, BLOCK: tl.constexpr):
    """y = gelu(h) (tanh form) for n contiguous elements, BLOCK a program."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    h = tl.load(h_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    tl.store(y_ptr + offs, (h * _gelu_gate(h)).to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def gelu_backward(dy_ptr, h_ptr, dh_ptr, part_ptr, n_rows, n_cols, ROWS: tl.constexpr, BLOCK_R: tl.constexpr,
                  BLOCK_C: tl.constexpr):
    """dh = dy * gelu'(h) for a [ROWS, BLOCK_C] block of [n_rows, n_cols] (row-major, all three the
    same shape), read and written BLOCK_R rows at a time; part[row block, cols] = the block's column
    sums of dh, summed in float32 before dh is rounded to its dtype."""
    pid_r = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    cmask = cols < n_cols
    acc = tl.zeros([BLOCK_R, BLOCK_C], dtype=tl.float32)  # summed over rows once, after the loop
    for r in range(0, ROWS, BLOCK_R):
        rows = pid_r * ROWS + r + tl.arange(0, BLOCK_R)
        mask = (rows < n_rows)[:, None] & cmask[None, :]
        offs = rows.to(tl.int64)[:, None] * n_cols + cols[None, :]
        dy = tl.load(dy_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        h = tl.load(h_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        g = dy * _gelu_tanh_grad(h)  # 0 where masked: dy is
        tl.store(dh_ptr + offs, g.to(dh_ptr.dtype.element_ty), mask=mask)
        acc += g
    tl.store(part_ptr + pid_r.to(tl.int64) * n_cols + cols, tl.sum(acc, axis=0), mask=cmask)


@triton.jit
def heads_into_columns(src_ptr, out_ptr, part_ptr, n_rows, seq_len, s_b, s_h, s_t, out_cols, col0,
                       D: tl.constexpr, BLOCK_D: tl.constexpr, ROWS: tl.constexpr, BLOCK_R: tl.constexpr):
    """One of q/k/v's gradients, [B, H, T, D] with any strides but a unit one for D, copied into
    columns col0 + h D + d of out [B T, out_cols] (row b T + t), for the head program_id(1) and ROWS
    rows; part[row block, those columns] = their column sums in float32."""
    pid_r = tl.program_id(0)
    head = tl.program_id(1)
    d = tl.arange(0, BLOCK_D)
    dmask = d < D
    acc = tl.zeros([BLOCK_R, BLOCK_D], dtype=tl.float32)
    for r in range(0, ROWS, BLOCK_R):
        rows = (pid_r * ROWS + r + tl.arange(0, BLOCK_R)).to(tl.int64)
        mask = (rows < n_rows)[:, None] & dmask[None, :]
        src = (rows // seq_len) * s_b + (rows % seq_len) * s_t + head * s_h
        x = tl.load(src_ptr + src[:, None] + d[None, :], mask=mask, other=0.0)
        tl.store(out_ptr + rows[:, None] * out_cols + (col0 + head * D + d)[None, :], x, mask=mask)
        acc += x.to(tl.float32)
    tl.store(part_ptr + pid_r.to(tl.int64) * out_cols + col0 + head * D + d, tl.sum(acc, axis=0), mask=dmask)
