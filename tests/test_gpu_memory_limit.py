"""What macOS lets the GPU use: read fail-soft off macOS, recorded in the run file's Environment, and
preferred by the report to the machine file's rule when a run of that Mac measured it.

No Mac is reachable here, so the Metal readers are exercised on what this machine really has (torch's
CPU build, MLX's CPU build: both must say why they read nothing); the record and report sides run
for real on run records carrying the figure a Mac would write.
"""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path

import pytest
from pydantic import ValidationError

from collectors import gpu_memory_limit, store
from collectors.records import Environment, Result, RunRecord, Stats, WorkloadParams
from report import metrics
from report.assumptions import Assumptions
from report.measured_memory import measured_limits
from report.sample_data import machine

A = Assumptions(amortisation_years=3, hours_per_day=8, utilisation=0.5, usd_per_kwh=0.2, kv_cache_gb=2.0)


@pytest.mark.parametrize(("text", "mb"), [("0\n", 0), ("  98304 ", 98304), ("", None), ("abc", None), (None, None),
                                         ("-5", None)])
def test_parse_wired_limit(text: str | None, mb: int | None) -> None:
    assert gpu_memory_limit.parse_wired_limit(text) == mb


@pytest.mark.skipif(platform.system() == "Darwin", reason="checks the behaviour off macOS")
def test_off_macos_everything_is_none_with_the_reason() -> None:
    limit = gpu_memory_limit.read()
    assert limit.environment_fields() == {"gpu_working_set_gb": None, "gpu_working_set_source": None,
                                          "gpu_wired_limit_mb": None}
    assert "not macOS" in (limit.reason or "")


@pytest.mark.skipif(platform.system() == "Darwin", reason="checks the readers where there is no Metal")
def test_readers_say_why_they_read_nothing_without_metal() -> None:
    torch = pytest.importorskip("torch")
    assert gpu_memory_limit.from_torch(torch) == (None, "torch sees no MPS device")
    mx = pytest.importorskip("mlx.core")
    assert gpu_memory_limit.from_mlx(mx) == (None, "MLX sees no Metal device")


def test_environment_holds_the_limit_and_rejects_a_negative_wired_limit() -> None:
    env = Environment(os="Darwin", os_version="24.6.0", macos_version="15.6", python="3.12.4", backend="mps",
                      gpu_working_set_gb=51.54, gpu_working_set_source="torch.mps.recommended_max_memory()",
                      gpu_wired_limit_mb=0)
    assert env.gpu_working_set_gb == 51.54
    with pytest.raises(ValidationError, match="gpu_wired_limit_mb"):
        Environment(os="Darwin", os_version="24.6.0", python="3.12.4", backend="mps", gpu_wired_limit_mb=-1)


def test_a_run_record_here_carries_no_limit() -> None:
    pytest.importorskip("torch")
    from collectors import runner  # noqa: PLC0415

    env = runner.environment(runner.pick_device("cpu"), {})
    if platform.system() != "Darwin":
        assert env.gpu_working_set_gb is None and env.gpu_wired_limit_mb is None


def mac_run(machine_id: str, gb: float, wired_mb: int, day: int) -> RunRecord:
    start = dt.datetime(2026, 11, day, 10, 0, tzinfo=dt.timezone.utc)
    env = Environment(os="Darwin", os_version="24.6.0", macos_version="15.6", python="3.12.4", torch="2.13.0",
                      backend="mps", gpu_working_set_gb=gb, gpu_working_set_source="torch.mps.recommended_max_memory()",
                      gpu_wired_limit_mb=wired_mb)
    result = Result(workload="memcpy", status="ok", params=WorkloadParams(), throughput=Stats.of([100.0], "GB/s"))
    return RunRecord(machine=machine_id, started_at=start, ended_at=start + dt.timedelta(minutes=5),
                     costperf_version="0.1.0", environment=env, suite="quick", results=[result], status="complete")


def test_report_prefers_the_measured_limit_of_a_mac(tmp_path: Path) -> None:
    mac = machine("example-mac", "Example Mac", vendor="apple", form="mini", memory_gb=64, unified=True,
                  price_usd=2000.0)
    gpu = machine("example-gpu", "Example GPU", memory_gb=24, price_usd=1600.0)
    runs = [mac_run("example-mac", 51.54, 0, 1),
            mac_run("example-mac", 53.0, 0, 2),  # the newest wins
            mac_run("example-mac", 60.0, 61440, 3)]  # a raised limit is not what macos_default describes
    ds = store.DataSet(root=tmp_path, machines={m.id: m for m in (mac, gpu)}, runs=runs)
    assert {k: v[0] for k, v in measured_limits(ds.runs, ds.machines).items()} == {"example-mac": 53.0}
    rows = metrics.build(ds, A).machines.set_index("machine")
    m = rows.loc["example-mac"]
    assert m["usable_gb"] == pytest.approx(53.0) and m["usable_provenance"] == "measured"
    assert "recommendedMaxWorkingSetSize" in m["usable_rule"] and "macOS 15.6" in m["usable_rule"]
    assert m["usd_per_usable_gb"] == pytest.approx(2000.0 / 53.0)
    assert m["largest_4bit_b"] == pytest.approx(metrics.largest_model_b(53.0, 4, A.kv_cache_gb))
    # the file's rule where no run measured it: 0.75 x 64 GB
    without = metrics.build(store.DataSet(root=tmp_path, machines=ds.machines), A).machines.set_index("machine")
    assert without.loc["example-mac", "usable_gb"] == pytest.approx(48.0)
    assert without.loc["example-mac", "usable_provenance"] == "estimated"
    assert rows.loc["example-gpu", "usable_gb"] == without.loc["example-gpu", "usable_gb"] == pytest.approx(23.0)
