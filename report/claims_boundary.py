"""The claims that turn on a boundary: copies across the host link (2, 3), memory prices (14-16) and
the article's conclusion (24), each with the numbers compared, the margin and the unchecked part.

Prices and power are the report's scenario's (`report.boundary`): in the default `system` scenario
a discrete card is priced with its reference host, so a Mac is never set against a bare card.
"""

from __future__ import annotations

import pandas as pd

from report import boundary as B
from report import metrics as M
from report.ceilings import ceiling_tokens_per_s
from report.claim_check import Check, combine, gbps, machine
from report.metrics import Report
from report.present import number

LARGE_MODEL = ("llama-3-70b", "q4_k_m", 70.55)
"""A model too large for one consumer card (about 43 GB of weights at q4_k_m): claim 24's second size."""


def _copies(r: Report) -> pd.DataFrame:
    d = r.results
    return d[d["workload"].isin(["h2d", "d2h"]) & (d["provenance"] == "measured")]


def _pinned(copies: pd.DataFrame) -> pd.DataFrame:
    return copies[copies["extra"].fillna("").str.contains("pinned")]


def c2_copies(r: Report, c: Check) -> None:
    copies = _copies(r)
    links = r.machines[r.machines["host_link_gbps"].notna()]
    if copies.empty and links.empty:
        return
    crosses: bool | None = None
    for _, row in copies.sort_values(["name", "workload", "extra"]).iterrows():
        c.evidence_for.append(f"Measured {'host→device' if row['workload'] == 'h2d' else 'device→host'} copy on "
                              f"{row['name']} ({row['extra'] or 'host memory unstated'}): {gbps(row['value'])}.")
        crosses = True
    pinned = _pinned(copies[copies["workload"] == "h2d"])
    for _, row in pinned.iterrows():
        m = machine(r, row["machine"])
        if m is not None and pd.notna(m["bandwidth_gbps"]):
            c.compare(f"{row['name']}: its own memory (spec) vs the pinned host→device copy (measured)",
                      "VRAM", float(m["bandwidth_gbps"]), "copy", float(row["value"]), "GB/s")
        train = r.results[(r.results["machine"] == row["machine"]) & (r.results["kind"] == "train")
                          & (r.results["provenance"] == "measured") & r.results["batch"].notna()]
        if not train.empty:
            t = train.iloc[0]
            seq = 1024  # the suite's GPT-2 sequence length; tokens are int64, inputs and targets
            copy_bytes = int(t["batch"]) * seq * 8 * 2
            step_s = int(t["batch"]) * seq / float(t["tokens_per_s"])
            share = copy_bytes / (float(row["value"]) * 1e9) / step_s
            c.evidence_against.append(
                f"Estimated, not measured: a {t['model']} training step at batch {int(t['batch'])} copies "
                f"{copy_bytes / 1e6:.2f} MB of tokens; at the measured {gbps(row['value'])} that is "
                f"{copy_bytes / (float(row['value']) * 1e9) * 1e6:.1f} µs of a {step_s * 1e3:.1f} ms step "
                f"({share:.4%}).")
    c.missing.append("the measured share of a training or inference step spent copying across PCIe "
                     "(the suite times copies and steps apart, not the copy inside a step)")
    c.evidence_against.append("A model that fits in VRAM crosses the link once, at load time: per decoded token "
                              "only a few bytes (token ids) are copied.")
    c.verdict = combine([crosses, None])


def c3_unified(r: Report, c: Check) -> None:
    m = r.machines
    apple = m[(m["memory_kind"] == "unified") & (m["vendor"] == "apple") & m["bandwidth_gbps"].notna()]
    nv = m[(m["memory_kind"] == "dedicated") & (m["vendor"] == "nvidia") & m["bandwidth_gbps"].notna()]
    pinned = _pinned(_copies(r)[lambda d: d["workload"] == "h2d"])
    if apple.empty:
        return
    a_best = apple.loc[apple["bandwidth_gbps"].idxmax()]
    a_low = apple.loc[apple["bandwidth_gbps"].idxmin()]
    c.evidence_for.append("By design: CPU and GPU address one memory pool, so a CPU-made tensor needs no copy.")
    higher: bool | None = None
    if not pinned.empty:
        p = pinned.loc[pinned["value"].idxmax()]
        ratio = c.compare("unified-memory bandwidth (spec, lowest Apple machine in the data) vs the measured pinned "
                          f"PCIe copy ({p['name']})", a_low["name"], float(a_low["bandwidth_gbps"]), "PCIe copy",
                          float(p["value"]), "GB/s")
        c.compare("same, highest Apple machine", a_best["name"], float(a_best["bandwidth_gbps"]), "PCIe copy",
                  float(p["value"]), "GB/s")
        higher = ratio > 1
        (c.evidence_for if higher else c.evidence_against).append(
            f"Where a discrete GPU must copy, its pinned PCIe 5.0 copy reaches {gbps(p['value'])} (measured); every "
            f"Apple machine in the data reads its unified memory at {gbps(a_low['bandwidth_gbps'])} or more (spec).")
    else:
        c.missing.append("a measured pinned host→device copy on a PCIe GPU")
    if not nv.empty:
        n_best = nv.loc[nv["bandwidth_gbps"].idxmax()]
        c.compare("against a discrete GPU's own memory (specs)", a_best["name"], float(a_best["bandwidth_gbps"]),
                  n_best["name"], float(n_best["bandwidth_gbps"]), "GB/s")
        c.evidence_against.append(f"A discrete GPU's own memory is faster still ({n_best['name']}: "
                                  f"{gbps(n_best['bandwidth_gbps'])}): 'higher bandwidth' holds against the copy, "
                                  "not against VRAM.")
    c.missing.append("latency: the time for a CPU-made tensor to reach a GPU kernel on MPS vs CUDA")
    c.verdict = combine([True, higher, None])


def _usd_per_gb(r: Report, vendor: str) -> pd.Series:
    m = r.machines[(r.machines["vendor"] == vendor) & r.machines["usd_per_usable_gb"].notna()
                   & r.machines["price_kind"].isin(["purchase", "used"])]
    return m.set_index("name")["usd_per_usable_gb"]


def c14_memory_price(r: Report, c: Check) -> None:
    apple, nv = _usd_per_gb(r, "apple"), _usd_per_gb(r, "nvidia")
    scenario = r.assumptions.scenario
    c.missing.append("'pricier than gold': Apple's per-GB memory upgrade prices against other memory are not in "
                     "the data")
    if apple.empty or nv.empty:
        side = "NVIDIA" if nv.empty else "Apple"
        c.missing.append(f"{side} machines with a {scenario}-scenario price (USD per usable GB)")
        c.verdict = combine([None, None])
        return
    cheaper = c.compare(f"median USD per usable GB ({scenario} scenario: {B.SCENARIO_TEXT[scenario]})",
                        "Apple", float(apple.median()), "NVIDIA", float(nv.median()), "USD/GB") < 1
    c.compare("cheapest USD per usable GB", apple.idxmin(), float(apple.min()), nv.idxmin(), float(nv.min()), "USD/GB")
    (c.evidence_for if cheaper else c.evidence_against).append(
        f"USD per usable GB ({scenario} price ÷ usable memory): Apple median {number(apple.median())} over "
        f"{len(apple)} machine(s), NVIDIA median {number(nv.median())} over {len(nv)}.")
    c.verdict = combine([None, cheaper])


def c15_author_mac(r: Report, c: Check) -> None:
    mac, lap = machine(r, "macbook-pro-m5-24gb"), machine(r, "laptop-rtx-4090")
    if mac is None or lap is None:
        return
    c.evidence_against.append("Free RAM in btop is not what the GPU may wire: macOS caps it at its working-set "
                              "limit, whatever is free.")
    more = c.compare("usable GPU memory", mac["name"], float(mac["usable_gb"]), lap["name"], float(lap["usable_gb"]),
                     "GB") > 1
    (c.evidence_for if more else c.evidence_against).append(
        f"{mac['name']}: {number(mac['usable_gb'])} GB usable by the GPU by default ({mac['usable_rule']}); "
        f"{lap['name']}: {number(lap['usable_gb'])} GB usable.")
    costs_more: bool | None = None
    if pd.notna(mac["price_usd"]) and pd.notna(lap["price_usd"]):
        costs_more = c.compare("price", lap["name"], float(lap["price_usd"]), mac["name"], float(mac["price_usd"]),
                               "USD") > 1
    else:
        missing = [x["name"] for x in (mac, lap) if pd.isna(x["price_usd"])]
        c.missing.append("the price half ('costs more'): no price for " + " and ".join(missing))
    c.verdict = combine([more, costs_more])


def c16_studio_vs_h200(r: Report, c: Check) -> None:
    mac, h200 = machine(r, "mac-studio-m3-ultra-512gb"), machine(r, "h200-sxm")
    if mac is None or h200 is None:
        return
    bigger = c.compare("usable memory", mac["name"], float(mac["usable_gb"]), h200["name"], float(h200["usable_gb"]),
                       "GB") > 1
    c.evidence_for.append(f"{mac['name']}: {number(mac['memory_gb'])} GB, {number(mac['usable_gb'])} GB usable; "
                          f"{h200['name']}: {number(h200['memory_gb'])} GB, {number(h200['usable_gb'])} GB usable.")
    per_gb_mac = mac["bandwidth_gbps"] / mac["usable_gb"]
    per_gb_h200 = h200["bandwidth_gbps"] / h200["usable_gb"]
    c.evidence_against.append(f"Bandwidth per usable GB (how often per second the whole memory can be read): "
                              f"{number(per_gb_mac)} vs {number(per_gb_h200)}; a model filling the Mac decodes "
                              f"{number(per_gb_h200 / per_gb_mac)}× slower at best.")
    apart: bool | None = None
    if pd.notna(mac["price_usd"]) and pd.notna(h200["price_usd"]) and h200["price_kind"] != "cloud_hourly":
        apart = c.compare("purchase price", h200["name"], float(h200["price_usd"]), mac["name"],
                          float(mac["price_usd"]), "USD") > 3
    else:
        missing = [x["name"] for x in (mac, h200) if pd.isna(x["price_usd"]) or x["price_kind"] == "cloud_hourly"]
        c.missing.append("the price half ('worlds apart'): no purchase price for " + " and ".join(missing)
                         + " in this scenario")
    c.verdict = combine([bigger, apart])


def _best(d: pd.DataFrame, vendor: str, col: str) -> pd.Series | None:
    v = d[(d["vendor"] == vendor) & d[col].notna()]
    return v.loc[v[col].idxmax()] if not v.empty else None


def c24_conclusion(r: Report, c: Check) -> None:
    """Answered per model size: an 8B-class model at the headline setting, and a 70B model too
    large for one consumer card."""
    a = r.assumptions
    want = B.SCENARIO_POWER[a.scenario]
    h = r.headline[r.headline["tokens_per_dollar"].notna() & r.headline["decode_provenance"].isin(["measured", "published"])]
    if a.scenario != "cloud":
        h = h[h["watts_covers"] == want]
    setting = r.setting.label if r.setting else "–"
    small: bool | None = None
    ap, nv = _best(h, "apple", "tokens_per_dollar"), _best(h, "nvidia", "tokens_per_dollar")
    if ap is not None and nv is not None:
        small = c.compare(f"8B class, best decode tokens per USD at {setting} ({a.scenario} scenario)", ap["name"],
                          float(ap["tokens_per_dollar"]), nv["name"], float(nv["tokens_per_dollar"]), "tokens/$") >= 1
        (c.evidence_for if small else c.evidence_against).append(
            f"8B class: the best Mac gives {number(ap['tokens_per_dollar'])} tokens per USD, the best NVIDIA machine "
            f"{number(nv['tokens_per_dollar'])} (prices as of {ap['price_as_of']} and {nv['price_as_of']}).")
    else:
        c.missing.append(f"8B class: a {'Mac' if ap is None else 'NVIDIA machine'} with a decode figure at {setting} "
                         f"and a {a.scenario}-scenario price and {B.COVERS_TEXT[want]} power")
    large = _large_model(r, c)
    c.verdict = combine([small, large])


def _large_model(r: Report, c: Check) -> bool | None:
    """70B at q4_k_m: among machines with room for it and a scenario price, Apple's best tokens per
    USD against NVIDIA's, from figures at one setting; a spec estimate is shown but decides nothing."""
    model, dtype, params_b = LARGE_MODEL
    a = r.assumptions
    fits = r.headline[(r.headline["largest_4bit_b"] >= params_b) & r.headline["price_usd"].notna()
                      & r.headline["price_kind"].isin(["purchase", "used", "cloud_hourly"])]
    if fits.empty:
        c.missing.append(f"{model}: no priced machine of the {a.scenario} scenario has room for it")
        return None
    ev = r.results[(r.results["model"] == model) & (r.results["dtype"] == dtype) & (r.results["kind"] == "decode")
                   & r.results["provenance"].isin(["measured", "published"]) & r.results["batch"].fillna(1).eq(1)]
    rows = []
    for _, m in fits.iterrows():
        mine = ev[ev["machine"] == m["machine"]]
        if not mine.empty:
            tps, how = float(mine["tokens_per_s"].max()), mine.iloc[0]["provenance"]
        else:
            spec = r.ceilings[r.ceilings["machine"] == m["machine"]]
            got = ceiling_tokens_per_s(float(spec.iloc[0]["bandwidth_gbps"]), model, dtype) if not spec.empty else None
            frac = spec.iloc[0]["family_fraction"] if not spec.empty else None
            if got is None or frac is None or pd.isna(frac):
                continue
            tps, how = got[0] * float(frac), "estimated"
        watts = m["watts"] if pd.notna(m["watts"]) else None
        tpd = (M.tokens_per_dollar_cloud(tps, float(m["price_usd"]), a.utilisation) if m["price_kind"] == "cloud_hourly"
               else M.tokens_per_dollar_purchase(tps, float(m["price_usd"]), watts, a,
                                                 m["idle_w"] if pd.notna(m["idle_w"]) else None))
        rows.append({"name": m["name"], "vendor": m["vendor"], "tps": tps, "how": how, "tpd": tpd})
    d = pd.DataFrame(rows)
    if d.empty:
        c.missing.append(f"{model}: a decode figure (or a family share to estimate one) on a machine with room for it")
        return None
    for _, x in d.sort_values("tpd", ascending=False).iterrows():
        c.evidence_for.append(f"{model} {dtype}: {x['name']} {number(x['tps'])} tokens/s ({x['how']}), "
                              f"{number(x['tpd'])} tokens per USD.")
    ap, nv = _best(d, "apple", "tpd"), _best(d, "nvidia", "tpd")
    if ap is None or nv is None:
        c.missing.append(f"{model}: a priced {'Mac' if ap is None else 'NVIDIA machine'} with room for it")
        return None
    ratio = c.compare(f"{model} {dtype} (too large for one consumer card), best tokens per USD", ap["name"],
                      float(ap["tpd"]), nv["name"], float(nv["tpd"]), "tokens/$")
    if "estimated" in (ap["how"], nv["how"]):
        c.missing.append(f"{model}: measured or published decode on both sides (one side is a spec estimate)")
        return None
    return ratio >= 1
