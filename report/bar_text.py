"""The figures printed after a bar, kept inside the chart at any width.

A text after a bar needs room to its right, and how much depends on the plot's width in pixels,
known only in the browser. So the x scale is stretched, in the page, until the longest text ends
inside the plot: each row asks for a domain of `value × plot width ÷ (plot width − text width)`,
the text's width estimated from its characters. On a phone the text is the short one (speed and
cost; the rest is in the bar's tooltip), and the bars keep at least a quarter of the plot. Where an
estimate is still short, the text ends in an ellipsis at the plot's edge instead of being cut by it.
"""

from __future__ import annotations

from typing import Any

NARROW = "containerSize()[0] < 500"  # a phone: the chart's names and texts take their short forms
FONT_SIZE = {"expr": f"{NARROW} ? 9 : 10"}
DX = 4  # pixels between a bar's end and its text
# a plain sans-serif character is about 0.6 of the font size wide on average (digits 0.64, spaces
# and dots less): an estimate on the wide side, so the bars give way rather than the text
CHAR_EM = 0.62
MIN_BAR_SHARE = 0.25  # of the plot, for the longest bar, however long its text


def shown_expr() -> str:
    """The text a row shows: its short form on a phone."""
    return f"{NARROW} ? datum.short_text : datum.text"


def room_expr(value: str, names_px: dict[str, str]) -> str:
    """The x value a row needs for its text (field `shown`) to end inside the plot, from the row's
    bar end `value` (a Vega expression); `names_px` is the y axis's label limit (an expression),
    which with its ticks and padding is taken off the container's width."""
    plot = f"max(containerSize()[0] - ({names_px['expr']}) - 16, 1)"
    text = f"(length(datum.shown) * ({FONT_SIZE['expr']}) * {CHAR_EM} + {DX})"
    return f"({value}) / max({MIN_BAR_SHARE}, 1 - {text} / {plot})"


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
