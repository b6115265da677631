"""What a figure was measured with: its setting's key, its label, and the one setting a ranking uses.

A ranking compares machines at one named setting (DESIGN.md, "One setting per ranking"): model,
precision, engine, compile mode and tuning, batch, and the prompt/generation length. The headline
setting is chosen from the data: the decode setting of one engine that the most machines have a
measured or published single-stream figure at (ties: the standard length, then more rows, then the
label). Prefill is read at the same model, precision and engine, pp512.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from collectors.physics import MODEL_ALIASES

STANDARD_LENGTH = {"decode": ("gen_tokens", 128), "prefill": ("prompt_tokens", 512)}
"""DESIGN.md's headline lengths (llama-bench's tg128 / pp512), so published figures line up."""

_BOOKKEEPING = ("samples",)
"""Extra parameters that describe how a figure was timed, not what was run (never part of a key)."""

ENGINE_INTERNALS = ("runner", "fused_gemv_b1", "fused_attention_b1", "attention_merge", "pdl", "pdl_attention",
                    "gemv_configs", "int8_convert", "triton_gemv_16bit", "loss",
                    # recorded by engines that had them: a GEMV reading a block ahead, and training
                    # with inductor's reduction split autotuned
                    "gemv_ahead", "reduction_split", "bias_grads",
                    # which kernels of an attention library ran, and on what layout
                    "attention_kernels")
"""How costperf's own torch engine did the work (which fused kernels, their block shapes, launch
mode, a fused or a torch loss, where bias gradients are made): recorded in the run file, never part
of a setting. The same model, precision, compile mode, tuning, batch and lengths measured by a newer
engine supersede the older figure, rather than stand beside it as an identical-looking row."""

RANK_COLUMNS = ["kind", "model", "dtype", "engine", "compile_mode", "tuning", "batch", "length", "ranks"]
"""What two figures must share to be ranked against each other."""


def given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and value != ""


def _setting_extra(extra: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in sorted((extra or {}).items())
            if k not in _BOOKKEEPING and k not in ENGINE_INTERNALS and not k.endswith("_per_repeat")}


def params_key(params: Any) -> tuple[Any, ...]:
    """Every parameter of a run's result (model, dtype, batch, lengths, compile mode, engine and each
    extra parameter such as pinned or pageable host memory, or coordinate-descent tuning): the
    latest figure per setting is kept per this key, so two settings never replace each other."""
    fields = params.model_dump()
    extra = _setting_extra(fields.pop("extra", None))
    return tuple(sorted(fields.items())) + tuple(extra.items())


def tuning(extra: dict[str, Any] | None) -> str | None:
    """What a figure ran with beyond its engine's defaults, as a label: the compiler's tuning
    ('coordinate-descent tuning') and an attention library in place of the framework's own
    ('FlashAttention-4', its version left to the extra parameters)."""
    extra = extra or {}
    parts = ["coordinate-descent tuning"] if extra.get("coordinate_descent_tuning") is True else []
    if given(extra.get("attention")):
        parts.append(str(extra["attention"]).split(" (")[0])
    return " · ".join(parts) or None


def extra_text(extra: dict[str, Any] | None) -> str | None:
    """The setting's extra parameters as 'name value' pairs (what tells two rows apart when the
    main fields agree: pinned vs pageable host memory, a block size ...)."""
    items = [f"{k.replace('_', ' ')} {v}" for k, v in _setting_extra(extra).items()
             if k != "coordinate_descent_tuning" and given(v)]
    return ", ".join(items) or None


def length_of(row: Any) -> int | None:
    column, _ = STANDARD_LENGTH.get(_get(row, "kind"), (None, None))
    if column is None or not given(_get(row, column)):
        return None
    return int(_get(row, column))


def is_standard_length(row: Any) -> bool:
    column, length = STANDARD_LENGTH.get(_get(row, "kind"), (None, None))
    return column is not None and given(_get(row, column)) and int(_get(row, column)) == length


def _get(row: Any, key: str) -> Any:
    return row.get(key) if hasattr(row, "get") else getattr(row, key, None)


def setting_label(row: Any) -> str:
    """'llama-3-8b · bf16 · torch reduce-overhead · coordinate-descent tuning · batch 16': model,
    precision, engine with compile mode, tuning, batch, and the length when it is not pp512/tg128."""
    engine = " ".join(str(_get(row, k)) for k in ("engine", "compile_mode") if given(_get(row, k)))
    parts = [str(_get(row, k)) for k in ("model", "dtype") if given(_get(row, k))] + ([engine] if engine else [])
    if given(_get(row, "tuning")):
        parts.append(str(_get(row, "tuning")))
    if given(_get(row, "batch")):
        parts.append(f"batch {int(_get(row, 'batch'))}")
    kind = _get(row, "kind")
    if kind in STANDARD_LENGTH and not is_standard_length(row):
        n = length_of(row)
        parts.append(f"{'tg' if kind == 'decode' else 'pp'}{n if n is not None else ' length unknown'}")
    ranks = _get(row, "ranks")
    if given(ranks) and ranks > 1:
        parts.append(f"{int(ranks)} ranks")
    return " · ".join(parts)


def labels(df: pd.DataFrame) -> list[str]:
    """A label per row; two rows of one machine and workload that would share a label and a source
    get what tells them apart appended: the extra parameters that differ between them (pinned or
    pageable host memory ...), else the hardware as the publication names it. Never two identical
    labels for two figures of one source."""
    out = [setting_label(row) for _, row in df.iterrows()]
    if df.empty:
        return out
    extras = list(df["extra"]) if "extra" in df.columns else [None] * len(df)
    hardware = list(df["hardware"]) if "hardware" in df.columns else [None] * len(df)
    rows = [row for _, row in df.iterrows()]

    def collisions(by_source: bool = True) -> list[list[int]]:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, row in enumerate(rows):
            key = (_get(row, "machine") if given(_get(row, "machine")) else _get(row, "name"),
                   _get(row, "workload"), out[i], _get(row, "source") if by_source else None)
            groups.setdefault(key, []).append(i)
        return [members for members in groups.values() if len(members) > 1]

    # first the extra parameters that differ between them, whatever their sources: two runs of one
    # machine at two settings (two attention kernels, say) are two sources and still two settings
    for members in collisions(by_source=False):
        items = [set(str(extras[i]).split(", ")) if given(extras[i]) else set() for i in members]
        common = set.intersection(*items)
        for i, mine in zip(members, items):
            differing = [x for x in str(extras[i]).split(", ") if x in mine - common] if given(extras[i]) else []
            if differing:
                out[i] = f"{out[i]} · {', '.join(differing)}"
    for members in collisions():  # then the hardware as the publication names it
        if len({hardware[j] for j in members}) > 1:
            for i in members:
                if given(hardware[i]):
                    out[i] = f"{out[i]} · as published: {hardware[i]}"
    return out


def model_key(model: Any) -> Any:
    """One name per model shape: llama-bench's 'llama-7b' is the Llama 2 7B shape the physics checks
    know as 'llama-2-7b' (collectors.physics.MODEL_ALIASES)."""
    if not isinstance(model, str):
        return model
    key = model.strip().lower()
    return MODEL_ALIASES.get(key, key)


def rank_key(row: Any) -> tuple[Any, ...]:
    """The setting two figures must share to be ranked together (RANK_COLUMNS); model names are
    compared by shape (`model_key`)."""
    out = []
    for col in RANK_COLUMNS:
        v = length_of(row) if col == "length" else _get(row, col)
        if col == "model":
            v = model_key(v)
        if col == "batch":
            v = int(v) if given(v) else 1
        elif col == "ranks":
            v = int(v) if given(v) else 1
        out.append(v if given(v) else None)
    return tuple(out)


@dataclass
class HeadlineSetting:
    """The one setting the overview ranks machines at, and how many machines have data at it."""

    decode_key: tuple[Any, ...]
    prefill_key: tuple[Any, ...]
    label: str
    prefill_label: str
    machines: int
    machine_ids: list[str] = field(default_factory=list)
    alternatives: list[tuple[str, int]] = field(default_factory=list)  # other decode settings, machines each

    @property
    def model(self) -> str:
        return self.decode_key[RANK_COLUMNS.index("model")]

    @property
    def dtype(self) -> str:
        return self.decode_key[RANK_COLUMNS.index("dtype")]

    @property
    def engine(self) -> str:
        return self.decode_key[RANK_COLUMNS.index("engine")]


def evidence(results: pd.DataFrame) -> pd.DataFrame:
    """Measured or published figures of known machines (never spec ceilings), with their rank key."""
    d = results[results["tokens_per_s"].notna() & results["machine"].notna()
                & results["provenance"].isin(["measured", "published"])].copy()
    d["rank_key"] = [rank_key(row) for _, row in d.iterrows()]
    return d


def choose_headline(results: pd.DataFrame, precision: str = "best",
                    precision_of: Any = None) -> HeadlineSetting | None:
    """The single-stream, one-device decode setting the most machines share (one engine), from the data."""
    d = evidence(results)
    d = d[(d["kind"] == "decode") & d["batch"].fillna(1).eq(1) & d["ranks"].fillna(1).eq(1)]
    if precision != "best" and precision_of is not None:
        d = d[d["dtype"].map(precision_of) == precision]
    if d.empty:
        return None
    counts = []
    for key, group in d.groupby("rank_key", dropna=False, sort=False):
        std = key[RANK_COLUMNS.index("length")] == STANDARD_LENGTH["decode"][1]
        counts.append((group["machine"].nunique(), std, len(group), setting_label(group.iloc[0]), key, group))
    counts.sort(key=lambda t: (-t[0], not t[1], -t[2], t[3]))
    n, std, _, label, key, group = counts[0]
    prefill = list(key)
    prefill[RANK_COLUMNS.index("kind")] = "prefill"
    prefill[RANK_COLUMNS.index("length")] = STANDARD_LENGTH["prefill"][1]
    pre_row = {**dict(zip(RANK_COLUMNS, prefill)), "prompt_tokens": STANDARD_LENGTH["prefill"][1]}
    if std:  # the card names its length even when it is the standard one
        label += f" · tg{STANDARD_LENGTH['decode'][1]}"
    return HeadlineSetting(decode_key=key, prefill_key=tuple(prefill), label=label,
                           prefill_label=f"{setting_label(pre_row)} · pp{STANDARD_LENGTH['prefill'][1]}",
                           machines=int(n),
                           machine_ids=sorted(group["machine"].unique()),
                           alternatives=[(t[3], int(t[0])) for t in counts[1:6]])


def at_key(d: pd.DataFrame, key: tuple[Any, ...]) -> pd.DataFrame:
    """The rows of `d` at exactly that rank key."""
    if d.empty:
        return d
    keys = [rank_key(row) for _, row in d.iterrows()]
    return d[[k == key for k in keys]]
