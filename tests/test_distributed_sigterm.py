"""A distributed run stopped by SIGTERM or Ctrl-C is saved as a single-process run is: status
interrupted, the tasks that finished kept, the task it was in not recorded as a failure. Two gloo
ranks on this CPU, stopped by a real signal to the real `costperf run`.

Before, rank 0 saved it with status complete when the stopped task was the last one, and the stopped
task as an error result ('stopped by SIGTERM'), as though a rank had failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from foundation_data import signal_on_line, write_folder

from collectors import store
from collectors.records import RunRecord

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
LAUNCHER_SAYS = ("Stopped by {}: torchrun stopped the ranks; rank 0's 'wrote' line above, if any, names the run file "
                 "it kept.")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_distributed_run_is_saved_interrupted_with_what_finished(tmp_path: Path,
                                                                            sig: signal.Signals) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    proc = subprocess.Popen([sys.executable, "-m", "collectors.cli", "run", "--suite", "quick", "--machine",
                             "test-desktop", "--data", str(data), "--device", "cpu", "--nproc-per-node", "2",
                             "--workload", "allreduce", "--workload", "train-gpt2-ddp", "--energy", "off"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    # both all-reduce sizes finished; the last task (DDP on both ranks) runs
    out = signal_on_line(proc, "costperf: train-gpt2-ddp-gpt2-tiny-n2 ...", sig)
    assert proc.wait(timeout=60) == 128 + sig, out  # the launcher's status and message, as before
    assert "Traceback" not in out
    assert out.rstrip().endswith(LAUNCHER_SAYS.format(sig.name)), out
    (path,) = list((data / "runs").rglob("*.json"))
    assert f"costperf: rank 0 wrote {path} (3 results, interrupted)" in out, out
    record = RunRecord.model_validate_json(path.read_text())
    assert record.status == "interrupted"
    assert [(r.workload, r.status, r.distributed.world_size) for r in record.results] == [  # type: ignore[union-attr]
        ("allreduce", "ok", 2), ("allreduce", "ok", 2), ("train-gpt2-ddp", "ok", 1)]
    assert not store.load(data).problems
    assert not list((data / "runs").rglob(f"{store.TMP_PREFIX}*"))


def test_a_stop_raised_in_rank_0s_own_python_code_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """Rank 0's signal handler raises Stopped wherever the main thread is. Between two tasks (printing
    the next one's name) that reached the worker's own except clause, which re-raised it and torchrun
    printed the traceback. Here a one-rank group's second task raises it as the handler would, with
    costperf's stop mark made; no signal, so no watcher thread races the main one."""
    data = write_folder(tmp_path / "data", runs=[])
    mark = tmp_path / "stop-mark"
    mark.touch()
    code = f"""
import dataclasses, os, signal, socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1", GROUP_RANK="0",
                  MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), COSTPERF_STOP_MARK={str(mark)!r})
from collectors.distributed import worker
real = worker.tasks_for

def tasks_for(args, dctx):
    def stop(dctx):
        raise worker.Stopped(signal.SIGTERM)
    first = real(args, dctx)[0]
    return [first, dataclasses.replace(first, id=first.id + "-stopped", fn=stop)]

worker.tasks_for = tasks_for
worker.main(["--data", {str(data)!r}, "--machine", "test-desktop", "--started-at", "2026-11-30T00:00:00+00:00",
             "--device", "cpu", "--workloads", "allreduce", "--energy", "off"])
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=ENV, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 128 + signal.SIGTERM, text
    assert "Traceback" not in text
    (path,) = list((data / "runs").rglob("*.json"))
    assert f"costperf: rank 0 wrote {path} (1 results, interrupted)" in text, text
    record = RunRecord.model_validate_json(path.read_text())
    assert record.status == "interrupted" and [r.workload for r in record.results] == ["allreduce"]
