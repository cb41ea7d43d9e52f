"""The dashboard's read queries: pages of recipients, distributions, demo back-dating."""

import json
from collections.abc import Iterator

from app.core.counters import SIGNALS
from app.core.stats import STATES
from app.store.database import Database, marks
from app.store.engagement_counters import EngagementCounters
from app.store.messages import MESSAGE_COLUMNS
from app.store.rebuild import rebuild_first_opens


class Reports:
    """Pages of recipients and distributions that the dashboard shows."""

    def __init__(self, db: Database):
        self.db = db

    def recipients(
        self,
        campaign_id: str,
        state: str = "",
        search: str = "",
        limit: int = 50,
        offset: int = 0,
        total: int | None = None,
    ) -> list[dict]:
        """Return a page of a campaign's messages, newest first, filtered by state and search.

        The page's rowids come from the (campaign_id, state, injected_at) index alone, one
        ordered walk per state merged by SQLite, so a deep page costs no sort and no reads of
        skipped rows; then only the page's rows are read. Given ``total`` (how many rows the
        listing has), a page past the middle is read from the oldest end, so the last page
        costs what the first does. A search walks the (campaign_id, recipient) index over the
        addresses starting with the text (see ``_search``) and sorts only what it found.
        """
        if total is not None and offset >= total:
            return []
        backwards = total is not None and offset > total // 2
        if backwards:
            limit, offset = min(limit, total - offset), max(0, total - offset - limit)
        order = "ASC" if backwards else "DESC"
        search_sql, search_params = self._search(search)
        if search_sql:
            state_sql = " AND state = ?" if state in STATES else ""
            sql = (
                "SELECT rowid AS row_id, injected_at FROM messages "
                f"WHERE campaign_id = ?{state_sql}{search_sql}"
            )
            params = [campaign_id, *([state] if state_sql else []), *search_params]
        else:
            arms, params = [], []
            for one_state in [state] if state in STATES else STATES:
                arms.append(
                    "SELECT rowid AS row_id, injected_at FROM messages "
                    "WHERE campaign_id = ? AND state = ?"
                )
                params += [campaign_id, one_state]
            sql = " UNION ALL ".join(arms)
        row_ids = [
            row[0]
            for row in self.db.execute(
                sql + f" ORDER BY injected_at {order}, row_id {order} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        ]
        if backwards:
            row_ids.reverse()
        if not row_ids:
            return []
        rows = self.db.execute(
            f"SELECT rowid AS row_id, {MESSAGE_COLUMNS}, human_clicks FROM messages "
            f"WHERE rowid IN ({marks(row_ids)})",
            row_ids,
        )
        found = {}
        for row in rows:
            message = dict(row)
            message["metadata"] = json.loads(message["metadata"]) if message["metadata"] else None
            found[message.pop("row_id")] = message
        return [found[row_id] for row_id in row_ids]

    def count_recipients(self, campaign_id: str, state: str = "", search: str = "") -> int:
        """Return how many of a campaign's messages match a state and a search."""
        search_sql, search_params = self._search(search)
        state_sql = " AND state = ?" if state in STATES else ""
        params = [campaign_id, *([state] if state_sql else []), *search_params]
        return self.db.execute(
            f"SELECT count(*) FROM messages WHERE campaign_id = ?{state_sql}{search_sql}", params
        ).fetchone()[0]

    def iter_recipients(
        self, campaign_id: str, state: str = "", search: str = "", clicked: bool = False
    ) -> Iterator[dict]:
        """Yield a campaign's messages for an export, filtered as the recipients table is;
        ``clicked`` keeps those a person clicked through. Rows come a thousand at a time."""
        search_sql, search_params = self._search(search)
        state_sql = " AND state = ?" if state in STATES else ""
        clicked_sql = " AND human_clicks > 0" if clicked else ""
        rows = self.db.stream(
            "SELECT id, recipient, state, injected_at, first_open_at, last_open_at, opens, "
            "human_opens, human_clicks, last_client, metadata FROM messages "
            f"WHERE campaign_id = ?{state_sql}{clicked_sql}{search_sql} ORDER BY rowid",
            [campaign_id, *([state] if state_sql else []), *search_params],
        )
        for row in rows:
            message = dict(row)
            message["message_id"] = message.pop("id")
            message["metadata"] = json.loads(message["metadata"]) if message["metadata"] else None
            yield message

    def first_open_counts(self, campaign_id: str) -> dict[int, int]:
        """Return how many opened messages had their first human open in each time bucket.

        Read from counters kept with each open (core.timeline's FIRST_OPEN_BUCKETS); returns
        {bucket index: count} for non-empty buckets.
        """
        rows = self.db.execute(
            "SELECT bucket, messages FROM campaign_first_opens "
            "WHERE campaign_id = ? AND messages > 0",
            [campaign_id],
        )
        return {row["bucket"]: row["messages"] for row in rows}

    def opened_signals(self, campaign_id: str) -> dict[str, int]:
        """Return how many of a campaign's opened messages also had an Apple MPP fetch
        (``hidden_opened``), and how many without one had a human click
        (``visible_opened_clicked``): what the open-rate estimate needs beyond the counters.

        Read from counters kept with each open and click (core.counters.open_signals).
        """
        row = self.db.execute(
            "SELECT hidden_opened, visible_opened_clicked FROM campaigns WHERE id = ?",
            [campaign_id],
        ).fetchone()
        return {key: (row[key] if row else 0) or 0 for key in SIGNALS}

    def backdate_campaign(self, campaign_id: str, seconds: float) -> None:
        """Move a campaign's creation and its messages' injection back in time (demo data)."""
        with self.db.write() as conn:
            for table, column, key in (
                ("campaigns", "created_at", "id"),
                ("campaigns", "first_injected_at", "id"),
                ("messages", "injected_at", "campaign_id"),
            ):
                conn.execute(
                    f"UPDATE {table} SET {column} = {self.db.shifted(column)} WHERE {key} = ?",
                    [-float(seconds), campaign_id],
                )
            # The time from injection to first open changed with it, and the send order.
            rebuild_first_opens(self.db, campaign_id)
            EngagementCounters(self.db).refresh_campaign(campaign_id)

    def _search(self, search: str) -> tuple[str, list]:
        """Return the SQL condition and parameters for a recipient search ("" when none).

        A search matches the recipients that start with its text, as typed or lower-cased
        (addresses are stored lower-cased, subscriber ids as given): a range of the
        (campaign_id, recipient) index, not a read of every message.
        """
        text = search.strip()
        if not text:
            return "", []
        parts, params = [], []
        for variant in dict.fromkeys([text.lower(), text]):
            sql, values = self.db.starts_with("recipient", variant)
            parts.append(f"({sql})")
            params += values
        return " AND (" + " OR ".join(parts) + ")", params
