"""Timestamps as Opentrack stores them: UTC, ISO 8601, millisecond precision, a trailing Z."""

import time
from datetime import UTC, datetime


def to_iso(timestamp: float) -> str:
    """Return the stored text form of a Unix timestamp."""
    # isoformat cuts to milliseconds as the stored form does, and is quicker than strftime.
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def from_iso(text: str) -> float:
    """Return the Unix timestamp of a stored time."""
    return datetime.fromisoformat(text).timestamp()


def now_iso() -> str:
    """Return the current time in stored form."""
    return to_iso(time.time())


def hour_of(text: str) -> str:
    """Return the start of the UTC hour a stored time falls in."""
    return text[:13] + ":00:00Z"
