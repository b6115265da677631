"""Price sources: each reads one current price for a machine from a `price_sources` entry.

A source is a function `(PriceSource, Machine, Session, HttpSettings) -> Observation` registered in
`READERS` under its `kind`; adding a marketplace is adding one function. Entries typed by hand
(`costperf prices add`) are the third source and skip the network.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from collectors.prices.http import HttpSettings, RefusedPrice, get_json
from collectors.records import Machine, PriceSource

VASTAI_BUNDLES_URL = "https://console.vast.ai/api/v0/bundles/"
"""vast.ai's public offer search (what its console and CLI `vastai search offers` call)."""
VASTAI_LIMIT = 200


@dataclass(frozen=True)
class Observation:
    """One price read from a source, before it becomes a `Price` in the history."""

    amount: float
    source_url: str
    note: str | None = None


Reader = Callable[[PriceSource, Machine, requests.Session, HttpSettings], Observation]


def positive_amount(value: Any, where: str) -> float:
    """A positive finite number; a numeric string is accepted from foreign JSON, nothing else."""
    if isinstance(value, bool):
        raise RefusedPrice(f"{where}: expected a price; got a boolean ({value})")
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        value = float(value)
    if not isinstance(value, (int, float)):
        shown = json.dumps(value)[:60] if not isinstance(value, str) else repr(value[:60])
        raise RefusedPrice(f"{where}: expected a price (a number); got {shown}")
    if not math.isfinite(value) or value <= 0:
        raise RefusedPrice(f"{where}: refused non-positive or non-finite price {value!r}")
    return float(value)


def extract(doc: Any, path: str) -> Any:
    """The value at a dot-separated path of keys and list indices ('data.offers.0.price')."""
    node, walked = doc, []
    for part in path.split("."):
        here = ".".join(walked) or "(top)"
        if isinstance(node, dict):
            if part not in node:
                keys = ", ".join(list(map(str, node))[:12])
                raise RefusedPrice(f"no key {part!r} at {here} (keys there: {keys or 'none'})")
            node = node[part]
        elif isinstance(node, list):
            if not re.fullmatch(r"-?\d+", part):
                raise RefusedPrice(f"{here} is a list: expected an index, got {part!r}")
            index = int(part)
            if not -len(node) <= index < len(node):
                raise RefusedPrice(f"index {index} out of range at {here} (a list of {len(node)})")
            node = node[index]
        else:
            raise RefusedPrice(f"{here} is {type(node).__name__}, not an object or list: cannot take {part!r}")
        walked.append(part)
    return node


def read_json_url(src: PriceSource, machine: Machine, session: requests.Session,
                  settings: HttpSettings) -> Observation:
    assert src.url is not None and src.path is not None
    doc = get_json(session, src.url, settings)
    try:
        value = extract(doc, src.path)
    except RefusedPrice as exc:
        raise RefusedPrice(f"{src.url}: path {src.path!r}: {exc}") from None
    amount = positive_amount(value, f"{src.url}: {src.path}")
    return Observation(amount=amount, source_url=src.url, note=src.note)


def vastai_query(gpu_name: str, num_gpus: int) -> dict[str, Any]:
    """The search `vastai search offers 'gpu_name=... num_gpus=...'` sends, with the CLI's defaults."""
    return {
        "verified": {"eq": True},
        "external": {"eq": False},
        "rentable": {"eq": True},
        "rented": {"eq": False},
        "gpu_name": {"eq": gpu_name},
        "num_gpus": {"eq": num_gpus},
        "type": "on-demand",
        "order": [["dph_total", "asc"]],
        "limit": VASTAI_LIMIT,
    }


def read_vastai(src: PriceSource, machine: Machine, session: requests.Session,
                settings: HttpSettings) -> Observation:
    assert src.gpu_name is not None
    num_gpus = src.num_gpus or sum(a.count for a in machine.accelerators)
    url = src.url or VASTAI_BUNDLES_URL
    doc = get_json(session, url, settings, params={"q": json.dumps(vastai_query(src.gpu_name, num_gpus))})
    offers = doc.get("offers") if isinstance(doc, dict) else None
    if not isinstance(offers, list):
        raise RefusedPrice(f"{url}: expected an object with an `offers` list")
    # The server filters already; filtering again keeps a changed API from yielding another GPU's price.
    prices = [positive_amount(o.get("dph_total"), f"{url}: offers[{i}].dph_total")
              for i, o in enumerate(offers)
              if isinstance(o, dict) and o.get("gpu_name") == src.gpu_name and o.get("num_gpus") == num_gpus]
    if not prices:
        raise RefusedPrice(f"{url}: no on-demand offers for {num_gpus}x {src.gpu_name!r} "
                           f"({len(offers)} offers returned)")
    amount = min(prices) if src.statistic == "min" else statistics.median(prices)
    note = (f"{src.statistic} dph_total of {len(prices)} verified on-demand vast.ai offers for {num_gpus}x "
            f"{src.gpu_name} (range {min(prices):.3f}-{max(prices):.3f} {src.currency}/h)")
    return Observation(amount=round(amount, 4), source_url=url, note=f"{note}; {src.note}" if src.note else note)


READERS: dict[str, Reader] = {"json_url": read_json_url, "vastai": read_vastai}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
