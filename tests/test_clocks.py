"""The GPU's clock over an energy window (collectors/meters/clocks.py): sampled between begin and end,
summarised into the run file's Energy.clocks, and said in the report's basis of the figure.

There is no NVIDIA GPU here: the NVML binding is stood in for by one replaying samples recorded on an
H200 during GPT-2 training (SM MHz, clock reasons); the sampler's thread, windows and arithmetic are
what is tested."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from pydantic import ValidationError

from collectors.meters.base import Reading
from collectors.meters.clocks import ClockSampler, summarise
from collectors.meters.zeus_meter import ZeusMeter
from collectors.records import Clocks, Energy, RunRecord
from collectors.workloads.common import to_energy
from report import sample_data as S
from report.results_table import _measured_rows, clock_text

# (SM MHz, nvmlClocksEventReasons) read on an H200 during compiled GPT-2-124M b64 training: 0x4 is
# the software power cap
H200_TRAINING = [(1612, 0x4), (1530, 0x4), (1598, 0x4), (1568, 0x4), (1605, 0x4), (1560, 0x4), (1980, 0x0)]


class RecordedNVML:
    """Stands in for pynvml on this GPU-less machine: replays recorded samples in turn; with
    `power_share`, violation counters that run at that share of wall time (as the H200's did: 98%
    over a 6 s matmul), else none (as on a driver without them)."""

    NVML_CLOCK_SM = 1

    class NVMLError(Exception):
        pass

    def __init__(self, samples: list[tuple[int, int]], fail_every: int = 0, power_share: float | None = None):
        self.samples, self.fail_every, self.reads = samples, fail_every, 0
        self.power_share = power_share

    def nvmlDeviceGetViolationStatus(self, handle: object, policy: int) -> object:  # noqa: N802
        if self.power_share is None:
            raise self.NVMLError("Not Supported")
        now_ns = time.monotonic_ns()
        share = self.power_share if policy == 0 else 0.0
        return type("Violation", (), {"referenceTime": now_ns // 1000, "violationTime": int(share * now_ns)})()

    def nvmlDeviceGetMaxClockInfo(self, handle: object, clock: int) -> int:  # noqa: N802 - pynvml's names
        return 1980

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: object) -> int:  # noqa: N802
        return 700_000  # mW

    def nvmlDeviceGetClockInfo(self, handle: object, clock: int) -> int:  # noqa: N802
        self.reads += 1
        if self.fail_every and self.reads % self.fail_every == 0:
            raise self.NVMLError("GPU is lost")
        return self.samples[(self.reads - 1) % len(self.samples)][0]

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: object) -> int:  # noqa: N802
        return self.samples[(self.reads - 1) % len(self.samples)][1]


def test_summary_of_samples() -> None:
    c = summarise(H200_TRAINING, 1980, 700.0)
    assert c is not None
    assert (c.sm_mhz_median, c.sm_mhz_max, c.power_limit_w, c.samples) == (1598.0, 1980.0, 700.0, 7)
    assert c.power_limited_share == pytest.approx(6 / 7) and c.thermal_limited_share == 0.0
    assert c.shares_from == "samples"
    counted = summarise(H200_TRAINING, 1980, 700.0, (0.979, 0.0))
    assert counted is not None and counted.shares_from == "counters" and counted.power_limited_share == 0.979
    hot = summarise([(1400, 0x20), (1410, 0x40 | 0x4), (1980, 0)], 1980, None)
    assert hot is not None and hot.thermal_limited_share == pytest.approx(2 / 3)
    assert hot.power_limited_share == pytest.approx(1 / 3)
    assert summarise([], 1980, 700.0) is None


def test_sampler_takes_its_window_only() -> None:
    nvml = RecordedNVML(H200_TRAINING, fail_every=5)
    sampler = ClockSampler(nvml, handle=None, period=0.05)
    assert sampler.stop() is None  # never started
    sampler.start()
    time.sleep(0.4)
    first = sampler.stop()
    assert first is not None and first.power_limit_w == 700.0 and first.sm_mhz_max == 1980.0
    assert 3 <= first.samples < nvml.reads  # a failed read is left out, not guessed
    assert first.shares_from == "samples"  # this driver keeps no violation counters
    sampler.start()  # a new window starts empty
    second = sampler.stop()
    assert second is not None and second.samples <= 2


def test_shares_from_the_violation_counters() -> None:
    """Where the driver counts the time below the requested clock by cause, the window's share is
    that count's, not the samples': here the samples say 6 of 7, the counters 98%."""
    sampler = ClockSampler(RecordedNVML(H200_TRAINING, power_share=0.98), handle=None)
    sampler.start()
    time.sleep(0.3)
    c = sampler.stop()
    assert c is not None and c.shares_from == "counters"
    assert c.power_limited_share == pytest.approx(0.98, abs=0.02) and c.thermal_limited_share == 0.0
    assert c.samples >= 1  # the first read is at the window's begin


def test_a_window_left_open_is_closed_by_the_next() -> None:
    sampler = ClockSampler(RecordedNVML(H200_TRAINING), handle=None)
    sampler.start()
    first = sampler._thread  # noqa: SLF001
    sampler.start()  # the workload raised before end(): the next window's begin
    assert first is not None and not first.is_alive()
    assert sampler.stop() is not None


class OneWindowMonitor:
    """Stands in for zeus's monitor: one window of 1,000 J over 2.5 s on GPU 0."""

    def begin_window(self, key: str, sync_execution: bool = True) -> None:
        pass

    def end_window(self, key: str, sync_execution: bool = True) -> object:
        time.sleep(0.2)
        return type("M", (), {"time": 2.5, "gpu_energy": {0: 1000.0}})()


def test_clocks_reach_the_run_file_and_the_report() -> None:
    meter = ZeusMeter(OneWindowMonitor(), "nvml", "gpu_board", 0, 0.1,
                      ClockSampler(RecordedNVML(H200_TRAINING), handle=None))
    meter.begin()
    reading = meter.end()
    assert isinstance(reading, Reading) and reading.clocks is not None
    energy, _ = to_energy(reading, meter, None, None)
    assert energy is not None and energy.clocks == reading.clocks
    res = S.result("train-gpt2-124m-compiled-b64", [560_000.0, 565_000.0], model="gpt2-124m", avg_w=400.0)
    res.energy = energy
    run = S.run("h200-sxm", dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc), [res])
    again = RunRecord.model_validate_json(run.model_dump_json())
    assert again.results[0].energy is not None and again.results[0].energy.clocks == energy.clocks
    rows = _measured_rows([again], {}, {})
    assert f"; {clock_text(energy.clocks)}" in rows[0]["basis"]
    assert "held by its 700 W power limit in" in rows[0]["basis"] and "of 1,980 MHz" in rows[0]["basis"]


def test_clock_words() -> None:
    capped = Clocks(sm_mhz_median=1565.0, sm_mhz_max=1980.0, power_limit_w=700.0, power_limited_share=0.98,
                    thermal_limited_share=0.0, shares_from="counters", samples=9)
    assert clock_text(capped) == ("SM clock 1,565 of 1,980 MHz (9 samples), held by its 700 W power limit in 98% of "
                                  "the window")
    hot = capped.model_copy(update={"power_limited_share": 0.5, "thermal_limited_share": 0.25, "power_limit_w": None,
                                    "shares_from": "samples", "samples": 1})
    assert clock_text(hot) == ("SM clock 1,565 of 1,980 MHz (1 sample), held by its power limit in 50% of the "
                               "samples and by heat in 25%")
    free = capped.model_copy(update={"sm_mhz_median": 1980.0, "power_limited_share": 0.0})
    assert clock_text(free) == "SM clock 1,980 of 1,980 MHz (9 samples), not held by power or heat"


@pytest.mark.parametrize(("field", "value", "said"), [
    ("power_limited_share", 1.5, "less than or equal to 1"), ("thermal_limited_share", -0.1, "greater than or equal"),
    ("samples", 0, "greater than or equal to 1"), ("sm_mhz_median", 0.0, "greater than 0"),
    ("sm_mhz_max", "1980", "valid number"), ("shares_from", "guessed", "'counters' or 'samples'"),
])
def test_bad_clocks_are_named(field: str, value: object, said: str) -> None:
    good = {"sm_mhz_median": 1565.0, "sm_mhz_max": 1980.0, "power_limit_w": 700.0, "power_limited_share": 1.0,
            "thermal_limited_share": 0.0, "samples": 40}
    with pytest.raises(ValidationError) as err:
        Energy(joules=10.0, avg_w=5.0, window_s=2.0, method="nvml", covers="gpu_board",
               clocks=Clocks.model_validate({**good, field: value}))
    assert field in str(err.value) and said in str(err.value)
