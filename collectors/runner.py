"""Run a suite on this machine and assemble the run record.

The record is built from results as they finish, so a Ctrl-C (or SIGTERM) between or inside tasks
still yields a valid record marked `interrupted`; writing it is atomic (store.write_run), so the
data folder ends up with either no file or a whole one.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from collectors import gpu_memory_limit
from collectors.meters.base import EstimateMeter, Meter, NullMeter, idle_power
from collectors.probe import probe
from collectors.records import Environment, Machine, Result, RunRecord
from collectors.workloads import compile_cache, engines
from collectors.workloads.common import Context, pick_device
from collectors.workloads.suites import POLICIES, SUITES, Task, select


@dataclass
class RunOptions:
    suite: str = "quick"
    workloads: tuple[str, ...] = ()
    device: str | None = None
    energy: str = "auto"  # auto | off | estimate
    idle_s: float = 3.0
    gguf: Path | None = None  # a GGUF model for the llama.cpp workload
    llama_bench: str | None = None  # the llama-bench binary, when not the one on PATH


@dataclass
class RunState:
    """What a run has produced so far (read by the CLI to write a partial record)."""

    started_at: dt.datetime
    results: list[Result] = field(default_factory=list)
    interrupted: bool = False


def git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        # a copy without .git (a benchmark machine, a container): the launcher may say which commit
        return os.environ.get("COSTPERF_GIT_COMMIT") or None
    return head + ("+dirty" if dirty else "") if head else None


def usable_memory(machine: Machine | None, device: torch.device) -> tuple[float | None, str]:
    """Usable memory in GB and where the figure came from. On a Mac, what macOS reports the GPU may use,
    measured here, wins over the machine file's rule (the report prefers it too)."""
    if device.type == "mps":
        return torch.mps.recommended_max_memory() / 1e9, "Metal recommendedMaxWorkingSetSize (measured)"
    if machine is not None:
        return machine.usable_memory_gb, f"machine file {machine.id} ({machine.usable_memory.rule})"
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory / 1e9
        return total - 1.0, "device total memory less 1 GB (no machine file)"
    host = probe(use_torch=False)
    if host.ram_gb is None:
        return None, "RAM size not readable"
    return host.ram_gb * 0.8, "80% of RAM (no machine file)"


def make_meter(energy: str, device: torch.device, machine: Machine | None) -> Meter:
    if energy == "off":
        return NullMeter("energy measurement turned off (--energy off)")
    if energy == "estimate":
        if machine is None or machine.power is None:
            return NullMeter("--energy estimate needs a machine file with power figures")
        acc = machine.accelerators[0]
        if machine.power.accelerator_tdp_w is not None:
            # the suite runs on one device, so one accelerator's TDP (not the machine's count of them)
            return EstimateMeter(machine.power.accelerator_tdp_w,
                                 "gpu_board" if acc.memory_kind == "dedicated" else "soc")
        if machine.power.system_max_w is not None:
            return EstimateMeter(machine.power.system_max_w, "wall")
        return NullMeter("the machine file gives no TDP or system power to estimate from")
    from collectors.meters.zeus_meter import zeus_meter  # noqa: PLC0415

    return zeus_meter(device.type, device.index or 0)


def environment(device: torch.device, settings: dict[str, str | int | float | bool | None]) -> Environment:
    host = probe(use_torch=True)
    devices: list[str] = []
    if device.type == "cuda":
        devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    elif device.type == "mps":
        devices = [g.name for g in host.gpus] or ["Apple GPU (MPS)"]
    driver = next((g.driver for g in host.gpus if g.driver), None)
    limit = gpu_memory_limit.read()  # what macOS lets the GPU use (None off macOS)
    settings = {**settings, **engines.versions(), **({"gpu_working_set_note": limit.reason} if host.macos_version
                                                     and limit.reason else {})}
    return Environment(
        os=host.os, os_version=host.os_version, macos_version=host.macos_version, python=host.python,
        torch=torch.__version__, backend=device.type, driver=driver,  # type: ignore[arg-type]
        cuda=torch.version.cuda if device.type == "cuda" else None, devices=devices, cpu=host.cpu,
        cpu_cores=host.cpu_cores, ram_gb=host.ram_gb, hostname_hash=host.hostname_hash, settings=settings,
        **limit.environment_fields(),
    )


def prepare(opts: RunOptions, machine: Machine | None) -> tuple[Context, list[Task], dict[str, object]]:
    device = pick_device(opts.device)
    usable, usable_source = usable_memory(machine, device)
    ctx = Context(device=device, policy=POLICIES[opts.suite], usable_memory_gb=usable, quick=opts.suite == "quick")
    tasks = SUITES[opts.suite](ctx)
    # llama.cpp in process where llama-cpp-python is installed, and through llama-bench (engines.py)
    tasks += engines.llama_tasks(opts.suite, opts.gguf, opts.llama_bench)
    tasks = select(tasks, opts.workloads)
    info: dict[str, object] = {"usable_memory_gb": usable, "usable_memory_source": usable_source}
    return ctx, tasks, info


def run(opts: RunOptions, machine: Machine | None, machine_id: str, version: str,
        on_start: Callable[[Task, int, int], None] = lambda t, i, n: None,
        on_done: Callable[[Task, list[Result], float], None] = lambda t, r, s: None,
        state: RunState | None = None, on_saving: Callable[[], None] = lambda: None) -> RunRecord:
    """Run the suite; always returns a record (status interrupted on Ctrl-C). `on_saving` is called
    when the measuring is over, before the record is assembled: the CLI defers signals from there
    until the record is written (stop_signal.RunSignals)."""
    state = state or RunState(started_at=dt.datetime.now(dt.timezone.utc))
    ctx, tasks, info = prepare(opts, machine)
    meter = make_meter(opts.energy, ctx.device, machine)
    settings: dict[str, str | int | float | bool | None] = {
        "suite": opts.suite, "device": str(ctx.device), "workload_filter": ",".join(opts.workloads) or None,
        "energy": opts.energy, "energy_meter": meter.method, "energy_covers": meter.covers,
        "energy_note": meter.reason, "min_reps": ctx.policy.min_reps, "min_time_s": ctx.policy.min_time_s,
        "usable_memory_gb": info["usable_memory_gb"], "usable_memory_source": str(info["usable_memory_source"]),
        "torch_num_threads": torch.get_num_threads(), "platform": platform.platform(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "costperf_gemv_configs": os.environ.get("COSTPERF_GEMV_CONFIGS"),
        "costperf_i8_convert": os.environ.get("COSTPERF_I8_CONVERT"),
    }
    settings.update(compile_cache.use_persistent_cache())
    idle_w: float | None = None
    try:
        if meter.available:
            idle_w, idle_note = idle_power(meter, opts.idle_s)
            settings["idle_note"] = idle_note
        ctx.meter, ctx.idle_w = meter, idle_w
        for i, task in enumerate(tasks):
            on_start(task, i, len(tasks))
            t0 = time.perf_counter()
            out = task.fn(ctx)
            state.results.extend(out)
            on_done(task, out, time.perf_counter() - t0)
        on_saving()  # inside the try: a signal just before it still counts as the interruption
    except KeyboardInterrupt:
        state.interrupted = True
        on_saving()
    env = environment(ctx.device, settings)
    return RunRecord(
        machine=machine_id, started_at=state.started_at, ended_at=dt.datetime.now(dt.timezone.utc),
        costperf_version=version, git_commit=git_commit(), environment=env, suite=opts.suite, weights="random",
        idle_power_w=idle_w, results=list(state.results), status="interrupted" if state.interrupted else "complete",
        notes=("Model weights are random, created in the target dtype on the device: throughput does not "
               "depend on weight values. Timing: warm-up (compile) excluded and recorded as compile_s; repeats "
               f"until >= {ctx.policy.min_reps} and >= {ctx.policy.min_time_s} s; figure = median."),
    )
