"""`costperf import ...`: bring other tools' results into data/ (llama-bench for now)."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import click

from collectors.cli.common import console, costperf_version, data_option, err_console
from collectors.terminal import clean


def _die(message: str) -> None:
    err_console.print(clean(message, keep_newlines=True), markup=False, soft_wrap=True)
    sys.exit(1)


def _slugify(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-")


def _parse_time(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"expected a UTC time such as 2026-11-24T17:33:03Z; got {value!r}",
                                 param_hint="--time") from None
    if t.utcoffset() is None:
        raise click.BadParameter("give the time zone, e.g. a trailing Z for UTC", param_hint="--time")
    from collectors.importers.llama_bench import time_problem  # noqa: PLC0415

    problem = time_problem(t)
    if problem:
        raise click.BadParameter(problem, param_hint="--time")
    return t.astimezone(dt.timezone.utc)


def _machine_exists(data: Path, machine_id: str) -> bool:
    return any((data / "machines" / f"{machine_id}{suffix}").is_file() for suffix in (".yaml", ".yml"))


@click.group("import")
def import_group() -> None:
    """Import results produced by other tools (llama-bench)."""


@import_group.command("llama-bench")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--machine", "machine_id", help="Machine id (data/machines/ID.yaml) the benchmark ran on.")
@click.option("--source", "source_url", help="URL the output was published at: writes a published set, not a run.")
@click.option("--title", help="Title of the publication (with --source).")
@click.option("--hardware", help="Hardware as the publication names it (with --source; default gpu_info).")
@click.option("--id", "set_id", help="Id of the published set (with --source); default llama-bench-MACHINE-DATE.")
@click.option("--format", "fmt", type=click.Choice(["json", "jsonl", "csv", "md"]),
              help="Output format of llama-bench (default: detected from the content).")
@click.option("--model", help="Model name to record instead of llama-bench's description, e.g. llama-2-7b.")
@click.option("--time", "time_", help="UTC time the benchmark ran; needed for markdown, which prints none.")
@click.option("--weights", type=click.Choice(["real", "random"]), default="real", show_default=True,
              help="random: the GGUF holds random weights of the model's shape (speed does not depend on values).")
@click.option("--note", help="A sentence added to the run record's notes (how the model file was made ...).")
@click.option("--dry-run", is_flag=True, help="Print the record instead of writing it.")
@data_option
def llama_bench(file: Path, machine_id: str | None, source_url: str | None, title: str | None, hardware: str | None,
                set_id: str | None,
                fmt: str | None, model: str | None, time_: str | None, weights: str, note: str | None, dry_run: bool,
                data: Path) -> None:
    """Import llama-bench output (json, jsonl, csv or markdown; any llama.cpp version).

    Without --source the output is your own measurement on --machine and becomes a run record,
    data/runs/MACHINE/STAMP.json (tool llama-bench; pp tests -> prefill, tg tests -> decode).
    With --source URL it is someone else's published result and becomes data/published/ID.yaml,
    cited by that URL. Prefer `-o json` or `-o jsonl`: only they carry per-repetition samples.
    Nothing is written if any part of the file is malformed or truncated.

    \b
    Examples:
      llama-bench -m llama-2-7b.Q4_0.gguf -o json > bench.json
      costperf import llama-bench bench.json --machine mac-studio-m2-ultra
      costperf import llama-bench table.md --machine desktop-rtx-4090 --time 2026-11-20T10:00:00Z
      costperf import llama-bench pasted.md --source https://github.com/ggml-org/llama.cpp/discussions/4167 \\
          --title "Performance of llama.cpp on Apple Silicon" --machine mac-studio-m2-ultra --time 2023-12-01T00:00:00Z
    """
    from pydantic import ValidationError  # noqa: PLC0415

    from collectors import store  # noqa: PLC0415
    from collectors.importers.llama_bench import LlamaBenchError, parse_file  # noqa: PLC0415
    from collectors.importers.llama_bench_records import dump_published, to_published, to_run  # noqa: PLC0415

    from collectors.records import _slug  # noqa: PLC0415

    for value, hint in ((machine_id, "--machine"), (set_id, "--id")):
        if value is not None:
            try:
                _slug(value)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint=hint) from None
    if machine_id is not None and not _machine_exists(data, machine_id):
        _die(f"--machine: no machine file {data / 'machines' / machine_id}.yaml; add it first "
             f"(costperf machine new {machine_id}) or check the id")
    if source_url is None and machine_id is None:
        raise click.UsageError("a measured run needs --machine ID (or pass --source URL for a published result)")
    started = _parse_time(time_)
    try:
        fmt, rows = parse_file(file, fmt)
        if source_url is None:
            assert machine_id is not None
            record = to_run(rows, machine=machine_id, path=file, fmt=fmt, costperf_version=costperf_version(),
                            model=model, started=started, weights=weights, note=note)
            text = store.dump_run(record)
            target = data / "runs" / machine_id / f"{record.stamp}.json"
        else:
            day = (rows[0].test_time or started or dt.datetime.now(dt.timezone.utc)).date()
            set_id = set_id or _slugify(f"llama-bench-{machine_id or 'import'}-{day.isoformat()}")
            title = title or f"llama-bench results, {rows[0].values['model_type']}"
            record = to_published(rows, set_id=set_id, source_url=source_url, title=title, path=file, fmt=fmt,
                                  machine=machine_id, model=model, hardware=hardware)
            text = dump_published(record)
            target = data / "published" / f"{set_id}.yaml"
    except LlamaBenchError as exc:
        _die(f"{exc}\nNothing imported.")
        return
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])) or '(record)'}: {e['msg'].removeprefix('Value error, ')}"
                 for e in exc.errors()]
        _die(f"{file}: the imported record does not validate:\n" + "\n".join(lines) + "\nNothing imported.")
        return
    if target.exists() and not dry_run:
        _die(f"{target} exists: this output was already imported (data files are never overwritten)")
    # What is written must pass `costperf validate` as it stands, with the rest of the data folder.
    problems = store.check_new_file(data, target, text, "run" if source_url is None else "published")
    if problems:
        _die(f"{file}: the imported record would not validate:\n"
             + "\n".join(f"  {p}" for p in problems) + "\nNothing imported.")
    if dry_run:
        click.echo(clean(text, keep_newlines=True), nl=False)
        return
    try:
        store.write_new(target, text)
    except FileExistsError:
        _die(f"{target} exists: this output was already imported (data files are never overwritten)")
    except OSError as exc:
        _die(f"{target}: not written ({exc.strerror or exc}); nothing imported, run it again when it can be")
    n = len(rows)
    kind = "run record" if source_url is None else "published set"
    console.print(f"Wrote {target}: {kind} with {n} test(s) from {file} ({fmt}). "
                  f"Check it: costperf validate {target}", markup=False)


COMMANDS: list[click.Command] = [import_group]
