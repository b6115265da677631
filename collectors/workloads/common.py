"""What every workload shares: the device, synchronisation, the timing loop and the energy window.

Timing rule (STYLE.md lessons 3-4): warm-up runs (compilation, CUDA-graph capture, autotuning) are
timed separately as `compile_s` and never averaged in; then repeats run until there are at least
`min_reps` of them and they add up to at least `min_time_s`; each repeat is bracketed by a device
synchronisation (CUDA and MPS alike; gpt-fast's MPS no-op is the bug to avoid) and gives one
throughput sample; the figure is the median. The energy meter's window is exactly those repeats,
so tokens per joule always matches the tokens per second beside it.
"""

from __future__ import annotations

import contextlib

import datetime as dt
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from collectors.meters.base import Meter, NullMeter, Reading
from collectors.records import Energy, Result, Stats, WorkloadParams


def sync(device: torch.device | str) -> None:
    """Wait for queued work on `device` to finish; raises on a device type it does not know."""
    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()
    elif kind != "cpu":
        raise ValueError(f"sync: unknown device type {kind!r} (expected cuda, mps or cpu)")


def pick_device(requested: str | None = None) -> torch.device:
    """cuda, then mps, then cpu; `requested` overrides, and must be available."""
    if requested:
        dev = torch.device(requested)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda: torch sees no CUDA device (is this the CUDA build of torch?)")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("--device mps: torch sees no MPS device (Apple Silicon with macOS 12.3+ needed)")
        if dev.type not in ("cuda", "mps", "cpu"):
            raise ValueError(f"--device {requested}: expected cuda, mps or cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gb(device: torch.device) -> float | None:
    """Peak device memory allocated since the last reset (CUDA); on MPS, what the Metal driver holds
    now (MPS keeps no peak); None on CPU, where process memory is not device memory."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9 or None
    if device.type == "mps":
        return torch.mps.driver_allocated_memory() / 1e9 or None
    return None


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "mps backend out of memory" in text)


@dataclass(frozen=True)
class TimingPolicy:
    min_reps: int = 5
    min_time_s: float = 2.0
    max_time_s: float = 30.0  # stop adding repeats after this long (min_reps still honoured)
    warmup_reps: int = 2


@dataclass
class Context:
    """What a workload runs with."""

    device: torch.device
    policy: TimingPolicy = field(default_factory=TimingPolicy)
    meter: Meter = field(default_factory=lambda: NullMeter("no meter configured"))
    idle_w: float | None = None
    usable_memory_gb: float | None = None
    quick: bool = False
    cache: dict[str, Any] = field(default_factory=dict)  # models shared by consecutive tasks
    log: Callable[[str], None] = lambda msg: None

    @property
    def kind(self) -> str:
        return self.device.type


@dataclass
class Timed:
    stats: Stats
    energy: Energy | None
    energy_note: str | None
    window_s: float


def warmup(fn: Callable[[], Any], ctx: Context, reps: int | None = None) -> float:
    """Run `fn` untimed `reps` times (compilation, graph capture, autotuning); returns seconds."""
    t0 = time.perf_counter()
    for _ in range(ctx.policy.warmup_reps if reps is None else reps):
        fn()
    sync(ctx.device)
    return time.perf_counter() - t0


def measure(fn: Callable[[], Any], work_per_call: float, unit: str, ctx: Context,
            tokens_per_call: float | None = None) -> Timed:
    """Repeat `fn` (already warmed up) under the timing policy inside one meter window.

    `work_per_call` is what one call does in `unit` x seconds (tokens, bytes/1e9, FLOPs/1e12), so a
    sample is work_per_call / seconds. `tokens_per_call` sets Energy.tokens (for tokens per joule).
    """
    policy = ctx.policy
    samples: list[float] = []
    sync(ctx.device)
    ctx.meter.begin()
    start = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            fn()
            sync(ctx.device)
            samples.append(work_per_call / (time.perf_counter() - t0))
            elapsed = time.perf_counter() - start
            if len(samples) >= policy.min_reps and (elapsed >= policy.min_time_s or elapsed >= policy.max_time_s):
                break
    except BaseException:
        # Close the window (its reading is void) so the next workload can open its own: zeus refuses
        # a second window under the same name, which would turn every later task into an error.
        with contextlib.suppress(Exception):
            ctx.meter.end()
        raise
    reading = ctx.meter.end()
    window = time.perf_counter() - start
    tokens = tokens_per_call * len(samples) if tokens_per_call else None
    energy, note = to_energy(reading, ctx.meter, ctx.idle_w, tokens)
    return Timed(Stats.of(samples, unit), energy, note, window)


def to_energy(reading: Reading | None, meter: Meter, idle_w: float | None,
              tokens: float | None) -> tuple[Energy | None, str | None]:
    if reading is None:
        return None, meter.reason or "no energy meter on this machine"
    if reading.joules <= 0:
        return None, (f"{meter.method} read {reading.joules:.3f} J over {reading.window_s:.3f} s: window shorter "
                      "than the meter's update period")
    if reading.update_period_s and reading.window_s < 10 * reading.update_period_s:
        note = f"window {reading.window_s:.2f} s is under 10 meter updates ({reading.update_period_s:.3f} s each)"
    else:
        note = None
    above = reading.joules - idle_w * reading.window_s if idle_w is not None else None
    return Energy(
        joules=reading.joules,
        joules_above_idle=above,
        avg_w=reading.joules / reading.window_s,
        window_s=reading.window_s,
        method=reading.method,  # type: ignore[arg-type]
        covers=reading.covers,  # type: ignore[arg-type]
        update_period_s=reading.update_period_s,
        tokens=tokens,
        provenance=reading.provenance,  # type: ignore[arg-type]
        clocks=reading.clocks,
    ), note


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def ok_result(workload: str, params: WorkloadParams, timed: Timed, started: dt.datetime, ctx: Context,
              compile_s: float | None = None, **extra: Any) -> Result:
    return Result(
        workload=workload, params=params, status="ok", throughput=timed.stats,
        peak_memory_gb=peak_memory_gb(ctx.device), energy=timed.energy, energy_note=timed.energy_note,
        started_at=started, duration_s=max((now() - started).total_seconds(), 1e-6), compile_s=compile_s, **extra,
    )


def too_big_result(workload: str, params: WorkloadParams, started: dt.datetime, need_gb: float, usable_gb: float,
                   context: int, **extra: Any) -> Result:
    """A model that would not fit in usable memory: recorded as does_not_fit with both figures, never tried."""
    return Result(workload=workload, params=params, status="does_not_fit", started_at=started,
                  message=f"needs {need_gb:.1f} GB (weights + KV cache for {context} tokens), "
                          f"usable {usable_gb:.1f} GB: not tried", **extra)


def failed_result(workload: str, params: WorkloadParams, exc: BaseException, started: dt.datetime) -> Result:
    status = "oom" if is_oom(exc) else "error"
    msg = f"{type(exc).__name__}: {exc}".strip()
    return Result(workload=workload, params=params, status=status, message=msg[:2000], started_at=started,
                  duration_s=max((now() - started).total_seconds(), 1e-6))
