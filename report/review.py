"""The review page of scheduled re-benchmarks: what moved beyond noise, why, and which machines
are stale. The same rules as `costperf review` (collectors/review/); this module only shapes
them into tables and altair timelines.

Reads the data folder through `collectors.store.load`; needs nothing from report/metrics.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from collectors import store
from collectors.review import Review, Settings, history, review
from report import assumptions, present

VERDICT_COLOURS = {"regression": "#b91c1c", "improvement": "#15803d", "noise": "#6b7280", "first": "#9ca3af"}
WIDTH = 620


def data_root(start: Path | None = None) -> Path:
    """The report's data folder: the `data_dir` assumption (default data/, `costperf report --data`
    changes it) under the project holding `_quarto.yml` (pages execute in report/)."""
    root = assumptions.project_root(start)
    return root / assumptions.resolve(root).data_dir


@dataclass
class ReviewPage:
    ds: store.DataSet
    review: Review
    history: pd.DataFrame


def build(root: Path | None = None, settings: Settings | None = None, now: dt.datetime | None = None) -> ReviewPage:
    ds = store.load(root or data_root())
    settings = settings or Settings()
    rows = history(ds, settings)
    columns = ["machine", "tool", "suite", "workload", "params", "key", "unit", "higher_is_better", "run",
               "started_at", "value", "rel_sigma", "low", "high", "baseline", "band_low", "band_high", "change",
               "verdict", "software"]
    return ReviewPage(ds=ds, review=review(ds, settings, now=now), history=pd.DataFrame(rows, columns=columns))


# ---------------------------------------------------------------------------------------------
# HTML pieces


def _pct(x: Any) -> str:
    return "–" if present.is_missing(x) else f"{float(x) * 100:+.1f}%"


def summary_html(page: ReviewPage) -> str:
    r = page.review
    st = r.settings
    n_sw = sum(len(t.software) for t in r.tracks)
    cards = [
        ("Regressions", str(len(r.regressions)), "newest run vs the median of the runs before it", "measured"),
        ("Improvements", str(len(r.improvements)), "beyond the same noise band", "measured"),
        ("Software changes", str(n_sw), "torch, driver, CUDA, macOS, costperf commit", ""),
        ("Stale machines", str(len(r.stale)), f"no run for more than {st.stale_days} days; "
                                              f"{len(r.never_run)} never run", ""),
    ]
    return present.cards(cards)


def flagged_frame(page: ReviewPage) -> pd.DataFrame:
    rows = []
    software = {(t.machine, t.tool, t.suite): "; ".join(f"{c.what} {c.before} → {c.after}" for c in t.software)
                for t in page.review.tracks}
    for t in page.review.tracks:
        for s in t.series:
            if s.verdict not in ("regression", "improvement") or s.vs_baseline is None:
                continue
            rows.append({
                "verdict": s.verdict, "machine": s.machine, "workload": s.workload, "params": s.params,
                "unit": s.unit, "run": s.newest.run, "baseline": s.vs_baseline.reference,
                "baseline_runs": s.vs_baseline.runs, "newest": s.newest.median, "change": s.vs_baseline.change,
                "noise": s.vs_baseline.noise,
                "change_vs_previous": s.vs_previous.change if s.vs_previous else None,
                "software_changed": software[(t.machine, t.tool, t.suite)],
            })
    return pd.DataFrame(rows, columns=["verdict", "machine", "workload", "params", "unit", "run", "baseline",
                                       "baseline_runs", "newest", "change", "noise", "change_vs_previous",
                                       "software_changed"])


def run_count_text(page: ReviewPage) -> str:
    """What was compared, counted the way the page compares: complete runs of one suite per machine,
    and the workload settings measured in two or more of them (the timelines below)."""
    tracks = page.review.tracks
    compared = sum(len(t.series) for t in tracks)
    repeated = [t for t in tracks if t.runs >= 2]
    settings = 0
    if not page.history.empty:
        counts = page.history.groupby(["machine", "key"])["run"].count()
        settings = int((counts >= 2).sum())
    if compared:
        return (f"Nothing moved beyond noise: {compared} workload setting(s) of the newest runs compared with "
                "the runs of the same suite before them.")
    if not repeated:
        return "No machine has two complete runs of the same suite yet: nothing to compare."
    machines = sorted({t.machine for t in repeated})
    return (f"{len(repeated)} suite(s) on {len(machines)} machine(s) ({', '.join(machines)}) have two or more "
            "complete runs, but no workload setting of the newest run was measured in an earlier run of its suite, "
            f"so no figure is compared; the workloads that appeared or disappeared and the software that changed "
            f"between the two newest runs are listed below. {settings} workload setting(s) measured in two or more "
            "runs are drawn under Timelines.")


def flagged_html(page: ReviewPage) -> str:
    df = flagged_frame(page)
    if df.empty:
        return present.note(run_count_text(page))

    def verdict(r: pd.Series) -> str:
        colour = VERDICT_COLOURS[r["verdict"]]
        return f'<span style="color:{colour};font-weight:600">{present.esc(r["verdict"])}</span>'

    return present.table(df, [
        ("", verdict, False), ("machine", present.text("machine"), False),
        ("workload", present.text("workload"), False), ("setting", present.text("params"), False),
        ("unit", present.text("unit"), False), ("baseline", present.col("baseline", 4), True),
        ("newest", present.col("newest", 4), True), ("change", lambda r: _pct(r["change"]), True),
        ("noise ±", lambda r: _pct(r["noise"]).lstrip("+"), True),
        ("vs previous", lambda r: _pct(r["change_vs_previous"]), True),
        ("software changed", present.text("software_changed"), False),
    ], caption="Baseline: median of up to the last "
               f"{page.review.settings.window} runs before the newest; the change counts beyond the noise band.")


def changes_html(page: ReviewPage) -> str:
    """Software changes, workloads that appeared or disappeared, and physics flags, per machine."""
    rows = []
    for t in page.review.tracks:
        for c in t.software:
            rows.append({"machine": t.machine, "kind": "software", "what": c.what,
                         "detail": f"{c.before} → {c.after}", "runs": f"{t.previous} → {t.newest}"})
        for w in t.appeared:
            rows.append({"machine": t.machine, "kind": "appeared", "what": w.workload, "detail": w.params,
                         "runs": f"{t.previous} → {t.newest}"})
        for w in t.disappeared:
            why = f" (now {w.status}{': ' + w.message if w.message else ''})"
            rows.append({"machine": t.machine, "kind": "disappeared", "what": w.workload, "detail": w.params + why,
                         "runs": f"{t.previous} → {t.newest}"})
    for f in page.review.physics:
        rows.append({"machine": f.machine, "kind": f"physics ({f.severity})", "what": f.check,
                     "detail": f"{f.field}: {f.message}", "runs": f.run or "machine file"})
    if not rows:
        return present.note("No software changed, no workload appeared or disappeared, and no physics flag "
                            "in the newest runs.")
    df = pd.DataFrame(rows)
    return present.table(df, [(h, present.text(h), False) for h in ("machine", "kind", "what", "detail", "runs")])


def staleness_frame(page: ReviewPage) -> pd.DataFrame:
    rows = [{"machine": s.machine, "name": s.name, "runner_label": s.runner_label,
             "last_run": s.last_run.strftime("%Y-%m-%d %H:%M UTC") if s.last_run else None,
             "days_ago": round(s.days, 1) if s.days is not None else None,
             "state": "never run" if s.last_run is None else ("stale" if s.stale else "fresh")}
            for s in page.review.staleness]
    order = {"stale": 0, "fresh": 1, "never run": 2}
    df = pd.DataFrame(rows, columns=["machine", "name", "runner_label", "last_run", "days_ago", "state"])
    return df.sort_values(["state", "days_ago"], key=lambda c: c.map(order) if c.name == "state" else -c.fillna(0),
                          kind="stable").reset_index(drop=True)


def staleness_html(page: ReviewPage) -> str:
    df = staleness_frame(page)
    if df.empty:
        return present.note("No machines in the data folder.")

    def state(r: pd.Series) -> str:
        return present.flag("stale") if r["state"] == "stale" else present.esc(r["state"])

    return present.table(df, [
        ("machine", present.text("name"), False), ("id", present.text("machine"), False),
        ("runner label", present.text("runner_label"), False), ("last run", present.text("last_run"), False),
        ("days ago", present.col("days_ago", 2), True), ("state", state, False),
    ], highlight=lambda r: r["state"] == "stale",
        caption=f"Stale: no run of any kind for more than {page.review.settings.stale_days} days. "
                "Machines never run are listed last, not counted as stale.")


# ---------------------------------------------------------------------------------------------
# Timelines


def timeline(hist: pd.DataFrame, machine: str) -> alt.LayerChart | None:
    """One machine's series over time: the figure of each run, the noise band around the baseline
    it was judged against, and its verdict. A drop-down picks the workload setting."""
    df = hist[hist["machine"] == machine].copy()
    counts = df.groupby("key")["run"].transform("count")
    df = df[counts >= 2]
    if df.empty:
        return None
    df["series"] = df["workload"] + " · " + df["params"] + " (" + df["unit"] + ")"
    df["series"] = df["series"] + df["suite"].map(lambda s: f" · {s}" if isinstance(s, str) else "")
    df["when"] = pd.to_datetime(df["started_at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    df["change_pct"] = df["change"].map(lambda x: None if present.is_missing(x) else round(float(x) * 100, 2))
    df["software"] = df["software"].map(lambda s: s or "–")
    df = df[["series", "when", "run", "value", "low", "high", "baseline", "band_low", "band_high", "verdict",
             "change_pct", "software", "unit"]]
    df = df.astype(object).where(pd.notna(df), None)
    options = sorted(df["series"].unique())
    # Open on the newest regression, else the newest improvement, else the first setting.
    newest = df.sort_values("when").groupby("series").tail(1)
    flagged = [s for v in ("regression", "improvement") for s in newest.loc[newest["verdict"] == v, "series"]]
    default = flagged[0] if flagged else options[0]
    pick = alt.param(name="series_pick", value=default,
                     bind=alt.binding_select(options=options, name="workload setting: "))
    base = alt.Chart(df).transform_filter(alt.datum.series == pick)
    x = alt.X("when:T", title="run (UTC)")
    band = base.mark_area(opacity=0.18, color="#6b7280").encode(
        x=x, y=alt.Y("band_low:Q", title="figure (unit in the tooltip)", scale=alt.Scale(zero=False)),
        y2="band_high:Q")
    baseline = base.mark_line(strokeDash=[4, 3], color="#6b7280").encode(x=x, y="baseline:Q")
    line = base.mark_line(color="#374151").encode(x=x, y="value:Q")
    repeats = base.mark_rule(color="#374151", opacity=0.5).encode(x=x, y="low:Q", y2="high:Q")
    points = base.mark_point(filled=True, size=90).encode(
        x=x, y="value:Q",
        color=alt.Color("verdict:N", title="verdict", scale=alt.Scale(domain=list(VERDICT_COLOURS),
                                                                       range=list(VERDICT_COLOURS.values()))),
        shape=alt.condition(alt.datum.software != "–", alt.value("diamond"), alt.value("circle")),
        tooltip=[alt.Tooltip("series:N", title="setting"), alt.Tooltip("run:N"),
                 alt.Tooltip("value:Q", title="median", format=",.4g"), alt.Tooltip("unit:N"),
                 alt.Tooltip("baseline:Q", title="baseline", format=",.4g"),
                 alt.Tooltip("change_pct:Q", title="change vs baseline (%)", format="+.1f"),
                 alt.Tooltip("verdict:N"), alt.Tooltip("software:N", title="software changed")],
    )
    return (band + baseline + line + repeats + points).add_params(pick).properties(
        width=WIDTH, height=240,
        title=alt.TitleParams(f"{machine}: figure per run", subtitle="grey band = baseline ± noise; "
                              "bars = ±3σ of the repeats; ◆ = software changed"))


def machines_with_history(page: ReviewPage) -> list[str]:
    if page.history.empty:
        return []
    counts = page.history.groupby(["machine", "key"])["run"].count()
    return sorted({m for (m, _), n in counts.items() if n >= 2})


def history_csv(page: ReviewPage) -> pd.DataFrame:
    cols = ["machine", "suite", "workload", "params", "unit", "run", "value", "rel_sigma", "baseline", "band_low",
            "band_high", "change", "verdict", "software"]
    return page.history[cols] if not page.history.empty else pd.DataFrame(columns=cols)
