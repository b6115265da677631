"""Quarto's pre-render step (_quarto.yml `project: pre-render`): build every page's output once, in
this one process, so that each page's own kernel only replays it (report/replay.py).

Quarto runs this with the python on PATH. Where that python cannot import the report (costperf not
installed there), or the build fails, it says so and exits 0: the pages then run as written, only
slower, and show their own errors. `costperf report` builds the outputs itself before it calls
Quarto, and this step then finds them current and does nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    try:
        from report import replay
    except ImportError as exc:
        print(f"costperf pre-render: cannot import the report ({exc}); the pages run as written.", file=sys.stderr)
        return 0
    kept = replay._load(ROOT)
    if kept is not None and replay.fresh(ROOT, kept):
        return 0
    started = time.perf_counter()
    try:
        replay.record(ROOT)
    except Exception as exc:  # noqa: BLE001 - never fail the render here: the pages show their own errors
        print(f"costperf pre-render: building the pages once failed ({exc}); they run as written.", file=sys.stderr)
        return 0
    print(f"costperf pre-render: every page's output built once in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
