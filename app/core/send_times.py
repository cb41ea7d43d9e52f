"""Send times learned from people: the hour of the week each recipient opens and clicks; pure.

Only human opens and clicks teach us. Apple's proxy fetches every message near delivery,
whether or not anyone reads it, and with no fixed delay (a burst at delivery, stragglers hours
later: research/machine_opens.md), so its fetches are left out rather than shifted; scanners,
prefetchers and bots are machines. The mail proxies judged human fetch as the person views the
message, so their known delay is none and their times are taken as they are.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.core.times import from_iso

# Below this many observations a recipient gets the population's pattern instead.
MIN_OBSERVATIONS = 3
# How far each view-time proxy's fetch lags the person's view, in seconds: none of them lags.
PROXY_DELAY_SECONDS = {
    "gmail_proxy": 0,
    "yahoo_proxy": 0,
    "outlook_proxy": 0,
    "fastmail_proxy": 0,
    "hey_proxy": 0,
}
# Sources that never tell when a person read the message, even when judged otherwise.
NEVER_LEARNED = {"apple_mpp", "gmail_prefetch", "scanner", "bot", "prefetch"}
# The weight of the recipient's any-day hours next to the asked weekday's own hours.
ANY_DAY_WEIGHT = 0.3
# When nobody anywhere has opened anything yet.
FALLBACK_HOUR = 10
MAX_RECIPIENTS = 10_000


def observation_time(at: str, verdict: str, source: str) -> float | None:
    """Return when a person read a message, from one fetch or click, or None if it cannot say."""
    if verdict != "human" or source in NEVER_LEARNED:
        return None
    return from_iso(at) - PROXY_DELAY_SECONDS.get(source, 0)


@dataclass
class Profile:
    """Observations by hour of the week (Monday 0h = 0, Sunday 23h = 167)."""

    week: Counter
    observations: int
    clicks: int = 0

    def score(self, weekday: int, hour: int) -> float:
        """Return how much this profile favours an hour of a weekday (neighbours count half)."""
        total = 0.0
        for step, weight in ((-1, 0.5), (0, 1.0), (1, 0.5)):
            h = (hour + step) % 24
            any_day = sum(self.week[d * 24 + h] for d in range(7))
            total += weight * (self.week[weekday * 24 + h] + ANY_DAY_WEIGHT * any_day)
        return total

    def best_hour(self, weekday: int) -> int | None:
        """Return the best hour of a weekday to send, or None with no observations."""
        if not self.observations:
            return None
        return max(range(24), key=lambda hour: (self.score(weekday, hour), -hour))


def hour_of_week(timestamp: float) -> int:
    """Return the UTC hour of the week of a Unix time (Monday 0h = 0)."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.weekday() * 24 + moment.hour


def learn(observations: list[tuple[str, str, str]]) -> Profile:
    """Return a profile from (time, verdict, source) rows; a source of "click" marks a click."""
    week: Counter = Counter()
    count = clicks = 0
    for at, verdict, source in observations:
        moment = observation_time(at, verdict, source)
        if moment is None:
            continue
        week[hour_of_week(moment)] += 1
        count += 1
        clicks += source == "click"
    return Profile(week, count, clicks)


def population(hours: list[tuple[str, int]]) -> Profile:
    """Return the population's profile from (hour, human opens) counts across campaigns."""
    week: Counter = Counter()
    for hour, count in hours:
        week[hour_of_week(from_iso(hour))] += count
    return Profile(week, sum(week.values()))


def suggest(profile: Profile, crowd: Profile, day: date) -> dict:
    """Return the suggested UTC send time on a day, with its reason and observations."""
    weekday = day.weekday()
    if profile.observations >= MIN_OBSERVATIONS:
        hour, source = profile.best_hour(weekday), "learned"
        opens = profile.observations - profile.clicks
        parts = [f"{opens} open{'s' * (opens != 1)}"] if opens else []
        if profile.clicks:
            parts.append(f"{profile.clicks} click{'s' * (profile.clicks != 1)}")
        reason = "learned from " + " and ".join(parts)
    elif crowd.observations:
        hour, source = crowd.best_hour(weekday), "population"
        reason = (
            f"population default: {profile.observations} observation"
            f"{'s' * (profile.observations != 1)} of this recipient, below {MIN_OBSERVATIONS}"
        )
    else:
        hour, source = FALLBACK_HOUR, "fallback"
        reason = f"no human opens recorded yet: {FALLBACK_HOUR}:00 UTC"
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return {
        "suggested_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hour_utc": hour,
        "source": source,
        "observations": profile.observations,
        "reason": reason,
    }


def parse_day(value, name: str = "day") -> date:
    """Return a YYYY-MM-DD day (default: tomorrow, UTC), or raise FieldError."""
    from app.core.fields import FieldError

    if value is None:
        return (datetime.now(UTC) + timedelta(days=1)).date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise FieldError(name, "must be a day as YYYY-MM-DD")
