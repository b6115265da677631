"""The Llama model's forward pass as one compiled layer function, reused by every layer.

torch.compile of the whole model traces and lowers all 32 layers of Llama-3-8B (about 100 s of
compiling per variant on an H200, most of the standard suite's time). The layers are identical in
shape, so here one function computes a layer from its weights passed as plain tensors: it is
compiled once per input shape (batch 1 decode, batch 16 decode, a 512-token prompt ...) and every
layer, every later task with that shape, and (through inductor's on-disk caches) every later run
reuse it. A decode step, the 32 layer calls included, is then captured as one CUDA graph, so the
host launches nothing per layer.

At batch 1 on CUDA the linear layers go through the fused Triton matrix-vector kernel
(collectors/models/gemv_fused.py): each layer is four weight-streaming kernels (RMSNorm and q/k/v;
output projection plus residual; RMSNorm and SwiGLU's two products; down projection plus residual)
and the attention between the first two, itself one kernel (decode_attention.py: RoPE, cache write,
split-position attention) and the merge of its partial results. Elsewhere the same function uses
F.linear (cuBLAS) and inductor's attention.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from collectors.models import decode_attention, gemv_fused
from collectors.models.int8 import Int8Linear
from collectors.models.llama import Llama, LlamaConfig, apply_rope


@dataclass
class LayerWeights:
    wqkv: torch.Tensor
    wo: torch.Tensor
    w13: torch.Tensor
    w2: torch.Tensor
    s_qkv: torch.Tensor | None  # int8: one scale per output row
    s_o: torch.Tensor | None
    s_13: torch.Tensor | None
    s_2: torch.Tensor | None
    g_attn: torch.Tensor  # RMSNorm weights
    g_ffn: torch.Tensor
    k_cache: torch.Tensor
    v_cache: torch.Tensor


def _weight(lin: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(lin, Int8Linear):
        return lin.weight, lin.scales
    return lin.weight, None


def layer_weights(model: Llama) -> list[LayerWeights]:
    out = []
    for layer in model.layers:
        att, ff = layer.attention, layer.feed_forward
        assert att.kv_cache is not None, "call setup_caches() first"
        (wqkv, s_qkv), (wo, s_o) = _weight(att.wqkv), _weight(att.wo)
        (w13, s_13), (w2, s_2) = _weight(ff.w13), _weight(ff.w2)
        out.append(LayerWeights(wqkv, wo, w13, w2, s_qkv, s_o, s_13, s_2, layer.attention_norm.weight,
                                layer.ffn_norm.weight, att.kv_cache.k, att.kv_cache.v))
    return out


def _linear(x: torch.Tensor, w: torch.Tensor, s: torch.Tensor | None) -> torch.Tensor:
    if s is None:
        return F.linear(x, w)
    return F.linear(x, w.to(x.dtype)) * s


def _rmsnorm(x: torch.Tensor, g: torch.Tensor, eps: float) -> torch.Tensor:
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).type_as(x) * g


def _attention(qkv: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, cos: torch.Tensor,
               sin: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, cfg: LlamaConfig) -> torch.Tensor:
    b, s, _ = qkv.shape
    hd, nh, nkv = cfg.head_dim, cfg.n_heads, cfg.n_kv_heads
    q, k, v = qkv.split([cfg.dim, cfg.kv_dim, cfg.kv_dim], dim=-1)
    q = apply_rope(q.view(b, s, nh, hd), cos, sin).transpose(1, 2)
    k = apply_rope(k.view(b, s, nkv, hd), cos, sin).transpose(1, 2)
    k_cache.index_copy_(2, pos, k)
    v_cache.index_copy_(2, pos, v.view(b, s, nkv, hd).transpose(1, 2))
    if s == 1:
        # One query per sequence: grouped-query attention as two small products over the cache,
        # each query group against its own key head (no repeat of the cache), which inductor fuses.
        rep = nh // nkv
        qg = q.reshape(b, nkv, rep, hd)
        scores = (qg @ k_cache.transpose(-1, -2)).float() * hd ** -0.5
        scores = scores.masked_fill(~mask.view(1, 1, 1, -1), float("-inf"))
        y = (scores.softmax(-1).to(qkv.dtype) @ v_cache).reshape(b, nh, 1, hd)
    else:
        kk = k_cache.repeat_interleave(nh // nkv, dim=1)
        vv = v_cache.repeat_interleave(nh // nkv, dim=1)
        y = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
    return y.transpose(1, 2).reshape(b, s, cfg.dim)


def layer(x: torch.Tensor, wqkv: torch.Tensor, wo: torch.Tensor, w13: torch.Tensor, w2: torch.Tensor,
          s_qkv: torch.Tensor | None, s_o: torch.Tensor | None, s_13: torch.Tensor | None, s_2: torch.Tensor | None,
          g_attn: torch.Tensor, g_ffn: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor,
          cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, cfg: LlamaConfig,
          fused: bool, pdl: bool, fused_attn: bool = False, pdl_attn: bool = False) -> torch.Tensor:
    """One decoder layer (llama.Block's arithmetic) on weights passed as plain tensors, so that one
    compiled graph serves every layer (dynamo guards on tensor shapes, not on which layer).
    `pdl`: the GEMVs launched with programmatic dependent launch; `pdl_attn`: the attention kernels too."""
    w = LayerWeights(wqkv, wo, w13, w2, s_qkv, s_o, s_13, s_2, g_attn, g_ffn, k_cache, v_cache)
    eps = cfg.norm_eps
    if fused:  # batch 1, one token: the fused matrix-vector kernels
        gemv = torch.ops.costperf.gemv_fused
        qkv = gemv(x, w.wqkv, w.s_qkv, w.g_attn, None, eps, False, pdl).view(1, 1, -1)
        attn = (qkv, w.k_cache, w.v_cache, cos, sin, pos, cfg.n_heads)  # cos, sin: whole tables, picked at pos
        if fused_attn and decode_attention.COMBINE == "fused":
            y = torch.ops.costperf.attn_decode_merged(*attn, x, pdl_attn)
        elif fused_attn:
            acc, m, l_ = torch.ops.costperf.attn_decode(*attn, pdl_attn)
            if decode_attention.COMBINE_KERNEL:
                y = torch.ops.costperf.attn_combine(acc, m, l_, x, pdl_attn)
            else:
                y = decode_attention.combine(acc, m, l_, x.dtype)
        else:
            y = _attention(qkv, w.k_cache, w.v_cache, cos, sin, mask, pos, cfg)
        h = gemv(y, w.wo, w.s_o, None, x, eps, False, pdl)
        a = gemv(h, w.w13, w.s_13, w.g_ffn, None, eps, True, pdl)
        return gemv(a, w.w2, w.s_2, None, h, eps, False, pdl).view(1, 1, -1)
    qkv = _linear(_rmsnorm(x, w.g_attn, eps), w.wqkv, w.s_qkv)
    h = x + _linear(_attention(qkv, w.k_cache, w.v_cache, cos, sin, mask, pos, cfg), w.wo, w.s_o)
    gate, up = _linear(_rmsnorm(h, w.g_ffn, eps), w.w13, w.s_13).split([cfg.ffn_dim, cfg.ffn_dim], dim=-1)
    return h + _linear(F.silu(gate) * up, w.w2, w.s_2)


def head(x: torch.Tensor, norm_w: torch.Tensor, out_w: torch.Tensor, out_s: torch.Tensor | None, eps: float,
         fused: bool, pdl: bool) -> torch.Tensor:
    """Final norm, output layer and greedy choice of the next token."""
    if fused:
        logits = torch.ops.costperf.gemv_fused(x, out_w, out_s, norm_w, None, eps, False, pdl)
        return _argmax_rows(logits.view(-1)).view(1, 1)
    logits = _linear(_rmsnorm(x[:, -1:], norm_w, eps), out_w, out_s)
    return logits[:, -1].argmax(dim=-1, keepdim=True)


def _argmax_rows(v: torch.Tensor, groups: int = 64) -> torch.Tensor:
    """argmax of a long vector in two steps, so that the first runs on `groups` blocks: inductor
    gives a single 1-D argmax over 128k logits one thread block (18 us on an H200). The first
    maximum wins, as in torch.argmax."""
    n = v.numel()
    if n % groups:
        return v.argmax()
    vals, idx = v.view(groups, n // groups).max(dim=-1)
    g = vals.argmax().view(1)
    return idx.gather(0, g) + g * (n // groups)  # a gather, not idx[g]: no data-dependent shape


@functools.cache
def compiled(fn_name: str, coordinate_descent: bool):  # noqa: ANN201
    """One compiled function per (function, tuning), shared by every model and task of the process."""
    import torch._dynamo.config as dynamo_config  # noqa: PLC0415
    import torch._inductor.config as inductor  # noqa: PLC0415

    # every shape (decode b1/b4/b16, prefill) and dtype is one entry: room for all of them
    dynamo_config.cache_size_limit = max(dynamo_config.cache_size_limit, 64)
    inductor.coordinate_descent_tuning = coordinate_descent
    inductor.fx_graph_cache = True
    fn = {"layer": layer, "head": head}[fn_name]
    return torch.compile(fn, fullgraph=True, dynamic=False)


class FastLlama:
    """Runs `model` (a llama.Llama, bf16/fp16 or int8 from quantize_int8) through `layer`."""

    def __init__(self, model: Llama, batch: int, max_seq: int, compile: bool = True, fused_b1: bool = True,
                 pdl: bool = False, coordinate_descent: bool = True, fused_attn: bool = True,
                 pdl_attn: bool = False):
        model.setup_caches(batch, max_seq)
        self.model, self.cfg = model, model.cfg
        # dataclasses.astuple would deep-copy the tensors
        self.weights = [tuple(getattr(w, f.name) for f in fields(w)) for w in layer_weights(model)]
        self.out_w, self.out_s = _weight(model.output)
        self.cuda = model.norm.weight.is_cuda
        self.fused_ok = fused_b1 and batch == 1 and self.cuda and gemv_fused.available()
        self.pdl = pdl and self.fused_ok
        self.fused_attn = fused_attn and self.fused_ok
        self.pdl_attn = pdl_attn and self.fused_attn
        self.compile = compile
        self.coordinate_descent = coordinate_descent
        self._graph: torch.cuda.CUDAGraph | None = None

    def _fns(self):  # noqa: ANN202
        if self.compile:
            return compiled("layer", self.coordinate_descent), compiled("head", self.coordinate_descent)
        return layer, head

    def forward(self, tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Next token (greedy) for tokens [B, S] at positions pos [S]."""
        m = self.model
        fused = self.fused_ok and tokens.shape == (1, 1)
        layer_fn, head_fn = self._fns()
        fused_attn = fused and self.fused_attn
        cos, sin = (m.rope_cos, m.rope_sin) if fused_attn else (m.rope_cos[pos], m.rope_sin[pos])
        # the fused attention masks by position itself: gathering the mask's row would be one more
        # kernel in every step (5 us on an H200)
        mask = m.causal_mask[:1, :1] if fused_attn else m.causal_mask[None, None, pos]
        x = m.tok_embeddings(tokens)
        for w in self.weights:
            x = layer_fn(x, *w, cos, sin, mask, pos, self.cfg, fused, self.pdl, fused_attn,
                         fused_attn and self.pdl_attn)
        return head_fn(x, m.norm.weight, self.out_w, self.out_s, self.cfg.norm_eps, fused, self.pdl)

    def capture(self, first: torch.Tensor, start: int) -> None:
        """Record one decode step as a CUDA graph: it reads the token and position buffers, writes the
        next token into the token buffer and advances the position, so replays chain."""
        self.tok = first.clone()
        self.pos = torch.tensor([start], device=first.device)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm-up (compiling, autotuning) outside the capture
            for _ in range(2):
                self.forward(self.tok, self.pos)
        torch.cuda.current_stream().wait_stream(stream)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            nxt = self.forward(self.tok, self.pos)
            self.tok.copy_(nxt)
            self.pos.add_(1)

    def decode(self, first: torch.Tensor, start: int, n: int) -> torch.Tensor:
        """n greedy steps from token `first` at position `start`; returns the last token."""
        if self._graph is None:
            tok, pos = first, torch.tensor([start], device=first.device)
            for _ in range(n):
                tok = self.forward(tok, pos)
                pos = pos + 1
            return tok
        self.tok.copy_(first)
        self.pos.fill_(start)
        for _ in range(n):
            self._graph.replay()
        return self.tok
