"""GPU experiment: GPT-2-124M training (bf16 autocast, fused AdamW, compiled) by SDPA backend,
batch, compile mode, inductor options and loss; prints MFU against 989 TFLOP/s (dense bf16) and a
short table last. `profile` first: one compiled b64 step's kernels by kind (matrix products,
attention, cross-entropy, fused Triton kernels, optimizer), with their share of the step.

The loss is the workload's default (the fused output layer + cross-entropy on CUDA, or
COSTPERF_LOSS) in `profile` and every tag without "-loss"; "b64 torch-loss" against "b64 fused-loss"
compares the two. Bias gradients likewise (made with their output gradients on CUDA, or
COSTPERF_BIAS_GRADS): "b64 torch-bias" against "b64 fused-bias", and that kernel's block shapes.

    python benchmarks/train_explore.py [profile | profile:TAG] [variant tag ...]      (CUDA)

"profile:TAG" profiles the step compiled with that variant's inductor options.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from collectors.models import bias_grads, flash4, gpt2, residual_norm
from collectors.runner import make_meter
from collectors.workloads import train
from collectors.workloads.common import Context, TimingPolicy
from report.formulas import model_flops_utilisation, window_tokens_per_joule

PEAK = 989e12
OUT = Path(os.environ.get("OUT", "out"))
# tag: (batch, attention (TrainSpec.attention), compile mode, inductor options, loss: None = the
# workload's default)
VARIANTS: dict[str, tuple[int, str, str, dict, str | None]] = {tag: (*v, None) for tag, v in {
    "b32 cudnn": (32, "cudnn", "default", {}), "b32 flash": (32, "flash", "default", {}),
    "b64 cudnn": (64, "cudnn", "default", {}), "b16 cudnn": (16, "cudnn", "default", {}),
    "b128 cudnn": (128, "cudnn", "default", {}), "b64 flash": (64, "flash", "default", {}),
    "b64 coord": (64, "cudnn", "default", {"coordinate_descent_tuning": True}),
    "b64 autotune": (64, "cudnn", "max-autotune-no-cudagraphs", {}),
    "b64 autotune graphs": (64, "cudnn", "max-autotune", {}),
    "b64 graphs": (64, "cudnn", "reduce-overhead", {}),
    "b96 cudnn": (96, "cudnn", "default", {}),
    "b64 two-pass softmax": (64, "cudnn", "default", {"online_softmax": False}),
    "b64 combo": (64, "cudnn", "default", {"combo_kernels": True}),
    # FlashAttention-4's Hopper kernels (flash4.py) in place of SDPA's cuDNN kernels; with the step in
    # CUDA graphs, with inductor's kernels tuned, and at batch 96
    "b64 flash4": (64, "flash4", "default", {}),
    "b64 flash4 graphs": (64, "flash4", "reduce-overhead", {}),
    "b64 flash4 coord": (64, "flash4", "default", {"coordinate_descent_tuning": True}),
    "b96 flash4": (96, "flash4", "default", {}),
}.items()} | {
    "b64 torch-loss": (64, "cudnn", "default", {}, "torch"), "b64 fused-loss": (64, "cudnn", "default", {}, "fused"),
    "b48 fused-loss": (48, "cudnn", "default", {}, "fused"), "b96 fused-loss": (96, "cudnn", "default", {}, "fused"),
    "b64 fused-loss again": (64, "cudnn", "default", {}, "fused"),  # the first one's drift over the run
} | {tag: (64, "cudnn", "default", options, None) for tag, options in {
    # inductor's options for its own kernels (LayerNorm backward, GELU and its gradient: 16.7 ms of a
    # 116 ms step): the split of the LayerNorm backward's row and column reductions autotuned, the
    # mixed-order fusion of those two reductions off, launches that overlap the previous kernel's tail
    # (PDL), every pointwise and reduction kernel's shape autotuned, more fusion, cooperative reductions
    "b64 mix-autotune": {"triton.mix_order_reduction_autotune_split_size": True},
    "b64 no-mix": {"triton.mix_order_reduction": False},
    "b64 inductor-pdl": {"triton.enable_pdl": True},
    "b64 pointwise-autotune": {"max_autotune_pointwise": True},
    "b64 aggressive": {"aggressive_fusion": True},
    "b64 coop-reductions": {"triton.cooperative_reductions": True},
    # the matrix products autotuned against Triton's templates (persistent, TMA loads; stores too),
    # each candidate timed in a subprocess (one of them once ended a process by an illegal address):
    # a template may take the bias, GELU or residual add as its epilogue where that beats cuBLAS plus
    # a pass of its own
    "b64 gemm-autotune": {"max_autotune_gemm": True, "triton.enable_persistent_tma_matmul": True,
                          "autotune_in_subproc": True},
    "b64 gemm-autotune tma-store": {"max_autotune_gemm": True, "triton.enable_persistent_tma_matmul": True,
                                    "triton.enable_template_tma_store": True, "autotune_in_subproc": True},
}.items()}
# steps a timed repeat (3 elsewhere): whether the host's wait at each repeat's end shows
STEPS = {"b64 spr10": 10, "b64 torch-bias spr10": 10}
VARIANTS |= {tag: (64, "cudnn", "default", {}, None) for tag in STEPS}
# bias gradients by autograd or made with their output gradients (bias_grads.py, residual_norm.py),
# and the fused kernels' block shapes: (impl, {(module, attribute): value}) set for the variant, then
# put back
BIAS: dict[str, tuple[str, dict[tuple[object, str], object]]] = {
    "b64 torch-bias": ("torch", {}), "b64 fused-bias": ("fused", {}), "b64 torch-bias spr10": ("torch", {}),
    "b64 fused-bias gelu-r16w8": ("fused", {(bias_grads, "GELU_BLOCK_R"): 16, (bias_grads, "GELU_WARPS"): 8}),
    "b64 fused-bias gelu-r16": ("fused", {(bias_grads, "GELU_BLOCK_R"): 16}),
    "b64 fused-bias heads-r32": ("fused", {(bias_grads, "HEADS_BLOCK_R"): 32, (bias_grads, "HEADS_ROWS"): 128}),
    # the output projections' bias gradients by autograd, the other two fused as before
    "b64 no-norms": ("fused", {(gpt2, "RESIDUAL_NORMS"): False}),
    "b64 norms-w8": ("fused", {(residual_norm, "WARPS"): 8}),
    "b64 norms-s1": ("fused", {(residual_norm, "STAGES"): 1}),
    # the MLP's forward GELU by torch (inductor's kernel) in place of bias_grads' own; the GELU
    # gradient's partial column sums over 512 rows, and its shape before (256 rows in 4 x 512 blocks)
    "b64 inductor-gelu": ("fused", {(bias_grads, "GELU_KERNEL"): False}),
    "b64 gelu-rows512": ("fused", {(bias_grads, "GELU_ROWS"): 512}),
    "b64 gelu-256x512": ("fused", {(bias_grads, "GELU_ROWS"): 256, (bias_grads, "GELU_BLOCK_R"): 4,
                                   (bias_grads, "GELU_BLOCK_C"): 512}),
}
VARIANTS |= {tag: (64, "cudnn", "default", {}, None) for tag in BIAS}
# FlashAttention-4 with q/k/v apart (as SDPA takes them) and with cuDNN's forward (flash4.py)
BIAS |= {"b64 flash4 apart": ("fused", {(gpt2, "PACKED_QKV"): False}),
         "b64 flash4 cudnn-fwd": ("fused", {(flash4, "CUDNN_FORWARD"): True})}
VARIANTS |= {tag: (64, "flash4", "default", {}, None) for tag in ("b64 flash4 apart", "b64 flash4 cudnn-fwd")}
# attention first: cuDNN's flash kernels' names contain "sm90" too
KINDS = [("attention", ("cudnn", "flash", "fmha", "attention", "sdpa")),
         ("matmul", ("gemm", "sm90_", "nvjet", "cutlass", "xmma", "ampere_", "cublas")),
         ("optimizer", ("adam", "multi_tensor", "foreach")),
         ("cross-entropy", ("nll", "log_softmax", "softmax", "logsumexp", "lce_")),
         ("bias grads", ("gelu_backward", "heads_into_columns", "add_layer_norm_backward")),
         ("gelu forward", ("gelu_forward", "fused_gelu")),
         ("triton fused", ("triton_",))]


def kind_of(name: str) -> str:
    low = name.lower()
    return next((kind for kind, keys in KINDS if any(k in low for k in keys)), "other")


def compiled_step(batch: int = 64, attention: str = "cudnn") -> Callable[[], None]:
    """One GPT-2-124M training step (bf16 autocast, the attention as TrainSpec.attention, default
    cuDNN's first, fused AdamW, the workload's default loss and bias gradients) on fixed random
    tokens, compiled at its first call."""
    cfg = gpt2.CONFIGS["gpt2-124m"]
    torch.manual_seed(0)
    spec = train.TrainSpec()
    model = gpt2.build("gpt2-124m", "cuda", fused_loss=spec.loss_impl("cuda") == "fused",
                       fused_bias_grads=spec.bias_grads_impl("cuda") == "fused", flash4=attention == train.FLASH4)
    opt = gpt2.adamw(model, "cuda")
    fwd = torch.compile(model)
    x, y = (torch.randint(0, cfg.vocab_size, (batch, 1024), device="cuda") for _ in range(2))

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16), train._sdpa_context(attention):  # noqa: SLF001
            loss = fwd(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def profile(batch: int = 64, options: dict | None = None, attention: str = "cudnn") -> list[str]:
    """Kernel time of 3 compiled training steps by kind, the 30 largest kernels, and where the GPU
    waited: the gaps between kernels, the largest with the kernels on either side, and the CUDA
    calls that block the host (synchronisation, allocation). options: inductor's, for the compile;
    attention: TrainSpec.attention's."""
    import torch._inductor.config as inductor  # noqa: PLC0415

    from torch.profiler import ProfilerActivity, profile as prof_ctx  # noqa: PLC0415

    cfg = gpt2.CONFIGS["gpt2-124m"]
    loss = train.TrainSpec().loss_impl("cuda")
    torch._dynamo.reset()
    step = compiled_step(batch, attention)
    with inductor.patch(options or {}):
        for _ in range(3):
            step()
    torch.cuda.synchronize()
    steps = 3
    with prof_ctx(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        wall = (time.perf_counter() - t0) / steps
    trace = OUT / "train_trace.json"
    prof.export_chrome_trace(str(trace))
    all_events = json.loads(trace.read_text())["traceEvents"]
    trace.unlink()
    events = sorted((e for e in all_events if e.get("cat") == "kernel"), key=lambda e: e["ts"])
    runtime = [e for e in all_events if e.get("cat") == "cuda_runtime"
               and any(k in e["name"] for k in ("Synchronize", "Malloc", "Free", "Memcpy"))]
    by_kind: dict[str, float] = collections.defaultdict(float)
    by_name: dict[str, list[float]] = collections.defaultdict(list)
    for e in events:
        by_kind[kind_of(e["name"])] += e["dur"] / steps
        by_name[e["name"][:90]].append(e["dur"])
    busy = sum(by_kind.values())
    span = (max(e["ts"] + e["dur"] for e in events) - min(e["ts"] for e in events)) / steps
    tokens = batch * 1024
    flops = cfg.flops_per_token(1024) * tokens
    lines = [f"profile b{batch} ({loss} loss): wall {wall * 1e3:.1f} ms/step ({tokens / wall:,.0f} tok/s, MFU "
             f"{100 * flops / wall / PEAK:.1f}%); kernels busy {busy / 1e3:.1f} ms, span {span / 1e3:.1f} ms, "
             f"{len(events) / steps:.0f} kernels/step"]
    for kind, us in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {kind:14s} {us / 1e3:8.2f} ms {100 * us / busy:5.1f}%")
    lines.append("  largest kernels (ms/step, calls/step):")
    for name, durs in sorted(by_name.items(), key=lambda kv: -sum(kv[1]))[:30]:
        lines.append(f"  {sum(durs) / steps / 1e3:8.2f} ms {len(durs) / steps:5.0f}x  [{kind_of(name)}] {name}")
    gaps = [(b["ts"] - (a["ts"] + a["dur"]), a["name"][:45], b["name"][:45]) for a, b in zip(events, events[1:])]
    big = [g for g in gaps if g[0] > 20]
    lines.append(f"  gaps between kernels: {sum(g for g, _, _ in gaps) / steps / 1e3:.2f} ms/step, of which "
                 f"{sum(g for g, _, _ in big) / steps / 1e3:.2f} ms in {len(big) / steps:.0f} gaps over 20 us")
    for g, before, after in sorted(big, reverse=True)[:8]:
        lines.append(f"    {g:8.0f} us after {before} | before {after}")
    calls: dict[str, list[float]] = collections.defaultdict(list)
    for e in runtime:
        calls[e["name"]].append(e["dur"])
    for name, durs in sorted(calls.items(), key=lambda kv: -sum(kv[1])):
        lines.append(f"  host call {name}: {len(durs) / steps:.0f}x/step, {sum(durs) / steps / 1e3:.2f} ms/step")
    return lines


@contextlib.contextmanager
def module_attributes(attrs: dict[tuple[object, str], object]) -> Iterator[None]:
    """A variant's module attributes set, and put back after."""
    before = {(module, name): getattr(module, name) for module, name in attrs}
    try:
        for (module, name), value in attrs.items():
            setattr(module, name, value)
        yield
    finally:
        for (module, name), value in before.items():
            setattr(module, name, value)


def main() -> None:
    device = torch.device("cuda")
    # the board's energy over each variant's timed window (NVML through zeus, as the suite): the GPU
    # runs at its power cap, so joules a token can move where tokens a second do not
    ctx = Context(device=device, policy=TimingPolicy(min_reps=5, min_time_s=2.0, warmup_reps=2),
                  meter=make_meter("auto", device, None))
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = [a for a in sys.argv[1:] if not a.startswith("profile")]
    rows = []
    for arg in (a for a in sys.argv[1:] if a.startswith("profile")):  # "profile" or "profile:TAG"
        tag = arg.partition(":")[2]
        with module_attributes(BIAS.get(tag, (None, {}))[1]):
            lines = ([f"[{tag}]"] if tag else []) + (profile(options=VARIANTS[tag][3], attention=VARIANTS[tag][1])
                                                    if tag else profile())
        print("\n".join(lines), flush=True)
        rows += lines
    import torch._inductor.config as inductor  # noqa: PLC0415

    for tag in wanted or ["b64 cudnn"]:
        batch, sdpa, mode, options, loss = VARIANTS[tag]
        bias, attrs = BIAS.get(tag, (None, {}))
        t0 = time.perf_counter()
        torch._dynamo.reset()
        try:
            with inductor.patch(options), module_attributes(attrs):
                r = train.run(train.TrainSpec("gpt2-124m", batch=batch, seq_len=1024, compiled=True, mode=mode,
                                              steps_per_rep=STEPS.get(tag, 3), attention=sdpa, loss=loss,
                                              bias_grads=bias), ctx)
        except (AttributeError, KeyError) as exc:  # an option this torch's inductor does not have
            rows.append(f"{tag:16s} not run: {type(exc).__name__}: {str(exc)[:150]}")
            print(rows[-1], flush=True)
            continue
        if r.throughput is None:
            rows.append(f"{tag:16s} {r.status}: {(r.message or '')[:200]}")
        else:
            tps = r.throughput.median
            mfu = 100 * model_flops_utilisation(tps, r.flops_per_token, PEAK / 1e12)
            tpj = window_tokens_per_joule(tps, r.energy)
            w = f"{r.energy.avg_w:.0f} W {tpj:.0f} tok/J" if r.energy and tpj else (r.energy_note or "")[:40]
            rows.append(f"{tag:16s} {tps:10,.0f} tok/s MFU {mfu:5.1f}% cv {100 * r.throughput.cv:.1f}% "
                        f"warm-up {r.compile_s:.0f} s task {time.perf_counter() - t0:.0f} s {w} "
                        f"[{r.params.extra.get('loss')}; bias grads {r.params.extra.get('bias_grads')}]")
        print(rows[-1], flush=True)
    print("\n" + "\n".join(rows), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
