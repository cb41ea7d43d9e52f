"""Open events in the embedded store: recording them with their counters, and rebuilding.

Part of the store (the only code that speaks SQL); mixed into ``store.Store``, whose
``db`` and ``_write`` it uses.
"""

from collections import defaultdict
from collections.abc import Iterator

from app.core.stats import message_state
from app.core.times import hour_of

MESSAGE_COLUMNS = (
    "id, campaign_id, recipient, metadata, injected_at, state, opens, human_opens, "
    "machine_opens, mpp_opens, first_fetch_at, first_open_at, last_open_at, last_client, "
    "tracked"
)
# SQLite allows 32,766 bound parameters; stay well below for IN (...) lists.
CHUNK = 500


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    """Yield successive slices of items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class OpenEvents:
    """Record open events, keep counters, and rebuild them from the raw facts."""

    def record_opens(self, events: list[dict]) -> int:
        """Store open events and update message states and campaign counters in one go.

        Each event carries an ``event_key``; an event whose key is already stored is skipped,
        so replaying a spool after a crash stores every event exactly once. Events naming an
        unknown message are skipped too. Returns how many events were stored.
        """
        if not events:
            return 0
        stored = 0
        with self._write() as conn:
            messages = {}
            for chunk in chunks(list({event["message_id"] for event in events})):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN ({marks}) AND tracked",
                    chunk,
                ):
                    messages[row["id"]] = dict(row)
            # A recipient who opted out after the send is not recorded any more.
            opted_out = self.suppressed([m["recipient"] for m in messages.values()])
            campaigns: dict[str, dict] = defaultdict(_campaign_delta)
            hours: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
            # (campaign, dimension, value) -> [opens, human opens, machine opens, openers]
            parts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
            touched = set()
            # (event, message, first human open) of each event stored now, for the hook.
            new_events = []
            # Keys already stored are rare (a spool replayed after a crash): one look for all
            # of them lets the new rows go in with a single executemany.
            seen = set()
            for chunk in chunks([event["event_key"] for event in events]):
                marks = ",".join("?" * len(chunk))
                seen.update(
                    row[0]
                    for row in conn.execute(
                        f"SELECT event_key FROM events WHERE event_key IN ({marks})", chunk
                    )
                )
            rows = []
            for event in events:
                message = messages.get(event["message_id"])
                if message is None or message["recipient"] in opted_out:
                    continue
                if event["event_key"] in seen:
                    continue
                seen.add(event["event_key"])
                rows.append(
                    (
                        event["event_key"],
                        message["id"],
                        message["campaign_id"],
                        event["at"],
                        event.get("ip"),
                        event.get("user_agent"),
                        event.get("method"),
                        event.get("x_requested_with"),
                        event.get("sec_purpose"),
                        event.get("seconds_since_send"),
                        event.get("client"),
                        event.get("client_version"),
                        event.get("os"),
                        event.get("device"),
                        event["verdict"],
                        event["source"],
                        event.get("reason"),
                        event.get("country"),
                        event.get("asn"),
                    )
                )
                stored += 1
                touched.add(message["id"])
                first_human = _count_event(message, event, campaigns[message["campaign_id"]])
                new_events.append((event, message, first_human))
                human = event["verdict"] == "human"
                hours[(message["campaign_id"], hour_of(event["at"]))][0 if human else 1] += 1
                for dimension in DIMENSIONS:
                    counts = parts[(message["campaign_id"], dimension, _value(event, dimension))]
                    counts[0] += 1
                    counts[1 if human else 2] += 1
                    counts[3] += first_human
            conn.executemany(
                "INSERT INTO events (event_key, message_id, campaign_id, at, ip, user_agent, "
                "method, x_requested_with, sec_purpose, seconds_since_send, client, "
                "client_version, os, device, verdict, source, reason, country, asn) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "UPDATE messages SET state = :state, opens = :opens, human_opens = :human_opens, "
                "machine_opens = :machine_opens, mpp_opens = :mpp_opens, "
                "first_fetch_at = :first_fetch_at, first_open_at = :first_open_at, "
                "last_open_at = :last_open_at, last_client = :last_client WHERE id = :id",
                [messages[message_id] for message_id in touched],
            )
            for campaign_id, delta in campaigns.items():
                conn.execute(
                    "UPDATE campaigns SET fetched = fetched + :fetched, opened = opened + :opened, "
                    "unknown = unknown + :unknown, total_opens = total_opens + :total_opens, "
                    "human_opens = human_opens + :human_opens, "
                    "machine_opens = machine_opens + :machine_opens, "
                    "first_open_at = min(coalesce(first_open_at, :first), :first), "
                    "last_open_at = max(coalesce(last_open_at, :last), :last) WHERE id = :id",
                    {**delta, "id": campaign_id},
                )
            conn.executemany(
                "INSERT INTO campaign_hours (campaign_id, hour, human, machine) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (campaign_id, hour) DO UPDATE SET "
                "human = human + excluded.human, machine = machine + excluded.machine",
                [(campaign, hour, h, m) for (campaign, hour), (h, m) in hours.items()],
            )
            conn.executemany(
                "INSERT INTO campaign_breakdowns (campaign_id, dimension, value, opens, "
                "human_opens, machine_opens, openers) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (campaign_id, dimension, value) DO UPDATE SET "
                "opens = opens + excluded.opens, human_opens = human_opens + excluded.human_opens, "
                "machine_opens = machine_opens + excluded.machine_opens, "
                "openers = openers + excluded.openers",
                [(*key, *counts) for key, counts in parts.items()],
            )
            self.opens_stored(conn, new_events)
        return stored

    def opens_stored(self, conn, stored: list[tuple[dict, dict, int]]) -> None:
        """Called inside record_opens' transaction with each newly stored event (a hook)."""

    def breakdowns(self, campaign_id: str) -> dict[str, list[dict]]:
        """Return opens and openers by client, OS, device, country and source, with shares.

        An opener counts under the client (OS, ...) of their first human open; shares are of
        all opens and of all openers of the campaign.
        """
        result: dict[str, list[dict]] = {dimension: [] for dimension in DIMENSIONS}
        rows = self.db.execute(
            "SELECT dimension, value, opens, human_opens, machine_opens, openers "
            "FROM campaign_breakdowns WHERE campaign_id = ? ORDER BY opens DESC, value",
            [campaign_id],
        )
        for row in rows:
            result[row["dimension"]].append(dict(row))
        for items in result.values():
            opens = sum(item["opens"] for item in items)
            openers = sum(item["openers"] for item in items)
            for item in items:
                item["share"] = round(item["opens"] / opens, 4) if opens else None
                item["openers_share"] = round(item["openers"] / openers, 4) if openers else None
        return result

    def iter_events(self, campaign_id: str | None = None) -> Iterator[list[dict]]:
        """Yield the raw facts of stored events, a thousand at a time, oldest first."""
        last_id = 0
        while True:
            rows = self.db.execute(
                "SELECT id, message_id, campaign_id, at, ip, user_agent, method, x_requested_with, "
                "sec_purpose, seconds_since_send, verdict, source, country, asn FROM events "
                "WHERE id > ? AND (? IS NULL OR campaign_id = ?) ORDER BY id LIMIT 1000",
                [last_id, campaign_id, campaign_id],
            ).fetchall()
            if not rows:
                return
            last_id = rows[-1]["id"]
            yield [dict(row) for row in rows]

    def count_events_of(self, campaign_id: str | None = None) -> int:
        """Return how many events a campaign has (all campaigns when None)."""
        return self.db.execute(
            "SELECT count(*) FROM events WHERE (? IS NULL OR campaign_id = ?)",
            [campaign_id, campaign_id],
        ).fetchone()[0]

    def update_verdicts(self, verdicts: list[dict]) -> None:
        """Replace the classification of stored events (each dict has the event's id)."""
        with self._write() as conn:
            conn.executemany(
                "UPDATE events SET client = :client, client_version = :client_version, "
                "os = :os, device = :device, verdict = :verdict, source = :source, "
                "reason = :reason, country = :country, asn = :asn WHERE id = :id",
                verdicts,
            )

    def rebuild_counters(self, campaign_id: str) -> None:
        """Recompute a campaign's message states and counters from its stored events."""
        with self._write() as conn:
            conn.execute(REBUILD_MESSAGES, {"campaign": campaign_id})
            conn.execute(REBUILD_STATES, {"campaign": campaign_id})
            conn.execute(REBUILD_CAMPAIGN, {"campaign": campaign_id})
            conn.execute("DELETE FROM campaign_hours WHERE campaign_id = ?", [campaign_id])
            conn.execute(REBUILD_HOURS, {"campaign": campaign_id})
            conn.execute("DELETE FROM campaign_breakdowns WHERE campaign_id = ?", [campaign_id])
            for dimension in DIMENSIONS:
                conn.execute(
                    REBUILD_BREAKDOWN.format(column=dimension),
                    {"campaign": campaign_id, "dimension": dimension},
                )

    def campaign_ids(self) -> list[str]:
        """Return every campaign id."""
        return [row[0] for row in self.db.execute("SELECT id FROM campaigns ORDER BY id")]


DIMENSIONS = ("client", "os", "device", "country", "source")


def _value(event: dict, dimension: str) -> str:
    return event.get(dimension) or "unknown"


# The same rules as _count_event, in SQL, for re-running over stored events.
REBUILD_MESSAGES = """
UPDATE messages SET
  opens = (SELECT count(*) FROM events e WHERE e.message_id = messages.id),
  human_opens = (SELECT count(*) FROM events e
                 WHERE e.message_id = messages.id AND e.verdict = 'human'),
  machine_opens = (SELECT count(*) FROM events e
                   WHERE e.message_id = messages.id AND e.verdict != 'human'),
  mpp_opens = (SELECT count(*) FROM events e
               WHERE e.message_id = messages.id AND e.source = 'apple_mpp'),
  first_fetch_at = (SELECT min(at) FROM events e WHERE e.message_id = messages.id),
  first_open_at = (SELECT min(at) FROM events e
                   WHERE e.message_id = messages.id AND e.verdict = 'human'),
  last_open_at = (SELECT max(at) FROM events e WHERE e.message_id = messages.id),
  last_client = (SELECT client FROM events e WHERE e.message_id = messages.id
                 ORDER BY at DESC, id DESC LIMIT 1)
WHERE campaign_id = :campaign AND tracked;
"""
# A separate statement: SQLite computes every SET expression from the row's old values.
REBUILD_STATES = """
UPDATE messages SET state = CASE WHEN human_opens > 0 THEN 'opened'
                                 WHEN mpp_opens > 0 THEN 'unknown'
                                 ELSE 'not_opened' END
WHERE campaign_id = :campaign AND tracked;
"""
REBUILD_CAMPAIGN = """
UPDATE campaigns SET
  fetched = (SELECT count(*) FROM messages WHERE campaign_id = :campaign AND opens > 0),
  opened = (SELECT count(*) FROM messages WHERE campaign_id = :campaign AND state = 'opened'),
  unknown = (SELECT count(*) FROM messages WHERE campaign_id = :campaign AND state = 'unknown'),
  total_opens = (SELECT count(*) FROM events WHERE campaign_id = :campaign),
  human_opens = (SELECT count(*) FROM events
                 WHERE campaign_id = :campaign AND verdict = 'human'),
  machine_opens = (SELECT count(*) FROM events
                   WHERE campaign_id = :campaign AND verdict != 'human'),
  first_open_at = (SELECT min(at) FROM events WHERE campaign_id = :campaign),
  last_open_at = (SELECT max(at) FROM events WHERE campaign_id = :campaign)
WHERE id = :campaign;
"""
REBUILD_HOURS = """
INSERT INTO campaign_hours (campaign_id, hour, human, machine)
SELECT campaign_id, substr(at, 1, 13) || ':00:00Z',
       sum(verdict = 'human'), sum(verdict != 'human')
FROM events WHERE campaign_id = :campaign GROUP BY 2;
"""
REBUILD_BREAKDOWN = """
INSERT INTO campaign_breakdowns
  (campaign_id, dimension, value, opens, human_opens, machine_opens, openers)
SELECT :campaign, :dimension, coalesce(nullif({column}, ''), 'unknown'), count(*),
       sum(verdict = 'human'), sum(verdict != 'human'), sum(first_human)
FROM (
  SELECT {column}, verdict,
         verdict = 'human' AND row_number() OVER (
           PARTITION BY message_id, verdict = 'human' ORDER BY at, id) = 1 AS first_human
  FROM events WHERE campaign_id = :campaign
)
GROUP BY 3;
"""


def _campaign_delta() -> dict:
    return {
        "fetched": 0,
        "opened": 0,
        "unknown": 0,
        "total_opens": 0,
        "human_opens": 0,
        "machine_opens": 0,
        "first": None,
        "last": None,
    }


def _count_event(message: dict, event: dict, delta: dict) -> int:
    """Apply one new event to its message row and its campaign's counter deltas.

    Returns 1 when the event is the message's first human open, else 0.
    """
    at = event["at"]
    old_state = message["state"]
    if message["opens"] == 0:
        delta["fetched"] += 1
    message["opens"] += 1
    delta["total_opens"] += 1
    if event["verdict"] == "human":
        message["human_opens"] += 1
        delta["human_opens"] += 1
        message["first_open_at"] = min(filter(None, [message["first_open_at"], at]))
    else:
        message["machine_opens"] += 1
        delta["machine_opens"] += 1
    if event["source"] == "apple_mpp":
        message["mpp_opens"] += 1
    message["first_fetch_at"] = min(filter(None, [message["first_fetch_at"], at]))
    if message["last_open_at"] is None or at >= message["last_open_at"]:
        message["last_open_at"] = at
        message["last_client"] = event.get("client")
    new_state = message_state(message["human_opens"], message["mpp_opens"])
    if new_state != old_state:
        message["state"] = new_state
        for state, step in ((old_state, -1), (new_state, 1)):
            if state in ("opened", "unknown"):
                delta[state] += step
    delta["first"] = min(filter(None, [delta["first"], at]))
    delta["last"] = max(filter(None, [delta["last"], at]))
    return int(event["verdict"] == "human" and message["human_opens"] == 1)
