"""zeus's real RAPL path, end to end through costperf's meter: counters in a powercap tree whose
values the test advances by known amounts (the kernel's files have the same layout), read by zeus's
own RAPL code and mapped by collectors.meters.zeus_meter.

Where this machine's own counters are readable, the same meter is also run against them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

rapl = pytest.importorskip("zeus.device.cpu.rapl", reason="zeus is not installed (pip install 'costperf[bench]')")

from collectors.meters.base import NullMeter  # noqa: E402
from collectors.meters.zeus_meter import ZeusMeter, zeus_meter  # noqa: E402
from collectors.workloads.common import to_energy  # noqa: E402

SYSTEM_RAPL = Path("/sys/class/powercap/intel-rapl")


def _zone(folder: Path, name: str, energy_uj: int, max_uj: int = 262_143_328_850) -> None:
    folder.mkdir(parents=True)
    (folder / "name").write_text(f"{name}\n")
    (folder / "energy_uj").write_text(f"{energy_uj}\n")
    (folder / "max_energy_range_uj").write_text(f"{max_uj}\n")


def _advance(zone: Path, uj: int) -> None:
    path = zone / "energy_uj"
    path.write_text(f"{int(path.read_text()) + uj}\n")


@pytest.fixture
def powercap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import zeus.device.cpu as cpu_module

    root = tmp_path / "intel-rapl"
    _zone(root / "intel-rapl:0", "package-0", 1_000_000_000)
    _zone(root / "intel-rapl:0" / "intel-rapl:0:0", "dram", 50_000_000)
    monkeypatch.setattr(rapl, "RAPL_DIR", str(root))
    rapl.rapl_is_available.cache_clear()
    monkeypatch.setattr(cpu_module, "_cpus", None)
    yield root
    rapl.rapl_is_available.cache_clear()
    cpu_module._cpus = None


def test_zeus_rapl_window_reads_package_and_dram(powercap: Path) -> None:
    meter = zeus_meter("cpu")
    assert isinstance(meter, ZeusMeter), getattr(meter, "reason", None)
    assert (meter.method, meter.covers) == ("rapl", "cpu_package_dram")
    meter.begin()
    time.sleep(0.2)
    _advance(powercap / "intel-rapl:0", 30_000_000)  # 30 J of package
    _advance(powercap / "intel-rapl:0" / "intel-rapl:0:0", 4_500_000)  # 4.5 J of DRAM
    reading = meter.end()
    assert reading is not None
    assert reading.joules == pytest.approx(34.5, rel=1e-6)
    assert reading.window_s >= 0.2 and reading.method == "rapl"
    energy, note = to_energy(reading, meter, None, tokens=69)
    assert energy is not None and energy.covers == "cpu_package_dram"
    assert energy.joules == pytest.approx(34.5) and energy.avg_w == pytest.approx(34.5 / reading.window_s)


def test_no_counters_means_a_null_meter_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zeus.device.cpu as cpu_module

    monkeypatch.setattr(rapl, "RAPL_DIR", str(tmp_path / "absent"))
    monkeypatch.setattr(rapl, "CONTAINER_RAPL_DIR", str(tmp_path / "absent-too"))
    rapl.rapl_is_available.cache_clear()
    monkeypatch.setattr(cpu_module, "_cpus", None)
    try:
        meter = zeus_meter("cpu")
    finally:
        rapl.rapl_is_available.cache_clear()
    assert isinstance(meter, NullMeter) and "RAPL" in (meter.reason or "")


@pytest.mark.skipif(not os.access(SYSTEM_RAPL / "intel-rapl:0" / "energy_uj", os.R_OK),
                    reason="this machine's RAPL counters are not readable (hardware or permissions)")
def test_this_machines_rapl_counters() -> None:
    meter = zeus_meter("cpu")
    assert isinstance(meter, ZeusMeter)
    meter.begin()
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        sum(i * i for i in range(10_000))
    reading = meter.end()
    assert reading is not None and 0 < reading.joules / reading.window_s < 2000  # watts of one CPU package
