"""The headline: one row per machine of the scenario at the one headline setting, with what its figures
cost and, never ranked, its spec ceiling and family estimate."""

from __future__ import annotations

import pandas as pd

from report import settings as S
from report.assumptions import Assumptions
from report.ceilings import decode_estimate
from report.classify import precision_class
from report.costs import cost_metrics
from report.formulas import per_usable_gb
from report.machines_table import PRECISION_BITS

_given = S.given
setting_label = S.setting_label


HEADLINE_COLUMNS = [
    "machine", "name", "vendor", "form", "decode_tok_s", "decode_provenance", "decode_setting", "decode_source",
    "prefill_tok_s", "prefill_provenance", "prefill_setting", "price_usd", "price_kind", "price_date",
    "watts", "watts_basis", "watts_provenance", "tokens_per_dollar", "tokens_per_dollar_provenance",
    "tokens_per_dollar_note", "price_as_of", "price_used_usd", "price_used_kind", "price_used_provider",
    "tokens_per_joule", "tokens_per_joule_provenance", "tok_s_per_usable_gb", "usable_gb",
    "usable_provenance", "usable_rule", "usable_short", "usd_per_usable_gb",
    "largest_4bit_b", "largest_8bit_b", "largest_16bit_b", "decode_flags", "prefill_flags", "usable_flags",
    "scenario", "setting", "watts_covers", "idle_w", "price_covers", "price_note", "price_lower_bound", "scenario_note",
    "ceiling_tok_s", "estimate_tok_s", "estimate_basis", "largest_4bit_decode_tok_s",
]


def _best_at(rows: pd.DataFrame) -> pd.Series | None:
    """Measured before published; within one provenance the newest figure (then the fastest)."""
    for prov in ("measured", "published"):
        tier = rows[rows["provenance"] == prov]
        if not tier.empty:
            return tier.sort_values("tokens_per_s", ascending=False).iloc[0]
    return None


def headline_table(results: pd.DataFrame, machines: pd.DataFrame, a: Assumptions,
                   hs: S.HeadlineSetting | None = None, ceilings: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per machine of the scenario: its decode and prefill figures at the one headline
    setting (`report.settings.choose_headline`) and what they cost; a machine with no figure there
    has none (its spec ceiling and family estimate ride along, never ranked)."""
    if hs is None:
        hs = S.choose_headline(results, a.headline_precision, precision_class)
    ev = S.evidence(results)
    ev = ev[ev["ranks"].fillna(1).eq(1)]
    dec_rows = S.at_key(ev, hs.decode_key) if hs else ev.iloc[0:0]
    pre_rows = S.at_key(ev, hs.prefill_key) if hs else ev.iloc[0:0]
    ceil = ceilings.set_index("machine") if ceilings is not None and not ceilings.empty else None
    rows = []
    for _, m in machines[machines["in_scenario"].astype(bool)].iterrows():
        dec = _best_at(dec_rows[dec_rows["machine"] == m["machine"]])
        pre = _best_at(pre_rows[pre_rows["machine"] == m["machine"]])
        tps = float(dec["tokens_per_s"]) if dec is not None else None
        costs = cost_metrics(tps, dec["provenance"] if dec is not None else None,
                             dec["avg_w"] if dec is not None else None,
                             dec["power_covers"] if dec is not None else None, m, a,
                             dec["tokens_per_joule"] if dec is not None else None,
                             dec["power_key"] if dec is not None else None)
        c = ceil.loc[m["machine"]] if ceil is not None and m["machine"] in ceil.index else None
        rows.append({
            "machine": m["machine"], "name": m["name"], "vendor": m["vendor"], "form": m["form"],
            "decode_tok_s": tps,
            "decode_provenance": dec["provenance"] if dec is not None else None,
            "decode_setting": setting_label(dec) if dec is not None else None,
            "decode_source": dec["source"] if dec is not None else None,
            "prefill_tok_s": float(pre["tokens_per_s"]) if pre is not None else None,
            "prefill_provenance": pre["provenance"] if pre is not None else None,
            "prefill_setting": setting_label(pre) if pre is not None else None,
            "decode_flags": dec["flags"] if dec is not None and _given(dec["flags"]) else None,
            "prefill_flags": pre["flags"] if pre is not None and _given(pre["flags"]) else None,
            "usable_flags": m["flags"] if _given(m["flags"]) else None,
            "price_usd": m["price_usd"], "price_kind": m["price_kind"], "price_date": m["price_date"],
            **costs,
            "tok_s_per_usable_gb": per_usable_gb(tps, m["usable_gb"]),
            "usable_gb": m["usable_gb"], "usable_provenance": m["usable_provenance"],
            "usable_rule": m["usable_rule"], "usable_short": m["usable_short"],
            "usd_per_usable_gb": m["usd_per_usable_gb"],
            "largest_4bit_b": m["largest_4bit_b"], "largest_8bit_b": m["largest_8bit_b"],
            "largest_16bit_b": m["largest_16bit_b"],
            "scenario": a.scenario, "setting": hs.label if hs else None, "idle_w": m["idle_w"],
            "price_covers": m["price_covers"], "price_note": m["price_note"],
            "price_lower_bound": m["price_lower_bound"], "scenario_note": m["scenario_note"],
            "ceiling_tok_s": c["ceiling_tok_s"] if c is not None else None,
            "estimate_tok_s": c["estimate_tok_s"] if c is not None else None,
            "estimate_basis": c["estimate_basis"] if c is not None else None,
            "largest_4bit_decode_tok_s": decode_estimate(
                m["bandwidth_gbps"], m["largest_4bit_b"], PRECISION_BITS["4-bit"],
                c["achieved_fraction"] if c is not None and _given(c["achieved_fraction"])
                else (c["family_fraction"] if c is not None else None)),
        })
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)
