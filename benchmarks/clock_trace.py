"""GPU experiment: what sets GPT-2-124M's training throughput on this GPU. The compiled b64 step (the
training workload's defaults) runs for SECONDS, then a dense 8192^3 bf16 matmul for as long, while a
thread reads NVML every 50 ms: the SM clock, the board's power, the temperature, and the reasons
NVML gives for a clock below its maximum (power cap, thermal, ...). Printed by interval of a few
steps: tokens (or TFLOP) a second beside the clock, watts and reasons over that interval.

    python benchmarks/clock_trace.py [SECONDS]      (CUDA, with nvidia-ml-py)
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable

import pynvml
import torch

from train_explore import compiled_step  # the same step as its profile

from collectors.distributed.runtime import _gpu_index

# nvmlClocksEventReasons (nvml.h); 0x1 is "idle", left out: the GPU is busy throughout
REASONS = {0x2: "app clocks", 0x4: "power cap", 0x8: "hw slowdown", 0x10: "sync boost", 0x20: "sw thermal",
           0x40: "hw thermal", 0x80: "power brake"}


class Sampler(threading.Thread):
    """(time, SM MHz, W, degrees C, reasons bitmask) every `period` s until stopped."""

    def __init__(self, handle: object, period: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.handle, self.period = handle, period
        self.samples: list[tuple[float, int, float, int, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        reasons = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
            pynvml.nvmlDeviceGetCurrentClocksThrottleReasons
        while not self.halt.is_set():
            h = self.handle
            self.samples.append((time.perf_counter(), pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
                                 pynvml.nvmlDeviceGetPowerUsage(h) / 1e3,
                                 pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU), reasons(h)))
            time.sleep(self.period)

    def between(self, t0: float, t1: float) -> str:
        window = [s for s in self.samples if t0 <= s[0] < t1]
        if not window:
            return "no samples"
        why = [name for bit, name in REASONS.items() if sum(1 for s in window if s[4] & bit) * 2 >= len(window)]
        return (f"SM {statistics.median(s[1] for s in window):5.0f} MHz  {statistics.fmean(s[2] for s in window):4.0f} W  "
                f"{max(s[3] for s in window)} C  {', '.join(why) or 'no reason'}")


def trace(name: str, fn: Callable[[], None], per_call: float, unit: str, seconds: float, group: int,
          sampler: Sampler) -> list[float]:
    """fn run in groups of `group` calls for `seconds`; per group: per_call x calls / s in `unit`."""
    rates = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(group):
            fn()
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        rates.append(per_call * group / (t1 - t0))
        print(f"{name} {t1 - sampler.samples[0][0]:6.1f} s {rates[-1]:11,.0f} {unit}  {sampler.between(t0, t1)}",
              flush=True)
    return rates


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    pynvml.nvmlInit()
    index = _gpu_index(torch.device("cuda", 0))  # NVML's index: by PCI bus id, as the meters
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    print(f"{pynvml.nvmlDeviceGetName(handle)}: max SM clock "
          f"{pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM)} MHz, power limit "
          f"{pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1e3:.0f} W (default "
          f"{pynvml.nvmlDeviceGetPowerManagementDefaultLimit(handle) / 1e3:.0f} W), NVML index {index}")
    step = compiled_step(64)
    for _ in range(3):  # compile
        step()
    sampler = Sampler(handle)
    sampler.start()
    tokens = trace("train", step, 64 * 1024, "tok/s", seconds, 5, sampler)
    a, b = (torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    flops = trace("matmul", lambda: a @ b, 2 * 8192**3 / 1e12, "TFLOP/s", seconds, 400, sampler)
    sampler.halt.set()
    print(f"train median {statistics.median(tokens):,.0f} tok/s over {len(tokens)} groups of 5 steps; "
          f"matmul median {statistics.median(flops):,.0f} TFLOP/s")


if __name__ == "__main__":
    main()
