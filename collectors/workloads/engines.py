"""The engines besides torch that a run adds to its suite: MLX (mlx-lm) and llama.cpp.

Each is an optional extra (`costperf[mlx]`, `costperf[llama]`), so this module decides which tasks
a suite gets from what is installed, and says why one is missing:

- MLX: prefill and decode of the torch suite's Llama shapes in bf16, fp16 and MLX's 8- and 4-bit
  quantisation. The quick suite runs them on tiny shapes wherever MLX imports (the CPU build on
  Linux); the standard suite runs the primary shape on Metal only (MLX's CPU build is not what anyone
  deploys), and records 'unsupported' on a Mac without MLX.
- llama.cpp: pp512 and tg128 of a GGUF model, in process through llama-cpp-python (llama_cpp_api),
  on the model given with --gguf or else the Gemma 3 270M Q4_K_M that the llama extra ships; and
  through a llama-bench binary (llama_cpp) when one is given with --llama-bench, when llama-bench is
  on PATH, or when llama-cpp-python is missing (then the record says what to install).
"""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

from collectors.workloads import llama_cpp, llama_cpp_api, mlx_llm
from collectors.workloads.common import Context

PACKAGED_NAME = "gemma-3-270m-q4_k_m"
DISTRIBUTIONS = {"mlx": "mlx", "mlx_lm": "mlx-lm", "llama_cpp_python": "llama-cpp-python"}


def versions() -> dict[str, str | None]:
    """Versions of the installed engine packages, for the run's settings."""
    out: dict[str, str | None] = {}
    for key, dist in DISTRIBUTIONS.items():
        try:
            out[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _apple_silicon() -> bool:
    return platform.system() == "Darwin" and platform.machine() == "arm64"


def mlx_tasks(ctx: Context, quick: bool, model: str = "llama-tiny") -> list:  # type: ignore[type-arg]
    from collectors.workloads.suites import Task  # noqa: PLC0415 - suites imports this module

    ok, why = mlx_llm.available()
    if not ok:
        if not _apple_silicon():
            return []  # MLX matters on Macs; elsewhere its absence is not worth a record
        spec = mlx_llm.MlxSpec("decode", model, "bf16")
        return [Task("mlx-unsupported", "mlx", 0.1, lambda c: [mlx_llm.run(spec, c)])]
    if not quick and mlx_llm.device_name() != "gpu":
        return []
    lengths = {"prompt": 64, "gen": 16} if quick else {}
    tasks = []
    for dtype in mlx_llm.DTYPES:
        for workload in ("decode", "prefill"):
            spec = mlx_llm.MlxSpec(workload, model, dtype, **lengths)
            est = 1.0 if quick else (30.0 if workload == "decode" else 10.0)
            tasks.append(Task(spec.task_id, "mlx", est, lambda c, s=spec: [mlx_llm.run(s, c)]))
    return tasks


def llama_tasks(suite: str, gguf: Path | None, llama_bench: str | None) -> list:  # type: ignore[type-arg]
    """llama.cpp tasks: in process on `gguf` (else the packaged Gemma 3 270M), and the llama-bench binary
    on the same model, so that one run can compare the two."""
    from collectors.workloads.suites import Task  # noqa: PLC0415

    python_ok, _ = llama_cpp_api.available()
    packaged = gguf is None and llama_cpp_api.packaged_available()
    name = Path(gguf).stem if gguf is not None else (PACKAGED_NAME if packaged else "none")

    def model() -> Path | None:  # joined from the package's chunks only when a task runs
        return gguf if gguf is not None else (llama_cpp_api.packaged_gguf() if packaged else None)

    asked = suite == "standard" or gguf is not None or llama_bench is not None
    # pp512/tg128 (llama-bench's tests) in the standard suite; the quick suite shortens them as it does
    # torch's prompt and generation, and both harnesses run the same lengths
    tests = llama_cpp_api.QUICK_TESTS if suite == "quick" else llama_cpp_api.TESTS
    tasks = []
    if (python_ok and (gguf is not None or packaged)) or asked:
        tasks.append(Task(f"llama-cpp-python-{name}", "llama-cpp", 30 if python_ok else 0.1,
                          lambda c: llama_cpp_api.run(c, model(), tests=tests)))
    # the binary: when named, when on PATH, or (to record what is missing) when the in-process engine is
    binary = llama_bench is not None or llama_cpp.find_binary() is not None or not python_ok
    if binary and asked:
        tasks.append(Task(f"llama-cpp-{name}", "llama-cpp", 60,
                          lambda c: llama_cpp.run(c, model(), llama_bench, tests=tests)))
    return tasks
