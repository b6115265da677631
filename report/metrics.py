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
from collectors.prices import latest_price, price_history
from collectors.records import Machine, Price, PublishedSet, RunRecord
from report.assumptions import Assumptions
from report.measured_memory import prefer_measured

PROVENANCE_ORDER = ["measured", "published", "estimated"]
"""Best first: a headline figure comes from the best provenance available for the machine."""

LLAMA3_8B_READ_GB_PER_TOKEN_16BIT = 15.01
"""GB read per decoded token by Llama-3-8B at 16 bits: its weights without the embedding table
(DESIGN.md anchor measurements, the H100 row '15.01 GB read per token')."""

MODEL_SIZES_B: dict[str, float] = {
    "1B": 1.0, "3B": 3.0, "8B": 8.0, "14B": 14.0, "32B": 32.0, "70B": 70.0, "120B": 120.0, "405B": 405.0,
}
"""Nominal parameter counts (billions) of common open-model classes, for the which-model-fits grid."""

PRECISION_BITS = {"4-bit": 4, "8-bit": 8, "16-bit": 16}

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


def electricity_usd(avg_w: float | None, a: Assumptions) -> float:
    """Cost of the electricity for that work: W × active hours → kWh × $/kWh (0 when power unknown)."""
    if not avg_w:
        return 0.0
    return avg_w * a.active_hours() / 1000.0 * a.usd_per_kwh


def tokens_per_dollar_purchase(tokens_per_s: float | None, price_usd: float | None, avg_w: float | None,
                               a: Assumptions) -> float | None:
    """Tokens over the amortisation period ÷ (purchase price + electricity for that work)."""
    if not tokens_per_s or not price_usd:
        return None
    return tokens_over_period(tokens_per_s, a) / (price_usd + electricity_usd(avg_w, a))


def tokens_per_dollar_cloud(tokens_per_s: float | None, usd_per_hour: float | None) -> float | None:
    """Tokens per hour ÷ hourly price (electricity is in the price)."""
    if not tokens_per_s or not usd_per_hour:
        return None
    return tokens_per_s * 3600.0 / usd_per_hour


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
    not a series) the one listed last in the file wins, as `collectors.prices.price_as_of` decides."""
    order = ["cloud_hourly", "purchase", "used"] if m.form == "cloud" else ["purchase", "used", "cloud_hourly"]
    for kind in order:
        price = latest_price(m, kind, "USD")
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
                   flags: dict[tuple[str, int | None], list[Any]] | None = None) -> pd.DataFrame:
    """One row per machine; `flags` carries the physics checks' findings on the machine file itself
    (usable memory above total memory), shown beside the figure and never dropped."""
    flags = flags or {}
    rows = []
    for m in sorted(machines.values(), key=lambda m: (m.vendor, m.id)):
        acc = m.accelerators[0]
        usable = usable_memory_gb(m, a)
        price = current_price(m)
        watts, watts_basis = spec_power_w(m)
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
            "spec_power_w": watts,
            "spec_power_basis": watts_basis,
            "spec_power_provenance": m.power.provenance if m.power else None,
            "price_usd": price.amount if price else None,
            "price_kind": price.kind if price else None,
            "price_date": price.date if price else None,
            "price_url": price.source_url if price else None,
            "price_provenance": price.provenance if price else None,
            "price_provider": price.provider if price else None,
            "price_note": price.note if price else None,
            "usd_per_usable_gb": (per_usable_gb(price.amount, usable)
                                  if price and price.kind != "cloud_hourly" else None),
            "largest_4bit_b": largest_model_b(usable, 4, a.kv_cache_gb),
            "largest_8bit_b": largest_model_b(usable, 8, a.kv_cache_gb),
            "largest_16bit_b": largest_model_b(usable, 16, a.kv_cache_gb),
            "flags": _flag_text(flags, m.id, None),
        })
    return pd.DataFrame(rows, columns=MACHINE_COLUMNS)


MACHINE_COLUMNS = [
    "machine", "name", "vendor", "form", "accelerator", "accelerator_count", "memory_kind", "memory_gb",
    "usable_gb", "usable_rule", "usable_provenance", "bandwidth_gbps", "peak_bf16_tflops", "host_link",
    "host_link_gbps", "spec_provenance", "spec_source", "spec_source_url", "spec_source_date", "accelerator_tdp_w",
    "system_max_w", "spec_power_w", "spec_power_basis", "spec_power_provenance", "price_usd", "price_kind", "price_date", "price_url",
    "price_provenance", "price_provider", "price_note", "usd_per_usable_gb", "largest_4bit_b", "largest_8bit_b",
    "largest_16bit_b", "flags",
]


# ---------------------------------------------------------------------------------------------
# Results: measured, published, estimated → one tidy table

RESULT_COLUMNS = [
    "machine", "name", "vendor", "kind", "workload", "model", "dtype", "precision", "engine",
    "compile_mode", "batch", "prompt_tokens", "gen_tokens", "provenance", "source", "source_url", "date",
    "n_runs", "value", "unit", "spread", "tokens_per_s", "avg_w", "power_covers", "power_provenance",
    "tokens_per_joule", "joules_per_token", "bytes_per_token", "effective_bw_gbps", "peak_bw_gbps",
    "roofline_efficiency", "above_roofline", "mfu", "basis", "flags", "ranks", "nodes",
]


def _flag_text(flags: dict[tuple[str, int | None], list[Any]], record: str, index: int) -> str | None:
    found = flags.get((record, index), [])
    return "; ".join(f"{f.severity}: {f.message}" for f in found) or None


def _measured_rows(runs: Iterable[RunRecord], machines: dict[str, Machine],
                   flags: dict[tuple[str, int | None], list[Any]]) -> list[dict[str, Any]]:
    """Latest run per setting wins; `n_runs` says how many runs measured that setting."""
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
            key = (run.machine, res.workload, p.model, p.dtype, engine, p.compile_mode, p.batch,
                   p.prompt_tokens, p.gen_tokens, res.throughput.unit, p.seq_len,
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


def _estimated_rows(machines: dict[str, Machine], a: Assumptions) -> list[dict[str, Any]]:
    """Roofline decode ceilings of Llama-3-8B at 16, 8 and 4 bits, where the weights fit."""
    rows = []
    for m in machines.values():
        bw = m.accelerators[0].memory_bandwidth_gbps
        if not bw:
            continue
        usable = usable_memory_gb(m, a)
        for label, bits in (("bf16", 16), ("8-bit weights", 8), ("4-bit weights", 4)):
            read_gb = LLAMA3_8B_READ_GB_PER_TOKEN_16BIT * bits / 16
            if not model_fits(8.03, bits, usable, a.kv_cache_gb):
                continue
            tps = roofline_decode_tokens_per_s(bw, read_gb)
            rows.append({
                "machine": m.id, "name": m.name, "vendor": m.vendor, "kind": "decode", "workload": "decode",
                "model": "llama-3-8b", "dtype": label, "precision": PRECISION_BITS_LABEL[bits],
                "engine": "roofline", "compile_mode": None, "batch": 1, "prompt_tokens": None, "gen_tokens": None,
                "provenance": "estimated", "source": "spec memory bandwidth", "source_url": None, "date": None,
                "n_runs": 0, "value": tps, "unit": "tokens/s", "spread": None, "tokens_per_s": tps,
                "avg_w": None, "power_covers": None, "power_provenance": None, "tokens_per_joule": None,
                "bytes_per_token": read_gb * 1e9, "effective_bw_gbps": bw, "peak_bw_gbps": bw,
                "roofline_efficiency": 1.0, "above_roofline": False,
                "basis": f"ceiling = {bw:,.0f} GB/s ÷ {read_gb:.2f} GB read per token (100% of spec bandwidth)",
                "flags": None,
            })
    return rows


PRECISION_BITS_LABEL = {v: k for k, v in PRECISION_BITS.items()}


def physics_flags(ds: store.DataSet) -> dict[tuple[str, int | None], list[Any]]:
    """The physics checks of `costperf validate`, keyed (record, index) to mark the report's rows."""
    return physics.flags_by_record(physics.check(ds))


def results_table(ds: store.DataSet, a: Assumptions,
                  flags: dict[tuple[str, int | None], list[Any]] | None = None) -> pd.DataFrame:
    """Measured, published and estimated figures, one row per machine, workload and setting;
    `flags` carries the physics checks' findings (flagged rows are shown, never dropped)."""
    if flags is None:
        flags = physics_flags(ds)
    rows = (_measured_rows(ds.runs, ds.machines, flags) + _published_rows(ds, flags)
            + _estimated_rows(ds.machines, a))
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    df["joules_per_token"] = [1.0 / v if v else None for v in df["tokens_per_joule"]]
    return df


# ---------------------------------------------------------------------------------------------
# The headline: one row per machine


STANDARD_LENGTH = {"decode": ("gen_tokens", 128), "prefill": ("prompt_tokens", 512)}
"""DESIGN.md's headline lengths (llama-bench's tg128 / pp512), so published figures line up."""


def _pick(rows: pd.DataFrame, precision: str) -> pd.Series | None:
    """Best provenance first; within it the standard length (pp512 / tg128) when there is one, then
    the fastest setting (the best way the platform allows)."""
    if rows.empty:
        return None
    if precision != "best":
        rows = rows[rows["precision"] == precision]
        if rows.empty:
            return None
    for prov in PROVENANCE_ORDER:
        tier = rows[rows["provenance"] == prov]
        if tier.empty:
            continue
        standard = tier[[_standard_length(row) for _, row in tier.iterrows()]]
        return (standard if not standard.empty else tier).sort_values("tokens_per_s", ascending=False).iloc[0]
    return None


def _standard_length(row: pd.Series) -> bool:
    column, length = STANDARD_LENGTH.get(row.get("kind"), (None, None))
    return column is not None and _given(row.get(column)) and int(row[column]) == length


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and value != ""


def setting_label(row: pd.Series) -> str:
    """'llama-3-8b · bf16 · torch reduce-overhead': what a figure was measured with."""
    engine = " ".join(str(row[k]) for k in ("engine", "compile_mode") if _given(row.get(k)))
    parts = [str(row[k]) for k in ("model", "dtype") if _given(row.get(k))] + ([engine] if engine else [])
    column, length = STANDARD_LENGTH.get(row.get("kind"), (None, None))
    if column is not None and row.get("provenance") != "estimated" and not _standard_length(row):
        # A figure at another length than pp512 / tg128 says so: it is not the like-for-like one.
        given = int(row[column]) if _given(row.get(column)) else None
        parts.append(f"{'tg' if row.get('kind') == 'decode' else 'pp'}{given if given is not None else ' length unknown'}")
    if _given(row.get("ranks")) and row["ranks"] > 1:
        parts.append(f"{int(row['ranks'])} ranks")
    return " · ".join(parts)


def cost_metrics(tps: float | None, prov: str | None, avg_w: float | None, power_label: str | None,
                 m: pd.Series, a: Assumptions, window_tpj: float | None = None) -> dict[str, Any]:
    """Tokens per dollar and per joule of one figure on one machine (measured power when the figure
    has it, else the machine's spec power, labelled estimated). `window_tpj` is the measured tokens
    per joule of the figure's own energy window, used whenever the power is that measurement."""
    if avg_w is not None and pd.notna(avg_w):
        watts, basis, wprov = float(avg_w), str(power_label or ""), prov
    elif pd.notna(m["spec_power_w"]):
        watts, basis, wprov = float(m["spec_power_w"]), str(m["spec_power_basis"]), "estimated"
    else:
        watts, basis, wprov = None, "", None
    price = float(m["price_usd"]) if pd.notna(m["price_usd"]) else None
    # The price is an input like the others: a measured throughput priced with a cited price is a
    # published figure, one priced with an estimated price an estimated one.
    price_prov = m["price_provenance"] if pd.notna(m["price_provenance"]) else None
    if m["price_kind"] == "cloud_hourly":
        tpd, tpd_prov = tokens_per_dollar_cloud(tps, price), weakest(prov, price_prov)
    elif watts is None:
        # No power figure at all: the price alone gives an upper bound, labelled as an estimate and
        # said so in tokens_per_dollar_note (electricity is not counted as 0 silently).
        tpd, tpd_prov = tokens_per_dollar_purchase(tps, price, None, a), "estimated"
    else:
        tpd, tpd_prov = tokens_per_dollar_purchase(tps, price, watts, a), weakest(prov, price_prov, wprov)
    measured_power = avg_w is not None and pd.notna(avg_w)
    tpj = window_tpj if measured_power and window_tpj is not None and pd.notna(window_tpj) \
        else tokens_per_joule(tps, watts)
    note = None
    if tpd is not None and watts is None and m["price_kind"] != "cloud_hourly":
        note = "upper bound: no power figure, so electricity is not counted"
    # The price and its date travel with the figure (from the same `current_price` observation), so
    # every page prints "price as of DATE" beside the tokens per dollar that used it.
    used = tpd is not None
    return {
        "watts": watts, "watts_basis": basis, "watts_provenance": wprov,
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


def priced(results: pd.DataFrame, machines: pd.DataFrame, a: Assumptions) -> pd.DataFrame:
    """Token-throughput rows of known machines with their tokens per dollar and per joule."""
    d = results[results["tokens_per_s"].notna() & results["machine"].isin(machines["machine"])].copy()
    by_id = machines.set_index("machine")
    extra = [cost_metrics(r.tokens_per_s, r.provenance, r.avg_w, r.power_covers,
                          group_machine(by_id.loc[r.machine], r.ranks, r.nodes), a, r.tokens_per_joule)
             for r in d.itertuples()]
    cols = ["watts", "watts_basis", "watts_provenance", "tokens_per_dollar", "tokens_per_dollar_provenance",
            "tokens_per_dollar_note", *PRICE_USED_COLUMNS, "tokens_per_joule", "tokens_per_joule_provenance"]
    extra_df = pd.DataFrame(extra, index=d.index, columns=cols)
    d = d.drop(columns=["tokens_per_joule"]).join(extra_df)
    d["setting"] = [setting_label(row) for _, row in d.iterrows()]
    return d


HEADLINE_COLUMNS = [
    "machine", "name", "vendor", "form", "decode_tok_s", "decode_provenance", "decode_setting", "decode_source",
    "prefill_tok_s", "prefill_provenance", "prefill_setting", "price_usd", "price_kind", "price_date",
    "watts", "watts_basis", "watts_provenance", "tokens_per_dollar", "tokens_per_dollar_provenance",
    "tokens_per_dollar_note", "price_as_of", "price_used_usd", "price_used_kind", "price_used_provider",
    "tokens_per_joule", "tokens_per_joule_provenance", "tok_s_per_usable_gb", "usable_gb",
    "usable_provenance", "usd_per_usable_gb",
    "largest_4bit_b", "largest_8bit_b", "largest_16bit_b", "decode_flags", "prefill_flags", "usable_flags",
]


def headline_table(results: pd.DataFrame, machines: pd.DataFrame, a: Assumptions) -> pd.DataFrame:
    """One row per machine: its 8B-class decode and prefill figures and what they cost."""
    rows = []
    llm = results[results["tokens_per_s"].notna() & results["machine"].notna()
                  & results["batch"].fillna(1).eq(1)   # the headline is single-stream (batch 1)
                  & results["ranks"].fillna(1).eq(1)]  # on one device (scaling has its own table)
    llm = eight_b_rows(llm)
    for _, m in machines.iterrows():
        mine = llm[llm["machine"] == m["machine"]]
        dec = _pick(mine[mine["kind"] == "decode"], a.headline_precision)
        pre = _pick(mine[mine["kind"] == "prefill"], a.headline_precision)
        tps = float(dec["tokens_per_s"]) if dec is not None else None
        costs = cost_metrics(tps, dec["provenance"] if dec is not None else None,
                             dec["avg_w"] if dec is not None else None,
                             dec["power_covers"] if dec is not None else None, m, a,
                             dec["tokens_per_joule"] if dec is not None else None)
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
        })
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


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
    price_as_of: Any = None  # tokens per dollar only: the date of the price it used
    flags: str | None = None  # the physics checks' findings on the figure behind it


WINNER_METRICS = [
    ("tokens_per_dollar", "tokens per dollar", "tokens/$", "tokens_per_dollar_provenance"),
    ("tokens_per_joule", "tokens per joule", "tokens/J", "tokens_per_joule_provenance"),
    ("tok_s_per_usable_gb", "tokens/s per usable GB", "tokens/s/GB", "decode_provenance"),
]


def winners(headline: pd.DataFrame) -> list[Winner]:
    """The top machine per metric, among machines whose throughput was measured or published
    when there are any: a spec-based ceiling assumes 100% of peak bandwidth and would beat every
    real measurement. The label is the metric's own (estimated when its power came from specs)."""
    out = []
    for col, label, unit, prov_col in WINNER_METRICS:
        w = Winner(metric=col, label=label, unit=unit)
        have = headline[headline[col].notna()]
        if not have.empty:
            solid = have[have["decode_provenance"].isin(["measured", "published"])]
            pool = solid if not solid.empty else have
            # a figure physics rules out (a violation) stays in the table, marked, but wins nothing
            # while any other machine has the metric
            sound = pool[~pool["decode_flags"].fillna("").str.contains("violation:")]
            pool = sound if not sound.empty else pool
            if solid.empty:
                w.note = "from spec-based ceilings only: nothing measured or published yet"
            top = pool.sort_values(col, ascending=False).iloc[0]
            w.machine, w.name, w.value = top["machine"], top["name"], float(top[col])
            w.provenance, w.setting = top[prov_col], top["decode_setting"]
            if col == "tokens_per_dollar":
                w.price_as_of = top["price_as_of"]
            found = [top[k] for k in ("decode_flags", "usable_flags" if col == "tok_s_per_usable_gb" else "")
                     if k and _given(top[k])]
            w.flags = "; ".join(found) or None
            if col == "tokens_per_dollar" and isinstance(top["tokens_per_dollar_note"], str):
                w.note = w.note or top["tokens_per_dollar_note"]
            uses_power = col == "tokens_per_joule" or (col == "tokens_per_dollar" and top["price_kind"] != "cloud_hourly")
            if uses_power and top["watts_provenance"] == "estimated":
                w.note = w.note or f"power from specs: {top['watts_basis']}"
        out.append(w)
    return out


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
                                     if e else None, group_m, a, window_tokens_per_joule(tps, e))
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


def status_table(ds: store.DataSet) -> pd.DataFrame:
    """Every measured result's outcome (ok, oom, unsupported ...) per machine and backend."""
    rows = [{"machine": run.machine, "backend": run.environment.backend, "workload": res.workload,
             "status": res.status} for run in ds.runs for res in run.results]
    return pd.DataFrame(rows, columns=["machine", "backend", "workload", "status"])


def build(ds: store.DataSet, a: Assumptions) -> Report:
    flags = physics_flags(ds)
    machines = machines_table(ds.machines, a, flags)
    machines = prefer_measured(machines, ds.runs, ds.machines, a)  # a Mac's own measured GPU limit
    results = results_table(ds, a, flags)
    headline = headline_table(results, machines, a)
    counts = {"machines": len(ds.machines), "runs": len(ds.runs), "published": len(ds.published),
              "flags_violation": sum(f.severity == "violation" for fs in flags.values() for f in fs),
              "flags_review": sum(f.severity == "review" for fs in flags.values() for f in fs)}
    return Report(assumptions=a, counts=counts, problems=[p.shown(ds.root.parent) for p in ds.problems], machines=machines, results=results, headline=headline,
                  winners=winners(headline), fits=fit_grid(machines, a), statuses=status_table(ds),
                  seed=[p for p in ds.published if p.role == "seed_article"],
                  prices=price_history_table(ds.machines), cross_checks=cross_check_table(ds),
                  scaling=scaling_table(ds, machines, a, flags))


def load(root: Path, a: Assumptions) -> Report:
    """Load and validate the data folder; files with problems are left out (the problems are
    listed on the methodology page), so one bad file never blanks the report."""
    return build(store.load(root / a.data_dir), a)
