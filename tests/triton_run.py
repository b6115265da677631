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
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])  # this module, for `sm90`
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


# For the code compile_only runs:


def sm90(fn, signature: dict[str, str], constexprs: dict, aligned: int, num_warps: int = 4,  # noqa: ANN001, ANN201
         num_stages: int | None = None):
    """`fn` compiled for sm_90 (no GPU needed), its first `aligned` arguments specialised as 16-byte
    aligned pointers, as a launch specialises them."""
    import triton  # noqa: PLC0415
    from triton.backends.compiler import GPUTarget  # noqa: PLC0415

    attrs = {(i,): [["tt.divisibility", 16]] for i in range(aligned)}
    src = triton.compiler.ASTSource(fn=fn, signature={**signature, **{k: "constexpr" for k in constexprs}},
                                    constexprs=constexprs, attrs=attrs)
    options = {"num_warps": num_warps} | ({} if num_stages is None else {"num_stages": num_stages})
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options=options)


def gemv_signature(weights: str) -> dict[str, str]:
    """gemv_kernels.gemv_fused's arguments before its constexprs, with `weights` ("i8", "bf16")."""
    return {"x_ptr": "*bf16", "w_ptr": f"*{weights}", "s_ptr": "*bf16", "g_ptr": "*bf16", "r_ptr": "*bf16",
            "y_ptr": "*bf16", "eps": "fp32"}


def registers(kernel) -> int:  # noqa: ANN001
    """Registers a thread of a kernel compiled by `sm90` takes, as ptxas assembles it for sm_90a."""
    import re  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from triton.backends.nvidia.compiler import get_ptxas  # noqa: PLC0415

    with tempfile.NamedTemporaryFile("w", suffix=".ptx") as f:
        f.write(kernel.asm["ptx"])
        f.flush()
        err = subprocess.run([get_ptxas(90).path, "-arch=sm_90a", "-v", f.name, "-o", "/dev/null"],
                             capture_output=True, text=True).stderr
    return int(re.search(r"Used (\d+) registers", err).group(1))


def vector_io(kernel) -> str:  # noqa: ANN001
    """"registers 16-byte-loads 16-byte-stores" of a kernel compiled by `sm90`, for the test to read."""
    import re  # noqa: PLC0415

    ptx = kernel.asm["ptx"]
    loads, stores = (len(re.findall(pattern, ptx)) for pattern in (r"ld\.global\.v4", r"st\.global\.v4"))
    return f"{registers(kernel)} {loads} {stores}"
