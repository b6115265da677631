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
import re
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

STYLE = """<style>
/* a long identifier (recommendedMaxWorkingSetSize) breaks rather than widen a phone's page */
main p,main li{overflow-wrap:break-word}
.cp-prov{display:inline-block;padding:0 .35em;margin-left:.3em;border-radius:.25em;font-size:.72em;
  font-weight:600;letter-spacing:.02em;vertical-align:middle;white-space:nowrap}
.cp-prov-measured{background:#dff3e4;color:#155d27;border:1px solid #9bd3ab}
.cp-prov-published{background:#e3ecfb;color:#1d4289;border:1px solid #a9c1ee}
.cp-prov-estimated{background:#fdf0d9;color:#7a4b00;border:1px solid #f0c87a}
table.cp-table{border-collapse:collapse;font-size:.8rem;margin:.2rem 0 .6rem 0;width:100%;max-width:100%}
table.cp-table th{background:#f3f4f6;text-align:left;padding:.25rem .4rem;border-bottom:2px solid #d1d5db;
  vertical-align:bottom;cursor:pointer;user-select:none}
div.cp-long table.cp-table th{position:sticky;top:0;z-index:1}
table.cp-table th[aria-sort=descending]::after{content:" ▼";font-size:.7em}
table.cp-table th[aria-sort=ascending]::after{content:" ▲";font-size:.7em}
table.cp-table td{padding:.2rem .4rem;border-bottom:1px solid #e5e7eb;vertical-align:top;overflow-wrap:anywhere}
table.cp-table td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap;overflow-wrap:normal}
table.cp-table td.num .cp-prov{display:block;width:fit-content;margin:.1rem 0 0 auto}
table.cp-table td.num .cp-note{white-space:normal}
table.cp-table td.num .cp-price-date{white-space:nowrap}
table.cp-table tr.cp-best td{background:#fffbea}
table.cp-table tr.cp-detail td{background:#f9fafb;font-size:.95em;white-space:normal;text-align:left}
table.cp-table caption{caption-side:bottom;text-align:left;padding-top:.3rem}
table.cp-table .cp-m{font-weight:600}
table.cp-table .cp-ev .cp-m,table.cp-table .cp-note .cp-m{font-weight:inherit;text-decoration:underline dotted #9ca3af}
button.cp-tog{border:none;background:none;cursor:pointer;padding:0 .25rem 0 0;color:#4b5563;font-size:.9em}
div.cp-scroll{max-width:100%;overflow-x:auto}
div.cp-long{max-height:70vh;overflow-y:auto;border-bottom:1px solid #d1d5db}
div.cp-tools{display:flex;flex-wrap:wrap;gap:.3rem .8rem;align-items:center;margin:.3rem 0 .1rem 0}
input.cp-filter{font:inherit;font-size:.85rem;padding:.15rem .4rem;width:18rem;max-width:100%;
  border:1px solid #d1d5db;border-radius:.25rem}
.cp-cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:.3rem 0 .8rem 0}
.cp-card{flex:1 1 14rem;min-width:0;border:1px solid #d1d5db;border-radius:.4rem;padding:.45rem .7rem;background:#fafafa}
.cp-card .cp-q{font-size:.78rem;color:#4b5563;text-transform:uppercase;letter-spacing:.03em}
.cp-card .cp-a{font-size:1.15rem;font-weight:700;margin:.1rem 0}
.cp-card .cp-v{font-size:.85rem;color:#374151}
.cp-card .cp-fig{font-size:1.45rem;font-weight:700;margin:.15rem 0 0 0;font-variant-numeric:tabular-nums}
.cp-card .cp-fig .cp-unit{font-size:.9rem;font-weight:400;color:#4b5563}
.cp-card .cp-basis{font-size:.8rem;color:#4b5563;margin:.15rem 0}
.cp-card .cp-basis .cp-note{font-size:inherit}
.cp-card details{font-size:.8rem;color:#374151}
.cp-card details summary{cursor:pointer;color:#1f2937}
.cp-card details ul{margin:.2rem 0 0 1rem;padding:0}
.cp-note{font-size:.8rem;color:#4b5563}
a.cp-csv{font-size:.82rem}
.cp-flag{color:#b91c1c;font-weight:600}
.cp-verdict{display:inline-block;padding:.05em .45em;border-radius:.3em;font-weight:700;font-size:.8em;white-space:nowrap}
.cp-verdict-supported{background:#dff3e4;color:#155d27}
.cp-verdict-contradicted{background:#fde2e1;color:#991b1b}
.cp-verdict-partly{background:#fef3c7;color:#92400e}
.cp-verdict-not-measured-yet{background:#eceff3;color:#374151}
ul.cp-ev{margin:0;padding-left:1.1em}
.cp-chart{width:100%;max-width:100%;overflow:hidden}
.cp-chart svg{max-width:100%;height:auto}
.cp-chart.vega-embed{display:flex;flex-direction:column}
.cp-chart .vega-bindings{order:-1;display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:.9rem;margin:.2rem 0 .4rem 0;
  padding:.4rem .6rem;background:#f3f4f6;border-radius:.3rem}
.cp-chart .vega-bind{max-width:100%;min-width:0}
.cp-chart .vega-bind label{display:flex;flex-wrap:wrap;align-items:center;gap:.3rem;max-width:100%}
.cp-chart .vega-bind select,.cp-chart .vega-bind input{font:inherit;max-width:100%;min-width:0}
/* a phone: each row is a block of "header: value" lines; nothing scrolls sideways */
@media (max-width:700px){
  table.cp-table,table.cp-table tbody,table.cp-table tr,table.cp-table td,table.cp-table caption{display:block;width:100%}
  table.cp-table thead{display:none}
  table.cp-table tr{border-bottom:1px solid #d1d5db;padding:.25rem 0}
  table.cp-table td,table.cp-table td.num{border:none;padding:.05rem .2rem;text-align:left;white-space:normal}
  table.cp-table td.num .cp-prov{display:inline-block;margin-left:.3em}
  table.cp-table td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#4b5563}
  table.cp-table td.cp-na{display:none}
  table.cp-table tr.cp-detail[hidden]{display:none}
  div.cp-long{max-height:80vh}
}
</style>"""

SCRIPT = """<script>
(function () {
  if (window.cpTables) return;
  window.cpTables = true;
  // A cell's sort key: its first number ("≤ 1,279" sorts as 1279), else its text; blanks last.
  function key(td) {
    var t = (td ? td.textContent : "").trim();
    if (t === "" || t === "–") return [2, ""];
    var m = t.replace(/,/g, "").match(/-?\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?/i);
    return m ? [0, parseFloat(m[0])] : [1, t.toLowerCase()];
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest("button.cp-tog");
    if (b) {
      var d = b.closest("tbody").querySelector("tr.cp-detail");
      d.hidden = !d.hidden;
      b.setAttribute("aria-expanded", String(!d.hidden));
      b.textContent = d.hidden ? "▸" : "▾";
      return;
    }
    var th = e.target.closest("table.cp-table thead th");
    if (!th) return;
    var table = th.closest("table"), i = Array.prototype.indexOf.call(th.parentNode.children, th);
    var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var bodies = Array.prototype.slice.call(table.tBodies);
    bodies.sort(function (a, b) {
      var x = key(a.rows[0].cells[i]), y = key(b.rows[0].cells[i]);
      if (x[0] !== y[0]) return x[0] - y[0];
      var c = x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0;
      return dir === "ascending" ? c : -c;
    });
    bodies.forEach(function (b) { table.appendChild(b); });
  });
  document.addEventListener("input", function (e) {
    var box = e.target.closest("input.cp-filter");
    if (!box) return;
    var table = document.getElementById(box.getAttribute("data-table"));
    var terms = box.value.toLowerCase().split(/\\s+/).filter(Boolean), shown = 0;
    Array.prototype.forEach.call(table.tBodies, function (tb) {
      var text = tb.textContent.toLowerCase() + " " + (tb.getAttribute("data-search") || "");
      tb.hidden = !terms.every(function (t) { return text.indexOf(t) >= 0; });
      if (!tb.hidden) shown += 1;
    });
    document.getElementById(box.getAttribute("data-table") + "-n").textContent =
      shown + " of " + table.tBodies.length + " rows";
  });
})();
</script>"""

_style_done = False


def style_once() -> str:
    """The page's CSS and table script, emitted with the first table or card of a page (each page
    is one kernel). The script sorts a table by a clicked header, filters it by the words typed
    in its box and opens a row's details: plain DOM code, inline, so the page needs no network."""
    global _style_done
    if _style_done:
        return ""
    _style_done = True
    return STYLE + SCRIPT


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


LONG_ROWS = 20
"""A table with more rows than this gets a filter box and scrolls inside a box of 70% of the screen's
height, so that no page grows to dozens of screens; its CSV link has every row."""

_table_counter = 0


def table(df: pd.DataFrame, columns: Sequence[tuple[str, Cell, bool]], highlight: Callable[[pd.Series], bool]
          | None = None, caption: str = "", details: Callable[[pd.Series], str] | None = None,
          filter_box: bool | None = None) -> str:
    """An HTML table. Each column is (header, cell → *already escaped* HTML, numeric?), in order of
    importance. `details` gives a row's secondary facts (source, basis, findings), shown in a row
    beneath it that its ▸ button opens. Headers sort on click; long tables get a filter box.
    On a phone each row turns into a block of "header: value" lines (the cells carry their header)."""
    global _table_counter
    _table_counter += 1
    tid = f"cp-t{_table_counter}"
    long = len(df) > LONG_ROWS
    want_filter = long if filter_box is None else filter_box
    head = "".join(f"<th>{esc(h)}</th>" for h, _, _ in columns)
    bodies = []
    for _, row in df.iterrows():
        cls = ' class="cp-best"' if highlight and highlight(row) else ""
        cells = []
        for j, (header, fn, numeric) in enumerate(columns):
            inner = fn(row)
            classes = (["num"] if numeric else []) + (["cp-na"] if inner in ("", "–") else [])
            if j == 0 and details is not None:
                inner = '<button class="cp-tog" type="button" aria-expanded="false" title="details">▸</button>' + inner
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f'<td data-label="{esc(header)}"{attr}>{inner}</td>')
        extra = ""
        if details is not None:
            extra = f'<tr class="cp-detail" hidden><td colspan="{len(columns)}">{details(row)}</td></tr>'
        names = " ".join(str(row[c]) for c in ("name", "machine") if c in row.index and not is_missing(row[c]))
        search = f' data-search="{esc(names.lower())}"' if names else ""
        bodies.append(f"<tbody{search}><tr{cls}>{''.join(cells)}</tr>{extra}</tbody>")
    cap = f'<caption class="cp-note">{esc(caption)}</caption>' if caption else ""
    tools = ""
    if want_filter:
        tools = (f'<div class="cp-tools"><input class="cp-filter" type="search" data-table="{tid}" '
                 f'aria-label="Filter the rows" placeholder="Filter rows: machine, model, precision…">'
                 f'<span class="cp-note" id="{tid}-n">{len(df)} rows</span>'
                 '<span class="cp-note">Click a header to sort.</span></div>')
    wrap = "cp-scroll cp-long" if long else "cp-scroll"
    return (style_once() + tools + f'<div class="{wrap}"><table class="cp-table" id="{tid}" '
            f'data-quarto-disable-processing="true">{cap}<thead><tr>{head}</tr></thead>'
            f"{''.join(bodies)}</table></div>")


_DROPPED_PART = re.compile(
    r"^(\d{4}|[A-Z][a-z]{2} \d{4}|\d+-core (CPU|GPU)|\d+(\.\d+)? ?W( TGP)?|\d+ ?TB|Founders Edition)$")
_MEMORY_PART = re.compile(r"^(\d+(\.\d+)?) ?GB( unified)?$")
_VENDOR_WORDS = re.compile(r"^(one |two |four |eight )?(NVIDIA |GeForce |AMD |Apple )*")


def short_name(name: Any) -> str:
    """A machine's name short enough for a table column or a chart axis: the product, its chip
    and its memory ("Mac Studio (2025, M3 Ultra, 32-core CPU, 80-core GPU, 512 GB)" → "Mac Studio
    M3 Ultra, 512 GB"). Names without a parenthesis stay as they are. The full name goes on hover."""
    text = "" if is_missing(name) else str(name)
    m = re.match(r"^(.*?)\s*\((.*)\)\s*$", text)
    if not m:
        return text
    base, inner = m.group(1), m.group(2)
    chip, memory = "", ""
    for part in (p.strip() for p in inner.split(",")):
        if not part or _DROPPED_PART.match(part):
            continue
        mem = _MEMORY_PART.match(part)
        if mem:
            memory = memory or f"{mem.group(1)} GB"
            continue
        if not chip:
            chip = _VENDOR_WORDS.sub("", part)
            if "Laptop" in base:
                chip = chip.replace(" Laptop GPU", "")
    short = f"{base} {chip}".strip()
    if memory and memory.replace(" ", "") not in short.replace(" ", ""):
        short += f", {memory}"
    return short


def machine(row: Any, column: str = "name") -> str:
    """A table's machine cell: the short name, the full one on hover (and in the filter's reach)."""
    full = row[column] if column in row else None
    if is_missing(full):
        return "–"
    return f'<span class="cp-m" title="{esc(full)}">{esc(short_name(full))}</span>'


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


def headline_card(question: str, figure: str, machine: str, full_name: str, provenance: Any, basis: str,
                  summary: str, details: list[str]) -> str:
    """One scannable headline card: the figure, the machine (full name on hover), one line of basis,
    and every other fact behind a summary line, in a details element. `figure` and `basis` are HTML."""
    more = "".join(f"<li>{esc(d)}</li>" for d in details)
    fold = f"<details><summary>{esc(summary)}</summary><ul>{more}</ul></details>" if more else ""
    return (f'<div class="cp-card"><div class="cp-q">{esc(question)}</div>'
            f'<div class="cp-fig">{figure}{badge(provenance)}</div>'
            f'<div class="cp-a" title="{esc(full_name)}">{esc(machine)}</div>'
            f'<div class="cp-basis">{basis}</div>{fold}</div>')


def card_row(cards_html: list[str]) -> str:
    return style_once() + f'<div class="cp-cards">{"".join(cards_html)}</div>'


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


def usable_cell(flags: str = "flags") -> Cell:
    """Usable GB with its basis beneath it (a Mac's share of RAM, a card's reserve; the rule in full on
    hover): a usable figure is never shown without how it was reached."""
    inner = col_flagged("usable_gb", flags, prov="usable_provenance")

    def cell(r: Any) -> str:
        text, short, basis = inner(r), r.get("usable_short"), r.get("usable_rule")
        if is_missing(r.get("usable_gb")) or is_missing(short) or not short:
            return text
        return f'{text}<br><span class="cp-note" title="{esc(basis)}">{esc(short)}</span>'
    return cell


def col_flagged(name: str, flags: str = "flags", digits: int = 3, prov: str | None = None) -> Cell:
    """A numeric cell (as `col`) marked when the row's `flags` column holds physics findings."""
    inner = col(name, digits, prov)
    return lambda r: flagged(inner(r), r.get(flags))

