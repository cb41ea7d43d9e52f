"""Open events in the store: recorded once each, with their counters and webhook deliveries.

Recording is one transaction: the events, the message rows and campaign counters they move
(worked out by ``core.counters``), and the webhook outbox rows that announce them. An event is
stored with everything it changes or not at all.
"""

from collections.abc import Iterator
from operator import itemgetter

from app.core import counters
from app.store.database import Database, batches_by_id, chunks, locked_rows, marks
from app.store.engagement_counters import EngagementCounters
from app.store.followups import count_both_opened
from app.store.messages import MESSAGE_COLUMNS
from app.store.privacy import Privacy
from app.store.webhooks import Webhooks

# The first three in this order: _insert fills them and takes the rest from the event as named.
EVENT_FIELDS = (
    "event_key",
    "message_id",
    "campaign_id",
    "at",
    "ip",
    "user_agent",
    "method",
    "x_requested_with",
    "sec_purpose",
    "seconds_since_send",
    "client",
    "client_version",
    "os",
    "device",
    "verdict",
    "source",
    "reason",
    "country",
    "asn",
)
INSERT_EVENT = (
    f"INSERT INTO events ({', '.join(EVENT_FIELDS)}) VALUES ({', '.join('?' * len(EVENT_FIELDS))})"
)
# The columns a batch of opens can move but the state, then the key. Positional parameters:
# binding named ones looks every name up in the row's dict and costs about three times as much.
MESSAGE_MOVED = (
    "opens",
    "human_opens",
    "machine_opens",
    "mpp_opens",
    "first_fetch_at",
    "first_open_at",
    "last_open_at",
    "last_client",
)
UPDATE_MESSAGE = (
    f"UPDATE messages SET {', '.join(f'{column} = ?' for column in MESSAGE_MOVED)} WHERE id = ?"
)
# A message whose state moved: SQLite rewrites the two indexes holding the state whenever the
# column is SET, even to the value it had, so only these rows set it (a row without costs half).
UPDATE_MESSAGE_STATE = UPDATE_MESSAGE.replace("SET ", "SET state = ?, ", 1)
message_params = itemgetter(*MESSAGE_MOVED, "id")
message_state_params = itemgetter("state", *MESSAGE_MOVED, "id")
# The columns _tracked_messages reads, by position.
TRACKED_COLUMNS = (*(column.strip() for column in MESSAGE_COLUMNS.split(",")), "human_clicks")
UPDATE_CAMPAIGN = (
    "UPDATE campaigns SET fetched = fetched + :fetched, opened = opened + :opened, "
    "unknown = unknown + :unknown, total_opens = total_opens + :total_opens, "
    "human_opens = human_opens + :human_opens, machine_opens = machine_opens + :machine_opens, "
    "hidden_opened = hidden_opened + :hidden_opened, "
    "visible_opened_clicked = visible_opened_clicked + :visible_opened_clicked, "
    "first_open_at = CASE WHEN first_open_at IS NULL OR :first < first_open_at THEN :first "
    "ELSE first_open_at END, "
    "last_open_at = CASE WHEN last_open_at IS NULL OR :last > last_open_at THEN :last "
    "ELSE last_open_at END WHERE id = :id"
)
ADD_HOURS = (
    "INSERT INTO campaign_hours (campaign_id, hour, human, machine) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (campaign_id, hour) DO UPDATE SET "
    "human = campaign_hours.human + excluded.human, "
    "machine = campaign_hours.machine + excluded.machine"
)
ADD_BREAKDOWNS = (
    "INSERT INTO campaign_breakdowns (campaign_id, dimension, value, opens, human_opens, "
    "machine_opens, openers) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (campaign_id, dimension, value) DO UPDATE SET "
    "opens = campaign_breakdowns.opens + excluded.opens, "
    "human_opens = campaign_breakdowns.human_opens + excluded.human_opens, "
    "machine_opens = campaign_breakdowns.machine_opens + excluded.machine_opens, "
    "openers = campaign_breakdowns.openers + excluded.openers"
)

ADD_FIRST_OPENS = (
    "INSERT INTO campaign_first_opens (campaign_id, bucket, messages) VALUES (?, ?, ?) "
    "ON CONFLICT (campaign_id, bucket) DO UPDATE SET "
    "messages = campaign_first_opens.messages + excluded.messages"
)


class OpenEvents:
    """Record open events with their counters, and read the raw facts back for reclassifying."""

    def __init__(self, db: Database, privacy: Privacy, webhooks: Webhooks):
        self.db = db
        self.privacy = privacy
        self.webhooks = webhooks
        self.engagement = EngagementCounters(db)

    def record_opens(self, events: list[dict]) -> int:
        """Store open events and update message states and campaign counters in one go.

        Each event carries an ``event_key``; an event whose key is already stored is skipped,
        so replaying a spool after a crash stores every event exactly once. Events of unknown
        or untracked messages, and of recipients who opted out, are skipped too. Returns how
        many events were stored.
        """
        if not events:
            return 0
        with self.db.write():
            messages = self._tracked_messages({event["message_id"] for event in events})
            new = self._new_events(events, messages)
            # The rows of the messages this batch moves, as they were before it.
            before = {key: dict(messages[key]) for key in {e["message_id"] for e in new}}
            tally = counters.tally(new, messages)
            self._insert(new, messages)
            self._apply(tally, messages, before)
            after = {key: messages[key] for key in before}
            self.engagement.count_opens(before, after, new)
            count_both_opened(
                self.db,
                [
                    after[key]
                    for key in sorted(after)
                    if after[key]["state"] == "opened" and before[key]["state"] != "opened"
                ],
            )
            stored = zip(new, tally.first_human, strict=True)
            self.webhooks.enqueue_opens(
                [(event, messages[event["message_id"]], first) for event, first in stored]
            )
        return len(new)

    def _tracked_messages(self, message_ids: set[str]) -> dict[str, dict]:
        """Return the tracked messages among these ids whose recipient has not opted out.

        Their rows stay locked until the transaction ends (on PostgreSQL; SQLite has one writer
        anyway), taken in id order so that two writers never wait for each other in a circle.
        """
        messages = locked_rows(self.db, "messages", TRACKED_COLUMNS, message_ids, "tracked")
        # A recipient who opted out after the send is not recorded any more.
        opted_out = self.privacy.suppressed([m["recipient"] for m in messages.values()])
        return {key: m for key, m in messages.items() if m["recipient"] not in opted_out}

    def _new_events(self, events: list[dict], messages: dict[str, dict]) -> list[dict]:
        """Return the events of these messages whose key is stored neither before nor twice."""
        # Keys already stored are rare (a spool replayed after a crash): one look for all of
        # them lets the new rows go in with a single executemany.
        seen = set()
        for chunk in chunks([event["event_key"] for event in events]):
            seen.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT event_key FROM events WHERE event_key IN ({marks(chunk)})", chunk
                )
            )
        new = []
        for event in events:
            if event["message_id"] in messages and event["event_key"] not in seen:
                seen.add(event["event_key"])
                new.append(event)
        return new

    def _insert(self, events: list[dict], messages: dict[str, dict]) -> None:
        rest = EVENT_FIELDS[3:]
        rows = [
            (
                event["event_key"],
                event["message_id"],
                messages[event["message_id"]]["campaign_id"],
                *map(event.get, rest),
            )
            for event in events
        ]
        self.db.executemany(INSERT_EVENT, rows)

    def _apply(
        self, tally: counters.Tally, messages: dict[str, dict], before: dict[str, dict]
    ) -> None:
        # Every row in key order, like the messages: concurrent writers queue, never deadlock.
        # (The messages' rows are locked already, in id order, by _tracked_messages.)
        db = self.db
        touched = [messages[key] for key in sorted(tally.touched)]
        moved = [m for m in touched if m["state"] != before[m["id"]]["state"]]
        db.executemany(UPDATE_MESSAGE_STATE, [message_state_params(m) for m in moved])
        db.executemany(
            UPDATE_MESSAGE,
            [message_params(m) for m in touched if m["state"] == before[m["id"]]["state"]],
        )
        for campaign_id, delta in sorted(tally.campaigns.items()):
            db.execute(UPDATE_CAMPAIGN, {**delta, "id": campaign_id})
        db.executemany(ADD_HOURS, [(*key, *counts) for key, counts in sorted(tally.hours.items())])
        db.executemany(
            ADD_BREAKDOWNS, [(*key, *counts) for key, counts in sorted(tally.parts.items())]
        )
        first_opens = sorted((*key, n) for key, n in tally.first_opens.items() if n)
        if first_opens:
            db.executemany(ADD_FIRST_OPENS, first_opens)

    def iter_events(self, campaign_id: str | None = None) -> Iterator[list[dict]]:
        """Yield the raw facts of stored events, a thousand at a time, oldest first."""
        return batches_by_id(
            self.db,
            "id, message_id, campaign_id, at, ip, user_agent, method, x_requested_with, "
            "sec_purpose, seconds_since_send, verdict, source, country, asn FROM events",
            "(CAST(? AS TEXT) IS NULL OR campaign_id = ?)",
            [campaign_id, campaign_id],
        )

    def person_fetches(self, message_ids: list[str]) -> dict[str, list[tuple[str | None, str]]]:
        """Return the (IP as stored, time) of each pixel fetch a person's own client made of
        these messages (verdict human, source direct), by message, in one query per chunk."""
        found: dict[str, list[tuple[str | None, str]]] = {}
        for chunk in chunks(sorted(set(message_ids))):
            for row in self.db.execute(
                "SELECT message_id, ip, at FROM events "
                f"WHERE message_id IN ({marks(chunk)}) AND verdict = 'human' "
                "AND source = 'direct'",
                chunk,
            ):
                found.setdefault(row["message_id"], []).append((row["ip"], row["at"]))
        return found

    def count_events(self, campaign_id: str | None = None) -> int:
        """Return how many open events a campaign has (all campaigns when None)."""
        return self.db.execute(
            "SELECT count(*) FROM events WHERE (CAST(? AS TEXT) IS NULL OR campaign_id = ?)",
            [campaign_id, campaign_id],
        ).fetchone()[0]

    def update_verdicts(self, verdicts: list[dict]) -> None:
        """Replace the classification of stored events (each dict has the event's id)."""
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE events SET client = :client, client_version = :client_version, "
                "os = :os, device = :device, verdict = :verdict, source = :source, "
                "reason = :reason, country = :country, asn = :asn WHERE id = :id",
                verdicts,
            )
