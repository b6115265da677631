"""What moved between benchmark runs, beyond noise: the comparison behind `costperf review` and the
report's review page.

Pure functions over a loaded `DataSet`; nothing here reads files, prints or imports torch.

A *series* is one machine x workload x parameters (model, dtype, batch, compile mode ...), taken
from the results with status ok. A *track* is the runs of one machine made by one tool with one
suite (a quick run is never compared with a standard one). For the newest run of each track, each
series is compared with

- the previous point of the series, and
- the median of the last `window` points before it (the baseline, robust to one odd run).

The verdict comes from the baseline comparison, so a single odd earlier run neither hides nor
fakes a change; the comparison with the previous run is shown beside it. A change counts only
beyond the noise: |change| > max(k x robust relative spread, floor), with k = 3 and floor = 3 %.
The robust relative spread of a run is 1.4826 x MAD / median of its repeats (1.4826 scales a
MAD to a standard deviation for normal noise). The reference's spread is the median spread of its
runs or, with at least 3 runs, the spread of their medians around each other if that is larger
(run-to-run variation). Both sides of a comparison are noisy, so the spread of the change is
sqrt(spread_new^2 + spread_reference^2).

Direction: for throughputs (tokens/s, GB/s, TFLOP/s, samples/s) higher is better; for times
(unit 's') lower is better.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from collectors.records import Result, RunRecord, WorkloadParams
from collectors.store import DataSet

MAD_TO_SIGMA = 1.4826
"""MAD x 1.4826 estimates the standard deviation of normally distributed noise."""

from collectors.review.findings import (
    DEFAULT_FLOOR,
    DEFAULT_K,
    FAILED_STATUSES,
    Comparison,
    PhysicsFlag,
    Point,
    Review,
    SeriesReview,
    Settings,
    SoftwareChange,
    Staleness,
    TrackReview,
    Verdict,
    WorkloadChange,
)

LOWER_IS_BETTER_UNITS = frozenset({"s"})

SOFTWARE_FIELDS: tuple[tuple[str, str], ...] = (
    ("torch", "environment.torch"),
    ("driver", "environment.driver"),
    ("cuda", "environment.cuda"),
    ("macos", "environment.macos_version"),
    ("costperf commit", "git_commit"),
)
"""Software whose change between two runs can explain a change in the figures: (label, path)."""

def series_key(result: Result) -> str:
    """Identity of a series within a machine: workload plus every parameter that was set."""
    params = result.params.model_dump(mode="json", exclude_none=True)
    if not params.get("extra"):
        params.pop("extra", None)
    return json.dumps({"workload": result.workload, "params": params}, sort_keys=True)


def params_label(params: WorkloadParams) -> str:
    """Short human label of the parameters, e.g. 'llama-3-8b bf16 b1 p512 g128 reduce-overhead'."""
    parts: list[str] = []
    if params.model:
        parts.append(params.model)
    if params.dtype:
        parts.append(params.dtype)
    if params.batch is not None:
        parts.append(f"b{params.batch}")
    if params.prompt_tokens is not None:
        parts.append(f"p{params.prompt_tokens}")
    if params.gen_tokens is not None:
        parts.append(f"g{params.gen_tokens}")
    if params.seq_len is not None:
        parts.append(f"T{params.seq_len}")
    if params.compile_mode:
        parts.append(params.compile_mode)
    if params.engine and params.engine != "torch":
        parts.append(params.engine)
    parts += [f"{k}={v}" for k, v in sorted(params.extra.items())]
    return " ".join(parts) or "-"


def higher_is_better(unit: str) -> bool:
    return unit not in LOWER_IS_BETTER_UNITS


def point_of(run: RunRecord, result: Result) -> Point:
    stats = result.throughput
    assert stats is not None
    return Point(run=run.stamp, started_at=run.started_at, median=stats.median,
                 rel_sigma=MAD_TO_SIGMA * stats.mad / stats.median, repeats=len(stats.samples))


def _verdict(change: float, noise: float, higher_better: bool) -> Verdict:
    if abs(change) <= noise:
        return "noise"
    return "improvement" if (change > 0) == higher_better else "regression"


def compare(new: Point, refs: Sequence[Point], higher_better: bool, k: float = DEFAULT_K,
            floor: float = DEFAULT_FLOOR) -> Comparison:
    """Compare a new point with the median of `refs` (one or more earlier points)."""
    if not refs:
        raise ValueError("compare needs at least one reference point")
    medians = [p.median for p in refs]
    reference = statistics.median(medians)
    ref_spread = statistics.median(p.rel_sigma for p in refs)
    if len(refs) >= 3:
        # Run-to-run variation is often larger than the repeats inside one run show.
        between = MAD_TO_SIGMA * statistics.median(abs(m - reference) for m in medians) / reference
        ref_spread = max(ref_spread, between)
    # Both figures are noisy: the spread of their difference adds in quadrature.
    spread = math.hypot(new.rel_sigma, ref_spread)
    noise = max(k * spread, floor)
    change = new.median / reference - 1.0
    return Comparison(reference=reference, change=change, noise=noise,
                      verdict=_verdict(change, noise, higher_better), runs=len(refs))


# ---------------------------------------------------------------------------------------------
# Reviewing


def _get(run: RunRecord, path: str) -> str | None:
    value: Any = run
    for part in path.split("."):
        value = getattr(value, part, None)
    return None if value is None else str(value)


def software_changes(before: RunRecord, after: RunRecord) -> list[SoftwareChange]:
    out = []
    for label, path in SOFTWARE_FIELDS:
        a, b = _get(before, path), _get(after, path)
        if a != b:
            out.append(SoftwareChange(label, a, b))
    return out


def _ok_results(run: RunRecord) -> dict[str, Result]:
    out: dict[str, Result] = {}
    for r in run.results:
        if r.status == "ok" and r.throughput is not None:
            out.setdefault(series_key(r), r)
    return out


def _all_results(run: RunRecord) -> dict[str, Result]:
    out: dict[str, Result] = {}
    for r in run.results:
        out.setdefault(series_key(r), r)
    return out


def tracks_of(runs: Iterable[RunRecord]) -> dict[tuple[str, str, str | None], list[RunRecord]]:
    """Complete runs grouped by machine, tool and suite, oldest first."""
    out: dict[tuple[str, str, str | None], list[RunRecord]] = {}
    for run in sorted(runs, key=lambda r: r.started_at):
        if run.status == "complete":
            out.setdefault((run.machine, run.tool, run.suite), []).append(run)
    return out


def series_points(runs: Sequence[RunRecord]) -> dict[str, list[tuple[RunRecord, Result]]]:
    """Each series' (run, result) pairs, oldest first, from results with status ok."""
    out: dict[str, list[tuple[RunRecord, Result]]] = {}
    for run in runs:
        for key, result in _ok_results(run).items():
            out.setdefault(key, []).append((run, result))
    return out


def review_track(machine: str, tool: str, suite: str | None, runs: Sequence[RunRecord],
                 settings: Settings) -> TrackReview:
    """Review the newest run of one track (runs oldest first, all complete)."""
    since = settings.since
    newest = runs[-1] if runs else None
    track = TrackReview(machine=machine, tool=tool, suite=suite, runs=len(runs),
                        newest=newest.stamp if newest else None,
                        newest_at=newest.started_at if newest else None, previous=None)
    if newest is None:
        return track
    if not _ok_results(newest):
        # A run with no figure at all fails, whether or not there is anything to compare it with.
        track.failed = [WorkloadChange(r.workload, params_label(r.params), key, r.status, r.message)
                        for key, r in _all_results(newest).items() if r.status in FAILED_STATUSES]
    if since is not None and newest.started_at < since:
        track.note = f"no run since {since.date().isoformat()}"
        return track
    earlier = [r for r in runs[:-1] if since is None or r.started_at < since]
    if not earlier:
        track.note = "first run: nothing to compare with" if since is None else \
            f"no run before {since.date().isoformat()} to compare with"
        return track
    previous = earlier[-1]
    track.previous = previous.stamp
    track.software = software_changes(previous, newest)

    before, after = _ok_results(previous), _ok_results(newest)
    everything_after = _all_results(newest)
    for key in sorted(after.keys() - before.keys()):
        r = after[key]
        track.appeared.append(WorkloadChange(r.workload, params_label(r.params), key, "ok"))
    for key in sorted(before.keys() - after.keys()):
        r = before[key]
        now = everything_after.get(key)
        change = WorkloadChange(r.workload, params_label(r.params), key, now.status if now else "absent",
                                now.message if now else None)
        track.disappeared.append(change)
        if change.status in FAILED_STATUSES and change not in track.failed:
            track.failed.append(change)

    history = series_points(earlier)
    for key, result in after.items():
        past = history.get(key)
        if not past:
            continue
        new_point = point_of(newest, result)
        points = [point_of(run, res) for run, res in past]
        prev = points[-1]
        better = higher_is_better(result.throughput.unit)  # type: ignore[union-attr]
        track.series.append(SeriesReview(
            machine=machine, workload=result.workload, params=params_label(result.params), key=key,
            unit=result.throughput.unit,  # type: ignore[union-attr]
            higher_is_better=better, newest=new_point, previous=prev,
            vs_previous=compare(new_point, [prev], better, settings.k, settings.floor),
            vs_baseline=compare(new_point, points[-settings.window:], better, settings.k, settings.floor),
        ))
    track.series.sort(key=lambda s: (s.workload, s.params))
    return track


def staleness(ds: DataSet, now: dt.datetime, stale_days: int,
              machines: Iterable[str] | None = None) -> list[Staleness]:
    """Days since each machine's newest run of any kind; None for machines never run."""
    wanted = set(machines) if machines is not None else set(ds.machines)
    out = []
    for mid in sorted(wanted):
        m = ds.machines.get(mid)
        runs = [r for r in ds.runs if r.machine == mid]
        last = max((r.started_at for r in runs), default=None)
        days = (now - last).total_seconds() / 86400 if last else None
        out.append(Staleness(machine=mid, name=m.name if m else mid, runner_label=m.runner_label if m else None,
                             last_run=last, days=days, stale=days is not None and days > stale_days))
    return out


def physics_flags(ds: DataSet, runs: Iterable[RunRecord],
                  machines: Iterable[str]) -> tuple[bool, list[PhysicsFlag]]:
    """collectors.physics flags (figures beyond physical limits) on the reviewed newest runs and
    machine files. Returns (checked, flags): checked is False where that module is missing."""
    try:
        from collectors import physics  # noqa: PLC0415 - written by another part of costperf
    except ImportError:
        return False, []
    newest = {f"{r.machine}/{r.stamp}" for r in runs}
    wanted = set(machines)
    out = []
    for f in physics.check(ds):
        machine, _, run = f.record.partition("/")
        if f.record in newest or (not run and f.record in wanted):
            out.append(PhysicsFlag(machine=machine, run=run or None, severity=f.severity, check=f.check,
                                   field=f.field, message=f.message))
    return True, out


def review(ds: DataSet, settings: Settings | None = None, machines: Iterable[str] | None = None,
           now: dt.datetime | None = None) -> Review:
    """Review every track of the chosen machines (all by default) and their staleness."""
    settings = settings or Settings()
    now = now or dt.datetime.now(dt.timezone.utc)
    wanted = list(machines) if machines is not None else sorted(ds.machines)
    runs = [r for r in ds.runs if r.machine in set(wanted)]
    tracks = [review_track(m, tool, suite, rs, settings)
              for (m, tool, suite), rs in sorted(tracks_of(runs).items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                           kv[0][2] or ""))]
    newest_runs = [rs[-1] for rs in tracks_of(runs).values()]
    checked, flags = physics_flags(ds, newest_runs, wanted)
    return Review(settings=settings, generated_at=now, tracks=tracks,
                  staleness=staleness(ds, now, settings.stale_days, wanted), physics=flags,
                  physics_checked=checked)


# ---------------------------------------------------------------------------------------------
# History, for the report's timelines


def history(ds: DataSet, settings: Settings | None = None,
            machines: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per run of each series: its figure, the baseline before it, the noise band around
    that baseline and the verdict that point got (the same rule as the review of a newest run)."""
    settings = settings or Settings()
    wanted = set(machines) if machines is not None else set(ds.machines)
    rows: list[dict[str, Any]] = []
    for (machine, tool, suite), runs in tracks_of(r for r in ds.runs if r.machine in wanted).items():
        for key, pairs in series_points(runs).items():
            points = [point_of(run, res) for run, res in pairs]
            first = pairs[0][1]
            unit = first.throughput.unit  # type: ignore[union-attr]
            better = higher_is_better(unit)
            for i, (p, (run, _)) in enumerate(zip(points, pairs)):
                refs = points[max(0, i - settings.window):i]
                cmp = compare(p, refs, better, settings.k, settings.floor) if refs else None
                changes = software_changes(pairs[i - 1][0], run) if i else []
                rows.append({
                    "machine": machine, "tool": tool, "suite": suite, "workload": first.workload,
                    "params": params_label(first.params), "key": key, "unit": unit,
                    "higher_is_better": better, "run": p.run, "started_at": p.started_at,
                    "value": p.median, "rel_sigma": p.rel_sigma,
                    "low": p.median * (1 - settings.k * p.rel_sigma),
                    "high": p.median * (1 + settings.k * p.rel_sigma),
                    "baseline": cmp.reference if cmp else None,
                    "band_low": cmp.reference * (1 - cmp.noise) if cmp else None,
                    "band_high": cmp.reference * (1 + cmp.noise) if cmp else None,
                    "change": cmp.change if cmp else None,
                    "verdict": cmp.verdict if cmp else "first",
                    "software": "; ".join(f"{c.what} {c.before} → {c.after}" for c in changes),
                })
    rows.sort(key=lambda r: (r["machine"], r["workload"], r["params"], r["started_at"]))
    return rows
