"""Block shapes of the fused GEMV given at run time (COSTPERF_GEMV_CONFIGS) and the tensor-parallel
decode's model given at launch (COSTPERF_TP_MODEL): what they select, what they record, and the
errors for malformed values."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from collectors.distributed import worker
from collectors.models import gemv_fused
from collectors.workloads import llm


def test_given_configs_override_the_committed_table_for_their_matrices_only(monkeypatch: pytest.MonkeyPatch) -> None:
    committed_qkv = gemv_fused.config_for(6144, 4096, 1, False)
    committed_w13 = gemv_fused.config_for(14336, 4096, 1, True)
    value = json.dumps({"6144,4096,1,0": [16, 256, 4, 1], "4096,4096,1,0": [2, 1024, 4, 1, 8]})
    monkeypatch.setenv(gemv_fused.CONFIGS_ENV, value)
    assert gemv_fused.config_for(6144, 4096, 1, False) == (16, 256, 4, 1, 1) != committed_qkv  # ACC 1 if left out
    assert gemv_fused.config_for(4096, 4096, 1, False) == (2, 1024, 4, 1, 8)
    assert gemv_fused.config_for(14336, 4096, 1, True) == committed_w13
    assert gemv_fused.config_for(6144, 4096, 2, False)[:4] != (16, 256, 4, 1)  # the bf16 matrix is another key
    assert llm.knobs(llm.LlmSpec("decode", "llama-3-8b", "int8", True))["gemv_configs"] == value
    monkeypatch.delenv(gemv_fused.CONFIGS_ENV)
    assert gemv_fused.config_for(6144, 4096, 1, False) == committed_qkv
    assert "gemv_configs" not in llm.knobs(llm.LlmSpec("decode", "llama-3-8b", "int8", True))


@pytest.mark.parametrize("value", ["[1, 2]", "{bad json", '{"6144,4096,1": [8, 512, 4, 1]}',
                                   '{"6144,4096,1,2": [8, 512, 4, 1]}', '{"6144,4096,1,0": [8, 512, 4]}',
                                   '{"6144,4096,1,0": [8, 512, 0, 1]}', '{"6144,4096,1,0": [8, 512, 4, 1, 3]}',
                                   '{"6144,4096,1,0": [8, 512, 4, 1, 8, 1]}', '{"6144,4096,1,0": [8, 512, 4, true]}'])
def test_malformed_configs_name_the_variable_and_the_form(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(gemv_fused.CONFIGS_ENV, value)
    with pytest.raises(ValueError, match="COSTPERF_GEMV_CONFIGS: expected a JSON object"):
        gemv_fused.config_for(6144, 4096, 1, False)


def test_tp_model_override_names_the_task_and_rejects_unknown_models(monkeypatch: pytest.MonkeyPatch) -> None:
    class Ctx:  # the fields tasks_for reads
        world_size = 2
        device = torch.device("cpu")
        staged_through_cpu = False

    args = argparse.Namespace(scales=[2], suite="standard", workloads=["decode-tp"], compile=False, eager_decode=False)
    monkeypatch.setenv(worker.TP_MODEL_ENV, "llama-3-1b")
    assert [t.id for t in worker.tasks_for(args, Ctx())] == ["decode-tp-llama-3-1b-n2"]
    monkeypatch.delenv(worker.TP_MODEL_ENV)
    assert [t.id for t in worker.tasks_for(args, Ctx())] == ["decode-tp-llama-tiny-n2"]  # CPU's default
    monkeypatch.setenv(worker.TP_MODEL_ENV, "llama-9z")
    with pytest.raises(ValueError, match="COSTPERF_TP_MODEL='llama-9z': expected one of"):
        worker.tasks_for(args, Ctx())
