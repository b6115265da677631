"""Load, validate and atomically write costperf's data files.

Every problem is reported as one line naming the file, the line where it can be found, the field
path and what was expected; nothing here prints tracebacks or changes a file while reading.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from collectors.atomic_write import (  # noqa: F401 - the store's writing half, re-exported
    TMP_PREFIX,
    RunNotSaved,
    cleanup_temporaries,
    dump_run,
    replace,
    write_new,
    write_run,
)
from collectors.problems import (  # noqa: F401 - Problem and the JSON conversion are re-exported
    Problem,
    _describe_input,
    _json_default,
    _line_of,
    _problems_from,
)
from collectors.records import KINDS, HardwareNames, Host, Machine, PublishedSet, Record, RunRecord
from collectors.safe_load import StrictSafeLoader as _StrictSafeLoader  # noqa: F401 - kept for importers
from collectors.safe_load import UnsafeInput, load_json, load_yaml, shorten, yaml_error_line, yaml_error_reason

FOLDERS = {"machines": "machine", "runs": "run", "published": "published", "hosts": "host"}
SUFFIXES = {"machine": (".yaml", ".yml"), "published": (".yaml", ".yml"), "run": (".json",), "host": (".yaml", ".yml"),
            "names": (".yaml",)}
NAMES_FILE = "hardware-names.yaml"
"""The table from published hardware names to machine ids, at the top of the data folder."""
FUTURE_SLACK = dt.timedelta(minutes=10)
EARLIEST = dt.date(1990, 1, 1)
"""No date in a data file is older than this: a year-1 date is a typo, and it would block the file."""
MAX_FILE_BYTES = {"machine": 256_000, "published": 512_000, "host": 256_000, "names": 256_000, "run": 5_000_000}
"""Largest data file of each kind that is read: about ten times the largest real one, and small
enough that checking any file takes about a second."""


@dataclass
class Loaded:
    path: Path
    kind: str
    record: Record


@dataclass
class DataSet:
    """Everything under a data folder that validated, plus every problem found."""

    root: Path
    machines: dict[str, Machine] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    published: list[PublishedSet] = field(default_factory=list)
    hosts: dict[str, Host] = field(default_factory=dict)
    names: HardwareNames | None = None
    files: list[Loaded] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def runs_for(self, machine_id: str) -> list[RunRecord]:
        return sorted((r for r in self.runs if r.machine == machine_id), key=lambda r: r.started_at)


class DataError(Exception):
    """Raised by `load_or_raise` with every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------------------------------------
# Loading one file


def _within(path: Path, root: Path) -> str:
    """`path` relative to the data folder's parent when it lies inside (messages name no local folder)."""
    try:
        return str(real(path).relative_to(real(root).parent))
    except ValueError:
        return path.name


def real(path: Path) -> Path:
    """The path with links followed as far as they go; a link loop is left as it is, never raised."""
    return Path(os.path.realpath(path))


def kind_of(path: Path) -> str | None:
    """machine / run / published / host, from the folder a file sits in (names: the names table)."""
    if path.name == NAMES_FILE:
        return "names"
    for parent in real(path).parents:
        if parent.name in FOLDERS:
            return FOLDERS[parent.name]
    return None


def read_file(path: Path, kind: str | None = None) -> tuple[Record | None, list[Problem]]:
    """Parse and validate one file; never raises for bad content."""
    kind = kind or kind_of(path)
    if kind is None:
        return None, [Problem(path, "", "not under a machines/, runs/, published/ or hosts/ folder: cannot tell its kind")]
    model = KINDS[kind]
    if path.suffix not in SUFFIXES[kind]:
        return None, [Problem(path, "", f"a {kind} file must end in {' or '.join(SUFFIXES[kind])}")]
    try:
        return _parse(path, model)
    except Exception as exc:  # noqa: BLE001 - one bad file is that file's problem, never everyone's
        return None, [Problem(path, "", f"could not be checked: internal error {type(exc).__name__} "
                                        f"({shorten(str(exc), 120)}); please report this file")]


def read_text_capped(path: Path, limit: int) -> str:
    """The file's text, refusing one over `limit` bytes before reading it all."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise UnsafeInput(f"the file is {size:,} bytes; a data file of this kind is at most {limit:,}")
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise UnsafeInput(f"the file is over {limit:,} bytes; a data file of this kind is at most that")
    return raw.decode("utf-8")


def _parse(path: Path, model: type[BaseModel]) -> tuple[Record | None, list[Problem]]:
    kind = next(k for k, m in KINDS.items() if m is model)
    try:
        text = read_text_capped(path, MAX_FILE_BYTES.get(kind, 1_000_000))
    except UnsafeInput as exc:
        return None, [Problem(path, "", exc.message)]
    except OSError as exc:
        return None, [Problem(path, "", f"cannot read: {exc.strerror or type(exc).__name__}")]
    except UnicodeDecodeError as exc:
        return None, [Problem(path, "", f"not UTF-8 text (byte {exc.start:,})")]
    return parse_text(path, model, text)


def parse_text(path: Path, model: type[BaseModel], text: str) -> tuple[Record | None, list[Problem]]:
    """Validate `text` as the content of the data file `path` (of kind `model`)."""
    node: yaml.Node | None = None
    try:
        if path.suffix == ".json":
            data = load_json(text)
        else:
            data, node = load_yaml(text)
    except UnsafeInput as exc:
        return None, [Problem(path, exc.field, f"refused: {exc.message}", exc.line)]
    except json.JSONDecodeError as exc:
        return None, [Problem(path, "", f"malformed JSON: {exc.msg}", exc.lineno)]
    except yaml.YAMLError as exc:
        return None, [Problem(path, "", f"malformed YAML: {yaml_error_reason(exc)}", yaml_error_line(exc))]
    if not isinstance(data, dict):
        return None, [Problem(path, "", f"expected a mapping at the top of the file; got {_describe_input(data)}")]
    try:
        payload = json.dumps(data, default=_json_default)
        record = model.model_validate_json(payload)
    except TypeError as exc:
        return None, [Problem(path, "", str(exc))]
    except ValidationError as exc:
        return None, _problems_from(path, model, exc, node)
    return record, []


# ---------------------------------------------------------------------------------------------
# Cross-file checks


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


def _future_problems(item: Loaded, now: dt.datetime) -> list[Problem]:
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


def _identity_problems(item: Loaded) -> list[Problem]:
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


def _cross_problems(ds: DataSet) -> list[Problem]:
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


# ---------------------------------------------------------------------------------------------
# Loading a data folder


def walk_data(root: Path) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """Every file under the data folders, and a problem for each folder that cannot be listed, each
    link that leads out of the data folder and each entry that is not a plain file. Temporary
    files of interrupted writes are skipped."""
    files: list[tuple[Path, str]] = []
    problems: list[Problem] = []
    inside = real(root)
    for folder, kind in FOLDERS.items():
        base = root / folder
        if not base.exists() and not base.is_symlink():
            continue
        if not base.is_dir():
            problems.append(Problem(base, "", "expected a folder of data files"))
            continue

        def unreadable(exc: OSError) -> None:
            problems.append(Problem(Path(exc.filename or base), "",
                                    f"cannot list this folder ({exc.strerror or type(exc).__name__}): "
                                    "its files were not checked"))

        for here, dirs, names in os.walk(base, onerror=unreadable):
            dirs.sort()
            for name in sorted(names) + sorted(dirs):
                path = Path(here) / name
                if name.startswith(TMP_PREFIX) or name == ".gitkeep":
                    continue
                try:
                    problem = _entry_problem(path, name in names, inside)
                except OSError as exc:
                    problem = f"cannot read ({exc.strerror or type(exc).__name__}): not checked"
                if problem:
                    problems.append(Problem(path, "", problem))
                elif name in names:
                    files.append((path, kind))
    return files, problems


def _entry_problem(path: Path, listed_as_file: bool, inside: Path) -> str | None:
    """Why a folder entry is not read as a data file (None: it is one, or a folder walked into)."""
    link = path.is_symlink()
    if not listed_as_file and not link:
        return None  # a plain folder: os.walk goes into it
    if not real(path).is_relative_to(inside):
        return "a link to a file outside the data folder: not read"
    if path.is_dir():
        return "a link to a folder: not followed"
    if not path.is_file():
        return "not a plain file (a device, pipe or broken link): not read"
    return None


def data_files(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Every data file under the data folders (see `walk_data`; its problems are left out)."""
    yield from walk_data(root)[0]


def load(root: Path | str = "data", extra: Iterable[Path] = (), now: dt.datetime | None = None) -> DataSet:
    """Load and validate a whole data folder (plus `extra` files outside it)."""
    root = Path(root)
    now = now or dt.datetime.now(dt.timezone.utc)
    ds = DataSet(root=root)
    if not root.is_dir():
        ds.problems.append(Problem(root, "", "data folder not found (pass --data PATH)"))
        return ds
    found, ds.problems = walk_data(root)
    candidates: list[tuple[Path, str | None]] = list(found)
    names = root / NAMES_FILE
    if names.exists() or names.is_symlink():
        problem = _entry_problem(names, True, real(root))
        if problem:
            ds.problems.append(Problem(names, "", problem))
        else:
            candidates.append((names, "names"))
    known = {real(p) for p, _ in candidates} | {real(p.path) for p in ds.problems}
    candidates += [(p, None) for p in extra if real(p) not in known]
    for path, kind in candidates:
        record, problems = read_file(path, kind)
        ds.problems += problems
        if record is None:
            continue
        item = Loaded(path, kind or kind_of(path) or "", record)
        ds.files.append(item)
        ds.problems += _identity_problems(item) + _future_problems(item, now)
        if isinstance(record, Machine):
            ds.machines.setdefault(record.id, record)
        elif isinstance(record, RunRecord):
            ds.runs.append(record)
        elif isinstance(record, PublishedSet):
            ds.published.append(record)
        elif isinstance(record, Host):
            ds.hosts.setdefault(record.id, record)
        elif isinstance(record, HardwareNames):
            ds.names = record
    from collectors.hardware_names import apply_names  # noqa: PLC0415 - it builds on this module

    for check in (_cross_problems, apply_names):
        try:
            ds.problems += check(ds)
        except Exception as exc:  # noqa: BLE001 - a check that fails is named; the files stay loaded
            ds.problems.append(Problem(root, "", f"could not be checked: internal error in {check.__name__}: "
                                                 f"{type(exc).__name__} ({shorten(str(exc), 120)})"))
    return ds


def check_new_file(root: Path | str, path: Path, text: str, kind: str,
                   now: dt.datetime | None = None) -> list[Problem]:
    """What `costperf validate` would say about `text` written at `path` in the data folder `root`:
    a file is only written once this is empty."""
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        record, problems = parse_text(path, KINDS[kind], text)
        if record is None:
            return problems
        ds = load(root, now=now)
        item = Loaded(path, kind, record)
        ds.files.append(item)
        if isinstance(record, RunRecord):
            ds.runs.append(record)
        elif isinstance(record, PublishedSet):
            ds.published.append(record)
        problems = _identity_problems(item) + _future_problems(item, now)
        problems += [p for p in _cross_problems(ds) if p.path == path]
        try:
            from collectors import physics  # noqa: PLC0415 - the physics checks validate runs too
        except ImportError:
            return problems
        problems += [Problem(path, f.field, f"beyond a physical limit: {f.message}") for f in physics.check(ds)
                     if f.path == path and f.severity == "violation"]
        return problems
    except Exception as exc:  # noqa: BLE001 - an unexpected failure refuses the write, with its reason
        return [Problem(path, "", f"could not be checked: internal error {type(exc).__name__} "
                                  f"({shorten(str(exc), 120)})")]


def load_or_raise(root: Path | str = "data") -> DataSet:
    ds = load(root)
    if ds.problems:
        raise DataError(ds.problems)
    return ds
