"""Tensor-parallel decode of a Llama-3 shape over N devices, as gpt-fast's tp.py does it.

Each rank keeps 1/N of every attention and feed-forward layer: the fused q/k/v and gate/up
projections split by output rows (whole heads, q, k and v each split), the output projections
split by input columns, and one all-reduce (sum) after each attention and each feed-forward
block; embedding, norms and output layer stay whole on every rank. The KV cache holds the rank's
own heads. The all-reduce is torch's functional collective, so the decode step compiles (on CUDA
as a CUDA graph, mode reduce-overhead) with the collective inside.

Tokens per second counts the group's tokens once: the ranks share every token's work.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed._functional_collectives as funcol
from torch import nn

from collectors.distributed import assemble, runtime
from collectors.distributed.runtime import DistContext
from collectors.models import llama
from collectors.records import Result, WorkloadParams
from collectors.workloads import llm

WORKLOAD = "decode-tp"
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass(frozen=True)
class TpSpec:
    model: str = "llama-3-8b"
    dtype: str = "bf16"  # fp32 on CPUs, which emulate bf16 matrix products slowly
    compiled: bool = True
    batch: int = 1
    prompt: int = 512
    gen: int = 128

    def shardable(self, n: int) -> bool:
        cfg = llama.CONFIGS[self.model]
        return cfg.n_kv_heads % n == 0 and cfg.n_heads % n == 0 and cfg.ffn_dim % n == 0

    def compile_mode(self, device_type: str) -> str:
        if not self.compiled:
            return "eager"
        return "reduce-overhead" if device_type == "cuda" else "default"

    def params(self, device_type: str, n: int) -> WorkloadParams:
        return WorkloadParams(
            model=self.model, dtype=self.dtype, batch=self.batch, prompt_tokens=self.prompt, gen_tokens=self.gen,
            compile_mode=self.compile_mode(device_type), engine="torch tensor parallel (gpt-fast tp.py layout)",
            extra={"tp_degree": n, "context": self.prompt + self.gen, "weights": "random", "sampling": "greedy"},
        )


def _configure_inductor() -> dict[str, bool]:
    """gpt-fast's settings for compiled decode; returned to be recorded with the figure."""
    import torch._inductor.config as inductor  # noqa: PLC0415

    inductor.coordinate_descent_tuning = True
    inductor.triton.unique_kernel_names = True
    inductor.fx_graph_cache = True
    return {"coordinate_descent_tuning": True}


def decode_step(model: llama.Llama, tokens: torch.Tensor, input_pos: torch.Tensor) -> torch.Tensor:
    """One greedy token per sequence."""
    return model(tokens, input_pos)[:, -1].argmax(dim=-1, keepdim=True)


def _sdpa_context(device_type: str) -> Any:
    # as gpt-fast: one query against a boolean mask goes through the math kernel, which inductor fuses
    from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415

    return sdpa_kernel([SDPBackend.MATH]) if device_type == "cuda" else contextlib.nullcontext()


def _rows(w: torch.Tensor, sizes: list[int], n: int, i: int) -> torch.Tensor:
    """Rank i's rows of each part of a fused weight (parts of `sizes` rows each), concatenated."""
    return torch.cat([part.chunk(n, dim=0)[i] for part in w.split(sizes, dim=0)], dim=0).contiguous()


def _cols(w: torch.Tensor, n: int, i: int) -> torch.Tensor:
    return w.chunk(n, dim=1)[i].contiguous()


def shard(model: llama.Llama, n: int, i: int, group: Any) -> llama.Llama:
    """Keep rank i's 1/n of every block in place; sum the partial outputs with an all-reduce."""
    if n == 1:
        return model
    cfg = model.cfg
    local = dataclasses.replace(cfg, dim=cfg.dim // n, n_heads=cfg.n_heads // n,
                                n_kv_heads=cfg.n_kv_heads // n, ffn_dim=cfg.ffn_dim // n)

    def reduce(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        return funcol.all_reduce(output, "sum", group)

    with torch.no_grad():
        for layer in model.layers:
            attn, ff = layer.attention, layer.feed_forward
            attn.wqkv.weight = nn.Parameter(_rows(attn.wqkv.weight, [cfg.dim, cfg.kv_dim, cfg.kv_dim], n, i),
                                            requires_grad=False)
            attn.wo.weight = nn.Parameter(_cols(attn.wo.weight, n, i), requires_grad=False)
            attn.cfg = local
            ff.w13.weight = nn.Parameter(_rows(ff.w13.weight, [cfg.ffn_dim, cfg.ffn_dim], n, i), requires_grad=False)
            ff.w2.weight = nn.Parameter(_cols(ff.w2.weight, n, i), requires_grad=False)
            ff.ffn_dim = local.ffn_dim
            attn.register_forward_hook(reduce)
            ff.register_forward_hook(reduce)
    # setup_caches sizes the KV cache from the model's config: the rank's own kv heads
    model.cfg = dataclasses.replace(cfg, n_heads=local.n_heads, n_kv_heads=local.n_kv_heads, dim=local.dim)
    return model


def run(spec: TpSpec, dctx: DistContext, size: int) -> Result | None:
    started = assemble._now()
    kind = dctx.device.type
    params = spec.params(kind, size)
    pl = None
    if dctx.member(size):
        runtime.reset_memory(dctx)
        torch.manual_seed(0)  # every rank builds the same full weights, then keeps its slice
        model = llama.build(spec.model, DTYPES[spec.dtype], dctx.device)
        model = shard(model, size, dctx.rank, dctx.group(size))
        runtime.reset_memory(dctx)
        model.setup_caches(spec.batch, spec.prompt + spec.gen)
        mode = spec.compile_mode(kind)
        if spec.compiled:
            params.extra.update(_configure_inductor())
            torch._dynamo.reset()
        gen = torch.Generator(device="cpu").manual_seed(0)  # the same prompt on every rank
        prompt = torch.randint(0, model.cfg.vocab_size, (spec.batch, spec.prompt), generator=gen).to(dctx.device)
        prompt_pos = torch.arange(spec.prompt, device=dctx.device)
        step = torch.compile(decode_step, mode=mode, fullgraph=True, dynamic=False) if spec.compiled \
            else decode_step
        positions = [torch.tensor([spec.prompt + k], device=dctx.device) for k in range(spec.gen)]
        with torch.no_grad(), _sdpa_context(kind):
            first = decode_step(model, prompt, prompt_pos)  # the prefill, eager

            generated: list[torch.Tensor] = []

            def call() -> None:
                tok = first
                generated.clear()
                for pos in positions:
                    tok = step(model, tok, pos).clone()
                    generated.append(tok)

            timing = runtime.timed_steps(dctx, size, WORKLOAD, call)
            # the greedy tokens of the last repeat: equal at every tensor-parallel degree when the
            # sharding is right (fp32; lower precisions may round differently)
            head = ",".join(str(int(t[0, 0])) for t in generated[:16])
        pl = runtime.payload(dctx, timing, tokens_head=head)
        del model, step
        runtime.reset_memory(dctx)
    members = runtime.gather(dctx, pl)
    if members is None:
        return None
    tokens = spec.batch * spec.gen
    reps = len(members[0]["seconds"])
    return assemble.ok_result(
        WORKLOAD, params, "tokens/s", members, runtime.scale_of(dctx, size), started, work_per_step=float(tokens),
        rank_value=lambda p: runtime.median([tokens / s for s in p["seconds"]]), tokens_total=tokens * reps,
        bytes_per_token=llm.bytes_per_token(spec.model, spec.dtype),
        outputs={"repeats": reps, "tokens_per_repeat": tokens, "tp_degree": size,
                 "greedy_tokens_head": members[0]["tokens_head"],
                 "ranks_agree": len({p["tokens_head"] for p in members}) == 1},
    )
