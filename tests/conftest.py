import contextlib
import os
import secrets
import sys
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from app import create_app

# The whole suite runs on either storage engine: SQLite files (the default) or schemas on a
# PostgreSQL server (`--engine postgresql`, the server's URL in OPENTRACK_TEST_DATABASE;
# scripts/test starts a throwaway one with scripts/pg). On PostgreSQL every test gets a fresh
# schema through OPENTRACK_DATABASE, so each create_app and each gunicorn or `opentrack`
# subprocess (they inherit the environment) works in a database of its own, as on SQLite.
ENGINES = ("sqlite", "postgresql")
TEST_SECRET = "opentrack-test-secret"


def pytest_addoption(parser):
    parser.addoption(
        "--engine",
        choices=ENGINES,
        default="sqlite",
        help="storage engine to run the tests on; postgresql reads the server URL from "
        "OPENTRACK_TEST_DATABASE",
    )


def pytest_configure(config):
    if config.getoption("engine") == "postgresql" and not os.environ.get("OPENTRACK_TEST_DATABASE"):
        raise pytest.UsageError(
            "--engine postgresql needs OPENTRACK_TEST_DATABASE, the URL of a PostgreSQL server "
            "the tests may create schemas in (postgresql://user@127.0.0.1:PORT/db); "
            "`scripts/pg start DIR` starts a throwaway one and prints its URL"
        )


_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session, exitstatus):
    session.config.stash[_STATUS] = int(exitstatus)


def pytest_unconfigure(config):
    """End the run even when a test left a thread running that is not a daemon.

    Python joins such threads at exit, so one that never stops (a test that failed before it
    stopped its ingester did) would keep the run, and CI, waiting for ever. Each gets a few
    seconds to end; those still running are named and the process exits with the run's status,
    a failure if the run had passed.
    """
    left = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon
    ]
    for thread in left:
        thread.join(5)
    left = [thread for thread in left if thread.is_alive()]
    if left:
        names = ", ".join(thread.name for thread in left)
        sys.stdout.flush()
        sys.stderr.write(f"\nthreads left running by the tests, not waited for: {names}\n")
        sys.stderr.flush()
        os._exit(config.stash.get(_STATUS, 1) or 1)


def pytest_collection_modifyitems(config, items):
    engine = config.getoption("engine")
    for item in items:
        for other in ENGINES:
            if other != engine and item.get_closest_marker(f"{other}_only"):
                item.add_marker(pytest.mark.skip(reason=f"{other} only; running on {engine}"))
        if engine != "sqlite" and item.get_closest_marker("one_engine"):
            item.add_marker(pytest.mark.skip(reason="independent of the engine; run on SQLite"))


@pytest.fixture(scope="session")
def engine(request) -> str:
    """The storage engine this run is on: "sqlite" or "postgresql"."""
    return request.config.getoption("engine")


@pytest.fixture(scope="session")
def _pg_admin(engine):
    """One connection to the test server that makes and drops the schemas; None on SQLite."""
    if engine != "postgresql":
        yield None
        return
    import psycopg

    with psycopg.connect(os.environ["OPENTRACK_TEST_DATABASE"], autocommit=True) as conn:
        # Dropping a schema still in use gives up instead of hanging the run.
        conn.execute("SET lock_timeout = '2s'")
        yield conn


def with_search_path(url: str, schema: str) -> str:
    """Return the database URL with `schema` first in the search path of its connections."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["options"] = f"{query.get('options', '')} -csearch_path={schema}".strip()
    return urlunsplit(parts._replace(query=urlencode(query)))


def _schema_scope(admin, patch: pytest.MonkeyPatch):
    """Make a fresh schema and point OPENTRACK_DATABASE at it; drop it when done."""
    if admin is None:
        yield None
        return
    from psycopg import Error, sql

    schema = f"t_{secrets.token_hex(6)}"
    name = sql.Identifier(schema)
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(name))
    patch.setenv(
        "OPENTRACK_DATABASE", with_search_path(os.environ["OPENTRACK_TEST_DATABASE"], schema)
    )
    # On PostgreSQL the app refuses to start without OPENTRACK_SECRET_KEYS: processes sharing
    # one database need not share an instance folder to keep a generated secret in.
    if not os.environ.get("OPENTRACK_SECRET_KEYS"):
        patch.setenv("OPENTRACK_SECRET_KEYS", TEST_SECRET)
    try:
        yield schema
    finally:
        # Still locked by a connection some test left open: it dies with the throwaway server.
        with contextlib.suppress(Error):
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(name))


@pytest.fixture(scope="module", autouse=True)
def _module_schema(_pg_admin):
    """A schema for the module-scoped fixtures (the gunicorn servers of the e2e tests)."""
    with pytest.MonkeyPatch.context() as patch:
        yield from _schema_scope(_pg_admin, patch)


@pytest.fixture(autouse=True)
def _test_schema(_pg_admin, monkeypatch):
    """A fresh schema for each test: its own database, as a fresh SQLite file would be."""
    yield from _schema_scope(_pg_admin, monkeypatch)


@pytest.fixture
def app_settings() -> dict:
    """Settings the `app` fixture starts with, besides its own: a module overrides this."""
    return {}


@pytest.fixture
def app(tmp_path, app_settings):
    """An app on a fresh instance folder and database."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), **app_settings})
    yield app
    app.extensions["opentrack"].recorder.stop()
    # On PostgreSQL this gives back the pool's connections before the test's schema is dropped.
    app.extensions["opentrack"].store.close()


@pytest.fixture
def store(app):
    """The app's store."""
    return app.extensions["opentrack"].store


@pytest.fixture
def client(app):
    """A Flask test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A runner for the app's CLI commands."""
    return app.test_cli_runner()


@pytest.fixture
def api_key(runner):
    """A fresh API key made with the CLI."""
    result = runner.invoke(args=["keys", "create", "tests"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.fixture
def auth(api_key):
    """Headers that authenticate an API request."""
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def campaign(client, auth):
    """A campaign called nov-news."""
    response = client.post(
        "/api/v1/campaigns", json={"id": "nov-news", "name": "Nov"}, headers=auth
    )
    assert response.status_code == 201
    return response.get_json()


@pytest.fixture
def flush(app):
    """A function that moves spooled pixel fetches into the database at once."""
    return app.extensions["opentrack"].recorder.flush
