"""The report's review page: its tables and timelines from a generated history, and the page
rendered by the report's fallback engine (a real python3 kernel), offline."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from report import render
from report import review as rv
from test_review import NOW, history_folder  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]


def test_page_tables_flag_exactly_the_known_changes(history_folder: Path) -> None:  # noqa: F811
    page = rv.build(history_folder, now=NOW)
    flagged = rv.flagged_frame(page)
    assert list(zip(flagged["verdict"], flagged["machine"], flagged["workload"])) == [
        ("regression", "bench-a", "decode"), ("improvement", "bench-a", "train-gpt2")]
    assert set(flagged["software_changed"]) == {"torch 2.12.0 → 2.13.0"}
    stale = rv.staleness_frame(page)
    assert list(zip(stale["machine"], stale["state"])) == [
        ("bench-c", "stale"), ("bench-a", "fresh"), ("bench-b", "fresh"), ("bench-d", "never run")]
    html = rv.changes_html(page)
    assert "torch" in html and "2.12.0 → 2.13.0" in html


def test_timeline_has_band_verdicts_and_opens_on_the_regression(history_folder: Path) -> None:  # noqa: F811
    page = rv.build(history_folder, now=NOW)
    assert rv.machines_with_history(page) == ["bench-a", "bench-b", "bench-c"]
    spec = rv.timeline(page.history, "bench-a").to_dict()  # type: ignore[union-attr]
    (param,) = spec["params"]
    assert param["value"].startswith("decode · llama-3-8b") and len(param["bind"]["options"]) == 5
    rows = next(iter(spec["datasets"].values()))
    decode = [r for r in rows if r["series"] == param["value"]]
    assert [r["verdict"] for r in decode] == ["first"] + ["noise"] * 4 + ["regression"]
    assert decode[-1]["value"] < decode[-1]["band_low"] < decode[-1]["baseline"] < decode[-1]["band_high"]
    assert decode[-1]["software"] == "torch 2.12.0 → 2.13.0" and decode[-2]["software"] == "–"
    assert rv.timeline(page.history, "bench-d") is None


def test_empty_data_folder_gives_notes_not_errors(tmp_path: Path) -> None:
    (tmp_path / "machines").mkdir()
    page = rv.build(tmp_path, now=NOW)
    assert "nothing to compare" in rv.flagged_html(page)
    assert "No software changed" in rv.changes_html(page)
    assert rv.machines_with_history(page) == []


def test_page_renders_offline(history_folder: Path, tmp_path: Path) -> None:  # noqa: F811
    project = history_folder.parent
    (project / "report").mkdir()
    shutil.copy(ROOT / "report" / "review.qmd", project / "report" / "review.qmd")
    shutil.copy(ROOT / "_quarto.yml", project / "_quarto.yml")
    (out,) = render.render_site(project, jobs=1, timeout_s=120)
    html = out.read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", html, flags=re.S)))
    assert "Review of re-benchmarks" in text
    assert re.search(r"regression bench-a decode .* -2\d\.\d%", text)
    assert re.search(r"improvement bench-a train-gpt2 .* \+2\d\.\d%", text)
    assert re.search(r"bench-c .* stale", text) and "never run" in text
    assert html.count('class="cp-chart"') == 3 and "vegaEmbed" in html
    assert "Traceback" not in html and "Error" not in text
    assert not re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="https?://', html)


def test_run_count_says_what_was_compared(tmp_path: Path) -> None:
    import datetime as dt

    from collectors import store
    from report import sample_data as S

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    S.write_machine(tmp_path, S.machine("desk", "Desk"))
    store.write_run(tmp_path, S.run("desk", t0, [S.result("decode", [40.0, 41.0, 42.0])]))
    store.write_run(tmp_path, S.run("desk", t0 + dt.timedelta(days=1), [S.result("prefill", [900.0, 910.0])]))
    text = rv.run_count_text(rv.build(tmp_path))
    # two complete runs of one suite, but no setting in both: nothing is compared, and it says why
    assert "1 suite(s) on 1 machine(s) (desk) have two or more complete runs" in text
    assert "no figure is compared" in text and "No machine has two complete runs" not in text
    store.write_run(tmp_path, S.run("desk", t0 + dt.timedelta(days=2), [S.result("prefill", [900.0, 910.0])]))
    page = rv.build(tmp_path)
    assert rv.run_count_text(page).startswith("Nothing moved beyond noise: 1 workload setting(s)")
    assert rv.machines_with_history(page) == ["desk"]
