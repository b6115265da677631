"""Text from data files reaches the terminal as text: no markup, no links, no escape sequences."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from foundation_data import MACHINE, run_dict, write_folder

from collectors.cli import main
from collectors.terminal import clean

MARKUP = "[/bold] oops [link=https://evil.example]x[/link] :skull:"


@pytest.mark.parametrize("raw, shown", [
    ("a\x1b[31mred", "a\\x1b[31mred"), ("bell\x07", "bell\\x07"), ("c1\x9b2J", "c1\\x9b2J"),
    ("rtl\u202eevil", "rtl\\u202eevil"), ("iso\u2066x\u2069", "iso\\u2066x\\u2069"), ("nul\x00", "nul\\x00"),
    ("two\nlines", "two\\x0alines"), ("tab\tok", "tab\\x09ok"), ("plain [b]", "plain [b]"),
    ("é ü 日本", "é ü 日本"),
])
def test_clean_escapes_every_control(raw: str, shown: str) -> None:
    assert clean(raw) == shown


def _flat(text: str) -> str:
    return re.sub(r"[\s│┃]", "", text)


def _hostile_folder(tmp_path: Path) -> Path:
    m = copy.deepcopy(MACHINE)
    m["accelerators"][0]["name"] = MARKUP
    # A machine file may not hold escape sequences at all (the loader refuses them); markup it may.
    m["prices"][0]["provider"] = "[link=https://evil.example]Shop[/link]"
    m["prices"][0]["note"] = "[bold]cleared[/bold]"
    run = run_dict()
    run["results"][0]["params"]["model"] = "[red]tiny[/red]\x1b[5m"
    data = write_folder(tmp_path / "data", m, runs=[run])
    later = run_dict(start="2026-01-09T03:04:05Z")
    later["results"][0]["params"]["model"] = "[red]tiny[/red]\x1b[5m"
    (data / "runs" / "test-desktop" / "20260109T030405Z.json").write_text(json.dumps(later))
    return data


@pytest.mark.parametrize("args", [["machines"], ["prices", "history", "test-desktop"], ["review"],
                                  ["review", "--json"], ["validate"]])
def test_commands_print_data_as_text(args: list[str], tmp_path: Path) -> None:
    data = _hostile_folder(tmp_path)
    res = CliRunner().invoke(main, [*args, "--data", str(data)])
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output and "\u202e" not in res.output
    flat = _flat(res.output)  # table cells wrap: compare without layout
    if args == ["machines"]:
        assert _flat("[/bold] oops [link=https://evil.example]x[/link] :skull:") in flat
    if args[0] == "prices":
        assert _flat("[link=https://evil.example]Shop[/link]") in flat


def test_a_price_source_answer_prints_as_text(tmp_path: Path) -> None:
    """A problem or outcome line quoting foreign text is escaped too (here: a machine's bad value)."""
    m = copy.deepcopy(MACHINE)
    m["name"] = 42
    data = write_folder(tmp_path / "data", m)
    text = (data / "machines" / "test-desktop.yaml").read_text().replace("name: 42", 'name: "\\e[31mred"')
    (data / "machines" / "test-desktop.yaml").write_text(text)
    (data / "machines" / "bad.yaml").write_text(yaml.safe_dump({"id": "bad", "vendor": "\x1b]0;title\x07"}))
    res = CliRunner().invoke(main, ["prices", "refresh", "--data", str(data), "--dry-run"])
    assert "\x1b" not in res.output and "\x07" not in res.output
    res = CliRunner().invoke(main, ["validate", "--data", str(data)])
    assert res.exit_code == 1 and "\x1b" not in res.output and "U+001B" in res.output
    assert dt.date.today()  # the date module is used by the fixtures' files


def test_hostile_file_names_print_as_text(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "data")
    plain = (data / "machines" / "test-desktop.yaml").read_bytes()
    os.makedirs(os.path.join(os.fsencode(data), b"published"), exist_ok=True)
    for name in (b"e\x1b[2Jvil.yaml", b"not-utf8-\xff\xfe.yaml", b"rtl\xe2\x80\xaeevil.yaml"):
        with open(os.path.join(os.fsencode(data / "machines"), name), "wb") as f:
            f.write(plain)
    for args in (["validate"], ["machines"], ["review"], ["prices", "refresh", "--dry-run"]):
        res = CliRunner().invoke(main, [*args, "--data", str(data)])
        assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
        assert res.exit_code in (1, 2) and "\x1b" not in res.output and "\u202e" not in res.output, res.output
    res = CliRunner().invoke(main, ["validate", "--data", str(data)])
    assert "e\\x1b[2Jvil.yaml" in res.output and "\\udcff" in res.output and "rtl\\u202eevil" in res.output


def test_a_problem_line_is_always_encodable(tmp_path: Path) -> None:
    from collectors import store

    data = write_folder(tmp_path / "data")
    with open(os.path.join(os.fsencode(data / "machines"), b"bad-\xff.yaml"), "wb") as f:
        f.write(b"id: [")
    for p in store.load(data).problems:
        str(p).encode("utf-8")  # no lone surrogate left
        p.shown(tmp_path).encode("utf-8")
