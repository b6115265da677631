"""Parse untrusted YAML and JSON text into plain data, with every limit checked before an object is built.

Data files, llama-bench output and price-source answers come from other people. What they may hold
is bounded here, so that one bad file is one clear error (with its line) and never a traceback,
a hang or gigabytes of memory:

- YAML: no anchors, aliases or tags other than the standard scalar ones (nested aliases expand
  exponentially; a data file needs none of them),
  no complex keys (`? [a, b]`), one document only;
- both: nesting at most `MAX_DEPTH` deep, a text value at most `MAX_TEXT` characters, a number at
  most `MAX_NUMBER_CHARS` characters and finite within ±`MAX_ABS`, duplicate keys refused (the
  parsers would silently keep the last one).

YAML is checked on the parser's event stream, which is flat and holds no built objects; only text
that passed is composed and constructed.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

MAX_DEPTH = 32
"""Deepest nesting of lists and mappings; the deepest data file needs 6."""
MAX_TEXT = 100_000
"""Longest text value, in characters (a run's notes are a few hundred)."""
MAX_NUMBER_CHARS = 40
"""Longest number as written; a double needs 24 characters, a 64-bit integer 20."""
MAX_ABS = 1e18
"""Largest magnitude of any number in a data file (nanoseconds of a year-long run: 3e16), far from
where sums and squares in the statistics overflow (1e154)."""


class UnsafeInput(ValueError):
    """Text that is refused before it is built; `line` is 1-based where known."""

    def __init__(self, message: str, line: int | None = None, field: str = ""):
        self.message, self.line, self.field = message, line, field
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{field}: {message}" if field else f"{where}{message}")


# ---------------------------------------------------------------------------------------------
# YAML


class StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML would silently keep the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {shorten(key)} (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


StrictSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_NUMERIC_TAGS = {"tag:yaml.org,2002:int": "an integer", "tag:yaml.org,2002:float": "a number"}
_CHECKED_TAGS = {**_NUMERIC_TAGS, "tag:yaml.org,2002:timestamp": "a date or time",
                 "tag:yaml.org,2002:bool": "a boolean"}
_PLAIN_TAGS = {*_CHECKED_TAGS, "tag:yaml.org,2002:str", "tag:yaml.org,2002:null"}
"""The standard scalar tags, which build nothing but what plain YAML builds (our own writer may emit them)."""


def shorten(value: Any, limit: int = 60) -> str:
    """repr of a value, cut to `limit` characters: an error names the value, never a whole file."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_plain_scalar(loader: yaml.SafeLoader, event: yaml.ScalarEvent, tag: str | None = None) -> None:
    line = event.start_mark.line + 1
    tag = tag or loader.resolve(yaml.ScalarNode, event.value, (True, False))
    if tag not in _CHECKED_TAGS:
        return
    if tag in _NUMERIC_TAGS and len(event.value) > MAX_NUMBER_CHARS:
        raise UnsafeInput(f"a number of {len(event.value):,} characters (at most {MAX_NUMBER_CHARS})", line)
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
    try:
        value = loader.construct_object(node)
    except (ValueError, OverflowError, yaml.YAMLError) as exc:
        raise UnsafeInput(f"{shorten(event.value)} is not {_CHECKED_TAGS[tag]} ({exc})", line) from None
    if tag in _NUMERIC_TAGS:
        check_number(value, line)


def check_number(value: int | float, line: int | None = None) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise UnsafeInput(f"{value} is not a finite number", line)
    if abs(value) > MAX_ABS:
        raise UnsafeInput(f"{shorten(value)} is beyond ±{MAX_ABS:g}, out of range for any field", line)


def check_yaml_events(text: str) -> None:
    """Walk the parser's events and refuse anything a data file need not hold, before building it."""
    loader = StrictSafeLoader(text)
    # Per open collection: [is a mapping, expects a key next, current key or index].
    stack: list[list[Any]] = []
    documents = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            line = event.start_mark.line + 1 if event.start_mark else None
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise UnsafeInput("more than one YAML document ('---'): a data file is one document", line)
            if isinstance(event, yaml.AliasEvent):
                raise UnsafeInput(f"an alias (*{shorten(event.anchor, 40)}): data files may not use anchors "
                                  "or aliases; write the value out", line)
            if not isinstance(event, yaml.NodeEvent):
                if isinstance(event, yaml.CollectionEndEvent):
                    stack.pop()
                continue
            if event.anchor is not None:
                raise UnsafeInput(f"an anchor (&{shorten(event.anchor, 40)}): data files may not use anchors "
                                  "or aliases; write the value out", line)
            tag = getattr(event, "tag", None)
            scalar_tag = isinstance(event, yaml.ScalarEvent) and tag in _PLAIN_TAGS
            if tag not in (None, "!") and not scalar_tag:
                raise UnsafeInput(f"a tag ({shorten(tag, 40)}): only plain YAML is allowed "
                                  "(no !!python, !!binary or other tags)", line)
            is_key = bool(stack) and stack[-1][0] and stack[-1][1]
            if stack and stack[-1][0]:
                stack[-1][1] = not stack[-1][1]
                if is_key and isinstance(event, yaml.ScalarEvent):
                    stack[-1][2] = event.value[:80]
            elif stack:
                stack[-1][2] += 1
            field = ".".join(str(e[2]) for e in stack) if not is_key else ""
            if isinstance(event, yaml.CollectionStartEvent):
                if is_key:
                    raise UnsafeInput("a complex key (a list or mapping used as a key, '? [a, b]'): "
                                      "keys must be plain names", line)
                mapping = isinstance(event, yaml.MappingStartEvent)
                stack.append([mapping, True, "" if mapping else -1])
                if len(stack) > MAX_DEPTH:
                    raise UnsafeInput(f"nested more than {MAX_DEPTH} levels deep", line)
            elif isinstance(event, yaml.ScalarEvent):
                if len(event.value) > MAX_TEXT:
                    raise UnsafeInput(f"a value of {len(event.value):,} characters (at most {MAX_TEXT:,})", line)
                if (event.implicit[0] and event.style is None) or scalar_tag:
                    try:
                        _check_plain_scalar(loader, event, tag if scalar_tag else None)
                    except UnsafeInput as exc:
                        raise UnsafeInput(exc.message, exc.line, field) from None
    finally:
        loader.dispose()


def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """(data, root node) of one YAML document, after `check_yaml_events`.

    Raises UnsafeInput, or yaml.YAMLError for malformed YAML (with its mark).
    """
    check_yaml_events(text)
    loader = StrictSafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


def yaml_error_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark else None


def yaml_error_reason(exc: yaml.YAMLError) -> str:
    """The parser's reason, without the snippet of the file it would print (never echo a file)."""
    reason = getattr(exc, "problem", None) or getattr(exc, "context", None) or type(exc).__name__
    return str(reason)[:200]


# ---------------------------------------------------------------------------------------------
# JSON


def _line_of(text: str, pattern: str) -> int | None:
    m = re.search(pattern, text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def load_json(text: str) -> Any:
    """JSON with the same limits as YAML. Raises UnsafeInput or json.JSONDecodeError."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise UnsafeInput(f"duplicate key {shorten(key)} (JSON would keep only the last one)",
                                  _dup_line(text, key))
            if len(key) > MAX_TEXT:
                raise UnsafeInput(f"a key of {len(key):,} characters")
            out[key] = value
        return out

    def number(literal: str, kind: type) -> int | float:
        if len(literal) > MAX_NUMBER_CHARS:
            raise UnsafeInput(f"a number of {len(literal):,} characters (at most {MAX_NUMBER_CHARS})",
                              _line_of(text, re.escape(literal[:MAX_NUMBER_CHARS])))
        value = kind(literal)
        try:
            check_number(value)
        except UnsafeInput as exc:
            raise UnsafeInput(exc.message, _line_of(text, re.escape(literal) + r"(?![\d.eE])")) from None
        return value

    def constant(name: str) -> Any:
        raise UnsafeInput(f"{name} is not a finite number", _line_of(text, re.escape(name)))

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_int=lambda s: number(s, int),
                          parse_float=lambda s: number(s, float), parse_constant=constant)
    except RecursionError:
        raise UnsafeInput(f"nested more than {MAX_DEPTH} levels deep") from None
    _check_tree(data)
    return data


def _dup_line(text: str, key: str) -> int | None:
    quoted = re.escape(json.dumps(key)) + r"\s*:"
    hits = [m.start() for m in re.finditer(quoted, text)]
    return text.count("\n", 0, hits[1]) + 1 if len(hits) > 1 else None


def _check_tree(data: Any) -> None:
    """Depth and text length of parsed JSON, walked without recursion."""
    todo: list[tuple[Any, int]] = [(data, 0)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise UnsafeInput(f"nested more than {MAX_DEPTH} levels deep")
            items = value.values() if isinstance(value, dict) else value
            todo.extend((v, depth + 1) for v in items)
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            raise UnsafeInput(f"a value of {len(value):,} characters (at most {MAX_TEXT:,})")
