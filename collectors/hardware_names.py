"""One name per machine: data/hardware-names.yaml applied to the published figures.

Publications name the same hardware many ways ("NVIDIA A100", "A100 80GB", "A100 PCIe 80GB"). The
table maps each published name to the one machine id it is, so every published row lands on one
machine and the report shows that machine's name and vendor. `store.load` calls `apply_names`:
it checks the table against the machine files and sets `machine` on each published row (and claim)
that has none. A row that names its machine itself must agree with the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collectors.records import HardwareNames, PublishedSet
from collectors.safe_load import load_yaml
from collectors.store import NAMES_FILE, DataSet, Problem, _line_of, kind_of


@dataclass(frozen=True)
class Unmapped:
    """A published row whose hardware name the table does not list."""

    path: Path
    index: int
    hardware: str

    def __str__(self) -> str:
        return (f"{self.path}: results.{self.index}: hardware {self.hardware!r} maps to no machine: add it to "
                f"{NAMES_FILE} (under its vendor, or under not_a_machine with the reason)")


def _names_path(ds: DataSet) -> Path:
    found = next((f.path for f in ds.files if f.kind == "names"), None)
    return found or ds.root / NAMES_FILE


def _published(ds: DataSet) -> list[tuple[Path, PublishedSet]]:
    return [(f.path, f.record) for f in ds.files if isinstance(f.record, PublishedSet)]


def _table_problems(ds: DataSet, names: HardwareNames, path: Path) -> list[Problem]:
    """Every id the table names is a machine file of the section's vendor."""
    try:
        node = load_yaml(path.read_text(encoding="utf-8"))[1]
    except Exception:  # noqa: BLE001 - the file parsed a moment ago; lines are a courtesy
        node = None
    failed = {p.path.stem for p in ds.problems if kind_of(p.path) == "machine"}
    out = []
    for section in HardwareNames.SECTIONS:
        vendors = HardwareNames.VENDORS[section]
        for name, machine_id in getattr(names, section).items():
            where, line = f"{section}.{name}", _line_of(node, (section, name))
            machine = ds.machines.get(machine_id)
            if machine is None and machine_id not in failed:
                out.append(Problem(path, where, f"names unknown machine {machine_id!r}; expected the id of a file "
                                   "in data/machines/", line))
            elif machine is not None and machine.vendor not in vendors:
                out.append(Problem(path, where, f"machine {machine_id!r} has vendor {machine.vendor!r}; a name "
                                   f"under `{section}` must be a machine of vendor {' or '.join(vendors)}", line))
    return out


def apply_names(ds: DataSet) -> list[Problem]:
    """Check the table and set `machine` on published rows and claims from it; the problems found."""
    names = ds.names
    if names is None:
        return []
    problems = _table_problems(ds, names, _names_path(ds))
    for path, ps in _published(ds):
        rows = [(f"results.{i}", r) for i, r in enumerate(ps.results)]
        rows += [(f"claims.{i}", c) for i, c in enumerate(ps.claims) if c.hardware]
        for where, row in rows:
            assert row.hardware is not None
            mapped = names.machine_for(row.hardware)
            if row.machine is None:
                row.machine = mapped
            elif row.hardware in names.not_a_machine:
                problems.append(Problem(path, f"{where}.machine", f"names machine {row.machine!r}, but {NAMES_FILE} "
                                        f"lists {row.hardware!r} as not a machine"))
            elif mapped is not None and mapped != row.machine:
                problems.append(Problem(path, f"{where}.machine", f"names machine {row.machine!r}, but {NAMES_FILE} "
                                        f"maps {row.hardware!r} to {mapped!r}: one name is one machine"))
    return problems


def unmapped_rows(ds: DataSet) -> list[Unmapped]:
    """Published result rows whose hardware name the table lists nowhere (every row must be listed)."""
    names = ds.names or HardwareNames()
    return [Unmapped(path, i, r.hardware) for path, ps in _published(ds)
            for i, r in enumerate(ps.results) if not names.knows(r.hardware)]
