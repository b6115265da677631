"""Chart titles that show whole at any width.

Vega draws a title on one line and cuts it to an ellipsis past its `limit`, and a chart's titles
name the setting they compare (up to ninety characters): on a phone the setting, which says what
is compared, would be cut. So a chart's title says what is drawn and its subtitle the setting
(`titled`), and `wrap` rewrites every title and subtitle of a spec into lines that fit the chart:
the lines are broken in the page (`WRAP_JS`, measured with the font the title is drawn in) at the
container's width for a chart as wide as its container, at the chart's own width otherwise.
"""

from __future__ import annotations

import json
from typing import Any

FUNCTION = "cpWrapTitle"
TITLE_FONT_SIZE, SUBTITLE_FONT_SIZE = 13, 12
# as Vega writes a text's font: weight, size, family (its default family is sans-serif)
TITLE_FONT, SUBTITLE_FONT = f"bold {TITLE_FONT_SIZE}px sans-serif", f"{SUBTITLE_FONT_SIZE}px sans-serif"
# the container's width less the chart's padding, as the title's `limit` in charts.embed
CONTAINER = "max(containerSize()[0] - 16, 160)"

# Registered with vega-embed (`expressionFunctions`): greedy line breaking at spaces, each line
# measured on a canvas in the title's font, as Vega measures the text it would cut.
WRAP_JS = r"""(text, width, font) => {
  const ctx = (window.__cpTitleCanvas = window.__cpTitleCanvas || document.createElement('canvas').getContext('2d'));
  ctx.font = font;
  const lines = [];
  for (const part of [].concat(text)) {
    let line = '';
    for (const word of String(part).split(' ')) {
      const next = line ? line + ' ' + word : word;
      if (line && ctx.measureText(next).width > width) { lines.push(line); line = word; } else line = next;
    }
    lines.push(line);
  }
  return lines.length === 1 ? lines[0] : lines;
}"""


AXIS_TITLE_LINE = 24
"""Characters of an axis title on one line. Vega draws an axis title on one line, uncut, and a plot
on a 320-pixel phone is about 150 pixels wide: a longer title breaks before its parenthesis."""


def axis_lines(text: str) -> str | list[str]:
    """'decode throughput (tokens/s, log scale)' as two lines, the name and its parenthesis; a title
    of AXIS_TITLE_LINE characters or fewer, or without a parenthesis, as it is."""
    head, sep, rest = text.partition(" (")
    return [head, f"({rest}"] if sep and len(text) > AXIS_TITLE_LINE else text


def titled(text: str, subtitle: str | None = None) -> Any:
    """A chart title: what is drawn, and under it (smaller) the setting or scenario it is drawn at."""
    import altair as alt  # noqa: PLC0415

    return alt.TitleParams(text, subtitle=subtitle) if subtitle else text


def _width(node: dict[str, Any], outer: str) -> str:
    """The width (a Vega expression) a view's title may take: its container's, its own, or for a
    concatenation its panels' together (side by side) or its widest (stacked)."""
    w = node.get("width")
    if w == "container":
        return CONTAINER
    if isinstance(w, (int, float)):
        return str(w)
    for key, join in (("hconcat", sum), ("vconcat", max), ("concat", max), ("layer", max)):
        parts = [_width(child, "") for child in node.get(key, [])]
        numbers = [float(p) for p in parts if p and p.replace(".", "", 1).isdigit()]
        if numbers and len(numbers) == len(parts):
            return f"{join(numbers):g}"
    return outer


def _lines(text: Any, width: str, font: str) -> dict[str, str] | Any:
    if isinstance(text, str) and text or isinstance(text, list) and all(isinstance(t, str) for t in text):
        return {"expr": f"{FUNCTION}({json.dumps(text)}, {width}, {json.dumps(font)})"}
    return text  # an expression already, or nothing


def wrap(spec: dict[str, Any], outer: str = CONTAINER) -> bool:
    """Rewrite, in place, the title and subtitle of `spec` and of every view in it into lines that
    fit its width; True where any was (the page then needs `WRAP_JS`)."""
    done = False
    width = _width(spec, outer)
    title = spec.get("title")
    if title is not None:
        params = {"text": title} if isinstance(title, (str, list)) else dict(title)
        params["text"] = _lines(params.get("text"), width, TITLE_FONT)
        if "subtitle" in params:
            params["subtitle"] = _lines(params["subtitle"], width, SUBTITLE_FONT)
        # a line as wide as the width is not cut (the config's limit is the container's)
        params.setdefault("limit", {"expr": f"({width}) + 2"})
        spec["title"] = params
        done = True
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for child in spec.get(key, []):
            done = wrap(child, width) or done
    return done
