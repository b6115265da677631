"""What `costperf run` prints around the measurements: `--list` has a header and a total, and the
summary flags a figure whose repeats spread 100% or more as unstable."""

from __future__ import annotations

import copy
import json
import statistics

from click.testing import CliRunner
from foundation_data import run_dict
from rich.console import Console

from collectors.cli import main
from collectors.cli.run import repeat_spread, summary
from collectors.records import RunRecord


def printed(record: RunRecord) -> str:
    console = Console(width=250, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(summary(record, None))
    return console.export_text()


def with_samples(samples: list[float]) -> RunRecord:
    d = copy.deepcopy(run_dict())
    tp = d["results"][0]["throughput"]
    med = statistics.median(samples)
    tp.update(samples=samples, median=med, mean=statistics.fmean(samples), stdev=statistics.stdev(samples),
              mad=statistics.median(abs(s - med) for s in samples))
    return RunRecord.model_validate_json(json.dumps(d))  # as a run file is read


def test_a_spread_of_100_percent_or_more_is_flagged() -> None:
    steady = printed(with_samples([10.0, 11.0, 12.0]))
    assert "UNSTABLE" not in steady and "18" in steady  # (12 - 10) / 11 = 18%
    shaky = printed(with_samples([5.0, 11.0, 16.0]))  # (16 - 5) / 11 = 100%
    assert "UNSTABLE: repeats spread 100%" in shaky and "1 figure(s) UNSTABLE" in shaky
    assert repeat_spread([5.0], 5.0) is None


def test_run_list_has_a_header_and_a_total() -> None:
    out = CliRunner().invoke(main, ["run", "--list", "--suite", "quick"])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert lines[0].split() == ["task", "workload", "estimate"]
    tasks = lines[1:-1]
    assert tasks and all("~" in t for t in tasks)
    assert lines[-1].startswith(f"{len(tasks)} task(s) in the quick suite, about ")
