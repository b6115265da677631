"""What `quarto render` needs from the project, checked without the Quarto CLI: pages run in a real
python3 kernel with QUARTO_DOCUMENT_PATH set (as Quarto 1.5+ sets it for the engines it starts)
emit their HTML as a raw block inside a markdown output and never as text/html (Quarto puts
require.js and jQuery from a CDN in the head of any page with a text/html output); the same page
without it emits text/html for the fallback engine; .gitignore holds the lines Quarto looks for."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from report import render
from report.page import raw_html_block

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def run_page(name: str, env: dict[str, str]) -> Any:
    nb, _ = render.to_notebook(ROOT / "report" / f"{name}.qmd", {})

    async def go() -> None:
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name="python3")
        plain = {k: v for k, v in os.environ.items() if not k.startswith("QUARTO_")}
        await km.start_kernel(cwd=str(ROOT / "report"), env={**plain, **env})
        try:
            await render.execute(nb, km, ROOT / "report" / f"{name}.qmd", 300)
        finally:
            await km.shutdown_kernel(now=True)

    asyncio.run(go())
    return nb


def display_outputs(nb: Any) -> list[dict[str, Any]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o["output_type"] in ("display_data", "execute_result")]


@pytest.fixture(scope="module")
def both() -> tuple[Any, Any]:
    fallback = run_page("memory", {})
    quarto = run_page("memory", {"QUARTO_DOCUMENT_PATH": str(ROOT / "report"), "QUARTO_PROJECT_ROOT": str(ROOT)})
    return fallback, quarto


def test_under_quarto_a_page_emits_markdown_with_a_raw_html_block(both: tuple[Any, Any]) -> None:
    _, quarto = both
    outputs = display_outputs(quarto)
    assert outputs, "the memory page shows something"
    for out in outputs:
        assert set(out["data"]) == {"text/markdown"}, out["data"].keys()  # no text/html: no CDN require.js
        text = out["data"]["text/markdown"]
        fence = re.match(r"^(`{3,})\{=html\}\n", text)
        assert fence and text.rstrip("\n").endswith(fence.group(1))


def test_the_fallback_gets_the_same_html_as_text_html(both: tuple[Any, Any]) -> None:
    fallback, quarto = both
    html = [o["data"]["text/html"] for o in display_outputs(fallback)]
    assert html and all(set(o["data"]) == {"text/html"} for o in display_outputs(fallback))
    # the same page text either way: the raw block holds exactly the fallback's HTML
    raw = [o["data"]["text/markdown"] for o in display_outputs(quarto)]
    assert raw == [raw_html_block(h) for h in html]


def test_a_raw_block_fence_is_longer_than_any_backtick_run_inside() -> None:
    block = raw_html_block("<pre>```{=html}\n````</pre>")
    assert block.startswith("`````{=html}\n") and block.endswith("\n`````\n")


def test_gitignore_holds_the_exact_lines_quarto_checks() -> None:
    # Quarto's ensureGitignore compares trimmed lines with `/.quarto/` and `**/*.quarto_ipynb` and
    # rewrites .gitignore when either is missing, leaving the work tree dirty after every render
    lines = [line.strip() for line in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()]
    assert "/.quarto/" in lines and "**/*.quarto_ipynb" in lines
    assert not any(p.name.startswith("_") and p.name.endswith(".local") for p in ROOT.iterdir())


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "_quarto.yml", dest / "_quarto.yml")
    (dest / "report").mkdir()
    for f in list((ROOT / "report").glob("*.qmd")) + [ROOT / "report" / "post_render.py"]:
        shutil.copy(f, dest / "report" / f.name)
    shutil.copytree(ROOT / "data", dest / "data", ignore=shutil.ignore_patterns(".costperf-tmp-*"))
    return dest


PROBE = "import sys\nprint('pandas' in sys.modules, 'altair' in sys.modules, 'r' in dir())"


def run_in_kernel(project: Path, name: str, env: dict[str, str]) -> tuple[list[dict[str, Any]], str]:
    import nbformat

    source = project / "report" / f"{name}.qmd"
    nb, _ = render.to_notebook(source, {})
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))

    async def go() -> None:
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name="python3")
        plain = {k: v for k, v in os.environ.items() if not k.startswith("QUARTO_")}
        await km.start_kernel(cwd=str(source.parent), env={**plain, **env})
        try:
            await render.execute(nb, km, source, 300)
        finally:
            await km.shutdown_kernel(now=True)

    asyncio.run(go())
    probe = nb.cells[-1].outputs[0]["text"].strip()
    nb.cells.pop()
    return display_outputs(nb), probe


def test_a_page_replays_its_prebuilt_outputs_and_runs_as_written_once_data_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from report import replay

    project = copy_project(tmp_path / "project")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "COSTPERF_SET": "{}"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert replay.record(project) is not None
    replayed, probe = run_in_kernel(project, "memory", env)
    # nothing heavy was imported and no page variable exists: every cell was a replay
    assert probe == "False False False", probe
    # a data file that changed since the build: the page runs as written, and shows the same
    # HTML for the same data
    run_file = next((project / "data" / "runs").rglob("*.json"))
    os.utime(run_file)
    ran, probe = run_in_kernel(project, "memory", env)
    assert probe == "True True True", probe
    assert [o["data"] for o in ran] == [o["data"] for o in replayed]


def test_replay_reads_the_same_overrides_variable_as_the_assumptions() -> None:
    from report import assumptions, replay

    assert replay.SET_VAR == assumptions.ENV_VAR  # named twice so that a page's kernel need not import pydantic
