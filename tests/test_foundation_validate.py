"""`costperf validate` through the real command line: clean data passes; each kind of bad input
fails with exit 1, one line naming file and field, no traceback, and no file changed."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation_data import MACHINE, run_dict, write_folder

COSTPERF = [sys.executable, "-m", "collectors.cli"]


def costperf(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COSTPERF, *map(str, args)], capture_output=True, text=True, timeout=60)


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_clean_folder_validates(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data")
    out = costperf("validate", "--data", data)
    assert out.returncode == 0, out.stderr
    assert "1 machines, 1 runs" in out.stdout


def _machine_file(data: Path) -> Path:
    return data / "machines" / "test-desktop.yaml"


def _edit_machine(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], Path]:
    def apply(data: Path) -> Path:
        m = copy.deepcopy(MACHINE)
        change(m)
        _machine_file(data).write_text(yaml.safe_dump(m, sort_keys=False))
        return _machine_file(data)
    return apply


def _write_text(text: str) -> Callable[[Path], Path]:
    def apply(data: Path) -> Path:
        _machine_file(data).write_text(text)
        return _machine_file(data)
    return apply


def _future_price(m: dict[str, Any]) -> None:
    m["prices"][0]["date"] = "2999-01-01"


def _unknown_run_machine(data: Path) -> Path:
    run = run_dict(machine="no-such-machine")
    folder = data / "runs" / "no-such-machine"
    folder.mkdir(parents=True)
    path = folder / "20260102T030405Z.json"
    path.write_text(json.dumps(run))
    return path


def _duplicate_id(data: Path) -> Path:
    path = data / "machines" / "test-desktop.yml"
    path.write_text(_machine_file(data).read_text())
    return path


def _malformed_run_json(data: Path) -> Path:
    path = next((data / "runs").rglob("*.json"))
    path.write_text(path.read_text()[:-40])
    return path


def _string_in_samples(data: Path) -> Path:
    path = next((data / "runs").rglob("*.json"))
    run = json.loads(path.read_text())
    run["results"][0]["throughput"]["samples"][1] = "11.0"
    path.write_text(json.dumps(run))
    return path


def _summary_mismatch(data: Path) -> Path:
    path = next((data / "runs").rglob("*.json"))
    run = json.loads(path.read_text())
    run["results"][0]["throughput"]["median"] = 99.0
    path.write_text(json.dumps(run))
    return path


CASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    # name: (how to break the copy, field named in the message, words the message must contain)
    "missing field": (_edit_machine(lambda m: m.pop("vendor")), "vendor", "required field is missing"),
    "string for a number": (_edit_machine(lambda m: m["accelerators"][0].update(memory_gb="24 GB")),
                            "accelerators.0.memory_gb", "expected a valid number; got text '24 GB'"),
    "unknown field": (_edit_machine(lambda m: m.update(colour="red")), "colour", "unknown field; expected one of"),
    "negative price": (_edit_machine(lambda m: m["prices"][0].update(amount=-5)), "prices.0.amount",
                       "greater than 0"),
    "NaN price": (_write_text(yaml.safe_dump(MACHINE, sort_keys=False).replace("amount: 1599", "amount: .nan")),
                  "prices.0.amount", "finite number"),
    "non-http URL": (_edit_machine(lambda m: m["sources"][0].update(url="ftp://example.org/spec")),
                     "sources.0.url", "http:// or https://"),
    "malformed YAML": (_write_text("id: test-desktop\nname: [unclosed\nvendor: nvidia\n"), "", "malformed YAML"),
    "python object tag": (_write_text("id: !!python/object/apply:os.system ['echo hacked']\n"), "",
                          "only plain YAML is allowed"),
    "duplicate YAML key": (_write_text(yaml.safe_dump(MACHINE, sort_keys=False) + "vendor: apple\n"), "",
                           "duplicate key 'vendor'"),
    "future date": (_edit_machine(_future_price), "prices.0.date", "is in the future"),
    "run names unknown machine": (_unknown_run_machine, "machine", "unknown machine 'no-such-machine'"),
    "duplicate id": (_duplicate_id, "id", "duplicate id 'test-desktop'"),
    "malformed JSON": (_malformed_run_json, "", "malformed JSON"),
    "string in samples": (_string_in_samples, "results.0.throughput.samples.1", "expected a valid number"),
    "summary does not match samples": (_summary_mismatch, "results.0.throughput", "samples give 11.0"),
    "TODO placeholder": (_edit_machine(lambda m: m.update(name="TODO: display name")), "name", "TODO placeholder"),
    "id differs from file name": (_edit_machine(lambda m: m.update(id="other-name")), "id", "must equal the file name"),
    "usable rule without its parameter": (
        _edit_machine(lambda m: m["usable_memory"].pop("reserve_gb")), "usable_memory", "needs `reserve_gb`"),
    "card price without a host": (_edit_machine(lambda m: m["prices"][0].update(covers="card")), "(file)",
                                  "cover the card alone: name the reference host"),
    "unknown host": (_edit_machine(lambda m: m.update(host="no-such-host")), "host", "unknown host 'no-such-host'"),
    "citing an unknown source": (_edit_machine(lambda m: m["power"].update(sources=["nope"])), "(file)",
                                 "unknown source(s) ['nope']"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_named_and_nothing_changes(tmp_path: Path, case: str) -> None:
    data = write_folder(tmp_path / "data")
    breaker, field, words = CASES[case]
    broken = breaker(data)
    before = tree_digest(tmp_path)
    out = costperf("validate", "--data", data)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    lines = [line for line in out.stderr.splitlines() if str(broken) in line]
    assert lines, f"no line names {broken}:\n{out.stderr}"
    hit = [line for line in lines if words in line and (not field or f": {field}: " in line)]
    assert hit, f"expected field {field!r} and {words!r} in:\n{out.stderr}"
    assert tree_digest(tmp_path) == before


def test_error_names_the_yaml_line(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data")
    _edit_machine(lambda m: m["accelerators"][0].update(memory_gb="lots"))(data)
    out = costperf("validate", "--data", data)
    line_no = next(i for i, line in enumerate(_machine_file(data).read_text().splitlines(), 1) if "lots" in line)
    assert f"test-desktop.yaml:{line_no}: accelerators.0.memory_gb:" in out.stderr


def test_validate_paths_reports_only_those_files(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data")
    run_file = _string_in_samples(data)
    assert costperf("validate", "--data", data, _machine_file(data)).returncode == 0
    out = costperf("validate", "--data", data, run_file)
    assert out.returncode == 1 and "samples.1" in out.stderr


def test_missing_data_folder_is_a_clear_error(tmp_path: Path) -> None:
    out = costperf("validate", "--data", tmp_path / "nowhere")
    assert out.returncode == 1 and "data folder not found" in out.stderr


def test_version_and_help() -> None:
    assert costperf("--version").stdout.startswith("costperf, version ")
    help_text = costperf("validate", "--help").stdout
    assert "Examples:" in help_text and "--data" in help_text
