"""One training step of gpt2-tiny on this CPU, for the tests that compare a fused path with autograd's."""

from __future__ import annotations

import torch

from collectors.models import gpt2


def tiny_step(compiled: bool, backend: object = "inductor", autocast: bool = False,
              **build: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(loss, each parameter's gradient) of one step from fixed weights and tokens; `build` goes to
    gpt2.build (fused_loss, fused_bias_grads); compiled in one graph by `backend` where `compiled`."""
    torch.manual_seed(0)
    model = gpt2.build("gpt2-tiny", "cpu", **build)
    fwd = torch.compile(model, fullgraph=True, backend=backend) if compiled else model
    gen = torch.Generator().manual_seed(1)
    x, y = (torch.randint(0, 512, (2, 64), generator=gen) for _ in range(2))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss = fwd(x, y)
    loss.backward()
    return loss.detach(), {name: p.grad for name, p in model.named_parameters()}
