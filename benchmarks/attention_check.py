"""GPU check of the attention GPT-2-124M's training runs: causal, 12 heads of 64, 1024 tokens, batch
64, bf16. Each of SDPA's backends, FlexAttention (compiled; Triton kernels) and FlashAttention-4
(flash4.py, where the package is installed) timed alone, forward and forward + backward, in ms and
TFLOP/s of the causal half (forward 2 B H T^2 D, backward 2.5x that), with their outputs and
gradients against cuDNN's. Then q, k, v packed as the q/k/v projection makes them ([B, T, 3, H, D]):
cuDNN's on views of it against FlashAttention-4's packed operator, with its own forward or cuDNN's
(flash4.CUDNN_FORWARD), the gradient written packed. Last, GPT-2-124M's loss and gradients (batch 4,
compiled) with SDPA and with FlashAttention-4 (packed, then q/k/v apart), each forward.

    python benchmarks/attention_check.py      (CUDA)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from collectors.models import flash4, gpt2
from collectors.workloads import train
from loss_check import ms  # the same timing: CUDA events around 20 calls after 3
from train_explore import module_attributes

B, H, T, D = 64, 12, 1024, 64
FWD_FLOP = 2 * B * H * T * T * D  # the causal half of 4 B H T^2 D


def sdpa(backend: str):  # noqa: ANN201
    from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415

    chosen = getattr(SDPBackend, backend)

    def run(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        with sdpa_kernel([chosen]):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return run


def flex():  # noqa: ANN201
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention  # noqa: PLC0415

    mask = create_block_mask(lambda b, h, q, kv: q >= kv, None, None, T, T, device="cuda")
    compiled = torch.compile(flex_attention)
    return lambda q, k, v: compiled(q, k, v, block_mask=mask)


def flash4_attention():  # noqa: ANN201
    if not flash4.installed():
        raise RuntimeError("flash-attn-4 is not installed")
    # [B, H, T, D] in and out, as SDPA; the kernels see [B, T, H, D] views
    return lambda q, k, v: flash4.causal_attention(q.transpose(1, 2), k.transpose(1, 2),
                                                   v.transpose(1, 2)).transpose(1, 2)


def packed_check() -> None:
    """q, k, v packed [B, T, 3, H, D]: cuDNN on its views against FlashAttention-4's packed operator."""
    gen = torch.Generator(device="cuda").manual_seed(2)
    qkv = torch.randn(B, T, 3, H, D, device="cuda", generator=gen, dtype=torch.bfloat16).requires_grad_()
    dout = torch.randn(B, T, H, D, device="cuda", generator=gen, dtype=torch.bfloat16)
    cudnn = sdpa("CUDNN_ATTENTION")

    def on_views(t: torch.Tensor) -> torch.Tensor:
        q, k, v = (z.transpose(1, 2) for z in t.unbind(2))
        return cudnn(q, k, v).transpose(1, 2)

    ref = None
    for name, fn, cudnn_forward in (("cudnn views", on_views, False),
                                    ("flash4 packed", flash4.causal_attention_packed, False),
                                    ("flash4 packed, cudnn forward", flash4.causal_attention_packed, True)):
        with module_attributes({(flash4, "CUDNN_FORWARD"): cudnn_forward}):
            def both(fn=fn) -> list[torch.Tensor]:  # noqa: ANN001
                out = fn(qkv)
                return [out, *torch.autograd.grad(out, (qkv,), dout)]
            got = both()
            fwd = ms(lambda fn=fn: fn(qkv))
            total = ms(both)
        ref = ref or got
        diff = [float((a.float() - b.float()).norm() / b.float().norm()) for a, b in zip(got, ref, strict=True)]
        print(f"{name:28s} forward {fwd:6.3f} ms  backward {total - fwd:6.3f} ms  per layer {total:6.3f} ms  "
              f"rel diff to cudnn: output {diff[0]:.1e}, d(qkv) {diff[1]:.1e}; d(qkv) strides "
              f"{tuple(got[1].stride())}", flush=True)


def model_check() -> None:
    """GPT-2-124M's loss and gradients, compiled, batch 4, with SDPA and with FlashAttention-4 (packed
    q/k/v or apart; its forward or cuDNN's)."""
    spec = train.TrainSpec()
    got = {}
    for name, on, packed, cudnn_forward in (("sdpa", False, True, False), ("flash4 packed", True, True, False),
                                            ("flash4 packed, cudnn forward", True, True, True),
                                            ("flash4 apart", True, False, False)):
        torch.manual_seed(0)
        model = gpt2.build("gpt2-124m", "cuda", fused_loss=spec.loss_impl("cuda") == "fused",
                           fused_bias_grads=spec.bias_grads_impl("cuda") == "fused", flash4=on)
        x, y = (torch.randint(0, 50257, (4, 1024), device="cuda", generator=torch.Generator("cuda").manual_seed(1))
                for _ in range(2))
        torch._dynamo.reset()
        with module_attributes({(gpt2, "PACKED_QKV"): packed, (flash4, "CUDNN_FORWARD"): cudnn_forward}):
            with torch.autocast("cuda", dtype=torch.bfloat16), train._sdpa_context("cudnn"):  # noqa: SLF001
                loss = torch.compile(model)(x, y)
            loss.backward()
        got[name] = (float(loss), [p.grad.float() for p in model.parameters()])
    l0, g0 = got.pop("sdpa")
    for name, (l1, g1) in got.items():
        worst = max(float((a - b).norm() / b.norm()) for a, b in zip(g1, g0, strict=True))
        print(f"model: loss sdpa {l0:.6f} {name} {l1:.6f}; gradients' largest relative difference {worst:.2e}")


def main() -> None:
    gen = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(B, H, T, D, device="cuda", generator=gen, dtype=torch.bfloat16).requires_grad_()
               for _ in range(3))
    dout = torch.randn(B, H, T, D, device="cuda", generator=gen, dtype=torch.bfloat16)
    ref = None
    for name, make in (("cudnn", lambda: sdpa("CUDNN_ATTENTION")), ("flash", lambda: sdpa("FLASH_ATTENTION")),
                       ("efficient", lambda: sdpa("EFFICIENT_ATTENTION")), ("flex", flex),
                       ("flash4", flash4_attention)):
        try:
            fn = make()

            def both(fn=fn) -> list[torch.Tensor]:  # noqa: ANN001
                out = fn(q, k, v)
                return [out, *torch.autograd.grad(out, (q, k, v), dout)]
            got = both()
            fwd = ms(lambda fn=fn: fn(q, k, v))
            total = ms(both)
        except Exception as exc:  # noqa: BLE001 - a backend that cannot run here is reported, not fatal
            print(f"{name:9s} not run: {type(exc).__name__}: {str(exc)[:160]}")
            continue
        ref = ref or got
        diff = max(float((a.float() - b.float()).norm() / b.float().norm()) for a, b in zip(got, ref, strict=True))
        bwd = total - fwd
        print(f"{name:9s} forward {fwd:6.3f} ms {FWD_FLOP / fwd / 1e9:5.0f} TFLOP/s  backward {bwd:6.3f} ms "
              f"{2.5 * FWD_FLOP / bwd / 1e9:5.0f} TFLOP/s  per layer {total:6.3f} ms  rel diff to cudnn {diff:.1e}")


if __name__ == "__main__":
    main()
    if flash4.installed():
        try:
            packed_check()
            model_check()
        except Exception as exc:  # noqa: BLE001 - reported with the timings above, not fatal
            print(f"model check not run: {type(exc).__name__}: {str(exc)[:300]}")
