"""Append prices to a machine file as text, leaving every other byte of it as it was.

Why text and not a YAML round-trip (ruamel.yaml): a round-trip re-emits the whole file, which can
re-indent lists, re-quote strings and re-wrap long lines that contributors wrote by hand, so a
price refresh would show up in review as a diff of lines it had no business touching. Appending
the new entries after the last line of the `prices` list keeps comments, order, quoting and layout
byte for byte, and the review diff is exactly the new prices. No new dependency either.

Safety: the result is parsed and validated again and must equal the old machine with the new
prices appended, field for field; otherwise nothing is written.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import yaml

from collectors.records import Machine, Price


class AppendError(Exception):
    """The file's layout is one this module does not edit; the message says what to change."""


class _Dumper(yaml.SafeDumper):
    """Writes dates plain (2026-11-24) and UTC times as 2026-11-24T18:30:00Z, the way people type them."""


def _utc_time(dumper: yaml.SafeDumper, value: dt.datetime) -> yaml.Node:
    stamp = value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", stamp)


_Dumper.add_representer(dt.datetime, _utc_time)


def price_entry(price: Price) -> dict[str, Any]:
    """A price as it is written in a machine file: set fields only, in schema order."""
    return price.model_dump(mode="python", exclude_none=True)


def _block(prices: list[Price], indent: int) -> str:
    text = yaml.dump([price_entry(p) for p in prices], Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     width=110, default_flow_style=False)
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(keepends=True))


def _flow(prices: list[Price]) -> str:
    return ", ".join(yaml.dump(price_entry(p), Dumper=_Dumper, default_flow_style=True, width=10**6,
                               sort_keys=False).strip() for p in prices)


def _deepest_end(node: yaml.Node) -> yaml.Mark:
    """End of the last character that belongs to `node` (block nodes end at the next token)."""
    while True:
        if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
            node = node.value[-1][1]
        elif isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
            node = node.value[-1]
        else:
            return node.end_mark


def _after_line(text: str, index: int) -> tuple[str, int]:
    """Index just after the line holding `index` (adding the final newline a file may lack)."""
    newline = text.find("\n", index)
    if newline == -1:
        return text + "\n", len(text) + 1
    return text, newline + 1


def append_prices(text: str, prices: list[Price]) -> str:
    """`text` with `prices` added at the end of its top-level `prices` list."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise AppendError("expected a block mapping at the top of the file")
    found = [(k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "prices"]
    if not found:
        text = text if text.endswith("\n") or not text else text + "\n"
        return text + "prices:\n" + _block(prices, 0)
    key, seq = found[0]
    if isinstance(seq, yaml.ScalarNode) and seq.value in ("", "~", "null"):
        # `prices:` with nothing after it: the new entries become its block.
        text, at = _after_line(text, key.end_mark.index)
        return text[:at] + _block(prices, key.start_mark.column) + text[at:]
    if not isinstance(seq, yaml.SequenceNode):
        raise AppendError("`prices` must be a list")
    if seq.flow_style and not seq.value:
        # `prices: []`, the usual start: the entries become a block list under the key, like the others.
        start, end = seq.start_mark.index, seq.end_mark.index
        head = text[:start].rstrip(" ")
        text, at = _after_line(head + text[end:], len(head))
        return text[:at] + _block(prices, key.start_mark.column) + text[at:]
    if seq.flow_style:
        close = seq.end_mark.index - 1  # the closing ']'
        if text[close] != "]":
            raise AppendError("cannot find the closing ']' of the `prices` list")
        sep = ", " if seq.value else ""
        return text[:close] + sep + _flow(prices) + text[close:]
    end = _deepest_end(seq)
    if end.column == 0:
        at = end.index  # a block scalar ends at the start of the next line
    else:
        text, at = _after_line(text, end.index)
    return text[:at] + _block(prices, seq.start_mark.column) + text[at:]


def verified_append(text: str, before: Machine, prices: list[Price]) -> str:
    """append_prices, checked: the new text must parse to `before` plus exactly `prices`."""
    from collectors.safe_load import load_yaml  # noqa: PLC0415
    from collectors.store import _json_default  # noqa: PLC0415 - store's conversion, reused

    new_text = append_prices(text, prices)
    data, _ = load_yaml(new_text)
    after = Machine.model_validate_json(json.dumps(data, default=_json_default))
    expected = before.model_copy(update={"prices": [*before.prices, *prices]})
    if after != expected:
        raise AppendError("appending changed more than the price list (please report this file's layout)")
    return new_text
