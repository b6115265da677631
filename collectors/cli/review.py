"""`costperf review` (what moved beyond noise since the previous runs) and `costperf runners`
(the machines the scheduled re-benchmark workflow runs on)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from collectors import store
from collectors.cli.common import FiniteFloatRange, data_option, err_console, fail
from collectors.terminal import cell, clean, markup_safe
from collectors.review import (
    DEFAULT_FLOOR,
    DEFAULT_STALE_DAYS,
    DEFAULT_WINDOW,
    Review,
    SeriesReview,
    Settings,
    TrackReview,
    review,
)

VERDICT_STYLE = {"regression": "bold red", "improvement": "bold green", "noise": "dim", "first": "dim"}


def _console() -> Console:
    # Piped output (CI logs, PR bodies) should keep table rows on one line.
    probe = Console()
    return Console(highlight=False, emoji=False, width=None if probe.is_terminal else 160)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.1f}%"


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.4g}" if abs(x) < 100 else f"{x:,.0f}"


def _when(d: dt.datetime | None) -> str:
    return d.strftime("%Y-%m-%d %H:%M") if d else "-"


def _track_table(t: TrackReview, window: int) -> Table:
    title = f"{t.machine} · {t.tool}" + (f" · suite {t.suite}" if t.suite else "")
    caption = f"newest {t.newest} vs previous {t.previous} ({t.runs} complete runs)"
    table = Table(title=cell(title), caption=cell(caption), title_justify="left", caption_justify="left")
    for col, just in [("workload", "left"), ("params", "left"), ("unit", "left"), ("newest", "right"),
                      ("previous", "right"), ("Δ prev", "right"), (f"baseline (≤{window})", "right"),
                      ("Δ baseline", "right"), ("noise ±", "right"), ("verdict", "left")]:
        table.add_column(col, justify=just, no_wrap=col in ("verdict", "Δ baseline"))  # type: ignore[arg-type]
    for s in t.series:
        b, p = s.vs_baseline, s.vs_previous
        table.add_row(*(cell(x) for x in (
            s.workload, s.params, s.unit, _num(s.newest.median), _num(p.reference if p else None),
            _pct(p.change if p else None), f"{_num(b.reference if b else None)} ({b.runs if b else 0})",
            _pct(b.change if b else None), f"{b.noise * 100:.1f}%" if b else "-")),
            cell(s.verdict, VERDICT_STYLE[s.verdict]),
        )
    return table


def _flag_line(kind: str, s: SeriesReview) -> str:
    b = s.vs_baseline
    assert b is not None
    direction = "higher is better" if s.higher_is_better else "lower is better"
    prev = f", {_pct(s.vs_previous.change)} vs previous" if s.vs_previous else ""
    return (f"{kind:<12} {s.machine}  {s.workload} [{s.params}]: {_num(b.reference)} → {_num(s.newest.median)} "
            f"{s.unit} ({_pct(b.change)} vs median of {b.runs} run(s){prev}; noise ±{b.noise * 100:.1f}%; "
            f"{direction})")


def print_review(r: Review, console: Console) -> None:
    st = r.settings
    console.print(f"[bold]costperf review[/] — newest run per machine against the previous run and the median "
                  f"of up to {st.window} runs before it"
                  + (f"; compared with the runs before {st.since.date().isoformat()}" if st.since else ""))
    console.print(f"A change counts beyond max({st.k:g} × robust spread, {st.floor * 100:g}%); "
                  f"stale after {st.stale_days} days without a run.", style="dim")
    for t in r.tracks:
        console.print()
        if t.note:
            console.print(f"[bold]{markup_safe(t.machine)}[/] · "
                          + markup_safe(f"{t.tool}" + (f" · suite {t.suite}" if t.suite else "")
                                        + f": {t.note} (newest {t.newest})."))
            continue
        if t.series:
            console.print(_track_table(t, st.window))
        else:  # no figure in both runs: name the track, or its software line would stand alone
            console.print(f"[bold]{markup_safe(t.machine)}[/] · "
                          + markup_safe(f"{t.tool}" + (f" · suite {t.suite}" if t.suite else "")
                                        + f": no figure in both the newest run ({t.newest}) and an earlier one;"
                                        " what appeared and disappeared is under Flagged."))
        if t.software:
            console.print(clean("Software changed: " + "; ".join(f"{c.what} {c.before} → {c.after}"
                                                                 for c in t.software)), markup=False)
        # workloads that appeared or disappeared are listed once, under Flagged below

    console.print()
    if r.staleness:
        table = Table(title="Staleness", title_justify="left")
        for col, just in [("machine", "left"), ("runner label", "left"), ("last run (UTC)", "left"),
                          ("days ago", "right"), ("state", "left")]:
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for s in r.staleness:
            state = "never run" if s.last_run is None else ("STALE" if s.stale else "fresh")
            style = "bold yellow" if state == "STALE" else ("dim" if state == "never run" else "")
            table.add_row(cell(s.machine), cell(s.runner_label or "-"), cell(_when(s.last_run)),
                          cell(f"{s.days:.0f}" if s.days is not None else "-"), cell(state, style))
        console.print(table)

    console.print()
    console.print("[bold]Flagged[/]")
    lines: list[tuple[str, str]] = []
    lines += [("bold red", _flag_line("REGRESSION", s)) for s in r.regressions]
    lines += [("bold red", f"{'FAILED':<12} {t.machine}  {w.workload} [{w.params}]: {w.status} in run {t.newest}"
                           + (f" ({w.message})" if w.message else "")) for t, w in r.failures]
    lines += [("bold green", _flag_line("IMPROVEMENT", s)) for s in r.improvements]
    for t in r.tracks:
        for c in t.software:
            lines.append(("cyan", f"{'SOFTWARE':<12} {t.machine}  {c.what}: {c.before} → {c.after} "
                                  f"(run {t.newest} vs {t.previous})"))
        for w in t.appeared:
            lines.append(("", f"{'APPEARED':<12} {t.machine}  {w.workload} [{w.params}]"))
        for w in t.disappeared:
            lines.append(("yellow", f"{'DISAPPEARED':<12} {t.machine}  {w.workload} [{w.params}] now {w.status}"
                                    + (f" ({w.message})" if w.message else "")))
    for s in r.stale:
        lines.append(("bold yellow", f"{'STALE':<12} {s.machine}  last run {_when(s.last_run)} UTC, "
                                     f"{s.days:.0f} days ago (limit {st.stale_days})"))
    for p in r.physics:
        where = f"run {p.run} {p.field}" if p.run else p.field
        lines.append(("bold magenta", f"{'PHYSICS':<12} {p.machine}  {where}: {p.message} ({p.severity})"))
    for style, line in lines:
        console.print(clean(line), style=style or None, markup=False, soft_wrap=True)
    if not lines:
        console.print("Nothing moved beyond noise; no software changes; no stale machines.")
    never = ", ".join(s.machine for s in r.never_run)
    if never:
        console.print(clean(f"No run at all (not counted as stale): {never}"), markup=False, soft_wrap=True)
    if not r.physics_checked:
        console.print("Physics limits not checked (collectors.physics is not available).", style="dim")
    n_sw = sum(len(t.software) for t in r.tracks)
    console.print(f"\n{len(r.regressions)} regression(s), {len(r.improvements)} improvement(s), "
                  f"{n_sw} software change(s), {len(r.stale)} stale machine(s), "
                  f"{len(r.never_run)} never run, {len(r.physics)} physics flag(s), "
                  f"{len(r.failures)} failed workload(s).",
                  style="bold")


def _parse_since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD; got {value!r}", param_hint="--since") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)


@click.command("review")
@data_option
@click.option("--machine", "machines", multiple=True, metavar="ID",
              help="Review only this machine (repeatable). Default: every machine.")
@click.option("--since", metavar="DATE",
              help="Compare the newest run with the runs before DATE (YYYY-MM-DD, UTC): what moved since then.")
@click.option("--json", "as_json", is_flag=True, help="Print the review as JSON.")
@click.option("--fail-on", "fail_on", type=click.Choice(["regression", "stale", "physics"]), multiple=True,
              help="Exit 1 when something regressed beyond noise or a workload that ran now fails (stale: a "
                   "machine is stale; physics: a "
                   "reviewed run has a figure beyond a physical limit). Repeatable.")
@click.option("--stale-days", type=click.IntRange(min=0), default=DEFAULT_STALE_DAYS, show_default=True,
              help="A machine with no run for more than this many days is stale.")
@click.option("--window", type=click.IntRange(min=1), default=DEFAULT_WINDOW, show_default=True,
              help="Baseline: the median of up to this many runs before the newest.")
@click.option("--noise-floor", type=FiniteFloatRange(min=0), default=DEFAULT_FLOOR * 100, show_default=True,
              help="Smallest change that counts, in percent (the noise rule is max(3 × spread, this)).")
def review_command(data: Path, machines: tuple[str, ...], since: str | None, as_json: bool,
                   fail_on: tuple[str, ...], stale_days: int, window: int, noise_floor: float) -> None:
    """Show what moved beyond noise in the newest runs, which software changed, and which machines
    are stale.

    For each machine (and each tool and suite it was run with), every workload of the newest run
    is compared with the previous run and with the median of the last WINDOW runs. A change counts
    when it is larger than max(3 × the robust spread of the repeats, 3%); tokens/s, GB/s and
    TFLOP/s are better higher, times in seconds better lower.

    \b
    Examples:
      costperf review
      costperf review --machine h100-sxm --since 2026-11-01
      costperf review --json > review.json
      costperf review --fail-on regression     # CI: exit 1 when something regressed

    Exit status: 0, or 1 when a --fail-on condition holds; 2 for bad options or data files.
    """
    ds = store.load(data)
    if ds.problems:
        # Status 2, not 1: a workflow must tell broken data from a regression.
        for p in ds.problems:
            err_console.print(clean(p), markup=False, soft_wrap=True)
        err_console.print(f"{len(ds.problems)} problem(s) found: fix the data (costperf validate), then review.",
                          style="bold red")
        sys.exit(2)
    unknown = [m for m in machines if m not in ds.machines]
    if unknown:
        known = ", ".join(sorted(ds.machines)) or "none"
        raise click.BadParameter(f"unknown machine {', '.join(unknown)} (known: {known})", param_hint="--machine")
    settings = Settings(window=window, stale_days=stale_days, floor=noise_floor / 100, since=_parse_since(since))
    try:
        result = review(ds, settings, machines=list(machines) or None)
    except Exception as exc:  # noqa: BLE001 - exit 1 means "regressed" to the workflow: never for a crash
        err_console.print(clean(f"review failed: internal error {type(exc).__name__}: {exc}"), markup=False)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print_review(result, _console())
    violations = [p for p in result.physics if p.severity == "violation"]
    regressed = result.regressions or result.failures
    failed = ("regression" in fail_on and regressed) or ("stale" in fail_on and result.stale) or \
        ("physics" in fail_on and violations)
    if failed:
        sys.exit(1)


@click.command("runners")
@data_option
@click.option("--only", default="", metavar="ID,ID",
              help="Keep only these machine ids (comma or space separated); empty keeps all.")
@click.option("--json", "as_json", is_flag=True,
              help='Print a GitHub Actions matrix: {"include": [{"machine": ID, "runner": LABEL}, ...]}.')
def runners_command(data: Path, only: str, as_json: bool) -> None:
    """List the machines whose data file names a self-hosted runner label (`runner_label`).

    The scheduled re-benchmark workflow runs the standard suite on each of them.

    \b
    Examples:
      costperf runners
      costperf runners --json --only h100-sxm
    """
    ds = store.load(data)
    if ds.problems:
        fail(ds.problems)
    wanted = {w for w in only.replace(",", " ").split() if w}
    unknown = sorted(wanted - set(ds.machines))
    if unknown:
        raise click.BadParameter(f"unknown machine {', '.join(unknown)}", param_hint="--only")
    rows = [{"machine": m.id, "runner": m.runner_label} for m in sorted(ds.machines.values(), key=lambda m: m.id)
            if m.runner_label and (not wanted or m.id in wanted)]
    if as_json:
        click.echo(json.dumps({"include": rows}))
        return
    console = _console()
    if not rows:
        console.print("No machine names a runner_label: the scheduled re-benchmark has nothing to run.")
        return
    table = Table(title="Self-hosted re-benchmark runners", title_justify="left")
    table.add_column("machine")
    table.add_column("runner label")
    for row in rows:
        table.add_row(cell(row["machine"]), cell(row["runner"]))
    console.print(table)


COMMANDS: list[click.Command] = [review_command, runners_command]
