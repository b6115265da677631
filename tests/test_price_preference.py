"""The report prices a machine at its newest new (purchase) price, and at a used one only when no new
price is known, even where the used price is newer and cheaper; cloud machines at their hourly price."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from foundation_data import MACHINE

from collectors.records import Machine
from report import boundary, metrics


def _price(kind: str, amount: float, day: dt.date, covers: str = "system") -> dict[str, Any]:
    return {"amount": amount, "currency": "USD", "kind": kind, "date": day, "covers": covers,
            "source_url": "https://example.org/p"}


def _machine(prices: list[dict[str, Any]], form: str = "desktop", host: str | None = None) -> Machine:
    m = copy.deepcopy(MACHINE)
    m["prices"], m["form"] = prices, form
    if host:
        m["host"] = host
    return Machine.model_validate(m)


NEW_OLD = _price("purchase", 1599.0, dt.date(2022, 10, 12))
USED_NEWER = _price("used", 900.0, dt.date(2026, 6, 1))


@pytest.mark.parametrize("order", [[NEW_OLD, USED_NEWER], [USED_NEWER, NEW_OLD]])
def test_new_price_wins_over_a_newer_cheaper_used_one(order: list[dict[str, Any]]) -> None:
    m = _machine(order)
    chosen = metrics.current_price(m)
    assert chosen is not None and (chosen.kind, chosen.amount) == ("purchase", 1599.0)
    system = boundary.scenario_price(m, {}, "system")
    assert (system.kind, system.usd) == ("purchase", 1599.0)
    table = metrics.price_history_table({m.id: m})
    assert list(table.loc[table["used"], "kind"]) == ["purchase"]


def test_the_newest_new_price_of_several() -> None:
    m = _machine([NEW_OLD, _price("purchase", 1799.0, dt.date(2025, 1, 1)), USED_NEWER])
    assert metrics.current_price(m).amount == 1799.0  # type: ignore[union-attr]
    assert boundary.scenario_price(m, {}, "system").usd == 1799.0


def test_used_only_when_no_new_price_is_known() -> None:
    m = _machine([USED_NEWER])
    assert metrics.current_price(m).kind == "used"  # type: ignore[union-attr]
    assert boundary.scenario_price(m, {}, "system").kind == "used"


def test_card_prices_follow_the_same_rule_in_the_upgrade_scenario() -> None:
    m = _machine([_price("used", 700.0, dt.date(2026, 6, 1), "card"), _price("purchase", 1599.0,
                                                                            dt.date(2022, 10, 12), "card")],
                 host="reference-pc")
    up = boundary.scenario_price(m, {}, "upgrade")
    assert (up.kind, up.usd) == ("purchase", 1599.0)


def test_a_cloud_machine_is_priced_by_the_hour() -> None:
    m = _machine([NEW_OLD, _price("cloud_hourly", 2.5, dt.date(2026, 6, 1))], form="cloud")
    assert metrics.current_price(m).kind == "cloud_hourly"  # type: ignore[union-attr]
