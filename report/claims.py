"""The seed article's claims (data/published/seed-article.yaml), each checked against the data.

A verdict is computed from the report's tables wherever the data can decide it: supported,
contradicted, or not measured yet (the data that would decide it is not in data/ yet, or the claim
is not a measurable one). The article's own figures come from data/published/seed-article.yaml
(role seed_article) when it is there; without it, the figures quoted in the seed notes are shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd

from collectors import physics
from report import claims_boundary as CB
from report import metrics as M
from report.claim_check import (  # noqa: F401  (re-exported: the verdicts and Check are this module's API)
    CONTRADICTED, NOT_MEASURED, PARTLY, SUPPORTED, VERDICTS, Check, gbps, machine,
)
from report.claim_check import combine
from report.metrics import Report
from report.present import number
from report.settings import rank_key

# ---------------------------------------------------------------------------------------------
# Lookups that tolerate missing data


def seed_claim(r: Report, claim_id: str) -> float | None:
    for ps in r.seed:
        for c in ps.claims:
            if c.id == claim_id:
                return c.value
    return None


def seed_decode(r: Report, machine_id: str) -> float | None:
    for ps in r.seed:
        for row in ps.results:
            if row.machine == machine_id and row.workload == "decode":
                return row.tokens_per_s
    return None


def evidence_rows(r: Report, kind: str) -> pd.DataFrame:
    """Measured or published single-stream figures of one workload kind, on known machines or not."""
    d = r.results
    return d[(d["kind"] == kind) & d["provenance"].isin(["measured", "published"]) & d["batch"].fillna(1).eq(1)]


# ---------------------------------------------------------------------------------------------
# The checks (one function per claim that data can decide)


def c4_power(r: Report, c: Check) -> None:
    mini = machine(r, "mac-mini-m4-16gb")
    nv = r.machines[(r.machines["vendor"] == "nvidia") & r.machines["accelerator_tdp_w"].notna()]
    if mini is None or pd.isna(mini["system_max_w"]) or nv.empty:
        return
    claimed = seed_claim(r, "m4-max-power") or 65.0
    tdp_lo, tdp_hi = nv["accelerator_tdp_w"].min(), nv["accelerator_tdp_w"].max()
    c.evidence_for.append(f"{mini['name']}: maximum {number(mini['system_max_w'])} W at the wall (published). "
                          f"NVIDIA accelerators in the data: {number(tdp_lo)}–{number(tdp_hi)} W TDP per GPU.")
    c.evidence_against.append("The 65 W is the whole Mac mini at the wall, not the chip; a GPU's TDP leaves out its "
                              "host. Power alone says nothing of energy per token (see the energy page).")
    c.compare("Mac mini M4 maximum at the wall (published) vs the article", mini["name"], float(mini["system_max_w"]),
              "article", claimed, "W")
    c.compare("highest NVIDIA accelerator TDP in the data vs the article's 'hundreds of W' (100 W)", "highest TDP",
              float(tdp_hi), "threshold", 100.0, "W")
    c.verdict = combine([bool(mini["system_max_w"] <= claimed * 1.05), bool(tdp_hi >= 100)])


def c5_mps(r: Report, c: Check) -> None:
    s = r.statuses[r.statuses["backend"] == "mps"]
    if s.empty:
        return
    ok = int((s["status"] == "ok").sum())
    bad = s[s["status"].isin(["unsupported", "error"])]
    c.evidence_for.append(f"{ok} of {len(s)} measured workload results ran on MPS.")
    c.compared.append(f"results that ran on MPS: {ok} of {len(s)} (margin: {len(s) - ok} did not)")
    if not bad.empty:
        c.evidence_against.append(f"{len(bad)} failed as unsupported or error: "
                                  + ", ".join(sorted(set(bad["workload"]))) + ".")
    c.verdict = SUPPORTED if bad.empty else CONTRADICTED


def c6_nvidia_unified(r: Report, c: Check) -> None:
    m = r.machines[(r.machines["vendor"] == "nvidia") & (r.machines["memory_kind"] == "unified")]
    for _, row in m.iterrows():
        c.evidence_for.append(f"{row['name']}: {number(row['memory_gb'])} GB unified memory, "
                              f"{gbps(row['bandwidth_gbps'])} (published).")
    if not m.empty:
        c.verdict = SUPPORTED
        c.evidence_against.append("Blackwell is an architecture, not a product; the product is the DGX Spark (GB10).")


def c7_bandwidth(r: Report, c: Check) -> None:
    pairs = [("m5-bandwidth", "macbook-pro-m5-24gb", 153.0), ("rtx-4090-laptop-bandwidth", "laptop-rtx-4090", 576.0),
             ("rtx-5090-laptop-bandwidth", "laptop-rtx-5090", 896.0)]
    results = []
    for claim_id, mid, default in pairs:
        m = machine(r, mid)
        said = seed_claim(r, claim_id) or default
        if m is None or pd.isna(m["bandwidth_gbps"]):
            continue
        close = abs(m["bandwidth_gbps"] - said) <= 0.05 * said
        results.append(close)
        c.compare(f"{m['name']} bandwidth, spec sheet vs the article", "spec", float(m["bandwidth_gbps"]), "article",
                  said, "GB/s")
        (c.evidence_for if close else c.evidence_against).append(
            f"{m['name']}: {gbps(m['bandwidth_gbps'])} in its spec sheet; the article says {gbps(said)}.")
    for mid in ("desktop-rtx-4090", "desktop-rtx-5090"):
        m = machine(r, mid)
        if m is not None and not pd.isna(m["bandwidth_gbps"]):
            c.evidence_against.append(f"The desktop cards are faster: {m['name']}, {gbps(m['bandwidth_gbps'])}; "
                                      "the article's NVIDIA figures are laptop parts.")
    if results:
        c.verdict = combine(list(results) + [None] * (len(pairs) - len(results)))
        if len(results) < len(pairs):
            c.missing.append("a spec bandwidth for every machine the article names")


def c8_pcie(r: Report, c: Check) -> None:
    links = r.machines.set_index("machine")["host_link_gbps"].dropna()
    dec = evidence_rows(r, "decode")
    dec = dec[dec["machine"].isin(links.index) & dec["effective_bw_gbps"].notna()]
    if dec.empty:
        return
    dec = dec.assign(link=[links[m] for m in dec["machine"]])
    beyond = dec[dec["effective_bw_gbps"] > dec["link"]]
    if beyond.empty:
        return
    top = beyond.loc[(beyond["effective_bw_gbps"] / beyond["link"]).idxmax()]
    c.compare(f"{top['name']}: bytes read per second in decode vs its PCIe link", "decode", float(top["effective_bw_gbps"]),
              "link", float(top["link"]), "GB/s")
    c.verdict = CONTRADICTED
    c.evidence_against.append(
        f"{len(beyond)} decode figure(s) on PCIe GPUs read weights faster than their PCIe link could carry them, "
        f"e.g. {top['name']}: {number(top['tokens_per_s'])} tokens/s × {number(top['bytes_per_token'] / 1e9)} GB "
        f"per token = {gbps(top['effective_bw_gbps'])} ({top['provenance']}) against a {gbps(top['link'])} "
        "PCIe link (spec). "
        "Decode reads VRAM, not the PCIe link: the comparison mixes link bandwidth with memory bandwidth.")
    c.evidence_for.append("PCIe does limit what crosses it (loading a model, offloading layers that do not fit).")


def _pick_rows(d: pd.DataFrame, pattern: str, exclude: str | None = None) -> pd.DataFrame:
    mask = d["name"].fillna("").str.contains(pattern, regex=True, flags=re.IGNORECASE)
    if exclude:
        mask &= ~d["name"].fillna("").str.contains(exclude, regex=True, flags=re.IGNORECASE)
    return d[mask]


def c11_max_vs_4090(r: Report, c: Check) -> None:
    dec = evidence_rows(r, "decode")
    dec = M.eight_b_rows(dec)
    dec = dec.assign(_key=[rank_key(row) for _, row in dec.iterrows()])
    apple = _pick_rows(dec, r"\bM[34] Max\b")
    nv = _pick_rows(dec, r"RTX 4090", exclude=r"laptop|\b\d+x\b")
    pairs = []
    for key, group in apple.groupby("_key", sort=False):  # one setting at a time: model, format, engine, length
        other = nv[nv["_key"] == key]
        if other.empty:
            continue
        a, n = group.loc[group["tokens_per_s"].idxmax()], other.loc[other["tokens_per_s"].idxmax()]
        pairs.append(bool(n["tokens_per_s"] > a["tokens_per_s"]))
        c.compare(f"decode at {M.setting_label(a)}", a["name"], float(a["tokens_per_s"]), n["name"],
                  float(n["tokens_per_s"]), "tokens/s")
        line = (f"{M.setting_label(a)}: {a['name']} {number(a['tokens_per_s'])} tokens/s vs {n['name']} "
                f"{number(n['tokens_per_s'])} tokens/s ({a['provenance']}, {n['provenance']}).")
        (c.evidence_against if pairs[-1] else c.evidence_for).append(line)
    c.missing.append("the training half: ResNet-50 training throughput is not in the suite yet")
    if pairs:
        inference_holds = not any(pairs) if all(p == pairs[0] for p in pairs) else None
        c.verdict = combine([None, inference_holds])


def c12_power(r: Report, c: Check) -> None:
    meas = r.results[(r.results["provenance"] == "measured") & r.results["avg_w"].notna()]
    apple = meas[meas["vendor"] == "apple"]
    nv4090 = meas[meas["machine"] == "desktop-rtx-4090"]
    for mid in ("macbook-pro-m3-max", "macbook-pro-m4-max", "mac-studio-m4-max-36gb"):
        m = machine(r, mid)
        if m is not None and not pd.isna(m["system_max_w"]):
            c.evidence_for.append(f"{m['name']}: {number(m['system_max_w'])} W maximum at the wall (published spec).")
    m = machine(r, "desktop-rtx-4090")
    if m is not None and not pd.isna(m["accelerator_tdp_w"]):
        c.evidence_for.append(f"RTX 4090 TDP {number(m['accelerator_tdp_w'])} W (published spec).")
    if not apple.empty and not nv4090.empty:
        a_max, n_min = apple["avg_w"].max(), nv4090["avg_w"].min()
        c.compare("measured average power", "Apple (highest)", float(a_max), "RTX 4090 (lowest)", float(n_min), "W")
        c.verdict = combine([bool(a_max < 100), bool(n_min > 300)])
        (c.evidence_for if c.verdict == SUPPORTED else c.evidence_against).append(
            f"Measured: Apple at most {number(a_max)} W, RTX 4090 at least {number(n_min)} W.")


def c13_m5(r: Report, c: Check) -> None:
    said = seed_decode(r, "macbook-pro-m5-24gb") or 25.61
    m5 = machine(r, "macbook-pro-m5-24gb")
    if m5 is not None and not pd.isna(m5["bandwidth_gbps"]):
        est = physics.estimate_bytes_per_token("llama-3-8b", "q4_0")
        if est:
            ceiling = m5["bandwidth_gbps"] * 1e9 / est[0]
            c.evidence_for.append(f"Plausible: at {gbps(m5['bandwidth_gbps'])} an 8B model at q4_0 "
                                  f"({number(est[0] / 1e9)} GB per token) has a ceiling of {number(ceiling)} tokens/s; "
                                  f"{number(said)} is {said / ceiling:.0%} of it.")
    dec = evidence_rows(r, "decode")
    dec = M.eight_b_rows(dec)
    own = dec[dec["machine"] == "macbook-pro-m5-24gb"]
    if not own.empty:
        best = own.loc[own["tokens_per_s"].idxmax()]
        close = abs(best["tokens_per_s"] - said) <= 0.15 * said
        c.compare(f"M5 decode ({M.setting_label(best)}) vs the article", best["provenance"], float(best["tokens_per_s"]),
                  "article", said, "tokens/s")
        c.missing.append("the M4 and M4 Pro halves at the M5's setting (same model, format, engine and length)")
        c.verdict = combine([close, None])
        (c.evidence_for if close else c.evidence_against).append(
            f"{best['provenance'].capitalize()}: {number(best['tokens_per_s'])} tokens/s ({M.setting_label(best)}).")
    m4 = dec[dec["machine"] == "mac-mini-m4-16gb"]
    if not m4.empty:
        best = m4.loc[m4["tokens_per_s"].idxmax()]
        c.evidence_for.append(f"M4 ({best['name']}): {number(best['tokens_per_s'])} tokens/s "
                              f"({M.setting_label(best)}, {best['provenance']}); {number(said)} would be "
                              f"{said / best['tokens_per_s'] - 1:+.0%}, from a different source and setting.")


CHECKS: dict[int, Callable[[Report, Check], None]] = {
    2: CB.c2_copies, 3: CB.c3_unified, 4: c4_power, 5: c5_mps, 6: c6_nvidia_unified, 7: c7_bandwidth, 8: c8_pcie,
    11: c11_max_vs_4090, 12: c12_power, 13: c13_m5, 14: CB.c14_memory_price, 15: CB.c15_author_mac,
    16: CB.c16_studio_vs_h200, 23: c5_mps, 24: CB.c24_conclusion,
}

CLAIMS: list[tuple[int, str, str, str]] = [
    (1, "GPUs began as graphics chips; CUDA made them general AI compute.", "–", "Background history, not a measurable claim."),
    (2, "In discrete-GPU PCs data must be copied from CPU memory to GPU memory across a bus, which causes problems.", "–",
     "Host-to-device copy time as a share of step time on a PCIe GPU."),
    (3, "Unified memory means no CPU–GPU copies, lower latency and higher bandwidth.", "–",
     "Copy plus kernel time of a CPU-made tensor on MPS vs CUDA; memory bandwidths."),
    (4, "The M4 draws at most 65 W; NVIDIA GPUs peak at hundreds of watts.", "65 W; 100+ W (Apple's Mac mini page)",
     "Wall power of an M4 Mac mini under load vs GPU board plus host power."),
    (5, "Unified memory's drawbacks no longer matter: PyTorch supports the Mac.", "–",
     "Share of the suite's workloads that run on MPS, and which fail."),
    (6, "NVIDIA has shipped desktop products with a unified-memory design ('such as Blackwell').", "~2 years",
     "Which NVIDIA unified-memory desktop product exists, with its memory and bandwidth."),
    (7, "Memory bandwidth: M5 153 GB/s; RTX 4090 Laptop ~576 GB/s; RTX 5090 Laptop 896 GB/s.", "153 / 576 / 896 GB/s",
     "Spec sheets, and measured copy bandwidth on each device."),
    (8, "NVIDIA GPUs are 'constrained by PCIe'; measured by PCIe bandwidth, the M chip is faster.", "PCIe table (missing)",
     "Host-to-device bandwidth, VRAM bandwidth, and whether decode traffic crosses PCIe."),
    (9, "Real-world bandwidth depends on other factors such as thermal throttling.", "–",
     "Sustained throughput over 10+ minutes with clock and temperature logs."),
    (10, "An RL training run was 15.3% faster on an M2 Ultra than on an RTX 3080 Ti.", "15.3%",
     "Wall-clock time of the same RL run on both machines, several seeds."),
    (11, "M3/M4 Max are slower than an RTX 4090 at ResNet-50 training but faster at Llama-7B inference.", "chart only",
     "Same-setting decode tokens/s (and training throughput) on the M3 Max, M4 Max and RTX 4090."),
    (12, "M chips stay under 100 W in training and inference; the RTX 4090 exceeds 300 W.", "<100 W; >300 W",
     "Average power in each workload (powermetrics / NVML plus wall meter)."),
    (13, "An M5 decodes an 8B model at about 25.61 tokens/s, >20% faster than the M4, slower than the M4 Pro.",
     "25.61 tokens/s; >20%", "Same-model, same-quantisation decode on the M5, M4 and M4 Pro."),
    (14, "Apple memory is 'pricier than gold', yet in AI it is more competitive than NVIDIA's.", "–",
     "Price per GB of memory the accelerator can use."),
    (15, "A 24 GB MacBook Pro leaves ~14–16 GB free, which beats a 16 GB-VRAM RTX 4090 laptop that costs more.",
     "24 GB; 14–16 GB free; 16 GB VRAM", "Usable GPU memory of both, and their prices."),
    (16, "A Mac Studio reaches 512 GB against the H200's 141 GB, at 'worlds apart' prices.", "512 GB; 141 GB",
     "List prices, USD per usable GB, bandwidth per GB."),
    (17, "Distributed training on Mac minis or Studios is 'not infeasible'.", "–",
     "Documented multi-Mac training with its scaling efficiency."),
    (18, "Apple has a CUDA-like toolchain of three main tools.", "3", "Identification only (Metal, MPS, MLX, Core ML)."),
    (19, "PyTorch has supported MPS acceleration since version 1.12.", "v1.12", "PyTorch 1.12 release notes."),
    (20, "On Windows a plain `pip install torch` gets a CPU build; the GPU build needs a CUDA index URL.", "cu121",
     "Install both ways and read torch.version.cuda."),
    (21, "CUDA builds of PyTorch bundle CUDA libraries and exceed 2 GB.", ">2 GB",
     "Download and installed size of the CUDA wheel and its dependencies."),
    (22, "On a Mac, `uv add torch` just works and the environment is about 460 MB.", "460 MB",
     "du of a fresh macOS arm64 venv with torch, against a CUDA one."),
    (23, "Porting NVIDIA code to a Mac only requires changing `cuda` to `mps`.", "–",
     "Run the CUDA-targeted suite with the device swapped; count failures."),
    (24, "For personal AI inference the Mac is now the more cost-effective choice.", "–",
     "Single-user decode tokens per dollar and per joule on price-matched machines."),
]


def evaluate(r: Report) -> list[Check]:
    out = []
    for number_, claim, article, would in CLAIMS:
        c = Check(number=number_, claim=claim, article=article, would_check=would)
        check = CHECKS.get(number_)
        if check is not None:
            check(r, c)
        out.append(c)
    return out


def table(checks: list[Check]) -> pd.DataFrame:
    return pd.DataFrame([{
        "claim": c.number, "text": c.claim, "article_figures": c.article, "verdict": c.verdict,
        "evidence_for": " | ".join(c.evidence_for), "evidence_against": " | ".join(c.evidence_against),
        "numbers_compared": " | ".join(c.compared), "not_checked_yet": " | ".join(c.missing),
        "would_check": c.would_check,
    } for c in checks])
