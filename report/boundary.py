"""The boundary of a comparison: what a scenario's price buys and what its power covers.

DESIGN.md, "Boundary (like for like)". Three scenarios, one assumption (`scenario`):

- `system` (default): the whole machine a buyer takes home. A Mac, a laptop, a mini PC or a prebuilt
  is priced as sold (`covers: system`). A discrete card is priced as the card(s) plus the reference
  host PC it goes into (`Machine.host`, a file in data/hosts/ with itemised, cited parts). A card
  whose price covers the card alone and that names no host gets no system price: that is said, and
  the card price is never used in its place. Power is at the wall: measured at the wall, or the
  published system maximum, or for a card in a host (board W × cards + host load W) ÷ PSU efficiency,
  estimated. Idle: host idle W + card idle W × cards ÷ PSU efficiency.
- `upgrade`: the card(s) alone, into a PC the buyer already has (discrete GPUs only); power is the
  card's board power (measured by NVML, else its TDP).
- `cloud`: hourly rental; the hourly price includes electricity, and a rented hour is paid whether it
  produces tokens or not, so tokens per dollar counts the same utilisation as a purchase.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from collectors.records import Host, Machine, Price

SCENARIOS = ("system", "upgrade", "cloud")

SCENARIO_TEXT = {
    "system": "whole system: a Mac, laptop or mini PC as sold; a discrete card plus its documented reference host PC",
    "upgrade": "the card alone, into a PC the buyer already has (discrete GPUs only)",
    "cloud": "hourly rental, at the same utilisation as a purchase (an idle rented hour is still paid)",
}

SCENARIO_SHORT = {
    "system": "the whole system (a card with its reference host)",
    "upgrade": "the card alone",
    "cloud": "hourly rental at the same use as a purchase",
}

SCENARIO_POWER = {"system": "wall", "upgrade": "gpu_board", "cloud": "gpu_board"}
"""The power coverage a scenario ranks tokens per joule on; other coverages are shown, not ranked."""

TPJ_LOWER_BOUND = "tokens per joule is a lower bound"
"""Said in a power basis divided by a published maximum draw: the figure prints as '≥'."""


def tpj_bound(watts_basis: object) -> str:
    """'≥' where the tokens per joule divides by a maximum draw rather than the draw while decoding."""
    return "≥" if isinstance(watts_basis, str) and TPJ_LOWER_BOUND in watts_basis else ""


COVERS_TEXT = {
    "wall": "whole system at the wall",
    "gpu_board": "GPU board",
    "soc": "SoC package (Apple)",
    "cpu_package": "CPU package (RAPL)",
    "cpu_package_dram": "CPU package + DRAM (RAPL)",
    "dram": "DRAM",
    "as published": "as published (coverage not stated)",
}

HOST_PARTS = ("cpu", "motherboard", "memory", "storage", "power_supply", "case")
"""What a working desktop needs besides the card: a host that prices fewer is a lower bound."""


def unpriced_parts(host: Host) -> list[str]:
    """The parts a working host needs that its file does not price (none for a prebuilt)."""
    have = {p.part for p in host.parts}
    if "prebuilt" in have:
        return []
    return [p.replace("_", " ") for p in HOST_PARTS if p not in have]


@dataclass
class ScenarioPrice:
    """The price a scenario uses for one machine, or why there is none."""

    usd: float | None
    kind: str | None = None  # purchase, used, cloud_hourly
    date: dt.date | None = None
    provenance: str | None = None
    covers: str = ""  # what the price buys, in words
    basis: str = ""  # how it was put together (card + host parts)
    provider: str | None = None
    url: str | None = None
    missing: str = ""  # why there is no price in this scenario
    lower_bound: str = ""  # why the price is only a lower bound (parts of the host left unpriced)


@dataclass
class ScenarioPower:
    """Power under load and at idle in a scenario, and what it covers."""

    load_w: float | None
    idle_w: float | None
    covers: str | None  # wall, gpu_board, soc ... (COVERS_TEXT keys)
    provenance: str | None
    basis: str = ""
    figure: str = ""  # what the watts are: measured, TDP, system max, card TDP + host (estimated)

    @property
    def short(self) -> str:
        """What the figure covers and what it is, in a few words ("GPU board, TDP"): said beside the
        watts wherever they are shown, the full `basis` on hover."""
        if self.load_w is None:
            return ""
        where = COVERS_SHORT.get(self.covers or "", self.covers or "coverage not stated")
        return f"{where}, {self.figure}" if self.figure else where


def newest_quote(prices: list[Price]) -> Price | None:
    """Of the newest date's prices, the median quote (the lower of the two middle ones when they are
    even, so it is a real observation with its provider): several providers quoted on one day are a
    spread, not a series, and neither the dearest nor the last listed stands for it."""
    if not prices:
        return None
    newest = max(p.date for p in prices)
    spread = sorted((p for p in prices if p.date == newest), key=lambda p: p.amount)
    return spread[(len(spread) - 1) // 2]


def _newest(prices: list[Price], kinds: tuple[str, ...], covers: str | None) -> Price | None:
    """The median quote of the newest date (`newest_quote`) among USD prices of the first kind that
    has one (new before used)."""
    for kind in kinds:
        ok = [p for p in prices if p.kind == kind and p.currency == "USD" and (covers is None or p.covers == covers)]
        if ok:
            return newest_quote(ok)
    return None


COVERS_SHORT = {
    "wall": "wall", "gpu_board": "GPU board", "soc": "SoC", "cpu_package": "CPU package",
    "cpu_package_dram": "CPU + DRAM", "dram": "DRAM", "as published": "as published",
}
"""COVERS_TEXT in a word or two, for a table cell beside the watts."""


def _weakest(*provs: str | None) -> str | None:
    order = ["measured", "published", "estimated"]
    known = [p for p in provs if p]
    return max(known, key=order.index) if known else None


def is_discrete(m: Machine) -> bool:
    return all(a.memory_kind == "dedicated" for a in m.accelerators) and m.form not in ("laptop", "cloud", "mini")


def card_count(m: Machine) -> int:
    return sum(a.count for a in m.accelerators)


def in_scenario(m: Machine, scenario: str) -> tuple[bool, str]:
    """Whether a machine belongs to a scenario at all, and why not."""
    if scenario == "system" and m.form == "cloud":
        return False, "rented by the hour: see the cloud scenario"
    if scenario == "upgrade" and not is_discrete(m):
        return False, "not a discrete card: the upgrade scenario prices GPUs alone"
    if scenario == "cloud" and not any(p.kind == "cloud_hourly" and p.currency == "USD" for p in m.prices):
        return False, "no hourly price"
    return True, ""


def scenario_price(m: Machine, hosts: dict[str, Host], scenario: str) -> ScenarioPrice:
    """The price one machine has in one scenario (see the module docstring)."""
    ok, why = in_scenario(m, scenario)
    if not ok:
        return ScenarioPrice(None, missing=why)
    if scenario == "cloud":
        p = _newest(m.prices, ("cloud_hourly",), None)
        assert p is not None  # in_scenario checked
        return ScenarioPrice(p.amount, p.kind, p.date, p.provenance, "one machine-hour, rented", "",
                             p.provider, str(p.source_url))
    if scenario == "upgrade":
        p = _newest(m.prices, ("purchase", "used"), "card")
        if p is None:
            return ScenarioPrice(None, missing="no price of the card alone")
        n = card_count(m)
        return ScenarioPrice(p.amount, p.kind, p.date, p.provenance, f"{n} card(s) alone" if n > 1 else "the card alone",
                             "", p.provider, str(p.source_url))
    whole = _newest(m.prices, ("purchase", "used"), "system")
    if whole is not None:
        return ScenarioPrice(whole.amount, whole.kind, whole.date, whole.provenance, "the whole machine as sold", "",
                             whole.provider, str(whole.source_url))
    card = _newest(m.prices, ("purchase", "used"), "card")
    if card is None:
        return ScenarioPrice(None, missing="no price")
    if m.host is None:
        return ScenarioPrice(None, missing="the price covers the card alone and the machine names no reference "
                                           "host: no whole-system price (see the upgrade scenario)")
    host = hosts.get(m.host)
    if host is None:
        return ScenarioPrice(None, missing=f"reference host {m.host!r} is not in data/hosts/: no whole-system price")
    host_prov = _weakest(*(p.provenance for p in host.parts))
    gaps = unpriced_parts(host)
    return ScenarioPrice(
        card.amount + host.price_usd, card.kind, max(card.date, host.price_date), _weakest(card.provenance, host_prov),
        "card(s) + reference host",
        f"{card.amount:,.0f} USD card(s) ({card.date}) + {host.price_usd:,.0f} USD for {host.name} "
        f"({len(host.parts)} priced part(s), as of {host.price_date})", card.provider, str(card.source_url),
        lower_bound=(f"the reference host prices no {', '.join(gaps)}: the system price is a lower bound"
                     if gaps else ""))


def board_power(m: Machine, measured_w: float | None, measured_covers: str | None,
                measured_prov: str | None) -> tuple[float | None, str | None, str]:
    """The card(s)' board power: the figure's own NVML reading, else TDP × cards (published spec)."""
    if measured_w is not None and measured_covers == "gpu_board":
        return measured_w, measured_prov or "measured", f"{measured_w:,.0f} W board (measured, NVML)"
    if m.power is not None and m.power.accelerator_tdp_w:
        n = card_count(m)
        w = m.power.accelerator_tdp_w * n
        return w, m.power.provenance, (f"{m.power.accelerator_tdp_w:,.0f} W TDP × {n}" if n > 1
                                       else f"{w:,.0f} W TDP (spec)")
    return None, None, ""


def scenario_power(m: Machine, hosts: dict[str, Host], scenario: str, measured_w: float | None = None,
                   measured_covers: str | None = None, measured_prov: str | None = None) -> ScenarioPower:
    """Load and idle power of one figure on one machine in one scenario, with what it covers.

    `measured_covers` is the meter's coverage key (gpu_board, soc, wall ...) of the figure's own
    energy window, if it had one."""
    if scenario in ("upgrade", "cloud") or (scenario == "system" and is_discrete(m)):
        board, prov, how = board_power(m, measured_w, measured_covers, measured_prov)
        card = "measured" if measured_w is not None and measured_covers == "gpu_board" else "TDP"
        idle_card = (m.power.accelerator_idle_w * card_count(m)
                     if m.power is not None and m.power.accelerator_idle_w else None)
        if scenario != "system":
            if board is None and measured_w is not None:
                return ScenarioPower(measured_w, None, measured_covers, measured_prov, "as measured", "measured")
            return ScenarioPower(board, idle_card, "gpu_board" if board is not None else None, prov, how, card)
        host = hosts.get(m.host) if m.host else None
        if host is None or board is None:
            if measured_w is not None and measured_covers == "wall":
                return ScenarioPower(measured_w, None, "wall", measured_prov, f"{measured_w:,.0f} W at the wall (measured)",
                                     "measured")
            if m.power is not None and m.power.system_max_w:  # a prebuilt PC with its own wall figure
                return ScenarioPower(m.power.system_max_w, m.power.idle_w, "wall", "estimated",
                                     f"{m.power.system_max_w:,.0f} W system maximum at the wall ({m.power.provenance} "
                                     "spec; draw while decoding is lower)", "system max")
            # no host figures: the board power is all there is, and it is not the wall
            return ScenarioPower(board, idle_card, "gpu_board" if board is not None else None, prov,
                                 how + ("; no reference host, so no wall power" if board is not None else ""), card)
        hp = host.power
        load = (board + hp.load_w) / hp.psu_efficiency
        idle = hp.idle_w + idle_card / hp.psu_efficiency if idle_card is not None else None
        basis = (f"({how} + {hp.load_w:,.0f} W host) ÷ {hp.psu_efficiency:.2f} PSU efficiency = {load:,.0f} W at "
                 f"the wall (estimated; host: {host.name})")
        return ScenarioPower(load, idle, "wall", "estimated", basis, f"card {card} + host, estimated")
    # a whole machine (Mac, laptop, mini PC, prebuilt) in the system scenario
    idle = m.power.idle_w if m.power is not None else None
    if measured_w is not None and measured_covers == "wall":
        return ScenarioPower(measured_w, idle, "wall", measured_prov, f"{measured_w:,.0f} W at the wall (measured)",
                             "measured")
    if m.power is not None and m.power.system_max_w:
        return ScenarioPower(m.power.system_max_w, idle, "wall", "estimated",
                             f"{m.power.system_max_w:,.0f} W system maximum at the wall ({m.power.provenance} spec; "
                             f"draw while decoding is lower, so {TPJ_LOWER_BOUND})", "system max")
    if measured_w is not None:
        return ScenarioPower(measured_w, idle, measured_covers, measured_prov,
                             f"{measured_w:,.0f} W, {COVERS_TEXT.get(measured_covers or '', measured_covers)} only",
                             "measured")
    board, prov, how = board_power(m, None, None, None)
    return ScenarioPower(board, idle, "gpu_board" if board is not None else None, prov, how, "TDP")
