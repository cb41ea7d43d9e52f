"""Bulk loading of generated traffic (scripts/seed_demo.py): rows straight into the tables.

A demo of a million messages goes in a large batch per transaction (COPY on PostgreSQL)
instead of through the recording path; the counters are not moved row by row but rebuilt
afterwards by the same functions ``opentrack reclassify`` uses, so they come out right.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from app.store.clicks import CLICK_FIELDS, Clicks
from app.store.database import Database
from app.store.engagement_counters import EngagementCounters
from app.store.events import EVENT_FIELDS
from app.store.rebuild import rebuild_counters

# The columns of a loaded message, in the order load_traffic takes them.
MESSAGE_FIELDS = ("id", "campaign_id", "recipient", "metadata", "injected_at", "tracked", "state")
# SQLite's page cache while loading, in KiB: the indexes of a million rows stay in memory.
LOAD_CACHE_KIB = 512 * 1024
DEFAULT_CACHE_KIB = 2000


class Bulk:
    """Load generated messages, open events and settled clicks in batches, then count them."""

    def __init__(self, db: Database, clicks: Clicks):
        self.db = db
        self.clicks = clicks

    @contextmanager
    def _big_cache(self) -> Iterator[None]:
        # Index pages of a million rows are touched at random while loading and rebuilding.
        if self.db.engine != "sqlite":
            yield
            return
        self.db.execute(f"PRAGMA cache_size = -{LOAD_CACHE_KIB}")
        try:
            yield
        finally:
            # Back to SQLite's default, so pages timed afterwards see a normal cache.
            self.db.execute(f"PRAGMA cache_size = -{DEFAULT_CACHE_KIB}")

    def load_traffic(self, messages: list[list], events: list[list], clicks: list[list]) -> None:
        """Insert rows as given in one transaction: messages (MESSAGE_FIELDS), open events
        (events.EVENT_FIELDS) and settled clicks (clicks.CLICK_FIELDS).

        Nothing is counted: call finish_load once every batch of a campaign is in.
        """
        with self._big_cache(), self.db.write():
            self.db.insert_rows("messages", MESSAGE_FIELDS, messages)
            self.db.insert_rows("events", EVENT_FIELDS, events)
            settled = [[*click, True] for click in clicks]
            self.db.insert_rows("clicks", (*CLICK_FIELDS, "settled"), settled)

    def finish_load(self, campaign_id: str, created_at: str) -> None:
        """Give a loaded campaign its creation time, its sent and injection columns from its
        messages, and every counter of opens and clicks (the recipients' engagement rows too)
        rebuilt from its events and clicks."""
        with self._big_cache():
            with self.db.write() as conn:
                conn.execute(
                    "UPDATE campaigns SET created_at = ?, "
                    "sent = (SELECT count(*) FROM messages WHERE campaign_id = campaigns.id), "
                    "untracked = (SELECT count(*) FROM messages "
                    "WHERE campaign_id = campaigns.id AND NOT tracked), "
                    "first_injected_at = (SELECT min(injected_at) FROM messages "
                    "WHERE campaign_id = campaigns.id), "
                    "last_injected_at = (SELECT max(injected_at) FROM messages "
                    "WHERE campaign_id = campaigns.id) WHERE id = ?",
                    [created_at, campaign_id],
                )
            # Clicks first: the open-signal counters read the messages' human clicks.
            self.clicks.rebuild_click_counters(campaign_id)
            rebuild_counters(self.db, campaign_id)
            # The recipients' engagement rows, which inject would have kept one message at a time.
            EngagementCounters(self.db).refresh_campaign(campaign_id)
