"""Machine names inside running text, shown as the tables and charts show them: the short name, the
full name on hover.

The claims page writes its evidence as sentences ("Measured copy on Cloud GPU (one NVIDIA H100 80GB
HBM3 SXM, 700 W) ..."), built from the same `name` column the tables show with `present.machine`.
Rather than have every sentence builder remember to shorten, the page's HTML replaces each full
name it finds in a sentence (the CSV keeps the sentences as written, full names and all).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from report.present import esc, is_missing, short_name


def short_names(names: Iterable[object]) -> dict[str, str]:
    """Full name → the name to show: the short name, or the full one where two machines' short
    names would read the same (a reader could not tell them apart)."""
    full = sorted({str(n) for n in names if not is_missing(n) and str(n)})
    short = {n: short_name(n) for n in full}
    twice = {s for s, k in Counter(short.values()).items() if k > 1}
    return {n: n if s in twice else s for n, s in short.items()}


class NamedText:
    """Escapes text for HTML and turns each full machine name in it into the table's name cell."""

    def __init__(self, names: Iterable[object]) -> None:
        self.shown = short_names(names)
        # every name, longest first, so that a name inside another never takes the longer one's place
        # (even where the longer one is shown as it is)
        order = sorted(self.shown, key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(n) for n in order)) if order else None

    def __call__(self, text: object) -> str:
        raw = "" if is_missing(text) else str(text)
        if self.pattern is None:
            return esc(raw)
        out, at = [], 0
        for m in self.pattern.finditer(raw):
            full = m.group(0)
            out.append(esc(raw[at:m.start()]))
            shown = self.shown[full]
            out.append(esc(full) if shown == full else f'<span class="cp-m" title="{esc(full)}">{esc(shown)}</span>')
            at = m.end()
        out.append(esc(raw[at:]))
        return "".join(out)

    def bullets(self, items: list[str]) -> str:
        """`present.bullets`, with the names shortened."""
        if not items:
            return "–"
        return '<ul class="cp-ev">' + "".join(f"<li>{self(i)}</li>" for i in items) + "</ul>"
