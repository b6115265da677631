"""GPU check of the attention GPT-2-124M's training runs: causal, 12 heads of 64, 1024 tokens, batch
64, bf16. Each of SDPA's backends and FlexAttention (compiled; Triton kernels) timed alone, forward
and forward + backward, in ms and TFLOP/s of the causal half (forward 2 B H T^2 D, backward 2.5x
that), with their outputs and gradients against cuDNN's.

    python benchmarks/attention_check.py      (CUDA)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from loss_check import ms  # the same timing: CUDA events around 20 calls after 3

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


def main() -> None:
    gen = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(B, H, T, D, device="cuda", generator=gen, dtype=torch.bfloat16).requires_grad_()
               for _ in range(3))
    dout = torch.randn(B, H, T, D, device="cuda", generator=gen, dtype=torch.bfloat16)
    ref = None
    for name, make in (("cudnn", lambda: sdpa("CUDNN_ATTENTION")), ("flash", lambda: sdpa("FLASH_ATTENTION")),
                       ("efficient", lambda: sdpa("EFFICIENT_ATTENTION")), ("flex", flex)):
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
