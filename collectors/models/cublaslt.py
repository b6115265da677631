"""Two cuBLASLt matrix products whose epilogue does the MLP's GELU work, called through ctypes.

torch exposes cuBLASLt's GELU epilogue only without its auxiliary output (torch._addmm_activation),
which a training step cannot use: the GELU's backward needs the GELU's input. cuBLASLt itself has
both halves (GELU in its tanh form, the cuBLAS documentation's epilogue notes):

  gelu_aux_bias     g = gelu(x @ w.T + b), and h = x @ w.T + b stored beside it (the auxiliary output)
  dgelu_bgrad       dh = (dy @ w) * gelu'(h), and db = the column sums of dh

so the forward's GELU and the backward's GELU gradient and bias gradient are no passes of their
own: each is done on the product's accumulator before it is stored. The library is the one torch
already loaded (its CUDA wheels link it), on torch's current stream, with a workspace from torch's
allocator. Row-major torch tensors are column-major cuBLASLt matrices transposed, so out = x @ w.T
is asked for as out.T = w @ x.T.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass

import torch

# cudaDataType_t, cublasComputeType_t, cublasOperation_t (library_types.h, cublas_api.h)
_DTYPES = {torch.bfloat16: 14, torch.float16: 2, torch.float32: 0}
_COMPUTE_32F = 68
_OP_N, _OP_T = 0, 1
# cublasLtMatmulDescAttributes_t, cublasLtMatmulPreferenceAttributes_t, cublasLtEpilogue_t (cublasLt.h)
_TRANSA, _TRANSB, _EPILOGUE, _BIAS_POINTER, _AUX_POINTER, _AUX_LD, _BIAS_DATA_TYPE = 3, 4, 7, 8, 11, 12, 26
_PREF_MAX_WORKSPACE = 1
_PREF_ALIGNMENT = {"a": 5, "b": 6, "c": 7, "d": 8}
GELU_AUX_BIAS, DGELU_BGRAD = 164, 208
# cublasLtMatmulHeuristicResult_t: the algorithm (8 x uint64), workspaceSize (size_t), state, ...
_RESULT_BYTES, _ALGO_BYTES = 96, 64
WORKSPACE_BYTES = 32 << 20  # torch's own cuBLASLt workspace on Hopper


class CublasLtError(RuntimeError):
    """cuBLASLt is missing, refused a call, or has no algorithm for it."""


@functools.cache
def _library() -> ctypes.CDLL:
    """The libcublasLt torch loaded (found in this process's mappings), else the system's."""
    try:
        with open("/proc/self/maps") as maps:
            paths = [line.split()[-1] for line in maps if "libcublasLt.so" in line]
    except OSError:
        paths = []
    for name in [*paths, "libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"]:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.cublasLtMatmulAlgoGetHeuristic.argtypes = [ctypes.c_void_p] * 7 + [
            ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        # handle, desc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo, workspace; size; stream
        lib.cublasLtMatmul.argtypes = [ctypes.c_void_p] * 14 + [ctypes.c_size_t, ctypes.c_void_p]
        lib.cublasLtMatrixLayoutCreate.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64,
                                                   ctypes.c_uint64, ctypes.c_int64]
        for fn in ("cublasLtMatmulDescSetAttribute", "cublasLtMatmulPreferenceSetAttribute"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
        return lib
    raise CublasLtError("libcublasLt not found (torch's CUDA build links it)")


def _check(status: int, what: str) -> None:
    if status != 0:
        raise CublasLtError(f"{what}: cuBLAS status {status}")


@functools.cache
def _handle(device: int) -> ctypes.c_void_p:
    handle = ctypes.c_void_p()
    with torch.cuda.device(device):
        _check(_library().cublasLtCreate(ctypes.byref(handle)), "cublasLtCreate")
    return handle


@functools.cache
def _workspace(device: int) -> torch.Tensor:
    return torch.empty(WORKSPACE_BYTES, dtype=torch.uint8, device=f"cuda:{device}")


def _set(setter: str, obj: ctypes.c_void_p, attr: int, value: ctypes._SimpleCData) -> None:
    _check(getattr(_library(), setter)(obj, attr, ctypes.byref(value), ctypes.sizeof(value)), f"{setter}({attr})")


def _layout(dtype: torch.dtype, rows: int, cols: int, ld: int) -> ctypes.c_void_p:
    layout = ctypes.c_void_p()
    _check(_library().cublasLtMatrixLayoutCreate(ctypes.byref(layout), _DTYPES[dtype], rows, cols, ld),
           "cublasLtMatrixLayoutCreate")
    return layout


def _alignment(t: torch.Tensor) -> int:
    ptr = t.data_ptr()
    return min(256, ptr & -ptr) if ptr else 256


@dataclass(frozen=True)
class _Plan:
    desc: ctypes.c_void_p
    layouts: tuple[ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    algo: ctypes.Array
    workspace: int


@functools.cache
def _plan(device: int, epilogue: int, trans_a: int, a_rows: int, a_cols: int, b_rows: int, b_cols: int,
          dtype: torch.dtype, bias_dtype: torch.dtype | None, align: tuple[int, int, int]) -> _Plan:
    """Descriptor, layouts and the heuristics' first algorithm of D = op(A) @ B, column-major, A
    stored [a_rows, a_cols] (transposed where trans_a), B [b_rows, b_cols], D [m, b_cols]; kept for
    the process (one per shape: a training step has a handful)."""
    lib = _library()
    desc = ctypes.c_void_p()
    _check(lib.cublasLtMatmulDescCreate(ctypes.byref(desc), _COMPUTE_32F, _DTYPES[torch.float32]),
           "cublasLtMatmulDescCreate")
    _set("cublasLtMatmulDescSetAttribute", desc, _TRANSA, ctypes.c_int32(trans_a))
    _set("cublasLtMatmulDescSetAttribute", desc, _TRANSB, ctypes.c_int32(_OP_N))
    _set("cublasLtMatmulDescSetAttribute", desc, _EPILOGUE, ctypes.c_int32(epilogue))
    if bias_dtype is not None:
        _set("cublasLtMatmulDescSetAttribute", desc, _BIAS_DATA_TYPE, ctypes.c_int32(_DTYPES[bias_dtype]))
    m = a_cols if trans_a == _OP_T else a_rows
    a = _layout(dtype, a_rows, a_cols, a_rows)
    b = _layout(dtype, b_rows, b_cols, b_rows)
    d = _layout(dtype, m, b_cols, m)
    _set("cublasLtMatmulDescSetAttribute", desc, _AUX_LD, ctypes.c_int64(m))
    pref = ctypes.c_void_p()
    _check(lib.cublasLtMatmulPreferenceCreate(ctypes.byref(pref)), "cublasLtMatmulPreferenceCreate")
    _set("cublasLtMatmulPreferenceSetAttribute", pref, _PREF_MAX_WORKSPACE, ctypes.c_uint64(WORKSPACE_BYTES))
    # the heuristics assume 256-byte aligned buffers unless told less
    for key, value in zip(("a", "b", "d"), align, strict=True):
        _set("cublasLtMatmulPreferenceSetAttribute", pref, _PREF_ALIGNMENT[key], ctypes.c_uint32(value))
    _set("cublasLtMatmulPreferenceSetAttribute", pref, _PREF_ALIGNMENT["c"], ctypes.c_uint32(align[2]))
    result = (ctypes.c_uint8 * _RESULT_BYTES)()
    found = ctypes.c_int(0)
    _check(lib.cublasLtMatmulAlgoGetHeuristic(_handle(device), desc, a, b, d, d, pref, 1, result,
                                              ctypes.byref(found)), "cublasLtMatmulAlgoGetHeuristic")
    lib.cublasLtMatmulPreferenceDestroy(pref)
    if found.value < 1:
        raise CublasLtError(f"no cuBLASLt algorithm for epilogue {epilogue}, A [{a_rows}, {a_cols}], "
                            f"B [{b_rows}, {b_cols}], {dtype}, bias {bias_dtype}")
    algo = (ctypes.c_uint8 * _ALGO_BYTES).from_buffer_copy(bytes(result)[:_ALGO_BYTES])
    workspace = ctypes.c_size_t.from_buffer_copy(bytes(result)[_ALGO_BYTES:_ALGO_BYTES + 8]).value
    return _Plan(desc, (a, b, d), algo, workspace)


def _matmul(out: torch.Tensor, a: torch.Tensor, trans_a: int, b: torch.Tensor, epilogue: int,
            bias: torch.Tensor, aux: torch.Tensor) -> None:
    """out (row-major [n, m]) = epilogue(b @ op(a).T) in cuBLASLt's column-major terms: a and b
    row-major, contiguous, read as the column-major A [a.shape[1], a.shape[0]] and B."""
    device = out.device.index if out.device.index is not None else torch.cuda.current_device()
    bias_dtype = bias.dtype if bias.dtype != out.dtype else None
    plan = _plan(device, epilogue, trans_a, a.shape[1], a.shape[0], b.shape[1], b.shape[0], out.dtype,
                 bias_dtype, (_alignment(a), _alignment(b), _alignment(out)))
    if plan.workspace > WORKSPACE_BYTES:
        raise CublasLtError(f"cuBLASLt asked for {plan.workspace} bytes of workspace")
    _set("cublasLtMatmulDescSetAttribute", plan.desc, _BIAS_POINTER, ctypes.c_void_p(bias.data_ptr()))
    _set("cublasLtMatmulDescSetAttribute", plan.desc, _AUX_POINTER, ctypes.c_void_p(aux.data_ptr()))
    alpha, beta = ctypes.c_float(1.0), ctypes.c_float(0.0)
    a_l, b_l, d_l = plan.layouts
    _check(_library().cublasLtMatmul(
        _handle(device), plan.desc, ctypes.byref(alpha), a.data_ptr(), a_l, b.data_ptr(), b_l, ctypes.byref(beta),
        out.data_ptr(), d_l, out.data_ptr(), d_l, ctypes.byref(plan.algo), _workspace(device).data_ptr(),
        plan.workspace, torch.cuda.current_stream(out.device).cuda_stream), "cublasLtMatmul")


def gelu_aux_bias(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gelu(h), h) for h = x @ weight.T + bias: x [N, C], weight [F, C], bias [F], one dtype, CUDA."""
    n, f = x.shape[0], weight.shape[0]
    g = x.new_empty((n, f))
    h = x.new_empty((n, f))
    _matmul(g, weight.contiguous(), _OP_T, x.contiguous(), GELU_AUX_BIAS, bias.contiguous(), h)
    return g, h


def dgelu_bgrad(dy: torch.Tensor, weight: torch.Tensor, h: torch.Tensor,
                grad_dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(dh, column sums of dh in grad_dtype) for dh = (dy @ weight) * gelu'(h): dy [N, C], weight [C, F],
    h [N, F] (the forward's auxiliary output), CUDA."""
    n, f = dy.shape[0], weight.shape[1]
    dh = dy.new_empty((n, f))
    db = torch.empty(f, dtype=grad_dtype, device=dy.device)
    _matmul(dh, weight.contiguous(), _OP_N, dy.contiguous(), DGELU_BGRAD, db, h.contiguous())
    return dh, db


@functools.cache
def bias_grad_dtype(device: int, dtype: torch.dtype) -> torch.dtype | None:
    """The bias gradient's dtype dgelu_bgrad can give for `dtype` products on this GPU: float32 where
    cuBLASLt has an algorithm for it, else the products' own; None where either epilogue has none
    (or there is no cuBLASLt): then the caller runs its own kernels."""
    try:
        x = torch.zeros(64, 64, dtype=dtype, device=f"cuda:{device}")
        g, h = gelu_aux_bias(x, x, x[0])
        for grad_dtype in (torch.float32, dtype):
            try:
                dgelu_bgrad(g, x, h, grad_dtype)
            except CublasLtError:
                continue
            torch.cuda.synchronize(device)
            return grad_dtype
    except (CublasLtError, OSError, AttributeError):
        return None
    return None
