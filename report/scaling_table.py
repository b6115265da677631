"""Scaling over ranks (torchrun workloads): each group's tokens/s, its scaling efficiency against one
rank, and what the whole group costs per token."""

from __future__ import annotations

from typing import Any

import pandas as pd

from collectors import store
from collectors.records import RunRecord
from report.assumptions import Assumptions
from report.costs import PRICE_USED_COLUMNS, cost_metrics, group_machine
from report.formulas import window_tokens_per_joule
from report.physics_flags import Flags, flag_text
from report.present import short_name
from report.results_table import POWER_COVERS_LABEL

SCALING_COLUMNS = [
    "machine", "name", "vendor", "workload", "model", "dtype", "batch", "seq_len", "compile_mode", "world_size",
    "nodes", "backend", "interconnect", "staged_through_cpu", "tokens_per_s", "ideal_tokens_per_s", "efficiency",
    "group_share", "group_price_usd", "watts", "watts_basis", "watts_provenance", "tokens_per_dollar",
    "tokens_per_dollar_provenance", "tokens_per_dollar_note", *PRICE_USED_COLUMNS, "tokens_per_joule",
    "tokens_per_joule_provenance", "run", "series", "flags",
]


def scaling_table(ds: store.DataSet, machines: pd.DataFrame, a: Assumptions,
                  flags: Flags | None = None) -> pd.DataFrame:
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
                # the machine named as the table beside the chart names it
                "series": " · ".join(str(x) for x in (short_name(m["name"]) if known else machine_id, workload, p.model,
                                                       p.dtype) if x),
                "flags": flag_text(flags, f"{run.machine}/{run.stamp}", index),
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
