"""One llama-bench row: the fields and their types, the limits a row must keep, the typed and
normalised row (`BenchRow`) and the checks that make it importable, whatever format it came in
(collectors/importers/llama_bench.py reads the formats)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.importers.llama_bench_names import dtype_of, model_of
from collectors.safe_load import shorten

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

MAX_TOKENS = 10_000_000
"""Most prompt, generated or context tokens of one test (the longest contexts are about 1e6)."""
MAX_TOKENS_PER_S = 10_000_000.0
MAX_MODEL = 10**15
"""Largest model file in bytes, or parameter count."""
EARLIEST_TEST = dt.datetime(2023, 3, 1, tzinfo=dt.timezone.utc)
"""llama.cpp's first release: no llama-bench output is older."""
FUTURE_SLACK = dt.timedelta(minutes=10)

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
        raise LlamaBenchError(path, f"expected {kind}; got {shorten(value)}", line=line, field=name) from None
    return value


def _check_type(name: str, value: Any, path: Path, row: int, line: int | None) -> Any:
    def bad(expected: str) -> LlamaBenchError:
        return LlamaBenchError(path, f"expected {expected}; got {shorten(value)}", line=line, row=row, field=name)

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
        if not 0 <= r.values[name] <= MAX_TOKENS:
            raise err(f"expected 0 to {MAX_TOKENS:,} tokens; got {r.values[name]:.6g}", name)
    if r.n_prompt + r.n_gen == 0:
        raise err("n_prompt and n_gen are both 0: not a test", "n_gen")
    if not math.isfinite(r.avg_ts) or not 0 < r.avg_ts <= MAX_TOKENS_PER_S:
        raise err(f"expected a positive tokens/s up to {MAX_TOKENS_PER_S:g}; got {r.avg_ts:.6g}", "avg_ts")
    if not math.isfinite(r.stddev_ts) or not 0 <= r.stddev_ts <= MAX_TOKENS_PER_S:
        raise err(f"expected a spread of 0 or more tokens/s; got {r.stddev_ts:.6g}", "stddev_ts")
    for name in ("model_size", "model_n_params"):
        if not 0 < r.values[name] <= MAX_MODEL:
            raise err(f"expected a positive model size and parameter count up to {MAX_MODEL:g}; "
                      f"got {r.values[name]:.6g}", name)
    if "test_time" in r.values:
        try:
            t = dt.datetime.fromisoformat(r.values["test_time"].replace("Z", "+00:00"))
        except ValueError:
            raise err(f"expected an RFC 3339 time such as 2026-11-24T17:33:03Z; got {shorten(r.values['test_time'])}",
                      "test_time") from None
        if t.utcoffset() is None:
            raise err("expected a UTC time ending in Z", "test_time")
        problem = time_problem(t)
        if problem:
            raise err(problem, "test_time")
        r.test_time = t.astimezone(dt.timezone.utc)
    if "samples_ts" in obj:
        ts, ns = obj["samples_ts"], obj.get("samples_ns")
        if not isinstance(ts, list) or not ts or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x <= MAX_TOKENS_PER_S for x in ts):
            raise err(f"expected a non-empty list of positive tokens/s up to {MAX_TOKENS_PER_S:g}", "samples_ts")
        if not isinstance(ns, list) or len(ns) != len(ts) or not all(
                isinstance(x, int) and not isinstance(x, bool) and 0 < x <= 10**16 for x in ns):
            raise err(f"expected {len(ts)} positive integer nanoseconds, one per samples_ts entry", "samples_ns")
        mean = statistics.fmean(ts)
        # samples_ts is printed to 6 significant digits, avg_ts to 6 decimals.
        if not math.isclose(mean, r.avg_ts, rel_tol=1e-4):
            raise err(f"avg_ts {r.avg_ts} is not the mean of samples_ts ({mean:.6g}): the row was edited or "
                      "mixed from two runs", "avg_ts")
        r.samples_ts, r.samples_ns = [float(x) for x in ts], list(ns)


def time_problem(t: dt.datetime, now: dt.datetime | None = None) -> str | None:
    """Why a test time cannot be right (before llama.cpp existed, or in the future), or None."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if t < EARLIEST_TEST:
        return f"{t.isoformat()} is before llama.cpp's first release ({EARLIEST_TEST.date()})"
    if t > now + FUTURE_SLACK:
        return f"{t.isoformat()} is in the future (now {now.replace(microsecond=0).isoformat()})"
    return None
