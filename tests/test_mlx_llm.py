"""The MLX engine, run for real on this machine (MLX's CPU build off macOS, Metal on a Mac): mlx-lm's
Llama built from the suite's shapes with random weights, prefill and decode in every precision,
timed and metered like the torch workloads."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mlx.core")
pytest.importorskip("mlx_lm")

from collectors.meters.base import EstimateMeter  # noqa: E402
from collectors.models import llama  # noqa: E402
from collectors.workloads import engines, mlx_llm, suites  # noqa: E402
from collectors.workloads.common import Context, TimingPolicy  # noqa: E402

POLICY = TimingPolicy(min_reps=3, min_time_s=0.05, max_time_s=2.0, warmup_reps=1)


def ctx(**kw: object) -> Context:
    return Context(device=torch.device("cpu"), policy=POLICY, meter=EstimateMeter(40.0, "wall"), **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shared() -> Context:
    return ctx()  # consecutive tasks reuse the model, as in a suite


@pytest.mark.parametrize("dtype", list(mlx_llm.DTYPES))
@pytest.mark.parametrize("workload", ["prefill", "decode"])
def test_runs_in_every_precision(shared: Context, workload: str, dtype: str) -> None:
    spec = mlx_llm.MlxSpec(workload, "llama-tiny", dtype, prompt=32, gen=8)
    r = mlx_llm.run(spec, shared)
    assert r.status == "ok", r.message
    p = r.params
    assert (p.engine, p.dtype, p.model, p.compile_mode) == ("mlx", dtype, "llama-tiny", "eager")
    assert p.extra["device"] == f"mlx-{mlx_llm.device_name()}" and p.extra["weights"] == "random"
    assert p.gen_tokens == (8 if workload == "decode" else 0) and p.prompt_tokens == 32
    assert r.throughput.unit == "tokens/s" and len(r.throughput.samples) >= POLICY.min_reps
    assert r.compile_s is not None and r.peak_memory_gb and r.memory_needed_gb
    per_call = 8 if workload == "decode" else 32
    assert r.energy is not None and r.energy.tokens == per_call * len(r.throughput.samples)
    assert r.energy.method == "estimate" and r.energy.avg_w == pytest.approx(40.0)
    assert (r.bytes_per_token is not None) == (workload == "decode")
    if dtype != "bf16" and dtype != "fp16":
        assert "group 64" in p.extra["quantization"]


def test_bytes_per_token_follow_the_torch_rule_and_the_bits() -> None:
    cfg = llama.CONFIGS["llama-tiny"]
    got = {d: mlx_llm.bytes_per_token(mlx_llm.build("llama-tiny", d), cfg.tied_embeddings) for d in mlx_llm.DTYPES}
    # 16-bit: exactly what the torch workloads count (every matrix, the output layer, the norms)
    assert got["bf16"] == got["fp16"] == llama.weight_bytes_per_token(cfg, 2)
    linear = llama.weight_bytes_per_token(cfg, 2) / 2 - 2 * (2 * cfg.n_layers + 1) * cfg.dim / 2  # weight elements
    norms = 2 * (2 * cfg.n_layers + 1) * cfg.dim
    for dtype, bits in (("q8_g64", 8), ("q4_g64", 4)):  # packed weights + a 16-bit scale and bias per 64
        assert got[dtype] == pytest.approx(linear * (bits + 32 / 64) / 8 + norms)


def test_a_model_too_large_for_usable_memory_is_not_tried() -> None:
    r = mlx_llm.run(mlx_llm.MlxSpec("decode", "llama-3-8b", "bf16"), ctx(usable_memory_gb=4.0))
    assert r.status == "does_not_fit" and "not tried" in (r.message or "") and r.memory_needed_gb > 16


def test_suites_include_mlx_where_it_runs() -> None:
    c = ctx(usable_memory_gb=20.0)
    quick = [t for t in suites.quick(c) if t.workload == "mlx"]
    assert {t.id for t in quick} == {f"mlx-{w}-llama-tiny-{d}-b1" for w in ("prefill", "decode")
                                     for d in mlx_llm.DTYPES}
    assert [t.id for t in suites.select(suites.quick(c), ("mlx",))] == [t.id for t in quick]
    std = [t for t in suites.standard(c) if t.workload == "mlx"]
    # the standard suite runs MLX on Metal only: its CPU build is no Mac's figure
    assert (len(std) == 8) == (mlx_llm.device_name() == "gpu")
    assert engines.versions()["mlx"] and engines.versions()["mlx_lm"]
