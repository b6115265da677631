"""Decode beside the copy bandwidth measured on the same machine.

A spec sheet's bandwidth is not what a GPU's memory delivers: a device-to-device copy measured
by costperf (bytes read plus bytes written, over time) is the practical ceiling. Every measured
decode figure is set against it: tokens per second x bytes read per token (the weights, over the
batch) = effective GB/s, and that over the copy bandwidth. llama.cpp's tg128, measured by its own
llama-bench on the same machine, is in the same table beside costperf's decode, with its own
bytes per token (the GGUF's size), so the two engines are compared by the share of the same
measured bandwidth each reaches, not by tokens per second across different weight formats.
"""

from __future__ import annotations

import pandas as pd

from report import metrics as M
from report import present as P
from report.metrics import Report

COLUMNS = ["machine", "name", "engine", "setting", "batch", "tokens_per_s", "bytes_per_token", "effective_bw_gbps",
           "copy_gbps", "copy_share"]


def table(r: Report) -> pd.DataFrame:
    """One row per measured decode figure on a machine with a measured copy bandwidth."""
    res = r.results
    measured = res[res["provenance"] == "measured"]
    copies = measured[(measured["workload"] == "memcpy") & (measured["unit"] == "GB/s")]
    copy_by_machine = copies.groupby("machine")["value"].max()
    dec = measured[(measured["workload"] == "decode") & measured["machine"].isin(copy_by_machine.index)
                   & measured["bytes_per_token"].notna() & measured["tokens_per_s"].notna()]
    # Runs before weights were divided over the batch recorded a batched figure's bytes per token as
    # the whole weights: where a batch-b row carries the batch-1 row's figure, it is read per step.
    single = {(x["machine"], x["model"], x["dtype"], x["engine"]): float(x["bytes_per_token"])
              for _, x in dec[dec["batch"] == 1].iterrows()}
    rows = []
    for _, row in dec.iterrows():
        copy = float(copy_by_machine[row["machine"]])
        per_token = float(row["bytes_per_token"])
        batch = int(row["batch"]) if not P.is_missing(row["batch"]) else 1
        one = single.get((row["machine"], row["model"], row["dtype"], row["engine"]))
        if batch > 1 and one is not None and abs(per_token - one) <= 0.01 * one:
            per_token /= batch
        eff = float(row["tokens_per_s"]) * per_token / 1e9
        rows.append({"machine": row["machine"], "name": row["name"], "engine": row["engine"],
                     "setting": M.setting_label(row), "batch": row["batch"], "tokens_per_s": float(row["tokens_per_s"]),
                     "bytes_per_token": per_token, "effective_bw_gbps": eff, "copy_gbps": copy,
                     "copy_share": eff / copy})
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values(["name", "batch", "copy_share"], ascending=[True, True, False], ignore_index=True)


def view(r: Report) -> tuple[pd.DataFrame, str]:
    d = table(r)
    if d.empty:
        return d, P.note("No machine has both a measured copy bandwidth and a measured decode figure yet.")
    return d, P.table(d, [
        ("Machine", P.text("name"), False),
        ("Setting", lambda row: P.esc(row["setting"]), False),
        ("Batch", lambda row: P.number(row["batch"]), True),
        ("Tokens/s", lambda row: P.with_badge(P.number(row["tokens_per_s"]), "measured"), True),
        ("GB read per token", lambda row: f"{row['bytes_per_token'] / 1e9:.2f}", True),
        ("Effective GB/s", lambda row: P.number(row["effective_bw_gbps"]), True),
        ("Measured copy GB/s", lambda row: P.number(row["copy_gbps"]), True),
        ("Share of copy", lambda row: f"{row['copy_share']:.0%}", True),
    ], caption="Effective GB/s = tokens/s x bytes read per token (weights over the batch; KV-cache reads not "
               "counted). Measured copy = costperf's device-to-device copy on the same machine (read plus write "
               "bytes; the highest where several rows measured it). llama.cpp rows are llama-bench's tg128 with the GGUF file's size as bytes per token.")
