"""Messages in the store: one recipient's copy of a campaign, registered at injection."""

import json
from collections.abc import Iterable, Iterator

from app.core.times import now_iso
from app.core.tokens import new_message_id
from app.store.database import Database, chunks, marks

MESSAGE_COLUMNS = (
    "id, campaign_id, recipient, metadata, injected_at, state, opens, human_opens, "
    "machine_opens, mpp_opens, first_fetch_at, first_open_at, last_open_at, last_client, "
    "tracked, delivery_status, bounce_type, delivery_at, unsubscribed_at"
)
# A follow-up to those who did not click: no click a person made (scanners' do not count).
NO_CLICK = " AND human_clicks = 0"


# Recipients a non-opener export or a follow-up leaves out: bounced, complained of, unsubscribed.
def reachable(alias: str = "") -> str:
    """Return the condition on messages (``alias`` is a table alias such as "m.") for
    recipients the mail reached and who stayed: not bounced, complained of or unsubscribed."""
    return (
        f"{alias}delivery_status NOT IN ('bounced', 'complained') "
        f"AND {alias}unsubscribed_at IS NULL"
    )


REACHABLE = reachable()
EVENT_COLUMNS = (
    "at, verdict, source, reason, client, client_version, os, device, country, asn, ip, "
    "user_agent, method, x_requested_with, sec_purpose, seconds_since_send"
)


class Messages:
    """Register messages, find them, and list those a follow-up or export is about."""

    def __init__(self, db: Database):
        self.db = db

    def register_messages(
        self,
        campaign_id: str,
        recipients: list[tuple[str, dict | None, bool]],
        opted_out: set[str],
    ) -> list[dict]:
        """Store one message per (campaign, recipient, track) and return them in order.

        Runs inside the caller's write transaction. A recipient already registered gets its
        existing message back, so a retried send never counts twice. A message is tracked only
        when asked and when its recipient is not in ``opted_out``.
        """
        now = now_iso()
        rows = [
            (
                new_message_id(),
                campaign_id,
                recipient,
                _dump(metadata),
                now,
                bool(tracked),
                "not_opened" if tracked else "untracked",
            )
            for recipient, metadata, track in recipients
            for tracked in [track and recipient not in opted_out]
        ]
        self.db.executemany(
            "INSERT INTO messages (id, campaign_id, recipient, metadata, injected_at, tracked, "
            "state) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows,
        )
        found = self._by_recipient(campaign_id, [recipient for recipient, _, _ in recipients])
        new_ids = {row[0] for row in rows}
        added = [m for m in found.values() if m["id"] in new_ids]
        if added:
            self.db.execute(
                "UPDATE campaigns SET sent = sent + ?, untracked = untracked + ?, "
                "first_injected_at = coalesce(first_injected_at, ?), last_injected_at = ? "
                "WHERE id = ?",
                [len(added), sum(not m["tracked"] for m in added), now, now, campaign_id],
            )
            # Imported here: the counters' SQL is built from this module's reachable().
            from app.store.engagement_counters import EngagementCounters

            EngagementCounters(self.db).count_injected(campaign_id, added)
        return [found[recipient] for recipient, _, _ in recipients]

    def _by_recipient(self, campaign_id: str, recipients: list[str]) -> dict[str, dict]:
        found = {}
        for chunk in chunks(list(dict.fromkeys(recipients))):
            for row in self.db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages "
                f"WHERE campaign_id = ? AND recipient IN ({marks(chunk)})",
                [campaign_id, *chunk],
            ):
                found[row["recipient"]] = message_row(row)
        return found

    def get_message(self, message_id: str) -> dict | None:
        """Return a message with its open events, oldest first, or None."""
        message = self.get_message_row(message_id)
        if message is None:
            return None
        events = self.db.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE message_id = ? ORDER BY at, id",
            [message_id],
        )
        message["events"] = [dict(event) for event in events]
        return message

    def get_message_row(self, message_id: str) -> dict | None:
        """Return a message without its events, or None."""
        row = self.db.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", [message_id]
        ).fetchone()
        return message_row(row) if row else None

    def injected_times(self, message_ids: Iterable[str]) -> dict[str, str]:
        """Return the injection time of each known message id."""
        found = {}
        for chunk in chunks(list(set(message_ids))):
            for row in self.db.execute(
                f"SELECT id, injected_at FROM messages WHERE id IN ({marks(chunk)})", chunk
            ):
                found[row["id"]] = row["injected_at"]
        return found

    def count_non_openers(
        self,
        campaign_id: str,
        states: tuple[str, ...],
        injected_before: str,
        without_clicks: bool = False,
    ) -> int:
        """Return how many rows iter_non_openers would yield.

        When every message in these states was injected by the cutoff (a follow-up made after
        the send), the count comes from the campaign's state counters, less the erased messages
        among them (no longer tracked, kept in their state under an "erased-" placeholder),
        found through the (campaign_id, recipient) index: no walk over the campaign's rows.
        """
        newest = [
            self.db.execute(
                "SELECT max(injected_at) FROM messages WHERE campaign_id = ? AND state = ?",
                [campaign_id, state],
            ).fetchone()[0]
            for state in states
        ]
        counted_states = {"not_opened", "unknown"}.issuperset(states)
        if counted_states and all(at is None or at <= injected_before for at in newest):
            row = self.db.execute(
                "SELECT sent - untracked - opened - unknown AS not_opened, unknown "
                "FROM campaigns WHERE id = ?",
                [campaign_id],
            ).fetchone()
            if row is None:
                return 0
            counted = sum(row[state] for state in states)
            erased = self.db.execute(
                "SELECT count(*) FROM messages WHERE campaign_id = ? AND recipient >= 'erased-' "
                f"AND recipient < 'erased.' AND NOT tracked AND state IN ({marks(states)})",
                [campaign_id, *states],
            ).fetchone()[0]
            return counted - erased
        return self.db.execute(
            f"SELECT count(*) FROM messages WHERE campaign_id = ? AND state IN ({marks(states)}) "
            f"AND injected_at <= ? AND tracked AND {REACHABLE}{NO_CLICK if without_clicks else ''}",
            [campaign_id, *states, injected_before],
        ).fetchone()[0]

    def iter_non_openers(
        self,
        campaign_id: str,
        states: tuple[str, ...],
        injected_before: str,
        without_clicks: bool = False,
    ) -> Iterator[dict]:
        """Yield the campaign's tracked messages in the given states injected before a time
        (with ``without_clicks``, only those no person clicked).

        Bounced, complained-of and unsubscribed recipients are left out: this is the one
        selection behind the non-opener export, follow-ups and automations.

        Rows are fetched a thousand at a time, so an export of any size runs in little memory.
        They come by state, then injection time (then id): the order of the (campaign_id,
        state, injected_at) index, so the first rows go out at once instead of after a sort
        of them all (only messages injected in the same millisecond are sorted by id).
        """
        rows = self.db.stream(
            "SELECT recipient, state, injected_at, first_open_at, opens, metadata, id "
            f"FROM messages WHERE campaign_id = ? AND state IN ({marks(states)}) "
            f"AND injected_at <= ? AND tracked AND {REACHABLE}{NO_CLICK if without_clicks else ''} "
            "ORDER BY state, injected_at, id",
            [campaign_id, *states, injected_before],
        )
        for row in rows:
            yield {
                "recipient": row["recipient"],
                "state": row["state"],
                "injected_at": row["injected_at"],
                "first_open_at": row["first_open_at"],
                "opens": row["opens"],
                "message_id": row["id"],
                "metadata": _load(row["metadata"]),
            }


def message_row(row) -> dict:
    """Return a stored message row as a dict, its metadata parsed."""
    message = dict(row)
    message["metadata"] = _load(message["metadata"])
    message["tracked"] = bool(message["tracked"])
    return message


def _dump(metadata: dict | None) -> str | None:
    return json.dumps(metadata, separators=(",", ":")) if metadata else None


def _load(metadata: str | None) -> dict | None:
    return json.loads(metadata) if metadata else None
