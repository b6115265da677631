"""The fused output layer + cross-entropy: its torch-ops path and its Triton kernel (through Triton's
interpreter, outputs poisoned first) against F.cross_entropy(h @ W.T) and autograd, and GPT-2 with it
under torch.compile(fullgraph=True) against the unfused model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gpt2_step import tiny_step
from triton_run import interpret, needs_triton

from collectors.models.linear_cross_entropy import linear_cross_entropy


def _reference(h: torch.Tensor, w: torch.Tensor, t: torch.Tensor, scale: float = 1.0):  # noqa: ANN202
    h, w = h.detach().requires_grad_(True), w.detach().requires_grad_(True)
    loss = F.cross_entropy(h @ w.T, t)
    (loss * scale).backward()
    return loss.detach(), h.grad, w.grad


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_torch_path_matches_autograd_over_short_last_chunk(dtype: torch.dtype, tol: float) -> None:
    torch.manual_seed(0)
    n, c, v = 37, 16, 1000  # 37 rows in chunks of 8: the last one short; V not a power of two
    h = torch.randn(n, c, dtype=dtype, requires_grad=True)
    w = torch.randn(v, c, dtype=dtype, requires_grad=True)
    t = torch.randint(0, v, (n,))
    t[0], t[-1] = 0, v - 1
    ref_loss, ref_gh, ref_gw = _reference(h, w, t, scale=2.5)
    loss = linear_cross_entropy(h, w, t, chunk_rows=8, kernel=False)
    (loss * 2.5).backward()  # the backward scales by the incoming gradient
    assert loss.dtype == dtype and h.grad.dtype == dtype and w.grad.dtype == dtype
    torch.testing.assert_close(loss, ref_loss, rtol=tol, atol=tol)
    torch.testing.assert_close(h.grad, ref_gh, rtol=tol, atol=tol)
    torch.testing.assert_close(w.grad, ref_gw, rtol=tol, atol=tol)


def test_bf16_products_match_autocast_semantics() -> None:
    # under autocast nn.Linear multiplies in bf16 and cross_entropy runs in float32; grads come back
    # in each input's own dtype (h bf16 here, weight float32)
    torch.manual_seed(1)
    h = torch.randn(20, 32, dtype=torch.bfloat16, requires_grad=True)
    w = torch.randn(300, 32, requires_grad=True)
    t = torch.randint(0, 300, (20,))
    loss = linear_cross_entropy(h, w, t, chunk_rows=6, kernel=False)
    loss.backward()
    assert loss.dtype == torch.float32 and h.grad.dtype == torch.bfloat16 and w.grad.dtype == torch.float32
    ref_loss, ref_gh, ref_gw = _reference(h.double(), w.bfloat16().double(), t)
    torch.testing.assert_close(loss.double(), ref_loss, rtol=1e-2, atol=1e-2)
    assert float((h.grad.double() - ref_gh).norm() / ref_gh.norm()) < 2e-2
    assert float((w.grad.double() - ref_gw).norm() / ref_gw.norm()) < 2e-2


@needs_triton
def test_triton_kernel_matches_torch() -> None:
    out = interpret("""
        import torch, torch.nn.functional as F
        from collectors.models import linear_cross_entropy as lce
        torch.manual_seed(0)
        n, v = 5, 1000
        # V = 1000 in blocks of 256 (two passes, the last block masked) or one masked block of 1024
        # and one program a row, or 2 programs taking rows in turn (3 steps for 5 rows: one idle)
        for block, per_sm, dtype, tol in ((256, 0, torch.float32, 1e-6), (256, 2, torch.bfloat16, 2e-3),
                                          (1024, 2, torch.float32, 1e-6), (1024, 0, torch.bfloat16, 2e-3)):
            lce.BLOCK, lce.PER_SM = block, per_sm
            logits = (torch.randn(n, v) * 4).to(dtype)
            t = torch.randint(0, v, (n,))
            t[0], t[1] = 0, v - 1
            buf, loss = logits.clone(), torch.full((n,), float("nan"))
            lce._rows_kernel(buf, t, loss, 1 / 7)
            x = logits.float().requires_grad_(True)
            ref = F.cross_entropy(x, t, reduction="none")
            ref.sum().backward()
            assert not loss.isnan().any() and float((loss - ref).abs().max()) < 1e-5, (block, dtype, loss, ref)
            assert float((buf.float() - x.grad / 7).abs().max()) < tol, (block, dtype)
            # a target outside [0, V) makes its row's loss NaN and reads nothing out of bounds
            bad = t.clone()
            bad[3] = v
            loss = torch.zeros(n)
            lce._rows_kernel(logits.clone(), bad, loss, 1.0)
            assert loss[3].isnan() and not loss[[0, 1, 2, 4]].isnan().any(), block
        lce.BLOCK, lce.PER_SM = 256, 0
        # the whole op with the kernel, against its torch path
        h = torch.randn(n, 24, requires_grad=True); w = torch.randn(v, 24, requires_grad=True)
        t[3] = 5
        a = lce.linear_cross_entropy(h, w, t, chunk_rows=2, kernel=True)
        ga = torch.autograd.grad(a, (h, w))
        b = lce.linear_cross_entropy(h, w, t, chunk_rows=2, kernel=False)
        gb = torch.autograd.grad(b, (h, w))
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        for x, y in zip(ga, gb):
            torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_gpt2_compiled_fullgraph_with_fused_loss_matches_unfused() -> None:
    torch._dynamo.reset()
    loss0, grads0 = tiny_step(fused_loss=False, compiled=False)
    graphs: list[str] = []

    def inductor(gm: torch.fx.GraphModule, inputs: list) -> object:
        from torch._inductor.compile_fx import compile_fx  # noqa: PLC0415

        graphs.append(gm.code)
        return compile_fx(gm, inputs)

    loss1, grads1 = tiny_step(fused_loss=True, compiled=True, backend=inductor)
    assert len(graphs) == 1 and "costperf.linear_cross_entropy" in graphs[0]  # the fused op, kept whole
    assert "functional.cross_entropy" not in graphs[0]
    torch.testing.assert_close(loss1, loss0, rtol=1e-5, atol=1e-5)
    assert grads1.keys() == grads0.keys()
    for name, g in grads0.items():
        torch.testing.assert_close(grads1[name], g, rtol=1e-4, atol=1e-6, msg=name)


def test_gpt2_compiled_fused_loss_follows_autocast() -> None:
    # the products' dtype is read from autocast inside the compiled graph: bf16 here, as nn.Linear
    torch._dynamo.reset()
    loss0, grads0 = tiny_step(fused_loss=False, compiled=False, autocast=True)
    loss1, grads1 = tiny_step(fused_loss=True, compiled=True, backend="aot_eager", autocast=True)
    torch.testing.assert_close(loss1, loss0, rtol=1e-3, atol=1e-3)
    for name, g in grads0.items():
        assert float((grads1[name] - g).norm() / g.norm()) < 1e-2, name


def test_bad_inputs_are_named() -> None:
    h, w, t = torch.randn(4, 8), torch.randn(10, 8), torch.tensor([0, 1, 2, 9])
    with pytest.raises(ValueError, match=r"h \[N, C\] and weight \[V, C\]"):
        linear_cross_entropy(h, torch.randn(10, 7), t)
    with pytest.raises(ValueError, match=r"h \[N, C\]"):
        linear_cross_entropy(h[None], w, t)
    with pytest.raises(ValueError, match="targets .* of int64; got .*torch.int32"):
        linear_cross_entropy(h, w, t.int())
    with pytest.raises(ValueError, match=r"targets \[N=4\]"):
        linear_cross_entropy(h, w, t[:3])
    with pytest.raises(ValueError, match="floating point"):
        linear_cross_entropy(h.long(), w, t)
    with pytest.raises(ValueError, match="chunk_rows"):
        linear_cross_entropy(h, w, t, chunk_rows=-1)
    for bad in (-1, 10):
        with pytest.raises(ValueError, match=r"targets must be in \[0, 10\) \(ignore_index is not supported\)"):
            linear_cross_entropy(h, w, torch.tensor([0, 1, bad, 3]), kernel=False)


def test_train_loss_choice_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ran, by its label (the choice itself: test_workloads.py's test of the fused paths' choices)."""
    from collectors.models import linear_cross_entropy as lce  # noqa: PLC0415
    from collectors.workloads import train  # noqa: PLC0415

    monkeypatch.delenv("COSTPERF_LOSS", raising=False)
    spec = train.TrainSpec("gpt2-tiny")
    assert spec.params("cpu", fused=False).extra["loss"] == "torch cross-entropy"
    if lce.TRITON:
        assert spec.loss_label("cuda") == "fused linear+cross-entropy"
        monkeypatch.setenv("COSTPERF_LCE_BLOCK", "8192,16")  # a kernel shape being tried is recorded
        assert spec.loss_label("cuda") == "fused linear+cross-entropy (kernel blocks 8192, 16 warps)"
        monkeypatch.delenv("COSTPERF_LCE_BLOCK")
    monkeypatch.setenv("COSTPERF_LOSS", "fused")
    assert spec.params("cpu", fused=False).extra["loss"] == "fused linear+cross-entropy (torch ops)"


def test_train_runs_with_the_fused_loss_on_cpu() -> None:
    from collectors.workloads import train  # noqa: PLC0415
    from collectors.workloads.common import Context, TimingPolicy  # noqa: PLC0415

    policy = TimingPolicy(min_reps=2, min_time_s=0.05, max_time_s=2.0, warmup_reps=1)
    ctx = Context(device=torch.device("cpu"), policy=policy)
    r = train.run(train.TrainSpec("gpt2-tiny", batch=2, seq_len=32, loss="fused"), ctx)
    assert r.status == "ok", r.message
    assert r.params.extra["loss"] == "fused linear+cross-entropy (torch ops)"


def test_kernel_block_override_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from collectors.models import linear_cross_entropy as lce  # noqa: PLC0415

    monkeypatch.delenv("COSTPERF_LCE_BLOCK", raising=False)
    assert lce.block_config() == (lce.BLOCK, lce.WARPS, lce.PER_SM)
    monkeypatch.setenv("COSTPERF_LCE_BLOCK", "8192,16")
    assert lce.block_config() == (8192, 16, 0)
    monkeypatch.setenv("COSTPERF_LCE_BLOCK", "8192,4,3")
    assert lce.block_config() == (8192, 4, 3)
    for bad in ("8192", "3000,4", "4096,x", "4096,4,2,1"):
        monkeypatch.setenv("COSTPERF_LCE_BLOCK", bad)
        with pytest.raises(ValueError, match="COSTPERF_LCE_BLOCK="):
            lce.block_config()
