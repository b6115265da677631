"""What a figure costs: tokens per dollar and per joule of one figure on one machine in the assumptions'
scenario (`cost_metrics`), the results table priced that way (`priced`), and a machine's row priced
and powered for the group of ranks a distributed figure used (`group_machine`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from report import boundary as B
from report import settings as S
from report.assumptions import Assumptions
from report.formulas import tokens_per_dollar_cloud, tokens_per_dollar_purchase, tokens_per_joule, weakest

_given = S.given


def cost_metrics(tps: float | None, prov: str | None, avg_w: float | None, power_label: str | None,
                 m: pd.Series, a: Assumptions, window_tpj: float | None = None,
                 power_key: str | None = None) -> dict[str, Any]:
    """Tokens per dollar and per joule of one figure on one machine in the assumptions' scenario.

    Power: the figure's own measurement when it covers what the scenario counts (the wall in
    `system`, the GPU board in `upgrade` and `cloud`); a measured GPU-board figure of a card in a
    reference host converted to the wall through the host's figures, labelled estimated with the
    formula; else the machine's scenario power (`report.boundary.scenario_power`), labelled as it is.
    `window_tpj` is the tokens per joule of the figure's own energy window, used when the power is
    exactly that measurement."""
    want = B.SCENARIO_POWER[a.scenario]
    measured = avg_w is not None and pd.notna(avg_w)
    own = False
    if measured and power_key == want:
        watts, basis, wprov, covers, own = float(avg_w), str(power_label or ""), prov, want, True
    elif measured and power_key == "gpu_board" and _given(m.get("host_load_w")):
        watts = (float(avg_w) + float(m["host_load_w"])) / float(m["psu_efficiency"])
        basis = (f"({float(avg_w):,.0f} W board, measured + {float(m['host_load_w']):,.0f} W host) ÷ "
                 f"{float(m['psu_efficiency']):.2f} PSU efficiency = {watts:,.0f} W at the wall (estimated; host: "
                 f"{m['host_name']})")
        wprov, covers = "estimated", "wall"
    elif pd.notna(m["spec_power_w"]) and (m["power_covers"] == want or not measured):
        watts, basis = float(m["spec_power_w"]), str(m["spec_power_basis"])
        wprov, covers = m["spec_power_provenance"] or "estimated", m["power_covers"]
        if wprov == "published" and covers == "gpu_board":
            wprov = "estimated"  # a TDP stands in for the draw while decoding
    elif measured:  # neither side covers what the scenario counts: the measurement, with its own coverage
        watts, basis, wprov, covers, own = float(avg_w), str(power_label or ""), prov, power_key, True
    else:
        watts, basis, wprov, covers = None, "", None, None
    price = float(m["price_usd"]) if pd.notna(m["price_usd"]) else None
    # The price is an input like the others: a measured throughput priced with a cited price is a
    # published figure, one priced with an estimated price an estimated one.
    price_prov = m["price_provenance"] if pd.notna(m["price_provenance"]) else None
    idle = float(m["idle_w"]) if _given(m.get("idle_w")) else None
    if m["price_kind"] == "cloud_hourly":
        tpd, tpd_prov = tokens_per_dollar_cloud(tps, price, a.utilisation), weakest(prov, price_prov)
    elif watts is None:
        # No power figure at all: the price alone gives an upper bound, labelled as an estimate and
        # said so in tokens_per_dollar_note (electricity is not counted as 0 silently).
        tpd, tpd_prov = tokens_per_dollar_purchase(tps, price, None, a), "estimated"
    else:
        tpd, tpd_prov = tokens_per_dollar_purchase(tps, price, watts, a, idle), weakest(prov, price_prov, wprov)
    tpj = window_tpj if own and window_tpj is not None and pd.notna(window_tpj) else tokens_per_joule(tps, watts)
    notes = []
    if tpd is not None and watts is None and m["price_kind"] != "cloud_hourly":
        notes.append("no power figure, so electricity is not counted")
    if tpd is not None and _given(m.get("price_lower_bound")):
        notes.append(str(m["price_lower_bound"]))
    note = ("upper bound: " + "; ".join(notes)) if notes else None
    # The price and its date travel with the figure (from the same scenario price), so every page
    # prints "price as of DATE" beside the tokens per dollar that used it.
    used = tpd is not None
    return {
        "watts": watts, "watts_basis": basis, "watts_provenance": wprov, "watts_covers": covers,
        "tokens_per_dollar": tpd, "tokens_per_dollar_provenance": tpd_prov if tpd is not None else None,
        "tokens_per_dollar_note": note,
        "price_as_of": m["price_date"] if used else None,
        "price_used_usd": price if used else None,
        "price_used_kind": m["price_kind"] if used else None,
        "price_used_provider": m.get("price_provider") if used else None,
        "tokens_per_joule": tpj, "tokens_per_joule_provenance": weakest(prov, wprov) if tpj is not None else None,
    }


PRICE_USED_COLUMNS = ["price_as_of", "price_used_usd", "price_used_kind", "price_used_provider"]
"""The price observation behind a row's tokens per dollar (empty where there is no such figure)."""

COST_COLUMNS = ["watts", "watts_basis", "watts_provenance", "watts_covers", "tokens_per_dollar",
                "tokens_per_dollar_provenance", "tokens_per_dollar_note", *PRICE_USED_COLUMNS, "tokens_per_joule",
                "tokens_per_joule_provenance"]


def priced(results: pd.DataFrame, machines: pd.DataFrame, a: Assumptions) -> pd.DataFrame:
    """Token-throughput rows of known machines with their tokens per dollar and per joule in the
    scenario, and a setting label that tells every row of a machine apart (`report.settings.labels`)."""
    d = results[results["tokens_per_s"].notna() & results["machine"].isin(machines["machine"])].copy()
    by_id = machines.set_index("machine")
    extra = [cost_metrics(r.tokens_per_s, r.provenance, r.avg_w, r.power_covers,
                          group_machine(by_id.loc[r.machine], r.ranks, r.nodes), a, r.tokens_per_joule, r.power_key)
             for r in d.itertuples()]
    extra_df = pd.DataFrame(extra, index=d.index, columns=COST_COLUMNS)
    d = d.drop(columns=["tokens_per_joule"]).join(extra_df)
    d["setting"] = S.labels(d)
    return d


def group_share(devices_in_machine: int, world_size: int, nodes: int) -> tuple[float, str]:
    """The share of the machine(s) a group of ranks pays for: its devices' share of each machine
    (`collectors.distributed.scaling.group_hourly_price`, one machine per node); whole machines when
    the ranks outnumber the devices (CPU ranks sharing a host)."""
    from collectors.distributed import scaling  # noqa: PLC0415  (pure functions; no torch)

    try:
        share = scaling.group_hourly_price(float(nodes), devices_in_machine * nodes, world_size)
        return share, f"{world_size} of {devices_in_machine * nodes} device(s)"
    except ValueError:
        return float(nodes), f"{nodes} whole machine(s): {world_size} ranks share their devices"


def group_machine(m: pd.Series, ranks: Any, nodes: Any) -> pd.Series:
    """A machines-table row priced and powered for the group of ranks a distributed figure used
    (`group_share`), so that every table gives one figure the same tokens per dollar and per joule;
    the row itself for a single-process figure."""
    if not _given(ranks):
        return m
    devices = int(m["accelerator_count"]) or 1
    share, basis = group_share(devices, int(ranks), int(nodes) if _given(nodes) else 1)
    g = m.copy()
    g["group_share"] = share
    if pd.notna(m["price_usd"]):
        g["price_usd"] = m["price_usd"] * share
    if pd.notna(m["spec_power_w"]):
        g["spec_power_w"] = m["spec_power_w"] * share
        g["spec_power_basis"] = f"{m['spec_power_basis']} × {share:g} ({basis})"
    return g
