"""Physics checks: figures in data/ that the hardware cannot have produced, or that sit oddly far from it.

Pure functions over a loaded `DataSet`; each problem is a `Flag` naming file, field and why.
`costperf validate` prints them, and the report calls `check(ds)` to mark rows (flagged rows are
shown as flagged, never dropped).

Two severities:
- violation: a measured figure beyond a physical limit, a data error. `costperf validate` exits 1.
  decode tokens/s x bytes read per token > memory bandwidth x 1.05 (runs, with the run's own
  `bytes_per_token`); training FLOP/s (tokens/s x flops_per_token, or a TFLOP/s micro-benchmark)
  > the accelerators' peak; average power > TDP x 1.2; usable memory > total memory; peak memory
  of a run > the memory of the device it ran on; a name of a machine that does not exist.
- review: a published decode figure whose estimated roofline fraction is above 100% or below 10%.
  Its bytes per token are estimated (below), so it is a question for a person, not an error;
  `costperf validate --strict` exits 1 on these too.

Bytes per token of a published row are estimated as weights read once per decoded token:
(parameters - input-embedding parameters, or the active parameters of a mixture of experts)
x bits per weight / 8. The input embedding is a row lookup, the output head is read in full; KV
cache reads at 128-512 tokens of context are left out (about 1% for a 7B model). For LLaMA/Llama 2
7B at q4_0: (6.74e9 - 0.131e9) x 4.5 / 8 = 3.72 GB (llama-bench's file size: 3.56 GiB = 3.82 GB).
The estimate is good to a few percent for dense models, rougher for mixtures of experts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from collectors.records import Machine, PublishedResult, PublishedSet, Result, RunRecord
from collectors.store import DataSet

BANDWIDTH_TOLERANCE = 1.05  # spec bandwidths are rounded; measured copies reach ~90% of them
FLOPS_TOLERANCE = 1.00  # a spec peak is at boost clock already: nothing measured may exceed it
POWER_TOLERANCE = 1.20  # TDP is a sustained figure; short boosts and meter error sit above it
REVIEW_LOW, REVIEW_HIGH = 0.10, 1.00  # published decode outside 10-100% of its roofline: ask a person
CACHE_RESIDENT_BYTES = 0.5e9  # below this a model can live in on-chip caches (H100 L2 50 MB, Apple SLC,
# server L3 up to ~1 GB): its decode is not bound by DRAM bandwidth, so the roofline check is skipped.

Severity = Literal["violation", "review"]

# Bits per weight, whole file. Block layouts of ggml (q4_0: 18 bytes per 32 weights = 4.5; q8_0: 34
# per 32 = 8.5; mxfp4: 17 per 32 = 4.25); K-quant mixes as measured on Llama 2 7B in llama.cpp's
# tools/quantize/README.md; MLX affine quantisation stores an fp16 scale and bias per 64 weights
# (+0.5 bit). Names are lower-case as PublishedResult.dtype and llama-bench imports write them.
BITS_PER_WEIGHT: dict[str, float] = {
    "f32": 32, "fp32": 32, "f16": 16, "fp16": 16, "bf16": 16, "16bit": 16,
    "q8_0": 8.5, "q6_k": 6.56, "q5_k_m": 5.68, "q5_k_s": 5.52, "q5_1": 6.0, "q5_0": 5.5,
    "q4_k_m": 4.84, "q4_k_s": 4.58, "q4_1": 5.0, "q4_0": 4.5, "iq4_xs": 4.25, "iq4_nl": 4.5, "mxfp4": 4.25,
    "q3_k_l": 4.27, "q3_k_m": 3.91, "q3_k_s": 3.50, "q2_k": 3.35,
    "8bit": 8.5, "6bit": 6.5, "4bit": 4.5, "int8": 8.0,
}


@dataclass(frozen=True)
class ModelShape:
    """Parameter counts of a reference model (from its published config: layers, hidden size, vocab)."""

    params: float
    input_embedding: float  # vocab x hidden of the input table when untied (0 when tied to the head)
    active: float | None = None  # parameters read per token by a mixture of experts


# LLaMA 7B and Llama 2 7B share a shape (vocab 32000, hidden 4096); Llama 3/3.1 8B: vocab 128256,
# hidden 4096; 70B: hidden 8192. gpt-oss: OpenAI model card (total / active per token);
# Qwen3-30B-A3B: 30.5B total, 3.3B active (Qwen model card). Aliases are llama-bench's own names.
MODEL_SHAPES: dict[str, ModelShape] = {
    "llama-2-7b": ModelShape(6.74e9, 32000 * 4096),
    "llama-3-8b": ModelShape(8.03e9, 128256 * 4096),
    "llama-3-70b": ModelShape(70.55e9, 128256 * 8192),
    "llama-2-70b": ModelShape(68.98e9, 32000 * 8192),
    "qwen2.5-72b": ModelShape(72.71e9, 152064 * 8192),
    "gpt-oss-20b": ModelShape(20.9e9, 0, active=3.6e9),
    "gpt-oss-120b": ModelShape(116.8e9, 0, active=5.1e9),
    "qwen3-30b-a3b": ModelShape(30.5e9, 0, active=3.3e9),
}
MODEL_ALIASES = {
    "llama-7b": "llama-2-7b", "codellama-7b": "llama-2-7b", "llama-8b": "llama-3-8b", "llama-3.1-8b": "llama-3-8b",
    "llama-70b": "llama-3-70b",
    "llama-3.1-70b": "llama-3-70b", "qwen3moe-30b.a3b": "qwen3-30b-a3b",
}


@dataclass(frozen=True)
class Flag:
    """One figure physics questions: where it is, what is wrong, how sure we are."""

    path: Path
    field: str
    message: str
    severity: Severity
    check: str
    record: str  # machine id, run '<machine>/<stamp>', or published set id
    index: int | None = None  # result or row index inside the record

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Roofline:
    """Decode tokens/s against the memory-bandwidth limit."""

    tokens_per_s: float
    bytes_per_token: float
    bandwidth_gbps: float
    bandwidth_from: str
    bytes_from: str

    @property
    def effective_gbps(self) -> float:
        return self.tokens_per_s * self.bytes_per_token / 1e9

    @property
    def fraction(self) -> float:
        return self.effective_gbps / self.bandwidth_gbps

    @property
    def ceiling_tokens_per_s(self) -> float:
        return self.bandwidth_gbps * 1e9 / self.bytes_per_token

    def describe(self) -> str:
        return (f"{self.tokens_per_s:,.2f} tok/s x {self.bytes_per_token / 1e9:.2f} GB/token ({self.bytes_from}) "
                f"= {self.effective_gbps:,.0f} GB/s = {self.fraction:.0%} of {self.bandwidth_gbps:,.0f} GB/s "
                f"({self.bandwidth_from})")


# ---------------------------------------------------------------------------------------------
# Estimates the report can call too


def bits_per_weight(dtype: str) -> float | None:
    """Bits per weight of a format, whole file (`BITS_PER_WEIGHT`); None for an unknown one. The one
    rule for both the physics checks and the report's ceilings and which-model-fits figures."""
    return BITS_PER_WEIGHT.get(dtype.strip().lower())


def estimate_bytes_per_token(model: str, dtype: str) -> tuple[float, str] | None:
    """Weight bytes read per decoded token and how they were estimated; None for an unknown model or dtype."""
    key = model.strip().lower()
    shape = MODEL_SHAPES.get(MODEL_ALIASES.get(key, key))
    bits = bits_per_weight(dtype)
    if shape is None or bits is None:
        return None
    if shape.active is not None:
        n, how = shape.active, f"{shape.active / 1e9:.2f}B active params"
    else:
        n = shape.params - shape.input_embedding
        how = f"{shape.params / 1e9:.2f}B params less {shape.input_embedding / 1e9:.2f}B input embedding"
    return n * bits / 8, f"est. {how} x {bits:g} bits ({dtype})"


def _looks_moe(model: str) -> bool:
    text = model.lower()
    return "moe" in text or "gpt-oss" in text or bool(re.search(r"\d+x\d|[.-]a\d", text))


def bandwidth_of(machine: Machine) -> float | None:
    """Peak memory bandwidth, GB/s, summed over the machine's accelerators (an upper bound when split)."""
    total = 0.0
    for acc in machine.accelerators:
        if acc.memory_bandwidth_gbps is None:
            return None
        total += acc.memory_bandwidth_gbps * acc.count
    return total


def peak_tflops(machine: Machine) -> float | None:
    """Highest published dense peak (bf16, fp16 or fp32 tensor), TFLOP/s, over all accelerators."""
    total = 0.0
    for acc in machine.accelerators:
        peaks = [p for p in (acc.peak_bf16_tflops, acc.peak_fp16_tflops, acc.peak_fp32_tflops) if p]
        if not peaks:
            return None
        total += max(peaks) * acc.count
    return total


def published_roofline(ds: DataSet, row: PublishedResult) -> Roofline | None:
    """Roofline of a published single-stream decode figure, when its machine and model are known."""
    if row.workload != "decode" or (row.batch or 1) > 1:
        return None
    estimate = estimate_bytes_per_token(row.model, row.dtype)
    size = row.settings.get("model_size")
    if estimate is None and isinstance(size, int) and not isinstance(size, bool) and size > 0 \
            and not _looks_moe(row.model):
        # llama-bench rows carry the file's tensor bytes: every weight read once per token.
        estimate = float(size), "llama-bench model_size (all tensor bytes)"
    if estimate is None:
        return None
    machine = ds.machines.get(row.machine) if row.machine else None
    bw = bandwidth_of(machine) if machine else None
    if bw is not None:
        source = f"machine {machine.id}"  # type: ignore[union-attr]
    else:
        published_bw = row.settings.get("memory_bandwidth_gbps")
        if not isinstance(published_bw, (int, float)) or isinstance(published_bw, bool) or published_bw <= 0:
            return None
        bw, source = float(published_bw), "bandwidth as the publication lists it"
    return Roofline(row.tokens_per_s, estimate[0], bw, source, estimate[1])


def run_roofline(machine: Machine, result: Result) -> Roofline | None:
    """Roofline of a measured decode result that recorded its bytes per token."""
    if not result.workload.startswith("decode") or result.status != "ok" or result.throughput is None:
        return None
    if result.throughput.unit != "tokens/s" or result.bytes_per_token is None or (result.params.batch or 1) > 1:
        return None
    bw = bandwidth_of(machine)
    if bw is None:
        return None
    return Roofline(result.throughput.median, result.bytes_per_token, bw, f"machine {machine.id}",
                    "the run's bytes_per_token")


# ---------------------------------------------------------------------------------------------
# Checks


def check(ds: DataSet) -> list[Flag]:
    """Every physics flag in a loaded data folder, in file order."""
    flags: list[Flag] = []
    for item in ds.files:
        rec = item.record
        if isinstance(rec, Machine):
            flags += list(_machine_flags(item.path, rec))
        elif isinstance(rec, RunRecord):
            machine = ds.machines.get(rec.machine)
            if machine is not None:
                flags += list(_run_flags(item.path, rec, machine))
        elif isinstance(rec, PublishedSet):
            flags += list(_published_flags(ds, item.path, rec))
    return flags


def flags_by_record(flags: list[Flag]) -> dict[tuple[str, int | None], list[Flag]]:
    """Flags keyed by (record, index), for the report to mark its rows."""
    out: dict[tuple[str, int | None], list[Flag]] = {}
    for f in flags:
        out.setdefault((f.record, f.index), []).append(f)
    return out


def _machine_flags(path: Path, m: Machine) -> Iterator[Flag]:
    total = m.total_accelerator_memory_gb
    if m.usable_memory_gb > total + 1e-9:
        yield Flag(path, "usable_memory", f"usable memory {m.usable_memory_gb:,.1f} GB exceeds the "
                   f"{total:,.1f} GB the machine has", "violation", "usable-memory", m.id)


def _run_flags(path: Path, run: RunRecord, m: Machine) -> Iterator[Flag]:
    key = f"{run.machine}/{run.stamp}"
    for i, r in enumerate(run.results):
        where = f"results.{i}"
        roof = run_roofline(m, r)
        if roof is not None and roof.bytes_per_token >= CACHE_RESIDENT_BYTES and \
                roof.fraction > BANDWIDTH_TOLERANCE:
            yield Flag(path, f"{where}.throughput", f"{r.workload}: {roof.describe()}, above the memory bandwidth "
                       f"(+{BANDWIDTH_TOLERANCE - 1:.0%} tolerance): physically impossible", "violation",
                       "decode-roofline", key, i)
        yield from _flops_flags(path, where, r, m, key, i)
        if r.energy is not None:
            # a distributed result's energy is every rank's GPU board, summed: one GPU per rank
            ranks = r.distributed.world_size if r.distributed is not None else 1
            limit, what = _power_limit(m, r.energy.covers, ranks)
            if limit is not None and r.energy.avg_w > limit * POWER_TOLERANCE:
                yield Flag(path, f"{where}.energy.avg_w", f"average {r.energy.avg_w:,.0f} W ({r.energy.covers}) "
                           f"exceeds {what} {limit:,.0f} W by more than {POWER_TOLERANCE - 1:.0%}", "violation",
                           "power-tdp", key, i)
        if r.peak_memory_gb is not None:
            on_cpu = run.environment.backend in ("cpu", "none") and m.system_ram_gb is not None
            cap = m.system_ram_gb if on_cpu else m.total_accelerator_memory_gb
            if cap is not None and r.peak_memory_gb > cap + 1e-9:
                yield Flag(path, f"{where}.peak_memory_gb", f"peak memory {r.peak_memory_gb:,.1f} GB exceeds the "
                           f"{cap:,.1f} GB of {'system RAM' if on_cpu else 'accelerator memory'}", "violation",
                           "peak-memory", key, i)


def _flops_flags(path: Path, where: str, r: Result, m: Machine, key: str, i: int) -> Iterator[Flag]:
    if r.status != "ok" or r.throughput is None:
        return
    peak = peak_tflops(m)
    if peak is None:
        return
    if r.throughput.unit == "TFLOP/s":
        achieved, how = r.throughput.median, "measured"
    elif r.workload.startswith("train") and r.throughput.unit == "tokens/s" and r.flops_per_token:
        achieved = r.throughput.median * r.flops_per_token / 1e12
        how = f"{r.throughput.median:,.0f} tok/s x {r.flops_per_token:.3g} FLOP/token"
    else:
        return
    if achieved > peak * FLOPS_TOLERANCE:
        yield Flag(path, f"{where}.throughput", f"{r.workload}: {achieved:,.1f} TFLOP/s ({how}) exceeds the "
                   f"accelerators' peak {peak:,.0f} TFLOP/s: physically impossible", "violation", "peak-flops", key, i)


def _power_limit(m: Machine, covers: str, devices: int = 1) -> tuple[float | None, str]:
    if m.power is None:
        return None, ""
    tdp = m.power.accelerator_tdp_w
    count = max(sum(a.count for a in m.accelerators), devices)
    if covers == "gpu_board" and tdp is not None:
        return tdp * count, "the accelerator TDP" + (f" x {count}" if count > 1 else "")
    # A part (SoC, CPU package, DRAM) or the whole box cannot draw more than the box's maximum.
    if m.power.system_max_w is not None:
        return m.power.system_max_w, "the system maximum"
    return None, ""


def _published_flags(ds: DataSet, path: Path, ps: PublishedSet) -> Iterator[Flag]:
    for i, row in enumerate(ps.results):
        roof = published_roofline(ds, row)
        if roof is not None and not (REVIEW_LOW <= roof.fraction <= REVIEW_HIGH):
            side = "above" if roof.fraction > REVIEW_HIGH else "below"
            yield Flag(path, f"results.{i}.tokens_per_s", f"{row.hardware}, {row.model} {row.dtype} decode: "
                       f"{roof.describe()}; {side} the {REVIEW_LOW:.0%}-{REVIEW_HIGH:.0%} band: review the row",
                       "review", "published-roofline", ps.id, i)
        machine = ds.machines.get(row.machine) if row.machine else None
        if row.avg_w is not None and machine is not None and machine.power is not None:
            limits = [x for x in (_power_limit(machine, "gpu_board")[0], machine.power.system_max_w) if x]
            if limits and row.avg_w > max(limits) * POWER_TOLERANCE:
                yield Flag(path, f"results.{i}.avg_w", f"published {row.avg_w:,.0f} W exceeds {machine.id}'s "
                           f"power limit {max(limits):,.0f} W by more than {POWER_TOLERANCE - 1:.0%}", "review",
                           "power-tdp", ps.id, i)
    for i, claim in enumerate(ps.claims):
        if claim.machine is not None and claim.machine not in ds.machines:
            yield Flag(path, f"claims.{i}.machine", f"names unknown machine {claim.machine!r}", "violation",
                       "unknown-machine", ps.id)


# ---------------------------------------------------------------------------------------------
# Cross-check: costperf's own measurements beside published figures at the same setting


@dataclass(frozen=True)
class CrossCheck:
    """A measured result and a published figure for the same machine, model, dtype, engine and test."""

    machine: str
    workload: str
    model: str
    dtype: str
    measured_tokens_per_s: float  # median of the run's samples
    published_tokens_per_s: float
    run: str  # '<machine>/<stamp>'
    published: str  # '<set id>#<row index>'
    published_url: str

    @property
    def ratio(self) -> float:
        """measured / published."""
        return self.measured_tokens_per_s / self.published_tokens_per_s


def _model_key(model: str | None) -> str:
    key = (model or "").strip().lower()
    return MODEL_ALIASES.get(key, key)


def cross_checks(ds: DataSet) -> list[CrossCheck]:
    """Pairs of a measured single-stream result and a published row that agree on machine, workload,
    model (aliases resolved), dtype, engine and the prompt/generation lengths the publication states."""
    out = []
    for run in ds.runs:
        for r in run.results:
            if r.status != "ok" or r.throughput is None or r.throughput.unit != "tokens/s" or (r.params.batch or 1) > 1:
                continue
            for ps in ds.published:
                for i, row in enumerate(ps.results):
                    if row.machine != run.machine or row.workload != r.workload or (row.batch or 1) > 1:
                        continue
                    same_dtype = row.dtype.lower() == (r.params.dtype or "").lower()
                    if _model_key(row.model) != _model_key(r.params.model) or not same_dtype:
                        continue
                    if (r.params.engine or "torch").lower() != row.engine.lower():
                        continue
                    if any(p is not None and p != q for p, q in ((row.prompt_tokens, r.params.prompt_tokens),
                                                                  (row.gen_tokens, r.params.gen_tokens))):
                        continue
                    cite = row.citation or ps.citation
                    out.append(CrossCheck(run.machine, r.workload, _model_key(row.model), row.dtype,
                                          r.throughput.median, row.tokens_per_s, f"{run.machine}/{run.stamp}",
                                          f"{ps.id}#{i}", cite.url))
    return out
