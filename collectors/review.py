"""What moved between benchmark runs, beyond noise: the logic behind `costperf review` and the
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
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from collectors.records import Result, RunRecord, WorkloadParams
from collectors.store import DataSet

MAD_TO_SIGMA = 1.4826
"""MAD x 1.4826 estimates the standard deviation of normally distributed noise."""

DEFAULT_WINDOW = 5
DEFAULT_STALE_DAYS = 30
DEFAULT_K = 3.0
DEFAULT_FLOOR = 0.03

LOWER_IS_BETTER_UNITS = frozenset({"s"})

SOFTWARE_FIELDS: tuple[tuple[str, str], ...] = (
    ("torch", "environment.torch"),
    ("driver", "environment.driver"),
    ("cuda", "environment.cuda"),
    ("macos", "environment.macos_version"),
    ("costperf commit", "git_commit"),
)
"""Software whose change between two runs can explain a change in the figures: (label, path)."""

Verdict = Literal["regression", "improvement", "noise"]


# ---------------------------------------------------------------------------------------------
# Settings and points


@dataclass(frozen=True)
class Settings:
    """How strict the review is; every value is printed with the review."""

    window: int = DEFAULT_WINDOW
    stale_days: int = DEFAULT_STALE_DAYS
    k: float = DEFAULT_K
    floor: float = DEFAULT_FLOOR
    since: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1 run; got {self.window}")
        if self.stale_days < 0:
            raise ValueError(f"stale_days must be 0 or more; got {self.stale_days}")
        if self.k <= 0 or self.floor < 0:
            raise ValueError("k must be positive and floor non-negative")


@dataclass(frozen=True)
class Point:
    """One run's figure for one series."""

    run: str
    """Run stamp (the file name without .json)."""
    started_at: dt.datetime
    median: float
    rel_sigma: float
    """Robust relative spread of the repeats: 1.4826 x MAD / median."""
    repeats: int


@dataclass(frozen=True)
class Comparison:
    """A new figure against a reference (the previous run, or the baseline median)."""

    reference: float
    change: float
    """new / reference - 1."""
    noise: float
    """The relative change that counts: max(k x spread, floor)."""
    verdict: Verdict
    runs: int
    """How many runs the reference is made of."""


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
# Results of a review


@dataclass
class SeriesReview:
    """The newest figure of one series against its previous run and its baseline."""

    machine: str
    workload: str
    params: str
    """Short label of the parameters (see `params_label`)."""
    key: str
    unit: str
    higher_is_better: bool
    newest: Point
    previous: Point | None
    vs_previous: Comparison | None
    vs_baseline: Comparison | None

    @property
    def verdict(self) -> Verdict | Literal["first"]:
        return self.vs_baseline.verdict if self.vs_baseline else "first"


@dataclass(frozen=True)
class SoftwareChange:
    what: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class WorkloadChange:
    """A series present (status ok) in one of the two compared runs and not in the other."""

    workload: str
    params: str
    key: str
    status: str
    """Its status in the newer run: ok (appeared), or oom/error/... or 'absent' (disappeared)."""
    message: str | None = None


@dataclass
class TrackReview:
    """The newest run of one machine / tool / suite against the runs before it."""

    machine: str
    tool: str
    suite: str | None
    runs: int
    newest: str | None
    newest_at: dt.datetime | None
    previous: str | None
    """The run compared with: the one before the newest, or with --since the last one before it."""
    series: list[SeriesReview] = field(default_factory=list)
    software: list[SoftwareChange] = field(default_factory=list)
    appeared: list[WorkloadChange] = field(default_factory=list)
    disappeared: list[WorkloadChange] = field(default_factory=list)
    note: str | None = None

    def flagged(self, verdict: Verdict) -> list[SeriesReview]:
        return [s for s in self.series if s.verdict == verdict]


@dataclass(frozen=True)
class Staleness:
    machine: str
    name: str
    runner_label: str | None
    last_run: dt.datetime | None
    days: float | None
    stale: bool


@dataclass(frozen=True)
class PhysicsFlag:
    """A figure of a reviewed run (or machine file) that collectors.physics questions."""

    machine: str
    run: str | None
    severity: str
    """violation: beyond a physical limit (a data error); review: odd enough for a person to look."""
    check: str
    field: str
    message: str


@dataclass
class Review:
    settings: Settings
    generated_at: dt.datetime
    tracks: list[TrackReview]
    staleness: list[Staleness]
    physics: list[PhysicsFlag] = field(default_factory=list)
    physics_checked: bool = False

    @property
    def regressions(self) -> list[SeriesReview]:
        return [s for t in self.tracks for s in t.flagged("regression")]

    @property
    def improvements(self) -> list[SeriesReview]:
        return [s for t in self.tracks for s in t.flagged("improvement")]

    @property
    def stale(self) -> list[Staleness]:
        return [s for s in self.staleness if s.stale]

    @property
    def never_run(self) -> list[Staleness]:
        return [s for s in self.staleness if s.last_run is None]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict (dates as ISO text, changes as fractions)."""
        def conv(value: Any) -> Any:
            if isinstance(value, (dt.datetime, dt.date)):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            if isinstance(value, list):
                return [conv(v) for v in value]
            return value

        tracks = []
        for t in self.tracks:
            d = asdict(t)
            for s, obj in zip(d["series"], t.series):
                s["verdict"] = obj.verdict
            tracks.append(d)
        return conv({
            "generated_at": self.generated_at,
            "settings": asdict(self.settings),
            "summary": {
                "regressions": len(self.regressions),
                "improvements": len(self.improvements),
                "software_changes": sum(len(t.software) for t in self.tracks),
                "appeared": sum(len(t.appeared) for t in self.tracks),
                "disappeared": sum(len(t.disappeared) for t in self.tracks),
                "stale": len(self.stale),
                "never_run": len(self.never_run),
                "physics_flags": len(self.physics),
            },
            "regressions": [_flat(s) for s in self.regressions],
            "improvements": [_flat(s) for s in self.improvements],
            "tracks": tracks,
            "stale": [asdict(s) for s in self.stale],
            "never_run": [s.machine for s in self.never_run],
            "staleness": [asdict(s) for s in self.staleness],
            "physics_checked": self.physics_checked,
            "physics": [asdict(p) for p in self.physics],
        })


def _flat(s: SeriesReview) -> dict[str, Any]:
    assert s.vs_baseline is not None
    return {
        "machine": s.machine, "workload": s.workload, "params": s.params, "unit": s.unit,
        "run": s.newest.run, "value": s.newest.median, "baseline": s.vs_baseline.reference,
        "change": s.vs_baseline.change, "noise": s.vs_baseline.noise,
        "previous": s.vs_previous.reference if s.vs_previous else None,
        "change_vs_previous": s.vs_previous.change if s.vs_previous else None,
    }


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
        track.disappeared.append(WorkloadChange(r.workload, params_label(r.params), key,
                                                now.status if now else "absent", now.message if now else None))

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
