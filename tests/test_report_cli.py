"""`costperf report` refuses bad input with a clear message and no traceback (no rendering here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from collectors.cli import main


@pytest.mark.parametrize("args, message", [
    (["--set", "usd_per_kw=0.3"], "unknown assumption 'usd_per_kw'"),
    (["--set", "usd_per_kwh=cheap"], "usd_per_kwh"),
    (["--set", "utilisation=2"], "utilisation"),
    (["--set", "hours_per_day"], "expected name=value"),
])
def test_bad_assumption(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["report", "--engine", "fallback", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_missing_project(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--project", str(tmp_path)])
    assert result.exit_code == 1 and "_quarto.yml: not found" in result.output


def test_quarto_engine_without_quarto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no quarto here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = Path(__file__).resolve().parents[1]
    result = CliRunner().invoke(main, ["report", "--engine", "quarto", "--project", str(project)])
    assert result.exit_code == 1 and "quarto CLI is not on PATH" in result.output
