"""Fully sharded data-parallel training (FSDP2, torch.distributed.fsdp.fully_shard) of a Llama-3
shape: parameters, gradients and AdamW state sharded over the ranks, each decoder block one unit
(gathered for its forward and backward, its gradients reduce-scattered), the root holding the
embedding and output layer. bf16 compute with fp32 master weights and fp32 gradient reduction on
CUDA; fp32 elsewhere.

The reference model's static KV cache is for decoding; training runs the same blocks over whole
sequences, so each block's cache is swapped for a pass-through and the causal mask covers the
training sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from collectors.distributed import assemble, runtime
from collectors.distributed.runtime import DistContext
from collectors.models import llama
from collectors.records import Result, WorkloadParams

WORKLOAD = "train-llama-fsdp"


@dataclass(frozen=True)
class FsdpSpec:
    model: str = "llama-3-1b"
    batch: int = 2  # per rank
    seq_len: int = 2048

    def params(self, device_type: str) -> WorkloadParams:
        return WorkloadParams(
            model=self.model, dtype="bf16-mixed (fp32 master)" if device_type == "cuda" else "fp32",
            batch=self.batch, seq_len=self.seq_len, compile_mode="eager", engine="torch FSDP2 (fully_shard)",
            extra={"optimizer": "AdamW", "data": "synthetic random tokens", "weights": "random",
                   "batch_is": "per rank", "sharding": "per decoder block + root"},
        )


def flops_per_token(cfg: llama.LlamaConfig, seq_len: int) -> float:
    """6N + 12 L d T (PaLM appendix B): N counts the matrices a token goes through, so the
    embedding table only when it doubles as the output layer."""
    n = cfg.n_params() - (0 if cfg.tied_embeddings else cfg.embedding_params())
    return float(6 * n + 12 * cfg.n_layers * cfg.dim * seq_len)


class PassThroughCache(nn.Module):
    """Stands in for the decode KV cache: training attends over the keys of the sequence itself."""

    def update(self, input_pos: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return k, v


def build_for_training(name: str, batch: int, seq_len: int, device: torch.device) -> llama.Llama:
    model = llama.Llama(llama.CONFIGS[name], dtype=torch.float32, device=device)
    model.setup_caches(batch, seq_len)  # the RoPE and causal-mask tables for seq_len positions
    for layer in model.layers:
        layer.attention.kv_cache = PassThroughCache()
    return model.train()


def run(spec: FsdpSpec, dctx: DistContext, size: int) -> Result | None:
    from torch.distributed.device_mesh import DeviceMesh  # noqa: PLC0415
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard  # noqa: PLC0415

    started = assemble._now()
    kind = dctx.device.type
    params = spec.params(kind)
    cfg = llama.CONFIGS[spec.model]
    tokens_per_step = spec.batch * spec.seq_len
    pl = None
    if dctx.member(size):
        runtime.reset_memory(dctx)
        torch.manual_seed(0)
        model = build_for_training(spec.model, spec.batch, spec.seq_len, dctx.device)
        mesh = DeviceMesh.from_group(dctx.group(size), device_type=kind)
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if kind == "cuda" \
            else MixedPrecisionPolicy()
        for layer in model.layers:
            fully_shard(layer, mesh=mesh, mp_policy=mp)
        fully_shard(model, mesh=mesh, mp_policy=mp)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
        gen = torch.Generator().manual_seed(1000 + dctx.rank)
        x = torch.randint(0, cfg.vocab_size, (spec.batch, spec.seq_len), generator=gen).to(dctx.device)
        y = torch.randint(0, cfg.vocab_size, (spec.batch, spec.seq_len), generator=gen).to(dctx.device)
        pos = torch.arange(spec.seq_len, device=dctx.device)

        def step() -> None:
            logits = model(x, pos)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        timing = runtime.timed_steps(dctx, size, WORKLOAD, step)
        pl = runtime.payload(dctx, timing, tokens_per_step=tokens_per_step)
        del model, opt
        runtime.reset_memory(dctx)
    members = runtime.gather(dctx, pl)
    if members is None:
        return None
    return assemble.training_result(
        WORKLOAD, params, members, runtime.scale_of(dctx, size), started, size, tokens_per_step,
        flops_per_token(cfg, spec.seq_len),
    )
