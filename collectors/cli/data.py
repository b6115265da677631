"""`costperf validate`, `machines`, `machine new` and `schema`: the commands on the data folder itself."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from collectors import store
from collectors.cli.common import console, data_option, err_console, fail
from collectors.records import KINDS, describe
from collectors.terminal import cell, clean


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@data_option
@click.option("--strict", is_flag=True, help="Exit 1 on physics flags marked for review too.")
def validate(paths: tuple[Path, ...], data: Path, strict: bool) -> None:
    """Check data files against the schema, against each other and against physics.

    With no PATHS, checks the whole data folder. With PATHS (files or folders), reports only the
    problems of those files, still checking them against the rest of the data folder (a run must
    name a machine that exists). Exit status 0 when clean, 1 with the list of problems.

    Physics checks (collectors/physics.py) print as warnings naming file and field. A violation
    (a measured figure beyond a physical limit: decode above memory bandwidth, FLOP/s above peak,
    power above TDP x 1.2, usable above total memory) exits 1; a published figure far from its
    roofline is marked for review and exits 1 only with --strict.

    \b
    Examples:
      costperf validate
      costperf validate data/machines/desktop-rtx-4090.yaml
      costperf validate --data /tmp/copy-of-data
    """
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file()))]
    ds = store.load(data, extra=files)
    problems = ds.problems
    if paths:
        wanted = {store.real(f) for f in files}
        problems = [p for p in problems if store.real(p.path) in wanted]
    from collectors import physics  # noqa: PLC0415

    flags = physics.check(ds)
    if paths:
        flags = [f for f in flags if store.real(f.path) in wanted]
    for flag in flags:
        err_console.print(f"warning (physics {flag.severity}): {clean(flag)}", markup=False, soft_wrap=True)
    if problems:
        fail(problems)
    failing = [f for f in flags if f.severity == "violation" or strict]
    if failing:
        err_console.print(f"{len(failing)} physics flag(s) fail validation"
                          f"{' (--strict)' if strict else ''}.", style="bold red")
        sys.exit(1)
    n = len(files) if paths else len(ds.files)
    note = f"; {len(flags)} physics flag(s) to review" if flags else ""
    console.print(f"OK: {n} file(s) valid ({len(ds.machines)} machines, {len(ds.runs)} runs, "
                  f"{len(ds.published)} published sets, {len(ds.hosts)} hosts){note}.")


@click.command()
@data_option
def machines(data: Path) -> None:
    """Validate the data, then print a summary table of the machines.

    \b
    Example:
      costperf machines --data data
    """
    ds = store.load(data)
    if ds.problems:
        fail(ds.problems)
    table = Table(title=f"costperf machines ({len(ds.machines)})")
    for col, just in [("id", "left"), ("vendor", "left"), ("form", "left"), ("accelerator", "left"),
                      ("memory GB", "right"), ("usable GB", "right"), ("BW GB/s", "right"),
                      ("price", "right"), ("runs", "right")]:
        table.add_column(col, justify=just, no_wrap=col != "accelerator")  # type: ignore[arg-type]
    for m in sorted(ds.machines.values(), key=lambda m: (m.vendor, m.id)):
        acc = m.accelerators[0]
        name = f"{acc.count}x {acc.name}" if acc.count > 1 else acc.name
        bw = f"{acc.memory_bandwidth_gbps:,.0f}" if acc.memory_bandwidth_gbps else "-"
        # A cloud machine is rented, so its hourly price is the one that matters.
        preferred = [p for p in m.prices if (p.kind == "cloud_hourly") == (m.form == "cloud")] or m.prices
        latest = max(preferred, key=lambda p: p.date) if preferred else None
        price = "-"
        if latest is not None:
            unit = "/h" if latest.kind == "cloud_hourly" else ""
            price = f"{latest.amount:,.2f} {latest.currency}{unit} ({latest.date})"
        row = [m.id, m.vendor, m.form, name, f"{m.total_accelerator_memory_gb:,.0f}",
               f"{m.usable_memory_gb:,.1f}", bw, price, str(len(ds.runs_for(m.id)))]
        table.add_row(*(cell(x) for x in row))
    console.print(table)


@click.group()
def machine() -> None:
    """Add machines."""


@machine.command("new")
@click.argument("machine_id")
@data_option
@click.option("--no-torch", is_flag=True, help="Do not import torch to look for GPUs.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the scaffold instead of writing it.")
def machine_new(machine_id: str, data: Path, no_torch: bool, to_stdout: bool) -> None:
    """Write data/machines/MACHINE_ID.yaml for the machine this runs on.

    Filled with what can be detected (CPU, cores, RAM, OS, GPU name and memory through
    nvidia-smi, torch or sysctl); everything else is a TODO that `costperf validate` rejects
    until it is filled in with a sourced figure. Never overwrites an existing file.

    \b
    Example:
      costperf machine new my-desktop-rtx-4090
      $EDITOR data/machines/my-desktop-rtx-4090.yaml
      costperf validate data/machines/my-desktop-rtx-4090.yaml
    """
    from collectors.probe import probe  # noqa: PLC0415
    from collectors.records import _slug  # noqa: PLC0415
    from collectors.scaffold import scaffold  # noqa: PLC0415

    try:
        _slug(machine_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="MACHINE_ID") from None
    text = scaffold(machine_id, probe(use_torch=not no_torch))
    if to_stdout:
        click.echo(text, nl=False)
        return
    path = data / "machines" / f"{machine_id}.yaml"
    try:
        store.write_new(path, text)
    except FileExistsError as exc:
        err_console.print(f"{exc}. Choose another id or edit the file.", markup=False)
        sys.exit(1)
    except OSError as exc:
        err_console.print(clean(f"{path}: not written ({exc.strerror or exc})"), markup=False)
        sys.exit(1)
    console.print(f"Wrote {path}. Fill in its TODOs, then: costperf validate {path}", markup=False)


@click.command()
@data_option
@click.option("--check", is_flag=True, help="Exit 1 if the files on disk differ from the models.")
def schema(data: Path, check: bool) -> None:
    """Write the JSON Schema of each data file kind to DATA/schema/ (for editor completion).

    \b
    Example:
      costperf schema            # writes data/schema/{machine,run,published}.schema.json
      costperf schema --check    # CI: are the committed schemas current?
    """
    folder = data / "schema"
    folder.mkdir(parents=True, exist_ok=True)
    stale = []
    for kind, model in KINDS.items():
        path = folder / f"{kind}.schema.json"
        text = json.dumps(describe(model), indent=2, sort_keys=True) + "\n"
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(path)
            continue
        store.replace(path, text) if path.exists() else store.write_new(path, text)
        console.print(f"Wrote {path}", markup=False)
    if stale:
        err_console.print("Out of date (run `costperf schema`): " + ", ".join(map(str, stale)), markup=False)
        sys.exit(1)


COMMANDS: list[click.Command] = [validate, machines, machine, schema]
