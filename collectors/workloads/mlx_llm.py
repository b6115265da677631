"""LLM inference on MLX (Apple's array framework, what mlx-lm runs): prefill and decode of the same
Llama shapes as the torch workloads, with engine 'mlx'.

The model is mlx-lm's own Llama class built from a config (collectors.models.llama's shapes), with
MLX's random initialisation cast to bf16/fp16, or quantised with MLX's affine 8- or 4-bit weights
(`nn.quantize`, group size 64, the mlx-lm default): nothing is downloaded, and throughput does not
depend on weight values. On a Mac MLX runs on Metal (the GPU); elsewhere `mlx[cpu]` runs on the CPU.

Decode runs the way mlx_lm.generate_step does: one token per step from the KV cache, greedy, the
next step queued (`mx.async_eval`) before the previous token is read back. A repeat decodes `gen`
tokens after a `prompt`-token prompt, then trims the cache back to the prompt, so every repeat sees
the same context. Prefill processes the prompt in one call into a fresh cache. Timing, warm-up and
the energy window are common.warmup / common.measure, as for torch; a repeat ends in `mx.eval`, which
waits for MLX's stream, so the timing covers the work.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from typing import Any

from collectors.models.llama import CONFIGS, LlamaConfig
from collectors.records import Result, WorkloadParams
from collectors.workloads.common import (Context, failed_result, free_memory, measure, now, ok_result,
                                         too_big_result, warmup)

# dtype label -> (float dtype name, quantisation bits or None)
DTYPES: dict[str, tuple[str, int | None]] = {
    "bf16": ("bfloat16", None), "fp16": ("float16", None), "q8_g64": ("bfloat16", 8), "q4_g64": ("bfloat16", 4)}
GROUP_SIZE = 64  # mlx-lm's default quantisation group
# Bits per weight including one 16-bit scale and one 16-bit bias per group of 64 (MLX affine quantisation).
BITS_PER_WEIGHT = {None: 16.0, 8: 8 + 32 / GROUP_SIZE, 4: 4 + 32 / GROUP_SIZE}
INSTALL_HINT = "pip install 'costperf[mlx]' (on Linux: MLX's CPU build, mlx[cpu])"


def available() -> tuple[bool, str]:
    """Whether MLX and mlx-lm import here, and if not, why."""
    for mod in ("mlx", "mlx_lm"):
        if importlib.util.find_spec(mod) is None:
            return False, f"{mod} is not installed: {INSTALL_HINT}"
    return True, ""


def device_name() -> str:
    """'gpu' (Metal) or 'cpu': where MLX puts work by default."""
    import mlx.core as mx  # noqa: PLC0415

    return "gpu" if mx.default_device() == mx.gpu else "cpu"


@dataclass(frozen=True)
class MlxSpec:
    workload: str  # prefill | decode
    model: str
    dtype: str  # a key of DTYPES
    batch: int = 1
    prompt: int = 512
    gen: int = 128

    @property
    def context(self) -> int:
        return self.prompt + self.gen

    @property
    def task_id(self) -> str:
        return f"mlx-{self.workload}-{self.model}-{self.dtype}-b{self.batch}"

    def params(self, device: str) -> WorkloadParams:
        dtype, bits = DTYPES[self.dtype]
        extra: dict[str, str | int | float | bool | None] = {
            "context": self.context, "weights": "random", "sampling": "greedy", "device": f"mlx-{device}"}
        if bits:
            extra.update({"quantization": f"mlx affine {bits}-bit, group {GROUP_SIZE}", "activations": dtype})
        return WorkloadParams(model=self.model, dtype=self.dtype, batch=self.batch, prompt_tokens=self.prompt,
                              gen_tokens=self.gen if self.workload == "decode" else 0, compile_mode="eager",
                              engine="mlx", extra=extra)


def memory_needed_gb(model: str, dtype: str, batch: int, context: int) -> float:
    """Weights at MLX's bits per weight (scales and biases included) plus a 16-bit KV cache."""
    cfg = CONFIGS[model]
    bits = BITS_PER_WEIGHT[DTYPES[dtype][1]]
    return (cfg.n_params() * bits / 8 + cfg.kv_cache_bytes(batch, context)) / 1e9


def model_args(cfg: LlamaConfig) -> Any:
    from mlx_lm.models import llama  # noqa: PLC0415

    return llama.ModelArgs(model_type="llama", hidden_size=cfg.dim, num_hidden_layers=cfg.n_layers,
                           intermediate_size=cfg.ffn_dim, num_attention_heads=cfg.n_heads,
                           num_key_value_heads=cfg.n_kv_heads, rms_norm_eps=cfg.norm_eps,
                           vocab_size=cfg.vocab_size, rope_theta=cfg.rope_theta,
                           tie_word_embeddings=cfg.tied_embeddings)


def build(model: str, dtype: str) -> Any:
    """mlx-lm's Llama with random weights in `dtype`, evaluated layer by layer so that the float32
    initialisation of only one layer is alive at a time (an 8B model would not fit twice)."""
    import mlx.core as mx  # noqa: PLC0415
    import mlx.nn as nn  # noqa: PLC0415
    from mlx_lm.models import llama  # noqa: PLC0415

    float_name, bits = DTYPES[dtype]
    mx.random.seed(0)
    net = llama.Model(model_args(CONFIGS[model]))
    net.set_dtype(getattr(mx, float_name))
    if bits:
        nn.quantize(net, group_size=GROUP_SIZE, bits=bits)
    for part in [*net.model.layers, net]:
        mx.eval(part.parameters())
    return net


def bytes_per_token(net: Any, tied: bool) -> float:
    """Bytes of every array a decode step reads once, as for torch (gpt-fast's rule): all weights,
    quantisation scales and biases included, the embedding table only when it is the output layer
    too (tied); KV-cache reads are not counted."""
    from mlx.utils import tree_flatten  # noqa: PLC0415

    return float(sum(a.nbytes for name, a in tree_flatten(net.parameters())
                     if tied or not name.startswith("model.embed_tokens.")))


def get_model(ctx: Context, model: str, dtype: str) -> Any:
    """The model for (model, dtype), kept while consecutive tasks use it (one model of any engine at a time)."""
    key = f"mlx:{model}:{dtype}"
    if key not in ctx.cache:
        # torch's models too: on unified memory an 8B model kept by torch would halve what MLX can use
        ctx.cache.clear()
        free_memory(ctx.device)
        import mlx.core as mx  # noqa: PLC0415

        mx.clear_cache()
        ctx.cache[key] = build(model, dtype)
    return ctx.cache[key]


def _peak_memory_gb() -> float | None:
    import mlx.core as mx  # noqa: PLC0415

    return mx.get_peak_memory() / 1e9 or None


def run(spec: MlxSpec, ctx: Context) -> Result:
    started = now()
    ok, why = available()
    if not ok:
        return Result(workload=spec.workload, status="unsupported", message=why, started_at=started,
                      params=spec.params("none"))
    import mlx.core as mx  # noqa: PLC0415
    from mlx_lm.models.cache import make_prompt_cache  # noqa: PLC0415

    device = device_name()
    params = spec.params(device)
    need = memory_needed_gb(spec.model, spec.dtype, spec.batch, spec.context)
    extra: dict[str, Any] = {"memory_needed_gb": need}
    if ctx.usable_memory_gb is not None and need > ctx.usable_memory_gb:
        return too_big_result(spec.workload, params, started, need, ctx.usable_memory_gb, spec.context, **extra)
    try:
        net = get_model(ctx, spec.model, spec.dtype)
        tied = CONFIGS[spec.model].tied_embeddings
        if spec.workload == "decode":
            # weights are read once per step and shared by the batch's tokens
            extra["bytes_per_token"] = bytes_per_token(net, tied) / spec.batch
        mx.random.seed(0)
        prompt = mx.random.randint(0, CONFIGS[spec.model].vocab_size, (spec.batch, spec.prompt))
        mx.reset_peak_memory()
        if spec.workload == "prefill":
            def call() -> None:
                cache = make_prompt_cache(net)
                mx.eval(net(prompt, cache=cache)[:, -1].argmax(axis=-1))

            compile_s = warmup(call, ctx)
            timed = measure(call, spec.batch * spec.prompt, "tokens/s", ctx, tokens_per_call=spec.batch * spec.prompt)
        else:
            cache = make_prompt_cache(net)
            first = net(prompt, cache=cache)[:, -1].argmax(axis=-1)
            mx.eval(first, [c.state for c in cache])

            def call() -> None:
                tok = first
                for _ in range(spec.gen):
                    nxt = net(tok[:, None], cache=cache)[:, -1].argmax(axis=-1)
                    mx.async_eval(nxt)
                    tok.tolist()  # read the previous token back, as a generating loop does
                    tok = nxt
                mx.eval(tok)
                for c in cache:  # back to the prompt: every repeat decodes from the same context
                    c.trim(spec.gen)

            compile_s = warmup(call, ctx)
            timed = measure(call, spec.batch * spec.gen, "tokens/s", ctx, tokens_per_call=spec.batch * spec.gen)
        result = ok_result(spec.workload, params, timed, started, ctx, compile_s=compile_s, **extra)
        return result.model_copy(update={"peak_memory_gb": _peak_memory_gb()})
    except Exception as exc:  # noqa: BLE001 - an OOM or a missing kernel becomes a record; the suite goes on
        ctx.cache.pop(f"mlx:{spec.model}:{spec.dtype}", None)
        failed = failed_result(spec.workload, params, exc, started).model_copy(update=extra)
        if re.search(r"metal::malloc|insufficient memory|outofmemory", str(exc), re.IGNORECASE):
            failed = failed.model_copy(update={"status": "oom"})  # Metal's words for out of memory
        return failed
