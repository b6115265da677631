"""What every rank of a torchrun launch shares: its place in the world, the process groups, the
timing loop and the gathering of per-rank figures to rank 0.

torchrun (torch.distributed.run) starts the ranks and sets RANK, LOCAL_RANK, WORLD_SIZE,
GROUP_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT; init_process_group reads them
(env://). NCCL carries the workloads on CUDA, gloo everywhere else; a separate gloo group carries
the small Python objects (figures, errors) so gathering them never touches a GPU stream.

Scaling from 1 to N ranks happens inside one launch: the first k ranks form a subgroup, run the
workload, and the others wait; so every scale is measured on the same processes and hosts.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import signal
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from collectors.distributed import interconnect
from collectors.meters.base import Meter, NullMeter, Reading
from collectors.workloads.common import TimingPolicy, sync

FAULT_ENV = "COSTPERF_FAULT"
"""Fault injection for tests: 'kill:RANK:WORKLOAD:STEP' SIGKILLs rank RANK, 'raise:...' raises in it,
at timed step STEP of WORKLOAD (e.g. 'kill:1:ddp-train:2')."""

ERROR_KEY = "costperf/error/{rank}"


@dataclass
class RankInfo:
    rank: int
    local_rank: int
    node_rank: int
    host: str
    device: str
    gpu_index: int | None  # nvidia-smi index of its GPU, for the topology matrix
    meter_method: str | None
    meter_covers: str | None
    meter_reason: str | None


@dataclass
class NodeInfo:
    node_rank: int
    topo: str | None  # nvidia-smi topo -m of that host
    network: interconnect.Link | None  # the link towards the rendezvous host (multi-node only)


@dataclass
class DistContext:
    rank: int
    local_rank: int
    world_size: int
    node_rank: int
    nnodes: int
    nproc_per_node: int
    device: torch.device
    backend: str
    control: Any  # gloo ProcessGroup for Python objects
    policy: TimingPolicy
    meter: Meter
    ranks: list[RankInfo] = field(default_factory=list)
    nodes: dict[int, NodeInfo] = field(default_factory=dict)
    groups: dict[int, Any] = field(default_factory=dict)  # size -> group of ranks [0, size)
    quick: bool = False
    force_staging: bool = False  # run the Mac (MPS) data-parallel path on CPU ranks, to test it
    log: Callable[[str], None] = lambda msg: None

    @property
    def staged_through_cpu(self) -> bool:
        return self.device.type == "mps" or self.force_staging

    def group(self, size: int) -> Any:
        return self.groups[size]

    def member(self, size: int) -> bool:
        return self.rank < size


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def pick_rank_device(local_rank: int, requested: str | None) -> torch.device:
    """cuda:LOCAL_RANK when CUDA is there (one GPU per rank), else mps, else cpu."""
    kind = requested or ("cuda" if torch.cuda.is_available() else
                         "mps" if torch.backends.mps.is_available() else "cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda: torch sees no CUDA device")
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"local rank {local_rank} has no GPU: torch sees {torch.cuda.device_count()} "
                               "(--nproc-per-node must not exceed the GPUs of a host)")
        return torch.device("cuda", local_rank)
    return torch.device(kind)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def _gpu_index(device: torch.device) -> int | None:
    """nvidia-smi's index of a CUDA device, matched by PCI bus id (CUDA and nvidia-smi may order
    GPUs differently, and CUDA_VISIBLE_DEVICES renumbers them)."""
    if device.type != "cuda":
        return None
    props = torch.cuda.get_device_properties(device)
    bus = getattr(props, "pci_bus_id", None)
    dom = getattr(props, "pci_domain_id", None)
    dev = getattr(props, "pci_device_id", None)
    by_bus = interconnect.nvidia_smi_index_by_bus()
    if bus is not None and dom is not None and dev is not None:
        key = interconnect.normalise_bus_id(f"{dom:x}:{bus:02x}:{dev:02x}.0")
        if key in by_bus:
            return by_bus[key]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        parts = [p.strip() for p in visible.split(",")]
        if device.index is not None and device.index < len(parts) and parts[device.index].isdigit():
            return int(parts[device.index])
    return device.index


def make_rank_meter(energy: str, device: torch.device, tdp_w: float | None) -> Meter:
    """Each rank's own meter: its GPU's NVML counter, or the host's RAPL / Apple SoC counter."""
    if energy == "off":
        return NullMeter("energy measurement turned off (--energy off)")
    if energy == "estimate":
        if tdp_w is None:
            return NullMeter("--energy estimate needs the machine file's accelerator TDP")
        from collectors.meters.base import EstimateMeter  # noqa: PLC0415

        return EstimateMeter(tdp_w, "gpu_board" if device.type == "cuda" else "soc")
    from collectors.meters.zeus_meter import zeus_meter  # noqa: PLC0415

    return zeus_meter(device.type, device.index or 0)


def init(requested_device: str | None, policy: TimingPolicy, energy: str, tdp_w: float | None,
         sizes: list[int], timeout_s: float, quick: bool, host_hash: str) -> DistContext:
    """Join the process group torchrun prepared and learn the topology of every rank."""
    rank = env_int("RANK", 0)
    local_rank = env_int("LOCAL_RANK", 0)
    world = env_int("WORLD_SIZE", 1)
    node_rank = env_int("GROUP_RANK", 0)
    nproc = env_int("LOCAL_WORLD_SIZE", world)
    device = pick_rank_device(local_rank, requested_device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = dt.timedelta(seconds=timeout_s)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group(backend, timeout=timeout, device_id=device)
    else:
        dist.init_process_group(backend, timeout=timeout)
    control = dist.new_group(backend="gloo", timeout=timeout) if backend != "gloo" else dist.group.WORLD
    groups: dict[int, Any] = {}
    for size in sorted(set(sizes)):
        # every rank calls new_group for every subgroup, in the same order (a collective call)
        groups[size] = dist.group.WORLD if size == world else dist.new_group(ranks=list(range(size)), timeout=timeout)
    meter = make_rank_meter(energy, device, tdp_w)
    me = RankInfo(rank, local_rank, node_rank, host_hash, device_label(device), _gpu_index(device),
                  meter.method, meter.covers, meter.reason)
    ranks: list[Any] = [None] * world
    dist.all_gather_object(ranks, me, group=control)
    node = None
    if local_rank == 0:
        topo = interconnect.nvidia_smi_topo() if device.type == "cuda" and nproc > 1 else None
        nnodes_guess = env_int("GROUP_WORLD_SIZE", 1)
        chosen = os.environ.get("NCCL_SOCKET_IFNAME" if backend == "nccl" else "GLOO_SOCKET_IFNAME")
        network = None
        if nnodes_guess > 1:
            rdma = interconnect.rdma_link() if backend == "nccl" and os.environ.get("NCCL_IB_DISABLE") != "1" else None
            network = rdma or interconnect.network_link(os.environ.get("MASTER_ADDR", "127.0.0.1"), chosen)
        node = NodeInfo(node_rank, topo, network)
    nodes: list[Any] = [None] * world
    dist.all_gather_object(nodes, node, group=control)
    node_map = {n.node_rank: n for n in nodes if n is not None}
    return DistContext(
        rank=rank, local_rank=local_rank, world_size=world, node_rank=node_rank,
        nnodes=len({r.node_rank for r in ranks}), nproc_per_node=nproc, device=device, backend=backend,
        control=control, policy=policy, meter=meter, ranks=ranks, nodes=node_map, groups=groups, quick=quick,
    )


def link_for(dctx: DistContext, size: int) -> interconnect.Link:
    """The slowest link among ranks [0, size)."""
    members = dctx.ranks[:size]
    if size == 1:
        return interconnect.Link("none", "one rank: nothing crosses a link")
    node_ranks = sorted({r.node_rank for r in members})
    links: list[interconnect.Link] = []
    if len(node_ranks) > 1:
        for n in node_ranks:
            info = dctx.nodes.get(n)
            links.append(info.network if info and info.network else interconnect.Link("unknown", f"node {n}: no route read"))
    for n in node_ranks:
        on_node = [r for r in members if r.node_rank == n]
        if len(on_node) < 2:
            continue
        if dctx.device.type == "cuda":
            info = dctx.nodes.get(n)
            matrix = interconnect.parse_topo_matrix(info.topo or "") if info else {}
            gpus = [r.gpu_index for r in on_node if r.gpu_index is not None]
            links.append(interconnect.gpu_link(matrix, gpus) if matrix else
                         interconnect.Link("unknown", "nvidia-smi topo -m not readable"))
        else:
            links.append(interconnect.Link("loopback", f"{len(on_node)} {dctx.device.type} ranks on one host: "
                                                       "gloo over TCP loopback"))
    return interconnect.slowest(links)


def barrier(dctx: DistContext, size: int) -> None:
    """All ranks of the subgroup reach this point, device work included."""
    t = torch.zeros(1, device=dctx.device if dctx.backend == "nccl" else "cpu")
    dist.all_reduce(t, group=dctx.group(size))
    sync(dctx.device)


def agree_max(dctx: DistContext, size: int, value: float) -> float:
    t = torch.tensor([float(value)], device=dctx.device if dctx.backend == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=dctx.group(size))
    return float(t.item())


def maybe_fault(dctx: DistContext, workload: str, step: int) -> None:
    spec = os.environ.get(FAULT_ENV, "")
    if not spec:
        return
    action, rank, name, at = spec.split(":")
    if int(rank) == dctx.rank and name == workload and int(at) == step:
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError(f"injected fault ({FAULT_ENV}={spec})")


@dataclass
class RankTiming:
    """One rank's timed repeats of a step."""

    seconds: list[float]
    window_s: float
    reading: Reading | None
    compile_s: float
    reps: int


def timed_steps(dctx: DistContext, size: int, workload: str, step: Callable[[], Any],
                warmup_reps: int | None = None, max_reps: int = 10_000) -> RankTiming:
    """Warm up, agree on a repeat count across the subgroup, then time each repeat between device
    synchronisations inside this rank's meter window. Every rank runs the same number of repeats
    (collectives inside `step` need it)."""
    policy = dctx.policy
    t0 = time.perf_counter()
    for _ in range(policy.warmup_reps if warmup_reps is None else warmup_reps):
        step()
    sync(dctx.device)
    compile_s = time.perf_counter() - t0
    barrier(dctx, size)
    t0 = time.perf_counter()
    step()
    sync(dctx.device)
    probe = agree_max(dctx, size, time.perf_counter() - t0)
    want = max(policy.min_reps, math.ceil(policy.min_time_s / max(probe, 1e-9)))
    cap = max(policy.min_reps, int(policy.max_time_s / max(probe, 1e-9)))
    reps = int(agree_max(dctx, size, min(want, cap, max_reps)))
    barrier(dctx, size)
    seconds: list[float] = []
    dctx.meter.begin()
    start = time.perf_counter()
    for i in range(reps):
        maybe_fault(dctx, workload, i)
        t0 = time.perf_counter()
        step()
        sync(dctx.device)
        seconds.append(time.perf_counter() - t0)
    reading = dctx.meter.end()
    window = time.perf_counter() - start
    return RankTiming(seconds, window, reading, compile_s, reps)


def gather(dctx: DistContext, payload: Any) -> list[Any] | None:
    """The payloads of the ranks that took part (those that sent one), on rank 0; None on the other
    ranks. Every rank must call it, over the gloo control group, whether it took part or not."""
    out: list[Any] | None = [None] * dctx.world_size if dctx.rank == 0 else None
    dist.gather_object(payload, out, dst=0, group=dctx.control)
    return None if out is None else [p for p in out if p is not None]


def median(values: list[float]) -> float:
    return statistics.median(values)


def rank_dicts(dctx: DistContext) -> list[dict[str, Any]]:
    return [{"rank": r.rank, "local_rank": r.local_rank, "node_rank": r.node_rank, "host": r.host,
             "device": r.device} for r in dctx.ranks]


def payload(dctx: DistContext, timing: RankTiming, tokens_per_step: int | None = None,
            seconds: list[float] | None = None, **extra: Any) -> dict[str, Any]:
    """This rank's figures for rank 0: its repeat times, meter reading, memory and token count."""
    from collectors.workloads.common import peak_memory_gb  # noqa: PLC0415

    reading = timing.reading
    return {
        **rank_dicts(dctx)[dctx.rank],
        "seconds": seconds if seconds is not None else timing.seconds, "window_s": timing.window_s,
        "joules": reading.joules if reading else None, "method": reading.method if reading else None,
        "covers": reading.covers if reading else None,
        "update_period_s": reading.update_period_s if reading else None, "meter_reason": dctx.meter.reason,
        "peak_memory_gb": peak_memory_gb(dctx.device),
        "tokens": tokens_per_step * timing.reps if tokens_per_step is not None else None,
        "compile_s": timing.compile_s, **extra,
    }


def scale_of(dctx: DistContext, size: int) -> "Scale":
    from collectors.distributed.assemble import Scale  # noqa: PLC0415

    link = link_for(dctx, size)
    return Scale(world_size=size, launched_world_size=dctx.world_size,
                 nodes=len({r.node_rank for r in dctx.ranks[:size]}), nproc_per_node=dctx.nproc_per_node,
                 backend=dctx.backend, interconnect=link.kind, interconnect_detail=link.detail,
                 staged_through_cpu=dctx.staged_through_cpu)


def reset_memory(dctx: DistContext) -> None:
    from collectors.workloads.common import free_memory, reset_peak_memory  # noqa: PLC0415

    free_memory(dctx.device)
    reset_peak_memory(dctx.device)
