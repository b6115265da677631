"""The overview's answer on a small data folder built by hand: each card in each scenario, the one
headline setting, ceilings kept apart, and the labels of a machine's rows. Every expected figure is
computed here from the inputs, by the formulas of the methodology page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from collectors import physics, store
from collectors.records import Host, Machine, PublishedResult, Stats, WorkloadParams, Result
from report import claims, metrics, views
from report import sample_data as S
from report.assumptions import Assumptions

A = Assumptions(amortisation_years=3, hours_per_day=8, utilisation=0.5, usd_per_kwh=0.2, kv_cache_gb=2.0)
HOURS = 4380.0  # active hours: 3 × 365 × 8 × 0.5; idle hours are the same 4,380
TOKENS_PER_TPS = HOURS * 3600  # tokens over the period per 1 token/s
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
HOST_PRICE = 300 + 200 + 100 + 150 + 100 + 150  # the reference host's parts
WALL_A = (400 + 80) / 0.9  # card-a's 400 W TDP plus the host's 80 W, through a 90% PSU
IDLE_A = 40 + 20 / 0.9  # host idle at the wall + card idle through the PSU


def _machine(id: str, name: str, *, host: str | None = None, covers: str = "system", **kw: object) -> Machine:
    m = S.machine(id, name, **kw).model_dump(exclude_none=True)
    for p in m["prices"]:
        p["covers"] = covers
    if host:
        m["host"] = host
    return Machine.model_validate(m)


def _host(root: Path) -> None:
    parts = [("cpu", "CPU", 300), ("motherboard", "Board", 200), ("memory", "32 GB DDR5", 100),
             ("power_supply", "850 W Gold", 150), ("case", "Case", 100), ("storage", "2 TB SSD", 150)]
    host = Host(id="ref-pc", name="Reference PC", form="desktop",
                parts=[{"part": p, "name": n, "price_usd": usd, "date": dt.date(2025, 5, 1),
                        "source_url": "https://example.org/part"} for p, n, usd in parts],
                power={"load_w": 80, "idle_w": 40, "psu_efficiency": 0.9, "sources": ["spec"]},
                sources=[S.SOURCE])
    text = yaml.safe_dump(host.model_dump(mode="json", exclude_none=True), sort_keys=False)
    store.write_new(root / "hosts" / "ref-pc.yaml", text)


def _decode(samples: list[float], batch: int = 1, tuning: bool = False, avg_w: float | None = None,
            internals: dict[str, object] | None = None) -> Result:
    r = S.result("decode", samples, compile_mode="reduce-overhead", avg_w=avg_w)
    extra = {"coordinate_descent_tuning": tuning, **(internals or {})}
    return r.model_copy(update={"params": r.params.model_copy(update={"batch": batch, "extra": extra})})


def _copy(workload: str, memory: str, gbps: float) -> Result:
    return Result(workload=workload, params=WorkloadParams(engine="torch", extra={"size_mb": 256, "host_memory": memory}),
                  status="ok", throughput=Stats.of([gbps], "GB/s"))


def build_folder(root: Path) -> Path:
    _host(root)
    card = dict(covers="card", host="ref-pc")
    a = _machine("card-a", "Card A", memory_gb=24, bandwidth_gbps=1000, tdp_w=400, price_usd=1500, **card)
    a = a.model_copy(update={"power": a.power.model_copy(update={"accelerator_idle_w": 20.0})})
    for m in (a,
              _machine("card-b", "Card B", memory_gb=32, bandwidth_gbps=1800, tdp_w=575, price_usd=2000,
                       covers="card", host="missing-pc"),
              _machine("card-c", "Card C", memory_gb=16, bandwidth_gbps=500, tdp_w=200, price_usd=600, **card),
              _machine("mac", "Mac", vendor="apple", form="mini", unified=True, memory_gb=64, bandwidth_gbps=400,
                       tdp_w=None, price_usd=2500),
              _machine("cloud", "Cloud GPU", form="cloud", memory_gb=80, bandwidth_gbps=3000, tdp_w=700,
                       price_usd=2.0, price_kind="cloud_hourly")):
        S.write_machine(root, m)
    mac = yaml.safe_load((root / "machines" / "mac.yaml").read_text())
    mac["power"] = {"system_max_w": 100, "idle_w": 10, "sources": ["spec"]}
    (root / "machines" / "mac.yaml").unlink()
    store.write_new(root / "machines" / "mac.yaml", yaml.safe_dump(mac, sort_keys=False))
    common = dict(engine="llama.cpp", batch=1)
    tg = dict(model="llama-2-7b", dtype="q4_0", workload="decode", prompt_tokens=0, gen_tokens=128, **common)
    pp = dict(model="llama-2-7b", dtype="q4_0", workload="prefill", prompt_tokens=512, gen_tokens=0, **common)
    other = dict(model="llama-3-8b", dtype="q4_k_m", workload="decode", prompt_tokens=0, gen_tokens=128, **common)
    S.write_published(root, S.published("bench", [
        PublishedResult(hardware="Card A", machine="card-a", tokens_per_s=150.0, **tg),
        PublishedResult(hardware="Card B", machine="card-b", tokens_per_s=250.0, **tg),
        PublishedResult(hardware="Mac", machine="mac", tokens_per_s=50.0, **tg),
        PublishedResult(hardware="Cloud GPU", machine="cloud", tokens_per_s=200.0, **tg),
        PublishedResult(hardware="Card A", machine="card-a", tokens_per_s=5000.0, **pp),
        PublishedResult(hardware="Mac", machine="mac", tokens_per_s=500.0, **pp),
        # a faster figure at another setting: it never competes with the headline's
        PublishedResult(hardware="Card A", machine="card-a", tokens_per_s=400.0, **other),
        PublishedResult(hardware="Mac", machine="mac", tokens_per_s=45.0, **other),
    ]))
    # the engine's internals differ between the two runs' untuned batch-1 figures: still one setting
    first = [_decode([100.0], tuning=False, avg_w=300.0, internals={"pdl": False, "attention_merge": "triton"}),
             _decode([120.0], tuning=True), _decode([700.0], batch=16),
             _decode([1900.0], batch=16, tuning=True), _copy("h2d", "pinned", 25.0), _copy("h2d", "pageable", 6.0)]
    store.write_run(root, S.run("card-a", T0, first))
    newer = {"pdl": True, "attention_merge": "fused", "gemv_configs": '{"6144,4096,1,0": [8, 512, 4, 1]}'}
    store.write_run(root, S.run("card-a", T0 + dt.timedelta(days=1),
                                [_decode([110.0], tuning=False, avg_w=300.0, internals=newer)]))
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_folder(tmp_path_factory.mktemp("boundary"))


def report(folder: Path, scenario: str) -> metrics.Report:
    ds = store.load(folder)
    assert [p for p in ds.problems if "missing-pc" not in str(p)] == []  # only the host card-b names is missing
    return metrics.build(ds, A.model_copy(update={"scenario": scenario}))


def row(df: pd.DataFrame, machine: str) -> pd.Series:
    sel = df[df["machine"] == machine]
    assert len(sel) == 1
    return sel.iloc[0]


def cards(rep: metrics.Report) -> dict[str, object]:
    return {w.metric: w for w in rep.winners}


def test_headline_setting_is_the_most_shared_one(folder: Path) -> None:
    rep = report(folder, "system")
    assert rep.setting is not None
    assert rep.setting.label == "llama-2-7b · q4_0 · llama.cpp · batch 1 · tg128"
    assert rep.setting.machines == 4 and rep.setting.prefill_label.endswith("pp512")
    a = row(rep.headline, "card-a")
    # the 400 tokens/s at llama-3-8b q4_k_m is another setting: never in this ranking
    assert a["decode_tok_s"] == 150.0 and a["prefill_tok_s"] == 5000.0
    assert pd.isna(row(rep.headline, "card-c")["decode_tok_s"])


def test_system_scenario_prices_card_plus_host_and_powers_at_the_wall(folder: Path) -> None:
    rep = report(folder, "system")
    a = row(rep.headline, "card-a")
    assert a["price_usd"] == pytest.approx(1500 + HOST_PRICE)
    assert a["watts"] == pytest.approx(WALL_A) and a["watts_covers"] == "wall"
    assert "0.90 PSU efficiency" in a["watts_basis"] and a["watts_provenance"] == "estimated"
    electricity = (WALL_A * HOURS + IDLE_A * HOURS) / 1000 * 0.2
    assert a["tokens_per_dollar"] == pytest.approx(150 * TOKENS_PER_TPS / (2500 + electricity))
    assert a["tokens_per_joule"] == pytest.approx(150 / WALL_A)
    # a card whose host file is missing gets no system price, and says why
    b = row(rep.headline, "card-b")
    assert pd.isna(b["price_usd"]) and pd.isna(b["tokens_per_dollar"])
    assert "missing-pc" in b["scenario_note"] and b["watts_covers"] == "gpu_board"
    mac = row(rep.headline, "mac")
    assert mac["watts"] == 100 and mac["watts_covers"] == "wall"
    assert mac["tokens_per_dollar"] == pytest.approx(50 * TOKENS_PER_TPS / (2500 + (100 + 10) * HOURS / 1000 * 0.2))
    assert "cloud" not in set(rep.headline["machine"])  # rented by the hour: not a system to buy


def test_system_cards(folder: Path) -> None:
    rep = report(folder, "system")
    w = cards(rep)
    tpd, tpj, gb = w["tokens_per_dollar"], w["tokens_per_joule"], w["usd_per_usable_gb"]
    assert tpd.machine == "card-a" and tpd.runner_up == "Mac" and tpd.ranked == 2  # card-b: no system price
    mac_tpd = row(rep.headline, "mac")["tokens_per_dollar"]
    assert tpd.margin.startswith(f"{tpd.value / mac_tpd:.2f}×")
    assert tpj.machine == "mac" and tpj.value == pytest.approx(0.5) and tpj.ranked == 2
    assert "1 machine(s) without whole system at the wall power" in tpj.note  # card-b's board power
    assert gb.machine == "mac" and gb.value == pytest.approx(2500 / 48)
    bits = physics.bits_per_weight("q4_0")
    assert f"{(48 - 2) * 8 / bits:,.0f}B parameters" in gb.note
    html = views.winner_cards(rep)
    assert html.count("scenario system") == 3 and html.count("llama-2-7b · q4_0 · llama.cpp · batch 1 · tg128") == 2
    assert "4 machine(s) have a measured or published figure there" in views.headline_basis(rep)


def test_upgrade_scenario_prices_the_card_alone(folder: Path) -> None:
    rep = report(folder, "upgrade")
    assert set(rep.headline["machine"]) == {"card-a", "card-b", "card-c"}  # GPUs only
    a, b = row(rep.headline, "card-a"), row(rep.headline, "card-b")
    assert a["price_usd"] == 1500 and a["watts"] == 400 and a["watts_covers"] == "gpu_board"
    assert a["tokens_per_dollar"] == pytest.approx(150 * TOKENS_PER_TPS / (1500 + (400 + 20) * HOURS / 1000 * 0.2))
    assert b["tokens_per_dollar"] == pytest.approx(250 * TOKENS_PER_TPS / (2000 + 575 * HOURS / 1000 * 0.2))
    w = cards(rep)
    assert w["tokens_per_dollar"].machine == "card-b" and w["tokens_per_joule"].machine == "card-b"
    assert w["tokens_per_joule"].value == pytest.approx(250 / 575)
    assert w["usd_per_usable_gb"].machine == "card-c" and w["usd_per_usable_gb"].value == pytest.approx(600 / 15)


def test_cloud_scenario_counts_the_same_utilisation(folder: Path) -> None:
    rep = report(folder, "cloud")
    assert list(rep.headline["machine"]) == ["cloud"]
    c = row(rep.headline, "cloud")
    # a rented hour that sits idle is paid too: 200 tokens/s × 3,600 × 50% ÷ 2 USD
    assert c["tokens_per_dollar"] == pytest.approx(200 * 3600 * 0.5 / 2.0)
    assert c["usd_per_usable_gb"] == pytest.approx(2.0 / 79)
    w = cards(rep)
    assert w["tokens_per_dollar"].machine == "cloud" and w["usd_per_usable_gb"].unit == "USD per usable GB-hour"


def test_ceilings_apart_with_the_physics_bits_and_a_family_estimate(folder: Path) -> None:
    rep = report(folder, "system")
    c = rep.ceilings.set_index("machine")
    bpt = (6.74e9 - 32000 * 4096) * 4.5 / 8
    assert c.loc["card-a", "ceiling_tok_s"] == pytest.approx(1000e9 / bpt)
    fractions = sorted([150 / c.loc["card-a", "ceiling_tok_s"], 250 / c.loc["card-b", "ceiling_tok_s"],
                        200 / c.loc["cloud", "ceiling_tok_s"]])
    assert c.loc["card-c", "estimate_tok_s"] == pytest.approx(500e9 / bpt * fractions[1])
    assert "Card A" in c.loc["card-c", "estimate_basis"] and pd.isna(c.loc["card-a", "estimate_tok_s"])
    assert "estimated" not in set(rep.results["provenance"])  # a ceiling is never a result row
    assert all(w.machine != "card-c" for w in rep.winners)
    assert "≤ " in views.headline_table(rep) and "≤ " in views.ceilings(rep)


def test_labels_keys_and_run_counts(folder: Path) -> None:
    rep = report(folder, "system")
    d = metrics.priced(rep.results, rep.machines, rep.assumptions)
    mine = d[(d["machine"] == "card-a") & (d["engine"] == "torch") & (d["workload"] == "decode")]
    labels = dict(zip(mine["tokens_per_s"], mine["setting"]))
    assert labels[110.0] == "llama-3-8b · bf16 · torch reduce-overhead · batch 1"
    assert labels[120.0] == "llama-3-8b · bf16 · torch reduce-overhead · coordinate-descent tuning · batch 1"
    assert labels[700.0].endswith("batch 16") and labels[1900.0].endswith("coordinate-descent tuning · batch 16")
    assert len(set(labels.values())) == 4
    runs = dict(zip(mine["tokens_per_s"], mine["n_runs"]))
    assert runs == {110.0: 2, 120.0: 1, 700.0: 1, 1900.0: 1}  # runs of the identical setting only
    # a newer engine (other fused kernels, launch mode, block shapes) supersedes the older figure
    assert 100.0 not in labels and "pdl" not in labels[110.0] and "merge" not in labels[110.0]
    copies = rep.results[rep.results["workload"] == "h2d"].set_index("extra")["value"]
    assert copies["host memory pinned, size mb 256"] == 25.0 and copies["host memory pageable, size mb 256"] == 6.0
    # a measured GPU-board figure converts to the wall only through the host's figures
    measured = mine[mine["tokens_per_s"] == 110.0].iloc[0]
    assert measured["watts"] == pytest.approx((300 + 80) / 0.9) and measured["watts_provenance"] == "estimated"


def test_claims_show_margins_and_missing_parts(folder: Path) -> None:
    rep = report(folder, "system")
    by = {c.number: c for c in claims.evaluate(rep)}
    assert by[2].verdict == claims.PARTLY and "share of a training or inference step" in by[2].missing[0]
    assert by[3].verdict == claims.PARTLY and any("400 vs PCIe copy 25.0 GB/s" in x for x in by[3].compared)
    assert by[24].verdict == claims.CONTRADICTED  # 8B class: card-a plus host beats the Mac
    assert "margin" in by[24].compared[0] and any("llama-3-70b" in m for m in by[24].missing)
    assert all(c.verdict in claims.VERDICTS for c in by.values())


def test_inference_page_groups_figures_by_setting(folder: Path) -> None:
    from report import tables

    rep = report(folder, "system")
    _, html = tables.inference(rep)
    # the shared setting gets its own table; the settings one machine has share one, unranked
    assert "llama-2-7b · q4_0 · llama.cpp · batch 1 · tg128 <span" in html and "(4 machines)" in html
    assert html.count("<details open>") == 2  # the most shared decode and prefill settings; the rest fold
    assert "Settings only one machine has" in html and "Spec-based decode ceilings" in html
    _, energy = tables.energy(rep)
    assert "power: whole system at the wall (scenario system)" in energy


def test_the_overview_ranking_holds_only_the_cards_pool(folder: Path) -> None:
    rep = report(folder, "system")
    html = views.ranking(rep)
    # card-a (wall, estimated) and the Mac (wall, published maximum) are ranked; card-b has no system price
    assert "Card A" in html and '"Mac"' in html and "Card B" not in html
    table = views.headline_table(rep)
    assert "card-c" in table.split("<details>")[1]  # no figure at the setting: folded away, never ranked


def test_a_host_missing_parts_gives_a_lower_bound_price(folder: Path) -> None:
    from report import boundary

    ds = store.load(folder)
    host = ds.hosts["ref-pc"]
    partial = host.model_copy(update={"parts": [p for p in host.parts if p.part in ("cpu", "motherboard")]})
    price = boundary.scenario_price(ds.machines["card-a"], {"ref-pc": partial}, "system")
    assert price.usd == 1500 + 300 + 200
    assert price.lower_bound == ("the reference host prices no memory, storage, power supply, case: the system price "
                                 "is a lower bound")
    assert boundary.scenario_price(ds.machines["card-a"], ds.hosts, "system").lower_bound == ""


def test_a_card_resting_on_a_lower_bound_price_reads_as_a_bound(tmp_path: Path) -> None:
    root = build_folder(tmp_path)
    host = yaml.safe_load((root / "hosts" / "ref-pc.yaml").read_text())
    host["parts"] = host["parts"][:2]  # CPU and board only
    (root / "hosts" / "ref-pc.yaml").unlink()
    store.write_new(root / "hosts" / "ref-pc.yaml", yaml.safe_dump(host, sort_keys=False))
    rep = report(root, "system")
    w = cards(rep)["tokens_per_dollar"]
    assert w.machine == "card-a" and w.bound == "≤" and "system price is a lower bound" in w.note
    assert f"≤ {views.P.number(w.value)}" in views.winner_cards(rep)


def test_two_published_rows_of_one_setting_say_what_differs(tmp_path: Path) -> None:
    S.write_machine(tmp_path, S.machine("mac", "Mac", vendor="apple", form="mini", unified=True, tdp_w=None))
    row = dict(machine="mac", workload="decode", model="llama-2-7b", dtype="q4_0", engine="llama.cpp", batch=1,
               prompt_tokens=0, gen_tokens=128)
    S.write_published(tmp_path, S.published("bench", [
        PublishedResult(hardware="Mac, Metal", tokens_per_s=100.0, settings={"fa": 0, "ngl": 99}, **row),
        PublishedResult(hardware="Mac, Metal", tokens_per_s=110.0, settings={"fa": 1, "ngl": 99}, **row),
        PublishedResult(hardware="Mac, Metal + BLAS", tokens_per_s=120.0, settings={"fa": 1, "ngl": 99}, **row),
    ]))
    rep = metrics.build(store.load(tmp_path), A)
    got = sorted(metrics.priced(rep.results, rep.machines, A)["setting"])
    # the flash-attention flag tells the first two apart; the hardware as published the last two
    assert got == ["llama-2-7b · q4_0 · llama.cpp · batch 1 · fa 0",
                   "llama-2-7b · q4_0 · llama.cpp · batch 1 · fa 1 · as published: Mac, Metal",
                   "llama-2-7b · q4_0 · llama.cpp · batch 1 · fa 1 · as published: Mac, Metal + BLAS"]


@pytest.mark.parametrize("scenario", ["system", "upgrade", "cloud"])
def test_the_buyer_chart_holds_the_scenarios_machines_and_says_the_scenario(folder: Path, scenario: str) -> None:
    from report import buyer

    rep = report(folder, scenario)
    options = buyer.options(rep)
    inside = set(rep.machines[rep.machines["in_scenario"].astype(bool)]["machine"])
    assert set(options["machine"]) == inside
    # a rented hour is never priced beside a purchase
    assert ("cloud" in inside) == (scenario == "cloud") and (options["price_kind"] == "cloud_hourly").all() == (
        scenario == "cloud")
    assert buyer.note(rep).startswith(f"Scenario {scenario}: ")
    # every cost per million tokens carries the date of the price it divided by, as every other page does
    costed = options[options["usd_per_mtok"].notna()]
    assert not costed.empty and costed["price_as_of"].notna().all()
    assert options.loc[options["usd_per_mtok"].isna(), "price_as_of"].isna().all()
    assert "prices dated " in buyer.note(rep)


@pytest.mark.parametrize("scenario", ["system", "upgrade", "cloud"])
def test_cards_are_scannable_and_keep_every_fact(folder: Path, scenario: str) -> None:
    rep = report(folder, scenario)
    html = views.winner_cards(rep)
    shown = [w for w in rep.winners if w.machine is not None]
    # the figure first, then the machine, one line of basis; the rest folded into a details element
    assert html.count('<div class="cp-fig">') == 3 and html.count("<details>") == 3
    assert html.count('<div class="cp-basis">scenario ' + scenario) == 3
    for w in shown:
        assert f"{w.bound + ' ' if w.bound else ''}{views.P.number(w.value)} " in html
        for fact in [w.coverage, *(w.note.split("; ") if w.note else [])]:
            assert views.P.esc(fact) in html
        if w.runner_up:
            assert f"{w.ratio:.2f}× " in html and views.P.esc(w.margin) in html
    assert "e+0" not in html  # the runner-up's figure in the report's rounding, never 1.407e+06


def test_the_price_chart_names_machines_as_the_tables_do(folder: Path) -> None:
    from report import charts

    spec = charts.price_vs_throughput(report(folder, "system").headline).to_dict()
    texts = [layer["encoding"]["text"]["field"] for layer in spec["layer"] if "text" in layer.get("encoding", {})]
    assert texts == ["label"]
    assert "llama-2-7b" in str(spec["title"])


def test_tokens_per_joule_over_a_maximum_draw_reads_as_a_lower_bound(folder: Path) -> None:
    rep = report(folder, "system")
    w = cards(rep)["tokens_per_joule"]
    # the Mac's 100 W is its published system maximum: decoding draws less, so 0.5 tokens/J is a floor
    assert w.machine == "mac" and w.bound == "≥" and f"≥ {views.P.number(w.value)} " in views.winner_cards(rep)
    cell = views.tokens_per_joule(row(rep.headline, "mac"))
    assert cell.startswith("≥ ") or "≥ " + views.P.number(w.value) in cell
    assert "≥" not in views.tokens_per_joule(row(rep.headline, "card-a"))  # a wall estimate, not a maximum


def test_usable_memory_is_never_shown_without_its_basis(folder: Path) -> None:
    from report import tables

    rep = report(folder, "system")
    mac, card = row(rep.headline, "mac"), row(rep.headline, "card-a")
    # the Mac's usable GB is macOS's default GPU working-set share of its 64 GB; a card's, its VRAM less a reserve
    share = mac["usable_gb"] / 64
    assert mac["usable_short"] == f"macOS limit: {share:.0%} of RAM"
    assert "recommendedMaxWorkingSetSize" in mac["usable_rule"] and "of 64 GB" in mac["usable_rule"]
    assert card["usable_short"].startswith("VRAM less ") and "24 GB VRAM less" in card["usable_rule"]
    for html in (views.headline_table(rep), tables.memory(rep)[1]):
        assert f"macOS limit: {share:.0%} of RAM</span>" in html and views.P.esc(mac["usable_rule"]) in html
    w = cards(rep)["usd_per_usable_gb"]
    assert w.machine == "mac" and views.P.esc(f"= {mac['usable_rule']}") in views.winner_cards(rep)


def test_the_buyer_chart_fits_a_model_where_the_memory_page_does(tmp_path: Path) -> None:
    from report import buyer
    from report.machines_table import PRECISION_BITS

    root = build_folder(tmp_path)
    # 6.2 GB usable: an 8B model at q4_0 (4.5 bits: 4.5 GB + 2 GB KV cache) does not fit; at a bare 4 bits it would
    S.write_machine(root, _machine("small", "Small card", memory_gb=7.2, bandwidth_gbps=300, tdp_w=100,
                                   price_usd=200, covers="card", host="ref-pc"))
    rep = report(root, "system")
    assert row(rep.machines, "small")["usable_gb"] == pytest.approx(6.2)
    options = buyer.options(rep)
    grid = rep.fits.set_index(["machine", "model_size"])["fits_at"]
    order = sorted(PRECISION_BITS, key=lambda k: PRECISION_BITS[k])  # 4-bit, 8-bit, 16-bit
    for o in options[options["tok_s"].isna() | options["basis"].eq(buyer.BASIS["estimated"])].itertuples():
        at = grid[(o.machine, o.size)]
        assert o.fits == (at != "does not fit" and order.index(at) >= order.index(o.precision)), o
    small = options[(options["machine"] == "small") & (options["size"] == "8B") & (options["precision"] == "4-bit")]
    assert not small["fits"].iloc[0] and small["need_gb"].iloc[0] == pytest.approx(8 * 4.5 / 8 + 2, abs=0.05)


def test_inference_tables_say_the_power_coverage_where_it_differs(folder: Path) -> None:
    from report import tables

    rep = report(folder, "system")
    rows, html = tables.inference(rep)
    covers = set(rows.loc[rows["tokens_per_joule"].notna(), "watts_covers"])
    assert {"wall", "gpu_board"} <= covers  # card-b has no host: its board power only
    # a wall figure and a board figure in one table each say what their power covers
    assert "whole system at the wall power</span>" in html and "GPU board power</span>" in html


def test_two_runs_of_one_machine_at_two_settings_get_two_labels() -> None:
    """Two runs (two sources) of one machine at one model, batch and compile mode that differ in an
    extra parameter, such as the attention kernel, are two settings: each label says which. Two
    publications of one setting keep one label: their sources tell them apart."""
    from report import settings

    base = {"machine": "gpu", "workload": "train-gpt2", "model": "gpt2-124m", "dtype": "bf16-autocast",
            "engine": "torch", "compile_mode": "default", "batch": 64, "kind": "train"}
    df = pd.DataFrame([base | {"source": "gpu/run1", "extra": "sdpa backend first cudnn"},
                       base | {"source": "gpu/run2", "extra": "attention FlashAttention-4"},
                       base | {"machine": "other", "source": "paper A", "extra": None},
                       base | {"machine": "other", "source": "paper B", "extra": None}])
    got = settings.labels(df)
    assert got[0].endswith("batch 64 · sdpa backend first cudnn")
    assert got[1].endswith("batch 64 · attention FlashAttention-4")
    assert got[2] == got[3] == "gpt2-124m · bf16-autocast · torch default · batch 64"


def test_an_attention_library_is_named_in_the_setting() -> None:
    """A figure that ran an attention library in place of the framework's own says so in its setting
    (and ranks apart from the default), its version left to the extra parameters."""
    from report import settings

    fa4 = {"attention": "FlashAttention-4 (flash-attn-4 4.0.0b36, CuTe DSL kernels for Hopper)",
           "sdpa_backend_first": None}
    assert settings.tuning(fa4) == "FlashAttention-4"
    assert settings.tuning(fa4 | {"coordinate_descent_tuning": True}) == "coordinate-descent tuning · FlashAttention-4"
    assert settings.tuning({"sdpa_backend_first": "cudnn"}) is None
    row = {"kind": "train", "model": "gpt2-124m", "dtype": "bf16-autocast", "engine": "torch",
           "compile_mode": "reduce-overhead", "tuning": settings.tuning(fa4), "batch": 64}
    assert settings.setting_label(row) == "gpt2-124m · bf16-autocast · torch reduce-overhead · FlashAttention-4 · batch 64"
    assert settings.rank_key(row) != settings.rank_key(row | {"tuning": None})
