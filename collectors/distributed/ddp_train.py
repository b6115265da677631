"""Data-parallel training (DistributedDataParallel) of the GPT-2-style model at 1..N ranks.

Every rank runs full steps (forward, backward with DDP's bucketed gradient all-reduce overlapping
it, AdamW step) on its own batch of synthetic tokens, so the group processes
ranks x batch x sequence tokens per step, exactly. On a Mac, gloo cannot reduce MPS tensors and DDP's own setup
collectives would hand it some, so the gradients are averaged without DDP: flattened after
backward, copied to CPU, all-reduced through gloo and copied back (no overlap with backward); the
record says so. That path is written for Macs and untested on one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from collectors.distributed import assemble, runtime
from collectors.distributed.runtime import DistContext
from collectors.models import gpt2
from collectors.records import Result, WorkloadParams

WORKLOAD = "train-gpt2-ddp"


@dataclass(frozen=True)
class DdpSpec:
    model: str = "gpt2-124m"
    batch: int = 16  # per rank
    seq_len: int = 1024
    compiled: bool = False

    def params(self, device_type: str, staged: bool) -> WorkloadParams:
        amp = device_type in ("cuda", "mps")
        return WorkloadParams(
            model=self.model, dtype="bf16-autocast" if amp else "fp32", batch=self.batch, seq_len=self.seq_len,
            compile_mode="default" if self.compiled else "eager",
            engine="torch data parallel (CPU-staged)" if staged else "torch DDP",
            extra={"optimizer": "AdamW", "data": "synthetic random tokens", "weights": "random",
                   "batch_is": "per rank", "gradient_allreduce": "flattened, staged through CPU (gloo), after backward" if staged
                   else "DDP buckets, overlapping backward"},
        )


def average_grads_through_cpu(model: torch.nn.Module, group: Any) -> None:
    """Average gradients over the group through gloo on CPU copies (for MPS tensors)."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads]).to("cpu")
    dist.all_reduce(flat, group=group)
    flat.div_(dist.get_world_size(group))
    offset = 0
    device_flat = flat.to(grads[0].device)
    for g in grads:
        g.copy_(device_flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def run(spec: DdpSpec, dctx: DistContext, size: int) -> Result | None:
    started = assemble._now()
    kind = dctx.device.type
    params = spec.params(kind, dctx.staged_through_cpu)
    cfg = gpt2.CONFIGS[spec.model]
    tokens_per_step = spec.batch * spec.seq_len
    pl = None
    if dctx.member(size):
        runtime.reset_memory(dctx)
        torch.manual_seed(0)  # same initial weights on every rank, as a broadcast would give
        model = gpt2.build(spec.model, dctx.device)
        group = dctx.group(size)
        if kind == "cuda":
            ddp: torch.nn.Module = DDP(model, device_ids=[dctx.device.index], process_group=group)
        elif dctx.staged_through_cpu:
            ddp = model  # same seed on every rank: the weights start equal without a broadcast
        else:
            ddp = DDP(model, process_group=group)
        opt = gpt2.adamw(model, kind)
        fwd = torch.compile(ddp) if spec.compiled else ddp
        gen = torch.Generator().manual_seed(1000 + dctx.rank)  # each rank its own data
        x = torch.randint(0, cfg.vocab_size, (spec.batch, spec.seq_len), generator=gen).to(dctx.device)
        y = torch.randint(0, cfg.vocab_size, (spec.batch, spec.seq_len), generator=gen).to(dctx.device)
        amp = torch.bfloat16 if kind in ("cuda", "mps") else None

        def step() -> None:
            with torch.autocast(kind, dtype=amp, enabled=amp is not None):
                loss = fwd(x, y)
            loss.backward()
            if dctx.staged_through_cpu:
                average_grads_through_cpu(model, group)
            opt.step()
            opt.zero_grad(set_to_none=True)

        timing = runtime.timed_steps(dctx, size, WORKLOAD, step, warmup_reps=3 if spec.compiled else None)
        # data parallelism keeps every replica equal: a checksum of the weights after training shows it
        with torch.no_grad():
            checksum = float(sum(p.double().sum() for p in model.parameters()))
        pl = runtime.payload(dctx, timing, tokens_per_step=tokens_per_step, weights_checksum=checksum)
        del ddp, fwd, model, opt
        runtime.reset_memory(dctx)
    members = runtime.gather(dctx, pl)
    if members is None:
        return None
    return assemble.training_result(
        WORKLOAD, params, members, runtime.scale_of(dctx, size), started, size, tokens_per_step,
        float(cfg.flops_per_token(spec.seq_len)),
        outputs={"replicas_equal": _equal([p["weights_checksum"] for p in members])},
    )


def _equal(values: list[float]) -> bool:
    return max(values) - min(values) <= 1e-9 * max(1.0, max(abs(v) for v in values))
