"""The blocks each page shows, as HTML strings (the .qmd pages only call these): the overview's
headline, the ceilings, scaling, methodology and claims blocks. The detail pages' long tables are in
report/tables.py.

Kept out of the pages so that the numbers a reader sees can be tested without rendering, and so
that `quarto render` and the fallback engine show exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from report import boundary as B
from report import charts as C
from report import metrics as M
from report import present as P
from report.machine_names import NamedText
from report.metrics import Report

PROV_NOTE = ("Labels: measured = a costperf run file; published = a cited publication; estimated = "
             "derived from specs (formula on the methodology page). Hover a chart mark for its details.")


# ---------------------------------------------------------------------------------------------
# Overview


def _setting_line(r: Report) -> str:
    hs = r.setting
    if hs is None:
        return "no decode figure is measured or published yet, so there is no setting to rank at"
    return (f"at {hs.label} ({hs.machines} machine(s) have a measured or published figure there; "
            "other settings are on the inference page)")


def winner_cards(r: Report) -> str:
    """The three cards, each scannable: the figure, the machine, one line of basis (scenario, setting,
    price date) and, folded, its coverage, runner-up and margin, and the notes behind it."""
    out = []
    a = r.assumptions
    for w in r.winners:
        question = f"Most {w.label}" if not w.lowest_wins else w.label[0].upper() + w.label[1:]
        if w.machine is None:
            why = w.note or ("no machine of this scenario has the figures this needs"
                             + (f" at {w.setting}" if w.setting else ""))
            out.append(P.headline_card(question, "not measured yet", "", "", "",
                                       P.esc(f"scenario {a.scenario}"), "why", [why]))
            continue
        figure = (f"{w.bound + ' ' if w.bound else ''}{P.number(w.value)} "
                  f'<span class="cp-unit">{P.esc(w.unit)}</span>')
        if w.flags:
            figure = P.flagged(figure, w.flags)
        basis = P.esc(" · ".join([f"scenario {a.scenario}"] + ([w.setting] if w.setting else [])))
        if w.price_as_of is not None:
            basis += " · " + P.price_as_of({"price_as_of": w.price_as_of}).removeprefix("<br>")
        if w.ratio is not None:
            lead = "cheaper than" if w.lowest_wins else "ahead of"
            summary = ("level with the runner-up (1.00×)" if f"{w.ratio:.2f}" == "1.00"
                       else f"{w.ratio:.2f}× {lead} the runner-up")
            summary = (summary
                       + (": a near tie" if w.near_tie else "") + f" · {w.ranked} ranked · details")
        else:
            summary = f"{w.ranked} machine(s) ranked · details"
        details = [w.coverage, f"{w.ranked} machine(s) ranked" + (f"; {w.margin}" if w.margin else "")]
        details += [x for x in w.note.split("; ") if x] if w.note else []
        out.append(P.headline_card(question, figure, P.short_name(w.name or w.machine), w.name or w.machine,
                                   w.provenance or "", basis, summary, details))
    return P.card_row(out)


def headline_basis(r: Report) -> str:
    a = r.assumptions
    per_hour = (f"cloud: tokens/s × 3,600 × {a.utilisation:.0%} use ÷ hourly price (a rented hour that sits idle "
                "is paid too)")
    return P.note(
        f"Scenario {a.scenario}: {B.SCENARIO_TEXT[a.scenario]}; power covers "
        f"{B.COVERS_TEXT[B.SCENARIO_POWER[a.scenario]]} (change with --set scenario=system|upgrade|cloud). "
        f"Ranked {_setting_line(r)}; a machine with no figure at that setting has none here (never a figure "
        f"of another setting, never a spec ceiling). Tokens per dollar: {a.amortisation_years:g} years at "
        f"{a.hours_per_day:g} h/day × {a.utilisation:.0%} use, price plus electricity at load and at idle at "
        f"{a.usd_per_kwh:g} USD/kWh; {per_hour}. Tokens per joule and tokens per dollar rank only figures whose "
        f"power covers what the scenario counts; the others are shown, not ranked. The ceiling column (≤) is "
        f"memory bandwidth ÷ bytes per token: an upper bound, never ranked. {PROV_NOTE}")


def headline_table(r: Report) -> str:
    h = r.headline.sort_values("tokens_per_dollar", ascending=False, na_position="last")
    best = {w.metric: w.machine for w in r.winners}
    want = B.SCENARIO_POWER[r.assumptions.scenario]

    def machine_cell(row: pd.Series) -> str:
        mark = " ★" if row["machine"] in best.values() else ""
        return (f'<span class="cp-m" title="{P.esc(row["name"])}: {P.esc(row["decode_setting"])}">'
                f'{P.esc(P.short_name(row["name"]))}</span>{mark}')

    def largest(row: pd.Series) -> str:
        text = " / ".join(P.number(row[f"largest_{b}bit_b"], 2) for b in (4, 8, 16))
        speed = row.get("largest_4bit_decode_tok_s")
        if not P.is_missing(speed):
            text += f'<br><span class="cp-note">4-bit: about {P.number(speed)} tokens/s (estimated)</span>'
        return text

    def price(row: pd.Series) -> str:
        if P.is_missing(row["price_usd"]):
            why = row.get("scenario_note")
            return f'<span title="{P.esc(why)}">– ⓘ</span>' if isinstance(why, str) and why else "–"
        unit = "/h" if row["price_kind"] == "cloud_hourly" else ""
        text = f"{P.number(row['price_usd'], 3)}{unit}"
        covers = row.get("price_covers")
        if isinstance(covers, str) and covers:
            how = "; ".join(str(row.get(k)) for k in ("price_note", "price_lower_bound")
                            if not P.is_missing(row.get(k)) and row.get(k))
            title = f' title="{P.esc(how)}"' if how else ""
            text += f'<br><span class="cp-note"{title}>{P.esc(covers)}{" ⓘ" if how else ""}</span>'
        return text

    def power_mark(cell_of: Callable[[pd.Series], str], column: str) -> Callable[[pd.Series], str]:
        def cell(row: pd.Series) -> str:
            text = cell_of(row)
            cov = row.get("watts_covers")
            if P.is_missing(row.get(column)) or cov == want or P.is_missing(cov):
                return text
            return (f'{text}<br><span class="cp-note" title="not ranked: the scenario counts '
                    f'{P.esc(B.COVERS_TEXT[want])}">{P.esc(B.COVERS_TEXT.get(cov, cov))} power: not ranked</span>')
        return cell

    def ceiling(row: pd.Series) -> str:
        if P.is_missing(row.get("ceiling_tok_s")):
            return "–"
        text = f'<span title="{P.esc(CEILING_NOTE)}">≤ {P.number(row["ceiling_tok_s"])}</span>'
        if not P.is_missing(row.get("estimate_tok_s")):
            text += (f'<br><span class="cp-note" title="{P.esc(row["estimate_basis"])}">est. '
                     f'{P.number(row["estimate_tok_s"])} (family share)</span>')
        return text

    columns = [
        ("Machine", machine_cell, False),
        ("Decode tokens/s", P.col_flagged("decode_tok_s", "decode_flags", prov="decode_provenance"), True),
        ("Decode ceiling ≤ (not ranked)", ceiling, True),
        ("Prefill tokens/s", P.col_flagged("prefill_tok_s", "prefill_flags", prov="prefill_provenance"), True),
        ("Price USD", price, True),
        ("Tokens per USD", power_mark(tokens_per_usd, "tokens_per_dollar") if r.assumptions.scenario != "cloud"
         else tokens_per_usd, True),
        ("Tokens per J", power_mark(tokens_per_joule, "tokens_per_joule"), True),
        ("Tokens/s per usable GB", P.col("tok_s_per_usable_gb", prov="decode_provenance"), True),
        ("Usable GB", P.usable_cell("usable_flags"), True),
        ("USD per usable GB" + ("-hour" if r.assumptions.scenario == "cloud" else ""), P.col("usd_per_usable_gb"),
         True),
        ("Largest model, B params (4 / 8 / 16-bit)", largest, True),
    ]
    setting = r.setting.label if r.setting else "–"
    with_figure = h[h["decode_tok_s"].notna()]
    without = h[h["decode_tok_s"].isna()]
    out = P.table(with_figure, columns, highlight=lambda row: row["machine"] in best.values(),
                  caption=f"Scenario {r.assumptions.scenario}; decode and prefill at {setting} / "
                          f"{r.setting.prefill_label if r.setting else '–'}. ★ wins a card. ⚑ flagged: a physics check "
                          "questions the figure (hover for why); a violation wins no card. ⓘ: why a machine has no price "
                          "in this scenario (hover). Tokens/s per usable GB rewards small, fast memory; a buyer who needs "
                          "capacity reads USD per usable GB and the largest model that fits (4-bit = q4_0, 4.5 bits per "
                          "weight; 8-bit = q8_0, 8.5; 16-bit = f16). The 4-bit decode speed of that largest model is "
                          "estimated: the machine's own (else its chip family's) share of its bandwidth ceiling at the "
                          "headline setting.")
    if not without.empty:
        out += (f"<details><summary>{len(without)} more machine(s) of the {P.esc(r.assumptions.scenario)} scenario have "
                f"no figure at {P.esc(setting)}: their price, memory, spec ceiling (≤) and chip-family estimate, "
                "never ranked</summary>"
                + P.table(without, columns, highlight=lambda row: row["machine"] in best.values()) + "</details>")
    return out


def ranking(r: Report) -> str:
    """The overview's one ranking: tokens per dollar of the machines the card ranked (the scenario's
    power coverage, the headline setting), best first."""
    a = r.assumptions
    h = r.headline[r.headline["tokens_per_dollar"].notna() & r.headline["decode_provenance"].isin(["measured", "published"])]
    if a.scenario != "cloud":
        h = h[h["watts_covers"] == B.SCENARIO_POWER[a.scenario]]
    setting = r.setting.label if r.setting else "–"
    return C.embed(C.ranking(h, "tokens_per_dollar", "Decode tokens per USD", "tokens per USD",
                             "tokens_per_dollar_provenance", "watts_basis", subtitle=f"at {setting} (scenario {a.scenario})",
                             extra=[("price_as_of", "price as of"), ("price_covers", "price covers"),
                                    ("tokens_per_dollar_note", "bound")]),
                   empty=f"No machine of the {a.scenario} scenario has a decode figure at {setting} with a price and "
                         f"{B.COVERS_TEXT[B.SCENARIO_POWER[a.scenario]]} power yet.")


CEILING_NOTE = ("a spec-based ceiling, memory bandwidth ÷ bytes read per token: no machine decodes at its "
                "roofline, so the real figure is lower")


def tokens_per_usd(row: pd.Series) -> str:
    """The figure with the date of the price it used beneath it ('price as of DATE')."""
    cell = P.col("tokens_per_dollar", prov="tokens_per_dollar_provenance")(row)
    note = row.get("tokens_per_dollar_note")
    if isinstance(note, str) and note:
        cell = f'<span title="{P.esc(note)}">≤ {cell}</span>'
    if P.is_missing(row.get("tokens_per_dollar")):
        return cell
    return cell + P.price_as_of(row)


def tokens_per_joule(row: pd.Series) -> str:
    """The figure, with the power it divides by (and what that power covers) on hover."""
    cell = P.col("tokens_per_joule", prov="tokens_per_joule_provenance")(row)
    if P.is_missing(row.get("watts")) or P.is_missing(row.get("tokens_per_joule")):
        return cell
    if B.tpj_bound(row.get("watts_basis")):  # the card prints the same figure as '≥'
        cell = f"≥ {cell}"
    return f'<span title="{P.esc(P.number(row["watts"]))} W: {P.esc(row.get("watts_basis"))}">{cell}</span>'


def headline_csv(r: Report) -> str:
    return P.csv_link(r.headline, "costperf-headline.csv")


# ---------------------------------------------------------------------------------------------
# Inference and training (the pages' long tables are in report/tables.py)


def ceilings(r: Report) -> str:
    """Spec-based decode ceilings at the headline setting, apart from every result: ≤, never ranked."""
    c = r.ceilings
    if c is None or c.empty or r.setting is None:
        return P.note("No ceiling: no headline setting, or no machine with a memory bandwidth and a known model size.")

    def achieved(row: pd.Series) -> str:
        if P.is_missing(row["achieved_tok_s"]):
            return "–"
        return (P.with_badge(P.number(row["achieved_tok_s"]), row["achieved_provenance"])
                + f'<br><span class="cp-note">{row["achieved_fraction"]:.0%} of the ceiling</span>')

    def estimate(row: pd.Series) -> str:
        if P.is_missing(row["estimate_tok_s"]):
            return "–"
        return (P.with_badge(P.number(row["estimate_tok_s"]), "estimated")
                + f'<br><span class="cp-note">{P.esc(row["estimate_basis"])}</span>')

    d = c.sort_values("ceiling_tok_s", ascending=False)
    return (C.embed(C.ceilings(d, "Decode ceilings (≤, not ranked) and figures reached", f"at {r.setting.label}"))
            + P.table(d, [
                ("Machine", P.machine, False),
                ("Family", P.text("family"), False),
                ("Ceiling tokens/s (≤)", lambda row: f'≤ {P.number(row["ceiling_tok_s"])}', True),
                ("Formula", P.text("ceiling_basis"), False),
                ("Reached at the setting", achieved, True),
                ("Estimate for a machine without a figure", estimate, False),
            ], caption="A ceiling is spec memory bandwidth ÷ weight bytes read per token (the physics checks' bits "
                       "per weight: q4_0 4.5, q4_k_m 4.84, q8_0 8.5). It is an upper bound: never ranked, never a "
                       "card. An estimate (machines without a figure) is the ceiling × the median share of it that "
                       "the same chip family's figures reach at this setting; the rows it came from are listed."))


def scaling(r: Report) -> tuple[pd.DataFrame, str]:
    """The scaling chart and table, or a plain statement that no distributed run exists yet."""
    d = r.scaling
    if d is None or d.empty:
        return d, P.note("No distributed runs are committed yet, so there is no scaling figure to show. "
                         "They come from costperf run --nproc-per-node N (torchrun) on a machine with several "
                         "GPUs, or several machines with --nnodes; this section fills in from their run files.")

    def efficiency(row: pd.Series) -> str:
        if P.is_missing(row["efficiency"]):
            return "–"
        return P.with_badge(f"{row['efficiency']:.0%}", "measured")

    def link(row: pd.Series) -> str:
        text = f"{int(row['nodes'])} node(s), {P.esc(row['backend'])}, {P.esc(row['interconnect'])}"
        return text + (" (staged through CPU)" if row["staged_through_cpu"] else "")

    html = C.embed(C.scaling(d)) + P.table(d, [
        ("Machine", P.machine, False),
        ("Workload", P.text("workload"), False),
        ("Setting", lambda row: P.esc(" · ".join(str(row[k]) for k in ("model", "dtype") if not P.is_missing(row[k]))
                                      + (f" · batch {int(row['batch'])}/rank" if not P.is_missing(row["batch"]) else "")),
         False),
        ("Ranks", lambda row: str(int(row["world_size"])), True),
        ("Link", link, False),
        ("Group tokens/s", lambda row: P.flagged(P.with_badge(P.number(row["tokens_per_s"]), "measured"),
                                                 row["flags"]), True),
        ("Scaling efficiency", efficiency, True),
        ("Group tokens per USD", tokens_per_usd, True),
        ("Group tokens per J", tokens_per_joule, True),
        ("Run", P.text("run"), False),
    ], caption="Scaling efficiency = tokens/s at N ranks ÷ (N × tokens/s at one rank), against the one-rank "
               "figure of the same setting (– where none was measured). Tokens per USD: the devices' share of "
               "the machine price (N of its GPUs, per node); tokens per J: every rank's meter summed.")
    return d, html


# ---------------------------------------------------------------------------------------------
# Methodology


def assumptions_table(r: Report) -> str:
    rows = pd.DataFrame(r.assumptions.rows())
    return P.table(rows, [("Assumption", P.text("name"), False), ("Value", P.text("value"), True),
                          ("Meaning", P.text("description"), False)])


def cross_checks(r: Report) -> str:
    """costperf's own measurements beside published figures at the same setting, with the ratio."""
    d = r.cross_checks
    if d is None or d.empty:
        return P.note("No measured result matches a published figure at the same setting yet (same machine, "
                      "model, precision, engine and prompt/generation lengths).")

    def setting(row: pd.Series) -> str:
        test = (f"pp{int(row['prompt_tokens'])}" if row["workload"] == "prefill" and not P.is_missing(row["prompt_tokens"])
                else f"tg{int(row['gen_tokens'])}" if not P.is_missing(row["gen_tokens"]) else "")
        return P.esc(" · ".join(x for x in (row["model"], row["dtype"], row["engine"], test) if x))

    def measured(row: pd.Series) -> str:
        how = "llama-bench run by costperf" if row["run_tool"] == "llama-bench" else "costperf suite"
        return (P.with_badge(P.number(row["measured_tokens_per_s"]), "measured")
                + f'<br><span class="cp-note">{P.esc(row["run"])} ({how})</span>')

    def published(row: pd.Series) -> str:
        when = "" if P.is_missing(row["published_date"]) else f", {P.date(row['published_date'])}"
        return (P.with_badge(P.number(row["published_tokens_per_s"]), "published")
                + f'<br><span class="cp-note">{P.link(row["published_source"], row["published_url"])}{when}</span>')

    def ratio(row: pd.Series) -> str:
        return f"{row['ratio']:.2f}×"

    return P.table(d, [
        ("Machine", P.machine, False),
        ("Workload", P.text("workload"), False),
        ("Setting", setting, False),
        ("Measured tokens/s", measured, True),
        ("Published tokens/s", published, True),
        ("Ratio measured ÷ published", ratio, True),
    ], caption="A ratio near 1 says costperf's harness and the publication agree. The two sides may still "
               "differ in llama.cpp build, driver and clocks (see each source): a ratio far from 1 at the same "
               "setting is a question to look into, not a verdict.")


def data_summary(r: Report) -> str:
    c = r.counts
    counts = {p: int((r.results["provenance"] == p).sum()) for p in M.PROVENANCE_ORDER}
    text = (f"{c['machines']} machine files, {c['runs']} run files, {c['published']} published sets "
            f"({len(r.seed)} of them the seed article). Result rows: {counts['measured']} measured, "
            f"{counts['published']} published, {counts['estimated']} estimated.")
    violations, reviews = c.get("flags_violation", 0), c.get("flags_review", 0)
    text += (f" Physics checks (the same as costperf validate runs): {violations} violation(s), {reviews} figure(s) "
             "for review; each flagged figure is shown, marked ⚑ flagged where it appears, with the finding on "
             "hover and in the CSVs (column flags).")
    out = P.note(text)
    if r.problems:
        items = "".join(f"<li>{P.esc(p)}</li>" for p in r.problems[:50])
        more = f"<li>… and {len(r.problems) - 50} more</li>" if len(r.problems) > 50 else ""
        out += (f'<p class="cp-flag">{len(r.problems)} data problem(s): the files concerned are left out '
                f"(run <code>costperf validate</code>).</p><ul>{items}{more}</ul>")
    return out


# ---------------------------------------------------------------------------------------------
# Claims


def claims(r: Report) -> tuple[pd.DataFrame, str]:
    from report import claims as CL  # noqa: PLC0415

    checks = CL.evaluate(r)
    rows = pd.DataFrame({"check": checks})
    counts = {v: sum(c.verdict == v for c in checks) for v in CL.VERDICTS}
    a = r.assumptions
    summary = P.note(f"{len(checks)} claims: {counts[CL.SUPPORTED]} supported, {counts[CL.PARTLY]} partly, "
                     f"{counts[CL.CONTRADICTED]} contradicted, {counts[CL.NOT_MEASURED]} not measured yet. "
                     f"'Supported' only when data checks every part of a claim; 'partly' names the part no data "
                     f"checks yet. Prices and power: scenario {a.scenario} ({B.SCENARIO_TEXT[a.scenario]}); "
                     f"throughput comparisons at one setting each. "
                     + ("The article's figures are read from data/published/seed-article.yaml."
                        if r.seed else "data/published has no seed-article file yet: the article's figures "
                        "below are those quoted in the seed notes."))

    # machines named in the sentences as every table names them: short, the full name on hover
    named = NamedText([*r.machines["name"], *r.results["name"]])

    def compared(row: pd.Series) -> str:
        c = row["check"]
        out = named.bullets(c.compared) if c.compared else "–"
        if c.missing:
            out += '<br><span class="cp-note">Not checked yet: ' + named("; ".join(c.missing)) + "</span>"
        return out

    html = summary + P.table(rows, [
        ("#", lambda row: str(row["check"].number), True),
        ("Claim (the article's figures)", lambda row: f"{named(row['check'].claim)}<br>"
         f'<span class="cp-note">{named(row["check"].article)}</span>', False),
        ("Verdict", lambda row: P.verdict(row["check"].verdict), False),
        ("Numbers compared (margin)", compared, False),
        ("Data for", lambda row: named.bullets(row["check"].evidence_for), False),
        ("Data against", lambda row: named.bullets(row["check"].evidence_against), False),
        ("What would decide it", lambda row: named(row["check"].would_check), False),
    ])
    return CL.table(checks), html
