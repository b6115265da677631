"""Triton kernel of linear_cross_entropy.py (imported only where Triton is installed)."""

import triton
import triton.language as tl


@triton.jit
def lce_rows(logits_ptr, targets_ptr, loss_ptr, scale, V: tl.constexpr, BLOCK: tl.constexpr):
    """One program per row of a [rows, V] logits chunk: the row's loss (logsumexp - logit[target])
    into loss_ptr, and the row overwritten in place by (softmax - onehot) * scale.

    Two passes over the row: an online max and sum, then the write; a row is V * 2 bytes (100 KB for
    GPT-2 in bf16), so the second pass mostly finds it in L2. An out-of-range target makes the row's
    loss NaN (and reads nothing out of bounds): checking on the host would cost a sync every step.
    """
    row = tl.program_id(0).to(tl.int64)
    base = logits_ptr + row * V
    cols = tl.arange(0, BLOCK)
    target = tl.load(targets_ptr + row)
    valid = (target >= 0) & (target < V)
    m = -float("inf")
    s = 0.0
    for start in range(0, V, BLOCK):
        mask = start + cols < V
        x = tl.load(base + start + cols, mask=mask, other=-float("inf")).to(tl.float32)
        # every block holds at least one column, so m_new is finite and the exps below are too
        m_new = tl.maximum(m, tl.max(x, axis=0))
        s = s * tl.exp(m - m_new) + tl.sum(tl.exp(x - m_new), axis=0)
        m = m_new
    lse = m + tl.log(s)
    x_target = tl.load(base + tl.where(valid, target, 0)).to(tl.float32)
    loss = tl.where(valid, lse - x_target, float("nan"))
    tl.store(loss_ptr + row, loss)
    for start in range(0, V, BLOCK):
        mask = start + cols < V
        x = tl.load(base + start + cols, mask=mask, other=0.0).to(tl.float32)
        g = tl.exp(x - lse) - tl.where(start + cols == target, 1.0, 0.0)
        tl.store(base + start + cols, (g * scale).to(logits_ptr.dtype.element_ty), mask=mask)
