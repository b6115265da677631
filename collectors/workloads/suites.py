"""The quick and standard suites: ordered lists of tasks, each one workload at one setting.

quick: tiny shapes, eager (plus compiled decode on CUDA), short timing windows; finishes in well
under 2 minutes on a 2-core CPU. standard: the full suite with the largest Llama-3 shape
that fits in bf16 (8B on a 24 GB+ GPU), 2-second timing windows, compile included; under
10 minutes on an H100.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from collectors.records import Result
from collectors.workloads import engines, fit, llm, micro, toy, train
from collectors.workloads.common import Context, TimingPolicy


@dataclass(frozen=True)
class Task:
    id: str  # unique within the suite, e.g. decode-llama-3-8b-bf16-compiled-b1
    workload: str  # the Result.workload it produces
    est_s: float  # expected seconds, for the progress bar's ETA
    fn: Callable[[Context], list[Result]]


def _one(fn: Callable[[Context], Result]) -> Callable[[Context], list[Result]]:
    return lambda ctx: [fn(ctx)]


POLICIES = {
    "quick": TimingPolicy(min_reps=5, min_time_s=0.2, max_time_s=5.0, warmup_reps=1),
    "standard": TimingPolicy(min_reps=5, min_time_s=2.0, max_time_s=30.0, warmup_reps=2),
}

PRIMARY_MODELS = ["llama-3-8b", "llama-3-3b", "llama-3-1b"]


def primary_model(ctx: Context) -> str:
    """The largest Llama-3 shape whose bf16 weights + KV cache fit; the 1B on a CPU (8B decode on a
    laptop CPU would take the suite's whole budget)."""
    if ctx.kind == "cpu":
        return "llama-3-1b"
    for name in PRIMARY_MODELS:
        if ctx.usable_memory_gb is None or llm.memory_needed_gb(name, "bf16", 16, 640) <= ctx.usable_memory_gb:
            return name
    return PRIMARY_MODELS[-1]


def _llm_task(spec: llm.LlmSpec, est_s: float) -> Task:
    mode = "compiled" if spec.compiled else "eager"
    tid = f"{spec.workload}-{spec.model}-{spec.dtype}-{mode}-b{spec.batch}"
    return Task(tid, spec.workload, est_s, _one(lambda ctx: llm.run(spec, ctx)))


def _micro_tasks(ctx: Context, quick: bool) -> list[Task]:
    gpu = ctx.kind == "cuda"
    copy_mb = (256 if gpu else 64) if quick else (1024 if ctx.kind != "cpu" else 256)
    copy_inner = 10 if gpu else 1
    xfer_mb = 64 if quick else 256
    mm = (2048 if gpu else 256) if quick else (8192 if ctx.kind != "cpu" else 1024)
    tasks = [Task("memcpy", "memcpy", 3, _one(lambda c: micro.run_copy(micro.CopySpec("memcpy", copy_mb, None, copy_inner), c)))]
    for kind in ("h2d", "d2h"):
        for pinned in (True, False):
            spec = micro.CopySpec(kind, xfer_mb, pinned)
            tasks.append(Task(f"{kind}-{'pinned' if pinned else 'pageable'}", kind, 3,
                              _one(lambda c, s=spec: micro.run_copy(s, c))))
    for dtype in ("bf16", "fp16", "fp32"):
        inner = 10 if gpu and dtype != "fp32" and not quick else 1
        spec = micro.MatmulSpec(dtype, mm, inner)
        tasks.append(Task(f"matmul-{dtype}", "matmul", 3, _one(lambda c, s=spec: micro.run_matmul(s, c))))
    return tasks


def _toy_tasks(ctx: Context) -> list[Task]:
    tasks = [Task("toy-mlp", "toy-mlp", 3, _one(lambda c: toy.run(toy.ToySpec(), c)))]
    if ctx.kind != "cpu":
        tasks.append(Task("toy-mlp-cpu", "toy-mlp", 3, _one(lambda c: toy.run(toy.ToySpec(on_cpu=True), c))))
    return tasks


def quick(ctx: Context) -> list[Task]:
    m = "llama-tiny"
    tasks = _micro_tasks(ctx, quick=True) + _toy_tasks(ctx)
    tasks.append(Task("fit", "fit", 0.1, lambda c: fit.run_all(c)))
    for dtype in ("bf16", "fp16", "int8"):
        tasks.append(_llm_task(llm.LlmSpec("prefill", m, dtype, False, prompt=64, gen=16), 1))
        tasks.append(_llm_task(llm.LlmSpec("decode", m, dtype, False, prompt=64, gen=16), 2))
    if ctx.kind == "cuda":  # compiling on a 2-core CPU would take the quick suite's whole budget
        tasks.append(_llm_task(llm.LlmSpec("decode", m, "bf16", True, prompt=64, gen=16), 20))
    tasks.append(Task("train-gpt2-tiny-eager-b4", "train-gpt2", 2,
                      _one(lambda c: train.run(train.TrainSpec("gpt2-tiny", batch=4, seq_len=64), c))))
    tasks += engines.mlx_tasks(ctx, quick=True)  # MLX where installed (its CPU build off macOS)
    return tasks


def standard(ctx: Context) -> list[Task]:
    """Headline figures first (bf16 and int8 batch-1 decode), so that a run cut short by a time
    limit still has them. Compiled decode uses inductor's coordinate-descent tuning: without it the
    H100 gave 732 instead of 1,943 tok/s at batch 16 (its untuned reductions over the 128k-entry
    vocabulary are slow). Compiled LLM tasks compile one layer function per shape and dtype
    (llm.runner 'layers'), not the whole 32-layer model, which took about 100 s per variant."""
    m = primary_model(ctx)
    eager_gen = 16  # eager decode is launch-bound and slow: fewer tokens per repeat (recorded)
    tasks = _micro_tasks(ctx, quick=False) + _toy_tasks(ctx)
    tasks.append(Task("fit", "fit", 0.1, lambda c: fit.run_all(c)))
    tasks += [
        _llm_task(llm.LlmSpec("decode", m, "bf16", True, coord_descent=True), 40),
        _llm_task(llm.LlmSpec("decode", m, "bf16", False, gen=eager_gen), 8),
        _llm_task(llm.LlmSpec("prefill", m, "bf16", False), 5),
        _llm_task(llm.LlmSpec("decode", m, "bf16", True, batch=16, coord_descent=True), 40),
        _llm_task(llm.LlmSpec("decode", m, "bf16", True, batch=4, coord_descent=True), 40),
        _llm_task(llm.LlmSpec("prefill", m, "bf16", True, coord_descent=False), 30),
        # int8 is derived in place from the bf16 model
        _llm_task(llm.LlmSpec("decode", m, "int8", True, coord_descent=True), 30),
        _llm_task(llm.LlmSpec("decode", m, "int8", False, gen=eager_gen), 10),
    ]
    big = ctx.kind != "cpu"
    batch, seq = (16, 1024) if big else (2, 256)
    # compiled: batch 64 where it fits (on an H200, MFU 41.6% at b16, 44.8% at b32, 46.1% at b64,
    # 45.5% at b128), else 32
    roomy = ctx.usable_memory_gb is None or ctx.usable_memory_gb >= 60
    cbatch = 4 * batch if big and roomy else 2 * batch
    tasks += [
        Task("train-gpt2-124m-eager-b16", "train-gpt2", 10,
             _one(lambda c: train.run(train.TrainSpec("gpt2-124m", batch=batch, seq_len=seq), c))),
        Task(f"train-gpt2-124m-compiled-b{cbatch}", "train-gpt2", 35,
             _one(lambda c: train.run(train.TrainSpec("gpt2-124m", batch=cbatch, seq_len=seq, compiled=True,
                                                      steps_per_rep=3 if big else 1), c))),
    ]
    tasks += [
        _llm_task(llm.LlmSpec("decode", m, "fp16", False, gen=eager_gen), 8),
        _llm_task(llm.LlmSpec("prefill", m, "fp16", False), 5),
        _llm_task(llm.LlmSpec("decode", m, "fp16", True, coord_descent=True), 40),
    ]
    tasks += engines.mlx_tasks(ctx, quick=False, model=m)  # on Metal only
    return tasks


SUITES: dict[str, Callable[[Context], list[Task]]] = {"quick": quick, "standard": standard}


def select(tasks: list[Task], wanted: tuple[str, ...]) -> list[Task]:
    """Tasks matching one of `wanted`: a full task id selects exactly that task; otherwise a workload
    name selects its tasks and an id prefix the tasks it begins (decode-llama-3-8b-bf16-compiled-b1
    is a prefix of ...-b16, so an exact id must not be read as a prefix)."""
    if not wanted:
        return tasks
    ids = {t.id for t in tasks}

    def matches(w: str, t: Task) -> bool:
        if w in ids:
            return w == t.id
        return w == t.workload or t.id.startswith(w)

    return [t for t in tasks if any(matches(w, t) for w in wanted)]
