"""Bias gradients made with the gradients of their layers' output (collectors/models/bias_grads.py): the
same gradients as autograd's, through the torch-ops path, the Triton kernels (Triton's interpreter
on this CPU) and a compiled GPT-2; the kernels compiled for sm_90 read and write 16-byte vectors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gpt2_step import tiny_step
from triton_run import compile_only, interpret, needs_triton

from collectors.models import bias_grads, gpt2
from collectors.models.bias_grads import linear_gelu, qkv_heads


def test_linear_gelu_matches_nn_linear_and_autograd_in_float64() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 8, generator=gen, dtype=torch.float64)
    w = 2 * torch.randn(40, 8, generator=gen, dtype=torch.float64)  # tails where tanh saturates
    b, dy = torch.randn(40, generator=gen, dtype=torch.float64), torch.randn(3, 5, 40, generator=gen, dtype=torch.float64)

    def run(fused: bool) -> list[torch.Tensor]:
        xx, ww, bb = (t.clone().requires_grad_() for t in (x, w, b))
        y = linear_gelu(xx, ww, bb, kernel=False) if fused else F.gelu(F.linear(xx, ww, bb), approximate="tanh")
        y.backward(dy)
        return [y, xx.grad, ww.grad, bb.grad]

    for got, want in zip(run(True), run(False), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_qkv_heads_match_nanogpt_split_and_autograd_in_float64() -> None:
    gen = torch.Generator().manual_seed(1)
    bsz, seq, heads, dim = 2, 7, 3, 4
    c = heads * dim
    x = torch.randn(bsz, seq, c, generator=gen, dtype=torch.float64)
    w = torch.randn(3 * c, c, generator=gen, dtype=torch.float64)
    b = torch.randn(3 * c, generator=gen, dtype=torch.float64)
    grads = [torch.randn(bsz, heads, seq, dim, generator=gen, dtype=torch.float64) for _ in range(3)]

    def run(fused: bool) -> list[torch.Tensor]:
        xx, ww, bb = (t.clone().requires_grad_() for t in (x, w, b))
        if fused:
            out = qkv_heads(xx, ww, bb, heads, kernel=False)
        else:
            q, k, v = F.linear(xx, ww, bb).split(c, dim=2)
            out = tuple(z.view(bsz, seq, heads, dim).transpose(1, 2) for z in (q, k, v))
        assert all(o.shape == (bsz, heads, seq, dim) for o in out)
        torch.autograd.backward(out, grads)
        return [*out, xx.grad, ww.grad, bb.grad]

    for got, want in zip(run(True), run(False), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_bad_shapes_are_named() -> None:
    x, w = torch.randn(2, 3, 12), torch.randn(36, 12)
    with pytest.raises(ValueError, match=r"linear_gelu: expected x \[B, T, C\], .* got x \[6, 12\]"):
        linear_gelu(x.view(6, 12), w, torch.randn(36))
    with pytest.raises(ValueError, match=r"linear_gelu: .*bias \[7\]"):
        linear_gelu(x, w, torch.randn(7))
    with pytest.raises(ValueError, match=r"qkv_heads: .* with 5 heads; got x \[2, 3, 12\]"):
        qkv_heads(x, w, torch.randn(36), 5)
    with pytest.raises(ValueError, match=r"bias \[35\]"):
        qkv_heads(x, w, torch.randn(35), 3)


@needs_triton
def test_kernels_match_float64_through_the_interpreter() -> None:
    """Shapes that leave partial blocks (rows, columns, a 24-wide head in a 32-wide block) and q/k/v
    gradients in three layouts: views of one packed tensor (as cuDNN's attention returns them), each
    contiguous, and a [B, T, H, D] transpose."""
    out = interpret("""
        import torch
        from collectors.models import bias_grads as bg
        bg.GELU_ROWS, bg.GELU_BLOCK_R, bg.GELU_BLOCK_C = 8, 4, 16
        bg.GELU_FWD_BLOCK = 256  # 37 x 40 elements: five full programs and a partial one
        bg.HEADS_ROWS, bg.HEADS_BLOCK_R = 8, 4
        gen = torch.Generator().manual_seed(0)
        for dt in (torch.float32, torch.bfloat16):
            n, f = 37, 40
            dy, h = torch.randn(n, f, generator=gen).to(dt), (4 * torch.randn(n, f, generator=gen)).to(dt)
            h[0, :4] = torch.tensor([-60.0, -12.0, 12.0, 60.0])  # where the gate saturates: exp overflows
            dpre, db = bg._gelu_backward(dy, h, True)
            ref, ref_b = bg._gelu_backward(dy.double(), h.double(), False)
            assert dpre.dtype == dt and db.dtype == torch.float32
            # within one unit of the last place of dt (Triton's interpreter may round bf16 down)
            tol = {"rtol": 1e-6, "atol": 1e-5} if dt == torch.float32 else {"rtol": 2 ** -7, "atol": 2 ** -9}
            torch.testing.assert_close(dpre.double(), ref.to(dt).double(), **tol)
            torch.testing.assert_close(db.double(), ref_b, rtol=1e-5, atol=1e-5)
            y = bg._gelu_forward(h, True)
            assert y.dtype == dt
            torch.testing.assert_close(y.double(), bg._gelu_forward(h.double(), False).to(dt).double(), **tol)
            bsz, heads, seq, dim = 2, 3, 13, 24
            packed = torch.randn(bsz, seq, 3, heads, dim, generator=gen).to(dt)
            views = [packed[:, :, i].transpose(1, 2) for i in range(3)]
            for grads in (views, [v.contiguous() for v in views],
                          [v.transpose(1, 2).contiguous().transpose(1, 2) for v in views]):
                got, got_b = bg._heads_grad_pack(*grads, True)
                want, want_b = bg._heads_grad_pack(*(g.double() for g in grads), False)
                assert got.dtype == dt and got.shape == (bsz * seq, 3 * heads * dim)
                assert torch.equal(got.double(), want)  # a copy, exact
                torch.testing.assert_close(got_b.double(), want_b, rtol=1e-5, atol=1e-5)
        print("ok")
    """)
    assert out.strip().endswith("ok")


@needs_triton
def test_kernels_compiled_for_sm90_move_16_byte_vectors() -> None:
    """At GPT-2-124M's shapes, with the integer arguments a launch sees divisible by 16: 16-byte
    loads and stores of the gradients and of the forward GELU, at most 96 registers a thread (at
    least five programs an SM)."""
    out = compile_only("""
        from collectors.models import bias_grads as bg
        from collectors.models.bias_grads_kernel import gelu_backward, gelu_forward, heads_into_columns
        from triton_run import sm90, vector_io
        sig = {"dy_ptr": "*bf16", "h_ptr": "*bf16", "dh_ptr": "*bf16", "part_ptr": "*fp32", "n_rows": "i32",
               "n_cols": "i32"}
        consts = {"ROWS": bg.GELU_ROWS, "BLOCK_R": bg.GELU_BLOCK_R, "BLOCK_C": bg.GELU_BLOCK_C}
        gelu = sm90(gelu_backward, sig, consts, aligned=6, num_warps=bg.GELU_WARPS)
        sig = {"src_ptr": "*bf16", "out_ptr": "*bf16", "part_ptr": "*fp32", "n_rows": "i32", "seq_len": "i32",
               "s_b": "i32", "s_h": "i32", "s_t": "i32", "out_cols": "i32", "col0": "i32"}
        consts = {"D": 64, "BLOCK_D": 64, "ROWS": bg.HEADS_ROWS, "BLOCK_R": bg.HEADS_BLOCK_R}
        heads = sm90(heads_into_columns, sig, consts, aligned=10, num_warps=bg.HEADS_WARPS)
        forward = sm90(gelu_forward, {"h_ptr": "*bf16", "y_ptr": "*bf16", "n": "i32"}, {"BLOCK": bg.GELU_FWD_BLOCK},
                       aligned=3, num_warps=bg.GELU_FWD_WARPS)
        for k in (gelu, heads, forward):
            print(vector_io(k))
    """)
    for line in out.strip().splitlines():
        regs, loads, stores = (int(v) for v in line.split())
        assert regs <= 96 and loads > 0 and stores > 0, out


def test_gpt2_compiled_with_fused_bias_grads_matches_autograd() -> None:
    """Traced in one graph, the forward calls the GELU's op and the backward the gradients' ops (kept
    whole), and every gradient is autograd's, compiled by inductor as the training workload does and
    traced by AOTAutograd."""
    from functorch.compile import make_boxed_func  # noqa: PLC0415
    from torch._dynamo.backends.common import aot_autograd  # noqa: PLC0415

    torch._dynamo.reset()
    loss0, grads0 = tiny_step(fused_bias_grads=False, compiled=False)
    backward: list[str] = []

    def bw(gm: torch.fx.GraphModule, inputs: list) -> object:
        backward.append(gm.code)
        return make_boxed_func(gm.forward)

    forward: list[str] = []

    def fw(gm: torch.fx.GraphModule, inputs: list) -> object:
        forward.append(gm.code)
        return make_boxed_func(gm.forward)

    traced = aot_autograd(fw_compiler=fw, bw_compiler=bw)
    for backend in ("inductor", traced):
        torch._dynamo.reset()
        loss1, grads1 = tiny_step(fused_bias_grads=True, compiled=True, backend=backend)
        torch.testing.assert_close(loss1, loss0, rtol=1e-5, atol=1e-5)
        assert grads1.keys() == grads0.keys()
        for name, g in grads0.items():
            torch.testing.assert_close(grads1[name], g, rtol=1e-4, atol=1e-6, msg=name)
    assert len(backward) == len(forward) == 1
    assert forward[0].count("costperf.gelu_tanh") == 2
    assert backward[0].count("costperf.gelu_backward_bias_grad") == 2  # one a layer of gpt2-tiny
    assert backward[0].count("costperf.heads_grad_pack") == 2
    assert backward[0].count("costperf.add_layer_norm_backward") == 4  # two a layer (residual_norm.py)


def test_gpt2_compiled_fused_bias_grads_follow_autocast() -> None:
    torch._dynamo.reset()
    loss0, grads0 = tiny_step(fused_bias_grads=False, compiled=False, autocast=True)
    loss1, grads1 = tiny_step(fused_bias_grads=True, compiled=True, autocast=True)
    torch.testing.assert_close(loss1, loss0, rtol=1e-3, atol=1e-3)
    for name, g in grads0.items():
        assert grads1[name].dtype == torch.float32, name
        assert float((grads1[name] - g).norm() / g.norm()) < 2e-2, name


def test_train_bias_grads_choice_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ran, by its label (the choice itself: test_workloads.py's test of the fused paths' choices)."""
    from collectors.workloads import train  # noqa: PLC0415

    monkeypatch.delenv("COSTPERF_BIAS_GRADS", raising=False)
    assert train.TrainSpec("gpt2-tiny").params("cpu", fused=False).extra["bias_grads"] == "autograd"
    label = train.TrainSpec("gpt2-tiny", bias_grads="fused").params("cpu", fused=False).extra["bias_grads"]
    assert label == "with their output gradients (q/k/v, MLP in, output projections)"
    monkeypatch.setattr(gpt2, "RESIDUAL_NORMS", False)  # the output projections' left to autograd
    label = train.TrainSpec("gpt2-tiny", bias_grads="fused").params("cpu", fused=False).extra["bias_grads"]
    assert label == "with their output gradients (q/k/v, MLP in)"
    monkeypatch.setattr(bias_grads, "GELU_KERNEL", False)  # the forward's GELU left to torch
    label = train.TrainSpec("gpt2-tiny", bias_grads="fused").params("cpu", fused=False).extra["bias_grads"]
    assert label == "with their output gradients (q/k/v, MLP in); the forward's GELU by torch"
