"""`costperf machine new`: a machine file pre-filled with what the probe detected.

What cannot be detected (bandwidth, prices, sources, the form factor) is written as a visible
`TODO` that `costperf validate` rejects until a contributor fills it in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml

from collectors.probe import HostInfo

TODO = "TODO"


def _vendor(info: HostInfo) -> str:
    names = " ".join(g.name for g in info.gpus).lower()
    if "nvidia" in names or any(g.how == "nvidia-smi" for g in info.gpus):
        return "nvidia"
    if info.os == "Darwin" and (info.cpu or "").startswith("Apple"):
        return "apple"
    if "amd" in names or "radeon" in names or (not info.gpus and (info.cpu_vendor or "").endswith("AMD")):
        return "amd"
    return "other"


def _accelerators(info: HostInfo) -> list[dict[str, Any]]:
    todo_bw = f"{TODO}: peak memory bandwidth in GB/s, from the spec sheet"
    if info.gpus and not (info.os == "Darwin"):
        by_name: dict[str, list[Any]] = {}
        for g in info.gpus:
            by_name.setdefault(g.name, []).append(g)
        return [
            {
                "name": name,
                "count": len(gs),
                "memory_gb": gs[0].memory_gb if gs[0].memory_gb else f"{TODO}: memory per GPU in GB",
                "memory_kind": "dedicated",
                "memory_bandwidth_gbps": todo_bw,
                "host_link": {"generation": f"{TODO}: PCIe generation", "lanes": 16},
                "provenance": "published",
                "sources": [f"{TODO}-spec-sheet"],
            }
            for name, gs in by_name.items()
        ]
    name = info.gpus[0].name if info.gpus else f"{info.cpu or TODO + ': CPU model'} (CPU)"
    return [
        {
            "name": name,
            "count": 1,
            "memory_gb": info.ram_gb if info.ram_gb else f"{TODO}: RAM in GB",
            "memory_kind": "unified",
            "memory_bandwidth_gbps": todo_bw,
            "provenance": "published",
            "sources": [f"{TODO}-spec-sheet"],
        }
    ]


def _usable(info: HostInfo, vendor: str) -> dict[str, Any]:
    if info.os == "Darwin":
        return {
            "rule": "macos_default",
            "fraction": 0.75,
            "provenance": "estimated",
            "formula": "Metal recommendedMaxWorkingSetSize is about 75% of RAM at 32-96 GB (2/3 at 16 GB, "
                       "84% at 128 GB on macOS 26); replace with the value your Mac reports",
        }
    if info.gpus:
        return {"rule": "vram_less_reserve", "reserve_gb": 1.0, "provenance": "estimated",
                "formula": "VRAM less 1 GB for the CUDA context and allocator fragmentation"}
    return {"rule": "ram_less_reserve", "reserve_gb": 4.0, "provenance": "estimated",
            "formula": "RAM less 4 GB for the operating system"}


def scaffold(machine_id: str, info: HostInfo, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    vendor = _vendor(info)
    doc: dict[str, Any] = {
        "schema_version": 1,
        "id": machine_id,
        "name": f"{TODO}: display name, e.g. 'Desktop (RTX 4090, 24 GB)'",
        "vendor": vendor,
        "form": f"{TODO}: one of laptop, desktop, mini, workstation, server, cloud",
        "cpu": info.cpu or f"{TODO}: CPU model",
        "system_ram_gb": info.ram_gb if info.ram_gb else f"{TODO}: RAM in GB",
        "accelerators": _accelerators(info),
        "usable_memory": _usable(info, vendor),
        "power": {
            "accelerator_tdp_w": f"{TODO}: accelerator TDP in W (remove if unpublished)",
            "provenance": "published",
            "sources": [f"{TODO}-spec-sheet"],
        },
        "prices": [
            {
                "amount": f"{TODO}: price as a number",
                "currency": "USD",
                "kind": "purchase",
                "date": today,
                "source_url": f"{TODO}: https:// address of the price",
                "note": "what the price covers",
            }
        ],
        "sources": [
            {"id": f"{TODO}-spec-sheet", "url": f"{TODO}: https:// address of the spec sheet",
             "title": f"{TODO}: title of the page", "accessed": today}
        ],
        "notes": f"Scaffold written by `costperf machine new` on {today.isoformat()} on a {info.os} "
                 f"{info.machine_arch} host ({info.cpu_cores} cores). " + " ".join(info.reasons),
    }
    header = (
        "# yaml-language-server: $schema=../schema/machine.schema.json\n"
        "# Fill in every TODO (with a source for each published figure), then run `costperf validate`.\n"
    )
    return header + yaml.dump(doc, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=110)


class _NoAliasDumper(yaml.SafeDumper):
    """Writes repeated values in full: anchors and aliases would puzzle a contributor."""

    def ignore_aliases(self, data: Any) -> bool:
        return True
