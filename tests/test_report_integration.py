"""What the report shows beyond its tables: price dates and histories, physics flags and the
measured-vs-published cross-check, scaling over ranks. Each test writes a small data folder with the
real writers, builds the report and reads the HTML blocks."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from collectors import store
from collectors.records import PublishedResult, Result, Stats, UsableMemory, WorkloadParams
from report import assumptions, charts, metrics, tables, views
from report import sample_data as S

A = assumptions.Assumptions()
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def build(root: Path, scenario: str = "system") -> metrics.Report:
    ds = store.load(root)
    assert ds.problems == []
    return metrics.build(ds, A.model_copy(update={"scenario": scenario}))


def walled(m, wall_w: float = 600.0):  # type: ignore[no-untyped-def]
    """A desktop sold whole with a published wall maximum: the system scenario ranks it at the wall."""
    return m.model_copy(update={"power": m.power.model_copy(update={"system_max_w": wall_w})})


def row(df, **match):  # type: ignore[no-untyped-def]
    sel = df
    for k, v in match.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, match
    return sel.iloc[0]


def priced_machine(id: str = "desk", form: str = "desktop", kind: str = "purchase"):  # type: ignore[no-untyped-def]
    m = walled(S.machine(id, "Desk GPU", form=form, price_usd=2000.0, price_kind=kind))
    p = m.prices[0]
    newer = p.model_copy(update={"amount": 1800.0, "date": dt.date(2026, 1, 15), "provider": "Shop B"})
    return m.model_copy(update={"prices": [p, newer]})


# ---------------------------------------------------------------------------------------------
# Prices: the price date printed is that of the price used


def shown_dates(html: str) -> list[str]:
    """Every 'price as of DATE' in a block of HTML, in order."""
    return re.findall(r'price as of <span[^>]*>([0-9-]+)</span>', html)


def test_price_date_shown_is_that_of_the_price_used(tmp_path: Path) -> None:
    S.write_machine(tmp_path, priced_machine())
    store.write_run(tmp_path, S.run("desk", T0, [S.result("decode", [50.0, 50.0, 50.0], avg_w=200.0)]))
    rep = build(tmp_path)
    h = row(rep.headline, machine="desk")
    assert h["price_as_of"] == dt.date(2026, 1, 15) and h["price_used_usd"] == 1800.0
    # the system scenario counts wall power: the published 600 W maximum, not the 200 W board reading
    assert h["watts"] == 600.0 and h["watts_covers"] == "wall"
    assert h["tokens_per_dollar"] == pytest.approx(metrics.tokens_per_dollar_purchase(50.0, 1800.0, 600.0, A))
    table = views.headline_table(rep)
    assert shown_dates(table) == ["2026-01-15"]
    # the tokens-per-dollar card and the cheapest-usable-GB card each print the price they used
    assert shown_dates(views.winner_cards(rep)) == ["2026-01-15", "2026-01-15"]
    inf_rows, inf_html = tables.inference(rep)
    assert set(inf_rows["price_as_of"]) == {dt.date(2026, 1, 15)}
    assert shown_dates(inf_html) == ["2026-01-15"] * len(inf_rows)


def test_cloud_spread_on_one_date_uses_and_prints_one_observation(tmp_path: Path) -> None:
    m = S.machine("cloud", "Cloud GPU", form="cloud", price_usd=3.0, price_kind="cloud_hourly")
    p = m.prices[0]
    spread = [p.model_copy(update={"amount": a, "date": dt.date(2026, 3, 1), "provider": prov})
              for a, prov in ((3.9, "Provider A"), (2.99, "Provider B"), (6.16, "Provider C"))]
    S.write_machine(tmp_path, m.model_copy(update={"prices": [p, *spread]}))
    store.write_run(tmp_path, S.run("cloud", T0, [S.result("decode", [100.0])]))
    rep = build(tmp_path, "cloud")
    chosen = metrics.current_price(store.load(tmp_path).machines["cloud"])
    # the median quote of the day (2.99, 3.90, 6.16): neither the dearest nor the last listed
    assert chosen is not None and (chosen.amount, chosen.provider) == (3.9, "Provider A")
    h = row(rep.headline, machine="cloud")
    assert (h["price_used_usd"], h["price_as_of"], h["price_used_provider"]) == (3.9, dt.date(2026, 3, 1), "Provider A")
    assert h["tokens_per_dollar"] == pytest.approx(metrics.tokens_per_dollar_cloud(100.0, 3.9, A.utilisation))
    assert 'title="Provider A">price as of ' in views.headline_table(rep)
    assert shown_dates(views.headline_table(rep)) == ["2026-03-01"]


def test_price_history_chart_has_one_point_per_price(tmp_path: Path) -> None:
    m = priced_machine("mixed", form="cloud", kind="cloud_hourly")
    extra = [m.prices[0].model_copy(update={"amount": 2.5, "provider": "Shop C"}),  # same date as the first
             m.prices[0].model_copy(update={"amount": 30000.0, "kind": "purchase", "date": dt.date(2026, 2, 1)})]
    S.write_machine(tmp_path, m.model_copy(update={"prices": [*m.prices, *extra],
                                                   "name": "Cloud GPU (one NVIDIA A100 80GB PCIe)"}))
    S.write_machine(tmp_path, S.machine("other", "Other", price_usd=999.0))
    rep = build(tmp_path, "cloud")
    history = rep.prices
    assert len(history) == 5 and (history["machine"] == "mixed").sum() == 4
    spec = charts.price_history(history, "mixed").to_dict()  # type: ignore[union-attr]
    points = [r for rows in spec["datasets"].values() for r in rows]
    assert len(points) == 4, "one point per price, nothing else in the chart's data"
    assert sorted(p["amount"] for p in points) == [2.5, 1800.0, 2000.0, 30000.0]
    assert len(spec["vconcat"]) == 2  # hourly and purchase prices each get their own axis
    assert {p["series"] for p in points if p["kind"] == "cloud_hourly"} == {"unnamed", "Shop B", "Shop C"}
    used = [p for p in points if p["used"]]
    assert len(used) == 1 and used[0]["amount"] == 1800.0  # the ring marks what tokens per dollar uses
    # titled with the machine's name as the machines table shows it, not its full file name
    assert spec["title"]["text"] == "Cloud GPU A100 80GB PCIe: price history"
    assert row(rep.machines, machine="mixed")["price_usd"] == 1800.0
    html = tables.price_histories(rep)
    assert html.count('class="cp-chart"') == 1  # "mixed" has prices of two dates; "other" one price: no history


# ---------------------------------------------------------------------------------------------
# Physics: flagged figures are marked, never dropped; the cross-check


def test_flagged_records_appear_marked(tmp_path: Path) -> None:
    S.write_machine(tmp_path, walled(S.machine("desk", "Desk GPU", bandwidth_gbps=1000.0)))
    # 100 tok/s × 15.01 GB/token = 1,501 GB/s on a 1,000 GB/s machine: physically impossible
    store.write_run(tmp_path, S.run("desk", T0, [S.result("decode", [100.0], avg_w=300.0, bytes_per_token=15.01e9)]))
    raised = S.machine("mac", "Raised Mac", vendor="apple", form="mini", memory_gb=64, unified=True, tdp_w=None)
    raised = raised.model_copy(update={"usable_memory": UsableMemory(rule="macos_raised", limit_gb=100.0,
                                                                     provenance="estimated", formula="raised")})
    S.write_machine(tmp_path, raised)
    S.write_published(tmp_path, S.published("odd", [PublishedResult(
        hardware="Unknown board", workload="decode", model="llama-2-7b", dtype="q4_0", engine="llama.cpp",
        gen_tokens=128, batch=1, tokens_per_s=200.0, settings={"memory_bandwidth_gbps": 100})]))
    rep = build(tmp_path)

    decode = row(rep.results, machine="desk", provenance="measured")
    assert decode["flags"].startswith("violation:") and "decode" in decode["flags"]
    assert rep.counts["flags_violation"] == 2 and rep.counts["flags_review"] == 1
    h = row(rep.headline, machine="desk")
    assert h["decode_tok_s"] == 100.0 and h["decode_flags"] == decode["flags"]  # shown, not dropped
    marked = re.compile(r'<span class="cp-flag cp-flagged" title="([^"]*)">⚑ flagged</span>')
    assert marked.search(views.headline_table(rep))
    # the only candidate: still shown; the Mac's raised (impossible) usable memory is flagged on its card
    assert [w.machine for w in rep.winners] == ["desk", "desk", "mac"]
    assert "usable memory" in (rep.winners[2].flags or "")
    assert "⚑ flagged" in views.winner_cards(rep)
    _, inference = tables.inference(rep)
    assert marked.search(inference)
    _, energy = tables.energy(rep)
    assert marked.search(energy)
    unmatched = tables.unmatched_published(rep)
    assert "Unknown board" in unmatched and marked.search(unmatched) and "review:" in unmatched
    assert row(rep.machines, machine="mac")["flags"].startswith("violation: usable memory")
    for html in (tables.machines(rep), tables.memory(rep)[1]):
        found = marked.findall(html)
        assert len(found) == 1 and "usable memory" in found[0]
    assert "2 violation(s), 1 figure(s) for review" in views.data_summary(rep)


def llama_cpp_result(workload: str, tps: float, dtype: str = "q4_0", gen: int = 128) -> Result:
    params = WorkloadParams(model="llama-2-7b", dtype=dtype, batch=1, engine="llama.cpp",
                            prompt_tokens=512 if workload == "prefill" else 0, gen_tokens=0 if workload == "prefill" else gen)
    return Result(workload=workload, params=params, status="ok", throughput=Stats.of([tps * 0.99, tps, tps * 1.01],
                                                                                     "tokens/s"))


def test_cross_check_ratio_from_the_matching_rows(tmp_path: Path) -> None:
    S.write_machine(tmp_path, S.machine("h100", "H100", memory_gb=80, bandwidth_gbps=3350.0, form="cloud",
                                        price_usd=3.0, price_kind="cloud_hourly"))
    store.write_run(tmp_path, S.run("h100", T0, [llama_cpp_result("decode", 300.0), llama_cpp_result("prefill", 12000.0),
                                                 llama_cpp_result("decode", 150.0, dtype="f16")]))

    def pub(workload: str, tps: float, dtype: str = "q4_0", gen: int | None = 128, machine: str = "h100") -> PublishedResult:
        return PublishedResult(hardware="NVIDIA H100", machine=machine, workload=workload, model="llama-7b",
                               dtype=dtype, engine="llama.cpp", batch=1, tokens_per_s=tps,
                               prompt_tokens=512 if workload == "prefill" else 0,
                               gen_tokens=0 if workload == "prefill" else gen)

    S.write_published(tmp_path, S.published("board", [
        pub("decode", 250.0), pub("prefill", 10000.0),
        pub("decode", 999.0, dtype="q8_0"),  # no measured q8_0
        pub("decode", 777.0, gen=256),  # another test length
    ]))
    rep = build(tmp_path)
    cc = rep.cross_checks
    assert len(cc) == 2
    dec, pre = row(cc, workload="decode"), row(cc, workload="prefill")
    assert (dec["measured_tokens_per_s"], dec["published_tokens_per_s"]) == (300.0, 250.0)
    assert dec["ratio"] == pytest.approx(300.0 / 250.0) and pre["ratio"] == pytest.approx(12000.0 / 10000.0)
    assert dec["published"] == "board#0" and dec["model"] == "llama-2-7b"  # aliases resolved
    html = views.cross_checks(rep)
    assert "1.20×" in html and html.count("<tr>") == 3  # header and the two pairs
    assert "No measured result matches" in views.cross_checks(build(_empty(tmp_path / "empty")))


def _empty(root: Path) -> Path:
    S.write_machine(root, S.machine("desk", "Desk GPU"))
    return root


# ---------------------------------------------------------------------------------------------
# Scaling over ranks


def test_scaling_efficiency_of_a_one_and_two_rank_pair(tmp_path: Path) -> None:
    S.write_machine(tmp_path, S.machine("eight", "Cloud GPU (eight NVIDIA H100 80GB SXM, 700 W)", form="cloud", count=8,
                                        price_usd=16.0,
                                        price_kind="cloud_hourly", tdp_w=700.0))
    store.write_run(tmp_path, S.run("eight", T0, [
        S.distributed_result("train-gpt2-ddp", 1, [1000.0, 1000.0], avg_w=650.0),
        S.distributed_result("train-gpt2-ddp", 2, [1800.0, 1800.0], avg_w=1300.0),
        S.result("decode", [80.0]),
    ]))
    rep = build(tmp_path, "cloud")
    sc = rep.scaling
    one, two = row(sc, world_size=1), row(sc, world_size=2)
    assert one["efficiency"] == pytest.approx(1.0)
    assert two["efficiency"] == pytest.approx(1800.0 / (2 * 1000.0))
    assert two["ideal_tokens_per_s"] == pytest.approx(2000.0)
    # the group: 2 of 8 GPUs pay a quarter of the hourly price; every rank's meter summed
    assert two["group_price_usd"] == pytest.approx(4.0)
    assert two["tokens_per_dollar"] == pytest.approx(1800.0 * 3600 * A.utilisation / 4.0)
    assert two["tokens_per_joule"] == pytest.approx(1800.0 / 1300.0)
    assert two["price_as_of"] == dt.date(2025, 6, 1)
    # the distributed figures are their own rows, not a single device's headline
    assert set(rep.results["ranks"].dropna()) == {1.0, 2.0}
    assert row(rep.headline, machine="eight")["decode_tok_s"] == 80.0
    training, _ = tables.training(rep)  # the same figure costs the same on every page
    assert row(training, ranks=2.0)["tokens_per_dollar"] == pytest.approx(two["tokens_per_dollar"])
    assert row(training, ranks=1.0)["tokens_per_joule"] == pytest.approx(one["tokens_per_joule"])
    table, html = views.scaling(rep)
    assert "90%" in html and set(shown_dates(html)) == {"2025-06-01"} and 'class="cp-chart"' in html
    spec = charts.scaling(table).to_dict()  # type: ignore[union-attr]
    assert len(spec["hconcat"]) == 2
    # the legend names the machine as the table beside it does
    assert set(table["series"].str.split(" · ").str[0]) == {"Cloud GPU H100 80GB SXM"}


def test_scaling_without_distributed_runs_says_so(tmp_path: Path) -> None:
    rep = build(S.write_example(tmp_path, n_runs=3))
    table, html = views.scaling(rep)
    assert table.empty and "No distributed runs are committed yet" in html and "cp-chart" not in html


def test_a_violation_wins_no_card_while_a_sound_figure_exists(tmp_path: Path) -> None:
    S.write_machine(tmp_path, walled(S.machine("bad", "Impossible GPU", bandwidth_gbps=1000.0)))
    S.write_machine(tmp_path, walled(S.machine("good", "Sound GPU", bandwidth_gbps=1000.0)))
    store.write_run(tmp_path, S.run("bad", T0, [S.result("decode", [100.0], avg_w=300.0, bytes_per_token=15.01e9)]))
    store.write_run(tmp_path, S.run("good", T0, [S.result("decode", [50.0], avg_w=300.0, bytes_per_token=15.01e9)]))
    rep = build(tmp_path)
    assert [w.machine for w in rep.winners] == ["good", "good", "good"]
    assert "⚑ flagged" in views.headline_table(rep)  # the impossible figure is still in the table, marked

