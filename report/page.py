"""What a report page's first cell calls: the data and tables, built once per render.

`quarto render` and `costperf report`'s fallback engine both execute the pages with the working
directory set to report/, so the project root is found by looking for `_quarto.yml` upwards.

Each page runs in its own kernel; validating a thousand run files takes seconds, so the built
`Report` is pickled in the user's cache folder under a key made of every data file's path, size
and modification time, the assumptions and the report code's own files. Any change to any of them
is a new key, so a stale table is never shown.
Entries are signed with a key only this user can read and kept where only they can write, so a
pickle someone else wrote is never loaded (report/cache_file.py).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from report import cache_file

if TYPE_CHECKING:
    from report import assumptions, metrics


def _fingerprint(root: Path, a: assumptions.Assumptions) -> str:
    from collectors import store  # noqa: PLC0415
    from report import metrics  # noqa: PLC0415

    h = hashlib.sha256()
    h.update(a.model_dump_json().encode())
    data = root / a.data_dir
    h.update(str(data.resolve()).encode())
    code = sorted(Path(metrics.__file__).parent.glob("*.py")) + sorted(Path(store.__file__).parent.glob("*.py"))
    files = [p for p, _ in store.data_files(data)] if data.is_dir() else []
    for path in code + files:
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def cache_path(root: Path, a: assumptions.Assumptions) -> Path:
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "costperf" / f"report-{_fingerprint(root, a)}.pkl"


def build_cached(root: Path, a: assumptions.Assumptions) -> metrics.Report:
    """The report's tables for this data and these assumptions, from the cache when current."""
    from report import metrics  # noqa: PLC0415  (pandas and pydantic: only when a page needs the tables)

    path = cache_path(root, a)
    # Only an entry this user wrote and signed is unpickled (report/cache_file.py).
    payload = cache_file.read(path)
    if payload is not None:
        try:
            cached = pickle.loads(payload)  # noqa: S301 - signed by this user's key, in a folder only they write
            if isinstance(cached, metrics.Report):
                return cached
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            pass
    rep = metrics.load(root, a)
    try:
        if path.parent.is_dir():
            for old in path.parent.glob("report-*.pkl"):
                old.unlink(missing_ok=True)  # one entry is enough: keys change with every data change
        cache_file.write(path, pickle.dumps(rep, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # no writable cache: every page builds its own, which is only slower
    return rep


@lru_cache(maxsize=1)
def report() -> metrics.Report:
    from report import assumptions  # noqa: PLC0415

    root = assumptions.project_root()
    return build_cached(root, assumptions.resolve(root))


def new_page() -> None:
    """Forget what the previous page emitted (the fallback engine reuses kernels across pages):
    the next chart carries the chart libraries again, the next table the CSS."""
    from report import charts, present  # noqa: PLC0415

    charts._bundle_done = False
    charts._counter = 0
    present._style_done = False
    present._table_counter = 0
    from report import replay  # noqa: PLC0415

    replay.stop()


def under_quarto() -> bool:
    """Whether Quarto runs this kernel: Quarto (1.5+) sets QUARTO_DOCUMENT_PATH for the engines it starts."""
    return bool(os.environ.get("QUARTO_DOCUMENT_PATH"))


def raw_html_block(html: str) -> str:
    """`html` as a Pandoc raw HTML block, fenced with more backticks than any run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", html)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{html}\n{fence}\n"


def show(*parts: str) -> None:
    """Display already-escaped HTML (from report.present, report.views or report.charts).

    Under Quarto the HTML goes out as markdown holding a raw HTML block, never as text/html:
    Quarto adds require.js and jQuery from a CDN to the head of any page with a text/html output
    (it takes them for widgets), which an offline page cannot load. The fallback engine's
    nbconvert shows text/markdown as markdown, so it gets the text/html output."""
    from IPython.display import display  # noqa: PLC0415

    from report import replay  # noqa: PLC0415

    html = "".join(parts)
    if replay.captured(html):  # the render is recording every page's outputs once (report/replay.py)
        return
    if under_quarto():
        display({"text/markdown": raw_html_block(html)}, raw=True)
    else:
        display({"text/html": html}, raw=True)
