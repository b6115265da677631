"""Causal attention by FlashAttention-4's kernels for Hopper (the `flash-attn-4` package: CuTe DSL,
compiled for the GPU at first use), as torch operators that torch.compile keeps whole.

FlashAttention-4 takes q, k, v as [B, T, H, D] with any strides but the last, so the heads are read
straight out of the q/k/v projection's output and the output goes to the output projection without
the transposes SDPA's [B, H, T, D] layout needs. The package is optional: `usable` says whether it
can run on a tensor, and callers fall back to SDPA where it cannot.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import warnings

import torch

_PACKAGE = importlib.util.find_spec("flash_attn") is not None and \
    importlib.util.find_spec("flash_attn.cute") is not None


def installed() -> bool:
    return _PACKAGE


def unusable_reason(device: torch.device) -> str | None:
    """Why the kernels cannot run on `device`, or None where they can: they need the package and a
    Hopper GPU (compute capability 9.x), the one generation its kernels here are built for."""
    if not _PACKAGE:
        return "the flash-attn-4 package is not installed"
    if device.type != "cuda":
        return f"they run on CUDA GPUs, not {device.type}"
    if not torch.cuda.is_available():
        return "no CUDA GPU is available"
    major, minor = torch.cuda.get_device_capability(device)
    if major != 9:
        return f"they run on Hopper GPUs (compute capability 9.x); this one is {major}.{minor}"
    return None


def usable(t: torch.Tensor) -> bool:
    """Whether the kernels can take t: 16-bit floats on a device where they run."""
    return t.dtype in (torch.bfloat16, torch.float16) and t.is_cuda and unusable_reason(t.device) is None


def label() -> str:
    """What ran, for the run file: the package and its version."""
    try:
        version = importlib.metadata.version("flash-attn-4")
    except importlib.metadata.PackageNotFoundError:
        version = "version unknown"
    return f"FlashAttention-4 (flash-attn-4 {version}, CuTe DSL kernels for Hopper)"


def kernels_label(packed: bool) -> str:
    """How they ran, for the run file: q/k/v packed or apart, and whose forward."""
    forward = "cuDNN's forward (SDPA's operator), FlashAttention-4's backward" if CUDNN_FORWARD else \
        "FlashAttention-4's forward and backward"
    return f"{forward}; q/k/v {'packed as the projection writes them' if packed else 'apart'}"


@functools.cache
def _interface():  # noqa: ANN202 - the package's module, imported at first use (it loads its compiler)
    from flash_attn.cute import interface  # noqa: PLC0415

    # its compiler warns, at each kernel it compiles, that it keeps an argument it has no use for here
    # (the score modifiers' auxiliary data) as a compile-time constant: noise in a run's output
    warnings.filterwarnings("ignore", message=r"Argument aux_data .* cannot be converted to a JitArgument",
                            category=UserWarning)
    return interface


# The forward's kernel: FlashAttention-4's, or cuDNN's through SDPA's operator (module-wide, for
# measuring the two); the backward is FlashAttention-4's either way, from the forward's output and
# log-sum-exp (both natural-log, of the scaled scores)
CUDNN_FORWARD = False


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(output [B, T, H, D] dense, log-sum-exp [B, H, T] float32) of q, k, v [B, T, H, D] views."""
    if CUDNN_FORWARD:
        out, lse = torch.ops.aten._scaled_dot_product_cudnn_attention(  # noqa: SLF001
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), None, True, 0.0, True)[:2]
        # cuDNN lays the output out as q is laid out ([B, T, H, D] here) and the statistics [B, H, T, 1]
        return out.transpose(1, 2).contiguous(), lse.reshape(lse.shape[:3]).contiguous()
    out, lse = _empty_forward(q)
    _interface()._flash_attn_fwd(q, k, v, causal=True, out=out, lse=lse, return_lse=True)  # noqa: SLF001
    return out, lse


def _empty_forward(q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    b, t, h, _ = q.shape
    return (torch.empty(q.shape, dtype=q.dtype, device=q.device),
            torch.empty((b, h, t), dtype=torch.float32, device=q.device))


def _backward_into(dout: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor,
                   lse: torch.Tensor, dq: torch.Tensor, dk: torch.Tensor, dv: torch.Tensor) -> None:
    _interface()._flash_attn_bwd(q, k, v, out, dout, lse, causal=True, dq=dq, dk=dk, dv=dv)  # noqa: SLF001


def _empty_like_dense(t: torch.Tensor) -> torch.Tensor:
    # dense, whatever t's strides: the kernels write each gradient whole
    return torch.empty(t.shape, dtype=t.dtype, device=t.device)


# q, k and v apart: gradients [B, T, H, D] each

@torch.library.custom_op("costperf::flash4_causal", mutates_args=(), device_types="cuda")
def _forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _attend(q, k, v)


@_forward.register_fake
def _(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _empty_forward(q)


@torch.library.custom_op("costperf::flash4_causal_backward", mutates_args=(), device_types="cuda")
def _backward(dout: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor,
              lse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    dq, dk, dv = (_empty_like_dense(t) for t in (q, k, v))
    _backward_into(dout, q, k, v, out, lse, dq, dk, dv)
    return dq, dk, dv


@_backward.register_fake
def _(dout: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor,
      lse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _empty_like_dense(q), _empty_like_dense(k), _empty_like_dense(v)


def _save(ctx, inputs: tuple, output: tuple) -> None:  # noqa: ANN001
    ctx.save_for_backward(*inputs, *output)


def _grad(ctx, dout: torch.Tensor, _dlse: torch.Tensor | None) -> tuple[torch.Tensor, ...]:  # noqa: ANN001
    q, k, v, out, lse = ctx.saved_tensors
    return _backward(dout, q, k, v, out, lse)


_forward.register_autograd(_grad, setup_context=_save)


# q, k and v packed as the q/k/v projection makes them, [B, T, 3, H, D]: the backward writes the three
# gradients into one [B, T, 3, H, D] tensor, which is the projection's output gradient as it is, so
# nothing packs them again

@torch.library.custom_op("costperf::flash4_causal_packed", mutates_args=(), device_types="cuda")
def _forward_packed(qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _attend(*qkv.unbind(2))


@_forward_packed.register_fake
def _(qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _empty_forward(qkv[:, :, 0])


@torch.library.custom_op("costperf::flash4_causal_packed_backward", mutates_args=(), device_types="cuda")
def _backward_packed(dout: torch.Tensor, qkv: torch.Tensor, out: torch.Tensor, lse: torch.Tensor) -> torch.Tensor:
    dqkv = _empty_like_dense(qkv)
    _backward_into(dout, *qkv.unbind(2), out, lse, *dqkv.unbind(2))
    return dqkv


@_backward_packed.register_fake
def _(dout: torch.Tensor, qkv: torch.Tensor, out: torch.Tensor, lse: torch.Tensor) -> torch.Tensor:
    return _empty_like_dense(qkv)


def _grad_packed(ctx, dout: torch.Tensor, _dlse: torch.Tensor | None) -> torch.Tensor:  # noqa: ANN001
    qkv, out, lse = ctx.saved_tensors
    return _backward_packed(dout, qkv, out, lse)


_forward_packed.register_autograd(_grad_packed, setup_context=_save)


def _check_device(t: torch.Tensor, name: str) -> None:
    if t.device.type not in ("cuda", "meta"):  # meta: shapes alone, as torch.compile traces them
        raise ValueError(f"flash4.{name}: the kernels run on CUDA tensors; got {t.device} "
                         "(flash4.usable says where they can run)")


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(D), causal) v for q, k, v [B, T, H, D] (last dimension contiguous); the
    output [B, T, H, D], dense."""
    if not (q.dim() == k.dim() == v.dim() == 4 and q.shape == k.shape == v.shape):
        raise ValueError(f"flash4.causal_attention: expected q, k, v of one shape [B, T, H, D]; got "
                         f"{list(q.shape)}, {list(k.shape)}, {list(v.shape)}")
    _check_device(q, "causal_attention")
    return _forward(q, k, v)[0]


def causal_attention_packed(qkv: torch.Tensor) -> torch.Tensor:
    """The same for q, k, v packed in qkv [B, T, 3, H, D] (the q/k/v projection's output, viewed); its
    gradient comes back in that layout."""
    if qkv.dim() != 5 or qkv.shape[2] != 3:
        raise ValueError(f"flash4.causal_attention_packed: expected qkv [B, T, 3, H, D]; got {list(qkv.shape)}")
    _check_device(qkv, "causal_attention_packed")
    return _forward_packed(qkv)[0]
