"""Parse untrusted YAML and JSON text into plain data, with every limit checked before an object is built.

Data files, llama-bench output and price-source answers come from other people. What they may hold
is bounded here, so that one bad file is one clear error (with its line) and never a traceback,
a hang or gigabytes of memory:

- YAML: no anchors, aliases or tags other than the standard scalar ones (nested aliases expand
  exponentially; a data file needs none of them),
  no complex keys (`? [a, b]`), one document only;
- both: at most `MAX_NODES` values (YAML), nesting at most `MAX_DEPTH` deep, a text value at most
  `MAX_TEXT` characters, a number at
  most `MAX_NUMBER_CHARS` characters and finite within ±`MAX_ABS`, duplicate keys refused (the
  parsers would silently keep the last one);
- no text with a lone surrogate (not Unicode; JSON's `\\ud800` escape), and in YAML no control
  character but tab and newline, nor a bidirectional override (a name that prints differently
  from what it holds; YAML's `\\e` or `\\u202e` escapes). Run files, which costperf writes, keep
  controls an error message held: pages and the terminal show them escaped.

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
MAX_NODES = 30_000
"""Most values (scalars, lists, mappings) in one YAML file; the largest data file holds about 3,000."""
MAX_TEXT = 100_000
"""Longest text value, in characters (a run's notes are a few hundred)."""
MAX_NUMBER_CHARS = 40
"""Longest number as written; a double needs 24 characters, a 64-bit integer 20."""
MAX_ABS = 1e18
"""Largest magnitude of any number in a data file (nanoseconds of a year-long run: 3e16), far from
where sums and squares in the statistics overflow (1e154)."""


_SURROGATE = re.compile("[\ud800-\udfff]")
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""Controls but tab and newline; bidirectional overrides and isolates; lone surrogates."""


def _hidden_problem(value: str, pattern: re.Pattern[str] = _HIDDEN) -> str | None:
    m = pattern.search(value)
    if m is None:
        return None
    return (f"text holding the character U+{ord(m.group()):04X} at position {m.start() + 1} (a control "
            "character, bidirectional override or lone surrogate): write plain text")


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

if getattr(yaml, "__with_libyaml__", False):
    class CStrictSafeLoader(yaml.CSafeLoader):  # type: ignore[name-defined,misc]
        """The same over libyaml's parser: five times faster, so a 1 MB file is checked in seconds."""

    CStrictSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _Loader: type = CStrictSafeLoader
else:
    _Loader = StrictSafeLoader

_NUMERIC_TAGS = {"tag:yaml.org,2002:int": "an integer", "tag:yaml.org,2002:float": "a number"}
_CHECKED_TAGS = {**_NUMERIC_TAGS, "tag:yaml.org,2002:timestamp": "a date or time",
                 "tag:yaml.org,2002:bool": "a boolean"}
_PLAIN_TAGS = {*_CHECKED_TAGS, "tag:yaml.org,2002:str", "tag:yaml.org,2002:null"}
"""The standard scalar tags, which build nothing but what plain YAML builds (our own writer may emit them)."""


def shorten(value: Any, limit: int = 60) -> str:
    """repr of a value, cut to `limit` characters: an error names the value, never a whole file."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SHORT_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,14})")
"""A decimal integer of at most 15 digits: always within MAX_ABS, so it need not be built to be checked."""
_KEY_KINDS = {**_CHECKED_TAGS, "tag:yaml.org,2002:null": "nothing (null)"}
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9]+(?:[eE][-+]?[0-9]+)?")
"""A number as a reader means it. YAML 1.1 also reads 1:20:30 as 4830, 012 as 10, 0x10 as 16 and 1_000
as 1000: a power of '1:20:30' W would pass as 4,830 W."""
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"


def _check_plain_scalar(loader: yaml.SafeLoader, event: yaml.ScalarEvent, tag: str | None = None) -> None:
    value = event.value
    tag = tag or loader.resolve(yaml.ScalarNode, value, (True, False))
    if tag not in _CHECKED_TAGS or tag == _BOOL_TAG or (tag == _INT_TAG and _SHORT_INT.fullmatch(value)):
        return
    line = event.start_mark.line + 1
    if tag in _NUMERIC_TAGS and len(value) > MAX_NUMBER_CHARS:
        raise UnsafeInput(f"a number of {len(value):,} characters (at most {MAX_NUMBER_CHARS})", line)
    node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark)
    try:
        built = loader.construct_object(node)
    except (ValueError, OverflowError, yaml.YAMLError) as exc:
        raise UnsafeInput(f"{shorten(value)} is not {_CHECKED_TAGS[tag]} ({exc})", line) from None
    if tag in _NUMERIC_TAGS:
        check_number(built, line)
        if not _DECIMAL.fullmatch(value):
            raise UnsafeInput(f"{shorten(value)} reads as the number {shorten(built)} in YAML 1.1 (hex, octal, "
                              "binary, base 60 or digits with _): write the number in decimal, or quote it "
                              "if it is text", line)


def check_number(value: int | float, line: int | None = None) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise UnsafeInput(f"{value} is not a finite number", line)
    if abs(value) > MAX_ABS:
        raise UnsafeInput(f"{shorten(value)} is beyond ±{MAX_ABS:g}, out of range for any field", line)


def check_yaml_events(text: str) -> None:
    """Walk the parser's events and refuse anything a data file need not hold, before building it."""
    loader = _Loader(text)
    # Per open collection: [is a mapping, expects a key next, current key or index].
    stack: list[list[Any]] = []
    documents = nodes = 0

    def where() -> str:
        return ".".join(str(e[2]) for e in stack)

    try:
        while loader.check_event():
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent or kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                if event.anchor is not None:
                    raise UnsafeInput(f"an anchor (&{shorten(event.anchor, 40)}): data files may not use anchors "
                                      "or aliases; write the value out", event.start_mark.line + 1)
                nodes += 1
                if nodes > MAX_NODES:
                    raise UnsafeInput(f"more than {MAX_NODES:,} values: no data file needs that many",
                                      event.start_mark.line + 1)
                tag = event.tag
                scalar_tag = kind is yaml.ScalarEvent and tag in _PLAIN_TAGS
                if tag is not None and tag != "!" and not scalar_tag:
                    raise UnsafeInput(f"a tag ({shorten(tag, 40)}): only plain YAML is allowed "
                                      "(no !!python, !!binary or other tags)", event.start_mark.line + 1)
                is_key = False
                if stack:
                    top = stack[-1]
                    if top[0]:
                        is_key = top[1]
                        top[1] = not is_key
                        if is_key and kind is yaml.ScalarEvent:
                            top[2] = event.value[:80]
                    else:
                        top[2] += 1
                if kind is yaml.ScalarEvent:
                    value = event.value
                    if len(value) > MAX_TEXT:
                        raise UnsafeInput(f"a value of {len(value):,} characters (at most {MAX_TEXT:,})",
                                          event.start_mark.line + 1)
                    hidden = _hidden_problem(value)
                    if hidden:
                        raise UnsafeInput(hidden, event.start_mark.line + 1, "" if is_key else where())
                    if is_key and event.implicit[0] and not event.style:
                        key_tag = loader.resolve(yaml.ScalarNode, value, (True, False))
                        if key_tag != "tag:yaml.org,2002:str":
                            # `1_000:` would become the name '1000', `true:` 'true', `~:` 'None'.
                            raise UnsafeInput(f"a key YAML reads as {_KEY_KINDS.get(key_tag, 'a non-text value')} "
                                              f"({shorten(value)}): expected a name; quote it to keep it as "
                                              "written", event.start_mark.line + 1)
                    if (event.implicit[0] and not event.style) or scalar_tag:  # plain: None, or '' from libyaml
                        try:
                            _check_plain_scalar(loader, event, tag if scalar_tag else None)
                        except UnsafeInput as exc:
                            raise UnsafeInput(exc.message, exc.line, "" if is_key else where()) from None
                else:
                    if is_key:
                        raise UnsafeInput("a complex key (a list or mapping used as a key, '? [a, b]'): "
                                          "keys must be plain names", event.start_mark.line + 1)
                    mapping = kind is yaml.MappingStartEvent
                    stack.append([mapping, True, "" if mapping else -1])
                    if len(stack) > MAX_DEPTH:
                        raise UnsafeInput(f"nested more than {MAX_DEPTH} levels deep", event.start_mark.line + 1)
            elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                stack.pop()
            elif kind is yaml.AliasEvent:
                raise UnsafeInput(f"an alias (*{shorten(event.anchor, 40)}): data files may not use anchors "
                                  "or aliases; write the value out", event.start_mark.line + 1)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise UnsafeInput("more than one YAML document ('---'): a data file is one document",
                                      event.start_mark.line + 1)
    except yaml.YAMLError as exc:
        if "nesting depth" in str(getattr(exc, "problem", "")):  # libyaml's own limit, met before ours
            raise UnsafeInput(f"nested more than {MAX_DEPTH} levels deep", yaml_error_line(exc)) from None
        raise
    finally:
        loader.dispose()


def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """(data, root node) of one YAML document, after `check_yaml_events`.

    Raises UnsafeInput, or yaml.YAMLError for malformed YAML (with its mark).
    """
    check_yaml_events(text)
    loader = _Loader(text)
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
            hidden = _hidden_problem(key, _SURROGATE)
            if hidden:
                raise UnsafeInput(f"a key: {hidden}")
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise UnsafeInput(f"{name} is not a finite number", _line_of(text, re.escape(name)))

    long_number = re.search(r"[-+]?[0-9][0-9.eE+-]{%d,}" % MAX_NUMBER_CHARS, text)
    if long_number and not _inside_string(text, long_number.start()):
        raise UnsafeInput(f"a number of {len(long_number.group()):,} characters (at most {MAX_NUMBER_CHARS})",
                          text.count("\n", 0, long_number.start()) + 1)
    try:
        # Numbers are parsed natively (a Python hook per number would make a large file slow) and
        # checked in the walk below; the search above already refused over-long ones.
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except RecursionError:
        raise UnsafeInput(f"nested more than {MAX_DEPTH} levels deep") from None
    except (json.JSONDecodeError, UnsafeInput):
        raise
    except ValueError as exc:  # a number beyond int()'s digit limit, in a place the search missed
        raise UnsafeInput(f"unreadable number ({str(exc)[:80]})") from None
    _check_tree(data, text)
    return data


def _inside_string(text: str, at: int) -> bool:
    """Whether position `at` of JSON text lies inside a string (an odd number of unescaped quotes
    before it on its line, which is where JSON strings end)."""
    start = text.rfind("\n", 0, at) + 1
    quotes = re.findall(r'(?<!\\)"', text[start:at])
    return len(quotes) % 2 == 1


def _dup_line(text: str, key: str) -> int | None:
    quoted = re.escape(json.dumps(key)) + r"\s*:"
    hits = [m.start() for m in re.finditer(quoted, text)]
    return text.count("\n", 0, hits[1]) + 1 if len(hits) > 1 else None


MAX_JSON_NODES = 200_000
"""Most values in one JSON document (the largest run file holds about 10,000)."""


def _check_tree(data: Any, text: str) -> None:
    """Depth, size, text length and numbers of parsed JSON, walked without recursion."""
    todo: list[tuple[Any, int]] = [(data, 0)]
    nodes = 0
    while todo:
        value, depth = todo.pop()
        nodes += 1
        if nodes > MAX_JSON_NODES:
            raise UnsafeInput(f"more than {MAX_JSON_NODES:,} values: no data file needs that many")
        kind = type(value)
        if kind is dict or kind is list:
            if depth >= MAX_DEPTH:
                raise UnsafeInput(f"nested more than {MAX_DEPTH} levels deep")
            items = value.values() if kind is dict else value
            todo.extend((v, depth + 1) for v in items)
        elif kind is str:
            if len(value) > MAX_TEXT:
                raise UnsafeInput(f"a value of {len(value):,} characters (at most {MAX_TEXT:,})")
            hidden = _hidden_problem(value, _SURROGATE)
            if hidden:
                raise UnsafeInput(hidden)
        elif kind is float or kind is int:
            if kind is float and not math.isfinite(value):
                raise UnsafeInput(f"{value} is not a finite number", _number_line(text, value))
            if abs(value) > MAX_ABS:
                raise UnsafeInput(f"{shorten(value)} is beyond ±{MAX_ABS:g}, out of range for any field",
                                  _number_line(text, value))


def _number_line(text: str, value: float) -> int | None:
    """The line of the first number in `text` that reads as `value` (only on the way to an error)."""
    for m in re.finditer(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?", text):
        try:
            if float(m.group()) == float(value):
                return text.count("\n", 0, m.start()) + 1
        except (ValueError, OverflowError):
            continue
    return None
