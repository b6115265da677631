"""One claim's check: its verdict, the evidence, the numbers compared and the margin.

Verdicts: `supported` only when every part of the claim is checked by data and holds;
`contradicted` when a checked part fails; `partly` when some parts hold and others are unchecked
(or fail); `not measured yet` when nothing in the data decides it. `missing` names the unchecked
part, so a reader knows what measurement would settle it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from report.metrics import Report
from report.present import number

SUPPORTED, PARTLY, CONTRADICTED, NOT_MEASURED = "supported", "partly", "contradicted", "not measured yet"
VERDICTS = (SUPPORTED, PARTLY, CONTRADICTED, NOT_MEASURED)


@dataclass
class Check:
    number: int
    claim: str
    article: str  # the article's figures as the seed notes give them
    would_check: str  # what measurement would decide it
    verdict: str = NOT_MEASURED
    evidence_for: list[str] = field(default_factory=list)
    evidence_against: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)  # 'a X vs b Y: margin' lines
    missing: list[str] = field(default_factory=list)  # parts of the claim no data checks yet
    seed_ids: tuple[str, ...] = ()

    def compare(self, what: str, a_name: str, a: float, b_name: str, b: float, unit: str) -> float:
        """Record 'what: a vs b (ratio×, difference)' and return a ÷ b."""
        ratio = a / b if b else float("inf")
        self.compared.append(f"{what}: {a_name} {number(a)} vs {b_name} {number(b)} {unit} "
                             f"(margin {ratio:.2f}×, {a - b:+,.4g} {unit})")
        return ratio


def combine(parts: list[bool | None]) -> str:
    """The verdict of a claim from its parts: True holds, False fails, None unchecked."""
    checked = [p for p in parts if p is not None]
    if not checked:
        return NOT_MEASURED
    if all(checked) and len(checked) == len(parts):
        return SUPPORTED
    if not any(checked):
        return CONTRADICTED
    return PARTLY


def machine(r: Report, machine_id: str) -> pd.Series | None:
    rows = r.machines[r.machines["machine"] == machine_id]
    return rows.iloc[0] if not rows.empty else None


def gbps(v: float | None) -> str:
    return f"{number(v)} GB/s"
