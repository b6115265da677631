"""`costperf run` end to end on this CPU: the quick suite writes a valid record; a Ctrl-C leaves no
file or a valid one marked interrupted; bad machine ids are clear errors."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from collectors import runner, store
from collectors.cli import main
from collectors.records import RunRecord
from foundation_data import write_folder

MACHINE = "test-desktop"


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "data", runs=[])


def runs_in(data: Path) -> list[Path]:
    return sorted((data / "runs").rglob("*.json"))


def test_quick_suite_end_to_end(data: Path) -> None:
    t0 = time.perf_counter()
    res = CliRunner().invoke(main, ["run", "--suite", "quick", "--machine", MACHINE, "--data", str(data)])
    assert res.exit_code == 0, res.output
    assert time.perf_counter() - t0 < 90
    files = runs_in(data)
    assert len(files) == 1 and files[0].parent.name == MACHINE
    ds = store.load(data)
    assert not ds.problems, ds.problems
    record = ds.runs[0]
    assert record.status == "complete" and record.suite == "quick" and record.weights == "random"
    assert record.environment.backend == "cpu" and record.environment.torch
    assert record.environment.settings["usable_memory_gb"] == pytest.approx(23.0)
    workloads = {r.workload for r in record.results}
    assert workloads >= {"memcpy", "h2d", "d2h", "matmul", "toy-mlp", "fit", "prefill", "decode", "train-gpt2"}
    for r in record.results:
        assert r.status in ("ok", "unsupported", "does_not_fit"), (r.workload, r.message)
        if r.throughput is not None:
            assert r.energy is None and r.energy_note  # no meter on this machine: None with a reason
    assert "Wrote" in res.output and "decode" in res.output
    # a second run never overwrites the first
    first = files[0].read_bytes()
    res2 = CliRunner().invoke(main, ["run", "--suite", "quick", "--machine", MACHINE, "--data", str(data),
                                     "--workload", "fit"])
    assert res2.exit_code == 0, res2.output
    assert len(runs_in(data)) == 2 and files[0].read_bytes() == first


def test_each_fit_verdict_names_its_shape(data: Path) -> None:
    res = CliRunner().invoke(main, ["run", "--machine", MACHINE, "--data", str(data), "--workload", "fit",
                                    "--no-save"])
    assert res.exit_code == 0, res.output
    fits = [line for line in res.output.splitlines() if line.startswith("  fit: ")]
    assert fits and all(re.match(r"  fit: (ok llama-3-\d+b \S+|does_not_fit needs )", f) for f in fits), fits


def test_interrupt_mid_suite_writes_valid_interrupted_record(data: Path) -> None:
    machine = store.load(data).machines[MACHINE]
    seen: list[str] = []

    def on_start(task: object, i: int, n: int) -> None:
        if i == 3:
            raise KeyboardInterrupt
        seen.append(task.id)  # type: ignore[attr-defined]

    record = runner.run(runner.RunOptions(suite="quick", workloads=("memcpy", "matmul")), machine, MACHINE, "0.1.0",
                        on_start=on_start)
    assert record.status == "interrupted" and len(record.results) == 3
    path = store.write_run(data, record)
    assert RunRecord.model_validate_json(path.read_text()).status == "interrupted"
    assert not store.load(data).problems


def test_sigint_leaves_no_file_or_a_valid_one(data: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", "from collectors.cli import main; main()", "run", "--suite",
                             "quick", "--machine", MACHINE, "--data", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # wait until a few tasks have finished, then press Ctrl-C
        lines.append(line)
        if "matmul-bf16:" in line:
            proc.send_signal(signal.SIGINT)
            break
    out = "".join(lines) + proc.stdout.read()
    assert proc.wait(timeout=60) == 130, out
    # Tasks had finished before Ctrl-C: their results must be kept, in exactly one valid file.
    finished = [line for line in lines if re.match(r"^  \S+: ", line)]
    assert finished, out
    files = runs_in(data)
    assert len(files) == 1, out
    record = RunRecord.model_validate_json(files[0].read_text())
    assert record.status == "interrupted" and len(record.results) >= len(finished), out
    assert not list(data.rglob(".costperf-tmp-*"))
    assert not store.load(data).problems


def test_unknown_machine_and_missing_machine_are_clear_errors(data: Path) -> None:
    res = CliRunner().invoke(main, ["run", "--machine", "no-such-box", "--data", str(data)])
    assert res.exit_code == 2 and "costperf machine new no-such-box" in res.output
    res = CliRunner().invoke(main, ["run", "--data", str(data)])
    assert res.exit_code == 2 and "--machine" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["run", "--machine", MACHINE, "--data", str(data), "--workload", "nope"])
    assert res.exit_code == 2 and "matches no task" in res.output


def test_list_and_importing_collectors_does_not_import_torch(data: Path) -> None:
    res = CliRunner().invoke(main, ["run", "--list", "--suite", "standard"])
    assert res.exit_code == 0 and "decode-llama-3-1b-bf16-compiled-b1" in res.output
    code = "import sys, collectors, collectors.cli, collectors.meters; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_llama_cpp_workload_gives_both_harnesses_the_same_model(data: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(20))  # a GGUF header and nothing else: no harness can load it
    bench = tmp_path / "llama-bench"  # answers as llama-bench does for a model it cannot load
    bench.write_text("#!/bin/sh\necho \"$@\" >> \"$0.calls\"\necho 'main: error: failed to load model' >&2\nexit 1\n")
    bench.chmod(0o755)
    res = CliRunner().invoke(main, ["run", "--suite", "quick", "--machine", MACHINE, "--data", str(data),
                                    "--workload", "llama-cpp", "--gguf", str(model), "--llama-bench", str(bench)])
    record = store.load(data).runs[0]
    binary = [r for r in record.results if r.params.extra.get("harness") != "llama-cpp-python"]
    assert [(r.workload, r.status) for r in binary] == [("prefill", "error"), ("decode", "error")]
    assert all("failed to load model" in (r.message or "") for r in binary)
    assert all(f"-m {model} " in call for call in Path(f"{bench}.calls").read_text().splitlines())
    assert all(r.params.engine == "llama.cpp" for r in record.results)
    # the in-process engine takes the same file: where llama-cpp-python is installed it cannot load this
    # stand-in (an error); elsewhere it says what to install
    in_process = [r for r in record.results if r.params.extra.get("harness") == "llama-cpp-python"]
    installed = importlib.util.find_spec("llama_cpp") is not None
    assert [r.status for r in in_process] == ["error" if installed else "unsupported"] * 2
    assert res.exit_code == 1, res.output
