"""The figures printed after a bar, kept inside the chart at any width.

A text after a bar needs room to its right, and how much depends on the plot's width in pixels,
known only in the browser. So the x scale is stretched, in the page, until the longest text ends
inside the plot: each row asks for a domain of `value × plot width ÷ (plot width − text width)`,
the text's width estimated from its characters. Where the longest full text would leave the bars
less than a quarter of the plot (a phone, a narrow window), every row shows its short text (the
buyer chart's: speed and cost; the rest is in the bar's tooltip). Where an estimate is still short,
the text ends in an ellipsis at the plot's edge instead of being cut by it.
"""

from __future__ import annotations

from typing import Any

NARROW = "containerSize()[0] < 500"  # a phone: smaller text
FONT_SIZE = {"expr": f"{NARROW} ? 9 : 10"}
DX = 4  # pixels between a bar's end and its text
# a plain sans-serif character is about 0.6 of the font size wide on average (digits 0.64, spaces
# and dots less): an estimate on the wide side, so the bars give way rather than the text
CHAR_EM = 0.66
MIN_BAR_SHARE = 0.25  # of the plot, for the longest bar, however long its text


def _px(field: str) -> str:
    """A row's text width in pixels, estimated, with the gap before it."""
    return f"(length(datum.{field}) * ({FONT_SIZE['expr']}) * {CHAR_EM} + {DX})"


def fitted(base: Any, value: str, names_px: dict[str, str]) -> Any:
    """`base` with the fields the text layer and the room layer draw from: `at` (the bar's end: the
    Vega expression `value`, 0 without one), `shown` (fields `text` or `short_text`) and `room` (the
    x value the row needs for its text to end inside the plot). `names_px` is the y axis's label
    limit (an expression), which with its ticks and padding is taken off the container's width."""
    plot = f"max(containerSize()[0] - ({names_px['expr']}) - 16, 1)"
    bars = f"{1 - MIN_BAR_SHARE} * {plot}"  # what the longest text may take
    return base.transform_calculate(
        at=f"({value}) == null ? 0 : ({value})", long_px=_px("text")
    ).transform_joinaggregate(longest="max(long_px)").transform_calculate(
        # one form for every row, so that the texts read alike down the chart
        shown=f"datum.longest <= {bars} ? datum.text : datum.short_text"
    ).transform_calculate(
        # a row without a bar asks for 1: with no bar at all the scale still starts at the left edge
        # (a domain of [0, 0] would put 0, and every text, in the middle of the plot)
        room=f"datum.at > 0 ? datum.at / max({MIN_BAR_SHARE}, 1 - {_px('shown')} / {plot}) : 1")


def limit_expr() -> dict[str, str]:
    """The text mark's width limit (Vega truncates with an ellipsis past it): from the bar's end to
    the plot's right edge."""
    return {"expr": f"max(width - scale('x', datum.at) - {DX}, 0)"}


def mark(base: Any, tooltip: list[Any], y: Any) -> Any:
    """The text layer: field `shown` after each bar's end (`at`), never past the plot's edge."""
    import altair as alt  # noqa: PLC0415

    return base.mark_text(align="left", dx=DX, fontSize=FONT_SIZE, limit=limit_expr()).encode(
        x=alt.X("at:Q"), y=y, text="shown:N", tooltip=tooltip,
        color=alt.condition("datum.fits", alt.value("#1f2937"), alt.value("#9ca3af")))
