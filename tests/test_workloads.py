"""Every workload on tiny shapes on this CPU, the timing loop, the fit check at its edges."""

from __future__ import annotations

import time

import pytest
import torch

from collectors.records import Result
from collectors.workloads import fit, llm, micro, suites, toy, train
from collectors.workloads.common import Context, TimingPolicy, measure, pick_device, sync

FAST = TimingPolicy(min_reps=3, min_time_s=0.05, max_time_s=2.0, warmup_reps=1)


def ctx(**kw: object) -> Context:
    return Context(device=torch.device("cpu"), policy=FAST, **kw)  # type: ignore[arg-type]


def assert_ok(r: Result, unit: str) -> None:
    assert r.status == "ok", r.message
    assert r.throughput is not None and r.throughput.unit == unit
    assert len(r.throughput.samples) >= FAST.min_reps
    assert r.throughput.median > 0
    assert r.energy is None and r.energy_note  # no meter on this machine: None with a reason, never 0


def test_sync_rejects_unknown_device_and_picks_cpu_here() -> None:
    sync("cpu")
    with pytest.raises(ValueError, match="unknown device type"):
        sync("meta")
    assert pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="no CUDA device"):
        if not torch.cuda.is_available():
            pick_device("cuda")
        else:
            raise ValueError("no CUDA device (skipped on a GPU machine)")


def test_measure_repeats_until_min_reps_and_min_time() -> None:
    calls = []
    c = Context(device=torch.device("cpu"), policy=TimingPolicy(min_reps=3, min_time_s=0.3, max_time_s=5))
    timed = measure(lambda: (calls.append(1), time.sleep(0.02)), 1.0, "s", c)
    # 20 ms calls need ~15 repeats to fill 0.3 s: a short workload is repeated to fill the window
    assert len(calls) >= 12
    assert timed.window_s >= 0.3
    assert all(s == pytest.approx(50, rel=0.5) for s in timed.stats.samples)
    few = []
    measure(lambda: (few.append(1), time.sleep(0.12)), 1.0, "s", c)
    assert len(few) == 3  # min_reps reached after the time already had


@pytest.mark.parametrize("dtype", ["bf16", "fp16", "int8"])
def test_llm_prefill_and_decode_tiny(dtype: str) -> None:
    c = ctx()
    pre = llm.run(llm.LlmSpec("prefill", "llama-tiny", dtype, False, prompt=16, gen=4), c)
    dec = llm.run(llm.LlmSpec("decode", "llama-tiny", dtype, False, prompt=16, gen=4), c)
    assert_ok(pre, "tokens/s")
    assert_ok(dec, "tokens/s")
    assert dec.params.compile_mode == "eager" and dec.params.gen_tokens == 4 and pre.params.gen_tokens == 0
    assert dec.bytes_per_token == llm.bytes_per_token("llama-tiny", dtype)
    assert pre.bytes_per_token is None  # prefill is compute-bound: no per-token bytes figure
    assert dec.params.dtype == {"bf16": "bf16", "fp16": "fp16", "int8": "int8-weight-only"}[dtype]


def test_llm_shape_that_does_not_fit_is_not_tried() -> None:
    c = ctx(usable_memory_gb=10.0)
    t0 = time.perf_counter()
    r = llm.run(llm.LlmSpec("decode", "llama-3-8b", "bf16", False), c)
    assert r.status == "does_not_fit" and "not tried" in (r.message or "")
    assert r.memory_needed_gb == pytest.approx(16.14, abs=0.01)
    assert time.perf_counter() - t0 < 1.0 and not c.cache  # nothing was built


def test_fit_at_the_edges() -> None:
    need = llm.memory_needed_gb("llama-3-8b", "bf16", 1, 640)
    assert fit.check("llama-3-8b", "bf16", need).status == "ok"
    assert fit.check("llama-3-8b", "bf16", need - 0.001).status == "does_not_fit"
    assert fit.check("llama-3-8b", "bf16", None).status == "unsupported"
    # 70B int8 fits an 80 GB card less 1 GB; bf16 does not
    results = {(r.params.model, r.params.dtype): r.status for r in fit.run_all(ctx(usable_memory_gb=79.0))}
    assert results[("llama-3-70b", "int8-weight-only")] == "ok"
    assert results[("llama-3-70b", "bf16")] == "does_not_fit"


def test_micro_on_cpu() -> None:
    c = ctx()
    assert_ok(micro.run_copy(micro.CopySpec("memcpy", 8), c), "GB/s")
    r = micro.run_copy(micro.CopySpec("h2d", 8, True), c)
    assert r.status == "unsupported" and "no accelerator" in (r.message or "")
    for dtype in ("bf16", "fp16", "fp32"):
        assert_ok(micro.run_matmul(micro.MatmulSpec(dtype, 64), c), "TFLOP/s")


def test_unified_memory_transfer_is_not_applicable() -> None:
    c = Context(device=torch.device("mps"), policy=FAST)  # no MPS work is done: the check comes first
    r = micro.run_copy(micro.CopySpec("d2h", 8, False), c)
    assert r.status == "unsupported" and "unified memory" in (r.message or "")


def test_toy_mlp_learns_y_equals_2x() -> None:
    r = toy.run(toy.ToySpec(), ctx())
    assert_ok(r, "samples/s")
    assert r.outputs["learned"] is True
    assert r.outputs["prediction_at_0_5"] == pytest.approx(1.0, abs=0.1)


def test_train_tiny() -> None:
    r = train.run(train.TrainSpec("gpt2-tiny", batch=2, seq_len=32), ctx())
    assert_ok(r, "tokens/s")
    assert r.params.dtype == "fp32" and r.flops_per_token and r.compile_s is not None


def test_suites_and_selection() -> None:
    c = ctx(usable_memory_gb=20.0)
    quick = suites.quick(c)
    ids = [t.id for t in quick]
    assert len(ids) == len(set(ids))
    assert {t.workload for t in quick} >= {"memcpy", "h2d", "d2h", "matmul", "toy-mlp", "fit", "prefill", "decode",
                                           "train-gpt2"}
    assert [t.workload for t in suites.select(quick, ("decode",))] == ["decode"] * 3
    std = suites.standard(Context(device=torch.device("cpu"), usable_memory_gb=20.0))
    assert any(t.id == "decode-llama-3-1b-bf16-compiled-b1" for t in std)  # CPUs run the 1B shape
    # a full id is exact even where it begins another id (b1 / b16); a partial id still selects by prefix
    exact = suites.select(std, ("decode-llama-3-1b-bf16-compiled-b1",))
    assert [t.id for t in exact] == ["decode-llama-3-1b-bf16-compiled-b1"]
    assert {t.id for t in suites.select(std, ("decode-llama-3-1b-bf16-compiled-b",))} >= {
        "decode-llama-3-1b-bf16-compiled-b1", "decode-llama-3-1b-bf16-compiled-b16"}
    gpu = Context(device=torch.device("cpu"), usable_memory_gb=79.0)
    object.__setattr__(gpu, "device", torch.device("cuda"))
    assert suites.primary_model(gpu) == "llama-3-8b"
    gpu.usable_memory_gb = 12.0
    assert suites.primary_model(gpu) == "llama-3-3b"


def test_batched_decode_shares_each_weight_read_across_the_batch() -> None:
    dec = llm.run(llm.LlmSpec("decode", "llama-tiny", "bf16", False, prompt=16, gen=4, batch=4), ctx())
    assert_ok(dec, "tokens/s")
    assert dec.bytes_per_token == pytest.approx(llm.bytes_per_token("llama-tiny", "bf16") / 4)


@pytest.mark.parametrize(("field", "env", "bad"), [("loss", "COSTPERF_LOSS", "liger"),
                                                   ("bias_grads", "COSTPERF_BIAS_GRADS", "both")])
def test_train_fused_path_choice_is_field_then_environment_then_device(monkeypatch: pytest.MonkeyPatch, field: str,
                                                                      env: str, bad: str) -> None:
    """The fused loss and the fused bias gradients: the TrainSpec field, else the environment variable,
    else fused where their Triton kernels run (CUDA with Triton); anything else refused with both
    places named. Both are engine internals, never part of a setting."""
    from collectors.models import linear_cross_entropy as lce  # noqa: PLC0415
    from report.settings import ENGINE_INTERNALS  # noqa: PLC0415

    monkeypatch.delenv(env, raising=False)
    impl = getattr(train.TrainSpec("gpt2-tiny"), f"{field}_impl")
    assert impl("cpu") == "torch"
    assert impl("cuda") == ("fused" if lce.TRITON else "torch")
    assert field in ENGINE_INTERNALS
    monkeypatch.setenv(env, "fused")
    assert impl("cpu") == "fused"
    assert getattr(train.TrainSpec("gpt2-tiny", **{field: "torch"}), f"{field}_impl")("cuda") == "torch"  # the field wins
    monkeypatch.setenv(env, bad)
    with pytest.raises(ValueError, match=rf"{field} '{bad}' \(TrainSpec.{field} or {env}\): expected one of fused, torch"):
        impl("cuda")
