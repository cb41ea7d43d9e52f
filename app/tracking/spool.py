"""Spool lines: what the fast paths append for each fetch of a pixel or click.

A line is [key, message id, time, IP, user agent, method, X-Requested-With, purpose] and, when
there are any, a ninth element with extras. The key makes a line stored at most once.
"""

import os
import time

# Longer values are cut: enough for any real user agent, bounded for a hostile one.
MAX_USER_AGENT = 1024
MAX_HEADER = 200


def spool_line(
    environ: dict, message_id: str, method: str, honor_gpc: bool, extras: dict | None = None
) -> list:
    """Return the spool line of one fetch (of a pixel, or of a click with its extras).

    [key, message id, time, IP, user agent, method, X-Requested-With, purpose], and a ninth
    element with extras when there are any: "private" keeps the fetch as a count only (the
    client sent Sec-GPC or DNT and we honour it), "click" names the clicked link.
    """
    purpose = environ.get("HTTP_SEC_PURPOSE") or environ.get("HTTP_PURPOSE")
    now = time.time()
    line = [
        event_key(now),
        message_id,
        now,
        environ.get("REMOTE_ADDR"),
        environ.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT],
        method,
        (environ.get("HTTP_X_REQUESTED_WITH") or "")[:MAX_HEADER] or None,
        (purpose or "")[:MAX_HEADER] or None,
    ]
    extras = dict(extras or {})
    if honor_gpc and "1" in (
        environ.get("HTTP_SEC_GPC", "").strip(),
        environ.get("HTTP_DNT", "").strip(),
    ):
        extras["private"] = 1
    if extras:
        line.append(extras)
    return line


def event_key(now: float) -> str:
    """Return a new line's key: 32 hex digits, the microsecond first and 72 random bits after.

    Unique as a random UUID is, for any number of processes; and keys made later sort later, so
    the store's index of keys grows at its end instead of at a random page for every event.
    """
    return f"{int(now * 1_000_000) & 0xFFFFFFFFFFFFFF:014x}{os.urandom(9).hex()}"


def is_click(line: list) -> bool:
    """Return whether a spool line is a click rather than a pixel fetch."""
    return len(line) > 8 and isinstance(line[8], dict) and "click" in line[8]


def split_lines(lines: list[list]) -> tuple[list[list], list[list]]:
    """Return (pixel fetches, clicks) of a batch of spool lines."""
    fetches, clicks = [], []
    for line in lines:
        (clicks if is_click(line) else fetches).append(line)
    return fetches, clicks
