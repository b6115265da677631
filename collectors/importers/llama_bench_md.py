"""llama-bench's markdown output: the table, its blanked repeats and its build footer.

Markdown carries only model, size (GiB/MiB, 2 decimals), params (B/M), backend, the columns that
differ from the defaults, test (pp512, tg128, pp512+tg128, "@ d4096") and "mean ± stddev" t/s; no
times, no samples.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from collectors.importers.llama_bench_row import MD_COLUMNS, BenchRow, LlamaBenchError, _from_text, _typed_row
from collectors.safe_load import shorten

# Numbers as llama-bench prints them: digits, one optional decimal point, a bounded length.
_NUM = r"\d{1,15}(?:\.\d{1,15})?"
_MD_SIZE = re.compile(rf"^({_NUM})\s*(GiB|MiB|KiB)$")
_MD_PARAMS = re.compile(rf"^({_NUM})\s*([BMK])$")
_MD_TEST = re.compile(r"^(?:pp\s*(?P<pp>\d{1,15}))?(?:\+?tg\s*(?P<tg>\d{1,15}))?(?:\s*@\s*d(?P<d>\d{1,15}))?$")
_MD_TS = re.compile(rf"^(?P<avg>{_NUM})\s*(?:±|\+/-|\+-)\s*(?P<sd>{_NUM})$")
_MD_FOOTER = re.compile(r"^build:\s*(?P<commit>\S{1,100})\s*\((?P<number>-?\d{1,15})\)\s*$")


def _cells(line: str) -> list[str]:
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|"):
        inner = inner[:-1]
    return [c.strip() for c in inner.split("|")]


def parse_md(text: str, path: Path) -> list[BenchRow]:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("|")
                  and {"model", "test", "t/s"} <= set(_cells(line))), None)
    if start is None:
        raise LlamaBenchError(path, "no llama-bench markdown table: expected a header row with model, test and t/s")
    titles = _cells(lines[start])
    if start + 1 >= len(lines) or not set(lines[start + 1].replace("|", "").strip()) <= set("-: "):
        raise LlamaBenchError(path, "the header row is not followed by a '|---|' separator row", line=start + 2)
    rows: list[BenchRow] = []
    previous: list[str] | None = None
    i = start + 2
    while i < len(lines) and lines[i].lstrip().startswith("|"):
        n = i + 1
        cells = _cells(lines[i])
        if len(cells) != len(titles):
            raise LlamaBenchError(path, f"row has {len(cells)} cells but the header has {len(titles)} "
                                        "(the file looks truncated or edited)", line=n)
        # Old builds leave a cell blank when it repeats the row above.
        for j, cell in enumerate(cells):
            if cell == "":
                if previous is None:
                    raise LlamaBenchError(path, "the first row has an empty cell", line=n, field=titles[j])
                cells[j] = previous[j]
        previous = cells
        rows.append(_md_row(titles, cells, path, n, len(rows) + 1))
        i += 1
    footer = next((m for line in lines[i:] if (m := _MD_FOOTER.match(line.strip()))), None)
    if footer is None:
        raise LlamaBenchError(path, "the table ends without llama-bench's footer 'build: <commit> (<number>)': "
                                    "the output looks truncated", line=i + 1)
    for row in rows:
        row.values["build_commit"] = footer["commit"]
        row.values["build_number"] = int(footer["number"])
    return rows


def _md_row(titles: list[str], cells: list[str], path: Path, line: int, index: int) -> BenchRow:
    obj: dict[str, Any] = {}
    for title, cell in zip(titles, cells):
        if title == "test":
            m = _MD_TEST.match(cell)
            if not m or not (m["pp"] or m["tg"]):
                raise LlamaBenchError(path, f"expected a test such as pp512, tg128 or pp512+tg128; got {shorten(cell)}",
                                      line=line, field="test")
            obj["n_prompt"], obj["n_gen"] = int(m["pp"] or 0), int(m["tg"] or 0)
            obj["n_depth"] = int(m["d"] or 0)
        elif title == "t/s":
            m = _MD_TS.match(cell)
            if not m:
                raise LlamaBenchError(path, f"expected 'mean ± stddev'; got {shorten(cell)}", line=line, field="t/s")
            obj["avg_ts"], obj["stddev_ts"] = float(m["avg"]), float(m["sd"])
        elif title == "size":
            m = _MD_SIZE.match(cell)
            if not m:
                raise LlamaBenchError(path, f"expected a size such as '3.56 GiB'; got {shorten(cell)}", line=line,
                                      field="size")
            obj["model_size"] = round(float(m[1]) * {"GiB": 2**30, "MiB": 2**20, "KiB": 2**10}[m[2]])
        elif title == "params":
            m = _MD_PARAMS.match(cell)
            if not m:
                raise LlamaBenchError(path, f"expected a count such as '6.74 B'; got {shorten(cell)}", line=line,
                                      field="params")
            obj["model_n_params"] = round(float(m[1]) * {"B": 1e9, "M": 1e6, "K": 1e3}[m[2]])
        else:
            name = MD_COLUMNS.get(title, title)
            obj[name] = _from_text(name, cell, path, line)
    row = _typed_row(obj, path, row=index, line=line, fmt="md", raw=dict(zip(titles, cells)))
    row.notes.append("markdown rounds size to 0.01 GiB/MiB and params to 0.01 B/M")
    return row
