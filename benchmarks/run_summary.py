"""Copy, 8B bf16 and int8 batch-1 decode of each run file a log in a folder names ("Wrote PATH"): one
line each, with bf16's share of the copy bandwidth and int8's ratio to bf16.

    python benchmarks/run_summary.py LOG_FOLDER
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

GRAPH = "layer-compiled+cuda-graph"


def line(log: Path) -> str | None:
    m = re.search(r"Wrote (\S+?)\s", log.read_text())
    if not m:
        return None
    run = json.loads(Path(m.group(1)).read_text())
    r = {(x["workload"], x["params"]["dtype"], x["params"]["batch"], x["params"]["compile_mode"]): x
         for x in run["results"] if x.get("throughput")}
    bf, i8 = r.get(("decode", "bf16", 1, GRAPH)), r.get(("decode", "int8-weight-only", 1, GRAPH))
    cp = next((x for k, x in r.items() if k[0] == "memcpy"), None)
    if not (bf and i8 and cp):
        return None
    c, b, i = (x["throughput"]["median"] for x in (cp, bf, i8))
    return (f"{log.stem:22s} copy {c:,.0f} GB/s  bf16 {b:.1f} tok/s = {100 * b * bf['bytes_per_token'] / 1e9 / c:.1f}% "
            f"of copy  int8 {i:.1f} tok/s = {i / b:.3f}x  ({Path(m.group(1)).name})")


if __name__ == "__main__":
    for log in sorted(Path(sys.argv[1]).glob("*.log")):
        if (text := line(log)) is not None:
            print(text)
