"""Load, validate and atomically write costperf's data files.

Every problem is reported as one line naming the file, the line where it can be found, the field
path and what was expected; nothing here prints tracebacks or changes a file while reading.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import tempfile
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from collectors.records import KINDS, Host, Machine, PublishedSet, Record, RunRecord, run_stamp

TMP_PREFIX = ".costperf-tmp-"
FOLDERS = {"machines": "machine", "runs": "run", "published": "published", "hosts": "host"}
SUFFIXES = {"machine": (".yaml", ".yml"), "published": (".yaml", ".yml"), "run": (".json",), "host": (".yaml", ".yml")}
FUTURE_SLACK = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one data file."""

    path: Path
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


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
# YAML: safe loading only, duplicate keys rejected, line numbers kept for error messages


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at a pydantic error location (the nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if pair is None:
                return line
            node, line = pair[1], pair[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} value cannot appear in a data file")


# ---------------------------------------------------------------------------------------------
# Error messages


def _describe_input(value: Any) -> str:
    if isinstance(value, str):
        return f"text {value[:60]!r}"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    if value is None:
        return "nothing (null)"
    return repr(value)


def _unwrap(annotation: Any) -> list[Any]:
    """Candidate types inside Optional/list/Annotated/Union."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, dict):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out += _unwrap(arg)
        return out
    return [annotation]


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        candidates = [t for t in _unwrap(info.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
        current = candidates[0] if candidates else None
    return current


def _message(model: type[BaseModel], error: Any) -> str:
    kind, value, loc = error["type"], error.get("input"), tuple(error["loc"])
    expected = error["msg"].removeprefix("Value error, ").removeprefix("Input should be ").removeprefix("expected ")
    if isinstance(value, str) and value.strip().upper().startswith("TODO") and kind != "extra_forbidden":
        if "TODO placeholder" in expected:
            return expected
        return f"still a TODO placeholder ({value!r}): replace it with {expected}"
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent else "see data/schema/"
        return f"unknown field; expected one of: {allowed}"
    if kind == "missing":
        return "required field is missing"
    if kind == "value_error":
        return expected
    return f"expected {expected}; got {_describe_input(value)}"


def _problems_from(path: Path, model: type[BaseModel], err: ValidationError, node: yaml.Node | None) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = tuple(e["loc"])
        # A check across fields reports at its model's location; at the top that is the whole file.
        name = ".".join(str(p) for p in loc) or "(file)"
        out.append(Problem(path, name, _message(model, e), _line_of(node, loc)))
    return sorted(out, key=lambda p: p.line or 0)


# ---------------------------------------------------------------------------------------------
# Loading one file


def kind_of(path: Path) -> str | None:
    """machine / run / published / host, from the folder a file sits in."""
    for parent in path.resolve().parents:
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
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(path, "", f"cannot read: {exc}")]

    node: yaml.Node | None = None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, [Problem(path, "", f"malformed JSON: {exc.msg}", exc.lineno)]
    else:
        try:
            node = yaml.compose(text, Loader=_StrictSafeLoader)
            data = yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            reason = getattr(exc, "problem", None) or str(exc)
            if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in str(reason):
                reason = f"{reason}: only plain YAML is allowed (no !!python or other tags)"
            return None, [Problem(path, "", f"malformed YAML: {reason}", mark.line + 1 if mark else None)]
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
    return out


def _identity_problems(item: Loaded) -> list[Problem]:
    rec, path = item.record, item.path
    if isinstance(rec, (Machine, PublishedSet)) and rec.id != path.stem:
        return [Problem(path, "id", f"id {rec.id!r} must equal the file name {path.stem!r}")]
    if isinstance(rec, RunRecord):
        out = []
        if path.parent.name != rec.machine:
            out.append(Problem(path, "machine", f"run of {rec.machine!r} must sit in runs/{rec.machine}/"))
        if path.stem != rec.stamp:
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
            key = ("run", f"{rec.machine}/{rec.stamp}")
        if key is not None:
            if key in seen:
                out.append(Problem(item.path, "id", f"duplicate id {key[1]!r}: also used by {seen[key]}"))
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


def data_files(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Every file under the data folders (temporary files of interrupted writes skipped)."""
    for folder, kind in FOLDERS.items():
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(TMP_PREFIX) and path.name != ".gitkeep":
                yield path, kind


def load(root: Path | str = "data", extra: Iterable[Path] = (), now: dt.datetime | None = None) -> DataSet:
    """Load and validate a whole data folder (plus `extra` files outside it)."""
    root = Path(root)
    now = now or dt.datetime.now(dt.timezone.utc)
    ds = DataSet(root=root)
    if not root.is_dir():
        ds.problems.append(Problem(root, "", "data folder not found (pass --data PATH)"))
        return ds
    candidates = list(data_files(root))
    known = {p.resolve() for p, _ in candidates}
    candidates += [(p, None) for p in extra if p.resolve() not in known]
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
    ds.problems += _cross_problems(ds)
    return ds


def load_or_raise(root: Path | str = "data") -> DataSet:
    ds = load(root)
    if ds.problems:
        raise DataError(ds.problems)
    return ds


# ---------------------------------------------------------------------------------------------
# Atomic writes


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform can open a directory; the rename is still atomic
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, text: str) -> Path:
    """Create `path` with `text`, all or nothing; refuse to overwrite an existing file.

    The content is written and fsynced under no name (Linux O_TMPFILE) or a temporary name in the
    same folder, then hard-linked to its name, which fails if the name exists. A crash or kill at
    any point leaves the complete file or nothing under that name; on Linux not even a temporary.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise FileExistsError(f"{path} exists; data files are never overwritten")
    data = text.encode("utf-8")
    if hasattr(os, "O_TMPFILE") and Path("/proc/self/fd").is_dir():
        try:
            fd = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY, 0o644)
        except OSError:
            fd = -1  # file system without O_TMPFILE support: fall back to a named temporary
        if fd >= 0:
            try:
                _write_all(fd, data)
                os.link(f"/proc/self/fd/{fd}", path, follow_symlinks=True)
                linked = True
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise FileExistsError(f"{path} exists; data files are never overwritten") from None
                linked = False  # some kernels (sandboxes) refuse linking /proc fds: use a named temporary
            finally:
                os.close(fd)
            if linked:
                _fsync_dir(path.parent)
                return path
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)
        os.link(tmp, path)
    finally:
        os.unlink(tmp)
    _fsync_dir(path.parent)
    return path


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def replace(path: Path, text: str) -> Path:
    """Replace the content of `path` atomically (machine files, whose price history only grows)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        try:
            _write_all(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def dump_run(run: RunRecord) -> str:
    return run.model_dump_json(indent=2, exclude_none=False) + "\n"


def write_run(root: Path | str, run: RunRecord) -> Path:
    """Write a run record to data/runs/<machine>/<stamp>.json; never overwrites."""
    return write_new(Path(root) / "runs" / run.machine / f"{run_stamp(run.started_at)}.json", dump_run(run))


def cleanup_temporaries(root: Path | str) -> list[Path]:
    """Remove leftovers of writes killed before they finished (they never carry a data file's name)."""
    removed = []
    for folder in FOLDERS:
        for tmp in (Path(root) / folder).rglob(f"{TMP_PREFIX}*"):
            tmp.unlink()
            removed.append(tmp)
    return removed
