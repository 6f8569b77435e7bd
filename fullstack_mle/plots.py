"""Small inline SVG line charts for the dashboard: no plotting library in the request path, no
image files, and the browser scales them.

    svg = line_chart(["01-06", "01-07"], {"online": [0.061, 0.064], "oracle": [0.11, 0.11]},
                     title="click rate", percent=True)
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_Y = 600, 220, 56, 150, 28


def _label(value: float, percent: bool) -> str:
    return f"{100 * value:.1f}%" if percent else f"{value:.3g}"


def line_chart(
    labels: list[str], series: dict[str, list[float | None]], title: str, percent: bool = False
) -> Markup:
    """One line per series over the x labels; None values leave a gap. Empty data draws a note
    instead of an empty frame."""
    values = [v for points in series.values() for v in points if v is not None]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="{PAD_LEFT}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    if not values or not labels:
        parts.append(f'<text x="{PAD_LEFT}" y="{HEIGHT / 2}">no data yet</text></svg>')
        return Markup("".join(parts))
    low, high = min(0.0, min(values)), max(values) * 1.1 or 1.0
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - 2 * PAD_Y

    def x(i: int) -> float:
        return PAD_LEFT + (plot_w * i / (len(labels) - 1) if len(labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return PAD_Y + plot_h * (1 - (v - low) / (high - low))

    for tick in (low, (low + high) / 2, high):
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{PAD_LEFT + plot_w}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{PAD_LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{_label(tick, percent)}</text>"
        )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(label)}</text>'
        )
    for k, (name, points) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        segment: list[str] = []
        for i, v in enumerate(points):
            if v is None:
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)} {escape(labels[i])}: {_label(v, percent)}"
                "</title></circle>"
            )
            if len(segment) > 1:
                parts.append(
                    f'<polyline points="{" ".join(segment[-2:])}" fill="none" '
                    f'stroke="{colour}" stroke-width="2"/>'
                )
        legend_y = PAD_Y + 16 * k
        parts.append(
            f'<rect x="{WIDTH - PAD_RIGHT + 12}" y="{legend_y - 9}" width="10" '
            f'height="10" fill="{colour}"/><text x="{WIDTH - PAD_RIGHT + 26}" '
            f'y="{legend_y}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
