"""The llama_cpp suite workload: unsupported without llama-bench; with it, one energy window per test.

The llama-bench stand-in below is an executable that records its arguments and prints a real
llama-bench JSON output (the shared sample's row for the test it was asked for), the way a recorded
HTTP response stands in for a server: what is tested is costperf's side of the process boundary.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from collectors.meters.base import EstimateMeter  # noqa: E402
from collectors.workloads import llama_cpp  # noqa: E402
from collectors.workloads.common import Context, TimingPolicy  # noqa: E402

SAMPLE = Path(__file__).parent / "fixtures" / "llama_bench" / "new" / "bench.json"


def ctx() -> Context:
    return Context(device=torch.device("cpu"), policy=TimingPolicy(min_reps=2), meter=EstimateMeter(50.0, "wall"))


def stand_in(tmp_path: Path, exit_code: int = 0) -> Path:
    rows = json.loads(SAMPLE.read_text())
    (tmp_path / "pp.json").write_text(json.dumps([rows[0]], indent=2))
    (tmp_path / "tg.json").write_text(json.dumps([rows[1]], indent=2))
    exe = tmp_path / "llama-bench"
    exe.write_text(f"""#!/bin/sh
echo "$@" >> {tmp_path}/calls.txt
if [ {exit_code} -ne 0 ]; then echo "main: error: failed to load model" >&2; exit {exit_code}; fi
case " $* " in *" -n 0 "*) cat {tmp_path}/pp.json ;; *) cat {tmp_path}/tg.json ;; esac
""")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_without_llama_bench_both_tests_are_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    results = llama_cpp.run(ctx(), tmp_path / "model.gguf")
    assert [(r.workload, r.status) for r in results] == [("prefill", "unsupported"), ("decode", "unsupported")]
    assert "llama-bench is not on PATH" in results[0].message
    assert results[1].params.engine == "llama.cpp" and results[1].params.gen_tokens == 128


def test_without_a_model_both_tests_are_unsupported(tmp_path: Path) -> None:
    results = llama_cpp.run(ctx(), None, binary=str(stand_in(tmp_path)))
    assert [r.status for r in results] == ["unsupported", "unsupported"] and "GGUF" in results[0].message


def test_runs_pp512_and_tg128_each_in_its_own_energy_window(tmp_path: Path) -> None:
    exe = stand_in(tmp_path)
    model = tmp_path / "gemma-3-270m-q4_k_m.gguf"
    model.write_bytes(b"GGUF")
    results = llama_cpp.run(ctx(), model, binary=str(exe))
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    t = f"-t {os.environ['COSTPERF_LLAMA_THREADS']} " if os.environ.get("COSTPERF_LLAMA_THREADS") else ""
    assert calls == [f"-m {model} -p 512 -n 0 -r 2 -ngl 99 {t}-o json", f"-m {model} -p 0 -n 128 -r 2 -ngl 99 {t}-o json"]
    pp, tg = results
    assert (pp.workload, tg.workload) == ("prefill", "decode") and pp.status == tg.status == "ok"
    assert tg.throughput.samples == [82.8107, 83.4746] and tg.params.engine == "llama.cpp"
    assert tg.raw["build_commit"] == "0c1e570"
    assert pp.energy is not None and pp.energy.method == "estimate" and pp.energy.tokens == 512 * 3
    assert "whole llama-bench process" in tg.energy_note


def test_a_failing_llama_bench_is_an_error_result(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    results = llama_cpp.run(ctx(), model, binary=str(stand_in(tmp_path, exit_code=1)))
    assert [r.status for r in results] == ["error", "error"]
    assert "failed to load model" in results[0].message


def test_suite_task_wraps_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    (task,) = llama_cpp.tasks(tmp_path / "x.gguf")
    assert task.workload == "llama-cpp" and [r.status for r in task.fn(ctx())] == ["unsupported", "unsupported"]
