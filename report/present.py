"""HTML pieces the pages display: escaped tables, provenance labels, CSV downloads, headline cards.

Every text from a data file goes through `html.escape` here; a machine named `<b>x</b>` shows as
those characters, never as markup. Pages display these strings with `IPython.display.HTML`, which
Quarto and the fallback engine both pass through unchanged.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

STYLE = """<style>
.cp-prov{display:inline-block;padding:0 .35em;margin-left:.3em;border-radius:.25em;font-size:.72em;
  font-weight:600;letter-spacing:.02em;vertical-align:middle;white-space:nowrap}
.cp-prov-measured{background:#dff3e4;color:#155d27;border:1px solid #9bd3ab}
.cp-prov-published{background:#e3ecfb;color:#1d4289;border:1px solid #a9c1ee}
.cp-prov-estimated{background:#fdf0d9;color:#7a4b00;border:1px solid #f0c87a}
table.cp-table{border-collapse:collapse;font-size:.82rem;margin:.4rem 0 .6rem 0;width:100%}
table.cp-table th{background:#f3f4f6;text-align:left;padding:.25rem .45rem;border-bottom:2px solid #d1d5db;
  vertical-align:bottom}
table.cp-table td{padding:.22rem .45rem;border-bottom:1px solid #e5e7eb;vertical-align:top}
table.cp-table td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.cp-table tr.cp-best td{background:#fffbea}
table.cp-table caption{caption-side:bottom;text-align:left;padding-top:.3rem}
table.cp-table td.num .cp-note{white-space:normal}
div.cp-scroll{overflow-x:auto;max-width:100%}
.cp-cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:.3rem 0 .8rem 0}
.cp-card{flex:1 1 14rem;border:1px solid #d1d5db;border-radius:.4rem;padding:.45rem .7rem;background:#fafafa}
.cp-card .cp-q{font-size:.78rem;color:#4b5563;text-transform:uppercase;letter-spacing:.03em}
.cp-card .cp-a{font-size:1.15rem;font-weight:700;margin:.1rem 0}
.cp-card .cp-v{font-size:.85rem;color:#374151}
.cp-note{font-size:.8rem;color:#4b5563}
a.cp-csv{font-size:.82rem}
.cp-flag{color:#b91c1c;font-weight:600}
.cp-verdict{display:inline-block;padding:.05em .45em;border-radius:.3em;font-weight:700;font-size:.8em;white-space:nowrap}
.cp-verdict-supported{background:#dff3e4;color:#155d27}
.cp-verdict-contradicted{background:#fde2e1;color:#991b1b}
.cp-verdict-not-measured-yet{background:#eceff3;color:#374151}
ul.cp-ev{margin:0;padding-left:1.1em}
</style>"""

_style_done = False


def style_once() -> str:
    """The page's CSS, emitted with the first table or card of a page (each page is one kernel)."""
    global _style_done
    if _style_done:
        return ""
    _style_done = True
    return STYLE


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def number(value: Any, digits: int = 3) -> str:
    """Readable figures: thousands separators, about `digits` significant digits, '–' for missing."""
    if is_missing(value):
        return "–"
    v = float(value)
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    decimals = max(digits - 1 - mag, 0)
    return f"{v:,.{decimals}f}"


def badge(provenance: Any) -> str:
    if is_missing(provenance) or not provenance:
        return ""
    p = esc(provenance)
    return f'<span class="cp-prov cp-prov-{p}" title="{p}">{p}</span>'


def with_badge(value: str, provenance: Any) -> str:
    return f"{value}{badge(provenance)}" if value != "–" else value


def link(text: Any, url: Any) -> str:
    if is_missing(url) or not url:
        return esc(text)
    return f'<a href="{esc(url)}">{esc(text)}</a>'


def date(value: Any) -> str:
    if is_missing(value):
        return "–"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return esc(value)


Cell = Callable[[pd.Series], str]


def table(df: pd.DataFrame, columns: Sequence[tuple[str, Cell, bool]], highlight: Callable[[pd.Series], bool]
          | None = None, caption: str = "") -> str:
    """An HTML table. Each column is (header, cell → *already escaped* HTML, numeric?)."""
    head = "".join(f"<th>{esc(h)}</th>" for h, _, _ in columns)
    body = []
    for _, row in df.iterrows():
        cls = ' class="cp-best"' if highlight and highlight(row) else ""
        cells = "".join(f'<td class="num">{fn(row)}</td>' if numeric else f"<td>{fn(row)}</td>"
                        for _, fn, numeric in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    cap = f'<caption class="cp-note">{esc(caption)}</caption>' if caption else ""
    return (style_once() + f'<div class="cp-scroll"><table class="cp-table" data-quarto-disable-processing="true">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def col(name: str, digits: int = 3, prov: str | None = None) -> Cell:
    """A numeric cell, with the provenance label from column `prov`."""
    return lambda r: with_badge(number(r[name], digits), r[prov] if prov else None)


def text(name: str) -> Cell:
    return lambda r: "–" if is_missing(r[name]) else esc(r[name])


def csv_link(df: pd.DataFrame, filename: str, label: str = "Download this page's table (CSV)") -> str:
    """A download link carrying the CSV inline (a data: URI), so the page needs no other file."""
    payload = base64.b64encode(df.to_csv(index=False).encode("utf-8")).decode("ascii")
    return (f'<p><a class="cp-csv" download="{esc(filename)}" '
            f'href="data:text/csv;charset=utf-8;base64,{payload}">{esc(label)}</a> '
            f'<span class="cp-note">({len(df)} rows)</span></p>')


def cards(items: list[tuple[str, str, str, str]]) -> str:
    """Headline cards: (question, answer, value line, provenance)."""
    parts = []
    for question, answer, value, prov in items:
        parts.append(f'<div class="cp-card"><div class="cp-q">{esc(question)}</div>'
                     f'<div class="cp-a">{esc(answer)}{badge(prov)}</div>'
                     f'<div class="cp-v">{value}</div></div>')
    return style_once() + f'<div class="cp-cards">{"".join(parts)}</div>'


def note(text_: str) -> str:
    return f'<p class="cp-note">{esc(text_)}</p>'


def flag(text_: str) -> str:
    return f'<span class="cp-flag">{esc(text_)}</span>'


def verdict(value: str) -> str:
    cls = "cp-verdict-" + "-".join(value.split())
    return f'<span class="cp-verdict {esc(cls)}">{esc(value)}</span>'


def bullets(items: list[str]) -> str:
    if not items:
        return "–"
    return '<ul class="cp-ev">' + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def price_as_of(row: Any, date_col: str = "price_as_of", provider_col: str = "price_used_provider") -> str:
    """'price as of DATE' under a tokens-per-dollar figure: the date of the very price it divided by
    (the row carries both from one `metrics.current_price` observation); '' when there is no figure."""
    when = row.get(date_col) if hasattr(row, "get") else None
    if is_missing(when):
        return ""
    provider = row.get(provider_col) if hasattr(row, "get") else None
    title = f' title="{esc(provider)}"' if not is_missing(provider) and provider else ""
    return (f'<br><span class="cp-note cp-price-date"{title}>price as of '
            f'<span style="white-space:nowrap">{date(when)}</span></span>')


def flagged(cell: str, flags: Any) -> str:
    """A figure the physics checks question, marked where it stands (never dropped): '⚑ flagged'
    after it, the findings on hover and in the page's CSV."""
    if is_missing(flags) or not flags:
        return cell
    return f'{cell} <span class="cp-flag cp-flagged" title="{esc(flags)}">⚑ flagged</span>'


def col_flagged(name: str, flags: str = "flags", digits: int = 3, prov: str | None = None) -> Cell:
    """A numeric cell (as `col`) marked when the row's `flags` column holds physics findings."""
    inner = col(name, digits, prov)
    return lambda r: flagged(inner(r), r.get(flags))

