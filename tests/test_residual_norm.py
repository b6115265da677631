"""The residual add, bias and LayerNorm as one function (collectors/models/residual_norm.py): the
same values and gradients as autograd's, through the torch-ops path, the Triton kernel (Triton's
interpreter on this CPU) and a compiled GPT-2; the kernel compiled for sm_90 moves 16-byte vectors."""

from __future__ import annotations

import pytest
import torch
from gpt2_step import tiny_step
from torch import nn
from triton_run import compile_only, interpret, needs_triton

from collectors.models import gpt2
from collectors.models.residual_norm import residual_layer_norm


@pytest.mark.parametrize("keep_sum", [True, False])
def test_matches_add_and_layer_norm_with_autograd_in_float64(keep_sum: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    x, a = (torch.randn(3, 5, 24, generator=gen, dtype=torch.float64) for _ in range(2))
    bias = torch.randn(24, generator=gen, dtype=torch.float64)
    norm = nn.LayerNorm(24, dtype=torch.float64)
    with torch.no_grad():
        norm.weight.normal_(generator=gen)
        norm.bias.normal_(generator=gen)
    gs, gh = (torch.randn(3, 5, 24, generator=gen, dtype=torch.float64) for _ in range(2))

    def run(fused: bool) -> list[torch.Tensor]:
        norm.zero_grad()
        xx, aa, bb = (t.clone().requires_grad_() for t in (x, a, bias))
        if fused:
            out = residual_layer_norm(xx, aa, bb, norm, keep_sum=keep_sum, kernel=False)
        else:
            s = xx + aa + bb
            out = (s, norm(s)) if keep_sum else norm(s)
        outs = out if keep_sum else (out,)
        torch.autograd.backward(outs, (gs, gh) if keep_sum else (gh,))
        return [*outs, xx.grad, aa.grad, bb.grad, norm.weight.grad, norm.bias.grad]

    for got, want in zip(run(True), run(False), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_bad_shapes_are_named() -> None:
    x = torch.randn(2, 3, 8)
    with pytest.raises(ValueError, match=r"residual_layer_norm: expected .* got x \[2, 3, 8\], a \[2, 3, 4\]"):
        residual_layer_norm(x, torch.randn(2, 3, 4), torch.randn(8), nn.LayerNorm(8))
    with pytest.raises(ValueError, match=r"bias \[7\]"):
        residual_layer_norm(x, x, torch.randn(7), nn.LayerNorm(8))
    with pytest.raises(ValueError, match=r"norm over \[8\] without weight or bias"):
        residual_layer_norm(x, x, torch.randn(8), nn.LayerNorm(8, elementwise_affine=False))


def test_gpt2_with_the_output_projections_biases_left_to_autograd_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fused bias gradients with and without this function (gpt2.RESIDUAL_NORMS) give autograd's."""
    loss0, grads0 = tiny_step(fused_bias_grads=False, compiled=False)
    for norms in (True, False):
        monkeypatch.setattr(gpt2, "RESIDUAL_NORMS", norms)
        loss1, grads1 = tiny_step(fused_bias_grads=True, compiled=False)
        torch.testing.assert_close(loss1, loss0, rtol=1e-6, atol=1e-6)
        for name, g in grads0.items():
            torch.testing.assert_close(grads1[name], g, rtol=1e-5, atol=1e-7, msg=name)


@needs_triton
def test_kernel_matches_float64_through_the_interpreter() -> None:
    """Rows and columns that leave partial blocks (37 x 40 in blocks of 4 x 64, 8 rows a program),
    with and without the gradient of the sum's other uses, a 16-bit copy or none."""
    out = interpret("""
        import torch
        from collectors.models import residual_norm as rn
        rn.ROWS, rn.BLOCK_R = 8, 4
        gen = torch.Generator().manual_seed(0)
        n, c = 37, 40
        s = 3 * torch.randn(n, c, generator=gen) + 1
        mean, rstd = s.mean(1), (s.var(1, unbiased=False) + 1e-5).rsqrt()
        w = torch.randn(c, generator=gen)
        for copy_dtype in (torch.bfloat16, torch.float32):
            gh = torch.randn(n, c, generator=gen).to(copy_dtype)
            for gs in (torch.randn(n, c, generator=gen), None):
                copy = copy_dtype != torch.float32
                g, g16, sums = rn._backward(gs, gh, s, mean, rstd, w, copy_dtype, copy, True)
                dbl = None if gs is None else gs.double()
                want, want16, want_sums = rn._backward(dbl, gh.double(), s.double(), mean.double(), rstd.double(),
                                                       w.double(), copy_dtype, copy, False)
                assert g.dtype == torch.float32 and sums.dtype == torch.float32 and sums.shape == (3, c)
                torch.testing.assert_close(g.double(), want, rtol=1e-5, atol=1e-5)
                if copy:
                    assert g16.dtype == copy_dtype
                    torch.testing.assert_close(g16.double(), want16.double(), rtol=2 ** -7, atol=2 ** -9)
                else:
                    assert g16.numel() == 0
                torch.testing.assert_close(sums.double(), want_sums, rtol=1e-5, atol=1e-4)
        print("ok")
    """)
    assert out.strip().endswith("ok")


@needs_triton
def test_kernel_compiled_for_sm90_moves_16_byte_vectors() -> None:
    """At GPT-2-124M's width (768 of a 1024-wide block), with the integer arguments a launch sees
    divisible by 16: 16-byte loads and stores, at most 128 registers a thread."""
    out = compile_only("""
        from collectors.models import residual_norm as rn
        from collectors.models.residual_norm_kernel import add_layer_norm_backward
        from triton_run import sm90, vector_io
        sig = {"gs_ptr": "*fp32", "gh_ptr": "*bf16", "s_ptr": "*fp32", "mean_ptr": "*fp32", "rstd_ptr": "*fp32",
               "w_ptr": "*fp32", "g_ptr": "*fp32", "copy_ptr": "*bf16", "part_ptr": "*fp32", "n_rows": "i32",
               "n_cols": "i32"}
        consts = {"HAS_GS": True, "COPY": True, "ROWS": rn.ROWS, "BLOCK_R": rn.BLOCK_R, "BLOCK_C": 1024,
                  "STAGES": rn.STAGES}
        print(vector_io(sm90(add_layer_norm_backward, sig, consts, aligned=11, num_warps=rn.WARPS)))
    """)
    regs, loads, stores = (int(v) for v in out.split())
    assert regs <= 128 and loads > 0 and stores > 0, out
