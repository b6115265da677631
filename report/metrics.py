"""From validated records to tidy tables and derived metrics (pure pandas, no I/O beyond `load`).

Every formula of the report lives here once: the pages and charts only select and format. The
definitions are those of DESIGN.md ("Definitions the report must use"); `report/methodology.qmd`
prints them with the assumptions in `report.assumptions.Assumptions`.

Three provenances are kept apart in every table: `measured` (a costperf run file), `published`
(a cited publication in data/published/) and `estimated` (derived from specs; the formula is in
the `basis` column). A derived figure takes the weakest provenance of its inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from collectors import physics, store
from collectors.prices import price_history
from collectors.records import Host, Machine, Price, PublishedSet, RunRecord
from report import boundary as B
from report import settings as S
from report.assumptions import Assumptions
from report.measured_memory import prefer_measured
from report.ceilings import CEILING_COLUMNS, ceilings_table, decode_estimate
from report.winners import Winner, winners  # noqa: F401  (the cards' logic; re-exported for the pages)

PROVENANCE_ORDER = ["measured", "published", "estimated"]
"""Best first: a headline figure comes from the best provenance available for the machine."""

LLAMA3_8B_READ_GB_PER_TOKEN_16BIT = 15.01
"""GB read per decoded token by Llama-3-8B at 16 bits: its weights without the embedding table
(DESIGN.md anchor measurements, the H100 row '15.01 GB read per token')."""

MODEL_SIZES_B: dict[str, float] = {
    "1B": 1.0, "3B": 3.0, "8B": 8.0, "14B": 14.0, "32B": 32.0, "70B": 70.0, "120B": 120.0, "405B": 405.0,
}
"""Nominal parameter counts (billions) of common open-model classes, for the which-model-fits grid."""

FIT_FORMAT = {"4-bit": "q4_0", "8-bit": "q8_0", "16-bit": "f16"}
"""The format each precision of the which-model-fits figures stands for."""
PRECISION_BITS: dict[str, float] = {k: physics.bits_per_weight(v) or 0.0 for k, v in FIT_FORMAT.items()}
"""Bits per weight, whole file, of those formats (4.5 / 8.5 / 16: the physics checks' own rule)."""

POWER_COVERS_LABEL = {
    "gpu_board": "GPU board (NVML)",
    "soc": "SoC package (Apple)",
    "cpu_package": "CPU package (RAPL)",
    "dram": "DRAM",
    "cpu_package_dram": "CPU package + DRAM (RAPL)",
    "wall": "wall",
}


# ---------------------------------------------------------------------------------------------
# Formulas (one place each)


def tokens_per_joule(tokens_per_s: float | None, avg_w: float | None) -> float | None:
    """tokens/s ÷ W = tokens/J."""
    if not tokens_per_s or not avg_w:
        return None
    return tokens_per_s / avg_w


def model_flops_utilisation(tokens_per_s: float | None, flops_per_token: float | None,
                            peak_tflops: float | None) -> float | None:
    """MFU: achieved model FLOP/s (tokens/s x FLOPs per token, 6N + attention for training) over the
    accelerator's published peak dense BF16 FLOP/s (PaLM appendix B, as nanoGPT computes it)."""
    if not tokens_per_s or not flops_per_token or not peak_tflops:
        return None
    return tokens_per_s * flops_per_token / (peak_tflops * 1e12)


def window_tokens_per_joule(tps: float | None, energy: Any) -> float | None:
    """Tokens per joule of a measured result from its own energy window: the tokens counted inside
    the window over the joules it read (the same repeats that gave tokens/s); tokens/s over the
    window's average watts when the run did not count the tokens."""
    if energy is None:
        return None
    if energy.tokens:
        return energy.tokens / energy.joules
    return tokens_per_joule(tps, energy.avg_w)


def tokens_over_period(tokens_per_s: float, a: Assumptions) -> float:
    """Tokens a purchased machine produces over the amortisation period at the stated use."""
    return tokens_per_s * a.active_hours() * 3600.0


def electricity_usd(avg_w: float | None, a: Assumptions, idle_w: float | None = None) -> float:
    """Cost of the electricity: load W × active hours + idle W × idle hours → kWh × $/kWh (the load
    part is 0 when power is unknown; the idle part only where an idle figure is known)."""
    kwh = (avg_w or 0.0) * a.active_hours() / 1000.0 + (idle_w or 0.0) * a.idle_hours() / 1000.0
    return kwh * a.usd_per_kwh


def tokens_per_dollar_purchase(tokens_per_s: float | None, price_usd: float | None, avg_w: float | None,
                               a: Assumptions, idle_w: float | None = None) -> float | None:
    """Tokens over the amortisation period ÷ (purchase price + electricity at load and at idle)."""
    if not tokens_per_s or not price_usd:
        return None
    return tokens_over_period(tokens_per_s, a) / (price_usd + electricity_usd(avg_w, a, idle_w))


def tokens_per_dollar_cloud(tokens_per_s: float | None, usd_per_hour: float | None,
                            utilisation: float = 1.0) -> float | None:
    """Tokens per paid hour ÷ hourly price: tokens/s × 3,600 × utilisation, since a rented hour that
    sits idle is paid too (electricity is in the price)."""
    if not tokens_per_s or not usd_per_hour:
        return None
    return tokens_per_s * 3600.0 * utilisation / usd_per_hour


def largest_model_b(usable_gb: float | None, bits: int, kv_cache_gb: float) -> float | None:
    """Largest parameter count (billions) whose weights at `bits` fit beside the KV-cache allowance."""
    if usable_gb is None:
        return None
    return max(usable_gb - kv_cache_gb, 0.0) * 8.0 / bits


def model_fits(params_b: float, bits: int, usable_gb: float | None, kv_cache_gb: float) -> bool:
    largest = largest_model_b(usable_gb, bits, kv_cache_gb)
    return largest is not None and params_b <= largest


def effective_bandwidth_gbps(tokens_per_s: float | None, bytes_per_token: float | None) -> float | None:
    """Bytes read per second implied by a decode rate (the roofline's left side)."""
    if not tokens_per_s or not bytes_per_token:
        return None
    return tokens_per_s * bytes_per_token / 1e9


def roofline_efficiency(effective_gbps: float | None, peak_gbps: float | None) -> float | None:
    """Effective ÷ peak bandwidth; above 1 is physically impossible (an error in the data)."""
    if not effective_gbps or not peak_gbps:
        return None
    return effective_gbps / peak_gbps


def roofline_decode_tokens_per_s(bandwidth_gbps: float, read_gb_per_token: float) -> float:
    """Memory-bound decode ceiling: bandwidth ÷ bytes read per token."""
    return bandwidth_gbps / read_gb_per_token


def per_usable_gb(value: float | None, usable_gb: float | None) -> float | None:
    if value is None or not usable_gb:
        return None
    return value / usable_gb


def pareto_front(df: pd.DataFrame, cost: str, benefit: str) -> pd.Series:
    """True for rows no other row beats (cheaper or equal and faster, or cheaper and as fast)."""
    ok = df[cost].notna() & df[benefit].notna()
    front = pd.Series(False, index=df.index)
    sub = df[ok].sort_values([cost, benefit], ascending=[True, False])
    best = float("-inf")
    for idx, value in sub[benefit].items():
        if value > best:
            front[idx] = True
            best = value
    return front


def weakest(*provenances: str | None) -> str:
    """The weakest provenance among a derived figure's inputs."""
    known = [p for p in provenances if p]
    return max(known, key=PROVENANCE_ORDER.index) if known else "estimated"


# ---------------------------------------------------------------------------------------------
# Classification of settings


_EIGHT_B = re.compile(r"(?<![0-9.])(7|8)(\.0)?\s*b\b", re.IGNORECASE)


def is_8b_class(model: str | None) -> bool:
    """Llama-2-7B / Llama-3-8B class models (the headline's reference size)."""
    return isinstance(model, str) and bool(_EIGHT_B.search(model.replace("_", "-")))


def eight_b_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of 8B-class models (a boolean mask, so an empty table keeps its columns)."""
    return df[df["model"].map(is_8b_class).astype(bool)]


def precision_class(dtype: str | None) -> str:
    d = (dtype or "").lower()
    if not d:
        return "unknown"
    if any(k in d for k in ("bf16", "fp16", "f16", "float16", "half")):
        return "16-bit"
    if any(k in d for k in ("fp32", "f32", "float32")):
        return "32-bit"
    if any(k in d for k in ("int8", "q8", "fp8", "8bit", "8-bit")):
        return "8-bit"
    if any(k in d for k in ("q4", "int4", "nf4", "fp4", "4bit", "4-bit")):
        return "4-bit"
    return "other"


def workload_kind(workload: str) -> str:
    if workload in ("prefill", "decode"):
        return workload
    if workload.startswith("train"):
        return "train"
    return "micro"


def guess_vendor(hardware: str) -> str:
    h = hardware.lower()
    if re.search(r"\b(apple|mac|m[1-9])\b", h):
        return "apple"
    if re.search(r"nvidia|rtx|gtx|\bh100\b|\bh200\b|\ba100\b|dgx|jetson|gb10|\bl4\b|\bb200\b", h):
        return "nvidia"
    if re.search(r"\bamd\b|radeon|\bmi[23]\d\d", h):
        return "amd"
    return "other"


# ---------------------------------------------------------------------------------------------
# Machines


PCIE_X16_GBPS = {1: 4.0, 2: 8.0, 3: 15.75, 4: 31.5, 5: 63.0, 6: 121.0, 7: 242.0}
"""PCIe bandwidth of an x16 link, one direction, GB/s, per generation (../shared/SEED-NOTES.md, claim 8)."""


def pcie_gbps(generation: int, lanes: int) -> float:
    return PCIE_X16_GBPS[generation] * lanes / 16


def usable_memory_gb(m: Machine, a: Assumptions) -> float:
    """The machine's usable memory; `vram_reserve_gb` overrides the file's reserve for dedicated GPUs."""
    if a.vram_reserve_gb is not None and m.usable_memory.rule == "vram_less_reserve":
        gpus = sum(acc.count for acc in m.accelerators)
        return max(m.total_accelerator_memory_gb - a.vram_reserve_gb * gpus, 0.0)
    return m.usable_memory_gb


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


def spec_power_w(m: Machine) -> tuple[float | None, str]:
    """Power estimated from specs when none was measured: accelerator TDP × count, else system max."""
    if m.power is None:
        return None, ""
    count = sum(a.count for a in m.accelerators)
    if m.power.accelerator_tdp_w:
        return m.power.accelerator_tdp_w * count, "accelerator TDP (spec)"
    if m.power.system_max_w:
        return m.power.system_max_w, "system maximum at the wall (spec)"
    return None, ""


def machines_table(machines: dict[str, Machine], a: Assumptions,
                   flags: dict[tuple[str, int | None], list[Any]] | None = None,
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
            "usable_rule": m.usable_memory.rule,
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
            "flags": _flag_text(flags, m.id, None),
        })
    return pd.DataFrame(rows, columns=MACHINE_COLUMNS)


MACHINE_COLUMNS = [
    "machine", "name", "vendor", "form", "accelerator", "accelerator_count", "memory_kind", "memory_type", "memory_gb",
    "usable_gb", "usable_rule", "usable_provenance", "bandwidth_gbps", "peak_bf16_tflops", "host_link",
    "host_link_gbps", "spec_provenance", "spec_source", "spec_source_url", "spec_source_date", "accelerator_tdp_w",
    "system_max_w", "spec_power_w", "spec_power_basis", "spec_power_provenance", "power_covers", "idle_w",
    "scenario", "in_scenario", "scenario_note", "host", "host_name", "host_load_w", "psu_efficiency",
    "price_usd", "price_kind", "price_date", "price_url",
    "price_provenance", "price_provider", "price_note", "price_covers", "price_lower_bound", "usd_per_usable_gb",
    "largest_4bit_b",
    "largest_8bit_b", "largest_16bit_b", "flags",
]


# ---------------------------------------------------------------------------------------------
# Results: measured, published, estimated → one tidy table

RESULT_COLUMNS = [
    "machine", "name", "vendor", "kind", "workload", "model", "dtype", "precision", "engine",
    "compile_mode", "tuning", "extra", "batch", "prompt_tokens", "gen_tokens", "provenance", "source", "source_url",
    "date", "n_runs", "value", "unit", "spread", "tokens_per_s", "avg_w", "power_covers", "power_key",
    "power_provenance",
    "tokens_per_joule", "joules_per_token", "bytes_per_token", "effective_bw_gbps", "peak_bw_gbps",
    "roofline_efficiency", "above_roofline", "mfu", "basis", "flags", "ranks", "nodes", "hardware",
]


def _flag_text(flags: dict[tuple[str, int | None], list[Any]], record: str, index: int) -> str | None:
    found = flags.get((record, index), [])
    return "; ".join(f"{f.severity}: {f.message}" for f in found) or None


def _measured_rows(runs: Iterable[RunRecord], machines: dict[str, Machine],
                   flags: dict[tuple[str, int | None], list[Any]]) -> list[dict[str, Any]]:
    """Latest run per setting wins; `n_runs` says how many runs measured that identical setting (the
    key holds every parameter: `report.settings.params_key`)."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    counts: dict[tuple[Any, ...], int] = {}
    for run in sorted(runs, key=lambda r: r.started_at):
        m = machines.get(run.machine)
        peak = m.accelerators[0].memory_bandwidth_gbps if m else None
        peak_tflops = m.accelerators[0].peak_bf16_tflops if m else None
        for index, res in enumerate(run.results):
            if res.status != "ok" or res.throughput is None:
                continue
            p = res.params
            engine = p.engine or run.environment.backend
            key = (run.machine, res.workload, engine, S.params_key(p), res.throughput.unit,
                   res.distributed.world_size if res.distributed else None)  # 1 and N ranks are two figures
            counts[key] = counts.get(key, 0) + 1
            tps = res.throughput.median if res.throughput.unit == "tokens/s" else None
            e = res.energy
            # The roofline bounds single-stream decode only: prefill and batched decode reuse each
            # weight read for many tokens (the same rule as physics.run_roofline).
            single_stream_decode = workload_kind(res.workload) == "decode" and (p.batch or 1) <= 1
            eff = effective_bandwidth_gbps(tps, res.bytes_per_token) if single_stream_decode else None
            ratio = roofline_efficiency(eff, peak)
            latest[key] = {
                "machine": run.machine,
                "name": m.name if m else run.machine,
                "vendor": m.vendor if m else "other",
                "kind": workload_kind(res.workload),
                "workload": res.workload,
                "model": p.model,
                "dtype": p.dtype,
                "precision": precision_class(p.dtype),
                "engine": engine,
                "compile_mode": p.compile_mode,
                "tuning": S.tuning(p.extra),
                "extra": S.extra_text(p.extra),
                "batch": p.batch,
                "prompt_tokens": p.prompt_tokens,
                "gen_tokens": p.gen_tokens,
                "provenance": "measured",
                "source": f"run {run.machine}/{run.stamp}" + (" (llama-bench)" if run.tool == "llama-bench" else ""),
                "source_url": None,
                "date": run.started_at.date(),
                "value": res.throughput.median,
                "unit": res.throughput.unit,
                "spread": res.throughput.mad,
                "tokens_per_s": tps,
                "avg_w": e.avg_w if e else None,
                "power_covers": (POWER_COVERS_LABEL.get(e.covers, e.covers) if e else None),
                "power_key": e.covers if e else None,
                "power_provenance": e.provenance if e else None,
                "tokens_per_joule": window_tokens_per_joule(tps, e),
                "bytes_per_token": res.bytes_per_token,
                "effective_bw_gbps": eff,
                "peak_bw_gbps": peak,
                "roofline_efficiency": ratio,
                "above_roofline": bool(ratio is not None and ratio > 1.0),
                # one device's peak: a distributed figure is a group's and has its own scaling table
                "mfu": model_flops_utilisation(tps, res.flops_per_token, peak_tflops)
                if res.distributed is None else None,
                "basis": "median of timed repeats" + (f"; energy {e.method} over {e.window_s:.0f} s" if e else ""),
                "flags": _flag_text(flags, f"{run.machine}/{run.stamp}", index),
                "ranks": res.distributed.world_size if res.distributed else None,
                "nodes": res.distributed.nodes if res.distributed else None,
            }
    for key, row in latest.items():
        row["n_runs"] = counts[key]
    return list(latest.values())


def _published_rows(ds: store.DataSet, flags: dict[tuple[str, int | None], list[Any]]) -> list[dict[str, Any]]:
    rows = []
    machines = ds.machines
    for ps in ds.published:
        if ps.role != "benchmark":
            continue  # the seed article is what the claims page checks, not evidence
        for index, r in enumerate(ps.results):
            cit = r.citation or ps.citation
            m = machines.get(r.machine) if r.machine else None
            # bytes per token estimated from the model's shape and the format's bits per weight
            roof = physics.published_roofline(ds, r)
            rows.append({
                "machine": r.machine if m else None,
                "name": m.name if m else r.hardware,
                "vendor": m.vendor if m else guess_vendor(r.hardware),
                "kind": r.workload if r.workload in ("prefill", "decode", "train") else "other",
                "workload": r.workload,
                "model": r.model,
                "dtype": r.dtype,
                "precision": precision_class(r.dtype),
                "engine": r.engine,
                "compile_mode": None,
                "tuning": None,
                "extra": S.extra_text(r.settings),
                "hardware": r.hardware,
                "batch": r.batch,
                "prompt_tokens": r.prompt_tokens,
                "gen_tokens": r.gen_tokens,
                "provenance": "published",
                "source": cit.title,
                "source_url": cit.url,
                "date": cit.date,
                "n_runs": 1,
                "value": r.tokens_per_s,
                "unit": "tokens/s",
                "spread": None,
                "tokens_per_s": r.tokens_per_s,
                "avg_w": r.avg_w,
                "power_covers": "as published" if r.avg_w else None,
                "power_key": "as published" if r.avg_w else None,
                "power_provenance": "published" if r.avg_w else None,
                "tokens_per_joule": tokens_per_joule(r.tokens_per_s, r.avg_w),
                "bytes_per_token": roof.bytes_per_token if roof else None,
                "effective_bw_gbps": roof.effective_gbps if roof else None,
                "peak_bw_gbps": roof.bandwidth_gbps if roof else None,
                "roofline_efficiency": roof.fraction if roof else None,
                "above_roofline": bool(roof is not None and roof.fraction > 1.0),
                "basis": f"{ps.id}: {r.hardware}" + (f"; roofline {roof.bytes_from}" if roof else "")
                         + (f" ({cit.note})" if cit.note else ""),
                "flags": _flag_text(flags, ps.id, index),
            })
    return rows




def physics_flags(ds: store.DataSet) -> dict[tuple[str, int | None], list[Any]]:
    """The physics checks of `costperf validate`, keyed (record, index) to mark the report's rows."""
    return physics.flags_by_record(physics.check(ds))


def results_table(ds: store.DataSet, a: Assumptions,
                  flags: dict[tuple[str, int | None], list[Any]] | None = None) -> pd.DataFrame:
    """Measured and published figures, one row per machine, workload and setting; `flags` carries
    the physics checks' findings (flagged rows are shown, never dropped). Spec-based ceilings are not
    results: they are in `report.ceilings`."""
    if flags is None:
        flags = physics_flags(ds)
    rows = _measured_rows(ds.runs, ds.machines, flags) + _published_rows(ds, flags)
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    df["joules_per_token"] = [1.0 / v if v else None for v in df["tokens_per_joule"]]
    return df


# ---------------------------------------------------------------------------------------------
# The headline: one row per machine


STANDARD_LENGTH = S.STANDARD_LENGTH
_given = S.given
setting_label = S.setting_label


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


HEADLINE_COLUMNS = [
    "machine", "name", "vendor", "form", "decode_tok_s", "decode_provenance", "decode_setting", "decode_source",
    "prefill_tok_s", "prefill_provenance", "prefill_setting", "price_usd", "price_kind", "price_date",
    "watts", "watts_basis", "watts_provenance", "tokens_per_dollar", "tokens_per_dollar_provenance",
    "tokens_per_dollar_note", "price_as_of", "price_used_usd", "price_used_kind", "price_used_provider",
    "tokens_per_joule", "tokens_per_joule_provenance", "tok_s_per_usable_gb", "usable_gb",
    "usable_provenance", "usd_per_usable_gb",
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


# ---------------------------------------------------------------------------------------------
# Cross-check: costperf's own measurements against published figures at the same setting

CROSS_CHECK_COLUMNS = [
    "machine", "name", "workload", "model", "dtype", "engine", "prompt_tokens", "gen_tokens",
    "measured_tokens_per_s", "published_tokens_per_s", "ratio", "run", "run_tool", "published", "published_source",
    "published_url", "published_date",
]


def cross_check_table(ds: store.DataSet) -> pd.DataFrame:
    """One row per pair `collectors.physics.cross_checks` matches (same machine, workload, model,
    dtype, engine and test lengths), with its ratio measured ÷ published (`CrossCheck.ratio`)."""
    runs = {f"{r.machine}/{r.stamp}": r for r in ds.runs}
    sets = {ps.id: ps for ps in ds.published}
    rows = []
    for c in physics.cross_checks(ds):
        set_id, _, index = c.published.partition("#")
        ps = sets[set_id]
        row = ps.results[int(index)]
        cit = row.citation or ps.citation
        m = ds.machines.get(c.machine)
        run = runs.get(c.run)
        rows.append({
            "machine": c.machine, "name": m.name if m else c.machine, "workload": c.workload, "model": c.model,
            "dtype": c.dtype, "engine": row.engine, "prompt_tokens": row.prompt_tokens, "gen_tokens": row.gen_tokens,
            "measured_tokens_per_s": c.measured_tokens_per_s, "published_tokens_per_s": c.published_tokens_per_s,
            "ratio": c.ratio, "run": c.run, "run_tool": run.tool if run else None, "published": c.published,
            "published_source": cit.title, "published_url": c.published_url, "published_date": cit.date,
        })
    df = pd.DataFrame(rows, columns=CROSS_CHECK_COLUMNS)
    return df.sort_values(["machine", "model", "dtype", "workload", "run"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Scaling over ranks (torchrun workloads)

SCALING_COLUMNS = [
    "machine", "name", "vendor", "workload", "model", "dtype", "batch", "seq_len", "compile_mode", "world_size",
    "nodes", "backend", "interconnect", "staged_through_cpu", "tokens_per_s", "ideal_tokens_per_s", "efficiency",
    "group_share", "group_price_usd", "watts", "watts_basis", "watts_provenance", "tokens_per_dollar",
    "tokens_per_dollar_provenance", "tokens_per_dollar_note", *PRICE_USED_COLUMNS, "tokens_per_joule",
    "tokens_per_joule_provenance", "run", "series", "flags",
]


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


def scaling_table(ds: store.DataSet, machines: pd.DataFrame, a: Assumptions,
                  flags: dict[tuple[str, int | None], list[Any]] | None = None) -> pd.DataFrame:
    """One row per machine, distributed workload, setting and world size (the latest run of each):
    the group's tokens/s, its scaling efficiency against the one-rank figure of the same setting
    (`collectors.distributed.scaling.scaling_table`), and tokens per dollar and per joule of the
    whole group: the devices' share of the machine price (`group_share`) and every rank's meter
    summed (the result's energy), else the spec power of those devices, labelled estimated."""
    from collectors.distributed import scaling  # noqa: PLC0415

    flags = flags or {}
    by_id = machines.set_index("machine") if not machines.empty else machines
    latest: dict[tuple[Any, ...], tuple[RunRecord, int, Any]] = {}
    for run in sorted(ds.runs, key=lambda r: r.started_at):
        for index, res in enumerate(run.results):
            if (res.status != "ok" or res.distributed is None or res.throughput is None
                    or res.throughput.unit != "tokens/s"):
                continue
            p = res.params
            key = (run.machine, res.workload, p.model, p.batch, p.seq_len, p.dtype, p.compile_mode,
                   res.distributed.world_size)
            latest[key] = (run, index, res)
    groups: dict[tuple[str, str], list[tuple[RunRecord, int, Any]]] = {}
    for key, item in latest.items():
        groups.setdefault((key[0], key[1]), []).append(item)
    rows = []
    for (machine_id, workload), items in sorted(groups.items()):
        table = scaling.scaling_table([res for _, _, res in items], workload)
        found = {(r["model"], r["batch"], r["seq_len"], r["dtype"], r["compile_mode"], r["world_size"]): r
                 for r in table}
        ones = {k[:5]: r["tokens_per_s"] for k, r in found.items() if k[5] == 1}
        known = machine_id in by_id.index
        m = by_id.loc[machine_id] if known else None
        for run, index, res in sorted(items, key=lambda t: (str(t[2].params.model), t[2].distributed.world_size)):
            p, d = res.params, res.distributed
            k = (p.model, p.batch, p.seq_len, p.dtype, p.compile_mode, d.world_size)
            tps = found[k]["tokens_per_s"]
            row: dict[str, Any] = {
                "machine": machine_id, "name": m["name"] if known else machine_id,
                "vendor": m["vendor"] if known else "other", "workload": workload, "model": p.model,
                "dtype": p.dtype, "batch": p.batch, "seq_len": p.seq_len, "compile_mode": p.compile_mode,
                "world_size": d.world_size, "nodes": d.nodes, "backend": d.backend, "interconnect": d.interconnect,
                "staged_through_cpu": d.staged_through_cpu, "tokens_per_s": tps,
                "ideal_tokens_per_s": ones[k[:5]] * d.world_size if k[:5] in ones else None,
                "efficiency": found[k]["efficiency"], "run": f"{run.machine}/{run.stamp}",
                "series": " · ".join(str(x) for x in (m["name"] if known else machine_id, workload, p.model,
                                                       p.dtype) if x),
                "flags": _flag_text(flags, f"{run.machine}/{run.stamp}", index),
            }
            if known:
                group_m = group_machine(m, d.world_size, d.nodes)
                share = group_m["group_share"]
                e = res.energy
                costs = cost_metrics(tps, "measured", e.avg_w if e else None,
                                     f"{POWER_COVERS_LABEL.get(e.covers, e.covers)}, every rank's meter summed"
                                     if e else None, group_m, a, window_tokens_per_joule(tps, e),
                                     e.covers if e else None)
                row.update(costs, group_share=share, group_price_usd=group_m["price_usd"])
            rows.append(row)
    return pd.DataFrame(rows, columns=SCALING_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Everything a page needs, built once


@dataclass
class Report:
    """Every table the pages show. Holds counts and problem lines rather than the records
    themselves, so that it pickles small and loads fast in each page's kernel."""

    assumptions: Assumptions
    counts: dict[str, int]
    problems: list[str]
    machines: pd.DataFrame
    results: pd.DataFrame
    headline: pd.DataFrame
    winners: list[Winner]
    fits: pd.DataFrame
    statuses: pd.DataFrame
    seed: list[PublishedSet] = field(default_factory=list)
    prices: pd.DataFrame = field(default_factory=pd.DataFrame)
    cross_checks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CROSS_CHECK_COLUMNS))
    scaling: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SCALING_COLUMNS))
    setting: S.HeadlineSetting | None = None  # the one setting the overview ranks at
    ceilings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CEILING_COLUMNS))


def status_table(ds: store.DataSet) -> pd.DataFrame:
    """Every measured result's outcome (ok, oom, unsupported ...) per machine and backend."""
    rows = [{"machine": run.machine, "backend": run.environment.backend, "workload": res.workload,
             "status": res.status} for run in ds.runs for res in run.results]
    return pd.DataFrame(rows, columns=["machine", "backend", "workload", "status"])


def build(ds: store.DataSet, a: Assumptions) -> Report:
    flags = physics_flags(ds)
    machines = machines_table(ds.machines, a, flags, ds.hosts)
    machines = prefer_measured(machines, ds.runs, ds.machines, a)  # a Mac's own measured GPU limit
    results = results_table(ds, a, flags)
    hs = S.choose_headline(results, a.headline_precision, precision_class)
    ceilings = ceilings_table(machines, results, hs)
    headline = headline_table(results, machines, a, hs, ceilings)
    counts = {"machines": len(ds.machines), "runs": len(ds.runs), "published": len(ds.published),
              "flags_violation": sum(f.severity == "violation" for fs in flags.values() for f in fs),
              "flags_review": sum(f.severity == "review" for fs in flags.values() for f in fs)}
    return Report(assumptions=a, counts=counts, problems=[p.shown(ds.root.parent) for p in ds.problems], machines=machines, results=results, headline=headline,
                  winners=winners(headline, a.scenario, hs.label if hs else None), fits=fit_grid(machines, a),
                  statuses=status_table(ds), setting=hs, ceilings=ceilings,
                  seed=[p for p in ds.published if p.role == "seed_article"],
                  prices=price_history_table(ds.machines), cross_checks=cross_check_table(ds),
                  scaling=scaling_table(ds, machines, a, flags))


def load(root: Path, a: Assumptions) -> Report:
    """Load and validate the data folder; files with problems are left out (the problems are
    listed on the methodology page), so one bad file never blanks the report."""
    return build(store.load(root / a.data_dir), a)
