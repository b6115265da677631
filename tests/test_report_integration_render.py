"""The rendered site (committed data, fallback engine) shows price dates,
price histories, physics flags, the cross-check and the scaling section. Reuses the render of
tests/test_report_render.py (its `site` fixture renders once per module)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_report_render import expected_report, page, site, without_scripts  # noqa: F401  (site: fixture)

pytestmark = pytest.mark.slow


def test_index_prints_the_date_of_each_price_used(site: Path) -> None:  # noqa: F811
    rep = expected_report(site)
    text = without_scripts(page(site, "index"))
    shown = re.findall(r"price as of <span[^>]*>([0-9-]+)</span>", text)
    with_tpd = rep.headline[rep.headline["tokens_per_dollar"].notna()]
    assert len(with_tpd) >= 5
    # one date per tokens-per-dollar figure in the table, plus those of the cards that used a price
    # (most tokens per dollar, cheapest usable GB)
    cards = [w.price_as_of.isoformat() for w in rep.winners if w.price_as_of is not None]
    assert sorted(shown) == sorted([d.isoformat() for d in with_tpd["price_as_of"]] + cards)
    for _, h in with_tpd.iterrows():
        assert h["price_as_of"] == h["price_date"]  # the machine's chosen price, nothing else


def test_machines_page_has_a_price_history_per_machine_with_prices_on_two_dates(site: Path) -> None:  # noqa: F811
    rep = expected_report(site)
    text = page(site, "machines")
    history = text[text.index("Price history"):]
    dates = rep.prices.groupby("machine")["date"].nunique()
    assert (dates >= 2).sum() >= 1 and (dates == 1).sum() >= 1
    # one price, or one date's spread of quotes, is no history: the table has it, not a one-date chart
    assert history.count('class="cp-chart"') == (dates >= 2).sum()
    assert "Download every price (CSV)" in history and f"({len(rep.prices)} rows)" in history


def test_flags_cross_check_and_scaling_on_their_pages(site: Path) -> None:  # noqa: F811
    rep = expected_report(site)
    flagged = rep.results[rep.results["flags"].notna() & rep.results["kind"].isin(["decode", "prefill"])]
    assert len(flagged) >= 1
    assert without_scripts(page(site, "inference")).count("⚑ flagged") >= len(flagged)
    methodology = without_scripts(page(site, "methodology"))
    assert len(rep.cross_checks) >= 1
    for ratio in rep.cross_checks["ratio"]:
        assert f"{ratio:.2f}×" in methodology
    training = page(site, "training")
    if rep.scaling.empty:
        assert "No distributed runs are committed yet" in training
    else:  # the committed distributed runs (H200, 1 and 2 ranks) are drawn and tabled
        assert "Scaling efficiency" in training and "No distributed runs are committed yet" not in training
