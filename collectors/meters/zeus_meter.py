"""Energy through zeus (ML.ENERGY): NVIDIA via NVML's total-energy counter, Apple Silicon via
zeus-apple-silicon (IOReport, no sudo), CPU package and DRAM via RAPL where readable.

zeus does the device discovery and the counter arithmetic; this wrapper only maps its Measurement
onto costperf's Reading (method, what it covers, update period) and turns "cannot measure here"
into a NullMeter with the reason.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from typing import Any

from collectors.meters.base import NullMeter, Reading, update_period
from collectors.meters.clocks import ClockSampler, clock_sampler

_KEY = "costperf"


class ZeusMeter:
    """One zeus window at a time on the chosen device."""

    def __init__(self, monitor: Any, method: str, covers: str, gpu_index: int | None,
                 update_period_s: float | None, clocks: ClockSampler | None = None):
        self.monitor = monitor
        self.method = method
        self.covers = covers
        self.gpu_index = gpu_index
        self.update_period_s = update_period_s
        self.clocks = clocks  # NVIDIA: the SM clock and what held it down, over each window
        self.reason: str | None = None

    @property
    def available(self) -> bool:
        return True

    def begin(self) -> None:
        # the workload loop synchronises the device itself, right before this call
        self.monitor.begin_window(_KEY, sync_execution=False)
        if self.clocks is not None:
            self.clocks.start()

    def end(self) -> Reading | None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zeus warns on 0 J windows; to_energy reports that itself
            m = self.monitor.end_window(_KEY, sync_execution=False)
        clocks = self.clocks.stop() if self.clocks is not None else None
        if self.method == "nvml":
            joules = m.gpu_energy[self.gpu_index]
        elif self.method == "rapl":
            joules = sum((m.cpu_energy or {}).values()) + sum((m.dram_energy or {}).values())
        else:
            joules = soc_joules(m.soc_energy)
        return Reading(joules, m.time, self.method, self.covers, self.update_period_s, clocks=clocks)


def soc_joules(soc: Any) -> float:
    """Whole-SoC energy from an AppleSiliconMeasurement, mJ -> J: CPU total, GPU, GPU SRAM, DRAM and
    ANE (the per-core and per-cluster fields are parts of cpu_total and are not added again)."""
    fields = ("cpu_total_mj", "gpu_mj", "gpu_sram_mj", "dram_mj", "ane_mj")
    return sum(getattr(soc, f) or 0 for f in fields) / 1000.0


def zeus_meter(device_type: str, device_index: int = 0) -> ZeusMeter | NullMeter:
    """The zeus meter for a torch device type, or a NullMeter saying why there is none."""
    if importlib.util.find_spec("zeus") is None:
        return NullMeter("zeus is not installed (pip install 'costperf[bench]')")
    logging.getLogger("zeus").setLevel(logging.ERROR)
    from zeus.monitor import ZeusMonitor  # noqa: PLC0415

    try:
        if device_type == "cuda":
            monitor = ZeusMonitor(gpu_indices=[device_index], cpu_indices=[])
            gpus = monitor.gpus
            if len(gpus) <= device_index:
                return NullMeter("zeus found no NVIDIA GPU through NVML")
            if not gpus.supports_get_total_energy_consumption(device_index):
                return NullMeter("this GPU has no NVML total-energy counter (needs Volta or newer)")
            period = update_period(lambda: gpus.get_total_energy_consumption(device_index))
            return ZeusMeter(monitor, "nvml", "gpu_board", device_index, period, clock_sampler(monitor, device_index))
        if device_type == "mps":
            monitor = ZeusMonitor(gpu_indices=[], cpu_indices=[])
            if not monitor.soc_is_present:
                return NullMeter("zeus-apple-silicon is not installed or this is not Apple Silicon")
            return ZeusMeter(monitor, "apple_ioreport", "soc", None, None)
        monitor = ZeusMonitor(gpu_indices=[], cpu_indices=None)
        if not monitor.cpu_indices:
            return NullMeter("no readable RAPL counters (Intel/AMD /sys/class/powercap/intel-rapl, usually "
                             "root only) and no other CPU meter")
        has_dram = any(monitor.cpus.supports_get_dram_energy_consumption(i) for i in monitor.cpu_indices)
        return ZeusMeter(monitor, "rapl", "cpu_package_dram" if has_dram else "cpu_package", None, None)
    except Exception as exc:  # noqa: BLE001 - any probe failure means "cannot measure here"
        return NullMeter(f"zeus could not start a monitor: {type(exc).__name__}: {exc}")
