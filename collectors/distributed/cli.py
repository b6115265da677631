"""The distributed branch of `costperf run --nproc-per-node N [--nnodes M --rdzv-endpoint HOST:PORT]`,
and `python -m collectors.distributed` with every knob (scales, compile, timeouts)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from collectors.distributed import WORKLOADS
from collectors.records import Machine


def run_distributed(data: Path, machine_id: str | None, machine: Machine | None, nproc_per_node: int,
                    nnodes: int = 1, rdzv_endpoint: str | None = None, suite: str = "quick",
                    workloads: tuple[str, ...] | list[str] = (), device: str | None = None, energy: str = "auto",
                    no_save: bool = False, scales: list[int] | None = None, compile: bool = False,
                    eager_decode: bool = False, timeout_s: float = 1800.0, rdzv_id: str = "costperf",
                    stage_through_cpu: bool = False) -> int:
    """Launch through torchrun; print where the run file is and what failed. Returns the exit status."""
    from collectors.distributed.launcher import LaunchOptions, launch  # noqa: PLC0415

    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        print(f"costperf: distributed workloads are {', '.join(WORKLOADS)}; unknown: {', '.join(unknown)}",
              file=sys.stderr)
        return 2
    tdp = machine.power.accelerator_tdp_w if machine is not None and machine.power is not None else None
    opts = LaunchOptions(data=data, machine=machine_id or "unsaved", nproc_per_node=nproc_per_node, nnodes=nnodes,
                         rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id, suite=suite, workloads=list(workloads),
                         scales=scales or [], device=device, energy=energy, tdp_w=tdp, timeout_s=timeout_s,
                         compile=compile, eager_decode=eager_decode, no_save=no_save,
                         stage_through_cpu=stage_through_cpu)
    try:
        outcome = launch(opts)
    except ValueError as exc:
        print(f"costperf: {exc}", file=sys.stderr)
        return 2
    if outcome.run_path is not None:
        print(f"Wrote {outcome.run_path}" + ("" if outcome.ok else " (with the failure recorded as an error result)"))
    elif outcome.ok and not no_save:
        print("Done; global rank 0 ran on another host and wrote the run file there.")
    if not outcome.ok:
        for line in outcome.failures:
            print(f"costperf: {line}", file=sys.stderr)
        if outcome.run_path is None and not no_save:
            print("costperf: no run file written on this node (rank 0 runs elsewhere or stopped before writing)",
                  file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m collectors.distributed",
                                description="Distributed workloads through torchrun (see costperf run --nproc-per-node).")
    p.add_argument("--nproc-per-node", type=int, required=True)
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--rdzv-endpoint", default=None)
    p.add_argument("--rdzv-id", default="costperf")
    p.add_argument("--machine", default=None)
    p.add_argument("--data", type=Path, default=Path("data"))
    p.add_argument("--suite", choices=["quick", "standard"], default="quick")
    p.add_argument("--workload", action="append", default=[], choices=WORKLOADS)
    p.add_argument("--scales", type=lambda s: [int(x) for x in s.split(",")], default=None,
                   help="Rank counts to measure, e.g. 1,2,4,8 (default: powers of two up to the world size).")
    p.add_argument("--device", choices=["cuda", "mps", "cpu"], default=None)
    p.add_argument("--energy", choices=["auto", "off", "estimate"], default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the DDP model (CUDA).")
    p.add_argument("--eager-decode", action="store_true", help="Tensor-parallel decode without torch.compile.")
    p.add_argument("--timeout-s", type=float, default=1800.0, help="Process-group timeout, s.")
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--stage-through-cpu", action="store_true", help=argparse.SUPPRESS)  # the Mac path, on CPU
    a = p.parse_args(argv)
    machine = None
    if a.machine and not a.no_save:
        from collectors import store  # noqa: PLC0415

        path = a.data / "machines" / f"{a.machine}.yaml"
        record, problems = store.read_file(path, "machine")
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            return 2
        machine = record  # type: ignore[assignment]
    elif not a.no_save:
        p.error("name the machine with --machine ID (a file in data/machines/), or pass --no-save")
    return run_distributed(a.data, a.machine, machine, a.nproc_per_node, a.nnodes, a.rdzv_endpoint, a.suite,
                           a.workload, a.device, a.energy, a.no_save, a.scales, a.compile, a.eager_decode,
                           a.timeout_s, a.rdzv_id, a.stage_through_cpu)
