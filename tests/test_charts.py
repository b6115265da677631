"""The report's altair charts: valid Vega-Lite, the encodings the report promises, offline embedding."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from collectors import store
from report import charts, metrics
from report import sample_data as S
from report.assumptions import Assumptions


@pytest.fixture(scope="module")
def rep(tmp_path_factory: pytest.TempPathFactory) -> metrics.Report:
    root = S.write_example(tmp_path_factory.mktemp("data"), n_runs=6)
    return metrics.build(store.load(root), Assumptions())


@pytest.fixture(autouse=True)
def fresh_page() -> None:
    charts._bundle_done = False  # each page is a new kernel; tests emulate that


def all_charts(rep: metrics.Report) -> dict[str, object]:
    return {
        "price": charts.price_vs_throughput(rep.headline),
        "ranking": charts.ranking(rep.headline, "tokens_per_dollar", "t", "tokens per USD", "tokens_per_dollar_provenance"),
        "settings": charts.settings(rep.results, "decode", "t"),
        "fit": charts.fit_grid(rep.fits),
    }


def encodings(spec: dict) -> list[dict]:
    layers = spec.get("layer", [spec])
    return [layer.get("encoding", {}) for layer in layers]


def test_every_chart_is_valid_vega_lite(rep: metrics.Report) -> None:
    for name, chart in all_charts(rep).items():
        assert chart is not None, name
        spec = chart.to_dict()  # validates against the Vega-Lite schema; raises when invalid
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/"), name


def test_colour_is_vendor_shape_is_provenance_with_tooltips(rep: metrics.Report) -> None:
    for name in ("price", "ranking", "settings"):
        spec = all_charts(rep)[name].to_dict()  # type: ignore[attr-defined]
        points = [e for e in encodings(spec) if "shape" in e]
        assert points, name
        enc = points[0]
        assert enc["color"]["field"] == "vendor" and enc["shape"]["field"] == "provenance", name
        assert enc["tooltip"], name
        assert enc["color"]["scale"]["range"][:2] == [charts.VENDOR_COLOURS["nvidia"], charts.VENDOR_COLOURS["apple"]]


def _text(title: str | list[str]) -> str:
    """An axis title as one string, whether Vega draws it on one line or several."""
    return " ".join(title) if isinstance(title, list) else title


def test_axis_titles_break_before_their_parenthesis_only_when_long() -> None:
    from report.chart_titles import AXIS_TITLE_LINE, axis_lines

    assert axis_lines("decode throughput (tokens/s, log scale)") == ["decode throughput", "(tokens/s, log scale)"]
    assert axis_lines("decode tokens/s (log)") == "decode tokens/s (log)"  # short enough
    assert axis_lines("x" * (AXIS_TITLE_LINE + 5)) == "x" * (AXIS_TITLE_LINE + 5)  # nowhere to break
    assert axis_lines("a title (with (nested) parentheses) here") == ["a title", "(with (nested) parentheses) here"]


def test_units_in_axis_titles_and_log_scale_across_decades(rep: metrics.Report) -> None:
    spec = charts.price_vs_throughput(rep.headline).to_dict()  # type: ignore[union-attr]
    enc = [e for e in encodings(spec) if "shape" in e][0]
    assert "(USD" in _text(enc["x"]["title"]) and "tokens/s" in _text(enc["y"]["title"])
    settings = charts.settings(rep.results, "prefill", "t").to_dict()  # type: ignore[union-attr]
    x = settings["encoding"]["x"]
    # prefill figures here run from 500 (the Mac, published) to about 12,000 tokens/s: more than a decade
    assert x["scale"]["type"] == "log" and "log scale" in _text(x["title"]) and "tokens/s" in _text(x["title"])
    # too long for a phone's plot on one line: the name, then its parenthesis
    assert x["title"] == ["prefill throughput", "(tokens/s, log scale)"]


def test_linear_scale_within_a_decade() -> None:
    import pandas as pd

    assert charts._log_or_linear(pd.Series([10.0, 50.0])).type != "log"
    assert charts._log_or_linear(pd.Series([1.0, 50.0])).type == "log"


def test_the_price_chart_says_log_scale_only_on_a_log_axis(rep: metrics.Report) -> None:
    spec = charts.price_vs_throughput(rep.headline).to_dict()  # type: ignore[union-attr]
    enc = [e for e in encodings(spec) if "shape" in e][0]
    # the example's prices and speeds each lie within a decade: linear axes, titled as such
    for axis in ("x", "y"):
        assert ("log scale" in _text(enc[axis]["title"])) == (enc[axis]["scale"].get("type") == "log"), axis


def test_pareto_front_is_drawn(rep: metrics.Report) -> None:
    spec = charts.price_vs_throughput(rep.headline).to_dict()  # type: ignore[union-attr]
    assert any(layer["mark"]["type"] == "line" for layer in spec["layer"])
    values = next(iter(spec["datasets"].values()))
    assert any(v["pareto"] for v in values) and not all(v["pareto"] for v in values)


def test_no_chart_without_data(rep: metrics.Report) -> None:
    empty = rep.headline.iloc[0:0]
    assert charts.price_vs_throughput(empty) is None
    assert "No data" in charts.embed(None, empty="No data here.")


def test_embed_inlines_the_bundle_once_per_page(rep: metrics.Report) -> None:
    first = charts.embed(all_charts(rep)["price"])
    second = charts.embed(all_charts(rep)["fit"])
    assert "window.vegaEmbed=" in first and len(first) > 100_000
    assert "window.vegaEmbed" not in second and len(second) < 100_000
    for html in (first, second):
        assert not re.search(r"<script[^>]*\bsrc=", html), "charts must not load scripts from anywhere"
        assert "cdn.jsdelivr" not in html
    ids = re.findall(r'<div id="(cp-chart-\d+)"', first + second)
    assert len(ids) == 2 and ids[0] != ids[1]


def test_embedded_spec_cannot_close_its_script_tag(tmp_path: Path) -> None:
    S.write_machine(tmp_path, S.machine("evil", "</script><script>alert(1)</script>", price_usd=1000))
    rep = metrics.build(store.load(tmp_path), Assumptions())
    charts._bundle_done = True
    html = charts.embed(charts.ranking(rep.headline, "usable_gb", "t", "usable GB", "decode_provenance"))
    script = html[html.index("<script"):]
    assert "</script><script>alert(1)" not in html
    body = script[script.index(">") + 1:script.rindex("</script>")]
    assert "</" not in body.replace("<\\/", "")
    spec = json.loads(body[body.index("{"):body.rindex('}, {"actions"') + 1].replace("<\\/", "</"))
    assert spec["datasets"]


def test_titles_are_broken_into_lines_at_the_width_they_are_drawn_in(rep: metrics.Report) -> None:
    """A title and its subtitle become lines broken in the page (Vega would cut one long line to an
    ellipsis): at the container's width for a chart as wide as its container, at the chart's own
    width for a fixed one; Vega-Lite compiles each to a Vega signal (its schema types a subtitle as
    plain text, but its compiler turns any title property's expression into a signal)."""
    import altair as alt
    import vl_convert

    from report import chart_titles

    price = charts.price_vs_throughput(rep.headline)
    spec = price.to_dict()  # type: ignore[union-attr]
    assert spec["title"]["subtitle"].startswith("at ")  # the setting under the title, not in it
    assert chart_titles.wrap(spec)
    title = spec["title"]
    assert title["text"]["expr"].startswith(f"{chart_titles.FUNCTION}(") and chart_titles.CONTAINER in title["text"]["expr"]
    assert chart_titles.SUBTITLE_FONT in title["subtitle"]["expr"]
    vega = vl_convert.vegalite_to_vega(spec)
    assert vega["title"]["text"] == {"signal": title["text"]["expr"]}
    assert vega["title"]["subtitle"] == {"signal": title["subtitle"]["expr"]}
    fixed = alt.hconcat(*(alt.Chart(rep.headline.head(2)[["usable_gb"]]).mark_point().encode(x="usable_gb:Q")
                          .properties(width=200, title="a panel title") for _ in range(2))).properties(title="both")
    spec = fixed.to_dict()
    assert chart_titles.wrap(spec)
    assert ", 400, " in spec["title"]["text"]["expr"]  # the panels side by side
    assert all(", 200, " in panel["title"]["text"]["expr"] for panel in spec["hconcat"])
    assert not chart_titles.wrap(alt.Chart(rep.headline).mark_point().to_dict())  # no title, nothing to do
    html = charts.embed(price)
    assert f'"expressionFunctions": {{"{chart_titles.FUNCTION}": ' in html
