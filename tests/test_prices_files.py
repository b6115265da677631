"""Appending prices to machine files as text, manual entries, and the report's history helpers."""

from __future__ import annotations

import copy
import difflib
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from foundation_data import MACHINE, write_folder

from collectors import store
from collectors.cli import main
from collectors.prices import price_as_of, price_history
from collectors.prices.yaml_append import AppendError, append_prices, verified_append
from collectors.records import Machine, Price

NEW = Price(amount=0.35, kind="cloud_hourly", date=dt.date(2026, 11, 24), source_url="https://example.org/a",
            source="vast-4090", fetched_at=dt.datetime(2026, 11, 24, 18, 30, tzinfo=dt.timezone.utc),
            note="median: of 12 offers")


def machine_text(prices_block: str) -> str:
    m = copy.deepcopy(MACHINE)
    del m["prices"]
    body = yaml.safe_dump(m, sort_keys=False)
    assert body.count("\nsources:\n") == 1
    return "# header comment\n" + body.replace("\nsources:\n", "\n" + prices_block + "# about sources\nsources:\n")


LAYOUTS = {
    "block list": "prices:\n- amount: 1599  # launch\n  kind: purchase\n  date: 2022-10-12\n"
                  "  source_url: https://example.org/p\n\n",
    "indented list": "prices:\n  - amount: 1599\n    kind: purchase\n    date: 2022-10-12\n"
                     "    source_url: https://example.org/p\n",
    "block scalar last": "prices:\n- amount: 1599\n  kind: purchase\n  date: 2022-10-12\n"
                         "  source_url: https://example.org/p\n  note: |\n    two\n    lines\n",
    "empty flow list": "prices: []  # none yet\n",
    "flow list": "prices: [{amount: 1599, kind: purchase, date: 2022-10-12, source_url: 'https://example.org/p'}]\n",
    "no key": "",
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_append_keeps_every_other_line(layout: str) -> None:
    text = machine_text(LAYOUTS[layout])
    before = Machine.model_validate(yaml.safe_load(text))
    new_text = verified_append(text, before, [NEW])
    after = Machine.model_validate(yaml.safe_load(new_text))
    assert after.prices == [*before.prices, NEW]
    assert after.model_dump(exclude={"prices"}) == before.model_dump(exclude={"prices"})
    old_lines, new_lines = text.splitlines(), new_text.splitlines()
    if layout == "empty flow list":
        old_lines = [line.replace("prices: []", "prices:") for line in old_lines]
    if layout != "flow list":
        # Block layouts: the old lines survive unchanged and in order; the new ones are only added.
        it = iter(new_lines)
        assert all(any(line == n for n in it) for line in old_lines)
    assert new_lines[0] == "# header comment" and "# about sources" in new_lines
    assert "fetched_at: 2026-11-24T18:30:00Z" in new_text or "2026-11-24T18:30:00Z" in new_text


def test_append_writes_dates_the_way_people_type_them() -> None:
    new_text = append_prices(machine_text(LAYOUTS["block list"]), [NEW])
    assert "  date: 2026-11-24\n" in new_text and "  fetched_at: 2026-11-24T18:30:00Z\n" in new_text


def test_an_empty_flow_list_becomes_a_block_list() -> None:
    new_text = append_prices("id: x\nprices: []  # none yet\nnotes: n\n", [NEW])
    assert new_text.startswith("id: x\nprices:  # none yet\n- amount: 0.35\n") and new_text.endswith("notes: n\n")


def test_append_fills_an_empty_prices_key() -> None:
    new_text = append_prices("id: x\nprices:\nnotes: n\n", [NEW])
    assert new_text.startswith("id: x\nprices:\n- amount: 0.35\n") and new_text.endswith("notes: n\n")
    assert yaml.safe_load(new_text)["prices"][0]["source"] == "vast-4090"


def test_append_refuses_a_prices_value_that_is_not_a_list() -> None:
    with pytest.raises(AppendError, match="must be a list"):
        append_prices("id: x\nprices: 3\n", [NEW])


def test_manual_add_goes_through_the_same_checks(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "data")
    path = root / "machines" / "test-desktop.yaml"
    runner = CliRunner()
    base = ["prices", "add", "test-desktop", "--data", str(root), "--kind", "purchase",
            "--url", "https://example.org/shop", "--date", "2026-11-01"]

    refused = runner.invoke(main, [*base, "--amount", "-3"])
    assert refused.exit_code == 1 and "--amount: Input should be greater than 0" in refused.output
    jump = runner.invoke(main, [*base, "--amount", "25000"])
    assert jump.exit_code == 1 and "more than a 10x change" in jump.output
    before = path.read_bytes()
    dry = runner.invoke(main, [*base, "--amount", "1750", "--dry-run"])
    assert dry.exit_code == 0 and "+- amount: 1750.0" in dry.output and path.read_bytes() == before

    added = runner.invoke(main, [*base, "--amount", "1750", "--provider", "Example Shop"])

    assert added.exit_code == 0, added.output
    machine = store.load(root).machines["test-desktop"]
    assert [(p.amount, p.source, p.provider) for p in machine.prices][-1] == (1750.0, None, "Example Shop")
    old_lines, new_lines = before.decode().splitlines(), path.read_text().splitlines()
    assert len(new_lines) > len(old_lines) and set(old_lines) <= set(new_lines)
    history = runner.invoke(main, ["prices", "history", "test-desktop", "--data", str(root)])
    assert history.exit_code == 0 and "1,750 USD" in history.output and "manual" in history.output


def test_refresh_of_a_machine_without_sources_names_it(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "data")
    out = CliRunner().invoke(main, ["prices", "refresh", "--machine", "test-desktop", "--data", str(root)])
    assert out.exit_code == 0 and out.output.strip() == "test-desktop declares no `price_sources`; nothing to refresh."


def machine_with_history() -> Machine:
    m = copy.deepcopy(MACHINE)
    m["prices"] += [
        {"amount": 1799.0, "kind": "purchase", "date": dt.date(2025, 3, 1), "source_url": "https://example.org/b",
         "source": "shop", "fetched_at": dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.timezone.utc)},
        {"amount": 0.4, "kind": "cloud_hourly", "date": dt.date(2025, 6, 1), "source_url": "https://example.org/c"},
        {"amount": 1999.0, "kind": "purchase", "date": dt.date(2025, 3, 1), "source_url": "https://example.org/d"},
    ]
    return Machine.model_validate(m)


def test_price_history_is_a_dated_frame() -> None:
    frame = price_history(machine_with_history(), kind="purchase")
    assert list(frame["amount"]) == [1599, 1799.0, 1999.0]
    assert frame["date"].dtype.kind == "M" and str(frame["fetched_at"].dt.tz) == "UTC"
    assert list(frame["source"]) == ["manual", "shop", "manual"]
    assert pd.isna(frame["fetched_at"].iloc[0])
    assert len(price_history(machine_with_history())) == 4


def test_price_as_of() -> None:
    m = machine_with_history()
    assert price_as_of(m, dt.date(2022, 10, 11), "purchase") is None
    assert price_as_of(m, dt.date(2024, 1, 1), "purchase").amount == 1599  # type: ignore[union-attr]
    # Two prices on the same day: the later line in the file wins.
    assert price_as_of(m, dt.date(2025, 3, 1), "purchase").amount == 1999.0  # type: ignore[union-attr]
    assert price_as_of(m, dt.date(2026, 1, 1), "cloud_hourly").amount == 0.4  # type: ignore[union-attr]
    assert price_as_of(m, dt.date(2026, 1, 1), "purchase", currency="EUR") is None
    assert price_as_of(m, dt.date(2026, 1, 1), "purchase", source="shop").amount == 1799.0  # type: ignore[union-attr]
    assert price_as_of(m, dt.date(2026, 1, 1), "purchase", provider="nobody") is None


REPO_MACHINES = sorted((Path(__file__).parent.parent / "data" / "machines").glob("*.yaml"))


@pytest.mark.parametrize("path", REPO_MACHINES, ids=[p.stem for p in REPO_MACHINES])
def test_a_refresh_could_append_to_every_committed_machine_file(path: Path) -> None:
    """In memory only: whatever layout contributors chose, an append adds lines and changes none."""
    machine, problems = store.read_file(path, "machine")
    if machine is None:
        pytest.skip(f"does not validate (costperf validate reports it): {problems[0]}")
    assert isinstance(machine, Machine)
    text = path.read_text(encoding="utf-8")
    new_text = verified_append(text, machine, [NEW])
    removed = [line for line in difflib.ndiff(text.splitlines(), new_text.splitlines()) if line.startswith("- ")]
    assert all(line.startswith("- prices: []") for line in removed), removed
