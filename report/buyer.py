"""The buyer's question, answered in the overview page itself: pick a model size and a precision (and,
if you like, a budget) and see which machines can run it in usable memory, how fast they decode it
and what a million tokens costs.

`options()` gives one row per machine × model size × precision from the tables `metrics` builds:
whether the weights fit in usable memory, the decode figure of the best provenance at that size
and precision (measured, then published; batch 1, dense models only), or where there is none the
spec-based ceiling (memory bandwidth ÷ weight bytes, an upper bound marked ≤ and drawn apart), and
USD per million tokens and tokens per kWh priced the way every other page prices a figure
(`metrics.priced`). `chart()` draws it with Vega-Lite parameters bound to the page's inputs: the
choice is made in the browser, with no server, from data inlined in the page.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from report import boundary as B
from report import chart_titles as T
from report import metrics as M
from report.machines_table import PRECISION_BITS
from report.metrics import Report
from report.present import number, short_name

PRECISIONS: dict[str, float] = dict(PRECISION_BITS)
"""Bits per weight of each precision: the memory page's own (q4_0 4.5, q8_0 8.5, f16 16), so a model
fits here exactly where the memory page's grid and largest-model figures say it fits."""
BASIS = {"measured": "measured", "published": "published", "estimated": "ceiling ≤ (est.)"}
BASIS_COLOURS = {"measured": "#1b7837", "published": "#2c5fb3", "ceiling ≤ (est.)": "#d08c1b"}
DEFAULT_SIZE, DEFAULT_PRECISION = "8B", "4-bit"
# the three kinds of figure side by side take about 340 pixels: on a narrower chart (a 320-pixel
# phone) the last one goes to a second row rather than past the chart's edge
LEGEND_COLUMNS = {"expr": f"containerSize()[0] < 360 ? 2 : {len(BASIS_COLOURS)}"}

_PARAMS = re.compile(r"(?<![\dx.])(\d+(?:\.\d+)?)\s*b\b", re.IGNORECASE)
# mixture-of-experts models read only their active experts per token: their speed is not a dense
# model's of the same size, so they answer no size question here
_NOT_DENSE = re.compile(r"moe|gpt-oss|mixtral|\.a\d+(\.\d+)?b", re.IGNORECASE)

COLUMNS = ["machine", "name", "label", "vendor", "size", "params_b", "precision", "fits", "need_gb", "usable_gb",
           "tok_s", "basis", "setting", "source", "price_usd", "price_kind", "price_as_of", "usd_per_mtok",
           "tokens_per_kwh",
           "watts_basis", "flags", "order", "text", "short_text"]


def size_class(model: Any) -> str | None:
    """The model-size class ("8B") of a model name ("llama-2-7b" → 8B, "qwen2.5-72b" → 70B), None for
    a mixture-of-experts model or a size more than a third away from every class."""
    if not isinstance(model, str) or _NOT_DENSE.search(model):
        return None
    m = _PARAMS.search(model)
    if not m:
        return None
    params = float(m.group(1))
    best = min(M.MODEL_SIZES_B.items(), key=lambda kv: abs(math.log(params / kv[1])))
    return best[0] if abs(math.log(params / best[1])) <= math.log(1.35) else None


def _figures(r: Report) -> pd.DataFrame:
    """Per machine, size and precision: the measured (else published) batch-1 decode figure, fastest first."""
    res = r.results
    d = res[(res["kind"] == "decode") & res["tokens_per_s"].notna() & res["machine"].notna()
            & res["provenance"].isin(["measured", "published"])
            & (res["batch"].isna() | (res["batch"] == 1)) & res["precision"].isin(list(PRECISIONS))].copy()
    if "ranks" in d.columns:
        d = d[d["ranks"].isna() | (d["ranks"] <= 1)]
    d["size"] = [size_class(m) for m in d["model"]]
    d = d[d["size"].notna()]
    # a figure the physics checks question comes only where there is no other
    d["_flag"] = d["flags"].notna()
    d["_prov"] = d["provenance"].map({"measured": 0, "published": 1})
    d = d.sort_values(["_flag", "_prov", "tokens_per_s"], ascending=[True, True, False])
    return d.groupby(["machine", "size", "precision"], sort=False).head(1).drop(columns=["_flag", "_prov"])


def _ceiling_row(template: pd.Series, m: pd.Series, size: str, params_b: float, label: str,
                 bits: float) -> dict[str, Any]:
    read_gb = params_b * bits / 8  # the weights, read once per decoded token
    tps = M.roofline_decode_tokens_per_s(float(m["bandwidth_gbps"]), read_gb)
    row = {c: None for c in template.index}
    row.update({"machine": m["machine"], "name": m["name"], "vendor": m["vendor"], "kind": "decode",
                "workload": "decode", "model": f"{size} dense model", "dtype": label, "precision": label,
                "engine": "roofline", "batch": 1, "provenance": "estimated", "source": "spec memory bandwidth",
                "n_runs": 0, "value": tps, "unit": "tokens/s", "tokens_per_s": tps, "size": size,
                "basis": f"ceiling = {m['bandwidth_gbps']:,.0f} GB/s ÷ {read_gb:,.1f} GB of weights per token"})
    return row


def options(r: Report) -> pd.DataFrame:
    """One row per machine × model size × precision (see the module's docstring)."""
    a = r.assumptions
    figures = _figures(r)
    found = {(f.machine, f.size, f.precision): f for f in figures.itertuples()}
    template = r.results.iloc[0] if len(r.results) else pd.Series(index=r.results.columns, dtype=object)
    rows, meta = [], []
    # the scenario's machines only: a rented hour and a purchase are never priced side by side, and
    # their tokens per kWh would cover different power (a cloud GPU's board, a desktop's wall)
    machines = r.machines[r.machines["in_scenario"].astype(bool)] if "in_scenario" in r.machines else r.machines
    for _, m in machines.iterrows():
        for size, params_b in M.MODEL_SIZES_B.items():
            for label, bits in PRECISIONS.items():
                need = params_b * bits / 8 + a.kv_cache_gb
                hit = found.get((m["machine"], size, label))
                fits = hit is not None or M.model_fits(params_b, bits, m["usable_gb"], a.kv_cache_gb)
                if hit is not None:
                    row = figures.loc[hit.Index].to_dict()
                elif fits and not pd.isna(m["bandwidth_gbps"]) and m["bandwidth_gbps"]:
                    row = _ceiling_row(template, m, size, params_b, label, bits)
                else:
                    row = None
                meta.append((m, size, params_b, label, fits, need, row is not None))
                if row is not None:
                    rows.append(row)
    priced = M.priced(pd.DataFrame(rows, columns=list(template.index) + ["size"]), r.machines, a) if rows \
        else pd.DataFrame()
    by_key = {(p.machine, p.size, p.precision): p for p in priced.itertuples()} if len(priced) else {}
    out = []
    for m, size, params_b, label, fits, need, has_row in meta:
        p = by_key.get((m["machine"], size, label)) if has_row else None
        tps = getattr(p, "tokens_per_s", None)
        tpd = getattr(p, "tokens_per_dollar", None)
        tpj = getattr(p, "tokens_per_joule", None)
        basis = BASIS[p.provenance] if p is not None else None
        out.append({
            "machine": m["machine"], "name": m["name"], "label": short_name(m["name"]), "vendor": m["vendor"],
            "size": size, "params_b": params_b, "precision": label, "fits": bool(fits), "need_gb": round(need, 1),
            "usable_gb": None if pd.isna(m["usable_gb"]) else round(float(m["usable_gb"]), 1),
            "tok_s": None if tps is None or pd.isna(tps) else float(tps), "basis": basis,
            "setting": None if p is None else (p.basis if p.provenance == "estimated" else M.setting_label(
                pd.Series(p._asdict()))),
            "source": None if p is None else p.source,
            "price_usd": None if pd.isna(m["price_usd"]) else float(m["price_usd"]), "price_kind": m["price_kind"],
            # the date of the very price the cost per million tokens divided by (hover)
            "price_as_of": None if p is None or not tpd or pd.isna(getattr(p, "price_as_of", None))
            else str(p.price_as_of),
            "usd_per_mtok": None if tpd is None or pd.isna(tpd) or not tpd else 1e6 / float(tpd),
            "tokens_per_kwh": None if tpj is None or pd.isna(tpj) else float(tpj) * 3.6e6,
            "watts_basis": None if p is None else getattr(p, "watts_basis", None),
            "flags": None if p is None or pd.isna(p.flags) else p.flags,
        })
    d = pd.DataFrame(out, columns=[c for c in COLUMNS if c not in ("order", "text", "short_text")])
    return _order_and_text(d)


def _money(x: float) -> str:
    return f"{x:,.2f}" if x < 100 else f"{x:,.0f}"


def _order_and_text(d: pd.DataFrame) -> pd.DataFrame:
    """Within each size and precision: figures fastest first, then ceilings (never ranked with
    them), then the machines it does not fit; and the line printed beside each machine, in full
    and short (a phone's: speed and cost, the rest on hover)."""
    group = d["basis"].map({"measured": 0, "published": 0, BASIS["estimated"]: 1}).fillna(2)
    d = d.assign(_g=group, _v=-d["tok_s"].fillna(0)).sort_values(["size", "precision", "_g", "_v"])
    d["order"] = d.groupby(["size", "precision"]).cumcount()
    texts, shorts = [], []
    for row in d.itertuples():
        if not row.fits:
            have = "unknown" if row.usable_gb is None else f"{row.usable_gb:,.0f}"
            texts.append(f"does not fit: needs {row.need_gb:,.0f} GB, {have} GB usable")
            shorts.append(f"does not fit: needs {row.need_gb:,.0f} of {have} GB")
            continue
        if row.tok_s is None or pd.isna(row.tok_s):
            texts.append("fits; no figure and no bandwidth to bound it")
            shorts.append("fits; no figure")
            continue
        ceiling = row.basis == BASIS["estimated"]
        parts = [f"{'≤ ' if ceiling else ''}{number(row.tok_s)} tok/s"]
        if row.usd_per_mtok is not None and not pd.isna(row.usd_per_mtok):
            parts.append(f"{'≥ ' if ceiling else ''}${_money(row.usd_per_mtok)}/M tok")
        if row.tokens_per_kwh is not None and not pd.isna(row.tokens_per_kwh):
            parts.append(f"{'≤ ' if ceiling else ''}{number(row.tokens_per_kwh / 1e6)}M tok/kWh")
        short = [p for p in parts if "tok/kWh" not in p]
        if row.flags:
            parts.append("⚑ flagged (hover)")
            short.append("⚑")
        texts.append(" · ".join(parts))
        shorts.append(" · ".join(short))
    d["text"], d["short_text"] = texts, shorts
    return d.drop(columns=["_g", "_v"]).reset_index(drop=True)


def budget_kind(d: pd.DataFrame) -> str | None:
    """What the budget input caps: "purchase" (USD) where any machine has a purchase price, "hourly"
    (USD per hour) where every priced machine is rented by the hour (the cloud scenario: a purchase
    budget means nothing to a renter), None where no machine has a price."""
    priced = d[d["price_usd"].notna()]
    if priced.empty:
        return None
    return "hourly" if priced["price_kind"].eq("cloud_hourly").all() else "purchase"


def budget_input(d: pd.DataFrame) -> tuple[Any, str]:
    """The budget parameter bound to its input (None when there is nothing to cap), and the Vega
    expression a row passes it by. A purchase budget leaves rented machines in (it cannot cap an
    hourly price); an hourly budget caps the hourly price."""
    import altair as alt  # noqa: PLC0415

    kind = budget_kind(d)
    if kind is None:
        return None, "true"
    hourly = d["price_kind"].eq("cloud_hourly")
    if kind == "hourly":
        top = float(d.loc[hourly, "price_usd"].max())
        bind = alt.binding_range(min=0, max=max(1.0, math.ceil(top * 2) / 2), step=0.25,
                                 name="Budget, USD per hour (0 = any) ")
        return (alt.param(name="budget", value=0, bind=bind),
                "(budget == 0 || (datum.price_usd != null && datum.price_usd <= budget))")
    top = float(d.loc[~hourly, "price_usd"].max())
    bind = alt.binding_range(min=0, max=max(1000, math.ceil(top / 500) * 500), step=250,
                             name="Budget, USD (0 = any) ")
    return (alt.param(name="budget", value=0, bind=bind),
            "(budget == 0 || datum.price_kind == 'cloud_hourly' || (datum.price_usd != null && datum.price_usd <= budget))")


def chart(d: pd.DataFrame) -> Any:
    """Bars of decode tokens/s for the chosen size and precision (inputs under the chart), the
    cost beside each bar; machines it does not fit listed at the bottom, without a bar."""
    import altair as alt  # noqa: PLC0415

    from report import bar_text  # noqa: PLC0415
    from report.charts import NAME_LIMIT, _plain  # noqa: PLC0415

    if d.empty:
        return None
    sizes = [s for s in M.MODEL_SIZES_B if (d["size"] == s).any()]
    size = alt.param(name="size", value=DEFAULT_SIZE if DEFAULT_SIZE in sizes else sizes[0],
                     bind=alt.binding_select(options=sizes, name="Model size (parameters) "))
    precision = alt.param(name="precision", value=DEFAULT_PRECISION,
                          bind=alt.binding_select(options=list(PRECISIONS), name="Precision "))
    budget, within = budget_input(d)
    data = _plain(d)
    # a row without a speed (it does not fit) prints its line from 0; room keeps the lines in the plot
    base = bar_text.fitted(alt.Chart(data).transform_filter(
        f"datum.size == size && datum.precision == precision && {within}"), "datum.tok_s", NAME_LIMIT)
    y = alt.Y("label:N", title=None, sort=alt.EncodingSortField(field="order", op="min", order="ascending"),
              axis=alt.Axis(labelLimit=NAME_LIMIT))
    tooltip = [alt.Tooltip("name:N", title="machine"), alt.Tooltip("tok_s:Q", title="decode tokens/s", format=",.1f"),
               alt.Tooltip("basis:N", title="figure"), alt.Tooltip("setting:N", title="setting or formula"),
               alt.Tooltip("source:N"), alt.Tooltip("usd_per_mtok:Q", title="USD per million tokens", format=",.3f"),
               alt.Tooltip("tokens_per_kwh:Q", title="tokens per kWh", format=",.0f"),
               alt.Tooltip("watts_basis:N", title="power"), alt.Tooltip("price_usd:Q", title="price (USD)", format=",.2f"),
               alt.Tooltip("price_kind:N", title="price kind"), alt.Tooltip("price_as_of:N", title="price as of"),
               alt.Tooltip("need_gb:Q", title="needs GB", format=",.1f"),
               alt.Tooltip("usable_gb:Q", title="usable GB", format=",.1f"), alt.Tooltip("flags:N", title="physics check")]
    bars = base.transform_filter("datum.tok_s != null").mark_bar(height={"band": 0.7}).encode(
        x=alt.X("tok_s:Q", title=T.axis_lines("decode tokens/s (batch 1)"), axis=alt.Axis(labelOverlap="greedy", labelSeparation=10,
                                                                           format="~s")),
        y=y, tooltip=tooltip,
        color=alt.Color("basis:N", title="decode figure", scale=alt.Scale(domain=list(BASIS_COLOURS),
                                                                          range=list(BASIS_COLOURS.values()))),
        opacity=alt.condition(f"datum.basis == '{BASIS['estimated']}'", alt.value(0.45), alt.value(0.95)))
    room = base.mark_point(opacity=0).encode(x="room:Q", y=y)
    text = bar_text.mark(base, tooltip, y)
    inputs = [size, precision] + ([budget] if budget is not None else [])
    return (room + bars + text).add_params(*inputs).properties(
        width="container", height={"step": 15}, autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
    ).configure_legend(orient="top", direction="horizontal", title=None, columns=LEGEND_COLUMNS)


def _date_range(r: Report) -> str:
    """' (prices dated A to B)' over the scenario's priced machines, '' when none is priced."""
    m = r.machines
    dates = m.loc[m["in_scenario"].astype(bool) & m["price_usd"].notna(), "price_date"].dropna() \
        if "in_scenario" in m and "price_date" in m else pd.Series(dtype=object)
    if dates.empty:
        return ""
    lo, hi = str(min(dates)), str(max(dates))
    return f" (prices dated {lo})" if lo == hi else f" (prices dated {lo} to {hi})"


def budget_text(d: pd.DataFrame) -> str:
    """What the budget input does, saying only what applies to these rows (the chart's own table):
    rented machines staying under a purchase budget only where some are rented, unpriced machines
    leaving only where some have no price."""
    kind = budget_kind(d)
    if kind is None:
        return "No machine has a price, so there is no budget to set."
    if kind == "hourly":
        text = "The budget keeps machines whose hourly price is within it (USD per machine-hour)"
    else:
        text = "The budget keeps machines whose purchase price is within it"
        if d["price_kind"].eq("cloud_hourly").any():
            text += " (rented machines stay: a purchase budget cannot cap an hourly price)"
    if d["price_usd"].isna().any():
        text += "; machines without a price leave once a budget is set"
    return text + "."


def note(r: Report, options_: pd.DataFrame | None = None) -> str:
    """The chart's basis in words; `options_` is the chart's own table (built from `r` when not given)."""
    a = r.assumptions
    return (f"Scenario {a.scenario}: {B.SCENARIO_TEXT[a.scenario]}; its machines only, priced as "
            f"{B.SCENARIO_SHORT[a.scenario]}, tokens per kWh counting the "
            f"{B.COVERS_TEXT[B.SCENARIO_POWER[a.scenario]]} (hover a bar for its power); change with --set "
            "scenario=system|upgrade|cloud. "
            "Fits: weights (parameters × bits per weight ÷ 8; 4-bit = q4_0, 4.5 bits; 8-bit = q8_0, 8.5; 16-bit = "
            f"f16, 16) plus {a.kv_cache_gb:g} GB of KV cache within usable memory, as on the memory page. "
            "Speed: the measured figure at that size and precision, else a published one (batch 1, dense models; "
            "hover a bar for its setting and source); where there is neither, the spec ceiling memory bandwidth ÷ "
            "weight bytes, a pale bar marked ≤: an upper bound, listed after the figures, never ranked with them. "
            f"Cost: USD per million tokens over {a.amortisation_years:g} years at {a.hours_per_day:g} h/day × "
            f"{a.utilisation:.0%} use with electricity at {a.usd_per_kwh:g} USD/kWh (cloud: the hourly price), "
            f"at the price whose date a bar's hover gives{_date_range(r)}; "
            "tokens per kWh from the figure's power, or the machine's spec power (estimated). "
            + budget_text(options(r) if options_ is None else options_))
