"""The SQLite file behind the store: one connection per thread, and write transactions."""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database as SqliteUtils

from app.store import schema

# A writer waits this long for another writer's lock before SQLite reports "database is locked".
BUSY_TIMEOUT_SECONDS = 30
# SQLite allows 32,766 bound parameters; stay well below for IN (...) lists.
CHUNK = 500


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    """Yield successive slices of items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(items: list) -> str:
    """Return the placeholders for an IN (...) list of these items."""
    return ",".join("?" * len(items))


class Database:
    """One SQLite file: a connection per thread, reads at any time, one writer at a time."""

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()

    @property
    def conn(self) -> sqlite3.Connection:
        """Return this thread's connection, opened once and kept for the life of the thread."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=NORMAL")
            # Erased or purged data is overwritten with zeros, not left in free pages.
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def execute(self, sql: str, params=()) -> sqlite3.Cursor:
        """Run one statement outside any explicit transaction (a read, or a single write)."""
        return self.conn.execute(sql, params)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one write transaction; a nested block joins the outer one."""
        conn = self.conn
        if conn.in_transaction:
            # Nested: part of the caller's transaction, which commits or rolls back as a whole.
            yield conn
            return
        # IMMEDIATE takes the write lock up front, so a transaction that reads and then writes
        # waits for the busy timeout instead of failing when another writer got there first.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def migrate(self) -> None:
        """Apply pending schema migrations; safe to run at every start."""
        schema.migrations.apply(SqliteUtils(self.conn, execute_plugins=False))

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
