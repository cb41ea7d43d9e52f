"""PostgreSQL behind the store: a connection pool per process, the same SQL as SQLite.

Statements arrive with SQLite's ``?`` and ``:name`` placeholders and are rewritten once each to
psycopg's ``%s`` and ``%(name)s``. Reads run in autocommit on any pooled connection; a write
block holds one connection for its transaction, so every statement in it sees the same rows
and the row locks it took.
"""

import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache

import psycopg
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool

from app.store import schema_pg
from app.store.database import Database
from app.store.errors import Conflict

# Connections per process: the web worker's threads, the writer and the worker's senders.
POOL_SIZE = 10
# Two instances starting at once apply migrations one after the other.
MIGRATION_LOCK = 7_302_413_905
# The tables whose rows erasure rewrites.
ERASED_TABLES = ("messages", "events", "clicks", "webhook_deliveries", "links", "suppressions")
PLACEHOLDER = re.compile(r"'[^']*'|(?<!:):([A-Za-z_]\w*)|\?|%")


@lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """Return a statement with ``?``/``:name`` placeholders in psycopg's style (% escaped)."""

    def replace(match: re.Match) -> str:
        text = match.group(0)
        if text.startswith("'"):
            return text.replace("%", "%%")
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return f"%({match.group(1)})s"

    return PLACEHOLDER.sub(replace, sql)


class Row:
    """A result row read both ways, like sqlite3.Row: by position and by column name."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: tuple):
        self._names = names
        self._values = values

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._values[self._names[key]]
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        """Return the column names, so that dict(row) works."""
        return list(self._names)


def rows(cursor: psycopg.Cursor) -> RowMaker[Row]:
    """Return a psycopg row factory that makes Rows."""
    if cursor.description is None:
        return tuple
    names = {column.name: index for index, column in enumerate(cursor.description)}
    return lambda values: Row(names, values)


class Result:
    """A statement's rows, all fetched, and how many rows it changed."""

    def __init__(self, cursor: psycopg.Cursor):
        self.rowcount = cursor.rowcount
        self._rows = cursor.fetchall() if cursor.description is not None else []

    def fetchone(self):
        """Return the first row, or None."""
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list:
        """Return every row."""
        return self._rows

    def __iter__(self):
        return iter(self._rows)


class PostgresDatabase(Database):
    """A PostgreSQL database reached through a pool of psycopg connections."""

    engine = "postgresql"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str):
        self.url = url
        self._c_collation: bool | None = None
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            # No server-side prepared statements: a plan made when a table was small would
            # be kept after it grew (IN lists of hundreds of keys turned to full scans).
            kwargs={"autocommit": True, "row_factory": rows, "prepare_threshold": None},
            open=True,
            name="opentrack",
        )
        self._local = threading.local()

    def execute(self, sql: str, params: Iterable | dict = ()) -> Result:
        """Run one statement (in the current write transaction, if any) and return its rows."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return self._run(conn, sql, params)
        with self.pool.connection() as conn:
            return self._run(conn, sql, params)

    def _run(self, conn: psycopg.Connection, sql: str, params) -> Result:
        try:
            return Result(conn.execute(to_psycopg(sql), params))
        except psycopg.errors.IntegrityError as error:
            raise Conflict(str(error)) from error

    def executemany(self, sql: str, rows: Iterable) -> None:
        """Run one statement for each row of parameters."""
        rows = list(rows)
        if not rows:
            return
        with self.write():
            try:
                with self._local.conn.cursor() as cursor:
                    cursor.executemany(to_psycopg(sql), rows)
            except psycopg.errors.IntegrityError as error:
                raise Conflict(str(error)) from error

    def insert_rows(self, table: str, columns: tuple[str, ...], rows: list[list]) -> None:
        """Insert many rows with COPY: one stream, not a statement per row."""
        if not rows:
            return
        with self.write():
            try:
                with (
                    self._local.conn.cursor() as cursor,
                    cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
            except psycopg.errors.IntegrityError as error:
                raise Conflict(str(error)) from error

    @contextmanager
    def write(self) -> Iterator["PostgresDatabase"]:
        """Run the block as one transaction on one connection; a nested block joins it."""
        if getattr(self._local, "conn", None) is not None:
            yield self
            return
        with self.pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield self
            finally:
                self._local.conn = None

    def stream(self, sql: str, params: Iterable = (), size: int = 1000) -> Iterator[Row]:
        """Yield a query's rows through a server-side cursor, ``size`` at a time."""
        with (
            self.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="opentrack_stream") as cursor,
        ):
            cursor.execute(to_psycopg(sql), params)
            while batch := cursor.fetchmany(size):
                yield from batch

    def seconds_between(self, earlier: str, later: str) -> str:
        """Return SQL for the seconds between two stored times (ISO text with a Z)."""
        return f"extract(epoch FROM ({later}::timestamptz - {earlier}::timestamptz))"

    def shifted(self, column: str) -> str:
        """Return SQL for a stored time moved by a number of seconds (one ? parameter)."""
        return (
            f"to_char(({column}::timestamptz + make_interval(secs => ?)) AT TIME ZONE 'UTC', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\')'
        )

    def json_nulled(self, column: str, keys: tuple[str, ...]) -> str:
        """Return SQL for a JSON text column with these top-level keys set to null."""
        nulls = ", ".join(f"'{key}', NULL" for key in keys)
        return f"({column}::jsonb || jsonb_build_object({nulls}))::text"

    def json_field(self, column: str, key: str) -> str:
        """Return SQL for one top-level text field of a JSON text column."""
        return f"({column}::jsonb ->> '{key}')"

    def contains(self, haystack: str) -> str:
        """Return SQL that is true when ``haystack`` holds the text of one ? parameter."""
        return f"strpos({haystack}, ?) > 0"

    def starts_with(self, column: str, prefix: str) -> tuple[str, list]:
        """Return SQL and parameters true when ``column`` starts with ``prefix``.

        The index range when the database sorts text by code point (collation "C", as
        ``scripts/pg`` makes it); under a language collation a range would miss rows, so
        ``starts_with()`` reads every row of the campaign instead.
        """
        if self._code_point_order():
            return super().starts_with(column, prefix)
        return f"starts_with({column}, ?)", [prefix]

    def _code_point_order(self) -> bool:
        if self._c_collation is None:
            row = self.execute(
                "SELECT datcollate FROM pg_database WHERE datname = current_database()"
            ).fetchone()
            self._c_collation = row[0] in ("C", "POSIX", "C.UTF-8", "C.utf8")
        return self._c_collation

    def compact(self) -> None:
        """Vacuum the tables erasure rewrites, so old row versions leave their pages."""
        # VACUUM cannot run inside a transaction: on its own autocommit connection.
        with self.pool.connection() as conn:
            for table in ERASED_TABLES:
                conn.execute(f"VACUUM {table}")

    def migrate(self) -> None:
        """Apply pending migrations under an advisory lock, recording each in a table."""
        with self.write():
            self.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK])
            self.execute(
                "CREATE TABLE IF NOT EXISTS _migrations "
                "(name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in self.execute("SELECT name FROM _migrations")}
            for name, statements in schema_pg.MIGRATIONS:
                if name in done:
                    continue
                for statement in statements:
                    self.execute(statement)
                self.execute("INSERT INTO _migrations (name) VALUES (?)", [name])

    def close(self) -> None:
        """Close the pool and every connection in it."""
        self.pool.close()
