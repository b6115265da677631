"""Property: whatever a data file of any kind is mutated into, validate, machines and review end
with status 0, 1 or 2, print no traceback and no raw escape sequence, and change no byte of the data.

Seeds are the project's own data files (one of each kind) and the tests' run record; mutations
insert hostile snippets, delete or duplicate spans, and splice in random text.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner
from foundation_data import folder_hash, run_dict, write_folder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _seed(folder: str) -> tuple[str, str]:
    path = sorted((ROOT / "data" / folder).glob("*.yaml"))[0]
    return f"{folder}/{path.name}", path.read_text(encoding="utf-8")


SEEDS: list[tuple[str, str]] = [
    _seed("machines"),
    _seed("published"),
    _seed("hosts") if list((ROOT / "data" / "hosts").glob("*.yaml")) else _seed("machines"),
    ("runs/test-desktop/20260105T030405Z.json", json.dumps(run_dict(start="2026-01-05T03:04:05Z"), indent=2)),
]
if (ROOT / "data" / "hardware-names.yaml").is_file():
    SEEDS.append(("hardware-names.yaml", (ROOT / "data" / "hardware-names.yaml").read_text(encoding="utf-8")))

SNIPPETS = [
    "&a ", "*a", "<<: *a\n", "!!python/object/apply:os.system ['true'] ", "!!binary aGk= ", "!x ", "? [a, b]\n: c\n",
    "[" * 200, "{" * 200, "9" * 5000, "1.0e+308", "-1.0e+308", ".inf", ".nan", "NaN", "Infinity", "1e400",
    "0001-01-01", "2099-12-31", "2026-02-30", "\x1b[31m", "\x1b]8;;https://evil.example\x1b\\", "[/bold]",
    "[link=https://evil.example]x[/link]", "\u202e", "\x00", "\ufeff", "---\n", "...\n", "\t", '"', "'", ":", "- ",
    "\n  - ", "a" * 300, '"dup": 1, "dup": 2, ', "a: 1\na: 2\n", "%YAML 1.1\n", "#", "\\", "{{", "}}", ",",
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    rel, text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "random"]))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(SNIPPETS)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 200)):]
        elif op == "duplicate":
            end = min(len(text), at + draw(st.integers(1, 300)))
            text = text[:end] + text[at:end] + text[end:]
        else:
            text = text[:at] + draw(st.text(max_size=40)) + text[at:]
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()) and raw:
        i = draw(st.integers(0, len(raw) - 1))
        raw = raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1:]  # and sometimes not UTF-8 at all
    return rel, raw


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_any_mutation_gets_a_clear_answer(case: tuple[str, bytes]) -> None:
    rel, raw = case
    tmp = Path(tempfile.mkdtemp())
    try:
        data = write_folder(tmp / "data")
        target = data / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        before = folder_hash(data)
        for args in (["validate"], ["machines"], ["review", "--fail-on", "regression"]):
            res = CliRunner().invoke(main, [*args, "--data", str(data)])
            assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
            assert res.exit_code in (0, 1, 2), res.output
            assert "Traceback" not in res.output and "internal error" not in res.output, res.output
            assert "\x1b" not in res.output
        assert folder_hash(data) == before
    finally:
        shutil.rmtree(tmp)


YAML_ALPHABET = st.sampled_from(list("[]{}:,-?&*!|>'\"#%@`\n\t .0123456789eE+abcxyz") + ["\x00", "\u202e", "\ufeff"])


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.text(YAML_ALPHABET, max_size=200), st.text(max_size=200)))
def test_the_loaders_raise_only_their_own_errors(text: str) -> None:
    """Any text: a value, or UnsafeInput / the parser's own error; never anything else."""
    import yaml as pyyaml

    from collectors.safe_load import UnsafeInput, load_json, load_yaml

    try:
        load_yaml(text)
    except (UnsafeInput, pyyaml.YAMLError):
        pass
    try:
        load_json(text)
    except (UnsafeInput, json.JSONDecodeError):
        pass


BENCH = ROOT / "tests" / "fixtures" / "llama_bench" / "new"


@settings(max_examples=150, deadline=None, database=None)
@given(st.sampled_from(["bench.json", "bench.jsonl", "bench.csv", "bench.md"]), st.data())
def test_llama_bench_parsing_raises_only_its_own_error(name: str, data: st.DataObject) -> None:
    from collectors.importers.llama_bench import LlamaBenchError, parse_text

    text = (BENCH / name).read_text()
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.sampled_from(SNIPPETS + ["1e400", "-5", "9" * 60, "0001-01-01T00:00:00Z"]))\
            + text[at + data.draw(st.integers(0, 8)):]
    import datetime as dt

    from pydantic import ValidationError

    from collectors.importers.llama_bench_records import to_published, to_run

    try:
        fmt, rows = parse_text(text, None, name)
        when = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
        to_run(rows, machine="test-desktop", path=name, fmt=fmt, costperf_version="0.1.0", started=when)
        to_published(rows, set_id="set", source_url="https://example.org/p", title="t", path=name, fmt=fmt,
                     hardware="GPU")
    except (LlamaBenchError, ValidationError):
        pass


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(min_value=1e-300, max_value=1e18), min_size=1, max_size=5),
       st.floats(min_value=1.0, max_value=5e7), st.floats(min_value=1e-6, max_value=1e6))
def test_the_report_survives_extreme_valid_figures(samples: list[float], price: float, bandwidth: float) -> None:
    """Figures at the edges of what validates (tiny or huge, never beyond ±1e18) build every table."""
    import copy

    from foundation_data import MACHINE

    from collectors.records import Stats
    from report import metrics
    from report.assumptions import Assumptions

    machine = copy.deepcopy(MACHINE)
    machine["prices"][0]["amount"] = price
    machine["accelerators"][0]["memory_bandwidth_gbps"] = bandwidth
    run = run_dict()
    run["results"][0]["throughput"] = Stats.of(samples, "tokens/s").model_dump(mode="json")
    run["results"][0]["bytes_per_token"] = 1e9
    tmp = Path(tempfile.mkdtemp())
    try:
        data = write_folder(tmp / "data", machine, runs=[run])
        rep = metrics.load(data, Assumptions(data_dir=str(data)))
        assert rep.problems == [] or all("physics" not in p for p in rep.problems)
        assert "test-desktop" in set(rep.machines["machine"])
    finally:
        shutil.rmtree(tmp)
