"""Dashboard users and failed sign-in counters in the store."""

import sqlite3

from app.core.times import now_iso
from app.core.users import FORGET_AFTER_SECONDS, lock_seconds
from app.store.database import Database, marks
from app.store.errors import EmailTaken


class Users:
    """Dashboard users, and the counters that slow down password guessing."""

    def __init__(self, db: Database):
        self.db = db

    def create_user(self, email: str, password_hash: str) -> dict:
        """Store a user and return it; raise EmailTaken when the email is registered."""
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)",
                    [email, password_hash, now_iso()],
                )
        except sqlite3.IntegrityError as error:
            raise EmailTaken(email) from error
        return self.user_by_email(email)

    def user_by_email(self, email: str) -> dict | None:
        """Return the user with this email, password hash included, or None."""
        row = self.db.execute("SELECT * FROM users WHERE email = ?", [email]).fetchone()
        return dict(row) if row else None

    def user_by_id(self, user_id: int) -> dict | None:
        """Return the user with this id, or None."""
        row = self.db.execute(
            "SELECT id, email, created_at, last_sign_in_at FROM users WHERE id = ?", [user_id]
        ).fetchone()
        return dict(row) if row else None

    def list_users(self) -> list[dict]:
        """Return every user's email and times; never the password hash."""
        rows = self.db.execute(
            "SELECT id, email, created_at, last_sign_in_at FROM users ORDER BY email"
        )
        return [dict(row) for row in rows]

    def delete_user(self, email: str) -> bool:
        """Delete a user; return False when there is none with this email."""
        with self.db.write() as conn:
            cursor = conn.execute("DELETE FROM users WHERE email = ?", [email])
        return cursor.rowcount == 1

    def note_sign_in(self, user_id: int) -> None:
        """Remember when a user last signed in."""
        with self.db.write() as conn:
            conn.execute("UPDATE users SET last_sign_in_at = ? WHERE id = ?", [now_iso(), user_id])

    def locked_until(self, keys: list[str]) -> float:
        """Return the Unix time until which any of these keys is refused (0 when none is)."""
        row = self.db.execute(
            f"SELECT max(locked_until) FROM sign_in_failures WHERE key IN ({marks(keys)})", keys
        ).fetchone()
        return row[0] or 0

    def record_failure(self, keys: list[str], now: float) -> None:
        """Count a failed sign-in against each key and lock those past their free tries."""
        with self.db.write() as conn:
            # Forget keys nobody failed with lately, so guessed emails do not pile up.
            conn.execute(
                "DELETE FROM sign_in_failures WHERE last_failed_at < ? AND locked_until < ?",
                [now - FORGET_AFTER_SECONDS, now],
            )
            for key in keys:
                row = conn.execute(
                    "SELECT failures, last_failed_at FROM sign_in_failures WHERE key = ?", [key]
                ).fetchone()
                stale = row is None or now - (row["last_failed_at"] or 0) > FORGET_AFTER_SECONDS
                failures = 1 if stale else row["failures"] + 1
                locked = now + lock_seconds(failures) if lock_seconds(failures) else 0
                conn.execute(
                    "INSERT INTO sign_in_failures (key, failures, last_failed_at, locked_until) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "failures = excluded.failures, last_failed_at = excluded.last_failed_at, "
                    "locked_until = excluded.locked_until",
                    [key, failures, now, locked],
                )

    def clear_failures(self, key: str) -> None:
        """Forget the failed sign-ins counted against a key."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM sign_in_failures WHERE key = ?", [key])
