"""`costperf run`'s path options (--gguf, --llama-bench) refuse a path that cannot be what they need
before anything runs: exit status 2, one error line naming the option, the path and what was
expected, and no run file (they used to run the suite and record the llama.cpp rows `unsupported`)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from foundation_data import write_folder

from collectors.cli import main

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "test-desktop"
GGUF_HEADER = b"GGUF" + (3).to_bytes(4, "little") + bytes(16)  # magic, version 3, no tensors, no metadata


def _missing(tmp: Path) -> str:
    return str(tmp / "no-such-model.gguf")


def _folder(tmp: Path) -> str:
    (tmp / "models").mkdir()
    return str(tmp / "models")


def _fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "pipe.gguf")  # opening it to look would block until a writer came
    return str(tmp / "pipe.gguf")


def _not_gguf(tmp: Path) -> str:
    (tmp / "model.safetensors").write_bytes(b'{"__metadata__": {}}')
    return str(tmp / "model.safetensors")


def _empty(tmp: Path) -> str:
    (tmp / "empty.gguf").write_bytes(b"")
    return str(tmp / "empty.gguf")


def _under_a_file(tmp: Path) -> str:
    (tmp / "file").write_bytes(GGUF_HEADER)
    return str(tmp / "file" / "model.gguf")


def _not_executable(tmp: Path) -> str:
    (tmp / "llama-bench").write_text("#!/bin/sh\nexit 0\n")
    (tmp / "llama-bench").chmod(0o644)
    return str(tmp / "llama-bench")


BAD: list[tuple[str, Callable[[Path], str], str]] = [
    ("--gguf", _missing, "does not exist"),
    ("--gguf", _folder, "is a folder"),
    ("--gguf", _fifo, "is not a regular file"),
    ("--gguf", _not_gguf, "is not a GGUF file"),
    ("--gguf", _empty, "is not a GGUF file"),
    ("--gguf", _under_a_file, "does not exist"),
    ("--llama-bench", _missing, "does not exist"),
    ("--llama-bench", _folder, "is a folder"),
    ("--llama-bench", _not_executable, "is not executable"),
    ("--llama-bench", lambda tmp: "no-such-llama-bench-command", "nor a command on PATH"),
    ("--llama-bench", lambda tmp: "", "is empty"),
]


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "data", runs=[])


@pytest.mark.parametrize("option, make, words", BAD, ids=[f"{o}-{w.replace(' ', '-')}-{i}"
                                                           for i, (o, _, w) in enumerate(BAD)])
def test_a_bad_path_is_refused_before_anything_runs(data: Path, tmp_path: Path, option: str,
                                                    make: Callable[[Path], str], words: str) -> None:
    path = make(tmp_path)
    res = CliRunner().invoke(main, ["run", "--suite", "quick", "--machine", MACHINE, "--data", str(data),
                                    "--workload", "llama-cpp", option, path])
    assert res.exit_code == 2, res.output
    error = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1, res.output
    assert f"'{option}'" in error[0] and f"'{path}'" in error[0] and words in error[0], error
    assert "expected" in error[0] and "Traceback" not in res.output
    assert "starting" not in res.output and not list((data / "runs").rglob("*")), res.output


def test_a_gguf_and_an_executable_llama_bench_pass(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(GGUF_HEADER)
    exe = _not_executable(tmp_path)
    Path(exe).chmod(Path(exe).stat().st_mode | stat.S_IXUSR)
    res = CliRunner().invoke(main, ["run", "--suite", "quick", "--list", "--gguf", str(model), "--llama-bench", exe])
    assert res.exit_code == 0, res.output
    assert "llama-cpp-model" in res.output  # the binary's task, on this model


def test_the_refusal_comes_before_torch_loads(data: Path, tmp_path: Path) -> None:
    # A real process: the check is on the command line, so a refusal costs no torch import and runs nothing.
    code = ("import sys\nfrom collectors.cli import main\ntry:\n    main()\nfinally:\n"
            "    print('torch loaded' if 'torch' in sys.modules else 'torch not loaded', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, "run", "--machine", MACHINE, "--data", str(data),
                           "--gguf", _missing(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-2:] == [
        f"Error: Invalid value for '--gguf': '{_missing(tmp_path)}' does not exist: expected a GGUF model file "
        "(MODEL.gguf).", "torch not loaded"], done.stderr
    assert not list(data.rglob("*.json"))
