"""`costperf report`: render the report website into _site/ (Quarto when installed, else the fallback engine)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click

from collectors.cli.common import console, err_console


@click.command("report")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="Override an assumption (repeatable), e.g. --set usd_per_kwh=0.30 --set amortisation_years=4.")
@click.option("--data", "data", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The data folder (default: the data_dir assumption, ./data).")
@click.option("--engine", type=click.Choice(["auto", "quarto", "fallback"]), default="auto", show_default=True,
              help="auto: `quarto render` when the quarto CLI is on PATH, else the fallback engine.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Pages rendered at once by the fallback engine (default: CPU count).")
@click.option("--project", "project", type=click.Path(path_type=Path, file_okay=False, exists=True),
              default=Path("."), show_default=True, help="The project folder (the one with _quarto.yml).")
def report(settings: tuple[str, ...], data: Path | None, engine: str, jobs: int | None, project: Path) -> None:
    """Render the report: every page of _quarto.yml into _site/, then open _site/index.html.

    Uses `quarto render` when the Quarto CLI is installed; otherwise renders the same .qmd pages
    itself (jupytext reads them, nbclient runs them in a python3 kernel, nbconvert writes HTML
    with the same navigation). Data files with problems are left out and listed on the
    methodology page. Assumptions: defaults < _quarto.yml `params:` < --set.

    \b
    Examples:
      costperf report
      costperf report --set usd_per_kwh=0.30 --set hours_per_day=24 --set utilisation=0.9
      costperf report --set headline_precision=4-bit
      costperf report --engine fallback --data /tmp/other-data
    """
    from report import assumptions  # noqa: PLC0415
    from report.page import build_cached  # noqa: PLC0415

    root = project.resolve()
    if not (root / "_quarto.yml").is_file():
        err_console.print(f"{root / '_quarto.yml'}: not found; run in the project folder or pass --project PATH.",
                          markup=False)
        sys.exit(1)
    quarto = shutil.which("quarto")
    if engine == "quarto" and quarto is None:
        err_console.print("--engine quarto: the quarto CLI is not on PATH (https://quarto.org); "
                          "--engine fallback renders without it.", markup=False)
        sys.exit(1)
    pairs = list(settings) + ([f"data_dir={data.resolve()}"] if data is not None else [])
    try:
        overrides = assumptions.parse_set(pairs)
        resolved = assumptions.resolve(root, overrides)
    except assumptions.AssumptionError as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(2)
    os.environ[assumptions.ENV_VAR] = json.dumps(overrides)
    started = time.perf_counter()
    # Built once here and cached, so that the page kernels (one per page) need not validate the data again.
    built = build_cached(root, resolved)
    if built.problems and not any(built.counts.values()):
        err_console.print("\n".join(built.problems), markup=False)
        sys.exit(1)
    if built.problems:
        err_console.print(f"{len(built.problems)} data problem(s): those files are left out and listed on the "
                          "methodology page (details: costperf validate).", markup=False)

    from report.charts import bundle_js  # noqa: PLC0415

    bundle_js()  # build the chart libraries' bundle once here, not in every page kernel at once
    from report import replay  # noqa: PLC0415

    # every page's output, built once here; each page's kernel replays it (report/replay.py)
    built_at = time.perf_counter()
    if replay.record(root) is not None:
        console.print(f"Built every page's output once in {time.perf_counter() - built_at:.1f} s.", markup=False)
    site = root / "_site" / "index.html"
    if quarto and engine != "fallback":
        version = subprocess.run([quarto, "--version"], capture_output=True, text=True, check=False).stdout.strip()
        console.print(f"Rendering with Quarto {version} (quarto render; it prints each page as it goes) ...",
                      markup=False)
        done = subprocess.run([quarto, "render"], cwd=root, check=False)
        if done.returncode != 0:
            err_console.print(f"quarto render failed (exit status {done.returncode}).", markup=False)
            sys.exit(done.returncode)
        console.print(f"Rendered the report with Quarto in {time.perf_counter() - started:.1f} s: {site}. "
                      "Quarto's pages load module scripts, which browsers refuse from file://: serve the folder "
                      f"(python3 -m http.server -d {root / '_site'} 8000, then open http://localhost:8000/).",
                      markup=False)
        return
    from report.render import RenderError, read_site, render_site  # noqa: PLC0415

    try:
        pages = read_site(root).pages
        why = "--engine fallback" if engine == "fallback" else "the quarto CLI is not installed"
        console.print(f"Rendering {len(pages)} pages with costperf's fallback engine ({why}): jupytext reads "
                      "them, nbclient runs them in python3 kernels, nbconvert writes HTML.", markup=False)

        def progress(done: int, total: int, page: Path, seconds: float) -> None:
            console.print(f"  [{done}/{total}] {page.as_posix()}  {seconds:.1f} s", markup=False)

        render_site(root, jobs=jobs, progress=progress)
    except RenderError as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)
    console.print(f"Rendered the report with the fallback engine in {time.perf_counter() - started:.1f} s: "
                  f"open {site}", markup=False)


COMMANDS: list[click.Command] = [report]
