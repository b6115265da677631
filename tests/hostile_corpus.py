"""Hostile data files: each is one file dropped into an otherwise valid data folder.

Every case names the file it writes (relative to the data folder), its bytes, and words the
problem about it must contain. Large ones are generated here rather than committed.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import yaml
from foundation_data import MACHINE, run_dict


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    content: bytes
    words: str
    """Text the problem naming `path` must contain (case-insensitive)."""


def _machine(**changes: Any) -> dict[str, Any]:
    m = copy.deepcopy(MACHINE)
    m["id"] = "evil-box"
    m.update(changes)
    return m


def _with_clocks(**changes: Any) -> dict[str, Any]:
    """The valid run with energy and the GPU's clocks on its first result, `changes` made to the clocks."""
    r = run_dict(start="2026-01-05T03:04:05Z")
    clocks = {"sm_mhz_median": 1565.0, "sm_mhz_max": 1980.0, "power_limit_w": 700.0, "power_limited_share": 1.0,
              "thermal_limited_share": 0.0, "samples": 40} | changes
    r["results"][0]["energy"] = {"joules": 1400.0, "avg_w": 700.0, "window_s": 2.0, "method": "nvml",
                                 "covers": "gpu_board", "clocks": clocks}
    return r


def _yaml(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


def _run(**changes: Any) -> dict[str, Any]:
    r = run_dict(start="2026-01-05T03:04:05Z")
    r.update(changes)
    return r


def _laughs(levels: int) -> bytes:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    return ("\n".join(lines) + "\n").encode()


MACHINE_PATH = "machines/evil-box.yaml"
RUN_PATH = "runs/test-desktop/20260105T030405Z.json"
PUBLISHED_PATH = "published/evil-set.yaml"
PLAIN = _yaml(_machine())


def _replace(text: bytes, old: bytes, new: bytes) -> bytes:
    assert old in text, old
    return text.replace(old, new, 1)


def _samples(value: float) -> dict[str, Any]:
    r = _run()
    r["results"][0]["throughput"] = {"unit": "tokens/s", "samples": [value, value], "median": value,
                                     "mean": value, "stdev": 0.0, "mad": 0.0}
    return r


def cases() -> list[Case]:
    run_text = json.dumps(_run(), indent=2).encode()
    out = [
        # Resource exhaustion
        Case("billion laughs, 9 levels", MACHINE_PATH, _laughs(9), "anchor"),
        Case("laughs, 7 levels", MACHINE_PATH, _laughs(7), "anchor"),
        Case("alias without anchor", MACHINE_PATH, PLAIN + b"extra: *nowhere\n", "alias"),
        Case("merge key", MACHINE_PATH, b"base: &b {vendor: nvidia}\nother:\n  <<: *b\n", "anchor"),
        Case("10,000-deep flow list", MACHINE_PATH, b"id: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "levels deep"),
        Case("deep block mapping", MACHINE_PATH,
             "".join(f"{'  ' * i}k{i}:\n" for i in range(60)).encode() + b"  " * 60 + b"v\n", "levels deep"),
        Case("10,000-deep JSON", RUN_PATH, b"[" * 10_000 + b"]" * 10_000, "levels deep"),
        Case("5,000-digit integer", MACHINE_PATH, _replace(PLAIN, b"system_ram_gb: 64", b"system_ram_gb: "
                                                           + b"9" * 5000), "characters"),
        Case("5,000-digit JSON integer", RUN_PATH, _replace(run_text, b'"cpu_cores": 2', b'"cpu_cores": '
                                                            + b"9" * 5000), "characters"),
        Case("over-long text", MACHINE_PATH, _yaml(_machine(name="x" * 200_000)), "characters"),
        Case("over-long key", MACHINE_PATH, PLAIN + b"? " + b"k" * 200_000 + b"\n: 1\n", "characters"),
        Case("over-long JSON key", RUN_PATH, _replace(run_text, b'"suite"', b'"' + b"k" * 200_000 + b'": 1, "suite"'),
             "characters"),
        Case("file over the size limit", MACHINE_PATH, PLAIN + b"# " + b"x" * 300_000 + b"\n", "bytes"),
        Case("60,000 list items", MACHINE_PATH, _replace(PLAIN, b"prices:\n", b"prices:\n" + b"- 1\n" * 60_000),
             "values"),
        Case("20,000 wrong list items", MACHINE_PATH, _replace(PLAIN, b"prices:\n", b"prices:\n" + b"- 1\n" * 20_000),
             "more problems"),
        Case("a published set of 120,000 rows", PUBLISHED_PATH, b"id: evil-set\nresults:\n" + b"- 1\n" * 120_000,
             "values"),
        Case("a run of 2 million samples", RUN_PATH, json.dumps(_samples(1.0)).encode().replace(
            b'"samples": [1.0, 1.0]', b'"samples": [' + b"1," * 2_000_000 + b'1]'), "values"),
        # One file must not stop the rest
        Case("complex key", MACHINE_PATH, PLAIN + b"? [a, b]\n: c\n", "complex key"),
        Case("python tag", MACHINE_PATH, PLAIN + b"x: !!python/object/apply:os.system ['echo hi']\n", "tag"),
        Case("binary tag", MACHINE_PATH, PLAIN + b"x: !!binary aGVsbG8=\n", "tag"),
        Case("set tag", MACHINE_PATH, PLAIN + b"x: !!set {a, b}\n", "tag"),
        Case("local tag", MACHINE_PATH, PLAIN + b"x: !mine 3\n", "tag"),
        Case("samples of 1e308", RUN_PATH, json.dumps(_samples(1e308)).encode(), "beyond"),
        Case("samples of 1e300 in YAML", PUBLISHED_PATH, b"id: evil-set\nx: 1.0e+300\n", "beyond"),
        Case("JSON 1e400", RUN_PATH, _replace(run_text, b'"median": 11.0', b'"median": 1e400'), "finite"),
        Case("JSON NaN", RUN_PATH, _replace(run_text, b'"median": 11.0', b'"median": NaN'), "finite"),
        Case("JSON -Infinity", RUN_PATH, _replace(run_text, b'"median": 11.0', b'"median": -Infinity'), "finite"),
        Case("YAML .inf price", MACHINE_PATH, _replace(PLAIN, b"amount: 1599", b"amount: .inf"), "finite"),
        Case("YAML .nan", MACHINE_PATH, _replace(PLAIN, b"memory_gb: 24", b"memory_gb: .nan"), "finite"),
        Case("impossible date", MACHINE_PATH, _replace(PLAIN, b"2022-10-12", b"2022-02-30"), "date"),
        Case("two documents", MACHINE_PATH, PLAIN + b"---\nid: other\n", "document"),
        Case("duplicate JSON key", RUN_PATH, _replace(run_text, b'"suite": "quick"', b'"suite": "quick", '
                                                      b'"suite": "standard"'), "duplicate key"),
        Case("duplicate YAML key", MACHINE_PATH, PLAIN + b"vendor: amd\n", "duplicate key"),
        Case("not UTF-8", MACHINE_PATH, PLAIN + b"note: \xff\xfe\n", "utf-8"),
        Case("NUL bytes", MACHINE_PATH, PLAIN + b"note: a\x00b\n", "yaml"),
        Case("empty file", MACHINE_PATH, b"", "mapping"),
        Case("a list at the top", MACHINE_PATH, b"- a\n- b\n", "mapping"),
        Case("a scalar at the top", RUN_PATH, b"42", "mapping"),
        Case("truncated JSON", RUN_PATH, run_text[: len(run_text) // 2], "malformed json"),
        Case("tab-indented YAML", MACHINE_PATH, b"id: x\n\tname: y\n", "yaml"),
        Case("names table of nested aliases", "hardware-names.yaml", _laughs(9), "anchor"),
        Case("names table 10,000 deep", "hardware-names.yaml", b"nvidia: " + b"[" * 10_000 + b"]" * 10_000, "deep"),
        # Ids, dates, ranges
        Case("300-character id", "machines/" + "a" * 200 + ".yaml", _yaml(_machine(id="a" * 300)), "at most 64"),
        Case("3,000-character price URL", MACHINE_PATH, _yaml(_machine(prices=[
            {**MACHINE["prices"][0], "source_url": "https://example.org/" + "p" * 3000}])), "at most 2,048"),
        Case("3,000-character source URL", MACHINE_PATH, _yaml(_machine(sources=[
            {**MACHINE["sources"][0], "url": "https://example.org/?q=" + "s" * 3000}])), "at most 2,048"),
        Case("year-1 price date", MACHINE_PATH, _replace(PLAIN, b"2022-10-12", b"0001-01-01"), "before 1990"),
        Case("price in 2099", MACHINE_PATH, _replace(PLAIN, b"2022-10-12", b"2099-01-01"), "future"),
        Case("run started in year 1", RUN_PATH, json.dumps(_run(started_at="0001-01-05T03:04:05Z",
                                                                ended_at="0001-01-05T03:14:05Z")).encode(),
             "file name"),
        # Terminal injection: these are valid, and must print as text
        Case("markup in accelerator name", MACHINE_PATH, _replace(
            PLAIN, b"name: NVIDIA GeForce RTX 4090", b"name: '[/bold] oops [link=https://evil.example]x[/link]'"),
             ""),
        Case("escape sequences in name", MACHINE_PATH, _replace(
            PLAIN, b"name: NVIDIA GeForce RTX 4090",
            b'name: "GPU \\e]8;;https://evil.example\\e\\\\click\\e]8;;\\e\\\\ \\e[2J\\u202eevil"'),
             "control character"),
        Case("bidi override in name", MACHINE_PATH, _replace(
            PLAIN, b"name: NVIDIA GeForce RTX 4090", b'name: "NVIDIA \\u202e0904 XTR"'), "U+202E"),
        Case("NUL escape in a names key", "hardware-names.yaml",
             b'nvidia:\n  "RTX\\0 4090": test-desktop\n', "control character"),
        Case("schema_version true", MACHINE_PATH, _replace(PLAIN, b"schema_version: 1", b"schema_version: true"),
             "not true"),
        Case("schema_version true in a run", RUN_PATH, _replace(
            run_text, b'"schema_version": 1', b'"schema_version": true'), "not true"),
        Case("a names key YAML reads as a number", "hardware-names.yaml",
             b"nvidia:\n  1_000: test-desktop\n", "reads as an integer"),
        Case("base-60 number (1:20:30 is 4830 in YAML 1.1)", MACHINE_PATH, PLAIN + b"notes_power: 1:20:30\n",
             "base 60"),
        Case("octal by a leading zero", MACHINE_PATH, PLAIN + b"count_x: 012\n", "reads as the number 10"),
        Case("a null key", MACHINE_PATH, PLAIN + b"~: x\n", "nothing (null)"),
        Case("lone surrogate escape in a run", RUN_PATH, _replace(
            run_text, b'"machine": "test-desktop"', b'"machine": "test-desktop", "notes": "\\ud800"'),
            "lone surrogate"),
        Case("a clock share above one", RUN_PATH, json.dumps(_with_clocks(power_limited_share=1.5)).encode(),
             "power_limited_share"),
        Case("a clock as text", RUN_PATH, json.dumps(_with_clocks(sm_mhz_median="1565")).encode(), "sm_mhz_median"),
    ]
    return out
