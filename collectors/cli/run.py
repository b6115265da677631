"""`costperf run`: run the benchmark suite on this machine and write a run record.

torch is imported inside the command only, so `costperf validate` never pays for it.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from collectors.cli.common import machine_id_param
from collectors.cli import stop_signal
from collectors.cli.run_paths import gguf_param, llama_bench_param
from collectors import store
from collectors.terminal import cell, clean
from collectors.records import Machine, Result, RunRecord

console = Console(highlight=False, soft_wrap=True)
if not console.is_terminal:  # logs and CI: do not squeeze the summary table into 80 columns
    console = Console(highlight=False, soft_wrap=True, width=200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _load_machine(data: Path, machine_id: str) -> Machine:
    path = data / "machines" / f"{machine_id}.yaml"
    if not path.exists():
        err.print(f"No machine file {path}. Create it first: costperf machine new {machine_id} --data {data} "
                  "(then fill in its TODOs), or pass --no-save to only print results.", markup=False)
        sys.exit(2)
    ds = store.load(data)
    problems = [p for p in ds.problems if p.path.resolve() == path.resolve()]
    if problems or machine_id not in ds.machines:
        for p in problems:
            err.print(str(p), markup=False)
        err.print(f"{path} is not valid: fix it (costperf validate {path}) before recording runs for it.",
                  markup=False)
        sys.exit(2)
    return ds.machines[machine_id]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}" if value >= 1 else f"{value:.3g}"


def _label(r: Result) -> str:
    p = r.params
    bits = [p.model, p.dtype, p.compile_mode, f"b{p.batch}" if p.batch and r.workload in ("decode", "prefill",
                                                                                         "train-gpt2") else None]
    extra = p.extra
    for key in ("host_memory", "device"):
        if key in extra:
            bits.append(str(extra[key]))
    return " ".join(b for b in bits if b)


def derived(r: Result, record: RunRecord, machine: Machine | None) -> str:
    """Roofline share for decode (against this run's measured copy bandwidth) and MFU for training
    (against the machine file's peak): console only, the report computes its own."""
    if r.throughput is None:
        return ""
    if r.workload == "decode" and r.bytes_per_token and r.params.batch == 1:
        copy = [x for x in record.results if x.workload == "memcpy" and x.throughput]
        if copy:
            bw = r.bytes_per_token * r.throughput.median / 1e9
            return f"{bw:,.0f} GB/s = {100 * bw / copy[0].throughput.median:.0f}% of copy BW"
    if r.workload == "train-gpt2" and r.flops_per_token and machine is not None:
        peak = machine.accelerators[0].peak_bf16_tflops
        if peak and record.environment.backend == "cuda":
            return f"MFU {100 * r.flops_per_token * r.throughput.median / (peak * 1e12):.1f}%"
    return ""


UNSTABLE_SPREAD = 1.0
"""Repeats whose fastest and slowest differ by this share of their median or more (100%) make no
stable figure: the summary flags them."""


def repeat_spread(samples: list[float], median: float) -> float | None:
    """(slowest − fastest repeat) ÷ median; None with fewer than two repeats."""
    return (max(samples) - min(samples)) / median if len(samples) > 1 and median else None


def summary(record: RunRecord, machine: Machine | None) -> Table:
    t = Table(title=f"costperf run: {record.suite} suite on {record.machine} ({record.environment.backend}), "
                    f"{record.status}")
    for col, just in [("workload", "left"), ("setting", "left"), ("status", "left"), ("median", "right"),
                      ("unit", "left"), ("spread %", "right"), ("warm-up s", "right"), ("avg W", "right"),
                      ("J/token", "right"), ("note", "left")]:
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    unstable = 0
    for r in record.results:
        if r.workload == "fit":
            continue
        st = r.throughput
        e = r.energy
        jt = f"{e.joules / e.tokens:.3g}" if e and e.tokens else ""
        note = derived(r, record, machine) if st else (r.message or "")[:70]
        spread = repeat_spread(st.samples, st.median) if st else None
        if spread is not None and spread >= UNSTABLE_SPREAD:
            unstable += 1
            note = f"UNSTABLE: repeats spread {100 * spread:.0f}%" + (f"; {note}" if note else "")
        # Labels and error messages are data: plain text, never markup (collectors/terminal.py).
        t.add_row(*(cell(x) for x in (r.workload, _label(r), r.status, _fmt(st.median) if st else "",
                                      st.unit if st else "", f"{100 * spread:.0f}" if spread is not None else "",
                                      f"{r.compile_s:.1f}" if r.compile_s is not None else "",
                                      f"{e.avg_w:.0f}" if e else "", jt, note)))
    captions = []
    if unstable:
        captions.append(f"{unstable} figure(s) UNSTABLE: their repeats spread {100 * UNSTABLE_SPREAD:.0f}% or more "
                        "((slowest - fastest) / median); run them again on an idle machine before trusting them")
    fits = [r for r in record.results if r.workload == "fit"]
    if fits:
        ok = [f"{r.params.model} {r.params.dtype}" for r in fits if r.status == "ok"]
        usable = fits[0].outputs.get("usable_memory_gb")
        shown = f"{usable:.1f}" if isinstance(usable, float) else "?"
        captions.append(f"fits in {shown} GB usable: " + (", ".join(ok) or "none"))
    if captions:
        t.caption = "\n".join(captions)
    return t


@click.command("run")
@click.option("--suite", type=click.Choice(["quick", "standard"]), default="quick", show_default=True,
              help="quick: tiny shapes, 1 to 6 minutes on a busy 2-core CPU (--list: each task's estimate); "
                   "standard: the full suite (8B decode, GPT-2 training).")
@click.option("--workload", "workloads", multiple=True, metavar="NAME",
              help="Only these workloads (decode, prefill, train-gpt2, matmul, memcpy, h2d, d2h, toy-mlp, fit, "
                   "llama-cpp, mlx) "
                   "or task ids (see --list); repeatable.")
@click.option("--machine", "machine_id", metavar="ID", callback=machine_id_param, help="Machine id: data/machines/ID.yaml must exist and validate.")
@click.option("--device", type=click.Choice(["cuda", "mps", "cpu"]), default=None,
              help="Override the device (default: cuda, then mps, then cpu).")
@click.option("--energy", type=click.Choice(["auto", "off", "estimate"]), default="auto", show_default=True,
              help="auto: measure with zeus (NVML, Apple IOReport, RAPL) where possible; estimate: the machine "
                   "file's TDP x time, labelled estimated; off: none.")
@click.option("--power-estimate", is_flag=True, help="Same as --energy estimate.")
@click.option("--no-save", is_flag=True, help="Print the summary only; write no run file.")
@click.option("--list", "list_only", is_flag=True, help="List the suite's tasks and exit.")
@click.option("--data", "data", type=click.Path(path_type=Path, file_okay=False), default=Path("data"),
              show_default=True, help="The data folder (machines/, runs/, published/).")
@click.option("--gguf", type=click.Path(path_type=Path), default=None, metavar="MODEL.gguf", callback=gguf_param,
              help="llama.cpp's pp512 and tg128 of this GGUF model, in process through llama-cpp-python (the "
                   "llama extra; default: the Gemma 3 270M Q4_K_M it ships).")
@click.option("--llama-bench", "llama_bench", default=None, metavar="PATH", callback=llama_bench_param,
              help="Also run this llama-bench binary on the same model, to compare (default: the one on PATH, "
                   "if any).")
@click.option("--nproc-per-node", type=click.IntRange(1, 256), default=None, metavar="N",
              help="Distributed workloads through torchrun, N ranks on this host (one per GPU): allreduce, "
                   "train-gpt2-ddp, train-llama-fsdp, decode-tp (collectors/distributed).")
@click.option("--nnodes", type=click.IntRange(min=1), default=1, show_default=True, metavar="M",
              help="Distributed: hosts taking part; run the same command on each.")
@click.option("--rdzv-endpoint", metavar="HOST:PORT", default=None,
              help="Distributed: torchrun rendezvous address, the same on every host (needed with --nnodes > 1).")
def run_command(suite: str, workloads: tuple[str, ...], machine_id: str | None, device: str | None, energy: str,
                power_estimate: bool, no_save: bool, list_only: bool, data: Path, gguf: Path | None = None,
                llama_bench: str | None = None, nproc_per_node: int | None = None,
                nnodes: int = 1, rdzv_endpoint: str | None = None) -> None:
    """Run the benchmark suite here and write data/runs/MACHINE/<UTC stamp>.json.

    Shows progress with the current task and an ETA, then a summary table. Ctrl-C (exit status 130) or
    SIGTERM (143) stops the run and writes what finished as a record marked interrupted (or nothing, if
    nothing finished); a second signal waits until the record is written, a third stops at once.

    \b
    Examples:
      costperf run --suite quick --no-save            try it: tiny shapes (--list gives each task's estimate)
      costperf run --suite standard --machine h100-sxm
      costperf run --suite standard --machine h100-sxm --workload decode --workload train-gpt2
      costperf run --suite quick --machine my-desktop-rtx-4090 --nproc-per-node 2 --device cpu   two gloo ranks
      costperf run --suite standard --machine my-desktop-rtx-4090 --gguf llama-2-7b.Q4_0.gguf    with llama.cpp
      costperf run --suite standard --no-save --workload llama-cpp --llama-bench ./llama-bench    both harnesses
    """
    import datetime as dt  # noqa: PLC0415

    from collectors.cli.common import costperf_version  # noqa: PLC0415

    if not no_save and not list_only and not machine_id:
        raise click.UsageError("name the machine with --machine ID (a file in data/machines/), or pass --no-save")
    machine = _load_machine(data, machine_id) if machine_id else None
    try:
        import torch  # noqa: F401, PLC0415
    except ImportError:
        err.print("costperf run needs torch: pip install 'costperf[bench]' (see README).", markup=False)
        sys.exit(2)
    if nproc_per_node is not None:
        from torch.distributed.elastic.multiprocessing.api import SignalException  # noqa: PLC0415

        from collectors.distributed.cli import run_distributed  # noqa: PLC0415

        try:
            sys.exit(run_distributed(data, machine_id, machine, nproc_per_node, nnodes, rdzv_endpoint, suite,
                                     workloads, device, "estimate" if power_estimate else energy, no_save))
        except SignalException as exc:
            # torchrun's agent takes SIGTERM and Ctrl-C over while the ranks run: it stops them (rank 0 keeps
            # what finished, the task it was in as an error result) and raises this, not KeyboardInterrupt.
            err.print(f"Stopped by {signal.Signals(exc.sigval).name}: torchrun stopped the ranks; rank 0's "
                      "'wrote' line above, if any, names the run file it kept.", markup=False)
            sys.exit(128 + exc.sigval)
    from collectors import runner  # noqa: PLC0415

    opts = runner.RunOptions(suite=suite, workloads=workloads, device=device,
                             energy="estimate" if power_estimate else energy, gguf=gguf, llama_bench=llama_bench)
    if list_only:
        try:
            ctx, tasks, info = runner.prepare(opts, machine)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        console.print(f"{'task':45s} {'workload':12s} estimate", markup=False)
        for t in tasks:
            console.print(f"{t.id:45s} {t.workload:12s} ~{t.est_s:.0f} s", markup=False)
        total = sum(t.est_s for t in tasks)
        console.print(f"{len(tasks)} task(s) in the {suite} suite, about {total / 60:.0f} min in all "
                      f"(~{total:.0f} s; estimates, not measured)", markup=False)
        return
    if any(not w.strip() for w in workloads):
        raise click.UsageError("--workload '': expected a workload or task id (see --list); an empty one "
                               "would select nothing, not the whole suite")
    if workloads:
        try:
            _, tasks, _ = runner.prepare(opts, machine)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        if not tasks:
            raise click.UsageError(f"--workload {' '.join(workloads)} matches no task of the {suite} suite (see --list)")

    # The first SIGTERM or Ctrl-C interrupts the run and the runner keeps what finished; later ones wait
    # until the record is written (stop_signal.RunSignals), the third forcing the exit.
    state = runner.RunState(started_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
    path: Path | None = None
    with stop_signal.run_signals() as signals:
        try:
            record = _run_with_progress(opts, machine, machine_id or "unsaved", costperf_version(), state,
                                        signals.begin_saving)
            interrupted = record.status == "interrupted"
            console.print(summary(record, machine))
            if not no_save and (record.results or not interrupted):
                try:
                    path = store.write_run(data, record)
                except store.RunNotSaved as exc:
                    err.print(str(exc), markup=False, soft_wrap=True)
                    if exc.recovered is None:
                        sys.stderr.write(exc.text)  # the results themselves: the last place they exist
                    sys.exit(1)
        except KeyboardInterrupt:
            if not signals.forced:
                raise
            err.print(f"Stopped by a third signal while the run was being saved: no run file written "
                      "(no file was left half-written).", markup=False)
            sys.exit(signals.status())
    by = f" by {stop_signal.interrupt_name()}" if interrupted else ""
    waited = f"; {_names(signals.queued)} waited until it was saved" if signals.queued else ""
    if no_save:
        if interrupted:  # the summary shows what finished; the status says it was cut short
            err.print(f"Interrupted{by}: nothing written (--no-save){waited}.", markup=False)
        elif signals.queued:
            err.print(f"{_names(signals.queued)} arrived as the run finished: nothing written (--no-save).",
                      markup=False)
        if interrupted or signals.signals:
            sys.exit(signals.status())
        return
    if path is None:
        err.print(f"Interrupted{by} before any workload finished: nothing written.", markup=False)
        sys.exit(signals.status())
    console.print(f"Wrote {path} ({len(record.results)} results, {record.status}{by}){waited}.", markup=False)
    failed = [r for r in record.results if r.status in ("error", "oom")]
    if failed:
        err.print(f"{len(failed)} workload(s) failed: " + ", ".join(f"{r.workload} ({r.status})" for r in failed),
                  markup=False)
    if interrupted or signals.signals:  # or stopped while the finished run was saved: the first signal's status
        sys.exit(signals.status())
    if failed:
        sys.exit(1)


def _names(signals: list[int]) -> str:
    return " and ".join(stop_signal.signal_name(s) for s in signals)


def _run_with_progress(opts: Any, machine: Machine | None, machine_id: str, version: str, state: Any,
                       on_saving: Any = lambda: None) -> RunRecord:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn  # noqa: PLC0415

    from collectors import runner  # noqa: PLC0415

    progress = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                        TimeRemainingColumn(), console=err, transient=False)
    bar: dict[str, Any] = {}
    log = err.is_terminal is False

    def on_start(task: Any, i: int, n: int) -> None:
        if "id" not in bar:
            bar["id"] = progress.add_task("starting", total=None)
        progress.update(bar["id"], description=f"[{i + 1}/{n}] {task.id}")

    def on_done(task: Any, results: list[Result], seconds: float) -> None:
        progress.advance(bar["id"], task.est_s)
        if log:
            for r in results:
                fig = f"{_fmt(r.throughput.median)} {r.throughput.unit} (cv {100 * r.throughput.cv:.1f}%)" \
                    if r.throughput else (r.message or _label(r))[:100]  # a fit verdict: which shape
                err.print(clean(f"  {task.id}: {r.status} {fig}"), markup=False)
            err.print(f"  ({seconds:.1f} s)", markup=False)

    try:
        ctx, tasks, _ = runner.prepare(opts, machine)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    total = sum(t.est_s for t in tasks)
    with progress:
        bar["id"] = progress.add_task("starting", total=total)
        try:
            return runner.run(opts, machine, machine_id, version, on_start, on_done, state, on_saving)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None


COMMANDS = [run_command]
