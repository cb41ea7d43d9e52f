"""Recent fetches by network, shared by every process and host that records pixel fetches.

Each writer notes which messages each network (IPv4 /24, IPv6 /48) fetched, and asks which ones
the others saw lately, so that a scanner's burst is noticed however the load balancer spread its
fetches. Rows older than a minute are pruned now and then.
"""

import time
from collections import defaultdict

from app.store.database import Database, chunks, marks

# Rows are kept this long, far longer than any burst window.
KEEP_SECONDS = 60.0
PRUNE_EVERY_SECONDS = 10.0


class Bursts:
    """Note the (network, message) fetches of a batch; read those of the last seconds."""

    def __init__(self, db: Database):
        self.db = db
        self._pruned_at = 0.0

    def note_fetches(self, fetches: list[tuple[str, str, float]]) -> None:
        """Remember (network, message id, Unix time) fetches, the latest time per pair."""
        if not fetches:
            return
        latest: dict[tuple[str, str], float] = {}
        for network, message_id, at in fetches:
            latest[(network, message_id)] = max(at, latest.get((network, message_id), at))
        with self.db.write() as conn:
            # In key order, like every other write: concurrent writers never deadlock.
            conn.executemany(
                "INSERT INTO burst_fetches (network, message_id, at) VALUES (?, ?, ?) "
                "ON CONFLICT (network, message_id) DO UPDATE SET at = CASE "
                "WHEN excluded.at > burst_fetches.at THEN excluded.at ELSE burst_fetches.at END",
                [(*key, at) for key, at in sorted(latest.items())],
            )
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
                self._pruned_at = time.monotonic()
                conn.execute("DELETE FROM burst_fetches WHERE at < ?", [time.time() - KEEP_SECONDS])

    def recent_fetches(self, networks: set[str], since: float) -> dict[str, frozenset[str]]:
        """Return, per network, the messages it fetched since a Unix time (anywhere)."""
        found: dict[str, set[str]] = defaultdict(set)
        for chunk in chunks(sorted(networks)):
            for row in self.db.execute(
                "SELECT network, message_id FROM burst_fetches "
                f"WHERE network IN ({marks(chunk)}) AND at >= ?",
                [*chunk, since],
            ):
                found[row[0]].add(row[1])
        return {network: frozenset(messages) for network, messages in found.items()}
