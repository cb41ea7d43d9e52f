from datetime import date

from app.dashboard import charts

UTC = charts.zone("UTC")
BERLIN = charts.zone("Europe/Berlin")
SENT = "2026-03-28T22:10:00.000Z"  # Berlin's clocks go forward at 01:00 UTC on the 29th


def rows(*hours: tuple[str, int, int]) -> list[dict]:
    return [{"hour": hour, "human": human, "machine": machine} for hour, human, machine in hours]


def test_unknown_zones_are_none():
    assert charts.zone("Mars/Olympus") is None and charts.zone("") is None
    assert charts.zone("../../etc/passwd") is None


def test_hours_start_at_the_sending_hour_on_the_local_clock():
    hourly = rows(("2026-03-28T22:00:00Z", 2, 1), ("2026-03-29T01:00:00Z", 5, 0))
    points = charts.hour_points(hourly, SENT, BERLIN)
    assert len(points) == 24
    assert [p["at"].strftime("%H:%M") for p in points[:5]] == [
        "23:00",
        "00:00",
        "01:00",
        "03:00",
        "04:00",  # the hour skipped by summer time
    ]
    assert (points[0]["human"], points[0]["machine"], points[3]["human"]) == (2, 1, 5)


def test_hours_stop_at_72_and_days_take_the_rest():
    hourly = rows(("2026-03-28T22:00:00Z", 1, 0), ("2026-04-02T09:00:00Z", 4, 0))
    assert len(charts.hour_points(hourly, SENT, UTC)) == 24
    assert charts.default_by(hourly, SENT) == "day"
    days = charts.day_points(hourly, SENT, UTC)
    assert [d["at"] for d in days][0] == date(2026, 3, 28) and len(days) == 6
    assert (days[0]["human"], days[-1]["human"]) == (1, 4)


def test_days_follow_the_local_date():
    hourly = rows(("2026-03-28T23:00:00Z", 3, 0))  # already the 29th in Berlin
    assert [d["human"] for d in charts.day_points(hourly, SENT, BERLIN)] == [0, 3]
    assert [d["human"] for d in charts.day_points(hourly, SENT, UTC)] == [3]


def test_ticks_fall_on_round_clock_times_with_the_date_under_midnight():
    labelled = charts.label_points(charts.hour_points([], SENT, UTC), "hour")
    ticks = [(p["tick"], p["under"]) for p in labelled if p["tick"]]
    assert ticks[:3] == [("22:00", "28 Mar"), ("00:00", "29 Mar"), ("02:00", None)]
    assert len(ticks) == 12 and [t for t, _ in ticks][-1] == "20:00"
    assert labelled[0]["label"] == "Sat 28 Mar 22:00"


def test_day_ticks_are_spaced_to_fit():
    days = charts.day_points(rows(("2026-05-10T00:00:00Z", 1, 0)), SENT, UTC)
    labelled = charts.label_points(days, "day")
    ticks = [p["tick"] for p in labelled if p["tick"]]
    assert 5 <= len(ticks) <= 12 and ticks[0] == "28 Mar" and len(set(ticks)) == len(ticks)
