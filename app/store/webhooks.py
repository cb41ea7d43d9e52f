"""Webhook endpoints and their delivery outbox in the store.

Outbox rows are queued by ``enqueue_opens`` and ``enqueue_clicks``, which the open events and
clicks call inside the transaction that stores what they announce, so an event is stored with
its deliveries or not at all.
"""

import json
import secrets
import time

from app.core import webhooks
from app.core.times import now_iso
from app.store.database import Database

DELIVERY_COLUMNS = (
    "id, webhook_id, event_id, event_type, created_at, status, attempts, next_attempt_at, "
    "last_attempt_at, last_status, last_error, delivered_at"
)


class Webhooks:
    """Register endpoints, queue deliveries with events, and let workers claim and finish them."""

    def __init__(self, db: Database):
        self.db = db

    def create_webhook(
        self, url: str, events: list[str], include_machine: bool, description: str | None
    ) -> dict:
        """Store a new endpoint with a fresh secret and return it, secret included."""
        webhook_id = webhooks.new_webhook_id()
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO webhooks (id, url, events, include_machine, description, secret, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    webhook_id,
                    url,
                    json.dumps(events),
                    bool(include_machine),
                    description,
                    webhooks.new_webhook_secret(),
                    now_iso(),
                ],
            )
        return self.get_webhook(webhook_id, with_secret=True)

    def list_webhooks(self) -> list[dict]:
        """Return the endpoints not deleted, oldest first, with their delivery counts."""
        rows = self.db.execute(
            "SELECT * FROM webhooks WHERE deleted_at IS NULL ORDER BY created_at, id"
        ).fetchall()
        return [self._webhook(row) for row in rows]

    def get_webhook(self, webhook_id: str, with_secret: bool = False) -> dict | None:
        """Return one endpoint not deleted, or None."""
        row = self.db.execute(
            "SELECT * FROM webhooks WHERE id = ? AND deleted_at IS NULL", [webhook_id]
        ).fetchone()
        return self._webhook(row, with_secret) if row else None

    def _webhook(self, row, with_secret: bool = False) -> dict:
        counts = {"pending": 0, "delivered": 0, "failed": 0}
        for status, count in self.db.execute(
            "SELECT status, count(*) FROM webhook_deliveries WHERE webhook_id = ? GROUP BY status",
            [row["id"]],
        ):
            counts[status] = count
        webhook = {
            "id": row["id"],
            "url": row["url"],
            "events": json.loads(row["events"]),
            "include_machine": bool(row["include_machine"]),
            "description": row["description"],
            "created_at": row["created_at"],
            "deliveries": counts,
        }
        if with_secret:
            webhook["secret"] = row["secret"]
        return webhook

    def webhook_health(self, webhook_id: str) -> dict:
        """Return when an endpoint's oldest pending delivery was queued, and its last success
        and last failure (a failed delivery, or a pending one that was tried), as stored times."""
        row = self.db.execute(
            "SELECT min(created_at) FILTER (WHERE status = 'pending') AS oldest_pending, "
            "max(last_attempt_at) FILTER (WHERE status = 'delivered') AS last_success, "
            "max(last_attempt_at) FILTER (WHERE status = 'failed' "
            "OR (status = 'pending' AND attempts > 0)) AS last_failure "
            "FROM webhook_deliveries WHERE webhook_id = ?",
            [webhook_id],
        ).fetchone()
        return dict(row)

    def enqueue_test(self, webhook_id: str) -> dict | None:
        """Queue a signed test event for one endpoint, delivered like any other; return it."""
        created = now_iso()
        body = {
            "id": f"evt_test_{secrets.token_hex(8)}",
            "type": "test",
            "created_at": created,
            "webhook_id": webhook_id,
            "message": "A test event sent from the Opentrack dashboard.",
        }
        now = time.time()
        with self.db.write() as conn:
            if self.get_webhook(webhook_id) is None:
                return None
            conn.execute(
                "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, "
                "created_at, next_attempt_at, retry_from) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [webhook_id, body["id"], "test", _text(body), created, now, now],
            )
        return body

    def delete_webhook(self, webhook_id: str) -> bool:
        """Stop an endpoint and cancel its pending deliveries; return False when unknown."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE webhooks SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                [now_iso(), webhook_id],
            )
            conn.execute(
                "UPDATE webhook_deliveries SET status = 'cancelled' "
                "WHERE webhook_id = ? AND status = 'pending'",
                [webhook_id],
            )
        return cursor.rowcount == 1

    # The outbox, filled inside the events' own transactions

    def enqueue_opens(self, stored: list[tuple[dict, dict, int]]) -> None:
        """Queue deliveries for newly stored open events (event, message, first human open)."""
        items = [
            (kind, event, message)
            for event, message, first_human in stored
            for kind in webhooks.open_types(event["verdict"], bool(first_human))
        ]
        self._enqueue(items)

    def enqueue_clicks(self, clicks: list[dict]) -> None:
        """Queue deliveries for clicks given their final verdict."""
        self._enqueue([("click", click, click) for click in clicks])

    def enqueue_event(self, body: dict) -> int:
        """Queue one event with its own payload (``body["type"]``, ``body["id"]``) for every
        endpoint subscribed to its type; return how many deliveries were queued."""
        endpoints = self.db.execute(
            "SELECT id, events FROM webhooks WHERE deleted_at IS NULL"
        ).fetchall()
        now, created = time.time(), now_iso()
        rows = [
            (endpoint["id"], body["id"], body["type"], _text(body), created, now, now)
            for endpoint in endpoints
            if body["type"] in json.loads(endpoint["events"])
        ]
        self.db.executemany(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, "
            "created_at, next_attempt_at, retry_from) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            rows,
        )
        return len(rows)

    def _enqueue(self, items: list[tuple[str, dict, dict]]) -> None:
        if not items:
            return
        conn = self.db
        endpoints = conn.execute(
            "SELECT id, events, include_machine FROM webhooks WHERE deleted_at IS NULL"
        ).fetchall()
        if not endpoints:
            return
        now, created = time.time(), now_iso()
        # Each endpoint's event types parsed once per batch, not once per event.
        endpoints = [
            (endpoint["id"], set(json.loads(endpoint["events"])), endpoint["include_machine"])
            for endpoint in endpoints
        ]
        rows = []
        for kind, event, message in items:
            body = None
            for endpoint_id, types, include_machine in endpoints:
                if kind not in types:
                    continue
                if event["verdict"] != "human" and not include_machine:
                    continue
                body = body or webhooks.payload(kind, event, message, created)
                rows.append((endpoint_id, body["id"], kind, _text(body), created, now))
        conn.executemany(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, "
            "created_at, next_attempt_at, retry_from) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(*row, row[-1]) for row in rows],
        )

    # Workers

    def claim_deliveries(self, owner: str, lease_seconds: float, limit: int = 32) -> list[dict]:
        """Lease the oldest pending delivery of each endpoint, when it is due, to one worker.

        An endpoint gets its events in order: a later delivery waits while an earlier one is
        pending. A lease that runs out (a worker killed mid-delivery) frees the row again.
        """
        now = time.time()
        with self.db.write() as conn:
            rows = conn.execute(
                "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts, "
                "d.retry_from, w.url, w.secret FROM webhook_deliveries d "
                "JOIN webhooks w ON w.id = d.webhook_id AND w.deleted_at IS NULL "
                "WHERE d.id IN (SELECT min(id) FROM webhook_deliveries WHERE status = 'pending' "
                "GROUP BY webhook_id) AND d.status = 'pending' AND d.next_attempt_at <= ? "
                "AND (d.claimed_until IS NULL OR d.claimed_until <= ?) ORDER BY d.id LIMIT ?"
                # Two workers never lease one row: the second skips the rows the first holds.
                + (" FOR UPDATE OF d SKIP LOCKED" if self.db.skip_locked else ""),
                [now, now, limit],
            ).fetchall()
            conn.executemany(
                "UPDATE webhook_deliveries SET claimed_until = ?, claimed_by = ? WHERE id = ?",
                [(now + lease_seconds, owner, row["id"]) for row in rows],
            )
        return [dict(row) for row in rows]

    def finish_delivery(
        self,
        delivery_id: int,
        owner: str,
        status: str,
        http_status: int | None,
        error: str | None,
        retry_at: float | None = None,
    ) -> bool:
        """Record one attempt: ``delivered``, ``failed`` (given up) or ``pending`` until
        retry_at. Returns False when another worker holds the delivery now."""
        now = now_iso()
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, "
                "last_attempt_at = ?, last_status = ?, last_error = ?, "
                "next_attempt_at = coalesce(?, next_attempt_at), claimed_until = NULL, "
                "claimed_by = NULL, delivered_at = CASE WHEN ? = 'delivered' THEN ? END "
                "WHERE id = ? AND claimed_by = ?",
                [status, now, http_status, error, retry_at, status, now, delivery_id, owner],
            )
        return cursor.rowcount == 1

    def claim_owners(self, prefix: str) -> list[str]:
        """Return the workers whose id starts with prefix that hold leases of pending deliveries."""
        rows = self.db.execute(
            "SELECT DISTINCT claimed_by FROM webhook_deliveries "
            "WHERE status = 'pending' AND claimed_by LIKE CAST(? AS TEXT) || '%'",
            [prefix],
        )
        return [row[0] for row in rows]

    # Reading and redelivering

    def list_deliveries(
        self, webhook_id: str, status: str | None = None, limit: int = 50
    ) -> list[dict]:
        """Return an endpoint's deliveries, newest first, optionally of one status."""
        rows = self.db.execute(
            f"SELECT {DELIVERY_COLUMNS}, payload FROM webhook_deliveries WHERE webhook_id = ? "
            "AND (CAST(? AS TEXT) IS NULL OR status = ?) ORDER BY id DESC LIMIT ?",
            [webhook_id, status, status, limit],
        )
        return [_delivery(row) for row in rows]

    def redeliver(self, webhook_id: str, delivery_id: int) -> dict | None:
        """Queue a delivery again at once, its retry clock restarted; None when unknown."""
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, "
                "retry_from = ?, claimed_until = NULL, claimed_by = NULL "
                "WHERE id = ? AND webhook_id = ? "
                "AND EXISTS (SELECT 1 FROM webhooks WHERE id = ? AND deleted_at IS NULL)",
                [now, now, delivery_id, webhook_id, webhook_id],
            )
            row = conn.execute(
                f"SELECT {DELIVERY_COLUMNS}, payload FROM webhook_deliveries "
                "WHERE id = ? AND webhook_id = ?",
                [delivery_id, webhook_id],
            ).fetchone()
        return _delivery(row) if row else None


def _delivery(row) -> dict:
    delivery = dict(row)
    delivery["payload"] = json.loads(delivery["payload"])
    return delivery


def _text(body: dict) -> str:
    # Stored exactly as it will be sent and signed.
    return webhooks.encode(body).decode()
