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
        after: str | None = None,
        before: str | None = None,
    ) -> list[dict]:
        """Return a page of a campaign's messages, filtered by state and search; each row has
        a ``cursor`` that ``after`` (the rows following it) and ``before`` (the rows preceding
        it) take to page on from it (an odd cursor is ignored).

        Without a search the listing is newest first: the page's rowids come from one range
        of the (campaign_id, injected_at) index, or of (campaign_id, state, injected_at) for
        one state, so a page costs no sort and no reads of skipped rows. A page given by a
        cursor starts at it in the index: its cost does not grow with its depth. Given by
        ``offset``, the walk skips ``offset`` index entries; given ``total`` too (how many
        rows the listing has), a page past the middle is read from the oldest end, so the
        last page costs what the first does and the middle one skips half the entries.

        A search lists the addresses starting with its text in address order (see
        ``_search``): a range of the (campaign_id, recipient) index, or of (campaign_id,
        state, recipient) with a state, read from the cursor or the offset on, so even a
        one-letter search that matches every message reads one page of it.
        """
        if search.strip():
            row_ids = self._search_page(campaign_id, state, search, limit, offset, after, before)
        else:
            row_ids = self._listing_page(campaign_id, state, limit, offset, total, after, before)
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
            row_id = message.pop("row_id")
            message["cursor"] = (
                message["recipient"] if search.strip() else f"{message['injected_at']}_{row_id}"
            )
            found[row_id] = message
        return [found[row_id] for row_id in row_ids]

    def _listing_page(
        self,
        campaign_id: str,
        state: str,
        limit: int,
        offset: int,
        total: int | None,
        after: str | None,
        before: str | None,
    ) -> list[int]:
        """Return the rowids of a page of the newest-first listing (see ``recipients``)."""
        cursor = _time_cursor(after) or _time_cursor(before)
        backwards = (cursor is not None and _time_cursor(after) is None) or (
            cursor is None and total is not None and offset > total // 2
        )
        if cursor is not None:
            offset = 0
        elif total is not None and offset >= total:
            return []
        elif backwards:
            limit, offset = min(limit, total - offset), max(0, total - offset - limit)
        order = "ASC" if backwards else "DESC"
        # Past the cursor in the walk's direction: a range of the index on injected_at, the
        # rowid breaking ties between messages injected in the same millisecond.
        beyond, beyond_params = "", []
        if cursor is not None:
            sign = ">" if backwards else "<"
            beyond = f" AND injected_at {sign}= ? AND (injected_at {sign} ? OR rowid {sign} ?)"
            beyond_params = [cursor[0], cursor[0], cursor[1]]
        state_sql = " AND state = ?" if state in STATES else ""
        row_ids = [
            row[0]
            for row in self.db.execute(
                "SELECT rowid AS row_id FROM messages "
                f"WHERE campaign_id = ?{state_sql}{beyond} "
                f"ORDER BY injected_at {order}, rowid {order} LIMIT ? OFFSET ?",
                [campaign_id, *([state] if state_sql else []), *beyond_params, limit, offset],
            )
        ]
        if backwards:
            row_ids.reverse()
        return row_ids

    def _search_page(
        self,
        campaign_id: str,
        state: str,
        search: str,
        limit: int,
        offset: int,
        after: str | None,
        before: str | None,
    ) -> list[int]:
        """Return the rowids of a page of a search, in address order (see ``recipients``)."""
        backwards = before is not None and after is None
        cursor = before if backwards else after
        if cursor is not None:
            offset = 0
        order = "DESC" if backwards else "ASC"
        state_sql = " AND state = ?" if state in STATES else ""
        arms, params = [], []
        for sql, values in self._search_ranges(search):
            beyond = f" AND recipient {'<' if backwards else '>'} ?" if cursor is not None else ""
            arms.append(
                "SELECT rowid AS row_id, recipient FROM messages "
                f"WHERE campaign_id = ?{state_sql} AND {sql}{beyond}"
            )
            params += [campaign_id, *([state] if state_sql else []), *values]
            params += [cursor] if cursor is not None else []
        row_ids = [
            row[0]
            for row in self.db.execute(
                " UNION ALL ".join(arms) + f" ORDER BY recipient {order} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        ]
        if backwards:
            row_ids.reverse()
        return row_ids

    def count_recipients(
        self, campaign_id: str, state: str = "", search: str = "", cap: int | None = None
    ) -> int:
        """Return how many of a campaign's messages match a state and a search; with ``cap``,
        counting stops past it (cap + 1 means "more than cap"), so that a search matching
        most of a million messages counts a few thousand index entries, not all of them."""
        search_sql, search_params = self._search(search)
        state_sql = " AND state = ?" if state in STATES else ""
        params = [campaign_id, *([state] if state_sql else []), *search_params]
        sql = f"SELECT 1 FROM messages WHERE campaign_id = ?{state_sql}{search_sql}"
        if cap is None:
            return self.db.execute(f"SELECT count(*) FROM ({sql}) AS matched", params).fetchone()[0]
        return self.db.execute(
            f"SELECT count(*) FROM ({sql} LIMIT ?) AS matched", [*params, int(cap) + 1]
        ).fetchone()[0]

    def iter_recipients(
        self, campaign_id: str, state: str = "", search: str = "", clicked: bool = False
    ) -> Iterator[dict]:
        """Yield a campaign's messages for an export, filtered as the recipients table is;
        ``clicked`` keeps those a person clicked through. Rows come a thousand at a time, in
        address order: the order of the (campaign_id[, state], recipient) index, so the first
        rows go out at once instead of after a sort of the whole campaign."""
        search_sql, search_params = self._search(search)
        state_sql = " AND state = ?" if state in STATES else ""
        clicked_sql = " AND human_clicks > 0" if clicked else ""
        rows = self.db.stream(
            "SELECT id, recipient, state, injected_at, first_open_at, last_open_at, opens, "
            "human_opens, human_clicks, last_client, metadata FROM messages "
            f"WHERE campaign_id = ?{state_sql}{clicked_sql}{search_sql} ORDER BY recipient",
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
        ranges = self._search_ranges(search)
        if not ranges:
            return "", []
        parts, params = [], []
        for sql, values in ranges:
            parts.append(f"({sql})")
            params += values
        return " AND (" + " OR ".join(parts) + ")", params

    def _search_ranges(self, search: str) -> list[tuple[str, list]]:
        """Return the (SQL, parameters) of each recipient range a search matches: the text as
        typed and lower-cased (one range when they are the same)."""
        text = search.strip()
        if not text:
            return []
        return [self.db.starts_with("recipient", v) for v in dict.fromkeys([text.lower(), text])]


def _time_cursor(cursor: str | None) -> tuple[str, int] | None:
    """Return the (injected_at, rowid) a listing cursor names, or None when it is not one."""
    if not cursor or "_" not in cursor:
        return None
    at, _, row_id = cursor.rpartition("_")
    if not (row_id.isascii() and row_id.isdigit() and len(row_id) < 19) or not 0 < len(at) <= 40:
        return None
    return at, int(row_id)
