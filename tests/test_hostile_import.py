"""Hostile llama-bench output: every bad file is refused with its reason and nothing is written;
what is written always passes `costperf validate`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from foundation_data import write_folder

from collectors.cli import main

BENCH = Path(__file__).parent / "fixtures" / "llama_bench" / "new" / "bench.json"


def _rows() -> list[dict[str, Any]]:
    return json.loads(BENCH.read_text())


def _tg(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in rows if r["n_prompt"] == 0)


def _set(field: str, value: Any, which: Callable[[list[dict[str, Any]]], dict[str, Any]] = lambda rows: rows[0]
         ) -> Callable[[], str]:
    def make() -> str:
        rows = _rows()
        which(rows)[field] = value
        return json.dumps(rows)
    return make


def _samples(value: float) -> Callable[[], str]:
    def make() -> str:
        rows = _rows()
        rows[0]["samples_ts"] = [value, value]
        rows[0]["avg_ts"] = value
        return json.dumps(rows)
    return make


def _text(old: str, new: str) -> Callable[[], str]:
    return lambda: BENCH.read_text().replace(old, new, 1)


CASES: dict[str, tuple[Callable[[], str], str]] = {
    "overflowing avg_ts": (_text('"avg_ts": 539.745937', '"avg_ts": 1e400'), "finite"),
    "huge avg_ts": (_set("avg_ts", 1e12), "avg_ts"),
    "negative spread": (_set("stddev_ts", -5.0), "stddev_ts"),
    "1e30 prompt": (_text('"n_prompt": 512', '"n_prompt": 1000000000000000000000000000000'), "beyond"),
    "1e15 prompt": (_set("n_prompt", 10**15), "n_prompt"),
    "1e308 samples": (_samples(1e308), "beyond"),
    "NaN samples": (_text("543.803", "NaN"), "finite"),
    "year 1": (_set("test_time", "0001-01-01T00:00:00Z"), "before llama.cpp"),
    "year 2099": (_set("test_time", "2099-01-01T00:00:00Z"), "in the future"),
    "duplicate keys": (_text('"n_gen": 0,', '"n_gen": 0, "n_gen": 128,'), "duplicate key"),
    "10,000 deep": (lambda: "[" * 10_000 + "]" * 10_000, "levels deep"),
    "5,000-digit size": (_text('"model_size": 246587904', '"model_size": ' + "7" * 5000), "characters"),
    "model of 1e16 bytes": (_set("model_size", 10**16), "model_size"),
    # Each check of the importer passes, validate's physics does not: decode far above memory bandwidth.
    "decode beyond bandwidth": (lambda: _beyond_bandwidth(), "physical limit"),
}


def _beyond_bandwidth() -> str:
    rows = _rows()
    for row in rows:
        row["model_size"] = 4_000_000_000  # past any cache: decode reads it from memory
    tg = _tg(rows)
    tg["samples_ts"] = [900_000.0, 900_000.0]
    tg["avg_ts"] = 900_000.0
    tg["samples_ns"] = [142_222, 142_222]
    return json.dumps(rows)


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_output_is_refused_and_nothing_written(case: str, tmp_path: Path) -> None:
    make, words = CASES[case]
    data = write_folder(tmp_path / "data", runs=[])
    bench = tmp_path / "bench.json"
    bench.write_text(make())
    res = CliRunner().invoke(main, ["import", "llama-bench", str(bench), "--machine", "test-desktop",
                                    "--data", str(data)])
    assert res.exit_code == 1, res.output
    assert words in res.output and "bench.json" in res.output, res.output
    assert "Traceback" not in res.output and len(res.output) < 2000
    assert not (data / "runs").exists() or not list((data / "runs").rglob("*.json"))


def test_what_import_writes_validates(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    res = CliRunner().invoke(main, ["import", "llama-bench", str(BENCH), "--machine", "test-desktop",
                                    "--data", str(data)])
    assert res.exit_code == 0, res.output
    check = CliRunner().invoke(main, ["validate", "--data", str(data)])
    assert check.exit_code == 0, check.output


@pytest.mark.parametrize("when, words", [("0001-01-01T00:00:00Z", "before llama.cpp"),
                                         ("2099-01-01T00:00:00Z", "in the future")])
def test_time_option_is_bounded(when: str, words: str, tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    md = Path(__file__).parent / "fixtures" / "llama_bench" / "new" / "bench.md"
    res = CliRunner().invoke(main, ["import", "llama-bench", str(md), "--machine", "test-desktop", "--time", when,
                                    "--data", str(data)])
    assert res.exit_code == 2 and words in res.output and "Traceback" not in res.output


MD = Path(__file__).parent / "fixtures" / "llama_bench" / "new" / "bench.md"


@pytest.mark.parametrize("old, new", [
    ("235.16 MiB", "1.2.3 MiB"), ("268.10 M", "9.9.9 M"), ("539.75 ± 5.74", "1.2.3 ± 5.74"),
    ("pp512", "pp" + "9" * 5000), ("539.75 ± 5.74", "9" * 400 + " ± 1"), ("build: 0c1e570 (1)", "build: x (" + "9" * 5000 + ")"),
])
def test_hostile_markdown_cells(old: str, new: str, tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    bench = tmp_path / "bench.md"
    bench.write_text(MD.read_text().replace(old, new, 1))
    res = CliRunner().invoke(main, ["import", "llama-bench", str(bench), "--machine", "test-desktop",
                                    "--time", "2026-11-24T17:33:03Z", "--data", str(data)])
    assert res.exit_code == 1 and "bench.md" in res.output and "Traceback" not in res.output, res.output
    assert len(res.output) < 600  # the offending value, cut short: never the file
