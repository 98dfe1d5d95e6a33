"""Small server-side charts as inline SVG: no JavaScript, no style attributes (the dashboard's
Content-Security-Policy forbids inline styles), every label escaped.

Each chart is an `<svg role="img">` with a `<title>` and `<desc>`; pages put the numbers in
a table next to it too, for screen readers and for copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), each series
# also gets its own dash pattern and marker so colour is never the only cue.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#555555")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4")
ALL_COLOUR = "#111111"


@dataclass(frozen=True)
class Series:
    """One line: a name and (day, value) points; None values leave a gap."""

    name: str
    points: Sequence[tuple[date, float | None]]
    detail: Sequence[str] | None = None  # per point, shown in its tooltip


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".").replace("-", "\u2212")


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    description: str,
    y_min: float = -1.0,
    y_max: float = 1.0,
    y_ticks: Sequence[float] = (-1.0, -0.5, 0.0, 0.5, 1.0),
    width: int = 480,
    height: int = 260,
    chart_id: str = "chart",
) -> Markup:
    """A line chart with a shared date axis, one line per series and a legend under it."""
    days = sorted({day for s in series for day, _ in s.points})
    left, right, top = 44, 12, 12
    legend_rows = (len(series) + 2) // 3
    plot_bottom = height - 34 - 20 * legend_rows
    plot_w, plot_h = width - left - right, plot_bottom - top
    span = (days[-1] - days[0]).days if len(days) > 1 else 0

    def x(day: date) -> float:
        if span == 0:
            return left + plot_w / 2
        return left + plot_w * (day - days[0]).days / span

    def y(value: float) -> float:
        clipped = min(max(value, y_min), y_max)
        return top + plot_h * (y_max - clipped) / (y_max - y_min)

    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}" '
        'xmlns="http://www.w3.org/2000/svg" focusable="false">',
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(description)}</desc>',
    ]
    for tick in y_ticks:
        ty = y(tick)
        klass = "axis-zero" if tick == 0 else "grid"
        parts.append(
            f'<line class="{klass}" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
        )
        label = ("+" if tick > 0 else "") + _num(tick)
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
    if days:
        shown = [days[0], days[-1]] if len(days) > 1 else [days[0]]
        if len(days) > 4:
            shown.insert(1, days[len(days) // 2])
        for index, day in enumerate(shown):
            anchor = "start" if index == 0 and len(shown) > 1 else "middle"
            if index == len(shown) - 1 and len(shown) > 1:
                anchor = "end"
            parts.append(
                f'<text class="tick" x="{x(day):.1f}" y="{plot_bottom + 16}" '
                f'text-anchor="{anchor}">{escape(day.strftime("%d %b"))}</text>'
            )
    for index, line in enumerate(series):
        colour, dash = _style(line.name, index)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        weight = 3 if line.name == "all" else 2
        for run in _runs(line.points):
            coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in run)
            if len(run) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="{weight}"'
                    f'{dash_attr} points="{coords}"/>'
                )
        for point_index, (day, value) in enumerate(line.points):
            if value is None:
                continue
            extra = ""
            if line.detail is not None and point_index < len(line.detail):
                extra = f" ({line.detail[point_index]})"
            tip = f"{line.name}, week of {day.isoformat()}: {value:+.2f}{extra}"
            parts.append(
                f'<circle cx="{x(day):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    legend_top = plot_bottom + 30
    column_w = (width - left) / 3
    for index, line in enumerate(series):
        colour, dash = _style(line.name, index)
        lx = left + column_w * (index % 3)
        ly = legend_top + 20 * (index // 3)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{lx:.1f}" x2="{lx + 22:.1f}" y1="{ly:.1f}" y2="{ly:.1f}" '
            f'stroke="{colour}" stroke-width="3"{dash_attr}/>'
            f'<text class="legend" x="{lx + 28:.1f}" y="{ly + 4:.1f}">{escape(line.name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _style(name: str, index: int) -> tuple[str, str]:
    if name == "all":
        return ALL_COLOUR, ""
    return PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]


def _runs(points: Sequence[tuple[date, float | None]]) -> list[list[tuple[date, float]]]:
    """Consecutive points with values (a None breaks the line)."""
    runs: list[list[tuple[date, float]]] = [[]]
    for day, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((day, value))
    return [run for run in runs if run]


def bar(value: float, track: float, scale: float, *, label: str) -> Markup:
    """One horizontal bar: a track `track` long (of `scale`) filled up to `value`.

    Used for component contributions: the track is the most points a component can give
    (its effective weight x 100), the filled part what it gave. The SVG stretches to the
    width of its container, so the text beside it stays HTML and wraps on small screens.
    """
    scale = scale if scale > 0 else 1.0
    track_w = max(0.0, min(100.0, 100.0 * track / scale))
    fill_w = max(0.0, min(track_w, 100.0 * value / scale))
    return Markup(
        '<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" focusable="false">'
        f'<rect class="bar-track" x="0" y="0" width="{track_w:.2f}" height="10"/>'
        f'<rect class="bar-fill" x="0" y="0" width="{fill_w:.2f}" height="10"/>'
        "</svg>"
    )
