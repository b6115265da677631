"""Every example in the CLI's help names a machine that exists in data/machines (or one the example
itself creates with `costperf machine new`), so that a reader can paste it as it stands."""

from __future__ import annotations

import re
from pathlib import Path

import click

from collectors.cli import main

ROOT = Path(__file__).resolve().parents[1]
# an id has a hyphen or a digit ("--machine and --window" in a sentence is no example)
ID = r"([a-z0-9]*[0-9-][a-z0-9-]*)"
MACHINE_ARG = re.compile(rf"(?:--machine|--only)\s+{ID}|costperf prices (?:add|history)\s+{ID}")


def helps(command: click.Command, ctx: click.Context) -> list[str]:
    out = [command.get_help(ctx)]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                out += helps(sub, click.Context(sub, info_name=name, parent=ctx))
    return out


def test_help_examples_name_machines_that_exist() -> None:
    known = {p.stem for p in (ROOT / "data" / "machines").glob("*.yaml")}
    texts = helps(main, click.Context(main, info_name="costperf"))
    created = {m for t in texts for m in re.findall(r"costperf machine new\s+([a-z0-9-]+)", t)}
    named = {a or b for t in texts for a, b in MACHINE_ARG.findall(t)}
    assert named, "the help has examples with machine ids"
    assert named - known - created == set()
