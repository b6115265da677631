"""Read llama.cpp's llama-bench output (json, jsonl, csv, markdown; old and new versions).

llama-bench prints one row per test from one `struct test` through several printers
(tools/llama-bench/llama-bench.cpp). The fields drift between versions: older builds print
`flash_attn` as a bool and have `use_mmap`; newer ones print `flash_attn` as an int (-1 = auto) and
add `n_cpu_moe`, `devices`, `load_mode`, `no_op_offload`, `no_host`, `fit_target`, `fit_min_ctx`;
the oldest have per-backend bools (`cuda`, `metal` ...) instead of `backends`. All are accepted:
known fields are typed and normalised (`flash_attn` always an int), unknown ones are kept as read,
absent ones stay unknown (never filled with today's defaults) except `n_depth`, which builds
without it never had (every test started from an empty context: 0).

What each format carries:
- json / jsonl: every field plus `samples_ns` and `samples_ts` (one figure per repetition);
- csv: every field, each value quoted, booleans as "0"/"1", no samples (only `avg_ts`, `stddev_ts`);
- markdown: only model, size (GiB/MiB, 2 decimals), params (B/M), backend, the columns that differ
  from the defaults, test (pp512, tg128, pp512+tg128, "@ d4096") and "mean ± stddev" t/s; no times;
  footer "build: <commit> (<number>)". Old builds blank a cell that repeats the row above.

Throughput is llama-bench's own: per repetition, 1e9 × (n_prompt + n_gen) / ns, context tokens of
`n_depth` not counted; `avg_ts` is the mean over repetitions, `stddev_ts` the n-1 deviation.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from collectors.importers.llama_bench_md import parse_md
from collectors.importers.llama_bench_names import dtype_of, model_of  # noqa: F401 - re-exported
from collectors.importers.llama_bench_row import (  # noqa: F401 - re-exported: the row and its error
    SETTINGS,
    BenchRow,
    LlamaBenchError,
    _from_text,
    _typed_row,
    time_problem,
)
from collectors.safe_load import UnsafeInput, load_json

FORMATS = ("json", "jsonl", "csv", "md")

MAX_FILE_BYTES = 20_000_000
"""Largest llama-bench output read (a thousand tests in json are about 2 MB)."""



# ---------------------------------------------------------------------------------------------
# Parsing


def detect_format(text: str, path: Path | str = "<text>") -> str:
    """json, jsonl, csv or md, from the content (file names lie: people save output as .txt)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise LlamaBenchError(path, "the file is empty: no llama-bench output to import")
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    first = stripped.splitlines()[0]
    if first.startswith("build_commit,") or first.startswith('"build_commit",'):
        return "csv"
    if any(line.lstrip().startswith("|") for line in stripped.splitlines()):
        return "md"
    if first.startswith("CREATE TABLE"):
        raise LlamaBenchError(path, "this is llama-bench's sql output; re-run with -o json (or jsonl, csv, md)")
    raise LlamaBenchError(path, "not llama-bench output: expected json ('['), jsonl ('{'), csv (a 'build_commit,' "
                                "header) or a markdown table ('| model |')")


def parse_file(path: Path | str, fmt: str | None = None) -> tuple[str, list[BenchRow]]:
    from collectors.store import read_text_capped  # noqa: PLC0415

    path = Path(path)
    try:
        text = read_text_capped(path, MAX_FILE_BYTES)
    except UnsafeInput as exc:
        raise LlamaBenchError(path, exc.message) from None
    except OSError as exc:
        raise LlamaBenchError(path, f"cannot read: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError as exc:
        raise LlamaBenchError(path, f"not UTF-8 text (byte {exc.start:,})") from None
    return parse_text(text, fmt, path)


def parse_text(text: str, fmt: str | None = None, path: Path | str = "<text>") -> tuple[str, list[BenchRow]]:
    fmt = fmt or detect_format(text, path)
    if fmt not in FORMATS:
        raise LlamaBenchError(path, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    parser = {"json": _parse_json, "jsonl": _parse_jsonl, "csv": _parse_csv, "md": parse_md}[fmt]
    rows = parser(text, Path(path))
    if not rows:
        raise LlamaBenchError(path, f"no tests in this {fmt} output (did llama-bench fail before the first test?)")
    return fmt, rows


def _parse_json(text: str, path: Path) -> list[BenchRow]:
    try:
        data = load_json(text)
    except UnsafeInput as exc:
        raise LlamaBenchError(path, f"refused: {exc.message}", line=exc.line) from None
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) - 1 else ""
        raise LlamaBenchError(path, f"malformed JSON: {exc.msg}{hint}", line=exc.lineno) from None
    if not isinstance(data, list):
        raise LlamaBenchError(path, "expected a JSON list of tests (llama-bench -o json)")
    return [_typed_row(obj, path, row=i + 1, line=None, fmt="json") for i, obj in enumerate(data)]


def _parse_jsonl(text: str, path: Path) -> list[BenchRow]:
    rows = []
    lines = text.splitlines()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = load_json(line)
        except UnsafeInput as exc:
            raise LlamaBenchError(path, f"refused: {exc.message}", line=n) from None
        except json.JSONDecodeError as exc:
            last = n == len(lines) or not any(x.strip() for x in lines[n:])
            hint = " (the last line looks truncated)" if last else ""
            raise LlamaBenchError(path, f"malformed JSON line: {exc.msg}{hint}", line=n) from None
        rows.append(_typed_row(obj, path, row=len(rows) + 1, line=n, fmt="jsonl"))
    return rows


def _parse_csv(text: str, path: Path) -> list[BenchRow]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[BenchRow] = []
    header: list[str] | None = None
    try:
        for cells in reader:
            n = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                dupes = sorted({h for h in header if header.count(h) > 1})
                if dupes:
                    raise LlamaBenchError(path, f"duplicate column(s) {dupes} in the header", line=n)
                continue
            if len(cells) != len(header):
                raise LlamaBenchError(path, f"row has {len(cells)} values but the header has {len(header)} columns "
                                            "(the file looks truncated or edited)", line=n)
            obj = {k: _from_text(k, v, path, n) for k, v in zip(header, cells)}
            rows.append(_typed_row(obj, path, row=len(rows) + 1, line=n, fmt="csv", raw=dict(zip(header, cells))))
    except csv.Error as exc:
        raise LlamaBenchError(path, f"malformed CSV: {exc} (the file looks truncated)", line=reader.line_num) from None
    if header is not None and "build_commit" not in header:
        raise LlamaBenchError(path, "the CSV header has no build_commit column: not llama-bench -o csv output", line=1)
    return rows


