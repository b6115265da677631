"""Rank 0 turns every rank's figures into one Result (no torch here: plain data in, records out).

Aggregate throughput: each timed repeat i gives one sample, the work the whole group did in that
repeat divided by the slowest rank's time for it (the group is as fast as its slowest member);
all-reduce instead averages the ranks' times, as nccl-tests does. Energy is summed over the
ranks' meters: one per GPU for NVML; one per host for meters that see the whole host (RAPL,
Apple SoC), counted once, at the host's lowest participating rank.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collectors.records import Distributed, Energy, RankFigure, Result, Stats, WorkloadParams

PER_DEVICE_COVERS = {"gpu_board"}


@dataclass(frozen=True)
class Scale:
    """The distributed setting of one result."""

    world_size: int
    launched_world_size: int
    nodes: int
    nproc_per_node: int
    backend: str
    interconnect: str
    interconnect_detail: str | None
    staged_through_cpu: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aggregate_samples(payloads: list[dict[str, Any]], work_per_step: float, how: str = "slowest") -> list[float]:
    n = min(len(p["seconds"]) for p in payloads)
    if n == 0:
        raise ValueError("no timed repeats")
    lengths = {len(p["seconds"]) for p in payloads}
    if len(lengths) != 1:
        raise ValueError(f"ranks timed different repeat counts {sorted(lengths)}: the figures do not line up")
    out = []
    for i in range(n):
        times = [p["seconds"][i] for p in payloads]
        t = max(times) if how == "slowest" else statistics.fmean(times)
        out.append(work_per_step / t)
    return out


def group_energy(payloads: list[dict[str, Any]], tokens: float | None) -> tuple[Energy | None, str | None, dict[int, float]]:
    """Summed energy over the ranks' windows, the reason when there is none, and what each rank counted."""
    counted: dict[int, float] = {}
    seen_hosts: set[Any] = set()
    readings = []
    for p in sorted(payloads, key=lambda p: p["rank"]):
        if p.get("joules") is None:
            return None, f"rank {p['rank']}: {p.get('meter_reason') or 'its meter read nothing'}", {}
        if p["covers"] not in PER_DEVICE_COVERS:
            if p["node_rank"] in seen_hosts:
                continue  # a host-wide meter: counted once per host
            seen_hosts.add(p["node_rank"])
        counted[p["rank"]] = p["joules"]
        readings.append(p)
    methods = {p["method"] for p in readings}
    covers = {p["covers"] for p in readings}
    if len(methods) != 1 or len(covers) != 1:
        return None, f"ranks used different meters ({sorted(methods)}, {sorted(covers)}): not summed", {}
    joules = sum(counted.values())
    window = max(p["window_s"] for p in readings)
    if joules <= 0:
        return None, f"the meters read {joules:.3f} J over {window:.3f} s: window shorter than their update period", {}
    periods = [p["update_period_s"] for p in readings if p.get("update_period_s")]
    period = max(periods) if periods else None
    note = None
    if period and window < 10 * period:
        note = f"window {window:.2f} s is under 10 meter updates ({period:.3f} s each)"
    provenance = "estimated" if readings[0]["method"] == "estimate" else "measured"
    energy = Energy(joules=joules, joules_above_idle=None, avg_w=joules / window, window_s=window,
                    method=readings[0]["method"], covers=readings[0]["covers"], update_period_s=period,
                    tokens=tokens, provenance=provenance)
    return energy, note, counted


def _figure(p: dict[str, Any], value: float | None, energy_j: float | None, message: str | None = None) -> RankFigure:
    return RankFigure(rank=p["rank"], local_rank=p["local_rank"], node_rank=p["node_rank"], host=p.get("host"),
                      device=p["device"], value=value, tokens=p.get("tokens"), window_s=p.get("window_s"),
                      peak_memory_gb=p.get("peak_memory_gb"), energy_j=energy_j, message=message)


def _distributed(scale: Scale, figures: list[RankFigure], tokens_total: int | None) -> Distributed:
    return Distributed(world_size=scale.world_size, launched_world_size=scale.launched_world_size,
                       nodes=scale.nodes, nproc_per_node=scale.nproc_per_node, backend=scale.backend,  # type: ignore[arg-type]
                       interconnect=scale.interconnect, interconnect_detail=scale.interconnect_detail,  # type: ignore[arg-type]
                       staged_through_cpu=scale.staged_through_cpu, tokens_total=tokens_total, per_rank=figures)


def ok_result(workload: str, params: WorkloadParams, unit: str, payloads: list[dict[str, Any]], scale: Scale,
              started: dt.datetime, work_per_step: float, rank_value: Callable[[dict[str, Any]], float],
              how: str = "slowest", tokens_total: int | None = None, outputs: dict[str, Any] | None = None,
              **extra: Any) -> Result:
    """The group's Result from the participating ranks' payloads."""
    samples = aggregate_samples(payloads, work_per_step, how)
    energy, note, counted = group_energy(payloads, float(tokens_total) if tokens_total else None)
    figures = [_figure(p, rank_value(p), counted.get(p["rank"])) for p in sorted(payloads, key=lambda p: p["rank"])]
    peaks = [p["peak_memory_gb"] for p in payloads if p.get("peak_memory_gb")]
    return Result(
        workload=workload, params=params, status="ok", throughput=Stats.of(samples, unit),
        peak_memory_gb=max(peaks) if peaks else None, energy=energy, energy_note=note, started_at=started,
        duration_s=max((_now() - started).total_seconds(), 1e-6),
        compile_s=max(p["compile_s"] for p in payloads), outputs=outputs or {},
        distributed=_distributed(scale, figures, tokens_total), **extra,
    )


def training_result(workload: str, params: WorkloadParams, payloads: list[dict[str, Any]], scale: Scale,
                    started: dt.datetime, ranks: int, tokens_per_step: int, flops_per_token: float,
                    outputs: dict[str, Any] | None = None) -> Result:
    """A parallel training step's Result: every one of `ranks` ranks trains `tokens_per_step` tokens a
    step, so the group trains `ranks` times that, and each rank's figure is its own steps'."""
    return ok_result(
        workload, params, "tokens/s", payloads, scale, started,
        work_per_step=float(tokens_per_step * ranks),
        rank_value=lambda p: statistics.median([tokens_per_step / s for s in p["seconds"]]),
        tokens_total=sum(p["tokens"] for p in payloads), flops_per_token=flops_per_token,
        outputs={"steps": len(payloads[0]["seconds"]), "tokens_per_step_per_rank": tokens_per_step,
                 **(outputs or {})},
    )


def error_result(workload: str, params: WorkloadParams, message: str, rank_infos: list[dict[str, Any]],
                 scale: Scale, started: dt.datetime, rank_messages: dict[int, str] | None = None) -> Result:
    """A failed distributed result: the message, the ranks that took part, no figure."""
    rank_messages = rank_messages or {}
    figures = [_figure({**info, "tokens": None, "window_s": None, "peak_memory_gb": None}, None, None,
                       rank_messages.get(info["rank"])) for info in rank_infos[:scale.world_size]]
    return Result(workload=workload, params=params, status="error", message=message[:4000], started_at=started,
                  duration_s=max((_now() - started).total_seconds(), 1e-6),
                  distributed=_distributed(scale, figures, None))
