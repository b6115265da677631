"""Text labels beside a chart's points that never run into each other.

Labels drawn at a fixed offset from their points pile up where points crowd (a scatter's machines
priced alike), and how much they crowd depends on the width the page gives the chart, known only in
the browser. Vega's label transform places each label, in the browser, at the first spot around its
point where it overlaps no other label, no point and no line of the chart and stays inside the plot;
a label with no such spot is hidden (opacity 0) and its point keeps its tooltip.

Vega-Lite has no label transform, so a chart writes its labels as an ordinary Vega-Lite text layer
(`point_labels`: the spec stays valid and its scales see the labels) and names it in its `usermeta`
(`placed`). `embed` then hands vega-embed `PATCH_JS`, which rewrites that one text mark of the
compiled Vega spec into a label transform over the named point mark.
"""

from __future__ import annotations

from typing import Any

import altair as alt

USERMETA_KEY = "cp_placed_labels"
LABELS_SUFFIX = "_labels"  # the text layer of point layer NAME is NAME_labels
LABEL_COLOUR = "#374151"

# Run in the page by vega-embed on the compiled Vega spec (`patch` option). Right of the point
# first, as a reader expects, then above, below and left of it.
PATCH_JS = r"""(spec) => {
  const placed = (spec.usermeta || {}).%(key)s || [];
  const all = [];
  const collect = (marks) => (marks || []).forEach(m => { all.push(m); collect(m.marks); });
  collect(spec.marks);
  for (const p of placed) {
    const text = all.find(m => m.name === p.points + "%(suffix)s_marks" && m.type === "text");
    if (!text) continue;
    const was = (text.encode && text.encode.update) || {};
    const keep = {};
    for (const k of ["fill", "fontSize", "font", "fontWeight"]) if (k in was) keep[k] = was[k];
    keep.text = {field: "datum." + p.field};
    text.from = {data: p.points + "_marks"};  // reactive geometry: one label per drawn point
    text.encode = {update: keep};
    text.transform = [{
      type: "label", size: {signal: "[max(width, 1), max(height, 1)]"},  // width is 0 until the page lays out
      anchor: ["right", "top-right", "bottom-right", "top", "bottom", "left", "top-left", "bottom-left"],
      offset: [3, 2, 2, 2, 2, 3, 2, 2],
      avoidMarks: all.filter(m => m.type === "line" || m.type === "rule").map(m => m.name),
      ...(p.priority ? {sort: {field: "datum.datum." + p.priority, order: "descending"}} : {}),
    }];
  }
  return spec;
}""" % {"key": USERMETA_KEY, "suffix": LABELS_SUFFIX}


def point_labels(base: alt.Chart, points: str, x: str, y: str, text: str, font_size: int = 10) -> alt.Chart:
    """The text layer that labels the points of layer `points` (placed in the page by `placed`)."""
    return base.mark_text(fontSize=font_size, color=LABEL_COLOUR, align="left", dx=6).encode(
        x=x, y=y, text=text).properties(name=points + LABELS_SUFFIX)


def placed(chart: Any, points: str, field: str, priority: str | None = None) -> Any:
    """`chart` with the labels of layer `points` (text from `field`) placed so none overlaps; where
    two compete for a spot, the one whose row has a true `priority` field wins."""
    meta = dict(chart.usermeta) if isinstance(getattr(chart, "usermeta", None), dict) else {}
    meta[USERMETA_KEY] = [*meta.get(USERMETA_KEY, []), {"points": points, "field": field, "priority": priority}]
    return chart.properties(usermeta=meta)


def needs_patch(spec: dict[str, Any]) -> bool:
    return bool((spec.get("usermeta") or {}).get(USERMETA_KEY))
