"""Checks of loaded data files beyond their schema: no date in the future or before 1990, an id equal
to its file name (a run in its machine's folder, named by its start stamp), no duplicate id, and
every machine or host a file names present in the data folder."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from collectors.data_folder import _within, kind_of
from collectors.problems import Problem
from collectors.records import Host, Machine, PublishedSet, RunRecord

if TYPE_CHECKING:
    from collectors.store import DataSet, Loaded

FUTURE_SLACK = dt.timedelta(minutes=10)
EARLIEST = dt.date(1990, 1, 1)
"""No date in a data file is older than this: a year-1 date is a typo, and it would block the file."""


def _dates_in(value: Any, loc: tuple[str, ...] = ()) -> Iterator[tuple[str, dt.date]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _dates_in(getattr(value, name), (*loc, name))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _dates_in(item, (*loc, str(i)))
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _dates_in(item, (*loc, str(k)))
    elif isinstance(value, (dt.date, dt.datetime)):
        yield ".".join(loc), value



def future_problems(item: Loaded, now: dt.datetime) -> list[Problem]:
    out = []
    for where, value in _dates_in(item.record):
        if isinstance(value, dt.datetime):
            late = value > now + FUTURE_SLACK
        else:
            late = value > now.date()
        if late:
            out.append(Problem(item.path, where, f"date {value.isoformat()} is in the future (today is {now.date()})"))
        elif (value.date() if isinstance(value, dt.datetime) else value) < EARLIEST:
            out.append(Problem(item.path, where, f"date {value.isoformat()} is before {EARLIEST.year}: "
                                                 "a typo for a recent date?"))
    return out



def identity_problems(item: Loaded) -> list[Problem]:
    rec, path = item.record, item.path
    if isinstance(rec, (Machine, PublishedSet)) and rec.id != path.stem:
        return [Problem(path, "id", f"id {rec.id!r} must equal the file name {path.stem!r}")]
    if isinstance(rec, RunRecord):
        out = []
        if path.parent.name != rec.machine:
            out.append(Problem(path, "machine", f"run of {rec.machine!r} must sit in runs/{rec.machine}/"))
        # A second run started in the same second takes <stamp>-2.json (store.write_run).
        if not re.fullmatch(re.escape(rec.stamp) + r"(-[1-9][0-9]?[0-9]?)?", path.stem):
            out.append(Problem(path, "started_at", f"file name must be the start stamp {rec.stamp}.json"))
        return out
    return []



def cross_problems(ds: DataSet) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[tuple[str, str], Path] = {}
    for item in ds.files:
        rec = item.record
        key = None
        if isinstance(rec, (Machine, PublishedSet, Host)):
            key = (item.kind, rec.id)
        elif isinstance(rec, RunRecord):
            key = ("run", f"{rec.machine}/{item.path.stem}")  # <stamp>-2: a second run of that second
        if key is not None:
            if key in seen:
                out.append(Problem(item.path, "id", f"duplicate id {key[1]!r}: also used by "
                                                     f"{_within(seen[key], ds.root)}"))
            else:
                seen[key] = item.path
    machines = set(ds.machines)
    # A machine file that failed to validate still exists: naming it is not a second problem.
    present = machines | {p.path.stem for p in ds.problems if kind_of(p.path) == "machine"}
    hosts = set(ds.hosts) | {p.path.stem for p in ds.problems if kind_of(p.path) == "host"}
    for item in ds.files:
        rec = item.record
        if isinstance(rec, RunRecord) and rec.machine not in present:
            out.append(Problem(item.path, "machine", f"names unknown machine {rec.machine!r}; "
                               f"add data/machines/{rec.machine}.yaml (known: {', '.join(sorted(machines))})"))
        if isinstance(rec, Machine) and rec.host is not None and rec.host not in hosts:
            out.append(Problem(item.path, "host", f"names unknown host {rec.host!r}; add data/hosts/{rec.host}.yaml "
                               f"(known: {', '.join(sorted(hosts)) or 'none'})"))
        if isinstance(rec, PublishedSet):
            for i, row in enumerate(rec.results):
                if row.machine is not None and row.machine not in present:
                    out.append(Problem(item.path, f"results.{i}.machine", f"names unknown machine {row.machine!r}"))
    return out
