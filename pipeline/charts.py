"""Charts as inline SVG, drawn on the server so a report needs no script, font or network to show them.

Each chart is an `<svg class="chart" data-chart=NAME>` whose marks carry their data (`data-label`, `data-value`,
`data-series`): a reader of the page, a person with developer tools or the browser test, finds the numbers
the picture was drawn from without reverse-engineering coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#2f6db5", "#e08a2c", "#3a9d5d", "#c8423b", "#7d5ba6", "#8c6d31", "#d16ba5", "#5f6b7a")
STATE_COLOURS = {"loaded": "#3a9d5d", "duplicate": "#2f6db5", "rejected": "#e08a2c", "failed": "#c8423b",
                 "passed": "#3a9d5d"}
TEXT = 'font-family="system-ui, sans-serif" font-size="12" fill="#333"'
EMPTY = '<p class="empty">nothing in this run</p>'


def colour(series: str, index: int = 0) -> str:
    return STATE_COLOURS.get(series, PALETTE[index % len(PALETTE)])


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(name: str, width: int, height: int, marks: list[str]) -> str:
    return (f'<svg class="chart" data-chart="{_attr(name)}" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(marks)}</svg>')


def bars(name: str, rows: Sequence[tuple[str, int | float]], width: int = 560, label_width: int = 200,
         colours: Sequence[str] | None = None) -> str:
    """Horizontal bars, one per (label, value), in the given order, each value written at the end of its bar."""
    if not rows:
        return EMPTY
    row_height, top = 22, 4
    top_value = max(value for _, value in rows) or 1
    plot = width - label_width - 60
    marks = []
    for index, (label, value) in enumerate(rows):
        y = top + index * row_height
        length = max(1.0, plot * value / top_value) if value else 0.0
        fill = colours[index] if colours else PALETTE[0]
        marks.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" {TEXT}><title>{_attr(label)}</title>'
            f'{_attr(_short(label, 30))}</text>'
            f'<rect class="mark" x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row_height - 6}" '
            f'fill="{fill}" rx="2" data-label="{_attr(label)}" data-value="{value}"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + 15}" {TEXT}>{value:,}</text>')
    height = top * 2 + row_height * len(rows)
    return _svg(name, width, height, marks)


def columns(name: str, rows: Sequence[tuple[str, int]], width: int = 560, height: int = 180) -> str:
    """Vertical columns over an ordered axis (days, runs), with the first, middle and last labels written under
    the axis, and every column's label and value in its tooltip."""
    if not rows:
        return EMPTY
    left, bottom, top = 36, 34, 10
    plot_width, plot_height = width - left - 8, height - bottom - top
    top_value = max(value for _, value in rows) or 1
    step = plot_width / len(rows)
    marks = [f'<line x1="{left}" y1="{top + plot_height}" x2="{width - 8}" y2="{top + plot_height}" stroke="#999"/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" {TEXT}>{top_value:,}</text>',
             f'<text x="{left - 6}" y="{top + plot_height}" text-anchor="end" {TEXT}>0</text>']
    shown = {0, len(rows) // 2, len(rows) - 1}
    for index, (label, value) in enumerate(rows):
        x = left + index * step
        bar_height = plot_height * value / top_value
        marks.append(
            f'<rect class="mark" x="{x + step * 0.1:.1f}" y="{top + plot_height - bar_height:.1f}" '
            f'width="{max(1.0, step * 0.8):.1f}" height="{bar_height:.1f}" fill="{PALETTE[0]}" '
            f'data-label="{_attr(label)}" data-value="{value}"><title>{_attr(label)}: {value:,}</title></rect>')
        if index in shown:
            marks.append(f'<text x="{x + step / 2:.1f}" y="{height - 14}" text-anchor="middle" {TEXT}>'
                         f'{_attr(_short(label, 16))}</text>')
    return _svg(name, width, height, marks)


def stacked_columns(name: str, labels: Sequence[str], series: dict[str, Sequence[int]], width: int = 560,
                    height: int = 200, highlight: str | None = None) -> str:
    """One column per label (a run), stacked by series (states, check results), with a legend; the column named
    `highlight` is outlined."""
    if not labels:
        return EMPTY
    left, bottom, top = 36, 28, 10
    plot_width, plot_height = width - left - 8, height - bottom - top
    totals = [sum(values[index] for values in series.values()) for index in range(len(labels))]
    top_value = max(totals) or 1
    step = plot_width / len(labels)
    marks = [f'<line x1="{left}" y1="{top + plot_height}" x2="{width - 8}" y2="{top + plot_height}" stroke="#999"/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" {TEXT}>{top_value:,}</text>']
    for index, label in enumerate(labels):
        x, base = left + index * step + step * 0.1, float(top + plot_height)
        for number, (serie, values) in enumerate(series.items()):
            part = plot_height * values[index] / top_value
            base -= part
            marks.append(
                f'<rect class="mark" x="{x:.1f}" y="{base:.1f}" width="{max(1.0, step * 0.8):.1f}" '
                f'height="{part:.1f}" fill="{colour(serie, number)}" data-label="{_attr(label)}" '
                f'data-series="{_attr(serie)}" data-value="{values[index]}">'
                f'<title>{_attr(label)} — {_attr(serie)}: {values[index]:,}</title></rect>')
        if label == highlight:
            marks.append(f'<rect x="{x - 2:.1f}" y="{top - 2}" width="{step * 0.8 + 4:.1f}" '
                         f'height="{plot_height + 4}" fill="none" stroke="#333" stroke-dasharray="3 2"/>')
    legend_x = left
    for number, serie in enumerate(series):
        marks.append(f'<rect x="{legend_x}" y="{height - 16}" width="10" height="10" fill="{colour(serie, number)}"/>'
                     f'<text x="{legend_x + 14}" y="{height - 7}" {TEXT}>{_attr(serie)}</text>')
        legend_x += 24 + 7 * len(serie)
    return _svg(name, width, height, marks)
