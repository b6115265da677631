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
