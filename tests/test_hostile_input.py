"""Hostile data files: each gets one clear problem naming it, the rest of the data is processed,
no command prints a traceback, nothing is changed, nothing outside the data folder is read.

The corpus is in hostile_corpus.py; every case runs through validate, machines, review, prices
refresh and the report's loader.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from foundation_data import run_dict, write_folder
from hostile_corpus import MACHINE_PATH, PLAIN, Case, cases

from collectors import store
from collectors.cli import main
from collectors.records import KINDS
from report import metrics
from report.assumptions import Assumptions

ROOT = Path(__file__).resolve().parents[1]
CASES = {c.name: c for c in cases()}
SECRET = "TOP-SECRET-4d1f"


def folder_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def invoke(*args: str) -> Result:
    res = CliRunner().invoke(main, list(args))
    # Exit statuses are 0, 1 (problems) or 2 (bad options; review's bad data); never an exception.
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in (0, 1, 2), res.output
    assert "Traceback" not in res.output and "internal error" not in res.output, res.output
    assert "\x1b" not in res.output, "an escape sequence reached the terminal"
    return res


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "data")


def _add(data: Path, case: Case) -> Path:
    path = data / case.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(case.content)
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file_is_named_and_the_rest_goes_on(name: str, data: Path) -> None:
    case = CASES[name]
    path = _add(data, case)
    before = folder_hash(data)

    t0 = time.process_time()  # CPU time: what the file costs, whatever else the machine runs
    res = invoke("validate", "--data", str(data))
    assert time.process_time() - t0 < 2.0, "validate took over 2 s of CPU on one hostile file"
    mine = [line for line in res.output.splitlines() if path.name in line]
    others = [line for line in res.output.splitlines() if ": " in line and "test-desktop.yaml" in line]
    assert not others, f"a good file was blamed:\n{res.output}"
    if case.words:
        assert res.exit_code == 1, res.output
        assert any(case.words.lower() in line.lower() for line in mine), res.output
        # Never more of the file than the offending value.
        assert all(len(line) < 600 for line in res.output.splitlines()), res.output
    else:
        assert res.exit_code == 0, res.output

    machines = invoke("machines", "--data", str(data))
    review = invoke("review", "--data", str(data), "--fail-on", "regression")
    assert review.exit_code == (2 if case.words else 0), review.output
    invoke("prices", "refresh", "--data", str(data), "--dry-run")
    if "markup" in name:
        assert "[/bold] oops [link=https://evil.example]x[/link]" in machines.output.replace("\n", ""), machines.output
    if "escape" in name:
        assert "\x1b" not in machines.output and "\u202e" not in machines.output, machines.output

    # The report leaves the file out, lists its problem by a path relative to the project, and
    # still shows the good machine.
    rep = metrics.load(data, Assumptions(data_dir=str(data)))
    assert "test-desktop" in set(rep.machines["machine"])
    if case.words:
        assert any(path.name in p for p in rep.problems)
        assert not any(str(data) in p for p in rep.problems), rep.problems
    assert folder_hash(data) == before


def test_a_link_out_of_the_data_folder_is_not_followed(data: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text(f"id: {SECRET}\nname: {SECRET}\n")
    (data / "machines" / "leak.yaml").symlink_to(secret)
    (data / "published").mkdir()
    (data / "published" / "folder").symlink_to(tmp_path, target_is_directory=True)
    (data / "hardware-names.yaml").symlink_to(secret)
    res = invoke("validate", "--data", str(data))
    assert res.exit_code == 1
    assert SECRET not in res.output and "outside the data folder" in res.output
    rep = metrics.load(data, Assumptions(data_dir=str(data)))
    assert not any(SECRET in p for p in rep.problems)
    assert any("leak.yaml" in p and "outside" in p for p in rep.problems)
    assert any("hardware-names.yaml" in p and "outside" in p for p in rep.problems)


def test_a_link_inside_the_data_folder_is_read(data: Path) -> None:
    (data / "machines" / "again.yml").symlink_to(data / "machines" / "test-desktop.yaml")
    res = invoke("validate", "--data", str(data))
    # Read, so it is the same id twice (and its name is not its id): problems of content, not of links.
    assert "outside" not in res.output and "duplicate id" in res.output


def test_a_fifo_is_named_not_read(data: Path) -> None:
    os.mkfifo(data / "machines" / "pipe.yaml")  # reading it would block forever
    res = invoke("validate", "--data", str(data))
    assert res.exit_code == 1 and "pipe.yaml" in res.output and "not a plain file" in res.output


@pytest.mark.parametrize("command", ["validate", "machines", "review", "runners"])
def test_data_pointing_below_or_above_the_data_folder_is_refused(data: Path, command: str) -> None:
    # data/machines holds machine files but no machines/ folder: it is not 'OK: 0 files'.
    for wrong in (data / "machines", data.parent):
        (data.parent / "stray.txt").write_text("x")
        res = invoke(command, "--data", str(wrong))
        assert res.exit_code in (1, 2) and "not a data folder" in res.output, res.output
    empty = data.parent / "new"
    empty.mkdir()
    assert invoke("validate", "--data", str(empty)).exit_code == 0  # an empty folder is a new data folder


def test_runs_that_is_a_file_is_named(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    (data / "runs").write_text("not a folder")
    res = invoke("validate", "--data", str(data))
    assert res.exit_code == 1 and "expected a folder" in res.output


def _unlistable(folder: Path) -> None:
    """Make a folder under `folder` that cannot be listed: no read permission, or (for root, whom
    permissions do not stop) one nested past the longest path the system takes."""
    if os.geteuid() != 0:
        (folder / "locked").mkdir()
        (folder / "locked").chmod(0)
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(20):  # 20 x 250 characters: past PATH_MAX (4096)
            os.mkdir("d" * 250, dir_fd=fd)
            nxt = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.close(os.open("20260109T000000Z.json", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def test_a_runs_folder_that_cannot_be_listed_is_not_ok(data: Path) -> None:
    _unlistable(data / "runs" / "test-desktop")
    try:
        res = invoke("validate", "--data", str(data))
    finally:
        locked = data / "runs" / "test-desktop" / "locked"
        if locked.exists():
            locked.chmod(0o755)
    assert res.exit_code == 1 and "cannot list this folder" in res.output, res.output
    assert "OK" not in res.output


def test_two_bad_files_are_both_named(data: Path) -> None:
    for name in ("billion laughs, 9 levels", "duplicate JSON key"):
        _add(data, CASES[name])
    (data / "machines" / "deep.yaml").write_bytes(CASES["10,000-deep flow list"].content)
    res = invoke("validate", "--data", str(data))
    for name in ("evil-box.yaml", "20260105T030405Z.json", "deep.yaml"):
        assert name in res.output
    assert "3 problem(s)" in res.output


def test_validate_bounds_time_and_memory_of_a_hostile_file(tmp_path: Path) -> None:
    """The figures benchmarks/hostile_validate.py reports, as a guard: at most 2 s and 200 MB."""
    out = subprocess.run([sys.executable, "benchmarks/hostile_validate.py", "--json", "--repeats", "1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert figures, "no case was measured"
    for row in figures:
        assert row["exit"] == 1 and not row["traceback"], row
        assert row["cpu_s"] <= 2.0 and row["peak_mb"] <= 200, row


def test_runs_started_in_the_same_second_keep_both(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    run = KINDS["run"].model_validate_json(json.dumps(run_dict()))
    first = store.write_run(data, run)
    second = store.write_run(data, run.model_copy(update={"notes": "second"}))
    assert first.name == "20260102T030405Z.json" and second.name == "20260102T030405Z-2.json"
    ds = store.load(data)
    assert ds.problems == [] and len(ds.runs) == 2


def test_a_run_the_data_folder_cannot_take_is_recovered(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data", runs=[])
    (data / "runs").mkdir()
    (data / "runs" / "test-desktop").write_text("a file where the folder should be")
    run = KINDS["run"].model_validate_json(json.dumps(run_dict()))
    recovery = tmp_path / "recovered"
    os.environ["COSTPERF_RECOVERY_DIR"] = str(recovery)
    try:
        with pytest.raises(store.RunNotSaved) as info:
            store.write_run(data, run)
    finally:
        del os.environ["COSTPERF_RECOVERY_DIR"]
    kept = info.value.recovered
    assert kept is not None and str(kept) in str(info.value)
    assert kept.read_text() == store.dump_run(run)


def test_a_full_disk_still_hands_back_the_results(tmp_path: Path) -> None:
    """The file-size limit makes every write fail as a full disk does; the record comes back on stderr."""
    data = write_folder(tmp_path / "data", runs=[])
    code = f"""
import json, resource, signal, sys
from pathlib import Path
from collectors import store
from collectors.records import KINDS
sys.path.insert(0, 'tests')
from foundation_data import run_dict
run = KINDS['run'].model_validate_json(json.dumps(run_dict()))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
try:
    store.write_run(Path({str(data)!r}), run)
except store.RunNotSaved as exc:
    print(exc, file=sys.stderr)
    sys.stdout.write(exc.text)
"""
    env = dict(os.environ, COSTPERF_RECOVERY_DIR=str(tmp_path / "recovered"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert "could not write" in out.stderr, out.stderr
    assert json.loads(out.stdout)["machine"] == "test-desktop"
    assert not list((data / "runs").rglob("*.json"))


def test_a_plain_file_validates_cleanly(data: Path) -> None:
    (data / MACHINE_PATH).write_bytes(PLAIN)
    assert invoke("validate", "--data", str(data)).exit_code == 0


def test_a_names_table_that_is_a_folder_is_named_as_one(data: Path) -> None:
    (data / "hardware-names.yaml").unlink(missing_ok=True)
    (data / "hardware-names.yaml").mkdir()
    res = invoke("validate", "--data", str(data))
    assert res.exit_code == 1 and "hardware-names.yaml: a folder where a data file belongs" in res.output, res.output


def test_link_loops_are_named(data: Path) -> None:
    machines = data / "machines"
    (machines / "a.yaml").symlink_to("b.yaml")
    (machines / "b.yaml").symlink_to("a.yaml")
    (machines / "self.yaml").symlink_to("self.yaml")
    (data / "runs" / "loop").symlink_to("loop", target_is_directory=True)
    for args in (["validate"], ["machines"], ["review"], ["prices", "refresh", "--dry-run"]):
        res = invoke(*args, "--data", str(data))
        assert res.exit_code in (1, 2), res.output
    res = invoke("validate", "--data", str(data))
    for name in ("a.yaml", "b.yaml", "self.yaml", "loop"):
        assert name in res.output
    rep = metrics.load(data, Assumptions(data_dir=str(data)))
    assert "test-desktop" in set(rep.machines["machine"])


def test_the_report_names_no_local_path_and_no_control_character(data: Path) -> None:
    (data / "machines" / "again.yaml").write_bytes((data / "machines" / "test-desktop.yaml").read_bytes())
    with open(os.path.join(os.fsencode(data / "machines"), b"e\x1b[2Jvil-\xff.yaml"), "wb") as f:
        f.write(b"id: [")
    rep = metrics.load(data, Assumptions(data_dir=str(data)))
    assert any("duplicate id" in p for p in rep.problems) and any("e\\x1b[2Jvil" in p for p in rep.problems)
    for p in rep.problems:
        assert str(data) not in p and str(data.parent) not in p, p
        assert not any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in p), repr(p)


def test_writes_that_fail_are_one_clear_error(tmp_path: Path) -> None:
    """A folder that cannot take a file (here: a file where the folder should be) fails as a full disk does."""
    data = write_folder(tmp_path / "data", runs=[])
    (data / "published").write_text("not a folder")
    bench = Path(__file__).parent / "fixtures" / "llama_bench" / "new" / "bench.json"
    res = invoke("import", "llama-bench", str(bench), "--source", "https://example.org/p", "--machine", "test-desktop",
                 "--data", str(data))
    assert res.exit_code == 1 and "not written" in res.output and "folder should be" in res.output, res.output
    (tmp_path / "d2").mkdir()
    (tmp_path / "d2" / "machines").write_text("not a folder")
    res = invoke("machine", "new", "my-box", "--no-torch", "--data", str(tmp_path / "d2"))
    assert res.exit_code == 1 and "not written" in res.output, res.output


@pytest.mark.parametrize("args", [["review", "--noise-floor", "nan"], ["review", "--noise-floor", "inf"],
                                  ["prices", "refresh", "--dry-run", "--timeout", "nan"],
                                  ["prices", "refresh", "--dry-run", "--deadline", "nan"]])
def test_a_number_option_that_is_not_finite_is_refused(data: Path, args: list[str]) -> None:
    # 'nan' passes every bound of a float range (nan < 0 and nan > 300 are both false).
    res = invoke(*args, "--data", str(data))
    assert res.exit_code == 2 and "not a finite number" in res.output, res.output


@pytest.mark.parametrize("command", [["prices", "history"], ["prices", "add", "--kind", "purchase", "--amount", "5",
                                                               "--url", "https://example.com/x", "--dry-run"]])
def test_prices_refuse_a_machine_id_that_is_a_path(data: Path, command: list[str]) -> None:
    res = invoke(*command, "--data", str(data), "../hosts/reference")
    assert res.exit_code == 2 and "expected a slug" in res.output, res.output


@pytest.mark.parametrize("args, words", [
    (["--machine", "../../etc/passwd"], "expected a slug"),  # a path outside data/machines/
    (["--machine", "\x1b]0;title\x07"], "expected a slug"),  # never echoed raw
    (["--machine", "test-desktop", "--workload", ""], "expected a workload"),  # not the whole suite
    (["--machine", "test-desktop", "--nproc-per-node", "99999999999999999999"], "1<=x<=256"),
])
def test_run_refuses_odd_arguments_before_running(data: Path, args: list[str], words: str) -> None:
    res = invoke("run", "--data", str(data), "--no-save", *args)
    assert res.exit_code == 2 and words in res.output, res.output


def test_ctrl_c_while_starting_is_one_line_not_a_traceback(data: Path) -> None:
    # Ctrl-C while the modules load (before click runs) used to print a KeyboardInterrupt traceback.
    said = []
    for delay in (0.05, 0.1, 0.2):  # within the ~0.4 s the modules take to load
        proc = subprocess.Popen([sys.executable, "-m", "collectors.cli", "validate", "--data", str(data)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=60)[0].decode(errors="replace")
        assert "Traceback" not in out and proc.returncode in (0, 1), (delay, proc.returncode, out)
        said.append(out)
    assert any("Interrupted while starting" in o or "Aborted!" in o for o in said), said
