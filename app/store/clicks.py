"""Tracked links and clicks in the store.

A click is stored judged-for-now, then settled a couple of seconds later: the rules
(``rules.clicks.settle``) give its final verdict from the burst it belongs to, and say which
open a person's click implies; settling applies that to the click, the link, message and
campaign counters, the implied open and the webhook outbox in one transaction. ``opentrack
reclassify`` reads settled clicks' raw facts back, rewrites the verdicts that changed, makes
their messages' implied opens again and rebuilds the click counters from the clicks.
"""

from collections.abc import Callable, Iterator

from app.core.times import from_iso, now_iso, to_iso
from app.store.database import Database, batches_by_id, chunks, marks
from app.store.engagement_counters import EngagementCounters
from app.store.events import EVENT_FIELDS, INSERT_EVENT, OpenEvents
from app.store.privacy import Privacy
from app.store.webhooks import Webhooks

CLICK_FIELDS = (
    "event_key",
    "message_id",
    "campaign_id",
    "link_id",
    "at",
    "ip",
    "user_agent",
    "method",
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
# A click's final (verdict, source, reason), and the open event it implies or None; given the
# click's row, how many links of its message were clicked around it, and the message's first
# human open.
Settle = Callable[[dict, int, str | None], tuple[tuple[str, str, str], dict | None]]
# The raw facts a settled click is judged again on by ``opentrack reclassify``.
RAW_CLICK_COLUMNS = (
    "id, event_key, message_id, campaign_id, link_id, at, ip, user_agent, method, "
    "seconds_since_send, client, client_version, os, device, verdict, source, reason, "
    "country, asn"
)
# The same counts settle_clicks moves one click at a time (Clicks._count), from the clicks.
REBUILD_LINKS = """
UPDATE links SET
  clicks = (SELECT count(*) FROM clicks c WHERE c.link_id = links.id AND c.settled),
  human_clicks = (SELECT count(*) FROM clicks c
                  WHERE c.link_id = links.id AND c.settled AND c.verdict = 'human'),
  machine_clicks = (SELECT count(*) FROM clicks c
                    WHERE c.link_id = links.id AND c.settled AND c.verdict != 'human'),
  clickers = (SELECT count(DISTINCT c.message_id) FROM clicks c
              WHERE c.link_id = links.id AND c.settled AND c.verdict = 'human')
WHERE campaign_id = :campaign;
"""
REBUILD_MESSAGE_CLICKS = """
UPDATE messages SET
  human_clicks = (SELECT count(*) FROM clicks c
                  WHERE c.message_id = messages.id AND c.settled AND c.verdict = 'human')
WHERE campaign_id = :campaign;
"""
REBUILD_CAMPAIGN_CLICKS = """
UPDATE campaigns SET
  clicks = (SELECT count(*) FROM clicks c WHERE c.campaign_id = :campaign AND c.settled),
  human_clicks = (SELECT count(*) FROM clicks c
                  WHERE c.campaign_id = :campaign AND c.settled AND c.verdict = 'human'),
  machine_clicks = (SELECT count(*) FROM clicks c
                    WHERE c.campaign_id = :campaign AND c.settled AND c.verdict != 'human'),
  clickers = (SELECT count(DISTINCT c.message_id) FROM clicks c
              WHERE c.campaign_id = :campaign AND c.settled AND c.verdict = 'human')
WHERE id = :campaign;
"""


class Clicks:
    """Register links at injection, record clicks, and settle their verdicts and counters."""

    def __init__(self, db: Database, privacy: Privacy, opens: OpenEvents, webhooks: Webhooks):
        self.db = db
        self.privacy = privacy
        self.opens = opens
        self.webhooks = webhooks
        self.engagement = EngagementCounters(db)

    def register_links(self, campaign_id: str, urls: list[str]) -> dict[str, int]:
        """Store a campaign's link URLs (once each) and return the id of each."""
        unique = list(dict.fromkeys(urls))
        found = {}
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO links (campaign_id, url, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                [(campaign_id, url, now_iso()) for url in unique],
            )
            for chunk in chunks(unique):
                for row in conn.execute(
                    f"SELECT id, url FROM links WHERE campaign_id = ? AND url IN ({marks(chunk)})",
                    [campaign_id, *chunk],
                ):
                    found[row["url"]] = row["id"]
        return found

    def link_target(self, link_id: int, message_id: str) -> str | None:
        """Return the URL a message's link redirects to, or None when the message has no such
        link (the link or the message is unknown, or they are of different campaigns)."""
        row = self.db.execute(
            "SELECT l.url FROM links l JOIN messages m ON m.campaign_id = l.campaign_id "
            "WHERE l.id = ? AND m.id = ?",
            [link_id, message_id],
        ).fetchone()
        return row["url"] if row else None

    def link_counts(self, campaign_id: str, limit: int = 500) -> list[dict]:
        """Return a campaign's links with their clicks and clickers, most clicked first."""
        rows = self.db.execute(
            "SELECT id, url, clicks, human_clicks, machine_clicks, clickers FROM links "
            "WHERE campaign_id = ? ORDER BY human_clicks DESC, clicks DESC, id LIMIT ?",
            [campaign_id, limit],
        )
        return [dict(row) for row in rows]

    def message_clicks(self, message_id: str) -> list[dict]:
        """Return a message's clicks, oldest first, with the URL each followed."""
        rows = self.db.execute(
            "SELECT c.at, l.url, c.verdict, c.source, c.reason, c.client, c.os, c.device, "
            "c.country, c.ip, c.user_agent, c.method, c.seconds_since_send, c.settled "
            "FROM clicks c JOIN links l ON l.id = c.link_id WHERE c.message_id = ? "
            "ORDER BY c.at, c.id",
            [message_id],
        )
        # 0 or 1 on both engines, as the API has always said.
        return [{**dict(row), "settled": int(row["settled"])} for row in rows]

    def store_clicks(self, clicks: list[dict]) -> int:
        """Store judged-for-now clicks (each with an ``event_key``) once each; return how many.

        Clicks of unknown or untracked messages, of recipients who opted out, and on links of
        another campaign are skipped.
        """
        if not clicks:
            return 0
        stored, clicked = 0, {}
        with self.db.write() as conn:
            messages = self._tracked_messages({click["message_id"] for click in clicks})
            links = self._link_campaigns({click["link_id"] for click in clicks})
            for click in clicks:
                message = messages.get(click["message_id"])
                if message is None or links.get(click["link_id"]) != message["campaign_id"]:
                    continue
                campaign_id = message["campaign_id"]
                values = [campaign_id if f == "campaign_id" else click.get(f) for f in CLICK_FIELDS]
                cursor = conn.execute(
                    f"INSERT INTO clicks ({', '.join(CLICK_FIELDS)}) "
                    f"VALUES ({', '.join('?' * len(CLICK_FIELDS))}) ON CONFLICT DO NOTHING",
                    values,
                )
                stored += cursor.rowcount == 1
                if cursor.rowcount == 1 and click.get("verdict") == "human":
                    recipient = message["recipient"]
                    clicked[recipient] = max(click["at"], clicked.get(recipient, click["at"]))
            # A person's click, judged for now, is their last human click already.
            self.engagement.count_click_times(clicked)
        return stored

    def _link_campaigns(self, link_ids: set[int]) -> dict[int, str]:
        """Return the campaign of each known link."""
        found = {}
        for chunk in chunks(sorted(link_ids)):
            for row in self.db.execute(
                f"SELECT id, campaign_id FROM links WHERE id IN ({marks(chunk)})", chunk
            ):
                found[row["id"]] = row["campaign_id"]
        return found

    def _tracked_messages(self, message_ids: set[str]) -> dict[str, dict]:
        messages = {}
        for chunk in chunks(list(message_ids)):
            for row in self.db.execute(
                "SELECT id, campaign_id, recipient FROM messages "
                f"WHERE id IN ({marks(chunk)}) AND tracked",
                chunk,
            ):
                messages[row["id"]] = dict(row)
        opted_out = self.privacy.suppressed([m["recipient"] for m in messages.values()])
        return {key: m for key, m in messages.items() if m["recipient"] not in opted_out}

    def settle_clicks(
        self, before: str, settle: Settle, burst_seconds: float, limit: int = 1000
    ) -> int:
        """Give clicks recorded before a time their final verdict, and count them.

        In one transaction: each click gets the verdict ``settle`` gives it from the clicks on
        other links of its message within ``burst_seconds``; link, message and campaign
        counters move; the open a person's click implies is recorded; webhooks are queued.
        Returns how many clicks were settled.
        """
        # A read first: web workers call this after every batch, and most find nothing to do;
        # taking the write lock for nothing would make them queue behind each other.
        if not self.db.execute(
            "SELECT 1 FROM clicks WHERE NOT settled AND at <= ? LIMIT 1", [before]
        ).fetchone():
            return 0
        with self.db.write() as conn:
            # Each click is settled once: on PostgreSQL, a second settler skips the rows the
            # first one holds.
            rows = conn.execute(
                "SELECT c.*, l.url FROM clicks c JOIN links l ON l.id = c.link_id "
                "WHERE NOT c.settled AND c.at <= ? ORDER BY c.at, c.id LIMIT ?"
                + (" FOR UPDATE OF c SKIP LOCKED" if self.db.skip_locked else ""),
                [before, limit],
            ).fetchall()
            self._lock_messages({row["message_id"] for row in rows})
            implied, settled, opened = [], [], set()
            for row in rows:
                click = dict(row)
                linked = self._links_around(click, burst_seconds)
                message = conn.execute(
                    "SELECT recipient, metadata, human_clicks, first_open_at FROM messages "
                    "WHERE id = ?",
                    [click["message_id"]],
                ).fetchone()
                final, open_event = settle(click, linked, message and message["first_open_at"])
                click["verdict"], click["source"], click["reason"] = final
                conn.execute(
                    "UPDATE clicks SET verdict = ?, source = ?, reason = ?, settled = TRUE "
                    "WHERE id = ?",
                    [*final, click["id"]],
                )
                if message is None:
                    continue
                self._count(click, message)
                # One implied open per message and batch: the message row read above does not
                # see the open implied by an earlier click of this batch.
                if open_event and click["message_id"] not in opened:
                    opened.add(click["message_id"])
                    implied.append(open_event)
                settled.append({**click, **dict(message)})
            # Settling moves clicks, and may make a seen open one a click implied: the rows
            # are recounted, locked (in key order) before the implied opens add to them.
            recipients = sorted({click["recipient"] for click in settled})
            self.engagement.lock_rows(recipients)
            self.opens.record_opens(implied)
            self.engagement.refresh(recipients)
            self.webhooks.enqueue_clicks(settled)
        return len(rows)

    def _lock_messages(self, message_ids: set[str]) -> None:
        """Lock the messages whose clicks are settled now, all at once and in id order.

        Two settlers then count a message's first click once, and never wait for each other in
        a circle (each takes its messages before any link or campaign row).
        """
        if not self.db.for_update:
            return
        for chunk in chunks(sorted(message_ids)):
            self.db.execute(
                f"SELECT id FROM messages WHERE id IN ({marks(chunk)}) ORDER BY id FOR UPDATE",
                chunk,
            )

    def _links_around(self, click: dict, burst_seconds: float) -> int:
        """Return how many links of the click's message were clicked within the burst window."""
        at = from_iso(click["at"])
        return self.db.execute(
            "SELECT count(DISTINCT link_id) FROM clicks "
            "WHERE message_id = ? AND at BETWEEN ? AND ?",
            [click["message_id"], to_iso(at - burst_seconds), to_iso(at + burst_seconds)],
        ).fetchone()[0]

    def _count(self, click: dict, message) -> None:
        """Move the link, campaign and message counters for one settled click."""
        conn = self.db
        human = click["verdict"] == "human"
        first_on_link = (
            human
            and not conn.execute(
                "SELECT 1 FROM clicks WHERE message_id = ? AND link_id = ? AND settled "
                "AND verdict = 'human' AND id != ? LIMIT 1",
                [click["message_id"], click["link_id"], click["id"]],
            ).fetchone()
        )
        first_click = human and message["human_clicks"] == 0
        counts = [int(human), int(not human)]
        conn.execute(
            "UPDATE links SET clicks = clicks + 1, human_clicks = human_clicks + ?, "
            "machine_clicks = machine_clicks + ?, clickers = clickers + ? WHERE id = ?",
            [*counts, int(first_on_link), click["link_id"]],
        )
        conn.execute(
            "UPDATE campaigns SET clicks = clicks + 1, human_clicks = human_clicks + ?, "
            "machine_clicks = machine_clicks + ?, clickers = clickers + ? WHERE id = ?",
            [*counts, int(first_click), click["campaign_id"]],
        )
        if human:
            conn.execute(
                "UPDATE messages SET human_clicks = human_clicks + 1 WHERE id = ?",
                [click["message_id"]],
            )
        if first_click:
            # A person's first click on a message already opened without an MPP fetch makes
            # it one of the visible openers who clicked (core.counters.open_signals).
            conn.execute(
                "UPDATE campaigns SET visible_opened_clicked = visible_opened_clicked + 1 "
                "WHERE id = (SELECT campaign_id FROM messages "
                "WHERE id = ? AND state = 'opened' AND mpp_opens = 0)",
                [click["message_id"]],
            )

    def iter_settled_clicks(self, campaign_id: str | None = None) -> Iterator[list[dict]]:
        """Yield the raw facts and verdicts of settled clicks, a thousand at a time, by id."""
        return batches_by_id(
            self.db,
            f"{RAW_CLICK_COLUMNS} FROM clicks",
            "settled AND (CAST(? AS TEXT) IS NULL OR campaign_id = ?)",
            [campaign_id, campaign_id],
        )

    def click_links(self, message_ids: list[str]) -> dict[str, list[tuple[str, int]]]:
        """Return the (time, link id) of every click of these messages, by message."""
        found: dict[str, list[tuple[str, int]]] = {}
        for chunk in chunks(sorted(set(message_ids))):
            for row in self.db.execute(
                f"SELECT message_id, at, link_id FROM clicks WHERE message_id IN ({marks(chunk)})",
                chunk,
            ):
                found.setdefault(row["message_id"], []).append((row["at"], row["link_id"]))
        return found

    def update_click_verdicts(self, verdicts: list[dict]) -> None:
        """Replace the judgement of stored clicks (each dict has the click's id)."""
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE clicks SET client = :client, client_version = :client_version, "
                "os = :os, device = :device, verdict = :verdict, source = :source, "
                "reason = :reason WHERE id = :id",
                verdicts,
            )

    def rebuild_implied_opens(
        self, message_ids: list[str], implied: Callable[[dict], dict]
    ) -> None:
        """Give these messages again the one open their clicks imply, if any.

        Their opens implied by clicks are deleted; the earliest settled human click of each
        stands for an open (``implied`` makes it from the click's row) when it is earlier
        than the message's first human open, as when it was settled. Counters are left to
        ``rebuild_counters``; no webhook is queued (nobody did anything new).
        """
        with self.db.write() as conn:
            for chunk in chunks(sorted(set(message_ids))):
                conn.execute(
                    f"DELETE FROM events WHERE message_id IN ({marks(chunk)}) AND source = 'click'",
                    chunk,
                )
                rows = conn.execute(
                    f"SELECT c.*, (SELECT min(e.at) FROM events e WHERE e.message_id = "
                    "c.message_id AND e.verdict = 'human') AS first_open_at FROM clicks c "
                    f"JOIN messages m ON m.id = c.message_id AND m.tracked "
                    f"WHERE c.message_id IN ({marks(chunk)}) AND c.settled "
                    "AND c.verdict = 'human' ORDER BY c.message_id, c.at, c.id",
                    chunk,
                ).fetchall()
                opened = set()
                for row in rows:
                    click = dict(row)
                    if click["message_id"] in opened:
                        continue
                    opened.add(click["message_id"])
                    if click["first_open_at"] is not None and click["at"] >= click["first_open_at"]:
                        continue
                    event = {**implied(click), "campaign_id": click["campaign_id"]}
                    conn.execute(INSERT_EVENT, [event.get(name) for name in EVENT_FIELDS])

    def rebuild_click_counters(self, campaign_id: str) -> None:
        """Recompute a campaign's link, message and campaign click counters from its clicks."""
        with self.db.write() as conn:
            for statement in (REBUILD_LINKS, REBUILD_MESSAGE_CLICKS, REBUILD_CAMPAIGN_CLICKS):
                conn.execute(statement, {"campaign": campaign_id})

    def count_unsettled_clicks(self) -> int:
        """Return how many clicks still wait for their final verdict."""
        return self.db.execute("SELECT count(*) FROM clicks WHERE NOT settled").fetchone()[0]
