"""Running Triton kernels on the CPU in tests: through Triton's interpreter, or compiled for a GPU
target without one (PTX and register checks), each in a fresh process, since TRITON_INTERPRET is
read when triton is first imported."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
needs_triton = pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")


def _run(code: str, interpret: bool, timeout: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(ROOT)
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def interpret(code: str, timeout: int = 600) -> str:
    """stdout of `code` run with TRITON_INTERPRET=1 (kernels on the CPU); fails the test on an error."""
    out = _run(code, True, timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def compile_only(code: str, timeout: int = 600) -> str:
    """stdout of `code` run without the interpreter (it compiles for a GPU target, e.g. sm_90); skips
    the test where this triton cannot assemble for it."""
    out = _run(code, False, timeout)
    if out.returncode != 0 and "ptxas" in out.stderr.lower():
        pytest.skip("this triton install cannot assemble for sm_90 here")
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout
