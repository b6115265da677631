"""The machines table: one row per machine, priced and powered in the assumptions' scenario, with its
usable memory and the largest models that fit; the price history; which model sizes fit where."""

from __future__ import annotations

import pandas as pd

from collectors import physics
from collectors.prices import price_history
from collectors.records import Host, Machine, Price
from report import boundary as B
from report.assumptions import Assumptions
from report.formulas import largest_model_b, model_fits, pcie_gbps, per_usable_gb
from report.physics_flags import Flags, flag_text

MODEL_SIZES_B: dict[str, float] = {
    "1B": 1.0, "3B": 3.0, "8B": 8.0, "14B": 14.0, "32B": 32.0, "70B": 70.0, "120B": 120.0, "405B": 405.0,
}
"""Nominal parameter counts (billions) of common open-model classes, for the which-model-fits grid."""

FIT_FORMAT = {"4-bit": "q4_0", "8-bit": "q8_0", "16-bit": "f16"}
"""The format each precision of the which-model-fits figures stands for."""
PRECISION_BITS: dict[str, float] = {k: physics.bits_per_weight(v) or 0.0 for k, v in FIT_FORMAT.items()}
"""Bits per weight, whole file, of those formats (4.5 / 8.5 / 16: the physics checks' own rule)."""


def usable_memory_gb(m: Machine, a: Assumptions) -> float:
    """The machine's usable memory; `vram_reserve_gb` overrides the file's reserve for dedicated GPUs."""
    if a.vram_reserve_gb is not None and m.usable_memory.rule == "vram_less_reserve":
        gpus = sum(acc.count for acc in m.accelerators)
        return max(m.total_accelerator_memory_gb - a.vram_reserve_gb * gpus, 0.0)
    return m.usable_memory_gb


def usable_basis(m: Machine, a: Assumptions) -> tuple[str, str]:
    """How the usable memory was reached: a few words for under the figure, and the rule with its
    numbers in full (hover, the memory page's details, the CSV)."""
    u, total = m.usable_memory, m.total_accelerator_memory_gb
    if u.rule == "macos_default" and u.fraction is not None:
        return (f"macOS limit: {u.fraction:.0%} of RAM", f"{u.fraction:.0%} of {total:,.0f} GB: macOS's default GPU "
                "working-set limit (recommendedMaxWorkingSetSize)")
    if u.rule == "macos_raised" and u.limit_gb is not None:
        return ("raised macOS limit", f"{u.limit_gb:,.0f} GB: the GPU limit raised with sysctl iogpu.wired_limit_mb")
    reserve = a.vram_reserve_gb if a.vram_reserve_gb is not None and u.rule == "vram_less_reserve" else u.reserve_gb
    if u.rule == "vram_less_reserve":
        gpus = sum(acc.count for acc in m.accelerators)
        each = f" per GPU × {gpus}" if gpus > 1 else ""
        return (f"VRAM less {reserve:g} GB{each}",
                f"{total:,.0f} GB VRAM less a {reserve:g} GB reserve{each} (driver, CUDA context, fragmentation)")
    # unified memory other than Apple's (a CPU-only box, a GB10, a Strix Halo): what the OS keeps and
    # what the GPU may not take, as the machine file's reserve says
    return (f"RAM less {reserve:g} GB", f"{total:,.0f} GB RAM less a {reserve:g} GB reserve (the OS, and memory "
            "the accelerator may not take)")


def current_price(m: Machine) -> Price | None:
    """The one price the report uses for a machine, and so the one whose date it prints ("price as
    of DATE") beside every tokens-per-dollar figure: the newest USD purchase price (cloud machines:
    the newest hourly price), a used price only when no new one is known. Non-USD prices are not
    converted. Of several prices on the newest date (cloud providers quoted the same day: a spread,
    not a series) the median quote is used (`report.boundary.newest_quote`), as every scenario does."""
    order = ["cloud_hourly", "purchase", "used"] if m.form == "cloud" else ["purchase", "used", "cloud_hourly"]
    for kind in order:
        price = B.newest_quote([p for p in m.prices if p.kind == kind and p.currency == "USD"])
        if price is not None:
            return price
    return None


def price_history_table(machines: dict[str, Machine]) -> pd.DataFrame:
    """Every price of every machine, one row each (oldest first per machine), with `used` marking the
    observation `current_price` picked for tokens per dollar and `series` the provider (or source)
    it belongs to: prices of several providers in one file are a spread, one series each."""
    frames = []
    for m in sorted(machines.values(), key=lambda m: m.id):
        if not m.prices:
            continue
        h = price_history(m)
        chosen = current_price(m)
        # the index of the chosen Price among the machine's prices, matched by identity
        chosen_at = next((i for i, p in enumerate(m.prices) if p is chosen), None)
        order = sorted(range(len(m.prices)), key=lambda i: m.prices[i].date)  # price_history's stable order
        h["used"] = [order[j] == chosen_at for j in range(len(h))]
        h["name"] = m.name
        h["vendor"] = m.vendor
        h["series"] = [p if isinstance(p, str) and p else (s if s != "manual" else "unnamed")
                       for p, s in zip(h["provider"], h["source"])]
        frames.append(h)
    cols = ["machine", "name", "vendor", "date", "amount", "currency", "kind", "series", "provider", "source",
            "provenance", "source_url", "fetched_at", "note", "used"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def machines_table(machines: dict[str, Machine], a: Assumptions,
                   flags: Flags | None = None,
                   hosts: dict[str, Host] | None = None) -> pd.DataFrame:
    """One row per machine, priced and powered in the assumptions' scenario (`report.boundary`):
    price_* and spec_power_* are the scenario's; `flags` carries the physics checks' findings on the
    machine file itself (usable memory above total memory), shown beside the figure and never dropped."""
    flags = flags or {}
    hosts = hosts or {}
    rows = []
    for m in sorted(machines.values(), key=lambda m: (m.vendor, m.id)):
        acc = m.accelerators[0]
        usable = usable_memory_gb(m, a)
        usable_short, usable_rule = usable_basis(m, a)
        inside, outside_why = B.in_scenario(m, a.scenario)
        price = B.scenario_price(m, hosts, a.scenario)
        power = B.scenario_power(m, hosts, a.scenario)
        host = hosts.get(m.host) if m.host else None
        to_wall = a.scenario == "system" and B.is_discrete(m) and host is not None
        source_of = {s.id: s for s in m.sources}
        spec_sources = [source_of[s] for s in acc.sources if s in source_of]
        rows.append({
            "machine": m.id,
            "name": m.name,
            "vendor": m.vendor,
            "form": m.form,
            "accelerator": f"{acc.count}× {acc.name}" if acc.count > 1 else acc.name,
            "accelerator_count": sum(x.count for x in m.accelerators),
            "memory_kind": acc.memory_kind,
            "memory_type": acc.memory_type,
            "memory_gb": m.total_accelerator_memory_gb,
            "usable_gb": usable,
            "usable_rule": usable_rule,
            "usable_short": usable_short,
            "usable_provenance": m.usable_memory.provenance,
            "bandwidth_gbps": acc.memory_bandwidth_gbps,
            "peak_bf16_tflops": acc.peak_bf16_tflops,
            "host_link": f"PCIe {acc.host_link.generation}.0 x{acc.host_link.lanes}" if acc.host_link else None,
            "host_link_gbps": pcie_gbps(acc.host_link.generation, acc.host_link.lanes) if acc.host_link else None,
            "spec_provenance": acc.provenance,
            "spec_source": "; ".join(s.title for s in spec_sources) or None,
            "spec_source_url": spec_sources[0].url if spec_sources else None,
            "spec_source_date": (spec_sources[0].published or spec_sources[0].accessed) if spec_sources else None,
            "accelerator_tdp_w": m.power.accelerator_tdp_w if m.power else None,
            "system_max_w": m.power.system_max_w if m.power else None,
            "spec_power_w": power.load_w,
            "spec_power_basis": power.basis,
            "spec_power_short": power.short,
            "spec_power_provenance": power.provenance,
            "power_covers": power.covers,
            "idle_w": power.idle_w,
            "scenario": a.scenario,
            "in_scenario": inside,
            "scenario_note": outside_why or price.missing or None,
            "host": m.host,
            "host_name": host.name if host else None,
            "host_load_w": host.power.load_w if to_wall and host else None,
            "psu_efficiency": host.power.psu_efficiency if to_wall and host else None,
            "price_usd": price.usd,
            "price_kind": price.kind,
            "price_date": price.date,
            "price_url": price.url,
            "price_provenance": price.provenance,
            "price_provider": price.provider,
            "price_note": price.basis or None,
            "price_covers": price.covers or None,
            "price_lower_bound": price.lower_bound or None,
            # per usable GB-hour for an hourly price (the cloud scenario's only kind)
            "usd_per_usable_gb": per_usable_gb(price.usd, usable),
            "largest_4bit_b": largest_model_b(usable, PRECISION_BITS["4-bit"], a.kv_cache_gb),
            "largest_8bit_b": largest_model_b(usable, PRECISION_BITS["8-bit"], a.kv_cache_gb),
            "largest_16bit_b": largest_model_b(usable, PRECISION_BITS["16-bit"], a.kv_cache_gb),
            "flags": flag_text(flags, m.id, None),
        })
    return pd.DataFrame(rows, columns=MACHINE_COLUMNS)


MACHINE_COLUMNS = [
    "machine", "name", "vendor", "form", "accelerator", "accelerator_count", "memory_kind", "memory_type", "memory_gb",
    "usable_gb", "usable_rule", "usable_short", "usable_provenance", "bandwidth_gbps", "peak_bf16_tflops", "host_link",
    "host_link_gbps", "spec_provenance", "spec_source", "spec_source_url", "spec_source_date", "accelerator_tdp_w",
    "system_max_w", "spec_power_w", "spec_power_basis", "spec_power_short", "spec_power_provenance", "power_covers",
    "idle_w",
    "scenario", "in_scenario", "scenario_note", "host", "host_name", "host_load_w", "psu_efficiency",
    "price_usd", "price_kind", "price_date", "price_url",
    "price_provenance", "price_provider", "price_note", "price_covers", "price_lower_bound", "usd_per_usable_gb",
    "largest_4bit_b",
    "largest_8bit_b", "largest_16bit_b", "flags",
]


def fit_grid(machines: pd.DataFrame, a: Assumptions) -> pd.DataFrame:
    """Model size × machine: the highest precision at which the weights fit (16, 8, 4 bits or none)."""
    rows = []
    for _, m in machines.iterrows():
        for size, params_b in MODEL_SIZES_B.items():
            fits_at = next((label for label, bits in sorted(PRECISION_BITS.items(), key=lambda kv: -kv[1])
                            if model_fits(params_b, bits, m["usable_gb"], a.kv_cache_gb)), "does not fit")
            rows.append({"machine": m["machine"], "name": m["name"], "vendor": m["vendor"],
                         "usable_gb": m["usable_gb"], "model_size": size, "params_b": params_b,
                         "fits_at": fits_at})
    return pd.DataFrame(rows, columns=["machine", "name", "vendor", "usable_gb", "model_size", "params_b", "fits_at"])
