"""An NVIDIA GPU's SM clock over a measured window, and what held it down.

A GPU at its power limit runs below the clock its peak FLOP/s figure assumes (on H200s, GPT-2
training held the SM clock at 1,530-1,650 of 1,980 MHz at 700 W), so a compute-bound figure is
bounded by the power limit as much as by the chip; the run file says so:

- how much of the window the power limit (and heat) held the clock down: NVML's violation counters
  (nanoseconds below the requested clock, by cause), read at the window's begin and end, where the
  driver keeps them; else the share of the clock samples in which NVML named that cause;
- the SM clock: read every SAMPLE_PERIOD_S by a thread, the first at begin. Slowly, because the
  thread takes the interpreter's lock for each read, from tasks bound by the host's Python: eager
  GPT-2 training on an H200 measured 402,361 tok/s with 20 reads a second against 420,057 without
  (medians of 4 alternating rounds), and 339,173 against 344,499 with 2 (3 rounds, another host,
  within its 4-13% spread).
"""

from __future__ import annotations

import statistics
import threading
from typing import Any

from collectors.records import Clocks

SAMPLE_PERIOD_S = 0.5
# nvmlClocksEventReasons (nvml.h): the software power cap and the hardware power brake; software
# and hardware thermal slowdown, and hardware slowdown (which heat or a power brake engage)
POWER_REASONS = 0x4 | 0x80
THERMAL_REASONS = 0x8 | 0x20 | 0x40
# nvmlPerfPolicyType_t: the violation counters by cause
POLICY_POWER, POLICY_THERMAL = 0, 1


def summarise(samples: list[tuple[int, int]], max_mhz: float, limit_w: float | None,
              counted: tuple[float, float] | None = None) -> Clocks | None:
    """Clocks from (SM MHz, reasons bitmask) samples; the power and thermal shares from `counted`
    (the violation counters' shares of the window) where given, else from the samples' reasons.
    None without samples."""
    if not samples:
        return None
    n = len(samples)
    if counted is None:
        power = sum(1 for _, why in samples if why & POWER_REASONS) / n
        thermal = sum(1 for _, why in samples if why & THERMAL_REASONS) / n
    else:
        power, thermal = counted
    return Clocks(sm_mhz_median=float(statistics.median(mhz for mhz, _ in samples)), sm_mhz_max=float(max_mhz),
                  power_limit_w=limit_w, samples=n, power_limited_share=power, thermal_limited_share=thermal,
                  shares_from="samples" if counted is None else "counters")


class ClockSampler:
    """Samples one GPU (a pynvml handle) between start() and stop(), every `period` s; stop() gives
    its Clocks."""

    def __init__(self, nvml: Any, handle: Any, period: float = SAMPLE_PERIOD_S) -> None:
        self.nvml, self.handle, self.period = nvml, handle, period
        self.max_mhz = float(nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM))
        self.limit_w: float | None = nvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0 or None
        # older bindings name it by "throttle"
        self._reasons = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
            nvml.nvmlDeviceGetCurrentClocksThrottleReasons
        self._samples: list[tuple[int, int]] = []
        self._begin: list[tuple[int, int]] | None = None
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def _violations(self) -> list[tuple[int, int]] | None:
        """(reference time in us, time below the requested clock in ns) for power, then heat; None
        where the driver keeps no such counters."""
        try:
            return [(v.referenceTime, v.violationTime) for v in
                    (self.nvml.nvmlDeviceGetViolationStatus(self.handle, p) for p in (POLICY_POWER, POLICY_THERMAL))]
        except (self.nvml.NVMLError, AttributeError):
            return None

    def start(self) -> None:
        self.stop()  # a window left open (its workload raised) ends here
        self._samples = []
        self._begin = self._violations()
        self._halt.clear()
        self._thread = threading.Thread(target=self._run, name="costperf-clocks", daemon=True)
        self._thread.start()

    def stop(self) -> Clocks | None:
        if self._thread is None:
            return None
        self._halt.set()
        self._thread.join()
        self._thread = None
        end = self._violations()
        counted = None
        if self._begin is not None and end is not None:
            shares = [_share(b, e) for b, e in zip(self._begin, end, strict=True)]
            counted = (shares[0], shares[1]) if None not in shares else None
        return summarise(self._samples, self.max_mhz, self.limit_w, counted)  # type: ignore[arg-type]

    def _run(self) -> None:
        while True:
            try:
                self._samples.append((self.nvml.nvmlDeviceGetClockInfo(self.handle, self.nvml.NVML_CLOCK_SM),
                                      self._reasons(self.handle)))
            except self.nvml.NVMLError:  # a sample missed is left out, never guessed
                pass
            if self._halt.wait(self.period):
                return


def _share(begin: tuple[int, int], end: tuple[int, int]) -> float | None:
    """The violation counter's share of the time between two reads (reference us, violation ns)."""
    span_ns = (end[0] - begin[0]) * 1000
    if span_ns <= 0:
        return None
    return min(1.0, max(0.0, (end[1] - begin[1]) / span_ns))


def clock_sampler(monitor: Any, gpu_index: int) -> ClockSampler | None:
    """A sampler on the GPU a zeus monitor measures (its NVML handle), or None where there is none."""
    try:
        import pynvml  # noqa: PLC0415 - zeus's NVML binding, installed with it

        handle = monitor.gpus.gpus[gpu_index].handle
        return ClockSampler(pynvml, handle)
    except Exception:  # noqa: BLE001 - no handle, no NVML clock query: the window has no clocks
        return None
