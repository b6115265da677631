"""GPU experiment: what sets GPT-2-124M's training throughput on this GPU. The compiled b64 step (the
training workload's defaults) runs for SECONDS, then a dense 8192^3 bf16 matmul for as long, in
intervals of a few steps. Each interval is one window of the suite's own clock record
(collectors/meters/clocks.py), its clock read every 50 ms: the SM clock and the share of the interval
in which the power limit (and heat) held it down, beside the board's power and temperature at the
interval's end and tokens (or TFLOP) a second.

    python benchmarks/clock_trace.py [SECONDS]      (CUDA, with nvidia-ml-py)
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import pynvml
import torch

from train_explore import compiled_step  # the same step as its profile

from collectors.distributed.runtime import _gpu_index
from collectors.meters.clocks import ClockSampler
from collectors.records import Clocks


def describe(c: Clocks | None, h: object) -> str:
    """A window's clocks, the watts and degrees of GPU `h` (an NVML handle) now, and what held the
    clock down."""
    if c is None:
        return "no samples"
    why = ", ".join(f"{name} {100 * share:.0f}%" for name, share in
                    (("power cap", c.power_limited_share), ("thermal", c.thermal_limited_share)) if share)
    return (f"SM {c.sm_mhz_median:5.0f} MHz  {pynvml.nvmlDeviceGetPowerUsage(h) / 1e3:4.0f} W  "
            f"{pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)} C  "
            f"{why or 'not held down'} ({c.samples} samples, shares from {c.shares_from})")


def trace(name: str, fn: Callable[[], None], per_call: float, unit: str, seconds: float, group: int,
          sampler: ClockSampler) -> list[float]:
    """fn run in groups of `group` calls for `seconds`; per group: per_call x calls / s in `unit`."""
    rates = []
    begin = time.perf_counter()
    while time.perf_counter() < begin + seconds:
        torch.cuda.synchronize()
        sampler.start()
        t0 = time.perf_counter()
        for _ in range(group):
            fn()
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        rates.append(per_call * group / (t1 - t0))
        print(f"{name} {t1 - begin:6.1f} s {rates[-1]:11,.0f} {unit}  {describe(sampler.stop(), sampler.handle)}",
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
    sampler = ClockSampler(pynvml, handle, period=0.05)
    tokens = trace("train", step, 64 * 1024, "tok/s", seconds, 5, sampler)
    a, b = (torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    flops = trace("matmul", lambda: a @ b, 2 * 8192**3 / 1e12, "TFLOP/s", seconds, 400, sampler)
    print(f"train median {statistics.median(tokens):,.0f} tok/s over {len(tokens)} groups of 5 steps; "
          f"matmul median {statistics.median(flops):,.0f} TFLOP/s")


if __name__ == "__main__":
    main()
