"""The database behind the store, on either engine, with every dialect difference in one place.

Store modules write SQL once, with ``?`` and ``:name`` placeholders, in the subset both SQLite
and PostgreSQL accept (``ON CONFLICT DO NOTHING``, ``count(*) FILTER (WHERE ...)``, real
booleans, explicit keys). What differs (placeholders, row locks, time maths, JSON edits,
substring tests, migrations, connection handling) is a method or attribute of the engine's
``Database`` class here and in ``store.postgres``.
"""

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlite_utils import Database as SqliteUtils

from app.store import schema
from app.store.errors import Conflict

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


def locked_rows(
    db: "Database", table: str, columns: tuple[str, ...], keys: Iterable, where: str = ""
) -> dict:
    """Return the rows of ``table`` whose first column, its key, is one of ``keys``: dicts of
    ``columns`` by key (with ``where`` as one more condition).

    They stay locked until the transaction ends (on PostgreSQL; SQLite has one writer anyway),
    taken in key order so that two writers never wait for each other in a circle.
    """
    key, condition = columns[0], f" AND {where}" if where else ""
    rows = {}
    for chunk in chunks(sorted(keys)):
        for row in db.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {key} IN ({marks(chunk)})"
            f"{condition} ORDER BY {key}{db.for_update}",
            chunk,
        ):
            # Zipped with the names, not dict(row): a third of the cost (row[0] is the key).
            rows[row[0]] = dict(zip(columns, row, strict=True))
    return rows


def batches_by_id(
    db: "Database", select: str, where: str, params: list, size: int = 1000
) -> Iterator[list[dict]]:
    """Yield ``SELECT {select} ... WHERE id > ? AND {where}`` a batch at a time in id order
    (keyset paging: each batch is one index range, however far in). ``select`` names the
    table and must include ``id``."""
    last_id = 0
    while True:
        rows = db.execute(
            f"SELECT {select} WHERE id > ? AND {where} ORDER BY id LIMIT {int(size)}",
            [last_id, *params],
        ).fetchall()
        if not rows:
            return
        last_id = rows[-1]["id"]
        yield [dict(row) for row in rows]


def open_database(database: str) -> "Database":
    """Return the database a setting names: a postgresql:// URL, or the path of a SQLite file."""
    if database.startswith(("postgresql://", "postgres://")):
        # Imported only here: an instance on SQLite never loads the PostgreSQL driver.
        from app.store.postgres import PostgresDatabase

        return PostgresDatabase(database)
    return SQLiteDatabase(database)


class Database:
    """What the store modules use of an engine; ``SQLiteDatabase`` and ``PostgresDatabase``."""

    engine = ""
    # Appended to a SELECT that reads rows the transaction will update: locks them.
    for_update = ""
    # Appended to a SELECT that claims rows for one worker: skips rows another one holds.
    skip_locked = ""

    def execute(self, sql: str, params: Iterable | dict = ()):
        """Run one statement (in the current write transaction, if any) and return its cursor."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable) -> None:
        """Run one statement for each row of parameters."""
        raise NotImplementedError

    def write(self):
        """Return a context that runs its block as one write transaction (nested: joins it)."""
        raise NotImplementedError

    def insert_rows(self, table: str, columns: tuple[str, ...], rows: list[list]) -> None:
        """Insert many rows into a table at once, the fastest way the engine has."""
        self.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(list(columns))})", rows
        )

    def stream(self, sql: str, params: Iterable = (), size: int = 1000) -> Iterator:
        """Yield a query's rows, fetched ``size`` at a time, so any result fits in little memory."""
        raise NotImplementedError

    def seconds_between(self, earlier: str, later: str) -> str:
        """Return SQL for the seconds from one stored time column to another."""
        raise NotImplementedError

    def shifted(self, column: str) -> str:
        """Return SQL for a stored time column moved by a number of seconds (one ? parameter)."""
        raise NotImplementedError

    def json_nulled(self, column: str, keys: tuple[str, ...]) -> str:
        """Return SQL for a JSON text column with these top-level keys set to null."""
        raise NotImplementedError

    def json_field(self, column: str, key: str) -> str:
        """Return SQL for one top-level text field of a JSON text column."""
        raise NotImplementedError

    def contains(self, haystack: str) -> str:
        """Return SQL that is true when ``haystack`` holds the text of one ? parameter."""
        raise NotImplementedError

    def starts_with(self, column: str, prefix: str) -> tuple[str, list]:
        """Return SQL and parameters true when ``column`` starts with ``prefix``.

        A range on the column (``>= prefix AND < the next prefix``), which an index on the
        column walks: text compares by code point (SQLite's BINARY; PostgreSQL's "C").
        """
        upper = next_prefix(prefix)
        if upper is None:
            return f"{column} >= ?", [prefix]
        return f"{column} >= ? AND {column} < ?", [prefix, upper]

    def compact(self) -> None:
        """Make sure erased data leaves the engine's logs and free pages as soon as it can."""

    def migrate(self) -> None:
        """Apply pending schema migrations; safe to run at every start, by several at once."""
        raise NotImplementedError

    def close(self) -> None:
        """Close this thread's connections (all of them, for PostgreSQL's pool)."""
        raise NotImplementedError


class SQLiteDatabase(Database):
    """One SQLite file: a connection per thread, reads at any time, one writer at a time."""

    engine = "sqlite"

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

    def execute(self, sql: str, params: Iterable | dict = ()) -> sqlite3.Cursor:
        """Run one statement (in the current write transaction, if any) and return its cursor."""
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as error:
            raise Conflict(str(error)) from error

    def executemany(self, sql: str, rows: Iterable) -> None:
        """Run one statement for each row of parameters."""
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.IntegrityError as error:
            raise Conflict(str(error)) from error

    @contextmanager
    def write(self) -> Iterator["SQLiteDatabase"]:
        """Run the block as one write transaction; a nested block joins the outer one."""
        conn = self.conn
        if conn.in_transaction:
            # Nested: part of the caller's transaction, which commits or rolls back as a whole.
            yield self
            return
        # IMMEDIATE takes the write lock up front, so a transaction that reads and then writes
        # waits for the busy timeout instead of failing when another writer got there first.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def stream(self, sql: str, params: Iterable = (), size: int = 1000) -> Iterator[sqlite3.Row]:
        """Yield a query's rows, fetched ``size`` at a time."""
        cursor = self.conn.cursor()
        cursor.execute(sql, params)
        try:
            while rows := cursor.fetchmany(size):
                yield from rows
        finally:
            cursor.close()

    def seconds_between(self, earlier: str, later: str) -> str:
        """Return SQL for the seconds between two stored times (julianday reads ISO text)."""
        return f"(julianday({later}) - julianday({earlier})) * 86400.0"

    def shifted(self, column: str) -> str:
        """Return SQL for a stored time moved by a number of seconds (one ? parameter)."""
        return f"strftime('%Y-%m-%dT%H:%M:%fZ', {column}, ? || ' seconds')"

    def json_nulled(self, column: str, keys: tuple[str, ...]) -> str:
        """Return SQL for a JSON text column with these top-level keys set to null."""
        return f"json_set({column}, " + ", ".join(f"'$.{key}', NULL" for key in keys) + ")"

    def json_field(self, column: str, key: str) -> str:
        """Return SQL for one top-level text field of a JSON text column."""
        return f"json_extract({column}, '$.{key}')"

    def contains(self, haystack: str) -> str:
        """Return SQL that is true when ``haystack`` holds the text of one ? parameter."""
        # instr() is a plain substring test: no LIKE wildcards to escape in what users type.
        return f"instr({haystack}, ?) > 0"

    def compact(self) -> None:
        """Move the write-ahead log into the file, where secure_delete zeroed the old pages."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def migrate(self) -> None:
        """Apply pending sqlite-utils migrations (callers hold a file lock across processes)."""
        schema.migrations.apply(SqliteUtils(self.conn, execute_plugins=False))

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def next_prefix(prefix: str) -> str | None:
    """Return the first text after every text starting with ``prefix`` (None: there is none)."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if 0xD800 <= last < 0xE000:
            last = 0xE000  # surrogates are not characters: UTF-8 cannot hold them
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return None
