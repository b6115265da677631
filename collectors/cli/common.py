"""What every `costperf` command shares: the consoles, the version, the `--data` option and how data
problems are printed (one per line, naming file, line, field and what was expected; exit status 1)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from collectors import store
from collectors.terminal import clean
from collectors.version import costperf_version  # noqa: F401 - the commands' version

# Piped output (CI logs, files) gets wide tables instead of rich's 80-column default.
# Data is printed as text, never as markup or emoji codes (collectors/terminal.py).
console = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 180)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that refuses nan and inf: 'nan' parses as a float and passes every bound (nan < 0
    and nan > 300 are both false), and would reach a comparison or a socket timeout."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def machine_id_param(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A machine id given on the command line is a slug, checked before it becomes a path: `../x` would
    name a file outside data/machines/, and an escape sequence would reach the terminal in the error."""
    if value is None:
        return None
    from collectors.records import _slug  # noqa: PLC0415

    try:
        return _slug(value)
    except ValueError as exc:
        raise click.BadParameter(f"'{clean(value)[:80]}': {exc}") from None


def data_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data", "data", type=click.Path(path_type=Path, file_okay=False), default=Path("data"),
        show_default=True, help="The data folder (machines/, runs/, published/).",
    )(func)


def fail(problems: list[store.Problem]) -> None:
    for p in problems:
        err_console.print(clean(p), markup=False, soft_wrap=True)
    err_console.print(f"{len(problems)} problem(s) found.", style="bold red")
    sys.exit(1)
