"""Benchmark: render the report with the fallback engine from N generated run files.

Target: 1,000 run files rendered within 30 s on 2 cores. Generates a data folder of
synthetic runs (report/sample_data.py, through the models and store.write_run), copies the site's
sources next to it, pins this process and its children to at most 2 CPUs, then times
`costperf report --engine fallback` end to end (data validation, all pages, HTML). Prints one JSON
line. The first render also fills the cache of the chart bundle (once per machine); both a cold and
a warm render are timed. Then, as a measure of what `quarto render` spends in Python (it is not run
here): the pre-render step and every page in a fresh kernel, one after another, as Quarto runs them.

    python benchmarks/render_report.py --runs 1000 --cores 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="renders timed after generating the data")
    args = parser.parse_args()

    from report import sample_data  # noqa: PLC0415

    cpus = sorted(os.sched_getaffinity(0))[: args.cores]
    os.sched_setaffinity(0, cpus)  # children (the CLI, its page kernels) inherit it
    with tempfile.TemporaryDirectory(prefix="costperf-bench-") as tmp:
        project = Path(tmp)
        shutil.copy(ROOT / "_quarto.yml", project / "_quarto.yml")
        (project / "report").mkdir()
        for f in list((ROOT / "report").glob("*.qmd")) + [ROOT / "report" / n for n in ("pre_render.py",
                                                                                        "post_render.py")]:
            shutil.copy(f, project / "report" / f.name)
        t0 = time.perf_counter()
        sample_data.write_example(project / "data", n_runs=args.runs)
        generate_s = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "collectors.cli", "report", "--engine", "fallback",
                                   "--project", str(project)], capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if done.returncode != 0:
                sys.exit(f"render failed:\n{done.stdout}\n{done.stderr}")
            pages = sorted(p.name for p in (project / "_site" / "report").glob("*.html"))
            # the cached tables would make the next render skip validation: drop them for a fair repeat
            cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "costperf"
            for old in [*cache.glob("report-*.pkl"), *cache.glob("pages-*.json")]:
                old.unlink()
        quarto_like = quarto_pattern(project)
        print(json.dumps({"runs": args.runs, "cpus": cpus, "generate_s": round(generate_s, 1),
                          "render_s": [round(t, 1) for t in times], "pages": pages,
                          "quarto_pattern_s": quarto_like,
                          "load_average": [round(x, 2) for x in os.getloadavg()]}))


def quarto_pattern(project: Path) -> dict[str, float]:
    """What `quarto render` does with the pages, less Pandoc and its own HTML work: the pre-render
    step (every page's output built once), then each page in a fresh kernel, one after another,
    with QUARTO_DOCUMENT_PATH set as Quarto sets it. Quarto itself is not run here."""
    import asyncio  # noqa: PLC0415

    from jupyter_client.manager import AsyncKernelManager  # noqa: PLC0415

    from report import render  # noqa: PLC0415

    env = {**os.environ, "QUARTO_DOCUMENT_PATH": str(project / "report"), "QUARTO_PROJECT_ROOT": str(project)}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(project / "report" / "pre_render.py")], env=env, cwd=project,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"pre-render failed:\n{done.stderr}")
    pre_s = time.perf_counter() - t0
    site = render.read_site(project)

    async def one(source: Path) -> None:
        nb, _ = render.to_notebook(source, site.execute)
        km = AsyncKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(source.parent), env=env, stderr=subprocess.DEVNULL)
        try:
            await render.execute(nb, km, source, 600)
        finally:
            await km.shutdown_kernel(now=True)

    t0 = time.perf_counter()
    for source in site.pages:
        asyncio.run(one(source))
    return {"pre_render_s": round(pre_s, 1), "pages_in_fresh_kernels_s": round(time.perf_counter() - t0, 1)}


if __name__ == "__main__":
    main()
