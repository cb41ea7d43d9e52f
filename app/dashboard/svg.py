"""Charts drawn as inline SVG on the server; pure: plain values in, escaped markup out.

Colours and fonts come from the page's stylesheet through class names (``series-human``,
``series-machine``, ``bar``, ``axis``, ``label``), so a chart needs no inline style. Every label
is escaped, and every bar carries a <title> with its exact numbers (a tooltip without JS).
"""

import math

from markupsafe import Markup, escape

SERIES = (("human", "Human opens"), ("machine", "Machine opens"))


def nice_ceiling(value: float) -> float:
    """Return a round number (1, 2 or 5 times a power of ten) at or above value; 1 for 0."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def compact(value: float) -> str:
    """Return a count in a few characters for an axis: 950, 1.5k, 12k, 3.4M."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if value >= size:
            shown = f"{value / size:.1f}".removesuffix(".0")
            return shown + suffix if value < 10 * size else f"{value / size:.0f}{suffix}"
    return f"{value:.0f}"


def _text(x: float, y: float, content, css: str = "label", anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def _rect(x: float, y: float, width: float, height: float, css: str, title: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{max(height, 0):.1f}" '
        f'class="{css}"><title>{escape(title)}</title></rect>'
    )


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" class="chart w{width}">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _stacked_panel(points: list[dict], x0: float, width: float, title: str, every: int) -> list:
    """Draw stacked human/machine columns for points in a panel starting at x0."""
    top, bottom, gutter = 26, 150, 40
    peak = nice_ceiling(max((p["human"] + p["machine"] for p in points), default=0))
    body = [_text(x0, 14, title, "label title")]
    left = x0 + gutter
    for fraction in (0, 0.5, 1):
        y = bottom - (bottom - top) * fraction
        body.append(
            f'<line x1="{left:.1f}" x2="{x0 + width:.1f}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        body.append(_text(left - 6, y + 4, compact(peak * fraction), "label axis", "end"))
    step = (width - gutter) / max(len(points), 1)
    for index, point in enumerate(points):
        x = left + index * step
        y = bottom
        tip = f"{point['label']}: {point['human']:,} human, {point['machine']:,} machine opens"
        for key, _ in SERIES:
            if point[key]:
                height = (bottom - top) * point[key] / peak
                y -= height
                body.append(_rect(x + step * 0.1, y, step * 0.8, height, f"series-{key}", tip))
        if index % every == 0:
            body.append(_text(x + step / 2, bottom + 14, point["label"], "label axis", "middle"))
    return body


def opens_chart(hours: list[dict], days: list[dict]) -> Markup:
    """Return the opens-over-time chart: an hourly panel, then a daily one when there are days.

    Each point is {"label", "human", "machine"}; columns stack human under machine opens.
    """
    width, height = 760, 190
    hourly_width = width * (0.62 if days else 1.0) - 10
    body = _stacked_panel(hours, 0, hourly_width, "Opens per hour, first 72 hours", 12)
    if days:
        x0 = hourly_width + 20
        every = max(1, math.ceil(len(days) / 6))
        body += _stacked_panel(days, x0, width - x0, "Opens per day, after that", every)
    legend_x = 0.0
    for key, name in SERIES:
        body.append(_rect(legend_x, height - 12, 10, 10, f"series-{key}", name))
        body.append(_text(legend_x + 14, height - 3, name))
        legend_x += 130
    return _svg(width, height, "Human and machine opens over time", body)


def histogram(buckets: list[dict], label: str) -> Markup:
    """Return vertical bars for buckets of {"label", "count", "share"}, counts on top."""
    width, height, top, bottom = 760, 170, 20, 140
    peak = max((bucket["count"] for bucket in buckets), default=0) or 1
    step = width / max(len(buckets), 1)
    body = []
    for index, bucket in enumerate(buckets):
        x = index * step
        bar = (bottom - top) * bucket["count"] / peak
        share = f" ({bucket['share']:.1%})" if bucket.get("share") is not None else ""
        tip = f"{bucket['label']}: {bucket['count']:,}{share}"
        body.append(_rect(x + step * 0.12, bottom - bar, step * 0.76, bar, "bar", tip))
        body.append(
            _text(x + step / 2, bottom - bar - 4, f"{bucket['count']:,}", "label", "middle")
        )
        body.append(_text(x + step / 2, bottom + 16, bucket["label"], "label axis", "middle"))
    return _svg(width, height, label, body)


def horizontal_bars(
    rows: list[dict], label: str, max_label: int = 28, empty: str = "No opens yet"
) -> Markup:
    """Return one horizontal bar per row of {"value", "count", "share"}, with count and share."""
    row_height, label_width, number_width, width = 24, 190, 120, 460
    height = max(len(rows), 1) * row_height
    bar_space = width - label_width - number_width
    peak = max((row["count"] for row in rows), default=0) or 1
    body = []
    for index, row in enumerate(rows):
        y = index * row_height
        name = str(row["value"])
        shown = name if len(name) <= max_label else name[: max_label - 1] + "…"
        share = f"{row['share']:.1%}" if row.get("share") is not None else "–"
        bar = bar_space * row["count"] / peak
        body.append(_text(0, y + 16, shown))
        body.append(
            _rect(label_width, y + 5, bar, 14, "bar", f"{name}: {row['count']:,} ({share})")
        )
        body.append(_text(width, y + 16, f"{row['count']:,} · {share}", "label number", "end"))
    if not rows:
        body.append(_text(0, 16, empty, "label muted"))
    return _svg(width, height, label, body)
