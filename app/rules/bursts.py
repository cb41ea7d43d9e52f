"""Bursts: one network fetching many different messages' pixels within seconds; pure.

A person opens one email at a time; a security gateway scanning a delivery, or a bot walking
a list, fetches many within seconds from one network.
"""

from collections import defaultdict, deque

from app.rules.storage import truncate_ip

# A burst: this many different messages fetched from one network within BURST_SECONDS.
BURST_MESSAGES = 10
BURST_SECONDS = 5.0


class BurstTracker:
    """Notice one network (IPv4 /24, IPv6 /48) fetching many messages' pixels within seconds.

    Each process sees only its share of the traffic: the messages other processes (other
    workers, other hosts) saw a network fetch lately are passed in as ``seen_elsewhere``, so
    adding instances does not make a burst harder to notice, and never makes it trip sooner.
    """

    def __init__(self, messages: int = BURST_MESSAGES, seconds: float = BURST_SECONDS):
        self.messages = messages
        self.seconds = seconds
        # Per network: the recent (time, message) fetches, and how often each message is in them
        # (plain dicts: a Counter's missing key goes through a Python method at every fetch).
        self._recent: dict[str, deque] = defaultdict(deque)
        self._counts: dict[str, dict[str, int]] = defaultdict(dict)

    def is_burst(
        self,
        ip: str | None,
        message_id: str,
        timestamp: float,
        seen_elsewhere: frozenset[str] = frozenset(),
    ) -> bool:
        """Record a fetch and return whether its network is in a burst, counting the messages
        this network was seen fetching elsewhere within the window too."""
        return self.joined(self.note(ip, message_id, timestamp), seen_elsewhere)

    def note(
        self, ip: str | None, message_id: str, timestamp: float
    ) -> frozenset[str] | bool | None:
        """Record a fetch; return what decides its burst before other processes are asked.

        True when this process's own fetches of the network make a burst already (what others
        saw cannot change that, so they need not be asked), None for a fetch without an IP,
        else the (fewer than ``messages``) messages the network fetched here within the window,
        for ``joined`` to add to those seen elsewhere.
        """
        return self.note_network(truncate_ip(ip), message_id, timestamp)

    def note_network(
        self, network: str | None, message_id: str, timestamp: float
    ) -> frozenset[str] | bool | None:
        """``note`` for a fetch whose IP was already cut to its network (``truncate_ip``)."""
        if network is None:
            return None
        recent, counts = self._recent[network], self._counts[network]
        recent.append((timestamp, message_id))
        counts[message_id] = counts.get(message_id, 0) + 1
        start = timestamp - self.seconds
        while recent and recent[0][0] < start:
            _, old = recent.popleft()
            if counts[old] == 1:
                del counts[old]
            else:
                counts[old] -= 1
        if len(self._recent) > 10_000:
            self._forget_idle(timestamp)
        if len(counts) >= self.messages:
            return True
        return frozenset(counts)

    def joined(self, noted: frozenset[str] | bool | None, seen_elsewhere: frozenset[str]) -> bool:
        """Return whether a fetch ``note`` returned ``noted`` for is in a burst, counting the
        messages its network was seen fetching elsewhere within the window."""
        if noted is True:
            return True
        if noted is None or not seen_elsewhere:
            return False
        return len(seen_elsewhere.union(noted)) >= self.messages

    def _forget_idle(self, now: float) -> None:
        for network in [n for n, q in self._recent.items() if not q or q[-1][0] < now - 60]:
            del self._recent[network]
            del self._counts[network]
