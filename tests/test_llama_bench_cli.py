"""`costperf import llama-bench`: run records, published sets, and nothing written on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from foundation_data import write_folder

from collectors import store
from collectors.cli import main
from collectors.records import PublishedSet, RunRecord

FIXTURES = Path(__file__).parent / "fixtures" / "llama_bench"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "data", runs=[])


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_import_writes_a_valid_run(data: Path, fmt: str) -> None:
    code, out = invoke("import", "llama-bench", str(FIXTURES / "new" / f"bench.{fmt}"), "--machine", "test-desktop",
                       "--data", str(data))
    assert code == 0, out
    path = data / "runs" / "test-desktop" / "20261124T173303Z.json"
    assert f"Wrote {path}" in out
    run = RunRecord.model_validate_json(path.read_text())
    assert run.tool == "llama-bench" and [r.workload for r in run.results] == ["prefill", "decode"]
    ds = store.load(data)
    assert ds.problems == []
    # validate is clean too: a 0.25 GB model is cache-resident, not roofline-checked
    code, out = invoke("validate", "--data", str(data))
    assert code == 0, out
    # The same output again: refused, the first file kept as it was.
    before = path.read_bytes()
    code, out = invoke("import", "llama-bench", str(FIXTURES / "new" / f"bench.{fmt}"), "--machine", "test-desktop",
                       "--data", str(data))
    assert code == 1 and "already imported" in out and path.read_bytes() == before


def test_markdown_run_needs_time(data: Path) -> None:
    md = str(FIXTURES / "old" / "bench.md")
    code, out = invoke("import", "llama-bench", md, "--machine", "test-desktop", "--data", str(data))
    assert code == 1 and "--time" in out and "Nothing imported" in out
    code, out = invoke("import", "llama-bench", md, "--machine", "test-desktop", "--time", "2026-11-24T17:33:03Z",
                       "--data", str(data))
    assert code == 0, out
    run = RunRecord.model_validate_json((data / "runs" / "test-desktop" / "20261124T173303Z.json").read_text())
    assert run.results[0].params.extra["samples"].startswith("mean only")
    assert run.environment.settings["llama_bench_build"] == "20e30b2 (5504)"


def test_import_with_source_writes_a_published_set(data: Path) -> None:
    code, out = invoke("import", "llama-bench", str(FIXTURES / "new" / "bench.jsonl"), "--source",
                       "https://example.org/my-post", "--title", "My post", "--machine", "test-desktop",
                       "--data", str(data))
    assert code == 0, out
    path = data / "published" / "llama-bench-test-desktop-2026-11-24.yaml"
    record, problems = store.read_file(path)
    assert problems == [] and isinstance(record, PublishedSet)
    assert [r.workload for r in record.results] == ["prefill", "decode"]
    assert record.results[1].tokens_per_s == 83.142655 and record.results[1].settings["lazy_mode"] == "auto"
    assert record.citation.url == "https://example.org/my-post" and record.citation.date.isoformat() == "2026-11-24"
    assert store.load(data).problems == []


def test_bad_input_writes_nothing(data: Path, tmp_path: Path) -> None:
    before = files_under(data)
    text = (FIXTURES / "new" / "bench.json").read_text()
    broken = tmp_path / "broken.json"
    broken.write_text(text[: len(text) // 2])
    code, out = invoke("import", "llama-bench", str(broken), "--machine", "test-desktop", "--data", str(data))
    assert code == 1 and "broken.json" in out and "malformed JSON" in out and "Traceback" not in out
    rows = json.loads(text)
    rows[0]["avg_ts"] = 1.0
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(rows))
    code, out = invoke("import", "llama-bench", str(edited), "--machine", "test-desktop", "--data", str(data))
    assert code == 1 and "avg_ts" in out
    code, out = invoke("import", "llama-bench", str(FIXTURES / "new" / "bench.json"), "--machine", "no-such-machine",
                       "--data", str(data))
    assert code == 1 and "no-such-machine" in out
    code, out = invoke("import", "llama-bench", str(FIXTURES / "new" / "bench.json"), "--data", str(data))
    assert code != 0 and "--machine" in out
    assert files_under(data) == before


def test_dry_run_prints_without_writing(data: Path) -> None:
    before = files_under(data)
    code, out = invoke("import", "llama-bench", str(FIXTURES / "new" / "bench.csv"), "--machine", "test-desktop",
                       "--dry-run", "--data", str(data))
    assert code == 0 and json.loads(out)["tool"] == "llama-bench"
    md = str(FIXTURES / "new" / "bench.md")
    code, out = invoke("import", "llama-bench", md, "--source", "https://example.org/x", "--dry-run", "--data", str(data))
    assert code == 1 and "--hardware" in out
    code, out = invoke("import", "llama-bench", md, "--source", "https://example.org/x", "--hardware", "AMD EPYC (2 vCPU)",
                       "--dry-run", "--data", str(data))
    assert code == 0 and yaml.safe_load(out)["results"][0]["hardware"] == "AMD EPYC (2 vCPU)"
    assert files_under(data) == before
