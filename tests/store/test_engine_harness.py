"""The test harness gives each test a database of its own on PostgreSQL, as on SQLite.

These check tests/conftest.py, not the app: on PostgreSQL, OPENTRACK_DATABASE names a fresh,
empty schema, a different one for every test.
"""

import os
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

pytestmark = pytest.mark.postgresql_only

SEEN: list[str] = []


def schema_of(url: str) -> str:
    """Return the schema a URL's `options=-csearch_path=...` puts first."""
    options = parse_qs(urlsplit(url).query)["options"][0]
    return options.rpartition("-csearch_path=")[2].split(",")[0].strip()


def test_database_is_a_fresh_empty_schema():
    url = os.environ["OPENTRACK_DATABASE"]
    schema = schema_of(url)
    assert schema.startswith("t_")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_schema()").fetchone()[0] == schema
        exists = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", [schema]
        ).fetchone()[0]
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [schema]
        ).fetchone()[0]
    assert (exists, tables) == (1, 0)


@pytest.mark.parametrize("case", ["first", "second"])
def test_each_test_gets_its_own_schema(case):
    # The second case fails if it is handed the schema the first one saw.
    with psycopg.connect(os.environ["OPENTRACK_DATABASE"]) as conn:
        # A table left here must not be seen by the next test.
        conn.execute("CREATE TABLE leftover (id integer)")
        SEEN.append(conn.execute("SELECT current_schema()").fetchone()[0])
    assert len(set(SEEN)) == len(SEEN), SEEN
