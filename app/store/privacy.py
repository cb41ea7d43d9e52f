"""Privacy in the store: the opt-out list, retention, erasure and access requests."""

import hashlib
import json
import secrets
from collections.abc import Iterable
from urllib.parse import quote

from app.core.times import now_iso
from app.store.conversions import Conversions
from app.store.database import Database, chunks, marks
from app.store.engagement_counters import EngagementCounters

RAW_DETAILS = "ip = NULL, user_agent = NULL, x_requested_with = NULL, sec_purpose = NULL"
CLICK_RAW_DETAILS = "ip = NULL, user_agent = NULL"


# Replaces a conversion's order id with a marker and its row id (still unique per site).
ORDER_REMOVED = "order_id = CAST(? AS TEXT) || CAST(id AS TEXT)"
ORDER_KEPT = "order_id NOT LIKE 'purged:%' AND order_id NOT LIKE 'erased:%'"


def recipient_hash(recipient: str) -> str:
    """Return the hash an opt-out is kept under, which outlives the erased address."""
    return hashlib.sha256(recipient.encode()).hexdigest()


class Privacy:
    """Opt-outs, purging raw details, erasure and the export of what we hold on someone."""

    def __init__(self, db: Database):
        self.db = db

    def suppressed(self, recipients: Iterable[str]) -> set[str]:
        """Return those of the recipients who opted out of tracking."""
        by_hash = {recipient_hash(r): r for r in recipients}
        found = set()
        for chunk in chunks(list(by_hash)):
            for row in self.db.execute(
                f"SELECT recipient_hash FROM suppressions WHERE recipient_hash IN ({marks(chunk)})",
                chunk,
            ):
                found.add(by_hash[row[0]])
        return found

    def suppress(self, recipients: list[str], source: str, reason: str = "opt_out") -> int:
        """Add recipients to the opt-out list; return how many were new.

        ``reason`` says why: ``opt_out`` (the recipient or the sender asked), or ``hard_bounce``
        and ``complaint`` from delivery events.
        """
        now = now_iso()
        unique = list(dict.fromkeys(recipients))
        with self.db.write() as conn:
            known = self.suppressed(unique)
            conn.executemany(
                "INSERT INTO suppressions (recipient_hash, recipient, source, reason, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(recipient_hash(r), r, source, reason, now) for r in unique if r not in known],
            )
        return len(unique) - len(known)

    def unsuppress(self, recipient: str) -> bool:
        """Remove a recipient from the opt-out list; return False when it was not on it."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM suppressions WHERE recipient_hash = ?", [recipient_hash(recipient)]
            )
        return cursor.rowcount == 1

    def list_suppressions(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """Return opt-outs, newest first; an erased address shows as null."""
        rows = self.db.execute(
            "SELECT recipient, source, coalesce(reason, 'opt_out') AS reason, created_at "
            "FROM suppressions "
            "ORDER BY created_at DESC, recipient_hash LIMIT ? OFFSET ?",
            [limit, offset],
        )
        return [dict(row) for row in rows]

    def purge_raw_details(self, before: str) -> int:
        """Strip IP, user agent and headers from opens and clicks older than a time.

        Returns how many opens and clicks were stripped.

        Verdicts, clients, states and counters stay, so reports stay right.
        """
        with self.db.write() as conn:
            events = conn.execute(
                f"UPDATE events SET {RAW_DETAILS} WHERE at < ? "
                "AND (ip IS NOT NULL OR user_agent IS NOT NULL OR x_requested_with IS NOT NULL "
                "OR sec_purpose IS NOT NULL)",
                [before],
            ).rowcount
            clicks = conn.execute(
                f"UPDATE clicks SET {CLICK_RAW_DETAILS} WHERE at < ? "
                "AND (ip IS NOT NULL OR user_agent IS NOT NULL)",
                [before],
            ).rowcount
            # A conversion's only detail from outside is its order id, which a shop can tie
            # to a person; its value, currency and attribution stay.
            conversions = conn.execute(
                f"UPDATE conversions SET {ORDER_REMOVED} WHERE at < ? AND {ORDER_KEPT}",
                ["purged:", before],
            ).rowcount
        return events + clicks + conversions

    def recipient_data(self, recipient: str) -> dict:
        """Return everything stored about a recipient, for an access request."""
        messages = []
        for row in self.db.execute(
            "SELECT id, campaign_id, metadata, injected_at, state, tracked, first_open_at "
            "FROM messages WHERE recipient = ? ORDER BY injected_at",
            [recipient],
        ):
            message = dict(row)
            message["metadata"] = json.loads(message["metadata"]) if message["metadata"] else None
            message["events"] = [
                dict(event)
                for event in self.db.execute(
                    "SELECT at, ip, user_agent, method, verdict, source, reason, client, os, "
                    "device, country, asn FROM events WHERE message_id = ? ORDER BY at, id",
                    [message["id"]],
                )
            ]
            message["clicks"] = [
                dict(click)
                for click in self.db.execute(
                    "SELECT c.at, l.url, c.ip, c.user_agent, c.method, c.verdict, c.source, "
                    "c.reason, c.client, c.os, c.device, c.country, c.asn FROM clicks c "
                    "JOIN links l ON l.id = c.link_id WHERE c.message_id = ? ORDER BY c.at, c.id",
                    [message["id"]],
                )
            ]
            message["delivery_events"] = [
                dict(event)
                for event in self.db.execute(
                    "SELECT provider, event, bounce_type, at, detail FROM delivery_events "
                    "WHERE message_id = ? ORDER BY at, id",
                    [message["id"]],
                )
            ]
            message["conversions"] = [
                dict(conversion)
                for conversion in self.db.execute(
                    "SELECT site, order_id, event, value, currency, at FROM conversions "
                    "WHERE message_id = ? ORDER BY at, id",
                    [message["id"]],
                )
            ]
            messages.append(message)
        opted_out = self.db.execute(
            "SELECT source, created_at FROM suppressions WHERE recipient_hash = ?",
            [recipient_hash(recipient)],
        ).fetchone()
        return {
            "recipient": recipient,
            "messages": messages,
            "opted_out": dict(opted_out) if opted_out else None,
        }

    def erase_recipient(self, recipient: str, actor: str) -> dict:
        """Remove an address and every personal detail tied to it, keeping anonymous counts.

        Messages stay (so campaign numbers stay right) under a random placeholder and are no
        longer tracked or exported; their opens and clicks lose IP, user agent and headers;
        webhook deliveries lose the address, metadata and link; links whose URL holds the
        address stop redirecting; an opt-out keeps only its hash. An audit row records who
        erased how many rows, without the address.
        """
        with self.db.write() as conn:
            ids = [
                row[0]
                for row in conn.execute("SELECT id FROM messages WHERE recipient = ?", [recipient])
            ]
            counts = {
                "messages": len(ids),
                "conversions": self._erase_conversions(ids),
                "events": self._erase_messages(ids),
                "webhook_deliveries": self._erase_deliveries(ids),
                "links": self._erase_links(recipient),
                "delivery_events": self._erase_delivery_events(recipient, ids),
                "suppressions": conn.execute(
                    "UPDATE suppressions SET recipient = NULL WHERE recipient_hash = ?",
                    [recipient_hash(recipient)],
                ).rowcount,
            }
            self._erase_engagement(recipient, ids)
            conn.execute(
                "INSERT INTO erasures (at, actor, messages, events, suppressions) "
                "VALUES (?, ?, ?, ?, ?)",
                [now_iso(), actor, counts["messages"], counts["events"], counts["suppressions"]],
            )
        # Old versions of the erased pages may still sit in the write-ahead log.
        self.db.compact()
        return counts

    def _erase_engagement(self, recipient: str, ids: list[str]) -> None:
        """Recount the address (no message is left to it: its row goes) and the placeholders
        now holding its messages."""
        placeholders = []
        for chunk in chunks(ids):
            rows = self.db.execute(
                f"SELECT recipient FROM messages WHERE id IN ({marks(chunk)})", chunk
            )
            placeholders += [row[0] for row in rows]
        EngagementCounters(self.db).refresh([recipient, *placeholders])

    def _erase_messages(self, ids: list[str]) -> int:
        """Stop tracking the messages under a placeholder; strip their opens and clicks."""
        conn, events = self.db, 0
        for message_id in ids:
            # No longer tracked: a later fetch of its pixel must not store an IP again, and
            # the placeholder must never be exported as someone to mail.
            conn.execute(
                "UPDATE messages SET recipient = ?, metadata = NULL, tracked = FALSE WHERE id = ?",
                [f"erased-{secrets.token_hex(8)}", message_id],
            )
            events += conn.execute(
                f"UPDATE events SET {RAW_DETAILS} WHERE message_id = ?", [message_id]
            ).rowcount
            # A list a follow-up rule froze names the address: it leaves the list.
            conn.execute("DELETE FROM automation_recipients WHERE message_id = ?", [message_id])
            events += conn.execute(
                f"UPDATE clicks SET {CLICK_RAW_DETAILS} WHERE message_id = ?", [message_id]
            ).rowcount
        return events

    def _erase_delivery_events(self, recipient: str, ids: list[str]) -> int:
        """Take the address and the provider's details out of its ESP delivery events."""
        erased = self.db.execute(
            "UPDATE delivery_events SET recipient = NULL, detail = NULL WHERE recipient = ?",
            [recipient],
        ).rowcount
        for chunk in chunks(ids):
            erased += self.db.execute(
                "UPDATE delivery_events SET recipient = NULL, detail = NULL "
                f"WHERE message_id IN ({marks(chunk)}) AND recipient IS NOT NULL",
                chunk,
            ).rowcount
        return erased

    def _erase_conversions(self, ids: list[str]) -> int:
        """Take the order ids out of the messages' conversions; their counts and values stay.

        A conversion whose last human click was on another of the recipient's messages is
        first moved to that message: once each message has its own placeholder, nothing else
        ties them together.
        """
        erased = 0
        for chunk in chunks(ids):
            Conversions(self.db).pin_attribution(f"WHERE cv.message_id IN ({marks(chunk)})", chunk)
            erased += self.db.execute(
                f"UPDATE conversions SET {ORDER_REMOVED} "
                f"WHERE message_id IN ({marks(chunk)}) AND {ORDER_KEPT}",
                ["erased:", *chunk],
            ).rowcount
        return erased

    def _erase_deliveries(self, ids: list[str]) -> int:
        """Take the address, metadata and link out of the messages' webhook deliveries."""
        # Deliveries, sent or waiting, carry the address and metadata in their body.
        deliveries = 0
        for chunk in chunks(ids):
            deliveries += self.db.execute(
                "UPDATE webhook_deliveries SET "
                f"payload = {self.db.json_nulled('payload', ('recipient', 'metadata', 'url'))} "
                f"WHERE {self.db.json_field('payload', 'message_id')} IN ({marks(chunk)})",
                chunk,
            ).rowcount
        return deliveries

    def _erase_links(self, recipient: str) -> int:
        """Stop the redirect of links whose URL holds the address."""
        # A personalised link (".../unsubscribe?email=ann@...") is the address too: its click
        # URL stops redirecting (a plain 404) rather than keep the address. Only for an
        # address: a short subscriber id would match unrelated URLs.
        if "@" not in recipient:
            return 0
        found = self.db.contains("lower(url)")
        return self.db.execute(
            f"UPDATE links SET url = 'erased:' || id WHERE {found} OR {found}",
            [recipient.lower(), quote(recipient.lower(), safe="")],
        ).rowcount

    def erasures(self) -> list[dict]:
        """Return the erasure audit log, newest first."""
        return [dict(row) for row in self.db.execute("SELECT * FROM erasures ORDER BY id DESC")]
