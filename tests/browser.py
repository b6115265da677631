"""Headless Chromium driven over the DevTools protocol: open a rendered page at a given window size,
wait for its charts, and read back what a reader would see (page width and height, what sticks out
sideways, requests made, console errors), plus a screenshot.

Used by the report's layout tests and runnable by hand:
    python tests/browser.py _site/report/index.html --out /tmp/shots
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

WIDE = (1400, 1000)
PHONE = (390, 844)

# What sticks out sideways: every element whose right edge passes the viewport, or a table or chart
# wider than the box it sits in (a table that scrolls inside its own box still counts as too wide).
MEASURE_JS = r"""
(() => {
  const vw = document.documentElement.clientWidth;
  const out = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.position === 'fixed') continue;
    // inside a chart's SVG only the SVG's own box counts here: its marks' groups also span the labels
    // Vega hid (opacity 0) where they did not fit; what a chart draws is OUTSIDE_JS's to check
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
    if (r.right > vw + 1 && !el.closest('.vega-bindings select')) {
      out.push({el: name(el), right: Math.round(r.right), width: Math.round(r.width)});
    }
  }
  const wide = [];
  for (const el of document.querySelectorAll('table, .cp-chart svg, .cp-chart canvas')) {
    const box = el.parentElement.getBoundingClientRect();
    const main = (document.querySelector('main') || document.body).getBoundingClientRect();
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    if (r.width > Math.min(box.width, main.width) + 1) {
      wide.push({el: name(el), width: Math.round(r.width), box: Math.round(Math.min(box.width, main.width))});
    }
  }
  const charts = document.querySelectorAll('.cp-chart');
  const drawn = [...charts].filter(c => c.querySelector('svg, canvas')).length;
  const errors = [...charts].filter(c => /chart error/.test(c.textContent)).map(c => c.textContent.slice(0, 200));
  const tallCharts = [...charts].map(c => c.getBoundingClientRect().height)
      .filter(h => h > window.innerHeight).map(Math.round);
  return {width: document.documentElement.scrollWidth, viewport: vw, height: document.documentElement.scrollHeight,
          sticking_out: out.slice(0, 20), too_wide: wide.slice(0, 20),
          charts: charts.length, drawn: drawn, chart_errors: errors, tall_charts: tallCharts};
})()
"""

# Every text a chart draws as data (its text marks, not its axes, legends or title: point labels, a
# bar's figures): its box on the page, and the box of the plot. Hidden ones (opacity 0: a placed label
# with no free spot, see report/chart_labels.py) are counted, not listed.
LABELS_JS = r"""
(() => [...document.querySelectorAll('.cp-chart')].map(chart => {
  const labels = [...chart.querySelectorAll('g.mark-text.role-mark text')]
    .filter(t => t.textContent && getComputedStyle(t).opacity !== '0' && t.getAttribute('opacity') !== '0')
    .map(t => { const r = t.getBoundingClientRect();
                return {text: t.textContent, left: r.left, top: r.top, right: r.right, bottom: r.bottom}; });
  const frame = chart.querySelector('g.mark-group.role-frame.root > g > path.background, g.role-frame path.background');
  const f = frame ? frame.getBoundingClientRect() : null;
  return {id: chart.id, labels: labels,
          plot: f ? {left: f.left, top: f.top, right: f.right, bottom: f.bottom} : null,
          hidden: chart.querySelectorAll('g.mark-text.role-mark text[opacity="0"]').length};
}).filter(c => c.labels.length || c.hidden))()
"""


# Every visible text a chart draws (its marks' text, axis labels and titles, legends, the title) that
# passes the edge of the chart's drawing: an SVG clips what lies outside its box, so a reader sees it
# cut ("≤ 4.08M tok/"). Charts are drawn as SVG (a canvas cannot be read back text by text).
OUTSIDE_JS = r"""
(() => [...document.querySelectorAll('.cp-chart')].map(chart => {
  const svg = chart.querySelector('svg.marks') || chart.querySelector('svg');
  if (!svg) return {id: chart.id, outside: [], canvas: !!chart.querySelector('canvas')};
  const box = svg.getBoundingClientRect();
  const shown = (t) => { for (let e = t; e && e !== svg; e = e.parentElement) {
      if (e.getAttribute('opacity') === '0' || getComputedStyle(e).opacity === '0'
          || getComputedStyle(e).visibility === 'hidden') return false; }
    return true; };
  const outside = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim() && shown(t))
    .map(t => { const r = t.getBoundingClientRect();
                return {text: t.textContent, left: r.left - box.left, right: r.right - box.left,
                        top: r.top - box.top, bottom: r.bottom - box.top, width: box.width, height: box.height}; })
    .filter(r => r.right - r.left > 0 && (r.left < -1 || r.top < -1 || r.right > r.width + 1 || r.bottom > r.height + 1));
  return {id: chart.id, outside: outside, canvas: false};
}).filter(c => c.outside.length || c.canvas))()
"""


# Every line of every chart title and subtitle, and whether Vega cut it to an ellipsis (past its
# limit): a title names the setting it compares, which a cut would lose (one <text> a line, or one
# <tspan> a line in a title broken into lines).
TITLES_JS = r"""
(() => [...document.querySelectorAll('.cp-chart')].flatMap(chart =>
  [...chart.querySelectorAll('g.role-title-text text, g.role-title-subtitle text')].flatMap(t => {
    const lines = t.querySelectorAll('tspan').length ? [...t.querySelectorAll('tspan')] : [t];
    return lines.map(l => ({id: chart.id, text: l.textContent, cut: l.textContent.trim().endsWith('\u2026')}));
  })))()
"""


def overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of boxes (dicts with left, top, right, bottom and text) whose areas intersect."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]:
                out.append((a["text"], b["text"]))
    return out


@dataclass
class PageView:
    url: str
    size: tuple[int, int]
    width: int
    viewport: int
    height: int
    sticking_out: list[dict[str, Any]]
    too_wide: list[dict[str, Any]]
    charts: int
    drawn: int
    chart_errors: list[str]
    tall_charts: list[int]
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    results: list[Any] = field(default_factory=list)

    @property
    def overflows(self) -> bool:
        return self.width > self.viewport + 1 or bool(self.sticking_out) or bool(self.too_wide)

    @property
    def screens(self) -> float:
        return self.height / self.size[1]

    @property
    def network(self) -> list[str]:
        """Requests that would leave the machine (anything but file: and data: URLs)."""
        return [u for u in self.requests if not u.startswith(("file:", "data:", "about:", "blob:"))]


class Chromium:
    """One headless Chromium; `view()` opens a page in a fresh tab."""

    def __init__(self) -> None:
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        self.profile = Path(tempfile.mkdtemp(prefix="costperf-chromium-"))
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.is_file() or len(port_file.read_text().splitlines()) < 2:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws_url = f"ws://127.0.0.1:{port}{path}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def view(self, page: Path | str, size: tuple[int, int], screenshot: Path | None = None,
             scripts: tuple[str, ...] = (), timeout_s: float = 120) -> PageView:
        """Open `page` at `size`, wait for its charts, run `scripts` (JavaScript expressions, awaited
        when they return a promise; their values land in `results`), then measure."""
        url = page.resolve().as_uri() if isinstance(page, Path) else page
        return asyncio.run(asyncio.wait_for(self._view(url, size, screenshot, scripts), timeout_s))

    async def _view(self, url: str, size: tuple[int, int], screenshot: Path | None,
                    scripts: tuple[str, ...]) -> PageView:
        from tornado.websocket import websocket_connect  # noqa: PLC0415

        ws = await websocket_connect(self.ws_url, max_message_size=256 * 1024 * 1024)
        ids = iter(range(1, 1 << 30))
        pending: dict[int, asyncio.Future[Any]] = {}
        requests: list[str] = []
        errors: list[str] = []
        loaded = asyncio.Event()

        async def reader() -> None:
            while True:
                raw = await ws.read_message()
                if raw is None:
                    return
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in pending:
                    fut = pending.pop(msg["id"])
                    if "error" in msg:
                        fut.set_exception(RuntimeError(str(msg["error"])))
                    else:
                        fut.set_result(msg.get("result", {}))
                    continue
                method, params = msg.get("method"), msg.get("params", {})
                if method == "Network.requestWillBeSent":
                    requests.append(params["request"]["url"])
                elif method == "Runtime.exceptionThrown":
                    d = params["exceptionDetails"]
                    errors.append((d.get("exception") or {}).get("description") or d.get("text", ""))
                elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
                    errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
                elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                    errors.append(params["entry"]["text"])
                elif method == "Page.loadEventFired":
                    loaded.set()

        task = asyncio.ensure_future(reader())

        async def send(method: str, session: str | None = None, **params: Any) -> Any:
            i = next(ids)
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            pending[i] = fut
            msg: dict[str, Any] = {"id": i, "method": method, "params": params}
            if session:
                msg["sessionId"] = session
            await ws.write_message(json.dumps(msg))
            return await fut

        try:
            target = (await send("Target.createTarget", url="about:blank"))["targetId"]
            s = (await send("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
            for domain in ("Page", "Runtime", "Network", "Log"):
                await send(f"{domain}.enable", s)
            width, height = size
            await send("Emulation.setDeviceMetricsOverride", s, width=width, height=height, deviceScaleFactor=1,
                       mobile=width < 700)
            await send("Page.navigate", s, url=url)
            await asyncio.wait_for(loaded.wait(), 20)
            deadline = time.monotonic() + 40  # a loaded 2-core machine draws slowly
            while True:  # charts draw after load (module scripts, then vega's async parse)
                got = (await send("Runtime.evaluate", s, expression=MEASURE_JS, returnByValue=True))["result"]["value"]
                if got["drawn"] + len(got["chart_errors"]) >= got["charts"] or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.3)
            results = []
            for script in scripts:
                out = await send("Runtime.evaluate", s, expression=script, returnByValue=True, awaitPromise=True)
                if "exceptionDetails" in out:
                    raise RuntimeError(f"script failed: {out['exceptionDetails']}")
                results.append(out["result"].get("value"))
            got = (await send("Runtime.evaluate", s, expression=MEASURE_JS, returnByValue=True))["result"]["value"]
            if screenshot is not None:
                import base64  # noqa: PLC0415

                shot = await send("Page.captureScreenshot", s, format="png", captureBeyondViewport=True,
                                  clip={"x": 0, "y": 0, "width": max(got["width"], width),
                                        "height": min(got["height"], 16000), "scale": 1})
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            await send("Target.closeTarget", targetId=target)
        finally:
            ws.close()
            task.cancel()
        return PageView(url=url, size=size, requests=requests, errors=errors, screenshot=screenshot, results=results,
                        **got)


def main(argv: list[str]) -> None:
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="folder for screenshots")
    args = parser.parse_args(argv)
    with Chromium() as browser:
        for page in args.pages:
            for size in (WIDE, PHONE):
                shot = args.out / f"{page.stem}-{size[0]}.png" if args.out else None
                v = browser.view(page, size, shot)
                print(f"{page.stem:12} {size[0]:>5}px  {v.screens:5.1f} screens  overflow={v.overflows}  "
                      f"charts {v.drawn}/{v.charts}  network={len(v.network)}  errors={len(v.errors)}")
                for item in (v.sticking_out + v.too_wide)[:5]:
                    print("    ", item)
                for e in v.errors[:3]:
                    print("     error:", e[:200])


if __name__ == "__main__":
    main(sys.argv[1:])
