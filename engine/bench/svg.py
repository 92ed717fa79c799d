"""Inline SVG bar charts for self-contained HTML reports (no scripts, no external files).

Values are shares between 0 and 1, drawn against a 0-100% axis. A share of None draws no bar.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

PALETTE = ("#3366aa", "#ee8833", "#44aa77", "#aa4466", "#7766bb")
_LABEL_WIDTH = 130
_ROW_HEIGHT = 26
_PLOT_WIDTH = 360
_TOP = 30
_BOTTOM = 28


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _axis(x0: int, y_end: int) -> list[str]:
    parts = []
    for step in range(0, 101, 25):
        x = x0 + _PLOT_WIDTH * step / 100
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{_TOP - 4}" x2="{x:.1f}" '
                     f'y2="{y_end}" stroke="#dddddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{y_end + 16}" text-anchor="middle" '
                     f'font-size="11">{step}%</text>')
    return parts


def bar_chart(title: str, bars: Sequence[tuple[str, float | None, Sequence[float] | None]],
              chart_id: str) -> str:
    """Horizontal bars with 95% interval whiskers: ``(label, share, [low, high] or None)``.
    A bar whose share is None is labelled "no questions"."""
    series = [(label, [(value, interval)]) for label, value, interval in bars]
    return grouped_bar_chart(title, series, [""], chart_id, empty_label="no questions")


# A bar's share and 95% interval.
Bar = tuple[float | None, Sequence[float] | None]


def grouped_bar_chart(title: str, rows: Sequence[tuple[str, Sequence[Bar]]],
                      series_names: Sequence[str], chart_id: str, empty_label: str = "") -> str:
    """Horizontal grouped bars: each row has one ``(share, interval)`` per series name.
    A share of None draws ``empty_label`` in place of the bar."""
    per_row = len(series_names)
    bar_height = max(6, (_ROW_HEIGHT - 6) // per_row)
    legend_height = 18 if per_row > 1 else 0
    height = _TOP + legend_height + len(rows) * _ROW_HEIGHT + _BOTTOM
    width = _LABEL_WIDTH + _PLOT_WIDTH + 70
    x0 = _LABEL_WIDTH
    top = _TOP + legend_height
    parts = [f'<svg class="chart" id="{escape(chart_id)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    parts += _axis(x0, top + len(rows) * _ROW_HEIGHT)
    if per_row > 1:
        for index, name in enumerate(series_names):
            x = x0 + index * 110
            parts.append(f'<rect class="legend" x="{x}" y="{_TOP - 2}" width="10" height="10" '
                         f'fill="{PALETTE[index % len(PALETTE)]}"/>')
            parts.append(f'<text x="{x + 14}" y="{_TOP + 7}" font-size="11">{escape(name)}</text>')

    for row_index, (label, values) in enumerate(rows):
        y_row = top + row_index * _ROW_HEIGHT
        parts.append(f'<text x="{x0 - 6}" y="{y_row + _ROW_HEIGHT / 2 + 4:.1f}" '
                     f'text-anchor="end" font-size="12">{escape(label)}</text>')
        for index, (value, interval) in enumerate(values):
            y = y_row + 3 + index * bar_height
            parts += _bar(x0, y, bar_height - 1, value, interval, PALETTE[index % len(PALETTE)],
                          f"{label} {series_names[index]}".strip(), empty_label)
    parts.append("</svg>")
    return "\n".join(parts)


def _bar(x0: int, y: float, height: int, value: float | None, interval: Sequence[float] | None,
         colour: str, name: str, empty_label: str) -> list[str]:
    if value is None:
        if not empty_label:
            return []
        return [f'<text x="{x0 + 4}" y="{y + height - 1:.1f}" font-size="11" '
                f'fill="#777777">{escape(empty_label)}</text>']
    length = _PLOT_WIDTH * value
    parts = [f'<rect class="bar" x="{x0}" y="{y:.1f}" width="{length:.1f}" height="{height}" '
             f'fill="{colour}"><title>{escape(name)}: {_percent(value)}</title></rect>']
    label_x = x0 + length + 4
    if interval is not None:
        low, high = (x0 + _PLOT_WIDTH * bound for bound in interval)
        middle = y + height / 2
        parts.append(f'<line class="ci" x1="{low:.1f}" y1="{middle:.1f}" x2="{high:.1f}" '
                     f'y2="{middle:.1f}" stroke="#222222" stroke-width="1.2"/>')
        label_x = max(label_x, high + 4)
    parts.append(f'<text x="{label_x:.1f}" y="{y + height - 1:.1f}" '
                 f'font-size="10">{_percent(value)}</text>')
    return parts
