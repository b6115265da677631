"""LLM inference: prefill (prompt 512) and decode (new tokens after a 512-token prompt).

The llama-bench convention (pp512 / tg128), batch 1 plus larger batches for throughput; bf16,
fp16 and int8 weight-only. Each runs eager and compiled, and the mode is recorded with the figure.
Compiled decode follows gpt-fast (static KV cache, inductor's coordinate-descent tuning on, each
step replayed as a CUDA graph) with one change: torch.compile compiles one layer function reused by
all layers (collectors/models/llama_fast.py), once per shape, instead of the whole model; at batch 1
on CUDA its linear layers are fused Triton matrix-vector kernels. The whole-model compile
(mode reduce-overhead) stays selectable: COSTPERF_DECODE_RUNNER=whole. On MPS and CPU there are no
CUDA graphs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from collectors.models import decode_attention, gemv_fused, llama, llama_fast
from collectors.models.int8 import quantize_int8, use_gemv_kernel
from collectors.records import Result, WorkloadParams
from collectors.workloads.common import Context, Timed, failed_result, free_memory, measure, now, ok_result, \
    reset_peak_memory, too_big_result, warmup

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.bfloat16}
DTYPE_LABEL = {"bf16": "bf16", "fp16": "fp16", "int8": "int8-weight-only"}


@dataclass(frozen=True)
class LlmSpec:
    workload: str  # prefill | decode
    model: str
    dtype: str  # bf16 | fp16 | int8
    compiled: bool
    batch: int = 1
    prompt: int = 512
    gen: int = 128
    coord_descent: bool | None = None  # None: the COSTPERF_COORD_DESCENT knob (on unless set to 0)

    @property
    def context(self) -> int:
        return self.prompt + self.gen

    def compile_mode(self, device_type: str) -> str:
        if not self.compiled:
            return "eager"
        if runner() == "whole":
            return "reduce-overhead" if device_type == "cuda" and self.workload == "decode" else "default"
        # one compiled layer function reused by every layer (llama_fast); decode steps as CUDA graphs
        return "layer-compiled+cuda-graph" if device_type == "cuda" and self.workload == "decode" else "layer-compiled"

    def params(self, device_type: str) -> WorkloadParams:
        return WorkloadParams(
            model=self.model, dtype=DTYPE_LABEL[self.dtype], batch=self.batch, prompt_tokens=self.prompt,
            gen_tokens=self.gen if self.workload == "decode" else 0, compile_mode=self.compile_mode(device_type),
            engine="torch", extra={"context": self.context, "weights": "random", "sampling": "greedy",
                                   **(knobs(self) if device_type == "cuda" else {})},
        )


def memory_needed_gb(model: str, dtype: str, batch: int, context: int) -> float:
    cfg = llama.CONFIGS[model]
    return llama.memory_needed_bytes(cfg, 1 if dtype == "int8" else 2, batch, context) / 1e9


def bytes_per_token(model: str, dtype: str) -> float:
    return float(llama.weight_bytes_per_token(llama.CONFIGS[model], 1 if dtype == "int8" else 2))


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "")


def runner() -> str:
    """COSTPERF_DECODE_RUNNER: 'layers' (default: llama_fast, one compiled layer function and a CUDA
    graph per decode step, compiled once per shape) or 'whole' (torch.compile of the whole model,
    mode reduce-overhead: ~100 s of compiling per variant for Llama-3-8B)."""
    value = os.environ.get("COSTPERF_DECODE_RUNNER", "layers").strip().lower()
    if value not in ("layers", "whole"):
        raise ValueError(f"COSTPERF_DECODE_RUNNER={value!r}: expected 'layers' or 'whole'")
    return value


def knobs(spec: "LlmSpec | None" = None) -> dict[str, bool | str]:
    """How the compiled paths are tuned (recorded with each figure). COSTPERF_COORD_DESCENT: inductor's
    coordinate-descent tuning (gpt-fast turns it on; on an H100 it took 8B bf16 decode from 148 to
    165 tok/s and added ~30 s of compiling). COSTPERF_TRITON_GEMV (whole-model runner only): the
    batch-1 Triton GEMV for 16-bit linear layers instead of cuBLAS (off: cuBLAS gave 169 tok/s against
    165; int8 always uses it). With the layers runner, COSTPERF_FUSED_GEMV: batch-1 linear layers
    through the fused Triton kernel (gemv_fused; on unless 0), COSTPERF_FUSED_ATTN: batch-1 attention
    as one Triton kernel (decode_attention; on unless 0), COSTPERF_PDL: GEMVs with programmatic
    dependent launch, each kernel's first weight block read while the one before ends (1 or 0; unset:
    on for int8 weights, off for 16-bit. Measured on two H200s, each setting on each GPU: int8 391.3
    tok/s with it against 385.4/384.9 without, bf16 244.9/244.8 against 250.6/250.5: int8 kernels
    stream half the bytes, so their boundaries weigh twice as much), COSTPERF_PDL_ATTN: the attention
    kernel and its merge launched the same way, the attention reading its slice of the cache before
    it waits (1 or 0; unset: as COSTPERF_PDL),
    COSTPERF_GEMV_CONFIGS: the fused kernel's block shapes by matrix, over its committed table,
    COSTPERF_I8_CONVERT: how its int8 weights become floats (gemv_fused.I8_CONVERT)."""
    cd = _env_flag("COSTPERF_COORD_DESCENT", True)
    if spec is not None and spec.coord_descent is not None:
        cd = spec.coord_descent
    out: dict[str, bool | str] = {"coordinate_descent_tuning": cd and spec is not None and spec.compiled,
                                  "runner": runner()}
    if runner() == "whole":
        out["triton_gemv_16bit"] = _env_flag("COSTPERF_TRITON_GEMV", False)
    else:
        fused = _env_flag("COSTPERF_FUSED_GEMV", True) and (spec is None or (spec.batch == 1 and spec.compiled))
        out["fused_gemv_b1"] = fused
        out["pdl"] = fused and _env_flag("COSTPERF_PDL", spec is not None and spec.dtype == "int8")
        out["fused_attention_b1"] = fused and _env_flag("COSTPERF_FUSED_ATTN", True)
        out["pdl_attention"] = out["fused_attention_b1"] and _env_flag("COSTPERF_PDL_ATTN", bool(out["pdl"]))
        if out["fused_attention_b1"]:  # where its partial results are merged (COSTPERF_ATTN_COMBINE)
            out["attention_merge"] = decode_attention.combine_mode()
        given = os.environ.get("COSTPERF_GEMV_CONFIGS", "").strip()
        if fused and given:  # block shapes over the committed table (gemv_fused.config_for)
            out["gemv_configs"] = given
        if fused and (spec is None or spec.dtype == "int8"):
            out["int8_convert"] = gemv_fused.i8_convert()
    return out


def _configure_inductor(spec: LlmSpec) -> None:
    import torch._inductor.config as inductor  # noqa: PLC0415

    inductor.coordinate_descent_tuning = knobs(spec)["coordinate_descent_tuning"]
    inductor.triton.unique_kernel_names = True
    inductor.fx_graph_cache = True


def get_model(ctx: Context, model: str, dtype: str) -> llama.Llama:
    """The model for (model, dtype), built once and kept while consecutive tasks use it.
    int8 is derived from the bf16 model in place (its linear layers swapped), so a bf16 model is
    dropped once an int8 one is asked for."""
    key = f"llama:{model}:{dtype}"
    if key in ctx.cache:
        return ctx.cache[key]
    bf16_key = f"llama:{model}:bf16"
    base = ctx.cache.pop(bf16_key, None) if dtype == "int8" else None
    for k in [k for k in ctx.cache if k.startswith("llama:")]:
        del ctx.cache[k]
    free_memory(ctx.device)
    if base is None:
        base = llama.build(model, DTYPES[dtype], ctx.device)
    if dtype == "int8":
        quantize_int8(base, random=True)
    elif ctx.kind == "cuda" and knobs().get("triton_gemv_16bit"):
        use_gemv_kernel(base)
    ctx.cache[key] = base
    return base


def _decode_step(model: llama.Llama, tokens: torch.Tensor, input_pos: torch.Tensor) -> torch.Tensor:
    logits = model(tokens, input_pos)
    return logits[:, -1].argmax(dim=-1, keepdim=True)


def _prefill(model: llama.Llama, tokens: torch.Tensor, input_pos: torch.Tensor) -> torch.Tensor:
    return model(tokens, input_pos)[:, -1].argmax(dim=-1, keepdim=True)


def _sdpa_context(device_type: str):  # noqa: ANN202
    # gpt-fast runs decode attention through the math kernel: with one query and a boolean mask it
    # is what inductor fuses best
    from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415

    return sdpa_kernel([SDPBackend.MATH]) if device_type == "cuda" else _null()


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def _run_layers(spec: LlmSpec, ctx: Context, model: llama.Llama) -> tuple[Timed, float]:
    """Compiled prefill or decode through llama_fast: compiled once per shape (no dynamo reset, so a
    later task of the same shape reuses the compiled layer); on CUDA, decode replays one CUDA graph
    per step. Returns the timing and the warm-up seconds (compiling and graph capture)."""
    k = knobs(spec)
    fast = llama_fast.FastLlama(model, spec.batch, spec.context, compile=True, fused_b1=bool(k.get("fused_gemv_b1")),
                                pdl=bool(k.get("pdl")), coordinate_descent=bool(k["coordinate_descent_tuning"]),
                                fused_attn=bool(k.get("fused_attention_b1")), pdl_attn=bool(k.get("pdl_attention")))
    gen = torch.Generator(device="cpu").manual_seed(0)
    prompt = torch.randint(0, model.cfg.vocab_size, (spec.batch, spec.prompt), generator=gen).to(ctx.device)
    prompt_pos = torch.arange(spec.prompt, device=ctx.device)
    with torch.no_grad():
        if spec.workload == "prefill":
            def call() -> None:
                fast.forward(prompt, prompt_pos)

            compile_s = warmup(call, ctx)
            return measure(call, spec.batch * spec.prompt, "tokens/s", ctx,
                           tokens_per_call=spec.batch * spec.prompt), compile_s
        first = _prefill(model, prompt, prompt_pos)  # eager: fills the KV cache for the prompt
        t0 = time.perf_counter()
        if ctx.kind == "cuda":
            fast.capture(first, spec.prompt)

        def step() -> None:
            fast.decode(first, spec.prompt, spec.gen)

        compile_s = time.perf_counter() - t0 + warmup(step, ctx)
        return measure(step, spec.batch * spec.gen, "tokens/s", ctx, tokens_per_call=spec.batch * spec.gen), compile_s


def run(spec: LlmSpec, ctx: Context) -> Result:
    started = now()
    params = spec.params(ctx.kind)
    need = memory_needed_gb(spec.model, spec.dtype, spec.batch, spec.context)
    # Weights are read once per forward pass and shared by every token in it: per decoded token that
    # is the weight bytes over the batch; prefill is compute-bound, so it gets no per-token figure.
    per_token = bytes_per_token(spec.model, spec.dtype) / spec.batch if spec.workload == "decode" else None
    extra = {"bytes_per_token": per_token, "memory_needed_gb": need}
    if ctx.usable_memory_gb is not None and need > ctx.usable_memory_gb:
        return too_big_result(spec.workload, params, started, need, ctx.usable_memory_gb, spec.context, **extra)
    try:
        model = get_model(ctx, spec.model, spec.dtype)
        reset_peak_memory(ctx.device)
        if spec.compiled and runner() == "layers":
            timed, compile_s = _run_layers(spec, ctx, model)
            return ok_result(spec.workload, params, timed, started, ctx, compile_s=compile_s, **extra)
        model.setup_caches(spec.batch, spec.context)
        if spec.compiled:
            _configure_inductor(spec)
            torch._dynamo.reset()
        gen = torch.Generator(device="cpu").manual_seed(0)
        vocab = model.cfg.vocab_size
        prompt = torch.randint(0, vocab, (spec.batch, spec.prompt), generator=gen).to(ctx.device)
        prompt_pos = torch.arange(spec.prompt, device=ctx.device)
        # the math attention kernel suits decode's single query only (see _sdpa_context)
        with torch.no_grad(), _sdpa_context(ctx.kind) if spec.workload == "decode" else _null():
            if spec.workload == "prefill":
                fn = torch.compile(_prefill, fullgraph=True, dynamic=False) if spec.compiled else _prefill

                def call() -> None:
                    fn(model, prompt, prompt_pos)

                compile_s = warmup(call, ctx)
                timed = measure(call, spec.batch * spec.prompt, "tokens/s", ctx,
                                tokens_per_call=spec.batch * spec.prompt)
            else:
                step = (torch.compile(_decode_step, mode=params.compile_mode, fullgraph=True, dynamic=False)
                        if spec.compiled else _decode_step)
                first = _prefill(model, prompt, prompt_pos)
                positions = [torch.tensor([spec.prompt + i], device=ctx.device) for i in range(spec.gen)]

                def call() -> None:
                    tok = first
                    for pos in positions:
                        tok = step(model, tok, pos).clone()

                compile_s = warmup(call, ctx)
                timed = measure(call, spec.batch * spec.gen, "tokens/s", ctx, tokens_per_call=spec.batch * spec.gen)
        return ok_result(spec.workload, params, timed, started, ctx, compile_s=compile_s, **extra)
    except Exception as exc:  # noqa: BLE001 - an OOM or a backend gap becomes a record; the suite goes on
        free_memory(ctx.device)
        return failed_result(spec.workload, params, exc, started).model_copy(update=extra)
