"""llama-bench's model description (llama_model_desc: 'llama 7B Q4_0') to a model name and a dtype."""

from __future__ import annotations

import re

_SIZE_TOKEN = re.compile(r"^(?:\?B|[\d.]+[KMBT](?:\.A[\d.]+[KMBT])?|\d+x[\d.]+[KMBT])$", re.IGNORECASE)


def _split_desc(desc: str) -> tuple[str, str, str]:
    """'llama 7B Q4_0' -> ('llama', '7B', 'Q4_0'): llama_model_desc prints arch, size, file type."""
    parts = desc.split()
    if len(parts) >= 3 and _SIZE_TOKEN.match(parts[1]):
        return parts[0], parts[1], " ".join(parts[2:])
    return (parts[0] if parts else desc), "", " ".join(parts[1:])


def dtype_of(desc: str) -> str:
    """Weight type from llama-bench's model_type: 'Q4_K - Medium' -> q4_k_m, 'mostly Q4_0' -> q4_0."""
    ftype = _split_desc(desc)[2]
    ftype = re.sub(r"\(guessed\)", "", ftype)
    ftype = re.sub(r"^(mostly|all)\s+", "", ftype.strip(), flags=re.IGNORECASE)
    ftype = re.sub(r"\s+MoE$", "", ftype.strip())
    m = re.match(r"^(\S+)\s*-\s*(Small|Medium|Large)$", ftype.strip(), re.IGNORECASE)
    if m:  # K-quant mixes: 'Q4_K - Medium' -> q4_k_m
        return f"{m.group(1)}_{m.group(2)[0]}".lower()
    ftype = re.sub(r"\s*-\s*[\d.]+\s*bpw.*$", "", ftype)  # 'IQ4_XS - 4.25 bpw' -> IQ4_XS
    return ftype.strip().lower().replace(" ", "_") or "unknown"


def model_of(desc: str) -> str:
    """Model shape name from model_type: 'llama 7B Q4_0' -> 'llama-7b'."""
    arch, size, _ = _split_desc(desc)
    return f"{arch}-{size}".lower() if size else arch.lower()
