"""llama-bench importer: four formats, two llama-bench versions, malformed and truncated files."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from collectors.importers.llama_bench import LlamaBenchError, dtype_of, model_of, parse_file, parse_text
from collectors.importers.llama_bench_records import to_published, to_run

FIXTURES = Path(__file__).parent / "fixtures" / "llama_bench"
SAMPLE = Path(__file__).parents[1].parent / "shared" / "samples" / "llama-bench" / "llama-bench-defaults.json"
FORMATS = ["json", "jsonl", "csv", "md"]
WHEN = dt.datetime(2026, 11, 24, 17, 33, 3, tzinfo=dt.timezone.utc)


def run_of(path: Path) -> Any:
    fmt, rows = parse_file(path)
    return to_run(rows, machine="test-desktop", path=path, fmt=fmt, costperf_version="0.1.0",
                  started=WHEN if fmt == "md" else None)


def comparable(result: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    data = result.model_dump(mode="json", exclude={"raw"})
    for key in drop:
        data["params"]["extra"].pop(key, None)
    return data


SAMPLE_SHA256 = "5a12b2c9ce6abf66edda0c8aee9a64dfb10072be3d3fcd6442d7619f0abda071"
"""sha256 of the real llama-bench output (llama.cpp 0c1e570) the fixture copies, unedited."""


def test_new_fixture_is_the_real_sample() -> None:
    fixture = (FIXTURES / "new" / "bench.json").read_bytes()
    assert hashlib.sha256(fixture).hexdigest() == SAMPLE_SHA256, "the fixture was edited: it must stay the real output"
    if SAMPLE.exists():  # where the original sample sits beside the project, compare with it too
        assert fixture == SAMPLE.read_bytes()


@pytest.mark.parametrize("fmt", FORMATS)
def test_old_and_new_versions_import_identically(fmt: str) -> None:
    new, old = run_of(FIXTURES / "new" / f"bench.{fmt}"), run_of(FIXTURES / "old" / f"bench.{fmt}")
    assert [r.workload for r in new.results] == ["prefill", "decode"]
    if fmt != "md":  # markdown shows flash_attn only when it differs from the default
        # flash_attn is -1 (auto) in the new build and false in the old one: normalised, both are ints.
        assert [r.params.extra["flash_attn"] for r in new.results] == [-1, -1]
        assert [r.params.extra["flash_attn"] for r in old.results] == [0, 0]
    assert [comparable(r, ("flash_attn",)) for r in new.results] == \
        [comparable(r, ("flash_attn",)) for r in old.results]
    assert (new.started_at, new.ended_at) == (old.started_at, old.ended_at)
    assert new.environment.settings["llama_bench_build"] == "0c1e570 (1)"
    assert old.environment.settings["llama_bench_build"] == "20e30b2 (5504)"


def test_json_run_keeps_samples_and_unknown_keys() -> None:
    run = run_of(FIXTURES / "new" / "bench.json")
    pp, tg = run.results
    assert run.tool == "llama-bench" and run.machine == "test-desktop"
    assert pp.throughput.samples == [543.803, 535.689] and tg.throughput.samples == [82.8107, 83.4746]
    assert pp.throughput.mean == pytest.approx(539.745937, rel=1e-6)
    assert (tg.params.engine, tg.params.dtype, tg.params.model) == ("llama.cpp", "q4_k_m", "gemma3-270m")
    assert (tg.params.prompt_tokens, tg.params.gen_tokens) == (0, 128)
    assert tg.bytes_per_token == 246587904 and pp.bytes_per_token is None
    assert tg.duration_s == pytest.approx((1545694079 + 1533400285) / 1e9)
    # Keys this importer does not know stay in the record as read.
    assert pp.raw["lazy_mode"] == "auto" and pp.raw["repack"] is True and pp.raw["samples_ns"] == [941518173, 955777901]
    assert run.started_at == WHEN
    assert run.ended_at == dt.datetime(2026, 11, 24, 17, 33, 6, tzinfo=dt.timezone.utc) + \
        dt.timedelta(seconds=(1545694079 + 1533400285) / 1e9)


def test_old_json_keeps_its_own_fields() -> None:
    run = run_of(FIXTURES / "old" / "bench.json")
    assert run.results[0].raw["use_mmap"] is True and run.results[0].raw["flash_attn"] is False
    assert "load_mode" not in run.results[0].raw and "n_cpu_moe" not in run.results[0].params.extra


def test_formats_agree() -> None:
    runs = {fmt: run_of(FIXTURES / "new" / f"bench.{fmt}") for fmt in FORMATS}
    assert [comparable(r) for r in runs["json"].results] == [comparable(r) for r in runs["jsonl"].results]
    for fmt in ("csv", "md"):
        for a, b in zip(runs["json"].results, runs[fmt].results):
            assert b.throughput.samples == [pytest.approx(a.throughput.mean, abs=0.006)]
            assert "mean only" in b.params.extra["samples"]
            assert (a.workload, a.params.dtype, a.params.model) == (b.workload, b.params.dtype, b.params.model)
    # markdown rounds the size to 0.01 MiB
    assert runs["md"].results[0].params.extra["model_size"] == pytest.approx(246587904, rel=1e-4)
    assert runs["csv"].results[0].raw["stddev_ts"] == "5.736943"


def test_markdown_blank_cells_repeat_the_row_above() -> None:
    _, rows = parse_file(FIXTURES / "old" / "bench.md")
    assert rows[1].values["model_type"] == "gemma3 270M Q4_K - Medium" and rows[1].values["n_threads"] == 2
    assert rows[1].values["build_commit"] == "20e30b2"


def test_markdown_gpu_columns_depth_and_combined_tests() -> None:
    text = (
        "| model                          |       size |     params | backend    | ngl | fa |            test |"
        "                  t/s |\n"
        "| ------------------------------ | ---------: | ---------: | ---------- | --: | -: | --------------: |"
        " -------------------: |\n"
        "| llama 7B Q4_0                  |   3.56 GiB |     6.74 B | CUDA       |  99 |  1 |   pp512 @ d4096 |"
        "      1000.00 ± 1.00 |\n"
        "| llama 7B Q4_0                  |   3.56 GiB |     6.74 B | CUDA       |  99 |  1 |     pp512+tg128 |"
        "       500.00 ± 2.00 |\n"
        "\nbuild: abc1234 (6000)\n"
    )
    _, rows = parse_text(text, path="table.md")
    assert (rows[0].kind, rows[0].n_depth, rows[0].test) == ("pp", 4096, "pp512 @ d4096")
    assert (rows[1].kind, rows[1].workload, rows[1].test) == ("pp+tg", "prefill-decode", "pp512+tg128")
    assert rows[0].values["n_gpu_layers"] == 99 and rows[0].values["flash_attn"] == 1
    assert rows[0].values["model_size"] == round(3.56 * 2**30)
    published = to_published(rows, set_id="x", source_url="https://example.org/t", title="t", path="table.md",
                             fmt="md", hardware="NVIDIA GeForce RTX 4090")
    assert [r.workload for r in published.results] == ["prefill", "other"]


def test_oldest_builds_backend_flags_become_backends() -> None:
    row = json.loads((FIXTURES / "old" / "bench.jsonl").read_text().splitlines()[1])
    del row["backends"]
    row.update({"cuda": True, "metal": False, "blas": True})
    _, rows = parse_text(json.dumps(row) + "\n", path="oldest.jsonl")
    assert rows[0].values["backends"] == "CUDA,BLAS"


@pytest.mark.parametrize("desc, dtype, model", [
    ("llama 7B Q4_0", "q4_0", "llama-7b"),
    ("llama 7B mostly Q4_0", "q4_0", "llama-7b"),
    ("gemma3 270M Q4_K - Medium", "q4_k_m", "gemma3-270m"),
    ("gpt-oss 120B MXFP4 MoE", "mxfp4", "gpt-oss-120b"),
    ("llama 8B all F32", "f32", "llama-8b"),
    ("llama 8B IQ4_XS - 4.25 bpw", "iq4_xs", "llama-8b"),
    ("qwen3moe 30B.A3B Q8_0", "q8_0", "qwen3moe-30b.a3b"),
])
def test_model_description(desc: str, dtype: str, model: str) -> None:
    assert (dtype_of(desc), model_of(desc)) == (dtype, model)


# ---------------------------------------------------------------------------------------------
# Malformed and truncated input: a clear error naming the place, never another exception


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("version", ["new", "old"])
@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8, 0.97])
def test_truncated_files_raise(fmt: str, version: str, fraction: float) -> None:
    text = (FIXTURES / version / f"bench.{fmt}").read_text()
    cut = int(len(text) * fraction)
    while text[cut - 1] in '\n}"':  # a cut at a line end of jsonl/csv is a shorter file, not a broken one
        cut -= 1
    with pytest.raises(LlamaBenchError) as exc:
        parse_text(text[:cut], path=f"cut.{fmt}")
    assert f"cut.{fmt}" in str(exc.value)


def _json_rows() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "new" / "bench.json").read_text())


@pytest.mark.parametrize("edit, field", [
    (lambda r: r.update(avg_ts=600.0), "avg_ts"),
    (lambda r: r.update(flash_attn="on"), "flash_attn"),
    (lambda r: r.update(n_prompt="512"), "n_prompt"),
    (lambda r: r.pop("samples_ts"), "samples_ts"),
    (lambda r: r.update(samples_ns=[1]), "samples_ns"),
    (lambda r: r.update(test_time="yesterday"), "test_time"),
    (lambda r: r.update(n_prompt=0, n_gen=0), "n_gen"),
])
def test_malformed_json_rows_name_the_field(edit: Any, field: str) -> None:
    rows = _json_rows()
    edit(rows[1])
    with pytest.raises(LlamaBenchError) as exc:
        parse_text(json.dumps(rows), path="bad.json")
    assert field in str(exc.value) and "bad.json" in str(exc.value)


def test_malformed_csv_and_markdown() -> None:
    csv_text = (FIXTURES / "new" / "bench.csv").read_text().replace('"512","0","0"', '"512","zero","0"', 1)
    with pytest.raises(LlamaBenchError, match=r"bad.csv:2: n_gen: expected an integer"):
        parse_text(csv_text, path="bad.csv")
    md = (FIXTURES / "new" / "bench.md").read_text().replace("539.75 ± 5.74", "fast")
    with pytest.raises(LlamaBenchError, match=r"bad.md:3: t/s: expected 'mean ± stddev'"):
        parse_text(md, path="bad.md")
    with pytest.raises(LlamaBenchError, match="sql output"):
        parse_text("CREATE TABLE IF NOT EXISTS llama_bench (\n", path="x.sql")
    with pytest.raises(LlamaBenchError, match="empty"):
        parse_text("\n", path="e.json")


def test_rows_of_two_builds_are_refused() -> None:
    new = (FIXTURES / "new" / "bench.jsonl").read_text().splitlines()[0]
    old = (FIXTURES / "old" / "bench.jsonl").read_text().splitlines()[1]
    fmt, rows = parse_text(new + "\n" + old + "\n", path="mixed.jsonl")
    with pytest.raises(LlamaBenchError, match="build_commit"):
        to_run(rows, machine="m", path="mixed.jsonl", fmt=fmt, costperf_version="0")


def test_markdown_needs_a_time_for_a_run() -> None:
    fmt, rows = parse_file(FIXTURES / "new" / "bench.md")
    with pytest.raises(LlamaBenchError, match="--time"):
        to_run(rows, machine="m", path="bench.md", fmt=fmt, costperf_version="0")


def test_fixture_files_are_untouched_by_parsing(tmp_path: Path) -> None:
    copy = tmp_path / "bench.json"
    shutil.copy(FIXTURES / "new" / "bench.json", copy)
    parse_file(copy)
    assert copy.read_bytes() == (FIXTURES / "new" / "bench.json").read_bytes()


@pytest.mark.parametrize("fmt", FORMATS)
def test_real_gpu_output_in_every_format(fmt: str) -> None:
    fmt_seen, rows = parse_file(FIXTURES / "h100" / f"q4_0.{fmt}")
    assert fmt_seen == fmt and [r.workload for r in rows] == ["prefill", "decode"]
    assert (rows[0].dtype, rows[0].model, rows[0].values["backends"]) == ("q4_0", "llama-7b", "CUDA")
    assert rows[0].values["n_gpu_layers"] == -1
    if fmt != "md":
        assert rows[1].values["gpu_info"] == "NVIDIA H100 80GB HBM3" and rows[1].values["flash_attn"] == -1
    assert rows[0].values["build_commit"] == "unknown"


def test_real_gpu_runs_agree_across_formats() -> None:
    # Four separate llama-bench runs of the same model on the same H100: decode within 2% of each other.
    decode = [parse_file(FIXTURES / "h100" / f"q4_0.{fmt}")[1][1].avg_ts for fmt in FORMATS]
    assert max(decode) / min(decode) < 1.02
