"""Triton kernel of decode_attention.py (imported only where Triton is installed)."""

import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait


@triton.jit
def _rope(ptr, cos, sin, rows, HALF: tl.constexpr, ROW_STRIDE: tl.constexpr, mask):
    # interleaved pairs (x[2i], x[2i+1]) rotated by the angle of position pos, as llama.apply_rope
    d = tl.arange(0, HALF)
    off = rows[:, None] * ROW_STRIDE + 2 * d[None, :]
    xe = tl.load(ptr + off, mask=mask[:, None], other=0.0).to(tl.float32)
    xo = tl.load(ptr + off + 1, mask=mask[:, None], other=0.0).to(tl.float32)
    return tl.interleave(xe * cos[None, :] - xo * sin[None, :], xe * sin[None, :] + xo * cos[None, :])


@triton.jit
def attn_decode(qkv_ptr, kc_ptr, vc_ptr, cos_ptr, sin_ptr, pos_ptr, acc_ptr, m_ptr, l_ptr, y_ptr, cnt_ptr, scale,
                DIM: tl.constexpr, KV_DIM: tl.constexpr, HD: tl.constexpr, REP: tl.constexpr, MAX_SEQ: tl.constexpr,
                SPLIT: tl.constexpr, NSPLIT: tl.constexpr, MERGE: tl.constexpr, PDL: tl.constexpr):
    """One (key/value head, slice of positions): partial softmax attention of the head's REP query
    heads over the cached positions of the slice, plus the new token's key and value, which the
    kernel ropes and (slice 0) writes into the cache. With MERGE, the head's last slice to finish
    (counted in cnt_ptr, left at 0 again) also merges the partials into y_ptr: no second kernel.
    With PDL, the slice's cached keys and values, the position and its angles are read before the
    wait for the kernel that writes q/k/v: none of them depends on it (the kernels before that one
    have finished once it lets this one start)."""
    h = tl.program_id(0)
    sp = tl.program_id(1)
    HALF: tl.constexpr = HD // 2
    QROWS: tl.constexpr = 16  # tl.dot needs 16 rows: the REP query heads, padded
    pos = tl.load(pos_ptr)
    cos = tl.load(cos_ptr + pos * HALF + tl.arange(0, HALF))
    sin = tl.load(sin_ptr + pos * HALF + tl.arange(0, HALF))
    d = tl.arange(0, HD)
    cache = h * MAX_SEQ * HD
    start = sp * SPLIT
    t = start + tl.arange(0, SPLIT)
    # Loaded whatever the position (caches start zeroed, so rows past it are finite and then masked
    # out of the scores): the loads need not wait for pos and its dependent reads.
    inside = (t < MAX_SEQ)[:, None]
    k = tl.load(kc_ptr + cache + t[:, None] * HD + d[None, :], mask=inside, other=0.0)
    v = tl.load(vc_ptr + cache + t[:, None] * HD + d[None, :], mask=inside, other=0.0)
    if PDL:
        gdc_wait()
        gdc_launch_dependents()
    r = tl.arange(0, QROWS)
    qmask = r < REP
    q = _rope(qkv_ptr, cos, sin, h * REP + r, HALF, HD, qmask) * scale  # [16, HD]
    one = tl.arange(0, 1)
    k_new = _rope(qkv_ptr + DIM + h * HD, cos, sin, one, HALF, HD, one < 1)  # [1, HD]
    v_new = tl.load(qkv_ptr + DIM + KV_DIM + h * HD + d[None, :] + one[:, None] * 0).to(tl.float32)  # [1, HD]
    first = (one + sp) == 0  # slice 0 writes the new token into the cache
    tl.store(kc_ptr + cache + pos * HD + d[None, :] + one[:, None] * 0, k_new.to(kc_ptr.dtype.element_ty),
             mask=first[:, None])
    tl.store(vc_ptr + cache + pos * HD + d[None, :] + one[:, None] * 0, v_new.to(vc_ptr.dtype.element_ty),
             mask=first[:, None])
    end = tl.minimum(start + SPLIT, pos)  # cached positions before the new token
    # No data-dependent loop or branch: a slice past the new token masks all its scores. A running
    # max of -inf (nothing seen) is replaced by 0 so exp() gives 0, not NaN.
    s = tl.dot(q.to(kc_ptr.dtype.element_ty), tl.trans(k))
    s = tl.where((t < end)[None, :], s, float("-inf"))
    m_i = tl.max(s, axis=1)
    m_safe = tl.where(m_i == float("-inf"), 0.0, m_i)
    p = tl.exp(s - m_safe[:, None])
    l_i = tl.sum(p, axis=1)
    acc = tl.dot(p.to(v.dtype), v)
    mine = (pos >= start) & (pos < start + SPLIT)  # the new token belongs to this slice: from registers
    s_new = tl.where(mine, tl.sum(q * k_new, axis=1), float("-inf"))
    m_new = tl.maximum(m_i, s_new)
    m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
    p = tl.exp(s_new - m_safe)
    alpha = tl.exp(m_i - m_safe)
    l_i = l_i * alpha + p
    acc = acc * alpha[:, None] + p[:, None] * v_new
    m_i = m_new
    part = (h * NSPLIT + sp) * REP + r
    tl.store(acc_ptr + part[:, None] * HD + d[None, :], acc, mask=qmask[:, None])
    tl.store(m_ptr + part, m_i, mask=qmask)
    tl.store(l_ptr + part, l_i, mask=qmask)
    if MERGE:
        # acq_rel: this slice's partials are visible before the count moves, and the last slice
        # sees all of them; .cg reads them from L2, past this SM's L1.
        done = tl.atomic_add(cnt_ptr + h, 1, sem="acq_rel")
        if done == NSPLIT - 1:
            base = h * NSPLIT * REP + r
            top = tl.full((QROWS,), float("-inf"), tl.float32)
            for j in range(NSPLIT):
                top = tl.maximum(top, tl.load(m_ptr + base + j * REP, mask=qmask, other=float("-inf"),
                                              cache_modifier=".cg"))
            top = tl.where(top == float("-inf"), 0.0, top)
            den = tl.zeros((QROWS,), tl.float32)
            out = tl.zeros((QROWS, HD), tl.float32)
            for j in range(NSPLIT):
                mj = tl.load(m_ptr + base + j * REP, mask=qmask, other=float("-inf"), cache_modifier=".cg")
                wj = tl.where(mj == float("-inf"), 0.0, tl.exp(mj - top))  # empty slices weigh 0
                den += wj * tl.load(l_ptr + base + j * REP, mask=qmask, other=0.0, cache_modifier=".cg")
                aj = tl.load(acc_ptr + (base + j * REP)[:, None] * HD + d[None, :], mask=qmask[:, None], other=0.0,
                             cache_modifier=".cg")
                out += aj * wj[:, None]
            den = tl.where(qmask, den, 1.0)
            tl.store(y_ptr + (h * REP + r)[:, None] * HD + d[None, :], (out / den[:, None]).to(y_ptr.dtype.element_ty),
                     mask=qmask[:, None])
            tl.atomic_xchg(cnt_ptr + h, 0)


@triton.jit
def attn_combine(acc_ptr, m_ptr, l_ptr, out_ptr, REP: tl.constexpr, HD: tl.constexpr, NSPLIT: tl.constexpr,
                 NSPLIT_P2: tl.constexpr, PDL: tl.constexpr):
    """Merge the slices' partial softmaxes of one query head (program id = head). With PDL it is
    launched while the attention kernel ends and waits for it here: everything it reads is that
    kernel's."""
    if PDL:
        gdc_wait()
        gdc_launch_dependents()
    q = tl.program_id(0)
    h = q // REP
    r = q % REP
    sp = tl.arange(0, NSPLIT_P2)
    ok = sp < NSPLIT
    part = (h * NSPLIT + sp) * REP + r
    m = tl.load(m_ptr + part, mask=ok, other=float("-inf"))
    l_ = tl.load(l_ptr + part, mask=ok, other=0.0)
    top = tl.max(m, axis=0)
    w = tl.where(m == float("-inf"), 0.0, tl.exp(m - top))
    d = tl.arange(0, HD)
    acc = tl.load(acc_ptr + part[:, None] * HD + d[None, :], mask=ok[:, None], other=0.0)
    out = tl.sum(acc * w[:, None], axis=0) / tl.sum(l_ * w, axis=0)
    tl.store(out_ptr + q * HD + d, out.to(out_ptr.dtype.element_ty))
