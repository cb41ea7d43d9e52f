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
