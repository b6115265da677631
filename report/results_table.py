"""The results table: measured (costperf run files) and published (cited) figures, one tidy row per
machine, workload and setting, with tokens per joule, the roofline and MFU; the cross-check of
costperf's own measurements against published figures at the same setting; every result's outcome."""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from collectors import physics, store
from collectors.records import Clocks, Machine, RunRecord
from report import settings as S
from report.assumptions import Assumptions
from report.classify import guess_vendor, precision_class, products_dtype, workload_kind
from report.formulas import (effective_bandwidth_gbps, matmul_share, model_flops_utilisation, model_tflops,
                             roofline_efficiency, tokens_per_joule, window_tokens_per_joule)
from report.physics_flags import Flags, flag_text, physics_flags

POWER_COVERS_LABEL = {
    "gpu_board": "GPU board (NVML)",
    "soc": "SoC package (Apple)",
    "cpu_package": "CPU package (RAPL)",
    "dram": "DRAM",
    "cpu_package_dram": "CPU package + DRAM (RAPL)",
    "wall": "wall",
}


RESULT_COLUMNS = [
    "machine", "name", "vendor", "kind", "workload", "model", "dtype", "precision", "engine",
    "compile_mode", "tuning", "extra", "batch", "prompt_tokens", "gen_tokens", "provenance", "source", "source_url",
    "date", "n_runs", "value", "unit", "spread", "tokens_per_s", "avg_w", "power_covers", "power_key",
    "power_provenance",
    "tokens_per_joule", "joules_per_token", "bytes_per_token", "effective_bw_gbps", "peak_bw_gbps",
    "roofline_efficiency", "above_roofline", "mfu", "model_tflops", "matmul_tflops", "matmul_share", "basis",
    "flags", "ranks", "nodes", "hardware",
]


def _measured_rows(runs: Iterable[RunRecord], machines: dict[str, Machine],
                   flags: Flags) -> list[dict[str, Any]]:
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
                "model_tflops": model_tflops(tps, res.flops_per_token) if res.distributed is None else None,
                "basis": "median of timed repeats" + (f"; energy {e.method} over {e.window_s:.0f} s" if e else "")
                + (f"; {clock_text(e.clocks)}" if e and e.clocks else ""),
                "flags": flag_text(flags, f"{run.machine}/{run.stamp}", index),
                "ranks": res.distributed.world_size if res.distributed else None,
                "nodes": res.distributed.nodes if res.distributed else None,
            }
    for key, row in latest.items():
        row["n_runs"] = counts[key]
    return list(latest.values())


def clock_text(c: Clocks) -> str:
    """The GPU's clock over a window and what held it, in words."""
    text = f"SM clock {c.sm_mhz_median:,.0f} of {c.sm_mhz_max:,.0f} MHz ({c.samples} sample{'s' * (c.samples != 1)})"
    of = "of the window" if c.shares_from == "counters" else "of the samples"
    held = []
    if c.power_limited_share > 0:
        limit = f" {c.power_limit_w:,.0f} W" if c.power_limit_w else ""
        held.append(f"held by its{limit} power limit in {c.power_limited_share:.0%} {of}")
    if c.thermal_limited_share > 0:
        held.append(f"by heat in {c.thermal_limited_share:.0%}")
    return f"{text}, {' and '.join(held)}" if held else f"{text}, not held by power or heat"


def _published_rows(ds: store.DataSet, flags: Flags) -> list[dict[str, Any]]:
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
                "flags": flag_text(flags, ps.id, index),
            })
    return rows


def results_table(ds: store.DataSet, a: Assumptions,
                  flags: Flags | None = None) -> pd.DataFrame:
    """Measured and published figures, one row per machine, workload and setting; `flags` carries
    the physics checks' findings (flagged rows are shown, never dropped). Spec-based ceilings are not
    results: they are in `report.ceilings`."""
    if flags is None:
        flags = physics_flags(ds)
    rows = _measured_rows(ds.runs, ds.machines, flags) + _published_rows(ds, flags)
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    df["joules_per_token"] = [1.0 / v if v else None for v in df["tokens_per_joule"]]
    return _beside_measured_matmul(df)


def _beside_measured_matmul(df: pd.DataFrame) -> pd.DataFrame:
    """Each measured training figure's model TFLOP/s over the fastest dense matrix multiply measured
    on the same machine in the precision its products ran in (bf16 for bf16 autocast): the compute
    counterpart of decode's share of the measured copy bandwidth."""
    mm = df[(df["provenance"] == "measured") & (df["workload"] == "matmul") & (df["unit"] == "TFLOP/s")]
    best = mm.groupby(["machine", "dtype"])["value"].max().to_dict()
    ceiling = [best.get((m, products_dtype(d))) if not pd.isna(t) else None
               for m, d, t in zip(df["machine"], df["dtype"], df["model_tflops"], strict=True)]
    df["matmul_tflops"] = ceiling
    df["matmul_share"] = [matmul_share(t, c) if not pd.isna(t) else None
                          for t, c in zip(df["model_tflops"], ceiling, strict=True)]
    return df


def status_table(ds: store.DataSet) -> pd.DataFrame:
    """Every measured result's outcome (ok, oom, unsupported ...) per machine and backend."""
    rows = [{"machine": run.machine, "backend": run.environment.backend, "workload": res.workload,
             "status": res.status} for run in ds.runs for res in run.results]
    return pd.DataFrame(rows, columns=["machine", "backend", "workload", "status"])


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
