"""The embedded store: the only module that speaks SQL.

A second store (PostgreSQL, say) implements the same public methods; views, the CLI and the
recorder only call these.
"""

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlite_utils import Database

from app.core.stats import campaign_numbers
from app.core.times import now_iso
from app.core.tokens import new_message_id
from app.rules.clicks import with_clicks
from app.store import schema
from app.store.clicks import Clicks
from app.store.events import MESSAGE_COLUMNS, OpenEvents, chunks
from app.store.followups import FollowUps
from app.store.privacy import Privacy
from app.store.webhooks import Webhooks

# A writer waits this long for another writer's lock before SQLite reports "database is locked".
BUSY_TIMEOUT_SECONDS = 30
EVENT_COLUMNS = (
    "at, verdict, source, reason, client, client_version, os, device, country, asn, ip, "
    "user_agent, method, x_requested_with, sec_purpose, seconds_since_send"
)


class CampaignExists(Exception):
    """A campaign with this id is already stored."""


class NameTaken(Exception):
    """An API key with this name is already stored."""


def hash_key(key: str) -> str:
    """Return the stored hash of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


class Store(Webhooks, Clicks, FollowUps, OpenEvents, Privacy):
    """Campaigns, messages, open events and API keys in one SQLite file."""

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()

    @property
    def db(self) -> Database:
        """Return this thread's connection, opened once and kept for the life of the thread."""
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            db = Database(conn, execute_plugins=False)
            db.execute("PRAGMA synchronous=NORMAL")
            # Erased or purged data is overwritten with zeros, not left in free pages.
            db.execute("PRAGMA secure_delete=ON")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def migrate(self) -> None:
        """Apply pending schema migrations; safe to run at every start."""
        schema.migrations.apply(self.db)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so a transaction that reads and then writes
        # waits for the busy timeout instead of failing when another writer got there first.
        conn = self.db.conn
        if conn.in_transaction:
            # Nested: part of the caller's transaction, which commits or rolls back as a whole.
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    # Campaigns

    def create_campaign(self, campaign_id: str, name: str, track: bool = True) -> dict:
        """Store a new campaign and return it; raise CampaignExists when the id is taken."""
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO campaigns (id, name, created_at, track) VALUES (?, ?, ?, ?)",
                    (campaign_id, name, now_iso(), int(track)),
                )
        except sqlite3.IntegrityError as error:
            raise CampaignExists(campaign_id) from error
        return self.get_campaign(campaign_id)

    def get_campaign(self, campaign_id: str) -> dict | None:
        """Return a campaign with its numbers, or None."""
        row = self.db.execute("SELECT * FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
        return _campaign(row) if row else None

    def list_campaigns(self, limit: int = 50, offset: int = 0, search: str = "") -> list[dict]:
        """Return campaigns, newest first, with their numbers."""
        rows = self.db.execute(
            "SELECT * FROM campaigns WHERE (? = '' OR id LIKE ? OR name LIKE ?) "
            "ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [search, f"%{search}%", f"%{search}%", limit, offset],
        ).fetchall()
        return [_campaign(row) for row in rows]

    def count_campaigns(self, search: str = "") -> int:
        """Return how many campaigns match a search."""
        return self.db.execute(
            "SELECT count(*) FROM campaigns WHERE (? = '' OR id LIKE ? OR name LIKE ?)",
            [search, f"%{search}%", f"%{search}%"],
        ).fetchone()[0]

    def hourly_opens(self, campaign_id: str) -> list[dict]:
        """Return human and machine opens per UTC hour, oldest first."""
        rows = self.db.execute(
            "SELECT hour, human, machine FROM campaign_hours WHERE campaign_id = ? ORDER BY hour",
            [campaign_id],
        )
        return [dict(row) for row in rows]

    # Messages

    def register_messages(
        self, campaign_id: str, recipients: list[tuple[str, dict | None, bool]]
    ) -> list[dict]:
        """Store one message per (campaign, recipient, track) and return them in order.

        A recipient already registered for the campaign gets its existing message back, so a
        retried send never counts twice. A message is tracked only when asked and when its
        recipient has not opted out; an untracked one is in state ``untracked``.
        """
        now = now_iso()
        unique = list(dict.fromkeys(recipient for recipient, _, _ in recipients))
        with self._write() as conn:
            opted_out = self.suppressed(unique)
            rows = [
                (
                    new_message_id(),
                    campaign_id,
                    recipient,
                    _dump(metadata),
                    now,
                    int(tracked),
                    "not_opened" if tracked else "untracked",
                )
                for recipient, metadata, track in recipients
                for tracked in [track and recipient not in opted_out]
            ]
            conn.executemany(
                "INSERT OR IGNORE INTO messages (id, campaign_id, recipient, metadata, "
                "injected_at, tracked, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            found = {}
            for chunk in chunks(unique):
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {MESSAGE_COLUMNS} FROM messages "
                    f"WHERE campaign_id = ? AND recipient IN ({marks})",
                    [campaign_id, *chunk],
                ):
                    found[row["recipient"]] = _message(row)
            new_ids = {row[0] for row in rows}
            added = [m for m in found.values() if m["id"] in new_ids]
            if added:
                conn.execute(
                    "UPDATE campaigns SET sent = sent + ?, untracked = untracked + ?, "
                    "first_injected_at = coalesce(first_injected_at, ?) WHERE id = ?",
                    [len(added), sum(not m["tracked"] for m in added), now, campaign_id],
                )
        return [found[recipient] for recipient, _, _ in recipients]

    def get_message(self, message_id: str) -> dict | None:
        """Return a message with its open events, oldest first, or None."""
        row = self.db.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", [message_id]
        ).fetchone()
        if row is None:
            return None
        message = _message(row)
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
        return _message(row) if row else None

    def injected_times(self, message_ids: Iterable[str]) -> dict[str, str]:
        """Return the injection time of each known message id."""
        found = {}
        for chunk in chunks(list(set(message_ids))):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                f"SELECT id, injected_at FROM messages WHERE id IN ({marks})", chunk
            ):
                found[row["id"]] = row["injected_at"]
        return found

    def count_non_openers(
        self, campaign_id: str, states: tuple[str, ...], injected_before: str
    ) -> int:
        """Return how many rows iter_non_openers would yield."""
        marks = ",".join("?" * len(states))
        return self.db.execute(
            f"SELECT count(*) FROM messages WHERE campaign_id = ? AND state IN ({marks}) "
            "AND injected_at <= ? AND tracked",
            [campaign_id, *states, injected_before],
        ).fetchone()[0]

    def iter_non_openers(
        self, campaign_id: str, states: tuple[str, ...], injected_before: str
    ) -> Iterator[dict]:
        """Yield the campaign's messages in the given states injected before a time.

        Rows are fetched a thousand at a time, so an export of any size runs in little memory.
        """
        marks = ",".join("?" * len(states))
        cursor = self.db.conn.cursor()
        cursor.execute(
            f"SELECT recipient, state, injected_at, first_open_at, opens, metadata, id "
            f"FROM messages WHERE campaign_id = ? AND state IN ({marks}) AND injected_at <= ? "
            "AND tracked "
            f"ORDER BY id",
            [campaign_id, *states, injected_before],
        )
        try:
            while rows := cursor.fetchmany(1000):
                for row in rows:
                    yield {
                        "recipient": row["recipient"],
                        "state": row["state"],
                        "injected_at": row["injected_at"],
                        "first_open_at": row["first_open_at"],
                        "opens": row["opens"],
                        "message_id": row["id"],
                        "metadata": json.loads(row["metadata"]) if row["metadata"] else None,
                    }
        finally:
            cursor.close()

    def add_metric(self, name: str, amount: int) -> None:
        """Add to a named counter, such as pixel requests with a bad token."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO metrics (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                [name, amount],
            )

    def metrics(self) -> dict[str, int]:
        """Return every named counter."""
        return {row["name"]: row["value"] for row in self.db.execute("SELECT * FROM metrics")}

    def count_events(self) -> int:
        """Return how many open events are stored."""
        return self.db.execute("SELECT count(*) FROM events").fetchone()[0]

    # API keys

    def create_api_key(self, name: str, key: str) -> None:
        """Store the hash of a new API key under a name; raise NameTaken when it exists."""
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO api_keys (name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?)",
                    [name, key[:8], hash_key(key), now_iso()],
                )
        except sqlite3.IntegrityError as error:
            raise NameTaken(name) from error

    def list_api_keys(self) -> list[dict]:
        """Return every API key's name, prefix and times; never the key itself."""
        rows = self.db.execute(
            "SELECT name, prefix, created_at, last_used_at, revoked_at FROM api_keys ORDER BY id"
        )
        return [dict(row) for row in rows]

    def count_active_api_keys(self) -> int:
        """Return how many API keys are not revoked."""
        return self.db.execute("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[
            0
        ]

    def revoke_api_key(self, name: str) -> bool:
        """Revoke the named key; return False when no active key has that name."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                [now_iso(), name],
            )
        return cursor.rowcount == 1

    def check_api_key(self, key: str) -> str | None:
        """Return the name of the active key, or None when the key is unknown or revoked."""
        row = self.db.execute(
            "SELECT id, name, last_used_at FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            [hash_key(key)],
        ).fetchone()
        if row is None:
            return None
        now = now_iso()
        # Written at most once a minute per key, so busy API clients do not queue up writes.
        if row["last_used_at"] is None or row["last_used_at"][:16] != now[:16]:
            with self._write() as conn:
                conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [now, row["id"]])
        return row["name"]


def _dump(metadata: dict | None) -> str | None:
    return json.dumps(metadata, separators=(",", ":")) if metadata else None


def _campaign(row: sqlite3.Row) -> dict:
    counters = dict(row)
    return {
        "id": counters["id"],
        "name": counters["name"],
        "created_at": counters["created_at"],
        "first_injected_at": counters["first_injected_at"],
        "track": bool(counters["track"]),
        "track_clicks": bool(counters["track_clicks"]),
        **with_clicks(campaign_numbers(counters), counters),
    }


def _message(row: sqlite3.Row) -> dict:
    message = dict(row)
    message["metadata"] = json.loads(message["metadata"]) if message["metadata"] else None
    message["tracked"] = bool(message["tracked"])
    return message
