"""What a review finds: its settings, the points it compares and its results (the comparison is in
collectors/review/compare.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FAILED_STATUSES = frozenset({"error", "oom"})
"""A result with one of these statuses in the newest run, where it was ok before, is a regression."""

DEFAULT_WINDOW = 5
DEFAULT_STALE_DAYS = 30
DEFAULT_K = 3.0
DEFAULT_FLOOR = 0.03

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
    failed: list[WorkloadChange] = field(default_factory=list)
    """Results of the newest run that failed (error, oom) where the run compared with had them ok,
    or every failed result when the newest run has no figure at all: regressions too."""
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
    def failures(self) -> list[tuple[TrackReview, WorkloadChange]]:
        return [(t, w) for t in self.tracks for w in t.failed]

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
                "failures": len(self.failures),
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


