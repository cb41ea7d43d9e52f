"""How new open events move message states and campaign counters; pure.

The store reads the messages a batch of events belongs to, hands them here with the new events,
and writes back what this returns, all in one transaction.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from app.core.stats import message_state
from app.core.timeline import first_open_bucket
from app.core.times import hour_of

# The dimensions a campaign's opens are broken down by.
DIMENSIONS = ("client", "os", "device", "country", "source")
# The campaign counters of open_signals, kept for the estimated open rate (core.estimate).
SIGNALS = ("hidden_opened", "visible_opened_clicked")


def campaign_delta() -> dict:
    """Return a campaign's counter changes before any event is counted."""
    return {
        "fetched": 0,
        "opened": 0,
        "unknown": 0,
        "total_opens": 0,
        "human_opens": 0,
        "machine_opens": 0,
        # Opened messages with an Apple MPP fetch, and those without one a person clicked.
        "hidden_opened": 0,
        "visible_opened_clicked": 0,
        "first": None,
        "last": None,
    }


@dataclass
class Tally:
    """What a batch of new open events changes, ready to be written."""

    # Campaign id -> counter changes (campaign_delta's keys).
    campaigns: dict[str, dict] = field(default_factory=lambda: defaultdict(campaign_delta))
    # (campaign, hour) -> [human, machine] opens.
    hours: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    # (campaign, dimension, value) -> [opens, human opens, machine opens, openers].
    parts: dict[tuple[str, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    # (campaign, time-to-first-open bucket) -> change in messages (core.timeline's buckets).
    first_opens: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    # Ids of the messages whose rows changed.
    touched: set[str] = field(default_factory=set)
    # Per event, in order: 1 when it is its message's first human open.
    first_human: list[int] = field(default_factory=list)


def tally(events: list[dict], messages: dict[str, dict]) -> Tally:
    """Count new events (each naming a message of ``messages``), in order.

    The message rows are updated in place (counts, times, state); the returned Tally holds the
    campaign, hour and breakdown changes.
    """
    result = Tally()
    campaigns, hours, parts = result.campaigns, result.hours, result.parts
    touched, first_humans = result.touched, result.first_human
    for event in events:
        message = messages[event["message_id"]]
        campaign_id = message["campaign_id"]
        first_open_before = message["first_open_at"]
        first_human = count_event(message, event, campaigns[campaign_id])
        if message["first_open_at"] != first_open_before:
            # An earlier human open arriving late moves the message to another bucket.
            injected = message["injected_at"]
            if first_open_before:
                result.first_opens[
                    (campaign_id, first_open_bucket(injected, first_open_before))
                ] -= 1
            result.first_opens[
                (campaign_id, first_open_bucket(injected, message["first_open_at"]))
            ] += 1
        touched.add(message["id"])
        first_humans.append(first_human)
        human = event["verdict"] == "human"
        hours[(campaign_id, hour_of(event["at"]))][0 if human else 1] += 1
        for dimension in DIMENSIONS:
            counts = parts[(campaign_id, dimension, event.get(dimension) or "unknown")]
            counts[0] += 1
            counts[1 if human else 2] += 1
            counts[3] += first_human
    return result


def open_signals(message: dict) -> tuple[int, int]:
    """Return whether a message counts as opened with an Apple MPP fetch, and as opened
    without one but with a human click (SIGNALS' order), each 0 or 1.

    ``message`` needs ``state``, ``mpp_opens`` and ``human_clicks``.
    """
    if message["state"] != "opened":
        return 0, 0
    if message["mpp_opens"] > 0:
        return 1, 0
    return 0, int(message["human_clicks"] > 0)


def count_event(message: dict, event: dict, delta: dict) -> int:
    """Apply one new event to its message row and its campaign's counter changes.

    Returns 1 when the event is the message's first human open, else 0.
    """
    # Stored times are ISO text of one width: the earlier one sorts first. Every event has one.
    at = event["at"]
    old_state = message["state"]
    old_signals = open_signals(message)
    if message["opens"] == 0:
        delta["fetched"] += 1
    message["opens"] += 1
    delta["total_opens"] += 1
    human = event["verdict"] == "human"
    if human:
        message["human_opens"] += 1
        delta["human_opens"] += 1
        if not message["first_open_at"] or at < message["first_open_at"]:
            message["first_open_at"] = at
    else:
        message["machine_opens"] += 1
        delta["machine_opens"] += 1
    if event["source"] == "apple_mpp":
        message["mpp_opens"] += 1
    if not message["first_fetch_at"] or at < message["first_fetch_at"]:
        message["first_fetch_at"] = at
    if message["last_open_at"] is None or at >= message["last_open_at"]:
        message["last_open_at"] = at
        message["last_client"] = event.get("client")
    new_state = message_state(message["human_opens"], message["mpp_opens"])
    if new_state != old_state:
        message["state"] = new_state
        for state, step in ((old_state, -1), (new_state, 1)):
            if state in ("opened", "unknown"):
                delta[state] += step
    new_signals = open_signals(message)
    if new_signals != old_signals:
        for key, before, after in zip(SIGNALS, old_signals, new_signals, strict=True):
            delta[key] += after - before
    if not delta["first"] or at < delta["first"]:
        delta["first"] = at
    if not delta["last"] or at > delta["last"]:
        delta["last"] = at
    return int(human and message["human_opens"] == 1)
