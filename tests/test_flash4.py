"""FlashAttention-4's kernels as torch operators (collectors/models/flash4.py), checked on this CPU where
the kernels cannot run: the operators' shapes and autograd through meta tensors, one opaque operator
in a traced graph, GPT-2's fallback to SDPA, and bad input refused. The kernels themselves are
checked against cuDNN's on a Hopper GPU by benchmarks/attention_check.py."""

from __future__ import annotations

import pytest
import torch
from gpt2_step import tiny_step
from torch.fx.experimental.proxy_tensor import make_fx

from collectors.models import flash4, gpt2
from collectors.workloads import train

B, T, H, D = 2, 16, 3, 8


def packed_views(device: str = "meta") -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """A q/k/v projection's output [B, T, 3, H, D] and its q, k, v [B, T, H, D] views, as GPT-2 passes them."""
    packed = torch.empty(B, T, 3, H, D, device=device, dtype=torch.bfloat16, requires_grad=True)
    return packed, packed.unbind(2)


def test_forward_gives_dense_output_and_float32_log_sum_exp() -> None:
    _, (q, k, v) = packed_views()
    assert not q.is_contiguous()
    out, lse = torch.ops.costperf.flash4_causal(q, k, v)
    assert (out.shape, out.dtype, out.is_contiguous()) == ((B, T, H, D), torch.bfloat16, True)
    assert (lse.shape, lse.dtype) == ((B, H, T), torch.float32)


def test_gradients_reach_the_packed_projection_output_dense() -> None:
    packed, (q, k, v) = packed_views()
    flash4.causal_attention(q, k, v).sum().backward()
    assert packed.grad is not None and packed.grad.shape == packed.shape
    dq, dk, dv = torch.ops.costperf.flash4_causal_backward(torch.empty(B, T, H, D, device="meta"), q, k, v,
                                                            *torch.ops.costperf.flash4_causal(q, k, v))
    assert all(g.shape == (B, T, H, D) and g.is_contiguous() for g in (dq, dk, dv))


def test_packed_gradient_comes_back_in_the_projections_layout() -> None:
    packed = torch.empty(B, T, 3, H, D, device="meta", dtype=torch.bfloat16, requires_grad=True)
    out = flash4.causal_attention_packed(packed)
    assert (out.shape, out.is_contiguous()) == ((B, T, H, D), True)
    out.sum().backward()
    assert packed.grad is not None and packed.grad.shape == (B, T, 3, H, D) and packed.grad.is_contiguous()
    graph = make_fx(lambda t: torch.autograd.grad(flash4.causal_attention_packed(t).sum(), (t,)),
                    tracing_mode="fake")(packed)
    targets = [str(n.target) for n in graph.graph.nodes if n.op == "call_function"]
    assert "costperf.flash4_causal_packed.default" in targets
    assert "costperf.flash4_causal_packed_backward.default" in targets
    with pytest.raises(ValueError, match=r"expected qkv \[B, T, 3, H, D\]; got \[2, 16, 2, 3, 8\]"):
        flash4.causal_attention_packed(torch.empty(B, T, 2, H, D, device="meta"))


def test_a_traced_graph_holds_one_opaque_operator_each_way() -> None:
    def step(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dout: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = flash4.causal_attention(q, k, v)
        return (out, *torch.autograd.grad(out, (q, k, v), dout))

    q, k, v = (torch.empty(B, T, H, D, device="meta", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    graph = make_fx(step, tracing_mode="fake")(q, k, v, torch.empty(B, T, H, D, device="meta", dtype=torch.bfloat16))
    targets = [str(n.target) for n in graph.graph.nodes if n.op == "call_function"]
    assert targets.count("costperf.flash4_causal.default") == 1
    assert targets.count("costperf.flash4_causal_backward.default") == 1


def test_not_usable_on_this_cpu_so_gpt2_keeps_sdpa() -> None:
    assert not flash4.usable(torch.empty(1, dtype=torch.bfloat16))
    assert flash4.unusable_reason(torch.device("cpu")) is not None
    loss0, grads0 = tiny_step(compiled=False, fused_bias_grads=True)
    loss1, grads1 = tiny_step(compiled=False, fused_bias_grads=True, flash4=True)
    assert torch.equal(loss0, loss1)
    assert all(torch.equal(grads0[name], grads1[name]) for name in grads0)


@pytest.mark.parametrize(("shapes", "device", "words"), [
    (((B, T, H, D), (B, T, H, D), (B, T, H, 2 * D)), "meta", "of one shape [B, T, H, D]"),
    (((B, T, H * D), (B, T, H * D), (B, T, H * D)), "meta", "got [2, 16, 24]"),
    (((B, T, H, D),) * 3, "cpu", "run on CUDA tensors; got cpu"),
])
def test_bad_input_is_refused_with_what_was_expected(shapes: tuple, device: str, words: str) -> None:
    q, k, v = (torch.empty(s, device=device, dtype=torch.bfloat16) for s in shapes)
    with pytest.raises(ValueError, match="flash4.causal_attention") as err:
        flash4.causal_attention(q, k, v)
    assert words in str(err.value)


def test_asked_for_it_is_recorded_and_refused_where_it_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTPERF_SDPA", "flash4")
    spec = train.TrainSpec("gpt2-tiny")
    extra = spec.params("cuda", fused=True).extra
    assert str(extra["attention"]).startswith("FlashAttention-4 (flash-attn-4 ")
    assert "sdpa_backend_first" not in extra
    assert "attention" not in spec.params("cpu", fused=False).extra  # no CUDA, no attention choice
    # how its kernels ran is recorded beside it; q/k/v packed, their bias gradient is autograd's
    assert extra["attention_kernels"] == "FlashAttention-4's forward and backward; q/k/v packed as the projection writes them"
    assert str(extra["bias_grads"]).startswith("with their output gradients (MLP in, output projections); q/k/v's")
    monkeypatch.setattr(gpt2, "PACKED_QKV", False)
    monkeypatch.setattr(flash4, "CUDNN_FORWARD", True)
    extra = spec.params("cuda", fused=True).extra
    assert extra["attention_kernels"] == "cuDNN's forward (SDPA's operator), FlashAttention-4's backward; q/k/v apart"
    assert extra["bias_grads"] == train.BIAS_GRADS["fused"]
    why = flash4.unusable_reason(torch.device("cuda", 0))
    assert why is not None and ("not installed" in why or "Hopper" in why or "CUDA" in why)
