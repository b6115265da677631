"""`costperf report`: render the report website into _site/ (Quarto when installed, else the fallback engine)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from report.assumptions import Assumptions

from collectors.cli import stop_signal
from collectors.cli.common import console, err_console

QUARTO_GRACE_S = 10.0
"""How long quarto may take to stop after SIGTERM (its own cleanup) before it is killed."""


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
    done = SiteWrites()
    try:
        _render(root, resolved, quarto, engine, jobs, done)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (stop_signal)
        _interrupted(root, done)
    except Exception:
        # nbclient reports a cell the interruption cancelled as a dead kernel
        if stop_signal.signalled():
            _interrupted(root, done)
        raise


@dataclass
class SiteWrites:
    """How far a render got into the site folder: what an interruption leaves there."""

    started: bool = False
    pages: int | None = 0  # None: quarto renders, and does not tell costperf which pages it wrote
    swapped: bool = False  # the new render replaced the site folder (report/site_staging.py)


def _render(root: Path, resolved: Assumptions, quarto: str | None, engine: str, jobs: int | None,
            done: SiteWrites) -> None:
    from report.page import build_cached  # noqa: PLC0415

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
        done.started, done.pages = True, None
        site_dir = _site_dir(root)
        returncode = _quarto_render(quarto, root, site_dir, done)
        if returncode != 0:
            err_console.print(f"quarto render failed (exit status {returncode}); the site folder is as it was.",
                              markup=False)
            sys.exit(returncode)
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

        def progress(n: int, total: int, page: Path, seconds: float) -> None:
            done.pages = n
            console.print(f"  [{n}/{total}] {page.as_posix()}  {seconds:.1f} s", markup=False)

        done.started = True
        with stop_signal.sigterm_noticing_event_loops():
            render_site(root, jobs=jobs, progress=progress, swapped=lambda: setattr(done, "swapped", True))
    except RenderError as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)
    console.print(f"Rendered the report with the fallback engine in {time.perf_counter() - started:.1f} s: "
                  f"open {site}", markup=False)


def _site_dir(root: Path) -> Path:
    from report.render import RenderError, read_site  # noqa: PLC0415

    try:
        return read_site(root).output_dir
    except RenderError:
        return root / "_site"


def _quarto_render(quarto: str, root: Path, site_dir: Path, done: SiteWrites) -> int:
    """`quarto render` into a staging folder (its --output-dir), swapped in for the site folder once
    quarto succeeds (report/site_staging.py); when interrupted, quarto gets SIGTERM and time to clean
    up after itself (a terminal's Ctrl-C reaches it anyway, a SIGTERM sent to costperf alone would
    not), and the staging folder is removed (_interrupted)."""
    from report import site_staging  # noqa: PLC0415

    site_staging.remove_leftovers(site_dir)
    staging = site_staging.staging_dir(site_dir)
    proc = subprocess.Popen([quarto, "render", "--output-dir", os.path.relpath(staging, root)], cwd=root)
    try:
        returncode = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(QUARTO_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    if returncode != 0:
        site_staging.remove_own(site_dir)
        return returncode
    if not staging.is_dir():
        err_console.print(f"quarto render succeeded but wrote nothing into {staging} (its --output-dir): the site "
                          "folder is as it was.", markup=False)
        return 1
    site_staging.swap_in(staging, site_dir, then=lambda: setattr(done, "swapped", True))
    return 0


def _remove_temporaries(root: Path) -> None:
    """What the interruption cut short: this render's staging folder (the site folder itself is
    untouched until a render is whole), page temporaries, and this process's cache files
    (report/cache_file.py: the cache stays valid, its entries are written whole or not at all)."""
    from report import site_staging  # noqa: PLC0415

    site_dir = _site_dir(root)
    site_staging.remove_own(site_dir)  # this render's staging folder: the site folder keeps the previous render
    leftovers = list(site_dir.rglob(".*.html.tmp")) if site_dir.is_dir() else []
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "costperf"
    leftovers += list(cache.glob(f".*.{os.getpid()}.tmp")) if cache.is_dir() else []
    for path in leftovers:
        path.unlink(missing_ok=True)


def _interrupted(root: Path, done: SiteWrites) -> None:
    """The page kernels are shut down already (render_site's workers close them as the interrupt
    unwinds); what is left is to remove temporaries and say what the site folder now holds."""
    _remove_temporaries(root)
    what = "Stopped by SIGTERM" if stop_signal.terminated() else "Interrupted"
    if not done.started:
        line = f"{what} before rendering: the site folder is as it was."
    elif done.swapped:
        line = f"{what} as the render finished: the site folder holds the whole new render."
    elif done.pages is None:  # quarto rendered into the staging folder; it was told to stop (_quarto_render)
        line = (f"{what} while quarto rendered (quarto was stopped in its turn): the site folder is as it was, "
                "without this render's pages (quarto wrote them into a staging folder, now removed); run costperf "
                "report again.")
    else:
        line = (f"{what} after {done.pages} page(s) were rendered: the site folder is as it was, without this "
                "render's pages (they were written into a staging folder, now removed); run costperf report again.")
    if stop_signal.terminated():
        stop_signal.stop(line)
    err_console.print(line, markup=False)
    raise KeyboardInterrupt  # Ctrl-C ends as click ends it: 'Aborted!', exit status 1


COMMANDS: list[click.Command] = [report]
