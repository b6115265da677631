"""Two checks of the NVML energy meter, on a CUDA machine:

1. overhead: the same workload timed with the zeus/NVML meter window and with no meter, alternated;
2. independent check: NVML's total-energy counter against power samples taken every ~5 ms in a
   thread (NVML's instantaneous power field, and for comparison its averaged power) integrated over
   the same window, after 1.5 s of the same load so the window is in steady state.

    python benchmarks/energy_check.py            # prints a table, writes JSON lines to $OUT if set
"""

from __future__ import annotations

import json
import os
import statistics
import sys
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


def instant_power_w(handle: object) -> float:
    """NVML's instantaneous board power (field 186), W. nvmlDeviceGetPowerUsage is a ~1 s moving
    average on Hopper, which lags every change of load and so cannot check a short window."""
    value = pynvml.nvmlDeviceGetFieldValues(handle, [pynvml.NVML_FI_DEV_POWER_INSTANT])[0]
    if value.nvmlReturn != 0:
        raise RuntimeError(f"NVML power-instant field not readable (return {value.nvmlReturn})")
    return value.value.uiVal / 1000.0


def sampled_energy(handle: object, fn: Callable[[], None], seconds: float,
                   read: Callable[[object], float]) -> tuple[float, float, float, int]:
    """Run fn repeatedly for `seconds`; returns (NVML counter J, integrated samples J, window s, samples)."""
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter(), read(handle)))
            time.sleep(0.005)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    t_warm = time.perf_counter()
    while time.perf_counter() - t_warm < 1.5:  # steady state before the window opens
        fn()
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
    only_independent = "independent" in sys.argv[1:]
    # 1. overhead, alternating with and without the meter
    workloads: dict[str, tuple[Callable[[], None], float]] = {"matmul-bf16-8192": (matmul, 10 * 2 * 8192**3 / 1e12)}
    spec = llm.LlmSpec("decode", "llama-3-1b", "bf16", False, gen=32)
    for name, (fn, work) in ({} if only_independent else workloads).items():
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
    for _ in range(0 if only_independent else 2):
        ctx.meter = NullMeter("off")
        decode_without.append(llm.run(spec, ctx).throughput.median)  # type: ignore[union-attr]
        ctx.meter = meter
        decode_with.append(llm.run(spec, ctx).throughput.median)  # type: ignore[union-attr]
    ratio = statistics.median(decode_with) / statistics.median(decode_without) if decode_with else 1.0
    if decode_with:
        lines.append({"check": "overhead", "workload": "decode-llama-3-1b-bf16-eager-b1",
                      "with_meter": decode_with, "without": decode_without, "ratio": ratio})
        print(f"overhead 1B eager decode (launch-bound): with {statistics.median(decode_with):.1f} without "
              f"{statistics.median(decode_without):.1f} tok/s -> {100 * (1 - ratio):+.2f}%", flush=True)

    # 2. counter against integrated power samples
    readers = {"instant": instant_power_w, "average": lambda h: pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0}
    for name, fn, secs in [("matmul-bf16", matmul, 5.0), ("idle", lambda: time.sleep(0.01), 4.0),
                           ("matmul-bf16-2s", matmul, 2.0)]:
        for reader, read in readers.items():
            try:
                counter, integral, window, n = sampled_energy(handle, fn, secs, read)
            except (RuntimeError, pynvml.NVMLError) as exc:
                print(f"independent {name} {reader}: {exc}", flush=True)
                continue
            diff = (counter - integral) / integral
            lines.append({"check": "independent", "workload": name, "power_reading": reader,
                          "nvml_counter_j": counter, "power_samples_j": integral, "window_s": window,
                          "samples": n, "rel_diff": diff})
            print(f"independent {name} ({reader} power): counter {counter:.1f} J, samples {integral:.1f} J over "
                  f"{window:.2f} s ({n} samples, {counter / window:.0f} W) -> {100 * diff:+.2f}%", flush=True)
    if out:
        with open(os.path.join(out, "energy_check.jsonl"), "a", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
