"""SIGTERM (what `kill`, service managers and CI runners send) stops every command as Ctrl-C does:
one line, exit status 143, and no partial file. Each test sends it to a real `costperf` process.

Before, SIGTERM ended the process on the spot: no message, and whatever it was writing or running
(a temporary file, a report page's kernel) was left behind.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from foundation_data import folder_hash, signal_on_line, write_folder
from pytest_httpserver import HTTPServer
from test_hostile_prices import machines, source

from collectors import store
from collectors.records import RunRecord

ROOT = Path(__file__).resolve().parents[1]
COSTPERF = [sys.executable, "-m", "collectors.cli"]
STOPPED = "Stopped by SIGTERM before it finished; no file was left half-written."
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(store.TMP_PREFIX) or p.name.endswith(".tmp")]


def test_sigterm_mid_run_keeps_what_finished_in_one_interrupted_record(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    proc = subprocess.Popen([*COSTPERF, "run", "--suite", "quick", "--machine", "test-desktop", "--data", str(data)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    out = signal_on_line(proc, "  memcpy: ")  # the first task has finished
    assert proc.wait(timeout=60) == 143, out
    assert "Traceback" not in out
    (path,) = list((data / "runs").rglob("*.json"))
    assert f"Wrote {path} (" in out and "results, interrupted by SIGTERM)." in out, out
    record = RunRecord.model_validate_json(path.read_text())
    assert record.status == "interrupted" and record.results[0].workload == "memcpy"
    assert not _leftovers(data) and not store.load(data).problems


def test_sigterm_to_a_distributed_run_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    proc = subprocess.Popen([*COSTPERF, "run", "--suite", "quick", "--machine", "test-desktop", "--data", str(data),
                             "--nproc-per-node", "2", "--device", "cpu", "--workload", "allreduce"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    out = signal_on_line(proc, "costperf: allreduce-")  # the two ranks are measuring
    assert proc.wait(timeout=60) == 143, out
    assert "Traceback" not in out and out.rstrip().endswith(
        "Stopped by SIGTERM: torchrun stopped the ranks; rank 0's 'wrote' line above, if any, names the run file it "
        "kept."), out
    for path in (data / "runs").rglob("*.json"):  # what rank 0 kept is whole
        RunRecord.model_validate_json(path.read_text())
    assert not _leftovers(data)


def test_sigterm_before_any_task_finished_writes_nothing(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    said = []
    # while the modules load; then while torch loads or the first task runs (its first result takes ~5 s here)
    for delay in (0.1, 2.5):
        proc = subprocess.Popen([*COSTPERF, "run", "--suite", "quick", "--machine", "test-desktop", "--data",
                                 str(data), "--workload", "train-gpt2"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=ENV)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, (delay, out, err)
        last = err.strip().splitlines()[-1]
        assert last in ("Stopped by SIGTERM while starting: nothing was read or written.", STOPPED,
                        "Interrupted by SIGTERM before any workload finished: nothing written."), (delay, err)
        assert "Traceback" not in err
        said.append(last)
    assert said[0].endswith("while starting: nothing was read or written.")
    assert not list((data / "runs").rglob("*")) and not _leftovers(data)


def test_sigterm_inside_python_run_by_an_importing_extension_still_ends_with_143(tmp_path: Path) -> None:
    """An extension that runs Python source while it imports (PyRun_String) leaves CPython a mark of an
    unhandled Ctrl-C when the interruption lands there; under `python -m` CPython then ends the process
    by SIGINT after its exit handlers, whatever status the command chose (one run in twenty of
    `costperf run` stopped about 2 s in, while torch's extensions loaded)."""
    (tmp_path / "nested_run_cli.py").write_text(textwrap.dedent("""
        import ctypes, os, signal, threading
        import click
        from collectors.cli.stop_signal import Group

        @click.group(cls=Group)
        def main():
            pass

        @main.command()
        def load():
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()  # lands in the nested run
            ctypes.pythonapi.PyRun_SimpleString(b"import time\\ntime.sleep(5)\\n")
            raise KeyboardInterrupt  # as the extension's import surfaces it

        if __name__ == "__main__":
            main()
    """))
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    out = subprocess.run([sys.executable, "-m", "nested_run_cli", "load"], cwd=tmp_path, capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 143, (out.returncode, out.stderr)
    assert out.stderr.strip().splitlines()[-1] == STOPPED


def test_sigterm_during_a_data_write_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    root = machines(tmp_path, box=[])
    before = folder_hash(root)
    # The write stalls where it is slowest (fsync), so the signal lands inside it.
    code = textwrap.dedent("""
        import os, sys, time
        def stalled_fsync(fd):
            print("writing", flush=True)
            time.sleep(60)
        os.fsync = stalled_fsync
        from collectors.cli import main
        main()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code, "prices", "add", "box", "--kind", "purchase", "--amount",
                             "1700", "--url", "https://example.org/p", "--data", str(root)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and err.strip().splitlines() == [STOPPED], err
    assert not _leftovers(root) and folder_hash(root) == before


def test_sigterm_during_a_price_refresh_leaves_whole_files(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/good.json").respond_with_json({"data": {"price": 1700}})
    silent = socket.socket()  # accepts the request and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    asked = threading.Event()

    def accept() -> None:
        conn, _ = silent.accept()
        asked.set()
        time.sleep(30)
        conn.close()

    threading.Thread(target=accept, daemon=True).start()
    try:
        root = machines(tmp_path, **{"a-good": [source(httpserver.url_for("/good.json"))],
                                     "b-silent": [source(f"http://127.0.0.1:{silent.getsockname()[1]}/p.json")]})
        silent_file = (root / "machines" / "b-silent.yaml").read_bytes()
        proc = subprocess.Popen([*COSTPERF, "prices", "refresh", "--data", str(root), "--retries", "0",
                                 "--timeout", "60", "--deadline", "60"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=ENV)
        assert asked.wait(30), proc.communicate(timeout=30)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        silent.close()
    assert proc.returncode == 143 and err.strip().splitlines() == [STOPPED], out + err
    # the machine refreshed before the signal is whole, with its new price; the other is untouched
    ds = store.load(root)
    assert not ds.problems and [p.amount for p in ds.machines["a-good"].prices][-1] == 1700
    assert (root / "machines" / "b-silent.yaml").read_bytes() == silent_file
    assert not _leftovers(root)


SLOW_PAGE = """---
title: Slow
---

```{python}
import os, sys, time, pathlib
if "ipykernel" in sys.modules:  # in the page's kernel, not while costperf builds the outputs in process
    pathlib.Path(os.environ["COSTPERF_TEST_KERNEL_PID"]).write_text(str(os.getpid()))
    time.sleep(60)
```
"""


def _previous_render(project: Path) -> str:
    """A site folder as an earlier render left it, and a staging folder of a render killed outright
    (its process is gone); returns the site folder's digest."""
    (project / "_site" / "report").mkdir(parents=True)
    (project / "_site" / "report" / "a.html").write_text("<html>the previous render's a</html>\n")
    (project / "_site" / "report" / "gone.html").write_text("<html>a page this render no longer has</html>\n")
    (project / "_site" / "index.html").write_text("<html>previous index</html>\n")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (project / f"_site.staging-{dead.pid}" / "report").mkdir(parents=True)
    (project / f"_site.staging-{dead.pid}" / "report" / "a.html").write_text("<html>half a render</html>\n")
    return folder_hash(project / "_site")


def test_sigterm_while_a_report_page_runs_stops_its_kernel(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "report").mkdir(parents=True)
    (project / "_quarto.yml").write_text('project:\n  type: website\n  output-dir: _site\n  render: ["report/*.qmd"]\n'
                                         'website:\n  title: "t"\n')
    (project / "report" / "a.qmd").write_text('---\ntitle: A\n---\n\n```{python}\nprint("quick page")\n```\n')
    (project / "report" / "b.qmd").write_text(SLOW_PAGE)
    before = _previous_render(project)
    data = write_folder(tmp_path / "data")
    marker = tmp_path / "kernel.pid"
    proc = subprocess.Popen([*COSTPERF, "report", "--engine", "fallback", "--jobs", "1", "--project", str(project),
                             "--data", str(data)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**ENV, "COSTPERF_TEST_KERNEL_PID": str(marker)})
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), proc.communicate(timeout=30)
    kernel = int(marker.read_text())
    # the quick page is rendered, into the staging folder, not over the previous render's
    assert [p.name for p in project.glob(f"_site.staging-{proc.pid}/report/*.html")] == ["a.html"]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, out + err
    assert err.strip().splitlines()[-1] == (
        "Stopped by SIGTERM after 1 page(s) were rendered: the site folder is as it was, without this render's pages "
        "(they were written into a staging folder, now removed); run costperf report again."), err
    assert "Traceback" not in err
    # the page kernel is shut down, not left running
    time.sleep(0.5)
    try:
        os.kill(kernel, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, f"kernel {kernel} still runs"
    # the previous render is whole and alone: no page of this one, no staging folder (neither this
    # render's nor the dead one's)
    assert folder_hash(project / "_site") == before
    assert sorted(p.name for p in project.iterdir()) == ["_quarto.yml", "_site", "report"]


FAKE_QUARTO = """#!/bin/sh
# Stands in for the quarto CLI: says its version; 'renders' a page into its --output-dir, then either
# finishes or, with COSTPERF_TEST_QUARTO_HANG set, keeps rendering and records the signal it gets.
[ "$1" = "--version" ] && { echo 1.6.42; exit 0; }
[ "$2" = "--output-dir" ] || { echo "expected: quarto render --output-dir DIR, got: $*" >&2; exit 9; }
mkdir -p "$3/report" && echo "<html>new a</html>" > "$3/report/a.html"
[ -z "$COSTPERF_TEST_QUARTO_HANG" ] && exit 0
trap 'echo TERM > "$COSTPERF_TEST_QUARTO_LOG"; exit 143' TERM
echo rendering > "$COSTPERF_TEST_QUARTO_LOG"
while :; do sleep 0.1; done
"""


def _fake_quarto_report(tmp_path: Path, **env: str) -> tuple[Path, subprocess.Popen[str]]:
    project = tmp_path / "project"
    (project / "report").mkdir(parents=True)
    (project / "_quarto.yml").write_text('project:\n  type: website\n  render: ["report/*.qmd"]\n')
    (project / "report" / "a.qmd").write_text('---\ntitle: A\n---\n\n```{python}\nprint("page")\n```\n')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "quarto").write_text(FAKE_QUARTO)
    (bin_dir / "quarto").chmod(0o755)
    _previous_render(project)
    proc = subprocess.Popen([*COSTPERF, "report", "--engine", "quarto", "--project", str(project), "--data",
                             str(write_folder(tmp_path / "data"))], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env})
    return project, proc


def test_sigterm_during_quarto_render_lets_quarto_stop_itself(tmp_path: Path) -> None:
    # SIGTERM sent to costperf alone would leave quarto rendering, or kill it before its own cleanup.
    log = tmp_path / "quarto.log"
    project, proc = _fake_quarto_report(tmp_path, COSTPERF_TEST_QUARTO_HANG="1", COSTPERF_TEST_QUARTO_LOG=str(log))
    before = folder_hash(project / "_site")
    deadline = time.monotonic() + 120
    while not log.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log.exists(), proc.communicate(timeout=30)
    assert (project / f"_site.staging-{proc.pid}" / "report" / "a.html").exists()  # quarto writes beside the site
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, out + err
    assert log.read_text().strip() == "TERM"  # quarto was told, and stopped on its own
    assert err.strip().splitlines()[-1] == (
        "Stopped by SIGTERM while quarto rendered (quarto was stopped in its turn): the site folder is as it was, "
        "without this render's pages (quarto wrote them into a staging folder, now removed); run costperf report "
        "again."), err
    assert "Traceback" not in err
    assert folder_hash(project / "_site") == before
    assert sorted(p.name for p in project.iterdir()) == ["_quarto.yml", "_site", "report"]


def test_a_finished_quarto_render_replaces_the_site_folder_whole(tmp_path: Path) -> None:
    project, proc = _fake_quarto_report(tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    # the new render alone: the previous render's pages are gone with it, no staging folder is left
    assert sorted(p.relative_to(project / "_site").as_posix() for p in (project / "_site").rglob("*")) == [
        "report", "report/a.html"]
    assert (project / "_site" / "report" / "a.html").read_text() == "<html>new a</html>\n"
    assert sorted(p.name for p in project.iterdir()) == ["_quarto.yml", "_site", "report"]
