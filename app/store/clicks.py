"""Tracked links and clicks in the embedded store.

Part of the store (the only code that speaks SQL); mixed into ``store.Store``, whose ``db``,
``_write``, ``record_opens`` and ``suppressed`` it uses.
"""

from app.core.times import from_iso, now_iso, to_iso
from app.rules.clicks import BURST_SECONDS, settle_verdict
from app.store.events import chunks

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
OPEN_FIELDS = ("client", "client_version", "os", "device", "country", "asn", "ip", "user_agent")


class Clicks:
    """Register links at injection, record clicks, and settle their verdicts and counters."""

    def set_track_clicks(self, campaign_id: str, track_clicks: bool) -> dict | None:
        """Set whether a campaign's links are rewritten by default; return the campaign."""
        with self._write() as conn:
            conn.execute(
                "UPDATE campaigns SET track_clicks = ? WHERE id = ?",
                [int(track_clicks), campaign_id],
            )
        return self.get_campaign(campaign_id)

    def register_links(self, campaign_id: str, urls: list[str]) -> dict[str, int]:
        """Store a campaign's link URLs (once each) and return the id of each."""
        unique = list(dict.fromkeys(urls))
        found = {}
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO links (campaign_id, url, created_at) VALUES (?, ?, ?)",
                [(campaign_id, url, now_iso()) for url in unique],
            )
            for chunk in chunks(unique):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT id, url FROM links WHERE campaign_id = ? AND url IN ({marks})",
                    [campaign_id, *chunk],
                ):
                    found[row["url"]] = row["id"]
        return found

    def link_target(self, link_id: int) -> str | None:
        """Return the URL a link redirects to, or None when there is no such link."""
        row = self.db.execute("SELECT url FROM links WHERE id = ?", [link_id]).fetchone()
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
        return [dict(row) for row in rows]

    def store_clicks(self, clicks: list[dict]) -> int:
        """Store judged-for-now clicks (each with an ``event_key``) once each; return how many.

        Clicks of unknown or untracked messages, of recipients who opted out, and on links of
        another campaign are skipped.
        """
        if not clicks:
            return 0
        stored = 0
        with self._write() as conn:
            messages = {}
            for chunk in chunks(list({click["message_id"] for click in clicks})):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT id, campaign_id, recipient FROM messages "
                    f"WHERE id IN ({marks}) AND tracked",
                    chunk,
                ):
                    messages[row["id"]] = row
            opted_out = self.suppressed([m["recipient"] for m in messages.values()])
            for click in clicks:
                message = messages.get(click["message_id"])
                if message is None or message["recipient"] in opted_out:
                    continue
                cursor = conn.execute(
                    f"INSERT OR IGNORE INTO clicks ({', '.join(CLICK_FIELDS)}) "
                    f"SELECT {', '.join('?' * len(CLICK_FIELDS))} "
                    "WHERE EXISTS (SELECT 1 FROM links WHERE id = ? AND campaign_id = ?)",
                    [
                        *(
                            message["campaign_id"] if f == "campaign_id" else click.get(f)
                            for f in CLICK_FIELDS
                        ),
                        click["link_id"],
                        message["campaign_id"],
                    ],
                )
                stored += cursor.rowcount == 1
        return stored

    def settle_clicks(self, before: str, limit: int = 1000) -> int:
        """Give clicks recorded before a time their final verdict, and count them.

        In one transaction: a click that came with clicks on other links of its message
        within seconds becomes a scanner's; link, message and campaign counters move; a
        person's click earlier than the message's first human open is stored as that open
        (a click implies an open). Returns how many clicks were settled.
        """
        # A read first: web workers call this after every batch, and most find nothing to do;
        # taking the write lock for nothing would make them queue behind each other.
        if not self.db.execute(
            "SELECT 1 FROM clicks WHERE settled = 0 AND at <= ? LIMIT 1", [before]
        ).fetchone():
            return 0
        with self._write() as conn:
            rows = conn.execute(
                "SELECT c.*, l.url FROM clicks c JOIN links l ON l.id = c.link_id "
                "WHERE c.settled = 0 AND c.at <= ? ORDER BY c.at, c.id LIMIT ?",
                [before, limit],
            ).fetchall()
            implied, settled, opened = [], [], set()
            for row in rows:
                click = dict(row)
                at = from_iso(click["at"])
                linked = conn.execute(
                    "SELECT count(DISTINCT link_id) FROM clicks "
                    "WHERE message_id = ? AND at BETWEEN ? AND ?",
                    [click["message_id"], to_iso(at - BURST_SECONDS), to_iso(at + BURST_SECONDS)],
                ).fetchone()[0]
                judged = (click["verdict"], click["source"], click["reason"])
                click["verdict"], click["source"], click["reason"] = settle_verdict(judged, linked)
                conn.execute(
                    "UPDATE clicks SET verdict = ?, source = ?, reason = ?, settled = 1 "
                    "WHERE id = ?",
                    [click["verdict"], click["source"], click["reason"], click["id"]],
                )
                message = conn.execute(
                    "SELECT recipient, metadata, human_clicks, first_open_at FROM messages "
                    "WHERE id = ?",
                    [click["message_id"]],
                ).fetchone()
                if message is None:
                    continue
                human = click["verdict"] == "human"
                first_on_link = (
                    human
                    and not conn.execute(
                        "SELECT 1 FROM clicks WHERE message_id = ? AND link_id = ? AND settled = 1 "
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
                    first_open = message["first_open_at"]
                    if click["message_id"] not in opened and (
                        first_open is None or click["at"] < first_open
                    ):
                        opened.add(click["message_id"])
                        implied.append(_implied_open(click))
                settled.append({**click, **dict(message)})
            self.record_opens(implied)
            self.clicks_settled(conn, settled)
        return len(rows)

    def clicks_settled(self, conn, clicks: list[dict]) -> None:
        """Called inside settle_clicks' transaction with each settled click (a hook)."""

    def count_unsettled_clicks(self) -> int:
        """Return how many clicks still wait for their final verdict."""
        return self.db.execute("SELECT count(*) FROM clicks WHERE settled = 0").fetchone()[0]


def _implied_open(click: dict) -> dict:
    """Return the open event a person's click stands for."""
    return {
        "event_key": "click:" + click["event_key"],
        "message_id": click["message_id"],
        "at": click["at"],
        "method": "GET",
        "seconds_since_send": click["seconds_since_send"],
        "verdict": "human",
        "source": "click",
        "reason": "A person clicked a link in the message, so they opened it (images may have "
        "been blocked)",
        **{field: click[field] for field in OPEN_FIELDS},
    }
