"""Reference models: parameter counts and bytes per token against hand-computed figures, and the
static-KV-cache decode path against a plain full forward."""

from __future__ import annotations

import pytest
import torch

from collectors.models import gpt2, llama
from collectors.models.int8 import Int8Linear, quantize_int8, quantize_per_channel, use_gemv_kernel


def test_llama_8b_parameter_count_matches_published() -> None:
    cfg = llama.CONFIGS["llama-3-8b"]
    # by hand: embedding 128256*4096 = 525,336,576; per layer q,o 2*4096^2 + k,v 2*4096*1024
    # + mlp 3*4096*14336 + 2 norms = 218,112,000; 32 layers; final norm; untied output = embedding
    per_layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096
    assert per_layer == 218_112_000
    assert cfg.n_params() == 2 * 525_336_576 + 32 * per_layer + 4096 == 8_030_261_248


@pytest.mark.parametrize("name", ["llama-3-1b", "llama-3-3b", "llama-3-8b", "llama-3-70b"])
def test_llama_counts_within_half_a_percent_of_model_cards(name: str) -> None:
    cfg = llama.CONFIGS[name]
    assert cfg.n_params() == pytest.approx(cfg.published_params, rel=0.005)


def test_bytes_per_token_8b_is_gpt_fast_count() -> None:
    cfg = llama.CONFIGS["llama-3-8b"]
    # weights without the embedding table, 2 bytes each: (8,030,261,248 - 525,336,576) * 2
    assert llama.weight_bytes_per_token(cfg, 2) == (8_030_261_248 - 525_336_576) * 2 == 15_009_849_344
    # int8: 1 byte per matrix element + a bf16 scale per output row; norms stay bf16
    matrices = 8_030_261_248 - 525_336_576 - (2 * 32 + 1) * 4096
    rows = 32 * (6144 + 4096 + 2 * 14336 + 4096) + 128256
    assert llama.weight_bytes_per_token(cfg, 1) == matrices + 2 * rows + 2 * (2 * 32 + 1) * 4096


def test_tied_output_layer_is_read_in_full() -> None:
    cfg = llama.CONFIGS["llama-3-1b"]
    assert cfg.tied_embeddings
    # the published count has the table once, and decode reads it once as the output layer
    assert llama.weight_bytes_per_token(cfg, 2) == cfg.n_params() * 2
    assert llama.memory_needed_bytes(cfg, 2, 1, 0) == cfg.n_params() * 2


def test_model_bytes_of_built_model_matches_formula() -> None:
    cfg = llama.CONFIGS["llama-tiny"]
    model = llama.build(cfg, torch.bfloat16, "cpu")
    model.setup_caches(1, 16)
    assert llama.model_bytes(model) == llama.weight_bytes_per_token(cfg, 2)
    quantize_int8(model)
    assert llama.model_bytes(model) == llama.weight_bytes_per_token(cfg, 1)


def test_kv_cache_bytes() -> None:
    cfg = llama.CONFIGS["llama-3-8b"]
    # K and V, 32 layers, 8 KV heads x 128, 640 tokens, 2 bytes
    assert cfg.kv_cache_bytes(1, 640) == 2 * 32 * 640 * 1024 * 2


def test_decode_with_static_cache_matches_full_forward() -> None:
    torch.manual_seed(0)
    cfg = llama.CONFIGS["llama-tiny"]
    model = llama.build(cfg, torch.float32, "cpu")
    tokens = torch.randint(0, cfg.vocab_size, (2, 12))
    model.setup_caches(2, 16)
    full = model(tokens, torch.arange(12))
    model.setup_caches(2, 16)
    model(tokens[:, :8], torch.arange(8))
    steps = [model(tokens[:, i:i + 1], torch.tensor([i])) for i in range(8, 12)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full[:, 8:], rtol=1e-4, atol=1e-4)


def test_rope_keeps_norms() -> None:
    assert llama.rope_check(64) < 1e-5


def test_int8_linear_close_to_reference() -> None:
    torch.manual_seed(0)
    w = torch.randn(48, 64)
    x = torch.randn(3, 64)
    q, s = quantize_per_channel(w)
    assert q.dtype == torch.int8 and s.shape == (48,)
    lin = Int8Linear(q, s)
    ref = x @ w.T
    err = (lin(x) - ref).norm() / ref.norm()
    assert err < 0.02


def test_gemv_swap_keeps_cpu_path_and_outputs() -> None:
    torch.manual_seed(0)
    cfg = llama.CONFIGS["llama-tiny"]
    model = llama.build(cfg, torch.float32, "cpu")
    model.setup_caches(1, 8)
    tokens = torch.randint(0, cfg.vocab_size, (1, 4))
    before = model(tokens, torch.arange(4))
    assert use_gemv_kernel(model) == cfg.n_layers * 4 + 1
    torch.testing.assert_close(model(tokens, torch.arange(4)), before)


def test_gpt2_124m_count_and_flops() -> None:
    cfg = gpt2.CONFIGS["gpt2-124m"]
    assert cfg.n_params(vocab_size=50257) == 124_439_808  # GPT-2 small, tied, as published
    model = gpt2.build("gpt2-124m", "meta")
    assert sum(p.numel() for p in model.parameters()) == cfg.n_params()
    n = cfg.n_params() - 1024 * 768  # without the position table, as nanoGPT's estimate_mfu
    assert cfg.flops_per_token(1024) == 6 * n + 12 * 12 * 12 * 64 * 1024


def test_gpt2_tiny_trains_one_step() -> None:
    torch.manual_seed(0)
    model = gpt2.build("gpt2-tiny", "cpu")
    opt = gpt2.adamw(model, "cpu")
    x = torch.randint(0, 512, (2, 16))
    loss0 = model(x, x)
    loss0.backward()
    opt.step()
    assert torch.isfinite(loss0)
