"""Turn spooled pixel fetches into classified open events and store them."""

from .classify import Fetch, classify
from .networks import Networks
from .times import from_iso, to_iso


def fetch_headers(x_requested_with: str | None, purpose: str | None) -> dict[str, str]:
    """Return the selected request headers the classifier reads."""
    headers = {}
    if x_requested_with:
        headers["x-requested-with"] = x_requested_with
    if purpose:
        headers["sec-purpose"] = purpose
    return headers


def record_fetches(
    store, lines: list[list], networks: Networks | None, scanner_window_seconds: float
) -> int:
    """Classify spooled fetches and store them as open events; return how many were new."""
    injected = {
        message_id: from_iso(at)
        for message_id, at in store.injected_times(line[1] for line in lines).items()
    }
    events = []
    for key, message_id, timestamp, ip, user_agent, method, x_requested_with, purpose in lines:
        if message_id not in injected:
            continue
        since = round(timestamp - injected[message_id], 3)
        verdict = classify(
            Fetch(
                user_agent=user_agent,
                ip=ip,
                method=method,
                headers=fetch_headers(x_requested_with, purpose),
                seconds_since_send=since,
            ),
            networks,
            scanner_window_seconds,
        )
        events.append(
            {
                "event_key": key,
                "message_id": message_id,
                "at": to_iso(timestamp),
                "ip": ip,
                "user_agent": user_agent,
                "method": method,
                "x_requested_with": x_requested_with,
                "sec_purpose": purpose,
                "seconds_since_send": since,
                **verdict.as_dict(),
            }
        )
    return store.record_opens(events)
