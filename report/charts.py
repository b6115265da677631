"""Altair charts of the report, and their offline embedding.

Conventions: colour = vendor, shape = provenance (measured ● / published ■ / estimated ▲), units
in axis titles, log scales where values span decades, tooltips on every mark. Charts are embedded
with vega, vega-lite and vega-embed inlined from vl-convert-python's bundle, once per page: the
pages load nothing from the network (altair's default renderer would fetch them from a CDN).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from report import chart_titles as T
from report.chart_labels import PATCH_JS, needs_patch, placed, point_labels
from report.formulas import pareto_front

alt.data_transformers.disable_max_rows()

VENDOR_COLOURS = {"nvidia": "#4d8f00", "apple": "#0a66c2", "amd": "#d62728", "other": "#8c6bb1"}
PROVENANCE_SHAPES = {"measured": "circle", "published": "square", "estimated": "triangle-up"}
WIDTH = 620  # for concatenated charts; a single chart takes its container's width ("container")
LABEL_LIMIT = 190  # pixels of a machine name beside a chart row (short names; the full name in the tooltip)
# narrower on a phone, where the plot would otherwise get what is left of 350 pixels
NAME_LIMIT = {"expr": f"containerSize()[0] < 500 ? 110 : {LABEL_LIMIT}"}
# full-length names where a phone leaves the plot room (390 pixels), short ones on a narrower screen
WIDE_NAME_LIMIT = {"expr": f"containerSize()[0] < 340 ? 110 : {LABEL_LIMIT}"}
ROW_STEP = 20  # pixels per machine row of a dot chart, shrunk so that the chart keeps within MAX_HEIGHT
MAX_HEIGHT = 520  # plot area: with title, axis and legend a chart fits a 1,000-pixel screen, axes in view
CELL_TEXT_MIN_ROW = 13  # pixels of row a cell's 10-pixel words need so that they clear the next row's

_vendor = alt.Color("vendor:N", title="vendor", scale=alt.Scale(domain=list(VENDOR_COLOURS),
                                                                range=list(VENDOR_COLOURS.values())))
_shape = alt.Shape("provenance:N", title="provenance", scale=alt.Scale(domain=list(PROVENANCE_SHAPES),
                                                                       range=list(PROVENANCE_SHAPES.values())))


def _log_or_linear(values: pd.Series) -> alt.Scale:
    """Log scale when positive values span more than a decade."""
    v = values.dropna()
    v = v[v > 0]
    if len(v) >= 2 and v.max() / v.min() > 10:
        return alt.Scale(type="log", nice=False, padding=10)
    return alt.Scale(zero=True)


def _scaled(values: pd.Series, name: str, unit: str | None = None) -> dict[str, Any]:
    """A value axis's scale, axis and title, the title saying 'log scale' only where the scale is one:
    'purchase price (USD, log scale)', 'decode tokens/s'."""
    scale = _log_or_linear(values)
    notes = [n for n in (unit, "log scale" if scale.type == "log" else None) if n]
    title = f"{name} ({', '.join(notes)})" if notes else name
    return {"scale": scale, "axis": _value_axis(values), "title": T.axis_lines(title)}


def _rows_height(n: int) -> int:
    return int(max(60, min(MAX_HEIGHT, n * ROW_STEP)))


def _value_axis(values: pd.Series) -> alt.Axis:
    """A quantitative axis whose labels never run together: SI units past ten thousand ("400k",
    not "400,000500,000" on a log axis), and labels dropped rather than overlapped."""
    v = pd.to_numeric(values, errors="coerce").dropna().abs()
    big = bool(len(v)) and float(v.max()) >= 10_000
    return alt.Axis(format="~s" if big else ",.3~r", labelOverlap="greedy", labelSeparation=10,
                    labelFlush=True)


def _labels(d: pd.DataFrame) -> pd.DataFrame:
    """A `label` column: each machine's short name, or its full name where two would read the same."""
    from report.present import short_name  # noqa: PLC0415

    names = d["name"].astype(str)
    short = {n: short_name(n) for n in names.unique()}
    clashes = {s for s in short.values() if list(short.values()).count(s) > 1}
    out = d.copy()
    out["label"] = [n if short[n] in clashes else short[n] for n in names]
    return out


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Dates and other objects to strings so the spec is plain JSON."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(lambda x: None if x is None or (isinstance(x, float) and math.isnan(x)) else str(x))
    return out


def price_vs_throughput(headline: pd.DataFrame) -> alt.LayerChart | None:
    """Purchase price against decode tokens/s, with the Pareto front (nothing cheaper is faster)."""
    df = headline[(headline["price_kind"].isin(["purchase", "used"])) & headline["price_usd"].notna()
                  & headline["decode_tok_s"].notna()].copy()
    if df.empty:
        return None
    df["provenance"] = df["decode_provenance"]
    df["pareto"] = pareto_front(df, "price_usd", "decode_tok_s")
    # each point named as the tables and the other charts name the machine, not by its file's id
    df = _labels(_plain(df))
    setting = df["setting"].dropna().iloc[0] if "setting" in df and df["setting"].notna().any() else "8B-class model"
    base = alt.Chart(df)
    points = base.mark_point(filled=True, size=110, opacity=0.9).properties(name="price_points").encode(
        x=alt.X("price_usd:Q", **_scaled(df["price_usd"], "purchase price", "USD")),
        y=alt.Y("decode_tok_s:Q", **_scaled(df["decode_tok_s"], "decode tokens/s")),
        color=_vendor, shape=_shape,
        tooltip=[alt.Tooltip("name:N", title="machine"), alt.Tooltip("price_usd:Q", title="price (USD)", format=",.0f"),
                 alt.Tooltip("decode_tok_s:Q", title="decode tokens/s", format=",.1f"),
                 alt.Tooltip("decode_setting:N", title="setting"), alt.Tooltip("provenance:N"),
                 alt.Tooltip("price_date:N", title="price date")],
    )
    front = base.transform_filter(alt.datum.pareto).mark_line(color="#6b7280", strokeDash=[5, 3]).encode(
        x="price_usd:Q", y="decode_tok_s:Q", order="price_usd:Q")
    # machines priced alike crowd together: each label goes where it overlaps nothing, or is left out
    # (its point keeps the tooltip); the Pareto front's machines are labelled first
    labels = point_labels(base, "price_points", "price_usd:Q", "decode_tok_s:Q", "label:N")
    chart = (front + points + labels).properties(
        width="container", height=320, title=T.titled("Price vs decode speed (dashed: Pareto front)", f"at {setting}"))
    return placed(chart, "price_points", "label", priority="pareto")


def ranking(df: pd.DataFrame, value: str, title: str, axis_title: str, provenance: str,
            detail: str | None = None, extra: list[tuple[str, str]] | None = None,
            subtitle: str | None = None) -> alt.Chart | None:
    """One dot per machine, best at the top: colour vendor, shape provenance; `subtitle` (under the
    title) names the setting the machines are ranked at."""
    d = df[df[value].notna()].copy()
    if d.empty:
        return None
    d["provenance"] = d[provenance]
    d = _labels(_plain(d))
    tooltip = [alt.Tooltip("name:N", title="machine"), alt.Tooltip(f"{value}:Q", title=axis_title, format=",.4~g"),
               alt.Tooltip("provenance:N")]
    if detail:
        tooltip.append(alt.Tooltip(f"{detail}:N", title="basis"))
    for col, label in extra or []:
        tooltip.append(alt.Tooltip(f"{col}:N", title=label))
    return alt.Chart(d).mark_point(filled=True, size=100).encode(
        x=alt.X(f"{value}:Q", title=T.axis_lines(axis_title), scale=_log_or_linear(d[value]), axis=_value_axis(d[value])),
        y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=NAME_LIMIT),
                sort=alt.EncodingSortField(field=value, order="descending")),
        color=_vendor, shape=_shape, tooltip=tooltip,
    ).properties(width="container", height=_rows_height(len(d)), title=T.titled(title, subtitle))


def settings(results: pd.DataFrame, kind: str, title: str) -> alt.Chart | None:
    """Every setting measured, published or estimated for one workload kind, per machine."""
    # machines with a file only: published figures of other hardware are in the page's own table,
    # and forty more rows would push the axis out of the screen
    d = results[(results["kind"] == kind) & results["tokens_per_s"].notna() & results["machine"].notna()].copy()
    if d.empty:
        return None
    if "setting" not in d.columns:
        from report.settings import labels  # noqa: PLC0415

        d["setting"] = labels(d)
    d = _labels(_plain(d))
    return alt.Chart(d).mark_point(filled=True, size=70, opacity=0.85).encode(
        x=alt.X("tokens_per_s:Q", **_scaled(d["tokens_per_s"], f"{kind} throughput", "tokens/s")),
        y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=NAME_LIMIT),
                sort=alt.EncodingSortField(field="tokens_per_s", op="max", order="descending")),
        color=_vendor, shape=_shape,
        tooltip=[alt.Tooltip("name:N", title="machine"), alt.Tooltip("setting:N"),
                 alt.Tooltip("tokens_per_s:Q", title="tokens/s", format=",.1f"), alt.Tooltip("provenance:N"),
                 alt.Tooltip("source:N"), alt.Tooltip("basis:N"), alt.Tooltip("flags:N", title="physics check")],
    ).properties(width="container", height=_rows_height(d["label"].nunique()), title=title)


def ceilings(table: pd.DataFrame, title: str, subtitle: str | None = None) -> alt.LayerChart | None:
    """Spec-based decode ceilings (open triangles, '≤') beside the figure each machine reached at the
    same setting (filled marks): an upper bound is drawn apart, never ranked with results."""
    d = table[table["ceiling_tok_s"].notna()].copy()
    if d.empty:
        return None
    d = _labels(_plain(d))
    y = alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=WIDE_NAME_LIMIT),
              sort=alt.EncodingSortField(field="ceiling_tok_s", order="descending"))
    values = pd.concat([d["ceiling_tok_s"], d["achieved_tok_s"].dropna()])
    x = alt.X("ceiling_tok_s:Q", title="decode tokens/s", scale=_log_or_linear(values), axis=_value_axis(values))
    ceiling = alt.Chart(d).mark_point(shape="triangle-right", filled=False, size=90).encode(
        x=x, y=y, color=_vendor,
        tooltip=[alt.Tooltip("name:N", title="machine"), alt.Tooltip("ceiling_tok_s:Q", title="ceiling ≤", format=",.1f"),
                 alt.Tooltip("ceiling_basis:N", title="formula")])
    reached = alt.Chart(d[d["achieved_tok_s"].notna()]).mark_point(filled=True, size=80).encode(
        x="achieved_tok_s:Q", y=y, color=_vendor,
        tooltip=[alt.Tooltip("name:N", title="machine"), alt.Tooltip("achieved_tok_s:Q", title="reached", format=",.1f"),
                 alt.Tooltip("achieved_provenance:N", title="provenance"),
                 alt.Tooltip("achieved_fraction:Q", title="share of the ceiling", format=".0%")])
    return (ceiling + reached).properties(width="container", height=_rows_height(len(d)),
                                         title=T.titled(f"{title} (▷ ceiling, ● reached)", subtitle))


def _date_axis(dates: pd.Series) -> alt.Axis:
    """Month labels over a long span, days over a short one, and few enough ticks that no label
    repeats ("2026-10 2026-10 2026-10" when months are printed for ticks days apart)."""
    span = (dates.max() - dates.min()).days if len(dates) else 0
    return alt.Axis(format="%Y-%m" if span > 120 else "%Y-%m-%d", tickCount=min(4, max(span // 30, 2)),
                    labelOverlap="greedy", labelSeparation=8)


PRICE_KIND_TITLES = {"purchase": "purchase price (USD)", "used": "used price (USD)",
                     "cloud_hourly": "cloud price (USD per hour)"}


def price_history(history: pd.DataFrame, machine: str) -> alt.VConcatChart | None:
    """One machine's prices over time: one point per price, one colour per provider (several
    providers quoted together are a spread, so each is its own series, joined by a line only across
    its own dates); a ring marks the price tokens per dollar uses. Purchase and hourly prices get a
    panel each, with their own axis and unit."""
    d = history[history["machine"] == machine]
    if d.empty:
        return None
    panels = []
    kinds = [k for k in ("purchase", "used", "cloud_hourly") if (d["kind"] == k).any()]
    used_kind = d.loc[d["used"], "kind"]
    if not used_kind.empty:  # the kind tokens per dollar uses comes first
        kinds.sort(key=lambda k: k != used_kind.iloc[0])
    for kind in kinds:
        k = d[d["kind"] == kind].copy()
        currencies = sorted(set(k["currency"]))
        k["date"] = k["date"].dt.strftime("%Y-%m-%d")
        k["fetched_at"] = k["fetched_at"].astype(str).replace("NaT", None)
        k = _plain(k)
        y_title = PRICE_KIND_TITLES[kind] if currencies == ["USD"] else f"{kind} price ({', '.join(currencies)})"
        base = alt.Chart(k).encode(
            x=alt.X("date:T", title="date observed", axis=_date_axis(pd.to_datetime(k["date"])),
                    scale=alt.Scale(padding=16)),
            y=alt.Y("amount:Q", title=y_title, scale=alt.Scale(zero=False, padding=12),
                    axis=alt.Axis(format=",.2~f")),
            color=alt.Color("series:N", title="provider / source", legend=alt.Legend(orient="bottom", columns=1,
                                                                                    labelLimit=520)),
        )
        lines = base.mark_line(opacity=0.6, strokeWidth=1.5).encode(detail="series:N")
        points = base.mark_point(filled=True, size=70, opacity=0.95).encode(
            tooltip=[alt.Tooltip("date:T", title="date", format="%Y-%m-%d"),
                     alt.Tooltip("amount:Q", title=y_title, format=",.3~f"), alt.Tooltip("currency:N"),
                     alt.Tooltip("series:N", title="provider / source"), alt.Tooltip("provenance:N"),
                     alt.Tooltip("used:N", title="used for tokens per dollar"), alt.Tooltip("note:N")])
        layers = lines + points
        if k["used"].astype(str).eq("True").any():  # an empty ring layer draws nothing but warns (infinite extent)
            layers += base.transform_filter(alt.datum.used).mark_point(size=260, strokeWidth=2, color="#111827",
                                                                       filled=False)
        panels.append(layers.properties(width=WIDTH - 260, height=150))
    from report.present import short_name  # noqa: PLC0415

    name = short_name(d["name"].iloc[0])  # as the machines table above names it
    return alt.vconcat(*panels).resolve_scale(color="independent").properties(
        title=alt.TitleParams(f"{name}: price history", subtitle="ringed: the price tokens per dollar uses"))


def scaling(table: pd.DataFrame) -> alt.HConcatChart | None:
    """Group tokens/s against ranks, with the linear ideal (N × one rank) dashed, and the scaling
    efficiency beside it: one colour per machine, workload and model."""
    d = table[table["tokens_per_s"].notna()].copy()
    if d.empty:
        return None
    d["provenance"] = "measured"
    d = _plain(d)
    ranks = sorted(int(n) for n in d["world_size"].unique())
    x = alt.X("world_size:Q", title="ranks (world size)", scale=alt.Scale(domain=[0, max(ranks) + 0.5], nice=False),
              axis=alt.Axis(values=ranks, format="d"))
    colour = alt.Color("series:N", title="machine · workload · model", legend=alt.Legend(orient="bottom", columns=1,
                                                                                       labelLimit=600))
    tooltip = [alt.Tooltip("name:N", title="machine"), alt.Tooltip("workload:N"), alt.Tooltip("model:N"),
               alt.Tooltip("world_size:Q", title="ranks"), alt.Tooltip("nodes:Q"), alt.Tooltip("backend:N"),
               alt.Tooltip("interconnect:N"), alt.Tooltip("tokens_per_s:Q", title="tokens/s", format=",.1f"),
               alt.Tooltip("efficiency:Q", title="scaling efficiency", format=".0%"), alt.Tooltip("run:N")]
    base = alt.Chart(d).encode(x=x, color=colour)
    speed = (base.mark_line(point=alt.OverlayMarkDef(filled=True, size=70)).encode(
        y=alt.Y("tokens_per_s:Q", title="group throughput (tokens/s)", scale=alt.Scale(zero=True)), tooltip=tooltip)
        + base.transform_filter(alt.datum.ideal_tokens_per_s != None).mark_line(strokeDash=[4, 3], opacity=0.6)  # noqa: E711
        .encode(y="ideal_tokens_per_s:Q")).properties(width=(WIDTH - 80) // 2, height=240,
                                                      title="Throughput (dashed: N × one rank)")
    eff = base.transform_filter(alt.datum.efficiency != None).mark_line(  # noqa: E711
        point=alt.OverlayMarkDef(filled=True, size=70)).encode(
        y=alt.Y("efficiency:Q", title="scaling efficiency (tokens/s at N ÷ (N × at 1))",
                axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, max(1.1, float(d["efficiency"].dropna().max()
                                                                                      if d["efficiency"].notna().any() else 1.1))])),
        tooltip=tooltip).properties(width=(WIDTH - 80) // 2, height=240, title="Scaling efficiency (100% = linear)")
    return alt.hconcat(speed, eff)


FIT_COLOURS = {"16-bit": "#1b7837", "8-bit": "#7fbf7b", "4-bit": "#d9f0d3", "does not fit": "#f4f4f4"}


def fit_grid(fits: pd.DataFrame) -> alt.Chart | None:
    if fits.empty:
        return None
    d = _labels(_plain(fits))
    order = list(dict.fromkeys(d["model_size"]))
    base = alt.Chart(d).encode(
        x=alt.X("model_size:N", title="model size (parameters)", sort=order, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=NAME_LIMIT),
                sort=alt.EncodingSortField(field="usable_gb", order="descending")),
    )
    rects = base.mark_rect(stroke="white").encode(
        color=alt.Color("fits_at:N", title="weights fit at", scale=alt.Scale(domain=list(FIT_COLOURS),
                                                                             range=list(FIT_COLOURS.values()))),
        tooltip=[alt.Tooltip("name:N", title="machine"), alt.Tooltip("model_size:N", title="model"),
                 alt.Tooltip("usable_gb:Q", title="usable GB", format=",.1f"), alt.Tooltip("fits_at:N")],
    )
    rows = d["label"].nunique()
    height = _rows_height(rows)
    chart = rects
    # the words in the cells need a row taller than their 10-pixel font, or they run into the next
    # row's; where rows are shorter (many machines) the colours and the legend say it, as on a phone
    if height / rows >= CELL_TEXT_MIN_ROW:
        chart = rects + base.mark_text(fontSize=10, opacity={"expr": "containerSize()[0] < 500 ? 0 : 1"}).encode(
            text="fits_at:N")
    return chart.properties(width="container", height=height, title="Largest precision that fits in usable memory")


# ---------------------------------------------------------------------------------------------
# Offline embedding

_bundle_done = False
_counter = 0


def bundle_js() -> str:
    """vega + vega-lite + vega-embed as one script, cached on disk per vl-convert version (building
    it takes seconds, and every page needs it)."""
    import vl_convert  # noqa: PLC0415  (heavy: only when a page draws a chart)

    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = cache_home / "costperf" / f"vega-bundle-{vl_convert.__version__}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    js = vl_convert.javascript_bundle("window.vegaEmbed = vegaEmbed;")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(js, encoding="utf-8")
        tmp.replace(path)  # atomic: pages rendering at once never read half a bundle
    except OSError:
        pass  # a read-only home only costs the rebuild next time
    return js


def _bundle() -> str:
    js = bundle_js().replace("</script", "<\\/script")
    return f'<script type="module">{js}</script>'


def embed(chart: Any, empty: str = "No data for this chart yet.") -> str:
    """HTML for one chart; the first chart of a page also carries the chart libraries. (The spec
    is not validated against the Vega-Lite schema here, which takes seconds per page; the tests
    validate every chart.)"""
    global _bundle_done, _counter
    if chart is None:
        return f'<p class="cp-note">{empty}</p>'
    as_dict = chart.to_dict(validate=False)
    # legends under the plot, so that a chart as wide as its column keeps its width for the data
    config = as_dict.setdefault("config", {})
    config.setdefault("legend", {"orient": "bottom", "direction": "vertical", "labelLimit": 240})
    # an axis's end labels are drawn inward (flush) and any other that would pass the plot's edge is
    # left out (bound): past the edge, the chart's box would cut it ("10,00")
    for axis in ("axisQuantitative", "axisTemporal"):
        config.setdefault(axis, {"labelFlush": True, "labelBound": True})
    # titles are broken into lines that fit (report/chart_titles.py); one that still does not (a
    # single word wider than a phone) ends in an ellipsis instead of widening the chart
    config.setdefault("title", {"anchor": "start", "fontSize": T.TITLE_FONT_SIZE, "subtitleFontSize":
                                T.SUBTITLE_FONT_SIZE, "subtitleColor": "#4b5563",
                                "limit": {"expr": T.CONTAINER}})
    wrapped = T.wrap(as_dict)
    spec = json.dumps(as_dict, separators=(",", ":")).replace("</", "<\\/")
    _counter += 1
    div = f"cp-chart-{_counter}"
    head = ""
    if not _bundle_done:
        head, _bundle_done = _bundle(), True
    options = ('{"actions": false, "renderer": "svg"' + (f', "patch": {PATCH_JS}' if needs_patch(as_dict) else "")
               + (f', "expressionFunctions": {{"{T.FUNCTION}": {T.WRAP_JS}}}' if wrapped else "") + "}")
    # Module scripts run in document order, after the bundle above has defined vegaEmbed.
    return (f'{head}<div id="{div}" class="cp-chart"></div>'
            f'<script type="module">vegaEmbed("#{div}", {spec}, {options})'
            f'.catch(e => {{document.getElementById("{div}").textContent = "chart error: " + e;}});</script>')
