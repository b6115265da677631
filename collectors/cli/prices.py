"""`costperf prices ...`: refresh prices from their declared sources, add one by hand, show history."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from rich.table import Table

from collectors.cli.common import FiniteFloatRange, console, data_option, err_console, machine_id_param
from collectors.terminal import cell, clean

OPTION_OF_FIELD = {"source_url": "url"}
"""`prices add` options whose name is not the Price field's: an error names what the user typed."""

STYLE = {"added": "green", "would_add": "cyan", "unchanged": "dim", "failed": "bold red", "refused": "bold yellow"}


def _print_report(report: object, dry_run: bool) -> None:
    from collectors.prices.refresh import Report  # noqa: PLC0415

    assert isinstance(report, Report)
    for o in report.outcomes:
        label = o.status.replace("_", " ")
        console.print(f"[{STYLE[o.status]}]{label:>9}[/] ", end="")
        console.print(clean(f"{o.machine} / {o.source}: {o.message}"), markup=False)
    for problem in report.problems:
        err_console.print(clean(problem), markup=False)
    if dry_run:
        for diff in report.diffs.values():
            console.print(clean(diff, keep_newlines=True), markup=False, end="")
        console.print("Dry run: no file was changed." if report.diffs else "Dry run: nothing would change.")
    else:
        for path in report.written:
            console.print(f"Wrote {path}", markup=False)
        if not report.written and report.ok:
            console.print("Nothing to change.")
    failed = sum(not o.ok for o in report.outcomes) + len(report.problems)
    if failed:
        err_console.print(f"{failed} source(s) or file(s) failed; their files are unchanged.", style="bold red")
        sys.exit(1)


@click.group()
def prices() -> None:
    """Refresh machine prices from their sources; add prices by hand; show price history."""


@prices.command("refresh")
@data_option
@click.option("--machine", "machine_ids", multiple=True, metavar="ID", help="Only this machine (repeatable).")
@click.option("--dry-run", is_flag=True, help="Fetch and check, print the diff; write nothing.")
@click.option("--accept", is_flag=True, help="Accept prices more than 10x above or below the last one.")
@click.option("--retries", type=click.IntRange(0, 10), default=3, show_default=True,
              help="Retries on connection errors, timeouts, 429 and 5xx (exponential backoff, Retry-After).")
@click.option("--timeout", "read_timeout", type=FiniteFloatRange(0.1, 300), default=20.0, show_default=True,
              help="Read timeout per request, seconds (connect timeout: 5 s).")
@click.option("--deadline", "deadline", type=FiniteFloatRange(1, 600), default=90.0, show_default=True,
              help="Most seconds one source may take in all, retries and a slow trickle of bytes included.")
def refresh_command(data: Path, machine_ids: tuple[str, ...], dry_run: bool, accept: bool, retries: int,
                    read_timeout: float, deadline: float) -> None:
    """Read each machine's `price_sources` and append the prices that pass every check.

    A price is refused if it is not a positive number, if the source sent HTML or malformed JSON,
    or if it moved more than 10x since the last price of its kind (unless --accept). A failing
    source keeps the last good price and is named with its reason; its file is not touched.
    Exit status 1 if any source failed or was refused.

    \b
    Examples:
      costperf prices refresh --dry-run
      costperf prices refresh --machine desktop-rtx-4090
      costperf prices refresh --machine h100-sxm --accept
    """
    from collectors.prices.http import HttpSettings  # noqa: PLC0415
    from collectors.prices.refresh import refresh  # noqa: PLC0415

    settings = HttpSettings(retries=retries, read_timeout_s=read_timeout, deadline_s=deadline)
    report = refresh(data, machine_ids, dry_run=dry_run, accept=accept, settings=settings)
    if not report.outcomes and not report.problems:
        who = ", ".join(machine_ids) + (" declares" if len(machine_ids) == 1 else " declare") if machine_ids \
            else "No machine declares"
        console.print(clean(f"{who} no `price_sources`; nothing to refresh."), markup=False)
        return
    _print_report(report, dry_run)


@prices.command("add")
@click.argument("machine_id", callback=machine_id_param)
@data_option
@click.option("--amount", type=float, required=True, help="The price, a positive number.")
@click.option("--currency", default="USD", show_default=True, help="ISO 4217 code.")
@click.option("--kind", type=click.Choice(["purchase", "used", "cloud_hourly"]), required=True)
@click.option("--url", "source_url", required=True, help="Where the price was read (https://...).")
@click.option("--date", "date", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Date the price was observed (default: today, UTC).")
@click.option("--provider", default=None, help="Seller or cloud provider and tier.")
@click.option("--note", default=None, help="What the price covers.")
@click.option("--dry-run", is_flag=True, help="Check and print the diff; write nothing.")
@click.option("--accept", is_flag=True, help="Accept a price more than 10x above or below the last one.")
def add_command(machine_id: str, data: Path, amount: float, currency: str, kind: str, source_url: str,
                date: dt.datetime | None, provider: str | None, note: str | None, dry_run: bool,
                accept: bool) -> None:
    """Append a price read by hand to MACHINE_ID's history (same checks as a refresh).

    \b
    Example:
      costperf prices add desktop-rtx-4090 --kind purchase --amount 1799 \\
        --url https://www.example-shop.com/rtx-4090 --provider "Example Shop" --note "Founders Edition"
    """
    from pydantic import ValidationError  # noqa: PLC0415

    from collectors.prices.refresh import add_manual  # noqa: PLC0415
    from collectors.records import Price  # noqa: PLC0415

    day = date.date() if date else dt.datetime.now(dt.timezone.utc).date()
    try:
        price = Price(amount=amount, currency=currency, kind=kind, date=day, source_url=source_url,  # type: ignore[arg-type]
                      provider=provider, note=note)
    except ValidationError as exc:
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"]) or "price"
            option = OPTION_OF_FIELD.get(where, where.replace("_", "-"))
            err_console.print(clean(f"--{option}: {e['msg'].removeprefix('Value error, ')}"), markup=False)
        sys.exit(1)
    _print_report(add_manual(data, machine_id, price, dry_run=dry_run, accept=accept), dry_run)


@prices.command("history")
@click.argument("machine_id", callback=machine_id_param)
@data_option
def history_command(machine_id: str, data: Path) -> None:
    """Print MACHINE_ID's price history, oldest first.

    \b
    Example:
      costperf prices history desktop-rtx-4090
    """
    from collectors import store  # noqa: PLC0415
    from collectors.prices.refresh import money  # noqa: PLC0415

    ds = store.load(data)
    machine = ds.machines.get(machine_id)
    if machine is None:
        own = [p for p in ds.problems if p.path.stem == machine_id]
        for p in own:
            err_console.print(clean(p), markup=False)
        if not own:
            err_console.print(clean(f"no machine {machine_id!r} (known: {', '.join(sorted(ds.machines))})"),
                              markup=False)
        sys.exit(1)
    table = Table(title=cell(f"{machine.name}: {len(machine.prices)} price(s)"))
    for col, just in [("date", "left"), ("kind", "left"), ("amount", "right"), ("source", "left"),
                      ("provider", "left"), ("url", "left")]:
        table.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for p in sorted(machine.prices, key=lambda p: p.date):
        unit = "/h" if p.kind == "cloud_hourly" else ""
        table.add_row(*(cell(x) for x in (str(p.date), p.kind, f"{money(p.amount)} {p.currency}{unit}",
                                          p.source or "manual", p.provider or "", p.source_url)))
    console.print(table)


COMMANDS: list[click.Command] = [prices]
