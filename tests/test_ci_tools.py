"""The tools the suite relies on are there and do their part; in CI a skip for a missing one fails
(tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
BROKEN_STEP = """on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: |
          files=$(ls)
          cat $files
"""


def test_actionlint_checks_shell_steps_with_shellcheck(tmp_path: Path) -> None:
    actionlint = shutil.which("actionlint", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install -e '.[test]')")
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run does): "
                    "without it actionlint skips every shell check")
    (tmp_path / "w.yml").write_text(BROKEN_STEP)
    proc = subprocess.run([actionlint, "-no-color", str(tmp_path / "w.yml")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and "SC2086" in proc.stdout, proc.stdout + proc.stderr


def test_a_missing_tool_fails_in_ci(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "def test_needs_chromium():\n    pytest.skip('chromium is not installed')\n"
        "def test_platform_only():\n    pytest.skip('Apple Silicon only')\n")
    (tmp_path / "conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "COSTPERF_CI")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_x.py")]
    local = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert "2 skipped" in local.stdout, local.stdout
    ci = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env={**env, "COSTPERF_CI": "1"},
                        timeout=120)
    assert "1 failed" in ci.stdout and "1 skipped" in ci.stdout, ci.stdout
