"""Write `_site/index.html`, a redirect to the report's first page (`report/index.html`).

The pages live in report/, so Quarto writes them to `_site/report/`; this gives readers the
`_site/index.html` they expect. Run by Quarto as the project's post-render script (standard
library only: Quarto runs it with its own python) and called by the fallback engine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def write_root_index(site_dir: Path, first_page: Path) -> Path:
    target = os.path.relpath(first_page, site_dir).replace(os.sep, "/")
    text = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"refresh\" content=\"0; url={target}\">"
        "<title>costperf report</title></head>"
        f"<body><p>The report is at <a href=\"{target}\">{target}</a>.</p></body></html>\n"
    )
    path = site_dir / "index.html"
    if path.resolve() == first_page.resolve():
        return path  # the first page already is the site's index
    site_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


if __name__ == "__main__":
    out = Path(os.environ.get("QUARTO_PROJECT_OUTPUT_DIR", "_site"))
    write_root_index(out, out / "report" / "index.html")
    sys.exit(0)
