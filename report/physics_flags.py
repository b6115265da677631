"""The physics checks of `costperf validate` (`collectors.physics`), keyed to the report's rows and
printed beside the figures they concern (flagged rows are shown, never dropped)."""

from __future__ import annotations

from typing import Any

from collectors import physics, store

Flags = dict[tuple[str, int | None], list[Any]]
"""Findings keyed (record, index): a run (machine/stamp) or a published set's id, and the result's index
(None for a machine file itself)."""


def physics_flags(ds: store.DataSet) -> Flags:
    """The physics checks of `costperf validate`, keyed (record, index) to mark the report's rows."""
    return physics.flags_by_record(physics.check(ds))


def flag_text(flags: Flags, record: str, index: int | None) -> str | None:
    """The findings on one record's row, as one line (None when there are none)."""
    found = flags.get((record, index), [])
    return "; ".join(f"{f.severity}: {f.message}" for f in found) or None
