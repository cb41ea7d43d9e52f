"""Timestamps as Opentrack stores them: UTC, ISO 8601, millisecond precision, a trailing Z."""

import math
import time
from datetime import UTC, datetime

# The text of whole seconds already formatted: the writer formats thousands of fetches a
# second, most of them in the same few seconds.
_SECONDS: dict[float, str] = {}


def to_iso(timestamp: float) -> str:
    """Return the stored text form of a Unix timestamp."""
    # The same text as datetime.fromtimestamp(timestamp, UTC).isoformat(timespec=
    # "milliseconds"), in a third of the time: that rounds the fraction half-even to the
    # microsecond (a carry moves the second), then cuts to the millisecond. Done here the
    # same way, with the whole second's text made by datetime once and kept.
    fraction, whole = math.modf(timestamp)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1.0
    elif micro < 0:
        micro += 1_000_000
        whole -= 1.0
    second = _SECONDS.get(whole)
    if second is None:
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        second = _SECONDS[whole] = datetime.fromtimestamp(whole, UTC).isoformat()[:19]
    return f"{second}.{micro // 1000:03d}Z"


def from_iso(text: str) -> float:
    """Return the Unix timestamp of a stored time."""
    return datetime.fromisoformat(text).timestamp()


def now_iso() -> str:
    """Return the current time in stored form."""
    return to_iso(time.time())


def hour_of(text: str) -> str:
    """Return the start of the UTC hour a stored time falls in."""
    return text[:13] + ":00:00Z"
