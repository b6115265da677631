"""A Llama-3-style decoder (RMSNorm, RoPE, grouped-query attention, SwiGLU, static KV cache).

After gpt-fast's model.py: the KV cache is a preallocated buffer updated in place, so one decode
step has static shapes and can be compiled with CUDA graphs. Two gpt-fast habits are taken further:
q/k/v are one fused projection and so are the SwiGLU gate and up projections, which halves the
number of matrix-vector launches per layer at batch 1.

Weights are random, created directly in the target dtype on the target device: decode and prefill
throughput do not depend on weight values, and no download is needed. Llama 3.1's RoPE frequency
scaling changes values only, not shapes or work, so it is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class LlamaConfig:
    name: str
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    ffn_dim: int
    vocab_size: int = 128256
    tied_embeddings: bool = False  # Llama 3.2 1B/3B reuse the embedding table as the output layer
    norm_eps: float = 1e-5
    rope_theta: float = 500000.0
    published_params: float | None = None  # from the model card, to check the count against

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_dim

    def layer_params(self) -> int:
        attn = self.dim * (self.dim + 2 * self.kv_dim) + self.dim * self.dim
        mlp = 3 * self.dim * self.ffn_dim
        return attn + mlp + 2 * self.dim  # two RMSNorm weights

    def embedding_params(self) -> int:
        return self.vocab_size * self.dim

    def n_params(self) -> int:
        """Parameters as published: a tied output layer is the embedding table, counted once."""
        output = 0 if self.tied_embeddings else self.vocab_size * self.dim
        return self.embedding_params() + self.n_layers * self.layer_params() + self.dim + output

    def kv_cache_bytes(self, batch: int, context: int, itemsize: int = 2) -> int:
        return 2 * self.n_layers * batch * context * self.kv_dim * itemsize


# Shapes from Meta's model cards / config.json of Llama 3.2 1B and 3B, Llama 3.1 8B and 70B.
CONFIGS: dict[str, LlamaConfig] = {
    c.name: c
    for c in [
        LlamaConfig("llama-tiny", dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=192, vocab_size=512),
        LlamaConfig("llama-3-1b", dim=2048, n_layers=16, n_heads=32, n_kv_heads=8, ffn_dim=8192,
                    tied_embeddings=True, published_params=1.24e9),
        LlamaConfig("llama-3-3b", dim=3072, n_layers=28, n_heads=24, n_kv_heads=8, ffn_dim=8192,
                    tied_embeddings=True, published_params=3.21e9),
        LlamaConfig("llama-3-8b", dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, ffn_dim=14336,
                    published_params=8.03e9),
        LlamaConfig("llama-3-70b", dim=8192, n_layers=80, n_heads=64, n_kv_heads=8, ffn_dim=28672,
                    published_params=70.6e9),
    ]
}


def _linear_params(cfg: LlamaConfig) -> int:
    """Elements of every weight matrix a decode step multiplies by, the output layer included."""
    per_layer = cfg.dim * (cfg.dim + 2 * cfg.kv_dim) + cfg.dim * cfg.dim + 3 * cfg.dim * cfg.ffn_dim
    return cfg.n_layers * per_layer + cfg.vocab_size * cfg.dim


def _linear_rows(cfg: LlamaConfig) -> int:
    """Output channels of those matrices: int8 weights carry one scale per row."""
    per_layer = (cfg.dim + 2 * cfg.kv_dim) + cfg.dim + 2 * cfg.ffn_dim + cfg.dim
    return cfg.n_layers * per_layer + cfg.vocab_size


def _norm_params(cfg: LlamaConfig) -> int:
    return (2 * cfg.n_layers + 1) * cfg.dim


def weight_bytes_per_token(cfg: LlamaConfig, weight_itemsize: int) -> int:
    """Bytes read from memory per decoded token, counted as gpt-fast does.

    Every weight matrix (and, for int8, its bf16 per-channel scales) is read once per step; the
    embedding lookup reads one row, so the embedding table is left out unless the output layer
    reuses it (tied), in which case it is read in full once as the output layer. Norm weights are
    16-bit. KV-cache reads are not counted.
    """
    scales = 2 * _linear_rows(cfg) if weight_itemsize == 1 else 0
    return _linear_params(cfg) * weight_itemsize + scales + 2 * _norm_params(cfg)


def memory_needed_bytes(cfg: LlamaConfig, weight_itemsize: int, batch: int, context: int) -> int:
    """Weights (embedding table included, kept 16-bit) plus a 16-bit KV cache for `context` tokens."""
    embedding = 0 if cfg.tied_embeddings and weight_itemsize == 2 else 2 * cfg.embedding_params()
    return weight_bytes_per_token(cfg, weight_itemsize) + embedding + cfg.kv_cache_bytes(batch, context)


# ---------------------------------------------------------------------------------------------


class KVCache(nn.Module):
    def __init__(self, batch: int, max_seq: int, n_kv_heads: int, head_dim: int, dtype: torch.dtype,
                 device: torch.device | str):
        super().__init__()
        shape = (batch, n_kv_heads, max_seq, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def update(self, input_pos: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.k.index_copy_(2, input_pos, k)
        self.v.index_copy_(2, input_pos, v)
        return self.k, self.v


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, dtype: torch.dtype, device: torch.device | str):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, dtype=dtype, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def _linear(n_in: int, n_out: int, dtype: torch.dtype, device: torch.device | str) -> nn.Linear:
    # Plain normal init directly on the device: nn.Linear's kaiming init is slow on a CPU for 8B.
    lin = nn.Linear(n_in, n_out, bias=False, device="meta", dtype=dtype)
    lin.weight = nn.Parameter(torch.empty(n_out, n_in, dtype=dtype, device=device).normal_(0, 0.02))
    return lin


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: [B, S, H, D]; rotate pairs (interleaved, as Meta's reference code does)
    xf = x.float().unflatten(-1, (-1, 2))
    x0, x1 = xf[..., 0], xf[..., 1]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig, dtype: torch.dtype, device: torch.device | str):
        super().__init__()
        self.cfg = cfg
        self.wqkv = _linear(cfg.dim, cfg.dim + 2 * cfg.kv_dim, dtype, device)
        self.wo = _linear(cfg.dim, cfg.dim, dtype, device)
        self.kv_cache: KVCache | None = None

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor,
                input_pos: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        b, s, _ = x.shape
        q, k, v = self.wqkv(x).split([cfg.dim, cfg.kv_dim, cfg.kv_dim], dim=-1)
        q = apply_rope(q.view(b, s, cfg.n_heads, cfg.head_dim), cos, sin).transpose(1, 2)
        k = apply_rope(k.view(b, s, cfg.n_kv_heads, cfg.head_dim), cos, sin).transpose(1, 2)
        v = v.view(b, s, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        assert self.kv_cache is not None, "call setup_caches() first"
        k, v = self.kv_cache.update(input_pos, k, v)
        rep = cfg.n_heads // cfg.n_kv_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.wo(y.transpose(1, 2).reshape(b, s, cfg.dim))


class FeedForward(nn.Module):
    def __init__(self, cfg: LlamaConfig, dtype: torch.dtype, device: torch.device | str):
        super().__init__()
        self.ffn_dim = cfg.ffn_dim
        self.w13 = _linear(cfg.dim, 2 * cfg.ffn_dim, dtype, device)  # gate and up, fused
        self.w2 = _linear(cfg.ffn_dim, cfg.dim, dtype, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).split([self.ffn_dim, self.ffn_dim], dim=-1)
        return self.w2(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: LlamaConfig, dtype: torch.dtype, device: torch.device | str):
        super().__init__()
        self.attention = Attention(cfg, dtype, device)
        self.feed_forward = FeedForward(cfg, dtype, device)
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps, dtype, device)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps, dtype, device)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor,
                input_pos: torch.Tensor) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin, mask, input_pos)
        return h + self.feed_forward(self.ffn_norm(h))


class Llama(nn.Module):
    def __init__(self, cfg: LlamaConfig, dtype: torch.dtype = torch.bfloat16, device: torch.device | str = "cpu"):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim, device="meta", dtype=dtype)
        self.tok_embeddings.weight = nn.Parameter(
            torch.empty(cfg.vocab_size, cfg.dim, dtype=dtype, device=device).normal_(0, 0.02))
        self.layers = nn.ModuleList(Block(cfg, dtype, device) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps, dtype, device)
        if cfg.tied_embeddings:
            self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False, device="meta", dtype=dtype)
            self.output.weight = self.tok_embeddings.weight
        else:
            self.output = _linear(cfg.dim, cfg.vocab_size, dtype, device)
        self.max_seq = 0

    def setup_caches(self, batch: int, max_seq: int) -> None:
        """Allocate the static KV cache and the RoPE and mask tables for `max_seq` positions."""
        cfg = self.cfg
        device = self.norm.weight.device
        dtype = self.norm.weight.dtype
        self.max_seq = max_seq
        for layer in self.layers:
            layer.attention.kv_cache = KVCache(batch, max_seq, cfg.n_kv_heads, cfg.head_dim, dtype, device)
        inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, device=device).float() / cfg.head_dim))
        angles = torch.outer(torch.arange(max_seq, device=device).float(), inv)
        self.register_buffer("rope_cos", angles.cos(), persistent=False)
        self.register_buffer("rope_sin", angles.sin(), persistent=False)
        self.register_buffer("causal_mask", torch.tril(torch.ones(max_seq, max_seq, dtype=torch.bool, device=device)),
                             persistent=False)

    def forward(self, tokens: torch.Tensor, input_pos: torch.Tensor) -> torch.Tensor:
        """tokens [B, S] at positions input_pos [S]; returns logits [B, S, vocab]."""
        cos, sin = self.rope_cos[input_pos], self.rope_sin[input_pos]
        mask = self.causal_mask[None, None, input_pos]
        x = self.tok_embeddings(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, input_pos)
        return self.output(self.norm(x))


def build(name_or_cfg: str | LlamaConfig, dtype: torch.dtype, device: torch.device | str) -> Llama:
    cfg = CONFIGS[name_or_cfg] if isinstance(name_or_cfg, str) else name_or_cfg
    with torch.no_grad():
        return Llama(cfg, dtype=dtype, device=device).eval().requires_grad_(False)


def model_bytes(model: nn.Module) -> int:
    """gpt-fast's `_get_model_size`: parameters and buffers x itemsize, skipping nn.Embedding and
    (here) the KV cache and RoPE/mask tables, which are not weights. A tied output layer counts."""
    seen: set[int] = set()
    total = 0
    for module in model.modules():
        if isinstance(module, nn.Embedding) or isinstance(module, KVCache):
            continue
        for p in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)):
            if id(p) in seen or not p.is_floating_point() and p.dtype != torch.int8:
                continue
            if module is model:  # rope and mask tables
                continue
            seen.add(id(p))
            total += p.numel() * p.element_size()
    return total


def rope_check(head_dim: int) -> float:
    """Sanity value for tests: the rotation keeps norms (returns max relative norm change)."""
    x = torch.randn(1, 3, 1, head_dim)
    ang = torch.randn(3, head_dim // 2)
    y = apply_rope(x, ang.cos(), ang.sin())
    return float(((y.norm(dim=-1) - x.norm(dim=-1)).abs() / x.norm(dim=-1)).max())


