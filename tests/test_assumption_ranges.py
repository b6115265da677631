"""Every report assumption has a finite, sensible range; an override outside it, or one that is not a
plain value, is one clear error; the report's arithmetic holds at the edges of every range."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from collectors.cli import main
from report import assumptions, metrics
from report.assumptions import AssumptionError, Assumptions

ROOT = Path(__file__).resolve().parents[1]
NUMERIC = [name for name, f in Assumptions.model_fields.items()
           if f.annotation in (float, float | None, int)]


def _bounds(name: str) -> tuple[float | None, float | None]:
    low = high = None
    for m in Assumptions.model_fields[name].metadata:
        low = getattr(m, "ge", getattr(m, "gt", low)) if low is None else low
        high = getattr(m, "le", getattr(m, "lt", high)) if high is None else high
    return low, high


def test_every_number_has_a_finite_range() -> None:
    assert NUMERIC, "no numeric assumption found"
    for name in NUMERIC:
        low, high = _bounds(name)
        assert low is not None and high is not None and math.isfinite(high), f"{name} has no finite range"


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("raw", [".inf", "-.inf", ".nan", "1.0e+308", "1e308", "-1", "99999999"])
def test_out_of_range_overrides_are_refused(name: str, raw: str) -> None:
    with pytest.raises(AssumptionError) as info:
        assumptions.parse_set([f"{name}={raw}"])
    assert name in str(info.value)


@pytest.mark.parametrize("pair, words", [
    ("usd_per_kwh=!!python/object/apply:os.system ['true']", "tag"),
    ("usd_per_kwh=&a 1", "anchor"),
    ("usd_per_kwh=[1, 2]", "single value"),
    ("usd_per_kwh={a: 1}", "single value"),
    ("usd_per_kwh=1: 2: 3", "expected"),
    ("usd_per_kwh=" + "9" * 5000, "characters"),
    ("nonsense=1", "unknown assumption"),
    ("usd_per_kwh", "name=value"),
    ("amortisation_years=true", "not true"),  # not 1 year
    ("hours_per_day=off", "not false"),  # YAML 1.1's off
])
def test_overrides_that_are_not_plain_values(pair: str, words: str) -> None:
    with pytest.raises(AssumptionError, match=words):
        assumptions.parse_set([pair])


@pytest.mark.parametrize("pair", ["usd_per_kwh=.inf", "amortisation_years=.inf", "vram_reserve_gb=1e308",
                                  "usd_per_kwh=!!python/object/apply:os.system ['true']"])
def test_report_refuses_them_before_rendering(pair: str, tmp_path: Path) -> None:
    (tmp_path / "_quarto.yml").write_text("project:\n  type: website\n")
    res = CliRunner().invoke(main, ["report", "--set", pair, "--project", str(tmp_path)])
    assert res.exit_code in (1, 2) and "Traceback" not in res.output, res.output
    assert pair.partition("=")[0] in res.output
    assert [p.name for p in tmp_path.iterdir()] == ["_quarto.yml"]


def test_a_malformed_environment_override_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(assumptions.ENV_VAR, "{not json")
    with pytest.raises(AssumptionError, match=assumptions.ENV_VAR):
        assumptions.resolve(ROOT)
    monkeypatch.setenv(assumptions.ENV_VAR, '{"usd_per_kwh": Infinity}')
    with pytest.raises(AssumptionError):
        assumptions.resolve(ROOT)


def test_the_report_is_finite_at_the_edges_of_every_range() -> None:
    edges = {}
    for name in NUMERIC:
        low, high = _bounds(name)
        edges[name] = high
    a = Assumptions(**edges)
    rep = metrics.load(ROOT, a)
    for frame in (rep.machines, rep.results, rep.headline):
        numbers = frame.select_dtypes("number")
        values = numbers.to_numpy().ravel()
        assert not any(math.isinf(v) for v in values if v == v), "an infinite figure in the report"


def test_the_methodology_page_names_no_local_absolute_path(tmp_path: Path) -> None:
    for data_dir in (str(tmp_path / "my-data"), str(ROOT / "data"), "data"):
        shown = {r["name"]: r["value"] for r in Assumptions(data_dir=data_dir).rows()}["data_dir"]
        assert not Path(shown).is_absolute() and str(tmp_path) not in shown and str(ROOT) not in shown
