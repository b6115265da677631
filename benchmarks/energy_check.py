"""Issue 5's two checks of the NVML meter, on a CUDA machine:

1. overhead: the same workload timed with the zeus/NVML meter window and with no meter, alternated;
2. independent check: NVML's total-energy counter (through zeus) against power samples
   (nvmlDeviceGetPowerUsage every ~5 ms in a thread) integrated over the same window.

    python benchmarks/energy_check.py            # prints a table, writes JSON lines to $OUT if set
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Callable

import pynvml
import torch

from collectors.meters.base import NullMeter
from collectors.meters.zeus_meter import zeus_meter
from collectors.workloads import llm
from collectors.workloads.common import Context, TimingPolicy, measure, sync

POLICY = TimingPolicy(min_reps=5, min_time_s=3.0, max_time_s=30.0, warmup_reps=1)


def sampled_energy(handle: object, fn: Callable[[], None], seconds: float) -> tuple[float, float, float, int]:
    """Run fn repeatedly for `seconds`; returns (NVML counter J, integrated samples J, window s, samples)."""
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter(), pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0))
            time.sleep(0.005)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    time.sleep(0.3)  # samples exist before the window opens
    sync("cuda")
    t0 = time.perf_counter()
    e0 = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    while time.perf_counter() - t0 < seconds:
        fn()
    sync("cuda")
    e1 = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    t1 = time.perf_counter()
    time.sleep(0.3)
    stop.set()
    thread.join()
    inside = [(t, w) for t, w in samples if t0 - 0.01 <= t <= t1 + 0.01]
    integral = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(inside, inside[1:]))
    span = inside[-1][0] - inside[0][0]
    integral *= (t1 - t0) / span  # stretch the covered span to the window's ends
    return (e1 - e0) / 1000.0, integral, t1 - t0, len(inside)


def main() -> None:
    out = os.environ.get("OUT")
    lines: list[dict[str, object]] = []
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    dev = torch.device("cuda")
    meter = zeus_meter("cuda", 0)
    print(f"meter: {meter.method} {meter.covers} update period {meter.update_period_s}", flush=True)

    a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)

    def matmul() -> None:
        for _ in range(10):
            torch.mm(a, b)

    ctx = Context(device=dev, policy=POLICY)
    matmul()
    # 1. overhead, alternating with and without the meter
    workloads: dict[str, tuple[Callable[[], None], float]] = {"matmul-bf16-8192": (matmul, 10 * 2 * 8192**3 / 1e12)}
    spec = llm.LlmSpec("decode", "llama-3-1b", "bf16", False, gen=32)
    for name, (fn, work) in workloads.items():
        with_m, without = [], []
        for _ in range(3):
            ctx.meter = NullMeter("off")
            without.append(measure(fn, work, "TFLOP/s", ctx).stats.median)
            ctx.meter = meter
            with_m.append(measure(fn, work, "TFLOP/s", ctx).stats.median)
        ratio = statistics.median(with_m) / statistics.median(without)
        lines.append({"check": "overhead", "workload": name, "with_meter": with_m, "without": without,
                      "ratio": ratio})
        print(f"overhead {name}: with {statistics.median(with_m):.1f} without {statistics.median(without):.1f} "
              f"-> {100 * (1 - ratio):+.2f}% slower with the meter", flush=True)
    decode_with, decode_without = [], []
    for _ in range(2):
        ctx.meter = NullMeter("off")
        decode_without.append(llm.run(spec, ctx).throughput.median)  # type: ignore[union-attr]
        ctx.meter = meter
        decode_with.append(llm.run(spec, ctx).throughput.median)  # type: ignore[union-attr]
    ratio = statistics.median(decode_with) / statistics.median(decode_without)
    lines.append({"check": "overhead", "workload": "decode-llama-3-1b-bf16-eager-b1", "with_meter": decode_with,
                  "without": decode_without, "ratio": ratio})
    print(f"overhead 1B eager decode (launch-bound): with {statistics.median(decode_with):.1f} without "
          f"{statistics.median(decode_without):.1f} tok/s -> {100 * (1 - ratio):+.2f}%", flush=True)

    # 2. counter against integrated power samples
    for name, fn, secs in [("matmul-bf16", matmul, 5.0), ("idle", lambda: time.sleep(0.01), 4.0),
                           ("matmul-bf16-short", matmul, 1.0)]:
        counter, integral, window, n = sampled_energy(handle, fn, secs)
        diff = (counter - integral) / integral
        lines.append({"check": "independent", "workload": name, "nvml_counter_j": counter,
                      "power_samples_j": integral, "window_s": window, "samples": n, "rel_diff": diff})
        print(f"independent {name}: counter {counter:.1f} J, samples {integral:.1f} J over {window:.2f} s "
              f"({n} samples, {counter / window:.0f} W) -> {100 * diff:+.2f}%", flush=True)
    if out:
        with open(os.path.join(out, "energy_check.jsonl"), "w", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
