"""The whole site, rendered by `costperf report`'s fallback engine from the committed data (plus one
machine whose name is HTML), then read back: every page, the key numbers, nothing loaded from the
network, names escaped, and a headless Chromium screenshot with a chart drawn."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors import store
from report import assumptions, metrics
from report import sample_data as S
from report.present import number

from browser import CHROMIUM

ROOT = Path(__file__).resolve().parents[1]
EVIL = '<b>Bold</b> & <script>alert("x")</script>'
SETTINGS = ["usd_per_kwh=0.31", "hours_per_day=10"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's site sources and data, rendered once for every test here."""
    project = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "_quarto.yml", project / "_quarto.yml")
    (project / "report").mkdir()
    for page in (ROOT / "report").glob("*.qmd"):
        shutil.copy(page, project / "report" / page.name)
    shutil.copy(ROOT / "report" / "post_render.py", project / "report" / "post_render.py")
    shutil.copytree(ROOT / "data", project / "data", ignore=shutil.ignore_patterns(".costperf-tmp-*"))
    S.write_machine(project / "data", S.machine("html-named-box", EVIL, price_usd=None, tdp_w=None))
    args = [sys.executable, "-m", "collectors.cli", "report", "--engine", "fallback", "--project", str(project)]
    for s in SETTINGS:
        args += ["--set", s]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, env={**os.environ, "PATH": os.environ.get(
        "PATH", "")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Rendered the report" in done.stdout
    # the engine is named, and each page is reported as it is written
    assert "fallback engine" in done.stdout
    n = len(list((project / "report").glob("*.qmd")))
    assert all(f"[{i}/{n}] report/" in done.stdout for i in range(1, n + 1)), done.stdout
    return project


def page(site: Path, name: str) -> str:
    return (site / "_site" / "report" / f"{name}.html").read_text(encoding="utf-8")


def expected_report(site: Path) -> metrics.Report:
    a = assumptions.resolve(site, assumptions.parse_set(SETTINGS))
    return metrics.build(store.load(site / "data"), a)


def escaped(text: str) -> str:
    """Escaped as in text content (nbconvert re-serialises outputs, so quotes may stay plain)."""
    return html.escape(text, quote=False)


def without_scripts(text: str) -> str:
    return re.sub(r"<script\b.*?</script>", "", text, flags=re.DOTALL)


def test_every_navbar_page_is_rendered_with_the_same_navigation(site: Path) -> None:
    config = yaml.safe_load((site / "_quarto.yml").read_text())
    hrefs = [item["href"] for item in config["website"]["navbar"]["left"]]
    assert len(hrefs) >= 8
    pages = [Path(h).stem for h in hrefs]
    for name in pages:
        text = page(site, name)
        nav = text[text.index("<nav"):text.index("</nav>")]
        assert [f"{p}.html" for p in pages] == re.findall(r'href="([^"]+)"', nav), name
    root_index = (site / "_site" / "index.html").read_text()
    assert 'url=report/index.html' in root_index


def test_index_answers_the_question_with_the_computed_winners(site: Path) -> None:
    rep = expected_report(site)
    text = without_scripts(page(site, "index"))
    winners = [w for w in rep.winners if w.machine is not None]
    assert len(winners) == 3, "the committed data should name a winner for each metric"
    for w in winners:
        assert escaped(w.name or "") in text
        assert f'{number(w.value)} <span class="cp-unit">{html.escape(w.unit)}</span>' in text
    # the question is answered before the table (the first screen)
    assert text.index("Most tokens per dollar") < text.index("<table")
    for name in rep.headline["name"]:
        assert escaped(name) in text


def test_set_overrides_reach_the_pages(site: Path) -> None:
    text = without_scripts(page(site, "methodology"))
    assert re.search(r"usd_per_kwh</td><td[^>]*>0\.31<", text)
    assert re.search(r"hours_per_day</td><td[^>]*>10\.0<", text)
    assert "10 h/day" in page(site, "index")


def test_claims_page_has_every_claim_with_a_verdict(site: Path) -> None:
    from report import claims

    rep = expected_report(site)
    checks = claims.evaluate(rep)
    assert [c.number for c in checks] == list(range(1, 25))
    text = without_scripts(page(site, "claims"))
    for c in checks:
        assert escaped(c.claim) in text
    assert text.count('class="cp-verdict ') == 24
    for verdict in {c.verdict for c in checks}:
        assert f">{verdict}</span>" in text


def test_html_in_a_machine_name_is_escaped(site: Path) -> None:
    for name in ("index", "machines", "memory"):
        text = page(site, name)
        outside = without_scripts(text)
        assert escaped(EVIL) in outside, name
        assert "<b>Bold</b>" not in outside and '<script>alert(' not in outside, name
        assert '</script><script>alert("x")' not in text, name  # nor can it close a chart's script


class ExternalRefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.in_style = tag == "style"
        for attr in ("src", "href", "data"):
            value = (a.get(attr) or "").strip().lower()
            external = value.startswith(("http:", "https:", "//"))
            if tag == "a":
                continue  # links a reader may follow are fine; nothing is loaded from them
            if external:
                self.found.append(f"<{tag} {attr}={value}>")

    def handle_data(self, data: str) -> None:
        if self.in_style and re.search(r"@import|url\(\s*['\"]?(https?:)?//", data):
            self.found.append(f"style: {data[:80]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self.in_style = False


def test_no_page_loads_anything_from_the_network(site: Path) -> None:
    pages = sorted((site / "_site").rglob("*.html"))
    assert len(pages) >= 9
    for path in pages:
        parser = ExternalRefs()
        parser.feed(path.read_text(encoding="utf-8"))
        assert parser.found == [], f"{path}: {parser.found}"
        assert "@font-face" not in path.read_text(encoding="utf-8")


def test_every_page_with_a_table_offers_its_csv(site: Path) -> None:
    for name in ("index", "inference", "training", "memory", "energy", "machines", "claims", "methodology"):
        text = page(site, name)
        match = re.search(r'download="([^"]+\.csv)" href="data:text/csv;charset=utf-8;base64,([^"]+)"', text)
        assert match, name
        csv = base64.b64decode(match.group(2)).decode("utf-8")
        assert csv.count("\n") >= 1 and "," in csv.splitlines()[0], name  # a header, rows when there is data
    first = re.search(r'download="costperf-headline.csv" href="data:text/csv;charset=utf-8;base64,([^"]+)"',
                      page(site, "index")).group(1)  # type: ignore[union-attr]
    headline = base64.b64decode(first).decode()
    assert headline.startswith("machine,name,vendor")
    assert headline.count("\n") == len(expected_report(site).headline) + 1  # one row per machine


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
            "--hide-scrollbars", "--virtual-time-budget=15000"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_chromium_draws_the_index_charts(site: Path, tmp_path: Path) -> None:
    from PIL import Image

    index = (site / "_site" / "report" / "index.html").as_uri()
    dom = chromium(["--dump-dom", index], tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    charts = re.split(r'<div[^>]* id="cp-chart-\d+"', dom.stdout)[1:]
    assert len(charts) == 3, "the index has three charts"
    first_chart = charts[0]
    assert "<svg" in first_chart and 'class="marks"' in first_chart, "vega-embed did not draw the first chart"
    assert not re.search(r'cp-chart[^>]*>chart error', dom.stdout)

    shots = Path(os.environ.get("COSTPERF_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    first_screen, full = shots / "index-first-screen.png", shots / "index-full.png"
    assert chromium(["--window-size=1280,900", f"--screenshot={first_screen}", index], tmp_path / "p2").returncode == 0
    assert chromium(["--window-size=1280,6000", f"--screenshot={full}", index], tmp_path / "p3").returncode == 0

    def vendor_pixels(path: Path) -> int:
        img = Image.open(path).convert("RGB")
        colours = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in ("#4d8f00", "#0a66c2")]
        return sum(n for n, px in img.getcolors(maxcolors=1 << 24) or []  # type: ignore[union-attr]
                   if any(sum(abs(a - b) for a, b in zip(px, c)) < 40 for c in colours))

    # marks and legends are drawn in vendor colours, which nothing else on the page uses: a blank
    # chart area has none
    assert vendor_pixels(full) > 50
    img = Image.open(first_screen).convert("L")
    assert img.size == (1280, 900) and img.getextrema()[0] < 60  # the first screen has dark text on it


PAGES = ["index", "inference", "training", "memory", "energy", "machines", "claims", "methodology", "review"]
# vega-lite's note that a chart with a row height per machine (the buyer chart) keeps that height
HARMLESS = ('Dropping "fit-y" because spec has discrete height',)


@pytest.mark.parametrize("size", [(1400, 1000), (390, 844), (320, 700)], ids=["1400x1000", "390x844", "320x700"])
@pytest.mark.parametrize("name", PAGES)
def test_every_page_fits_the_screen_width_and_loads_nothing(site: Path, browser: Any, name: str,
                                                            size: tuple[int, int]) -> None:
    shots = os.environ.get("COSTPERF_SCREENSHOTS")
    shot = Path(shots) / f"{name}-{size[0]}.png" if shots else None
    from browser import LABELS_JS, OUTSIDE_JS, TITLES_JS, overlapping

    v = browser.view(site / "_site" / "report" / f"{name}.html", size, shot,
                     scripts=(LABELS_JS, OUTSIDE_JS, TITLES_JS))
    # no text a chart draws (point labels, a bar's figures, a cell's words) runs into another
    assert [(c["id"], overlapping(c["labels"])) for c in v.results[0] if overlapping(c["labels"])] == []
    # and none (those, axis labels, legends, titles) passes the chart's edge, where the SVG would cut it
    assert v.results[1] == [], v.results[1]
    # every chart title and subtitle shows whole: broken into lines, never cut to an ellipsis
    assert [t for t in v.results[2] if t["cut"]] == [], v.results[2]
    # no sideways scrolling, and no table or chart wider than the column it sits in
    assert v.width <= v.viewport + 1, (v.width, v.viewport)
    assert not v.sticking_out and not v.too_wide, (v.sticking_out, v.too_wide)
    assert v.drawn == v.charts and not v.chart_errors, v.chart_errors
    assert v.network == [], v.network
    assert [e for e in v.errors if not any(h in e for h in HARMLESS)] == [], v.errors
    if size == (1400, 1000):
        assert v.screens <= 10, f"{name}: {v.screens:.1f} screens tall"
        assert v.tall_charts == [], f"{name}: a chart taller than the screen hides its axis ({v.tall_charts})"


BUYER_PICK = """(async () => {
  const [size, precision] = document.querySelectorAll('#cp-chart-1 .vega-bindings select');
  const texts = () => [...document.querySelectorAll('#cp-chart-1 svg text')].map(t => t.textContent);
  const before = texts().filter(t => t.startsWith('does not fit')).length;
  size.value = '%s'; size.dispatchEvent(new Event('change'));
  precision.value = '16-bit'; precision.dispatchEvent(new Event('change'));
  // vega redraws asynchronously: wait until the drawing changes (a loaded machine is slow)
  for (let i = 0; i < 100 && texts().filter(t => t.startsWith('does not fit')).length === before; i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  await new Promise(r => setTimeout(r, 300));
  return [before, texts().filter(t => t.startsWith('does not fit')).length, texts().filter(t => t.includes('tok/s')).length];
})()"""


def test_the_buyer_chart_answers_in_the_page(site: Path, browser: Any) -> None:
    """Picking a bigger model at 16 bits in the overview's inputs, in the browser, moves machines to
    'does not fit' and leaves fewer with a speed: the answer is computed in the page."""
    from report import buyer

    a = assumptions.resolve(site, assumptions.parse_set(SETTINGS))
    options = buyer.options(metrics.build(store.load(site / "data"), a))
    v = browser.view(site / "_site" / "report" / "index.html", (1400, 1000), scripts=(BUYER_PICK % "70B",))
    before, after, with_speed = v.results[0]
    expected = options[(options["size"] == "70B") & (options["precision"] == "16-bit")]
    assert before == int((~options[(options["size"] == "8B") & (options["precision"] == "4-bit")]["fits"]).sum())
    assert after == int((~expected["fits"]).sum()) > before
    assert with_speed == int(expected["tok_s"].notna().sum())


def test_a_pages_csv_has_the_rows_its_table_shows(site: Path) -> None:
    text = page(site, "memory")
    m = re.search(r'download="costperf-memory.csv" href="data:text/csv;charset=utf-8;base64,([^"]+)"', text)
    assert m
    rows = base64.b64decode(m.group(1)).decode().strip().count("\n")
    table = text[text.index('<table class="cp-table"'):]
    table = table[:table.index("</table>")]
    assert rows == table.count('<tbody') == len(expected_report(site).machines)
