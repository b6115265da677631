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
import datetime as dt
import io
import json
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("json", "jsonl", "csv", "md")

INT_FIELDS = frozenset({
    "build_number", "n_batch", "n_ubatch", "n_threads", "poll", "model_size", "model_n_params", "n_gpu_layers",
    "main_gpu", "n_prompt", "n_gen", "n_depth", "avg_ns", "stddev_ns", "no_op_offload", "n_cpu_moe",
    "fit_target", "fit_min_ctx",
})
BOOL_FIELDS = frozenset({
    "f16_kv", "no_kv_offload", "cpu_strict", "embeddings", "no_host", "use_mmap", "repack",
    # The oldest builds: one flag per compiled-in backend instead of `backends`.
    "cuda", "vulkan", "kompute", "metal", "sycl", "rpc", "gpu_blas", "blas", "opencl",
})
FLOAT_FIELDS = frozenset({"avg_ts", "stddev_ts"})
STRING_FIELDS = frozenset({
    "build_commit", "cpu_info", "gpu_info", "backends", "model_filename", "model_type", "cpu_mask", "type_k",
    "type_v", "split_mode", "devices", "tensor_split", "tensor_buft_overrides", "load_mode", "test_time",
})
OLD_BACKEND_FLAGS = {"cuda": "CUDA", "vulkan": "Vulkan", "kompute": "Kompute", "metal": "Metal", "sycl": "SYCL",
                     "opencl": "OpenCL", "rpc": "RPC", "blas": "BLAS"}

# What every format must carry for a row to mean anything.
REQUIRED_ALL = ("model_type", "model_size", "model_n_params", "n_prompt", "n_gen", "avg_ts", "stddev_ts")
REQUIRED_TABULAR = ("build_commit", "test_time", "cpu_info", "gpu_info")  # json, jsonl, csv
REQUIRED_SAMPLES = ("samples_ts", "samples_ns")  # json, jsonl

# Markdown column titles -> field names (llama-bench's get_field_display_name, all versions).
MD_COLUMNS = {
    "model": "model_type", "size": "model_size", "params": "model_n_params", "backend": "backends",
    "ngl": "n_gpu_layers", "sm": "split_mode", "threads": "n_threads", "nkvo": "no_kv_offload",
    "fa": "flash_attn", "mmap": "use_mmap", "lm": "load_mode", "embd": "embeddings", "nopo": "no_op_offload",
    "noh": "no_host", "dev": "devices", "ts": "tensor_split", "ot": "tensor_buft_overrides",
    "fitt": "fit_target", "fitc": "fit_min_ctx",
}

# Settings copied into a run's params.extra (and a published row's settings) when the source has them.
# (The build is the run's environment, not a setting of one test.)
SETTINGS = ("n_depth", "n_batch", "n_ubatch", "n_threads", "n_gpu_layers", "flash_attn", "type_k", "type_v",
            "split_mode", "backends", "model_size", "model_n_params")


class LlamaBenchError(ValueError):
    """A llama-bench file that cannot be imported; names the file, the line or row, and the field."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, row: int | None = None,
                 field: str | None = None):
        self.path, self.line, self.row, self.field, self.message = Path(path), line, row, field, message
        where = f"{path}:{line}" if line else str(path)
        if row is not None and not line:
            where += f": row {row}"
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


@dataclass
class BenchRow:
    """One llama-bench test, typed and normalised; `raw` is the row as the file spelled it."""

    values: dict[str, Any]
    raw: dict[str, Any]
    line: int | None = None
    row: int = 0
    samples_ts: list[float] | None = None
    samples_ns: list[int] | None = None
    test_time: dt.datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_prompt(self) -> int:
        return int(self.values["n_prompt"])

    @property
    def n_gen(self) -> int:
        return int(self.values["n_gen"])

    @property
    def n_depth(self) -> int:
        return int(self.values.get("n_depth", 0))

    @property
    def kind(self) -> str:
        """pp (n_gen = 0), tg (n_prompt = 0) or pp+tg, as llama-bench names its tests."""
        if self.n_gen == 0:
            return "pp"
        if self.n_prompt == 0:
            return "tg"
        return "pp+tg"

    @property
    def test(self) -> str:
        """llama-bench's test name: pp512, tg128, pp512+tg128, with ' @ d4096' for a context depth."""
        name = {"pp": f"pp{self.n_prompt}", "tg": f"tg{self.n_gen}"}.get(self.kind, f"pp{self.n_prompt}+tg{self.n_gen}")
        return f"{name} @ d{self.n_depth}" if self.n_depth else name

    @property
    def workload(self) -> str:
        return {"pp": "prefill", "tg": "decode", "pp+tg": "prefill-decode"}[self.kind]

    @property
    def avg_ts(self) -> float:
        return float(self.values["avg_ts"])

    @property
    def stddev_ts(self) -> float:
        return float(self.values["stddev_ts"])

    @property
    def dtype(self) -> str:
        return dtype_of(str(self.values["model_type"]))

    @property
    def model(self) -> str:
        return model_of(str(self.values["model_type"]))

    @property
    def is_moe(self) -> bool:
        """Mixture of experts: decode reads only the active experts, not the whole file."""
        text = str(self.values["model_type"]).lower()
        return "moe" in text or bool(re.search(r"\d+x\d", text)) or bool(re.search(r"\.a\d", text)) or \
            int(self.values.get("n_cpu_moe", 0) or 0) > 0


# ---------------------------------------------------------------------------------------------
# Model description -> model name and dtype


_SIZE_TOKEN = re.compile(r"^(?:\?B|[\d.]+[KMBT](?:\.A[\d.]+[KMBT])?|\d+x[\d.]+[KMBT])$", re.IGNORECASE)


def _split_desc(desc: str) -> tuple[str, str, str]:
    """'llama 7B Q4_0' -> ('llama', '7B', 'Q4_0'): llama_model_desc prints arch, size, file type."""
    parts = desc.split()
    if len(parts) >= 3 and _SIZE_TOKEN.match(parts[1]):
        return parts[0], parts[1], " ".join(parts[2:])
    return (parts[0] if parts else desc), "", " ".join(parts[1:])


def dtype_of(desc: str) -> str:
    """Weight type from llama-bench's model_type: 'Q4_K - Medium' -> q4_k_m, 'mostly Q4_0' -> q4_0."""
    ftype = _split_desc(desc)[2]
    ftype = re.sub(r"\(guessed\)", "", ftype)
    ftype = re.sub(r"^(mostly|all)\s+", "", ftype.strip(), flags=re.IGNORECASE)
    ftype = re.sub(r"\s+MoE$", "", ftype.strip())
    m = re.match(r"^(\S+)\s*-\s*(Small|Medium|Large)$", ftype.strip(), re.IGNORECASE)
    if m:  # K-quant mixes: 'Q4_K - Medium' -> q4_k_m
        return f"{m.group(1)}_{m.group(2)[0]}".lower()
    ftype = re.sub(r"\s*-\s*[\d.]+\s*bpw.*$", "", ftype)  # 'IQ4_XS - 4.25 bpw' -> IQ4_XS
    return ftype.strip().lower().replace(" ", "_") or "unknown"


def model_of(desc: str) -> str:
    """Model shape name from model_type: 'llama 7B Q4_0' -> 'llama-7b'."""
    arch, size, _ = _split_desc(desc)
    return f"{arch}-{size}".lower() if size else arch.lower()


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
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LlamaBenchError(path, f"cannot read: {exc}") from None
    return parse_text(text, fmt, path)


def parse_text(text: str, fmt: str | None = None, path: Path | str = "<text>") -> tuple[str, list[BenchRow]]:
    fmt = fmt or detect_format(text, path)
    if fmt not in FORMATS:
        raise LlamaBenchError(path, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    parser = {"json": _parse_json, "jsonl": _parse_jsonl, "csv": _parse_csv, "md": _parse_md}[fmt]
    rows = parser(text, Path(path))
    if not rows:
        raise LlamaBenchError(path, f"no tests in this {fmt} output (did llama-bench fail before the first test?)")
    return fmt, rows


def _parse_json(text: str, path: Path) -> list[BenchRow]:
    try:
        data = json.loads(text)
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
            obj = json.loads(line)
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


_MD_SIZE = re.compile(r"^([\d.]+)\s*(GiB|MiB|KiB)$")
_MD_PARAMS = re.compile(r"^([\d.]+)\s*([BMK])$")
_MD_TEST = re.compile(r"^(?:pp\s*(?P<pp>\d+))?(?:\+?tg\s*(?P<tg>\d+))?(?:\s*@\s*d(?P<d>\d+))?$")
_MD_TS = re.compile(r"^(?P<avg>[\d.]+)\s*(?:±|\+/-|\+-)\s*(?P<sd>[\d.]+)$")
_MD_FOOTER = re.compile(r"^build:\s*(?P<commit>\S+)\s*\((?P<number>-?\d+)\)\s*$")


def _cells(line: str) -> list[str]:
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|"):
        inner = inner[:-1]
    return [c.strip() for c in inner.split("|")]


def _parse_md(text: str, path: Path) -> list[BenchRow]:
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
                raise LlamaBenchError(path, f"expected a test such as pp512, tg128 or pp512+tg128; got {cell!r}",
                                      line=line, field="test")
            obj["n_prompt"], obj["n_gen"] = int(m["pp"] or 0), int(m["tg"] or 0)
            obj["n_depth"] = int(m["d"] or 0)
        elif title == "t/s":
            m = _MD_TS.match(cell)
            if not m:
                raise LlamaBenchError(path, f"expected 'mean ± stddev'; got {cell!r}", line=line, field="t/s")
            obj["avg_ts"], obj["stddev_ts"] = float(m["avg"]), float(m["sd"])
        elif title == "size":
            m = _MD_SIZE.match(cell)
            if not m:
                raise LlamaBenchError(path, f"expected a size such as '3.56 GiB'; got {cell!r}", line=line,
                                      field="size")
            obj["model_size"] = round(float(m[1]) * {"GiB": 2**30, "MiB": 2**20, "KiB": 2**10}[m[2]])
        elif title == "params":
            m = _MD_PARAMS.match(cell)
            if not m:
                raise LlamaBenchError(path, f"expected a count such as '6.74 B'; got {cell!r}", line=line,
                                      field="params")
            obj["model_n_params"] = round(float(m[1]) * {"B": 1e9, "M": 1e6, "K": 1e3}[m[2]])
        else:
            name = MD_COLUMNS.get(title, title)
            obj[name] = _from_text(name, cell, path, line)
    row = _typed_row(obj, path, row=index, line=line, fmt="md", raw=dict(zip(titles, cells)))
    row.notes.append("markdown rounds size to 0.01 GiB/MiB and params to 0.01 B/M")
    return row


def _from_text(name: str, value: str, path: Path, line: int) -> Any:
    """A csv/markdown cell as the typed value the json printer would have written."""
    value = value.strip()
    try:
        if name == "flash_attn":
            return {"true": 1, "false": 0}.get(value.lower(), None) if value.lower() in ("true", "false") \
                else int(value)
        if name in INT_FIELDS:
            return int(value)
        if name in BOOL_FIELDS:
            if value.lower() in ("1", "true"):
                return True
            if value.lower() in ("0", "false"):
                return False
            raise ValueError
        if name in FLOAT_FIELDS:
            return float(value)
    except ValueError:
        kind = "an integer" if name in INT_FIELDS or name == "flash_attn" else \
            "0 or 1" if name in BOOL_FIELDS else "a number"
        raise LlamaBenchError(path, f"expected {kind}; got {value!r}", line=line, field=name) from None
    return value


def _check_type(name: str, value: Any, path: Path, row: int, line: int | None) -> Any:
    def bad(expected: str) -> LlamaBenchError:
        return LlamaBenchError(path, f"expected {expected}; got {value!r}", line=line, row=row, field=name)

    if name == "flash_attn":
        if isinstance(value, bool):
            return int(value)  # old builds: false/true; new builds: -1 (auto), 0, 1
        if isinstance(value, int):
            return value
        raise bad("a bool or an integer")
    if name in INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad("an integer")
    if name in BOOL_FIELDS and not isinstance(value, bool):
        raise bad("true or false")
    if name in FLOAT_FIELDS and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise bad("a number")
    if name in STRING_FIELDS and not isinstance(value, str):
        raise bad("a string")
    return value


def _typed_row(obj: Any, path: Path, row: int, line: int | None, fmt: str,
               raw: dict[str, Any] | None = None) -> BenchRow:
    if not isinstance(obj, dict):
        raise LlamaBenchError(path, "expected an object with llama-bench's fields", line=line, row=row)
    required = list(REQUIRED_ALL)
    if fmt in ("json", "jsonl", "csv"):
        required += REQUIRED_TABULAR
    if fmt in ("json", "jsonl"):
        required += REQUIRED_SAMPLES
    missing = [k for k in required if k not in obj]
    if missing:
        raise LlamaBenchError(path, f"missing llama-bench field(s): {', '.join(missing)}", line=line, row=row)
    values: dict[str, Any] = {}
    for name, value in obj.items():
        if name in ("samples_ns", "samples_ts"):
            continue
        values[name] = _check_type(name, value, path, row, line)
    values.setdefault("n_depth", 0)
    if "backends" not in values:
        flags = [label for key, label in OLD_BACKEND_FLAGS.items() if values.get(key) is True]
        values["backends"] = ",".join(flags) or "CPU"
    result = BenchRow(values=values, raw=_raw_values(raw if raw is not None else obj), line=line, row=row)
    _check_row(result, obj, path)
    return result


def _raw_values(obj: dict[str, Any]) -> dict[str, Any]:
    """The row as read, limited to what a data file can hold (scalars and lists of scalars)."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if v is None or isinstance(v, (str, int, float, bool)):
            out[k] = v
        elif isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            out[k] = [int(x) for x in v] if all(isinstance(x, int) for x in v) else [float(x) for x in v]
        else:
            out[k] = json.dumps(v)
    return out


def _check_row(r: BenchRow, obj: dict[str, Any], path: Path) -> None:
    def err(message: str, name: str) -> LlamaBenchError:
        return LlamaBenchError(path, message, line=r.line, row=r.row, field=name)

    for name in ("n_prompt", "n_gen", "n_depth"):
        if r.values[name] < 0:
            raise err("must not be negative", name)
    if r.n_prompt + r.n_gen == 0:
        raise err("n_prompt and n_gen are both 0: not a test", "n_gen")
    if not math.isfinite(r.avg_ts) or r.avg_ts <= 0:
        raise err(f"expected a positive tokens/s; got {r.avg_ts}", "avg_ts")
    if r.values["model_size"] <= 0 or r.values["model_n_params"] <= 0:
        raise err("expected a positive model size and parameter count", "model_size")
    if "test_time" in r.values:
        try:
            t = dt.datetime.fromisoformat(r.values["test_time"].replace("Z", "+00:00"))
        except ValueError:
            raise err(f"expected an RFC 3339 time such as 2026-11-24T17:33:03Z; got {r.values['test_time']!r}",
                      "test_time") from None
        if t.utcoffset() is None:
            raise err("expected a UTC time ending in Z", "test_time")
        r.test_time = t.astimezone(dt.timezone.utc)
    if "samples_ts" in obj:
        ts, ns = obj["samples_ts"], obj.get("samples_ns")
        if not isinstance(ts, list) or not ts or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in ts):
            raise err("expected a non-empty list of positive tokens/s", "samples_ts")
        if not isinstance(ns, list) or len(ns) != len(ts) or not all(
                isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in ns):
            raise err(f"expected {len(ts)} positive integer nanoseconds, one per samples_ts entry", "samples_ns")
        mean = statistics.fmean(ts)
        # samples_ts is printed to 6 significant digits, avg_ts to 6 decimals.
        if not math.isclose(mean, r.avg_ts, rel_tol=1e-4):
            raise err(f"avg_ts {r.avg_ts} is not the mean of samples_ts ({mean:.6g}): the row was edited or "
                      "mixed from two runs", "avg_ts")
        r.samples_ts, r.samples_ns = [float(x) for x in ts], list(ns)


# ---------------------------------------------------------------------------------------------
# Shared helpers for the record builders


def settings_of(row: BenchRow) -> dict[str, str | int | float | bool | None]:
    """The normalised settings a reader compares across builds (absent ones stay absent)."""
    out: dict[str, str | int | float | bool | None] = {"test": row.test}
    for name in SETTINGS:
        if name in row.values:
            out[name] = row.values[name]
    return out


def check_consistent(rows: Sequence[BenchRow], path: Path | str) -> None:
    """Rows of one file come from one build on one host; refuse a concatenation of several."""
    for name in ("build_commit", "cpu_info", "gpu_info"):
        seen = {r.values.get(name) for r in rows if name in r.values}
        if len(seen) > 1:
            raise LlamaBenchError(path, f"rows disagree on {name} ({', '.join(sorted(map(str, seen)))}): "
                                        "import one llama-bench run per file", field=name)
