"""Batch-1 matrix-vector products with the layer's small steps folded in (Triton, CUDA).

At batch 1 a decode step is a chain of weight reads; every kernel boundary in it (an RMSNorm, the
SwiGLU product, a residual add) costs a ramp-down and ramp-up of the memory pipeline, which the
weights cannot hide. So one kernel does all of a linear layer's neighbours:

  y = rstd(x) * (W @ (g * x)) * scale  [+ residual]       RMSNorm before the product folded in
  y = silu(W_gate @ x') * (W_up @ x')                       SwiGLU's two products in one pass

rstd needs the sum of squares of all of x, and each program walks all of x anyway (it multiplies
its rows by every column), so that sum is accumulated in the same loop at no extra read. With
programmatic dependent launch (PDL, Hopper and later) a program loads its first weight block,
then waits for the previous kernel: weights do not depend on it, so their reads overlap that
kernel's tail. Weights are int8 (with one scale per output row) or 16-bit.

The kernels have no masks: the block shape must tile the matrix (checked by `fits`).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os

import torch

# (BLOCK_N, BLOCK_K, warps, stages[, ACC]) by (rows out, K, weight itemsize, swiglu); anything else
# takes DEFAULT (or DEFAULT_LONG for the output layer's 128k rows). ACC (1 where left out): how many
# neighbouring products a thread sums before adding them to its accumulators (1, 2, 4 or 8; see the
# kernel). Chosen with benchmarks/decode_explore.py, benchmarks/gemv8_sweep.py and
# benchmarks/int8_decode_tune.py.
Config = tuple[int, int, int, int, int]
DEFAULT = (2, 2048, 4, 3)
DEFAULT_LONG = (4, 1024, 4, 3)
ACC_GROUPS = (1, 2, 4, 8)
TUNED: dict[tuple[int, int, int, bool], tuple[int, ...]] = {
    # 16-bit, measured on an H200 (GB/s of weight bytes, against 4,243 for a copy): q/k/v 2,513;
    # output projection 2,217; gate+up 3,674; down 3,277; output layer 4,149 (cuBLAS: 2,175,
    # 1,777, 3,341, 2,743, 4,053). Since chosen inside the captured decode step
    # (benchmarks/int8_decode_tune.py --dtype bf16, shapes with ACC 8 against these): gate+up and
    # q/k/v with ACC 8, 3,834 against 3,881 us a step (alternating rounds); the down projection 1 x
    # 2048 earlier (3,884 against 3,922 with the default).
    (14336, 4096, 2, True): (2, 2048, 4, 3, 8),
    (6144, 4096, 2, False): (4, 2048, 4, 3, 8),
    (4096, 14336, 2, False): (1, 2048, 4, 3),
    (128256, 4096, 2, False): (2, 2048, 4, 1),
    # int8 with the byte-permute conversion (I8_CONVERT "prmt"). First each kernel timed alone on an
    # H200 (benchmarks/gemv8_sweep.py), then inside the captured decode step
    # (benchmarks/int8_decode_tune.py): with ACC 8 the accumulators shrink enough for larger tiles
    # (gate+up 8 x 1024, was 4 x 2048 with ACC 1): 2,283 against 2,449 us a step (alternating rounds;
    # 438.0 against 408.4 tok/s). q/k/v kept its ACC 1 shape: none with ACC 8 was faster by more
    # than the step's noise.
    (6144, 4096, 1, False): (8, 512, 4, 1),
    (4096, 4096, 1, False): (2, 1024, 4, 1, 8),
    (14336, 4096, 1, True): (8, 1024, 4, 1, 8),
    (4096, 14336, 1, False): (2, 2048, 4, 1, 8),
    (128256, 4096, 1, False): (4, 512, 2, 1, 8),
}
# How int8 weights become float32 in the kernel (gemv_kernels._f32): "cvt", the integer-to-float
# instruction, which converts 16 values per clock per SM, about the rate int8 weights arrive from
# HBM3e; "mantissa", integer ops that put the byte in a float's mantissa (four per weight, on the
# integer pipe: no faster); "prmt", the same float built by one byte permute per element. Measured on
# an H200, the permute (with the block shapes above) took the int8 GEMVs from 2,795 to 3,008 GB/s
# (gate+up) and int8 decode from 353 to 390-403 tok/s; "mantissa" had not moved them (1,443 against
# 1,388 GB/s at q/k/v). Triton's interpreter
# runs no PTX, so there "prmt" computes the same float the "mantissa" way. COSTPERF_I8_CONVERT
# chooses at run time (recorded with each figure).
I8_CONVERT = "prmt"
I8_MODES = {"cvt": 0, "mantissa": 1, "prmt": 2}
I8_ENV = "COSTPERF_I8_CONVERT"


def i8_convert() -> str:
    value = os.environ.get(I8_ENV, "").strip().lower() or I8_CONVERT
    if value not in I8_MODES:
        raise ValueError(f"{I8_ENV}={value!r}: expected one of {', '.join(I8_MODES)}")
    return value


def _i8_mode() -> int:
    mode = I8_MODES[i8_convert()]
    interpreted = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
    return I8_MODES["mantissa"] if interpreted and mode == I8_MODES["prmt"] else mode


def pdl_launch(pdl: bool) -> dict[str, bool]:
    """A Triton launch's keyword for programmatic dependent launch: the kernel may start while the one
    before it ends, and waits for it where it calls gdc_wait (Hopper and later)."""
    return {"launch_pdl": True} if pdl else {}


def available() -> bool:
    return importlib.util.find_spec("triton") is not None and torch.cuda.is_available()


# Block shapes given at run time, over TUNED: a sweep's winners can be measured in a full run before
# they are committed, and the run records the variable's value with every decode figure.
CONFIGS_ENV = "COSTPERF_GEMV_CONFIGS"


def full(cfg: tuple[int, ...]) -> Config:
    """A block shape with its ACC (1 where a 4-entry shape leaves it out)."""
    return (cfg[0], cfg[1], cfg[2], cfg[3], cfg[4] if len(cfg) > 4 else 1)


@functools.cache
def parse_configs(text: str) -> dict[tuple[int, int, int, bool], Config]:
    """COSTPERF_GEMV_CONFIGS: a JSON object {"N,K,itemsize,swiglu": [BLOCK_N, BLOCK_K, warps, stages, ACC]}
    (ACC optional, 1 where left out), swiglu 0 or 1, e.g. {"6144,4096,1,0": [8, 512, 4, 1, 8]}."""
    expected = (f'{CONFIGS_ENV}: expected a JSON object like {{"6144,4096,1,0": [8, 512, 4, 1]}} '
                "(rows out, K, weight bytes, swiglu 0/1: BLOCK_N, BLOCK_K, warps, stages[, ACC 1/2/4/8])")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{expected}; not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{expected}; got {type(raw).__name__}")
    out = {}
    for key, cfg in raw.items():
        parts = str(key).split(",")
        ok_key = len(parts) == 4 and all(p.strip().isdigit() for p in parts) and parts[3].strip() in ("0", "1")
        ok_cfg = (isinstance(cfg, list) and len(cfg) in (4, 5)
                  and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in cfg)
                  and (len(cfg) == 4 or cfg[4] in ACC_GROUPS))
        if not ok_key or not ok_cfg:
            raise ValueError(f"{expected}; bad entry {key!r}: {cfg!r}")
        n, k, size, sw = (int(p) for p in parts)
        out[(n, k, size, bool(sw))] = full(tuple(cfg))
    return out


def config_for(n_out: int, k: int, itemsize: int, swiglu: bool) -> Config:
    key = (n_out, k, itemsize, swiglu)
    given = os.environ.get(CONFIGS_ENV, "").strip()
    if given and key in (chosen := parse_configs(given)):
        return chosen[key]
    return full(TUNED.get(key) or (DEFAULT_LONG if n_out > 65536 else DEFAULT))


def fits(n_out: int, k: int, cfg: tuple[int, ...]) -> bool:
    acc = full(cfg)[4]
    return n_out % cfg[0] == 0 and k % cfg[1] == 0 and acc in ACC_GROUPS and cfg[1] % acc == 0


@functools.cache
def _kernel():  # noqa: ANN202 - imported lazily: triton is only installed where CUDA is
    from collectors.models.gemv_kernels import gemv_fused  # noqa: PLC0415

    return gemv_fused


def launch(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor | None = None,
           norm_weight: torch.Tensor | None = None, residual: torch.Tensor | None = None, eps: float = 1e-5,
           swiglu: bool = False, pdl: bool = False,
           config: tuple[int, ...] | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
    """y[1, N'] for x[1, K] (N' = rows of weight, or half of them with swiglu)."""
    rows, k = weight.shape
    n = rows // 2 if swiglu else rows
    cfg = full(config) if config else config_for(n, k, weight.element_size(), swiglu)
    bn, bk, warps, stages, acc = cfg
    if not fits(n, k, cfg):
        raise ValueError(f"gemv_fused: block {bn}x{bk} (ACC {acc}) does not tile a {n}x{k} matrix")
    y = out if out is not None else torch.empty((1, n), dtype=x.dtype, device=x.device)
    dummy = x
    _kernel()[(n // bn,)](x, weight, scales if scales is not None else dummy,
                          norm_weight if norm_weight is not None else dummy,
                          residual if residual is not None else dummy, y, eps, N=n, K=k,
                          HAS_SCALE=scales is not None, HAS_NORM=norm_weight is not None,
                          HAS_RES=residual is not None, SWIGLU=swiglu, PDL=pdl,
                          I8_MODE=_i8_mode() if weight.dtype == torch.int8 else 0, BLOCK_N=bn, BLOCK_K=bk, ACC=acc,
                          num_warps=warps, num_stages=stages, **pdl_launch(pdl))
    return y


@torch.library.custom_op("costperf::gemv_fused", mutates_args=())
def gemv_fused(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor | None, norm_weight: torch.Tensor | None,
               residual: torch.Tensor | None, eps: float, swiglu: bool, pdl: bool) -> torch.Tensor:
    """The fused batch-1 product as an operator torch.compile keeps whole (see module doc)."""
    return launch(x.reshape(1, -1).contiguous(), weight, scales, norm_weight,
                  None if residual is None else residual.reshape(1, -1).contiguous(), eps, swiglu, pdl)


@gemv_fused.register_fake
def _(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor | None, norm_weight: torch.Tensor | None,
      residual: torch.Tensor | None, eps: float, swiglu: bool, pdl: bool) -> torch.Tensor:
    rows = weight.shape[0]
    return x.new_empty((1, rows // 2 if swiglu else rows))


def reference(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor | None = None,
              norm_weight: torch.Tensor | None = None, residual: torch.Tensor | None = None, eps: float = 1e-5,
              swiglu: bool = False) -> torch.Tensor:
    """The same function in float64 with plain torch ops, for checks."""
    xf = x.double().reshape(1, -1)
    if norm_weight is not None:
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * norm_weight.double()
    y = xf @ weight.double().T
    if scales is not None:
        y = y * scales.double()
    if swiglu:
        gate, up = y.chunk(2, dim=-1)
        y = torch.nn.functional.silu(gate) * up
    if residual is not None:
        y = y + residual.double().reshape(1, -1)
    return y
