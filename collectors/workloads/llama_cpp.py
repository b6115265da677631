"""llama.cpp through its own llama-bench: pp512 (prefill) and tg128 (decode) of a GGUF model.

Runs the `llama-bench` binary found on PATH (or given) once per test, `-o json`, each run inside
its own energy window, and reads the output with the llama-bench importer, so a suite result and an
imported one are the same record (params.engine 'llama.cpp', raw llama-bench row kept). The energy
window is the whole llama-bench process: model load and llama-bench's warm-up repetition included
(Energy.tokens counts the warm-up's tokens too), so tokens per joule is a slight under-estimate,
said in energy_note. Without the binary, or without a model, both results are 'unsupported' with
the reason.

The run command gets its llama.cpp tasks from engines.llama_tasks: this binary path beside the
in-process engine (llama_cpp_api), on the same model and test lengths, when --llama-bench names a
binary or one is on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from collectors.importers.llama_bench import LlamaBenchError, parse_text
from collectors.importers.llama_bench_records import result_of
from collectors.records import Result, WorkloadParams
from collectors.workloads.common import Context, now, to_energy

TESTS = (("prefill", 512, 0), ("decode", 0, 128))  # llama-bench's pp512 / tg128 defaults
TIMEOUT_S = 1800


def find_binary(binary: str | None = None) -> str | None:
    """Path of llama-bench: the one given, else the one on PATH; None when there is none."""
    if binary:
        return binary if Path(binary).is_file() else shutil.which(binary)
    return shutil.which("llama-bench")


def _unsupported(workload: str, prompt: int, gen: int, why: str) -> Result:
    return Result(workload=workload, status="unsupported", message=why,
                  params=WorkloadParams(batch=1, prompt_tokens=prompt, gen_tokens=gen, engine="llama.cpp"))


def _error(workload: str, prompt: int, gen: int, why: str, started) -> Result:  # type: ignore[no-untyped-def]
    return Result(workload=workload, status="error", message=why[:2000], started_at=started,
                  params=WorkloadParams(batch=1, prompt_tokens=prompt, gen_tokens=gen, engine="llama.cpp"))


def run(ctx: Context, gguf: Path | str | None, binary: str | None = None, n_gpu_layers: int = 99,
        tests: tuple[tuple[str, int, int], ...] = TESTS) -> list[Result]:
    """One Result per test (prefill, decode), measured by llama-bench on this machine. With
    COSTPERF_LLAMA_THREADS set, llama-bench gets `-t` with it, as the in-process engine does."""
    exe = find_binary(binary)
    if exe is None:
        why = (f"llama-bench not found ({binary!r} is not a file or on PATH)" if binary else
               "llama-bench is not on PATH: build llama.cpp (cmake --build build --target llama-bench) and add "
               "build/bin to PATH")
        return [_unsupported(w, p, g, why) for w, p, g in tests]
    if gguf is None or not Path(gguf).is_file():
        why = "no GGUF model given (pass the path of a .gguf file)" if gguf is None else f"GGUF model {gguf} not found"
        return [_unsupported(w, p, g, why) for w, p, g in tests]
    reps = max(ctx.policy.min_reps, 2)
    results = []
    threads = os.environ.get("COSTPERF_LLAMA_THREADS", "").strip()
    for workload, prompt, gen in tests:
        cmd = [exe, "-m", str(gguf), "-p", str(prompt), "-n", str(gen), "-r", str(reps), "-ngl", str(n_gpu_layers),
               *(["-t", threads] if threads else []), "-o", "json"]
        ctx.log(f"llama-bench {'pp' if prompt else 'tg'}{prompt or gen}: {' '.join(cmd)}")
        started = now()
        ctx.meter.begin()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            ctx.meter.end()
            results.append(_error(workload, prompt, gen, f"{' '.join(cmd)}: {exc}", started))
            continue
        reading = ctx.meter.end()
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            results.append(_error(workload, prompt, gen, f"llama-bench exited {proc.returncode}: " + " | ".join(tail),
                                  started))
            continue
        try:
            _, rows = parse_text(proc.stdout, "json", path=f"llama-bench {workload} output")
        except LlamaBenchError as exc:
            results.append(_error(workload, prompt, gen, str(exc), started))
            continue
        row = rows[0]
        tokens = (prompt + gen) * (len(row.samples_ts or []) + 1)  # + llama-bench's one warm-up repetition
        energy, note = to_energy(reading, ctx.meter, ctx.idle_w, tokens)
        result = result_of(row, row.test_time or started)
        extra_note = "energy window: the whole llama-bench process (model load and its warm-up repetition included)"
        results.append(result.model_copy(update={
            "energy": energy, "energy_note": f"{note}; {extra_note}" if note else extra_note}))
    return results


def tasks(gguf: Path | str | None, binary: str | None = None) -> list:  # type: ignore[type-arg]
    """Suite tasks for a GGUF model (import here: suites imports this module, not the other way)."""
    from collectors.workloads.suites import Task  # noqa: PLC0415

    return [Task(f"llama-cpp-{Path(gguf).stem if gguf else 'none'}", "llama-cpp", 60,
                 lambda ctx: run(ctx, gguf, binary))]
