"""The stored form of a time: UTC, milliseconds cut (never rounded up), a trailing Z."""

import random
from datetime import UTC, datetime

from app.core.times import from_iso, hour_of, to_iso


def test_to_iso_cuts_to_milliseconds():
    assert to_iso(0) == "1970-01-01T00:00:00.000Z"
    assert to_iso(1_700_000_000.9999) == "2023-11-14T22:13:20.999Z"
    assert to_iso(1_700_000_000.0005) == "2023-11-14T22:13:20.000Z"
    assert hour_of(to_iso(1_700_000_000.5)) == "2023-11-14T22:00:00Z"


def test_to_iso_is_strftime_of_the_same_moment():
    rng = random.Random(7)
    for timestamp in [rng.uniform(0, 4e9) for _ in range(20_000)]:
        moment = datetime.fromtimestamp(timestamp, UTC)
        expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        assert to_iso(timestamp) == expected
        assert abs(from_iso(expected) - timestamp) < 0.001


def test_to_iso_rounds_like_datetime_at_every_edge():
    # to_iso keeps the text of whole seconds and rounds the fraction itself: the same text as
    # datetime's, also where the microsecond rounding carries into the next second.
    def by_datetime(timestamp: float) -> str:
        return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"

    rng = random.Random(11)
    edges = (0.0, 0.5e-6, 0.0004995, 0.0005, 0.999, 0.9995, 0.9999994999, 0.9999995, 0.9999996)
    for _ in range(5_000):
        second = rng.randrange(0, 4_000_000_000)
        for timestamp in (second + rng.random(), *(second + edge for edge in edges)):
            assert to_iso(timestamp) == by_datetime(timestamp), timestamp
    for timestamp in (0, 1, 1_700_000_000, -0.0, -1e-7, -0.5e-6, -1.25, -86_400.9999995):
        assert to_iso(timestamp) == by_datetime(timestamp), timestamp
