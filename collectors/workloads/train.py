"""Training: full steps (forward, backward, AdamW step) of the GPT-2-style model.

Synthetic tokens (nanoGPT bench.py's `real_data = False`): throughput does not depend on the data.
bf16 autocast on CUDA and MPS; on a CPU fp32, because most CPUs emulate bf16 matrix products.
Tokens per step = batch x sequence length; MFU is computed in the report from flops_per_token and
the machine file's peak.
On CUDA the output layer and the loss run fused (linear_cross_entropy.py: one pass over the
logits); COSTPERF_LOSS=torch (or TrainSpec.loss) keeps F.cross_entropy. Likewise the bias gradients
are made with their output gradients: the q/k/v projection's and the MLP's first (bias_grads.py, which
also makes the MLP's GELU in a kernel of its own), and the output projections' with the residual add
and the LayerNorm after it (residual_norm.py); COSTPERF_BIAS_GRADS=torch (or TrainSpec.bias_grads)
leaves them to autograd. Attention is SDPA's, cuDNN's kernels first; COSTPERF_SDPA=flash4 (or
TrainSpec.attention) asks for FlashAttention-4's on a Hopper GPU (flash4.py). All are recorded.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from collectors.models import bias_grads, flash4, gpt2, linear_cross_entropy
from collectors.records import Result, WorkloadParams
from collectors.workloads.common import Context, failed_result, free_memory, measure, now, ok_result, \
    reset_peak_memory, warmup


@dataclass(frozen=True)
class TrainSpec:
    model: str = "gpt2-124m"
    batch: int = 16
    seq_len: int = 1024
    compiled: bool = False
    mode: str | None = None  # torch.compile mode when compiled: None = COSTPERF_TRAIN_COMPILE_MODE (default "default")
    steps_per_rep: int = 1  # several steps per timed repeat smooth out per-step launch jitter
    # attention on CUDA: the SDPA backend tried first, or "flash4" (FlashAttention-4's Hopper kernels,
    # flash4.py; SDPA's cuDNN first for anything else): None = COSTPERF_SDPA (default cudnn)
    attention: str | None = None
    loss: str | None = None  # "fused" or "torch": None = COSTPERF_LOSS (default fused on CUDA with Triton)
    bias_grads: str | None = None  # "fused" or "torch": None = COSTPERF_BIAS_GRADS (default as the loss)

    def autocast_dtype(self, device_type: str) -> torch.dtype | None:
        return torch.bfloat16 if device_type in ("cuda", "mps") else None

    def attention_backend(self, device_type: str) -> str | None:
        if device_type != "cuda":
            return None
        value = (self.attention or os.environ.get("COSTPERF_SDPA") or "cudnn").strip().lower()
        if value not in SDPA_ORDER:
            raise ValueError(f"attention backend {value!r} (TrainSpec.attention or COSTPERF_SDPA): expected one "
                             f"of {', '.join(SDPA_ORDER)}")
        return value

    def compile_mode(self) -> str:
        """torch.compile's mode for the compiled step: TrainSpec.mode, else COSTPERF_TRAIN_COMPILE_MODE,
        else "default"; "reduce-overhead" replays the step as CUDA graphs."""
        return _choice("mode", self.mode, COMPILE_MODE_ENV, COMPILE_MODES, "default")

    def loss_impl(self, device_type: str) -> str:
        """"fused" (output layer + cross-entropy in one pass over the logits, linear_cross_entropy.py)
        or "torch" (F.cross_entropy over the logits). Fused by default only where its Triton kernel
        runs; elsewhere it would run the same math in torch ops, slower than the unfused loss."""
        return _choice("loss", self.loss, LOSS_ENV, LOSSES, "fused" if _triton_runs(device_type) else "torch")

    def bias_grads_impl(self, device_type: str) -> str:
        """"fused" (bias gradients made with their output gradients, bias_grads.py and
        residual_norm.py) or "torch"
        (autograd's own pass), by default fused only where its Triton kernels run."""
        return _choice("bias_grads", self.bias_grads, BIAS_GRADS_ENV, BIAS_GRADS,
                       "fused" if _triton_runs(device_type) else "torch")

    def loss_label(self, device_type: str) -> str:
        value = self.loss_impl(device_type)
        if value == "fused" and not _triton_runs(device_type):
            return f"{LOSSES[value]} (torch ops)"
        if value == "fused" and os.environ.get(linear_cross_entropy.BLOCK_ENV, "").strip():
            block, warps, per_sm = linear_cross_entropy.block_config()  # a shape being tried is recorded
            grid = f", {per_sm} programs per SM" if per_sm else ""
            return f"{LOSSES[value]} (kernel blocks {block}, {warps} warps{grid})"
        return LOSSES[value]

    def params(self, device_type: str, fused: bool) -> WorkloadParams:
        dt = self.autocast_dtype(device_type)
        extra: dict[str, str | int | float | bool | None] = {
            "optimizer": "AdamW (fused)" if fused else "AdamW", "data": "synthetic random tokens",
            "weights": "random", "steps_per_repeat": self.steps_per_rep, "loss": self.loss_label(device_type)}
        backend = self.attention_backend(device_type)
        packed = backend == FLASH4 and gpt2.PACKED_QKV
        extra["bias_grads"] = bias_grads_label(self.bias_grads_impl(device_type), packed)
        if backend == FLASH4:
            extra["attention"] = flash4.label()
            extra["attention_kernels"] = flash4.kernels_label(packed)
        elif backend:
            extra["sdpa_backend_first"] = backend
        return WorkloadParams(
            model=self.model, dtype="bf16-autocast" if dt is not None else "fp32", batch=self.batch,
            seq_len=self.seq_len, compile_mode=self.compile_mode() if self.compiled else "eager", engine="torch",
            extra=extra,
        )


def _choice(field: str, given: str | None, env: str, choices: dict[str, str], default: str) -> str:
    """TrainSpec.<field> where given, else the environment variable `env`, else `default`; checked."""
    value = (given or os.environ.get(env) or default).strip().lower()
    if value not in choices:
        raise ValueError(f"{field} {value!r} (TrainSpec.{field} or {env}): expected one of {', '.join(choices)}")
    return value


def _triton_runs(device_type: str) -> bool:
    """Whether the fused loss's and the bias gradients' Triton kernels run here, not their torch-ops
    form (both modules take Triton from linear_cross_entropy.TRITON)."""
    return device_type == "cuda" and linear_cross_entropy.TRITON


COMPILE_MODE_ENV = "COSTPERF_TRAIN_COMPILE_MODE"
COMPILE_MODES = {m: m for m in ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")}
LOSS_ENV = "COSTPERF_LOSS"
LOSSES = {"fused": "fused linear+cross-entropy", "torch": "torch cross-entropy"}
BIAS_GRADS_ENV = "COSTPERF_BIAS_GRADS"
BIAS_GRADS = {"fused": "with their output gradients (q/k/v, MLP in, output projections)", "torch": "autograd"}


def bias_grads_label(impl: str, packed_qkv: bool = False) -> str:
    """What ran, recorded: the output projections' bias gradients (gpt2.RESIDUAL_NORMS) and the MLP's
    forward GELU (bias_grads.GELU_KERNEL) may be left to torch for a measurement of the two; with
    FlashAttention-4 taking q/k/v packed, the q/k/v bias gradient is autograd's sum over the packed
    gradient its kernels write."""
    if impl != "fused":
        return BIAS_GRADS[impl]
    layers = [name for name, on in (("q/k/v", not packed_qkv), ("MLP in", True), ("output projections",
                                                                                 gpt2.RESIDUAL_NORMS)) if on]
    label = f"with their output gradients ({', '.join(layers)})"
    if packed_qkv:
        label += "; q/k/v's by autograd from the packed gradient"
    return label if bias_grads.GELU_KERNEL else f"{label}; the forward's GELU by torch"

# Not SDPA: FlashAttention-4's kernels (flash4.py). On an H200, on q/k/v packed as GPT-2's projection
# writes them, 1.21 ms a layer forward and backward against cuDNN's 1.48 ms (a slower forward, a
# faster backward), and 1.6-2.6% more tokens a second in the whole step at the GPU's power limit;
# an optional package for Hopper only, so asked for, never the default.
FLASH4 = "flash4"
# The SDPA backends tried in turn, by the one asked for first. On Hopper, cuDNN's fused attention
# is the fastest torch offers for GPT-2's causal 12-head, 64-wide attention; torch's own default
# order tries flash (FlashAttention-2) first. A backend that cannot take the inputs is skipped.
# With FlashAttention-4, cuDNN's order, for any attention its kernels do not take.
SDPA_ORDER = {"cudnn": ["CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH"],
              "flash": ["FLASH_ATTENTION", "CUDNN_ATTENTION", "EFFICIENT_ATTENTION", "MATH"],
              "auto": [],
              FLASH4: ["CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH"]}


def _sdpa_context(backend: str | None):  # noqa: ANN202
    if not backend or not SDPA_ORDER[backend]:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: PLC0415

    return sdpa_kernel([getattr(SDPBackend, name) for name in SDPA_ORDER[backend]], set_priority=True)


def run(spec: TrainSpec, ctx: Context) -> Result:
    started = now()
    cfg = gpt2.CONFIGS[spec.model]
    params = spec.params(ctx.kind, fused=False)
    try:
        for k in list(ctx.cache):  # the LLM models are done with by now
            del ctx.cache[k]
        free_memory(ctx.device)
        reset_peak_memory(ctx.device)
        backend = spec.attention_backend(ctx.kind)
        if backend == FLASH4 and (why := flash4.unusable_reason(ctx.device)):
            raise RuntimeError(f"attention {FLASH4!r} (TrainSpec.attention or COSTPERF_SDPA) asked for "
                               f"FlashAttention-4's kernels, which cannot run here: {why}")
        torch.manual_seed(0)
        model = gpt2.build(spec.model, ctx.device, fused_loss=spec.loss_impl(ctx.kind) == "fused",
                           fused_bias_grads=spec.bias_grads_impl(ctx.kind) == "fused", flash4=backend == FLASH4)
        opt = gpt2.adamw(model, ctx.kind)
        fused = bool(opt.defaults.get("fused"))
        params = spec.params(ctx.kind, fused=fused)
        fwd = torch.compile(model, mode=spec.compile_mode()) if spec.compiled else model
        if spec.compiled:
            torch._dynamo.reset()
        x = torch.randint(0, cfg.vocab_size, (spec.batch, spec.seq_len), device=ctx.device)
        y = torch.randint(0, cfg.vocab_size, (spec.batch, spec.seq_len), device=ctx.device)
        dtype = spec.autocast_dtype(ctx.kind)

        def step() -> None:
            with torch.autocast(ctx.kind, dtype=dtype, enabled=dtype is not None), _sdpa_context(backend):
                loss = fwd(x, y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        compile_s = warmup(step, ctx, reps=3 if spec.compiled else 2)

        def rep() -> None:
            for _ in range(spec.steps_per_rep):
                step()

        tokens = spec.batch * spec.seq_len * spec.steps_per_rep
        timed = measure(rep, tokens, "tokens/s", ctx, tokens_per_call=tokens)
        return ok_result("train-gpt2", params, timed, started, ctx, compile_s=compile_s,
                         flops_per_token=float(cfg.flops_per_token(spec.seq_len)))
    except Exception as exc:  # noqa: BLE001
        return failed_result("train-gpt2", params, exc, started)
    finally:
        model = opt = fwd = None  # noqa: F841
        free_memory(ctx.device)
