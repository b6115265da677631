"""Small synthetic data folders for the report's tests and render benchmark (never for data/).

Every record goes through the pydantic models and `store.write_new`, so a generated folder is
exactly what `costperf validate` accepts. The figures are round, made-up test values chosen so
that expected metrics can be computed by hand; they describe no real machine.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from collectors import store
from collectors.records import (
    Accelerator, Citation, Distributed, Energy, Environment, Machine, PcieLink, Power, Price, PublishedResult,
    PublishedSet, RankFigure, Result, RunRecord, Source, Stats, UsableMemory, WorkloadParams,
)

SOURCE = Source(id="spec", url="https://example.org/spec", title="Example spec sheet",
                published=dt.date(2025, 1, 1))


def machine(id: str, name: str, vendor: str = "nvidia", form: str = "desktop", memory_gb: float = 24.0,
            unified: bool = False, bandwidth_gbps: float | None = 1000.0, tdp_w: float | None = 400.0,
            price_usd: float | None = 2000.0, price_kind: str = "purchase", reserve_gb: float = 1.0,
            fraction: float = 0.75, count: int = 1) -> Machine:
    usable = (UsableMemory(rule="macos_default", fraction=fraction, provenance="estimated",
                           formula="macOS default working-set fraction")
              if unified else
              UsableMemory(rule="vram_less_reserve", reserve_gb=reserve_gb, provenance="estimated",
                           formula="VRAM less the reserve"))
    prices = ([Price(amount=price_usd, kind=price_kind, date=dt.date(2025, 6, 1),
                     source_url="https://example.org/price")] if price_usd else [])
    return Machine(
        id=id, name=name, vendor=vendor, form=form,
        accelerators=[Accelerator(name=f"{name} accelerator", count=count, memory_gb=memory_gb,
                                  memory_kind="unified" if unified else "dedicated",
                                  memory_bandwidth_gbps=bandwidth_gbps, sources=["spec"],
                                  host_link=None if unified else PcieLink(generation=4, lanes=16))],
        usable_memory=usable,
        power=Power(accelerator_tdp_w=tdp_w, sources=["spec"]) if tdp_w else None,
        prices=prices, sources=[SOURCE],
    )


def result(workload: str, samples: list[float], model: str = "llama-3-8b", dtype: str = "bf16",
           compile_mode: str | None = "eager", avg_w: float | None = None, window_s: float = 10.0,
           bytes_per_token: float | None = None, unit: str = "tokens/s") -> Result:
    energy = None
    if avg_w:
        energy = Energy(joules=avg_w * window_s, avg_w=avg_w, window_s=window_s, method="nvml", covers="gpu_board")
    # the suite's lengths (DESIGN.md): prefill 512 tokens; decode 128 after a 512-token prompt
    lengths = {"decode": (512, 128), "prefill": (512, 0)}.get(workload, (None, None))
    return Result(workload=workload, params=WorkloadParams(model=model, dtype=dtype, batch=1,
                                                           prompt_tokens=lengths[0], gen_tokens=lengths[1],
                                                           compile_mode=compile_mode, engine="torch"),
                  status="ok", throughput=Stats.of(samples, unit), energy=energy,
                  bytes_per_token=bytes_per_token)


def distributed_result(workload: str, world_size: int, samples: list[float], model: str = "gpt2-124m",
                       avg_w: float | None = None, window_s: float = 10.0, backend: str = "nccl",
                       nodes: int = 1, launched: int | None = None) -> Result:
    """A torchrun workload's result at `world_size` ranks: group tokens/s samples, the group's
    summed energy (`avg_w` for all ranks together), one RankFigure per rank."""
    energy = None
    if avg_w:
        energy = Energy(joules=avg_w * window_s, avg_w=avg_w, window_s=window_s, method="nvml", covers="gpu_board")
    per_node = max(world_size // nodes, 1)
    ranks = [RankFigure(rank=i, local_rank=i % per_node, node_rank=i // per_node, device=f"cuda:{i % per_node}")
             for i in range(world_size)]
    dist = Distributed(world_size=world_size, launched_world_size=launched or world_size, nodes=nodes,
                       nproc_per_node=per_node, backend=backend,
                       interconnect="nvlink" if world_size > 1 else "none", per_rank=ranks)
    return Result(workload=workload, params=WorkloadParams(model=model, dtype="bf16", batch=8, seq_len=1024,
                                                           compile_mode="eager", engine="torch"),
                  status="ok", throughput=Stats.of(samples, "tokens/s"), energy=energy, distributed=dist)


def run(machine_id: str, started_at: dt.datetime, results: list[Result]) -> RunRecord:
    return RunRecord(
        machine=machine_id, started_at=started_at, ended_at=started_at + dt.timedelta(minutes=5),
        costperf_version="0.1.0",
        environment=Environment(os="Linux", os_version="6.1", python="3.11.7", torch="2.13.0", backend="cuda"),
        results=results, status="complete",
    )


def published(id: str, rows: list[PublishedResult], role: str = "benchmark") -> PublishedSet:
    return PublishedSet(id=id, role=role, results=rows,
                        citation=Citation(url="https://example.org/bench", title=f"Example publication {id}",
                                          date=dt.date(2025, 3, 1)))


def write_machine(root: Path, m: Machine) -> Path:
    text = yaml.safe_dump(m.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True)
    return store.write_new(root / "machines" / f"{m.id}.yaml", text)


def write_published(root: Path, ps: PublishedSet) -> Path:
    text = yaml.safe_dump(ps.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True)
    return store.write_new(root / "published" / f"{ps.id}.yaml", text)


EXAMPLE_MACHINES = [
    machine("example-gpu-desktop", "Example GPU desktop", memory_gb=24, bandwidth_gbps=1000, tdp_w=400,
            price_usd=2000),
    machine("example-gpu-laptop", "Example GPU laptop", form="laptop", memory_gb=16, bandwidth_gbps=500,
            tdp_w=150, price_usd=3000),
    machine("example-mac", "Example Mac", vendor="apple", form="mini", memory_gb=64, unified=True,
            bandwidth_gbps=400, tdp_w=None, price_usd=2500),
    machine("example-cloud-gpu", "Example cloud GPU", form="cloud", memory_gb=80, bandwidth_gbps=3000,
            tdp_w=700, price_usd=2.5, price_kind="cloud_hourly"),
]


def write_example(root: Path, n_runs: int = 8) -> Path:
    """Four example machines and `n_runs` run files spread over the three NVIDIA ones."""
    for m in EXAMPLE_MACHINES:
        write_machine(root, m)
    measured = ["example-gpu-desktop", "example-gpu-laptop", "example-cloud-gpu"]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for i in range(n_runs):
        mid = measured[i % len(measured)]
        scale = {"example-gpu-desktop": 1.0, "example-gpu-laptop": 0.5, "example-cloud-gpu": 3.0}[mid]
        jitter = 1.0 + (i % 7) * 0.01
        results = [
            result("decode", [40 * scale * jitter, 41 * scale * jitter, 42 * scale * jitter], avg_w=200 * scale,
                   bytes_per_token=15.01e9 if mid != "example-gpu-laptop" else None),
            result("decode", [60 * scale * jitter, 61 * scale * jitter], compile_mode="reduce-overhead",
                   avg_w=180 * scale, bytes_per_token=15.01e9 if mid != "example-gpu-laptop" else None),
            result("prefill", [4000 * scale * jitter, 4100 * scale * jitter], avg_w=300 * scale),
            result("train-gpt2", [50000 * scale * jitter, 51000 * scale * jitter], model="gpt2-124m",
                   avg_w=350 * scale),
            result("memcpy", [900 * scale, 910 * scale], model=None, dtype=None, compile_mode=None, unit="GB/s"),
        ]
        store.write_run(root, run(mid, start + dt.timedelta(hours=i), results))
    write_published(root, published("example-llama-bench", [
        PublishedResult(hardware="Example Mac", machine="example-mac", workload="decode", model="llama-2-7b",
                        dtype="q4_0", engine="llama.cpp", prompt_tokens=0, gen_tokens=128, batch=1,
                        tokens_per_s=50.0),
        PublishedResult(hardware="Example Mac", machine="example-mac", workload="prefill", model="llama-2-7b",
                        dtype="q4_0", engine="llama.cpp", prompt_tokens=512, gen_tokens=0, batch=1,
                        tokens_per_s=500.0),
    ]))
    return root
