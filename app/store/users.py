"""Dashboard users, their sessions and failed sign-in counters in the store."""

import hashlib
import secrets
import time

from app.core.times import now_iso
from app.core.users import FORGET_AFTER_SECONDS, lock_seconds
from app.store.database import Database, marks
from app.store.errors import Conflict, EmailTaken


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
        except Conflict as error:
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
        """Delete a user and end their sessions; return False when there is none."""
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE email = ?)",
                [email],
            )
            cursor = conn.execute("DELETE FROM users WHERE email = ?", [email])
        return cursor.rowcount == 1

    def start_session(self, user_id: int, seconds: float) -> str:
        """Store a new session of a user, valid for so many seconds; return its token.

        Only the token's hash is kept: a copy of the database signs nobody in.
        """
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.db.write() as conn:
            # Sessions that ran out are forgotten as new ones start.
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", [now])
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                [_hash(token), user_id, now, now + seconds],
            )
        return token

    def session_user(self, token: str) -> dict | None:
        """Return the user of a session that has not ended or run out, or None."""
        row = self.db.execute(
            "SELECT u.id, u.email, u.created_at, u.last_sign_in_at FROM sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?",
            [_hash(token), time.time()],
        ).fetchone()
        return dict(row) if row else None

    def end_session(self, token: str) -> None:
        """End one session, on every host at once."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", [_hash(token)])

    def end_user_sessions(self, user_id: int) -> int:
        """End every session of a user (sign out everywhere); return how many there were."""
        with self.db.write() as conn:
            return conn.execute("DELETE FROM sessions WHERE user_id = ?", [user_id]).rowcount

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
            for key in sorted(keys):
                # One statement counts the failure from the row as it is, so failures made at
                # the same moment on several hosts are all counted.
                failures = conn.execute(
                    "INSERT INTO sign_in_failures (key, failures, last_failed_at, locked_until) "
                    "VALUES (:key, 1, :now, 0) ON CONFLICT (key) DO UPDATE SET "
                    "failures = CASE WHEN :now - coalesce(sign_in_failures.last_failed_at, 0) "
                    "> :forget THEN 1 ELSE sign_in_failures.failures + 1 END, "
                    "last_failed_at = :now RETURNING failures",
                    {"key": key, "now": now, "forget": FORGET_AFTER_SECONDS},
                ).fetchone()[0]
                if lock_seconds(failures):
                    conn.execute(
                        "UPDATE sign_in_failures SET locked_until = ? WHERE key = ?",
                        [now + lock_seconds(failures), key],
                    )

    def clear_failures(self, key: str) -> None:
        """Forget the failed sign-ins counted against a key."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM sign_in_failures WHERE key = ?", [key])


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
