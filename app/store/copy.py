"""Copy a SQLite instance's data into an empty PostgreSQL database, then check the copy.

The data tables are read from SQLite's own catalogue, so a table a migration adds is copied
without a change here. Everything is copied in one PostgreSQL transaction: a copy that fails,
or whose numbers do not match, leaves the target as it was. Ids are kept, so API keys, users,
webhooks, deliveries and links keep their ids, and tokens already sent keep naming the same
messages; ``messages.rowid`` (PostgreSQL's stand-in for SQLite's implicit rowid) is generated
in the order of SQLite's rowids.
"""

from collections.abc import Callable, Iterable, Iterator

from app.core.stats import campaign_summary
from app.store import Store
from app.store.errors import CopyMismatch, StoreError

BATCH = 1000
# Migration bookkeeping, not data: sqlite-utils' table and PostgreSQL's own.
SQLITE_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
    "AND name != '_sqlite_migrations' ORDER BY name"
)
PG_COLUMNS = (
    "SELECT table_name, column_name, data_type, is_identity, identity_generation "
    "FROM information_schema.columns WHERE table_schema = current_schema()"
)


class TargetNotEmpty(StoreError):
    """The PostgreSQL database already holds rows in these data tables."""


def quoted(name: str) -> str:
    """Return an identifier quoted the way both engines read it."""
    return '"' + name.replace('"', '""') + '"'


def data_tables(source: Store) -> list[str]:
    """Return the names of the SQLite store's data tables."""
    return [row[0] for row in source.db.execute(SQLITE_TABLES)]


def sqlite_columns(source: Store, table: str) -> list[str]:
    """Return a SQLite table's columns, in their order."""
    return [row["name"] for row in source.db.execute(f"PRAGMA table_info({quoted(table)})")]


def row_counts(store: Store, tables: Iterable[str]) -> dict[str, int]:
    """Return how many rows each of these tables holds, on either engine."""
    return {
        table: store.db.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0]
        for table in tables
    }


def occupied_tables(target: Store, tables: Iterable[str]) -> list[str]:
    """Return the tables that already hold at least one row."""
    return [
        table
        for table in tables
        if target.db.execute(f"SELECT 1 FROM {quoted(table)} LIMIT 1").fetchone() is not None
    ]


def copy_database(
    source: Store, target: Store, progress: Callable[[str, int], None]
) -> dict[str, int]:
    """Copy every data table of a SQLite store into an empty, migrated PostgreSQL store.

    ``progress(table, rows)`` is called with 0 when a table starts, then with the number of
    rows of each batch stored. Raise ``TargetNotEmpty`` (changing nothing) when a data table of
    the target holds rows, and ``CopyMismatch`` naming the first difference when the copy's
    row counts or a campaign's numbers differ from the source's; return the rows per table.
    """
    if source.db.engine != "sqlite" or target.db.engine != "postgresql":
        raise StoreError("copy_database copies a SQLite store into a PostgreSQL store")
    # One read transaction: every table, count and campaign comes from the same snapshot.
    source.db.execute("BEGIN")
    try:
        with target.db.write():
            return _copy(source, target, progress)
    finally:
        source.db.execute("ROLLBACK")


def _copy(source: Store, target: Store, progress: Callable[[str, int], None]) -> dict[str, int]:
    tables = data_tables(source)
    occupied = occupied_tables(target, tables)
    if occupied:
        raise TargetNotEmpty(occupied)
    schema = pg_schema(target)
    for table in tables:
        if table not in schema:
            raise StoreError(f"table {table} is not in the PostgreSQL schema: run migrations")
    for table in tables:
        progress(table, 0)
        copy_table(source, target, table, schema[table], progress)
    for table in tables:
        if schema[table].get("id", {}).get("is_identity") == "YES":
            target.db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce(max(id), 0) + 1, false) FROM {quoted(table)}"
            )
    return verify(source, target, tables)


def pg_schema(target: Store) -> dict[str, dict[str, dict]]:
    """Return PostgreSQL's columns by table and name: their type and identity kind."""
    schema: dict[str, dict[str, dict]] = {}
    for row in target.db.execute(PG_COLUMNS):
        schema.setdefault(row["table_name"], {})[row["column_name"]] = {
            "data_type": row["data_type"],
            "is_identity": row["is_identity"],
            "identity_generation": row["identity_generation"],
        }
    return schema


def copy_table(
    source: Store,
    target: Store,
    table: str,
    pg_columns: dict[str, dict],
    progress: Callable[[str, int], None],
) -> None:
    """Copy one table's rows in batches, 0/1 turned to booleans where PostgreSQL has them."""
    columns = sqlite_columns(source, table)
    missing = [column for column in columns if column not in pg_columns]
    if missing:
        raise StoreError(f"{table}.{missing[0]} is not in the PostgreSQL schema: run migrations")
    generated = [
        name for name, info in pg_columns.items() if info["identity_generation"] == "ALWAYS"
    ]
    clash = [name for name in generated if name in columns]
    if clash:
        raise StoreError(f"{table}.{clash[0]} is generated on PostgreSQL and cannot be copied")
    booleans = [
        index
        for index, column in enumerate(columns)
        if pg_columns[column]["data_type"] == "boolean"
    ]
    names = ", ".join(quoted(column) for column in columns)
    insert = f"INSERT INTO {quoted(table)} ({names}) VALUES ({', '.join('?' * len(columns))})"
    # messages.rowid is generated in insertion order: insert in the order of SQLite's rowid.
    order = " ORDER BY rowid" if table == "messages" else ""
    rows = source.db.stream(f"SELECT {names} FROM {quoted(table)}{order}", size=BATCH)
    for batch in batches(rows, booleans):
        target.db.executemany(insert, batch)
        progress(table, len(batch))


def batches(rows: Iterable, booleans: list[int]) -> Iterator[list[list]]:
    """Yield the rows as lists of parameters, BATCH at a time, with booleans as bool."""
    batch: list[list] = []
    for row in rows:
        values = list(row)
        for index in booleans:
            if values[index] is not None:
                values[index] = bool(values[index])
        batch.append(values)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def verify(source: Store, target: Store, tables: list[str]) -> dict[str, int]:
    """Return the rows per table; raise CopyMismatch at the first count or number that differs."""
    counts = row_counts(source, tables)
    copied = row_counts(target, tables)
    for table in tables:
        if counts[table] != copied[table]:
            raise CopyMismatch(
                f"table {table}: {counts[table]} rows in SQLite, {copied[table]} in PostgreSQL"
            )
    for campaign_id in source.campaign_ids():
        before = source.get_campaign(campaign_id)
        after = target.get_campaign(campaign_id)
        if after is None:
            raise CopyMismatch(f"campaign {campaign_id}: missing in PostgreSQL")
        expected, found = campaign_summary(before), campaign_summary(after)
        if expected != found:
            key = next(key for key in {**expected, **found} if expected.get(key) != found.get(key))
            raise CopyMismatch(
                f"campaign {campaign_id}: {key} is {expected.get(key)!r} in SQLite, "
                f"{found.get(key)!r} in PostgreSQL"
            )
    return counts
