"""What macOS lets the GPU use: Metal's recommendedMaxWorkingSetSize and the iogpu wired limit.

On Apple Silicon the GPU shares RAM with the CPU, but macOS caps what the GPU may keep resident:
Metal reports the cap as `recommendedMaxWorkingSetSize` (roughly two thirds to three quarters of
RAM by default) and `sudo sysctl iogpu.wired_limit_mb=N` raises it (0 means the default). A run on
a Mac records both, so the report uses that Mac's measured cap instead of a rule of thumb.

The cap is read through torch (`torch.mps.recommended_max_memory()`, torch >= 2.5) or MLX
(`device_info()["max_recommended_working_set_size"]`), whichever is present and sees Metal.
Every reader fails soft: a value it cannot read is None and `reason` says why.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GpuMemoryLimit:
    working_set_gb: float | None = None
    source: str | None = None
    wired_limit_mb: int | None = None
    reason: str | None = None

    def environment_fields(self) -> dict[str, Any]:
        """The Environment fields of a run record."""
        return {"gpu_working_set_gb": self.working_set_gb, "gpu_working_set_source": self.source,
                "gpu_wired_limit_mb": self.wired_limit_mb}


def parse_wired_limit(text: str | None) -> int | None:
    """`sysctl -n iogpu.wired_limit_mb` output -> MB (0: macOS default); None when not a number."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*", text)
    return int(m.group(1)) if m else None


def wired_limit_mb() -> int | None:
    if shutil.which("sysctl") is None:
        return None
    try:
        out = subprocess.run(["sysctl", "-n", "iogpu.wired_limit_mb"], capture_output=True, text=True, timeout=5,
                             check=True)
    except (OSError, subprocess.SubprocessError):
        return None  # older macOS (before 14) names it debug.iogpu.wired_limit; not recorded there
    return parse_wired_limit(out.stdout)


def from_torch(torch: Any) -> tuple[float | None, str]:
    """(GB, source) from torch's MPS backend, or (None, why not)."""
    mps = getattr(torch, "mps", None)
    if not getattr(getattr(torch, "backends", None), "mps", None) or not torch.backends.mps.is_available():
        return None, "torch sees no MPS device"
    if mps is None or not hasattr(mps, "recommended_max_memory"):
        return None, f"torch {torch.__version__} has no torch.mps.recommended_max_memory() (2.5 or newer has)"
    return mps.recommended_max_memory() / 1e9, "torch.mps.recommended_max_memory()"


def from_mlx(mx: Any) -> tuple[float | None, str]:
    """(GB, source) from MLX on Metal, or (None, why not)."""
    metal = getattr(mx, "metal", None)
    if metal is None or not metal.is_available():
        return None, "MLX sees no Metal device"
    info_fn = getattr(mx, "device_info", None) or metal.device_info  # moved from mx.metal in MLX 0.29
    value = info_fn().get("max_recommended_working_set_size")
    if not value:
        return None, "MLX's device_info() gives no max_recommended_working_set_size"
    return int(value) / 1e9, "mlx device_info()['max_recommended_working_set_size']"


def read() -> GpuMemoryLimit:
    """The limit on this machine: everything None (with the reason) off macOS."""
    if platform.system() != "Darwin":
        return GpuMemoryLimit(reason=f"not macOS ({platform.system()}): the GPU limit applies to Apple machines")
    reasons = []
    readers = []
    if importlib.util.find_spec("torch") is not None:
        readers.append(("torch", from_torch))
    if importlib.util.find_spec("mlx") is not None:
        readers.append(("mlx.core", from_mlx))
    wired = wired_limit_mb()
    for module, reader in readers:
        try:
            gb, how = reader(importlib.import_module(module))
        except Exception as exc:  # noqa: BLE001 - a reader that breaks must not stop the run record
            gb, how = None, f"{module}: {type(exc).__name__}: {exc}"
        if gb:
            return GpuMemoryLimit(gb, how, wired)
        reasons.append(how)
    return GpuMemoryLimit(None, None, wired, "; ".join(reasons) or "neither torch nor MLX is installed")
