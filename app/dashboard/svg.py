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


def nice_step(peak: float, ticks: int = 4) -> int:
    """Return a whole, round step (1, 2 or 5 times a power of ten) giving at most ``ticks``."""
    step = 1
    while peak > step * ticks:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if peak <= step * ticks:
                break
    return step


def y_axis(peak: int, left: float, right: float, top: float, bottom: float, title: str) -> tuple:
    """Return the gridlines, tick labels and title of a count axis, and its top value."""
    step = nice_step(peak)
    highest = step * max(1, math.ceil(peak / step)) if peak else 0
    body = []
    value = 0
    while value <= highest:
        y = bottom - (bottom - top) * (value / highest if highest else 0)
        body.append(
            f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        body.append(_text(left - 6, y + 4, compact(value), "label axis", "end"))
        value += step
    middle = (top + bottom) / 2
    body.append(
        f'<text x="12" y="{middle:.1f}" class="label axis-title" text-anchor="middle" '
        f'transform="rotate(-90 12 {middle:.1f})">{escape(title)}</text>'
    )
    return body, highest or 1


def time_chart(points: list[dict], by: str, zone_name: str) -> Markup:
    """Return stacked human/machine columns per hour or day, ticks on round clock times.

    Points come from charts.label_points: {"label", "tick", "under", "human", "machine"}.
    """
    width, height, top, bottom, left, right = 760, 250, 14, 170, 58, 750
    peak = max((p["human"] + p["machine"] for p in points), default=0)
    body, highest = y_axis(peak, left, right, top, bottom, "Opens")
    step = (right - left) / max(len(points), 1)
    for index, point in enumerate(points):
        x = left + index * step
        y = bottom
        tip = f"{point['label']}: {point['human']:,} human, {point['machine']:,} machine opens"
        for key, _ in SERIES:
            if point[key]:
                bar = (bottom - top) * point[key] / highest
                y -= bar
                body.append(_rect(x + step * 0.1, y, step * 0.8, bar, f"series-{key}", tip))
        # Ticks stay inside the plot, so the last one is never cut.
        middle = min(max(x + step / 2, left + 18), right - 18)
        if point["tick"]:
            body.append(
                f'<line x1="{middle:.1f}" x2="{middle:.1f}" y1="{bottom:.1f}" '
                f'y2="{bottom + 4:.1f}" class="grid"/>'
            )
            body.append(_text(middle, bottom + 16, point["tick"], "label axis", "middle"))
        if point["under"]:
            body.append(_text(middle, bottom + 30, point["under"], "label axis", "middle"))
    if not peak:
        body.append(
            _text((left + right) / 2, (top + bottom) / 2, "No opens yet", "label muted", "middle")
        )
    noun = "Hour" if by == "hour" else "Day"
    body.append(
        _text(
            (left + right) / 2, bottom + 50, f"{noun} ({zone_name})", "label axis-title", "middle"
        )
    )
    legend_x = left
    for key, name in SERIES:
        body.append(_rect(legend_x, height - 12, 10, 10, f"series-{key}", name))
        body.append(_text(legend_x + 14, height - 3, name))
        legend_x += 130
    human = sum(p["human"] for p in points)
    machine = sum(p["machine"] for p in points)
    label = f"Opens per {by} ({zone_name}): {human:,} human and {machine:,} machine opens" + (
        f", at most {peak:,} in one {by}" if peak else ""
    )
    return _svg(width, height, label, body)


def histogram(buckets: list[dict], label: str, x_title: str = "", y_title: str = "") -> Markup:
    """Return vertical bars for buckets of {"label", "count", "share"}, counts on top."""
    width, height, top, bottom, left = 760, 200, 22, 140, 28 if y_title else 0
    peak = max((bucket["count"] for bucket in buckets), default=0)
    step = (width - left) / max(len(buckets), 1)
    body = []
    for index, bucket in enumerate(buckets):
        x = left + index * step
        bar = (bottom - top) * bucket["count"] / (peak or 1)
        share = f" ({bucket['share']:.1%})" if bucket.get("share") is not None else ""
        tip = f"{bucket['label']}: {bucket['count']:,}{share}"
        body.append(_rect(x + step * 0.12, bottom - bar, step * 0.76, bar, "bar", tip))
        body.append(
            _text(x + step / 2, bottom - bar - 4, f"{bucket['count']:,}", "label", "middle")
        )
        body.append(_text(x + step / 2, bottom + 16, bucket["label"], "label axis", "middle"))
    body.append(f'<line x1="{left}" x2="{width}" y1="{bottom}" y2="{bottom}" class="grid"/>')
    if x_title:
        body.append(_text((left + width) / 2, bottom + 40, x_title, "label axis-title", "middle"))
    if y_title:
        middle = (top + bottom) / 2
        body.append(
            f'<text x="12" y="{middle:.1f}" class="label axis-title" text-anchor="middle" '
            f'transform="rotate(-90 12 {middle:.1f})">{escape(y_title)}</text>'
        )
    if not peak:
        body.append(_text((left + width) / 2, 70, "No human opens yet", "label muted", "middle"))
    total = sum(bucket["count"] for bucket in buckets)
    described = "; ".join(f"{b['label']}: {b['count']:,}" for b in buckets if b["count"])
    return _svg(
        width,
        height,
        f"{label}: {total:,} messages" + (f" ({described})" if described else ""),
        body,
    )


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


def rate_columns(points: list[dict], label: str, max_label: int = 8) -> Markup:
    """Return one column per {"label", "rate"} (0-1, or None), its percentage on top."""
    width, height, top, bottom, left = 760, 190, 22, 140, 40
    step = (width - left) / max(len(points), 1)
    body = []
    for fraction in (0, 0.5, 1):
        y = bottom - (bottom - top) * fraction
        body.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        body.append(_text(left - 6, y + 4, f"{fraction:.0%}", "label axis", "end"))
    for index, point in enumerate(points):
        x = left + index * step
        rate = point["rate"]
        shown = "–" if rate is None else f"{rate:.1%}"
        bar = (bottom - top) * (rate or 0)
        body.append(
            _rect(
                x + step * 0.15, bottom - bar, step * 0.7, bar, "bar", f"{point['label']}: {shown}"
            )
        )
        body.append(_text(x + step / 2, bottom - bar - 4, shown, "label", "middle"))
        name = (
            point["label"]
            if len(point["label"]) <= max_label
            else point["label"][: max_label - 1] + "…"
        )
        body.append(_text(x + step / 2, bottom + 16, name, "label axis", "middle"))
    if not points:
        body.append(_text((left + width) / 2, 80, "No campaign sent yet", "label muted", "middle"))
    described = "; ".join(
        f"{p['label']}: {'–' if p['rate'] is None else format(p['rate'], '.1%')}" for p in points
    )
    return _svg(width, height, f"{label}" + (f": {described}" if described else ""), body)
