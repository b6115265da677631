"""What machine is this: CPU, RAM, OS, GPUs, as far as can be read without privileges.

Every probe fails soft: a value it cannot read is None, and `reasons` says why. torch is imported
only when a caller asks for GPU details and torch is installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field


@dataclass
class Gpu:
    name: str
    memory_gb: float | None = None
    driver: str | None = None
    how: str = ""


@dataclass
class HostInfo:
    os: str
    os_version: str
    macos_version: str | None
    machine_arch: str
    python: str
    cpu: str | None
    cpu_vendor: str | None
    cpu_cores: int | None
    ram_gb: float | None
    gpus: list[Gpu] = field(default_factory=list)
    hostname_hash: str = ""
    reasons: list[str] = field(default_factory=list)


def _run(cmd: list[str], timeout: float = 10) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _cpu_linux() -> tuple[str | None, str | None]:
    try:
        text = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return None, None
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    vendor = re.search(r"^vendor_id\s*:\s*(.+)$", text, re.M)
    if model is None:  # Arm kernels name the CPU differently
        model = re.search(r"^(?:Hardware|Model)\s*:\s*(.+)$", text, re.M)
    return (model.group(1).strip() if model else None), (vendor.group(1).strip() if vendor else None)


def _ram_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        pass
    out = _run(["sysctl", "-n", "hw.memsize"])
    return round(int(out) / 1e9, 1) if out and out.isdigit() else None


def _nvidia_smi() -> list[Gpu]:
    out = _run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"])
    gpus = []
    for line in (out or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            mem = float(parts[1]) * 1024**2 / 1e9 if re.fullmatch(r"[\d.]+", parts[1]) else None
            gpus.append(Gpu(parts[0], round(mem, 1) if mem else None, parts[2], "nvidia-smi"))
    return gpus


def _torch_gpus() -> list[Gpu]:
    if importlib.util.find_spec("torch") is None:
        return []
    import torch  # noqa: PLC0415 - only when installed and asked for

    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpus.append(Gpu(props.name, round(props.total_memory / 1e9, 1), None, "torch.cuda"))
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        gpus.append(Gpu("Apple GPU (MPS)", None, None, "torch.mps"))
    return gpus


def probe(use_torch: bool = True) -> HostInfo:
    system = platform.system()
    reasons: list[str] = []
    cpu, vendor = (None, None)
    macos = None
    if system == "Linux":
        cpu, vendor = _cpu_linux()
    elif system == "Darwin":
        cpu = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        vendor = "Apple" if cpu and cpu.startswith("Apple") else None
        macos = platform.mac_ver()[0] or None
    cpu = cpu or platform.processor() or None
    if cpu is None:
        reasons.append("CPU model: not readable on this platform")
    gpus = _nvidia_smi()
    if not gpus and use_torch:
        gpus = _torch_gpus()
    if not gpus:
        reasons.append("GPU: none found (no nvidia-smi output; torch absent or sees no CUDA/MPS device)")
    if system == "Darwin" and cpu and cpu.startswith("Apple"):
        gpus = gpus or [Gpu(f"{cpu} GPU", None, None, "sysctl")]
    host = platform.node().encode()
    return HostInfo(
        os=system,
        os_version=platform.release(),
        macos_version=macos,
        machine_arch=platform.machine(),
        python=sys.version.split()[0],
        cpu=cpu,
        cpu_vendor=vendor,
        cpu_cores=os.cpu_count(),
        ram_gb=_ram_gb(),
        gpus=gpus,
        hostname_hash=hashlib.sha256(host).hexdigest()[:12],
        reasons=reasons,
    )
