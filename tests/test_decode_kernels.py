"""The batch-1 decode path on the CPU: the fused GEMV and attention kernels through Triton's
interpreter (fresh random inputs, outputs poisoned first, against float64 / plain-torch references),
and the layer runner (one function for every layer) against the model's own forward pass."""

from __future__ import annotations

import pytest
import torch

from collectors.models import llama, llama_fast
from collectors.models.int8 import quantize_int8
from triton_run import compile_only, interpret, needs_triton


@needs_triton
def test_fused_gemv_matches_float64_for_every_fusion() -> None:
    out = interpret("""
        import itertools, torch
        from collectors.models import gemv_fused as g
        torch.manual_seed(0)
        for (swiglu, int8, norm, res), acc in itertools.product(itertools.product((False, True), repeat=4), (1, 8)):
            n, k = 8, 64
            rows = 2 * n if swiglu else n
            x = torch.randn(1, k, dtype=torch.bfloat16)
            w = (torch.randint(-127, 128, (rows, k), dtype=torch.int8) if int8 else
                 torch.randn(rows, k).to(torch.bfloat16))
            s = (torch.rand(rows) * 0.01 + 0.001).to(torch.bfloat16) if int8 else None
            gw = (torch.rand(k) + 0.5).to(torch.bfloat16) if norm else None
            r = torch.randn(1, n, dtype=torch.bfloat16) if res else None
            y = torch.full((1, n), float("nan"), dtype=torch.bfloat16)
            g.launch(x, w, s, gw, r, 1e-5, swiglu, False, config=(2, 16, 1, 1, acc), out=y)
            ref = g.reference(x, w, s, gw, r, 1e-5, swiglu)
            err = float((y.double() - ref).norm() / ref.norm())
            assert err < 1e-2 and not y.isnan().any(), (swiglu, int8, norm, res, acc, err)
        print("ok")
    """)
    assert out.strip().endswith("ok")


@needs_triton
def test_decode_attention_kernel_matches_torch_at_every_slice_boundary() -> None:
    # float32: the interpreter's products in bf16 are not exact enough to compare with
    out = interpret("""
        import torch
        from collectors.models import decode_attention as da, llama
        from collectors.models.llama_fast import _attention
        torch.manual_seed(0)
        cfg = llama.LlamaConfig("t", dim=1024, n_layers=1, n_heads=8, n_kv_heads=2, ffn_dim=64, vocab_size=64)
        max_seq = 150
        inv = 1.0 / (10000 ** (torch.arange(0, 128, 2).float() / 128))
        ang = torch.outer(torch.arange(max_seq).float(), inv)
        for pos_v in (0, 5, 63, 64, 149):
            kc = torch.randn(1, 2, max_seq, 128); vc = torch.randn_like(kc)
            kc2, vc2 = kc.clone(), vc.clone()
            kc3, vc3 = kc.clone(), vc.clone()
            qkv = torch.randn(1, 1, 1024 + 2 * 256)
            pos = torch.tensor([pos_v])
            mask = torch.tril(torch.ones(max_seq, max_seq, dtype=torch.bool))[None, None, pos]
            ref = _attention(qkv, kc2, vc2, ang.cos()[pos], ang.sin()[pos], mask, pos, cfg).reshape(1, -1)
            acc, m, l = da.partials(qkv.reshape(1, -1), kc, vc, ang.cos(), ang.sin(), pos, 8)
            for out in (da.combine(acc, m, l, torch.float32), da.combine_kernel(acc, m, l, torch.float32)):
                assert float((out - ref).norm() / ref.norm()) < 1e-5, pos_v
            assert torch.equal(kc, kc2) and torch.equal(vc, vc2), pos_v  # the new key and value were cached
            for _ in range(2):  # merged in the kernel by each head's last slice; the counts start over
                y = torch.full((1, 1024), float("nan"))
                da.partials(qkv.reshape(1, -1), kc3, vc3, ang.cos(), ang.sin(), pos, 8, merge_into=y)
                assert float((y - ref).norm() / ref.norm()) < 1e-5, pos_v
                assert int(da._counter(y.device, 2).abs().sum()) == 0, pos_v
            assert torch.equal(kc3, kc2) and torch.equal(vc3, vc2), pos_v
        print("ok")
    """)
    assert out.strip().endswith("ok")


@needs_triton
def test_fused_layer_matches_the_plain_layer_and_compiles_whole() -> None:
    """One decoder layer through the fused GEMVs and attention kernel (Triton's interpreter; on a GPU
    this is the batch-1 decode path) against the same layer in torch ops, fp32 and int8 weights, eager
    and under torch.compile(fullgraph=True): same output, same key and value written to the cache."""
    out = interpret("""
        import json, os, torch
        from collectors.models import llama, llama_fast
        from collectors.models.int8 import quantize_int8
        # the tiny model's matrices are narrower than the committed block shapes
        os.environ["COSTPERF_GEMV_CONFIGS"] = json.dumps({f"{n},{k},{size},{sw}": [2, 64, 1, 1] for size in (1, 4)
            for n, k, sw in ((128, 64, 0), (64, 64, 0), (192, 64, 1), (64, 192, 0))})
        for int8 in (False, True):
            torch.manual_seed(0)
            m = llama.build("llama-tiny", torch.float32, "cpu")
            if int8:
                quantize_int8(m, random=True)
            cfg = m.cfg
            fast = llama_fast.FastLlama(m, 1, 64, compile=False)
            x, pos = torch.randn(1, 1, cfg.dim), torch.tensor([5])

            def run(fused, compiled):
                w = [t.clone() if t is not None else None for t in fast.weights[0]]  # fresh caches
                def f(x):
                    if fused:
                        return llama_fast.layer(x, *w, m.rope_cos, m.rope_sin, m.causal_mask[:1, :1], pos, cfg,
                                                True, False, True, False)
                    return llama_fast.layer(x, *w, m.rope_cos[pos], m.rope_sin[pos], m.causal_mask[None, None, pos],
                                            pos, cfg, False, False, False, False)
                fn = torch.compile(f, fullgraph=True, backend="aot_eager") if compiled else f
                return fn(x.clone()), w[-2], w[-1]

            ref, k_ref, v_ref = run(False, False)
            for compiled in (False, True):
                y, k, v = run(True, compiled)
                err = float((y - ref).abs().max() / ref.abs().max())
                assert err < 1e-4 and torch.allclose(k, k_ref, atol=1e-5) and torch.allclose(v, v_ref, atol=1e-5), \
                    (int8, compiled, err)
        print("ok")
    """)
    assert out.strip().endswith("ok")


@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_layer_runner_matches_the_model(dtype: str) -> None:
    torch.manual_seed(0)
    m = llama.build("llama-tiny", torch.float32, "cpu")
    if dtype == "int8":
        quantize_int8(m, random=True)
    fast = llama_fast.FastLlama(m, 2, 40, compile=False)
    toks, pos = torch.randint(0, 512, (2, 16)), torch.arange(16)
    ref_logits = m(toks, pos)
    assert torch.equal(fast.forward(toks, pos), ref_logits[:, -1].argmax(-1, keepdim=True))
    # one decode step, each side on its own copy of the cache
    nxt = ref_logits[:, -1].argmax(-1, keepdim=True)
    step = fast.forward(nxt, torch.tensor([16]))
    assert torch.equal(step, m(nxt, torch.tensor([16]))[:, -1].argmax(-1, keepdim=True))


def test_two_step_argmax_keeps_the_first_maximum() -> None:
    for _ in range(20):
        v = torch.randint(0, 4, (128256,)).float()
        assert int(llama_fast._argmax_rows(v)) == int(v.argmax())


@needs_triton
@pytest.mark.parametrize("weights", ["i8", "bf16"])
def test_gemv_compiles_for_hopper_without_reshuffling_x(weights: str) -> None:
    """Compiled for sm_90 (no GPU needed): weights in 16-byte-or-smaller vector loads, and x in the
    weights' layout, so no shared-memory round trip per step (int8 had one: 4 KB, measured at
    1.1-2.6 TB/s against 2.2-4.1 for bf16 on an H200); int8 converted without the integer-to-float
    instruction, whose 16 conversions per clock per SM held int8 below 3 TB/s."""
    out = compile_only(f"""
        import re
        from collectors.models.gemv_kernels import gemv_fused
        from triton_run import gemv_signature, sm90
        consts = {{"N": 6144, "K": 4096, "HAS_SCALE": True, "HAS_NORM": True, "HAS_RES": False, "SWIGLU": False,
                  "PDL": False, "I8_MODE": {2 if weights == "i8" else 0}, "BLOCK_N": 2, "BLOCK_K": 2048,
                  "ACC": 1}}
        k = sm90(gemv_fused, gemv_signature("{weights}"), consts, aligned=6, num_warps=4, num_stages=3)
        ptx = k.asm["ptx"]
        loads = re.findall(r"ld\\.global\\.L1::evict_first[^\\s]*", ptx)
        i2f = len(re.findall(r"cvt\\.rn\\.f32\\.s(?:8|16|32)", ptx))
        print(k.metadata.shared, i2f, ptx.count("prmt.b32 "), sorted(set(loads)))
    """)
    shared, i2f, prmt, loads = out.strip().split(" ", 3)
    assert int(shared) <= 64, out  # the reduction's scratch only
    assert "v4.b32" in loads if weights == "bf16" else "v2.b32" in loads, out
    if weights == "i8":  # int8 becomes float by byte permutes, not the integer-to-float unit
        assert int(i2f) == 0 and int(prmt) >= 2 * 2048 // 128, out  # one per element of a block step


@needs_triton
def test_narrow_accumulators_take_fewer_registers_and_no_shuffles() -> None:
    """int8 gate+up at 4 x 2048, compiled for sm_90 and assembled: summing each thread's 8 products
    before accumulating (ACC 8) needs fewer registers a thread than a [4, 2048] accumulator (Triton
    3.6, as on the H200 runs: 128 -> 96, a fifth program per multiprocessor; 3.9: 96 -> 80) and adds
    no shared memory or warp shuffles."""
    out = compile_only("""
        from collectors.models.gemv_kernels import gemv_fused
        from triton_run import gemv_signature, registers, sm90
        for acc in (1, 8):
            consts = {"N": 14336, "K": 4096, "HAS_SCALE": True, "HAS_NORM": True, "HAS_RES": False, "SWIGLU": True,
                      "PDL": True, "I8_MODE": 2, "BLOCK_N": 4, "BLOCK_K": 2048, "ACC": acc}
            k = sm90(gemv_fused, gemv_signature("i8"), consts, aligned=6, num_warps=4, num_stages=1)
            print(acc, registers(k), k.metadata.shared, k.asm["ptx"].count("shfl.sync"))
    """)
    rows = {r[0]: [int(v) for v in r[1:]] for r in (line.split() for line in out.strip().splitlines())}
    (regs1, shared1, shfl1), (regs8, shared8, shfl8) = rows["1"], rows["8"]
    assert regs8 <= regs1 - 16, out
    assert shared8 <= shared1 and shfl8 <= shfl1, out


@needs_triton
def test_attention_reads_its_cache_slice_before_waiting_for_the_previous_kernel() -> None:
    """With PDL, compiled for sm_90: the attention kernel's global loads before griddepcontrol.wait are
    the position, its angles and the slice's keys and values (16-byte vectors), none of q/k/v; the merge
    kernel waits before its first load. Without PDL neither waits."""
    out = compile_only("""
        import re
        from collectors.models.decode_attention_kernel import attn_combine, attn_decode
        from triton_run import sm90

        def ptx(fn, sig, consts, n):
            return sm90(fn, sig, consts, aligned=n, num_warps=4).asm["ptx"]

        names = ["qkv_ptr", "kc_ptr", "vc_ptr", "cos_ptr", "sin_ptr", "pos_ptr", "acc_ptr", "m_ptr", "l_ptr",
                 "y_ptr", "cnt_ptr"]
        sig = {**{n: "*bf16" for n in names}, "cos_ptr": "*fp32", "sin_ptr": "*fp32", "pos_ptr": "*i64",
               "acc_ptr": "*fp32", "m_ptr": "*fp32", "l_ptr": "*fp32", "cnt_ptr": "*i32", "scale": "fp32"}
        for pdl in (True, False):
            consts = {"DIM": 4096, "KV_DIM": 1024, "HD": 128, "REP": 4, "MAX_SEQ": 640, "SPLIT": 64, "NSPLIT": 10,
                      "MERGE": False, "PDL": pdl}
            text = ptx(attn_decode, sig, consts, 11)
            before, _, after = text.partition("griddepcontrol.wait")
            loads = re.findall(r"ld\\.global[^\\s]*", before)
            print("attn", pdl, len(after) > 0, sum(".v4." in x for x in loads), len(loads))
            csig = {"acc_ptr": "*fp32", "m_ptr": "*fp32", "l_ptr": "*fp32", "out_ptr": "*bf16"}
            text = ptx(attn_combine, csig, {"REP": 4, "HD": 128, "NSPLIT": 10, "NSPLIT_P2": 16, "PDL": pdl}, 4)
            before, _, after = text.partition("griddepcontrol.wait")
            print("combine", pdl, len(after) > 0, len(re.findall(r"ld\\.global", before)))
    """)
    rows = [line.split() for line in out.strip().splitlines()]
    attn = {r[1]: r[2:] for r in rows if r[0] == "attn"}
    combine = {r[1]: r[2:] for r in rows if r[0] == "combine"}
    assert attn["True"][0] == "True" and attn["False"][0] == "False", out
    # keys and values, 64 positions x 128 x 2 bytes each, over 128 threads: 16 vectors of 16 bytes
    assert int(attn["True"][1]) >= 16, out
    assert combine["True"] == ["True", "0"] and combine["False"][0] == "False", out


def test_byte_permute_float_is_the_int8_value() -> None:
    """The permute's float (byte ^ 0x80 under the exponent bits 0x4B) minus 2^23 + 128 is the int8
    value exactly, for all 256 of them (the kernel's constants, checked in integer arithmetic)."""
    q = torch.arange(-128, 128, dtype=torch.int32)
    bits = ((q & 0xFF) ^ 0x80) | 0x4B000000
    assert torch.equal(bits.view(torch.float32) - 8388736.0, q.float())
