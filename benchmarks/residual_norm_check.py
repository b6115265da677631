"""GPU check of the residual add, bias and LayerNorm as one function (collectors/models/residual_norm.py)
at GPT-2-124M's shapes (b64 x 1024 tokens, 768 wide):

1. the backward kernel against float64 torch on the same inputs;
2. its time and GB/s against what torch.compile makes of the same math (LayerNorm's backward plus
   the residual gradient, its bf16 copy, three column sums);
3. its block shapes, timed alone (the module's default first);
4. one compiled bf16-autocast training step of GPT-2-124M (b4) with the output projections' bias
   gradients made this way or by autograd (the other fused paths on in both): the loss and the
   gradients' relative difference, parameter by parameter.

    python benchmarks/residual_norm_check.py [kernel]      (CUDA; "kernel": 1-3 only)
"""

from __future__ import annotations

import sys

import torch

from bias_grads_check import compare, model_step, rel
from loss_check import ms  # the same timing: CUDA events around 20 calls after 3

from collectors.models import gpt2
from collectors.models import residual_norm as rn

N, C = 64 * 1024, 768
# read: gs and s (float32), gh (bf16); written: g (float32) and its bf16 copy
GB = N * C * (4 + 4 + 2 + 4 + 2) / 1e9
# (ROWS, BLOCK_R, WARPS, STAGES); STAGES > 1 loads the next rows while a row is worked on
# (results/h200-norms-2-shapes.log: 18 shapes; loading ahead, 3 stages, was fastest)
SHAPES = [(128, 1, 4, 1), (128, 1, 4, 2), (128, 1, 4, 4), (64, 1, 4, 3), (256, 1, 4, 3), (128, 1, 8, 3),
          (128, 1, 2, 3), (128, 2, 8, 3), (64, 1, 8, 4), (128, 1, 8, 4)]
NAMES = ("ROWS", "BLOCK_R", "WARPS", "STAGES")


inductor = torch.compile(rn.backward_math)


def inputs(seed: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator(device="cuda").manual_seed(seed)
    s = torch.randn(N, C, device="cuda", generator=gen) * 2 + 0.5
    mean, rstd = s.mean(1), (s.var(1, unbiased=False) + 1e-5).rsqrt()
    gs = torch.randn(N, C, device="cuda", generator=gen) * 0.01
    gh = (torch.randn(N, C, device="cuda", generator=gen) * 0.01).bfloat16()
    w = torch.randn(C, device="cuda", generator=gen)
    return gs, gh, s, mean, rstd, w


def kernel() -> None:
    gs, gh, s, mean, rstd, w = inputs(0)
    g, g16, sums = rn._backward(gs, gh, s, mean, rstd, w, torch.bfloat16, True, True)  # noqa: SLF001
    ref, _, ref_sums = rn.backward_math(gs.double(), gh.double(), s.double(), mean.double(), rstd.double(),
                                        w.double(), torch.bfloat16, False)
    print(f"g rel {rel(g, ref):.2e}, copy rel {rel(g16, ref):.2e} (bf16 rounding {rel(ref.bfloat16(), ref):.2e}), "
          "sums rel " + ", ".join(f"{rel(a, b):.2e}" for a, b in zip(sums, ref_sums, strict=True)))
    for name, fn in (("kernel", lambda: rn._backward(gs, gh, s, mean, rstd, w, torch.bfloat16, True, True)),  # noqa: SLF001
                     ("inductor", lambda: inductor(gs, gh, s, mean, rstd, w, torch.bfloat16, True))):
        t = ms(fn)
        print(f"{name:9s} {t * 1e3:7.1f} us  {GB / t * 1e3:6.0f} GB/s (of {GB:.2f} GB)")
    before = [getattr(rn, n) for n in NAMES]
    for shape in SHAPES:
        for n, v in zip(NAMES, shape, strict=True):
            setattr(rn, n, v)
        t = ms(lambda: rn._backward(gs, gh, s, mean, rstd, w, torch.bfloat16, True, True))  # noqa: SLF001
        print(f"shape {','.join(map(str, shape)):10s} {t * 1e3:7.1f} us {GB / t * 1e3:6.0f} GB/s")
    for n, v in zip(NAMES, before, strict=True):
        setattr(rn, n, v)


def main() -> None:
    kernel()
    if "kernel" in sys.argv[1:]:
        return
    steps = {}
    before = gpt2.RESIDUAL_NORMS
    for norms in (False, True):
        gpt2.RESIDUAL_NORMS = norms
        torch._dynamo.reset()
        steps[norms] = model_step(True, f"residual norms {norms}")
    gpt2.RESIDUAL_NORMS = before
    compare(steps[False], steps[True], ("c_proj.bias", "ln_1.weight", "ln_2.bias", "ln_f.weight"),
            "projection biases and norms")


if __name__ == "__main__":
    main()
