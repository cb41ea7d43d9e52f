"""Shape stored counts into the dashboard's time series and histograms; pure."""

from app.core.times import from_iso, hour_of

HOURLY_SPAN = 72
# Upper bounds (seconds after sending) of the time-to-first-open buckets, with their labels.
FIRST_OPEN_BUCKETS = (
    (5 * 60, "< 5 min"),
    (15 * 60, "5–15 min"),
    (3600, "15–60 min"),
    (3 * 3600, "1–3 h"),
    (6 * 3600, "3–6 h"),
    (12 * 3600, "6–12 h"),
    (24 * 3600, "12–24 h"),
    (48 * 3600, "1–2 days"),
    (7 * 24 * 3600, "2–7 days"),
    (None, "> 7 days"),
)


def first_open_bucket(injected_at: str, first_open_at: str) -> int:
    """Return the index in FIRST_OPEN_BUCKETS of a message's time from injection to first open."""
    elapsed = from_iso(first_open_at) - from_iso(injected_at)
    for index, (bound, _) in enumerate(FIRST_OPEN_BUCKETS):
        if bound is not None and elapsed < bound:
            return index
    return len(FIRST_OPEN_BUCKETS) - 1


def first_open_cases(elapsed: str) -> str:
    """Return a SQL CASE giving the bucket index of an ``elapsed`` seconds expression."""
    cases = " ".join(
        f"WHEN {elapsed} < {float(bound)} THEN {index}"
        for index, (bound, _) in enumerate(FIRST_OPEN_BUCKETS)
        if bound is not None
    )
    return f"CASE {cases} ELSE {len(FIRST_OPEN_BUCKETS) - 1} END"


def opens_over_time(hourly: list[dict], first_injected_at: str | None) -> dict:
    """Return hourly points for the first 72 hours after sending, then daily points.

    ``hourly`` holds rows of {"hour", "human", "machine"}; the result is {"hours": [...],
    "days": [...]}, each point {"label", "human", "machine"}. Hours with no opens are filled
    in with zeros; "day 4" holds the hours 72 to 95 after sending.
    """
    if not first_injected_at:
        return {"hours": [], "days": []}
    start = from_iso(hour_of(first_injected_at))
    hours = [[0, 0] for _ in range(HOURLY_SPAN)]
    days: dict[int, list[int]] = {}
    last_hour = 0
    for row in hourly:
        offset = int((from_iso(row["hour"]) - start) // 3600)
        if offset < 0:
            continue
        last_hour = max(last_hour, offset)
        bucket = hours[offset] if offset < HOURLY_SPAN else days.setdefault(offset // 24, [0, 0])
        bucket[0] += row["human"]
        bucket[1] += row["machine"]
    shown_hours = min(HOURLY_SPAN, max(last_hour + 1, 24))
    day_points = []
    for day in range(HOURLY_SPAN // 24, last_hour // 24 + 1):
        human, machine = days.get(day, (0, 0))
        day_points.append({"label": f"day {day + 1}", "human": human, "machine": machine})
    return {
        "hours": [
            {"label": f"{hour} h", "human": human, "machine": machine}
            for hour, (human, machine) in enumerate(hours[:shown_hours])
        ],
        "days": day_points,
    }


def first_open_histogram(counts: dict[int, int]) -> list[dict]:
    """Return every time-to-first-open bucket, in order, with its count and share.

    ``counts`` maps a bucket's index in FIRST_OPEN_BUCKETS to how many messages fell in it.
    """
    total = sum(counts.values())
    return [
        {
            "label": label,
            "count": counts.get(index, 0),
            "share": counts.get(index, 0) / total if total else None,
        }
        for index, (_, label) in enumerate(FIRST_OPEN_BUCKETS)
    ]
