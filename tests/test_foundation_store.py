"""Atomic writes, the JSON Schema export, `machine new`, and the torch-free import promise."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from collectors import store
from collectors.records import KINDS, describe
from foundation_data import MACHINE, run_dict, write_folder

ROOT = Path(__file__).resolve().parents[1]


def test_write_new_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "m" / "a.json"
    store.write_new(target, "first\n")
    with pytest.raises(FileExistsError):
        store.write_new(target, "second\n")
    assert target.read_text() == "first\n"
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


MODES = {"unnamed": {}, "named": {"COSTPERF_NAMED_TEMPORARY": "1"}}
"""Linux writes under no name (O_TMPFILE); macOS, and file systems without it, under a temporary name."""


def _slow_writer(target: Path, mode: str = "unnamed") -> subprocess.Popen[str]:
    """A child that writes a data file but stalls inside the write, so it can be interrupted there."""
    code = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from collectors import store
        real_fsync = os.fsync
        def stalled_fsync(fd):
            print("writing", flush=True)
            time.sleep(60)
        os.fsync = stalled_fsync
        store.write_new(Path({str(target)!r}), "x" * 1_000_000)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                             env={**os.environ, **MODES[mode]})
    assert child.stdout is not None and child.stdout.readline().strip() == "writing"
    return child


@pytest.mark.parametrize("mode", list(MODES))
def test_ctrl_c_during_write_leaves_nothing(tmp_path: Path, mode: str) -> None:
    target = tmp_path / "runs" / "m" / "20260101T000000Z.json"
    child = _slow_writer(target, mode)
    child.send_signal(signal.SIGINT)
    child.wait(timeout=30)
    assert child.returncode != 0
    assert list(target.parent.iterdir()) == []


@pytest.mark.parametrize("mode", list(MODES))
def test_kill_during_write_leaves_no_data_file(tmp_path: Path, mode: str) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    target = data / "runs" / "test-desktop" / "20260101T000000Z.json"
    child = _slow_writer(target, mode)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert not target.exists()
    # Whatever the kernel kept of the killed write has no data file's name, and validate ignores it.
    leftovers = list(target.parent.iterdir())
    assert all(p.name.startswith(store.TMP_PREFIX) for p in leftovers)
    if mode == "named":
        # The kill landed inside the write: the complete content sat under a temporary name only.
        assert len(leftovers) == 1 and leftovers[0].stat().st_size == 1_000_000
    elif hasattr(os, "O_TMPFILE"):
        assert leftovers == []  # written under no name at all
    assert store.load(data).problems == []
    store.cleanup_temporaries(data)
    assert list(target.parent.iterdir()) == []


def test_write_run_round_trips(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    run = KINDS["run"].model_validate_json(json.dumps(run_dict()))
    path = store.write_run(data, run)
    assert path == data / "runs" / "test-desktop" / "20260102T030405Z.json"
    ds = store.load(data)
    assert ds.problems == [] and ds.runs == [run]


@pytest.mark.parametrize("kind", list(KINDS))
def test_committed_json_schema_matches_models(kind: str) -> None:
    committed = json.loads((ROOT / "data" / "schema" / f"{kind}.schema.json").read_text())
    assert committed == json.loads(json.dumps(describe(KINDS[kind]))), "run `costperf schema`"


def test_json_schema_accepts_valid_and_rejects_invalid_files() -> None:
    machine_schema = describe(KINDS["machine"])
    doc = json.loads(json.dumps(MACHINE, default=str))
    jsonschema.validate(doc, machine_schema)
    doc["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, machine_schema)
    jsonschema.validate(run_dict(), describe(KINDS["run"]))


def test_schema_check_flags_stale_files(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "collectors.cli", "schema", "--data", str(tmp_path)]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 0
    (tmp_path / "schema" / "run.schema.json").write_text("{}")
    out = subprocess.run([*cmd, "--check"], capture_output=True, text=True)
    assert out.returncode == 1 and "run.schema.json" in out.stderr


def test_machine_new_is_flagged_only_for_todos(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    cli = [sys.executable, "-m", "collectors.cli"]
    made = subprocess.run([*cli, "machine", "new", "this-box", "--data", str(data)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    path = data / "machines" / "this-box.yaml"
    scaffold = yaml.safe_load(path.read_text())
    assert scaffold["system_ram_gb"] > 0 and scaffold["accelerators"][0]["memory_gb"] > 0
    assert scaffold["cpu"] and not str(scaffold["cpu"]).startswith("TODO")
    out = subprocess.run([*cli, "validate", "--data", str(data)], capture_output=True, text=True)
    assert out.returncode == 1
    problems = [line for line in out.stderr.splitlines() if "this-box.yaml" in line]
    assert problems and all("TODO placeholder" in line for line in problems), out.stderr
    # A second `machine new` with the same id refuses instead of overwriting.
    again = subprocess.run([*cli, "machine", "new", "this-box", "--data", str(data)], capture_output=True, text=True)
    assert again.returncode == 1 and "never overwritten" in again.stderr


def test_machine_new_rejects_a_bad_id(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "collectors.cli", "machine", "new", "My Box", "--data", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "slug" in out.stderr and not (tmp_path / "machines").exists()


def test_importing_collectors_and_report_does_not_import_torch() -> None:
    code = ("import sys, collectors, collectors.cli, collectors.store, collectors.records, report; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False", out.stderr
