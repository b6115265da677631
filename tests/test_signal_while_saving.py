"""Measured results are never lost to a second signal: once `costperf run` is interrupted (or has
finished), SIGTERM and Ctrl-C wait until the record is written, and the run exits with the first
signal's status; a third signal stops at once, leaving no partial file. Each test sends real signals
to a real `costperf run`, whose save is slowed where the signal must land.

Before, a second signal while the interrupted record was finished or written ended the run with
'Stopped by SIGTERM before it finished' and no record: the measured results were lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from foundation_data import write_folder

from collectors import atomic_write, store
from collectors.records import RunRecord

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}

# Slows one step of saving the record: the record's assembly (runner.environment) or the write's
# fsync. It prints 'saving' when the step starts, so the test knows the signal lands inside it.
SLOWED = textwrap.dedent("""
    import os, sys, time
    step, seconds = sys.argv.pop(1), float(sys.argv.pop(1))
    from collectors import runner

    def slowed(original):
        calls = []
        def wrapper(*args, **kwargs):
            if not calls:
                calls.append(1)
                print("saving", flush=True)
                time.sleep(seconds)
            return original(*args, **kwargs)
        return wrapper

    if step == "fsync":
        os.fsync = slowed(os.fsync)
    else:
        runner.environment = slowed(runner.environment)
    from collectors.cli import main
    main()
""")


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(store.TMP_PREFIX) or p.name.endswith(".tmp")]


def _start(data: Path, step: str, seconds: float, *workloads: str, env: dict[str, str] = ENV) -> subprocess.Popen[str]:
    argv = [sys.executable, "-c", SLOWED, step, str(seconds), "run", "--suite", "quick", "--machine", "test-desktop",
            "--data", str(data), "--energy", "off"]
    for w in workloads:
        argv += ["--workload", w]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _wait_for(proc: subprocess.Popen[str], start: str, lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(start):
            return
    raise AssertionError("".join(lines))


@pytest.mark.parametrize(("step", "second"), [("fsync", signal.SIGTERM), ("environment", signal.SIGINT)])
def test_a_second_signal_while_the_interrupted_run_is_saved_waits_for_the_record(
        tmp_path: Path, step: str, second: signal.Signals) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    proc = _start(data, step, 2.0, "memcpy", "train-gpt2")
    lines: list[str] = []
    _wait_for(proc, "  memcpy: ", lines)  # the first task finished; the second runs
    proc.send_signal(signal.SIGTERM)
    _wait_for(proc, "saving", lines)
    proc.send_signal(second)
    out = "".join(lines) + proc.stdout.read()  # type: ignore[union-attr]
    assert proc.wait(timeout=60) == 143, out  # the first signal's status
    assert "Traceback" not in out
    (path,) = list((data / "runs").rglob("*.json"))
    name = "SIGTERM" if second == signal.SIGTERM else "Ctrl-C"
    assert f"{name}: the measured results are being saved first; a third signal stops at once" in out, out
    assert f"Wrote {path} (1 results, interrupted by SIGTERM); {name} waited until it was saved." in out, out
    record = RunRecord.model_validate_json(path.read_text())
    assert record.status == "interrupted" and [r.workload for r in record.results] == ["memcpy"]
    assert not _leftovers(data) and not store.load(data).problems


def test_a_signal_while_a_finished_run_is_saved_keeps_it_complete(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    proc = _start(data, "fsync", 2.0, "memcpy")
    lines: list[str] = []
    _wait_for(proc, "saving", lines)
    proc.send_signal(signal.SIGINT)
    out = "".join(lines) + proc.stdout.read()  # type: ignore[union-attr]
    assert proc.wait(timeout=60) == 130, out
    (path,) = list((data / "runs").rglob("*.json"))
    assert f"Wrote {path} (1 results, complete); Ctrl-C waited until it was saved." in out, out
    assert RunRecord.model_validate_json(path.read_text()).status == "complete"


def test_a_third_signal_stops_at_once_and_leaves_no_partial_file(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    # The portable write (a named temporary, then a link) is the one a kill could leave debris of.
    proc = _start(data, "fsync", 60.0, "memcpy", "train-gpt2", env={**ENV, atomic_write.NAMED_TEMPORARY_ENV: "1"})
    lines: list[str] = []
    _wait_for(proc, "  memcpy: ", lines)
    proc.send_signal(signal.SIGTERM)
    _wait_for(proc, "saving", lines)
    assert _leftovers(data)  # the write is under way: its temporary exists
    proc.send_signal(signal.SIGTERM)
    _wait_for(proc, "SIGTERM: the measured results are being saved first", lines)
    proc.send_signal(signal.SIGINT)
    out = "".join(lines) + proc.stdout.read()  # type: ignore[union-attr]
    assert proc.wait(timeout=10) == 143, out  # at once, not after the 60 s write
    assert out.rstrip().endswith("Stopped by a third signal while the run was being saved: no run file written "
                                 "(no file was left half-written)."), out
    assert "Traceback" not in out
    assert not list((data / "runs").rglob("*.json")) and not _leftovers(data)
