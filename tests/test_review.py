"""`costperf review` on generated run histories with known changes: it flags exactly those."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from collectors import store
from collectors.cli import main
from collectors.records import Environment, Machine, Result, RunRecord, Stats, WorkloadParams
from collectors.review import Point, Settings, compare, history, review

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

DECODE = WorkloadParams(model="llama-3-8b", dtype="bf16", batch=1, prompt_tokens=512, gen_tokens=128,
                        compile_mode="reduce-overhead")
TRAIN = WorkloadParams(model="gpt2-124m", dtype="bf16", batch=16, seq_len=1024, compile_mode="default")
MEMCPY = WorkloadParams(extra={"bytes": 1 << 30})
MATMUL = WorkloadParams(dtype="bf16", extra={"n": 8192})
TOY = WorkloadParams(model="mlp-1-16-1", dtype="fp32")


def machine_file(root: Path, machine_id: str, runner_label: str | None = None,
                 bandwidth_gbps: float | None = None) -> None:
    """A minimal valid machine file, built through the model."""
    m = Machine.model_validate({
        "id": machine_id, "name": f"Test {machine_id}", "vendor": "nvidia", "form": "server",
        "accelerators": [{"name": "Test GPU", "memory_gb": 80.0, "memory_kind": "dedicated",
                          "memory_bandwidth_gbps": bandwidth_gbps,
                          "provenance": "estimated", "formula": "test fixture"}],
        "usable_memory": {"rule": "vram_less_reserve", "reserve_gb": 1.0, "provenance": "estimated",
                          "formula": "VRAM less 1 GB"},
        "runner_label": runner_label,
    })
    store.write_new(root / "machines" / f"{machine_id}.yaml",
                    yaml.safe_dump(m.model_dump(mode="json", exclude_none=True), sort_keys=False))


def stats(rng: random.Random, level: float, unit: str, spread: float = 0.01, n: int = 7) -> Stats:
    return Stats.of([level * (1 + rng.gauss(0, spread)) for _ in range(n)], unit)


def result(workload: str, params: WorkloadParams, st: Stats) -> Result:
    return Result(workload=workload, params=params, status="ok", throughput=st)


def run(machine: str, days_ago: float, results: list[Result], torch: str = "2.12.0", commit: str = "abc1234",
        suite: str = "standard") -> RunRecord:
    start = NOW - dt.timedelta(days=days_ago)
    return RunRecord(
        machine=machine, started_at=start, ended_at=start + dt.timedelta(minutes=9), costperf_version="0.1.0",
        git_commit=commit, suite=suite, status="complete", results=results,
        environment=Environment(os="Linux", os_version="6.8", python="3.11.7", torch=torch, backend="cuda",
                                driver="580.65", cuda="13.0", devices=["Test GPU"]),
    )


def noisy_run(rng: random.Random, machine: str, days_ago: float, decode: float = 150.0, train: float = 5e5,
              toy: float = 1.0, **kw: str) -> RunRecord:
    """One run at the given levels: 1 % noise between repeats, 0.5 % between runs."""
    drift = lambda: 1 + rng.gauss(0, 0.005)  # noqa: E731 - run-to-run variation
    return run(machine, days_ago, [
        result("decode", DECODE, stats(rng, decode * drift(), "tokens/s")),
        result("train-gpt2", TRAIN, stats(rng, train * drift(), "tokens/s")),
        result("memcpy", MEMCPY, stats(rng, 3000 * drift(), "GB/s")),
        result("matmul", MATMUL, stats(rng, 780 * drift(), "TFLOP/s")),
        result("toy-mlp", TOY, stats(rng, toy * drift(), "s")),
    ], **kw)


@pytest.fixture()
def history_folder(tmp_path: Path) -> Path:
    """bench-a: decode regressed 20 %, training improved 20 %, torch changed, the rest is noise;
    bench-b: only noise; bench-c: last run 45 days ago (stale); bench-d: never run."""
    rng = random.Random(8)
    root = tmp_path / "data"
    machine_file(root, "bench-a", runner_label="gpu-a")
    machine_file(root, "bench-b", runner_label="gpu-b")
    machine_file(root, "bench-c")
    machine_file(root, "bench-d")
    for days in (35, 28, 21, 14, 7):
        store.write_run(root, noisy_run(rng, "bench-a", days))
        store.write_run(root, noisy_run(rng, "bench-b", days - 2))
    store.write_run(root, noisy_run(rng, "bench-a", 1, decode=120.0, train=6e5, torch="2.13.0"))
    store.write_run(root, noisy_run(rng, "bench-b", 1))
    store.write_run(root, noisy_run(rng, "bench-c", 52))
    store.write_run(root, noisy_run(rng, "bench-c", 45))
    return root


def invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


# ---------------------------------------------------------------------------------------------
# The logic


def test_review_flags_exactly_the_known_changes(history_folder: Path) -> None:
    ds = store.load(history_folder)
    assert ds.problems == []
    r = review(ds, now=NOW)
    assert [(s.machine, s.workload) for s in r.regressions] == [("bench-a", "decode")]
    assert [(s.machine, s.workload) for s in r.improvements] == [("bench-a", "train-gpt2")]
    reg = r.regressions[0]
    assert reg.vs_baseline is not None and reg.vs_baseline.change == pytest.approx(-0.2, abs=0.04)
    assert reg.vs_baseline.runs == 5
    software = {t.machine: [(c.what, c.before, c.after) for c in t.software] for t in r.tracks}
    assert software == {"bench-a": [("torch", "2.12.0", "2.13.0")], "bench-b": [], "bench-c": []}
    assert [s.machine for s in r.stale] == ["bench-c"]
    assert [s.machine for s in r.never_run] == ["bench-d"]
    noise = [(s.machine, s.workload) for t in r.tracks for s in t.series if s.verdict == "noise"]
    assert len(noise) == 3 + 5 + 5  # bench-a's three unchanged series, all of bench-b and bench-c
    assert all(not t.appeared and not t.disappeared for t in r.tracks)


def test_time_units_are_better_lower() -> None:
    base = [Point("r", NOW, 1.0, 0.005, 5)] * 3
    slower = compare(Point("n", NOW, 1.25, 0.005, 5), base, higher_better=False)
    faster = compare(Point("n", NOW, 0.8, 0.005, 5), base, higher_better=False)
    assert (slower.verdict, faster.verdict) == ("regression", "improvement")
    assert compare(Point("n", NOW, 1.25, 0.005, 5), base, higher_better=True).verdict == "improvement"


def test_slower_run_in_seconds_is_a_regression(tmp_path: Path) -> None:
    rng = random.Random(1)
    root = tmp_path / "data"
    machine_file(root, "bench-t")
    for days in (20, 13, 6):
        store.write_run(root, noisy_run(rng, "bench-t", days))
    store.write_run(root, noisy_run(rng, "bench-t", 1, toy=1.3))
    r = review(store.load(root), now=NOW)
    assert [(s.workload, s.unit) for s in r.regressions] == [("toy-mlp", "s")]
    assert r.improvements == []


def test_noise_threshold_follows_the_repeats_spread() -> None:
    # 5 % sigma on both sides: the change's spread is 7.1 %, the threshold 21 %, so -10 % is noise ...
    wide = [Point("r", NOW, 100.0, 0.05, 5)]
    assert compare(Point("n", NOW, 90.0, 0.05, 5), wide, True).verdict == "noise"
    assert compare(Point("n", NOW, 90.0, 0.05, 5), wide, True).noise == pytest.approx(3 * 0.05 * 2 ** 0.5)
    # Run-to-run spread of the baseline medians (2 % here) counts when the repeats look tighter.
    drifting = [Point("r", NOW, m, 0.001, 5) for m in (96.0, 98.0, 100.0, 102.0, 104.0)]
    assert compare(Point("n", NOW, 100.0, 0.001, 5), drifting, True).noise == pytest.approx(
        3 * float(__import__("math").hypot(0.001, 1.4826 * 2 / 100)))
    # ... while with tight repeats the 3 % floor applies and the same change counts.
    tight = [Point("r", NOW, 100.0, 0.001, 5)]
    assert compare(Point("n", NOW, 90.0, 0.001, 5), tight, True).noise == pytest.approx(0.03)
    assert compare(Point("n", NOW, 90.0, 0.001, 5), tight, True).verdict == "regression"
    assert compare(Point("n", NOW, 97.5, 0.001, 5), tight, True).verdict == "noise"


def test_stats_mad_is_scaled_to_sigma(tmp_path: Path) -> None:
    root = tmp_path / "data"
    machine_file(root, "bench-s")
    samples = [100.0, 96.0, 104.0, 100.0, 100.0]  # MAD 0: tight; median 100
    noisy = [100.0, 90.0, 110.0, 95.0, 105.0]     # MAD 5 -> sigma 7.4 % -> threshold 22 %
    store.write_run(root, run("bench-s", 3, [result("decode", DECODE, Stats.of(samples, "tokens/s"))]))
    store.write_run(root, run("bench-s", 1, [result("decode", DECODE, Stats.of([s * 0.85 for s in noisy],
                                                                              "tokens/s"))]))
    (s,) = review(store.load(root), now=NOW).tracks[0].series
    assert s.vs_baseline is not None
    assert s.vs_baseline.noise == pytest.approx(3 * 1.4826 * 5 / 100)
    assert s.newest.rel_sigma == pytest.approx(1.4826 * 5 * 0.85 / 85)
    assert s.verdict == "noise"  # -15 % is within the noise of such repeats


def test_one_odd_previous_run_does_not_flag_a_normal_newest_run(tmp_path: Path) -> None:
    rng = random.Random(3)
    root = tmp_path / "data"
    machine_file(root, "bench-o")
    for days in (30, 23, 16, 9):
        store.write_run(root, noisy_run(rng, "bench-o", days))
    store.write_run(root, noisy_run(rng, "bench-o", 5, decode=200.0))  # an odd fast run
    store.write_run(root, noisy_run(rng, "bench-o", 1))
    (t,) = review(store.load(root), now=NOW).tracks
    decode = next(s for s in t.series if s.workload == "decode")
    assert decode.vs_previous is not None and decode.vs_previous.verdict == "regression"
    assert decode.verdict == "noise"


def test_appeared_and_disappeared_workloads(tmp_path: Path) -> None:
    rng = random.Random(4)
    root = tmp_path / "data"
    machine_file(root, "bench-w")
    store.write_run(root, noisy_run(rng, "bench-w", 8))
    newest = noisy_run(rng, "bench-w", 1)
    newest.results = [r for r in newest.results if r.workload != "memcpy"] + [
        Result(workload="matmul", params=MATMUL.model_copy(update={"dtype": "fp8"}), status="ok",
               throughput=stats(rng, 1500, "TFLOP/s")),
        Result(workload="memcpy", params=MEMCPY, status="oom", message="CUDA out of memory"),
    ]
    store.write_run(root, newest)
    (t,) = review(store.load(root), now=NOW).tracks
    assert [(w.workload, w.params) for w in t.appeared] == [("matmul", "fp8 n=8192")]
    assert [(w.workload, w.status, w.message) for w in t.disappeared] == [("memcpy", "oom", "CUDA out of memory")]
    assert {s.workload for s in t.series} == {"decode", "train-gpt2", "matmul", "toy-mlp"}
    code, out = invoke("review", "--data", str(root))
    assert re.search(r"^APPEARED +bench-w +matmul \[fp8 n=8192\]$", out, re.M)
    assert re.search(r"^DISAPPEARED +bench-w +memcpy \[n?.*\] now oom \(CUDA out of memory\)$", out, re.M)
    for word, what in (("appeared", "matmul"), ("disappeared", "memcpy")):  # each said once, not twice
        assert len([line for line in out.splitlines() if re.match(word, line.lower()) and what in line]) == 1
    data = json.loads(invoke("review", "--data", str(root), "--json")[1])
    assert (data["summary"]["appeared"], data["summary"]["disappeared"]) == (1, 1)


def test_a_track_with_no_figure_in_common_is_named(tmp_path: Path) -> None:
    """Two runs that share no figure (and a software change): the text names the track, not a bare line."""
    rng = random.Random(5)
    root = tmp_path / "data"
    machine_file(root, "bench-n")
    store.write_run(root, run("bench-n", 8, [result("memcpy", MEMCPY, stats(rng, 3000, "GB/s"))]))
    store.write_run(root, run("bench-n", 1, [result("matmul", MATMUL, stats(rng, 780, "TFLOP/s"))],
                              torch="2.13.0"))
    (t,) = review(store.load(root), now=NOW).tracks
    assert t.series == [] and t.software
    code, out = invoke("review", "--data", str(root))
    assert code == 0
    lines = [line for line in out.splitlines() if line.strip()]
    i = next(n for n, line in enumerate(lines) if line.startswith("Software changed"))
    assert lines[i - 1].startswith("bench-n · costperf · suite standard: no figure in both the newest run")


def test_suites_are_reviewed_separately_and_interrupted_runs_skipped(tmp_path: Path) -> None:
    rng = random.Random(5)
    root = tmp_path / "data"
    machine_file(root, "bench-q")
    store.write_run(root, noisy_run(rng, "bench-q", 9))
    store.write_run(root, noisy_run(rng, "bench-q", 6, suite="quick", decode=10.0))
    broken = noisy_run(rng, "bench-q", 3, decode=50.0)
    broken.status = "interrupted"
    store.write_run(root, broken)
    store.write_run(root, noisy_run(rng, "bench-q", 1))
    r = review(store.load(root), now=NOW)
    assert [(t.suite, t.runs) for t in r.tracks] == [("quick", 1), ("standard", 2)]
    assert r.regressions == [] and r.improvements == []


def test_since_compares_with_the_runs_before_the_date(tmp_path: Path) -> None:
    rng = random.Random(6)
    root = tmp_path / "data"
    machine_file(root, "bench-d")
    for days in (40, 33, 26):
        store.write_run(root, noisy_run(rng, "bench-d", days))
    for days, level in ((19, 141.0), (12, 132.5), (5, 124.6), (1, 117.1)):
        store.write_run(root, noisy_run(rng, "bench-d", days, decode=level))
    ds = store.load(root)
    since = (NOW - dt.timedelta(days=21)).replace(hour=0, minute=0, second=0)
    r = review(ds, Settings(since=since), now=NOW)
    (t,) = r.tracks
    assert t.previous == [x for x in ds.runs_for("bench-d") if x.started_at < since][-1].stamp
    (decode,) = [s for s in r.regressions if s.workload == "decode"]
    assert decode.vs_baseline is not None and decode.vs_baseline.runs == 3  # only runs before the date
    assert decode.vs_baseline.change == pytest.approx(117.1 / 150 - 1, abs=0.03)
    later = review(ds, Settings(since=NOW - dt.timedelta(hours=12)), now=NOW)
    assert later.tracks[0].note and "no run since" in later.tracks[0].note and later.tracks[0].series == []


def test_physics_flags_of_the_newest_run(tmp_path: Path) -> None:
    rng = random.Random(7)
    root = tmp_path / "data"
    machine_file(root, "bench-p", bandwidth_gbps=1000.0)
    for days, bytes_per_token in ((8, 5e9), (1, 15e9)):
        r = noisy_run(rng, "bench-p", days)
        r.results[0].bytes_per_token = bytes_per_token  # decode at ~150 tok/s: 750, then 2,250 GB/s
        store.write_run(root, r)
    newest = store.load(root).runs_for("bench-p")[-1].stamp
    rv = review(store.load(root), now=NOW)
    assert rv.physics_checked
    assert [(p.run, p.check, p.severity) for p in rv.physics] == [(newest, "decode-roofline", "violation")]
    code, out = invoke("review", "--data", str(root))
    assert code == 0 and re.search(rf"^PHYSICS +bench-p +run {newest} results\.0\.throughput: decode", out, re.M)
    assert invoke("review", "--data", str(root), "--fail-on", "physics")[0] == 1
    assert invoke("review", "--data", str(root), "--fail-on", "regression")[0] == 0


def test_history_rows_carry_band_and_verdict(history_folder: Path) -> None:
    rows = [r for r in history(store.load(history_folder)) if r["machine"] == "bench-a"
            and r["workload"] == "decode"]
    assert len(rows) == 6
    assert rows[0]["verdict"] == "first" and rows[0]["baseline"] is None
    assert [r["verdict"] for r in rows[1:]] == ["noise"] * 4 + ["regression"]
    last = rows[-1]
    assert last["band_low"] < last["baseline"] < last["band_high"]
    assert last["value"] < last["band_low"]
    assert last["software"] == "torch 2.12.0 → 2.13.0"


# ---------------------------------------------------------------------------------------------
# The command: text, JSON and exit code


def test_cli_text_names_exactly_the_flagged_changes(history_folder: Path) -> None:
    code, out = invoke("review", "--data", str(history_folder))
    assert code == 0
    flagged = [line.split()[0] for line in out.splitlines()
               if line.split() and line.split()[0] in {"REGRESSION", "IMPROVEMENT", "SOFTWARE", "STALE",
                                                       "APPEARED", "DISAPPEARED", "PHYSICS"}]
    assert sorted(flagged) == ["IMPROVEMENT", "REGRESSION", "SOFTWARE", "STALE"]
    line = {w.split()[0]: w for w in out.splitlines() if w.split()}
    assert "bench-a" in line["REGRESSION"] and "decode" in line["REGRESSION"]
    assert "higher is better" in line["REGRESSION"]
    assert "bench-a" in line["IMPROVEMENT"] and "train-gpt2" in line["IMPROVEMENT"]
    assert "torch: 2.12.0 → 2.13.0" in line["SOFTWARE"]
    assert "bench-c" in line["STALE"] and "45 days" in line["STALE"]
    assert "No run at all (not counted as stale): bench-d" in out
    assert "1 regression(s), 1 improvement(s), 1 software change(s), 1 stale machine(s), 1 never run" in out


def test_cli_json_and_exit_codes(history_folder: Path) -> None:
    code, out = invoke("review", "--data", str(history_folder), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["summary"] == {"regressions": 1, "improvements": 1, "software_changes": 1, "appeared": 0,
                               "disappeared": 0, "stale": 1, "never_run": 1, "physics_flags": 0,
                               "failures": 0}
    assert [(r["machine"], r["workload"], r["unit"]) for r in data["regressions"]] == [
        ("bench-a", "decode", "tokens/s")]
    assert data["regressions"][0]["change"] < -data["regressions"][0]["noise"]
    assert [(r["machine"], r["workload"]) for r in data["improvements"]] == [("bench-a", "train-gpt2")]
    assert [s["machine"] for s in data["stale"]] == ["bench-c"]
    assert data["never_run"] == ["bench-d"]
    assert data["settings"]["window"] == 5 and data["settings"]["floor"] == 0.03

    assert invoke("review", "--data", str(history_folder), "--fail-on", "regression")[0] == 1
    assert invoke("review", "--data", str(history_folder), "--json", "--fail-on", "regression")[0] == 1
    # Only noise on bench-b: nothing to fail on.
    code, out = invoke("review", "--data", str(history_folder), "--machine", "bench-b", "--fail-on", "regression")
    assert code == 0 and "REGRESSION" not in out and "0 regression(s)" in out
    assert invoke("review", "--data", str(history_folder), "--machine", "bench-c", "--fail-on", "stale")[0] == 1
    assert invoke("review", "--data", str(history_folder), "--stale-days", "60", "--fail-on", "stale")[0] == 0


def test_cli_options_change_the_verdicts(history_folder: Path) -> None:
    data = json.loads(invoke("review", "--data", str(history_folder), "--json", "--noise-floor", "25")[1])
    assert data["summary"]["regressions"] == 0 and data["summary"]["improvements"] == 0
    data = json.loads(invoke("review", "--data", str(history_folder), "--json", "--window", "1")[1])
    assert data["regressions"][0]["change"] == pytest.approx(data["regressions"][0]["change_vs_previous"])


def test_cli_bad_input_is_a_clear_error(history_folder: Path) -> None:
    code, out = invoke("review", "--data", str(history_folder), "--machine", "nope")
    assert code == 2 and "unknown machine nope" in out and "Traceback" not in out
    code, out = invoke("review", "--data", str(history_folder), "--since", "last week")
    assert code == 2 and "expected a date YYYY-MM-DD" in out
    bad = next((history_folder / "runs" / "bench-b").iterdir())
    bad.write_text(bad.read_text().replace('"costperf_version": "0.1.0"', '"costperf_version": 1'))
    code, out = invoke("review", "--data", str(history_folder))
    assert code == 2 and bad.name in out and "costperf_version" in out and "Traceback" not in out


def test_runners_matrix(history_folder: Path) -> None:
    code, out = invoke("runners", "--data", str(history_folder), "--json")
    assert code == 0
    assert json.loads(out) == {"include": [{"machine": "bench-a", "runner": "gpu-a"},
                                           {"machine": "bench-b", "runner": "gpu-b"}]}
    code, out = invoke("runners", "--data", str(history_folder), "--json", "--only", "bench-b, bench-c")
    assert json.loads(out) == {"include": [{"machine": "bench-b", "runner": "gpu-b"}]}
    code, out = invoke("runners", "--data", str(history_folder), "--only", "ghost")
    assert code == 2 and "unknown machine ghost" in out


# ---------------------------------------------------------------------------------------------
# Guards: each fails if its rule changes (median baseline, median spread, stale cutoff, failures)


def _point(median: float, rel_sigma: float = 0.0, i: int = 0) -> Point:
    return Point(run=f"r{i}", started_at=NOW - dt.timedelta(days=30 - i), median=median, rel_sigma=rel_sigma,
                 repeats=5)


def test_baseline_is_the_median_of_the_window_not_the_mean_or_the_last() -> None:
    refs = [_point(m, i=i) for i, m in enumerate([100.0, 100.0, 40.0, 100.0, 100.0, 10.0])]
    c = compare(_point(100.0), refs[-5:], True)
    # median of the last five is 100; their mean is 70, the last one 10, all six 100 too
    assert c.reference == 100.0 and c.change == 0.0 and c.runs == 5 and c.verdict == "noise"
    c = compare(_point(100.0), refs[-3:], True)  # 100, 100, 10: still the median
    assert c.reference == 100.0


def test_reference_spread_is_the_median_spread_of_its_runs() -> None:
    refs = [_point(100.0, s, i) for i, s in enumerate([0.01, 0.01, 0.30])]
    c = compare(_point(110.0), refs, True, k=3.0, floor=0.03)
    # median spread 0.01 -> noise max(3 x 0.01, 3 %) = 3 %; a mean spread (0.107) would hide the +10 %.
    assert c.noise == pytest.approx(0.03) and c.verdict == "improvement"


def test_run_to_run_spread_counts_with_three_runs_or_more() -> None:
    refs = [_point(m, 0.0, i) for i, m in enumerate([90.0, 100.0, 110.0])]
    c = compare(_point(118.0), refs, True, k=3.0, floor=0.0)
    assert c.noise == pytest.approx(3 * 1.4826 * 10 / 100) and c.verdict == "noise"


@pytest.mark.parametrize("days, stale", [(29.99, False), (30.0, False), (30.01, True)])
def test_stale_cutoff_is_more_than_stale_days(days: float, stale: bool, tmp_path: Path) -> None:
    root = tmp_path / "data"
    machine_file(root, "bench-s")
    store.write_run(root, noisy_run(random.Random(1), "bench-s", 40))
    ds = store.load(root)
    last = ds.runs[0].started_at
    r = review(ds, Settings(stale_days=30), now=last + dt.timedelta(days=days))
    assert [s.stale for s in r.staleness] == [stale]
    assert bool(r.stale) == stale


def _failing(run_: RunRecord) -> RunRecord:
    return run_.model_copy(update={"results": [r.model_copy(update={"status": "error", "throughput": None,
                                                                    "message": "CUDA error"})
                                               for r in run_.results]})


def test_a_newest_run_where_everything_failed_is_a_regression(tmp_path: Path) -> None:
    rng = random.Random(5)
    root = tmp_path / "data"
    machine_file(root, "bench-f")
    for days in (20, 10):
        store.write_run(root, noisy_run(rng, "bench-f", days))
    store.write_run(root, _failing(noisy_run(rng, "bench-f", 1)))
    code, out = invoke("review", "--data", str(root), "--fail-on", "regression")
    assert code == 1, out
    assert "FAILED" in out and "CUDA error" in out and "5 failed workload(s)" in out
    code, _ = invoke("review", "--data", str(root))
    assert code == 0  # without --fail-on it is a report, not a verdict


def test_a_first_run_where_everything_failed_is_a_regression(tmp_path: Path) -> None:
    root = tmp_path / "data"
    machine_file(root, "bench-g")
    store.write_run(root, _failing(noisy_run(random.Random(6), "bench-g", 1)))
    code, out = invoke("review", "--data", str(root), "--fail-on", "regression")
    assert code == 1 and "5 failed workload(s)" in out, out


def test_one_workload_failing_where_it_ran_before_is_a_regression(tmp_path: Path) -> None:
    rng = random.Random(7)
    root = tmp_path / "data"
    machine_file(root, "bench-h")
    store.write_run(root, noisy_run(rng, "bench-h", 10))
    newest = noisy_run(rng, "bench-h", 1)
    results = list(newest.results)
    results[0] = results[0].model_copy(update={"status": "oom", "throughput": None, "message": "out of memory"})
    store.write_run(root, newest.model_copy(update={"results": results}))
    r = review(store.load(root), now=NOW)
    assert [(w.workload, w.status) for _, w in r.failures] == [("decode", "oom")]
    assert invoke("review", "--data", str(root), "--fail-on", "regression")[0] == 1


def test_bad_data_exits_2_never_1(tmp_path: Path) -> None:
    root = tmp_path / "data"
    machine_file(root, "bench-i")
    (root / "runs" / "bench-i").mkdir(parents=True)
    (root / "runs" / "bench-i" / "20260101T000000Z.json").write_text('{"a": 1, "a": 2}')
    (root / "machines" / "deep.yaml").write_text("id: " + "[" * 5000 + "]" * 5000)
    code, out = invoke("review", "--data", str(root), "--fail-on", "regression")
    assert code == 2 and "duplicate key" in out and "deep.yaml" in out and "Traceback" not in out
