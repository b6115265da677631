"""Every page's output built once per render, in one process, and replayed in each page's kernel.

Quarto runs each page in a fresh kernel, so every page imported pandas and altair and built its
tables and charts again: `quarto render` took several times the fallback engine's time. Now the
render first runs every page's cells in one process and keeps what each cell shows (`record`:
`costperf report` calls it, and Quarto's pre-render script for a plain `quarto render`). A page's
first cell calls `start()`; from then on, each cell whose code, and the code of every cell before it
on the page, is what was recorded is replaced by the output kept for it. Anything else runs as
written: an edited page, a data file, code or assumptions that changed since, another day. The
pages' cells import only the standard library until then, so a replayed page costs a kernel start.

The outputs are kept in the user's private, signed cache (report/cache_file.py), as JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from report import cache_file

RECORDING = False
"""True while `record` runs the pages: `start()` is then a no-op and `show` hands outputs to it."""

_captured: list[str] | None = None


def _normal(code: str) -> str:
    """A cell's code as compared: without Quarto's `#|` option lines and trailing blanks."""
    lines = [line.rstrip() for line in code.splitlines() if not line.lstrip().startswith("#|")]
    return "\n".join(lines).strip()


def chain(previous: str, code: str) -> str:
    """The key of a cell: a hash over its code and the code of every cell before it on the page."""
    return hashlib.sha256(f"{previous}\0{_normal(code)}".encode()).hexdigest()


def project_root(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    return next((d for d in (here, *here.parents) if (d / "_quarto.yml").is_file()), None)


def store_path(root: Path) -> Path:
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "costperf" / f"pages-{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.json"


def _walk(top: Path, folders: bool) -> Iterator[Path]:
    """Every file under `top` (code: .py and .qmd files only), and with `folders` every folder too:
    a folder's mtime changes when a file is added or removed."""
    if not top.exists():
        return
    if top.is_file():
        yield top
        return
    if folders:
        yield top
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        base = Path(dirpath)
        if folders:
            yield from (base / name for name in dirnames)
        yield from (base / name for name in sorted(filenames)
                    if folders or name.endswith((".py", ".qmd")))


SET_VAR = "COSTPERF_SET"
"""report.assumptions.ENV_VAR (the `--set` overrides), named here so that a kernel need not import pydantic."""


def state(root: Path, data_dir: Path) -> dict[str, Any]:
    """What the pages' outputs depend on: every file and folder of the data, the report's and the
    collectors' code, the pages, `_quarto.yml`, the `--set` overrides and the date."""
    stats = {}
    for top, folders in ((data_dir, True), (root / "report", False), (root / "collectors", False),
                         (root / "_quarto.yml", False)):
        for path in _walk(top, folders):
            try:
                st = path.stat()
            except OSError:
                continue
            stats[str(path)] = [st.st_size if path.is_file() else 0, st.st_mtime_ns]
    return {"env": os.environ.get(SET_VAR, ""), "day": dt.date.today().isoformat(), "data": str(data_dir),
            "stats": stats}


def _load(root: Path) -> dict[str, Any] | None:
    raw = cache_file.read(store_path(root))
    if raw is None:
        return None
    try:
        kept = json.loads(raw)
    except ValueError:
        return None
    return kept if isinstance(kept, dict) and {"state", "outputs", "blobs"} <= kept.keys() else None


def fresh(root: Path, kept: dict[str, Any]) -> bool:
    was = kept["state"]
    return state(root, Path(was["data"])) == was


def record(root: Path) -> Path | None:
    """Run every page's cells in this process and keep what each cell after `start()` shows.
    Returns the file written, None where no cache can be written (the pages then run as written)."""
    global RECORDING, _captured
    from report import assumptions, page, render  # noqa: PLC0415

    root = root.resolve()
    a = assumptions.resolve(root)
    before = state(root, (root / a.data_dir).resolve())
    site = render.read_site(root)
    outputs: dict[str, list[str]] = {}
    blobs: dict[str, str] = {}
    cwd = Path.cwd()
    RECORDING = True
    try:
        for source in site.pages:
            nb, _ = render.to_notebook(source, site.execute)
            page.new_page()
            os.chdir(source.parent)
            namespace: dict[str, Any] = {"__name__": "__main__"}
            key, started, kept = "", False, {}
            try:
                for cell in (c for c in nb.cells if c.cell_type == "code"):
                    _captured = []
                    exec(compile(cell.source, str(source), "exec"), namespace)  # noqa: S102 - the project's own pages
                    if started:
                        key = chain(key, cell.source)
                        kept[key] = [_blob(blobs, html) for html in _captured]
                    started = started or "start()" in _normal(cell.source)
            except Exception:  # noqa: BLE001 - the kernel will run this page as written and show the error
                continue
            outputs.update(kept)
    finally:
        RECORDING, _captured = False, None
        os.chdir(cwd)
    path = store_path(root)
    payload = json.dumps({"state": before, "outputs": outputs, "blobs": blobs}).encode()
    return path if cache_file.write(path, payload) else None


def _blob(blobs: dict[str, str], html: str) -> str:
    """Outputs are kept once each (the chart libraries' bundle opens many pages)."""
    digest = hashlib.sha256(html.encode()).hexdigest()[:24]
    blobs[digest] = html
    return digest


def captured(html: str) -> bool:
    """Called by `report.page.show`: while recording, keep the output and display nothing."""
    if _captured is None:
        return False
    _captured.append(html)
    return True


_active: Any = None
_kept: dict[str, Any] = {}


def start() -> None:
    """Replay this page's recorded outputs from the next cell on, if they are current (see the
    module's docstring); otherwise do nothing, and the page runs as written."""
    global _active
    if RECORDING:
        return
    stop()
    try:
        from IPython import get_ipython  # noqa: PLC0415
    except ImportError:
        return
    shell = get_ipython()
    root = project_root()
    kept = _load(root) if shell is not None and root is not None else None
    if kept is None or not fresh(root, kept):  # type: ignore[arg-type]
        return
    outputs, blobs = kept["outputs"], kept["blobs"]
    _kept.update(kept)
    key = ""
    done: dict[int, list[str]] = {}

    def transform(lines: list[str]) -> list[str]:
        # ipykernel transforms a cell twice (once to decide whether to run it async): a cell is
        # keyed once, by its execution count
        if shell.execution_count in done:
            return done[shell.execution_count]
        nonlocal key
        key = chain(key, "".join(lines))
        if key in outputs and all(b in blobs for b in outputs[key]):
            done[shell.execution_count] = [f"__import__('report.replay').replay.replay({key!r})\n"]
            return done[shell.execution_count]
        stop()  # a cell that was not recorded: from here on the page runs as written
        done[shell.execution_count] = lines
        return lines

    shell.input_transformers_post.append(transform)
    _active = (shell, transform)


def stop() -> None:
    global _active
    if _active is not None:
        shell, transform = _active
        if transform in shell.input_transformers_post:
            shell.input_transformers_post.remove(transform)
        _active = None


def replay(key: str) -> None:
    """Show what the recorded cell `key` showed."""
    from report.page import show  # noqa: PLC0415

    for blob in _kept["outputs"][key]:
        show(_kept["blobs"][blob])
