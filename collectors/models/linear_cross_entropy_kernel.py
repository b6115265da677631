"""Triton kernel of linear_cross_entropy.py (imported only where Triton is installed)."""

import triton
import triton.language as tl


@triton.jit
def _one_block(base, target, valid, loss_ptr, scale, V: tl.constexpr, BLOCK: tl.constexpr):
    """The row read once and held in registers in its own 16-bit dtype (a GPT-2 row is 100 KB, too
    much for a program's registers in float32), the float32 values remade from it for each use."""
    cols = tl.arange(0, BLOCK)
    mask = cols < V
    x = tl.load(base + cols, mask=mask, other=-float("inf"))
    m = tl.max(x.to(tl.float32), axis=0)
    lse = m + tl.log(tl.sum(tl.exp(x.to(tl.float32) - m), axis=0))
    x_target = tl.load(base + tl.where(valid, target, 0)).to(tl.float32)
    tl.store(loss_ptr, tl.where(valid, lse - x_target, float("nan")))
    g = tl.exp(x.to(tl.float32) - lse) - tl.where(cols == target, 1.0, 0.0)
    tl.store(base + cols, (g * scale).to(base.dtype.element_ty), mask=mask)


@triton.jit
def _row(logits_ptr, targets_ptr, loss_ptr, scale, row, V: tl.constexpr, BLOCK: tl.constexpr):
    base = logits_ptr + row * V
    cols = tl.arange(0, BLOCK)
    target = tl.load(targets_ptr + row)
    valid = (target >= 0) & (target < V)
    if V <= BLOCK:
        _one_block(base, target, valid, loss_ptr + row, scale, V, BLOCK)
    else:
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
        tl.store(loss_ptr + row, tl.where(valid, lse - x_target, float("nan")))
        for start in range(0, V, BLOCK):
            mask = start + cols < V
            x = tl.load(base + start + cols, mask=mask, other=0.0).to(tl.float32)
            g = tl.exp(x - lse) - tl.where(start + cols == target, 1.0, 0.0)
            tl.store(base + start + cols, (g * scale).to(logits_ptr.dtype.element_ty), mask=mask)


@triton.jit
def lce_rows(logits_ptr, targets_ptr, loss_ptr, scale, n_rows, V: tl.constexpr, BLOCK: tl.constexpr,
             STEPS: tl.constexpr):
    """Rows of a [n_rows, V] logits chunk: each row's loss (logsumexp - logit[target]) into
    loss_ptr, and the row overwritten in place by (softmax - onehot) * scale.

    A row that fits one block (V <= BLOCK) is read once (_one_block); a longer one in two passes
    over its blocks: an online max and sum, then the write. The second read finds the row in L2 only
    while few enough rows are in flight, so a program may take STEPS rows in turn (grid x STEPS >=
    n_rows): a smaller grid holds fewer rows at once. An out-of-range target makes the row's loss NaN
    (and reads nothing out of bounds): checking on the host would cost a sync every step.
    """
    pid = tl.program_id(0)
    programs = tl.num_programs(0)
    for i in range(STEPS):
        row = pid + i * programs
        if row < n_rows:
            _row(logits_ptr, targets_ptr, loss_ptr, scale, row.to(tl.int64), V, BLOCK)
