"""Conversions in the store: recorded once per site and order, attributed when read.

A conversion row keeps the message it names (from its ``ot`` or its recipient and campaign)
and the earliest time a human open may have happened to attribute it by view-through. Whether
it is attributed is decided by the clicks and opens stored when the numbers are read: the
recipient's last settled human click on any campaign's email within that campaign's window
gives the message, campaign and link; else a human open of the named message within 24 hours
(view-through); else none. The named message identifies the recipient; the recipient's other
messages are found by address (``messages_recipient``) and their clicks by message
(``clicks_message_at``). Deciding when read keeps a click still in a spool, or one the burst
rule later calls a machine's, from being judged too early. No IP, user agent or address is
stored with a conversion.
"""

import json
import time

from app.core import webhooks
from app.core.conversions import ConversionFields, webhook_payload
from app.core.times import now_iso, to_iso
from app.store.database import Database

VIEW_THROUGH_SECONDS = 86400

KIND = (
    "CASE WHEN click_id IS NOT NULL THEN 'click' WHEN viewed THEN 'view_through' "
    "ELSE 'unattributed' END"
)


def attributed_sql(db: Database, where: str) -> str:
    """Return SQL for the conversions matching ``where`` (on ``cv``), each with its attribution.

    Per conversion: ``click_id``, the recipient's last settled human click (on the named
    message or on any other message to the same address) between its campaign's
    ``attribution_window_days`` before the conversion and the conversion, with its
    ``click_link``, ``click_message`` and ``click_campaign``; ``viewed``, whether a human open
    of the named message came within the view-through window; ``kind``; and ``won_message``
    and ``won_campaign``: the click's message and campaign, else the named ones. Only settled
    clicks: until then the burst rule may still find a click to be a machine's.
    """
    elapsed = db.seconds_between("k.at", "cv.at")
    winner = (
        # CROSS JOIN keeps SQLite's order: the named message, the recipient's messages by
        # address, then their clicks by message (never every settled click by time).
        "(SELECT k.id FROM messages m0 "
        "CROSS JOIN messages m CROSS JOIN clicks k CROSS JOIN campaigns c "
        "WHERE m.recipient = m0.recipient AND k.message_id = m.id AND c.id = k.campaign_id "
        "AND m0.id = cv.message_id AND k.verdict = 'human' AND k.settled = TRUE "
        f"AND k.at <= cv.at AND {elapsed} <= c.attribution_window_days * 86400.0 "
        "ORDER BY k.at DESC, k.id DESC LIMIT 1)"
    )
    viewed = (
        "EXISTS (SELECT 1 FROM events e WHERE e.message_id = cv.message_id "
        "AND e.verdict = 'human' AND e.at >= cv.view_from AND e.at <= cv.at)"
    )
    return (
        # Materialized, so that each conversion's last click is looked up once.
        f"WITH base AS MATERIALIZED (SELECT cv.*, {winner} AS click_id, {viewed} AS viewed "
        f"FROM conversions cv {where}), "
        "judged AS (SELECT base.*, w.link_id AS click_link, w.message_id AS click_message, "
        "w.campaign_id AS click_campaign FROM base LEFT JOIN clicks w ON w.id = base.click_id) "
        f"SELECT judged.*, {KIND} AS kind, "
        "CASE WHEN click_id IS NOT NULL THEN click_message ELSE message_id END AS won_message, "
        "CASE WHEN click_id IS NOT NULL THEN click_campaign ELSE campaign_id END AS won_campaign "
        "FROM judged"
    )


# The conversions a campaign may hold: those named for it, and those of its recipients (whose
# last click may have been on this campaign's email). Two ? parameters: the campaign twice.
# Looked up from each conversion (its message's address, then that address's message in this
# campaign, both by index), not from the campaign's messages: the page of a campaign of a
# million messages must not read them all to find a handful of conversions.
OF_CAMPAIGN = (
    "WHERE cv.campaign_id = ? OR EXISTS (SELECT 1 FROM messages m0 "
    "JOIN messages mx ON mx.recipient = m0.recipient "
    "WHERE m0.id = cv.message_id AND mx.campaign_id = ?)"
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
                self._enqueue(row, self._view_through(row["campaign_id"]))
        return row, bool(inserted)

    def get_conversion(self, site: str, order_id: str) -> dict | None:
        """Return one conversion with its attribution as it stands now."""
        return self._attributed("WHERE cv.site = ? AND cv.order_id = ?", [site, order_id])

    def conversion_counts(self, campaign_id: str) -> list[dict]:
        """Return a campaign's conversions grouped by attribution kind and currency.

        Click-attributed ones are those whose last human click was on this campaign's email,
        whichever campaign they were reported for; the others count for the campaign named.
        """
        rows = self.db.execute(
            f"WITH a AS ({attributed_sql(self.db, OF_CAMPAIGN)}) "
            "SELECT kind, currency, count(*) AS conversions, "
            "count(DISTINCT won_message) AS recipients, sum(amount_minor) AS amount "
            "FROM a WHERE won_campaign = ? GROUP BY 1, 2",
            [campaign_id, campaign_id, campaign_id],
        )
        return [dict(row) for row in rows]

    def link_conversions(self, campaign_id: str) -> list[dict]:
        """Return a campaign's click-attributed conversions per link, with revenue per currency."""
        rows = self.db.execute(
            f"WITH a AS ({attributed_sql(self.db, OF_CAMPAIGN)}) "
            "SELECT l.id AS link_id, l.url, a.currency, count(*) AS conversions, "
            "sum(a.amount_minor) AS amount FROM a JOIN links l ON l.id = a.click_link "
            "WHERE a.click_campaign = ? GROUP BY l.id, l.url, a.currency ORDER BY l.id",
            [campaign_id, campaign_id, campaign_id],
        )
        return [dict(row) for row in rows]

    def pin_attribution(self, where: str, params: list) -> int:
        """Move the conversions matching ``where`` (on ``cv``) whose last human click was on
        another message to that message and its campaign; return how many moved.

        Erasure gives each message its own placeholder address and deleting a campaign deletes
        its messages, so the link between a recipient's messages is lost: the attribution they
        had is kept by naming the clicked message. Call inside the write transaction.
        """
        moved = self.db.execute(
            f"{attributed_sql(self.db, where)} "
            "WHERE click_id IS NOT NULL AND click_message <> message_id",
            params,
        ).fetchall()
        self.db.executemany(
            "UPDATE conversions SET message_id = ?, campaign_id = ? WHERE id = ?",
            [(row["click_message"], row["click_campaign"], row["id"]) for row in moved],
        )
        return len(moved)

    def _attributed(self, where: str, params: list) -> dict | None:
        row = self.db.execute(attributed_sql(self.db, where), params).fetchone()
        if row is None:
            return None
        found = dict(row)
        found["viewed"] = bool(found["viewed"])
        # The last click gives the message and campaign; the ones named stay when none did.
        found["named_message_id"] = found["message_id"]
        found["named_campaign_id"] = found["campaign_id"]
        found["message_id"] = found["won_message"]
        found["campaign_id"] = found["won_campaign"]
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
