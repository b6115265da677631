"""Small valid data folders for tests, built from plain dicts the way a contributor writes them."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import yaml

MACHINE: dict[str, Any] = {
    "schema_version": 1,
    "id": "test-desktop",
    "name": "Test desktop (RTX 4090, 24 GB)",
    "vendor": "nvidia",
    "form": "desktop",
    "system_ram_gb": 64,
    "accelerators": [
        {
            "name": "NVIDIA GeForce RTX 4090",
            "count": 1,
            "memory_gb": 24,
            "memory_kind": "dedicated",
            "memory_bandwidth_gbps": 1008,
            "peak_bf16_tflops": 165,
            "host_link": {"generation": 4, "lanes": 16},
            "sources": ["spec"],
        }
    ],
    "usable_memory": {"rule": "vram_less_reserve", "reserve_gb": 1.0, "provenance": "estimated",
                      "formula": "VRAM less 1 GB"},
    "power": {"accelerator_tdp_w": 450, "sources": ["spec"]},
    "prices": [
        {"amount": 1599, "currency": "USD", "kind": "purchase", "date": dt.date(2022, 10, 12),
         "source_url": "https://example.org/price", "note": "launch price"}
    ],
    "sources": [{"id": "spec", "url": "https://example.org/spec", "title": "Spec sheet"}],
}


def run_dict(machine: str = "test-desktop", start: str = "2026-01-02T03:04:05Z") -> dict[str, Any]:
    return {
        "schema_version": 1,
        "machine": machine,
        "started_at": start,
        "ended_at": start.replace("03:04:05", "03:14:05"),
        "costperf_version": "0.1.0",
        "git_commit": "abc1234",
        "environment": {"os": "Linux", "os_version": "6.1", "python": "3.11.7", "torch": "2.13.0",
                        "backend": "cpu", "devices": [], "cpu": "Test CPU", "cpu_cores": 2},
        "suite": "quick",
        "results": [
            {
                "workload": "decode",
                "params": {"model": "tiny", "dtype": "fp32", "batch": 1, "prompt_tokens": 16,
                           "gen_tokens": 8, "compile_mode": "eager"},
                "status": "ok",
                "throughput": {"unit": "tokens/s", "samples": [10.0, 11.0, 12.0], "median": 11.0,
                               "mean": 11.0, "stdev": 1.0, "mad": 1.0},
            },
            {"workload": "decode", "params": {"model": "llama-3-70b", "dtype": "bf16"},
             "status": "does_not_fit", "message": "needs 141 GB, 23 GB usable"},
        ],
        "status": "complete",
    }


def stamp(start: str) -> str:
    return start.replace("-", "").replace(":", "")


def write_folder(root: Path, machine: dict[str, Any] | None = None,
                 runs: list[dict[str, Any]] | None = None) -> Path:
    (root / "machines").mkdir(parents=True)
    m = copy.deepcopy(machine or MACHINE)
    (root / "machines" / f"{m['id']}.yaml").write_text(yaml.safe_dump(m, sort_keys=False))
    for run in runs if runs is not None else [run_dict()]:
        folder = root / "runs" / run["machine"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{stamp(run['started_at'])}.json").write_text(json.dumps(run, indent=2))
    return root


def folder_hash(root: Path) -> str:
    """One digest of every file under `root`, names and bytes: equal only when nothing changed."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def signal_on_line(proc: "subprocess.Popen[str]", prefix: str, sig: int = signal.SIGTERM) -> str:
    """Read a process's output until a line starts with `prefix`, send it `sig` there (as a service
    manager or a user would, mid-task), and return everything it printed, to its end."""
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(prefix):
            proc.send_signal(sig)
            break
    return "".join(lines) + proc.stdout.read()
