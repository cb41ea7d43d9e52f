"""Delivery events in the store: each provider event once, and the status it gives its message.

Recording is one transaction: the events (a provider's replay of one is skipped by its
``(provider, provider_event_id)`` key), the message statuses and campaign counters they move
(by ``core.delivery.next_status``), and, when asked, the suppression-list rows of hard bounces
and complaints. Events naming no message we know are kept too, as unmatched, and listed.
"""

import json

from app.core.delivery import COUNTERS, DeliveryEvent, next_status, suppression_reason
from app.core.times import now_iso
from app.store.database import Database, chunks, marks
from app.store.engagement_counters import EngagementCounters
from app.store.privacy import Privacy

INSERT_EVENT = (
    "INSERT INTO delivery_events (provider, provider_event_id, message_id, campaign_id, "
    "recipient, event, bounce_type, at, received_at, matched, detail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
DELIVERED = "('delivered', 'complained')"


class DeliveryEvents:
    """Record delivery events, list the unmatched ones, count what was delivered."""

    def __init__(self, db: Database, privacy: Privacy):
        self.db = db
        self.privacy = privacy

    def record_delivery_events(self, events: list[DeliveryEvent], suppress: bool) -> dict:
        """Store events once each and move their messages' statuses; return what happened.

        The answer counts ``received``, ``stored``, ``duplicates``, ``matched``, ``unmatched``,
        ``changed`` (messages whose status moved) and ``suppressed`` (addresses added).
        """
        result = dict.fromkeys(
            ("stored", "duplicates", "matched", "unmatched", "changed", "suppressed"), 0
        )
        result["received"] = len(events)
        now = now_iso()
        with self.db.write() as conn:
            found = self._find_messages(events)
            new = []
            for event in events:
                message = found.get(id(event))
                cursor = conn.execute(
                    INSERT_EVENT,
                    [
                        event.provider,
                        event.key(),
                        message["id"] if message else event.message_id,
                        message["campaign_id"] if message else event.campaign_id,
                        message["recipient"] if message else event.recipient,
                        event.event,
                        event.bounce_type,
                        event.at,
                        now,
                        message is not None,
                        json.dumps({k: v for k, v in event.detail.items() if v is not None}),
                    ],
                )
                if cursor.rowcount != 1:
                    result["duplicates"] += 1
                    continue
                result["stored"] += 1
                result["matched" if message else "unmatched"] += 1
                if message:
                    new.append((event, message["id"]))
            result["changed"] = self._apply(new)
            # A bounce, complaint or unsubscription takes messages out of what reached them.
            EngagementCounters(self.db).refresh([found[id(event)]["recipient"] for event, _ in new])
            if suppress:
                by_reason: dict[str, list[str]] = {}
                for event, _ in new:
                    reason = suppression_reason(event)
                    if reason:
                        recipient = found[id(event)]["recipient"]
                        by_reason.setdefault(reason, []).append(recipient)
                for reason, recipients in by_reason.items():
                    result["suppressed"] += self.privacy.suppress(
                        recipients, source=f"delivery:{events[0].provider}", reason=reason
                    )
        return result

    def _find_messages(self, events: list[DeliveryEvent]) -> dict[int, dict]:
        """Return the message each event names (by our id, else campaign and recipient)."""
        by_id: dict[str, dict] = {}
        ids = [e.message_id for e in events if e.message_id]
        for chunk in chunks(list(dict.fromkeys(ids))):
            for row in self.db.execute(
                f"SELECT id, campaign_id, recipient FROM messages WHERE id IN ({marks(chunk)})",
                chunk,
            ):
                by_id[row["id"]] = dict(row)
        pairs: dict[tuple[str, str], dict] = {}
        wanted = {
            (e.campaign_id, e.recipient)
            for e in events
            if e.campaign_id and e.recipient and (not e.message_id or e.message_id not in by_id)
        }
        for campaign_id in {c for c, _ in wanted}:
            recipients = [r for c, r in wanted if c == campaign_id]
            for chunk in chunks(recipients):
                for row in self.db.execute(
                    "SELECT id, campaign_id, recipient FROM messages "
                    f"WHERE campaign_id = ? AND recipient IN ({marks(chunk)})",
                    [campaign_id, *chunk],
                ):
                    pairs[(row["campaign_id"], row["recipient"])] = dict(row)
        found = {}
        for event in events:
            message = by_id.get(event.message_id) if event.message_id else None
            message = message or pairs.get((event.campaign_id, event.recipient))
            if message:
                found[id(event)] = message
        return found

    def _apply(self, new: list[tuple[DeliveryEvent, str]]) -> int:
        """Move the statuses of the events' messages, locked in id order; return how many moved."""
        if not new:
            return 0
        ids = sorted({message_id for _, message_id in new})
        rows = {}
        for chunk in chunks(ids):
            for row in self.db.execute(
                "SELECT id, campaign_id, delivery_status, bounce_type, delivery_at, "
                f"unsubscribed_at FROM messages WHERE id IN ({marks(chunk)}) "
                f"ORDER BY id{self.db.for_update}",
                chunk,
            ):
                rows[row["id"]] = dict(row)
        before = {i: dict(r) for i, r in rows.items()}
        for event, message_id in sorted(new, key=lambda pair: pair[0].at):
            row = rows[message_id]
            if event.event == "unsubscribed":
                row["unsubscribed_at"] = row["unsubscribed_at"] or event.at
                continue
            current = (row["delivery_status"], row["bounce_type"])
            status = next_status(current, event.event, event.bounce_type)
            if status != current:
                row["delivery_status"], row["bounce_type"] = status
                row["delivery_at"] = event.at
        deltas: dict[str, dict[str, int]] = {}
        changed = 0
        for message_id in ids:
            row, old_row = rows[message_id], before[message_id]
            if row == old_row:
                continue
            delta = deltas.setdefault(
                row["campaign_id"], dict.fromkeys([*COUNTERS.values(), "unsubscribed"], 0)
            )
            old = (old_row["delivery_status"], old_row["bounce_type"])
            now = (row["delivery_status"], row["bounce_type"])
            if old != now:
                changed += 1
                if old in COUNTERS:
                    delta[COUNTERS[old]] -= 1
                delta[COUNTERS[now]] += 1
            if old_row["unsubscribed_at"] is None and row["unsubscribed_at"] is not None:
                delta["unsubscribed"] += 1
            self.db.execute(
                "UPDATE messages SET delivery_status = ?, bounce_type = ?, delivery_at = ?, "
                "unsubscribed_at = ? WHERE id = ?",
                [now[0], now[1], row["delivery_at"], row["unsubscribed_at"], message_id],
            )
        for campaign_id, delta in sorted(deltas.items()):
            columns = [column for column, step in delta.items() if step]
            if columns:
                self.db.execute(
                    "UPDATE campaigns SET "
                    + ", ".join(f"{column} = {column} + ?" for column in columns)
                    + " WHERE id = ?",
                    [*(delta[column] for column in columns), campaign_id],
                )
        return changed

    def list_delivery_events(self, matched: bool | None, limit: int, offset: int) -> list[dict]:
        """Return delivery events, newest first; only matched or unmatched ones when asked."""
        where = "" if matched is None else ("WHERE matched" if matched else "WHERE NOT matched")
        rows = self.db.execute(
            "SELECT id, provider, provider_event_id, message_id, campaign_id, recipient, event, "
            f"bounce_type, at, received_at, matched, detail FROM delivery_events {where} "
            "ORDER BY id DESC LIMIT ? OFFSET ?",
            [limit, offset],
        )
        return [_event_row(row) for row in rows]

    def count_delivery_events(self) -> dict:
        """Return how many delivery events are stored, matched and unmatched."""
        row = self.db.execute(
            "SELECT count(*) FILTER (WHERE matched), count(*) FILTER (WHERE NOT matched) "
            "FROM delivery_events"
        ).fetchone()
        return {"matched": row[0], "unmatched": row[1]}

    def message_delivery_events(self, message_id: str) -> list[dict]:
        """Return a message's delivery events, oldest first."""
        rows = self.db.execute(
            "SELECT id, provider, provider_event_id, message_id, campaign_id, recipient, event, "
            "bounce_type, at, received_at, matched, detail FROM delivery_events "
            "WHERE message_id = ? ORDER BY at, id",
            [message_id],
        )
        return [_event_row(row) for row in rows]

    def delivered_numbers(self, campaign_id: str) -> dict:
        """Return counts among a campaign's tracked messages known delivered (or complained of)."""
        row = self.db.execute(
            "SELECT count(*), count(*) FILTER (WHERE state = 'opened'), "
            "count(*) FILTER (WHERE state = 'unknown'), "
            "count(*) FILTER (WHERE first_fetch_at IS NOT NULL), "
            "count(*) FILTER (WHERE human_clicks > 0) FROM messages "
            f"WHERE campaign_id = ? AND delivery_status IN {DELIVERED} AND tracked",
            [campaign_id],
        ).fetchone()
        names = ("delivered", "opened", "unknown", "fetched", "clickers")
        return dict(zip(names, row, strict=True))


def _event_row(row) -> dict:
    event = dict(row)
    event["matched"] = bool(event["matched"])
    event["detail"] = json.loads(event["detail"]) if event["detail"] else {}
    return event
