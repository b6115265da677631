"""Refresh prices: read every declared source, check each price, append what passed to the history.

Nothing is lost: a price is only ever appended; a source that fails leaves the machine's last good
price in place and is reported with its reason; a machine file changes only when at least one new
price passed every check, and then atomically (`store.replace`).
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from collectors import store
from collectors.prices.http import FetchError, HttpSettings, RefusedPrice, make_session
from collectors.prices.sources import READERS, Reader, utc_now
from collectors.prices.yaml_append import AppendError, verified_append
from collectors.records import Machine, Price, PriceSource

MAX_JUMP = 10.0
"""A new price more than this many times above or below the last one is refused without --accept."""
PLAUSIBLE = {"purchase": (1.0, 50_000_000.0), "used": (1.0, 50_000_000.0), "cloud_hourly": (0.001, 50_000.0)}
"""Bounds of any price of a kind, the first one included (in any currency: the yen is ~150 to the
dollar, so an 8-GPU server's 45 million yen fits, and 1e308 never does); not overridden by --accept."""
EARLIEST_PRICE = dt.date(2000, 1, 1)

Status = Literal["added", "would_add", "unchanged", "failed", "refused"]


@dataclass
class Outcome:
    """What happened to one source (or one manual entry) of one machine."""

    machine: str
    path: Path
    source: str
    status: Status
    message: str
    price: Price | None = None
    previous: Price | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("added", "would_add", "unchanged")


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    diffs: dict[Path, str] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    problems: list[store.Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(o.ok for o in self.outcomes)


def last_comparable(history: Iterable[Price], kind: str, currency: str, source: str | None = None) -> Price | None:
    """What a new price is compared with: the latest one from the same source, else the latest of the
    same kind and currency (a later line wins a tie of dates)."""
    same = [(p.date, i, p) for i, p in enumerate(history) if p.kind == kind and p.currency == currency]
    own = [t for t in same if source is not None and t[2].source == source]
    pool = own or same
    return max(pool, key=lambda t: (t[0], t[1]))[2] if pool else None


def jump_problem(new: Price, previous: Price | None, max_jump: float = MAX_JUMP) -> str | None:
    if previous is None:
        return None
    ratio = new.amount / previous.amount
    if ratio > max_jump or ratio < 1 / max_jump:
        return (f"{money(new.amount)} {new.currency} is {ratio:.3g}x the last {previous.kind} price "
                f"{money(previous.amount)} {previous.currency} ({previous.date}): more than a {max_jump:g}x change, "
                f"refused (check the source; pass --accept if it is real)")
    return None


def bounds_problem(new: Price, today: dt.date) -> str | None:
    """What is implausible about a price on its own: its amount for its kind, or its date."""
    low, high = PLAUSIBLE.get(new.kind, (0.001, 50_000_000.0))
    if not low <= new.amount <= high:
        return (f"{money(new.amount)} {new.currency} is outside the plausible range of a {new.kind} price "
                f"({money(low)} to {money(high)}): refused")
    if new.date > today:
        return f"date {new.date} is in the future (today is {today}): refused"
    if new.date < EARLIEST_PRICE:
        return f"date {new.date} is before {EARLIEST_PRICE.year}: a typo? refused"
    return None


def _same_as_today(new: Price, history: list[Price]) -> bool:
    """The same source already recorded the same amount today: a second refresh adds nothing."""
    return any(p.source == new.source and p.date == new.date and p.amount == new.amount
               and p.kind == new.kind and p.currency == new.currency for p in history)


def money(amount: float) -> str:
    """1,599 / 1,849.50 / 0.375: cents only where there are any, four figures for hourly prices."""
    if amount >= 1e9:
        return f"{amount:.3g}"
    if amount >= 100:
        return f"{amount:,.2f}".removesuffix(".00")
    return f"{amount:.2f}" if round(amount, 2) == amount else f"{amount:.4g}"


def describe(price: Price) -> str:
    unit = "/h" if price.kind == "cloud_hourly" else ""
    return f"{money(price.amount)} {price.currency}{unit} ({price.kind}, {price.date})"


def fetch_price(src: PriceSource, machine: Machine, session: object, settings: HttpSettings,
                readers: dict[str, Reader], now: dt.datetime) -> Price:
    reader = readers.get(src.kind)
    if reader is None:
        raise FetchError(f"no reader for source kind {src.kind!r} (known: {', '.join(sorted(readers))})")
    obs = reader(src, machine, session, settings)  # type: ignore[arg-type]
    try:
        return Price(amount=obs.amount, currency=src.currency, kind=src.price_kind, date=now.date(),
                     source_url=obs.source_url, provider=src.provider, provenance="published", note=obs.note,
                     source=src.id, fetched_at=now)
    except ValidationError as exc:
        raise FetchError(f"the fetched price does not fit the schema: {exc.errors()[0]['msg']}") from None


def check_and_collect(machine: Machine, path: Path, candidates: list[tuple[str, Price]], accept: bool,
                      dry_run: bool, today: dt.date | None = None) -> tuple[list[Outcome], list[Price]]:
    """Bounds, jump and duplicate checks against the history (including prices accepted just before)."""
    today = today or utc_now().date()
    outcomes: list[Outcome] = []
    history = list(machine.prices)
    new: list[Price] = []
    for name, price in candidates:
        previous = last_comparable(history, price.kind, price.currency, price.source)
        implausible = bounds_problem(price, today)
        if implausible:
            outcomes.append(Outcome(machine.id, path, name, "refused", implausible, price, previous))
            continue
        if _same_as_today(price, history):
            outcomes.append(Outcome(machine.id, path, name, "unchanged",
                                    f"{describe(price)} already recorded today", price, previous))
            continue
        problem = jump_problem(price, previous)
        if problem and not accept:
            outcomes.append(Outcome(machine.id, path, name, "refused", problem, price, previous))
            continue
        was = f" (was {describe(previous)})" if previous else " (first price of this kind)"
        accepted = " [accepted with --accept]" if problem else ""
        outcomes.append(Outcome(machine.id, path, name, "would_add" if dry_run else "added",
                                f"{describe(price)}{was}{accepted}", price, previous))
        history.append(price)
        new.append(price)
    return outcomes, new


def write_prices(path: Path, machine: Machine, original: bytes, new: list[Price], dry_run: bool,
                 report: Report) -> bool:
    """Append `new` to the file at `path` (or show the diff); False, with a reason, when it cannot."""
    text = original.decode("utf-8")
    try:
        new_text = verified_append(text, machine, new)
    except (AppendError, ValidationError, ValueError) as exc:
        report.problems.append(store.Problem(path, "prices", f"not written: {exc}"))
        return False
    report.diffs[path] = "".join(difflib.unified_diff(
        text.splitlines(keepends=True), new_text.splitlines(keepends=True), str(path), f"{path} (refreshed)"))
    if dry_run:
        return True
    if path.read_bytes() != original:
        report.problems.append(store.Problem(path, "", "changed on disk during the refresh: not written, run again"))
        return False
    try:
        store.replace(path, new_text)
    except OSError as exc:  # a full disk or a read-only folder: the file keeps its old content
        report.problems.append(store.Problem(path, "", f"not written ({exc.strerror or exc}); the file is unchanged"))
        return False
    report.written.append(path)
    return True


def _targets(ds: store.DataSet, machine_ids: Iterable[str], report: Report) -> list[tuple[Machine, Path]]:
    paths = {item.record.id: item.path for item in ds.files if isinstance(item.record, Machine)}
    chosen = list(machine_ids)
    wanted = chosen or sorted(ds.machines)
    out = []
    if not chosen:
        # Refreshing everything: a machine file that does not validate is named, not silently skipped.
        report.problems += [p for p in ds.problems if store.kind_of(p.path) == "machine"
                            and p.path.stem not in ds.machines]
    for mid in wanted:
        if mid not in ds.machines:
            bad = [p for p in ds.problems if p.path.stem == mid]
            if bad:
                report.problems += bad
            else:
                report.problems.append(store.Problem(ds.root / "machines" / f"{mid}.yaml", "",
                                                     f"no machine {mid!r} (known: {', '.join(sorted(ds.machines))})"))
            continue
        path = paths[mid]
        # A file with problems (a future date, a clashing id) is not rewritten until it is fixed.
        own = [p for p in ds.problems if p.path == path]
        if own:
            report.problems += own
            continue
        out.append((ds.machines[mid], path))
    return out


def refresh(root: Path | str = "data", machine_ids: Iterable[str] = (), dry_run: bool = False,
            accept: bool = False, settings: HttpSettings = HttpSettings(),
            readers: dict[str, Reader] | None = None, now: dt.datetime | None = None) -> Report:
    """Read every `price_sources` entry of the chosen machines (all by default) and append new prices."""
    readers = READERS if readers is None else readers
    now = now or utc_now()
    report = Report()
    ds = store.load(root)
    session = make_session(settings)
    with session:
        for machine, path in _targets(ds, machine_ids, report):
            original = path.read_bytes()
            candidates: list[tuple[str, Price]] = []
            for src in machine.price_sources:
                try:
                    try:
                        candidates.append((src.id, fetch_price(src, machine, session, settings, readers, now)))
                    except FetchError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - one source's failure never stops the others
                        raise FetchError(f"{src.id}: reading the answer failed ({type(exc).__name__}: "
                                         f"{str(exc)[:200]})") from None
                except FetchError as exc:
                    last = last_comparable(machine.prices, src.price_kind, src.currency, src.id)
                    kept = (f"; kept last good price {describe(last)}" if last
                            else f"; no earlier {src.price_kind} price to keep")
                    status: Status = "refused" if isinstance(exc, RefusedPrice) else "failed"
                    report.outcomes.append(Outcome(machine.id, path, src.id, status, f"{exc}{kept}",
                                                   previous=last))
            outcomes, new = check_and_collect(machine, path, candidates, accept, dry_run, now.date())
            if new and not write_prices(path, machine, original, new, dry_run, report):
                for o in outcomes:
                    if o.status in ("added", "would_add"):
                        o.status, o.message = "failed", f"{o.message}; not written (see the problem below)"
            report.outcomes += outcomes
    return report


def add_manual(root: Path | str, machine_id: str, price: Price, dry_run: bool = False,
               accept: bool = False) -> Report:
    """A price typed in by hand goes through the same checks and the same append as fetched ones."""
    report = Report()
    ds = store.load(root)
    for machine, path in _targets(ds, [machine_id], report):
        outcomes, new = check_and_collect(machine, path, [("manual", price)], accept, dry_run)
        if new and not write_prices(path, machine, path.read_bytes(), new, dry_run, report):
            for o in outcomes:
                o.status = "failed"
        report.outcomes += outcomes
    return report
