"""Triton kernel of residual_norm.py (imported only where Triton is installed)."""

import triton
import triton.language as tl


@triton.jit
def add_layer_norm_backward(gs_ptr, gh_ptr, s_ptr, mean_ptr, rstd_ptr, w_ptr, g_ptr, copy_ptr, part_ptr,
                            n_rows, n_cols, HAS_GS: tl.constexpr, COPY: tl.constexpr, ROWS: tl.constexpr,
                            BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, STAGES: tl.constexpr):
    """For ROWS rows of s = x + a + bias and h = LayerNorm(s) (weight w; mean and rstd per row), read
    BLOCK_R whole rows at a time (n_cols <= BLOCK_C):

      g = gs + LayerNorm's backward of gh     the gradient of s (gs: of s's other uses, if HAS_GS)
      g -> g_ptr, and -> copy_ptr in its dtype if COPY (the gradient of a, for its layer's products)
      part[program, 0 / 1 / 2, cols] = column sums of g / gh xhat / gh: the partial gradients of the
      bias, the norm's weight and the norm's bias, in float32.
    """
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK_C)
    cmask = cols < n_cols
    w = tl.load(w_ptr + cols, mask=cmask, other=0.0).to(tl.float32)
    acc_g = tl.zeros([BLOCK_R, BLOCK_C], dtype=tl.float32)  # summed over rows once, after the loop
    acc_w = tl.zeros([BLOCK_R, BLOCK_C], dtype=tl.float32)
    acc_b = tl.zeros([BLOCK_R, BLOCK_C], dtype=tl.float32)
    for r in tl.range(0, ROWS, BLOCK_R, num_stages=STAGES):  # STAGES: rows loaded ahead
        rows = pid * ROWS + r + tl.arange(0, BLOCK_R)
        rmask = rows < n_rows
        mask = rmask[:, None] & cmask[None, :]
        offs = rows.to(tl.int64)[:, None] * n_cols + cols[None, :]
        gh = tl.load(gh_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        s = tl.load(s_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        mean = tl.load(mean_ptr + rows, mask=rmask, other=0.0)
        rstd = tl.load(rstd_ptr + rows, mask=rmask, other=0.0)
        xhat = tl.where(mask, (s - mean[:, None]) * rstd[:, None], 0.0)
        wdy = gh * w[None, :]
        c1 = tl.sum(xhat * wdy, axis=1) / n_cols
        c2 = tl.sum(wdy, axis=1) / n_cols
        g = (wdy - (xhat * c1[:, None] + c2[:, None])) * rstd[:, None]
        if HAS_GS:
            g += tl.load(gs_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        g = tl.where(mask, g, 0.0)
        tl.store(g_ptr + offs, g.to(g_ptr.dtype.element_ty), mask=mask)
        if COPY:
            tl.store(copy_ptr + offs, g.to(copy_ptr.dtype.element_ty), mask=mask)
        acc_g += g
        acc_w += gh * xhat
        acc_b += gh
    base = part_ptr + pid.to(tl.int64) * 3 * n_cols + cols
    tl.store(base, tl.sum(acc_g, axis=0), mask=cmask)
    tl.store(base + n_cols, tl.sum(acc_w, axis=0), mask=cmask)
    tl.store(base + 2 * n_cols, tl.sum(acc_b, axis=0), mask=cmask)
