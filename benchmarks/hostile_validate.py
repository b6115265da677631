"""Benchmark: time and peak memory of `costperf validate` on one hostile file of about 1 KB.

Target: at most 2 s and 200 MB (peak resident memory of the whole validate process, Python and its
imports included) for each case, where unbounded YAML once took 23 GB. Wall time includes starting
Python and depends on what else the machine runs; CPU time (user + system, of the validate process)
does not, and is what the test suite's guard checks. Each case is a valid data
folder plus one hostile file; validate runs in a fresh process, its peak memory read from the
kernel's rusage of that child.

    python benchmarks/hostile_validate.py            # a table
    python benchmarks/hostile_validate.py --json     # one JSON row per case
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from foundation_data import write_folder  # noqa: E402


def _laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


CASES: dict[str, tuple[str, str]] = {
    "nested aliases, 9 levels": ("machines/evil.yaml", _laughs(9)),
    "nested aliases, 7 levels": ("machines/evil.yaml", _laughs(7)),
    "500-deep flow list": ("machines/evil.yaml", "id: " + "[" * 500 + "]" * 500 + "\n"),
    "500-deep JSON": ("runs/test-desktop/20260105T030405Z.json", "[" * 500 + "]" * 500),
    "1,000-digit integer": ("machines/evil.yaml", "system_ram_gb: " + "9" * 1000 + "\n"),
    "complex keys": ("machines/evil.yaml", "? [a, b]\n: c\n" * 60),
    "1e308 samples": ("runs/test-desktop/20260105T030405Z.json",
                      '{"results": [{"throughput": {"samples": [1e308, 1e308, 1e308]}}]}'),
}


def measure(rel: str, text: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data = write_folder(Path(tmp) / "data")
        path = data / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        cmd = [sys.executable, "-m", "collectors.cli", "validate", "--data", str(data)]
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        with out_path.open("w") as out_f, err_path.open("w") as err_f:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out_f, stderr=err_f)
            # wait4, not Popen.wait: it returns this child's own peak memory.
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out, err = out_path.read_text(), err_path.read_text()
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        cpu = usage.ru_utime + usage.ru_stime
        return {"bytes": len(text.encode()), "exit": proc.returncode, "seconds": round(seconds, 3),
                "cpu_s": round(cpu, 3),
                "peak_mb": round(usage.ru_maxrss * scale / 1e6, 1), "traceback": "Traceback" in err,
                "message": err.splitlines()[0][:160] if err else out[:160]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="One JSON list of rows instead of a table.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per case; the slowest is kept.")
    args = parser.parse_args()
    rows = []
    for name, (rel, text) in CASES.items():
        runs = [measure(rel, text) for _ in range(args.repeats)]
        worst = max(runs, key=lambda r: (r["seconds"], r["peak_mb"]))
        worst["peak_mb"] = max(r["peak_mb"] for r in runs)
        worst["cpu_s"] = max(r["cpu_s"] for r in runs)
        rows.append({"case": name, **worst})
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'case':28} {'bytes':>6} {'exit':>4} {'wall s':>6} {'CPU s':>6} {'peak MB':>8}  message")
    for r in rows:
        print(f"{r['case']:28} {r['bytes']:>6} {r['exit']:>4} {r['seconds']:>6.2f} {r['cpu_s']:>6.2f} "
              f"{r['peak_mb']:>8.1f}  {r['message']}")


if __name__ == "__main__":
    main()
