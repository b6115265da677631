"""The committed machine files (data/machines/) are complete and
consistent in the ways the schema alone does not check: the machines the report compares all exist,
figures the metrics divide by are present, prices are dated and traceable, and usable memory is a
share of the memory the machine has."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collectors import store
from collectors.records import Machine

DATA = Path(__file__).resolve().parents[1] / "data"
MACHINES_DIR = DATA / "machines"

# The machines the report's comparisons name: each must have its file.
REQUIRED = {
    "macbook-pro-m5-24gb",
    "macbook-pro-m4-max",
    "mac-mini-m4-pro",
    "mac-studio-m2-ultra",
    "mac-studio-m3-ultra-512gb",
    "desktop-rtx-3080-ti",
    "desktop-rtx-4090",
    "desktop-rtx-5090",
    "laptop-rtx-4090",
    "laptop-rtx-5090",
    "h100-sxm",
    "h200-sxm",
    "dgx-spark",
}


@pytest.fixture(scope="module")
def dataset() -> store.DataSet:
    return store.load(DATA)


@pytest.fixture(scope="module")
def machines(dataset: store.DataSet) -> dict[str, Machine]:
    return dataset.machines


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def test_seeded_machine_files_have_no_problems(dataset: store.DataSet) -> None:
    ours = [p for p in dataset.problems if MACHINES_DIR in Path(p.path).resolve().parents]
    assert ours == [], "\n".join(str(p) for p in ours)


def test_every_machine_file_loaded(machines: dict[str, Machine]) -> None:
    on_disk = {p.stem for p in MACHINES_DIR.glob("*.yaml")}
    assert on_disk <= set(machines), f"files that did not load: {sorted(on_disk - set(machines))}"


def test_required_machines_exist(machines: dict[str, Machine]) -> None:
    missing = REQUIRED - set(machines)
    assert not missing, f"missing machine files: {sorted(missing)}"


def test_nvidia_accelerators_have_memory_bandwidth(machines: dict[str, Machine]) -> None:
    # Decode is memory-bound: the roofline check divides by this figure.
    lacking = [m.id for m in machines.values() if m.vendor == "nvidia"
               for a in m.accelerators if a.memory_bandwidth_gbps is None]
    assert not lacking, f"NVIDIA machines without memory bandwidth: {lacking}"


def test_every_machine_has_memory_bandwidth_where_seeded(machines: dict[str, Machine]) -> None:
    lacking = [m.id for m in machines.values() if m.id in REQUIRED
               for a in m.accelerators if a.memory_bandwidth_gbps is None]
    assert not lacking, f"seeded machines without memory bandwidth: {lacking}"


def test_prices_are_dated_not_in_future_and_https(machines: dict[str, Machine]) -> None:
    today = _today()
    bad = []
    for m in machines.values():
        for i, price in enumerate(m.prices):
            if price.date > today:
                bad.append(f"{m.id}.prices.{i}: date {price.date} is after {today}")
            if not price.source_url.startswith("https://"):
                bad.append(f"{m.id}.prices.{i}: source_url {price.source_url!r} is not https")
    assert not bad, "\n".join(bad)


def test_prices_are_listed_oldest_first(machines: dict[str, Machine]) -> None:
    unordered = [m.id for m in machines.values()
                 if [p.date for p in m.prices] != sorted(p.date for p in m.prices)]
    assert not unordered, f"price history not oldest first: {unordered}"


def test_sources_are_https(machines: dict[str, Machine]) -> None:
    bad = [f"{m.id}: {s.id} {s.url}" for m in machines.values() for s in m.sources
           if not s.url.startswith("https://")]
    assert not bad, "\n".join(bad)


def test_every_source_is_used(machines: dict[str, Machine]) -> None:
    """A listed source backs a block, a price or is named in the notes; otherwise it is clutter."""
    unused = []
    for m in machines.values():
        cited = {s for block in [m.usable_memory, m.power, *m.accelerators] if block for s in block.sources}
        price_urls = {p.source_url for p in m.prices}
        text = (m.notes or "") + " ".join(p.note or "" for p in m.prices)
        for s in m.sources:
            host = s.url.split("/")[2].removeprefix("www.")
            if s.id not in cited and s.url not in price_urls and host not in text:
                unused.append(f"{m.id}: {s.id}")
    assert not unused, f"sources nothing cites: {unused}"


def test_usable_memory_is_positive_and_below_total(machines: dict[str, Machine]) -> None:
    bad = [f"{m.id}: usable {m.usable_memory_gb:.1f} GB of {m.total_accelerator_memory_gb:.1f} GB"
           for m in machines.values()
           if not 0 < m.usable_memory_gb < m.total_accelerator_memory_gb]
    assert not bad, "\n".join(bad)


def test_memory_model_matches_vendor(machines: dict[str, Machine]) -> None:
    """Apple: unified, macOS working-set rule, no host link, no TFLOPS (Apple publishes none).
    NVIDIA discrete: dedicated VRAM less a reserve."""
    bad = []
    for m in machines.values():
        for a in m.accelerators:
            if m.vendor == "apple":
                if a.memory_kind != "unified" or a.host_link is not None:
                    bad.append(f"{m.id}: Apple memory must be unified with no host link")
                if m.usable_memory.rule not in ("macos_default", "macos_raised"):
                    bad.append(f"{m.id}: Apple usable memory must follow a macOS rule")
                if any((a.peak_bf16_tflops, a.peak_fp16_tflops, a.peak_fp32_tflops)):
                    bad.append(f"{m.id}: Apple publishes no GPU TFLOPS; a peak_* figure has no source")
            if a.memory_kind == "dedicated" and m.usable_memory.rule != "vram_less_reserve":
                bad.append(f"{m.id}: dedicated VRAM must use vram_less_reserve")
    assert not bad, "\n".join(bad)


def test_cloud_machines_have_dated_hourly_prices(machines: dict[str, Machine]) -> None:
    clouds = [m for m in machines.values() if m.form == "cloud"]
    assert clouds
    lacking = [m.id for m in clouds if not any(p.kind == "cloud_hourly" for p in m.prices)]
    assert not lacking, f"cloud machines without an hourly price: {lacking}"


def test_h100_has_several_providers(machines: dict[str, Machine]) -> None:
    # NVIDIA publishes no H100 list price and the only "MSRP" found was an aggregator's, so the H100 is priced
    # by the hour; a purchase price returns only with a reviewed source (tests/test_data_review.py).
    h100 = machines["h100-sxm"]
    providers = {p.provider for p in h100.prices if p.kind == "cloud_hourly"}
    assert len(providers) >= 3, providers


def test_datacenter_anchor_specs(machines: dict[str, Machine]) -> None:
    # MFU and roofline figures in DESIGN.md are computed against these published peaks.
    h100, h200 = machines["h100-sxm"].accelerators[0], machines["h200-sxm"].accelerators[0]
    assert (h100.memory_bandwidth_gbps, h100.peak_bf16_tflops, h100.memory_gb) == (3350, 989, 80)
    assert (h200.memory_bandwidth_gbps, h200.peak_bf16_tflops, h200.memory_gb) == (4800, 989, 141)
    assert machines["h100-sxm"].power is not None and machines["h100-sxm"].power.accelerator_tdp_w == 700
