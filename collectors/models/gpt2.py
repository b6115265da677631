"""A GPT-2-style model for the training workload, after nanoGPT's model.py.

Weights are random and tied (embedding = output layer), as in GPT-2. The vocabulary is padded to
50304 (a multiple of 64, as nanoGPT does) so matrix shapes suit tensor cores; the parameter count
is still reported for the published 50257 vocabulary.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from collectors.models.bias_grads import linear_gelu, qkv_heads
from collectors.models.flash4 import causal_attention as flash4_attention, \
    causal_attention_packed as flash4_attention_packed, usable as flash4_usable
from collectors.models.linear_cross_entropy import linear_cross_entropy
from collectors.models.residual_norm import residual_layer_norm

# With fused bias gradients, the output projections' too: each residual add with its projection's bias
# and the LayerNorm after it as one function (residual_norm.py); else those biases are left to autograd
# (module-wide, for measuring the two against each other)
RESIDUAL_NORMS = True
# With FlashAttention-4, its kernels take the q/k/v projection's output packed and give its gradient
# back packed; else q, k, v apart, as SDPA takes them (module-wide, for measuring the two)
PACKED_QKV = True


@dataclass(frozen=True)
class GPT2Config:
    name: str
    block_size: int = 1024
    vocab_size: int = 50304  # 50257 padded up to a multiple of 64
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    published_params: float | None = None

    def n_params(self, vocab_size: int | None = None, non_embedding: bool = False) -> int:
        """Parameters with a tied output layer; `non_embedding` drops token and position tables."""
        v = self.vocab_size if vocab_size is None else vocab_size
        d = self.n_embd
        per_layer = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (4 * d * d + 4 * d) + (4 * d * d + d)
        embeddings = v * d + self.block_size * d
        total = embeddings + self.n_layer * per_layer + 2 * d
        return total - embeddings if non_embedding else total

    def flops_per_token(self, seq_len: int) -> int:
        """Training FLOPs per token: 6N + 12 L H Q T (PaLM appendix B, as nanoGPT's estimate_mfu),
        N without the position table (token embedding counted: it is the output layer's matmul)."""
        n = self.n_params() - self.block_size * self.n_embd
        head_dim = self.n_embd // self.n_head
        return 6 * n + 12 * self.n_layer * self.n_head * head_dim * seq_len


CONFIGS: dict[str, GPT2Config] = {
    c.name: c
    for c in [
        GPT2Config("gpt2-tiny", block_size=64, vocab_size=512, n_layer=2, n_head=2, n_embd=64),
        GPT2Config("gpt2-124m", published_params=124e6),
    ]
}


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPT2Config, fused_bias_grads: bool = False, flash4: bool = False):
        super().__init__()
        self.n_head = cfg.n_head
        self.fused_bias_grads = fused_bias_grads
        # FlashAttention-4's kernels where they can run (flash4.py), else SDPA
        self.flash4 = flash4
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor, bias: bool = True) -> torch.Tensor:
        """The output projection's bias added where `bias` (else the caller adds it)."""
        b, t, c = x.shape
        if self.flash4 and PACKED_QKV:
            # FlashAttention-4 reads q, k, v from the projection's output as it is and writes their
            # gradient back in that layout; the projection's bias gradient is autograd's sum over it
            qkv = self.c_attn(x).view(b, t, 3, self.n_head, c // self.n_head)
            y = flash4_attention_packed(qkv) if flash4_usable(qkv) else _sdpa_bthd(*qkv.unbind(2))
        else:
            if self.fused_bias_grads:
                q, k, v = qkv_heads(x, self.c_attn.weight, self.c_attn.bias, self.n_head)
            else:
                q, k, v = self.c_attn(x).split(c, dim=2)
                q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
            # [B, T, H, D] views of the same memory in, [B, T, H, D] out: no transposing copies
            bthd = (z.transpose(1, 2) for z in (q, k, v))
            y = flash4_attention(*bthd) if self.flash4 and flash4_usable(q) else _sdpa_bthd(*bthd)
        return F.linear(y.contiguous().view(b, t, c), self.c_proj.weight, self.c_proj.bias if bias else None)


def _sdpa_bthd(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """SDPA's causal attention of q, k, v [B, T, H, D], the output [B, T, H, D]."""
    return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                          is_causal=True).transpose(1, 2)


class MLP(nn.Module):
    def __init__(self, cfg: GPT2Config, fused_bias_grads: bool = False):
        super().__init__()
        self.fused_bias_grads = fused_bias_grads
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor, bias: bool = True) -> torch.Tensor:
        """The output projection's bias added where `bias` (else the caller adds it)."""
        if self.fused_bias_grads:
            h = linear_gelu(x, self.c_fc.weight, self.c_fc.bias)
        else:
            h = F.gelu(self.c_fc(x), approximate="tanh")
        return F.linear(h, self.c_proj.weight, self.c_proj.bias if bias else None)


class Block(nn.Module):
    def __init__(self, cfg: GPT2Config, fused_bias_grads: bool = False, flash4: bool = False):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg, fused_bias_grads, flash4)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = MLP(cfg, fused_bias_grads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))

    def forward_fused(self, x: torch.Tensor, h: torch.Tensor,
                      next_norm: nn.LayerNorm, last: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(x, next_norm(x)) after this block, from x and h = ln_1(x): each residual add with its
        projection's bias and the norm after it in one function (residual_norm.py); x is None after
        the last block (only the norm reads it)."""
        x, h = residual_layer_norm(x, self.attn(h, bias=False), self.attn.c_proj.bias, self.ln_2)
        m = self.mlp(h, bias=False)
        if last:
            return None, residual_layer_norm(x, m, self.mlp.c_proj.bias, next_norm, keep_sum=False)
        return residual_layer_norm(x, m, self.mlp.c_proj.bias, next_norm)


class GPT2(nn.Module):
    def __init__(self, cfg: GPT2Config, fused_loss: bool = False, fused_bias_grads: bool = False,
                 flash4: bool = False):
        super().__init__()
        self.cfg = cfg
        # output layer and loss in one pass over the logits (linear_cross_entropy.py), else
        # F.cross_entropy over the materialised logits
        self.fused_loss = fused_loss
        # bias gradients made in the pass that makes the gradient of their layers' output, else by
        # autograd in a pass of their own: the q/k/v projection's and the MLP's first (bias_grads.py),
        # and the output projections' with the residual gradient (residual_norm.py); same parameters
        self.fused_norms = fused_bias_grads and RESIDUAL_NORMS
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.h = nn.ModuleList(Block(cfg, fused_bias_grads, flash4) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as GPT-2
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        pos = torch.arange(t, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        if self.fused_norms:
            h = self.h[0].ln_1(x)
            for i, block in enumerate(self.h):
                last = i + 1 == len(self.h)
                x, h = block.forward_fused(x, h, self.ln_f if last else self.h[i + 1].ln_1, last)
        else:
            for block in self.h:
                x = block(x)
            h = self.ln_f(x)
        if self.fused_loss:
            return linear_cross_entropy(h.view(-1, h.size(-1)), self.lm_head.weight, targets.view(-1))
        logits = self.lm_head(h)
        # autocast runs cross_entropy in float32 itself; an explicit .float() would materialise a copy
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def build(name: str, device: torch.device | str, fused_loss: bool = False, fused_bias_grads: bool = False,
          flash4: bool = False) -> GPT2:
    with torch.device(device):
        return GPT2(CONFIGS[name], fused_loss=fused_loss, fused_bias_grads=fused_bias_grads, flash4=flash4)


def adamw(model: nn.Module, device_type: str, lr: float = 6e-4) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only; fused on CUDA (and MPS where torch has it)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    fused = device_type in ("cuda", "mps") and "fused" in inspect.signature(torch.optim.AdamW).parameters
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=fused)
    except RuntimeError:  # fused not implemented for this device in this torch
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))
