"""Conversions in the store: recorded once per site and order, attributed when read.

A conversion row keeps the message it names (from its ``ot`` or its recipient and campaign)
and the earliest times a human click or open may have happened to attribute it. Whether it
is attributed is decided by the clicks and opens stored for that message: a human click in the
window (the last one gives the link), else a human open within 24 hours (view-through), else
none. Deciding when read keeps a click still in a spool, or one the burst rule later calls a
machine's, from being judged too early. No IP, user agent or address is stored.
"""

import json
import time

from app.core import webhooks
from app.core.conversions import ConversionFields, webhook_payload
from app.core.times import now_iso, to_iso
from app.store.database import Database

VIEW_THROUGH_SECONDS = 86400

# Per conversion: the link of the last human click in the window, and whether a human open
# came within the view-through window. Only settled clicks: until then the burst rule may still
# find a click to be a machine's.
ATTRIBUTED = (
    "SELECT cv.*, "
    "(SELECT k.link_id FROM clicks k WHERE k.message_id = cv.message_id "
    "AND k.verdict = 'human' AND k.settled = TRUE "
    "AND k.at >= cv.window_from AND k.at <= cv.at "
    "ORDER BY k.at DESC LIMIT 1) AS click_link, "
    "EXISTS (SELECT 1 FROM events e WHERE e.message_id = cv.message_id "
    "AND e.verdict = 'human' AND e.at >= cv.view_from AND e.at <= cv.at) AS viewed "
    "FROM conversions cv"
)
KIND = (
    "CASE WHEN click_link IS NOT NULL THEN 'click' WHEN viewed THEN 'view_through' "
    "ELSE 'unattributed' END"
)


class Conversions:
    """Record conversions, and count them per campaign and per link."""

    def __init__(self, db: Database):
        self.db = db

    def attribution_message(self, message_id: str) -> bool:
        """Return whether a message's clicks should carry an ``ot`` token."""
        row = self.db.execute(
            "SELECT m.attribution, c.attribution AS campaign_attribution FROM messages m "
            "JOIN campaigns c ON c.id = m.campaign_id WHERE m.id = ?",
            [message_id],
        ).fetchone()
        return bool(row and (row["attribution"] or row["campaign_attribution"]))

    def set_campaign_attribution(self, campaign_id: str, settings: dict) -> None:
        """Change a campaign's attribution switches, window, view-through and cost."""
        columns = (
            "attribution",
            "attribution_window_days",
            "view_through",
            "cost",
            "cost_currency",
        )
        sets = [(column, settings[column]) for column in columns if column in settings]
        if not sets:
            return
        with self.db.write() as conn:
            conn.execute(
                f"UPDATE campaigns SET {', '.join(f'{column} = ?' for column, _ in sets)} "
                "WHERE id = ?",
                [*(value for _, value in sets), campaign_id],
            )

    def set_message_attribution(self, message_ids: list[str]) -> None:
        """Ask for ``ot`` tokens on the clicks of these messages."""
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE messages SET attribution = TRUE WHERE id = ?",
                [(message_id,) for message_id in message_ids],
            )

    def conversion_message(self, message_id: str | None, campaign_id: str | None, recipient=None):
        """Return (message id, campaign id, window days) for a message id, or for a recipient
        of a campaign; the message id is None when the campaign has no such recipient."""
        if message_id is not None:
            row = self.db.execute(
                "SELECT m.id, m.campaign_id, c.attribution_window_days FROM messages m "
                "JOIN campaigns c ON c.id = m.campaign_id WHERE m.id = ?",
                [message_id],
            ).fetchone()
        else:
            row = self.db.execute(
                "SELECT m.id, m.campaign_id, c.attribution_window_days FROM messages m "
                "JOIN campaigns c ON c.id = m.campaign_id "
                "WHERE m.campaign_id = ? AND m.recipient = ?",
                [campaign_id, recipient],
            ).fetchone()
        if row is None:
            return None
        return row["id"], row["campaign_id"], float(row["attribution_window_days"])

    def record_conversion(
        self,
        fields: ConversionFields,
        source: str,
        via: str,
        message_id: str | None,
        campaign_id: str | None,
        link_id: int | None,
        window_days: float,
        at: float | None = None,
    ) -> tuple[dict, bool]:
        """Store a conversion once per site and order; return (its row, whether it is new).

        ``at`` is when it was reported (now by default; a retried report keeps its own time).
        A new conversion queues its ``conversion`` webhook deliveries in the same transaction.
        """
        now = time.time() if at is None else at
        at = to_iso(now)
        with self.db.write() as conn:
            inserted = conn.execute(
                "INSERT INTO conversions (site, order_id, event, value, amount_minor, currency, "
                "at, source, via, message_id, link_id, campaign_id, window_from, view_from) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (site, order_id) DO NOTHING",
                [
                    fields.site,
                    fields.order_id,
                    fields.event,
                    fields.value,
                    fields.amount_minor,
                    fields.currency,
                    at,
                    source,
                    via,
                    message_id,
                    link_id,
                    campaign_id,
                    to_iso(now - window_days * 86400),
                    to_iso(now - VIEW_THROUGH_SECONDS),
                ],
            ).rowcount
            row = self._attributed(
                "WHERE cv.site = ? AND cv.order_id = ?", [fields.site, fields.order_id]
            )
            if inserted:
                self._enqueue(row, self._view_through(campaign_id))
        return row, bool(inserted)

    def get_conversion(self, site: str, order_id: str) -> dict | None:
        """Return one conversion with its attribution as it stands now."""
        return self._attributed("WHERE cv.site = ? AND cv.order_id = ?", [site, order_id])

    def conversion_counts(self, campaign_id: str) -> list[dict]:
        """Return a campaign's conversions grouped by attribution kind and currency."""
        rows = self.db.execute(
            f"WITH a AS ({ATTRIBUTED} WHERE cv.campaign_id = ?) "
            f"SELECT {KIND} AS kind, currency, count(*) AS conversions, "
            "count(DISTINCT message_id) AS recipients, sum(amount_minor) AS amount "
            "FROM a GROUP BY 1, 2",
            [campaign_id],
        )
        return [dict(row) for row in rows]

    def link_conversions(self, campaign_id: str) -> list[dict]:
        """Return a campaign's click-attributed conversions per link, with revenue per currency."""
        rows = self.db.execute(
            f"WITH a AS ({ATTRIBUTED} WHERE cv.campaign_id = ?) "
            "SELECT l.id AS link_id, l.url, a.currency, count(*) AS conversions, "
            "sum(a.amount_minor) AS amount FROM a JOIN links l ON l.id = a.click_link "
            "GROUP BY l.id, l.url, a.currency ORDER BY l.id",
            [campaign_id],
        )
        return [dict(row) for row in rows]

    def _attributed(self, where: str, params: list) -> dict | None:
        row = self.db.execute(
            f"WITH a AS ({ATTRIBUTED} {where}) SELECT a.*, {KIND} AS kind FROM a", params
        ).fetchone()
        if row is None:
            return None
        found = dict(row)
        found["viewed"] = bool(found["viewed"])
        return found

    def _view_through(self, campaign_id: str | None) -> bool:
        if campaign_id is None:
            return False
        row = self.db.execute(
            "SELECT view_through FROM campaigns WHERE id = ?", [campaign_id]
        ).fetchone()
        return bool(row and row["view_through"])

    def _enqueue(self, conversion: dict, view_through: bool) -> None:
        """Queue a new conversion's deliveries to the endpoints that take ``conversion``."""
        endpoints = self.db.execute(
            "SELECT id, events FROM webhooks WHERE deleted_at IS NULL"
        ).fetchall()
        wanted = [row["id"] for row in endpoints if "conversion" in json.loads(row["events"])]
        if not wanted:
            return
        created = now_iso()
        key = f"{conversion['site']}|{conversion['order_id']}"
        event_id = webhooks.event_id("conversion", key)
        kind = conversion["kind"]
        if kind == "view_through" and not view_through:
            kind = "unattributed"
        body = webhook_payload(event_id, conversion, kind, created)
        # Stored exactly as it will be sent and signed.
        text = webhooks.encode(body).decode()
        now = time.time()
        self.db.executemany(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, "
            "created_at, next_attempt_at, retry_from) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [
                (webhook_id, event_id, "conversion", text, created, now, now)
                for webhook_id in wanted
            ],
        )
