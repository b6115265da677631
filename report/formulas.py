"""Every formula of the report, once: tokens per joule and per dollar, MFU, the roofline, what fits in
memory, the Pareto front and how provenance combines.

The definitions are those of DESIGN.md ("Definitions the report must use"); `report/methodology.qmd`
prints them with the assumptions in `report.assumptions.Assumptions`. Pure functions of numbers (and
one DataFrame for the Pareto front): the tables that apply them are built elsewhere.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from report.assumptions import Assumptions

PROVENANCE_ORDER = ["measured", "published", "estimated"]
"""Best first: a headline figure comes from the best provenance available for the machine."""


def tokens_per_joule(tokens_per_s: float | None, avg_w: float | None) -> float | None:
    """tokens/s ÷ W = tokens/J."""
    if not tokens_per_s or not avg_w:
        return None
    return tokens_per_s / avg_w


def model_tflops(tokens_per_s: float | None, flops_per_token: float | None) -> float | None:
    """Achieved model TFLOP/s: tokens/s x FLOPs per token (6N + attention for training)."""
    if not tokens_per_s or not flops_per_token:
        return None
    return tokens_per_s * flops_per_token / 1e12


def model_flops_utilisation(tokens_per_s: float | None, flops_per_token: float | None,
                            peak_tflops: float | None) -> float | None:
    """MFU: achieved model FLOP/s (tokens/s x FLOPs per token, 6N + attention for training) over the
    accelerator's published peak dense BF16 FLOP/s (PaLM appendix B, as nanoGPT computes it)."""
    achieved = model_tflops(tokens_per_s, flops_per_token)
    if achieved is None or not peak_tflops:
        return None
    return achieved / peak_tflops


def matmul_share(achieved_tflops: float | None, matmul_tflops: float | None) -> float | None:
    """Achieved model TFLOP/s over the same machine's measured dense matrix multiply of the same
    precision: the share of what the chip sustains, within its power limit, on the work a training
    step is mostly made of (MFU's peak is the spec sheet's, at a clock a power-capped chip may not hold)."""
    if not achieved_tflops or not matmul_tflops:
        return None
    return achieved_tflops / matmul_tflops


def window_tokens_per_joule(tps: float | None, energy: Any) -> float | None:
    """Tokens per joule of a measured result from its own energy window: the tokens counted inside
    the window over the joules it read (the same repeats that gave tokens/s); tokens/s over the
    window's average watts when the run did not count the tokens."""
    if energy is None:
        return None
    if energy.tokens:
        return energy.tokens / energy.joules
    return tokens_per_joule(tps, energy.avg_w)


def tokens_over_period(tokens_per_s: float, a: Assumptions) -> float:
    """Tokens a purchased machine produces over the amortisation period at the stated use."""
    return tokens_per_s * a.active_hours() * 3600.0


def electricity_usd(avg_w: float | None, a: Assumptions, idle_w: float | None = None) -> float:
    """Cost of the electricity: load W × active hours + idle W × idle hours → kWh × $/kWh (the load
    part is 0 when power is unknown; the idle part only where an idle figure is known)."""
    kwh = (avg_w or 0.0) * a.active_hours() / 1000.0 + (idle_w or 0.0) * a.idle_hours() / 1000.0
    return kwh * a.usd_per_kwh


def tokens_per_dollar_purchase(tokens_per_s: float | None, price_usd: float | None, avg_w: float | None,
                               a: Assumptions, idle_w: float | None = None) -> float | None:
    """Tokens over the amortisation period ÷ (purchase price + electricity at load and at idle)."""
    if not tokens_per_s or not price_usd:
        return None
    return tokens_over_period(tokens_per_s, a) / (price_usd + electricity_usd(avg_w, a, idle_w))


def tokens_per_dollar_cloud(tokens_per_s: float | None, usd_per_hour: float | None,
                            utilisation: float = 1.0) -> float | None:
    """Tokens per paid hour ÷ hourly price: tokens/s × 3,600 × utilisation, since a rented hour that
    sits idle is paid too (electricity is in the price)."""
    if not tokens_per_s or not usd_per_hour:
        return None
    return tokens_per_s * 3600.0 * utilisation / usd_per_hour


def largest_model_b(usable_gb: float | None, bits: int, kv_cache_gb: float) -> float | None:
    """Largest parameter count (billions) whose weights at `bits` fit beside the KV-cache allowance."""
    if usable_gb is None:
        return None
    return max(usable_gb - kv_cache_gb, 0.0) * 8.0 / bits


def model_fits(params_b: float, bits: int, usable_gb: float | None, kv_cache_gb: float) -> bool:
    largest = largest_model_b(usable_gb, bits, kv_cache_gb)
    return largest is not None and params_b <= largest


def effective_bandwidth_gbps(tokens_per_s: float | None, bytes_per_token: float | None) -> float | None:
    """Bytes read per second implied by a decode rate (the roofline's left side)."""
    if not tokens_per_s or not bytes_per_token:
        return None
    return tokens_per_s * bytes_per_token / 1e9


def roofline_efficiency(effective_gbps: float | None, peak_gbps: float | None) -> float | None:
    """Effective ÷ peak bandwidth; above 1 is physically impossible (an error in the data)."""
    if not effective_gbps or not peak_gbps:
        return None
    return effective_gbps / peak_gbps


def roofline_decode_tokens_per_s(bandwidth_gbps: float, read_gb_per_token: float) -> float:
    """Memory-bound decode ceiling: bandwidth ÷ bytes read per token."""
    return bandwidth_gbps / read_gb_per_token


def per_usable_gb(value: float | None, usable_gb: float | None) -> float | None:
    if value is None or not usable_gb:
        return None
    return value / usable_gb


def pareto_front(df: pd.DataFrame, cost: str, benefit: str) -> pd.Series:
    """True for rows no other row beats (cheaper or equal and faster, or cheaper and as fast)."""
    ok = df[cost].notna() & df[benefit].notna()
    front = pd.Series(False, index=df.index)
    sub = df[ok].sort_values([cost, benefit], ascending=[True, False])
    best = float("-inf")
    for idx, value in sub[benefit].items():
        if value > best:
            front[idx] = True
            best = value
    return front


def weakest(*provenances: str | None) -> str:
    """The weakest provenance among a derived figure's inputs."""
    known = [p for p in provenances if p]
    return max(known, key=PROVENANCE_ORDER.index) if known else "estimated"


PCIE_X16_GBPS = {1: 4.0, 2: 8.0, 3: 15.75, 4: 31.5, 5: 63.0, 6: 121.0, 7: 242.0}
"""PCIe bandwidth of an x16 link, one direction, GB/s, per generation (the seed article's claim 8)."""


def pcie_gbps(generation: int, lanes: int) -> float:
    return PCIE_X16_GBPS[generation] * lanes / 16
