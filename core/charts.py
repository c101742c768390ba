"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, works offline.

Pure functions of their data that return SVG markup; every text in it is
escaped. Values below zero are drawn as zero. Colours are presentation
attributes, so a chart looks right on its own, and the page's CSS may restyle
the classes (`bar`, `grid`, `series`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from django.utils.html import escape

Formatter = Callable[[float], str]

PALETTE = ("#417690", "#e07a1f", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#6d4c41", "#546e7a")
BAR_COLOUR = PALETTE[0]
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 28  # margins around the plot, room for the axes' labels
TICKS = 4  # horizontal grid lines above zero
MAX_X_LABELS = 10


def compact(value: float) -> str:
    """A short label for an axis: 1234 -> '1.2k', 2500000 -> '2.5M', 12.5 -> '12.5', 3.0 -> '3'."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return _trim(f"{value / limit:.1f}") + suffix
    return _trim(f"{value:.2f}")


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


def axis(largest: float, *, min_step: float = 0.0) -> tuple[float, float]:
    """Return (top, step): a round step (1, 2, 2.5 or 5 times a power of ten) and a top of TICKS steps at most."""
    step = max(_round_up(max(largest, 0.0) / TICKS), min_step)
    return step * max(1, math.ceil(largest / step - 1e-9)), step


def _round_up(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= value * (1 - 1e-9))


def bar_chart(
    points: Sequence[tuple[str, float]],
    *,
    width: int = 720,
    height: int = 220,
    value_format: Formatter = compact,
    min_step: float = 0.0,
    label: str = "Bar chart",
) -> str:
    """Vertical bars, one per (label, value), in order; each bar's tooltip gives its label and value."""
    if not points:
        return _empty(width, height, label)
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    top, step = axis(max(value for _, value in points), min_step=min_step)
    parts = [_open(width, height, label), *_grid(top, step, plot_width, plot_height)]
    band = plot_width / len(points)
    every = math.ceil(len(points) / MAX_X_LABELS)
    for index, (name, value) in enumerate(points):
        bar = plot_height * max(value, 0) / top
        x = LEFT + index * band
        parts.append(
            f'<rect class="bar" x="{x + band * 0.1:.1f}" y="{TOP + plot_height - bar:.1f}" '
            f'width="{band * 0.8:.1f}" height="{bar:.1f}" fill="{BAR_COLOUR}">'
            f"<title>{escape(name)}: {escape(value_format(value))}</title></rect>"
        )
        if index % every == 0:
            parts.append(_text(x + band / 2, height - 10, name, anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(
    points: Sequence[tuple[str, float]],
    *,
    width: int = 720,
    bar_height: int = 24,
    label_width: int = 240,
    value_format: Formatter = compact,
    label: str = "Bar chart",
) -> str:
    """Horizontal bars, one per (label, value), top to bottom, with the label on the left and the value at the end."""
    height = TOP + bar_height * max(len(points), 1) + TOP
    if not points:
        return _empty(width, height * 2, label)
    plot_width = width - label_width - 72  # room for the value after the longest bar
    largest = max(max(value for _, value in points), 0) or 1
    parts = [_open(width, height, label)]
    for index, (name, value) in enumerate(points):
        y = TOP + index * bar_height
        bar = plot_width * max(value, 0) / largest
        shown = name if len(name) <= 34 else name[:33] + "…"
        parts.append(_text(label_width - 8, y + bar_height * 0.65, shown, anchor="end"))
        parts.append(
            f'<rect class="bar" x="{label_width}" y="{y + bar_height * 0.15:.1f}" width="{bar:.1f}" '
            f'height="{bar_height * 0.7:.1f}" fill="{BAR_COLOUR}"><title>{escape(name)}: '
            f"{escape(value_format(value))}</title></rect>"
        )
        parts.append(_text(label_width + bar + 6, y + bar_height * 0.65, value_format(value)))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    x_range: tuple[float, float],
    x_ticks: Sequence[tuple[float, str]] = (),
    width: int = 720,
    height: int = 240,
    value_format: Formatter = compact,
    min_step: float = 0.0,
    label: str = "Line chart",
) -> str:
    """One line per named series of (x, y) points, over `x_range`, with a legend under the plot."""
    values = [y for points in series.values() for _, y in points]
    if not values:
        return _empty(width, height, label, "No samples yet")
    legend_rows = math.ceil(len(series) / 4)
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM - 18 * legend_rows
    top, step = axis(max(values), min_step=min_step)
    start, end = x_range
    span = (end - start) or 1

    def at(x: float, y: float) -> str:
        return f"{LEFT + plot_width * (x - start) / span:.1f},{TOP + plot_height * (1 - max(y, 0) / top):.1f}"

    parts = [_open(width, height, label), *_grid(top, step, plot_width, plot_height)]
    for x, text in x_ticks:
        parts.append(_text(LEFT + plot_width * (x - start) / span, TOP + plot_height + 16, text, anchor="middle"))
    for index, (name, points) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        last = f"{escape(name)}: {escape(value_format(points[-1][1]))} now" if points else escape(name)
        if len(points) == 1:
            cx, cy = at(*points[0]).split(",")
            parts.append(
                f'<circle class="series" cx="{cx}" cy="{cy}" r="3" fill="{colour}"><title>{last}</title></circle>'
            )
        elif points:
            coordinates = " ".join(at(x, y) for x, y in points)
            parts.append(
                f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" '
                f'points="{coordinates}"><title>{last}</title></polyline>'
            )
        legend_x = LEFT + (index % 4) * (plot_width / 4)
        legend_y = TOP + plot_height + 30 + 18 * (index // 4)
        parts.append(f'<rect x="{legend_x:.1f}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"></rect>')
        parts.append(_text(legend_x + 14, legend_y, name))
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(label)}" font-size="11" font-family="sans-serif">'
        f"<title>{escape(label)}</title>"
    )


def _grid(top: float, step: float, plot_width: float, plot_height: float) -> list[str]:
    """Horizontal lines from zero to `top`, one per step, each labelled on the left."""
    parts = []
    for tick in range(round(top / step) + 1):
        value = tick * step
        y = TOP + plot_height * (1 - value / top)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_width:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ccc" stroke-width="1"></line>'
        )
        parts.append(_text(LEFT - 6, y + 4, compact(value), anchor="end"))
    return parts


def _text(x: float, y: float, text: str, *, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="#666">{escape(text)}</text>'


def _empty(width: int, height: int, label: str, message: str = "No data") -> str:
    return f"{_open(width, height, label)}{_text(width / 2, height / 2, message, anchor='middle')}</svg>"
