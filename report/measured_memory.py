"""Usable memory of a Mac as measured: the GPU working-set limit its own run recorded.

A machine file states Apple's usable memory by rule (`macos_default`: a fraction of RAM, or
`macos_raised`: the limit the owner set). A `costperf run` on that Mac records what macOS actually
reported (Metal's recommendedMaxWorkingSetSize, Environment.gpu_working_set_gb) and whether the
iogpu wired limit was raised. Where such a run exists and agrees with the file's rule (a default
limit for macos_default, a raised one for macos_raised), the report uses the measured figure, the
newest run's, and labels it measured; everything derived from usable memory follows it.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from collectors.records import Machine, RunRecord
from report.assumptions import Assumptions
from report.formulas import largest_model_b

BITS = {"largest_4bit_b": 4, "largest_8bit_b": 8, "largest_16bit_b": 16}


def measured_limits(runs: Iterable[RunRecord], machines: dict[str, Machine]) -> dict[str, tuple[float, RunRecord]]:
    """Per machine id: the newest measured GPU working-set limit (GB) that matches its file's rule."""
    out: dict[str, tuple[float, RunRecord]] = {}
    for run in sorted(runs, key=lambda r: r.started_at):
        env = run.environment
        m = machines.get(run.machine)
        if m is None or env.gpu_working_set_gb is None:
            continue
        raised = bool(env.gpu_wired_limit_mb)
        if (m.usable_memory.rule, raised) in (("macos_default", False), ("macos_raised", True)):
            out[run.machine] = (env.gpu_working_set_gb, run)
    return out


def prefer_measured(machines_df: pd.DataFrame, runs: Iterable[RunRecord], machines: dict[str, Machine],
                    a: Assumptions) -> pd.DataFrame:
    """The machines table with a measured usable memory where a run of that Mac recorded one."""
    limits = measured_limits(runs, machines)
    if not limits or machines_df.empty:
        return machines_df
    df = machines_df.copy()
    for i, row in df.iterrows():
        if row["machine"] not in limits:
            continue
        gb, run = limits[row["machine"]]
        old = row["usable_gb"]
        df.at[i, "usable_gb"] = gb
        df.at[i, "usable_rule"] = (f"measured: recommendedMaxWorkingSetSize, run {run.stamp}"
                                   + (f" (macOS {run.environment.macos_version})" if run.environment.macos_version
                                      else ""))
        df.at[i, "usable_provenance"] = "measured"
        df.at[i, "usable_short"] = "measured macOS limit"
        if pd.notna(row.get("usd_per_usable_gb")) and old:
            df.at[i, "usd_per_usable_gb"] = row["usd_per_usable_gb"] * old / gb
        for col, bits in BITS.items():
            if col in df.columns:
                df.at[i, col] = largest_model_b(gb, bits, a.kv_cache_gb)
    return df
