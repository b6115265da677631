"""GPU check before a committed run: the batch-1 decode kernels against plain torch on random
inputs (fresh draws, outputs poisoned first). Exits 1 on a mismatch; prints one line per check.

    python benchmarks/decode_check.py
"""

from __future__ import annotations

import os
import sys

import torch

from collectors.models import decode_attention as da, gemv_fused, llama
from collectors.models.llama_fast import _attention


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def main() -> int:
    torch.manual_seed(1)
    bad = 0
    cfg = llama.CONFIGS["llama-3-8b"]
    max_seq = 640
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, 128, 2, device="cuda").float() / 128))
    ang = torch.outer(torch.arange(max_seq, device="cuda").float(), inv)
    cos_t, sin_t = ang.cos(), ang.sin()
    for pos_v in (0, 63, 64, 511, 639):
        kc = torch.randn(1, 8, max_seq, 128, device="cuda", dtype=torch.bfloat16)
        vc = torch.randn_like(kc)
        kc2, vc2 = kc.clone(), vc.clone()
        kc3, vc3 = kc.clone(), vc.clone()
        qkv = torch.randn(1, 1, 6144, device="cuda", dtype=torch.bfloat16)
        pos = torch.tensor([pos_v], device="cuda")
        mask = torch.tril(torch.ones(max_seq, max_seq, dtype=torch.bool, device="cuda"))[None, None, pos]
        ref = _attention(qkv, kc2, vc2, cos_t[pos], sin_t[pos], mask, pos, cfg).reshape(1, -1)
        try:
            acc, m, l_ = da.partials(qkv.reshape(1, -1), kc, vc, cos_t, sin_t, pos, 32)
        except Exception as exc:  # noqa: BLE001 - reported as a failed check
            print(f"attention pos {pos_v:3d} torch combine: FAIL {type(exc).__name__}: {exc}"[:300])
            bad += 1
            continue
        for name, combine in (("torch combine", da.combine), ("kernel combine", da.combine_kernel)):
            try:
                out = combine(acc, m, l_, torch.bfloat16)
                err, cache = rel(out, ref), rel(kc, kc2) + rel(vc, vc2)
                ok = err < 2e-2 and cache < 1e-2 and not out.isnan().any()
                note = f"rel err {err:.1e}, cache {cache:.1e}"
            except Exception as exc:  # noqa: BLE001
                ok, note = False, f"{type(exc).__name__}: {exc}"[:300]
            bad += not ok
            print(f"attention pos {pos_v:3d} {name}: {note} {'ok' if ok else 'FAIL'}")
        # merged in the kernel (each head's last slice): 50 calls, each output poisoned first, so a
        # merge that read a slice's partials before they landed would show
        try:
            worst = 0.0
            for i in range(50):
                y = torch.full((1, 4096), float("nan"), device="cuda", dtype=torch.bfloat16)
                kc4, vc4 = kc3.clone(), vc3.clone()
                da.partials(qkv.reshape(1, -1), kc4, vc4, cos_t, sin_t, pos, 32, merge_into=y)
                worst = max(worst, rel(y, ref) if not y.isnan().any() else float("inf"))
            cache = rel(kc4, kc2) + rel(vc4, vc2)
            counts = int(da._counter(y.device, 8).abs().sum())  # noqa: SLF001
            ok = worst < 2e-2 and cache < 1e-2 and counts == 0
            note = f"worst rel err of 50 {worst:.1e}, cache {cache:.1e}, counts left {counts}"
        except Exception as exc:  # noqa: BLE001
            ok, note = False, f"{type(exc).__name__}: {exc}"[:300]
        bad += not ok
        print(f"attention pos {pos_v:3d} merged in kernel: {note} {'ok' if ok else 'FAIL'}")
    x = torch.randn(1, 4096, device="cuda", dtype=torch.bfloat16)
    cases = [(6144, False, torch.bfloat16, "-"), (28672, True, torch.bfloat16, "-")]
    cases += [(rows, swiglu, torch.int8, conv) for conv in gemv_fused.I8_MODES
              for rows, swiglu in ((6144, False), (28672, True), (128256, False))]
    for rows, swiglu, dtype, conv in cases:
        if conv != "-":
            os.environ[gemv_fused.I8_ENV] = conv
        w = (torch.randn(rows, 4096, device="cuda", dtype=torch.bfloat16) if dtype != torch.int8 else
             torch.randint(-127, 128, (rows, 4096), dtype=torch.int8, device="cuda"))
        s = None if dtype != torch.int8 else torch.rand(rows, device="cuda").to(torch.bfloat16) * 1e-3
        g = torch.rand(4096, device="cuda").to(torch.bfloat16) + 0.5
        n = rows // 2 if swiglu else rows
        out = torch.full((1, n), float("nan"), device="cuda", dtype=torch.bfloat16)
        try:
            gemv_fused.launch(x, w, s, g, None, 1e-5, swiglu, False, out=out)
            err = rel(out, gemv_fused.reference(x, w, s, g, None, 1e-5, swiglu))
            ok, note = err < 2e-2 and not out.isnan().any(), f"rel err {err:.1e}"
        except Exception as exc:  # noqa: BLE001
            ok, note = False, f"{type(exc).__name__}: {exc}"[:300]
        bad += not ok
        print(f"gemv {rows}x4096 {str(dtype)[6:]} {conv} swiglu={swiglu}: {note} {'ok' if ok else 'FAIL'}")
    os.environ.pop(gemv_fused.I8_ENV, None)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
