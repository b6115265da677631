"""An NVIDIA GPU's SM clock over a measured window, and what held it down.

A thread reads NVML every SAMPLE_PERIOD_S from begin to end: the SM clock and NVML's reasons for a
clock below its maximum. A GPU at its power limit runs below the clock its peak FLOP/s figure
assumes (on H200s, GPT-2 training held the SM clock at 1,530-1,650 of 1,980 MHz at 700 W), so a
compute-bound figure is bounded by the power limit as much as by the chip; the run file says so.
"""

from __future__ import annotations

import statistics
import threading
from typing import Any

from collectors.records import Clocks

SAMPLE_PERIOD_S = 0.05
# nvmlClocksEventReasons (nvml.h): the software power cap and the hardware power brake; software
# and hardware thermal slowdown, and hardware slowdown (which heat or a power brake engage)
POWER_REASONS = 0x4 | 0x80
THERMAL_REASONS = 0x8 | 0x20 | 0x40


def summarise(samples: list[tuple[int, int]], max_mhz: float, limit_w: float | None) -> Clocks | None:
    """Clocks from (SM MHz, reasons bitmask) samples; None without samples."""
    if not samples:
        return None
    n = len(samples)
    return Clocks(sm_mhz_median=float(statistics.median(mhz for mhz, _ in samples)), sm_mhz_max=float(max_mhz),
                  power_limit_w=limit_w, samples=n,
                  power_limited_share=sum(1 for _, why in samples if why & POWER_REASONS) / n,
                  thermal_limited_share=sum(1 for _, why in samples if why & THERMAL_REASONS) / n)


class ClockSampler:
    """Samples one GPU (a pynvml handle) between start() and stop(); stop() gives its Clocks."""

    def __init__(self, nvml: Any, handle: Any) -> None:
        self.nvml, self.handle = nvml, handle
        self.max_mhz = float(nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM))
        self.limit_w: float | None = nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0 or None
        # older bindings name it by "throttle"
        self._reasons = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
            nvml.nvmlDeviceGetCurrentClocksThrottleReasons
        self._samples: list[tuple[int, int]] = []
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.stop()  # a window left open (its workload raised) ends here
        self._samples = []
        self._halt.clear()
        self._thread = threading.Thread(target=self._run, name="costperf-clocks", daemon=True)
        self._thread.start()

    def stop(self) -> Clocks | None:
        if self._thread is None:
            return None
        self._halt.set()
        self._thread.join()
        self._thread = None
        return summarise(self._samples, self.max_mhz, self.limit_w)

    def _run(self) -> None:
        while True:
            try:
                self._samples.append((self.nvml.nvmlDeviceGetClockInfo(self.handle, self.nvml.NVML_CLOCK_SM),
                                      self._reasons(self.handle)))
            except self.nvml.NVMLError:  # a sample missed is left out, never guessed
                pass
            if self._halt.wait(SAMPLE_PERIOD_S):
                return


def clock_sampler(monitor: Any, gpu_index: int) -> ClockSampler | None:
    """A sampler on the GPU a zeus monitor measures (its NVML handle), or None where there is none."""
    try:
        import pynvml  # noqa: PLC0415 - zeus's NVML binding, installed with it

        handle = monitor.gpus.gpus[gpu_index].handle
        return ClockSampler(pynvml, handle)
    except Exception:  # noqa: BLE001 - no handle, no NVML clock query: the window has no clocks
        return None
