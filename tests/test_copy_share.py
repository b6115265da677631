"""Decode beside the measured copy bandwidth (report/copy_share.py), on the project's own data."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors import store
from report import copy_share, metrics
from report.assumptions import Assumptions

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def table():  # noqa: ANN201
    rep = metrics.build(store.load(DATA), Assumptions())
    return copy_share.table(rep), copy_share.view(rep)[1]


def test_each_decode_figure_is_set_against_its_own_machines_copy(table) -> None:  # noqa: ANN001
    d, html = table
    assert not d.empty and "Share of copy" in html
    for _, row in d.iterrows():
        assert row["effective_bw_gbps"] == pytest.approx(row["tokens_per_s"] * row["bytes_per_token"] / 1e9)
        assert row["copy_share"] == pytest.approx(row["effective_bw_gbps"] / row["copy_gbps"])
        assert 0 < row["copy_share"] <= 1.0  # a decode above its machine's copy bandwidth is a data error
    assert d.groupby("machine")["copy_gbps"].nunique().eq(1).all()


def test_llama_cpp_sits_beside_costperfs_decode_on_the_same_gpu(table) -> None:  # noqa: ANN001
    d, _ = table
    for machine in ("h100-sxm", "h200-sxm"):
        engines = set(d[d["machine"] == machine]["engine"])
        assert {"torch", "llama.cpp"} <= engines, (machine, engines)


def test_batched_figures_count_weights_over_the_batch(table) -> None:  # noqa: ANN001
    d, _ = table
    h200 = d[(d["machine"] == "h200-sxm") & (d["engine"] == "torch")]
    one = h200[(h200["batch"] == 1) & h200["setting"].str.contains("bf16 · torch layer")]["bytes_per_token"].iloc[0]
    b16 = h200[h200["batch"] == 16]["bytes_per_token"].iloc[0]
    assert b16 == pytest.approx(one / 16)
