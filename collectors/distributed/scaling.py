"""Scaling figures as pure functions (no torch), for the report and the workers alike.

Definitions:
- scaling efficiency = tokens/s at N ranks / (N x tokens/s at 1 rank): 1.0 is perfect linear
  scaling, 0.5 means half the added hardware is wasted;
- all-reduce bandwidth as nccl-tests defines it (doc/PERFORMANCE.md of NVIDIA/nccl-tests):
  algorithm bandwidth algbw = S / t for a buffer of S bytes reduced in t seconds, and bus
  bandwidth busbw = algbw x 2(n-1)/n, which is comparable to the hardware link's bandwidth
  whatever the rank count, because a ring all-reduce moves 2(n-1)/n x S bytes through each link.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def scaling_efficiency(tokens_per_s_n: float, n: int, tokens_per_s_1: float) -> float:
    """tokens/s at `n` ranks / (`n` x tokens/s at one rank)."""
    if n < 1:
        raise ValueError(f"rank count must be at least 1, got {n}")
    if tokens_per_s_1 <= 0 or tokens_per_s_n <= 0:
        raise ValueError("throughputs must be positive")
    return tokens_per_s_n / (n * tokens_per_s_1)


def allreduce_bus_factor(n: int) -> float:
    """nccl-tests' all-reduce bus factor 2(n-1)/n (0 for one rank: nothing crosses a link)."""
    if n < 1:
        raise ValueError(f"rank count must be at least 1, got {n}")
    return 2.0 * (n - 1) / n


def algbw_gbps(size_bytes: float, seconds: float) -> float:
    """Algorithm bandwidth, GB/s (1e9 bytes, as nccl-tests prints)."""
    if seconds <= 0:
        raise ValueError("time must be positive")
    return size_bytes / seconds / 1e9


def busbw_gbps(size_bytes: float, seconds: float, n: int) -> float:
    """All-reduce bus bandwidth, GB/s = algbw x 2(n-1)/n."""
    return algbw_gbps(size_bytes, seconds) * allreduce_bus_factor(n)


def group_hourly_price(machine_hourly: float, devices_in_machine: int, world_size: int) -> float:
    """Hourly price of the devices a result used: a share of a cloud machine's hourly price, in
    proportion to the devices taking part (2 of 8 GPUs pay a quarter)."""
    if devices_in_machine < 1 or world_size < 1 or world_size > devices_in_machine:
        raise ValueError(f"world size {world_size} does not fit a machine of {devices_in_machine} device(s)")
    return machine_hourly * world_size / devices_in_machine


def tokens_per_dollar(tokens_per_s: float, hourly_price: float) -> float:
    """Tokens per dollar of rented time: tokens per hour / price per hour."""
    if hourly_price <= 0:
        raise ValueError("hourly price must be positive")
    return tokens_per_s * 3600.0 / hourly_price


def tokens_per_joule(tokens_per_s: float, avg_w: float) -> float:
    """Tokens per joule of the whole group: its tokens/s / the sum of its ranks' average watts."""
    if avg_w <= 0:
        raise ValueError("power must be positive")
    return tokens_per_s / avg_w


def scaling_table(results: Iterable[Any], workload: str) -> list[dict[str, Any]]:
    """Rows of (world_size, tokens/s, efficiency) for one workload from records.Result objects (or
    their dicts): ok results with a `distributed` block, grouped by params (model, batch, seq_len,
    dtype, compile mode), each group's one-rank result the baseline. Rows whose group has no
    one-rank result get efficiency None."""
    rows: dict[tuple[Any, ...], dict[int, float]] = {}
    for r in results:
        d = r if isinstance(r, Mapping) else r.model_dump()
        if d.get("workload") != workload or d.get("status") != "ok" or not d.get("distributed"):
            continue
        p = d.get("params") or {}
        key = (p.get("model"), p.get("batch"), p.get("seq_len"), p.get("dtype"), p.get("compile_mode"))
        rows.setdefault(key, {})[d["distributed"]["world_size"]] = d["throughput"]["median"]
    out = []
    for key, by_n in rows.items():
        base = by_n.get(1)
        for n in sorted(by_n):
            out.append({"model": key[0], "batch": key[1], "seq_len": key[2], "dtype": key[3],
                        "compile_mode": key[4], "world_size": n, "tokens_per_s": by_n[n],
                        "efficiency": scaling_efficiency(by_n[n], n, base) if base else None})
    return out
