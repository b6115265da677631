"""Copy, 8B bf16 and int8 batch-1 decode of each run file a log in a folder names ("Wrote PATH"): one
line each, with bf16's share of the copy bandwidth and int8's ratio to bf16. With --clocks, a line
per task of those run files instead: its figure, watts, and the GPU's clock over its window and what
held it (the report's words).

    python benchmarks/run_summary.py [--clocks] LOG_FOLDER
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

GRAPH = "layer-compiled+cuda-graph"


def written(log: Path) -> Path | None:
    """The run file a log says it wrote."""
    m = re.search(r"Wrote (\S+?)\s", log.read_text())
    return Path(m.group(1)) if m else None


def line(log: Path) -> str | None:
    path = written(log)
    if path is None:
        return None
    run = json.loads(path.read_text())
    r = {(x["workload"], x["params"]["dtype"], x["params"]["batch"], x["params"]["compile_mode"]): x
         for x in run["results"] if x.get("throughput")}
    bf, i8 = r.get(("decode", "bf16", 1, GRAPH)), r.get(("decode", "int8-weight-only", 1, GRAPH))
    cp = next((x for k, x in r.items() if k[0] == "memcpy"), None)
    if not (bf and i8 and cp):
        return None
    c, b, i = (x["throughput"]["median"] for x in (cp, bf, i8))
    return (f"{log.stem:22s} copy {c:,.0f} GB/s  bf16 {b:.1f} tok/s = {100 * b * bf['bytes_per_token'] / 1e9 / c:.1f}% "
            f"of copy  int8 {i:.1f} tok/s = {i / b:.3f}x  ({path.name})")


def clock_lines(path: Path) -> list[str]:
    """Each task of a run file: figure, watts, and its clocks in the report's words."""
    from collectors.records import RunRecord  # noqa: PLC0415 - the --clocks form only
    from report.results_table import clock_text  # noqa: PLC0415

    lines = []
    for r in RunRecord.model_validate_json(path.read_text()).results:
        e = r.energy
        clocks = clock_text(e.clocks) if e and e.clocks else "no clocks"
        tps = f"{r.throughput.median:,.0f} {r.throughput.unit}" if r.throughput else r.status
        lines.append(f"{r.workload:40s} {tps:>22s} {e.avg_w if e else 0:5.0f} W  {clocks}")
    return lines


if __name__ == "__main__":
    clocks = sys.argv[1] == "--clocks"
    for log in sorted(Path(sys.argv[-1]).glob("*.log")):
        if clocks:
            if (path := written(log)) is not None:
                print("\n".join(clock_lines(path)))
        elif (text := line(log)) is not None:
            print(text)
