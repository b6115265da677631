"""Meters: None with a reason where nothing can be measured (this machine), window and idle
arithmetic on recorded readings, the zeus mapping for NVML / Apple / RAPL, the estimate."""

from __future__ import annotations

import sys
import time
import types
from dataclasses import dataclass
from unittest.mock import patch

import pytest
import torch

from collectors.meters.base import EstimateMeter, NullMeter, Reading, idle_power, update_period
from collectors.meters.zeus_meter import ZeusMeter, soc_joules, zeus_meter
from collectors.records import Energy
from collectors.workloads.common import Context, TimingPolicy, measure, to_energy


class RecordedMeter:
    """Replays readings recorded on a GPU (J and window s), to test the arithmetic around meters."""

    method = "nvml"
    covers = "gpu_board"
    reason = None
    update_period_s = 0.1

    def __init__(self, readings: list[tuple[float, float]]):
        self.readings = list(readings)
        self.begun = 0

    @property
    def available(self) -> bool:
        return True

    def begin(self) -> None:
        self.begun += 1

    def end(self) -> Reading | None:
        j, s = self.readings.pop(0)
        return Reading(j, s, self.method, self.covers, self.update_period_s)


def test_this_machine_has_no_meter_and_says_why() -> None:
    cpu = zeus_meter("cpu")
    assert isinstance(cpu, NullMeter) and not cpu.available
    assert "RAPL" in (cpu.reason or "") or "zeus is not installed" in (cpu.reason or "")
    assert cpu.end() is None
    gpu = zeus_meter("cuda")
    assert isinstance(gpu, NullMeter) and gpu.reason


def test_none_never_zero_in_results() -> None:
    c = Context(device=torch.device("cpu"), policy=TimingPolicy(3, 0.01, 1, 0), meter=NullMeter("no meter here"))
    timed = measure(lambda: None, 1.0, "s", c, tokens_per_call=1)
    assert timed.energy is None and timed.energy_note == "no meter here"


def test_idle_subtraction_and_tokens_from_recorded_window() -> None:
    # recorded on an H100: 2.4 s of compiled 8B decode, 1,041 J; idle 70 W
    energy, note = to_energy(Reading(1041.0, 2.4, "nvml", "gpu_board", 0.1), RecordedMeter([]), 70.0, 400)
    assert isinstance(energy, Energy) and note is None
    assert energy.avg_w == pytest.approx(1041.0 / 2.4)
    assert energy.joules_above_idle == pytest.approx(1041.0 - 70.0 * 2.4)
    assert energy.tokens == 400 and energy.joules / energy.tokens == pytest.approx(2.6025)


def test_zero_joules_is_not_a_measurement() -> None:
    energy, note = to_energy(Reading(0.0, 0.05, "nvml", "gpu_board", 0.1), RecordedMeter([]), None, 10)
    assert energy is None and "shorter than the meter's update period" in (note or "")


def test_short_window_is_flagged() -> None:
    energy, note = to_energy(Reading(50.0, 0.5, "nvml", "gpu_board", 0.1), RecordedMeter([]), None, 10)
    assert energy is not None and "under 10 meter updates" in (note or "")


def test_measure_uses_one_window_for_all_repeats() -> None:
    meter = RecordedMeter([(900.0, 3.0)])
    c = Context(device=torch.device("cpu"), policy=TimingPolicy(5, 0.02, 1, 0), meter=meter, idle_w=60.0)
    timed = measure(lambda: time.sleep(0.001), 128, "tokens/s", c, tokens_per_call=128)
    assert meter.begun == 1
    n = len(timed.stats.samples)
    assert timed.energy is not None and timed.energy.tokens == 128 * n
    assert timed.energy.joules_above_idle == pytest.approx(900 - 60 * 3.0)


def test_idle_power_and_estimate() -> None:
    meter = RecordedMeter([(210.0, 3.0)])
    assert idle_power(meter, 0.0) == (pytest.approx(70.0), None)
    est = EstimateMeter(700.0, "gpu_board")
    est.begin()
    time.sleep(0.05)
    r = est.end()
    assert r is not None and r.provenance == "estimated" and r.joules == pytest.approx(700 * r.window_s)
    assert idle_power(est, 0.0)[0] is None  # no idle figure from an estimate


def test_update_period_of_a_counter() -> None:
    t0 = time.perf_counter()
    period = update_period(lambda: int((time.perf_counter() - t0) / 0.02), probe_s=0.3)
    assert period == pytest.approx(0.02, abs=0.005)


@dataclass
class FakeMeasurement:
    time: float
    gpu_energy: dict[int, float]
    cpu_energy: dict[int, float] | None = None
    dram_energy: dict[int, float] | None = None
    soc_energy: object | None = None


class FakeMonitor:
    """Stands in for zeus.monitor.ZeusMonitor (zeus itself is what we wrap, not what we test)."""

    def __init__(self, m: FakeMeasurement):
        self.m = m
        self.keys: list[str] = []

    def begin_window(self, key: str, sync_execution: bool = True) -> None:
        self.keys.append(key)

    def end_window(self, key: str, sync_execution: bool = True) -> FakeMeasurement:
        assert self.keys.pop() == key
        return self.m


def test_zeus_mapping_for_each_method() -> None:
    nvml = ZeusMeter(FakeMonitor(FakeMeasurement(2.5, {0: 1000.0})), "nvml", "gpu_board", 0, 0.1)
    nvml.begin()
    assert nvml.end() == Reading(1000.0, 2.5, "nvml", "gpu_board", 0.1)
    rapl = ZeusMeter(FakeMonitor(FakeMeasurement(2.0, {}, {0: 100.0, 1: 90.0}, {0: 10.0})), "rapl",
                     "cpu_package_dram", None, None)
    rapl.begin()
    assert rapl.end().joules == pytest.approx(200.0)  # type: ignore[union-attr]
    soc = types.SimpleNamespace(cpu_total_mj=5000, gpu_mj=20000, gpu_sram_mj=None, dram_mj=3000, ane_mj=0,
                                efficiency_cores_mj=[1000, 1000])
    assert soc_joules(soc) == pytest.approx(28.0)  # per-core fields are parts of cpu_total: not added


def test_missing_zeus_is_a_reason_not_an_error() -> None:
    with patch.dict(sys.modules, {"zeus": None}), patch("importlib.util.find_spec", return_value=None):
        m = zeus_meter("cuda")
    assert isinstance(m, NullMeter) and "zeus is not installed" in (m.reason or "")


def test_a_failing_workload_closes_its_zeus_window() -> None:
    zeus_monitor = pytest.importorskip("zeus.monitor")
    from collectors.meters.zeus_meter import ZeusMeter

    # zeus itself, measuring nothing on this machine: it refuses a second window under one name
    meter = ZeusMeter(zeus_monitor.ZeusMonitor(gpu_indices=[], cpu_indices=[]), "rapl", "cpu_package", 0, None)
    c = Context(device=torch.device("cpu"), policy=TimingPolicy(3, 0.01, 1, 0), meter=meter)

    def out_of_memory() -> None:
        raise RuntimeError("CUDA out of memory (simulated by the workload)")

    with pytest.raises(RuntimeError, match="out of memory"):
        measure(out_of_memory, 1.0, "s", c)
    timed = measure(lambda: None, 1.0, "s", c)  # the next workload gets its own window
    assert len(timed.stats.samples) >= 3


def test_power_estimate_is_one_devices_tdp() -> None:
    from collectors.runner import make_meter
    from report import sample_data as S

    eight = S.machine("box", "Eight-GPU box", tdp_w=700.0, count=8)
    meter = make_meter("estimate", torch.device("cpu"), eight)
    # the suite runs on one device: its energy estimate is one accelerator's TDP, not eight
    assert isinstance(meter, EstimateMeter) and meter.watts == 700.0 and meter.covers == "gpu_board"
