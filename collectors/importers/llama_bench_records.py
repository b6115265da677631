"""Turn parsed llama-bench rows into a costperf run record (measured) or a published set (cited).

A run record says "llama-bench measured this on this machine": tool 'llama-bench', one Result per
test (pp -> prefill, tg -> decode, pp+tg -> prefill-decode), throughput from `samples_ts`. csv and
markdown carry no per-repetition samples: their Stats hold llama-bench's mean as its one sample and
`params.extra.samples` says so (llama-bench's own stddev_ts stays in `raw`). Prefer `-o json`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from collectors.importers.llama_bench_row import SETTINGS, BenchRow, LlamaBenchError
from collectors.records import (
    Citation,
    Environment,
    PublishedResult,
    PublishedSet,
    Result,
    RunRecord,
    Stats,
    WorkloadParams,
)

ENGINE = "llama.cpp"
PUBLISHED_WORKLOAD = {"prefill": "prefill", "decode": "decode", "prefill-decode": "other"}


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


def _samples_note(row: BenchRow) -> str:
    if row.samples_ts is not None:
        return f"{len(row.samples_ts)} repetitions (llama-bench samples_ts)"
    return "mean only: this format has no per-repetition samples (see raw.stddev_ts)"


def _os_of(backends: str) -> str:
    # Metal exists only on macOS; other backends run on several systems, which llama-bench does not print.
    return "Darwin" if re.search(r"\b(Metal|MTL)\b", backends) else "unknown"


def _times(rows: Sequence[BenchRow], path: Path | str, started: dt.datetime | None) -> list[dt.datetime]:
    times = []
    for r in rows:
        t = r.test_time or started
        if t is None:
            raise LlamaBenchError(path, "this output carries no test times (markdown): pass --time with the UTC "
                                        "time the benchmark ran, e.g. --time 2026-11-24T17:33:03Z", field="test_time")
        times.append(t.astimezone(dt.timezone.utc))
    return times


def result_of(row: BenchRow, started_at: dt.datetime, model: str | None = None) -> Result:
    extra = settings_of(row)
    extra["samples"] = _samples_note(row)
    samples = row.samples_ts if row.samples_ts is not None else [row.avg_ts]
    duration = sum(row.samples_ns) / 1e9 if row.samples_ns else None
    # Decode of a dense model reads every weight once per token: llama-bench's model_size (tensor bytes;
    # it includes the token-embedding table, of which decode reads one row, so it over-states by that share).
    bytes_per_token = float(row.values["model_size"]) if row.kind == "tg" and not row.is_moe else None
    return Result(
        workload=row.workload,
        params=WorkloadParams(model=model or row.model, dtype=row.dtype, batch=1, prompt_tokens=row.n_prompt,
                              gen_tokens=row.n_gen, engine=ENGINE, extra=extra),
        status="ok",
        throughput=Stats.of(samples, "tokens/s"),
        bytes_per_token=bytes_per_token,
        started_at=started_at,
        duration_s=duration,
        raw=row.raw,
    )


def to_run(rows: Sequence[BenchRow], *, machine: str, path: Path | str, fmt: str, costperf_version: str,
           model: str | None = None, started: dt.datetime | None = None, git_commit: str | None = None,
           weights: str = "real", note: str | None = None) -> RunRecord:
    """A measured run record of `machine` from one llama-bench output.

    weights: 'real' for a released GGUF, 'random' for a random-weight GGUF of the same shape (llama.cpp's
    speed does not depend on weight values); `note` is appended to the record's notes.
    """
    check_consistent(rows, path)
    times = _times(rows, path, started)
    first = rows[0].values
    ends = [t + dt.timedelta(seconds=sum(r.samples_ns) / 1e9 if r.samples_ns else 0) for r, t in zip(rows, times)]
    gpu = str(first.get("gpu_info", ""))
    backends = str(first["backends"])
    build = f"{first.get('build_commit', '?')} ({first.get('build_number', '?')})"
    env = Environment(
        os=_os_of(backends), os_version="", python="", torch=None, backend="none",
        devices=[d.strip() for d in gpu.split(",") if d.strip()],
        cpu=str(first["cpu_info"]) if first.get("cpu_info") else None,
        settings={"llama_bench_build": build, "llama_bench_backends": backends,
                  "source_file": Path(path).name, "source_format": fmt},
    )
    return RunRecord(
        machine=machine, started_at=min(times), ended_at=max(ends), tool="llama-bench",
        costperf_version=costperf_version, git_commit=git_commit, environment=env, suite="llama-bench",
        weights=weights, results=[result_of(r, t, model) for r, t in zip(rows, times)],  # type: ignore[arg-type]
        status="complete",
        notes=(f"Imported with `costperf import llama-bench` from {Path(path).name} ({fmt}); llama.cpp build "
               f"{build}, backends {backends}. Throughput is llama-bench's per repetition "
               "1e9 x (n_prompt + n_gen) / ns; os is 'unknown' where llama-bench does not print it."
               + (f" {note}" if note else "")),
    )


def to_published(rows: Sequence[BenchRow], *, set_id: str, source_url: str, title: str, path: Path | str,
                 fmt: str, machine: str | None = None, model: str | None = None, hardware: str | None = None,
                 accessed: dt.date | None = None, note: str | None = None) -> PublishedSet:
    """A published set (cited by `source_url`) from llama-bench output someone else ran."""
    check_consistent(rows, path)
    dates = [r.test_time.date() for r in rows if r.test_time]
    first = rows[0].values
    hardware = hardware or str(first.get("gpu_info") or first.get("cpu_info") or machine or "")
    if not hardware:
        raise LlamaBenchError(path, "this output does not name the hardware (markdown prints no gpu_info or "
                                    "cpu_info): pass --hardware NAME or --machine ID", field="hardware")
    results = []
    for r in rows:
        settings = settings_of(r)
        settings["stddev_ts"] = r.stddev_ts
        settings.update({k: r.values[k] for k in ("build_commit", "build_number") if k in r.values})
        if r.samples_ts:
            settings["samples_ts"] = ", ".join(f"{x:g}" for x in r.samples_ts)
        # Every other field of the row as the file spelled it, unknown ones included.
        settings.update({k: v for k, v in r.raw.items()
                         if isinstance(v, (str, int, float, bool)) and k not in settings})
        results.append(PublishedResult(
            hardware=hardware, machine=machine, workload=PUBLISHED_WORKLOAD[r.workload],  # type: ignore[arg-type]
            model=model or r.model, dtype=r.dtype, engine=ENGINE, prompt_tokens=r.n_prompt, gen_tokens=r.n_gen,
            batch=1, tokens_per_s=r.avg_ts, settings=settings,
            note=None if r.workload != "prefill-decode" else "pp+tg test: tokens/s over prompt and generation together",
        ))
    citation = Citation(
        url=source_url, title=title, date=min(dates) if dates else None,
        accessed=accessed or dt.datetime.now(dt.timezone.utc).date(),
        note=note or f"llama-bench {fmt} output ({Path(path).name}), imported with `costperf import llama-bench`; "
                     f"build {first.get('build_commit', '?')} ({first.get('build_number', '?')}).",
    )
    return PublishedSet(id=set_id, citation=citation, results=results)


def dump_published(ps: PublishedSet) -> str:
    """YAML of a published set, in field order, without empty optional fields."""
    data = ps.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
