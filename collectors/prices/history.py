"""Price history for the report: one table per machine and "the price as of a date".

Imports nothing heavier than pandas (lazily), so the report can use it without requests.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from collectors.records import Machine, Price

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["machine", "date", "amount", "currency", "kind", "source", "provider", "provenance",
           "source_url", "fetched_at", "note"]


def price_history(machine: Machine, kind: str | None = None, currency: str | None = None) -> pd.DataFrame:
    """Every price of `machine` (optionally one kind / currency), oldest first, one row each.

    `date` is a pandas datetime (midnight) so it plots on a time axis; `fetched_at` is UTC or NaT
    for prices entered by hand. File order breaks ties between prices of the same date.
    """
    import pandas as pd  # noqa: PLC0415

    rows = [
        {"machine": machine.id, "date": pd.Timestamp(p.date), "amount": p.amount, "currency": p.currency,
         "kind": p.kind, "source": p.source or "manual", "provider": p.provider, "provenance": p.provenance,
         "source_url": p.source_url, "fetched_at": pd.Timestamp(p.fetched_at) if p.fetched_at else pd.NaT,
         "note": p.note}
        for p in machine.prices
        if (kind is None or p.kind == kind) and (currency is None or p.currency == currency)
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


def price_as_of(machine: Machine, when: dt.date, kind: str, currency: str = "USD",
                provider: str | None = None, source: str | None = None) -> Price | None:
    """The latest price of `kind` in `currency` observed on or before `when` (None if none was),
    optionally only from one `provider` (exact text) or one price source id.

    The report prints its date beside every tokens-per-dollar figure: "price as of 2026-11-24".
    Several cloud providers in one file are a spread, not a series: filter by provider to follow one.
    """
    eligible = [(p.date, i, p) for i, p in enumerate(machine.prices)
                if p.kind == kind and p.currency == currency and p.date <= when
                and (provider is None or p.provider == provider) and (source is None or p.source == source)]
    return max(eligible, key=lambda t: (t[0], t[1]))[2] if eligible else None


def latest_price(machine: Machine, kind: str, currency: str = "USD") -> Price | None:
    """The newest price of `kind`: price_as_of today."""
    return price_as_of(machine, dt.date.max, kind, currency)
