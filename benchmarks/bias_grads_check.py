"""GPU check of the bias gradients made with their output gradients (collectors/models/bias_grads.py)
and of the MLP's forward GELU, at GPT-2-124M's shapes (b64 x 1024 tokens: MLP 3072 wide, 12 heads of 64):

1. each kernel against float64 torch on the same bf16 inputs;
2. each kernel's time and GB/s against what torch.compile makes of the same math (the gradient,
   then its column sums; the GELU), and against a copy of the same bytes (the GELU);
3. each kernel's block shapes, timed alone (the module's default first);
4. one compiled bf16-autocast training step of GPT-2-124M (b4) with and without them: the
   gradients' relative difference, parameter by parameter (bf16 rounding differs, so not zero).

    python benchmarks/bias_grads_check.py      (CUDA)
"""

from __future__ import annotations

import torch

from loss_check import ms  # the same timing: CUDA events around 20 calls after 3

from collectors.models import bias_grads as bg
from collectors.models import gpt2

N, FF, HEADS, DIM, SEQ = 64 * 1024, 3072, 12, 64, 1024


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


@torch.compile
def inductor_gelu(dy: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    g = (dy.float() * bg._gelu_tanh_grad(h.float())).to(dy.dtype)  # noqa: SLF001
    return g, g.float().sum(0)


@torch.compile
def inductor_gelu_forward(h: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(h, approximate="tanh")


@torch.compile
def inductor_heads(dq: torch.Tensor, dk: torch.Tensor, dv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    b, h, t, d = dq.shape
    packed = torch.cat([z.transpose(1, 2).reshape(b * t, h * d) for z in (dq, dk, dv)], dim=1)
    return packed, packed.float().sum(0)


def kernels() -> None:
    gen = torch.Generator(device="cuda").manual_seed(0)
    dy = torch.randn(N, FF, device="cuda", generator=gen).bfloat16() * 0.01
    h = torch.randn(N, FF, device="cuda", generator=gen).bfloat16() * 2
    dpre, db = bg._gelu_backward(dy, h, True)  # noqa: SLF001
    ref, ref_b = bg._gelu_backward(dy.double(), h.double(), False)  # noqa: SLF001
    print(f"gelu: dpre rel {rel(dpre, ref):.2e} (bf16 rounding {rel(ref.bfloat16(), ref):.2e}), db rel "
          f"{rel(db, ref_b):.2e}")
    gb = 3 * N * FF * 2 / 1e9
    for name, fn in (("kernel", lambda: bg._gelu_backward(dy, h, True)),  # noqa: SLF001
                     ("inductor", lambda: inductor_gelu(dy, h))):
        t = ms(fn)
        print(f"gelu {name:9s} {t * 1e3:7.1f} us  {gb / t * 1e3:6.0f} GB/s (of {gb:.2f} GB)")
    y = bg._gelu_forward(h, True)  # noqa: SLF001
    ref = bg._gelu_forward(h.double(), False)  # noqa: SLF001
    theirs = inductor_gelu_forward(h)
    differ = y != theirs
    print(f"gelu forward: rel {rel(y, ref):.2e} (torch's {rel(theirs, ref):.2e}, bf16 rounding "
          f"{rel(ref.bfloat16(), ref):.2e}); {int(differ.sum())} of {y.numel()} elements differ from torch's, by at "
          f"most {float((y.float() - theirs.float()).abs().max()):.2e}")
    gb = 2 * N * FF * 2 / 1e9
    for name, fn in (("kernel", lambda: bg._gelu_forward(h, True)),  # noqa: SLF001
                     ("inductor", lambda: inductor_gelu_forward(h)), ("copy", h.clone)):
        t = ms(fn)
        print(f"gelu forward {name:9s} {t * 1e3:7.1f} us  {gb / t * 1e3:6.0f} GB/s (of {gb:.2f} GB)")
    packed = torch.randn(64, SEQ, 3, HEADS, DIM, device="cuda", generator=gen).bfloat16()
    grads = [packed[:, :, i].transpose(1, 2) for i in range(3)]  # as cuDNN returns them
    out, out_b = bg._heads_grad_pack(*grads, True)  # noqa: SLF001
    want, want_b = inductor_heads(*grads)
    print(f"heads: exact copy {torch.equal(out, want)}, db rel {rel(out_b, want_b):.2e}")
    gb = 2 * N * 3 * HEADS * DIM * 2 / 1e9
    for name, fn in (("kernel", lambda: bg._heads_grad_pack(*grads, True)),  # noqa: SLF001
                     ("inductor", lambda: inductor_heads(*grads))):
        t = ms(fn)
        print(f"heads {name:9s} {t * 1e3:7.1f} us  {gb / t * 1e3:6.0f} GB/s (of {gb:.2f} GB)")


GELU_SHAPES = [(256, 4, 512, 4), (256, 8, 256, 4), (256, 16, 256, 8), (512, 8, 256, 4), (128, 8, 256, 4),
               (256, 8, 512, 8), (256, 16, 128, 4), (1024, 8, 256, 4), (512, 4, 512, 4), (256, 4, 1024, 8)]
GELU_FWD_SHAPES = [(2048, 4), (1024, 4), (4096, 4), (4096, 8), (8192, 8), (2048, 8), (1024, 2), (8192, 4)]
HEADS_SHAPES = [(256, 64, 4), (256, 32, 4), (512, 64, 4), (128, 64, 4), (256, 128, 8), (1024, 64, 4), (256, 64, 8)]


def shapes() -> None:
    gen = torch.Generator(device="cuda").manual_seed(2)
    dy, h = (torch.randn(N, FF, device="cuda", generator=gen).bfloat16() for _ in range(2))
    packed = torch.randn(64, SEQ, 3, HEADS, DIM, device="cuda", generator=gen).bfloat16()
    grads = [packed[:, :, i].transpose(1, 2) for i in range(3)]
    names = {"gelu": ("GELU_ROWS", "GELU_BLOCK_R", "GELU_BLOCK_C", "GELU_WARPS"),
             "gelu-forward": ("GELU_FWD_BLOCK", "GELU_FWD_WARPS"),
             "heads": ("HEADS_ROWS", "HEADS_BLOCK_R", "HEADS_WARPS")}
    for kind, tried, fn, gb in (
            ("gelu", GELU_SHAPES, lambda: bg._gelu_backward(dy, h, True), 3 * N * FF * 2 / 1e9),  # noqa: SLF001
            ("gelu-forward", GELU_FWD_SHAPES, lambda: bg._gelu_forward(h, True), 2 * N * FF * 2 / 1e9),  # noqa: SLF001
            ("heads", HEADS_SHAPES, lambda: bg._heads_grad_pack(*grads, True), 2 * N * 3 * HEADS * DIM * 2 / 1e9)):  # noqa: SLF001
        before = [getattr(bg, n) for n in names[kind]]
        for shape in tried:
            for n, v in zip(names[kind], shape, strict=True):
                setattr(bg, n, v)
            t = ms(fn)
            print(f"{kind} {','.join(map(str, shape)):16s} {t * 1e3:7.1f} us {gb / t * 1e3:6.0f} GB/s")
        for n, v in zip(names[kind], before, strict=True):
            setattr(bg, n, v)


def model_step(fused: bool, label: str) -> dict[str, torch.Tensor]:
    """Each parameter's gradient after one compiled GPT-2-124M b4 step (fused loss), its loss printed."""
    torch.manual_seed(0)
    model = gpt2.build("gpt2-124m", "cuda", fused_loss=True, fused_bias_grads=fused)
    fwd = torch.compile(model, fullgraph=True)
    gen = torch.Generator(device="cuda").manual_seed(1)
    x, y = (torch.randint(0, 50257, (4, SEQ), device="cuda", generator=gen) for _ in range(2))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = fwd(x, y)
    loss.backward()
    print(f"model step, {label}: loss {loss.item():.6f}")
    return {name: p.grad for name, p in model.named_parameters()}


def compare(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], picked: tuple[str, ...], what: str) -> None:
    """The largest relative differences between two steps' gradients, and the largest among `picked`."""
    worst = sorted(((rel(b[k], a[k]), k) for k in a), reverse=True)[:6]
    print("largest relative gradient differences: " + ", ".join(f"{k} {r:.1e}" for r, k in worst))
    chosen = [k for k in a if k.endswith(picked)]
    print(f"{what} ({len(chosen)}): max rel {max(rel(b[k], a[k]) for k in chosen):.1e}")


def main() -> None:
    kernels()
    shapes()
    torch._dynamo.reset()
    a = model_step(False, "fused bias grads False")
    torch._dynamo.reset()
    b = model_step(True, "fused bias grads True")
    compare(a, b, ("c_attn.bias", "c_fc.bias"), "bias gradients")


if __name__ == "__main__":
    main()
