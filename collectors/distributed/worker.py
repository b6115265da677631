"""The program torchrun starts on every rank: `python -m collectors.distributed.worker ...`.

Every rank runs the same task list; rank 0 gathers the figures and alone writes the run file,
atomically (store.write_run), once, at the end. A rank that fails leaves its message in the
rendezvous store and exits; rank 0 then learns of it either from the failed collective or from
torchrun's SIGTERM, and writes the run with that task as an error result carrying the message,
never a partial figure. When costperf itself is stopped (SIGTERM or Ctrl-C: the launcher leaves a
mark first), rank 0 writes what finished as an interrupted run, as a single-process run does. A watcher thread handles the signal even while rank 0's main thread is
stuck in a collective (a dead NCCL peer never returns).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record

from collectors import store
from collectors.distributed import assemble, runtime
from collectors.distributed.runtime import DistContext
from collectors.distributed.tasks import (  # noqa: F401 - re-exported
    TP_MODEL_ENV,
    WORKLOADS,
    Task,
    default_scales,
    tasks_for,
    tp_model_override,
)
from collectors.records import Result, RunRecord
from collectors.version import costperf_version
from collectors.workloads.suites import POLICIES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="collectors.distributed.worker")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--machine", required=True)
    p.add_argument("--started-at", required=True, help="UTC ISO time chosen by the launcher (the file's stamp).")
    p.add_argument("--suite", choices=["quick", "standard"], default="quick")
    p.add_argument("--workloads", type=lambda s: [w for w in s.split(",") if w], default=[])
    p.add_argument("--scales", type=lambda s: [int(x) for x in s.split(",") if x], default=[])
    p.add_argument("--device", choices=["cuda", "mps", "cpu"], default=None)
    p.add_argument("--energy", choices=["auto", "off", "estimate"], default="auto")
    p.add_argument("--tdp-w", type=float, default=None)
    p.add_argument("--timeout-s", type=float, default=1800.0)
    p.add_argument("--compile", action="store_true", help="torch.compile the DDP model (CUDA).")
    p.add_argument("--eager-decode", action="store_true", help="Tensor-parallel decode without torch.compile.")
    p.add_argument("--settings", default="{}", help="JSON of launcher settings to record.")
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--stage-through-cpu", action="store_true", help=argparse.SUPPRESS)  # tests the Mac path on CPU
    return p.parse_args(argv)


def describe(exc: BaseException) -> str:
    if isinstance(exc, Stopped):
        return f"stopped by {signal.Signals(exc.signum).name}"
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.replace("\n", " ")[:1500]


class Stopped(Exception):
    """A termination signal (torchrun stopping the group, or Ctrl-C)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _store() -> Any:
    try:
        return dist.distributed_c10d._get_default_store()
    except Exception:  # noqa: BLE001 - no process group yet
        return None


def report_error(rank: int, message: str) -> None:
    """Leave this rank's error where rank 0 can read it: the rendezvous store torchrun hosts."""
    s = _store()
    if s is None:
        return
    try:
        s.set(runtime.ERROR_KEY.format(rank=rank), message)
    except Exception:  # noqa: BLE001 - the store itself may be gone
        pass


def reported_errors(world: int) -> dict[int, str]:
    s = _store()
    out: dict[int, str] = {}
    if s is None:
        return out
    for r in range(world):
        key = runtime.ERROR_KEY.format(rank=r)
        try:
            if s.check([key]):
                out[r] = s.get(key).decode("utf-8", "replace")
        except Exception:  # noqa: BLE001
            break
    return out


class RunWriter:
    """Rank 0's one and only write of the run file, whichever thread gets there first."""

    def __init__(self, args: argparse.Namespace, dctx: DistContext, tasks: list[Task]):
        self.args = args
        self.dctx = dctx
        self.tasks = tasks
        self.results: list[Result] = []
        self.current: Task | None = None
        self.lock = threading.Lock()
        self.done = False
        self.path: Path | None = None
        self.save_failed = False

    def finish(self, failure: BaseException | None) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
            try:
                self._write(failure)
            except Exception:  # noqa: BLE001 - nothing left to tell but stderr
                traceback.print_exc()

    def _failure_result(self, task: Task, failure: BaseException) -> Result:
        world = self.dctx.world_size
        reported = reported_errors(world)
        own = describe(failure)
        consequence = isinstance(failure, Stopped) or _is_comm_error(failure)  # of another rank's failure
        if 0 not in reported and not consequence:
            reported[0] = own
        parts = [f"rank {r}: {m}" for r, m in sorted(reported.items())]
        if consequence and not any(r != 0 for r in reported):
            parts.append("a peer rank stopped without reporting an error (killed or crashed; torchrun's failure "
                         f"summary names it); rank 0 saw: {own}")
        message = f"{task.id} failed on {world} launched rank(s): " + "; ".join(parts)
        scale = runtime.scale_of(self.dctx, task.size)
        return assemble.error_result(task.workload, task.params, message, runtime.rank_dicts(self.dctx), scale,
                                     started=self.task_started or assemble._now(), rank_messages=reported)

    task_started: dt.datetime | None = None

    def _write(self, failure: BaseException | None) -> None:
        from collectors import runner  # noqa: PLC0415

        results = list(self.results)
        status = "complete"
        if _stopped_by_signal(failure):
            # Stopped by SIGTERM or Ctrl-C, as a single-process run is: what finished is kept, the task it
            # was in is not a failure, and nothing is written if nothing finished.
            status = "interrupted"
            if not results:
                print(f"costperf: rank 0 {describe(failure)} before any task finished: nothing written",  # type: ignore[arg-type]
                      flush=True)
                return
        elif failure is not None and self.current is not None:
            results.append(self._failure_result(self.current, failure))
            if self.current is not self.tasks[-1]:
                status = "interrupted"
        elif failure is not None:
            status = "interrupted"
        settings = json.loads(self.args.settings)
        dctx = self.dctx
        settings.update({
            "suite": self.args.suite, "launcher": "torchrun", "world_size": dctx.world_size,
            "nnodes": dctx.nnodes, "nproc_per_node": dctx.nproc_per_node, "backend": dctx.backend,
            "scales": ",".join(str(s) for s in sorted({t.size for t in self.tasks})),
            "workload_filter": ",".join(self.args.workloads) or None, "energy": self.args.energy,
            "energy_meter": dctx.meter.method, "energy_covers": dctx.meter.covers, "energy_note": dctx.meter.reason,
            "min_reps": dctx.policy.min_reps, "min_time_s": dctx.policy.min_time_s,
            "torch_num_threads": torch.get_num_threads(),
            "nccl_version": ".".join(map(str, torch.cuda.nccl.version())) if dctx.backend == "nccl" else None,
            "failure": describe(failure) if failure is not None else None,
        })
        for name in ("NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS",
                     "NCCL_P2P_DISABLE", "NCCL_IB_DISABLE", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS",
                     "TORCHINDUCTOR_CACHE_DIR", TP_MODEL_ENV):
            settings[name.lower()] = os.environ.get(name)
        env = runner.environment(dctx.device, settings)
        started = dt.datetime.fromisoformat(self.args.started_at)
        record = RunRecord(
            machine=self.args.machine, started_at=started,
            ended_at=max(dt.datetime.now(dt.timezone.utc), started), costperf_version=costperf_version(),
            git_commit=runner.git_commit(), environment=env, suite=f"distributed-{self.args.suite}",
            weights="random", results=results, status=status,  # type: ignore[arg-type]
            notes=("Distributed workloads launched by torchrun (torch.distributed.run), one process per device; "
                   "scales below the launched world size ran on the first k ranks while the others waited. "
                   "Throughput = the group's tokens per timed repeat / the slowest rank's time for it; "
                   "all-reduce bandwidth as nccl-tests defines it. Model weights are random."),
        )
        for r in results:
            _print_result(r)
        if self.args.no_save:
            print(record.model_dump_json(indent=1), flush=True)
            return
        try:
            self.path = store.write_run(self.args.data, record)
        except store.RunNotSaved as exc:
            # The results are in the recovery file the message names (else printed here): one clear error.
            print(f"costperf: {exc}", file=sys.stderr, flush=True)
            if exc.recovered is None:
                sys.stderr.write(exc.text)
            self.save_failed = True
            return
        print(f"costperf: rank 0 wrote {self.path} ({len(results)} results, {status})", flush=True)


MARK_WAIT_S = 1.0
"""How long rank 0 waits for the launcher's stop mark after a SIGTERM that may have reached it first
(a signal to the whole process group reaches the ranks and the launcher at the same moment)."""


def _stopped_by_signal(failure: BaseException | None) -> bool:
    """Whether costperf itself was stopped (SIGTERM or Ctrl-C), rather than torchrun stopping the group
    because another rank failed: that also reaches rank 0 as SIGTERM, or as a broken collective."""
    from collectors.distributed.launcher import STOP_MARK_ENV  # noqa: PLC0415

    if failure is None:
        return False
    if isinstance(failure, KeyboardInterrupt) or (isinstance(failure, Stopped) and failure.signum == signal.SIGINT):
        return True  # torchrun stops a group with SIGTERM: SIGINT is Ctrl-C
    mark = os.environ.get(STOP_MARK_ENV)
    if not mark or not (isinstance(failure, Stopped) or _is_comm_error(failure)):
        return False
    deadline = time.monotonic() + MARK_WAIT_S
    while not os.path.exists(mark):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _is_comm_error(exc: BaseException) -> bool:
    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    text = str(exc).lower()
    return any(s in text for s in ("connection closed", "connection reset", "broken pipe", "nccl", "gloo",
                                   "timed out", "peer"))


def _print_result(r: Result) -> None:
    d = r.distributed
    where = f"n={d.world_size} ({d.interconnect})" if d else ""
    fig = f"{r.throughput.median:,.3g} {r.throughput.unit}" if r.throughput else (r.message or "")[:200]
    print(f"costperf: {r.workload} {where} {r.status}: {fig}", flush=True)


def _watch_signals(writer: RunWriter) -> None:
    """Handle SIGTERM/SIGINT on rank 0 even when the main thread is blocked in C++: the C-level
    handler writes the signal number to a pipe, and this thread writes the run and exits."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w)

    def handler(signum: int, frame: Any) -> None:
        if writer.lock.locked():
            return  # the run file is being written: let it finish; the watcher exits afterwards
        raise Stopped(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)

    def watch() -> None:
        data = os.read(r, 1)
        if data:
            writer.finish(Stopped(data[0]))
            os._exit(1)

    threading.Thread(target=watch, name="costperf-signal-watch", daemon=True).start()


@record
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from collectors.probe import probe  # noqa: PLC0415

    policy = POLICIES[args.suite]
    world = runtime.env_int("WORLD_SIZE", 1)
    scales = args.scales or default_scales(world)
    args.scales = scales
    dctx = runtime.init(args.device, policy, args.energy, args.tdp_w, [s for s in scales if s <= world] + [world],
                        args.timeout_s, args.suite == "quick", probe(use_torch=False).hostname_hash)
    dctx.force_staging = args.stage_through_cpu
    tasks = tasks_for(args, dctx)
    writer = RunWriter(args, dctx, tasks) if dctx.rank == 0 else None
    if writer is not None:
        _watch_signals(writer)
    try:
        for task in tasks:
            if writer is not None:
                writer.current = task
                writer.task_started = assemble._now()
                print(f"costperf: {task.id} ...", flush=True)
            result = task.fn(dctx)
            if writer is not None and result is not None:
                writer.results.append(result)
        if writer is not None:
            writer.current = None
        dist.barrier(group=dctx.control)
    except BaseException as exc:
        # Ctrl-C (or torchrun passing it on), or a signal that reached rank 0's Python code (the watcher
        # thread takes those that come while a collective blocks): a stop, not a fault to report or
        # trace back; rank 0's record of it is written first
        stop = (128 + exc.signum if isinstance(exc, Stopped)
                else 128 + signal.SIGINT if isinstance(exc, KeyboardInterrupt) else None)
        if writer is not None:
            writer.finish(exc)
        elif stop is None:
            report_error(dctx.rank, describe(exc))
        if stop is not None:
            sys.exit(stop)
        raise
    if writer is not None:
        writer.finish(None)
    _release_cuda_graphs()
    dist.destroy_process_group()
    if writer is not None and writer.save_failed:
        sys.exit(1)


def _release_cuda_graphs() -> None:
    """Free the CUDA graphs the compiled tensor-parallel decode captured (with NCCL collectives in
    them) before the process group goes: with them alive, NCCL's communicator teardown waits
    (pytorch/pytorch#115388). Two H200s: the run file was written and the ranks then hung for
    minutes in destroy_process_group."""
    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return
    import gc  # noqa: PLC0415

    torch.cuda.synchronize()
    torch._dynamo.reset()  # drops compiled code and its CUDA-graph trees
    gc.collect()
    torch.cuda.synchronize()


def _exit_without_teardown() -> None:
    """Leave once the work is done, the run written and the process groups destroyed, without the
    interpreter's teardown: on CPU ranks with gloo a rank was seen to abort there, in a C++
    destructor ("terminate called without an active exception", no Python frame left), and torchrun
    then reported a complete run as a failed one. Nothing left needs it: the run file is written
    atomically before this, and inductor's compile workers leave by themselves once their parent has."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
    _exit_without_teardown()
