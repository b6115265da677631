"""The detail pages' blocks (inference, training, energy, memory, machines): charts sized to a screen
and tables that fit their column, split by what may be compared (decode apart from prefill, one
table per power coverage), with the secondary facts of a row (source, basis, physics findings, the
machine's full name) in a details row it opens. Long tables filter, sort and scroll in their own box.
"""

from __future__ import annotations

import pandas as pd

from report import charts as C
from report import metrics as M
from report import present as P
from report.metrics import Report
from report import boundary as B
from report.classify import products_dtype
from report.settings import is_standard_length, rank_key
from report.views import ceilings, tokens_per_joule, tokens_per_usd


def _details(*parts: tuple[str, str]) -> str:
    """A details row's content: 'label: value' items, already escaped, the empty ones left out."""
    items = [f"<b>{P.esc(label)}:</b> {value}" for label, value in parts if value and value != "–"]
    return '<span class="cp-note">' + " · ".join(items) + "</span>"


def _flags(row: pd.Series) -> str:
    return "" if P.is_missing(row.get("flags")) else f'<span class="cp-flag">{P.esc(row["flags"])}</span>'


def _source(row: pd.Series) -> str:
    return P.link(row["source"], row.get("source_url"))


def _result_details(row: pd.Series) -> str:
    when = "" if P.is_missing(row.get("date")) else P.date(row["date"])
    power = "" if P.is_missing(row.get("watts")) else P.esc(
        f"{P.number(row['watts'])} W, {B.COVERS_TEXT.get(row.get('watts_covers'), row.get('watts_covers'))}: "
        f"{row.get('watts_basis') or ''}")
    price = "" if P.is_missing(row.get("tokens_per_dollar_note")) else P.esc(row["tokens_per_dollar_note"])
    compute = "" if P.is_missing(row.get("model_tflops")) else P.esc(
        f"{P.number(row['model_tflops'])} TFLOP/s of model FLOPs"
        + ("" if P.is_missing(row.get("matmul_tflops")) else
           f", beside {P.number(row['matmul_tflops'])} TFLOP/s of dense {products_dtype(row['dtype'])} matrix "
           "multiply measured on the same machine"))
    return _details(("Machine", P.esc(row["name"])), ("Source", _source(row)), ("Date", when),
                    ("Basis", P.esc(row.get("basis")) if not P.is_missing(row.get("basis")) else ""),
                    ("Compute", compute), ("Power", power), ("Tokens per USD", price), ("Physics check", _flags(row)))


def results_table(d: pd.DataFrame, extra: str | None) -> str:
    """One row per figure: machine, setting, throughput and what it costs; source, basis and the
    physics findings in the row's details."""
    d = d.sort_values(["name", "tokens_per_s"], ascending=[True, False])

    def roof(row: pd.Series) -> str:
        if P.is_missing(row["roofline_efficiency"]) or row["provenance"] == "estimated":
            return "–"
        text = f"{row['roofline_efficiency']:.0%}"
        if row["above_roofline"]:
            verdict = "data error" if row["provenance"] == "measured" else "review: bytes per token are estimated"
            return P.flag(f"{text}: above the limit") + f'<br><span class="cp-note">{P.esc(verdict)}</span>'
        return text

    has_tpj = d[d["tokens_per_joule"].notna()] if "tokens_per_joule" in d else d.iloc[0:0]
    mixed = "watts_covers" in d and has_tpj["watts_covers"].nunique(dropna=False) > 1

    def tpj(row: pd.Series) -> str:
        # figures of different power coverage side by side in one table each say what their power covers
        cell = tokens_per_joule(row)
        cov = row.get("watts_covers")
        if not mixed or P.is_missing(row.get("tokens_per_joule")):
            return cell
        what = "power of unknown coverage" if P.is_missing(cov) else f"{B.COVERS_TEXT.get(cov, cov)} power"
        return f'{cell}<br><span class="cp-note">{P.esc(what)}</span>'

    columns = [
        ("Machine", P.machine, False),
        ("Setting", P.text("setting"), False),
        ("Tokens/s", P.col_flagged("tokens_per_s", prov="provenance"), True),
        ("Tokens per USD", tokens_per_usd, True),
        ("Tokens per J", tpj, True),
    ]
    if extra == "roofline":  # decode is memory-bound: how close it came to the bandwidth
        columns.append(("Share of peak bandwidth", roof, True))
    elif extra == "mfu":  # training is compute-bound: how close it came to the peak FLOP/s
        columns.append(("MFU (of peak BF16)", lambda row: "–" if P.is_missing(row.get("mfu"))
                        else P.with_badge(f"{row['mfu']:.1%}", "measured"), True))
        columns.append(("Of measured matmul", lambda row: "–" if P.is_missing(row.get("matmul_share"))
                        else P.with_badge(f"{row['matmul_share']:.1%}", "measured"), True))
    columns.append(("Runs", P.col("n_runs", digits=1), True))
    return P.table(d, columns, details=_result_details)


def inference(r: Report) -> tuple[pd.DataFrame, str]:
    d = M.priced(r.results, r.machines, r.assumptions)
    d = d[d["kind"].isin(["decode", "prefill"])]
    eight_b = M.eight_b_rows(r.results)
    html = (C.embed(C.settings(eight_b[eight_b["kind"] == "decode"], "decode",
                               "Decode, 8B-class models: every setting"))
            + C.embed(C.settings(eight_b[eight_b["kind"] == "prefill"], "prefill",
                                 "Prefill, 8B-class models: every setting"))
            + P.note("The charts show the 8B-class models of the headline on machines with a machine file; the "
                     "tables have every model, and published figures of other hardware are further down. "
                     + scenario_note(r)))
    html += "<h3>Spec-based decode ceilings (≤, never ranked)</h3>" + ceilings(r)
    for kind, title in (("decode", "Decode (generation), by setting"), ("prefill", "Prefill (prompt), by setting")):
        part = d[d["kind"] == kind]
        html += f"<h3>{P.esc(title)}</h3>"
        html += by_setting(part, "roofline" if kind == "decode" else None) if not part.empty else P.note("None yet.")
    return d, html


def by_setting(d: pd.DataFrame, extra: str | None) -> str:
    """One table per setting two or more machines share (model, format, engine, compile mode and
    tuning, batch, length), most machines first: a figure only ever sits beside figures of its own
    setting. Settings only one machine has go in one last table, where nothing is ranked."""
    d = d.assign(_key=[str(rank_key(row)) for _, row in d.iterrows()])
    groups = sorted(d.groupby("_key", sort=False), key=lambda kv: (-kv[1]["machine"].nunique(), kv[0]))
    out, single = [], []
    for _, group in groups:
        n = group["machine"].nunique()
        if n < 2:
            single.append(group)
            continue
        label = M.setting_label(group.iloc[0])
        if is_standard_length(group.iloc[0]):  # the heading names the length even when it is pp512 / tg128
            label += f" · {'tg128' if group.iloc[0]['kind'] == 'decode' else 'pp512'}"
        # each setting folds away (the most shared one open), so the page stays a few screens long
        out.append(f'<details{" open" if not out else ""}><summary class="cp-setting">{P.esc(label)} '
                   f'<span class="cp-note">({n} machines)</span></summary>'
                   + results_table(group.drop(columns="_key").sort_values("tokens_per_s", ascending=False), extra)
                   + "</details>")
    if single:
        rest = pd.concat(single).drop(columns="_key")
        out.append(f'<details><summary class="cp-setting">Settings only one machine has <span class="cp-note">'
                   f"({len(rest)} figures: each is alone at its setting, so nothing here is ranked)</span></summary>"
                   + results_table(rest, extra) + "</details>")
    return "".join(out)


def unmatched_published(r: Report) -> str:
    d = r.results[(r.results["provenance"] == "published") & r.results["machine"].isna()]
    if d.empty:
        return ""
    d = d.assign(setting=[f"{row['workload']} · {M.setting_label(row)}" for _, row in d.iterrows()])
    d = d.sort_values(["name", "tokens_per_s"], ascending=[True, False])
    return P.table(d, [
        ("Hardware (as published)", P.text("name"), False),
        ("Setting", P.text("setting"), False),
        ("Tokens/s", P.col_flagged("tokens_per_s", prov="provenance"), True),
        ("Source", _source, False),
    ], details=lambda row: _details(("Physics check", _flags(row)), ("Basis", P.esc(row.get("basis")))),
        caption="Published figures for hardware that has no machine file yet (not in the headline).")


def training(r: Report) -> tuple[pd.DataFrame, str]:
    d = M.priced(r.results, r.machines, r.assumptions)
    d = d[d["kind"] == "train"]
    html = (C.embed(C.settings(r.results[r.results["kind"] == "train"], "train",
                               "Training throughput, per machine"), empty="No training runs yet.")
            + (P.note(scenario_note(r) + " " + MFU_NOTE) + results_table(d, "mfu") if not d.empty else ""))
    return d, html


MFU_NOTE = ("MFU: model FLOP/s (6N + attention per token) over the spec sheet's peak dense BF16. Of measured "
            "matmul: the same over the fastest dense matrix multiply costperf measured on that machine in the "
            "precision the step's products ran in, which is what the chip sustains within its power limit: a GPU "
            "held at its power cap runs below the clock its peak is quoted at (▸ a row's basis gives its clock).")


def scenario_note(r: Report) -> str:
    """What every tokens-per-dollar and tokens-per-joule cell of a page covers."""
    sc = r.assumptions.scenario
    return (f"Tokens per USD and per J: scenario {sc} ({B.SCENARIO_TEXT[sc]}); power as the scenario counts it "
            f"({B.COVERS_TEXT[B.SCENARIO_POWER[sc]]}) where the machine has such a figure, else what the row's "
            "details say; a machine outside the scenario has none.")


def micro(r: Report) -> tuple[pd.DataFrame, str]:
    d = r.results[(r.results["kind"] == "micro")]
    if d.empty:
        return d, ""
    return d, P.table(d.sort_values(["name", "workload"]), [
        ("Machine", P.machine, False),
        ("Benchmark", P.text("workload"), False),
        ("Setting", lambda row: P.esc(M.setting_label(row)), False),
        ("Value", lambda row: P.flagged(P.with_badge(f"{P.number(row['value'])} {P.esc(row['unit'])}",
                                                     row["provenance"]), row["flags"]), True),
    ], details=lambda row: _details(("Machine", P.esc(row["name"])), ("Source", P.esc(row["source"]))))


def energy(r: Report) -> tuple[pd.DataFrame, str]:
    """The ranking chart, then one table per power coverage: figures of different coverage are not
    comparable, so they never share a table."""
    d = r.results[r.results["tokens_per_joule"].notna()].copy()
    d["setting"] = [f"{row['workload']} · {M.setting_label(row)}" for _, row in d.iterrows()]
    want = B.SCENARIO_POWER[r.assumptions.scenario]
    setting = r.setting.label if r.setting else "–"
    html = C.embed(C.ranking(r.headline[r.headline["watts_covers"] == want], "tokens_per_joule",
                             "Decode tokens per joule", "tokens per joule (tokens/s ÷ W)",
                             "tokens_per_joule_provenance", "watts_basis",
                             subtitle=f"at {setting}; power: {B.COVERS_TEXT[want]} (scenario {r.assumptions.scenario})"),
                   empty="No decode figure at the headline setting with power of the scenario's coverage yet.")
    html += P.note("The chart ranks only figures at the headline setting whose power covers what the scenario counts "
                   "(an estimated wall figure is (board W + host W) ÷ PSU efficiency, or a published system maximum); "
                   "spec ceilings are never on it. The tables below keep each meter's coverage apart.")
    if d.empty:
        return d, html + P.note("No run has an energy measurement yet.")
    for covers, part in d.groupby("power_covers", dropna=False, sort=True):
        label = "power of unknown coverage" if P.is_missing(covers) else f"Power covers: {covers}"
        # rows of one setting together, best first within it: a training step's tokens per joule is
        # not ranked against a batch-1 decode's
        part = part.sort_values(["setting", "tokens_per_joule"], ascending=[True, False])
        html += f"<h3>{P.esc(label)}</h3>" + P.table(part, [
            ("Machine", P.machine, False),
            ("Setting", P.text("setting"), False),
            ("Tokens per J", P.col_flagged("tokens_per_joule", prov="provenance"), True),
            ("J per token", P.col("joules_per_token", prov="provenance"), True),
            ("Average W", P.col("avg_w", prov="power_provenance"), True),
            ("Tokens/s", P.col_flagged("tokens_per_s", prov="provenance"), True),
        ], details=lambda row: _details(("Machine", P.esc(row["name"])), ("Source", P.esc(row["source"]))),
            caption="Grouped by setting, highest tokens per joule first within each: figures of different "
                    "settings (a training step, a batch-16 decode, a batch-1 decode) are listed, not ranked "
                    "against each other.")
    return d, html


MEMORY_COLUMNS = ["machine", "name", "usable_gb", "usable_provenance", "memory_gb", "memory_kind", "usable_rule",
                  "usable_short",
                  "bandwidth_gbps", "usd_per_usable_gb", "largest_4bit_b", "largest_8bit_b", "largest_16bit_b"]


def memory_rows(r: Report) -> pd.DataFrame:
    """The memory table's rows, as shown (and as its CSV)."""
    m = r.machines.sort_values("usable_gb", ascending=False)
    out = m[[c for c in MEMORY_COLUMNS if c in m.columns]].copy()
    out["bandwidth_per_usable_gb"] = [M.per_usable_gb(b, u) if not P.is_missing(b) else None
                                      for b, u in zip(m["bandwidth_gbps"], m["usable_gb"])]
    return out


def memory(r: Report) -> tuple[pd.DataFrame, str]:
    m = r.machines.sort_values("usable_gb", ascending=False)

    def largest(row: pd.Series) -> str:
        return " / ".join(P.number(row[f"largest_{b}bit_b"], 2) for b in (4, 8, 16))

    def details(row: pd.Series) -> str:
        per_gb = M.per_usable_gb(row["bandwidth_gbps"], row["usable_gb"]) \
            if not P.is_missing(row["bandwidth_gbps"]) else None
        return _details(("Machine", P.esc(row["name"])), ("Memory", P.esc(row["memory_kind"])),
                        ("Usable memory", P.esc(row["usable_rule"])),
                        ("Bandwidth per usable GB", f"{P.number(per_gb)} /s" if per_gb is not None else ""))

    h = r.headline.set_index("machine") if not r.headline.empty else None

    def largest_speed(row: pd.Series) -> str:
        if h is None or row["machine"] not in h.index or P.is_missing(h.loc[row["machine"], "largest_4bit_decode_tok_s"]):
            return "–"
        return P.with_badge(P.number(h.loc[row["machine"], "largest_4bit_decode_tok_s"]), "estimated")

    setting = r.setting.label if r.setting else "–"
    intro = P.note(
        "Two questions, two measures. Tokens/s per usable GB (the first chart) rewards small, fast memory: a 12 GB "
        "card scores high because its few GB are read quickly. A buyer who needs capacity reads USD per usable GB "
        f"(the {r.assumptions.scenario} scenario's price ÷ usable GB) and the largest model that fits, with its "
        "estimated decode speed (bandwidth × the share of it the machine, or its chip family, reaches at the "
        "headline setting ÷ the model's bytes at q4_0, 4.5 bits per weight).")
    per_gb = C.embed(C.ranking(r.headline, "tok_s_per_usable_gb", "Decode tokens/s per usable GB (rewards small, "
                               "fast memory)", "tokens/s per usable GB", "decode_provenance", subtitle=f"at {setting}"),
                     empty="No decode figure at the headline setting yet.")
    html = intro + per_gb + C.embed(C.fit_grid(r.fits), empty="No machines yet.") + P.table(m, [
        ("Machine", P.machine, False),
        ("Usable GB", P.usable_cell(), True),
        ("Memory GB", P.col("memory_gb"), True),
        ("Largest model, B params (4 / 8 / 16-bit)", largest, True),
        ("Its 4-bit decode, tokens/s", largest_speed, True),
        ("USD per usable GB" + ("-hour" if r.assumptions.scenario == "cloud" else ""), P.col("usd_per_usable_gb"),
         True),
        ("Bandwidth GB/s", P.col("bandwidth_gbps", prov="spec_provenance"), True),
    ], details=details)
    return memory_rows(r), html


def machines(r: Report) -> str:
    m = r.machines.sort_values(["vendor", "name"])

    def price(row: pd.Series) -> str:
        if P.is_missing(row["price_usd"]):
            return "–"
        unit = "/h" if row["price_kind"] == "cloud_hourly" else ""
        text = f"{P.number(row['price_usd'], 3)} USD{unit}"
        text = P.link(text, row["price_url"]) if row["price_url"] else P.esc(text)
        return (P.with_badge(text, row["price_provenance"])
                + f'<br><span class="cp-note">{P.esc(row["price_kind"])}, {P.date(row["price_date"])}</span>')

    def power(row: pd.Series) -> str:
        # watts alone do not say whether they are a GPU board's TDP or a whole system at the wall
        text = P.with_badge(P.number(row["spec_power_w"]), row["spec_power_provenance"])
        if P.is_missing(row["spec_power_w"]) or not row["spec_power_short"]:
            return text
        return (f'{text}<br><span class="cp-note cp-covers" title="{P.esc(row["spec_power_basis"])}">'
                f'{P.esc(row["spec_power_short"])}</span>')

    def details(row: pd.Series) -> str:
        source = "" if P.is_missing(row["spec_source"]) else \
            f"{P.link(row['spec_source'], row['spec_source_url'])} ({P.date(row['spec_source_date'])})"
        return _details(("Machine", P.esc(row["name"])), ("Vendor", P.esc(row["vendor"])),
                        ("Host link", P.esc(row["host_link"]) if not P.is_missing(row["host_link"]) else ""),
                        ("Power basis", P.esc(row["spec_power_basis"]) if row["spec_power_basis"] else ""),
                        ("Spec source", source), ("Physics check", _flags(row)))

    return P.table(m, [
        ("Machine", P.machine, False),
        ("Accelerator", P.text("accelerator"), False),
        ("Memory GB", P.col_flagged("memory_gb"), True),
        ("Bandwidth GB/s", P.col("bandwidth_gbps", prov="spec_provenance"), True),
        ("BF16 TFLOP/s", P.col("peak_bf16_tflops", prov="spec_provenance"), True),
        ("Power W (what it covers)", power, True),
        ("Price", price, True),
        ("Form", P.text("form"), False),
    ], details=details, caption="▸ opens a machine's details: its full name, vendor, host link, the basis of its "
                                "power figure and the source of its specs.")


def price_histories(r: Report) -> str:
    """A price-history chart for each machine with prices on two dates or more (one price, or one
    date's spread of quotes, is no history: the machines table shows it)."""
    h = r.prices
    if h is None or h.empty:
        return P.note("No machine file has a price yet.")
    counts = h.groupby("machine")["date"].nunique()
    order = [m for m in r.machines.sort_values(["vendor", "name"])["machine"] if counts.get(m, 0) >= 2]
    if not order:
        return P.note("No machine has prices of two dates yet: each machine's price is in the table above.")
    charts = [C.embed(C.price_history(h, m)) for m in order]
    cells = "".join(f'<div class="cp-cell" style="flex:1 1 26rem;min-width:0">{c}</div>' for c in charts)
    single = int((counts == 1).sum())
    return ('<div class="cp-grid" style="display:flex;flex-wrap:wrap;gap:1rem 2rem">' + cells + "</div>"
            + P.note(f"{len(h)} prices of {counts.size} machines; the {len(order)} machine(s) with prices on two "
                     f"dates or more are drawn ({single} with prices of one date: see the table above). Each point is one price as its "
                     "machine file records it (date observed, source, provider); several providers quoted at once "
                     "are a spread, so each provider is its own colour. The ringed point is the price every "
                     "tokens-per-dollar figure of this report uses (the newest USD price of the machine's kind), "
                     "and its date is the one printed beside those figures."))
