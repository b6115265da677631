"""Every report metric against hand-computed cases, from small data folders written through the models."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from collectors import store
from collectors.records import PublishedResult
from report import assumptions, metrics
from report import sample_data as S
from report.assumptions import Assumptions, AssumptionError

A = Assumptions(amortisation_years=3, hours_per_day=8, utilisation=0.5, usd_per_kwh=0.2, kv_cache_gb=2.0)
HOURS = 3 * 365 * 8 * 0.5  # 4,380 active hours over the amortisation period
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------------------------------------
# Formulas


def test_active_hours() -> None:
    assert A.active_hours() == pytest.approx(4380.0)


def test_tokens_per_joule() -> None:
    assert metrics.tokens_per_joule(100.0, 250.0) == pytest.approx(0.4)
    assert metrics.tokens_per_joule(100.0, None) is None
    assert metrics.tokens_per_joule(None, 250.0) is None


def test_tokens_per_dollar_purchase_counts_price_and_electricity() -> None:
    # 50 tok/s for 4,380 h = 788,400,000 tokens; 200 W for 4,380 h = 876 kWh x 0.20 = 175.20 USD.
    got = metrics.tokens_per_dollar_purchase(50.0, 2000.0, 200.0, A)
    assert got == pytest.approx(788_400_000 / (2000.0 + 175.2))


def test_tokens_per_dollar_purchase_without_power_is_price_only() -> None:
    assert metrics.tokens_per_dollar_purchase(50.0, 2000.0, None, A) == pytest.approx(788_400_000 / 2000.0)
    assert metrics.tokens_per_dollar_purchase(50.0, None, 200.0, A) is None


def test_tokens_per_dollar_cloud() -> None:
    # 100 tok/s x 3,600 s = 360,000 tokens per hour at 2.50 USD/h.
    assert metrics.tokens_per_dollar_cloud(100.0, 2.5) == pytest.approx(144_000.0)
    assert metrics.tokens_per_dollar_cloud(None, 2.5) is None


def test_largest_model_and_fit() -> None:
    # 23 GB usable less 2 GB KV cache = 21 GB: 42B params at 4 bits, 21B at 8, 10.5B at 16.
    assert metrics.largest_model_b(23.0, 4, 2.0) == pytest.approx(42.0)
    assert metrics.largest_model_b(23.0, 8, 2.0) == pytest.approx(21.0)
    assert metrics.largest_model_b(23.0, 16, 2.0) == pytest.approx(10.5)
    assert metrics.largest_model_b(1.0, 16, 2.0) == 0.0
    assert metrics.model_fits(8.0, 16, 23.0, 2.0) and not metrics.model_fits(14.0, 16, 23.0, 2.0)


def test_roofline() -> None:
    eff = metrics.effective_bandwidth_gbps(100.0, 15e9)
    assert eff == pytest.approx(1500.0)
    assert metrics.roofline_efficiency(eff, 3000.0) == pytest.approx(0.5)
    assert metrics.roofline_decode_tokens_per_s(3000.0, 15.0) == pytest.approx(200.0)


def test_pareto_front() -> None:
    df = pd.DataFrame({"price": [1000, 2000, 3000, 1500, None], "tps": [50, 40, 100, 60, 500]})
    assert metrics.pareto_front(df, "price", "tps").tolist() == [True, False, True, True, False]


def test_weakest_provenance() -> None:
    assert metrics.weakest("measured", "published") == "published"
    assert metrics.weakest("measured", None, "estimated") == "estimated"
    assert metrics.weakest("measured") == "measured"


@pytest.mark.parametrize("model, expected", [("llama-3-8b", True), ("llama-2-7b", True), ("Llama 3.1 8B", True),
                                             ("llama-3-70b", False), ("gpt2-124m", False), (None, False),
                                             ("qwen3-0.6b", False)])
def test_8b_class(model: str | None, expected: bool) -> None:
    assert metrics.is_8b_class(model) is expected


@pytest.mark.parametrize("dtype, expected", [("bf16", "16-bit"), ("f16", "16-bit"), ("q8_0", "8-bit"),
                                             ("int8", "8-bit"), ("q4_0", "4-bit"), ("q4_k_m", "4-bit"),
                                             ("fp32", "32-bit"), (None, "unknown")])
def test_precision_class(dtype: str | None, expected: str) -> None:
    assert metrics.precision_class(dtype) == expected


def test_pcie_bandwidth() -> None:
    assert metrics.pcie_gbps(4, 16) == pytest.approx(31.5)
    assert metrics.pcie_gbps(5, 8) == pytest.approx(31.5)


# ---------------------------------------------------------------------------------------------
# Machines


def test_usable_memory_rules_and_override() -> None:
    gpu = S.machine("g", "GPU", memory_gb=24, reserve_gb=1.0)
    mac = S.machine("m", "Mac", vendor="apple", unified=True, memory_gb=64, fraction=0.75)
    assert metrics.usable_memory_gb(gpu, A) == pytest.approx(23.0)
    assert metrics.usable_memory_gb(mac, A) == pytest.approx(48.0)
    two = S.machine("g2", "Two GPUs", memory_gb=24, reserve_gb=1.0, count=2)
    assert metrics.usable_memory_gb(two, A.model_copy(update={"vram_reserve_gb": 2.0})) == pytest.approx(44.0)
    assert metrics.usable_memory_gb(mac, A.model_copy(update={"vram_reserve_gb": 2.0})) == pytest.approx(48.0)


def test_current_price_prefers_newest_purchase_and_hourly_for_cloud() -> None:
    m = S.machine("g", "GPU", price_usd=2000)
    newer = m.prices[0].model_copy(update={"amount": 1800.0, "date": dt.date(2026, 1, 1)})
    hourly = m.prices[0].model_copy(update={"amount": 1.5, "kind": "cloud_hourly"})
    m = m.model_copy(update={"prices": [m.prices[0], newer, hourly]})
    assert metrics.current_price(m).amount == 1800.0  # type: ignore[union-attr]
    cloud = m.model_copy(update={"form": "cloud"})
    assert metrics.current_price(cloud).kind == "cloud_hourly"  # type: ignore[union-attr]


def test_machines_table_dollars_per_usable_gb(tmp_path: Path) -> None:
    S.write_machine(tmp_path, S.machine("g", "GPU", memory_gb=24, reserve_gb=1.0, price_usd=2300))
    m = metrics.machines_table(store.load(tmp_path).machines, A).iloc[0]
    assert m["usd_per_usable_gb"] == pytest.approx(100.0)  # 2,300 USD / 23 GB
    # 21 GB beside the KV cache at q8_0's 8.5 bits per weight (the physics checks' own figure)
    assert m["largest_8bit_b"] == pytest.approx(21.0 * 8 / 8.5)
    assert m["host_link_gbps"] == pytest.approx(31.5)


# ---------------------------------------------------------------------------------------------
# From data folders to the headline


def folder(tmp_path: Path) -> Path:
    """One desktop GPU measured twice, one cloud GPU, one Mac with a published figure only."""
    S.write_machine(tmp_path, S.machine("desk", "Desk GPU", memory_gb=24, bandwidth_gbps=1000, tdp_w=400,
                                        price_usd=2000))
    S.write_machine(tmp_path, S.machine("cloud", "Cloud GPU", form="cloud", memory_gb=80, bandwidth_gbps=3000,
                                        tdp_w=700, price_usd=2.5, price_kind="cloud_hourly"))
    S.write_machine(tmp_path, S.machine("mac", "Mac", vendor="apple", form="mini", unified=True, memory_gb=64,
                                        bandwidth_gbps=400, tdp_w=None, price_usd=2500))
    older = [S.result("decode", [30.0, 31.0, 32.0], avg_w=190.0)]
    store.write_run(tmp_path, S.run("desk", T0, older))
    newer = [
        S.result("decode", [40.0, 41.0, 42.0], avg_w=200.0, bytes_per_token=15e9),
        S.result("decode", [60.0, 61.0, 62.0], compile_mode="reduce-overhead", avg_w=180.0),
        S.result("prefill", [4000.0, 4100.0], avg_w=300.0),
    ]
    batch4 = S.result("decode", [500.0], compile_mode="reduce-overhead")
    batch4 = batch4.model_copy(update={"params": batch4.params.model_copy(update={"batch": 4})})
    store.write_run(tmp_path, S.run("desk", T0 + dt.timedelta(days=1), newer + [batch4]))
    store.write_run(tmp_path, S.run("cloud", T0, [S.result("decode", [100.0, 100.0, 100.0], avg_w=500.0)]))
    S.write_published(tmp_path, S.published("bench", [
        PublishedResult(hardware="Mac", machine="mac", workload="decode", model="llama-2-7b", dtype="q4_0",
                        engine="llama.cpp", batch=1, tokens_per_s=50.0),
        PublishedResult(hardware="Desk GPU", machine="desk", workload="decode", model="llama-2-7b", dtype="q4_0",
                        engine="llama.cpp", batch=1, tokens_per_s=150.0),
        PublishedResult(hardware="Unknown box", workload="decode", model="llama-2-7b", dtype="q4_0",
                        engine="llama.cpp", batch=1, tokens_per_s=10.0),
    ]))
    S.write_published(tmp_path, S.published("seed", [
        PublishedResult(hardware="Mac", machine="mac", workload="decode", model="8b", dtype="unknown",
                        engine="unknown", tokens_per_s=999.0)], role="seed_article"))
    return tmp_path


@pytest.fixture()
def rep(tmp_path: Path) -> metrics.Report:
    LAST_ROOT[:] = [tmp_path]
    ds = store.load(folder(tmp_path))
    assert ds.problems == []
    return metrics.build(ds, A)


LAST_ROOT: list[Path] = []  # the data folder behind the `rep` fixture, to build it in another scenario


def row(df: pd.DataFrame, **match: object) -> pd.Series:
    sel = df
    for k, v in match.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, f"{len(sel)} rows match {match}"
    return sel.iloc[0]


def test_latest_run_wins_and_counts_runs(rep: metrics.Report) -> None:
    eager = row(rep.results, machine="desk", workload="decode", compile_mode="eager", provenance="measured")
    assert eager["tokens_per_s"] == 41.0 and eager["n_runs"] == 2
    assert eager["tokens_per_joule"] == pytest.approx(41.0 / 200.0)
    assert eager["roofline_efficiency"] == pytest.approx(41.0 * 15e9 / 1e9 / 1000.0)


def test_seed_article_is_not_evidence(rep: metrics.Report) -> None:
    assert 999.0 not in rep.results["tokens_per_s"].tolist()
    assert [p.id for p in rep.seed] == ["seed"]


def test_headline_ranks_at_the_most_shared_setting(rep: metrics.Report) -> None:
    # two settings have two machines each (torch eager decode: desk, cloud; llama.cpp q4_0: desk, Mac);
    # the one at the standard length (tg128) wins the tie
    assert rep.setting is not None and rep.setting.machines == 2
    assert rep.setting.label == "llama-3-8b · bf16 · torch eager · batch 1 · tg128"
    desk = row(rep.headline, machine="desk")
    # the faster reduce-overhead and published figures are other settings: they never compete here
    assert desk["decode_tok_s"] == 41.0 and desk["decode_provenance"] == "measured"
    assert desk["prefill_tok_s"] == 4050.0  # the same model, format and engine at pp512
    # a desktop priced whole with no host and no wall figure: its measured board power, said so
    assert desk["watts"] == 200 and desk["watts_covers"] == "gpu_board"
    assert desk["tokens_per_dollar"] == pytest.approx(41.0 * HOURS * 3600 / (2000.0 + 200.0 * HOURS / 1000 * 0.2))
    # measured throughput and power, priced with a cited list price: the weakest input is the price
    assert desk["tokens_per_dollar_provenance"] == "published"
    assert desk["tokens_per_joule"] == pytest.approx(41.0 / 200.0)
    assert desk["tok_s_per_usable_gb"] == pytest.approx(41.0 / 23.0)
    assert desk["usd_per_usable_gb"] == pytest.approx(2000.0 / 23.0)
    assert pd.isna(row(rep.headline, machine="mac")["decode_tok_s"])  # no figure at this setting


def test_cloud_machine_only_in_the_cloud_scenario(rep: metrics.Report) -> None:
    assert "cloud" not in set(rep.headline["machine"])
    cloud = metrics.build(store.load(LAST_ROOT[0]), A.model_copy(update={"scenario": "cloud"}))
    assert list(cloud.headline["machine"]) == ["cloud"]
    p = metrics.priced(cloud.results, cloud.machines, cloud.assumptions)
    measured = row(p, machine="cloud", workload="decode", provenance="measured")
    # a rented hour is paid whether it produces or not: the same 50% use as a purchase
    assert measured["tokens_per_dollar"] == pytest.approx(100.0 * 3600 * 0.5 / 2.5)
    assert measured["tokens_per_joule"] == pytest.approx(100.0 / 500.0)


def test_published_mac_without_power(rep: metrics.Report) -> None:
    mac = row(metrics.priced(rep.results, rep.machines, A), machine="mac")
    assert mac["tokens_per_s"] == 50.0 and mac["provenance"] == "published"
    # no power figure: the price alone, an upper bound labelled estimated
    assert mac["tokens_per_dollar"] == pytest.approx(50.0 * HOURS * 3600 / 2500.0)
    assert mac["tokens_per_dollar_provenance"] == "estimated"
    assert "upper bound" in mac["tokens_per_dollar_note"]
    assert pd.isna(mac["tokens_per_joule"])
    m = row(rep.headline, machine="mac")
    assert m["usable_gb"] == pytest.approx(48.0) and m["largest_4bit_b"] == pytest.approx(46.0 * 8 / 4.5)


def test_ceilings_are_apart_from_results(rep: metrics.Report) -> None:
    assert "estimated" not in set(rep.results["provenance"])
    c = rep.ceilings.set_index("machine")
    bpt = (8.03e9 - 128256 * 4096) * 16 / 8  # llama-3-8b at bf16, the physics checks' bytes per token
    assert c.loc["desk", "ceiling_tok_s"] == pytest.approx(1000e9 / bpt)
    assert c.loc["desk", "achieved_fraction"] == pytest.approx(41.0 / (1000e9 / bpt))
    # the Mac has no figure at this setting: the Apple family has none either, so no estimate
    assert pd.isna(c.loc["mac", "estimate_tok_s"])
    assert row(rep.headline, machine="desk")["ceiling_tok_s"] == pytest.approx(1000e9 / bpt)


def test_unmatched_published_rows_kept_but_not_in_headline(rep: metrics.Report) -> None:
    unknown = row(rep.results, name="Unknown box")
    assert pd.isna(unknown["machine"]) and unknown["provenance"] == "published"
    assert "Unknown box" not in rep.headline["name"].tolist()


def test_winners(rep: metrics.Report) -> None:
    w = {x.metric: x for x in rep.winners}
    # neither the desk's board power nor the Mac's missing power is the wall: nothing to rank fairly
    assert w["tokens_per_dollar"].machine is None and "no whole system at the wall power" in w["tokens_per_dollar"].note
    assert w["tokens_per_joule"].machine is None
    # cheapest usable GB: Mac 2,500 / 48 against the desk's 2,000 / 23
    assert w["usd_per_usable_gb"].machine == "mac" and w["usd_per_usable_gb"].value == pytest.approx(2500 / 48)
    assert w["usd_per_usable_gb"].runner_up == "Desk GPU"


def test_winners_never_from_ceilings(tmp_path: Path) -> None:
    hourly = dict(form="cloud", price_usd=2.0, price_kind="cloud_hourly")
    S.write_machine(tmp_path, S.machine("fast", "Fast on paper", bandwidth_gbps=5000, **hourly))
    S.write_machine(tmp_path, S.machine("real", "Measured", bandwidth_gbps=100, **hourly))
    store.write_run(tmp_path, S.run("real", T0, [S.result("decode", [5.0], avg_w=100.0)]))
    rep = metrics.build(store.load(tmp_path), A.model_copy(update={"scenario": "cloud"}))
    assert [w.machine for w in rep.winners[:2]] == ["real", "real"]
    machines_only = store.DataSet(root=tmp_path, machines=store.load(tmp_path).machines)
    only_ceilings = metrics.build(machines_only, A)
    assert only_ceilings.winners[0].machine is None and only_ceilings.winners[1].machine is None


def test_headline_precision_filter(rep: metrics.Report) -> None:
    four = metrics.headline_table(rep.results, rep.machines, A.model_copy(update={"headline_precision": "4-bit"}))
    desk = row(four, machine="desk")
    assert desk["decode_tok_s"] == 150.0 and desk["decode_provenance"] == "published"


def test_fit_grid(rep: metrics.Report) -> None:
    desk = rep.fits[rep.fits["machine"] == "desk"].set_index("model_size")["fits_at"]
    assert desk["8B"] == "16-bit" and desk["14B"] == "8-bit" and desk["32B"] == "4-bit"
    assert desk["70B"] == "does not fit"


def test_priced_rows(rep: metrics.Report) -> None:
    p = metrics.priced(rep.results, rep.machines, A)
    prefill = row(p, machine="desk", workload="prefill", provenance="measured")
    assert prefill["tokens_per_dollar"] == pytest.approx(4050.0 * HOURS * 3600 / (2000 + 300 * HOURS / 1000 * 0.2))


def test_empty_data_folder_builds(tmp_path: Path) -> None:
    (tmp_path / "machines").mkdir()
    rep = metrics.build(store.load(tmp_path), A)
    assert rep.headline.empty and all(w.machine is None for w in rep.winners)


# ---------------------------------------------------------------------------------------------
# Assumptions


def test_parse_set() -> None:
    assert assumptions.parse_set(["usd_per_kwh=0.3", "vram_reserve_gb="]) == {"usd_per_kwh": 0.3,
                                                                                "vram_reserve_gb": None}
    with pytest.raises(AssumptionError, match="unknown assumption 'usd_per_kw'"):
        assumptions.parse_set(["usd_per_kw=0.3"])
    with pytest.raises(AssumptionError, match="usd_per_kwh"):
        assumptions.parse_set(["usd_per_kwh=cheap"])
    with pytest.raises(AssumptionError, match="expected name=value"):
        assumptions.parse_set(["usd_per_kwh"])


def test_resolve_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "_quarto.yml").write_text("params:\n  usd_per_kwh: 0.3\n  hours_per_day: 12\n")
    monkeypatch.setenv(assumptions.ENV_VAR, json.dumps({"hours_per_day": 20}))
    a = assumptions.resolve(tmp_path, {"amortisation_years": 5})
    assert (a.usd_per_kwh, a.hours_per_day, a.amortisation_years, a.utilisation) == (0.3, 20, 5, 0.5)
    monkeypatch.delenv(assumptions.ENV_VAR)
    (tmp_path / "_quarto.yml").write_text("params:\n  utilisation: 2\n")
    with pytest.raises(AssumptionError, match="utilisation"):
        assumptions.resolve(tmp_path)


def test_roofline_only_for_single_stream_decode(tmp_path: Path) -> None:
    S.write_machine(tmp_path, S.machine("desk", "Desk", bandwidth_gbps=1000.0))
    prefill = S.result("prefill", [5000.0], bytes_per_token=15e9)
    batched = S.result("decode", [500.0], bytes_per_token=15e9, compile_mode="reduce-overhead")
    batched = batched.model_copy(update={"params": batched.params.model_copy(update={"batch": 16})})
    single = S.result("decode", [50.0], bytes_per_token=15e9, compile_mode="reduce-overhead")
    store.write_run(tmp_path, S.run("desk", T0, [prefill, batched, single]))
    rep = metrics.build(store.load(tmp_path), A)
    # prefill and batch-16 decode reuse each weight read for many tokens: no roofline, no violation
    for r in (row(rep.results, workload="prefill", provenance="measured"),
              row(rep.results, workload="decode", batch=16)):
        assert pd.isna(r["roofline_efficiency"]) and not r["above_roofline"]
    one = row(rep.results, workload="decode", batch=1, provenance="measured")
    assert one["roofline_efficiency"] == pytest.approx(50.0 * 15.0 / 1000.0) and not one["above_roofline"]


def test_headline_prefers_pp512_tg128_and_labels_other_lengths(tmp_path: Path) -> None:
    S.write_machine(tmp_path, S.machine("desk", "Desk"))
    common = dict(hardware="Desk GPU", machine="desk", model="llama-2-7b", dtype="q4_0", engine="llama.cpp", batch=1)
    S.write_published(tmp_path, S.published("bench", [
        PublishedResult(workload="decode", prompt_tokens=0, gen_tokens=512, tokens_per_s=120.0, **common),
        PublishedResult(workload="decode", prompt_tokens=0, gen_tokens=128, tokens_per_s=110.0, **common),
        PublishedResult(workload="prefill", prompt_tokens=1024, gen_tokens=0, tokens_per_s=900.0, **common),
    ]))
    rep = metrics.build(store.load(tmp_path), A)
    h = row(rep.headline, machine="desk")
    assert h["decode_tok_s"] == 110.0 and h["decode_setting"] == "llama-2-7b · q4_0 · llama.cpp · batch 1"
    assert rep.setting is not None and rep.setting.label.endswith("· tg128")
    # no pp512 figure: none in the headline; the pp1024 one is on the inference page, labelled
    assert pd.isna(h["prefill_tok_s"])
    p = metrics.priced(rep.results, rep.machines, rep.assumptions)
    assert row(p, workload="prefill")["setting"].endswith("· pp1024")


def test_tokens_per_joule_comes_from_the_figures_own_window(tmp_path: Path) -> None:
    from collectors.records import Energy

    S.write_machine(tmp_path, S.machine("desk", "Desk", price_usd=2000, tdp_w=400))
    res = S.result("decode", [100.0, 100.0, 100.0], compile_mode="reduce-overhead")
    # 5 repeats of 128 tokens inside a 7 s window at 200 W: 640 tokens / 1400 J, while the median
    # tokens/s over the average watts would say 0.5 tokens/J
    window = Energy(joules=1400.0, avg_w=200.0, window_s=7.0, method="nvml", covers="gpu_board", tokens=640.0)
    store.write_run(tmp_path, S.run("desk", T0, [res.model_copy(update={"energy": window})]))
    rep = metrics.build(store.load(tmp_path), A)
    assert row(rep.results, workload="decode", provenance="measured")["tokens_per_joule"] == pytest.approx(640 / 1400)
    h = row(rep.headline, machine="desk")
    assert h["tokens_per_joule"] == pytest.approx(640 / 1400) and h["tokens_per_joule_provenance"] == "measured"
    # tokens per dollar still prices the median throughput with the measured power
    assert h["tokens_per_dollar"] == pytest.approx(100.0 * HOURS * 3600 / (2000 + 200 * HOURS / 1000 * 0.2))


def test_training_mfu_against_the_machine_files_peak(tmp_path: Path) -> None:
    m = S.machine("desk", "Desk")
    m = m.model_copy(update={"accelerators": [m.accelerators[0].model_copy(update={"peak_bf16_tflops": 100.0})]})
    S.write_machine(tmp_path, m)
    train = S.result("train-gpt2", [50_000.0], model="gpt2-124m").model_copy(update={"flops_per_token": 8e8})
    store.write_run(tmp_path, S.run("desk", T0, [train]))
    got = row(metrics.build(store.load(tmp_path), A).results, workload="train-gpt2")
    # 50,000 tokens/s x 8e8 FLOPs per token = 40 TFLOP/s of a 100 TFLOP/s peak
    assert got["mfu"] == pytest.approx(0.4)
    assert metrics.model_flops_utilisation(50_000.0, 8e8, None) is None
    assert got["model_tflops"] == pytest.approx(40.0) and pd.isna(got["matmul_share"])  # no matmul measured


def test_training_beside_the_same_machines_measured_matmul_of_its_precision(tmp_path: Path) -> None:
    """The compute counterpart of decode's copy share: model TFLOP/s over the fastest matrix multiply
    measured on the same machine in the products' precision (bf16 for bf16 autocast), not another
    precision's, and not another machine's."""
    for name in ("desk", "other"):
        S.write_machine(tmp_path, S.machine(name, name.title()))

    def train(dtype: str) -> object:
        return S.result("train-gpt2", [50_000.0], model="gpt2-124m", dtype=dtype).model_copy(
            update={"flops_per_token": 8e8})

    def matmul(dtype: str, tflops: float) -> object:
        return S.result("matmul", [tflops], model="matmul-8192", dtype=dtype, unit="TFLOP/s")

    store.write_run(tmp_path, S.run("desk", T0, [matmul("bf16", 60.0), matmul("fp32", 20.0), train("bf16-autocast"),
                                                  train("fp32")]))
    # the later figure of the same matmul replaces the earlier; a matmul of another size stands beside it
    store.write_run(tmp_path, S.run("desk", T0 + dt.timedelta(days=1), [matmul("bf16", 80.0)]))
    store.write_run(tmp_path, S.run("desk", T0, [S.result("matmul", [100.0], model="matmul-4096", dtype="bf16",
                                                         unit="TFLOP/s")]))
    store.write_run(tmp_path, S.run("other", T0, [matmul("fp16", 500.0), train("bf16-autocast")]))
    res = metrics.build(store.load(tmp_path), A).results
    # 50,000 tokens/s x 8e8 FLOPs = 40 TFLOP/s; desk's fastest bf16 matmul: 100 at 4096 (8192's latest: 80)
    bf16 = row(res, machine="desk", workload="train-gpt2", dtype="bf16-autocast")
    assert bf16["matmul_tflops"] == pytest.approx(100.0) and bf16["matmul_share"] == pytest.approx(0.4)
    fp32 = row(res, machine="desk", workload="train-gpt2", dtype="fp32")
    assert fp32["matmul_share"] == pytest.approx(2.0)  # a CPU's fp32 step beside its fp32 matmul
    assert pd.isna(row(res, machine="other", workload="train-gpt2")["matmul_share"])  # fp16 is not bf16
    assert row(res, machine="desk", workload="matmul", model="matmul-8192", dtype="bf16")["value"] == 80.0
    assert pd.isna(row(res, machine="desk", workload="matmul", model="matmul-8192", dtype="bf16")["matmul_share"])
