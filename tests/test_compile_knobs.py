"""Where compiled code is cached, and the knobs that pick the compiled paths: defaults, overrides,
and a clear error for a value that names nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collectors.models import decode_attention, gemv_fused
from collectors.workloads import compile_cache, llm, train


def test_inductor_cache_goes_to_the_users_cache_unless_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = compile_cache.use_persistent_cache()
    expected = tmp_path / "cache" / "costperf" / "inductor"
    assert settings["inductor_cache_dir"] == str(expected) and expected.is_dir()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(expected)
    import torch._inductor.config as inductor  # noqa: PLC0415

    assert inductor.fx_graph_cache and inductor.autotune_local_cache
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache.use_persistent_cache()["inductor_cache_dir"] == str(tmp_path / "mine")


def test_decode_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COSTPERF_DECODE_RUNNER", "COSTPERF_FUSED_GEMV", "COSTPERF_FUSED_ATTN", "COSTPERF_PDL",
                 "COSTPERF_PDL_ATTN"):
        monkeypatch.delenv(name, raising=False)
    b1 = llm.LlmSpec("decode", "llama-tiny", "bf16", True)
    k = llm.knobs(b1)
    assert k["runner"] == "layers" and k["fused_gemv_b1"] and k["fused_attention_b1"] and not k["pdl"]
    assert not k["pdl_attention"]  # follows COSTPERF_PDL unless COSTPERF_PDL_ATTN says
    monkeypatch.setenv("COSTPERF_PDL_ATTN", "1")
    assert llm.knobs(b1)["pdl_attention"] and not llm.knobs(b1)["pdl"]
    monkeypatch.setenv("COSTPERF_FUSED_ATTN", "0")
    assert not llm.knobs(b1)["pdl_attention"]  # no attention kernel to launch early
    monkeypatch.delenv("COSTPERF_FUSED_ATTN")
    monkeypatch.delenv("COSTPERF_PDL_ATTN")
    assert b1.compile_mode("cuda") == "layer-compiled+cuda-graph" and b1.compile_mode("cpu") == "layer-compiled"
    assert not llm.knobs(llm.LlmSpec("decode", "llama-tiny", "bf16", True, batch=16))["fused_gemv_b1"]
    monkeypatch.setenv("COSTPERF_DECODE_RUNNER", "whole")
    assert b1.compile_mode("cuda") == "reduce-overhead" and "fused_gemv_b1" not in llm.knobs(b1)
    monkeypatch.setenv("COSTPERF_DECODE_RUNNER", "fast")
    with pytest.raises(ValueError, match="COSTPERF_DECODE_RUNNER"):
        llm.knobs(b1)


def test_int8_conversion_and_attention_merge_are_recorded_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COSTPERF_DECODE_RUNNER", "COSTPERF_FUSED_GEMV", "COSTPERF_FUSED_ATTN", "COSTPERF_I8_CONVERT",
                 "COSTPERF_PDL_ATTN"):
        monkeypatch.delenv(name, raising=False)
    int8 = llm.LlmSpec("decode", "llama-tiny", "int8", True)
    monkeypatch.delenv("COSTPERF_PDL", raising=False)
    k = llm.knobs(int8)
    assert k["int8_convert"] == gemv_fused.I8_CONVERT and k["attention_merge"] == decode_attention.COMBINE
    assert k["pdl"] and not llm.knobs(llm.LlmSpec("decode", "llama-tiny", "bf16", True))["pdl"]  # by weight width
    assert k["pdl_attention"]
    monkeypatch.setenv("COSTPERF_PDL", "0")
    assert not llm.knobs(int8)["pdl"]
    monkeypatch.delenv("COSTPERF_PDL")
    assert "int8_convert" not in llm.knobs(llm.LlmSpec("decode", "llama-tiny", "bf16", True))
    monkeypatch.setenv("COSTPERF_I8_CONVERT", "CVT")
    assert llm.knobs(int8)["int8_convert"] == "cvt"
    monkeypatch.setenv("COSTPERF_I8_CONVERT", "fast")
    with pytest.raises(ValueError, match="COSTPERF_I8_CONVERT='fast': expected one of cvt, mantissa, prmt"):
        llm.knobs(int8)
    monkeypatch.delenv("COSTPERF_I8_CONVERT")
    monkeypatch.setattr(decode_attention, "COMBINE", "later")
    with pytest.raises(ValueError, match="COSTPERF_ATTN_COMBINE='later': expected fused, triton or torch"):
        llm.knobs(int8)


def test_training_attention_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSTPERF_SDPA", raising=False)
    spec = train.TrainSpec("gpt2-tiny")
    assert spec.attention_backend("cuda") == "cudnn" and spec.attention_backend("cpu") is None
    assert spec.params("cuda", fused=True).extra["sdpa_backend_first"] == "cudnn"
    assert "sdpa_backend_first" not in spec.params("cpu", fused=False).extra
    monkeypatch.setenv("COSTPERF_SDPA", "flash")
    assert spec.attention_backend("cuda") == "flash"
    with pytest.raises(ValueError, match="attention backend"):
        train.TrainSpec("gpt2-tiny", attention="fastest").attention_backend("cuda")


def test_training_compile_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSTPERF_TRAIN_COMPILE_MODE", raising=False)
    compiled = train.TrainSpec("gpt2-tiny", compiled=True)
    assert compiled.compile_mode() == "default" and compiled.params("cpu", fused=False).compile_mode == "default"
    monkeypatch.setenv("COSTPERF_TRAIN_COMPILE_MODE", "reduce-overhead")
    assert compiled.params("cuda", fused=True).compile_mode == "reduce-overhead"  # recorded as it ran
    assert train.TrainSpec("gpt2-tiny").params("cuda", fused=True).compile_mode == "eager"
    assert train.TrainSpec("gpt2-tiny", compiled=True, mode="max-autotune").compile_mode() == "max-autotune"
    monkeypatch.setenv("COSTPERF_TRAIN_COMPILE_MODE", "fastest")
    with pytest.raises(ValueError, match=r"mode 'fastest' \(TrainSpec.mode or COSTPERF_TRAIN_COMPILE_MODE\): "
                                         r"expected one of default, reduce-overhead"):
        compiled.compile_mode()
