"""Spec-based decode ceilings, and estimates for machines with no figure, kept apart from results.

A ceiling is memory bandwidth ÷ bytes read per decoded token at the headline setting's model and
format (bytes from `collectors.physics.estimate_bytes_per_token`, the same bits per weight the
physics checks use). No machine decodes at its ceiling: it is an upper bound, printed with ≤, never
ranked and never in a headline card.

Where a machine has no measured or published figure at the headline setting, an estimate is
derived from the figures of its chip family at that setting: the median of their achieved fraction
of spec bandwidth × the machine's ceiling. The rows it came from are listed with it; it is
labelled estimated and, like the ceiling, not ranked.
"""

from __future__ import annotations

from statistics import median
from typing import Any

import pandas as pd

from collectors import physics
from report.settings import HeadlineSetting, at_key, evidence

CEILING_COLUMNS = [
    "machine", "name", "vendor", "family", "bandwidth_gbps", "model", "dtype", "bytes_per_token", "bytes_from",
    "ceiling_tok_s", "ceiling_basis", "achieved_tok_s", "achieved_provenance", "achieved_fraction",
    "family_fraction", "family_rows", "estimate_tok_s", "estimate_basis",
]


def family(vendor: str, memory_kind: str, memory_type: str | None = None) -> str:
    """The chip family whose achieved share of bandwidth stands in for a machine without data:
    vendor and memory kind, with HBM apart (datacenter parts reach a different share at batch 1)."""
    memory = {"unified": "unified memory", "dedicated": "discrete VRAM"}.get(memory_kind, memory_kind)
    if isinstance(memory_type, str) and memory_type.upper().startswith("HBM"):
        memory = "HBM"
    return f"{ {'apple': 'Apple', 'nvidia': 'NVIDIA', 'amd': 'AMD'}.get(vendor, vendor) } {memory}".strip()


def ceiling_tokens_per_s(bandwidth_gbps: float | None, model: str, dtype: str) -> tuple[float, float, str] | None:
    """(ceiling tokens/s, bytes per token, how the bytes were estimated), or None when unknown."""
    est = physics.estimate_bytes_per_token(model, dtype)
    if not bandwidth_gbps or est is None:
        return None
    return bandwidth_gbps * 1e9 / est[0], est[0], est[1]


def ceilings_table(machines: pd.DataFrame, results: pd.DataFrame, hs: HeadlineSetting | None) -> pd.DataFrame:
    """One row per machine with a bandwidth: its ceiling at the headline setting, the figure it
    achieved there (if any) and its share of the ceiling, and an estimate where it has none."""
    if hs is None or machines.empty:
        return pd.DataFrame(columns=CEILING_COLUMNS)
    at = at_key(evidence(results), hs.decode_key)
    best = {}  # machine -> its figure at the setting, measured before published
    for _, row in at.sort_values("provenance", key=lambda c: c.map({"measured": 0, "published": 1})).iterrows():
        best.setdefault(row["machine"], row)
    rows: list[dict[str, Any]] = []
    for _, m in machines.iterrows():
        got = ceiling_tokens_per_s(m["bandwidth_gbps"], hs.model, hs.dtype)
        if got is None:
            continue
        ceiling, bpt, how = got
        fig = best.get(m["machine"])
        rows.append({
            "machine": m["machine"], "name": m["name"], "vendor": m["vendor"],
            "family": family(m["vendor"], m["memory_kind"], m.get("memory_type")),
            "bandwidth_gbps": m["bandwidth_gbps"],
            "model": hs.model, "dtype": hs.dtype, "bytes_per_token": bpt, "bytes_from": how,
            "ceiling_tok_s": ceiling,
            "ceiling_basis": f"≤ {m['bandwidth_gbps']:,.0f} GB/s (spec) ÷ {bpt / 1e9:.2f} GB per token ({how})",
            "achieved_tok_s": float(fig["tokens_per_s"]) if fig is not None else None,
            "achieved_provenance": fig["provenance"] if fig is not None else None,
            "achieved_fraction": float(fig["tokens_per_s"]) / ceiling if fig is not None else None,
            "family_fraction": None, "family_rows": None, "estimate_tok_s": None, "estimate_basis": None,
        })
    df = pd.DataFrame(rows, columns=CEILING_COLUMNS)
    for fam, group in df.groupby("family"):
        have = group[group["achieved_fraction"].notna()]
        if have.empty:
            continue
        frac = median(have["achieved_fraction"])
        listed = "; ".join(f"{r['name']} {r['achieved_fraction']:.0%} ({r['achieved_provenance']})"
                           for _, r in have.sort_values("achieved_fraction").iterrows())
        df.loc[group.index, "family_fraction"] = frac
        df.loc[group.index, "family_rows"] = listed
        for i in group.index[group["achieved_fraction"].isna()]:
            est = df.at[i, "ceiling_tok_s"] * frac
            df.at[i, "estimate_tok_s"] = est
            df.at[i, "estimate_basis"] = (f"estimated: {df.at[i, 'ceiling_tok_s']:,.1f} tokens/s ceiling × {frac:.0%}, "
                                          f"the median share of the ceiling reached by {len(have)} {fam} "
                                          f"figure(s) at {hs.label}: {listed}")
    return df


def decode_estimate(bandwidth_gbps: Any, params_b: Any, bits: float, fraction: Any) -> float | None:
    """Estimated decode tokens/s of a model of `params_b` billion weights at `bits` per weight:
    fraction × bandwidth ÷ (params × bits / 8); None when any input is unknown."""
    vals = [bandwidth_gbps, params_b, fraction]
    if any(v is None or (isinstance(v, float) and v != v) for v in vals) or not params_b or not bits:
        return None
    return float(fraction) * float(bandwidth_gbps) * 1e9 / (float(params_b) * 1e9 * bits / 8)
