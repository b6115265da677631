"""The overview's three cards: most tokens per dollar, most tokens per joule, cheapest usable GB.

Each card ranks the machines of one scenario at the one headline setting (`report.settings`); a
spec ceiling or a family estimate never wins (they are not in the ranked columns at all). Tokens per
joule ranks only figures whose power covers what the scenario counts (the wall in `system`, the GPU
board in `upgrade` and `cloud`); the card says how many were left out for another coverage. Each
card names the runner-up and the margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from report import boundary as B
from report.present import number, short_name
from report.settings import given


@dataclass
class Winner:
    metric: str
    label: str
    unit: str
    machine: str | None = None
    name: str | None = None
    value: float | None = None
    provenance: str | None = None
    setting: str | None = None
    note: str = ""
    price_as_of: Any = None  # tokens per dollar and USD per usable GB: the date of the price used
    flags: str | None = None  # the physics checks' findings on the figure behind it
    scenario: str = "system"
    coverage: str = ""  # what the price and power cover, in words
    ranked: int = 0  # machines in the ranking behind the card
    runner_up: str | None = None
    margin: str = ""  # '1.31× the runner-up's 412 tokens/J'
    lowest_wins: bool = False
    bound: str = ""  # '≤' or '≥' when the figure is a bound (a lower-bound price, no power figure)
    ratio: float | None = None  # the winner's lead over the runner-up (>1), for the card's summary line
    near_tie: bool = False  # the lead is within the uncertainty of the estimated figures behind it


NEAR_TIE = 1.10
"""Below this ratio to the runner-up, a card resting on estimated figures says it is a near tie."""


def _margin(top: float, second: float, lowest_wins: bool) -> str:
    ratio = second / top if lowest_wins else top / second
    return f"{ratio:.2f}×"


def _pool(h: pd.DataFrame, col: str, need_figure: bool) -> pd.DataFrame:
    have = h[h[col].notna()]
    if need_figure:
        have = have[have["decode_provenance"].isin(["measured", "published"])]
    # a figure physics rules out (a violation) stays in the table, marked, but wins nothing while
    # any other machine has the metric
    sound = have[~have["decode_flags"].fillna("").str.contains("violation:")]
    return sound if not sound.empty else have


def winners(headline: pd.DataFrame, scenario: str = "system", setting: str | None = None) -> list[Winner]:
    out = []
    want = B.SCENARIO_POWER[scenario]
    cover_text = B.COVERS_TEXT[want]
    cards = [
        ("tokens_per_dollar", "tokens per dollar", "tokens/$", "tokens_per_dollar_provenance", True, False),
        ("tokens_per_joule", "tokens per joule", "tokens/J", "tokens_per_joule_provenance", True, False),
        ("usd_per_usable_gb", "cheapest usable GB", "USD per usable GB", "usable_provenance", False, True),
    ]
    for col, label, unit, prov_col, need_figure, lowest in cards:
        w = Winner(metric=col, label=label, unit=unit, scenario=scenario, setting=setting, lowest_wins=lowest)
        h = headline
        left_out = 0
        if col == "tokens_per_joule":
            w.coverage = f"power: {cover_text}"
            mixed = h[h[col].notna() & h["watts_covers"].ne(want)]
            left_out = int(mixed["machine"].nunique())
            h = h[h["watts_covers"].eq(want)]
        elif col == "tokens_per_dollar":
            w.coverage = f"price: {B.SCENARIO_SHORT[scenario]}"
            if scenario != "cloud":  # electricity is part of the cost: one coverage of power only
                w.coverage += f"; power: {cover_text}"
                mixed = h[h[col].notna() & h["watts_covers"].ne(want)]
                left_out = int(mixed["machine"].nunique())
                h = h[h["watts_covers"].eq(want)]
        else:
            w.coverage = f"price: {B.SCENARIO_SHORT[scenario]}"
            w.setting = None
            if scenario == "cloud":
                w.unit = "USD per usable GB-hour"
        pool = _pool(h, col, need_figure)
        w.ranked = len(pool)
        if pool.empty:
            if left_out:
                w.note = f"{left_out} machine(s) have the figure but no {cover_text} power: not ranked here"
            out.append(w)
            continue
        ordered = pool.sort_values(col, ascending=lowest)
        top = ordered.iloc[0]
        w.machine, w.name, w.value, w.provenance = top["machine"], top["name"], float(top[col]), top[prov_col]
        if col in ("tokens_per_dollar", "usd_per_usable_gb"):
            w.price_as_of = top["price_as_of"] if col == "tokens_per_dollar" else top["price_date"]
        if len(ordered) > 1:
            second = ordered.iloc[1]
            w.runner_up = str(second["name"])
            ratio = _margin(float(top[col]), float(second[col]), lowest)
            # the runner-up's figure in the same rounding as the winner's, its name as the tables show it
            w.margin = (f"{ratio} {'cheaper than' if lowest else 'ahead of'} {short_name(second['name'])} "
                        f"({number(float(second[col]))})")
            w.ratio = float(ratio.rstrip("×"))
            if w.ratio < NEAR_TIE and "estimated" in (top[prov_col], second[prov_col]):
                w.near_tie = True
                w.margin += ": a near tie, within the uncertainty of the estimated figures behind it"
        notes = []
        if col == "usd_per_usable_gb" and given(top.get("price_lower_bound")):
            notes.append(f"a lower bound: {top['price_lower_bound']}")
        if col in ("tokens_per_dollar", "usd_per_usable_gb") and len(ordered) > 1 \
                and given(ordered.iloc[1].get("price_lower_bound")) != given(top.get("price_lower_bound")):
            notes.append("one of the two leaders' prices is a lower bound: the margin leans its way")
        if col == "usd_per_usable_gb" and given(top.get("usable_rule")):
            notes.append(f"usable memory: {number(float(top['usable_gb']))} GB = {top['usable_rule']}")
        if col == "usd_per_usable_gb":
            big = top["largest_4bit_b"]
            if given(big):
                speed = top.get("largest_4bit_decode_tok_s")
                notes.append(f"largest 4-bit model that fits: {float(big):,.0f}B parameters"
                             + (f", decoding at about {float(speed):,.1f} tokens/s (estimated)" if given(speed) else ""))
        uses_power = col == "tokens_per_joule" or (col == "tokens_per_dollar" and top["price_kind"] != "cloud_hourly")
        if uses_power and given(top["watts_basis"]):
            notes.append(f"power: {top['watts_basis']}")
        if col == "tokens_per_dollar" and given(top["tokens_per_dollar_note"]):
            notes.append(str(top["tokens_per_dollar_note"]))
            w.bound = "≤" if str(top["tokens_per_dollar_note"]).startswith("upper bound") else ""
        if col == "usd_per_usable_gb" and given(top.get("price_lower_bound")):
            w.bound = "≥"
        if col == "tokens_per_joule":
            w.bound = B.tpj_bound(top["watts_basis"])  # divided by a maximum draw: decoding draws less
        if col == "tokens_per_dollar" and given(top.get("price_note")):
            notes.append(f"price: {top['price_note']}")
        if left_out:
            notes.append(f"{left_out} machine(s) without {cover_text} power not ranked")
        w.note = "; ".join(notes)
        found = [top[k] for k in ("decode_flags",) if col != "usd_per_usable_gb" and given(top[k])]
        if col == "usd_per_usable_gb" and given(top["usable_flags"]):
            found.append(top["usable_flags"])
        w.flags = "; ".join(found) or None
        out.append(w)
    return out
