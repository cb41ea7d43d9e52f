import pytest

from app import create_app


@pytest.fixture
def app(tmp_path):
    """An app on a fresh instance folder and database."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance")})
    yield app
    app.extensions["opentrack"].recorder.stop()


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
