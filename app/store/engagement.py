"""Engagement in the store: one recipient's messages across campaigns, inactive segments, and
the human opens and clicks that send times are learned from."""

from collections.abc import Iterator

from app.store.database import Database, chunks, marks
from app.store.engagement_counters import CAMPAIGN_KEY
from app.store.messages import REACHABLE

# A message a person opened or clicked through (a click implies an open, so state says both).
ENGAGED = "(state = 'opened' OR human_clicks > 0)"
# An open a person made that is not only the one their click implied.
SEEN_OPEN = "state = 'opened' AND human_clicks = 0"


class Engagement:
    """Read what recipients did across campaigns."""

    def __init__(self, db: Database):
        self.db = db

    def recipient_messages(self, recipient: str) -> list[dict]:
        """Return a recipient's messages across campaigns, oldest first."""
        rows = self.db.execute(
            "SELECT id, campaign_id, injected_at, tracked, state, human_opens, mpp_opens, "
            "human_clicks, delivery_status, bounce_type, unsubscribed_at FROM messages "
            "WHERE recipient = ? ORDER BY injected_at, id",
            [recipient],
        )
        return [dict(row) | {"tracked": bool(row["tracked"])} for row in rows]

    def last_human_activity(self, message_ids: list[str]) -> dict:
        """Return the last human open (not one a click implied) and the last human click."""
        last_open = last_click = None
        for chunk in chunks(message_ids):
            places = marks(chunk)
            opened = self.db.execute(
                f"SELECT max(at) FROM events WHERE message_id IN ({places}) "
                "AND verdict = 'human' AND source <> 'click'",
                chunk,
            ).fetchone()[0]
            clicked = self.db.execute(
                f"SELECT max(at) FROM clicks WHERE message_id IN ({places}) AND verdict = 'human'",
                chunk,
            ).fetchone()[0]
            last_open = max(filter(None, [last_open, opened]), default=None)
            last_click = max(filter(None, [last_click, clicked]), default=None)
        return {"last_human_open_at": last_open, "last_human_click_at": last_click}

    def recent_messages(self, recipient: str, count: int) -> list[dict]:
        """Return a recipient's last ``count`` tracked messages that did not bounce and were not
        complained of (the tiers' messages), oldest first."""
        rows = self.db.execute(
            "SELECT state, human_clicks FROM messages WHERE recipient = ? AND tracked "
            "AND delivery_status NOT IN ('bounced', 'complained') "
            "ORDER BY injected_at DESC, id DESC LIMIT ?",
            [recipient, count],
        )
        return [dict(row) for row in rows][::-1]

    def latest_campaign_ids(self, count: int) -> list[str]:
        """Return the ids of the campaigns most recently sent, newest first."""
        # Ties in time go by id, newest the greatest: the order of the counters' keys.
        rows = self.db.execute(
            "SELECT id FROM campaigns WHERE first_injected_at IS NOT NULL "
            "ORDER BY first_injected_at DESC, id DESC LIMIT ?",
            [count],
        )
        return [row[0] for row in rows]

    def campaigns_sent_since(self, since: str) -> list[str]:
        """Return the ids of campaigns with a message injected at or after a time."""
        # Each probe is a seek in the (campaign_id, state, injected_at) index, one per state,
        # so this reads a few index entries per campaign, not its messages.
        rows = self.db.execute(
            "SELECT id FROM campaigns c WHERE first_injected_at IS NOT NULL AND EXISTS ("
            "SELECT 1 FROM messages m WHERE m.campaign_id = c.id "
            "AND m.state IN ('opened', 'unknown', 'not_opened', 'untracked') "
            "AND m.injected_at >= ?) ORDER BY first_injected_at DESC, id DESC",
            [since],
        )
        return [row[0] for row in rows]

    def iter_inactive(
        self, campaign_ids: list[str] | None, since: str | None, mpp_only: bool
    ) -> Iterator[dict]:
        """Yield recipients without a human open or click among the messages selected.

        The messages are the tracked, reachable (not bounced, complained of or unsubscribed)
        ones of ``campaign_ids`` (the latest campaigns, all when None) injected at or after
        ``since`` (any time when None). ``mpp_only`` yields instead those whose every open
        there came through Apple's proxy: opens they may have made are hidden, clicks are what
        we know. Read from the engagement counters, in recipient order (one walk of them);
        with both a campaign list and a time, the selected messages are grouped first.
        """
        if campaign_ids is not None and not campaign_ids:
            return
        if mpp_only:
            # Every open through the proxy: the reached messages with an MPP fetch and none
            # seen opened (lifetime columns: docs/delivery.md#inactive-segments).
            columns = "reached, reached_at, reached_mpp_opens, reached_clicks"
            found, missed = "mpp", "seen"
        else:
            # The quiet run: the reached messages since their last engaged campaign, none of
            # them clicked (a click makes a message engaged).
            columns = "quiet, reached_at, quiet_mpp_opens, 0"
            found, missed = "reached", "engaged"
        where, params = [f"{found}_key IS NOT NULL"], []
        if campaign_ids is not None and since is not None:
            where.append(f"recipient IN ({self._grouped(campaign_ids, since, mpp_only)})")
            params += [*campaign_ids, since]
        elif campaign_ids is not None:
            # The latest campaigns are those from the oldest of them on, in the send order.
            floor = self.db.execute(
                f"SELECT min({CAMPAIGN_KEY}) FROM campaigns c "
                f"WHERE c.id IN ({marks(campaign_ids)})",
                campaign_ids,
            ).fetchone()[0]
            where.append(f"{found}_key >= ? AND ({missed}_key IS NULL OR {missed}_key < ?)")
            params += [floor, floor]
        elif since is not None:
            where.append(f"{found}_at >= ? AND ({missed}_at IS NULL OR {missed}_at < ?)")
            params += [since, since]
        else:
            where.append(f"{missed}_key IS NULL")
        rows = self.db.stream(
            f"SELECT recipient, {columns} FROM engagement WHERE {' AND '.join(where)} "
            "ORDER BY recipient",
            params,
            size=5000,
        )
        for row in rows:
            yield {
                "recipient": row[0],
                "messages": int(row[1]),
                "last_sent_at": row[2],
                "mpp_opens": int(row[3]),
                "human_clicks": int(row[4]),
            }

    def _grouped(self, campaign_ids: list[str], since: str, mpp_only: bool) -> str:
        """Return the query of the recipients in a segment of campaigns and a time, from the
        selected messages themselves (the counters know each rule alone, not both at once)."""
        if mpp_only:
            having = f"sum(mpp_opens) > 0 AND count(*) FILTER (WHERE {SEEN_OPEN}) = 0"
        else:
            having = f"count(*) FILTER (WHERE {ENGAGED}) = 0"
        return (
            f"SELECT recipient FROM messages WHERE tracked AND {REACHABLE} "
            f"AND campaign_id IN ({marks(campaign_ids)}) AND injected_at >= ? "
            f"GROUP BY recipient HAVING {having}"
        )

    def human_observations(self, recipients: list[str]) -> dict[str, list[tuple[str, str, str]]]:
        """Return each recipient's human opens and clicks as (time, verdict, source), oldest first.

        Opens a click implied are left out: the click itself is the observation.
        """
        found: dict[str, list[tuple[str, str, str]]] = {r: [] for r in recipients}
        for chunk in chunks(list(dict.fromkeys(recipients)), 250):
            places = marks(chunk)
            for table, extra in (("events", "AND e.source <> 'click'"), ("clicks", "")):
                rows = self.db.execute(
                    f"SELECT m.recipient, e.at, e.verdict, e.source FROM messages m JOIN {table} e "
                    f"ON e.message_id = m.id WHERE m.recipient IN ({places}) "
                    f"AND e.verdict = 'human' {extra}",
                    chunk,
                )
                for row in rows:
                    found[row[0]].append((row[1], row[2], row[3]))
        for observations in found.values():
            observations.sort()
        return found

    def population_hours(self) -> list[tuple[str, int]]:
        """Return every (hour, human opens) counted across campaigns."""
        rows = self.db.execute(
            "SELECT hour, sum(human) FROM campaign_hours WHERE human > 0 GROUP BY hour"
        )
        return [(row[0], int(row[1])) for row in rows]
