"""Turn pixel fetches into classified open events: as they arrive, and again on demand."""

from collections import Counter, defaultdict, deque
from collections.abc import Callable

from app.core.times import from_iso, to_iso
from app.rules.classify import Fetch, Verdict, classify
from app.rules.networks import Networks
from app.rules.storage import StoragePolicy, truncate_ip

# A burst: this many different messages fetched from one network within BURST_SECONDS.
BURST_MESSAGES = 10
BURST_SECONDS = 5.0
DEFAULT_POLICY = StoragePolicy()


def fetch_headers(x_requested_with: str | None, purpose: str | None) -> dict[str, str]:
    """Return the selected request headers the classifier reads."""
    headers = {}
    if x_requested_with:
        headers["x-requested-with"] = x_requested_with
    if purpose:
        headers["sec-purpose"] = purpose
    return headers


class BurstTracker:
    """Notice one network (IPv4 /24, IPv6 /48) fetching many messages' pixels within seconds.

    Each web worker sees only its share of the traffic, so a burst is noticed per process:
    with several workers it takes a little longer to trip, never falsely sooner.
    """

    def __init__(self, messages: int = BURST_MESSAGES, seconds: float = BURST_SECONDS):
        self.messages = messages
        self.seconds = seconds
        # Per network: the recent (time, message) fetches, and how often each message is in them.
        self._recent: dict[str, deque] = defaultdict(deque)
        self._counts: dict[str, Counter] = defaultdict(Counter)

    def is_burst(self, ip: str | None, message_id: str, timestamp: float) -> bool:
        """Record a fetch and return whether its network is in a burst."""
        network = truncate_ip(ip)
        if network is None:
            return False
        recent, counts = self._recent[network], self._counts[network]
        recent.append((timestamp, message_id))
        counts[message_id] += 1
        while recent and recent[0][0] < timestamp - self.seconds:
            _, old = recent.popleft()
            counts[old] -= 1
            if not counts[old]:
                del counts[old]
        if len(self._recent) > 10_000:
            self._forget_idle(timestamp)
        return len(counts) >= self.messages

    def _forget_idle(self, now: float) -> None:
        for network in [n for n, q in self._recent.items() if not q or q[-1][0] < now - 60]:
            del self._recent[network]
            del self._counts[network]


def record_fetches(
    store,
    lines: list[list],
    networks: Networks | None,
    scanner_window_seconds: float,
    bursts: BurstTracker | None = None,
    policy: StoragePolicy = DEFAULT_POLICY,
) -> int:
    """Classify spooled fetches and store them as open events; return how many were new.

    A line is [key, message id, time, ip, user agent, method, x-requested-with, purpose] and
    optionally a dict of extras ("private": only a count may be kept).
    """
    injected = {
        message_id: from_iso(at)
        for message_id, at in store.injected_times(line[1] for line in lines).items()
    }
    events = []
    for line in lines:
        key, message_id, timestamp, ip, user_agent, method, x_requested_with, purpose = line[:8]
        extras = line[8] if len(line) > 8 else {}
        if message_id not in injected:
            continue
        since = round(timestamp - injected[message_id], 3)
        burst = bursts.is_burst(ip, message_id, timestamp) if bursts else False
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
    return store.record_opens(events)


def reclassify(
    store,
    networks: Networks | None,
    scanner_window_seconds: float,
    campaign_id: str | None = None,
    progress: Callable[[int], None] = lambda done: None,
) -> dict[str, int]:
    """Re-run the current rules over stored events, then rebuild states and counters.

    Returns how many events were looked at and how many changed verdict or source. Bursts are
    judged again from the stored times. Events whose user agent is not stored keep theirs.
    """
    looked = changed = 0
    bursts = BurstTracker()
    for batch in store.iter_events(campaign_id):
        updates = []
        for event in batch:
            looked += 1
            # Without its user agent or IP (purged, or never kept) an event keeps its verdict:
            # judged again on less than it was judged on, it could only get worse.
            if event["user_agent"] is None or event["ip"] is None:
                continue
            # An open implied by a person's click was judged by the click rules, not these.
            if event["source"] == "click":
                continue
            fetch = Fetch(
                user_agent=event["user_agent"] or "",
                ip=event["ip"],
                method=event["method"] or "GET",
                headers=fetch_headers(event["x_requested_with"], event["sec_purpose"]),
                seconds_since_send=event["seconds_since_send"],
                burst=bursts.is_burst(event["ip"], event["message_id"], from_iso(event["at"])),
            )
            verdict: Verdict = classify(fetch, networks, scanner_window_seconds)
            # Country and network owner came from the full IP, which may not be stored.
            updates.append(
                {
                    **verdict.as_dict(),
                    "id": event["id"],
                    "country": event["country"],
                    "asn": event["asn"],
                }
            )
            changed += (verdict.verdict, verdict.source) != (event["verdict"], event["source"])
        store.update_verdicts(updates)
        progress(len(batch))
    for campaign in [campaign_id] if campaign_id else store.campaign_ids():
        store.rebuild_counters(campaign)
    return {"events": looked, "changed": changed}
