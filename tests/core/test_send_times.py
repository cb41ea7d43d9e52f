"""Send times learned from people beat a model that learns from every fetch, on a simulated
population with a hidden preferred hour each, Apple MPP users and scanned mailboxes."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from app.core import send_times
from app.core.times import to_iso

START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday


def circular_distance(a: int, b: int) -> int:
    return min((a - b) % 24, (b - a) % 24)


def simulate(seed: int, recipients: int = 600, campaigns: int = 24):
    """Return (true hour, every fetch and click as (time, verdict, source)) per recipient."""
    rng = random.Random(seed)
    people = []
    for _ in range(recipients):
        true_hour = rng.randrange(24)
        mpp = rng.random() < 0.45  # Apple Mail with Privacy Protection on
        scanned = rng.random() < 0.25  # a security gateway fetches every message at delivery
        reader = rng.uniform(0.15, 0.6)  # how often this person reads our mail
        rows = []
        for c in range(campaigns):
            sent = START + timedelta(days=3 * c, hours=rng.choice([8, 13, 17]))
            if scanned:
                rows.append((sent + timedelta(seconds=rng.uniform(2, 40)), "machine", "scanner"))
            if mpp:
                # The proxy fetches at delivery, read or not; a read through it fetches nothing.
                lag = timedelta(minutes=rng.uniform(0, 30))
                rows.append((sent + lag, "machine", "apple_mpp"))
            if rng.random() < reader:
                day = sent.replace(hour=0, minute=0) + timedelta(days=rng.choice([0, 1]))
                read = day + timedelta(hours=true_hour + rng.gauss(0, 0.6))
                if read < sent:
                    read += timedelta(days=1)
                if not mpp:
                    source = rng.choice(["direct", "gmail_proxy", "outlook_proxy"])
                    rows.append((read, "human", source))
                if rng.random() < 0.25:
                    rows.append((read + timedelta(minutes=1), "human", "click"))
        people.append((true_hour, [(to_iso(t.timestamp()), v, s) for t, v, s in rows]))
    return people


def naive_hour(rows, crowd: Counter) -> int:
    """The tracker that learns from every fetch: the hour most fetches came at."""
    hours = Counter(datetime.fromisoformat(at).hour for at, _, _ in rows)
    return (hours or crowd).most_common(1)[0][0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_people_only_suggestions_are_closer_to_the_true_hours(seed):
    people = simulate(seed)
    day = (START + timedelta(days=100)).date()
    observed = [send_times.learn(rows) for _, rows in people]
    crowd_week = sum((p.week for p in observed), Counter())
    crowd = send_times.Profile(crowd_week, sum(crowd_week.values()))
    naive_crowd = Counter(
        datetime.fromisoformat(at).hour for _, rows in people for at, _, _ in rows
    )
    ours = naive = 0
    for (true_hour, rows), profile in zip(people, observed, strict=True):
        suggestion = send_times.suggest(profile, crowd, day)
        ours += circular_distance(suggestion["hour_utc"], true_hour) <= 2
        naive += circular_distance(naive_hour(rows, naive_crowd), true_hour) <= 2
    ours_share, naive_share = ours / len(people), naive / len(people)
    print(f"seed {seed}: within 2 h, people only {ours_share:.3f}, every fetch {naive_share:.3f}")
    assert ours_share >= naive_share + 0.12
    assert ours_share >= 0.7


def test_machine_and_proxy_fetches_teach_nothing():
    rows = [
        ("2026-09-07T08:00:00.000Z", "machine", "apple_mpp"),
        ("2026-09-07T08:00:01.000Z", "machine", "scanner"),
        ("2026-09-07T08:00:02.000Z", "human", "apple_mpp"),
        ("2026-09-07T19:10:00.000Z", "human", "gmail_proxy"),
        ("2026-09-07T19:11:00.000Z", "human", "click"),
    ]
    profile = send_times.learn(rows)
    assert (profile.observations, profile.clicks) == (2, 1)
    assert profile.best_hour(0) == 19


def test_below_the_minimum_the_population_decides():
    crowd = send_times.population([("2026-09-07T06:00:00Z", 40), ("2026-09-08T21:00:00Z", 5)])
    few = send_times.learn([("2026-09-07T19:10:00.000Z", "human", "direct")])
    monday = START.date()
    suggestion = send_times.suggest(few, crowd, monday)
    assert (suggestion["hour_utc"], suggestion["source"]) == (6, "population")
    assert suggestion["suggested_at"] == "2026-09-07T06:00:00Z"
    empty = send_times.suggest(few, send_times.Profile(Counter(), 0), monday)
    assert empty["source"] == "fallback"
