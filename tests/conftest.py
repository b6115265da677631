import sys
from pathlib import Path

# Test helpers (foundation_data.py) live beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

import os  # noqa: E402
import re  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

# In CI (GitHub sets CI=true; .ci/run sets COSTPERF_CI=1) a test that skips because a tool the suite
# relies on is missing fails instead: a missing Chromium, zeus, shellcheck, actionlint or torch
# would otherwise turn its checks off without anyone noticing.
REQUIRED_IN_CI = re.compile(r"chromium|zeus|shellcheck|actionlint|\btorch\b|mlx|llama_cpp|gemma3", re.IGNORECASE)

# llama.cpp's CPU threads wait for one another at every step: on a machine shared with other jobs (CI,
# a busy developer box) its default of one thread per core stalls whenever one is descheduled (pp64 +
# tg16 of a 270M model took 3 minutes instead of seconds). One thread keeps the tests' llama.cpp runs
# short and steady; the figure records n_threads either way.
os.environ.setdefault("COSTPERF_LLAMA_THREADS", "1")


def _in_ci() -> bool:
    return os.environ.get("COSTPERF_CI") == "1" or os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _skip_reason(longrepr: object) -> str:
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _in_ci() and REQUIRED_IN_CI.search(_skip_reason(report.longrepr)):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where it must run: {_skip_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _in_ci() and REQUIRED_IN_CI.search(_skip_reason(report.longrepr)):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where it must run: {_skip_reason(report.longrepr)}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (tests/browser.py), for pages that must be looked at."""
    from browser import CHROMIUM, Chromium  # noqa: PLC0415

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    with Chromium() as b:
        yield b
