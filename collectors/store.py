"""Load, validate and atomically write costperf's data files.

Every problem is reported as one line naming the file, the line where it can be found, the field
path and what was expected; nothing here prints tracebacks or changes a file while reading.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

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
from collectors.data_checks import cross_problems, future_problems, identity_problems
from collectors.data_folder import (  # noqa: F401 - the folder layout, re-exported
    FOLDERS,
    NAMES_FILE,
    SUFFIXES,
    _entry_problem,
    _within,
    data_files,
    kind_of,
    real,
    walk_data,
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
# Loading a data folder


def _not_a_data_folder(root: Path) -> str | None:
    """Why a folder that holds other things but none of a data folder's is refused (`--data data/machines`
    or `--data /` would otherwise validate as an empty data folder: 'OK: 0 files')."""
    expected = [*FOLDERS, NAMES_FILE, "schema"]
    try:
        if any((root / name).exists() or (root / name).is_symlink() for name in expected):
            return None
        if next(root.iterdir(), None) is None:
            return None  # an empty folder is a new data folder
    except OSError as exc:
        return f"cannot list the data folder ({exc.strerror or type(exc).__name__})"
    return ("not a data folder: it holds none of machines/, runs/, published/, hosts/ or " + NAMES_FILE
            + " (pass --data the folder that holds them)")


def load(root: Path | str = "data", extra: Iterable[Path] = (), now: dt.datetime | None = None) -> DataSet:
    """Load and validate a whole data folder (plus `extra` files outside it)."""
    root = Path(root)
    now = now or dt.datetime.now(dt.timezone.utc)
    ds = DataSet(root=root)
    if not root.is_dir():
        ds.problems.append(Problem(root, "", "data folder not found (pass --data PATH)"))
        return ds
    stray = _not_a_data_folder(root)
    if stray:
        ds.problems.append(Problem(root, "", stray))
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
        ds.problems += identity_problems(item) + future_problems(item, now)
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

    for check in (cross_problems, apply_names):
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
        problems = identity_problems(item) + future_problems(item, now)
        problems += [p for p in cross_problems(ds) if p.path == path]
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
