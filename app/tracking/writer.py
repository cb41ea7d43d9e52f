"""The writer: turn spooled fetches and clicks into judged, stored events, a batch at a time.

The recorder hands each batch of spool lines to ``Writer.store_batch``: pixel fetches are
classified and stored as open events, clicks are judged for now and stored, and clicks old
enough that no burst they belong to can still grow are settled.
"""

import time
from collections.abc import Callable
from functools import lru_cache

from app.core.times import from_iso, to_iso
from app.rules import clicks as click_rules
from app.rules.bursts import BURST_SECONDS, BurstTracker
from app.rules.classify import Fetch, classify, fetch_headers
from app.rules.networks import Networks
from app.rules.storage import StoragePolicy, truncate_ip
from app.store import Store
from app.tracking.spool import split_lines

DEFAULT_POLICY = StoragePolicy()
NOWHERE: frozenset[str] = frozenset()
# Injection times as Unix times, remembered: a campaign's messages share a few injection times
# (one per batch sent), parsed again for every batch of fetches otherwise.
injected_seconds = lru_cache(maxsize=16384)(from_iso)


class Writer:
    """Store batches of spool lines with the rules and settings of one process."""

    def __init__(
        self,
        store: Store,
        networks: Callable[[], Networks | None],
        scanner_window_seconds: Callable[[], float],
        policy: StoragePolicy = DEFAULT_POLICY,
    ):
        self.store = store
        # Both are asked once per batch: network lists are reloaded when a file of them
        # changes, and the window follows the app's settings.
        self.networks = networks
        self.window = scanner_window_seconds
        self.policy = policy
        self.bursts = BurstTracker()

    def store_batch(self, lines: list[list]) -> None:
        """Classify and store a batch of spool lines: pixel fetches, then clicks."""
        networks, window = self.networks(), self.window()
        fetches, clicks = split_lines(lines)
        record_fetches(self.store, fetches, networks, window, self.bursts, self.policy)
        record_clicks(self.store, clicks, networks, window, self.policy)

    def store_counts(self, counts: dict[str, int]) -> None:
        """Add counted-only requests (bad tokens, errors) to the named counters."""
        for name, amount in counts.items():
            self.store.add_metric(name, amount)


def record_fetches(
    store: Store,
    lines: list[list],
    networks: Networks | None,
    scanner_window_seconds: float,
    bursts: BurstTracker | None = None,
    policy: StoragePolicy = DEFAULT_POLICY,
) -> int:
    """Classify spooled pixel fetches and store them as open events; return how many were new.

    A fetch of a message we do not know (or no longer track) is dropped here. With a burst
    tracker, the messages each network fetched through other processes and hosts in the burst
    window count towards its bursts, and this batch's fetches are shared with them in turn.
    """
    injected = {
        message_id: injected_seconds(at)
        for message_id, at in store.injected_times(line[1] for line in lines).items()
    }
    lines = [line for line in lines if line[1] in injected]
    # This process's own view of each fetch's network first: only a network not in a burst on
    # that alone needs what other processes and hosts saw (one query for all of them).
    nets = [truncate_ip(line[3]) for line in lines] if bursts else [None] * len(lines)
    noted = [None] * len(lines)
    if bursts:
        note = bursts.note_network
        noted = [note(net, line[1], line[2]) for net, line in zip(nets, lines, strict=True)]
    fetched = [
        (net, line[1], line[2]) for net, line in zip(nets, lines, strict=True) if net is not None
    ]
    asked = {net for net, note in zip(nets, noted, strict=True) if isinstance(note, frozenset)}
    elsewhere = shared_fetches(store, asked, min((at for _, _, at in fetched), default=0.0))
    events = []
    for n, line in enumerate(lines):
        key, message_id, timestamp, ip, user_agent, method, x_requested_with, purpose = line[:8]
        extras = line[8] if len(line) > 8 else {}
        since = round(timestamp - injected[message_id], 3)
        burst = False
        if bursts:
            burst = bursts.joined(noted[n], elsewhere.get(nets[n], NOWHERE))
        fetch = Fetch(
            user_agent=user_agent,
            ip=ip,
            method=method,
            headers=fetch_headers(x_requested_with, purpose),
            seconds_since_send=since,
            burst=burst,
        )
        event = {
            "event_key": key,
            "message_id": message_id,
            "at": to_iso(timestamp),
            "ip": ip,
            "user_agent": user_agent,
            "method": method,
            "x_requested_with": x_requested_with,
            "sec_purpose": purpose,
            "seconds_since_send": since,
            **classify(fetch, networks, scanner_window_seconds).as_dict(),
        }
        events.append(policy.apply(event, private=bool(extras.get("private"))))
    # One transaction, one commit: the events with their counters, and the fetches shared.
    with store.atomic():
        stored = store.record_opens(events)
        store.note_fetches(fetched)
    return stored


def shared_fetches(store: Store, networks: set[str], earliest: float) -> dict[str, frozenset[str]]:
    """Return the messages these networks fetched anywhere within the burst window of a batch
    whose first fetch was at ``earliest``."""
    if not networks:
        return {}
    return store.recent_fetches(networks, earliest - BURST_SECONDS)


def record_clicks(
    store: Store,
    lines: list[list],
    networks: Networks | None,
    window: float,
    policy: StoragePolicy = DEFAULT_POLICY,
) -> int:
    """Judge spooled clicks for now, store them, and settle those old enough; return stored."""
    stored = 0
    if lines:
        injected = store.injected_times(line[1] for line in lines)
        # The pixel fetches a person's client made of these messages (this batch's too, stored
        # just before): one query per batch, for the click rules' network evidence.
        read = store.person_fetches([line[1] for line in lines if line[1] in injected])
        clicks = []
        for line in lines:
            key, message_id, timestamp, ip, user_agent, method = line[:6]
            if message_id not in injected:
                continue
            since = round(timestamp - injected_seconds(injected[message_id]), 3)
            fetch = Fetch(user_agent=user_agent, ip=ip, method=method, seconds_since_send=since)
            verdict = classify(fetch, networks, window).as_dict()
            at = to_iso(timestamp)
            opened_from = click_rules.opened_before(read.get(message_id, []), at)
            verdict["verdict"], verdict["source"], verdict["reason"] = click_rules.click_verdict(
                verdict, method, since, window, ip, opened_from
            )
            click = {
                "event_key": key,
                "message_id": message_id,
                "link_id": line[8]["click"],
                "at": at,
                "ip": ip,
                "user_agent": user_agent,
                "method": method,
                "x_requested_with": None,
                "sec_purpose": None,
                "seconds_since_send": since,
                **verdict,
            }
            clicks.append(policy.apply(click, private=bool(line[8].get("private"))))
        stored = store.store_clicks(clicks)
    settle(store)
    return stored


def settle(store: Store, now: float | None = None) -> int:
    """Settle every click old enough that no burst it belongs to can still grow; return how
    many."""
    before = to_iso((time.time() if now is None else now) - click_rules.BURST_SECONDS)
    total = 0
    while settled := store.settle_clicks(before, click_rules.settle, click_rules.BURST_SECONDS):
        total += settled
    return total
