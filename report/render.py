"""The fallback engine: render the Quarto website's pages without the Quarto CLI.

Reads `_quarto.yml` (output dir, render globs, site title, navbar), then for each page: jupytext's
R Markdown reader turns the ```{python} chunks into a notebook (jupytext's own qmd reader would call
the quarto CLI), nbclient executes it in a real python3 kernel with the page's folder as working
directory, and nbconvert writes the HTML, wrapped in the same navigation as Quarto's navbar.
Pages render in parallel (one kernel per job); a kernel that goes on to another page first runs
`%reset -f` and `report.page.new_page()`, so each page starts from a clean namespace, as under Quarto.

Quarto cell options are honoured by hand, since nbclient ignores them: `#| eval: false` (not run,
shown as code when echoed), `#| echo` (show the source), `#| output: false` (hide outputs) and
`#| include: false` (run, show nothing); defaults come from `execute:` in `_quarto.yml` and the page.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from report.post_render import write_root_index

CELL_OPTION = re.compile(r"^#\|\s?(.*)$")


class RenderError(Exception):
    """A page failed to render: the message names the page, the cell and the error."""


@dataclass
class NavItem:
    text: str
    href: Path  # source path relative to the project root


@dataclass
class Site:
    root: Path
    output_dir: Path
    title: str
    pages: list[Path]
    navbar: list[NavItem]
    execute: dict[str, Any] = field(default_factory=dict)
    footer: str = ""

    def output_of(self, source: Path) -> Path:
        return self.output_dir / source.relative_to(self.root).with_suffix(".html")


def read_site(root: Path) -> Site:
    config_path = root / "_quarto.yml"
    if not config_path.is_file():
        raise RenderError(f"{config_path}: not found; run from the project root (the folder with _quarto.yml)")
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RenderError(f"{config_path}: not valid YAML: {exc}") from None
    project = config.get("project") or {}
    website = config.get("website") or {}
    globs = project.get("render") or ["**/*.qmd"]
    pages: list[Path] = []
    for pattern in globs:
        for path in sorted(root.glob(pattern)):
            if path.suffix == ".qmd" and not path.name.startswith(("_", ".")) and path not in pages:
                pages.append(path)
    if not pages:
        raise RenderError(f"{config_path}: project.render {globs} matches no .qmd page")
    navbar = []
    for item in (website.get("navbar") or {}).get("left") or []:
        href = item if isinstance(item, str) else item.get("href")
        if not href:
            continue
        source = root / href
        if not source.is_file():
            continue  # Quarto too would leave out a link to a page that does not exist
        text = (item.get("text") if isinstance(item, dict) else None) or page_title(source) or source.stem
        navbar.append(NavItem(text=str(text), href=source))
    footer = website.get("page-footer") or ""
    if isinstance(footer, dict):
        footer = footer.get("center") or footer.get("left") or ""
    return Site(root=root, output_dir=root / project.get("output-dir", "_site"), title=str(website.get("title", "")),
                pages=pages, navbar=navbar, execute=dict(config.get("execute") or {}), footer=str(footer))


def front_matter(text: str) -> dict[str, Any]:
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.DOTALL)
    if not match:
        return {}
    return yaml.safe_load(match.group(1)) or {}


def page_title(source: Path) -> str | None:
    meta = front_matter(source.read_text(encoding="utf-8"))
    title = meta.get("title")
    return str(title) if title else None


def cell_options(source: str) -> tuple[dict[str, Any], str]:
    """Quarto `#| key: value` lines at the top of a chunk → (options, the code without them)."""
    lines = source.splitlines()
    opts: list[str] = []
    while lines and CELL_OPTION.match(lines[0]):
        opts.append(CELL_OPTION.match(lines.pop(0)).group(1))  # type: ignore[union-attr]
    parsed = yaml.safe_load("\n".join(opts)) if opts else {}
    return (parsed if isinstance(parsed, dict) else {}), "\n".join(lines)


def to_notebook(source: Path, defaults: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The page as a notebook ready to execute, and its front matter."""
    import jupytext  # noqa: PLC0415
    import nbformat  # noqa: PLC0415

    text = source.read_text(encoding="utf-8")
    meta = front_matter(text)
    nb = jupytext.reads(text, fmt="Rmd")
    page_defaults = {**defaults, **(meta.get("execute") or {})}
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.lstrip().startswith("---"):
            continue  # the front matter
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        opts, code = cell_options(cell.source)
        opts = {**page_defaults, **opts}
        if opts.get("eval", True) is False:
            if opts.get("echo", True) is not False and opts.get("include", True) is not False:
                cells.append(nbformat.v4.new_markdown_cell(f"```python\n{code}\n```"))
            continue
        new = nbformat.v4.new_code_cell(code)
        new.metadata["costperf"] = {
            "echo": opts.get("echo", True) is not False and opts.get("include", True) is not False,
            "output": opts.get("output", True) is not False and opts.get("include", True) is not False,
        }
        cells.append(new)
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb, meta


RESET_CELL = """%reset -f
import report.page
report.page.new_page()"""
"""Run first on a kernel that already rendered a page: a clean namespace and per-page state, as if new."""


async def execute(nb: Any, km: Any, source: Path, timeout_s: int) -> None:
    from nbclient import NotebookClient  # noqa: PLC0415
    from nbclient.exceptions import CellExecutionError  # noqa: PLC0415

    client = NotebookClient(nb, km=km, timeout=timeout_s, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(source.parent)}})
    try:
        await client.async_execute()
    except CellExecutionError as exc:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # the kernel's traceback comes coloured
        raise RenderError(f"{source}: a cell failed:\n{plain}") from None
    finally:
        if client.kc is not None:
            client.kc.stop_channels()


async def start_kernel(cwd: Path) -> Any:
    from jupyter_client.manager import AsyncKernelManager  # noqa: PLC0415

    km = AsyncKernelManager(kernel_name="python3")
    # the kernel's stderr carries only start-up chatter; cell errors come back as messages
    await km.start_kernel(cwd=str(cwd), stderr=subprocess.DEVNULL)
    return km


def apply_visibility(nb: Any) -> None:
    for cell in nb.cells:
        flags = cell.metadata.pop("costperf", None)
        if flags is None:
            continue
        tags = set(cell.metadata.get("tags", []))
        if not flags["echo"]:
            tags.add("cp-hide-input")
        if not flags["output"]:
            tags.add("cp-hide-output")
        if not flags["echo"] and not flags["output"]:
            tags.add("cp-hide-cell")
        cell.metadata["tags"] = sorted(tags)


def to_html_body(nb: Any) -> str:
    from nbconvert import HTMLExporter  # noqa: PLC0415
    from traitlets.config import Config  # noqa: PLC0415

    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = {"cp-hide-cell"}
    c.TagRemovePreprocessor.remove_input_tags = {"cp-hide-input"}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {"cp-hide-output"}
    exporter = HTMLExporter(config=c, template_name="basic")
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    return body


SITE_CSS = """
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  color:#1f2937;line-height:1.45;font-size:15px}
nav.cp-nav{display:flex;flex-wrap:wrap;align-items:center;gap:.15rem .9rem;padding:.45rem 1.2rem;
  background:#1f2937;color:#fff}
nav.cp-nav a{color:#e5e7eb;text-decoration:none;font-size:.9rem}
nav.cp-nav a.active{color:#fff;font-weight:700;border-bottom:2px solid #fbbf24}
nav.cp-nav .cp-brand{font-weight:700;margin-right:.8rem;color:#fff}
main{max-width:1280px;margin:0 auto;padding:.4rem 1.2rem 2rem 1.2rem}
main h1.title{font-size:1.55rem;margin:.7rem 0 .2rem 0}
p.subtitle{color:#4b5563;margin:.1rem 0 .5rem 0}
h2{font-size:1.2rem;margin:1.1rem 0 .4rem 0;border-bottom:1px solid #e5e7eb}
h3{font-size:1.05rem}
.prompt{display:none}
.anchor-link{display:none}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;font-size:.8rem}
footer{max-width:1280px;margin:0 auto;padding:1rem 1.2rem;color:#6b7280;font-size:.8rem}
"""


def page_html(site: Site, source: Path, meta: dict[str, Any], body: str) -> str:
    out = site.output_of(source)
    links = []
    for item in site.navbar:
        href = os.path.relpath(site.output_of(item.href), out.parent).replace(os.sep, "/")
        active = ' class="active"' if item.href == source else ""
        links.append(f'<a href="{html.escape(href)}"{active}>{html.escape(item.text)}</a>')
    title = str(meta.get("title") or source.stem)
    subtitle = meta.get("subtitle") or meta.get("description")
    sub = f'<p class="subtitle">{html.escape(str(subtitle))}</p>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<meta name=\"generator\" content=\"costperf report (fallback engine)\">"
        f"<title>{html.escape(title)} – {html.escape(site.title)}</title><style>{SITE_CSS}</style></head>\n"
        f"<body><nav class=\"cp-nav\"><span class=\"cp-brand\">{html.escape(site.title)}</span>{''.join(links)}</nav>\n"
        f"<main><h1 class=\"title\">{html.escape(title)}</h1>{sub}\n{body}\n</main>"
        f"<footer>{html.escape(site.footer)}</footer></body></html>\n"
    )


def _write_page(site: Site, source: Path, meta: dict[str, Any], nb: Any) -> Path:
    apply_visibility(nb)
    body = to_html_body(nb)
    out = site.output_of(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page_html(site, source, meta, body), encoding="utf-8")
    tmp.replace(out)
    return out


Progress = Callable[[int, int, Path, float], None]
"""Called as each page is written: (pages done, pages in all, the page's source, its seconds)."""


async def _worker(site: Site, queue: asyncio.Queue[Path], timeout_s: int, written: list[Path],
                  progress: Progress | None = None) -> None:
    """Renders pages from the queue, reusing one kernel while pages share a folder (starting a
    kernel and importing pandas and altair costs seconds; a reset between pages keeps them apart)."""
    km, km_cwd, used = None, None, False
    try:
        while True:
            try:
                source = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if km is None or km_cwd != source.parent:
                if km is not None:
                    await km.shutdown_kernel(now=True)
                km, km_cwd, used = await start_kernel(source.parent), source.parent, False
            page_started = time.perf_counter()
            nb, meta = to_notebook(source, site.execute)
            if used:
                import nbformat  # noqa: PLC0415

                reset = nbformat.v4.new_code_cell(RESET_CELL)
                reset.metadata["costperf"] = {"echo": False, "output": False}
                nb.cells.insert(0, reset)
            await execute(nb, km, source, timeout_s)
            used = True
            written.append(_write_page(site, source, meta, nb))
            if progress:
                progress(len(written), len(site.pages), source.relative_to(site.root),
                         time.perf_counter() - page_started)
    finally:
        if km is not None:
            await km.shutdown_kernel(now=True)


def render_site(root: Path, jobs: int | None = None, timeout_s: int = 600,
                log: Any = None, progress: Progress | None = None,
                swapped: Callable[[], None] = lambda: None) -> list[Path]:
    """Render every page of the site into its output folder, all or nothing: the pages are written to
    a staging folder beside it, which replaces the output folder only once every page is done
    (report/site_staging.py); an interruption or a failed page leaves the previous site untouched.
    `swapped` is called as the new render replaces the old. Returns the pages written (their paths
    in the output folder)."""
    from report import site_staging  # noqa: PLC0415

    site = read_site(root)
    final = site.output_dir
    site_staging.remove_leftovers(final)  # of renders killed before they could clean up
    site.output_dir = site_staging.staging_dir(final)
    jobs = min(jobs or max(os.cpu_count() or 1, 1), len(site.pages))

    async def run_all() -> list[Path]:
        queue: asyncio.Queue[Path] = asyncio.Queue()
        for page in site.pages:
            queue.put_nowait(page)
        written: list[Path] = []
        await asyncio.gather(*(_worker(site, queue, timeout_s, written, progress) for _ in range(jobs)))
        return written

    started = time.perf_counter()
    try:
        site.output_dir.mkdir(parents=True)
        written = asyncio.run(run_all())
        write_root_index(site.output_dir, site.output_of(site.navbar[0].href if site.navbar else site.pages[0]))
        site_staging.swap_in(site.output_dir, final, then=swapped)
    except BaseException:
        site_staging.remove_own(final)
        raise
    if log:
        log(f"Rendered {len(written)} page(s) into {final} in {time.perf_counter() - started:.1f} s")
    return [final / page.relative_to(site.output_dir) for page in written]


if __name__ == "__main__":
    render_site(Path.cwd(), log=lambda s: print(s, file=sys.stderr))
