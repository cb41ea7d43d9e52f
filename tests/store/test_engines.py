"""What differs between the engines, tested without a server: settings and the SQL rewrite."""

import pytest

from app import create_app
from app.store import is_server_database
from app.store.postgres import Row, to_psycopg


def test_postgresql_needs_shared_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENTRACK_SECRET_KEYS", raising=False)
    config = {"INSTANCE_PATH": str(tmp_path), "DATABASE": "postgresql://nobody@127.0.0.1:1/x"}
    with pytest.raises(ValueError, match="OPENTRACK_SECRET_KEYS is required"):
        create_app(config)
    assert not (tmp_path / "secret_keys").exists()


@pytest.mark.parametrize(
    ("database", "server"),
    [
        ("postgresql://u@h/db", True),
        ("postgres://u@h/db", True),
        ("/var/lib/opentrack/opentrack.db", False),
        ("postgresql.db", False),
    ],
)
def test_the_database_setting_picks_the_engine(database, server):
    assert is_server_database(database) is server


@pytest.mark.parametrize(
    ("sqlite", "psycopg"),
    [
        (
            "SELECT * FROM t WHERE a = ? AND b IN (?, ?)",
            "SELECT * FROM t WHERE a = %s AND b IN (%s, %s)",
        ),
        ("UPDATE t SET a = :a WHERE id = :id", "UPDATE t SET a = %(a)s WHERE id = %(id)s"),
        # Casts, literals holding ? or :name or %, and LIKE patterns stay as they are.
        (
            "SELECT x::timestamptz, '?:no %', y LIKE ? || '%'",
            "SELECT x::timestamptz, '?:no %%', y LIKE %s || '%%'",
        ),
        ("SELECT 'it''s ?'", "SELECT 'it''s ?'"),
    ],
)
def test_placeholders_are_rewritten_once(sqlite, psycopg):
    assert to_psycopg(sqlite) == psycopg


def test_rows_read_like_sqlite_rows():
    row = Row({"id": 0, "name": 1}, ("c1", "Nov"))
    assert row["name"] == "Nov" and row[0] == "c1"
    assert dict(row) == {"id": "c1", "name": "Nov"}
    first, second = row
    assert (first, second) == ("c1", "Nov") and len(row) == 2
