"""Classification of settings: 8B-class models, precision classes, workload kinds, vendors by name."""

from __future__ import annotations

import re

import pandas as pd


_EIGHT_B = re.compile(r"(?<![0-9.])(7|8)(\.0)?\s*b\b", re.IGNORECASE)


def is_8b_class(model: str | None) -> bool:
    """Llama-2-7B / Llama-3-8B class models (the headline's reference size)."""
    return isinstance(model, str) and bool(_EIGHT_B.search(model.replace("_", "-")))


def eight_b_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of 8B-class models (a boolean mask, so an empty table keeps its columns)."""
    return df[df["model"].map(is_8b_class).astype(bool)]


def products_dtype(dtype: str | None) -> str:
    """The dtype a figure's matrix products ran in: the precision before any qualifier ("bf16" for
    "bf16-autocast"), the one a measured matmul of that machine is compared in."""
    return str(dtype).split("-")[0]


def precision_class(dtype: str | None) -> str:
    d = (dtype or "").lower()
    if not d:
        return "unknown"
    if any(k in d for k in ("bf16", "fp16", "f16", "float16", "half")):
        return "16-bit"
    if any(k in d for k in ("fp32", "f32", "float32")):
        return "32-bit"
    if any(k in d for k in ("int8", "q8", "fp8", "8bit", "8-bit")):
        return "8-bit"
    if any(k in d for k in ("q4", "int4", "nf4", "fp4", "4bit", "4-bit")):
        return "4-bit"
    return "other"


def workload_kind(workload: str) -> str:
    if workload in ("prefill", "decode"):
        return workload
    if workload.startswith("train"):
        return "train"
    return "micro"


def guess_vendor(hardware: str) -> str:
    h = hardware.lower()
    if re.search(r"\b(apple|mac|m[1-9])\b", h):
        return "apple"
    if re.search(r"nvidia|rtx|gtx|\bh100\b|\bh200\b|\ba100\b|dgx|jetson|gb10|\bl4\b|\bb200\b", h):
        return "nvidia"
    if re.search(r"\bamd\b|radeon|\bmi[23]\d\d", h):
        return "amd"
    return "other"
