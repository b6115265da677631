"""Start the distributed workloads through torchrun (torch.distributed.run), in this process.

This is torchrun itself (the `torchrun` console script calls the same `run`), so its rendezvous,
worker monitoring and failure summary are PyTorch's own. One host: `--standalone` (a local c10d
rendezvous on a free port). Several hosts: the same command on each, with `--nnodes M
--rdzv-endpoint HOST:PORT` (c10d rendezvous hosted by the first node to arrive).

NVLink multicast stays off unless the caller's environment says otherwise
(NCCL_NVLS_ENABLE=0 and its PyTorch and NVSHMEM equivalents): the variables are set with
setdefault, so a value already there is kept, and the workers inherit them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.records import run_stamp
from collectors.workloads import compile_cache

STOP_MARK_ENV = "COSTPERF_STOP_MARK"
"""A file the launcher creates when SIGTERM or Ctrl-C stops it, before torchrun passes the signal to the
ranks: rank 0 then knows the run was stopped (saved as interrupted), not that torchrun stopped the
group because another rank failed (saved with an error result), which reaches it as the same SIGTERM."""
TORCH_SIGNALS = "SIGHUP,SIGQUIT"
"""The signals torchrun handles itself (its default less SIGTERM and SIGINT, which _marking_stops takes)."""

MULTICAST_OFF = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}


@dataclass
class LaunchOptions:
    data: Path
    machine: str
    nproc_per_node: int
    nnodes: int = 1
    rdzv_endpoint: str | None = None
    rdzv_id: str = "costperf"
    suite: str = "quick"
    workloads: list[str] = field(default_factory=list)
    scales: list[int] = field(default_factory=list)
    device: str | None = None
    energy: str = "auto"
    tdp_w: float | None = None
    timeout_s: float = 1800.0
    compile: bool = False
    eager_decode: bool = False
    no_save: bool = False
    log_dir: Path | None = None
    stage_through_cpu: bool = False  # the Mac data-parallel path on CPU ranks (tests)


@dataclass
class LaunchOutcome:
    ok: bool
    run_path: Path | None  # the run file rank 0 wrote (on this node), if any
    failures: list[str]  # torchrun's per-rank failure summary


def torchrun_argv(opts: LaunchOptions, started_at: dt.datetime) -> list[str]:
    """The torchrun arguments and the worker's."""
    if opts.nproc_per_node < 1:
        raise ValueError("--nproc-per-node must be at least 1")
    if opts.nnodes < 1:
        raise ValueError("--nnodes must be at least 1")
    argv = ["--nproc-per-node", str(opts.nproc_per_node), "--max-restarts", "0"]
    if opts.nnodes == 1 and not opts.rdzv_endpoint:
        argv.append("--standalone")
    else:
        if not opts.rdzv_endpoint:
            raise ValueError("--nnodes above 1 needs --rdzv-endpoint HOST:PORT (the same on every node)")
        argv += ["--nnodes", str(opts.nnodes), "--rdzv-backend", "c10d", "--rdzv-endpoint", opts.rdzv_endpoint,
                 "--rdzv-id", opts.rdzv_id]
    if opts.log_dir is not None:
        argv += ["--log-dir", str(opts.log_dir)]
    settings = {"nproc_per_node_requested": opts.nproc_per_node, "nnodes_requested": opts.nnodes,
                "rdzv_endpoint": opts.rdzv_endpoint, "compile": opts.compile}
    worker = ["--data", str(opts.data), "--machine", opts.machine, "--started-at", started_at.isoformat(),
              "--suite", opts.suite, "--energy", opts.energy, "--timeout-s", str(opts.timeout_s),
              "--settings", json.dumps(settings)]
    if opts.workloads:
        worker += ["--workloads", ",".join(opts.workloads)]
    if opts.scales:
        worker += ["--scales", ",".join(map(str, opts.scales))]
    if opts.device:
        worker += ["--device", opts.device]
    if opts.tdp_w is not None:
        worker += ["--tdp-w", str(opts.tdp_w)]
    if opts.compile:
        worker.append("--compile")
    if opts.eager_decode:
        worker.append("--eager-decode")
    if opts.no_save:
        worker.append("--no-save")
    if opts.stage_through_cpu:
        worker.append("--stage-through-cpu")
    return argv + ["-m", "collectors.distributed.worker", *worker]


def launch(opts: LaunchOptions, started_at: dt.datetime | None = None) -> LaunchOutcome:
    """Run torchrun with the worker; returns whether every rank succeeded and the run file's path."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError  # noqa: PLC0415
    from torch.distributed.run import get_args_parser, run  # noqa: PLC0415

    started_at = started_at or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    for name, value in MULTICAST_OFF.items():
        os.environ.setdefault(name, value)
    # compiled workloads (tensor-parallel decode) reuse what earlier runs on this host compiled
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache.default_dir()))
    # workers must import this checkout's collectors whatever their working directory
    root = str(Path(__file__).resolve().parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    args = get_args_parser().parse_args(torchrun_argv(opts, started_at))
    args.signals_to_handle = TORCH_SIGNALS  # torchrun's --signals-to-handle
    path = Path(opts.data) / "runs" / opts.machine / f"{run_stamp(started_at)}.json"
    try:
        with _marking_stops():
            run(args)
    except ChildFailedError as exc:
        first, _ = exc.get_first_failure()
        failures = [f"rank {rank} (local rank {f.local_rank})"
                    + (f" killed by {f.signal_name()}" if f.exitcode < 0 else f" exited with code {f.exitcode}")
                    + (f": {_first_line(f.message)}" if f.exitcode >= 0 and f.message else "")
                    + (" (first failure)" if rank == first and len(exc.failures) > 1 else "")
                    for rank, f in sorted(exc.failures.items())]
        return LaunchOutcome(False, path if path.exists() else None, failures)
    return LaunchOutcome(True, path if path.exists() else None, [])


@contextmanager
def _marking_stops() -> Iterator[None]:
    """SIGTERM and Ctrl-C handled as torchrun's own handler does (SignalException: the agent stops the
    ranks with the same signal), after creating the STOP_MARK_ENV file. torchrun is told to leave
    these two signals alone, else it would replace this handler when it starts the ranks. A second
    signal is ignored while the agent stops the ranks (rank 0 is saving what finished); a third
    raises again. torchrun handles the others (TORCH_SIGNALS)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException  # noqa: PLC0415

    from collectors.cli.stop_signal import handling  # noqa: PLC0415

    folder = Path(tempfile.mkdtemp(prefix="costperf-stop-"))
    mark = folder / "stopped"
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        if len(received) == 2:
            return
        try:
            mark.touch()
        except OSError:
            pass  # rank 0 then records the stop as a failure: the results are kept all the same
        raise SignalException(f"Process {os.getpid()} got signal: {signum}", sigval=signal.Signals(signum))

    saved_env = os.environ.get(STOP_MARK_ENV)
    os.environ[STOP_MARK_ENV] = str(mark)
    try:
        with handling(handler):  # outside the main thread torchrun cannot set handlers either
            yield
    finally:
        if saved_env is None:
            os.environ.pop(STOP_MARK_ENV, None)
        else:
            os.environ[STOP_MARK_ENV] = saved_env
        shutil.rmtree(folder, ignore_errors=True)


def _first_line(message: object) -> str:
    if isinstance(message, dict):
        message = message.get("message", message)
    text = str(message).strip()
    return text.splitlines()[0][:300] if text else ""


if __name__ == "__main__":  # pragma: no cover - manual use: python -m collectors.distributed.launcher N
    outcome = launch(LaunchOptions(Path("data"), "unsaved", int(sys.argv[1]), no_save=True))
    print(outcome)
