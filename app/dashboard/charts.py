"""Shape a campaign's hourly counters into chart points on the clock of a chosen time zone; pure.

The store keeps opens per UTC hour. An hour chart shows each of those hours at its local start
time; a day chart adds them up by the local day each hour starts in (exact for zones a whole
number of hours from UTC; in others, such as India's, an hour straddling midnight counts for the
day it starts in).
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.times import from_iso, hour_of

HOURLY_SPAN = 72
MIN_HOURS = 24
BY = ("hour", "day")


def zone(name: str | None) -> ZoneInfo | None:
    """Return the IANA time zone of this name ("Europe/Berlin"), or None when there is none."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local(timestamp: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC).astimezone(tz)


def default_by(hourly: list[dict], first_injected_at: str | None) -> str:
    """Return "hour" when every open came within 72 hours of sending, else "day"."""
    if not first_injected_at or not hourly:
        return "hour"
    start = from_iso(hour_of(first_injected_at))
    last = max(from_iso(row["hour"]) for row in hourly)
    return "hour" if last - start < HOURLY_SPAN * 3600 else "day"


def hour_points(hourly: list[dict], first_injected_at: str | None, tz: ZoneInfo) -> list[dict]:
    """Return a point per hour from the sending hour, 24 to 72 of them, zeros filled in.

    Each point is {"at" (local datetime), "human", "machine"}; later opens are left out (the
    day chart has them).
    """
    if not first_injected_at:
        return []
    start = from_iso(hour_of(first_injected_at))
    counts: dict[int, list[int]] = {}
    for row in hourly:
        offset = int((from_iso(row["hour"]) - start) // 3600)
        if 0 <= offset < HOURLY_SPAN:
            bucket = counts.setdefault(offset, [0, 0])
            bucket[0] += row["human"]
            bucket[1] += row["machine"]
    shown = min(HOURLY_SPAN, max([MIN_HOURS, *(offset + 1 for offset in counts)]))
    return [
        {
            "at": _local(start + offset * 3600, tz),
            "human": counts.get(offset, (0, 0))[0],
            "machine": counts.get(offset, (0, 0))[1],
        }
        for offset in range(shown)
    ]


def day_points(hourly: list[dict], first_injected_at: str | None, tz: ZoneInfo) -> list[dict]:
    """Return a point per local day from the sending day to the last day with opens."""
    if not first_injected_at:
        return []
    first_day = _local(from_iso(first_injected_at), tz).date()
    counts: dict = {}
    for row in hourly:
        day = _local(from_iso(row["hour"]), tz).date()
        bucket = counts.setdefault(day, [0, 0])
        bucket[0] += row["human"]
        bucket[1] += row["machine"]
    last_day = max([first_day, *counts])
    days = []
    day = first_day
    while day <= last_day:
        human, machine = counts.get(day, (0, 0))
        days.append({"at": day, "human": human, "machine": machine})
        day += timedelta(days=1)
    return days


def label_points(points: list[dict], by: str) -> list[dict]:
    """Add each point's axis tick (or None), a second tick line, and a full label for tables.

    Ticks fall on round clock times (every 1, 2, 3, 6, 12 or 24 hours; every 1, 2, 7 or 14
    days), at most 12 of them; the date is written under midnight and under the first tick.
    """
    steps = (1, 2, 3, 6, 12, 24) if by == "hour" else (1, 2, 7, 14, 28, 56)
    step = next((s for s in steps if len(points) / s <= 12), steps[-1])
    labelled = []
    dated = False
    for index, point in enumerate(points):
        at = point["at"]
        day = f"{at.day} {at:%b}"
        if by == "hour":
            full = f"{at:%a} {day} {at:%H:%M}"
            on_tick = at.hour % step == 0 if step > 1 else True
            tick = f"{at:%H:%M}" if on_tick else None
            under = day if on_tick and (not dated or at.hour == 0) else None
        else:
            full = f"{at:%a} {day} {at.year}"
            on_tick = index % step == 0
            tick = day if on_tick else None
            under = (
                str(at.year) if on_tick and (not dated or (at.month, at.day) == (1, 1)) else None
            )
        dated = dated or under is not None
        labelled.append({**point, "tick": tick, "under": under, "label": full})
    return labelled
