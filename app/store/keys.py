"""API keys in the store: only their hashes are kept."""

from app.core.keys import hash_key
from app.core.times import now_iso
from app.store.database import Database
from app.store.errors import Conflict, NameTaken


class ApiKeys:
    """Create, list, revoke and check API keys."""

    def __init__(self, db: Database):
        self.db = db

    def create_api_key(self, name: str, key: str) -> None:
        """Store the hash of a new API key under a name; raise NameTaken when it exists."""
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO api_keys (name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?)",
                    [name, key[:8], hash_key(key), now_iso()],
                )
        except Conflict as error:
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
        with self.db.write() as conn:
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
            with self.db.write() as conn:
                conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [now, row["id"]])
        return row["name"]
