from app.core.timeline import FIRST_OPEN_BUCKETS, first_open_histogram, opens_over_time

SENT = "2025-03-01T10:20:00.000Z"


def hour(text: str, human: int, machine: int = 0) -> dict:
    return {"hour": text, "human": human, "machine": machine}


def test_no_messages_no_series():
    assert opens_over_time([], None) == {"hours": [], "days": []}


def test_a_young_campaign_shows_its_first_day_hour_by_hour():
    series = opens_over_time([hour("2025-03-01T10:00:00Z", 3, 1)], SENT)
    assert len(series["hours"]) == 24
    assert series["hours"][0] == {"label": "0 h", "human": 3, "machine": 1}
    assert all(point["human"] == 0 for point in series["hours"][1:])
    assert series["days"] == []


def test_hours_up_to_72_then_days_summed_from_hour_72():
    rows = [
        hour("2025-03-01T10:00:00Z", 5),
        hour("2025-03-02T12:00:00Z", 2, 2),  # hour 26
        hour("2025-03-04T09:00:00Z", 1),  # hour 71: still hourly
        hour("2025-03-04T10:00:00Z", 4, 1),  # hour 72: day 4
        hour("2025-03-05T09:00:00Z", 6),  # hour 95: day 4
        hour("2025-03-07T10:00:00Z", 0, 7),  # hour 144: day 7
    ]
    series = opens_over_time(rows, SENT)
    assert len(series["hours"]) == 72
    assert series["hours"][26] == {"label": "26 h", "human": 2, "machine": 2}
    assert series["hours"][71]["human"] == 1
    assert series["days"] == [
        {"label": "day 4", "human": 10, "machine": 1},
        {"label": "day 5", "human": 0, "machine": 0},
        {"label": "day 6", "human": 0, "machine": 0},
        {"label": "day 7", "human": 0, "machine": 7},
    ]
    hourly_total = sum(p["human"] + p["machine"] for p in series["hours"])
    daily_total = sum(p["human"] + p["machine"] for p in series["days"])
    assert hourly_total + daily_total == sum(r["human"] + r["machine"] for r in rows)


def test_first_open_histogram_lists_every_bucket_with_shares():
    histogram = first_open_histogram({0: 1, 3: 3})
    assert [bucket["label"] for bucket in histogram] == [label for _, label in FIRST_OPEN_BUCKETS]
    assert histogram[0] == {"label": "< 5 min", "count": 1, "share": 0.25}
    assert histogram[3]["count"] == 3 and histogram[3]["share"] == 0.75
    assert histogram[1]["count"] == 0
    assert first_open_histogram({})[0]["share"] is None
