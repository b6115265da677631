"""Printing text that came from data files, price sources or imported output to a terminal.

Such text is data, never markup: `[/bold]` in an accelerator's name must print as written, a
provider string must not become a clickable link, and raw escape sequences (colours, cursor moves,
OSC 8 links, a changed window title) or bidirectional overrides must not reach the terminal. Every
control character is shown as an escape such as \\x1b instead.
"""

from __future__ import annotations

import re

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 and C1 controls (tab and newline handled by the callers' choice), DEL, and the Unicode
# bidirectional overrides and isolates, which reorder what a reader sees.
# Lone surrogates (a file name that is not UTF-8, as os.listdir passes it on) cannot be printed at all.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROL_AND_LINES = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object, keep_newlines: bool = False) -> str:
    """`value` as text with every control character escaped (newlines too, unless kept)."""
    pattern = _CONTROL if keep_newlines else _CONTROL_AND_LINES
    return pattern.sub(_escape, str(value))


def cell(value: object, style: str = "") -> Text:
    """A table cell holding `value` as plain text (rich treats a str cell as markup)."""
    from rich.text import Text  # noqa: PLC0415 - clean() alone serves the report, which needs no rich

    return Text(clean(value), style=style)


def markup_safe(value: object) -> str:
    """`value` cleaned and escaped, to embed in a string that carries our own markup."""
    from rich.markup import escape  # noqa: PLC0415

    return escape(clean(value))
