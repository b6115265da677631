"""How the report shows what it has: machines named alike on every page, a power figure that says
what it covers, a budget input in the unit the scenario's prices are in, and chart labels that never
run into each other (the last two in headless Chromium, on the committed data)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from collectors import store
from report import boundary as B
from report import buyer, charts, metrics, present, tables, views
from report.assumptions import Assumptions
from report.machine_names import NamedText, short_names
from report.present import short_name
from browser import CHROMIUM
from test_report_boundary import build_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def committed() -> dict[str, metrics.Report]:
    """The committed data, in the default scenario and the cloud one."""
    ds = store.load(ROOT / "data")
    return {s: metrics.build(ds, Assumptions(scenario=s)) for s in ("system", "cloud")}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_folder(tmp_path_factory.mktemp("presentation"))


def visible_text(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags and their attributes (hover titles) dropped."""
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


# ---------------------------------------------------------------------------------------------
# Machine names in running text


def test_a_sentence_names_machines_as_the_tables_do() -> None:
    full = "Mac Studio (2025, M3 Ultra, 32-core CPU, 80-core GPU, 512 GB)"
    begins = "Mac Studio (2025, M3 Ultra, 32-core CPU, 80-core GPU, 512 GB) <b>Pro</b>"
    named = NamedText([full, begins, "Plain Box"])
    out = named(f"{begins} beats {full} & Plain Box.")
    # the longer name is matched whole (it has no short form: shown as it is, never as the shorter
    # name it begins with), the markup in a name stays text, plain names stay as they are
    assert short_name(begins) == begins
    assert out == (f'{html.escape(begins)} beats '
                   f'<span class="cp-m" title="{html.escape(full)}">Mac Studio M3 Ultra, 512 GB</span> &amp; Plain Box.')
    assert "<b>" not in out


def test_two_machines_that_would_read_the_same_keep_their_full_names() -> None:
    a, b = "Box (X1, 16 GB, 2024)", "Box (X1, 16 GB, 2025)"
    assert short_name(a) == short_name(b)
    assert short_names([a, b]) == {a: a, b: b}
    assert NamedText([a, b])(f"{a} vs {b}") == html.escape(f"{a} vs {b}")


def test_the_claims_page_shows_short_names_with_the_full_name_on_hover(committed: dict[str, metrics.Report]) -> None:
    r = committed["system"]
    table, page = views.claims(r)
    names = {n for n in [*r.machines["name"], *r.results["name"].dropna()] if short_name(n) != n}
    written = " ".join(str(v) for v in table.to_numpy().ravel())
    mentioned = {n for n in names if n in written}
    assert mentioned, "the claims name no machine with a long name: nothing to check"
    seen = visible_text(page)
    assert not [n for n in mentioned if n in seen], "a full machine name is shown in the claims table"
    for n in mentioned:
        shown = short_names(names)[n]
        assert f'<span class="cp-m" title="{html.escape(n)}">{html.escape(shown)}</span>' in page
    # the CSV keeps the sentences as written
    assert all(n in written for n in mentioned)


# ---------------------------------------------------------------------------------------------
# What a power figure covers


def _power_cells(page: str) -> list[str]:
    return re.findall(r'<td data-label="Power W \(what it covers\)"[^>]*>(.*?)</td>', page)


@pytest.mark.parametrize("scenario, machine, short", [
    ("system", "card-a", "wall, card TDP + host, estimated"),  # its reference host: at the wall
    ("system", "card-b", "GPU board, TDP"),  # its host file is missing: the board only, said so
    ("system", "mac", "wall, system max"),
    ("upgrade", "card-a", "GPU board, TDP"),
    ("cloud", "cloud", "GPU board, TDP"),
])
def test_the_machines_page_says_what_each_power_figure_covers(folder: Path, scenario: str, machine: str,
                                                             short: str) -> None:
    r = metrics.build(store.load(folder), Assumptions(scenario=scenario, kv_cache_gb=2.0))
    m = r.machines.set_index("machine").loc[machine]
    assert m["spec_power_short"] == short
    cells = _power_cells(tables.machines(r))
    assert len(cells) == len(r.machines)
    cell = next(c for c in cells if html.escape(short) in c and f"{m['spec_power_w']:,.0f}" in c)
    assert f'title="{html.escape(m["spec_power_basis"])}"' in cell  # the whole basis on hover


def test_every_shown_power_figure_names_its_coverage(committed: dict[str, metrics.Report]) -> None:
    for r in committed.values():
        cells = _power_cells(tables.machines(r))
        with_watts = [c for c in cells if re.match(r"\s*[\d,]+", visible_text(c))]
        assert with_watts and all('class="cp-note cp-covers"' in c for c in with_watts)
        covers = {B.COVERS_SHORT[k] for k in r.machines["power_covers"].dropna()}
        assert all(any(w in visible_text(c) for w in covers) for c in with_watts)


# ---------------------------------------------------------------------------------------------
# The buyer's budget


def _params(chart: Any) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in chart.to_dict()["params"]}


def test_a_purchase_budget_where_machines_are_bought(folder: Path) -> None:
    r = metrics.build(store.load(folder), Assumptions(scenario="system", kv_cache_gb=2.0))
    budget = _params(buyer.chart(buyer.options(r)))["budget"]["bind"]
    assert budget["name"].startswith("Budget, USD (") and budget["step"] == 250
    assert "purchase price" in buyer.note(r)


def test_the_cloud_scenario_has_no_purchase_budget_but_an_hourly_one(folder: Path) -> None:
    r = metrics.build(store.load(folder), Assumptions(scenario="cloud", kv_cache_gb=2.0))
    options = buyer.options(r)
    assert (options["price_kind"] == "cloud_hourly").all()
    budget = _params(buyer.chart(options))["budget"]["bind"]
    # the folder's one cloud machine rents at 2 USD an hour: a purchase budget's 250-dollar steps
    # up to 1,000 would keep it at every setting but 0
    assert budget["name"].startswith("Budget, USD per hour") and budget["step"] < 1
    assert budget["max"] >= options["price_usd"].max() and budget["max"] <= 10
    assert "purchase" not in buyer.note(r).split("The budget")[-1]
    assert "hourly price" in buyer.note(r)


def test_no_budget_input_where_no_machine_has_a_price(folder: Path) -> None:
    r = metrics.build(store.load(folder), Assumptions(scenario="upgrade", kv_cache_gb=2.0))
    options = buyer.options(r).assign(price_usd=None)
    assert "budget" not in _params(buyer.chart(options))
    assert buyer.budget_text(options) == "No machine has a price, so there is no budget to set."


@pytest.mark.parametrize("scenario", ["system", "upgrade", "cloud"])
def test_the_budget_note_says_only_what_applies_to_the_scenario(committed: dict[str, metrics.Report],
                                                                scenario: str) -> None:
    r = committed.get(scenario) or metrics.build(store.load(ROOT / "data"), Assumptions(scenario=scenario))
    options = buyer.options(r)
    said = buyer.note(r, options)
    rented = options["price_kind"].eq("cloud_hourly").any()
    assert ("rented machines stay" in said) == (rented and buyer.budget_kind(options) == "purchase")
    assert ("without a price" in said) == bool(options["price_usd"].isna().any())
    # a purchase budget beside rented machines says they stay; beside priced ones only, nothing of them
    bought = options[options["price_usd"].notna()].assign(price_kind="purchase")
    assert "rented" not in buyer.budget_text(bought) and "without a price" not in buyer.budget_text(bought)
    mixed = bought.copy()
    mixed.loc[mixed.index[0], "price_kind"] = "cloud_hourly"
    assert "rented machines stay" in buyer.budget_text(mixed)


# ---------------------------------------------------------------------------------------------
# In the browser


def chart_page(path: Path, chart: Any) -> Path:
    """A page holding one chart, styled as the report's pages, in a column as wide as theirs (each
    page is a fresh kernel: the chart libraries come with its first chart)."""
    charts._bundle_done = False
    body = charts.embed(chart)
    path.write_text(f'<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" '
                    f'content="width=device-width, initial-scale=1">{present.STYLE}</head><body style="margin:0 16px">'
                    f'<main style="max-width:1300px;margin:auto">{body}</main></body></html>', encoding="utf-8")
    return path


BUDGET = """(async () => {
  const root = document.querySelector('.cp-chart');
  const input = root.querySelector('.vega-bindings input[type=range]');
  const rows = () => root.querySelectorAll('g.mark-text.role-mark text').length;
  const before = rows();
  input.value = '%s'; input.dispatchEvent(new Event('input'));
  for (let i = 0; i < 100 && rows() === before; i++) await new Promise(r => setTimeout(r, 100));
  await new Promise(r => setTimeout(r, 300));
  return [input.closest('label').textContent, Number(input.max), before, rows()];
})()"""


def test_the_cloud_budget_caps_the_hourly_price_in_the_page(committed: dict[str, metrics.Report], browser: Any,
                                                            tmp_path: Path) -> None:
    options = buyer.options(committed["cloud"])
    here = options[(options["size"] == buyer.DEFAULT_SIZE) & (options["precision"] == buyer.DEFAULT_PRECISION)]
    prices = sorted(here["price_usd"].dropna().unique())
    assert len(prices) >= 2, "the committed cloud machines need two hourly prices for this check"
    cap = (prices[0] + prices[1]) / 2  # between the cheapest and the next: at least one goes
    cap = round(cap * 4) / 4 if round(cap * 4) / 4 >= prices[0] else prices[0]  # on the input's 0.25 steps
    page = chart_page(tmp_path / "buyer.html", buyer.chart(options))
    label, top, before, after = browser.view(page, (1400, 1000), scripts=(BUDGET % cap,)).results[0]
    assert "USD per hour" in label and "(0 = any)" in label
    assert top >= max(prices) and top < 100
    assert before == len(here)
    assert after == int((here["price_usd"] <= cap).sum()) < before


@pytest.mark.parametrize("size", [(1400, 1000), (390, 844)], ids=["1400x1000", "390x844"])
def test_the_price_chart_labels_never_overlap(committed: dict[str, metrics.Report], browser: Any, tmp_path: Path,
                                              size: tuple[int, int]) -> None:
    from browser import LABELS_JS, OUTSIDE_JS, overlapping

    headline = committed["system"].headline
    chart = charts.price_vs_throughput(headline)
    assert chart is not None
    page = chart_page(tmp_path / "price.html", chart)
    v = browser.view(page, size, scripts=(LABELS_JS, OUTSIDE_JS))
    (got,) = v.results[0]
    assert v.results[1] == []  # no label, axis label or title cut by the chart's edge
    assert overlapping(got["labels"]) == []
    plot = got["plot"]
    assert all(plot["left"] - 1 <= b["left"] and b["right"] <= plot["right"] + 1 for b in got["labels"])
    # labels are left out only where there is no room: a wide screen shows most, a phone some
    points = headline[headline["price_kind"].isin(["purchase", "used"]) & headline["price_usd"].notna()
                      & headline["decode_tok_s"].notna()]
    assert len(got["labels"]) + got["hidden"] == len(points)  # one label per point, shown or not
    assert len(got["labels"]) >= (len(points) * 3 // 4 if size[0] >= 1000 else 4)
    assert [e for e in v.errors if "fit-y" not in e] == []


# Every model size and precision in turn, picked in the page's own inputs: the texts a chart draws
# after its bars, on the axis and in its legend must all end inside the chart's box, and a bar's text
# must show whole (the ellipsis at the plot's edge is the last resort, not the layout).
WALK = """(async () => {
  const root = document.querySelector('.cp-chart');
  const [size, precision] = root.querySelectorAll('.vega-bindings select');
  const drawn = () => [...root.querySelectorAll('svg text')].map(t => t.textContent).join('|');
  const outside = () => %s;
  const found = [], shortened = [];
  let picks = 0;
  for (const s of [...size.options].map(o => o.value)) for (const p of [...precision.options].map(o => o.value)) {
    const before = drawn(), same = size.value === s && precision.value === p;
    size.value = s; size.dispatchEvent(new Event('change'));
    precision.value = p; precision.dispatchEvent(new Event('change'));
    for (let i = 0; i < 50 && !same && drawn() === before; i++) await new Promise(r => setTimeout(r, 100));
    await new Promise(r => setTimeout(r, 100));
    picks += 1;
    for (const c of outside()) for (const o of c.outside) found.push([s, p, o.text, Math.round(o.right), o.width]);
    for (const t of root.querySelectorAll('g.mark-text.role-mark text')) {
      if (t.textContent.endsWith('…')) shortened.push([s, p, t.textContent]);
    }
  }
  return [picks, found, shortened];
})()"""


@pytest.mark.slow
# the legend is the same in every scenario: the narrowest phone once, for the scenario with most rows
@pytest.mark.parametrize(("scenario", "size"), [(s, w) for s in ("system", "cloud") for w in ((1400, 1000), (390, 844))]
                         + [("system", (320, 700))], ids=lambda p: p if isinstance(p, str) else f"{p[0]}x{p[1]}")
def test_no_buyer_chart_text_passes_the_charts_edge(committed: dict[str, metrics.Report], browser: Any,
                                                     tmp_path: Path, scenario: str, size: tuple[int, int]) -> None:
    from browser import OUTSIDE_JS

    options = buyer.options(committed[scenario])
    page = chart_page(tmp_path / "buyer.html", buyer.chart(options))
    v = browser.view(page, size, scripts=(WALK % OUTSIDE_JS.strip(),), timeout_s=240)
    picks, found, shortened = v.results[0]
    assert picks == options["size"].nunique() * len(buyer.PRECISIONS)
    assert found == []
    assert shortened == []
    # a phone's texts are the shorter ones: speed and cost, tokens per kWh left to the tooltip
    assert options["short_text"].str.len().max() < options["text"].str.len().max()
    assert not options["short_text"].str.contains("tok/kWh").any()
