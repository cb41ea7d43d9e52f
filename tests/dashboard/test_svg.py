import re
import xml.etree.ElementTree as ET

import pytest

from app.dashboard import svg

XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == SVG + "svg"
    return root


def rects(root: ET.Element, css: str) -> list[ET.Element]:
    return [rect for rect in root.iter(SVG + "rect") if rect.get("class") == css]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 1),
        (0.3, 0.5),
        (1, 1),
        (7, 10),
        (10, 10),
        (11, 20),
        (240, 500),
        (501, 1000),
        (1200, 2000),
    ],
)
def test_nice_ceiling(value, expected):
    assert svg.nice_ceiling(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0"), (950, "950"), (1000, "1k"), (1500, "1.5k"), (12_000, "12k"), (3_400_000, "3.4M")],
)
def test_compact_axis_numbers(value, expected):
    assert svg.compact(value) == expected


def points(counts: list[tuple[int, int]], tick_every: int = 1) -> list[dict]:
    return [
        {
            "label": f"{n} h",
            "tick": f"{n:02d}:00" if n % tick_every == 0 else None,
            "under": None,
            "human": human,
            "machine": machine,
        }
        for n, (human, machine) in enumerate(counts)
    ]


def test_time_chart_stacks_human_under_machine_with_exact_tooltips():
    root = parse(svg.time_chart(points([(h, 2) for h in range(24)]), "hour", "UTC"))
    human = rects(root, "series-human")
    machine = rects(root, "series-machine")
    assert len(human) == 23 + 1  # no bar for hour 0's zero human opens; one legend swatch
    assert len(machine) == 24 + 1
    tallest = max(human[:-1], key=lambda rect: float(rect.get("height")))
    assert tallest.find(SVG + "title").text == "23 h: 23 human, 2 machine opens"
    # Machine sits on top of human: its bottom edge is the human bar's top edge.
    first_human, first_machine = human[4], machine[5]  # both hour 5
    human_top = float(first_human.get("y"))
    machine_bottom = float(first_machine.get("y")) + float(first_machine.get("height"))
    assert machine_bottom == pytest.approx(human_top, abs=0.11)


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [
        (57_000, ["0", "20k", "40k", "60k"]),  # not 100k for a 57k peak
        (5, ["0", "2", "4", "6"]),  # whole numbers only: never a gridline at 2.5 labelled 2
        (3, ["0", "1", "2", "3"]),
        (41_816, ["0", "20k", "40k", "60k"]),
    ],
)
def test_time_chart_y_ticks_are_round_and_distinct(peak, ticks):
    root = parse(svg.time_chart(points([(peak, 0), (1, 0)]), "hour", "UTC"))
    labels = [t.text for t in root.iter(SVG + "text") if t.get("class") == "label axis"]
    assert labels[: len(ticks)] == ticks
    assert labels[len(ticks)] != ticks[-1]  # then the x ticks


def test_empty_time_chart_says_so_with_one_zero_tick():
    root = parse(svg.time_chart(points([(0, 0)] * 24, tick_every=6), "hour", "Europe/Berlin"))
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "No opens yet" in texts and texts.count("0") == 1
    assert "Hour (Europe/Berlin)" in texts and "Opens" in texts
    assert [t for t in texts if t.endswith(":00")] == ["00:00", "06:00", "12:00", "18:00"]


def test_time_chart_describes_its_numbers():
    root = parse(svg.time_chart(points([(3, 1), (2, 0)]), "day", "UTC"))
    assert root.get("aria-label") == (
        "Opens per day (UTC): 5 human and 1 machine opens, at most 4 in one day"
    )


def test_ticks_stay_inside_the_chart():
    root = parse(svg.time_chart(points([(1, 0)] * 3), "day", "UTC"))
    xs = [float(t.get("x")) for t in root.iter(SVG + "text") if t.get("class") == "label axis"]
    assert max(xs) <= 760 - 18 and min(xs) >= 0


def test_bars_are_proportional_to_counts():
    rows = [
        {"value": "Apple Mail", "count": 300, "share": 0.6},
        {"value": "Gmail", "count": 150, "share": 0.3},
    ]
    bars = rects(parse(svg.horizontal_bars(rows, "Mail client")), "bar")
    widths = [float(bar.get("width")) for bar in bars]
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.1)
    assert bars[0].find(SVG + "title").text == "Apple Mail: 300 (60.0%)"


def test_histogram_labels_counts_and_shares():
    buckets = [
        {"label": "< 5 min", "count": 3, "share": 0.75},
        {"label": "> 7 days", "count": 1, "share": 0.25},
    ]
    root = parse(svg.histogram(buckets, "Time to first open"))
    texts = [text.text for text in root.iter(SVG + "text")]
    assert texts == ["3", "< 5 min", "1", "> 7 days"]
    assert root.get("aria-label") == "Time to first open: 4 messages (< 5 min: 3; > 7 days: 1)"
    assert [bar.find(SVG + "title").text for bar in rects(root, "bar")] == [
        "< 5 min: 3 (75.0%)",
        "> 7 days: 1 (25.0%)",
    ]


@pytest.mark.parametrize("hostile", XSS)
def test_labels_are_escaped_text(hostile):
    charts = [
        svg.horizontal_bars([{"value": hostile, "count": 1, "share": 1.0}], hostile, max_label=99),
        svg.histogram([{"label": hostile, "count": 1, "share": None}], hostile),
        svg.time_chart(
            [{"label": hostile, "tick": hostile, "under": None, "human": 1, "machine": 0}],
            "hour",
            hostile,
        ),
    ]
    for chart in charts:
        text = str(chart)
        assert "<script" not in text and "<img" not in text
        root = parse(chart)  # still well-formed XML
        assert hostile in [element.text for element in root.iter() if element.text]


def test_long_labels_are_cut():
    rows = [{"value": "x" * 100, "count": 1, "share": 1.0}]
    root = parse(svg.horizontal_bars(rows, "Mail client", max_label=20))
    label = next(root.iter(SVG + "text")).text
    assert label == "x" * 19 + "…"
    assert re.search("x{100}: 1", str(svg.horizontal_bars(rows, "Mail client", max_label=20)))


def test_empty_charts_render():
    assert "No opens yet" in str(svg.horizontal_bars([], "Country"))
    parse(svg.time_chart([], "hour", "UTC"))
    parse(svg.histogram([], "Time to first open"))
