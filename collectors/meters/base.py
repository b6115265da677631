"""The meter interface: one energy window at a time, None where nothing can be measured.

A meter that cannot measure on this machine is a `NullMeter` whose `reason` says why (zeus's
null-object pattern): a run then records energy None with that reason, never 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collectors.records import Clocks


@dataclass(frozen=True)
class Reading:
    """Energy over one window, J, and what the meter saw."""

    joules: float
    window_s: float
    method: str  # nvml, apple_ioreport, rapl, estimate
    covers: str  # gpu_board, soc, cpu_package, dram, cpu_package_dram, wall
    update_period_s: float | None = None
    provenance: str = "measured"
    clocks: Clocks | None = None  # the GPU's clock over the window, where the meter samples it


class Meter(Protocol):
    method: str | None
    covers: str | None
    reason: str | None  # why it cannot measure (None when it can)
    update_period_s: float | None

    @property
    def available(self) -> bool: ...

    def begin(self) -> None: ...

    def end(self) -> Reading | None: ...


class NullMeter:
    """Measures nothing, and says why."""

    method = None
    covers = None
    update_period_s = None

    def __init__(self, reason: str):
        self.reason = reason

    @property
    def available(self) -> bool:
        return False

    def begin(self) -> None:
        pass

    def end(self) -> Reading | None:
        return None


class EstimateMeter:
    """Power = a fixed figure from the machine file (TDP), labelled estimated: for `--power-estimate`."""

    method = "estimate"
    reason = None
    update_period_s = None

    def __init__(self, watts: float, covers: str):
        self.watts = watts
        self.covers = covers
        self._t0: float | None = None

    @property
    def available(self) -> bool:
        return True

    def begin(self) -> None:
        self._t0 = time.perf_counter()

    def end(self) -> Reading | None:
        if self._t0 is None:
            raise RuntimeError("end() without begin()")
        window = time.perf_counter() - self._t0
        self._t0 = None
        return Reading(self.watts * window, window, "estimate", self.covers, None, "estimated")


def idle_power(meter: Meter, seconds: float = 3.0) -> tuple[float | None, str | None]:
    """Average power over `seconds` of doing nothing, W (None with the reason if not measurable)."""
    if not meter.available or meter.method == "estimate":
        return None, meter.reason or "estimates have no idle figure"
    meter.begin()
    time.sleep(seconds)
    reading = meter.end()
    if reading is None or reading.joules <= 0:
        return None, "the meter read no energy while idle"
    return reading.joules / reading.window_s, None


def update_period(read_counter: "callable", probe_s: float = 0.6) -> float | None:  # type: ignore[valid-type]
    """How often a cumulative counter changes: median gap between changes while polling it."""
    changes: list[float] = []
    last = read_counter()
    t_end = time.perf_counter() + probe_s
    while time.perf_counter() < t_end:
        value = read_counter()
        if value != last:
            changes.append(time.perf_counter())
            last = value
        time.sleep(0.0005)
    gaps = sorted(b - a for a, b in zip(changes, changes[1:]))
    return gaps[len(gaps) // 2] if gaps else None
