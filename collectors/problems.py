"""Problems with data files, and the one-line messages made from pydantic's errors: the file, the
line where it can be found, the field path and what was expected."""

from __future__ import annotations

import datetime as dt
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from collectors.safe_load import shorten
from collectors.terminal import clean


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one data file."""

    path: Path
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        return self.shown()

    def shown(self, base: Path | None = None) -> str:
        """One line; with `base`, the path relative to it (a published page names no local folder)."""
        path = self.path
        if base is not None:
            try:
                path = Path(os.path.relpath(self.path.absolute(), Path(base).absolute()))
            except ValueError:
                path = Path(self.path.name)  # another drive: the name alone
            if path.parts[:1] == ("..",):
                path = Path(self.path.name)
        where = f"{path}:{self.line}" if self.line else str(path)
        line = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        # Control characters (a file name may hold an escape sequence) and the lone surrogates of a name
        # that is not UTF-8 show as escapes, on a page as in a terminal.
        return clean(line)


# ---------------------------------------------------------------------------------------------
# Line numbers for error messages


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
        return f"still a TODO placeholder ({shorten(value)}): replace it with {expected}"
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent else "see data/schema/"
        return f"unknown field; expected one of: {allowed}"
    if kind == "missing":
        return "required field is missing"
    if kind == "value_error":
        return expected
    return f"expected {expected}; got {_describe_input(value)}"


MAX_PROBLEMS_PER_FILE = 20
"""A file with more problems than this lists these, then their count: one broken file must not bury
the others' problems (or take minutes to locate a line for each of 60,000 errors)."""


def _problems_from(path: Path, model: type[BaseModel], err: ValidationError, node: yaml.Node | None) -> list[Problem]:
    out = []
    errors = err.errors()
    for e in errors[:MAX_PROBLEMS_PER_FILE]:
        loc = tuple(e["loc"])
        # A check across fields reports at its model's location; at the top that is the whole file.
        name = ".".join(str(p) for p in loc) or "(file)"
        name = name if len(name) <= 120 else name[:119] + "…"
        out.append(Problem(path, name, _message(model, e), _line_of(node, loc)))
    out.sort(key=lambda p: p.line or 0)
    if len(errors) > MAX_PROBLEMS_PER_FILE:
        out.append(Problem(path, "", f"… and {len(errors) - MAX_PROBLEMS_PER_FILE:,} more problems in this file "
                                     "(fix these first)"))
    return out
